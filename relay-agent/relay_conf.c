/* SPDX-License-Identifier: MIT */
/* rtsp-relay's configuration table, the checks that span keys, and the key files. */
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "rd_err.h"
#include "rd_str.h"
#include "relay.h"
#include "secretfile.h"
#include "url.h"

/* ARCHITECTURE.md §5 defaults; upper bounds are the hard caps of rd_limits.h. */
static const struct conf_item relay_items[] = {
    CONF_STRING_ITEM(struct relay_conf, relay_id, 0, "",
                     "this relay's id in the broker's registry (required)"),
    CONF_STRING_ITEM(struct relay_conf, site, 0, "", "site of this relay (reported only)"),
    CONF_STRING_ITEM(struct relay_conf, key_id, 1, "k1",
                     "kid of key_file, as printed by `rtsp-broker relay add`"),
    CONF_PATH_ITEM(struct relay_conf, key_file, 0, "",
                   "file holding the relay key (mode 0600; required)"),
    CONF_STRING_ITEM(struct relay_conf, prev_key_id, 0, "",
                     "kid of the previous key during a rotation (empty: none)"),
    CONF_PATH_ITEM(struct relay_conf, prev_key_file, 0, "", "file holding the previous key"),
    CONF_STRING_ITEM(struct relay_conf, broker_url, 0, "",
                     "broker admin URL for heartbeats and sources (http://host:port); empty: "
                     "stand-alone"),
    CONF_STRING_ITEM(struct relay_conf, public_url, 0, "",
                     "RTSP base URL viewers reach this relay at (reported to the broker)"),
    CONF_LISTEN_ITEM(struct relay_conf, rtsp_listen, 0, 65535, "0.0.0.0:8555",
                     "RTSP listener for viewers (ip:port or [ipv6]:port)"),
    CONF_LISTEN_ITEM(struct relay_conf, status_listen, 0, 65535, "127.0.0.1:9555",
                     "status HTTP: /healthz, /api/v1/status, /metrics"),
    CONF_STRING_ITEM(struct relay_conf, udp_ports, 1, "20000-29999",
                     "UDP port range for RTP/RTCP pairs (viewers and cameras)"),
    CONF_UINT_ITEM(struct relay_conf, capacity, 1, RD_REG_MAX_CAPACITY_VIEWERS, "1000",
                   "viewers this relay takes (reported to the broker)"),
    CONF_UINT_ITEM(struct relay_conf, capacity_egress_mbps, 0, RD_REG_MAX_CAPACITY_MBPS, "0",
                   "egress this relay takes, Mbit/s (0: not reported)"),
    CONF_UINT_ITEM(struct relay_conf, heartbeat_interval_ms, 100, 60000, "1000",
                   "heartbeat period, milliseconds (the broker may change it)"),
    CONF_UINT_ITEM(struct relay_conf, max_conns, 1, RD_RELAY_MAX_CONNS, "10000",
                   "open viewer RTSP connections in total; more are closed at once"),
    CONF_UINT_ITEM(struct relay_conf, session_timeout_s, 10, 3600, "60",
                   "RTSP session timeout advertised to viewers, seconds"),
    CONF_PATH_ITEM(struct relay_conf, sources_file, 0, "",
                   "stand-alone camera sources (mode 0600); empty: from the broker only"),
    CONF_PATH_ITEM(struct relay_conf, log_file, 0, "",
                   "log file (reopened on SIGHUP); empty: stderr"),
    CONF_ENUM_ITEM(struct relay_conf, log_level, log_level_names, "info",
                   "err, warn, notice, info or debug"),
};

const struct conf_table relay_conf_table = CONF_TABLE(relay_items);

int
relay_conf_defaults(struct relay_conf *c, struct rd_errbuf *err)
{
    memset(c, 0, sizeof(*c));
    return conf_defaults(&relay_conf_table, c, err);
}

int
relay_conf_udp_ports(const char *text, uint16_t *lo, uint16_t *hi)
{
    bool found;
    struct rd_str a, b;
    b = rd_str_split(rd_str_cstr(text), '-', &a, &found);
    uint32_t l, h;
    if (!found || rd_str_to_u32(rd_str_trim(a), 5, 65535, &l) != RD_OK
        || rd_str_to_u32(rd_str_trim(b), 5, 65535, &h) != RD_OK)
        return RD_EPROTO;
    if (l < RD_TRANSPORT_MIN_CLIENT_PORT || l >= h)
        return RD_EPROTO;
    *lo = (uint16_t)l;
    *hi = (uint16_t)h;
    return RD_OK;
}

int
relay_conf_check(const struct relay_conf *c, struct rd_errbuf *err)
{
    if (!url_id_valid(rd_str_cstr(c->relay_id), RD_RELAY_ID_MAX)) {
        rd_errbuf_set(err, "relay_id: required, [A-Za-z0-9_-]{1,%d}", RD_RELAY_ID_MAX);
        return RD_EPROTO;
    }
    if (c->key_file[0] == '\0') {
        rd_errbuf_set(err, "key_file: required (the key `rtsp-broker relay add` printed)");
        return RD_EPROTO;
    }
    if (!url_id_valid(rd_str_cstr(c->key_id), RD_TOKEN_KID_MAX)) {
        rd_errbuf_set(err, "key_id: [A-Za-z0-9_-]{1,%d}", RD_TOKEN_KID_MAX);
        return RD_EPROTO;
    }
    if ((c->prev_key_id[0] == '\0') != (c->prev_key_file[0] == '\0')) {
        rd_errbuf_set(err, "prev_key_id and prev_key_file: give both or neither");
        return RD_EPROTO;
    }
    if (c->prev_key_id[0] != '\0'
        && (!url_id_valid(rd_str_cstr(c->prev_key_id), RD_TOKEN_KID_MAX)
            || strcmp(c->prev_key_id, c->key_id) == 0)) {
        rd_errbuf_set(err, "prev_key_id: [A-Za-z0-9_-]{1,%d}, different from key_id",
                      RD_TOKEN_KID_MAX);
        return RD_EPROTO;
    }
    uint16_t lo, hi;
    if (relay_conf_udp_ports(c->udp_ports, &lo, &hi) != RD_OK) {
        rd_errbuf_set(err, "udp_ports: expected LO-HI with %d <= LO < HI <= 65535",
                      RD_TRANSPORT_MIN_CLIENT_PORT);
        return RD_EPROTO;
    }
    if (c->broker_url[0] != '\0') {
        /* The host and port are checked by bclient_new at start. */
        if (strncmp(c->broker_url, "http://", 7) != 0 || c->broker_url[7] == '\0') {
            rd_errbuf_set(err, "broker_url: expected http://host:port");
            return RD_EPROTO;
        }
    }
    if (c->public_url[0] != '\0') {
        struct url_parts u;
        if (url_split(rd_str_cstr(c->public_url), &u) != RD_OK) {
            rd_errbuf_set(err, "public_url: expected rtsp://host:port");
            return RD_EPROTO;
        }
    }
    return RD_OK;
}

static int
load_key(const char *what, const char *kid, const char *path, struct url_token_key *out,
         struct rd_errbuf *err)
{
    char text[256];
    size_t len;
    int rc = secret_file_read(what, path, text, sizeof(text), &len, err);
    if (rc == RD_OK) {
        rc = url_token_key_parse(rd_str_cstr(kid), rd_str_make(text, len), out);
        if (rc != RD_OK)
            rd_errbuf_set(err, "%s %s: not a key (64 hex digits or 43 base64url characters)", what,
                          path);
    }
    rd_cleanse(text, sizeof(text));
    return rc;
}

int
relay_load_keys(struct relay *r, struct rd_errbuf *err)
{
    struct url_token_key key, prev;
    memset(&prev, 0, sizeof(prev));
    int rc = load_key("key_file", r->conf.key_id, r->conf.key_file, &key, err);
    if (rc == RD_OK && r->conf.prev_key_file[0] != '\0')
        rc = load_key("prev_key_file", r->conf.prev_key_id, r->conf.prev_key_file, &prev, err);
    if (rc == RD_OK) {
        struct url_token_keyring ring;
        rc = url_token_keyring_set(&ring, &key, prev.kid[0] != '\0' ? &prev : NULL);
        if (rc != RD_OK) {
            rd_errbuf_set(err, "prev_key_id: same kid as key_id");
        } else {
            r->key = key;
            r->prev_key = prev;
            r->keys = ring;
            rd_cleanse(&ring, sizeof(ring));
        }
    }
    rd_cleanse(&key, sizeof(key));
    rd_cleanse(&prev, sizeof(prev));
    return rc;
}
