/* SPDX-License-Identifier: MIT */
/* The relay's camera table with the real puller against a fake camera (a thread answering
 * scripted RTSP over loopback): waiting users get the SDP, a restart with the same SDP keeps
 * the stream (continuity), a changed SDP closes the users, unreachable cameras fail waiters
 * at the ready timeout, pulls linger then stop, always-on pulls start at once, and sources
 * come from a (stubbed) broker fetch. */
#define _DEFAULT_SOURCE /* usleep */
#include "rd_test.h"

#include <arpa/inet.h>
#include <ev.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bclient.h"
#include "cameras.h"
#include "fanout.h"
#include "pktpool.h"
#include "rd_err.h"
#include "udp_ports.h"

/* ---- Broker stub: the table asks for sources; the test answers (weak: bclient.o is not
 * needed by this test) ---------------------------------------------------------------------- */

static struct {
    int calls;
    char id[RD_CAMERA_ID_MAX + 1];
    bclient_source_fn *fn;
    void *arg;
} fetch;

__attribute__((weak)) int
bclient_fetch_source(struct bclient *b, const char *camera_id, bclient_source_fn *fn, void *arg)
{
    (void)b;
    fetch.calls++;
    (void)rd_str_copy(fetch.id, sizeof(fetch.id), rd_str_cstr(camera_id));
    fetch.fn = fn;
    fetch.arg = arg;
    return RD_OK;
}

/* ---- Fake camera: one thread, one connection at a time, scripted SDP per connection -------- */

#define SDP_ONE                                                                                    \
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\n"                                          \
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track1\r\n"
#define SDP_TWO SDP_ONE "m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=control:track2\r\n"

struct fakecam {
    int lfd;
    uint16_t port;
    pthread_t th;
    volatile int conns;       /* connections served */
    volatile bool two_tracks; /* answer SDP_TWO from the next connection on */
    volatile bool stop;
};

static bool
read_request(int fd, char *buf, size_t cap, char *method, size_t mcap, int *cseq)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        if (r <= 0)
            return false;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL)
            break;
    }
    size_t m = strcspn(buf, " ");
    if (m >= mcap)
        return false;
    memcpy(method, buf, m);
    method[m] = '\0';
    const char *c = strstr(buf, "CSeq:");
    *cseq = c != NULL ? (int)strtol(c + 5, NULL, 10) : 0;
    return true;
}

static void
reply(int fd, int cseq, const char *extra, const char *body)
{
    char out[2048];
    int n = snprintf(
        out, sizeof(out), "RTSP/1.0 200 OK\r\nCSeq: %d\r\n%s%s%zu\r\n\r\n%s", cseq, extra,
        body != NULL ? "Content-Type: application/sdp\r\nContent-Length: " : "Content-Length: ",
        body != NULL ? strlen(body) : 0, body != NULL ? body : "");
    assert_true(n > 0 && (size_t)n < sizeof(out));
    (void)send(fd, out, (size_t)n, MSG_NOSIGNAL);
}

/* Serves one connection: answers the setup, then sends a few RTP packets and closes (the
 * puller sees the camera drop and reconnects). */
static void
serve(struct fakecam *fc, int fd)
{
    char buf[4096], method[32];
    int cseq;
    bool two = fc->two_tracks;
    while (read_request(fd, buf, sizeof(buf), method, sizeof(method), &cseq)) {
        if (strcmp(method, "OPTIONS") == 0) {
            reply(fd, cseq, "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n",
                  NULL);
        } else if (strcmp(method, "DESCRIBE") == 0) {
            char cb[128];
            snprintf(cb, sizeof(cb), "Content-Base: rtsp://127.0.0.1:%u/cam/\r\n",
                     (unsigned)fc->port);
            reply(fd, cseq, cb, two ? SDP_TWO : SDP_ONE);
        } else if (strcmp(method, "SETUP") == 0) {
            const char *tr = strstr(buf, "interleaved=");
            char hdr[160];
            snprintf(hdr, sizeof(hdr),
                     "Session: 12345678;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;"
                     "interleaved=%.3s\r\n",
                     tr != NULL ? tr + 12 : "0-1");
            reply(fd, cseq, hdr, NULL);
        } else if (strcmp(method, "PLAY") == 0) {
            reply(fd, cseq, "Session: 12345678\r\n", NULL);
            /* A few H.264 packets on channel 0: an IDR slice each. */
            for (int i = 0; i < 20 && !fc->stop; i++) {
                uint8_t pkt[4 + 12 + 2] = {'$',  0,          0,    14,   0x80, 96,
                                           0,    (uint8_t)i, 0,    0,    0,    (uint8_t)(i * 3),
                                           0xde, 0xad,       0xbe, 0xef, 0x65, 0x88};
                (void)send(fd, pkt, sizeof(pkt), MSG_NOSIGNAL);
                usleep(20000);
            }
            return; /* drop the connection */
        } else if (strcmp(method, "TEARDOWN") == 0) {
            reply(fd, cseq, "", NULL);
            return;
        } else {
            reply(fd, cseq, "", NULL);
        }
    }
}

static void *
fakecam_main(void *arg)
{
    struct fakecam *fc = arg;
    while (!fc->stop) {
        int fd = accept(fc->lfd, NULL, NULL);
        if (fd < 0)
            break;
        struct timeval tv = {0, 500000};
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        fc->conns++;
        serve(fc, fd);
        close(fd);
    }
    return NULL;
}

static void
fakecam_start(struct fakecam *fc)
{
    memset(fc, 0, sizeof(*fc));
    fc->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fc->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fc->lfd, 8), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(fc->lfd, (struct sockaddr *)&sa, &len), 0);
    fc->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&fc->th, NULL, fakecam_main, fc), 0);
}

static void
fakecam_stop(struct fakecam *fc)
{
    fc->stop = true;
    shutdown(fc->lfd, SHUT_RDWR);
    close(fc->lfd);
    pthread_join(fc->th, NULL);
}

/* ---- Fixture -------------------------------------------------------------------------------- */

struct fx {
    struct ev_loop *loop;
    struct pktpool pool;
    struct fanout *fo;
    struct udp_ports *ports;
    struct puller_timings tm;
    struct cameras *t;
};

struct user {
    struct camera_user u;
    int ready_calls, ready_status, gone_calls;
};

static void
user_ready(struct camera_user *u, int status)
{
    struct user *x = (struct user *)(void *)u;
    x->ready_calls++;
    x->ready_status = status;
}

static void
user_gone(struct camera_user *u)
{
    ((struct user *)(void *)u)->gone_calls++;
}

static void
user_init(struct user *x)
{
    memset(x, 0, sizeof(*x));
    x->u.ready = user_ready;
    x->u.gone = user_gone;
}

static void
fx_init(struct fx *f, bool with_broker, double linger_s, double ready_s)
{
    memset(f, 0, sizeof(*f));
    memset(&fetch, 0, sizeof(fetch));
    f->loop = ev_loop_new(EVFLAG_AUTO);
    assert_int_equal(pktpool_init(&f->pool, NULL), RD_OK);
    assert_int_equal(fanout_new(f->loop, &f->pool, NULL, &f->fo), RD_OK);
    struct rd_errbuf err;
    assert_int_equal(udp_ports_new("127.0.0.1", 43000, 43999, &f->ports, &err), RD_OK);
    puller_timings_default(&f->tm);
    f->tm.backoff_min_s = 0.05;
    f->tm.backoff_max_s = 0.1;
    f->tm.connect_timeout_s = 0.5;
    f->tm.step_timeout_s = 0.5;
    struct cameras_env env = {
        .puller = {.loop = f->loop,
                   .pool = &f->pool,
                   .fanout = f->fo,
                   .ports = f->ports,
                   .user_agent = "test",
                   .timings = &f->tm},
        .broker = with_broker ? (struct bclient *)(void *)&fetch : NULL,
        .linger_s = linger_s,
        .ready_timeout_s = ready_s,
    };
    assert_int_equal(cameras_new(&env, &f->t), RD_OK);
}

static void
fx_free(struct fx *f)
{
    cameras_free(f->t);
    fanout_free(f->fo);
    udp_ports_free(f->ports);
    assert_int_equal(pktpool_fini(&f->pool), RD_OK); /* every packet went back */
    ev_loop_destroy(f->loop);
}

/* Runs the loop until pred(arg) or timeout_s. */
static bool
run_until(struct fx *f, bool (*pred)(void *), void *arg, double timeout_s)
{
    double end = ev_time() + timeout_s;
    while (ev_time() < end) {
        if (pred(arg))
            return true;
        ev_run(f->loop, EVRUN_ONCE | EVRUN_NOWAIT);
        usleep(2000);
    }
    return pred(arg);
}

static bool
ready_called(void *arg)
{
    return ((struct user *)arg)->ready_calls > 0;
}

static bool
gone_called(void *arg)
{
    return ((struct user *)arg)->gone_calls > 0;
}

struct state_probe {
    const char *id;
    char state[16];
    uint32_t users;
};

static void
probe_cb(void *arg, const struct camera_info *ci)
{
    struct state_probe *p = arg;
    if (strcmp(ci->id, p->id) == 0) {
        (void)rd_str_copy(p->state, sizeof(p->state), rd_str_cstr(ci->state));
        p->users = ci->users;
    }
}

static struct fx *g_fx;
static char g_probe_id[RD_CAMERA_ID_MAX + 1];

static bool
probe_idle(void *arg)
{
    (void)arg;
    struct state_probe p = {.id = g_probe_id, .state = ""};
    cameras_each(g_fx->t, probe_cb, &p);
    return strcmp(p.state, "idle") == 0;
}

static bool
camera_idle(const char *id)
{
    (void)rd_str_copy(g_probe_id, sizeof(g_probe_id), rd_str_cstr(id));
    return probe_idle(NULL);
}

/* Runs the loop until camera id is idle (pull stopped) or timeout_s. */
static bool
run_until_idle(struct fx *f, const char *id, double timeout_s)
{
    (void)rd_str_copy(g_probe_id, sizeof(g_probe_id), rd_str_cstr(id));
    return run_until(f, probe_idle, NULL, timeout_s);
}

static void
source_for(struct camera_source *s, const char *id, uint16_t port)
{
    memset(s, 0, sizeof(*s));
    (void)rd_str_copy(s->id, sizeof(s->id), rd_str_cstr(id));
    snprintf(s->url, sizeof(s->url), "rtsp://127.0.0.1:%u/cam", (unsigned)port);
    s->enabled = true;
}

/* ---- Tests ------------------------------------------------------------------------------------
 */

static void
test_static_and_unknown(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, false, 0.2, 1.0);
    struct stream *s;
    assert_int_equal(cameras_add_static(f.t, rd_str_cstr("lobby"), SDP_ONE, strlen(SDP_ONE), &s),
                     RD_OK);
    struct user a, b;
    user_init(&a);
    user_init(&b);
    assert_int_equal(cameras_acquire(f.t, rd_str_cstr("lobby"), &a.u), RD_OK);
    assert_ptr_equal(camera_stream(camera_user_camera(&a.u)), s);
    assert_int_equal(camera_sdp(camera_user_camera(&a.u))->n_media, 1);
    assert_string_equal(camera_id(camera_user_camera(&a.u)), "lobby");
    /* Without a broker, a camera not in the table is not served here. */
    assert_int_equal(cameras_acquire(f.t, rd_str_cstr("dock"), &b.u), RD_ENOTFOUND);
    assert_null(camera_user_camera(&b.u));
    assert_int_equal(cameras_acquire(f.t, rd_str_cstr("bad/id"), &b.u), RD_ENOTFOUND);
    /* Replacing the static camera's SDP: its users are told the stream went away. */
    struct stream *s2;
    assert_int_equal(cameras_add_static(f.t, rd_str_cstr("lobby"), SDP_TWO, strlen(SDP_TWO), &s2),
                     RD_OK);
    assert_int_equal(a.gone_calls, 1);
    assert_null(camera_user_camera(&a.u));
    assert_int_equal(cameras_add_static(f.t, rd_str_cstr("x"), "v=1\r\n", 5, &s2), RD_EPROTO);
    fx_free(&f);
}

static void
test_pull_ready_restart_and_change(void **state)
{
    (void)state;
    struct fakecam fc;
    fakecam_start(&fc);
    struct fx f;
    fx_init(&f, false, 0.2, 3.0);
    g_fx = &f;
    struct camera_source src;
    source_for(&src, "lobby", fc.port);
    assert_int_equal(cameras_set_source(f.t, &src), RD_OK);
    assert_true(camera_idle("lobby")); /* on demand: nothing pulled yet */
    struct user a;
    user_init(&a);
    assert_int_equal(cameras_acquire(f.t, rd_str_cstr("lobby"), &a.u), RD_AGAIN);
    assert_int_equal(a.ready_calls, 0); /* never from inside acquire */
    assert_true(run_until(&f, ready_called, &a, 3.0));
    assert_int_equal(a.ready_status, RD_OK);
    struct stream *first = camera_stream(camera_user_camera(&a.u));
    assert_non_null(first);
    /* The fake camera drops after each PLAY: the puller reconnects with the same SDP and
     * the stream is kept (viewers see continuous numbering), the user is not disturbed. */
    int want = fc.conns + 2;
    double end = ev_time() + 3.0;
    while (fc.conns < want && ev_time() < end) {
        ev_run(f.loop, EVRUN_ONCE | EVRUN_NOWAIT);
        usleep(2000);
    }
    assert_true(fc.conns >= want);
    assert_int_equal(a.gone_calls, 0);
    assert_ptr_equal(camera_stream(camera_user_camera(&a.u)), first);
    /* Now the camera comes back with another track: the user is closed. */
    fc.two_tracks = true;
    assert_true(run_until(&f, gone_called, &a, 3.0));
    assert_null(camera_user_camera(&a.u));
    /* Nobody holds it: the pull lingers, then stops. */
    assert_true(run_until_idle(&f, "lobby", 3.0));
    fx_free(&f);
    fakecam_stop(&fc);
}

static void
test_unreachable_times_out_and_lingers(void **state)
{
    (void)state;
    /* A port nobody listens on. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    close(s);
    struct fx f;
    fx_init(&f, false, 0.2, 0.4);
    g_fx = &f;
    struct camera_source src;
    source_for(&src, "dock", ntohs(sa.sin_port));
    assert_int_equal(cameras_set_source(f.t, &src), RD_OK);
    struct user a, b;
    user_init(&a);
    user_init(&b);
    assert_int_equal(cameras_acquire(f.t, rd_str_cstr("dock"), &a.u), RD_AGAIN);
    assert_int_equal(cameras_acquire(f.t, rd_str_cstr("dock"), &b.u), RD_AGAIN);
    camera_user_release(&b.u); /* released while waiting: never called back */
    double t0 = ev_time();
    assert_true(run_until(&f, ready_called, &a, 2.0));
    double waited = ev_time() - t0;
    assert_int_equal(a.ready_status, RD_EBUSY);
    assert_true(waited > 0.3 && waited < 1.5);
    assert_int_equal(b.ready_calls, 0);
    assert_null(camera_user_camera(&a.u));
    assert_false(camera_idle("dock")); /* still retrying during the linger */
    assert_true(run_until_idle(&f, "dock", 2.0));
    /* Disabled: refused at once. */
    src.enabled = false;
    assert_int_equal(cameras_set_source(f.t, &src), RD_OK);
    assert_int_equal(cameras_acquire(f.t, rd_str_cstr("dock"), &a.u), RD_EBUSY);
    /* Always-on: pulled with nobody watching. */
    src.enabled = true;
    src.always_on = true;
    assert_int_equal(cameras_set_source(f.t, &src), RD_OK);
    assert_false(camera_idle("dock"));
    fx_free(&f);
}

static void
test_sources_from_broker(void **state)
{
    (void)state;
    struct fakecam fc;
    fakecam_start(&fc);
    struct fx f;
    fx_init(&f, true, 0.2, 3.0);
    g_fx = &f;
    struct user a, b;
    user_init(&a);
    user_init(&b);
    /* Unknown here: the table asks the broker and the user waits. */
    assert_int_equal(cameras_acquire(f.t, rd_str_cstr("lobby"), &a.u), RD_AGAIN);
    assert_int_equal(fetch.calls, 1);
    assert_string_equal(fetch.id, "lobby");
    assert_int_equal(cameras_acquire(f.t, rd_str_cstr("ghost"), &b.u), RD_AGAIN);
    assert_int_equal(fetch.calls, 2);
    /* The broker says "ghost" is not served here: its waiter gets RD_ENOTFOUND (403). */
    fetch.fn(fetch.arg, "ghost", RD_ENOTFOUND, NULL);
    assert_int_equal(b.ready_calls, 1);
    assert_int_equal(b.ready_status, RD_ENOTFOUND);
    /* The broker answers lobby's source: the pull starts and the user gets the SDP. */
    struct camera_source src;
    source_for(&src, "lobby", fc.port);
    src.registry_version = 5;
    fetch.fn(fetch.arg, "lobby", RD_OK, &src);
    assert_true(run_until(&f, ready_called, &a, 3.0));
    assert_int_equal(a.ready_status, RD_OK);
    /* A newer registry version: sources in use are fetched again. */
    int calls = fetch.calls;
    cameras_registry_changed(f.t, 6);
    assert_int_equal(fetch.calls, calls + 1);
    /* The camera was removed from the registry: its users are closed. */
    fetch.fn(fetch.arg, "lobby", RD_ENOTFOUND, NULL);
    assert_int_equal(a.gone_calls, 1);
    assert_null(camera_user_camera(&a.u));
    /* A broker failure with no source known: waiters get 503. */
    struct user c;
    user_init(&c);
    assert_int_equal(cameras_acquire(f.t, rd_str_cstr("yard"), &c.u), RD_AGAIN);
    fetch.fn(fetch.arg, "yard", RD_EIO, NULL);
    assert_int_equal(c.ready_status, RD_EBUSY);
    fx_free(&f);
    fakecam_stop(&fc);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_and_unknown),
        cmocka_unit_test(test_pull_ready_restart_and_change),
        cmocka_unit_test(test_unreachable_times_out_and_lingers),
        cmocka_unit_test(test_sources_from_broker),
    };
    return rd_test_run(argc, argv, "cameras", tests, sizeof(tests) / sizeof(tests[0]));
}
