/* SPDX-License-Identifier: MIT */
/* Viewer token mint and verify (ARCHITECTURE.md §4.1). The canonical string and the token
 * grammar are documented in url_token.h; both sides of the contract live in this file. */
#include "url_token.h"

#include "crypto.h"
#include "rd_err.h"
#include "url.h"

#define TOKEN_VERSION "rdtok1"
#define TOKEN_PURPOSE "play"
#define JTI_CHARS     11 /* rd_b64url_len(URL_TOKEN_JTI_BYTES) */
#define MAC_CHARS     22 /* rd_b64url_len(URL_TOKEN_MAC_BYTES) */
#define FLAGS_DIGITS  3
#define EXP_MAX       999999999999LL /* URL_TOKEN_EXP_DIGITS nines */
/* Canonical string: the version line plus eight "<len>:<bytes>\n" fields (each length has
 * at most 3 digits); every field is bounded by a limit, so this always fits. */
#define CANON_MAX                                                                                  \
    (sizeof(TOKEN_VERSION) + 8 * 5 + sizeof(TOKEN_PURPOSE) + RD_TOKEN_KID_MAX + RD_CAMERA_ID_MAX   \
     + RD_RELAY_ID_MAX + URL_TOKEN_EXP_DIGITS + JTI_CHARS + FLAGS_DIGITS + RD_TOKEN_VIEWER_IP_MAX)

const char *
url_token_verdict_name(int verdict)
{
    switch (verdict) {
    case URL_TOKEN_OK:
        return "ok";
    case URL_TOKEN_MALFORMED:
        return "malformed";
    case URL_TOKEN_UNKNOWN_KID:
        return "unknown_kid";
    case URL_TOKEN_EXPIRED:
        return "expired";
    case URL_TOKEN_FUTURE:
        return "future";
    case URL_TOKEN_BAD_MAC:
        return "bad_mac";
    case URL_TOKEN_BAD_ARG:
        return "bad_arg";
    case URL_TOKEN_INTERNAL:
        return "internal";
    default:
        return "unknown";
    }
}

/* ---- argument checks -------------------------------------------------------------------- */

static bool
kid_valid(struct rd_str kid)
{
    return kid.len <= RD_TOKEN_KID_MAX && url_camera_id_valid(kid); /* same charset */
}

static bool
relay_id_valid(struct rd_str id)
{
    if (id.len == 0 || id.len > RD_RELAY_ID_MAX)
        return false;
    for (size_t i = 0; i < id.len; i++) {
        unsigned char c = (unsigned char)id.p[i];
        if (c < 0x21 || c > 0x7e)
            return false;
    }
    return true;
}

static bool
viewer_ip_valid(struct rd_str ip)
{
    if (ip.len == 0 || ip.len > RD_TOKEN_VIEWER_IP_MAX)
        return false;
    for (size_t i = 0; i < ip.len; i++) {
        unsigned char c = (unsigned char)ip.p[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || c == '.' || c == ':' || c == '%' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool
key_valid(const struct url_token_key *key)
{
    return key->kid_len <= RD_TOKEN_KID_MAX && key->kid[key->kid_len] == '\0'
           && kid_valid(rd_str_make(key->kid, key->kid_len));
}

/* ---- the canonical string --------------------------------------------------------------- */

struct canon {
    char buf[CANON_MAX];
    size_t len;
    bool overflow;
};

/* Decimal of v into buf (at least 21 bytes); returns the digit count. */
static size_t
u64_dec(uint64_t v, char *buf)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

static void
canon_put(struct canon *c, const char *p, size_t n)
{
    if (c->overflow || n > sizeof(c->buf) - c->len) {
        c->overflow = true;
        return;
    }
    if (n > 0)
        memcpy(c->buf + c->len, p, n);
    c->len += n;
}

/* <decimal length> ":" <bytes> "\n" */
static void
canon_field(struct canon *c, struct rd_str f)
{
    char num[21];
    size_t n = u64_dec(f.len, num);
    canon_put(c, num, n);
    canon_put(c, ":", 1);
    canon_put(c, f.p, f.len);
    canon_put(c, "\n", 1);
}

/* HMAC-SHA-256 over the canonical string, truncated to URL_TOKEN_MAC_BYTES. */
static int
token_mac(const struct url_token_key *key, struct rd_str camera, struct rd_str relay_id,
          struct rd_str exp, struct rd_str jti, struct rd_str flags, struct rd_str ip,
          uint8_t mac[URL_TOKEN_MAC_BYTES])
{
    struct canon c;
    c.len = 0;
    c.overflow = false;
    canon_put(&c, TOKEN_VERSION "\n", sizeof(TOKEN_VERSION));
    canon_field(&c, RD_STR_LIT(TOKEN_PURPOSE));
    canon_field(&c, rd_str_make(key->kid, key->kid_len));
    canon_field(&c, camera);
    canon_field(&c, relay_id);
    canon_field(&c, exp);
    canon_field(&c, jti);
    canon_field(&c, flags);
    canon_field(&c, ip);
    if (c.overflow)
        return RD_ELIMIT; /* cannot happen with validated fields: CANON_MAX bounds them */
    uint8_t full[RD_SHA256_LEN];
    struct rd_str part = rd_str_make(c.buf, c.len);
    int rc = rd_hmac_sha256(key->key, sizeof(key->key), &part, 1, full);
    if (rc != RD_OK)
        return rc;
    memcpy(mac, full, URL_TOKEN_MAC_BYTES);
    return RD_OK;
}

/* ---- keys ------------------------------------------------------------------------------- */

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
url_token_key_parse(struct rd_str kid, struct rd_str text, struct url_token_key *out)
{
    memset(out, 0, sizeof(*out));
    while (text.len > 0 && is_space(text.p[0])) {
        text.p++;
        text.len--;
    }
    while (text.len > 0 && is_space(text.p[text.len - 1]))
        text.len--;
    if (!kid_valid(kid))
        goto fail;
    if (text.len == 2 * RD_TOKEN_KEY_BYTES) {
        for (size_t i = 0; i < RD_TOKEN_KEY_BYTES; i++) {
            int hi = rd_hex_value((unsigned char)text.p[2 * i]);
            int lo = rd_hex_value((unsigned char)text.p[2 * i + 1]);
            if (hi < 0 || lo < 0)
                goto fail;
            out->key[i] = (uint8_t)(hi << 4 | lo);
        }
    } else if (text.len == rd_b64url_len(RD_TOKEN_KEY_BYTES)) {
        if (rd_b64url_decode(text, out->key, sizeof(out->key)) != RD_TOKEN_KEY_BYTES)
            goto fail;
    } else {
        goto fail;
    }
    uint8_t any = 0;
    for (size_t i = 0; i < RD_TOKEN_KEY_BYTES; i++)
        any |= out->key[i];
    if (any == 0)
        goto fail;
    memcpy(out->kid, kid.p, kid.len);
    out->kid[kid.len] = '\0';
    out->kid_len = kid.len;
    return RD_OK;
fail:
    memset(out, 0, sizeof(*out));
    return RD_EPROTO;
}

int
url_token_keyring_set(struct url_token_keyring *ring, const struct url_token_key *current,
                      const struct url_token_key *previous)
{
    memset(ring, 0, sizeof(*ring));
    if (!key_valid(current) || (previous != NULL && !key_valid(previous)))
        return RD_EPROTO;
    if (previous != NULL && previous->kid_len == current->kid_len
        && memcmp(previous->kid, current->kid, current->kid_len) == 0)
        return RD_EPROTO;
    ring->keys[0] = *current;
    ring->n = 1;
    if (previous != NULL)
        ring->keys[ring->n++] = *previous;
    return RD_OK;
}

/* ---- mint ------------------------------------------------------------------------------- */

static bool
mint_args_valid(const struct url_token_key *key, struct rd_str camera, struct rd_str relay_id,
                const struct rd_str *viewer_ip, int64_t now, unsigned ttl_s)
{
    return key_valid(key) && url_camera_id_valid(camera) && relay_id_valid(relay_id)
           && (viewer_ip == NULL || viewer_ip_valid(*viewer_ip)) && ttl_s != 0
           && ttl_s <= RD_TOKEN_TTL_MAX_S && now >= 0 && now <= EXP_MAX - (int64_t)ttl_s;
}

int
url_token_mint(const struct url_token_key *key, struct rd_str camera, struct rd_str relay_id,
               const struct rd_str *viewer_ip, int64_t now, unsigned ttl_s, char *out, size_t cap)
{
    if (cap > 0)
        out[0] = '\0';
    if (!mint_args_valid(key, camera, relay_id, viewer_ip, now, ttl_s))
        return RD_EPROTO;
    uint8_t jti_raw[URL_TOKEN_JTI_BYTES];
    if (rd_random_bytes(jti_raw, sizeof(jti_raw)) != RD_OK)
        return RD_EIO;
    return url_token_mint_jti(key, camera, relay_id, viewer_ip, now, ttl_s, jti_raw, out, cap);
}

int
url_token_mint_jti(const struct url_token_key *key, struct rd_str camera, struct rd_str relay_id,
                   const struct rd_str *viewer_ip, int64_t now, unsigned ttl_s,
                   const uint8_t jti_raw[URL_TOKEN_JTI_BYTES], char *out, size_t cap)
{
    if (cap > 0)
        out[0] = '\0';
    if (!mint_args_valid(key, camera, relay_id, viewer_ip, now, ttl_s))
        return RD_EPROTO;

    char exp[21];
    size_t exp_len = u64_dec((uint64_t)(now + (int64_t)ttl_s), exp);
    char jti[JTI_CHARS + 1];
    if (rd_b64url_encode(jti_raw, URL_TOKEN_JTI_BYTES, jti, sizeof(jti)) != JTI_CHARS)
        return RD_EIO;
    unsigned flags_v = viewer_ip != NULL ? URL_TOKEN_FLAG_IP_BOUND : 0;
    char flags[21];
    size_t flags_len = u64_dec(flags_v, flags);
    struct rd_str ip = viewer_ip != NULL ? *viewer_ip : RD_STR_NULL;

    uint8_t mac_raw[URL_TOKEN_MAC_BYTES];
    if (token_mac(key, camera, relay_id, rd_str_make(exp, exp_len), rd_str_make(jti, JTI_CHARS),
                  rd_str_make(flags, flags_len), ip, mac_raw)
        != RD_OK)
        return RD_EIO;
    char mac[MAC_CHARS + 1];
    if (rd_b64url_encode(mac_raw, sizeof(mac_raw), mac, sizeof(mac)) != MAC_CHARS)
        return RD_EIO;

    size_t need = key->kid_len + 1 + exp_len + 1 + JTI_CHARS + 1 + flags_len + 1 + MAC_CHARS;
    if (need >= cap)
        return RD_ELIMIT;
    char *o = out;
    memcpy(o, key->kid, key->kid_len);
    o += key->kid_len;
    *o++ = '.';
    memcpy(o, exp, exp_len);
    o += exp_len;
    *o++ = '.';
    memcpy(o, jti, JTI_CHARS);
    o += JTI_CHARS;
    *o++ = '.';
    memcpy(o, flags, flags_len);
    o += flags_len;
    *o++ = '.';
    memcpy(o, mac, MAC_CHARS);
    o += MAC_CHARS;
    *o = '\0';
    return (int)need;
}

/* ---- verify ----------------------------------------------------------------------------- */

/* A decimal with no sign, no leading zero (one spelling per value) and 1..max_digits digits. */
static bool
dec_canonical(struct rd_str s, unsigned max_digits, uint64_t *v)
{
    if (s.len == 0 || (s.len > 1 && s.p[0] == '0'))
        return false;
    return rd_str_to_u64(s, max_digits, UINT64_MAX, v) == RD_OK;
}

int
url_token_verify(const struct url_token_keyring *ring, struct rd_str camera, struct rd_str relay_id,
                 const struct rd_str *viewer_ip, int64_t now, struct rd_str token,
                 struct url_token_claims *claims)
{
    memset(claims, 0, sizeof(*claims));
    if (!url_camera_id_valid(camera) || !relay_id_valid(relay_id)
        || (viewer_ip != NULL && !viewer_ip_valid(*viewer_ip)) || now < 0 || now > EXP_MAX)
        return URL_TOKEN_BAD_ARG;

    /* 1. charset and length */
    if (!url_token_charset_valid(token))
        return URL_TOKEN_MALFORMED;

    /* 2. structure: exactly five '.'-separated fields, each in its own grammar */
    struct rd_str f[5];
    struct rd_str rest = token;
    for (size_t i = 0; i < 4; i++) {
        bool found;
        rest = rd_str_split(rest, '.', &f[i], &found);
        if (!found)
            return URL_TOKEN_MALFORMED;
    }
    f[4] = rest;
    if (f[4].len > 0 && memchr(f[4].p, '.', f[4].len) != NULL)
        return URL_TOKEN_MALFORMED;
    uint64_t exp;
    uint64_t flags;
    uint8_t jti_raw[URL_TOKEN_JTI_BYTES];
    uint8_t mac[URL_TOKEN_MAC_BYTES];
    if (!kid_valid(f[0]) || !dec_canonical(f[1], URL_TOKEN_EXP_DIGITS, &exp)
        || f[2].len != JTI_CHARS
        || rd_b64url_decode(f[2], jti_raw, sizeof(jti_raw)) != URL_TOKEN_JTI_BYTES
        || !dec_canonical(f[3], FLAGS_DIGITS, &flags) || (flags & ~(uint64_t)URL_TOKEN_FLAGS_KNOWN)
        || f[4].len != MAC_CHARS || rd_b64url_decode(f[4], mac, sizeof(mac)) != URL_TOKEN_MAC_BYTES)
        return URL_TOKEN_MALFORMED;

    /* 3. known kid */
    const struct url_token_key *key = NULL;
    for (size_t i = 0; i < ring->n && i < RD_TOKEN_LIVE_KIDS; i++) {
        if (rd_str_eq(f[0], rd_str_make(ring->keys[i].kid, ring->keys[i].kid_len))) {
            key = &ring->keys[i];
            break;
        }
    }
    if (key == NULL)
        return URL_TOKEN_UNKNOWN_KID;

    /* 4. expiry, with skew both ways; exp and now are both <= EXP_MAX: no overflow */
    if ((int64_t)exp < now - RD_TOKEN_SKEW_S)
        return URL_TOKEN_EXPIRED;
    if ((int64_t)exp > now + RD_TOKEN_TTL_MAX_S + RD_TOKEN_SKEW_S)
        return URL_TOKEN_FUTURE;

    /* 5. MAC, constant-time */
    bool bound = (flags & URL_TOKEN_FLAG_IP_BOUND) != 0;
    if (bound && viewer_ip == NULL)
        return URL_TOKEN_BAD_MAC;
    struct rd_str ip = bound ? *viewer_ip : RD_STR_NULL;
    uint8_t want[URL_TOKEN_MAC_BYTES];
    if (token_mac(key, camera, relay_id, f[1], f[2], f[3], ip, want) != RD_OK)
        return URL_TOKEN_INTERNAL;
    if (!rd_ct_equal(want, mac, sizeof(mac)))
        return URL_TOKEN_BAD_MAC;

    claims->kid = f[0];
    claims->exp = (int64_t)exp;
    claims->jti = f[2];
    claims->flags = (unsigned)flags;
    return URL_TOKEN_OK;
}
