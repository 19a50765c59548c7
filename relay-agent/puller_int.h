/* SPDX-License-Identifier: MIT */
/* Private to the camera puller: the struct shared by puller.c (attempt state machine, RTSP
 * dialogue, authentication, backoff) and puller_conn.c (sockets: the RTSP connection, the
 * interleaved demultiplexer, UDP media sockets, receiver reports). Not for other modules. */
#ifndef RD_RELAY_PULLER_INT_H
#define RD_RELAY_PULLER_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "camera_source.h"
#include "digest.h"
#include "log.h"
#include "net.h"
#include "puller.h"
#include "rd_limits.h"
#include "rtp.h"
#include "rtsp_msg.h"
#include "sdp.h"

/* Output buffer of the RTSP connection: one request at a time (its Authorization is at most
 * DIGEST_AUTHORIZATION_MAX, its URI RD_RTSP_MAX_URI) plus a keepalive, receiver reports and
 * a TEARDOWN. A message that does not fit fails the attempt ("limit"); an RR is skipped. */
#define PULL_OUT_CAP (2 * DIGEST_AUTHORIZATION_MAX + 4 * RD_RTSP_MAX_URI + 4096)
/* Receiver report with one block and the CNAME item. */
#define PULL_RR_MAX 128

/* Where the RTSP dialogue of the current attempt is. */
enum pull_phase {
    PULL_IDLE,       /* no connection (backoff, pause, or before the first attempt) */
    PULL_CONNECTING, /* TCP connect in progress */
    PULL_OPTIONS,
    PULL_DESCRIBE,
    PULL_SETUP, /* SETUP of tracks[setup_idx] */
    PULL_PLAY,
    PULL_PLAYING, /* PLAY answered 2xx: only keepalives from now on */
};

struct puller;
struct pull_track;

/* One UDP media socket (RTP or RTCP of one track). */
struct pull_udp {
    ev_io io;
    struct pull_track *t;
    bool rtcp;
};

/* One media section of the camera's SDP. */
struct pull_track {
    struct puller *p;
    unsigned idx;
    uint32_t clock_rate; /* from the SDP; 0 = unknown: no jitter computed */
    /* TCP interleaved channels (as answered by the camera) */
    uint8_t ch_rtp, ch_rtcp;
    /* UDP: our client_port pair and the camera's RTCP address for receiver reports */
    bool udp_open;
    int fds[2];
    uint16_t udp_port;
    struct pull_udp udp[2];
    bool has_rtcp_dest;
    struct sockaddr_storage rtcp_dest;
    socklen_t rtcp_dest_len;
    /* receiver-report state for the camera's current source (RFC 3550 A.1, A.8) */
    bool have_src;
    uint32_t src_ssrc;
    struct rtp_seq seq;
    struct rtp_jitter jit;
    uint32_t lsr;  /* middle 32 bits of the camera's last SR NTP time, 0 for none */
    double lsr_at; /* ev_now() when that SR arrived */
};

struct puller {
    struct puller_env env;
    struct puller_timings tm;
    struct camera_source src;
    const struct puller_cb *cb;
    void *arg;
    struct log_ctx log;
    enum puller_state state;
    enum pull_phase phase;
    bool force_tcp;              /* UDP failed for this source: TCP until the source changes */
    enum camera_transport trans; /* of the current attempt */
    bool src_usable;             /* src.url passed url checks (numeric host, rtsp://) */
    /* the URL the current connection talks to: the source or a redirect target */
    char url[RD_RTSP_MAX_URI + 1];
    char host[NET_IP_STRLEN]; /* numeric, from url */
    uint16_t port;
    unsigned redirects;
    /* the RTSP connection */
    int fd;
    ev_io io;
    uint64_t gen; /* bumped by every close: code after a callback checks it */
    struct rd_buf in;
    char *out; /* PULL_OUT_CAP bytes, for the puller's lifetime */
    size_t out_len, out_sent;
    size_t stray_bytes;
    struct sockaddr_storage peer; /* the camera's address: UDP media accepted only from it */
    socklen_t peer_len;
    /* the request in flight */
    uint32_t cseq;
    enum rtsp_method pending; /* RTSP_METHOD_UNKNOWN: none */
    uint32_t pending_cseq;
    bool pending_authed;
    bool pending_stale_retried;
    bool pending_keepalive;
    char req_uri[RD_RTSP_MAX_URI + 1];
    char transport_req[128]; /* Transport of the SETUP in flight */
    /* authentication: a challenge once the camera sent a 401 on this connection */
    bool have_challenge;
    struct digest_challenge ch;
    /* the session */
    char *sdp_raw; /* RD_SDP_MAX_BYTES, allocated with the puller */
    size_t sdp_len;
    struct sdp *sdp;
    char base[RD_RTSP_MAX_URI + 1];     /* control base: Content-Base, Content-Location, URL */
    char play_uri[RD_RTSP_MAX_URI + 1]; /* aggregate control */
    struct stream *stream;              /* borrowed from on_sdp */
    unsigned n_tracks, setup_idx;
    struct pull_track tracks[RD_SDP_MAX_MEDIA];
    uint8_t chan_map[256]; /* interleaved channel -> track + 1, | 0x80 for RTCP; 0 unknown */
    char session[RD_RTSP_MAX_SESSION_HEADER + 1];
    double session_timeout_s;
    bool public_get_parameter;
    bool udp_got; /* a UDP packet arrived since PLAY */
    double play_at;
    /* timers */
    ev_timer step_timer;      /* connect or response deadline */
    ev_timer retry_timer;     /* next attempt */
    ev_timer keepalive_timer; /* half the session timeout */
    ev_timer media_timer;     /* no-media watchdog */
    ev_timer udp_timer;       /* UDP fallback */
    ev_timer rr_timer;        /* receiver reports */
    double backoff_s;         /* next backoff before jitter */
    double retry_at;          /* ev_now() when retry_timer fires */
    unsigned auth_fails;      /* consecutive attempts with refused credentials */
    bool auth_paused;         /* the current pause protects the camera account */
    uint32_t rr_ssrc;         /* our SSRC in receiver reports */
    bool delivered;           /* media handed to the stream since the last fanout_flush */
    struct puller_stats st;
};

/* ---- puller_conn.c ----------------------------------------------------------------------- */

/* Starts a non-blocking connect to p->host:p->port (phase CONNECTING, connect deadline).
 * Returns RD_OK or RD_EIO/RD_ENOMEM (nothing left open). */
int pull_conn_open(struct puller *p);

/* Closes the RTSP connection and every UDP socket, stops the connection's watchers and
 * timers (not retry_timer), bumps p->gen. With teardown and an open session, a TEARDOWN is
 * queued and one non-blocking send is tried first. Phase becomes PULL_IDLE. */
void pull_conn_close(struct puller *p, bool teardown);

/* Tries to write the queued output; arms EV_WRITE for the rest. Returns RD_OK, or RD_EIO
 * after failing the attempt ("closed"): p->gen changed then. */
int pull_conn_flush(struct puller *p);

/* Opens t's UDP pair from env->ports. Returns RD_OK, RD_ELIMIT (no pair) or RD_EIO. */
int pull_udp_open(struct puller *p, struct pull_track *t);

/* Starts the UDP read watchers of every open track (after SETUP). */
void pull_udp_start(struct puller *p);

/* Receiver-report timer callback body: one RR per track that has a source. */
void pull_rr_send(struct puller *p);

/* ---- puller.c (called by puller_conn.c) -------------------------------------------------- */

/* The TCP connect finished. */
void pull_on_connected(struct puller *p);

/* One complete response (views into the input buffer, valid during the call). */
void pull_on_response(struct puller *p, const struct rtsp_msg *msg);

/* Fails the current attempt: logs why once at level, closes the connection, and schedules
 * the next attempt (backoff, or a pause in state FAILED). why is a static string. */
void pull_fail(struct puller *p, const char *why, enum log_level level);

#endif
