/* SPDX-License-Identifier: MIT */
/* Fuzzes the broker's request handling: the input is a stream of pipelined requests, each
 * parsed and answered by router_handle against a fixed catalog (an auth camera, an open one,
 * two healthy relays) and checked: exactly one well-formed response per request, statuses
 * from the documented set, and every Location on a registered relay's base URL. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "log.h"
#include "rd_err.h"
#include "registry.h"
#include "relay_view.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            (void)fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static struct {
    bool ready;
    struct registry *reg;
    struct catalog *cat;
    struct relay_view *view;
    struct policy_candidate cands[RD_BROKER_MAX_RELAYS];
    struct router_self self;
    struct metrics m;
    uint8_t key[32];
    uint64_t seq;
} g;

static const char *const relay_ids[2] = {"relay-a", "relay-b"};

static void
setup_once(void)
{
    if (g.ready)
        return;
    log_max_level = RD_LOG_ERR; /* peer errors are expected by the thousand */
    char err[256];
    CHECK(registry_open(":memory:", &g.reg, err, sizeof(err)) == RD_OK);
    struct reg_site site = {.id = "hq", .name = "HQ"};
    CHECK(registry_site_add(g.reg, &site) == RD_OK);
    struct reg_camera cam = {.id = "lobby",
                             .name = "Lobby",
                             .site_id = "hq",
                             .max_relays = 2,
                             .enabled = true,
                             .upstream_url = "rtsp://192.0.2.1/s"};
    CHECK(registry_camera_add(g.reg, &cam) == RD_OK);
    memcpy(cam.id, "gate", 5);
    cam.auth_required = true;
    CHECK(registry_camera_add(g.reg, &cam) == RD_OK);
    memcpy(cam.id, "off", 4);
    cam.auth_required = false;
    cam.enabled = false;
    CHECK(registry_camera_add(g.reg, &cam) == RD_OK);
    for (int i = 0; i < 2; i++) {
        struct reg_relay r = {.site_id = "hq", .capacity_viewers = 1000000, .capacity_mbps = 1000};
        snprintf(r.id, sizeof(r.id), "%s", relay_ids[i]);
        snprintf(r.name, sizeof(r.name), "%s", relay_ids[i]);
        snprintf(r.base_url, sizeof(r.base_url), "rtsp://10.0.0.%d:8555", i + 1);
        struct reg_relay_key k;
        CHECK(registry_relay_add(g.reg, &r, &k) == RD_OK);
    }
    struct reg_user u = {.name = "ann", .realm = "rtsp-director"};
    CHECK(registry_user_ha1(&u, "secret") == RD_OK);
    CHECK(registry_user_add(g.reg, &u) == RD_OK);
    CHECK(registry_user_grant(g.reg, "ann", "gate") == RD_OK);
    CHECK(catalog_load(g.reg, &g.cat) == RD_OK);
    struct relay_view_params p;
    relay_view_params_default(&p);
    p.max_relays = 4;
    p.max_cameras = 16;
    p.max_pulls = 16;
    CHECK(relay_view_create(&p, &g.view) == RD_OK);
    for (int i = 0; i < 2; i++) {
        const struct catalog_relay *r = catalog_relay(g.cat, relay_ids[i]);
        struct relay_view_config c = {
            r->relay.id,         r->relay.site_id,          r->relay.base_url,
            POLICY_RELAY_ACTIVE, r->relay.capacity_viewers, 0};
        CHECK(relay_view_relay_set(g.view, &c) == RD_OK);
    }
    CHECK(router_self_add(&g.self, "broker.test", 8554) == RD_OK);
    memset(g.key, 7, sizeof(g.key));
    metrics_init(&g.m);
    g.ready = true;
}

/* Keeps both relays healthy with fresh beats (which also clear the reservations). */
static void
beat_all(double now)
{
    for (int i = 0; i < 2; i++) {
        struct relay_view_hb hb = {.boot_id = "fuzz", .seq = ++g.seq};
        CHECK(relay_view_heartbeat(g.view, relay_ids[i], &hb, now, NULL) == RD_OK);
    }
    struct relay_view_transition tr[4];
    (void)relay_view_tick(g.view, now, tr, 4);
}

static bool
status_known(int s)
{
    static const int ok[] = {200, 302, 400, 401, 403, 404, 405, 454, 500, 501, 503};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (s == ok[i])
            return true;
    }
    return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    double now = 1000.0 + (double)g.seq;
    beat_all(now);
    struct router_env env = {
        .cat = g.cat,
        .view = g.view,
        .now = now,
        .wall_ms = 1700000000000LL,
        .scheme = URL_SCHEME_RTSP,
        .token_ttl_s = 60,
        .retry_after_s = 5,
        .realm = "rtsp-director",
        .nonce_key = g.key,
        .nonce_key_len = sizeof(g.key),
        .self = &g.self,
        .cands = g.cands,
        .cands_cap = RD_BROKER_MAX_RELAYS,
        .metrics = &g.m,
        .token_bind_ip = size > 0 && (data[0] & 1),
    };
    struct router_peer peer = {"192.0.2.9:4000", "192.0.2.9", NULL};
    const char *p = (const char *)data;
    size_t left = size;
    for (int i = 0; i < RD_RTSP_MAX_PIPELINED && left > 0; i++) {
        static struct rtsp_msg msg, resp;
        ssize_t n = rtsp_msg_parse_request(p, left, &msg);
        if (n <= 0)
            break;
        char out[ROUTER_RESPONSE_MAX]; /* the documented worst case must fit */
        struct rtsp_out o;
        rtsp_out_init(&o, out, sizeof(out), 0);
        struct router_result res;
        int rc = router_handle(&env, &msg, &peer, &o, &res);
        CHECK(rc == RD_OK);
        CHECK(o.len > 0 && o.len <= ROUTER_RESPONSE_MAX && !o.open);
        CHECK(rtsp_msg_parse_response(out, o.len, &resp) == (ssize_t)o.len);
        CHECK(resp.status == res.status && status_known(res.status));
        CHECK(resp.cseq == msg.cseq);
        struct rd_str loc;
        if (res.status == 302) {
            CHECK(res.close_after);
            CHECK(rtsp_msg_header(&resp, "Location", &loc));
            CHECK(rd_str_starts_with_ci(loc, "rtsp://10.0.0.1:8555/v1/")
                  || rd_str_starts_with_ci(loc, "rtsp://10.0.0.2:8555/v1/"));
        } else {
            CHECK(!rtsp_msg_header(&resp, "Location", &loc));
        }
        p += n;
        left -= (size_t)n;
    }
    return 0;
}
