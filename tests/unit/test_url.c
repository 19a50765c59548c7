/* SPDX-License-Identifier: MIT */
/* url.c: URL split table (RFC 3986 / RFC 2326 §3.2), percent-decoding rejects, path
 * segments, camera ids, broker and relay request paths, the Location builder. Parsers run
 * on guard_buf copies so any read past the given length faults. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS (guard_buf.h) and inet_pton under -std=c11 */
#include "rd_test.h"

#include <arpa/inet.h>

#include "guard_buf.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "url.h"

/* ---- url_split ------------------------------------------------------------------------- */

struct split_case {
    const char *url;
    int rc;
    enum url_scheme scheme;
    const char *userinfo; /* NULL: none */
    const char *host;
    enum url_host_kind kind;
    const char *zone; /* "" when none */
    unsigned port;
    bool port_given;
    const char *path;
    const char *query; /* NULL: no '?' */
};

#define OK_CASE(u, sch, ui, h, k, z, p, pg, pa, q)                                                 \
    {                                                                                              \
        u, RD_OK, URL_SCHEME_##sch, ui, h, URL_HOST_##k, z, p, pg, pa, q                           \
    }
#define BAD(u)                                                                                     \
    {                                                                                              \
        u, RD_EPROTO, URL_SCHEME_RTSP, NULL, NULL, URL_HOST_NAME, "", 0, false, NULL, NULL         \
    }

static const struct split_case split_cases[] = {
    OK_CASE("rtsp://broker/lobby", RTSP, NULL, "broker", NAME, "", 554, false, "/lobby", NULL),
    OK_CASE("rtsps://broker/lobby", RTSPS, NULL, "broker", NAME, "", 322, false, "/lobby", NULL),
    OK_CASE("RTSP://Broker.Example.COM:8554/lobby/", RTSP, NULL, "Broker.Example.COM", NAME, "",
            8554, true, "/lobby/", NULL),
    OK_CASE("RtSpS://h:8322", RTSPS, NULL, "h", NAME, "", 8322, true, "/", NULL),
    OK_CASE("rtsp://10.0.0.1", RTSP, NULL, "10.0.0.1", IPV4, "", 554, false, "/", NULL),
    OK_CASE("rtsp://10.0.0.1:1/", RTSP, NULL, "10.0.0.1", IPV4, "", 1, true, "/", NULL),
    OK_CASE("rtsp://0.0.0.0:65535/x", RTSP, NULL, "0.0.0.0", IPV4, "", 65535, true, "/x", NULL),
    OK_CASE("rtsp://[::1]/lobby", RTSP, NULL, "::1", IPV6, "", 554, false, "/lobby", NULL),
    OK_CASE("rtsp://[::1]:8554/lobby", RTSP, NULL, "::1", IPV6, "", 8554, true, "/lobby", NULL),
    OK_CASE("rtsps://[2001:db8::a:b]:322", RTSPS, NULL, "2001:db8::a:b", IPV6, "", 322, true, "/",
            NULL),
    OK_CASE("rtsp://[fe80::1%25eth0]:554/cam", RTSP, NULL, "fe80::1%25eth0", IPV6, "eth0", 554,
            true, "/cam", NULL),
    OK_CASE("rtsp://[fe80::1%25en%30]/", RTSP, NULL, "fe80::1%25en%30", IPV6, "en%30", 554, false,
            "/", NULL),
    OK_CASE("rtsp://[::ffff:192.0.2.1]/", RTSP, NULL, "::ffff:192.0.2.1", IPV6, "", 554, false, "/",
            NULL),
    OK_CASE("rtsp://[1:2:3:4:5:6:7:8]/", RTSP, NULL, "1:2:3:4:5:6:7:8", IPV6, "", 554, false, "/",
            NULL),
    OK_CASE("rtsp://[::]/", RTSP, NULL, "::", IPV6, "", 554, false, "/", NULL),
    OK_CASE("rtsp://admin:s%40cret@cam.local/stream1", RTSP, "admin:s%40cret", "cam.local", NAME,
            "", 554, false, "/stream1", NULL),
    OK_CASE("rtsp://user@[::1]:10554/", RTSP, "user", "::1", IPV6, "", 10554, true, "/", NULL),
    OK_CASE("rtsp://@h/", RTSP, "", "h", NAME, "", 554, false, "/", NULL),
    OK_CASE("rtsp://cam/Streaming/Channels/101?transportmode=unicast&profile=Profile_1", RTSP, NULL,
            "cam", NAME, "", 554, false, "/Streaming/Channels/101",
            "transportmode=unicast&profile=Profile_1"),
    OK_CASE("rtsp://cam?", RTSP, NULL, "cam", NAME, "", 554, false, "/", ""),
    OK_CASE("rtsp://cam:554?a=b/c?d", RTSP, NULL, "cam", NAME, "", 554, true, "/", "a=b/c?d"),
    OK_CASE("rtsp://my_relay-01.site-a.internal:08555/v1/", RTSP, NULL,
            "my_relay-01.site-a.internal", NAME, "", 8555, true, "/v1/", NULL),
    OK_CASE("rtsp://h/a%20b/trackID=0;x=y:z@w", RTSP, NULL, "h", NAME, "", 554, false,
            "/a%20b/trackID=0;x=y:z@w", NULL),
    OK_CASE("rtsp://1.2.3.4.example/", RTSP, NULL, "1.2.3.4.example", NAME, "", 554, false, "/",
            NULL),
    /* ports */
    BAD("rtsp://h:0/"),
    BAD("rtsp://h:65536/"),
    BAD("rtsp://h:12a/"),
    BAD("rtsp://h:/"),
    BAD("rtsp://h:-1/"),
    BAD("rtsp://h:+80/"),
    BAD("rtsp://h:100000/"),
    BAD("rtsp://h:1:2/"),
    BAD("rtsp://[::1]:/"),
    BAD("rtsp://[::1]x/"),
    /* scheme */
    BAD("http://h/"),
    BAD("rtspu://h/"),
    BAD("rtsp:/h/"),
    BAD("rtsp:h"),
    BAD("rtsp//h/"),
    BAD("/lobby"),
    BAD("lobby"),
    BAD("://h/"),
    BAD("rtsp"),
    BAD(""),
    /* characters */
    BAD("rtsp://h/a b"),
    BAD("rtsp://h/a\r\nX-Injected: 1"),
    BAD("rtsp://h/a\n"),
    BAD("rtsp://h/a\t"),
    BAD("rtsp://h/a\\..\\b"),
    BAD("rtsp://h/caf\xc3\xa9"),
    BAD("rtsp://h/\x7f"),
    BAD("rtsp://h/a#frag"),
    BAD("rtsp://h/#"),
    BAD("rtsp://h/a\"b"),
    BAD("rtsp://h/a<b>"),
    BAD("rtsp://h/{x}"),
    BAD("rtsp://h/a|b"),
    BAD("rtsp://h/a^b"),
    BAD("rtsp://h/a`b"),
    BAD("rtsp://h/a%2"),
    BAD("rtsp://h/a%zz"),
    BAD("rtsp://h/?q=%g0"),
    BAD("rtsp://h/a[1]"),
    BAD("rtsp://h/?a]"),
    BAD(" rtsp://h/"),
    /* hosts */
    BAD("rtsp:///lobby"),
    BAD("rtsp://:554/lobby"),
    BAD("rtsp://user@/x"),
    BAD("rtsp://a@b@h/"),
    BAD("rtsp://us%er@h/"),
    BAD("rtsp://h..example/"),
    BAD("rtsp://.h/"),
    BAD("rtsp://h./"),
    BAD("rtsp://-h/"),
    BAD("rtsp://h-/"),
    BAD("rtsp://h%41/"),
    BAD("rtsp://h!/"),
    BAD("rtsp://1.2.3/"),
    BAD("rtsp://1.2.3.256/"),
    BAD("rtsp://01.2.3.4/"),
    BAD("rtsp://1.2.3.4.5/"),
    BAD("rtsp://127.1/"),
    BAD("rtsp://2130706433/"),
    BAD("rtsp://0x7f.0.0.1/"),
    BAD("rtsp://a.0x7f/"),
    BAD("rtsp://[::1/"),
    BAD("rtsp://::1/"),
    BAD("rtsp://[]/"),
    BAD("rtsp://[1:2:3:4:5:6:7:8:9]/"),
    BAD("rtsp://[1:2:3:4:5:6:7]/"),
    BAD("rtsp://[1::2::3]/"),
    BAD("rtsp://[:::]/"),
    BAD("rtsp://[1:]/"),
    BAD("rtsp://[:1]/"),
    BAD("rtsp://[12345::]/"),
    BAD("rtsp://[g::1]/"),
    BAD("rtsp://[::1.2.3]/"),
    BAD("rtsp://[1:2:3:4:5:6:7:1.2.3.4]/"),
    BAD("rtsp://[v1.fe]/"),
    BAD("rtsp://[fe80::1%eth0]/"),
    BAD("rtsp://[fe80::1%25]/"),
    BAD("rtsp://[fe80::1%25eth%]/"),
    BAD("rtsp://[fe80::1%25e:h]/"),
    BAD("rtsp://[::1]]/"),
    BAD("rtsp://h[1]/"),
};

static void
test_split_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
        const struct split_case *c = &split_cases[i];
        struct guard_buf g;
        size_t len = strlen(c->url);
        const char *in = guard_buf_put(&g, c->url, len);
        struct url_parts u;
        int rc = url_split(rd_str_make(in, len), &u);
        if (rc != c->rc)
            fail_msg("case %zu '%s': rc %d, want %d", i, c->url, rc, c->rc);
        if (rc == RD_OK) {
            assert_false(u.is_star);
            assert_int_equal(u.scheme, c->scheme);
            assert_int_equal(u.has_userinfo, c->userinfo != NULL);
            if (c->userinfo != NULL)
                assert_true(rd_str_eq_cstr(u.userinfo, c->userinfo));
            if (!rd_str_eq_cstr(u.host, c->host))
                fail_msg("case %zu '%s': host '%.*s'", i, c->url, (int)u.host.len, u.host.p);
            assert_int_equal(u.host_kind, c->kind);
            assert_true(rd_str_eq_cstr(u.zone, c->zone));
            assert_int_equal(u.port, c->port);
            assert_int_equal(u.port_given, c->port_given);
            if (!rd_str_eq_cstr(u.path, c->path))
                fail_msg("case %zu '%s': path '%.*s'", i, c->url, (int)u.path.len, u.path.p);
            assert_int_equal(u.has_query, c->query != NULL);
            if (c->query != NULL)
                assert_true(rd_str_eq_cstr(u.query, c->query));
        }
        guard_buf_free(&g);
    }
}

static void
test_split_star(void **state)
{
    (void)state;
    struct guard_buf g;
    const char *in = guard_buf_put(&g, "*", 1);
    struct url_parts u;
    assert_int_equal(url_split(rd_str_make(in, 1), &u), RD_OK);
    assert_true(u.is_star);
    guard_buf_free(&g);
    assert_int_equal(url_split(rd_str_cstr("**"), &u), RD_EPROTO);
    assert_int_equal(url_split(rd_str_cstr("*/"), &u), RD_EPROTO);
}

static void
test_split_limits(void **state)
{
    (void)state;
    static char buf[RD_RTSP_MAX_URI + 64];
    struct url_parts u;
    /* Host of exactly RD_URL_MAX_HOST bytes: 62-char labels joined by dots, then a short one. */
    char host[RD_URL_MAX_HOST + 2];
    size_t h = 0;
    while (h < RD_URL_MAX_HOST) {
        size_t label = RD_URL_MAX_HOST - h > 63 ? 62 : RD_URL_MAX_HOST - h;
        memset(host + h, 'a', label);
        h += label;
        if (h < RD_URL_MAX_HOST)
            host[h++] = '.';
    }
    host[h] = '\0';
    assert_int_equal(strlen(host), RD_URL_MAX_HOST);
    int w = snprintf(buf, sizeof(buf), "rtsp://%s/x", host);
    assert_true(w > 0);
    assert_int_equal(url_split(rd_str_cstr(buf), &u), RD_OK);
    assert_int_equal(u.host.len, RD_URL_MAX_HOST);
    w = snprintf(buf, sizeof(buf), "rtsp://%sb/x", host);
    assert_true(w > 0);
    assert_int_equal(url_split(rd_str_cstr(buf), &u), RD_ELIMIT);
    /* A label of 63 is fine, 64 is not. */
    char label[80];
    memset(label, 'b', 64);
    label[63] = '\0';
    snprintf(buf, sizeof(buf), "rtsp://%s/", label);
    assert_int_equal(url_split(rd_str_cstr(buf), &u), RD_OK);
    label[63] = 'b';
    label[64] = '\0';
    snprintf(buf, sizeof(buf), "rtsp://%s/", label);
    assert_int_equal(url_split(rd_str_cstr(buf), &u), RD_EPROTO);
    /* Whole URL: exactly RD_RTSP_MAX_URI passes, one more is RD_ELIMIT. */
    memcpy(buf, "rtsp://h/", 9);
    memset(buf + 9, 'p', sizeof(buf) - 9);
    assert_int_equal(url_split(rd_str_make(buf, RD_RTSP_MAX_URI), &u), RD_OK);
    assert_int_equal(u.path.len, RD_RTSP_MAX_URI - 8);
    assert_int_equal(url_split(rd_str_make(buf, RD_RTSP_MAX_URI + 1), &u), RD_ELIMIT);
}

/* IPv6 literal checking agrees with inet_pton() on a set of tricky candidates. */
static void
test_split_ipv6_vs_inet_pton(void **state)
{
    (void)state;
    static const char *cands[] = {
        "::",
        "::1",
        "1::",
        "1::1",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "1:2:3:4:5:6::8",
        "1::2:3:4:5:6:7",
        "::ffff:1.2.3.4",
        "1:2:3:4:5:6:1.2.3.4",
        "1::1.2.3.4",
        "::1.2.3.4",
        "1:2:3:4:5:6:7:1.2.3.4",
        "1:2:3:4:5:1.2.3.4",
        ":1",
        "1:",
        ":::",
        "1:::2",
        "1::2::3",
        "12345::",
        "0000:0:0:0:0:0:0:1",
        "ABCD:ef01::",
        "::01.2.3.4",
        "::1.2.3.256",
        "::1.2.3",
        "::1.2.3.4.5",
        "1:2:3:4:5:6:7:8:9",
        "g::",
        "::1.2.3.4:1",
        "1.2.3.4::",
        "fe80::",
        "2001:db8:0:0:1:0:0:1",
        "::0.0.0.0",
    };
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
        char url[128];
        snprintf(url, sizeof(url), "rtsp://[%s]/", cands[i]);
        struct url_parts u;
        unsigned char a[16];
        bool ours = url_split(rd_str_cstr(url), &u) == RD_OK;
        bool libc = inet_pton(AF_INET6, cands[i], a) == 1;
        if (ours != libc)
            fail_msg("'%s': url_split %d, inet_pton %d", cands[i], ours, libc);
    }
}

/* ---- percent-decoding ------------------------------------------------------------------ */

struct pct_case {
    const char *in;
    int rc;          /* decoded length, or an error */
    const char *out; /* decoded bytes when rc >= 0 */
};

static const struct pct_case pct_cases[] = {
    {"", 0, ""},
    {"lobby", 5, "lobby"},
    {"a%20b", 3, "a b"},
    {"%41%42%43", 3, "ABC"},
    {"%2e%2E", 2, ".."},
    {"%2F", 1, "/"},
    {"+", 1, "+"},
    {"caf%C3%A9", 5, "caf\xc3\xa9"},
    {"%E2%82%AC", 3, "\xe2\x82\xac"},
    {"%F0%9F%98%80", 4, "\xf0\x9f\x98\x80"},
    {"%F4%8F%BF%BF", 4, "\xf4\x8f\xbf\xbf"},
    {"%C2%A0", 2, "\xc2\xa0"},
    {"%00", RD_EPROTO, NULL},
    {"a%00b", RD_EPROTO, NULL},
    {"%0d", RD_EPROTO, NULL},
    {"%0A", RD_EPROTO, NULL},
    {"%09", RD_EPROTO, NULL},
    {"%1f", RD_EPROTO, NULL},
    {"%7F", RD_EPROTO, NULL},
    {"%5c", RD_EPROTO, NULL},
    {"a\\b", RD_EPROTO, NULL},
    {"a\rb", RD_EPROTO, NULL},
    {"%", RD_EPROTO, NULL},
    {"%4", RD_EPROTO, NULL},
    {"a%", RD_EPROTO, NULL},
    {"%g1", RD_EPROTO, NULL},
    {"%1g", RD_EPROTO, NULL},
    {"% 1", RD_EPROTO, NULL},
    {"%%41", RD_EPROTO, NULL},
    {"%c0%ae", RD_EPROTO, NULL},       /* overlong '.' */
    {"%c0%ae%c0%ae", RD_EPROTO, NULL}, /* overlong ".." */
    {"%c1%bf", RD_EPROTO, NULL},
    {"%e0%80%ae", RD_EPROTO, NULL},    /* overlong, 3 bytes */
    {"%f0%80%80%ae", RD_EPROTO, NULL}, /* overlong, 4 bytes */
    {"%ed%a0%80", RD_EPROTO, NULL},    /* surrogate U+D800 */
    {"%f4%90%80%80", RD_EPROTO, NULL}, /* U+110000 */
    {"%f5%80%80%80", RD_EPROTO, NULL},
    {"%ff", RD_EPROTO, NULL},
    {"%80", RD_EPROTO, NULL},    /* stray continuation */
    {"%c3", RD_EPROTO, NULL},    /* truncated */
    {"%e2%82", RD_EPROTO, NULL}, /* truncated */
    {"%c3a", RD_EPROTO, NULL},   /* continuation missing */
    {"%c2%80", RD_EPROTO, NULL}, /* C1 control U+0080 */
    {"%c2%9f", RD_EPROTO, NULL}, /* C1 control U+009F */
    {"\xc3\xa9", 2, "\xc3\xa9"}, /* raw UTF-8 is checked the same way */
    {"\xc0\xae", RD_EPROTO, NULL},
};

static void
test_pct_decode_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pct_cases) / sizeof(pct_cases[0]); i++) {
        const struct pct_case *c = &pct_cases[i];
        size_t len = strlen(c->in);
        struct guard_buf g;
        const char *in = guard_buf_put(&g, c->in, len);
        char out[64];
        memset(out, 'X', sizeof(out));
        int rc = url_pct_decode(rd_str_make(in, len), out, sizeof(out));
        if (rc != c->rc)
            fail_msg("case %zu '%s': rc %d, want %d", i, c->in, rc, c->rc);
        if (rc >= 0) {
            assert_memory_equal(out, c->out, (size_t)rc);
            assert_int_equal(out[rc], '\0');
        } else {
            assert_int_equal(out[0], '\0');
        }
        guard_buf_free(&g);
    }
}

static void
test_pct_decode_limit(void **state)
{
    (void)state;
    char out[4];
    /* "abc" needs 4 bytes with its NUL. */
    assert_int_equal(url_pct_decode(rd_str_cstr("abc"), out, 4), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(url_pct_decode(rd_str_cstr("abcd"), out, 4), RD_ELIMIT);
    assert_int_equal(out[0], '\0');
    assert_int_equal(url_pct_decode(rd_str_cstr("%41%42%43"), out, 4), 3);
    assert_int_equal(url_pct_decode(rd_str_cstr("%41%42%43%44"), out, 4), RD_ELIMIT);
    assert_int_equal(url_pct_decode(rd_str_cstr(""), out, 1), 0);
    assert_int_equal(url_pct_decode(rd_str_cstr("a"), out, 1), RD_ELIMIT);
    assert_int_equal(url_pct_decode(rd_str_cstr(""), out, 0), RD_ELIMIT);
}

/* ---- path segments ----------------------------------------------------------------------- */

struct path_case {
    const char *path;
    int rc;
    size_t n;
    bool trailing;
    const char *segs[4];
};

static const struct path_case path_cases[] = {
    {"/", RD_OK, 0, false, {NULL}},
    {"/a", RD_OK, 1, false, {"a"}},
    {"/a/", RD_OK, 1, true, {"a"}},
    {"/a/b/c", RD_OK, 3, false, {"a", "b", "c"}},
    {"/v1/lobby/tok.en/trackID=0", RD_OK, 4, false, {"v1", "lobby", "tok.en", "trackID=0"}},
    {"/a%20b/...", RD_OK, 2, false, {"a%20b", "..."}},
    {"/.a/a./..b", RD_OK, 3, false, {".a", "a.", "..b"}},
    {"/%2e%2e%2e", RD_OK, 1, false, {"%2e%2e%2e"}},
    {"", RD_EPROTO, 0, false, {NULL}},
    {"a/b", RD_EPROTO, 0, false, {NULL}},
    {"//", RD_EPROTO, 0, false, {NULL}},
    {"//a", RD_EPROTO, 0, false, {NULL}},
    {"/a//b", RD_EPROTO, 0, false, {NULL}},
    {"/a//", RD_EPROTO, 0, false, {NULL}},
    {"/.", RD_EPROTO, 0, false, {NULL}},
    {"/..", RD_EPROTO, 0, false, {NULL}},
    {"/a/../b", RD_EPROTO, 0, false, {NULL}},
    {"/a/./b", RD_EPROTO, 0, false, {NULL}},
    {"/a/%2e%2e/b", RD_EPROTO, 0, false, {NULL}},
    {"/a/%2E%2E", RD_EPROTO, 0, false, {NULL}},
    {"/a/.%2e/", RD_EPROTO, 0, false, {NULL}},
    {"/a/%2e./", RD_EPROTO, 0, false, {NULL}},
    {"/%2e", RD_EPROTO, 0, false, {NULL}},
    {"/a%2fb", RD_EPROTO, 0, false, {NULL}},
    {"/a%2F..", RD_EPROTO, 0, false, {NULL}},
    {"/%c0%ae%c0%ae/x", RD_EPROTO, 0, false, {NULL}},
    {"/a%00", RD_EPROTO, 0, false, {NULL}},
    {"/a%0d%0a", RD_EPROTO, 0, false, {NULL}},
    {"/a%5c", RD_EPROTO, 0, false, {NULL}},
    {"/a%zz", RD_EPROTO, 0, false, {NULL}},
    {"/a?b", RD_EPROTO, 0, false, {NULL}},
    {"/a b", RD_EPROTO, 0, false, {NULL}},
    {"/a\\b", RD_EPROTO, 0, false, {NULL}},
};

static void
test_path_split_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
        const struct path_case *c = &path_cases[i];
        size_t len = strlen(c->path);
        struct guard_buf g;
        const char *in = guard_buf_put(&g, c->path, len);
        struct rd_str segs[4];
        size_t n = 99;
        bool trailing = true;
        int rc = url_path_split(rd_str_make(in, len), segs, 4, &n, &trailing);
        if (rc != c->rc)
            fail_msg("case %zu '%s': rc %d, want %d", i, c->path, rc, c->rc);
        if (rc == RD_OK) {
            assert_int_equal(n, c->n);
            assert_int_equal(trailing, c->trailing);
            for (size_t s = 0; s < n; s++)
                assert_true(rd_str_eq_cstr(segs[s], c->segs[s]));
        }
        guard_buf_free(&g);
    }
}

static void
test_path_split_caps(void **state)
{
    (void)state;
    struct rd_str segs[RD_URL_MAX_SEGMENTS + 1];
    size_t n;
    assert_int_equal(url_path_split(rd_str_cstr("/a/b/c"), segs, 2, &n, NULL), RD_ELIMIT);
    assert_int_equal(url_path_split(rd_str_cstr("/a/b/"), segs, 2, &n, NULL), RD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(url_path_split(rd_str_cstr("/a"), segs, 0, &n, NULL), RD_ELIMIT);
    assert_int_equal(url_path_split(rd_str_cstr("/"), segs, 0, &n, NULL), RD_OK);
    /* RD_URL_MAX_SEGMENTS is a hard cap even when the caller offers more room. */
    char path[2 * (RD_URL_MAX_SEGMENTS + 1) + 1];
    for (size_t i = 0; i < RD_URL_MAX_SEGMENTS; i++) {
        path[2 * i] = '/';
        path[2 * i + 1] = 'x';
    }
    struct rd_str p = rd_str_make(path, 2 * RD_URL_MAX_SEGMENTS);
    assert_int_equal(url_path_split(p, segs, RD_URL_MAX_SEGMENTS + 1, &n, NULL), RD_OK);
    assert_int_equal(n, RD_URL_MAX_SEGMENTS);
    path[2 * RD_URL_MAX_SEGMENTS] = '/';
    path[2 * RD_URL_MAX_SEGMENTS + 1] = 'y';
    p.len += 2;
    assert_int_equal(url_path_split(p, segs, RD_URL_MAX_SEGMENTS + 1, &n, NULL), RD_ELIMIT);
}

/* ---- camera ids ------------------------------------------------------------------------ */

static void
test_camera_id(void **state)
{
    (void)state;
    static const char *good[] = {"lobby", "a", "Cam_01-north", "0", "_", "-", "ABCxyz0189"};
    static const char *bad[] = {"",        "lob by", "lobby/",  "lob.by", "%6Cobby", "caf\xc3\xa9",
                                "lobby\n", "a:b",    "lobby?x", "a+b",    "..",      "~x"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(url_camera_id_valid(rd_str_cstr(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (url_camera_id_valid(rd_str_cstr(bad[i])))
            fail_msg("'%s' accepted", bad[i]);
    }
    char id[RD_CAMERA_ID_MAX + 1];
    memset(id, 'c', sizeof(id));
    assert_true(url_camera_id_valid(rd_str_make(id, RD_CAMERA_ID_MAX)));
    assert_false(url_camera_id_valid(rd_str_make(id, RD_CAMERA_ID_MAX + 1)));
    /* An embedded NUL is just another bad byte. */
    assert_false(url_camera_id_valid(rd_str_make("a\0b", 3)));
    /* Every byte value: exactly [A-Za-z0-9_-] passes. */
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        bool want = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9')
                    || b == '_' || b == '-';
        assert_int_equal(url_camera_id_valid(rd_str_make(&c, 1)), want);
    }
}

/* ---- broker request path ----------------------------------------------------------------- */

struct broker_case {
    const char *path;
    int rc;
    const char *camera;
    const char *control;
};

static const struct broker_case broker_cases[] = {
    {"/lobby", RD_OK, "lobby", ""},
    {"/lobby/", RD_OK, "lobby", ""},
    {"/lobby/trackID=0", RD_OK, "lobby", "trackID=0"},
    {"/lobby/trackID=0/", RD_OK, "lobby", "trackID=0"},
    {"/Cam_01-x/streamid=1", RD_OK, "Cam_01-x", "streamid=1"},
    {"/", RD_ENOTFOUND, NULL, NULL},
    {"/lob.by", RD_ENOTFOUND, NULL, NULL},
    {"/%6Cobby", RD_ENOTFOUND, NULL, NULL},
    {"/lobby/a/b", RD_ENOTFOUND, NULL, NULL},
    {"/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r", RD_ENOTFOUND, NULL, NULL},
    {"/0123456789012345678901234567890123456789012345678901234567890123456789", RD_ENOTFOUND, NULL,
     NULL},
    {"//lobby", RD_EPROTO, NULL, NULL},
    {"/lobby//", RD_EPROTO, NULL, NULL},
    {"/../lobby", RD_EPROTO, NULL, NULL},
    {"/lobby/..", RD_EPROTO, NULL, NULL},
    {"/lobby/%2e%2e", RD_EPROTO, NULL, NULL},
    {"/lobby%00", RD_EPROTO, NULL, NULL},
    {"lobby", RD_EPROTO, NULL, NULL},
};

static void
test_broker_camera(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(broker_cases) / sizeof(broker_cases[0]); i++) {
        const struct broker_case *c = &broker_cases[i];
        size_t len = strlen(c->path);
        struct guard_buf g;
        const char *in = guard_buf_put(&g, c->path, len);
        struct rd_str cam, ctl;
        int rc = url_broker_camera(rd_str_make(in, len), &cam, &ctl);
        if (rc != c->rc)
            fail_msg("case %zu '%s': rc %d, want %d", i, c->path, rc, c->rc);
        if (rc == RD_OK) {
            assert_true(rd_str_eq_cstr(cam, c->camera));
            assert_true(rd_str_eq_cstr(ctl, c->control));
            assert_int_equal(url_broker_camera(rd_str_make(in, len), &cam, NULL), RD_OK);
        }
        guard_buf_free(&g);
    }
    /* Straight from url_split: no path at all names no camera. */
    struct url_parts u;
    struct rd_str cam;
    assert_int_equal(url_split(rd_str_cstr("rtsp://broker:8554"), &u), RD_OK);
    assert_int_equal(url_broker_camera(u.path, &cam, NULL), RD_ENOTFOUND);
    assert_int_equal(url_split(rd_str_cstr("rtsp://broker:8554/lobby?x=1"), &u), RD_OK);
    assert_int_equal(url_broker_camera(u.path, &cam, NULL), RD_OK);
    assert_true(rd_str_eq_cstr(cam, "lobby"));
}

/* ---- relay request path ------------------------------------------------------------------ */

struct relay_case {
    const char *path;
    int rc;
    const char *camera;
    const char *token;
    const char *rest;
};

#define TOK "k1.1700000060.AAAAAAAAAAA.0.abcdefghijklmnopqrstuv"

static const struct relay_case relay_cases[] = {
    {"/v1/lobby/" TOK "/", RD_OK, "lobby", TOK, ""},
    {"/v1/lobby/" TOK, RD_OK, "lobby", TOK, ""},
    {"/v1/lobby/" TOK "/trackID=0", RD_OK, "lobby", TOK, "trackID=0"},
    {"/v1/Cam-2_b/t/trackID=12", RD_OK, "Cam-2_b", "t", "trackID=12"},
    {"/v1/lobby/" TOK "/trackID=0/", RD_EPROTO, NULL, NULL, NULL},
    {"/v1/lobby/" TOK "/trackID=0/x", RD_EPROTO, NULL, NULL, NULL},
    {"/v1/lobby/", RD_EPROTO, NULL, NULL, NULL},
    {"/v1/lobby", RD_EPROTO, NULL, NULL, NULL},
    {"/v1", RD_EPROTO, NULL, NULL, NULL},
    {"/", RD_EPROTO, NULL, NULL, NULL},
    {"/v2/lobby/" TOK "/", RD_EPROTO, NULL, NULL, NULL},
    {"/V1/lobby/" TOK "/", RD_EPROTO, NULL, NULL, NULL},
    {"/v1/lob.by/" TOK "/", RD_EPROTO, NULL, NULL, NULL},
    {"/v1/lobby/tok%2eX/", RD_EPROTO, NULL, NULL, NULL},
    {"/v1/lobby/tok~X/", RD_EPROTO, NULL, NULL, NULL},
    {"/v1/lobby/../", RD_EPROTO, NULL, NULL, NULL},
    {"/v1/lobby/%2e%2e/x", RD_EPROTO, NULL, NULL, NULL},
    {"/v1//" TOK "/", RD_EPROTO, NULL, NULL, NULL},
    {"/v1/lobby//", RD_EPROTO, NULL, NULL, NULL},
    {"//v1/lobby/" TOK "/", RD_EPROTO, NULL, NULL, NULL},
    {"v1/lobby/" TOK "/", RD_EPROTO, NULL, NULL, NULL},
    {"/v1/lobby/" TOK "/track%00", RD_EPROTO, NULL, NULL, NULL},
};

static void
test_relay_path_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(relay_cases) / sizeof(relay_cases[0]); i++) {
        const struct relay_case *c = &relay_cases[i];
        size_t len = strlen(c->path);
        struct guard_buf g;
        const char *in = guard_buf_put(&g, c->path, len);
        struct rd_str cam, tok, rest;
        int rc = url_relay_path_parse(rd_str_make(in, len), &cam, &tok, &rest);
        if (rc != c->rc)
            fail_msg("case %zu '%s': rc %d, want %d", i, c->path, rc, c->rc);
        if (rc == RD_OK) {
            assert_true(rd_str_eq_cstr(cam, c->camera));
            assert_true(rd_str_eq_cstr(tok, c->token));
            assert_true(rd_str_eq_cstr(rest, c->rest));
        }
        guard_buf_free(&g);
    }
    /* Token length cap: RD_TOKEN_MAX_LEN passes, one more fails. */
    char path[RD_TOKEN_MAX_LEN + 32];
    memcpy(path, "/v1/c/", 6);
    memset(path + 6, 't', RD_TOKEN_MAX_LEN + 1);
    path[6 + RD_TOKEN_MAX_LEN] = '/';
    struct rd_str cam, tok, rest;
    assert_int_equal(
        url_relay_path_parse(rd_str_make(path, 7 + RD_TOKEN_MAX_LEN), &cam, &tok, &rest), RD_OK);
    assert_int_equal(tok.len, RD_TOKEN_MAX_LEN);
    memset(path + 6, 't', RD_TOKEN_MAX_LEN + 1);
    path[7 + RD_TOKEN_MAX_LEN] = '/';
    assert_int_equal(
        url_relay_path_parse(rd_str_make(path, 8 + RD_TOKEN_MAX_LEN), &cam, &tok, &rest),
        RD_EPROTO);
}

/* ---- Location builder -------------------------------------------------------------------- */

struct loc_case {
    const char *base;
    enum url_scheme scheme;
    const char *camera;
    const char *token;
    int rc;
    const char *want;
};

static const struct loc_case loc_cases[] = {
    {"rtsp://relay-a:8555", URL_SCHEME_RTSP, "lobby", TOK, RD_OK,
     "rtsp://relay-a:8555/v1/lobby/" TOK "/"},
    {"rtsp://relay-a:8555/", URL_SCHEME_RTSP, "lobby", TOK, RD_OK,
     "rtsp://relay-a:8555/v1/lobby/" TOK "/"},
    {"rtsps://relay-a.example.com", URL_SCHEME_RTSPS, "lobby", "t", RD_OK,
     "rtsps://relay-a.example.com/v1/lobby/t/"},
    {"rtsp://[2001:db8::1]:8555", URL_SCHEME_RTSP, "c", "t", RD_OK,
     "rtsp://[2001:db8::1]:8555/v1/c/t/"},
    {"rtsp://192.0.2.7:8555/", URL_SCHEME_RTSP, "c", "t", RD_OK, "rtsp://192.0.2.7:8555/v1/c/t/"},
    /* scheme mismatch, both ways (never downgrade rtsps to rtsp) */
    {"rtsp://relay-a:8555", URL_SCHEME_RTSPS, "lobby", "t", RD_EPROTO, NULL},
    {"rtsps://relay-a:8323", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    /* bad bases */
    {"rtsp://relay-a:8555/?x=1", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    {"rtsp://relay-a:8555?", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    {"rtsp://u:p@relay-a:8555", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    {"rtsp://relay-a:8555/prefix", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    {"rtsp://relay-a:8555//", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    {"rtsp://relay-a:8555/#x", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    {"rtsp://relay-a:8555\r\nX: y", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    {"http://relay-a:8555", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    {"relay-a:8555", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    {"/v1", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    {"*", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    {"", URL_SCHEME_RTSP, "lobby", "t", RD_EPROTO, NULL},
    /* bad camera / token */
    {"rtsp://relay-a", URL_SCHEME_RTSP, "lob by", "t", RD_EPROTO, NULL},
    {"rtsp://relay-a", URL_SCHEME_RTSP, "lobby\r\n", "t", RD_EPROTO, NULL},
    {"rtsp://relay-a", URL_SCHEME_RTSP, "", "t", RD_EPROTO, NULL},
    {"rtsp://relay-a", URL_SCHEME_RTSP, "lobby", "", RD_EPROTO, NULL},
    {"rtsp://relay-a", URL_SCHEME_RTSP, "lobby", "t/x", RD_EPROTO, NULL},
    {"rtsp://relay-a", URL_SCHEME_RTSP, "lobby", "t\n", RD_EPROTO, NULL},
};

static void
test_location(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(loc_cases) / sizeof(loc_cases[0]); i++) {
        const struct loc_case *c = &loc_cases[i];
        char out[512];
        memset(out, 'X', sizeof(out));
        int rc = url_build_location(rd_str_cstr(c->base), c->scheme, rd_str_cstr(c->camera),
                                    rd_str_cstr(c->token), out, sizeof(out));
        if (c->rc == RD_OK) {
            if (rc < 0)
                fail_msg("case %zu '%s': rc %d", i, c->base, rc);
            assert_int_equal((size_t)rc, strlen(c->want));
            assert_string_equal(out, c->want);
            /* The result is itself a URL the relay accepts, naming the same camera and token. */
            struct url_parts u;
            struct rd_str cam, tok, rest;
            assert_int_equal(url_split(rd_str_make(out, (size_t)rc), &u), RD_OK);
            assert_int_equal(u.scheme, c->scheme);
            assert_int_equal(url_relay_path_parse(u.path, &cam, &tok, &rest), RD_OK);
            assert_true(rd_str_eq_cstr(cam, c->camera));
            assert_true(rd_str_eq_cstr(tok, c->token));
            assert_int_equal(rest.len, 0);
        } else {
            if (rc != c->rc)
                fail_msg("case %zu '%s': rc %d, want %d", i, c->base, rc, c->rc);
            assert_int_equal(out[0], '\0');
        }
    }
}

static void
test_location_overflow(void **state)
{
    (void)state;
    const char *want = "rtsp://relay-a:8555/v1/lobby/" TOK "/";
    size_t n = strlen(want);
    char out[256];
    struct rd_str base = rd_str_cstr("rtsp://relay-a:8555");
    struct rd_str cam = rd_str_cstr("lobby");
    struct rd_str tok = rd_str_cstr(TOK);
    /* Exactly enough (n + NUL) works; every smaller capacity is RD_ELIMIT, never truncated. */
    assert_int_equal(url_build_location(base, URL_SCHEME_RTSP, cam, tok, out, n + 1), (int)n);
    assert_string_equal(out, want);
    for (size_t cap = 0; cap <= n; cap++) {
        memset(out, 'X', sizeof(out));
        assert_int_equal(url_build_location(base, URL_SCHEME_RTSP, cam, tok, out, cap), RD_ELIMIT);
        if (cap > 0)
            assert_int_equal(out[0], '\0');
        /* Nothing written at or past cap. */
        for (size_t i = cap; i < n + 2; i++)
            assert_int_equal(out[i], 'X');
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_split_table),       cmocka_unit_test(test_split_star),
    cmocka_unit_test(test_split_limits),      cmocka_unit_test(test_split_ipv6_vs_inet_pton),
    cmocka_unit_test(test_pct_decode_table),  cmocka_unit_test(test_pct_decode_limit),
    cmocka_unit_test(test_path_split_table),  cmocka_unit_test(test_path_split_caps),
    cmocka_unit_test(test_camera_id),         cmocka_unit_test(test_broker_camera),
    cmocka_unit_test(test_relay_path_parse),  cmocka_unit_test(test_location),
    cmocka_unit_test(test_location_overflow),
};

RD_TEST_MAIN(tests)
