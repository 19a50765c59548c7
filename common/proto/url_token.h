/* SPDX-License-Identifier: MIT */
/* The viewer token (ARCHITECTURE.md §4.1): minted by the broker for one relay, verified
 * offline by that relay. HMAC-SHA-256 under the relay's 256-bit key, truncated to 128 bits. */
#ifndef RD_PROTO_URL_TOKEN_H
#define RD_PROTO_URL_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_limits.h"
#include "rd_str.h"

/* Token text:  <kid>.<exp>.<jti>.<flags>.<mac>
 *   kid    [A-Za-z0-9_-]{1,RD_TOKEN_KID_MAX}, the relay key's id
 *   exp    unix seconds, decimal, 1-12 digits, no leading zero
 *   jti    64 random bits, base64url without padding (11 characters)
 *   flags  decimal, no leading zero; bit URL_TOKEN_FLAG_IP_BOUND; any other bit: rejected
 *   mac    first 16 bytes of HMAC-SHA-256(key[kid], canonical string), base64url (22 chars)
 *
 * Canonical string (the MAC input; a contract between broker and relay). After the line
 * "rdtok1\n" come eight fields, each written as <decimal byte length> ":" <bytes> "\n", in
 * this order: purpose ("play"), kid, camera id, relay id, exp, jti, flags (exp, jti and flags
 * exactly as they appear in the token), viewer IP (empty when the token is not IP-bound).
 * Length prefixes make the encoding injective: no two field sets give the same string.
 * Example: "rdtok1\n4:play\n2:k1\n5:lobby\n7:relay-a\n10:1700000060\n11:AAAAAAAAAAA\n1:0\n0:\n"
 *
 * Viewer IP: the textual numeric address exactly as the caller gives it; it is not
 * normalised here. Broker and relay must both pass the form getnameinfo(NI_NUMERICHOST) /
 * inet_ntop() produces for the peer's sockaddr, and both must unmap IPv4-mapped IPv6
 * ("::ffff:192.0.2.1" -> "192.0.2.1") so that dual-stack and v4-only sockets agree. */

#define URL_TOKEN_FLAG_IP_BOUND 1u
#define URL_TOKEN_FLAGS_KNOWN   URL_TOKEN_FLAG_IP_BOUND
#define URL_TOKEN_JTI_BYTES     8
#define URL_TOKEN_MAC_BYTES     16
#define URL_TOKEN_EXP_DIGITS    12
/* Longest token we can produce: kid, 12-digit exp, jti (11), flags (1), mac (22), 4 dots. */
#define URL_TOKEN_MINT_MAX (RD_TOKEN_KID_MAX + URL_TOKEN_EXP_DIGITS + 11 + 1 + 22 + 4)

/* One relay key. Copy it by value; it holds secret bytes, never log or print it. */
struct url_token_key {
    char kid[RD_TOKEN_KID_MAX + 1]; /* NUL-terminated key id */
    size_t kid_len;
    uint8_t key[RD_TOKEN_KEY_BYTES];
};

/* The keys a relay accepts: the current one and, during rotation, the previous one.
 * Kids must differ (url_token_keyring_set() checks it). */
struct url_token_keyring {
    struct url_token_key keys[RD_TOKEN_LIVE_KIDS];
    size_t n; /* keys in use, 0..RD_TOKEN_LIVE_KIDS */
};

/* What url_token_verify() decided. URL_TOKEN_OK equals RD_OK; the other values are positive
 * and only for metrics and DEBUG logs: the relay answers every one of them with the same 403. */
enum url_token_verdict {
    URL_TOKEN_OK = 0,
    URL_TOKEN_MALFORMED = 1,   /* charset, length or structure */
    URL_TOKEN_UNKNOWN_KID = 2, /* kid not in the ring (rotated out, or another relay's) */
    URL_TOKEN_EXPIRED = 3,     /* exp < now - RD_TOKEN_SKEW_S */
    URL_TOKEN_FUTURE = 4,      /* exp > now + RD_TOKEN_TTL_MAX_S + RD_TOKEN_SKEW_S */
    URL_TOKEN_BAD_MAC = 5,     /* forged, or minted for another camera, relay or viewer IP */
    URL_TOKEN_BAD_ARG = 6,     /* the caller's camera/relay id/IP/clock is invalid */
    URL_TOKEN_INTERNAL = 7,    /* libcrypto failed */
};

/* Claims of a verified token: views into the token string given to url_token_verify().
 * The MAC is deliberately not here: log jti, never the MAC. */
struct url_token_claims {
    struct rd_str kid;
    int64_t exp;       /* unix seconds */
    struct rd_str jti; /* 11 base64url characters */
    unsigned flags;    /* URL_TOKEN_FLAG_* */
};

/* Static name of a verdict for metrics labels ("ok", "malformed", "unknown_kid", "expired",
 * "future", "bad_mac", "bad_arg", "internal"); "unknown" for other values. */
const char *url_token_verdict_name(int verdict);

/* Parses a key from its text form (the key file format) into *out with the given kid.
 * Key file format: one 256-bit key written either as 64 hex digits (any case) or as 43
 * base64url characters without padding (RFC 4648 §5). Leading and trailing SP, HT, CR and LF
 * are ignored (a file ending in a newline is fine); anything else is an error, as is a key of
 * all zero bytes (an unfilled placeholder). kid must be [A-Za-z0-9_-]{1,RD_TOKEN_KID_MAX};
 * it comes from the configuration or the registry, not from the key file.
 * Returns RD_OK, or RD_EPROTO (*out is then zeroed). Never logs the key. */
int url_token_key_parse(struct rd_str kid, struct rd_str text, struct url_token_key *out);

/* Fills *ring with current and (optional, may be NULL) previous; copies the keys.
 * Returns RD_OK, or RD_EPROTO when both have the same kid. */
int url_token_keyring_set(struct url_token_keyring *ring, const struct url_token_key *current,
                          const struct url_token_key *previous);

/* Mints a token for camera on relay relay_id, valid from now for ttl_s seconds
 * (1..RD_TOKEN_TTL_MAX_S). viewer_ip != NULL binds it to that textual address (see the
 * viewer IP note above), NULL leaves it unbound. jti comes from rd_random_bytes().
 * camera must pass url_camera_id_valid(); relay_id is 1..RD_RELAY_ID_MAX bytes of 0x21-0x7e;
 * viewer_ip 1..RD_TOKEN_VIEWER_IP_MAX bytes of [0-9A-Za-z.:%_-]; now >= 0.
 * Writes the NUL-terminated token to out[cap] (URL_TOKEN_MINT_MAX + 1 is always enough).
 * Returns its length, RD_EPROTO for an invalid argument, RD_ELIMIT when out is too small
 * (out is then an empty string if cap > 0), RD_EIO when the CSPRNG or HMAC fails. */
int url_token_mint(const struct url_token_key *key, struct rd_str camera, struct rd_str relay_id,
                   const struct rd_str *viewer_ip, int64_t now, unsigned ttl_s, char *out,
                   size_t cap);

/* url_token_mint with the jti taken from jti_raw (URL_TOKEN_JTI_BYTES bytes the caller drew
 * from the CSPRNG, e.g. through an rd_rand_pool; each must be used for one token only).
 * Same arguments, limits and returns, except that it never calls the CSPRNG. */
int url_token_mint_jti(const struct url_token_key *key, struct rd_str camera,
                       struct rd_str relay_id, const struct rd_str *viewer_ip, int64_t now,
                       unsigned ttl_s, const uint8_t jti_raw[URL_TOKEN_JTI_BYTES], char *out,
                       size_t cap);

/* Verifies token (the path segment, not percent-decoded: tokens never need encoding) for
 * camera on relay relay_id, seen from viewer_ip (may be NULL when unknown: then an IP-bound
 * token fails with URL_TOKEN_BAD_MAC), at wall-clock time now (unix seconds).
 * Checks cheap to expensive: length <= RD_TOKEN_MAX_LEN and charset [A-Za-z0-9._-];
 * structure; kid in ring; expiry with RD_TOKEN_SKEW_S of skew; HMAC compared in constant time.
 * Returns URL_TOKEN_OK (== RD_OK) and fills *claims (views into token), or another verdict;
 * *claims is zeroed on failure. Never allocates, never reads past token.len. */
int url_token_verify(const struct url_token_keyring *ring, struct rd_str camera,
                     struct rd_str relay_id, const struct rd_str *viewer_ip, int64_t now,
                     struct rd_str token, struct url_token_claims *claims);

#endif
