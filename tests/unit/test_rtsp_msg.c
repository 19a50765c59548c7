/* SPDX-License-Identifier: MIT */
/* rtsp_msg.c: real client/camera messages, hostile vectors, every split point under a guard
 * page, and one case per SECURITY.md §2.2 limit (also registered as ctest limit.<what>). */
/* guard_buf.h needs MAP_ANONYMOUS, hidden by -std=c11; must precede every system header. */
#define _DEFAULT_SOURCE
#include "rd_test.h"

#include <stdbool.h>
#include <stdlib.h>

#include "guard_buf.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "rtsp_msg.h"

/* ---- helpers ------------------------------------------------------------------------ */

/* A growable test string (tests may allocate; the parser may not). */
struct sb {
    char *p;
    size_t len;
    size_t cap;
};

static void
sb_add(struct sb *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = (s->len + n + 1) * 2;
        char *q = realloc(s->p, cap);
        assert_non_null(q);
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void
sb_str(struct sb *s, const char *str)
{
    sb_add(s, str, strlen(str));
}

static void
sb_rep(struct sb *s, char c, size_t n)
{
    for (size_t k = 0; k < n; k++)
        sb_add(s, &c, 1);
}

static void
sb_free(struct sb *s)
{
    free(s->p);
    *s = (struct sb){0};
}

/* Header lines totalling exactly n bytes (n >= 10), each line within the 4096 cap. */
static void
sb_pad_headers(struct sb *s, size_t n)
{
    while (n > 0) {
        size_t line = n > 4000 ? 3000 : n; /* never leave a remainder under 10 */
        assert_true(line >= 10);
        sb_str(s, "X-Pad: ");
        sb_rep(s, 'p', line - 9);
        sb_str(s, "\r\n");
        n -= line;
    }
}

/* One parse with the input right before a PROT_NONE page. The guard stays mapped so views
 * in msg can be checked; release it with guard_buf_free(). */
static ssize_t
parse_guarded(struct guard_buf *g, const char *data, size_t len, enum rtsp_msg_kind kind,
              const struct rtsp_limits *lim, struct rtsp_msg *msg)
{
    char *p = guard_buf_put(g, data, len);
    return rtsp_msg_parse(p, len, kind, lim, msg);
}

static ssize_t
parse_once(const char *data, size_t len, enum rtsp_msg_kind kind, const struct rtsp_limits *lim,
           struct rtsp_msg *msg)
{
    struct guard_buf g = {0};
    ssize_t rc = parse_guarded(&g, data, len, kind, lim, msg);
    guard_buf_free(&g);
    return rc;
}

/* Every split point: each prefix buf[0..i) gives RD_AGAIN until the whole message is there,
 * and a prefix that already fails fails the same way for every longer prefix. */
static void
check_splits(const char *data, size_t len, enum rtsp_msg_kind kind, const struct rtsp_limits *lim,
             ssize_t want, enum rtsp_msg_error want_err)
{
    struct rtsp_msg msg;
    bool failed = false;
    for (size_t i = 0; i < len; i++) {
        ssize_t rc = parse_once(data, i, kind, lim, &msg);
        if (want > 0) {
            assert_int_equal(rc, (size_t)want <= i ? want : RD_AGAIN);
        } else if (rc != RD_AGAIN) {
            assert_int_equal(rc, want);
            assert_int_equal(msg.error, want_err);
            failed = true;
        } else {
            assert_false(failed); /* once refused, never "need more" again */
        }
    }
    assert_int_equal(parse_once(data, len, kind, lim, &msg), want);
    if (want < 0 && want != RD_AGAIN)
        assert_int_equal(msg.error, want_err);
}

/* Every view of a parsed message lies inside buf[0..consumed). */
static void
check_views(const char *buf, size_t consumed, const struct rtsp_msg *m)
{
#define INSIDE(v) assert_true((v).len == 0 || ((v).p >= buf && (v).p + (v).len <= buf + consumed))
    INSIDE(m->method_name);
    INSIDE(m->uri);
    INSIDE(m->reason);
    INSIDE(m->body);
    for (size_t k = 0; k < m->n_headers; k++) {
        INSIDE(m->headers[k].name);
        INSIDE(m->headers[k].value);
        assert_true(m->headers[k].name.len > 0);
    }
#undef INSIDE
    assert_true(m->header_len + m->content_length == consumed);
    assert_true(m->n_headers <= RD_RTSP_MAX_HEADERS);
}

/* ---- good vectors --------------------------------------------------------------------- */

/* SDP as a gst-rtsp-server 1.22 camera sends it (H.264). */
#define SDP_GST                                                                                    \
    "v=0\r\n"                                                                                      \
    "o=- 1188340656180883 1 IN IP4 127.0.0.1\r\n"                                                  \
    "s=Session streamed with GStreamer\r\n"                                                        \
    "i=rtsp-server\r\n"                                                                            \
    "t=0 0\r\n"                                                                                    \
    "a=tool:GStreamer\r\n"                                                                         \
    "a=type:broadcast\r\n"                                                                         \
    "a=range:npt=now-\r\n"                                                                         \
    "a=control:rtsp://127.0.0.1:8554/test\r\n"                                                     \
    "m=video 0 RTP/AVP 96\r\n"                                                                     \
    "c=IN IP4 0.0.0.0\r\n"                                                                         \
    "b=AS:2097\r\n"                                                                                \
    "a=rtpmap:96 H264/90000\r\n"                                                                   \
    "a=framerate:30\r\n"                                                                           \
    "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z2QAKKzZQHgCJ+XARAAAAwAEAAADAPA8YMZY,"    \
    "aOvjyyLA;profile-level-id=640028;level-asymmetry-allowed=1\r\n"                               \
    "a=control:rtsp://127.0.0.1:8554/test/stream=0\r\n"                                            \
    "a=ts-refclk:local\r\n"                                                                        \
    "a=mediaclk:sender\r\n"

/* SDP in the shape Hikvision-style cameras send (video + audio, LF-only lines). */
#define SDP_CAM                                                                                    \
    "v=0\n"                                                                                        \
    "o=- 1109162014219182 1109162014219192 IN IP4 192.168.1.64\n"                                  \
    "s=Media Presentation\n"                                                                       \
    "e=NONE\n"                                                                                     \
    "b=AS:5050\n"                                                                                  \
    "t=0 0\n"                                                                                      \
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast\n"            \
    "m=video 0 RTP/AVP 96\n"                                                                       \
    "b=AS:5000\n"                                                                                  \
    "a=control:trackID=1\n"                                                                        \
    "a=rtpmap:96 H265/90000\n"                                                                     \
    "a=recvonly\n"                                                                                 \
    "m=audio 0 RTP/AVP 0\n"                                                                        \
    "a=control:trackID=2\n"                                                                        \
    "a=rtpmap:0 PCMU/8000\n"

struct good_vec {
    const char *name;
    enum rtsp_msg_kind kind;
    const char *head; /* start line and headers; with body == NULL the whole message */
    const char *body; /* when set: "Content-Length: N" + empty line + body are appended */
    enum rtsp_method method;
    const char *uri; /* requests */
    int status;      /* responses */
    uint32_t cseq;
    size_t n_headers; /* including the appended Content-Length */
    const char *hname;
    const char *hvalue; /* first value of hname */
    size_t hcount;      /* occurrences of hname */
};

static const struct good_vec good[] = {
    {"ffmpeg OPTIONS", RTSP_MSG_REQUEST,
     "OPTIONS rtsp://127.0.0.1:8554/cam/lobby RTSP/1.0\r\n"
     "CSeq: 1\r\n"
     "User-Agent: Lavf59.27.100\r\n"
     "\r\n",
     NULL, RTSP_METHOD_OPTIONS, "rtsp://127.0.0.1:8554/cam/lobby", 0, 1, 2, "user-agent",
     "Lavf59.27.100", 1},
    {"ffmpeg DESCRIBE", RTSP_MSG_REQUEST,
     "DESCRIBE rtsp://127.0.0.1:8554/cam/lobby RTSP/1.0\r\n"
     "Accept: application/sdp\r\n"
     "CSeq: 2\r\n"
     "User-Agent: Lavf59.27.100\r\n"
     "\r\n",
     NULL, RTSP_METHOD_DESCRIBE, "rtsp://127.0.0.1:8554/cam/lobby", 0, 2, 3, "Accept",
     "application/sdp", 1},
    {"ffmpeg SETUP udp", RTSP_MSG_REQUEST,
     "SETUP rtsp://10.0.0.7:8554/cam/lobby/tk.ABC-123_x/trackID=0 RTSP/1.0\r\n"
     "Transport: RTP/AVP/UDP;unicast;client_port=20950-20951\r\n"
     "CSeq: 3\r\n"
     "User-Agent: Lavf59.27.100\r\n"
     "\r\n",
     NULL, RTSP_METHOD_SETUP, "rtsp://10.0.0.7:8554/cam/lobby/tk.ABC-123_x/trackID=0", 0, 3, 3,
     "TRANSPORT", "RTP/AVP/UDP;unicast;client_port=20950-20951", 1},
    {"ffmpeg SETUP tcp", RTSP_MSG_REQUEST,
     "SETUP rtsp://10.0.0.7:8554/cam/lobby/trackID=1 RTSP/1.0\r\n"
     "Transport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n"
     "CSeq: 4\r\n"
     "User-Agent: Lavf59.27.100\r\n"
     "Session: 0123456789abcdef0123456789abcdef\r\n"
     "\r\n",
     NULL, RTSP_METHOD_SETUP, "rtsp://10.0.0.7:8554/cam/lobby/trackID=1", 0, 4, 4, "Session",
     "0123456789abcdef0123456789abcdef", 1},
    {"ffmpeg PLAY", RTSP_MSG_REQUEST,
     "PLAY rtsp://10.0.0.7:8554/cam/lobby/ RTSP/1.0\r\n"
     "Range: npt=0.000-\r\n"
     "CSeq: 5\r\n"
     "User-Agent: Lavf59.27.100\r\n"
     "Session: 0123456789abcdef0123456789abcdef\r\n"
     "\r\n",
     NULL, RTSP_METHOD_PLAY, "rtsp://10.0.0.7:8554/cam/lobby/", 0, 5, 4, "range", "npt=0.000-", 1},
    {"ffmpeg GET_PARAMETER keepalive", RTSP_MSG_REQUEST,
     "GET_PARAMETER rtsp://10.0.0.7:8554/cam/lobby/ RTSP/1.0\r\n"
     "CSeq: 6\r\n"
     "User-Agent: Lavf59.27.100\r\n"
     "Session: 0123456789abcdef0123456789abcdef\r\n"
     "\r\n",
     NULL, RTSP_METHOD_GET_PARAMETER, "rtsp://10.0.0.7:8554/cam/lobby/", 0, 6, 3, "CSeq", "6", 1},
    {"ffmpeg TEARDOWN", RTSP_MSG_REQUEST,
     "TEARDOWN rtsp://10.0.0.7:8554/cam/lobby/ RTSP/1.0\r\n"
     "CSeq: 7\r\n"
     "User-Agent: Lavf59.27.100\r\n"
     "Session: 0123456789abcdef0123456789abcdef\r\n"
     "\r\n",
     NULL, RTSP_METHOD_TEARDOWN, "rtsp://10.0.0.7:8554/cam/lobby/", 0, 7, 3, "X-Absent", NULL, 0},
    {"gstreamer OPTIONS, two User-Agent", RTSP_MSG_REQUEST,
     "OPTIONS rtsp://127.0.0.1:8554/cam/lobby RTSP/1.0\r\n"
     "CSeq: 1\r\n"
     "User-Agent: GStreamer/1.22.0\r\n"
     "ClientChallenge: 9e26d33f2984236010ef6253fb1887f7\r\n"
     "PlayerStarttime: [28/03/2003:22:50:23 00:00]\r\n"
     "CompanyID: KnKV4M4I/B2FjJ1TToLycw==\r\n"
     "GUID: 00000000-0000-0000-0000-000000000000\r\n"
     "RegionData: 0\r\n"
     "ClientID: Linux_2.4_6.0.9.1235_play32_RN01_EN_586\r\n"
     "Pragma: initiate-session\r\n"
     "User-Agent: RealMedia Player Version 6.0.9.1235 (linux-2.0-libc6-i386-gcc2.95)\r\n"
     "Date: Sat, 01 Jun 2024 10:00:00 GMT\r\n"
     "\r\n",
     NULL, RTSP_METHOD_OPTIONS, "rtsp://127.0.0.1:8554/cam/lobby", 0, 1, 11, "User-Agent",
     "GStreamer/1.22.0", 2},
    {"gstreamer SETUP tcp", RTSP_MSG_REQUEST,
     "SETUP rtsp://127.0.0.1:8554/cam/lobby/stream=0 RTSP/1.0\r\n"
     "CSeq: 3\r\n"
     "User-Agent: GStreamer/1.22.0\r\n"
     "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
     "Date: Sat, 01 Jun 2024 10:00:00 GMT\r\n"
     "\r\n",
     NULL, RTSP_METHOD_SETUP, "rtsp://127.0.0.1:8554/cam/lobby/stream=0", 0, 3, 4, "date",
     "Sat, 01 Jun 2024 10:00:00 GMT", 1},
    {"vlc DESCRIBE (live555)", RTSP_MSG_REQUEST,
     "DESCRIBE rtsp://127.0.0.1:8554/cam/lobby RTSP/1.0\r\n"
     "CSeq: 2\r\n"
     "User-Agent: LibVLC/3.0.18 (LIVE555 Streaming Media v2022.10.01)\r\n"
     "Accept: application/sdp\r\n"
     "\r\n",
     NULL, RTSP_METHOD_DESCRIBE, "rtsp://127.0.0.1:8554/cam/lobby", 0, 2, 3, "user-agent",
     "LibVLC/3.0.18 (LIVE555 Streaming Media v2022.10.01)", 1},
    {"openRTSP DESCRIBE with userinfo", RTSP_MSG_REQUEST,
     "DESCRIBE rtsp://admin:s3cret@127.0.0.1:8554/cam/lobby RTSP/1.0\r\n"
     "CSeq: 3\r\n"
     "User-Agent: ./openRTSP (LIVE555 Streaming Media v2026.06.01)\r\n"
     "Accept: application/sdp\r\n"
     "\r\n",
     NULL, RTSP_METHOD_DESCRIBE, "rtsp://admin:s3cret@127.0.0.1:8554/cam/lobby", 0, 3, 3, "accept",
     "application/sdp", 1},
    {"SET_PARAMETER with body", RTSP_MSG_REQUEST,
     "SET_PARAMETER rtsp://10.0.0.7/cam/lobby RTSP/1.0\r\n"
     "CSeq: 9\r\n"
     "Content-Type: text/parameters\r\n",
     "barparam: barstuff\r\n", RTSP_METHOD_SET_PARAMETER, "rtsp://10.0.0.7/cam/lobby", 0, 9, 3,
     "content-type", "text/parameters", 1},
    {"ANNOUNCE with SDP (router answers 405)", RTSP_MSG_REQUEST,
     "ANNOUNCE rtsp://10.0.0.7/cam/lobby RTSP/1.0\r\n"
     "CSeq: 2\r\n"
     "Content-Type: application/sdp\r\n",
     SDP_GST, RTSP_METHOD_ANNOUNCE, "rtsp://10.0.0.7/cam/lobby", 0, 2, 3, "Content-Type",
     "application/sdp", 1},
    {"bare LF, leading empty lines, odd spacing", RTSP_MSG_REQUEST,
     "\r\n\n\r\n\nOPTIONS * RTSP/1.0\n"
     "CSeq:0000042  \n"
     "X-Empty:\n"
     "X-Tab:\tvalue\twith tabs\t\n"
     "X-Utf8: caf\xc3\xa9 \xe2\x82\xac\n"
     "\n",
     NULL, RTSP_METHOD_OPTIONS, "*", 0, 42, 4, "x-tab", "value\twith tabs", 1},
    {"unknown but valid method", RTSP_MSG_REQUEST,
     "FLUSH_ALL_NOW rtsp://h/x?a=%20&b=[1] RTSP/1.0\r\n"
     "cseq: 999999999\r\n"
     "\r\n",
     NULL, RTSP_METHOD_UNKNOWN, "rtsp://h/x?a=%20&b=[1]", 0, 999999999, 1, "X-Empty", NULL, 0},
    {"gst-rtsp-server OPTIONS reply", RTSP_MSG_RESPONSE,
     "RTSP/1.0 200 OK\r\n"
     "CSeq: 1\r\n"
     "Public: OPTIONS, DESCRIBE, ANNOUNCE, GET_PARAMETER, PAUSE, PLAY, RECORD, SETUP, "
     "SET_PARAMETER, TEARDOWN\r\n"
     "Server: GStreamer RTSP server\r\n"
     "Date: Sat, 01 Jun 2024 10:00:00 GMT\r\n"
     "\r\n",
     NULL, RTSP_METHOD_UNKNOWN, NULL, 200, 1, 4, "server", "GStreamer RTSP server", 1},
    {"gst-rtsp-server DESCRIBE reply with SDP", RTSP_MSG_RESPONSE,
     "RTSP/1.0 200 OK\r\n"
     "CSeq: 2\r\n"
     "Content-Type: application/sdp\r\n"
     "Content-Base: rtsp://127.0.0.1:8554/test/\r\n"
     "Server: GStreamer RTSP server\r\n"
     "Date: Sat, 01 Jun 2024 10:00:00 GMT\r\n",
     SDP_GST, RTSP_METHOD_UNKNOWN, NULL, 200, 2, 6, "Content-Base", "rtsp://127.0.0.1:8554/test/",
     1},
    {"camera 401 Digest challenge", RTSP_MSG_RESPONSE,
     "RTSP/1.0 401 Unauthorized\r\n"
     "CSeq: 2\r\n"
     "WWW-Authenticate: Digest realm=\"IP Camera(C2358)\", nonce=\"a2ae8cf1e2b7bf3fc7b1c1a04a7e0"
     "d1b\", stale=\"FALSE\"\r\n"
     "WWW-Authenticate: Basic realm=\"IP Camera(C2358)\"\r\n"
     "Date:  Sat, Jun 01 2024 10:00:00 GMT\r\n"
     "\r\n",
     NULL, RTSP_METHOD_UNKNOWN, NULL, 401, 2, 4, "www-authenticate",
     "Digest realm=\"IP Camera(C2358)\", nonce=\"a2ae8cf1e2b7bf3fc7b1c1a04a7e0d1b\", "
     "stale=\"FALSE\"",
     2},
    {"camera DESCRIBE reply, LF-only SDP", RTSP_MSG_RESPONSE,
     "RTSP/1.0 200 OK\r\n"
     "CSeq: 3\r\n"
     "Content-Type: application/sdp\r\n"
     "Content-Base: rtsp://192.168.1.64:554/Streaming/Channels/101/\r\n",
     SDP_CAM, RTSP_METHOD_UNKNOWN, NULL, 200, 3, 4, "content-type", "application/sdp", 1},
    {"broker 302", RTSP_MSG_RESPONSE,
     "RTSP/1.0 302 Moved Temporarily\r\n"
     "CSeq: 2\r\n"
     "Location: rtsp://relay-2.example:8554/cam/lobby/v1.k1.1717236000.Zm9vYmFy\r\n"
     "Cache-Control: no-cache\r\n"
     "Content-Length: 0\r\n"
     "\r\n",
     NULL, RTSP_METHOD_UNKNOWN, NULL, 302, 2, 4, "location",
     "rtsp://relay-2.example:8554/cam/lobby/v1.k1.1717236000.Zm9vYmFy", 1},
    {"camera SETUP reply", RTSP_MSG_RESPONSE,
     "RTSP/1.0 200 OK\r\n"
     "CSeq: 4\r\n"
     "Session: 1A2B3C4D;timeout=60\r\n"
     "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=5B1CAB2F;mode=\"play\"\r\n"
     "Date: Sat, Jun 01 2024 10:00:00 GMT\r\n"
     "\r\n",
     NULL, RTSP_METHOD_UNKNOWN, NULL, 200, 4, 4, "session", "1A2B3C4D;timeout=60", 1},
    {"camera PLAY reply, no reason phrase", RTSP_MSG_RESPONSE,
     "RTSP/1.0 200\r\n"
     "CSeq: 5\r\n"
     "RTP-Info: url=rtsp://192.168.1.64:554/trackID=1;seq=9810;rtptime=3450012\r\n"
     "\r\n",
     NULL, RTSP_METHOD_UNKNOWN, NULL, 200, 5, 2, "rtp-info",
     "url=rtsp://192.168.1.64:554/trackID=1;seq=9810;rtptime=3450012", 1},
};

/* Assembles a good vector into s. */
static void
good_build(const struct good_vec *v, struct sb *s)
{
    sb_str(s, v->head);
    if (v->body != NULL) {
        char cl[64];
        int n = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", strlen(v->body));
        assert_true(n > 0 && (size_t)n < sizeof(cl));
        sb_str(s, cl);
        sb_str(s, v->body);
    }
}

static void
check_good(const struct good_vec *v, const char *buf, size_t len, const struct rtsp_msg *m)
{
    (void)buf;
    (void)len;
    assert_int_equal(m->kind, v->kind);
    assert_true(m->has_cseq);
    assert_int_equal(m->cseq, v->cseq);
    assert_int_equal(m->n_headers, v->n_headers);
    assert_int_equal(m->status_hint, 0);
    assert_int_equal(m->error, RTSP_MSG_ERR_NONE);
    if (v->kind == RTSP_MSG_REQUEST) {
        assert_int_equal(m->method, v->method);
        assert_true(rd_str_eq_cstr(m->uri, v->uri));
        if (v->method != RTSP_METHOD_UNKNOWN)
            assert_true(rd_str_eq_cstr(m->method_name, rtsp_method_name(v->method)));
        assert_int_equal(m->status, 0);
    } else {
        assert_int_equal(m->status, v->status);
        assert_int_equal(m->method_name.len, 0);
    }
    size_t body_len = v->body != NULL ? strlen(v->body) : 0;
    assert_int_equal(m->content_length, body_len);
    assert_int_equal(m->body.len, body_len);
    if (body_len > 0)
        assert_memory_equal(m->body.p, v->body, body_len);
    struct rd_str val;
    assert_int_equal(rtsp_msg_header_count(m, v->hname), v->hcount);
    if (v->hcount > 0) {
        assert_true(rtsp_msg_header(m, v->hname, &val));
        assert_true(rd_str_eq_cstr(val, v->hvalue));
    } else {
        assert_false(rtsp_msg_header(m, v->hname, &val));
        assert_null(val.p);
        assert_int_equal(val.len, 0);
    }
}

static void
test_good_vectors(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
        const struct good_vec *v = &good[k];
        struct sb s = {0};
        good_build(v, &s);
        print_message("good: %s\n", v->name);
        struct guard_buf g = {0};
        struct rtsp_msg m;
        ssize_t rc = parse_guarded(&g, s.p, s.len, v->kind, NULL, &m);
        assert_int_equal(rc, s.len);
        check_good(v, g.data, s.len, &m);
        check_views(g.data, s.len, &m);
        guard_buf_free(&g);
        /* Parsed as the other kind, no real message is valid. */
        rc = parse_once(s.p, s.len,
                        v->kind == RTSP_MSG_REQUEST ? RTSP_MSG_RESPONSE : RTSP_MSG_REQUEST, NULL,
                        &m);
        assert_true(rc == RD_EPROTO || rc == RD_ELIMIT);
        sb_free(&s);
    }
}

static void
test_good_every_split(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
        struct sb s = {0};
        good_build(&good[k], &s);
        check_splits(s.p, s.len, good[k].kind, NULL, (ssize_t)s.len, RTSP_MSG_ERR_NONE);
        sb_free(&s);
    }
}

/* Pipelined: each message is consumed on its own and the next starts right after it. */
static void
test_pipelined(void **state)
{
    (void)state;
    struct sb s = {0};
    size_t ends[sizeof(good) / sizeof(good[0])];
    size_t n = 0;
    for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
        if (good[k].kind != RTSP_MSG_REQUEST)
            continue;
        good_build(&good[k], &s);
        ends[n++] = s.len;
    }
    struct guard_buf g = {0};
    char *p = guard_buf_put(&g, s.p, s.len);
    size_t off = 0;
    for (size_t k = 0; k < n; k++) {
        struct rtsp_msg m;
        ssize_t rc = rtsp_msg_parse_request(p + off, s.len - off, &m);
        assert_int_equal(rc, ends[k] - off);
        check_views(p + off, (size_t)rc, &m);
        off += (size_t)rc;
    }
    assert_int_equal(off, s.len);
    guard_buf_free(&g);
    sb_free(&s);
}

/* While only the body is missing, header_len already tells the caller the headers are in. */
static void
test_body_pending(void **state)
{
    (void)state;
    static const char req[] = "SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 10\r\n\r\n"
                              "0123456789";
    size_t head = sizeof(req) - 1 - 10;
    struct rtsp_msg m;
    assert_int_equal(parse_once(req, head - 1, RTSP_MSG_REQUEST, NULL, &m), RD_AGAIN);
    assert_int_equal(m.header_len, 0);
    assert_int_equal(parse_once(req, head + 3, RTSP_MSG_REQUEST, NULL, &m), RD_AGAIN);
    assert_int_equal(m.header_len, head);
    assert_int_equal(m.content_length, 10);
    assert_int_equal(parse_once(req, sizeof(req) - 1, RTSP_MSG_REQUEST, NULL, &m), sizeof(req) - 1);
}

static void
test_header_lookup(void **state)
{
    (void)state;
    static const char req[] = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-A: one\r\nx-a: two\r\n"
                              "X-Empty:   \r\nX-A:three\r\n\r\n";
    struct rtsp_msg m;
    struct guard_buf g = {0};
    assert_int_equal(parse_guarded(&g, req, sizeof(req) - 1, RTSP_MSG_REQUEST, NULL, &m),
                     sizeof(req) - 1);
    struct rd_str v;
    assert_int_equal(rtsp_msg_header_count(&m, "X-A"), 3);
    assert_true(rtsp_msg_header_nth(&m, "X-A", 0, &v) && rd_str_eq_cstr(v, "one"));
    assert_true(rtsp_msg_header_nth(&m, "x-A", 1, &v) && rd_str_eq_cstr(v, "two"));
    assert_true(rtsp_msg_header_nth(&m, "X-A", 2, &v) && rd_str_eq_cstr(v, "three"));
    assert_false(rtsp_msg_header_nth(&m, "X-A", 3, &v));
    assert_int_equal(v.len, 0);
    /* Present but empty is not absent. */
    assert_true(rtsp_msg_header(&m, "X-EMPTY", &v));
    assert_int_equal(v.len, 0);
    assert_false(rtsp_msg_header(&m, "X-Emp", &v));
    assert_false(rtsp_msg_header(&m, "Session", &v));
    assert_int_equal(rtsp_msg_header_count(&m, "Session"), 0);
    guard_buf_free(&g);
}

/* ---- bad vectors ---------------------------------------------------------------------- */

struct bad_vec {
    const char *name;
    enum rtsp_msg_kind kind;
    const char *raw;
    size_t len; /* literals may hold NUL */
    ssize_t rc;
    int hint;
    enum rtsp_msg_error err;
    bool has_cseq; /* whether the error reply may echo a CSeq */
};

#define REQ  RTSP_MSG_REQUEST
#define RESP RTSP_MSG_RESPONSE
#define BAD(name, kind, lit, rc, hint, err, cseq)                                                  \
    {                                                                                              \
        name, kind, lit, sizeof(lit) - 1, rc, hint, RTSP_MSG_ERR_##err, cseq                       \
    }

static const struct bad_vec bad[] = {
    BAD("interleaved frame where a request must be", REQ, "$\x00\x00\x0c", RD_EPROTO, 400, METHOD,
        false),
    BAD("TLS ClientHello on the plain port", REQ, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        RD_EPROTO, 400, METHOD, false),
    BAD("lower-case method", REQ, "options * RTSP/1.0\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, METHOD,
        false),
    BAD("leading space", REQ, " OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, METHOD,
        false),
    BAD("tab after method", REQ, "OPTIONS\t* RTSP/1.0\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, METHOD,
        false),
    BAD("digit in method", REQ, "OPTIONS2 * RTSP/1.0\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, METHOD,
        false),
    BAD("empty uri", REQ, "OPTIONS  RTSP/1.0\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, URI, false),
    BAD("CTL in uri", REQ, "OPTIONS rtsp://h/\x01 RTSP/1.0\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, URI,
        false),
    BAD("NUL in uri", REQ, "OPTIONS rtsp://h/\0 RTSP/1.0\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, URI,
        false),
    BAD("8-bit uri", REQ, "OPTIONS rtsp://h/caf\xc3\xa9 RTSP/1.0\r\nCSeq: 1\r\n\r\n", RD_EPROTO,
        400, URI, false),
    BAD("no version", REQ, "OPTIONS *\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, URI, false),
    BAD("empty version", REQ, "OPTIONS * \r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, VERSION_SYNTAX,
        false),
    BAD("trailing space after version", REQ, "OPTIONS * RTSP/1.0 \r\nCSeq: 1\r\n\r\n", RD_EPROTO,
        400, VERSION_SYNTAX, false),
    BAD("RTSP/2.0", REQ, "OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 505, VERSION, false),
    BAD("lower-case version", REQ, "OPTIONS * rtsp/1.0\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 505, VERSION,
        false),
    BAD("HTTP request on the RTSP port", REQ, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", RD_EPROTO, 505,
        VERSION, false),
    BAD("CR without LF ending the request line", REQ, "OPTIONS * RTSP/1.0\rCSeq: 1\r\n\r\n",
        RD_EPROTO, 400, LINE_END, false),
    BAD("CR without LF inside a value", REQ, "OPTIONS * RTSP/1.0\r\nCSeq: 1\rX-A: b\r\n\r\n",
        RD_EPROTO, 400, LINE_END, false),
    BAD("CR without LF ending the block", REQ, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\rX", RD_EPROTO,
        400, LINE_END, false),
    BAD("CR CR in leading empty lines", REQ, "\r\rOPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n", RD_EPROTO,
        400, LINE_END, false),
    BAD("header without colon", REQ, "OPTIONS * RTSP/1.0\r\nCSeq 1\r\n\r\n", RD_EPROTO, 400,
        HEADER_NAME, false),
    BAD("space before colon", REQ, "OPTIONS * RTSP/1.0\r\nCSeq : 1\r\n\r\n", RD_EPROTO, 400,
        HEADER_NAME, false),
    BAD("empty header name", REQ, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n: x\r\n\r\n", RD_EPROTO, 400,
        HEADER_NAME, false),
    BAD("separator in header name", REQ, "OPTIONS * RTSP/1.0\r\nC(Seq): 1\r\n\r\n", RD_EPROTO, 400,
        HEADER_NAME, false),
    BAD("NUL in header value", REQ, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-A: a\0b\r\n\r\n", RD_EPROTO,
        400, HEADER_VALUE, false),
    BAD("DEL in header value", REQ, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-A: a\x7f\r\n\r\n",
        RD_EPROTO, 400, HEADER_VALUE, false),
    BAD("ESC in header value", REQ, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-A: \x1b[2J\r\n\r\n",
        RD_EPROTO, 400, HEADER_VALUE, false),
    BAD("obs-fold", REQ, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-A: a\r\n b\r\n\r\n", RD_EPROTO, 400,
        OBS_FOLD, false),
    BAD("first header line starts with HT", REQ, "OPTIONS * RTSP/1.0\r\n\tCSeq: 1\r\n\r\n",
        RD_EPROTO, 400, OBS_FOLD, false),
    BAD("5 leading empty lines", REQ, "\r\n\r\n\n\r\n\nOPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        RD_ELIMIT, 400, LEADING_EMPTY, false),
    BAD("CSeq missing", REQ, "OPTIONS * RTSP/1.0\r\nX-CSeq: 1\r\n\r\n", RD_EPROTO, 400,
        CSEQ_MISSING, false),
    BAD("CSeq twice", REQ, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\ncseq: 1\r\n\r\n", RD_EPROTO, 400,
        CSEQ_DUPLICATE, false),
    BAD("CSeq empty", REQ, "OPTIONS * RTSP/1.0\r\nCSeq:  \r\n\r\n", RD_EPROTO, 400, CSEQ_SYNTAX,
        false),
    BAD("CSeq negative", REQ, "OPTIONS * RTSP/1.0\r\nCSeq: -1\r\n\r\n", RD_EPROTO, 400, CSEQ_SYNTAX,
        false),
    BAD("CSeq plus sign", REQ, "OPTIONS * RTSP/1.0\r\nCSeq: +1\r\n\r\n", RD_EPROTO, 400,
        CSEQ_SYNTAX, false),
    BAD("CSeq two numbers", REQ, "OPTIONS * RTSP/1.0\r\nCSeq: 1 2\r\n\r\n", RD_EPROTO, 400,
        CSEQ_SYNTAX, false),
    BAD("CSeq with CRLF payload attempt", REQ,
        "OPTIONS * RTSP/1.0\r\nCSeq: 1%0d%0aLocation: evil\r\n\r\n", RD_EPROTO, 400, CSEQ_SYNTAX,
        false),
    BAD("CSeq 10 digits", REQ, "OPTIONS * RTSP/1.0\r\nCSeq: 4294967296\r\n\r\n", RD_ELIMIT, 400,
        CSEQ_LONG, false),
    BAD("Content-Length twice", REQ,
        "SET_PARAMETER * RTSP/1.0\r\nCSeq: 4\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
        RD_EPROTO, 400, CLEN_DUPLICATE, true),
    BAD("Content-Length negative", REQ,
        "SET_PARAMETER * RTSP/1.0\r\nCSeq: 4\r\nContent-Length: -1\r\n\r\n", RD_EPROTO, 400,
        CLEN_SYNTAX, true),
    BAD("Content-Length hex", REQ,
        "SET_PARAMETER * RTSP/1.0\r\nCSeq: 4\r\nContent-Length: 0x10\r\n\r\n", RD_EPROTO, 400,
        CLEN_SYNTAX, true),
    BAD("Content-Length list", REQ,
        "SET_PARAMETER * RTSP/1.0\r\nCSeq: 4\r\nContent-Length: 2, 2\r\n\r\n", RD_EPROTO, 400,
        CLEN_SYNTAX, true),
    BAD("Content-Length 20 digits (overflow)", REQ,
        "SET_PARAMETER * RTSP/1.0\r\nCSeq: 4\r\nContent-Length: 18446744073709551617\r\n\r\n",
        RD_ELIMIT, 400, CLEN_LONG, true),
    BAD("Transfer-Encoding chunked", REQ,
        "SET_PARAMETER * RTSP/1.0\r\nCSeq: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        RD_EPROTO, 501, TRANSFER_ENCODING, true),
    BAD("Transfer-Encoding with Content-Length", REQ,
        "SET_PARAMETER * RTSP/1.0\r\nCSeq: 5\r\nContent-Length: 3\r\ntransfer-encoding: "
        "identity\r\n\r\nabc",
        RD_EPROTO, 501, TRANSFER_ENCODING, true),
    BAD("body on DESCRIBE", REQ, "DESCRIBE * RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 3\r\n\r\nabc",
        RD_EPROTO, 400, BODY_NOT_ALLOWED, true),
    BAD("body on an unknown method", REQ,
        "FOO * RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 3\r\n\r\nabc", RD_EPROTO, 400,
        BODY_NOT_ALLOWED, true),
    BAD("huge body on SET_PARAMETER", REQ,
        "SET_PARAMETER * RTSP/1.0\r\nCSeq: 6\r\nContent-Length: 999999999\r\n\r\n", RD_ELIMIT, 413,
        BODY_TOO_LARGE, true),
    BAD("status 4 digits", RESP, "RTSP/1.0 2000 OK\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, STATUS,
        false),
    BAD("status 2 digits", RESP, "RTSP/1.0 20 OK\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, STATUS,
        false),
    BAD("status 099", RESP, "RTSP/1.0 099 OK\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, STATUS, false),
    BAD("status 600", RESP, "RTSP/1.0 600 OK\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, STATUS, false),
    BAD("status missing", RESP, "RTSP/1.0 \r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, STATUS, false),
    BAD("HTTP status line", RESP, "HTTP/1.1 200 OK\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 505, VERSION,
        false),
    BAD("version only", RESP, "RTSP/1.0\r\n\r\n", RD_EPROTO, 400, VERSION_SYNTAX, false),
    BAD("NUL in reason", RESP, "RTSP/1.0 200 O\0K\r\nCSeq: 1\r\n\r\n", RD_EPROTO, 400, REASON,
        false),
    BAD("response without CSeq", RESP, "RTSP/1.0 200 OK\r\nServer: cam\r\n\r\n", RD_EPROTO, 400,
        CSEQ_MISSING, false),
    BAD("response Content-Length twice", RESP,
        "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 1\r\nContent-Length: 100000\r\n\r\nx",
        RD_EPROTO, 400, CLEN_DUPLICATE, true),
    BAD("response chunked", RESP,
        "RTSP/1.0 200 OK\r\nCSeq: 2\r\nTransfer-Encoding: chunked\r\n\r\n", RD_EPROTO, 501,
        TRANSFER_ENCODING, true),
    BAD("response body over 64 KiB", RESP,
        "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 65537\r\n\r\nv=0\r\n", RD_ELIMIT, 413,
        BODY_TOO_LARGE, true),
};

static void
test_bad_vectors(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        const struct bad_vec *v = &bad[k];
        print_message("bad: %s\n", v->name);
        struct rtsp_msg m;
        ssize_t rc = parse_once(v->raw, v->len, v->kind, NULL, &m);
        assert_int_equal(rc, v->rc);
        assert_int_equal(m.status_hint, v->hint);
        assert_int_equal(m.error, v->err);
        assert_int_equal(m.has_cseq, v->has_cseq);
        assert_non_null(rtsp_msg_strerror(m.error));
        check_splits(v->raw, v->len, v->kind, NULL, v->rc, v->err);
    }
}

/* ---- limits: one case per SECURITY.md §2.2 row (ctest limit.<what>) -------------------- */

static void
expect(const char *buf, size_t len, enum rtsp_msg_kind kind, const struct rtsp_limits *lim,
       ssize_t rc, enum rtsp_msg_error err)
{
    struct rtsp_msg m;
    ssize_t got = parse_once(buf, len, kind, lim, &m);
    if (got != rc || m.error != err)
        print_error("got %zd (%s), want %zd (%s)\n", got, rtsp_msg_strerror(m.error), rc,
                    rtsp_msg_strerror(err));
    assert_int_equal(got, rc);
    assert_int_equal(m.error, err);
}

static int
hint_of(const char *buf, size_t len, enum rtsp_msg_kind kind)
{
    struct rtsp_msg m;
    (void)parse_once(buf, len, kind, NULL, &m);
    return m.status_hint;
}

static void
limit_leading_empty_lines(void **state)
{
    (void)state;
    static const char ok[] = "\r\n\r\n\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";
    expect(ok, sizeof(ok) - 1, REQ, NULL, sizeof(ok) - 1, RTSP_MSG_ERR_NONE);
    static const char over[] = "\r\n\r\n\n\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";
    expect(over, sizeof(over) - 1, REQ, NULL, RD_ELIMIT, RTSP_MSG_ERR_LEADING_EMPTY);
    assert_int_equal(hint_of(over, sizeof(over) - 1, REQ), 400);
    /* An endless CRLF stream is refused at the first byte of the fifth line. */
    expect(over, 7, REQ, NULL, RD_AGAIN, RTSP_MSG_ERR_NONE);
    expect(over, 8, REQ, NULL, RD_ELIMIT, RTSP_MSG_ERR_LEADING_EMPTY);
    /* Configured lower: none at all. */
    struct rtsp_limits lim = rtsp_limits_default(REQ);
    lim.max_leading_empty_lines = 0;
    expect(ok, sizeof(ok) - 1, REQ, &lim, RD_ELIMIT, RTSP_MSG_ERR_LEADING_EMPTY);
    expect(ok + 7, sizeof(ok) - 8, REQ, &lim, sizeof(ok) - 8, RTSP_MSG_ERR_NONE);
}

static void
limit_start_line(void **state)
{
    (void)state;
    /* Method, URI and version caps keep a valid request line under 4096, so the line cap
     * fires on an overlong version token: refused at byte 4097 without any CRLF. */
    struct sb s = {0};
    sb_str(&s, "OPTIONS * ");
    sb_rep(&s, 'V', RD_RTSP_MAX_START_LINE - s.len);
    expect(s.p, s.len, REQ, NULL, RD_AGAIN, RTSP_MSG_ERR_NONE);
    sb_str(&s, "V");
    expect(s.p, s.len, REQ, NULL, RD_ELIMIT, RTSP_MSG_ERR_START_LINE_LONG);
    assert_int_equal(hint_of(s.p, s.len, REQ), 400);
    sb_free(&s);

    /* Status line: exactly 4096 bytes pass, 4097 fail (reason phrase fills it). */
    sb_str(&s, "RTSP/1.0 200 ");
    sb_rep(&s, 'r', RD_RTSP_MAX_START_LINE - s.len);
    sb_str(&s, "\r\nCSeq: 1\r\n\r\n");
    expect(s.p, s.len, RESP, NULL, (ssize_t)s.len, RTSP_MSG_ERR_NONE);
    sb_free(&s);
    sb_str(&s, "RTSP/1.0 200 ");
    sb_rep(&s, 'r', RD_RTSP_MAX_START_LINE + 1 - s.len);
    expect(s.p, s.len, RESP, NULL, RD_ELIMIT, RTSP_MSG_ERR_START_LINE_LONG);
    sb_free(&s);

    /* Configured lower: the boundary moves with it, and the URI overflowing it is a 414. */
    struct rtsp_limits lim = rtsp_limits_default(REQ);
    static const char req[] = "OPTIONS rtsp://h/ab RTSP/1.0\r\nCSeq: 1\r\n\r\n";
    lim.max_start_line = (size_t)(strchr(req, '\r') - req);
    expect(req, sizeof(req) - 1, REQ, &lim, sizeof(req) - 1, RTSP_MSG_ERR_NONE);
    lim.max_start_line--;
    expect(req, sizeof(req) - 1, REQ, &lim, RD_ELIMIT, RTSP_MSG_ERR_START_LINE_LONG);
    lim.max_start_line = 12; /* offset 12 is inside the URI */
    expect(req, sizeof(req) - 1, REQ, &lim, RD_ELIMIT, RTSP_MSG_ERR_URI_LONG);
    assert_int_equal(rtsp_limits_default(REQ).max_start_line, RD_RTSP_MAX_START_LINE);
}

static void
limit_method(void **state)
{
    (void)state;
    struct sb s = {0};
    sb_rep(&s, 'M', RD_RTSP_MAX_METHOD);
    sb_str(&s, " * RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    expect(s.p, s.len, REQ, NULL, (ssize_t)s.len, RTSP_MSG_ERR_NONE);
    sb_free(&s);
    sb_rep(&s, 'M', RD_RTSP_MAX_METHOD + 1); /* refused before any SP arrives */
    expect(s.p, s.len, REQ, NULL, RD_ELIMIT, RTSP_MSG_ERR_METHOD_LONG);
    assert_int_equal(hint_of(s.p, s.len, REQ), 400);
    expect(s.p, s.len - 1, REQ, NULL, RD_AGAIN, RTSP_MSG_ERR_NONE);
    sb_free(&s);
    expect("PLAY-IT * RTSP/1.0\r\n", 20, REQ, NULL, RD_EPROTO, RTSP_MSG_ERR_METHOD);
}

static void
limit_uri(void **state)
{
    (void)state;
    struct sb s = {0};
    sb_str(&s, "DESCRIBE rtsp://h/");
    sb_rep(&s, 'u', RD_RTSP_MAX_URI - 9);
    sb_str(&s, " RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    expect(s.p, s.len, REQ, NULL, (ssize_t)s.len, RTSP_MSG_ERR_NONE);
    sb_free(&s);
    sb_str(&s, "DESCRIBE rtsp://h/");
    sb_rep(&s, 'u', RD_RTSP_MAX_URI - 8); /* 4001 bytes, no SP yet: 414 at once */
    expect(s.p, s.len, REQ, NULL, RD_ELIMIT, RTSP_MSG_ERR_URI_LONG);
    assert_int_equal(hint_of(s.p, s.len, REQ), 414);
    expect(s.p, s.len - 1, REQ, NULL, RD_AGAIN, RTSP_MSG_ERR_NONE);
    /* Configuration cannot raise a cap. */
    struct rtsp_limits lim = rtsp_limits_default(REQ);
    lim.max_uri = 100000;
    lim.max_start_line = 100000;
    expect(s.p, s.len, REQ, &lim, RD_ELIMIT, RTSP_MSG_ERR_URI_LONG);
    /* But can lower it. */
    lim.max_uri = 5;
    static const char five[] = "PLAY abcde RTSP/1.0\r\nCSeq: 1\r\n\r\n";
    static const char six[] = "PLAY abcdef RTSP/1.0\r\nCSeq: 1\r\n\r\n";
    expect(five, sizeof(five) - 1, REQ, &lim, sizeof(five) - 1, RTSP_MSG_ERR_NONE);
    expect(six, sizeof(six) - 1, REQ, &lim, RD_ELIMIT, RTSP_MSG_ERR_URI_LONG);
    sb_free(&s);
}

static void
limit_version(void **state)
{
    (void)state;
    static const char *const refused[] = {"RTSP/2.0", "RTSP/1.1", "RTSP/1.00", "RTSP/1",
                                          "HTTP/1.0", "rtsp/1.0", "RTSP/1.0/"};
    for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
        char req[128];
        int n = snprintf(req, sizeof(req), "OPTIONS * %s\r\nCSeq: 1\r\n\r\n", refused[k]);
        assert_true(n > 0 && (size_t)n < sizeof(req));
        expect(req, (size_t)n, REQ, NULL, RD_EPROTO, RTSP_MSG_ERR_VERSION);
        assert_int_equal(hint_of(req, (size_t)n, REQ), 505);
        n = snprintf(req, sizeof(req), "%s 200 OK\r\nCSeq: 1\r\n\r\n", refused[k]);
        assert_true(n > 0 && (size_t)n < sizeof(req));
        expect(req, (size_t)n, RESP, NULL, RD_EPROTO, RTSP_MSG_ERR_VERSION);
    }
    expect("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n", 31, REQ, NULL, 31, RTSP_MSG_ERR_NONE);
}

static void
limit_header_line(void **state)
{
    (void)state;
    struct sb s = {0};
    sb_str(&s, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Long: ");
    sb_rep(&s, 'h', RD_RTSP_MAX_HEADER_LINE - 8); /* line content exactly 4096 */
    sb_str(&s, "\r\n\r\n");
    expect(s.p, s.len, REQ, NULL, (ssize_t)s.len, RTSP_MSG_ERR_NONE);
    sb_free(&s);
    sb_str(&s, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Long: ");
    sb_rep(&s, 'h', RD_RTSP_MAX_HEADER_LINE - 7); /* 4097, no line end yet: refused */
    expect(s.p, s.len, REQ, NULL, RD_ELIMIT, RTSP_MSG_ERR_HEADER_LINE_LONG);
    assert_int_equal(hint_of(s.p, s.len, REQ), 400);
    expect(s.p, s.len - 1, REQ, NULL, RD_AGAIN, RTSP_MSG_ERR_NONE);
    sb_free(&s);
    /* A name alone can break it too. */
    sb_str(&s, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n");
    sb_rep(&s, 'N', RD_RTSP_MAX_HEADER_LINE + 1);
    expect(s.p, s.len, REQ, NULL, RD_ELIMIT, RTSP_MSG_ERR_HEADER_LINE_LONG);
    sb_free(&s);
}

static void
limit_header_count(void **state)
{
    (void)state;
    struct sb s = {0};
    sb_str(&s, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n");
    for (int k = 1; k < RD_RTSP_MAX_HEADERS; k++)
        sb_str(&s, "User-Agent: x\r\n");
    size_t at_cap = s.len;
    sb_str(&s, "\r\n");
    expect(s.p, s.len, REQ, NULL, (ssize_t)s.len, RTSP_MSG_ERR_NONE);
    s.len = at_cap;
    sb_str(&s, "X"); /* the first byte of a 65th line proves it */
    expect(s.p, s.len, REQ, NULL, RD_ELIMIT, RTSP_MSG_ERR_HEADER_COUNT);
    assert_int_equal(hint_of(s.p, s.len, REQ), 400);
    struct rtsp_limits lim = rtsp_limits_default(REQ);
    lim.max_headers = 1;
    expect("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n", 31, REQ, &lim, 31, RTSP_MSG_ERR_NONE);
    expect("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nA: b\r\n\r\n", 37, REQ, &lim, RD_ELIMIT,
           RTSP_MSG_ERR_HEADER_COUNT);
    sb_free(&s);
}

static void
limit_header_block(void **state)
{
    (void)state;
    static const char head[] = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n";
    struct sb s = {0};
    sb_str(&s, "\r\n"); /* leading empty lines do not count */
    sb_str(&s, head);
    sb_pad_headers(&s, RD_RTSP_MAX_HEADER_BLOCK - (sizeof(head) - 1) - 2);
    sb_str(&s, "\r\n");
    assert_int_equal(s.len, RD_RTSP_MAX_HEADER_BLOCK + 2);
    expect(s.p, s.len, REQ, NULL, (ssize_t)s.len, RTSP_MSG_ERR_NONE);
    sb_free(&s);
    sb_str(&s, head);
    sb_pad_headers(&s, RD_RTSP_MAX_HEADER_BLOCK - (sizeof(head) - 1) - 1);
    sb_str(&s, "\r\n"); /* one byte over: refused at its LF */
    expect(s.p, s.len - 1, REQ, NULL, RD_AGAIN, RTSP_MSG_ERR_NONE);
    expect(s.p, s.len, REQ, NULL, RD_ELIMIT, RTSP_MSG_ERR_HEADER_BLOCK);
    assert_int_equal(hint_of(s.p, s.len, REQ), 400);
    sb_free(&s);
    /* A block that never ends is refused at byte 16385, even mid-line. */
    sb_str(&s, head);
    sb_pad_headers(&s, RD_RTSP_MAX_HEADER_BLOCK - (sizeof(head) - 1) - 12);
    sb_str(&s, "X-Last: 1234567890");
    expect(s.p, RD_RTSP_MAX_HEADER_BLOCK, REQ, NULL, RD_AGAIN, RTSP_MSG_ERR_NONE);
    expect(s.p, RD_RTSP_MAX_HEADER_BLOCK + 1, REQ, NULL, RD_ELIMIT, RTSP_MSG_ERR_HEADER_BLOCK);
    sb_free(&s);
}

static void
limit_cseq_missing(void **state)
{
    (void)state;
    struct rtsp_msg m;
    static const char req[] = "DESCRIBE rtsp://h/cam RTSP/1.0\r\nAccept: application/sdp\r\n\r\n";
    assert_int_equal(parse_once(req, sizeof(req) - 1, REQ, NULL, &m), RD_EPROTO);
    assert_int_equal(m.error, RTSP_MSG_ERR_CSEQ_MISSING);
    assert_int_equal(m.status_hint, 400);
    assert_false(m.has_cseq); /* the 400 carries no CSeq */
}

static void
limit_cseq_duplicate(void **state)
{
    (void)state;
    struct rtsp_msg m;
    static const char req[] = "DESCRIBE rtsp://h/cam RTSP/1.0\r\nCSeq: 2\r\nCSEQ: 3\r\n\r\n";
    assert_int_equal(parse_once(req, sizeof(req) - 1, REQ, NULL, &m), RD_EPROTO);
    assert_int_equal(m.error, RTSP_MSG_ERR_CSEQ_DUPLICATE);
    assert_int_equal(m.status_hint, 400);
    assert_false(m.has_cseq);
}

static void
limit_cseq_nondigit(void **state)
{
    (void)state;
    static const char *const values[] = {"abc", "1a", "0x1", "1.0", "\xef\xbc\x91", "1\t2"};
    for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
        char req[128];
        int n = snprintf(req, sizeof(req), "OPTIONS * RTSP/1.0\r\nCSeq: %s\r\n\r\n", values[k]);
        assert_true(n > 0 && (size_t)n < sizeof(req));
        struct rtsp_msg m;
        assert_int_equal(parse_once(req, (size_t)n, REQ, NULL, &m), RD_EPROTO);
        assert_int_equal(m.error, RTSP_MSG_ERR_CSEQ_SYNTAX);
        assert_int_equal(m.status_hint, 400);
        assert_false(m.has_cseq);
    }
}

static void
limit_cseq_10_digits(void **state)
{
    (void)state;
    struct rtsp_msg m;
    static const char nine[] = "OPTIONS * RTSP/1.0\r\nCSeq: 999999999\r\n\r\n";
    assert_int_equal(parse_once(nine, sizeof(nine) - 1, REQ, NULL, &m), sizeof(nine) - 1);
    assert_int_equal(m.cseq, 999999999);
    static const char ten[] = "OPTIONS * RTSP/1.0\r\nCSeq: 0000000001\r\n\r\n";
    assert_int_equal(parse_once(ten, sizeof(ten) - 1, REQ, NULL, &m), RD_ELIMIT);
    assert_int_equal(m.error, RTSP_MSG_ERR_CSEQ_LONG);
    assert_int_equal(m.status_hint, 400);
    assert_false(m.has_cseq);
}

static void
limit_clen_duplicate(void **state)
{
    (void)state;
    static const char req[] =
        "SET_PARAMETER * RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n";
    struct rtsp_msg m;
    assert_int_equal(parse_once(req, sizeof(req) - 1, REQ, NULL, &m), RD_EPROTO);
    assert_int_equal(m.error, RTSP_MSG_ERR_CLEN_DUPLICATE);
    assert_int_equal(m.status_hint, 400);
    assert_true(m.has_cseq); /* CSeq itself was fine: the 400 may echo it */
    assert_int_equal(m.cseq, 3);
}

static void
limit_clen_nondigit(void **state)
{
    (void)state;
    static const char *const values[] = {"", "-1", "+4", "4 4", "1e3", "0x10", "4,4"};
    for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
        char req[128];
        int n = snprintf(req, sizeof(req),
                         "SET_PARAMETER * RTSP/1.0\r\nCSeq: 3\r\nContent-Length: %s\r\n\r\nabcd",
                         values[k]);
        assert_true(n > 0 && (size_t)n < sizeof(req));
        struct rtsp_msg m;
        assert_int_equal(parse_once(req, (size_t)n, REQ, NULL, &m), RD_EPROTO);
        assert_int_equal(m.error, RTSP_MSG_ERR_CLEN_SYNTAX);
        assert_int_equal(m.status_hint, 400);
    }
}

static void
limit_clen_too_long(void **state)
{
    (void)state;
    struct rtsp_msg m;
    /* 9 digits are syntactically fine (and then over the body cap: 413). */
    static const char nine[] =
        "SET_PARAMETER * RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 000000004\r\n\r\nabcd";
    assert_int_equal(parse_once(nine, sizeof(nine) - 1, REQ, NULL, &m), sizeof(nine) - 1);
    assert_int_equal(m.content_length, 4);
    static const char ten[] =
        "SET_PARAMETER * RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 0000000004\r\n\r\nabcd";
    assert_int_equal(parse_once(ten, sizeof(ten) - 1, REQ, NULL, &m), RD_ELIMIT);
    assert_int_equal(m.error, RTSP_MSG_ERR_CLEN_LONG);
    assert_int_equal(m.status_hint, 400);
}

static void
limit_body_over_cap(void **state)
{
    (void)state;
    char req[256];
    struct rtsp_msg m;
    int n = snprintf(req, sizeof(req),
                     "SET_PARAMETER * RTSP/1.0\r\nCSeq: 8\r\nContent-Length: %d\r\n\r\n",
                     RD_RTSP_MAX_REQUEST_BODY);
    assert_true(n > 0 && (size_t)n < sizeof(req));
    assert_int_equal(parse_once(req, (size_t)n, REQ, NULL, &m), RD_AGAIN); /* waits for 4096 */
    n = snprintf(req, sizeof(req),
                 "SET_PARAMETER * RTSP/1.0\r\nCSeq: 8\r\nContent-Length: %d\r\n\r\n",
                 RD_RTSP_MAX_REQUEST_BODY + 1);
    assert_true(n > 0 && (size_t)n < sizeof(req));
    /* 413 from the headers alone, without waiting for (or reading) the body. */
    assert_int_equal(parse_once(req, (size_t)n, REQ, NULL, &m), RD_ELIMIT);
    assert_int_equal(m.error, RTSP_MSG_ERR_BODY_TOO_LARGE);
    assert_int_equal(m.status_hint, 413);
    assert_true(m.has_cseq);
    assert_int_equal(m.cseq, 8);
    /* Full-size body accepted. */
    struct sb s = {0};
    n = snprintf(req, sizeof(req),
                 "GET_PARAMETER * RTSP/1.0\r\nCSeq: 8\r\nContent-Length: %d\r\n\r\n",
                 RD_RTSP_MAX_REQUEST_BODY);
    sb_add(&s, req, (size_t)n);
    sb_rep(&s, 'b', RD_RTSP_MAX_REQUEST_BODY);
    expect(s.p, s.len, REQ, NULL, (ssize_t)s.len, RTSP_MSG_ERR_NONE);
    /* A daemon may lower the cap. */
    struct rtsp_limits lim = rtsp_limits_default(REQ);
    lim.max_body = 0;
    expect(s.p, s.len, REQ, &lim, RD_ELIMIT, RTSP_MSG_ERR_BODY_TOO_LARGE);
    sb_free(&s);
}

static void
limit_response_body_over_cap(void **state)
{
    (void)state;
    char head[128];
    int n = snprintf(head, sizeof(head), "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: %d\r\n\r\n",
                     RD_RTSP_MAX_RESPONSE_BODY);
    assert_true(n > 0 && (size_t)n < sizeof(head));
    struct sb s = {0};
    sb_add(&s, head, (size_t)n);
    sb_rep(&s, 's', RD_RTSP_MAX_RESPONSE_BODY);
    expect(s.p, s.len, RESP, NULL, (ssize_t)s.len, RTSP_MSG_ERR_NONE);
    expect(s.p, s.len - 1, RESP, NULL, RD_AGAIN, RTSP_MSG_ERR_NONE);
    sb_free(&s);
    n = snprintf(head, sizeof(head), "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: %d\r\n\r\n",
                 RD_RTSP_MAX_RESPONSE_BODY + 1);
    assert_true(n > 0 && (size_t)n < sizeof(head));
    expect(head, (size_t)n, RESP, NULL, RD_ELIMIT, RTSP_MSG_ERR_BODY_TOO_LARGE);
    assert_int_equal(hint_of(head, (size_t)n, RESP), 413);
    /* The request cap does not apply to responses and vice versa. */
    n = snprintf(head, sizeof(head), "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: %d\r\n\r\n",
                 RD_RTSP_MAX_REQUEST_BODY + 1);
    assert_true(n > 0 && (size_t)n < sizeof(head));
    expect(head, (size_t)n, RESP, NULL, RD_AGAIN, RTSP_MSG_ERR_NONE);
}

static void
limit_transfer_encoding(void **state)
{
    (void)state;
    static const char *const codings[] = {"chunked", "identity", "gzip, chunked", ""};
    for (size_t k = 0; k < sizeof(codings) / sizeof(codings[0]); k++) {
        char req[160];
        int n = snprintf(req, sizeof(req),
                         "SET_PARAMETER * RTSP/1.0\r\nCSeq: 5\r\nTransfer-Encoding: %s\r\n\r\n",
                         codings[k]);
        assert_true(n > 0 && (size_t)n < sizeof(req));
        struct rtsp_msg m;
        assert_int_equal(parse_once(req, (size_t)n, REQ, NULL, &m), RD_EPROTO);
        assert_int_equal(m.error, RTSP_MSG_ERR_TRANSFER_ENCODING);
        assert_int_equal(m.status_hint, 501);
    }
}

static void
limit_body_wrong_method(void **state)
{
    (void)state;
    static const struct {
        const char *method;
        bool allowed;
    } rows[] = {
        {"OPTIONS", false},      {"DESCRIBE", false},     {"SETUP", false},
        {"PLAY", false},         {"PAUSE", false},        {"TEARDOWN", false},
        {"RECORD", false},       {"REDIRECT", false},     {"NOT_A_METHOD", false},
        {"GET_PARAMETER", true}, {"SET_PARAMETER", true}, {"ANNOUNCE", true},
    };
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        char req[160];
        int n = snprintf(req, sizeof(req),
                         "%s * RTSP/1.0\r\nCSeq: 7\r\nContent-Length: 2\r\n\r\nab", rows[k].method);
        assert_true(n > 0 && (size_t)n < sizeof(req));
        struct rtsp_msg m;
        ssize_t rc = parse_once(req, (size_t)n, REQ, NULL, &m);
        if (rows[k].allowed) {
            assert_int_equal(rc, n);
        } else {
            assert_int_equal(rc, RD_EPROTO);
            assert_int_equal(m.error, RTSP_MSG_ERR_BODY_NOT_ALLOWED);
            assert_int_equal(m.status_hint, 400);
        }
        /* An explicit empty body is fine everywhere. */
        n = snprintf(req, sizeof(req), "%s * RTSP/1.0\r\nCSeq: 7\r\nContent-Length: 0\r\n\r\n",
                     rows[k].method);
        assert_int_equal(parse_once(req, (size_t)n, REQ, NULL, &m), n);
    }
}

static void
limit_obs_fold(void **state)
{
    (void)state;
    static const char req[] = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-A: a\r\n\tb\r\n\r\n";
    struct rtsp_msg m;
    assert_int_equal(parse_once(req, sizeof(req) - 1, REQ, NULL, &m), RD_EPROTO);
    assert_int_equal(m.error, RTSP_MSG_ERR_OBS_FOLD);
    assert_int_equal(m.status_hint, 400);
}

/* The size macros are exact: a message using every cap at once parses and has that size. */
static void
test_max_message_size(void **state)
{
    (void)state;
    for (int kind = REQ; kind <= RESP; kind++) {
        size_t body = kind == REQ ? RD_RTSP_MAX_REQUEST_BODY : RD_RTSP_MAX_RESPONSE_BODY;
        char head[128];
        int n =
            snprintf(head, sizeof(head), "%sCSeq: 1\r\nContent-Length: %zu\r\n",
                     kind == REQ ? "SET_PARAMETER * RTSP/1.0\r\n" : "RTSP/1.0 200 OK\r\n", body);
        assert_true(n > 0 && (size_t)n < sizeof(head));
        struct sb s = {0};
        for (int k = 0; k < RD_RTSP_MAX_LEADING_EMPTY_LINES; k++)
            sb_str(&s, "\r\n");
        sb_str(&s, head);
        sb_pad_headers(&s, RD_RTSP_MAX_HEADER_BLOCK - (size_t)n - 2);
        sb_str(&s, "\r\n");
        sb_rep(&s, 'b', body);
        size_t want = kind == REQ ? RTSP_MSG_MAX_REQUEST_BYTES : RTSP_MSG_MAX_RESPONSE_BYTES;
        assert_int_equal(s.len, want);
        expect(s.p, s.len, (enum rtsp_msg_kind)kind, NULL, (ssize_t)want, RTSP_MSG_ERR_NONE);
        sb_free(&s);
    }
}

static void
test_strerror(void **state)
{
    (void)state;
    for (int e = RTSP_MSG_ERR_NONE; e <= RTSP_MSG_ERR_BODY_TOO_LARGE; e++) {
        const char *t = rtsp_msg_strerror((enum rtsp_msg_error)e);
        assert_non_null(t);
        assert_true(strlen(t) > 0);
    }
    assert_string_equal(rtsp_msg_strerror((enum rtsp_msg_error)999), "unknown error");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_good_vectors),
    cmocka_unit_test(test_good_every_split),
    cmocka_unit_test(test_pipelined),
    cmocka_unit_test(test_body_pending),
    cmocka_unit_test(test_header_lookup),
    cmocka_unit_test(test_bad_vectors),
    cmocka_unit_test(test_strerror),
    cmocka_unit_test(test_max_message_size),
    cmocka_unit_test(limit_leading_empty_lines),
    cmocka_unit_test(limit_start_line),
    cmocka_unit_test(limit_method),
    cmocka_unit_test(limit_uri),
    cmocka_unit_test(limit_version),
    cmocka_unit_test(limit_header_line),
    cmocka_unit_test(limit_header_count),
    cmocka_unit_test(limit_header_block),
    cmocka_unit_test(limit_cseq_missing),
    cmocka_unit_test(limit_cseq_duplicate),
    cmocka_unit_test(limit_cseq_nondigit),
    cmocka_unit_test(limit_cseq_10_digits),
    cmocka_unit_test(limit_clen_duplicate),
    cmocka_unit_test(limit_clen_nondigit),
    cmocka_unit_test(limit_clen_too_long),
    cmocka_unit_test(limit_body_over_cap),
    cmocka_unit_test(limit_response_body_over_cap),
    cmocka_unit_test(limit_transfer_encoding),
    cmocka_unit_test(limit_body_wrong_method),
    cmocka_unit_test(limit_obs_fold),
};

RD_TEST_MAIN(tests)
