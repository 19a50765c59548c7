/* SPDX-License-Identifier: MIT */
/* One rtsp-bench viewer: an RTSP client session in the caller's libev loop. OPTIONS, DESCRIBE
 * (a 301/302 is followed to its absolute Location on a new connection, at most
 * RBENCH_MAX_REDIRECTS times, then OPTIONS + DESCRIBE again), SETUP of every track (TCP
 * interleaved or UDP client ports), PLAY, GET_PARAMETER keepalives at half the session
 * timeout, TEARDOWN when told to stop. Fixed buffers per session; UDP datagrams are read with
 * recvmmsg into the context's shared batch; no allocation per packet. */
#ifndef RD_TOOLS_RBENCH_SESSION_H
#define RD_TOOLS_RBENCH_SESSION_H

#include <ev.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rbench_acct.h"
#include "rbench_limits.h"
#include "rbench_opts.h"
#include "rbench_summary.h"
#include "rtsp_msg.h"
#include "sdp.h"

struct rbench_session;

/* Shared by every session of a run (one loop, one thread). */
struct rbench_ctx {
    struct ev_loop *loop;
    enum rbench_transport transport;
    double timeout_s;
    uint32_t src_base; /* host order; 0: let the kernel choose (UDP binds 127.0.0.1) */
    uint32_t n_src;
    uint16_t next_udp_port; /* next even port tried for a client pair */
    /* called once when a session is over (failed, torn down, or cut); may not free it */
    void (*on_done)(struct rbench_session *s, void *arg);
    void *arg;
    /* scratch space of the single thread */
    struct rtsp_msg msg;
    struct sdp sdp;
    /* the recvmmsg batch (RBENCH_UDP_BATCH datagrams) is static in rbench_session.c */
};

/* Prepares ctx (zeroed by the caller except the fields it sets: loop, transport, timeout_s,
 * src_base/n_src, on_done, arg). */
void rbench_ctx_init(struct rbench_ctx *ctx);

enum rbench_state {
    RBENCH_ST_IDLE = 0,
    RBENCH_ST_CONNECTING,
    RBENCH_ST_OPTIONS,
    RBENCH_ST_DESCRIBE,
    RBENCH_ST_SETUP,
    RBENCH_ST_PLAY,
    RBENCH_ST_PLAYING,
    RBENCH_ST_TEARDOWN,
    RBENCH_ST_DONE
};

struct rbench_track_io {
    char url[RBENCH_URL_MAX]; /* SETUP URL (resolved a=control) */
    int fd_rtp, fd_rtcp;      /* UDP: client sockets; -1 otherwise */
    uint16_t port;            /* UDP: client RTP port */
    uint8_t ch_rtp, ch_rtcp;  /* TCP: interleaved channels */
    ev_io io_rtp, io_rtcp;
    struct rbench_session *s;
    struct rbench_track acct;
};

struct rbench_session {
    struct rbench_ctx *ctx;
    uint32_t index;        /* 0-based viewer number */
    const char *start_url; /* borrowed, lives for the run */
    enum rbench_state st;
    int fd;
    ev_io io;
    ev_timer timer;            /* step deadline, keepalive, or teardown wait */
    char url[RBENCH_URL_MAX];  /* request URL (the start URL or a redirect's Location) */
    char base[RBENCH_URL_MAX]; /* aggregate control URL for PLAY / keepalive / TEARDOWN */
    char session_id[RBENCH_SESSION_ID_MAX + 1];
    struct sockaddr_in peer;
    uint32_t src_ip; /* host order; 0: any (UDP binds 127.0.0.1) */
    double keepalive_s;
    uint32_t cseq, cseq_wait;
    bool stop_requested;
    unsigned n_tracks, setup_idx;
    struct rbench_track_io tracks[RBENCH_MAX_TRACKS];
    uint64_t t_start_ns, t_play_ns, t_end_ns;
    uint64_t rx_ns; /* when the bytes being processed were read */
    struct rbench_result res;
    size_t out_len, out_off;
    size_t in_len;
    char out[RBENCH_OUT_BYTES];
    char in[RBENCH_TCP_IN_BYTES];
};

/* Prepares s (caller's storage, e.g. one array for the run) as viewer `index` of ctx for
 * url (borrowed); src_ip: source address in host order, 0 for any. */
void rbench_session_init(struct rbench_session *s, struct rbench_ctx *ctx, uint32_t index,
                         const char *url, uint32_t src_ip);

/* Starts the session: connects and sends OPTIONS. Failures end it through ctx->on_done. */
void rbench_session_start(struct rbench_session *s);

/* Ends the session: TEARDOWN when playing (closing after its answer or
 * RBENCH_TEARDOWN_WAIT_S), else closes at once, a session still setting up counting as
 * RBENCH_ERR_NOT_ESTABLISHED. No-op when already over. */
void rbench_session_stop(struct rbench_session *s);

/* Fills s->res's counters from the tracks (call once the session is over, or any time for a
 * snapshot). */
void rbench_session_collect(struct rbench_session *s);

/* Monotonic clock in ns. */
uint64_t rbench_now_ns(void);

#endif
