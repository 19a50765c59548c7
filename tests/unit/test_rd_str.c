/* SPDX-License-Identifier: MIT */
/* rd_str.c: views, bounded number parsing, copies that never truncate. */
#include "rd_test.h"

#include "rd_err.h"
#include "rd_str.h"

static void
test_numbers(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(rd_str_to_u64(RD_STR_LIT("0"), 9, 999999999, &v), RD_OK);
    assert_int_equal(v, 0);
    assert_int_equal(rd_str_to_u64(RD_STR_LIT("999999999"), 9, 999999999, &v), RD_OK);
    assert_int_equal(v, 999999999);
    assert_int_equal(rd_str_to_u64(RD_STR_LIT("1000000000"), 9, UINT64_MAX, &v), RD_EPROTO);
    assert_int_equal(rd_str_to_u64(RD_STR_LIT(""), 9, 10, &v), RD_EPROTO);
    assert_int_equal(rd_str_to_u64(RD_STR_LIT("-1"), 9, 10, &v), RD_EPROTO);
    assert_int_equal(rd_str_to_u64(RD_STR_LIT("+1"), 9, 10, &v), RD_EPROTO);
    assert_int_equal(rd_str_to_u64(RD_STR_LIT(" 1"), 9, 10, &v), RD_EPROTO);
    assert_int_equal(rd_str_to_u64(RD_STR_LIT("1x"), 9, 10, &v), RD_EPROTO);
    assert_int_equal(rd_str_to_u64(RD_STR_LIT("11"), 9, 10, &v), RD_EPROTO);
    assert_int_equal(rd_str_to_u64(RD_STR_LIT("18446744073709551615"), 19, UINT64_MAX, &v),
                     RD_EPROTO);
    assert_int_equal(rd_str_to_u64(RD_STR_LIT("9999999999999999999"), 19, UINT64_MAX, &v), RD_OK);
    uint32_t w = 0;
    assert_int_equal(rd_str_to_u32(RD_STR_LIT("4294967295"), 10, UINT32_MAX, &w), RD_OK);
    assert_int_equal(w, UINT32_MAX);
    assert_int_equal(rd_str_to_u32(RD_STR_LIT("4294967296"), 10, UINT32_MAX, &w), RD_EPROTO);
}

static void
test_compare_trim_split(void **state)
{
    (void)state;
    assert_true(rd_str_eq_ci_cstr(RD_STR_LIT("Content-LENGTH"), "content-length"));
    assert_false(rd_str_eq_ci_cstr(RD_STR_LIT("Content-Length2"), "content-length"));
    assert_true(rd_str_starts_with_ci(RD_STR_LIT("RTSP/1.0"), "rtsp/"));
    struct rd_str t = rd_str_trim(RD_STR_LIT(" \t x y\t "));
    assert_true(rd_str_eq_cstr(t, "x y"));
    assert_int_equal(rd_str_trim(RD_STR_LIT(" \t ")).len, 0);
    struct rd_str head;
    bool found;
    struct rd_str tail = rd_str_split(RD_STR_LIT("a=b=c"), '=', &head, &found);
    assert_true(found);
    assert_true(rd_str_eq_cstr(head, "a"));
    assert_true(rd_str_eq_cstr(tail, "b=c"));
    tail = rd_str_split(RD_STR_LIT("abc"), '=', &head, &found);
    assert_false(found);
    assert_true(rd_str_eq_cstr(head, "abc"));
}

static void
test_copy_never_truncates(void **state)
{
    (void)state;
    char buf[4] = "zzz";
    assert_int_equal(rd_str_copy(buf, sizeof(buf), RD_STR_LIT("abcd")), RD_ELIMIT);
    assert_string_equal(buf, "zzz");
    assert_int_equal(rd_str_copy(buf, sizeof(buf), RD_STR_LIT("abc")), RD_OK);
    assert_string_equal(buf, "abc");
    assert_string_equal(rd_strstatus(RD_ELIMIT), "limit exceeded");
}

static void
test_char_classes(void **state)
{
    (void)state;
    assert_true(rd_str_is_token(RD_STR_LIT("GET_PARAMETER")));
    assert_true(rd_str_is_token(RD_STR_LIT("x-Custom.Header~1!#$%&'*+^_`|")));
    assert_false(rd_str_is_token(RD_STR_LIT("")));
    const char *bad = "()<>@,;:\\\"/[]?={} \t\x7f";
    for (const char *c = bad; *c != '\0'; c++)
        assert_false(rd_is_tchar((unsigned char)*c));
    assert_false(rd_is_tchar(0));
    assert_false(rd_is_tchar(0x80));
    assert_int_equal(rd_hex_value('0'), 0);
    assert_int_equal(rd_hex_value('a'), 10);
    assert_int_equal(rd_hex_value('F'), 15);
    assert_int_equal(rd_hex_value('g'), -1);
    assert_int_equal(rd_hex_value(0xff), -1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_char_classes),
    cmocka_unit_test(test_numbers),
    cmocka_unit_test(test_compare_trim_split),
    cmocka_unit_test(test_copy_never_truncates),
};

RD_TEST_MAIN(tests)
