/* SPDX-License-Identifier: MIT */
/* Fan-out: per-viewer queues of shared packets, the key-frame gate, the priority drop of
 * nginx-rtmp (ngx_rtmp_send_message) adapted to RTP, TCP writev and UDP sendmmsg writers,
 * stall detection. See fanout.h for the contracts. */
#define _POSIX_C_SOURCE 200809L
#include "fanout.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "evx.h"
#include "rd_err.h"
#include "udp_batch.h"

/* Instant-start entries one viewer may hold on top of its live cap: a video and an audio
 * cache joined at once. */
#define FANOUT_JOIN_MAX_ENTRIES (2 * RD_STREAM_CACHE_MAX_PACKETS)
/* Control (RTSP) entries on top of that: RD_RTSP_MAX_QUEUED_OUTPUT of responses is a few
 * pool buffers; the RTSP server stops reading long before this. */
#define FANOUT_CONTROL_MAX_ENTRIES 64
/* Queue tag of control entries (media tags are sub index * 2 + RTCP bit, < 0x80). */
#define FANOUT_TAG_CONTROL 0xfeu
/* Timer slack: a deadline this close counts as reached (libev timers and float sums). */
#define FANOUT_TIME_SLACK_S 0.001

_Static_assert(FANOUT_MAX_SUBS * 2 < FANOUT_TAG_CONTROL, "sub tags fit below the control tag");
_Static_assert(2 * FANOUT_TCP_BATCH <= 1024, "one writev stays within IOV_MAX");

enum fanout_kind {
    FANOUT_KIND_TCP,
    FANOUT_KIND_UDP,
};

struct fanout_sub {
    struct fanout_viewer *v;
    struct fanout_sub_list *list; /* NULL when not subscribed */
    struct fanout_sub *prev;
    struct fanout_sub *next;
    uint8_t index; /* in v->subs; the queue tag is index * 2 (+1 for RTCP) */
    uint8_t gate;  /* enum fanout_gate */
    bool in_use;
    bool resyncing;   /* the gate was closed by a drop, not by joining */
    bool join_failed; /* the ring refused a join packet: refuse the rest */
    uint8_t rtp_ch;   /* TCP */
    uint8_t rtcp_ch;
    int rtp_fd; /* UDP */
    int rtcp_fd;
    uint16_t rtp_port;
    uint16_t rtcp_port;
};

LIST_HEAD(fanout_viewer_list, fanout_viewer);

struct fanout_viewer {
    struct fanout *fo;
    enum fanout_kind kind;
    int fd;                       /* TCP socket (borrowed) */
    struct sockaddr_storage peer; /* UDP destination address; port set per packet */
    socklen_t peer_len;
    fanout_dead_fn *dead_cb;
    void *dead_arg;
    struct vqueue q;
    ev_io wio;            /* TCP: EV_WRITE while blocked or kicked */
    ev_timer stall;       /* TCP: no-progress deadline */
    double pending_since; /* last write progress, or when the queue became non-empty */
    double behind_since;  /* first queue drop of the current run of drops */
    double last_drop_at;  /* latest queue drop */
    bool behind;          /* a run of queue drops was seen (see policy_drop) */
    uint32_t join_budget; /* UDP: instant-start bytes still allowed in this pacing tick */
    bool blocked;         /* TCP: the last write filled the socket; EV_WRITE resumes */
    bool dead;
    uint8_t dead_why; /* enum fanout_dead */
    bool dirty;       /* on fo->dirty */
    bool pacing;      /* on fo->pacing */
    bool on_dead;     /* on fo->dead, not yet reported */
    LIST_ENTRY(fanout_viewer) all_link;
    LIST_ENTRY(fanout_viewer) dirty_link;
    LIST_ENTRY(fanout_viewer) pacing_link;
    LIST_ENTRY(fanout_viewer) dead_link;
    struct fanout_viewer_stats st; /* TCP counters and drops; UDP sends are in udp */
    struct udp_batch_acct udp;
    uint32_t n_subs;
    struct fanout_sub subs[FANOUT_MAX_SUBS];
};

struct fanout {
    struct ev_loop *loop;
    struct pktpool *pool;
    struct fanout_cfg cfg;
    struct fanout_viewer_list all;
    struct fanout_viewer_list dirty;  /* got packets since the last flush */
    struct fanout_viewer_list pacing; /* UDP viewers with instant-start data left */
    struct fanout_viewer_list dead;   /* to report */
    ev_timer pace;
    ev_timer hold;   /* flushes a frame still incomplete after cfg.frame_hold_s */
    bool frame_done; /* a frame-ending packet was delivered since the last flush */
    uint32_t n_viewers;
    struct fanout_stats retired; /* counters of freed viewers, and dead/syscall totals */
    struct udp_batch batch;
    struct iovec iov[2 * FANOUT_TCP_BATCH];
    uint8_t hdr[FANOUT_TCP_BATCH][4];
};

static const char *const drop_names[FANOUT_DROP_N] = {
    "wait_key", "resync", "high_water", "full", "send", "purged",
};

static const char *const dead_names[FANOUT_DEAD_N] = {
    "stalled",
    "behind",
    "io",
};

const char *
fanout_drop_name(enum fanout_drop d)
{
    return (unsigned)d < FANOUT_DROP_N ? drop_names[d] : "unknown";
}

const char *
fanout_dead_name(enum fanout_dead d)
{
    return (unsigned)d < FANOUT_DEAD_N ? dead_names[d] : "unknown";
}

void
fanout_cfg_default(struct fanout_cfg *cfg)
{
    vqueue_limits_default(&cfg->queue);
    cfg->stall_s = RD_VIEWER_STALL_S;
    cfg->udp_join_bytes_per_tick = RD_UDP_JOIN_BYTES_PER_TICK;
    cfg->udp_join_tick_s = RD_UDP_JOIN_TICK_MS / 1000.0;
    cfg->udp_gso = true;
    cfg->frame_hold_s = RD_FANOUT_FRAME_HOLD_MS / 1000.0;
}

static uint32_t
to_ms(double t)
{
    return (uint32_t)(uint64_t)(t * 1000.0);
}

/* ---- Lists and dead viewers ------------------------------------------------------------- */

static void
mark_dirty(struct fanout *fo, struct fanout_viewer *v)
{
    if (!v->dirty) {
        v->dirty = true;
        LIST_INSERT_HEAD(&fo->dirty, v, dirty_link);
    }
}

static void
unmark_dirty(struct fanout_viewer *v)
{
    if (v->dirty) {
        LIST_REMOVE(v, dirty_link);
        v->dirty = false;
    }
}

static void
pacing_add(struct fanout *fo, struct fanout_viewer *v)
{
    if (!v->pacing) {
        v->pacing = true;
        LIST_INSERT_HEAD(&fo->pacing, v, pacing_link);
    }
    if (!ev_is_active(&fo->pace)) {
        ev_timer_set(&fo->pace, 0., 0.);
        ev_timer_start(fo->loop, &fo->pace);
    }
}

static void
pacing_remove(struct fanout_viewer *v)
{
    if (v->pacing) {
        LIST_REMOVE(v, pacing_link);
        v->pacing = false;
    }
}

/* Media entries still queued (what closing the viewer loses). */
static uint32_t
queued_media(const struct vqueue *q)
{
    return vqueue_len(q) - q->ctl_n - q->purged_n;
}

/* Stops all output to v and queues it for reporting (once). */
static void
mark_dead(struct fanout *fo, struct fanout_viewer *v, enum fanout_dead why)
{
    if (v->dead)
        return;
    v->dead = true;
    v->dead_why = (uint8_t)why;
    ev_io_stop(fo->loop, &v->wio);
    ev_timer_stop(fo->loop, &v->stall);
    unmark_dirty(v);
    pacing_remove(v);
    v->st.drops[FANOUT_DROP_PURGED] += queued_media(&v->q);
    vqueue_fini(&v->q);
    v->on_dead = true;
    LIST_INSERT_HEAD(&fo->dead, v, dead_link);
    fo->retired.dead[why]++;
}

/* Reports dead viewers; each callback may free its viewer (or others). */
static void
report_dead(struct fanout *fo)
{
    struct fanout_viewer *v;
    while ((v = LIST_FIRST(&fo->dead)) != NULL) {
        LIST_REMOVE(v, dead_link);
        v->on_dead = false;
        v->dead_cb(v, (enum fanout_dead)v->dead_why, v->dead_arg);
    }
}

/* ---- Stall detection (TCP) -------------------------------------------------------------- */

/* Arms v's stall timer for its no-progress deadline, if data is queued and it is not armed. */
static void
stall_arm(struct fanout *fo, struct fanout_viewer *v, double now)
{
    if (v->kind != FANOUT_KIND_TCP || v->dead || ev_is_active(&v->stall) || vqueue_len(&v->q) == 0)
        return;
    double after = v->pending_since + fo->cfg.stall_s - now;
    ev_timer_set(&v->stall, after > FANOUT_TIME_SLACK_S ? after : FANOUT_TIME_SLACK_S, 0.);
    ev_timer_start(fo->loop, &v->stall);
}

static void
stall_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct fanout_viewer *v = RD_CONTAINER_OF(w, struct fanout_viewer, stall);
    struct fanout *fo = v->fo;
    double now = ev_now(fo->loop);
    if (vqueue_len(&v->q) > 0 && now - v->pending_since >= fo->cfg.stall_s - FANOUT_TIME_SLACK_S)
        mark_dead(fo, v, FANOUT_DEAD_STALLED);
    else
        stall_arm(fo, v, now);
    report_dead(fo);
}

/* ---- TCP writer ------------------------------------------------------------------------- */

static size_t
entry_wire_len(const struct vqueue_entry *e)
{
    return (e->flags & VQUEUE_CONTROL) ? e->p->len : 4u + e->p->len;
}

static uint8_t
entry_channel(const struct fanout_viewer *v, uint8_t tag)
{
    const struct fanout_sub *sub = &v->subs[tag >> 1];
    return (tag & 1u) ? sub->rtcp_ch : sub->rtp_ch;
}

/* Takes w written bytes off the head of v's queue. */
static void
tcp_consume(struct fanout_viewer *v, size_t w)
{
    struct vqueue *q = &v->q;
    while (vqueue_len(q) > 0) {
        struct vqueue_entry *e = vqueue_at(q, 0);
        if (e->p == NULL) {
            vqueue_pop(q);
            continue;
        }
        if (w == 0)
            break;
        size_t left = entry_wire_len(e) - q->head_off;
        if (w < left) {
            q->head_off += (uint32_t)w;
            break;
        }
        w -= left;
        if (!(e->flags & VQUEUE_CONTROL)) {
            v->st.pkts_out++;
            v->st.bytes_out += entry_wire_len(e);
        }
        vqueue_pop(q);
    }
}

/* Fills fo->iov from the head of v's queue (at most FANOUT_TCP_BATCH entries); returns the
 * iovec count and the bytes in *total. The head must not be a purged entry. */
static size_t
tcp_gather(struct fanout *fo, const struct fanout_viewer *v, size_t *total)
{
    const struct vqueue *q = &v->q;
    uint32_t n = vqueue_len(q);
    size_t niov = 0;
    size_t sum = 0;
    for (uint32_t i = 0; i < n && i < FANOUT_TCP_BATCH; i++) {
        const struct vqueue_entry *e = vqueue_at(q, i);
        if (e->p == NULL)
            continue;
        const struct pkt *p = e->p;
        size_t off = i == 0 ? q->head_off : 0;
        if (e->flags & VQUEUE_CONTROL) {
            fo->iov[niov++] = (struct iovec){p->data + off, p->len - off};
            sum += p->len - off;
            continue;
        }
        /* RFC 2326 §10.12: '$', channel, 16-bit length, then the RTP/RTCP packet. stream.c
         * forwards nothing longer than RD_RTP_MAX_PACKET. */
        assert(p->len <= RD_RTP_MAX_PACKET);
        uint8_t *h = fo->hdr[i];
        h[0] = '$';
        h[1] = entry_channel(v, e->tag);
        h[2] = (uint8_t)(p->len >> 8);
        h[3] = (uint8_t)p->len;
        if (off < 4) {
            fo->iov[niov++] = (struct iovec){h + off, 4 - off};
            fo->iov[niov++] = (struct iovec){p->data, p->len};
            sum += 4 - off + p->len;
        } else {
            fo->iov[niov++] = (struct iovec){p->data + (off - 4), p->len - (off - 4)};
            sum += p->len - (off - 4);
        }
    }
    *total = sum;
    return niov;
}

/* Writes as much of v's queue as the socket takes; arms EV_WRITE and the stall timer when it
 * blocks, marks v dead on a socket error. */
static void
tcp_write(struct fanout *fo, struct fanout_viewer *v)
{
    struct vqueue *q = &v->q;
    double now = ev_now(fo->loop);
    bool blocked = false;
    for (;;) {
        while (vqueue_len(q) > 0 && vqueue_at(q, 0)->p == NULL)
            vqueue_pop(q);
        if (vqueue_len(q) == 0)
            break;
        size_t total;
        size_t niov = tcp_gather(fo, v, &total);
        struct msghdr mh;
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = fo->iov;
        mh.msg_iovlen = niov;
        ssize_t w = sendmsg(v->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        fo->retired.tcp_writes++;
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                blocked = true;
                break;
            }
            mark_dead(fo, v, FANOUT_DEAD_IO);
            return;
        }
        tcp_consume(v, (size_t)w);
        v->pending_since = now;
        if ((size_t)w < total) {
            /* The socket buffer is full: wait for EV_WRITE instead of another EAGAIN. */
            blocked = true;
            break;
        }
    }
    v->blocked = blocked && vqueue_len(q) > 0;
    if (vqueue_len(q) == 0) {
        ev_io_stop(fo->loop, &v->wio);
        ev_timer_stop(fo->loop, &v->stall);
    } else if (blocked) {
        ev_io_start(fo->loop, &v->wio);
        stall_arm(fo, v, now);
    }
}

static void
wio_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct fanout_viewer *v = RD_CONTAINER_OF(w, struct fanout_viewer, wio);
    struct fanout *fo = v->fo;
    tcp_write(fo, v);
    report_dead(fo);
}

/* ---- UDP writer ------------------------------------------------------------------------- */

/* Moves v's queued packets into the UDP batch; instant-start entries only within the pacing
 * budget, so the rest (and any live packets behind them) wait for the next tick. */
static void
udp_drain(struct fanout *fo, struct fanout_viewer *v)
{
    struct vqueue *q = &v->q;
    struct sockaddr_storage dest = v->peer;
    while (vqueue_len(q) > 0) {
        struct vqueue_entry *e = vqueue_at(q, 0);
        if (e->p == NULL) {
            vqueue_pop(q);
            continue;
        }
        if (e->flags & VQUEUE_JOIN) {
            if (v->join_budget == 0)
                break;
            v->join_budget = e->p->len >= v->join_budget ? 0 : v->join_budget - e->p->len;
        }
        const struct fanout_sub *sub = &v->subs[e->tag >> 1];
        bool rtcp = e->tag & 1u;
        uint16_t port = htons(rtcp ? sub->rtcp_port : sub->rtp_port);
        if (dest.ss_family == AF_INET)
            ((struct sockaddr_in *)&dest)->sin_port = port;
        else
            ((struct sockaddr_in6 *)&dest)->sin6_port = port;
        udp_batch_add(&fo->batch, rtcp ? sub->rtcp_fd : sub->rtp_fd, (const struct sockaddr *)&dest,
                      v->peer_len, e->p, &v->udp);
        vqueue_pop(q);
    }
    if (q->join_n > 0)
        pacing_add(fo, v);
    else
        pacing_remove(v);
}

static void
pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct fanout *fo = RD_CONTAINER_OF(w, struct fanout, pace);
    struct fanout_viewer *next;
    for (struct fanout_viewer *v = LIST_FIRST(&fo->pacing); v != NULL; v = next) {
        next = LIST_NEXT(v, pacing_link);
        v->join_budget = fo->cfg.udp_join_bytes_per_tick;
        udp_drain(fo, v);
    }
    udp_batch_flush(&fo->batch);
    /* One-shot, re-armed from here: a late tick never fires twice to catch up. */
    if (!LIST_EMPTY(&fo->pacing))
        evx_timer_rearm(loop, w, fo->cfg.udp_join_tick_s);
    report_dead(fo);
}

/* Schedules output of v on the next loop iteration (joins and control bytes). */
static void
kick(struct fanout *fo, struct fanout_viewer *v)
{
    if (v->dead)
        return;
    if (v->kind == FANOUT_KIND_TCP)
        ev_io_start(fo->loop, &v->wio);
    else
        pacing_add(fo, v);
}

/* ---- Context ---------------------------------------------------------------------------- */

static void fanout_write_dirty(struct fanout *fo);
static void hold_cb(struct ev_loop *loop, ev_timer *w, int revents);

int
fanout_new(struct ev_loop *loop, struct pktpool *pool, const struct fanout_cfg *cfg,
           struct fanout **out)
{
    struct fanout_cfg def;
    if (cfg == NULL) {
        fanout_cfg_default(&def);
        cfg = &def;
    }
    if (vqueue_limits_check(&cfg->queue) != RD_OK || !(cfg->stall_s > 0)
        || !(cfg->udp_join_tick_s > 0) || cfg->udp_join_bytes_per_tick == 0
        || !(cfg->frame_hold_s >= 0))
        return RD_EPROTO;
    struct fanout *fo = calloc(1, sizeof(*fo));
    if (fo == NULL)
        return RD_ENOMEM;
    fo->loop = loop;
    fo->pool = pool;
    fo->cfg = *cfg;
    LIST_INIT(&fo->all);
    LIST_INIT(&fo->dirty);
    LIST_INIT(&fo->pacing);
    LIST_INIT(&fo->dead);
    ev_timer_init(&fo->pace, pace_cb, 0., 0.);
    ev_timer_init(&fo->hold, hold_cb, 0., 0.);
    bool gso = false;
    if (cfg->udp_gso) {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        if (s >= 0) {
            gso = net_udp_gso_supported(s);
            close(s);
        }
    }
    udp_batch_init(&fo->batch, gso);
    *out = fo;
    return RD_OK;
}

void
fanout_free(struct fanout *fo)
{
    if (fo == NULL)
        return;
    struct fanout_viewer *v;
    while ((v = LIST_FIRST(&fo->all)) != NULL)
        fanout_viewer_free(v);
    udp_batch_flush(&fo->batch);
    ev_timer_stop(fo->loop, &fo->pace);
    ev_timer_stop(fo->loop, &fo->hold);
    free(fo);
}

bool
fanout_udp_gso(const struct fanout *fo)
{
    return fo->batch.gso;
}

void
fanout_flush(struct fanout *fo)
{
    /* Whole frames per write: while the packets delivered since the last write end in the
     * middle of a video frame (no marker bit yet), hold them for at most frame_hold_s. A
     * camera that paces a frame's packets over several reads then costs one writev (TCP) or
     * one sendmmsg train (UDP) per viewer and frame instead of one per read. */
    if (!fo->frame_done && fo->cfg.frame_hold_s > 0 && !LIST_EMPTY(&fo->dirty)) {
        if (!ev_is_active(&fo->hold))
            evx_timer_rearm(fo->loop, &fo->hold, fo->cfg.frame_hold_s);
        return;
    }
    fanout_write_dirty(fo);
}

static void
hold_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    fanout_write_dirty(RD_CONTAINER_OF(w, struct fanout, hold));
}

static void
fanout_write_dirty(struct fanout *fo)
{
    ev_timer_stop(fo->loop, &fo->hold);
    fo->frame_done = false;
    struct fanout_viewer *v;
    while ((v = LIST_FIRST(&fo->dirty)) != NULL) {
        unmark_dirty(v);
        if (v->kind == FANOUT_KIND_TCP) {
            /* A full socket is left to the write watcher: no extra EAGAIN here. */
            if (!v->blocked)
                tcp_write(fo, v);
        } else {
            udp_drain(fo, v);
        }
    }
    udp_batch_flush(&fo->batch);
    report_dead(fo);
}

static void
add_stats(struct fanout_stats *s, const struct fanout_viewer_stats *vs)
{
    s->pkts_out += vs->pkts_out;
    s->bytes_out += vs->bytes_out;
    for (unsigned i = 0; i < FANOUT_DROP_N; i++)
        s->drops[i] += vs->drops[i];
}

void
fanout_stats(const struct fanout *fo, struct fanout_stats *out)
{
    *out = fo->retired;
    out->viewers = fo->n_viewers;
    out->udp_syscalls = fo->batch.syscalls;
    out->gso_trains = fo->batch.gso_trains;
    out->gso_fallbacks = fo->batch.gso_fallbacks;
    const struct fanout_viewer *v;
    LIST_FOREACH(v, &fo->all, all_link)
    {
        struct fanout_viewer_stats vs;
        fanout_viewer_stats(v, &vs);
        add_stats(out, &vs);
        out->queue_pkts += vs.queue_pkts;
        out->queue_bytes += vs.queue_bytes;
    }
}

/* ---- Viewers ---------------------------------------------------------------------------- */

static struct fanout_viewer *
viewer_new(struct fanout *fo, enum fanout_kind kind, fanout_dead_fn *dead, void *arg)
{
    struct fanout_viewer *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return NULL;
    v->fo = fo;
    v->kind = kind;
    v->fd = -1;
    v->dead_cb = dead;
    v->dead_arg = arg;
    vqueue_init(&v->q,
                fo->cfg.queue.max_packets + FANOUT_JOIN_MAX_ENTRIES + FANOUT_CONTROL_MAX_ENTRIES);
    ev_timer_init(&v->stall, stall_cb, 0., 0.);
    for (unsigned i = 0; i < FANOUT_MAX_SUBS; i++) {
        v->subs[i].v = v;
        v->subs[i].index = (uint8_t)i;
    }
    LIST_INSERT_HEAD(&fo->all, v, all_link);
    fo->n_viewers++;
    return v;
}

struct fanout_viewer *
fanout_viewer_new_tcp(struct fanout *fo, int fd, fanout_dead_fn *dead, void *arg)
{
    struct fanout_viewer *v = viewer_new(fo, FANOUT_KIND_TCP, dead, arg);
    if (v == NULL)
        return NULL;
    v->fd = fd;
    ev_io_init(&v->wio, wio_cb, fd, EV_WRITE);
    return v;
}

struct fanout_viewer *
fanout_viewer_new_udp(struct fanout *fo, const struct sockaddr *peer, socklen_t peer_len,
                      fanout_dead_fn *dead, void *arg)
{
    if (peer == NULL
        || !((peer->sa_family == AF_INET && peer_len >= sizeof(struct sockaddr_in))
             || (peer->sa_family == AF_INET6 && peer_len >= sizeof(struct sockaddr_in6))))
        return NULL;
    struct fanout_viewer *v = viewer_new(fo, FANOUT_KIND_UDP, dead, arg);
    if (v == NULL)
        return NULL;
    v->peer_len =
        peer->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    memcpy(&v->peer, peer, v->peer_len);
    return v;
}

void
fanout_viewer_free(struct fanout_viewer *v)
{
    if (v == NULL)
        return;
    struct fanout *fo = v->fo;
    /* The batch may point at v's counters only between a drain and its flush. */
    if (fo->batch.n_msgs > 0)
        udp_batch_flush(&fo->batch);
    for (unsigned i = 0; i < FANOUT_MAX_SUBS; i++)
        fanout_sub_detach(&v->subs[i]);
    ev_io_stop(fo->loop, &v->wio);
    ev_timer_stop(fo->loop, &v->stall);
    unmark_dirty(v);
    pacing_remove(v);
    if (v->on_dead)
        LIST_REMOVE(v, dead_link);
    LIST_REMOVE(v, all_link);
    fo->n_viewers--;
    v->st.drops[FANOUT_DROP_PURGED] += queued_media(&v->q);
    vqueue_fini(&v->q);
    struct fanout_viewer_stats vs;
    fanout_viewer_stats(v, &vs);
    add_stats(&fo->retired, &vs);
    free(v);
}

int
fanout_viewer_send_control(struct fanout_viewer *v, const void *data, size_t len)
{
    if (v->kind != FANOUT_KIND_TCP || v->dead)
        return RD_EPROTO;
    struct fanout *fo = v->fo;
    uint32_t now_ms = to_ms(ev_now(fo->loop));
    bool was_empty = vqueue_len(&v->q) == 0;
    const uint8_t *src = data;
    uint32_t pushed = 0;
    size_t done = 0;
    while (done < len) {
        size_t n = len - done < RD_PKTPOOL_LARGE_BUF ? len - done : RD_PKTPOOL_LARGE_BUF;
        struct pkt *p = pktpool_alloc(fo->pool, n);
        int rc = p == NULL ? RD_ENOMEM : RD_OK;
        if (p != NULL) {
            memcpy(p->data, src + done, n);
            p->len = (uint32_t)n;
            p->flags = PKT_CONTROL;
            rc = vqueue_push(&v->q, p, FANOUT_TAG_CONTROL, VQUEUE_CONTROL, now_ms);
            pkt_unref(p);
        }
        if (rc != RD_OK) {
            /* All or nothing: a half-queued response would corrupt the RTSP stream. */
            while (pushed-- > 0)
                vqueue_pop_tail(&v->q);
            return RD_ENOMEM;
        }
        pushed++;
        done += n;
    }
    if (was_empty)
        v->pending_since = ev_now(fo->loop);
    kick(fo, v);
    return RD_OK;
}

size_t
fanout_viewer_control_pending(const struct fanout_viewer *v)
{
    return v->q.ctl_bytes;
}

void
fanout_viewer_stats(const struct fanout_viewer *v, struct fanout_viewer_stats *out)
{
    *out = v->st;
    out->pkts_out += v->udp.pkts_sent;
    out->bytes_out += v->udp.bytes_sent;
    out->drops[FANOUT_DROP_SEND] += v->udp.pkts_failed;
    out->queue_pkts = vqueue_len(&v->q) - v->q.purged_n;
    out->queue_bytes = v->q.bytes;
    out->behind = v->behind && ev_now(v->fo->loop) - v->last_drop_at <= v->fo->cfg.stall_s / 2;
}

bool
fanout_viewer_dead(const struct fanout_viewer *v)
{
    return v->dead;
}

/* ---- Subscriptions ---------------------------------------------------------------------- */

/* A free sub slot of v. A slot whose old packet is still half written at the head of the
 * queue is not reused: that frame's header is still being generated from the slot. */
static struct fanout_sub *
sub_alloc(struct fanout_viewer *v)
{
    int busy = -1;
    if (v->q.head_off > 0 && vqueue_len(&v->q) > 0) {
        uint8_t tag = vqueue_at(&v->q, 0)->tag;
        if (tag != FANOUT_TAG_CONTROL && tag != VQUEUE_TAG_SKIP)
            busy = tag >> 1;
    }
    for (unsigned i = 0; i < FANOUT_MAX_SUBS; i++) {
        struct fanout_sub *sub = &v->subs[i];
        if (!sub->in_use && (int)i != busy) {
            sub->in_use = true;
            sub->list = NULL;
            sub->prev = sub->next = NULL;
            sub->gate = FANOUT_GATE_WAITING;
            sub->resyncing = false;
            sub->join_failed = false;
            v->n_subs++;
            return sub;
        }
    }
    return NULL;
}

int
fanout_sub_new_tcp(struct fanout_viewer *v, uint8_t rtp_ch, uint8_t rtcp_ch,
                   struct fanout_sub **out)
{
    if (v->kind != FANOUT_KIND_TCP)
        return RD_EPROTO;
    struct fanout_sub *sub = sub_alloc(v);
    if (sub == NULL)
        return RD_ELIMIT;
    sub->rtp_ch = rtp_ch;
    sub->rtcp_ch = rtcp_ch;
    sub->rtp_fd = sub->rtcp_fd = -1;
    *out = sub;
    return RD_OK;
}

int
fanout_sub_new_udp(struct fanout_viewer *v, int rtp_fd, uint16_t rtp_port, int rtcp_fd,
                   uint16_t rtcp_port, struct fanout_sub **out)
{
    if (v->kind != FANOUT_KIND_UDP || rtp_port == 0 || rtcp_port == 0 || rtp_fd < 0 || rtcp_fd < 0)
        return RD_EPROTO;
    struct fanout_sub *sub = sub_alloc(v);
    if (sub == NULL)
        return RD_ELIMIT;
    sub->rtp_fd = rtp_fd;
    sub->rtcp_fd = rtcp_fd;
    sub->rtp_port = rtp_port;
    sub->rtcp_port = rtcp_port;
    *out = sub;
    return RD_OK;
}

void
fanout_sub_free(struct fanout_sub *sub)
{
    if (sub == NULL || !sub->in_use)
        return;
    struct fanout_viewer *v = sub->v;
    fanout_sub_detach(sub);
    uint32_t purged = vqueue_purge_tag(&v->q, (uint8_t)(sub->index * 2u));
    purged += vqueue_purge_tag(&v->q, (uint8_t)(sub->index * 2u + 1u));
    v->st.drops[FANOUT_DROP_PURGED] += purged;
    sub->in_use = false;
    v->n_subs--;
}

struct fanout_viewer *
fanout_sub_viewer(const struct fanout_sub *sub)
{
    return sub->v;
}

bool
fanout_sub_attached(const struct fanout_sub *sub)
{
    return sub->list != NULL;
}

enum fanout_gate
fanout_sub_gate(const struct fanout_sub *sub)
{
    return (enum fanout_gate)sub->gate;
}

/* ---- Stream side ------------------------------------------------------------------------ */

void
fanout_list_init(struct fanout_sub_list *l)
{
    l->head = NULL;
    l->n = 0;
}

void
fanout_sub_detach(struct fanout_sub *sub)
{
    struct fanout_sub_list *l = sub->list;
    if (l == NULL)
        return;
    if (sub->prev != NULL)
        sub->prev->next = sub->next;
    else
        l->head = sub->next;
    if (sub->next != NULL)
        sub->next->prev = sub->prev;
    l->n--;
    sub->list = NULL;
    sub->prev = sub->next = NULL;
    sub->gate = FANOUT_GATE_WAITING;
}

void
fanout_list_detach_all(struct fanout_sub_list *l)
{
    while (l->head != NULL)
        fanout_sub_detach(l->head);
}

void
fanout_sub_attach(struct fanout_sub *sub, struct fanout_sub_list *l, enum fanout_gate gate)
{
    fanout_sub_detach(sub);
    sub->list = l;
    sub->prev = NULL;
    sub->next = l->head;
    if (l->head != NULL)
        l->head->prev = sub;
    l->head = sub;
    l->n++;
    sub->gate = (uint8_t)gate;
    sub->resyncing = false;
    sub->join_failed = false;
    kick(sub->v->fo, sub->v);
}

static uint8_t
sub_tag(const struct fanout_sub *sub, const struct pkt *p)
{
    return (uint8_t)(sub->index * 2u + ((p->flags & PKT_RTCP) ? 1u : 0u));
}

int
fanout_sub_join_pkt(struct fanout_sub *sub, struct pkt *p)
{
    struct fanout_viewer *v = sub->v;
    if (v->dead)
        return RD_EPROTO;
    if (sub->join_failed)
        return RD_ELIMIT;
    struct fanout *fo = v->fo;
    double now = ev_now(fo->loop);
    bool was_empty = vqueue_len(&v->q) == 0;
    int rc = vqueue_push(&v->q, p, sub_tag(sub, p), VQUEUE_JOIN, to_ms(now));
    if (rc != RD_OK) {
        sub->join_failed = true;
        sub->gate = FANOUT_GATE_WAITING;
        sub->resyncing = true;
        v->st.drops[FANOUT_DROP_FULL]++;
        return rc;
    }
    if (was_empty)
        v->pending_since = now;
    return RD_OK;
}

/* Applies sub's key-frame gate to a media packet with flags f. Returns whether it passes. */
static bool
gate_pass(struct fanout_viewer *v, struct fanout_sub *sub, unsigned f)
{
    switch (sub->gate) {
    case FANOUT_GATE_OPEN:
        return true;
    case FANOUT_GATE_TENTATIVE:
        if (!(f & PKT_VCL) || (f & (PKT_IRAP | PKT_KEY_FORCED))) {
            if (f & PKT_VCL)
                sub->gate = FANOUT_GATE_OPEN;
            return true;
        }
        /* The parameter sets were not followed by an IDR/IRAP slice: wait again. */
        sub->gate = FANOUT_GATE_WAITING;
        break;
    default:
        if (f & (PKT_KEY_START | PKT_KEY_FORCED)) {
            if (sub->resyncing) {
                v->st.resyncs++;
                sub->resyncing = false;
            }
            sub->gate = (!(f & PKT_GATED) || (f & (PKT_VCL | PKT_KEY_FORCED)))
                            ? FANOUT_GATE_OPEN
                            : FANOUT_GATE_TENTATIVE;
            return true;
        }
        break;
    }
    v->st.drops[sub->resyncing ? FANOUT_DROP_RESYNC : FANOUT_DROP_WAIT_KEY]++;
    return false;
}

/* Drop of a packet by the queue policy: closes sub's gate (media) and tracks the run of drops.
 * A run continues while drops recur with no pause longer than stall_s / 2 (a viewer reading at
 * a fraction of the stream rate drops at least once per GOP: a P frame at the high-water mark,
 * then it skips to the next key frame); a TCP viewer whose run lasts stall_s is reported. A
 * viewer with a passing hiccup pauses longer, and a later drop starts a new run. */
static void
policy_drop(struct fanout *fo, struct fanout_viewer *v, struct fanout_sub *sub, bool rtcp,
            enum fanout_drop why, double now)
{
    v->st.drops[why]++;
    if (!rtcp) {
        sub->gate = FANOUT_GATE_WAITING;
        sub->resyncing = true;
    }
    if (!v->behind || now - v->last_drop_at > fo->cfg.stall_s / 2) {
        v->behind = true;
        v->behind_since = now;
    }
    v->last_drop_at = now;
    if (v->kind == FANOUT_KIND_TCP && now - v->behind_since >= fo->cfg.stall_s)
        mark_dead(fo, v, FANOUT_DEAD_BEHIND);
}

static void
deliver_one(struct fanout *fo, struct fanout_sub *sub, struct pkt *p, double now, uint32_t now_ms)
{
    struct fanout_viewer *v = sub->v;
    if (v->dead)
        return;
    unsigned f = p->flags;
    bool rtcp = f & PKT_RTCP;
    if (!rtcp && !gate_pass(v, sub, f))
        return;
    bool key = rtcp || !(f & PKT_GATED)
               || (f & (PKT_KEY_START | PKT_IRAP | PKT_PARAM_SETS | PKT_KEY_FORCED));
    enum vqueue_level lvl = vqueue_level(&v->q, &fo->cfg.queue, p->len, now_ms);
    if (lvl == VQUEUE_FULL || (lvl == VQUEUE_HIGH && !key)) {
        policy_drop(fo, v, sub, rtcp,
                    lvl == VQUEUE_FULL ? FANOUT_DROP_FULL : FANOUT_DROP_HIGH_WATER, now);
        return;
    }
    bool was_empty = vqueue_len(&v->q) == 0;
    if (vqueue_push(&v->q, p, sub_tag(sub, p), 0, now_ms) != RD_OK) {
        policy_drop(fo, v, sub, rtcp, FANOUT_DROP_FULL, now);
        return;
    }
    if (was_empty)
        v->pending_since = now;
    mark_dirty(fo, v);
}

void
fanout_deliver(struct fanout_sub_list *l, struct pkt *p)
{
    if (l->head == NULL)
        return;
    struct fanout *fo = l->head->v->fo;
    double now = ev_now(fo->loop);
    uint32_t now_ms = to_ms(now);
    /* A frame ends at an RTP marker bit (RFC 6184 §5.1: last packet of an access unit), at
     * any RTCP packet and at any packet of an ungated track (audio: one frame per packet). */
    if ((p->flags & (PKT_RTCP)) || !(p->flags & PKT_GATED) || (p->len >= 2 && (p->data[1] & 0x80)))
        fo->frame_done = true;
    for (struct fanout_sub *sub = l->head; sub != NULL; sub = sub->next)
        deliver_one(fo, sub, p, now, now_ms);
}
