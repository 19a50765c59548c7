/* SPDX-License-Identifier: MIT */
/* Viewer RTSP sessions (SECURITY.md §3.3): 128-bit random ids in a lookup table, binding to
 * the creating connection (TCP) or peer IP (UDP), timeouts refreshed by requests and RTCP,
 * ordered teardown; and the UDP server-port pairs shared per camera track, whose sockets
 * bring the viewers' RTCP receiver reports back as keepalives. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "crypto.h"
#include "evx.h"
#include "rd_err.h"
#include "stream.h"
#include "vserver_int.h"

/* ---- Addresses ----------------------------------------------------------------------------- */

/* The IP of sa as comparable bytes (IPv4-mapped IPv6 as IPv4). Returns the byte count (4 or
 * 16), 0 for another family. */
static size_t
ip_bytes(const struct sockaddr_storage *sa, uint8_t out[16])
{
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
        memcpy(out, &v4->sin_addr, 4);
        return 4;
    }
    if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            memcpy(out, v6->sin6_addr.s6_addr + 12, 4);
            return 4;
        }
        memcpy(out, v6->sin6_addr.s6_addr, 16);
        return 16;
    }
    return 0;
}

static bool
same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    uint8_t x[16], y[16];
    size_t n = ip_bytes(a, x);
    return n > 0 && n == ip_bytes(b, y) && memcmp(x, y, n) == 0;
}

static uint16_t
port_of(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    if (sa->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    return 0;
}

/* ---- Timeouts ------------------------------------------------------------------------------ */

static double
timeout_s(const struct vserver *s)
{
    return s->env.session_timeout_s > 0 ? s->env.session_timeout_s : RD_RTSP_SESSION_TIMEOUT_S;
}

/* When x ends unless something happens: its timeout after the last activity, and for a
 * session never played the SETUP -> PLAY window. */
static double
session_due(const struct vsession *x, const char **why)
{
    const struct vserver *s = x->s;
    double due = x->active_at + timeout_s(s);
    *why = "timeout";
    if (!x->played) {
        double w = x->created_at
                   + (s->env.setup_play_s > 0 ? s->env.setup_play_s : RD_VSERVER_SETUP_PLAY_S);
        if (w < due) {
            due = w;
            *why = "setup_play_window";
        }
    }
    return due;
}

/* Fires at the due time computed when it was armed; activity since then only moved the due
 * time later, so it re-arms for the rest (ev.pod timeouts, method 3: no re-arm per packet). */
static void
session_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct vsession *x = RD_CONTAINER_OF(w, struct vsession, timer);
    double now = ev_now(loop);
    const char *why;
    double due = session_due(x, &why);
    if (due - now > 0.001) {
        evx_timer_rearm(loop, w, due - now);
        return;
    }
    x->s->st.session_timeouts++;
    RD_LOG(RD_LOG_INFO, x->conn != NULL ? &x->conn->log : &x->s->log,
           "session ended reason=%s session=%.8s camera=%s", why, x->id, x->camera);
    vsession_free(x, why);
}

void
vsession_touch(struct vsession *x, double now)
{
    if (now > x->active_at)
        x->active_at = now;
}

/* ---- Camera and fanout callbacks ----------------------------------------------------------- */

static void
session_user_ready(struct camera_user *u, int status)
{
    /* Sessions attach to a ready camera (RD_OK at once), so this is not expected; an error
     * means the user is detached: the session cannot go on. */
    struct vsession *x = RD_CONTAINER_OF(u, struct vsession, user);
    if (status != RD_OK)
        vsession_close_later(x);
}

static void
session_user_gone(struct camera_user *u)
{
    struct vsession *x = RD_CONTAINER_OF(u, struct vsession, user);
    RD_LOG(RD_LOG_INFO, x->conn != NULL ? &x->conn->log : &x->s->log,
           "camera gone: closing its viewer camera=%s session=%.8s", x->camera, x->id);
    /* Players start over through the broker: close the connection, whose TCP sessions end
     * with it; this session ends too (a UDP one would outlive the connection otherwise). */
    if (x->conn != NULL)
        vconn_close_later(x->conn, "camera_gone");
    vsession_close_later(x);
}

static void
session_udp_dead(struct fanout_viewer *v, enum fanout_dead why, void *arg)
{
    (void)v;
    (void)why;
    vsession_close_later(arg); /* UDP viewers are never reported; a guard */
}

/* ---- Table --------------------------------------------------------------------------------- */

static struct vsession **
bucket_of(struct vserver *s, const uint8_t *id)
{
    uint32_t h = (uint32_t)id[0] | (uint32_t)id[1] << 8 | (uint32_t)id[2] << 16;
    return &s->buckets[h & (RD_VSERVER_SESSION_BUCKETS - 1)];
}

static struct vsession *
find_bin(struct vserver *s, const uint8_t *id)
{
    for (struct vsession *x = *bucket_of(s, id); x != NULL; x = x->hnext) {
        if (rd_ct_equal(x->id_bin, id, sizeof(x->id_bin)))
            return x;
    }
    return NULL;
}

int
vsession_new(struct vconn *c, const char *camera, bool tcp, struct vsession **out)
{
    struct vserver *s = c->s;
    struct vsession *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return RD_ENOMEM;
    x->s = s;
    /* 128 random bits (SECURITY.md §3.3); a duplicate of a live id is drawn again. */
    int tries = 0;
    do {
        if (++tries > 4 || rd_random_bytes(x->id_bin, sizeof(x->id_bin)) != RD_OK) {
            RD_LOG_RATELIMITED(RD_LOG_ERR, &c->log, 10.0, "no session id: CSPRNG failed");
            free(x);
            return RD_ELIMIT;
        }
    } while (find_bin(s, x->id_bin) != NULL);
    rd_hex_encode(x->id_bin, sizeof(x->id_bin), x->id);
    size_t clen = strlen(camera);
    if (clen >= sizeof(x->camera)) {
        free(x);
        return RD_ELIMIT;
    }
    memcpy(x->camera, camera, clen + 1);
    x->user.ready = session_user_ready;
    x->user.gone = session_user_gone;
    int rc = cameras_acquire(s->env.cameras, rd_str_make(x->camera, clen), &x->user);
    if (rc != RD_OK) {
        if (rc == RD_AGAIN) /* the camera went away between DESCRIBE and SETUP */
            camera_user_release(&x->user);
        free(x);
        return rc == RD_ENOMEM ? RD_ENOMEM : RD_EBUSY;
    }
    x->tcp = tcp;
    x->state = VSESSION_READY;
    x->conn = c;
    x->peer = c->peer;
    x->peer_len = c->peer_len;
    memcpy(x->ip, c->ip, sizeof(x->ip));
    x->created_at = x->active_at = ev_now(s->env.loop);
    struct vsession **b = bucket_of(s, x->id_bin);
    x->hnext = *b;
    *b = x;
    x->all_next = s->sessions;
    if (s->sessions != NULL)
        s->sessions->all_prev = x;
    s->sessions = x;
    x->cnext = c->sessions;
    if (c->sessions != NULL)
        c->sessions->cprev = x;
    c->sessions = x;
    c->n_sessions++;
    s->st.sessions++;
    const char *why;
    ev_timer_init(&x->timer, session_timer_cb, session_due(x, &why) - x->created_at, 0.);
    ev_timer_start(s->env.loop, &x->timer);
    RD_LOG(RD_LOG_DEBUG, &c->log, "session created session=%.8s camera=%s transport=%s", x->id,
           x->camera, tcp ? "tcp" : "udp");
    *out = x;
    return RD_OK;
}

int
vsession_udp_viewer(struct vsession *x)
{
    if (x->udp_viewer != NULL)
        return RD_OK;
    x->udp_viewer = fanout_viewer_new_udp(x->s->env.fanout, (const struct sockaddr *)&x->peer,
                                          x->peer_len, session_udp_dead, x);
    return x->udp_viewer != NULL ? RD_OK : RD_ENOMEM;
}

static void
conn_unlink(struct vsession *x)
{
    struct vconn *c = x->conn;
    if (c == NULL)
        return;
    if (x->cprev != NULL)
        x->cprev->cnext = x->cnext;
    else
        c->sessions = x->cnext;
    if (x->cnext != NULL)
        x->cnext->cprev = x->cprev;
    x->cprev = x->cnext = NULL;
    x->conn = NULL;
    c->n_sessions--;
    if (c->n_sessions == 0)
        vconn_kick(c); /* its idle deadline starts */
}

void
vsession_free(struct vsession *x, const char *why)
{
    struct vserver *s = x->s;
    RD_LOG(RD_LOG_DEBUG, x->conn != NULL ? &x->conn->log : &s->log,
           "session freed session=%.8s reason=%s", x->id, why);
    /* Out of every lookup first (SECURITY.md §3.3 teardown order), then the media. */
    for (struct vsession **pp = bucket_of(s, x->id_bin); *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == x) {
            *pp = x->hnext;
            break;
        }
    }
    if (x->all_prev != NULL)
        x->all_prev->all_next = x->all_next;
    else
        s->sessions = x->all_next;
    if (x->all_next != NULL)
        x->all_next->all_prev = x->all_prev;
    if (x->closing) {
        for (struct vsession **pp = &s->closing; *pp != NULL; pp = &(*pp)->close_next) {
            if (*pp == x) {
                *pp = x->close_next;
                break;
            }
        }
    }
    if (x->state == VSESSION_PLAYING) {
        if (x->tcp)
            s->st.playing_tcp--;
        else
            s->st.playing_udp--;
    }
    struct vconn *c = x->conn;
    for (unsigned i = 0; i < x->n_tracks; i++) {
        struct vtrack *t = &x->tracks[i];
        fanout_sub_free(t->sub);
        if (t->pair != NULL) {
            if (t->pair_prev != NULL)
                t->pair_prev->pair_next = t->pair_next;
            else
                t->pair->users = t->pair_next;
            if (t->pair_next != NULL)
                t->pair_next->pair_prev = t->pair_prev;
            vpair_put(t->pair);
        }
        if (x->tcp && c != NULL) {
            c->channels[t->ch_rtp / 8] &= (uint8_t) ~(1u << (t->ch_rtp % 8));
            c->channels[t->ch_rtcp / 8] &= (uint8_t) ~(1u << (t->ch_rtcp % 8));
        }
    }
    fanout_viewer_free(x->udp_viewer);
    camera_user_release(&x->user);
    ev_timer_stop(s->env.loop, &x->timer);
    conn_unlink(x);
    s->st.sessions--;
    free(x);
}

void
vsession_close_later(struct vsession *x)
{
    if (x->closing)
        return;
    x->closing = true;
    x->close_next = x->s->closing;
    x->s->closing = x;
    ev_prepare_start(x->s->env.loop, &x->s->prepare);
}

void
vsession_reap(struct vserver *s)
{
    while (s->closing != NULL) {
        struct vsession *x = s->closing;
        s->closing = x->close_next;
        x->closing = false;
        vsession_free(x, "closed");
    }
}

struct vsession *
vsession_lookup(struct vconn *c, struct rd_str header)
{
    if (header.len > RD_RTSP_MAX_SESSION_HEADER)
        return NULL;
    struct rd_str id;
    (void)rd_str_split(header, ';', &id, NULL); /* RFC 2326 §12.37: id [";timeout=" n] */
    id = rd_str_trim(id);
    if (id.len != VSESSION_ID_LEN)
        return NULL;
    uint8_t bin[RD_RTSP_SESSION_ID_BYTES];
    for (size_t i = 0; i < sizeof(bin); i++) {
        int hi = rd_hex_value((unsigned char)id.p[2 * i]);
        int lo = rd_hex_value((unsigned char)id.p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return NULL;
        bin[i] = (uint8_t)(hi << 4 | lo);
    }
    struct vsession *x = find_bin(c->s, bin);
    if (x == NULL || x->closing)
        return NULL;
    /* Bound to the creating connection (TCP) or peer IP (UDP); elsewhere it does not exist. */
    if (x->tcp ? x->conn != c : !same_ip(&x->peer, &c->peer))
        return NULL;
    return x;
}

void
vsession_conn_closed(struct vconn *c)
{
    while (c->sessions != NULL) {
        struct vsession *x = c->sessions;
        if (x->tcp) {
            vsession_free(x, "connection closed");
        } else {
            /* UDP: media never depended on this connection; players (GStreamer) may come
             * back on a new one. The session stays until TEARDOWN, timeout or camera gone. */
            conn_unlink(x);
        }
    }
}

/* ---- UDP server-port pairs ----------------------------------------------------------------- */

/* Datagrams from viewers on a server port: RTCP receiver reports on the RTCP port, NAT
 * keepalives on either. One from a session's client address (peer IP and one of its
 * client ports) refreshes that session (SECURITY.md §3.2 rule 5); the rest is dropped. */
static void
pair_read(struct vpair *p, int fd)
{
    struct vserver *s = p->s;
    double now = ev_now(s->env.loop);
    for (int i = 0; i < RD_VSERVER_RTCP_READ_BATCH; i++) {
        uint8_t buf[2048];
        struct sockaddr_storage from;
        socklen_t from_len = sizeof(from);
        ssize_t n =
            recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN, or an error report: nothing to do with it */
        }
        s->st.udp_in++;
        uint16_t port = port_of(&from);
        bool known = false;
        for (struct vtrack *t = p->users; t != NULL; t = t->pair_next) {
            if ((port == t->client_rtcp || port == t->client_rtp)
                && same_ip(&t->sess->peer, &from)) {
                vsession_touch(t->sess, now);
                known = true;
            }
        }
        if (!known)
            s->st.udp_unknown++;
    }
}

static void
pair_rtp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct vpair *p = RD_CONTAINER_OF(w, struct vpair, rtp_io);
    pair_read(p, p->fds[0]);
}

static void
pair_rtcp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct vpair *p = RD_CONTAINER_OF(w, struct vpair, rtcp_io);
    pair_read(p, p->fds[1]);
}

int
vpair_get(struct vserver *s, const char *camera, unsigned track, struct vpair **out)
{
    if (s->env.ports == NULL)
        return RD_EPROTO;
    for (struct vpair *p = s->pairs; p != NULL; p = p->next) {
        if (p->track == track && strcmp(p->camera, camera) == 0) {
            p->refs++;
            *out = p;
            return RD_OK;
        }
    }
    size_t clen = strlen(camera);
    struct vpair *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return RD_ENOMEM;
    if (clen >= sizeof(p->camera)) {
        free(p);
        return RD_EPROTO;
    }
    int rc = udp_ports_open_pair(s->env.ports, p->fds, &p->rtp_port);
    if (rc != RD_OK) {
        free(p);
        return RD_ELIMIT;
    }
    memcpy(p->camera, camera, clen + 1);
    p->s = s;
    p->track = track;
    p->refs = 1;
    struct sockaddr_storage local;
    socklen_t len = sizeof(local);
    p->family =
        getsockname(p->fds[0], (struct sockaddr *)&local, &len) == 0 ? local.ss_family : AF_UNSPEC;
    ev_io_init(&p->rtp_io, pair_rtp_cb, p->fds[0], EV_READ);
    ev_io_init(&p->rtcp_io, pair_rtcp_cb, p->fds[1], EV_READ);
    ev_io_start(s->env.loop, &p->rtp_io);
    ev_io_start(s->env.loop, &p->rtcp_io);
    p->next = s->pairs;
    s->pairs = p;
    RD_LOG(RD_LOG_DEBUG, &s->log, "server ports opened camera=%s track=%u rtp_port=%u", camera,
           track, (unsigned)p->rtp_port);
    *out = p;
    return RD_OK;
}

static void
pair_close(struct vpair *p)
{
    struct vserver *s = p->s;
    ev_io_stop(s->env.loop, &p->rtp_io);
    ev_io_stop(s->env.loop, &p->rtcp_io);
    udp_ports_close_pair(s->env.ports, p->fds, p->rtp_port);
    for (struct vpair **pp = &s->pairs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    free(p);
}

void
vpair_put(struct vpair *p)
{
    if (--p->refs == 0)
        pair_close(p);
}

void
vpair_close_all(struct vserver *s)
{
    while (s->pairs != NULL)
        pair_close(s->pairs);
}
