/* SPDX-License-Identifier: MIT */
/* Property fuzzing of url_token_verify: under a fixed key, the input (a token string) must
 * never verify unless it is byte-for-byte one of the two tokens minted here at start-up.
 * It also fuzzes the key file parser with the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "rd_err.h"
#include "url_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

#define NOW   1700000000LL
#define TTL   60
#define CAM   RD_STR_LIT("lobby")
#define RELAY RD_STR_LIT("relay-a")

/* The key is random per process. libFuzzer learns the two minted tokens through its memcmp
 * hooks and saves them; under a fixed key such a saved token would still verify when replayed
 * by a later process that minted other jtis, breaking the property for no fault of the code.
 * Seeds in corpus/url_token/ are structurally perfect tokens under other keys. */

static struct url_token_keyring ring;
static char tok_free[URL_TOKEN_MINT_MAX + 1];  /* unbound */
static char tok_bound[URL_TOKEN_MINT_MAX + 1]; /* bound to 192.0.2.10 */
static size_t n_free, n_bound;

static void
init_once(void)
{
    static bool done;
    if (done)
        return;
    uint8_t raw[RD_TOKEN_KEY_BYTES];
    char key_hex[2 * RD_TOKEN_KEY_BYTES + 1];
    CHECK(rd_random_bytes(raw, sizeof(raw)) == RD_OK);
    rd_hex_encode(raw, sizeof(raw), key_hex);
    struct url_token_key key;
    CHECK(url_token_key_parse(RD_STR_LIT("fz"), rd_str_make(key_hex, sizeof(key_hex) - 1), &key)
          == RD_OK);
    CHECK(url_token_keyring_set(&ring, &key, NULL) == RD_OK);
    struct rd_str ip = RD_STR_LIT("192.0.2.10");
    int n = url_token_mint(&key, CAM, RELAY, NULL, NOW, TTL, tok_free, sizeof(tok_free));
    CHECK(n > 0);
    n_free = (size_t)n;
    n = url_token_mint(&key, CAM, RELAY, &ip, NOW, TTL, tok_bound, sizeof(tok_bound));
    CHECK(n > 0);
    n_bound = (size_t)n;
    struct url_token_claims c;
    CHECK(url_token_verify(&ring, CAM, RELAY, &ip, NOW, rd_str_make(tok_free, n_free), &c)
          == URL_TOKEN_OK);
    CHECK(url_token_verify(&ring, CAM, RELAY, &ip, NOW, rd_str_make(tok_bound, n_bound), &c)
          == URL_TOKEN_OK);
    done = true;
}

static bool
is_minted(struct rd_str t)
{
    return rd_str_eq(t, rd_str_make(tok_free, n_free))
           || rd_str_eq(t, rd_str_make(tok_bound, n_bound));
}

static int
verify(struct rd_str cam, struct rd_str relay, const char *ip, int64_t now, struct rd_str t)
{
    struct url_token_claims c;
    struct rd_str ipv = ip != NULL ? rd_str_cstr(ip) : RD_STR_NULL;
    int v = url_token_verify(&ring, cam, relay, ip != NULL ? &ipv : NULL, now, t, &c);
    CHECK(v >= URL_TOKEN_OK && v <= URL_TOKEN_INTERNAL && v != URL_TOKEN_BAD_ARG);
    if (v == URL_TOKEN_OK) {
        /* Claims are views into the input, before the MAC. */
        CHECK(c.kid.p == t.p && c.kid.len == 2);
        CHECK(c.jti.p > t.p && c.jti.p + c.jti.len <= t.p + t.len - 22);
        CHECK(c.jti.len == 11 && c.exp == NOW + TTL);
    } else {
        CHECK(c.kid.p == NULL && c.jti.p == NULL && c.exp == 0 && c.flags == 0);
    }
    return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    struct rd_str t = rd_str_make((const char *)data, size);
    bool minted = is_minted(t);
    bool is_free = rd_str_eq(t, rd_str_make(tok_free, n_free));

    /* The minting context: only the two minted tokens pass. */
    CHECK((verify(CAM, RELAY, "192.0.2.10", NOW, t) == URL_TOKEN_OK) == minted);
    CHECK((verify(CAM, RELAY, "192.0.2.10", NOW + TTL + 30, t) == URL_TOKEN_OK) == minted);
    /* Another viewer IP, or none: only the unbound token. */
    CHECK((verify(CAM, RELAY, "198.51.100.1", NOW, t) == URL_TOKEN_OK) == is_free);
    CHECK((verify(CAM, RELAY, NULL, NOW, t) == URL_TOKEN_OK) == is_free);
    /* Other relay, other camera, past expiry, too far before issue: nothing passes. */
    CHECK(verify(CAM, RD_STR_LIT("relay-b"), "192.0.2.10", NOW, t) != URL_TOKEN_OK);
    CHECK(verify(RD_STR_LIT("lobby2"), RELAY, "192.0.2.10", NOW, t) != URL_TOKEN_OK);
    CHECK(verify(CAM, RELAY, "192.0.2.10", NOW + TTL + 31, t) != URL_TOKEN_OK);
    CHECK(verify(CAM, RELAY, "192.0.2.10", NOW + TTL - 300 - 30 - 1, t) != URL_TOKEN_OK);

    /* The key file parser on the same bytes. */
    struct url_token_key k;
    int rc = url_token_key_parse(RD_STR_LIT("k"), t, &k);
    CHECK(rc == RD_OK || rc == RD_EPROTO);
    if (rc == RD_OK) {
        uint8_t any = 0;
        for (size_t i = 0; i < sizeof(k.key); i++)
            any |= k.key[i];
        CHECK(any != 0 && k.kid_len == 1);
        CHECK(size >= 43);
    }
    return 0;
}
