/* SPDX-License-Identifier: MIT */
/* listener.c on a real loop and loopback sockets: pipelining in order, framing errors and
 * their status, close after final responses, every deadline (shortened), the global and
 * per-IP caps, the accept rate, draining, log lines without credentials, and TCP_DEFER_ACCEPT
 * (the first request answered in the accepting wakeup; silent connections held by the kernel,
 * outside the caps, then closed at the first-byte deadline). */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_segs_in (glibc's stops before it) */
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "rd_err.h"

struct lfx {
    struct ev_loop *loop;
    struct listener *l;
    struct listener_params p;
    struct metrics m;
    unsigned n_requests;
    char log_path[64];
};

#define BIG_BODY 1500 /* with its head, within LISTENER_RESPONSE_ROOM */

static void
big_body(int64_t cseq, char *body)
{
    for (size_t i = 0; i < BIG_BODY; i++)
        body[i] = (char)('a' + (cseq + (int64_t)i) % 26);
}

static int
handler(void *ctx, const struct rtsp_msg *msg, const struct listener_peer *peer,
        struct rtsp_out *out, bool *close_after)
{
    struct lfx *f = ctx;
    f->n_requests++;
    if (rd_str_eq_cstr(msg->method_name, "FAIL"))
        return RD_EIO;
    /* Clients connect from 127.0.0.1, or bind 127.0.0.2 to be another address. */
    size_t il = strlen(peer->ip);
    if ((strcmp(peer->ip, "127.0.0.1") != 0 && strcmp(peer->ip, "127.0.0.2") != 0)
        || strncmp(peer->addr, peer->ip, il) != 0 || peer->addr[il] != ':')
        return RD_EPROTO;
    (void)rtsp_resp_begin(out, 200, rtsp_resp_cseq_of(msg));
    (void)rtsp_resp_headerf(out, "X-Conn", "%llu", (unsigned long long)peer->conn_id);
    *close_after = msg->method == RTSP_METHOD_DESCRIBE;
    if (rd_str_eq_cstr(msg->method_name, "BIG")) {
        /* A body of BIG_BODY bytes derived from the CSeq: corruption or reordering shows. */
        char body[BIG_BODY];
        big_body(rtsp_resp_cseq_of(msg), body);
        return rtsp_resp_end(out, body, sizeof(body));
    }
    return rtsp_resp_end(out, NULL, 0);
}

static int
setup(void **state)
{
    struct lfx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(f->loop);
    listener_params_default(&f->p);
    f->p.ip = "127.0.0.1";
    f->p.port = 0;
    /* Most tests drive silent connections through the listener's own deadlines and caps;
     * the deferred-accept tests turn it back on. */
    f->p.defer_accept_s = 0;
    metrics_init(&f->m);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct lfx *f = *state;
    listener_destroy(f->l);
    ev_loop_destroy(f->loop);
    if (f->log_path[0] != '\0') {
        log_close();
        unlink(f->log_path);
    }
    free(f);
    return 0;
}

static void
start(struct lfx *f)
{
    struct rd_errbuf err = {{0}};
    assert_int_equal(listener_start(f->loop, &f->p, handler, f, &f->m, &f->l, &err), RD_OK);
    assert_true(listener_port(f->l) != 0);
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the loop for a moment. */
static void
pump(struct lfx *f, double seconds)
{
    double end = now_s() + seconds;
    do {
        ev_run(f->loop, EVRUN_NOWAIT);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    } while (now_s() < end);
}

static void
stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ONE);
}

/* Runs the loop blocking (no polling of ours) for seconds. */
static void
run_for(struct lfx *f, double seconds)
{
    ev_timer t;
    ev_timer_init(&t, stop_cb, seconds, 0.);
    ev_timer_start(f->loop, &t);
    ev_run(f->loop, 0);
    ev_timer_stop(f->loop, &t);
}

static int
connect_to(struct lfx *f)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(listener_port(f->l))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    pump(f, 0.01); /* accepted */
    return fd;
}

static void
send_all(int fd, const char *s, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, s + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN)
            continue;
        assert_true(w > 0);
        off += (size_t)w;
    }
}

static void
send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

struct reply {
    char buf[65536];
    size_t len;
    bool eof;
};

/* Reads while pumping the loop until want bytes of text appeared (count times), EOF, or
 * timeout. */
static void
read_for(struct lfx *f, int fd, struct reply *r, const char *want, unsigned count, double timeout)
{
    double end = now_s() + timeout;
    while (now_s() < end && !r->eof) {
        ev_run(f->loop, EVRUN_NOWAIT);
        ssize_t n = recv(fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len, 0);
        if (n > 0) {
            r->len += (size_t)n;
            r->buf[r->len] = '\0';
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            r->eof = true;
        } else {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        if (want != NULL) {
            unsigned seen = 0;
            for (const char *p = r->buf; (p = strstr(p, want)) != NULL; p += strlen(want))
                seen++;
            if (seen >= count)
                return;
        }
    }
}

static unsigned
occurrences(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ---- Pipelining ---------------------------------------------------------------------------- */

static void
test_pipelined_in_order(void **state)
{
    struct lfx *f = *state;
    start(f);
    int fd = connect_to(f);
    send_str(
        fd, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n"
            "\r\nOPTIONS rtsp://h/x RTSP/1.0\r\nCSeq: 3\r\nUser-Agent: a\r\nUser-Agent: b\r\n\r\n");
    struct reply r = {0};
    read_for(f, fd, &r, "RTSP/1.0 200", 3, 2.0);
    const char *c1 = strstr(r.buf, "CSeq: 1\r\n"), *c2 = strstr(r.buf, "CSeq: 2\r\n"),
               *c3 = strstr(r.buf, "CSeq: 3\r\n");
    assert_non_null(c1);
    assert_non_null(c2);
    assert_non_null(c3);
    assert_true(c1 < c2 && c2 < c3);
    assert_false(r.eof); /* the connection stays open */
    assert_int_equal(f->n_requests, 3);
    assert_int_equal(listener_open_count(f->l), 1);
    assert_int_equal(f->m.conns[METRICS_CONN_ACCEPTED], 1);
    assert_int_equal(f->m.conns_open, 1);
    close(fd);
    pump(f, 0.05);
    assert_int_equal(listener_open_count(f->l), 0);
    assert_int_equal(f->m.conns_open, 0);
}

static void
test_long_pipeline(void **state)
{
    struct lfx *f = *state;
    start(f);
    int fd = connect_to(f);
    /* 300 requests in one write: more than RD_RTSP_MAX_PIPELINED per wakeup and more answers
     * than the output buffer holds; the client reads slowly. */
    static char big[20000];
    size_t len = 0;
    for (int i = 1; i <= 300; i++)
        len += (size_t)snprintf(big + len, sizeof(big) - len,
                                "OPTIONS * RTSP/1.0\r\nCSeq: %d\r\n\r\n", i);
    assert_true(len < RTSP_MSG_MAX_REQUEST_BYTES);
    send_all(fd, big, len);
    struct reply *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    read_for(f, fd, r, "RTSP/1.0 200", 300, 10.0);
    assert_int_equal(occurrences(r->buf, "RTSP/1.0 200"), 300);
    /* In order: CSeq i appears before CSeq i+1. */
    const char *p = r->buf;
    for (int i = 1; i <= 300; i++) {
        char want[32];
        snprintf(want, sizeof(want), "CSeq: %d\r\n", i);
        p = strstr(p, want);
        assert_non_null(p);
    }
    assert_int_equal(f->n_requests, 300);
    free(r);
    close(fd);
}

/* Requests already read wait for room in the output, not for more input: a batch whose
 * answers need several rounds of output is answered in full although the peer sends nothing
 * more (it used to wait for the header deadline). */
static void
test_backpressure_resumes_without_input(void **state)
{
    struct lfx *f = *state;
    start(f);
    int fd = connect_to(f);
    enum { N = 200 };
    static char reqs[N * 40];
    size_t len = 0;
    for (int i = 1; i <= N; i++)
        len += (size_t)snprintf(reqs + len, sizeof(reqs) - len,
                                "BIG * RTSP/1.0\r\nCSeq: %d\r\n\r\n", i);
    send_all(fd, reqs, len);
    struct reply *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    double end = now_s() + 2.0; /* well within the header deadline */
    while (f->n_requests < N && now_s() < end) {
        read_for(f, fd, r, NULL, 0, 0.001);  /* drain: the answers' content is checked above */
        assert_false(r->eof && r->len == 0); /* the connection is alive */
        r->len = 0;
        r->eof = false;
    }
    assert_int_equal(f->n_requests, N);
    free(r);
    close(fd);
}

/* The descriptor, in this process, of the accepted socket whose peer is fd's local end. */
static int
server_side_of(int fd)
{
    struct sockaddr_in mine, peer;
    socklen_t ml = sizeof(mine);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&mine, &ml), 0);
    for (int s = 3; s < 1024; s++) {
        socklen_t pl = sizeof(peer);
        if (s == fd || getpeername(s, (struct sockaddr *)&peer, &pl) != 0 || pl != sizeof(peer))
            continue;
        if (peer.sin_port == mine.sin_port && peer.sin_addr.s_addr == mine.sin_addr.s_addr)
            return s;
    }
    fail_msg("no accepted socket for fd %d", fd);
    return -1;
}

/* A peer that sends requests but stops reading fills its socket: answers the socket did not
 * take move from the listener's shared scratch to the connection's own buffer and go out
 * intact and in order later, while another connection is answered in between. */
static void
test_partial_send_keeps_order(void **state)
{
    struct lfx *f = *state;
    start(f);
    int slow = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(slow >= 0);
    int small = 4096; /* fixed: no receive buffer autotuning up to tcp_rmem's maximum */
    assert_int_equal(setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(listener_port(f->l))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(slow, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(fcntl(slow, F_SETFL, O_NONBLOCK), 0);
    pump(f, 0.01);
    /* The server's side of it, in this process: a small send buffer makes its sends partial. */
    int srv = server_side_of(slow);
    assert_int_equal(setsockopt(srv, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    enum { M = 20000 }; /* far more answers (30 MB) than the sockets hold */
    static char reqs[M * 40];
    size_t len = 0;
    for (int i = 1; i <= M; i++)
        len += (size_t)snprintf(reqs + len, sizeof(reqs) - len,
                                "BIG * RTSP/1.0\r\nCSeq: %d\r\n\r\n", i);
    /* Send while the server reads. */
    size_t sent = 0;
    double quiet_since = now_s();
    while (sent < len && now_s() - quiet_since < 0.3) {
        ev_run(f->loop, EVRUN_NOWAIT);
        ssize_t n = send(slow, reqs + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            quiet_since = now_s();
        } else {
            assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
    }
    assert_int_equal(sent, len); /* requests are small: the server's socket takes them all */
    pump(f, 0.3);
    unsigned answered = f->n_requests;
    assert_true(answered < M); /* the answers filled the socket: the server waits */
    int other = connect_to(f);
    send_str(other, "OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\n");
    struct reply *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    read_for(f, other, r, "\r\n\r\n", 1, 2.0);
    assert_non_null(strstr(r->buf, "RTSP/1.0 200 OK\r\nCSeq: 7\r\n"));
    free(r);
    close(other);
    /* Read what the slow peer is owed: every request it sent in full, in order, intact. */
    static char in[1 << 16];
    size_t have = 0;
    char body[BIG_BODY];
    int next = 1;
    double end = now_s() + 20.0, quiet = now_s();
    while (now_s() < end && now_s() - quiet < 0.3) {
        ev_run(f->loop, EVRUN_NOWAIT);
        ssize_t n = recv(slow, in + have, sizeof(in) - have, 0);
        if (n > 0) {
            have += (size_t)n;
            quiet = now_s();
        } else {
            assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
        for (;;) { /* consume the complete answers at the start of in */
            char head[96];
            int hl =
                snprintf(head, sizeof(head),
                         "RTSP/1.0 200 OK\r\nCSeq: %d\r\nX-Conn: 1\r\nContent-Length: %d\r\n\r\n",
                         next, BIG_BODY);
            if (have < (size_t)hl + BIG_BODY)
                break;
            assert_memory_equal(in, head, (size_t)hl);
            big_body(next, body);
            assert_memory_equal(in + hl, body, BIG_BODY);
            memmove(in, in + hl + BIG_BODY, have - (size_t)hl - BIG_BODY);
            have -= (size_t)hl + BIG_BODY;
            next++;
        }
    }
    assert_int_equal(f->n_requests, M + 1); /* and the OPTIONS above */
    assert_int_equal(next - 1, M);
    assert_int_equal(have, 0);
    close(slow);
}

/* ---- Framing errors ------------------------------------------------------------------------ */

struct bad_case {
    const char *input;
    const char *status_line;
    int status;
};

static void
test_framing_errors(void **state)
{
    struct lfx *f = *state;
    start(f);
    static char long_uri[5000];
    memcpy(long_uri, "DESCRIBE rtsp://h/", 18);
    memset(long_uri + 18, 'a', 4100);
    memcpy(long_uri + 4118, " RTSP/1.0\r\nCSeq: 1\r\n\r\n", 23);
    static const struct bad_case cases[] = {
        {"$\001\004abcd", "RTSP/1.0 400 ", 400},
        {"OPTIONS * RTSP/2.0\r\nCSeq: 4\r\n\r\n", "RTSP/1.0 505 ", 505},
        {"OPTIONS * RTSP/1.0\r\nCSeq: 4\r\nTransfer-Encoding: chunked\r\n\r\n", "RTSP/1.0 501 ",
         501},
        {"GET_PARAMETER * RTSP/1.0\r\nCSeq: 5\r\nContent-Length: 99999\r\n\r\n", "RTSP/1.0 413 ",
         413},
        {"OPTIONS * RTSP/1.0\r\nCSeq: -1\r\n\r\n", "RTSP/1.0 400 ", 400},
        {"OPTIONS * RTSP/1.0\r\n\r\n", "RTSP/1.0 400 ", 400},
        {"options * RTSP/1.0\r\nCSeq: 1\r\n\r\n", "RTSP/1.0 400 ", 400},
        {long_uri, "RTSP/1.0 414 ", 414},
    };
    unsigned parse_errors = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = connect_to(f);
        send_str(fd, cases[i].input);
        struct reply r = {0};
        read_for(f, fd, &r, NULL, 0, 2.0);
        if (strncmp(r.buf, cases[i].status_line, strlen(cases[i].status_line)) != 0)
            fail_msg("case %zu: got %s", i, r.buf);
        assert_true(r.eof); /* closed after a framing error */
        parse_errors++;
        assert_int_equal(f->m.parse_errors[cases[i].status] > 0, 1);
        close(fd);
    }
    /* The 413 echoes CSeq (the header block was complete); the '$' answer has none. */
    assert_int_equal(f->n_requests, 0);
    unsigned total = 0;
    for (int s = 0; s < 600; s++)
        total += (unsigned)f->m.parse_errors[s];
    assert_int_equal(total, parse_errors);
    pump(f, 0.05);
    assert_int_equal(listener_open_count(f->l), 0);
}

static void
test_close_after_and_handler_error(void **state)
{
    struct lfx *f = *state;
    start(f);
    int fd = connect_to(f);
    /* DESCRIBE asks for close after its answer: the OPTIONS behind it is never answered. */
    send_str(
        fd, "DESCRIBE rtsp://h/x RTSP/1.0\r\nCSeq: 1\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n");
    struct reply r = {0};
    read_for(f, fd, &r, NULL, 0, 2.0);
    assert_true(r.eof);
    assert_int_equal(occurrences(r.buf, "RTSP/1.0 200"), 1);
    assert_non_null(strstr(r.buf, "CSeq: 1\r\n"));
    assert_int_equal(f->n_requests, 1);
    close(fd);
    /* A handler failure closes without an answer. */
    fd = connect_to(f);
    send_str(fd, "FAIL * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    struct reply r2 = {0};
    read_for(f, fd, &r2, NULL, 0, 2.0);
    assert_true(r2.eof);
    assert_int_equal(r2.len, 0);
    close(fd);
}

/* ---- Deadlines ----------------------------------------------------------------------------- */

static void
test_deadlines(void **state)
{
    struct lfx *f = *state;
    f->p.first_byte_s = 0.2;
    f->p.header_s = 0.2;
    f->p.body_s = 0.2;
    f->p.idle_s = 0.2;
    start(f);
    /* Silent after accept: closed without an answer. */
    int fd = connect_to(f);
    double t0 = now_s();
    struct reply r = {0};
    read_for(f, fd, &r, NULL, 0, 3.0);
    assert_true(r.eof);
    assert_int_equal(r.len, 0);
    assert_true(now_s() - t0 < 1.5);
    close(fd);
    /* Slowloris: a header block that never ends, bytes trickling in. */
    fd = connect_to(f);
    t0 = now_s();
    send_str(fd, "OPTIONS * RTSP/1.0\r\n");
    pump(f, 0.1);
    send_str(fd, "X-A: 1\r\n");
    struct reply r2 = {0};
    read_for(f, fd, &r2, NULL, 0, 3.0);
    assert_true(r2.eof);
    assert_int_equal(strncmp(r2.buf, "RTSP/1.0 408 ", 13), 0);
    assert_true(now_s() - t0 < 1.5);
    close(fd);
    /* A body that never completes. */
    fd = connect_to(f);
    send_str(fd, "GET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 10\r\n\r\nabc");
    struct reply r3 = {0};
    read_for(f, fd, &r3, NULL, 0, 3.0);
    assert_true(r3.eof);
    assert_int_equal(strncmp(r3.buf, "RTSP/1.0 408 ", 13), 0);
    close(fd);
    /* Idle after an answer. */
    fd = connect_to(f);
    send_str(fd, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    struct reply r4 = {0};
    read_for(f, fd, &r4, NULL, 0, 3.0);
    assert_true(r4.eof);
    assert_int_equal(occurrences(r4.buf, "RTSP/1.0 200"), 1);
    close(fd);
    assert_int_equal(f->m.conns[METRICS_CONN_TIMEOUT], 4);
    assert_int_equal(f->m.responses[408], 2);
    pump(f, 0.05);
    assert_int_equal(listener_open_count(f->l), 0);
}

static void
test_deadline_resets_per_request(void **state)
{
    struct lfx *f = *state;
    f->p.header_s = 0.3;
    f->p.idle_s = 0.3;
    start(f);
    int fd = connect_to(f);
    /* Requests every 0.15 s for a second: each within its own deadlines, never closed. */
    struct reply r = {0};
    for (int i = 1; i <= 7; i++) {
        char req[64];
        snprintf(req, sizeof(req), "OPTIONS * RTSP/1.0\r\nCSeq: %d\r\n\r\n", i);
        send_str(fd, req);
        read_for(f, fd, &r, "RTSP/1.0 200", (unsigned)i, 1.0);
        assert_false(r.eof);
        pump(f, 0.15);
    }
    assert_int_equal(occurrences(r.buf, "RTSP/1.0 200"), 7);
    close(fd);
}

/* ---- Admission ----------------------------------------------------------------------------- */

static bool
refused_at_once(struct lfx *f, int fd)
{
    struct reply r = {0};
    read_for(f, fd, &r, NULL, 0, 0.3);
    return r.eof && r.len == 0;
}

static void
test_per_ip_cap(void **state)
{
    struct lfx *f = *state;
    f->p.max_conns_per_ip = 2;
    start(f);
    int a = connect_to(f), b = connect_to(f), c = connect_to(f);
    assert_true(refused_at_once(f, c));
    assert_int_equal(f->m.conns[METRICS_CONN_REFUSED_PER_IP], 1);
    assert_int_equal(listener_open_count(f->l), 2);
    close(c);
    /* The admitted ones work. */
    send_str(a, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    struct reply r = {0};
    read_for(f, a, &r, "RTSP/1.0 200", 1, 2.0);
    assert_int_equal(occurrences(r.buf, "RTSP/1.0 200"), 1);
    /* One closes: room for another. */
    close(b);
    pump(f, 0.05);
    int d = connect_to(f);
    assert_false(refused_at_once(f, d));
    assert_int_equal(listener_open_count(f->l), 2);
    close(a);
    close(d);
}

static void
test_global_cap(void **state)
{
    struct lfx *f = *state;
    f->p.max_conns = 2;
    start(f);
    int a = connect_to(f), b = connect_to(f), c = connect_to(f);
    assert_true(refused_at_once(f, c));
    assert_int_equal(f->m.conns[METRICS_CONN_REFUSED_GLOBAL], 1);
    assert_int_equal(f->m.conns[METRICS_CONN_ACCEPTED], 2);
    close(a);
    close(b);
    close(c);
}

static void
test_accept_rate(void **state)
{
    struct lfx *f = *state;
    f->p.accept_rate_per_ip = 0.5;
    f->p.accept_burst_per_ip = 3;
    start(f);
    int fds[4];
    for (int i = 0; i < 3; i++) {
        fds[i] = connect_to(f);
        close(fds[i]); /* closing does not give the token back */
    }
    fds[3] = connect_to(f);
    assert_true(refused_at_once(f, fds[3]));
    assert_int_equal(f->m.conns[METRICS_CONN_REFUSED_RATE], 1);
    close(fds[3]);
}

/* Out of descriptors: accepting pauses (no busy loop) and resumes by itself once descriptors
 * are free again; the connections waiting in the backlog are then accepted. */
static void
test_emfile_pauses_accept(void **state)
{
    struct lfx *f = *state;
    start(f);
    enum { N = 10 };
    int fds[N];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(listener_port(f->l))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int highest = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
        if (fds[i] > highest)
            highest = fds[i];
    }
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)highest + 1 + 3; /* room for three accepted connections */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    run_for(f, 0.5); /* a readable listening socket would make this spin without the pause */
    getrusage(RUSAGE_SELF, &r1);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(listener_open_count(f->l), 3);
    /* Paused, not spinning: far less CPU than the 0.3 s spent. */
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec)
                 + (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6
                 + (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec)
                 + (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
    assert_true(cpu < 0.25);
    pump(f, 0.3); /* the pause (RD_ACCEPT_PAUSE_MS) ends: the backlog is accepted */
    assert_int_equal(listener_open_count(f->l), N);
    for (int i = 0; i < N; i++)
        close(fds[i]);
}

/* ---- Closing after a final response --------------------------------------------------------- */

static void
test_linger_only_with_unread_input(void **state)
{
    struct lfx *f = *state;
    start(f);
    /* A framing error (505) with a second request behind it: the peer sends ahead, so more of
     * its bytes may be in flight and a close could reset the 505 away. The listener shuts its
     * side and waits for the peer's FIN instead. */
    int c = connect_to(f);
    send_str(c, "OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n");
    struct reply r = {0};
    read_for(f, c, &r, NULL, 0, 2.0);
    assert_true(r.eof);
    assert_int_equal(occurrences(r.buf, "RTSP/1.0 505"), 1);
    assert_int_equal(listener_open_count(f->l), 1);
    shutdown(c, SHUT_WR);
    pump(f, 0.05);
    assert_int_equal(listener_open_count(f->l), 0);
    close(c);
}

/* ---- Drain --------------------------------------------------------------------------------- */

static void
test_drain(void **state)
{
    struct lfx *f = *state;
    start(f);
    uint16_t port = listener_port(f->l);
    int idle = connect_to(f), busy = connect_to(f);
    send_str(busy, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n");
    pump(f, 0.05);
    listener_drain(f->l);
    listener_drain(f->l); /* idempotent */
    struct reply r = {0};
    read_for(f, idle, &r, NULL, 0, 1.0);
    assert_true(r.eof);
    assert_int_equal(listener_open_count(f->l), 1);
    /* The request being read completes, is answered, then the connection closes. */
    send_str(busy, "\r\n");
    struct reply r2 = {0};
    read_for(f, busy, &r2, NULL, 0, 2.0);
    assert_true(r2.eof);
    assert_int_equal(occurrences(r2.buf, "RTSP/1.0 200"), 1);
    /* Nothing of the peer's was left unread: closed at once, no lingering. */
    assert_int_equal(listener_open_count(f->l), 0);
    /* Nothing listens any more. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_not_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    close(fd);
    close(idle);
    close(busy);
}

/* ---- Logs ---------------------------------------------------------------------------------- */

static void
test_parse_error_log_has_no_userinfo(void **state)
{
    struct lfx *f = *state;
    snprintf(f->log_path, sizeof(f->log_path), "/tmp/rd-test-listener-%d.log", (int)getpid());
    struct rd_errbuf err = {{0}};
    assert_int_equal(log_open("test", f->log_path, RD_LOG_INFO, &err), RD_OK);
    start(f);
    int fd = connect_to(f);
    send_str(fd, "DESCRIBE rtsp://admin:s3cr3t@cam/x RTSP/9.9\r\nCSeq: 1\r\nX: \x01\r\n\r\n");
    struct reply r = {0};
    read_for(f, fd, &r, NULL, 0, 2.0);
    assert_int_equal(strncmp(r.buf, "RTSP/1.0 505 ", 13), 0);
    close(fd);
    char text[8192];
    FILE *lf = fopen(f->log_path, "r");
    assert_non_null(lf);
    size_t n = fread(text, 1, sizeof(text) - 1, lf);
    fclose(lf);
    text[n] = '\0';
    assert_non_null(strstr(text, "request refused"));
    assert_non_null(strstr(text, "status=505"));
    assert_non_null(strstr(text, "rtsp://***@cam/x"));
    assert_null(strstr(text, "s3cr3t"));
    assert_null(strstr(text, "admin"));
    /* Every byte of the log is printable or a newline. */
    for (size_t i = 0; i < n; i++)
        assert_true(text[i] == '\n' || (text[i] >= 0x20 && text[i] < 0x7f));
}

/* ---- Deferred accept ----------------------------------------------------------------------- */

static int
connect_silently(struct lfx *f)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(listener_port(f->l))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    assert_true(rc == 0 || errno == EINPROGRESS);
    return fd;
}

/* The request that completes the kernel's accept is answered in the same loop iteration:
 * accept, read, answer, no wakeup in between. */
static void
test_deferred_answers_in_accept(void **state)
{
    struct lfx *f = *state;
    f->p.defer_accept_s = 1;
    start(f);
    int fd = connect_silently(f);
    pump(f, 0.05);
    assert_int_equal(f->m.conns[METRICS_CONN_ACCEPTED], 0); /* the kernel holds it */
    send_str(fd, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    ev_run(f->loop, EVRUN_NOWAIT); /* one iteration */
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_int_equal(strncmp(buf, "RTSP/1.0 200 ", 13), 0);
    assert_int_equal(f->m.conns[METRICS_CONN_ACCEPTED], 1);
    assert_int_equal(listener_open_count(f->l), 1); /* kept for the next request */
    close(fd);
}

/* Silent connections wait in the kernel, outside the per-IP cap: a viewer from the same
 * address that sends its request is served. After the deferral (one SYN-ACK retransmit,
 * about 1 s) the kernel hands a silent one over, and the first-byte deadline closes it. */
static void
test_deferred_silent_connections(void **state)
{
    struct lfx *f = *state;
    f->p.defer_accept_s = 1;
    f->p.max_conns_per_ip = 2;
    f->p.first_byte_s = 0.2;
    start(f);
    double t0 = now_s();
    int silent[4];
    for (int i = 0; i < 4; i++)
        silent[i] = connect_silently(f);
    pump(f, 0.1);
    assert_int_equal(listener_open_count(f->l), 0);
    int fd = connect_silently(f);
    send_str(fd, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    struct reply r = {0};
    read_for(f, fd, &r, "RTSP/1.0 200", 1, 1.0);
    assert_int_equal(occurrences(r.buf, "RTSP/1.0 200"), 1);
    close(fd);
    pump(f, 0.05);
    /* Handed over after about a second: two are admitted and time out without an answer,
     * two are refused by the per-IP cap. */
    for (int i = 0; i < 4; i++) {
        struct reply s = {0};
        read_for(f, silent[i], &s, NULL, 0, 4.0);
        assert_true(s.eof);
        assert_int_equal(s.len, 0);
        close(silent[i]);
    }
    double took = now_s() - t0;
    assert_true(took >= 0.9 && took < 4.0);
    assert_int_equal(f->m.conns[METRICS_CONN_ACCEPTED], 3);
    assert_int_equal(f->m.conns[METRICS_CONN_TIMEOUT], 2);
    assert_int_equal(f->m.conns[METRICS_CONN_REFUSED_PER_IP], 2);
    pump(f, 0.05);
    assert_int_equal(listener_open_count(f->l), 0);
}

/* Segments the client received on a connection the listener answered: the SYN-ACK, the
 * answer to OPTIONS carrying the ACK of the request (no ACK of its own: TCP_QUICKACK off on
 * the listener), and the final answer with the FIN in one segment (MSG_MORE, then close).
 * A scheduling stall of over 40 ms (the delayed-ACK timer) adds a bare ACK, so three
 * connections get the chance to show the exact count. */
static void
test_answers_share_segments(void **state)
{
    struct lfx *f = *state;
    f->p.defer_accept_s = 1;
    start(f);
    unsigned segs = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        int fd = connect_to(f); /* held by the kernel until it sends */
        send_str(fd, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
        struct reply r = {0};
        read_for(f, fd, &r, "RTSP/1.0 200", 1, 2.0);
        send_str(fd, "DESCRIBE rtsp://h/cam RTSP/1.0\r\nCSeq: 2\r\n\r\n");
        read_for(f, fd, &r, NULL, 0, 2.0);
        assert_true(r.eof);
        assert_int_equal(occurrences(r.buf, "RTSP/1.0 200"), 2);
        struct tcp_info ti;
        socklen_t tl = sizeof(ti);
        memset(&ti, 0, sizeof(ti));
        assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl), 0);
        assert_true(tl >= offsetof(struct tcp_info, tcpi_segs_in) + sizeof(ti.tcpi_segs_in));
        segs = ti.tcpi_segs_in;
        close(fd);
        if (segs == 3)
            break;
    }
    assert_int_equal(segs, 3);
}

/* A flood of silent connections fills the kernel's queue of half-open ones (the listen
 * backlog, 1024). New connections then get SYN cookies, which skip the deferral: a viewer
 * is still served at once, not after a SYN retransmit (1 s). Needs the default
 * net.ipv4.tcp_syncookies = 1, which docs/broker.md asks operators to keep. */
static void
test_deferred_flood_keeps_serving(void **state)
{
    struct lfx *f = *state;
    FILE *sc = fopen("/proc/sys/net/ipv4/tcp_syncookies", "r");
    int cookies = -1;
    if (sc != NULL) {
        if (fscanf(sc, "%d", &cookies) != 1)
            cookies = -1;
        fclose(sc);
    }
    if (cookies != 1) {
        fprintf(stderr, "net.ipv4.tcp_syncookies is %d, not 1: flood case skipped\n", cookies);
        skip();
    }
    enum { FLOOD = 1100 };
    struct rlimit old, want;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    want = old;
    if (want.rlim_cur < FLOOD + 100) {
        want.rlim_cur = want.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &want), 0);
    }
    assert_true(want.rlim_cur >= FLOOD + 100);
    f->p.defer_accept_s = 1;
    start(f);
    static int silent[FLOOD];
    for (int i = 0; i < FLOOD; i++)
        silent[i] = connect_silently(f);
    /* A viewer from another address (the flood's own is over its per-IP cap by now). */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000002); /* 127.0.0.2 */
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(listener_port(f->l))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    double t0 = now_s();
    int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    assert_true(rc == 0 || errno == EINPROGRESS);
    /* Writable once connected; a dropped SYN would leave it pending for a second. */
    static const char req[] = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";
    struct reply r = {0};
    while (now_s() - t0 < 3.0) {
        if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1)
            break;
        pump(f, 0.002);
    }
    read_for(f, fd, &r, "RTSP/1.0 200", 1, 3.0);
    double took = now_s() - t0;
    assert_int_equal(occurrences(r.buf, "RTSP/1.0 200"), 1);
    assert_true(took < 0.5);
    close(fd);
    for (int i = 0; i < FLOOD; i++)
        close(silent[i]);
    pump(f, 0.1);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
static const struct CMUnitTest tests[] = {
    T(test_pipelined_in_order),
    T(test_long_pipeline),
    T(test_partial_send_keeps_order),
    T(test_backpressure_resumes_without_input),
    T(test_framing_errors),
    T(test_close_after_and_handler_error),
    T(test_deadlines),
    T(test_deadline_resets_per_request),
    T(test_per_ip_cap),
    T(test_global_cap),
    T(test_accept_rate),
    T(test_emfile_pauses_accept),
    T(test_linger_only_with_unread_input),
    T(test_drain),
    T(test_parse_error_log_has_no_userinfo),
    T(test_deferred_answers_in_accept),
    T(test_deferred_silent_connections),
    T(test_deferred_flood_keeps_serving),
    T(test_answers_share_segments),
};

RD_TEST_MAIN(tests)
