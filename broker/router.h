/* SPDX-License-Identifier: MIT */
/* The broker's answer to one parsed RTSP request (issue 3 item 1, CLIENTS.md): OPTIONS and
 * pings locally, DESCRIBE (and a stray SETUP) with a 302 to the relay the policy picks, with a
 * fresh token in an absolute Location built from the registry only; 401/403/404/454/405/501/
 * 503 otherwise. No I/O and no clock reads: everything comes in through struct router_env. */
#ifndef RD_BROKER_ROUTER_H
#define RD_BROKER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "catalog.h"
#include "crypto.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "rd_limits.h"
#include "relay_view.h"
#include "rtsp_build.h"
#include "rtsp_msg.h"
#include "url.h"

/* The largest response the router writes (a 302 with a Location of RD_REG_URL_MAX bytes plus
 * the token path, or a 401 with two challenges): callers keep this much room in the output. */
#define ROUTER_RESPONSE_MAX 2048

/* What the broker answers in Public (OPTIONS) and Allow (405): the methods a viewer uses with
 * the service; PLAY, PAUSE and TEARDOWN go to the relay after the redirect. */
#define ROUTER_PUBLIC "OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE, GET_PARAMETER"
#define ROUTER_ALLOW  "OPTIONS, DESCRIBE, SETUP, GET_PARAMETER"

/* Addresses that mean this broker: a Location pointing at one of them would loop. */
#define ROUTER_SELF_MAX 64
struct router_self {
    struct {
        char host[RD_URL_MAX_HOST + 1]; /* lower case; IPv6 without brackets */
        uint16_t port;
    } a[ROUTER_SELF_MAX];
    size_t n;
};

/* Adds host:port (host copied, lower-cased; brackets of an IPv6 literal dropped). Duplicates
 * are ignored. Returns RD_OK, RD_ELIMIT when the table is full or host too long. */
int router_self_add(struct router_self *s, const char *host, unsigned port);

/* True when url (absolute rtsp[s]://) names host:port of s (the default port when absent).
 * A url that does not parse is reported as self (fail closed: it must not be sent). */
bool router_url_is_self(const struct router_self *s, const char *url);

/* Where decisions go (broker_decision_add in the daemon). */
typedef void router_decision_fn(void *ctx, const struct broker_decision *d);

/* Everything the router reads. Pointers are borrowed for the call. */
struct router_env {
    const struct catalog *cat; /* cameras, relays with keys, users */
    struct relay_view *view;   /* soft state; reservations are recorded in it */
    double now;                /* broker_now(): monotonic seconds */
    int64_t wall_ms;           /* unix ms: token expiry, nonces, decision times */
    enum url_scheme scheme;    /* the listener's scheme: Locations must use it */
    unsigned token_ttl_s;      /* 1..RD_TOKEN_TTL_MAX_S */
    bool token_bind_ip;        /* bind tokens to the viewer's IP */
    unsigned retry_after_s;    /* Retry-After on 503 */
    const char *realm;         /* Digest realm */
    const uint8_t *nonce_key;  /* Digest nonce secret */
    size_t nonce_key_len;      /* >= RD_AUTH_NONCE_KEY_MIN_BYTES */
    const struct router_self *self;
    struct policy_candidate *cands; /* scratch for the policy snapshot */
    size_t cands_cap;               /* RD_BROKER_MAX_RELAYS is always enough */
    struct rd_rand_pool *jti_pool;  /* token jti bytes; NULL: one CSPRNG call per token */
    struct metrics *metrics;        /* may be NULL */
    router_decision_fn *decide;     /* may be NULL */
    void *decide_ctx;
};

/* The viewer. Strings are NUL-terminated and borrowed for the call. */
struct router_peer {
    const char *addr;          /* "ip:port" / "[v6]:port": decisions and logs */
    const char *ip;            /* the address alone, IPv4-mapped IPv6 unmapped: token binding */
    const struct log_ctx *log; /* the connection's log context, may be NULL */
};

struct router_result {
    int status;       /* the status answered */
    bool close_after; /* close the connection once the response is written */
};

/* Appends the response to msg (a request the parser accepted) to out:
 *   unknown method -> 501; ANNOUNCE, RECORD, REDIRECT, SET_PARAMETER -> 405 + Allow;
 *   any request with a Session header, and PLAY/PAUSE/TEARDOWN -> 454;
 *   OPTIONS -> 200 + Public; GET_PARAMETER -> 200 (ping);
 *   DESCRIBE, SETUP -> URI malformed 400 (close) | unknown or disabled camera 404 |
 *     camera with auth_required: no or bad credentials 401 (Digest SHA-256 and MD5
 *     challenges; stale=true for an expired nonce), a user without a grant 403 |
 *     no eligible relay 503 + Retry-After | 302 Moved Temporarily with Location
 *     <relay base>/v1/<camera>/<token>/, Cache-Control: no-cache (close after).
 * CSeq is echoed from the parsed number. Every DESCRIBE/SETUP outcome goes to env->decide.
 * Userinfo in the request URI is ignored and never logged.
 * Returns RD_OK with one complete response appended and *res filled, or RD_ELIMIT when out
 * had no room for it (or RD_EPROTO if the builder refused a value: a bug); then nothing was
 * appended and the caller closes the connection. */
int router_handle(const struct router_env *env, const struct rtsp_msg *msg,
                  const struct router_peer *peer, struct rtsp_out *out, struct router_result *res);

/* Appends a bare response for a request that could not be handled (a framing error's
 * status_hint, 408 on a deadline): status, CSeq when cseq != RTSP_CSEQ_NONE, Content-Length 0.
 * Counts it in m (may be NULL), as a parse error too when parse_error. Returns RD_OK, or
 * RD_ELIMIT / RD_EPROTO from the builder with nothing appended. */
int router_reject(struct metrics *m, int status, int64_t cseq, bool parse_error,
                  struct rtsp_out *out);

#endif
