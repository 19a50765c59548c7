/* SPDX-License-Identifier: MIT */
/* rtsp-bench URL patterns (tools/rtsp-bench/rbench_url.c): counts, expansion with and
 * without zero padding, malformed braces, the URL cap and output that does not fit. */
#include "rd_test.h"

#include "rbench_limits.h"
#include "rbench_url.h"
#include "rd_err.h"

static void
test_expand_good(void **state)
{
    const struct {
        const char *pat;
        uint64_t count;
        uint64_t i;
        const char *want;
    } v[] = {
        {"rtsp://h/cam", 1, 0, "rtsp://h/cam"},
        {"rtsp://h/cam{1..200}", 200, 0, "rtsp://h/cam1"},
        {"rtsp://h/cam{1..200}", 200, 199, "rtsp://h/cam200"},
        {"rtsp://h/cam{01..12}", 12, 0, "rtsp://h/cam01"},
        {"rtsp://h/cam{01..12}", 12, 11, "rtsp://h/cam12"},
        {"rtsp://h/c{008..010}/x", 3, 2, "rtsp://h/c010/x"},
        {"rtsp://h/c{8..10}/x", 3, 0, "rtsp://h/c8/x"},
        {"rtsp://127.0.0.1:{8554..8555}/a", 2, 1, "rtsp://127.0.0.1:8555/a"},
        {"rtsp://h/{0..0}", 1, 0, "rtsp://h/0"},
    };
    for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
        uint64_t n = 0;
        assert_int_equal(rbench_url_pattern_count(v[k].pat, &n), RD_OK);
        assert_int_equal(n, v[k].count);
        char out[128];
        int len = rbench_url_pattern_nth(v[k].pat, v[k].i, out, sizeof(out));
        assert_int_equal(len, (int)strlen(v[k].want));
        assert_string_equal(out, v[k].want);
        /* Past the end. */
        assert_int_equal(rbench_url_pattern_nth(v[k].pat, v[k].count, out, sizeof(out)), RD_EPROTO);
    }
}

static void
test_expand_bad(void **state)
{
    const char *bad[] = {
        "rtsp://h/cam{1..}",   "rtsp://h/cam{..3}",           "rtsp://h/cam{a..b}",
        "rtsp://h/cam{3..1}",  "rtsp://h/cam{1..2}{1..2}",    "rtsp://h/cam}1..2{",
        "rtsp://h/cam{1..2",   "rtsp://h/cam1..2}",           "rtsp://h/cam{1.2}",
        "rtsp://h/cam{-1..2}", "rtsp://h/cam{1..1234567890}", "rtsp://h/{1 ..2}",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        uint64_t n = 0;
        char out[64] = "x";
        assert_int_equal(rbench_url_pattern_count(bad[k], &n), RD_EPROTO);
        assert_int_equal(rbench_url_pattern_nth(bad[k], 0, out, sizeof(out)), RD_EPROTO);
        assert_string_equal(out, "");
    }
}

static void
test_limits(void **state)
{
    char pat[64];
    uint64_t n = 0;
    /* Exactly the cap is fine, one more is RD_ELIMIT. */
    int w = snprintf(pat, sizeof(pat), "rtsp://h/c{1..%d}", RBENCH_MAX_URLS);
    assert_true(w > 0 && (size_t)w < sizeof(pat));
    assert_int_equal(rbench_url_pattern_count(pat, &n), RD_OK);
    assert_int_equal(n, RBENCH_MAX_URLS);
    w = snprintf(pat, sizeof(pat), "rtsp://h/c{0..%d}", RBENCH_MAX_URLS);
    assert_true(w > 0 && (size_t)w < sizeof(pat));
    assert_int_equal(rbench_url_pattern_count(pat, &n), RD_ELIMIT);

    /* Output that does not fit: RD_ELIMIT and an empty string, never a truncated URL. */
    char out[14];
    assert_int_equal(rbench_url_pattern_nth("rtsp://h/cam{1..10}", 8, out, sizeof(out)), 13);
    assert_string_equal(out, "rtsp://h/cam9");
    assert_int_equal(rbench_url_pattern_nth("rtsp://h/cam{1..10}", 9, out, sizeof(out)), RD_ELIMIT);
    assert_string_equal(out, "");
    assert_int_equal(rbench_url_pattern_nth("rtsp://h/camera00", 0, out, sizeof(out)), RD_ELIMIT);
    assert_int_equal(rbench_url_pattern_nth("rtsp://h/cam0", 0, out, sizeof(out)), 13);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_expand_good),
    cmocka_unit_test(test_expand_bad),
    cmocka_unit_test(test_limits),
};

RD_TEST_MAIN(tests)
