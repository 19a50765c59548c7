/* SPDX-License-Identifier: MIT */
/* MHD in external-epoll mode: an ev_io watches MHD's epoll fd and an ev_timer fires at
 * MHD's next timeout; each calls MHD_run and re-arms the timer (libmicrohttpd's
 * suspend_resume_epoll example, driven by libev). MHD_get_timeout, not MHD_get_timeout64:
 * the latter is newer than Debian 12's 0.9.75. */
#define _POSIX_C_SOURCE 200809L
#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "evx.h"
#include "net.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "rd_str.h"

/* Accepted connections wait here until MHD takes them; MHD accepts in batches. */
#define HTTPD_BACKLOG 64

static void
rearm(struct httpd *h)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->mhd, &ms) == MHD_YES)
        evx_timer_rearm(h->loop, &h->timer, (ev_tstamp)ms / 1000.);
    else
        ev_timer_stop(h->loop, &h->timer);
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct httpd *h = RD_CONTAINER_OF(w, struct httpd, io);
    (void)loop;
    (void)revents;
    if (MHD_run(h->mhd) != MHD_YES)
        RD_LOG_RATELIMITED(RD_LOG_WARN, &h->log, 1., "MHD_run failed");
    rearm(h);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct httpd *h = RD_CONTAINER_OF(w, struct httpd, timer);
    (void)loop;
    (void)revents;
    if (MHD_run(h->mhd) != MHD_YES)
        RD_LOG_RATELIMITED(RD_LOG_WARN, &h->log, 1., "MHD_run failed");
    rearm(h);
}

/* MHD's own error messages (MHD_USE_ERROR_LOG) as a sanitized field. At runtime they are
 * nearly all about a peer (bad headers, limits), so INFO and rate-limited (STYLE.md §5). */
__attribute__((format(printf, 2, 0))) static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
    struct httpd *h = cls;
    char text[256];
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    char s[LOG_SAMPLE_BUF];
    RD_LOG_RATELIMITED(RD_LOG_INFO, &h->log, 1., "libmicrohttpd error detail=%s",
                       log_sanitize(s, sizeof(s), text, len));
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

int
httpd_start(struct httpd *h, struct ev_loop *loop, const char *ip, uint16_t port,
            MHD_AccessHandlerCallback handler, void *handler_cls, struct rd_errbuf *err)
{
    memset(h, 0, sizeof(*h));
    h->loop = loop;
    int fd = net_tcp_listen(ip, port, HTTPD_BACKLOG, err);
    if (fd < 0)
        return fd;
    if (net_local_port(fd, &h->port) != RD_OK) {
        rd_errbuf_set(err, "http %s: getsockname: %s", ip, strerror(errno));
        close(fd);
        return RD_EIO;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    char addr[NET_ADDR_STRLEN] = "?";
    if (net_sockaddr_make(ip, h->port, &ss, &sl) == RD_OK)
        (void)net_format_addr((struct sockaddr *)&ss, sl, addr, sizeof(addr)); /* fits */
    (void)log_ctx_set(&h->log, "http=%s", addr); /* fits: an address is short */

    /* The logger goes first: MHD reports problems with later options through it. */
    h->mhd = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, handler_cls,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, (void *)h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)RD_HTTP_CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)RD_HTTP_CONN_LIMIT,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)RD_HTTP_PER_IP_LIMIT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)RD_HTTP_CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, (void *)h, MHD_OPTION_END);
    if (h->mhd == NULL) {
        rd_errbuf_set(err, "http %s: MHD_start_daemon failed", addr);
        /* Whether MHD closed a listen socket it was given on failure differs between
         * versions; one thread, so the fd number cannot have been reused meanwhile. */
        if (fcntl(fd, F_GETFD) != -1)
            close(fd);
        return RD_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL || info->epoll_fd < 0) {
        rd_errbuf_set(err, "http %s: no MHD epoll fd", addr);
        MHD_stop_daemon(h->mhd); /* closes the listen socket */
        h->mhd = NULL;
        return RD_EIO;
    }
    ev_io_init(&h->io, io_cb, info->epoll_fd, EV_READ);
    ev_timer_init(&h->timer, timer_cb, 0., 0.);
    ev_io_start(loop, &h->io);
    rearm(h);
    return RD_OK;
}

void
httpd_stop(struct httpd *h)
{
    if (h->mhd == NULL)
        return;
    ev_io_stop(h->loop, &h->io);
    ev_timer_stop(h->loop, &h->timer);
    MHD_stop_daemon(h->mhd); /* also closes the listen socket MHD was given */
    h->mhd = NULL;
}

int
httpd_body_read(struct MHD_Connection *conn, void **con_cls, size_t cap, const char *upload_data,
                size_t *upload_data_size, struct httpd_body **body)
{
    struct httpd_body *b = *con_cls;
    if (b == NULL) {
        /* First call: only the headers are in. Refuse a declared oversize body before
         * reading it, and size the buffer to what was declared. */
        size_t want = cap;
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        uint64_t v;
        if (cl != NULL) {
            if (rd_str_to_u64(rd_str_cstr(cl), 19, UINT64_MAX, &v) != RD_OK || v > cap)
                return RD_ELIMIT;
            want = (size_t)v;
        }
        b = malloc(sizeof(*b) + want + 1);
        if (b == NULL)
            return RD_ENOMEM;
        b->cap = want;
        b->len = 0;
        b->data[0] = '\0';
        *con_cls = b;
        return RD_AGAIN;
    }
    size_t n = *upload_data_size;
    if (n > 0) {
        *upload_data_size = 0;
        if (n > b->cap - b->len)
            return RD_ELIMIT;
        memcpy(b->data + b->len, upload_data, n);
        b->len += n;
        b->data[b->len] = '\0';
        return RD_AGAIN;
    }
    *body = b;
    return RD_OK;
}

enum MHD_Result
httpd_queue_buf(struct MHD_Connection *conn, unsigned int status, const char *content_type,
                const void *data, size_t len)
{
    /* MUST_COPY only reads the buffer; MHD's prototype just lacks the const. */
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    enum MHD_Result ret = MHD_NO;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) == MHD_YES)
        ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result
httpd_queue_text(struct MHD_Connection *conn, unsigned int status, const char *text)
{
    return httpd_queue_buf(conn, status, "text/plain; charset=utf-8", text, strlen(text));
}

bool
httpd_bearer_ok(struct MHD_Connection *conn, const char *token, size_t token_len)
{
    if (token_len == 0)
        return false;
    const char *h =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL)
        return false;
    struct rd_str v = rd_str_cstr(h);
    if (!rd_str_starts_with_ci(v, "Bearer "))
        return false;
    struct rd_str cred = rd_str_trim(rd_str_make(v.p + 7, v.len - 7));
    struct rd_str want = rd_str_make(token, token_len);
    uint8_t a[RD_SHA256_LEN], b[RD_SHA256_LEN];
    if (rd_hash_parts(RD_HASH_SHA256, &cred, 1, a) != RD_OK
        || rd_hash_parts(RD_HASH_SHA256, &want, 1, b) != RD_OK)
        return false;
    return rd_ct_equal(a, b, sizeof(a));
}

enum MHD_Result
httpd_queue_unauthorized(struct MHD_Connection *conn, const char *realm)
{
    static const char text[] = "authorization required\n";
    char challenge[160];
    int n = snprintf(challenge, sizeof(challenge), "Bearer realm=\"%s\"", realm);
    if (n < 0 || (size_t)n >= sizeof(challenge))
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof(text) - 1, (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    enum MHD_Result ret = MHD_NO;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8")
            == MHD_YES
        && MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge) == MHD_YES)
        ret = MHD_queue_response(conn, MHD_HTTP_UNAUTHORIZED, r);
    MHD_destroy_response(r);
    return ret;
}

void
httpd_peer(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL
        || net_format_addr(ci->client_addr,
                           ci->client_addr->sa_family == AF_INET6
                               ? (socklen_t)sizeof(struct sockaddr_in6)
                               : (socklen_t)sizeof(struct sockaddr_in),
                           out, cap)
               != RD_OK) {
        if (cap >= 2)
            memcpy(out, "?", 2);
    }
}
