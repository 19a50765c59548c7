/* SPDX-License-Identifier: MIT */
/* stream.c: the instant-start cache for H.264 sequences (SPS PPS IDR-FU-A ... P P P, a new
 * GOP, refuted parameter-set starts, caps), H.265, a viewer joining mid-GOP gets the cached
 * key frame first with RTP-Info equal to its first packet, continuity across an upstream
 * restart and an SSRC change (same SSRC, seq +1, timestamps advanced by the wall-clock gap),
 * RTCP SR rewriting and filtering, the audio cache aligned with the video key frame, the
 * key-frame fallback, malformed input; every reference back in the pool at the end. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <fcntl.h>

#include "fanout.h"
#include "media_test.h"
#include "rd_err.h"
#include "rtp.h"
#include "stream.h"

static struct {
    struct ev_loop *loop;
    struct pktpool pool;
    struct fanout *fo;
    struct stream *s;
} fx;

static void
on_dead(struct fanout_viewer *v, enum fanout_dead why, void *arg)
{
    (void)v;
    (void)why;
    (void)arg;
    fail_msg("no viewer should die in these tests");
}

static int
setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    fx.loop = ev_loop_new(EVFLAG_AUTO);
    assert_int_equal(pktpool_init(&fx.pool, NULL), RD_OK);
    assert_int_equal(fanout_new(fx.loop, &fx.pool, NULL, &fx.fo), RD_OK);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    stream_free(fx.s);
    fanout_free(fx.fo);
    assert_int_equal(pktpool_in_use(&fx.pool), 0);
    assert_int_equal(pktpool_fini(&fx.pool), RD_OK);
    ev_loop_destroy(fx.loop);
    return 0;
}

static void
new_stream(const struct stream_track_cfg *t, unsigned n, const struct stream_limits *lim)
{
    stream_free(fx.s);
    fx.s = NULL;
    assert_int_equal(stream_new(t, n, lim, &fx.s), RD_OK);
}

static const struct stream_track_cfg h264_only[] = {{STREAM_CODEC_H264, 90000}};
static const struct stream_track_cfg h264_audio[] = {{STREAM_CODEC_H264, 90000},
                                                     {STREAM_CODEC_OTHER, 8000}};

/* The camera side of a track: numbering as the camera sends it. */
struct cam {
    unsigned track;
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;
    double t; /* arrival time */
};

/* Sends one packet of kind k tagged tag; returns stream_on_rtp's result. With keep, *keep gets
 * an extra reference to the packet (the caller unrefs it). */
static int
send_kind(struct cam *c, enum mt_nal k, uint32_t tag, bool marker, struct pkt **keep)
{
    uint8_t pl[1500];
    size_t n = mt_h264(k, tag, 100, pl);
    struct pkt *p = mt_rtp(&fx.pool, c->seq++, c->ts, c->ssrc, marker, pl, n, c->t);
    if (keep != NULL)
        *keep = pkt_ref(p);
    return stream_on_rtp(fx.s, c->track, p);
}

static void
tx(struct cam *c, enum mt_nal k, uint32_t tag, bool marker)
{
    assert_int_equal(send_kind(c, k, tag, marker, NULL), RD_OK);
}

/* Advances to the next frame (25 fps). */
static void
next_frame(struct cam *c)
{
    c->ts += 3600;
    c->t += 0.04;
}

/* A key frame as cameras send it: SPS, PPS, then the IDR slice in three FU-A fragments.
 * Tags: base .. base+4. */
static void
key_frame(struct cam *c, uint32_t base)
{
    tx(c, MT_SPS, base, false);
    tx(c, MT_PPS, base + 1, false);
    tx(c, MT_IDR_FU_S, base + 2, false);
    tx(c, MT_IDR_FU_M, base + 3, false);
    tx(c, MT_IDR_FU_E, base + 4, true);
    next_frame(c);
}

static void
p_frame(struct cam *c, uint32_t tag)
{
    tx(c, MT_P, tag, true);
    next_frame(c);
}

static struct stream_track_stats
tstats(unsigned track)
{
    struct stream_track_stats st;
    assert_int_equal(stream_track_stats(fx.s, track, &st), RD_OK);
    return st;
}

/* A TCP viewer of the stream on a socketpair: sv[1] is the player. */
struct tviewer {
    int sv[2];
    struct fanout_viewer *v;
    struct fanout_sub *sub[2];
    struct mt_rx rx;
};

static void
tviewer_open(struct tviewer *tv, unsigned nsubs)
{
    memset(tv, 0, sizeof(*tv));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, tv->sv), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fcntl(tv->sv[i], F_SETFL, O_NONBLOCK), 0);
    tv->v = fanout_viewer_new_tcp(fx.fo, tv->sv[0], on_dead, NULL);
    assert_non_null(tv->v);
    for (unsigned i = 0; i < nsubs; i++)
        assert_int_equal(
            fanout_sub_new_tcp(tv->v, (uint8_t)(2 * i), (uint8_t)(2 * i + 1), &tv->sub[i]), RD_OK);
}

static void
tviewer_read(struct tviewer *tv)
{
    fanout_flush(fx.fo);
    mt_loop_spin(fx.loop);
    mt_rx_read(&tv->rx, tv->sv[1], 0);
}

static void
tviewer_close(struct tviewer *tv)
{
    fanout_viewer_free(tv->v);
    close(tv->sv[0]);
    close(tv->sv[1]);
    mt_rx_free(&tv->rx);
}

/* Tags of the frames tv received on channel ch. */
static size_t
tags_on(const struct tviewer *tv, uint8_t ch, uint32_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < tv->rx.nf && n < cap; i++) {
        if (tv->rx.f[i].ch == ch)
            out[n++] = mt_tag(tv->rx.f[i].data, tv->rx.f[i].len);
    }
    return n;
}

static void
expect_tags(const struct tviewer *tv, uint8_t ch, const uint32_t *want, size_t n)
{
    uint32_t got[256];
    size_t k = tags_on(tv, ch, got, 256);
    if (k != n)
        fail_msg("channel %u: %zu frames, expected %zu", ch, k, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i], want[i]);
}

/* ---- Tests -------------------------------------------------------------------------------- */

static void
test_new_rejects_bad_config(void **state)
{
    (void)state;
    struct stream *s;
    struct stream_track_cfg zero_clock[] = {{STREAM_CODEC_H264, 0}};
    assert_int_equal(stream_new(zero_clock, 1, NULL, &s), RD_EPROTO);
    assert_int_equal(stream_new(h264_only, 0, NULL, &s), RD_EPROTO);
    struct stream_track_cfg many[RD_SDP_MAX_MEDIA + 1];
    for (unsigned i = 0; i <= RD_SDP_MAX_MEDIA; i++)
        many[i] = (struct stream_track_cfg){STREAM_CODEC_OTHER, 8000};
    assert_int_equal(stream_new(many, RD_SDP_MAX_MEDIA + 1, NULL, &s), RD_EPROTO);
    assert_int_equal(stream_new(many, RD_SDP_MAX_MEDIA, NULL, &s), RD_OK);
    assert_int_equal(stream_track_count(s), RD_SDP_MAX_MEDIA);
    stream_free(s);
    struct stream_limits lim;
    stream_limits_default(&lim);
    lim.cache_max_packets = 0;
    assert_int_equal(stream_new(h264_only, 1, &lim, &s), RD_EPROTO);
    stream_free(NULL);
}

static void
test_cache_h264_sequences(void **state)
{
    (void)state;
    new_stream(h264_only, 1, NULL);
    struct cam c = {0, 0xcafe, 1000, 90000, 1.0};
    key_frame(&c, 1); /* SPS PPS IDR-FU-A(S M E): tags 1..5 */
    p_frame(&c, 6);
    p_frame(&c, 7);
    p_frame(&c, 8);
    struct stream_track_stats st = tstats(0);
    assert_true(st.cache_valid);
    assert_int_equal(st.cache_pkts, 8);
    assert_int_equal(st.pkts_in, 8);
    assert_int_equal(st.key_starts, 3);            /* SPS, PPS and the IDR's first fragment */
    assert_int_equal(pktpool_in_use(&fx.pool), 8); /* the cache's references only */
    /* A new GOP replaces the cache: SPS PPS IDR (single NAL) P. */
    tx(&c, MT_SPS, 9, false);
    tx(&c, MT_PPS, 10, false);
    tx(&c, MT_IDR, 11, true);
    next_frame(&c);
    p_frame(&c, 12);
    st = tstats(0);
    assert_int_equal(st.cache_pkts, 4);
    assert_int_equal(pktpool_in_use(&fx.pool), 4);
    /* A viewer joining now gets exactly that GOP, then live packets. */
    struct tviewer tv;
    tviewer_open(&tv, 1);
    assert_int_equal(stream_subscribe(fx.s, 0, tv.sub[0]), RD_OK);
    assert_int_equal(fanout_sub_gate(tv.sub[0]), FANOUT_GATE_OPEN);
    p_frame(&c, 13);
    tviewer_read(&tv);
    static const uint32_t want[] = {9, 10, 11, 12, 13};
    expect_tags(&tv, 0, want, 5);
    assert_int_equal(tstats(0).subscribers, 1);
    tviewer_close(&tv);
    assert_int_equal(tstats(0).subscribers, 0);
}

static void
test_join_mid_gop_rtp_info_matches_first_packet(void **state)
{
    (void)state;
    new_stream(h264_only, 1, NULL);
    struct cam c = {0, 0x1111, 40000, 123456, 5.0};
    key_frame(&c, 1);
    p_frame(&c, 6);
    p_frame(&c, 7);
    struct tviewer tv;
    tviewer_open(&tv, 1);
    struct stream_rtp_info info;
    assert_int_equal(stream_rtp_info(fx.s, 0, c.t, &info), RD_OK);
    assert_true(info.known);
    assert_true(info.from_cache);
    assert_int_equal(info.seq, 40000);
    assert_int_equal(info.rtptime, 123456);
    assert_int_equal(info.ssrc, 0x1111);
    static const char resp[] = "RTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n";
    assert_int_equal(fanout_viewer_send_control(tv.v, resp, sizeof(resp) - 1), RD_OK);
    assert_int_equal(stream_subscribe(fx.s, 0, tv.sub[0]), RD_OK);
    p_frame(&c, 8);
    tviewer_read(&tv);
    assert_string_equal(tv.rx.text, resp); /* the PLAY response precedes the media */
    static const uint32_t want[] = {1, 2, 3, 4, 5, 6, 7, 8};
    expect_tags(&tv, 0, want, 8);
    const uint8_t *first = tv.rx.f[0].data;
    assert_int_equal(mt_rtp_seq(first), info.seq);
    assert_int_equal(mt_rd32(first + 4), info.rtptime);
    assert_int_equal(mt_rd32(first + 8), info.ssrc);
    for (size_t i = 1; i < tv.rx.nf; i++)
        assert_int_equal(mt_rtp_seq(tv.rx.f[i].data), (uint16_t)(info.seq + i));
    tviewer_close(&tv);
}

static void
test_join_without_cache_waits_for_key(void **state)
{
    (void)state;
    new_stream(h264_only, 1, NULL);
    struct cam c = {0, 0x2222, 65530, 1000, 1.0};
    struct stream_rtp_info info;
    assert_int_equal(stream_rtp_info(fx.s, 0, 1.0, &info), RD_OK);
    assert_false(info.known); /* nothing received yet: RTP-Info without seq/rtptime */
    p_frame(&c, 1);           /* joined the camera mid-GOP: no key frame yet */
    p_frame(&c, 2);
    assert_false(tstats(0).cache_valid);
    struct tviewer tv;
    tviewer_open(&tv, 1);
    assert_int_equal(stream_rtp_info(fx.s, 0, c.t, &info), RD_OK);
    assert_true(info.known);
    assert_false(info.from_cache);
    assert_int_equal(info.seq, 65532); /* the next packet's number */
    /* rtptime: the last timestamp plus the wall-clock time since it (0.04 s at 90 kHz). */
    assert_int_equal(info.rtptime, 1000 + 3600 + 3600);
    assert_int_equal(stream_subscribe(fx.s, 0, tv.sub[0]), RD_OK);
    assert_int_equal(fanout_sub_gate(tv.sub[0]), FANOUT_GATE_WAITING);
    p_frame(&c, 3);   /* skipped */
    key_frame(&c, 4); /* seq wraps through 0 here */
    p_frame(&c, 9);
    tviewer_read(&tv);
    static const uint32_t want[] = {4, 5, 6, 7, 8, 9};
    expect_tags(&tv, 0, want, 6);
    /* The first packet it gets is later than RTP-Info's seq (a gap, never earlier). */
    assert_int_equal(mt_rtp_seq(tv.rx.f[0].data), (uint16_t)(info.seq + 1));
    struct fanout_viewer_stats vs;
    fanout_viewer_stats(tv.v, &vs);
    assert_int_equal(vs.drops[FANOUT_DROP_WAIT_KEY], 1);
    tviewer_close(&tv);
}

static void
test_refuted_parameter_sets(void **state)
{
    (void)state;
    new_stream(h264_only, 1, NULL);
    struct cam c = {0, 0x3333, 1, 0, 1.0};
    key_frame(&c, 1);
    p_frame(&c, 6);
    /* Repeated SPS/PPS before a P slice (some cameras do this every second). */
    tx(&c, MT_SPS, 7, false);
    tx(&c, MT_PPS, 8, false);
    tx(&c, MT_P, 9, true);
    next_frame(&c);
    struct stream_track_stats st = tstats(0);
    assert_int_equal(st.key_refuted, 1);
    assert_true(st.cache_valid);
    assert_int_equal(st.cache_pkts, 9); /* still the first GOP, continued */
    /* A joiner now starts at the first GOP's SPS, open (not tentative). */
    struct tviewer tv;
    tviewer_open(&tv, 1);
    assert_int_equal(stream_subscribe(fx.s, 0, tv.sub[0]), RD_OK);
    assert_int_equal(fanout_sub_gate(tv.sub[0]), FANOUT_GATE_OPEN);
    /* Parameter sets now, the IDR slice later: a joiner in between is tentative. */
    tx(&c, MT_SPS, 10, false);
    tx(&c, MT_PPS, 11, false);
    struct tviewer tv2;
    tviewer_open(&tv2, 1);
    assert_int_equal(stream_subscribe(fx.s, 0, tv2.sub[0]), RD_OK);
    assert_int_equal(fanout_sub_gate(tv2.sub[0]), FANOUT_GATE_OPEN); /* the old GOP is valid */
    tx(&c, MT_IDR, 12, true);
    next_frame(&c);
    assert_int_equal(tstats(0).cache_pkts, 3); /* SPS PPS IDR: confirmed */
    tviewer_read(&tv);
    tviewer_read(&tv2);
    static const uint32_t want[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    expect_tags(&tv, 0, want, 12);
    expect_tags(&tv2, 0, want, 12);
    tviewer_close(&tv);
    tviewer_close(&tv2);

    /* A fresh stream that starts with parameter sets followed by a P slice: nothing valid. */
    new_stream(h264_only, 1, NULL);
    struct cam d = {0, 0x4444, 1, 0, 1.0};
    tx(&d, MT_SPS, 1, false);
    tx(&d, MT_PPS, 2, false);
    assert_true(tstats(0).cache_valid); /* tentatively */
    struct tviewer tv3;
    tviewer_open(&tv3, 1);
    assert_int_equal(stream_subscribe(fx.s, 0, tv3.sub[0]), RD_OK);
    assert_int_equal(fanout_sub_gate(tv3.sub[0]), FANOUT_GATE_TENTATIVE);
    tx(&d, MT_P, 3, true);
    next_frame(&d);
    assert_false(tstats(0).cache_valid);
    assert_int_equal(tstats(0).cache_pkts, 0);
    assert_int_equal(fanout_sub_gate(tv3.sub[0]), FANOUT_GATE_WAITING);
    key_frame(&d, 4);
    tviewer_read(&tv3);
    static const uint32_t want3[] = {1, 2, 4, 5, 6, 7, 8};
    expect_tags(&tv3, 0, want3, 7);
    tviewer_close(&tv3);
}

static void
test_cache_caps(void **state)
{
    (void)state;
    struct stream_limits lim;
    stream_limits_default(&lim);
    lim.cache_max_packets = 7;
    new_stream(h264_only, 1, &lim);
    struct cam c = {0, 0x5555, 1, 0, 1.0};
    key_frame(&c, 1);
    p_frame(&c, 6);
    p_frame(&c, 7);
    assert_int_equal(tstats(0).cache_pkts, 7);
    p_frame(&c, 8); /* the 8th packet: dropped until the next key frame */
    struct stream_track_stats st = tstats(0);
    assert_false(st.cache_valid);
    assert_int_equal(st.cache_pkts, 0);
    assert_int_equal(st.cache_overflows, 1);
    assert_int_equal(pktpool_in_use(&fx.pool), 0);
    struct stream_rtp_info info;
    assert_int_equal(stream_rtp_info(fx.s, 0, c.t, &info), RD_OK);
    assert_false(info.from_cache);
    p_frame(&c, 9);
    assert_int_equal(tstats(0).cache_pkts, 0);
    key_frame(&c, 10);
    assert_int_equal(tstats(0).cache_pkts, 5);
    p_frame(&c, 15);
    /* A cap reached after the next GOP's parameter sets keeps just those (then confirmed). */
    tx(&c, MT_SPS, 16, false); /* 7 */
    tx(&c, MT_PPS, 17, false); /* 8: over the cap -> the old GOP goes, SPS PPS stay */
    st = tstats(0);
    assert_true(st.cache_valid);
    assert_int_equal(st.cache_pkts, 2);
    tx(&c, MT_IDR, 18, true);
    assert_int_equal(tstats(0).cache_pkts, 3);

    /* Byte cap: 3 packets of 112 bytes fit in 400, the 4th does not. */
    lim.cache_max_packets = 100;
    lim.cache_max_bytes = 400;
    new_stream(h264_only, 1, &lim);
    struct cam d = {0, 0x6666, 1, 0, 1.0};
    tx(&d, MT_SPS, 1, false);
    tx(&d, MT_PPS, 2, false);
    tx(&d, MT_IDR, 3, true);
    assert_int_equal(tstats(0).cache_bytes, 3 * 112);
    tx(&d, MT_P, 4, true);
    assert_false(tstats(0).cache_valid);
    assert_int_equal(tstats(0).cache_overflows, 1);
}

static void
test_h265_cache(void **state)
{
    (void)state;
    static const struct stream_track_cfg h265[] = {{STREAM_CODEC_H265, 90000}};
    new_stream(h265, 1, NULL);
    /* x265 parameter sets and slices (see test_rtp_h26x.c). */
    static const uint8_t vps[] = {0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60};
    static const uint8_t idr[] = {0x26, 0x01, 0xaf, 0x1d, 0x80, 0xa4, 0xc3};
    static const uint8_t trail[] = {0x02, 0x01, 0xd0, 0x09, 0xa0, 0x7f};
    struct {
        const uint8_t *p;
        size_t n;
    } seq[] = {
        {trail, sizeof(trail)}, {vps, sizeof(vps)}, {idr, sizeof(idr)}, {trail, sizeof(trail)}};
    for (unsigned i = 0; i < 4; i++) {
        struct pkt *p = mt_rtp(&fx.pool, (uint16_t)i, i * 3000, 9, true, seq[i].p, seq[i].n, i);
        assert_int_equal(stream_on_rtp(fx.s, 0, p), RD_OK);
    }
    struct stream_track_stats st = tstats(0);
    assert_true(st.cache_valid);
    assert_int_equal(st.cache_pkts, 3); /* VPS IDR TRAIL */
    struct stream_rtp_info info;
    assert_int_equal(stream_rtp_info(fx.s, 0, 4, &info), RD_OK);
    assert_int_equal(info.seq, 1);
}

/* An RTCP compound: SR (RFC 3550 §6.4.1) of ssrc with rtp_ts, SDES with one CNAME chunk of
 * ssrc (§6.5), and, with bye, a BYE of ssrc (§6.6). Returns a pool packet. */
static struct pkt *
mk_rtcp(uint32_t ssrc, uint32_t rtp_ts, bool bye)
{
    uint8_t b[128];
    size_t n = 0;
    static const uint8_t sr_hdr[] = {0x80, 200, 0, 6};
    memcpy(b + n, sr_hdr, 4);
    n += 4;
    uint32_t words[6] = {ssrc, 0x83aa7e80, 0x12345678, rtp_ts, 10, 1000};
    for (int i = 0; i < 6; i++, n += 4)
        for (int k = 0; k < 4; k++)
            b[n + (size_t)k] = (uint8_t)(words[i] >> (24 - 8 * k));
    static const uint8_t sdes_hdr[] = {0x81, 202, 0, 3};
    memcpy(b + n, sdes_hdr, 4);
    n += 4;
    for (int k = 0; k < 4; k++)
        b[n++] = (uint8_t)(ssrc >> (24 - 8 * k));
    static const uint8_t cname[] = {1, 4, 'c', 'a', 'm', '1', 0, 0};
    memcpy(b + n, cname, 8);
    n += 8;
    if (bye) {
        static const uint8_t bye_hdr[] = {0x81, 203, 0, 1};
        memcpy(b + n, bye_hdr, 4);
        n += 4;
        for (int k = 0; k < 4; k++)
            b[n++] = (uint8_t)(ssrc >> (24 - 8 * k));
    }
    struct pkt *p = pktpool_alloc(&fx.pool, n);
    memcpy(p->data, b, n);
    p->len = (uint32_t)n;
    return p;
}

static void
test_continuity_across_restart(void **state)
{
    (void)state;
    new_stream(h264_audio, 2, NULL);
    struct cam v = {0, 0xAAAA0001, 100, 50000, 10.0};
    struct cam a = {1, 0xBBBB0001, 7, 160, 10.0};
    key_frame(&v, 1);
    for (uint32_t i = 0; i < 4; i++) {
        p_frame(&v, 10 + i);
        tx(&a, MT_AUDIO, 100 + i, true);
        a.ts += 320;
        a.t += 0.04;
    }
    /* Last video packet: seq 108, ts 50000 + 4 * 3600 = 64400, at 10.16. Audio: seq 10, ts
     * 160 + 3 * 320 = 1120, at 10.12. */
    struct stream_track_stats st = tstats(0);
    assert_int_equal(st.rebases, 0);
    assert_true(st.cache_valid);
    stream_upstream_restart(fx.s);
    assert_int_equal(tstats(0).cache_pkts, 0);
    assert_int_equal(tstats(1).cache_pkts, 0);
    /* An SR of the new session before its first RTP packet: offsets unknown, dropped. */
    assert_int_equal(stream_on_rtcp(fx.s, 0, mk_rtcp(0xCCCC0002, 999, false)), RD_OK);
    assert_int_equal(tstats(0).rtcp_dropped, 1);
    /* The camera is back 2.5 s later with a new SSRC, sequence and timestamp base. */
    struct cam v2 = {0, 0xCCCC0002, 31000, 7777777, 10.16 + 2.5};
    struct cam a2 = {1, 0xDDDD0002, 60000, 42, 10.12 + 2.5};
    struct pkt *kv, *ka;
    assert_int_equal(send_kind(&v2, MT_SPS, 20, false, &kv), RD_OK);
    assert_int_equal(send_kind(&a2, MT_AUDIO, 200, true, &ka), RD_OK);
    assert_int_equal(mt_rd32(kv->data + 8), 0xAAAA0001);     /* the viewers' SSRC */
    assert_int_equal(mt_rtp_seq(kv->data), 109);             /* +1 */
    assert_int_equal(mt_rd32(kv->data + 4), 64400 + 225000); /* 2.5 s x 90 kHz */
    assert_int_equal(kv->seq, 109);
    assert_int_equal(mt_rd32(ka->data + 8), 0xBBBB0001);
    assert_int_equal(mt_rtp_seq(ka->data), 11);
    assert_int_equal(mt_rd32(ka->data + 4), 1120 + 20000);
    pkt_unref(kv);
    pkt_unref(ka);
    /* The new session continues from there. */
    assert_int_equal(send_kind(&v2, MT_PPS, 21, false, &kv), RD_OK);
    assert_int_equal(mt_rtp_seq(kv->data), 110);
    assert_int_equal(mt_rd32(kv->data + 4), 64400 + 225000);
    pkt_unref(kv);
    v2.ts += 3600;
    assert_int_equal(send_kind(&v2, MT_IDR, 22, true, &kv), RD_OK);
    assert_int_equal(mt_rtp_seq(kv->data), 111);
    assert_int_equal(mt_rd32(kv->data + 4), 64400 + 225000 + 3600);
    pkt_unref(kv);
    assert_int_equal(tstats(0).rebases, 1);
    assert_int_equal(tstats(1).rebases, 1);
    assert_int_equal(tstats(0).ssrc_changes, 0);
    /* RTP-Info after the restart refers to the rewritten numbering. */
    struct stream_rtp_info info;
    assert_int_equal(stream_rtp_info(fx.s, 0, v2.t, &info), RD_OK);
    assert_true(info.from_cache);
    assert_int_equal(info.seq, 109);
    assert_int_equal(info.ssrc, 0xAAAA0001);

    /* The camera's SR: SSRC and RTP timestamp rewritten, SDES chunk too, BYE removed. */
    struct pkt *sr = mk_rtcp(0xCCCC0002, 7777777 + 3600, true);
    pkt_ref(sr);
    assert_int_equal(stream_on_rtcp(fx.s, 0, sr), RD_OK);
    assert_int_equal(sr->len, 28 + 16);
    assert_int_equal(sr->flags, PKT_RTCP);
    assert_int_equal(rtcp_compound_check(sr->data, sr->len), 2);
    assert_int_equal(mt_rd32(sr->data + 4), 0xAAAA0001);
    assert_int_equal(mt_rd32(sr->data + 16), 64400 + 225000 + 3600);
    assert_int_equal(mt_rd32(sr->data + 28 + 4), 0xAAAA0001);
    pkt_unref(sr);
    assert_int_equal(tstats(0).rtcp_fwd, 1);
    /* A viewer joining now gets the cache, then that SR on the RTCP channel. */
    struct tviewer tv;
    tviewer_open(&tv, 1);
    assert_int_equal(stream_subscribe(fx.s, 0, tv.sub[0]), RD_OK);
    tviewer_read(&tv);
    assert_int_equal(tv.rx.nf, 4);
    assert_int_equal(tv.rx.f[3].ch, 1);
    assert_int_equal(tv.rx.f[3].len, 44);
    assert_int_equal(mt_rd32(tv.rx.f[3].data + 16), 64400 + 225000 + 3600);
    tviewer_close(&tv);
    /* An SR of another SSRC, and invalid RTCP, are not forwarded. */
    assert_int_equal(stream_on_rtcp(fx.s, 0, mk_rtcp(0x99999999, 0, false)), RD_OK);
    assert_int_equal(tstats(0).rtcp_dropped, 2);
    struct pkt *junk = mk_rtcp(0xCCCC0002, 0, false);
    junk->data[0] = 0x40; /* version 1 */
    assert_int_equal(stream_on_rtcp(fx.s, 0, junk), RD_EPROTO);
    assert_int_equal(tstats(0).rtcp_dropped, 3);
    /* A valid compound of 65536 bytes (SR + a 65508-byte XR) cannot be framed: dropped. */
    struct pkt *big = pktpool_alloc(&fx.pool, 65536);
    struct pkt *sr28 = mk_rtcp(0xCCCC0002, 0, false);
    memcpy(big->data, sr28->data, 28);
    pkt_unref(sr28);
    memset(big->data + 28, 0, 65508);
    big->data[28] = 0x80;
    big->data[29] = 207;
    big->data[30] = (uint8_t)((65508 / 4 - 1) >> 8);
    big->data[31] = (uint8_t)(65508 / 4 - 1);
    big->len = 65536;
    assert_int_equal(rtcp_compound_check(big->data, big->len), 2);
    assert_int_equal(stream_on_rtcp(fx.s, 0, big), RD_EPROTO);
    assert_int_equal(tstats(0).rtcp_dropped, 4);
    assert_int_equal(tstats(0).rtcp_in, 5);
}

static void
test_restart_gap_clamped(void **state)
{
    (void)state;
    /* A 90 kHz track back after 3 hours: the advance is capped at RD_STREAM_RESTART_MAX_GAP_S. */
    new_stream(h264_only, 1, NULL);
    struct cam c = {0, 1, 10, 0, 100.0};
    tx(&c, MT_P, 1, true);
    stream_upstream_restart(fx.s);
    c.t += 3 * 3600.0;
    struct pkt *k;
    assert_int_equal(send_kind(&c, MT_P, 2, true, &k), RD_OK);
    assert_int_equal(mt_rd32(k->data + 4), RD_STREAM_RESTART_MAX_GAP_S * 90000u);
    pkt_unref(k);
    /* A huge clock rate: the advance stays below 2^31, so it still reads as forward. */
    static const struct stream_track_cfg fast[] = {{STREAM_CODEC_OTHER, 1000000000u}};
    new_stream(fast, 1, NULL);
    struct cam d = {0, 1, 10, 0, 100.0};
    tx(&d, MT_AUDIO, 1, true);
    d.ssrc = 2; /* a new source 10 s later */
    d.t += 10.0;
    assert_int_equal(send_kind(&d, MT_AUDIO, 2, true, &k), RD_OK);
    assert_int_equal(mt_rd32(k->data + 4), INT32_MAX);
    pkt_unref(k);
    /* A clock that went backwards still advances by one tick. */
    new_stream(h264_only, 1, NULL);
    struct cam e = {0, 1, 10, 500, 100.0};
    tx(&e, MT_P, 1, true);
    stream_upstream_restart(fx.s);
    e.t -= 5.0;
    assert_int_equal(send_kind(&e, MT_P, 2, true, &k), RD_OK);
    assert_int_equal(mt_rd32(k->data + 4), 501);
    pkt_unref(k);
}

static void
test_ssrc_change_without_restart(void **state)
{
    (void)state;
    new_stream(h264_only, 1, NULL);
    struct cam c = {0, 0x10, 500, 1000, 1.0};
    key_frame(&c, 1); /* seq 500..504, ts 1000 */
    p_frame(&c, 6);   /* seq 505, ts 4600 at 1.04 */
    assert_int_equal(tstats(0).cache_pkts, 6);
    c.ssrc = 0x20;
    c.seq = 9;
    c.ts = 5;
    c.t = 1.04 + 0.04;
    struct pkt *k;
    assert_int_equal(send_kind(&c, MT_P, 7, true, &k), RD_OK);
    assert_int_equal(mt_rd32(k->data + 8), 0x10);
    assert_int_equal(mt_rtp_seq(k->data), 506);
    assert_int_equal(mt_rd32(k->data + 4), 4600 + 3600);
    pkt_unref(k);
    struct stream_track_stats st = tstats(0);
    assert_int_equal(st.ssrc_changes, 1);
    assert_int_equal(st.rebases, 1);
    assert_false(st.cache_valid); /* the new source's GOP has not started */
}

static void
test_audio_cache_aligned_with_video_key(void **state)
{
    (void)state;
    new_stream(h264_audio, 2, NULL);
    struct cam v = {0, 1, 1, 0, 1.0};
    struct cam a = {1, 2, 1, 0, 0.9};
    tx(&a, MT_AUDIO, 100, true); /* before any key frame: not cached */
    a.t = 1.0;
    key_frame(&v, 1); /* cache starts at 1.0 */
    for (uint32_t i = 0; i < 3; i++) {
        a.t = 1.01 + 0.02 * i;
        tx(&a, MT_AUDIO, 101 + i, true);
        a.ts += 160;
    }
    assert_int_equal(tstats(1).cache_pkts, 3);
    v.t = 3.0;
    key_frame(&v, 6); /* a new GOP at 3.0: older audio goes */
    assert_int_equal(tstats(1).cache_pkts, 0);
    a.t = 3.02;
    tx(&a, MT_AUDIO, 104, true);
    struct stream_rtp_info vi, ai;
    assert_int_equal(stream_rtp_info(fx.s, 0, 3.05, &vi), RD_OK);
    assert_int_equal(stream_rtp_info(fx.s, 1, 3.05, &ai), RD_OK);
    assert_true(vi.from_cache);
    assert_true(ai.from_cache);
    struct tviewer tv;
    tviewer_open(&tv, 2);
    assert_int_equal(stream_subscribe(fx.s, 0, tv.sub[0]), RD_OK);
    assert_int_equal(stream_subscribe(fx.s, 1, tv.sub[1]), RD_OK);
    a.t = 3.04;
    tx(&a, MT_AUDIO, 105, true);
    tviewer_read(&tv);
    static const uint32_t wv[] = {6, 7, 8, 9, 10};
    static const uint32_t wa[] = {104, 105};
    expect_tags(&tv, 0, wv, 5);
    expect_tags(&tv, 2, wa, 2);
    /* Audio RTP-Info matches its first packet too. */
    for (size_t i = 0; i < tv.rx.nf; i++) {
        if (tv.rx.f[i].ch == 2) {
            assert_int_equal(mt_rtp_seq(tv.rx.f[i].data), ai.seq);
            assert_int_equal(mt_rd32(tv.rx.f[i].data + 4), ai.rtptime);
            break;
        }
    }
    tviewer_close(&tv);

    /* An audio-only stream has no cache: RTP-Info extrapolates from the last packet. */
    static const struct stream_track_cfg audio_only[] = {{STREAM_CODEC_OTHER, 8000}};
    new_stream(audio_only, 1, NULL);
    struct cam b = {0, 3, 70, 8000, 2.0};
    tx(&b, MT_AUDIO, 1, true);
    assert_int_equal(tstats(0).cache_pkts, 0);
    assert_int_equal(stream_rtp_info(fx.s, 0, 2.5, &ai), RD_OK);
    assert_false(ai.from_cache);
    assert_int_equal(ai.seq, 71);
    assert_int_equal(ai.rtptime, 8000 + 4000);
    struct tviewer tb;
    tviewer_open(&tb, 1);
    assert_int_equal(stream_subscribe(fx.s, 0, tb.sub[0]), RD_OK);
    assert_int_equal(fanout_sub_gate(tb.sub[0]), FANOUT_GATE_OPEN);
    tx(&b, MT_AUDIO, 2, true);
    tviewer_read(&tb);
    static const uint32_t wb[] = {2};
    expect_tags(&tb, 0, wb, 1);
    tviewer_close(&tb);
}

static void
test_key_fallback_for_intra_refresh(void **state)
{
    (void)state;
    struct stream_limits lim;
    stream_limits_default(&lim);
    lim.key_fallback_s = 1.0;
    new_stream(h264_only, 1, &lim);
    struct cam c = {0, 7, 1, 0, 0.0};
    struct tviewer tv;
    tviewer_open(&tv, 1);
    assert_int_equal(stream_subscribe(fx.s, 0, tv.sub[0]), RD_OK);
    /* P frames only (a stream with no IDR at all) for 2.5 s. Expected forced starts: the
     * first access unit at least 1 s after the previous start (or the first packet). */
    uint32_t tag = 0;
    uint32_t first_forced = UINT32_MAX;
    unsigned forced = 0;
    double last_start = 0.0;
    while (c.t < 2.5) {
        if (c.t - last_start >= lim.key_fallback_s) {
            if (first_forced == UINT32_MAX)
                first_forced = tag;
            forced++;
            last_start = c.t;
        }
        p_frame(&c, tag++);
    }
    assert_int_equal(forced, 2);
    struct stream_track_stats st = tstats(0);
    assert_int_equal(st.key_starts, 0);
    assert_int_equal(st.key_forced, forced);
    assert_true(st.cache_valid);
    tviewer_read(&tv);
    uint32_t got[128];
    size_t n = tags_on(&tv, 0, got, 128);
    assert_true(first_forced >= 24 && first_forced <= 26); /* ~25 frames of 40 ms */
    assert_int_equal(got[0], first_forced);
    assert_int_equal(n, tag - first_forced);
    tviewer_close(&tv);
}

static void
test_malformed_and_bad_track(void **state)
{
    (void)state;
    new_stream(h264_only, 1, NULL);
    struct cam c = {0, 1, 1, 0, 0.0};
    uint8_t pl[16];
    size_t n = mt_h264(MT_P, 1, 16, pl);
    struct pkt *p = mt_rtp(&fx.pool, 1, 0, 1, true, pl, n, 0);
    p->data[0] = 0x40; /* RTP version 1 */
    assert_int_equal(stream_on_rtp(fx.s, 0, p), RD_EPROTO);
    p = mt_rtp(&fx.pool, 1, 0, 1, true, pl, n, 0);
    p->len = 11; /* shorter than the fixed header */
    assert_int_equal(stream_on_rtp(fx.s, 0, p), RD_EPROTO);
    assert_int_equal(tstats(0).malformed, 2);
    p = mt_rtp(&fx.pool, 1, 0, 1, true, pl, n, 0);
    assert_int_equal(stream_on_rtp(fx.s, 1, p), RD_EPROTO);
    p = mt_rtp(&fx.pool, 1, 0, 1, true, pl, n, 0);
    assert_int_equal(stream_on_rtcp(fx.s, 1, p), RD_EPROTO);
    struct stream_track_stats st;
    assert_int_equal(stream_track_stats(fx.s, 1, &st), RD_EPROTO);
    struct stream_rtp_info info;
    assert_int_equal(stream_rtp_info(fx.s, 1, 0, &info), RD_EPROTO);
    assert_int_equal(pktpool_in_use(&fx.pool), 0); /* every reference was consumed */
    /* A payload the classifier calls malformed is still forwarded, never a key. */
    static const uint8_t bad_fu[] = {0x7c, 0xc5, 0x00}; /* FU-A with S and E set */
    p = mt_rtp(&fx.pool, 2, 0, 1, true, bad_fu, sizeof(bad_fu), 0);
    assert_int_equal(stream_on_rtp(fx.s, 0, p), RD_OK);
    assert_int_equal(tstats(0).payload_odd, 1);
    assert_int_equal(tstats(0).key_starts, 0);
    (void)c;
}

static void
test_free_with_subscribers(void **state)
{
    (void)state;
    new_stream(h264_audio, 2, NULL);
    struct cam c = {0, 1, 1, 0, 0.0};
    key_frame(&c, 1);
    struct tviewer tv;
    tviewer_open(&tv, 2);
    assert_int_equal(stream_subscribe(fx.s, 0, tv.sub[0]), RD_OK);
    assert_int_equal(stream_subscribe(fx.s, 1, tv.sub[1]), RD_OK);
    assert_int_equal(stream_subscribers(fx.s), 2);
    assert_int_equal(stream_subscribe(fx.s, 2, tv.sub[0]), RD_EPROTO);
    /* Moving a sub to another track unlinks it from the first. */
    assert_int_equal(stream_subscribe(fx.s, 1, tv.sub[0]), RD_OK);
    assert_int_equal(tstats(0).subscribers, 0);
    assert_int_equal(tstats(1).subscribers, 2);
    stream_unsubscribe(tv.sub[1]);
    assert_false(fanout_sub_attached(tv.sub[1]));
    stream_free(fx.s);
    fx.s = NULL;
    assert_false(fanout_sub_attached(tv.sub[0]));
    tviewer_read(&tv); /* the queued cache still goes out */
    assert_int_equal(tv.rx.nf, 5);
    tviewer_close(&tv);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_rejects_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_h264_sequences, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_mid_gop_rtp_info_matches_first_packet, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_join_without_cache_waits_for_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuted_parameter_sets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_h265_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_continuity_across_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_gap_clamped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ssrc_change_without_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audio_cache_aligned_with_video_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_fallback_for_intra_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_and_bad_track, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_subscribers, setup, teardown),
    };
    return rd_test_run(argc, argv, "stream", tests, sizeof(tests) / sizeof(tests[0]));
}
