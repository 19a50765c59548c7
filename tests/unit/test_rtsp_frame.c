/* SPDX-License-Identifier: MIT */
/* rtsp_frame.c: streams mixing RTSP messages and '$' frames (RFC 2326 §10.12) split at every
 * point, in fixed and random chunks, each call's input right before a guard page. */
/* guard_buf.h needs MAP_ANONYMOUS, hidden by -std=c11; must precede every system header. */
#define _DEFAULT_SOURCE
#include "rd_test.h"

#include <stdbool.h>
#include <stdlib.h>

#include "guard_buf.h"
#include "rd_err.h"
#include "rtsp_frame.h"

/* ---- stream construction ------------------------------------------------------------- */

#define MAX_ITEMS 64

/* What the splitter must report, in order. */
struct item {
    ssize_t rc; /* item length, or the terminal error */
    enum rtsp_frame_kind kind;
    uint8_t channel;
    size_t payload_len;
    int status;    /* MSG items of a response stream */
    uint32_t cseq; /* MSG items */
    enum rtsp_msg_error error;
};

struct stream {
    char *p;
    size_t len;
    size_t cap;
    struct item want[MAX_ITEMS];
    size_t n_want;
};

static void
st_add(struct stream *s, const void *p, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = (s->len + n) * 2;
        char *q = realloc(s->p, cap);
        assert_non_null(q);
        s->p = q;
        s->cap = cap;
    }
    if (n > 0)
        memcpy(s->p + s->len, p, n);
    s->len += n;
}

static void
st_want(struct stream *s, struct item it)
{
    assert_true(s->n_want < MAX_ITEMS);
    s->want[s->n_want++] = it;
}

static void
st_msg(struct stream *s, const char *text, int status, uint32_t cseq)
{
    size_t n = strlen(text);
    st_add(s, text, n);
    st_want(s, (struct item){(ssize_t)n, RTSP_FRAME_MSG, 0, 0, status, cseq, RTSP_MSG_ERR_NONE});
}

/* A frame whose payload is a recognisable pattern (or text, when given). */
static void
st_frame(struct stream *s, uint8_t channel, size_t n, const char *text)
{
    unsigned char hdr[4] = {'$', channel, (unsigned char)(n >> 8), (unsigned char)n};
    st_add(s, hdr, 4);
    for (size_t k = 0; k < n; k++) {
        unsigned char b = text != NULL ? (unsigned char)text[k] : (unsigned char)(k * 7 + channel);
        st_add(s, &b, 1);
    }
    st_want(s,
            (struct item){(ssize_t)(4 + n), RTSP_FRAME_DATA, channel, n, 0, 0, RTSP_MSG_ERR_NONE});
}

static void
st_empty(struct stream *s, const char *crlfs)
{
    st_add(s, crlfs, strlen(crlfs));
    st_want(s,
            (struct item){(ssize_t)strlen(crlfs), RTSP_FRAME_EMPTY, 0, 0, 0, 0, RTSP_MSG_ERR_NONE});
}

static void
st_free(struct stream *s)
{
    free(s->p);
    *s = (struct stream){0};
}

/* ---- the receiver --------------------------------------------------------------------- */

/* Calls rtsp_frame_next on buf[off..revealed) under a guard page; compares its item with
 * what is expected next and returns the call's result. */
static ssize_t
next_guarded(const struct stream *s, size_t off, size_t revealed, enum rtsp_msg_kind kind,
             size_t *n_got)
{
    struct guard_buf g = {0};
    char *p = guard_buf_put(&g, s->p + off, revealed - off);
    struct rtsp_frame it;
    struct rtsp_msg msg;
    ssize_t rc = rtsp_frame_next(p, revealed - off, kind, NULL, &it, &msg);
    if (rc != RD_AGAIN) {
        assert_true(*n_got < s->n_want);
        const struct item *w = &s->want[*n_got];
        if (rc != w->rc)
            print_error("item %zu at offset %zu: got %zd, want %zd (%s)\n", *n_got, off, rc, w->rc,
                        rtsp_msg_strerror(msg.error));
        assert_int_equal(rc, w->rc);
        if (rc > 0) {
            assert_int_equal(it.kind, w->kind);
            if (it.kind == RTSP_FRAME_DATA) {
                assert_int_equal(it.channel, w->channel);
                assert_int_equal(it.payload_len, w->payload_len);
                assert_true(it.payload_len == 0
                            || (it.payload == (const uint8_t *)p + 4
                                && memcmp(it.payload, s->p + off + 4, it.payload_len) == 0));
            } else if (it.kind == RTSP_FRAME_MSG) {
                assert_int_equal(msg.status, w->status);
                assert_int_equal(msg.cseq, w->cseq);
                assert_int_equal(msg.header_len + msg.content_length, (size_t)rc);
            }
        } else {
            assert_int_equal(msg.error, w->error);
        }
        (*n_got)++;
    }
    guard_buf_free(&g);
    return rc;
}

/* Reveals the stream in chunks of the sizes next_chunk() returns and drains every complete
 * item after each chunk, as a connection's read handler would. All expected items must come
 * out in order; the last expected item may be a terminal error. */
static void
run_chunked(const struct stream *s, enum rtsp_msg_kind kind, size_t (*next_chunk)(void *),
            void *ctx)
{
    size_t off = 0, revealed = 0, n_got = 0;
    bool stopped = false;
    while (revealed < s->len && !stopped) {
        size_t c = next_chunk(ctx);
        assert_true(c > 0);
        revealed = revealed + c > s->len ? s->len : revealed + c;
        for (;;) {
            ssize_t rc = next_guarded(s, off, revealed, kind, &n_got);
            if (rc == RD_AGAIN)
                break;
            if (rc < 0) {
                stopped = true;
                break;
            }
            off += (size_t)rc;
        }
    }
    assert_int_equal(n_got, s->n_want);
    if (!stopped)
        assert_int_equal(off, s->len);
}

static size_t
chunk_fixed(void *ctx)
{
    return *(size_t *)ctx;
}

/* Two chunks: [0, split) then the rest. */
struct two {
    size_t split;
    size_t total;
    int calls;
};

static size_t
chunk_two(void *ctx)
{
    struct two *t = ctx;
    if (t->calls++ == 0 && t->split > 0)
        return t->split;
    return t->total;
}

/* Deterministic xorshift32 for chunk sizes (not security-relevant). */
struct rnd {
    uint32_t x;
    size_t max;
};

static size_t
chunk_random(void *ctx)
{
    struct rnd *r = ctx;
    r->x ^= r->x << 13;
    r->x ^= r->x >> 17;
    r->x ^= r->x << 5;
    return 1 + r->x % r->max;
}

static void
check_all_chunkings(const struct stream *s, enum rtsp_msg_kind kind, bool every_split)
{
    size_t one = s->len;
    run_chunked(s, kind, chunk_fixed, &one); /* one shot */
    if (every_split) {
        for (size_t i = 1; i < s->len; i++) {
            struct two t = {i, s->len, 0};
            run_chunked(s, kind, chunk_two, &t);
        }
        for (size_t c = 1; c <= 17; c++)
            run_chunked(s, kind, chunk_fixed, &c);
    }
    for (uint32_t seed = 1; seed <= 64; seed++) {
        /* Small chunks only on small streams: every call copies its window to a guard page. */
        size_t small = every_split ? 64 : 8192;
        struct rnd r = {seed * 2654435761u, seed % 2 ? small : s->len / 3 + 1};
        run_chunked(s, kind, chunk_random, &r);
    }
}

/* ---- streams -------------------------------------------------------------------------- */

static const char sdp_resp[] = "RTSP/1.0 200 OK\r\n"
                               "CSeq: 2\r\n"
                               "Content-Type: application/sdp\r\n"
                               "Content-Base: rtsp://10.0.0.7/cam/$weird/\r\n"
                               "X-Price: $5\r\n"
                               "Content-Length: 64\r\n"
                               "\r\n"
                               "$\x00\x00\x10"
                               "v=0\r\ns=$ not a frame\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
                               "a=tools\r\n";

/* A camera connection: replies, media and RTCP, stray CRLFs, the PLAY reply after media. */
static void
camera_stream(struct stream *s)
{
    st_msg(s, "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY\r\n\r\n", 200,
           1);
    size_t head = (size_t)(strstr(sdp_resp, "\r\n\r\n") + 4 - sdp_resp);
    assert_int_equal(sizeof(sdp_resp) - 1 - head, 64); /* matches its Content-Length */
    st_add(s, sdp_resp, sizeof(sdp_resp) - 1);
    st_want(s, (struct item){(ssize_t)sizeof(sdp_resp) - 1, RTSP_FRAME_MSG, 0, 0, 200, 2,
                             RTSP_MSG_ERR_NONE});
    st_msg(s,
           "RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: 1A2B3C;timeout=60\r\n"
           "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
           200, 3);
    st_frame(s, 0, 1400, NULL); /* RTP may arrive before the PLAY reply */
    st_msg(s, "RTSP/1.0 200 OK\r\nCSeq: 4\r\nRTP-Info: url=trackID=0;seq=1\r\n\r\n", 200, 4);
    st_frame(s, 0, 12, NULL);
    st_frame(s, 1, 28, NULL);
    st_frame(s, 0, 0, NULL);
    st_frame(s, 255, 17, "RTSP/1.0 200 OK\r\n"); /* text inside a frame stays payload */
    st_empty(s, "\r\n");
    st_frame(s, 0, 300, NULL);
    st_empty(s, "\r\n\n\r\n\n");
    st_frame(s, 1, 3, NULL);
    st_msg(s, "\r\nRTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n", 200, 5); /* CRLF before a message */
    st_msg(s, "RTSP/1.0 454 Session Not Found\nCSeq: 6\n\n", 454, 6);
    st_frame(s, 2, 1, NULL);
}

static void
test_camera_stream(void **state)
{
    (void)state;
    struct stream s = {0};
    camera_stream(&s);
    check_all_chunkings(&s, RTSP_MSG_RESPONSE, true);
    st_free(&s);
}

/* A viewer connection (relay): requests and the viewer's RTCP receiver reports. */
static void
test_viewer_stream(void **state)
{
    (void)state;
    struct stream s = {0};
    st_msg(&s,
           "SETUP rtsp://relay/cam/lobby/tok/trackID=0 RTSP/1.0\r\nCSeq: 3\r\n"
           "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nUser-Agent: Lavf59.27.100\r\n\r\n",
           0, 3);
    st_msg(&s, "PLAY rtsp://relay/cam/lobby/tok/ RTSP/1.0\r\nCSeq: 4\r\nSession: abc\r\n\r\n", 0,
           4);
    st_frame(&s, 1, 32, NULL);
    st_msg(&s,
           "GET_PARAMETER rtsp://relay/cam/lobby/tok/ RTSP/1.0\r\nCSeq: 5\r\nSession: abc\r\n"
           "Content-Length: 3\r\n\r\n$\x01\x02",
           0, 5);
    st_frame(&s, 1, 52, NULL);
    st_msg(&s, "TEARDOWN rtsp://relay/cam/lobby/tok/ RTSP/1.0\r\nCSeq: 6\r\nSession: abc\r\n\r\n",
           0, 6);
    check_all_chunkings(&s, RTSP_MSG_REQUEST, true);
    st_free(&s);
}

/* The largest frame the 16-bit length allows, between messages. */
static void
test_max_frame(void **state)
{
    (void)state;
    struct stream s = {0};
    st_msg(&s, "RTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n", 200, 4);
    st_frame(&s, 0, 65535, NULL);
    st_frame(&s, 1, 65535, NULL);
    st_msg(&s, "RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n", 200, 5);
    check_all_chunkings(&s, RTSP_MSG_RESPONSE, false);
    /* Up to the last byte it waits; the header alone never claims more than 65535. */
    struct rtsp_frame it;
    struct rtsp_msg msg;
    size_t first = (size_t)s.want[0].rc;
    for (size_t n = 1; n < 4 + 65535; n += 4093)
        assert_int_equal(rtsp_frame_next(s.p + first, n, RTSP_MSG_RESPONSE, NULL, &it, &msg),
                         RD_AGAIN);
    assert_int_equal(rtsp_frame_next(s.p + first, 4 + 65534, RTSP_MSG_RESPONSE, NULL, &it, &msg),
                     RD_AGAIN);
    assert_int_equal(rtsp_frame_next(s.p + first, 4 + 65535, RTSP_MSG_RESPONSE, NULL, &it, &msg),
                     4 + 65535);
    assert_int_equal(it.payload_len, 65535);
    /* An input buffer of RTSP_FRAME_MAX_ITEM_BYTES holds the largest frame and response. */
    assert_true(RTSP_FRAME_MAX_ITEM_BYTES >= 4 + 65535);
    assert_true(RTSP_FRAME_MAX_ITEM_BYTES >= RTSP_MSG_MAX_RESPONSE_BYTES);
    st_free(&s);
}

/* A stream that turns bad: the items before come out, then the same error at any chunking. */
static void
test_error_streams(void **state)
{
    (void)state;
    static const struct {
        const char *bad;
        ssize_t rc;
        enum rtsp_msg_error err;
    } rows[] = {
        {"RTSP/1.0 200 OK\r\nServer: cam\r\n\r\n", RD_EPROTO, RTSP_MSG_ERR_CSEQ_MISSING},
        {"RTSP/1.0 200 OK\r\nCSeq: 9\r\nContent-Length: 70000\r\n\r\n", RD_ELIMIT,
         RTSP_MSG_ERR_BODY_TOO_LARGE},
        {"\x80\x60\x12\x34 raw RTP without a $ header", RD_EPROTO, RTSP_MSG_ERR_VERSION_SYNTAX},
        {"\r\n\r\n\r\n\r\n\r\n$\x00\x00\x00", RD_ELIMIT, RTSP_MSG_ERR_LEADING_EMPTY},
        {"\r\r$\x00\x00\x00", RD_EPROTO, RTSP_MSG_ERR_LINE_END},
        {"HTTP/1.1 200 OK\r\n\r\n", RD_EPROTO, RTSP_MSG_ERR_VERSION},
    };
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        struct stream s = {0};
        st_msg(&s, "RTSP/1.0 200 OK\r\nCSeq: 8\r\n\r\n", 200, 8);
        st_frame(&s, 0, 20, NULL);
        st_add(&s, rows[k].bad, strlen(rows[k].bad));
        st_want(&s, (struct item){rows[k].rc, RTSP_FRAME_MSG, 0, 0, 0, 0, rows[k].err});
        check_all_chunkings(&s, RTSP_MSG_RESPONSE, true);
        st_free(&s);
    }
}

/* A request stream at the broker side starting with '$' is refused by the parser, not by
 * the splitter: the splitter reports the frame; a plain request parse must refuse it. */
static void
test_boundaries(void **state)
{
    (void)state;
    struct rtsp_frame it;
    struct rtsp_msg msg;
    assert_int_equal(rtsp_frame_next(NULL, 0, RTSP_MSG_REQUEST, NULL, &it, &msg), RD_AGAIN);
    assert_int_equal(rtsp_frame_next("$", 1, RTSP_MSG_REQUEST, NULL, &it, &msg), RD_AGAIN);
    assert_int_equal(rtsp_frame_next("$\x01\x00", 3, RTSP_MSG_REQUEST, NULL, &it, &msg), RD_AGAIN);
    assert_int_equal(rtsp_frame_next("$\x01\x00\x00", 4, RTSP_MSG_REQUEST, NULL, &it, &msg), 4);
    assert_int_equal(it.kind, RTSP_FRAME_DATA);
    assert_int_equal(it.channel, 1);
    assert_null(it.payload);
    assert_int_equal(rtsp_msg_parse_request("$\x01\x00\x00", 4, &msg), RD_EPROTO);
    /* Empty lines alone: wait, a frame or a message may follow. */
    assert_int_equal(rtsp_frame_next("\r\n", 2, RTSP_MSG_REQUEST, NULL, &it, &msg), RD_AGAIN);
    assert_int_equal(rtsp_frame_next("\r\n\n", 3, RTSP_MSG_REQUEST, NULL, &it, &msg), RD_AGAIN);
    assert_int_equal(rtsp_frame_next("\r\n\n$", 4, RTSP_MSG_REQUEST, NULL, &it, &msg), 3);
    assert_int_equal(it.kind, RTSP_FRAME_EMPTY);
    /* Configured to allow none: CRLF before a frame is an error like before a message. */
    struct rtsp_limits lim = rtsp_limits_default(RTSP_MSG_RESPONSE);
    lim.max_leading_empty_lines = 0;
    assert_int_equal(rtsp_frame_next("\r\n$", 3, RTSP_MSG_RESPONSE, &lim, &it, &msg), RD_ELIMIT);
    assert_int_equal(msg.error, RTSP_MSG_ERR_LEADING_EMPTY);
    /* Limits reach the message parser. */
    lim = rtsp_limits_default(RTSP_MSG_RESPONSE);
    lim.max_body = 2;
    static const char r[] = "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 3\r\n\r\nabc";
    assert_int_equal(rtsp_frame_next(r, sizeof(r) - 1, RTSP_MSG_RESPONSE, &lim, &it, &msg),
                     RD_ELIMIT);
    assert_int_equal(msg.status_hint, 413);
    assert_int_equal(rtsp_frame_next(r, sizeof(r) - 1, RTSP_MSG_RESPONSE, NULL, &it, &msg),
                     sizeof(r) - 1);
    assert_int_equal(it.kind, RTSP_FRAME_MSG);
    assert_true(rd_str_eq_cstr(msg.body, "abc"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_camera_stream), cmocka_unit_test(test_viewer_stream),
    cmocka_unit_test(test_max_frame),     cmocka_unit_test(test_error_streams),
    cmocka_unit_test(test_boundaries),
};

RD_TEST_MAIN(tests)
