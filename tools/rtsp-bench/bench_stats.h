/* SPDX-License-Identifier: MIT */
/* Accounting for the load generators (rd_redirect_bench): a log-linear latency histogram in
 * the manner of HdrHistogram, error counters by kind, and the open-loop schedule whose
 * arithmetic makes latencies coordinated-omission aware. Pure code: no I/O, no clock reads. */
#ifndef RD_TOOLS_BENCH_STATS_H
#define RD_TOOLS_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Histogram layout: values below 2^(SUB_BITS+1) get one bucket each; above, every power of
 * two is cut into 2^SUB_BITS equal buckets, so a bucket is at most 1/128 (0.78 %) of its
 * value wide. Values are nanoseconds in practice: 2^40 ns is 18 minutes, far past any
 * request deadline; larger values land in the last bucket and are counted in `clamped`
 * (min, max and the mean stay exact). */
#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_SUB      (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_MAX_BITS 40
#define BENCH_HIST_BUCKETS  ((BENCH_HIST_MAX_BITS - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_SUB)

struct bench_hist {
    uint64_t counts[BENCH_HIST_BUCKETS];
    uint64_t n;       /* values recorded */
    uint64_t sum;     /* of all values (saturates at UINT64_MAX) */
    uint64_t min;     /* exact; UINT64_MAX while empty */
    uint64_t max;     /* exact; 0 while empty */
    uint64_t clamped; /* values >= 2^BENCH_HIST_MAX_BITS (put in the last bucket) */
};

/* Empties h. */
void bench_hist_reset(struct bench_hist *h);
/* Records one value. */
void bench_hist_record(struct bench_hist *h, uint64_t v);
/* Adds every value of src to dst (src is not changed). */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/* The bucket v falls into (values past the range: the last bucket). */
size_t bench_hist_index(uint64_t v);
/* Smallest and largest value of bucket idx (< BENCH_HIST_BUCKETS). */
uint64_t bench_hist_bucket_lo(size_t idx);
uint64_t bench_hist_bucket_hi(size_t idx);
/* The value at percentile pct (0-100): the value of rank ceil(pct/100 * n) in sorted order,
 * reported as the highest value of its bucket (HdrHistogram's "highest equivalent value":
 * never below the true value, at most one bucket above it), but never above the exact max
 * nor below the exact min. pct 0 is the exact min; a rank of n (pct 100) the exact max.
 * pct is taken to 1e-4 (99.99 is exact) and clamped to 0-100. 0 when h is empty. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double pct);
/* Mean of the recorded values, 0 when empty. */
double bench_hist_mean(const struct bench_hist *h);

/* Why one viewer (one connection) failed. The first error ends the connection. */
enum bench_err {
    BENCH_ERR_LOCAL = 0,   /* socket()/connect() failed here (EMFILE, EADDRNOTAVAIL, ...) */
    BENCH_ERR_CONNECT,     /* the connection was refused or failed to establish */
    BENCH_ERR_RESET,       /* reset or broken pipe while talking */
    BENCH_ERR_EOF,         /* the server closed before a complete response */
    BENCH_ERR_TIMEOUT,     /* no complete answer within the deadline */
    BENCH_ERR_PARSE,       /* a response that does not parse */
    BENCH_ERR_CSEQ,        /* RTSP: CSeq missing or not the one sent */
    BENCH_ERR_OPTIONS,     /* OPTIONS not answered 200 */
    BENCH_ERR_STATUS_404,  /* DESCRIBE (GET) answered 404: unknown camera */
    BENCH_ERR_STATUS_503,  /* answered 503: no eligible relay */
    BENCH_ERR_STATUS,      /* any other status than the redirect */
    BENCH_ERR_LOCATION,    /* a 302 without a valid absolute Location for that camera */
    BENCH_ERR_TOO_BIG,     /* a response larger than the receive buffer */
    BENCH_ERR_UNSOLICITED, /* bytes after the last expected response */
    BENCH_ERR_COUNT
};

/* Short stable name of an error kind ("timeout"), used as a JSON key. */
const char *bench_err_name(enum bench_err e);

/* Totals of one measurement. */
struct bench_tally {
    uint64_t started;   /* connections opened (measured ones) */
    uint64_t completed; /* viewers that got their redirect */
    uint64_t errors[BENCH_ERR_COUNT];
    uint64_t kept_open;    /* completed, but the server had not closed within the close wait */
    struct bench_hist lat; /* latency of completed viewers, ns */
};

/* Empties t. */
void bench_tally_reset(struct bench_tally *t);
/* Sum of all error counters. */
uint64_t bench_tally_errors(const struct bench_tally *t);
/* Adds src to dst. */
void bench_tally_merge(struct bench_tally *dst, const struct bench_tally *src);

/* Open loop at `rate` requests per second from t0_ns: request k (0-based) is due at
 * bench_sched_at(t0_ns, rate, k) = t0 + ceil(k * 1e9 / rate) ns. Its latency is measured from
 * that time, not from when a free connection slot let it start, so a stalled server is
 * charged for every request it delayed (coordinated omission, Gil Tene). rate > 0. */
uint64_t bench_sched_at(uint64_t t0_ns, double rate, uint64_t k);
/* How many requests are due at now_ns: the number of k with bench_sched_at(k) <= now_ns
 * (0 before t0). Exactly consistent with bench_sched_at. */
uint64_t bench_sched_due(uint64_t t0_ns, double rate, uint64_t now_ns);

/* Expands pattern for camera number i into out[cap] (NUL-terminated): the first "%d" is
 * replaced by i in decimal, "%%" by '%'; a pattern without "%d" is used as is. Returns the
 * length, RD_EPROTO for any other '%' sequence or a second "%d", RD_ELIMIT when it does not
 * fit (out is then ""). No format string is ever built from the pattern. */
int bench_camera_name(const char *pattern, uint64_t i, char *out, size_t cap);

#endif
