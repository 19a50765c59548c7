/* SPDX-License-Identifier: MIT */
/* Digest (RFC 2617, RFC 7616) and Basic (RFC 7617) authentication: one single-pass
 * auth-param scanner (RFC 7235 §2.1) shared by both directions, stateless HMAC nonces for
 * the broker, challenge choice and Authorization building for the relay. */
#include "digest.h"

#include <limits.h>
#include <string.h>

#include "rd_err.h"

/* ---- Character classes (RFC 7230 §3.2.6, RFC 7235 §2.1) ----------------------------------- */

static bool
is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" /
 * "~" / DIGIT / ALPHA */
/* token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool
is_token68_char(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

static bool
is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static bool
is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static bool
is_lhex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool
has_ctl(struct rd_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        if (is_ctl((unsigned char)s.p[i]))
            return true;
    }
    return false;
}

static bool
has_ctl_but_tab(struct rd_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] != '\t' && is_ctl((unsigned char)s.p[i]))
            return true;
    }
    return false;
}

static bool
has_crlf_nul(struct rd_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] == '\r' || s.p[i] == '\n' || s.p[i] == '\0')
            return true;
    }
    return false;
}

/* ---- Auth-param scanner (RFC 7235 §2.1, §4.1, §4.2) --------------------------------------
 * credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 * WWW-Authenticate = 1#challenge, challenge = the same shape
 * auth-param = token BWS "=" BWS ( token / quoted-string )
 * Commas separate both parameters and challenges: an element "token BWS =" is a parameter of
 * the current challenge, any other token starts a new challenge. Empty list elements are
 * skipped (RFC 7230 §7). Values are reported raw (inside the quotes) with a flag saying
 * whether quoted-pairs must be unescaped; nothing is copied here. */

enum ap_kind {
    AP_END,
    AP_SCHEME,
    AP_TOKEN68,
    AP_PARAM,
};

struct ap_item {
    struct rd_str name;  /* scheme or parameter name */
    struct rd_str value; /* raw: without the quotes, quoted-pairs still escaped; or token68 */
    enum ap_kind kind;
    bool escaped; /* value holds quoted-pairs */
};

struct ap_scan {
    const char *p;
    size_t len;
    size_t pos;
    bool in_challenge; /* a scheme has been seen in this value */
    bool after_scheme; /* the last item was a scheme: a token68 or first param may follow */
    bool had_token68;  /* the current challenge carries a token68: no params may follow */
};

static void
ap_init(struct ap_scan *s, struct rd_str v)
{
    memset(s, 0, sizeof(*s));
    s->p = v.p;
    s->len = v.len;
}

static size_t
ap_skip_ows(struct ap_scan *s)
{
    size_t start = s->pos;
    while (s->pos < s->len && is_ows((unsigned char)s->p[s->pos]))
        s->pos++;
    return s->pos - start;
}

static size_t
ap_token_len(const struct ap_scan *s)
{
    size_t n = 0;
    while (s->pos + n < s->len && rd_is_tchar((unsigned char)s->p[s->pos + n]))
        n++;
    return n;
}

/* After a value: OWS, then ',' or the end. */
static int
ap_after_value(struct ap_scan *s)
{
    ap_skip_ows(s);
    if (s->pos < s->len && s->p[s->pos] != ',')
        return RD_EPROTO;
    return RD_OK;
}

/* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 7230 §3.2.6)
 * qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
 * quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ). s->pos is at the opening quote. */
static int
ap_quoted(struct ap_scan *s, struct ap_item *it)
{
    size_t start = ++s->pos;
    while (s->pos < s->len) {
        unsigned char c = (unsigned char)s->p[s->pos];
        if (c == '"') {
            it->value = rd_str_make(s->p + start, s->pos - start);
            s->pos++;
            return RD_OK;
        }
        if (c == '\\') {
            if (s->pos + 1 >= s->len)
                return RD_EPROTO; /* unterminated */
            unsigned char e = (unsigned char)s->p[s->pos + 1];
            if (e != '\t' && is_ctl(e))
                return RD_EPROTO;
            it->escaped = true;
            s->pos += 2;
            continue;
        }
        if (c != '\t' && is_ctl(c))
            return RD_EPROTO; /* CR, LF, NUL and the other controls are never allowed */
        s->pos++;
    }
    return RD_EPROTO; /* unterminated quoted-string */
}

/* Value of an auth-param at s->pos: token or quoted-string. Returns RD_OK, RD_AGAIN when there
 * is no value at all (s->pos unchanged) or RD_EPROTO. */
static int
ap_value(struct ap_scan *s, struct ap_item *it)
{
    if (s->pos < s->len && s->p[s->pos] == '"')
        return ap_quoted(s, it);
    size_t n = ap_token_len(s);
    if (n == 0)
        return RD_AGAIN;
    it->value = rd_str_make(s->p + s->pos, n);
    s->pos += n;
    return RD_OK;
}

/* Right after "scheme 1*SP": an auth-param if one parses completely, else a token68.
 * Returns RD_OK or RD_EPROTO. */
static int
ap_first_after_scheme(struct ap_scan *s, struct ap_item *it)
{
    size_t save = s->pos;
    size_t n = ap_token_len(s);
    if (n > 0) {
        it->name = rd_str_make(s->p + s->pos, n);
        s->pos += n;
        ap_skip_ows(s);
        if (s->pos < s->len && s->p[s->pos] == '=') {
            s->pos++;
            ap_skip_ows(s);
            int rc = ap_value(s, it);
            if (rc == RD_OK) {
                it->kind = AP_PARAM;
                return ap_after_value(s);
            }
            if (rc != RD_AGAIN)
                return rc;
        }
    }
    /* Not a parameter: "abc=" or "abc==" end as a token68 does. */
    s->pos = save;
    it->name = RD_STR_NULL;
    it->escaped = false;
    size_t m = 0;
    while (s->pos + m < s->len && is_token68_char((unsigned char)s->p[s->pos + m]))
        m++;
    if (m == 0)
        return RD_EPROTO;
    while (s->pos + m < s->len && s->p[s->pos + m] == '=')
        m++;
    it->kind = AP_TOKEN68;
    it->value = rd_str_make(s->p + s->pos, m);
    s->pos += m;
    s->had_token68 = true;
    return ap_after_value(s);
}

/* Next item of the value. Returns RD_OK with it->kind set (AP_END at the end) or RD_EPROTO. */
static int
ap_next(struct ap_scan *s, struct ap_item *it)
{
    memset(it, 0, sizeof(*it));
    if (s->after_scheme) {
        s->after_scheme = false;
        size_t sp = ap_skip_ows(s);
        if (s->pos < s->len && s->p[s->pos] != ',') {
            if (sp == 0)
                return RD_EPROTO; /* "Digest\"x\"": the scheme must end at SP, ',' or end */
            return ap_first_after_scheme(s, it);
        }
    }
    for (;;) {
        ap_skip_ows(s);
        if (s->pos < s->len && s->p[s->pos] == ',') {
            s->pos++;
            continue;
        }
        break;
    }
    if (s->pos >= s->len) {
        it->kind = AP_END;
        return RD_OK;
    }
    size_t n = ap_token_len(s);
    if (n == 0)
        return RD_EPROTO;
    it->name = rd_str_make(s->p + s->pos, n);
    s->pos += n;
    size_t save = s->pos;
    ap_skip_ows(s);
    if (s->pos < s->len && s->p[s->pos] == '=') {
        if (!s->in_challenge || s->had_token68)
            return RD_EPROTO; /* a parameter before any scheme, or after a token68 */
        s->pos++;
        ap_skip_ows(s);
        int rc = ap_value(s, it);
        if (rc != RD_OK)
            return RD_EPROTO;
        it->kind = AP_PARAM;
        return ap_after_value(s);
    }
    s->pos = save;
    it->kind = AP_SCHEME;
    s->in_challenge = true;
    s->after_scheme = true;
    s->had_token68 = false;
    return RD_OK;
}

/* Unescapes a raw value into dst[cap] (not NUL-terminated). Returns the length, or
 * SIZE_MAX if it does not fit. Escapes were validated by the scanner. */
static size_t
unescape(struct rd_str raw, bool escaped, char *dst, size_t cap)
{
    if (!escaped) {
        if (raw.len > cap)
            return SIZE_MAX;
        if (raw.len > 0)
            memcpy(dst, raw.p, raw.len);
        return raw.len;
    }
    size_t o = 0;
    for (size_t i = 0; i < raw.len; i++) {
        char c = raw.p[i];
        if (c == '\\' && i + 1 < raw.len)
            c = raw.p[++i];
        if (o >= cap)
            return SIZE_MAX;
        dst[o++] = c;
    }
    return o;
}

/* ASCII case-insensitive comparison of a parameter's unescaped value with lit. */
static bool
item_eq_ci(const struct ap_item *it, const char *lit)
{
    char tmp[32];
    size_t n = unescape(it->value, it->escaped, tmp, sizeof(tmp));
    return n != SIZE_MAX && rd_str_eq_ci_cstr(rd_str_make(tmp, n), lit);
}

/* Finds a duplicate of name among names[0..n) (parameter names are case-insensitive). */
static bool
name_seen(const struct rd_str *names, size_t n, struct rd_str name)
{
    for (size_t i = 0; i < n; i++) {
        if (rd_str_eq_ci(names[i], name))
            return true;
    }
    return false;
}

/* RFC 7616 §3.3: algorithm = "MD5" / "SHA-256" / ... (tokens, matched case-insensitively).
 * Returns false for any other algorithm (MD5-sess, SHA-256-sess, SHA-512-256, ...). */
static bool
parse_alg(const struct ap_item *it, enum rd_hash_alg *alg)
{
    if (item_eq_ci(it, "MD5")) {
        *alg = RD_HASH_MD5;
        return true;
    }
    if (item_eq_ci(it, "SHA-256")) {
        *alg = RD_HASH_SHA256;
        return true;
    }
    return false;
}

static const char *
alg_name(enum rd_hash_alg alg)
{
    return alg == RD_HASH_SHA256 ? "SHA-256" : "MD5";
}

/* ---- Output writer: appends, remembers overflow, never truncates silently ----------------- */

struct wbuf {
    char *p;
    size_t cap;
    size_t len;
    bool over;
};

static void
w_init(struct wbuf *w, char *out, size_t cap)
{
    w->p = out;
    w->cap = cap > (size_t)INT_MAX ? (size_t)INT_MAX : cap;
    w->len = 0;
    w->over = false;
}

static void
w_bytes(struct wbuf *w, const char *s, size_t n)
{
    /* Keep one byte for the NUL: len < cap holds whenever over is false and cap > 0. */
    if (w->over || w->cap - w->len <= n || w->cap == 0) {
        w->over = true;
        return;
    }
    if (n > 0)
        memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void
w_str(struct wbuf *w, const char *s)
{
    w_bytes(w, s, strlen(s));
}

/* quoted-string with '"' and '\' escaped (RFC 7230 §3.2.6). Callers have refused CTLs. */
static void
w_quoted(struct wbuf *w, struct rd_str v)
{
    w_bytes(w, "\"", 1);
    for (size_t i = 0; i < v.len; i++) {
        if (v.p[i] == '"' || v.p[i] == '\\')
            w_bytes(w, "\\", 1);
        w_bytes(w, v.p + i, 1);
    }
    w_bytes(w, "\"", 1);
}

static int
w_finish(struct wbuf *w)
{
    if (w->over || w->cap == 0) {
        if (w->cap > 0)
            w->p[0] = '\0'; /* never leave a partial header that looks complete */
        return RD_ELIMIT;
    }
    w->p[w->len] = '\0';
    return (int)w->len;
}

/* ---- Hashing ----------------------------------------------------------------------------- */

static const struct rd_str colon = {":", 1};

/* HA1 hex without validating the inputs (callers did). out holds 2 * RD_HASH_MAX + 1. */
static int
ha1_compute(enum rd_hash_alg alg, struct rd_str username, struct rd_str realm,
            struct rd_str password, char *out)
{
    struct rd_str parts[5] = {username, colon, realm, colon, password};
    uint8_t h[RD_HASH_MAX];
    int rc = rd_hash_parts(alg, parts, 5, h);
    if (rc == RD_OK)
        rd_hex_encode(h, rd_hash_len(alg), out);
    rd_cleanse(h, sizeof(h));
    return rc;
}

int
digest_response_compute(const struct digest_response_in *in, uint8_t out[RD_HASH_MAX])
{
    size_t hl = rd_hash_len(in->alg);
    uint8_t ha2[RD_HASH_MAX];
    char ha2_hex[2 * RD_HASH_MAX + 1];
    struct rd_str a2[3] = {in->method, colon, in->uri};
    int rc = rd_hash_parts(in->alg, a2, 3, ha2);
    if (rc != RD_OK)
        return rc;
    rd_hex_encode(ha2, hl, ha2_hex);
    struct rd_str ha2s = rd_str_make(ha2_hex, 2 * hl);
    if (in->qop.len == 0) {
        /* RFC 2069 §2.1.2: H(HA1:nonce:HA2) */
        struct rd_str kd[5] = {in->ha1_hex, colon, in->nonce, colon, ha2s};
        return rd_hash_parts(in->alg, kd, 5, out);
    }
    /* RFC 7616 §3.4.1: H(HA1:nonce:nc:cnonce:qop:HA2) */
    struct rd_str kd[11] = {in->ha1_hex, colon, in->nonce, colon, in->nc, colon,
                            in->cnonce,  colon, in->qop,   colon, ha2s};
    return rd_hash_parts(in->alg, kd, 11, out);
}

int
digest_ha1_hex(enum rd_hash_alg alg, struct rd_str username, struct rd_str realm,
               struct rd_str password, char *out, size_t cap)
{
    size_t hex_len = 2 * rd_hash_len(alg);
    if (username.len == 0 || realm.len == 0 || has_ctl(username) || has_ctl(realm)
        || has_crlf_nul(password))
        return RD_EPROTO;
    if (username.len > RD_AUTH_MAX_USERNAME || realm.len > RD_AUTH_MAX_REALM
        || password.len > RD_AUTH_MAX_PASSWORD || cap < hex_len + 1)
        return RD_ELIMIT;
    char hex[2 * RD_HASH_MAX + 1];
    int rc = ha1_compute(alg, username, realm, password, hex);
    if (rc == RD_OK) {
        memcpy(out, hex, hex_len + 1);
        rc = (int)hex_len;
    }
    rd_cleanse(hex, sizeof(hex));
    return rc;
}

/* ---- Server side: stateless nonces ------------------------------------------------------- */

#define NONCE_TS_LEN   8
#define NONCE_RND_LEN  8
#define NONCE_MAC_LEN  16 /* HMAC-SHA-256 truncated to 128 bits (RFC 2104 §5 allows >= 80) */
#define NONCE_BODY_LEN (NONCE_TS_LEN + NONCE_RND_LEN)
#define NONCE_RAW_LEN  (NONCE_BODY_LEN + NONCE_MAC_LEN)

/* Domain separation: the same secret could be reused for another MAC by mistake. The label
 * and the body have fixed lengths, so label || body || realm is unambiguous. */
static const char nonce_label[] = "rtsp-director digest nonce v1";

static int
nonce_mac(const struct digest_server *srv, const uint8_t body[NONCE_BODY_LEN],
          uint8_t mac[RD_SHA256_LEN])
{
    struct rd_str parts[3] = {
        rd_str_make(nonce_label, sizeof(nonce_label) - 1),
        rd_str_make((const char *)body, NONCE_BODY_LEN),
        srv->realm,
    };
    return rd_hmac_sha256(srv->key, srv->key_len, parts, 3, mac);
}

int
digest_nonce_mint(const struct digest_server *srv, uint64_t now_s, char *out, size_t cap)
{
    if (srv->key == NULL || srv->key_len < RD_AUTH_NONCE_KEY_MIN_BYTES || cap < DIGEST_NONCE_BUF)
        return RD_ELIMIT;
    uint8_t raw[NONCE_RAW_LEN];
    for (int i = 0; i < NONCE_TS_LEN; i++)
        raw[i] = (uint8_t)(now_s >> (8 * (NONCE_TS_LEN - 1 - i)));
    int rc = rd_random_bytes(raw + NONCE_TS_LEN, NONCE_RND_LEN);
    if (rc != RD_OK)
        return rc;
    uint8_t mac[RD_SHA256_LEN];
    rc = nonce_mac(srv, raw, mac);
    if (rc != RD_OK)
        return rc;
    memcpy(raw + NONCE_BODY_LEN, mac, NONCE_MAC_LEN);
    return rd_b64url_encode(raw, sizeof(raw), out, cap);
}

int
digest_nonce_check(const struct digest_server *srv, struct rd_str nonce, uint64_t now_s)
{
    if (srv->key == NULL || srv->key_len < RD_AUTH_NONCE_KEY_MIN_BYTES)
        return RD_ELIMIT;
    uint8_t raw[NONCE_RAW_LEN];
    if (nonce.len != DIGEST_NONCE_LEN || rd_b64url_decode(nonce, raw, sizeof(raw)) != NONCE_RAW_LEN)
        return RD_EAUTH;
    uint8_t mac[RD_SHA256_LEN];
    int rc = nonce_mac(srv, raw, mac);
    if (rc != RD_OK)
        return rc;
    if (!rd_ct_equal(mac, raw + NONCE_BODY_LEN, NONCE_MAC_LEN))
        return RD_EAUTH;
    uint64_t ts = 0;
    for (int i = 0; i < NONCE_TS_LEN; i++)
        ts = ts << 8 | raw[i];
    /* A nonce from the future means our clock stepped back: ours, but answer with a new one. */
    if (ts > now_s || now_s - ts > RD_AUTH_NONCE_TTL_S)
        return RD_EEXPIRED;
    return RD_OK;
}

int
digest_challenge_build(const struct digest_server *srv, enum rd_hash_alg alg, struct rd_str nonce,
                       bool stale, char *out, size_t cap)
{
    if (srv->realm.len == 0 || nonce.len == 0 || has_ctl(srv->realm) || has_ctl(nonce))
        return RD_EPROTO;
    struct wbuf w;
    w_init(&w, out, cap);
    w_str(&w, "Digest realm=");
    w_quoted(&w, srv->realm);
    w_str(&w, ", nonce=");
    w_quoted(&w, nonce);
    w_str(&w, ", algorithm=");
    w_str(&w, alg_name(alg));
    w_str(&w, ", qop=\"auth\"");
    if (stale)
        w_str(&w, ", stale=true");
    return w_finish(&w);
}

/* ---- Server side: credentials ------------------------------------------------------------ */

/* Stores a parameter's value as a view: into the header when it has no escapes, else
 * unescaped into scratch. Returns RD_OK or RD_ELIMIT (scratch full). */
static int
cred_value(const struct ap_item *it, char *scratch, size_t scratch_cap, size_t *used,
           struct rd_str *out)
{
    if (!it->escaped) {
        *out = it->value;
        return RD_OK;
    }
    if (scratch == NULL)
        return RD_ELIMIT;
    size_t n = unescape(it->value, true, scratch + *used, scratch_cap - *used);
    if (n == SIZE_MAX)
        return RD_ELIMIT;
    *out = rd_str_make(scratch + *used, n);
    *used += n;
    return RD_OK;
}

/* The parameters the server reads, in one table so the dispatch stays flat. */
enum cred_field {
    CF_USERNAME,
    CF_REALM,
    CF_NONCE,
    CF_URI,
    CF_RESPONSE,
    CF_CNONCE,
    CF_NC,
    CF_QOP,
    CF_ALGORITHM,
    CF_OPAQUE,
    CF_USERHASH,
    CF_USERNAME_EXT, /* username* (RFC 7616 §3.4.4): refused */
    CF_COUNT
};

static const char *const cred_names[CF_COUNT] = {
    "username", "realm", "nonce",     "uri",    "response", "cnonce",
    "nc",       "qop",   "algorithm", "opaque", "userhash", "username*",
};

int
digest_credentials_parse(struct rd_str value, char *scratch, size_t scratch_cap,
                         struct digest_credentials *out)
{
    memset(out, 0, sizeof(*out));
    if (value.len > RD_RTSP_MAX_AUTHORIZATION)
        return RD_ELIMIT;
    struct ap_scan s;
    struct ap_item it;
    ap_init(&s, value);
    int rc = ap_next(&s, &it);
    if (rc != RD_OK)
        return rc;
    if (it.kind != AP_SCHEME)
        return RD_EPROTO;
    if (!rd_str_eq_ci_cstr(it.name, "Digest"))
        return RD_EAUTH;

    struct rd_str names[RD_AUTH_MAX_PARAMS];
    struct ap_item fields[CF_COUNT];
    bool have[CF_COUNT] = {false};
    size_t n_params = 0;
    for (;;) {
        rc = ap_next(&s, &it);
        if (rc != RD_OK)
            return rc;
        if (it.kind == AP_END)
            break;
        if (it.kind != AP_PARAM)
            return RD_EPROTO; /* a token68, or a second credential */
        if (name_seen(names, n_params, it.name))
            return RD_EPROTO; /* duplicate (CVE-2019-9215-style ambiguity) */
        if (n_params == RD_AUTH_MAX_PARAMS)
            return RD_ELIMIT;
        names[n_params++] = it.name;
        /* "username*" is scanned as the token "username*" ('*' is a tchar). */
        for (int f = 0; f < CF_COUNT; f++) {
            if (rd_str_eq_ci_cstr(it.name, cred_names[f])) {
                fields[f] = it;
                have[f] = true;
                break;
            }
        }
    }
    if (n_params == 0)
        return RD_EPROTO;
    if (have[CF_USERNAME_EXT])
        return RD_EPROTO;
    if (have[CF_USERHASH] && !item_eq_ci(&fields[CF_USERHASH], "false"))
        return RD_EPROTO;
    static const enum cred_field required[] = {CF_USERNAME, CF_REALM, CF_NONCE, CF_URI,
                                               CF_RESPONSE};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!have[required[i]] || fields[required[i]].value.len == 0)
            return RD_EPROTO;
    }

    out->alg = RD_HASH_MD5; /* RFC 2617 §3.2.1: absent means MD5 */
    if (have[CF_ALGORITHM]) {
        if (!parse_alg(&fields[CF_ALGORITHM], &out->alg))
            return RD_EPROTO;
        out->alg_present = true;
    }

    /* Values used below; response, nc and qop have exact formats checked afterwards. */
    const struct {
        enum cred_field f;
        struct rd_str *dst;
        size_t max;
    } views[] = {
        {CF_USERNAME, &out->username, RD_AUTH_MAX_USERNAME},
        {CF_REALM, &out->realm, RD_AUTH_MAX_REALM},
        {CF_NONCE, &out->nonce, RD_AUTH_MAX_NONCE},
        {CF_URI, &out->uri, RD_AUTH_MAX_URI},
        {CF_RESPONSE, &out->response, SIZE_MAX},
        {CF_CNONCE, &out->cnonce, SIZE_MAX},
        {CF_NC, &out->nc, SIZE_MAX},
        {CF_QOP, &out->qop, SIZE_MAX},
        {CF_OPAQUE, &out->opaque, SIZE_MAX},
    };
    size_t used = 0;
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
        if (!have[views[i].f])
            continue;
        rc = cred_value(&fields[views[i].f], scratch, scratch_cap, &used, views[i].dst);
        if (rc != RD_OK)
            return rc;
        if (views[i].dst->len > views[i].max)
            return RD_ELIMIT;
    }

    /* RFC 7616 §3.4: response = 32 or 64 LHEX by algorithm. */
    if (out->response.len != 2 * rd_hash_len(out->alg))
        return RD_EPROTO;
    for (size_t i = 0; i < out->response.len; i++) {
        if (!is_lhex((unsigned char)out->response.p[i]))
            return RD_EPROTO;
    }

    if (have[CF_QOP]) {
        /* We only ever offer qop="auth"; auth-int or anything else is a client error. */
        if (!item_eq_ci(&fields[CF_QOP], "auth"))
            return RD_EPROTO;
        out->has_qop = true;
        if (!have[CF_CNONCE] || !have[CF_NC] || out->cnonce.len == 0)
            return RD_EPROTO;
        /* nc = 8LHEX (RFC 7616 §3.4); upper case is tolerated, hashed as sent. */
        if (out->nc.len != 8)
            return RD_EPROTO;
        uint32_t v = 0;
        for (size_t i = 0; i < 8; i++) {
            int d = rd_hex_value((unsigned char)out->nc.p[i]);
            if (d < 0)
                return RD_EPROTO;
            v = v << 4 | (uint32_t)d;
        }
        out->nc_value = v;
    } else if (have[CF_CNONCE] || have[CF_NC]) {
        return RD_EPROTO; /* RFC 7616 §3.4: cnonce and nc only with qop */
    }
    return RD_OK;
}

/* Decodes exactly 2 * len lower-case hex digits. */
static bool
lhex_decode(struct rd_str hex, uint8_t *out, size_t len)
{
    if (hex.len != 2 * len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char a = (unsigned char)hex.p[2 * i];
        unsigned char b = (unsigned char)hex.p[2 * i + 1];
        if (!is_lhex(a) || !is_lhex(b))
            return false;
        out[i] = (uint8_t)(rd_hex_value(a) << 4 | rd_hex_value(b));
    }
    return true;
}

int
digest_verify(const struct digest_server *srv, const struct digest_credentials *cr,
              struct rd_str method, struct rd_str request_uri, struct rd_str ha1_hex,
              uint64_t now_s)
{
    if (!cr->has_qop)
        return RD_EPROTO;
    if (!rd_str_eq(cr->uri, request_uri))
        return RD_EPROTO;
    size_t hl = rd_hash_len(cr->alg);
    uint8_t got[RD_HASH_MAX];
    if (!lhex_decode(cr->response, got, hl))
        return RD_EPROTO;
    if (!rd_str_eq(cr->realm, srv->realm))
        return RD_EAUTH;
    int nonce_rc = digest_nonce_check(srv, cr->nonce, now_s);
    if (nonce_rc != RD_OK && nonce_rc != RD_EEXPIRED)
        return nonce_rc;

    /* The registry stores lower-case hex; accept upper case too, hash it lower-cased. */
    char ha1[2 * RD_HASH_MAX];
    if (ha1_hex.len != 2 * hl)
        return RD_EAUTH;
    for (size_t i = 0; i < ha1_hex.len; i++) {
        unsigned char c = (unsigned char)ha1_hex.p[i];
        if (rd_hex_value(c) < 0)
            return RD_EAUTH;
        ha1[i] = (char)(c >= 'A' && c <= 'F' ? c + ('a' - 'A') : c);
    }
    struct digest_response_in in = {
        .alg = cr->alg,
        .ha1_hex = rd_str_make(ha1, 2 * hl),
        .nonce = cr->nonce,
        .nc = cr->nc,
        .cnonce = cr->cnonce,
        .qop = cr->qop, /* as sent: matched case-insensitively, hashed verbatim */
        .method = method,
        .uri = cr->uri,
    };
    uint8_t want[RD_HASH_MAX];
    int rc = digest_response_compute(&in, want);
    rd_cleanse(ha1, sizeof(ha1));
    if (rc != RD_OK)
        return rc;
    if (!rd_ct_equal(got, want, hl))
        return RD_EAUTH;
    return nonce_rc;
}

/* ---- Client side: choosing a challenge --------------------------------------------------- */

/* One challenge's parameters while scanning; views into the header value. */
struct chal_acc {
    struct rd_str scheme;
    bool token68;
    size_t n;
    struct ap_item params[RD_AUTH_MAX_PARAMS];
};

static const struct ap_item *
chal_param(const struct chal_acc *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++) {
        if (rd_str_eq_ci_cstr(a->params[i].name, name))
            return &a->params[i];
    }
    return NULL;
}

/* Copies an optional field into dst[max + 1], NUL-terminated. RD_ELIMIT if over max. */
static int
chal_copy(const struct ap_item *it, char *dst, size_t max, size_t *len)
{
    size_t n = unescape(it->value, it->escaped, dst, max);
    if (n == SIZE_MAX)
        return RD_ELIMIT;
    dst[n] = '\0';
    *len = n;
    return RD_OK;
}

/* RFC 7616 §3.3: qop = quoted list of tokens; true when "auth" is one of them. */
static bool
qop_offers_auth(const struct ap_item *it)
{
    char tmp[RD_AUTH_MAX_CHALLENGE];
    size_t n = unescape(it->value, it->escaped, tmp, sizeof(tmp));
    if (n == SIZE_MAX)
        return false;
    struct rd_str rest = rd_str_make(tmp, n);
    bool found = true;
    while (found) {
        struct rd_str elem;
        rest = rd_str_split(rest, ',', &elem, &found);
        if (rd_str_eq_ci_cstr(rd_str_trim(elem), "auth"))
            return true;
    }
    return false;
}

/* Ranks a finished challenge and fills *cand. Returns the rank (0 = unusable: skip) or a
 * negative status. SHA-256 Digest 3 > MD5 Digest 2 > Basic 1. */
static int
chal_eval(const struct chal_acc *a, bool allow_basic, struct digest_challenge *cand)
{
    memset(cand, 0, sizeof(*cand));
    if (rd_str_eq_ci_cstr(a->scheme, "Basic")) {
        if (!allow_basic)
            return 0;
        cand->scheme = DIGEST_SCHEME_BASIC;
        const struct ap_item *realm = chal_param(a, "realm");
        if (realm != NULL) {
            int rc = chal_copy(realm, cand->realm, RD_AUTH_MAX_REALM, &cand->realm_len);
            if (rc != RD_OK)
                return rc;
        }
        return 1;
    }
    if (!rd_str_eq_ci_cstr(a->scheme, "Digest"))
        return 0;
    if (a->token68)
        return RD_EPROTO;
    cand->scheme = DIGEST_SCHEME_DIGEST;
    cand->alg = RD_HASH_MD5; /* RFC 2617 §3.2.1: absent means MD5 */
    const struct ap_item *alg = chal_param(a, "algorithm");
    if (alg != NULL) {
        if (!parse_alg(alg, &cand->alg))
            return 0; /* MD5-sess, SHA-512-256, ...: unsupported */
        cand->alg_present = true;
    }
    const struct ap_item *qop = chal_param(a, "qop");
    if (qop != NULL) {
        if (!qop_offers_auth(qop))
            return 0; /* only auth-int (or junk): unsupported */
        cand->qop_auth = true;
    }
    const struct ap_item *realm = chal_param(a, "realm");
    const struct ap_item *nonce = chal_param(a, "nonce");
    if (realm == NULL || nonce == NULL || nonce->value.len == 0)
        return RD_EPROTO;
    int rc = chal_copy(realm, cand->realm, RD_AUTH_MAX_REALM, &cand->realm_len);
    if (rc == RD_OK)
        rc = chal_copy(nonce, cand->nonce, RD_AUTH_MAX_NONCE, &cand->nonce_len);
    const struct ap_item *opaque = chal_param(a, "opaque");
    if (rc == RD_OK && opaque != NULL) {
        rc = chal_copy(opaque, cand->opaque, RD_AUTH_MAX_OPAQUE, &cand->opaque_len);
        cand->has_opaque = true;
    }
    if (rc != RD_OK)
        return rc;
    /* Hikvision sends stale="FALSE", Axis stale=FALSE: compare without case or quotes. */
    const struct ap_item *stale = chal_param(a, "stale");
    cand->stale = stale != NULL && item_eq_ci(stale, "true");
    return cand->alg == RD_HASH_SHA256 ? 3 : 2;
}

static int
pick(const struct rd_str *values, size_t n, bool allow_basic, struct digest_challenge *out)
{
    struct chal_acc acc;
    acc.scheme = RD_STR_NULL;
    acc.token68 = false;
    acc.n = 0;
    struct digest_challenge cand;
    int best = 0;
    size_t n_challenges = 0;
    for (size_t v = 0; v < n; v++) {
        if (values[v].len > RD_AUTH_MAX_CHALLENGE)
            return RD_ELIMIT;
        struct ap_scan s;
        ap_init(&s, values[v]);
        bool open = false;
        for (;;) {
            struct ap_item it;
            int rc = ap_next(&s, &it);
            if (rc != RD_OK)
                return rc;
            if (open && (it.kind == AP_SCHEME || it.kind == AP_END)) {
                int rank = chal_eval(&acc, allow_basic, &cand);
                if (rank < 0)
                    return rank;
                if (rank > best) {
                    best = rank;
                    *out = cand;
                }
                open = false;
            }
            if (it.kind == AP_END)
                break;
            if (it.kind == AP_SCHEME) {
                if (++n_challenges > RD_AUTH_MAX_CHALLENGES)
                    return RD_ELIMIT;
                acc.scheme = it.name;
                acc.token68 = false;
                acc.n = 0;
                open = true;
            } else if (!open) {
                return RD_EPROTO; /* unreachable: the scanner refuses params before a scheme */
            } else if (it.kind == AP_TOKEN68) {
                acc.token68 = true;
            } else {
                for (size_t i = 0; i < acc.n; i++) {
                    if (rd_str_eq_ci(acc.params[i].name, it.name))
                        return RD_EPROTO; /* duplicate parameter */
                }
                if (acc.n == RD_AUTH_MAX_PARAMS)
                    return RD_ELIMIT;
                acc.params[acc.n++] = it;
            }
        }
    }
    return best == 0 ? RD_ENOTFOUND : RD_OK;
}

int
digest_challenge_pick(const struct rd_str *values, size_t n, bool allow_basic,
                      struct digest_challenge *out)
{
    memset(out, 0, sizeof(*out));
    int rc = pick(values, n, allow_basic, out);
    if (rc != RD_OK)
        memset(out, 0, sizeof(*out)); /* never leave a half-chosen challenge behind */
    return rc;
}

/* ---- Client side: answering -------------------------------------------------------------- */

/* Shared checks of the caller's request (see struct digest_client_request). */
static int
client_req_check(const struct digest_client_request *req)
{
    if (req->username.len > RD_AUTH_MAX_USERNAME || req->password.len > RD_AUTH_MAX_PASSWORD)
        return RD_ELIMIT;
    if (has_ctl(req->username) || has_crlf_nul(req->password))
        return RD_EPROTO;
    return RD_OK;
}

int
digest_basic_build(struct rd_str username, struct rd_str password, char *out, size_t cap)
{
    if (username.len > RD_AUTH_MAX_USERNAME || password.len > RD_AUTH_MAX_PASSWORD)
        return RD_ELIMIT;
    /* RFC 7617 §2: the user-id cannot contain ':'; neither part may contain CTLs. */
    if (has_ctl(username) || has_crlf_nul(password)
        || (username.len > 0 && memchr(username.p, ':', username.len) != NULL))
        return RD_EPROTO;
    char pair[RD_AUTH_MAX_USERNAME + 1 + RD_AUTH_MAX_PASSWORD];
    size_t n = 0;
    if (username.len > 0)
        memcpy(pair, username.p, username.len);
    n += username.len;
    pair[n++] = ':';
    if (password.len > 0)
        memcpy(pair + n, password.p, password.len);
    n += password.len;
    static const char prefix[] = "Basic ";
    int rc = RD_ELIMIT;
    if (cap > sizeof(prefix) - 1) {
        rc = rd_b64_encode((const uint8_t *)pair, n, out + sizeof(prefix) - 1,
                           cap - (sizeof(prefix) - 1));
        if (rc >= 0) {
            memcpy(out, prefix, sizeof(prefix) - 1);
            rc += (int)(sizeof(prefix) - 1);
        }
    }
    if (rc < 0 && cap > 0)
        out[0] = '\0';
    rd_cleanse(pair, sizeof(pair));
    return rc;
}

int
digest_authorization_build_cnonce(struct digest_challenge *ch,
                                  const struct digest_client_request *req, struct rd_str cnonce,
                                  char *out, size_t cap)
{
    int rc = client_req_check(req);
    if (rc != RD_OK)
        return rc;
    if (ch->scheme == DIGEST_SCHEME_BASIC)
        return digest_basic_build(req->username, req->password, out, cap);
    if (ch->scheme != DIGEST_SCHEME_DIGEST)
        return RD_EPROTO;
    if (req->method.len > RD_RTSP_MAX_METHOD || req->uri.len > RD_AUTH_MAX_URI
        || ch->realm_len > RD_AUTH_MAX_REALM || ch->nonce_len > RD_AUTH_MAX_NONCE
        || ch->opaque_len > RD_AUTH_MAX_OPAQUE)
        return RD_ELIMIT;
    if (!rd_str_is_token(req->method) || req->uri.len == 0 || has_ctl(req->uri))
        return RD_EPROTO;
    struct rd_str realm = rd_str_make(ch->realm, ch->realm_len);
    struct rd_str nonce = rd_str_make(ch->nonce, ch->nonce_len);
    /* Camera-supplied fields may hold HTAB (qdtext, RFC 7230 §3.2.6) but no other control. */
    if (has_ctl_but_tab(realm) || has_ctl_but_tab(nonce)
        || (ch->has_opaque && has_ctl_but_tab(rd_str_make(ch->opaque, ch->opaque_len))))
        return RD_EPROTO; /* not from digest_challenge_pick */
    uint32_t nc = ch->nc;
    char nc_hex[9] = "";
    if (ch->qop_auth) {
        if (cnonce.len == 0 || cnonce.len > 64)
            return RD_ELIMIT;
        for (size_t i = 0; i < cnonce.len; i++) {
            if (!is_token68_char((unsigned char)cnonce.p[i]))
                return RD_EPROTO;
        }
        if (nc == UINT32_MAX)
            return RD_ELIMIT; /* 2^32 answers on one nonce: pick a new challenge */
        nc++;
        uint8_t be[4] = {(uint8_t)(nc >> 24), (uint8_t)(nc >> 16), (uint8_t)(nc >> 8), (uint8_t)nc};
        rd_hex_encode(be, 4, nc_hex);
    }

    char ha1[2 * RD_HASH_MAX + 1];
    rc = ha1_compute(ch->alg, req->username, realm, req->password, ha1);
    uint8_t resp[RD_HASH_MAX];
    if (rc == RD_OK) {
        struct digest_response_in in = {
            .alg = ch->alg,
            .ha1_hex = rd_str_make(ha1, 2 * rd_hash_len(ch->alg)),
            .nonce = nonce,
            .nc = ch->qop_auth ? rd_str_make(nc_hex, 8) : RD_STR_NULL,
            .cnonce = ch->qop_auth ? cnonce : RD_STR_NULL,
            .qop = ch->qop_auth ? RD_STR_LIT("auth") : RD_STR_NULL,
            .method = req->method,
            .uri = req->uri,
        };
        rc = digest_response_compute(&in, resp);
    }
    rd_cleanse(ha1, sizeof(ha1));
    if (rc != RD_OK)
        return rc;
    char resp_hex[2 * RD_HASH_MAX + 1];
    rd_hex_encode(resp, rd_hash_len(ch->alg), resp_hex);

    /* RFC 7616 §3.4 field order as in its §3.9.1 example. */
    struct wbuf w;
    w_init(&w, out, cap);
    w_str(&w, "Digest username=");
    w_quoted(&w, req->username);
    w_str(&w, ", realm=");
    w_quoted(&w, realm);
    w_str(&w, ", nonce=");
    w_quoted(&w, nonce);
    w_str(&w, ", uri=");
    w_quoted(&w, req->uri);
    if (ch->alg_present) {
        w_str(&w, ", algorithm=");
        w_str(&w, alg_name(ch->alg));
    }
    w_str(&w, ", response=\"");
    w_str(&w, resp_hex);
    w_str(&w, "\"");
    if (ch->qop_auth) {
        w_str(&w, ", qop=auth, nc=");
        w_str(&w, nc_hex);
        w_str(&w, ", cnonce=");
        w_quoted(&w, cnonce);
    }
    if (ch->has_opaque) {
        w_str(&w, ", opaque=");
        w_quoted(&w, rd_str_make(ch->opaque, ch->opaque_len));
    }
    rc = w_finish(&w);
    if (rc >= 0 && ch->qop_auth)
        ch->nc = nc;
    return rc;
}

int
digest_authorization_build(struct digest_challenge *ch, const struct digest_client_request *req,
                           char *out, size_t cap)
{
    uint8_t raw[16];
    char hex[2 * sizeof(raw) + 1];
    if (ch->scheme == DIGEST_SCHEME_DIGEST && ch->qop_auth) {
        int rc = rd_random_bytes(raw, sizeof(raw));
        if (rc != RD_OK)
            return rc;
    } else {
        memset(raw, 0, sizeof(raw)); /* unused: Basic or the RFC 2069 form */
    }
    rd_hex_encode(raw, sizeof(raw), hex);
    return digest_authorization_build_cnonce(ch, req, rd_str_make(hex, 2 * sizeof(raw)), out, cap);
}
