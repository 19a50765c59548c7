/* SPDX-License-Identifier: MIT */
/* puller.c against the real GStreamer RTSP server (tests/tools/testcam.py, H.264 test
 * pattern) on 127.0.0.1: TCP interleaved, UDP, and Digest authentication. Each case is
 * skipped when /usr/bin/python3 or GStreamer's RTSP server bindings are missing. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fanout.h"
#include "net.h"
#include "puller.h"
#include "rd_err.h"
#include "sdp.h"
#include "stream.h"
#include "udp_ports.h"

#ifndef RD_SOURCE_DIR
#define RD_SOURCE_DIR "."
#endif

extern char **environ;

static struct {
    struct ev_loop *loop;
    struct pktpool pool;
    struct fanout *fo;
    struct udp_ports *ports;
    struct stream *s;
    struct puller *p;
    pid_t cam;
    uint16_t port;
    char dir[64];
    ev_timer tick;
} fx;

static const char *
testcam_path(void)
{
    static char path[1024];
    const char *src = getenv("RD_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/tests/tools/testcam.py", src ? src : RD_SOURCE_DIR);
    return path;
}

static bool
gst_available(void)
{
    if (access("/usr/bin/python3", X_OK) != 0 || access(testcam_path(), R_OK) != 0)
        return false;
    int rc = system("/usr/bin/python3 -c \"import gi; gi.require_version('GstRtspServer', '1.0');"
                    " from gi.repository import GstRtspServer\" >/dev/null 2>&1");
    return rc == 0;
}

/* Starts testcam.py and waits for its ready file. Returns false (skip) if it cannot. */
static bool
cam_start(const char *user, const char *password)
{
    if (!gst_available())
        return false;
    snprintf(fx.dir, sizeof(fx.dir), "/tmp/rd_puller_testcam.XXXXXX");
    assert_non_null(mkdtemp(fx.dir));
    char ready[128];
    snprintf(ready, sizeof(ready), "%s/ready", fx.dir);
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)(uintptr_t) "/usr/bin/python3";
    argv[n++] = (char *)(uintptr_t)testcam_path();
    argv[n++] = (char *)(uintptr_t) "--port";
    argv[n++] = (char *)(uintptr_t) "0";
    argv[n++] = (char *)(uintptr_t) "--gop";
    argv[n++] = (char *)(uintptr_t) "10";
    argv[n++] = (char *)(uintptr_t) "--ready-file";
    argv[n++] = ready;
    if (user != NULL) {
        argv[n++] = (char *)(uintptr_t) "--user";
        argv[n++] = (char *)(uintptr_t)user;
        argv[n++] = (char *)(uintptr_t) "--password";
        argv[n++] = (char *)(uintptr_t)password;
    }
    argv[n] = NULL;
    assert_int_equal(posix_spawn(&fx.cam, argv[0], NULL, NULL, argv, environ), 0);
    double end = ev_time() + 15;
    while (ev_time() < end) {
        FILE *f = fopen(ready, "r");
        if (f != NULL) {
            unsigned port = 0;
            char line[32] = {0};
            if (fgets(line, sizeof(line), f) != NULL)
                port = (unsigned)strtoul(line, NULL, 10);
            fclose(f);
            unlink(ready);
            fx.port = (uint16_t)port;
            return port > 0;
        }
        int st;
        if (waitpid(fx.cam, &st, WNOHANG) == fx.cam) {
            fx.cam = 0;
            return false; /* e.g. x264enc missing */
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static struct stream *
on_sdp(void *arg, const char *raw, size_t len, const struct sdp *sdp)
{
    (void)arg;
    (void)raw;
    (void)len;
    stream_free(fx.s);
    fx.s = NULL;
    struct stream_track_cfg cfg[RD_SDP_MAX_MEDIA];
    for (unsigned i = 0; i < sdp->n_media; i++) {
        struct sdp_codec c = {0};
        (void)sdp_media_codec(&sdp->media[i], &c);
        cfg[i].codec = c.id == SDP_CODEC_H264 ? STREAM_CODEC_H264 : STREAM_CODEC_OTHER;
        cfg[i].clock_rate = c.clock_rate > 0 ? c.clock_rate : 90000;
    }
    assert_int_equal(stream_new(cfg, sdp->n_media, NULL, &fx.s), RD_OK);
    return fx.s;
}

static void
on_state(void *arg, enum puller_state st, const char *why)
{
    (void)arg;
    (void)st;
    (void)why;
}

static const struct puller_cb cbs = {on_sdp, on_state};

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

static int
setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    fx.loop = ev_loop_new(EVFLAG_AUTO);
    assert_int_equal(pktpool_init(&fx.pool, NULL), RD_OK);
    assert_int_equal(fanout_new(fx.loop, &fx.pool, NULL, &fx.fo), RD_OK);
    uint16_t lo = (uint16_t)(42000 + (getpid() % 500) * 20);
    struct rd_errbuf err;
    assert_int_equal(udp_ports_new("127.0.0.1", lo, (uint16_t)(lo + 19), &fx.ports, &err), RD_OK);
    ev_timer_init(&fx.tick, tick_cb, 0.02, 0.02);
    ev_timer_start(fx.loop, &fx.tick);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    puller_free(fx.p);
    if (fx.cam > 0) {
        kill(fx.cam, SIGTERM);
        int st;
        (void)waitpid(fx.cam, &st, 0);
    }
    if (fx.dir[0] != '\0')
        rmdir(fx.dir);
    stream_free(fx.s);
    fanout_free(fx.fo);
    udp_ports_free(fx.ports);
    assert_int_equal(pktpool_in_use(&fx.pool), 0);
    assert_int_equal(pktpool_fini(&fx.pool), RD_OK);
    ev_loop_destroy(fx.loop);
    return 0;
}

static void
pull(enum camera_transport tr, const char *user, const char *password)
{
    if (!cam_start(user, password)) {
        skip();
        return;
    }
    struct camera_source src = {0};
    snprintf(src.id, sizeof(src.id), "testcam");
    snprintf(src.url, sizeof(src.url), "rtsp://127.0.0.1:%u/cam", (unsigned)fx.port);
    if (user != NULL) {
        snprintf(src.user, sizeof(src.user), "%s", user);
        snprintf(src.password, sizeof(src.password), "%s", password);
    }
    src.transport = tr;
    src.enabled = true;
    struct puller_env env = {
        .loop = fx.loop,
        .pool = &fx.pool,
        .fanout = fx.fo,
        .ports = fx.ports,
        .user_agent = "rtsp-director-relay/test",
    };
    assert_int_equal(puller_new(&env, &src, &cbs, NULL, &fx.p), RD_OK);
    double end = ev_time() + 15;
    struct stream_track_stats ts = {0};
    while (ev_time() < end) {
        ev_run(fx.loop, EVRUN_ONCE);
        if (fx.s != NULL && stream_track_stats(fx.s, 0, &ts) == RD_OK && ts.pkts_in >= 100
            && ts.key_starts >= 2)
            break;
    }
    struct puller_stats st;
    puller_stats(fx.p, &st);
    assert_int_equal(st.state, PULLER_PLAYING);
    assert_int_equal(st.transport, (int)tr);
    assert_int_equal(st.attempts, 1);
    assert_true(ts.pkts_in >= 100);
    assert_true(ts.key_starts >= 2);
    assert_int_equal(ts.malformed, 0);
}

static void
test_testcam_tcp(void **state)
{
    (void)state;
    pull(CAMERA_TRANSPORT_TCP, NULL, NULL);
}

static void
test_testcam_udp(void **state)
{
    (void)state;
    pull(CAMERA_TRANSPORT_UDP, NULL, NULL);
}

static void
test_testcam_digest(void **state)
{
    (void)state;
    pull(CAMERA_TRANSPORT_TCP, "admin", "s3cret");
}

int
main(int argc, char **argv)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_testcam_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_testcam_udp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_testcam_digest, setup, teardown),
    };
    return rd_test_run(argc, argv, "tests", tests, sizeof(tests) / sizeof(tests[0]));
}
