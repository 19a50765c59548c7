/* SPDX-License-Identifier: MIT */
/* crypto.c: RFC 4231 HMAC-SHA-256 vectors, RFC 1321 / FIPS 180 hash vectors, base64url. */
#include "rd_test.h"

#include "crypto.h"
#include "rd_err.h"
#include "rd_limits.h"

static void
hex_to_bytes(const char *hex, uint8_t *out, size_t *len)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    *len = n;
}

struct hmac_vector {
    const char *key_hex;
    const char *data_hex;
    const char *mac_hex;
    size_t truncate; /* bytes compared; 0 = all 32 (RFC 4231 case 5 truncates to 128 bits) */
};

/* RFC 4231 §4.2-4.8, HMAC-SHA-256 results. */
static const struct hmac_vector rfc4231[] = {
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 0},
    {"4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 0},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
     "dddddddd",
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 0},
    {"0102030405060708090a0b0c0d0e0f10111213141516171819",
     "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
     "cdcdcdcd",
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 0},
    {"0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "546573742057697468205472756e636174696f6e",
     "a3b6167473100ee06e0c796c2955552b", 16},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368"
     "204b6579204669727374",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 0},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a"
     "65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865"
     "206b6579206e6565647320746f20626520686173686564206265666f7265206265696e672075736564206279"
     "2074686520484d414320616c676f726974686d2e",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 0},
};

static void
test_hmac_rfc4231(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof(rfc4231) / sizeof(rfc4231[0]); v++) {
        uint8_t key[256], data[256], want[32], got[32];
        size_t key_len, data_len, want_len;
        hex_to_bytes(rfc4231[v].key_hex, key, &key_len);
        hex_to_bytes(rfc4231[v].data_hex, data, &data_len);
        hex_to_bytes(rfc4231[v].mac_hex, want, &want_len);
        struct rd_str part = rd_str_make((const char *)data, data_len);
        assert_int_equal(rd_hmac_sha256(key, key_len, &part, 1, got), RD_OK);
        assert_memory_equal(got, want, want_len);
        /* The same MAC over the data split into two parts at every point. */
        for (size_t cut = 0; cut <= data_len; cut++) {
            struct rd_str parts[2] = {rd_str_make((const char *)data, cut),
                                      rd_str_make((const char *)data + cut, data_len - cut)};
            assert_int_equal(rd_hmac_sha256(key, key_len, parts, 2, got), RD_OK);
            assert_memory_equal(got, want, want_len);
        }
    }
}

static void
test_hash_vectors(void **state)
{
    (void)state;
    uint8_t out[RD_HASH_MAX];
    char hex[2 * RD_HASH_MAX + 1];
    struct rd_str abc[2] = {RD_STR_LIT("a"), RD_STR_LIT("bc")};
    assert_int_equal(rd_hash_parts(RD_HASH_MD5, abc, 2, out), RD_OK);
    rd_hex_encode(out, RD_MD5_LEN, hex);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72"); /* RFC 1321 A.5 */
    assert_int_equal(rd_hash_parts(RD_HASH_SHA256, abc, 2, out), RD_OK);
    rd_hex_encode(out, RD_SHA256_LEN, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(rd_hash_parts(RD_HASH_MD5, NULL, 0, out), RD_OK);
    rd_hex_encode(out, RD_MD5_LEN, hex);
    assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
}

static void
test_b64url_roundtrip(void **state)
{
    (void)state;
    uint8_t in[64], back[64];
    char enc[100];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 37 + 250);
    for (size_t n = 0; n <= sizeof(in); n++) {
        int w = rd_b64url_encode(in, n, enc, sizeof(enc));
        assert_int_equal(w, (int)rd_b64url_len(n));
        assert_null(strpbrk(enc, "+/="));
        int r = rd_b64url_decode(rd_str_make(enc, (size_t)w), back, sizeof(back));
        assert_int_equal(r, (int)n);
        assert_memory_equal(in, back, n);
    }
}

static void
test_b64url_vectors_and_rejects(void **state)
{
    (void)state;
    char enc[16];
    uint8_t out[16];
    /* RFC 4648 §10 vectors, padding removed. */
    assert_int_equal(rd_b64url_encode((const uint8_t *)"foob", 4, enc, sizeof(enc)), 6);
    assert_string_equal(enc, "Zm9vYg");
    assert_int_equal(rd_b64url_encode((const uint8_t *)"\xfb\xff", 2, enc, sizeof(enc)), 3);
    assert_string_equal(enc, "-_8");
    /* Output that does not fit is refused, not truncated. */
    assert_int_equal(rd_b64url_encode((const uint8_t *)"foobar", 6, enc, 8), RD_ELIMIT);
    assert_int_equal(rd_b64url_decode(RD_STR_LIT("Zm9vYg=="), out, sizeof(out)), RD_EPROTO);
    assert_int_equal(rd_b64url_decode(RD_STR_LIT("Zm9v+g"), out, sizeof(out)), RD_EPROTO);
    assert_int_equal(rd_b64url_decode(RD_STR_LIT("Zm9vY"), out, sizeof(out)), RD_EPROTO);
    /* "Zm9vYh" has non-zero unused bits: a second spelling of "foob", refused. */
    assert_int_equal(rd_b64url_decode(RD_STR_LIT("Zm9vYh"), out, sizeof(out)), RD_EPROTO);
    assert_int_equal(rd_b64url_decode(RD_STR_LIT("Zm9vYmFy"), out, 5), RD_ELIMIT);
}

static void
test_b64_standard(void **state)
{
    (void)state;
    uint8_t out[64];
    /* RFC 4648 §10 vectors, with and without padding. */
    static const struct {
        const char *in;
        const char *want;
    } good[] = {
        {"", ""},
        {"Zg==", "f"},
        {"Zg", "f"},
        {"Zm8=", "fo"},
        {"Zm8", "fo"},
        {"Zm9v", "foo"},
        {"Zm9vYg==", "foob"},
        {"Zm9vYmE=", "fooba"},
        {"Zm9vYmFy", "foobar"},
        {"+/8=", "\xfb\xff"},
        {"+/8", "\xfb\xff"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int n = rd_b64_decode(rd_str_cstr(good[i].in), out, sizeof(out));
        assert_int_equal(n, (int)strlen(good[i].want));
        assert_memory_equal(out, good[i].want, (size_t)n);
    }
    /* An x264 SPS as found in sprop-parameter-sets. */
    static const uint8_t sps[] = {0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05,
                                  0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00,
                                  0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60};
    assert_int_equal(
        rd_b64_decode(RD_STR_LIT("Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA="), out, sizeof(out)),
        (int)sizeof(sps));
    assert_memory_equal(out, sps, sizeof(sps));
    /* The output must fit exactly; one byte less is refused, not truncated. */
    assert_int_equal(
        rd_b64_decode(RD_STR_LIT("Z2QAH6zZQFAFuwEQAAADABAAAAMDwPGDGWA="), out, sizeof(sps) - 1),
        RD_ELIMIT);
    assert_int_equal(rd_b64_decode(RD_STR_LIT("Zm9vYmFy"), out, 6), 6);
    assert_int_equal(rd_b64_decode(RD_STR_LIT("Zm9vYmFy"), out, 5), RD_ELIMIT);

    static const char *const bad[] = {
        "-_8",      /* base64url alphabet */
        "Zg=",      /* padding that does not complete a group */
        "Zg===",    /* too much padding */
        "Z===",     /* one data character */
        "=",        /* padding only */
        "==",       /* padding only */
        "====",     /* padding only */
        "Zm=v",     /* padding inside */
        "Zh==",     /* non-zero unused bits: a second spelling of "f" */
        "Zm9",      /* non-zero unused bits ("Zm8" is "fo") */
        "Zm 9v",    /* whitespace */
        "Zm9v\n",   /* trailing newline */
        "Zm9vY",    /* 1 mod 4 */
        "Zm9v====", /* a whole group of padding */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (rd_b64_decode(rd_str_cstr(bad[i]), out, sizeof(out)) != RD_EPROTO)
            fail_msg("accepted '%s'", bad[i]);
    }
}

static void
test_b64_padded_vectors(void **state)
{
    (void)state;
    /* RFC 4648 §10, with padding. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char enc[16];
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        size_t n = strlen(plain[i]);
        assert_int_equal(rd_b64_len(n), strlen(coded[i]));
        int w = rd_b64_encode((const uint8_t *)plain[i], n, enc, sizeof(enc));
        assert_int_equal(w, (int)strlen(coded[i]));
        assert_string_equal(enc, coded[i]);
        /* Exactly enough room (the NUL included) works; one byte less is refused. */
        memset(enc, 'z', sizeof(enc));
        assert_int_equal(rd_b64_encode((const uint8_t *)plain[i], n, enc, (size_t)w + 1), w);
        memset(enc, 'z', sizeof(enc));
        assert_int_equal(rd_b64_encode((const uint8_t *)plain[i], n, enc, (size_t)w), RD_ELIMIT);
        assert_int_equal(enc[0], 'z'); /* nothing written on refusal */
    }
    /* The two characters where base64 and base64url differ. */
    assert_int_equal(rd_b64_encode((const uint8_t *)"\xfb\xff", 2, enc, sizeof(enc)), 4);
    assert_string_equal(enc, "+/8=");
    /* RFC 7617 §2 example credentials. */
    assert_int_equal(rd_b64_encode((const uint8_t *)"Aladdin:open sesame", 19, enc, 0), RD_ELIMIT);
    char cred[32];
    assert_int_equal(rd_b64_encode((const uint8_t *)"Aladdin:open sesame", 19, cred, sizeof(cred)),
                     28);
    assert_string_equal(cred, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

static void
test_cleanse(void **state)
{
    (void)state;
    char secret[9] = "password";
    rd_cleanse(secret, sizeof(secret));
    for (size_t i = 0; i < sizeof(secret); i++)
        assert_int_equal(secret[i], 0);
}

static void
test_ct_equal_and_random(void **state)
{
    (void)state;
    uint8_t a[16], b[16];
    assert_int_equal(rd_random_bytes(a, sizeof(a)), RD_OK);
    assert_int_equal(rd_random_bytes(b, sizeof(b)), RD_OK);
    assert_false(rd_ct_equal(a, b, sizeof(a))); /* 2^-128 chance of a false failure */
    memcpy(b, a, sizeof(a));
    assert_true(rd_ct_equal(a, b, sizeof(a)));
    b[15] ^= 1;
    assert_false(rd_ct_equal(a, b, sizeof(a)));
}

/* rd_rand_pool: fresh bytes per take, one refill per RD_RAND_POOL_BYTES, handed-out bytes
 * wiped from the pool, leftovers too short for a take discarded, limits. */
static void
test_rand_pool(void **state)
{
    (void)state;
    static struct rd_rand_pool p; /* 4 KiB: off the stack */
    rd_rand_pool_init(&p);
    assert_int_equal(p.pos, RD_RAND_POOL_BYTES);
    uint8_t out[RD_RAND_POOL_BYTES + 1];
    assert_int_equal(rd_rand_pool_take(&p, out, 0), RD_ELIMIT);
    assert_int_equal(rd_rand_pool_take(&p, out, RD_RAND_POOL_BYTES + 1), RD_ELIMIT);
    assert_int_equal(p.pos, RD_RAND_POOL_BYTES); /* refused takes do not refill */

    /* The first take refills; 8-byte takes walk the pool and zero what they hand out. */
    uint8_t a[8], b[8], zero[8] = {0};
    assert_int_equal(rd_rand_pool_take(&p, a, sizeof(a)), RD_OK);
    assert_int_equal(p.pos, 8);
    assert_memory_equal(p.buf, zero, 8);
    assert_int_equal(rd_rand_pool_take(&p, b, sizeof(b)), RD_OK);
    assert_int_equal(p.pos, 16);
    assert_false(rd_ct_equal(a, b, sizeof(a))); /* 2^-64 chance of a false failure */
    for (size_t i = 2; i < RD_RAND_POOL_BYTES / 8; i++)
        assert_int_equal(rd_rand_pool_take(&p, b, sizeof(b)), RD_OK);
    assert_int_equal(p.pos, RD_RAND_POOL_BYTES);
    for (size_t i = 0; i < RD_RAND_POOL_BYTES; i++)
        assert_int_equal(p.buf[i], 0);
    /* Empty: the next take refills from the start. */
    assert_int_equal(rd_rand_pool_take(&p, a, sizeof(a)), RD_OK);
    assert_int_equal(p.pos, 8);

    /* A take longer than what is left refills (the rest is dropped). */
    p.pos = RD_RAND_POOL_BYTES - 4;
    assert_int_equal(rd_rand_pool_take(&p, a, sizeof(a)), RD_OK);
    assert_int_equal(p.pos, 8);
    /* The whole pool in one take. */
    assert_int_equal(rd_rand_pool_take(&p, out, RD_RAND_POOL_BYTES), RD_OK);
    assert_int_equal(p.pos, RD_RAND_POOL_BYTES);
    /* A corrupted position is treated as empty. */
    p.pos = RD_RAND_POOL_BYTES + 100;
    assert_int_equal(rd_rand_pool_take(&p, a, sizeof(a)), RD_OK);
    assert_int_equal(p.pos, 8);

    /* Wipe: unused bytes zeroed, pool empty. */
    rd_rand_pool_wipe(&p);
    assert_int_equal(p.pos, RD_RAND_POOL_BYTES);
    for (size_t i = 0; i < RD_RAND_POOL_BYTES; i++)
        assert_int_equal(p.buf[i], 0);

    /* 512 takes after a refill are pairwise distinct (no byte reuse). */
    static uint8_t seen[RD_RAND_POOL_BYTES / 8][8];
    for (size_t i = 0; i < RD_RAND_POOL_BYTES / 8; i++) {
        assert_int_equal(rd_rand_pool_take(&p, seen[i], 8), RD_OK);
        for (size_t j = 0; j < i; j++)
            assert_false(rd_ct_equal(seen[i], seen[j], 8));
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hmac_rfc4231),        cmocka_unit_test(test_hash_vectors),
    cmocka_unit_test(test_b64url_roundtrip),    cmocka_unit_test(test_b64url_vectors_and_rejects),
    cmocka_unit_test(test_ct_equal_and_random), cmocka_unit_test(test_b64_standard),
    cmocka_unit_test(test_b64_padded_vectors),  cmocka_unit_test(test_cleanse),
    cmocka_unit_test(test_rand_pool),
};

RD_TEST_MAIN(tests)
