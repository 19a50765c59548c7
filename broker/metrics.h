/* SPDX-License-Identifier: MIT */
/* The broker's counters and their Prometheus text rendering. Counting is a few array
 * increments on the request path; labels with open sets (relay ids, reasons) live in small
 * fixed tables, so memory never grows with traffic. */
#ifndef RD_BROKER_METRICS_H
#define RD_BROKER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_limits.h"

struct rd_buf;
struct relay_view_stats;

/* Results of accepting an RTSP connection. */
enum metrics_conn {
    METRICS_CONN_ACCEPTED = 0,
    METRICS_CONN_REFUSED_GLOBAL, /* max_conns reached */
    METRICS_CONN_REFUSED_PER_IP, /* max_conns_per_ip reached */
    METRICS_CONN_REFUSED_RATE,   /* accept rate per IP exceeded */
    METRICS_CONN_TIMEOUT,        /* closed by a deadline (first byte, header, idle, write) */
    METRICS_CONN__COUNT
};

/* Results of a heartbeat or relay-channel request (admin.c). */
enum metrics_hb {
    METRICS_HB_ACCEPTED = 0,
    METRICS_HB_STALE,         /* replayed or reordered: a no-op */
    METRICS_HB_UNKNOWN_RELAY, /* 401 */
    METRICS_HB_BAD_SIGNATURE, /* 401 */
    METRICS_HB_BAD_TIMESTAMP, /* 401: outside the clock window */
    METRICS_HB_MALFORMED,     /* 400 */
    METRICS_HB_TOO_LARGE,     /* 413 */
    METRICS_HB_RATE_LIMITED,  /* 429 */
    METRICS_HB__COUNT
};

/* A counter per label value for a small open set of labels (relay ids, reasons). A label
 * beyond the table's capacity is counted under "other". */
#define METRICS_LABEL_MAX 64
#define METRICS_LABELS    (RD_BROKER_MAX_RELAYS * 2)
struct metrics_labelled {
    char label[METRICS_LABELS][METRICS_LABEL_MAX + 1];
    uint64_t n[METRICS_LABELS];
    uint64_t other;
};

struct metrics {
    uint64_t conns[METRICS_CONN__COUNT];
    uint64_t conns_open;        /* gauge */
    uint64_t requests[16];      /* by enum rtsp_method (index clamped) */
    uint64_t responses[600];    /* by RTSP status code */
    uint64_t parse_errors[600]; /* framing errors by the status answered (400, 413, ...) */
    uint64_t hb[METRICS_HB__COUNT];
    uint64_t health_to_healthy; /* relay health transitions */
    uint64_t health_to_unhealthy;
    uint64_t flushes_ok, flushes_failed; /* registry batch writes */
    uint64_t catalog_reloads;
    struct metrics_labelled redirects_by_relay;  /* 302s by relay id */
    struct metrics_labelled decisions_by_reason; /* every decision by reason */
};

void metrics_init(struct metrics *m);
/* Counts one more event with that label (NUL-terminated, <= METRICS_LABEL_MAX bytes; longer
 * labels are counted under "other"). */
void metrics_labelled_inc(struct metrics_labelled *l, const char *label);
/* Counts an answered RTSP status (also a parse error when parse_error is set). */
void metrics_response(struct metrics *m, unsigned status, bool parse_error);

/* Appends the Prometheus text exposition (format 0.0.4) of m, plus gauges from the relay
 * view's stats and db_degraded, to out. Returns RD_OK or RD_ELIMIT when out is too small
 * (out then holds a prefix: the caller answers 500, never a truncated page). */
int metrics_render(const struct metrics *m, const struct relay_view_stats *vs, bool db_degraded,
                   struct rd_buf *out);

#endif
