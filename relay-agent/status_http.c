/* SPDX-License-Identifier: MIT */
/* The relay's status HTTP: /healthz, /api/v1/status (JSON, jansson) and /metrics
 * (Prometheus text). Everything is read from the modules' stats at request time; nothing
 * here counts on its own. Camera sources (URLs, credentials) are never shown. */
#include "status_http.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "httpd.h"
#include "rd_err.h"
#include "relay.h"

/* /metrics body cap: ~40 lines per camera x RD_RELAY_MAX_CAMERAS would not fit, so per-camera
 * series are limited to the cameras being pulled, which a relay keeps in the hundreds. */
#define STATUS_METRICS_MAX (4u * 1024u * 1024u)

struct status_http {
    struct httpd h;
    struct relay *r;
};

/* ---- /api/v1/status ------------------------------------------------------------------------ */

static void
camera_json_cb(void *arg, const struct camera_info *ci)
{
    json_t *arr = arg;
    json_t *o = json_pack(
        "{s:s,s:s,s:I,s:I,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "id", ci->id, "state", ci->state,
        "viewers", (json_int_t)(ci->users - ci->waiting), "waiting", (json_int_t)ci->waiting,
        "always_on", ci->always_on, "from_broker", ci->from_broker, "ingress_kbps",
        (json_int_t)ci->ingress_kbps, "pkts_in", (json_int_t)ci->pkts_in, "bytes_in",
        (json_int_t)ci->bytes_in, "drops", (json_int_t)ci->drops, "reconnects",
        (json_int_t)ci->puller.reconnects, "auth_failures", (json_int_t)ci->puller.auth_failures);
    if (o == NULL)
        return;
    if (ci->puller.last_error != NULL)
        json_object_set_new(o, "last_error", json_string(ci->puller.last_error));
    json_array_append_new(arr, o);
}

static json_t *
status_json(const struct relay *r)
{
    struct relay_load ld;
    relay_load(r, &ld);
    struct fanout_stats fs;
    fanout_stats(r->fanout, &fs);
    struct vserver_stats vs;
    vserver_stats(r->vserver, &vs);
    double now = ev_now(r->loop);
    json_t *cams = json_array();
    if (cams != NULL)
        cameras_each(r->cameras, camera_json_cb, cams);
    json_t *broker = json_null();
    if (r->broker != NULL) {
        struct bclient_stats bs;
        bclient_stats(r->broker, &bs);
        broker = json_pack(
            "{s:b,s:I,s:I,s:f,s:s,s:I,s:s}", "reachable", bs.broker_reachable, "beats_ok",
            (json_int_t)bs.beats_ok, "beats_failed", (json_int_t)bs.beats_failed, "last_ok_age_s",
            bs.last_ok_at > 0 ? now - bs.last_ok_at : -1.0, "operator_state",
            r->operator_state[0] != '\0' ? r->operator_state : "unknown", "registry_version",
            (json_int_t)r->registry_version, "signing_kid", r->broker_signing_kid);
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:f,s:s,s:{s:I,s:I},s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:o,"
                     "s:o}",
                     "relay_id", r->conf.relay_id, "version", RD_VERSION, "boot_id", r->boot_id,
                     "state", r->draining ? "draining" : "active", "uptime_s", now - r->started_at,
                     "site", r->conf.site, "capacity", "viewers", (json_int_t)r->conf.capacity,
                     "egress_kbps", (json_int_t)(r->conf.capacity_egress_mbps * 1000),
                     "connections", (json_int_t)ld.conns, "sessions", (json_int_t)ld.sessions,
                     "viewers", (json_int_t)ld.viewers, "egress_kbps", (json_int_t)ld.egress_kbps,
                     "cameras_pulled", (json_int_t)ld.pulling, "cpu_pct", ld.cpu_pct, "queue_bytes",
                     (json_int_t)fs.queue_bytes, "pool_bytes", (json_int_t)pktpool_bytes(&r->pool),
                     "cameras", cams != NULL ? cams : json_array(), "broker", broker);
}

/* ---- /metrics -------------------------------------------------------------------------------- */

struct metrics_ctx {
    struct rd_buf *out;
    int rc;
    int pass; /* which per-camera family is being written */
};

static const char *const camera_states[] = {"idle", "starting", "playing", "retrying", "failed"};

struct state_count {
    uint64_t n[5];
};

static void
state_count_cb(void *arg, const struct camera_info *ci)
{
    struct state_count *sc = arg;
    for (size_t i = 0; i < 5; i++)
        if (strcmp(ci->state, camera_states[i]) == 0)
            sc->n[i]++;
}

static void
camera_metric_cb(void *arg, const struct camera_info *ci)
{
    struct metrics_ctx *m = arg;
    if (m->rc != RD_OK || strcmp(ci->state, "idle") == 0)
        return;
    /* Camera ids are [A-Za-z0-9_-]: label values need no escaping. */
    switch (m->pass) {
    case 0:
        m->rc = rd_buf_appendf(m->out, "rd_relay_camera_viewers{camera=\"%s\"} %u\n", ci->id,
                               (unsigned)(ci->users - ci->waiting));
        break;
    case 1:
        m->rc = rd_buf_appendf(m->out, "rd_relay_camera_packets_in_total{camera=\"%s\"} %llu\n",
                               ci->id, (unsigned long long)ci->pkts_in);
        break;
    case 2:
        m->rc = rd_buf_appendf(m->out, "rd_relay_camera_bytes_in_total{camera=\"%s\"} %llu\n",
                               ci->id, (unsigned long long)ci->bytes_in);
        break;
    default:
        m->rc = rd_buf_appendf(m->out, "rd_relay_camera_reconnects_total{camera=\"%s\"} %llu\n",
                               ci->id, (unsigned long long)ci->puller.reconnects);
        break;
    }
}

static int
metric(struct rd_buf *out, const char *name, const char *type, const char *help,
       unsigned long long v)
{
    return rd_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type,
                          name, v);
}

static int
metrics_text(const struct relay *r, struct rd_buf *out)
{
    struct relay_load ld;
    relay_load(r, &ld);
    struct fanout_stats fs;
    fanout_stats(r->fanout, &fs);
    struct vserver_stats vs;
    vserver_stats(r->vserver, &vs);
    int rc = metric(out, "rd_relay_viewers", "gauge", "Sessions playing", ld.viewers);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_sessions", "gauge", "RTSP sessions set up", vs.sessions);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_connections_open", "gauge", "Viewer RTSP connections open",
                    vs.conns);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_connections_total", "counter", "Viewer connections accepted",
                    vs.accepted);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_connections_refused_total", "counter",
                    "Viewer connections closed at a cap", vs.refused);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_requests_total", "counter", "Viewer RTSP requests", vs.requests);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_parse_errors_total", "counter", "Malformed viewer requests",
                    vs.parse_errors);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_session_timeouts_total", "counter",
                    "Sessions ended by their timeout", vs.session_timeouts);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_destination_refused_total", "counter",
                    "SETUPs refused for a third-party destination", vs.dest_refused);
    if (rc == RD_OK)
        rc = rd_buf_appendf(out, "# HELP rd_relay_token_rejections_total Viewer tokens refused "
                                 "(403) by reason\n"
                                 "# TYPE rd_relay_token_rejections_total counter\n");
    for (int v = 1; rc == RD_OK && v < 8; v++)
        rc = rd_buf_appendf(out, "rd_relay_token_rejections_total{reason=\"%s\"} %llu\n",
                            url_token_verdict_name(v), (unsigned long long)vs.token_verdicts[v]);
    struct state_count sc;
    memset(&sc, 0, sizeof(sc));
    cameras_each(r->cameras, state_count_cb, &sc);
    if (rc == RD_OK)
        rc = rd_buf_appendf(out, "# HELP rd_relay_cameras Cameras in the table by state\n"
                                 "# TYPE rd_relay_cameras gauge\n");
    for (size_t i = 0; rc == RD_OK && i < 5; i++)
        rc = rd_buf_appendf(out, "rd_relay_cameras{state=\"%s\"} %llu\n", camera_states[i],
                            (unsigned long long)sc.n[i]);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_packets_out_total", "counter",
                    "RTP/RTCP packets handed to the kernel for viewers", fs.pkts_out);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_bytes_out_total", "counter", "Bytes sent to viewers",
                    fs.bytes_out);
    if (rc == RD_OK)
        rc = rd_buf_appendf(out, "# HELP rd_relay_drops_total Packets not delivered to a "
                                 "viewer, by reason\n"
                                 "# TYPE rd_relay_drops_total counter\n");
    for (int d = 0; rc == RD_OK && d < FANOUT_DROP_N; d++)
        rc = rd_buf_appendf(out, "rd_relay_drops_total{reason=\"%s\"} %llu\n",
                            fanout_drop_name((enum fanout_drop)d), (unsigned long long)fs.drops[d]);
    if (rc == RD_OK)
        rc = rd_buf_appendf(out, "# HELP rd_relay_viewers_disconnected_total Viewers closed by "
                                 "the fan-out, by reason\n"
                                 "# TYPE rd_relay_viewers_disconnected_total counter\n");
    for (int d = 0; rc == RD_OK && d < FANOUT_DEAD_N; d++)
        rc = rd_buf_appendf(out, "rd_relay_viewers_disconnected_total{reason=\"%s\"} %llu\n",
                            fanout_dead_name((enum fanout_dead)d), (unsigned long long)fs.dead[d]);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_queue_packets", "gauge", "Packets queued for viewers",
                    fs.queue_pkts);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_queue_bytes", "gauge", "Bytes queued for viewers",
                    fs.queue_bytes);
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_pool_bytes", "gauge", "Packet buffer memory",
                    pktpool_bytes(&r->pool));
    if (rc == RD_OK)
        rc = metric(out, "rd_relay_egress_kbps", "gauge", "Egress over the last second, kbit/s",
                    ld.egress_kbps);
    static const char *const fam[4][2] = {
        {"rd_relay_camera_viewers", "gauge"},
        {"rd_relay_camera_packets_in_total", "counter"},
        {"rd_relay_camera_bytes_in_total", "counter"},
        {"rd_relay_camera_reconnects_total", "counter"},
    };
    static const char *const fam_help[4] = {
        "Sessions playing per pulled camera",
        "RTP packets received per pulled camera",
        "RTP bytes received per pulled camera",
        "Camera reconnections per pulled camera",
    };
    for (int p = 0; rc == RD_OK && p < 4; p++) {
        rc = rd_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", fam[p][0], fam_help[p], fam[p][0],
                            fam[p][1]);
        struct metrics_ctx m = {out, rc, p};
        if (rc == RD_OK)
            cameras_each(r->cameras, camera_metric_cb, &m);
        rc = m.rc;
    }
    if (rc == RD_OK && r->broker != NULL) {
        struct bclient_stats bs;
        bclient_stats(r->broker, &bs);
        rc = rd_buf_appendf(out,
                            "# HELP rd_relay_heartbeats_total Heartbeats by outcome\n"
                            "# TYPE rd_relay_heartbeats_total counter\n"
                            "rd_relay_heartbeats_total{result=\"ok\"} %llu\n"
                            "rd_relay_heartbeats_total{result=\"failed\"} %llu\n"
                            "# HELP rd_relay_broker_reachable Last heartbeat answered\n"
                            "# TYPE rd_relay_broker_reachable gauge\n"
                            "rd_relay_broker_reachable %d\n",
                            (unsigned long long)bs.beats_ok, (unsigned long long)bs.beats_failed,
                            bs.broker_reachable ? 1 : 0);
    }
    return rc;
}

/* ---- Handler ------------------------------------------------------------------------------------
 */

static enum MHD_Result
handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)con_cls;
    struct status_http *s = cls;
    if (*upload_data_size != 0)
        return httpd_queue_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "no request body here\n");
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return httpd_queue_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    if (strcmp(url, "/healthz") == 0)
        return httpd_queue_text(conn, MHD_HTTP_OK, s->r->draining ? "draining\n" : "ok\n");
    if (strcmp(url, "/api/v1/status") == 0) {
        json_t *j = status_json(s->r);
        char *text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
        json_decref(j);
        if (text == NULL)
            return httpd_queue_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        enum MHD_Result ret =
            httpd_queue_buf(conn, MHD_HTTP_OK, "application/json", text, strlen(text));
        free(text);
        return ret;
    }
    if (strcmp(url, "/metrics") == 0) {
        struct rd_buf out;
        if (rd_buf_alloc(&out, STATUS_METRICS_MAX) != RD_OK)
            return httpd_queue_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        enum MHD_Result ret;
        if (metrics_text(s->r, &out) != RD_OK)
            ret = httpd_queue_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                   "metrics larger than the response cap\n");
        else
            ret = httpd_queue_buf(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", rd_buf_head(&out),
                                  rd_buf_len(&out));
        rd_buf_free(&out);
        return ret;
    }
    return httpd_queue_text(conn, MHD_HTTP_NOT_FOUND,
                            "not found: /healthz, /api/v1/status, "
                            "/metrics\n");
}

int
status_http_start(struct relay *r, const struct conf_listen *l, struct status_http **out,
                  struct rd_errbuf *err)
{
    *out = NULL;
    struct status_http *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rd_errbuf_set(err, "status http: out of memory");
        return RD_ENOMEM;
    }
    s->r = r;
    int rc = httpd_start(&s->h, r->loop, l->host, l->port, handler, s, err);
    if (rc != RD_OK) {
        free(s);
        return rc;
    }
    *out = s;
    return RD_OK;
}

uint16_t
status_http_port(const struct status_http *s)
{
    return s->h.port;
}

void
status_http_stop(struct status_http *s)
{
    if (s == NULL)
        return;
    httpd_stop(&s->h);
    free(s);
}
