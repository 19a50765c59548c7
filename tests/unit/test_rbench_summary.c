/* SPDX-License-Identifier: MIT */
/* rtsp-bench aggregation (tools/rtsp-bench/rbench_summary.c): sums, loss percentage, errors
 * by reason, jitter mean/max, and the percentiles of setup / first-packet / first-key-frame
 * times against exact nearest-rank values. */
#include "rd_test.h"

#include "rbench_summary.h"

#define MS 1000000ull

static void
test_percentiles(void **state)
{
    static struct rbench_result r[100];
    memset(r, 0, sizeof(r));
    for (size_t i = 0; i < 100; i++) {
        r[i].established = true;
        r[i].setup_ns = (uint64_t)(i + 1) * MS; /* 1..100 ms */
        r[i].first_pkt_ns = r[i].setup_ns + 2 * MS;
        r[i].first_key_ns = i < 50 ? r[i].setup_ns + 10 * MS : 0; /* half saw a key frame */
        r[i].play_key_ns = i < 50 ? 10 * MS : 0;
    }
    static struct rbench_summary s;
    rbench_summary_make(r, 100, &s);
    assert_int_equal(s.sessions, 100);
    assert_int_equal(s.established, 100);
    assert_int_equal(s.key_seen, 50);
    /* Nearest rank: p50 of 1..100 ms is 50 ms, p90 90, p99 99, max 100; the histogram
     * reports its bucket's top, at most 1/128 above. */
    const struct {
        double pct, want_ms;
    } v[] = {{50, 50}, {90, 90}, {99, 99}, {100, 100}};
    for (size_t k = 0; k < 4; k++) {
        double got = rbench_hist_ms(&s.setup, v[k].pct);
        assert_true(got >= v[k].want_ms);
        assert_true(got <= v[k].want_ms * (1 + 1.0 / 128));
        got = rbench_hist_ms(&s.first_pkt, v[k].pct);
        assert_true(got >= v[k].want_ms + 2);
        assert_true(got <= (v[k].want_ms + 2) * (1 + 1.0 / 128));
    }
    assert_int_equal(s.setup.max, 100 * MS);
    assert_int_equal(s.first_key.n, 50);
    assert_int_equal(s.first_key.max, 60 * MS);
    assert_int_equal(s.play_key.n, 50);
    double p99 = rbench_hist_ms(&s.play_key, 99);
    assert_true(p99 >= 10.0 && p99 <= 10.0 * (1 + 1.0 / 128));
}

static void
test_sums_and_errors(void **state)
{
    struct rbench_result r[4];
    memset(r, 0, sizeof(r));
    r[0] = (struct rbench_result){.established = true,
                                  .torn_down = true,
                                  .redirects = 1,
                                  .setup_ns = 5 * MS,
                                  .first_pkt_ns = 6 * MS,
                                  .packets = 1000,
                                  .bytes = 1000000,
                                  .expected = 999,
                                  .lost = 0,
                                  .jitter_ms = 1.0,
                                  .jitter_max_ms = 2.0};
    r[1] = (struct rbench_result){.established = true,
                                  .disconnected = true,
                                  .err = RBENCH_ERR_EOF,
                                  .redirects = 1,
                                  .setup_ns = 7 * MS,
                                  .packets = 500,
                                  .bytes = 500000,
                                  .expected = 501,
                                  .lost = 1,
                                  .duplicates = 2,
                                  .reordered = 3,
                                  .jitter_ms = 3.0,
                                  .jitter_max_ms = 5.0};
    r[2] = (struct rbench_result){.err = RBENCH_ERR_STATUS_SETUP, .err_status = 461};
    r[3] = (struct rbench_result){.err = RBENCH_ERR_STATUS_SETUP, .err_status = 453};
    struct rbench_summary s;
    rbench_summary_make(r, 4, &s);
    assert_int_equal(s.sessions, 4);
    assert_int_equal(s.established, 2);
    assert_int_equal(s.failed, 2);
    assert_int_equal(s.disconnected, 1);
    assert_int_equal(s.torn_down, 1);
    assert_int_equal(s.errors[RBENCH_ERR_EOF], 1);
    assert_int_equal(s.errors[RBENCH_ERR_STATUS_SETUP], 2);
    assert_int_equal(s.errors[RBENCH_ERR_NONE], 0);
    assert_int_equal(s.packets, 1500);
    assert_int_equal(s.bytes, 1500000);
    assert_int_equal(s.expected, 1500);
    assert_int_equal(s.lost, 1);
    assert_int_equal(s.duplicates, 2);
    assert_int_equal(s.reordered, 3);
    assert_int_equal(s.redirects, 2);
    assert_true(s.loss_pct > 100.0 / 1500 - 1e-12 && s.loss_pct < 100.0 / 1500 + 1e-12);
    assert_true(s.jitter_ms_mean == 2.0); /* of the two sessions with packets */
    assert_true(s.jitter_ms_max == 5.0);
    assert_int_equal(s.setup.n, 2);
    assert_int_equal(s.first_pkt.n, 1);

    /* Nothing expected: 0 %, not a division by zero. */
    rbench_summary_make(r + 2, 2, &s);
    assert_true(s.loss_pct == 0.0);
    assert_int_equal(s.established, 0);
    assert_true(rbench_hist_ms(&s.setup, 99) == 0.0);
}

static void
test_err_names(void **state)
{
    for (int e = 0; e < RBENCH_ERR_COUNT; e++) {
        const char *n = rbench_err_name((enum rbench_err)e);
        assert_non_null(n);
        assert_string_not_equal(n, "unknown");
        for (int f = 0; f < e; f++)
            assert_string_not_equal(n, rbench_err_name((enum rbench_err)f));
    }
    assert_string_equal(rbench_err_name(RBENCH_ERR_COUNT), "unknown");
    assert_string_equal(rbench_err_name(RBENCH_ERR_STATUS_PLAY), "status_play");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_percentiles),
    cmocka_unit_test(test_sums_and_errors),
    cmocka_unit_test(test_err_names),
};

RD_TEST_MAIN(tests)
