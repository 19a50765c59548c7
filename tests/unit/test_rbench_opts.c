/* SPDX-License-Identifier: MIT */
/* rtsp-bench command line and thresholds (tools/rtsp-bench/rbench_opts.c): good and bad
 * command lines, defaults, and the exit status for met and unmet thresholds. */
#include "rd_test.h"

#include "rbench_limits.h"
#include "rbench_opts.h"

static char arg_store[32][160];
static char *arg_v[33];

/* Parses a NULL-terminated list of arguments (argv[0] added); errors go to /dev/null. */
static enum rbench_parse
parse(struct rbench_opts *o, const char *const *args)
{
    int argc = 0;
    const char *all[33] = {"rtsp-bench"};
    size_t n = 1;
    for (size_t i = 0; args[i]; i++)
        all[n++] = args[i];
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(all[i]);
        assert_true(len < sizeof(arg_store[i]));
        memcpy(arg_store[i], all[i], len + 1);
        arg_v[argc++] = arg_store[i];
    }
    arg_v[argc] = NULL;
    FILE *devnull = fopen("/dev/null", "w");
    enum rbench_parse r = rbench_opts_parse(argc, arg_v, o, devnull);
    if (devnull)
        fclose(devnull);
    return r;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void
test_defaults_and_full(void **state)
{
    struct rbench_opts o;
    assert_int_equal(parse(&o, ARGS("rtsp://127.0.0.1:8554/cam")), RBENCH_PARSE_RUN);
    assert_int_equal(o.n, 1);
    assert_int_equal(o.transport, RBENCH_TCP);
    assert_true(o.duration_s == 10 && o.ramp == 100 && o.timeout_s == 10);
    assert_false(o.has_max_loss || o.has_max_setup || o.has_min_sessions || o.redirect_only);
    assert_int_equal(o.n_urls, 1);
    assert_string_equal(o.urls[0], "rtsp://127.0.0.1:8554/cam");

    assert_int_equal(parse(&o, ARGS("-n", "5", "-T", "udp", "-d", "2.5", "--ramp", "0", "--json",
                                    "out.json", "--max-loss", "0.5", "--max-setup-ms", "250",
                                    "--min-sessions", "5", "--timeout", "3", "--src",
                                    "127.0.1.1-10", "rtsp://h/a", "rtsp://h/cam{1..200}")),
                     RBENCH_PARSE_RUN);
    assert_int_equal(o.n, 5);
    assert_int_equal(o.transport, RBENCH_UDP);
    assert_true(o.duration_s == 2.5 && o.ramp == 0 && o.timeout_s == 3);
    assert_string_equal(o.json, "out.json");
    assert_true(o.has_max_loss && o.max_loss == 0.5);
    assert_true(o.has_max_setup && o.max_setup_ms == 250);
    assert_true(o.has_min_sessions && o.min_sessions == 5);
    assert_string_equal(o.src, "127.0.1.1-10");
    assert_int_equal(o.n_urls, 2);

    /* Options after the URL are taken too (getopt permutes). */
    assert_int_equal(parse(&o, ARGS("rtsp://h/a", "-n", "3")), RBENCH_PARSE_RUN);
    assert_int_equal(o.n, 3);

    assert_int_equal(parse(&o, ARGS("--redirect-only", "--rate", "1000", "rtsp://1.2.3.4/c")),
                     RBENCH_PARSE_RUN);
    assert_true(o.redirect_only && o.rate == 1000 && o.duration_s == 5 && !o.n_given);
    assert_int_equal(parse(&o, ARGS("--redirect-only", "-n", "100", "-c", "8", "rtsp://1.2.3.4/c")),
                     RBENCH_PARSE_RUN);
    assert_true(o.n_given && o.n == 100 && o.concurrency == 8);

    assert_int_equal(parse(&o, ARGS("-h")), RBENCH_PARSE_HELP);
}

static void
test_bad_command_lines(void **state)
{
    struct rbench_opts o;
    const char *const *bad[] = {
        ARGS("-n", "0", "rtsp://h/a"),
        ARGS("-n", "x", "rtsp://h/a"),
        ARGS("-n", "20001", "rtsp://h/a"), /* RBENCH_MAX_VIEWERS + 1 */
        ARGS("-T", "sctp", "rtsp://h/a"),
        ARGS("-d", "0", "rtsp://h/a"),
        ARGS("-d", "-1", "rtsp://h/a"),
        ARGS("-d", "nan", "rtsp://h/a"),
        ARGS("--ramp", "-5", "rtsp://h/a"),
        ARGS("--max-loss", "101", "rtsp://h/a"),
        ARGS("--max-loss", "", "rtsp://h/a"),
        ARGS("--max-setup-ms", "-1", "rtsp://h/a"),
        ARGS("--min-sessions", "-1", "rtsp://h/a"),
        ARGS("--timeout", "0", "rtsp://h/a"),
        ARGS("--rate", "10", "rtsp://h/a"), /* --rate is for --redirect-only */
        ARGS("--bogus", "rtsp://h/a"),
        ARGS("-n"),
        ARGS("-n", "5"),                  /* no URL */
        ARGS("rtsp://h/cam{1..2}{3..4}"), /* two ranges */
        ARGS("rtsp://h/cam{5..1}"),       /* reversed */
        ARGS("rtsp://h/cam{1..100001}"),  /* over RBENCH_MAX_URLS */
        ARGS("--redirect-only", "rtsp://h/a", "rtsp://h/b"),
        ARGS("--redirect-only", "rtsp://h/cam{1..3}"),
        ARGS("--redirect-only", "-n", "5", "-d", "1", "rtsp://h/a"),
        ARGS("--redirect-only", "--rate", "0", "rtsp://h/a"),
        ARGS("--redirect-only", "-c", "0", "rtsp://h/a"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(&o, bad[i]) != RBENCH_PARSE_ERROR)
            fail_msg("command line %zu accepted", i);
    }
    assert_int_equal(RBENCH_MAX_VIEWERS, 20000);
    assert_int_equal(parse(&o, ARGS("-n", "20000", "rtsp://h/a")), RBENCH_PARSE_RUN);
}

static void
test_thresholds(void **state)
{
    struct rbench_opts o;
    static struct rbench_summary s;
    char why[512];
    memset(&s, 0, sizeof(s));
    bench_hist_reset(&s.setup);
    s.sessions = 5;
    s.established = 5;
    s.expected = 1000;
    s.lost = 0;
    s.loss_pct = 0;
    for (int i = 1; i <= 5; i++)
        bench_hist_record(&s.setup, (uint64_t)i * 10000000u); /* 10..50 ms */

    /* The integration test's line: all met. */
    assert_int_equal(parse(&o, ARGS("-n", "5", "--max-loss", "0", "--min-sessions", "5",
                                    "--max-setup-ms", "50", "rtsp://h/a")),
                     RBENCH_PARSE_RUN);
    assert_int_equal(rbench_thresholds_check(&o, &s, why, sizeof(why)), 0);
    assert_string_equal(why, "");
    assert_int_equal(rbench_exit_status(0), RBENCH_EXIT_OK);

    /* Each one alone fails. */
    assert_int_equal(parse(&o, ARGS("--min-sessions", "6", "rtsp://h/a")), RBENCH_PARSE_RUN);
    assert_int_equal(rbench_thresholds_check(&o, &s, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "--min-sessions 6"));
    assert_int_equal(rbench_exit_status(1), RBENCH_EXIT_THRESHOLD);

    assert_int_equal(parse(&o, ARGS("--max-setup-ms", "49.9", "rtsp://h/a")), RBENCH_PARSE_RUN);
    assert_int_equal(rbench_thresholds_check(&o, &s, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "--max-setup-ms"));

    s.lost = 1;
    s.loss_pct = 0.1;
    assert_int_equal(parse(&o, ARGS("--max-loss", "0", "rtsp://h/a")), RBENCH_PARSE_RUN);
    assert_int_equal(rbench_thresholds_check(&o, &s, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "--max-loss"));
    assert_int_equal(parse(&o, ARGS("--max-loss", "0.1", "rtsp://h/a")), RBENCH_PARSE_RUN);
    assert_int_equal(rbench_thresholds_check(&o, &s, why, sizeof(why)), 0); /* not exceeded */

    /* All three together, and a why buffer too small for every line: the count stays. */
    assert_int_equal(parse(&o, ARGS("--max-loss", "0", "--min-sessions", "9", "--max-setup-ms", "1",
                                    "rtsp://h/a")),
                     RBENCH_PARSE_RUN);
    assert_int_equal(rbench_thresholds_check(&o, &s, why, sizeof(why)), 3);
    char tiny[8];
    assert_int_equal(rbench_thresholds_check(&o, &s, tiny, sizeof(tiny)), 3);
    assert_string_equal(tiny, "");
    assert_int_equal(rbench_thresholds_check(&o, &s, NULL, 0), 3);

    /* No session established is a failure even without thresholds. */
    s.established = 0;
    s.setup.n = 0;
    assert_int_equal(parse(&o, ARGS("rtsp://h/a")), RBENCH_PARSE_RUN);
    assert_int_equal(rbench_thresholds_check(&o, &s, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "no session established"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults_and_full),
    cmocka_unit_test(test_bad_command_lines),
    cmocka_unit_test(test_thresholds),
};

RD_TEST_MAIN(tests)
