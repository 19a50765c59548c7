/* SPDX-License-Identifier: MIT */
/* Fuzzes rtp.c and rtp_h26x.c. The first byte picks the target: RTP header (then the H.264
 * and H.265 classifiers on its payload), RTCP compound, H.264 or H.265 payload, SDP sprop
 * list, receiver-report building, sequence tracking. Invariants abort; every view must lie
 * inside the input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "rtp.h"
#include "rtp_h26x.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

static bool
inside(const uint8_t *base, size_t len, const uint8_t *p, size_t n)
{
    return p >= base && (size_t)(p - base) <= len && n <= len - (size_t)(p - base);
}

static void
check_flags(unsigned f)
{
    CHECK(f < (RTP_H26X_MALFORMED << 1));
    if (f & RTP_H26X_KEY_START)
        CHECK(f & RTP_H26X_AU_START);
    if (f & (RTP_H26X_MALFORMED | RTP_H26X_UNSUPPORTED))
        CHECK(!(f & (RTP_H26X_KEY_START | RTP_H26X_AU_START)));
    if (f & (RTP_H26X_FRAG_START | RTP_H26X_FRAG_END))
        CHECK(f & RTP_H26X_FRAGMENT);
    CHECK(!((f & RTP_H26X_AGGREGATE) && (f & RTP_H26X_FRAGMENT)));
    if (f & RTP_H26X_IRAP)
        CHECK(f & RTP_H26X_VCL);
}

static void
classify_both(const uint8_t *p, size_t len)
{
    unsigned f = rtp_h26x_classify(RTP_H26X_H264, p, len);
    check_flags(f);
    CHECK(rtp_h26x_is_key_start(RTP_H26X_H264, p, len) == ((f & RTP_H26X_KEY_START) != 0));
    f = rtp_h26x_classify(RTP_H26X_H265, p, len);
    check_flags(f);
    CHECK(rtp_h26x_is_key_start(RTP_H26X_H265, p, len) == ((f & RTP_H26X_KEY_START) != 0));
}

static uint8_t scratch[RD_RTP_MAX_PACKET + 1];

static void
fuzz_rtp_header(const uint8_t *in, size_t len)
{
    struct rtp_view v;
    int rc = rtp_view_parse(in, len, &v);
    if (len > RD_RTP_MAX_PACKET) {
        CHECK(rc == RD_ELIMIT);
        return;
    }
    if (rc != RD_OK) {
        CHECK(rc == RD_EPROTO);
        return;
    }
    CHECK(len >= RTP_HEADER_LEN && in[0] >> 6 == RTP_VERSION);
    CHECK(v.csrc_count <= RTP_MAX_CSRC && v.payload_type < 128);
    CHECK(v.payload == in + v.payload_off);
    CHECK(v.payload_off + v.payload_len + v.padding_len == len);
    CHECK(v.payload_off >= RTP_HEADER_LEN + 4u * v.csrc_count);
    if (v.csrc_count > 0)
        CHECK(inside(in, v.payload_off, v.csrc, 4u * v.csrc_count));
    if (v.has_extension) {
        CHECK(v.ext_len % 4 == 0);
        CHECK(inside(in, v.payload_off, v.ext, v.ext_len));
        CHECK(v.ext + v.ext_len == in + v.payload_off);
    } else {
        CHECK(v.ext == NULL && v.ext_len == 0
              && v.payload_off == RTP_HEADER_LEN + 4u * v.csrc_count);
    }
    CHECK(((in[0] & 0x20) != 0) == (v.padding_len > 0));
    classify_both(v.payload, v.payload_len);

    /* Rewrites change exactly those fields. */
    memcpy(scratch, in, len);
    CHECK(rtp_set_seq(scratch, len, (uint16_t)(v.seq + 1)) == RD_OK);
    CHECK(rtp_set_timestamp(scratch, len, v.timestamp ^ 0x5a5a5a5au) == RD_OK);
    CHECK(rtp_set_ssrc(scratch, len, ~v.ssrc) == RD_OK);
    struct rtp_view w;
    CHECK(rtp_view_parse(scratch, len, &w) == RD_OK);
    CHECK(w.seq == (uint16_t)(v.seq + 1) && w.timestamp == (v.timestamp ^ 0x5a5a5a5au)
          && w.ssrc == ~v.ssrc);
    CHECK(w.marker == v.marker && w.payload_type == v.payload_type && w.payload_off == v.payload_off
          && w.payload_len == v.payload_len);
    CHECK(memcmp(scratch + RTP_HEADER_LEN, in + RTP_HEADER_LEN, len - RTP_HEADER_LEN) == 0);

    struct rtp_jitter j;
    rtp_jitter_init(&j);
    CHECK(rtp_jitter_update(&j, (uint64_t)v.ssrc << 20, v.timestamp, v.seq)
          == (v.seq == 0 ? RD_EPROTO : RD_OK));
    CHECK(rtp_jitter_update(&j, (uint64_t)v.timestamp * 977, v.ssrc, 90000) == RD_OK);
    (void)rtp_jitter_value(&j);
}

static void
fuzz_rtcp(const uint8_t *in, size_t len)
{
    struct rtcp_iter it;
    struct rtcp_pkt pkt;
    int rc;
    int n = 0;
    size_t off = 0;
    bool first_report = false;
    rtcp_compound_init(&it, in, len);
    while ((rc = rtcp_compound_next(&it, &pkt)) == 1) {
        CHECK(pkt.off == off && pkt.p == in + off);
        CHECK(pkt.len >= RTCP_HEADER_LEN && pkt.len % 4 == 0 && inside(in, len, pkt.p, pkt.len));
        CHECK(pkt.padding_len <= pkt.len - RTCP_HEADER_LEN);
        if (pkt.padding_len > 0)
            CHECK(pkt.off + pkt.len == len);
        if (n == 0)
            first_report = pkt.type == RTCP_SR || pkt.type == RTCP_RR;
        struct rtcp_sr sr;
        struct rtcp_rr rr;
        struct rtcp_reports *reports = NULL;
        if (rtcp_sr_parse(&pkt, &sr) == RD_OK) {
            CHECK(pkt.type == RTCP_SR);
            reports = &sr.reports;
            memcpy(scratch, pkt.p, pkt.len);
            CHECK(rtcp_sr_rewrite(scratch, pkt.len, 1, 2) == RD_OK);
        }
        if (rtcp_rr_parse(&pkt, &rr) == RD_OK) {
            CHECK(pkt.type == RTCP_RR);
            reports = &rr.reports;
        }
        if (reports != NULL) {
            CHECK(reports->n == pkt.count);
            CHECK(inside(pkt.p, pkt.len - pkt.padding_len, reports->p,
                         (size_t)RTCP_REPORT_LEN * reports->n));
            struct rtcp_report_block b;
            for (unsigned i = 0; i < reports->n; i++) {
                CHECK(rtcp_report_block_get(reports, i, &b) == RD_OK);
                CHECK(b.cumulative_lost >= -0x800000 && b.cumulative_lost <= 0x7fffff);
            }
            CHECK(rtcp_report_block_get(reports, reports->n, &b) == RD_EPROTO);
        }
        off += pkt.len;
        n++;
    }
    CHECK(rc == 0 || rc == RD_EPROTO);
    if (rc == 0)
        CHECK(off == len);
    else
        CHECK(rtcp_compound_next(&it, &pkt) == RD_EPROTO);
    int checked = rtcp_compound_check(in, len);
    if (checked > 0)
        CHECK(rc == 0 && checked == n && first_report);
    else
        CHECK(checked == RD_EPROTO);
}

static void
fuzz_sprop(const uint8_t *in, size_t len, enum rtp_h26x_codec codec)
{
    uint8_t out[512];
    size_t cap = len > 0 ? in[0] : 0;
    struct rd_str list = rd_str_make(len > 1 ? (const char *)in + 1 : NULL, len > 1 ? len - 1 : 0);
    for (int i = 0; i < 64; i++) {
        size_t before = list.len;
        int n = rtp_h26x_sprop_next(codec, &list, out, cap);
        if (n <= 0) {
            CHECK(n == 0 || n == RD_EPROTO || n == RD_ELIMIT);
            if (n == 0)
                CHECK(list.len == 0);
            break;
        }
        CHECK((size_t)n <= cap && list.len < before);
        unsigned f = rtp_h26x_classify(codec, out, (size_t)n);
        check_flags(f);
        CHECK(f & RTP_H26X_PARAM_SETS);
    }
    int n = rd_b64_decode(rd_str_make((const char *)in, len), out, sizeof(out));
    CHECK(n == RD_EPROTO || n == RD_ELIMIT || (n >= 0 && (size_t)n <= sizeof(out)));
}

static uint32_t
take32(const uint8_t **p, size_t *len)
{
    uint32_t v = 0;
    for (int i = 0; i < 4 && *len > 0; i++, (*p)++, (*len)--)
        v = v << 8 | **p;
    return v;
}

static void
fuzz_build_rr(const uint8_t *in, size_t len)
{
    struct rtcp_report_block blocks[RTCP_MAX_REPORTS + 1];
    memset(blocks, 0, sizeof(blocks));
    unsigned n = len > 0 ? in[0] % (RTCP_MAX_REPORTS + 2) : 0;
    size_t cap = len > 1 ? (size_t)in[1] * 8 : 0;
    size_t cname_len = len > 2 ? (size_t)in[2] + (len > 3 ? in[3] % 2 : 0) : 0;
    const uint8_t *p = in + (len > 4 ? 4 : len);
    size_t left = len > 4 ? len - 4 : 0;
    for (unsigned i = 0; i < n; i++) {
        blocks[i].ssrc = take32(&p, &left);
        blocks[i].fraction_lost = (uint8_t)take32(&p, &left);
        blocks[i].cumulative_lost = (int32_t)take32(&p, &left);
        blocks[i].ext_highest_seq = take32(&p, &left);
        blocks[i].jitter = take32(&p, &left);
        blocks[i].lsr = take32(&p, &left);
        blocks[i].dlsr = take32(&p, &left);
    }
    static char cname[RTCP_SDES_MAX_TEXT + 1];
    memset(cname, 'c', sizeof(cname));
    static uint8_t out[2048];
    int w = rtcp_build_rr(out, cap, 0x1b2c3d4e, blocks, n, rd_str_make(cname, cname_len));
    if (n > RTCP_MAX_REPORTS || cname_len > RTCP_SDES_MAX_TEXT) {
        CHECK(w == RD_ELIMIT);
        return;
    }
    if (w < 0) {
        CHECK(w == RD_ELIMIT);
        return;
    }
    CHECK((size_t)w <= cap && w % 4 == 0);
    CHECK(rtcp_compound_check(out, (size_t)w) == (cname_len > 0 ? 2 : 1));
    struct rtcp_iter it;
    struct rtcp_pkt pkt;
    struct rtcp_rr rr;
    rtcp_compound_init(&it, out, (size_t)w);
    CHECK(rtcp_compound_next(&it, &pkt) == 1 && rtcp_rr_parse(&pkt, &rr) == RD_OK);
    CHECK(rr.ssrc == 0x1b2c3d4e && rr.reports.n == n);
    for (unsigned i = 0; i < n; i++) {
        struct rtcp_report_block b;
        CHECK(rtcp_report_block_get(&rr.reports, i, &b) == RD_OK);
        CHECK(b.ssrc == blocks[i].ssrc && b.ext_highest_seq == blocks[i].ext_highest_seq
              && b.jitter == blocks[i].jitter && b.dlsr == blocks[i].dlsr);
        int32_t cl = blocks[i].cumulative_lost;
        cl = cl > 0x7fffff ? 0x7fffff : cl < -0x800000 ? -0x800000 : cl;
        CHECK(b.cumulative_lost == cl);
    }
}

static void
fuzz_seq(const uint8_t *in, size_t len)
{
    struct rtp_seq s;
    struct rtcp_report_block b;
    if (len < 2)
        return;
    rtp_seq_init(&s, (uint16_t)(in[0] << 8 | in[1]));
    for (size_t i = 0; i + 1 < len; i += 2) {
        uint16_t q = (uint16_t)(in[i] << 8 | in[i + 1]);
        uint32_t received = s.received;
        uint32_t resyncs = s.resyncs;
        bool valid = rtp_seq_update(&s, q);
        if (valid)
            CHECK(s.received == received + 1
                  || (s.received == 1 && (resyncs != s.resyncs || received == 0)));
        else
            CHECK(s.received == received);
        if (q % 7 == 0) {
            rtp_seq_fill_report(&s, &b);
            CHECK(b.cumulative_lost >= -0x800000 && b.cumulative_lost <= 0x7fffff);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    switch (data[0] % 7) {
    case 0:
        fuzz_rtp_header(in, len);
        break;
    case 1:
        fuzz_rtcp(in, len);
        break;
    case 2: {
        unsigned f = rtp_h26x_classify(RTP_H26X_H264, in, len);
        check_flags(f);
        break;
    }
    case 3: {
        unsigned f = rtp_h26x_classify(RTP_H26X_H265, in, len);
        check_flags(f);
        break;
    }
    case 4:
        fuzz_sprop(in, len, data[0] & 0x80 ? RTP_H26X_H265 : RTP_H26X_H264);
        break;
    case 5:
        fuzz_build_rr(in, len);
        break;
    default:
        fuzz_seq(in, len);
        break;
    }
    return 0;
}
