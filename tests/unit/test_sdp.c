/* SPDX-License-Identifier: MIT */
/* sdp.c: SDPs from real servers and cameras, hostile ones, codec detection, a=control
 * resolution, the relay rewrite (exact text and round trip) and one test per limit. */
/* guard_buf.h uses mmap(MAP_ANONYMOUS), which -std=c11 hides without this. */
#define _DEFAULT_SOURCE
#include "rd_test.h"

#include <stdbool.h>
#include <stdlib.h>

#include "guard_buf.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "sdp.h"
#include "sdp_samples.h"

/* struct sdp is large (tens of KiB): keep the test copies off the stack. */
static struct sdp sdp_a, sdp_b;

/* Parses s from a copy that ends at a PROT_NONE page into *out. The views in *out dangle
 * afterwards: callers only read plain fields, or parse the original again in place. */
static int
parse_guarded_into(const char *s, size_t len, struct sdp *out)
{
    struct guard_buf g;
    char *p = guard_buf_put(&g, s, len);
    int rc = sdp_parse(p, len, out);
    guard_buf_free(&g);
    return rc;
}

static int
parse_guarded(const char *s, size_t len)
{
    return parse_guarded_into(s, len, &sdp_a);
}

static bool
view_is(struct rd_str v, const char *s)
{
    return rd_str_eq_cstr(v, s);
}

/* Appends s to buf[cap]; the tests size buf so this never fails. */
static void
append(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf);
    int w = snprintf(buf + n, cap - n, "%s", s);
    assert_true(w >= 0 && (size_t)w < cap - n);
}

struct media_exp {
    const char *media;
    const char *proto;
    const char *formats;
    const char *encoding; /* of the first format */
    uint32_t clock_rate;
    uint32_t channels;
    enum sdp_codec_id codec;
    const char *control;  /* NULL: absent */
    const char *fmtp_has; /* substring of the first format's fmtp, or NULL: no fmtp */
};

struct sample {
    const char *name;
    const char *text;
    const char *base;        /* the request URL the SDP answered */
    const char *camera_addr; /* must not survive the rewrite */
    const char *s_name;
    const char *s_connection;
    const char *s_control;
    const char *s_range;
    unsigned n_lines;
    unsigned n_media;
    struct media_exp m[3];
    const char *resolved[3]; /* each media's control resolved against base */
};

/* clang-format off */
static const struct sample samples[] = {
    {"gstreamer h264", SDP_GSTREAMER_H264, "rtsp://127.0.0.1:8554/test", "127.0.0.1",
     "Session streamed with GStreamer", NULL, "rtsp://127.0.0.1:8554/test", "npt=now-", 18, 1,
     {{"video", "RTP/AVP", "96", "H264", 90000, 0, SDP_CODEC_H264,
       "rtsp://127.0.0.1:8554/test/stream=0", "profile-level-id=640014"}},
     {"rtsp://127.0.0.1:8554/test/stream=0"}},
    {"ffmpeg h264 aac", SDP_FFMPEG_H264_AAC, "rtsp://127.0.0.1:8554/live", "127.0.0.1",
     "No Name", "IN IP4 127.0.0.1", NULL, NULL, 15, 2,
     {{"video", "RTP/AVP", "96", "H264", 90000, 0, SDP_CODEC_H264, "streamid=0",
       "sprop-parameter-sets=Z2QAH6zZQFAFuhAAAAMAEAAAAwPI8YMZYA==,aOvjyyLA"},
      {"audio", "RTP/AVP", "97", "MPEG4-GENERIC", 44100, 2, SDP_CODEC_OTHER, "streamid=1",
       "config=121056E500"}},
     {"rtsp://127.0.0.1:8554/live/streamid=0", "rtsp://127.0.0.1:8554/live/streamid=1"}},
    {"hikvision audio video metadata", SDP_HIKVISION,
     "rtsp://192.0.2.64:554/Streaming/Channels/101/?transportmode=unicast", "192.0.2.64",
     "Media Presentation", NULL, "rtsp://192.0.2.64:554/Streaming/Channels/101/?transportmode=unicast",
     NULL, 29, 3,
     {{"video", "RTP/AVP", "96", "H264", 90000, 0, SDP_CODEC_H264,
       "rtsp://192.0.2.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast",
       "packetization-mode=1"},
      {"audio", "RTP/AVP", "8", "PCMA", 8000, 0, SDP_CODEC_OTHER,
       "rtsp://192.0.2.64:554/Streaming/Channels/101/trackID=2?transportmode=unicast", NULL},
      {"application", "RTP/AVP", "107", "vnd.onvif.metadata", 90000, 0, SDP_CODEC_OTHER,
       "rtsp://192.0.2.64:554/Streaming/Channels/101/trackID=4?transportmode=unicast", NULL}},
     {"rtsp://192.0.2.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast",
      "rtsp://192.0.2.64:554/Streaming/Channels/101/trackID=2?transportmode=unicast",
      "rtsp://192.0.2.64:554/Streaming/Channels/101/trackID=4?transportmode=unicast"}},
    {"axis bare LF", SDP_AXIS_LF, "rtsp://198.51.100.90/axis-media/media.amp?audio=1&video=1",
     "198.51.100.90", "Session streamed with GStreamer", NULL,
     "rtsp://198.51.100.90/axis-media/media.amp?audio=1&video=1", "npt=now-", 32, 3,
     {{"video", "RTP/AVP", "96", "H264", 90000, 0, SDP_CODEC_H264,
       "rtsp://198.51.100.90/axis-media/media.amp/stream=0?audio=1&video=1", "profile-level-id=4d0029"},
      {"audio", "RTP/AVP", "97", "MPEG4-GENERIC", 16000, 1, SDP_CODEC_OTHER,
       "rtsp://198.51.100.90/axis-media/media.amp/stream=1?audio=1&video=1", "bitrate=32000"},
      {"application", "RTP/AVP", "98", "vnd.onvif.metadata", 90000, 0, SDP_CODEC_OTHER,
       "rtsp://198.51.100.90/axis-media/media.amp/stream=2?audio=1&video=1", NULL}},
     {"rtsp://198.51.100.90/axis-media/media.amp/stream=0?audio=1&video=1",
      "rtsp://198.51.100.90/axis-media/media.amp/stream=1?audio=1&video=1",
      "rtsp://198.51.100.90/axis-media/media.amp/stream=2?audio=1&video=1"}},
    {"ffmpeg h265", SDP_FFMPEG_H265, "rtsp://127.0.0.1:8554/hevc/", "127.0.0.1", "No Name",
     "IN IP4 127.0.0.1", NULL, NULL, 10, 1,
     {{"video", "RTP/AVP", "96", "H265", 90000, 0, SDP_CODEC_H265, "streamid=0",
       "sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwB4lZgJ; sprop-sps="}},
     {"rtsp://127.0.0.1:8554/hevc/streamid=0"}},
    {"dahua", SDP_DAHUA, "rtsp://192.0.2.108:554/cam/realmonitor?channel=1&subtype=0", "192.0.2.108",
     "Media Server", "IN IP4 0.0.0.0", "*", "npt=now-", 19, 2,
     {{"video", "RTP/AVP", "96", "H264", 90000, 0, SDP_CODEC_H264, "trackID=0",
       "profile-level-id=4D002A"},
      {"audio", "RTP/AVP", "8", "PCMA", 8000, 0, SDP_CODEC_OTHER, "trackID=1", NULL}},
     {"rtsp://192.0.2.108:554/cam/realmonitor/trackID=0?channel=1&subtype=0",
      "rtsp://192.0.2.108:554/cam/realmonitor/trackID=1?channel=1&subtype=0"}},
    {"live555", SDP_LIVE555, "rtsp://192.0.2.20:8554/test.264", "192.0.2.20",
     "H.264 Video, streamed by the LIVE555 Media Server", NULL, "*", "npt=0-", 17, 1,
     {{"video", "RTP/AVP", "96", "H264", 90000, 0, SDP_CODEC_H264, "track1",
       "profile-level-id=42C01E"}},
     {"rtsp://192.0.2.20:8554/test.264/track1"}},
};
/* clang-format on */

static void
check_sample(const struct sample *v, const struct sdp *s)
{
    assert_true(s->session.has_origin && s->session.has_name && s->session.has_time);
    assert_true(view_is(s->session.name, v->s_name));
    assert_int_equal(s->session.has_connection, v->s_connection != NULL);
    if (v->s_connection != NULL)
        assert_true(view_is(s->session.connection, v->s_connection));
    assert_int_equal(s->session.has_control, v->s_control != NULL);
    if (v->s_control != NULL)
        assert_true(view_is(s->session.control, v->s_control));
    assert_int_equal(s->session.has_range, v->s_range != NULL);
    if (v->s_range != NULL)
        assert_true(view_is(s->session.range, v->s_range));
    assert_true(view_is(s->session.time, "0 0"));
    assert_int_equal(s->n_lines, v->n_lines);
    assert_int_equal(s->n_media, v->n_media);
    assert_int_equal(s->lines[0].kind, SDP_LINE_VERSION);
    for (unsigned k = 0; k < s->n_media; k++) {
        const struct sdp_media *m = &s->media[k];
        const struct media_exp *e = &v->m[k];
        struct sdp_codec c;
        print_message("  media %u\n", k);
        assert_int_equal(s->lines[m->first_line].kind, SDP_LINE_MEDIA);
        assert_true(view_is(m->media, e->media));
        assert_int_equal(m->port, 0);
        assert_true(view_is(m->proto, e->proto));
        assert_true(view_is(m->formats, e->formats));
        assert_int_equal(m->n_formats, 1);
        assert_true(m->rtp);
        assert_int_equal(sdp_media_codec(m, &c), RD_OK);
        assert_int_equal(c.id, e->codec);
        assert_true(view_is(c.encoding, e->encoding));
        assert_int_equal(c.clock_rate, e->clock_rate);
        const struct sdp_rtpmap *r = sdp_media_rtpmap(m, c.pt);
        assert_non_null(r);
        assert_int_equal(r->channels, e->channels);
        const struct sdp_fmtp *f = sdp_media_fmtp(m, c.pt);
        assert_int_equal(f != NULL, e->fmtp_has != NULL);
        if (f != NULL) {
            char tmp[512];
            assert_int_equal(rd_str_copy(tmp, sizeof(tmp), f->params), RD_OK);
            assert_non_null(strstr(tmp, e->fmtp_has));
        }
        assert_int_equal(m->has_control, e->control != NULL);
        if (e->control != NULL)
            assert_true(view_is(m->control, e->control));
    }
}

static void
test_real_sdps(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        const struct sample *v = &samples[i];
        print_message("sample: %s\n", v->name);
        assert_int_equal(parse_guarded(v->text, strlen(v->text)), RD_OK);
        assert_int_equal(sdp_parse(v->text, strlen(v->text), &sdp_a), RD_OK);
        check_sample(v, &sdp_a);
        /* Every line view lies inside the input. */
        for (unsigned k = 0; k < sdp_a.n_lines; k++) {
            struct rd_str l = sdp_a.lines[k].value;
            if (l.len > 0)
                assert_true(l.p >= v->text && l.p + l.len <= v->text + strlen(v->text));
        }
        /* The same description with the other line end parses the same way. */
        char conv[4096] = "";
        for (const char *p = v->text; *p != '\0'; p++) {
            if (*p == '\r')
                continue;
            append(conv, sizeof(conv), *p == '\n' ? "\r\n" : (char[]){*p, '\0'});
        }
        assert_int_equal(parse_guarded(conv, strlen(conv)), RD_OK);
        assert_int_equal(sdp_parse(conv, strlen(conv), &sdp_a), RD_OK);
        check_sample(v, &sdp_a);
    }
}

static void
test_resolve_sample_controls(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        const struct sample *v = &samples[i];
        char out[512];
        print_message("resolve: %s\n", v->name);
        assert_int_equal(sdp_parse(v->text, strlen(v->text), &sdp_a), RD_OK);
        for (unsigned k = 0; k < sdp_a.n_media; k++) {
            int n =
                sdp_resolve_control(rd_str_cstr(v->base), sdp_a.media[k].control, out, sizeof(out));
            assert_int_equal(n, (int)strlen(v->resolved[k]));
            assert_string_equal(out, v->resolved[k]);
        }
    }
}

struct bad_vec {
    const char *name;
    const char *in;
    int rc;
};

#define HEAD "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=x\r\nt=0 0\r\n"
#define VID  "m=video 0 RTP/AVP 96\r\n"

/* clang-format off */
static const struct bad_vec bad[] = {
    {"empty", "", RD_EPROTO},
    {"only line ends", "\r\n\r\n", RD_EPROTO},
    {"no v=", "o=- 0 0 IN IP4 0.0.0.0\r\ns=x\r\n", RD_EPROTO},
    {"v=1", "v=1\r\ns=x\r\n", RD_EPROTO},
    {"v=00", "v=00\r\n", RD_EPROTO},
    {"v=0 with space", "v=0 \r\n", RD_EPROTO},
    {"leading empty line", "\r\nv=0\r\n", RD_EPROTO},
    {"second v=", HEAD "v=0\r\n", RD_EPROTO},
    {"v= in media", HEAD VID "v=0\r\n", RD_EPROTO},
    {"no '='", HEAD "a\r\n", RD_EPROTO},
    {"space before '='", HEAD "a =tool:x\r\n", RD_EPROTO},
    {"upper-case type", HEAD "A=tool:x\r\n", RD_EPROTO},
    {"digit type", HEAD "1=x\r\n", RD_EPROTO},
    {"leading space", HEAD " a=tool:x\r\n", RD_EPROTO},
    {"HTTP response instead of SDP", "HTTP/1.1 200 OK\r\n", RD_EPROTO},
    {"empty line inside", HEAD "\r\n" VID, RD_EPROTO},
    {"bare CR inside a line", HEAD "a=tool:x\ry\r\n", RD_EPROTO},
    {"CR at the very end", HEAD "a=tool:x\r", RD_EPROTO},
    {"control character", HEAD "a=tool:\x01\r\n", RD_EPROTO},
    {"DEL", HEAD "a=tool:\x7f\r\n", RD_EPROTO},
    {"duplicate o=", HEAD "o=- 1 1 IN IP4 0.0.0.0\r\n", RD_EPROTO},
    {"duplicate s=", HEAD "s=y\r\n", RD_EPROTO},
    {"duplicate session c=", HEAD "c=IN IP4 0.0.0.0\r\nc=IN IP4 192.0.2.1\r\n", RD_EPROTO},
    {"duplicate session control", HEAD "a=control:*\r\na=control:rtsp://x/y\r\n", RD_EPROTO},
    {"duplicate control, other case", HEAD "a=control:*\r\na=CONTROL:*\r\n", RD_EPROTO},
    {"duplicate range", HEAD "a=range:npt=0-\r\na=range:npt=0-\r\n", RD_EPROTO},
    {"duplicate media control", HEAD VID "a=control:a\r\na=control:b\r\n", RD_EPROTO},
    {"duplicate media c=", HEAD VID "c=IN IP4 0.0.0.0\r\nc=IN IP4 224.1.1.1/16\r\n", RD_EPROTO},
    {"o= in media", HEAD VID "o=- 0 0 IN IP4 0.0.0.0\r\n", RD_EPROTO},
    {"s= in media", HEAD VID "s=x\r\n", RD_EPROTO},
    {"control without value", HEAD "a=control\r\n", RD_EPROTO},
    {"media control without value", HEAD VID "a=control\r\n", RD_EPROTO},
    {"range without value", HEAD "a=range\r\n", RD_EPROTO},
    {"empty attribute", HEAD "a=\r\n", RD_EPROTO},
    {"attribute without name", HEAD "a=:x\r\n", RD_EPROTO},
    {"attribute name with space", HEAD "a=x y:z\r\n", RD_EPROTO},
    {"m= without formats", HEAD "m=video 0 RTP/AVP\r\n", RD_EPROTO},
    {"m= without proto", HEAD "m=video 0\r\n", RD_EPROTO},
    {"m= empty", HEAD "m=\r\n", RD_EPROTO},
    {"m= port 65536", HEAD "m=video 65536 RTP/AVP 96\r\n", RD_EPROTO},
    {"m= negative port", HEAD "m=video -1 RTP/AVP 96\r\n", RD_EPROTO},
    {"m= port count 0", HEAD "m=video 5000/0 RTP/AVP 96\r\n", RD_EPROTO},
    {"m= pt 128", HEAD "m=video 0 RTP/AVP 128\r\n", RD_EPROTO},
    {"m= pt not a number", HEAD "m=video 0 RTP/AVP H264\r\n", RD_EPROTO},
    {"m= empty proto segment", HEAD "m=video 0 RTP//AVP 96\r\n", RD_EPROTO},
    {"m= bad media token", HEAD "m=vi(deo 0 RTP/AVP 96\r\n", RD_EPROTO},
    {"rtpmap clock 0", HEAD VID "a=rtpmap:96 H264/0\r\n", RD_EPROTO},
    {"rtpmap clock too big", HEAD VID "a=rtpmap:96 H264/4294967296\r\n", RD_EPROTO},
    {"rtpmap without clock", HEAD VID "a=rtpmap:96 H264\r\n", RD_EPROTO},
    {"rtpmap empty clock", HEAD VID "a=rtpmap:96 H264/\r\n", RD_EPROTO},
    {"rtpmap negative clock", HEAD VID "a=rtpmap:96 H264/-90000\r\n", RD_EPROTO},
    {"rtpmap pt 128", HEAD VID "a=rtpmap:128 H264/90000\r\n", RD_EPROTO},
    {"rtpmap without pt", HEAD VID "a=rtpmap: H264/90000\r\n", RD_EPROTO},
    {"rtpmap without encoding", HEAD VID "a=rtpmap:96\r\n", RD_EPROTO},
    {"rtpmap empty name", HEAD VID "a=rtpmap:96 /90000\r\n", RD_EPROTO},
    {"rtpmap channels 0", HEAD VID "a=rtpmap:96 L16/8000/0\r\n", RD_EPROTO},
    {"rtpmap channels 256", HEAD VID "a=rtpmap:96 L16/8000/256\r\n", RD_EPROTO},
    {"rtpmap four parts", HEAD VID "a=rtpmap:96 L16/8000/2/1\r\n", RD_EPROTO},
    {"rtpmap trailing field", HEAD VID "a=rtpmap:96 H264/90000 x\r\n", RD_EPROTO},
    {"rtpmap without value", HEAD VID "a=rtpmap\r\n", RD_EPROTO},
    {"duplicate rtpmap", HEAD VID "a=rtpmap:96 H264/90000\r\na=rtpmap:96 H265/90000\r\n", RD_EPROTO},
    {"fmtp pt 128", HEAD VID "a=fmtp:128 x=1\r\n", RD_EPROTO},
    {"fmtp without pt", HEAD VID "a=fmtp:\r\n", RD_EPROTO},
    {"fmtp pt not a number", HEAD VID "a=fmtp:H264 x=1\r\n", RD_EPROTO},
    {"duplicate fmtp", HEAD VID "a=fmtp:96 a=1\r\na=fmtp:96 a=2\r\n", RD_EPROTO},
    {"NUL inside", HEAD "a=tool:x\0y\r\n", RD_EPROTO},
};
/* clang-format on */

static void
test_bad_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i].in);
        if (strcmp(bad[i].name, "NUL inside") == 0)
            len = sizeof(HEAD "a=tool:x\0y\r\n") - 1;
        print_message("bad: %s\n", bad[i].name);
        assert_int_equal(parse_guarded(bad[i].in, len), bad[i].rc);
    }
}

/* Tolerated oddities from real firmware. */
static void
test_tolerated(void **state)
{
    (void)state;
    /* clang-format off */
    static const char *const ok[] = {
        "v=0",                                                   /* no line end at all */
        "v=0\n",
        "v=0\r\n\r\n\n\r\n",                                     /* trailing empty lines */
        "v=0\r\ns=\r\n",                                         /* empty session name */
        "v=0\r\nm=video 0 RTP/AVP 96 \r\n",                      /* trailing space on m= */
        "v=0\r\nm=video  0  RTP/AVP  96  97\r\n",                /* runs of spaces */
        "v=0\r\nm=video 0 RTP/AVP 96\r\na=recvonly \r\n",        /* trailing space on a flag */
        "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96  H264/90000 \r\n",
        "v=0\r\nm=video 0 RTP/AVP 96\r\na=fmtp:96\r\n",          /* fmtp without params */
        "v=0\r\nm=video 0 RTP/AVP 96\r\na=control:\r\n",         /* empty control = base */
        "v=0\r\nm=video 0 RTP/AVP 96\r\nt=0 0\r\n",              /* t= inside media: kept */
        "v=0\r\nm=video 0 RTP/AVP 96 97\r\na=rtpmap:97 H264/90000\r\na=rtpmap:96 H265/90000\r\n",
        "v=0\r\nm=application 0 udp wb\r\n",                     /* non-RTP formats */
        "v=0\r\nm=video 5000/2 RTP/AVP 96\r\n",
        "v=0\r\ns=Kamera Eingang \303\234bersicht\r\n",       /* UTF-8 session name */
        "v=0\r\nx=unknown line type\r\n",
        "v=0\r\na=rtpmap:96 H264/90000\r\n",                     /* session rtpmap: kept, not used */
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        print_message("tolerated: %zu\n", i);
        assert_int_equal(parse_guarded(ok[i], strlen(ok[i])), RD_OK);
    }
    assert_int_equal(sdp_parse(ok[2], strlen(ok[2]), &sdp_a), RD_OK);
    assert_int_equal(sdp_a.n_lines, 1);
    assert_int_equal(sdp_parse(ok[5], strlen(ok[5]), &sdp_a), RD_OK);
    assert_true(view_is(sdp_a.media[0].formats, "96  97"));
    assert_int_equal(sdp_a.media[0].n_formats, 2);
    assert_int_equal(sdp_a.media[0].pts[1], 97);
    assert_int_equal(sdp_parse(ok[7], strlen(ok[7]), &sdp_a), RD_OK);
    assert_true(view_is(sdp_a.media[0].rtpmap[0].encoding, "H264"));
    assert_int_equal(sdp_parse(ok[13], strlen(ok[13]), &sdp_a), RD_OK);
    assert_int_equal(sdp_a.media[0].port, 5000);
    assert_int_equal(sdp_a.media[0].n_ports, 2);
    assert_int_equal(sdp_parse(ok[16], strlen(ok[16]), &sdp_a), RD_OK);
    assert_int_equal(sdp_a.lines[1].kind, SDP_LINE_OTHER);
}

struct codec_vec {
    const char *m;
    int rc;
    enum sdp_codec_id id;
    unsigned pt;
    uint32_t clock;
    const char *encoding;
};

static void
test_codec(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct codec_vec v[] = {
        {"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n", RD_OK, SDP_CODEC_H264, 96, 90000, "H264"},
        {"m=video 0 RTP/AVP 96\r\na=rtpmap:96 h264/90000\r\n", RD_OK, SDP_CODEC_H264, 96, 90000, "h264"},
        {"m=video 0 RTP/AVP 98\r\na=rtpmap:98 H265/90000\r\n", RD_OK, SDP_CODEC_H265, 98, 90000, "H265"},
        {"m=video 0 RTP/AVP 98\r\na=rtpmap:98 HEVC/90000\r\n", RD_OK, SDP_CODEC_H265, 98, 90000, "HEVC"},
        {"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/8000\r\n", RD_OK, SDP_CODEC_OTHER, 96, 8000, "H264"},
        {"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264-SVC/90000\r\n", RD_OK, SDP_CODEC_OTHER, 96, 90000, "H264-SVC"},
        {"m=video 0 RTP/AVP 96\r\n", RD_OK, SDP_CODEC_OTHER, 96, 0, ""},  /* unknown clock: 0 */
        {"m=video 0 RTP/AVP 96 97\r\na=rtpmap:97 H264/90000\r\n", RD_OK, SDP_CODEC_OTHER, 96, 0, ""},
        {"m=audio 0 RTP/AVP 0\r\n", RD_OK, SDP_CODEC_OTHER, 0, 8000, "PCMU"},
        {"m=audio 0 RTP/AVP 8\r\n", RD_OK, SDP_CODEC_OTHER, 8, 8000, "PCMA"},
        {"m=video 0 RTP/AVP 26\r\n", RD_OK, SDP_CODEC_OTHER, 26, 90000, "JPEG"},
        {"m=video 0 RTP/AVP 33\r\n", RD_OK, SDP_CODEC_OTHER, 33, 90000, "MP2T"},
        {"m=audio 0 RTP/AVP 2\r\n", RD_OK, SDP_CODEC_OTHER, 2, 0, ""},    /* unassigned */
        {"m=video 0 RTP/AVP 35\r\n", RD_OK, SDP_CODEC_OTHER, 35, 0, ""},
        {"m=video 0 TCP/RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n", RD_OK, SDP_CODEC_H264, 96, 90000, "H264"},
        {"m=video 0 RTP/SAVP 96\r\na=rtpmap:96 H265/90000\r\n", RD_OK, SDP_CODEC_H265, 96, 90000, "H265"},
        {"m=application 0 udp wb\r\n", RD_ENOTFOUND, SDP_CODEC_OTHER, 0, 0, ""},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char buf[256] = "v=0\r\n";
        struct sdp_codec c;
        append(buf, sizeof(buf), v[i].m);
        print_message("codec: %s", v[i].m);
        assert_int_equal(sdp_parse(buf, strlen(buf), &sdp_a), RD_OK);
        assert_int_equal(sdp_media_codec(&sdp_a.media[0], &c), v[i].rc);
        assert_int_equal(c.id, v[i].id);
        if (v[i].rc != RD_OK)
            continue;
        assert_int_equal(c.pt, v[i].pt);
        assert_int_equal(c.clock_rate, v[i].clock);
        assert_true(view_is(c.encoding, v[i].encoding));
    }
}

struct resolve_vec {
    const char *base;
    const char *control;
    int rc;
    const char *out;
};

static void
test_resolve_control(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct resolve_vec v[] = {
        /* aggregate or absent: the base itself */
        {"rtsp://cam/stream", "*", RD_OK, "rtsp://cam/stream"},
        {"rtsp://cam/stream/", "", RD_OK, "rtsp://cam/stream/"},
        {"rtsp://cam/s?x=1", "*", RD_OK, "rtsp://cam/s?x=1"},
        /* relative: exactly one '/' */
        {"rtsp://cam/stream", "trackID=1", RD_OK, "rtsp://cam/stream/trackID=1"},
        {"rtsp://cam/stream/", "trackID=1", RD_OK, "rtsp://cam/stream/trackID=1"},
        {"rtsp://cam/stream", "/trackID=1", RD_OK, "rtsp://cam/stream/trackID=1"},
        {"rtsp://cam/stream/", "/trackID=1", RD_OK, "rtsp://cam/stream/trackID=1"},
        {"rtsp://cam:554", "track1", RD_OK, "rtsp://cam:554/track1"},
        {"rtsp://cam:554/", "track1", RD_OK, "rtsp://cam:554/track1"},
        {"rtsp://cam/a/b", "c/d", RD_OK, "rtsp://cam/a/b/c/d"},
        {"rtsp://relay:8555/v1/lobby/tok/", "trackID=0", RD_OK, "rtsp://relay:8555/v1/lobby/tok/trackID=0"},
        /* base with a query: the query stays at the end */
        {"rtsp://cam/axis-media/media.amp?videocodec=h264", "trackID=1", RD_OK,
         "rtsp://cam/axis-media/media.amp/trackID=1?videocodec=h264"},
        {"rtsp://cam/Streaming/Channels/101/?transportmode=unicast", "trackID=1", RD_OK,
         "rtsp://cam/Streaming/Channels/101/trackID=1?transportmode=unicast"},
        {"rtsp://cam/a?b=1", "trackID=1?x=2", RD_OK, "rtsp://cam/a/trackID=1?x=2"},
        {"rtsp://cam/a#frag", "t", RD_OK, "rtsp://cam/a/t#frag"},
        {"rtsp://cam/a?", "t", RD_OK, "rtsp://cam/a/t?"},
        /* absolute rtsp/rtsps: kept as is (the caller checks the host) */
        {"rtsp://cam/stream", "rtsp://cam/stream/track1", RD_OK, "rtsp://cam/stream/track1"},
        {"rtsp://cam/stream", "RTSP://cam:554/x", RD_OK, "RTSP://cam:554/x"},
        {"rtsps://cam/stream", "rtsps://cam/stream/track1", RD_OK, "rtsps://cam/stream/track1"},
        {"rtsp://cam/stream", "rtsp://evil.example/x", RD_OK, "rtsp://evil.example/x"},
        {"", "rtsp://cam/x", RD_OK, "rtsp://cam/x"},
        /* refused */
        {"rtsp://cam/stream", "http://cam/x", RD_EPROTO, ""},
        {"rtsp://cam/stream", "rtspu://cam/x", RD_EPROTO, ""},
        {"rtsp://cam/stream", "rtsp:x", RD_EPROTO, ""},
        {"rtsp://cam/stream", "rtsp:/x", RD_EPROTO, ""},
        {"rtsp://cam/stream", "javascript:alert(1)", RD_EPROTO, ""},
        {"rtsp://cam/stream", "//evil.example/x", RD_EPROTO, ""},
        {"rtsp://cam/stream", "track 1", RD_EPROTO, ""},
        {"rtsp://cam/stream", "track1\r\nX: y", RD_EPROTO, ""},
        {"rtsp://cam/stream", "tr\303\244ck", RD_EPROTO, ""},
        {"", "trackID=1", RD_EPROTO, ""},
        {"", "*", RD_EPROTO, ""},
        {"rtsp://cam/st ream", "trackID=1", RD_EPROTO, ""},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char out[256];
        print_message("resolve: '%s' + '%s'\n", v[i].base, v[i].control);
        struct guard_buf gb, gc;
        char *b = guard_buf_put(&gb, v[i].base, strlen(v[i].base));
        char *c = guard_buf_put(&gc, v[i].control, strlen(v[i].control));
        int n = sdp_resolve_control(rd_str_make(b, strlen(v[i].base)),
                                    rd_str_make(c, strlen(v[i].control)), out, sizeof(out));
        if (v[i].rc != RD_OK) {
            assert_int_equal(n, v[i].rc);
            assert_string_equal(out, "");
        } else {
            assert_int_equal(n, (int)strlen(v[i].out));
            assert_string_equal(out, v[i].out);
            /* Never truncated: every smaller buffer is a limit, nothing past cap written. */
            for (size_t cap = 0; cap <= (size_t)n; cap++) {
                memset(out, 'z', sizeof(out));
                assert_int_equal(sdp_resolve_control(rd_str_make(b, strlen(v[i].base)),
                                                     rd_str_make(c, strlen(v[i].control)), out,
                                                     cap),
                                 RD_ELIMIT);
                if (cap > 0)
                    assert_int_equal(out[0], '\0');
                for (size_t k = cap; k < sizeof(out); k++)
                    assert_int_equal(out[k], 'z');
            }
        }
        guard_buf_free(&gb);
        guard_buf_free(&gc);
    }
}

#define OPTS_INIT                                                                                  \
    {                                                                                              \
        {"-", 1}, 4242, 1, {"IN IP4 192.0.2.7", 16},                                               \
        {                                                                                          \
            "IN IP4 0.0.0.0", 14                                                                   \
        }                                                                                          \
    }
static const struct sdp_rewrite opts = OPTS_INIT;

static char out_a[2 * RD_SDP_MAX_BYTES], out_b[2 * RD_SDP_MAX_BYTES];

static void
test_rewrite_exact(void **state)
{
    (void)state;
    static const char expect[] = "v=0\r\n"
                                 "o=- 4242 1 IN IP4 192.0.2.7\r\n"
                                 "s=Session streamed with GStreamer\r\n"
                                 "i=rtsp-server\r\n"
                                 "c=IN IP4 0.0.0.0\r\n"
                                 "t=0 0\r\n"
                                 "a=tool:GStreamer\r\n"
                                 "a=type:broadcast\r\n"
                                 "a=range:npt=now-\r\n"
                                 "a=control:*\r\n"
                                 "m=video 0 RTP/AVP 96\r\n"
                                 "c=IN IP4 0.0.0.0\r\n"
                                 "b=AS:2097\r\n"
                                 "a=rtpmap:96 H264/90000\r\n"
                                 "a=framerate:30\r\n"
                                 "a=fmtp:96 "
                                 "packetization-mode=1;sprop-parameter-sets="
                                 "Z2QAFKzZQUH7ARAAAAMAEAAAAwPA8UKZYA\\=\\=,aOvjyyLA;"
                                 "profile-level-id=640014;level-asymmetry-allowed=1\r\n"
                                 "a=ts-refclk:local\r\n"
                                 "a=mediaclk:sender\r\n"
                                 "a=control:trackID=0\r\n";
    const size_t n = sizeof(expect) - 1;
    assert_int_equal(sdp_parse(SDP_GSTREAMER_H264, strlen(SDP_GSTREAMER_H264), &sdp_a), RD_OK);
    assert_int_equal(sdp_write_for_relay(&sdp_a, &opts, out_a, sizeof(out_a)), (int)n);
    assert_string_equal(out_a, expect);
    assert_int_equal(sdp_write_for_relay(&sdp_a, &opts, out_a, n + 1), (int)n);
    for (size_t cap = 0; cap <= n; cap++) {
        memset(out_a, 'z', n + 16);
        assert_int_equal(sdp_write_for_relay(&sdp_a, &opts, out_a, cap), RD_ELIMIT);
        if (cap > 0)
            assert_int_equal(out_a[0], '\0');
        for (size_t k = cap; k < n + 16; k++)
            assert_int_equal(out_a[k], 'z');
    }

    /* Dahua: the session c= and a=control:* are replaced in place; media without c= get none. */
    static const char expect_dahua[] =
        "v=0\r\n"
        "o=- 4242 1 IN IP4 192.0.2.7\r\n"
        "s=Media Server\r\n"
        "c=IN IP4 0.0.0.0\r\n"
        "t=0 0\r\n"
        "a=control:*\r\n"
        "a=packetization-supported:DH\r\n"
        "a=rtppayload-supported:DH\r\n"
        "a=range:npt=now-\r\n"
        "m=video 0 RTP/AVP 96\r\n"
        "a=control:trackID=0\r\n"
        "a=framerate:25.000000\r\n"
        "a=rtpmap:96 H264/90000\r\n"
        "a=fmtp:96 packetization-mode=1;profile-level-id=4D002A;"
        "sprop-parameter-sets=Z00AKpY1QPAET8s3AQEBQAABwgAAV+QB,aO4xsg==\r\n"
        "a=recvonly\r\n"
        "m=audio 0 RTP/AVP 8\r\n"
        "a=control:trackID=1\r\n"
        "a=rtpmap:8 PCMA/8000\r\n"
        "a=recvonly\r\n";
    assert_int_equal(sdp_parse(SDP_DAHUA, strlen(SDP_DAHUA), &sdp_a), RD_OK);
    assert_int_equal(sdp_write_for_relay(&sdp_a, &opts, out_a, sizeof(out_a)),
                     (int)sizeof(expect_dahua) - 1);
    assert_string_equal(out_a, expect_dahua);

    /* No control and no c= anywhere: both are added, at the end of each section. */
    static const char bare[] = "v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\n";
    static const char expect_bare[] = "v=0\r\n"
                                      "o=- 4242 1 IN IP4 192.0.2.7\r\n"
                                      "c=IN IP4 0.0.0.0\r\n"
                                      "a=control:*\r\n"
                                      "m=video 0 RTP/AVP 96\r\n"
                                      "a=rtpmap:96 H264/90000\r\n"
                                      "a=control:trackID=0\r\n";
    assert_int_equal(sdp_parse(bare, strlen(bare), &sdp_a), RD_OK);
    assert_int_equal(sdp_write_for_relay(&sdp_a, &opts, out_a, sizeof(out_a)),
                     (int)sizeof(expect_bare) - 1);
    assert_string_equal(out_a, expect_bare);
}

/* Lines of a section other than the ones the rewrite replaces, in order. */
static void
check_kept_lines(const struct sdp *a, unsigned a_first, unsigned a_n, const struct sdp *b,
                 unsigned b_first, unsigned b_n)
{
    unsigned i = a_first, j = b_first;
    for (;;) {
        while (i < a_first + a_n
               && (a->lines[i].kind == SDP_LINE_VERSION || a->lines[i].kind == SDP_LINE_ORIGIN
                   || a->lines[i].kind == SDP_LINE_CONNECTION
                   || a->lines[i].kind == SDP_LINE_CONTROL))
            i++;
        while (j < b_first + b_n
               && (b->lines[j].kind == SDP_LINE_VERSION || b->lines[j].kind == SDP_LINE_ORIGIN
                   || b->lines[j].kind == SDP_LINE_CONNECTION
                   || b->lines[j].kind == SDP_LINE_CONTROL))
            j++;
        if (i == a_first + a_n || j == b_first + b_n)
            break;
        assert_int_equal(a->lines[i].type, b->lines[j].type);
        assert_int_equal(a->lines[i].kind, b->lines[j].kind);
        assert_true(rd_str_eq(a->lines[i].value, b->lines[j].value));
        i++;
        j++;
    }
    assert_int_equal(i, a_first + a_n);
    assert_int_equal(j, b_first + b_n);
}

static void
test_rewrite_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        const struct sample *v = &samples[i];
        print_message("round trip: %s\n", v->name);
        assert_int_equal(sdp_parse(v->text, strlen(v->text), &sdp_a), RD_OK);
        int n = sdp_write_for_relay(&sdp_a, &opts, out_a, sizeof(out_a));
        assert_true(n > 0);
        assert_int_equal(parse_guarded_into(out_a, (size_t)n, &sdp_b), RD_OK);
        assert_int_equal(sdp_parse(out_a, (size_t)n, &sdp_b), RD_OK);
        /* The camera's address is gone; every line ends in CRLF. */
        assert_null(strstr(out_a, v->camera_addr));
        for (int k = 0; k < n; k++) {
            if (out_a[k] == '\n')
                assert_int_equal(out_a[k - 1], '\r');
        }
        /* Session: our o=, c=, a=control:*, everything else verbatim. */
        assert_true(view_is(sdp_b.session.origin, "- 4242 1 IN IP4 192.0.2.7"));
        assert_true(sdp_b.session.has_connection);
        assert_true(view_is(sdp_b.session.connection, "IN IP4 0.0.0.0"));
        assert_true(view_is(sdp_b.session.control, "*"));
        assert_true(rd_str_eq(sdp_b.session.name, sdp_a.session.name));
        assert_int_equal(sdp_b.session.has_range, sdp_a.session.has_range);
        assert_true(rd_str_eq(sdp_b.session.range, sdp_a.session.range));
        check_kept_lines(&sdp_a, 0, sdp_a.session.n_lines, &sdp_b, 0, sdp_b.session.n_lines);
        /* Media: the same media, formats, rtpmaps and fmtps; controls trackID=<index>. */
        assert_int_equal(sdp_b.n_media, sdp_a.n_media);
        for (unsigned k = 0; k < sdp_a.n_media; k++) {
            const struct sdp_media *ma = &sdp_a.media[k], *mb = &sdp_b.media[k];
            char ctl[32];
            unsigned idx = 99;
            assert_true(rd_str_eq(ma->media, mb->media));
            assert_int_equal(ma->port, mb->port);
            assert_true(rd_str_eq(ma->proto, mb->proto));
            assert_true(rd_str_eq(ma->formats, mb->formats));
            assert_int_equal(ma->n_rtpmap, mb->n_rtpmap);
            for (unsigned r = 0; r < ma->n_rtpmap; r++) {
                assert_int_equal(ma->rtpmap[r].pt, mb->rtpmap[r].pt);
                assert_true(rd_str_eq(ma->rtpmap[r].encoding, mb->rtpmap[r].encoding));
                assert_int_equal(ma->rtpmap[r].clock_rate, mb->rtpmap[r].clock_rate);
                assert_int_equal(ma->rtpmap[r].channels, mb->rtpmap[r].channels);
            }
            assert_int_equal(ma->n_fmtp, mb->n_fmtp);
            for (unsigned f = 0; f < ma->n_fmtp; f++)
                assert_true(rd_str_eq(ma->fmtp[f].params, mb->fmtp[f].params));
            assert_int_equal(ma->has_connection, mb->has_connection);
            if (mb->has_connection)
                assert_true(view_is(mb->connection, "IN IP4 0.0.0.0"));
            snprintf(ctl, sizeof(ctl), "trackID=%u", k);
            assert_true(mb->has_control);
            assert_true(view_is(mb->control, ctl));
            assert_int_equal(sdp_relay_track_index(mb->control, sdp_b.n_media, &idx), RD_OK);
            assert_int_equal(idx, k);
            check_kept_lines(&sdp_a, ma->first_line, ma->n_lines, &sdp_b, mb->first_line,
                             mb->n_lines);
        }
        /* Rewriting the rewrite changes nothing. */
        int n2 = sdp_write_for_relay(&sdp_b, &opts, out_b, sizeof(out_b));
        assert_int_equal(n2, n);
        assert_memory_equal(out_a, out_b, (size_t)n);
    }
}

static void
test_rewrite_bad_opts(void **state)
{
    (void)state;
    char out[1024];
    assert_int_equal(sdp_parse(SDP_DAHUA, strlen(SDP_DAHUA), &sdp_a), RD_OK);
    struct sdp_rewrite o = opts;
    o.origin_username = RD_STR_NULL;
    assert_int_equal(sdp_write_for_relay(&sdp_a, &o, out, sizeof(out)), RD_EPROTO);
    o.origin_username = RD_STR_LIT("relay one");
    assert_int_equal(sdp_write_for_relay(&sdp_a, &o, out, sizeof(out)), RD_EPROTO);
    o = opts;
    o.connection = RD_STR_LIT("IN IP4 0.0.0.0\r\na=evil");
    assert_int_equal(sdp_write_for_relay(&sdp_a, &o, out, sizeof(out)), RD_EPROTO);
    o = opts;
    o.origin_address = RD_STR_NULL;
    assert_int_equal(sdp_write_for_relay(&sdp_a, &o, out, sizeof(out)), RD_EPROTO);
    o.origin_address = RD_STR_LIT("IN IP4 \xc3\xa4");
    assert_int_equal(sdp_write_for_relay(&sdp_a, &o, out, sizeof(out)), RD_EPROTO);
    /* Large numbers are written in full. */
    o = opts;
    o.origin_session_id = UINT64_MAX;
    o.origin_session_version = 0;
    assert_true(sdp_write_for_relay(&sdp_a, &o, out, sizeof(out)) > 0);
    assert_non_null(strstr(out, "o=- 18446744073709551615 0 IN IP4 192.0.2.7\r\n"));
}

static void
test_track_index(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct {
        const char *s;
        unsigned n_media;
        int rc;
        unsigned index;
    } v[] = {
        {"trackID=0", 1, RD_OK, 0},
        {"trackID=1", 3, RD_OK, 1},
        {"trackID=15", 16, RD_OK, 15},
        {"rtsp://relay:8555/v1/lobby/k1.1700000000.abc.0.mac/trackID=2", 3, RD_OK, 2},
        {"/trackID=0", 1, RD_OK, 0},
        {"trackID=1", 1, RD_ENOTFOUND, 0},
        {"trackID=16", 16, RD_ENOTFOUND, 0},
        {"trackID=0", 0, RD_ENOTFOUND, 0},
        {"trackID=01", 3, RD_ENOTFOUND, 0},
        {"trackID=", 3, RD_ENOTFOUND, 0},
        {"trackID=-1", 3, RD_ENOTFOUND, 0},
        {"trackID=+1", 3, RD_ENOTFOUND, 0},
        {"trackID=1 ", 3, RD_ENOTFOUND, 0},
        {"trackid=1", 3, RD_ENOTFOUND, 0},
        {"xtrackID=1", 3, RD_ENOTFOUND, 0},
        {"trackID=0/", 3, RD_ENOTFOUND, 0},
        {"trackID=4294967296", 3, RD_ENOTFOUND, 0},
        {"rtsp://relay/v1/lobby/tok/", 3, RD_ENOTFOUND, 0},
        {"", 3, RD_ENOTFOUND, 0},
        {"*", 3, RD_ENOTFOUND, 0},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct guard_buf g;
        unsigned idx = 77;
        size_t len = strlen(v[i].s);
        char *p = guard_buf_put(&g, v[i].s, len);
        print_message("track: '%s' of %u\n", v[i].s, v[i].n_media);
        assert_int_equal(
            sdp_relay_track_index(rd_str_make(len ? p : NULL, len), v[i].n_media, &idx), v[i].rc);
        assert_int_equal(idx, v[i].rc == RD_OK ? v[i].index : 77);
        guard_buf_free(&g);
    }
}

/* ---- limits ---------------------------------------------------------------------------- */

static char big[RD_SDP_MAX_BYTES + 64];

/* "v=0\r\na=x:yyyy...\r\n" of exactly len bytes (line_end "\r\n" or "\n"). */
static void
build_one_long_line(size_t len, const char *line_end)
{
    size_t le = strlen(line_end);
    assert_true(len < sizeof(big) && len > 10);
    memcpy(big, "v=0", 3);
    memcpy(big + 3, line_end, le);
    memcpy(big + 3 + le, "a=x:", 4);
    memset(big + 7 + le, 'y', len - 7 - 2 * le);
    memcpy(big + len - le, line_end, le);
}

static void
test_limit_bytes(void **state)
{
    (void)state;
    build_one_long_line(RD_SDP_MAX_BYTES, "\r\n");
    assert_int_equal(parse_guarded(big, RD_SDP_MAX_BYTES), RD_OK);
    assert_int_equal(sdp_a.n_lines, 2);
    build_one_long_line(RD_SDP_MAX_BYTES + 1, "\r\n");
    assert_int_equal(parse_guarded(big, RD_SDP_MAX_BYTES + 1), RD_ELIMIT);
}

/* "v=0" + n times line. */
static size_t
build_lines(unsigned n, const char *line)
{
    size_t len = 0, l = strlen(line);
    memcpy(big, "v=0\r\n", 5);
    len = 5;
    for (unsigned i = 0; i < n; i++) {
        assert_true(len + l < sizeof(big));
        memcpy(big + len, line, l);
        len += l;
    }
    return len;
}

static void
test_limit_lines(void **state)
{
    (void)state;
    size_t len = build_lines(RD_SDP_MAX_LINES - 1, "a=x\r\n");
    assert_int_equal(parse_guarded(big, len), RD_OK);
    assert_int_equal(sdp_a.n_lines, RD_SDP_MAX_LINES);
    /* Trailing empty lines are not lines. */
    memcpy(big + len, "\r\n\n", 3);
    assert_int_equal(parse_guarded(big, len + 3), RD_OK);
    len = build_lines(RD_SDP_MAX_LINES, "a=x\r\n");
    assert_int_equal(parse_guarded(big, len), RD_ELIMIT);
}

static void
test_limit_media(void **state)
{
    (void)state;
    size_t len = build_lines(RD_SDP_MAX_MEDIA, "m=video 0 RTP/AVP 96\r\n");
    assert_int_equal(parse_guarded(big, len), RD_OK);
    assert_int_equal(sdp_a.n_media, RD_SDP_MAX_MEDIA);
    len = build_lines(RD_SDP_MAX_MEDIA + 1, "m=video 0 RTP/AVP 96\r\n");
    assert_int_equal(parse_guarded(big, len), RD_ELIMIT);
}

static void
test_limit_formats(void **state)
{
    (void)state;
    char buf[512] = "v=0\r\nm=video 0 RTP/AVP";
    for (unsigned i = 0; i < RD_SDP_MAX_FORMATS; i++) {
        char f[8];
        snprintf(f, sizeof(f), " %u", 96 + i);
        append(buf, sizeof(buf), f);
    }
    size_t base_len = strlen(buf);
    append(buf, sizeof(buf), "\r\n");
    assert_int_equal(parse_guarded(buf, strlen(buf)), RD_OK);
    assert_int_equal(sdp_a.media[0].n_formats, RD_SDP_MAX_FORMATS);
    buf[base_len] = '\0';
    append(buf, sizeof(buf), " 127\r\n");
    assert_int_equal(parse_guarded(buf, strlen(buf)), RD_ELIMIT);
}

static void
test_limit_rtpmap_fmtp(void **state)
{
    (void)state;
    for (size_t k = 0; k < 2; k++) {
        char buf[2048] = "v=0\r\nm=video 0 RTP/AVP 96\r\n";
        char l[64];
        for (unsigned i = 0; i <= RD_SDP_MAX_FORMATS; i++) {
            unsigned pt = i < RD_SDP_MAX_FORMATS ? 96 + i : 127;
            if (k == 0)
                snprintf(l, sizeof(l), "a=rtpmap:%u X/90000\r\n", pt);
            else
                snprintf(l, sizeof(l), "a=fmtp:%u x=1\r\n", pt);
            if (i == RD_SDP_MAX_FORMATS) {
                assert_int_equal(parse_guarded(buf, strlen(buf)), RD_OK);
                assert_int_equal(k == 0 ? sdp_a.media[0].n_rtpmap : sdp_a.media[0].n_fmtp,
                                 RD_SDP_MAX_FORMATS);
            }
            append(buf, sizeof(buf), l);
        }
        assert_int_equal(parse_guarded(buf, strlen(buf)), RD_ELIMIT);
    }
}

/* The rewrite never produces what sdp_parse would refuse. */
static void
test_limit_rewrite(void **state)
{
    (void)state;
    /* v=0 + k a= lines -> v, o, c, k a= lines, a=control:* = k + 4 lines. */
    size_t len = build_lines(RD_SDP_MAX_LINES - 4, "a=x\r\n");
    assert_int_equal(sdp_parse(big, len, &sdp_a), RD_OK);
    int n = sdp_write_for_relay(&sdp_a, &opts, out_a, sizeof(out_a));
    assert_true(n > 0);
    assert_int_equal(sdp_parse(out_a, (size_t)n, &sdp_b), RD_OK);
    assert_int_equal(sdp_b.n_lines, RD_SDP_MAX_LINES);
    len = build_lines(RD_SDP_MAX_LINES - 3, "a=x\r\n");
    assert_int_equal(sdp_parse(big, len, &sdp_a), RD_OK);
    assert_int_equal(sdp_write_for_relay(&sdp_a, &opts, out_a, sizeof(out_a)), RD_ELIMIT);
    /* Bytes: a description at the cap with bare LFs grows by the CRs and our lines. */
    build_one_long_line(RD_SDP_MAX_BYTES, "\n");
    assert_int_equal(sdp_parse(big, RD_SDP_MAX_BYTES, &sdp_a), RD_OK);
    assert_int_equal(sdp_write_for_relay(&sdp_a, &opts, out_a, sizeof(out_a)), RD_ELIMIT);
    /* Exactly at the cap, and one byte over. Input "v=0\n" + long line + "\n"; output adds
     * our v=/o=/c=/a=control:* lines and one CR. */
    size_t overhead = strlen("v=0\r\no=- 4242 1 IN IP4 192.0.2.7\r\nc=IN IP4 0.0.0.0\r\n"
                             "a=control:*\r\n")
                      + 1 - strlen("v=0\n");
    build_one_long_line(RD_SDP_MAX_BYTES - overhead, "\n");
    assert_int_equal(sdp_parse(big, RD_SDP_MAX_BYTES - overhead, &sdp_a), RD_OK);
    n = sdp_write_for_relay(&sdp_a, &opts, out_a, sizeof(out_a));
    assert_int_equal(n, RD_SDP_MAX_BYTES);
    assert_int_equal(sdp_parse(out_a, (size_t)n, &sdp_b), RD_OK);
    build_one_long_line(RD_SDP_MAX_BYTES - overhead + 1, "\n");
    assert_int_equal(sdp_parse(big, RD_SDP_MAX_BYTES - overhead + 1, &sdp_a), RD_OK);
    assert_int_equal(sdp_write_for_relay(&sdp_a, &opts, out_a, sizeof(out_a)), RD_ELIMIT);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_real_sdps),
    cmocka_unit_test(test_resolve_sample_controls),
    cmocka_unit_test(test_bad_vectors),
    cmocka_unit_test(test_tolerated),
    cmocka_unit_test(test_codec),
    cmocka_unit_test(test_resolve_control),
    cmocka_unit_test(test_rewrite_exact),
    cmocka_unit_test(test_rewrite_round_trip),
    cmocka_unit_test(test_rewrite_bad_opts),
    cmocka_unit_test(test_track_index),
    cmocka_unit_test(test_limit_bytes),
    cmocka_unit_test(test_limit_lines),
    cmocka_unit_test(test_limit_media),
    cmocka_unit_test(test_limit_formats),
    cmocka_unit_test(test_limit_rtpmap_fmtp),
    cmocka_unit_test(test_limit_rewrite),
};

RD_TEST_MAIN(tests)
