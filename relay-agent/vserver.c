/* SPDX-License-Identifier: MIT */
/* The viewer server's listener and connections: accepting with global and per-IP caps, fixed
 * input buffers, absolute deadlines, RTSP requests and '$' frames split in order, output on
 * the connection's own buffer until the fanout owns the socket, deferred closes and frees. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "evx.h"
#include "net.h"
#include "rd_err.h"
#include "vserver_int.h"

/* Peer bytes quoted in a parse-error log line. */
#define VCONN_SAMPLE_BYTES 64

static const char *const deadline_names[] = {
    "none", "first_byte", "header", "body", "idle", "write", "linger", "parked", "poll",
};

static double
env_or(double v, double def)
{
    return v > 0 ? v : def;
}

/* ---- Closing and freeing ------------------------------------------------------------------- */

static void conn_settle(struct vconn *c, double now);
static void conn_process(struct vconn *c, double now);

/* Closes c now and queues its memory for the prepare watcher: callers up the stack may still
 * read c, never its fd, its sessions or its fanout viewer. */
static void
conn_kill(struct vconn *c, const char *why)
{
    struct vserver *s = c->s;
    if (c->phase == VCONN_DEAD)
        return;
    ev_io_stop(s->env.loop, &c->io);
    ev_timer_stop(s->env.loop, &c->timer);
    vsession_conn_closed(c); /* TCP sessions end (their subs first), UDP ones stay */
    camera_user_release(&c->user);
    c->user_ready = false;
    fanout_viewer_free(c->fv);
    c->fv = NULL;
    if (close(c->fd) != 0)
        RD_LOG(RD_LOG_DEBUG, &c->log, "close failed errno=%d", errno);
    c->fd = -1;
    c->phase = VCONN_DEAD;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->live = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = s->dead;
    s->dead = c;
    s->st.conns--;
    ev_prepare_start(s->env.loop, &s->prepare);
    RD_LOG(RD_LOG_DEBUG, &c->log, "closed reason=%s", why);
}

void
vconn_close_later(struct vconn *c, const char *why)
{
    if (c->phase == VCONN_DEAD || c->kill_why != NULL)
        return;
    c->kill_why = why;
    ev_io_stop(c->s->env.loop, &c->io); /* nothing more is read meanwhile */
    vconn_kick(c);
}

void
vconn_kick(struct vconn *c)
{
    if (c->kicked || c->phase == VCONN_DEAD)
        return;
    c->kicked = true;
    c->kick_next = c->s->kicked;
    c->s->kicked = c;
    ev_prepare_start(c->s->env.loop, &c->s->prepare);
}

/* Deferred work, before the loop blocks: closes requested from other modules' callbacks,
 * parked requests that can go on, then frees what was closed. */
static void
prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)revents;
    struct vserver *s = RD_CONTAINER_OF(w, struct vserver, prepare);
    double now = ev_now(loop);
    while (s->kicked != NULL) {
        struct vconn *c = s->kicked;
        s->kicked = c->kick_next;
        c->kicked = false;
        if (c->phase == VCONN_DEAD)
            continue;
        if (c->kill_why != NULL) {
            conn_kill(c, c->kill_why);
            continue;
        }
        if (c->phase == VCONN_OPEN)
            conn_process(c, now);
        conn_settle(c, now);
    }
    vsession_reap(s);
    while (s->dead != NULL) {
        struct vconn *c = s->dead;
        s->dead = c->next;
        free(c->out);
        free(c);
    }
    if (s->kicked == NULL && s->closing == NULL)
        ev_prepare_stop(loop, w);
}

/* ---- Output -------------------------------------------------------------------------------- */

static size_t
conn_queued(const struct vconn *c)
{
    return c->fv != NULL ? fanout_viewer_control_pending(c->fv) : c->out_len - c->out_sent;
}

bool
vconn_send(struct vconn *c, const void *data, size_t len)
{
    if (c->phase == VCONN_DEAD)
        return false;
    if (c->fv != NULL) {
        if (fanout_viewer_send_control(c->fv, data, len) != RD_OK) {
            RD_LOG_RATELIMITED(RD_LOG_WARN, &c->log, 1.0,
                               "response not queued: viewer dead or packet pool exhausted");
            conn_kill(c, "output_failed");
            return false;
        }
        c->answered = true;
        return true;
    }
    if (c->out_sent > 0) {
        memmove(c->out, c->out + c->out_sent, c->out_len - c->out_sent);
        c->out_len -= c->out_sent;
        c->out_sent = 0;
    }
    if (c->out_cap - c->out_len < len) {
        size_t cap = c->out_cap > 0 ? c->out_cap : 4096;
        while (cap - c->out_len < len)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (p == NULL) {
            RD_LOG_RATELIMITED(RD_LOG_WARN, &c->log, 1.0, "out of memory for a response");
            conn_kill(c, "out_of_memory");
            return false;
        }
        c->out = p;
        c->out_cap = cap;
    }
    if (c->out_len == 0)
        c->out_at = ev_now(c->s->env.loop);
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    c->answered = true;
    return true;
}

/* The fanout reported the connection's TCP viewer (stalled, behind, socket error): close the
 * connection; its player starts over through the broker. Called from fanout_flush or the
 * fanout's watchers, so the close waits for the next loop iteration. */
static void
conn_fanout_dead(struct fanout_viewer *v, enum fanout_dead why, void *arg)
{
    (void)v;
    struct vconn *c = arg;
    RD_LOG(RD_LOG_INFO, &c->log, "viewer disconnected reason=%s", fanout_dead_name(why));
    vconn_close_later(c, "fanout_dead");
}

int
vconn_take_fanout(struct vconn *c)
{
    if (c->fv != NULL)
        return RD_OK;
    c->fv = fanout_viewer_new_tcp(c->s->env.fanout, c->fd, conn_fanout_dead, c);
    if (c->fv == NULL)
        return RD_ENOMEM;
    size_t left = c->out_len - c->out_sent;
    if (left > 0 && fanout_viewer_send_control(c->fv, c->out + c->out_sent, left) != RD_OK) {
        fanout_viewer_free(c->fv);
        c->fv = NULL;
        return RD_ENOMEM;
    }
    c->out_len = c->out_sent = 0;
    free(c->out);
    c->out = NULL;
    c->out_cap = 0;
    return RD_OK;
}

/* Writes what the socket takes of the connection's own output. Returns false when the
 * connection died. */
static bool
conn_flush(struct vconn *c, double now)
{
    if (c->fv != NULL)
        return true;
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
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
    if (c->out_cap > 65536) { /* a large SDP went out: give the memory back */
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    c->idle_at = now;
    return true;
}

/* Queues a bare final response (framing error, deadline) and stops reading requests. */
static void
conn_reject(struct vconn *c, int status, int64_t cseq)
{
    rd_buf_reset(&c->in);
    c->skip = 0;
    c->parked = false;
    if (!vreq_bare(c, status, cseq))
        return;
    c->phase = VCONN_CLOSING;
    c->linger = true; /* a broken stream: more of it may be in flight */
}

/* ---- Input --------------------------------------------------------------------------------- */

static void
conn_read(struct vconn *c, double now)
{
    if (c->phase == VCONN_LINGER) {
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

/* One interleaved frame from the viewer (RFC 2326 §10.12): RTCP on the odd channel of one of
 * this connection's TCP sessions is that session's keepalive; anything else is dropped. */
static void
conn_on_frame(struct vconn *c, uint8_t channel, double now)
{
    struct vserver *s = c->s;
    s->st.frames_in++;
    if (now - c->frames_window_at >= 1.0) {
        c->frames_window_at = now;
        c->frames_in_window = 0;
    }
    c->frames_in_window++;
    if (c->frames_in_window > RD_VSERVER_FRAMES_ABUSE) {
        RD_LOG_RATELIMITED(RD_LOG_INFO, &c->log, 1.0, "interleaved frame flood: closing rate=%u",
                           (unsigned)c->frames_in_window);
        conn_kill(c, "frame_flood");
        return;
    }
    if (c->frames_in_window <= RD_VSERVER_FRAMES_PER_S) {
        for (struct vsession *x = c->sessions; x != NULL; x = x->cnext) {
            if (!x->tcp)
                continue;
            for (unsigned i = 0; i < x->n_tracks; i++) {
                if (x->tracks[i].ch_rtcp == channel) {
                    vsession_touch(x, now);
                    return;
                }
            }
        }
    }
    s->st.frames_dropped++;
}

static void
log_parse_error(struct vconn *c, const struct rtsp_msg *msg, const char *p, size_t len)
{
    /* Only the method: the request URI carries the token, whose MAC is never logged. */
    size_t n = 0;
    while (n < len && n < VCONN_SAMPLE_BYTES && p[n] != ' ' && p[n] != '\r' && p[n] != '\n')
        n++;
    char sample[LOG_SAMPLE_BUF];
    RD_LOG_RATELIMITED(RD_LOG_INFO, &c->log, 0.1,
                       "request refused status=%d error=\"%s\" method=%s", msg->status_hint,
                       rtsp_msg_strerror(msg->error), log_sanitize(sample, sizeof(sample), p, n));
}

static bool
conn_backpressured(const struct vconn *c)
{
    return conn_queued(c) > RD_RTSP_MAX_QUEUED_OUTPUT;
}

/* Splits the input into '$' frames and requests and answers the requests in order: at most
 * RD_RTSP_MAX_PIPELINED per wakeup, none while the output is over RD_RTSP_MAX_QUEUED_OUTPUT,
 * none after a request parked for its camera. */
static void
conn_process(struct vconn *c, double now)
{
    struct vserver *s = c->s;
    c->more_pending = false;
    unsigned handled = 0;
    while (c->phase == VCONN_OPEN && !c->parked && rd_buf_len(&c->in) > 0) {
        const char *p = rd_buf_head(&c->in);
        size_t len = rd_buf_len(&c->in);
        if (c->skip > 0) {
            size_t n = len < c->skip ? len : c->skip;
            rd_buf_consume(&c->in, n);
            c->skip -= n;
            continue;
        }
        if (conn_backpressured(c)) {
            /* Resumes when the socket is writable, which may be at once: the requests already
             * read must not wait for input that may never come. */
            c->more_pending = true;
            break;
        }
        if (handled == RD_RTSP_MAX_PIPELINED) {
            c->more_pending = true;
            break;
        }
        if (p[0] == RTSP_FRAME_MAGIC && len >= RTSP_FRAME_HEADER_LEN) {
            size_t flen = (size_t)(uint8_t)p[2] << 8 | (uint8_t)p[3];
            if (RTSP_FRAME_HEADER_LEN + flen > c->in.cap) {
                /* Larger than any RTCP report: dropped as it streams in, never buffered. */
                conn_on_frame(c, 255, now);
                c->skip = RTSP_FRAME_HEADER_LEN + flen;
                handled++;
                continue;
            }
        }
        struct rtsp_frame item;
        struct rtsp_msg *msg = &s->msg;
        ssize_t n = rtsp_frame_next(p, len, RTSP_MSG_REQUEST, NULL, &item, msg);
        if (n == RD_AGAIN) {
            if (p[0] != RTSP_FRAME_MAGIC && msg->header_len > 0 && !c->body_wait) {
                c->body_wait = true;
                c->body_at = now;
            }
            if (rd_buf_space(&c->in) == 0) { /* cannot happen: the buffer holds any request */
                s->st.parse_errors++;
                conn_reject(c, 400, RTSP_CSEQ_NONE);
            }
            break;
        }
        if (n < 0) {
            s->st.parse_errors++;
            log_parse_error(c, msg, p, len);
            conn_reject(c, msg->status_hint != 0 ? msg->status_hint : 400, rtsp_resp_cseq_of(msg));
            break;
        }
        if (item.kind == RTSP_FRAME_EMPTY) {
            rd_buf_consume(&c->in, (size_t)n);
            continue;
        }
        if (item.kind == RTSP_FRAME_DATA) {
            conn_on_frame(c, item.channel, now);
            rd_buf_consume(&c->in, (size_t)n);
            handled++;
            continue;
        }
        enum vreq_result r = vreq_handle(c, msg, now);
        if (r == VREQ_DEAD || c->phase == VCONN_DEAD)
            return;
        if (r == VREQ_PARKED) {
            c->parked = true;
            c->park_at = now;
            break;
        }
        s->st.requests++;
        rd_buf_consume(&c->in, (size_t)n);
        handled++;
        c->body_wait = false;
        c->req_at = now;
        c->idle_at = now;
        if (r == VREQ_CLOSE)
            c->phase = VCONN_CLOSING;
    }
    c->req_bytes = rd_buf_len(&c->in) > 0 || c->skip > 0;
}

/* ---- State after an event: watchers and the deadline ------------------------------------ */

static void
conn_settle(struct vconn *c, double now)
{
    struct vserver *s = c->s;
    if (c->phase == VCONN_DEAD || c->kill_why != NULL)
        return;
    size_t queued = conn_queued(c);
    bool own_pending = c->fv == NULL && c->out_sent < c->out_len;
    if (queued == 0 && c->phase == VCONN_CLOSING) {
        /* Final response out. When the peer sent ahead, shut our side and drop its input
         * until its FIN, so our close cannot turn into a reset that destroys the response in
         * flight (nginx lingering_close); otherwise a plain close. */
        if (c->peer_eof || (!c->linger && rd_buf_len(&c->in) == 0) || c->fv != NULL
            || shutdown(c->fd, SHUT_WR) != 0) {
            conn_kill(c, "done");
            return;
        }
        c->phase = VCONN_LINGER;
        c->linger_at = now;
    }
    if (c->phase == VCONN_OPEN && c->peer_eof && queued == 0 && !c->more_pending && !c->parked) {
        conn_kill(c, "peer_closed");
        return;
    }
    int ev = 0;
    if (c->phase == VCONN_LINGER)
        ev = EV_READ;
    else if (c->phase == VCONN_OPEN && !c->peer_eof && rd_buf_space(&c->in) > 0 && !c->more_pending
             && queued <= RD_RTSP_MAX_QUEUED_OUTPUT)
        ev = EV_READ;
    /* A writable socket also wakes us to continue a long pipeline (more_pending). */
    if (own_pending || c->more_pending)
        ev |= EV_WRITE;
    evx_io_set_events(s->env.loop, &c->io, ev);

    double at = 0;
    double header_s = env_or(s->env.header_s, RD_DEADLINE_HEADER_S);
    double idle_s = env_or(s->env.idle_s, RD_IDLE_RELAY_S);
    c->dl = VDL_NONE;
    if (c->phase == VCONN_LINGER) {
        c->dl = VDL_LINGER;
        at = c->linger_at + RD_LINGER_S;
    } else if (own_pending) {
        c->dl = VDL_WRITE;
        at = c->out_at + env_or(s->env.write_s, RD_DEADLINE_WRITE_S);
    } else if (c->fv != NULL && queued > 0
               && (c->phase == VCONN_CLOSING || queued > RD_RTSP_MAX_QUEUED_OUTPUT)) {
        /* The fanout writes and bounds the time (stall detection); we only wait for it. */
        c->dl = VDL_POLL;
        at = now + RD_VSERVER_POLL_MS / 1000.0;
    } else if (c->parked) {
        c->dl = VDL_PARKED;
        at = c->park_at + idle_s;
    } else if (c->req_bytes && c->body_wait) {
        c->dl = VDL_BODY;
        at = c->body_at + header_s;
    } else if (c->req_bytes) {
        c->dl = VDL_HEADER;
        at = c->req_at + header_s;
    } else if (c->n_sessions > 0) {
        c->dl = VDL_NONE; /* the sessions' own timeouts bound the connection */
    } else if (!c->answered) {
        c->dl = VDL_FIRST_BYTE;
        at = c->accepted_at + env_or(s->env.first_byte_s, RD_DEADLINE_FIRST_BYTE_S);
    } else {
        c->dl = VDL_IDLE;
        at = c->idle_at + idle_s;
    }
    if (c->dl == VDL_NONE) {
        ev_timer_stop(s->env.loop, &c->timer);
        return;
    }
    double after = at - now;
    c->timer.repeat = after > 0.001 ? after : 0.001;
    ev_timer_again(s->env.loop, &c->timer);
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct vconn *c = RD_CONTAINER_OF(w, struct vconn, io);
    double now = ev_now(loop);
    if ((revents & EV_WRITE) && !conn_flush(c, now))
        return;
    if (revents & EV_READ)
        conn_read(c, now);
    if (c->phase == VCONN_OPEN)
        conn_process(c, now);
    if (c->phase != VCONN_DEAD && !conn_flush(c, now))
        return;
    /* Output drained: take the requests that waited for room. */
    if (c->phase == VCONN_OPEN && rd_buf_len(&c->in) > 0 && !c->more_pending && !c->parked)
        conn_process(c, now);
    if (c->phase != VCONN_DEAD && !conn_flush(c, now))
        return;
    conn_settle(c, now);
}

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct vconn *c = RD_CONTAINER_OF(w, struct vconn, timer);
    double now = ev_now(loop);
    enum vconn_deadline dl = c->dl;
    if (dl == VDL_POLL) {
        if (c->phase == VCONN_OPEN)
            conn_process(c, now);
        conn_settle(c, now);
        return;
    }
    if (dl != VDL_LINGER)
        c->s->st.deadlines++;
    RD_LOG(dl == VDL_IDLE || dl == VDL_LINGER ? RD_LOG_DEBUG : RD_LOG_INFO, &c->log,
           "deadline passed deadline=%s", deadline_names[dl]);
    if ((dl == VDL_HEADER || dl == VDL_BODY) && c->phase == VCONN_OPEN) {
        conn_reject(c, 408, RTSP_CSEQ_NONE);
        if (c->phase != VCONN_DEAD && conn_flush(c, now))
            conn_settle(c, now);
        return;
    }
    conn_kill(c, deadline_names[dl]);
}

/* ---- Accepting ----------------------------------------------------------------------------- */

/* The peer's address text, and the address alone with IPv4-mapped IPv6 unmapped (the form
 * url_token.h asks for). */
static void
peer_text(const struct sockaddr_storage *ss, socklen_t len, char *addr, char *ip)
{
    if (net_format_addr((const struct sockaddr *)ss, len, addr, NET_ADDR_STRLEN) != RD_OK)
        memcpy(addr, "?", 2);
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)ss;
    if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
        struct sockaddr_in v4;
        memset(&v4, 0, sizeof(v4));
        v4.sin_family = AF_INET;
        memcpy(&v4.sin_addr, v6->sin6_addr.s6_addr + 12, 4);
        if (net_format_ip((const struct sockaddr *)&v4, sizeof(v4), ip, NET_IP_STRLEN) == RD_OK)
            return;
    } else if (net_format_ip((const struct sockaddr *)ss, len, ip, NET_IP_STRLEN) == RD_OK) {
        return;
    }
    memcpy(ip, "?", 2);
}

static void
refuse(struct vserver *s, int fd, const char *why, const char *peer)
{
    if (close(fd) != 0)
        RD_LOG(RD_LOG_DEBUG, &s->log, "close failed errno=%d", errno);
    s->st.refused++;
    RD_LOG_RATELIMITED(RD_LOG_INFO, &s->log, 1.0, "connection refused peer=%s reason=%s", peer,
                       why);
}

static uint32_t
conns_of_ip(const struct vserver *s, const char *ip)
{
    uint32_t n = 0;
    for (const struct vconn *c = s->live; c != NULL; c = c->next)
        n += strcmp(c->ip, ip) == 0;
    return n;
}

static void
conn_open(struct vserver *s, int fd, const struct sockaddr_storage *ss, socklen_t len, double now)
{
    char addr[NET_ADDR_STRLEN], ip[NET_IP_STRLEN];
    peer_text(ss, len, addr, ip);
    uint32_t per_ip =
        s->env.max_conns_per_ip > 0 ? s->env.max_conns_per_ip : RD_RELAY_MAX_CONNS_PER_IP;
    if (s->st.conns >= s->env.max_conns) {
        refuse(s, fd, "max_conns", addr);
        return;
    }
    if (conns_of_ip(s, ip) >= per_ip) {
        refuse(s, fd, "max_conns_per_ip", addr);
        return;
    }
    struct vconn *c = malloc(sizeof(*c));
    if (c == NULL) {
        RD_LOG_RATELIMITED(RD_LOG_WARN, &s->log, 1.0, "out of memory for a connection peer=%s",
                           addr);
        if (close(fd) != 0)
            RD_LOG(RD_LOG_DEBUG, &s->log, "close failed errno=%d", errno);
        return;
    }
    /* Only the header part is reset: the input buffer is written before it is read. */
    memset(c, 0, offsetof(struct vconn, inmem));
    c->s = s;
    c->fd = fd;
    c->id = ++s->next_conn_id;
    c->phase = VCONN_OPEN;
    c->accepted_at = c->idle_at = now;
    c->peer = *ss;
    c->peer_len = len;
    memcpy(c->addr, addr, sizeof(addr));
    memcpy(c->ip, ip, sizeof(ip));
    struct sockaddr_storage local;
    socklen_t local_len = sizeof(local);
    if (getsockname(fd, (struct sockaddr *)&local, &local_len) == 0) {
        char dummy[NET_ADDR_STRLEN];
        peer_text(&local, local_len, dummy, c->local);
        c->local_family = strchr(c->local, ':') != NULL ? AF_INET6 : AF_INET;
    } else {
        memcpy(c->local, "0.0.0.0", 8);
        c->local_family = AF_INET;
    }
    c->user.ready = vconn_user_ready;
    c->user.gone = vconn_user_gone;
    (void)log_ctx_set(&c->log, "conn=%llu peer=%s", (unsigned long long)c->id, addr);
    rd_buf_init(&c->in, c->inmem, sizeof(c->inmem));
    ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
    ev_init(&c->timer, conn_timer_cb);
    if (net_set_nodelay(fd) != RD_OK)
        RD_LOG(RD_LOG_DEBUG, &c->log, "TCP_NODELAY failed errno=%d", errno);
    if (net_set_sndbuf(fd, RD_VSERVER_SNDBUF_BYTES) != RD_OK)
        RD_LOG(RD_LOG_DEBUG, &c->log, "SO_SNDBUF failed errno=%d", errno);
    c->next = s->live;
    if (s->live != NULL)
        s->live->prev = c;
    s->live = c;
    s->st.conns++;
    s->st.accepted++;
    RD_LOG(RD_LOG_DEBUG, &c->log, "accepted");
    conn_settle(c, now);
}

static void
accept_pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct vserver *s = RD_CONTAINER_OF(w, struct vserver, accept_pause);
    if (s->accepting && s->fd >= 0)
        ev_io_start(loop, &s->accept_io);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct vserver *s = RD_CONTAINER_OF(w, struct vserver, accept_io);
    double now = ev_now(loop);
    for (int i = 0; i < RD_ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = net_accept(s->fd, &ss, &len);
        if (fd == RD_AGAIN)
            return;
        if (fd == RD_EBUSY) {
            /* Out of descriptors: stop polling the socket for a while (nginx). */
            RD_LOG_RATELIMITED(RD_LOG_WARN, &s->log, 10.0,
                               "accept paused: out of descriptors or memory errno=%d", errno);
            ev_io_stop(loop, &s->accept_io);
            ev_timer_set(&s->accept_pause, RD_ACCEPT_PAUSE_MS / 1000.0, 0.);
            ev_timer_start(loop, &s->accept_pause);
            return;
        }
        if (fd < 0) {
            RD_LOG_RATELIMITED(RD_LOG_WARN, &s->log, 10.0, "accept failed errno=%d", errno);
            return;
        }
        conn_open(s, fd, &ss, len, now);
    }
}

/* ---- Lifecycle ----------------------------------------------------------------------------- */

int
vserver_new(const struct vserver_env *env, struct vserver **out)
{
    struct vserver *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return RD_ENOMEM;
    s->resp = malloc(VSERVER_RESP_BYTES);
    s->body = malloc(RD_SDP_MAX_BYTES + 1);
    s->hdr = malloc(VSERVER_HDR_BYTES);
    if (s->resp == NULL || s->body == NULL || s->hdr == NULL) {
        free(s->resp);
        free(s->body);
        free(s->hdr);
        free(s);
        return RD_ENOMEM;
    }
    s->env = *env;
    s->fd = -1;
    s->sdp_session_id = (uint64_t)time(NULL);
    ev_io_init(&s->accept_io, accept_cb, -1, EV_READ);
    ev_init(&s->accept_pause, accept_pause_cb);
    ev_prepare_init(&s->prepare, prepare_cb);
    (void)log_ctx_set(&s->log, "rtsp=viewers");
    *out = s;
    return RD_OK;
}

int
vserver_listen(struct vserver *s, const struct conf_listen *l, struct rd_errbuf *err)
{
    if (s->fd >= 0) {
        rd_errbuf_set(err, "viewer rtsp: already listening");
        return RD_EIO;
    }
    if (s->env.max_conns == 0) {
        rd_errbuf_set(err, "viewer rtsp: max_conns must be at least 1");
        return RD_EIO;
    }
    int fd = net_tcp_listen(l->host, l->port, RD_VSERVER_BACKLOG, err);
    if (fd < 0)
        return RD_EIO;
    s->fd = fd;
    if (net_local_port(fd, &s->port) != RD_OK)
        s->port = l->port;
    (void)log_ctx_set(&s->log, "rtsp=%s:%u", l->host, (unsigned)s->port);
    ev_io_set(&s->accept_io, fd, EV_READ);
    ev_io_start(s->env.loop, &s->accept_io);
    s->accepting = true;
    RD_LOG(RD_LOG_NOTICE, &s->log, "viewer rtsp listening max_conns=%u", s->env.max_conns);
    return RD_OK;
}

uint16_t
vserver_port(const struct vserver *s)
{
    return s->port;
}

void
vserver_stop_accepting(struct vserver *s)
{
    s->accepting = false;
    ev_io_stop(s->env.loop, &s->accept_io);
    ev_timer_stop(s->env.loop, &s->accept_pause);
    if (s->fd >= 0 && close(s->fd) != 0)
        RD_LOG(RD_LOG_DEBUG, &s->log, "close failed errno=%d", errno);
    s->fd = -1;
}

static void
grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct vserver *s = RD_CONTAINER_OF(w, struct vserver, grace);
    if (s->st.conns > 0)
        RD_LOG(RD_LOG_NOTICE, &s->log, "shutdown grace over: closing connections open=%u",
               s->st.conns);
    while (s->live != NULL)
        conn_kill(s->live, "shutdown");
}

uint32_t
vserver_close_all(struct vserver *s)
{
    vserver_stop_accepting(s);
    while (s->sessions != NULL)
        vsession_free(s->sessions, "shutdown");
    double now = ev_now(s->env.loop);
    struct vconn *next;
    for (struct vconn *c = s->live; c != NULL; c = next) {
        next = c->next;
        camera_user_release(&c->user);
        c->user_ready = false;
        c->parked = false;
        if (c->phase == VCONN_OPEN)
            c->phase = VCONN_CLOSING;
        conn_settle(c, now);
    }
    if (!s->closing_all) {
        s->closing_all = true;
        ev_timer_init(&s->grace, grace_cb, RD_SHUTDOWN_GRACE_S, 0.);
        if (s->st.conns > 0)
            ev_timer_start(s->env.loop, &s->grace);
    }
    return s->st.conns;
}

uint32_t
vserver_conns(const struct vserver *s)
{
    return s->st.conns;
}

void
vserver_free(struct vserver *s)
{
    if (s == NULL)
        return;
    vserver_stop_accepting(s);
    if (s->closing_all)
        ev_timer_stop(s->env.loop, &s->grace);
    while (s->live != NULL)
        conn_kill(s->live, "shutdown");
    while (s->sessions != NULL)
        vsession_free(s->sessions, "shutdown");
    s->kicked = NULL; /* every kicked connection is dead now */
    prepare_cb(s->env.loop, &s->prepare, 0);
    ev_prepare_stop(s->env.loop, &s->prepare);
    vpair_close_all(s);
    free(s->resp);
    free(s->body);
    free(s->hdr);
    free(s);
}

void
vserver_stats(const struct vserver *s, struct vserver_stats *out)
{
    *out = s->st;
}
