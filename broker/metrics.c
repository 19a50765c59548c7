/* SPDX-License-Identifier: MIT */
/* Broker counters and their Prometheus text rendering. */
#include "metrics.h"

#include <string.h>

#include "buf.h"
#include "policy.h"
#include "rd_err.h"
#include "relay_view.h"
#include "rtsp_codes.h"

void
metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
}

void
metrics_labelled_inc(struct metrics_labelled *l, const char *label)
{
    size_t len = strlen(label);
    if (len == 0 || len > METRICS_LABEL_MAX) {
        l->other++;
        return;
    }
    /* Open addressing on FNV-1a; labels are never removed. */
    uint64_t h = policy_hash_str(label);
    for (size_t probe = 0; probe < METRICS_LABELS; probe++) {
        size_t i = (size_t)((h + probe) % METRICS_LABELS);
        if (l->label[i][0] == '\0') {
            memcpy(l->label[i], label, len + 1);
            l->n[i] = 1;
            return;
        }
        if (strcmp(l->label[i], label) == 0) {
            l->n[i]++;
            return;
        }
    }
    l->other++;
}

void
metrics_response(struct metrics *m, unsigned status, bool parse_error)
{
    if (status >= 600)
        return;
    m->responses[status]++;
    if (parse_error)
        m->parse_errors[status]++;
}

static const char *const conn_names[METRICS_CONN__COUNT] = {
    "accepted", "refused_global", "refused_per_ip", "refused_rate", "timeout"};
static const char *const hb_names[METRICS_HB__COUNT] = {
    "accepted",      "stale",     "unknown_relay", "bad_signature",
    "bad_timestamp", "malformed", "too_large",     "rate_limited"};

static int
render_labelled(struct rd_buf *out, const char *name, const char *help, const char *label,
                const struct metrics_labelled *l)
{
    int rc = rd_buf_appendf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (size_t i = 0; rc == RD_OK && i < METRICS_LABELS; i++) {
        /* Labels are relay ids and reason names: [A-Za-z0-9_-] only, no escaping needed. */
        if (l->label[i][0] != '\0')
            rc = rd_buf_appendf(out, "%s{%s=\"%s\"} %llu\n", name, label, l->label[i],
                                (unsigned long long)l->n[i]);
    }
    if (rc == RD_OK && l->other > 0)
        rc = rd_buf_appendf(out, "%s{%s=\"other\"} %llu\n", name, label,
                            (unsigned long long)l->other);
    return rc;
}

int
metrics_render(const struct metrics *m, const struct relay_view_stats *vs, bool db_degraded,
               struct rd_buf *out)
{
    int rc = rd_buf_appendf(out, "# HELP rd_broker_connections_total RTSP connections by result\n"
                                 "# TYPE rd_broker_connections_total counter\n");
    for (int i = 0; rc == RD_OK && i < METRICS_CONN__COUNT; i++)
        rc = rd_buf_appendf(out, "rd_broker_connections_total{result=\"%s\"} %llu\n", conn_names[i],
                            (unsigned long long)m->conns[i]);
    if (rc == RD_OK)
        rc = rd_buf_appendf(out,
                            "# HELP rd_broker_connections_open RTSP connections open now\n"
                            "# TYPE rd_broker_connections_open gauge\n"
                            "rd_broker_connections_open %llu\n",
                            (unsigned long long)m->conns_open);
    if (rc == RD_OK)
        rc = rd_buf_appendf(out, "# HELP rd_broker_requests_total RTSP requests by method\n"
                                 "# TYPE rd_broker_requests_total counter\n");
    for (int i = 0; rc == RD_OK && i < 16; i++) {
        const char *name = rtsp_method_name((enum rtsp_method)i);
        if (m->requests[i] > 0)
            rc = rd_buf_appendf(out, "rd_broker_requests_total{method=\"%s\"} %llu\n",
                                name != NULL ? name : "other", (unsigned long long)m->requests[i]);
    }
    if (rc == RD_OK)
        rc = rd_buf_appendf(out, "# HELP rd_broker_responses_total RTSP responses by status\n"
                                 "# TYPE rd_broker_responses_total counter\n");
    for (int s = 100; rc == RD_OK && s < 600; s++) {
        if (m->responses[s] > 0)
            rc = rd_buf_appendf(out, "rd_broker_responses_total{status=\"%d\"} %llu\n", s,
                                (unsigned long long)m->responses[s]);
    }
    if (rc == RD_OK)
        rc = rd_buf_appendf(out, "# HELP rd_broker_parse_errors_total Malformed or oversized RTSP "
                                 "requests by the status answered\n"
                                 "# TYPE rd_broker_parse_errors_total counter\n");
    for (int s = 100; rc == RD_OK && s < 600; s++) {
        if (m->parse_errors[s] > 0)
            rc = rd_buf_appendf(out, "rd_broker_parse_errors_total{status=\"%d\"} %llu\n", s,
                                (unsigned long long)m->parse_errors[s]);
    }
    if (rc == RD_OK)
        rc = render_labelled(out, "rd_broker_redirects_total", "302 redirects by relay", "relay",
                             &m->redirects_by_relay);
    if (rc == RD_OK)
        rc = render_labelled(out, "rd_broker_decisions_total", "Placement decisions by reason",
                             "reason", &m->decisions_by_reason);
    if (rc == RD_OK)
        rc = rd_buf_appendf(out, "# HELP rd_broker_heartbeats_total Relay heartbeats by result\n"
                                 "# TYPE rd_broker_heartbeats_total counter\n");
    for (int i = 0; rc == RD_OK && i < METRICS_HB__COUNT; i++)
        rc = rd_buf_appendf(out, "rd_broker_heartbeats_total{result=\"%s\"} %llu\n", hb_names[i],
                            (unsigned long long)m->hb[i]);
    if (rc == RD_OK)
        rc = rd_buf_appendf(
            out,
            "# HELP rd_broker_relay_health_transitions_total Relay health changes\n"
            "# TYPE rd_broker_relay_health_transitions_total counter\n"
            "rd_broker_relay_health_transitions_total{to=\"healthy\"} %llu\n"
            "rd_broker_relay_health_transitions_total{to=\"unhealthy\"} %llu\n"
            "# HELP rd_broker_registry_flushes_total Batched registry writes by result\n"
            "# TYPE rd_broker_registry_flushes_total counter\n"
            "rd_broker_registry_flushes_total{result=\"ok\"} %llu\n"
            "rd_broker_registry_flushes_total{result=\"failed\"} %llu\n"
            "# HELP rd_broker_catalog_reloads_total Configuration reloads from the registry\n"
            "# TYPE rd_broker_catalog_reloads_total counter\n"
            "rd_broker_catalog_reloads_total %llu\n"
            "# HELP rd_broker_registry_degraded 1 while registry writes fail\n"
            "# TYPE rd_broker_registry_degraded gauge\n"
            "rd_broker_registry_degraded %d\n",
            (unsigned long long)m->health_to_healthy, (unsigned long long)m->health_to_unhealthy,
            (unsigned long long)m->flushes_ok, (unsigned long long)m->flushes_failed,
            (unsigned long long)m->catalog_reloads, db_degraded ? 1 : 0);
    if (rc == RD_OK && vs != NULL)
        rc = rd_buf_appendf(out,
                            "# HELP rd_broker_relays Relays known to the broker\n"
                            "# TYPE rd_broker_relays gauge\n"
                            "rd_broker_relays{health=\"healthy\"} %u\n"
                            "rd_broker_relays{health=\"unhealthy\"} %u\n"
                            "# HELP rd_broker_pulls Camera-relay pull pairs\n"
                            "# TYPE rd_broker_pulls gauge\n"
                            "rd_broker_pulls %u\n"
                            "# HELP rd_broker_reservations_total Redirects reserved on relays\n"
                            "# TYPE rd_broker_reservations_total counter\n"
                            "rd_broker_reservations_total %llu\n",
                            vs->n_healthy, vs->n_relays - vs->n_healthy, vs->n_pulls,
                            (unsigned long long)vs->reservations);
    return rc;
}
