/* SPDX-License-Identifier: MIT */
/* The rtsp-relay process context: configuration, keys, the loop and the modules it wires
 * together (packet pool, fanout, UDP ports, camera table, viewer server, broker client,
 * status HTTP), the periodic tick, signals and shutdown. */
#ifndef RD_RELAY_RELAY_H
#define RD_RELAY_RELAY_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "bclient.h"
#include "cameras.h"
#include "conf.h"
#include "errbuf.h"
#include "fanout.h"
#include "pktpool.h"
#include "rd_limits.h"
#include "udp_ports.h"
#include "url_token.h"
#include "vserver.h"

struct status_http;

/* Configuration keys (relay_conf.c holds the table; see docs/relay.md). */
struct relay_conf {
    char relay_id[RD_RELAY_ID_MAX + 1];
    char site[RD_SITE_ID_MAX + 1];
    char key_id[RD_TOKEN_KID_MAX + 1];         /* kid of key_file (from `relay add`) */
    char key_file[RD_CONF_MAX_VALUE + 1];      /* the relay key (0600) */
    char prev_key_id[RD_TOKEN_KID_MAX + 1];    /* "" or the kid before a rotation */
    char prev_key_file[RD_CONF_MAX_VALUE + 1]; /* its key file */
    char broker_url[RD_CONF_MAX_VALUE + 1];    /* "http://host:port", "" = stand-alone */
    char public_url[RD_CONF_MAX_VALUE + 1];    /* RTSP base viewers reach, for reports */
    struct conf_listen rtsp_listen;            /* default 0.0.0.0:8555 */
    struct conf_listen status_listen;          /* default 127.0.0.1:9555 */
    char udp_ports[32];                        /* "LO-HI" */
    uint64_t capacity;                         /* viewers reported to the broker */
    uint64_t capacity_egress_mbps;             /* 0 = not reported */
    uint64_t heartbeat_interval_ms;
    uint64_t max_conns; /* viewer connections */
    uint64_t session_timeout_s;
    char sources_file[RD_CONF_MAX_VALUE + 1]; /* stand-alone camera sources, "" = none */
    char log_file[RD_CONF_MAX_VALUE + 1];
    int log_level;
};

struct relay {
    struct relay_conf conf;
    struct ev_loop *loop;
    double started_at; /* ev_now() */
    char boot_id[33];

    struct url_token_key key, prev_key;            /* prev_key.kid[0] == 0 when none */
    struct url_token_keyring keys;                 /* what vserver verifies tokens with */
    char broker_signing_kid[RD_TOKEN_KID_MAX + 1]; /* last signing_kid the broker named */
    char operator_state[16];                       /* from the broker: active/draining/... */
    uint64_t registry_version;
    bool draining; /* SIGTERM received */

    struct pktpool pool;
    bool pool_ready;
    struct fanout *fanout;
    struct udp_ports *ports;
    struct cameras *cameras;
    struct vserver *vserver;
    struct bclient *broker; /* NULL when stand-alone */
    struct status_http *status;

    /* Rates for heartbeats and /api/v1/status, updated by the tick. */
    double rate_at; /* ev_now() of the last sample */
    uint64_t rate_bytes_out;
    double rate_cpu_s;
    uint32_t egress_kbps;
    double cpu_pct;

    ev_timer tick;       /* once a second: rates, pool trim */
    ev_timer stop_timer; /* shutdown grace */
    double stop_deadline;
    ev_signal sigterm, sigint, sighup;
};

/* relay_conf.c */
extern const struct conf_table relay_conf_table;
int relay_conf_defaults(struct relay_conf *c, struct rd_errbuf *err);
/* Cross-key checks: relay_id and key_file required, udp_ports parses, broker_url is http://.
 * Returns RD_OK or RD_EPROTO with err naming the key. */
int relay_conf_check(const struct relay_conf *c, struct rd_errbuf *err);
/* Parses "LO-HI" (1024..65535, LO < HI). */
int relay_conf_udp_ports(const char *text, uint16_t *lo, uint16_t *hi);
/* Reads the key files into r->key / r->prev_key and r->keys. Returns RD_OK or an error with
 * err naming the file (the key itself is never printed). */
int relay_load_keys(struct relay *r, struct rd_errbuf *err);

/* sources.c: the stand-alone sources file (docs/relay.md): calls fn for each camera line
 * (fn NULL: only check the file).
 * Returns RD_OK, or RD_EPROTO/RD_EIO with err naming the line; nothing is applied then. */
int relay_sources_load(const char *path, int (*fn)(void *arg, const struct camera_source *src),
                       void *arg, struct rd_errbuf *err);
/* The same over the text buf[0..len) (what names it in errors). Never reads past len. */
int relay_sources_parse(const char *what, const char *buf, size_t len,
                        int (*fn)(void *arg, const struct camera_source *src), void *arg,
                        struct rd_errbuf *err);

/* relay.c */
/* Sets up every module on loop from r->conf. Returns RD_OK or an error with err filled (then
 * relay_close cleans up what was made). */
int relay_start(struct relay *r, struct ev_loop *loop, struct rd_errbuf *err);
/* SIGTERM/SIGINT: stop accepting, tell the broker we are draining, close viewers, then break
 * the loop (at most RD_SHUTDOWN_GRACE_S later). */
void relay_shutdown(struct relay *r);
/* SIGHUP: reopen logs, reload keys and the sources file. */
void relay_reload(struct relay *r);
/* The same, taking the key settings (key_id, key_file, prev_key_id, prev_key_file) from fresh,
 * the configuration file read again and checked by the caller (a rotation changes them; the
 * other settings need a restart). When the keys do not load, the old settings and keys stay.
 * fresh NULL: relay_reload(). fresh is borrowed for the call. */
void relay_reload_conf(struct relay *r, const struct relay_conf *fresh);
/* Frees everything (after the loop returned or a failed start). */
void relay_close(struct relay *r);

/* Snapshot used by the heartbeat and the status API. */
struct relay_load {
    uint32_t conns, sessions, viewers; /* viewers = sessions playing */
    uint32_t egress_kbps;
    double cpu_pct;
    uint32_t cameras, pulling; /* in the table / being pulled */
};
void relay_load(const struct relay *r, struct relay_load *out);

#endif
