/* SPDX-License-Identifier: MIT */
/* Latency histogram, error tally and open-loop schedule of the load generators
 * (bench_stats.h). */
#include "bench_stats.h"

#include <math.h>
#include <string.h>

#include "rd_err.h"

static unsigned
msb64(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v);
}

size_t
bench_hist_index(uint64_t v)
{
    if (v < (uint64_t)BENCH_HIST_SUB)
        return (size_t)v;
    unsigned e = msb64(v);
    if (e >= BENCH_HIST_MAX_BITS)
        return BENCH_HIST_BUCKETS - 1;
    unsigned shift = e - BENCH_HIST_SUB_BITS;
    uint64_t m = v >> shift; /* in [SUB, 2*SUB) */
    return (size_t)(shift + 1) * BENCH_HIST_SUB + (size_t)(m - BENCH_HIST_SUB);
}

uint64_t
bench_hist_bucket_lo(size_t idx)
{
    if (idx < 2 * BENCH_HIST_SUB)
        return idx;
    size_t block = idx / BENCH_HIST_SUB; /* >= 2 */
    unsigned shift = (unsigned)block - 1;
    uint64_t m = BENCH_HIST_SUB + idx % BENCH_HIST_SUB;
    return m << shift;
}

uint64_t
bench_hist_bucket_hi(size_t idx)
{
    if (idx < 2 * BENCH_HIST_SUB)
        return idx;
    unsigned shift = (unsigned)(idx / BENCH_HIST_SUB) - 1;
    return bench_hist_bucket_lo(idx) + ((uint64_t)1 << shift) - 1;
}

void
bench_hist_reset(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

void
bench_hist_record(struct bench_hist *h, uint64_t v)
{
    h->counts[bench_hist_index(v)]++;
    h->n++;
    h->sum = (h->sum > UINT64_MAX - v) ? UINT64_MAX : h->sum + v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    if (v >> BENCH_HIST_MAX_BITS)
        h->clamped++;
}

void
bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->n += src->n;
    dst->sum = (dst->sum > UINT64_MAX - src->sum) ? UINT64_MAX : dst->sum + src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->clamped += src->clamped;
}

uint64_t
bench_hist_percentile(const struct bench_hist *h, double pct)
{
    if (h->n == 0)
        return 0;
    if (!(pct > 0.0)) /* also NaN */
        pct = 0.0;
    if (pct > 100.0)
        pct = 100.0;
    /* Integer rank in parts per million of a percent-of-100, so 99.9 % of 1000 is rank 999
     * exactly, not 1000 by a floating-point hair. */
    uint64_t ppm = (uint64_t)llround(pct * 10000.0); /* 0..1e6 */
    uint64_t rank = (ppm * h->n + 999999) / 1000000;
    if (ppm == 0)
        return h->min;
    if (rank == 0)
        rank = 1;
    if (rank >= h->n)
        return h->max; /* the largest value is known exactly */
    uint64_t seen = 0;
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = bench_hist_bucket_hi(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max; /* not reached: the counts add up to n */
}

double
bench_hist_mean(const struct bench_hist *h)
{
    return h->n ? (double)h->sum / (double)h->n : 0.0;
}

static const char *const err_names[BENCH_ERR_COUNT] = {
    [BENCH_ERR_LOCAL] = "local",
    [BENCH_ERR_CONNECT] = "connect",
    [BENCH_ERR_RESET] = "reset",
    [BENCH_ERR_EOF] = "eof",
    [BENCH_ERR_TIMEOUT] = "timeout",
    [BENCH_ERR_PARSE] = "parse",
    [BENCH_ERR_CSEQ] = "cseq",
    [BENCH_ERR_OPTIONS] = "options_status",
    [BENCH_ERR_STATUS_404] = "status_404",
    [BENCH_ERR_STATUS_503] = "status_503",
    [BENCH_ERR_STATUS] = "status_other",
    [BENCH_ERR_LOCATION] = "location",
    [BENCH_ERR_TOO_BIG] = "too_big",
    [BENCH_ERR_UNSOLICITED] = "unsolicited",
};

const char *
bench_err_name(enum bench_err e)
{
    if ((unsigned)e >= BENCH_ERR_COUNT || !err_names[e])
        return "unknown";
    return err_names[e];
}

void
bench_tally_reset(struct bench_tally *t)
{
    t->started = 0;
    t->completed = 0;
    memset(t->errors, 0, sizeof(t->errors));
    t->kept_open = 0;
    bench_hist_reset(&t->lat);
}

uint64_t
bench_tally_errors(const struct bench_tally *t)
{
    uint64_t n = 0;
    for (size_t i = 0; i < BENCH_ERR_COUNT; i++)
        n += t->errors[i];
    return n;
}

void
bench_tally_merge(struct bench_tally *dst, const struct bench_tally *src)
{
    dst->started += src->started;
    dst->completed += src->completed;
    for (size_t i = 0; i < BENCH_ERR_COUNT; i++)
        dst->errors[i] += src->errors[i];
    dst->kept_open += src->kept_open;
    bench_hist_merge(&dst->lat, &src->lat);
}

uint64_t
bench_sched_at(uint64_t t0_ns, double rate, uint64_t k)
{
    return t0_ns + (uint64_t)ceil((double)k * 1e9 / rate);
}

uint64_t
bench_sched_due(uint64_t t0_ns, double rate, uint64_t now_ns)
{
    if (now_ns < t0_ns)
        return 0;
    /* Estimate, then settle the last step against bench_sched_at itself so both agree
     * exactly whatever the rounding of the two double expressions. */
    uint64_t due = (uint64_t)floor((double)(now_ns - t0_ns) * rate / 1e9) + 1;
    while (bench_sched_at(t0_ns, rate, due) <= now_ns)
        due++;
    while (due > 0 && bench_sched_at(t0_ns, rate, due - 1) > now_ns)
        due--;
    return due;
}

int
bench_camera_name(const char *pattern, uint64_t i, char *out, size_t cap)
{
    char num[24];
    size_t n_num = 0;
    do {
        num[n_num++] = (char)('0' + i % 10);
        i /= 10;
    } while (i);

    size_t len = 0;
    int seen_d = 0;
    for (const char *p = pattern; *p; p++) {
        const char *src = p;
        size_t n = 1;
        if (*p == '%') {
            if (p[1] == '%') {
                p++;
            } else if (p[1] == 'd' && !seen_d) {
                seen_d = 1;
                p++;
                if (len + n_num >= cap)
                    goto limit;
                for (size_t k = 0; k < n_num; k++)
                    out[len++] = num[n_num - 1 - k];
                continue;
            } else {
                if (cap > 0)
                    out[0] = '\0';
                return RD_EPROTO;
            }
        }
        if (len + n >= cap)
            goto limit;
        out[len++] = *src;
    }
    out[len] = '\0';
    return (int)len;
limit:
    if (cap > 0)
        out[0] = '\0';
    return RD_ELIMIT;
}
