/* SPDX-License-Identifier: MIT */
/* The viewer-facing RTSP server of the relay (issue #4 item 1): listener, connections with
 * fixed buffers and deadlines, token check, DESCRIBE from the camera table, SETUP (UDP
 * unicast and TCP interleaved), PLAY with RTP-Info, PAUSE, TEARDOWN, keepalives, sessions
 * bound to their connection or peer IP, and the hand-over of media output to the fanout. */
#ifndef RD_RELAY_VSERVER_H
#define RD_RELAY_VSERVER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "cameras.h"
#include "conf.h"
#include "errbuf.h"
#include "fanout.h"
#include "udp_ports.h"
#include "url_token.h"

/* Ownership and threading:
 * - struct vserver is owned by the relay context (vserver_free). Loop thread only. It owns
 *   its listening socket, its connections and sessions and their sockets, and the UDP
 *   server-port pairs it takes from env->ports. Everything in env is borrowed and must
 *   outlive it; *env->keys may be changed by the owner between callbacks (key reload). */

struct vserver;

struct vserver_env {
    struct ev_loop *loop;
    struct cameras *cameras;
    struct fanout *fanout;
    struct udp_ports *ports;
    const struct url_token_keyring *keys; /* the relay's live keys (token verification) */
    const char *relay_id;                 /* MAC input of every token */
    double session_timeout_s;             /* RD_RTSP_SESSION_TIMEOUT_S; tests use less */
    uint32_t max_conns;                   /* hard cap of viewer connections */
    /* Added by the viewer server's author; 0 means the rd_limits.h value (tests use less). */
    uint32_t max_conns_per_ip; /* RD_RELAY_MAX_CONNS_PER_IP */
    double first_byte_s;       /* RD_DEADLINE_FIRST_BYTE_S: accept -> first byte, else close */
    double header_s;           /* RD_DEADLINE_HEADER_S: first byte -> header block, else 408 */
    double idle_s;             /* RD_IDLE_RELAY_S: a connection without a session, else close */
    double write_s;            /* RD_DEADLINE_WRITE_S: queued responses written, else close */
    double setup_play_s;       /* RD_VSERVER_SETUP_PLAY_S: SETUP never followed by PLAY: end */
};

struct vserver_stats {
    uint32_t conns;             /* open viewer connections */
    uint32_t sessions;          /* RTSP sessions (set up) */
    uint32_t playing_tcp;       /* sessions playing over TCP interleaved */
    uint32_t playing_udp;       /* sessions playing over UDP */
    uint64_t accepted;          /* connections accepted */
    uint64_t refused;           /* connections refused at a cap */
    uint64_t requests;          /* requests handled */
    uint64_t token_rejects;     /* 403 for a token (any verdict) */
    uint64_t token_verdicts[8]; /* by url_token verdict (index = verdict value) */
    uint64_t dest_refused;      /* SETUP with a third-party destination */
    uint64_t session_timeouts;
    uint64_t parse_errors; /* 400 and other malformed input */
    /* Added by the viewer server's author. */
    uint64_t deadlines;      /* connections closed at a deadline (first byte, header, idle...) */
    uint64_t frames_in;      /* interleaved frames from viewers (RTCP over TCP) */
    uint64_t frames_dropped; /* of which not RTCP of a session of that connection, or over rate */
    uint64_t udp_in;         /* datagrams from viewers on server ports (RTCP, NAT keepalives) */
    uint64_t udp_unknown;    /* of which from no session's client address: dropped */
};

/* A server using env (copied). Returns RD_OK and *out, RD_ENOMEM. */
int vserver_new(const struct vserver_env *env, struct vserver **out);

/* Starts listening on l. Returns RD_OK or RD_EIO (err says why). */
int vserver_listen(struct vserver *s, const struct conf_listen *l, struct rd_errbuf *err);

/* The port actually bound (for listen port 0 in tests). */
uint16_t vserver_port(const struct vserver *s);

/* SIGTERM, first step: closes the listening socket; open connections continue. */
void vserver_stop_accepting(struct vserver *s);

/* SIGTERM, second step: ends every session and closes every connection once the bytes
 * already queued for it are written or after RD_SHUTDOWN_GRACE_S. Returns the number of
 * connections still open; the owner runs the loop until vserver_conns() reaches 0. */
uint32_t vserver_close_all(struct vserver *s);
uint32_t vserver_conns(const struct vserver *s);

/* Closes everything at once and frees s. NULL is a no-op. */
void vserver_free(struct vserver *s);

void vserver_stats(const struct vserver *s, struct vserver_stats *out);

#endif
