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
    double started_at;     /* ev_now() at start */
    ev_timer tick;         /* every second: relay_view_tick, flush to the registry, reload
                            * the catalog when the registry version changed */
    ev_signal sigterm, sigint, sighup;
};

/* Records a decision in the ring (router and admin). Borrows d. */
void broker_decision_add(struct broker *b, const struct broker_decision *d);

/* Rebuilds the catalog from the registry now (after an admin API write, or when the tick sees
 * a new registry version) and syncs the relay view's registered relays. Returns RD_OK, or
 * RD_EDB with the old catalog kept (logged once where detected). */
int broker_reload(struct broker *b);

#endif
