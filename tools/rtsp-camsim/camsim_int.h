/* SPDX-License-Identifier: MIT */
/* Structures shared by camsim.c (process, connections, media clock, stats, faults) and
 * creq.c (RTSP requests). Not for other modules. */
#ifndef RD_CAMSIM_CAMSIM_INT_H
#define RD_CAMSIM_CAMSIM_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "camsim.h"
#include "crypto.h"
#include "digest.h"
#include "h264pack.h"
#include "media.h"
#include "net.h"
#include "rd_limits.h"
#include "rtsp_build.h"
#include "rtsp_msg.h"

#define CAMSIM_PT       96
#define CAMSIM_REALM    "rtsp-camsim"
#define CAMSIM_SID_HEX  (2 * RD_RTSP_SESSION_ID_BYTES)
#define CAMSIM_IN_BYTES RTSP_MSG_MAX_REQUEST_BYTES

/* Counters of one camera path (also summed over all paths). */
/* Counters per path: field, its name in the stats file, meaning. */
#define CSTATS_FIELDS(X)                                                                           \
    X(connections, "connections") /* RTSP connections that named this path first */                \
    X(open, "open")               /* of those, still open */                                       \
    X(sessions, "sessions")       /* sessions created (SETUP) */                                   \
    X(active, "active")           /* sessions existing now */                                      \
    X(playing, "playing")         /* sessions playing now */                                       \
    X(plays, "plays")             /* PLAY requests answered 200 */                                 \
    X(teardowns, "teardowns")     /* TEARDOWN requests answered 200 */                             \
    X(timeouts, "timeouts")       /* sessions ended by the session timeout */                      \
    X(auth_fail, "auth_failures") /* 401 answers */                                                \
    X(refused, "refused")         /* 503 answers (fault switch) */                                 \
    X(packets, "packets")         /* RTP packets sent */                                           \
    X(bytes, "bytes")             /* RTP bytes sent (headers included, '$' framing excluded) */    \
    X(dropped, "dropped")         /* RTP packets not sent: TCP queue full, UDP send failure */

struct cstats {
#define CSTATS_DECLARE(field, name) uint64_t field;
    CSTATS_FIELDS(CSTATS_DECLARE)
#undef CSTATS_DECLARE
};

struct cpath {
    char name[RD_CAMSIM_PATH_MAX + 1];
    size_t name_len;
    bool media_stopped; /* fault: sessions of this path send nothing */
    struct cstats st;
};

struct cconn;

/* One RTSP session: one H.264 track, its RTP state and its cursor in the shared media. */
struct csession {
    char id[CAMSIM_SID_HEX + 1];
    struct cconn *c;
    struct cpath *path;
    bool tcp;
    uint8_t ch_rtp, ch_rtcp;         /* TCP interleaved channels */
    struct sockaddr_storage udp_dst; /* UDP: client RTP port at the peer's address */
    socklen_t udp_dst_len;
    uint16_t client_rtp, client_rtcp;
    bool playing;
    ev_tstamp last_req_at; /* the last request naming this session (keepalive) */
    /* RTP and media clock */
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts_base;
    struct media_cursor cur;      /* next packet; cur.frame: timestamps ts_base + frame*90000/fps */
    ev_tstamp t0;                 /* when frame 0 was due */
    bool wait_idr;                /* skip access units until the next IDR picture */
    struct csession *prev, *next; /* the playing list */
};

struct cconn {
    ev_io io;
    int fd;
    struct camsim *s;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    char peer_ip[NET_IP_STRLEN];
    struct cpath *path; /* the first path it named (stats), NULL before */
    ev_tstamp last_req_at;
    bool closing; /* closed at the end of the current callback */
    bool close_after_flush;
    bool dirty; /* on the tick's dirty list */
    struct cconn *dirty_next;
    size_t in_len;
    char *in; /* CAMSIM_IN_BYTES */
    struct rd_buf out;
    struct csession *sess[RD_MAX_SESSIONS_PER_CONN];
    struct cconn *prev, *next; /* all connections, or the closing list */
};

/* One datagram of the tick's UDP batch: self-contained (a session may end before the batch
 * is sent), the payload a view into the media. */
struct udp_slot {
    uint8_t hdr[H264PACK_MAX_HEADER];
    struct iovec iov[2];
    struct sockaddr_storage dst;
    struct cpath *path; /* for the counters */
};

struct camsim {
    struct camsim_conf conf;
    struct ev_loop *loop;
    struct media media;
    struct cpath *paths;
    size_t n_paths;
    uint32_t *path_hash; /* open addressing: index + 1, 0 = empty */
    size_t hash_mask;
    int lfd;
    uint16_t port;
    int udp_fd[2]; /* shared server RTP/RTCP pair */
    uint16_t udp_port;
    ev_io accept_io, rtcp_io, control_io;
    ev_timer tick, housekeeping;
    ev_signal sigterm, sigint, sigusr1, sigusr2;
    int control_fd;
    char control_line[RD_CAMSIM_CONTROL_LINE];
    size_t control_len;
    bool control_overflow;
    struct cconn *conns, *closing;
    size_t n_conns;
    uint64_t conns_refused; /* over RD_CAMSIM_MAX_CONNS */
    struct csession *playing;
    bool refuse;        /* fault: 503 to new requests */
    bool media_stopped; /* fault: no media on any path */
    ev_tstamp started_at, stats_written_at;
    double pace_s; /* a frame's packets spread over this many seconds (0: burst) */
    struct rd_rand_pool rand;
    /* Digest */
    bool auth;
    struct digest_server dsrv;
    uint8_t nonce_key[32];
    char ha1[2 * RD_HASH_MAX + 1];
    /* UDP batch of the current tick */
    struct net_dgram batch[RD_CAMSIM_UDP_BATCH];
    struct udp_slot slots[RD_CAMSIM_UDP_BATCH];
    unsigned n_batch;
    struct cconn *dirty; /* connections with media queued in this tick */
};

/* Starts an RTSP message appended to c's output (rtsp_build on the free tail of c->out). */
static inline void
cconn_out_begin(struct cconn *c, struct rtsp_out *o)
{
    size_t avail;
    (void)rd_buf_tail(&c->out, &avail);
    rtsp_out_init(o, rd_buf_head(&c->out), c->out.cap - c->out.start, rd_buf_len(&c->out));
}

/* Adds what o built (complete messages) to c's output. */
static inline void
cconn_out_commit(struct cconn *c, const struct rtsp_out *o)
{
    rd_buf_commit(&c->out, o->len - rd_buf_len(&c->out));
}

/* creq.c: answers one parsed request on c (appends to c->out; may set c->close_after_flush). */
void creq_handle(struct cconn *c, const struct rtsp_msg *m);

/* camsim.c, for creq.c */
struct cpath *camsim_path_find(struct camsim *s, const char *name, size_t len);
struct csession *camsim_session_new(struct cconn *c, struct cpath *p);
void camsim_session_free(struct csession *x);
void camsim_session_play(struct csession *x);
void camsim_session_pause(struct csession *x);
uint32_t camsim_random32(struct camsim *s);

#endif
