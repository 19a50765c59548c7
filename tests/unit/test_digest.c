/* SPDX-License-Identifier: MIT */
/* digest.c: RFC 2617 / RFC 7616 vectors, server <-> client round trips, stateless nonces,
 * parser good/bad tables (over a guard page), challenge choice, Basic, and one case per limit. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS for guard_buf.h under -std=c11 */
#include "rd_test.h"

#include <ctype.h>
#include <stdlib.h>

#include "digest.h"
#include "guard_buf.h"
#include "rd_err.h"

#define LIT(s) RD_STR_LIT(s)

static const uint8_t test_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                     12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                     23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const struct digest_server test_srv = {{"rtsp-director", 13}, test_key, sizeof(test_key)};
static const uint64_t T0 = 1700000000;

static bool
is_lhex_test(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static struct rd_str
cstr(const char *s)
{
    return rd_str_cstr(s);
}

/* A string of n copies of c in a static buffer (one live at a time per slot). */
static const char *
rep(int slot, char c, size_t n)
{
    static char bufs[4][8192];
    assert_true(n < sizeof(bufs[0]));
    memset(bufs[slot], c, n);
    bufs[slot][n] = '\0';
    return bufs[slot];
}

/* Parses value from a copy that ends at a guard page; returns the status. The views in *cr
 * point into the guard buffer, freed by the caller with guard_buf_free(g). */
static int
parse_guarded(struct guard_buf *g, const char *value, char *scratch, size_t cap,
              struct digest_credentials *cr)
{
    size_t n = strlen(value);
    char *copy = guard_buf_put(g, value, n);
    return digest_credentials_parse(rd_str_make(copy, n), scratch, cap, cr);
}

static int
parse_status(const char *value)
{
    struct guard_buf g = {0};
    struct digest_credentials cr;
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    int rc = parse_guarded(&g, value, scratch, sizeof(scratch), &cr);
    guard_buf_free(&g);
    return rc;
}

/* Picks from up to 4 header values, each copied before its own guard page. */
static int
pick_guarded(const char *const *values, bool allow_basic, struct digest_challenge *ch)
{
    struct guard_buf g[4];
    struct rd_str v[4];
    size_t n = 0;
    memset(g, 0, sizeof(g));
    for (; n < 4 && values[n] != NULL; n++) {
        size_t len = strlen(values[n]);
        v[n] = rd_str_make(guard_buf_put(&g[n], values[n], len), len);
    }
    int rc = digest_challenge_pick(v, n, allow_basic, ch);
    for (size_t i = 0; i < n; i++)
        guard_buf_free(&g[i]);
    return rc;
}

static int
pick1(const char *value, bool allow_basic, struct digest_challenge *ch)
{
    const char *values[2] = {value, NULL};
    return pick_guarded(values, allow_basic, ch);
}

static void
response_hex(const struct digest_response_in *in, char *hex)
{
    uint8_t h[RD_HASH_MAX];
    assert_int_equal(digest_response_compute(in, h), RD_OK);
    rd_hex_encode(h, rd_hash_len(in->alg), hex);
}

/* ---- RFC vectors --------------------------------------------------------------------------- */

static void
test_rfc2617_example(void **state)
{
    (void)state;
    /* RFC 2617 §3.5 */
    char ha1[2 * RD_HASH_MAX + 1];
    assert_int_equal(digest_ha1_hex(RD_HASH_MD5, LIT("Mufasa"), LIT("testrealm@host.com"),
                                    LIT("Circle Of Life"), ha1, sizeof(ha1)),
                     32);
    struct digest_response_in in = {
        .alg = RD_HASH_MD5,
        .ha1_hex = cstr(ha1),
        .nonce = LIT("dcd98b7102dd2f0e8b11d0f600bfb0c093"),
        .nc = LIT("00000001"),
        .cnonce = LIT("0a4f113b"),
        .qop = LIT("auth"),
        .method = LIT("GET"),
        .uri = LIT("/dir/index.html"),
    };
    char hex[2 * RD_HASH_MAX + 1];
    response_hex(&in, hex);
    assert_string_equal(hex, "6629fae49393a05397450978507c4ef1");

    /* The client builds exactly the RFC's Authorization from the RFC's challenge. */
    struct digest_challenge ch;
    assert_int_equal(pick1("Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
                           "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                           "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
                           false, &ch),
                     RD_OK);
    assert_int_equal(ch.scheme, DIGEST_SCHEME_DIGEST);
    assert_int_equal(ch.alg, RD_HASH_MD5);
    assert_false(ch.alg_present);
    assert_true(ch.qop_auth);
    assert_true(ch.has_opaque);
    struct digest_client_request req = {LIT("GET"), LIT("/dir/index.html"), LIT("Mufasa"),
                                        LIT("Circle Of Life")};
    char out[DIGEST_AUTHORIZATION_MAX];
    const char *want = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
                       "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
                       "response=\"6629fae49393a05397450978507c4ef1\", qop=auth, nc=00000001, "
                       "cnonce=\"0a4f113b\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    assert_int_equal(
        digest_authorization_build_cnonce(&ch, &req, LIT("0a4f113b"), out, sizeof(out)),
        (int)strlen(want));
    assert_string_equal(out, want);
    assert_int_equal(ch.nc, 1);

    /* The server parses the RFC's header and recomputes the same response from its fields. */
    struct guard_buf g = {0};
    struct digest_credentials cr;
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    assert_int_equal(parse_guarded(&g, want, scratch, sizeof(scratch), &cr), RD_OK);
    assert_true(rd_str_eq_cstr(cr.username, "Mufasa"));
    assert_true(rd_str_eq_cstr(cr.opaque, "5ccc069c403ebaf9f0171e9517f40e41"));
    assert_int_equal(cr.nc_value, 1);
    assert_true(cr.has_qop);
    assert_false(cr.alg_present);
    struct digest_response_in again = {cr.alg,    cstr(ha1), cr.nonce,   cr.nc,
                                       cr.cnonce, cr.qop,    LIT("GET"), cr.uri};
    response_hex(&again, hex);
    assert_true(rd_str_eq_cstr(cr.response, hex));
    guard_buf_free(&g);
}

static const char rfc7616_sha256[] =
    "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, "
    "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
static const char rfc7616_md5[] =
    "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, "
    "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

static void
test_rfc7616_examples(void **state)
{
    (void)state;
    /* RFC 7616 §3.9.1: the server offers SHA-256 first, then MD5; we pick SHA-256 however
     * they are ordered. */
    const char *both[] = {rfc7616_md5, rfc7616_sha256, NULL};
    struct digest_challenge ch;
    assert_int_equal(pick_guarded(both, false, &ch), RD_OK);
    assert_int_equal(ch.alg, RD_HASH_SHA256);
    assert_true(ch.alg_present);
    assert_true(ch.qop_auth);
    assert_string_equal(ch.realm, "http-auth@example.org");
    assert_string_equal(ch.nonce, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v");
    assert_string_equal(ch.opaque, "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS");
    struct digest_client_request req = {LIT("GET"), LIT("/dir/index.html"), LIT("Mufasa"),
                                        LIT("Circle of Life")};
    struct rd_str cnonce = LIT("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ");
    char out[DIGEST_AUTHORIZATION_MAX];
    const char *want_sha =
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", "
        "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", uri=\"/dir/index.html\", "
        "algorithm=SHA-256, "
        "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", "
        "qop=auth, nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", "
        "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    assert_int_equal(digest_authorization_build_cnonce(&ch, &req, cnonce, out, sizeof(out)),
                     (int)strlen(want_sha));
    assert_string_equal(out, want_sha);

    assert_int_equal(pick1(rfc7616_md5, false, &ch), RD_OK);
    assert_int_equal(ch.alg, RD_HASH_MD5);
    assert_true(ch.alg_present);
    int len = digest_authorization_build_cnonce(&ch, &req, cnonce, out, sizeof(out));
    assert_int_equal(len, (int)strlen(out));
    assert_non_null(strstr(out, "algorithm=MD5, response=\"8ca523f5e9506fed4657c9700eebdbec\""));

    /* The same numbers through the primitive. */
    char ha1[2 * RD_HASH_MAX + 1], hex[2 * RD_HASH_MAX + 1];
    assert_int_equal(digest_ha1_hex(RD_HASH_SHA256, LIT("Mufasa"), LIT("http-auth@example.org"),
                                    LIT("Circle of Life"), ha1, sizeof(ha1)),
                     64);
    struct digest_response_in in = {RD_HASH_SHA256,
                                    cstr(ha1),
                                    LIT("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"),
                                    LIT("00000001"),
                                    cnonce,
                                    LIT("auth"),
                                    LIT("GET"),
                                    LIT("/dir/index.html")};
    response_hex(&in, hex);
    assert_string_equal(hex, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");

    /* And the server side parses the RFC's SHA-256 Authorization. */
    struct guard_buf g = {0};
    struct digest_credentials cr;
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    assert_int_equal(parse_guarded(&g, want_sha, scratch, sizeof(scratch), &cr), RD_OK);
    assert_int_equal(cr.alg, RD_HASH_SHA256);
    assert_true(rd_str_eq_cstr(cr.response, hex));
    guard_buf_free(&g);
}

/* The RFC 2069 form (a camera challenge without qop): H(HA1:nonce:H(method:uri)). */
static void
test_rfc2069_form(void **state)
{
    (void)state;
    struct digest_challenge ch;
    assert_int_equal(pick1("Digest realm=\"LIVE555 Streaming Media\", "
                           "nonce=\"0a4f113b29c7dd2e0e8b11d0f600bfb0\"",
                           false, &ch),
                     RD_OK);
    assert_false(ch.qop_auth);
    struct digest_client_request req = {LIT("DESCRIBE"), LIT("rtsp://cam/live"), LIT("admin"),
                                        LIT("12345")};
    char out[DIGEST_AUTHORIZATION_MAX];
    assert_true(digest_authorization_build(&ch, &req, out, sizeof(out)) > 0);
    assert_null(strstr(out, "qop"));
    assert_null(strstr(out, "cnonce"));
    assert_null(strstr(out, "nc="));
    assert_null(strstr(out, "algorithm"));
    assert_int_equal(ch.nc, 0);

    /* HA1 = MD5("admin:LIVE555 Streaming Media:12345") and HA2 = MD5("DESCRIBE:rtsp://cam/live"),
     * computed by hand from the parts. */
    uint8_t h[RD_HASH_MAX];
    char ha1[33], ha2[33], want[33];
    struct rd_str a1[] = {LIT("admin:LIVE555 Streaming Media:12345")};
    assert_int_equal(rd_hash_parts(RD_HASH_MD5, a1, 1, h), RD_OK);
    rd_hex_encode(h, 16, ha1);
    struct rd_str a2[] = {LIT("DESCRIBE:rtsp://cam/live")};
    assert_int_equal(rd_hash_parts(RD_HASH_MD5, a2, 1, h), RD_OK);
    rd_hex_encode(h, 16, ha2);
    struct rd_str kd[] = {cstr(ha1), LIT(":0a4f113b29c7dd2e0e8b11d0f600bfb0:"), cstr(ha2)};
    assert_int_equal(rd_hash_parts(RD_HASH_MD5, kd, 3, h), RD_OK);
    rd_hex_encode(h, 16, want);
    char expect[128];
    int w = snprintf(expect, sizeof(expect), "response=\"%s\"", want);
    assert_true(w > 0 && (size_t)w < sizeof(expect));
    assert_non_null(strstr(out, expect));

    /* Our server always requires qop: the same form sent to the broker is a 400. */
    struct guard_buf g = {0};
    struct digest_credentials cr;
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    assert_int_equal(parse_guarded(&g, out, scratch, sizeof(scratch), &cr), RD_OK);
    assert_false(cr.has_qop);
    assert_int_equal(
        digest_verify(&test_srv, &cr, LIT("DESCRIBE"), LIT("rtsp://cam/live"), cstr(ha1), T0),
        RD_EPROTO);
    guard_buf_free(&g);
}

/* ---- Server <-> client ----------------------------------------------------------------------- */

struct rt {
    char nonce[DIGEST_NONCE_BUF];
    char challenge[512];
    char ha1[2 * RD_HASH_MAX + 1];
    char auth[DIGEST_AUTHORIZATION_MAX];
    struct digest_challenge ch;
};

/* Server mints and challenges at `at`; client picks and answers. */
static void
rt_setup(struct rt *r, enum rd_hash_alg alg, uint64_t at, const char *user, const char *pass,
         const char *method, const char *uri)
{
    assert_int_equal(digest_nonce_mint(&test_srv, at, r->nonce, sizeof(r->nonce)),
                     DIGEST_NONCE_LEN);
    assert_true(digest_challenge_build(&test_srv, alg, cstr(r->nonce), false, r->challenge,
                                       sizeof(r->challenge))
                > 0);
    assert_int_equal(pick1(r->challenge, false, &r->ch), RD_OK);
    assert_int_equal(r->ch.alg, alg);
    struct digest_client_request req = {cstr(method), cstr(uri), cstr(user), cstr(pass)};
    assert_true(digest_authorization_build(&r->ch, &req, r->auth, sizeof(r->auth)) > 0);
    assert_int_equal(
        digest_ha1_hex(alg, cstr(user), test_srv.realm, LIT("secret"), r->ha1, sizeof(r->ha1)),
        (int)(2 * rd_hash_len(alg)));
}

static int
rt_verify(const char *auth, const char *ha1, const char *method, const char *uri, uint64_t now)
{
    struct guard_buf g = {0};
    struct digest_credentials cr;
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    int rc = parse_guarded(&g, auth, scratch, sizeof(scratch), &cr);
    if (rc == RD_OK)
        rc = digest_verify(&test_srv, &cr, cstr(method), cstr(uri), cstr(ha1), now);
    guard_buf_free(&g);
    return rc;
}

static void
test_roundtrip(void **state)
{
    (void)state;
    static const enum rd_hash_alg algs[] = {RD_HASH_MD5, RD_HASH_SHA256};
    const char *uri = "rtsp://broker.example:8554/lobby?x=1";
    for (size_t a = 0; a < 2; a++) {
        struct rt r;
        rt_setup(&r, algs[a], T0, "viewer", "secret", "DESCRIBE", uri);
        assert_int_equal(rt_verify(r.auth, r.ha1, "DESCRIBE", uri, T0 + 1), RD_OK);
        assert_non_null(strstr(r.auth, "nc=00000001"));
        /* A second answer on the same nonce: nc 2, still fine. */
        struct digest_client_request req = {LIT("SETUP"), cstr(uri), LIT("viewer"), LIT("secret")};
        assert_true(digest_authorization_build(&r.ch, &req, r.auth, sizeof(r.auth)) > 0);
        assert_non_null(strstr(r.auth, "nc=00000002"));
        assert_int_equal(rt_verify(r.auth, r.ha1, "SETUP", uri, T0 + 2), RD_OK);
        /* Wrong method, wrong HA1, wrong request URI, HA1 of the other algorithm. */
        assert_int_equal(rt_verify(r.auth, r.ha1, "DESCRIBE", uri, T0 + 2), RD_EAUTH);
        char bad_ha1[2 * RD_HASH_MAX + 1];
        assert_true(digest_ha1_hex(algs[a], LIT("viewer"), test_srv.realm, LIT("Secret"), bad_ha1,
                                   sizeof(bad_ha1))
                    > 0);
        assert_int_equal(rt_verify(r.auth, bad_ha1, "SETUP", uri, T0 + 2), RD_EAUTH);
        assert_int_equal(
            rt_verify(r.auth, r.ha1, "SETUP", "rtsp://broker.example:8554/lobby", T0 + 2),
            RD_EPROTO);
        assert_true(digest_ha1_hex(algs[1 - a], LIT("viewer"), test_srv.realm, LIT("secret"),
                                   bad_ha1, sizeof(bad_ha1))
                    > 0);
        assert_int_equal(rt_verify(r.auth, bad_ha1, "SETUP", uri, T0 + 2), RD_EAUTH);
        /* Upper-case HA1 from the registry is the same HA1. */
        for (char *p = r.ha1; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        assert_int_equal(rt_verify(r.auth, r.ha1, "SETUP", uri, T0 + 2), RD_OK);
        /* Registry junk fails closed. */
        r.ha1[3] = 'x';
        assert_int_equal(rt_verify(r.auth, r.ha1, "SETUP", uri, T0 + 2), RD_EAUTH);
    }
}

static void
test_roundtrip_hostile_username(void **state)
{
    (void)state;
    /* Quotes and backslashes survive the trip (escaped on the wire, hashed unescaped), and a
     * realm needing escapes is quoted by the server too. */
    static const uint8_t key[16] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
    struct digest_server srv = {LIT("cams \"hq\" \\ east"), key, sizeof(key)};
    char nonce[DIGEST_NONCE_BUF], chal[512], auth[DIGEST_AUTHORIZATION_MAX], ha1[65];
    assert_int_equal(digest_nonce_mint(&srv, T0, nonce, sizeof(nonce)), DIGEST_NONCE_LEN);
    assert_true(digest_challenge_build(&srv, RD_HASH_SHA256, cstr(nonce), false, chal, sizeof(chal))
                > 0);
    assert_non_null(strstr(chal, "realm=\"cams \\\"hq\\\" \\\\ east\""));
    struct digest_challenge ch;
    assert_int_equal(pick1(chal, false, &ch), RD_OK);
    assert_string_equal(ch.realm, "cams \"hq\" \\ east");
    struct digest_client_request req = {LIT("DESCRIBE"), LIT("rtsp://b/x"), LIT("o\"brien\\x"),
                                        LIT("p:w\"d")};
    assert_true(digest_authorization_build(&ch, &req, auth, sizeof(auth)) > 0);
    assert_non_null(strstr(auth, "username=\"o\\\"brien\\\\x\""));
    struct guard_buf g = {0};
    struct digest_credentials cr;
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    assert_int_equal(parse_guarded(&g, auth, scratch, sizeof(scratch), &cr), RD_OK);
    assert_true(rd_str_eq_cstr(cr.username, "o\"brien\\x"));
    assert_true(rd_str_eq(cr.realm, srv.realm));
    assert_int_equal(
        digest_ha1_hex(RD_HASH_SHA256, cr.username, srv.realm, LIT("p:w\"d"), ha1, sizeof(ha1)),
        64);
    assert_int_equal(
        digest_verify(&srv, &cr, LIT("DESCRIBE"), LIT("rtsp://b/x"), cstr(ha1), T0 + 5), RD_OK);
    /* Escaped values need the scratch buffer: without it the parse is refused, not truncated. */
    assert_int_equal(digest_credentials_parse(cstr(auth), NULL, 0, &cr), RD_ELIMIT);
    assert_int_equal(digest_credentials_parse(cstr(auth), scratch, 12, &cr), RD_ELIMIT);
    guard_buf_free(&g);
}

static void
test_stale_nonce(void **state)
{
    (void)state;
    struct rt r;
    const char *uri = "rtsp://b/cam1";
    rt_setup(&r, RD_HASH_SHA256, T0, "viewer", "secret", "DESCRIBE", uri);
    assert_int_equal(rt_verify(r.auth, r.ha1, "DESCRIBE", uri, T0), RD_OK);
    assert_int_equal(rt_verify(r.auth, r.ha1, "DESCRIBE", uri, T0 + RD_AUTH_NONCE_TTL_S), RD_OK);
    assert_int_equal(rt_verify(r.auth, r.ha1, "DESCRIBE", uri, T0 + RD_AUTH_NONCE_TTL_S + 1),
                     RD_EEXPIRED);
    assert_int_equal(rt_verify(r.auth, r.ha1, "DESCRIBE", uri, UINT64_MAX), RD_EEXPIRED);
    /* The clock stepped back: ours, but re-challenge. */
    assert_int_equal(rt_verify(r.auth, r.ha1, "DESCRIBE", uri, T0 - 1), RD_EEXPIRED);
    /* stale only for someone who knows the password. */
    char bad_ha1[65];
    assert_true(digest_ha1_hex(RD_HASH_SHA256, LIT("viewer"), test_srv.realm, LIT("guess"), bad_ha1,
                               sizeof(bad_ha1))
                > 0);
    assert_int_equal(rt_verify(r.auth, bad_ha1, "DESCRIBE", uri, T0 + RD_AUTH_NONCE_TTL_S + 1),
                     RD_EAUTH);

    /* The stale challenge carries stale=true and the client sees it. */
    char chal[512];
    int len =
        digest_challenge_build(&test_srv, RD_HASH_MD5, cstr(r.nonce), true, chal, sizeof(chal));
    assert_int_equal(len, (int)strlen(chal));
    assert_non_null(strstr(chal, ", stale=true"));
    struct digest_challenge ch;
    assert_int_equal(pick1(chal, false, &ch), RD_OK);
    assert_true(ch.stale);
}

static void
test_tampered_nonce(void **state)
{
    (void)state;
    char nonce[DIGEST_NONCE_BUF];
    assert_int_equal(digest_nonce_mint(&test_srv, T0, nonce, sizeof(nonce)), DIGEST_NONCE_LEN);
    assert_int_equal(digest_nonce_check(&test_srv, cstr(nonce), T0), RD_OK);
    /* Two mints differ (random part). */
    char other[DIGEST_NONCE_BUF];
    assert_int_equal(digest_nonce_mint(&test_srv, T0, other, sizeof(other)), DIGEST_NONCE_LEN);
    assert_string_not_equal(nonce, other);
    /* Every position changed to every other byte value: never OK, never stale. */
    for (size_t i = 0; i < DIGEST_NONCE_LEN; i++) {
        for (int c = 0; c < 256; c++) {
            if (c == (unsigned char)nonce[i])
                continue;
            char t[DIGEST_NONCE_BUF];
            memcpy(t, nonce, sizeof(t));
            t[i] = (char)c;
            assert_int_equal(digest_nonce_check(&test_srv, rd_str_make(t, DIGEST_NONCE_LEN), T0),
                             RD_EAUTH);
        }
    }
    /* Truncated, extended, empty. */
    assert_int_equal(digest_nonce_check(&test_srv, rd_str_make(nonce, 42), T0), RD_EAUTH);
    char longer[DIGEST_NONCE_BUF + 4];
    int w = snprintf(longer, sizeof(longer), "%sAAAA", nonce);
    assert_int_equal(w, DIGEST_NONCE_LEN + 4);
    assert_int_equal(digest_nonce_check(&test_srv, cstr(longer), T0), RD_EAUTH);
    assert_int_equal(digest_nonce_check(&test_srv, RD_STR_NULL, T0), RD_EAUTH);
    /* Bound to the realm and to the key. */
    struct digest_server other_realm = {LIT("rtsp-director2"), test_key, sizeof(test_key)};
    assert_int_equal(digest_nonce_check(&other_realm, cstr(nonce), T0), RD_EAUTH);
    uint8_t key2[32];
    memcpy(key2, test_key, sizeof(key2));
    key2[31] ^= 1;
    struct digest_server other_key = {test_srv.realm, key2, sizeof(key2)};
    assert_int_equal(digest_nonce_check(&other_key, cstr(nonce), T0), RD_EAUTH);
    /* A tampered nonce inside otherwise valid credentials is a 401 without stale. */
    struct rt r;
    rt_setup(&r, RD_HASH_MD5, T0, "viewer", "secret", "DESCRIBE", "rtsp://b/c");
    char *p = strstr(r.auth, "nonce=\"") + 7;
    *p = *p == 'A' ? 'B' : 'A';
    assert_int_equal(rt_verify(r.auth, r.ha1, "DESCRIBE", "rtsp://b/c", T0), RD_EAUTH);
}

/* Changing any byte of the response (any value) never verifies. */
/* Parses and verifies the len bytes at p (in a guard buffer), looking HA1 up by the username
 * sent, as the broker does: every user here has the password "secret", so a changed username
 * only matters through HA1. */
static int
verify_in_place(const char *p, size_t len, const char *method, const char *uri)
{
    struct digest_credentials cr;
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    int rc = digest_credentials_parse(rd_str_make(p, len), scratch, sizeof(scratch), &cr);
    char ha1[2 * RD_HASH_MAX + 1];
    if (rc == RD_OK)
        rc = digest_ha1_hex(cr.alg, cr.username, test_srv.realm, LIT("secret"), ha1, sizeof(ha1));
    if (rc > 0)
        rc = digest_verify(&test_srv, &cr, cstr(method), cstr(uri), cstr(ha1), T0);
    return rc;
}

/* Changing any byte of the response (to any value) never verifies. */
static void
test_response_every_byte(void **state)
{
    (void)state;
    static const enum rd_hash_alg algs[] = {RD_HASH_MD5, RD_HASH_SHA256};
    for (size_t a = 0; a < 2; a++) {
        struct rt r;
        rt_setup(&r, algs[a], T0, "viewer", "secret", "PLAY", "rtsp://b/c");
        size_t len = strlen(r.auth);
        struct guard_buf g = {0};
        char *p = guard_buf_put(&g, r.auth, len);
        assert_int_equal(verify_in_place(p, len, "PLAY", "rtsp://b/c"), RD_OK);
        size_t off = (size_t)(strstr(r.auth, "response=\"") + 10 - r.auth);
        size_t hl = 2 * rd_hash_len(algs[a]);
        for (size_t i = off; i < off + hl; i++) {
            char saved = p[i];
            for (int c = 0; c < 256; c++) {
                if (c == (unsigned char)saved)
                    continue;
                p[i] = (char)c;
                int rc = verify_in_place(p, len, "PLAY", "rtsp://b/c");
                assert_true(rc == RD_EAUTH || rc == RD_EPROTO);
                if (is_lhex_test(c))
                    assert_int_equal(rc, RD_EAUTH);
            }
            p[i] = saved;
        }
        assert_int_equal(verify_in_place(p, len, "PLAY", "rtsp://b/c"), RD_OK);
        guard_buf_free(&g);
    }
}

/* Changing any byte of a whole valid Authorization never verifies, except changes that keep
 * the meaning: the case of a scheme, parameter name or algorithm token, SP -> HT, and SP -> ','
 * (an empty list element). */
static void
test_header_every_byte(void **state)
{
    (void)state;
    struct rt r;
    const char *uri = "rtsp://b:8554/cam?q=1";
    rt_setup(&r, RD_HASH_SHA256, T0, "viewer", "secret", "DESCRIBE", uri);
    size_t len = strlen(r.auth);
    struct guard_buf g = {0};
    char *p = guard_buf_put(&g, r.auth, len);
    unsigned ok_changes = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char old = (unsigned char)p[i];
        for (int c = 0; c < 256; c++) {
            if (c == old)
                continue;
            p[i] = (char)c;
            if (verify_in_place(p, len, "DESCRIBE", uri) == RD_OK) {
                if (getenv("DIGEST_TEST_DEBUG") != NULL)
                    print_message("accepted: %zu %02x -> %02x\n", i, old, (unsigned)c);
                bool same_letter = isalpha(old) && tolower(c) == tolower(old);
                bool sp = old == ' ' && (c == '\t' || c == ',');
                assert_true(same_letter || sp);
                ok_changes++;
            }
        }
        p[i] = (char)old;
    }
    assert_true(ok_changes > 0); /* the equivalences above really are accepted */
    guard_buf_free(&g);
}

/* ---- Authorization parser tables ----------------------------------------------------------- */

#define U    "username=\"Mufasa\""
#define R    "realm=\"testrealm@host.com\""
#define N    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\""
#define URI  "uri=\"/dir/index.html\""
#define Q    "qop=auth, nc=00000001, cnonce=\"0a4f113b\""
#define RESP "response=\"6629fae49393a05397450978507c4ef1\""
#define ALL  U ", " R ", " N ", " URI ", " Q ", " RESP

struct cred_vec {
    const char *value;
    int rc;
};

static const struct cred_vec cred_vectors[] = {
    /* good */
    {"Digest " ALL, RD_OK},
    {"digest " ALL, RD_OK},
    {"DIGEST\t" ALL, RD_OK},
    {"  Digest   " U " ,  " R ",," N ", ," URI "," Q "," RESP "  ", RD_OK},
    {"Digest username = \"Mufasa\" ,realm\t=\t\"testrealm@host.com\", " N ", " URI ", " Q ", " RESP,
     RD_OK},
    {"Digest " U ", " R ", " N ", " URI ", " RESP, RD_OK}, /* RFC 2069 form parses */
    {"Digest " ALL ", algorithm=\"MD5\"", RD_OK},
    {"Digest " ALL ", algorithm=md5", RD_OK},
    {"Digest " ALL ", foo=bar, baz=\"q,=\\\"\", opaque=\"x\"", RD_OK},
    {"Digest " ALL ", userhash=false", RD_OK},
    {"Digest username=Mufasa, " R ", " N ", " URI ", " Q ", " RESP, RD_OK},
    {"Digest " U ", " R ", " N ", " URI ", qop=\"auth\", nc=0000000A, cnonce=x, " RESP, RD_OK},
    {"Digest " U ", " R ", " N ", " URI ", qop=AUTH, nc=00000001, cnonce=x, " RESP, RD_OK},
    {"Digest " U ", realm=\"t\xc3\xa9st\", " N ", " URI ", " Q ", " RESP, RD_OK}, /* obs-text */
    /* not Digest: 401 with a challenge */
    {"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", RD_EAUTH},
    {"Bearer abc", RD_EAUTH},
    {"Basic", RD_EAUTH},
    {"Digestx " ALL, RD_EAUTH},
    /* structure */
    {"", RD_EPROTO},
    {"   ", RD_EPROTO},
    {"Digest", RD_EPROTO},
    {"Digest ", RD_EPROTO},
    {"Digest ,,, ", RD_EPROTO},
    {"Digest abc==", RD_EPROTO},
    {"Digest abc==, " ALL, RD_EPROTO},
    {"Digest\"x\"", RD_EPROTO},
    {U ", Digest " R, RD_EPROTO},
    {"=x", RD_EPROTO},
    {"Digest " ALL ", Basic abc", RD_EPROTO},
    {"Digest " ALL ", Digest " U, RD_EPROTO},
    {"Digest " U " \"b\", " R ", " N ", " URI ", " Q ", " RESP, RD_EPROTO},
    {"Digest " U "x, " R ", " N ", " URI ", " Q ", " RESP, RD_EPROTO},
    {"Digest username=, " R ", " N ", " URI ", " Q ", " RESP, RD_EPROTO},
    {"Digest " ALL ", username=", RD_EPROTO},
    {"Digest username=a@b, " R ", " N ", " URI ", " Q ", " RESP, RD_EPROTO},
    {"Digest " ALL ", =x", RD_EPROTO},
    {"Digest " ALL ";", RD_EPROTO},
    /* quoting */
    {"Digest " ALL ", x=\"unterminated", RD_EPROTO},
    {"Digest " ALL ", x=\"ends in escape\\", RD_EPROTO},
    {"Digest " ALL ", x=\"", RD_EPROTO},
    {"Digest " ALL ", x=\"a\rb\"", RD_EPROTO},
    {"Digest " ALL ", x=\"a\nb\"", RD_EPROTO},
    {"Digest " ALL ", x=\"a\\\rb\"", RD_EPROTO},
    {"Digest " ALL ", x=\"a\x7f\"", RD_EPROTO},
    {"Digest " ALL ", x=\"a\x01\"", RD_EPROTO},
    {"Digest " ALL ", x=\"a\tb\"", RD_OK},
    {"Digest " ALL ", x=\"a\\\tb\"", RD_OK},
    /* duplicates, in any case */
    {"Digest " ALL ", " U, RD_EPROTO},
    {"Digest " ALL ", USERNAME=\"Mufasa\"", RD_EPROTO},
    {"Digest " ALL ", foo=1, Foo=1", RD_EPROTO},
    {"Digest " ALL ", Response=\"6629fae49393a05397450978507c4ef1\"", RD_EPROTO},
    /* required fields */
    {"Digest " R ", " N ", " URI ", " Q ", " RESP, RD_EPROTO},
    {"Digest " U ", " N ", " URI ", " Q ", " RESP, RD_EPROTO},
    {"Digest " U ", " R ", " URI ", " Q ", " RESP, RD_EPROTO},
    {"Digest " U ", " R ", " N ", " Q ", " RESP, RD_EPROTO},
    {"Digest " U ", " R ", " N ", " URI ", " Q, RD_EPROTO},
    {"Digest username=\"\", " R ", " N ", " URI ", " Q ", " RESP, RD_EPROTO},
    {"Digest " U ", " R ", nonce=\"\", " URI ", " Q ", " RESP, RD_EPROTO},
    {"Digest " U ", " R ", " N ", uri=\"\", " Q ", " RESP, RD_EPROTO},
    {"Digest " U ", " R ", " N ", " URI ", qop=auth, nc=00000001, " RESP, RD_EPROTO},
    {"Digest " U ", " R ", " N ", " URI ", qop=auth, cnonce=\"x\", " RESP, RD_EPROTO},
    {"Digest " U ", " R ", " N ", " URI ", qop=auth, nc=00000001, cnonce=\"\", " RESP, RD_EPROTO},
    {"Digest " U ", " R ", " N ", " URI ", nc=00000001, cnonce=\"x\", " RESP, RD_EPROTO},
    /* field values */
    {"Digest " U ", " R ", " N ", " URI ", qop=auth, nc=0000001, cnonce=x, " RESP, RD_EPROTO},
    {"Digest " U ", " R ", " N ", " URI ", qop=auth, nc=000000001, cnonce=x, " RESP, RD_EPROTO},
    {"Digest " U ", " R ", " N ", " URI ", qop=auth, nc=0000000g, cnonce=x, " RESP, RD_EPROTO},
    {"Digest " U ", " R ", " N ", " URI ", qop=auth-int, nc=00000001, cnonce=x, " RESP, RD_EPROTO},
    {"Digest " U ", " R ", " N ", " URI ", qop=\"auth,auth-int\", nc=00000001, cnonce=x, " RESP,
     RD_EPROTO},
    {"Digest " ALL ", algorithm=MD5-sess", RD_EPROTO},
    {"Digest " ALL ", algorithm=SHA-512-256", RD_EPROTO},
    {"Digest " ALL ", algorithm=SHA-256", RD_EPROTO}, /* an MD5-length response */
    {"Digest " U ", " R ", " N ", " URI ", " Q ", response=\"6629FAE49393A05397450978507C4EF1\"",
     RD_EPROTO},
    {"Digest " U ", " R ", " N ", " URI ", " Q ", response=\"6629fae49393a05397450978507c4ef\"",
     RD_EPROTO},
    {"Digest " U ", " R ", " N ", " URI ", " Q ", response=\"6629fae49393a05397450978507c4efg\"",
     RD_EPROTO},
    /* RFC 7616 §3.4.4 extended username and userhash: not supported */
    {"Digest " R ", " N ", " URI ", " Q ", " RESP ", username*=UTF-8''J%C3%A4s%C3%B8n%20Doe",
     RD_EPROTO},
    {"Digest " ALL ", username*=UTF-8''x", RD_EPROTO},
    {"Digest " ALL ", userhash=true", RD_EPROTO},
    {"Digest " ALL ", userhash=\"TRUE\"", RD_EPROTO},
};

static void
test_credentials_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cred_vectors) / sizeof(cred_vectors[0]); i++) {
        int rc = parse_status(cred_vectors[i].value);
        if (rc != cred_vectors[i].rc)
            fail_msg("vector %zu (%s): got %d, want %d", i, cred_vectors[i].value, rc,
                     cred_vectors[i].rc);
    }
}

static void
test_credentials_fields_and_escapes(void **state)
{
    (void)state;
    struct guard_buf g = {0};
    struct digest_credentials cr;
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    assert_int_equal(parse_guarded(&g,
                                   "Digest username=\"Mu\\fa\\\"sa\", " R ", " N ", " URI
                                   ", qop=auth, nc=0000010F, cnonce=\"c\\\\n\", " RESP
                                   ", algorithm=\"SHA-256\"",
                                   scratch, sizeof(scratch), &cr),
                     RD_EPROTO); /* SHA-256 needs a 64-digit response */
    guard_buf_free(&g);
    assert_int_equal(parse_guarded(&g,
                                   "Digest username=\"Mu\\fa\\\"sa\", " R ", " N ", " URI
                                   ", qop=auth, nc=0000010F, cnonce=\"c\\\\n\", " RESP,
                                   scratch, sizeof(scratch), &cr),
                     RD_OK);
    assert_true(rd_str_eq_cstr(cr.username, "Mufa\"sa"));
    assert_true(cr.username.p >= scratch && cr.username.p < scratch + sizeof(scratch));
    assert_true(rd_str_eq_cstr(cr.cnonce, "c\\n"));
    assert_true(rd_str_eq_cstr(cr.realm, "testrealm@host.com"));
    assert_true(cr.realm.p == g.data + 36); /* no escapes: a view into the header itself */
    assert_true(rd_str_eq_cstr(cr.nc, "0000010F"));
    assert_int_equal(cr.nc_value, 0x10f);
    assert_true(rd_str_eq_cstr(cr.qop, "auth"));
    assert_int_equal(cr.alg, RD_HASH_MD5);
    assert_false(cr.alg_present);
    guard_buf_free(&g);

    /* NUL bytes anywhere are refused (explicit lengths: the value is not a C string). */
    static const char with_nul[] = "Digest " ALL ", x=\"a\0b\"";
    assert_int_equal(digest_credentials_parse(rd_str_make(with_nul, sizeof(with_nul) - 1), scratch,
                                              sizeof(scratch), &cr),
                     RD_EPROTO);
    static const char nul_token[] = "Digest " ALL ", x=a\0b";
    assert_int_equal(digest_credentials_parse(rd_str_make(nul_token, sizeof(nul_token) - 1),
                                              scratch, sizeof(scratch), &cr),
                     RD_EPROTO);
}

/* ---- Challenge choice ---------------------------------------------------------------------- */

struct pick_vec {
    const char *values[4];
    bool allow_basic;
    int rc;
    enum digest_scheme scheme;
    enum rd_hash_alg alg;
    bool qop;
    bool stale;
    const char *realm;
    const char *nonce;
};

#define NOPICK DIGEST_SCHEME_NONE, RD_HASH_MD5, false, false, NULL, NULL

static const struct pick_vec pick_vectors[] = {
    /* Hikvision: Digest without qop, quoted upper-case stale, plus Basic */
    {{"Digest realm=\"4419b63f5e51\", nonce=\"8b84a3b789283a8bea8da7fa7d41f08b\", "
      "stale=\"FALSE\"",
      "Basic realm=\"4419b63f5e51\""},
     true,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     false,
     "4419b63f5e51",
     "8b84a3b789283a8bea8da7fa7d41f08b"},
    /* Axis */
    {{"Digest realm=\"AXIS_ACCC8E12345F\", "
      "nonce=\"0024e47aY398109708de9ccd8056c58a068a59540a99d3\", "
      "stale=FALSE",
      "Basic realm=\"AXIS_ACCC8E12345F\""},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     false,
     "AXIS_ACCC8E12345F",
     NULL},
    /* Axis OS 11 style: SHA-256 and MD5 offered */
    {{"Digest realm=\"AXIS_B8A44F000001\", nonce=\"00f5a1b2Y1f0e\", algorithm=MD5, qop=\"auth\"",
      "Digest realm=\"AXIS_B8A44F000001\", nonce=\"00f5a1b2Y1f0e\", algorithm=SHA-256, "
      "qop=\"auth\""},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_SHA256,
     true,
     false,
     "AXIS_B8A44F000001",
     NULL},
    /* Dahua */
    {{"Digest realm=\"Login to 4M03A2BPAG00044\", nonce=\"1281466958\", qop=\"auth\", "
      "opaque=\"1d8e8f5ad4f9a6bd38d8d2a8c0fad6f6bb1cc7b9\""},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     true,
     false,
     "Login to 4M03A2BPAG00044",
     "1281466958"},
    /* live555 */
    {{"Digest realm=\"LIVE555 Streaming Media\", nonce=\"a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9\""},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     false,
     "LIVE555 Streaming Media",
     NULL},
    /* a camera quoting the algorithm and writing it in lower case */
    {{"Digest realm=\"IPC\", nonce=\"n\", algorithm=\"md5\", qop=auth"},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     true,
     false,
     "IPC",
     "n"},
    /* several challenges in one header */
    {{"Digest realm=\"a\", nonce=\"n1\", Basic realm=\"b\""},
     true,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     false,
     "a",
     "n1"},
    {{"Basic realm=\"b\", Digest realm=\"a\", nonce=\"n1\""},
     true,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     false,
     "a",
     "n1"},
    {{"Digest realm=\"a\", nonce=\"md5\", Digest realm=\"b\", nonce=\"sha\", algorithm=SHA-256"},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_SHA256,
     false,
     false,
     "b",
     "sha"},
    {{"Digest realm=\"a\", nonce=\"first\", algorithm=SHA-256",
      "Digest realm=\"a\", nonce=\"second\", algorithm=SHA-256"},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_SHA256,
     false,
     false,
     "a",
     "first"},
    {{"Digest realm=\"a\", nonce=\"n\", algorithm=SHA-256-sess",
      "Digest realm=\"a\", nonce=\"m\", algorithm=MD5"},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     false,
     "a",
     "m"},
    /* Basic only when allowed */
    {{"Basic realm=\"x\""}, false, RD_ENOTFOUND, 0, 0, false, false, NULL, NULL},
    {{"Basic realm=\"x\""}, true, RD_OK, DIGEST_SCHEME_BASIC, 0, false, false, "x", NULL},
    /* RFC 7235 §4.1 example: an unknown scheme with an escaped title, then Basic */
    {{"Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\""},
     true,
     RD_OK,
     DIGEST_SCHEME_BASIC,
     0,
     false,
     false,
     "simple",
     NULL},
    {{"Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\""},
     false,
     RD_ENOTFOUND,
     0,
     0,
     false,
     false,
     NULL,
     NULL},
    {{"Negotiate abc==, Digest realm=\"a\", nonce=\"n\""},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     false,
     "a",
     "n"},
    /* unsupported Digest variants */
    {{"Digest realm=\"a\", nonce=\"n\", algorithm=MD5-sess"}, false, RD_ENOTFOUND, NOPICK},
    {{"Digest realm=\"a\", nonce=\"n\", algorithm=SHA-512-256"}, false, RD_ENOTFOUND, NOPICK},
    {{"Digest realm=\"a\", nonce=\"n\", algorithm=SHA-256-sess, qop=auth"},
     false,
     RD_ENOTFOUND,
     NOPICK},
    {{"Digest realm=\"a\", nonce=\"n\", qop=\"auth-int\""}, false, RD_ENOTFOUND, NOPICK},
    {{"Digest realm=\"a\", nonce=\"n\", qop=\"auth-int, auth\""},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     true,
     false,
     "a",
     "n"},
    {{""}, true, RD_ENOTFOUND, NOPICK},
    {{" , ,"}, true, RD_ENOTFOUND, NOPICK},
    {{NULL}, true, RD_ENOTFOUND, NOPICK},
    /* stale */
    {{"Digest realm=\"a\", nonce=\"n\", stale=true"},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     true,
     "a",
     "n"},
    {{"Digest realm=\"a\", nonce=\"n\", stale=TRUE"},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     true,
     "a",
     "n"},
    {{"Digest realm=\"a\", nonce=\"n\", stale=\"true\""},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     true,
     "a",
     "n"},
    {{"Digest realm=\"a\", nonce=\"n\", stale=false"},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     false,
     "a",
     "n"},
    /* escapes are removed from what we store */
    {{"Digest realm=\"a\\\"b\", nonce=\"n\\\\1\""},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     false,
     "a\"b",
     "n\\1"},
    /* unknown Digest parameters are ignored */
    {{"Digest realm=\"a\", domain=\"/ rtsp://x/\", nonce=\"n\", charset=UTF-8, userhash=false"},
     false,
     RD_OK,
     DIGEST_SCHEME_DIGEST,
     RD_HASH_MD5,
     false,
     false,
     "a",
     "n"},
    /* malformed: the whole response fails, even next to a usable challenge */
    {{"Digest realm=\"a\""}, false, RD_EPROTO, NOPICK},
    {{"Digest nonce=\"n\""}, false, RD_EPROTO, NOPICK},
    {{"Digest realm=\"a\", nonce=\"\""}, false, RD_EPROTO, NOPICK},
    {{"Digest realm=\"a\", realm=\"b\", nonce=\"n\""}, false, RD_EPROTO, NOPICK},
    {{"Digest realm=\"a\", nonce=\"n\", NONCE=\"m\""}, false, RD_EPROTO, NOPICK},
    {{"Basic realm=\"a\", realm=\"b\""}, true, RD_EPROTO, NOPICK},
    {{"Digest abc="}, false, RD_EPROTO, NOPICK},
    {{"realm=\"a\", Digest nonce=\"n\""}, false, RD_EPROTO, NOPICK},
    {{"Digest realm=\"a, nonce=\"n\""}, false, RD_EPROTO, NOPICK},
    {{"Digest realm=\"a\", nonce=\"n\"", "Digest realm=\"a\r\n\", nonce=\"n\""},
     false,
     RD_EPROTO,
     NOPICK},
    {{"Digest realm=\"a\", nonce=\"n\"", "nonce=\"m\""}, false, RD_EPROTO, NOPICK},
    {{"Basic abc=, realm=\"x\""}, true, RD_EPROTO, NOPICK},
    {{"Digest realm=\"a\" nonce=\"n\""}, false, RD_EPROTO, NOPICK},
    {{"Digest realm=\"a\", nonce=n/1"}, false, RD_EPROTO, NOPICK},
};

static void
test_pick_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pick_vectors) / sizeof(pick_vectors[0]); i++) {
        const struct pick_vec *v = &pick_vectors[i];
        struct digest_challenge ch;
        memset(&ch, 0x5a, sizeof(ch));
        int rc = pick_guarded(v->values, v->allow_basic, &ch);
        if (rc != v->rc)
            fail_msg("vector %zu (%s): got %d, want %d", i, v->values[0] ? v->values[0] : "-", rc,
                     v->rc);
        if (rc != RD_OK) {
            assert_int_equal(ch.scheme, DIGEST_SCHEME_NONE);
            assert_int_equal(ch.realm_len, 0);
            continue;
        }
        assert_int_equal(ch.scheme, v->scheme);
        if (v->scheme == DIGEST_SCHEME_DIGEST) {
            assert_int_equal(ch.alg, v->alg);
            assert_int_equal(ch.qop_auth, v->qop);
            assert_int_equal(ch.stale, v->stale);
            assert_int_equal(ch.nc, 0);
        }
        if (v->realm != NULL) {
            assert_string_equal(ch.realm, v->realm);
            assert_int_equal(ch.realm_len, strlen(v->realm));
        }
        if (v->nonce != NULL)
            assert_string_equal(ch.nonce, v->nonce);
    }
}

/* ---- Basic and client-side refusals --------------------------------------------------------- */

static void
test_basic(void **state)
{
    (void)state;
    char out[512];
    /* RFC 7617 §2 */
    assert_int_equal(digest_basic_build(LIT("Aladdin"), LIT("open sesame"), out, sizeof(out)), 34);
    assert_string_equal(out, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    assert_int_equal(digest_basic_build(LIT("Aladdin"), LIT("open sesame"), out, 35), 34);
    assert_int_equal(digest_basic_build(LIT("Aladdin"), LIT("open sesame"), out, 34), RD_ELIMIT);
    assert_string_equal(out, "");
    assert_int_equal(digest_basic_build(LIT("Aladdin"), LIT("open sesame"), out, 6), RD_ELIMIT);
    assert_int_equal(digest_basic_build(LIT("Aladdin"), LIT("open sesame"), out, 0), RD_ELIMIT);
    assert_int_equal(digest_basic_build(LIT(""), LIT(""), out, sizeof(out)), 10);
    assert_string_equal(out, "Basic Og==");
    /* ':' is fine in the password, UTF-8 is passed through. */
    assert_true(digest_basic_build(LIT("admin"), LIT("a:b"), out, sizeof(out)) > 0);
    assert_string_equal(out, "Basic YWRtaW46YTpi");
    assert_true(digest_basic_build(LIT("jos\xc3\xa9"), LIT("x"), out, sizeof(out)) > 0);
    /* Refusals. */
    assert_int_equal(digest_basic_build(LIT("ad:min"), LIT("x"), out, sizeof(out)), RD_EPROTO);
    assert_int_equal(digest_basic_build(LIT("admin\r\n"), LIT("x"), out, sizeof(out)), RD_EPROTO);
    assert_int_equal(digest_basic_build(LIT("ad\0min"), LIT("x"), out, sizeof(out)), RD_EPROTO);
    assert_int_equal(digest_basic_build(LIT("admin"), LIT("x\r"), out, sizeof(out)), RD_EPROTO);
    assert_int_equal(digest_basic_build(LIT("admin"), LIT("x\n"), out, sizeof(out)), RD_EPROTO);
    assert_int_equal(digest_basic_build(LIT("admin"), LIT("x\0y"), out, sizeof(out)), RD_EPROTO);

    /* Through a picked Basic challenge. */
    struct digest_challenge ch;
    assert_int_equal(pick1("Basic realm=\"cam\"", true, &ch), RD_OK);
    struct digest_client_request req = {LIT("DESCRIBE"), LIT("rtsp://c/"), LIT("Aladdin"),
                                        LIT("open sesame")};
    assert_int_equal(digest_authorization_build(&ch, &req, out, sizeof(out)), 34);
    assert_string_equal(out, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    assert_int_equal(ch.nc, 0);
    req.username = LIT("a:b");
    assert_int_equal(digest_authorization_build(&ch, &req, out, sizeof(out)), RD_EPROTO);
}

static void
test_client_refusals(void **state)
{
    (void)state;
    struct digest_challenge ch;
    assert_int_equal(pick1(rfc7616_sha256, false, &ch), RD_OK);
    char out[DIGEST_AUTHORIZATION_MAX];
    const struct {
        struct rd_str method, uri, user, pass;
        int rc;
    } v[] = {
        {LIT("DESCRIBE"), LIT("rtsp://c/x"), LIT("ad:min"), LIT("p\x01w"),
         1}, /* ':' ok for Digest */
        {LIT("DESCRIBE"), LIT("rtsp://c/x"), LIT("admin\r"), LIT("pw"), RD_EPROTO},
        {LIT("DESCRIBE"), LIT("rtsp://c/x"), LIT("ad\nmin"), LIT("pw"), RD_EPROTO},
        {LIT("DESCRIBE"), LIT("rtsp://c/x"), LIT("ad\0min"), LIT("pw"), RD_EPROTO},
        {LIT("DESCRIBE"), LIT("rtsp://c/x"), LIT("ad\tmin"), LIT("pw"), RD_EPROTO},
        {LIT("DESCRIBE"), LIT("rtsp://c/x"), LIT("admin"), LIT("p\rw"), RD_EPROTO},
        {LIT("DESCRIBE"), LIT("rtsp://c/x"), LIT("admin"), LIT("p\nw"), RD_EPROTO},
        {LIT("DESCRIBE"), LIT("rtsp://c/x"), LIT("admin"), LIT("p\0w"), RD_EPROTO},
        {LIT(""), LIT("rtsp://c/x"), LIT("admin"), LIT("pw"), RD_EPROTO},
        {LIT("DESC RIBE"), LIT("rtsp://c/x"), LIT("admin"), LIT("pw"), RD_EPROTO},
        {LIT("DESCRIBE\r\nX: y"), LIT("rtsp://c/x"), LIT("admin"), LIT("pw"), RD_EPROTO},
        {LIT("DESCRIBE"), LIT(""), LIT("admin"), LIT("pw"), RD_EPROTO},
        {LIT("DESCRIBE"), LIT("rtsp://c/x\r\n"), LIT("admin"), LIT("pw"), RD_EPROTO},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct digest_client_request req = {v[i].method, v[i].uri, v[i].user, v[i].pass};
        uint32_t nc = ch.nc;
        int rc = digest_authorization_build(&ch, &req, out, sizeof(out));
        if (v[i].rc == 1) {
            assert_true(rc > 0);
            assert_int_equal(ch.nc, nc + 1);
        } else {
            if (rc != v[i].rc)
                fail_msg("vector %zu: got %d, want %d", i, rc, v[i].rc);
            assert_int_equal(ch.nc, nc);
        }
    }
    /* cnonce: 1..64 token68 characters. */
    struct digest_client_request req = {LIT("DESCRIBE"), LIT("rtsp://c/x"), LIT("admin"),
                                        LIT("pw")};
    assert_int_equal(digest_authorization_build_cnonce(&ch, &req, LIT("a\"b"), out, sizeof(out)),
                     RD_EPROTO);
    assert_int_equal(digest_authorization_build_cnonce(&ch, &req, LIT(""), out, sizeof(out)),
                     RD_ELIMIT);
    assert_true(
        digest_authorization_build_cnonce(&ch, &req, cstr(rep(0, 'c', 64)), out, sizeof(out)) > 0);
    assert_int_equal(
        digest_authorization_build_cnonce(&ch, &req, cstr(rep(0, 'c', 65)), out, sizeof(out)),
        RD_ELIMIT);
    /* A challenge that was never picked. */
    struct digest_challenge none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(digest_authorization_build(&none, &req, out, sizeof(out)), RD_EPROTO);
    /* Two answers get different random cnonces. */
    char first[DIGEST_AUTHORIZATION_MAX];
    assert_true(digest_authorization_build(&ch, &req, first, sizeof(first)) > 0);
    assert_true(digest_authorization_build(&ch, &req, out, sizeof(out)) > 0);
    assert_string_not_equal(strstr(first, "cnonce="), strstr(out, "cnonce="));
    /* Output exactly big enough works; one byte less is refused and leaves nc alone. */
    struct digest_challenge c2 = ch;
    int len = digest_authorization_build_cnonce(&c2, &req, LIT("abc"), out, sizeof(out));
    assert_true(len > 0);
    c2 = ch;
    assert_int_equal(digest_authorization_build_cnonce(&c2, &req, LIT("abc"), out, (size_t)len),
                     RD_ELIMIT);
    assert_string_equal(out, "");
    assert_int_equal(c2.nc, ch.nc);
    assert_int_equal(digest_authorization_build_cnonce(&c2, &req, LIT("abc"), out, (size_t)len + 1),
                     len);
    assert_int_equal(c2.nc, ch.nc + 1);
}

/* HTAB is legal inside quoted-strings (RFC 7230 §3.2.6): a camera's realm or nonce holding one
 * is answered with it echoed, and our own parser reads that answer back. (Found by fuzzing.) */
static void
test_tab_in_camera_fields(void **state)
{
    (void)state;
    struct digest_challenge ch;
    assert_int_equal(pick1("Digest realm=\"IP\tCamera\", nonce=\"7yp\t/x\", qop=auth, "
                           "opaque=\"o\to\"",
                           false, &ch),
                     RD_OK);
    assert_string_equal(ch.realm, "IP\tCamera");
    assert_string_equal(ch.nonce, "7yp\t/x");
    struct digest_client_request req = {LIT("DESCRIBE"), LIT("rtsp://c/"), LIT("u"), LIT("p")};
    char out[DIGEST_AUTHORIZATION_MAX];
    int len = digest_authorization_build(&ch, &req, out, sizeof(out));
    assert_true(len > 0);
    assert_non_null(strstr(out, "nonce=\"7yp\t/x\""));
    struct guard_buf g = {0};
    struct digest_credentials cr;
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    assert_int_equal(parse_guarded(&g, out, scratch, sizeof(scratch), &cr), RD_OK);
    assert_true(rd_str_eq_cstr(cr.realm, "IP\tCamera"));
    assert_true(rd_str_eq_cstr(cr.opaque, "o\to"));
    guard_buf_free(&g);
    /* Any other control character in a picked field is refused at build time. */
    ch.nonce[1] = '\r';
    assert_int_equal(digest_authorization_build(&ch, &req, out, sizeof(out)), RD_EPROTO);
}

static void
test_server_challenge_and_ha1(void **state)
{
    (void)state;
    char out[256];
    const char *want = "Digest realm=\"rtsp-director\", nonce=\"abc\", algorithm=SHA-256, "
                       "qop=\"auth\"";
    assert_int_equal(
        digest_challenge_build(&test_srv, RD_HASH_SHA256, LIT("abc"), false, out, sizeof(out)),
        (int)strlen(want));
    assert_string_equal(out, want);
    int len = digest_challenge_build(&test_srv, RD_HASH_MD5, LIT("abc"), true, out, sizeof(out));
    assert_int_equal(len, (int)strlen(out));
    assert_string_equal(out, "Digest realm=\"rtsp-director\", nonce=\"abc\", algorithm=MD5, "
                             "qop=\"auth\", stale=true");
    size_t n = strlen(out);
    assert_int_equal(digest_challenge_build(&test_srv, RD_HASH_MD5, LIT("abc"), true, out, n + 1),
                     (int)n);
    assert_int_equal(digest_challenge_build(&test_srv, RD_HASH_MD5, LIT("abc"), true, out, n),
                     RD_ELIMIT);
    assert_string_equal(out, "");
    assert_int_equal(digest_challenge_build(&test_srv, RD_HASH_MD5, LIT("abc"), true, out, 0),
                     RD_ELIMIT);
    struct digest_server crlf = {LIT("a\r\nb"), test_key, sizeof(test_key)};
    assert_int_equal(
        digest_challenge_build(&crlf, RD_HASH_MD5, LIT("abc"), false, out, sizeof(out)), RD_EPROTO);
    assert_int_equal(
        digest_challenge_build(&test_srv, RD_HASH_MD5, RD_STR_NULL, false, out, sizeof(out)),
        RD_EPROTO);
    assert_int_equal(digest_nonce_mint(&test_srv, T0, out, DIGEST_NONCE_BUF - 1), RD_ELIMIT);

    char ha1[65];
    assert_int_equal(digest_ha1_hex(RD_HASH_MD5, LIT("u"), LIT("r"), LIT("p"), ha1, 33), 32);
    assert_int_equal(digest_ha1_hex(RD_HASH_MD5, LIT("u"), LIT("r"), LIT("p"), ha1, 32), RD_ELIMIT);
    assert_int_equal(digest_ha1_hex(RD_HASH_SHA256, LIT("u"), LIT("r"), LIT("p"), ha1, 64),
                     RD_ELIMIT);
    assert_int_equal(digest_ha1_hex(RD_HASH_MD5, LIT(""), LIT("r"), LIT("p"), ha1, 65), RD_EPROTO);
    assert_int_equal(digest_ha1_hex(RD_HASH_MD5, LIT("u"), LIT(""), LIT("p"), ha1, 65), RD_EPROTO);
    assert_int_equal(digest_ha1_hex(RD_HASH_MD5, LIT("u\n"), LIT("r"), LIT("p"), ha1, 65),
                     RD_EPROTO);
    assert_int_equal(digest_ha1_hex(RD_HASH_MD5, LIT("u"), LIT("r\x7f"), LIT("p"), ha1, 65),
                     RD_EPROTO);
    assert_int_equal(digest_ha1_hex(RD_HASH_MD5, LIT("u"), LIT("r"), LIT("p\r"), ha1, 65),
                     RD_EPROTO);
    assert_int_equal(digest_ha1_hex(RD_HASH_MD5, LIT("u"), LIT("r"), LIT(""), ha1, 65), 32);
    /* MD5("u:r:") by hand */
    uint8_t h[16];
    char want_hex[33];
    struct rd_str p[] = {LIT("u:r:")};
    assert_int_equal(rd_hash_parts(RD_HASH_MD5, p, 1, h), RD_OK);
    rd_hex_encode(h, 16, want_hex);
    assert_string_equal(ha1, want_hex);
}

/* ---- One case per limit --------------------------------------------------------------------- */

/* A valid Authorization of exactly `total` bytes, padded with an unknown parameter. */
static const char *
cred_of_len(size_t total)
{
    static char buf[RD_RTSP_MAX_AUTHORIZATION + 64];
    const char *head = "Digest " ALL ", x=\"";
    size_t fixed = strlen(head) + 1;
    assert_true(total > fixed && total < sizeof(buf));
    int w = snprintf(buf, sizeof(buf), "%s%s\"", head, rep(3, 'p', total - fixed));
    assert_int_equal(w, (int)total);
    return buf;
}

static void
test_limit_authorization_len(void **state)
{
    (void)state;
    assert_int_equal(parse_status(cred_of_len(RD_RTSP_MAX_AUTHORIZATION)), RD_OK);
    assert_int_equal(parse_status(cred_of_len(RD_RTSP_MAX_AUTHORIZATION + 1)), RD_ELIMIT);
}

#define CRED_FMT "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", " Q ", " RESP

static int
parse_with_field(const char *user, const char *realm, const char *nonce, const char *uri)
{
    char buf[RD_RTSP_MAX_AUTHORIZATION + 1];
    int w = snprintf(buf, sizeof(buf), CRED_FMT, user, realm, nonce, uri);
    assert_true(w > 0 && (size_t)w < sizeof(buf));
    return parse_status(buf);
}

static int
pick_with(const char *realm, const char *nonce, const char *opaque)
{
    char buf[RD_AUTH_MAX_CHALLENGE + 1];
    int w = snprintf(buf, sizeof(buf), "Digest realm=\"%s\", nonce=\"%s\", opaque=\"%s\"", realm,
                     nonce, opaque);
    assert_true(w > 0 && (size_t)w < sizeof(buf));
    struct digest_challenge ch;
    return pick1(buf, false, &ch);
}

static void
test_limit_username(void **state)
{
    (void)state;
    assert_int_equal(parse_with_field(rep(0, 'u', RD_AUTH_MAX_USERNAME), "r", "n", "/"), RD_OK);
    assert_int_equal(parse_with_field(rep(0, 'u', RD_AUTH_MAX_USERNAME + 1), "r", "n", "/"),
                     RD_ELIMIT);
    /* The cap is on the unescaped value: 128 escaped characters are 256 on the wire. */
    char esc[2 * RD_AUTH_MAX_USERNAME + 3];
    for (size_t i = 0; i < RD_AUTH_MAX_USERNAME + 1; i++) {
        esc[2 * i] = '\\';
        esc[2 * i + 1] = 'e';
    }
    esc[2 * RD_AUTH_MAX_USERNAME] = '\0';
    assert_int_equal(parse_with_field(esc, "r", "n", "/"), RD_OK);
    esc[2 * RD_AUTH_MAX_USERNAME] = '\\';
    esc[2 * RD_AUTH_MAX_USERNAME + 2] = '\0';
    assert_int_equal(parse_with_field(esc, "r", "n", "/"), RD_ELIMIT);
    /* Client side and HA1. */
    struct digest_challenge ch;
    assert_int_equal(pick1(rfc7616_md5, false, &ch), RD_OK);
    char out[DIGEST_AUTHORIZATION_MAX], ha1[65];
    struct digest_client_request req = {LIT("DESCRIBE"), LIT("rtsp://c/"),
                                        cstr(rep(0, 'u', RD_AUTH_MAX_USERNAME)), LIT("pw")};
    assert_true(digest_authorization_build(&ch, &req, out, sizeof(out)) > 0);
    req.username = cstr(rep(0, 'u', RD_AUTH_MAX_USERNAME + 1));
    assert_int_equal(digest_authorization_build(&ch, &req, out, sizeof(out)), RD_ELIMIT);
    assert_int_equal(digest_basic_build(req.username, LIT("pw"), out, sizeof(out)), RD_ELIMIT);
    assert_int_equal(
        digest_ha1_hex(RD_HASH_MD5, req.username, LIT("r"), LIT("p"), ha1, sizeof(ha1)), RD_ELIMIT);
    assert_int_equal(digest_ha1_hex(RD_HASH_MD5, cstr(rep(0, 'u', RD_AUTH_MAX_USERNAME)), LIT("r"),
                                    LIT("p"), ha1, sizeof(ha1)),
                     32);
}

static void
test_limit_realm(void **state)
{
    (void)state;
    assert_int_equal(parse_with_field("u", rep(0, 'r', RD_AUTH_MAX_REALM), "n", "/"), RD_OK);
    assert_int_equal(parse_with_field("u", rep(0, 'r', RD_AUTH_MAX_REALM + 1), "n", "/"),
                     RD_ELIMIT);
    assert_int_equal(pick_with(rep(0, 'r', RD_AUTH_MAX_REALM), "n", "o"), RD_OK);
    assert_int_equal(pick_with(rep(0, 'r', RD_AUTH_MAX_REALM + 1), "n", "o"), RD_ELIMIT);
    char ha1[65];
    assert_int_equal(digest_ha1_hex(RD_HASH_MD5, LIT("u"), cstr(rep(0, 'r', RD_AUTH_MAX_REALM)),
                                    LIT("p"), ha1, sizeof(ha1)),
                     32);
    assert_int_equal(digest_ha1_hex(RD_HASH_MD5, LIT("u"), cstr(rep(0, 'r', RD_AUTH_MAX_REALM + 1)),
                                    LIT("p"), ha1, sizeof(ha1)),
                     RD_ELIMIT);
}

static void
test_limit_nonce(void **state)
{
    (void)state;
    assert_int_equal(parse_with_field("u", "r", rep(0, 'n', RD_AUTH_MAX_NONCE), "/"), RD_OK);
    assert_int_equal(parse_with_field("u", "r", rep(0, 'n', RD_AUTH_MAX_NONCE + 1), "/"),
                     RD_ELIMIT);
    assert_int_equal(pick_with("r", rep(0, 'n', RD_AUTH_MAX_NONCE), "o"), RD_OK);
    assert_int_equal(pick_with("r", rep(0, 'n', RD_AUTH_MAX_NONCE + 1), "o"), RD_ELIMIT);
    /* Our own nonces fit the cap with room to spare. */
    assert_true(DIGEST_NONCE_LEN <= RD_AUTH_MAX_NONCE);
}

static void
test_limit_opaque(void **state)
{
    (void)state;
    assert_int_equal(pick_with("r", "n", rep(0, 'o', RD_AUTH_MAX_OPAQUE)), RD_OK);
    assert_int_equal(pick_with("r", "n", rep(0, 'o', RD_AUTH_MAX_OPAQUE + 1)), RD_ELIMIT);
}

static void
test_limit_uri(void **state)
{
    (void)state;
    /* Server side the header cap binds first: a uri can never reach RD_AUTH_MAX_URI there. */
    assert_true(RD_AUTH_MAX_URI >= RD_RTSP_MAX_AUTHORIZATION);
    int base = snprintf(NULL, 0, CRED_FMT, "u", "r", "n", "");
    assert_true(base > 0 && base < RD_RTSP_MAX_AUTHORIZATION);
    size_t room = RD_RTSP_MAX_AUTHORIZATION - (size_t)base;
    assert_int_equal(parse_with_field("u", "r", "n", rep(0, '/', room)), RD_OK);
    /* Client side: the request URI we answer for. */
    struct digest_challenge ch;
    assert_int_equal(pick1(rfc7616_sha256, false, &ch), RD_OK);
    char out[DIGEST_AUTHORIZATION_MAX];
    struct digest_client_request req = {LIT("DESCRIBE"), cstr(rep(0, 'x', RD_AUTH_MAX_URI)),
                                        LIT("u"), LIT("p")};
    assert_true(digest_authorization_build(&ch, &req, out, sizeof(out)) > RD_AUTH_MAX_URI);
    req.uri = cstr(rep(0, 'x', RD_AUTH_MAX_URI + 1));
    assert_int_equal(digest_authorization_build(&ch, &req, out, sizeof(out)), RD_ELIMIT);

    /* DIGEST_AUTHORIZATION_MAX holds the worst case: every field at its cap, all escaped. */
    char chal[RD_AUTH_MAX_CHALLENGE + 1];
    char realm[2 * RD_AUTH_MAX_REALM + 1], nonce[2 * RD_AUTH_MAX_NONCE + 1],
        opaque[2 * RD_AUTH_MAX_OPAQUE + 1];
    memcpy(realm, rep(0, '"', RD_AUTH_MAX_REALM), RD_AUTH_MAX_REALM + 1);
    for (size_t i = 0; i < RD_AUTH_MAX_REALM; i++)
        memcpy(realm + 2 * i, "\\\"", 2);
    realm[2 * RD_AUTH_MAX_REALM] = '\0';
    for (size_t i = 0; i < RD_AUTH_MAX_NONCE; i++)
        memcpy(nonce + 2 * i, "\\\\", 2);
    nonce[2 * RD_AUTH_MAX_NONCE] = '\0';
    for (size_t i = 0; i < RD_AUTH_MAX_OPAQUE; i++)
        memcpy(opaque + 2 * i, "\\\"", 2);
    opaque[2 * RD_AUTH_MAX_OPAQUE] = '\0';
    int w = snprintf(chal, sizeof(chal),
                     "Digest realm=\"%s\", nonce=\"%s\", opaque=\"%s\", algorithm=SHA-256, "
                     "qop=auth",
                     realm, nonce, opaque);
    assert_true(w > 0 && (size_t)w < sizeof(chal));
    assert_int_equal(pick1(chal, false, &ch), RD_OK);
    assert_int_equal(ch.realm_len, RD_AUTH_MAX_REALM);
    assert_int_equal(ch.nonce_len, RD_AUTH_MAX_NONCE);
    assert_int_equal(ch.opaque_len, RD_AUTH_MAX_OPAQUE);
    req.uri = cstr(rep(0, '"', RD_AUTH_MAX_URI));
    req.username = cstr(rep(1, '\\', RD_AUTH_MAX_USERNAME));
    req.password = cstr(rep(2, 'p', RD_AUTH_MAX_PASSWORD));
    int len = digest_authorization_build(&ch, &req, out, sizeof(out));
    assert_true(len > 0 && (size_t)len < sizeof(out));
}

static void
test_limit_params(void **state)
{
    (void)state;
    /* 8 parameters in ALL, plus 8 unknown = RD_AUTH_MAX_PARAMS. */
    assert_int_equal(RD_AUTH_MAX_PARAMS, 16);
    const char *sixteen = "Digest " ALL ", a=1, b=2, c=3, d=4, e=5, f=6, g=7, h=8";
    assert_int_equal(parse_status(sixteen), RD_OK);
    char buf[512];
    int w = snprintf(buf, sizeof(buf), "%s, i=9", sixteen);
    assert_true(w > 0 && (size_t)w < sizeof(buf));
    assert_int_equal(parse_status(buf), RD_ELIMIT);

    const char *chal16 = "Digest realm=\"r\", nonce=\"n\", a=1, b=2, c=3, d=4, e=5, f=6, g=7, "
                         "h=8, i=9, j=10, k=11, l=12, m=13, o=14";
    struct digest_challenge ch;
    assert_int_equal(pick1(chal16, false, &ch), RD_OK);
    w = snprintf(buf, sizeof(buf), "%s, p=15", chal16);
    assert_true(w > 0 && (size_t)w < sizeof(buf));
    assert_int_equal(pick1(buf, false, &ch), RD_ELIMIT);
    /* Also for schemes we do not use: the scanner never stores more than the cap. */
    w = snprintf(buf, sizeof(buf), "Newauth %s", chal16 + 7);
    assert_true(w > 0 && (size_t)w < sizeof(buf));
    assert_int_equal(pick1(buf, true, &ch), RD_ENOTFOUND);
    w = snprintf(buf, sizeof(buf), "Newauth %s, p=15", chal16 + 7);
    assert_true(w > 0 && (size_t)w < sizeof(buf));
    assert_int_equal(pick1(buf, true, &ch), RD_ELIMIT);
}

static void
test_limit_challenge_len(void **state)
{
    (void)state;
    char buf[RD_AUTH_MAX_CHALLENGE + 2];
    const char *head = "Digest realm=\"r\", nonce=\"n\", domain=\"";
    size_t fixed = strlen(head) + 1;
    int w = snprintf(buf, sizeof(buf), "%s%s\"", head, rep(0, 'd', RD_AUTH_MAX_CHALLENGE - fixed));
    assert_int_equal(w, RD_AUTH_MAX_CHALLENGE);
    struct digest_challenge ch;
    assert_int_equal(pick1(buf, false, &ch), RD_OK);
    w = snprintf(buf, sizeof(buf), "%s%s\"", head, rep(0, 'd', RD_AUTH_MAX_CHALLENGE + 1 - fixed));
    assert_int_equal(w, RD_AUTH_MAX_CHALLENGE + 1);
    assert_int_equal(pick1(buf, false, &ch), RD_ELIMIT);
}

static void
test_limit_challenges(void **state)
{
    (void)state;
    assert_int_equal(RD_AUTH_MAX_CHALLENGES, 8);
    struct digest_challenge ch;
    const char *eight = "Digest realm=\"r\", nonce=\"n\", A, B, C x=1, D, E, F, G";
    assert_int_equal(pick1(eight, false, &ch), RD_OK);
    char buf[256];
    int w = snprintf(buf, sizeof(buf), "%s, H", eight);
    assert_true(w > 0 && (size_t)w < sizeof(buf));
    assert_int_equal(pick1(buf, false, &ch), RD_ELIMIT);
    /* Counted across headers. */
    const char *four_four[] = {"A, B, C, D", "Digest realm=\"r\", nonce=\"n\", E, F, G", NULL};
    assert_int_equal(pick_guarded(four_four, false, &ch), RD_OK);
    const char *four_five[] = {"A, B, C, D", "Digest realm=\"r\", nonce=\"n\", E, F, G, H", NULL};
    assert_int_equal(pick_guarded(four_five, false, &ch), RD_ELIMIT);
}

static void
test_limit_password(void **state)
{
    (void)state;
    struct digest_challenge ch;
    assert_int_equal(pick1(rfc7616_sha256, false, &ch), RD_OK);
    char out[DIGEST_AUTHORIZATION_MAX], ha1[65];
    struct digest_client_request req = {LIT("DESCRIBE"), LIT("rtsp://c/"), LIT("u"),
                                        cstr(rep(0, 'p', RD_AUTH_MAX_PASSWORD))};
    assert_true(digest_authorization_build(&ch, &req, out, sizeof(out)) > 0);
    assert_true(digest_basic_build(LIT("u"), req.password, out, sizeof(out)) > 0);
    assert_int_equal(
        digest_ha1_hex(RD_HASH_MD5, LIT("u"), LIT("r"), req.password, ha1, sizeof(ha1)), 32);
    req.password = cstr(rep(0, 'p', RD_AUTH_MAX_PASSWORD + 1));
    assert_int_equal(digest_authorization_build(&ch, &req, out, sizeof(out)), RD_ELIMIT);
    assert_int_equal(digest_basic_build(LIT("u"), req.password, out, sizeof(out)), RD_ELIMIT);
    assert_int_equal(
        digest_ha1_hex(RD_HASH_MD5, LIT("u"), LIT("r"), req.password, ha1, sizeof(ha1)), RD_ELIMIT);
}

static void
test_limit_nonce_ttl(void **state)
{
    (void)state;
    char nonce[DIGEST_NONCE_BUF];
    assert_int_equal(digest_nonce_mint(&test_srv, T0, nonce, sizeof(nonce)), DIGEST_NONCE_LEN);
    assert_int_equal(digest_nonce_check(&test_srv, cstr(nonce), T0 + RD_AUTH_NONCE_TTL_S), RD_OK);
    assert_int_equal(digest_nonce_check(&test_srv, cstr(nonce), T0 + RD_AUTH_NONCE_TTL_S + 1),
                     RD_EEXPIRED);
}

static void
test_limit_nonce_key(void **state)
{
    (void)state;
    char nonce[DIGEST_NONCE_BUF];
    struct digest_server ok = {LIT("r"), test_key, RD_AUTH_NONCE_KEY_MIN_BYTES};
    struct digest_server short_key = {LIT("r"), test_key, RD_AUTH_NONCE_KEY_MIN_BYTES - 1};
    struct digest_server no_key = {LIT("r"), NULL, 0};
    assert_int_equal(digest_nonce_mint(&ok, T0, nonce, sizeof(nonce)), DIGEST_NONCE_LEN);
    assert_int_equal(digest_nonce_check(&ok, cstr(nonce), T0), RD_OK);
    assert_int_equal(digest_nonce_mint(&short_key, T0, nonce, sizeof(nonce)), RD_ELIMIT);
    assert_int_equal(digest_nonce_check(&short_key, cstr(nonce), T0), RD_ELIMIT);
    assert_int_equal(digest_nonce_mint(&no_key, T0, nonce, sizeof(nonce)), RD_ELIMIT);
    assert_int_equal(digest_nonce_check(&no_key, cstr(nonce), T0), RD_ELIMIT);
}

static void
test_limit_nc_wrap(void **state)
{
    (void)state;
    struct digest_challenge ch;
    assert_int_equal(pick1(rfc7616_sha256, false, &ch), RD_OK);
    char out[DIGEST_AUTHORIZATION_MAX];
    struct digest_client_request req = {LIT("DESCRIBE"), LIT("rtsp://c/"), LIT("u"), LIT("p")};
    ch.nc = UINT32_MAX - 1;
    assert_true(digest_authorization_build(&ch, &req, out, sizeof(out)) > 0);
    assert_non_null(strstr(out, "nc=ffffffff"));
    assert_int_equal(ch.nc, UINT32_MAX);
    assert_int_equal(digest_authorization_build(&ch, &req, out, sizeof(out)), RD_ELIMIT);
    assert_int_equal(ch.nc, UINT32_MAX);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rfc2617_example),
    cmocka_unit_test(test_rfc7616_examples),
    cmocka_unit_test(test_rfc2069_form),
    cmocka_unit_test(test_roundtrip),
    cmocka_unit_test(test_roundtrip_hostile_username),
    cmocka_unit_test(test_stale_nonce),
    cmocka_unit_test(test_tampered_nonce),
    cmocka_unit_test(test_response_every_byte),
    cmocka_unit_test(test_header_every_byte),
    cmocka_unit_test(test_credentials_table),
    cmocka_unit_test(test_credentials_fields_and_escapes),
    cmocka_unit_test(test_pick_table),
    cmocka_unit_test(test_basic),
    cmocka_unit_test(test_client_refusals),
    cmocka_unit_test(test_tab_in_camera_fields),
    cmocka_unit_test(test_server_challenge_and_ha1),
    cmocka_unit_test(test_limit_authorization_len),
    cmocka_unit_test(test_limit_username),
    cmocka_unit_test(test_limit_realm),
    cmocka_unit_test(test_limit_nonce),
    cmocka_unit_test(test_limit_opaque),
    cmocka_unit_test(test_limit_uri),
    cmocka_unit_test(test_limit_params),
    cmocka_unit_test(test_limit_challenge_len),
    cmocka_unit_test(test_limit_challenges),
    cmocka_unit_test(test_limit_password),
    cmocka_unit_test(test_limit_nonce_ttl),
    cmocka_unit_test(test_limit_nonce_key),
    cmocka_unit_test(test_limit_nc_wrap),
};

RD_TEST_MAIN(tests)
