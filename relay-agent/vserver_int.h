/* SPDX-License-Identifier: MIT */
/* Internals of the viewer RTSP server shared by its three files: vserver.c (listener and
 * connections), vrequest.c (one request -> one response) and vsession.c (sessions, the
 * session table, UDP server-port pairs). Not for other modules. */
#ifndef RD_RELAY_VSERVER_INT_H
#define RD_RELAY_VSERVER_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "log.h"
#include "net.h"
#include "rd_limits.h"
#include "rtsp_build.h"
#include "rtsp_frame.h"
#include "rtsp_msg.h"
#include "vserver.h"

/* Input buffer of a connection: the largest request the parser accepts. Larger '$' frames
 * are skipped without being buffered (viewers only send small RTCP). */
#define VCONN_IN_BYTES RTSP_MSG_MAX_REQUEST_BYTES
/* Largest response: an SDP of RD_SDP_MAX_BYTES plus headers (Content-Base, or an RTP-Info
 * with one URL per track). */
#define VSERVER_HDR_BYTES  ((RD_RTSP_MAX_URI + 64) * RD_MAX_TRACKS_PER_SESSION + 1)
#define VSERVER_RESP_BYTES (RD_SDP_MAX_BYTES + VSERVER_HDR_BYTES + 4096)
/* A session id: RD_RTSP_SESSION_ID_BYTES random bytes as lower-case hex. */
#define VSESSION_ID_LEN (2 * RD_RTSP_SESSION_ID_BYTES)

struct vsession;
struct vconn;

/* One server_port pair, shared by every UDP viewer of one track of one camera (so the
 * fanout reaches them all from the same socket with one sendmmsg). It reads what viewers
 * send to it (RTCP receiver reports, NAT keepalives) and maps it to sessions by address. */
struct vpair {
    struct vserver *s;
    struct vpair *next; /* s->pairs */
    char camera[RD_CAMERA_ID_MAX + 1];
    unsigned track;
    int fds[2]; /* RTP, RTCP */
    uint16_t rtp_port;
    int family; /* of the bound sockets: viewers of another family cannot use UDP */
    uint32_t refs;
    ev_io rtp_io, rtcp_io;
    struct vtrack *users; /* UDP tracks sending from this pair */
};

/* One track of a session. */
struct vtrack {
    struct vsession *sess;
    unsigned index; /* media index in the camera's SDP (trackID=<index>) */
    struct fanout_sub *sub;
    /* UDP */
    struct vpair *pair;
    struct vtrack *pair_prev, *pair_next;
    uint16_t client_rtp, client_rtcp;
    /* TCP */
    uint8_t ch_rtp, ch_rtcp;
};

enum vsession_state {
    VSESSION_READY,   /* set up (RFC 2326 Appendix A "Ready"): not subscribed */
    VSESSION_PLAYING, /* subscribed to the stream */
};

/* One RTSP session: one camera, one lower transport (all tracks TCP or all UDP). */
struct vsession {
    struct vserver *s;
    uint8_t id_bin[RD_RTSP_SESSION_ID_BYTES];
    char id[VSESSION_ID_LEN + 1];
    struct vsession *hnext;               /* hash chain */
    struct vsession *all_prev, *all_next; /* s->sessions */
    struct vsession *close_next;          /* s->closing (deferred close) */
    bool closing;
    struct vconn *conn; /* creating connection; NULL once it closed (UDP sessions only) */
    struct vsession *cprev, *cnext; /* conn->sessions */
    bool tcp;
    bool played; /* PLAY was answered at least once */
    enum vsession_state state;
    struct camera_user user; /* this session's hold on its camera */
    char camera[RD_CAMERA_ID_MAX + 1];
    struct fanout_viewer *udp_viewer; /* UDP: the session's own output path */
    struct sockaddr_storage peer;     /* UDP: media goes to this IP only */
    socklen_t peer_len;
    char ip[NET_IP_STRLEN]; /* the peer IP text (IPv4-mapped unmapped) */
    struct vtrack tracks[RD_MAX_TRACKS_PER_SESSION];
    unsigned n_tracks;
    double created_at, active_at; /* ev_now() */
    ev_timer timer;               /* session timeout and the SETUP -> PLAY window */
};

enum vconn_phase {
    VCONN_OPEN,    /* reading requests, answering them in order */
    VCONN_CLOSING, /* a final response is queued: write it, read nothing more */
    VCONN_LINGER,  /* output written and our side shut: drop input until the peer's FIN */
    VCONN_DEAD,    /* closed; on the reap list until the next loop iteration */
};

enum vconn_deadline {
    VDL_NONE,
    VDL_FIRST_BYTE, /* close */
    VDL_HEADER,     /* 408, close */
    VDL_BODY,       /* 408, close */
    VDL_IDLE,       /* close (no session) */
    VDL_WRITE,      /* close */
    VDL_LINGER,     /* close */
    VDL_PARKED,     /* close (the camera table never answered: a bug guard) */
    VDL_POLL,       /* re-check the fanout's control queue (backpressure, closing) */
};

struct vconn {
    struct vserver *s;
    struct vconn *prev, *next; /* s->live, or s->dead once closed */
    struct vconn *kick_next;   /* s->kicked */
    bool kicked;
    const char *kill_why; /* deferred close requested from a callback */
    ev_io io;
    ev_timer timer;
    int fd;
    uint64_t id;
    enum vconn_phase phase;
    enum vconn_deadline dl;
    bool req_bytes;    /* bytes of the next request have arrived */
    bool body_wait;    /* its header block is complete, the body is not */
    bool answered;     /* at least one response was queued */
    bool peer_eof;     /* the peer shut its side */
    bool more_pending; /* stopped at RD_RTSP_MAX_PIPELINED with requests left */
    bool linger;       /* after the final response, wait for the peer's FIN */
    bool parked;       /* the head request waits for the camera (ready callback) */
    double accepted_at, req_at, body_at, out_at, idle_at, park_at, linger_at;
    size_t lingered;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    char addr[NET_ADDR_STRLEN];
    char ip[NET_IP_STRLEN];    /* peer IP text, IPv4-mapped unmapped (url_token.h form) */
    char local[NET_IP_STRLEN]; /* our address on this connection (SDP o=) */
    int local_family;
    struct log_ctx log;
    /* Output before the fanout owns the socket: out[out_sent .. out_len), grown on demand. */
    char *out;
    size_t out_len, out_sent, out_cap;
    struct fanout_viewer *fv; /* from the first TCP SETUP on: all output goes through it */
    /* The connection's own hold on a camera, from DESCRIBE (or a SETUP that had to wait) until
     * a session of that camera holds it, another camera is described, or close. */
    struct camera_user user;
    char user_camera[RD_CAMERA_ID_MAX + 1];
    bool user_ready; /* attached and the camera's stream is ready */
    int park_status; /* ready(error) delivered for user_camera (0: none) */
    struct vsession *sessions;
    unsigned n_sessions;
    uint8_t channels[256 / 8]; /* interleaved channels in use on this connection */
    /* Interleaved input. */
    size_t skip; /* bytes of an oversized '$' frame still to drop */
    double frames_window_at;
    uint32_t frames_in_window;
    struct rd_buf in;
    char inmem[VCONN_IN_BYTES];
};

struct vserver {
    struct vserver_env env;
    int fd;
    uint16_t port;
    bool accepting;
    ev_io accept_io;
    ev_timer accept_pause;
    ev_prepare prepare; /* deferred work: kicked connections, session closes, reaping */
    ev_timer grace;     /* vserver_close_all: RD_SHUTDOWN_GRACE_S */
    bool closing_all;
    struct vconn *live, *dead, *kicked;
    struct vsession *sessions, *closing;
    struct vsession *buckets[RD_VSERVER_SESSION_BUCKETS];
    struct vpair *pairs;
    uint64_t next_conn_id;
    uint64_t sdp_session_id; /* SDP o= session id: the server's start time */
    struct vserver_stats st;
    struct log_ctx log;
    struct rtsp_msg msg; /* parser scratch: one request is parsed at a time */
    char *resp;          /* VSERVER_RESP_BYTES: the response being built */
    char *body;          /* RD_SDP_MAX_BYTES + 1: an SDP being written */
    char *hdr;           /* VSERVER_HDR_BYTES: a long header value (RTP-Info) */
};

/* ---- vserver.c: connections ------------------------------------------------------------ */

/* Queues response bytes on c: on the fanout viewer once there is one, else on the
 * connection's own output. Returns true, or false when c had to be closed (out of memory). */
bool vconn_send(struct vconn *c, const void *data, size_t len);

/* Makes the fanout the owner of c's output (the first TCP SETUP): creates c->fv and moves
 * any unwritten response bytes into it. Returns RD_OK or RD_ENOMEM. */
int vconn_take_fanout(struct vconn *c);

/* Closes c at the next loop iteration (from callbacks of other modules). */
void vconn_close_later(struct vconn *c, const char *why);

/* Re-runs c's request processing at the next loop iteration (a parked request resumes). */
void vconn_kick(struct vconn *c);

/* The camera user callbacks of a connection (vrequest.c sets them, cameras.c calls them). */
void vconn_user_ready(struct camera_user *u, int status);
void vconn_user_gone(struct camera_user *u);

/* ---- vrequest.c: requests -------------------------------------------------------------- */

enum vreq_result {
    VREQ_DONE,   /* one response queued: consume the request */
    VREQ_CLOSE,  /* one final response queued: consume, then close once written */
    VREQ_PARKED, /* waiting for the camera: keep the request, process nothing after it */
    VREQ_DEAD,   /* the connection was closed */
};

/* Answers one parsed request of c (views in msg point into c's input buffer). */
enum vreq_result vreq_handle(struct vconn *c, const struct rtsp_msg *msg, double now);

/* Queues a bare response (framing errors, deadlines): status line, CSeq when known. */
bool vreq_bare(struct vconn *c, int status, int64_t cseq);

/* ---- vsession.c: sessions -------------------------------------------------------------- */

/* A new session of c for camera (its user is acquired here: RD_OK expected since c holds
 * the camera ready). Returns RD_OK and *out, RD_ELIMIT (no unique id: never in practice),
 * RD_EBUSY (the camera is not ready after all), RD_ENOMEM. */
int vsession_new(struct vconn *c, const char *camera, bool tcp, struct vsession **out);

/* The UDP output path of x (media only to its peer's IP), made at its first UDP track.
 * Returns RD_OK or RD_ENOMEM. */
int vsession_udp_viewer(struct vsession *x);

/* Ends a session now: unsubscribes and frees its subs and UDP viewer, releases its camera
 * and port pairs, removes it from every list and frees it. Not while a caller up the stack
 * still uses it. */
void vsession_free(struct vsession *x, const char *why);

/* Ends a session at the next loop iteration (from callbacks of other modules). */
void vsession_close_later(struct vsession *x);

/* Frees the sessions queued by vsession_close_later (from the prepare watcher). */
void vsession_reap(struct vserver *s);

/* The session named by a Session header value (";timeout=" etc. ignored) if c may control
 * it: TCP sessions from their own connection only, UDP sessions from the same peer IP.
 * NULL otherwise (answer 454: unknown and foreign look alike). */
struct vsession *vsession_lookup(struct vconn *c, struct rd_str header);

/* Marks activity (requests, RTCP): the session timeout restarts from now. */
void vsession_touch(struct vsession *x, double now);

/* The connection is closing: TCP sessions end, UDP sessions stay (bound to the peer IP)
 * until TEARDOWN, timeout or their camera goes. */
void vsession_conn_closed(struct vconn *c);

/* UDP server ports for track of camera: the shared pair, opened at its first user. Returns
 * RD_OK and *out with a reference taken, RD_ELIMIT (range exhausted), RD_ENOMEM, RD_EPROTO
 * (no port range configured). */
int vpair_get(struct vserver *s, const char *camera, unsigned track, struct vpair **out);
void vpair_put(struct vpair *p);

/* Closes every pair (vserver_free). */
void vpair_close_all(struct vserver *s);

#endif
