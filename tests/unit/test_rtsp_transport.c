/* SPDX-License-Identifier: MIT */
/* rtsp_transport.c: Transport headers real players and cameras send, hostile ones, the relay
 * policy checks, the formatter, and one test per limit. Every parse runs on a guard page. */
/* guard_buf.h uses mmap(MAP_ANONYMOUS), which -std=c11 hides without this. */
#define _DEFAULT_SOURCE
#include "rd_test.h"

#include <stdbool.h>
#include <stdlib.h>

#include "guard_buf.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "rtsp_transport.h"

/* Parses s (exactly strlen(s) bytes, ending at a PROT_NONE page). */
static int
parse_guarded(const char *s, size_t len, struct rtsp_transport *t)
{
    struct guard_buf g;
    char *p = guard_buf_put(&g, s, len);
    int rc = rtsp_transport_parse(p, len, t);
    /* Views would dangle after the unmap: the callers only look at plain fields then, or
     * parse the same literal again without the guard (parse_plain). */
    guard_buf_free(&g);
    return rc;
}

static int
parse_plain(const char *s, struct rtsp_transport *t)
{
    return rtsp_transport_parse(s, strlen(s), t);
}

/* "lo-hi", "lo" or "" (absent), for table comparisons. */
static const char *
range_str(const struct rtsp_transport_range *r, char *buf, size_t cap)
{
    if (!r->present)
        snprintf(buf, cap, "%s", "");
    else if (r->has_hi)
        snprintf(buf, cap, "%u-%u", (unsigned)r->lo, (unsigned)r->hi);
    else
        snprintf(buf, cap, "%u", (unsigned)r->lo);
    return buf;
}

/* Appends s to buf[cap]; the tests size buf so this never fails. */
static void
append(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf);
    int w = snprintf(buf + n, cap - n, "%s", s);
    assert_true(w >= 0 && (size_t)w < cap - n);
}

static bool
view_is(struct rd_str v, const char *s)
{
    return rd_str_eq_cstr(v, s);
}

struct spec_exp {
    const char *protocol;
    bool supported;
    enum rtsp_transport_lower lower;
    const char *flags;  /* letters: u unicast, m multicast, a append */
    const char *client; /* range_str form */
    const char *server;
    const char *interleaved;
    const char *port;
    const char *ssrc; /* "%08X" form or NULL */
    unsigned mode;
    const char *destination; /* NULL: absent */
    const char *source;      /* NULL: absent */
    int ttl;                 /* -1: absent */
    unsigned n_params;
    unsigned n_unknown;
};

struct good_vec {
    const char *name;
    const char *in;
    unsigned n_specs;
    struct spec_exp s[3];
};

#define UDP    RTSP_TRANSPORT_UDP
#define TCP    RTSP_TRANSPORT_TCP
#define PLAY   RTSP_TRANSPORT_MODE_PLAY
#define RECORD RTSP_TRANSPORT_MODE_RECORD
#define OTHER  RTSP_TRANSPORT_MODE_OTHER

/* clang-format off */
static const struct good_vec good[] = {
    {"ffmpeg udp", "RTP/AVP/UDP;unicast;client_port=5000-5001", 1,
     {{"RTP/AVP/UDP", true, UDP, "u", "5000-5001", "", "", "", NULL, 0, NULL, NULL, -1, 2, 0}}},
    {"ffmpeg tcp", "RTP/AVP/TCP;unicast;interleaved=0-1", 1,
     {{"RTP/AVP/TCP", true, TCP, "u", "", "", "0-1", "", NULL, 0, NULL, NULL, -1, 2, 0}}},
    {"gstreamer alternatives",
     "RTP/AVP;unicast;client_port=50000-50001;mode=PLAY,RTP/AVP/TCP;unicast;interleaved=0-1;mode=PLAY", 2,
     {{"RTP/AVP", true, UDP, "u", "50000-50001", "", "", "", NULL, PLAY, NULL, NULL, -1, 3, 0},
      {"RTP/AVP/TCP", true, TCP, "u", "", "", "0-1", "", NULL, PLAY, NULL, NULL, -1, 3, 0}}},
    {"gstreamer 0.10 three alternatives",
     "RTP/AVP/UDP;unicast;client_port=5000-5001,RTP/AVP/UDP;multicast,RTP/AVP/TCP", 3,
     {{"RTP/AVP/UDP", true, UDP, "u", "5000-5001", "", "", "", NULL, 0, NULL, NULL, -1, 2, 0},
      {"RTP/AVP/UDP", true, UDP, "m", "", "", "", "", NULL, 0, NULL, NULL, -1, 1, 0},
      {"RTP/AVP/TCP", true, TCP, "", "", "", "", "", NULL, 0, NULL, NULL, -1, 0, 0}}},
    {"live555 / vlc udp", "RTP/AVP;unicast;client_port=55554-55555", 1,
     {{"RTP/AVP", true, UDP, "u", "55554-55555", "", "", "", NULL, 0, NULL, NULL, -1, 2, 0}}},
    {"live555 server reply",
     "RTP/AVP;unicast;destination=127.0.0.1;source=127.0.0.1;client_port=55554-55555;server_port=6970-6971", 1,
     {{"RTP/AVP", true, UDP, "u", "55554-55555", "6970-6971", "", "", NULL, 0, "127.0.0.1",
       "127.0.0.1", -1, 5, 0}}},
    {"gst-rtsp-server reply",
     "RTP/AVP;unicast;client_port=50000-50001;server_port=45678-45679;ssrc=7F3A9C01;mode=\"PLAY\"", 1,
     {{"RTP/AVP", true, UDP, "u", "50000-50001", "45678-45679", "", "", "7F3A9C01", PLAY, NULL,
       NULL, -1, 5, 0}}},
    {"hikvision reply, lower-case quoted mode",
     "RTP/AVP;unicast;client_port=5000-5001;server_port=8218-8219;ssrc=5e8c1d9a;mode=\"play\"", 1,
     {{"RTP/AVP", true, UDP, "u", "5000-5001", "8218-8219", "", "", "5E8C1D9A", PLAY, NULL, NULL,
       -1, 5, 0}}},
    {"camera tcp reply", "RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=0D3E3DC7;mode=\"PLAY\"", 1,
     {{"RTP/AVP/TCP", true, TCP, "u", "", "", "2-3", "", "0D3E3DC7", PLAY, NULL, NULL, -1, 4, 0}}},
    {"short ssrc, single server port", "RTP/AVP;unicast;client_port=6000;server_port=6970;ssrc=1a2b", 1,
     {{"RTP/AVP", true, UDP, "u", "6000", "6970", "", "", "00001A2B", 0, NULL, NULL, -1, 4, 0}}},
    {"multicast with destination, port, ttl",
     "RTP/AVP;multicast;destination=224.2.0.1;port=3456-3457;ttl=16", 1,
     {{"RTP/AVP", true, UDP, "m", "", "", "", "3456-3457", NULL, 0, "224.2.0.1", NULL, 16, 4, 0}}},
    {"quicktime, unknown params and trailing ;",
     "RTP/AVP;unicast;client_port=6970-6971;mode=play;x-dynamic-rate=1;x-retransmit=our-retransmit;", 1,
     {{"RTP/AVP", true, UDP, "u", "6970-6971", "", "", "", NULL, PLAY, NULL, NULL, -1, 5, 2}}},
    {"srtp is unsupported, tcp is chosen",
     "RTP/SAVP;unicast;client_port=5000-5001, RTP/AVP/TCP;unicast;interleaved=0-1", 2,
     {{"RTP/SAVP", false, UDP, "u", "5000-5001", "", "", "", NULL, 0, NULL, NULL, -1, 2, 0},
      {"RTP/AVP/TCP", true, TCP, "u", "", "", "0-1", "", NULL, 0, NULL, NULL, -1, 2, 0}}},
    {"realmedia and single-token ids are unsupported",
     "x-real-rdt/udp;client_port=6970, x-pn-tng/tcp;mode=play, rtpfoo", 3,
     {{"x-real-rdt/udp", false, UDP, "", "6970", "", "", "", NULL, 0, NULL, NULL, -1, 1, 0},
      {"x-pn-tng/tcp", false, UDP, "", "", "", "", "", NULL, PLAY, NULL, NULL, -1, 1, 0},
      {"rtpfoo", false, UDP, "", "", "", "", "", NULL, 0, NULL, NULL, -1, 0, 0}}},
    {"four-part id is unsupported, lower case rtp/avp/tcp is ours",
     "RTP/AVP/TCP/X;unicast,rtp/avp/tcp;UNICAST;Interleaved=4-5", 2,
     {{"RTP/AVP/TCP/X", false, UDP, "u", "", "", "", "", NULL, 0, NULL, NULL, -1, 1, 0},
      {"rtp/avp/tcp", true, TCP, "u", "", "", "4-5", "", NULL, 0, NULL, NULL, -1, 2, 0}}},
    {"unknown lower transport", "RTP/AVP/SCTP;unicast", 1,
     {{"RTP/AVP/SCTP", false, UDP, "u", "", "", "", "", NULL, 0, NULL, NULL, -1, 1, 0}}},
    {"record and a quoted mode list", "RTP/AVP;unicast;client_port=5000-5001;mode=\"PLAY, RECORD\"", 1,
     {{"RTP/AVP", true, UDP, "u", "5000-5001", "", "", "", NULL, PLAY | RECORD, NULL, NULL, -1, 3, 0}}},
    {"unknown mode", "RTP/AVP;unicast;client_port=5000-5001;mode=receive", 1,
     {{"RTP/AVP", true, UDP, "u", "5000-5001", "", "", "", NULL, OTHER, NULL, NULL, -1, 3, 0}}},
    {"hostile destination is parsed, not judged",
     "RTP/AVP;unicast;destination=203.0.113.9;client_port=5000-5001", 1,
     {{"RTP/AVP", true, UDP, "u", "5000-5001", "", "", "", NULL, 0, "203.0.113.9", NULL, -1, 3, 0}}},
    {"bare and quoted destinations",
     "RTP/AVP;unicast;destination;client_port=5000-5001,RTP/AVP;unicast;destination=\"[::1]\";client_port=5000-5001", 2,
     {{"RTP/AVP", true, UDP, "u", "5000-5001", "", "", "", NULL, 0, "", NULL, -1, 3, 0},
      {"RTP/AVP", true, UDP, "u", "5000-5001", "", "", "", NULL, 0, "[::1]", NULL, -1, 3, 0}}},
    {"white space around separators",
     "  RTP/AVP ; unicast ; client_port = 5000-5001 ,\tRTP/AVP/TCP;interleaved=0-1 ", 2,
     {{"RTP/AVP", true, UDP, "u", "5000-5001", "", "", "", NULL, 0, NULL, NULL, -1, 2, 0},
      {"RTP/AVP/TCP", true, TCP, "", "", "", "0-1", "", NULL, 0, NULL, NULL, -1, 1, 0}}},
    {"quoted unknown value with separators inside",
     "RTP/AVP;unicast;x-note=\"a;b,c=d\";client_port=5000-5001", 1,
     {{"RTP/AVP", true, UDP, "u", "5000-5001", "", "", "", NULL, 0, NULL, NULL, -1, 3, 1}}},
    {"append flag, hostile ports still parse",
     "RTP/AVP;unicast;append;client_port=0-1;server_port=65535", 1,
     {{"RTP/AVP", true, UDP, "ua", "0-1", "65535", "", "", NULL, 0, NULL, NULL, -1, 4, 0}}},
    {"channel 255 parses (policy refuses it)", "RTP/AVP/TCP;unicast;interleaved=255", 1,
     {{"RTP/AVP/TCP", true, TCP, "u", "", "", "255", "", NULL, 0, NULL, NULL, -1, 2, 0}}},
};
/* clang-format on */

static void
check_spec(const char *name, unsigned i, const struct rtsp_transport_spec *s,
           const struct spec_exp *e)
{
    char got[32];
    print_message("  %s, spec %u\n", name, i);
    assert_true(view_is(s->protocol, e->protocol));
    assert_int_equal(s->supported, e->supported);
    if (e->supported)
        assert_int_equal(s->lower, e->lower);
    assert_int_equal(s->unicast, strchr(e->flags, 'u') != NULL);
    assert_int_equal(s->multicast, strchr(e->flags, 'm') != NULL);
    assert_int_equal(s->append, strchr(e->flags, 'a') != NULL);
    assert_string_equal(range_str(&s->client_port, got, sizeof(got)), e->client);
    assert_string_equal(range_str(&s->server_port, got, sizeof(got)), e->server);
    assert_string_equal(range_str(&s->interleaved, got, sizeof(got)), e->interleaved);
    assert_string_equal(range_str(&s->port, got, sizeof(got)), e->port);
    assert_int_equal(s->has_ssrc, e->ssrc != NULL);
    if (e->ssrc != NULL) {
        snprintf(got, sizeof(got), "%08X", (unsigned)s->ssrc);
        assert_string_equal(got, e->ssrc);
    }
    assert_int_equal(s->mode, e->mode);
    assert_int_equal(s->has_destination, e->destination != NULL);
    if (e->destination != NULL)
        assert_true(view_is(s->destination, e->destination));
    assert_int_equal(s->has_source, e->source != NULL);
    if (e->source != NULL)
        assert_true(view_is(s->source, e->source));
    assert_int_equal(s->has_ttl, e->ttl >= 0);
    if (e->ttl >= 0)
        assert_int_equal(s->ttl, e->ttl);
    assert_int_equal(s->n_params, e->n_params);
    assert_int_equal(s->n_unknown, e->n_unknown);
}

static void
test_good_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const struct good_vec *v = &good[i];
        struct rtsp_transport t;
        print_message("good: %s\n", v->name);
        /* Under a guard page first (over-reads fault), then in place to inspect the views. */
        assert_int_equal(parse_guarded(v->in, strlen(v->in), &t), RD_OK);
        assert_int_equal(parse_plain(v->in, &t), RD_OK);
        assert_int_equal(t.n_specs, v->n_specs);
        for (unsigned k = 0; k < t.n_specs; k++) {
            const struct rtsp_transport_spec *s = &t.specs[k];
            /* raw is the trimmed alternative and lies inside the input */
            assert_true(s->raw.p >= v->in && s->raw.p + s->raw.len <= v->in + strlen(v->in));
            check_spec(v->name, k, s, &v->s[k]);
        }
    }
}

struct bad_vec {
    const char *name;
    const char *in;
    int rc;
};

/* clang-format off */
static const struct bad_vec bad[] = {
    {"empty", "", RD_EPROTO},
    {"only white space", "  \t ", RD_EPROTO},
    {"empty protocol", ";unicast;client_port=5000-5001", RD_EPROTO},
    {"empty profile", "RTP/;unicast", RD_EPROTO},
    {"empty lower", "RTP/AVP/;unicast", RD_EPROTO},
    {"double slash", "RTP//AVP", RD_EPROTO},
    {"quoted protocol", "\"RTP/AVP\";unicast", RD_EPROTO},
    {"param as protocol", "client_port=5000-5001", RD_EPROTO},
    {"empty alternative", "RTP/AVP;unicast,,RTP/AVP/TCP", RD_EPROTO},
    {"trailing comma", "RTP/AVP;unicast,", RD_EPROTO},
    {"leading comma", ",RTP/AVP;unicast", RD_EPROTO},
    {"empty parameter", "RTP/AVP;;unicast", RD_EPROTO},
    {"two trailing semicolons", "RTP/AVP;unicast;;", RD_EPROTO},
    {"duplicate client_port", "RTP/AVP;unicast;client_port=5000-5001;client_port=6000-6001", RD_EPROTO},
    {"duplicate, other case", "RTP/AVP;unicast;client_port=5000-5001;CLIENT_PORT=5000-5001", RD_EPROTO},
    {"duplicate flag", "RTP/AVP;unicast;unicast", RD_EPROTO},
    {"duplicate unknown", "RTP/AVP;unicast;x-foo=1;x-foo=2", RD_EPROTO},
    {"duplicate destination", "RTP/AVP;destination=10.0.0.1;destination=10.0.0.2", RD_EPROTO},
    {"unicast and multicast", "RTP/AVP;unicast;multicast", RD_EPROTO},
    {"flag with value", "RTP/AVP;unicast=yes", RD_EPROTO},
    {"flag with empty value", "RTP/AVP;unicast=", RD_EPROTO},
    {"port 65536", "RTP/AVP;unicast;client_port=65536-65537", RD_EPROTO},
    {"port with 6 digits", "RTP/AVP;unicast;client_port=005000", RD_EPROTO},
    {"negative port", "RTP/AVP;unicast;client_port=-5000", RD_EPROTO},
    {"signed port", "RTP/AVP;unicast;client_port=+5000", RD_EPROTO},
    {"reversed range", "RTP/AVP;unicast;client_port=5001-5000", RD_EPROTO},
    {"open range", "RTP/AVP;unicast;client_port=5000-", RD_EPROTO},
    {"triple range", "RTP/AVP;unicast;client_port=5000-5001-5002", RD_EPROTO},
    {"port missing value", "RTP/AVP;unicast;client_port", RD_EPROTO},
    {"port empty value", "RTP/AVP;unicast;client_port=", RD_EPROTO},
    {"port hex", "RTP/AVP;unicast;client_port=0x1388", RD_EPROTO},
    {"port quoted", "RTP/AVP;unicast;client_port=\"5000-5001\"", RD_EPROTO},
    {"space inside value", "RTP/AVP;unicast;client_port=5000 -5001", RD_EPROTO},
    {"channel 256", "RTP/AVP/TCP;unicast;interleaved=256", RD_EPROTO},
    {"channel pair past 255", "RTP/AVP/TCP;unicast;interleaved=255-256", RD_EPROTO},
    {"ttl 256", "RTP/AVP;multicast;ttl=256", RD_EPROTO},
    {"ssrc 9 digits", "RTP/AVP;unicast;ssrc=123456789", RD_EPROTO},
    {"ssrc not hex", "RTP/AVP;unicast;ssrc=12345G78", RD_EPROTO},
    {"ssrc empty", "RTP/AVP;unicast;ssrc=", RD_EPROTO},
    {"ssrc prefixed", "RTP/AVP;unicast;ssrc=0x1234", RD_EPROTO},
    {"mode empty", "RTP/AVP;unicast;mode=", RD_EPROTO},
    {"mode empty quotes", "RTP/AVP;unicast;mode=\"\"", RD_EPROTO},
    {"mode empty list item", "RTP/AVP;unicast;mode=\"PLAY,\"", RD_EPROTO},
    {"mode half quoted", "RTP/AVP;unicast;mode=\"PLAY", RD_EPROTO},
    {"mode bad token", "RTP/AVP;unicast;mode=PL@Y", RD_EPROTO},
    {"source empty", "RTP/AVP;unicast;source=", RD_EPROTO},
    {"destination stray quote", "RTP/AVP;unicast;destination=10.0.0.1\"x\"", RD_EPROTO},
    {"unterminated quote", "RTP/AVP;unicast;x=\"abc", RD_EPROTO},
    {"backslash in quotes", "RTP/AVP;unicast;x=\"a\\\"b\"", RD_EPROTO},
    {"bad param name", "RTP/AVP;unicast;cli@nt_port=5000", RD_EPROTO},
    {"empty param name", "RTP/AVP;unicast;=5000", RD_EPROTO},
    {"CR LF injection", "RTP/AVP;unicast\r\nX-Evil: 1", RD_EPROTO},
    {"NUL byte", "RTP/AVP;unicast\0;client_port=5000-5001", RD_EPROTO},
    {"non-ASCII", "RTP/AVP;unicast;x=\xc3\xa9", RD_EPROTO},
    {"DEL", "RTP/AVP;unicast;x=\x7f", RD_EPROTO},
    {"garbage", "\x01\x02garbage", RD_EPROTO},
    {"error after a good alternative", "RTP/AVP/TCP;unicast;interleaved=0-1,RTP/AVP;client_port=x", RD_EPROTO},
};
/* clang-format on */

static void
test_bad_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rtsp_transport t;
        /* "NUL byte" has an embedded NUL: take its length from the literal's contents. */
        size_t len = strlen(bad[i].in);
        if (strcmp(bad[i].name, "NUL byte") == 0)
            len = sizeof("RTP/AVP;unicast\0;client_port=5000-5001") - 1;
        print_message("bad: %s\n", bad[i].name);
        assert_int_equal(parse_guarded(bad[i].in, len, &t), bad[i].rc);
    }
}

/* Builds "RTP/AVP;unicast" followed by params ";x-<i>=<v>" so that the header is exactly len
 * bytes (len >= 40). */
static void
build_header(char *buf, size_t len)
{
    memset(buf, 'a', len);
    memcpy(buf, "RTP/AVP;unicast;x-pad=", 22);
    buf[len] = '\0';
}

static void
test_limit_length(void **state)
{
    (void)state;
    char buf[RD_TRANSPORT_MAX_LEN + 2];
    struct rtsp_transport t;
    build_header(buf, RD_TRANSPORT_MAX_LEN);
    assert_int_equal(parse_guarded(buf, RD_TRANSPORT_MAX_LEN, &t), RD_OK);
    assert_int_equal(t.specs[0].n_unknown, 1);
    build_header(buf, RD_TRANSPORT_MAX_LEN + 1);
    assert_int_equal(parse_guarded(buf, RD_TRANSPORT_MAX_LEN + 1, &t), RD_ELIMIT);
    /* The cap is checked before anything else: garbage over the cap is still a limit. */
    memset(buf, 0x01, RD_TRANSPORT_MAX_LEN + 1);
    assert_int_equal(parse_guarded(buf, RD_TRANSPORT_MAX_LEN + 1, &t), RD_ELIMIT);
}

static void
test_limit_specs(void **state)
{
    (void)state;
    char buf[512] = "";
    struct rtsp_transport t;
    for (unsigned i = 0; i < RD_TRANSPORT_MAX_SPECS; i++)
        append(buf, sizeof(buf),
               i == 0 ? "RTP/AVP/TCP;unicast;interleaved=0-1"
                      : ",RTP/AVP/TCP;unicast;interleaved=0-1");
    assert_int_equal(parse_guarded(buf, strlen(buf), &t), RD_OK);
    assert_int_equal(t.n_specs, RD_TRANSPORT_MAX_SPECS);
    append(buf, sizeof(buf), ",RTP/AVP/TCP;unicast;interleaved=0-1");
    assert_int_equal(parse_guarded(buf, strlen(buf), &t), RD_ELIMIT);
}

static void
test_limit_params(void **state)
{
    (void)state;
    char buf[512] = "RTP/AVP;unicast";
    struct rtsp_transport t;
    for (unsigned i = 1; i < RD_TRANSPORT_MAX_PARAMS; i++) {
        char p[16];
        snprintf(p, sizeof(p), ";x-%u=%u", i, i);
        append(buf, sizeof(buf), p);
    }
    assert_int_equal(parse_guarded(buf, strlen(buf), &t), RD_OK);
    assert_int_equal(t.specs[0].n_params, RD_TRANSPORT_MAX_PARAMS);
    assert_int_equal(t.specs[0].n_unknown, RD_TRANSPORT_MAX_PARAMS - 1);
    /* A trailing ';' is not a parameter. */
    append(buf, sizeof(buf), ";");
    assert_int_equal(parse_guarded(buf, strlen(buf), &t), RD_OK);
    append(buf, sizeof(buf), "client_port=5000-5001");
    assert_int_equal(parse_guarded(buf, strlen(buf), &t), RD_ELIMIT);
}

struct range_vec {
    bool present, has_hi;
    unsigned lo, hi;
    int rc;
    unsigned rtp, rtcp;
};

static void
test_client_port_policy(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct range_vec v[] = {
        {true, true, 5000, 5001, RD_OK, 5000, 5001},
        {true, false, 5000, 5000, RD_OK, 5000, 5001},   /* single port: RTCP implied */
        {true, true, 1024, 1025, RD_OK, 1024, 1025},
        {true, true, 65534, 65535, RD_OK, 65534, 65535},
        {false, false, 0, 0, RD_EPROTO, 0, 0},          /* UDP without client_port */
        {true, true, 0, 1, RD_EPROTO, 0, 0},            /* live555#66 */
        {true, false, 0, 0, RD_EPROTO, 0, 0},
        {true, true, 1022, 1023, RD_EPROTO, 0, 0},
        {true, false, 1023, 1023, RD_EPROTO, 0, 0},
        {true, true, 5001, 5002, RD_EPROTO, 0, 0},      /* odd RTP */
        {true, true, 5000, 5002, RD_EPROTO, 0, 0},      /* RTCP != RTP + 1 */
        {true, true, 5000, 5000, RD_EPROTO, 0, 0},
        {true, false, 65535, 65535, RD_EPROTO, 0, 0},   /* odd, and no room for RTCP */
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct rtsp_transport_range r = {v[i].present, v[i].has_hi, (uint16_t)v[i].lo,
                                         (uint16_t)v[i].hi};
        uint16_t rtp = 0, rtcp = 0;
        print_message("client ports %u-%u\n", v[i].lo, v[i].hi);
        assert_int_equal(rtsp_transport_check_client_ports(&r, &rtp, &rtcp), v[i].rc);
        if (v[i].rc == RD_OK) {
            assert_int_equal(rtp, v[i].rtp);
            assert_int_equal(rtcp, v[i].rtcp);
        }
    }
}

static void
test_interleaved_policy(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct range_vec v[] = {
        {true, true, 0, 1, RD_OK, 0, 1},
        {true, false, 2, 2, RD_OK, 2, 3},
        {true, true, 254, 255, RD_OK, 254, 255},
        {true, false, 254, 254, RD_OK, 254, 255},
        {false, false, 0, 0, RD_EPROTO, 0, 0},
        {true, false, 255, 255, RD_EPROTO, 0, 0},   /* no channel left for RTCP */
        {true, true, 1, 2, RD_EPROTO, 0, 0},
        {true, true, 0, 2, RD_EPROTO, 0, 0},
        {true, true, 0, 0, RD_EPROTO, 0, 0},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct rtsp_transport_range r = {v[i].present, v[i].has_hi, (uint16_t)v[i].lo,
                                         (uint16_t)v[i].hi};
        uint8_t rtp = 0, rtcp = 0;
        print_message("channels %u-%u\n", v[i].lo, v[i].hi);
        assert_int_equal(rtsp_transport_check_interleaved(&r, &rtp, &rtcp), v[i].rc);
        if (v[i].rc == RD_OK) {
            assert_int_equal(rtp, v[i].rtp);
            assert_int_equal(rtcp, v[i].rtcp);
        }
    }
    /* NULL outputs are allowed. */
    struct rtsp_transport_range r = {true, true, 4, 5};
    assert_int_equal(rtsp_transport_check_interleaved(&r, NULL, NULL), RD_OK);
    assert_int_equal(rtsp_transport_check_client_ports(&r, NULL, NULL), RD_EPROTO);
}

struct viewer_vec {
    const char *in;
    int rc[3]; /* per alternative */
};

static void
test_viewer_policy(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct viewer_vec v[] = {
        {"RTP/AVP/UDP;unicast;client_port=5000-5001", {RD_OK}},
        {"RTP/AVP;client_port=5000", {RD_OK}},                       /* unicast by default */
        {"RTP/AVP/TCP;unicast;interleaved=0-1", {RD_OK}},
        {"RTP/AVP/TCP", {RD_OK}},                                    /* server picks channels */
        {"RTP/AVP;unicast;client_port=5000-5001;mode=\"PLAY\"", {RD_OK}},
        {"RTP/AVP;unicast;client_port=5000-5001;mode=RECORD", {RD_EPROTO}},
        {"RTP/AVP;unicast;client_port=5000-5001;mode=\"PLAY,RECORD\"", {RD_EPROTO}},
        {"RTP/AVP;unicast;client_port=5000-5001;mode=receive", {RD_EPROTO}},
        {"RTP/AVP;multicast;client_port=5000-5001", {RD_EPROTO}},
        {"RTP/AVP;unicast", {RD_EPROTO}},                            /* no client_port */
        {"RTP/AVP;unicast;client_port=0-1", {RD_EPROTO}},
        {"RTP/AVP;unicast;client_port=1023", {RD_EPROTO}},
        {"RTP/AVP;unicast;client_port=5001-5002", {RD_EPROTO}},
        {"RTP/AVP/TCP;unicast;interleaved=255", {RD_EPROTO}},
        {"RTP/AVP/TCP;unicast;interleaved=1-2", {RD_EPROTO}},
        {"RTP/SAVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast;interleaved=0-1",
         {RD_EPROTO, RD_OK}},
        {"RTP/AVP;multicast,RTP/AVP;unicast;client_port=4000-4001,RTP/AVP/TCP;interleaved=2-3",
         {RD_EPROTO, RD_OK, RD_OK}},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct rtsp_transport t;
        print_message("viewer: %s\n", v[i].in);
        assert_int_equal(parse_plain(v[i].in, &t), RD_OK);
        for (unsigned k = 0; k < t.n_specs; k++) {
            struct rtsp_transport_choice c;
            assert_int_equal(rtsp_transport_check_viewer(&t.specs[k], &c), v[i].rc[k]);
            if (v[i].rc[k] != RD_OK)
                continue;
            assert_int_equal(c.lower, t.specs[k].lower);
            if (c.lower == RTSP_TRANSPORT_UDP) {
                assert_int_equal(c.client_rtp, t.specs[k].client_port.lo);
                assert_int_equal(c.client_rtcp, c.client_rtp + 1);
            } else {
                assert_int_equal(c.has_channels, t.specs[k].interleaved.present);
                if (c.has_channels)
                    assert_int_equal(c.channel_rtcp, c.channel_rtp + 1);
            }
        }
    }
}

static void
test_destination(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct {
        const char *in;
        const char *peer;
        bool ok;
    } v[] = {
        {"RTP/AVP;unicast;client_port=5000-5001", "192.0.2.1", true},
        {"RTP/AVP;unicast;destination;client_port=5000-5001", "192.0.2.1", true},
        {"RTP/AVP;unicast;destination=;client_port=5000-5001", "192.0.2.1", true},
        {"RTP/AVP;unicast;destination=192.0.2.1;client_port=5000-5001", "192.0.2.1", true},
        {"RTP/AVP;unicast;destination=\"192.0.2.1\";client_port=5000-5001", "192.0.2.1", true},
        {"RTP/AVP;unicast;destination=203.0.113.9;client_port=5000-5001", "192.0.2.1", false},
        {"RTP/AVP;unicast;destination=192.0.2.10;client_port=5000-5001", "192.0.2.1", false},
        {"RTP/AVP;unicast;destination=192.0.2.1;client_port=5000-5001", "192.0.2.10", false},
        {"RTP/AVP;unicast;destination=192.000.002.001;client_port=5000-5001", "192.0.2.1", false},
        {"RTP/AVP;unicast;destination=localhost;client_port=5000-5001", "127.0.0.1", false},
        {"RTP/AVP;unicast;destination=[2001:DB8::1];client_port=5000-5001", "2001:db8::1", true},
        {"RTP/AVP;unicast;destination=2001:db8::1;client_port=5000-5001", "[2001:db8::1]", true},
        {"RTP/AVP;unicast;destination=[];client_port=5000-5001", "", false},
        {"RTP/AVP;unicast;destination=224.0.0.1;client_port=5000-5001", "", false},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct rtsp_transport t;
        print_message("destination: %s peer %s\n", v[i].in, v[i].peer);
        assert_int_equal(parse_plain(v[i].in, &t), RD_OK);
        assert_int_equal(rtsp_transport_destination_is_peer(&t.specs[0], rd_str_cstr(v[i].peer)),
                         v[i].ok);
    }
}

/* Formats c, checks the exact text, every smaller cap, and that it parses back. */
static void
check_format(const struct rtsp_transport_choice *c, const char *expect)
{
    char out[128];
    size_t n = strlen(expect);
    print_message("format: %s\n", expect);
    assert_int_equal(rtsp_transport_format(c, out, sizeof(out)), (int)n);
    assert_string_equal(out, expect);
    assert_int_equal(rtsp_transport_format(c, out, n + 1), (int)n);
    for (size_t cap = 0; cap <= n; cap++) {
        memset(out, 'z', sizeof(out));
        assert_int_equal(rtsp_transport_format(c, out, cap), RD_ELIMIT);
        if (cap > 0)
            assert_int_equal(out[0], '\0'); /* never a truncated header */
        for (size_t k = cap; k < sizeof(out); k++)
            assert_int_equal(out[k], 'z'); /* nothing written past cap */
    }
    struct rtsp_transport t;
    assert_int_equal(parse_guarded(expect, n, &t), RD_OK);
    assert_int_equal(parse_plain(expect, &t), RD_OK);
    assert_int_equal(t.n_specs, 1);
    const struct rtsp_transport_spec *s = &t.specs[0];
    assert_true(s->supported && s->unicast);
    assert_int_equal(s->lower, c->lower);
    if (c->lower == RTSP_TRANSPORT_UDP) {
        assert_int_equal(s->client_port.lo, c->client_rtp);
        assert_int_equal(s->client_port.hi, c->client_rtcp);
        assert_int_equal(s->server_port.present, c->has_server_port);
        if (c->has_server_port) {
            assert_int_equal(s->server_port.lo, c->server_rtp);
            assert_int_equal(s->server_port.hi, c->server_rtcp);
        }
    } else {
        assert_int_equal(s->interleaved.lo, c->channel_rtp);
        assert_int_equal(s->interleaved.hi, c->channel_rtcp);
    }
    assert_int_equal(s->has_ssrc, c->has_ssrc);
    if (c->has_ssrc)
        assert_int_equal(s->ssrc, c->ssrc);
}

static void
test_format(void **state)
{
    (void)state;
    struct rtsp_transport_choice c = {0};
    /* The relay's SETUP request to a camera over UDP. */
    c.lower = RTSP_TRANSPORT_UDP;
    c.client_rtp = 40000;
    c.client_rtcp = 40001;
    check_format(&c, "RTP/AVP;unicast;client_port=40000-40001");
    /* The SETUP reply to a UDP viewer. */
    c.client_rtp = 5000;
    c.client_rtcp = 5001;
    c.has_server_port = true;
    c.server_rtp = 6970;
    c.server_rtcp = 6971;
    c.has_ssrc = true;
    c.ssrc = 0x0a1b2c3d;
    check_format(&c, "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=0A1B2C3D");
    c.ssrc = 0;
    c.client_rtp = 65534;
    c.client_rtcp = 65535;
    check_format(&c, "RTP/AVP;unicast;client_port=65534-65535;server_port=6970-6971;ssrc=00000000");
    /* TCP: the relay's request to a camera and the reply to a viewer. */
    memset(&c, 0, sizeof(c));
    c.lower = RTSP_TRANSPORT_TCP;
    c.has_channels = true;
    c.channel_rtp = 0;
    c.channel_rtcp = 1;
    check_format(&c, "RTP/AVP/TCP;unicast;interleaved=0-1");
    c.channel_rtp = 254;
    c.channel_rtcp = 255;
    c.has_ssrc = true;
    c.ssrc = 0xffffffffu;
    check_format(&c, "RTP/AVP/TCP;unicast;interleaved=254-255;ssrc=FFFFFFFF");
}

static void
test_format_refuses_nonsense(void **state)
{
    (void)state;
    char out[128];
    struct rtsp_transport_choice c = {0};
    c.lower = RTSP_TRANSPORT_TCP; /* no channels */
    assert_int_equal(rtsp_transport_format(&c, out, sizeof(out)), RD_EPROTO);
    c.has_channels = true;
    c.channel_rtp = 3;
    c.channel_rtcp = 2;
    assert_int_equal(rtsp_transport_format(&c, out, sizeof(out)), RD_EPROTO);
    memset(&c, 0, sizeof(c));
    c.lower = RTSP_TRANSPORT_UDP;
    c.client_rtp = 5001;
    c.client_rtcp = 5000;
    assert_int_equal(rtsp_transport_format(&c, out, sizeof(out)), RD_EPROTO);
    c.client_rtcp = 5002;
    c.has_server_port = true;
    c.server_rtp = 7000;
    c.server_rtcp = 6999;
    assert_int_equal(rtsp_transport_format(&c, out, sizeof(out)), RD_EPROTO);
    assert_int_equal(rtsp_transport_format(&c, NULL, 0), RD_EPROTO);
}

/* A viewer's alternatives -> policy -> SETUP reply, end to end. */
static void
test_choose_and_answer(void **state)
{
    (void)state;
    const char *in = "RTP/AVP;unicast;destination=203.0.113.9;client_port=50000-50001,"
                     "RTP/AVP;unicast;client_port=50002-50003;mode=PLAY,"
                     "RTP/AVP/TCP;unicast;interleaved=0-1";
    struct rtsp_transport t;
    assert_int_equal(parse_plain(in, &t), RD_OK);
    unsigned chosen = t.n_specs;
    struct rtsp_transport_choice c;
    for (unsigned k = 0; k < t.n_specs; k++) {
        if (!rtsp_transport_destination_is_peer(&t.specs[k], RD_STR_LIT("192.0.2.1")))
            continue;
        if (rtsp_transport_check_viewer(&t.specs[k], &c) == RD_OK) {
            chosen = k;
            break;
        }
    }
    assert_int_equal(chosen, 1);
    c.has_server_port = true;
    c.server_rtp = 30000;
    c.server_rtcp = 30001;
    c.has_ssrc = true;
    c.ssrc = 0xdeadbeef;
    char out[RD_TRANSPORT_MAX_LEN];
    const char *expect = "RTP/AVP;unicast;client_port=50002-50003;server_port=30000-30001;"
                         "ssrc=DEADBEEF";
    assert_int_equal(rtsp_transport_format(&c, out, sizeof(out)), (int)strlen(expect));
    assert_string_equal(out, expect);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_good_vectors),
    cmocka_unit_test(test_bad_vectors),
    cmocka_unit_test(test_limit_length),
    cmocka_unit_test(test_limit_specs),
    cmocka_unit_test(test_limit_params),
    cmocka_unit_test(test_client_port_policy),
    cmocka_unit_test(test_interleaved_policy),
    cmocka_unit_test(test_viewer_policy),
    cmocka_unit_test(test_destination),
    cmocka_unit_test(test_format),
    cmocka_unit_test(test_format_refuses_nonsense),
    cmocka_unit_test(test_choose_and_answer),
};

RD_TEST_MAIN(tests)
