/* SPDX-License-Identifier: MIT */
/* Relay selection (ARCHITECTURE.md §4.5): a pure function from a camera, a snapshot of the
 * relays and "now" to a choice with its reason. No I/O, no clock reads, no globals, no
 * allocation; relay_view.h builds the snapshot, the router acts on the choice. */
#ifndef RD_BROKER_POLICY_H
#define RD_BROKER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_limits.h"

/* Operator state of a relay: the registry's, or "draining" when the relay reports it. */
enum policy_relay_state {
    POLICY_RELAY_ACTIVE = 0,
    POLICY_RELAY_DRAINING, /* no new viewers; its current ones stay until it moves them */
    POLICY_RELAY_DISABLED  /* switched off by an operator */
};

/* Why a choice was made, or why there is none. Names are short static strings for logs,
 * metrics labels and the admin page (policy_reason_name()). */
enum policy_reason {
    POLICY_AFFINITY = 0,             /* a relay already pulling the camera had headroom */
    POLICY_LEAST_LOADED,             /* lowest score, alone */
    POLICY_LEAST_LOADED_TIEBREAK,    /* lowest score shared by several: rendezvous hash chose */
    POLICY_BUDGET_EXHAUSTED,         /* pullers are full and the upstream budget is used up: 503 */
    POLICY_NO_RELAYS,                /* the snapshot is empty: 503 */
    POLICY_NO_RELAY_IN_SITE,         /* no relay serves the camera's site: 503 */
    POLICY_NO_ACTIVE_RELAY_IN_SITE,  /* all relays of the site are draining or disabled: 503 */
    POLICY_NO_HEALTHY_RELAY_IN_SITE, /* the active ones are all unhealthy: 503 */
    POLICY_ALL_RELAYS_FULL,          /* the healthy active ones have no headroom: 503 */
    POLICY_CAMERA_DISABLED,          /* caller passed a disabled camera (it should answer 404) */
    POLICY_TOO_MANY_RELAYS,          /* snapshot larger than RD_BROKER_MAX_RELAYS (a bug) */
    POLICY_REASON_COUNT
};

/* Score scale: a score is a fraction of capacity in parts per million (integers, so ties are
 * exact and decisions identical on every platform). */
#define POLICY_SCORE_FULL 1000000u

/* The camera as the registry knows it. Strings are borrowed for the duration of the call. */
struct policy_camera {
    const char *id;       /* NUL-terminated camera id; input of the rendezvous hash */
    const char *site;     /* NUL-terminated, non-empty site id */
    uint32_t max_pullers; /* upstream budget: relays that may pull it at once; 0 = no limit */
    bool enabled;
};

/* One relay as seen by the broker at "now". Strings are borrowed (relay_view owns them). */
struct policy_candidate {
    const char *id;                /* NUL-terminated relay id; input of the rendezvous hash */
    const char *site;              /* NUL-terminated; "" = serves any site */
    enum policy_relay_state state; /* effective: registry state, or draining if it says so */
    bool healthy;                  /* after hysteresis (relay_view) */
    uint32_t cap_viewers;          /* viewers it may carry; 0 = none (always full) */
    uint32_t cap_egress_kbps;      /* kbit/s it may send; 0 = egress not limited */
    uint32_t viewers;              /* from its last heartbeat */
    uint32_t egress_kbps;          /* from its last heartbeat */
    uint32_t cpu_pct;              /* from its last heartbeat; shown, not scored */
    uint32_t reserved_viewers;     /* redirects issued since its last heartbeat */
    uint32_t reserved_kbps;        /* their estimated egress */
    bool pulls;                    /* pulls this camera (reported, or reserved since) */
    uint32_t pull_viewers;         /* viewers of this camera there (last heartbeat) */
    /* Not scored: carried for the router, which mints the viewer's token with a key the
     * relay holds (docs/relay-channel.md, "Keys and rotation"). The token key ids its last
     * accepted heartbeat listed; kids_reported false when that beat had no "kids" (an older
     * relay) or none was accepted since its boot. */
    bool kids_reported;
    uint8_t n_held_kids;                       /* 0..RD_TOKEN_LIVE_KIDS */
    const char *held_kids[RD_TOKEN_LIVE_KIDS]; /* borrowed, NUL-terminated, n_held_kids used */
};

struct policy_input {
    struct policy_camera camera;
    double now;         /* monotonic seconds; copied into the choice (decision log) */
    uint32_t n_pullers; /* relays fleet-wide pulling the camera, as counted by relay_view
                         * (relays with a fresh heartbeat that report it, whatever their
                         * state, plus relays holding a reservation for it). policy_pick
                         * uses max(n_pullers, candidates with pulls set). */
    const struct policy_candidate *cands; /* borrowed, n_cands entries */
    size_t n_cands;
};

/* How many candidates each rule excluded, for the admin page. Each candidate is counted in
 * the first rule it fails, in this order: site, state, health, capacity, budget. */
struct policy_counts {
    uint32_t total;
    uint32_t other_site;
    uint32_t draining;
    uint32_t disabled;
    uint32_t unhealthy;
    uint32_t full;        /* no headroom: viewers or egress, reservations included */
    uint32_t over_budget; /* eligible but not pulling while the budget is used up */
    uint32_t eligible;    /* passed rule 1 */
    uint32_t pullers;     /* the upstream budget count actually used */
};

struct policy_choice {
    int32_t index; /* into in->cands; -1 when there is no choice */
    enum policy_reason reason;
    uint32_t score_ppm; /* the chosen relay's score (0 when none) */
    uint32_t n_tied;    /* candidates that shared the best score (1 = no tie) */
    double decided_at;  /* in->now */
    struct policy_counts counts;
};

/* Picks the relay for one viewer of in->camera (rules of ARCHITECTURE.md §4.5):
 *  1. candidates: site equal to the camera's or "" (any), state active, healthy, headroom:
 *     viewers + reserved_viewers < cap_viewers and, when cap_egress_kbps > 0,
 *     egress_kbps + reserved_kbps < cap_egress_kbps;
 *  2. affinity: among candidates that pull the camera, the lowest score wins;
 *  3. upstream budget: with no such candidate and pullers >= max_pullers (> 0), nothing else
 *     may be chosen (POLICY_BUDGET_EXHAUSTED);
 *  4. else the lowest score; score = max(viewers share, egress share) in parts per million,
 *     reservations included (the fuller resource is the one that binds); equal scores go to
 *     the highest policy_hrw(camera id, relay id).
 * Always fills *out. Returns RD_OK with out->index >= 0; RD_EBUSY when there is no relay
 * (answer 503 + Retry-After); RD_ENOTFOUND for a disabled camera (404); RD_ELIMIT when
 * n_cands > RD_BROKER_MAX_RELAYS. Borrows everything; keeps nothing. */
int policy_pick(const struct policy_input *in, struct policy_choice *out);

/* A candidate's score in parts per million of its capacity (POLICY_SCORE_FULL when it has no
 * viewer capacity), as used by policy_pick. */
uint32_t policy_score_ppm(const struct policy_candidate *c);

/* Rendezvous (highest random weight) hash of (camera id, relay id): FNV-1a 64 over
 * camera, a 0 byte, relay, then a murmur3 finaliser. Stable across runs and hosts. Not for
 * security: inputs come from the registry and authenticated relays only. */
uint64_t policy_hrw(const char *camera_id, const char *relay_id);

/* FNV-1a 64 of a NUL-terminated string (hash tables of relay_view; not for security). */
uint64_t policy_hash_str(const char *s);

/* Static name of a reason ("affinity", "least_loaded", ...); "unknown" when out of range. */
const char *policy_reason_name(enum policy_reason r);

/* Static name of a relay state ("active", "draining", "disabled"); "unknown" otherwise. */
const char *policy_relay_state_name(enum policy_relay_state s);

#endif
