/* SPDX-License-Identifier: MIT */
/* An immutable in-memory snapshot of the registry's configuration: cameras, relays with
 * their live keys, viewer users with their grants. The router reads it on every request
 * (no SQLite on the redirect path); broker_reload() builds a new one when the registry's
 * version changes and frees the old (Kamailio ds_load_db: build, swap, free). */
#ifndef RD_BROKER_CATALOG_H
#define RD_BROKER_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_limits.h"
#include "registry.h"

struct catalog; /* opaque; owned by whoever built it (catalog_free) */

/* A camera as the router needs it. Upstream URL and credentials are NOT here: they leave the
 * registry only on the authenticated relay channel (ARCHITECTURE.md §4.3). */
struct catalog_camera {
    char id[RD_CAMERA_ID_MAX + 1];
    char site_id[RD_SITE_ID_MAX + 1];
    uint32_t max_relays;
    bool auth_required;
    bool enabled;
    bool always_on;
};

struct catalog_relay {
    struct reg_relay relay;                      /* configuration row */
    struct reg_relay_key keys[RD_REG_LIVE_KEYS]; /* live keys, newest (signing) first */
    uint32_t n_keys;
};

struct catalog_user {
    struct reg_user user; /* name, realm, HA1 values */
    uint32_t first_grant; /* index into the catalog's grant list */
    uint32_t n_grants;
};

/* Builds a snapshot from reg. Returns RD_OK with *out owned by the caller, RD_EDB or
 * RD_ENOMEM (logged by the registry / here). */
int catalog_load(struct registry *reg, struct catalog **out);
void catalog_free(struct catalog *cat);

/* The registry version the snapshot was built from. */
uint64_t catalog_version(const struct catalog *cat);

/* Lookups: binary search, O(log n). Returned pointers live as long as the catalog. NULL =
 * unknown. */
const struct catalog_camera *catalog_camera(const struct catalog *cat, const char *id);
const struct catalog_relay *catalog_relay(const struct catalog *cat, const char *id);
const struct catalog_user *catalog_user(const struct catalog *cat, const char *name);
/* Whether user may view camera_id (a grant exists). */
bool catalog_user_may_view(const struct catalog *cat, const struct catalog_user *u,
                           const char *camera_id);

/* The key to mint r's viewer tokens with (docs/relay-channel.md, "Keys and rotation"): the
 * newest live key whose kid is among held[0..n_held) (the kids the relay reported holding in
 * its last heartbeat); the newest key when !reported (an older relay that does not say) or
 * when it holds none of the live keys. NULL when r has no live key. held is borrowed for the
 * call; the result points into r. No allocation. */
const struct reg_relay_key *catalog_relay_signing_key(const struct catalog_relay *r, bool reported,
                                                      const char *const *held, size_t n_held);

/* Iteration in id order (admin page, relay_view sync). */
size_t catalog_relay_count(const struct catalog *cat);
const struct catalog_relay *catalog_relay_at(const struct catalog *cat, size_t i);
size_t catalog_camera_count(const struct catalog *cat);
const struct catalog_camera *catalog_camera_at(const struct catalog *cat, size_t i);

#endif
