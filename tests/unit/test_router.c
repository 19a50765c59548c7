/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* memmem */
/* router.c: every status of the broker's request handling, tokens that verify on the chosen
 * relay, the policy situations through a real relay view, and viewer Digest end to end with
 * the client side of digest.h. The catalog comes from an in-memory registry; clocks are fake. */
#include "rd_test.h"

#include <stdlib.h>

#include "catalog.h"
#include "crypto.h"
#include "digest.h"
#include "rd_err.h"
#include "registry.h"
#include "relay_view.h"
#include "router.h"
#include "url_token.h"

#define REALM   "rtsp-director"
#define T_WALL0 1700000000000LL /* unix ms of the fake wall clock */

struct fx {
    struct registry *reg;
    struct catalog *cat;
    struct relay_view *view;
    struct policy_candidate cands[RD_BROKER_MAX_RELAYS];
    struct router_self self;
    struct metrics m;
    struct router_env env;
    uint8_t nonce_key[32];
    uint64_t seq[8];
    struct broker_decision last;
    unsigned n_decisions;
    /* The last answer. */
    char out[4096];
    struct rtsp_out o;
    struct router_result res;
    struct rtsp_msg resp;
    char req[4096];
    struct rtsp_msg msg;
};

static void
on_decide(void *ctx, const struct broker_decision *d)
{
    struct fx *f = ctx;
    f->last = *d;
    f->n_decisions++;
}

static void
add_camera(struct registry *reg, const char *id, const char *site, uint32_t max_relays,
           bool enabled, bool auth)
{
    struct reg_camera c = {.max_relays = max_relays, .enabled = enabled, .auth_required = auth};
    snprintf(c.id, sizeof(c.id), "%s", id);
    snprintf(c.name, sizeof(c.name), "Camera %s", id);
    snprintf(c.site_id, sizeof(c.site_id), "%s", site);
    snprintf(c.upstream_url, sizeof(c.upstream_url), "rtsp://10.9.9.9/%s", id);
    if (registry_camera_add(reg, &c) != RD_OK)
        fail_msg("camera add %s: %s", id, registry_errmsg(reg));
}

static void
add_relay(struct registry *reg, const char *id, const char *site, const char *url, uint32_t cap)
{
    struct reg_relay r = {.capacity_viewers = cap, .capacity_mbps = 1000};
    snprintf(r.id, sizeof(r.id), "%s", id);
    snprintf(r.name, sizeof(r.name), "Relay %s", id);
    snprintf(r.site_id, sizeof(r.site_id), "%s", site);
    snprintf(r.base_url, sizeof(r.base_url), "%s", url);
    struct reg_relay_key k;
    if (registry_relay_add(reg, &r, &k) != RD_OK)
        fail_msg("relay add %s: %s", id, registry_errmsg(reg));
}

static void
add_user(struct registry *reg, const char *name, const char *password, const char *grant)
{
    struct reg_user u = {.realm = REALM};
    snprintf(u.name, sizeof(u.name), "%s", name);
    assert_int_equal(registry_user_ha1(&u, password), RD_OK);
    assert_int_equal(registry_user_add(reg, &u), RD_OK);
    if (grant != NULL)
        assert_int_equal(registry_user_grant(reg, name, grant), RD_OK);
}

/* Copies the catalog's relays into the view (what broker_reload does). */
static void
sync_view(struct fx *f)
{
    relay_view_sync_begin(f->view);
    for (size_t i = 0; i < catalog_relay_count(f->cat); i++) {
        const struct catalog_relay *r = catalog_relay_at(f->cat, i);
        struct relay_view_config c = {
            .id = r->relay.id,
            .site = r->relay.site_id,
            .rtsp_base_url = r->relay.base_url,
            .state = r->relay.state == REG_RELAY_ACTIVE     ? POLICY_RELAY_ACTIVE
                     : r->relay.state == REG_RELAY_DRAINING ? POLICY_RELAY_DRAINING
                                                            : POLICY_RELAY_DISABLED,
            .cap_viewers = r->relay.capacity_viewers,
        };
        assert_int_equal(relay_view_relay_set(f->view, &c), RD_OK);
    }
    (void)relay_view_sync_end(f->view);
}

static void
reload(struct fx *f)
{
    catalog_free(f->cat);
    f->cat = NULL;
    assert_int_equal(catalog_load(f->reg, &f->cat), RD_OK);
    f->env.cat = f->cat;
    sync_view(f);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    char err[256];
    assert_int_equal(registry_open(":memory:", &f->reg, err, sizeof(err)), RD_OK);
    struct reg_site hq = {.id = "hq", .name = "HQ"}, br = {.id = "branch", .name = "Branch"};
    assert_int_equal(registry_site_add(f->reg, &hq), RD_OK);
    assert_int_equal(registry_site_add(f->reg, &br), RD_OK);
    add_camera(f->reg, "lobby", "hq", 2, true, false);
    add_camera(f->reg, "dock", "hq", 2, false, false);
    add_camera(f->reg, "gate", "hq", 2, true, true);
    add_camera(f->reg, "solo", "hq", 1, true, false);
    add_camera(f->reg, "far", "branch", 2, true, false);
    add_relay(f->reg, "relay-a", "hq", "rtsp://10.0.0.1:8555", 100);
    add_relay(f->reg, "relay-b", "hq", "rtsp://10.0.0.2:8555", 100);
    add_relay(f->reg, "relay-c", "branch", "rtsp://relay-c.example:8555", 100);
    add_user(f->reg, "ann", "secret", "gate");
    add_user(f->reg, "bob", "hunter2", "lobby");
    struct relay_view_params p;
    relay_view_params_default(&p);
    p.max_relays = 16;
    p.max_cameras = 64;
    p.max_pulls = 64;
    assert_int_equal(relay_view_create(&p, &f->view), RD_OK);
    assert_int_equal(router_self_add(&f->self, "10.0.0.9", 8554), RD_OK);
    metrics_init(&f->m);
    memset(f->nonce_key, 0x5a, sizeof(f->nonce_key));
    f->env = (struct router_env){
        .view = f->view,
        .now = 1000.0,
        .wall_ms = T_WALL0,
        .scheme = URL_SCHEME_RTSP,
        .token_ttl_s = 60,
        .retry_after_s = 7,
        .realm = REALM,
        .nonce_key = f->nonce_key,
        .nonce_key_len = sizeof(f->nonce_key),
        .self = &f->self,
        .cands = f->cands,
        .cands_cap = RD_BROKER_MAX_RELAYS,
        .metrics = &f->m,
        .decide = on_decide,
        .decide_ctx = f,
    };
    reload(f);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    catalog_free(f->cat);
    relay_view_destroy(f->view);
    registry_close(f->reg);
    free(f);
    return 0;
}

/* ---- Helpers ------------------------------------------------------------------------------- */

static int
relay_index(const char *id)
{
    return id[strlen(id) - 1] - 'a';
}

/* An accepted heartbeat at the fake now, with optional cameras. */
static void
beat(struct fx *f, const char *relay, uint32_t viewers, const struct relay_view_hb_camera *cams,
     size_t n, bool draining)
{
    struct relay_view_hb hb = {.boot_id = "boot-1",
                               .seq = ++f->seq[relay_index(relay)],
                               .draining = draining,
                               .viewers = viewers,
                               .cameras = cams,
                               .n_cameras = n};
    assert_int_equal(relay_view_heartbeat(f->view, relay, &hb, f->env.now, NULL), RD_OK);
}

/* Beats twice half a second apart and ticks: healthy. */
static void
healthy(struct fx *f, const char *relay, uint32_t viewers)
{
    beat(f, relay, viewers, NULL, 0, false);
    f->env.now += 0.5;
    beat(f, relay, viewers, NULL, 0, false);
    struct relay_view_transition tr[8];
    (void)relay_view_tick(f->view, f->env.now, tr, 8);
    struct relay_view_relay_info info;
    assert_int_equal(relay_view_relay_get(f->view, relay, &info), RD_OK);
    assert_true(info.healthy);
}

/* Sends one request (text without the final empty line) and parses the answer into f->resp. */
static int
ask(struct fx *f, const char *request, const char *ip)
{
    /* A request with a body already holds its empty line. */
    int n = snprintf(f->req, sizeof(f->req), "%s%s", request,
                     strstr(request, "\r\n\r\n") != NULL ? "" : "\r\n");
    assert_true(n > 0 && (size_t)n < sizeof(f->req));
    ssize_t used = rtsp_msg_parse_request(f->req, (size_t)n, &f->msg);
    if (used != n)
        fail_msg("request did not parse (%zd): %s", used, request);
    rtsp_out_init(&f->o, f->out, sizeof(f->out), 0);
    struct router_peer peer = {"192.0.2.7:40000", ip != NULL ? ip : "192.0.2.7", NULL};
    int rc = router_handle(&f->env, &f->msg, &peer, &f->o, &f->res);
    if (rc != RD_OK)
        return rc;
    assert_true(f->o.len > 0);
    ssize_t r = rtsp_msg_parse_response(f->out, f->o.len, &f->resp);
    assert_int_equal(r, (ssize_t)f->o.len); /* exactly one complete response */
    assert_int_equal(f->resp.status, f->res.status);
    return rc;
}

static int
status_of(struct fx *f, const char *request)
{
    assert_int_equal(ask(f, request, NULL), RD_OK);
    return f->res.status;
}

static bool
has_header(struct fx *f, const char *name, const char *value)
{
    struct rd_str v;
    if (!rtsp_msg_header(&f->resp, name, &v))
        return false;
    return value == NULL || rd_str_eq_cstr(v, value);
}

/* The Location of the last answer, NUL-terminated in buf. */
static const char *
location(struct fx *f, char *buf, size_t cap)
{
    struct rd_str v;
    assert_true(rtsp_msg_header(&f->resp, "Location", &v));
    assert_int_equal(rd_str_copy(buf, cap, v), RD_OK);
    return buf;
}

/* Checks that the last answer is a 302 to relay for camera whose token verifies there, and
 * returns the token's flags. */
static unsigned
expect_redirect(struct fx *f, const char *relay, const char *camera, const char *viewer_ip)
{
    assert_int_equal(f->res.status, 302);
    assert_true(f->res.close_after);
    assert_true(has_header(f, "Cache-Control", "no-cache"));
    assert_true(f->resp.has_cseq);
    char loc[2048];
    location(f, loc, sizeof(loc));
    const struct catalog_relay *r = catalog_relay(f->cat, relay);
    assert_non_null(r);
    /* Absolute, on the relay's base URL, never a byte of the request. */
    char prefix[1200];
    size_t blen = strlen(r->relay.base_url);
    snprintf(prefix, sizeof(prefix), "%.*s/v1/%s/",
             (int)(r->relay.base_url[blen - 1] == '/' ? blen - 1 : blen), r->relay.base_url,
             camera);
    if (strncmp(loc, prefix, strlen(prefix)) != 0)
        fail_msg("Location %s does not start with %s", loc, prefix);
    struct url_parts u;
    assert_int_equal(url_split(rd_str_cstr(loc), &u), RD_OK);
    struct rd_str cam, tok, rest;
    assert_int_equal(url_relay_path_parse(u.path, &cam, &tok, &rest), RD_OK);
    assert_true(rd_str_eq_cstr(cam, camera));
    assert_int_equal(rest.len, 0);
    /* The token verifies on that relay for that camera, and nowhere else. */
    struct url_token_keyring ring;
    struct url_token_key key = {.kid_len = strlen(r->keys[0].kid)};
    memcpy(key.kid, r->keys[0].kid, key.kid_len + 1);
    memcpy(key.key, r->keys[0].key, sizeof(key.key));
    assert_int_equal(url_token_keyring_set(&ring, &key, NULL), RD_OK);
    struct rd_str ip = rd_str_cstr(viewer_ip != NULL ? viewer_ip : "192.0.2.7");
    struct url_token_claims cl;
    int64_t now_s = f->env.wall_ms / 1000;
    assert_int_equal(
        url_token_verify(&ring, rd_str_cstr(camera), rd_str_cstr(relay), &ip, now_s, tok, &cl),
        URL_TOKEN_OK);
    assert_int_equal(cl.exp, now_s + (int64_t)f->env.token_ttl_s);
    assert_int_equal(
        url_token_verify(&ring, rd_str_cstr("other"), rd_str_cstr(relay), &ip, now_s, tok, &cl),
        URL_TOKEN_BAD_MAC);
    assert_int_equal(
        url_token_verify(&ring, rd_str_cstr(camera), rd_str_cstr("relay-x"), &ip, now_s, tok, &cl),
        URL_TOKEN_BAD_MAC);
    assert_int_equal(url_token_verify(&ring, rd_str_cstr(camera), rd_str_cstr(relay), &ip,
                                      now_s + 60 + RD_TOKEN_SKEW_S + 1, tok, &cl),
                     URL_TOKEN_EXPIRED);
    assert_int_equal(
        url_token_verify(&ring, rd_str_cstr(camera), rd_str_cstr(relay), &ip, now_s, tok, &cl),
        URL_TOKEN_OK);
    assert_string_equal(f->last.relay_id, relay);
    assert_int_equal(f->last.status, 302);
    return cl.flags;
}

/* ---- Local answers ------------------------------------------------------------------------- */

static void
test_options(void **state)
{
    struct fx *f = *state;
    assert_int_equal(status_of(f, "OPTIONS rtsp://broker/lobby RTSP/1.0\r\nCSeq: 42\r\n"), 200);
    assert_true(has_header(f, "Public", ROUTER_PUBLIC));
    assert_true(f->resp.has_cseq);
    assert_int_equal(f->resp.cseq, 42);
    assert_false(f->res.close_after);
    assert_int_equal(status_of(f, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n"), 200);
    /* The largest CSeq is echoed as the number. */
    assert_int_equal(status_of(f, "OPTIONS * RTSP/1.0\r\nCSeq: 999999999\r\n"), 200);
    assert_int_equal(f->resp.cseq, 999999999u);
    assert_int_equal(f->m.responses[200], 3);
    assert_int_equal(f->m.requests[RTSP_METHOD_OPTIONS], 3);
    assert_int_equal(f->n_decisions, 0); /* only placements are decisions */
}

static void
test_get_parameter_ping(void **state)
{
    struct fx *f = *state;
    assert_int_equal(status_of(f, "GET_PARAMETER rtsp://broker/lobby RTSP/1.0\r\nCSeq: 3\r\n"),
                     200);
    assert_false(f->res.close_after);
    assert_int_equal(status_of(f,
                               "GET_PARAMETER rtsp://broker/ RTSP/1.0\r\nCSeq: 4\r\n"
                               "Content-Type: text/parameters\r\nContent-Length: 5\r\n\r\nx: y\n"),
                     200);
}

static void
test_session_454(void **state)
{
    struct fx *f = *state;
    static const char *const reqs[] = {
        "GET_PARAMETER rtsp://broker/lobby RTSP/1.0\r\nCSeq: 2\r\nSession: 12345678\r\n",
        "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 2\r\nSession: 12345678\r\n",
        "OPTIONS * RTSP/1.0\r\nCSeq: 2\r\nSession: abc\r\n",
        "SETUP rtsp://broker/lobby/trackID=0 RTSP/1.0\r\nCSeq: 2\r\nSession: abc\r\n",
        "PLAY rtsp://broker/lobby RTSP/1.0\r\nCSeq: 2\r\n",
        "PAUSE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 2\r\n",
        "TEARDOWN rtsp://broker/lobby RTSP/1.0\r\nCSeq: 2\r\nSession: abc\r\n",
        "TEARDOWN rtsp://broker/lobby RTSP/1.0\r\nCSeq: 2\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        assert_int_equal(status_of(f, reqs[i]), 454);
        assert_false(f->res.close_after);
        assert_true(f->resp.has_cseq);
    }
    assert_int_equal(f->n_decisions, 0);
}

static void
test_405_and_501(void **state)
{
    struct fx *f = *state;
    static const char *const r405[] = {
        "ANNOUNCE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 5\r\nContent-Length: 3\r\n\r\nv=0",
        "RECORD rtsp://broker/lobby RTSP/1.0\r\nCSeq: 5\r\n",
        "REDIRECT rtsp://broker/lobby RTSP/1.0\r\nCSeq: 5\r\n",
        "SET_PARAMETER rtsp://broker/lobby RTSP/1.0\r\nCSeq: 5\r\n",
        /* 405 wins over 454: the method is refused whatever the session. */
        "RECORD rtsp://broker/lobby RTSP/1.0\r\nCSeq: 5\r\nSession: 1\r\n",
    };
    for (size_t i = 0; i < sizeof(r405) / sizeof(r405[0]); i++) {
        assert_int_equal(status_of(f, r405[i]), 405);
        assert_true(has_header(f, "Allow", ROUTER_ALLOW));
        assert_false(f->res.close_after);
    }
    assert_int_equal(status_of(f, "FLY rtsp://broker/lobby RTSP/1.0\r\nCSeq: 6\r\n"), 501);
    assert_int_equal(status_of(f, "GET_PARAMETERS rtsp://broker/x RTSP/1.0\r\nCSeq: 6\r\n"), 501);
    assert_int_equal(f->resp.cseq, 6);
    assert_false(f->res.close_after);
}

/* ---- Camera lookup ------------------------------------------------------------------------- */

static void
test_404_and_400(void **state)
{
    struct fx *f = *state;
    static const char *const r404[] = {
        "DESCRIBE rtsp://broker/nope RTSP/1.0\r\nCSeq: 1\r\n",
        "DESCRIBE rtsp://broker/dock RTSP/1.0\r\nCSeq: 1\r\n", /* disabled */
        "DESCRIBE rtsp://broker/ RTSP/1.0\r\nCSeq: 1\r\n",
        "DESCRIBE rtsp://broker/a/b/c RTSP/1.0\r\nCSeq: 1\r\n",
        "DESCRIBE rtsp://broker/%6Cobby RTSP/1.0\r\nCSeq: 1\r\n", /* ids are never encoded */
        "DESCRIBE rtsp://broker/LOBBY RTSP/1.0\r\nCSeq: 1\r\n",   /* ids are case-sensitive */
        "SETUP rtsp://broker/nope/trackID=1 RTSP/1.0\r\nCSeq: 1\r\n",
    };
    for (size_t i = 0; i < sizeof(r404) / sizeof(r404[0]); i++) {
        assert_int_equal(status_of(f, r404[i]), 404);
        assert_false(f->res.close_after);
        assert_int_equal(f->last.status, 404);
    }
    assert_string_equal(f->last.reason, "unknown_camera");
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/dock RTSP/1.0\r\nCSeq: 1\r\n"), 404);
    assert_string_equal(f->last.reason, "camera_disabled");
    assert_string_equal(f->last.camera_id, "dock");
    assert_string_equal(f->last.client, "192.0.2.7:40000");
    static const char *const r400[] = {
        "DESCRIBE * RTSP/1.0\r\nCSeq: 1\r\n",
        "DESCRIBE /lobby RTSP/1.0\r\nCSeq: 1\r\n",
        "DESCRIBE http://broker/lobby RTSP/1.0\r\nCSeq: 1\r\n",
        "DESCRIBE rtsp://broker/lobby#x RTSP/1.0\r\nCSeq: 1\r\n",
        "DESCRIBE rtsp://broker/../lobby RTSP/1.0\r\nCSeq: 1\r\n",
        "DESCRIBE rtsp://broker//lobby RTSP/1.0\r\nCSeq: 1\r\n",
        "DESCRIBE rtsp://a@b@broker/lobby RTSP/1.0\r\nCSeq: 1\r\n",
    };
    for (size_t i = 0; i < sizeof(r400) / sizeof(r400[0]); i++) {
        assert_int_equal(status_of(f, r400[i]), 400);
        assert_true(f->res.close_after);
        assert_string_equal(f->last.reason, "bad_uri");
    }
}

static void
test_503_without_relays(void **state)
{
    struct fx *f = *state;
    /* Relays are registered but none has sent a heartbeat. */
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 9\r\n"), 503);
    assert_true(has_header(f, "Retry-After", "7"));
    assert_false(f->res.close_after);
    assert_int_equal(f->resp.cseq, 9);
    assert_string_equal(f->last.reason, "no_healthy_relay_in_site");
    assert_string_equal(f->last.relay_id, "");
    assert_int_equal(f->last.at_ms, T_WALL0);
    assert_int_equal(f->m.responses[503], 1);
    /* A camera of a site without relays at all. */
    assert_int_equal(registry_relay_rm(f->reg, "relay-c"), RD_OK);
    reload(f);
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/far RTSP/1.0\r\nCSeq: 9\r\n"), 503);
    assert_string_equal(f->last.reason, "no_relay_in_site");
}

/* ---- Redirects ----------------------------------------------------------------------------- */

static void
test_302_token_verifies(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 0);
    assert_int_equal(
        status_of(f, "DESCRIBE rtsp://user:pw@broker.example:8554/lobby RTSP/1.0\r\nCSeq: 3\r\n"
                     "Accept: application/sdp\r\n"),
        302);
    assert_int_equal(f->resp.cseq, 3);
    assert_int_equal(expect_redirect(f, "relay-a", "lobby", NULL), 0); /* not IP-bound */
    char loc[2048];
    assert_null(strstr(location(f, loc, sizeof(loc)), "user"));
    assert_null(strstr(loc, "broker.example"));
    assert_int_equal(f->m.responses[302], 1);
    assert_string_equal(f->last.reason, "least_loaded");
    /* The redirect was reserved on the relay until its next heartbeat. */
    struct relay_view_relay_info info;
    assert_int_equal(relay_view_relay_get(f->view, "relay-a", &info), RD_OK);
    assert_int_equal(info.reserved_viewers, 1);
    /* Every DESCRIBE gets a fresh token. */
    char first[2048];
    snprintf(first, sizeof(first), "%s", loc);
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 4\r\n"), 302);
    assert_string_not_equal(location(f, loc, sizeof(loc)), first);
    /* A full relay is passed over. */
    beat(f, "relay-a", 100, NULL, 0, false); /* full */
    healthy(f, "relay-b", 0);
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 5\r\n"), 302);
    expect_redirect(f, "relay-b", "lobby", NULL);
    assert_non_null(strstr(location(f, loc, sizeof(loc)), "rtsp://10.0.0.2:8555/v1/lobby/"));
}

static void
test_302_setup_without_describe(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 0);
    assert_int_equal(status_of(f, "SETUP rtsp://broker/lobby/trackID=0 RTSP/1.0\r\nCSeq: 3\r\n"
                                  "Transport: RTP/AVP;unicast;destination=203.0.113.9;"
                                  "client_port=5000-5001\r\n"),
                     302);
    expect_redirect(f, "relay-a", "lobby", NULL);
    char loc[2048];
    assert_null(strstr(location(f, loc, sizeof(loc)), "trackID"));
    assert_false(has_header(f, "Transport", NULL)); /* the broker never answers a transport */
}

static void
test_token_bind_ip(void **state)
{
    struct fx *f = *state;
    f->env.token_bind_ip = true;
    healthy(f, "relay-a", 0);
    assert_int_equal(ask(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 3\r\n", "198.51.100.4"),
                     RD_OK);
    assert_int_equal(expect_redirect(f, "relay-a", "lobby", "198.51.100.4"),
                     URL_TOKEN_FLAG_IP_BOUND);
    /* The same token from another address fails. */
    char loc[2048];
    struct url_parts u;
    struct rd_str cam, tok, rest;
    assert_int_equal(url_split(rd_str_cstr(location(f, loc, sizeof(loc))), &u), RD_OK);
    assert_int_equal(url_relay_path_parse(u.path, &cam, &tok, &rest), RD_OK);
    const struct catalog_relay *r = catalog_relay(f->cat, "relay-a");
    struct url_token_keyring ring;
    struct url_token_key key = {.kid_len = strlen(r->keys[0].kid)};
    memcpy(key.kid, r->keys[0].kid, key.kid_len + 1);
    memcpy(key.key, r->keys[0].key, sizeof(key.key));
    assert_int_equal(url_token_keyring_set(&ring, &key, NULL), RD_OK);
    struct rd_str other = rd_str_cstr("198.51.100.5");
    struct url_token_claims cl;
    assert_int_equal(url_token_verify(&ring, cam, rd_str_cstr("relay-a"), &other,
                                      f->env.wall_ms / 1000, tok, &cl),
                     URL_TOKEN_BAD_MAC);
}

static void
test_token_signed_with_newest_key(void **state)
{
    struct fx *f = *state;
    struct reg_relay_key k;
    assert_int_equal(registry_relay_rotate_key(f->reg, "relay-a", &k), RD_OK);
    reload(f);
    healthy(f, "relay-a", 0);
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 3\r\n"), 302);
    expect_redirect(f, "relay-a", "lobby", NULL); /* verifies with keys[0] only */
    char loc[2048];
    char needle[64];
    snprintf(needle, sizeof(needle), "/%s.", k.kid);
    assert_non_null(strstr(location(f, loc, sizeof(loc)), needle));
}

/* ---- Key choice during a rotation ---------------------------------------------------------- */

/* Two accepted beats (healthy after the tick) reporting kids, optionally pulling lobby. */
static void
healthy_kids(struct fx *f, const char *relay, bool reported, const char *const *kids, size_t n,
             bool pulls_lobby)
{
    static const struct relay_view_hb_camera lobby = {.id = "lobby",
                                                      .state = RELAY_VIEW_CAM_PLAYING};
    for (int i = 0; i < 2; i++) {
        struct relay_view_hb hb = {.boot_id = "boot-1",
                                   .seq = ++f->seq[relay_index(relay)],
                                   .cameras = pulls_lobby ? &lobby : NULL,
                                   .n_cameras = pulls_lobby ? 1 : 0,
                                   .kids_reported = reported,
                                   .n_kids = n};
        for (size_t k = 0; k < n; k++)
            hb.kids[k] = kids[k];
        assert_int_equal(relay_view_heartbeat(f->view, relay, &hb, f->env.now, NULL), RD_OK);
        f->env.now += 0.5;
    }
    struct relay_view_transition tr[8];
    (void)relay_view_tick(f->view, f->env.now, tr, 8);
}

/* DESCRIBEs lobby (only relay-a can take it: relay-b is disabled), checks the 302 and returns
 * the kid of the Location's token, which must verify with that kid's catalog key. */
static const char *
minted_kid(struct fx *f, char *kid, size_t cap)
{
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 5\r\n"), 302);
    assert_string_equal(f->last.relay_id, "relay-a");
    char loc[2048];
    location(f, loc, sizeof(loc));
    struct url_parts u;
    assert_int_equal(url_split(rd_str_cstr(loc), &u), RD_OK);
    struct rd_str cam, tok, rest;
    assert_int_equal(url_relay_path_parse(u.path, &cam, &tok, &rest), RD_OK);
    const char *dot = memchr(tok.p, '.', tok.len);
    assert_non_null(dot);
    assert_int_equal(rd_str_copy(kid, cap, rd_str_make(tok.p, (size_t)(dot - tok.p))), RD_OK);
    const struct catalog_relay *r = catalog_relay(f->cat, "relay-a");
    const struct reg_relay_key *k = NULL;
    for (uint32_t i = 0; i < r->n_keys; i++) {
        if (strcmp(r->keys[i].kid, kid) == 0)
            k = &r->keys[i];
    }
    if (k == NULL)
        fail_msg("Location %s: kid %s is not a live key", loc, kid);
    /* A relay holding only that key accepts it. */
    struct url_token_key key = {.kid_len = strlen(k->kid)};
    memcpy(key.kid, k->kid, key.kid_len + 1);
    memcpy(key.key, k->key, sizeof(key.key));
    struct url_token_keyring ring;
    assert_int_equal(url_token_keyring_set(&ring, &key, NULL), RD_OK);
    struct rd_str ip = rd_str_cstr("192.0.2.7");
    struct url_token_claims cl;
    assert_int_equal(url_token_verify(&ring, rd_str_cstr("lobby"), rd_str_cstr("relay-a"), &ip,
                                      f->env.wall_ms / 1000, tok, &cl),
                     URL_TOKEN_OK);
    return kid;
}

static void
test_mint_kid_choice(void **state)
{
    struct fx *f = *state;
    assert_int_equal(registry_relay_set_state(f->reg, "relay-b", REG_RELAY_DISABLED), RD_OK);
    const struct catalog_relay *r = catalog_relay(f->cat, "relay-a");
    char k1[RD_TOKEN_KID_MAX + 1], k2[RD_TOKEN_KID_MAX + 1], k3[RD_TOKEN_KID_MAX + 1];
    snprintf(k1, sizeof(k1), "%s", r->keys[0].kid);
    struct reg_relay_key nk;
    assert_int_equal(registry_relay_rotate_key(f->reg, "relay-a", &nk), RD_OK);
    snprintf(k2, sizeof(k2), "%s", nk.kid);
    reload(f);
    char kid[RD_TOKEN_KID_MAX + 1];
    const char *old_only[] = {k1}, *both[] = {k2, k1}, *both_rev[] = {k1, k2}, *new_only[] = {k2},
               *stranger[] = {"zzzz"};

    /* Before the relay has the new key: it reports the old one only -> the old key signs,
     * through the full snapshot and through the affinity (pullers) path alike. */
    healthy_kids(f, "relay-a", true, old_only, 1, false);
    assert_string_equal(minted_kid(f, kid, sizeof(kid)), k1);
    healthy_kids(f, "relay-a", true, old_only, 1, true);
    assert_string_equal(minted_kid(f, kid, sizeof(kid)), k1);
    assert_string_equal(f->last.reason, "affinity");

    /* Installed (SIGHUP): both held -> the newest, whatever order the relay lists them in. */
    healthy_kids(f, "relay-a", true, both, 2, true);
    assert_string_equal(minted_kid(f, kid, sizeof(kid)), k2);
    healthy_kids(f, "relay-a", true, both_rev, 2, false);
    assert_string_equal(minted_kid(f, kid, sizeof(kid)), k2);
    healthy_kids(f, "relay-a", true, new_only, 1, false);
    assert_string_equal(minted_kid(f, kid, sizeof(kid)), k2);

    /* An older relay (no kids) or one holding none of the live keys: the newest, as before. */
    healthy_kids(f, "relay-a", false, NULL, 0, false);
    assert_string_equal(minted_kid(f, kid, sizeof(kid)), k2);
    healthy_kids(f, "relay-a", true, stranger, 1, true);
    assert_string_equal(minted_kid(f, kid, sizeof(kid)), k2);
    healthy_kids(f, "relay-a", true, NULL, 0, false);
    assert_string_equal(minted_kid(f, kid, sizeof(kid)), k2);

    /* A second rotation retires k1: a relay still on k1 only gets the newest (k3); one on
     * k2 (the previous key now) keeps getting k2. */
    assert_int_equal(registry_relay_rotate_key(f->reg, "relay-a", &nk), RD_OK);
    snprintf(k3, sizeof(k3), "%s", nk.kid);
    reload(f);
    healthy_kids(f, "relay-a", true, old_only, 1, false);
    assert_string_equal(minted_kid(f, kid, sizeof(kid)), k3);
    healthy_kids(f, "relay-a", true, both, 2, false);
    assert_string_equal(minted_kid(f, kid, sizeof(kid)), k2);
    const char *latest[] = {k3, k2};
    healthy_kids(f, "relay-a", true, latest, 2, false);
    assert_string_equal(minted_kid(f, kid, sizeof(kid)), k3);
}

/* catalog_relay_signing_key directly: the rule the router and the heartbeat answer share. */
static void
test_signing_key_rule(void **state)
{
    struct fx *f = *state;
    struct reg_relay_key nk;
    assert_int_equal(registry_relay_rotate_key(f->reg, "relay-a", &nk), RD_OK);
    reload(f);
    const struct catalog_relay *r = catalog_relay(f->cat, "relay-a");
    assert_int_equal(r->n_keys, 2);
    const char *newest = r->keys[0].kid, *prev = r->keys[1].kid;
    const char *held_prev[] = {"other", prev}, *held_both[] = {prev, newest}, *held_null[] = {NULL};
    assert_ptr_equal(catalog_relay_signing_key(r, false, NULL, 0), &r->keys[0]);
    assert_ptr_equal(catalog_relay_signing_key(r, false, held_prev, 2), &r->keys[0]);
    assert_ptr_equal(catalog_relay_signing_key(r, true, NULL, 0), &r->keys[0]);
    assert_ptr_equal(catalog_relay_signing_key(r, true, held_null, 1), &r->keys[0]);
    assert_ptr_equal(catalog_relay_signing_key(r, true, held_prev, 2), &r->keys[1]);
    assert_ptr_equal(catalog_relay_signing_key(r, true, held_prev, 1), &r->keys[0]);
    assert_ptr_equal(catalog_relay_signing_key(r, true, held_both, 2), &r->keys[0]);
    struct catalog_relay none = {.n_keys = 0};
    assert_null(catalog_relay_signing_key(&none, true, held_both, 2));
}

/* ---- Policy situations --------------------------------------------------------------------- */

static void
test_policy_affinity(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 0);
    healthy(f, "relay-b", 50);
    /* relay-b already pulls lobby: it wins although relay-a is emptier. */
    struct relay_view_hb_camera cam = {
        .id = "lobby", .state = RELAY_VIEW_CAM_PLAYING, .viewers = 50};
    beat(f, "relay-b", 50, &cam, 1, false);
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 1\r\n"), 302);
    expect_redirect(f, "relay-b", "lobby", NULL);
    assert_string_equal(f->last.reason, "affinity");
    /* Another camera goes to the least loaded one. */
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/solo RTSP/1.0\r\nCSeq: 2\r\n"), 302);
    expect_redirect(f, "relay-a", "solo", NULL);
    assert_string_equal(f->last.reason, "least_loaded");
    /* ... and then sticks there through its reservation, before any heartbeat. */
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/solo RTSP/1.0\r\nCSeq: 3\r\n"), 302);
    expect_redirect(f, "relay-a", "solo", NULL);
    assert_string_equal(f->last.reason, "affinity");
}

static void
test_policy_site(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 0);
    healthy(f, "relay-b", 0);
    healthy(f, "relay-c", 90);
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/far RTSP/1.0\r\nCSeq: 1\r\n"), 302);
    expect_redirect(f, "relay-c", "far", NULL);
    /* A relay serving every site ("") is a candidate for any camera. */
    add_relay(f->reg, "relay-d", "", "rtsp://10.0.0.4:8555", 100);
    reload(f);
    healthy(f, "relay-d", 0);
    /* relay-c holds a reservation for far now (affinity) ... */
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/far RTSP/1.0\r\nCSeq: 2\r\n"), 302);
    expect_redirect(f, "relay-c", "far", NULL);
    assert_string_equal(f->last.reason, "affinity");
    /* ... until it is full. */
    beat(f, "relay-c", 100, NULL, 0, false);
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/far RTSP/1.0\r\nCSeq: 3\r\n"), 302);
    expect_redirect(f, "relay-d", "far", NULL);
}

static void
test_policy_capacity(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 100); /* full */
    healthy(f, "relay-b", 99);  /* one seat left */
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 1\r\n"), 302);
    expect_redirect(f, "relay-b", "lobby", NULL);
    /* The reservation took the last seat. */
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 2\r\n"), 503);
    assert_string_equal(f->last.reason, "all_relays_full");
    assert_true(has_header(f, "Retry-After", "7"));
}

static void
test_policy_draining(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 0);
    healthy(f, "relay-b", 80);
    /* The relay drains itself (SIGTERM): no new viewers there. */
    beat(f, "relay-a", 0, NULL, 0, true);
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 1\r\n"), 302);
    expect_redirect(f, "relay-b", "lobby", NULL);
    /* An operator drains relay-b: nothing is left. */
    assert_int_equal(registry_relay_set_state(f->reg, "relay-b", REG_RELAY_DRAINING), RD_OK);
    reload(f);
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 2\r\n"), 503);
    assert_string_equal(f->last.reason, "no_active_relay_in_site");
}

static void
test_policy_stale(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 0);
    healthy(f, "relay-b", 60);
    /* relay-a goes silent while relay-b beats every second: then only relay-b is fresh. */
    for (int i = 0; i < 10; i++) {
        f->env.now += 1.0;
        beat(f, "relay-b", 60, NULL, 0, false);
    }
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 1\r\n"), 302);
    expect_redirect(f, "relay-b", "lobby", NULL);
    f->env.now += 10.0;
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 2\r\n"), 503);
    assert_string_equal(f->last.reason, "no_healthy_relay_in_site");
}

static void
test_policy_budget(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 0);
    healthy(f, "relay-b", 0);
    /* solo may be pulled by one relay: relay-a pulls it and is full. */
    struct relay_view_hb_camera cam = {
        .id = "solo", .state = RELAY_VIEW_CAM_PLAYING, .viewers = 100};
    beat(f, "relay-a", 100, &cam, 1, false);
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/solo RTSP/1.0\r\nCSeq: 1\r\n"), 503);
    assert_string_equal(f->last.reason, "budget_exhausted");
    assert_string_equal(f->last.camera_id, "solo");
    /* lobby (budget 2) may go to relay-b. */
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 2\r\n"), 302);
    expect_redirect(f, "relay-b", "lobby", NULL);
}

static void
test_policy_disabled_relay(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 0);
    healthy(f, "relay-b", 90);
    assert_int_equal(registry_relay_set_state(f->reg, "relay-a", REG_RELAY_DISABLED), RD_OK);
    reload(f);
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 1\r\n"), 302);
    expect_redirect(f, "relay-b", "lobby", NULL);
}

/* ---- Locations that must not be sent --------------------------------------------------------- */

static void
test_redirect_loop_refused(void **state)
{
    struct fx *f = *state;
    /* A relay whose base URL names this broker (10.0.0.9:8554 in the self table). */
    add_relay(f->reg, "relay-d", "hq", "rtsp://10.0.0.9:8554", 100);
    reload(f);
    healthy(f, "relay-d", 0);
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 1\r\n"), 503);
    assert_string_equal(f->last.reason, "redirect_loop");
    assert_true(has_header(f, "Retry-After", NULL));
    assert_int_equal(f->m.responses[302], 0);
}

static void
test_scheme_mismatch_refused(void **state)
{
    struct fx *f = *state;
    add_relay(f->reg, "relay-d", "hq", "rtsps://10.0.0.4:8323", 100);
    reload(f);
    healthy(f, "relay-d", 0);
    /* Never mix rtsp and rtsps (GStreamer downgrades, CLIENTS.md). */
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 1\r\n"), 503);
    assert_string_equal(f->last.reason, "bad_relay_url");
}

static void
test_self_table(void **state)
{
    (void)state;
    struct router_self s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(router_self_add(&s, "Broker.Example", 554), RD_OK);
    assert_int_equal(router_self_add(&s, "[2001:db8::1]", 8554), RD_OK);
    assert_int_equal(router_self_add(&s, "broker.example", 554), RD_OK); /* duplicate */
    assert_int_equal(s.n, 2);
    assert_int_equal(router_self_add(&s, "x", 0), RD_ELIMIT);
    assert_int_equal(router_self_add(&s, "", 1), RD_ELIMIT);
    assert_true(router_url_is_self(&s, "rtsp://broker.example/x")); /* default port 554 */
    assert_true(router_url_is_self(&s, "rtsp://BROKER.example:554/v1/"));
    assert_false(router_url_is_self(&s, "rtsp://broker.example:8554/x"));
    assert_true(router_url_is_self(&s, "rtsp://[2001:db8::1]:8554/"));
    assert_false(router_url_is_self(&s, "rtsps://broker.example/x")); /* port 322 */
    assert_true(router_url_is_self(&s, "not a url"));                 /* fail closed */
    for (unsigned i = 0; s.n < ROUTER_SELF_MAX; i++)
        assert_int_equal(router_self_add(&s, "h", 1000 + i), RD_OK);
    assert_int_equal(router_self_add(&s, "h", 999), RD_ELIMIT);
}

/* ---- Viewer Digest ------------------------------------------------------------------------- */

/* Answers the last 401 as a player would (client side of digest.h). */
static void
answer(struct fx *f, const char *method, const char *uri, const char *user, const char *password,
       bool want_md5, char *auth, size_t cap)
{
    struct rd_str values[4];
    size_t n = 0;
    while (n < 4 && rtsp_msg_header_nth(&f->resp, "WWW-Authenticate", n, &values[n]))
        n++;
    assert_int_equal(n, 2);
    struct digest_challenge ch;
    /* The player picks SHA-256 when it can; an MD5-only player uses the second challenge. */
    assert_int_equal(
        digest_challenge_pick(want_md5 ? &values[1] : values, want_md5 ? 1 : 2, false, &ch), RD_OK);
    assert_int_equal(ch.alg, want_md5 ? RD_HASH_MD5 : RD_HASH_SHA256);
    struct digest_client_request req = {rd_str_cstr(method), rd_str_cstr(uri), rd_str_cstr(user),
                                        rd_str_cstr(password)};
    assert_true(digest_authorization_build(&ch, &req, auth, cap) > 0);
}

static void
test_digest_flow(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 0);
    const char *uri = "rtsp://broker:8554/gate";
    char req[2048], auth[DIGEST_AUTHORIZATION_MAX];
    snprintf(req, sizeof(req), "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\n", uri);
    assert_int_equal(status_of(f, req), 401);
    assert_false(f->res.close_after);
    assert_int_equal(f->resp.cseq, 1);
    assert_string_equal(f->last.reason, "auth_required");
    /* Two challenges with one nonce, SHA-256 first, qop auth, never Basic. */
    struct rd_str w0, w1, w2;
    assert_true(rtsp_msg_header_nth(&f->resp, "WWW-Authenticate", 0, &w0));
    assert_true(rtsp_msg_header_nth(&f->resp, "WWW-Authenticate", 1, &w1));
    assert_false(rtsp_msg_header_nth(&f->resp, "WWW-Authenticate", 2, &w2));
    assert_true(rd_str_starts_with_ci(w0, "Digest "));
    assert_non_null(memmem(w0.p, w0.len, "algorithm=SHA-256", 17));
    assert_non_null(memmem(w1.p, w1.len, "algorithm=MD5", 13));
    assert_non_null(memmem(w0.p, w0.len, "realm=\"" REALM "\"", strlen(REALM) + 8));
    assert_non_null(memmem(w0.p, w0.len, "qop=\"auth\"", 10));
    assert_null(memmem(w0.p, w0.len, "stale", 5));

    for (int md5 = 0; md5 < 2; md5++) {
        assert_int_equal(status_of(f, req), 401);
        answer(f, "DESCRIBE", uri, "ann", "secret", md5 == 1, auth, sizeof(auth));
        char again[4096];
        assert_true(snprintf(again, sizeof(again),
                             "DESCRIBE %s RTSP/1.0\r\nCSeq: 2\r\nAuthorization: %s\r\n", uri, auth)
                    < (int)sizeof(again));
        assert_int_equal(status_of(f, again), 302);
        expect_redirect(f, "relay-a", "gate", NULL);
    }
    /* SETUP is authenticated the same way (its own method in the digest). */
    char setup_uri[] = "rtsp://broker:8554/gate/trackID=0";
    snprintf(req, sizeof(req), "SETUP %s RTSP/1.0\r\nCSeq: 3\r\n", setup_uri);
    assert_int_equal(status_of(f, req), 401);
    answer(f, "SETUP", setup_uri, "ann", "secret", false, auth, sizeof(auth));
    char again[4096];
    assert_true(snprintf(again, sizeof(again),
                         "SETUP %s RTSP/1.0\r\nCSeq: 4\r\nAuthorization: %s\r\n", setup_uri, auth)
                < (int)sizeof(again));
    assert_int_equal(status_of(f, again), 302);
}

static void
test_digest_failures(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 0);
    const char *uri = "rtsp://broker/gate";
    char req[256], auth[DIGEST_AUTHORIZATION_MAX], again[4096];
    snprintf(req, sizeof(req), "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\n", uri);

    /* Wrong password, and an unknown user: the same 401. */
    static const char *const creds[][2] = {{"ann", "wrong"}, {"nobody", "secret"}};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(status_of(f, req), 401);
        answer(f, "DESCRIBE", uri, creds[i][0], creds[i][1], false, auth, sizeof(auth));
        assert_true(snprintf(again, sizeof(again),
                             "DESCRIBE %s RTSP/1.0\r\nCSeq: 2\r\nAuthorization: %s\r\n", uri, auth)
                    < (int)sizeof(again));
        assert_int_equal(status_of(f, again), 401);
        assert_string_equal(f->last.reason, "auth_failed");
        assert_false(f->res.close_after);
    }
    /* A right password without a grant for this camera: 403. */
    assert_int_equal(status_of(f, req), 401);
    answer(f, "DESCRIBE", uri, "bob", "hunter2", false, auth, sizeof(auth));
    assert_true(snprintf(again, sizeof(again),
                         "DESCRIBE %s RTSP/1.0\r\nCSeq: 2\r\nAuthorization: %s\r\n", uri, auth)
                < (int)sizeof(again));
    assert_int_equal(status_of(f, again), 403);
    assert_string_equal(f->last.reason, "not_granted");
    assert_false(f->res.close_after);

    /* An expired nonce with the right password: 401 stale=true with a fresh nonce. */
    assert_int_equal(status_of(f, req), 401);
    answer(f, "DESCRIBE", uri, "ann", "secret", false, auth, sizeof(auth));
    assert_true(snprintf(again, sizeof(again),
                         "DESCRIBE %s RTSP/1.0\r\nCSeq: 2\r\nAuthorization: %s\r\n", uri, auth)
                < (int)sizeof(again));
    f->env.wall_ms += (RD_AUTH_NONCE_TTL_S + 5) * 1000LL;
    assert_int_equal(status_of(f, again), 401);
    assert_string_equal(f->last.reason, "auth_stale");
    struct rd_str w;
    assert_true(rtsp_msg_header_nth(&f->resp, "WWW-Authenticate", 0, &w));
    assert_non_null(memmem(w.p, w.len, "stale=true", 10));
    /* ... which then works. */
    answer(f, "DESCRIBE", uri, "ann", "secret", false, auth, sizeof(auth));
    assert_true(snprintf(again, sizeof(again),
                         "DESCRIBE %s RTSP/1.0\r\nCSeq: 3\r\nAuthorization: %s\r\n", uri, auth)
                < (int)sizeof(again));
    assert_int_equal(status_of(f, again), 302);

    /* Basic is never accepted: a Digest challenge instead. */
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/gate RTSP/1.0\r\nCSeq: 1\r\n"
                                  "Authorization: Basic YW5uOnNlY3JldA==\r\n"),
                     401);
    assert_string_equal(f->last.reason, "auth_scheme");
    /* Malformed or doubled credentials: 400 and close. */
    static const char *const bad[] = {
        "DESCRIBE rtsp://broker/gate RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Digest username=\r\n",
        "DESCRIBE rtsp://broker/gate RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Digest a=1\r\n"
        "Authorization: Digest a=1\r\n",
    };
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(status_of(f, bad[i]), 400);
        assert_true(f->res.close_after);
        assert_string_equal(f->last.reason, "bad_authorization");
    }
    /* The digest-uri must be the request's URI. */
    assert_int_equal(status_of(f, req), 401);
    answer(f, "DESCRIBE", "rtsp://broker/lobby", "ann", "secret", false, auth, sizeof(auth));
    assert_true(snprintf(again, sizeof(again),
                         "DESCRIBE %s RTSP/1.0\r\nCSeq: 2\r\nAuthorization: %s\r\n", uri, auth)
                < (int)sizeof(again));
    assert_int_equal(status_of(f, again), 400);
    /* Cameras without auth_required ignore credentials entirely. */
    assert_int_equal(status_of(f, "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 1\r\n"
                                  "Authorization: Basic YW5uOnNlY3JldA==\r\n"),
                     302);
}

/* ---- Output room --------------------------------------------------------------------------- */

static void
test_no_room(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 0);
    const char *req = "DESCRIBE rtsp://broker/lobby RTSP/1.0\r\nCSeq: 1\r\n\r\n";
    assert_int_equal(rtsp_msg_parse_request(req, strlen(req), &f->msg), (ssize_t)strlen(req));
    char small[64];
    memset(small, 'x', sizeof(small));
    struct rtsp_out o;
    rtsp_out_init(&o, small, sizeof(small), 10); /* 10 bytes already queued */
    struct router_peer peer = {"192.0.2.7:1", "192.0.2.7", NULL};
    struct router_result res;
    assert_int_equal(router_handle(&f->env, &f->msg, &peer, &o, &res), RD_ELIMIT);
    assert_int_equal(o.len, 10); /* nothing appended */
    assert_int_equal(f->m.responses[302], 0);
    /* router_reject: the framing-error answer. */
    rtsp_out_init(&o, f->out, sizeof(f->out), 0);
    assert_int_equal(router_reject(&f->m, 413, 7, true, &o), RD_OK);
    assert_int_equal(rtsp_msg_parse_response(f->out, o.len, &f->resp), (ssize_t)o.len);
    assert_int_equal(f->resp.status, 413);
    assert_int_equal(f->resp.cseq, 7);
    assert_int_equal(f->m.parse_errors[413], 1);
    rtsp_out_init(&o, f->out, sizeof(f->out), 0);
    assert_int_equal(router_reject(NULL, 408, RTSP_CSEQ_NONE, false, &o), RD_OK);
    static const char want[] = "RTSP/1.0 408 Request Time-out\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(o.len, strlen(want));
    assert_memory_equal(f->out, want, o.len); /* no CSeq to echo */
}

/* A burst between two heartbeats spreads by the reservations. */
static void
test_burst_spreads(void **state)
{
    struct fx *f = *state;
    healthy(f, "relay-a", 0);
    healthy(f, "relay-b", 0);
    unsigned to_a = 0, to_b = 0;
    for (int i = 0; i < 100; i++) {
        char req[128];
        /* Different cameras: no affinity between them. */
        snprintf(req, sizeof(req), "DESCRIBE rtsp://broker/%s RTSP/1.0\r\nCSeq: %d\r\n",
                 i % 2 ? "lobby" : "solo", i + 1);
        assert_int_equal(status_of(f, req), 302);
        if (strcmp(f->last.relay_id, "relay-a") == 0)
            to_a++;
        else
            to_b++;
    }
    /* Affinity keeps each camera on one relay, reservations keep both within capacity. */
    assert_int_equal(to_a + to_b, 100);
    struct relay_view_relay_info a, b;
    assert_int_equal(relay_view_relay_get(f->view, "relay-a", &a), RD_OK);
    assert_int_equal(relay_view_relay_get(f->view, "relay-b", &b), RD_OK);
    assert_int_equal(a.reserved_viewers + b.reserved_viewers, 100);
    assert_int_equal(f->m.responses[302], 100);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
static const struct CMUnitTest tests[] = {
    T(test_options),
    T(test_get_parameter_ping),
    T(test_session_454),
    T(test_405_and_501),
    T(test_404_and_400),
    T(test_503_without_relays),
    T(test_302_token_verifies),
    T(test_302_setup_without_describe),
    T(test_token_bind_ip),
    T(test_token_signed_with_newest_key),
    T(test_mint_kid_choice),
    T(test_signing_key_rule),
    T(test_policy_affinity),
    T(test_policy_site),
    T(test_policy_capacity),
    T(test_policy_draining),
    T(test_policy_stale),
    T(test_policy_budget),
    T(test_policy_disabled_relay),
    T(test_redirect_loop_refused),
    T(test_scheme_mismatch_refused),
    cmocka_unit_test(test_self_table),
    T(test_digest_flow),
    T(test_digest_failures),
    T(test_no_room),
    T(test_burst_spreads),
};

RD_TEST_MAIN(tests)
