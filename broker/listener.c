/* SPDX-License-Identifier: MIT */
/* RTSP/TCP listener: accept loop with admission control, per-connection state machine with
 * embedded watchers (sniproxy, ev.pod), one deadline timer per connection re-armed with
 * ev_timer_again, and deferred frees from an ev_prepare watcher (redis freeClientAsync). */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "evx.h"
#include "iplimit.h"
#include "net.h"
#include "rd_err.h"
#include "rd_limits.h"

/* Room the input buffer needs for the largest request the parser accepts. */
#define CONN_IN_BYTES RTSP_MSG_MAX_REQUEST_BYTES
/* Peer bytes quoted in a parse-error log line. */
#define CONN_SAMPLE_BYTES 64

enum conn_phase {
    CONN_OPEN,    /* reading requests, answering them in order */
    CONN_CLOSING, /* a final response is queued: write it, read nothing more */
    CONN_LINGER,  /* output written and the write side shut: drop input until the peer's FIN */
    CONN_DEAD,    /* closed; on the reap list until the loop is about to block */
};

enum conn_deadline {
    DL_FIRST_BYTE, /* close */
    DL_HEADER,     /* 408, close */
    DL_BODY,       /* 408, close */
    DL_IDLE,       /* close */
    DL_WRITE,      /* close */
    DL_LINGER,     /* close */
};

static const char *const deadline_names[] = {"first_byte", "header", "body",
                                             "idle",       "write",  "linger"};

struct conn {
    struct listener *l;
    struct conn *prev, *next; /* live list; next also links the reap and free lists */
    ev_io io;
    ev_timer timer;
    int fd;
    uint64_t id;
    uint32_t ip_slot;
    enum conn_phase phase;
    enum conn_deadline dl; /* what the armed timer stands for */
    bool req_bytes;        /* bytes of the next request have arrived */
    bool body_wait;        /* its header block is complete, the body is not */
    bool answered;         /* at least one response was queued */
    bool peer_eof;
    bool more_pending; /* stopped at RD_RTSP_MAX_PIPELINED with requests left */
    bool linger;       /* after the final response, wait for the peer's FIN (see conn_settle) */
    double accepted_at, req_at, body_at, out_at, idle_at, linger_at;
    size_t lingered;
    struct rd_buf in;
    /* Queued response bytes: obuf[out_sent .. out_len), obuf = conn_obuf(c). */
    size_t out_len, out_sent;
    char addr[NET_ADDR_STRLEN];
    char ip[NET_IP_STRLEN];
    struct log_ctx log;
    char inmem[CONN_IN_BYTES];
    char out[LISTENER_OUT_BYTES]; /* only what the socket did not take (see conn_obuf) */
};

struct listener {
    struct ev_loop *loop;
    struct listener_params p;
    listener_request_fn *handler;
    void *handler_ctx;
    struct metrics *m;
    int fd;
    uint16_t port;
    ev_io accept_io;
    ev_timer accept_pause;
    ev_prepare reaper;
    struct iplimit *ips;
    struct conn *live;  /* doubly linked */
    struct conn *dead;  /* closed, not yet freed */
    struct conn *spare; /* free list */
    size_t n_open, n_spare;
    uint64_t next_id;
    unsigned accept_iter; /* ev_iteration() of the last accept_cb */
    bool deferred;        /* TCP_DEFER_ACCEPT is on: accepted connections have input */
    bool draining;
    struct log_ctx log;
    struct rtsp_msg msg; /* parser scratch: one request is parsed at a time */
    /* Responses are built and sent from here while one connection handles an event; only
     * bytes the socket did not take are copied to that connection's own out (conn_unshare).
     * So a connection whose answers go out at once never touches its out pages: about one
     * page of memory per connection instead of two or three. */
    struct conn *scratch_owner;
    char scratch[LISTENER_OUT_BYTES];
};

void
listener_params_default(struct listener_params *p)
{
    memset(p, 0, sizeof(*p));
    p->ip = "0.0.0.0";
    p->port = 8554;
    p->max_conns = RD_BROKER_MAX_CONNS;
    p->max_conns_per_ip = RD_BROKER_MAX_CONNS_PER_IP;
    p->accept_rate_per_ip = RD_BROKER_ACCEPT_RATE_PER_IP;
    p->accept_burst_per_ip = RD_BROKER_ACCEPT_BURST_PER_IP;
    p->defer_accept_s = RD_BROKER_DEFER_ACCEPT_S;
    p->first_byte_s = RD_DEADLINE_FIRST_BYTE_S;
    p->header_s = RD_DEADLINE_HEADER_S;
    p->body_s = RD_DEADLINE_BODY_S;
    p->idle_s = RD_IDLE_BROKER_S;
    p->write_s = RD_DEADLINE_WRITE_S;
    p->linger_s = RD_LINGER_S;
}

static double
mono(void)
{
    return log_monotonic_s();
}

/* ---- Closing and freeing ------------------------------------------------------------------- */

static void
reaper_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)revents;
    struct listener *l = RD_CONTAINER_OF(w, struct listener, reaper);
    while (l->dead != NULL) {
        struct conn *c = l->dead;
        l->dead = c->next;
        if (l->n_spare < RD_BROKER_CONN_FREELIST) {
            c->next = l->spare;
            l->spare = c;
            l->n_spare++;
        } else {
            free(c);
        }
    }
    ev_prepare_stop(loop, w);
}

/* Closes c now and queues its memory for the reaper: callers up the stack may still read c,
 * never its fd. */
static void
conn_kill(struct conn *c, const char *why)
{
    struct listener *l = c->l;
    if (c->phase == CONN_DEAD)
        return;
    if (l->scratch_owner == c)
        l->scratch_owner = NULL;
    ev_io_stop(l->loop, &c->io);
    ev_timer_stop(l->loop, &c->timer);
    if (close(c->fd) != 0)
        RD_LOG(RD_LOG_DEBUG, &c->log, "close failed errno=%d", errno);
    c->fd = -1;
    c->phase = CONN_DEAD;
    iplimit_release(l->ips, c->ip_slot);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        l->live = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = l->dead;
    l->dead = c;
    l->n_open--;
    if (l->m != NULL)
        l->m->conns_open = l->n_open;
    ev_prepare_start(l->loop, &l->reaper);
    RD_LOG(RD_LOG_DEBUG, &c->log, "closed reason=%s", why);
}

/* ---- Output -------------------------------------------------------------------------------- */

/* Where c's queued output lives: the listener's scratch while c holds it, else c->out. */
static char *
conn_obuf(struct conn *c)
{
    return c->l->scratch_owner == c ? c->l->scratch : c->out;
}

/* Gives the scratch back, moving what is still unsent to c's own buffer. Called when an event
 * on c is over (conn_settle) and when c dies. */
static void
conn_unshare(struct conn *c)
{
    struct listener *l = c->l;
    if (l->scratch_owner != c)
        return;
    size_t pending = c->out_len - c->out_sent;
    if (pending > 0)
        memcpy(c->out, l->scratch + c->out_sent, pending);
    c->out_len = pending;
    c->out_sent = 0;
    l->scratch_owner = NULL;
}

/* Writes what the socket takes. Returns false when the connection died. */
static bool
conn_flush(struct conn *c, double now)
{
    char *obuf = conn_obuf(c);
    /* The final response: its FIN follows in this same event (conn_settle), so the kernel may
     * hold the bytes (less than a segment) until then and send both in one segment. */
    int flags = MSG_NOSIGNAL | (c->phase == CONN_CLOSING ? MSG_MORE : 0);
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, obuf + c->out_sent, c->out_len - c->out_sent, flags);
        if (n > 0) {
            c->out_sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        RD_LOG(RD_LOG_DEBUG, &c->log, "send failed errno=%d", errno);
        conn_kill(c, "send_error");
        return false;
    }
    c->out_len = c->out_sent = 0;
    c->idle_at = now;
    return true;
}

/* Prepares a response builder over the free part of the output buffer. */
static void
conn_out_begin(struct conn *c, struct rtsp_out *o)
{
    struct listener *l = c->l;
    if (c->out_len == 0 && l->scratch_owner == NULL)
        l->scratch_owner = c; /* nothing queued: build in the scratch */
    char *obuf = conn_obuf(c);
    if (c->out_sent > 0 && c->out_sent < c->out_len) {
        memmove(obuf, obuf + c->out_sent, c->out_len - c->out_sent);
        c->out_len -= c->out_sent;
        c->out_sent = 0;
    }
    _Static_assert(sizeof(l->scratch) == sizeof(c->out), "scratch and out are interchangeable");
    rtsp_out_init(o, obuf, sizeof(c->out), c->out_len);
}

static void
conn_out_commit(struct conn *c, const struct rtsp_out *o, double now)
{
    if (c->out_len == c->out_sent)
        c->out_at = now;
    c->out_len = o->len;
    c->answered = true;
}

/* Copies up to cap bytes of p[0..len) into buf with each "://userinfo@" replaced by
 * a masked authority prefix, so a log sample never carries credentials. Returns the sample length.
 */
static size_t
sample_without_userinfo(const char *p, size_t len, char *buf, size_t cap)
{
    size_t o = 0, i = 0;
    while (i < len && o < cap) {
        if (i + 3 <= len && memcmp(p + i, "://", 3) == 0) {
            size_t at = 0, j = i + 3;
            size_t end = len - j > RD_RTSP_MAX_URI ? j + RD_RTSP_MAX_URI : len;
            for (; j < end && p[j] != '/' && p[j] != ' ' && p[j] != '\r' && p[j] != '\n'; j++) {
                if (p[j] == '@')
                    at = j;
            }
            if (at != 0) {
                static const char mask[] = "://***@";
                for (size_t k = 0; k < sizeof(mask) - 1 && o < cap; k++)
                    buf[o++] = mask[k];
                i = at + 1;
                continue;
            }
        }
        buf[o++] = p[i++];
    }
    return o;
}

/* Queues a bare final response (framing error, deadline) and stops reading requests. */
static void
conn_reject(struct conn *c, int status, int64_t cseq, bool parse_error, double now)
{
    struct rtsp_out o;
    conn_out_begin(c, &o);
    (void)rtsp_resp_begin(&o, status, cseq);
    if (rtsp_resp_end(&o, NULL, 0) != RD_OK) {
        conn_kill(c, "no_room_for_error");
        return;
    }
    if (c->l->m != NULL)
        metrics_response(c->l->m, (unsigned)status, parse_error);
    conn_out_commit(c, &o, now);
    rd_buf_reset(&c->in);
    c->phase = CONN_CLOSING;
    c->linger = true; /* a broken stream: more of it may be in flight */
}

/* ---- Input --------------------------------------------------------------------------------- */

static void
conn_read(struct conn *c, double now)
{
    if (c->phase == CONN_LINGER) {
        int rc = net_linger_drain(c->fd, &c->lingered, RD_LINGER_MAX_BYTES);
        if (rc != RD_AGAIN)
            conn_kill(c, rc == RD_OK ? "done" : rc == RD_ELIMIT ? "linger_bytes" : "recv_error");
        return;
    }
    size_t avail;
    char *tail = rd_buf_tail(&c->in, &avail);
    if (avail == 0)
        return;
    ssize_t n = recv(c->fd, tail, avail, 0);
    if (n > 0) {
        if (!c->req_bytes) {
            c->req_bytes = true;
            c->body_wait = false;
            c->req_at = now;
        }
        rd_buf_commit(&c->in, (size_t)n);
    } else if (n == 0) {
        c->peer_eof = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        RD_LOG(RD_LOG_DEBUG, &c->log, "recv failed errno=%d", errno);
        conn_kill(c, "recv_error");
    }
}

static void
log_parse_error(struct conn *c, const struct rtsp_msg *msg, const char *p, size_t len)
{
    char cut[CONN_SAMPLE_BYTES];
    size_t n = sample_without_userinfo(p, len, cut, sizeof(cut));
    char sample[LOG_SAMPLE_BUF];
    RD_LOG_RATELIMITED(RD_LOG_INFO, &c->log, 0.1, "request refused status=%d error=\"%s\" input=%s",
                       msg->status_hint, rtsp_msg_strerror(msg->error),
                       log_sanitize(sample, sizeof(sample), cut, n));
}

/* Parses and answers the complete requests in the input, in order, while the output has room
 * and at most RD_RTSP_MAX_PIPELINED of them. */
static void
conn_process(struct conn *c, double now)
{
    struct listener *l = c->l;
    c->more_pending = false;
    unsigned handled = 0;
    while (c->phase == CONN_OPEN && rd_buf_len(&c->in) > 0) {
        size_t queued = c->out_len - c->out_sent;
        if (sizeof(c->out) - queued < LISTENER_RESPONSE_ROOM
            || queued > RD_RTSP_MAX_QUEUED_OUTPUT) {
            /* Backpressure: resumes when the socket is writable, which may be at once (the
             * requests already read would otherwise wait for input that never comes). */
            c->more_pending = true;
            return;
        }
        if (handled == RD_RTSP_MAX_PIPELINED) {
            c->more_pending = true;
            return;
        }
        const char *p = rd_buf_head(&c->in);
        size_t len = rd_buf_len(&c->in);
        if (p[0] == '$') {
            /* Interleaved data is for relays; on the broker the stream makes no sense. */
            char sample[LOG_SAMPLE_BUF];
            RD_LOG_RATELIMITED(RD_LOG_INFO, &c->log, 0.1,
                               "request refused status=400 error=\"interleaved frame\" input=%s",
                               log_sanitize(sample, sizeof(sample), p, len < 16 ? len : 16));
            conn_reject(c, 400, RTSP_CSEQ_NONE, true, now);
            return;
        }
        struct rtsp_msg *msg = &l->msg;
        ssize_t n = rtsp_msg_parse_request(p, len, msg);
        if (n == RD_AGAIN) {
            if (msg->header_len > 0 && !c->body_wait) {
                c->body_wait = true;
                c->body_at = now;
            }
            if (rd_buf_space(&c->in) == 0) /* cannot happen: the buffer holds any request */
                conn_reject(c, 400, RTSP_CSEQ_NONE, true, now);
            return;
        }
        if (n < 0) {
            log_parse_error(c, msg, p, len);
            conn_reject(c, msg->status_hint != 0 ? msg->status_hint : 400, rtsp_resp_cseq_of(msg),
                        true, now);
            return;
        }
        struct rtsp_out o;
        conn_out_begin(c, &o);
        size_t before = o.len;
        bool close_after = false;
        struct listener_peer peer = {c->id, c->addr, c->ip, &c->log};
        int rc = l->handler(l->handler_ctx, msg, &peer, &o, &close_after);
        if (rc != RD_OK || o.len <= before || o.open) {
            RD_LOG_RATELIMITED(RD_LOG_WARN, &c->log, 10.0, "request handler failed error=\"%s\"",
                               rd_strstatus(rc != RD_OK ? rc : RD_EPROTO));
            conn_kill(c, "handler_error");
            return;
        }
        conn_out_commit(c, &o, now);
        rd_buf_consume(&c->in, (size_t)n);
        handled++;
        c->body_wait = false;
        c->req_bytes = rd_buf_len(&c->in) > 0;
        c->req_at = now;
        if (close_after || l->draining)
            c->phase = CONN_CLOSING;
    }
}

/* ---- State after an event: watchers and the deadline ------------------------------------ */

static void
conn_settle(struct conn *c, double now)
{
    struct listener *l = c->l;
    if (c->phase == CONN_DEAD)
        return;
    conn_unshare(c);
    bool pending = c->out_sent < c->out_len;
    if (!pending && c->phase == CONN_CLOSING) {
        /* Final response out. A close while the peer's bytes are still arriving answers them
         * with a reset that may destroy the response in flight; so when the peer sent ahead
         * (input past the final request, or a broken stream) shut our side and drop input
         * until its FIN. A player that sent one request and waits for the answer gets a
         * plain close (nginx without lingering_close does the same). */
        if (c->peer_eof || (!c->linger && rd_buf_len(&c->in) == 0)
            || shutdown(c->fd, SHUT_WR) != 0) {
            conn_kill(c, "done");
            return;
        }
        c->phase = CONN_LINGER;
        c->linger_at = now;
    }
    if (!pending && c->phase == CONN_OPEN && c->peer_eof && !c->more_pending) {
        conn_kill(c, "peer_closed");
        return;
    }
    if (!pending && c->phase == CONN_OPEN && l->draining && !c->req_bytes) {
        conn_kill(c, "shutdown");
        return;
    }
    int ev = 0;
    size_t queued = c->out_len - c->out_sent;
    if (c->phase == CONN_LINGER)
        ev = EV_READ;
    else if (c->phase == CONN_OPEN && !c->peer_eof && rd_buf_space(&c->in) > 0 && !c->more_pending
             && sizeof(c->out) - queued >= LISTENER_RESPONSE_ROOM)
        ev = EV_READ;
    /* A writable socket also wakes us to continue a long pipeline (more_pending). */
    if (pending || c->more_pending)
        ev |= EV_WRITE;
    evx_io_set_events(l->loop, &c->io, ev);

    double at;
    if (c->phase == CONN_LINGER) {
        c->dl = DL_LINGER;
        at = c->linger_at + l->p.linger_s;
    } else if (pending) {
        c->dl = DL_WRITE;
        at = c->out_at + l->p.write_s;
    } else if (c->req_bytes && c->body_wait) {
        c->dl = DL_BODY;
        at = c->body_at + l->p.body_s;
    } else if (c->req_bytes) {
        c->dl = DL_HEADER;
        at = c->req_at + l->p.header_s;
    } else if (!c->answered) {
        c->dl = DL_FIRST_BYTE;
        at = c->accepted_at + l->p.first_byte_s;
    } else {
        c->dl = DL_IDLE;
        at = c->idle_at + l->p.idle_s;
    }
    double after = at - now;
    c->timer.repeat = after > 0.001 ? after : 0.001;
    ev_timer_again(l->loop, &c->timer);
}

/* One readiness event on c (revents: EV_READ, EV_WRITE or both). */
static void
conn_event(struct conn *c, int revents, double now)
{
    if ((revents & EV_WRITE) && !conn_flush(c, now))
        return;
    if (revents & EV_READ)
        conn_read(c, now);
    if (c->phase == CONN_OPEN)
        conn_process(c, now);
    if (c->phase != CONN_DEAD && c->out_sent < c->out_len && !conn_flush(c, now))
        return;
    /* Output drained: take the requests that waited for room. */
    if (c->phase == CONN_OPEN && rd_buf_len(&c->in) > 0 && !c->more_pending)
        conn_process(c, now);
    if (c->phase != CONN_DEAD && c->out_sent < c->out_len && !conn_flush(c, now))
        return;
    conn_settle(c, now);
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    conn_event(RD_CONTAINER_OF(w, struct conn, io), revents, mono());
}

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct conn *c = RD_CONTAINER_OF(w, struct conn, timer);
    double now = mono();
    enum conn_deadline dl = c->dl;
    if (dl != DL_LINGER && c->l->m != NULL)
        c->l->m->conns[METRICS_CONN_TIMEOUT]++;
    if (dl == DL_IDLE || dl == DL_LINGER)
        RD_LOG(RD_LOG_DEBUG, &c->log, "deadline passed deadline=%s", deadline_names[dl]);
    else
        RD_LOG(RD_LOG_INFO, &c->log, "deadline passed deadline=%s", deadline_names[dl]);
    if ((dl == DL_HEADER || dl == DL_BODY) && c->phase == CONN_OPEN) {
        /* 408, then the usual close: the write deadline bounds how long it may take. */
        conn_reject(c, 408, RTSP_CSEQ_NONE, false, now);
        if (c->phase != CONN_DEAD && conn_flush(c, now))
            conn_settle(c, now);
        return;
    }
    conn_kill(c, deadline_names[dl]);
}

/* ---- Accepting ----------------------------------------------------------------------------- */

/* Decimal digits of v into out (at least 21 bytes); returns their number. */
static size_t
u64_text(uint64_t v, char *out)
{
    char rev[20];
    size_t n = 0;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    return n;
}

/* The peer's address text, and the address alone with IPv4-mapped IPv6 unmapped (the form
 * url_token.h asks for): one inet_ntop per connection (this runs for every viewer). */
static void
peer_text(const struct sockaddr_storage *ss, socklen_t len, char *addr, char *ip)
{
    char text[NET_IP_STRLEN];
    if (net_format_ip((const struct sockaddr *)ss, len, text, sizeof(text)) != RD_OK) {
        memcpy(addr, "?", 2);
        memcpy(ip, "?", 2);
        return;
    }
    bool v6 = ss->ss_family == AF_INET6;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)ss;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ss;
    uint16_t port = ntohs(v6 ? sin6->sin6_port : sin->sin_port);
    size_t tl = strlen(text), o = 0;
    /* "[" + text + "]:" + 5 digits + NUL fits NET_ADDR_STRLEN (INET6_ADDRSTRLEN + 8). */
    if (v6)
        addr[o++] = '[';
    memcpy(addr + o, text, tl);
    o += tl;
    if (v6)
        addr[o++] = ']';
    addr[o++] = ':';
    o += u64_text(port, addr + o);
    addr[o] = '\0';
    if (v6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
        struct sockaddr_in v4;
        memset(&v4, 0, sizeof(v4));
        v4.sin_family = AF_INET;
        memcpy(&v4.sin_addr, sin6->sin6_addr.s6_addr + 12, 4);
        if (net_format_ip((const struct sockaddr *)&v4, sizeof(v4), ip, NET_IP_STRLEN) != RD_OK)
            memcpy(ip, "?", 2);
        return;
    }
    memcpy(ip, text, tl + 1);
}

/* "conn=<id> peer=<addr>" without printf (every connection sets it, most never log). */
_Static_assert(sizeof("conn= peer=") + 20 + NET_ADDR_STRLEN <= RD_LOG_MAX_CTX,
               "the connection log prefix always fits");
static void
conn_log_prefix(struct log_ctx *log, uint64_t id, const char *addr)
{
    char *o = log->prefix;
    memcpy(o, "conn=", 5);
    o += 5;
    o += u64_text(id, o);
    memcpy(o, " peer=", 6);
    o += 6;
    size_t al = strlen(addr);
    memcpy(o, addr, al + 1);
}

static void
refuse(struct listener *l, int fd, enum metrics_conn why, const char *peer)
{
    if (close(fd) != 0)
        RD_LOG(RD_LOG_DEBUG, &l->log, "close failed errno=%d", errno);
    if (l->m != NULL)
        l->m->conns[why]++;
    RD_LOG_RATELIMITED(RD_LOG_INFO, &l->log, 1.0, "connection refused peer=%s reason=%s", peer,
                       why == METRICS_CONN_REFUSED_GLOBAL   ? "max_conns"
                       : why == METRICS_CONN_REFUSED_PER_IP ? "max_conns_per_ip"
                                                            : "accept_rate");
}

static void
conn_open(struct listener *l, int fd, const struct sockaddr_storage *ss, socklen_t len, double now)
{
    char addr[NET_ADDR_STRLEN], ip[NET_IP_STRLEN];
    peer_text(ss, len, addr, ip);
    if (l->n_open >= l->p.max_conns) {
        refuse(l, fd, METRICS_CONN_REFUSED_GLOBAL, addr);
        return;
    }
    uint32_t slot = 0;
    enum iplimit_verdict v = iplimit_admit(l->ips, (const struct sockaddr *)ss, now, &slot);
    if (v != IPLIMIT_OK) {
        refuse(l, fd,
               v == IPLIMIT_RATE     ? METRICS_CONN_REFUSED_RATE
               : v == IPLIMIT_PER_IP ? METRICS_CONN_REFUSED_PER_IP
                                     : METRICS_CONN_REFUSED_GLOBAL,
               addr);
        return;
    }
    struct conn *c = l->spare;
    if (c != NULL) {
        l->spare = c->next;
        l->n_spare--;
    } else if ((c = malloc(sizeof(*c))) == NULL) {
        iplimit_release(l->ips, slot);
        RD_LOG_RATELIMITED(RD_LOG_WARN, &l->log, 1.0, "out of memory for a connection peer=%s",
                           addr);
        if (close(fd) != 0)
            RD_LOG(RD_LOG_DEBUG, &l->log, "close failed errno=%d", errno);
        return;
    }
    /* Only the header part is reset: the buffers are overwritten before they are read. */
    memset(c, 0, offsetof(struct conn, inmem));
    c->l = l;
    c->fd = fd;
    c->id = ++l->next_id;
    c->ip_slot = slot;
    c->phase = CONN_OPEN;
    c->accepted_at = c->idle_at = now;
    memcpy(c->addr, addr, sizeof(addr));
    memcpy(c->ip, ip, sizeof(ip));
    conn_log_prefix(&c->log, c->id, addr);
    rd_buf_init(&c->in, c->inmem, sizeof(c->inmem));
    ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
    ev_init(&c->timer, conn_timer_cb);
    /* TCP_NODELAY comes from the listening socket: Linux copies it to accepted ones. */
    c->next = l->live;
    if (l->live != NULL)
        l->live->prev = c;
    l->live = c;
    l->n_open++;
    if (l->m != NULL) {
        l->m->conns[METRICS_CONN_ACCEPTED]++;
        l->m->conns_open = l->n_open;
    }
    RD_LOG(RD_LOG_DEBUG, &c->log, "accepted");
    if (l->deferred)
        conn_event(c, EV_READ, now); /* the first request came with the connection */
    else
        conn_settle(c, now);
}

static void
accept_pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct listener *l = RD_CONTAINER_OF(w, struct listener, accept_pause);
    if (!l->draining && l->fd >= 0)
        ev_io_start(loop, &l->accept_io);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct listener *l = RD_CONTAINER_OF(w, struct listener, accept_io);
    double now = mono();
    /* Ready again in the very next loop iteration: connections queue up, take a batch (and
     * learn the queue is empty from EAGAIN). Otherwise, at moderate rates, one connection per
     * wakeup is the rule: accept one and let level-triggered epoll report the socket again
     * if more wait, which saves the accept that would only say EAGAIN (nginx's default,
     * multi_accept off). */
    unsigned iter = ev_iteration(loop);
    int batch = iter == l->accept_iter + 1 ? RD_ACCEPT_BATCH : 1;
    l->accept_iter = iter;
    for (int i = 0; i < batch; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = net_accept(l->fd, &ss, &len);
        if (fd == RD_AGAIN)
            return;
        if (fd == RD_EBUSY) {
            /* Out of descriptors: stop polling the socket for a while (nginx). */
            RD_LOG_RATELIMITED(RD_LOG_WARN, &l->log, 10.0,
                               "accept paused: out of descriptors or memory errno=%d", errno);
            ev_io_stop(loop, &l->accept_io);
            ev_timer_set(&l->accept_pause, RD_ACCEPT_PAUSE_MS / 1000.0, 0.);
            ev_timer_start(loop, &l->accept_pause);
            return;
        }
        if (fd < 0) {
            RD_LOG_RATELIMITED(RD_LOG_WARN, &l->log, 10.0, "accept failed errno=%d", errno);
            return;
        }
        conn_open(l, fd, &ss, len, now);
    }
}

/* ---- Lifecycle ----------------------------------------------------------------------------- */

int
listener_start(struct ev_loop *loop, const struct listener_params *p, listener_request_fn *handler,
               void *handler_ctx, struct metrics *m, struct listener **out, struct rd_errbuf *err)
{
    if (p->max_conns == 0 || p->max_conns > RD_BROKER_MAX_CONNS || p->max_conns_per_ip == 0) {
        rd_errbuf_set(err, "rtsp listener: max_conns must be 1..%d and max_conns_per_ip >= 1",
                      RD_BROKER_MAX_CONNS);
        return RD_EPROTO;
    }
    struct listener *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        rd_errbuf_set(err, "rtsp listener: out of memory");
        return RD_ENOMEM;
    }
    l->loop = loop;
    l->p = *p;
    l->handler = handler;
    l->handler_ctx = handler_ctx;
    l->m = m;
    l->fd = -1;
    struct iplimit_params ip = {p->max_conns, p->max_conns_per_ip, RD_BROKER_RATE_TRACKED_IPS,
                                p->accept_rate_per_ip, p->accept_burst_per_ip};
    int rc = iplimit_create(&ip, &l->ips);
    if (rc != RD_OK) {
        rd_errbuf_set(err, "rtsp listener: per-IP table: %s", rd_strstatus(rc));
        free(l);
        return rc;
    }
    int fd = net_tcp_listen(p->ip, p->port, 1024, err);
    if (fd < 0) {
        iplimit_destroy(l->ips);
        free(l);
        return fd;
    }
    l->fd = fd;
    /* Set once here, inherited by every accepted socket (Linux clones the listener's TCP
     * options): one setsockopt per listener instead of one per viewer. */
    if (net_set_nodelay(fd) != RD_OK)
        RD_LOG(RD_LOG_WARN, NULL, "TCP_NODELAY on the rtsp listener failed errno=%d", errno);
    /* Every request gets its answer at once, so its ACK can ride on the answer: without this
     * a new connection acknowledges each request with a segment of its own first. */
    if (net_set_quickack_off(fd) != RD_OK)
        RD_LOG(RD_LOG_WARN, NULL, "TCP_QUICKACK on the rtsp listener failed errno=%d", errno);
    if (p->defer_accept_s > 0) {
        l->deferred = net_set_defer_accept(fd, p->defer_accept_s) == RD_OK;
        if (!l->deferred)
            RD_LOG(RD_LOG_WARN, NULL, "TCP_DEFER_ACCEPT on the rtsp listener failed errno=%d",
                   errno);
    }
    if (net_local_port(fd, &l->port) != RD_OK)
        l->port = p->port;
    (void)log_ctx_set(&l->log, "rtsp=%s:%u", p->ip, (unsigned)l->port);
    ev_io_init(&l->accept_io, accept_cb, fd, EV_READ);
    ev_init(&l->accept_pause, accept_pause_cb);
    ev_prepare_init(&l->reaper, reaper_cb);
    ev_io_start(loop, &l->accept_io);
    RD_LOG(RD_LOG_NOTICE, &l->log,
           "rtsp listener started max_conns=%u max_conns_per_ip=%u defer_accept_s=%u", p->max_conns,
           p->max_conns_per_ip, l->deferred ? p->defer_accept_s : 0);
    *out = l;
    return RD_OK;
}

uint16_t
listener_port(const struct listener *l)
{
    return l->port;
}

size_t
listener_open_count(const struct listener *l)
{
    return l->n_open;
}

static void
close_socket(struct listener *l)
{
    ev_io_stop(l->loop, &l->accept_io);
    ev_timer_stop(l->loop, &l->accept_pause);
    if (l->fd >= 0 && close(l->fd) != 0)
        RD_LOG(RD_LOG_DEBUG, &l->log, "close failed errno=%d", errno);
    l->fd = -1;
}

void
listener_drain(struct listener *l)
{
    if (l == NULL || l->draining)
        return;
    l->draining = true;
    close_socket(l);
    double now = mono();
    struct conn *next;
    for (struct conn *c = l->live; c != NULL; c = next) {
        next = c->next;
        if (c->phase == CONN_OPEN)
            conn_settle(c, now); /* closes the idle ones */
    }
    RD_LOG(RD_LOG_NOTICE, &l->log, "rtsp listener draining open=%zu", l->n_open);
}

void
listener_destroy(struct listener *l)
{
    if (l == NULL)
        return;
    close_socket(l);
    while (l->live != NULL)
        conn_kill(l->live, "shutdown");
    reaper_cb(l->loop, &l->reaper, 0);
    while (l->spare != NULL) {
        struct conn *c = l->spare;
        l->spare = c->next;
        free(c);
    }
    iplimit_destroy(l->ips);
    free(l);
}
