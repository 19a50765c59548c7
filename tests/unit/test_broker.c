/* SPDX-License-Identifier: MIT */
/* broker.c: catalog reload and relay view sync (loop and scheme checks), the tick (health
 * transitions, version poll), the batched registry flush (pairs, loads, decisions, compaction,
 * failure -> degraded -> resync), the decision ring, the admin token file, the shutdown drain. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "broker_conf.h"
#include "catalog.h"
#include "listener.h"
#include "rd_err.h"
#include "registry.h"
#include "relay_view.h"

static struct broker g_b; /* large: metrics tables */

struct bfx {
    struct ev_loop *loop;
    struct broker *b;
    uint64_t seq;
    char db_path[64];
    char tok_path[64];
};

static void
seed(struct registry *reg)
{
    struct reg_site hq = {.id = "hq", .name = "HQ"};
    assert_int_equal(registry_site_add(reg, &hq), RD_OK);
    static const char *const cams[] = {"lobby", "dock", "gate"};
    for (size_t i = 0; i < 3; i++) {
        struct reg_camera c = {.max_relays = 2, .enabled = true};
        snprintf(c.id, sizeof(c.id), "%s", cams[i]);
        snprintf(c.name, sizeof(c.name), "%s", cams[i]);
        snprintf(c.site_id, sizeof(c.site_id), "hq");
        snprintf(c.upstream_url, sizeof(c.upstream_url), "rtsp://10.1.1.1/%s", cams[i]);
        assert_int_equal(registry_camera_add(reg, &c), RD_OK);
    }
    static const char *const relays[][2] = {
        {"relay-a", "rtsp://10.0.0.1:8555"},
        {"relay-b", "rtsp://10.0.0.2:8555"},
        {"relay-loop", "rtsp://broker.example:8554"}, /* a public name of this broker */
        {"relay-tls", "rtsps://10.0.0.3:8323"},       /* another scheme than the listener's */
    };
    for (size_t i = 0; i < 4; i++) {
        struct reg_relay r = {.capacity_viewers = 100, .capacity_mbps = 100};
        snprintf(r.id, sizeof(r.id), "%s", relays[i][0]);
        snprintf(r.name, sizeof(r.name), "%s", relays[i][0]);
        snprintf(r.site_id, sizeof(r.site_id), "hq");
        snprintf(r.base_url, sizeof(r.base_url), "%s", relays[i][1]);
        struct reg_relay_key k;
        assert_int_equal(registry_relay_add(reg, &r, &k), RD_OK);
    }
}

static int
setup(void **state)
{
    struct bfx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    struct broker_conf conf;
    struct rd_errbuf err = {{0}};
    assert_int_equal(broker_conf_defaults(&conf, &err), RD_OK);
    snprintf(f->db_path, sizeof(f->db_path), "/tmp/rd-test-broker-%d.db", (int)getpid());
    unlink(f->db_path);
    snprintf(conf.database, sizeof(conf.database), "%s", f->db_path);
    snprintf(conf.public_names, sizeof(conf.public_names), "broker.example, [2001:db8::1]:9554");
    assert_int_equal(conf_parse_listen(rd_str_cstr("127.0.0.1:8554"), &conf.rtsp_listen), RD_OK);
    f->b = &g_b;
    assert_int_equal(broker_init(f->b, f->loop, &conf, &err), RD_OK);
    if (broker_open(f->b, &err) != RD_OK)
        fail_msg("broker_open: %s", err.msg);
    seed(f->b->reg);
    assert_int_equal(broker_reload(f->b), RD_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct bfx *f = *state;
    broker_close(f->b);
    ev_loop_destroy(f->loop);
    char p[96];
    unlink(f->db_path);
    snprintf(p, sizeof(p), "%s-wal", f->db_path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", f->db_path);
    unlink(p);
    if (f->tok_path[0] != '\0')
        unlink(f->tok_path);
    free(f);
    return 0;
}

static void
beat(struct bfx *f, const char *relay, const struct relay_view_hb_camera *cams, size_t n)
{
    struct relay_view_hb hb = {
        .boot_id = "b1", .seq = ++f->seq, .viewers = 5, .egress_kbps = 900, .cpu_pct = 12};
    hb.cameras = cams;
    hb.n_cameras = n;
    assert_int_equal(relay_view_heartbeat(f->b->view, relay, &hb, broker_now(f->b), NULL), RD_OK);
}

struct rows {
    unsigned n;
    struct reg_pair last;
};

static int
count_pair(void *arg, const struct reg_pair *row)
{
    struct rows *r = arg;
    r->n++;
    r->last = *row;
    return 0;
}

static unsigned
pairs(struct bfx *f, const char *relay)
{
    struct rows r = {0};
    assert_int_equal(registry_pair_list(f->b->reg, relay, NULL, count_pair, &r), RD_OK);
    return r.n;
}

static int
count_decision(void *arg, const struct reg_decision *row)
{
    (void)row;
    (*(unsigned *)arg)++;
    return 0;
}

static unsigned
decisions(struct bfx *f)
{
    unsigned n = 0;
    assert_int_equal(registry_decision_list(f->b->reg, NULL, 2000, count_decision, &n), RD_OK);
    return n;
}

static struct broker_decision
decision(const char *camera, const char *reason)
{
    struct broker_decision d = {.at_ms = 1700000000000LL, .status = 302};
    snprintf(d.camera_id, sizeof(d.camera_id), "%s", camera);
    snprintf(d.relay_id, sizeof(d.relay_id), "relay-a");
    snprintf(d.reason, sizeof(d.reason), "%s", reason);
    snprintf(d.client, sizeof(d.client), "192.0.2.1:5000");
    return d;
}

/* ---- Reload -------------------------------------------------------------------------------- */

static void
test_reload_sync(void **state)
{
    struct bfx *f = *state;
    struct relay_view_relay_info info;
    assert_int_equal(relay_view_relay_get(f->b->view, "relay-a", &info), RD_OK);
    assert_string_equal(info.rtsp_base_url, "rtsp://10.0.0.1:8555");
    assert_int_equal(info.cap_viewers, 100);
    assert_int_equal(info.cap_egress_kbps, 100000);
    assert_int_equal(relay_view_relay_get(f->b->view, "relay-b", &info), RD_OK);
    /* Never a redirect target: a URL naming this broker, a URL of another scheme. */
    assert_int_equal(relay_view_relay_get(f->b->view, "relay-loop", &info), RD_ENOTFOUND);
    assert_int_equal(relay_view_relay_get(f->b->view, "relay-tls", &info), RD_ENOTFOUND);
    assert_int_equal(relay_view_relay_count(f->b->view), 2);
    /* The catalog still lists all four (admin page). */
    assert_int_equal(catalog_relay_count(f->b->cat), 4);
    uint64_t reloads = f->b->metrics.catalog_reloads;
    /* Operator state follows the registry; a removed relay leaves the view. */
    assert_int_equal(registry_relay_set_state(f->b->reg, "relay-a", REG_RELAY_DRAINING), RD_OK);
    assert_int_equal(registry_relay_rm(f->b->reg, "relay-b"), RD_OK);
    assert_int_equal(broker_reload(f->b), RD_OK);
    assert_int_equal(relay_view_relay_get(f->b->view, "relay-a", &info), RD_OK);
    assert_int_equal(info.op_state, POLICY_RELAY_DRAINING);
    assert_int_equal(relay_view_relay_get(f->b->view, "relay-b", &info), RD_ENOTFOUND);
    assert_int_equal(f->b->metrics.catalog_reloads, reloads + 1);
}

static void
test_tick_reloads_on_new_version(void **state)
{
    struct bfx *f = *state;
    uint64_t reloads = f->b->metrics.catalog_reloads;
    broker_tick(f->b); /* nothing changed: no reload */
    assert_int_equal(f->b->metrics.catalog_reloads, reloads);
    assert_null(catalog_camera(f->b->cat, "yard"));
    struct reg_camera c = {.id = "yard",
                           .name = "yard",
                           .site_id = "hq",
                           .max_relays = 1,
                           .enabled = true,
                           .upstream_url = "rtsp://10.1.1.9/y"};
    assert_int_equal(registry_camera_add(f->b->reg, &c), RD_OK);
    broker_tick(f->b);
    assert_non_null(catalog_camera(f->b->cat, "yard"));
    assert_int_equal(f->b->metrics.catalog_reloads, reloads + 1);
}

static void
test_tick_health_transitions(void **state)
{
    struct bfx *f = *state;
    beat(f, "relay-a", NULL, 0);
    beat(f, "relay-a", NULL, 0);
    broker_tick(f->b);
    assert_int_equal(f->b->metrics.health_to_healthy, 1);
    broker_tick(f->b); /* logged and counted once */
    assert_int_equal(f->b->metrics.health_to_healthy, 1);
    assert_int_equal(f->b->metrics.health_to_unhealthy, 0);
}

/* ---- Flush --------------------------------------------------------------------------------- */

static void
test_flush_pairs_loads_decisions(void **state)
{
    struct bfx *f = *state;
    struct relay_view_hb_camera cams[] = {
        {.id = "lobby", .state = RELAY_VIEW_CAM_PLAYING, .viewers = 3, .ingress_kbps = 4000},
        {.id = "dock", .state = RELAY_VIEW_CAM_RETRYING, .viewers = 2}};
    beat(f, "relay-a", cams, 2);
    for (int i = 0; i < 3; i++) {
        struct broker_decision d = decision("lobby", "affinity");
        broker_decision_add(f->b, &d);
    }
    assert_int_equal(f->b->decisions.unflushed, 3);
    assert_int_equal(broker_flush(f->b), RD_OK);
    assert_int_equal(pairs(f, "relay-a"), 2);
    struct rows r = {0};
    assert_int_equal(registry_pair_list(f->b->reg, "relay-a", "lobby", count_pair, &r), RD_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.last.viewers, 3);
    assert_int_equal(r.last.state, REG_PULL_PLAYING);
    assert_true(r.last.since > 1600000000);
    assert_int_equal(decisions(f), 3);
    assert_int_equal(f->b->decisions.unflushed, 0);
    assert_int_equal(f->b->metrics.flushes_ok, 1);
    assert_false(f->b->db_degraded);
    /* Nothing new: no transaction (the first flush took the load sample). */
    struct registry_stats s0, s1;
    registry_stats_get(f->b->reg, &s0);
    assert_int_equal(broker_flush(f->b), RD_OK);
    registry_stats_get(f->b->reg, &s1);
    assert_int_equal(s1.commits, s0.commits);
    /* The relay stops pulling dock: its row goes at the next flush. */
    beat(f, "relay-a", cams, 1);
    assert_int_equal(broker_flush(f->b), RD_OK);
    assert_int_equal(pairs(f, "relay-a"), 1);
    assert_int_equal(f->b->metrics.flushes_ok, 2);
}

static void
test_flush_compacts_changes(void **state)
{
    struct bfx *f = *state;
    struct relay_view_hb_camera cam = {.id = "gate", .state = RELAY_VIEW_CAM_STARTING};
    /* Added and removed again between two flushes: no row, in either order of application. */
    beat(f, "relay-a", &cam, 1);
    beat(f, "relay-a", NULL, 0);
    assert_int_equal(broker_flush(f->b), RD_OK);
    assert_int_equal(pairs(f, "relay-a"), 0);
    /* Removed and added again: the row is there. */
    beat(f, "relay-b", &cam, 1);
    assert_int_equal(broker_flush(f->b), RD_OK);
    beat(f, "relay-b", NULL, 0);
    cam.state = RELAY_VIEW_CAM_PLAYING;
    beat(f, "relay-b", &cam, 1);
    assert_int_equal(broker_flush(f->b), RD_OK);
    struct rows r = {0};
    assert_int_equal(registry_pair_list(f->b->reg, "relay-b", "gate", count_pair, &r), RD_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.last.state, REG_PULL_PLAYING);
}

static void
test_flush_failure_degrades_then_resyncs(void **state)
{
    struct bfx *f = *state;
    struct relay_view_hb_camera cam = {
        .id = "lobby", .state = RELAY_VIEW_CAM_PLAYING, .viewers = 1};
    assert_int_equal(broker_flush(f->b), RD_OK); /* the first load sample */
    /* The file may not grow: a flush that needs pages fails as a whole. */
    assert_int_equal(registry_set_max_bytes(f->b->reg, 1), RD_OK);
    beat(f, "relay-a", &cam, 1);
    for (int i = 0; i < BROKER_DECISIONS_KEPT; i++) {
        struct broker_decision d = decision("lobby", "least_loaded_tiebreak");
        memset(d.client, 'c', RD_REG_CLIENT_MAX);
        d.client[RD_REG_CLIENT_MAX] = '\0';
        broker_decision_add(f->b, &d);
    }
    assert_int_equal(broker_flush(f->b), RD_EDB);
    assert_true(f->b->db_degraded);
    assert_int_equal(f->b->metrics.flushes_failed, 1);
    assert_int_equal(f->b->decisions.unflushed, BROKER_DECISIONS_KEPT); /* kept for the retry */
    assert_int_equal(pairs(f, "relay-a"), 0);
    assert_int_equal(broker_flush(f->b), RD_EDB); /* still failing: logged once, counted */
    assert_int_equal(f->b->metrics.flushes_failed, 2);
    /* Space again: the next flush rewrites the whole mapping from memory. */
    assert_int_equal(registry_set_max_bytes(f->b->reg, 0), RD_OK);
    assert_int_equal(broker_flush(f->b), RD_OK);
    assert_false(f->b->db_degraded);
    assert_int_equal(pairs(f, "relay-a"), 1);
    assert_int_equal(decisions(f), BROKER_DECISIONS_KEPT);
    assert_int_equal(f->b->decisions.unflushed, 0);
}

/* Runs the loop until the writer thread's result was applied (flushes_ok or _failed moved). */
static void
await_flush(struct bfx *f, uint64_t ok0, uint64_t failed0)
{
    for (int i = 0; i < 2000; i++) {
        if (f->b->metrics.flushes_ok != ok0 || f->b->metrics.flushes_failed != failed0)
            return;
        ev_run(f->loop, EVRUN_NOWAIT);
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    fail_msg("the writer thread did not report");
}

/* The tick hands the batch to the writer thread: the loop returns at once, the result comes
 * back through the loop; broker_flush first waits for a batch in flight. */
static void
test_flush_through_writer_thread(void **state)
{
    struct bfx *f = *state;
    broker_writer_start(f->b);
    assert_non_null(f->b->writer);
    struct relay_view_hb_camera cams[] = {
        {.id = "lobby", .state = RELAY_VIEW_CAM_PLAYING, .viewers = 3, .ingress_kbps = 4000},
        {.id = "dock", .state = RELAY_VIEW_CAM_RETRYING, .viewers = 2}};
    beat(f, "relay-a", cams, 2);
    for (int i = 0; i < 3; i++) {
        struct broker_decision d = decision("lobby", "affinity");
        broker_decision_add(f->b, &d);
    }
    broker_tick(f->b);
    assert_int_equal(f->b->decisions.unflushed, 0); /* handed over */
    await_flush(f, 0, 0);
    assert_int_equal(f->b->metrics.flushes_ok, 1);
    assert_false(f->b->db_degraded);
    assert_int_equal(pairs(f, "relay-a"), 2); /* committed by the other connection */
    assert_int_equal(decisions(f), 3);
    struct registry_stats rs;
    broker_registry_stats(f->b, &rs);
    assert_true(rs.flushes >= 1);

    /* A batch in flight, then a synchronous flush: it waits, applies, writes the rest. */
    beat(f, "relay-a", cams, 1);
    broker_tick(f->b);
    struct broker_decision d = decision("dock", "least_loaded");
    broker_decision_add(f->b, &d);
    assert_int_equal(broker_flush(f->b), RD_OK);
    assert_int_equal(f->b->metrics.flushes_ok, 3);
    assert_int_equal(pairs(f, "relay-a"), 1);
    assert_int_equal(decisions(f), 4);
    assert_int_equal(f->b->decisions.unflushed, 0);
    /* Nothing new: the tick hands nothing over. */
    broker_tick(f->b);
    assert_int_equal(broker_flush(f->b), RD_OK);
    assert_int_equal(f->b->metrics.flushes_ok, 3);
}

/* A writer that cannot open its connection gives the flushes back to the loop; a batch it
 * had been handed is written there. */
static void
test_writer_thread_open_failure(void **state)
{
    struct bfx *f = *state;
    snprintf(f->b->conf.database, sizeof(f->b->conf.database), "/nonexistent-rd-dir/r.db");
    broker_writer_start(f->b);
    struct relay_view_hb_camera cam = {.id = "gate", .state = RELAY_VIEW_CAM_PLAYING};
    beat(f, "relay-b", &cam, 1);
    struct broker_decision d = decision("gate", "affinity");
    broker_decision_add(f->b, &d);
    broker_tick(f->b);
    for (int i = 0; i < 2000 && f->b->writer != NULL; i++) {
        ev_run(f->loop, EVRUN_NOWAIT);
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    assert_null(f->b->writer);
    assert_int_equal(broker_flush(f->b), RD_OK);
    assert_int_equal(pairs(f, "relay-b"), 1);
    assert_int_equal(decisions(f), 1);
    assert_false(f->b->db_degraded);
    snprintf(f->b->conf.database, sizeof(f->b->conf.database), "%s", f->db_path);
}

static void
test_decision_ring(void **state)
{
    struct bfx *f = *state;
    for (int i = 0; i < BROKER_DECISIONS_KEPT + 44; i++) {
        struct broker_decision d = decision(i % 2 ? "lobby" : "dock", i % 2 ? "affinity" : "x");
        d.at_ms += i;
        broker_decision_add(f->b, &d);
    }
    const struct broker_decisions *r = &f->b->decisions;
    assert_int_equal(r->count, BROKER_DECISIONS_KEPT);
    assert_int_equal(r->unflushed, BROKER_DECISIONS_KEPT);
    assert_int_equal(r->overflowed, 44);
    /* The newest is just before next. */
    const struct broker_decision *newest =
        &r->ring[(r->next + BROKER_DECISIONS_KEPT - 1) % BROKER_DECISIONS_KEPT];
    assert_int_equal(newest->at_ms, 1700000000000LL + BROKER_DECISIONS_KEPT + 43);
    /* Reasons are counted for /metrics. */
    const struct metrics_labelled *l = &f->b->metrics.decisions_by_reason;
    uint64_t total = l->other;
    for (size_t i = 0; i < METRICS_LABELS; i++)
        total += l->n[i];
    assert_int_equal(total, BROKER_DECISIONS_KEPT + 44);
    /* The flush writes them oldest first. */
    assert_int_equal(broker_flush(f->b), RD_OK);
    assert_int_equal(decisions(f), BROKER_DECISIONS_KEPT);
}

/* ---- Admin token file ---------------------------------------------------------------------- */

static int
token_case(struct bfx *f, const char *content, mode_t mode)
{
    snprintf(f->tok_path, sizeof(f->tok_path), "/tmp/rd-test-token-%d", (int)getpid());
    unlink(f->tok_path);
    int fd = open(f->tok_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    snprintf(f->b->conf.admin_token_file, sizeof(f->b->conf.admin_token_file), "%s", f->tok_path);
    struct rd_errbuf err = {{0}};
    return broker_read_admin_token(f->b, &err);
}

static void
test_admin_token_file(void **state)
{
    struct bfx *f = *state;
    const char *good = "0123456789abcdef0123456789abcdef0123456789abcdef";
    char with_nl[128];
    snprintf(with_nl, sizeof(with_nl), "%s\r\n", good);
    assert_int_equal(token_case(f, with_nl, 0600), RD_OK);
    assert_string_equal(f->b->admin_token, good);
    /* Failures keep the previous token. */
    assert_int_equal(token_case(f, good, 0644), RD_EPROTO);
    assert_int_equal(token_case(f, "short\n", 0600), RD_EPROTO);
    assert_int_equal(token_case(f, "0123456789abcdef 0123456789abcdef0123456789\n", 0600),
                     RD_EPROTO);
    char huge[300];
    memset(huge, 'x', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(token_case(f, huge, 0600), RD_ELIMIT);
    assert_string_equal(f->b->admin_token, good);
    snprintf(f->b->conf.admin_token_file, sizeof(f->b->conf.admin_token_file), "/nonexistent/t");
    struct rd_errbuf err = {{0}};
    assert_int_equal(broker_read_admin_token(f->b, &err), RD_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/t"));
    f->b->conf.admin_token_file[0] = '\0';
    assert_int_equal(broker_read_admin_token(f->b, &err), RD_OK);
    assert_string_equal(f->b->admin_token, "");
}

/* ---- Start and shutdown -------------------------------------------------------------------- */

static void
test_start_and_shutdown(void **state)
{
    struct bfx *f = *state;
    assert_int_equal(conf_parse_listen(rd_str_cstr("127.0.0.1:0"), &f->b->conf.rtsp_listen), RD_OK);
    struct rd_errbuf err = {{0}};
    assert_int_equal(broker_start(f->b, &err), RD_OK);
    assert_true(listener_port(f->b->rtsp) != 0);
    broker_shutdown(f->b);
    broker_shutdown(f->b); /* idempotent */
    assert_true(f->b->stopping);
    double t0 = broker_now(f->b);
    ev_run(f->loop, 0); /* returns once the drain is over */
    assert_true(broker_now(f->b) - t0 < RD_SHUTDOWN_GRACE_S + 1.0);
    assert_int_equal(listener_open_count(f->b->rtsp), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
static const struct CMUnitTest tests[] = {
    T(test_reload_sync),
    T(test_tick_reloads_on_new_version),
    T(test_tick_health_transitions),
    T(test_flush_pairs_loads_decisions),
    T(test_flush_compacts_changes),
    T(test_flush_failure_degrades_then_resyncs),
    T(test_flush_through_writer_thread),
    T(test_writer_thread_open_failure),
    T(test_decision_ring),
    T(test_admin_token_file),
    T(test_start_and_shutdown),
};

RD_TEST_MAIN(tests)
