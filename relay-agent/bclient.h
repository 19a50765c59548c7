/* SPDX-License-Identifier: MIT */
/* The relay's side of the relay channel (docs/relay-channel.md): heartbeats every
 * heartbeat_interval_ms and camera-source fetches, each request signed with the relay key,
 * sent with the libcurl multi interface driven by the relay's libev loop (curl_multi_socket_action
 * from ev_io and ev_timer watchers; no threads, no blocking calls). */
#ifndef RD_RELAY_BCLIENT_H
#define RD_RELAY_BCLIENT_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "camera_source.h"
#include "errbuf.h"
#include "rd_limits.h"
#include "url_token.h"

/* Ownership and threading:
 * - struct bclient is owned by the relay context (bclient_free). Loop thread only. It owns
 *   its CURLM, its easy handles, its watchers and timers. curl_global_init is the caller's
 *   (main), once.
 * - Callbacks run from the client's watchers, never from inside a bclient_* call. */

struct bclient;

/* One camera line of a heartbeat (docs/relay-channel.md). Strings borrowed for the call. */
struct hb_camera {
    const char *id;
    const char *state; /* "starting", "playing", "retrying", "failed" */
    uint32_t viewers;
    uint32_t ingress_kbps;
    uint64_t drops;
};

/* What the relay reports; filled by the owner's fill callback just before each beat. */
struct hb_report {
    const char *state; /* "active" or "draining" */
    uint32_t capacity_viewers;
    uint32_t capacity_egress_kbps; /* 0: not given */
    uint32_t viewers;
    uint32_t egress_kbps;
    double cpu_pct;            /* percent of one core since the previous beat */
    struct hb_camera *cameras; /* the client's array of RD_HEARTBEAT_MAX_CAMERAS entries */
    size_t n_cameras;          /* set by fill, at most RD_HEARTBEAT_MAX_CAMERAS */
};

/* The broker's answer to a heartbeat, or why there was none. */
struct hb_answer {
    bool ok;          /* 200 with a valid body */
    long http_status; /* 0 when the broker could not be reached */
    bool applied;
    char state[16]; /* operator state: "active", "draining", "disabled" */
    char signing_kid[RD_TOKEN_KID_MAX + 1];
    uint64_t registry_version;
    uint32_t interval_ms; /* 0 when absent */
};

struct bclient_cfg {
    const char *broker_url;          /* "http://host:port" (the broker's admin_listen); copied */
    const char *relay_id;            /* copied */
    const struct url_token_key *key; /* signing key (copied); bclient_set_key replaces it */
    uint32_t interval_ms;            /* heartbeat period; 0 = heartbeats off (sources only) */
    double timeout_s;                /* per request: RD_BCLIENT_TIMEOUT_S */
    const char *user_agent;          /* copied */
    /* Fills r before each beat (r->cameras points at room for RD_HEARTBEAT_MAX_CAMERAS). */
    void (*fill)(void *arg, struct hb_report *r);
    /* Each beat's outcome: ok, or not (unreachable, non-200, bad body: logged once per
     * change of outcome, not per beat). The next beat follows after interval_ms, or with
     * backoff (doubling to RD_BCLIENT_BACKOFF_MAX_S) while the broker fails. */
    void (*answer)(void *arg, const struct hb_answer *a);
    void *arg;
};

/* Source fetch outcome: RD_OK with src; RD_ENOTFOUND (404: not served here); RD_EAUTH
 * (401: our key is refused); RD_EIO (unreachable, timeout, 5xx, 429, bad body). */
typedef void bclient_source_fn(void *arg, const char *camera_id, int status,
                               const struct camera_source *src);

/* A client on loop. Starts heartbeating at once (first beat on the next loop iteration).
 * Returns RD_OK and *out, RD_EPROTO for a bad broker_url or relay id (err says why),
 * RD_ENOMEM / RD_EIO (curl). */
int bclient_new(struct ev_loop *loop, const struct bclient_cfg *cfg, struct bclient **out,
                struct rd_errbuf *err);

/* Aborts requests in flight (no callbacks), frees everything. NULL is a no-op. */
void bclient_free(struct bclient *b);

/* Replaces the signing key (SIGHUP reload). */
void bclient_set_key(struct bclient *b, const struct url_token_key *key);

/* Changes the heartbeat period (the broker's heartbeat_interval_ms); 0 keeps it. */
void bclient_set_interval(struct bclient *b, uint32_t interval_ms);

/* Sends one beat now (state changes: draining at SIGTERM) unless one is in flight. */
void bclient_beat_now(struct bclient *b);

/* GET /api/v1/relay/cameras/<camera_id>; fn(arg, ...) is called once, later. At most one
 * fetch per camera id is in flight: a second request for the same id joins the first
 * (both callbacks run). Returns RD_OK, RD_EPROTO for a bad id, RD_ELIMIT when
 * RD_BCLIENT_MAX_FETCHES are in flight, RD_ENOMEM. */
int bclient_fetch_source(struct bclient *b, const char *camera_id, bclient_source_fn *fn,
                         void *arg);

struct bclient_stats {
    uint64_t beats_sent, beats_ok, beats_failed;
    uint64_t fetches_sent, fetches_ok, fetches_failed;
    double last_ok_at; /* ev_now() of the last good heartbeat answer, 0 for none */
    bool broker_reachable;
};
void bclient_stats(const struct bclient *b, struct bclient_stats *out);

#endif
