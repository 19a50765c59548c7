/* SPDX-License-Identifier: MIT */
/* relay_view.c: registry config, heartbeat order (replay, reorder, boot change), health
 * hysteresis, reservations, pull index and snapshots, dirty collection, table limits, a
 * model-checked random workload, bursts through policy_pick, and the design-point scale. */
#include "rd_test.h"

#include <time.h>

#include "policy.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "relay_view.h"

#define PLAYING  RELAY_VIEW_CAM_PLAYING
#define STARTING RELAY_VIEW_CAM_STARTING
#define RETRYING RELAY_VIEW_CAM_RETRYING
#define FAILED   RELAY_VIEW_CAM_FAILED

static struct relay_view *
mkview(uint32_t relays, uint32_t cameras, uint32_t pulls)
{
    struct relay_view_params p;
    relay_view_params_default(&p);
    p.max_relays = relays;
    p.max_cameras = cameras;
    p.max_pulls = pulls;
    struct relay_view *v = NULL;
    assert_int_equal(relay_view_create(&p, &v), RD_OK);
    assert_non_null(v);
    return v;
}

static void
add_relay(struct relay_view *v, const char *id, const char *site, enum policy_relay_state st,
          uint32_t cap)
{
    struct relay_view_config c = {
        .id = id, .site = site, .rtsp_base_url = "rtsp://r:8555", .state = st, .cap_viewers = cap};
    assert_int_equal(relay_view_relay_set(v, &c), RD_OK);
}

/* A heartbeat with load and cameras; returns the rc. */
static int
beat_full(struct relay_view *v, const char *id, const char *boot, uint64_t seq, double now,
          uint32_t viewers, uint32_t egress, const struct relay_view_hb_camera *cams, size_t n,
          struct relay_view_hb_result *res)
{
    struct relay_view_hb hb = {.boot_id = boot,
                               .seq = seq,
                               .viewers = viewers,
                               .egress_kbps = egress,
                               .cameras = cams,
                               .n_cameras = n};
    return relay_view_heartbeat(v, id, &hb, now, res);
}

static int
beat(struct relay_view *v, const char *id, uint64_t seq, double now,
     const struct relay_view_hb_camera *cams, size_t n)
{
    return beat_full(v, id, "boot-1", seq, now, 0, 0, cams, n, NULL);
}

/* Two beats and a tick: healthy. */
static void
make_healthy(struct relay_view *v, const char *id, uint64_t *seq, double now)
{
    struct relay_view_transition tr[8];
    assert_int_equal(beat(v, id, ++*seq, now - 0.5, NULL, 0), RD_OK);
    assert_int_equal(beat(v, id, ++*seq, now, NULL, 0), RD_OK);
    (void)relay_view_tick(v, now, tr, 8);
    struct relay_view_relay_info info;
    assert_int_equal(relay_view_relay_get(v, id, &info), RD_OK);
    assert_true(info.healthy);
}

static const struct policy_candidate *
cand_of(const struct policy_input *in, const char *id)
{
    for (size_t i = 0; i < in->n_cands; i++) {
        if (strcmp(in->cands[i].id, id) == 0)
            return &in->cands[i];
    }
    fail_msg("no candidate %s", id);
    return NULL;
}

static void
snap(const struct relay_view *v, const char *camera, double now, struct policy_candidate *cands,
     struct policy_input *in)
{
    struct policy_camera cam = {.id = camera, .site = "hq", .enabled = true};
    assert_int_equal(relay_view_snapshot_for(v, &cam, now, cands, RD_BROKER_MAX_RELAYS, in), RD_OK);
}

/* ---- create and configuration ----------------------------------------------------------- */

static void
test_create_params(void **state)
{
    (void)state;
    struct relay_view_params def;
    relay_view_params_default(&def);
    assert_int_equal(def.max_relays, RD_BROKER_MAX_RELAYS);
    assert_true(def.hb_interval_s == 1.0);
    assert_int_equal(def.unhealthy_after, 3);
    assert_int_equal(def.healthy_after, 2);
    struct relay_view *v = NULL;
    assert_int_equal(relay_view_create(&def, &v), RD_OK);
    relay_view_destroy(v);
    relay_view_destroy(NULL);

    struct {
        int field;
        double value;
    } bad[] = {
        {0, 0},
        {0, RD_BROKER_MAX_RELAYS + 1.0},
        {1, 0},
        {1, RD_BROKER_MAX_CAMERAS + 1.0},
        {2, 0},
        {2, RD_BROKER_MAX_PULLS + 1.0},
        {3, 0},
        {3, -1},
        {3, 60.5},
        {4, 0},
        {4, RELAY_VIEW_HYSTERESIS_MAX + 1.0},
        {5, 0},
        {5, RELAY_VIEW_HYSTERESIS_MAX + 1.0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct relay_view_params p = def;
        switch (bad[i].field) {
        case 0:
            p.max_relays = (uint32_t)bad[i].value;
            break;
        case 1:
            p.max_cameras = (uint32_t)bad[i].value;
            break;
        case 2:
            p.max_pulls = (uint32_t)bad[i].value;
            break;
        case 3:
            p.hb_interval_s = bad[i].value;
            break;
        case 4:
            p.unhealthy_after = (uint32_t)bad[i].value;
            break;
        default:
            p.healthy_after = (uint32_t)bad[i].value;
            break;
        }
        static int sentinel;
        v = (struct relay_view *)(void *)&sentinel; /* must be reset to NULL on failure */
        assert_int_equal(relay_view_create(&p, &v), RD_EPROTO);
        assert_null(v);
    }
}

static void
test_relay_config(void **state)
{
    (void)state;
    struct relay_view *v = mkview(3, 16, 16);
    char long_id[RD_RELAY_ID_MAX + 2], long_url[RD_RELAY_URL_MAX + 2];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    memset(long_url, 'u', sizeof(long_url) - 1);
    long_url[sizeof(long_url) - 1] = '\0';
    struct {
        const char *id, *site, *url;
        int state, rc;
    } rows[] = {
        {"relay-a", "hq", "rtsp://a:8555", POLICY_RELAY_ACTIVE, RD_OK},
        {"", "hq", "rtsp://a:8555", POLICY_RELAY_ACTIVE, RD_EPROTO},
        {NULL, "hq", "rtsp://a:8555", POLICY_RELAY_ACTIVE, RD_EPROTO},
        {"relay a", "hq", "rtsp://a:8555", POLICY_RELAY_ACTIVE, RD_EPROTO},
        {"relay\n", "hq", "rtsp://a:8555", POLICY_RELAY_ACTIVE, RD_EPROTO},
        {"relay\x80", "hq", "rtsp://a:8555", POLICY_RELAY_ACTIVE, RD_EPROTO},
        {long_id, "hq", "rtsp://a:8555", POLICY_RELAY_ACTIVE, RD_ELIMIT},
        {long_id + 1, "hq", "rtsp://a:8555", POLICY_RELAY_ACTIVE, RD_OK}, /* exactly 64 */
        {"relay-b", "h q", "rtsp://a:8555", POLICY_RELAY_ACTIVE, RD_EPROTO},
        {"relay-b", long_id, "rtsp://a:8555", POLICY_RELAY_ACTIVE, RD_ELIMIT},
        {"relay-b", "", "", POLICY_RELAY_ACTIVE, RD_EPROTO},
        {"relay-b", "", "rtsp://a:8555/\r\nX: y", POLICY_RELAY_ACTIVE, RD_EPROTO},
        {"relay-b", "", long_url, POLICY_RELAY_ACTIVE, RD_ELIMIT},
        {"relay-b", "", "rtsp://a:8555", 3, RD_EPROTO},
        {"relay-b", "", long_url + 1, POLICY_RELAY_DRAINING, RD_OK},          /* exactly 512 */
        {"relay-c", "hq", "rtsp://c:8555", POLICY_RELAY_DISABLED, RD_ELIMIT}, /* 4th relay */
        {"relay-a", "lab", "rtsp://a2:8555", POLICY_RELAY_DRAINING, RD_OK},   /* update */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct relay_view_config c = {.id = rows[i].id,
                                      .site = rows[i].site,
                                      .rtsp_base_url = rows[i].url,
                                      .state = (enum policy_relay_state)rows[i].state,
                                      .cap_viewers = 10};
        int rc = relay_view_relay_set(v, &c);
        if (rc != rows[i].rc) {
            print_error("row %zu: rc %d want %d\n", i, rc, rows[i].rc);
            fail();
        }
    }
    assert_int_equal(relay_view_relay_count(v), 3);
    struct relay_view_relay_info info;
    assert_int_equal(relay_view_relay_get(v, "relay-a", &info), RD_OK);
    assert_string_equal(info.site, "lab");
    assert_string_equal(info.rtsp_base_url, "rtsp://a2:8555");
    assert_int_equal(info.op_state, POLICY_RELAY_DRAINING);
    assert_int_equal(relay_view_relay_get(v, "relay-b", &info), RD_OK);
    assert_int_equal(strlen(info.rtsp_base_url), RD_RELAY_URL_MAX);
    assert_int_equal(relay_view_relay_get(v, "relay-x", &info), RD_ENOTFOUND);
    assert_int_equal(relay_view_relay_get(v, "bad id", &info), RD_ENOTFOUND);

    /* An update keeps heartbeat state. */
    assert_int_equal(beat_full(v, "relay-a", "b", 7, 1.0, 3, 300, NULL, 0, NULL), RD_OK);
    add_relay(v, "relay-a", "hq", POLICY_RELAY_ACTIVE, 20);
    assert_int_equal(relay_view_relay_get(v, "relay-a", &info), RD_OK);
    assert_int_equal(info.seq, 7);
    assert_int_equal(info.viewers, 3);
    assert_int_equal(info.cap_viewers, 20);
    assert_string_equal(info.boot_id, "b");

    /* Remove, then the id is free again (and gets fresh state). */
    assert_int_equal(relay_view_relay_remove(v, "relay-a"), RD_OK);
    assert_int_equal(relay_view_relay_remove(v, "relay-a"), RD_ENOTFOUND);
    assert_int_equal(relay_view_relay_count(v), 2);
    add_relay(v, "relay-a", "hq", POLICY_RELAY_ACTIVE, 20);
    assert_int_equal(relay_view_relay_get(v, "relay-a", &info), RD_OK);
    assert_false(info.ever_beat);
    assert_int_equal(info.seq, 0);
    relay_view_destroy(v);
}

static void
test_effective_state_and_capacity(void **state)
{
    (void)state;
    struct relay_view *v = mkview(8, 16, 16);
    struct {
        enum policy_relay_state op;
        bool hb_draining;
        uint32_t reg_cap, hb_cap, reg_kbps, hb_kbps;
        enum policy_relay_state want_state;
        uint32_t want_cap, want_kbps;
    } rows[] = {
        {POLICY_RELAY_ACTIVE, false, 100, 0, 0, 0, POLICY_RELAY_ACTIVE, 100, 0},
        {POLICY_RELAY_ACTIVE, true, 0, 50, 0, 9000, POLICY_RELAY_DRAINING, 50, 9000},
        {POLICY_RELAY_DISABLED, true, 100, 50, 8000, 9000, POLICY_RELAY_DISABLED, 50, 8000},
        {POLICY_RELAY_DRAINING, false, 10, 50, 0, 0, POLICY_RELAY_DRAINING, 10, 0},
        {POLICY_RELAY_ACTIVE, false, 0, 0, 0, 0, POLICY_RELAY_ACTIVE, 0, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char id[16];
        assert_true(snprintf(id, sizeof(id), "r%zu", i) > 0);
        struct relay_view_config c = {.id = id,
                                      .site = "hq",
                                      .rtsp_base_url = "rtsp://r",
                                      .state = rows[i].op,
                                      .cap_viewers = rows[i].reg_cap,
                                      .cap_egress_kbps = rows[i].reg_kbps};
        assert_int_equal(relay_view_relay_set(v, &c), RD_OK);
        struct relay_view_hb hb = {.boot_id = "b",
                                   .seq = 1,
                                   .draining = rows[i].hb_draining,
                                   .cap_viewers = rows[i].hb_cap,
                                   .cap_egress_kbps = rows[i].hb_kbps};
        assert_int_equal(relay_view_heartbeat(v, id, &hb, 1.0, NULL), RD_OK);
    }
    struct policy_candidate cands[RD_BROKER_MAX_RELAYS];
    struct policy_input in;
    snap(v, "cam", 1.0, cands, &in);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char id[16];
        assert_true(snprintf(id, sizeof(id), "r%zu", i) > 0);
        const struct policy_candidate *c = cand_of(&in, id);
        assert_int_equal(c->state, rows[i].want_state);
        assert_int_equal(c->cap_viewers, rows[i].want_cap);
        assert_int_equal(c->cap_egress_kbps, rows[i].want_kbps);
    }
    relay_view_destroy(v);
}

/* ---- heartbeats ------------------------------------------------------------------------- */

static void
test_heartbeat_order(void **state)
{
    (void)state;
    struct relay_view *v = mkview(4, 16, 16);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 100);
    struct {
        const char *boot;
        uint64_t seq;
        uint32_t viewers;
        int rc;
        enum relay_view_hb_outcome outcome;
        uint32_t want_viewers; /* load after the beat */
    } rows[] = {
        {"b1", 5, 1, RD_OK, RELAY_VIEW_HB_NEW_BOOT, 1},
        {"b1", 6, 2, RD_OK, RELAY_VIEW_HB_ACCEPTED, 2},
        {"b1", 6, 3, RD_EEXPIRED, RELAY_VIEW_HB_DUPLICATE, 2},
        {"b1", 4, 4, RD_EEXPIRED, RELAY_VIEW_HB_REORDERED, 2},
        {"b1", 0, 4, RD_EEXPIRED, RELAY_VIEW_HB_REORDERED, 2},
        {"b1", 100, 5, RD_OK, RELAY_VIEW_HB_ACCEPTED, 5}, /* gaps are fine */
        {"b2", 1, 6, RD_OK, RELAY_VIEW_HB_NEW_BOOT, 6},   /* restart: seq starts over */
        {"b1", 101, 7, RD_EEXPIRED, RELAY_VIEW_HB_OLD_BOOT, 6},
        {"b2", 1, 7, RD_EEXPIRED, RELAY_VIEW_HB_DUPLICATE, 6},
        {"b2", 2, 8, RD_OK, RELAY_VIEW_HB_ACCEPTED, 8},
        {"b3", 0, 9, RD_OK, RELAY_VIEW_HB_NEW_BOOT, 9},
        {"b2", 3, 1, RD_EEXPIRED, RELAY_VIEW_HB_OLD_BOOT, 9},
        /* Only one previous boot is remembered; older ones are the caller's timestamp
         * window's job (heartbeats are signed over a timestamp). */
        {"b1", 102, 2, RD_OK, RELAY_VIEW_HB_NEW_BOOT, 2},
        {"b1", UINT64_MAX, 3, RD_OK, RELAY_VIEW_HB_ACCEPTED, 3},
        {"b1", UINT64_MAX, 4, RD_EEXPIRED, RELAY_VIEW_HB_DUPLICATE, 3},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct relay_view_hb_result res;
        int rc = beat_full(v, "a", rows[i].boot, rows[i].seq, 1.0 + (double)i * 0.5,
                           rows[i].viewers, 0, NULL, 0, &res);
        struct relay_view_relay_info info;
        assert_int_equal(relay_view_relay_get(v, "a", &info), RD_OK);
        if (rc != rows[i].rc || res.outcome != rows[i].outcome
            || info.viewers != rows[i].want_viewers) {
            print_error("row %zu: rc %d outcome %s viewers %u\n", i, rc,
                        relay_view_hb_outcome_name(res.outcome), info.viewers);
            fail();
        }
    }
    struct relay_view_stats st;
    relay_view_get_stats(v, &st);
    assert_int_equal(st.hb_accepted, 8);
    assert_int_equal(st.hb_new_boot, 4);
    assert_int_equal(st.hb_stale, 7);
    relay_view_destroy(v);
}

static void
test_heartbeat_rejects(void **state)
{
    (void)state;
    struct relay_view *v = mkview(4, 2048, 2048);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 100);
    static struct relay_view_hb_camera many[RD_HEARTBEAT_MAX_CAMERAS + 1];
    static char names[RD_HEARTBEAT_MAX_CAMERAS + 1][16];
    for (size_t i = 0; i < RD_HEARTBEAT_MAX_CAMERAS + 1; i++) {
        assert_true(snprintf(names[i], sizeof(names[i]), "cam-%zu", i) > 0);
        many[i] = (struct relay_view_hb_camera){.id = names[i], .state = PLAYING, .viewers = 1};
    }
    char long_cam[RD_CAMERA_ID_MAX + 2], long_boot[RD_HEARTBEAT_BOOT_ID_MAX + 2];
    memset(long_cam, 'c', sizeof(long_cam) - 1);
    long_cam[sizeof(long_cam) - 1] = '\0';
    memset(long_boot, 'b', sizeof(long_boot) - 1);
    long_boot[sizeof(long_boot) - 1] = '\0';

    struct relay_view_hb_camera bad_id[] = {{"ok", PLAYING, 1, 0, 0}, {"a/b", PLAYING, 1, 0, 0}};
    struct relay_view_hb_camera empty_id[] = {{"", PLAYING, 1, 0, 0}};
    struct relay_view_hb_camera null_id[] = {{NULL, PLAYING, 1, 0, 0}};
    struct relay_view_hb_camera long_id[] = {{long_cam, PLAYING, 1, 0, 0}};
    struct relay_view_hb_camera max_id[] = {{long_cam + 1, PLAYING, 1, 0, 0}};
    struct relay_view_hb_camera bad_state[] = {{"ok", (enum relay_view_cam_state)9, 1, 0, 0}};
    struct {
        const char *boot;
        const struct relay_view_hb_camera *cams;
        size_t n;
        int rc;
    } rows[] = {
        {"", NULL, 0, RD_EPROTO},
        {NULL, NULL, 0, RD_EPROTO},
        {"boot 1", NULL, 0, RD_EPROTO},
        {long_boot, NULL, 0, RD_EPROTO},
        {"b", NULL, 3, RD_EPROTO},
        {"b", bad_id, 2, RD_EPROTO},
        {"b", empty_id, 1, RD_EPROTO},
        {"b", null_id, 1, RD_EPROTO},
        {"b", long_id, 1, RD_EPROTO},
        {"b", bad_state, 1, RD_EPROTO},
        {"b", many, RD_HEARTBEAT_MAX_CAMERAS + 1, RD_ELIMIT},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct relay_view_hb_result res;
        struct relay_view_hb hb = {.boot_id = rows[i].boot,
                                   .seq = 1,
                                   .viewers = 9,
                                   .cameras = rows[i].cams,
                                   .n_cameras = rows[i].n};
        int rc = relay_view_heartbeat(v, "a", &hb, 1.0, &res);
        if (rc != rows[i].rc || res.outcome != RELAY_VIEW_HB_REJECTED) {
            print_error("row %zu: rc %d outcome %d\n", i, rc, res.outcome);
            fail();
        }
    }
    /* Nothing was applied. */
    struct relay_view_relay_info info;
    assert_int_equal(relay_view_relay_get(v, "a", &info), RD_OK);
    assert_false(info.ever_beat);
    assert_int_equal(info.viewers, 0);
    assert_int_equal(info.n_pulls, 0);
    struct relay_view_stats st;
    relay_view_get_stats(v, &st);
    assert_int_equal(st.hb_rejected, sizeof(rows) / sizeof(rows[0]));
    assert_int_equal(st.n_cameras, 0);

    /* Unknown relay. */
    struct relay_view_hb_result res;
    assert_int_equal(beat_full(v, "nobody", "b", 1, 1.0, 0, 0, NULL, 0, &res), RD_ENOTFOUND);
    assert_int_equal(res.outcome, RELAY_VIEW_HB_REJECTED);
    assert_int_equal(beat_full(v, "bad id", "b", 1, 1.0, 0, 0, NULL, 0, &res), RD_ENOTFOUND);
    relay_view_get_stats(v, &st);
    assert_int_equal(st.hb_unknown_relay, 2);

    /* Exactly the limits: 1024 cameras, a 64-byte camera id and boot id. */
    assert_int_equal(
        beat_full(v, "a", long_boot + 1, 1, 1.0, 0, 0, many, RD_HEARTBEAT_MAX_CAMERAS, &res),
        RD_OK);
    assert_int_equal(res.n_pulls, RD_HEARTBEAT_MAX_CAMERAS);
    assert_int_equal(beat_full(v, "a", long_boot + 1, 2, 1.5, 0, 0, max_id, 1, &res), RD_OK);
    assert_int_equal(res.n_pulls, 1);

    /* A camera listed twice: the first entry counts. */
    struct relay_view_hb_camera dup[] = {{"lobby", PLAYING, 4, 0, 0}, {"lobby", FAILED, 9, 0, 0}};
    assert_int_equal(beat_full(v, "a", long_boot + 1, 3, 2.0, 0, 0, dup, 2, &res), RD_OK);
    assert_int_equal(res.n_duplicates, 1);
    assert_int_equal(res.n_pulls, 1);
    relay_view_destroy(v);
}

/* ---- health hysteresis ------------------------------------------------------------------ */

struct hstep {
    char op; /* 'b' beat, 't' tick, 's' snapshot health only */
    double t;
    bool healthy; /* after the step: relay_get for 'b'/'t', the candidate for 's' */
    int trans;    /* 't' only: -1 none, 0 to unhealthy, 1 to healthy */
};

static void
run_health(const struct relay_view_params *p, const struct hstep *steps, size_t n)
{
    struct relay_view *v = NULL;
    assert_int_equal(relay_view_create(p, &v), RD_OK);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 100);
    uint64_t seq = 0;
    for (size_t i = 0; i < n; i++) {
        const struct hstep *s = &steps[i];
        bool healthy;
        int trans = -1;
        if (s->op == 'b') {
            assert_int_equal(beat(v, "a", ++seq, s->t, NULL, 0), RD_OK);
        } else if (s->op == 't') {
            struct relay_view_transition tr[2];
            size_t nt = relay_view_tick(v, s->t, tr, 2);
            assert_true(nt <= 1);
            if (nt == 1) {
                assert_string_equal(tr[0].relay_id, "a");
                trans = tr[0].healthy;
            }
        }
        if (s->op == 's') {
            struct policy_candidate cands[4];
            struct policy_input in;
            struct policy_camera cam = {.id = "c", .site = "hq", .enabled = true};
            assert_int_equal(relay_view_snapshot_for(v, &cam, s->t, cands, 4, &in), RD_OK);
            healthy = cands[0].healthy;
        } else {
            struct relay_view_relay_info info;
            assert_int_equal(relay_view_relay_get(v, "a", &info), RD_OK);
            healthy = info.healthy;
        }
        if (healthy != s->healthy || (s->op == 't' && trans != s->trans)) {
            print_error("step %zu (%c at %.2f): healthy %d transition %d\n", i, s->op, s->t,
                        healthy, trans);
            fail();
        }
    }
    relay_view_destroy(v);
}

static void
test_health_hysteresis(void **state)
{
    (void)state;
    struct relay_view_params p;
    relay_view_params_default(&p); /* 1 s, unhealthy after 3 missed, healthy after 2 */
    static const struct hstep steps[] = {
        {'t', 0.0, false, -1}, /* never heard from */
        {'s', 0.0, false, -1},
        {'b', 0.0, false, -1},
        {'t', 0.1, false, -1}, /* one good beat is not enough */
        {'b', 1.0, false, -1},
        {'s', 1.05, false, -1}, /* two beats, but no tick yet */
        {'t', 1.1, true, 1},
        {'s', 1.2, true, -1},
        {'t', 3.9, true, -1},
        {'t', 4.0, true, -1},   /* exactly 3 intervals: not yet missed */
        {'s', 4.01, false, -1}, /* stale before the tick notices */
        {'t', 4.01, false, 0},
        {'t', 5.0, false, -1},
        {'b', 5.0, false, -1}, /* gap 4: streak 1 */
        {'t', 5.1, false, -1},
        {'b', 8.5, false, -1}, /* gap 3.5: streak 1 again */
        {'t', 8.6, false, -1},
        {'b', 11.4, false, -1}, /* gap 2.9: streak 2 */
        {'t', 11.5, true, 1},
        /* Slow but steady beats (every 2.6 s) never flap. */
        {'b', 14.0, true, -1},
        {'t', 14.1, true, -1},
        {'b', 16.6, true, -1},
        {'t', 17.0, true, -1},
        {'b', 19.2, true, -1},
        {'t', 19.3, true, -1},
        /* A gap without a tick in between: the beat notices, the next tick reports it. */
        {'b', 25.0, false, -1},
        {'t', 25.1, false, 0},
        {'b', 26.0, false, -1},
        {'t', 26.1, true, 1},
        /* Flapping with long gaps: one beat at a time never makes it healthy. */
        {'t', 30.0, false, 0},
        {'b', 34.0, false, -1},
        {'t', 34.1, false, -1},
        {'b', 38.0, false, -1},
        {'t', 38.1, false, -1},
        {'b', 42.0, false, -1},
        {'t', 42.1, false, -1},
        {'b', 43.0, false, -1},
        {'t', 43.1, true, 1},
    };
    run_health(&p, steps, sizeof(steps) / sizeof(steps[0]));

    /* Other thresholds: 0.5 s interval, unhealthy after 5 missed (2.5 s), healthy after 3. */
    p.hb_interval_s = 0.5;
    p.unhealthy_after = 5;
    p.healthy_after = 3;
    static const struct hstep steps2[] = {
        {'b', 0.0, false, -1}, {'b', 0.5, false, -1}, {'t', 0.6, false, -1},  {'b', 1.0, false, -1},
        {'t', 1.1, true, 1},   {'t', 3.5, true, -1},  {'t', 3.51, false, 0},  {'b', 4.0, false, -1},
        {'b', 6.4, false, -1}, {'t', 6.5, false, -1}, {'b', 9.0, false, -1},  {'t', 9.1, false, -1},
        {'b', 9.5, false, -1}, {'t', 9.6, false, -1}, {'b', 10.0, false, -1}, {'t', 10.1, true, 1},
    };
    run_health(&p, steps2, sizeof(steps2) / sizeof(steps2[0]));

    /* healthy_after 1: the first beat is enough. */
    relay_view_params_default(&p);
    p.healthy_after = 1;
    static const struct hstep steps3[] = {
        {'b', 0.0, false, -1}, {'t', 0.1, true, 1}, {'t', 3.5, false, 0},
        {'b', 4.0, false, -1}, {'t', 4.1, true, 1},
    };
    run_health(&p, steps3, sizeof(steps3) / sizeof(steps3[0]));
}

static void
test_tick_cap(void **state)
{
    (void)state;
    struct relay_view *v = mkview(8, 4, 4);
    const char *ids[] = {"a", "b", "c"};
    uint64_t seq[3] = {0};
    for (size_t i = 0; i < 3; i++) {
        add_relay(v, ids[i], "hq", POLICY_RELAY_ACTIVE, 10);
        make_healthy(v, ids[i], &seq[i], 1.0);
    }
    struct relay_view_transition tr[2];
    bool seen[3] = {false};
    size_t n1 = relay_view_tick(v, 10.0, tr, 2);
    assert_int_equal(n1, 2);
    for (size_t i = 0; i < n1; i++) {
        assert_false(tr[i].healthy);
        assert_true(tr[i].last_hb_at == 1.0);
        seen[tr[i].relay_id[0] - 'a'] = true;
    }
    size_t n2 = relay_view_tick(v, 10.0, tr, 2);
    assert_int_equal(n2, 1);
    seen[tr[0].relay_id[0] - 'a'] = true;
    assert_true(seen[0] && seen[1] && seen[2]);
    assert_int_equal(relay_view_tick(v, 10.0, tr, 2), 0);
    assert_int_equal(relay_view_tick(v, 10.0, tr, 0), 0);
    struct relay_view_stats st;
    relay_view_get_stats(v, &st);
    assert_int_equal(st.n_healthy, 0);
    relay_view_destroy(v);
}

/* ---- pull index, snapshots, reservations ------------------------------------------------ */

static void
test_snapshot_pulls(void **state)
{
    (void)state;
    struct relay_view *v = mkview(8, 16, 16);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 100);
    add_relay(v, "b", "hq", POLICY_RELAY_ACTIVE, 100);
    add_relay(v, "c", "lab", POLICY_RELAY_ACTIVE, 100);
    add_relay(v, "d", "", POLICY_RELAY_DRAINING, 100);
    uint64_t sa = 0, sb = 0, sc = 0, sd = 0;
    const double t = 10.0;
    make_healthy(v, "a", &sa, t - 1);
    make_healthy(v, "b", &sb, t - 1);
    make_healthy(v, "c", &sc, t - 1);
    make_healthy(v, "d", &sd, t - 1);
    struct relay_view_hb_camera ca[] = {{"lobby", PLAYING, 5, 2000, 0},
                                        {"door", STARTING, 0, 0, 0}};
    struct relay_view_hb_camera cb[] = {{"lobby", FAILED, 0, 0, 0}};
    struct relay_view_hb_camera cc[] = {{"yard", PLAYING, 2, 1000, 0}};
    struct relay_view_hb_camera cd[] = {{"lobby", RETRYING, 0, 0, 0}};
    assert_int_equal(beat(v, "a", ++sa, t, ca, 2), RD_OK);
    assert_int_equal(beat(v, "b", ++sb, t, cb, 1), RD_OK);
    assert_int_equal(beat(v, "c", ++sc, t, cc, 1), RD_OK);
    assert_int_equal(beat(v, "d", ++sd, t, cd, 1), RD_OK);

    struct policy_candidate cands[RD_BROKER_MAX_RELAYS];
    struct policy_input in;
    snap(v, "lobby", t, cands, &in);
    assert_int_equal(in.n_cands, 4);
    assert_int_equal(in.n_pullers, 2); /* a playing, d retrying; b failed does not count */
    assert_true(cand_of(&in, "a")->pulls);
    assert_int_equal(cand_of(&in, "a")->pull_viewers, 5);
    assert_false(cand_of(&in, "b")->pulls);
    assert_false(cand_of(&in, "c")->pulls);
    assert_true(cand_of(&in, "d")->pulls);
    assert_true(cand_of(&in, "a")->healthy);
    assert_string_equal(cand_of(&in, "d")->site, "");
    assert_string_equal(in.camera.id, "lobby");
    assert_true(in.now == t);

    /* The policy on it: affinity to a; with budget 2 and a full, budget_exhausted. */
    struct policy_choice ch;
    in.camera.max_pullers = 2;
    assert_int_equal(policy_pick(&in, &ch), RD_OK);
    assert_string_equal(in.cands[ch.index].id, "a");
    assert_int_equal(ch.reason, POLICY_AFFINITY);
    cands[0].viewers = 100; /* a is first in snapshot order */
    assert_string_equal(cands[0].id, "a");
    assert_int_equal(policy_pick(&in, &ch), RD_EBUSY);
    assert_int_equal(ch.reason, POLICY_BUDGET_EXHAUSTED);

    snap(v, "yard", t, cands, &in);
    assert_int_equal(in.n_pullers, 1);
    assert_true(cand_of(&in, "c")->pulls);
    snap(v, "nowhere", t, cands, &in);
    assert_int_equal(in.n_pullers, 0);
    for (size_t i = 0; i < in.n_cands; i++)
        assert_false(in.cands[i].pulls);
    snap(v, "not/valid", t, cands, &in);
    assert_int_equal(in.n_pullers, 0);

    /* a goes stale: neither healthy nor counted; d keeps beating and keeps counting. */
    assert_int_equal(beat(v, "d", ++sd, t + 3, cd, 1), RD_OK);
    snap(v, "lobby", t + 3.5, cands, &in);
    assert_false(cand_of(&in, "a")->healthy);
    assert_false(cand_of(&in, "a")->pulls);
    assert_true(cand_of(&in, "d")->pulls);
    assert_int_equal(in.n_pullers, 1);

    /* Errors. */
    struct policy_camera cam = {.id = "lobby", .site = "hq", .enabled = true};
    assert_int_equal(relay_view_snapshot_for(v, &cam, t, cands, 3, &in), RD_ELIMIT);
    assert_int_equal(relay_view_snapshot_for(v, &cam, t, cands, 4, &in), RD_OK);
    cam.site = NULL;
    assert_int_equal(relay_view_snapshot_for(v, &cam, t, cands, 4, &in), RD_EPROTO);
    cam.site = "hq";
    cam.id = NULL;
    assert_int_equal(relay_view_snapshot_for(v, &cam, t, cands, 4, &in), RD_EPROTO);
    relay_view_destroy(v);
}

static void
count_pull(void *ctx, const struct relay_view_pull_info *p)
{
    (void)p;
    (*(unsigned *)ctx)++;
}

static void
grab_pull(void *ctx, const struct relay_view_pull_info *p)
{
    *(struct relay_view_pull_info *)ctx = *p;
}

struct find_pull {
    const char *relay;
    struct relay_view_pull_info info;
    unsigned found;
};

static void
find_pull(void *ctx, const struct relay_view_pull_info *p)
{
    struct find_pull *f = ctx;
    if (strcmp(p->relay_id, f->relay) == 0) {
        f->info = *p;
        f->found++;
    }
}

static void
test_reservations(void **state)
{
    (void)state;
    struct relay_view *v = mkview(8, 16, 16);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 100);
    add_relay(v, "b", "hq", POLICY_RELAY_ACTIVE, 100);
    uint64_t sa = 0, sb = 0;
    make_healthy(v, "a", &sa, 5.0);
    make_healthy(v, "b", &sb, 5.0);
    struct policy_candidate cands[RD_BROKER_MAX_RELAYS];
    struct policy_input in;

    /* Unknown camera, relay without viewers: no egress estimate. */
    assert_int_equal(relay_view_reserve(v, "a", "lobby", 5.1), RD_OK);
    snap(v, "lobby", 5.1, cands, &in);
    assert_int_equal(cand_of(&in, "a")->reserved_viewers, 1);
    assert_int_equal(cand_of(&in, "a")->reserved_kbps, 0);
    assert_true(cand_of(&in, "a")->pulls);
    assert_int_equal(cand_of(&in, "a")->pull_viewers, 0);
    assert_false(cand_of(&in, "b")->pulls);
    assert_int_equal(in.n_pullers, 1);
    /* A reservation counts for the budget: a second relay is refused with budget 1. */
    in.camera.max_pullers = 1;
    cands[0].reserved_viewers = 100; /* pretend a is full */
    struct policy_choice ch;
    assert_int_equal(policy_pick(&in, &ch), RD_EBUSY);
    assert_int_equal(ch.reason, POLICY_BUDGET_EXHAUSTED);

    /* b reports lobby playing at 3000 kbit/s: the estimate for a's next reservation. */
    struct relay_view_hb_camera cb[] = {{"lobby", PLAYING, 2, 3000, 0}};
    assert_int_equal(beat_full(v, "b", "boot-1", ++sb, 5.2, 2, 6000, cb, 1, NULL), RD_OK);
    assert_int_equal(relay_view_reserve(v, "a", "lobby", 5.3), RD_OK);
    /* a's own average (egress per viewer) for a camera nobody reports. */
    assert_int_equal(beat_full(v, "a", "boot-1", ++sa, 5.4, 10, 20000, NULL, 0, NULL), RD_OK);
    assert_int_equal(relay_view_reserve(v, "a", "door", 5.5), RD_OK);
    assert_int_equal(relay_view_reserve(v, "a", "door", 5.5), RD_OK);
    snap(v, "door", 5.5, cands, &in);
    /* a's beat at 5.4 cleared the first two reservations. */
    assert_int_equal(cand_of(&in, "a")->reserved_viewers, 2);
    assert_int_equal(cand_of(&in, "a")->reserved_kbps, 4000);
    assert_true(cand_of(&in, "a")->pulls);
    snap(v, "lobby", 5.5, cands, &in);
    assert_false(cand_of(&in, "a")->pulls); /* cleared by a's beat (a did not list it) */
    assert_true(cand_of(&in, "b")->pulls);
    assert_int_equal(relay_view_reserve(v, "b", "lobby", 5.6), RD_OK);
    assert_int_equal(relay_view_reserve(v, "a", "lobby", 5.6), RD_OK);
    snap(v, "lobby", 5.6, cands, &in);
    assert_int_equal(cand_of(&in, "a")->reserved_kbps, 4000 + 3000);
    assert_int_equal(cand_of(&in, "b")->reserved_kbps, 3000);

    struct relay_view_pull_info pi;
    unsigned n = 0;
    assert_int_equal(relay_view_foreach_pull_of(v, "door", count_pull, &n), RD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(relay_view_foreach_pull_of(v, "door", grab_pull, &pi), RD_OK);
    assert_int_equal(pi.reserved, 2);
    assert_false(pi.reported);

    /* A stale beat clears nothing; an accepted one clears all of a relay's reservations,
     * keeps the pairs it lists and drops the reserved-only ones. */
    struct relay_view_hb_camera ca[] = {{"lobby", STARTING, 1, 0, 0}};
    assert_int_equal(beat_full(v, "a", "boot-1", sa, 5.7, 10, 0, ca, 1, NULL), RD_EEXPIRED);
    snap(v, "door", 5.7, cands, &in);
    assert_int_equal(cand_of(&in, "a")->reserved_viewers, 3);
    assert_true(cand_of(&in, "a")->pulls);
    assert_int_equal(beat_full(v, "a", "boot-1", ++sa, 5.8, 13, 0, ca, 1, NULL), RD_OK);
    snap(v, "door", 5.8, cands, &in);
    assert_int_equal(cand_of(&in, "a")->reserved_viewers, 0);
    assert_int_equal(cand_of(&in, "a")->reserved_kbps, 0);
    assert_int_equal(cand_of(&in, "a")->viewers, 13);
    assert_false(cand_of(&in, "a")->pulls);
    assert_int_equal(relay_view_foreach_pull_of(v, "door", count_pull, &n), RD_ENOTFOUND);
    snap(v, "lobby", 5.8, cands, &in);
    assert_true(cand_of(&in, "a")->pulls);
    assert_int_equal(cand_of(&in, "b")->reserved_viewers, 1); /* b has not beaten since */
    assert_int_equal(in.n_pullers, 2);
    struct find_pull fa = {.relay = "a"}, fb = {.relay = "b"};
    assert_int_equal(relay_view_foreach_pull_of(v, "lobby", find_pull, &fa), RD_OK);
    assert_int_equal(relay_view_foreach_pull_of(v, "lobby", find_pull, &fb), RD_OK);
    assert_int_equal(fa.found, 1);
    assert_true(fa.info.reported);
    assert_int_equal(fa.info.reserved, 0); /* the reserved-only pair became a reported one */
    assert_int_equal(fa.info.viewers, 1);
    assert_int_equal(fb.found, 1);
    assert_int_equal(fb.info.reserved, 1);
    /* b's beat clears the reservation on the pair it lists, and a failed pair then stops
     * counting (a leftover reservation would keep it in the budget). */
    struct relay_view_hb_camera cbf[] = {{"lobby", FAILED, 0, 0, 0}};
    assert_int_equal(beat_full(v, "b", "boot-1", ++sb, 5.9, 0, 0, cbf, 1, NULL), RD_OK);
    fb.found = 0;
    assert_int_equal(relay_view_foreach_pull_of(v, "lobby", find_pull, &fb), RD_OK);
    assert_int_equal(fb.info.reserved, 0);
    snap(v, "lobby", 5.9, cands, &in);
    assert_false(cand_of(&in, "b")->pulls);
    assert_int_equal(in.n_pullers, 1);

    /* Errors. */
    assert_int_equal(relay_view_reserve(v, "zz", "lobby", 6.0), RD_ENOTFOUND);
    assert_int_equal(relay_view_reserve(v, "a", "lob by", 6.0), RD_EPROTO);
    assert_int_equal(relay_view_reserve(v, "a", "", 6.0), RD_EPROTO);
    struct relay_view_stats st;
    relay_view_get_stats(v, &st);
    assert_int_equal(st.reservations, 6);
    relay_view_destroy(v);
}

static void
test_since_and_boot(void **state)
{
    (void)state;
    struct relay_view *v = mkview(4, 8, 8);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 100);
    struct relay_view_hb_camera c[] = {{"lobby", PLAYING, 1, 100, 7}};
    struct relay_view_pull_info pi;
    assert_int_equal(relay_view_reserve(v, "a", "lobby", 0.5), RD_OK);
    assert_int_equal(beat_full(v, "a", "b1", 1, 1.0, 0, 0, c, 1, NULL), RD_OK);
    assert_int_equal(relay_view_foreach_pull_of(v, "lobby", grab_pull, &pi), RD_OK);
    assert_true(pi.since_at == 1.0); /* reported from 1.0, not reserved at 0.5 */
    assert_true(pi.reported);
    assert_int_equal(pi.drops, 7);
    assert_int_equal(pi.ingress_kbps, 100);
    assert_string_equal(pi.relay_id, "a");
    assert_string_equal(pi.camera_id, "lobby");
    assert_string_equal(relay_view_cam_state_name(pi.state), "playing");
    assert_int_equal(beat_full(v, "a", "b1", 2, 2.0, 0, 0, c, 1, NULL), RD_OK);
    assert_int_equal(relay_view_foreach_pull_of(v, "lobby", grab_pull, &pi), RD_OK);
    assert_true(pi.since_at == 1.0);
    assert_int_equal(beat_full(v, "a", "b2", 1, 3.0, 0, 0, c, 1, NULL), RD_OK);
    assert_int_equal(relay_view_foreach_pull_of(v, "lobby", grab_pull, &pi), RD_OK);
    assert_true(pi.since_at == 3.0);
    relay_view_destroy(v);
}

/* ---- dirty collection ------------------------------------------------------------------- */

struct rec {
    char log[64][48];
    unsigned n;
};

static void
rec_relay(void *ctx, const struct relay_view_relay_info *r)
{
    struct rec *rc = ctx;
    assert_true(rc->n < 64);
    int n = snprintf(rc->log[rc->n++], sizeof(rc->log[0]), "relay %s v%u %s", r->id, r->viewers,
                     r->healthy ? "up" : "down");
    assert_true(n > 0 && (size_t)n < sizeof(rc->log[0]));
}

static void
rec_pull(void *ctx, const struct relay_view_pull_info *p)
{
    struct rec *rc = ctx;
    assert_true(rc->n < 64);
    int n = snprintf(rc->log[rc->n++], sizeof(rc->log[0]), "%s %s/%s v%u",
                     p->removed ? "del" : "put", p->relay_id, p->camera_id, p->viewers);
    assert_true(n > 0 && (size_t)n < sizeof(rc->log[0]));
}

static void
expect_collect(struct relay_view *v, const char *const *want, size_t n_want, bool resync)
{
    struct rec rc = {0};
    struct relay_view_dirty_stats st;
    relay_view_collect_dirty(v, rec_relay, rec_pull, &rc, &st);
    bool ok = rc.n == n_want && st.resync_needed == resync && st.n_relays + st.n_pulls == rc.n;
    for (size_t i = 0; ok && i < n_want; i++)
        ok = strcmp(rc.log[i], want[i]) == 0;
    if (!ok) {
        print_error("collect gave %u records (resync %d), want %zu:\n", rc.n, st.resync_needed,
                    n_want);
        for (unsigned i = 0; i < rc.n; i++)
            print_error("  %s\n", rc.log[i]);
        fail();
    }
}

static void
test_dirty_collect(void **state)
{
    (void)state;
    struct relay_view *v = mkview(4, 16, 16);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 100);
    add_relay(v, "b", "hq", POLICY_RELAY_ACTIVE, 100);
    expect_collect(v, NULL, 0, false);

    struct relay_view_hb_camera c1[] = {{"lobby", PLAYING, 5, 100, 0}, {"door", STARTING, 0, 0, 0}};
    assert_int_equal(beat_full(v, "a", "b1", 1, 1.0, 5, 500, c1, 2, NULL), RD_OK);
    const char *w1[] = {"relay a v5 down", "put a/lobby v5", "put a/door v0"};
    expect_collect(v, w1, 3, false);
    expect_collect(v, NULL, 0, false);

    /* Same cameras and viewers (ingress and drops change): only the relay's load. */
    struct relay_view_hb_camera c2[] = {{"lobby", PLAYING, 5, 180, 3}, {"door", STARTING, 0, 0, 0}};
    assert_int_equal(beat_full(v, "a", "b1", 2, 2.0, 5, 501, c2, 2, NULL), RD_OK);
    const char *w2[] = {"relay a v5 down"};
    expect_collect(v, w2, 1, false);

    /* Stale beats, reservations and ticks without a transition change nothing. */
    assert_int_equal(beat_full(v, "a", "b1", 2, 2.1, 9, 0, c2, 2, NULL), RD_EEXPIRED);
    assert_int_equal(relay_view_reserve(v, "a", "yard", 2.2), RD_OK);
    assert_int_equal(relay_view_reserve(v, "a", "lobby", 2.2), RD_OK);
    expect_collect(v, NULL, 0, false);

    /* Viewers change, door stops, the reserved-only yard vanishes silently. */
    struct relay_view_hb_camera c3[] = {{"lobby", PLAYING, 6, 100, 0}};
    assert_int_equal(beat_full(v, "a", "b1", 3, 3.0, 6, 600, c3, 1, NULL), RD_OK);
    const char *w3[] = {"relay a v6 up", "put a/lobby v6", "del a/door v0"};
    struct relay_view_transition tr[4];
    assert_int_equal(relay_view_tick(v, 3.0, tr, 4), 1); /* a: 3 beats -> healthy */
    expect_collect(v, w3, 3, false);

    /* door comes, goes and comes back between two collects: changes come in order. */
    assert_int_equal(beat_full(v, "a", "b1", 4, 4.0, 6, 600, c1, 2, NULL), RD_OK);
    assert_int_equal(beat_full(v, "a", "b1", 5, 5.0, 6, 600, c3, 1, NULL), RD_OK);
    assert_int_equal(beat_full(v, "a", "b1", 6, 6.0, 6, 600, c1, 2, NULL), RD_OK);
    /* A record carries the pair's latest state: the first door pair is one removal. */
    const char *w4[] = {"relay a v6 up", "put a/lobby v5", "del a/door v0", "put a/door v0"};
    expect_collect(v, w4, 4, false);

    /* A state change is a change. */
    struct relay_view_hb_camera c4[] = {{"lobby", RETRYING, 5, 0, 0}, {"door", STARTING, 0, 0, 0}};
    assert_int_equal(beat_full(v, "a", "b1", 7, 7.0, 6, 600, c4, 2, NULL), RD_OK);
    const char *w5[] = {"relay a v6 up", "put a/lobby v5"};
    expect_collect(v, w5, 2, false);

    /* Health transitions mark the relay; b beats once and stays down, a goes down. */
    assert_int_equal(beat_full(v, "b", "x", 1, 7.5, 1, 0, NULL, 0, NULL), RD_OK);
    assert_int_equal(relay_view_tick(v, 10.5, tr, 4), 1);
    const char *w6[] = {"relay b v1 down", "relay a v6 down"};
    expect_collect(v, w6, 2, false);

    /* Removing a relay: its pairs are removals; the relay itself is not emitted. */
    assert_int_equal(beat_full(v, "a", "b1", 8, 11.0, 6, 600, c4, 2, NULL), RD_OK);
    assert_int_equal(relay_view_relay_remove(v, "a"), RD_OK);
    const char *w7[] = {"del a/door v0", "del a/lobby v5"}; /* newest pair first */
    expect_collect(v, w7, 2, false);
    struct relay_view_stats st;
    relay_view_get_stats(v, &st);
    assert_int_equal(st.n_cameras, 0);
    assert_int_equal(st.n_pulls, 0);
    assert_int_equal(st.n_relays, 1);

    /* NULL callbacks and stats are fine. */
    assert_int_equal(beat_full(v, "b", "x", 2, 12.0, 1, 0, c1, 2, NULL), RD_OK);
    relay_view_collect_dirty(v, NULL, NULL, NULL, NULL);
    expect_collect(v, NULL, 0, false);
    relay_view_destroy(v);
}

/* ---- table limits ----------------------------------------------------------------------- */

static void
test_limits_and_resync(void **state)
{
    (void)state;
    struct relay_view_hb_result res;
    struct relay_view_stats st;

    /* Pull table full of live pairs: the rest is dropped and reported. */
    struct relay_view *v = mkview(2, 16, 3);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 100);
    struct relay_view_hb_camera c4[] = {{"c1", PLAYING, 1, 0, 0},
                                        {"c2", PLAYING, 1, 0, 0},
                                        {"c3", PLAYING, 1, 0, 0},
                                        {"c4", PLAYING, 1, 0, 0}};
    assert_int_equal(beat_full(v, "a", "b", 1, 1.0, 0, 0, c4, 4, &res), RD_ELIMIT);
    assert_int_equal(res.outcome, RELAY_VIEW_HB_NEW_BOOT);
    assert_int_equal(res.n_dropped, 1);
    assert_int_equal(res.n_pulls, 3);
    relay_view_get_stats(v, &st);
    assert_int_equal(st.pulls_dropped, 1);
    assert_int_equal(st.n_cameras, 3); /* c4 was not left behind without a pair */
    /* Reservations still count on the relay when the pair cannot be stored. */
    assert_int_equal(relay_view_reserve(v, "a", "c9", 1.1), RD_ELIMIT);
    struct relay_view_relay_info info;
    assert_int_equal(relay_view_relay_get(v, "a", &info), RD_OK);
    assert_int_equal(info.reserved_viewers, 1);
    /* An existing pair needs no new slot. */
    assert_int_equal(relay_view_reserve(v, "a", "c1", 1.1), RD_OK);

    /* A beat's new pairs need slots while the old ones are still live (they stop at the
     * end of the beat): a full table drops them. */
    struct relay_view_hb_camera c456[] = {
        {"c4", PLAYING, 1, 0, 0}, {"c5", PLAYING, 1, 0, 0}, {"c6", PLAYING, 1, 0, 0}};
    assert_int_equal(beat_full(v, "a", "b", 2, 2.0, 0, 0, c4, 3, &res), RD_OK);
    assert_int_equal(beat_full(v, "a", "b", 3, 3.0, 0, 0, c456, 3, &res), RD_ELIMIT);
    assert_int_equal(res.n_dropped, 3);
    assert_int_equal(res.n_pulls, 0);
    /* The flusher did not collect: removed pairs fill the table, new ones reclaim them and
     * the next collect asks for a full resync. */
    assert_int_equal(beat_full(v, "a", "b", 4, 4.0, 0, 0, c456, 3, &res), RD_OK);
    assert_int_equal(res.n_dropped, 0);
    relay_view_get_stats(v, &st);
    assert_int_equal(st.removals_lost, 3);
    assert_int_equal(st.n_cameras, 3);
    const char *w[] = {"relay a v0 down", "put a/c4 v1", "put a/c5 v1", "put a/c6 v1"};
    expect_collect(v, w, 4, true);
    expect_collect(v, NULL, 0, false);
    unsigned n = 0;
    relay_view_foreach_pull(v, count_pull, &n);
    assert_int_equal(n, 3);
    relay_view_destroy(v);

    /* Camera table full. */
    v = mkview(2, 2, 16);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 100);
    assert_int_equal(beat_full(v, "a", "b", 1, 1.0, 0, 0, c4, 3, &res), RD_ELIMIT);
    assert_int_equal(res.n_dropped, 1);
    assert_int_equal(res.n_pulls, 2);
    relay_view_destroy(v);

    /* Relay table: the cap is on live relays; removed ones waiting for a collect are
     * reclaimed when a slot is needed. */
    v = mkview(2, 16, 16);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 100);
    add_relay(v, "b", "hq", POLICY_RELAY_ACTIVE, 100);
    struct relay_view_config cc = {.id = "c", .site = "hq", .rtsp_base_url = "rtsp://c"};
    assert_int_equal(relay_view_relay_set(v, &cc), RD_ELIMIT);
    assert_int_equal(beat_full(v, "a", "b", 1, 1.0, 0, 0, c4, 2, &res), RD_OK);
    expect_collect(v, (const char *[]){"relay a v0 down", "put a/c1 v1", "put a/c2 v1"}, 3, false);
    assert_int_equal(relay_view_relay_remove(v, "a"), RD_OK); /* slot held by 2 dead pairs */
    assert_int_equal(relay_view_relay_set(v, &cc), RD_OK);
    relay_view_get_stats(v, &st);
    assert_int_equal(st.removals_lost, 2);
    assert_int_equal(st.n_relays, 2);
    expect_collect(v, NULL, 0, true);
    relay_view_destroy(v);
}

static void
test_sync(void **state)
{
    (void)state;
    struct relay_view *v = mkview(8, 8, 8);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 1);
    add_relay(v, "b", "hq", POLICY_RELAY_ACTIVE, 1);
    add_relay(v, "c", "hq", POLICY_RELAY_ACTIVE, 1);
    relay_view_sync_begin(v);
    add_relay(v, "c", "hq", POLICY_RELAY_ACTIVE, 2);
    add_relay(v, "d", "hq", POLICY_RELAY_ACTIVE, 2);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 2);
    assert_int_equal(relay_view_sync_end(v), 1);
    struct relay_view_relay_info info;
    assert_int_equal(relay_view_relay_get(v, "b", &info), RD_ENOTFOUND);
    assert_int_equal(relay_view_relay_get(v, "a", &info), RD_OK);
    assert_int_equal(relay_view_relay_get(v, "c", &info), RD_OK);
    assert_int_equal(relay_view_relay_get(v, "d", &info), RD_OK);
    assert_int_equal(relay_view_relay_count(v), 3);
    relay_view_sync_begin(v);
    assert_int_equal(relay_view_sync_end(v), 3);
    assert_int_equal(relay_view_relay_count(v), 0);
    relay_view_destroy(v);
}

/* ---- a random workload checked against a plain model ------------------------------------ */

static uint64_t
xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#define M_RELAYS  8
#define M_CAMERAS 600

struct model_check {
    bool (*model)[M_CAMERAS];
    unsigned cam;
    unsigned n;
    bool ok;
};

static void
model_pull(void *ctx, const struct relay_view_pull_info *p)
{
    struct model_check *mc = ctx;
    unsigned r = (unsigned)(p->relay_id[1] - '0');
    mc->n++;
    if (r >= M_RELAYS || !mc->model[r][mc->cam] || p->removed)
        mc->ok = false;
}

static void
test_model_random(void **state)
{
    (void)state;
    /* Room for every relay's RD_HEARTBEAT_MAX_CAMERAS pairs twice: a beat's new pairs come before
     * the old stop. */
    struct relay_view *v = mkview(M_RELAYS, 1024, M_RELAYS * RD_HEARTBEAT_MAX_CAMERAS * 2);
    static bool model[M_RELAYS][M_CAMERAS];
    static char names[M_CAMERAS][16];
    memset(model, 0, sizeof(model));
    for (unsigned c = 0; c < M_CAMERAS; c++)
        assert_true(snprintf(names[c], sizeof(names[c]), "cam%u", c) > 0);
    char ids[M_RELAYS][4];
    uint64_t seq[M_RELAYS] = {0};
    for (unsigned r = 0; r < M_RELAYS; r++) {
        assert_true(snprintf(ids[r], sizeof(ids[r]), "r%u", r) > 0);
        add_relay(v, ids[r], "hq", POLICY_RELAY_ACTIVE, 100);
    }
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    struct relay_view_hb_camera cams[RD_HEARTBEAT_MAX_CAMERAS];
    double now = 1.0;
    for (unsigned round = 0; round < 3000; round++) {
        unsigned r = (unsigned)(xorshift(&rng) % M_RELAYS);
        unsigned op = (unsigned)(xorshift(&rng) % 20);
        now += 0.01;
        if (op == 0) {
            /* Registry removes and re-adds the relay: it loses everything. */
            assert_int_equal(relay_view_relay_remove(v, ids[r]), RD_OK);
            add_relay(v, ids[r], "hq", POLICY_RELAY_ACTIVE, 100);
            memset(model[r], 0, sizeof(model[r]));
            seq[r] = 0;
        } else if (op == 1) {
            relay_view_collect_dirty(v, NULL, NULL, NULL, NULL);
        } else {
            size_t n = (size_t)(xorshift(&rng) % RD_HEARTBEAT_MAX_CAMERAS);
            memset(model[r], 0, sizeof(model[r]));
            for (size_t i = 0; i < n; i++) {
                unsigned c = (unsigned)(xorshift(&rng) % M_CAMERAS);
                cams[i] =
                    (struct relay_view_hb_camera){.id = names[c], .state = PLAYING, .viewers = 1};
                model[r][c] = true;
            }
            struct relay_view_hb_result res;
            int rc = beat_full(v, ids[r], "b", ++seq[r], now, 0, 0, cams, n, &res);
            assert_int_equal(rc, RD_OK);
            assert_int_equal(res.n_dropped, 0);
        }
        /* Check a few cameras against the model, and the totals. */
        for (unsigned k = 0; k < 5; k++) {
            unsigned c = (unsigned)(xorshift(&rng) % M_CAMERAS);
            unsigned want = 0;
            for (unsigned rr = 0; rr < M_RELAYS; rr++)
                want += model[rr][c];
            struct model_check mc = {model, c, 0, true};
            int rc = relay_view_foreach_pull_of(v, names[c], model_pull, &mc);
            if (want > 0)
                assert_int_equal(rc, RD_OK);
            if (!mc.ok || mc.n != want) {
                print_error("round %u camera %u: %u pulls, want %u\n", round, c, mc.n, want);
                fail();
            }
        }
        struct relay_view_stats st;
        relay_view_get_stats(v, &st);
        unsigned total = 0, cams_used = 0;
        for (unsigned c = 0; c < M_CAMERAS; c++) {
            unsigned any = 0;
            for (unsigned rr = 0; rr < M_RELAYS; rr++) {
                total += model[rr][c];
                any |= model[rr][c];
            }
            cams_used += any;
        }
        assert_int_equal(st.n_pulls, total);
        if (op == 1)
            assert_int_equal(st.n_cameras, cams_used); /* no dead refs right after collect */
        else
            assert_true(st.n_cameras >= cams_used);
    }
    relay_view_destroy(v);
}

static void
test_relay_index_churn(void **state)
{
    (void)state;
    struct relay_view *v = mkview(RD_BROKER_MAX_RELAYS, 4, 4);
    static bool present[RD_BROKER_MAX_RELAYS * 2];
    static char ids[RD_BROKER_MAX_RELAYS * 2][16];
    memset(present, 0, sizeof(present));
    for (unsigned i = 0; i < RD_BROKER_MAX_RELAYS * 2; i++)
        assert_true(snprintf(ids[i], sizeof(ids[i]), "relay-%u", i) > 0);
    uint64_t rng = 12345;
    unsigned n_present = 0;
    for (unsigned round = 0; round < 20000; round++) {
        unsigned i = (unsigned)(xorshift(&rng) % (RD_BROKER_MAX_RELAYS * 2));
        if (present[i]) {
            assert_int_equal(relay_view_relay_remove(v, ids[i]), RD_OK);
            present[i] = false;
            n_present--;
        } else {
            struct relay_view_config c = {.id = ids[i], .site = "", .rtsp_base_url = "rtsp://x"};
            int rc = relay_view_relay_set(v, &c);
            if (n_present == RD_BROKER_MAX_RELAYS) {
                assert_int_equal(rc, RD_ELIMIT);
            } else {
                assert_int_equal(rc, RD_OK);
                present[i] = true;
                n_present++;
            }
        }
        if (round % 1000 == 999) {
            struct relay_view_relay_info info;
            for (unsigned k = 0; k < RD_BROKER_MAX_RELAYS * 2; k++) {
                int rc = relay_view_relay_get(v, ids[k], &info);
                assert_int_equal(rc, present[k] ? RD_OK : RD_ENOTFOUND);
                if (rc == RD_OK)
                    assert_string_equal(info.id, ids[k]);
            }
            assert_int_equal(relay_view_relay_count(v), n_present);
        }
    }
    relay_view_destroy(v);
}

/* ---- bursts through the real view ------------------------------------------------------- */

struct vburst {
    unsigned picked[2];
    unsigned refused;
    unsigned affinity;
};

static void
view_burst(struct relay_view *v, unsigned describes, bool one_camera, uint32_t budget,
           struct vburst *b)
{
    static struct policy_candidate cands[RD_BROKER_MAX_RELAYS];
    memset(b, 0, sizeof(*b));
    for (unsigned k = 0; k < describes; k++) {
        char cam[32];
        assert_true(snprintf(cam, sizeof(cam), "cam-%u", k) > 0);
        struct policy_camera camera = {
            .id = one_camera ? "hot" : cam, .site = "hq", .max_pullers = budget, .enabled = true};
        struct policy_input in;
        assert_int_equal(
            relay_view_snapshot_for(v, &camera, 10.0, cands, RD_BROKER_MAX_RELAYS, &in), RD_OK);
        struct policy_choice ch;
        if (policy_pick(&in, &ch) != RD_OK) {
            b->refused++;
            continue;
        }
        b->affinity += ch.reason == POLICY_AFFINITY;
        const char *id = in.cands[ch.index].id;
        b->picked[id[0] - 'a']++;
        assert_int_equal(relay_view_reserve(v, id, camera.id, 10.0), RD_OK);
        const struct policy_candidate *c = &in.cands[ch.index];
        assert_true(c->viewers + c->reserved_viewers < c->cap_viewers);
    }
}

static void
test_burst_through_view(void **state)
{
    (void)state;
    struct vburst b;
    uint64_t sa = 0, sb = 0;

    struct relay_view *v = mkview(4, 2048, 4096);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 1000);
    add_relay(v, "b", "hq", POLICY_RELAY_ACTIVE, 1000);
    make_healthy(v, "a", &sa, 10.0);
    make_healthy(v, "b", &sb, 10.0);
    view_burst(v, 1000, false, 0, &b);
    assert_int_equal(b.picked[0], 500);
    assert_int_equal(b.picked[1], 500);
    /* The next heartbeats report the viewers and clear the reservations. */
    assert_int_equal(beat_full(v, "a", "boot-1", ++sa, 10.5, 500, 0, NULL, 0, NULL), RD_OK);
    struct relay_view_relay_info info;
    assert_int_equal(relay_view_relay_get(v, "a", &info), RD_OK);
    assert_int_equal(info.reserved_viewers, 0);
    assert_int_equal(info.viewers, 500);
    assert_int_equal(relay_view_relay_get(v, "b", &info), RD_OK);
    assert_int_equal(info.reserved_viewers, 500);
    assert_int_equal(info.n_pulls, 500);
    relay_view_destroy(v);

    v = mkview(4, 2048, 4096);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 100);
    add_relay(v, "b", "hq", POLICY_RELAY_ACTIVE, 300);
    sa = sb = 0;
    make_healthy(v, "a", &sa, 10.0);
    make_healthy(v, "b", &sb, 10.0);
    view_burst(v, 1000, false, 0, &b);
    assert_int_equal(b.picked[0], 100);
    assert_int_equal(b.picked[1], 300);
    assert_int_equal(b.refused, 600);
    relay_view_destroy(v);

    /* One camera, budget 1: reservations make it sticky, the second relay is never used. */
    v = mkview(4, 2048, 4096);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 100);
    add_relay(v, "b", "hq", POLICY_RELAY_ACTIVE, 100);
    sa = sb = 0;
    make_healthy(v, "a", &sa, 10.0);
    make_healthy(v, "b", &sb, 10.0);
    view_burst(v, 1000, true, 1, &b);
    assert_int_equal(b.picked[0] + b.picked[1], 100);
    assert_true(b.picked[0] == 0 || b.picked[1] == 0);
    assert_int_equal(b.affinity, 99);
    assert_int_equal(b.refused, 900);
    relay_view_destroy(v);
}

/* ---- the affinity fast path (relay_view_snapshot_pullers) --------------------------------- */

static uint32_t
xs32(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Random fleets (sites, states, health, staleness, capacity, reservations, pull states):
 * for every camera, the pullers-only snapshot lists exactly the full snapshot's pullers, in the
 * same order with the same fields, and policy_pick answers affinity on it exactly when it
 * answers affinity on the full snapshot, with the same relay. */

/* Field by field: the structs' padding bytes are not part of the contract (memcmp over them
 * failed under clang's ASan build, where the two snapshot paths leave different bytes). */
static void
assert_cand_equal(const struct policy_candidate *a, const struct policy_candidate *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->site, b->site);
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->healthy, b->healthy);
    assert_int_equal(a->cap_viewers, b->cap_viewers);
    assert_int_equal(a->cap_egress_kbps, b->cap_egress_kbps);
    assert_int_equal(a->viewers, b->viewers);
    assert_int_equal(a->egress_kbps, b->egress_kbps);
    assert_int_equal(a->cpu_pct, b->cpu_pct);
    assert_int_equal(a->reserved_viewers, b->reserved_viewers);
    assert_int_equal(a->reserved_kbps, b->reserved_kbps);
    assert_int_equal(a->pulls, b->pulls);
    assert_int_equal(a->pull_viewers, b->pull_viewers);
    assert_int_equal(a->kids_reported, b->kids_reported);
    assert_int_equal(a->n_held_kids, b->n_held_kids);
    for (unsigned k = 0; k < a->n_held_kids; k++)
        assert_string_equal(a->held_kids[k], b->held_kids[k]);
}

static void
test_pullers_fast_path(void **state)
{
    (void)state;
    enum { RELAYS = 24, CAMS = 40 };
    static struct policy_candidate full[RD_BROKER_MAX_RELAYS], fast[RD_BROKER_MAX_RELAYS];
    static const char *const sites[] = {"hq", "edge", ""};
    static const enum relay_view_cam_state states[] = {PLAYING, PLAYING, STARTING, RETRYING,
                                                       FAILED};
    uint32_t x = 0x9e3779b9u;
    unsigned affinity = 0, fallback = 0, rounds = 0;
    for (int round = 0; round < 60; round++) {
        struct relay_view *v = mkview(RELAYS, 256, 4096);
        char ids[RELAYS][8], cams[CAMS][8];
        for (int c = 0; c < CAMS; c++)
            snprintf(cams[c], sizeof(cams[c]), "c%d", c);
        uint64_t seq[RELAYS] = {0};
        double now = 100.0;
        for (int r = 0; r < RELAYS; r++) {
            snprintf(ids[r], sizeof(ids[r]), "r%d", r);
            uint32_t st = xs32(&x) % 8;
            add_relay(v, ids[r], sites[xs32(&x) % 3],
                      st == 0   ? POLICY_RELAY_DRAINING
                      : st == 1 ? POLICY_RELAY_DISABLED
                                : POLICY_RELAY_ACTIVE,
                      xs32(&x) % 4 == 0 ? 3 : 50);
            uint32_t h = xs32(&x) % 6;
            if (h == 0)
                continue;                                                /* never beat: unhealthy */
            make_healthy(v, ids[r], &seq[r], h == 1 ? now - 30.0 : now); /* h == 1: stale */
            struct relay_view_hb_camera hc[12];
            size_t n = xs32(&x) % 12;
            for (size_t i = 0; i < n; i++)
                hc[i] = (struct relay_view_hb_camera){.id = cams[xs32(&x) % CAMS],
                                                      .state = states[xs32(&x) % 5],
                                                      .viewers = xs32(&x) % 3,
                                                      .ingress_kbps = 1000};
            struct relay_view_hb_result res;
            (void)beat_full(v, ids[r], "boot-1", ++seq[r], h == 1 ? now - 30.0 : now, xs32(&x) % 4,
                            0, hc, n, &res);
        }
        /* Some reservations: pairs held by a redirect only, and relays filling up. */
        for (int i = 0; i < 30; i++)
            (void)relay_view_reserve(v, ids[xs32(&x) % RELAYS], cams[xs32(&x) % CAMS], now);
        for (int c = 0; c < CAMS + 1; c++) {
            const char *cam = c < CAMS ? cams[c] : "unknown";
            struct policy_camera pc = {cam, sites[xs32(&x) % 2], xs32(&x) % 3, true};
            struct policy_input in_full, in_fast;
            struct policy_choice ch_full, ch_fast;
            assert_int_equal(
                relay_view_snapshot_for(v, &pc, now, full, RD_BROKER_MAX_RELAYS, &in_full), RD_OK);
            assert_int_equal(
                relay_view_snapshot_pullers(v, &pc, now, fast, RD_BROKER_MAX_RELAYS, &in_fast),
                RD_OK);
            assert_int_equal(in_fast.n_pullers, in_full.n_pullers);
            size_t k = 0;
            for (size_t i = 0; i < in_full.n_cands; i++) {
                if (!full[i].pulls)
                    continue;
                assert_true(k < in_fast.n_cands);
                assert_cand_equal(&fast[k], &full[i]);
                k++;
            }
            assert_int_equal(k, in_fast.n_cands);
            int rc_full = policy_pick(&in_full, &ch_full);
            int rc_fast = policy_pick(&in_fast, &ch_fast);
            bool aff_full = rc_full == RD_OK && ch_full.reason == POLICY_AFFINITY;
            bool aff_fast = rc_fast == RD_OK && ch_fast.reason == POLICY_AFFINITY;
            assert_int_equal(aff_fast, aff_full);
            if (aff_full) {
                assert_string_equal(fast[ch_fast.index].id, full[ch_full.index].id);
                assert_int_equal(ch_fast.score_ppm, ch_full.score_ppm);
                affinity++;
            } else {
                fallback++;
            }
            rounds++;
        }
        relay_view_destroy(v);
    }
    /* The random fleets exercise both outcomes. */
    assert_true(affinity > rounds / 10);
    assert_true(fallback > rounds / 10);

    /* Contract: same argument checks as relay_view_snapshot_for. */
    struct relay_view *v = mkview(4, 16, 16);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 10);
    add_relay(v, "b", "hq", POLICY_RELAY_ACTIVE, 10);
    struct policy_input in;
    struct policy_camera pc = {"c1", "hq", 0, true};
    assert_int_equal(relay_view_snapshot_pullers(v, &pc, 1.0, fast, 1, &in), RD_ELIMIT);
    struct policy_camera no_site = {"c1", NULL, 0, true};
    assert_int_equal(relay_view_snapshot_pullers(v, &no_site, 1.0, fast, 4, &in), RD_EPROTO);
    struct policy_camera bad = {"bad id", "hq", 0, true};
    assert_int_equal(relay_view_snapshot_pullers(v, &bad, 1.0, fast, 4, &in), RD_OK);
    assert_int_equal(in.n_cands, 0);
    relay_view_destroy(v);
}

/* ---- the design point: 200 relays, 10,000 cameras, 20,000 redirects --------------------- */

static void
test_scale(void **state)
{
    (void)state;
    struct relay_view *v = mkview(256, 16384, 32768);
    static char names[10000][16];
    static struct relay_view_hb_camera cams[100];
    for (unsigned c = 0; c < 10000; c++)
        assert_true(snprintf(names[c], sizeof(names[c]), "camera-%u", c) > 0);
    char id[16];
    for (unsigned r = 0; r < 200; r++) {
        assert_true(snprintf(id, sizeof(id), "relay-%03u", r) > 0);
        struct relay_view_config cfg = {
            .id = id, .site = r % 2 ? "hq" : "", .rtsp_base_url = "x", .cap_viewers = 100000};
        assert_int_equal(relay_view_relay_set(v, &cfg), RD_OK);
        /* Relay r pulls cameras (r/2)*100 .. +99: every camera on two relays. */
        for (unsigned k = 0; k < 100; k++)
            cams[k] = (struct relay_view_hb_camera){
                .id = names[(r / 2) * 100 + k], .state = PLAYING, .viewers = 1};
        assert_int_equal(beat_full(v, id, "b", 1, 0.5, 100, 0, cams, 100, NULL), RD_OK);
        assert_int_equal(beat_full(v, id, "b", 2, 1.0, 100, 0, cams, 100, NULL), RD_OK);
    }
    struct relay_view_transition tr[256];
    assert_int_equal(relay_view_tick(v, 1.0, tr, 256), 200);
    struct relay_view_stats st;
    relay_view_get_stats(v, &st);
    assert_int_equal(st.n_pulls, 20000);
    assert_int_equal(st.n_cameras, 10000);

    static struct policy_candidate cands[RD_BROKER_MAX_RELAYS];
    clock_t t0 = clock();
    unsigned affinity = 0;
    for (unsigned k = 0; k < 20000; k++) {
        struct policy_camera cam = {
            .id = names[(k * 7919u) % 10000], .site = "hq", .max_pullers = 2, .enabled = true};
        struct policy_input in;
        assert_int_equal(relay_view_snapshot_for(v, &cam, 1.2, cands, RD_BROKER_MAX_RELAYS, &in),
                         RD_OK);
        assert_int_equal(in.n_cands, 200);
        assert_int_equal(in.n_pullers, 2);
        struct policy_choice ch;
        assert_int_equal(policy_pick(&in, &ch), RD_OK);
        affinity += ch.reason == POLICY_AFFINITY;
        assert_int_equal(relay_view_reserve(v, in.cands[ch.index].id, cam.id, 1.2), RD_OK);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    print_message("20000 snapshot+pick+reserve over 200 relays: %.3f s CPU (%.0f/s)\n", secs,
                  20000 / (secs > 0 ? secs : 1e-9));
    assert_int_equal(affinity, 20000);
    /* Generous even under ASan; the design point needs 20,000/s on one core. */
    assert_true(secs < 5.0);
    relay_view_destroy(v);
}

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(relay_view_cam_state_name(STARTING), "starting");
    assert_string_equal(relay_view_cam_state_name(RETRYING), "retrying");
    assert_string_equal(relay_view_cam_state_name(FAILED), "failed");
    assert_string_equal(relay_view_cam_state_name((enum relay_view_cam_state)8), "unknown");
    assert_string_equal(relay_view_hb_outcome_name(RELAY_VIEW_HB_OLD_BOOT), "old_boot");
    assert_string_equal(relay_view_hb_outcome_name(RELAY_VIEW_HB_REJECTED), "rejected");
    assert_string_equal(relay_view_hb_outcome_name((enum relay_view_hb_outcome)42), "unknown");
}

/* ---- held token key ids ("kids") ------------------------------------------------------- */

static int
beat_kids(struct relay_view *v, const char *id, const char *boot, uint64_t seq, double now,
          bool reported, const char *const *kids, size_t n)
{
    static const struct relay_view_hb_camera cam = {.id = "lobby", .state = PLAYING};
    struct relay_view_hb hb = {.boot_id = boot,
                               .seq = seq,
                               .cameras = &cam,
                               .n_cameras = 1,
                               .kids_reported = reported,
                               .n_kids = n};
    for (size_t i = 0; i < n && i < RD_TOKEN_LIVE_KIDS; i++)
        hb.kids[i] = kids[i];
    return relay_view_heartbeat(v, id, &hb, now, NULL);
}

/* The held kids as the info, the full snapshot and the pullers snapshot all show them, joined
 * by ',' ("-" when not reported). */
static void
expect_kids(const struct relay_view *v, const char *id, double now, const char *want)
{
    char got[3][64];
    struct relay_view_relay_info info;
    assert_int_equal(relay_view_relay_get(v, id, &info), RD_OK);
    static struct policy_candidate cands[RD_BROKER_MAX_RELAYS];
    struct policy_input in;
    snap(v, "lobby", now, cands, &in);
    const struct policy_candidate *c = cand_of(&in, id);
    struct policy_camera cam = {.id = "lobby", .site = "hq", .enabled = true};
    static struct policy_candidate fast[RD_BROKER_MAX_RELAYS];
    struct policy_input fin;
    assert_int_equal(relay_view_snapshot_pullers(v, &cam, now, fast, RD_BROKER_MAX_RELAYS, &fin),
                     RD_OK);
    const struct policy_candidate *fc = cand_of(&fin, id);
    const struct {
        bool reported;
        uint8_t n;
        const char *const *k;
    } views[3] = {{info.kids_reported, info.n_held_kids, info.held_kids},
                  {c->kids_reported, c->n_held_kids, c->held_kids},
                  {fc->kids_reported, fc->n_held_kids, fc->held_kids}};
    for (int j = 0; j < 3; j++) {
        assert_true(views[j].n <= RD_TOKEN_LIVE_KIDS);
        size_t off = 0;
        got[j][0] = '\0';
        if (!views[j].reported) {
            assert_int_equal(views[j].n, 0);
            snprintf(got[j], sizeof(got[j]), "-");
        }
        for (uint8_t i = 0; i < views[j].n; i++)
            off += (size_t)snprintf(got[j] + off, sizeof(got[j]) - off, "%s%s", i ? "," : "",
                                    views[j].k[i]);
        if (strcmp(got[j], want) != 0)
            fail_msg("relay %s view %d: kids '%s', want '%s'", id, j, got[j], want);
    }
}

static void
test_held_kids(void **state)
{
    (void)state;
    struct relay_view *v = mkview(4, 8, 16);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 10);
    add_relay(v, "b", "hq", POLICY_RELAY_ACTIVE, 10);
    double now = 10.0;
    /* Never heard from: nothing reported. Only pullers appear in the fast path, so let b
     * pull without kids (an older relay) and check a through the full snapshot first. */
    assert_int_equal(beat_kids(v, "b", "old", 1, now, false, NULL, 0), RD_OK);
    expect_kids(v, "b", now, "-");

    /* The view copies the strings: the beat's buffers may go at once. */
    char k2[8] = "k2", k1[8] = "k1";
    const char *both[] = {k2, k1};
    assert_int_equal(beat_kids(v, "a", "boot-1", 1, now, true, both, 2), RD_OK);
    memset(k2, 'x', sizeof(k2) - 1);
    memset(k1, 'y', sizeof(k1) - 1);
    expect_kids(v, "a", now, "k2,k1");

    /* Stale beats change nothing: duplicate, reordered, previous boot. */
    const char *other[] = {"zz"};
    assert_int_equal(beat_kids(v, "a", "boot-1", 1, now, true, other, 1), RD_EEXPIRED);
    assert_int_equal(beat_kids(v, "a", "boot-1", 0, now, true, other, 1), RD_EEXPIRED);
    expect_kids(v, "a", now, "k2,k1");

    /* Refused beats change nothing either: too many, bad characters, too long, empty, NULL. */
    struct relay_view_hb hb3 = {.boot_id = "boot-1", .seq = 5, .kids_reported = true, .n_kids = 3};
    assert_int_equal(relay_view_heartbeat(v, "a", &hb3, now, NULL), RD_EPROTO);
    static const char *const bad[][1] = {{"a b"}, {"abcdefghijklmnopq"}, {""}, {"k.1"}, {"k\n"},
                                         {NULL}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(beat_kids(v, "a", "boot-1", 5, now, true, bad[i], 1), RD_EPROTO);
    const char *mixed[] = {"k3", "bad kid"};
    assert_int_equal(beat_kids(v, "a", "boot-1", 5, now, true, mixed, 2), RD_EPROTO);
    expect_kids(v, "a", now, "k2,k1");
    /* 16 characters is the longest key id; ignored garbage when not reported. */
    const char *longest[] = {"abcdefghijklmnop"};
    assert_int_equal(beat_kids(v, "a", "boot-1", 2, now, true, longest, 1), RD_OK);
    expect_kids(v, "a", now, "abcdefghijklmnop");
    static const struct relay_view_hb_camera cam = {.id = "lobby", .state = PLAYING};
    struct relay_view_hb unrep = {
        .boot_id = "boot-1", .seq = 3, .cameras = &cam, .n_cameras = 1, .n_kids = 99};
    unrep.kids[0] = "a b";
    assert_int_equal(relay_view_heartbeat(v, "a", &unrep, now, NULL), RD_OK);
    expect_kids(v, "a", now, "-"); /* the last accepted beat did not say */

    /* Every accepted beat replaces them (a SIGHUP on the relay), an empty list too. */
    const char *newest[] = {"k3", "k2"};
    assert_int_equal(beat_kids(v, "a", "boot-1", 4, now, true, newest, 2), RD_OK);
    expect_kids(v, "a", now, "k3,k2");
    assert_int_equal(beat_kids(v, "a", "boot-1", 5, now, true, NULL, 0), RD_OK);
    expect_kids(v, "a", now, "");
    assert_int_equal(beat_kids(v, "a", "boot-1", 6, now, true, newest, 2), RD_OK);

    /* A registry reload (relay_set on an existing relay) keeps them. */
    add_relay(v, "a", "hq", POLICY_RELAY_DRAINING, 20);
    expect_kids(v, "a", now, "k3,k2");

    /* A new boot clears them until a beat carries them: a downgraded relay says nothing. */
    assert_int_equal(beat_kids(v, "a", "boot-2", 1, now, false, NULL, 0), RD_OK);
    expect_kids(v, "a", now, "-");
    /* The previous boot's late beat is stale: it does not bring them back. */
    assert_int_equal(beat_kids(v, "a", "boot-1", 7, now, true, newest, 2), RD_EEXPIRED);
    expect_kids(v, "a", now, "-");
    assert_int_equal(beat_kids(v, "a", "boot-3", 1, now, true, newest + 1, 1), RD_OK);
    expect_kids(v, "a", now, "k2");
    expect_kids(v, "b", now, "-"); /* per relay */

    /* A removed and re-added relay starts without them. */
    assert_int_equal(relay_view_relay_remove(v, "a"), RD_OK);
    relay_view_collect_dirty(v, NULL, NULL, NULL, NULL);
    add_relay(v, "a", "hq", POLICY_RELAY_ACTIVE, 10);
    struct relay_view_relay_info info;
    assert_int_equal(relay_view_relay_get(v, "a", &info), RD_OK);
    assert_false(info.kids_reported);
    assert_int_equal(info.n_held_kids, 0);
    relay_view_destroy(v);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_held_kids),
    cmocka_unit_test(test_create_params),
    cmocka_unit_test(test_relay_config),
    cmocka_unit_test(test_effective_state_and_capacity),
    cmocka_unit_test(test_heartbeat_order),
    cmocka_unit_test(test_heartbeat_rejects),
    cmocka_unit_test(test_health_hysteresis),
    cmocka_unit_test(test_tick_cap),
    cmocka_unit_test(test_snapshot_pulls),
    cmocka_unit_test(test_reservations),
    cmocka_unit_test(test_since_and_boot),
    cmocka_unit_test(test_dirty_collect),
    cmocka_unit_test(test_limits_and_resync),
    cmocka_unit_test(test_sync),
    cmocka_unit_test(test_model_random),
    cmocka_unit_test(test_relay_index_churn),
    cmocka_unit_test(test_burst_through_view),
    cmocka_unit_test(test_pullers_fast_path),
    cmocka_unit_test(test_scale),
    cmocka_unit_test(test_names),
};

RD_TEST_MAIN(tests)
