/* SPDX-License-Identifier: MIT */
/* rtsp-broker's configuration table and the checks that span several keys. */
#include "broker_conf.h"

#include <stddef.h>
#include <string.h>

#include "log.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "rd_str.h"

/* ARCHITECTURE.md §5 defaults; upper bounds are the hard caps of rd_limits.h. */
static const struct conf_item broker_items[] = {
    CONF_STRING_ITEM(struct broker_conf, database, 1, "./registry.db",
                     "SQLite registry file (created if missing, mode 0600)"),
    CONF_LISTEN_ITEM(struct broker_conf, rtsp_listen, 0, 65535, "0.0.0.0:8554",
                     "RTSP listener viewers connect to (ip:port or [ipv6]:port)"),
    CONF_LISTEN_ITEM(struct broker_conf, admin_listen, 0, 65535, "127.0.0.1:8080",
                     "admin HTTP: page, JSON API, metrics, relay heartbeats"),
    CONF_PATH_ITEM(struct broker_conf, admin_token_file, 0, "",
                   "file holding the admin bearer token (mode 0600); required beyond loopback"),
    CONF_PATH_ITEM(struct broker_conf, log_file, 0, "",
                   "log file (reopened on SIGHUP); empty: stderr"),
    CONF_ENUM_ITEM(struct broker_conf, log_level, log_level_names, "info",
                   "err, warn, notice, info or debug"),
    CONF_STRING_ITEM(struct broker_conf, realm, 1, "rtsp-director",
                     "Digest realm for viewers (users' HA1 values are bound to it)"),
    CONF_UINT_ITEM(struct broker_conf, token_ttl_s, 1, RD_TOKEN_TTL_MAX_S, "60",
                   "lifetime of the viewer token in each redirect, seconds"),
    CONF_BOOL_ITEM(struct broker_conf, token_bind_ip, "false",
                   "bind viewer tokens to the viewer's IP (breaks viewers behind changing NAT)"),
    CONF_UINT_ITEM(struct broker_conf, heartbeat_interval_ms, 100, 60000, "1000",
                   "relay heartbeat interval the health rules count in, milliseconds"),
    CONF_UINT_ITEM(struct broker_conf, unhealthy_after, 1, 100, "3",
                   "missed heartbeat intervals before a relay is unhealthy"),
    CONF_UINT_ITEM(struct broker_conf, healthy_after, 1, 100, "2",
                   "consecutive good heartbeats before a relay is healthy again"),
    CONF_UINT_ITEM(struct broker_conf, retry_after_s, 1, 3600, "5",
                   "Retry-After of a 503 (no relay available), seconds"),
    CONF_UINT_ITEM(struct broker_conf, max_conns, 1, RD_BROKER_MAX_CONNS, "20000",
                   "open RTSP connections in total; more are closed at once"),
    CONF_UINT_ITEM(struct broker_conf, max_conns_per_ip, 1, RD_BROKER_MAX_CONNS_PER_IP, "100",
                   "open RTSP connections per source IP; more are closed at once"),
    CONF_UINT_ITEM(struct broker_conf, idle_s, 1, RD_IDLE_BROKER_S, "10",
                   "seconds an RTSP connection may wait between requests"),
    CONF_UINT_ITEM(struct broker_conf, defer_accept_s, 0, RD_DEADLINE_FIRST_BYTE_S, "1",
                   "seconds the kernel holds a new RTSP connection until its first request "
                   "(TCP_DEFER_ACCEPT); 0: off"),
    CONF_STRING_ITEM(struct broker_conf, public_names, 0, "",
                     "host[:port],... naming this broker (a relay URL naming one is refused)"),
};

const struct conf_table broker_conf_table = CONF_TABLE(broker_items);

int
broker_conf_defaults(struct broker_conf *c, struct rd_errbuf *err)
{
    memset(c, 0, sizeof(*c));
    return conf_defaults(&broker_conf_table, c, err);
}

bool
broker_conf_is_loopback(const char *host)
{
    return strcmp(host, "::1") == 0 || strncmp(host, "127.", 4) == 0;
}

static bool
host_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
           || ch == '.' || ch == ':' || ch == '-' || ch == '_';
}

/* Parses one "host[:port]" / "[v6][:port]" entry. */
static int
public_name(struct rd_str e, unsigned default_port, char *host, size_t host_cap, unsigned *port)
{
    struct rd_str h = e, p = RD_STR_NULL;
    if (e.len > 0 && e.p[0] == '[') {
        bool found;
        struct rd_str rest = rd_str_split(rd_str_make(e.p + 1, e.len - 1), ']', &h, &found);
        if (!found)
            return RD_EPROTO;
        if (rest.len > 0) {
            if (rest.p[0] != ':')
                return RD_EPROTO;
            p = rd_str_make(rest.p + 1, rest.len - 1);
            if (p.len == 0)
                return RD_EPROTO;
        }
    } else {
        size_t colons = 0, last = 0;
        for (size_t i = 0; i < e.len; i++) {
            if (e.p[i] == ':') {
                colons++;
                last = i;
            }
        }
        if (colons == 1) {
            h = rd_str_make(e.p, last);
            p = rd_str_make(e.p + last + 1, e.len - last - 1);
            if (p.len == 0)
                return RD_EPROTO;
        } else if (colons > 1) {
            return RD_EPROTO; /* a bare IPv6 address needs brackets */
        }
    }
    if (h.len == 0 || h.len > RD_URL_MAX_HOST)
        return RD_EPROTO;
    for (size_t i = 0; i < h.len; i++) {
        if (!host_char_ok(h.p[i]))
            return RD_EPROTO;
    }
    uint32_t port32 = default_port;
    if (p.len > 0 && (rd_str_to_u32(p, 5, 65535, &port32) != RD_OK || port32 == 0))
        return RD_EPROTO;
    if (rd_str_copy(host, host_cap, h) != RD_OK)
        return RD_EPROTO;
    *port = port32;
    return RD_OK;
}

int
broker_conf_public_names(const char *names, unsigned default_port,
                         int (*fn)(void *ctx, const char *host, unsigned port), void *ctx,
                         struct rd_errbuf *err)
{
    struct rd_str rest = rd_str_cstr(names);
    if (rd_str_trim(rest).len == 0)
        return RD_OK;
    bool more = true;
    while (more) {
        struct rd_str entry;
        rest = rd_str_split(rest, ',', &entry, &more);
        entry = rd_str_trim(entry);
        char host[RD_URL_MAX_HOST + 1];
        unsigned port = 0;
        if (public_name(entry, default_port, host, sizeof(host), &port) != RD_OK) {
            char sample[LOG_SAMPLE_BUF];
            rd_errbuf_set(err, "public_names: entry %s is not host[:port] or [ipv6][:port]",
                          log_sanitize(sample, sizeof(sample), entry.p, entry.len));
            return RD_EPROTO;
        }
        if (fn != NULL) {
            int rc = fn(ctx, host, port);
            if (rc != RD_OK)
                return rc;
        }
    }
    return RD_OK;
}

int
broker_conf_check(const struct broker_conf *c, struct rd_errbuf *err)
{
    if (c->admin_token_file[0] == '\0' && !broker_conf_is_loopback(c->admin_listen.host)) {
        rd_errbuf_set(err, "admin_listen: %s is not a loopback address: set admin_token_file too",
                      c->admin_listen.host);
        return RD_EPROTO;
    }
    for (const char *p = c->realm; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
            rd_errbuf_set(err, "realm: only printable ASCII without '\"' and '\\' is allowed");
            return RD_EPROTO;
        }
    }
    return broker_conf_public_names(c->public_names, c->rtsp_listen.port, NULL, NULL, err);
}
