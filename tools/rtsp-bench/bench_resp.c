/* SPDX-License-Identifier: MIT */
/* Request texts and response checks of rd_redirect_bench (bench_resp.h). RTSP responses go
 * through the project's parser (rtsp_msg); HTTP responses of the nginx baseline through the
 * small scanner below (status line, header lines, Content-Length). */
#include "bench_resp.h"

#include <stdio.h>
#include <string.h>

#include "rd_err.h"
#include "rtsp_msg.h"
#include "url.h"

static bool
printable(struct rd_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < 0x21 || c > 0x7e)
            return false;
    }
    return true;
}

static bool
rtsp_location_ok(struct rd_str loc, struct rd_str camera, bool strict_path)
{
    struct url_parts u;
    if (url_split(loc, &u) != RD_OK || u.is_star || u.has_userinfo || u.has_query)
        return false;
    if (!strict_path)
        return true;
    struct rd_str cam, tok, rest;
    if (url_relay_path_parse(u.path, &cam, &tok, &rest) != RD_OK)
        return false;
    if (camera.len > 0 && !rd_str_eq(cam, camera))
        return false;
    return rest.len == 0 || rd_str_eq_cstr(rest, "/");
}

bool
bench_location_ok(enum bench_proto proto, struct rd_str loc, struct rd_str camera, bool strict_path)
{
    if (loc.len == 0 || !printable(loc))
        return false;
    if (proto == BENCH_PROTO_RTSP || rd_str_starts_with_ci(loc, "rtsp://")
        || rd_str_starts_with_ci(loc, "rtsps://"))
        return rtsp_location_ok(loc, camera, strict_path);
    /* HTTP baseline with another scheme: RFC 3986 §3.1 scheme, "://", a non-empty host. */
    size_t i = 0;
    while (i < loc.len
           && ((loc.p[i] >= 'a' && loc.p[i] <= 'z') || (loc.p[i] >= 'A' && loc.p[i] <= 'Z')
               || (i > 0
                   && ((loc.p[i] >= '0' && loc.p[i] <= '9') || loc.p[i] == '+' || loc.p[i] == '-'
                       || loc.p[i] == '.'))))
        i++;
    if (i == 0 || loc.len - i < 4 || memcmp(loc.p + i, "://", 3) != 0)
        return false;
    char h = loc.p[i + 3];
    return h != '/' && h != '?' && h != '#' && h != ':';
}

/* Maps an unexpected status to its error kind. */
static enum bench_err
status_err(const struct bench_expect *exp, int status)
{
    if (exp->status == 200)
        return BENCH_ERR_OPTIONS;
    if (status == 404)
        return BENCH_ERR_STATUS_404;
    if (status == 503)
        return BENCH_ERR_STATUS_503;
    return BENCH_ERR_STATUS;
}

static ssize_t
check_rtsp(const char *buf, size_t len, const struct bench_expect *exp, enum bench_err *err)
{
    struct rtsp_msg msg;
    ssize_t n = rtsp_msg_parse_response(buf, len, &msg);
    if (n == RD_AGAIN)
        return RD_AGAIN;
    if (n < 0) {
        switch (msg.error) {
        case RTSP_MSG_ERR_CSEQ_MISSING:
        case RTSP_MSG_ERR_CSEQ_DUPLICATE:
        case RTSP_MSG_ERR_CSEQ_SYNTAX:
        case RTSP_MSG_ERR_CSEQ_LONG:
            *err = BENCH_ERR_CSEQ;
            break;
        default:
            *err = BENCH_ERR_PARSE;
        }
        return RD_EPROTO;
    }
    if (!msg.has_cseq || msg.cseq != exp->cseq) {
        *err = BENCH_ERR_CSEQ;
        return RD_EPROTO;
    }
    if (msg.status != exp->status) {
        *err = status_err(exp, msg.status);
        return RD_EPROTO;
    }
    if (exp->status == 302) {
        struct rd_str loc;
        if (rtsp_msg_header_count(&msg, "Location") != 1 || !rtsp_msg_header(&msg, "Location", &loc)
            || !bench_location_ok(BENCH_PROTO_RTSP, loc, exp->camera, exp->strict_path)) {
            *err = BENCH_ERR_LOCATION;
            return RD_EPROTO;
        }
    }
    return n;
}

/* One header line "name: value" of buf[start..end) (no CRLF). */
static bool
http_header(const char *buf, size_t start, size_t end, struct rd_str *name, struct rd_str *value)
{
    const char *colon = memchr(buf + start, ':', end - start);
    if (!colon || colon == buf + start)
        return false;
    *name = rd_str_make(buf + start, (size_t)(colon - (buf + start)));
    for (size_t i = 0; i < name->len; i++) {
        unsigned char c = (unsigned char)name->p[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
    }
    *value = rd_str_trim(rd_str_make(colon + 1, (size_t)(buf + end - (colon + 1))));
    return true;
}

/* HTTP/1.x response (RFC 9112 §4, §6.3): status line, header lines ended by CRLF, an empty
 * line, then Content-Length bytes of body (none when absent: nginx always sends one). */
static ssize_t
check_http(const char *buf, size_t len, const struct bench_expect *exp, enum bench_err *err)
{
    size_t hdr_end = 0;
    for (size_t i = 0; i + 3 < len; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            hdr_end = i + 4;
            break;
        }
    }
    /* A partial status line is judged as soon as it is wrong. */
    static const char ver[] = "HTTP/1.";
    size_t cmp = len < sizeof(ver) - 1 ? len : sizeof(ver) - 1;
    if (memcmp(buf, ver, cmp) != 0)
        goto parse;
    if (hdr_end == 0)
        return RD_AGAIN;

    /* "HTTP/1.x SP 3DIGIT" then SP or CRLF. */
    if (len < 12 || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ')
        goto parse;
    int status = 0;
    for (size_t i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            goto parse;
        status = status * 10 + (buf[i] - '0');
    }
    if (buf[12] != ' ' && buf[12] != '\r')
        goto parse;
    const char *eol = memchr(buf, '\r', hdr_end);
    if (eol[1] != '\n')
        goto parse;
    size_t pos = (size_t)(eol - buf) + 2;

    struct rd_str loc = RD_STR_NULL;
    size_t n_loc = 0, n_clen = 0;
    uint64_t clen = 0;
    while (pos < hdr_end - 2) {
        const char *cr = memchr(buf + pos, '\r', hdr_end - pos);
        size_t end = (size_t)(cr - buf);
        if (buf[end + 1] != '\n')
            goto parse;
        struct rd_str name, value;
        if (!http_header(buf, pos, end, &name, &value))
            goto parse;
        if (rd_str_eq_ci_cstr(name, "Location")) {
            n_loc++;
            loc = value;
        } else if (rd_str_eq_ci_cstr(name, "Content-Length")) {
            n_clen++;
            if (rd_str_to_u64(value, 9, BENCH_RESP_MAX, &clen) != RD_OK)
                goto parse;
        } else if (rd_str_eq_ci_cstr(name, "Transfer-Encoding")) {
            goto parse; /* a redirect has no business being chunked */
        }
        pos = end + 2;
    }
    if (n_clen > 1)
        goto parse;
    if (len - hdr_end < clen)
        return RD_AGAIN;
    if (status != exp->status) {
        *err = status_err(exp, status);
        return RD_EPROTO;
    }
    if (exp->status == 302
        && (n_loc != 1
            || !bench_location_ok(BENCH_PROTO_HTTP, loc, exp->camera, exp->strict_path))) {
        *err = BENCH_ERR_LOCATION;
        return RD_EPROTO;
    }
    return (ssize_t)(hdr_end + clen);
parse:
    *err = BENCH_ERR_PARSE;
    return RD_EPROTO;
}

ssize_t
bench_resp_check(enum bench_proto proto, const char *buf, size_t len,
                 const struct bench_expect *exp, enum bench_err *err)
{
    if (len == 0)
        return RD_AGAIN;
    return proto == BENCH_PROTO_RTSP ? check_rtsp(buf, len, exp, err)
                                     : check_http(buf, len, exp, err);
}

int
bench_build_requests(enum bench_proto proto, const char *host, unsigned port, const char *camera,
                     char *out, size_t cap, size_t *first_len)
{
    struct rd_str cam = rd_str_cstr(camera);
    if (cam.len == 0 || !printable(cam) || !host || !*host)
        goto proto_err;
    /* An IPv6 literal needs brackets in a URL and a Host header (RFC 3986 §3.2.2). */
    bool v6 = strchr(host, ':') != NULL;
    const char *lb = v6 ? "[" : "", *rb = v6 ? "]" : "";
    int n1, n2 = 0;
    if (proto == BENCH_PROTO_RTSP) {
        n1 = snprintf(out, cap,
                      "OPTIONS rtsp://%s%s%s:%u/%s RTSP/1.0\r\nCSeq: 1\r\n"
                      "User-Agent: rd_redirect_bench\r\n\r\n",
                      lb, host, rb, port, camera);
        if (n1 < 0 || (size_t)n1 >= cap)
            goto limit;
        n2 = snprintf(out + n1, cap - (size_t)n1,
                      "DESCRIBE rtsp://%s%s%s:%u/%s RTSP/1.0\r\nCSeq: 2\r\n"
                      "Accept: application/sdp\r\nUser-Agent: rd_redirect_bench\r\n\r\n",
                      lb, host, rb, port, camera);
        if (n2 < 0 || (size_t)n2 >= cap - (size_t)n1)
            goto limit;
    } else {
        n1 = snprintf(out, cap,
                      "GET /%s HTTP/1.1\r\nHost: %s%s%s:%u\r\nUser-Agent: rd_redirect_bench\r\n"
                      "Connection: close\r\n\r\n",
                      camera, lb, host, rb, port);
        if (n1 < 0 || (size_t)n1 >= cap)
            goto limit;
    }
    *first_len = (size_t)n1;
    return n1 + n2;
limit:
    if (cap > 0)
        out[0] = '\0';
    return RD_ELIMIT;
proto_err:
    if (cap > 0)
        out[0] = '\0';
    return RD_EPROTO;
}
