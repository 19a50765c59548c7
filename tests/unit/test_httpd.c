/* SPDX-License-Identifier: MIT */
/* httpd.c: the MHD glue served from a libev loop on 127.0.0.1:0 (and [::1]:0 when there),
 * with a non-blocking client in the same loop: GET, capped bodies (413 before reading, close
 * when a chunked body overflows), bearer auth. Every run has a 5 s ev_timer bound. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evx.h"
#include "httpd.h"
#include "net.h"
#include "rd_err.h"

#define TEST_BODY_CAP 64
#define TEST_TOKEN    "s3cret-token-0123456789abcdef"

struct client {
    ev_io io;
    ev_timer guard;
    int fd;
    const char *req;
    size_t req_len, sent;
    char resp[16384];
    size_t len;
    bool timed_out;
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
            c->sent = c->req_len; /* the server closed: just read what it said */
        if (c->sent == c->req_len)
            evx_io_set_events(loop, w, EV_READ);
    }
    if (revents & EV_READ) {
        ssize_t n = recv(c->fd, c->resp + c->len, sizeof(c->resp) - 1 - c->len, 0);
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

/* Sends req to ip:port from inside the loop and returns the response (until the server
 * closes; requests say "Connection: close"). Fails the test on a timeout. */
static const char *
run_request(struct ev_loop *loop, const char *ip, uint16_t port, const char *req, size_t req_len)
{
    static struct client c;
    memset(&c, 0, sizeof(c));
    struct rd_errbuf err;
    c.fd = net_tcp_connect(ip, port, &err);
    assert_true(c.fd >= 0);
    c.req = req;
    c.req_len = req_len;
    ev_io_init(&c.io, client_io_cb, c.fd, EV_READ | EV_WRITE);
    ev_timer_init(&c.guard, client_guard_cb, 5., 0.);
    ev_io_start(loop, &c.io);
    ev_timer_start(loop, &c.guard);
    ev_run(loop, 0);
    close(c.fd);
    assert_false(c.timed_out);
    return c.resp;
}

static const char *
get(struct ev_loop *loop, uint16_t port, const char *req)
{
    return run_request(loop, "127.0.0.1", port, req, strlen(req));
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)method;
    (void)version;
    if (strcmp(url, "/x") == 0)
        return httpd_queue_text(conn, MHD_HTTP_OK, "hello /x\n");
    if (strcmp(url, "/secure") == 0) {
        if (!httpd_bearer_ok(conn, TEST_TOKEN, strlen(TEST_TOKEN)))
            return httpd_queue_unauthorized(conn, "test");
        return httpd_queue_text(conn, MHD_HTTP_OK, "secret\n");
    }
    if (strcmp(url, "/echo") == 0) {
        struct httpd_body *body = NULL;
        int rc =
            httpd_body_read(conn, con_cls, TEST_BODY_CAP, upload_data, upload_data_size, &body);
        if (rc == RD_AGAIN)
            return MHD_YES;
        if (rc == RD_ELIMIT)
            return httpd_queue_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too large\n");
        if (rc != RD_OK)
            return MHD_NO;
        assert_int_equal(body->data[body->len], '\0');
        return httpd_queue_buf(conn, MHD_HTTP_OK, "application/octet-stream", body->data,
                               body->len);
    }
    return httpd_queue_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

struct fixture {
    struct ev_loop *loop;
    struct httpd h;
};

static int
setup(void **state)
{
    static struct fixture f;
    struct rd_errbuf err = {""};
    f.loop = ev_loop_new(EVFLAG_AUTO);
    if (f.loop == NULL)
        return -1;
    if (httpd_start(&f.h, f.loop, "127.0.0.1", 0, handler, NULL, &err) != RD_OK) {
        fprintf(stderr, "httpd_start: %s\n", err.msg);
        return -1;
    }
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    httpd_stop(&f->h);
    ev_loop_destroy(f->loop);
    return 0;
}

static bool
has(const char *resp, const char *s)
{
    return strstr(resp, s) != NULL;
}

static void
test_get(void **state)
{
    struct fixture *f = *state;
    assert_true(f->h.port > 0);
    const char *r =
        get(f->loop, f->h.port, "GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_true(has(r, "Content-Type: text/plain; charset=utf-8\r\n"));
    assert_true(has(r, "\r\n\r\nhello /x\n"));
    r = get(f->loop, f->h.port, "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 404 ", 13) == 0);
}

static void
test_header_memory_limit(void **state)
{
    struct fixture *f = *state;
    /* A header block larger than RD_HTTP_CONN_MEMORY cannot fit MHD's per-connection pool:
     * refused with 431, never answered 200 and never grown. */
    static char req[RD_HTTP_CONN_MEMORY + 1024];
    int n = snprintf(req, sizeof(req), "GET /x HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(req + n, 'h', RD_HTTP_CONN_MEMORY);
    n += RD_HTTP_CONN_MEMORY;
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\nConnection: close\r\n\r\n");
    const char *r = run_request(f->loop, "127.0.0.1", f->h.port, req, (size_t)n);
    if (strncmp(r, "HTTP/1.1 431 ", 13) != 0)
        fail_msg("response: %.200s", r);
    assert_false(has(r, "hello /x"));
}

static void
test_bodies(void **state)
{
    struct fixture *f = *state;
    char req[512];
    char body[TEST_BODY_CAP + 1];
    memset(body, 'b', sizeof(body));
    /* Exactly the cap: echoed. */
    int n = snprintf(req, sizeof(req),
                     "POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %d\r\n"
                     "\r\n%.*s",
                     TEST_BODY_CAP, TEST_BODY_CAP, body);
    const char *r = run_request(f->loop, "127.0.0.1", f->h.port, req, (size_t)n);
    assert_true(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
    char want[128];
    snprintf(want, sizeof(want), "\r\n\r\n%.*s", TEST_BODY_CAP, body);
    assert_true(has(r, want));
    /* Empty body. */
    r = get(f->loop, f->h.port,
            "POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_true(has(r, "Content-Length: 0\r\n"));
    /* One byte over the cap, declared: 413 before the body is read (none is sent). */
    r = get(f->loop, f->h.port,
            "POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 65\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 413 ", 13) == 0);
    assert_true(has(r, "too large\n"));
    r = get(f->loop, f->h.port,
            "POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            "Content-Length: 99999999999999999999999\r\n\r\n");
    assert_true(strncmp(r, "HTTP/1.1 4", 10) == 0); /* MHD or we refuse it; never 200 */
    /* Chunked within the cap: collected across calls. */
    n = snprintf(req, sizeof(req),
                 "POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n1e\r\n%.30s\r\n1e\r\n%.30s\r\n0\r\n\r\n",
                 body, body);
    r = run_request(f->loop, "127.0.0.1", f->h.port, req, (size_t)n);
    assert_true(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_true(has(r, "Content-Length: 60\r\n"));
    /* Chunked past the cap: no answer is possible mid-body, so the connection is closed. */
    n = snprintf(req, sizeof(req),
                 "POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n28\r\n%.40s\r\n28\r\n%.40s\r\n0\r\n\r\n",
                 body, body);
    r = run_request(f->loop, "127.0.0.1", f->h.port, req, (size_t)n);
    assert_false(has(r, "HTTP/1.1 200"));
    assert_false(has(r, "bbbb"));
}

static void
test_bearer(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *auth; /* Authorization header line, or "" */
        bool ok;
    } v[] = {
        {"", false},
        {"Authorization: Bearer " TEST_TOKEN "\r\n", true},
        {"Authorization: bearer " TEST_TOKEN "\r\n", true},
        {"Authorization: Bearer  " TEST_TOKEN " \r\n", true},
        {"Authorization: Bearer " TEST_TOKEN "x\r\n", false},
        {"Authorization: Bearer s3cret-token-0123456789abcde\r\n", false},
        {"Authorization: Bearer S3cret-token-0123456789abcdef\r\n", false},
        {"Authorization: Bearer\r\n", false},
        {"Authorization: Basic " TEST_TOKEN "\r\n", false},
        {"Authorization: Bearer" TEST_TOKEN "\r\n", false},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char req[512];
        snprintf(req, sizeof(req), "GET /secure HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n",
                 v[i].auth);
        const char *r = get(f->loop, f->h.port, req);
        if (v[i].ok) {
            assert_true(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
            assert_true(has(r, "secret\n"));
        } else {
            if (strncmp(r, "HTTP/1.1 401 ", 13) != 0)
                fail_msg("case %zu: %s", i, r);
            assert_true(has(r, "WWW-Authenticate: Bearer realm=\"test\"\r\n"));
            assert_false(has(r, "secret\n"));
        }
    }
}

static void
test_ipv6_and_stop(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(loop);
    struct httpd h;
    struct rd_errbuf err = {""};
    assert_int_equal(httpd_start(&h, loop, "localhost", 0, handler, NULL, &err), RD_EPROTO);
    assert_non_null(strstr(err.msg, "not a numeric"));
    if (httpd_start(&h, loop, "::1", 0, handler, NULL, &err) == RD_OK) {
        static const char req[] = "GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        const char *r = run_request(loop, "::1", h.port, req, sizeof(req) - 1);
        assert_true(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
        assert_true(strncmp(h.log.prefix, "http=[::1]:", 11) == 0);
        httpd_stop(&h);
    } else {
        fprintf(stderr, "no IPv6 loopback (%s): IPv6 part skipped\n", err.msg);
    }

    /* After stop the port is closed: a connect is refused. */
    assert_int_equal(httpd_start(&h, loop, "127.0.0.1", 0, handler, NULL, &err), RD_OK);
    uint16_t port = h.port;
    httpd_stop(&h);
    httpd_stop(&h); /* idempotent */
    int fd = net_tcp_connect("127.0.0.1", port, &err);
    if (fd >= 0) {
        struct pollfd p = {fd, POLLOUT, 0};
        assert_int_equal(poll(&p, 1, 5000), 1);
        assert_int_equal(net_connect_result(fd), RD_EIO);
        close(fd);
    }
    /* Nothing of the stopped daemon is left in the loop. */
    assert_int_equal(ev_run(loop, EVRUN_NOWAIT), 0);
    ev_loop_destroy(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_get, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bodies, setup, teardown),
    cmocka_unit_test_setup_teardown(test_header_memory_limit, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bearer, setup, teardown),
    cmocka_unit_test(test_ipv6_and_stop),
};

RD_TEST_MAIN(tests)
