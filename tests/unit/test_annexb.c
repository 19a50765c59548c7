/* SPDX-License-Identifier: MIT */
/* rtsp-camsim's Annex B scanner and access-unit grouping (tools/rtsp-camsim/annexb.c) and the
 * media index built on them (media.c): table-driven streams, over-reads caught by guard_buf. */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include "rd_test.h"

#include <stdlib.h>
#include <unistd.h>

#include "annexb.h"
#include "guard_buf.h"
#include "media.h"
#include "rd_err.h"

struct scan_case {
    const char *name;
    const uint8_t *in;
    size_t len;
    int n_nals;       /* expected NAL units, or -1 for RD_EPROTO */
    size_t lens[6];   /* their lengths */
    uint8_t types[6]; /* their types */
};

#define B(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

static const struct scan_case scan_cases[] = {
    {"3-byte start codes", B(0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3), 2, {3, 2}, {7, 8}},
    {"4-byte start codes", B(0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x65, 0x88, 9), 2, {2, 3}, {7, 5}},
    {"leading zeros", B(0, 0, 0, 0, 0, 1, 0x09, 0xf0), 1, {2}, {9}},
    {"trailing zeros trimmed", B(0, 0, 1, 0x41, 0x9a, 5, 0, 0, 0, 0), 1, {3}, {1}},
    {"00 00 02 inside is data", B(0, 0, 1, 0x41, 0, 0, 2, 7), 1, {5}, {1}},
    {"header-only NAL", B(0, 0, 1, 0x09, 0, 0, 1, 0x0a), 2, {1, 1}, {9, 10}},
    {"no start code", B(0x67, 0, 0, 1, 0x68), -1, {0}, {0}},
    {"one zero then 1", B(0, 1, 0x67), -1, {0}, {0}},
    {"zeros only", B(0, 0, 0, 0), -1, {0}, {0}},
    {"start code at the end", B(0, 0, 1), -1, {0}, {0}},
    {"forbidden bit", B(0, 0, 1, 0xe7, 1), -1, {0}, {0}},
    {"empty NAL between", B(0, 0, 1, 0x67, 1, 0, 0, 1, 0, 0, 1, 0x68), -2, {0}, {0}},
};

static void
test_scan_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(scan_cases) / sizeof(scan_cases[0]); i++) {
        const struct scan_case *c = &scan_cases[i];
        struct guard_buf g;
        const uint8_t *buf = (const uint8_t *)guard_buf_put(&g, c->in, c->len);
        size_t pos = 0;
        struct annexb_nal nal;
        int n = 0, r;
        while ((r = annexb_next(buf, c->len, &pos, &nal)) == 1) {
            if (c->n_nals > 0) {
                assert_true(n < c->n_nals);
                assert_int_equal(nal.len, c->lens[n]);
                assert_int_equal(nal.type, c->types[n]);
            }
            n++;
        }
        if (c->n_nals >= 0) {
            if (r != 0 || n != c->n_nals)
                fail_msg("case '%s': r=%d n=%d", c->name, r, n);
        } else if (c->n_nals == -1) {
            if (r != RD_EPROTO || n != 0)
                fail_msg("case '%s': r=%d n=%d", c->name, r, n);
        } else {
            /* -2: refused part-way, after the NAL units before the bad one */
            if (r != RD_EPROTO || n != 1)
                fail_msg("case '%s': r=%d n=%d", c->name, r, n);
        }
        guard_buf_free(&g);
    }
}

static void
test_empty_stream(void **state)
{
    (void)state;
    size_t pos = 0;
    struct annexb_nal nal;
    assert_int_equal(annexb_next((const uint8_t *)"", 0, &pos, &nal), 0);
}

static struct annexb_nal
mk(const uint8_t *p, size_t len)
{
    return (struct annexb_nal){.p = p, .len = len, .type = p[0] & 0x1f};
}

/* H.264 §7.4.1.2.3 boundaries. */
static void
test_au_boundaries(void **state)
{
    (void)state;
    static const uint8_t idr_first[] = {0x65, 0x88, 0x80};
    static const uint8_t idr_second[] = {0x65, 0x40, 0x80}; /* first_mb_in_slice = 1 */
    static const uint8_t p_first[] = {0x41, 0x9a};
    static const uint8_t sei[] = {0x06, 5}, sps[] = {0x67, 0x64}, pps[] = {0x68, 0xee},
                         aud[] = {0x09, 0xf0}, eos[] = {0x0a};
    struct annexb_nal n;
    n = mk(idr_first, sizeof(idr_first));
    assert_true(annexb_is_vcl(&n));
    assert_true(annexb_first_slice(&n));
    assert_true(annexb_starts_au(&n, true));
    assert_false(annexb_starts_au(&n, false)); /* nothing to end yet */
    n = mk(idr_second, sizeof(idr_second));
    assert_false(annexb_first_slice(&n));
    assert_false(annexb_starts_au(&n, true)); /* second slice of the same picture */
    n = mk(p_first, sizeof(p_first));
    assert_true(annexb_starts_au(&n, true));
    const uint8_t *prefix[] = {sei, sps, pps, aud};
    for (int i = 0; i < 4; i++) {
        n = mk(prefix[i], 2);
        assert_false(annexb_is_vcl(&n));
        assert_true(annexb_starts_au(&n, true));
        assert_false(annexb_starts_au(&n, false));
    }
    n = mk(eos, 1);
    assert_false(annexb_starts_au(&n, true));
    uint8_t t14[] = {0x0e, 0};
    n = mk(t14, 2);
    assert_true(annexb_starts_au(&n, true));
    uint8_t hdr_only[] = {0x65};
    n = mk(hdr_only, 1);
    assert_false(annexb_first_slice(&n));
}

/* A synthetic stream: P before the first IDR (skipped), IDR with SPS/PPS and two slices, Ps,
 * an IDR without parameter sets (they are inserted), an end-of-stream NAL (dropped). */
static size_t
put(uint8_t *out, size_t at, const uint8_t *nal, size_t len)
{
    static const uint8_t sc[] = {0, 0, 0, 1};
    memcpy(out + at, sc, 4);
    memcpy(out + at + 4, nal, len);
    return at + 4 + len;
}

static const uint8_t SPS[] = {0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9};
static const uint8_t PPS[] = {0x68, 0xeb, 0xe3, 0xcb};

static size_t
synth_stream(uint8_t *buf, size_t big)
{
    uint8_t *slice = malloc(big);
    assert_non_null(slice);
    memset(slice, 0x5a, big);
    size_t n = 0;
    static const uint8_t p[] = {0x41, 0x9a, 1, 2}, aud[] = {0x09, 0xf0}, eos[] = {0x0b};
    n = put(buf, n, p, sizeof(p)); /* before any IDR: skipped */
    n = put(buf, n, aud, sizeof(aud));
    n = put(buf, n, SPS, sizeof(SPS));
    n = put(buf, n, PPS, sizeof(PPS));
    slice[0] = 0x65;
    slice[1] = 0x88;
    n = put(buf, n, slice, big); /* IDR, first slice */
    slice[1] = 0x40;
    n = put(buf, n, slice, 100); /* IDR, second slice */
    n = put(buf, n, p, sizeof(p));
    n = put(buf, n, p, sizeof(p));
    n = put(buf, n, aud, sizeof(aud));
    slice[1] = 0x88;
    n = put(buf, n, slice, 50); /* IDR without SPS/PPS */
    n = put(buf, n, eos, sizeof(eos));
    free(slice);
    return n;
}

static void
test_media_index(void **state)
{
    (void)state;
    uint8_t buf[8192];
    size_t len = synth_stream(buf, 3000);
    struct media m;
    struct rd_errbuf err = {{0}};
    assert_int_equal(media_index(&m, buf, len, 25, 1400, &err), RD_OK);
    assert_int_equal(m.n_aus, 4);
    assert_int_equal(m.skipped_aus, 1);
    assert_string_equal(m.profile_level_id, "64001f");
    assert_string_equal(m.sprop, "Z2QAH6zZ,aOvjyw==");
    /* AU 0: AUD SPS PPS IDR IDR; 3000-byte slice = 3 FU-A packets at 1400 */
    assert_true(m.aus[0].idr);
    assert_int_equal(m.aus[0].n_nals, 5);
    assert_int_equal(m.nals[m.aus[0].first].len, 2);
    assert_int_equal(m.aus[0].n_pkts, 1 + 1 + 1 + 3 + 1);
    assert_false(m.aus[1].idr);
    assert_int_equal(m.aus[1].n_nals, 1);
    /* AU 3: AUD, then SPS and PPS inserted, then the IDR slice; the end-of-stream NAL gone */
    assert_true(m.aus[3].idr);
    assert_int_equal(m.aus[3].n_nals, 4);
    const struct media_nal *l = &m.nals[m.aus[3].first];
    assert_int_equal(l[0].p[0] & 0x1f, 9);
    assert_memory_equal(l[1].p, SPS, sizeof(SPS));
    assert_memory_equal(l[2].p, PPS, sizeof(PPS));
    assert_int_equal(l[3].p[0] & 0x1f, 5);
    assert_int_equal(m.total_pkts, 7 + 1 + 1 + 4);
    assert_int_equal(media_frame_ts(&m, 0), 0);
    assert_int_equal(media_frame_ts(&m, 1), 3600);
    assert_int_equal(media_frame_ts(&m, 1193047), (uint32_t)(1193047ull * 3600)); /* wraps */
    media_free(&m);
    media_free(&m); /* idempotent */
}

static void
test_media_refused(void **state)
{
    (void)state;
    struct media m;
    struct rd_errbuf err = {{0}};
    static const uint8_t no_idr[] = {0, 0,    1, 0x67, 0x64, 0, 0x1f, 0,   0,
                                     1, 0x68, 1, 0,    0,    1, 0x41, 0x9a};
    assert_int_equal(media_index(&m, no_idr, sizeof(no_idr), 25, 1400, &err), RD_EPROTO);
    assert_true(strlen(err.msg) > 0);
    static const uint8_t no_sps[] = {0, 0, 1, 0x68, 1, 0, 0, 1, 0x65, 0x88};
    assert_int_equal(media_index(&m, no_sps, sizeof(no_sps), 25, 1400, &err), RD_EPROTO);
    static const uint8_t junk[] = {'h', 'e', 'l', 'l', 'o'};
    assert_int_equal(media_index(&m, junk, sizeof(junk), 25, 1400, &err), RD_EPROTO);
    uint8_t buf[8192];
    size_t len = synth_stream(buf, 500);
    assert_int_equal(media_index(&m, buf, len, 0, 1400, &err), RD_EPROTO);
    assert_int_equal(media_index(&m, buf, len, 25, 20, &err), RD_EPROTO);
    assert_int_equal(media_load(&m, "/nonexistent/camsim.h264", 25, 1400, &err), RD_EIO);
}

/* The file make-media.sh makes (smaller): x264 output with two slices per picture
 * (zerolatency) indexes into one access unit per frame and an IDR every GOP. Skipped without
 * ffmpeg/libx264. */
static void
test_media_x264(void **state)
{
    (void)state;
    char path[] = "/tmp/rd-camsim-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
             "testsrc2=size=320x240:rate=25 -t 2 -c:v libx264 -preset veryfast -tune zerolatency "
             "-g 25 -keyint_min 25 -sc_threshold 0 -b:v 400k -bsf:v h264_mp4toannexb -f h264 %s "
             ">/dev/null 2>&1",
             path);
    if (system(cmd) != 0) {
        unlink(path);
        skip();
    }
    struct media m;
    struct rd_errbuf err = {{0}};
    assert_int_equal(media_load(&m, path, 25, 1400, &err), RD_OK);
    unlink(path);
    assert_int_equal(m.n_aus, 50);
    assert_int_equal(m.skipped_aus, 0);
    for (size_t i = 0; i < m.n_aus; i++) {
        assert_int_equal(m.aus[i].idr, i % 25 == 0);
        if (m.aus[i].idr) {
            const struct media_nal *l = &m.nals[m.aus[i].first];
            assert_int_equal(l[0].p[0] & 0x1f, 7);
            assert_int_equal(l[1].p[0] & 0x1f, 8);
        }
    }
    assert_int_equal(strlen(m.profile_level_id), 6);
    media_free(&m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_scan_table),    cmocka_unit_test(test_empty_stream),
    cmocka_unit_test(test_au_boundaries), cmocka_unit_test(test_media_index),
    cmocka_unit_test(test_media_refused), cmocka_unit_test(test_media_x264),
};

RD_TEST_MAIN(tests)
