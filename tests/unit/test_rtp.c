/* SPDX-License-Identifier: MIT */
/* rtp.c: RTP header vectors, RTCP compound iteration and checks, receiver-report building,
 * RFC 3550 A.1 sequence tracking, A.3 loss figures and A.8 jitter. */
/* guard_buf.h needs MAP_ANONYMOUS, which strict -std=c11 hides without this. */
#define _DEFAULT_SOURCE
#include "rd_test.h"

#include "guard_buf.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "rtp.h"

/* Hex (spaces ignored) to bytes; returns the length. */
static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *c = hex; *c != '\0'; c++) {
        int v;
        if (*c >= '0' && *c <= '9')
            v = *c - '0';
        else if (*c >= 'a' && *c <= 'f')
            v = *c - 'a' + 10;
        else if (*c >= 'A' && *c <= 'F')
            v = *c - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            assert_true(n < cap);
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
    return n;
}

/* Parses hex through a guard page. */
static int
parse_hex(const char *hex, struct rtp_view *v, struct guard_buf *g, size_t *len)
{
    uint8_t buf[512];
    *len = unhex(hex, buf, sizeof(buf));
    const uint8_t *p = (const uint8_t *)guard_buf_put(g, buf, *len);
    return rtp_view_parse(p, *len, v);
}

/* ---- RTP header -------------------------------------------------------------------------- */

struct rtp_good {
    const char *name;
    const char *hex;
    bool marker;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    uint8_t cc;
    bool ext;
    uint16_t ext_profile;
    size_t ext_len;
    uint8_t padding;
    size_t payload_off;
    size_t payload_len;
};

static const struct rtp_good rtp_good[] = {
    {"header only", "80600001 00000002 00000003", false, 96, 1, 2, 3, 0, false, 0, 0, 0, 12, 0},
    {"IDR with marker, x264 bytes", "80e0 3a41 0001 5f90 5a3b8c11 65 88 84 00 21 ff", true, 96,
     0x3a41, 0x15f90, 0x5a3b8c11, 0, false, 0, 0, 0, 12, 6},
    {"two CSRCs", "82 08 ffff ffffffff 00000001 11111111 22222222 aa bb", false, 8, 0xffff,
     0xffffffffu, 1, 2, false, 0, 0, 0, 20, 2},
    {"CC=15, exact fit",
     "8f 00 0000 00000000 00000000"
     " 01010101 02020202 03030303 04040404 05050505 06060606 07070707 08080808"
     " 09090909 0a0a0a0a 0b0b0b0b 0c0c0c0c 0d0d0d0d 0e0e0e0e 0f0f0f0f",
     false, 0, 0, 0, 0, 15, false, 0, 0, 0, 72, 0},
    {"one-byte header extension (RFC 8285)",
     "90 60 0010 00000020 00000030 bede 0001 10 ab 00 00 67", false, 96, 0x10, 0x20, 0x30, 0, true,
     0xbede, 4, 0, 20, 1},
    {"empty extension", "90 60 0010 00000020 00000030 1000 0000 41 9a", false, 96, 0x10, 0x20, 0x30,
     0, true, 0x1000, 0, 0, 16, 2},
    {"padding of 4", "a0 60 0010 00000020 00000030 41 9a 00 00 00 04", false, 96, 0x10, 0x20, 0x30,
     0, false, 0, 0, 4, 12, 2},
    {"padding is the whole rest", "a0 60 0010 00000020 00000030 00 00 03", false, 96, 0x10, 0x20,
     0x30, 0, false, 0, 0, 3, 12, 0},
    {"padding of 1 (count byte only)", "a0 60 0010 00000020 00000030 7c 85 01", false, 96, 0x10,
     0x20, 0x30, 0, false, 0, 0, 1, 12, 2},
    {"CSRC, extension and padding",
     "b1 e1 0010 00000020 00000030 cafebabe abcd 0002 01020304 05060708"
     " 7c 05 00 02",
     true, 97, 0x10, 0x20, 0x30, 1, true, 0xabcd, 8, 2, 28, 2},
};

static void
test_rtp_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rtp_good) / sizeof(rtp_good[0]); i++) {
        const struct rtp_good *t = &rtp_good[i];
        struct guard_buf g;
        struct rtp_view v;
        size_t len;
        int rc = parse_hex(t->hex, &v, &g, &len);
        if (rc != RD_OK)
            fail_msg("%s: %d", t->name, rc);
        assert_int_equal(v.marker, t->marker);
        assert_int_equal(v.payload_type, t->pt);
        assert_int_equal(v.seq, t->seq);
        assert_int_equal(v.timestamp, t->ts);
        assert_int_equal(v.ssrc, t->ssrc);
        assert_int_equal(v.csrc_count, t->cc);
        assert_int_equal(v.has_extension, t->ext);
        assert_int_equal(v.ext_profile, t->ext_profile);
        assert_int_equal(v.ext_len, t->ext_len);
        assert_int_equal(v.padding_len, t->padding);
        assert_int_equal(v.payload_off, t->payload_off);
        assert_int_equal(v.payload_len, t->payload_len);
        const uint8_t *base = (const uint8_t *)g.data;
        assert_ptr_equal(v.payload, base + t->payload_off);
        assert_int_equal(v.payload_off + v.payload_len + v.padding_len, len);
        if (t->cc > 0) {
            assert_ptr_equal(v.csrc, base + 12);
            assert_int_equal(v.csrc[4 * t->cc - 1], base[12 + 4 * t->cc - 1]);
        } else {
            assert_null(v.csrc);
        }
        if (t->ext)
            assert_ptr_equal(v.ext, base + 12 + 4 * t->cc + 4);
        guard_buf_free(&g);
    }
}

struct rtp_bad {
    const char *name;
    const char *hex;
};

static const struct rtp_bad rtp_bad[] = {
    {"empty", ""},
    {"11 bytes", "80600001 00000002 000000"},
    {"version 1", "40600001 00000002 00000003 65"},
    {"version 0", "00600001 00000002 00000003 65"},
    {"version 3", "c0600001 00000002 00000003 65"},
    {"CC=15, one byte short",
     "8f 00 0000 00000000 00000000"
     " 01010101 02020202 03030303 04040404 05050505 06060606 07070707 08080808"
     " 09090909 0a0a0a0a 0b0b0b0b 0c0c0c0c 0d0d0d0d 0e0e0e0e 0f0f0f"},
    {"CC=1, no CSRC", "81600001 00000002 00000003"},
    {"X without extension header", "90600001 00000002 00000003 bede00"},
    {"extension overflows by one word", "90600001 00000002 00000003 bede 0002 10ab0000"},
    {"extension length 0xffff", "90600001 00000002 00000003 bede ffff 10ab0000 00000000"},
    {"padding count 0", "a0600001 00000002 00000003 65 88 00"},
    {"padding larger than payload", "a0600001 00000002 00000003 65 88 04"},
    {"padding eats the extension", "b0600001 00000002 00000003 bede 0001 10ab0000 09"},
    {"P with no byte after the header", "a0600001 00000002 00000003"},
    {"padding byte is part of the CSRC list", "a1600001 00000002 00000003 00000001"},
};

static void
test_rtp_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rtp_bad) / sizeof(rtp_bad[0]); i++) {
        struct guard_buf g;
        struct rtp_view v;
        size_t len;
        int rc = parse_hex(rtp_bad[i].hex, &v, &g, &len);
        if (rc != RD_EPROTO)
            fail_msg("%s: got %d, want RD_EPROTO", rtp_bad[i].name, rc);
        guard_buf_free(&g);
    }
}

/* Every prefix of a packet with CSRC, extension and padding: nothing before the end of the
 * extension parses, and no prefix reads past its length (the guard page). */
static void
test_rtp_every_truncation(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t full = unhex("b1e10010 00000020 00000030 cafebabe abcd0002 01020304 05060708 7c050002",
                        buf, sizeof(buf));
    for (size_t n = 0; n <= full; n++) {
        struct guard_buf g;
        struct rtp_view v;
        const uint8_t *p = (const uint8_t *)guard_buf_put(&g, buf, n);
        int rc = rtp_view_parse(p, n, &v);
        if (n < 28) {
            assert_int_equal(rc, RD_EPROTO);
        } else if (rc == RD_OK) {
            /* The last byte is read as the padding count: 0x7c (too big), 0x05, 0x00, 0x02. */
            assert_true(v.payload_off + v.payload_len + v.padding_len == n);
        }
        guard_buf_free(&g);
    }
}

static void
test_rtp_size_limit(void **state)
{
    (void)state;
    static uint8_t big[RD_RTP_MAX_PACKET + 1];
    struct rtp_view v;
    big[0] = 0x80;
    big[1] = 96;
    assert_int_equal(rtp_view_parse(big, RD_RTP_MAX_PACKET, &v), RD_OK);
    assert_int_equal(v.payload_len, RD_RTP_MAX_PACKET - 12);
    assert_int_equal(rtp_view_parse(big, RD_RTP_MAX_PACKET + 1, &v), RD_ELIMIT);
}

static void
test_rtp_rewrite(void **state)
{
    (void)state;
    uint8_t pkt[32];
    size_t len = unhex("80e0 3a41 00015f90 5a3b8c11 65 88 84 00", pkt, sizeof(pkt));
    assert_int_equal(rtp_set_seq(pkt, len, 0xfffe), RD_OK);
    assert_int_equal(rtp_set_timestamp(pkt, len, 0xdeadbeef), RD_OK);
    assert_int_equal(rtp_set_ssrc(pkt, len, 0x01020304), RD_OK);
    struct rtp_view v;
    assert_int_equal(rtp_view_parse(pkt, len, &v), RD_OK);
    assert_int_equal(v.seq, 0xfffe);
    assert_int_equal(v.timestamp, 0xdeadbeef);
    assert_int_equal(v.ssrc, 0x01020304);
    assert_true(v.marker);
    assert_int_equal(v.payload_type, 96);
    assert_int_equal(v.payload[0], 0x65);
    /* Too short: refused, nothing written. */
    uint8_t before[32];
    memcpy(before, pkt, sizeof(pkt));
    assert_int_equal(rtp_set_seq(pkt, 11, 1), RD_EPROTO);
    assert_int_equal(rtp_set_timestamp(pkt, 11, 1), RD_EPROTO);
    assert_int_equal(rtp_set_ssrc(pkt, 11, 1), RD_EPROTO);
    assert_memory_equal(before, pkt, sizeof(pkt));
}

/* ---- Sequence tracking (A.1) --------------------------------------------------------------- */

/* Feeds seqs and checks each validity. */
static void
feed(struct rtp_seq *s, const uint16_t *seqs, const bool *valid, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool ok = rtp_seq_update(s, seqs[i]);
        if (ok != valid[i])
            fail_msg("packet %zu (seq %u): valid %d, want %d", i, seqs[i], ok, valid[i]);
    }
}

static void
test_seq_in_order(void **state)
{
    (void)state;
    struct rtp_seq s;
    rtp_seq_init(&s, 1000);
    assert_int_equal(rtp_seq_expected(&s), 0);
    assert_false(rtp_seq_update(&s, 1000)); /* probation */
    assert_int_equal(rtp_seq_extended_max(&s), 0);
    for (uint16_t q = 1001; q < 1010; q++)
        assert_true(rtp_seq_update(&s, q));
    assert_int_equal(s.received, 9);
    assert_int_equal(s.base_seq, 1001);
    assert_int_equal(rtp_seq_extended_max(&s), 1009);
    assert_int_equal(rtp_seq_expected(&s), 9);
    assert_int_equal(rtp_seq_lost(&s), 0);
    assert_int_equal(s.resyncs, 0);
}

static void
test_seq_wrap(void **state)
{
    (void)state;
    struct rtp_seq s;
    rtp_seq_init(&s, 65530);
    assert_false(rtp_seq_update(&s, 65530));
    uint16_t q = 65531;
    for (int i = 0; i < 12; i++, q++)
        assert_true(rtp_seq_update(&s, q));
    /* 65531..65535, 0..6: one cycle. */
    assert_int_equal(s.cycles, 65536);
    assert_int_equal(rtp_seq_extended_max(&s), 65536 + 6);
    assert_int_equal(rtp_seq_expected(&s), 12);
    assert_int_equal(rtp_seq_lost(&s), 0);
    /* A reordered packet from before the wrap does not count another cycle. */
    assert_true(rtp_seq_update(&s, 65534));
    assert_int_equal(s.cycles, 65536);
    assert_int_equal(rtp_seq_lost(&s), -1); /* counted as received, as in A.1 */
}

/* The A.1 listing compares in int: seq 0 after 65535 would never end probation. */
static void
test_seq_probation_across_wrap(void **state)
{
    (void)state;
    struct rtp_seq s;
    rtp_seq_init(&s, 65535);
    assert_false(rtp_seq_update(&s, 65535));
    assert_true(rtp_seq_update(&s, 0));
    assert_int_equal(s.received, 1);
    assert_int_equal(rtp_seq_expected(&s), 1);
    /* First packet 0: max_seq starts at 65535. */
    rtp_seq_init(&s, 0);
    assert_false(rtp_seq_update(&s, 0));
    assert_true(rtp_seq_update(&s, 1));
}

static void
test_seq_probation_restart(void **state)
{
    (void)state;
    struct rtp_seq s;
    rtp_seq_init(&s, 5);
    static const uint16_t seqs[] = {5, 7, 8, 9};
    static const bool valid[] = {false, false, true, true};
    feed(&s, seqs, valid, 4);
    assert_int_equal(s.base_seq, 8);
    assert_int_equal(s.received, 2);
    /* Never two in a row: stays on probation. */
    rtp_seq_init(&s, 100);
    static const uint16_t jumpy[] = {100, 300, 500, 700};
    static const bool none[] = {false, false, false, false};
    feed(&s, jumpy, none, 4);
    assert_int_equal(s.probation, 1);
    assert_int_equal(rtp_seq_lost(&s), 0);
}

static void
test_seq_loss_and_report(void **state)
{
    (void)state;
    struct rtp_seq s;
    struct rtcp_report_block b;
    rtp_seq_init(&s, 10);
    assert_false(rtp_seq_update(&s, 10));
    /* 11..30 valid but 16..20 lost: 20 expected, 15 received. */
    for (uint16_t q = 11; q <= 30; q++) {
        if (q >= 16 && q <= 20)
            continue;
        assert_true(rtp_seq_update(&s, q));
    }
    assert_int_equal(rtp_seq_expected(&s), 20);
    assert_int_equal(rtp_seq_lost(&s), 5);
    rtp_seq_fill_report(&s, &b);
    assert_int_equal(b.cumulative_lost, 5);
    assert_int_equal(b.ext_highest_seq, 30);
    assert_int_equal(b.fraction_lost, 5 * 256 / 20);
    /* Next interval: 10 more, none lost. */
    for (uint16_t q = 31; q <= 40; q++)
        assert_true(rtp_seq_update(&s, q));
    rtp_seq_fill_report(&s, &b);
    assert_int_equal(b.fraction_lost, 0);
    assert_int_equal(b.cumulative_lost, 5);
    /* Nothing since: expected_interval 0, the division is guarded. */
    rtp_seq_fill_report(&s, &b);
    assert_int_equal(b.fraction_lost, 0);
    /* Duplicates make the interval's loss negative: fraction 0, cumulative goes down. */
    assert_true(rtp_seq_update(&s, 40));
    assert_true(rtp_seq_update(&s, 40));
    rtp_seq_fill_report(&s, &b);
    assert_int_equal(b.fraction_lost, 0);
    assert_int_equal(b.cumulative_lost, 3);
    /* 9 of 10 lost in the last interval. */
    assert_true(rtp_seq_update(&s, 50));
    rtp_seq_fill_report(&s, &b);
    assert_int_equal(b.fraction_lost, 9 * 256 / 10);
}

static void
test_seq_report_clamp(void **state)
{
    (void)state;
    struct rtp_seq s;
    struct rtcp_report_block b;
    rtp_seq_init(&s, 0);
    assert_false(rtp_seq_update(&s, 0));
    /* On probation: all zero. */
    rtp_seq_fill_report(&s, &b);
    assert_int_equal(b.cumulative_lost, 0);
    assert_int_equal(b.ext_highest_seq, 0);
    assert_int_equal(b.fraction_lost, 0);
    assert_true(rtp_seq_update(&s, 1));
    /* 200 cycles with almost nothing received: clamped to 0x7fffff. */
    s.cycles = 200u * 65536u;
    rtp_seq_fill_report(&s, &b);
    assert_int_equal(b.cumulative_lost, 0x7fffff);
    assert_int_equal(b.fraction_lost, 255);
    /* More received than expected by far: clamped to -0x800000. */
    s.cycles = 0;
    s.received = 0x900000;
    rtp_seq_fill_report(&s, &b);
    assert_int_equal(b.cumulative_lost, -0x800000);
}

static void
test_seq_duplicate_and_reorder(void **state)
{
    (void)state;
    struct rtp_seq s;
    rtp_seq_init(&s, 1000);
    static const uint16_t seqs[] = {1000, 1001, 1002, 1004, 1003, 1003, 1005, 950, 901};
    static const bool valid[] = {false, true, true, true, true, true, true, true, false};
    feed(&s, seqs, valid, sizeof(seqs) / sizeof(seqs[0]));
    /* 901 is 104 behind: beyond MAX_MISORDER, treated as a big jump and not counted. */
    assert_int_equal(s.max_seq, 1005);
    assert_int_equal(s.received, 7);
    assert_int_equal(rtp_seq_expected(&s), 5);
    assert_int_equal(rtp_seq_lost(&s), -2);
}

static void
test_seq_dropout_boundary(void **state)
{
    (void)state;
    struct rtp_seq s;
    rtp_seq_init(&s, 999);
    assert_false(rtp_seq_update(&s, 999));
    assert_true(rtp_seq_update(&s, 1000));
    /* A gap of MAX_DROPOUT - 1 is accepted... */
    assert_true(rtp_seq_update(&s, (uint16_t)(1000 + RTP_SEQ_MAX_DROPOUT - 1)));
    assert_int_equal(s.max_seq, 3999);
    /* ...one of MAX_DROPOUT is not. */
    assert_false(rtp_seq_update(&s, (uint16_t)(3999 + RTP_SEQ_MAX_DROPOUT)));
    assert_int_equal(s.max_seq, 3999);
    /* Up to MAX_MISORDER - 1 behind is a reorder; MAX_MISORDER behind is a jump (A.1 tests
     * udelta <= RTP_SEQ_MOD - MAX_MISORDER). */
    assert_true(rtp_seq_update(&s, (uint16_t)(3999 - RTP_SEQ_MAX_MISORDER + 1)));
    assert_false(rtp_seq_update(&s, (uint16_t)(3999 - RTP_SEQ_MAX_MISORDER)));
}

static void
test_seq_jump_resync(void **state)
{
    (void)state;
    struct rtp_seq s;
    rtp_seq_init(&s, 100);
    assert_false(rtp_seq_update(&s, 100));
    assert_true(rtp_seq_update(&s, 101));
    assert_true(rtp_seq_update(&s, 102));
    /* A lone jump is dropped; the stream then carries on where it was. */
    assert_false(rtp_seq_update(&s, 40000));
    assert_true(rtp_seq_update(&s, 103));
    assert_int_equal(s.max_seq, 103);
    assert_int_equal(s.resyncs, 0);
    /* A jump followed by its successor: the camera restarted, re-sync on the second. */
    assert_false(rtp_seq_update(&s, 20000));
    assert_true(rtp_seq_update(&s, 20001));
    assert_int_equal(s.resyncs, 1);
    assert_int_equal(s.base_seq, 20001);
    assert_int_equal(s.received, 1);
    assert_int_equal(s.cycles, 0);
    assert_true(rtp_seq_update(&s, 20002));
    assert_int_equal(rtp_seq_expected(&s), 2);
    assert_int_equal(rtp_seq_lost(&s), 0);
    /* bad_seq wraps too: a jump to 65535 then 0 re-syncs. */
    assert_false(rtp_seq_update(&s, 65535));
    assert_true(rtp_seq_update(&s, 0));
    assert_int_equal(s.resyncs, 2);
    assert_int_equal(s.base_seq, 0);
}

/* ---- Jitter (A.8) -------------------------------------------------------------------------- */

static void
test_jitter_steady_and_late(void **state)
{
    (void)state;
    struct rtp_jitter j;
    rtp_jitter_init(&j);
    /* 25 fps at 90 kHz: 3600 ticks per 40 ms; timestamps wrap past 2^32 on the way. */
    uint32_t ts = 0xffff0000u;
    uint64_t t_us = 5000000;
    for (int i = 0; i < 100; i++, ts += 3600, t_us += 40000)
        assert_int_equal(rtp_jitter_update(&j, t_us, ts, 90000), RD_OK);
    assert_int_equal(rtp_jitter_value(&j), 0);
    /* One packet 10 ms late (900 ticks): J = 900/16; then back on time: another |D| = 900. */
    assert_int_equal(rtp_jitter_update(&j, t_us + 10000, ts, 90000), RD_OK);
    assert_int_equal(rtp_jitter_value(&j), 56);
    ts += 3600;
    t_us += 40000;
    assert_int_equal(rtp_jitter_update(&j, t_us, ts, 90000), RD_OK);
    assert_int_equal(rtp_jitter_value(&j), (900 + 900 - 56) / 16);
}

static void
test_jitter_matches_float(void **state)
{
    (void)state;
    struct rtp_jitter j;
    rtp_jitter_init(&j);
    double jf = 0;
    uint32_t ts = 12345;
    uint64_t t_us = 1000;
    int64_t prev_transit = 0;
    uint32_t rng = 7;
    for (int i = 0; i < 2000; i++) {
        ts += 160; /* 20 ms at 8 kHz, arriving 0..15 ms late */
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        t_us += 20000 + rng % 15000;
        assert_int_equal(rtp_jitter_update(&j, t_us, ts, 8000), RD_OK);
        int64_t transit = (int64_t)(t_us * 8000 / 1000000) - ts;
        int64_t d = transit - prev_transit;
        if (i > 0)
            jf += ((double)(d < 0 ? -d : d) - jf) / 16.0;
        prev_transit = transit;
    }
    double err = jf - rtp_jitter_value(&j);
    assert_true(err <= 2.0 && err >= -2.0);
    assert_true(rtp_jitter_value(&j) > 20); /* ~E|X-Y| = 40 ticks for X, Y uniform 0..120 */
}

static void
test_jitter_guards(void **state)
{
    (void)state;
    struct rtp_jitter j;
    rtp_jitter_init(&j);
    assert_int_equal(rtp_jitter_update(&j, 1000, 1, 0), RD_EPROTO);
    assert_false(j.primed);
    assert_int_equal(rtp_jitter_update(&j, UINT64_MAX, 1, UINT32_MAX), RD_OK);
    assert_int_equal(rtp_jitter_update(&j, UINT64_MAX - 1000000, 0x80000001u, UINT32_MAX), RD_OK);
    /* Worst |D| every time: stays bounded (2^31 per step at most). */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rtp_jitter_update(&j, (uint64_t)i * 1000, (uint32_t)i * 0x80000000u, 1000),
                         RD_OK);
    assert_true(rtp_jitter_value(&j) <= 0x80000000u);
    assert_true(rtp_jitter_value(&j) > 0x70000000u);
    rtp_jitter_init(&j);
    assert_int_equal(rtp_jitter_value(&j), 0);
}

/* ---- RTCP ---------------------------------------------------------------------------------- */

#define SR_HIK   "80c80006 5a3b8c11 e89f423a1c28f5c2 7b2a1000 000005dc 001a2b3c"
#define SDES_HIK "81ca0004 5a3b8c11 0109 68696b2d63616d3031 00"
#define RR_ONE   "81c90007 1b2c3d4e 5a3b8c11 05fffffe 0001f3a0 00000120 423a1c28 00018000"
#define BYE_TO   "81cb0003 1b2c3d4e 07 74696d656f7574"

struct rtcp_expect {
    uint8_t type;
    uint8_t count;
    size_t len;
    uint8_t padding;
};

struct rtcp_good {
    const char *name;
    const char *hex;
    size_t n;
    struct rtcp_expect pkts[4];
};

static const struct rtcp_good rtcp_good[] = {
    {"SR + SDES", SR_HIK SDES_HIK, 2, {{200, 0, 28, 0}, {202, 1, 20, 0}}},
    {"RR + BYE", RR_ONE BYE_TO, 2, {{201, 1, 32, 0}, {203, 1, 16, 0}}},
    {"empty RR + SDES + APP",
     "80c90001 1b2c3d4e" SDES_HIK "80cc0002 1b2c3d4e 6e616d65",
     3,
     {{201, 0, 8, 0}, {202, 1, 20, 0}, {204, 0, 12, 0}}},
    {"SR + PSFB (passed through) + padded BYE",
     SR_HIK "81ce0002 1b2c3d4e 5a3b8c11 a1cb0002 5a3b8c11 00000004",
     3,
     {{200, 0, 28, 0}, {206, 1, 12, 0}, {203, 1, 12, 4}}},
    {"SR with a report block and a profile extension",
     "81c8000d 5a3b8c11 e89f423a1c28f5c2 7b2a1000 000005dc 001a2b3c"
     " 1b2c3d4e 00000000 00000010 00000000 00000000 00000000 deadbeef",
     1,
     {{200, 1, 56, 0}}},
    {"SDES with two chunks and BYE with no SSRC",
     "80c90001 1b2c3d4e 82ca0005 5a3b8c11 0102 6869 00000000 1b2c3d4e 0101 61 00 80cb0000",
     3,
     {{201, 0, 8, 0}, {202, 2, 24, 0}, {203, 0, 4, 0}}},
};

static void
test_rtcp_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rtcp_good) / sizeof(rtcp_good[0]); i++) {
        const struct rtcp_good *t = &rtcp_good[i];
        uint8_t buf[512];
        size_t len = unhex(t->hex, buf, sizeof(buf));
        struct guard_buf g;
        const uint8_t *p = (const uint8_t *)guard_buf_put(&g, buf, len);
        struct rtcp_iter it;
        struct rtcp_pkt pkt;
        rtcp_compound_init(&it, p, len);
        size_t off = 0;
        for (size_t k = 0; k < t->n; k++) {
            int rc = rtcp_compound_next(&it, &pkt);
            if (rc != 1)
                fail_msg("%s: packet %zu: %d", t->name, k, rc);
            assert_int_equal(pkt.type, t->pkts[k].type);
            assert_int_equal(pkt.count, t->pkts[k].count);
            assert_int_equal(pkt.len, t->pkts[k].len);
            assert_int_equal(pkt.padding_len, t->pkts[k].padding);
            assert_int_equal(pkt.off, off);
            assert_ptr_equal(pkt.p, p + off);
            off += pkt.len;
        }
        assert_int_equal(off, len);
        assert_int_equal(rtcp_compound_next(&it, &pkt), 0);
        assert_int_equal(rtcp_compound_next(&it, &pkt), 0);
        int n = rtcp_compound_check(p, len);
        if (n != (int)t->n)
            fail_msg("%s: check %d", t->name, n);
        guard_buf_free(&g);
    }
}

struct rtcp_bad {
    const char *name;
    const char *hex;
    bool iter_fails; /* rtcp_compound_next fails (else only rtcp_compound_check) */
};

static const struct rtcp_bad rtcp_bad[] = {
    {"empty", "", false},
    {"length word one too long", "80c80007 5a3b8c11 e89f423a1c28f5c2 7b2a1000 000005dc 001a2b3c",
     true},
    {"length word lies in the second packet", SR_HIK "81ca0005 5a3b8c11 0109 68696b2d63616d3031 00",
     true},
    {"two stray bytes after the last packet", SR_HIK SDES_HIK "8000", true},
    {"three-byte header", "80c900", true},
    {"version 1 in the second packet", SR_HIK "41ca0004 5a3b8c11 0109 68696b2d63616d3031 00", true},
    {"padding in a non-last packet", "a0c90002 1b2c3d4e 00000004" BYE_TO, true},
    {"padding count 0", "a0c90002 1b2c3d4e 00000000", true},
    {"padding count larger than the body", "a0c90002 1b2c3d4e 00000009", true},
    {"first packet is SDES", SDES_HIK SR_HIK, false},
    {"first packet is BYE", BYE_TO, false},
    {"SR with RC=1 but no block", "81c80006 5a3b8c11 e89f423a1c28f5c2 7b2a1000 000005dc 001a2b3c",
     false},
    {"RR whose block is in the padding",
     "a1c90007 1b2c3d4e 5a3b8c11 05fffffe 0001f3a0 00000120 423a1c28 00000004", false},
    {"SR too short for its fixed part", "80c80001 5a3b8c11", false},
    {"SDES chunk without a null item", SR_HIK "81ca0003 5a3b8c11 0106 68696b2d6361", false},
    {"SDES item longer than the packet", SR_HIK "81ca0003 5a3b8c11 0120 68696b2d6361", false},
    {"SDES chunk count larger than the chunks",
     SR_HIK "82ca0004 5a3b8c11 0109 68696b2d63616d3031 00", false},
    {"SDES padding not null", SR_HIK "81ca0004 5a3b8c11 0108 68696b2d63616d30 00 01", false},
    {"SDES with bytes after the last chunk",
     SR_HIK "81ca0005 5a3b8c11 0109 68696b2d63616d3031 00 00000000", false},
    {"BYE with more SSRCs than words", "80c90001 1b2c3d4e 82cb0001 1b2c3d4e", false},
    {"BYE reason past the end", "80c90001 1b2c3d4e 81cb0002 1b2c3d4e 09 74696d", false},
    {"APP without a name", "80c90001 1b2c3d4e 80cc0001 1b2c3d4e", false},
};

static void
test_rtcp_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rtcp_bad) / sizeof(rtcp_bad[0]); i++) {
        const struct rtcp_bad *t = &rtcp_bad[i];
        uint8_t buf[512];
        size_t len = unhex(t->hex, buf, sizeof(buf));
        struct guard_buf g;
        const uint8_t *p = (const uint8_t *)guard_buf_put(&g, buf, len);
        int rc = rtcp_compound_check(p, len);
        if (rc != RD_EPROTO)
            fail_msg("%s: check %d", t->name, rc);
        struct rtcp_iter it;
        struct rtcp_pkt pkt;
        rtcp_compound_init(&it, p, len);
        while ((rc = rtcp_compound_next(&it, &pkt)) == 1)
            assert_true(pkt.off + pkt.len <= len);
        if (t->iter_fails) {
            if (rc != RD_EPROTO)
                fail_msg("%s: iterator %d", t->name, rc);
            /* The error is sticky. */
            assert_int_equal(rtcp_compound_next(&it, &pkt), RD_EPROTO);
        } else {
            assert_int_equal(rc, 0);
        }
        guard_buf_free(&g);
    }
}

static void
test_rtcp_sr_rr_fields(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = unhex("81c8000c 5a3b8c11 e89f423a1c28f5c2 7b2a1000 000005dc 001a2b3c"
                       " 1b2c3d4e 80800000 0002ffff 00000120 423a1c28 00018000" RR_ONE,
                       buf, sizeof(buf));
    struct guard_buf g;
    const uint8_t *p = (const uint8_t *)guard_buf_put(&g, buf, len);
    struct rtcp_iter it;
    struct rtcp_pkt pkt;
    struct rtcp_sr sr;
    struct rtcp_rr rr;
    struct rtcp_report_block b;
    rtcp_compound_init(&it, p, len);
    assert_int_equal(rtcp_compound_next(&it, &pkt), 1);
    assert_int_equal(rtcp_rr_parse(&pkt, &rr), RD_EPROTO); /* wrong type */
    assert_int_equal(rtcp_sr_parse(&pkt, &sr), RD_OK);
    assert_int_equal(sr.ssrc, 0x5a3b8c11);
    assert_true(sr.ntp == 0xe89f423a1c28f5c2ull);
    assert_int_equal(rtcp_ntp_mid32(sr.ntp), 0x423a1c28);
    assert_int_equal(sr.rtp_ts, 0x7b2a1000);
    assert_int_equal(sr.packet_count, 1500);
    assert_int_equal(sr.octet_count, 0x1a2b3c);
    assert_int_equal(sr.reports.n, 1);
    assert_int_equal(rtcp_report_block_get(&sr.reports, 0, &b), RD_OK);
    assert_int_equal(b.ssrc, 0x1b2c3d4e);
    assert_int_equal(b.fraction_lost, 0x80);
    assert_int_equal(b.cumulative_lost, -0x800000);
    assert_int_equal(b.ext_highest_seq, 0x2ffff);
    assert_int_equal(b.jitter, 0x120);
    assert_int_equal(b.lsr, 0x423a1c28);
    assert_int_equal(b.dlsr, 0x18000);
    assert_int_equal(rtcp_report_block_get(&sr.reports, 1, &b), RD_EPROTO);

    assert_int_equal(rtcp_compound_next(&it, &pkt), 1);
    assert_int_equal(rtcp_sr_parse(&pkt, &sr), RD_EPROTO);
    assert_int_equal(rtcp_rr_parse(&pkt, &rr), RD_OK);
    assert_int_equal(rr.ssrc, 0x1b2c3d4e);
    assert_int_equal(rr.reports.n, 1);
    assert_int_equal(rtcp_report_block_get(&rr.reports, 0, &b), RD_OK);
    assert_int_equal(b.ssrc, 0x5a3b8c11);
    assert_int_equal(b.fraction_lost, 5);
    assert_int_equal(b.cumulative_lost, -2);
    assert_int_equal(b.ext_highest_seq, 0x1f3a0);
    assert_int_equal(rtcp_compound_next(&it, &pkt), 0);
    assert_int_equal(rtcp_compound_check(p, len), 2);
    guard_buf_free(&g);
}

static void
test_rtcp_sr_rewrite(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t len = unhex(SR_HIK SDES_HIK, buf, sizeof(buf));
    struct rtcp_iter it;
    struct rtcp_pkt pkt;
    struct rtcp_sr sr;
    rtcp_compound_init(&it, buf, len);
    assert_int_equal(rtcp_compound_next(&it, &pkt), 1);
    assert_int_equal(rtcp_sr_rewrite(buf + pkt.off, pkt.len, 0xabad1dea, 0x7b2a1000u + 90000u),
                     RD_OK);
    assert_int_equal(rtcp_sr_parse(&pkt, &sr), RD_OK);
    assert_int_equal(sr.ssrc, 0xabad1dea);
    assert_int_equal(sr.rtp_ts, 0x7b2a1000u + 90000u);
    assert_true(sr.ntp == 0xe89f423a1c28f5c2ull); /* untouched */
    assert_int_equal(sr.packet_count, 1500);
    assert_int_equal(rtcp_sr_rewrite(buf + pkt.off, 27, 1, 2), RD_EPROTO);
    assert_int_equal(rtcp_compound_next(&it, &pkt), 1);
    assert_int_equal(rtcp_sr_rewrite(buf + pkt.off, pkt.len, 1, 2), RD_EPROTO); /* SDES */
    assert_int_equal(rtcp_compound_check(buf, len), 2);
}

static void
block_eq(const struct rtcp_report_block *a, const struct rtcp_report_block *b)
{
    assert_int_equal(a->ssrc, b->ssrc);
    assert_int_equal(a->fraction_lost, b->fraction_lost);
    assert_int_equal(a->cumulative_lost, b->cumulative_lost);
    assert_int_equal(a->ext_highest_seq, b->ext_highest_seq);
    assert_int_equal(a->jitter, b->jitter);
    assert_int_equal(a->lsr, b->lsr);
    assert_int_equal(a->dlsr, b->dlsr);
}

static void
test_rtcp_build_rr(void **state)
{
    (void)state;
    uint8_t out[2048];
    struct rtcp_report_block blocks[RTCP_MAX_REPORTS + 1];
    for (unsigned i = 0; i <= RTCP_MAX_REPORTS; i++) {
        blocks[i] = (struct rtcp_report_block){.ssrc = 0x5a3b8c00u + i,
                                               .fraction_lost = (uint8_t)i,
                                               .cumulative_lost = (int32_t)i * 1000 - 7000,
                                               .ext_highest_seq = 0x10000u + i,
                                               .jitter = 90u * i,
                                               .lsr = 0x423a1c28,
                                               .dlsr = 65536u * i};
    }
    /* The exact bytes of one block and CNAME "relay-1" (7 + 2 + 1 null = 10, padded to 12). */
    int w = rtcp_build_rr(out, sizeof(out), 0x1b2c3d4e, &blocks[5], 1, RD_STR_LIT("relay-1"));
    uint8_t want[64];
    size_t want_len =
        unhex("81c90007 1b2c3d4e 5a3b8c05 05fff830 00010005 000001c2 423a1c28 00050000"
              " 81ca0004 1b2c3d4e 0107 72656c61792d31 000000",
              want, sizeof(want));
    assert_int_equal(w, (int)want_len);
    assert_memory_equal(out, want, want_len);

    /* Every block count and CNAME length round-trips through the parser and the check. */
    for (unsigned n = 0; n <= RTCP_MAX_REPORTS; n += 5) {
        for (size_t cl = 0; cl <= RTCP_SDES_MAX_TEXT; cl++) {
            char cname[RTCP_SDES_MAX_TEXT];
            memset(cname, 'a' + (int)(cl % 26), sizeof(cname));
            w = rtcp_build_rr(out, sizeof(out), 0x1b2c3d4e, blocks, n, rd_str_make(cname, cl));
            assert_true(w > 0 && w % 4 == 0);
            assert_int_equal(rtcp_compound_check(out, (size_t)w), cl > 0 ? 2 : 1);
            struct rtcp_iter it;
            struct rtcp_pkt pkt;
            struct rtcp_rr rr;
            struct rtcp_report_block b;
            rtcp_compound_init(&it, out, (size_t)w);
            assert_int_equal(rtcp_compound_next(&it, &pkt), 1);
            assert_int_equal(rtcp_rr_parse(&pkt, &rr), RD_OK);
            assert_int_equal(rr.reports.n, n);
            for (unsigned k = 0; k < n; k++) {
                assert_int_equal(rtcp_report_block_get(&rr.reports, k, &b), RD_OK);
                block_eq(&b, &blocks[k]);
            }
            if (cl > 0) {
                assert_int_equal(rtcp_compound_next(&it, &pkt), 1);
                assert_int_equal(pkt.type, RTCP_SDES);
                assert_int_equal(pkt.p[9], cl);
                assert_memory_equal(pkt.p + 10, cname, cl);
            }
            assert_int_equal(rtcp_compound_next(&it, &pkt), 0);
            /* Every smaller capacity is refused. */
            if (n == 0 || n == 30) {
                for (int cap = 0; cap < w; cap++)
                    assert_int_equal(
                        rtcp_build_rr(out, (size_t)cap, 1, blocks, n, rd_str_make(cname, cl)),
                        RD_ELIMIT);
            }
        }
    }
    char longname[RTCP_SDES_MAX_TEXT + 1];
    memset(longname, 'x', sizeof(longname));
    assert_int_equal(
        rtcp_build_rr(out, sizeof(out), 1, blocks, 1, rd_str_make(longname, sizeof(longname))),
        RD_ELIMIT);
    assert_int_equal(
        rtcp_build_rr(out, sizeof(out), 1, blocks, RTCP_MAX_REPORTS + 1, RD_STR_LIT("r")),
        RD_ELIMIT);
    assert_true(rtcp_build_rr(out, sizeof(out), 1, blocks, RTCP_MAX_REPORTS, RD_STR_LIT("r")) > 0);

    /* Out-of-range cumulative loss is clamped to the 24-bit field. */
    struct rtcp_report_block big = blocks[0];
    big.cumulative_lost = -9000000;
    w = rtcp_build_rr(out, sizeof(out), 1, &big, 1, RD_STR_NULL);
    assert_int_equal(w, 32);
    assert_memory_equal(out + 13, "\x80\x00\x00", 3);
    big.cumulative_lost = 9000000;
    w = rtcp_build_rr(out, sizeof(out), 1, &big, 1, RD_STR_NULL);
    assert_memory_equal(out + 13, "\x7f\xff\xff", 3);
}

/* The relay's RR path end to end: track a camera, report on it. */
static void
test_rtcp_rr_from_tracking(void **state)
{
    (void)state;
    struct rtp_seq s;
    struct rtp_jitter j;
    rtp_seq_init(&s, 65500);
    rtp_jitter_init(&j);
    uint32_t ts = 0;
    for (uint32_t i = 0; i < 100; i++) {
        uint16_t q = (uint16_t)(65500 + i);
        if (i % 10 == 3)
            continue; /* 10% lost */
        rtp_seq_update(&s, q);
        assert_int_equal(rtp_jitter_update(&j, 1000000 + i * 40000, ts + i * 3600, 90000), RD_OK);
    }
    struct rtcp_report_block b = {.ssrc = 0x5a3b8c11, .lsr = 0x423a1c28, .dlsr = 0x8000};
    rtp_seq_fill_report(&s, &b);
    b.jitter = rtp_jitter_value(&j);
    assert_int_equal(b.ext_highest_seq, 65536 + (65500 + 99 - 65536));
    assert_int_equal(b.cumulative_lost, 10);
    assert_int_equal(b.fraction_lost, 10 * 256 / 99);
    assert_int_equal(b.jitter, 0);
    uint8_t out[128];
    int w = rtcp_build_rr(out, sizeof(out), 0x1b2c3d4e, &b, 1, RD_STR_LIT("relay-a@10.0.0.2"));
    assert_true(w > 0);
    assert_int_equal(rtcp_compound_check(out, (size_t)w), 2);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rtp_good),
    cmocka_unit_test(test_rtp_bad),
    cmocka_unit_test(test_rtp_every_truncation),
    cmocka_unit_test(test_rtp_size_limit),
    cmocka_unit_test(test_rtp_rewrite),
    cmocka_unit_test(test_seq_in_order),
    cmocka_unit_test(test_seq_wrap),
    cmocka_unit_test(test_seq_probation_across_wrap),
    cmocka_unit_test(test_seq_probation_restart),
    cmocka_unit_test(test_seq_loss_and_report),
    cmocka_unit_test(test_seq_report_clamp),
    cmocka_unit_test(test_seq_duplicate_and_reorder),
    cmocka_unit_test(test_seq_dropout_boundary),
    cmocka_unit_test(test_seq_jump_resync),
    cmocka_unit_test(test_jitter_steady_and_late),
    cmocka_unit_test(test_jitter_matches_float),
    cmocka_unit_test(test_jitter_guards),
    cmocka_unit_test(test_rtcp_good),
    cmocka_unit_test(test_rtcp_bad),
    cmocka_unit_test(test_rtcp_sr_rr_fields),
    cmocka_unit_test(test_rtcp_sr_rewrite),
    cmocka_unit_test(test_rtcp_build_rr),
    cmocka_unit_test(test_rtcp_rr_from_tracking),
};

RD_TEST_MAIN(tests)
