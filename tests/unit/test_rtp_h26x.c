/* SPDX-License-Identifier: MIT */
/* rtp_h26x.c: H.264 (RFC 6184) and H.265 (RFC 7798) payload classification vectors built
 * from real encoder output (x264 / x265 parameter sets and slice headers), malformed
 * aggregates and fragments, every truncation, and SDP sprop parameter-set extraction. */
/* guard_buf.h needs MAP_ANONYMOUS, which strict -std=c11 hides without this. */
#define _DEFAULT_SOURCE
#include "rd_test.h"

#include "guard_buf.h"
#include "rd_err.h"
#include "rtp_h26x.h"

#define KEY  RTP_H26X_KEY_START
#define AU   RTP_H26X_AU_START
#define PS   RTP_H26X_PARAM_SETS
#define IRAP RTP_H26X_IRAP
#define VCL  RTP_H26X_VCL
#define AGG  RTP_H26X_AGGREGATE
#define FRAG RTP_H26X_FRAGMENT
#define FS   RTP_H26X_FRAG_START
#define FE   RTP_H26X_FRAG_END
#define UNS  RTP_H26X_UNSUPPORTED
#define BAD  RTP_H26X_MALFORMED

/* x264 (High profile, level 3.1, 1280x720) parameter sets and slice starts. */
#define H264_SPS  "6764001facd9405005bb0110000003001000000303c0f1831960"
#define H264_PPS  "68ebe3cb22c0"
#define H264_IDR  "65888400 33ffa6b8 1c02" /* first_mb_in_slice = 0 */
#define H264_IDR2 "65009a21 0c38ffc0"      /* a later slice of the same IDR picture */
#define H264_P    "419a020c 4ff2a1"        /* P slice, first_mb_in_slice = 0 */
#define H264_P2   "41025fe3 3c"            /* a later P slice */
#define H264_SEI  "0605ffff dc45e9bd e6d948b7 962cd820 d923eeef" /* x264 user data SEI */
#define H264_AUD  "09f0"

/* x265 (Main, 1280x720) parameter sets and slice starts. */
#define H265_VPS "40010c01ffff01600000030090000003000003005d959809"
#define H265_SPS                                                                                   \
    "42010101600000030090000003000003005da00280802d165959a4932bc05a70800001f4800030d420"
#define H265_PPS    "4401c172b46240"
#define H265_IDR    "2601af1d 80a4c3" /* IDR_W_RADL (19), first_slice_segment_in_pic_flag = 1 */
#define H265_IDR2   "2601 2f5e 81"    /* IDR_W_RADL, a later slice segment */
#define H265_IDRNL  "2801af08 40"     /* IDR_N_LP (20) */
#define H265_CRA    "2a01af0c 9c"     /* CRA_NUT (21) */
#define H265_BLA    "2001af0a 11"     /* BLA_W_LP (16) */
#define H265_TRAIL  "0201d009 a07f"   /* TRAIL_R (1) */
#define H265_TRAIL2 "0201 4a62"       /* TRAIL_R, a later slice segment */
#define H265_SEI    "4e01 0505 ffff"  /* prefix SEI (39) */
#define H265_AUD    "4601 50"         /* AUD (35) */

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

/* Flag invariants every result must satisfy (also checked by the fuzzer). */
static void
check_invariants(unsigned f)
{
    if (f & KEY)
        assert_true(f & AU);
    if (f & (BAD | UNS))
        assert_false(f & (KEY | AU));
    if (f & (FS | FE))
        assert_true(f & FRAG);
    assert_false((f & AGG) && (f & FRAG));
    if (f & IRAP)
        assert_true(f & VCL);
}

struct vec {
    const char *name;
    const char *hex;
    unsigned want;
};

static void
run_vectors(enum rtp_h26x_codec codec, const struct vec *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[512];
        size_t len = unhex(v[i].hex, buf, sizeof(buf));
        struct guard_buf g;
        const uint8_t *p = (const uint8_t *)guard_buf_put(&g, buf, len);
        unsigned got = rtp_h26x_classify(codec, p, len);
        if (got != v[i].want)
            fail_msg("%s: flags 0x%x, want 0x%x", v[i].name, got, v[i].want);
        check_invariants(got);
        assert_int_equal(rtp_h26x_is_key_start(codec, p, len), (v[i].want & KEY) != 0);
        guard_buf_free(&g);
    }
}

/* ---- H.264 --------------------------------------------------------------------------------- */

static const struct vec h264_single[] = {
    {"SPS", H264_SPS, AU | PS | KEY},
    {"PPS", H264_PPS, AU | PS | KEY},
    {"IDR, first slice", H264_IDR, AU | IRAP | VCL | KEY},
    {"IDR, later slice", H264_IDR2, IRAP | VCL},
    {"IDR, no slice header byte", "65", IRAP | VCL},
    {"non-IDR slice", H264_P, AU | VCL},
    {"non-IDR, later slice", H264_P2, VCL},
    {"SEI", H264_SEI, AU},
    {"AUD", H264_AUD, AU},
    {"data partition A, first slice", "22 88 40", AU | VCL},
    {"data partition B", "23 88 40", VCL},
    {"SPS extension", "6d 00", PS},
    {"subset SPS (SVC/MVC)", "6f 64 00 1f", AU | PS | KEY},
    {"end of stream", "0b", 0},
    {"filler", "0c ff ff ff", 0},
    {"NRI 0 non-reference slice", "01 9e 00", AU | VCL},
};

static const struct vec h264_aggregate[] = {
    {"STAP-A SPS+PPS+IDR", "78 001a" H264_SPS " 0006" H264_PPS " 000a" H264_IDR,
     AGG | AU | PS | IRAP | VCL | KEY},
    {"STAP-A SPS+PPS", "78 001a" H264_SPS " 0006" H264_PPS, AGG | AU | PS | KEY},
    {"STAP-A AUD+SPS+PPS", "78 0002" H264_AUD " 001a" H264_SPS " 0006" H264_PPS,
     AGG | AU | PS | KEY},
    {"STAP-A SEI+IDR", "78 0014" H264_SEI " 000a" H264_IDR, AGG | AU | IRAP | VCL | KEY},
    {"STAP-A SPS+PPS then a P slice", "78 001a" H264_SPS " 0006" H264_PPS " 0007" H264_P,
     AGG | AU | PS | VCL},
    {"STAP-A SPS + later IDR slice", "78 001a" H264_SPS " 0008" H264_IDR2,
     AGG | AU | PS | IRAP | VCL},
    {"STAP-A SEI alone", "78 0014" H264_SEI, AGG | AU},
    {"STAP-A filler then SPS (filler is no prefix)", "78 0002 0cff 001a" H264_SPS, AGG | PS},
    /* H.264 §7.4.1.2.3: filler data may not precede the first VCL NAL unit. */
    {"STAP-A SPS+filler+IDR (out of order)", "78 001a" H264_SPS " 0002 0cff 000a" H264_IDR,
     AGG | AU | PS | IRAP | VCL},
    {"STAP-A one NAL unit", "78 0006" H264_PPS, AGG | AU | PS | KEY},
    /* Malformed: sizes and nesting. */
    {"STAP-A header only", "78", AGG | BAD},
    {"STAP-A size past the end", "78 001b" H264_SPS, AGG | BAD},
    {"STAP-A second size past the end", "78 001a" H264_SPS " 0007" H264_PPS, AGG | BAD},
    {"STAP-A size 0", "78 0000 0006" H264_PPS, AGG | BAD},
    {"STAP-A one trailing byte", "78 0006" H264_PPS " 00", AGG | BAD},
    {"STAP-A size field cut in half", "78 00", AGG | BAD},
    {"STAP-A size 0xffff", "78 ffff" H264_PPS, AGG | BAD},
    {"STAP-A inside STAP-A", "78 0004 78000168", AGG | BAD},
    {"FU-A inside STAP-A", "78 0003 7c8588", AGG | BAD},
    {"STAP-A inner F bit", "78 0006 e8ebe3cb22c0", AGG | BAD},
};

static const struct vec h264_fu[] = {
    {"FU-A start of IDR", "7c 85 888400 33ffa6", FRAG | FS | AU | IRAP | VCL | KEY},
    {"FU-A middle of IDR", "7c 05 a6b81c02 ffee", FRAG | IRAP | VCL},
    {"FU-A end of IDR", "7c 45 1c02 8080", FRAG | FE | IRAP | VCL},
    {"FU-A start of a later IDR slice", "7c 85 009a21", FRAG | FS | IRAP | VCL},
    {"FU-A start of IDR without payload", "7c 85", FRAG | FS | IRAP | VCL},
    {"FU-A start of non-IDR", "5c 81 9a020c 4f", FRAG | FS | AU | VCL},
    {"FU-A middle of non-IDR", "5c 01 f2a1 0000 03", FRAG | VCL},
    {"FU-A end of non-IDR", "5c 41 a1", FRAG | FE | VCL},
    {"FU-A start of SPS", "7c 87 64001fac", FRAG | FS | AU | PS | KEY},
    {"FU-A with R bit (ignored)", "7c a5 8884", FRAG | FS | AU | IRAP | VCL | KEY},
    {"FU-A indicator only", "7c", FRAG | BAD},
    {"FU-A start and end bits", "7c c5 8884", FRAG | FS | FE | BAD},
    {"FU-A of a STAP-A", "7c 98 0006", FRAG | FS | BAD},
    {"FU-A of an FU-A", "7c 1c 00", FRAG | BAD},
};

static const struct vec h264_other[] = {
    {"empty", "", BAD},
    {"F bit", "e5 8884", BAD},
    {"F bit on FU-A", "fc 85 8884", BAD},
    {"STAP-B", "79 0001 0006" H264_PPS, UNS},
    {"MTAP16", "7a 0001 0006 00 0000" H264_PPS, UNS},
    {"MTAP24", "7b 0001", UNS},
    {"FU-B", "7d 85 0001 8884", UNS},
    {"type 0", "00 11", UNS},
    {"type 30", "1e 11", UNS},
    {"type 31", "7f", UNS},
};

static void
test_h264_single(void **state)
{
    (void)state;
    run_vectors(RTP_H26X_H264, h264_single, sizeof(h264_single) / sizeof(h264_single[0]));
}

static void
test_h264_aggregate(void **state)
{
    (void)state;
    run_vectors(RTP_H26X_H264, h264_aggregate, sizeof(h264_aggregate) / sizeof(h264_aggregate[0]));
}

static void
test_h264_fu(void **state)
{
    (void)state;
    run_vectors(RTP_H26X_H264, h264_fu, sizeof(h264_fu) / sizeof(h264_fu[0]));
}

static void
test_h264_other(void **state)
{
    (void)state;
    run_vectors(RTP_H26X_H264, h264_other, sizeof(h264_other) / sizeof(h264_other[0]));
    /* NULL with length 0 is allowed. */
    assert_int_equal(rtp_h26x_classify(RTP_H26X_H264, NULL, 0), BAD);
    assert_int_equal(rtp_h26x_classify(RTP_H26X_H265, NULL, 0), BAD);
}

/* ---- H.265 --------------------------------------------------------------------------------- */

static const struct vec h265_single[] = {
    {"VPS", H265_VPS, AU | PS | KEY},
    {"SPS", H265_SPS, AU | PS | KEY},
    {"PPS", H265_PPS, AU | PS | KEY},
    {"IDR_W_RADL", H265_IDR, AU | IRAP | VCL | KEY},
    {"IDR_W_RADL, later slice segment", H265_IDR2, IRAP | VCL},
    {"IDR_N_LP", H265_IDRNL, AU | IRAP | VCL | KEY},
    {"CRA", H265_CRA, AU | IRAP | VCL | KEY},
    {"BLA_W_LP", H265_BLA, AU | IRAP | VCL | KEY},
    {"TRAIL_R", H265_TRAIL, AU | VCL},
    {"TRAIL_R, later slice segment", H265_TRAIL2, VCL},
    {"RASL_N (8)", "1001 c0", AU | VCL},
    {"reserved IRAP 22", "2c01 c0", AU | VCL},
    {"prefix SEI", H265_SEI, AU},
    {"AUD", H265_AUD, AU},
    {"suffix SEI (40)", "5001 0505", 0},
    {"end of sequence (36)", "4801", 0},
    {"IDR with no slice byte", "2601", IRAP | VCL},
    {"IDR at TID 7, layer 0", "2607 af", AU | IRAP | VCL | KEY},
};

static const struct vec h265_aggregate[] = {
    {"AP VPS+SPS+PPS", "6001 0018" H265_VPS " 0029" H265_SPS " 0007" H265_PPS, AGG | AU | PS | KEY},
    {"AP VPS+SPS+PPS+IDR", "6001 0018" H265_VPS " 0029" H265_SPS " 0007" H265_PPS " 0007" H265_IDR,
     AGG | AU | PS | IRAP | VCL | KEY},
    {"AP AUD+SEI+CRA", "6001 0003" H265_AUD " 0006" H265_SEI " 0005" H265_CRA,
     AGG | AU | IRAP | VCL | KEY},
    {"AP SPS+PPS then TRAIL_R", "6001 0029" H265_SPS " 0007" H265_PPS " 0006" H265_TRAIL,
     AGG | AU | PS | VCL},
    {"AP suffix SEI then VPS", "6001 0004 50010505 0018" H265_VPS, AGG | PS},
    {"AP VPS + suffix SEI + IDR (out of order)",
     "6001 0018" H265_VPS " 0004 50010505 0007" H265_IDR, AGG | AU | PS | IRAP | VCL},
    {"AP header only", "6001", AGG | BAD},
    {"AP size past the end", "6001 0019" H265_VPS, AGG | BAD},
    {"AP second size past the end", "6001 0018" H265_VPS " 0008" H265_PPS, AGG | BAD},
    {"AP size 1 (smaller than a NAL header)", "6001 0001 40 0007" H265_PPS, AGG | BAD},
    {"AP size 0", "6001 0000", AGG | BAD},
    {"AP trailing byte", "6001 0007" H265_PPS " 00", AGG | BAD},
    {"AP inner TID 0", "6001 0007 4400c172b46240", AGG | BAD},
    {"AP inner F bit", "6001 0007 c401c172b46240", AGG | BAD},
    {"AP inside AP", "6001 0004 60010000", AGG | BAD},
    {"FU inside AP", "6001 0004 620193af", AGG | BAD},
};

static const struct vec h265_fu[] = {
    {"FU start of IDR_W_RADL", "6201 93 af1d80a4", FRAG | FS | AU | IRAP | VCL | KEY},
    {"FU middle of IDR_W_RADL", "6201 13 80a4c3", FRAG | IRAP | VCL},
    {"FU end of IDR_W_RADL", "6201 53 c3ff", FRAG | FE | IRAP | VCL},
    {"FU start of CRA", "6201 95 af0c", FRAG | FS | AU | IRAP | VCL | KEY},
    {"FU start of a later IDR segment", "6201 93 2f5e", FRAG | FS | IRAP | VCL},
    {"FU start of TRAIL_R", "6201 81 d009", FRAG | FS | AU | VCL},
    {"FU end of TRAIL_R", "6201 41 a07f", FRAG | FE | VCL},
    {"FU start without payload", "6201 93", FRAG | FS | IRAP | VCL},
    {"FU without FU header", "6201", FRAG | BAD},
    {"FU start and end", "6201 d3 af", FRAG | FS | FE | BAD},
    {"FU of an AP", "6201 b0 00", FRAG | FS | BAD},
    {"FU of an FU", "6201 31 00", FRAG | BAD},
    {"FU of PACI", "6201 32 00", FRAG | BAD},
};

static const struct vec h265_other[] = {
    {"empty", "", BAD},
    {"one byte", "26", BAD},
    {"F bit", "a601 af", BAD},
    {"TID 0", "2600 af", BAD},
    {"FU with TID 0", "6200 93af", BAD},
    {"AP with F bit", "e001 0007" H265_PPS, BAD},
    {"PACI", "6401 0000 2601af", UNS},
    {"type 51", "6601 00", UNS},
    {"type 63", "7e01 00", UNS},
};

static void
test_h265_single(void **state)
{
    (void)state;
    run_vectors(RTP_H26X_H265, h265_single, sizeof(h265_single) / sizeof(h265_single[0]));
}

static void
test_h265_aggregate(void **state)
{
    (void)state;
    run_vectors(RTP_H26X_H265, h265_aggregate, sizeof(h265_aggregate) / sizeof(h265_aggregate[0]));
}

static void
test_h265_fu(void **state)
{
    (void)state;
    run_vectors(RTP_H26X_H265, h265_fu, sizeof(h265_fu) / sizeof(h265_fu[0]));
}

static void
test_h265_other(void **state)
{
    (void)state;
    run_vectors(RTP_H26X_H265, h265_other, sizeof(h265_other) / sizeof(h265_other[0]));
}

/* The same bytes mean different things per codec: an H.265 IDR header (0x26) is an H.264
 * non-reference type 6 (SEI). */
static void
test_codec_matters(void **state)
{
    (void)state;
    uint8_t b[16];
    size_t n = unhex(H265_IDR, b, sizeof(b));
    assert_int_equal(rtp_h26x_classify(RTP_H26X_H264, b, n), AU);
    n = unhex(H264_IDR, b, sizeof(b));
    /* 0x65 0x88: H.265 type 50 with TID 0 -> malformed. */
    assert_int_equal(rtp_h26x_classify(RTP_H26X_H265, b, n), BAD);
    assert_int_equal(rtp_h26x_classify((enum rtp_h26x_codec)7, b, n), UNS);
}

/* Every prefix of well-formed aggregates and fragments: no read past the end (guard page),
 * invariants hold, and a cut aggregate is malformed rather than a key frame. */
static void
test_every_truncation(void **state)
{
    (void)state;
    static const struct {
        enum rtp_h26x_codec codec;
        const char *hex;
    } full[] = {
        {RTP_H26X_H264, "78 001a" H264_SPS " 0006" H264_PPS " 000a" H264_IDR},
        {RTP_H26X_H264, "7c 85 888400 33ffa6"},
        {RTP_H26X_H265, "6001 0018" H265_VPS " 0029" H265_SPS " 0007" H265_PPS " 0007" H265_IDR},
        {RTP_H26X_H265, "6201 93 af1d80a4"},
    };
    for (size_t i = 0; i < sizeof(full) / sizeof(full[0]); i++) {
        uint8_t buf[256];
        size_t len = unhex(full[i].hex, buf, sizeof(buf));
        bool agg = (buf[0] & 0x1f) == 24 || buf[0] == 0x60;
        /* Unit boundaries of an aggregate: a cut there leaves a shorter valid aggregate. */
        bool boundary[256] = {false};
        if (agg) {
            size_t off = full[i].codec == RTP_H26X_H264 ? 1 : 2;
            while (off + 2 <= len) {
                off += 2u + ((size_t)buf[off] << 8 | buf[off + 1]);
                assert_true(off <= len);
                boundary[off] = true;
            }
        }
        for (size_t n = 0; n <= len; n++) {
            struct guard_buf g;
            const uint8_t *p = (const uint8_t *)guard_buf_put(&g, buf, n);
            unsigned f = rtp_h26x_classify(full[i].codec, p, n);
            check_invariants(f);
            if (agg && !boundary[n])
                assert_true(f & BAD); /* sizes no longer add up */
            if (agg && boundary[n])
                assert_false(f & BAD);
            if (n == len)
                assert_true(f & KEY);
            guard_buf_free(&g);
        }
    }
}

/* ---- sprop-parameter-sets / sprop-vps/sps/pps -------------------------------------------- */

static void
test_sprop_h264(void **state)
{
    (void)state;
    uint8_t out[64], want[64];
    struct rd_str list = RD_STR_LIT("Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA=,aOvjyyLA");
    int n = rtp_h26x_sprop_next(RTP_H26X_H264, &list, out, sizeof(out));
    assert_int_equal(n, (int)unhex(H264_SPS, want, sizeof(want)));
    assert_memory_equal(out, want, (size_t)n);
    n = rtp_h26x_sprop_next(RTP_H26X_H264, &list, out, sizeof(out));
    assert_int_equal(n, (int)unhex(H264_PPS, want, sizeof(want)));
    assert_memory_equal(out, want, (size_t)n);
    assert_int_equal(rtp_h26x_sprop_next(RTP_H26X_H264, &list, out, sizeof(out)), 0);
    assert_int_equal(rtp_h26x_sprop_next(RTP_H26X_H264, &list, out, sizeof(out)), 0);

    /* Blanks around entries, no padding, a trailing comma. */
    list = RD_STR_LIT(" Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA , aOvjyyLA,");
    assert_int_equal(rtp_h26x_sprop_next(RTP_H26X_H264, &list, out, sizeof(out)), 26);
    assert_int_equal(rtp_h26x_sprop_next(RTP_H26X_H264, &list, out, sizeof(out)), 6);
    assert_int_equal(rtp_h26x_sprop_next(RTP_H26X_H264, &list, out, sizeof(out)), 0);

    list = RD_STR_LIT("");
    assert_int_equal(rtp_h26x_sprop_next(RTP_H26X_H264, &list, out, sizeof(out)), 0);

    /* Too small a buffer: RD_ELIMIT and the list is not advanced. */
    list = RD_STR_LIT("Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA=,aOvjyyLA");
    struct rd_str before = list;
    assert_int_equal(rtp_h26x_sprop_next(RTP_H26X_H264, &list, out, 25), RD_ELIMIT);
    assert_true(rd_str_eq(list, before));
    assert_int_equal(rtp_h26x_sprop_next(RTP_H26X_H264, &list, out, 26), 26);

    static const char *const bad[] = {
        ",aOvjyyLA",  /* empty entry */
        "aOvj,,aOvj", /* empty entry in the middle (after one good one) */
        "ZYiEAA==",   /* an IDR slice, not a parameter set */
        "6IiE",       /* F bit set */
        "Z2QA-6zZ",   /* base64url character */
        "Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA=x", /* junk after the padding */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        list = rd_str_cstr(bad[i]);
        int rc = rtp_h26x_sprop_next(RTP_H26X_H264, &list, out, sizeof(out));
        if (rc > 0)
            rc = rtp_h26x_sprop_next(RTP_H26X_H264, &list, out, sizeof(out));
        if (rc != RD_EPROTO)
            fail_msg("'%s': %d", bad[i], rc);
    }
}

static void
test_sprop_h265(void **state)
{
    (void)state;
    uint8_t out[64], want[64];
    static const struct {
        const char *b64;
        const char *hex;
    } sets[] = {
        {"QAEMAf//AWAAAAMAkAAAAwAAAwBdlZgJ", H265_VPS},
        {"QgEBAWAAAAMAkAAAAwAAAwBdoAKAgC0WWVmkkyvAWnCAAAH0gAAw1CA=", H265_SPS},
        {"RAHBcrRiQA==", H265_PPS},
    };
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        struct rd_str list = rd_str_cstr(sets[i].b64);
        int n = rtp_h26x_sprop_next(RTP_H26X_H265, &list, out, sizeof(out));
        assert_int_equal(n, (int)unhex(sets[i].hex, want, sizeof(want)));
        assert_memory_equal(out, want, (size_t)n);
        assert_int_equal(rtp_h26x_sprop_next(RTP_H26X_H265, &list, out, sizeof(out)), 0);
        /* A parameter set is also a key start on its own. */
        assert_true(rtp_h26x_is_key_start(RTP_H26X_H265, out, (size_t)n));
    }
    static const char *const bad[] = {
        "Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA=", /* an H.264 SPS */
        "RADBcrRiQA==",                         /* PPS with TID 0 */
        "JgGv",                                 /* IDR_W_RADL */
        "RA==",                                 /* one byte */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rd_str list = rd_str_cstr(bad[i]);
        int rc = rtp_h26x_sprop_next(RTP_H26X_H265, &list, out, sizeof(out));
        if (rc != RD_EPROTO)
            fail_msg("'%s': %d", bad[i], rc);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_h264_single),   cmocka_unit_test(test_h264_aggregate),
    cmocka_unit_test(test_h264_fu),       cmocka_unit_test(test_h264_other),
    cmocka_unit_test(test_h265_single),   cmocka_unit_test(test_h265_aggregate),
    cmocka_unit_test(test_h265_fu),       cmocka_unit_test(test_h265_other),
    cmocka_unit_test(test_codec_matters), cmocka_unit_test(test_every_truncation),
    cmocka_unit_test(test_sprop_h264),    cmocka_unit_test(test_sprop_h265),
};

RD_TEST_MAIN(tests)
