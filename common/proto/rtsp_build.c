/* SPDX-License-Identifier: MIT */
/* RTSP message builders: every byte written is either ours or checked (tokens, TEXT values,
 * printable URIs), and a message that does not fit is removed whole (RFC 2326 §6, §7). */
#include "rtsp_build.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rd_err.h"
#include "rd_limits.h"

void
rtsp_out_init(struct rtsp_out *out, char *buf, size_t cap, size_t used)
{
    out->buf = buf;
    out->cap = cap;
    out->len = used <= cap ? used : cap;
    out->msg_start = out->len;
    out->rc = RD_OK;
    out->open = false;
    out->request = false;
}

/* Drops the message being built and remembers why. */
static int
abandon(struct rtsp_out *out, int rc)
{
    out->len = out->msg_start;
    out->rc = rc;
    return rc;
}

/* The current message may take more bytes: it is open and nothing has failed. */
static int
usable(const struct rtsp_out *out)
{
    if (!out->open)
        return RD_EPROTO;
    return out->rc;
}

static int
put(struct rtsp_out *out, const void *p, size_t n)
{
    if (n > out->cap - out->len)
        return abandon(out, RD_ELIMIT);
    if (n > 0)
        memcpy(out->buf + out->len, p, n);
    out->len += n;
    return RD_OK;
}

static int
put_str(struct rtsp_out *out, const char *s)
{
    return put(out, s, strlen(s));
}

static int
put_u64(struct rtsp_out *out, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    return put(out, digits + sizeof(digits) - n, n);
}

/* TEXT without CTLs except HT (RFC 2326 §15): no CR, LF or NUL can reach the wire. */
static bool
is_text(const char *p, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)p[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

static bool
is_framing_header(const char *name)
{
    struct rd_str n = rd_str_cstr(name);
    return rd_str_eq_ci_cstr(n, "CSeq") || rd_str_eq_ci_cstr(n, "Content-Length")
           || rd_str_eq_ci_cstr(n, "Transfer-Encoding");
}

/* Common start of both kinds of message. */
static int
begin(struct rtsp_out *out, bool request)
{
    if (out->open)
        return RD_EPROTO; /* the open message stays as it is */
    if (out->len > out->cap)
        return RD_ELIMIT;
    out->msg_start = out->len;
    out->rc = RD_OK;
    out->open = true;
    out->request = request;
    return RD_OK;
}

static int
put_cseq(struct rtsp_out *out, uint64_t cseq)
{
    int rc = put_str(out, "CSeq: ");
    if (rc == RD_OK)
        rc = put_u64(out, cseq);
    if (rc == RD_OK)
        rc = put_str(out, "\r\n");
    return rc;
}

int
rtsp_resp_begin(struct rtsp_out *out, int status, int64_t cseq)
{
    const char *reason = rtsp_status_reason(status);
    if (reason == NULL || cseq < RTSP_CSEQ_NONE || cseq > (int64_t)UINT32_MAX)
        return RD_EPROTO; /* nothing written; an open message stays as it is */
    int rc = begin(out, false);
    if (rc != RD_OK)
        return rc;
    /* Status-Line (RFC 2326 §7.1). */
    if ((rc = put_str(out, "RTSP/1.0 ")) != RD_OK || (rc = put_u64(out, (uint64_t)status)) != RD_OK
        || (rc = put_str(out, " ")) != RD_OK || (rc = put_str(out, reason)) != RD_OK
        || (rc = put_str(out, "\r\n")) != RD_OK)
        return rc;
    if (cseq != RTSP_CSEQ_NONE)
        return put_cseq(out, (uint64_t)cseq);
    return RD_OK;
}

int
rtsp_req_begin(struct rtsp_out *out, enum rtsp_method method, const char *uri, uint32_t cseq)
{
    const char *name = rtsp_method_name(method);
    size_t uri_len = uri != NULL ? strlen(uri) : 0;
    bool uri_ok = uri_len > 0 && uri_len <= RD_RTSP_MAX_URI;
    for (size_t k = 0; uri_ok && k < uri_len; k++)
        uri_ok = (unsigned char)uri[k] >= 0x21 && (unsigned char)uri[k] <= 0x7e;
    if (name == NULL || !uri_ok)
        return RD_EPROTO; /* nothing written; an open message stays as it is */
    int rc = begin(out, true);
    if (rc != RD_OK)
        return rc;
    /* Request-Line (RFC 2326 §6.1). */
    if ((rc = put_str(out, name)) != RD_OK || (rc = put_str(out, " ")) != RD_OK
        || (rc = put(out, uri, uri_len)) != RD_OK || (rc = put_str(out, " RTSP/1.0\r\n")) != RD_OK)
        return rc;
    return put_cseq(out, cseq);
}

/* Validates the name and writes "name: ". */
static int
header_start(struct rtsp_out *out, const char *name)
{
    int rc = usable(out);
    if (rc != RD_OK)
        return rc;
    if (name == NULL || !rd_str_is_token(rd_str_cstr(name)) || is_framing_header(name))
        return abandon(out, RD_EPROTO);
    if ((rc = put_str(out, name)) != RD_OK)
        return rc;
    return put_str(out, ": ");
}

int
rtsp_resp_header_view(struct rtsp_out *out, const char *name, struct rd_str value)
{
    int rc = header_start(out, name);
    if (rc != RD_OK)
        return rc;
    if (value.len > 0 && (value.p == NULL || !is_text(value.p, value.len)))
        return abandon(out, RD_EPROTO);
    if ((rc = put(out, value.p, value.len)) != RD_OK)
        return rc;
    return put_str(out, "\r\n");
}

int
rtsp_resp_header(struct rtsp_out *out, const char *name, const char *value)
{
    if (value == NULL) {
        int rc = usable(out);
        return rc != RD_OK ? rc : abandon(out, RD_EPROTO);
    }
    return rtsp_resp_header_view(out, name, rd_str_cstr(value));
}

static int header_vf(struct rtsp_out *out, const char *name, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* The value is formatted straight into the buffer, then checked like any other. */
static int
header_vf(struct rtsp_out *out, const char *name, const char *fmt, va_list ap)
{
    int rc = header_start(out, name);
    if (rc != RD_OK)
        return rc;
    size_t room = out->cap - out->len;
    if (room == 0)
        return abandon(out, RD_ELIMIT);
    int n = vsnprintf(out->buf + out->len, room, fmt, ap);
    if (n < 0)
        return abandon(out, RD_EPROTO);
    if ((size_t)n >= room)
        return abandon(out, RD_ELIMIT);
    if (!is_text(out->buf + out->len, (size_t)n))
        return abandon(out, RD_EPROTO);
    out->len += (size_t)n;
    return put_str(out, "\r\n");
}

int
rtsp_resp_headerf(struct rtsp_out *out, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = header_vf(out, name, fmt, ap);
    va_end(ap);
    return rc;
}

static int
end(struct rtsp_out *out, bool request, const void *body, size_t body_len)
{
    int rc = usable(out);
    if (rc == RD_OK && out->request != request)
        rc = abandon(out, RD_EPROTO);
    if (rc == RD_OK && body == NULL && body_len > 0)
        rc = abandon(out, RD_EPROTO);
    /* RFC 2326 §4.3/§12.14: Content-Length frames the body; requests omit it when empty. */
    if (rc == RD_OK && (!request || body_len > 0)) {
        if ((rc = put_str(out, "Content-Length: ")) == RD_OK
            && (rc = put_u64(out, body_len)) == RD_OK)
            rc = put_str(out, "\r\n");
    }
    if (rc == RD_OK && (rc = put_str(out, "\r\n")) == RD_OK)
        rc = put(out, body, body_len);
    if (out->open && rc != RD_OK)
        out->len = out->msg_start;
    out->open = false;
    return rc;
}

int
rtsp_resp_end(struct rtsp_out *out, const void *body, size_t body_len)
{
    return end(out, false, body, body_len);
}

int
rtsp_req_end(struct rtsp_out *out, const void *body, size_t body_len)
{
    return end(out, true, body, body_len);
}
