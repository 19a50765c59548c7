/* SPDX-License-Identifier: MIT */
/* The broker's SQLite registry (ARCHITECTURE.md §4.4): cameras, sites, relays and their keys,
 * viewer users, the live camera<->relay mapping and bounded history. The only module that
 * includes sqlite3.h. Every function copies rows into caller-owned structs; none blocks longer
 * than RD_REG_BUSY_TIMEOUT_MS waiting for another connection. Not thread-safe: one handle per
 * thread (each daemon has one loop thread). */
#ifndef RD_BROKER_REGISTRY_H
#define RD_BROKER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_limits.h"

struct registry; /* opaque handle: one SQLite connection with its prepared statements */

/* What went wrong when a call returned RD_EDB (registry_last_fail). */
enum reg_fail {
    REG_FAIL_NONE = 0,
    REG_FAIL_EXISTS,     /* duplicate id / name (admin API: 409) */
    REG_FAIL_REFERENCE,  /* unknown site/relay/camera/user, or the row is still referenced */
    REG_FAIL_CONSTRAINT, /* a CHECK or trigger in the schema refused the row */
    REG_FAIL_BUSY,       /* another connection held the write lock past the busy timeout */
    REG_FAIL_FULL,       /* disk or max size full (admin API: 507); nothing was written */
    REG_FAIL_READONLY,   /* file or file system is read-only */
    REG_FAIL_CORRUPT,    /* not a database, failed quick_check, or an unexpected row */
    REG_FAIL_SCHEMA,     /* the database is newer than this binary, or a migration failed */
    REG_FAIL_IO,         /* other I/O error, or the file could not be opened */
    REG_FAIL_OTHER,
};

enum reg_transport { REG_TRANSPORT_AUTO = 0, REG_TRANSPORT_TCP, REG_TRANSPORT_UDP };
enum reg_relay_state { REG_RELAY_ACTIVE = 0, REG_RELAY_DRAINING, REG_RELAY_DISABLED };
enum reg_pull_state { REG_PULL_STARTING = 0, REG_PULL_PLAYING, REG_PULL_RETRYING, REG_PULL_FAILED };

struct reg_site {
    char id[RD_SITE_ID_MAX + 1]; /* [A-Za-z0-9_-]{1,64} */
    char name[RD_REG_NAME_MAX + 1];
    int64_t created_at; /* unix s; ignored on add */
};

struct reg_camera {
    char id[RD_CAMERA_ID_MAX + 1]; /* [A-Za-z0-9_-]{1,64} */
    char name[RD_REG_NAME_MAX + 1];
    char site_id[RD_SITE_ID_MAX + 1];
    char upstream_url[RD_REG_URL_MAX + 1];       /* rtsp[s]://host[:port]/path, no user info */
    char upstream_user[RD_REG_CRED_MAX + 1];     /* secret: never log or show */
    char upstream_password[RD_REG_CRED_MAX + 1]; /* secret: never log or show */
    enum reg_transport transport;
    uint32_t max_relays; /* 1..RD_REG_MAX_RELAYS_PER_CAMERA relays pulling it at once */
    bool auth_required;  /* viewers need Digest and a grant (registry_user_may_view) */
    bool enabled;
    bool always_on;     /* pulled even without viewers */
    int64_t created_at; /* unix s; ignored on add/update */
    int64_t updated_at; /* unix s; ignored on add/update */
};

struct reg_relay {
    char id[RD_RELAY_ID_MAX + 1]; /* [A-Za-z0-9_-]{1,64} */
    char name[RD_REG_NAME_MAX + 1];
    char site_id[RD_SITE_ID_MAX + 1];  /* "" = serves every site */
    char base_url[RD_REG_URL_MAX + 1]; /* rtsp[s]://host[:port], nothing after the port */
    uint32_t capacity_viewers;         /* 1..RD_REG_MAX_CAPACITY_VIEWERS */
    uint32_t capacity_mbps;            /* egress, 1..RD_REG_MAX_CAPACITY_MBPS */
    enum reg_relay_state state;        /* operator state */
    int64_t created_at;                /* unix s; ignored on add/update */
    int64_t updated_at;                /* unix s; ignored on add/update */
};

struct reg_relay_key {
    char kid[RD_TOKEN_KID_MAX + 1];
    uint8_t key[RD_TOKEN_KEY_BYTES]; /* secret: never log */
    uint32_t gen;                    /* 1 for the first key, +1 per rotation */
    int64_t created_at;              /* unix s */
};

struct reg_user {
    char name[RD_AUTH_MAX_USERNAME + 1]; /* printable ASCII without ':' '"' '\' */
    char realm[RD_AUTH_MAX_REALM + 1];   /* printable ASCII without '"' '\' */
    char ha1_md5[2 * 16 + 1];            /* lower hex of MD5(name:realm:password) */
    char ha1_sha256[2 * 32 + 1];         /* lower hex of SHA-256(name:realm:password) */
    int64_t created_at;                  /* unix s; ignored on add */
};

/* One camera pulled by one relay (a relay_cameras row). */
struct reg_pair {
    char camera_id[RD_CAMERA_ID_MAX + 1];
    char relay_id[RD_RELAY_ID_MAX + 1];
    enum reg_pull_state state;
    uint32_t viewers;
    uint32_t ingress_kbps;
    int64_t since;      /* unix s the pair appeared; 0 on flush = batch now; kept on update */
    int64_t updated_at; /* unix s of the flush that wrote it; ignored on flush */
};

/* A pair to delete; camera_id "" deletes every pair of the relay. */
struct reg_pair_key {
    char camera_id[RD_CAMERA_ID_MAX + 1];
    char relay_id[RD_RELAY_ID_MAX + 1];
};

/* A relay's latest load (relay_load row; also the shape of one load sample). */
struct reg_load {
    char relay_id[RD_RELAY_ID_MAX + 1];
    bool draining; /* the relay reported state draining */
    bool healthy;  /* broker's verdict (heartbeat hysteresis) */
    uint32_t viewers;
    uint32_t egress_kbps;
    double cpu_pct;    /* >= 0; may exceed 100 on several cores */
    int64_t last_seen; /* unix s of the last accepted heartbeat; for samples: sample time */
};

/* One placement decision (history). */
struct reg_decision {
    int64_t at_ms;                        /* unix ms */
    char camera_id[RD_CAMERA_ID_MAX + 1]; /* may be "" (malformed id) */
    char relay_id[RD_RELAY_ID_MAX + 1];   /* "" = no relay chosen */
    uint16_t status;                      /* RTSP status answered: 302, 404, 503, ... */
    char reason[RD_REG_REASON_MAX + 1];   /* printable ASCII: "affinity", "no_candidate" */
    char client[RD_REG_CLIENT_MAX + 1];   /* viewer address, printable ASCII, may be "" */
};

/* Everything one flush writes, in ONE transaction (call it at most about once a second).
 * All arrays are borrowed for the call; rows naming a relay or camera the registry does not
 * know (deleted meanwhile) are skipped and counted in registry_stats.rows_skipped. */
struct registry_load_batch {
    int64_t now;                  /* unix s: updated_at, sample time, retention */
    const struct reg_pair *pairs; /* added or changed pairs (upsert) */
    size_t n_pairs;
    const struct reg_pair_key *removed; /* pairs that ended */
    size_t n_removed;
    const struct reg_load *loads; /* relays whose latest load changed (upsert) */
    size_t n_loads;
    bool take_sample; /* also copy every relay_load row into load_samples at now */
    const struct reg_decision *decisions; /* appended to history */
    size_t n_decisions;
};

struct registry_stats {
    uint64_t commits;        /* write transactions committed by this handle */
    uint64_t flushes;        /* registry_flush_load calls that committed */
    uint64_t flush_failures; /* ... that failed (nothing of the batch was written) */
    uint64_t rows_skipped;   /* batch rows naming unknown relays/cameras */
};

/* Row callbacks for the list functions: row is a copy valid during the call only. Return 0 to
 * continue, non-zero to stop (the list function then returns RD_OK). A callback must not call
 * into the same registry handle: the listing statement is still running. */
typedef int registry_site_fn(void *arg, const struct reg_site *row);
typedef int registry_camera_fn(void *arg, const struct reg_camera *row);
typedef int registry_relay_fn(void *arg, const struct reg_relay *row);
typedef int registry_user_fn(void *arg, const struct reg_user *row);
typedef int registry_grant_fn(void *arg, const char *camera_id);
typedef int registry_pair_fn(void *arg, const struct reg_pair *row);
typedef int registry_decision_fn(void *arg, const struct reg_decision *row);
typedef int registry_sample_fn(void *arg, const struct reg_load *row);

/* ---- Open, close, errors ---------------------------------------------------------------- */

/* Opens (creating with mode 0600 if missing, and removing group/other access from an existing
 * file: it holds camera credentials and relay keys) the registry at path, sets WAL,
 * synchronous=FULL, foreign_keys=ON and the busy timeout, runs quick_check, applies the
 * embedded migrations newer than PRAGMA user_version (each in its own transaction) and
 * prepares every statement. ":memory:" opens a private in-memory registry (tests).
 * Returns RD_OK with *out owned by the caller (registry_close), or RD_EDB / RD_EIO with a
 * NUL-terminated message in err[err_cap] (a database newer than this binary is refused). */
int registry_open(const char *path, struct registry **out, char *err, size_t err_cap);

/* Finalizes the statements and closes the connection. NULL is a no-op. */
void registry_close(struct registry *reg);

/* Text of the last failure of any call on reg ("camera add 'lobby': UNIQUE constraint failed:
 * cameras.id (already exists)"). Never contains secrets. Valid until the next call on reg. */
const char *registry_errmsg(const struct registry *reg);

/* Caps this connection's page cache at kib KiB (PRAGMA cache_size; SQLite's default is 2 MiB
 * per connection). The registry writer's connection only appends soft state, so a small
 * cache costs it nothing and keeps the daemon's RSS down. Returns RD_OK or RD_EDB. */
int registry_cache_limit(struct registry *reg, unsigned kib);

/* Refines the last RD_EDB; REG_FAIL_NONE after a success. */
enum reg_fail registry_last_fail(const struct registry *reg);

/* Highest migration number compiled into this binary (the user_version it migrates to). */
unsigned registry_schema_latest(void);

/* Registry version: bumped by every configuration change (sites, cameras, relays, keys, users,
 * grants), also by edits made with plain sqlite3. Returns RD_OK or RD_EDB. */
int registry_version(struct registry *reg, uint64_t *out);

/* Runs PRAGMA integrity_check. Returns RD_OK if it says "ok", RD_EDB otherwise. Slow on big
 * files: for the CLI and tests, not the event loop. */
int registry_check(struct registry *reg);

/* Caps the database file at about max_bytes (PRAGMA max_page_count; 0 = SQLite's default).
 * Writes past it fail with RD_EDB / REG_FAIL_FULL and write nothing, so history cannot fill a
 * disk. Returns RD_OK or RD_EDB. */
int registry_set_max_bytes(struct registry *reg, uint64_t max_bytes);

/* Copies this handle's counters into *out. */
void registry_stats_get(const struct registry *reg, struct registry_stats *out);

/* Names and parsers of the enums as stored in the database ("auto", "draining", "playing").
 * Parsers return RD_OK or RD_EPROTO for an unknown name. */
const char *registry_transport_name(enum reg_transport t);
int registry_transport_parse(const char *s, enum reg_transport *out);
const char *registry_relay_state_name(enum reg_relay_state s);
int registry_relay_state_parse(const char *s, enum reg_relay_state *out);
const char *registry_pull_state_name(enum reg_pull_state s);
int registry_pull_state_parse(const char *s, enum reg_pull_state *out);

/* ---- Configuration: every write is atomic and bumps the registry version -------------------
 * Common returns: RD_OK; RD_EPROTO (a field is malformed) or RD_ELIMIT (too long / out of
 * range), checked before the database is touched; RD_ENOTFOUND (no row with that id);
 * RD_EDB (see registry_last_fail: EXISTS, REFERENCE, BUSY, FULL, ...). registry_errmsg says
 * which field or row. String arguments are NUL-terminated and borrowed for the call. */

int registry_site_add(struct registry *reg, const struct reg_site *site);
int registry_site_get(struct registry *reg, const char *id, struct reg_site *out);
/* Fails with RD_EDB / REG_FAIL_REFERENCE while cameras or relays belong to the site. */
int registry_site_rm(struct registry *reg, const char *id);
int registry_site_list(struct registry *reg, registry_site_fn *cb, void *arg);

/* Adds a camera; site_id "" means the "default" site. Timestamps are ignored. */
int registry_camera_add(struct registry *reg, const struct reg_camera *cam);
/* Replaces every field of camera cam->id but created_at. */
int registry_camera_update(struct registry *reg, const struct reg_camera *cam);
int registry_camera_get(struct registry *reg, const char *id, struct reg_camera *out);
/* Deletes the camera with its grants and mapping rows (decisions history stays). */
int registry_camera_rm(struct registry *reg, const char *id);
int registry_camera_set_enabled(struct registry *reg, const char *id, bool enabled);
/* Lists cameras ordered by id; site_id NULL lists every site. */
int registry_camera_list(struct registry *reg, const char *site_id, registry_camera_fn *cb,
                         void *arg);

/* Adds a relay with a fresh 256-bit key (generation 1, random kid), in one transaction, and
 * copies that key into *key_out: the only time the key leaves the registry through the CLI,
 * which prints it once for the relay's key file. */
int registry_relay_add(struct registry *reg, const struct reg_relay *relay,
                       struct reg_relay_key *key_out);
/* Replaces name, site, base URL, capacities and state of relay relay->id. */
int registry_relay_update(struct registry *reg, const struct reg_relay *relay);
int registry_relay_get(struct registry *reg, const char *id, struct reg_relay *out);
/* Deletes the relay with its keys, mapping rows, latest load and samples. */
int registry_relay_rm(struct registry *reg, const char *id);
/* Operator state: active, draining (no new viewers), disabled. */
int registry_relay_set_state(struct registry *reg, const char *id, enum reg_relay_state state);
int registry_relay_list(struct registry *reg, registry_relay_fn *cb, void *arg);
/* Creates a new key (next generation, random kid) that signs from now on, keeps the previous
 * signing key live for verification and retires (zeroes) every older key, in one transaction.
 * Copies the new key into *key_out. */
int registry_relay_rotate_key(struct registry *reg, const char *id, struct reg_relay_key *key_out);
/* Copies the relay's live keys into out[], newest (signing) first; *n gets 1 or 2.
 * RD_ENOTFOUND if the relay has no live key (or does not exist). */
int registry_relay_keys(struct registry *reg, const char *id,
                        struct reg_relay_key out[RD_REG_LIVE_KEYS], size_t *n);

/* Fills u->ha1_md5 and u->ha1_sha256 from u->name, u->realm and password (RFC 7616 §3.4.2).
 * Does not touch the database. Returns RD_OK, RD_EPROTO/RD_ELIMIT for a bad name or realm, or
 * RD_EIO if libcrypto fails. */
int registry_user_ha1(struct reg_user *u, const char *password);
int registry_user_add(struct registry *reg, const struct reg_user *user);
int registry_user_get(struct registry *reg, const char *name, struct reg_user *out);
/* Deletes the user and its grants. */
int registry_user_rm(struct registry *reg, const char *name);
int registry_user_list(struct registry *reg, registry_user_fn *cb, void *arg);
/* Allows user to view camera (idempotent). RD_EDB / REG_FAIL_REFERENCE if either is unknown. */
int registry_user_grant(struct registry *reg, const char *user, const char *camera_id);
/* RD_ENOTFOUND if there was no such grant. */
int registry_user_revoke(struct registry *reg, const char *user, const char *camera_id);
/* Sets *allowed. RD_OK also when the user or camera does not exist (then *allowed = false). */
int registry_user_may_view(struct registry *reg, const char *user, const char *camera_id,
                           bool *allowed);
/* Lists the cameras granted to user, ordered by id. */
int registry_user_grants(struct registry *reg, const char *user, registry_grant_fn *cb, void *arg);

/* ---- Live state and history (no registry version bump) ---------------------------------- */

/* Writes batch in ONE transaction: upserts pairs (since kept for existing rows), deletes
 * removed pairs, upserts loads, optionally samples every relay_load row, appends decisions,
 * then trims history (decisions to RD_REG_DECISIONS_KEEP, samples older than
 * RD_REG_SAMPLE_RETENTION_S before batch->now or past RD_REG_SAMPLES_MAX_ROWS).
 * Returns RD_OK; RD_EPROTO/RD_ELIMIT for a malformed row (nothing written); RD_EDB when the
 * database refuses (busy, full, read-only): then nothing of the batch was written, the
 * transaction is rolled back and the caller keeps its state in memory and retries later. */
int registry_flush_load(struct registry *reg, const struct registry_load_batch *batch);

/* Deletes every mapping row and latest load: the daemon calls it at start, since the relays'
 * state before the restart is unknown until their next heartbeat. */
int registry_live_reset(struct registry *reg);

/* Lists mapping rows ordered by camera then relay; relay_id / camera_id NULL = any. */
int registry_pair_list(struct registry *reg, const char *relay_id, const char *camera_id,
                       registry_pair_fn *cb, void *arg);
/* Lists up to limit decisions, newest first; camera_id NULL = all cameras. */
int registry_decision_list(struct registry *reg, const char *camera_id, unsigned limit,
                           registry_decision_fn *cb, void *arg);
/* Lists the load samples of relay_id taken at or after since (unix s), oldest first;
 * row->last_seen is the sample time. */
int registry_sample_list(struct registry *reg, const char *relay_id, int64_t since,
                         registry_sample_fn *cb, void *arg);

#endif
