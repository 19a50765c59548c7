/* SPDX-License-Identifier: MIT */
/* rtsp-camsim's RFC 6184 packetizer (tools/rtsp-camsim/h264pack.c) and the media walk that
 * drives it (media_packet): FU-A boundaries, marker bits, timestamps per frame, SPS/PPS before
 * every IDR, continuity across the file's loop. Packets are checked with the protocol
 * library's own RTP and H.264 parsers (rtp.h, rtp_h26x.h). */
#include "rd_test.h"

#include <stdlib.h>

#include "h264pack.h"
#include "media.h"
#include "rd_err.h"
#include "rtp.h"
#include "rtp_h26x.h"

/* Assembles hdr + payload into out; returns the packet length. */
static size_t
assemble(const struct h264pack_pkt *pk, uint8_t *out)
{
    memcpy(out, pk->hdr, pk->hdr_len);
    memcpy(out + pk->hdr_len, pk->payload, pk->payload_len);
    return pk->hdr_len + pk->payload_len;
}

static void
test_single_nal_boundary(void **state)
{
    (void)state;
    const size_t mtu = 1400;
    uint8_t nal[1400];
    memset(nal, 0x33, sizeof(nal));
    nal[0] = 0x65;
    nal[1] = 0x88;
    struct h264pack_rtp rtp = {.pt = 96, .seq = 65535, .ts = 0xdeadbeef, .ssrc = 0x01020304};
    /* exactly mtu - 12 bytes: one single NAL unit packet (§5.6) */
    struct h264pack_pkt pk;
    size_t off = 0;
    assert_int_equal(h264pack_count(mtu - 12, mtu), 1);
    assert_int_equal(h264pack_next(&rtp, true, nal, mtu - 12, &off, mtu, &pk), RD_OK);
    assert_true(pk.nal_done);
    assert_int_equal(off, mtu - 12);
    assert_int_equal(pk.hdr_len, 12);
    assert_ptr_equal(pk.payload, nal);
    uint8_t buf[2000];
    size_t len = assemble(&pk, buf);
    assert_int_equal(len, mtu);
    struct rtp_view v;
    assert_int_equal(rtp_view_parse(buf, len, &v), RD_OK);
    assert_true(v.marker);
    assert_int_equal(v.payload_type, 96);
    assert_int_equal(v.seq, 65535);
    assert_int_equal(v.timestamp, 0xdeadbeef);
    assert_int_equal(v.ssrc, 0x01020304);
    assert_true(rtp_h26x_is_key_start(RTP_H26X_H264, v.payload, v.payload_len));
    /* not the last NAL of its access unit: no marker */
    off = 0;
    assert_int_equal(h264pack_next(&rtp, false, nal, mtu - 12, &off, mtu, &pk), RD_OK);
    assert_false(pk.hdr[1] & 0x80);
    /* one byte more: FU-A, two fragments */
    assert_int_equal(h264pack_count(mtu - 11, mtu), 2);
    off = 0;
    assert_int_equal(h264pack_next(&rtp, true, nal, mtu - 11, &off, mtu, &pk), RD_OK);
    assert_int_equal(pk.hdr_len, 14);
    assert_false(pk.nal_done);
    assert_false(pk.hdr[1] & 0x80);
    assert_int_equal(h264pack_next(&rtp, true, nal, mtu - 11, &off, mtu, &pk), RD_OK);
    assert_true(pk.nal_done);
    assert_true(pk.hdr[1] & 0x80);
    assert_int_equal(off, mtu - 11);
}

/* FU-A (§5.8) over a range of sizes and MTUs: S/E bits, indicator, reassembly, sizes. */
static void
test_fu_a(void **state)
{
    (void)state;
    static const size_t mtus[] = {46, 200, 1400, 1500, 8000};
    static const size_t lens[] = {1, 2, 100, 1387, 1388, 1389, 2775, 2776, 50000};
    uint8_t *nal = malloc(50000), *re = malloc(50000);
    assert_non_null(nal);
    assert_non_null(re);
    for (size_t i = 0; i < 50000; i++)
        nal[i] = (uint8_t)(i * 7 + 3);
    for (size_t a = 0; a < sizeof(mtus) / sizeof(mtus[0]); a++) {
        for (size_t b = 0; b < sizeof(lens) / sizeof(lens[0]); b++) {
            size_t mtu = mtus[a], nlen = lens[b];
            nal[0] = 0x65; /* NRI 3, IDR */
            struct h264pack_rtp rtp = {.pt = 96, .seq = 100, .ts = 9000, .ssrc = 7};
            size_t off = 0, n = 0, rlen = 0;
            bool fu = nlen > mtu - 12;
            for (;;) {
                struct h264pack_pkt pk;
                uint8_t buf[9000];
                assert_int_equal(h264pack_next(&rtp, true, nal, nlen, &off, mtu, &pk), RD_OK);
                size_t plen = assemble(&pk, buf);
                assert_true(plen <= mtu);
                struct rtp_view v;
                assert_int_equal(rtp_view_parse(buf, plen, &v), RD_OK);
                assert_int_equal(v.seq, 100 + n);
                assert_int_equal(v.marker, pk.nal_done);
                unsigned fl = rtp_h26x_classify(RTP_H26X_H264, v.payload, v.payload_len);
                assert_false(fl & RTP_H26X_MALFORMED);
                if (fu) {
                    assert_int_equal(v.payload[0], 0x60 | 28);
                    assert_int_equal(v.payload[1] & 0x1f, 5);
                    assert_int_equal(!!(v.payload[1] & 0x80), n == 0);
                    assert_int_equal(!!(v.payload[1] & 0x40), pk.nal_done);
                    assert_true(fl & RTP_H26X_FRAGMENT);
                    if (n == 0) {
                        re[0] = nal[0];
                        rlen = 1;
                    }
                    memcpy(re + rlen, v.payload + 2, v.payload_len - 2);
                    rlen += v.payload_len - 2;
                } else {
                    memcpy(re, v.payload, v.payload_len);
                    rlen = v.payload_len;
                }
                n++;
                rtp.seq++;
                if (pk.nal_done)
                    break;
                assert_true(n < 10000);
            }
            if (n != h264pack_count(nlen, mtu))
                fail_msg("mtu %zu len %zu: %zu packets, count says %zu", mtu, nlen, n,
                         h264pack_count(nlen, mtu));
            assert_int_equal(rlen, nlen);
            assert_memory_equal(re, nal, nlen);
            /* a finished NAL unit refuses further packets */
            struct h264pack_pkt pk;
            assert_int_equal(h264pack_next(&rtp, true, nal, nlen, &off, mtu, &pk), RD_EPROTO);
        }
    }
    free(nal);
    free(re);
}

static void
test_bad_args(void **state)
{
    (void)state;
    uint8_t nal[64] = {0x65};
    struct h264pack_rtp rtp = {.pt = 96};
    struct h264pack_pkt pk;
    size_t off = 0;
    assert_int_equal(h264pack_next(&rtp, true, nal, 0, &off, 1400, &pk), RD_EPROTO);
    assert_int_equal(h264pack_next(&rtp, true, nal, 64, &off, 29, &pk), RD_EPROTO);
    assert_int_equal(h264pack_next(&rtp, true, nal, 64, &off, 30, &pk), RD_OK);
    off = 65;
    assert_int_equal(h264pack_next(&rtp, true, nal, 64, &off, 1400, &pk), RD_EPROTO);
    assert_int_equal(h264pack_count(0, 1400), 0);
    assert_int_equal(h264pack_count(10, 29), 0);
}

/* ---- the media walk ------------------------------------------------------------------------ */

static const uint8_t SPS[] = {0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00};
static const uint8_t PPS[] = {0x68, 0xce, 0x3c, 0x80};

static size_t
put(uint8_t *out, size_t at, const uint8_t *nal, size_t len)
{
    static const uint8_t sc[] = {0, 0, 1};
    memcpy(out + at, sc, 3);
    memcpy(out + at + 3, nal, len);
    return at + 3 + len;
}

/* GOP of 3: IDR(SPS PPS + 2 slices of 3000 bytes), P(2 slices), P, IDR without SPS/PPS, P. */
static size_t
synth(uint8_t *buf)
{
    static uint8_t big[3000];
    memset(big, 0x11, sizeof(big));
    size_t n = 0;
    n = put(buf, n, SPS, sizeof(SPS));
    n = put(buf, n, PPS, sizeof(PPS));
    big[0] = 0x65;
    big[1] = 0x88;
    n = put(buf, n, big, sizeof(big));
    big[1] = 0x40;
    n = put(buf, n, big, sizeof(big));
    for (int f = 0; f < 2; f++) {
        big[0] = 0x41;
        big[1] = 0x9a;
        n = put(buf, n, big, 1500);
        big[1] = 0x20;
        n = put(buf, n, big, 300);
    }
    big[0] = 0x65;
    big[1] = 0x88;
    n = put(buf, n, big, 2000);
    big[0] = 0x41;
    big[1] = 0x9a;
    n = put(buf, n, big, 200);
    return n;
}

static void
test_media_walk(void **state)
{
    (void)state;
    static uint8_t buf[20000];
    size_t len = synth(buf);
    struct media m;
    struct rd_errbuf err = {{0}};
    assert_int_equal(media_index(&m, buf, len, 25, 1400, &err), RD_OK);
    assert_int_equal(m.n_aus, 5);
    struct media_cursor cur = {0};
    uint16_t seq = 65530; /* wraps during the walk */
    const uint32_t ts_base = 0xfffff000u, ssrc = 0xabcdef01u;
    size_t total = 0;
    for (size_t frame = 0; frame < 3 * m.n_aus; frame++) {
        const struct media_au *au = &m.aus[cur.au];
        assert_int_equal(cur.au, frame % m.n_aus);
        assert_int_equal(cur.frame, frame);
        bool seen_sps = false, seen_pps = false, seen_slice = false;
        for (uint32_t k = 0; k < au->n_pkts; k++) {
            struct h264pack_pkt pk;
            struct media_cursor after;
            assert_int_equal(media_packet(&m, &cur, 96, seq, ssrc, ts_base, &pk, &after), RD_OK);
            uint8_t pkt[2000];
            size_t plen = assemble(&pk, pkt);
            assert_true(plen <= 1400);
            struct rtp_view v;
            assert_int_equal(rtp_view_parse(pkt, plen, &v), RD_OK);
            assert_int_equal(v.seq, seq);
            assert_int_equal(v.ssrc, ssrc);
            /* one timestamp per frame, 90000 / 25 apart, wrapping modulo 2^32 */
            assert_int_equal(v.timestamp, (uint32_t)(ts_base + 3600u * frame));
            /* marker exactly on the access unit's last packet */
            assert_int_equal(v.marker, k + 1 == au->n_pkts);
            assert_int_equal(after.pkt, k + 1);
            unsigned fl = rtp_h26x_classify(RTP_H26X_H264, v.payload, v.payload_len);
            if (fl & RTP_H26X_PARAM_SETS) {
                uint8_t t = v.payload[0] & 0x1f;
                seen_sps = seen_sps || t == 7;
                seen_pps = seen_pps || (t == 8 && seen_sps);
                assert_false(seen_slice);
            }
            if (fl & RTP_H26X_VCL) {
                if (au->idr && !seen_slice) {
                    /* RFC 6184 §8.4: SPS and PPS in-band before each IDR picture */
                    assert_true(seen_sps && seen_pps);
                    assert_true(fl & RTP_H26X_IRAP);
                }
                seen_slice = true;
            }
            if (k == 0)
                assert_int_equal(!!(fl & RTP_H26X_KEY_START), au->idr);
            cur = after;
            seq++;
            total++;
        }
        assert_true(seen_slice);
        assert_int_equal(au->idr, seen_sps);
        struct h264pack_pkt pk;
        struct media_cursor after;
        assert_int_equal(media_packet(&m, &cur, 96, seq, ssrc, ts_base, &pk, &after), RD_EPROTO);
        media_cursor_next_au(&m, &cur);
    }
    assert_int_equal(total, 3 * m.total_pkts);
    assert_int_equal(cur.au, 0); /* looped three times */
    cur.au = m.n_aus;
    struct h264pack_pkt pk;
    struct media_cursor after;
    assert_int_equal(media_packet(&m, &cur, 96, 0, 0, 0, &pk, &after), RD_EPROTO);
    media_free(&m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_single_nal_boundary),
    cmocka_unit_test(test_fu_a),
    cmocka_unit_test(test_bad_args),
    cmocka_unit_test(test_media_walk),
};

RD_TEST_MAIN(tests)
