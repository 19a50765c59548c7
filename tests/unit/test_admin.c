/* SPDX-License-Identifier: MIT */
/* admin.c in process: a struct broker built by hand (ev loop, in-memory registry seeded through
 * registry.h, catalog, relay view, metrics), admin_start on 127.0.0.1:0, and a non-blocking
 * HTTP client in the same loop (each request bounded by a 5 s ev_timer). Covers the relay
 * channel (signatures, clock window, replay, tampering, caps, rate limit, camera sources), the
 * bearer-protected JSON API, /metrics, /healthz, the page and the disk-full path. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "broker.h"
#include "broker_conf.h"
#include "catalog.h"
#include "evx.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "rd_err.h"
#include "registry.h"
#include "relay_channel.h"
#include "relay_view.h"

#define TOKEN        "0123456789abcdef0123456789abcdef-admin"
#define CAM_PASSWORD "cam-pa55word-XYZ"
#define CAM_URL      "rtsp://10.0.0.7:554/Streaming/Channels/101"

/* ---- Test-local stand-ins for broker.c (the core helper owns the real ones). Weak: if the
 * real broker.o is ever linked into this test, its definitions win. ------------------------- */

/* ---- Fixture --------------------------------------------------------------------------------- */

struct fx {
    struct broker b;
    struct reg_relay_key key_a, key_b; /* relay-a (site hq), relay-b (any site) */
};

static void
seed(struct registry *reg, struct fx *f)
{
    struct reg_site site = {.id = "hq", .name = "Head office"};
    assert_int_equal(registry_site_add(reg, &site), RD_OK);
    struct reg_relay ra = {.id = "relay-a",
                           .name = "Relay A",
                           .site_id = "hq",
                           .base_url = "rtsp://127.0.0.1:8555",
                           .capacity_viewers = 100,
                           .capacity_mbps = 1000};
    assert_int_equal(registry_relay_add(reg, &ra, &f->key_a), RD_OK);
    struct reg_relay rb = ra;
    memcpy(rb.id, "relay-b", sizeof("relay-b"));
    memcpy(rb.name, "Relay B", sizeof("Relay B"));
    rb.site_id[0] = '\0';
    assert_int_equal(registry_relay_add(reg, &rb, &f->key_b), RD_OK);
    struct reg_camera lobby = {.id = "lobby",
                               .name = "Lobby",
                               .site_id = "hq",
                               .upstream_url = CAM_URL,
                               .upstream_user = "viewer",
                               .upstream_password = CAM_PASSWORD,
                               .transport = REG_TRANSPORT_TCP,
                               .max_relays = 2,
                               .enabled = true};
    assert_int_equal(registry_camera_add(reg, &lobby), RD_OK);
    struct reg_camera dock = {.id = "dock",
                              .name = "Dock",
                              .upstream_url = "rtsp://10.0.0.8/live",
                              .max_relays = 1,
                              .enabled = true};
    assert_int_equal(registry_camera_add(reg, &dock), RD_OK);
    struct reg_user u = {.name = "ann", .realm = "rtsp-director"};
    assert_int_equal(registry_user_ha1(&u, "ann-password"), RD_OK);
    assert_int_equal(registry_user_add(reg, &u), RD_OK);
    assert_int_equal(registry_user_grant(reg, "ann", "lobby"), RD_OK);
}

static int
fx_setup(void **state, const char *token)
{
    log_max_level = RD_LOG_ERR; /* keep test output readable */
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    struct broker *b = &f->b;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(loop);
    struct broker_conf conf;
    struct rd_errbuf ce = {""};
    assert_int_equal(broker_conf_defaults(&conf, &ce), RD_OK);
    memcpy(conf.database, ":memory:", sizeof(":memory:"));
    memcpy(conf.admin_listen.host, "127.0.0.1", sizeof("127.0.0.1"));
    conf.admin_listen.port = 0;
    memcpy(conf.realm, "rtsp-director", sizeof("rtsp-director"));
    conf.heartbeat_interval_ms = 1000;
    conf.unhealthy_after = 3;
    conf.healthy_after = 2;
    conf.retry_after_s = 2;
    /* The real broker context (broker.c), on an in-memory registry, without the listener. */
    if (broker_init(b, loop, &conf, &ce) != RD_OK || broker_open(b, &ce) != RD_OK)
        fail_msg("broker: %s", ce.msg);
    memcpy(b->admin_token, token, strlen(token) + 1);
    seed(b->reg, f);
    assert_int_equal(broker_reload(b), RD_OK);
    struct rd_errbuf eb = {""};
    if (admin_start(b, &eb) != RD_OK)
        fail_msg("admin_start: %s", eb.msg);
    assert_true(admin_port(b) > 0);
    *state = f;
    return 0;
}

static int
setup_token(void **state)
{
    return fx_setup(state, TOKEN);
}

static int
setup_open(void **state)
{
    return fx_setup(state, "");
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    struct broker *b = &f->b;
    admin_stop(b);
    assert_null(b->admin);
    admin_stop(b); /* safe twice */
    struct ev_loop *loop = b->loop;
    broker_close(b);
    ev_loop_destroy(loop);
    free(f);
    return 0;
}

/* ---- A non-blocking HTTP client inside the loop ------------------------------------------- */

#define RESP_CAP (1024 * 1024)

struct client {
    ev_io io;
    ev_timer guard;
    int fd;
    const char *req;
    size_t req_len, sent;
    char *resp;
    size_t len;
    bool timed_out;
};

struct resp {
    int status;
    const char *head; /* status line and headers, NUL-terminated */
    const char *body; /* NUL-terminated */
    size_t body_len;
};

static void
client_finish(struct ev_loop *loop, struct client *c)
{
    ev_io_stop(loop, &c->io);
    ev_timer_stop(loop, &c->guard);
    ev_break(loop, EVBREAK_ONE);
}

static void
client_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct client *c = RD_CONTAINER_OF(w, struct client, io);
    if ((revents & EV_WRITE) && c->sent < c->req_len) {
        ssize_t n = send(c->fd, c->req + c->sent, c->req_len - c->sent, MSG_NOSIGNAL);
        if (n > 0)
            c->sent += (size_t)n;
        else if (errno != EAGAIN && errno != EINTR)
            c->sent = c->req_len; /* the server closed: read what it said */
        if (c->sent == c->req_len)
            evx_io_set_events(loop, w, EV_READ);
    }
    if (revents & EV_READ) {
        ssize_t n = recv(c->fd, c->resp + c->len, RESP_CAP - 1 - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            c->resp[c->len] = '\0';
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            client_finish(loop, c);
        }
    }
}

static void
client_guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct client *c = RD_CONTAINER_OF(w, struct client, guard);
    c->timed_out = true;
    client_finish(loop, c);
}

static char resp_buf[RESP_CAP];
static char head_buf[16384];

/* Sends raw request bytes and parses the response (the server closes: "Connection: close"). */
static struct resp
raw_request(struct fx *f, const char *req, size_t req_len)
{
    static struct client c;
    memset(&c, 0, sizeof(c));
    c.resp = resp_buf;
    c.resp[0] = '\0';
    struct rd_errbuf err;
    c.fd = net_tcp_connect("127.0.0.1", (uint16_t)admin_port(&f->b), &err);
    assert_true(c.fd >= 0);
    c.req = req;
    c.req_len = req_len;
    ev_io_init(&c.io, client_io_cb, c.fd, EV_READ | EV_WRITE);
    ev_timer_init(&c.guard, client_guard_cb, 5., 0.);
    ev_io_start(f->b.loop, &c.io);
    ev_timer_start(f->b.loop, &c.guard);
    ev_run(f->b.loop, 0);
    close(c.fd);
    assert_false(c.timed_out);
    struct resp r = {0};
    char *sep = strstr(resp_buf, "\r\n\r\n");
    if (sep == NULL)
        fail_msg("no complete response: '%s'", resp_buf);
    size_t hl = (size_t)(sep - resp_buf);
    assert_true(hl < sizeof(head_buf));
    memcpy(head_buf, resp_buf, hl);
    head_buf[hl] = '\0';
    r.head = head_buf;
    r.body = sep + 4;
    r.body_len = c.len - hl - 4;
    assert_true(strncmp(resp_buf, "HTTP/1.1 ", 9) == 0);
    r.status = (int)strtol(resp_buf + 9, NULL, 10);
    return r;
}

static char req_buf[RD_HTTP_MAX_ADMIN_BODY * 2 + 4096];

/* One request: extra is "" or header lines each ending in \r\n; body NULL = none. */
static struct resp
request(struct fx *f, const char *method, const char *path, const char *extra, const char *body,
        size_t body_len)
{
    char cl[64] = "";
    if (body != NULL)
        snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", body_len);
    int n = snprintf(req_buf, sizeof(req_buf),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s\r\n", method,
                     path, cl, extra);
    assert_true(n > 0 && (size_t)n + body_len < sizeof(req_buf));
    if (body_len > 0)
        memcpy(req_buf + n, body, body_len);
    return raw_request(f, req_buf, (size_t)n + body_len);
}

/* An admin API request with the bearer token; body is a NUL-terminated JSON text or NULL. */
static struct resp
api(struct fx *f, const char *method, const char *path, const char *body)
{
    return request(f, method, path, "Authorization: Bearer " TOKEN "\r\n", body,
                   body != NULL ? strlen(body) : 0);
}

static bool
has(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static bool
has_header(const struct resp *r, const char *line)
{
    return has(r->head, line);
}

/* A signed relay-channel request. ts_delta shifts X-RD-Timestamp from now. */
struct sreq {
    const char *relay;               /* X-RD-Relay */
    const char *kid;                 /* X-RD-Kid */
    const struct reg_relay_key *key; /* signing key */
    long ts_delta;
    const char *sign_path;    /* path signed, if different from the one requested */
    const char *sign_relay;   /* relay id signed, if different */
    const char *sig_override; /* sent instead of the computed signature */
};

static struct resp
relay_request(struct fx *f, const char *method, const char *path, const struct sreq *s,
              const char *body, size_t body_len)
{
    char ts[32];
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL) + s->ts_delta);
    struct relay_channel_req rq = {.method = method,
                                   .path = s->sign_path != NULL ? s->sign_path : path,
                                   .relay_id = s->sign_relay != NULL ? s->sign_relay : s->relay,
                                   .kid = s->kid,
                                   .timestamp = ts,
                                   .body = body != NULL ? body : "",
                                   .body_len = body_len};
    char sig[RELAY_CHANNEL_SIG_LEN + 1];
    assert_int_equal(relay_channel_sign(s->key->key, sizeof(s->key->key), &rq, sig, sizeof(sig)),
                     RD_OK);
    assert_int_equal(strlen(sig), RELAY_CHANNEL_SIG_LEN);
    char extra[512];
    snprintf(extra, sizeof(extra),
             "X-RD-Relay: %s\r\nX-RD-Kid: %s\r\nX-RD-Timestamp: %s\r\nX-RD-Signature: %s\r\n",
             s->relay, s->kid, ts, s->sig_override != NULL ? s->sig_override : sig);
    return request(f, method, path, extra, body, body_len);
}

static char hb_body[RD_HTTP_MAX_HEARTBEAT_BODY + 1024];

/* A heartbeat body of relay with one camera "lobby" pulled (unless cams is given). */
static const char *
hb_json(const char *relay, const char *boot, unsigned long long seq, unsigned viewers,
        const char *cams)
{
    int n = snprintf(hb_body, sizeof(hb_body),
                     "{\"relay_id\":\"%s\",\"boot_id\":\"%s\",\"seq\":%llu,\"state\":\"active\","
                     "\"capacity\":{\"viewers\":1000,\"egress_kbps\":1000000},\"viewers\":%u,"
                     "\"egress_kbps\":%u,\"cpu_pct\":12.5,\"cameras\":%s}",
                     relay, boot, seq, viewers, viewers * 4000,
                     cams != NULL ? cams
                                  : "[{\"id\":\"lobby\",\"state\":\"playing\",\"viewers\":3,"
                                    "\"ingress_kbps\":4000,\"drops\":0}]");
    assert_true(n > 0 && (size_t)n < sizeof(hb_body));
    return hb_body;
}

static struct resp
beat_as(struct fx *f, const char *relay, const struct reg_relay_key *key, const char *body)
{
    struct sreq s = {.relay = relay, .kid = key->kid, .key = key};
    return relay_request(f, "POST", "/api/v1/heartbeat", &s, body, strlen(body));
}

static struct resp
beat(struct fx *f, const char *boot, unsigned long long seq, unsigned viewers)
{
    return beat_as(f, "relay-a", &f->key_a, hb_json("relay-a", boot, seq, viewers, NULL));
}

static uint64_t
reg_version(struct fx *f)
{
    uint64_t v;
    assert_int_equal(registry_version(f->b.reg, &v), RD_OK);
    return v;
}

/* ---- Relay channel: heartbeats ----------------------------------------------------------------
 */

static void
test_hb_good(void **state)
{
    struct fx *f = *state;
    struct resp r = beat(f, "boot-1", 1, 7);
    assert_int_equal(r.status, 200);
    assert_true(has_header(&r, "Content-Type: application/json"));
    assert_true(has(r.body, "\"applied\":true"));
    assert_true(has(r.body, "\"state\":\"active\""));
    assert_true(has(r.body, "\"heartbeat_interval_ms\":1000"));
    char want[96];
    snprintf(want, sizeof(want), "\"signing_kid\":\"%s\"", f->key_a.kid);
    assert_true(has(r.body, want));
    snprintf(want, sizeof(want), "\"registry_version\":%llu",
             (unsigned long long)catalog_version(f->b.cat));
    assert_true(has(r.body, want));
    struct relay_view_relay_info ri;
    assert_int_equal(relay_view_relay_get(f->b.view, "relay-a", &ri), RD_OK);
    assert_int_equal(ri.viewers, 7);
    assert_int_equal(ri.egress_kbps, 28000);
    assert_int_equal(ri.cpu_pct, 13); /* 12.5 rounded */
    assert_int_equal(ri.seq, 1);
    assert_int_equal(ri.n_pulls, 1);
    assert_int_equal(f->b.metrics.hb[METRICS_HB_ACCEPTED], 1);

    /* The bearer token plays no part on the relay channel; relay-b (any site) too. */
    r = beat_as(f, "relay-b", &f->key_b, hb_json("relay-b", "b1", 1, 0, "[]"));
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"applied\":true"));
    assert_int_equal(f->b.metrics.hb[METRICS_HB_ACCEPTED], 2);

    /* Optional fields may be left out, unknown fields are ignored. */
    const char *minimal = "{\"relay_id\":\"relay-b\",\"boot_id\":\"b1\",\"seq\":2,\"state\":"
                          "\"draining\",\"viewers\":0,\"egress_kbps\":0,\"cameras\":[],"
                          "\"site\":\"hq\",\"url\":\"rtsp://x\",\"future\":{\"a\":[1,2]}}";
    r = beat_as(f, "relay-b", &f->key_b, minimal);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"applied\":true"));
    assert_int_equal(relay_view_relay_get(f->b.view, "relay-b", &ri), RD_OK);
    assert_int_equal(ri.state, POLICY_RELAY_DRAINING); /* the relay said so */
}

static void
test_hb_timestamp_window(void **state)
{
    struct fx *f = *state;
    const char *body = hb_json("relay-a", "boot-1", 1, 1, NULL);
    size_t len = strlen(body);
    struct {
        long delta;
        int status;
    } cases[] = {
        {-(RD_HEARTBEAT_SKEW_S + 1), 401},
        {RD_HEARTBEAT_SKEW_S + 1, 401},
        {-3600, 401},
        {86400, 401},
        {-(RD_HEARTBEAT_SKEW_S - 2), 200},
    };
    uint64_t bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sreq s = {
            .relay = "relay-a", .kid = f->key_a.kid, .key = &f->key_a, .ts_delta = cases[i].delta};
        struct resp r = relay_request(f, "POST", "/api/v1/heartbeat", &s, body, len);
        assert_int_equal(r.status, cases[i].status);
        if (r.status == 401) {
            bad++;
            assert_true(has_header(&r, "WWW-Authenticate: RD-HMAC"));
        }
    }
    assert_int_equal(f->b.metrics.hb[METRICS_HB_BAD_TIMESTAMP], bad);
    assert_int_equal(f->b.metrics.hb[METRICS_HB_ACCEPTED], 1);
}

static void
test_hb_replay_reorder(void **state)
{
    struct fx *f = *state;
    struct {
        const char *boot;
        unsigned long long seq;
        bool applied;
        const char *outcome;
    } steps[] = {
        {"boot-1", 5, true, "new_boot"},   {"boot-1", 5, false, "duplicate"},
        {"boot-1", 4, false, "reordered"}, {"boot-1", 6, true, "accepted"},
        {"boot-2", 1, true, "new_boot"},   {"boot-1", 7, false, "old_boot"},
        {"boot-2", 1, false, "duplicate"}, {"boot-2", 2, true, "accepted"},
    };
    uint64_t applied = 0, stale = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct resp r = beat(f, steps[i].boot, steps[i].seq, (unsigned)i);
        assert_int_equal(r.status, 200);
        char want[64];
        snprintf(want, sizeof(want), "\"applied\":%s", steps[i].applied ? "true" : "false");
        if (!has(r.body, want))
            fail_msg("step %zu: %s", i, r.body);
        snprintf(want, sizeof(want), "\"outcome\":\"%s\"", steps[i].outcome);
        if (!has(r.body, want))
            fail_msg("step %zu: %s", i, r.body);
        if (steps[i].applied)
            applied++;
        else
            stale++;
        /* Rate limit: 2/s with a burst of 5; stay inside it. */
        if (i == 3) {
            ev_sleep(1.6);
            ev_now_update(f->b.loop);
        }
    }
    assert_int_equal(f->b.metrics.hb[METRICS_HB_ACCEPTED], applied);
    assert_int_equal(f->b.metrics.hb[METRICS_HB_STALE], stale);
    struct relay_view_relay_info ri;
    assert_int_equal(relay_view_relay_get(f->b.view, "relay-a", &ri), RD_OK);
    assert_string_equal(ri.boot_id, "boot-2");
    assert_int_equal(ri.seq, 2);
    assert_int_equal(ri.viewers, 7); /* the last applied beat's */
}

static void
test_hb_tampered(void **state)
{
    struct fx *f = *state;
    char body[160];
    snprintf(body, sizeof(body),
             "{\"relay_id\":\"relay-a\",\"boot_id\":\"b\",\"seq\":1,\"state\":\"active\","
             "\"viewers\":1,\"egress_kbps\":2,\"cameras\":[]}");
    size_t len = strlen(body);
    char ts[32];
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    struct relay_channel_req rq = {.method = "POST",
                                   .path = "/api/v1/heartbeat",
                                   .relay_id = "relay-a",
                                   .kid = f->key_a.kid,
                                   .timestamp = ts,
                                   .body = body,
                                   .body_len = len};
    char sig[RELAY_CHANNEL_SIG_LEN + 1];
    assert_int_equal(relay_channel_sign(f->key_a.key, sizeof(f->key_a.key), &rq, sig, sizeof(sig)),
                     RD_OK);
    char extra[512];
    snprintf(extra, sizeof(extra),
             "X-RD-Relay: relay-a\r\nX-RD-Kid: %s\r\nX-RD-Timestamp: %s\r\nX-RD-Signature: %s\r\n",
             f->key_a.kid, ts, sig);
    uint64_t v0 = reg_version(f);
    struct relay_view_stats s0, s1;
    relay_view_get_stats(f->b.view, &s0);

    /* Every byte of the body flipped in turn (one bit and all bits): 401, nothing applied. */
    size_t refused = 0;
    for (size_t i = 0; i < len; i++) {
        const unsigned char masks[] = {0x01, 0xff};
        for (size_t k = 0; k < 2; k++) {
            char copy[160];
            memcpy(copy, body, len);
            copy[i] = (char)(copy[i] ^ masks[k]);
            struct resp r = request(f, "POST", "/api/v1/heartbeat", extra, copy, len);
            if (r.status != 401)
                fail_msg("byte %zu mask %02x: status %d", i, masks[k], r.status);
            refused++;
        }
    }
    /* A body cut short or grown by one byte. */
    struct resp r = request(f, "POST", "/api/v1/heartbeat", extra, body, len - 1);
    assert_int_equal(r.status, 401);
    char longer[170];
    snprintf(longer, sizeof(longer), "%s ", body);
    r = request(f, "POST", "/api/v1/heartbeat", extra, longer, len + 1);
    assert_int_equal(r.status, 401);
    refused += 2;
    assert_int_equal(f->b.metrics.hb[METRICS_HB_BAD_SIGNATURE], refused);
    relay_view_get_stats(f->b.view, &s1);
    assert_int_equal(s1.hb_accepted, s0.hb_accepted);
    assert_int_equal(s1.hb_rejected, s0.hb_rejected);
    assert_int_equal(reg_version(f), v0);

    /* Signature, path, relay and method tampering. */
    struct sreq variants[] = {
        {.relay = "relay-a", .kid = f->key_a.kid, .key = &f->key_a, .sign_path = "/api/v1/hb"},
        {.relay = "relay-a", .kid = f->key_a.kid, .key = &f->key_a, .sign_relay = "relay-b"},
        {.relay = "relay-a", .kid = f->key_a.kid, .key = &f->key_b}, /* wrong key */
        {.relay = "relay-a",
         .kid = f->key_a.kid,
         .key = &f->key_a,
         .sig_override = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
        {.relay = "relay-a", .kid = f->key_a.kid, .key = &f->key_a, .sig_override = "short"},
        {.relay = "relay-a",
         .kid = f->key_a.kid,
         .key = &f->key_a,
         .sig_override = "not base64url !!!!!!!!!!!!!!!!!!!!!!!!!!!!!"},
    };
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        r = relay_request(f, "POST", "/api/v1/heartbeat", &variants[i], body, len);
        if (r.status != 401)
            fail_msg("variant %zu: status %d", i, r.status);
    }
    /* The genuine request still works. */
    r = request(f, "POST", "/api/v1/heartbeat", extra, body, len);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"applied\":true"));
}

static void
test_hb_oversized(void **state)
{
    struct fx *f = *state;
    /* Declared too large: refused from the headers, before any of the body is read. */
    char ts[32];
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "POST /api/v1/heartbeat HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Length: %d\r\nX-RD-Relay: relay-a\r\nX-RD-Kid: %s\r\n"
                     "X-RD-Timestamp: %s\r\nX-RD-Signature: %s\r\n\r\n",
                     RD_HTTP_MAX_HEARTBEAT_BODY + 1, f->key_a.kid, ts,
                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    struct resp r = raw_request(f, req, (size_t)n);
    assert_int_equal(r.status, 413);
    assert_int_equal(f->b.metrics.hb[METRICS_HB_TOO_LARGE], 1);

    /* Exactly the cap (JSON padded with whitespace) is accepted. */
    const char *body = hb_json("relay-a", "boot-1", 1, 1, NULL);
    size_t len = strlen(body);
    static char big[RD_HTTP_MAX_HEARTBEAT_BODY + 1];
    memcpy(big, body, len);
    memset(big + len, ' ', RD_HTTP_MAX_HEARTBEAT_BODY - len);
    big[RD_HTTP_MAX_HEARTBEAT_BODY] = '\0';
    struct sreq s = {.relay = "relay-a", .kid = f->key_a.kid, .key = &f->key_a};
    r = relay_request(f, "POST", "/api/v1/heartbeat", &s, big, RD_HTTP_MAX_HEARTBEAT_BODY);
    assert_int_equal(r.status, 200);

    /* More cameras than RD_HEARTBEAT_MAX_CAMERAS: 413 too, nothing applied. */
    static char cams[RD_HTTP_MAX_HEARTBEAT_BODY];
    size_t off = 0;
    cams[off++] = '[';
    for (int i = 0; i <= RD_HEARTBEAT_MAX_CAMERAS; i++)
        off += (size_t)snprintf(cams + off, sizeof(cams) - off,
                                "%s{\"id\":\"c%d\",\"state\":\"playing\"}", i > 0 ? "," : "", i);
    cams[off++] = ']';
    cams[off] = '\0';
    body = hb_json("relay-a", "boot-1", 2, 1, cams);
    r = relay_request(f, "POST", "/api/v1/heartbeat", &s, body, strlen(body));
    assert_int_equal(r.status, 413);
    assert_int_equal(f->b.metrics.hb[METRICS_HB_TOO_LARGE], 2);
    struct relay_view_relay_info ri;
    assert_int_equal(relay_view_relay_get(f->b.view, "relay-a", &ri), RD_OK);
    assert_int_equal(ri.seq, 1);
}

static void
test_hb_unknown_relay(void **state)
{
    struct fx *f = *state;
    uint64_t v0 = reg_version(f);
    struct registry_stats rs0, rs1;
    registry_stats_get(f->b.reg, &rs0);
    struct relay_view_stats s0, s1;
    relay_view_get_stats(f->b.view, &s0);

    /* An unknown relay id, signed with a real key; then no signing headers at all. */
    struct reg_relay_key fake = f->key_a;
    struct sreq s = {.relay = "relay-zz", .kid = fake.kid, .key = &fake};
    const char *body = hb_json("relay-zz", "b", 1, 1, NULL);
    struct resp r = relay_request(f, "POST", "/api/v1/heartbeat", &s, body, strlen(body));
    assert_int_equal(r.status, 401);
    assert_true(has(r.body, "\"error\""));
    r = request(f, "POST", "/api/v1/heartbeat", "", body, strlen(body));
    assert_int_equal(r.status, 401);
    r = request(f, "POST", "/api/v1/heartbeat", "X-RD-Relay: ../../etc\r\n", body, strlen(body));
    assert_int_equal(r.status, 401);
    assert_int_equal(f->b.metrics.hb[METRICS_HB_UNKNOWN_RELAY], 3);

    /* Nothing was written and the view never saw them. */
    registry_stats_get(f->b.reg, &rs1);
    assert_int_equal(reg_version(f), v0);
    assert_int_equal(rs1.commits, rs0.commits);
    relay_view_get_stats(f->b.view, &s1);
    assert_int_equal(s1.hb_unknown_relay, s0.hb_unknown_relay);
    assert_int_equal(s1.hb_accepted, s0.hb_accepted);
    assert_int_equal(s1.hb_rejected, s0.hb_rejected);
}

static void
test_hb_bad_kid_and_rotation(void **state)
{
    struct fx *f = *state;
    const char *body = hb_json("relay-a", "b", 1, 1, NULL);
    struct sreq s = {.relay = "relay-a", .kid = "nokid", .key = &f->key_a};
    struct resp r = relay_request(f, "POST", "/api/v1/heartbeat", &s, body, strlen(body));
    assert_int_equal(r.status, 401);
    s.kid = f->key_b.kid; /* relay-b's kid is not relay-a's */
    r = relay_request(f, "POST", "/api/v1/heartbeat", &s, body, strlen(body));
    assert_int_equal(r.status, 401);
    assert_int_equal(f->b.metrics.hb[METRICS_HB_BAD_SIGNATURE], 2);

    /* Rotation: the new key signs, the previous one still verifies; one more rotation
     * retires the first. The response names the new signing kid. */
    struct reg_relay_key k2, k3;
    assert_int_equal(registry_relay_rotate_key(f->b.reg, "relay-a", &k2), RD_OK);
    assert_int_equal(broker_reload(&f->b), RD_OK);
    r = beat_as(f, "relay-a", &f->key_a, hb_json("relay-a", "b", 1, 1, NULL));
    assert_int_equal(r.status, 200);
    char want[64];
    snprintf(want, sizeof(want), "\"signing_kid\":\"%s\"", k2.kid);
    assert_true(has(r.body, want));
    r = beat_as(f, "relay-a", &k2, hb_json("relay-a", "b", 2, 1, NULL));
    assert_int_equal(r.status, 200);
    assert_int_equal(registry_relay_rotate_key(f->b.reg, "relay-a", &k3), RD_OK);
    assert_int_equal(broker_reload(&f->b), RD_OK);
    r = beat_as(f, "relay-a", &f->key_a, hb_json("relay-a", "b", 3, 1, NULL));
    assert_int_equal(r.status, 401);
    r = beat_as(f, "relay-a", &k2, hb_json("relay-a", "b", 3, 1, NULL));
    assert_int_equal(r.status, 200);
}

/* A heartbeat body of relay carrying kids_json as "kids" (NULL: no such field). */
static const char *
hb_json_kids(const char *relay, const char *boot, unsigned long long seq, const char *kids_json)
{
    static char body[1024];
    int n = snprintf(body, sizeof(body),
                     "{\"relay_id\":\"%s\",\"boot_id\":\"%s\",\"seq\":%llu,\"state\":"
                     "\"active\",\"viewers\":1,\"egress_kbps\":1%s%s,\"cameras\":[]}",
                     relay, boot, seq, kids_json != NULL ? ",\"kids\":" : "",
                     kids_json != NULL ? kids_json : "");
    assert_true(n > 0 && (size_t)n < sizeof(body));
    return body;
}

/* signing_kid names the key the broker signs this relay's tokens with: the newest live one
 * the relay reported holding, else the newest (docs/relay-channel.md, Keys and rotation). */
static void
test_hb_signing_kid_follows_held(void **state)
{
    struct fx *f = *state;
    struct reg_relay_key k2;
    assert_int_equal(registry_relay_rotate_key(f->b.reg, "relay-a", &k2), RD_OK);
    assert_int_equal(broker_reload(&f->b), RD_OK);
    char kids[64], want_old[64], want_new[64];
    snprintf(want_old, sizeof(want_old), "\"signing_kid\":\"%s\"", f->key_a.kid);
    snprintf(want_new, sizeof(want_new), "\"signing_kid\":\"%s\"", k2.kid);

    /* The relay has not installed the new key yet: the old one keeps signing. */
    snprintf(kids, sizeof(kids), "[\"%s\"]", f->key_a.kid);
    struct resp r = beat_as(f, "relay-a", &f->key_a, hb_json_kids("relay-a", "b", 1, kids));
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, want_old));
    /* A replayed beat changes nothing, and its answer says the same. */
    r = beat_as(f, "relay-a", &f->key_a, hb_json_kids("relay-a", "b", 1, "[]"));
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"applied\":false"));
    assert_true(has(r.body, want_old));

    /* Installed (both held, signed with either): the new key signs. */
    snprintf(kids, sizeof(kids), "[\"%s\",\"%s\"]", k2.kid, f->key_a.kid);
    r = beat_as(f, "relay-a", &k2, hb_json_kids("relay-a", "b", 2, kids));
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, want_new));
    /* 2 beats per second, burst 5: wait for 3 more tokens. */
    ev_sleep(1.6);
    ev_now_update(f->b.loop);
    /* Back to the old one only; then an older relay (no kids), or one that holds no live
     * key: the newest. */
    snprintf(kids, sizeof(kids), "[\"%s\"]", f->key_a.kid);
    r = beat_as(f, "relay-a", &f->key_a, hb_json_kids("relay-a", "b", 3, kids));
    assert_true(has(r.body, want_old));
    r = beat_as(f, "relay-a", &f->key_a, hb_json_kids("relay-a", "b", 4, NULL));
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, want_new));
    r = beat_as(f, "relay-a", &f->key_a, hb_json_kids("relay-a", "b", 5, "[\"stranger\"]"));
    assert_true(has(r.body, want_new));
    r = beat_as(f, "relay-a", &f->key_a, hb_json_kids("relay-a", "b", 6, "[]"));
    assert_true(has(r.body, want_new));

    /* Malformed kids (relay-b: its own bucket): 400 naming the field, counted, the view
     * untouched. */
    uint64_t malformed = f->b.metrics.hb[METRICS_HB_MALFORMED];
    static const char *const bad[] = {"[\"a\",\"b\",\"c\"]", "\"k\"", "[\"a b\"]", "[7]",
                                      "[\"abcdefghijklmnopq\"]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = beat_as(f, "relay-b", &f->key_b, hb_json_kids("relay-b", "b", 1, bad[i]));
        assert_int_equal(r.status, 400);
        assert_true(has(r.body, "kids"));
    }
    assert_int_equal(f->b.metrics.hb[METRICS_HB_MALFORMED], malformed + 5);
    struct relay_view_relay_info ri;
    assert_int_equal(relay_view_relay_get(f->b.view, "relay-b", &ri), RD_OK);
    assert_false(ri.ever_beat);
    assert_false(ri.kids_reported);
    assert_int_equal(relay_view_relay_get(f->b.view, "relay-a", &ri), RD_OK);
    assert_int_equal(ri.seq, 6);
    assert_true(ri.kids_reported);
    assert_int_equal(ri.n_held_kids, 0);
}

static void
test_hb_rate_limit(void **state)
{
    struct fx *f = *state;
    /* Refused requests do not drain a relay's bucket. */
    for (int i = 0; i < 10; i++) {
        struct sreq s = {.relay = "relay-a", .kid = f->key_a.kid, .key = &f->key_b};
        const char *body = hb_json("relay-a", "b", 1, 1, NULL);
        assert_int_equal(
            relay_request(f, "POST", "/api/v1/heartbeat", &s, body, strlen(body)).status, 401);
    }
    double t0 = ev_time();
    int ok = 0, limited = 0;
    struct resp r;
    for (int i = 1; i <= RD_HEARTBEAT_BURST + 3; i++) {
        r = beat(f, "b", (unsigned long long)i, 1);
        if (r.status == 200) {
            ok++;
        } else {
            assert_int_equal(r.status, 429);
            assert_true(has_header(&r, "Retry-After: 1"));
            limited++;
        }
    }
    double elapsed = ev_time() - t0;
    assert_true(ok >= RD_HEARTBEAT_BURST);
    assert_true(ok <= RD_HEARTBEAT_BURST + 1 + (int)(elapsed * RD_HEARTBEAT_RATE_PER_S));
    assert_true(limited > 0);
    assert_int_equal(f->b.metrics.hb[METRICS_HB_RATE_LIMITED], (uint64_t)limited);
    /* Other relays have their own bucket. */
    r = beat_as(f, "relay-b", &f->key_b, hb_json("relay-b", "b", 1, 0, "[]"));
    assert_int_equal(r.status, 200);
    /* Half a second later there is a token again. */
    ev_sleep(0.6);
    ev_now_update(f->b.loop);
    r = beat(f, "b", 100, 1);
    assert_int_equal(r.status, 200);
}

static void
test_hb_malformed(void **state)
{
    struct fx *f = *state;
    /* The full table of malformed bodies is in test_relay_channel.c; here the HTTP mapping:
     * each is a 400 with a JSON error, counted, and the view never sees it (as many as the
     * rate limit's burst allows at once). */
    static const char *const bodies[] = {
        "not json",
        "[]",
        "{\"relay_id\":\"relay-a\",\"boot_id\":\"b\",\"seq\":\"1\",\"state\":\"active\","
        "\"viewers\":1,\"egress_kbps\":1,\"cameras\":[]}",
        "{\"relay_id\":\"relay-a\",\"boot_id\":\"b\",\"seq\":1,\"seq\":2,\"state\":\"active\","
        "\"viewers\":1,\"egress_kbps\":1,\"cameras\":[]}",
        "{\"relay_id\":\"relay-a\",\"boot_id\":\"b\",\"seq\":1,\"state\":\"active\","
        "\"viewers\":1,\"egress_kbps\":1,\"cameras\":[{\"id\":\"ok\",\"state\":\"paused\"}]}",
    };
    _Static_assert(sizeof(bodies) / sizeof(bodies[0]) <= RD_HEARTBEAT_BURST, "within the burst");
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct sreq s = {.relay = "relay-a", .kid = f->key_a.kid, .key = &f->key_a};
        struct resp r =
            relay_request(f, "POST", "/api/v1/heartbeat", &s, bodies[i], strlen(bodies[i]));
        if (r.status != 400)
            fail_msg("body %zu: status %d %s", i, r.status, r.body);
        assert_true(has(r.body, "\"error\""));
        assert_true(has_header(&r, "Content-Type: application/json"));
    }
    assert_int_equal(f->b.metrics.hb[METRICS_HB_MALFORMED], sizeof(bodies) / sizeof(bodies[0]));
    struct relay_view_relay_info ri;
    assert_int_equal(relay_view_relay_get(f->b.view, "relay-a", &ri), RD_OK);
    assert_false(ri.ever_beat);
    struct relay_view_stats vs;
    relay_view_get_stats(f->b.view, &vs);
    assert_int_equal(vs.hb_rejected, 0);
}

static void
test_hb_relay_mismatch(void **state)
{
    struct fx *f = *state;
    /* Signed by relay-a, but the body speaks for relay-b. */
    struct resp r = beat_as(f, "relay-a", &f->key_a, hb_json("relay-b", "b", 1, 1, "[]"));
    assert_int_equal(r.status, 400);
    assert_true(has(r.body, "relay_id"));
    struct relay_view_relay_info ri;
    assert_int_equal(relay_view_relay_get(f->b.view, "relay-b", &ri), RD_OK);
    assert_false(ri.ever_beat);
    assert_int_equal(relay_view_relay_get(f->b.view, "relay-a", &ri), RD_OK);
    assert_false(ri.ever_beat);
    assert_int_equal(f->b.metrics.hb[METRICS_HB_MALFORMED], 1);
}

static void
test_hb_wrong_method(void **state)
{
    struct fx *f = *state;
    struct resp r = request(f, "GET", "/api/v1/heartbeat", "", NULL, 0);
    assert_int_equal(r.status, 405);
    assert_true(has_header(&r, "Allow: POST"));
    r = request(f, "POST", "/api/v1/relay/cameras/lobby", "", "", 0);
    assert_int_equal(r.status, 405);
    assert_true(has_header(&r, "Allow: GET"));
}

/* ---- Relay channel: camera sources ------------------------------------------------------------
 */

static void
test_camera_source(void **state)
{
    struct fx *f = *state;
    struct sreq sa = {.relay = "relay-a", .kid = f->key_a.kid, .key = &f->key_a};
    struct resp r = relay_request(f, "GET", "/api/v1/relay/cameras/lobby", &sa, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"url\":\"" CAM_URL "\""));
    assert_true(has(r.body, "\"user\":\"viewer\""));
    assert_true(has(r.body, "\"password\":\"" CAM_PASSWORD "\""));
    assert_true(has(r.body, "\"transport\":\"tcp\""));
    assert_true(has(r.body, "\"enabled\":true"));
    assert_true(has(r.body, "\"registry_version\":"));

    r = relay_request(f, "GET", "/api/v1/relay/cameras/nope", &sa, NULL, 0);
    assert_int_equal(r.status, 404);
    r = relay_request(f, "GET", "/api/v1/relay/cameras/bad%20id", &sa, NULL, 0);
    assert_int_equal(r.status, 401); /* signed path differs from the decoded one */
    /* relay-a serves site hq only: "dock" (default site) is none of its business. */
    r = relay_request(f, "GET", "/api/v1/relay/cameras/dock", &sa, NULL, 0);
    assert_int_equal(r.status, 404);
    assert_false(has(r.body, "rtsp://"));
    struct sreq sb = {.relay = "relay-b", .kid = f->key_b.kid, .key = &f->key_b};
    r = relay_request(f, "GET", "/api/v1/relay/cameras/dock", &sb, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "rtsp://10.0.0.8/live"));

    /* Unsigned, bearer-only, wrong signature, stale: 401 and no source. */
    r = api(f, "GET", "/api/v1/relay/cameras/lobby", NULL);
    assert_int_equal(r.status, 401);
    assert_false(has(r.body, CAM_PASSWORD));
    struct sreq bad = sa;
    bad.key = &f->key_b;
    r = relay_request(f, "GET", "/api/v1/relay/cameras/lobby", &bad, NULL, 0);
    assert_int_equal(r.status, 401);
    bad = sa;
    bad.sign_path = "/api/v1/relay/cameras/dock"; /* a signature for another camera */
    r = relay_request(f, "GET", "/api/v1/relay/cameras/lobby", &bad, NULL, 0);
    assert_int_equal(r.status, 401);
    bad = sa;
    bad.ts_delta = -120;
    r = relay_request(f, "GET", "/api/v1/relay/cameras/lobby", &bad, NULL, 0);
    assert_int_equal(r.status, 401);
    assert_false(has(r.body, CAM_PASSWORD));

    /* The credentials and the source URL appear nowhere else. */
    const char *paths[] = {"/api/v1/cameras",
                           "/api/v1/cameras/lobby",
                           "/api/v1/relays",
                           "/api/v1/relays/relay-a",
                           "/api/v1/stats",
                           "/api/v1/users",
                           "/api/v1/decisions",
                           "/metrics",
                           "/"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        r = api(f, "GET", paths[i], NULL);
        assert_int_equal(r.status, 200);
        if (has(r.body, CAM_PASSWORD) || has(r.body, "10.0.0.7") || has(r.body, "ha1"))
            fail_msg("%s leaks a secret", paths[i]);
    }
}

static void
test_camera_source_rate_limit(void **state)
{
    struct fx *f = *state;
    struct sreq sa = {.relay = "relay-a", .kid = f->key_a.kid, .key = &f->key_a};
    int ok = 0, limited = 0;
    /* Refill runs at RD_RELAY_SOURCE_RATE_PER_S while we ask: go on until the first 429. */
    for (int i = 0; i < 20 * RD_RELAY_SOURCE_BURST && limited == 0; i++) {
        struct resp r = relay_request(f, "GET", "/api/v1/relay/cameras/lobby", &sa, NULL, 0);
        if (r.status == 200)
            ok++;
        else if (r.status == 429)
            limited++;
        else
            fail_msg("status %d", r.status);
    }
    assert_true(ok >= RD_RELAY_SOURCE_BURST);
    assert_int_equal(limited, 1);
    /* Heartbeats keep their own bucket. */
    assert_int_equal(beat(f, "b", 1, 1).status, 200);
}

/* ---- Admin auth, health, page -----------------------------------------------------------------
 */

static void
test_admin_auth(void **state)
{
    struct fx *f = *state;
    struct resp r = request(f, "GET", "/api/v1/relays", "", NULL, 0);
    assert_int_equal(r.status, 401);
    assert_true(has_header(&r, "WWW-Authenticate: Bearer realm=\"rtsp-broker\""));
    assert_true(has(r.body, "\"error\""));
    r = request(f, "GET", "/api/v1/relays", "Authorization: Bearer wrong\r\n", NULL, 0);
    assert_int_equal(r.status, 401);
    r = request(f, "GET", "/api/v1/relays", "Authorization: Basic " TOKEN "\r\n", NULL, 0);
    assert_int_equal(r.status, 401);
    r = request(f, "GET", "/metrics", "", NULL, 0);
    assert_int_equal(r.status, 401);
    /* A write without the token changes nothing. */
    uint64_t v0 = reg_version(f);
    const char *cam = "{\"id\":\"x1\",\"url\":\"rtsp://h/x\"}";
    r = request(f, "POST", "/api/v1/cameras", "", cam, strlen(cam));
    assert_int_equal(r.status, 401);
    r = request(f, "DELETE", "/api/v1/cameras/lobby", "", NULL, 0);
    assert_int_equal(r.status, 401);
    assert_int_equal(reg_version(f), v0);
    /* Unauthenticated requests learn nothing about routes either. */
    r = request(f, "GET", "/api/v1/nowhere", "", NULL, 0);
    assert_int_equal(r.status, 401);

    r = api(f, "GET", "/api/v1/relays", NULL);
    assert_int_equal(r.status, 200);
    r = request(f, "GET", "/api/v1/relays", "Authorization: bearer " TOKEN "\r\n", NULL, 0);
    assert_int_equal(r.status, 200);

    /* Public: health and the page (the page asks for the token itself). */
    r = request(f, "GET", "/healthz", "", NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    f->b.db_degraded = true;
    r = request(f, "GET", "/healthz", "", NULL, 0);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "degraded\n");
    f->b.db_degraded = false;
    r = request(f, "GET", "/", "", NULL, 0);
    assert_int_equal(r.status, 200);
    assert_true(has_header(&r, "Content-Type: text/html; charset=utf-8"));
    assert_true(has_header(&r, "Content-Security-Policy: default-src 'none'; script-src 'sha256-"));
    assert_true(has(r.body, "<script>"));
    /* Nothing loaded from elsewhere: no CDN, no fonts (the SVG namespace is only a name). */
    assert_false(has(r.body, "src=\"http") || has(r.body, "href=\"http") || has(r.body, "url(")
                 || has(r.body, "@import") || has(r.body, "src=\"//"));
    r = request(f, "POST", "/", "", "", 0);
    assert_int_equal(r.status, 405);
}

static void
test_admin_open(void **state)
{
    struct fx *f = *state;
    /* No token configured (loopback only): the API answers without one. */
    struct resp r = request(f, "GET", "/api/v1/relays", "", NULL, 0);
    assert_int_equal(r.status, 200);
    r = request(f, "GET", "/metrics", "", NULL, 0);
    assert_int_equal(r.status, 200);
    r = request(f, "GET", "/api/v1/stats", "Authorization: Bearer anything\r\n", NULL, 0);
    assert_int_equal(r.status, 200);
}

static void
test_admin_start_refuses(void **state)
{
    struct fx *f = *state;
    struct broker *b = &f->b;
    admin_stop(b);
    struct rd_errbuf err = {""};
    char saved[sizeof(b->admin_token)];
    memcpy(saved, b->admin_token, sizeof(saved));
    b->admin_token[0] = '\0';
    const char *beyond[] = {"0.0.0.0", "192.0.2.1", "::", "10.1.2.3"};
    for (size_t i = 0; i < sizeof(beyond) / sizeof(beyond[0]); i++) {
        snprintf(b->conf.admin_listen.host, sizeof(b->conf.admin_listen.host), "%s", beyond[i]);
        err.msg[0] = '\0';
        assert_int_equal(admin_start(b, &err), RD_EPROTO);
        assert_true(has(err.msg, "admin_token_file"));
        assert_null(b->admin);
    }
    /* Loopback without a token is fine (127/8). */
    snprintf(b->conf.admin_listen.host, sizeof(b->conf.admin_listen.host), "127.0.0.2");
    assert_int_equal(admin_start(b, &err), RD_OK);
    admin_stop(b);
    /* Beyond loopback with a token: allowed. */
    memcpy(b->admin_token, saved, sizeof(saved));
    snprintf(b->conf.admin_listen.host, sizeof(b->conf.admin_listen.host), "0.0.0.0");
    assert_int_equal(admin_start(b, &err), RD_OK);
    admin_stop(b);
    /* Leave it running on loopback for teardown. */
    snprintf(b->conf.admin_listen.host, sizeof(b->conf.admin_listen.host), "127.0.0.1");
    assert_int_equal(admin_start(b, &err), RD_OK);
}

/* ---- JSON API ---------------------------------------------------------------------------------
 */

static void
test_cameras_crud(void **state)
{
    struct fx *f = *state;
    struct resp r = api(f, "GET", "/api/v1/cameras", NULL);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"id\":\"lobby\""));
    assert_true(has(r.body, "\"has_credentials\":true"));

    const char *cam = "{\"id\":\"gate-2\",\"name\":\"Gate 2\",\"site\":\"hq\",\"url\":"
                      "\"rtsp://10.9.9.9/s1\",\"user\":\"u\",\"password\":\"gate-secret\","
                      "\"transport\":\"udp\",\"max_relays\":3,\"auth_required\":true}";
    r = api(f, "POST", "/api/v1/cameras", cam);
    assert_int_equal(r.status, 201);
    assert_true(has(r.body, "\"id\":\"gate-2\""));
    assert_true(has(r.body, "\"max_relays\":3"));
    assert_true(has(r.body, "\"auth_required\":true"));
    assert_false(has(r.body, "gate-secret"));
    assert_false(has(r.body, "10.9.9.9"));
    /* Applied at once: the catalog already has it. */
    const struct catalog_camera *cc = catalog_camera(f->b.cat, "gate-2");
    assert_non_null(cc);
    assert_true(cc->auth_required);
    assert_int_equal(cc->max_relays, 3);
    struct reg_camera row;
    assert_int_equal(registry_camera_get(f->b.reg, "gate-2", &row), RD_OK);
    assert_string_equal(row.upstream_password, "gate-secret");
    assert_int_equal(row.transport, REG_TRANSPORT_UDP);

    r = api(f, "POST", "/api/v1/cameras", cam);
    assert_int_equal(r.status, 409);
    assert_true(has(r.body, "already exists"));

    static const char *const bad[] = {
        "{\"id\":\"a b\",\"url\":\"rtsp://h/\"}",
        "{\"url\":\"rtsp://h/\"}",
        "{\"id\":\"nourl\"}",
        "{\"id\":\"x\",\"url\":\"http://h/\"}",
        "{\"id\":\"x\",\"url\":\"rtsp://h/\",\"max_relays\":0}",
        "{\"id\":\"x\",\"url\":\"rtsp://h/\",\"max_relays\":\"2\"}",
        "{\"id\":\"x\",\"url\":\"rtsp://h/\",\"enabled\":1}",
        "{\"id\":\"x\",\"url\":\"rtsp://h/\",\"transport\":\"sctp\"}",
        "{\"id\":\"x\",\"url\":\"rtsp://h/\",\"colour\":\"red\"}",
        "{\"id\":\"x\",\"url\":\"rtsp://h/\",\"site\":\"nowhere\"}",
        "{\"id\":\"x\",\"id\":\"y\",\"url\":\"rtsp://h/\"}",
        "[1]",
        "{",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = api(f, "POST", "/api/v1/cameras", bad[i]);
        if (r.status != 400)
            fail_msg("bad %zu: %d %s", i, r.status, r.body);
        assert_true(has(r.body, "\"error\""));
    }
    assert_null(catalog_camera(f->b.cat, "x"));

    /* Partial update: only the fields given change; credentials never come back. */
    r = api(f, "PUT", "/api/v1/cameras/gate-2", "{\"enabled\":false,\"password\":\"new-pass\"}");
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"enabled\":false"));
    assert_true(has(r.body, "\"state\":\"disabled\""));
    assert_true(has(r.body, "\"name\":\"Gate 2\""));
    assert_false(has(r.body, "new-pass"));
    assert_false(catalog_camera(f->b.cat, "gate-2")->enabled);
    assert_int_equal(registry_camera_get(f->b.reg, "gate-2", &row), RD_OK);
    assert_string_equal(row.upstream_password, "new-pass");
    assert_string_equal(row.upstream_user, "u");
    r = api(f, "PUT", "/api/v1/cameras/gate-2", "{\"id\":\"other\"}");
    assert_int_equal(r.status, 400);
    r = api(f, "PUT", "/api/v1/cameras/nope", "{\"enabled\":false}");
    assert_int_equal(r.status, 404);

    r = api(f, "GET", "/api/v1/cameras/gate-2", NULL);
    assert_int_equal(r.status, 200);
    r = api(f, "DELETE", "/api/v1/cameras/gate-2", NULL);
    assert_int_equal(r.status, 200);
    assert_null(catalog_camera(f->b.cat, "gate-2"));
    r = api(f, "GET", "/api/v1/cameras/gate-2", NULL);
    assert_int_equal(r.status, 404);
    r = api(f, "DELETE", "/api/v1/cameras/gate-2", NULL);
    assert_int_equal(r.status, 404);

    /* Body cap: one byte over RD_HTTP_MAX_ADMIN_BODY is 413 (declared, not read). */
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "POST /api/v1/cameras HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Authorization: Bearer " TOKEN "\r\nContent-Length: %d\r\n\r\n",
                     RD_HTTP_MAX_ADMIN_BODY + 1);
    r = raw_request(f, req, (size_t)n);
    assert_int_equal(r.status, 413);
    /* Exactly the cap is read (and then judged on content). */
    static char body[RD_HTTP_MAX_ADMIN_BODY + 1];
    const char *small = "{\"id\":\"padded\",\"url\":\"rtsp://h/p\"}";
    memset(body, ' ', RD_HTTP_MAX_ADMIN_BODY);
    memcpy(body, small, strlen(small));
    body[RD_HTTP_MAX_ADMIN_BODY] = '\0';
    r = api(f, "POST", "/api/v1/cameras", body);
    assert_int_equal(r.status, 201);
    assert_non_null(catalog_camera(f->b.cat, "padded"));
}

static void
test_camera_pulls(void **state)
{
    struct fx *f = *state;
    assert_int_equal(beat(f, "b", 1, 3).status, 200);
    struct resp r = api(f, "GET", "/api/v1/cameras/lobby", NULL);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"relays\":[{\"relay\":\"relay-a\""));
    assert_true(has(r.body, "\"state\":\"playing\""));
    assert_true(has(r.body, "\"viewers\":3"));
    r = api(f, "GET", "/api/v1/cameras/dock", NULL);
    assert_true(has(r.body, "\"relays\":[]"));
    assert_true(has(r.body, "\"state\":\"idle\""));
    r = api(f, "GET", "/api/v1/cameras?site=hq", NULL);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "lobby"));
    assert_false(has(r.body, "dock"));
    r = api(f, "GET", "/api/v1/cameras?site=../x", NULL);
    assert_int_equal(r.status, 400);
}

static void
test_relays_api(void **state)
{
    struct fx *f = *state;
    assert_int_equal(beat(f, "b", 1, 9).status, 200);
    struct resp r = api(f, "GET", "/api/v1/relays", NULL);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"id\":\"relay-a\""));
    assert_true(has(r.body, "\"viewers\":9"));
    assert_true(has(r.body, "\"cpu_pct\":13"));
    assert_true(has(r.body, "\"cameras\":1"));
    assert_true(has(r.body, "\"last_heartbeat_age_s\":"));
    assert_true(has(r.body, "\"health\":\"never\"")); /* relay-b */
    assert_false(has(r.body, "\"key\""));

    r = api(f, "GET", "/api/v1/relays/relay-a", NULL);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"pulls\":[{\"relay\":\"relay-a\",\"camera\":\"lobby\""));
    r = api(f, "GET", "/api/v1/relays/nope", NULL);
    assert_int_equal(r.status, 404);

    /* Drain through the API: the catalog, the view and the next heartbeat answer see it. */
    r = api(f, "PUT", "/api/v1/relays/relay-a", "{\"state\":\"draining\",\"capacity_viewers\":50}");
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"state\":\"draining\""));
    assert_true(has(r.body, "\"capacity_viewers\":50"));
    assert_int_equal(catalog_relay(f->b.cat, "relay-a")->relay.state, REG_RELAY_DRAINING);
    struct relay_view_relay_info ri;
    assert_int_equal(relay_view_relay_get(f->b.view, "relay-a", &ri), RD_OK);
    assert_int_equal(ri.op_state, POLICY_RELAY_DRAINING);
    r = beat(f, "b", 2, 9);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"state\":\"draining\""));
    r = api(f, "PUT", "/api/v1/relays/relay-a", "{\"state\":\"active\"}");
    assert_int_equal(r.status, 200);
    assert_int_equal(catalog_relay(f->b.cat, "relay-a")->relay.state, REG_RELAY_ACTIVE);

    static const char *const bad[] = {
        "{\"state\":\"asleep\"}", "{\"capacity_viewers\":0}",    "{\"url\":\"rtsp://h:1/path\"}",
        "{\"key\":\"x\"}",        "{\"site\":\"nowhere\"}",      "{\"id\":\"relay-b\"}",
        "{\"name\":7}",           "{\"capacity_mbps\":1000001}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = api(f, "PUT", "/api/v1/relays/relay-a", bad[i]);
        if (r.status != 400)
            fail_msg("bad %zu: %d %s", i, r.status, r.body);
    }
    r = api(f, "PUT", "/api/v1/relays/nope", "{\"state\":\"active\"}");
    assert_int_equal(r.status, 404);
    /* Relays are added with the CLI (their key is printed once, never sent over HTTP). */
    r = api(f, "POST", "/api/v1/relays", "{\"id\":\"r9\"}");
    assert_int_equal(r.status, 405);
    assert_true(has_header(&r, "Allow: GET"));

    /* Delete: its heartbeats are strangers from then on. */
    r = api(f, "DELETE", "/api/v1/relays/relay-a", NULL);
    assert_int_equal(r.status, 200);
    assert_null(catalog_relay(f->b.cat, "relay-a"));
    assert_int_equal(relay_view_relay_get(f->b.view, "relay-a", &ri), RD_ENOTFOUND);
    r = beat(f, "b", 3, 9);
    assert_int_equal(r.status, 401);
    r = api(f, "DELETE", "/api/v1/relays/relay-a", NULL);
    assert_int_equal(r.status, 404);
}

static void
test_sites_and_users(void **state)
{
    struct fx *f = *state;
    struct resp r = api(f, "POST", "/api/v1/sites", "{\"id\":\"east\",\"name\":\"East wing\"}");
    assert_int_equal(r.status, 201);
    r = api(f, "GET", "/api/v1/sites", NULL);
    assert_true(has(r.body, "\"id\":\"east\""));
    assert_true(has(r.body, "\"id\":\"default\""));
    r = api(f, "DELETE", "/api/v1/sites/hq", NULL); /* cameras and a relay use it */
    assert_int_equal(r.status, 409);
    r = api(f, "DELETE", "/api/v1/sites/east", NULL);
    assert_int_equal(r.status, 200);

    r = api(f, "POST", "/api/v1/users", "{\"name\":\"bob\",\"password\":\"pw-bob\"}");
    assert_int_equal(r.status, 201);
    assert_true(has(r.body, "\"name\":\"bob\""));
    assert_true(has(r.body, "\"realm\":\"rtsp-director\""));
    assert_false(has(r.body, "pw-bob"));
    assert_non_null(catalog_user(f->b.cat, "bob"));
    r = api(f, "POST", "/api/v1/users", "{\"name\":\"bob\",\"password\":\"x\"}");
    assert_int_equal(r.status, 409);
    r = api(f, "POST", "/api/v1/users", "{\"name\":\"carl\"}");
    assert_int_equal(r.status, 400);
    r = api(f, "POST", "/api/v1/users", "{\"name\":\"a:b\",\"password\":\"x\"}");
    assert_int_equal(r.status, 400);

    r = api(f, "POST", "/api/v1/users/bob/cameras/lobby", NULL);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"cameras\":[\"lobby\"]"));
    const struct catalog_user *u = catalog_user(f->b.cat, "bob");
    assert_true(catalog_user_may_view(f->b.cat, u, "lobby"));
    r = api(f, "POST", "/api/v1/users/bob/cameras/nope", NULL);
    assert_int_equal(r.status, 404);
    r = api(f, "POST", "/api/v1/users/nobody/cameras/lobby", NULL);
    assert_int_equal(r.status, 404);
    r = api(f, "GET", "/api/v1/users", NULL);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"name\":\"ann\""));
    assert_false(has(r.body, "ha1"));
    r = api(f, "DELETE", "/api/v1/users/bob/cameras/lobby", NULL);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"cameras\":[]"));
    r = api(f, "DELETE", "/api/v1/users/bob/cameras/lobby", NULL);
    assert_int_equal(r.status, 404);
    r = api(f, "DELETE", "/api/v1/users/bob", NULL);
    assert_int_equal(r.status, 200);
    assert_null(catalog_user(f->b.cat, "bob"));
    r = api(f, "GET", "/api/v1/users/bob", NULL);
    assert_int_equal(r.status, 404);
}

static void
test_routes_405_404(void **state)
{
    struct fx *f = *state;
    struct {
        const char *method, *path;
        int status;
        const char *allow;
    } cases[] = {
        {"PATCH", "/api/v1/cameras", 405, "Allow: GET, POST"},
        {"DELETE", "/api/v1/cameras", 405, "Allow: GET, POST"},
        {"POST", "/api/v1/cameras/lobby", 405, "Allow: GET, PUT, DELETE"},
        {"PUT", "/api/v1/stats", 405, "Allow: GET"},
        {"GET", "/api/v1/users/ann/cameras/lobby", 405, "Allow: POST, DELETE"},
        {"GET", "/api/v1/sites/hq", 405, "Allow: DELETE"},
        {"POST", "/metrics", 405, "Allow: GET"},
        {"GET", "/api/v1/nothing", 404, NULL},
        {"GET", "/api/v1/", 404, NULL},
        {"GET", "/api/v2/relays", 404, NULL},
        {"GET", "/api/v1/cameras/bad%20id", 404, NULL},
        {"GET", "/api/v1/cameras/lobby/extra", 404, NULL},
        {"GET", "/api/v1/relays/relay-a/samples/x", 404, NULL},
        {"GET", "/api/v1/relays//samples", 404, NULL},
        {"GET", "/api/v1/a/b/c/d/e/f/g", 404, NULL},
        {"GET", "/index.php", 404, NULL},
        {"GET", "/api/v1/cameras/", 200, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct resp r = api(f, cases[i].method, cases[i].path, NULL);
        if (r.status != cases[i].status)
            fail_msg("%s %s: %d", cases[i].method, cases[i].path, r.status);
        if (cases[i].allow != NULL && !has_header(&r, cases[i].allow))
            fail_msg("%s %s: no '%s' in %s", cases[i].method, cases[i].path, cases[i].allow,
                     r.head);
        if (r.status >= 400)
            assert_true(has(r.body, "{\"error\":"));
    }
}

static void
test_metrics(void **state)
{
    struct fx *f = *state;
    struct resp r = api(f, "GET", "/metrics", NULL);
    assert_int_equal(r.status, 200);
    assert_true(has_header(&r, "Content-Type: text/plain; version=0.0.4"));
    assert_true(has(r.body, "rd_broker_heartbeats_total{result=\"accepted\"} 0\n"));
    assert_int_equal(beat(f, "b", 1, 1).status, 200);
    struct sreq s = {.relay = "ghost", .kid = "k", .key = &f->key_a};
    assert_int_equal(relay_request(f, "POST", "/api/v1/heartbeat", &s, "{}", 2).status, 401);
    r = api(f, "GET", "/metrics", NULL);
    assert_true(has(r.body, "rd_broker_heartbeats_total{result=\"accepted\"} 1\n"));
    assert_true(has(r.body, "rd_broker_heartbeats_total{result=\"unknown_relay\"} 1\n"));
    assert_true(has(r.body, "rd_broker_relays{health=\"unhealthy\"} 2\n"));
    assert_true(has(r.body, "rd_broker_registry_degraded 0\n"));
}

static void
test_decisions(void **state)
{
    struct fx *f = *state;
    struct resp r = api(f, "GET", "/api/v1/decisions", NULL);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"decisions\":[]"));
    /* More than the ring holds: the newest come first, the oldest fell out. */
    for (int i = 0; i < BROKER_DECISIONS_KEPT + 10; i++) {
        struct broker_decision d = {.at_ms = 1700000000000 + i, .status = 302};
        snprintf(d.camera_id, sizeof(d.camera_id), "%s", i % 2 ? "lobby" : "dock");
        snprintf(d.relay_id, sizeof(d.relay_id), "relay-a");
        snprintf(d.reason, sizeof(d.reason), "least_loaded");
        snprintf(d.client, sizeof(d.client), "10.0.0.%d:5000", i % 250);
        broker_decision_add(&f->b, &d);
    }
    r = api(f, "GET", "/api/v1/decisions?limit=2", NULL);
    assert_int_equal(r.status, 200);
    const char *first = strstr(r.body, "\"at_ms\":1700000000265");
    const char *second = strstr(r.body, "\"at_ms\":1700000000264");
    assert_non_null(first);
    assert_non_null(second);
    assert_true(first < second);
    assert_null(strstr(r.body, "\"at_ms\":1700000000263"));
    r = api(f, "GET", "/api/v1/decisions?limit=256", NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"at_ms\":1700000000010"));
    assert_null(strstr(r.body, "\"at_ms\":1700000000009,"));
    r = api(f, "GET", "/api/v1/decisions?camera=dock&limit=3", NULL);
    assert_false(has(r.body, "lobby"));
    assert_true(has(r.body, "\"reason\":\"least_loaded\""));
    r = api(f, "GET", "/api/v1/decisions?limit=257", NULL);
    assert_int_equal(r.status, 400);
    r = api(f, "GET", "/api/v1/decisions?limit=x", NULL);
    assert_int_equal(r.status, 400);
    r = api(f, "GET", "/api/v1/decisions?source=disk", NULL);
    assert_int_equal(r.status, 400);

    /* History comes from the registry. */
    struct reg_decision d = {.at_ms = 1600000000123,
                             .camera_id = "lobby",
                             .relay_id = "",
                             .status = 503,
                             .reason = "no_candidate",
                             .client = "1.2.3.4:9"};
    struct registry_load_batch batch = {.now = 1600000000, .decisions = &d, .n_decisions = 1};
    assert_int_equal(registry_flush_load(f->b.reg, &batch), RD_OK);
    r = api(f, "GET", "/api/v1/decisions?source=history&limit=1000", NULL);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"source\":\"history\""));
    assert_true(has(r.body, "\"at_ms\":1600000000123"));
    assert_true(has(r.body, "\"reason\":\"no_candidate\""));
    r = api(f, "GET", "/api/v1/decisions?source=history&limit=1001", NULL);
    assert_int_equal(r.status, 400);
}

static void
test_stats_and_samples(void **state)
{
    struct fx *f = *state;
    assert_int_equal(beat(f, "b", 1, 4).status, 200);
    struct resp r = api(f, "GET", "/api/v1/stats", NULL);
    assert_int_equal(r.status, 200);
    assert_true(has(r.body, "\"uptime_s\":"));
    assert_true(has(r.body, "\"db_degraded\":false"));
    assert_true(has(r.body, "\"relays\":2"));
    assert_true(has(r.body, "\"hb_accepted\":1"));
    assert_true(has(r.body, "\"heartbeats\":{\"accepted\":1"));
    char want[64];
    snprintf(want, sizeof(want), "\"registry_version\":%llu", (unsigned long long)reg_version(f));
    assert_true(has(r.body, want));
    json_error_t jerr;
    json_t *j = json_loads(r.body, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "flushes"), "ok")), 0);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "health_transitions"), "to_healthy")),
        0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "relay_view"), "pulls")),
                     1);
    assert_true(json_integer_value(json_object_get(json_object_get(j, "registry"), "commits")) > 0);
    assert_true(json_is_real(json_object_get(j, "uptime_s")));
    json_decref(j);

    int64_t now = (int64_t)time(NULL);
    struct reg_load load = {.relay_id = "relay-a",
                            .healthy = true,
                            .viewers = 4,
                            .egress_kbps = 16000,
                            .cpu_pct = 12.5,
                            .last_seen = now - 100};
    struct registry_load_batch batch = {
        .now = now - 100, .loads = &load, .n_loads = 1, .take_sample = true};
    assert_int_equal(registry_flush_load(f->b.reg, &batch), RD_OK);
    load.viewers = 6;
    batch.now = now - 50;
    assert_int_equal(registry_flush_load(f->b.reg, &batch), RD_OK);
    r = api(f, "GET", "/api/v1/relays/relay-a/samples", NULL);
    assert_int_equal(r.status, 200);
    const char *s1 = strstr(r.body, "\"viewers\":4");
    const char *s2 = strstr(r.body, "\"viewers\":6");
    assert_non_null(s1);
    assert_non_null(s2);
    assert_true(s1 < s2); /* oldest first */
    char q[96];
    snprintf(q, sizeof(q), "/api/v1/relays/relay-a/samples?since=%lld", (long long)(now - 60));
    r = api(f, "GET", q, NULL);
    assert_false(has(r.body, "\"viewers\":4"));
    assert_true(has(r.body, "\"viewers\":6"));
    r = api(f, "GET", "/api/v1/relays/relay-a/samples?since=-5", NULL);
    assert_int_equal(r.status, 400);
    r = api(f, "GET", "/api/v1/relays/ghost/samples", NULL);
    assert_int_equal(r.status, 404);
}

static void
test_disk_full(void **state)
{
    struct fx *f = *state;
    struct broker *b = &f->b;
    /* Fault plan #5: cap the database at its size, add cameras until one does not fit. */
    assert_int_equal(registry_set_max_bytes(b->reg, 1), RD_OK);
    char body[512], name[RD_REG_NAME_MAX + 1], id[32];
    memset(name, 'n', RD_REG_NAME_MAX);
    name[RD_REG_NAME_MAX] = '\0';
    struct resp r = {0};
    int i;
    size_t cams_before = 0;
    uint64_t v_before = 0;
    for (i = 0; i < 2000; i++) {
        cams_before = catalog_camera_count(b->cat);
        v_before = reg_version(f);
        snprintf(id, sizeof(id), "full-%d", i);
        snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"%s\",\"url\":\"rtsp://h/%d\"}", id,
                 name, i);
        r = api(f, "POST", "/api/v1/cameras", body);
        if (r.status != 201)
            break;
    }
    assert_int_equal(r.status, 507);
    assert_true(has(r.body, "\"error\""));
    assert_true(b->db_degraded);
    /* No partial change: not in the registry, not in the catalog, version unchanged. */
    struct reg_camera row;
    assert_int_equal(registry_camera_get(b->reg, id, &row), RD_ENOTFOUND);
    assert_null(catalog_camera(b->cat, id));
    assert_int_equal(catalog_camera_count(b->cat), cams_before);
    assert_int_equal(reg_version(f), v_before);
    r = request(f, "GET", "/healthz", "", NULL, 0);
    assert_int_equal(r.status, 503);
    /* Reads and heartbeats go on from memory. */
    r = api(f, "GET", "/api/v1/relays", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(beat(f, "b", 1, 1).status, 200);
    /* A user add with a long name fails the same way, as does an update needing room. */
    char ubody[400];
    char uname[RD_AUTH_MAX_USERNAME + 1];
    memset(uname, 'u', RD_AUTH_MAX_USERNAME);
    uname[RD_AUTH_MAX_USERNAME] = '\0';
    snprintf(ubody, sizeof(ubody), "{\"name\":\"%s\",\"password\":\"p\"}", uname);
    int st = api(f, "POST", "/api/v1/users", ubody).status;
    assert_true(st == 507 || st == 201);
    if (st == 507)
        assert_null(catalog_user(b->cat, uname));

    /* Space back: writes succeed again without a restart and health recovers. */
    assert_int_equal(registry_set_max_bytes(b->reg, 0), RD_OK);
    r = api(f, "POST", "/api/v1/cameras", body);
    assert_int_equal(r.status, 201);
    assert_false(b->db_degraded);
    assert_non_null(catalog_camera(b->cat, id));
    r = request(f, "GET", "/healthz", "", NULL, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(registry_check(b->reg), RD_OK);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hb_good, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_hb_timestamp_window, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_hb_replay_reorder, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_hb_tampered, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_hb_oversized, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_hb_unknown_relay, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_hb_bad_kid_and_rotation, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_hb_signing_kid_follows_held, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_hb_rate_limit, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_hb_malformed, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_hb_relay_mismatch, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_hb_wrong_method, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_camera_source, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_camera_source_rate_limit, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_admin_auth, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_admin_open, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_admin_start_refuses, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_cameras_crud, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_camera_pulls, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_relays_api, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_sites_and_users, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_routes_405_404, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_decisions, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_stats_and_samples, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup_token, teardown),
    };
    return rd_test_run(argc, argv, "admin", tests, sizeof(tests) / sizeof(tests[0]));
}
