/* SPDX-License-Identifier: MIT */
/* url_token.c: the canonical-string contract (recomputed here from the header's text), mint
 * and verify round trips, expiry and skew boundaries, bindings (camera, relay, viewer IP),
 * key rotation, every single-byte change and truncation, key file parsing. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS for guard_buf.h under -std=c11 */
#include "rd_test.h"

#include "crypto.h"
#include "guard_buf.h"
#include "rd_err.h"
#include "rd_limits.h"
#include "url.h"
#include "url_token.h"

#define NOW       1700000000LL
#define CAM       "lobby"
#define RELAY     "relay-a"
#define VIEWER_IP "192.0.2.10"

static const char key_a_hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char key_b_hex[] = "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff";

static struct url_token_key
key_make(const char *kid, const char *hex)
{
    struct url_token_key k;
    assert_int_equal(url_token_key_parse(rd_str_cstr(kid), rd_str_cstr(hex), &k), RD_OK);
    return k;
}

static struct url_token_keyring
ring_make(const struct url_token_key *cur, const struct url_token_key *prev)
{
    struct url_token_keyring r;
    assert_int_equal(url_token_keyring_set(&r, cur, prev), RD_OK);
    return r;
}

static int
mint(const struct url_token_key *k, const char *cam, const char *relay, const char *ip, int64_t now,
     unsigned ttl, char *out, size_t cap)
{
    struct rd_str ipv = ip != NULL ? rd_str_cstr(ip) : RD_STR_NULL;
    return url_token_mint(k, rd_str_cstr(cam), rd_str_cstr(relay), ip != NULL ? &ipv : NULL, now,
                          ttl, out, cap);
}

/* Verifies token (copied before a guard page) for cam/relay/ip at now. */
static int
verify(const struct url_token_keyring *r, const char *cam, const char *relay, const char *ip,
       int64_t now, const char *tok, size_t tok_len, struct url_token_claims *claims)
{
    struct guard_buf g;
    const char *in = guard_buf_put(&g, tok, tok_len);
    struct rd_str ipv = ip != NULL ? rd_str_cstr(ip) : RD_STR_NULL;
    struct url_token_claims local;
    int v = url_token_verify(r, rd_str_cstr(cam), rd_str_cstr(relay), ip != NULL ? &ipv : NULL, now,
                             rd_str_make(in, tok_len), claims != NULL ? claims : &local);
    if (claims != NULL && v == URL_TOKEN_OK) {
        /* Views must point into the input: rebase them onto tok before unmapping. */
        claims->kid.p = tok + (claims->kid.p - in);
        claims->jti.p = tok + (claims->jti.p - in);
    }
    guard_buf_free(&g);
    return v;
}

/* Builds a token from arbitrary field texts with a correct MAC, computing the canonical
 * string exactly as url_token.h documents it (independently of url_token.c). */
static void
forge(const struct url_token_key *k, const char *cam, const char *relay, const char *exp,
      const char *jti, const char *flags, const char *ip, char *out, size_t cap)
{
    char canon[1024];
    const char *ipf = ip != NULL ? ip : "";
    int n = snprintf(canon, sizeof(canon),
                     "rdtok1\n4:play\n%zu:%s\n%zu:%s\n%zu:%s\n%zu:%s\n%zu:%s\n%zu:%s\n%zu:%s\n",
                     strlen(k->kid), k->kid, strlen(cam), cam, strlen(relay), relay, strlen(exp),
                     exp, strlen(jti), jti, strlen(flags), flags, strlen(ipf), ipf);
    assert_true(n > 0 && (size_t)n < sizeof(canon));
    uint8_t full[RD_SHA256_LEN];
    struct rd_str part = rd_str_make(canon, (size_t)n);
    assert_int_equal(rd_hmac_sha256(k->key, sizeof(k->key), &part, 1, full), RD_OK);
    char mac[32];
    assert_int_equal(rd_b64url_encode(full, 16, mac, sizeof(mac)), 22);
    n = snprintf(out, cap, "%s.%s.%s.%s.%s", k->kid, exp, jti, flags, mac);
    assert_true(n > 0 && (size_t)n < cap);
}

/* Splits a token into its five fields (copies). */
static void
fields(const char *tok, char f[5][64])
{
    const char *p = tok;
    for (int i = 0; i < 5; i++) {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL && i < 4 ? (size_t)(dot - p) : strlen(p);
        assert_true(n < 64);
        memcpy(f[i], p, n);
        f[i][n] = '\0';
        p += n + 1;
    }
}

/* ---- format and contract ------------------------------------------------------------------ */

static void
test_mint_format(void **state)
{
    (void)state;
    struct url_token_key k = key_make("k1", key_a_hex);
    char tok[URL_TOKEN_MINT_MAX + 1];
    int n = mint(&k, CAM, RELAY, NULL, NOW, 60, tok, sizeof(tok));
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(tok));
    assert_true(url_token_charset_valid(rd_str_make(tok, (size_t)n)));
    char f[5][64];
    fields(tok, f);
    assert_string_equal(f[0], "k1");
    assert_string_equal(f[1], "1700000060");
    assert_int_equal(strlen(f[2]), 11);
    assert_string_equal(f[3], "0");
    assert_int_equal(strlen(f[4]), 22);
    assert_int_equal(n, 2 + 1 + 10 + 1 + 11 + 1 + 1 + 1 + 22);

    n = mint(&k, CAM, RELAY, VIEWER_IP, NOW, 60, tok, sizeof(tok));
    assert_true(n > 0);
    fields(tok, f);
    assert_string_equal(f[3], "1");

    /* Longest kid and exp still fit URL_TOKEN_MINT_MAX, and the charset/length caps. */
    struct url_token_key kl = key_make("KKKKKKKKKKKKKKKK", key_a_hex);
    n = mint(&kl, CAM, RELAY, VIEWER_IP, 999999999999LL - 300, 300, tok, sizeof(tok));
    assert_int_equal(n, URL_TOKEN_MINT_MAX);
    assert_true(URL_TOKEN_MINT_MAX <= RD_TOKEN_MAX_LEN);
}

/* url_token_mint_jti: the jti field is the caller's bytes in base64url, the token verifies,
 * equal inputs give equal tokens (the MAC is deterministic), arguments are checked as for
 * url_token_mint. */
static void
test_mint_jti(void **state)
{
    (void)state;
    struct url_token_key k = key_make("k1", key_a_hex);
    struct url_token_keyring r = ring_make(&k, NULL);
    static const uint8_t jti[URL_TOKEN_JTI_BYTES] = {0xfb, 0xff, 0x00, 0x01,
                                                     0x7e, 0x80, 0x3f, 0xc0};
    char want_jti[16];
    assert_int_equal(rd_b64url_encode(jti, sizeof(jti), want_jti, sizeof(want_jti)), 11);
    struct rd_str ip = rd_str_cstr(VIEWER_IP);
    char t1[URL_TOKEN_MINT_MAX + 1], t2[URL_TOKEN_MINT_MAX + 1];
    int n = url_token_mint_jti(&k, rd_str_cstr(CAM), rd_str_cstr(RELAY), &ip, NOW, 60, jti, t1,
                               sizeof(t1));
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(t1));
    char f[5][64];
    fields(t1, f);
    assert_string_equal(f[2], want_jti);
    assert_string_equal(f[3], "1");
    struct url_token_claims cl;
    assert_int_equal(verify(&r, CAM, RELAY, VIEWER_IP, NOW + 1, t1, (size_t)n, &cl), URL_TOKEN_OK);
    assert_true(rd_str_eq(cl.jti, rd_str_cstr(want_jti)));
    assert_int_equal(url_token_mint_jti(&k, rd_str_cstr(CAM), rd_str_cstr(RELAY), &ip, NOW, 60, jti,
                                        t2, sizeof(t2)),
                     n);
    assert_string_equal(t1, t2);
    /* The same as forging it from the documented canonical string. */
    char forged[256];
    forge(&k, CAM, RELAY, "1700000060", want_jti, "1", VIEWER_IP, forged, sizeof(forged));
    assert_string_equal(t1, forged);
    /* Bad arguments and a short buffer, as url_token_mint. */
    assert_int_equal(url_token_mint_jti(&k, rd_str_cstr("bad cam"), rd_str_cstr(RELAY), NULL, NOW,
                                        60, jti, t2, sizeof(t2)),
                     RD_EPROTO);
    assert_string_equal(t2, "");
    assert_int_equal(url_token_mint_jti(&k, rd_str_cstr(CAM), rd_str_cstr(RELAY), NULL, NOW, 0, jti,
                                        t2, sizeof(t2)),
                     RD_EPROTO);
    assert_int_equal(url_token_mint_jti(&k, rd_str_cstr(CAM), rd_str_cstr(RELAY), NULL, -1, 60, jti,
                                        t2, sizeof(t2)),
                     RD_EPROTO);
    assert_int_equal(
        url_token_mint_jti(&k, rd_str_cstr(CAM), rd_str_cstr(RELAY), NULL, NOW, 60, jti, t2, 10),
        RD_ELIMIT);
}

static void
test_canonical_contract(void **state)
{
    (void)state;
    struct url_token_key k = key_make("k1", key_a_hex);
    const char *ips[] = {NULL, VIEWER_IP, "2001:db8::1"};
    for (size_t i = 0; i < 3; i++) {
        char tok[URL_TOKEN_MINT_MAX + 1];
        assert_true(mint(&k, CAM, RELAY, ips[i], NOW, 60, tok, sizeof(tok)) > 0);
        char f[5][64];
        fields(tok, f);
        char again[256];
        forge(&k, CAM, RELAY, f[1], f[2], f[3], ips[i], again, sizeof(again));
        assert_string_equal(tok, again);
    }
    /* The documented example string, byte for byte. */
    static const char example[] =
        "rdtok1\n4:play\n2:k1\n5:lobby\n7:relay-a\n10:1700000060\n11:AAAAAAAAAAA\n1:0\n0:\n";
    uint8_t full[RD_SHA256_LEN];
    struct rd_str part = rd_str_make(example, sizeof(example) - 1);
    assert_int_equal(rd_hmac_sha256(k.key, sizeof(k.key), &part, 1, full), RD_OK);
    char mac[32];
    assert_int_equal(rd_b64url_encode(full, 16, mac, sizeof(mac)), 22);
    char tok[128];
    snprintf(tok, sizeof(tok), "k1.1700000060.AAAAAAAAAAA.0.%s", mac);
    struct url_token_keyring r = ring_make(&k, NULL);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, tok, strlen(tok), NULL), URL_TOKEN_OK);
    /* Known answers from an outside implementation (Python hmac/hashlib/base64), key 00..1f. */
    assert_string_equal(tok, "k1.1700000060.AAAAAAAAAAA.0.dZkKxFl8Yfm6Jno5ClTafA");
    static const char kat_bound[] = "k1.1700000060.q0rX-_9zZ1A.1.eeUM4BVLepzGsreUmk_-DQ";
    assert_int_equal(verify(&r, CAM, RELAY, VIEWER_IP, NOW, kat_bound, strlen(kat_bound), NULL),
                     URL_TOKEN_OK);
    assert_int_equal(verify(&r, CAM, RELAY, "192.0.2.1", NOW, kat_bound, strlen(kat_bound), NULL),
                     URL_TOKEN_BAD_MAC);
}

/* Field sets that would collide under naive concatenation must get different MACs. */
static void
test_canonical_injective(void **state)
{
    (void)state;
    struct url_token_key k = key_make("k1", key_a_hex);
    struct url_token_keyring r = ring_make(&k, NULL);
    char tok[URL_TOKEN_MINT_MAX + 1];
    /* "ab" + "c" vs "a" + "bc" (camera / relay boundary). */
    assert_true(mint(&k, "ab", "c", NULL, NOW, 60, tok, sizeof(tok)) > 0);
    assert_int_equal(verify(&r, "ab", "c", NULL, NOW, tok, strlen(tok), NULL), URL_TOKEN_OK);
    assert_int_equal(verify(&r, "a", "bc", NULL, NOW, tok, strlen(tok), NULL), URL_TOKEN_BAD_MAC);
    assert_int_equal(verify(&r, "abc", "c", NULL, NOW, tok, strlen(tok), NULL), URL_TOKEN_BAD_MAC);
    /* A relay id that embeds a field separator cannot impersonate other fields. */
    assert_true(mint(&k, "a", "b\n1:c", NULL, NOW, 60, tok, sizeof(tok)) == RD_EPROTO);
    assert_true(mint(&k, "a", "b:1", NULL, NOW, 60, tok, sizeof(tok)) > 0);
    assert_int_equal(verify(&r, "a", "b", NULL, NOW, tok, strlen(tok), NULL), URL_TOKEN_BAD_MAC);
}

/* ---- round trip and bindings -------------------------------------------------------------- */

static void
test_round_trip(void **state)
{
    (void)state;
    struct url_token_key k = key_make("k1", key_a_hex);
    struct url_token_keyring r = ring_make(&k, NULL);
    char tok[URL_TOKEN_MINT_MAX + 1];
    int n = mint(&k, CAM, RELAY, NULL, NOW, 60, tok, sizeof(tok));
    assert_true(n > 0);
    struct url_token_claims c;
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, tok, (size_t)n, &c), URL_TOKEN_OK);
    assert_true(rd_str_eq_cstr(c.kid, "k1"));
    assert_int_equal(c.exp, NOW + 60);
    assert_int_equal(c.flags, 0);
    char f[5][64];
    fields(tok, f);
    assert_true(rd_str_eq_cstr(c.jti, f[2]));
    /* Claims are views into the token, and none of them covers the MAC. */
    const char *mac_at = tok + n - 22;
    assert_true(c.kid.p >= tok && c.kid.p + c.kid.len <= mac_at);
    assert_true(c.jti.p >= tok && c.jti.p + c.jti.len <= mac_at);
    char mac[23];
    memcpy(mac, mac_at, 22);
    mac[22] = '\0';
    assert_null(strstr(f[0], mac));
    assert_null(strstr(f[2], mac));
    /* jti values differ between mints. */
    char seen[64][12];
    for (size_t i = 0; i < 64; i++) {
        assert_true(mint(&k, CAM, RELAY, NULL, NOW, 60, tok, sizeof(tok)) > 0);
        fields(tok, f);
        memcpy(seen[i], f[2], 12);
        for (size_t j = 0; j < i; j++)
            assert_true(memcmp(seen[i], seen[j], 11) != 0);
    }
}

static void
test_bindings(void **state)
{
    (void)state;
    struct url_token_key k = key_make("k1", key_a_hex);
    struct url_token_keyring r = ring_make(&k, NULL);
    char tok[URL_TOKEN_MINT_MAX + 1];
    struct url_token_claims c;

    /* Unbound: the viewer IP is ignored, known or not. */
    int n = mint(&k, CAM, RELAY, NULL, NOW, 60, tok, sizeof(tok));
    assert_int_equal(verify(&r, CAM, RELAY, "198.51.100.7", NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_OK);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, tok, (size_t)n, NULL), URL_TOKEN_OK);
    /* Other relay, other camera: MAC mismatch, and claims stay zeroed. */
    memset(&c, 0xa5, sizeof(c));
    assert_int_equal(verify(&r, CAM, "relay-b", NULL, NOW, tok, (size_t)n, &c), URL_TOKEN_BAD_MAC);
    assert_null(c.kid.p);
    assert_null(c.jti.p);
    assert_int_equal(c.exp, 0);
    assert_int_equal(verify(&r, "lobby2", RELAY, NULL, NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_BAD_MAC);
    assert_int_equal(verify(&r, "Lobby", RELAY, NULL, NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_BAD_MAC);

    /* Bound to an IP: only that IP passes. */
    n = mint(&k, CAM, RELAY, VIEWER_IP, NOW, 60, tok, sizeof(tok));
    assert_int_equal(verify(&r, CAM, RELAY, VIEWER_IP, NOW, tok, (size_t)n, &c), URL_TOKEN_OK);
    assert_int_equal(c.flags, URL_TOKEN_FLAG_IP_BOUND);
    assert_int_equal(verify(&r, CAM, RELAY, "192.0.2.11", NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_BAD_MAC);
    assert_int_equal(verify(&r, CAM, RELAY, "::ffff:192.0.2.10", NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_BAD_MAC);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, tok, (size_t)n, NULL), URL_TOKEN_BAD_MAC);
    assert_int_equal(verify(&r, CAM, "relay-b", VIEWER_IP, NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_BAD_MAC);
    n = mint(&k, CAM, RELAY, "2001:db8::1", NOW, 60, tok, sizeof(tok));
    assert_int_equal(verify(&r, CAM, RELAY, "2001:db8::1", NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_OK);
    assert_int_equal(verify(&r, CAM, RELAY, "2001:db8::2", NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_BAD_MAC);

    /* Flipping the flag to "0" on a bound token (to shed the binding) breaks the MAC. */
    n = mint(&k, CAM, RELAY, VIEWER_IP, NOW, 60, tok, sizeof(tok));
    char *flag = tok + n - 22 - 2;
    assert_int_equal(*flag, '1');
    *flag = '0';
    assert_int_equal(verify(&r, CAM, RELAY, "203.0.113.9", NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_BAD_MAC);
}

/* ---- expiry ------------------------------------------------------------------------------- */

static void
test_expiry_boundaries(void **state)
{
    (void)state;
    struct url_token_key k = key_make("k1", key_a_hex);
    struct url_token_keyring r = ring_make(&k, NULL);
    char tok[URL_TOKEN_MINT_MAX + 1];
    int n = mint(&k, CAM, RELAY, NULL, NOW, 60, tok, sizeof(tok));
    const int64_t exp = NOW + 60;
    /* Past: exp < now - skew is expired; exp == now - skew still passes. */
    assert_int_equal(verify(&r, CAM, RELAY, NULL, exp, tok, (size_t)n, NULL), URL_TOKEN_OK);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, exp + RD_TOKEN_SKEW_S, tok, (size_t)n, NULL),
                     URL_TOKEN_OK);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, exp + RD_TOKEN_SKEW_S + 1, tok, (size_t)n, NULL),
                     URL_TOKEN_EXPIRED);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, exp + 86400, tok, (size_t)n, NULL),
                     URL_TOKEN_EXPIRED);
    /* Future: exp > now + TTL_MAX + skew is refused; equality passes. */
    int64_t edge = exp - RD_TOKEN_TTL_MAX_S - RD_TOKEN_SKEW_S;
    assert_int_equal(verify(&r, CAM, RELAY, NULL, edge, tok, (size_t)n, NULL), URL_TOKEN_OK);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, edge - 1, tok, (size_t)n, NULL),
                     URL_TOKEN_FUTURE);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, 0, tok, (size_t)n, NULL), URL_TOKEN_FUTURE);

    /* The longest TTL on a relay whose clock is behind by exactly the skew still passes. */
    n = mint(&k, CAM, RELAY, NULL, NOW, RD_TOKEN_TTL_MAX_S, tok, sizeof(tok));
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW - RD_TOKEN_SKEW_S, tok, (size_t)n, NULL),
                     URL_TOKEN_OK);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW - RD_TOKEN_SKEW_S - 1, tok, (size_t)n, NULL),
                     URL_TOKEN_FUTURE);

    /* A far-future exp with a valid MAC (a broker misconfigured past TTL_MAX) is refused. */
    char forged[128];
    forge(&k, CAM, RELAY, "1700086400", "AAAAAAAAAAA", "0", NULL, forged, sizeof(forged));
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, forged, strlen(forged), NULL),
                     URL_TOKEN_FUTURE);
    forge(&k, CAM, RELAY, "999999999999", "AAAAAAAAAAA", "0", NULL, forged, sizeof(forged));
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, forged, strlen(forged), NULL),
                     URL_TOKEN_FUTURE);
    forge(&k, CAM, RELAY, "0", "AAAAAAAAAAA", "0", NULL, forged, sizeof(forged));
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, forged, strlen(forged), NULL),
                     URL_TOKEN_EXPIRED);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, 0, forged, strlen(forged), NULL), URL_TOKEN_OK);
}

/* ---- keys and rotation ---------------------------------------------------------------------- */

static void
test_kids_and_rotation(void **state)
{
    (void)state;
    struct url_token_key a = key_make("k1", key_a_hex);
    struct url_token_key b = key_make("k2", key_b_hex);
    struct url_token_key c = key_make("k3", key_b_hex);
    char tok[URL_TOKEN_MINT_MAX + 1];
    int n = mint(&a, CAM, RELAY, NULL, NOW, 60, tok, sizeof(tok));

    struct url_token_keyring only_b = ring_make(&b, NULL);
    assert_int_equal(verify(&only_b, CAM, RELAY, NULL, NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_UNKNOWN_KID);
    /* Rotation: k2 is current, k1 still previous -> the old token passes. */
    struct url_token_keyring rotated = ring_make(&b, &a);
    assert_int_equal(verify(&rotated, CAM, RELAY, NULL, NOW, tok, (size_t)n, NULL), URL_TOKEN_OK);
    struct url_token_keyring rotated2 = ring_make(&a, &b);
    assert_int_equal(verify(&rotated2, CAM, RELAY, NULL, NOW, tok, (size_t)n, NULL), URL_TOKEN_OK);
    /* A new token under k2 passes the rotated ring as well. */
    char tok2[URL_TOKEN_MINT_MAX + 1];
    int n2 = mint(&b, CAM, RELAY, NULL, NOW, 60, tok2, sizeof(tok2));
    assert_int_equal(verify(&rotated, CAM, RELAY, NULL, NOW, tok2, (size_t)n2, NULL), URL_TOKEN_OK);
    /* Rotated out: k1 no longer in the ring. */
    struct url_token_keyring next = ring_make(&c, &b);
    assert_int_equal(verify(&next, CAM, RELAY, NULL, NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_UNKNOWN_KID);
    /* Same kid, different key bytes: the MAC decides. */
    struct url_token_key a_wrong = key_make("k1", key_b_hex);
    struct url_token_keyring wrong = ring_make(&a_wrong, NULL);
    assert_int_equal(verify(&wrong, CAM, RELAY, NULL, NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_BAD_MAC);
    /* Kids must differ within a ring; an empty ring knows no kid. */
    struct url_token_keyring r;
    assert_int_equal(url_token_keyring_set(&r, &a, &a_wrong), RD_EPROTO);
    assert_int_equal(r.n, 0);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_UNKNOWN_KID);
    /* Kid comparisons are exact (case-sensitive, no prefixes). */
    struct url_token_key upper = key_make("K1", key_a_hex);
    struct url_token_key longer = key_make("k10", key_a_hex);
    struct url_token_keyring other = ring_make(&upper, &longer);
    assert_int_equal(verify(&other, CAM, RELAY, NULL, NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_UNKNOWN_KID);
}

/* ---- tampering ------------------------------------------------------------------------------ */

static void
check_never_verifies(const struct url_token_keyring *r, const char *ip, const char *tok, size_t n)
{
    static const unsigned char repl[] = {'A', 'a', 'z', 'Z', '0', '1', '9',  '-',  '_',
                                         '.', '~', '%', '/', ' ', 0,   '\n', 0x80, 0xff};
    char buf[URL_TOKEN_MINT_MAX + 2];
    assert_true(n <= URL_TOKEN_MINT_MAX);
    size_t tried = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char orig = (unsigned char)tok[i];
        unsigned char extra[] = {(unsigned char)(orig ^ 1), (unsigned char)(orig + 1),
                                 (unsigned char)(orig - 1), (unsigned char)(orig ^ 0x20)};
        for (size_t j = 0; j < sizeof(repl) + sizeof(extra); j++) {
            unsigned char b = j < sizeof(repl) ? repl[j] : extra[j - sizeof(repl)];
            if (b == orig)
                continue;
            memcpy(buf, tok, n);
            buf[i] = (char)b;
            int v = verify(r, CAM, RELAY, ip, NOW, buf, n, NULL);
            if (v == URL_TOKEN_OK)
                fail_msg("byte %zu changed to 0x%02x still verifies: %.*s", i, b, (int)n, buf);
            tried++;
        }
        /* Deleting byte i. */
        memcpy(buf, tok, i);
        memcpy(buf + i, tok + i + 1, n - i - 1);
        assert_int_not_equal(verify(r, CAM, RELAY, ip, NOW, buf, n - 1, NULL), URL_TOKEN_OK);
    }
    assert_true(tried > n * 15);
    /* Every truncation, and appending a byte. */
    for (size_t len = 0; len < n; len++)
        assert_int_not_equal(verify(r, CAM, RELAY, ip, NOW, tok, len, NULL), URL_TOKEN_OK);
    static const char tails[] = "A0._-";
    for (size_t t = 0; t < sizeof(tails) - 1; t++) {
        memcpy(buf, tok, n);
        buf[n] = tails[t];
        assert_int_not_equal(verify(r, CAM, RELAY, ip, NOW, buf, n + 1, NULL), URL_TOKEN_OK);
    }
    /* The untouched token still passes (the loop above tested something). */
    assert_int_equal(verify(r, CAM, RELAY, ip, NOW, tok, n, NULL), URL_TOKEN_OK);
}

static void
test_every_byte_change_fails(void **state)
{
    (void)state;
    struct url_token_key a = key_make("k1", key_a_hex);
    struct url_token_key b = key_make("k2", key_b_hex);
    /* Both kids live, so a kid changed into the other one reaches the MAC check. */
    struct url_token_keyring r = ring_make(&a, &b);
    char tok[URL_TOKEN_MINT_MAX + 1];
    for (int round = 0; round < 4; round++) {
        int n = mint(&a, CAM, RELAY, NULL, NOW, 60, tok, sizeof(tok));
        check_never_verifies(&r, NULL, tok, (size_t)n);
        n = mint(&b, CAM, RELAY, VIEWER_IP, NOW, 300, tok, sizeof(tok));
        check_never_verifies(&r, VIEWER_IP, tok, (size_t)n);
    }
}

/* ---- malformed tokens -------------------------------------------------------------------------
 */

static void
test_malformed(void **state)
{
    (void)state;
    struct url_token_key k = key_make("k1", key_a_hex);
    struct url_token_keyring r = ring_make(&k, NULL);
    char good[URL_TOKEN_MINT_MAX + 1];
    int n = mint(&k, CAM, RELAY, NULL, NOW, 60, good, sizeof(good));
    char f[5][64];
    fields(good, f);
    char t[512];

    struct {
        const char *exp, *jti, *flags;
    } bad_fields[] = {
        {"01700000060", f[2], "0"},   /* leading zero in exp */
        {"+1700000060", f[2], "0"},   /* sign */
        {"1700000060000", f[2], "0"}, /* 13 digits */
        {"", f[2], "0"},              /* empty exp */
        {"17000x0060", f[2], "0"},
        {"1700000060", f[2], "2"}, /* unknown flag bit, valid MAC */
        {"1700000060", f[2], "3"},
        {"1700000060", f[2], "128"},
        {"1700000060", f[2], "01"}, /* leading zero in flags */
        {"1700000060", f[2], "00"},
        {"1700000060", f[2], ""},
        {"1700000060", f[2], "1000"},
        {"1700000060", "AAAAAAAAAA", "0"},   /* jti 10 chars */
        {"1700000060", "AAAAAAAAAAAA", "0"}, /* jti 12 chars */
        {"1700000060", "AAAAAAAAAAB", "0"},  /* non-zero trailing bits: a second spelling */
        {"1700000060", "", "0"},
    };
    for (size_t i = 0; i < sizeof(bad_fields) / sizeof(bad_fields[0]); i++) {
        forge(&k, CAM, RELAY, bad_fields[i].exp, bad_fields[i].jti, bad_fields[i].flags, NULL, t,
              sizeof(t));
        int v = verify(&r, CAM, RELAY, NULL, NOW, t, strlen(t), NULL);
        if (v != URL_TOKEN_MALFORMED)
            fail_msg("case %zu '%s': verdict %s", i, t, url_token_verdict_name(v));
    }
    /* "1" with no IP bound into the MAC is not a way to shed the binding either. */
    forge(&k, CAM, RELAY, "1700000060", f[2], "1", NULL, t, sizeof(t));
    assert_int_equal(verify(&r, CAM, RELAY, VIEWER_IP, NOW, t, strlen(t), NULL), URL_TOKEN_BAD_MAC);

    const char *shapes[] = {
        "",
        ".",
        "....",
        "k1",
        "k1.1700000060.AAAAAAAAAAA.0",                          /* 4 fields */
        "k1.1700000060.AAAAAAAAAAA.0.abcdefghijklmnopqrstuQ.x", /* 6 fields */
        ".1700000060.AAAAAAAAAAA.0.abcdefghijklmnopqrstuQ",     /* empty kid */
        "k1.1700000060.AAAAAAAAAAA.0.abcdefghijklmnopqrstu",    /* mac 21 */
        "k1.1700000060.AAAAAAAAAAA.0.abcdefghijklmnopqrstuvw",  /* mac 23 */
        "k1.1700000060.AAAAAAAAAAA.0.abcdefghijklmnopqrstuB",   /* mac trailing bits */
        "k1.1700000060.AAAAAAAAAAA.0.abcdefghijklmnopqrst==",   /* padding */
        "k1.1700000060.AAAAAAAAAAA.0.abcdefghij+lmnopqrstuQ",   /* base64, not url */
        "k1.1700000060.AAAAAAAAAAA.0.abcdefghij/lmnopqrstuQ",
        "k1.1700000060.AAAAAAAAAAA.0.abcdefghij%6CmnopqrstuQ",
        "k1 .1700000060.AAAAAAAAAAA.0.abcdefghijklmnopqrstuQ",
        "KKKKKKKKKKKKKKKKK.1700000060.AAAAAAAAAAA.0.abcdefghijklmnopqrstuQ", /* kid 17 */
        "k1..1700000060.AAAAAAAAAAA.0.abcdefghijklmnopqrstuQ",
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        int v = verify(&r, CAM, RELAY, NULL, NOW, shapes[i], strlen(shapes[i]), NULL);
        if (v != URL_TOKEN_MALFORMED)
            fail_msg("shape %zu '%s': verdict %s", i, shapes[i], url_token_verdict_name(v));
    }
    /* Embedded NUL and non-ASCII bytes. */
    memcpy(t, good, (size_t)n);
    t[3] = '\0';
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, t, (size_t)n, NULL), URL_TOKEN_MALFORMED);
    t[3] = (char)0xc3;
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, t, (size_t)n, NULL), URL_TOKEN_MALFORMED);
    /* Length cap: a 257-byte token is refused on length alone. */
    memset(t, 'A', RD_TOKEN_MAX_LEN + 1);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, t, RD_TOKEN_MAX_LEN + 1, NULL),
                     URL_TOKEN_MALFORMED);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, t, RD_TOKEN_MAX_LEN, NULL),
                     URL_TOKEN_MALFORMED);
    /* The good token still passes (the table above was not vacuous). */
    assert_int_equal(verify(&r, CAM, RELAY, NULL, NOW, good, (size_t)n, NULL), URL_TOKEN_OK);
}

static void
test_bad_args(void **state)
{
    (void)state;
    struct url_token_key k = key_make("k1", key_a_hex);
    struct url_token_keyring r = ring_make(&k, NULL);
    char tok[URL_TOKEN_MINT_MAX + 1];
    int n = mint(&k, CAM, RELAY, NULL, NOW, 60, tok, sizeof(tok));
    assert_int_equal(verify(&r, "lob by", RELAY, NULL, NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_BAD_ARG);
    assert_int_equal(verify(&r, "", RELAY, NULL, NOW, tok, (size_t)n, NULL), URL_TOKEN_BAD_ARG);
    assert_int_equal(verify(&r, CAM, "", NULL, NOW, tok, (size_t)n, NULL), URL_TOKEN_BAD_ARG);
    assert_int_equal(verify(&r, CAM, "relay a", NULL, NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_BAD_ARG);
    assert_int_equal(verify(&r, CAM, RELAY, "1.2.3.4\n", NOW, tok, (size_t)n, NULL),
                     URL_TOKEN_BAD_ARG);
    assert_int_equal(verify(&r, CAM, RELAY, "", NOW, tok, (size_t)n, NULL), URL_TOKEN_BAD_ARG);
    assert_int_equal(verify(&r, CAM, RELAY, NULL, -1, tok, (size_t)n, NULL), URL_TOKEN_BAD_ARG);

    /* Mint refuses the same, plus bad TTLs and small buffers. */
    assert_int_equal(mint(&k, "lob/by", RELAY, NULL, NOW, 60, tok, sizeof(tok)), RD_EPROTO);
    assert_int_equal(mint(&k, CAM, "relay\ta", NULL, NOW, 60, tok, sizeof(tok)), RD_EPROTO);
    assert_int_equal(mint(&k, CAM, RELAY, "1.2.3.4 ", NOW, 60, tok, sizeof(tok)), RD_EPROTO);
    assert_int_equal(mint(&k, CAM, RELAY, NULL, -5, 60, tok, sizeof(tok)), RD_EPROTO);
    assert_int_equal(mint(&k, CAM, RELAY, NULL, NOW, 0, tok, sizeof(tok)), RD_EPROTO);
    assert_int_equal(mint(&k, CAM, RELAY, NULL, NOW, RD_TOKEN_TTL_MAX_S + 1, tok, sizeof(tok)),
                     RD_EPROTO);
    assert_true(mint(&k, CAM, RELAY, NULL, NOW, RD_TOKEN_TTL_MAX_S, tok, sizeof(tok)) > 0);
    assert_true(mint(&k, CAM, RELAY, NULL, NOW, 1, tok, sizeof(tok)) > 0);
    assert_int_equal(mint(&k, CAM, RELAY, NULL, 999999999999LL - 59, 60, tok, sizeof(tok)),
                     RD_EPROTO);
    char ip[RD_TOKEN_VIEWER_IP_MAX + 2];
    memset(ip, '1', sizeof(ip));
    ip[RD_TOKEN_VIEWER_IP_MAX] = '\0';
    assert_true(mint(&k, CAM, RELAY, ip, NOW, 60, tok, sizeof(tok)) > 0);
    ip[RD_TOKEN_VIEWER_IP_MAX] = '1';
    ip[RD_TOKEN_VIEWER_IP_MAX + 1] = '\0';
    assert_int_equal(mint(&k, CAM, RELAY, ip, NOW, 60, tok, sizeof(tok)), RD_EPROTO);
    char relay[RD_RELAY_ID_MAX + 2];
    memset(relay, 'r', sizeof(relay));
    relay[RD_RELAY_ID_MAX] = '\0';
    assert_true(mint(&k, CAM, relay, NULL, NOW, 60, tok, sizeof(tok)) > 0);
    relay[RD_RELAY_ID_MAX] = 'r';
    relay[RD_RELAY_ID_MAX + 1] = '\0';
    assert_int_equal(mint(&k, CAM, relay, NULL, NOW, 60, tok, sizeof(tok)), RD_EPROTO);
    struct url_token_key broken = k;
    broken.kid_len = 0;
    broken.kid[0] = '\0';
    assert_int_equal(mint(&broken, CAM, RELAY, NULL, NOW, 60, tok, sizeof(tok)), RD_EPROTO);

    n = mint(&k, CAM, RELAY, NULL, NOW, 60, tok, sizeof(tok));
    char small[URL_TOKEN_MINT_MAX + 1];
    assert_int_equal(mint(&k, CAM, RELAY, NULL, NOW, 60, small, (size_t)n + 1), n);
    memset(small, 'X', sizeof(small));
    assert_int_equal(mint(&k, CAM, RELAY, NULL, NOW, 60, small, (size_t)n), RD_ELIMIT);
    assert_int_equal(small[0], '\0');
    assert_int_equal(small[1], 'X');
    assert_int_equal(mint(&k, CAM, RELAY, NULL, NOW, 60, small, 0), RD_ELIMIT);
}

/* ---- key file format ---------------------------------------------------------------------- */

static void
test_key_parse(void **state)
{
    (void)state;
    struct url_token_key k, k2;
    uint8_t want[RD_TOKEN_KEY_BYTES];
    for (size_t i = 0; i < sizeof(want); i++)
        want[i] = (uint8_t)i;
    assert_int_equal(url_token_key_parse(rd_str_cstr("k1"), rd_str_cstr(key_a_hex), &k), RD_OK);
    assert_memory_equal(k.key, want, sizeof(want));
    assert_string_equal(k.kid, "k1");
    assert_int_equal(k.kid_len, 2);
    /* Upper-case hex, surrounding whitespace and a final newline. */
    assert_int_equal(
        url_token_key_parse(
            rd_str_cstr("k1"),
            rd_str_cstr(" \t000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\r\n"),
            &k2),
        RD_OK);
    assert_memory_equal(k2.key, want, sizeof(want));
    /* The same key in base64url (43 characters). */
    char b64[64];
    assert_int_equal(rd_b64url_encode(want, sizeof(want), b64, sizeof(b64)), 43);
    char line[80];
    snprintf(line, sizeof(line), "%s\n", b64);
    assert_int_equal(url_token_key_parse(rd_str_cstr("k1"), rd_str_cstr(line), &k2), RD_OK);
    assert_memory_equal(k2.key, want, sizeof(want));

    static const char *bad[] = {
        "",
        "\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",   /* 63 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0", /* 65 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
        "000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f",
        "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "0000000000000000000000000000000000000000000000000000000000000000", /* all zero */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",                      /* all zero b64 */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9",                      /* trailing bits set */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",                     /* padded */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+", /* '+' is not base64url */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",  /* 42 */
        "k1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&k2, 0x5a, sizeof(k2));
        if (url_token_key_parse(rd_str_cstr("k1"), rd_str_cstr(bad[i]), &k2) != RD_EPROTO)
            fail_msg("bad key %zu '%s' accepted", i, bad[i]);
        uint8_t zero[sizeof(k2)];
        memset(zero, 0, sizeof(zero));
        assert_memory_equal(&k2, zero, sizeof(k2)); /* nothing of a rejected key is left */
    }
    /* Kid rules. */
    assert_int_equal(url_token_key_parse(rd_str_cstr(""), rd_str_cstr(key_a_hex), &k2), RD_EPROTO);
    assert_int_equal(url_token_key_parse(rd_str_cstr("k.1"), rd_str_cstr(key_a_hex), &k2),
                     RD_EPROTO);
    assert_int_equal(
        url_token_key_parse(rd_str_cstr("KKKKKKKKKKKKKKKK"), rd_str_cstr(key_a_hex), &k2), RD_OK);
    assert_int_equal(
        url_token_key_parse(rd_str_cstr("KKKKKKKKKKKKKKKKK"), rd_str_cstr(key_a_hex), &k2),
        RD_EPROTO);
}

static void
test_verdict_names(void **state)
{
    (void)state;
    assert_string_equal(url_token_verdict_name(URL_TOKEN_OK), "ok");
    assert_string_equal(url_token_verdict_name(URL_TOKEN_MALFORMED), "malformed");
    assert_string_equal(url_token_verdict_name(URL_TOKEN_UNKNOWN_KID), "unknown_kid");
    assert_string_equal(url_token_verdict_name(URL_TOKEN_EXPIRED), "expired");
    assert_string_equal(url_token_verdict_name(URL_TOKEN_FUTURE), "future");
    assert_string_equal(url_token_verdict_name(URL_TOKEN_BAD_MAC), "bad_mac");
    assert_string_equal(url_token_verdict_name(URL_TOKEN_BAD_ARG), "bad_arg");
    assert_string_equal(url_token_verdict_name(URL_TOKEN_INTERNAL), "internal");
    assert_string_equal(url_token_verdict_name(99), "unknown");
    assert_string_equal(url_token_verdict_name(-1), "unknown");
    assert_int_equal(URL_TOKEN_OK, RD_OK);
}

/* A minted token travels through the Location builder and the relay's path parser intact. */
static void
test_token_in_location(void **state)
{
    (void)state;
    struct url_token_key k = key_make("k1", key_a_hex);
    struct url_token_keyring r = ring_make(&k, NULL);
    char tok[URL_TOKEN_MINT_MAX + 1];
    int n = mint(&k, CAM, RELAY, VIEWER_IP, NOW, 60, tok, sizeof(tok));
    char loc[512];
    int m = url_build_location(rd_str_cstr("rtsps://relay-a.example:8323/"), URL_SCHEME_RTSPS,
                               rd_str_cstr(CAM), rd_str_make(tok, (size_t)n), loc, sizeof(loc));
    assert_true(m > 0);
    char setup[600];
    snprintf(setup, sizeof(setup), "%strackID=0", loc);
    struct url_parts u;
    struct rd_str cam, t, rest;
    assert_int_equal(url_split(rd_str_cstr(setup), &u), RD_OK);
    assert_int_equal(url_relay_path_parse(u.path, &cam, &t, &rest), RD_OK);
    assert_true(rd_str_eq_cstr(rest, "trackID=0"));
    struct rd_str ip = rd_str_cstr(VIEWER_IP);
    struct url_token_claims c;
    assert_int_equal(url_token_verify(&r, cam, rd_str_cstr(RELAY), &ip, NOW + 5, t, &c),
                     URL_TOKEN_OK);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_mint_format),
    cmocka_unit_test(test_mint_jti),
    cmocka_unit_test(test_canonical_contract),
    cmocka_unit_test(test_canonical_injective),
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_bindings),
    cmocka_unit_test(test_expiry_boundaries),
    cmocka_unit_test(test_kids_and_rotation),
    cmocka_unit_test(test_every_byte_change_fails),
    cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_bad_args),
    cmocka_unit_test(test_key_parse),
    cmocka_unit_test(test_verdict_names),
    cmocka_unit_test(test_token_in_location),
};

RD_TEST_MAIN(tests)
