/* SPDX-License-Identifier: MIT */
/* SDP parser (RFC 4566), a=control resolution (RFC 2326 C.1.1) and the relay's rewrite.
 * Single pass over lines; every line is recorded so the rewrite can keep the order. */
#include "sdp.h"
#include "rd_out.h"

#include "rd_err.h"

/* Digit caps follow from field widths: payload types 0..127 (RFC 3550 §5.1: 7 bits), ports
 * 16 bits, clock rates 32 bits, channels kept to 8 bits (no codec has more). */
#define PT_DIGITS      3
#define PT_MAX         127u
#define PORT_DIGITS    5
#define PORT_MAX       65535u
#define CLOCK_DIGITS   10
#define CHANNEL_DIGITS 3
#define CHANNEL_MAX    255u
#define TRACK_DIGITS   5

/* H.264 (RFC 6184 §8.2.1) and H.265 (RFC 7798 §7.1) both mandate a 90 kHz clock. */
#define VIDEO_CLOCK_HZ 90000u

/* RFC 4566 §9: token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E */
static bool
is_token_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2a || c == 0x2b || c == 0x2d || c == 0x2e
           || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x5e && c <= 0x7e);
}

static bool
is_token(struct rd_str s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (!is_token_char((unsigned char)s.p[i]))
            return false;
    }
    return true;
}

static struct rd_str
trim_right(struct rd_str s)
{
    while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s.len == 0 ? RD_STR_NULL : s;
}

/* Next field separated by runs of SP/HT; returns false when none is left. */
static bool
next_field(struct rd_str *rest, struct rd_str *field)
{
    size_t i = 0;
    while (i < rest->len && (rest->p[i] == ' ' || rest->p[i] == '\t'))
        i++;
    if (i == rest->len) {
        *rest = RD_STR_NULL;
        return false;
    }
    size_t start = i;
    while (i < rest->len && rest->p[i] != ' ' && rest->p[i] != '\t')
        i++;
    *field = rd_str_make(rest->p + start, i - start);
    *rest = rd_str_make(rest->p + i, rest->len - i);
    return true;
}

/* ---- parser ---------------------------------------------------------------------------- */

/* proto = token *("/" token) (RFC 4566 §5.14); sets *rtp when a segment is "RTP"
 * (RTP/AVP, RTP/SAVPF, TCP/RTP/AVP, UDP/TLS/RTP/SAVPF). */
static int
parse_proto(struct rd_str proto, bool *rtp)
{
    bool more = true;
    *rtp = false;
    while (more) {
        struct rd_str seg;
        proto = rd_str_split(proto, '/', &seg, &more);
        if (!is_token(seg))
            return RD_EPROTO;
        if (rd_str_eq_ci_cstr(seg, "RTP"))
            *rtp = true;
    }
    return RD_OK;
}

/* m=<media> <port>[/<number of ports>] <proto> <fmt> ... (RFC 4566 §5.14) */
static int
parse_m_line(struct rd_str v, struct sdp_media *m)
{
    struct rd_str port, count, fmt;
    bool found;
    uint32_t n;

    if (!next_field(&v, &m->media) || !is_token(m->media))
        return RD_EPROTO;
    if (!next_field(&v, &port) || !next_field(&v, &m->proto))
        return RD_EPROTO;
    count = rd_str_split(port, '/', &port, &found);
    if (rd_str_to_u32(port, PORT_DIGITS, PORT_MAX, &n) != RD_OK)
        return RD_EPROTO;
    m->port = (uint16_t)n;
    if (found) {
        if (rd_str_to_u32(count, PORT_DIGITS, PORT_MAX, &n) != RD_OK || n == 0)
            return RD_EPROTO;
        m->n_ports = (uint16_t)n;
    }
    if (parse_proto(m->proto, &m->rtp) != RD_OK)
        return RD_EPROTO;
    while (next_field(&v, &fmt)) {
        if (!is_token(fmt))
            return RD_EPROTO;
        if (m->n_formats == RD_SDP_MAX_FORMATS)
            return RD_ELIMIT;
        if (m->rtp) {
            if (rd_str_to_u32(fmt, PT_DIGITS, PT_MAX, &n) != RD_OK)
                return RD_EPROTO;
            m->pts[m->n_formats] = (uint8_t)n;
        }
        if (m->n_formats == 0)
            m->formats = fmt;
        else
            m->formats.len = (size_t)(fmt.p + fmt.len - m->formats.p);
        m->n_formats++;
    }
    return m->n_formats > 0 ? RD_OK : RD_EPROTO;
}

/* <pt> <encoding name>/<clock rate>[/<encoding parameters>] (RFC 4566 §6) */
static int
parse_rtpmap(struct rd_str v, struct sdp_rtpmap *r)
{
    struct rd_str pt, name, clock, channels, extra;
    bool found;
    uint32_t n;

    if (!next_field(&v, &pt) || !next_field(&v, &name) || next_field(&v, &extra))
        return RD_EPROTO;
    if (rd_str_to_u32(pt, PT_DIGITS, PT_MAX, &n) != RD_OK)
        return RD_EPROTO;
    r->pt = (uint8_t)n;
    clock = rd_str_split(name, '/', &r->encoding, &found);
    if (!found || !is_token(r->encoding))
        return RD_EPROTO;
    channels = rd_str_split(clock, '/', &clock, &found);
    /* 0 Hz would be a division by zero in every timestamp computation downstream. */
    if (rd_str_to_u32(clock, CLOCK_DIGITS, UINT32_MAX, &r->clock_rate) != RD_OK
        || r->clock_rate == 0)
        return RD_EPROTO;
    if (found) {
        if (rd_str_to_u32(channels, CHANNEL_DIGITS, CHANNEL_MAX, &r->channels) != RD_OK
            || r->channels == 0)
            return RD_EPROTO;
    }
    return RD_OK;
}

/* <pt> <format specific parameters> (RFC 4566 §6) */
static int
parse_fmtp(struct rd_str v, struct sdp_fmtp *f)
{
    struct rd_str pt;
    uint32_t n;
    if (!next_field(&v, &pt) || rd_str_to_u32(pt, PT_DIGITS, PT_MAX, &n) != RD_OK)
        return RD_EPROTO;
    f->pt = (uint8_t)n;
    f->params = rd_str_trim(v);
    return RD_OK;
}

/* a=<attribute> or a=<attribute>:<value> (RFC 4566 §5.13). */
static int
split_attribute(struct rd_str v, struct rd_str *name, struct rd_str *value, bool *has_value)
{
    *value = rd_str_split(v, ':', name, has_value);
    if (!*has_value)
        *name = trim_right(*name); /* "a=recvonly " from sloppy firmware */
    return is_token(*name) ? RD_OK : RD_EPROTO;
}

static int
session_attribute(struct sdp_session *s, struct sdp_line *l)
{
    struct rd_str name, value;
    bool has_value;
    if (split_attribute(l->value, &name, &value, &has_value) != RD_OK)
        return RD_EPROTO;
    if (rd_str_eq_ci_cstr(name, "control")) {
        if (!has_value || s->has_control)
            return RD_EPROTO;
        s->has_control = true;
        s->control = rd_str_trim(value);
        l->kind = SDP_LINE_CONTROL;
    } else if (rd_str_eq_ci_cstr(name, "range")) {
        if (!has_value || s->has_range)
            return RD_EPROTO;
        s->has_range = true;
        s->range = rd_str_trim(value);
        l->kind = SDP_LINE_RANGE;
    }
    return RD_OK;
}

static int
media_attribute(struct sdp_media *m, struct sdp_line *l)
{
    struct rd_str name, value;
    bool has_value;
    if (split_attribute(l->value, &name, &value, &has_value) != RD_OK)
        return RD_EPROTO;
    if (rd_str_eq_ci_cstr(name, "control")) {
        if (!has_value || m->has_control)
            return RD_EPROTO;
        m->has_control = true;
        m->control = rd_str_trim(value);
        l->kind = SDP_LINE_CONTROL;
    } else if (rd_str_eq_ci_cstr(name, "rtpmap")) {
        struct sdp_rtpmap r = {0};
        if (!has_value || parse_rtpmap(value, &r) != RD_OK || sdp_media_rtpmap(m, r.pt) != NULL)
            return RD_EPROTO;
        if (m->n_rtpmap == RD_SDP_MAX_FORMATS)
            return RD_ELIMIT;
        m->rtpmap[m->n_rtpmap++] = r;
        l->kind = SDP_LINE_RTPMAP;
    } else if (rd_str_eq_ci_cstr(name, "fmtp")) {
        struct sdp_fmtp f = {0};
        if (!has_value || parse_fmtp(value, &f) != RD_OK || sdp_media_fmtp(m, f.pt) != NULL)
            return RD_EPROTO;
        if (m->n_fmtp == RD_SDP_MAX_FORMATS)
            return RD_ELIMIT;
        m->fmtp[m->n_fmtp++] = f;
        l->kind = SDP_LINE_FMTP;
    }
    return RD_OK;
}

static int
session_line(struct sdp_session *s, struct sdp_line *l)
{
    switch (l->type) {
    case 'o':
        if (s->has_origin)
            return RD_EPROTO;
        s->has_origin = true;
        s->origin = l->value;
        l->kind = SDP_LINE_ORIGIN;
        return RD_OK;
    case 's':
        if (s->has_name)
            return RD_EPROTO;
        s->has_name = true;
        s->name = l->value;
        l->kind = SDP_LINE_NAME;
        return RD_OK;
    case 'c':
        if (s->has_connection)
            return RD_EPROTO;
        s->has_connection = true;
        s->connection = l->value;
        l->kind = SDP_LINE_CONNECTION;
        return RD_OK;
    case 'b':
        if (s->n_bandwidth++ == 0)
            s->bandwidth = l->value;
        l->kind = SDP_LINE_BANDWIDTH;
        return RD_OK;
    case 't':
        if (!s->has_time) {
            s->has_time = true;
            s->time = l->value;
        }
        l->kind = SDP_LINE_TIME;
        return RD_OK;
    case 'a':
        return session_attribute(s, l);
    default:
        return RD_OK;
    }
}

static int
media_line(struct sdp_media *m, struct sdp_line *l)
{
    switch (l->type) {
    case 'o':
    case 's':
        return RD_EPROTO; /* session-only lines; the rewrite must never copy a second o= */
    case 'c':
        if (m->has_connection)
            return RD_EPROTO;
        m->has_connection = true;
        m->connection = l->value;
        l->kind = SDP_LINE_CONNECTION;
        return RD_OK;
    case 'b':
        if (m->n_bandwidth++ == 0)
            m->bandwidth = l->value;
        l->kind = SDP_LINE_BANDWIDTH;
        return RD_OK;
    case 'a':
        return media_attribute(m, l);
    default:
        return RD_OK;
    }
}

static int
parse_line(struct sdp *sdp, struct rd_str line)
{
    unsigned char type = (unsigned char)line.p[0];
    if (line.len < 2 || type < 'a' || type > 'z' || line.p[1] != '=')
        return RD_EPROTO; /* RFC 4566 §5: <type>=<value>, no space around '=' */
    struct rd_str value = rd_str_make(line.p + 2, line.len - 2);
    for (size_t i = 0; i < value.len; i++) {
        unsigned char c = (unsigned char)value.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return RD_EPROTO; /* NUL, bare CR and other CTLs must never reach a viewer */
    }
    if (sdp->n_lines == RD_SDP_MAX_LINES)
        return RD_ELIMIT;
    unsigned idx = sdp->n_lines++;
    struct sdp_line *l = &sdp->lines[idx];
    l->type = (char)type;
    l->kind = SDP_LINE_OTHER;
    l->value = value.len > 0 ? value : RD_STR_NULL;

    if (idx == 0) {
        /* RFC 4566 §5.1: the description starts with v=0. */
        if (type != 'v' || !rd_str_eq_cstr(l->value, "0"))
            return RD_EPROTO;
        l->kind = SDP_LINE_VERSION;
        return RD_OK;
    }
    if (type == 'v')
        return RD_EPROTO;
    if (type == 'm') {
        if (sdp->n_media == RD_SDP_MAX_MEDIA)
            return RD_ELIMIT;
        struct sdp_media *m = &sdp->media[sdp->n_media++];
        m->first_line = idx;
        l->kind = SDP_LINE_MEDIA;
        return parse_m_line(l->value, m);
    }
    if (sdp->n_media == 0)
        return session_line(&sdp->session, l);
    return media_line(&sdp->media[sdp->n_media - 1], l);
}

int
sdp_parse(const char *buf, size_t len, struct sdp *out)
{
    memset(out, 0, sizeof(*out));
    if (len > RD_SDP_MAX_BYTES)
        return RD_ELIMIT;
    size_t pos = 0;
    bool trailing = false; /* an empty line was seen: only empty lines may follow */
    while (pos < len) {
        const char *lf = memchr(buf + pos, '\n', len - pos);
        size_t end = lf != NULL ? (size_t)(lf - buf) : len;
        size_t line_len = end - pos;
        if (lf != NULL && line_len > 0 && buf[end - 1] == '\r')
            line_len--; /* CRLF; a bare LF is accepted too (RFC 4566 §5) */
        struct rd_str line = rd_str_make(buf + pos, line_len);
        pos = lf != NULL ? end + 1 : len;
        if (line.len == 0) {
            trailing = true;
            continue;
        }
        if (trailing)
            return RD_EPROTO;
        int rc = parse_line(out, line);
        if (rc != RD_OK)
            return rc;
    }
    if (out->n_lines == 0)
        return RD_EPROTO;
    unsigned end = out->n_lines;
    for (unsigned i = out->n_media; i-- > 0;) {
        out->media[i].n_lines = end - out->media[i].first_line;
        end = out->media[i].first_line;
    }
    out->session.first_line = 0;
    out->session.n_lines = end;
    return RD_OK;
}

/* ---- lookups and codec ----------------------------------------------------------------- */

const struct sdp_rtpmap *
sdp_media_rtpmap(const struct sdp_media *m, uint8_t pt)
{
    for (unsigned i = 0; i < m->n_rtpmap; i++) {
        if (m->rtpmap[i].pt == pt)
            return &m->rtpmap[i];
    }
    return NULL;
}

const struct sdp_fmtp *
sdp_media_fmtp(const struct sdp_media *m, uint8_t pt)
{
    for (unsigned i = 0; i < m->n_fmtp; i++) {
        if (m->fmtp[i].pt == pt)
            return &m->fmtp[i];
    }
    return NULL;
}

/* RFC 3551 §6 static payload types with a fixed clock rate. */
static const struct {
    uint8_t pt;
    const char *name;
    uint32_t clock_rate;
} static_pts[] = {
    {0, "PCMU", 8000},   {3, "GSM", 8000},    {4, "G723", 8000},   {5, "DVI4", 8000},
    {6, "DVI4", 16000},  {7, "LPC", 8000},    {8, "PCMA", 8000},   {9, "G722", 8000},
    {10, "L16", 44100},  {11, "L16", 44100},  {12, "QCELP", 8000}, {13, "CN", 8000},
    {14, "MPA", 90000},  {15, "G728", 8000},  {16, "DVI4", 11025}, {17, "DVI4", 22050},
    {18, "G729", 8000},  {25, "CelB", 90000}, {26, "JPEG", 90000}, {28, "nv", 90000},
    {31, "H261", 90000}, {32, "MPV", 90000},  {33, "MP2T", 90000}, {34, "H263", 90000},
};

int
sdp_media_codec(const struct sdp_media *m, struct sdp_codec *out)
{
    memset(out, 0, sizeof(*out));
    if (!m->rtp || m->n_formats == 0)
        return RD_ENOTFOUND;
    out->pt = m->pts[0];
    const struct sdp_rtpmap *r = sdp_media_rtpmap(m, out->pt);
    if (r != NULL) {
        out->encoding = r->encoding;
        out->clock_rate = r->clock_rate;
    } else {
        for (size_t i = 0; i < sizeof(static_pts) / sizeof(static_pts[0]); i++) {
            if (static_pts[i].pt == out->pt) {
                out->encoding = rd_str_cstr(static_pts[i].name);
                out->clock_rate = static_pts[i].clock_rate;
                break;
            }
        }
    }
    if (out->clock_rate == VIDEO_CLOCK_HZ) {
        if (rd_str_eq_ci_cstr(out->encoding, "H264"))
            out->id = SDP_CODEC_H264;
        else if (rd_str_eq_ci_cstr(out->encoding, "H265")
                 || rd_str_eq_ci_cstr(out->encoding, "HEVC"))
            out->id = SDP_CODEC_H265;
    }
    return RD_OK;
}

/* ---- output helpers -------------------------------------------------------------------- */

/* Non-empty, every byte in lo..0x7e. */
static bool
all_in(struct rd_str s, unsigned char lo)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < lo || c > 0x7e)
            return false;
    }
    return true;
}

/* ---- a=control resolution (RFC 2326 C.1.1) -------------------------------------------- */

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ':'. */
static bool
scheme_of(struct rd_str s, struct rd_str *scheme)
{
    size_t i = 0;
    while (i < s.len) {
        unsigned char c = (unsigned char)s.p[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (alpha || (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))) {
            i++;
            continue;
        }
        break;
    }
    if (i == 0 || i == s.len || s.p[i] != ':')
        return false;
    *scheme = rd_str_make(s.p, i);
    return true;
}

int
sdp_resolve_control(struct rd_str base, struct rd_str control, char *out, size_t cap)
{
    struct rd_out b = {out, cap, 0, false};
    struct rd_str scheme;

    if (cap > 0)
        out[0] = '\0';
    if (control.len == 0 || rd_str_eq_cstr(control, "*")) {
        if (!all_in(base, 0x21))
            return RD_EPROTO;
        rd_out_str(&b, base);
        return rd_out_finish(&b);
    }
    if (!all_in(control, 0x21))
        return RD_EPROTO;
    if (scheme_of(control, &scheme)) {
        bool ours = rd_str_eq_ci_cstr(scheme, "rtsp") || rd_str_eq_ci_cstr(scheme, "rtsps");
        size_t after = scheme.len + 1;
        if (!ours || control.len < after + 2 || control.p[after] != '/'
            || control.p[after + 1] != '/')
            return RD_EPROTO;
        rd_out_str(&b, control);
        return rd_out_finish(&b);
    }
    if (control.len >= 2 && control.p[0] == '/' && control.p[1] == '/')
        return RD_EPROTO; /* a network-path reference names another host */
    if (!all_in(base, 0x21))
        return RD_EPROTO;

    /* Split the base into path and query/fragment. */
    size_t q = 0;
    while (q < base.len && base.p[q] != '?' && base.p[q] != '#')
        q++;
    struct rd_str path = rd_str_make(base.p, q);
    struct rd_str query = rd_str_make(base.p + q, base.len - q);
    if (path.len > 0 && path.p[path.len - 1] == '/')
        path.len--;
    if (control.p[0] == '/')
        control = rd_str_make(control.p + 1, control.len - 1);
    bool own_query = control.len > 0
                     && (memchr(control.p, '?', control.len) != NULL
                         || memchr(control.p, '#', control.len) != NULL);
    rd_out_str(&b, path);
    rd_out_puts(&b, "/");
    rd_out_str(&b, control);
    if (!own_query)
        rd_out_str(&b, query);
    return rd_out_finish(&b);
}

/* ---- rewrite for the relay ------------------------------------------------------------- */

struct writer {
    struct rd_out b;
    unsigned n_lines;
};

static void
emit(struct writer *w, char type, struct rd_str value)
{
    char head[2] = {type, '='};
    rd_out_put(&w->b, head, sizeof(head));
    rd_out_str(&w->b, value);
    rd_out_put(&w->b, "\r\n", 2);
    w->n_lines++;
}

static void
emit_track_control(struct writer *w, unsigned index)
{
    rd_out_puts(&w->b, "a=control:" SDP_RELAY_TRACK_PREFIX);
    rd_out_u64(&w->b, index);
    rd_out_put(&w->b, "\r\n", 2);
    w->n_lines++;
}

/* RFC 4566 §5 order: v o s i u e p c b t r z k a; a missing session c= goes before b=. */
static bool
comes_after_c(char type)
{
    return type == 'b' || type == 't' || type == 'r' || type == 'z' || type == 'k' || type == 'a';
}

int
sdp_write_for_relay(const struct sdp *sdp, const struct sdp_rewrite *opts, char *out, size_t cap)
{
    struct writer w = {{out, cap, 0, false}, 0};
    const struct sdp_session *s = &sdp->session;
    bool wrote_c = false;
    bool wrote_control = false;

    if (cap > 0)
        out[0] = '\0';
    if (!all_in(opts->origin_username, 0x21) || !all_in(opts->origin_address, 0x20)
        || !all_in(opts->connection, 0x20))
        return RD_EPROTO;

    emit(&w, 'v', RD_STR_LIT("0"));
    rd_out_puts(&w.b, "o=");
    rd_out_str(&w.b, opts->origin_username);
    rd_out_puts(&w.b, " ");
    rd_out_u64(&w.b, opts->origin_session_id);
    rd_out_puts(&w.b, " ");
    rd_out_u64(&w.b, opts->origin_session_version);
    rd_out_puts(&w.b, " ");
    rd_out_str(&w.b, opts->origin_address);
    rd_out_put(&w.b, "\r\n", 2);
    w.n_lines++;

    for (unsigned i = s->first_line; i < s->first_line + s->n_lines; i++) {
        const struct sdp_line *l = &sdp->lines[i];
        if (l->kind == SDP_LINE_VERSION || l->kind == SDP_LINE_ORIGIN)
            continue; /* written above */
        if (l->kind == SDP_LINE_CONNECTION) {
            emit(&w, 'c', opts->connection);
            wrote_c = true;
            continue;
        }
        if (!wrote_c && !s->has_connection && comes_after_c(l->type)) {
            emit(&w, 'c', opts->connection);
            wrote_c = true;
        }
        if (l->kind == SDP_LINE_CONTROL) {
            emit(&w, 'a', RD_STR_LIT("control:*"));
            wrote_control = true;
            continue;
        }
        emit(&w, l->type, l->value);
    }
    if (!wrote_c)
        emit(&w, 'c', opts->connection);
    if (!wrote_control)
        emit(&w, 'a', RD_STR_LIT("control:*"));

    for (unsigned k = 0; k < sdp->n_media; k++) {
        const struct sdp_media *m = &sdp->media[k];
        for (unsigned i = m->first_line; i < m->first_line + m->n_lines; i++) {
            const struct sdp_line *l = &sdp->lines[i];
            if (l->kind == SDP_LINE_CONNECTION)
                emit(&w, 'c', opts->connection);
            else if (l->kind == SDP_LINE_CONTROL)
                emit_track_control(&w, k);
            else
                emit(&w, l->type, l->value);
        }
        if (!m->has_control)
            emit_track_control(&w, k);
    }
    /* Keep the promise that the output parses again with sdp_parse. */
    if (w.n_lines > RD_SDP_MAX_LINES || w.b.len > RD_SDP_MAX_BYTES)
        w.b.overflow = true;
    return rd_out_finish(&w.b);
}

int
sdp_relay_track_index(struct rd_str s, unsigned n_media, unsigned *index)
{
    static const char prefix[] = SDP_RELAY_TRACK_PREFIX;
    const size_t plen = sizeof(prefix) - 1;
    if (s.len == 0)
        return RD_ENOTFOUND;
    size_t start = s.len;
    while (start > 0 && s.p[start - 1] != '/')
        start--;
    struct rd_str last = rd_str_make(s.p + start, s.len - start);
    if (last.len <= plen || memcmp(last.p, prefix, plen) != 0)
        return RD_ENOTFOUND;
    struct rd_str digits = rd_str_make(last.p + plen, last.len - plen);
    uint32_t n;
    if (digits.len > 1 && digits.p[0] == '0')
        return RD_ENOTFOUND; /* one spelling per track */
    if (rd_str_to_u32(digits, TRACK_DIGITS, UINT32_MAX, &n) != RD_OK || n >= n_media)
        return RD_ENOTFOUND;
    *index = n;
    return RD_OK;
}
