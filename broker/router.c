/* SPDX-License-Identifier: MIT */
/* Per-request handling of the broker: method dispatch, camera lookup, viewer Digest, relay
 * choice through the policy, token minting and the checked Location. */
#include "router.h"

#include <string.h>

#include "crypto.h"
#include "digest.h"
#include "rd_err.h"
#include "rd_str.h"
#include "url_token.h"

/* ---- Self addresses ------------------------------------------------------------------------ */

static char
lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool
self_has(const struct router_self *s, struct rd_str host, unsigned port)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->a[i].port == port && rd_str_eq_ci(rd_str_cstr(s->a[i].host), host))
            return true;
    }
    return false;
}

int
router_self_add(struct router_self *s, const char *host, unsigned port)
{
    struct rd_str h = rd_str_cstr(host);
    if (h.len >= 2 && h.p[0] == '[' && h.p[h.len - 1] == ']')
        h = rd_str_make(h.p + 1, h.len - 2);
    if (h.len == 0 || h.len > RD_URL_MAX_HOST || port == 0 || port > 65535)
        return RD_ELIMIT;
    if (self_has(s, h, port))
        return RD_OK;
    if (s->n >= ROUTER_SELF_MAX)
        return RD_ELIMIT;
    for (size_t i = 0; i < h.len; i++)
        s->a[s->n].host[i] = lower(h.p[i]);
    s->a[s->n].host[h.len] = '\0';
    s->a[s->n].port = (uint16_t)port;
    s->n++;
    return RD_OK;
}

bool
router_url_is_self(const struct router_self *s, const char *url)
{
    struct url_parts u;
    if (url_split(rd_str_cstr(url), &u) != RD_OK || u.is_star)
        return true;
    return self_has(s, u.host, u.port);
}

/* ---- Responses ----------------------------------------------------------------------------- */

static void
count(const struct router_env *env, int status)
{
    if (env->metrics != NULL)
        metrics_response(env->metrics, (unsigned)status, false);
}

/* Ends the response begun with rtsp_resp_begin and fills *res. */
static int
finish(const struct router_env *env, struct rtsp_out *out, int status, bool close_after,
       struct router_result *res)
{
    int rc = rtsp_resp_end(out, NULL, 0);
    if (rc != RD_OK)
        return rc;
    count(env, status);
    res->status = status;
    res->close_after = close_after;
    return RD_OK;
}

/* A response with at most one extra header. */
static int
simple(const struct router_env *env, const struct rtsp_msg *msg, struct rtsp_out *out, int status,
       const char *name, const char *value, bool close_after, struct router_result *res)
{
    (void)rtsp_resp_begin(out, status, rtsp_resp_cseq_of(msg));
    if (name != NULL)
        (void)rtsp_resp_header(out, name, value);
    return finish(env, out, status, close_after, res);
}

int
router_reject(struct metrics *m, int status, int64_t cseq, bool parse_error, struct rtsp_out *out)
{
    (void)rtsp_resp_begin(out, status, cseq);
    int rc = rtsp_resp_end(out, NULL, 0);
    if (rc == RD_OK && m != NULL)
        metrics_response(m, (unsigned)status, parse_error);
    return rc;
}

/* ---- Decisions ----------------------------------------------------------------------------- */

static void
decide(const struct router_env *env, const struct router_peer *peer, const char *camera,
       const char *relay, int status, const char *reason)
{
    if (env->decide == NULL)
        return;
    struct broker_decision d;
    memset(&d, 0, sizeof(d));
    d.at_ms = env->wall_ms;
    d.status = (uint16_t)status;
    /* Each copy refuses rather than truncates; a field that does not fit stays "". */
    (void)rd_str_copy(d.camera_id, sizeof(d.camera_id), rd_str_cstr(camera));
    (void)rd_str_copy(d.relay_id, sizeof(d.relay_id), rd_str_cstr(relay));
    (void)rd_str_copy(d.reason, sizeof(d.reason), rd_str_cstr(reason));
    if (peer->addr != NULL)
        (void)rd_str_copy(d.client, sizeof(d.client), rd_str_cstr(peer->addr));
    env->decide(env->decide_ctx, &d);
}

/* ---- Viewer authentication (RFC 7616) ------------------------------------------------------ */

enum auth_outcome {
    AUTH_PASS,    /* authenticated and granted: go on */
    AUTH_ANSWERED /* a 400/401/403/500 was appended (or the append failed: rc says) */
};

static int
challenge(const struct router_env *env, const struct rtsp_msg *msg, struct rtsp_out *out,
          bool stale, struct router_result *res)
{
    struct digest_server srv = {rd_str_cstr(env->realm), env->nonce_key, env->nonce_key_len};
    char nonce[DIGEST_NONCE_BUF];
    char value[RD_AUTH_MAX_REALM * 2 + DIGEST_NONCE_BUF + 128];
    uint64_t wall_s = env->wall_ms > 0 ? (uint64_t)(env->wall_ms / 1000) : 0;
    if (digest_nonce_mint(&srv, wall_s, nonce, sizeof(nonce)) < 0)
        return simple(env, msg, out, 500, NULL, NULL, true, res);
    (void)rtsp_resp_begin(out, 401, rtsp_resp_cseq_of(msg));
    /* SHA-256 first: the preferred challenge (RFC 7616 §3.7); MD5 for older players. */
    static const enum rd_hash_alg algs[2] = {RD_HASH_SHA256, RD_HASH_MD5};
    for (size_t i = 0; i < 2; i++) {
        if (digest_challenge_build(&srv, algs[i], rd_str_cstr(nonce), stale, value, sizeof(value))
            < 0)
            return simple(env, msg, out, 500, NULL, NULL, true, res);
        (void)rtsp_resp_header(out, "WWW-Authenticate", value);
    }
    return finish(env, out, 401, false, res);
}

/* Checks the viewer's Digest credentials and grant for camera. On AUTH_ANSWERED the response
 * is in out (*rc says whether appending it worked). */
static enum auth_outcome
authenticate(const struct router_env *env, const struct rtsp_msg *msg,
             const struct router_peer *peer, const char *camera, struct rtsp_out *out,
             struct router_result *res, int *rc)
{
    const char *reason = NULL;
    size_t n = rtsp_msg_header_count(msg, "Authorization");
    struct rd_str value = RD_STR_NULL;
    if (n == 0 || !rtsp_msg_header(msg, "Authorization", &value)) {
        *rc = challenge(env, msg, out, false, res);
        decide(env, peer, camera, "", 401, "auth_required");
        return AUTH_ANSWERED;
    }
    if (n > 1 || value.len > RD_RTSP_MAX_AUTHORIZATION) {
        reason = "bad_authorization";
        goto bad_request;
    }
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    struct digest_credentials cr;
    int prc = digest_credentials_parse(value, scratch, sizeof(scratch), &cr);
    if (prc == RD_EAUTH) {
        /* Basic or another scheme: never accepted; offer Digest. */
        *rc = challenge(env, msg, out, false, res);
        decide(env, peer, camera, "", 401, "auth_scheme");
        return AUTH_ANSWERED;
    }
    if (prc != RD_OK) {
        reason = "bad_authorization";
        goto bad_request;
    }
    char name[RD_AUTH_MAX_USERNAME + 1];
    const struct catalog_user *u = NULL;
    if (rd_str_copy(name, sizeof(name), cr.username) == RD_OK)
        u = catalog_user(env->cat, name);
    /* An unknown user goes through the same checks against a HA1 that cannot match, so the
     * answer (400 or 401) does not tell which user names exist. */
    static const char zeros[2 * RD_SHA256_LEN + 1] =
        "0000000000000000000000000000000000000000000000000000000000000000";
    size_t hex_len = 2 * rd_hash_len(cr.alg);
    struct rd_str ha1 = rd_str_make(zeros, hex_len);
    if (u != NULL)
        ha1 = rd_str_cstr(cr.alg == RD_HASH_SHA256 ? u->user.ha1_sha256 : u->user.ha1_md5);
    struct digest_server srv = {rd_str_cstr(env->realm), env->nonce_key, env->nonce_key_len};
    uint64_t wall_s = env->wall_ms > 0 ? (uint64_t)(env->wall_ms / 1000) : 0;
    int vrc = digest_verify(&srv, &cr, msg->method_name, msg->uri, ha1, wall_s);
    if (vrc == RD_OK && u == NULL)
        vrc = RD_EAUTH; /* fail closed */
    char sample[LOG_SAMPLE_BUF];
    switch (vrc) {
    case RD_OK:
        if (!catalog_user_may_view(env->cat, u, camera)) {
            RD_LOG(RD_LOG_INFO, peer->log, "viewer not granted camera=%s user=%s", camera,
                   log_sanitize(sample, sizeof(sample), cr.username.p, cr.username.len));
            *rc = simple(env, msg, out, 403, NULL, NULL, false, res);
            decide(env, peer, camera, "", 403, "not_granted");
            return AUTH_ANSWERED;
        }
        return AUTH_PASS;
    case RD_EEXPIRED:
        *rc = challenge(env, msg, out, true, res);
        decide(env, peer, camera, "", 401, "auth_stale");
        return AUTH_ANSWERED;
    case RD_EAUTH:
        RD_LOG(RD_LOG_INFO, peer->log, "viewer authentication failed camera=%s user=%s", camera,
               log_sanitize(sample, sizeof(sample), cr.username.p, cr.username.len));
        *rc = challenge(env, msg, out, false, res);
        decide(env, peer, camera, "", 401, "auth_failed");
        return AUTH_ANSWERED;
    case RD_EPROTO:
        reason = "bad_authorization";
        goto bad_request;
    default:
        RD_LOG_RATELIMITED(RD_LOG_WARN, peer->log, 10.0, "digest verification failed error=\"%s\"",
                           rd_strstatus(vrc));
        *rc = simple(env, msg, out, 500, NULL, NULL, true, res);
        decide(env, peer, camera, "", 500, "internal");
        return AUTH_ANSWERED;
    }
bad_request:
    *rc = simple(env, msg, out, 400, NULL, NULL, true, res);
    decide(env, peer, camera, "", 400, reason);
    return AUTH_ANSWERED;
}

/* ---- Redirect ------------------------------------------------------------------------------ */

static int
unavailable(const struct router_env *env, const struct rtsp_msg *msg,
            const struct router_peer *peer, const char *camera, const char *reason,
            struct rtsp_out *out, struct router_result *res)
{
    (void)rtsp_resp_begin(out, 503, rtsp_resp_cseq_of(msg));
    (void)rtsp_resp_headerf(out, "Retry-After", "%u", env->retry_after_s);
    int rc = finish(env, out, 503, false, res);
    decide(env, peer, camera, "", 503, reason);
    RD_LOG(RD_LOG_DEBUG, peer->log, "no relay camera=%s reason=%s", camera, reason);
    return rc;
}

/* The Location for camera on relay r (its snapshot entry c), into loc[cap]. The token is
 * signed with the newest live key the relay reported holding, so a rotation does not lock
 * viewers out before the relay has the new key. Returns its length or a negative code with
 * *why set. */
static int
location_for(const struct router_env *env, const struct router_peer *peer,
             const struct catalog_relay *r, const struct policy_candidate *c, const char *camera,
             char *loc, size_t cap, const char **why)
{
    const struct reg_relay_key *k =
        catalog_relay_signing_key(r, c->kids_reported, c->held_kids, c->n_held_kids);
    if (k == NULL) {
        *why = "relay_without_key";
        return RD_ENOTFOUND;
    }
    struct url_token_key key;
    memset(&key, 0, sizeof(key));
    size_t kid_len = strlen(k->kid);
    memcpy(key.kid, k->kid, kid_len + 1);
    key.kid_len = kid_len;
    memcpy(key.key, k->key, sizeof(key.key));
    struct rd_str ip = rd_str_cstr(peer->ip != NULL ? peer->ip : "");
    char tok[URL_TOKEN_MINT_MAX + 1];
    uint8_t jti[URL_TOKEN_JTI_BYTES];
    int n = env->jti_pool != NULL ? rd_rand_pool_take(env->jti_pool, jti, sizeof(jti))
                                  : rd_random_bytes(jti, sizeof(jti));
    if (n == RD_OK)
        n = url_token_mint_jti(&key, rd_str_cstr(camera), rd_str_cstr(r->relay.id),
                               env->token_bind_ip ? &ip : NULL, env->wall_ms / 1000,
                               env->token_ttl_s, jti, tok, sizeof(tok));
    else
        n = RD_EIO;
    rd_cleanse(&key, sizeof(key));
    if (n < 0) {
        *why = "token_failed";
        return n;
    }
    n = url_build_location(rd_str_cstr(r->relay.base_url), env->scheme, rd_str_cstr(camera),
                           rd_str_make(tok, (size_t)n), loc, cap);
    if (n < 0) {
        *why = "bad_relay_url";
        return n;
    }
    if (env->self != NULL && router_url_is_self(env->self, loc)) {
        *why = "redirect_loop";
        return RD_EPROTO;
    }
    return n;
}

static int
redirect(const struct router_env *env, const struct rtsp_msg *msg, const struct router_peer *peer,
         struct rtsp_out *out, struct router_result *res)
{
    struct url_parts u;
    struct rd_str cam = RD_STR_NULL, control;
    int rc = url_split(msg->uri, &u);
    if (rc == RD_OK && !u.is_star)
        rc = url_broker_camera(u.path, &cam, &control);
    else if (rc == RD_OK)
        rc = RD_EPROTO;
    if (rc == RD_EPROTO || rc == RD_ELIMIT) {
        /* The URI (which may carry userinfo) is not logged; the parse error says enough. */
        RD_LOG(RD_LOG_INFO, peer->log, "malformed request uri method=%s",
               rtsp_method_name(msg->method));
        rc = simple(env, msg, out, 400, NULL, NULL, true, res);
        decide(env, peer, "", "", 400, "bad_uri");
        return rc;
    }
    char camera[RD_CAMERA_ID_MAX + 1] = "";
    const struct catalog_camera *c = NULL;
    if (rc == RD_OK && rd_str_copy(camera, sizeof(camera), cam) == RD_OK)
        c = catalog_camera(env->cat, camera);
    if (c == NULL || !c->enabled) {
        rc = simple(env, msg, out, 404, NULL, NULL, false, res);
        decide(env, peer, camera, "", 404, c == NULL ? "unknown_camera" : "camera_disabled");
        RD_LOG(RD_LOG_DEBUG, peer->log, "camera not found camera=%s", camera[0] ? camera : "-");
        return rc;
    }
    if (c->auth_required && authenticate(env, msg, peer, camera, out, res, &rc) == AUTH_ANSWERED)
        return rc;

    struct policy_camera pc = {c->id, c->site_id, c->max_relays, c->enabled};
    struct policy_input in;
    struct policy_choice ch;
    /* The common case first: a relay already pulling the camera takes the viewer (affinity).
     * That answer needs the pullers only, not a snapshot of every relay (relay_view.h). */
    bool affine =
        relay_view_snapshot_pullers(env->view, &pc, env->now, env->cands, env->cands_cap, &in)
            == RD_OK
        && in.n_cands > 0 && policy_pick(&in, &ch) == RD_OK && ch.reason == POLICY_AFFINITY;
    if (!affine) {
        rc = relay_view_snapshot_for(env->view, &pc, env->now, env->cands, env->cands_cap, &in);
        if (rc != RD_OK) {
            RD_LOG_RATELIMITED(RD_LOG_WARN, peer->log, 10.0, "relay snapshot failed error=\"%s\"",
                               rd_strstatus(rc));
            return unavailable(env, msg, peer, camera, "internal", out, res);
        }
        rc = policy_pick(&in, &ch);
        if (rc == RD_ENOTFOUND) {
            rc = simple(env, msg, out, 404, NULL, NULL, false, res);
            decide(env, peer, camera, "", 404, "camera_disabled");
            return rc;
        }
        if (rc != RD_OK || ch.index < 0 || (size_t)ch.index >= in.n_cands)
            return unavailable(env, msg, peer, camera, policy_reason_name(ch.reason), out, res);
    }
    const char *relay_id = in.cands[ch.index].id;
    const struct catalog_relay *r = catalog_relay(env->cat, relay_id);
    const char *why = "relay_not_configured";
    char loc[RD_REG_URL_MAX + RD_CAMERA_ID_MAX + URL_TOKEN_MINT_MAX + 16];
    if (r == NULL
        || location_for(env, peer, r, &in.cands[ch.index], camera, loc, sizeof(loc), &why) < 0) {
        RD_LOG_RATELIMITED(RD_LOG_WARN, peer->log, 10.0,
                           "relay refused as redirect target relay=%s reason=%s", relay_id, why);
        return unavailable(env, msg, peer, camera, why, out, res);
    }
    (void)rtsp_resp_begin(out, 302, rtsp_resp_cseq_of(msg));
    (void)rtsp_resp_header(out, "Location", loc);
    (void)rtsp_resp_header(out, "Cache-Control", "no-cache");
    rc = finish(env, out, 302, true, res);
    if (rc != RD_OK)
        return rc;
    /* Only a redirect actually answered holds a reservation. The pair table may be full
     * (RD_ELIMIT): the relay's counters still moved, only affinity for the pair is lost. */
    int vr = relay_view_reserve(env->view, relay_id, camera, env->now);
    if (vr != RD_OK && vr != RD_ELIMIT)
        RD_LOG_RATELIMITED(RD_LOG_WARN, peer->log, 10.0, "reservation failed relay=%s error=\"%s\"",
                           relay_id, rd_strstatus(vr));
    if (env->metrics != NULL)
        metrics_labelled_inc(&env->metrics->redirects_by_relay, relay_id);
    const char *reason = policy_reason_name(ch.reason);
    RD_LOG(RD_LOG_DEBUG, peer->log, "redirect camera=%s relay=%s reason=%s", camera, relay_id,
           reason);
    decide(env, peer, camera, relay_id, 302, reason);
    return RD_OK;
}

/* ---- Dispatch ------------------------------------------------------------------------------ */

int
router_handle(const struct router_env *env, const struct rtsp_msg *msg,
              const struct router_peer *peer, struct rtsp_out *out, struct router_result *res)
{
    res->status = 0;
    res->close_after = true;
    if (env->metrics != NULL)
        env->metrics->requests[(unsigned)msg->method < 16 ? (unsigned)msg->method : 15]++;
    struct rd_str session;
    switch (msg->method) {
    case RTSP_METHOD_UNKNOWN:
        return simple(env, msg, out, 501, NULL, NULL, false, res);
    case RTSP_METHOD_ANNOUNCE:
    case RTSP_METHOD_RECORD:
    case RTSP_METHOD_REDIRECT: /* server-to-client only (RFC 2326 §10.10) */
    case RTSP_METHOD_SET_PARAMETER:
        return simple(env, msg, out, 405, "Allow", ROUTER_ALLOW, false, res);
    default:
        break;
    }
    /* The broker holds no sessions: naming one is naming an unknown one (RFC 2326 §11.3.7). */
    if (rtsp_msg_header(msg, "Session", &session) || msg->method == RTSP_METHOD_PLAY
        || msg->method == RTSP_METHOD_PAUSE || msg->method == RTSP_METHOD_TEARDOWN)
        return simple(env, msg, out, 454, NULL, NULL, false, res);
    switch (msg->method) {
    case RTSP_METHOD_OPTIONS:
        return simple(env, msg, out, 200, "Public", ROUTER_PUBLIC, false, res);
    case RTSP_METHOD_GET_PARAMETER:
        return simple(env, msg, out, 200, NULL, NULL, false, res);
    case RTSP_METHOD_DESCRIBE:
    case RTSP_METHOD_SETUP: /* without DESCRIBE first: the same redirect (CLIENTS.md) */
        return redirect(env, msg, peer, out, res);
    default:
        return simple(env, msg, out, 501, NULL, NULL, false, res);
    }
}
