/* SPDX-License-Identifier: MIT */
/* The broker's admin HTTP server on base/httpd (MHD inside the loop): the relay channel
 * (signed heartbeats and camera sources), the bearer-protected JSON API under /api/v1/,
 * /metrics, /healthz and the operator's page. Writes go to the registry, then broker_reload(). */
#define _POSIX_C_SOURCE 200809L
#include "admin.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin_page.h"
#include "buf.h"
#include "catalog.h"
#include "crypto.h"
#include "httpd.h"
#include "log.h"
#include "rd_err.h"
#include "rd_str.h"
#include "registry.h"
#include "relay_channel.h"
#include "relay_view.h"
#include "url.h"

/* Realm of the bearer challenge (RFC 6750 §3). */
#define ADMIN_REALM "rtsp-broker"
/* Decisions answered when the request gives no ?limit=. */
#define ADMIN_DECISIONS_DEFAULT 100
/* /metrics starts with this much room and doubles up to the cap (8 KiB per relay label is
 * far above what a label costs; the cap only stops a runaway). */
#define ADMIN_METRICS_START ((size_t)64 * 1024)
#define ADMIN_METRICS_MAX   ((size_t)8 * 1024 * 1024)
/* Bearer tokens shorter than this are accepted with a warning (SECURITY.md: >= 256 bits). */
#define ADMIN_TOKEN_MIN_LEN 32

struct admin {
    struct broker *b;
    struct httpd http;
    struct relay_channel_limiter *hb_limit;  /* heartbeats per relay */
    struct relay_channel_limiter *src_limit; /* camera-source requests per relay */
    struct relay_channel_hb hb;              /* parse scratch: one request at a time */
    char csp[256];                           /* Content-Security-Policy of the page */
    struct log_ctx log;
};

enum meth { M_GET, M_HEAD, M_POST, M_PUT, M_DELETE, M_OTHER };

#define MB(m) (1u << (m))

static enum meth
meth_of(const char *m)
{
    if (strcmp(m, "GET") == 0)
        return M_GET;
    if (strcmp(m, "HEAD") == 0)
        return M_HEAD;
    if (strcmp(m, "POST") == 0)
        return M_POST;
    if (strcmp(m, "PUT") == 0)
        return M_PUT;
    if (strcmp(m, "DELETE") == 0)
        return M_DELETE;
    return M_OTHER;
}

/* ---- Responses ------------------------------------------------------------------------------ */

/* Extra headers of one response (NULL values are skipped). */
struct extra {
    const char *allow;      /* 405 */
    unsigned retry_after_s; /* 429, 503 (0 = none) */
    bool bearer_challenge;  /* 401 from the admin API */
    bool hmac_challenge;    /* 401 from the relay channel */
    const char *csp;        /* the page */
};

/* Queues r (consumed) with the headers every answer carries plus *x. */
static enum MHD_Result
send_response(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r,
              const char *ctype, const struct extra *x)
{
    if (r == NULL)
        return MHD_NO;
    char ra[24];
    bool ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) == MHD_YES
              && MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES
              && MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") == MHD_YES;
    if (ok && x != NULL) {
        if (x->allow != NULL)
            ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, x->allow) == MHD_YES;
        if (ok && x->retry_after_s > 0) {
            int n = snprintf(ra, sizeof(ra), "%u", x->retry_after_s);
            ok = n > 0 && (size_t)n < sizeof(ra)
                 && MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra) == MHD_YES;
        }
        if (ok && x->bearer_challenge)
            ok = MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                         "Bearer realm=\"" ADMIN_REALM "\"")
                 == MHD_YES;
        if (ok && x->hmac_challenge)
            ok = MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                         "RD-HMAC realm=\"relay-channel\"")
                 == MHD_YES;
        if (ok && x->csp != NULL)
            ok = MHD_add_response_header(r, "Content-Security-Policy", x->csp) == MHD_YES
                 && MHD_add_response_header(r, "X-Frame-Options", "DENY") == MHD_YES
                 && MHD_add_response_header(r, "Referrer-Policy", "no-referrer") == MHD_YES;
    }
    enum MHD_Result ret = ok ? MHD_queue_response(conn, status, r) : MHD_NO;
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
send_text(struct MHD_Connection *conn, unsigned status, const char *text, const struct extra *x)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                                             MHD_RESPMEM_MUST_COPY);
    return send_response(conn, status, r, "text/plain; charset=utf-8", x);
}

/* Sends j (reference stolen) as compact JSON plus a newline. */
static enum MHD_Result
send_json(struct MHD_Connection *conn, unsigned status, json_t *j, const struct extra *x)
{
    if (j == NULL)
        return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(j);
    if (s == NULL)
        return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (t == NULL) {
        free(s);
        return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    struct MHD_Response *r = MHD_create_response_from_buffer(n + 1, t, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(t);
        return MHD_NO;
    }
    return send_response(conn, status, r, "application/json", x);
}

/* A JSON string of s; text that is not UTF-8 (rows edited by hand) becomes "\uFFFD". */
static json_t *
jstr(const char *s)
{
    json_t *j = json_string(s);
    return j != NULL ? j : json_string("\xEF\xBF\xBD");
}

static enum MHD_Result
send_error_x(struct MHD_Connection *conn, unsigned status, const char *msg, const struct extra *x)
{
    return send_json(conn, status, json_pack("{s:o}", "error", jstr(msg)), x);
}

static enum MHD_Result
send_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    return send_error_x(conn, status, msg, NULL);
}

__attribute__((format(printf, 3, 4))) static enum MHD_Result
send_errorf(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return send_error(conn, status, "error");
    if ((size_t)n >= sizeof(msg))
        memcpy(msg + sizeof(msg) - 4, "...", 4); /* shown to an operator: a visible cut */
    return send_error(conn, status, msg);
}

static enum MHD_Result
send_405(struct MHD_Connection *conn, const char *allow)
{
    struct extra x = {.allow = allow};
    return send_error_x(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", &x);
}

static const char *
arg(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *
header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* ---- Validation helpers -------------------------------------------------------------------- */

static bool
id_ok(const char *s)
{
    return url_id_valid(rd_str_cstr(s), RD_CAMERA_ID_MAX);
}

/* User names: printable ASCII without ':' '"' '\' (the registry's rule), 1..max bytes. */
static bool
user_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > RD_AUTH_MAX_USERNAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == ':' || s[i] == '"' || s[i] == '\\')
            return false;
    }
    return true;
}

/* ---- Registry failures ---------------------------------------------------------------------- */

enum write_kind { W_ADD, W_UPDATE, W_DELETE, W_GRANT, W_READ };

/* Answers a failed registry call: 400 bad input, 404, 409 exists / still referenced, 503
 * busy or read-only (Retry-After), 507 full (fault plan #5: nothing was written). Marks the
 * registry degraded on the failures that are about the database rather than the request. */
static enum MHD_Result
send_reg_error(struct admin *a, struct MHD_Connection *conn, int rc, enum write_kind k)
{
    struct broker *b = a->b;
    const char *msg = registry_errmsg(b->reg);
    if (msg == NULL || msg[0] == '\0')
        msg = rd_strstatus(rc);
    switch (rc) {
    case RD_EPROTO:
    case RD_ELIMIT:
        return send_error(conn, MHD_HTTP_BAD_REQUEST, msg);
    case RD_ENOTFOUND:
        return send_error(conn, MHD_HTTP_NOT_FOUND, msg);
    case RD_EDB:
        break;
    default:
        return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
    }
    struct extra x = {.retry_after_s =
                          (unsigned)(b->conf.retry_after_s > 0 ? b->conf.retry_after_s : 1)};
    switch (registry_last_fail(b->reg)) {
    case REG_FAIL_EXISTS:
        return send_error(conn, MHD_HTTP_CONFLICT, msg);
    case REG_FAIL_REFERENCE:
        if (k == W_DELETE)
            return send_error(conn, MHD_HTTP_CONFLICT, msg);
        return send_error(conn, k == W_GRANT ? MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_REQUEST, msg);
    case REG_FAIL_CONSTRAINT:
        return send_error(conn, MHD_HTTP_BAD_REQUEST, msg);
    case REG_FAIL_FULL:
        if (k != W_READ)
            b->db_degraded = true;
        RD_LOG_RATELIMITED(RD_LOG_WARN, &a->log, 1., "registry full: admin write refused");
        return send_error(conn, MHD_HTTP_INSUFFICIENT_STORAGE, msg);
    case REG_FAIL_BUSY:
    case REG_FAIL_READONLY:
    case REG_FAIL_IO:
        if (k != W_READ)
            b->db_degraded = true;
        RD_LOG_RATELIMITED(RD_LOG_WARN, &a->log, 1., "registry unavailable: admin request refused");
        return send_error_x(conn, MHD_HTTP_SERVICE_UNAVAILABLE, msg, &x);
    default:
        RD_LOG_RATELIMITED(RD_LOG_ERR, &a->log, 1., "registry failure on admin request");
        return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
    }
}

/* After a committed write: the change applies at once (catalog and relay view). A failed
 * reload keeps the old catalog; the tick retries when it sees the new registry version. */
static void
after_write(struct admin *a, const char *what, const char *id, struct MHD_Connection *conn)
{
    struct broker *b = a->b;
    b->db_degraded = false;
    char peer[64];
    httpd_peer(conn, peer, sizeof(peer));
    RD_LOG(RD_LOG_NOTICE, &a->log, "admin change what=%s id=%s peer=%s", what, id, peer);
    if (broker_reload(b) != RD_OK)
        RD_LOG(RD_LOG_WARN, &a->log, "catalog reload after admin change failed what=%s", what);
}

/* ---- Relay channel -------------------------------------------------------------------------- */

static void
fill_req(struct MHD_Connection *conn, const char *method, const char *url,
         struct relay_channel_req *rq)
{
    *rq = (struct relay_channel_req){
        .method = method,
        .path = url,
        .relay_id = header(conn, RELAY_CHANNEL_HDR_RELAY),
        .kid = header(conn, RELAY_CHANNEL_HDR_KID),
        .timestamp = header(conn, RELAY_CHANNEL_HDR_TIMESTAMP),
        .signature = header(conn, RELAY_CHANNEL_HDR_SIGNATURE),
        .body = "",
        .body_len = 0,
    };
}

static enum metrics_hb
hb_metric_of(enum relay_channel_verdict v)
{
    switch (v) {
    case RELAY_CHANNEL_UNKNOWN_RELAY:
        return METRICS_HB_UNKNOWN_RELAY;
    case RELAY_CHANNEL_BAD_TIMESTAMP:
        return METRICS_HB_BAD_TIMESTAMP;
    default:
        return METRICS_HB_BAD_SIGNATURE;
    }
}

/* 401 for a relay-channel request, counted; nothing else is touched. */
static enum MHD_Result
relay_refuse(struct admin *a, struct MHD_Connection *conn, enum relay_channel_verdict v,
             const struct relay_channel_req *rq)
{
    a->b->metrics.hb[hb_metric_of(v)]++;
    char peer[64], rid[LOG_SAMPLE_BUF];
    httpd_peer(conn, peer, sizeof(peer));
    const char *id = rq->relay_id != NULL ? rq->relay_id : "";
    RD_LOG_RATELIMITED(RD_LOG_INFO, &a->log, 1., "relay channel refused reason=%s relay=%s peer=%s",
                       relay_channel_verdict_name(v),
                       log_sanitize(rid, sizeof(rid), id, strlen(id)), peer);
    struct extra x = {.hmac_challenge = true};
    return send_error_x(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized", &x);
}

static enum MHD_Result
relay_rate_limited(struct admin *a, struct MHD_Connection *conn, unsigned retry_after_s)
{
    a->b->metrics.hb[METRICS_HB_RATE_LIMITED]++;
    struct extra x = {.retry_after_s = retry_after_s};
    return send_error_x(conn, MHD_HTTP_TOO_MANY_REQUESTS, "rate limited", &x);
}

/* Verifies a complete relay-channel request against the current catalog. Returns the relay
 * (pointing into b->cat, valid until the next reload) or NULL after queuing the 401 in *ret. */
static const struct catalog_relay *
relay_auth(struct admin *a, struct MHD_Connection *conn, const struct relay_channel_req *rq,
           enum MHD_Result *ret)
{
    const struct catalog_relay *cr;
    const struct reg_relay_key *key;
    enum relay_channel_verdict v = relay_channel_key(a->b->cat, rq, &cr, &key);
    if (v == RELAY_CHANNEL_OK)
        v = relay_channel_check(key, rq, (int64_t)time(NULL));
    if (v != RELAY_CHANNEL_OK) {
        *ret = relay_refuse(a, conn, v, rq);
        return NULL;
    }
    return cr;
}

static enum MHD_Result
heartbeat(struct admin *a, struct MHD_Connection *conn, enum meth m, const char *method,
          const char *url, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct broker *b = a->b;
    if (m != M_POST)
        return send_405(conn, "POST");
    struct relay_channel_req rq;
    fill_req(conn, method, url, &rq);
    if (*con_cls == NULL) {
        /* Headers only so far: refuse strangers before reading their body. */
        const struct catalog_relay *cr;
        const struct reg_relay_key *key;
        enum relay_channel_verdict v = relay_channel_key(b->cat, &rq, &cr, &key);
        if (v != RELAY_CHANNEL_OK)
            return relay_refuse(a, conn, v, &rq);
    }
    struct httpd_body *body = NULL;
    int rc = httpd_body_read(conn, con_cls, (size_t)RD_HTTP_MAX_HEARTBEAT_BODY, upload_data,
                             upload_data_size, &body);
    if (rc == RD_AGAIN)
        return MHD_YES;
    if (rc == RD_ELIMIT) {
        b->metrics.hb[METRICS_HB_TOO_LARGE]++;
        return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "heartbeat body too large");
    }
    if (rc != RD_OK)
        return MHD_NO;
    rq.body = body->data;
    rq.body_len = body->len;

    enum MHD_Result ret = MHD_NO;
    const struct catalog_relay *cr = relay_auth(a, conn, &rq, &ret);
    if (cr == NULL)
        return ret;
    unsigned retry;
    if (!relay_channel_limiter_take(a->hb_limit, cr->relay.id, broker_now(b), &retry))
        return relay_rate_limited(a, conn, retry);

    rc = relay_channel_hb_parse(body->data, body->len, &a->hb);
    if (rc == RD_ELIMIT) {
        b->metrics.hb[METRICS_HB_TOO_LARGE]++;
        return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, a->hb.err);
    }
    if (rc != RD_OK) {
        b->metrics.hb[METRICS_HB_MALFORMED]++;
        return send_error(conn, MHD_HTTP_BAD_REQUEST, a->hb.err);
    }
    if (strcmp(a->hb.relay_id, cr->relay.id) != 0) {
        relay_channel_hb_free(&a->hb);
        b->metrics.hb[METRICS_HB_MALFORMED]++;
        return send_error(conn, MHD_HTTP_BAD_REQUEST,
                          "relay_id differs from " RELAY_CHANNEL_HDR_RELAY);
    }
    struct relay_view_hb_result res;
    rc = relay_view_heartbeat(b->view, cr->relay.id, &a->hb.hb, broker_now(b), &res);
    relay_channel_hb_free(&a->hb);
    bool applied;
    switch (rc) {
    case RD_OK:
        applied = true;
        break;
    case RD_ELIMIT:
        if (res.outcome == RELAY_VIEW_HB_REJECTED) {
            b->metrics.hb[METRICS_HB_TOO_LARGE]++;
            return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too many cameras");
        }
        RD_LOG_RATELIMITED(RD_LOG_WARN, &a->log, 1.,
                           "heartbeat applied without some pairs relay=%s dropped=%u", cr->relay.id,
                           res.n_dropped);
        applied = true;
        break;
    case RD_EEXPIRED:
        applied = false;
        break;
    case RD_ENOTFOUND: {
        /* In the catalog but not (yet) in the view: a reload is under way or failed. */
        RD_LOG_RATELIMITED(RD_LOG_WARN, &a->log, 1.,
                           "heartbeat from a relay the view lacks relay=%s", cr->relay.id);
        struct extra x = {.retry_after_s = 1};
        return send_error_x(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "relay not loaded yet", &x);
    }
    default:
        b->metrics.hb[METRICS_HB_MALFORMED]++;
        return send_error(conn, MHD_HTTP_BAD_REQUEST, "heartbeat refused by the relay view");
    }
    b->metrics.hb[applied ? METRICS_HB_ACCEPTED : METRICS_HB_STALE]++;
    /* The kid the router signs this relay's tokens with now: the newest live one it holds. */
    struct relay_view_relay_info info;
    const struct reg_relay_key *sk =
        relay_view_relay_get(b->view, cr->relay.id, &info) == RD_OK
            ? catalog_relay_signing_key(cr, info.kids_reported, info.held_kids, info.n_held_kids)
            : catalog_relay_signing_key(cr, false, NULL, 0);
    return send_json(conn, MHD_HTTP_OK,
                     json_pack("{s:b,s:s,s:s,s:I,s:s,s:I}", "applied", applied, "outcome",
                               relay_view_hb_outcome_name(res.outcome), "state",
                               registry_relay_state_name(cr->relay.state), "registry_version",
                               (json_int_t)catalog_version(b->cat), "signing_kid",
                               sk != NULL ? sk->kid : "", "heartbeat_interval_ms",
                               (json_int_t)b->conf.heartbeat_interval_ms),
                     NULL);
}

static enum MHD_Result
camera_source(struct admin *a, struct MHD_Connection *conn, enum meth m, const char *method,
              const char *url, const char *cam_id)
{
    struct broker *b = a->b;
    if (m != M_GET)
        return send_405(conn, "GET");
    /* Answered on the first call: the request is signed with an empty body. */
    struct relay_channel_req rq;
    fill_req(conn, method, url, &rq);
    enum MHD_Result ret = MHD_NO;
    const struct catalog_relay *cr = relay_auth(a, conn, &rq, &ret);
    if (cr == NULL)
        return ret;
    unsigned retry;
    if (!relay_channel_limiter_take(a->src_limit, cr->relay.id, broker_now(b), &retry))
        return relay_rate_limited(a, conn, retry);
    if (!id_ok(cam_id))
        return send_error(conn, MHD_HTTP_NOT_FOUND, "unknown camera");
    struct reg_camera cam;
    int rc = registry_camera_get(b->reg, cam_id, &cam);
    if (rc == RD_ENOTFOUND || rc == RD_EPROTO || rc == RD_ELIMIT)
        return send_error(conn, MHD_HTTP_NOT_FOUND, "unknown camera");
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_READ);
    /* Least privilege: a relay bound to a site never serves another site's cameras (the
     * policy never places them there), so it gets their sources as little as unknown ones. */
    if (cr->relay.site_id[0] != '\0' && strcmp(cr->relay.site_id, cam.site_id) != 0) {
        rd_cleanse(&cam, sizeof(cam));
        return send_error(conn, MHD_HTTP_NOT_FOUND, "unknown camera");
    }
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:I}", "id", cam.id, "url", cam.upstream_url,
                  "user", cam.upstream_user, "password", cam.upstream_password, "transport",
                  registry_transport_name(cam.transport), "always_on", cam.always_on, "enabled",
                  cam.enabled, "registry_version", (json_int_t)catalog_version(b->cat));
    rd_cleanse(&cam, sizeof(cam));
    if (j == NULL) {
        /* json_pack refuses text that is not UTF-8 (credentials set outside the API). */
        RD_LOG_RATELIMITED(RD_LOG_WARN, &a->log, 1.,
                           "camera source not sent: not valid UTF-8 camera=%s", cam_id);
        return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "the camera's source is not valid UTF-8");
    }
    char peer[64];
    httpd_peer(conn, peer, sizeof(peer));
    RD_LOG(RD_LOG_INFO, &a->log, "camera source sent relay=%s camera=%s peer=%s", cr->relay.id,
           cam_id, peer);
    return send_json(conn, MHD_HTTP_OK, j, NULL);
}

/* ---- JSON request bodies -------------------------------------------------------------------- */

/* Parses the request body as one JSON object (duplicate keys refused) whose keys are all in
 * allowed[] (NULL-terminated). Returns the object (owned) or NULL with the 400 text in err. */
static json_t *
body_object(const struct httpd_body *body, const char *const *allowed, char *err, size_t cap)
{
    json_error_t jerr;
    json_t *o = json_loadb(body->data, body->len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL) {
        (void)snprintf(err, cap, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                       jerr.text); /* a cut message is still a message */
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        (void)snprintf(err, cap, "the body must be a JSON object");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            char s[LOG_SAMPLE_BUF];
            (void)snprintf(err, cap, "unknown field %s",
                           log_sanitize(s, sizeof(s), key, strlen(key)));
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* Field getters: RD_OK (set, or absent with *present false), or RD_EPROTO with err set. */
static int
field_str(json_t *o, const char *key, char *dst, size_t cap, bool *present, char *err,
          size_t errcap)
{
    json_t *j = json_object_get(o, key);
    *present = j != NULL;
    if (j == NULL)
        return RD_OK;
    if (!json_is_string(j)) {
        (void)snprintf(err, errcap, "%s must be a string", key);
        return RD_EPROTO;
    }
    if (rd_str_copy(dst, cap, rd_str_make(json_string_value(j), json_string_length(j))) != RD_OK) {
        (void)snprintf(err, errcap, "%s is longer than %zu bytes", key, cap - 1);
        return RD_EPROTO;
    }
    return RD_OK;
}

static int
field_bool(json_t *o, const char *key, bool *dst, char *err, size_t errcap)
{
    json_t *j = json_object_get(o, key);
    if (j == NULL)
        return RD_OK;
    if (!json_is_boolean(j)) {
        (void)snprintf(err, errcap, "%s must be true or false", key);
        return RD_EPROTO;
    }
    *dst = json_is_true(j);
    return RD_OK;
}

static int
field_u32(json_t *o, const char *key, uint32_t min, uint32_t max, uint32_t *dst, char *err,
          size_t errcap)
{
    json_t *j = json_object_get(o, key);
    if (j == NULL)
        return RD_OK;
    if (!json_is_integer(j) || json_integer_value(j) < (json_int_t)min
        || json_integer_value(j) > (json_int_t)max) {
        (void)snprintf(err, errcap, "%s must be an integer from %u to %u", key, min, max);
        return RD_EPROTO;
    }
    *dst = (uint32_t)json_integer_value(j);
    return RD_OK;
}

/* ---- Relays ------------------------------------------------------------------------------------
 */

/* Seconds rounded to milliseconds (s >= 0): ages need no more digits. */
static double
round_ms(double s)
{
    return s > 0. ? (double)(int64_t)(s * 1000. + 0.5) / 1000. : 0.;
}

/* The live part of a relay (relay view) merged into the JSON object o. */
static void
relay_live(const struct admin *a, const char *id, json_t *o)
{
    const struct broker *b = a->b;
    struct relay_view_relay_info ri;
    if (relay_view_relay_get(b->view, id, &ri) != RD_OK) {
        json_object_set_new(o, "health", json_string("unknown"));
        return;
    }
    double now = broker_now(b);
    double age = ri.ever_beat ? now - ri.last_hb_at : -1.;
    double stale_after =
        (double)b->conf.heartbeat_interval_ms / 1000. * (double)b->conf.unhealthy_after;
    bool stale = !ri.ever_beat || age > stale_after;
    const char *health = !ri.ever_beat ? "never" : ri.healthy && !stale ? "healthy" : "unhealthy";
    json_object_set_new(o, "health", json_string(health));
    json_object_set_new(o, "healthy", json_boolean(ri.healthy && !stale));
    json_object_set_new(o, "stale", json_boolean(stale));
    json_object_set_new(o, "effective_state", json_string(policy_relay_state_name(ri.state)));
    json_object_set_new(o, "viewers", json_integer(ri.viewers));
    json_object_set_new(o, "reserved_viewers", json_integer(ri.reserved_viewers));
    json_object_set_new(o, "cap_viewers", json_integer(ri.cap_viewers));
    json_object_set_new(o, "egress_kbps", json_integer(ri.egress_kbps));
    json_object_set_new(o, "cap_egress_kbps", json_integer(ri.cap_egress_kbps));
    json_object_set_new(o, "cpu_pct", json_integer(ri.cpu_pct));
    json_object_set_new(o, "cameras", json_integer(ri.n_pulls));
    json_object_set_new(o, "last_heartbeat_age_s",
                        ri.ever_beat ? json_real(round_ms(age)) : json_null());
    json_object_set_new(o, "boot_id", ri.ever_beat ? jstr(ri.boot_id) : json_null());
    json_object_set_new(o, "seq", json_integer((json_int_t)ri.seq));
}

static json_t *
relay_json(const struct admin *a, const struct reg_relay *r)
{
    json_t *o =
        json_pack("{s:o,s:o,s:o,s:o,s:I,s:I,s:s,s:I,s:I}", "id", jstr(r->id), "name", jstr(r->name),
                  "site", jstr(r->site_id), "url", jstr(r->base_url), "capacity_viewers",
                  (json_int_t)r->capacity_viewers, "capacity_mbps", (json_int_t)r->capacity_mbps,
                  "state", registry_relay_state_name(r->state), "created_at",
                  (json_int_t)r->created_at, "updated_at", (json_int_t)r->updated_at);
    if (o != NULL)
        relay_live(a, r->id, o);
    return o;
}

struct pulls_ctx {
    const char *relay_id; /* filter, or NULL */
    json_t *arr;
    double now;
    uint32_t viewers; /* sum, for cameras */
    int best;         /* aggregate state rank, for cameras */
};

static void
pull_cb(void *arg, const struct relay_view_pull_info *p)
{
    struct pulls_ctx *c = arg;
    if (c->relay_id != NULL && strcmp(p->relay_id, c->relay_id) != 0)
        return;
    json_t *o = json_pack(
        "{s:o,s:o,s:s,s:I,s:I,s:I,s:I,s:f,s:b}", "relay", jstr(p->relay_id), "camera",
        jstr(p->camera_id), "state", p->reported ? relay_view_cam_state_name(p->state) : "reserved",
        "viewers", (json_int_t)p->viewers, "reserved", (json_int_t)p->reserved, "ingress_kbps",
        (json_int_t)p->ingress_kbps, "drops", (json_int_t)p->drops, "since_s",
        round_ms(p->since_at > 0 ? c->now - p->since_at : 0.), "reported", p->reported);
    if (o != NULL)
        json_array_append_new(c->arr, o);
    c->viewers += p->viewers + p->reserved;
    /* playing > starting > retrying > reserved > failed */
    static const int rank[] = {[RELAY_VIEW_CAM_STARTING] = 4,
                               [RELAY_VIEW_CAM_PLAYING] = 5,
                               [RELAY_VIEW_CAM_RETRYING] = 3,
                               [RELAY_VIEW_CAM_FAILED] = 1};
    int r = p->reported && (unsigned)p->state < sizeof(rank) / sizeof(rank[0]) ? rank[p->state] : 2;
    if (r > c->best)
        c->best = r;
}

static enum MHD_Result
relays_list(struct admin *a, struct MHD_Connection *conn)
{
    const struct catalog *cat = a->b->cat;
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < catalog_relay_count(cat); i++) {
        const struct catalog_relay *cr = catalog_relay_at(cat, i);
        json_t *o = relay_json(a, &cr->relay);
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return send_json(conn, MHD_HTTP_OK,
                     arr != NULL ? json_pack("{s:o,s:I}", "relays", arr, "registry_version",
                                             (json_int_t)catalog_version(cat))
                                 : NULL,
                     NULL);
}

static enum MHD_Result
relay_get(struct admin *a, struct MHD_Connection *conn, const char *id)
{
    struct reg_relay r;
    int rc = registry_relay_get(a->b->reg, id, &r);
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_READ);
    json_t *o = relay_json(a, &r);
    struct pulls_ctx pc = {.relay_id = id, .arr = json_array(), .now = broker_now(a->b)};
    if (o != NULL && pc.arr != NULL) {
        relay_view_foreach_pull(a->b->view, pull_cb, &pc);
        json_object_set_new(o, "pulls", pc.arr);
    } else {
        json_decref(pc.arr);
        json_decref(o);
        o = NULL;
    }
    return send_json(conn, MHD_HTTP_OK, o, NULL);
}

static const char *const relay_fields[] = {
    "id", "name", "site", "url", "capacity_viewers", "capacity_mbps", "state", NULL};

static enum MHD_Result
relay_put(struct admin *a, struct MHD_Connection *conn, const char *id,
          const struct httpd_body *body)
{
    char err[256] = "";
    json_t *o = body_object(body, relay_fields, err, sizeof(err));
    if (o == NULL)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, err);
    struct reg_relay r;
    int rc = registry_relay_get(a->b->reg, id, &r);
    if (rc != RD_OK) {
        json_decref(o);
        return send_reg_error(a, conn, rc, W_READ);
    }
    char same_id[RD_RELAY_ID_MAX + 1], state[16] = "";
    bool has_id, has_state, present;
    rc = field_str(o, "id", same_id, sizeof(same_id), &has_id, err, sizeof(err));
    if (rc == RD_OK && has_id && strcmp(same_id, id) != 0) {
        (void)snprintf(err, sizeof(err), "id cannot be changed");
        rc = RD_EPROTO;
    }
    if (rc == RD_OK)
        rc = field_str(o, "name", r.name, sizeof(r.name), &present, err, sizeof(err));
    if (rc == RD_OK)
        rc = field_str(o, "site", r.site_id, sizeof(r.site_id), &present, err, sizeof(err));
    if (rc == RD_OK)
        rc = field_str(o, "url", r.base_url, sizeof(r.base_url), &present, err, sizeof(err));
    if (rc == RD_OK)
        rc = field_u32(o, "capacity_viewers", 1, RD_REG_MAX_CAPACITY_VIEWERS, &r.capacity_viewers,
                       err, sizeof(err));
    if (rc == RD_OK)
        rc = field_u32(o, "capacity_mbps", 1, RD_REG_MAX_CAPACITY_MBPS, &r.capacity_mbps, err,
                       sizeof(err));
    if (rc == RD_OK)
        rc = field_str(o, "state", state, sizeof(state), &has_state, err, sizeof(err));
    if (rc == RD_OK && has_state && registry_relay_state_parse(state, &r.state) != RD_OK) {
        (void)snprintf(err, sizeof(err), "state must be active, draining or disabled");
        rc = RD_EPROTO;
    }
    json_decref(o);
    if (rc != RD_OK)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, err);
    rc = registry_relay_update(a->b->reg, &r);
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_UPDATE);
    after_write(a, "relay_update", id, conn);
    return relay_get(a, conn, id);
}

static enum MHD_Result
relay_delete(struct admin *a, struct MHD_Connection *conn, const char *id)
{
    int rc = registry_relay_rm(a->b->reg, id);
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_DELETE);
    after_write(a, "relay_delete", id, conn);
    return send_json(conn, MHD_HTTP_OK, json_pack("{s:s}", "deleted", id), NULL);
}

struct samples_ctx {
    json_t *arr;
};

static int
sample_cb(void *arg, const struct reg_load *row)
{
    struct samples_ctx *c = arg;
    json_t *o =
        json_pack("{s:I,s:I,s:I,s:f,s:b,s:b}", "t", (json_int_t)row->last_seen, "viewers",
                  (json_int_t)row->viewers, "egress_kbps", (json_int_t)row->egress_kbps, "cpu_pct",
                  row->cpu_pct, "healthy", row->healthy, "draining", row->draining);
    return o == NULL || json_array_append_new(c->arr, o) != 0;
}

static enum MHD_Result
relay_samples(struct admin *a, struct MHD_Connection *conn, const char *id)
{
    struct broker *b = a->b;
    if (catalog_relay(b->cat, id) == NULL)
        return send_error(conn, MHD_HTTP_NOT_FOUND, "unknown relay");
    int64_t now = (int64_t)time(NULL);
    int64_t since = now - RD_REG_SAMPLE_RETENTION_S;
    const char *s = arg(conn, "since");
    if (s != NULL) {
        uint64_t v;
        if (rd_str_to_u64(rd_str_cstr(s), RELAY_CHANNEL_TS_DIGITS, UINT64_MAX, &v) != RD_OK)
            return send_error(conn, MHD_HTTP_BAD_REQUEST, "since must be unix seconds");
        since = (int64_t)v;
    }
    struct samples_ctx c = {.arr = json_array()};
    if (c.arr == NULL)
        return send_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL);
    int rc = registry_sample_list(b->reg, id, since, sample_cb, &c);
    if (rc != RD_OK) {
        json_decref(c.arr);
        return send_reg_error(a, conn, rc, W_READ);
    }
    return send_json(conn, MHD_HTTP_OK,
                     json_pack("{s:s,s:I,s:I,s:I,s:o}", "relay", id, "since", (json_int_t)since,
                               "now", (json_int_t)now, "interval_s",
                               (json_int_t)RD_REG_SAMPLE_INTERVAL_S, "samples", c.arr),
                     NULL);
}

/* ---- Cameras -----------------------------------------------------------------------------------
 */

/* A camera for the admin API: configuration without its source (URL and credentials leave
 * the broker only on the relay channel), plus the relays pulling it now. */
static json_t *
camera_json(const struct admin *a, const struct reg_camera *c)
{
    json_t *o = json_pack(
        "{s:o,s:o,s:o,s:s,s:I,s:b,s:b,s:b,s:b,s:I,s:I}", "id", jstr(c->id), "name", jstr(c->name),
        "site", jstr(c->site_id), "transport", registry_transport_name(c->transport), "max_relays",
        (json_int_t)c->max_relays, "auth_required", c->auth_required, "enabled", c->enabled,
        "always_on", c->always_on, "has_credentials",
        c->upstream_user[0] != '\0' || c->upstream_password[0] != '\0', "created_at",
        (json_int_t)c->created_at, "updated_at", (json_int_t)c->updated_at);
    struct pulls_ctx pc = {.arr = json_array(), .now = broker_now(a->b)};
    if (o == NULL || pc.arr == NULL) {
        json_decref(o);
        json_decref(pc.arr);
        return NULL;
    }
    (void)relay_view_foreach_pull_of(a->b->view, c->id, pull_cb, &pc); /* none: RD_ENOTFOUND */
    static const char *const agg[] = {"idle",     "failed",   "reserved",
                                      "retrying", "starting", "playing"};
    json_object_set_new(o, "relays", pc.arr);
    json_object_set_new(o, "viewers", json_integer(pc.viewers));
    json_object_set_new(o, "state", json_string(!c->enabled ? "disabled" : agg[pc.best]));
    return o;
}

struct cameras_ctx {
    const struct admin *a;
    json_t *arr;
    bool failed;
};

static int
camera_cb(void *arg, const struct reg_camera *row)
{
    struct cameras_ctx *c = arg;
    json_t *o = camera_json(c->a, row);
    if (o == NULL || json_array_append_new(c->arr, o) != 0) {
        c->failed = true;
        return 1;
    }
    return 0;
}

static enum MHD_Result
cameras_list(struct admin *a, struct MHD_Connection *conn)
{
    const char *site = arg(conn, "site");
    if (site != NULL && !id_ok(site))
        return send_error(conn, MHD_HTTP_BAD_REQUEST, "site must match [A-Za-z0-9_-]{1,64}");
    struct cameras_ctx c = {.a = a, .arr = json_array()};
    if (c.arr == NULL)
        return send_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL);
    int rc = registry_camera_list(a->b->reg, site, camera_cb, &c);
    if (rc != RD_OK || c.failed) {
        json_decref(c.arr);
        return rc != RD_OK ? send_reg_error(a, conn, rc, W_READ)
                           : send_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    return send_json(conn, MHD_HTTP_OK,
                     json_pack("{s:o,s:I}", "cameras", c.arr, "registry_version",
                               (json_int_t)catalog_version(a->b->cat)),
                     NULL);
}

static enum MHD_Result
camera_get(struct admin *a, struct MHD_Connection *conn, const char *id, unsigned status)
{
    struct reg_camera c;
    int rc = registry_camera_get(a->b->reg, id, &c);
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_READ);
    json_t *o = camera_json(a, &c);
    rd_cleanse(&c, sizeof(c));
    return send_json(conn, status, o, NULL);
}

static const char *const camera_fields[] = {
    "id",        "name",       "site",          "url",     "user",      "password",
    "transport", "max_relays", "auth_required", "enabled", "always_on", NULL};

/* Applies the fields present in o to *c. Returns RD_OK or RD_EPROTO with err set. */
static int
camera_fields_apply(json_t *o, struct reg_camera *c, bool *has_url, char *err, size_t cap)
{
    bool present;
    char transport[16];
    int rc = field_str(o, "name", c->name, sizeof(c->name), &present, err, cap);
    if (rc == RD_OK)
        rc = field_str(o, "site", c->site_id, sizeof(c->site_id), &present, err, cap);
    if (rc == RD_OK)
        rc = field_str(o, "url", c->upstream_url, sizeof(c->upstream_url), has_url, err, cap);
    if (rc == RD_OK)
        rc = field_str(o, "user", c->upstream_user, sizeof(c->upstream_user), &present, err, cap);
    if (rc == RD_OK)
        rc = field_str(o, "password", c->upstream_password, sizeof(c->upstream_password), &present,
                       err, cap);
    if (rc == RD_OK)
        rc = field_str(o, "transport", transport, sizeof(transport), &present, err, cap);
    if (rc == RD_OK && present && registry_transport_parse(transport, &c->transport) != RD_OK) {
        (void)snprintf(err, cap, "transport must be auto, tcp or udp");
        rc = RD_EPROTO;
    }
    if (rc == RD_OK)
        rc = field_u32(o, "max_relays", 1, RD_REG_MAX_RELAYS_PER_CAMERA, &c->max_relays, err, cap);
    if (rc == RD_OK)
        rc = field_bool(o, "auth_required", &c->auth_required, err, cap);
    if (rc == RD_OK)
        rc = field_bool(o, "enabled", &c->enabled, err, cap);
    if (rc == RD_OK)
        rc = field_bool(o, "always_on", &c->always_on, err, cap);
    return rc;
}

static enum MHD_Result
camera_post(struct admin *a, struct MHD_Connection *conn, const struct httpd_body *body)
{
    char err[256] = "";
    json_t *o = body_object(body, camera_fields, err, sizeof(err));
    if (o == NULL)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, err);
    /* The schema's defaults: enabled, two relays at most, transport auto, default site. */
    struct reg_camera c = {.max_relays = 2, .enabled = true, .transport = REG_TRANSPORT_AUTO};
    bool has_id, has_url;
    int rc = field_str(o, "id", c.id, sizeof(c.id), &has_id, err, sizeof(err));
    if (rc == RD_OK && (!has_id || !id_ok(c.id))) {
        (void)snprintf(err, sizeof(err), "id is required and must match [A-Za-z0-9_-]{1,64}");
        rc = RD_EPROTO;
    }
    if (rc == RD_OK)
        rc = camera_fields_apply(o, &c, &has_url, err, sizeof(err));
    if (rc == RD_OK && !has_url) {
        (void)snprintf(err, sizeof(err), "url is required");
        rc = RD_EPROTO;
    }
    json_decref(o);
    if (rc != RD_OK) {
        rd_cleanse(&c, sizeof(c));
        return send_error(conn, MHD_HTTP_BAD_REQUEST, err);
    }
    if (c.name[0] == '\0')
        memcpy(c.name, c.id, sizeof(c.id));
    rc = registry_camera_add(a->b->reg, &c);
    char id[RD_CAMERA_ID_MAX + 1];
    memcpy(id, c.id, sizeof(id));
    rd_cleanse(&c, sizeof(c));
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_ADD);
    after_write(a, "camera_add", id, conn);
    return camera_get(a, conn, id, MHD_HTTP_CREATED);
}

static enum MHD_Result
camera_put(struct admin *a, struct MHD_Connection *conn, const char *id,
           const struct httpd_body *body)
{
    char err[256] = "";
    json_t *o = body_object(body, camera_fields, err, sizeof(err));
    if (o == NULL)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, err);
    struct reg_camera c;
    int rc = registry_camera_get(a->b->reg, id, &c);
    if (rc != RD_OK) {
        json_decref(o);
        return send_reg_error(a, conn, rc, W_READ);
    }
    char same_id[RD_CAMERA_ID_MAX + 1];
    bool has_id, has_url;
    rc = field_str(o, "id", same_id, sizeof(same_id), &has_id, err, sizeof(err));
    if (rc == RD_OK && has_id && strcmp(same_id, id) != 0) {
        (void)snprintf(err, sizeof(err), "id cannot be changed");
        rc = RD_EPROTO;
    }
    if (rc == RD_OK)
        rc = camera_fields_apply(o, &c, &has_url, err, sizeof(err));
    json_decref(o);
    if (rc == RD_OK)
        rc = registry_camera_update(a->b->reg, &c);
    else {
        rd_cleanse(&c, sizeof(c));
        return send_error(conn, MHD_HTTP_BAD_REQUEST, err);
    }
    rd_cleanse(&c, sizeof(c));
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_UPDATE);
    after_write(a, "camera_update", id, conn);
    return camera_get(a, conn, id, MHD_HTTP_OK);
}

static enum MHD_Result
camera_delete(struct admin *a, struct MHD_Connection *conn, const char *id)
{
    int rc = registry_camera_rm(a->b->reg, id);
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_DELETE);
    after_write(a, "camera_delete", id, conn);
    return send_json(conn, MHD_HTTP_OK, json_pack("{s:s}", "deleted", id), NULL);
}

/* ---- Sites --------------------------------------------------------------------------------------
 */

static int
site_cb(void *arg, const struct reg_site *row)
{
    json_t *o = json_pack("{s:o,s:o,s:I}", "id", jstr(row->id), "name", jstr(row->name),
                          "created_at", (json_int_t)row->created_at);
    return o == NULL || json_array_append_new(arg, o) != 0;
}

static enum MHD_Result
sites_list(struct admin *a, struct MHD_Connection *conn)
{
    json_t *arr = json_array();
    if (arr == NULL)
        return send_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL);
    int rc = registry_site_list(a->b->reg, site_cb, arr);
    if (rc != RD_OK) {
        json_decref(arr);
        return send_reg_error(a, conn, rc, W_READ);
    }
    return send_json(conn, MHD_HTTP_OK, json_pack("{s:o}", "sites", arr), NULL);
}

static enum MHD_Result
site_post(struct admin *a, struct MHD_Connection *conn, const struct httpd_body *body)
{
    static const char *const fields[] = {"id", "name", NULL};
    char err[256] = "";
    json_t *o = body_object(body, fields, err, sizeof(err));
    if (o == NULL)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, err);
    struct reg_site s = {0};
    bool has_id, has_name;
    int rc = field_str(o, "id", s.id, sizeof(s.id), &has_id, err, sizeof(err));
    if (rc == RD_OK)
        rc = field_str(o, "name", s.name, sizeof(s.name), &has_name, err, sizeof(err));
    json_decref(o);
    if (rc == RD_OK && (!has_id || !id_ok(s.id))) {
        (void)snprintf(err, sizeof(err), "id is required and must match [A-Za-z0-9_-]{1,64}");
        rc = RD_EPROTO;
    }
    if (rc != RD_OK)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, err);
    if (!has_name)
        memcpy(s.name, s.id, sizeof(s.id));
    rc = registry_site_add(a->b->reg, &s);
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_ADD);
    after_write(a, "site_add", s.id, conn);
    return send_json(conn, MHD_HTTP_CREATED,
                     json_pack("{s:o,s:o}", "id", jstr(s.id), "name", jstr(s.name)), NULL);
}

static enum MHD_Result
site_delete(struct admin *a, struct MHD_Connection *conn, const char *id)
{
    int rc = registry_site_rm(a->b->reg, id);
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_DELETE);
    after_write(a, "site_delete", id, conn);
    return send_json(conn, MHD_HTTP_OK, json_pack("{s:s}", "deleted", id), NULL);
}

/* ---- Users -------------------------------------------------------------------------------------
 */

struct users_ctx {
    struct reg_user *rows;
    size_t n, cap;
    bool failed;
};

static int
user_cb(void *arg, const struct reg_user *row)
{
    struct users_ctx *c = arg;
    if (c->n == c->cap) {
        size_t ncap = c->cap == 0 ? 16 : c->cap * 2;
        struct reg_user *p = realloc(c->rows, ncap * sizeof(*p));
        if (p == NULL) {
            c->failed = true;
            return 1;
        }
        c->rows = p;
        c->cap = ncap;
    }
    c->rows[c->n++] = *row;
    return 0;
}

static int
grant_cb(void *arg, const char *camera_id)
{
    return json_array_append_new(arg, jstr(camera_id)) != 0;
}

/* A user without its HA1 values (they are password equivalents for the realm). */
static json_t *
user_json(struct admin *a, const struct reg_user *u, int *rc)
{
    json_t *grants = json_array();
    *rc = grants != NULL ? registry_user_grants(a->b->reg, u->name, grant_cb, grants) : RD_ENOMEM;
    if (*rc != RD_OK) {
        json_decref(grants);
        return NULL;
    }
    return json_pack("{s:o,s:o,s:I,s:o}", "name", jstr(u->name), "realm", jstr(u->realm),
                     "created_at", (json_int_t)u->created_at, "cameras", grants);
}

static enum MHD_Result
users_list(struct admin *a, struct MHD_Connection *conn)
{
    /* Rows first, grants after: a list callback must not call into the registry. */
    struct users_ctx c = {0};
    int rc = registry_user_list(a->b->reg, user_cb, &c);
    json_t *arr = json_array();
    for (size_t i = 0; rc == RD_OK && !c.failed && arr != NULL && i < c.n; i++) {
        json_t *o = user_json(a, &c.rows[i], &rc);
        if (rc == RD_OK && (o == NULL || json_array_append_new(arr, o) != 0))
            c.failed = true;
    }
    if (c.rows != NULL)
        rd_cleanse(c.rows, c.cap * sizeof(*c.rows));
    free(c.rows);
    if (rc != RD_OK) {
        json_decref(arr);
        return send_reg_error(a, conn, rc, W_READ);
    }
    if (c.failed || arr == NULL) {
        json_decref(arr);
        return send_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    return send_json(conn, MHD_HTTP_OK, json_pack("{s:o}", "users", arr), NULL);
}

static enum MHD_Result
user_get(struct admin *a, struct MHD_Connection *conn, const char *name, unsigned status)
{
    struct reg_user u;
    int rc = registry_user_get(a->b->reg, name, &u);
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_READ);
    json_t *o = user_json(a, &u, &rc);
    rd_cleanse(&u, sizeof(u));
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_READ);
    return send_json(conn, status, o, NULL);
}

static enum MHD_Result
user_post(struct admin *a, struct MHD_Connection *conn, struct httpd_body *body)
{
    static const char *const fields[] = {"name", "password", "realm", NULL};
    char err[256] = "";
    json_t *o = body_object(body, fields, err, sizeof(err));
    rd_cleanse(body->data, body->len); /* it held the password */
    if (o == NULL)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, err);
    struct reg_user u = {0};
    char password[RD_AUTH_MAX_PASSWORD + 1] = "";
    bool has_name, has_pw, has_realm;
    int rc = field_str(o, "name", u.name, sizeof(u.name), &has_name, err, sizeof(err));
    if (rc == RD_OK)
        rc = field_str(o, "password", password, sizeof(password), &has_pw, err, sizeof(err));
    if (rc == RD_OK)
        rc = field_str(o, "realm", u.realm, sizeof(u.realm), &has_realm, err, sizeof(err));
    json_decref(o);
    if (rc == RD_OK && (!has_name || !has_pw || password[0] == '\0')) {
        (void)snprintf(err, sizeof(err), "name and a non-empty password are required");
        rc = RD_EPROTO;
    }
    if (rc == RD_OK && !has_realm
        && rd_str_copy(u.realm, sizeof(u.realm), rd_str_cstr(a->b->conf.realm)) != RD_OK) {
        (void)snprintf(err, sizeof(err), "the configured realm is too long");
        rc = RD_EPROTO;
    }
    if (rc == RD_OK) {
        rc = registry_user_ha1(&u, password);
        if (rc != RD_OK)
            (void)snprintf(err, sizeof(err), "name or realm is malformed");
    }
    rd_cleanse(password, sizeof(password));
    if (rc != RD_OK)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, err);
    rc = registry_user_add(a->b->reg, &u);
    char name[RD_AUTH_MAX_USERNAME + 1];
    memcpy(name, u.name, sizeof(name));
    rd_cleanse(&u, sizeof(u));
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_ADD);
    after_write(a, "user_add", name, conn);
    return user_get(a, conn, name, MHD_HTTP_CREATED);
}

static enum MHD_Result
user_delete(struct admin *a, struct MHD_Connection *conn, const char *name)
{
    int rc = registry_user_rm(a->b->reg, name);
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_DELETE);
    after_write(a, "user_delete", name, conn);
    return send_json(conn, MHD_HTTP_OK, json_pack("{s:o}", "deleted", jstr(name)), NULL);
}

static enum MHD_Result
grant(struct admin *a, struct MHD_Connection *conn, enum meth m, const char *name,
      const char *camera_id)
{
    int rc = m == M_POST ? registry_user_grant(a->b->reg, name, camera_id)
                         : registry_user_revoke(a->b->reg, name, camera_id);
    if (rc != RD_OK)
        return send_reg_error(a, conn, rc, W_GRANT);
    after_write(a, m == M_POST ? "grant" : "revoke", name, conn);
    return user_get(a, conn, name, MHD_HTTP_OK);
}

/* ---- Decisions and stats ------------------------------------------------------------------------
 */

static json_t *
decision_json(int64_t at_ms, const char *camera, const char *relay, unsigned status,
              const char *reason, const char *client)
{
    return json_pack("{s:I,s:o,s:o,s:I,s:o,s:o}", "at_ms", (json_int_t)at_ms, "camera",
                     jstr(camera), "relay", jstr(relay), "status", (json_int_t)status, "reason",
                     jstr(reason), "client", jstr(client));
}

struct decisions_ctx {
    json_t *arr;
};

static int
decision_cb(void *arg, const struct reg_decision *d)
{
    struct decisions_ctx *c = arg;
    json_t *o = decision_json(d->at_ms, d->camera_id, d->relay_id, d->status, d->reason, d->client);
    return o == NULL || json_array_append_new(c->arr, o) != 0;
}

static enum MHD_Result
decisions(struct admin *a, struct MHD_Connection *conn)
{
    const struct broker *b = a->b;
    const char *source = arg(conn, "source");
    bool history = false;
    if (source != NULL) {
        if (strcmp(source, "history") == 0)
            history = true;
        else if (strcmp(source, "memory") != 0)
            return send_error(conn, MHD_HTTP_BAD_REQUEST, "source must be memory or history");
    }
    uint32_t max = history ? RD_REG_DECISIONS_KEEP : BROKER_DECISIONS_KEPT;
    uint32_t limit = ADMIN_DECISIONS_DEFAULT;
    const char *ls = arg(conn, "limit");
    if (ls != NULL && rd_str_to_u32(rd_str_cstr(ls), 9, max, &limit) != RD_OK)
        return send_errorf(conn, MHD_HTTP_BAD_REQUEST, "limit must be an integer from 0 to %u",
                           max);
    const char *camera = arg(conn, "camera");
    if (camera != NULL && !id_ok(camera))
        return send_error(conn, MHD_HTTP_BAD_REQUEST, "camera must match [A-Za-z0-9_-]{1,64}");
    struct decisions_ctx c = {.arr = json_array()};
    if (c.arr == NULL)
        return send_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL);
    if (history) {
        int rc = limit > 0 ? registry_decision_list(b->reg, camera, limit, decision_cb, &c) : RD_OK;
        if (rc != RD_OK) {
            json_decref(c.arr);
            return send_reg_error(a, conn, rc, W_READ);
        }
    } else {
        const struct broker_decisions *d = &b->decisions;
        uint32_t n = d->count < BROKER_DECISIONS_KEPT ? d->count : BROKER_DECISIONS_KEPT;
        for (uint32_t i = 0, shown = 0; i < n && shown < limit; i++) {
            const struct broker_decision *x =
                &d->ring[(d->next + 2 * BROKER_DECISIONS_KEPT - 1 - i) % BROKER_DECISIONS_KEPT];
            if (camera != NULL && strcmp(camera, x->camera_id) != 0)
                continue;
            json_t *o =
                decision_json(x->at_ms, x->camera_id, x->relay_id, x->status, x->reason, x->client);
            if (o == NULL || json_array_append_new(c.arr, o) != 0) {
                json_decref(c.arr);
                return send_json(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL);
            }
            shown++;
        }
    }
    return send_json(
        conn, MHD_HTTP_OK,
        json_pack("{s:s,s:o}", "source", history ? "history" : "memory", "decisions", c.arr), NULL);
}

static const char *const conn_keys[METRICS_CONN__COUNT] = {
    "accepted", "refused_global", "refused_per_ip", "refused_rate", "timeout"};
static const char *const hb_keys[METRICS_HB__COUNT] = {
    "accepted",      "stale",     "unknown_relay", "bad_signature",
    "bad_timestamp", "malformed", "too_large",     "rate_limited"};

static enum MHD_Result
stats(struct admin *a, struct MHD_Connection *conn)
{
    const struct broker *b = a->b;
    const struct metrics *m = &b->metrics;
    json_t *conns = json_object(), *hb = json_object(), *resp = json_object();
    for (int i = 0; conns != NULL && i < METRICS_CONN__COUNT; i++)
        json_object_set_new(conns, conn_keys[i], json_integer((json_int_t)m->conns[i]));
    for (int i = 0; hb != NULL && i < METRICS_HB__COUNT; i++)
        json_object_set_new(hb, hb_keys[i], json_integer((json_int_t)m->hb[i]));
    for (int s = 100; resp != NULL && s < 600; s++) {
        if (m->responses[s] > 0) {
            char k[8];
            (void)snprintf(k, sizeof(k), "%d", s); /* three digits: fits */
            json_object_set_new(resp, k, json_integer((json_int_t)m->responses[s]));
        }
    }
    struct relay_view_stats vs;
    relay_view_get_stats(b->view, &vs);
    struct registry_stats rs;
    broker_registry_stats(b, &rs);
    uint64_t version = 0;
    bool have_version = registry_version(b->reg, &version) == RD_OK;
    json_t *j = json_pack(
        "{s:f,s:b,s:o,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,"
        "s:{s:I,s:I},s:{s:I,s:I},"
        "s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
        "s:{s:I,s:I,s:I,s:I},"
        "s:{s:I,s:I,s:I},"
        "s:{s:I}}",
        "uptime_s", round_ms(broker_now(b) - b->started_at), "db_degraded", b->db_degraded,
        "registry_version", have_version ? json_integer((json_int_t)version) : json_null(),
        "catalog_version", (json_int_t)catalog_version(b->cat), "relays",
        (json_int_t)catalog_relay_count(b->cat), "cameras",
        (json_int_t)catalog_camera_count(b->cat), "connections_open", (json_int_t)m->conns_open,
        "catalog_reloads", (json_int_t)m->catalog_reloads, "connections", conns, "heartbeats", hb,
        "responses", resp, "health_transitions", "to_healthy", (json_int_t)m->health_to_healthy,
        "to_unhealthy", (json_int_t)m->health_to_unhealthy, "flushes", "ok",
        (json_int_t)m->flushes_ok, "failed", (json_int_t)m->flushes_failed, "relay_view",
        "hb_accepted", (json_int_t)vs.hb_accepted, "hb_new_boot", (json_int_t)vs.hb_new_boot,
        "hb_stale", (json_int_t)vs.hb_stale, "hb_rejected", (json_int_t)vs.hb_rejected,
        "hb_unknown_relay", (json_int_t)vs.hb_unknown_relay, "reservations",
        (json_int_t)vs.reservations, "pulls_dropped", (json_int_t)vs.pulls_dropped, "removals_lost",
        (json_int_t)vs.removals_lost, "relays", (json_int_t)vs.n_relays, "healthy",
        (json_int_t)vs.n_healthy, "cameras", (json_int_t)vs.n_cameras, "pulls",
        (json_int_t)vs.n_pulls, "registry", "commits", (json_int_t)rs.commits, "flushes",
        (json_int_t)rs.flushes, "flush_failures", (json_int_t)rs.flush_failures, "rows_skipped",
        (json_int_t)rs.rows_skipped, "decisions", "kept", (json_int_t)b->decisions.count,
        "unflushed", (json_int_t)b->decisions.unflushed, "overflowed",
        (json_int_t)b->decisions.overflowed, "relay_channel", "untracked",
        (json_int_t)(relay_channel_limiter_untracked(a->hb_limit)
                     + relay_channel_limiter_untracked(a->src_limit)));
    return send_json(conn, MHD_HTTP_OK, j, NULL);
}

static enum MHD_Result
metrics_page(struct admin *a, struct MHD_Connection *conn)
{
    const struct broker *b = a->b;
    struct relay_view_stats vs;
    relay_view_get_stats(b->view, &vs);
    for (size_t cap = ADMIN_METRICS_START; cap <= ADMIN_METRICS_MAX; cap *= 2) {
        struct rd_buf out;
        if (rd_buf_alloc(&out, cap) != RD_OK)
            break;
        int rc = metrics_render(&b->metrics, &vs, b->db_degraded, &out);
        if (rc == RD_OK) {
            struct MHD_Response *r = MHD_create_response_from_buffer(
                rd_buf_len(&out), rd_buf_head(&out), MHD_RESPMEM_MUST_COPY);
            rd_buf_free(&out);
            return send_response(conn, MHD_HTTP_OK, r, "text/plain; version=0.0.4; charset=utf-8",
                                 NULL);
        }
        rd_buf_free(&out);
        if (rc != RD_ELIMIT)
            break;
    }
    return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics could not be rendered");
}

/* ---- Routing ------------------------------------------------------------------------------------
 */

enum route {
    R_NONE = 0,
    R_RELAYS,
    R_RELAY,
    R_RELAY_SAMPLES,
    R_CAMERAS,
    R_CAMERA,
    R_SITES,
    R_SITE,
    R_USERS,
    R_USER,
    R_GRANT,
    R_DECISIONS,
    R_STATS,
    R_METRICS,
};

struct target {
    enum route route;
    unsigned allowed;  /* MB(M_*) */
    const char *allow; /* the Allow header */
    char id[RD_AUTH_MAX_USERNAME + 1];
    char id2[RD_CAMERA_ID_MAX + 1];
};

#define API_PREFIX "/api/v1/"

/* Copies path segment s into dst if it is a valid id of its kind. */
static bool
seg_id(struct rd_str s, char *dst, size_t cap, bool user)
{
    if (rd_str_copy(dst, cap, s) != RD_OK)
        return false;
    return user ? user_name_ok(dst) : id_ok(dst);
}

static void
set_route(struct target *t, enum route r, unsigned allowed, const char *allow)
{
    t->route = r;
    t->allowed = allowed;
    t->allow = allow;
}

/* Resolves url to a route; R_NONE is 404. Malformed ids are 404 too: no such row can exist. */
static void
route_of(const char *url, struct target *t)
{
    memset(t, 0, sizeof(*t));
    const unsigned get = MB(M_GET) | MB(M_HEAD);
    if (strcmp(url, "/metrics") == 0) {
        set_route(t, R_METRICS, get, "GET");
        return;
    }
    size_t plen = strlen(API_PREFIX);
    if (strncmp(url, API_PREFIX, plen) != 0)
        return;
    struct rd_str rest = rd_str_cstr(url + plen), seg[5];
    size_t n = 0;
    bool found = true;
    while (found && n < 5) {
        rest = rd_str_split(rest, '/', &seg[n], &found);
        n++;
    }
    if (found) /* more than 5 segments */
        return;
    if (n > 1 && seg[n - 1].len == 0)
        n--; /* one trailing slash is tolerated */
    struct rd_str s0 = seg[0];
    bool id1 = n >= 2 && seg_id(seg[1], t->id, sizeof(t->id), rd_str_eq_cstr(s0, "users"));
    if (rd_str_eq_cstr(s0, "relays")) {
        if (n == 1)
            set_route(t, R_RELAYS, get, "GET");
        else if (n == 2 && id1)
            set_route(t, R_RELAY, get | MB(M_PUT) | MB(M_DELETE), "GET, PUT, DELETE");
        else if (n == 3 && id1 && rd_str_eq_cstr(seg[2], "samples"))
            set_route(t, R_RELAY_SAMPLES, get, "GET");
    } else if (rd_str_eq_cstr(s0, "cameras")) {
        if (n == 1)
            set_route(t, R_CAMERAS, get | MB(M_POST), "GET, POST");
        else if (n == 2 && id1)
            set_route(t, R_CAMERA, get | MB(M_PUT) | MB(M_DELETE), "GET, PUT, DELETE");
    } else if (rd_str_eq_cstr(s0, "sites")) {
        if (n == 1)
            set_route(t, R_SITES, get | MB(M_POST), "GET, POST");
        else if (n == 2 && id1)
            set_route(t, R_SITE, MB(M_DELETE), "DELETE");
    } else if (rd_str_eq_cstr(s0, "users")) {
        if (n == 1)
            set_route(t, R_USERS, get | MB(M_POST), "GET, POST");
        else if (n == 2 && id1)
            set_route(t, R_USER, get | MB(M_DELETE), "GET, DELETE");
        else if (n == 4 && id1 && rd_str_eq_cstr(seg[2], "cameras")
                 && seg_id(seg[3], t->id2, sizeof(t->id2), false))
            set_route(t, R_GRANT, MB(M_POST) | MB(M_DELETE), "POST, DELETE");
    } else if (n == 1 && rd_str_eq_cstr(s0, "decisions")) {
        set_route(t, R_DECISIONS, get, "GET");
    } else if (n == 1 && rd_str_eq_cstr(s0, "stats")) {
        set_route(t, R_STATS, get, "GET");
    }
}

static enum MHD_Result
dispatch(struct admin *a, struct MHD_Connection *conn, enum meth m, const struct target *t,
         struct httpd_body *body)
{
    switch (t->route) {
    case R_METRICS:
        return metrics_page(a, conn);
    case R_RELAYS:
        return relays_list(a, conn);
    case R_RELAY:
        if (m == M_PUT)
            return relay_put(a, conn, t->id, body);
        if (m == M_DELETE)
            return relay_delete(a, conn, t->id);
        return relay_get(a, conn, t->id);
    case R_RELAY_SAMPLES:
        return relay_samples(a, conn, t->id);
    case R_CAMERAS:
        if (m == M_POST)
            return camera_post(a, conn, body);
        return cameras_list(a, conn);
    case R_CAMERA:
        if (m == M_PUT)
            return camera_put(a, conn, t->id, body);
        if (m == M_DELETE)
            return camera_delete(a, conn, t->id);
        return camera_get(a, conn, t->id, MHD_HTTP_OK);
    case R_SITES:
        if (m == M_POST)
            return site_post(a, conn, body);
        return sites_list(a, conn);
    case R_SITE:
        return site_delete(a, conn, t->id);
    case R_USERS:
        if (m == M_POST)
            return user_post(a, conn, body);
        return users_list(a, conn);
    case R_USER:
        if (m == M_DELETE)
            return user_delete(a, conn, t->id);
        return user_get(a, conn, t->id, MHD_HTTP_OK);
    case R_GRANT:
        return grant(a, conn, m, t->id, t->id2);
    case R_DECISIONS:
        return decisions(a, conn);
    case R_STATS:
        return stats(a, conn);
    case R_NONE:
        break;
    }
    return send_error(conn, MHD_HTTP_NOT_FOUND, "not found");
}

static enum MHD_Result
page(struct admin *a, struct MHD_Connection *conn, enum meth m)
{
    if (m != M_GET && m != M_HEAD)
        return send_405(conn, "GET");
    struct MHD_Response *r = MHD_create_response_from_buffer(
        admin_page_html_len, (void *)(uintptr_t)admin_page_html, MHD_RESPMEM_PERSISTENT);
    struct extra x = {.csp = a->csp};
    return send_response(conn, MHD_HTTP_OK, r, "text/html; charset=utf-8", &x);
}

static enum MHD_Result
healthz(struct admin *a, struct MHD_Connection *conn, enum meth m)
{
    if (m != M_GET && m != M_HEAD)
        return send_405(conn, "GET");
    if (a->b->db_degraded)
        return send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "degraded\n", NULL);
    return send_text(conn, MHD_HTTP_OK, "ok\n", NULL);
}

#define RELAY_SOURCE_PREFIX API_PREFIX "relay/cameras/"

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct admin *a = cls;
    struct broker *b = a->b;
    enum meth m = meth_of(method);
    bool first = *con_cls == NULL;

    /* The relay channel: authenticated by signatures, not by the bearer token. */
    if (strcmp(url, API_PREFIX "heartbeat") == 0)
        return heartbeat(a, conn, m, method, url, upload_data, upload_data_size, con_cls);
    if (strncmp(url, RELAY_SOURCE_PREFIX, strlen(RELAY_SOURCE_PREFIX)) == 0)
        return camera_source(a, conn, m, method, url, url + strlen(RELAY_SOURCE_PREFIX));
    /* Public: the static page (it asks for the token itself) and the health check. */
    if (strcmp(url, "/") == 0)
        return page(a, conn, m);
    if (strcmp(url, "/healthz") == 0)
        return healthz(a, conn, m);

    size_t token_len = strnlen(b->admin_token, sizeof(b->admin_token));
    if (first && token_len > 0 && !httpd_bearer_ok(conn, b->admin_token, token_len)) {
        struct extra x = {.bearer_challenge = true};
        return send_error_x(conn, MHD_HTTP_UNAUTHORIZED, "authorization required", &x);
    }
    struct target t;
    route_of(url, &t);
    if (t.route == R_NONE)
        return send_error(conn, MHD_HTTP_NOT_FOUND, "not found");
    if ((t.allowed & MB(m)) == 0)
        return send_405(conn, t.allow);
    struct httpd_body *body = NULL;
    if (m == M_POST || m == M_PUT) {
        int rc = httpd_body_read(conn, con_cls, (size_t)RD_HTTP_MAX_ADMIN_BODY, upload_data,
                                 upload_data_size, &body);
        if (rc == RD_AGAIN)
            return MHD_YES;
        if (rc == RD_ELIMIT)
            return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
        if (rc != RD_OK)
            return MHD_NO;
    }
    return dispatch(a, conn, m, &t, body);
}

/* ---- Start and stop -----------------------------------------------------------------------------
 */

/* Whether ip (numeric) is a loopback address: 127.0.0.0/8 or ::1. */
static bool
is_loopback(const char *ip)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, ip, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, ip, &v6) == 1)
        return memcmp(&v6, &in6addr_loopback, sizeof(v6)) == 0;
    return false;
}

/* The page's policy: nothing from elsewhere, and only its own inline script (by hash), so
 * data that slipped into the DOM could never run. */
static int
make_csp(struct admin *a)
{
    const char *html = (const char *)admin_page_html;
    const char *open = strstr(html, "<script>");
    const char *close = open != NULL ? strstr(open, "</script>") : NULL;
    if (close == NULL)
        return RD_EPROTO;
    open += strlen("<script>");
    struct rd_str part = rd_str_make(open, (size_t)(close - open));
    uint8_t h[RD_SHA256_LEN];
    char b64[64];
    if (rd_hash_parts(RD_HASH_SHA256, &part, 1, h) != RD_OK
        || rd_b64_encode(h, sizeof(h), b64, sizeof(b64)) < 0)
        return RD_EIO;
    int n = snprintf(a->csp, sizeof(a->csp),
                     "default-src 'none'; script-src 'sha256-%s'; style-src 'unsafe-inline'; "
                     "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                     "form-action 'none'; frame-ancestors 'none'",
                     b64);
    return n > 0 && (size_t)n < sizeof(a->csp) ? RD_OK : RD_ELIMIT;
}

int
admin_start(struct broker *b, struct rd_errbuf *err)
{
    const struct conf_listen *l = &b->conf.admin_listen;
    size_t token_len = strnlen(b->admin_token, sizeof(b->admin_token));
    if (token_len == 0 && !is_loopback(l->host)) {
        rd_errbuf_set(err,
                      "admin_listen %s is not a loopback address: set admin_token_file (the "
                      "admin API needs a bearer token beyond loopback)",
                      l->host);
        return RD_EPROTO;
    }
    if (b->cat == NULL || b->view == NULL || b->reg == NULL) {
        rd_errbuf_set(err, "admin: the registry, catalog and relay view must exist first");
        return RD_EPROTO;
    }
    struct admin *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        rd_errbuf_set(err, "admin: out of memory");
        return RD_ENOMEM;
    }
    a->b = b;
    int rc = make_csp(a);
    if (rc != RD_OK) {
        rd_errbuf_set(err, "admin: the embedded page has no <script> element");
        goto fail;
    }
    /* The per-relay allowance is RD_HEARTBEAT_RATE_PER_S beats per configured interval of 1 s:
     * a deployment with a shorter heartbeat_interval_ms gets a proportionally higher rate. */
    double hb_per_s =
        1000.0 / (double)(b->conf.heartbeat_interval_ms > 0 ? b->conf.heartbeat_interval_ms : 1000);
    double hb_rate = RD_HEARTBEAT_RATE_PER_S * (hb_per_s > 1.0 ? hb_per_s : 1.0);
    if ((rc = relay_channel_limiter_create(hb_rate, RD_HEARTBEAT_BURST, &a->hb_limit)) != RD_OK
        || (rc = relay_channel_limiter_create(RD_RELAY_SOURCE_RATE_PER_S, RD_RELAY_SOURCE_BURST,
                                              &a->src_limit))
               != RD_OK) {
        rd_errbuf_set(err, "admin: out of memory");
        goto fail;
    }
    rc = httpd_start(&a->http, b->loop, l->host, l->port, handler, a, err);
    if (rc != RD_OK)
        goto fail;
    (void)log_ctx_set(&a->log, "admin=%s:%u", l->host, (unsigned)a->http.port); /* short */
    if (token_len > 0 && token_len < ADMIN_TOKEN_MIN_LEN)
        RD_LOG(RD_LOG_WARN, &a->log, "admin token is short; use at least 32 random characters");
    RD_LOG(RD_LOG_NOTICE, &a->log, "admin listening auth=%s", token_len > 0 ? "bearer" : "none");
    b->admin = a;
    return RD_OK;
fail:
    relay_channel_limiter_destroy(a->src_limit);
    relay_channel_limiter_destroy(a->hb_limit);
    free(a);
    return rc;
}

void
admin_stop(struct broker *b)
{
    struct admin *a = b->admin;
    if (a == NULL)
        return;
    httpd_stop(&a->http);
    relay_channel_hb_free(&a->hb);
    relay_channel_limiter_destroy(a->src_limit);
    relay_channel_limiter_destroy(a->hb_limit);
    free(a);
    b->admin = NULL;
}

unsigned
admin_port(const struct broker *b)
{
    return b->admin != NULL ? b->admin->http.port : 0;
}
