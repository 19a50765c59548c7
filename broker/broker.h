/* SPDX-License-Identifier: MIT */
/* struct broker: the process context of rtsp-broker, handed to every module (listener,
 * router, admin, cli). It owns every long-lived object; main.c creates and destroys them in
 * that order. One thread, one ev_loop: nothing here is locked. */
#ifndef RD_BROKER_BROKER_H
#define RD_BROKER_BROKER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "metrics.h"
#include "rd_limits.h"

struct registry;
struct relay_view;
struct catalog;
struct listener;
struct admin;
struct router_self;
struct policy_candidate;
struct broker_flush;
struct rd_rand_pool;
struct broker_writer;
struct registry_stats;

/* The configuration file (broker_conf.c holds the table: keys, bounds, defaults, help). */
struct broker_conf {
    char database[RD_CONF_MAX_VALUE + 1];         /* SQLite registry path */
    struct conf_listen rtsp_listen;               /* default 0.0.0.0:8554 */
    struct conf_listen admin_listen;              /* default 127.0.0.1:8080 */
    char admin_token_file[RD_CONF_MAX_VALUE + 1]; /* bearer token (mode 0600); "" = none,
                                                   * allowed only on loopback */
    char log_file[RD_CONF_MAX_VALUE + 1];         /* "" = stderr */
    int log_level;                                /* enum log_level */
    char realm[RD_AUTH_MAX_REALM + 1];            /* Digest realm for viewers */
    uint64_t token_ttl_s;                         /* viewer token lifetime, <= RD_TOKEN_TTL_MAX_S */
    uint64_t heartbeat_interval_ms;               /* expected relay heartbeat interval */
    uint64_t unhealthy_after;                     /* missed intervals */
    uint64_t healthy_after;                       /* good beats */
    uint64_t retry_after_s;                       /* Retry-After on 503 */
    uint64_t max_conns;                           /* <= RD_BROKER_MAX_CONNS */
    uint64_t max_conns_per_ip;                    /* <= RD_BROKER_MAX_CONNS_PER_IP */
    uint64_t idle_s;                              /* connection without a request */
    uint64_t defer_accept_s;                      /* TCP_DEFER_ACCEPT, 0 = off */
    bool token_bind_ip;                           /* bind viewer tokens to the viewer's IP
                                                   * (off: NAT and proxies change it) */
    char public_names[RD_CONF_MAX_VALUE + 1];     /* "host[:port],..." viewers use to reach
                                                   * this broker: a relay URL naming one is
                                                   * refused (redirect loop) */
};

/* Why a redirect was or was not given, for the decision ring, the admin page and history. */
struct broker_decision {
    int64_t at_ms;                        /* unix ms */
    char camera_id[RD_CAMERA_ID_MAX + 1]; /* "" when the request named no valid camera */
    char relay_id[RD_RELAY_ID_MAX + 1];   /* "" when no relay was chosen */
    uint16_t status;                      /* RTSP status answered: 302, 401, 404, 503 */
    char reason[RD_REG_REASON_MAX + 1];   /* policy_reason_name() or "unknown_camera", ... */
    char client[RD_REG_CLIENT_MAX + 1];   /* viewer ip:port */
};

/* The newest decisions, in memory (the admin page) and pending their flush to the registry
 * history (unflushed counts those not yet written). */
#define BROKER_DECISIONS_KEPT 256
struct broker_decisions {
    struct broker_decision ring[BROKER_DECISIONS_KEPT];
    uint32_t next;       /* slot of the next decision */
    uint32_t count;      /* valid slots, <= BROKER_DECISIONS_KEPT */
    uint32_t unflushed;  /* newest decisions not yet written to the registry */
    uint64_t overflowed; /* decisions dropped from history because flushes fell behind */
};

struct broker {
    struct ev_loop *loop;
    struct broker_conf conf;
    struct registry *reg;    /* owned; the only SQLite handle of the daemon */
    struct catalog *cat;     /* owned; in-memory snapshot of the registry's configuration,
                              * replaced (build new, swap, free old) when its version changes */
    struct relay_view *view; /* owned; soft state from heartbeats */
    struct listener *rtsp;   /* owned; the RTSP listener */
    struct admin *admin;     /* owned; the admin HTTP server */
    struct metrics metrics;  /* counters, read by /metrics and the admin page */
    struct broker_decisions decisions;
    uint8_t nonce_key[32]; /* Digest nonce secret, random per boot */
    char admin_token[128]; /* bearer token from admin_token_file; "" = none */
    bool db_degraded;      /* the last registry write failed (disk full, busy, ...):
                            * redirects go on from memory; shown on /healthz and the page */
    double started_at;     /* broker_now() at start */
    ev_timer tick;         /* every second: relay_view_tick, flush to the registry, reload
                            * the catalog when the registry version changed */
    ev_signal sigterm, sigint, sighup;
    /* Added by the daemon core (broker.c): */
    struct router_self *self;       /* owned; host:port pairs that mean this broker */
    struct policy_candidate *cands; /* owned; router scratch, RD_BROKER_MAX_RELAYS entries */
    struct broker_flush *flush;     /* owned; registry flusher state */
    bool stopping;                  /* SIGTERM/SIGINT seen: draining connections */
    double stop_deadline;           /* broker_now() after which the loop ends anyway */
    ev_timer stop_timer;            /* polls the drain while stopping */
    /* Added for performance (issue 3, docs/benchmarks.md): */
    struct rd_rand_pool *jti_pool; /* owned; token jti bytes, one CSPRNG call per 512 tokens */
    struct broker_writer *writer;  /* owned; the registry writer thread (broker_start), or NULL:
                                    * soft-state flushes then run on the loop */
};

/* Records a decision in the ring (router and admin). Borrows d. */
void broker_decision_add(struct broker *b, const struct broker_decision *d);

/* Rebuilds the catalog from the registry now (after an admin API write, or when the tick sees
 * a new registry version) and syncs the relay view's registered relays. Returns RD_OK, or
 * RD_EDB with the old catalog kept (logged once where detected). */
int broker_reload(struct broker *b);

/* The broker's clock for relay health, reservations and heartbeats: CLOCK_MONOTONIC seconds
 * (relay_view's "now"; never ev_now(), which follows the wall clock). Every caller of
 * relay_view_* (router, admin heartbeats, tick) must use this one. */
double broker_now(const struct broker *b);

/* Wall clock in unix milliseconds (tokens, nonces, decision times, registry rows). */
int64_t broker_wall_ms(void);

/* Process setup, in order (main.c): broker_init (zeroes b, conf copied, metrics, random nonce
 * key), broker_open (registry opened or created, live state reset, catalog loaded, relay view
 * created and synced, self addresses), broker_start (RTSP listener and the 1 s tick on loop).
 * Each returns RD_OK or an error with err filled (main prints it once and exits 1).
 * broker_close frees everything that was set up (safe after a failure at any step). */
int broker_init(struct broker *b, struct ev_loop *loop, const struct broker_conf *conf,
                struct rd_errbuf *err);
int broker_open(struct broker *b, struct rd_errbuf *err);
int broker_start(struct broker *b, struct rd_errbuf *err);
void broker_close(struct broker *b);

/* Reads conf.admin_token_file into b->admin_token (trailing newline dropped; "" when no file is
 * configured). The file must be a regular file without group/other access, hold 32-127
 * printable characters. Returns RD_OK, or RD_EIO/RD_EPROTO/RD_ELIMIT with err filled and
 * b->admin_token unchanged. */
int broker_read_admin_token(struct broker *b, struct rd_errbuf *err);

/* One tick now (the 1 s timer calls it; tests call it directly): health transitions logged
 * and counted, catalog reloaded when the registry version moved, then the flush: handed to the
 * registry writer thread when broker_start started one (skipped while its previous batch is
 * still being written; the result is applied on the loop when it is done), else broker_flush. */
void broker_tick(struct broker *b);

/* Writes what changed since the last flush (pairs, loads, a load sample every
 * RD_REG_SAMPLE_INTERVAL_S, unflushed decisions) in one registry transaction on the loop's
 * connection, now (first waiting for the writer thread's batch in flight, if any: shutdown
 * and tests get everything written when it returns); after a failure
 * the next successful flush rewrites the whole mapping. Sets db_degraded on failure and clears
 * it on success (each change logged once). Returns RD_OK (also when there was nothing to
 * write) or RD_EDB. */
int broker_flush(struct broker *b);

/* Starts the registry writer thread (broker_start calls it; tests call it directly): soft-state
 * flushes of the tick then run on their own connection, off the loop (see broker_tick). The
 * thread opens its connection itself; if that fails (logged once) or the thread cannot start,
 * or the database is ":memory:" (no second connection to it), flushes stay on the loop. */
void broker_writer_start(struct broker *b);

/* Statistics of the registry connections: the loop's and the writer thread's, added up. */
void broker_registry_stats(const struct broker *b, struct registry_stats *out);

/* SIGTERM/SIGINT: stop accepting, close idle connections, let pending responses finish for at
 * most RD_SHUTDOWN_GRACE_S, then flush and end the loop. Idempotent. */
void broker_shutdown(struct broker *b);

#endif
