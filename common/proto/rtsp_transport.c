/* SPDX-License-Identifier: MIT */
/* Transport header parse, relay policy checks and formatter (RFC 2326 §12.39). One pass per
 * level (alternatives, then parameters), quote-aware, caps checked before work. */
#include "rtsp_transport.h"
#include "rd_out.h"

#include "rd_err.h"

/* Digit caps follow from the field widths, not from policy: a 16-bit port has at most 5
 * decimal digits, an 8-bit channel or TTL at most 3, an SSRC is 32 bits = 8 hex digits. */
#define PORT_DIGITS    5
#define PORT_MAX       65535u
#define CHANNEL_DIGITS 3
#define CHANNEL_MAX    255u
#define TTL_DIGITS     3
#define TTL_MAX        255u
#define SSRC_HEX_MAX   8

/* Splits *rest at the first sep outside a quoted string: *item gets the part before it and
 * *rest the part after; *more tells whether a separator was found. A quoted string may not
 * contain a backslash (no quoted-pair: nothing we accept needs one) and must be closed. */
static int
next_item(struct rd_str *rest, char sep, struct rd_str *item, bool *more)
{
    bool quoted = false;
    for (size_t i = 0; i < rest->len; i++) {
        char c = rest->p[i];
        if (quoted) {
            if (c == '\\')
                return RD_EPROTO;
            if (c == '"')
                quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == sep) {
            *item = rd_str_make(rest->p, i);
            *rest = rd_str_make(rest->p + i + 1, rest->len - i - 1);
            *more = true;
            return RD_OK;
        }
    }
    if (quoted)
        return RD_EPROTO;
    *item = *rest;
    *rest = RD_STR_NULL;
    *more = false;
    return RD_OK;
}

/* A value may mix plain characters and quoted strings but holds no unquoted white space. */
static bool
value_ok(struct rd_str v)
{
    bool quoted = false;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.p[i];
        if (c == '"')
            quoted = !quoted;
        else if (!quoted && (c == ' ' || c == '\t'))
            return false;
    }
    return true;
}

/* Removes one pair of enclosing quotes; a quote left anywhere else is an error. */
static int
unquote(struct rd_str v, struct rd_str *out)
{
    if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"')
        v = v.len == 2 ? RD_STR_NULL : rd_str_make(v.p + 1, v.len - 2);
    if (v.len > 0 && memchr(v.p, '"', v.len) != NULL)
        return RD_EPROTO;
    *out = v;
    return RD_OK;
}

/* "a" or "a-b", decimal, each <= max; hi < lo is an error. */
static int
parse_range(struct rd_str v, unsigned digits, uint32_t max, struct rtsp_transport_range *r)
{
    struct rd_str lo_s;
    bool found;
    struct rd_str hi_s = rd_str_split(v, '-', &lo_s, &found);
    uint32_t lo, hi;
    if (rd_str_to_u32(lo_s, digits, max, &lo) != RD_OK)
        return RD_EPROTO;
    hi = lo;
    if (found && rd_str_to_u32(hi_s, digits, max, &hi) != RD_OK)
        return RD_EPROTO;
    if (hi < lo)
        return RD_EPROTO;
    r->present = true;
    r->has_hi = found;
    r->lo = (uint16_t)lo;
    r->hi = (uint16_t)hi;
    return RD_OK;
}

/* RFC 2326 §12.39: ssrc = 8*8(HEX). Servers that drop leading zeros are accepted: the value
 * is unambiguous; more than 8 digits cannot be a 32-bit value. */
static int
parse_ssrc(struct rd_str v, uint32_t *out)
{
    if (v.len == 0 || v.len > SSRC_HEX_MAX)
        return RD_EPROTO;
    uint32_t x = 0;
    for (size_t i = 0; i < v.len; i++) {
        int d = rd_hex_value(v.p[i]);
        if (d < 0)
            return RD_EPROTO;
        x = (x << 4) | (uint32_t)d;
    }
    *out = x;
    return RD_OK;
}

/* mode = <"> *Method <"> | Method (RFC 2326); RFC 7826 allows a quoted comma list. Method
 * names compare case-insensitively: Hikvision answers mode="play". */
static int
parse_mode(struct rd_str v, unsigned *mode)
{
    struct rd_str list;
    if (unquote(v, &list) != RD_OK)
        return RD_EPROTO;
    list = rd_str_trim(list);
    if (list.len == 0)
        return RD_EPROTO;
    bool more = true;
    while (more) {
        struct rd_str m;
        list = rd_str_split(list, ',', &m, &more);
        m = rd_str_trim(m);
        if (!rd_str_is_token(m))
            return RD_EPROTO;
        if (rd_str_eq_ci_cstr(m, "PLAY"))
            *mode |= RTSP_TRANSPORT_MODE_PLAY;
        else if (rd_str_eq_ci_cstr(m, "RECORD"))
            *mode |= RTSP_TRANSPORT_MODE_RECORD;
        else
            *mode |= RTSP_TRANSPORT_MODE_OTHER;
    }
    return RD_OK;
}

/* Interprets one known parameter; unknown ones are counted. has_value tells `name=` (possibly
 * with an empty value) from a bare `name`. */
static int
apply_param(struct rtsp_transport_spec *s, struct rd_str name, bool has_value, struct rd_str v)
{
    if (rd_str_eq_ci_cstr(name, "unicast") || rd_str_eq_ci_cstr(name, "multicast")
        || rd_str_eq_ci_cstr(name, "append")) {
        if (has_value)
            return RD_EPROTO;
        if (rd_str_eq_ci_cstr(name, "unicast"))
            s->unicast = true;
        else if (rd_str_eq_ci_cstr(name, "multicast"))
            s->multicast = true;
        else
            s->append = true;
        return RD_OK;
    }
    if (rd_str_eq_ci_cstr(name, "destination")) {
        /* RFC 2326: "destination" [ "=" address ]: a bare or empty one is allowed. */
        s->has_destination = true;
        return unquote(v, &s->destination);
    }
    if (rd_str_eq_ci_cstr(name, "source")) {
        s->has_source = true;
        if (unquote(v, &s->source) != RD_OK || s->source.len == 0)
            return RD_EPROTO;
        return RD_OK;
    }
    if (rd_str_eq_ci_cstr(name, "client_port"))
        return parse_range(v, PORT_DIGITS, PORT_MAX, &s->client_port);
    if (rd_str_eq_ci_cstr(name, "server_port"))
        return parse_range(v, PORT_DIGITS, PORT_MAX, &s->server_port);
    if (rd_str_eq_ci_cstr(name, "port"))
        return parse_range(v, PORT_DIGITS, PORT_MAX, &s->port);
    if (rd_str_eq_ci_cstr(name, "interleaved"))
        return parse_range(v, CHANNEL_DIGITS, CHANNEL_MAX, &s->interleaved);
    if (rd_str_eq_ci_cstr(name, "ttl")) {
        uint32_t ttl;
        if (rd_str_to_u32(v, TTL_DIGITS, TTL_MAX, &ttl) != RD_OK)
            return RD_EPROTO;
        s->has_ttl = true;
        s->ttl = (uint8_t)ttl;
        return RD_OK;
    }
    if (rd_str_eq_ci_cstr(name, "ssrc")) {
        s->has_ssrc = true;
        return parse_ssrc(v, &s->ssrc);
    }
    if (rd_str_eq_ci_cstr(name, "mode"))
        return parse_mode(v, &s->mode);
    s->n_unknown++;
    return RD_OK;
}

/* transport-protocol "/" profile [ "/" lower-transport ], or any token *("/" token). */
static int
parse_protocol(struct rd_str id, struct rtsp_transport_spec *s)
{
    struct rd_str part[3];
    unsigned n = 0;
    bool more = true;
    s->protocol = id;
    while (more) {
        struct rd_str p;
        id = rd_str_split(id, '/', &p, &more);
        if (!rd_str_is_token(p))
            return RD_EPROTO;
        if (n < 3)
            part[n] = p;
        n++;
    }
    if (n < 2 || n > 3 || !rd_str_eq_ci_cstr(part[0], "RTP") || !rd_str_eq_ci_cstr(part[1], "AVP"))
        return RD_OK; /* well-formed, not ours: supported stays false */
    if (n == 2 || rd_str_eq_ci_cstr(part[2], "UDP")) {
        s->supported = true;
        s->lower = RTSP_TRANSPORT_UDP;
    } else if (rd_str_eq_ci_cstr(part[2], "TCP")) {
        s->supported = true;
        s->lower = RTSP_TRANSPORT_TCP;
    }
    return RD_OK;
}

static int
parse_spec(struct rd_str item, struct rtsp_transport_spec *s)
{
    struct rd_str rest = item;
    struct rd_str id;
    struct rd_str names[RD_TRANSPORT_MAX_PARAMS];
    bool more;
    int rc;

    s->raw = item;
    if ((rc = next_item(&rest, ';', &id, &more)) != RD_OK)
        return rc;
    if ((rc = parse_protocol(rd_str_trim(id), s)) != RD_OK)
        return rc;
    while (more) {
        struct rd_str p, name, value;
        bool has_value;
        if ((rc = next_item(&rest, ';', &p, &more)) != RD_OK)
            return rc;
        p = rd_str_trim(p);
        if (p.len == 0) {
            if (!more)
                break; /* one trailing ';' (old QuickTime and some cameras send it) */
            return RD_EPROTO;
        }
        if (s->n_params == RD_TRANSPORT_MAX_PARAMS)
            return RD_ELIMIT;
        value = rd_str_trim(rd_str_split(p, '=', &name, &has_value));
        name = rd_str_trim(name);
        if (!rd_str_is_token(name) || !value_ok(value))
            return RD_EPROTO;
        for (unsigned i = 0; i < s->n_params; i++) {
            if (rd_str_eq_ci(names[i], name))
                return RD_EPROTO; /* duplicate: which one would we honour? */
        }
        names[s->n_params++] = name;
        if ((rc = apply_param(s, name, has_value, value)) != RD_OK)
            return rc;
    }
    if (s->unicast && s->multicast)
        return RD_EPROTO;
    return RD_OK;
}

int
rtsp_transport_parse(const char *buf, size_t len, struct rtsp_transport *out)
{
    memset(out, 0, sizeof(*out));
    if (len > RD_TRANSPORT_MAX_LEN)
        return RD_ELIMIT;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c != '\t' && (c < 0x20 || c > 0x7e))
            return RD_EPROTO; /* CTL, NUL, DEL or non-ASCII: never legitimate here */
    }
    struct rd_str rest = rd_str_trim(rd_str_make(buf, len));
    if (rest.len == 0)
        return RD_EPROTO;
    bool more = true;
    while (more) {
        struct rd_str item;
        int rc = next_item(&rest, ',', &item, &more);
        if (rc != RD_OK)
            return rc;
        item = rd_str_trim(item);
        if (item.len == 0)
            return RD_EPROTO; /* ",," or a trailing ',' */
        if (out->n_specs == RD_TRANSPORT_MAX_SPECS)
            return RD_ELIMIT;
        rc = parse_spec(item, &out->specs[out->n_specs]);
        if (rc != RD_OK)
            return rc;
        out->n_specs++;
    }
    return RD_OK;
}

int
rtsp_transport_check_client_ports(const struct rtsp_transport_range *r, uint16_t *rtp,
                                  uint16_t *rtcp)
{
    if (!r->present || r->lo % 2 != 0 || r->lo < RD_TRANSPORT_MIN_CLIENT_PORT || r->lo >= PORT_MAX)
        return RD_EPROTO;
    if (r->has_hi && r->hi != r->lo + 1)
        return RD_EPROTO;
    if (rtp != NULL)
        *rtp = r->lo;
    if (rtcp != NULL)
        *rtcp = (uint16_t)(r->lo + 1);
    return RD_OK;
}

int
rtsp_transport_check_interleaved(const struct rtsp_transport_range *r, uint8_t *rtp, uint8_t *rtcp)
{
    if (!r->present || r->lo % 2 != 0 || r->lo > RD_TRANSPORT_MAX_CHANNEL)
        return RD_EPROTO;
    if (r->has_hi && r->hi != r->lo + 1)
        return RD_EPROTO;
    if (rtp != NULL)
        *rtp = (uint8_t)r->lo;
    if (rtcp != NULL)
        *rtcp = (uint8_t)(r->lo + 1);
    return RD_OK;
}

int
rtsp_transport_check_viewer(const struct rtsp_transport_spec *spec,
                            struct rtsp_transport_choice *choice)
{
    memset(choice, 0, sizeof(*choice));
    if (!spec->supported || spec->multicast)
        return RD_EPROTO; /* no client-chosen multicast (SECURITY.md §3.2 rule 2) */
    if (spec->mode != 0 && spec->mode != RTSP_TRANSPORT_MODE_PLAY)
        return RD_EPROTO; /* pull only: RECORD is not served */
    choice->lower = spec->lower;
    if (spec->lower == RTSP_TRANSPORT_UDP)
        return rtsp_transport_check_client_ports(&spec->client_port, &choice->client_rtp,
                                                 &choice->client_rtcp);
    if (!spec->interleaved.present)
        return RD_OK; /* RFC 2326 §10.12: the server may choose the channels */
    choice->has_channels = true;
    return rtsp_transport_check_interleaved(&spec->interleaved, &choice->channel_rtp,
                                            &choice->channel_rtcp);
}

static struct rd_str
strip_brackets(struct rd_str s)
{
    if (s.len >= 2 && s.p[0] == '[' && s.p[s.len - 1] == ']')
        return s.len == 2 ? RD_STR_NULL : rd_str_make(s.p + 1, s.len - 2);
    return s;
}

bool
rtsp_transport_destination_is_peer(const struct rtsp_transport_spec *spec, struct rd_str peer_ip)
{
    if (!spec->has_destination || spec->destination.len == 0)
        return true;
    struct rd_str d = strip_brackets(spec->destination);
    struct rd_str p = strip_brackets(peer_ip);
    return p.len > 0 && rd_str_eq_ci(d, p);
}

/* ---- formatter ------------------------------------------------------------------------- */

static void
put_pair(struct rd_out *b, const char *name, uint32_t lo, uint32_t hi)
{
    rd_out_puts(b, name);
    rd_out_u64(b, lo);
    rd_out_puts(b, "-");
    rd_out_u64(b, hi);
}

int
rtsp_transport_format(const struct rtsp_transport_choice *c, char *out, size_t cap)
{
    struct rd_out b = {out, cap, 0, false};

    if (cap > 0)
        out[0] = '\0';
    if (c->lower == RTSP_TRANSPORT_UDP) {
        if (c->client_rtcp < c->client_rtp
            || (c->has_server_port && c->server_rtcp < c->server_rtp))
            return RD_EPROTO;
        rd_out_puts(&b, "RTP/AVP;unicast");
        put_pair(&b, ";client_port=", c->client_rtp, c->client_rtcp);
        if (c->has_server_port)
            put_pair(&b, ";server_port=", c->server_rtp, c->server_rtcp);
    } else {
        if (!c->has_channels || c->channel_rtcp < c->channel_rtp)
            return RD_EPROTO;
        rd_out_puts(&b, "RTP/AVP/TCP;unicast");
        put_pair(&b, ";interleaved=", c->channel_rtp, c->channel_rtcp);
    }
    if (c->has_ssrc) {
        static const char hex[] = "0123456789ABCDEF";
        char s[SSRC_HEX_MAX];
        for (unsigned i = 0; i < SSRC_HEX_MAX; i++)
            s[i] = hex[(c->ssrc >> (28 - 4 * i)) & 0xfu];
        rd_out_puts(&b, ";ssrc=");
        rd_out_put(&b, s, sizeof(s));
    }
    rd_out_put(&b, "", 1); /* the NUL must fit too */
    if (b.overflow) {
        if (cap > 0)
            out[0] = '\0';
        return RD_ELIMIT;
    }
    return (int)(b.len - 1);
}
