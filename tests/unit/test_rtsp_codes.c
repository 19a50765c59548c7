/* SPDX-License-Identifier: MIT */
/* rtsp_codes.c: method names round-trip, case sensitivity, RFC 2326 §7.1.1 reason phrases. */
#include "rd_test.h"

#include "rtsp_codes.h"

static void
test_methods(void **state)
{
    (void)state;
    static const char *const names[] = {"OPTIONS",  "DESCRIBE", "SETUP",         "PLAY",
                                        "PAUSE",    "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER",
                                        "ANNOUNCE", "RECORD",   "REDIRECT"};
    assert_int_equal(sizeof(names) / sizeof(names[0]), RTSP_METHOD_COUNT - 1);
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        enum rtsp_method m = rtsp_method_from_name(rd_str_cstr(names[k]));
        assert_int_not_equal(m, RTSP_METHOD_UNKNOWN);
        assert_string_equal(rtsp_method_name(m), names[k]);
    }
    assert_int_equal(rtsp_method_from_name(RD_STR_LIT("DESCRIBE")), RTSP_METHOD_DESCRIBE);
    assert_int_equal(rtsp_method_from_name(RD_STR_LIT("GET_PARAMETER")), RTSP_METHOD_GET_PARAMETER);
    /* Case-sensitive (RFC 2326 §6.1), exact length, no prefixes. */
    assert_int_equal(rtsp_method_from_name(RD_STR_LIT("options")), RTSP_METHOD_UNKNOWN);
    assert_int_equal(rtsp_method_from_name(RD_STR_LIT("PLAYX")), RTSP_METHOD_UNKNOWN);
    assert_int_equal(rtsp_method_from_name(RD_STR_LIT("PLA")), RTSP_METHOD_UNKNOWN);
    assert_int_equal(rtsp_method_from_name(RD_STR_LIT("GET")), RTSP_METHOD_UNKNOWN);
    assert_int_equal(rtsp_method_from_name(RD_STR_NULL), RTSP_METHOD_UNKNOWN);
    assert_null(rtsp_method_name(RTSP_METHOD_UNKNOWN));
    assert_null(rtsp_method_name((enum rtsp_method)RTSP_METHOD_COUNT));
    assert_null(rtsp_method_name((enum rtsp_method) - 1));
}

static void
test_status_reasons(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *reason;
    } rows[] = {
        {200, "OK"},
        {302, "Moved Temporarily"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Time-out"},
        {413, "Request Entity Too Large"},
        {414, "Request-URI Too Large"},
        {453, "Not Enough Bandwidth"},
        {454, "Session Not Found"},
        {455, "Method Not Valid in This State"},
        {461, "Unsupported transport"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {505, "RTSP Version not supported"},
        {551, "Option not supported"},
    };
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++)
        assert_string_equal(rtsp_status_reason(rows[k].code), rows[k].reason);
    static const int absent[] = {0, 99, 199, 202, 299, 307, 429, 600, -302, 1302};
    for (size_t k = 0; k < sizeof(absent) / sizeof(absent[0]); k++)
        assert_null(rtsp_status_reason(absent[k]));
    /* Every phrase is safe to put on the wire: printable ASCII only. */
    for (int code = 100; code < 600; code++) {
        const char *r = rtsp_status_reason(code);
        if (r == NULL)
            continue;
        assert_true(strlen(r) > 0);
        for (const char *p = r; *p != '\0'; p++)
            assert_true(*p >= 0x20 && *p < 0x7f);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_methods),
    cmocka_unit_test(test_status_reasons),
};

RD_TEST_MAIN(tests)
