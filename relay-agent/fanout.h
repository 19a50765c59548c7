/* SPDX-License-Identifier: MIT */
/* Fan-out of shared packets to viewers (STYLE.md §4.B): per-viewer bounded queues with the
 * SECURITY.md §2.2 drop policy and key-frame gate, TCP-interleaved output by writev of each
 * viewer's own '$' header plus the shared payload, UDP output batched with sendmmsg (and UDP
 * GSO) per read burst, stall detection and viewer counters. */
#ifndef RD_RELAY_FANOUT_H
#define RD_RELAY_FANOUT_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pktpool.h"
#include "rd_limits.h"
#include "viewer_queue.h"

/* How the pieces fit (one event loop, one thread; no locks anywhere):
 *
 *   camera puller --pkt--> stream_on_rtp() --fanout_deliver(list, pkt)--> viewer queues
 *        |                                                                     |
 *        +-- fanout_flush() at the end of each read burst --> TCP writev / UDP sendmmsg
 *
 * - struct fanout: one per loop, owned by main. Holds the loop, the limits, the UDP batch and
 *   the scratch arrays of the writers.
 * - struct fanout_viewer: one output path, owned by the RTSP server. TCP: one per viewer
 *   connection (the interleaved channels of all its sessions share the connection and its
 *   queue). UDP: one per session (or per connection; media goes only to the peer address
 *   given at creation, SECURITY.md §3.2).
 * - struct fanout_sub: one track of one session, owned by its viewer (at most
 *   FANOUT_MAX_SUBS). A sub is subscribed to one stream track at a time (stream_subscribe),
 *   which links it into that track's struct fanout_sub_list.
 * - Packets: queues hold references (pktpool.h); a packet is never copied per viewer.
 *
 * Output timing: packets delivered during a read burst are written by fanout_flush(), which
 * the puller calls once per burst, so a viewer gets a whole frame per writev/sendmmsg where
 * the burst holds one. Joins (stream_subscribe) and control bytes are written by the
 * fanout's own watchers on the next loop iteration, never inside the caller's call.
 *
 * Dead viewers: a viewer is reported through its fanout_dead_fn exactly once, from
 * fanout_flush() or from one of the fanout's watchers (never from any other function here).
 * After that it receives nothing more; the callback (or later code) must call
 * fanout_viewer_free(). The callback may free that viewer or others of this fanout; it must
 * not call fanout_flush() or fanout_free(). */

/* Tracks one viewer may carry: every track of every session of one connection. */
#define FANOUT_MAX_SUBS (RD_MAX_SESSIONS_PER_CONN * RD_MAX_TRACKS_PER_SESSION)
/* Entries one TCP writev (sendmsg) covers: two iovecs each, within IOV_MAX (1024). */
#define FANOUT_TCP_BATCH 256

struct fanout;
struct fanout_viewer;
struct fanout_sub;

/* A stream track's subscribers (embedded in stream.c's track; fields are fanout.c's). */
struct fanout_sub_list {
    struct fanout_sub *head;
    uint32_t n;
};

/* Why a packet did not reach a viewer. */
enum fanout_drop {
    FANOUT_DROP_WAIT_KEY,   /* skipped: joined without a cached key frame, waiting for one */
    FANOUT_DROP_RESYNC,     /* skipped: resyncing after a drop, waiting for the next key frame */
    FANOUT_DROP_HIGH_WATER, /* not part of a key frame, queue above the high-water mark */
    FANOUT_DROP_FULL,       /* queue at a cap (bytes, packets, age) */
    FANOUT_DROP_SEND,       /* UDP: the kernel refused it (socket queue full, refused) */
    FANOUT_DROP_PURGED,     /* queued for a track or viewer that went away */
    FANOUT_DROP_N
};

/* Why a viewer is reported for disconnection. */
enum fanout_dead {
    FANOUT_DEAD_STALLED, /* TCP: data queued and no write progress for stall_s */
    FANOUT_DEAD_BEHIND,  /* TCP: queue drops recurring (no pause > stall_s / 2) for stall_s */
    FANOUT_DEAD_IO,      /* TCP: the socket failed (reset, broken pipe) */
    FANOUT_DEAD_N
};

/* Key-frame gate of a sub (nginx-rtmp wait_key). */
enum fanout_gate {
    FANOUT_GATE_WAITING,   /* skips everything but a key-frame start */
    FANOUT_GATE_TENTATIVE, /* opened at a parameter-set-only start; closes again if the first
                              slice that follows is not IDR/IRAP (rtp_h26x.h) */
    FANOUT_GATE_OPEN,
};

typedef void fanout_dead_fn(struct fanout_viewer *v, enum fanout_dead why, void *arg);

struct fanout_cfg {
    struct vqueue_limits queue;       /* per-viewer caps and water marks */
    double stall_s;                   /* > 0: RD_VIEWER_STALL_S; tests use less */
    uint32_t udp_join_bytes_per_tick; /* > 0: pacing of a UDP viewer's instant-start data */
    double udp_join_tick_s;           /* > 0 */
    bool udp_gso;                     /* use UDP GSO when the kernel has it */
    double frame_hold_s;              /* >= 0: how long fanout_flush holds a video frame whose
                                         last packet (RTP marker) has not arrived yet, so each
                                         viewer gets whole frames per write; 0 = write at every
                                         flush. RD_FANOUT_FRAME_HOLD_MS */
};

struct fanout_viewer_stats {
    uint64_t pkts_out;  /* RTP/RTCP packets handed to the kernel */
    uint64_t bytes_out; /* their bytes on the wire ('$' headers included for TCP) */
    uint64_t drops[FANOUT_DROP_N];
    uint64_t resyncs;    /* a track restarted at a key frame after drops */
    uint32_t queue_pkts; /* current depth, entries (control and join included) */
    size_t queue_bytes;  /* current depth, packet bytes */
    bool behind;         /* queue drops in the last stall_s / 2 */
};

struct fanout_stats {
    uint32_t viewers;
    uint64_t pkts_out;
    uint64_t bytes_out;
    uint64_t drops[FANOUT_DROP_N];
    uint64_t dead[FANOUT_DEAD_N];
    uint64_t queue_pkts; /* current depth over all viewers */
    uint64_t queue_bytes;
    uint64_t tcp_writes;    /* sendmsg calls to TCP viewers */
    uint64_t udp_syscalls;  /* sendmmsg calls */
    uint64_t gso_trains;    /* UDP messages carrying more than one datagram */
    uint64_t gso_fallbacks; /* GSO refused by the kernel: resent plain, GSO turned off */
};

/* ---- The fan-out context ---------------------------------------------------------------- */

/* Fills *cfg with the rd_limits.h values and GSO on. */
void fanout_cfg_default(struct fanout_cfg *cfg);

/* A fan-out context on loop, taking control-byte buffers from pool (both borrowed, they
 * must outlive it). cfg NULL means the defaults; it is copied. Returns RD_OK and *out (owned:
 * fanout_free), RD_EPROTO for a bad cfg, RD_ENOMEM. */
int fanout_new(struct ev_loop *loop, struct pktpool *pool, const struct fanout_cfg *cfg,
               struct fanout **out);

/* Frees the context and any viewer still open (without callbacks; their fds are not
 * closed). Subs of those viewers are unlinked from their streams. NULL is a no-op. */
void fanout_free(struct fanout *fo);

/* Writes what the read bursts since the last write delivered: every TCP viewer that is not
 * waiting for EV_WRITE gets one writev per FANOUT_TCP_BATCH entries, every UDP viewer's
 * packets go into sendmmsg batches; then reports dead viewers. When nothing delivered since
 * the last write ended a frame (an RTP marker bit on a video track, an RTCP packet, any
 * packet of an ungated track), the write waits for the packet that does, at most
 * cfg.frame_hold_s (then the fanout's timer writes what is there). Call it from the loop thread
 * after each burst of stream_on_rtp/stream_on_rtcp calls (not from a dead callback). */
void fanout_flush(struct fanout *fo);

/* Whether UDP GSO is in use (configured, supported by the kernel and not turned off after a
 * refusal). */
bool fanout_udp_gso(const struct fanout *fo);

/* Totals over live and freed viewers. */
void fanout_stats(const struct fanout *fo, struct fanout_stats *out);

/* Name of a drop reason / dead reason for metrics labels ("high_water", "stalled"...). */
const char *fanout_drop_name(enum fanout_drop d);
const char *fanout_dead_name(enum fanout_dead d);

/* ---- Viewers (RTSP server side) -------------------------------------------------------- */

/* A TCP-interleaved viewer on the connected, non-blocking socket fd (borrowed: the caller
 * keeps owning and closing it, after fanout_viewer_free). The caller should have set
 * TCP_NODELAY and SO_SNDBUF (256-512 KiB, SECURITY.md §2.2) and ignored SIGPIPE (sends use
 * MSG_NOSIGNAL anyway). From now until fanout_viewer_free the caller writes nothing to fd
 * itself: RTSP responses go through fanout_viewer_send_control, so they never land inside
 * an interleaved frame. It may keep its own EV_READ watcher on fd; the fanout adds an
 * EV_WRITE watcher of its own. dead/arg: see the module comment (dead must not be NULL).
 * Returns the viewer (owned by the caller) or NULL when out of memory. */
struct fanout_viewer *fanout_viewer_new_tcp(struct fanout *fo, int fd, fanout_dead_fn *dead,
                                            void *arg);

/* A UDP viewer whose media goes only to peer's IP address (copied; IPv4 or IPv6; the port is
 * ignored) at each sub's ports. UDP viewers are never reported stalled: the RTSP session
 * timeout ends them (SECURITY.md §3.2 rule 5). Returns the viewer or NULL (out of memory, or
 * peer is not AF_INET/AF_INET6). */
struct fanout_viewer *fanout_viewer_new_udp(struct fanout *fo, const struct sockaddr *peer,
                                            socklen_t peer_len, fanout_dead_fn *dead, void *arg);

/* Unsubscribes every sub of v, drops its queue (counted as purged) and frees it. The caller
 * closes the fd afterwards. Allowed inside v's dead callback. NULL is a no-op. */
void fanout_viewer_free(struct fanout_viewer *v);

/* Queues RTSP bytes (a response, a REDIRECT request) on a TCP viewer behind the media already
 * queued, copied into pool buffers; they are never dropped and are written by the fanout's
 * write watcher. Returns RD_OK, RD_EPROTO for a UDP or dead viewer, RD_ENOMEM when the pool
 * or the ring is exhausted (then nothing was queued). */
int fanout_viewer_send_control(struct fanout_viewer *v, const void *data, size_t len);

/* Control bytes still queued on v: the RTSP server stops reading requests while this is
 * above RD_RTSP_MAX_QUEUED_OUTPUT (SECURITY.md §2.2 backpressure). */
size_t fanout_viewer_control_pending(const struct fanout_viewer *v);

/* Current counters of v. */
void fanout_viewer_stats(const struct fanout_viewer *v, struct fanout_viewer_stats *out);

/* Whether v has been reported dead (it then receives nothing). */
bool fanout_viewer_dead(const struct fanout_viewer *v);

/* ---- Subscriptions: one track of one session ------------------------------------------- */

/* A track on TCP viewer v sent on interleaved channels rtp_ch (RTP) and rtcp_ch (RTCP).
 * Channel validity and uniqueness on the connection are the RTSP server's checks (the
 * Transport parser). Returns RD_OK and *out (owned by v), RD_EPROTO for a UDP viewer,
 * RD_ELIMIT when v has FANOUT_MAX_SUBS subs. */
int fanout_sub_new_tcp(struct fanout_viewer *v, uint8_t rtp_ch, uint8_t rtcp_ch,
                       struct fanout_sub **out);

/* A track on UDP viewer v: RTP sent from rtp_fd to the peer's rtp_port, RTCP from rtcp_fd to
 * rtcp_port (the server_port pair sockets and the client_port pair; fds borrowed, they must
 * outlive the sub; the same fds may serve many viewers, which lets one sendmmsg reach them
 * all). Ports are validated by the Transport parser (1024-65535). Returns RD_OK and *out,
 * RD_EPROTO for a TCP viewer or a port 0, RD_ELIMIT when v is full. */
int fanout_sub_new_udp(struct fanout_viewer *v, int rtp_fd, uint16_t rtp_port, int rtcp_fd,
                       uint16_t rtcp_port, struct fanout_sub **out);

/* Unsubscribes sub, purges its queued packets (a frame already partly written is finished)
 * and frees its slot. NULL is a no-op. */
void fanout_sub_free(struct fanout_sub *sub);

/* The viewer a sub belongs to, and whether it is subscribed to a stream track. */
struct fanout_viewer *fanout_sub_viewer(const struct fanout_sub *sub);
bool fanout_sub_attached(const struct fanout_sub *sub);
enum fanout_gate fanout_sub_gate(const struct fanout_sub *sub);

/* ---- Stream side (stream.c) ------------------------------------------------------------ */

/* An empty subscriber list. */
void fanout_list_init(struct fanout_sub_list *l);

/* Offers p (borrowed; queues take their own references) to every subscriber of l, applying
 * each sub's key-frame gate and its viewer's queue policy:
 *   - RTCP (PKT_RTCP) bypasses the gate and the high-water mark;
 *   - a WAITING sub starts at PKT_KEY_START/PKT_KEY_FORCED (OPEN, or TENTATIVE for a
 *     parameter-set-only start), else skips (counted WAIT_KEY or RESYNC);
 *   - a TENTATIVE sub closes again (skipping) at a slice packet that is not IDR/IRAP;
 *   - above the high-water mark, PKT_GATED packets that are not part of a key frame
 *     (KEY_START, IRAP, PARAM_SETS) are dropped; at a cap everything is dropped; either drop
 *     closes the sub's gate (resync at the next key frame; other tracks reopen at their next
 *     packet) and marks the viewer behind;
 *   - one viewer's state never affects another's.
 * Writes nothing: fanout_flush() does. */
void fanout_deliver(struct fanout_sub_list *l, struct pkt *p);

/* Links sub into l with the given gate (stream_subscribe), first unlinking it from any other
 * list, and schedules a write on the next loop iteration. */
void fanout_sub_attach(struct fanout_sub *sub, struct fanout_sub_list *l, enum fanout_gate gate);

/* Queues p (a reference is taken) on an attached sub as instant-start data: outside the
 * live caps, never dropped by the policy, paced on UDP. When the viewer's ring is at its
 * size limit the join is cut short: the sub's gate closes (resync at the next key frame).
 * Returns RD_OK or RD_ELIMIT/RD_ENOMEM (then later join packets are refused too). */
int fanout_sub_join_pkt(struct fanout_sub *sub, struct pkt *p);

/* Unlinks sub from its list (stream_unsubscribe); queued packets stay queued. No-op when not
 * attached. */
void fanout_sub_detach(struct fanout_sub *sub);

/* Unlinks every sub of l (a stream going away); their gates close. */
void fanout_list_detach_all(struct fanout_sub_list *l);

#endif
