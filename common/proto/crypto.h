/* SPDX-License-Identifier: MIT */
/* Thin wrappers over OpenSSL libcrypto: HMAC-SHA-256, MD5/SHA-256 (Digest), CSPRNG,
 * base64url, hex and constant-time compare. Nothing here is hand-rolled cryptography. */
#ifndef RD_PROTO_CRYPTO_H
#define RD_PROTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_limits.h"
#include "rd_str.h"

#define RD_SHA256_LEN 32
#define RD_MD5_LEN    16
#define RD_HASH_MAX   RD_SHA256_LEN

enum rd_hash_alg {
    RD_HASH_MD5,
    RD_HASH_SHA256,
};

/* Digest length of alg in bytes (16 or 32). */
size_t rd_hash_len(enum rd_hash_alg alg);

/* Hashes the concatenation of parts[0..n) into out (rd_hash_len(alg) bytes).
 * Returns RD_OK or RD_ENOMEM/RD_EIO if libcrypto fails. */
int rd_hash_parts(enum rd_hash_alg alg, const struct rd_str *parts, size_t n, uint8_t *out);

/* HMAC-SHA-256 of the concatenation of parts[0..n) under key. Returns RD_OK or RD_EIO. */
int rd_hmac_sha256(const void *key, size_t key_len, const struct rd_str *parts, size_t n,
                   uint8_t out[RD_SHA256_LEN]);

/* Fills buf with len bytes from the CSPRNG. Returns RD_OK or RD_EIO. */
int rd_random_bytes(void *buf, size_t len);

/* CSPRNG bytes drawn in bulk: one RAND_bytes call fills RD_RAND_POOL_BYTES, later takes are
 * copies. For hot paths that need a few fresh bytes per request (token jti): OpenSSL checks
 * for a fork (getpid) and locks on every RAND_bytes call. The bytes are as good as
 * rd_random_bytes'; each is handed out once and wiped from the pool when taken. A pool must
 * not be shared across threads or carried across fork(). Caller-owned, no allocation. */
struct rd_rand_pool {
    size_t pos; /* next unused byte; RD_RAND_POOL_BYTES = empty */
    uint8_t buf[RD_RAND_POOL_BYTES];
};

/* Makes p empty (the first take refills it). */
void rd_rand_pool_init(struct rd_rand_pool *p);

/* Copies len fresh bytes into out, refilling from the CSPRNG when fewer than len are left
 * (the rest of the old fill is discarded). Returns RD_OK; RD_ELIMIT when len is 0 or more
 * than RD_RAND_POOL_BYTES; RD_EIO when the CSPRNG fails (the pool is then empty and out
 * untouched). */
int rd_rand_pool_take(struct rd_rand_pool *p, void *out, size_t len);

/* Wipes the unused bytes and empties p (before freeing it). */
void rd_rand_pool_wipe(struct rd_rand_pool *p);

/* Constant-time equality of two len-byte buffers (CRYPTO_memcmp). */
bool rd_ct_equal(const void *a, const void *b, size_t len);

/* Lower-case hex of in[0..len) into out, which must hold 2*len + 1 bytes (NUL-terminated). */
void rd_hex_encode(const uint8_t *in, size_t len, char *out);

/* base64url without padding (RFC 4648 §5). Encoded length of n bytes. */
size_t rd_b64url_len(size_t n);
/* Encodes in[0..len) into out[cap], NUL-terminated. Returns characters written (without the
 * NUL) or RD_ELIMIT if cap is too small (nothing is truncated). */
int rd_b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap);
/* Decodes a padding-free base64url string. Rejects any other character, a length of
 * 1 mod 4 and non-zero unused trailing bits (so each value has one spelling). Returns bytes
 * written, RD_EPROTO on bad input or RD_ELIMIT if out[cap] is too small. */
int rd_b64url_decode(struct rd_str in, uint8_t *out, size_t cap);

/* Decodes standard base64 (RFC 4648 §4, alphabet with '+' and '/'), as in SDP
 * sprop-parameter-sets. '=' padding is optional but, if present, must make the length a
 * multiple of 4. Rejects any other character (whitespace included), a data length of 1 mod 4
 * and non-zero unused trailing bits. Returns bytes written, RD_EPROTO on bad input or
 * RD_ELIMIT if out[cap] is too small (nothing is truncated). */
int rd_b64_decode(struct rd_str in, uint8_t *out, size_t cap);

/* Standard base64 with '=' padding (RFC 4648 §4), as HTTP/RTSP Basic credentials need
 * (RFC 7617 §2). Encoded length of n bytes: 4 * ceil(n / 3). */
size_t rd_b64_len(size_t n);
/* Encodes in[0..len) into out[cap], NUL-terminated. Returns characters written (without the
 * NUL) or RD_ELIMIT if cap is too small (nothing is truncated). */
int rd_b64_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* Overwrites p[0..len) with zeros in a way the compiler may not elide (OPENSSL_cleanse):
 * for buffers that held a password. */
void rd_cleanse(void *p, size_t len);

#endif
