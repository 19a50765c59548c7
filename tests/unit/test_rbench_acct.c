/* SPDX-License-Identifier: MIT */
/* rtsp-bench per-track accounting (tools/rtsp-bench/rbench_acct.c): loss, duplicates and
 * reordering across the 16-bit wrap, SSRC changes and re-syncs, RFC 3550 jitter against
 * hand-computed values, and key-frame timing with rtp_h26x classification. */
#include "rd_test.h"

#include "rbench_acct.h"

#define MS 1000000ull /* ns */

/* Builds an RTP packet (V=2, PT 96) with the given payload into buf; returns its length. */
static size_t
mk(uint8_t *buf, uint16_t seq, uint32_t ts, uint32_t ssrc, const uint8_t *payload, size_t plen)
{
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[4] = (uint8_t)(ts >> 24);
    buf[5] = (uint8_t)(ts >> 16);
    buf[6] = (uint8_t)(ts >> 8);
    buf[7] = (uint8_t)ts;
    buf[8] = (uint8_t)(ssrc >> 24);
    buf[9] = (uint8_t)(ssrc >> 16);
    buf[10] = (uint8_t)(ssrc >> 8);
    buf[11] = (uint8_t)ssrc;
    memcpy(buf + 12, payload, plen);
    return 12 + plen;
}

static const uint8_t P_SLICE[] = {0x41, 0x9a, 0x00, 0x01}; /* H.264 non-IDR, first_mb 0 */
static const uint8_t IDR[] = {0x65, 0x88, 0x80, 0x00};     /* H.264 IDR, first_mb 0 */
static const uint8_t SPS[] = {0x67, 0x42, 0x00, 0x1f};     /* H.264 SPS */

/* Feeds seqs[0..n) of SSRC 1, 1 ms apart, timestamps 90 per ms (so no jitter). */
static void
feed(struct rbench_track *t, const uint16_t *seqs, size_t n, uint32_t ssrc)
{
    uint8_t pkt[64];
    for (size_t i = 0; i < n; i++) {
        uint64_t now = (uint64_t)(i + 1) * MS;
        size_t len = mk(pkt, seqs[i], (uint32_t)(i * 90), ssrc, P_SLICE, sizeof(P_SLICE));
        rbench_track_packet(t, pkt, len, now);
    }
}

static void
test_in_order(void **state)
{
    struct rbench_track t;
    rbench_track_init(&t, SDP_CODEC_H264, 90000);
    uint16_t seqs[100];
    for (size_t i = 0; i < 100; i++)
        seqs[i] = (uint16_t)(1000 + i);
    feed(&t, seqs, 100, 1);
    assert_int_equal(t.packets, 100);
    assert_int_equal(t.bytes, 100 * 16);
    /* The first packet is on A.1 probation: neither expected nor received. */
    assert_int_equal(rbench_track_expected(&t), 99);
    assert_int_equal(rbench_track_lost(&t), 0);
    assert_int_equal(t.duplicates, 0);
    assert_int_equal(t.reordered, 0);
    assert_int_equal(t.first_pkt_ns, 1 * MS);
    assert_int_equal(t.first_key_ns, 0); /* P slices only */
}

static void
test_gap(void **state)
{
    struct rbench_track t;
    rbench_track_init(&t, SDP_CODEC_OTHER, 8000);
    uint16_t seqs[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    feed(&t, seqs, sizeof(seqs) / sizeof(seqs[0]), 7);
    assert_int_equal(rbench_track_expected(&t), 20); /* 1..20 */
    assert_int_equal(rbench_track_lost(&t), 2);      /* 10 and 11 */
}

static void
test_duplicates_not_received(void **state)
{
    struct rbench_track t;
    rbench_track_init(&t, SDP_CODEC_OTHER, 8000);
    uint16_t seqs[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 5, 10, 10, 11};
    feed(&t, seqs, sizeof(seqs) / sizeof(seqs[0]), 7);
    assert_int_equal(t.duplicates, 3);
    assert_int_equal(t.reordered, 0);
    assert_int_equal(rbench_track_expected(&t), 11);
    /* A.1 alone would give lost = 11 - 14 = -3; duplicates must not hide loss. */
    assert_int_equal(rbench_track_lost(&t), 0);
    uint16_t more[] = {12, 14}; /* 13 lost, after the duplicates */
    feed(&t, more, 2, 7);
    assert_int_equal(rbench_track_lost(&t), 1);
}

static void
test_reorder(void **state)
{
    struct rbench_track t;
    rbench_track_init(&t, SDP_CODEC_OTHER, 8000);
    uint16_t seqs[] = {0, 1, 2, 4, 3, 5, 8, 6, 7, 9};
    feed(&t, seqs, sizeof(seqs) / sizeof(seqs[0]), 7);
    assert_int_equal(t.reordered, 3); /* 3, 6, 7 */
    assert_int_equal(t.duplicates, 0);
    assert_int_equal(rbench_track_lost(&t), 0);
    assert_int_equal(rbench_track_expected(&t), 9);
}

static void
test_wraparound(void **state)
{
    struct rbench_track t;
    rbench_track_init(&t, SDP_CODEC_OTHER, 8000);
    /* 65535 lost; 2 after 3 (reordered); 65534 again after the wrap (duplicate). */
    uint16_t seqs[] = {65530, 65531, 65532, 65533, 65534, 0, 1, 3, 2, 65534, 4, 5, 6, 7, 8, 9};
    feed(&t, seqs, sizeof(seqs) / sizeof(seqs[0]), 9);
    assert_int_equal(t.seq.cycles, 65536);
    assert_int_equal(rbench_track_expected(&t), 15); /* 65531 .. 65536+9 */
    assert_int_equal(rbench_track_lost(&t), 1);
    assert_int_equal(t.duplicates, 1);
    assert_int_equal(t.reordered, 1);

    /* A packet of the previous cycle arriving after the wrap fills its gap. */
    rbench_track_init(&t, SDP_CODEC_OTHER, 8000);
    uint16_t late[] = {65533, 65534, 0, 65535, 1, 2};
    feed(&t, late, sizeof(late) / sizeof(late[0]), 9);
    assert_int_equal(rbench_track_expected(&t), 5);
    assert_int_equal(rbench_track_lost(&t), 0);
    assert_int_equal(t.reordered, 1);
    assert_int_equal(t.duplicates, 0);
}

static void
test_window_slides(void **state)
{
    /* A duplicate of a packet far behind (outside MAX_MISORDER) is ignored by A.1 as a
     * "very large jump" and never counted as received; a long run clears the window. */
    struct rbench_track t;
    rbench_track_init(&t, SDP_CODEC_OTHER, 8000);
    static uint16_t seqs[3000];
    for (size_t i = 0; i < 3000; i++)
        seqs[i] = (uint16_t)i;
    feed(&t, seqs, 3000, 5);
    uint16_t old[] = {10, 2999, 3000};
    feed(&t, old, 3, 5);
    assert_int_equal(t.duplicates, 1); /* 2999 */
    assert_int_equal(rbench_track_expected(&t), 3000);
    assert_int_equal(rbench_track_lost(&t), 0);
}

static void
test_ssrc_change_and_resync(void **state)
{
    struct rbench_track t;
    rbench_track_init(&t, SDP_CODEC_OTHER, 8000);
    uint16_t a[] = {100, 101, 102, 104, 105};
    feed(&t, a, 5, 1); /* expected 5 (101..105), lost 1 (103) */
    uint16_t b[] = {9000, 9001, 9002};
    feed(&t, b, 3, 2); /* new SSRC: expected 2 more */
    assert_int_equal(t.ssrc_changes, 1);
    assert_int_equal(rbench_track_expected(&t), 7);
    assert_int_equal(rbench_track_lost(&t), 1);
    /* Same SSRC, sequence restarts far away: confirmed by a second packet, A.1 re-syncs. */
    uint16_t c[] = {40000, 40001, 40002};
    feed(&t, c, 3, 2);
    assert_int_equal(t.resyncs, 1);
    assert_int_equal(rbench_track_expected(&t), 7 + 2);
    assert_int_equal(rbench_track_lost(&t), 1);
}

static void
test_malformed(void **state)
{
    struct rbench_track t;
    rbench_track_init(&t, SDP_CODEC_H264, 90000);
    uint8_t junk[] = {0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}; /* version 1 */
    rbench_track_packet(&t, junk, sizeof(junk), MS);
    rbench_track_packet(&t, junk, 5, MS);
    assert_int_equal(t.malformed, 2);
    assert_int_equal(t.packets, 0);
    assert_int_equal(t.first_pkt_ns, 0);
    assert_int_equal(rbench_track_expected(&t), 0);
}

/* RFC 3550 A.8 by hand, 90 kHz clock (90 units per ms):
 *   p1 ts 0     at   0 ms: transit 0      (primes)
 *   p2 ts 3600  at  40 ms: transit 0,    D 0    J16 = 0
 *   p3 ts 7200  at  90 ms: transit 900,  D 900  J16 += 900 - ((0 + 8) >> 4)    = 900   J 56
 *   p4 ts 10800 at 120 ms: transit 0,    D 900  J16 += 900 - ((900 + 8) >> 4)  = 1744  J 109
 *   p5 ts 14400 at 160 ms: transit 0,    D 0    J16 += 0 - ((1744 + 8) >> 4)   = 1635  J 102
 * (A.8: jitter += d - ((jitter + 8) >> 4), reported as jitter >> 4.) */
static void
test_jitter_hand_computed(void **state)
{
    struct rbench_track t;
    rbench_track_init(&t, SDP_CODEC_OTHER, 90000);
    const struct {
        uint32_t ts;
        uint64_t at_ms;
        uint32_t j;
    } v[] = {{0, 0, 0}, {3600, 40, 0}, {7200, 90, 56}, {10800, 120, 109}, {14400, 160, 102}};
    uint8_t pkt[32];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t len = mk(pkt, (uint16_t)i, v[i].ts, 3, P_SLICE, sizeof(P_SLICE));
        rbench_track_packet(&t, pkt, len, 1000 * MS + v[i].at_ms * MS);
        assert_int_equal(rtp_jitter_value(&t.jit), v[i].j);
    }
    assert_true(rbench_track_jitter_ms(&t) > 102.0 / 90.0 - 1e-9);
    assert_true(rbench_track_jitter_ms(&t) < 102.0 / 90.0 + 1e-9);
    assert_true(rbench_track_jitter_max_ms(&t) > 109.0 / 90.0 - 1e-9);
    assert_true(rbench_track_jitter_max_ms(&t) < 109.0 / 90.0 + 1e-9);

    /* No clock rate: no jitter, no division. */
    rbench_track_init(&t, SDP_CODEC_OTHER, 0);
    size_t len = mk(pkt, 1, 0, 3, P_SLICE, sizeof(P_SLICE));
    rbench_track_packet(&t, pkt, len, MS);
    assert_true(rbench_track_jitter_ms(&t) == 0.0);
}

static void
test_key_frame_timing(void **state)
{
    struct rbench_track t;
    rbench_track_init(&t, SDP_CODEC_H264, 90000);
    uint8_t pkt[32];
    size_t len = mk(pkt, 1, 0, 3, P_SLICE, sizeof(P_SLICE));
    rbench_track_packet(&t, pkt, len, 10 * MS);
    len = mk(pkt, 2, 3600, 3, P_SLICE, sizeof(P_SLICE));
    rbench_track_packet(&t, pkt, len, 50 * MS);
    assert_int_equal(t.first_pkt_ns, 10 * MS);
    assert_int_equal(t.first_key_ns, 0);
    len = mk(pkt, 3, 7200, 3, SPS, sizeof(SPS)); /* parameter sets before the IDR: key start */
    rbench_track_packet(&t, pkt, len, 90 * MS);
    assert_int_equal(t.first_key_ns, 90 * MS);
    len = mk(pkt, 4, 7200, 3, IDR, sizeof(IDR));
    rbench_track_packet(&t, pkt, len, 91 * MS);
    assert_int_equal(t.first_key_ns, 90 * MS); /* the first one counts */

    /* A bare IDR slice is a key start too. */
    rbench_track_init(&t, SDP_CODEC_H264, 90000);
    len = mk(pkt, 1, 0, 3, IDR, sizeof(IDR));
    rbench_track_packet(&t, pkt, len, 5 * MS);
    assert_int_equal(t.first_key_ns, 5 * MS);

    /* H.265 IDR_W_RADL (19), first_slice_segment_in_pic_flag set. */
    static const uint8_t H265_IDR[] = {0x26, 0x01, 0xaf, 0x00};
    rbench_track_init(&t, SDP_CODEC_H265, 90000);
    len = mk(pkt, 1, 0, 3, H265_IDR, sizeof(H265_IDR));
    rbench_track_packet(&t, pkt, len, 7 * MS);
    assert_int_equal(t.first_key_ns, 7 * MS);

    /* Another codec: never a key frame. */
    rbench_track_init(&t, SDP_CODEC_OTHER, 90000);
    len = mk(pkt, 1, 0, 3, IDR, sizeof(IDR));
    rbench_track_packet(&t, pkt, len, 5 * MS);
    assert_int_equal(t.first_key_ns, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_in_order),
    cmocka_unit_test(test_gap),
    cmocka_unit_test(test_duplicates_not_received),
    cmocka_unit_test(test_reorder),
    cmocka_unit_test(test_wraparound),
    cmocka_unit_test(test_window_slides),
    cmocka_unit_test(test_ssrc_change_and_resync),
    cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_jitter_hand_computed),
    cmocka_unit_test(test_key_frame_timing),
};

RD_TEST_MAIN(tests)
