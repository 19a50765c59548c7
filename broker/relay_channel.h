/* SPDX-License-Identifier: MIT */
/* The relay channel's checks, apart from HTTP (docs/relay-channel.md): request signatures
 * (HMAC-SHA-256 over a canonical string, key from the catalog), the timestamp window, the
 * per-relay token buckets and the heartbeat body (JSON via jansson -> struct relay_view_hb).
 * admin.c does the HTTP; tests and the fuzz target drive these directly. */
#ifndef RD_BROKER_RELAY_CHANNEL_H
#define RD_BROKER_RELAY_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "crypto.h"
#include "rd_limits.h"
#include "relay_view.h"

/* Request headers of the relay channel. */
#define RELAY_CHANNEL_HDR_RELAY     "X-RD-Relay"
#define RELAY_CHANNEL_HDR_KID       "X-RD-Kid"
#define RELAY_CHANNEL_HDR_TIMESTAMP "X-RD-Timestamp"
#define RELAY_CHANNEL_HDR_SIGNATURE "X-RD-Signature"
/* Version tag that starts the canonical string. */
#define RELAY_CHANNEL_TAG "rdhb1"
/* Characters of a signature: base64url of 32 bytes, no padding; buffers add the NUL. */
#define RELAY_CHANNEL_SIG_LEN 43
/* Digits of X-RD-Timestamp (unix seconds; 12 digits reach the year 33658). */
#define RELAY_CHANNEL_TS_DIGITS 12

/* One signed request as received. Header values are NULL when the header is absent; all
 * strings are NUL-terminated and borrowed for the call. */
struct relay_channel_req {
    const char *method;    /* "POST", "GET" */
    const char *path;      /* request path without the query string */
    const char *relay_id;  /* X-RD-Relay */
    const char *kid;       /* X-RD-Kid */
    const char *timestamp; /* X-RD-Timestamp, as sent (signed as is) */
    const char *signature; /* X-RD-Signature */
    const char *body;      /* body_len bytes (may hold NULs); NULL only when body_len is 0 */
    size_t body_len;
};

enum relay_channel_verdict {
    RELAY_CHANNEL_OK = 0,
    RELAY_CHANNEL_UNKNOWN_RELAY, /* X-RD-Relay absent or not a relay of the catalog */
    RELAY_CHANNEL_BAD_SIGNATURE, /* a signing header absent, unknown kid, or MAC mismatch */
    RELAY_CHANNEL_BAD_TIMESTAMP, /* MAC good, timestamp malformed or outside the window */
};

/* Finds the relay and the live key named by the request's headers (no body needed: admin.c
 * calls it before reading one, so strangers are refused before their body is read).
 * Returns RELAY_CHANNEL_OK with *relay and *key pointing into cat (valid while cat lives),
 * RELAY_CHANNEL_UNKNOWN_RELAY, or RELAY_CHANNEL_BAD_SIGNATURE (a header is missing or the kid
 * is not live). Reads the catalog only. */
enum relay_channel_verdict relay_channel_key(const struct catalog *cat,
                                             const struct relay_channel_req *rq,
                                             const struct catalog_relay **relay,
                                             const struct reg_relay_key **key);

/* Verifies rq's signature with key (constant-time compare of the MACs), then its timestamp
 * against now_s (unix seconds, wall clock): at most RD_HEARTBEAT_SKEW_S apart.
 * Returns RELAY_CHANNEL_OK, RELAY_CHANNEL_BAD_SIGNATURE or RELAY_CHANNEL_BAD_TIMESTAMP. The
 * MAC is checked first, so BAD_TIMESTAMP means a real relay with a wrong clock (or an old
 * capture replayed). */
enum relay_channel_verdict relay_channel_check(const struct reg_relay_key *key,
                                               const struct relay_channel_req *rq, int64_t now_s);

/* Signs rq (its signature field is ignored) with key[0..key_len) into out[cap] as base64url
 * without padding, NUL-terminated (cap >= RELAY_CHANNEL_SIG_LEN + 1). Used by tests and the
 * documentation's examples; relays implement the same in their own code. Returns RD_OK,
 * RD_EPROTO (a field is missing) , RD_ELIMIT (cap too small) or RD_EIO (libcrypto). */
int relay_channel_sign(const uint8_t *key, size_t key_len, const struct relay_channel_req *rq,
                       char *out, size_t cap);

/* Human-readable name of a verdict: "ok", "unknown_relay", "bad_signature", "bad_timestamp". */
const char *relay_channel_verdict_name(enum relay_channel_verdict v);

/* ---- Per-relay token buckets -------------------------------------------------------------- */

struct relay_channel_limiter; /* opaque, owned by its creator */

/* Allocates a limiter of RD_RELAY_CHANNEL_BUCKETS buckets, each refilling at rate_per_s up to
 * burst tokens (a relay never seen has a full bucket). Returns RD_OK with *out owned by the
 * caller (relay_channel_limiter_destroy), RD_EPROTO for rate or burst <= 0, or RD_ENOMEM. */
int relay_channel_limiter_create(double rate_per_s, double burst,
                                 struct relay_channel_limiter **out);
void relay_channel_limiter_destroy(struct relay_channel_limiter *l);

/* Takes a token from relay_id's bucket at now (monotonic seconds, never going back). Returns
 * true if there was one; false otherwise, with *retry_after_s set to the whole seconds (>= 1)
 * until the next token. When every bucket is busy (more relays within a refill time than
 * RD_RELAY_CHANNEL_BUCKETS) the request passes and is counted in *untracked. relay_id is
 * borrowed; ids longer than RD_RELAY_ID_MAX pass untracked too (callers pass catalog ids). */
bool relay_channel_limiter_take(struct relay_channel_limiter *l, const char *relay_id, double now,
                                unsigned *retry_after_s);
/* Requests let through because no bucket was free. */
uint64_t relay_channel_limiter_untracked(const struct relay_channel_limiter *l);

/* ---- Heartbeat body (POST /api/v1/heartbeat) ----------------------------------------------- */

struct json_t;

/* A parsed heartbeat. hb's strings point into root (owned), so free with
 * relay_channel_hb_free(). About 10 KiB: allocate it, or keep one per server. */
struct relay_channel_hb {
    struct json_t *root;                /* owned: the parsed document */
    char relay_id[RD_RELAY_ID_MAX + 1]; /* "relay_id" of the body */
    struct relay_view_hb hb;            /* cameras points at cameras[] below */
    struct relay_view_hb_camera cameras[RD_HEARTBEAT_MAX_CAMERAS];
    char err[160]; /* after a failure: what was wrong (names fields, never echoes values) */
};

/* Parses body[0..len) as a heartbeat (docs/relay-channel.md): one JSON object, duplicate keys
 * refused (JSON_REJECT_DUPLICATES), strict types (integers are JSON integers in range, strings
 * are strings), unknown fields ignored, required fields present. Fills *out (any previous
 * content is dropped first: call relay_channel_hb_free() between uses or start zeroed).
 * Returns RD_OK; RD_EPROTO (malformed: 400) or RD_ELIMIT (more than RD_HEARTBEAT_MAX_CAMERAS
 * cameras: 413), with out->err set and out->root NULL. */
int relay_channel_hb_parse(const char *body, size_t len, struct relay_channel_hb *out);

/* Frees out->root and resets *out. Safe on a zeroed or already freed struct. */
void relay_channel_hb_free(struct relay_channel_hb *out);

#endif
