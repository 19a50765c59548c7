/* SPDX-License-Identifier: MIT */
/* rtsp_build.c: exact bytes of responses and requests, round trips through the parser,
 * overflow at every capacity (never a truncated message), CR/LF/NUL and framing refusal. */
#include "rd_test.h"

#include <stdbool.h>

#include "rd_err.h"
#include "rd_limits.h"
#include "rtsp_build.h"
#include "rtsp_msg.h"

#define CANARY 0x5a

static const char want_302[] = "RTSP/1.0 302 Moved Temporarily\r\n"
                               "CSeq: 2\r\n"
                               "Location: rtsp://relay-2.example:8554/cam/lobby/v1.k1.Zm9v\r\n"
                               "Cache-Control: no-cache\r\n"
                               "Content-Length: 0\r\n"
                               "\r\n";

static int
build_302(struct rtsp_out *out)
{
    int rc = rtsp_resp_begin(out, 302, 2);
    rc = rc != RD_OK ? rc
                     : rtsp_resp_header(out, "Location",
                                        "rtsp://relay-2.example:8554/cam/lobby/v1.k1.Zm9v");
    rc = rc != RD_OK ? rc : rtsp_resp_header(out, "Cache-Control", "no-cache");
    int end = rtsp_resp_end(out, NULL, 0);
    return rc != RD_OK ? rc : end;
}

static void
test_response_bytes(void **state)
{
    (void)state;
    char buf[512];
    struct rtsp_out out;
    rtsp_out_init(&out, buf, sizeof(buf), 0);
    assert_int_equal(build_302(&out), RD_OK);
    assert_int_equal(out.len, sizeof(want_302) - 1);
    assert_memory_equal(buf, want_302, out.len);
    /* It parses back as what we meant. */
    struct rtsp_msg m;
    assert_int_equal(rtsp_msg_parse_response(buf, out.len, &m), out.len);
    assert_int_equal(m.status, 302);
    assert_true(m.has_cseq);
    assert_int_equal(m.cseq, 2);

    assert_int_equal(rtsp_resp_cseq_of(&m), 2);

    /* No CSeq to echo: the line is left out. */
    static const char no_cseq[] = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nCSeq: 1\r\n\r\n";
    assert_int_equal(rtsp_msg_parse_request(no_cseq, sizeof(no_cseq) - 1, &m), RD_EPROTO);
    assert_int_equal(rtsp_resp_cseq_of(&m), RTSP_CSEQ_NONE);
    rtsp_out_init(&out, buf, sizeof(buf), 0);
    assert_int_equal(rtsp_resp_begin(&out, m.status_hint, rtsp_resp_cseq_of(&m)), RD_OK);
    assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_OK);
    static const char want_400[] = "RTSP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(out.len, sizeof(want_400) - 1);
    assert_memory_equal(buf, want_400, out.len);

    /* The largest CSeq a uint32 holds is echoed as a number. */
    rtsp_out_init(&out, buf, sizeof(buf), 0);
    assert_int_equal(rtsp_resp_begin(&out, 200, (int64_t)UINT32_MAX), RD_OK);
    assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_OK);
    static const char want_max[] =
        "RTSP/1.0 200 OK\r\nCSeq: 4294967295\r\nContent-Length: 0\r\n\r\n";
    assert_memory_equal(buf, want_max, sizeof(want_max) - 1);
}

static void
test_response_with_body(void **state)
{
    (void)state;
    static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.7\r\ns=lobby\r\nt=0 0\r\n"
                              "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                              "a=control:trackID=0\r\n";
    char buf[1024];
    struct rtsp_out out;
    rtsp_out_init(&out, buf, sizeof(buf), 0);
    assert_int_equal(rtsp_resp_begin(&out, 200, 3), RD_OK);
    assert_int_equal(rtsp_resp_header(&out, "Content-Type", "application/sdp"), RD_OK);
    assert_int_equal(
        rtsp_resp_headerf(&out, "Content-Base", "rtsp://%s:%u/cam/%s/", "10.0.0.7", 8554u, "lobby"),
        RD_OK);
    assert_int_equal(rtsp_resp_headerf(&out, "Session", "%032x;timeout=%d", 0xabcu, 60), RD_OK);
    assert_int_equal(rtsp_resp_end(&out, sdp, sizeof(sdp) - 1), RD_OK);
    struct rtsp_msg m;
    assert_int_equal(rtsp_msg_parse_response(buf, out.len, &m), out.len);
    assert_int_equal(m.cseq, 3);
    assert_int_equal(m.content_length, sizeof(sdp) - 1);
    assert_memory_equal(m.body.p, sdp, sizeof(sdp) - 1);
    struct rd_str v;
    assert_true(rtsp_msg_header(&m, "Content-Base", &v));
    assert_true(rd_str_eq_cstr(v, "rtsp://10.0.0.7:8554/cam/lobby/"));
    assert_true(rtsp_msg_header(&m, "Session", &v));
    assert_true(rd_str_eq_cstr(v, "00000000000000000000000000000abc;timeout=60"));
    assert_int_equal(rtsp_msg_header_count(&m, "Content-Length"), 1);
}

/* At every capacity short of the full message, the build fails with RD_ELIMIT, leaves the
 * bytes queued before it untouched and writes nothing past cap; at the exact size it fits. */
static void
test_overflow_every_cap(void **state)
{
    (void)state;
    static const char prev[] = "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 0\r\n\r\n";
    size_t need = sizeof(prev) - 1 + sizeof(want_302) - 1;
    char buf[1024];
    for (size_t cap = sizeof(prev) - 1; cap <= need; cap++) {
        memset(buf, CANARY, sizeof(buf));
        memcpy(buf, prev, sizeof(prev) - 1);
        struct rtsp_out out;
        rtsp_out_init(&out, buf, cap, sizeof(prev) - 1);
        int rc = build_302(&out);
        if (cap < need) {
            assert_int_equal(rc, RD_ELIMIT);
            assert_int_equal(out.len, sizeof(prev) - 1);
        } else {
            assert_int_equal(rc, RD_OK);
            assert_int_equal(out.len, need);
            assert_memory_equal(buf + sizeof(prev) - 1, want_302, sizeof(want_302) - 1);
        }
        assert_memory_equal(buf, prev, sizeof(prev) - 1);
        for (size_t k = cap; k < sizeof(buf); k++)
            assert_int_equal((unsigned char)buf[k], CANARY);
        assert_false(out.open);
    }

    /* headerf overflowing in the middle of its value. */
    char small[40];
    struct rtsp_out out;
    rtsp_out_init(&out, small, sizeof(small), 0);
    assert_int_equal(rtsp_resp_begin(&out, 200, 1), RD_OK);
    assert_int_equal(rtsp_resp_headerf(&out, "X-Long", "%s", "0123456789012345678901234567890"),
                     RD_ELIMIT);
    assert_int_equal(out.len, 0);
    assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_ELIMIT);
    assert_int_equal(out.len, 0);
    /* A zero-capacity buffer. */
    rtsp_out_init(&out, NULL, 0, 0);
    assert_int_equal(rtsp_resp_begin(&out, 200, 1), RD_ELIMIT);
    assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_ELIMIT);
}

static void
check_refused_value(const char *value, size_t len)
{
    char buf[256];
    struct rtsp_out out;
    rtsp_out_init(&out, buf, sizeof(buf), 0);
    assert_int_equal(rtsp_resp_begin(&out, 200, 1), RD_OK);
    assert_int_equal(rtsp_resp_header_view(&out, "X-V", rd_str_make(value, len)), RD_EPROTO);
    assert_int_equal(out.len, 0);
    /* Sticky: the rest of this message is refused, and nothing of it remains. */
    assert_int_equal(rtsp_resp_header(&out, "X-Ok", "fine"), RD_EPROTO);
    assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_EPROTO);
    assert_int_equal(out.len, 0);
}

static void
test_refuses_injection(void **state)
{
    (void)state;
    check_refused_value("a\r\nLocation: rtsp://evil/", 25);
    check_refused_value("a\nb", 3);
    check_refused_value("a\rb", 3);
    check_refused_value("a\0b", 3);
    check_refused_value("\x7f", 1);
    check_refused_value("\x1b[2J", 4);
    check_refused_value(NULL, 3);

    char buf[256];
    struct rtsp_out out;
    rtsp_out_init(&out, buf, sizeof(buf), 0);
    assert_int_equal(rtsp_resp_begin(&out, 200, 1), RD_OK);
    assert_int_equal(rtsp_resp_headerf(&out, "X-F", "%s%s", "ok", "\r\nX-Injected: 1"), RD_EPROTO);
    assert_int_equal(out.len, 0);
    assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_EPROTO);

    rtsp_out_init(&out, buf, sizeof(buf), 0);
    assert_int_equal(rtsp_resp_begin(&out, 200, 1), RD_OK);
    assert_int_equal(rtsp_resp_header(&out, "X-V", NULL), RD_EPROTO);
    assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_EPROTO);

    /* Framing headers and non-token names are refused. */
    static const char *const names[] = {
        "CSeq", "cseq", "Content-Length", "TRANSFER-ENCODING", "Bad Name", "", "X:Y", "X\r\nY"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        rtsp_out_init(&out, buf, sizeof(buf), 0);
        assert_int_equal(rtsp_resp_begin(&out, 200, 1), RD_OK);
        assert_int_equal(rtsp_resp_header(&out, names[k], "1"), RD_EPROTO);
        assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_EPROTO);
        assert_int_equal(out.len, 0);
    }

    /* HT, empty values and 8-bit TEXT are fine. */
    rtsp_out_init(&out, buf, sizeof(buf), 0);
    assert_int_equal(rtsp_resp_begin(&out, 200, 1), RD_OK);
    assert_int_equal(rtsp_resp_header(&out, "X-Tab", "a\tb"), RD_OK);
    assert_int_equal(rtsp_resp_header(&out, "X-Empty", ""), RD_OK);
    assert_int_equal(rtsp_resp_header(&out, "X-Utf8", "caf\xc3\xa9"), RD_OK);
    assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_OK);
    struct rtsp_msg m;
    assert_int_equal(rtsp_msg_parse_response(buf, out.len, &m), out.len);
    assert_int_equal(m.n_headers, 5);
}

static void
test_misuse(void **state)
{
    (void)state;
    char buf[256];
    struct rtsp_out out;
    rtsp_out_init(&out, buf, sizeof(buf), 0);
    /* Nothing open. */
    assert_int_equal(rtsp_resp_header(&out, "X-A", "b"), RD_EPROTO);
    assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_EPROTO);
    assert_int_equal(out.len, 0);
    /* Bad arguments write nothing. */
    assert_int_equal(rtsp_resp_begin(&out, 299, 1), RD_EPROTO);
    assert_int_equal(rtsp_resp_begin(&out, 0, 1), RD_EPROTO);
    assert_int_equal(rtsp_resp_begin(&out, 200, -2), RD_EPROTO);
    assert_int_equal(rtsp_resp_begin(&out, 200, (int64_t)UINT32_MAX + 1), RD_EPROTO);
    assert_int_equal(out.len, 0);
    /* A finished message survives a later refused one. */
    assert_int_equal(rtsp_resp_begin(&out, 454, 9), RD_OK);
    assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_OK);
    size_t first = out.len;
    assert_int_equal(rtsp_resp_begin(&out, 299, 1), RD_EPROTO);
    assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_EPROTO);
    assert_int_equal(out.len, first);
    /* Begin while open is refused and leaves the open message alone. */
    assert_int_equal(rtsp_resp_begin(&out, 200, 10), RD_OK);
    size_t mid = out.len;
    assert_int_equal(rtsp_resp_begin(&out, 200, 11), RD_EPROTO);
    assert_int_equal(out.len, mid);
    assert_int_equal(rtsp_req_end(&out, NULL, 0), RD_EPROTO); /* wrong kind: dropped */
    assert_int_equal(out.len, first);
    /* A body pointer is required for a non-empty body. */
    assert_int_equal(rtsp_resp_begin(&out, 200, 12), RD_OK);
    assert_int_equal(rtsp_resp_end(&out, NULL, 5), RD_EPROTO);
    assert_int_equal(out.len, first);
    /* Two pipelined responses parse one after the other. */
    assert_int_equal(rtsp_resp_begin(&out, 200, 13), RD_OK);
    assert_int_equal(rtsp_resp_end(&out, "ok", 2), RD_OK);
    struct rtsp_msg m;
    assert_int_equal(rtsp_msg_parse_response(buf, out.len, &m), first);
    assert_int_equal(m.status, 454);
    assert_int_equal(rtsp_msg_parse_response(buf + first, out.len - first, &m), out.len - first);
    assert_int_equal(m.cseq, 13);
    assert_true(rd_str_eq_cstr(m.body, "ok"));
}

static void
test_request_builder(void **state)
{
    (void)state;
    char buf[512];
    struct rtsp_out out;
    rtsp_out_init(&out, buf, sizeof(buf), 0);
    assert_int_equal(rtsp_req_begin(&out, RTSP_METHOD_DESCRIBE, "rtsp://10.0.0.7:554/h264", 7),
                     RD_OK);
    assert_int_equal(rtsp_resp_header(&out, "Accept", "application/sdp"), RD_OK);
    assert_int_equal(rtsp_resp_headerf(&out, "User-Agent", "rtsp-director/%d.%d", 0, 1), RD_OK);
    assert_int_equal(rtsp_req_end(&out, NULL, 0), RD_OK);
    static const char want[] = "DESCRIBE rtsp://10.0.0.7:554/h264 RTSP/1.0\r\n"
                               "CSeq: 7\r\n"
                               "Accept: application/sdp\r\n"
                               "User-Agent: rtsp-director/0.1\r\n"
                               "\r\n";
    assert_int_equal(out.len, sizeof(want) - 1);
    assert_memory_equal(buf, want, out.len);

    /* With a body: Content-Length appears, and the request parses back. */
    assert_int_equal(rtsp_req_begin(&out, RTSP_METHOD_SET_PARAMETER, "rtsp://10.0.0.7/", 8), RD_OK);
    assert_int_equal(rtsp_resp_header(&out, "Content-Type", "text/parameters"), RD_OK);
    assert_int_equal(rtsp_req_end(&out, "a: b\r\n", 6), RD_OK);
    struct rtsp_msg m;
    ssize_t n = rtsp_msg_parse_request(buf, out.len, &m);
    assert_int_equal(n, sizeof(want) - 1);
    n = rtsp_msg_parse_request(buf + n, out.len - (size_t)n, &m);
    assert_int_equal(n, out.len - (sizeof(want) - 1));
    assert_int_equal(m.method, RTSP_METHOD_SET_PARAMETER);
    assert_int_equal(m.cseq, 8);
    assert_true(rd_str_eq_cstr(m.body, "a: b\r\n"));

    /* Refused: unknown method, URIs with SP/CR/8-bit, empty or too long. */
    size_t used = out.len;
    assert_int_equal(rtsp_req_begin(&out, RTSP_METHOD_UNKNOWN, "rtsp://h/", 1), RD_EPROTO);
    assert_int_equal(rtsp_req_begin(&out, RTSP_METHOD_PLAY, "rtsp://h/a b", 1), RD_EPROTO);
    assert_int_equal(rtsp_req_begin(&out, RTSP_METHOD_PLAY, "rtsp://h/\r\nX: y", 1), RD_EPROTO);
    assert_int_equal(rtsp_req_begin(&out, RTSP_METHOD_PLAY, "rtsp://h/caf\xc3\xa9", 1), RD_EPROTO);
    assert_int_equal(rtsp_req_begin(&out, RTSP_METHOD_PLAY, "", 1), RD_EPROTO);
    assert_int_equal(rtsp_req_begin(&out, RTSP_METHOD_PLAY, NULL, 1), RD_EPROTO);
    static char long_uri[RD_RTSP_MAX_URI + 2];
    memset(long_uri, 'u', RD_RTSP_MAX_URI + 1);
    assert_int_equal(rtsp_req_begin(&out, RTSP_METHOD_PLAY, long_uri, 1), RD_EPROTO);
    assert_int_equal(out.len, used);
    long_uri[RD_RTSP_MAX_URI] = '\0';
    static char big[RD_RTSP_MAX_URI + 64];
    rtsp_out_init(&out, big, sizeof(big), 0);
    assert_int_equal(rtsp_req_begin(&out, RTSP_METHOD_PLAY, long_uri, 1), RD_OK);
    assert_int_equal(rtsp_req_end(&out, NULL, 0), RD_OK);
    assert_int_equal(rtsp_msg_parse_request(big, out.len, &m), out.len);
    assert_int_equal(m.uri.len, RD_RTSP_MAX_URI);
    /* resp_end on a request is refused. */
    rtsp_out_init(&out, buf, sizeof(buf), 0);
    assert_int_equal(rtsp_req_begin(&out, RTSP_METHOD_OPTIONS, "*", 1), RD_OK);
    assert_int_equal(rtsp_resp_end(&out, NULL, 0), RD_EPROTO);
    assert_int_equal(out.len, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_response_bytes),
    cmocka_unit_test(test_response_with_body),
    cmocka_unit_test(test_overflow_every_cap),
    cmocka_unit_test(test_refuses_injection),
    cmocka_unit_test(test_misuse),
    cmocka_unit_test(test_request_builder),
};

RD_TEST_MAIN(tests)
