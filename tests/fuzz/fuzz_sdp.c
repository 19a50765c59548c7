/* SPDX-License-Identifier: MIT */
/* Fuzz target for sdp.c: parse, check that every view lies inside the input and the
 * sections tile the lines, run codec and control helpers, then rewrite for the relay and
 * check the result parses again to the same media (and rewrites to itself). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rd_err.h"
#include "rd_limits.h"
#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #x);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Large: static, not on the stack. */
static struct sdp sdp_in, sdp_out;
static char out1[RD_SDP_MAX_BYTES + 4096], out2[RD_SDP_MAX_BYTES + 4096];

static const struct sdp_rewrite opts = {
    {"-", 1}, 1700000000123ull, 7, {"IN IP4 192.0.2.7", 16}, {"IN IP4 0.0.0.0", 14}};

static void
check_view(struct rd_str v, const char *in, size_t size)
{
    if (v.len == 0)
        return;
    CHECK(v.p >= in && v.len <= size && v.p + v.len <= in + size);
}

static void
check_structure(const struct sdp *s, const char *in, size_t size)
{
    CHECK(s->n_lines >= 1 && s->n_lines <= RD_SDP_MAX_LINES);
    CHECK(s->n_media <= RD_SDP_MAX_MEDIA);
    CHECK(s->lines[0].kind == SDP_LINE_VERSION && s->lines[0].type == 'v');
    CHECK(s->session.first_line == 0 && s->session.n_lines >= 1);
    unsigned next = s->session.n_lines;
    for (unsigned i = 0; i < s->n_lines; i++) {
        CHECK(s->lines[i].type >= 'a' && s->lines[i].type <= 'z');
        check_view(s->lines[i].value, in, size);
        for (size_t k = 0; k < s->lines[i].value.len; k++)
            CHECK(s->lines[i].value.p[k] != '\r' && s->lines[i].value.p[k] != '\n'
                  && s->lines[i].value.p[k] != '\0');
    }
    check_view(s->session.origin, in, size);
    check_view(s->session.name, in, size);
    check_view(s->session.connection, in, size);
    check_view(s->session.control, in, size);
    check_view(s->session.range, in, size);
    for (unsigned m = 0; m < s->n_media; m++) {
        const struct sdp_media *md = &s->media[m];
        CHECK(md->first_line == next && md->n_lines >= 1);
        CHECK(s->lines[md->first_line].kind == SDP_LINE_MEDIA);
        next += md->n_lines;
        check_view(md->media, in, size);
        check_view(md->proto, in, size);
        check_view(md->formats, in, size);
        check_view(md->connection, in, size);
        check_view(md->control, in, size);
        CHECK(md->n_formats >= 1 && md->n_formats <= RD_SDP_MAX_FORMATS);
        CHECK(md->n_rtpmap <= RD_SDP_MAX_FORMATS && md->n_fmtp <= RD_SDP_MAX_FORMATS);
        for (unsigned r = 0; r < md->n_rtpmap; r++) {
            CHECK(md->rtpmap[r].clock_rate != 0 && md->rtpmap[r].pt <= 127);
            CHECK(md->rtpmap[r].encoding.len > 0);
            check_view(md->rtpmap[r].encoding, in, size);
            CHECK(sdp_media_rtpmap(md, md->rtpmap[r].pt) == &md->rtpmap[r]);
        }
        for (unsigned f = 0; f < md->n_fmtp; f++) {
            check_view(md->fmtp[f].params, in, size);
            CHECK(sdp_media_fmtp(md, md->fmtp[f].pt) == &md->fmtp[f]);
        }
        if (md->rtp) {
            for (unsigned f = 0; f < md->n_formats; f++)
                CHECK(md->pts[f] <= 127);
        }
        struct sdp_codec c;
        int rc = sdp_media_codec(md, &c);
        CHECK(rc == (md->rtp ? RD_OK : RD_ENOTFOUND));
        if (c.id != SDP_CODEC_OTHER)
            CHECK(c.clock_rate == 90000);

        char url[512];
        rc = sdp_resolve_control(RD_STR_LIT("rtsp://192.0.2.1:554/cam/stream?x=1"), md->control,
                                 url, sizeof(url));
        CHECK(rc == RD_EPROTO || rc == RD_ELIMIT || rc > 0);
        if (rc > 0) {
            CHECK(url[rc] == '\0' && strlen(url) == (size_t)rc);
            for (int k = 0; k < rc; k++)
                CHECK(url[k] > 0x20 && url[k] < 0x7f);
        } else {
            CHECK(url[0] == '\0');
        }
    }
    CHECK(next == s->n_lines);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    int rc = sdp_parse(in, size, &sdp_in);
    if (size > RD_SDP_MAX_BYTES)
        CHECK(rc == RD_ELIMIT);
    if (rc != RD_OK) {
        CHECK(rc == RD_EPROTO || rc == RD_ELIMIT);
        return 0;
    }
    check_structure(&sdp_in, in, size);

    int n = sdp_write_for_relay(&sdp_in, &opts, out1, sizeof(out1));
    if (n == RD_ELIMIT)
        return 0; /* more than RD_SDP_MAX_LINES/BYTES once our lines are added */
    CHECK(n > 0 && (size_t)n <= RD_SDP_MAX_BYTES && out1[n] == '\0');
    CHECK(sdp_write_for_relay(&sdp_in, &opts, out2, (size_t)n) == RD_ELIMIT && out2[0] == '\0');

    CHECK(sdp_parse(out1, (size_t)n, &sdp_out) == RD_OK);
    check_structure(&sdp_out, out1, (size_t)n);
    CHECK(sdp_out.n_media == sdp_in.n_media);
    CHECK(sdp_out.session.has_control && rd_str_eq_cstr(sdp_out.session.control, "*"));
    CHECK(sdp_out.session.has_connection
          && rd_str_eq_cstr(sdp_out.session.connection, "IN IP4 0.0.0.0"));
    for (unsigned m = 0; m < sdp_in.n_media; m++) {
        const struct sdp_media *a = &sdp_in.media[m], *b = &sdp_out.media[m];
        char ctl[32];
        unsigned idx;
        CHECK(rd_str_eq(a->media, b->media) && rd_str_eq(a->proto, b->proto));
        CHECK(rd_str_eq(a->formats, b->formats) && a->port == b->port);
        CHECK(a->n_rtpmap == b->n_rtpmap && a->n_fmtp == b->n_fmtp);
        for (unsigned r = 0; r < a->n_rtpmap; r++)
            CHECK(a->rtpmap[r].clock_rate == b->rtpmap[r].clock_rate
                  && rd_str_eq(a->rtpmap[r].encoding, b->rtpmap[r].encoding));
        for (unsigned f = 0; f < a->n_fmtp; f++)
            CHECK(rd_str_eq(a->fmtp[f].params, b->fmtp[f].params));
        int w = snprintf(ctl, sizeof(ctl), "trackID=%u", m);
        CHECK(w > 0 && (size_t)w < sizeof(ctl));
        CHECK(b->has_control && rd_str_eq_cstr(b->control, ctl));
        CHECK(sdp_relay_track_index(b->control, sdp_out.n_media, &idx) == RD_OK && idx == m);
    }
    /* Idempotent: rewriting the rewrite gives the same bytes. */
    int n2 = sdp_write_for_relay(&sdp_out, &opts, out2, sizeof(out2));
    CHECK(n2 == n && memcmp(out1, out2, (size_t)n) == 0);
    return 0;
}
