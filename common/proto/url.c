/* SPDX-License-Identifier: MIT */
/* URL splitting and checking for rtsp:// and rtsps:// (RFC 3986, RFC 2326 §3.2, RFC 6874),
 * strict percent-decoding and the request-path shapes of the broker and the relay. */
#include "url.h"

#include "rd_err.h"
#include "rd_limits.h"

/* ---- character classes (RFC 3986 §2, §3) --------------------------------------------- */

static bool
is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 §2.3 */
static bool
is_unreserved(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 §2.2 */
static bool
is_sub_delim(unsigned char c)
{
    switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
        return true;
    default:
        return false;
    }
}

/* RFC 3986 §3.3 pchar without the pct-encoded alternative (checked separately). */
static bool
is_pchar_raw(unsigned char c)
{
    return is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@';
}

/* Any byte that may appear in an RTSP URL at all: RFC 3986 characters except '#' (RTSP has
 * no fragments). Rejects CTL, SP, DEL, non-ASCII, backslash and "\"<>^`{|}". */
static bool
is_url_char(unsigned char c)
{
    return is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '/' || c == '?' || c == '['
           || c == ']' || c == '@' || c == '%';
}

/* Checks that every byte of s is allowed by is_ok, or is a '%' followed by two hex digits. */
static bool
pct_chars_valid(struct rd_str s, bool (*is_ok)(unsigned char))
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c == '%') {
            if (s.len - i < 3 || !is_hex((unsigned char)s.p[i + 1])
                || !is_hex((unsigned char)s.p[i + 2]))
                return false;
            i += 2;
        } else if (!is_ok(c)) {
            return false;
        }
    }
    return true;
}

static bool
is_userinfo_char(unsigned char c)
{
    return is_unreserved(c) || is_sub_delim(c) || c == ':';
}

static bool
is_path_char(unsigned char c)
{
    return is_pchar_raw(c) || c == '/';
}

static bool
is_query_char(unsigned char c)
{
    return is_pchar_raw(c) || c == '/' || c == '?';
}

/* ---- hosts (RFC 3986 §3.2.2) ---------------------------------------------------------- */

/* dec-octet "." dec-octet "." dec-octet "." dec-octet, no leading zeros (so "010" cannot mean
 * octal to inet_aton()). */
static bool
ipv4_valid(const char *p, size_t n)
{
    size_t i = 0;
    for (unsigned part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || p[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && i - start < 4 && is_digit((unsigned char)p[i])) {
            v = v * 10 + (unsigned)(p[i] - '0');
            i++;
        }
        size_t digits = i - start;
        if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && p[start] == '0'))
            return false;
    }
    return i == n;
}

/* RFC 3986 §3.2.2 IPv6address: eight 16-bit groups, one "::" for a run of zero groups, the
 * last 32 bits optionally as a dotted quad. */
static bool
ipv6_valid(const char *p, size_t n)
{
    size_t i = 0;
    unsigned groups = 0;
    bool compressed = false;
    if (n >= 2 && p[0] == ':' && p[1] == ':') {
        compressed = true;
        i = 2;
        if (i == n)
            return true;
    } else if (n == 0 || p[0] == ':') {
        return false;
    }
    for (;;) {
        size_t start = i;
        size_t h = 0;
        while (i < n && h < 5 && is_hex((unsigned char)p[i])) {
            i++;
            h++;
        }
        if (i < n && p[i] == '.') {
            if (!ipv4_valid(p + start, n - start))
                return false;
            groups += 2;
            break;
        }
        if (h == 0 || h > 4)
            return false;
        groups++;
        if (groups > 8)
            return false;
        if (i == n)
            break;
        if (p[i] != ':')
            return false;
        i++;
        if (i == n)
            return false; /* a single trailing ':' */
        if (p[i] == ':') {
            if (compressed)
                return false;
            compressed = true;
            i++;
            if (i == n)
                break;
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

/* Does a label read as a number (WHATWG URL "ends in a number")? Resolvers would take
 * "10.1" or "0x7f" as an IPv4 address, so such a name must be a strict dotted quad. */
static bool
label_is_numeric(const char *p, size_t n)
{
    if (n >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        for (size_t i = 2; i < n; i++) {
            if (!is_hex((unsigned char)p[i]))
                return false;
        }
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)p[i]))
            return false;
    }
    return n > 0;
}

/* Host names: dot-separated labels of 1-63 [A-Za-z0-9_-] (RFC 1123 plus '_', which internal
 * names use), no '-' at a label's edge, no empty label, last label not numeric. */
static bool
regname_valid(const char *p, size_t n)
{
    size_t i = 0;
    for (;;) {
        size_t start = i;
        while (i < n && p[i] != '.') {
            unsigned char c = (unsigned char)p[i];
            if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_')
                return false;
            i++;
        }
        size_t len = i - start;
        if (len == 0 || len > 63 || p[start] == '-' || p[i - 1] == '-')
            return false;
        if (i == n)
            return !label_is_numeric(p + start, len);
        i++; /* the '.' */
    }
}

/* RFC 6874: IP-literal = "[" IPv6address "%25" ZoneID "]", ZoneID = 1*(unreserved / pct). */
static int
ip_literal_parse(struct rd_str inside, struct url_parts *out)
{
    const char *pct = inside.len > 0 ? memchr(inside.p, '%', inside.len) : NULL;
    size_t addr_len = pct != NULL ? (size_t)(pct - inside.p) : inside.len;
    out->zone = RD_STR_NULL;
    if (pct != NULL) {
        size_t rest = inside.len - addr_len;
        if (rest < 4 || pct[1] != '2' || pct[2] != '5')
            return RD_EPROTO;
        out->zone = rd_str_make(pct + 3, rest - 3);
        if (!pct_chars_valid(out->zone, is_unreserved))
            return RD_EPROTO;
    }
    if (!ipv6_valid(inside.p, addr_len))
        return RD_EPROTO;
    out->host_kind = URL_HOST_IPV6;
    out->host = inside;
    return RD_OK;
}

static int
authority_parse(struct rd_str auth, struct url_parts *out)
{
    const char *at = auth.len > 0 ? memchr(auth.p, '@', auth.len) : NULL;
    struct rd_str hostport = auth;
    if (at != NULL) {
        size_t ui_len = (size_t)(at - auth.p);
        out->has_userinfo = true;
        out->userinfo = rd_str_make(auth.p, ui_len);
        hostport = rd_str_make(at + 1, auth.len - ui_len - 1);
        if (!pct_chars_valid(out->userinfo, is_userinfo_char))
            return RD_EPROTO;
    }
    if (hostport.len == 0)
        return RD_EPROTO;

    struct rd_str host;
    struct rd_str port = RD_STR_NULL;
    bool has_port = false;
    if (hostport.p[0] == '[') {
        const char *rb = memchr(hostport.p, ']', hostport.len);
        if (rb == NULL)
            return RD_EPROTO;
        size_t used = (size_t)(rb - hostport.p) + 1;
        host = rd_str_make(hostport.p + 1, used - 2);
        if (used < hostport.len) {
            if (hostport.p[used] != ':')
                return RD_EPROTO;
            has_port = true;
            port = rd_str_make(hostport.p + used + 1, hostport.len - used - 1);
        }
        if (host.len > RD_URL_MAX_HOST)
            return RD_ELIMIT;
        int rc = ip_literal_parse(host, out);
        if (rc != RD_OK)
            return rc;
    } else {
        port = rd_str_split(hostport, ':', &host, &has_port);
        if (host.len == 0)
            return RD_EPROTO;
        if (host.len > RD_URL_MAX_HOST)
            return RD_ELIMIT;
        if (ipv4_valid(host.p, host.len))
            out->host_kind = URL_HOST_IPV4;
        else if (regname_valid(host.p, host.len))
            out->host_kind = URL_HOST_NAME;
        else
            return RD_EPROTO;
        out->host = host;
    }

    if (has_port) {
        uint32_t v;
        /* RFC 3986 allows an empty port; we do not (nothing legitimate sends one). */
        if (rd_str_to_u32(port, 5, 65535, &v) != RD_OK || v == 0)
            return RD_EPROTO;
        out->port = (uint16_t)v;
        out->port_given = true;
    } else {
        out->port = out->scheme == URL_SCHEME_RTSPS ? URL_PORT_RTSPS : URL_PORT_RTSP;
        out->port_given = false;
    }
    return RD_OK;
}

int
url_split(struct rd_str url, struct url_parts *out)
{
    static const char root[] = "/";
    memset(out, 0, sizeof(*out));
    if (url.len == 0)
        return RD_EPROTO;
    if (url.len > RD_RTSP_MAX_URI)
        return RD_ELIMIT;
    for (size_t i = 0; i < url.len; i++) {
        if (!is_url_char((unsigned char)url.p[i]))
            return RD_EPROTO;
    }
    /* RFC 2326 §6.1: Request-URI = "*" | absolute_URI */
    if (url.len == 1 && url.p[0] == '*') {
        out->is_star = true;
        out->path = RD_STR_NULL;
        return RD_OK;
    }

    struct rd_str scheme;
    bool found;
    struct rd_str rest = rd_str_split(url, ':', &scheme, &found);
    if (!found)
        return RD_EPROTO;
    if (rd_str_eq_ci_cstr(scheme, "rtsp"))
        out->scheme = URL_SCHEME_RTSP;
    else if (rd_str_eq_ci_cstr(scheme, "rtsps"))
        out->scheme = URL_SCHEME_RTSPS;
    else
        return RD_EPROTO;
    if (rest.len < 2 || rest.p[0] != '/' || rest.p[1] != '/')
        return RD_EPROTO;
    rest = rd_str_make(rest.p + 2, rest.len - 2);

    /* The authority ends at the first '/' or '?' (RFC 3986 §3.2; '#' was refused above). */
    size_t a = 0;
    while (a < rest.len && rest.p[a] != '/' && rest.p[a] != '?')
        a++;
    /* A second '@' makes "which host?" ambiguous between parsers: refuse it. */
    size_t n_at = 0;
    for (size_t i = 0; i < a; i++)
        n_at += rest.p[i] == '@';
    if (n_at > 1)
        return RD_EPROTO;
    int rc = authority_parse(rd_str_make(rest.p, a), out);
    if (rc != RD_OK)
        return rc;

    struct rd_str tail = rd_str_make(rest.p + a, rest.len - a);
    struct rd_str path;
    struct rd_str query = rd_str_split(tail, '?', &path, &out->has_query);
    if (!pct_chars_valid(path, is_path_char) || !pct_chars_valid(query, is_query_char))
        return RD_EPROTO;
    out->path = path.len > 0 ? path : rd_str_make(root, 1);
    out->query = out->has_query ? query : RD_STR_NULL;
    return RD_OK;
}

/* ---- percent-decoding ------------------------------------------------------------------ */

struct pct_scan {
    size_t len;     /* decoded bytes */
    bool only_dots; /* every decoded byte is '.' */
    bool has_slash; /* a decoded (not raw) '/' was seen */
};

/* Decodes in into out[cap] (or only checks it when out == NULL), validating the decoded
 * byte stream: no NUL/CTL/DEL/backslash, UTF-8 (RFC 3629 §4) without C1 controls. */
static int
pct_scan_run(struct rd_str in, char *out, size_t cap, struct pct_scan *res)
{
    unsigned need = 0;       /* continuation bytes still expected */
    unsigned char lo = 0x80; /* bounds of the next continuation byte */
    unsigned char hi = 0xbf;
    res->len = 0;
    res->only_dots = true;
    res->has_slash = false;
    for (size_t i = 0; i < in.len; i++) {
        unsigned char b = (unsigned char)in.p[i];
        if (b == '%') {
            if (in.len - i < 3 || !is_hex((unsigned char)in.p[i + 1])
                || !is_hex((unsigned char)in.p[i + 2]))
                return RD_EPROTO;
            b = (unsigned char)(rd_hex_value((unsigned char)in.p[i + 1]) << 4
                                | rd_hex_value((unsigned char)in.p[i + 2]));
            i += 2;
            if (b == '/')
                res->has_slash = true;
        }
        if (need > 0) {
            if (b < lo || b > hi)
                return RD_EPROTO;
            need--;
            lo = 0x80;
            hi = 0xbf;
        } else if (b < 0x80) {
            if (b < 0x20 || b == 0x7f || b == '\\')
                return RD_EPROTO;
        } else if (b == 0xc2) {
            need = 1;
            lo = 0xa0; /* U+0080-U+009F are C1 controls */
        } else if (b >= 0xc3 && b <= 0xdf) {
            need = 1;
        } else if (b == 0xe0) {
            need = 2;
            lo = 0xa0; /* overlong below U+0800 */
        } else if (b == 0xed) {
            need = 2;
            hi = 0x9f; /* UTF-16 surrogates */
        } else if (b >= 0xe1 && b <= 0xef) {
            need = 2;
        } else if (b == 0xf0) {
            need = 3;
            lo = 0x90; /* overlong below U+10000 */
        } else if (b >= 0xf1 && b <= 0xf3) {
            need = 3;
        } else if (b == 0xf4) {
            need = 3;
            hi = 0x8f; /* above U+10FFFF */
        } else {
            return RD_EPROTO; /* stray continuation, c0/c1 overlong leads, f5-ff */
        }
        if (b != '.')
            res->only_dots = false;
        if (out != NULL) {
            if (res->len + 1 >= cap)
                return RD_ELIMIT;
            out[res->len] = (char)b;
        }
        res->len++;
    }
    if (need > 0)
        return RD_EPROTO;
    if (out != NULL)
        out[res->len] = '\0';
    return RD_OK;
}

int
url_pct_decode(struct rd_str in, char *out, size_t cap)
{
    if (cap == 0 || in.len > (size_t)INT32_MAX)
        return RD_ELIMIT;
    out[0] = '\0';
    struct pct_scan res;
    int rc = pct_scan_run(in, out, cap, &res);
    if (rc != RD_OK) {
        out[0] = '\0';
        return rc;
    }
    return (int)res.len;
}

/* ---- paths ------------------------------------------------------------------------------ */

static bool
segment_valid(struct rd_str seg)
{
    struct pct_scan res;
    if (!pct_chars_valid(seg, is_pchar_raw) || pct_scan_run(seg, NULL, 0, &res) != RD_OK)
        return false;
    /* RFC 3986 §5.2.4 dot-segments, in any spelling; a decoded '/' would change the split. */
    if (res.has_slash || (res.only_dots && res.len <= 2))
        return false;
    return true;
}

int
url_path_split(struct rd_str path, struct rd_str *segs, size_t max_segs, size_t *n_segs,
               bool *trailing_slash)
{
    size_t limit = max_segs < RD_URL_MAX_SEGMENTS ? max_segs : RD_URL_MAX_SEGMENTS;
    size_t n = 0;
    *n_segs = 0;
    if (trailing_slash != NULL)
        *trailing_slash = false;
    if (path.len == 0 || path.p[0] != '/')
        return RD_EPROTO;
    size_t pos = 1;
    for (;;) {
        size_t end = pos;
        while (end < path.len && path.p[end] != '/')
            end++;
        struct rd_str seg = rd_str_make(path.p + pos, end - pos);
        if (seg.len == 0) {
            if (end < path.len)
                return RD_EPROTO; /* "//": an empty segment in the middle */
            if (n > 0 && trailing_slash != NULL)
                *trailing_slash = true;
            break;
        }
        if (!segment_valid(seg))
            return RD_EPROTO;
        if (n >= limit)
            return RD_ELIMIT;
        segs[n++] = seg;
        if (end == path.len)
            break;
        pos = end + 1;
    }
    *n_segs = n;
    return RD_OK;
}

bool
url_id_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '_' || c == '-';
}

bool
url_id_valid(struct rd_str id, size_t max)
{
    if (id.len == 0 || id.len > max)
        return false;
    for (size_t i = 0; i < id.len; i++) {
        if (!url_id_char((unsigned char)id.p[i]))
            return false;
    }
    return true;
}

bool
url_camera_id_valid(struct rd_str id)
{
    return url_id_valid(id, RD_CAMERA_ID_MAX);
}

bool
url_token_charset_valid(struct rd_str tok)
{
    if (tok.len == 0 || tok.len > RD_TOKEN_MAX_LEN)
        return false;
    for (size_t i = 0; i < tok.len; i++) {
        unsigned char c = (unsigned char)tok.p[i];
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '-' && c != '.')
            return false;
    }
    return true;
}

int
url_broker_camera(struct rd_str path, struct rd_str *camera, struct rd_str *control)
{
    struct rd_str segs[RD_URL_MAX_SEGMENTS];
    size_t n;
    *camera = RD_STR_NULL;
    if (control != NULL)
        *control = RD_STR_NULL;
    int rc = url_path_split(path, segs, RD_URL_MAX_SEGMENTS, &n, NULL);
    if (rc == RD_ELIMIT)
        return RD_ENOTFOUND;
    if (rc != RD_OK)
        return RD_EPROTO;
    if (n == 0 || n > 2 || !url_camera_id_valid(segs[0]))
        return RD_ENOTFOUND;
    *camera = segs[0];
    if (control != NULL && n == 2)
        *control = segs[1];
    return RD_OK;
}

int
url_relay_path_parse(struct rd_str path, struct rd_str *camera, struct rd_str *token,
                     struct rd_str *rest)
{
    struct rd_str segs[4];
    size_t n;
    bool trailing;
    *camera = RD_STR_NULL;
    *token = RD_STR_NULL;
    *rest = RD_STR_NULL;
    if (url_path_split(path, segs, 4, &n, &trailing) != RD_OK)
        return RD_EPROTO;
    if (n < 3 || (n == 4 && trailing) || !rd_str_eq_cstr(segs[0], "v1")
        || !url_camera_id_valid(segs[1]) || !url_token_charset_valid(segs[2]))
        return RD_EPROTO;
    *camera = segs[1];
    *token = segs[2];
    if (n == 4)
        *rest = segs[3];
    return RD_OK;
}

int
url_build_location(struct rd_str relay_base, enum url_scheme scheme, struct rd_str camera,
                   struct rd_str token, char *out, size_t cap)
{
    struct url_parts base;
    if (cap > 0)
        out[0] = '\0';
    if (url_split(relay_base, &base) != RD_OK || base.is_star || base.scheme != scheme
        || base.has_userinfo || base.has_query || !rd_str_eq_cstr(base.path, "/"))
        return RD_EPROTO;
    if (!url_camera_id_valid(camera) || !url_token_charset_valid(token))
        return RD_EPROTO;
    size_t base_len = relay_base.len;
    if (relay_base.p[base_len - 1] == '/')
        base_len--;
    /* Every length is bounded (URI, camera id, token), so this sum cannot overflow. */
    size_t need = base_len + 4 + camera.len + 1 + token.len + 1;
    if (need >= cap)
        return RD_ELIMIT;
    char *o = out;
    memcpy(o, relay_base.p, base_len);
    o += base_len;
    memcpy(o, "/v1/", 4);
    o += 4;
    memcpy(o, camera.p, camera.len);
    o += camera.len;
    *o++ = '/';
    memcpy(o, token.p, token.len);
    o += token.len;
    *o++ = '/';
    *o = '\0';
    return (int)need;
}
