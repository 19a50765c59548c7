/* SPDX-License-Identifier: MIT */
/* rd_stub_redirector: the least a redirect broker can do, built from the project's protocol
 * library only (rtsp_msg, url, url_token, rtsp_build) on one libev loop: OPTIONS -> 200,
 * DESCRIBE -> 302 to one fixed relay with a freshly minted token, then close. No registry,
 * no policy, no limits: a yardstick for rd_redirect_bench (generator ceiling) and for the
 * broker (what its registry, policy and accounting cost on top). Benchmarks only. */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "evx.h"
#include "net.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "rtsp_build.h"
#include "rtsp_msg.h"
#include "url.h"
#include "url_token.h"

#define STUB_IN_CAP     4096
#define STUB_OUT_CAP    4096
#define STUB_ACCEPT_MAX 64 /* accepts per wakeup (STYLE.md §4 A.1) */

struct stub;

struct sconn {
    ev_io io;
    int fd;
    struct stub *s;
    struct sconn *next_free;
    bool close_after; /* close once out is sent */
    size_t in_len, out_len, out_off;
    char in[STUB_IN_CAP];
    char out[STUB_OUT_CAP];
};

struct stub {
    struct ev_loop *loop;
    int lfd;
    ev_io accept_io;
    ev_signal sigterm, sigint;
    struct sconn *free_list;
    struct url_token_key key;
    char relay_base[128];
    bool mint; /* mint a real token per redirect (HMAC), else a constant one */
    unsigned long long redirects;
};

static void sconn_io_cb(struct ev_loop *loop, ev_io *w, int revents);

static void
sconn_close(struct sconn *c)
{
    struct stub *s = c->s;
    ev_io_stop(s->loop, &c->io);
    close(c->fd);
    c->next_free = s->free_list;
    s->free_list = c;
}

/* Appends the answer to one request. Returns false to close without more. */
static bool
answer(struct sconn *c, const struct rtsp_msg *m)
{
    struct stub *s = c->s;
    struct rtsp_out o;
    rtsp_out_init(&o, c->out, sizeof(c->out), c->out_len);
    int64_t cseq = rtsp_resp_cseq_of(m);
    if (m->method == RTSP_METHOD_OPTIONS) {
        (void)rtsp_resp_begin(&o, 200, cseq);
        (void)rtsp_resp_header(&o, "Public", "OPTIONS, DESCRIBE, SETUP, GET_PARAMETER");
    } else if (m->method == RTSP_METHOD_DESCRIBE || m->method == RTSP_METHOD_SETUP) {
        struct url_parts u;
        struct rd_str cam, control;
        char tok[URL_TOKEN_MINT_MAX + 1];
        char loc[RD_RTSP_MAX_URI + 1];
        int n = -1;
        if (url_split(m->uri, &u) == RD_OK && !u.is_star
            && url_broker_camera(u.path, &cam, &control) == RD_OK) {
            if (s->mint)
                n = url_token_mint(&s->key, cam, rd_str_cstr("stub-relay"), NULL, time(NULL), 60,
                                   tok, sizeof(tok));
            else
                n = snprintf(tok, sizeof(tok),
                             "k1.1767225600.AAAAAAAAAAA.0.AAAAAAAAAAAAAAAAAAAAAA");
            if (n > 0)
                n = url_build_location(rd_str_cstr(s->relay_base), URL_SCHEME_RTSP, cam,
                                       rd_str_cstr(tok), loc, sizeof(loc));
        }
        if (n > 0) {
            (void)rtsp_resp_begin(&o, 302, cseq);
            (void)rtsp_resp_header(&o, "Location", loc);
            (void)rtsp_resp_header(&o, "Cache-Control", "no-cache");
            s->redirects++;
        } else {
            (void)rtsp_resp_begin(&o, 404, cseq);
        }
        c->close_after = true;
    } else {
        (void)rtsp_resp_begin(&o, 501, cseq);
        c->close_after = true;
    }
    if (rtsp_resp_end(&o, NULL, 0) != RD_OK)
        return false;
    c->out_len = o.len;
    return true;
}

/* Sends pending output; closes when done and close_after. Returns false once closed. */
static bool
flush_out(struct sconn *c)
{
    while (c->out_off < c->out_len) {
        /* The final answer and the FIN that follows at once go in one segment, as the
         * broker's listener does. */
        int flags = MSG_NOSIGNAL | (c->close_after ? MSG_MORE : 0);
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, flags);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            evx_io_set_events(c->s->loop, &c->io, EV_WRITE);
            return true;
        }
        sconn_close(c);
        return false;
    }
    c->out_len = c->out_off = 0;
    if (c->close_after) {
        sconn_close(c);
        return false;
    }
    evx_io_set_events(c->s->loop, &c->io, EV_READ);
    return true;
}

static void
sconn_read(struct sconn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            sconn_close(c);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        c->in_len += (size_t)n;
        size_t pos = 0;
        while (!c->close_after) {
            struct rtsp_msg m;
            ssize_t used = rtsp_msg_parse_request(c->in + pos, c->in_len - pos, &m);
            if (used == RD_AGAIN)
                break;
            if (used < 0) {
                sconn_close(c);
                return;
            }
            if (!answer(c, &m)) {
                sconn_close(c);
                return;
            }
            pos += (size_t)used;
        }
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
        if (c->in_len == sizeof(c->in)) {
            sconn_close(c);
            return;
        }
        if (c->out_len > 0 && !flush_out(c))
            return;
    }
}

static void
sconn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct sconn *c = RD_CONTAINER_OF(w, struct sconn, io);
    if (revents & EV_WRITE) {
        (void)flush_out(c);
        return;
    }
    sconn_read(c);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stub *s = RD_CONTAINER_OF(w, struct stub, accept_io);
    for (int i = 0; i < STUB_ACCEPT_MAX; i++) {
        int fd = net_accept(s->lfd, NULL, NULL);
        if (fd < 0)
            return;
        struct sconn *c = s->free_list;
        if (c) {
            s->free_list = c->next_free;
        } else if (!(c = malloc(sizeof(*c)))) {
            close(fd);
            return;
        }
        c->fd = fd;
        c->s = s;
        c->close_after = false;
        c->in_len = c->out_len = c->out_off = 0;
        ev_io_init(&c->io, sconn_io_cb, fd, EV_READ);
        ev_io_start(loop, &c->io);
        /* The request is usually there already (the client wrote right after connect). */
        sconn_read(c);
    }
}

static void
stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
    static struct stub stub;
    struct stub *s = &stub;
    const char *listen_ip = "127.0.0.1", *port_file = NULL;
    unsigned port = 0;
    int opt;
    snprintf(s->relay_base, sizeof(s->relay_base), "rtsp://127.0.0.1:18554");
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"port-file", required_argument, NULL, 'f'},
        {"relay", required_argument, NULL, 'r'},
        {"mint", no_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    while ((opt = getopt_long(argc, argv, "p:l:f:r:m", longopts, NULL)) != -1) {
        uint64_t v;
        switch (opt) {
        case 'p':
            if (rd_str_to_u64(rd_str_cstr(optarg), 5, 65535, &v) != RD_OK)
                goto usage;
            port = (unsigned)v;
            break;
        case 'l':
            listen_ip = optarg;
            break;
        case 'f':
            port_file = optarg;
            break;
        case 'r': {
            int n = snprintf(s->relay_base, sizeof(s->relay_base), "%s", optarg);
            if (n < 0 || (size_t)n >= sizeof(s->relay_base))
                goto usage;
            break;
        }
        case 'm':
            s->mint = true;
            break;
        default:
            goto usage;
        }
    }
    if (optind != argc)
        goto usage;

    uint8_t raw[RD_TOKEN_KEY_BYTES];
    char hex[2 * RD_TOKEN_KEY_BYTES + 1];
    if (rd_random_bytes(raw, sizeof(raw)) != RD_OK) {
        fprintf(stderr, "rd_stub_redirector: no random bytes\n");
        return 1;
    }
    rd_hex_encode(raw, sizeof(raw), hex);
    if (url_token_key_parse(rd_str_cstr("k1"), rd_str_cstr(hex), &s->key) != RD_OK) {
        fprintf(stderr, "rd_stub_redirector: cannot make a key\n");
        return 1;
    }

    struct rd_errbuf err = {{0}};
    s->lfd = net_tcp_listen(listen_ip, (uint16_t)port, 4096, &err);
    if (s->lfd < 0) {
        fprintf(stderr, "rd_stub_redirector: %s\n", err.msg);
        return 1;
    }
    /* The broker listener's socket options (listener.c), so the floor is like for like. */
    if (net_set_nodelay(s->lfd) != RD_OK || net_set_quickack_off(s->lfd) != RD_OK
        || net_set_defer_accept(s->lfd, RD_BROKER_DEFER_ACCEPT_S) != RD_OK) {
        fprintf(stderr, "rd_stub_redirector: socket options: %s\n", strerror(errno));
        return 1;
    }
    uint16_t bound = 0;
    (void)net_local_port(s->lfd, &bound);
    printf("PORT %u\n", bound);
    fflush(stdout);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (!f || fprintf(f, "%u\n", bound) < 0 || fclose(f) != 0) {
            fprintf(stderr, "rd_stub_redirector: cannot write %s\n", port_file);
            return 1;
        }
    }

    s->loop = ev_default_loop(EVFLAG_AUTO);
    ev_io_init(&s->accept_io, accept_cb, s->lfd, EV_READ);
    ev_io_start(s->loop, &s->accept_io);
    ev_signal_init(&s->sigterm, stop_cb, SIGTERM);
    ev_signal_init(&s->sigint, stop_cb, SIGINT);
    ev_signal_start(s->loop, &s->sigterm);
    ev_signal_start(s->loop, &s->sigint);
    ev_run(s->loop, 0);
    fprintf(stderr, "rd_stub_redirector: %llu redirects\n", s->redirects);
    close(s->lfd);
    return 0;
usage:
    fprintf(stderr, "usage: rd_stub_redirector [--listen IP] [--port N] [--port-file F] "
                    "[--relay rtsp://HOST:PORT] [--mint]\n");
    return 2;
}
