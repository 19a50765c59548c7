/* SPDX-License-Identifier: MIT */
/* rd_redirect_bench accounting (tools/rtsp-bench/bench_stats.c, bench_resp.c): histogram bucket
 * layout and percentiles against a sorted array, tallies, the open-loop schedule, camera
 * names, request texts and the response checks (RTSP via rtsp_msg, HTTP baseline); and the
 * server's CPU time read from /proc (redirect_bench.c). */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bench_resp.h"
#include "bench_stats.h"
#include "guard_buf.h"
#include "rd_err.h"
#include "redirect_bench.h"
#include "rtsp_msg.h"

/* ---- histogram --------------------------------------------------------------------------- */

static void
test_hist_layout(void **state)
{
    (void)state;
    /* Exact below 2 * SUB; then every bucket is contiguous with the next and contains what
     * maps to it; widths stay <= value / SUB. */
    for (uint64_t v = 0; v < 2 * BENCH_HIST_SUB; v++) {
        assert_int_equal(bench_hist_index(v), v);
        assert_int_equal(bench_hist_bucket_lo(v), v);
        assert_int_equal(bench_hist_bucket_hi(v), v);
    }
    for (size_t i = 0; i + 1 < BENCH_HIST_BUCKETS; i++) {
        uint64_t lo = bench_hist_bucket_lo(i), hi = bench_hist_bucket_hi(i);
        assert_true(lo <= hi);
        assert_int_equal(bench_hist_bucket_lo(i + 1), hi + 1);
        assert_int_equal(bench_hist_index(lo), i);
        assert_int_equal(bench_hist_index(hi), i);
        if (lo >= BENCH_HIST_SUB)
            assert_true((hi - lo + 1) * BENCH_HIST_SUB <= lo);
    }
    size_t last = BENCH_HIST_BUCKETS - 1;
    assert_int_equal(bench_hist_bucket_hi(last), ((uint64_t)1 << BENCH_HIST_MAX_BITS) - 1);
    assert_int_equal(bench_hist_index((uint64_t)1 << BENCH_HIST_MAX_BITS), last);
    assert_int_equal(bench_hist_index(UINT64_MAX), last);
}

static void
test_hist_empty_and_one(void **state)
{
    (void)state;
    static struct bench_hist h;
    bench_hist_reset(&h);
    assert_int_equal(bench_hist_percentile(&h, 50), 0);
    assert_true(bench_hist_mean(&h) == 0.0);
    bench_hist_record(&h, 123456);
    /* One value: every percentile is that value exactly (clamped to min/max). */
    const double pcts[] = {0, 1, 50, 99, 99.9, 100};
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
        assert_int_equal(bench_hist_percentile(&h, pcts[i]), 123456);
    assert_int_equal(h.min, 123456);
    assert_int_equal(h.max, 123456);
    assert_true(bench_hist_mean(&h) == 123456.0);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentiles against the exact sorted-array answer: never below it, and above it by at
 * most one bucket width (< 1/128 of the value). */
static void
test_hist_percentiles_vs_sorted(void **state)
{
    (void)state;
    static struct bench_hist h;
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof(*v));
    assert_non_null(v);
    uint64_t x = 88172645463325252ULL;
    for (int round = 0; round < 3; round++) {
        bench_hist_reset(&h);
        for (size_t i = 0; i < N; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            /* round 0: uniform 0..10 ms; 1: log-spread 1 us..1 s; 2: a few huge outliers */
            if (round == 0)
                v[i] = x % 10000000;
            else if (round == 1)
                v[i] = 1000ULL << (x % 20) | (x >> 40) % 1000;
            else
                v[i] = (i % 1000 == 0) ? 5000000000ULL + i : 20000 + x % 1000;
            bench_hist_record(&h, v[i]);
        }
        qsort(v, N, sizeof(*v), cmp_u64);
        const double pcts[] = {0, 10, 50, 90, 99, 99.9, 99.99, 100};
        for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
            uint64_t rank = (uint64_t)((pcts[k] * 10000.0 * N + 999999) / 1000000);
            if (rank == 0)
                rank = 1;
            uint64_t exact = v[rank - 1];
            uint64_t got = bench_hist_percentile(&h, pcts[k]);
            assert_true(got >= exact);
            assert_true(got - exact <= exact / BENCH_HIST_SUB + 1);
        }
        assert_int_equal(bench_hist_percentile(&h, 100), v[N - 1]);
        assert_int_equal(bench_hist_percentile(&h, 0), v[0]);
        assert_int_equal(h.n, N);
    }
    free(v);
}

/* Rank arithmetic at the edges, in the exact range (values < 256 have their own bucket):
 * 1000 values 0..249, four of each. 99.6 % is rank 996 (value 248), not 997 by a
 * floating-point hair; 99.7 % is rank 997 (249). */
static void
test_hist_rank_exact(void **state)
{
    (void)state;
    static struct bench_hist h;
    bench_hist_reset(&h);
    for (uint64_t rep = 0; rep < 4; rep++) {
        for (uint64_t i = 0; i < 250; i++)
            bench_hist_record(&h, i);
    }
    struct {
        double pct;
        uint64_t want;
    } cases[] = {
        {0, 0},      {0.1, 0},    {0.4, 0},   {0.41, 1}, {50, 124},  {99.6, 248},
        {99.7, 249}, {99.9, 249}, {100, 249}, {-5, 0},   {250, 249}, {99.99, 249},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t got = bench_hist_percentile(&h, cases[i].pct);
        if (got != cases[i].want)
            fail_msg("p%g: got %llu, want %llu", cases[i].pct, (unsigned long long)got,
                     (unsigned long long)cases[i].want);
    }
    /* Bucketed values: p50 of 10..10000 is the top of 5000's bucket; p100 the exact max. */
    bench_hist_reset(&h);
    for (uint64_t i = 1; i <= 1000; i++)
        bench_hist_record(&h, i * 10);
    assert_int_equal(bench_hist_percentile(&h, 50), bench_hist_bucket_hi(bench_hist_index(5000)));
    assert_int_equal(bench_hist_percentile(&h, 100), 10000);
    assert_int_equal(bench_hist_percentile(&h, 0), 10);
}

static void
test_hist_clamp_and_merge(void **state)
{
    (void)state;
    static struct bench_hist a, b;
    bench_hist_reset(&a);
    bench_hist_reset(&b);
    uint64_t huge = (uint64_t)1 << 50;
    bench_hist_record(&a, 5);
    bench_hist_record(&b, huge);
    bench_hist_record(&b, UINT64_MAX);
    assert_int_equal(b.clamped, 2);
    assert_int_equal(b.sum, UINT64_MAX); /* saturated, not wrapped */
    bench_hist_merge(&a, &b);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.min, 5);
    assert_int_equal(a.max, UINT64_MAX);
    assert_int_equal(a.clamped, 2);
    assert_int_equal(a.sum, UINT64_MAX);
    assert_int_equal(bench_hist_percentile(&a, 1), 5);
    /* A clamped value reports the top of the range (its bucket), not garbage. */
    assert_int_equal(bench_hist_percentile(&a, 50), ((uint64_t)1 << BENCH_HIST_MAX_BITS) - 1);
}

/* ---- tally -------------------------------------------------------------------------------- */

static void
test_tally(void **state)
{
    (void)state;
    static struct bench_tally a, b;
    bench_tally_reset(&a);
    bench_tally_reset(&b);
    a.started = 10;
    a.completed = 7;
    a.errors[BENCH_ERR_TIMEOUT] = 2;
    a.errors[BENCH_ERR_STATUS_503] = 1;
    bench_hist_record(&a.lat, 1000);
    b.started = 5;
    b.completed = 5;
    b.kept_open = 1;
    b.errors[BENCH_ERR_TIMEOUT] = 4;
    bench_hist_record(&b.lat, 3000);
    assert_int_equal(bench_tally_errors(&a), 3);
    bench_tally_merge(&a, &b);
    assert_int_equal(a.started, 15);
    assert_int_equal(a.completed, 12);
    assert_int_equal(a.kept_open, 1);
    assert_int_equal(a.errors[BENCH_ERR_TIMEOUT], 6);
    assert_int_equal(bench_tally_errors(&a), 7);
    assert_int_equal(a.lat.n, 2);
    assert_int_equal(a.lat.max, 3000);
    /* Every kind has its own distinct name (they are JSON keys). */
    for (int i = 0; i < BENCH_ERR_COUNT; i++) {
        assert_string_not_equal(bench_err_name((enum bench_err)i), "unknown");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(bench_err_name((enum bench_err)i),
                                    bench_err_name((enum bench_err)j));
    }
    assert_string_equal(bench_err_name(BENCH_ERR_COUNT), "unknown");
    assert_string_equal(bench_err_name(BENCH_ERR_TIMEOUT), "timeout");
}

/* ---- open-loop schedule ------------------------------------------------------------------- */

static void
test_schedule(void **state)
{
    (void)state;
    const double rates[] = {1, 3, 7.5, 1000, 10000, 20000, 33333.3, 1e6};
    const uint64_t t0 = 5000000000ULL;
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        double rate = rates[r];
        assert_int_equal(bench_sched_due(t0, rate, t0 - 1), 0);
        assert_int_equal(bench_sched_due(t0, rate, t0), 1); /* request 0 is due at t0 */
        assert_int_equal(bench_sched_at(t0, rate, 0), t0);
        uint64_t prev = t0;
        for (uint64_t k = 1; k < 5000; k++) {
            uint64_t at = bench_sched_at(t0, rate, k);
            assert_true(at > prev); /* strictly increasing */
            /* consistent both ways: k+1 due at its time, k one ns before */
            assert_int_equal(bench_sched_due(t0, rate, at), k + 1);
            assert_int_equal(bench_sched_due(t0, rate, at - 1), k);
            prev = at;
        }
        /* After one second, rate (+1 for request 0) are due, within rounding. */
        uint64_t due = bench_sched_due(t0, rate, t0 + 1000000000ULL);
        assert_true((double)due >= rate && (double)due <= rate + 2);
    }
}

/* ---- camera names ------------------------------------------------------------------------- */

static void
test_camera_name(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(bench_camera_name("cam%d", 0, out, sizeof(out)), 4);
    assert_string_equal(out, "cam0");
    assert_int_equal(bench_camera_name("cam%d", 9999, out, sizeof(out)), 7);
    assert_string_equal(out, "cam9999");
    assert_int_equal(bench_camera_name("a%db", 18446744073709551615ULL, out, sizeof(out)), 22);
    assert_string_equal(out, "a18446744073709551615b");
    assert_int_equal(bench_camera_name("lobby", 7, out, sizeof(out)), 5);
    assert_string_equal(out, "lobby");
    assert_int_equal(bench_camera_name("p%%%d", 3, out, sizeof(out)), 3);
    assert_string_equal(out, "p%3");
    /* Refused: other conversions (never a format string), a second %d, a lone '%'. */
    const char *bad[] = {"cam%s", "cam%d%d", "cam%", "%x", "%n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out[0] = 'X';
        assert_int_equal(bench_camera_name(bad[i], 1, out, sizeof(out)), RD_EPROTO);
        assert_string_equal(out, "");
    }
    /* Exactly fitting, one byte short. */
    assert_int_equal(bench_camera_name("cam%d", 12345, out, 9), 8);
    assert_int_equal(bench_camera_name("cam%d", 12345, out, 8), RD_ELIMIT);
    assert_string_equal(out, "");
    assert_int_equal(bench_camera_name("abcdefgh", 0, out, 8), RD_ELIMIT);
    assert_int_equal(bench_camera_name("abcdefg", 0, out, 8), 7);
}

/* ---- request texts ------------------------------------------------------------------------ */

static void
test_build_requests(void **state)
{
    (void)state;
    char out[512];
    size_t first = 0;
    int n =
        bench_build_requests(BENCH_PROTO_RTSP, "127.0.0.1", 8554, "cam7", out, sizeof(out), &first);
    assert_true(n > 0);
    const char *want1 = "OPTIONS rtsp://127.0.0.1:8554/cam7 RTSP/1.0\r\nCSeq: 1\r\n"
                        "User-Agent: rd_redirect_bench\r\n\r\n";
    const char *want2 = "DESCRIBE rtsp://127.0.0.1:8554/cam7 RTSP/1.0\r\nCSeq: 2\r\n"
                        "Accept: application/sdp\r\nUser-Agent: rd_redirect_bench\r\n\r\n";
    assert_int_equal(first, strlen(want1));
    assert_int_equal((size_t)n, strlen(want1) + strlen(want2));
    assert_memory_equal(out, want1, first);
    assert_memory_equal(out + first, want2, strlen(want2));
    /* Both parse as requests with our own parser (what the broker will run). */
    struct rtsp_msg m;
    assert_int_equal(rtsp_msg_parse_request(out, (size_t)n, &m), (ssize_t)first);
    assert_int_equal(m.method, RTSP_METHOD_OPTIONS);
    assert_int_equal(rtsp_msg_parse_request(out + first, (size_t)n - first, &m),
                     (ssize_t)(n - (int)first));
    assert_int_equal(m.method, RTSP_METHOD_DESCRIBE);
    assert_int_equal(m.cseq, 2);

    n = bench_build_requests(BENCH_PROTO_HTTP, "127.0.0.1", 8080, "cam7", out, sizeof(out), &first);
    const char *want3 = "GET /cam7 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                        "User-Agent: rd_redirect_bench\r\nConnection: close\r\n\r\n";
    assert_int_equal(n, (int)strlen(want3));
    assert_int_equal(first, strlen(want3));
    assert_string_equal(out, want3);

    n = bench_build_requests(BENCH_PROTO_RTSP, "::1", 8554, "c", out, sizeof(out), &first);
    assert_true(n > 0);
    assert_memory_equal(out, "OPTIONS rtsp://[::1]:8554/c RTSP/1.0", 36);

    /* Too small: RD_ELIMIT and an empty string, never a cut request; fits exactly. */
    size_t full = strlen(want1) + strlen(want2);
    assert_int_equal(
        bench_build_requests(BENCH_PROTO_RTSP, "127.0.0.1", 8554, "cam7", out, full, &first),
        RD_ELIMIT);
    assert_string_equal(out, "");
    assert_int_equal(
        bench_build_requests(BENCH_PROTO_RTSP, "127.0.0.1", 8554, "cam7", out, full + 1, &first),
        (int)full);
    assert_int_equal(
        bench_build_requests(BENCH_PROTO_RTSP, "127.0.0.1", 8554, "cam7", out, 10, &first),
        RD_ELIMIT);
    assert_int_equal(
        bench_build_requests(BENCH_PROTO_RTSP, "127.0.0.1", 8554, "", out, sizeof(out), &first),
        RD_EPROTO);
    assert_int_equal(
        bench_build_requests(BENCH_PROTO_RTSP, "127.0.0.1", 8554, "a b", out, sizeof(out), &first),
        RD_EPROTO);
    assert_int_equal(bench_build_requests(BENCH_PROTO_RTSP, "127.0.0.1", 8554, "a\r\nX: y", out,
                                          sizeof(out), &first),
                     RD_EPROTO);
}

/* ---- response checks ---------------------------------------------------------------------- */

struct resp_case {
    const char *name;
    enum bench_proto proto;
    const char *text;
    int status; /* expected */
    uint32_t cseq;
    bool strict;
    ssize_t rc; /* > 0: consumed = strlen(text) - tail; RD_AGAIN; RD_EPROTO */
    enum bench_err err;
    size_t tail; /* bytes of the text after the response (pipelined data) */
};

#define LOC_OK "rtsp://10.0.0.5:8554/v1/cam7/k1.1767225600.AAAAAAAAAAA.0.AAAAAAAAAAAAAAAAAAAAAA/"
#define R302(cseq, loc)                                                                            \
    "RTSP/1.0 302 Moved Temporarily\r\nCSeq: " cseq "\r\nLocation: " loc                           \
    "\r\nCache-Control: no-cache\r\nContent-Length: 0\r\n\r\n"
#define OK 1

static const struct resp_case resp_cases[] = {
    {"options ok", BENCH_PROTO_RTSP,
     "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE\r\nContent-Length: 0\r\n\r\n", 200, 1,
     true, OK, 0, 0},
    {"options then 302 pipelined", BENCH_PROTO_RTSP,
     "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n" R302("2", LOC_OK), 200, 1, true, OK, 0,
     sizeof(R302("2", LOC_OK)) - 1},
    {"302 ok", BENCH_PROTO_RTSP, R302("2", LOC_OK), 302, 2, true, OK, 0, 0},
    {"302 rtsps ok", BENCH_PROTO_RTSP,
     R302("2", "rtsps://relay.example:322/v1/cam7/k1.1767225600.AAAAAAAAAAA.0.AAAA/"), 302, 2, true,
     OK, 0, 0},
    {"302 no trailing slash", BENCH_PROTO_RTSP, R302("2", "rtsp://10.0.0.5/v1/cam7/k1.1.A.0.B"),
     302, 2, true, OK, 0, 0},
    {"302 other camera strict", BENCH_PROTO_RTSP,
     R302("2", "rtsp://10.0.0.5:8554/v1/cam8/k1.1.A.0.B/"), 302, 2, true, RD_EPROTO,
     BENCH_ERR_LOCATION, 0},
    {"302 other camera loose", BENCH_PROTO_RTSP,
     R302("2", "rtsp://10.0.0.5:8554/v1/cam8/k1.1.A.0.B/"), 302, 2, false, OK, 0, 0},
    {"302 relative", BENCH_PROTO_RTSP, R302("2", "/v1/cam7/tok/"), 302, 2, false, RD_EPROTO,
     BENCH_ERR_LOCATION, 0},
    {"302 http scheme", BENCH_PROTO_RTSP, R302("2", "http://10.0.0.5/v1/cam7/t/"), 302, 2, false,
     RD_EPROTO, BENCH_ERR_LOCATION, 0},
    {"302 userinfo", BENCH_PROTO_RTSP, R302("2", "rtsp://u:p@10.0.0.5/v1/cam7/k.1.A.0.B/"), 302, 2,
     false, RD_EPROTO, BENCH_ERR_LOCATION, 0},
    {"302 empty location", BENCH_PROTO_RTSP, "RTSP/1.0 302 Moved\r\nCSeq: 2\r\nLocation:\r\n\r\n",
     302, 2, false, RD_EPROTO, BENCH_ERR_LOCATION, 0},
    {"302 no location", BENCH_PROTO_RTSP, "RTSP/1.0 302 Moved\r\nCSeq: 2\r\n\r\n", 302, 2, false,
     RD_EPROTO, BENCH_ERR_LOCATION, 0},
    {"302 two locations", BENCH_PROTO_RTSP,
     "RTSP/1.0 302 Moved\r\nCSeq: 2\r\nLocation: " LOC_OK "\r\nLocation: " LOC_OK "\r\n\r\n", 302,
     2, true, RD_EPROTO, BENCH_ERR_LOCATION, 0},
    {"302 path not v1", BENCH_PROTO_RTSP, R302("2", "rtsp://10.0.0.5/cam7"), 302, 2, true,
     RD_EPROTO, BENCH_ERR_LOCATION, 0},
    {"302 query", BENCH_PROTO_RTSP, R302("2", "rtsp://10.0.0.5/v1/cam7/k1.1.A.0.B/?x=1"), 302, 2,
     false, RD_EPROTO, BENCH_ERR_LOCATION, 0},
    {"wrong cseq", BENCH_PROTO_RTSP, R302("3", LOC_OK), 302, 2, true, RD_EPROTO, BENCH_ERR_CSEQ, 0},
    {"no cseq", BENCH_PROTO_RTSP, "RTSP/1.0 200 OK\r\n\r\n", 200, 1, true, RD_EPROTO,
     BENCH_ERR_CSEQ, 0},
    {"options 500", BENCH_PROTO_RTSP, "RTSP/1.0 500 Internal Server Error\r\nCSeq: 1\r\n\r\n", 200,
     1, true, RD_EPROTO, BENCH_ERR_OPTIONS, 0},
    {"describe 404", BENCH_PROTO_RTSP, "RTSP/1.0 404 Not Found\r\nCSeq: 2\r\n\r\n", 302, 2, true,
     RD_EPROTO, BENCH_ERR_STATUS_404, 0},
    {"describe 503", BENCH_PROTO_RTSP,
     "RTSP/1.0 503 Service Unavailable\r\nCSeq: 2\r\nRetry-After: 5\r\n\r\n", 302, 2, true,
     RD_EPROTO, BENCH_ERR_STATUS_503, 0},
    {"describe 200", BENCH_PROTO_RTSP, "RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n", 302, 2, true,
     RD_EPROTO, BENCH_ERR_STATUS, 0},
    {"describe 401", BENCH_PROTO_RTSP, "RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n\r\n", 302, 2, true,
     RD_EPROTO, BENCH_ERR_STATUS, 0},
    {"partial", BENCH_PROTO_RTSP, "RTSP/1.0 302 Moved\r\nCSeq: 2\r\nLocat", 302, 2, true, RD_AGAIN,
     0, 0},
    {"partial body", BENCH_PROTO_RTSP, "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 5\r\n\r\nab",
     200, 1, true, RD_AGAIN, 0, 0},
    {"garbage", BENCH_PROTO_RTSP, "HELLO\r\n\r\n", 200, 1, true, RD_EPROTO, BENCH_ERR_PARSE, 0},
    {"http version on rtsp", BENCH_PROTO_RTSP, "HTTP/1.1 200 OK\r\nCSeq: 1\r\n\r\n", 200, 1, true,
     RD_EPROTO, BENCH_ERR_PARSE, 0},
    /* HTTP baseline (nginx's own shape). */
    {"nginx 302", BENCH_PROTO_HTTP,
     "HTTP/1.1 302 Moved Temporarily\r\nServer: nginx/1.22.1\r\nDate: Mon, 01 Jan 2024 00:00:00 "
     "GMT\r\nContent-Type: text/html\r\nContent-Length: 5\r\nConnection: close\r\nLocation: " LOC_OK
     "\r\n\r\nhello",
     302, 0, true, OK, 0, 0},
    {"http 302 http location", BENCH_PROTO_HTTP,
     "HTTP/1.1 302 Found\r\nLocation: http://relay/x\r\nContent-Length: 0\r\n\r\n", 302, 0, true,
     OK, 0, 0},
    {"http 302 no reason", BENCH_PROTO_HTTP,
     "HTTP/1.0 302\r\nLocation: http://relay/x\r\nContent-Length: 0\r\n\r\n", 302, 0, true, OK, 0,
     0},
    {"http 302 wrong camera", BENCH_PROTO_HTTP,
     "HTTP/1.1 302 Found\r\nLocation: rtsp://h/v1/cam9/k.1.A.0.B/\r\nContent-Length: 0\r\n\r\n",
     302, 0, true, RD_EPROTO, BENCH_ERR_LOCATION, 0},
    {"http 302 relative", BENCH_PROTO_HTTP,
     "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n", 302, 0, true,
     RD_EPROTO, BENCH_ERR_LOCATION, 0},
    {"http 302 empty host", BENCH_PROTO_HTTP,
     "HTTP/1.1 302 Found\r\nLocation: http:///x\r\nContent-Length: 0\r\n\r\n", 302, 0, true,
     RD_EPROTO, BENCH_ERR_LOCATION, 0},
    {"http 404", BENCH_PROTO_HTTP, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 302, 0,
     true, RD_EPROTO, BENCH_ERR_STATUS_404, 0},
    {"http partial head", BENCH_PROTO_HTTP, "HTTP/1.1 302 Found\r\nLocation: http://r/", 302, 0,
     true, RD_AGAIN, 0, 0},
    {"http partial version", BENCH_PROTO_HTTP, "HTTP/1", 302, 0, true, RD_AGAIN, 0, 0},
    {"http partial body", BENCH_PROTO_HTTP,
     "HTTP/1.1 302 Found\r\nLocation: http://r/\r\nContent-Length: 10\r\n\r\n12345", 302, 0, true,
     RD_AGAIN, 0, 0},
    {"http rtsp version", BENCH_PROTO_HTTP, "RTSP/1.0 302 Moved\r\n", 302, 0, true, RD_EPROTO,
     BENCH_ERR_PARSE, 0},
    {"http bad status", BENCH_PROTO_HTTP, "HTTP/1.1 3x2 Found\r\n\r\n", 302, 0, true, RD_EPROTO,
     BENCH_ERR_PARSE, 0},
    {"http two clen", BENCH_PROTO_HTTP,
     "HTTP/1.1 302 F\r\nLocation: http://r/\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 302,
     0, true, RD_EPROTO, BENCH_ERR_PARSE, 0},
    {"http chunked", BENCH_PROTO_HTTP,
     "HTTP/1.1 302 F\r\nLocation: http://r/\r\nTransfer-Encoding: chunked\r\n\r\n", 302, 0, true,
     RD_EPROTO, BENCH_ERR_PARSE, 0},
    {"http header without colon", BENCH_PROTO_HTTP, "HTTP/1.1 302 F\r\nLocation http://r/\r\n\r\n",
     302, 0, true, RD_EPROTO, BENCH_ERR_PARSE, 0},
    {"http bare cr", BENCH_PROTO_HTTP, "HTTP/1.1 302 F\r\nX: a\rb\r\n\r\n", 302, 0, true, RD_EPROTO,
     BENCH_ERR_PARSE, 0},
    {"http huge clen", BENCH_PROTO_HTTP,
     "HTTP/1.1 302 F\r\nLocation: http://r/\r\nContent-Length: 99999\r\n\r\n", 302, 0, true,
     RD_EPROTO, BENCH_ERR_PARSE, 0},
};

static void
test_resp_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(resp_cases) / sizeof(resp_cases[0]); i++) {
        const struct resp_case *c = &resp_cases[i];
        size_t len = strlen(c->text);
        struct guard_buf g;
        const char *buf = guard_buf_put(&g, c->text, len);
        struct bench_expect exp = {.status = c->status,
                                   .cseq = c->cseq,
                                   .camera = rd_str_cstr("cam7"),
                                   .strict_path = c->strict};
        enum bench_err err = BENCH_ERR_COUNT;
        ssize_t rc = bench_resp_check(c->proto, buf, len, &exp, &err);
        guard_buf_free(&g);
        if (c->rc == OK) {
            if (rc != (ssize_t)(len - c->tail))
                fail_msg("%s: rc %zd, want %zu", c->name, rc, len - c->tail);
        } else {
            if (rc != c->rc)
                fail_msg("%s: rc %zd, want %zd", c->name, rc, c->rc);
            if (c->rc == RD_EPROTO && err != c->err)
                fail_msg("%s: err %s, want %s", c->name, bench_err_name(err),
                         bench_err_name(c->err));
        }
        /* Every proper prefix of a good response is "need more", never an error. */
        if (c->rc == OK) {
            for (size_t k = 0; k < len - c->tail; k++) {
                struct guard_buf gp;
                const char *p = guard_buf_put(&gp, c->text, k);
                rc = bench_resp_check(c->proto, p, k, &exp, &err);
                guard_buf_free(&gp);
                if (rc != RD_AGAIN)
                    fail_msg("%s: prefix %zu gave %zd", c->name, k, rc);
            }
        }
    }
}

static void
test_location_ok(void **state)
{
    (void)state;
    struct rd_str cam = rd_str_cstr("cam7");
    assert_true(bench_location_ok(BENCH_PROTO_RTSP, rd_str_cstr(LOC_OK), cam, true));
    assert_true(bench_location_ok(BENCH_PROTO_RTSP, rd_str_cstr("rtsp://[::1]:8554/v1/cam7/a.b/"),
                                  cam, true));
    assert_true(bench_location_ok(BENCH_PROTO_RTSP, rd_str_cstr("rtsp://h"), cam, false));
    assert_false(bench_location_ok(BENCH_PROTO_RTSP, rd_str_cstr("rtsp://h"), cam, true));
    assert_false(bench_location_ok(BENCH_PROTO_RTSP, rd_str_cstr(""), cam, false));
    assert_false(
        bench_location_ok(BENCH_PROTO_RTSP, rd_str_cstr("rtsp://h/v1/cam7/t t/"), cam, false));
    assert_false(
        bench_location_ok(BENCH_PROTO_RTSP, rd_str_cstr("rtsp://h/v1/cam7/../"), cam, true));
    /* An empty camera skips the camera comparison but keeps the shape check. */
    assert_true(bench_location_ok(BENCH_PROTO_RTSP, rd_str_cstr("rtsp://h/v1/other/a.b/"),
                                  rd_str_cstr(""), true));
    assert_true(
        bench_location_ok(BENCH_PROTO_HTTP, rd_str_cstr("https://relay:8443/x"), cam, true));
    assert_false(bench_location_ok(BENCH_PROTO_HTTP, rd_str_cstr("1http://relay/x"), cam, true));
    assert_false(bench_location_ok(BENCH_PROTO_HTTP, rd_str_cstr("http:/relay"), cam, true));
    assert_false(bench_location_ok(BENCH_PROTO_HTTP, rd_str_cstr("http://"), cam, true));
}

/* ---- server CPU ---------------------------------------------------------------------------- */

static double
own_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Our own CPU time as /proc reports it follows what the process spends: 0.3 s of work shows
 * as 0.3 s (within its 10 ms ticks); a process that does not exist is an error. */
static void
test_proc_cpu(void **state)
{
    (void)state;
    double before = -1, after = -1;
    assert_int_equal(redirect_bench_proc_cpu_s((int)getpid(), &before), RD_OK);
    assert_true(before >= 0);
    double until = own_cpu_s() + 0.3;
    volatile unsigned long spin = 0;
    while (own_cpu_s() < until)
        spin++;
    assert_int_equal(redirect_bench_proc_cpu_s((int)getpid(), &after), RD_OK);
    assert_true(after - before >= 0.27 && after - before <= 0.6);
    double untouched = 42;
    assert_int_equal(redirect_bench_proc_cpu_s(0, &untouched), RD_EIO);
    assert_int_equal(redirect_bench_proc_cpu_s(4194304 + 1, &untouched), RD_EIO);
    assert_true(untouched == 42);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hist_layout),
    cmocka_unit_test(test_hist_empty_and_one),
    cmocka_unit_test(test_hist_percentiles_vs_sorted),
    cmocka_unit_test(test_hist_rank_exact),
    cmocka_unit_test(test_hist_clamp_and_merge),
    cmocka_unit_test(test_tally),
    cmocka_unit_test(test_schedule),
    cmocka_unit_test(test_camera_name),
    cmocka_unit_test(test_build_requests),
    cmocka_unit_test(test_resp_table),
    cmocka_unit_test(test_location_ok),
    cmocka_unit_test(test_proc_cpu),
};

RD_TEST_MAIN(tests)
