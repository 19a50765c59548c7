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
    /* The token key ids the relay holds right now (its keyring: key_id, prev_key_id), sent as
     * "kids" so the broker signs viewer tokens with one of them. Borrowed for the call; ids
     * that are not [A-Za-z0-9_-]{1,RD_TOKEN_KID_MAX} are left out. */
    const char *kids[RD_TOKEN_LIVE_KIDS];
    size_t n_kids; /* at most RD_TOKEN_LIVE_KIDS */
};

/* The broker's answer to a heartbeat, or why there was none. */
struct hb_answer {
    bool ok;          /* 200 with a valid body */
    long http_status; /* 0 when the broker could not be reached */
    bool applied;
    char outcome[16]; /* "accepted", "new_boot", "duplicate", "reordered", "old_boot"; "" if absent
                       */
    char state[16];   /* operator state: "active", "draining", "disabled" */
    char signing_kid[RD_TOKEN_KID_MAX + 1];
    uint64_t registry_version;
    uint32_t interval_ms; /* 0 when absent */
};

struct bclient_cfg {
    const char *broker_url;          /* "http://host:port" (the broker's admin_listen); copied */
    const char *relay_id;            /* copied */
    const struct url_token_key *key; /* signing key (copied); bclient_set_key replaces it */
    uint32_t interval_ms;            /* heartbeat period; 0 = heartbeats off (sources only) */
    double timeout_s;                /* per request; 0 = RD_BCLIENT_TIMEOUT_S */
    double backoff_max_s;   /* longest wait while failing; 0 = RD_BCLIENT_BACKOFF_MAX_S (tests
                             * shorten it); never below interval_ms */
    const char *user_agent; /* copied */
    /* Fills r before each beat (r->cameras points at room for RD_HEARTBEAT_MAX_CAMERAS). */
    void (*fill)(void *arg, struct hb_report *r);
    /* Each beat's outcome: ok, or not (unreachable, non-200, bad body: logged once per
     * change of outcome, not per beat). The next beat follows after interval_ms, or with
     * backoff (doubling to RD_BCLIENT_BACKOFF_MAX_S) while the broker fails. */
    void (*answer)(void *arg, const struct hb_answer *a);
    void *arg;
};

/* Characters of a relay-channel signature (base64url of 32 bytes, no padding). */
#define BCLIENT_SIG_LEN 43

/* Signs one relay-channel request (docs/relay-channel.md, "Signing"): HMAC-SHA-256 under
 * key->key of "rdhb1\n<method>\n<path>\n<relay_id>\n<key->kid>\n<timestamp>\n<body>", written
 * to out[cap] as base64url without padding, NUL-terminated (cap >= BCLIENT_SIG_LEN + 1).
 * body may be NULL when body_len is 0. Pure (no I/O). Returns RD_OK, RD_EPROTO (a NULL field),
 * RD_ELIMIT (cap too small) or RD_EIO (libcrypto). */
int bclient_sign(const struct url_token_key *key, const char *method, const char *path,
                 const char *relay_id, const char *timestamp, const char *body, size_t body_len,
                 char *out, size_t cap);

/* Parses a heartbeat answer body (the JSON of a 200) into *out: applied, outcome (optional),
 * state, registry_version, signing_kid, heartbeat_interval_ms (optional); duplicate keys and
 * wrong types refused, strings never truncated, unknown fields ignored. Sets out->ok = false
 * and http_status = 0 (the caller owns those). Pure; exposed for the fuzz target. Returns
 * RD_OK, or RD_EPROTO with *out zeroed. */
int bclient_answer_parse(const char *body, size_t len, struct hb_answer *out);

/* Parses a camera-source answer body for camera_id into *out (docs/relay-channel.md): every
 * field required, "id" equal to camera_id, url non-empty without spaces or control bytes,
 * user/password without control bytes, transport "tcp" or "udp", booleans and a non-negative
 * registry_version. Never truncates. Pure (no logging); exposed for the fuzz target. Returns
 * RD_OK; RD_ELIMIT (a string longer than its camera_source array) or RD_EPROTO, with *out
 * wiped and *field (if not NULL) naming the offending field ("body" for bad JSON). *field is
 * a static string. The password copy jansson held is wiped before it is freed. */
int bclient_source_parse(const char *camera_id, const char *body, size_t len,
                         struct camera_source *out, const char **field);

/* Source fetch outcome: RD_OK with src; RD_ENOTFOUND (404: not served here); RD_EAUTH
 * (401: our key is refused); RD_EIO (unreachable, timeout, 5xx, 429, bad body, a field
 * longer than its camera_source array). camera_id and src are borrowed for the call (src is
 * NULL unless RD_OK, and wiped when the last callback of the fetch returns): copy src. */
typedef void bclient_source_fn(void *arg, const char *camera_id, int status,
                               const struct camera_source *src);

/* A client on loop. Starts heartbeating at once (first beat on the next loop iteration).
 * Returns RD_OK and *out, RD_EPROTO for a bad broker_url or relay id (err says why),
 * RD_ENOMEM / RD_EIO (curl). */
int bclient_new(struct ev_loop *loop, const struct bclient_cfg *cfg, struct bclient **out,
                struct rd_errbuf *err);

/* Aborts requests in flight (no callbacks), frees everything. NULL is a no-op. May be called
 * from inside one of the client's callbacks: then no further callback runs and the memory is
 * released when that callback returns. */
void bclient_free(struct bclient *b);

/* Replaces the signing key (SIGHUP reload; copied). Requests already sent keep the old
 * signature. A key whose kid is not [A-Za-z0-9_-]{1,RD_TOKEN_KID_MAX} is refused with an ERR
 * line and the old key stays in use. */
void bclient_set_key(struct bclient *b, const struct url_token_key *key);

/* Changes the heartbeat period (the broker's heartbeat_interval_ms); 0 keeps it. The owner
 * calls it (the client never applies hb_answer.interval_ms by itself). A shorter period also
 * shortens the wait already scheduled; a client created with 0 starts heartbeating. */
void bclient_set_interval(struct bclient *b, uint32_t interval_ms);

/* Sends one beat on the next loop iteration (state changes: draining at SIGTERM), fill
 * included; if one is in flight, the next follows as soon as it completes. No-op while
 * heartbeats are off. */
void bclient_beat_now(struct bclient *b);

/* GET /api/v1/relay/cameras/<camera_id>; fn(arg, ...) is called once, later. At most one
 * fetch per camera id is in flight: a second request for the same id joins the first
 * (both callbacks run). Returns RD_OK, RD_EPROTO for a bad id, RD_ELIMIT when
 * RD_BCLIENT_MAX_FETCHES are in flight, RD_ENOMEM. */
int bclient_fetch_source(struct bclient *b, const char *camera_id, bclient_source_fn *fn,
                         void *arg);

/* Counters since bclient_new. broker_reachable: the last heartbeat got a good answer (false
 * before the first one). Joined fetches count once. */
struct bclient_stats {
    uint64_t beats_sent, beats_ok, beats_failed;
    uint64_t fetches_sent, fetches_ok, fetches_failed;
    double last_ok_at; /* ev_now() of the last good heartbeat answer, 0 for none */
    bool broker_reachable;
};
void bclient_stats(const struct bclient *b, struct bclient_stats *out);

#endif
