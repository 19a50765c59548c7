/* SPDX-License-Identifier: MIT */
/* libcrypto wrappers; the only file of rd_proto that includes OpenSSL headers. */
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "rd_err.h"

size_t
rd_hash_len(enum rd_hash_alg alg)
{
    return alg == RD_HASH_MD5 ? RD_MD5_LEN : RD_SHA256_LEN;
}

int
rd_hash_parts(enum rd_hash_alg alg, const struct rd_str *parts, size_t n, uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return RD_ENOMEM;
    int rc = RD_EIO;
    const EVP_MD *md = alg == RD_HASH_MD5 ? EVP_md5() : EVP_sha256();
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len > 0 && EVP_DigestUpdate(ctx, parts[i].p, parts[i].len) != 1)
            goto out;
    }
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != rd_hash_len(alg))
        goto out;
    rc = RD_OK;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* The HMAC implementation, fetched from OpenSSL's provider store once: a fetch looks the
 * algorithm up by name under a lock, which costs more than hashing a token. Daemons are
 * single-threaded; the pointer is written once and never freed (it lives as long as the
 * process, like OpenSSL's own default provider). */
static EVP_MAC *
hmac_impl(void)
{
    static EVP_MAC *mac;
    if (mac == NULL)
        mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    return mac;
}

int
rd_hmac_sha256(const void *key, size_t key_len, const struct rd_str *parts, size_t n,
               uint8_t out[RD_SHA256_LEN])
{
    EVP_MAC *mac = hmac_impl();
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    int rc = RD_EIO;
    if (ctx == NULL)
        goto out;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx, key, key_len, params) != 1)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len > 0
            && EVP_MAC_update(ctx, (const unsigned char *)parts[i].p, parts[i].len) != 1)
            goto out;
    }
    size_t len = 0;
    if (EVP_MAC_final(ctx, out, &len, RD_SHA256_LEN) != 1 || len != RD_SHA256_LEN)
        goto out;
    rc = RD_OK;
out:
    EVP_MAC_CTX_free(ctx);
    return rc;
}

int
rd_random_bytes(void *buf, size_t len)
{
    if (len > INT32_MAX || RAND_bytes(buf, (int)len) != 1)
        return RD_EIO;
    return RD_OK;
}

void
rd_rand_pool_init(struct rd_rand_pool *p)
{
    p->pos = sizeof(p->buf);
}

int
rd_rand_pool_take(struct rd_rand_pool *p, void *out, size_t len)
{
    if (len == 0 || len > sizeof(p->buf))
        return RD_ELIMIT;
    if (p->pos > sizeof(p->buf) || sizeof(p->buf) - p->pos < len) {
        if (rd_random_bytes(p->buf, sizeof(p->buf)) != RD_OK) {
            rd_rand_pool_wipe(p);
            return RD_EIO;
        }
        p->pos = 0;
    }
    memcpy(out, p->buf + p->pos, len);
    OPENSSL_cleanse(p->buf + p->pos, len);
    p->pos += len;
    return RD_OK;
}

void
rd_rand_pool_wipe(struct rd_rand_pool *p)
{
    OPENSSL_cleanse(p->buf, sizeof(p->buf));
    p->pos = sizeof(p->buf);
}

bool
rd_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

void
rd_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
rd_b64url_len(size_t n)
{
    return (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

int
rd_b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    size_t need = rd_b64url_len(len);
    if (need >= cap)
        return RD_ELIMIT;
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url_alphabet[(v >> 18) & 63];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    return (int)o;
}

static int
b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes in (no padding) with the digit values of value(): shared by base64url and base64.
 * Rejects a length of 1 mod 4 and non-zero unused trailing bits, so each byte string has
 * exactly one spelling. */
static int
b64_decode_with(struct rd_str in, int (*value)(unsigned char), uint8_t *out, size_t cap)
{
    if (in.len % 4 == 1 || in.len > (size_t)INT32_MAX)
        return RD_EPROTO;
    size_t need = in.len / 4 * 3 + (in.len % 4 == 0 ? 0 : in.len % 4 - 1);
    if (need > cap)
        return RD_ELIMIT;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < in.len; i++) {
        int v = value((unsigned char)in.p[i]);
        if (v < 0)
            return RD_EPROTO;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return RD_EPROTO;
    return (int)o;
}

int
rd_b64url_decode(struct rd_str in, uint8_t *out, size_t cap)
{
    return b64_decode_with(in, b64url_value, out, cap);
}

static int
b64_value(unsigned char c)
{
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    if (c == '-' || c == '_')
        return -1;
    return b64url_value(c);
}

int
rd_b64_decode(struct rd_str in, uint8_t *out, size_t cap)
{
    /* Optional padding: at most two '=' and only to complete a 4-character group. */
    size_t len = in.len;
    if (len > 0 && in.p[len - 1] == '=') {
        if (len % 4 != 0)
            return RD_EPROTO;
        len--;
        if (in.p[len - 1] == '=')
            len--;
    }
    return b64_decode_with(rd_str_make(in.p, len), b64_value, out, cap);
}

/* 64 digits, then the pad character at index 64. */
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

size_t
rd_b64_len(size_t n)
{
    return (n / 3 + (n % 3 != 0)) * 4;
}

int
rd_b64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    if (len > (size_t)INT32_MAX / 2 || rd_b64_len(len) >= cap)
        return RD_ELIMIT;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        uint32_t v = (uint32_t)in[i] << 16;
        if (left > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        /* '=' pads a final group of one or two bytes (RFC 4648 §4). */
        out[o++] = b64_alphabet[left > 1 ? (v >> 6) & 63 : 64];
        out[o++] = b64_alphabet[left > 2 ? v & 63 : 64];
    }
    out[o] = '\0';
    return (int)o;
}

void
rd_cleanse(void *p, size_t len)
{
    OPENSSL_cleanse(p, len);
}
