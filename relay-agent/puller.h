/* SPDX-License-Identifier: MIT */
/* The camera puller: one RTSP client per pulled camera (issue #4 item 2). It connects,
 * authenticates (Digest or Basic, never volunteering credentials before a 401), describes,
 * sets up every media section (TCP interleaved by default; UDP on request, falling back to
 * TCP when no UDP packet arrives), plays, keeps the camera session alive, watches for media,
 * and reconnects with backoff. RTP and RTCP go straight into the camera's stream
 * (stream_on_rtp / stream_on_rtcp), and fanout_flush() runs once per read burst. */
#ifndef RD_RELAY_PULLER_H
#define RD_RELAY_PULLER_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "camera_source.h"
#include "fanout.h"
#include "pktpool.h"
#include "sdp.h"
#include "stream.h"
#include "udp_ports.h"

/* Ownership and threading:
 * - struct puller is owned by its camera (cameras.c): puller_new / puller_free. Loop thread
 *   only. It owns its RTSP socket, its UDP sockets (taken from env->ports), its watchers and
 *   timers; it borrows everything in env, which must outlive it.
 * - The stream it feeds is borrowed from on_sdp's answer and used until the next on_sdp
 *   call or puller_free. The owner frees a stream only inside on_sdp (after answering a
 *   different one) or after puller_free.
 * - Callbacks run from the puller's watchers, never from puller_new or puller_free. They
 *   must not call puller_free on their own puller (defer with an ev_idle or timer). */

struct puller;

enum puller_state {
    PULLER_STARTING, /* connecting / OPTIONS / DESCRIBE / SETUP / PLAY of an attempt */
    PULLER_PLAYING,  /* PLAY answered 200 and media is arriving */
    PULLER_RETRYING, /* the last attempt failed; waiting for the backoff to expire */
    PULLER_FAILED,   /* repeated authentication failures or a permanent refusal (404, bad
                        URL, SDP we cannot serve): waiting the long pause before trying again */
};

/* Deadlines, pauses and intervals of a puller, in seconds. puller_timings_default() gives the
 * rd_limits.h values (RD_PULL_*); tests and configuration may shorten them. Every value must
 * be > 0 (jitter_pct 0..50, auth_fails_max >= 1); puller_new refuses others with RD_EPROTO. */
struct puller_timings {
    double connect_timeout_s; /* RD_PULL_CONNECT_TIMEOUT_S */
    double step_timeout_s;    /* RD_PULL_STEP_TIMEOUT_S: each request to its response */
    double no_media_s;        /* RD_PULL_NO_MEDIA_S */
    double udp_fallback_s;    /* RD_PULL_UDP_FALLBACK_S */
    double backoff_min_s;     /* RD_PULL_BACKOFF_MIN_S */
    double backoff_max_s;     /* RD_PULL_BACKOFF_MAX_S */
    unsigned jitter_pct;      /* RD_PULL_BACKOFF_JITTER_PCT */
    double backoff_reset_s;   /* RD_PULL_BACKOFF_RESET_S */
    unsigned auth_fails_max;  /* RD_PULL_AUTH_FAILS_MAX */
    double auth_pause_s;      /* RD_PULL_AUTH_PAUSE_S */
    double refused_pause_s;   /* RD_PULL_REFUSED_PAUSE_S */
    double rr_interval_s;     /* RD_PULL_RR_INTERVAL_S */
};

/* Fills *t with the rd_limits.h values. */
void puller_timings_default(struct puller_timings *t);

struct puller_env {
    struct ev_loop *loop;
    struct pktpool *pool;                 /* RTP/RTCP buffers */
    struct fanout *fanout;                /* fanout_flush() after each read burst */
    struct udp_ports *ports;              /* client port pairs for UDP pulls */
    const char *user_agent;               /* "rtsp-director-relay/<version>" */
    const struct puller_timings *timings; /* NULL: puller_timings_default(); copied by
                                             puller_new */
};

struct puller_cb {
    /* DESCRIBE answered with an SDP (raw[0..len) and its parse, both valid during the call
     * only) on every (re)connection. The owner answers the stream the puller must feed,
     * one track per media section in SDP order (stream_track_count == sdp->n_media), after
     * calling stream_upstream_restart() on it if it is the previous session's stream; NULL
     * refuses this SDP (the attempt fails as "sdp" and is retried with backoff). */
    struct stream *(*on_sdp)(void *arg, const char *raw, size_t len, const struct sdp *sdp);
    /* The state changed; why is a short static reason or NULL (PLAYING, and STARTING at the
     * start of an attempt). Reasons: "connect", "timeout" (a response deadline), "closed",
     * "auth" (credentials refused or missing), "auth_scheme" (no usable scheme offered),
     * "status_NNN" / "status_4xx" / "status_5xx" (403, 404 and 410 end in FAILED),
     * "redirect" (too many, or off the camera host), "sdp", "protocol", "limit",
     * "no_media", "session" (keepalive answered 454), "url" (unusable source, FAILED), and
     * for PLAYING -> STARTING over TCP: "no_udp", "udp_refused" (461), "udp_ports". */
    void (*on_state)(void *arg, enum puller_state st, const char *why);
};

struct puller_stats {
    enum puller_state state;
    uint64_t attempts;      /* connection attempts started */
    uint64_t reconnects;    /* attempts after the first */
    uint64_t auth_failures; /* 401 answered with credentials that were refused */
    uint64_t pkts_in;       /* RTP + RTCP packets received */
    uint64_t bytes_in;      /* their payload bytes (interleaved headers excluded) */
    uint64_t keepalives;    /* keepalive requests sent */
    double playing_since;   /* ev_now() of the last PLAY 200, 0 when not playing */
    double last_media_at;   /* ev_now() of the last RTP packet, 0 for none */
    const char *last_error; /* static reason of the last failure, NULL for none */
    int transport;          /* enum camera_transport in use for the current attempt */
    double retry_at;        /* ev_now() of the next attempt while RETRYING/FAILED, else 0 */
    bool auth_paused;       /* FAILED after repeated refused credentials: kicks are ignored */
};

/* A puller for src (copied; wiped on free) that starts its first attempt on the next loop
 * iteration, in state PULLER_STARTING (no on_state call for that initial state). cb/arg are
 * borrowed. Returns RD_OK and *out (owned by the caller), RD_EPROTO when src->url is not an
 * rtsp:// URL it can use (logged) or env->timings is invalid, RD_ENOMEM.
 * Usable URLs: rtsp:// (no rtsps: no TLS yet), no userinfo, and a NUMERIC host (IPv4 or a
 * bracketed IPv6 literal without zone). Host names are refused rather than resolved, because
 * getaddrinfo() would block the event loop (and every viewer with it) for as long as DNS
 * takes; register cameras by address. Redirects and control URLs must stay on that host. */
int puller_new(const struct puller_env *env, const struct camera_source *src,
               const struct puller_cb *cb, void *arg, struct puller **out);

/* Sends TEARDOWN if a session is open (best effort, not waited for), closes every socket,
 * stops every watcher and frees p. NULL is a no-op. */
void puller_free(struct puller *p);

/* Replaces the source (a new registry version). If the URL, credentials or transport
 * changed, the current session is closed and a new attempt starts on the next loop iteration
 * (backoff, auth failures and the remembered UDP->TCP fallback reset; an unusable URL ends
 * in PULLER_FAILED "url"); otherwise only the flags are copied. */
void puller_update_source(struct puller *p, const struct camera_source *src);

/* Skips a pending backoff or long pause and retries now (a new viewer is waiting). No-op
 * while an attempt is in progress or playing, and during the pause after repeated refused
 * credentials (RD_PULL_AUTH_PAUSE_S): that pause protects the camera account from lockout,
 * so viewers arriving must not shorten it (puller_update_source with new credentials does). */
void puller_kick(struct puller *p);

void puller_stats(const struct puller *p, struct puller_stats *out);

/* "starting", "playing", "retrying", "failed" (the heartbeat's camera states). */
const char *puller_state_name(enum puller_state st);

#endif
