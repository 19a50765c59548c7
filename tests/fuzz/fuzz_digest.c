/* SPDX-License-Identifier: MIT */
/* Fuzzes digest.c. data[0] % 3 picks the mode: 0 parses (and verifies) an Authorization
 * value; 1 picks from WWW-Authenticate values (split at '\n'; bit 0 of data[0] / 3 allows
 * Basic), answers the challenge and parses the answer back; 2 mutates a fresh nonce (must
 * never verify) and round-trips a server challenge with the rest as realm. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "rd_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

/* Seeds in tests/fuzz/corpus/digest/ hold nonces minted under this key at FUZZ_NOW, for user
 * "viewer", password "secret", realm "rtsp-director", so mutations reach the response check. */
static const uint8_t fuzz_key[32] = "rtsp-director fuzz nonce key 01";
static const struct digest_server fuzz_srv = {{"rtsp-director", 13}, fuzz_key, sizeof(fuzz_key)};
#define FUZZ_NOW 1700000000u

static bool
view_inside(struct rd_str v, const char *base, size_t len)
{
    return v.len == 0 || (v.p >= base && v.p + v.len <= base + len);
}

static void
fuzz_authorization(const char *p, size_t n)
{
    struct digest_credentials cr;
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    int rc = digest_credentials_parse(rd_str_make(p, n), scratch, sizeof(scratch), &cr);
    CHECK(rc == RD_OK || rc == RD_EPROTO || rc == RD_ELIMIT || rc == RD_EAUTH);
    if (rc != RD_OK)
        return;
    const struct rd_str *views[] = {&cr.username, &cr.realm, &cr.nonce, &cr.uri,   &cr.response,
                                    &cr.cnonce,   &cr.nc,    &cr.qop,   &cr.opaque};
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
        CHECK(view_inside(*views[i], p, n) || view_inside(*views[i], scratch, sizeof(scratch)));
    }
    CHECK(cr.username.len > 0 && cr.username.len <= RD_AUTH_MAX_USERNAME);
    CHECK(cr.realm.len > 0 && cr.realm.len <= RD_AUTH_MAX_REALM);
    CHECK(cr.nonce.len > 0 && cr.nonce.len <= RD_AUTH_MAX_NONCE);
    CHECK(cr.uri.len > 0 && cr.uri.len <= RD_AUTH_MAX_URI);
    CHECK(cr.response.len == 2 * rd_hash_len(cr.alg));
    CHECK(!cr.has_qop || (cr.nc.len == 8 && cr.cnonce.len > 0));

    char ha1[2 * RD_HASH_MAX + 1];
    if (digest_ha1_hex(cr.alg, cr.username, fuzz_srv.realm, RD_STR_LIT("secret"), ha1, sizeof(ha1))
        < 0)
        return;
    rc = digest_verify(&fuzz_srv, &cr, RD_STR_LIT("DESCRIBE"), cr.uri, rd_str_cstr(ha1),
                       FUZZ_NOW + 1);
    CHECK(rc == RD_OK || rc == RD_EAUTH || rc == RD_EEXPIRED || rc == RD_EPROTO);
    if (rc == RD_OK) {
        /* Only a correct response verifies: recompute it independently. */
        struct digest_response_in in = {cr.alg, rd_str_cstr(ha1),       cr.nonce, cr.nc, cr.cnonce,
                                        cr.qop, RD_STR_LIT("DESCRIBE"), cr.uri};
        uint8_t h[RD_HASH_MAX];
        char hex[2 * RD_HASH_MAX + 1];
        CHECK(digest_response_compute(&in, h) == RD_OK);
        rd_hex_encode(h, rd_hash_len(cr.alg), hex);
        CHECK(cr.response.len == strlen(hex) && memcmp(cr.response.p, hex, cr.response.len) == 0);
        CHECK(digest_nonce_check(&fuzz_srv, cr.nonce, FUZZ_NOW + 1) == RD_OK);
    }
}

static void
fuzz_challenge(const char *p, size_t n, bool allow_basic)
{
    struct rd_str values[6];
    size_t nv = 0;
    struct rd_str rest = rd_str_make(p, n);
    bool more = true;
    while (more && nv < sizeof(values) / sizeof(values[0])) {
        rest = rd_str_split(rest, '\n', &values[nv], &more);
        nv++;
    }
    struct digest_challenge ch;
    int rc = digest_challenge_pick(values, nv, allow_basic, &ch);
    CHECK(rc == RD_OK || rc == RD_EPROTO || rc == RD_ELIMIT || rc == RD_ENOTFOUND);
    if (rc != RD_OK)
        return;
    CHECK(ch.scheme == DIGEST_SCHEME_DIGEST || (allow_basic && ch.scheme == DIGEST_SCHEME_BASIC));
    CHECK(ch.realm_len <= RD_AUTH_MAX_REALM && ch.realm[ch.realm_len] == '\0');
    CHECK(ch.nonce_len <= RD_AUTH_MAX_NONCE && ch.nonce[ch.nonce_len] == '\0');
    CHECK(ch.opaque_len <= RD_AUTH_MAX_OPAQUE && ch.opaque[ch.opaque_len] == '\0');
    CHECK(ch.nc == 0);

    struct digest_client_request req = {RD_STR_LIT("DESCRIBE"),
                                        RD_STR_LIT("rtsp://cam.example/ch1?x=\"y\""),
                                        RD_STR_LIT("ad\"min\\"), RD_STR_LIT("pass word")};
    static char out[DIGEST_AUTHORIZATION_MAX];
    rc = digest_authorization_build_cnonce(&ch, &req, RD_STR_LIT("0a4f113b"), out, sizeof(out));
    if (ch.scheme == DIGEST_SCHEME_BASIC) {
        /* The username has no ':' or CTL: Basic always builds. */
        CHECK(rc > 0 && memcmp(out, "Basic ", 6) == 0);
        return;
    }
    /* Whatever the camera sent, the answer fits the documented maximum. */
    CHECK(rc > 0 && (size_t)rc == strlen(out));
    CHECK(ch.nc == (ch.qop_auth ? 1u : 0u));
    if ((size_t)rc > RD_RTSP_MAX_AUTHORIZATION || ch.realm_len == 0)
        return;
    /* Our own answer parses back to the same fields (the quoting is right). */
    struct digest_credentials cr;
    char scratch[RD_RTSP_MAX_AUTHORIZATION];
    CHECK(digest_credentials_parse(rd_str_make(out, (size_t)rc), scratch, sizeof(scratch), &cr)
          == RD_OK);
    CHECK(rd_str_eq(cr.username, req.username));
    CHECK(rd_str_eq(cr.uri, req.uri));
    CHECK(rd_str_eq(cr.realm, rd_str_make(ch.realm, ch.realm_len)));
    CHECK(rd_str_eq(cr.nonce, rd_str_make(ch.nonce, ch.nonce_len)));
    CHECK(cr.alg == ch.alg && cr.has_qop == ch.qop_auth);
    CHECK(!ch.has_opaque || rd_str_eq(cr.opaque, rd_str_make(ch.opaque, ch.opaque_len)));
}

static void
fuzz_nonce_and_realm(const char *p, size_t n)
{
    /* A fresh nonce with the input XORed in: any change must fail the MAC. */
    char nonce[DIGEST_NONCE_BUF];
    CHECK(digest_nonce_mint(&fuzz_srv, FUZZ_NOW, nonce, sizeof(nonce)) == DIGEST_NONCE_LEN);
    char mutated[DIGEST_NONCE_BUF];
    memcpy(mutated, nonce, sizeof(mutated));
    for (size_t i = 0; i < n && i < DIGEST_NONCE_LEN; i++)
        mutated[i] = (char)(mutated[i] ^ p[i]);
    int rc = digest_nonce_check(&fuzz_srv, rd_str_make(mutated, DIGEST_NONCE_LEN), FUZZ_NOW);
    if (memcmp(mutated, nonce, DIGEST_NONCE_LEN) == 0)
        CHECK(rc == RD_OK);
    else
        CHECK(rc == RD_EAUTH);

    /* The rest of the input as our realm: challenge out, pick back, same realm and nonce. */
    if (n <= DIGEST_NONCE_LEN)
        return;
    struct digest_server srv = {rd_str_make(p + DIGEST_NONCE_LEN, n - DIGEST_NONCE_LEN), fuzz_key,
                                sizeof(fuzz_key)};
    char chal[RD_AUTH_MAX_CHALLENGE + 1];
    rc = digest_challenge_build(&srv, RD_HASH_SHA256, rd_str_cstr(nonce), true, chal, sizeof(chal));
    CHECK(rc == RD_EPROTO || rc == RD_ELIMIT || rc > 0);
    if (rc <= 0)
        return;
    struct rd_str v = rd_str_make(chal, (size_t)rc);
    struct digest_challenge ch;
    rc = digest_challenge_pick(&v, 1, false, &ch);
    if (srv.realm.len > RD_AUTH_MAX_REALM) {
        CHECK(rc == RD_ELIMIT);
        return;
    }
    CHECK(rc == RD_OK);
    CHECK(ch.alg == RD_HASH_SHA256 && ch.qop_auth && ch.stale);
    CHECK(rd_str_eq(rd_str_make(ch.realm, ch.realm_len), srv.realm));
    CHECK(strcmp(ch.nonce, nonce) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        fuzz_authorization(p, n);
        break;
    case 1:
        fuzz_challenge(p, n, (data[0] / 3) & 1);
        break;
    default:
        fuzz_nonce_and_realm(p, n);
        break;
    }
    return 0;
}
