/* SPDX-License-Identifier: MIT */
/* HTTP/RTSP Digest authentication (RFC 2617, RFC 7616; MD5 and SHA-256, qop=auth) and Basic
 * (RFC 7617): the broker's server side with stateless nonces, the relay's client side
 * answering a camera's 401. No allocation, no logging; all output goes to caller buffers. */
#ifndef RD_PROTO_DIGEST_H
#define RD_PROTO_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "rd_limits.h"
#include "rd_str.h"

/* ---- Common ------------------------------------------------------------------------------ */

enum digest_scheme {
    DIGEST_SCHEME_NONE = 0,
    DIGEST_SCHEME_BASIC,  /* RFC 7617 */
    DIGEST_SCHEME_DIGEST, /* RFC 7616 */
};

/* Inputs of the request-digest (RFC 7616 §3.4.1). Every field is the unquoted, unescaped
 * value. qop empty means the RFC 2069 form H(HA1:nonce:HA2) (no nc, no cnonce). */
struct digest_response_in {
    enum rd_hash_alg alg;
    struct rd_str ha1_hex; /* lower-case hex of H(username:realm:password) */
    struct rd_str nonce;
    struct rd_str nc;     /* 8 hex digits exactly as sent */
    struct rd_str cnonce; /* client nonce */
    struct rd_str qop;    /* "auth", or empty for RFC 2069 */
    struct rd_str method; /* RTSP method, e.g. "DESCRIBE" */
    struct rd_str uri;    /* the digest-uri ("uri" parameter) */
};

/* Computes response = H(HA1:nonce:nc:cnonce:qop:H(method:uri)) (RFC 7616 §3.4.1), or
 * H(HA1:nonce:H(method:uri)) when qop is empty (RFC 2069), into out (rd_hash_len(alg) raw
 * bytes). Does not validate the fields. Returns RD_OK or RD_ENOMEM/RD_EIO from libcrypto. */
int digest_response_compute(const struct digest_response_in *in, uint8_t out[RD_HASH_MAX]);

/* HA1 = H(username:realm:password) as lower-case hex into out[cap] (NUL-terminated), for the
 * registry (`user add`) and for the client side. username: 1..RD_AUTH_MAX_USERNAME bytes
 * without control characters; realm: 1..RD_AUTH_MAX_REALM bytes without control characters;
 * password: <= RD_AUTH_MAX_PASSWORD bytes without CR, LF or NUL.
 * Returns the hex length (32 or 64), RD_EPROTO for a forbidden character, RD_ELIMIT for a
 * field over its cap or cap < 2 * rd_hash_len(alg) + 1, or RD_EIO. */
int digest_ha1_hex(enum rd_hash_alg alg, struct rd_str username, struct rd_str realm,
                   struct rd_str password, char *out, size_t cap);

/* ---- Server side (the broker authenticating viewers) -------------------------------------- */

/* Stateless nonce: base64url(ts[8] || random[8] || HMAC-SHA-256(key, label || ts || random ||
 * realm)[0..16]), ts = big-endian seconds. 32 bytes -> 43 characters. */
#define DIGEST_NONCE_LEN 43
#define DIGEST_NONCE_BUF (DIGEST_NONCE_LEN + 1)

/* What the broker authenticates against. Borrowed: the caller keeps realm and key alive. */
struct digest_server {
    struct rd_str realm; /* our realm: 1..RD_AUTH_MAX_REALM bytes, no control characters */
    const uint8_t *key;  /* nonce MAC secret, >= RD_AUTH_NONCE_KEY_MIN_BYTES */
    size_t key_len;
};

/* Mints a fresh nonce bound to srv's key and realm and to now_s (wall-clock seconds; the
 * same clock must be passed to digest_nonce_check and digest_verify) into out[cap]
 * (cap >= DIGEST_NONCE_BUF), NUL-terminated. Returns DIGEST_NONCE_LEN, RD_ELIMIT (cap too
 * small or key shorter than RD_AUTH_NONCE_KEY_MIN_BYTES) or RD_EIO (CSPRNG/HMAC). */
int digest_nonce_mint(const struct digest_server *srv, uint64_t now_s, char *out, size_t cap);

/* Checks a nonce we may have issued: well-formed, MAC right (constant-time compare), and
 * 0 <= now_s - ts <= RD_AUTH_NONCE_TTL_S. Returns RD_OK; RD_EEXPIRED when the MAC is right but
 * the nonce is too old or from the future (answer 401 with stale=true); RD_EAUTH for anything
 * else (never ours, or tampered: answer 401 without stale); RD_ELIMIT for a short key.
 * No state is kept, so a nonce stays usable for its whole lifetime: RD_AUTH_NONCE_TTL_S
 * bounds how long a captured Authorization can be replayed. A caller wanting more can keep
 * a small table of (nonce, highest nc) and reject nc that does not increase. */
int digest_nonce_check(const struct digest_server *srv, struct rd_str nonce, uint64_t now_s);

/* Builds one WWW-Authenticate value into out[cap], NUL-terminated:
 *   Digest realm="<realm>", nonce="<nonce>", algorithm=MD5|SHA-256, qop="auth"[, stale=true]
 * realm is quoted with '"' and '\' escaped. To offer both algorithms, call twice with the
 * same nonce and send two headers, the preferred one first (RFC 7616 §3.7). Returns the
 * length, RD_ELIMIT if out is too small, RD_EPROTO if realm or nonce is empty or has a
 * control character. */
int digest_challenge_build(const struct digest_server *srv, enum rd_hash_alg alg,
                           struct rd_str nonce, bool stale, char *out, size_t cap);

/* Parsed Authorization: Digest credentials. Views point into the parsed value, or into the
 * caller's scratch buffer for quoted-strings that contained backslash escapes; they live as
 * long as both. Every value is unquoted and unescaped. */
struct digest_credentials {
    struct rd_str username; /* <= RD_AUTH_MAX_USERNAME */
    struct rd_str realm;    /* <= RD_AUTH_MAX_REALM */
    struct rd_str nonce;    /* <= RD_AUTH_MAX_NONCE */
    struct rd_str uri;      /* <= RD_AUTH_MAX_URI (the header cap is the tighter bound) */
    struct rd_str response; /* exactly 2 * rd_hash_len(alg) lower-case hex digits */
    struct rd_str cnonce;   /* non-empty when has_qop */
    struct rd_str nc;       /* 8 hex digits as sent (hashed as sent) when has_qop */
    struct rd_str qop;      /* "auth" in any case, as sent (hashed as sent) when has_qop */
    struct rd_str opaque;   /* echoed by the client; we issue none and ignore it */
    uint32_t nc_value;      /* nc as a number, for an optional replay table */
    enum rd_hash_alg alg;   /* MD5 when the algorithm parameter is absent (RFC 2617 §3.2.2) */
    bool alg_present;
    bool has_qop; /* qop=auth was sent (cnonce and nc are then present) */
};

/* Parses an Authorization header value (RFC 7235 §2.1 credentials, RFC 7616 §3.4):
 * `Digest` 1*SP #auth-param, auth-param = token BWS "=" BWS ( token / quoted-string ),
 * in a single pass. scratch[scratch_cap] receives the unescaped copies of quoted-strings with
 * backslash escapes; scratch_cap >= value.len always suffices, so RD_RTSP_MAX_AUTHORIZATION
 * bytes always do (scratch may be NULL with cap 0 when the caller accepts RD_ELIMIT for
 * escaped values).
 * Rules: value.len <= RD_RTSP_MAX_AUTHORIZATION; <= RD_AUTH_MAX_PARAMS parameters; a
 * parameter named twice (names are case-insensitive) is an error; username, realm, nonce, uri
 * and response are required, and with qop also cnonce and nc (8 hex digits); qop must be
 * "auth"; algorithm must be MD5 or SHA-256; `username*` (RFC 7616 §3.4.4) and userhash=true
 * are refused because we never offer userhash and registry usernames are plain.
 * Unknown parameters are skipped (but counted and checked for duplicates).
 * Returns RD_OK; RD_EAUTH when the scheme is not Digest (answer 401 with a challenge);
 * RD_EPROTO (syntax, duplicate, missing or invalid field) or RD_ELIMIT (a cap, including
 * scratch too small): answer 400. On error *out is unspecified. */
int digest_credentials_parse(struct rd_str value, char *scratch, size_t scratch_cap,
                             struct digest_credentials *out);

/* Verifies parsed credentials for one request. method and request_uri are the request
 * line's; ha1_hex is the registry's HA1 for (cr->username, srv->realm, cr->alg) in hex.
 * Checks in this order:
 *   no qop (RFC 2069 form; we always offer qop="auth" and require it) -> RD_EPROTO
 *   cr->uri != request_uri byte for byte (RFC 7616 §3.4.6)          -> RD_EPROTO
 *   response not 2 * rd_hash_len(cr->alg) lower-case hex digits       -> RD_EPROTO
 *   cr->realm != srv->realm, nonce not ours or tampered               -> RD_EAUTH
 *   ha1_hex not 2 * rd_hash_len(cr->alg) hex digits (registry data)  -> RD_EAUTH (fail closed)
 *   response differs (constant-time compare)                           -> RD_EAUTH
 *   response right but nonce stale                                     -> RD_EEXPIRED
 * so stale=true is only ever answered to someone who knows the password (RFC 7616 §3.3).
 * Returns RD_OK, RD_EAUTH (401), RD_EEXPIRED (401 with stale=true and a fresh nonce),
 * RD_EPROTO (400), RD_ELIMIT (short key) or RD_EIO. For an unknown username the caller
 * answers 401 exactly as for RD_EAUTH, so usernames cannot be probed. */
int digest_verify(const struct digest_server *srv, const struct digest_credentials *cr,
                  struct rd_str method, struct rd_str request_uri, struct rd_str ha1_hex,
                  uint64_t now_s);

/* ---- Client side (the relay answering a camera's 401) ------------------------------------- */

/* The challenge chosen from a 401, self-contained (copies, no views): keep it to answer later
 * requests on the same nonce. realm, nonce and opaque are unescaped and NUL-terminated. */
struct digest_challenge {
    enum digest_scheme scheme;
    enum rd_hash_alg alg; /* Digest only */
    bool alg_present;     /* the camera named the algorithm: we echo it, else omit it */
    bool qop_auth;        /* qop offered with "auth": RFC 7616 form; false: RFC 2069 form */
    bool stale;           /* stale=true: the nonce expired, retrying is not a wrong password */
    bool has_opaque;      /* echo opaque */
    uint32_t nc;          /* nonce count of the last answer built; 0 after a pick */
    size_t realm_len;
    size_t nonce_len;
    size_t opaque_len;
    char realm[RD_AUTH_MAX_REALM + 1];
    char nonce[RD_AUTH_MAX_NONCE + 1];
    char opaque[RD_AUTH_MAX_OPAQUE + 1];
};

/* Parses the WWW-Authenticate header values values[0..n) of one response (each may hold
 * several comma-separated challenges, RFC 7235 §4.1) and picks the best usable one:
 * Digest SHA-256 > Digest MD5 (also when algorithm is absent) > Basic (only if allow_basic;
 * it sends the password in clear); the first one wins a tie. A Digest challenge with another
 * algorithm (MD5-sess, SHA-256-sess, SHA-512-256, ...) or whose qop list lacks "auth" is
 * skipped as unsupported; one without qop is usable in the RFC 2069 form. Other schemes are
 * skipped. Each value must be <= RD_AUTH_MAX_CHALLENGE bytes, all values together hold
 * <= RD_AUTH_MAX_CHALLENGES challenges, each with <= RD_AUTH_MAX_PARAMS parameters and no
 * duplicate; a usable Digest challenge needs realm and nonce, within RD_AUTH_MAX_REALM,
 * RD_AUTH_MAX_NONCE and (opaque) RD_AUTH_MAX_OPAQUE. Syntax errors anywhere fail the whole
 * response. Returns RD_OK and fills *out (nc = 0); RD_ENOTFOUND when nothing usable is
 * offered; RD_EPROTO (malformed) or RD_ELIMIT (a cap). On any error *out is all zero
 * (scheme DIGEST_SCHEME_NONE, which digest_authorization_build refuses). */
int digest_challenge_pick(const struct rd_str *values, size_t n, bool allow_basic,
                          struct digest_challenge *out);

/* One request to answer. Borrowed for the duration of the call. */
struct digest_client_request {
    struct rd_str method;   /* RTSP method token, e.g. "DESCRIBE" */
    struct rd_str uri;      /* request URI exactly as on the request line, <= RD_AUTH_MAX_URI,
                               no control characters */
    struct rd_str username; /* <= RD_AUTH_MAX_USERNAME, no control characters; no ':' for Basic */
    struct rd_str password; /* <= RD_AUTH_MAX_PASSWORD, no CR, LF or NUL */
};

/* Output size that always suffices for digest_authorization_build (every field at its cap
 * and fully escaped). */
#define DIGEST_AUTHORIZATION_MAX                                                                   \
    (256                                                                                           \
     + 2                                                                                           \
           * (RD_AUTH_MAX_USERNAME + RD_AUTH_MAX_REALM + RD_AUTH_MAX_NONCE + RD_AUTH_MAX_URI       \
              + RD_AUTH_MAX_OPAQUE)                                                                \
     + 4 * RD_HASH_MAX)

/* Builds the Authorization value answering ch into out[cap], NUL-terminated. Digest:
 *   Digest username="..", realm="..", nonce="..", uri="..", [algorithm=..,] response="..",
 *   [qop=auth, nc=XXXXXXXX, cnonce="..",] [opaque=".."]
 * with a fresh 128-bit cnonce from the CSPRNG and ch->nc incremented first (so the first
 * answer on a nonce has nc=00000001); Basic: `Basic base64(username:password)`.
 * Returns the length; RD_EPROTO for a forbidden character in username, password, method or
 * uri; RD_ELIMIT when a field is over its cap, out is too small or nc would wrap (pick a new
 * challenge); RD_EIO from libcrypto. On error ch->nc is unchanged. */
int digest_authorization_build(struct digest_challenge *ch, const struct digest_client_request *req,
                               char *out, size_t cap);

/* As digest_authorization_build with the given cnonce (1..64 characters from the token68
 * set, no quoting needed) instead of a random one: for tests and fuzzing. */
int digest_authorization_build_cnonce(struct digest_challenge *ch,
                                      const struct digest_client_request *req, struct rd_str cnonce,
                                      char *out, size_t cap);

/* `Basic base64(username:password)` (RFC 7617 §2) into out[cap], NUL-terminated. username
 * must not contain ':' or control characters, password no CR, LF or NUL; both within their
 * caps. Returns the length, RD_EPROTO or RD_ELIMIT. The password is wiped from the stack. */
int digest_basic_build(struct rd_str username, struct rd_str password, char *out, size_t cap);

#endif
