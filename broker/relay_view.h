/* SPDX-License-Identifier: MIT */
/* The broker's in-memory relay table (soft state, ARCHITECTURE.md §4.2): registered relays,
 * heartbeat load with replay protection, health hysteresis, reservations, the camera<->relay
 * pull index, policy snapshots and the dirty set the registry flusher writes once a second. */
#ifndef RD_BROKER_RELAY_VIEW_H
#define RD_BROKER_RELAY_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "rd_limits.h"

/* Ownership and threading, for the whole module:
 * - struct relay_view is opaque and owned by whoever called relay_view_create(); every table
 *   is allocated once there, sized from the params, and never grows: no allocation after.
 * - Every function takes string arguments as borrowed NUL-terminated strings and copies what
 *   it keeps. Every string it hands out (candidates, infos, transitions) points into the view
 *   and stays valid until the next call that modifies the view (relay_set/remove/sync_end,
 *   heartbeat, reserve, tick, collect_dirty, destroy). Use them at once or copy them.
 * - Single-threaded: call everything from the broker's loop thread. Callbacks must not call
 *   back into the view.
 * - Times are monotonic seconds (ev_now()). Ids are never secret; hashing is FNV-1a (keys
 *   come from the registry and from authenticated relays, not from viewers). */

/* ARCHITECTURE.md §5 defaults, and the ranges relay_view_create() accepts. */
#define RELAY_VIEW_HB_INTERVAL_S     1.0
#define RELAY_VIEW_HB_INTERVAL_MAX_S 60.0
#define RELAY_VIEW_UNHEALTHY_AFTER   3 /* missed intervals */
#define RELAY_VIEW_HEALTHY_AFTER     2 /* consecutive good beats */
#define RELAY_VIEW_HYSTERESIS_MAX    100

struct relay_view;

struct relay_view_params {
    uint32_t max_relays;      /* 1..RD_BROKER_MAX_RELAYS */
    uint32_t max_cameras;     /* 1..RD_BROKER_MAX_CAMERAS */
    uint32_t max_pulls;       /* 1..RD_BROKER_MAX_PULLS */
    double hb_interval_s;     /* (0, RELAY_VIEW_HB_INTERVAL_MAX_S] */
    uint32_t unhealthy_after; /* 1..RELAY_VIEW_HYSTERESIS_MAX missed intervals */
    uint32_t healthy_after;   /* 1..RELAY_VIEW_HYSTERESIS_MAX consecutive good beats */
};

/* Fills *p with the hard caps from rd_limits.h and the §5 defaults. */
void relay_view_params_default(struct relay_view_params *p);

/* Allocates a view. Returns RD_OK and sets *out (owned by the caller: relay_view_destroy());
 * RD_EPROTO for params out of range; RD_ENOMEM. */
int relay_view_create(const struct relay_view_params *p, struct relay_view **out);

/* Frees the view and everything it holds. NULL is a no-op. */
void relay_view_destroy(struct relay_view *v);

/* ---- Registry side: what an operator configured ------------------------------------------ */

struct relay_view_config {
    const char *id;                /* 1..RD_RELAY_ID_MAX printable ASCII, no space */
    const char *site;              /* 0..RD_SITE_ID_MAX printable ASCII, no space; "" = any */
    const char *rtsp_base_url;     /* 1..RD_RELAY_URL_MAX bytes, e.g. "rtsp://relay-a:8555" */
    enum policy_relay_state state; /* operator state */
    uint32_t cap_viewers;          /* 0: take the heartbeat's (then min of both if both set) */
    uint32_t cap_egress_kbps;      /* the same rule */
};

/* Adds the relay, or updates it in place (heartbeat state, health and pulls are kept).
 * Returns RD_OK; RD_EPROTO for a bad id, site or state; RD_ELIMIT when a field is too long or
 * max_relays relays exist. Nothing changes on error. */
int relay_view_relay_set(struct relay_view *v, const struct relay_view_config *c);

/* Removes the relay and its pulls (reported pulls show up as removed at the next collect).
 * Returns RD_OK or RD_ENOTFOUND. */
int relay_view_relay_remove(struct relay_view *v, const char *id);

/* Full reload from the registry (Kamailio ds_load_db style): sync_begin(), relay_set() for
 * every registered relay, sync_end() removes the relays not set since sync_begin() and
 * returns how many it removed. */
void relay_view_sync_begin(struct relay_view *v);
uint32_t relay_view_sync_end(struct relay_view *v);

/* ---- Heartbeats (ARCHITECTURE.md §4.2) ----------------------------------------------------- */

enum relay_view_cam_state {
    RELAY_VIEW_CAM_STARTING = 0,
    RELAY_VIEW_CAM_PLAYING,
    RELAY_VIEW_CAM_RETRYING,
    RELAY_VIEW_CAM_FAILED /* listed, but holds no upstream session: neither affinity nor budget */
};

struct relay_view_hb_camera {
    const char *id; /* camera id [A-Za-z0-9_-]{1,RD_CAMERA_ID_MAX} */
    enum relay_view_cam_state state;
    uint32_t viewers;
    uint32_t ingress_kbps;
    uint64_t drops;
};

/* A parsed, authenticated heartbeat body. Site and base URL are the registry's business and
 * are not taken from it. */
struct relay_view_hb {
    const char *boot_id;      /* 1..RD_HEARTBEAT_BOOT_ID_MAX printable ASCII, no space */
    uint64_t seq;             /* increases per beat within one boot */
    bool draining;            /* the relay drains itself (SIGTERM) */
    uint32_t cap_viewers;     /* the relay's own capacity; 0 = not given */
    uint32_t cap_egress_kbps; /* the same */
    uint32_t viewers;
    uint32_t egress_kbps;
    uint32_t cpu_pct;
    const struct relay_view_hb_camera *cameras; /* borrowed, n_cameras entries */
    size_t n_cameras;                           /* <= RD_HEARTBEAT_MAX_CAMERAS */
    /* The token key ids the relay holds ("kids"): kids_reported false when the body had no
     * such field (an older relay; then kids/n_kids are ignored). Each [A-Za-z0-9_-]{1,
     * RD_TOKEN_KID_MAX}; an empty list is a report too (it holds none). */
    bool kids_reported;
    const char *kids[RD_TOKEN_LIVE_KIDS]; /* borrowed, n_kids entries */
    size_t n_kids;                        /* <= RD_TOKEN_LIVE_KIDS */
};

enum relay_view_hb_outcome {
    RELAY_VIEW_HB_ACCEPTED = 0,
    RELAY_VIEW_HB_NEW_BOOT,  /* accepted; a new boot id restarts seq tracking */
    RELAY_VIEW_HB_DUPLICATE, /* same boot, seq == last: no-op */
    RELAY_VIEW_HB_REORDERED, /* same boot, seq < last: no-op */
    RELAY_VIEW_HB_OLD_BOOT,  /* the boot id before the current one (late packet): no-op */
    RELAY_VIEW_HB_REJECTED   /* malformed or over a limit: no-op */
};

struct relay_view_hb_result {
    enum relay_view_hb_outcome outcome;
    uint32_t n_pulls;      /* pairs the relay now has */
    uint32_t n_duplicates; /* camera ids listed twice: the first entry counted */
    uint32_t n_dropped;    /* pairs not stored: camera or pull table full (a beat's new
                            * pairs are allocated before the ones it no longer lists are
                            * released, so size max_pulls with room for churn) */
};

/* Applies a heartbeat from relay_id received at now. The caller has checked its
 * authentication and timestamp window; this function checks order: with the current boot id
 * a seq <= the last one is a no-op (replay or reorder), the previous boot id is a no-op, any
 * other boot id is accepted and restarts seq tracking (the pulls' "since" restarts too).
 * An accepted beat replaces load, the held key ids (a beat without them, e.g. the first of a
 * downgraded relay, leaves none reported) and the relay's pull list (cameras not listed stop
 * being pulled there), clears its reservations (the relay now reports those viewers itself)
 * and counts towards health (relay_view_tick). Validates everything before changing anything.
 * Returns RD_OK (accepted); RD_EEXPIRED (duplicate, reordered, old boot: no-op);
 * RD_ENOTFOUND (unregistered relay); RD_EPROTO (bad boot id, camera id or state, more than
 * RD_TOKEN_LIVE_KIDS kids or a bad kid; no-op);
 * RD_ELIMIT with outcome REJECTED (n_cameras > RD_HEARTBEAT_MAX_CAMERAS; no-op) or with an
 * accepted outcome and n_dropped > 0 (applied except the pairs that did not fit).
 * *res is always filled (may be NULL). */
int relay_view_heartbeat(struct relay_view *v, const char *relay_id, const struct relay_view_hb *hb,
                         double now, struct relay_view_hb_result *res);

/* ---- Health (hysteresis, Kamailio ds_update_state style) ----------------------------------- */

struct relay_view_transition {
    const char *relay_id; /* borrowed from the view */
    bool healthy;         /* the new state */
    double last_hb_at;    /* monotonic time of its last accepted beat; 0 if never */
};

/* Evaluates health at now and returns the number of transitions written to out[cap]:
 * - healthy -> unhealthy when no beat was accepted for more than unhealthy_after intervals
 *   (also noticed by the next beat if no tick ran in between);
 * - unhealthy -> healthy after healthy_after consecutive beats, each within unhealthy_after
 *   intervals of the one before. A relay never heard from is unhealthy.
 * Transitions that do not fit in out stay pending for the next call (none is lost): when the
 * return value equals cap, call again. Call it at least every hb_interval. Snapshots already
 * treat a relay as unhealthy as soon as its beats are stale, tick or not. */
size_t relay_view_tick(struct relay_view *v, double now, struct relay_view_transition *out,
                       size_t cap);

/* ---- Placement ----------------------------------------------------------------------------- */

/* Number of relays a snapshot holds (size the candidates array with this, or with
 * RD_BROKER_MAX_RELAYS). */
uint32_t relay_view_relay_count(const struct relay_view *v);

/* Fills in for policy_pick(): camera copied, now, cands = the given array with one entry per
 * relay, pulls / pull_viewers / n_pullers from the camera's pull index (O(relays + pullers),
 * never O(cameras)). Health is the hysteresis state, and false when the relay's beats are
 * stale at now. A pull counts (pulls = true, and in n_pullers) when the relay's beat is fresh
 * and lists the camera in a state other than failed, or when the relay holds a reservation
 * for it; the relay's operator state does not matter (a draining relay still holds its
 * upstream session). kids_reported / held_kids are the relay's last accepted report.
 * Strings borrow the view (see the top of this file).
 * Returns RD_OK, RD_ELIMIT when cap < relay_view_relay_count(), RD_EPROTO for a camera
 * without id or site. */
int relay_view_snapshot_for(const struct relay_view *v, const struct policy_camera *camera,
                            double now, struct policy_candidate *cands, size_t cap,
                            struct policy_input *in);

/* The part of relay_view_snapshot_for that matters when a relay pulling the camera can take
 * the viewer: in->cands holds only the relays whose pull of the camera counts (pulls = true),
 * filled exactly as relay_view_snapshot_for fills them and in the same relative order;
 * n_pullers is the same. O(pullers^2), independent of the number of relays. When
 * policy_pick() on this input answers POLICY_AFFINITY, the full snapshot gives the same relay
 * (rule 2 only looks at pullers, ties go by hash); any other answer means nothing: take the
 * full snapshot then. Same returns and borrowing as relay_view_snapshot_for. */
int relay_view_snapshot_pullers(const struct relay_view *v, const struct policy_camera *camera,
                                double now, struct policy_candidate *cands, size_t cap,
                                struct policy_input *in);

/* Records a redirect of a viewer of camera_id to relay_id: the relay's reserved viewers + 1,
 * its reserved egress + the camera's last reported ingress (else the relay's egress per
 * viewer, else 0), and the pair (relay, camera) counts as pulled until the relay's next
 * accepted heartbeat clears it. Returns RD_OK; RD_ENOTFOUND (unknown relay); RD_EPROTO (bad
 * camera id); RD_ELIMIT when the pair table is full (the relay's counters were still
 * updated; only affinity for this pair is lost). */
int relay_view_reserve(struct relay_view *v, const char *relay_id, const char *camera_id,
                       double now);

/* ---- Reading: admin page, metrics, registry flusher --------------------------------------- */

struct relay_view_relay_info {
    const char *id, *site, *rtsp_base_url, *boot_id; /* borrowed from the view */
    enum policy_relay_state state;                   /* effective (draining if it says so) */
    enum policy_relay_state op_state;                /* as configured */
    bool healthy;                                    /* hysteresis state (not staleness) */
    bool ever_beat;
    double last_hb_at;
    uint64_t seq;
    uint32_t cap_viewers, cap_egress_kbps; /* effective */
    uint32_t viewers, egress_kbps, cpu_pct;
    uint32_t reserved_viewers, reserved_kbps;
    uint32_t n_pulls;                          /* cameras it pulls or holds reservations for */
    bool kids_reported;                        /* as in struct policy_candidate */
    uint8_t n_held_kids;                       /* 0..RD_TOKEN_LIVE_KIDS */
    const char *held_kids[RD_TOKEN_LIVE_KIDS]; /* borrowed from the view */
};

struct relay_view_pull_info {
    const char *relay_id, *camera_id; /* borrowed from the view */
    enum relay_view_cam_state state;
    uint32_t viewers;  /* last heartbeat */
    uint32_t reserved; /* redirects since */
    uint32_t ingress_kbps;
    uint64_t drops;
    double since_at; /* first reported (monotonic), restarted by a new boot id */
    bool reported;   /* false: only a reservation so far */
    bool removed;    /* collect_dirty only: the relay stopped pulling it */
};

typedef void relay_view_relay_fn(void *ctx, const struct relay_view_relay_info *r);
typedef void relay_view_pull_fn(void *ctx, const struct relay_view_pull_info *p);

/* Fills *out for relay id. Returns RD_OK or RD_ENOTFOUND. */
int relay_view_relay_get(const struct relay_view *v, const char *id,
                         struct relay_view_relay_info *out);

/* Calls fn for every relay / every live pull pair (reserved-only pairs included). */
void relay_view_foreach_relay(const struct relay_view *v, relay_view_relay_fn *fn, void *ctx);
void relay_view_foreach_pull(const struct relay_view *v, relay_view_pull_fn *fn, void *ctx);

/* Calls fn for each pull pair of one camera. Returns RD_OK or RD_ENOTFOUND. */
int relay_view_foreach_pull_of(const struct relay_view *v, const char *camera_id,
                               relay_view_pull_fn *fn, void *ctx);

struct relay_view_dirty_stats {
    uint32_t n_relays;  /* relay records emitted */
    uint32_t n_pulls;   /* pull records emitted, removals included */
    uint32_t n_removed; /* of which removals */
    bool resync_needed; /* removals were lost (tables full between collects): rewrite the
                         * whole mapping from relay_view_foreach_pull() */
};

/* For the registry flusher, once a second: calls on_relay for every relay with an accepted
 * heartbeat or a health change since the last collect (its latest load), then on_pull for
 * every reported pair that appeared, disappeared (removed = true) or changed state or viewers
 * since then, in the order of the changes (apply them in order: a pair may be removed and
 * added again). Reserved-only pairs never appear. Then frees the memory of removed pairs and
 * relays. Either callback may be NULL. *st may be NULL. */
void relay_view_collect_dirty(struct relay_view *v, relay_view_relay_fn *on_relay,
                              relay_view_pull_fn *on_pull, void *ctx,
                              struct relay_view_dirty_stats *st);

struct relay_view_stats {
    uint64_t hb_accepted; /* new boots included */
    uint64_t hb_new_boot;
    uint64_t hb_stale;    /* duplicate, reordered, old boot */
    uint64_t hb_rejected; /* RD_EPROTO / RD_ELIMIT no-ops */
    uint64_t hb_unknown_relay;
    uint64_t reservations;
    uint64_t pulls_dropped; /* pairs not stored: tables full */
    uint64_t removals_lost; /* removals freed before a collect (forces resync) */
    uint32_t n_relays, n_healthy, n_cameras, n_pulls;
};

/* Counters for metrics. */
void relay_view_get_stats(const struct relay_view *v, struct relay_view_stats *out);

/* Static names: "starting", "playing", "retrying", "failed" / "accepted", "new_boot", ... */
const char *relay_view_cam_state_name(enum relay_view_cam_state s);
const char *relay_view_hb_outcome_name(enum relay_view_hb_outcome o);

#endif
