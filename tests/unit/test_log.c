/* SPDX-License-Identifier: MIT */
/* log.c: the line format, escaping, log_sanitize sampling, the truncation marker at the
 * exact limit, level filtering without evaluating arguments, the rate limiter, reopen. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rd_err.h"

static char log_path[64];
static char got[4 * RD_LOG_MAX_LINE];

/* Reads the whole log file into got[] and empties the file. Returns its length. */
static size_t
take_log(void)
{
    FILE *f = fopen(log_path, "rb");
    assert_non_null(f);
    size_t n = fread(got, 1, sizeof(got) - 1, f);
    fclose(f);
    got[n] = '\0';
    assert_int_equal(truncate(log_path, 0), 0);
    return n;
}

static int
setup(void **state)
{
    (void)state;
    snprintf(log_path, sizeof(log_path), "/tmp/rd_test_log.XXXXXX");
    int fd = mkstemp(log_path);
    if (fd < 0)
        return -1;
    close(fd);
    struct rd_errbuf err = {""};
    return log_open("test-daemon", log_path, RD_LOG_DEBUG, &err) == RD_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    log_close();
    unlink(log_path);
    return 0;
}

/* Strips and checks the "YYYY-MM-DDTHH:MM:SS.mmmZ " timestamp; returns the rest. */
static const char *
after_timestamp(const char *line)
{
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z ",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    int rc = regexec(&re, line, 0, NULL, 0);
    regfree(&re);
    assert_int_equal(rc, 0);
    return line + 25;
}

static void
test_format(void **state)
{
    (void)state;
    struct log_ctx ctx;
    assert_int_equal(log_ctx_set(&ctx, "conn=%d peer=%s", 17, "10.1.2.3:5123"), RD_OK);
    RD_LOG(RD_LOG_INFO, &ctx, "accepted fd=%d queue=%s", 9, "x");
    take_log();
    assert_string_equal(after_timestamp(got), "level=info daemon=test-daemon conn=17 "
                                              "peer=10.1.2.3:5123 msg=\"accepted\" fd=9 queue=x\n");

    static const struct {
        enum log_level level;
        const char *text; /* rendered format output */
        const char *want; /* the line after the timestamp */
    } v[] = {
        {RD_LOG_ERR, "plain words", "level=err daemon=test-daemon msg=\"plain words\"\n"},
        {RD_LOG_WARN, "two words a=1 b=two",
         "level=warn daemon=test-daemon msg=\"two words\" a=1 b=two\n"},
        {RD_LOG_NOTICE, "n=1", "level=notice daemon=test-daemon msg=\"\" n=1\n"},
        {RD_LOG_DEBUG, "say \"hi\" \\ now",
         "level=debug daemon=test-daemon msg=\"say \\\"hi\\\" \\\\ now\"\n"},
        {RD_LOG_INFO, "line\nbreak\ttab",
         "level=info daemon=test-daemon msg=\"line\\nbreak\\ttab\"\n"},
        /* a field value cannot start a new line either */
        {RD_LOG_INFO, "x v=a\nlevel=err",
         "level=info daemon=test-daemon msg=\"x\" v=a\\x0alevel=err\n"},
        {RD_LOG_INFO, "caf\xc3\xa9 k.x-y=1",
         "level=info daemon=test-daemon msg=\"caf\\xc3\\xa9\" k.x-y=1\n"},
        /* "=" without a key before it, or a key not after a blank: still the message */
        {RD_LOG_INFO, "a =b c,d=e", "level=info daemon=test-daemon msg=\"a =b c,d=e\"\n"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        RD_LOG(v[i].level, NULL, "%s", v[i].text);
        take_log();
        assert_string_equal(after_timestamp(got), v[i].want);
    }
}

static void
test_sanitize(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } v[] = {
        {"GET / RTSP/1.0", 14, "\"GET / RTSP/1.0\""},
        {"", 0, "\"\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"\r\n\t\x00\x7f\xff", 6, "\"\\r\\n\\t\\x00\\x7f\\xff\""},
        {"x=1 y=2", 7, "\"x=1 y=2\""},
    };
    char out[LOG_SAMPLE_BUF];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_string_equal(log_sanitize(out, sizeof(out), v[i].in, v[i].len), v[i].want);

    /* Sampling: as many escaped bytes as fit, then "...+<bytes not shown>. */
    char big[5000];
    memset(big, 'a', sizeof(big));
    log_sanitize(out, sizeof(out), big, sizeof(big));
    assert_true(strlen(out) <= RD_LOG_MAX_SAMPLE);
    const char *m = strstr(out, "\"...+");
    assert_non_null(m);
    size_t shown = (size_t)(m - out) - 1;
    assert_int_equal(strtoul(m + 5, NULL, 10), sizeof(big) - shown);
    assert_true(shown >= RD_LOG_MAX_SAMPLE - 12);

    /* Escapes are never cut in half at the sampling point. */
    memset(big, 0, sizeof(big));
    log_sanitize(out, sizeof(out), big, 100);
    m = strstr(out, "\"...+");
    assert_non_null(m);
    shown = (size_t)(m - out) - 1;
    assert_int_equal(shown % 4, 0);
    assert_int_equal(strtoul(m + 5, NULL, 10), 100 - shown / 4);

    /* Exactly fitting input is not sampled: quotes + content + NUL == cap. */
    char small[32];
    memset(big, 'b', 29);
    log_sanitize(small, sizeof(small), big, 29);
    assert_int_equal(strlen(small), 31);
    assert_null(strstr(small, "..."));
    log_sanitize(small, sizeof(small), big, 30);
    assert_non_null(strstr(small, "\"...+"));
    assert_true(strlen(small) < sizeof(small));
    /* Below the documented minimum: a visible placeholder, never an overflow. */
    char tiny[8];
    assert_string_equal(log_sanitize(tiny, sizeof(tiny), "abc", 3), "?");
}

/* Builds the line RD_LOG writes for msg="m" v=<n x 'x'> and returns its length with '\n'. */
static size_t
line_len_for(size_t n)
{
    return 25 + strlen("level=info daemon=test-daemon msg=\"m\" v=") + n + 1;
}

static void
test_truncation_marker(void **state)
{
    (void)state;
    static char field[3 * RD_LOG_MAX_LINE];
    memset(field, 'x', sizeof(field) - 1);
    /* A line of exactly RD_LOG_MAX_LINE bytes is written whole. */
    size_t fit = RD_LOG_MAX_LINE - line_len_for(0);
    RD_LOG(RD_LOG_INFO, NULL, "m v=%.*s", (int)fit, field);
    size_t n = take_log();
    assert_int_equal(n, RD_LOG_MAX_LINE);
    assert_null(strstr(got, "truncated"));
    assert_int_equal(got[n - 1], '\n');
    /* One byte more: cut to the limit, with the marker naming the full length. */
    RD_LOG(RD_LOG_INFO, NULL, "m v=%.*s", (int)fit + 1, field);
    n = take_log();
    assert_int_equal(n, RD_LOG_MAX_LINE);
    char want[64];
    snprintf(want, sizeof(want), " ... truncated=%d\n", RD_LOG_MAX_LINE + 1);
    assert_string_equal(got + n - strlen(want), want);
    /* Far beyond: also past what the formatting buffer holds. */
    RD_LOG(RD_LOG_INFO, NULL, "m v=%s", field);
    n = take_log();
    assert_int_equal(n, RD_LOG_MAX_LINE);
    snprintf(want, sizeof(want), " ... truncated=%zu\n", line_len_for(sizeof(field) - 1));
    assert_string_equal(got + n - strlen(want), want);
}

static int evaluated;

static int
side_effect(void)
{
    evaluated++;
    return 7;
}

static void
test_level_filter(void **state)
{
    (void)state;
    log_max_level = RD_LOG_NOTICE;
    evaluated = 0;
    RD_LOG(RD_LOG_INFO, NULL, "hidden v=%d", side_effect());
    RD_LOG(RD_LOG_DEBUG, NULL, "hidden v=%d", side_effect());
    RD_LOG_RATELIMITED(RD_LOG_INFO, NULL, 1.0, "hidden v=%d", side_effect());
    assert_int_equal(evaluated, 0);
    assert_int_equal(take_log(), 0);
    RD_LOG(RD_LOG_NOTICE, NULL, "shown v=%d", side_effect());
    RD_LOG(RD_LOG_ERR, NULL, "shown v=%d", side_effect());
    assert_int_equal(evaluated, 2);
    take_log();
    assert_non_null(strstr(got, "level=notice daemon=test-daemon msg=\"shown\" v=7\n"));
    assert_non_null(strstr(got, "level=err daemon=test-daemon msg=\"shown\" v=7\n"));
    log_max_level = RD_LOG_DEBUG;

    enum log_level l;
    for (int i = 0; log_level_names[i] != NULL; i++) {
        assert_int_equal(log_level_parse(log_level_names[i], &l), RD_OK);
        assert_int_equal(l, i);
    }
    assert_int_equal(log_level_parse("INFO", &l), RD_EPROTO);
    assert_int_equal(log_level_parse("warning", &l), RD_EPROTO);
    assert_int_equal(log_level_parse("", &l), RD_EPROTO);
}

static void
test_ratelimit(void **state)
{
    (void)state;
    struct log_ratelimit rl = {0, 0};
    assert_int_equal(log_ratelimit_check(&rl, 1.0, 100.0), 0);
    assert_int_equal(log_ratelimit_check(&rl, 1.0, 100.5), -1);
    assert_int_equal(log_ratelimit_check(&rl, 1.0, 100.99), -1);
    assert_int_equal(log_ratelimit_check(&rl, 1.0, 101.0), 2);
    assert_int_equal(log_ratelimit_check(&rl, 1.0, 101.5), -1);
    assert_int_equal(log_ratelimit_check(&rl, 1.0, 500.0), 1);
    assert_int_equal(log_ratelimit_check(&rl, 1.0, 501.0), 0);

    /* Through the macro: one call site, real clock. */
    evaluated = 0;
    for (int i = 0; i < 5; i++) {
        if (i == 4) {
            struct timespec ts = {0, 120 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        RD_LOG_RATELIMITED(RD_LOG_INFO, NULL, 0.1, "peer error i=%d", i + 0 * side_effect());
    }
    assert_int_equal(evaluated, 2); /* arguments of suppressed lines are not evaluated */
    take_log();
    const char *first = strstr(got, "msg=\"peer error\" i=0\n");
    const char *second = strstr(got, "msg=\"peer error\" i=4 suppressed=3\n");
    assert_non_null(first);
    assert_non_null(second);
    assert_null(strstr(got, "i=1"));
}

static void
test_ctx_limit_and_errno(void **state)
{
    (void)state;
    struct log_ctx ctx;
    char long_value[2 * RD_LOG_MAX_CTX];
    memset(long_value, 'p', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    assert_int_equal(log_ctx_set(&ctx, "conn=1 v=%s", long_value), RD_ELIMIT);
    assert_int_equal(strlen(ctx.prefix), RD_LOG_MAX_CTX - 1);
    assert_string_equal(ctx.prefix + RD_LOG_MAX_CTX - 4, "...");
    assert_int_equal(log_ctx_set(&ctx, "%s", ""), RD_OK);
    RD_LOG(RD_LOG_INFO, &ctx, "no ctx");
    take_log();
    assert_string_equal(after_timestamp(got), "level=info daemon=test-daemon msg=\"no ctx\"\n");

    errno = ECONNRESET;
    RD_LOG(RD_LOG_INFO, NULL, "keeps errno");
    assert_int_equal(errno, ECONNRESET);
    take_log();
}

static void
test_reopen(void **state)
{
    (void)state;
    char rotated[80];
    snprintf(rotated, sizeof(rotated), "%s.1", log_path);
    RD_LOG(RD_LOG_NOTICE, NULL, "before rotation");
    assert_int_equal(rename(log_path, rotated), 0);
    RD_LOG(RD_LOG_NOTICE, NULL, "still old file");
    assert_int_equal(log_reopen(), RD_OK);
    RD_LOG(RD_LOG_NOTICE, NULL, "after reopen");
    take_log();
    assert_non_null(strstr(got, "after reopen"));
    assert_null(strstr(got, "before rotation"));
    FILE *f = fopen(rotated, "rb");
    assert_non_null(f);
    char old[1024];
    size_t n = fread(old, 1, sizeof(old) - 1, f);
    fclose(f);
    old[n] = '\0';
    assert_non_null(strstr(old, "before rotation"));
    assert_non_null(strstr(old, "still old file"));
    unlink(rotated);

    struct rd_errbuf err = {""};
    assert_int_equal(log_open("test-daemon", "/nonexistent-dir/x.log", RD_LOG_DEBUG, &err), RD_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.log"));
    /* The old sink is still in use. */
    RD_LOG(RD_LOG_NOTICE, NULL, "still here");
    take_log();
    assert_non_null(strstr(got, "still here"));
    char name[64];
    memset(name, 'd', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(log_open(name, log_path, RD_LOG_DEBUG, &err), RD_ELIMIT);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_format, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sanitize, setup, teardown),
    cmocka_unit_test_setup_teardown(test_truncation_marker, setup, teardown),
    cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ratelimit, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ctx_limit_and_errno, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
};

RD_TEST_MAIN(tests)
