/* SPDX-License-Identifier: MIT */
/* The viewer RTSP server against real sockets on 127.0.0.1 in the test's own loop, with the
 * real camera table (static cameras fed by the test) and stubs for the camera puller. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include "media_test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

#include "bclient.h"
#include "cameras.h"
#include "fanout.h"
#include "net.h"
#include "pktpool.h"
#include "rd_err.h"
#include "rtsp_frame.h"
#include "sdp.h"
#include "stream.h"
#include "udp_ports.h"
#include "url_token.h"
#include "vserver.h"

#define RELAY_ID "relay-a"

/* ---- Puller and broker stubs: cameras.c links against them; a test drives the callbacks
 * of the one puller it asked for (weak, so a real puller.o in the library is not needed). */

static struct {
    const struct puller_cb *cb;
    void *arg;
    int made, freed, kicks;
} stub;
static int stub_puller_obj;

__attribute__((weak)) int
puller_new(const struct puller_env *env, const struct camera_source *src,
           const struct puller_cb *cb, void *arg, struct puller **out)
{
    (void)env;
    (void)src;
    stub.cb = cb;
    stub.arg = arg;
    stub.made++;
    *out = (struct puller *)(void *)&stub_puller_obj;
    return RD_OK;
}

__attribute__((weak)) void
puller_free(struct puller *p)
{
    if (p != NULL)
        stub.freed++;
}

__attribute__((weak)) void
puller_update_source(struct puller *p, const struct camera_source *src)
{
    (void)p;
    (void)src;
}

__attribute__((weak)) void
puller_kick(struct puller *p)
{
    (void)p;
    stub.kicks++;
}

__attribute__((weak)) void
puller_stats(const struct puller *p, struct puller_stats *out)
{
    (void)p;
    memset(out, 0, sizeof(*out));
}

__attribute__((weak)) const char *
puller_state_name(enum puller_state st)
{
    (void)st;
    return "stub";
}

__attribute__((weak)) int
bclient_fetch_source(struct bclient *b, const char *camera_id, bclient_source_fn *fn, void *arg)
{
    (void)b;
    (void)camera_id;
    (void)fn;
    (void)arg;
    return RD_ENOTFOUND;
}

/* ---- Fixture ------------------------------------------------------------------------------- */

#define SDP_CAM1                                                                                   \
    "v=0\r\n"                                                                                      \
    "o=- 1 1 IN IP4 192.0.2.10\r\n"                                                                \
    "s=cam1\r\n"                                                                                   \
    "t=0 0\r\n"                                                                                    \
    "a=control:rtsp://192.0.2.10/live\r\n"                                                         \
    "m=video 0 RTP/AVP 96\r\n"                                                                     \
    "c=IN IP4 192.0.2.10\r\n"                                                                      \
    "a=rtpmap:96 H264/90000\r\n"                                                                   \
    "a=fmtp:96 packetization-mode=1\r\n"                                                           \
    "a=control:rtsp://192.0.2.10/live/track1\r\n"                                                  \
    "m=audio 0 RTP/AVP 0\r\n"                                                                      \
    "a=rtpmap:0 PCMU/8000\r\n"                                                                     \
    "a=control:rtsp://192.0.2.10/live/track2\r\n"

#define SDP_AUDIO_M "m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
/* Nine tracks: one more than a session may carry. */
#define SDP_NINE                                                                                   \
    "v=0\r\no=- 1 1 IN IP4 192.0.2.11\r\ns=nine\r\nt=0 0\r\n" SDP_AUDIO_M SDP_AUDIO_M SDP_AUDIO_M  \
        SDP_AUDIO_M SDP_AUDIO_M SDP_AUDIO_M SDP_AUDIO_M SDP_AUDIO_M SDP_AUDIO_M

static struct {
    struct ev_loop *loop;
    struct pktpool pool;
    struct fanout *fo;
    struct udp_ports *ports;
    struct cameras *cams;
    struct stream *cam1, *nine;
    struct url_token_key key;
    struct url_token_keyring ring;
    struct vserver *vs;
    struct vserver_env env;
    uint16_t port;
    uint16_t seq;
    uint32_t ts;
} T;

static void
pump(double s)
{
    mt_loop_for(T.loop, s);
}

static void
fixture_up(const struct vserver_env *over)
{
    memset(&stub, 0, sizeof(stub));
    T.loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(T.loop);
    assert_int_equal(pktpool_init(&T.pool, NULL), RD_OK);
    struct fanout_cfg fc;
    fanout_cfg_default(&fc);
    fc.stall_s = 2;
    assert_int_equal(fanout_new(T.loop, &T.pool, &fc, &T.fo), RD_OK);
    struct rd_errbuf err;
    uint16_t lo = (uint16_t)(30000 + (getpid() % 1000) * 20);
    assert_int_equal(udp_ports_new("127.0.0.1", lo, (uint16_t)(lo + 19), &T.ports, &err), RD_OK);
    struct cameras_env ce = {
        .puller = {.loop = T.loop,
                   .pool = &T.pool,
                   .fanout = T.fo,
                   .ports = T.ports,
                   .user_agent = "test"},
        .broker = NULL,
        .linger_s = 0.2,
        .ready_timeout_s = 1.0,
    };
    assert_int_equal(cameras_new(&ce, &T.cams), RD_OK);
    assert_int_equal(
        cameras_add_static(T.cams, rd_str_cstr("cam1"), SDP_CAM1, strlen(SDP_CAM1), &T.cam1),
        RD_OK);
    assert_int_equal(
        cameras_add_static(T.cams, rd_str_cstr("nine"), SDP_NINE, strlen(SDP_NINE), &T.nine),
        RD_OK);
    assert_int_equal(url_token_key_parse(rd_str_cstr("k1"),
                                         rd_str_cstr("000102030405060708090a0b0c0d0e0f"
                                                     "101112131415161718191a1b1c1d1e1f"),
                                         &T.key),
                     RD_OK);
    assert_int_equal(url_token_keyring_set(&T.ring, &T.key, NULL), RD_OK);
    if (over != NULL)
        T.env = *over;
    else
        memset(&T.env, 0, sizeof(T.env));
    T.env.loop = T.loop;
    T.env.cameras = T.cams;
    T.env.fanout = T.fo;
    T.env.ports = T.ports;
    T.env.keys = &T.ring;
    T.env.relay_id = RELAY_ID;
    if (T.env.max_conns == 0)
        T.env.max_conns = 16;
    assert_int_equal(vserver_new(&T.env, &T.vs), RD_OK);
    struct conf_listen l = {.host = "127.0.0.1", .port = 0};
    assert_int_equal(vserver_listen(T.vs, &l, &err), RD_OK);
    T.port = vserver_port(T.vs);
    assert_true(T.port > 0);
    T.seq = 1000;
    T.ts = 90000;
}

static void
fixture_down(void)
{
    vserver_free(T.vs);
    cameras_free(T.cams);
    fanout_free(T.fo);
    udp_ports_free(T.ports);
    ev_loop_destroy(T.loop);
    assert_int_equal(pktpool_in_use(&T.pool), 0);
    assert_int_equal(pktpool_fini(&T.pool), RD_OK);
}

/* A token for camera, from now + age_s, optionally bound to ip, on relay. */
static void
mint(char *out, const char *camera, const char *relay, const char *ip, int64_t age_s)
{
    struct rd_str ips = ip != NULL ? rd_str_cstr(ip) : RD_STR_NULL;
    int n =
        url_token_mint(&T.key, rd_str_cstr(camera), rd_str_cstr(relay), ip != NULL ? &ips : NULL,
                       (int64_t)time(NULL) + age_s, 60, out, URL_TOKEN_MINT_MAX + 1);
    assert_true(n > 0);
}

static void
url_of(char *out, size_t cap, const char *camera)
{
    char tok[URL_TOKEN_MINT_MAX + 1];
    mint(tok, camera, RELAY_ID, NULL, 0);
    int n = snprintf(out, cap, "rtsp://127.0.0.1:%u/v1/%s/%s/", (unsigned)T.port, camera, tok);
    assert_true(n > 0 && (size_t)n < cap);
}

/* Feeds one H.264 packet into cam1's video track and writes it out. */
static void
feed(enum mt_nal k, bool marker)
{
    uint8_t payload[64];
    size_t n = mt_h264(k, T.seq, 40, payload);
    struct pkt *p = mt_rtp(&T.pool, T.seq++, T.ts, 0x1234, marker, payload, n, ev_now(T.loop));
    assert_int_equal(stream_on_rtp(T.cam1, 0, p), RD_OK);
    if (marker)
        T.ts += 3000;
    fanout_flush(T.fo);
}

static void
feed_key_frame(void)
{
    feed(MT_SPS, false);
    feed(MT_PPS, false);
    feed(MT_IDR, true);
}

/* ---- Client -------------------------------------------------------------------------------- */

struct cl {
    int fd;
    char buf[1 << 17];
    size_t len;
    bool eof;
    unsigned cseq;
    /* Frames received, in order. */
    unsigned nframes;
    uint8_t fch[64];
    uint16_t fseq[64];
    uint32_t fts[64];
};

/* The last response read. */
static struct {
    char text[1 << 17];
    struct rtsp_msg msg;
} R;

static struct cl *
cl_open(void)
{
    struct cl *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    struct rd_errbuf err;
    c->fd = net_tcp_connect("127.0.0.1", T.port, &err);
    assert_true(c->fd >= 0);
    c->cseq = 1;
    return c;
}

static void
cl_close(struct cl *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

static void
cl_write(struct cl *c, const char *data, size_t len)
{
    size_t off = 0;
    for (int i = 0; off < len && i < 1000; i++) {
        ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
        if (n > 0)
            off += (size_t)n;
        else
            pump(0.002);
    }
    assert_int_equal(off, len);
}

/* Sends "<METHOD> <url> RTSP/1.0", CSeq and extra header lines (each ending in CRLF). */
static void
cl_req(struct cl *c, const char *method, const char *url, const char *extra)
{
    char req[8192];
    int n = snprintf(req, sizeof(req), "%s %s RTSP/1.0\r\nCSeq: %u\r\n%s\r\n", method, url,
                     c->cseq++, extra != NULL ? extra : "");
    assert_true(n > 0 && (size_t)n < sizeof(req));
    cl_write(c, req, (size_t)n);
}

static void
cl_recv(struct cl *c)
{
    for (;;) {
        if (c->len == sizeof(c->buf))
            return;
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            c->eof = true;
        return;
    }
}

/* Splits what arrived: frames are recorded; returns true when a response was moved to R. */
static bool
cl_split(struct cl *c)
{
    while (c->len > 0) {
        struct rtsp_frame item;
        ssize_t n = rtsp_frame_next(c->buf, c->len, RTSP_MSG_RESPONSE, NULL, &item, &R.msg);
        if (n == RD_AGAIN)
            return false;
        bool bare = false;
        if (n < 0 && R.msg.error == RTSP_MSG_ERR_CSEQ_MISSING) {
            /* 400/408 to a request whose CSeq was not read: no body, ends at the empty line. */
            for (size_t i = 0; i + 4 <= c->len; i++) {
                if (memcmp(c->buf + i, "\r\n\r\n", 4) == 0) {
                    n = (ssize_t)(i + 4);
                    break;
                }
            }
            item.kind = RTSP_FRAME_MSG;
            bare = true;
        }
        if (n <= 0)
            print_error("unparsed response n=%d error=%s\n", (int)n,
                        rtsp_msg_strerror(R.msg.error));
        assert_true(n > 0);
        bool got = false;
        if (item.kind == RTSP_FRAME_DATA) {
            if (c->nframes < 64 && item.payload_len >= 12) {
                c->fch[c->nframes] = item.channel;
                c->fseq[c->nframes] = mt_rtp_seq(item.payload);
                c->fts[c->nframes] = mt_rd32(item.payload + 4);
            }
            c->nframes++;
        } else if (item.kind == RTSP_FRAME_MSG) {
            memcpy(R.text, c->buf, (size_t)n);
            R.text[n] = '\0';
            got = true;
        }
        memmove(c->buf, c->buf + n, c->len - (size_t)n);
        c->len -= (size_t)n;
        if (got) {
            if (bare) {
                assert_memory_equal(R.text, "RTSP/1.0 ", 9);
                memset(&R.msg, 0, sizeof(R.msg));
                R.msg.status = (int)strtol(R.text + 9, NULL, 10);
            } else {
                assert_true(rtsp_msg_parse_response(R.text, strlen(R.text), &R.msg) > 0);
            }
            return true;
        }
    }
    return false;
}

/* Runs the loop until a response arrives; returns its status, or 0 when the connection closed
 * or nothing came within 3 s. */
static int
cl_resp(struct cl *c)
{
    for (int i = 0; i < 1500; i++) {
        cl_recv(c);
        if (cl_split(c))
            return R.msg.status;
        if (c->eof)
            return 0;
        pump(0.002);
    }
    return 0;
}

static int
cl_do(struct cl *c, const char *method, const char *url, const char *extra)
{
    cl_req(c, method, url, extra);
    return cl_resp(c);
}

/* Value of a header of the last response, NUL-terminated in a static buffer ("" if absent). */
static const char *
hdr(const char *name)
{
    static char v[1 << 16];
    struct rd_str s;
    if (!rtsp_msg_header(&R.msg, name, &s))
        return "";
    assert_true(s.len < sizeof(v));
    memcpy(v, s.p, s.len);
    v[s.len] = '\0';
    return v;
}

/* The session id of the last response ("" if none). */
static void
session_of(char *out)
{
    const char *s = hdr("Session");
    size_t n = strcspn(s, ";");
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Waits until the connection is closed by the server (true) or 3 s passed (false). */
static bool
cl_wait_closed(struct cl *c)
{
    for (int i = 0; i < 1500 && !c->eof; i++) {
        cl_recv(c);
        (void)cl_split(c);
        c->len = 0;
        pump(0.002);
    }
    return c->eof;
}

/* A UDP client port pair on 127.0.0.1. */
static uint16_t
udp_pair(int fds[2])
{
    struct rd_errbuf err;
    for (uint16_t p = (uint16_t)(50000 + (getpid() % 500) * 16); p < 65000; p += 2) {
        if (net_udp_bind_pair("127.0.0.1", p, fds, &err) == RD_OK)
            return p;
    }
    fail();
    return 0;
}

static struct vserver_stats
stats(void)
{
    struct vserver_stats st;
    vserver_stats(T.vs, &st);
    return st;
}

/* ---- Cases --------------------------------------------------------------------------------- */

static void
test_tokens(void **state)
{
    (void)state;
    fixture_up(NULL);
    struct cl *c = cl_open();
    char url[1024], tok[URL_TOKEN_MINT_MAX + 1];
    /* OPTIONS * needs no token. */
    assert_int_equal(cl_do(c, "OPTIONS", "*", NULL), 200);
    assert_non_null(strstr(hdr("Public"), "GET_PARAMETER"));
    url_of(url, sizeof(url), "cam1");
    assert_int_equal(cl_do(c, "OPTIONS", url, "Authorization: Basic dXNlcjpwYXNz\r\n"), 200);
    struct {
        const char *camera, *relay, *ip;
        int64_t age;
        int status;
        int verdict;
    } cases[] = {
        {"cam1", RELAY_ID, NULL, 0, 200, URL_TOKEN_OK},
        {"cam1", RELAY_ID, "127.0.0.1", 0, 200, URL_TOKEN_OK},     /* bound to this peer */
        {"cam1", RELAY_ID, "10.1.2.3", 0, 403, URL_TOKEN_BAD_MAC}, /* bound to another IP */
        {"cam1", "relay-b", NULL, 0, 403, URL_TOKEN_BAD_MAC},      /* minted for another relay */
        {"cam1", RELAY_ID, NULL, -1000, 403, URL_TOKEN_EXPIRED},   /* long expired */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vserver_stats before = stats();
        mint(tok, cases[i].camera, cases[i].relay, cases[i].ip, cases[i].age);
        snprintf(url, sizeof(url), "rtsp://127.0.0.1:%u/v1/cam1/%s/", (unsigned)T.port, tok);
        assert_int_equal(cl_do(c, "DESCRIBE", url, NULL), cases[i].status);
        assert_int_equal(stats().token_verdicts[cases[i].verdict],
                         before.token_verdicts[cases[i].verdict] + 1);
    }
    /* A token for another camera, a forged MAC, a bad path: the same 403, connection kept. */
    mint(tok, "nine", RELAY_ID, NULL, 0);
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%u/v1/cam1/%s/", (unsigned)T.port, tok);
    assert_int_equal(cl_do(c, "SETUP", url, "Transport: RTP/AVP/TCP;interleaved=0-1\r\n"), 403);
    mint(tok, "cam1", RELAY_ID, NULL, 0);
    size_t tl = strlen(tok);
    tok[tl - 1] = tok[tl - 1] == 'A' ? 'B' : 'A';
    snprintf(url, sizeof(url), "rtsp://127.0.0.1:%u/v1/cam1/%s/", (unsigned)T.port, tok);
    assert_int_equal(cl_do(c, "OPTIONS", url, NULL), 403);
    assert_int_equal(cl_do(c, "DESCRIBE", "rtsp://127.0.0.1/cam1", NULL), 403);
    /* Valid token for a camera not served here: 403 too (never 404, 401 or 3xx). */
    url_of(url, sizeof(url), "nocam");
    assert_int_equal(cl_do(c, "DESCRIBE", url, NULL), 403);
    assert_true(stats().token_rejects >= 6);
    cl_close(c);
    fixture_down();
}

static void
test_describe(void **state)
{
    (void)state;
    fixture_up(NULL);
    struct cl *c = cl_open();
    char tok[URL_TOKEN_MINT_MAX + 1], url[1024], base[1024];
    mint(tok, "cam1", RELAY_ID, NULL, 0);
    /* Without a trailing slash and with userinfo: Content-Base has both fixed. */
    snprintf(url, sizeof(url), "rtsp://u:p@127.0.0.1:%u/v1/cam1/%s", (unsigned)T.port, tok);
    snprintf(base, sizeof(base), "rtsp://127.0.0.1:%u/v1/cam1/%s/", (unsigned)T.port, tok);
    assert_int_equal(cl_do(c, "DESCRIBE", url, "Accept: application/sdp\r\n"), 200);
    assert_string_equal(hdr("Content-Type"), "application/sdp");
    assert_string_equal(hdr("Content-Base"), base);
    struct sdp sdp;
    assert_int_equal(sdp_parse(R.msg.body.p, R.msg.body.len, &sdp), RD_OK);
    assert_int_equal(sdp.n_media, 2);
    assert_true(rd_str_eq_cstr(sdp.session.control, "*"));
    assert_true(rd_str_eq_cstr(sdp.media[0].control, "trackID=0"));
    assert_true(rd_str_eq_cstr(sdp.media[1].control, "trackID=1"));
    assert_null(strstr(R.msg.body.p, "192.0.2.10")); /* never the camera's address */
    /* As sent, when it already ends in '/'. */
    assert_int_equal(cl_do(c, "DESCRIBE", base, NULL), 200);
    assert_string_equal(hdr("Content-Base"), base);
    cl_close(c);
    fixture_down();
}

/* SETUP (TCP) of the video track + PLAY: RTP-Info equals the first packet received. */
static void
test_tcp_play(void **state)
{
    (void)state;
    fixture_up(NULL);
    feed_key_frame();
    feed(MT_P, true);
    struct cl *c = cl_open();
    char url[1024], turl[1100], sid[64], extra[256];
    url_of(url, sizeof(url), "cam1");
    assert_int_equal(cl_do(c, "DESCRIBE", url, NULL), 200);
    snprintf(turl, sizeof(turl), "%strackID=0", url);
    assert_int_equal(cl_do(c, "SETUP", turl, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"),
                     200);
    assert_non_null(strstr(hdr("Transport"), "interleaved=0-1"));
    assert_non_null(strstr(hdr("Session"), ";timeout=60"));
    session_of(sid);
    assert_int_equal(strlen(sid), 32);
    assert_int_equal(stats().sessions, 1);
    snprintf(extra, sizeof(extra), "Session: %s\r\n", sid);
    assert_int_equal(cl_do(c, "PLAY", url, extra), 200);
    assert_string_equal(hdr("Range"), "npt=now-");
    const char *ri = hdr("RTP-Info");
    char want[1200];
    snprintf(want, sizeof(want), "url=%s;seq=", turl);
    assert_memory_equal(ri, want, strlen(want));
    unsigned seq = 0, rtptime = 0;
    const char *sp = strstr(ri, ";seq=");
    const char *tp = strstr(ri, ";rtptime=");
    assert_non_null(sp);
    assert_non_null(tp);
    seq = (unsigned)strtoul(sp + 5, NULL, 10);
    rtptime = (unsigned)strtoul(tp + 9, NULL, 10);
    assert_int_equal(stats().playing_tcp, 1);
    feed(MT_P, true);
    for (int i = 0; i < 200 && c->nframes < 5; i++) {
        cl_recv(c);
        (void)cl_split(c);
        pump(0.002);
    }
    assert_true(c->nframes >= 5); /* cached SPS, PPS, IDR, P, then the live P */
    assert_int_equal(c->fch[0], 0);
    assert_int_equal(c->fseq[0], seq);
    assert_int_equal(c->fts[0], rtptime);
    /* Interleaved RTCP on the session's odd channel is a keepalive; another channel dropped. */
    struct vserver_stats before = stats();
    static const char rr[] = "$\x01\x00\x08\x81\xc9\x00\x01\x00\x00\x00\x01";
    static const char junk[] = "$\x07\x00\x04zzzz";
    cl_write(c, rr, sizeof(rr) - 1);
    cl_write(c, junk, sizeof(junk) - 1);
    assert_int_equal(cl_do(c, "GET_PARAMETER", url, extra), 200);
    assert_int_equal(stats().frames_in, before.frames_in + 2);
    assert_int_equal(stats().frames_dropped, before.frames_dropped + 1);
    assert_int_equal(cl_do(c, "TEARDOWN", url, extra), 200);
    assert_int_equal(stats().sessions, 0);
    assert_int_equal(stats().playing_tcp, 0);
    cl_close(c);
    pump(0.02);
    assert_int_equal(stats().conns, 0);
    fixture_down();
}

/* UDP: media to the client ports of the TCP peer; a third-party destination is refused. */
static void
test_udp_play(void **state)
{
    (void)state;
    fixture_up(NULL);
    feed_key_frame();
    int fds[2];
    uint16_t cport = udp_pair(fds);
    struct cl *c = cl_open();
    char url[1024], turl[1100], sid[64], extra[512];
    url_of(url, sizeof(url), "cam1");
    snprintf(turl, sizeof(turl), "%strackID=0", url);
    /* destination= another address: 403, nothing set up, nothing sent. */
    snprintf(extra, sizeof(extra),
             "Transport: RTP/AVP;unicast;destination=127.0.0.2;client_port=%u-%u\r\n",
             (unsigned)cport, (unsigned)cport + 1);
    assert_int_equal(cl_do(c, "SETUP", turl, extra), 403);
    assert_int_equal(stats().dest_refused, 1);
    /* The same in second place behind another refused alternative; then a victim listening
     * on that address and the client ports must never get a datagram (checked at the end). */
    snprintf(extra, sizeof(extra),
             "Transport: RTP/AVP;multicast;client_port=%u-%u,"
             "RTP/AVP;unicast;destination=127.0.0.2;client_port=%u-%u\r\n",
             (unsigned)cport, (unsigned)cport + 1, (unsigned)cport, (unsigned)cport + 1);
    assert_int_equal(cl_do(c, "SETUP", turl, extra), 403);
    assert_int_equal(stats().dest_refused, 2);
    struct rd_errbuf err;
    int victim = net_udp_bind("127.0.0.2", cport, &err);
    assert_int_equal(stats().sessions, 0);
    /* Ports below 1024: 461. */
    assert_int_equal(cl_do(c, "SETUP", turl, "Transport: RTP/AVP;unicast;client_port=554-555\r\n"),
                     461);
    /* destination = the peer itself is fine. */
    snprintf(extra, sizeof(extra),
             "Transport: RTP/AVP;unicast;destination=127.0.0.1;client_port=%u-%u\r\n",
             (unsigned)cport, (unsigned)cport + 1);
    assert_int_equal(cl_do(c, "SETUP", turl, extra), 200);
    const char *tr = hdr("Transport");
    const char *spp = strstr(tr, "server_port=");
    assert_non_null(spp);
    unsigned sport = (unsigned)strtoul(spp + 12, NULL, 10);
    session_of(sid);
    snprintf(extra, sizeof(extra), "Session: %s\r\n", sid);
    assert_int_equal(cl_do(c, "PLAY", url, extra), 200);
    assert_int_equal(stats().playing_udp, 1);
    feed(MT_P, true);
    int got = 0;
    uint8_t buf[2048];
    for (int i = 0; i < 300 && got < 4; i++) {
        pump(0.003);
        while (recv(fds[0], buf, sizeof(buf), MSG_DONTWAIT) > 0)
            got++;
    }
    assert_true(got >= 4);
    if (victim >= 0) /* 127.0.0.2 may not be configured everywhere */
        assert_true(recv(victim, buf, sizeof(buf), MSG_DONTWAIT) < 0);
    /* RTCP from the client's RTCP port to the server's: keepalive of that session. */
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(sport + 1))};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    assert_true(
        sendto(fds[1], "\x81\xc9\x00\x01\x00\x00\x00\x01", 8, 0, (struct sockaddr *)&to, sizeof(to))
        == 8);
    for (int i = 0; i < 100 && stats().udp_in == 0; i++)
        pump(0.003);
    assert_int_equal(stats().udp_in, 1);
    assert_int_equal(stats().udp_unknown, 0);
    assert_int_equal(cl_do(c, "TEARDOWN", url, extra), 200);
    assert_int_equal(stats().sessions, 0);
    assert_int_equal(udp_ports_in_use(T.ports), 0);
    cl_close(c);
    close(fds[0]);
    close(fds[1]);
    if (victim >= 0)
        close(victim);
    fixture_down();
}

static void
test_channels_and_binding(void **state)
{
    (void)state;
    fixture_up(NULL);
    struct cl *a = cl_open(), *b = cl_open();
    char url[1024], t0[1100], t1[1100], sid[64], extra[512];
    url_of(url, sizeof(url), "cam1");
    snprintf(t0, sizeof(t0), "%strackID=0", url);
    snprintf(t1, sizeof(t1), "%strackID=1", url);
    assert_int_equal(cl_do(a, "SETUP", t0, "Transport: RTP/AVP/TCP;interleaved=0-1\r\n"), 200);
    session_of(sid);
    /* The same channels for another track of the session, or another session: 461. */
    snprintf(extra, sizeof(extra), "Session: %s\r\nTransport: RTP/AVP/TCP;interleaved=0-1\r\n",
             sid);
    assert_int_equal(cl_do(a, "SETUP", t1, extra), 461);
    assert_int_equal(cl_do(a, "SETUP", t1, "Transport: RTP/AVP/TCP;interleaved=0-1\r\n"), 461);
    /* The same track again in the session: 455. A track that does not exist: 404. */
    snprintf(extra, sizeof(extra), "Session: %s\r\nTransport: RTP/AVP/TCP;interleaved=4-5\r\n",
             sid);
    assert_int_equal(cl_do(a, "SETUP", t0, extra), 455);
    char t9[1100];
    snprintf(t9, sizeof(t9), "%strackID=9", url);
    assert_int_equal(cl_do(a, "SETUP", t9, extra), 404);
    /* Channels left to the server: the next free pair. */
    snprintf(extra, sizeof(extra), "Session: %s\r\nTransport: RTP/AVP/TCP\r\n", sid);
    assert_int_equal(cl_do(a, "SETUP", t1, extra), 200);
    assert_non_null(strstr(hdr("Transport"), "interleaved=2-3"));
    /* The TCP session is bound to connection a: from b it does not exist. */
    snprintf(extra, sizeof(extra), "Session: %s\r\n", sid);
    assert_int_equal(cl_do(b, "PLAY", url, extra), 454);
    assert_int_equal(cl_do(b, "TEARDOWN", url, extra), 454);
    assert_int_equal(cl_do(b, "GET_PARAMETER", url, extra), 454);
    /* Unknown and malformed ids: 454. */
    assert_int_equal(cl_do(a, "PLAY", url, "Session: 0123456789abcdef0123456789abcdef\r\n"), 454);
    assert_int_equal(cl_do(a, "PLAY", url, "Session: zz;timeout=60\r\n"), 454);
    assert_int_equal(cl_do(a, "PLAY", url, extra), 200);
    /* Closing a ends its TCP session. */
    cl_close(a);
    pump(0.05);
    assert_int_equal(stats().sessions, 0);
    assert_int_equal(stats().playing_tcp, 0);
    cl_close(b);
    fixture_down();
}

/* A UDP session is bound to the peer IP: another connection from it may control it, and it
 * outlives its control connection until its timeout. */
static void
test_udp_session_timeout(void **state)
{
    (void)state;
    struct vserver_env env = {.session_timeout_s = 0.4};
    fixture_up(&env);
    int fds[2];
    uint16_t cport = udp_pair(fds);
    struct cl *a = cl_open();
    char url[1024], turl[1100], sid[64], extra[512];
    url_of(url, sizeof(url), "cam1");
    snprintf(turl, sizeof(turl), "%strackID=1", url);
    snprintf(extra, sizeof(extra), "Transport: RTP/AVP;unicast;client_port=%u-%u\r\n",
             (unsigned)cport, (unsigned)cport + 1);
    assert_int_equal(cl_do(a, "SETUP", turl, extra), 200);
    assert_non_null(strstr(hdr("Session"), ";timeout=1"));
    session_of(sid);
    cl_close(a);
    pump(0.05);
    assert_int_equal(stats().sessions, 1); /* kept: the player may come back */
    struct cl *b = cl_open();
    snprintf(extra, sizeof(extra), "Session: %s\r\n", sid);
    assert_int_equal(cl_do(b, "PLAY", url, extra), 200);
    assert_int_equal(stats().playing_udp, 1);
    /* Keepalives from b hold it past its timeout... */
    for (int i = 0; i < 4; i++) {
        pump(0.2);
        assert_int_equal(cl_do(b, "GET_PARAMETER", url, extra), 200);
    }
    assert_int_equal(stats().sessions, 1);
    /* ...then without any it ends. */
    pump(0.7);
    assert_int_equal(stats().sessions, 0);
    assert_int_equal(stats().session_timeouts, 1);
    assert_int_equal(stats().playing_udp, 0);
    assert_int_equal(cl_do(b, "PLAY", url, extra), 454);
    cl_close(b);
    close(fds[0]);
    close(fds[1]);
    fixture_down();
}

static void
test_pipelined(void **state)
{
    (void)state;
    fixture_up(NULL);
    struct cl *c = cl_open();
    char url[1024], req[8192];
    url_of(url, sizeof(url), "cam1");
    int n = snprintf(req, sizeof(req),
                     "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"
                     "DESCRIBE %s RTSP/1.0\r\nCSeq: 2\r\n\r\n"
                     "GET_PARAMETER %s RTSP/1.0\r\nCSeq: 3\r\n\r\n"
                     "FOO %s RTSP/1.0\r\nCSeq: 4\r\n\r\n"
                     "ANNOUNCE %s RTSP/1.0\r\nCSeq: 5\r\n\r\n"
                     "PLAY %s RTSP/1.0\r\nCSeq: 6\r\n\r\n",
                     url, url, url, url, url);
    cl_write(c, req, (size_t)n);
    static const int want[] = {200, 200, 200, 501, 405, 455};
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(cl_resp(c), want[i]);
        assert_int_equal(R.msg.cseq, i + 1);
    }
    assert_non_null(strstr(R.text, "RTSP/1.0 455"));
    /* A framing error: 400, then the connection closes. */
    cl_write(c, "GARBAGE\r\n\r\n", 11);
    assert_int_equal(cl_resp(c), 400);
    assert_true(cl_wait_closed(c));
    assert_true(stats().parse_errors >= 1);
    cl_close(c);
    fixture_down();
}

static void
test_state_machine(void **state)
{
    (void)state;
    fixture_up(NULL);
    feed_key_frame();
    struct cl *c = cl_open();
    char url[1024], t0[1100], sid[64], extra[512];
    url_of(url, sizeof(url), "cam1");
    snprintf(t0, sizeof(t0), "%strackID=0", url);
    assert_int_equal(cl_do(c, "PLAY", url, NULL), 455); /* nothing set up */
    assert_int_equal(cl_do(c, "PAUSE", url, NULL), 455);
    assert_int_equal(cl_do(c, "TEARDOWN", url, NULL), 454);
    assert_int_equal(cl_do(c, "SETUP", t0, "Transport: RTP/AVP/TCP;interleaved=0-1\r\n"), 200);
    session_of(sid);
    snprintf(extra, sizeof(extra), "Session: %s\r\n", sid);
    assert_int_equal(cl_do(c, "PAUSE", url, extra), 200); /* Ready stays Ready */
    assert_int_equal(cl_do(c, "PLAY", url, extra), 200);
    assert_true(strlen(hdr("RTP-Info")) > 0);
    assert_int_equal(cl_do(c, "PLAY", url, extra), 200); /* again: no change, no RTP-Info */
    assert_string_equal(hdr("RTP-Info"), "");
    /* SETUP while playing: 455. */
    char more[600];
    snprintf(more, sizeof(more), "%sTransport: RTP/AVP/TCP;interleaved=2-3\r\n", extra);
    char t1[1100];
    snprintf(t1, sizeof(t1), "%strackID=1", url);
    assert_int_equal(cl_do(c, "SETUP", t1, more), 455);
    assert_int_equal(cl_do(c, "PAUSE", url, extra), 200);
    assert_int_equal(stats().playing_tcp, 0);
    assert_int_equal(stream_subscribers(T.cam1), 0);
    assert_int_equal(cl_do(c, "PLAY", url, extra), 200);
    assert_true(strlen(hdr("RTP-Info")) > 0);
    assert_int_equal(stream_subscribers(T.cam1), 1);
    /* A session URL naming another camera: 454. */
    char other[1024];
    url_of(other, sizeof(other), "nine");
    assert_int_equal(cl_do(c, "PAUSE", other, extra), 454);
    assert_int_equal(cl_do(c, "TEARDOWN", url, extra), 200);
    assert_int_equal(stream_subscribers(T.cam1), 0);
    assert_int_equal(cl_do(c, "PLAY", url, extra), 454);
    assert_int_equal(cl_do(c, "SET_PARAMETER", url, NULL), 200);
    assert_int_equal(cl_do(c, "OPTIONS", url, extra), 454);
    assert_int_equal(cl_do(c, "DESCRIBE", url, "Require: funky\r\n"), 551);
    cl_close(c);
    fixture_down();
}

static void
test_limits(void **state)
{
    (void)state;
    struct vserver_env env = {.max_conns = 3, .max_conns_per_ip = 2};
    fixture_up(&env);
    struct cl *a = cl_open(), *b = cl_open(), *x = cl_open();
    assert_int_equal(cl_do(a, "OPTIONS", "*", NULL), 200);
    assert_int_equal(cl_do(b, "OPTIONS", "*", NULL), 200);
    assert_true(cl_wait_closed(x)); /* third from the same IP: refused */
    assert_int_equal(stats().refused, 1);
    /* Sessions per connection. */
    char url[1024], turl[1100], extra[256];
    url_of(url, sizeof(url), "nine");
    for (unsigned i = 0; i <= RD_MAX_SESSIONS_PER_CONN; i++) {
        snprintf(turl, sizeof(turl), "%strackID=%u", url, i);
        snprintf(extra, sizeof(extra), "Transport: RTP/AVP/TCP;interleaved=%u-%u\r\n", 2 * i,
                 2 * i + 1);
        assert_int_equal(cl_do(a, "SETUP", turl, extra), i < RD_MAX_SESSIONS_PER_CONN ? 200 : 453);
    }
    /* Tracks per session: the ninth track of one session. */
    char sid[64];
    for (unsigned i = 0; i <= RD_MAX_TRACKS_PER_SESSION; i++) {
        snprintf(turl, sizeof(turl), "%strackID=%u", url, i);
        if (i == 0)
            snprintf(extra, sizeof(extra), "Transport: RTP/AVP/TCP;interleaved=0-1\r\n");
        else
            snprintf(extra, sizeof(extra),
                     "Session: %s\r\nTransport: RTP/AVP/TCP;interleaved=%u-%u\r\n", sid, 2 * i,
                     2 * i + 1);
        assert_int_equal(cl_do(b, "SETUP", turl, extra), i < RD_MAX_TRACKS_PER_SESSION ? 200 : 453);
        if (i == 0)
            session_of(sid);
    }
    assert_int_equal(stats().sessions, RD_MAX_SESSIONS_PER_CONN + 1);
    cl_close(a);
    cl_close(b);
    cl_close(x);
    pump(0.05);
    assert_int_equal(stats().sessions, 0);
    assert_int_equal(stats().conns, 0);
    fixture_down();
}

/* A DESCRIBE for a camera that is still connecting waits; requests behind it wait too. */
static void
test_parked(void **state)
{
    (void)state;
    fixture_up(NULL);
    struct camera_source src;
    memset(&src, 0, sizeof(src));
    snprintf(src.id, sizeof(src.id), "slow");
    snprintf(src.url, sizeof(src.url), "rtsp://192.0.2.20/live");
    src.enabled = true;
    assert_int_equal(cameras_set_source(T.cams, &src), RD_OK);
    struct cl *c = cl_open();
    char url[1024], req[4096];
    url_of(url, sizeof(url), "slow");
    int n = snprintf(req, sizeof(req),
                     "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n",
                     url);
    cl_write(c, req, (size_t)n);
    pump(0.1);
    cl_recv(c);
    assert_int_equal(c->len, 0); /* nothing answered yet, not even the OPTIONS */
    assert_int_equal(stub.made, 1);
    struct sdp sdp;
    assert_int_equal(sdp_parse(SDP_CAM1, strlen(SDP_CAM1), &sdp), RD_OK);
    assert_non_null(stub.cb->on_sdp(stub.arg, SDP_CAM1, strlen(SDP_CAM1), &sdp));
    assert_int_equal(cl_resp(c), 200);
    assert_int_equal(R.msg.cseq, 1);
    assert_string_equal(hdr("Content-Type"), "application/sdp");
    assert_int_equal(cl_resp(c), 200);
    assert_int_equal(R.msg.cseq, 2);
    /* A camera that fails before its first SDP: 503 with Retry-After. */
    snprintf(src.id, sizeof(src.id), "dead");
    assert_int_equal(cameras_set_source(T.cams, &src), RD_OK);
    url_of(url, sizeof(url), "dead");
    cl_req(c, "DESCRIBE", url, NULL);
    pump(0.05);
    assert_int_equal(stub.made, 2);
    stub.cb->on_state(stub.arg, PULLER_FAILED, "auth");
    assert_int_equal(cl_resp(c), 503);
    assert_string_equal(hdr("Retry-After"), "5");
    /* A camera that never answers: 503 at the camera table's ready timeout. */
    snprintf(src.id, sizeof(src.id), "mute");
    assert_int_equal(cameras_set_source(T.cams, &src), RD_OK);
    url_of(url, sizeof(url), "mute");
    assert_int_equal(cl_do(c, "DESCRIBE", url, NULL), 503);
    cl_close(c);
    fixture_down();
}

/* The camera's stream is replaced incompatibly: its viewers' connections close. */
static void
test_camera_gone(void **state)
{
    (void)state;
    fixture_up(NULL);
    struct cl *c = cl_open(), *d = cl_open();
    char url[1024], turl[1100];
    url_of(url, sizeof(url), "cam1");
    snprintf(turl, sizeof(turl), "%strackID=0", url);
    assert_int_equal(cl_do(c, "SETUP", turl, "Transport: RTP/AVP/TCP;interleaved=0-1\r\n"), 200);
    assert_int_equal(cl_do(d, "DESCRIBE", url, NULL), 200);
    assert_int_equal(
        cameras_add_static(T.cams, rd_str_cstr("cam1"), SDP_NINE, strlen(SDP_NINE), &T.cam1),
        RD_OK);
    assert_true(cl_wait_closed(c));
    assert_true(cl_wait_closed(d));
    pump(0.02);
    assert_int_equal(stats().sessions, 0);
    assert_int_equal(stats().conns, 0);
    cl_close(c);
    cl_close(d);
    fixture_down();
}

static void
test_deadlines(void **state)
{
    (void)state;
    struct vserver_env env = {.first_byte_s = 0.2, .header_s = 0.2, .idle_s = 0.3};
    fixture_up(&env);
    struct cl *silent = cl_open(), *slow = cl_open(), *idle = cl_open();
    cl_write(slow, "OPTIONS * RTSP/1.0\r\n", 20);
    assert_int_equal(cl_do(idle, "OPTIONS", "*", NULL), 200);
    pump(0.25);
    assert_int_equal(cl_resp(slow), 408);
    assert_true(cl_wait_closed(silent));
    assert_true(cl_wait_closed(idle));
    assert_true(cl_wait_closed(slow));
    assert_true(stats().deadlines >= 3);
    cl_close(silent);
    cl_close(slow);
    cl_close(idle);
    fixture_down();
}

static void
test_close_all(void **state)
{
    (void)state;
    fixture_up(NULL);
    struct cl *c = cl_open(), *d = cl_open();
    char url[1024], turl[1100];
    url_of(url, sizeof(url), "cam1");
    snprintf(turl, sizeof(turl), "%strackID=0", url);
    assert_int_equal(cl_do(c, "SETUP", turl, "Transport: RTP/AVP/TCP;interleaved=0-1\r\n"), 200);
    assert_int_equal(cl_do(d, "OPTIONS", "*", NULL), 200);
    vserver_close_all(T.vs);
    for (int i = 0; i < 500 && vserver_conns(T.vs) > 0; i++)
        pump(0.005);
    assert_int_equal(vserver_conns(T.vs), 0);
    assert_int_equal(stats().sessions, 0);
    assert_true(cl_wait_closed(c));
    assert_true(cl_wait_closed(d));
    /* Not accepting any more. */
    struct rd_errbuf err;
    int fd = net_tcp_connect("127.0.0.1", T.port, &err);
    if (fd >= 0) {
        pump(0.05);
        assert_true(send(fd, "x", 1, MSG_NOSIGNAL) < 0 || recv(fd, url, 1, MSG_DONTWAIT) <= 0);
        close(fd);
    }
    cl_close(c);
    cl_close(d);
    fixture_down();
}

/* A viewer that sends requests without reading answers: once the fanout holds more than
 * RD_RTSP_MAX_QUEUED_OUTPUT of responses the server stops reading it; everything is
 * answered, in order, once the viewer reads. */
static void
test_backpressure(void **state)
{
    (void)state;
    fixture_up(NULL);
    struct cl *c = cl_open();
    int small = 4096;
    assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    char url[1024], turl[1100];
    url_of(url, sizeof(url), "cam1");
    snprintf(turl, sizeof(turl), "%strackID=0", url);
    assert_int_equal(cl_do(c, "SETUP", turl, "Transport: RTP/AVP/TCP;interleaved=0-1\r\n"), 200);
    enum { N = 1500 };
    static char req[N * 2048];
    size_t len = 0;
    unsigned first = c->cseq;
    for (unsigned i = 0; i < N; i++) {
        int n = snprintf(req + len, sizeof(req) - len, "DESCRIBE %s RTSP/1.0\r\nCSeq: %u\r\n\r\n",
                         url, c->cseq++);
        assert_true(n > 0 && (size_t)n < sizeof(req) - len);
        len += (size_t)n;
    }
    size_t off = 0;
    for (int i = 0; i < 300 && off < len; i++) {
        ssize_t n = send(c->fd, req + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            off += (size_t)n;
        pump(0.002);
    }
    uint64_t stalled = stats().requests;
    for (int i = 0; i < 30; i++) { /* until the server stops taking requests */
        pump(0.1);
        if (stats().requests == stalled)
            break;
        stalled = stats().requests;
    }
    pump(0.2);
    assert_int_equal(stats().requests, stalled); /* not reading while the output is full */
    assert_true(stalled < 1 + N);
    int big = 1 << 20;
    assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)), 0);
    unsigned want = first;
    for (int i = 0; i < 20000 && want < first + N; i++) {
        if (off < len) {
            ssize_t n = send(c->fd, req + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                off += (size_t)n;
        }
        cl_recv(c);
        while (cl_split(c)) {
            assert_int_equal(R.msg.status, 200);
            assert_int_equal(R.msg.cseq, want);
            want++;
        }
        pump(0.001);
    }
    assert_int_equal(want, first + N);
    cl_close(c);
    fixture_down();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tokens),
    cmocka_unit_test(test_describe),
    cmocka_unit_test(test_tcp_play),
    cmocka_unit_test(test_udp_play),
    cmocka_unit_test(test_channels_and_binding),
    cmocka_unit_test(test_udp_session_timeout),
    cmocka_unit_test(test_pipelined),
    cmocka_unit_test(test_state_machine),
    cmocka_unit_test(test_limits),
    cmocka_unit_test(test_parked),
    cmocka_unit_test(test_camera_gone),
    cmocka_unit_test(test_deadlines),
    cmocka_unit_test(test_close_all),
    cmocka_unit_test(test_backpressure),
};

RD_TEST_MAIN(tests)
