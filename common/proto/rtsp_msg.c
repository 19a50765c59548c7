/* SPDX-License-Identifier: MIT */
/* RTSP/1.0 message parser: one left-to-right scan per call, each byte checked against the
 * caps before it is classified, so the verdict for a prefix never changes when more bytes
 * arrive (RFC 2326 §4, §6, §7; limits from rd_limits.h / SECURITY.md §2.2). */
#include "rtsp_msg.h"

#include "rd_err.h"

struct error_row {
    int status; /* status code to answer with */
    int rc;     /* RD_EPROTO or RD_ELIMIT */
    const char *text;
};

static const struct error_row error_rows[] = {
    [RTSP_MSG_ERR_NONE] = {0, RD_OK, "ok"},
    [RTSP_MSG_ERR_LEADING_EMPTY] = {400, RD_ELIMIT, "too many empty lines before the start line"},
    [RTSP_MSG_ERR_LINE_END] = {400, RD_EPROTO, "CR not followed by LF"},
    [RTSP_MSG_ERR_START_LINE_LONG] = {400, RD_ELIMIT, "start line too long"},
    [RTSP_MSG_ERR_METHOD] = {400, RD_EPROTO, "bad method"},
    [RTSP_MSG_ERR_METHOD_LONG] = {400, RD_ELIMIT, "method too long"},
    [RTSP_MSG_ERR_URI] = {400, RD_EPROTO, "bad request-uri"},
    [RTSP_MSG_ERR_URI_LONG] = {414, RD_ELIMIT, "request-uri too long"},
    [RTSP_MSG_ERR_VERSION_SYNTAX] = {400, RD_EPROTO, "bad version token"},
    [RTSP_MSG_ERR_VERSION] = {505, RD_EPROTO, "version is not RTSP/1.0"},
    [RTSP_MSG_ERR_STATUS] = {400, RD_EPROTO, "bad status code"},
    [RTSP_MSG_ERR_REASON] = {400, RD_EPROTO, "control character in reason phrase"},
    [RTSP_MSG_ERR_OBS_FOLD] = {400, RD_EPROTO, "folded header line"},
    [RTSP_MSG_ERR_HEADER_NAME] = {400, RD_EPROTO, "bad header name"},
    [RTSP_MSG_ERR_HEADER_VALUE] = {400, RD_EPROTO, "control character in header value"},
    [RTSP_MSG_ERR_HEADER_LINE_LONG] = {400, RD_ELIMIT, "header line too long"},
    [RTSP_MSG_ERR_HEADER_COUNT] = {400, RD_ELIMIT, "too many header lines"},
    [RTSP_MSG_ERR_HEADER_BLOCK] = {400, RD_ELIMIT, "header block too large"},
    [RTSP_MSG_ERR_TRANSFER_ENCODING] = {501, RD_EPROTO, "transfer-encoding not supported"},
    [RTSP_MSG_ERR_CLEN_DUPLICATE] = {400, RD_EPROTO, "duplicate content-length"},
    [RTSP_MSG_ERR_CLEN_SYNTAX] = {400, RD_EPROTO, "bad content-length"},
    [RTSP_MSG_ERR_CLEN_LONG] = {400, RD_ELIMIT, "content-length has too many digits"},
    [RTSP_MSG_ERR_CSEQ_MISSING] = {400, RD_EPROTO, "missing cseq"},
    [RTSP_MSG_ERR_CSEQ_DUPLICATE] = {400, RD_EPROTO, "duplicate cseq"},
    [RTSP_MSG_ERR_CSEQ_SYNTAX] = {400, RD_EPROTO, "bad cseq"},
    [RTSP_MSG_ERR_CSEQ_LONG] = {400, RD_ELIMIT, "cseq has too many digits"},
    [RTSP_MSG_ERR_BODY_NOT_ALLOWED] = {400, RD_EPROTO, "body not allowed on this method"},
    [RTSP_MSG_ERR_BODY_TOO_LARGE] = {413, RD_ELIMIT, "body too large"},
};

#define N_ERROR_ROWS (sizeof(error_rows) / sizeof(error_rows[0]))

/* The scan: the input, where the header block starts and how large it may grow. */
struct scan {
    const unsigned char *buf;
    size_t len;
    size_t block_start; /* index of the first byte of the start line */
    size_t block_cap;   /* effective max_header_block */
    struct rtsp_msg *msg;
};

static ssize_t
fail(struct rtsp_msg *msg, enum rtsp_msg_error error)
{
    msg->error = error;
    msg->status_hint = error_rows[error].status;
    return error_rows[error].rc;
}

static size_t
clamp(size_t value, size_t cap)
{
    return value < cap ? value : cap;
}

struct rtsp_limits
rtsp_limits_default(enum rtsp_msg_kind kind)
{
    return (struct rtsp_limits){
        .max_leading_empty_lines = RD_RTSP_MAX_LEADING_EMPTY_LINES,
        .max_start_line = RD_RTSP_MAX_START_LINE,
        .max_uri = RD_RTSP_MAX_URI,
        .max_header_line = RD_RTSP_MAX_HEADER_LINE,
        .max_headers = RD_RTSP_MAX_HEADERS,
        .max_header_block = RD_RTSP_MAX_HEADER_BLOCK,
        .max_body =
            kind == RTSP_MSG_RESPONSE ? RD_RTSP_MAX_RESPONSE_BODY : RD_RTSP_MAX_REQUEST_BODY,
    };
}

/* Configuration may only lower a limit: clamp every field to its hard cap. */
static struct rtsp_limits
effective_limits(enum rtsp_msg_kind kind, const struct rtsp_limits *lim)
{
    struct rtsp_limits hard = rtsp_limits_default(kind);
    if (lim == NULL)
        return hard;
    return (struct rtsp_limits){
        .max_leading_empty_lines =
            clamp(lim->max_leading_empty_lines, hard.max_leading_empty_lines),
        .max_start_line = clamp(lim->max_start_line, hard.max_start_line),
        .max_uri = clamp(lim->max_uri, hard.max_uri),
        .max_header_line = clamp(lim->max_header_line, hard.max_header_line),
        .max_headers = clamp(lim->max_headers, hard.max_headers),
        .max_header_block = clamp(lim->max_header_block, hard.max_header_block),
        .max_body = clamp(lim->max_body, hard.max_body),
    };
}

/* Byte i of the header block: RD_AGAIN if it has not arrived, an error if it would make the
 * block larger than its cap (the block is over the cap as soon as that byte exists). */
static int
peek(const struct scan *s, size_t i, unsigned char *c)
{
    if (i >= s->len)
        return RD_AGAIN;
    if (i - s->block_start >= s->block_cap)
        return (int)fail(s->msg, RTSP_MSG_ERR_HEADER_BLOCK);
    *c = s->buf[i];
    return RD_OK;
}

/* c = buf[i] is CR or LF: returns the index after the line end (CRLF or a bare LF, which
 * RFC 2326 §4 lets receivers accept), or a negative code. */
static ssize_t
line_end(const struct scan *s, size_t i, unsigned char c)
{
    if (c == '\n')
        return (ssize_t)(i + 1);
    int rc = peek(s, i + 1, &c);
    if (rc != RD_OK)
        return rc;
    if (c != '\n')
        return fail(s->msg, RTSP_MSG_ERR_LINE_END);
    return (ssize_t)(i + 2);
}

static struct rd_str
view(const struct scan *s, size_t from, size_t to)
{
    if (to == from)
        return RD_STR_NULL;
    return rd_str_make((const char *)s->buf + from, to - from);
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* TEXT of RFC 2326 §15: any octet but CTLs; HT allowed (obs-text 0x80-0xFF passes). */
static bool
is_text(unsigned char c)
{
    return (c >= 0x20 && c != 0x7f) || c == '\t';
}

/* Request-Line = Method SP Request-URI SP RTSP-Version CRLF (RFC 2326 §6.1).
 * Returns the index after the line or a negative code. */
static ssize_t
scan_request_line(const struct scan *s, size_t start, const struct rtsp_limits *lim)
{
    struct rtsp_msg *msg = s->msg;
    size_t max_line = lim->max_start_line;
    size_t i = start;
    unsigned char c = 0;
    int rc;

    /* Method: [A-Z_]{1,32}, the upper-case subset of the RFC's token that clients send. */
    for (;; i++) {
        if ((rc = peek(s, i, &c)) != RD_OK)
            return rc;
        if (i - start >= max_line)
            return fail(msg, RTSP_MSG_ERR_START_LINE_LONG);
        if (c == ' ')
            break;
        if (!((c >= 'A' && c <= 'Z') || c == '_'))
            return fail(msg, RTSP_MSG_ERR_METHOD);
        if (i - start >= RD_RTSP_MAX_METHOD)
            return fail(msg, RTSP_MSG_ERR_METHOD_LONG);
    }
    if (i == start)
        return fail(msg, RTSP_MSG_ERR_METHOD);
    msg->method_name = view(s, start, i);
    msg->method = rtsp_method_from_name(msg->method_name);

    /* Request-URI: printable ASCII. A line that overflows while in the URI is the URI's fault
     * (414); the SP after it still belongs to the line. */
    size_t uri_start = ++i;
    for (;; i++) {
        if ((rc = peek(s, i, &c)) != RD_OK)
            return rc;
        if (i - start >= max_line)
            return fail(msg, RTSP_MSG_ERR_URI_LONG);
        if (c == ' ')
            break;
        if (c < 0x21 || c > 0x7e)
            return fail(msg, RTSP_MSG_ERR_URI);
        if (i - uri_start >= lim->max_uri)
            return fail(msg, RTSP_MSG_ERR_URI_LONG);
    }
    if (i == uri_start)
        return fail(msg, RTSP_MSG_ERR_URI);
    msg->uri = view(s, uri_start, i);

    /* RTSP-Version up to the line end: a token, which must be exactly RTSP/1.0 (505). */
    size_t ver_start = ++i;
    for (;; i++) {
        if ((rc = peek(s, i, &c)) != RD_OK)
            return rc;
        if (c == '\r' || c == '\n')
            break;
        if (i - start >= max_line)
            return fail(msg, RTSP_MSG_ERR_START_LINE_LONG);
        if (c < 0x21 || c > 0x7e)
            return fail(msg, RTSP_MSG_ERR_VERSION_SYNTAX);
    }
    if (i == ver_start)
        return fail(msg, RTSP_MSG_ERR_VERSION_SYNTAX);
    ssize_t next = line_end(s, i, c);
    if (next < 0)
        return next;
    if (!rd_str_eq_cstr(view(s, ver_start, i), "RTSP/1.0"))
        return fail(msg, RTSP_MSG_ERR_VERSION);
    return next;
}

/* Status-Line = RTSP-Version SP Status-Code SP Reason-Phrase CRLF (RFC 2326 §7.1). A missing
 * "SP Reason-Phrase" is tolerated (seen in camera firmware). */
static ssize_t
scan_status_line(const struct scan *s, size_t start, const struct rtsp_limits *lim)
{
    struct rtsp_msg *msg = s->msg;
    size_t max_line = lim->max_start_line;
    size_t i = start;
    unsigned char c = 0;
    int rc;

    for (;; i++) {
        if ((rc = peek(s, i, &c)) != RD_OK)
            return rc;
        if (i - start >= max_line)
            return fail(msg, RTSP_MSG_ERR_START_LINE_LONG);
        if (c == ' ')
            break;
        if (c < 0x21 || c > 0x7e)
            return fail(msg, RTSP_MSG_ERR_VERSION_SYNTAX);
    }
    if (i == start)
        return fail(msg, RTSP_MSG_ERR_VERSION_SYNTAX);
    if (!rd_str_eq_cstr(view(s, start, i), "RTSP/1.0"))
        return fail(msg, RTSP_MSG_ERR_VERSION);

    /* Status-Code = 3DIGIT, 1xx-5xx (RFC 2326 §7.1.1). */
    int code = 0;
    for (int k = 0; k < 3; k++) {
        if ((rc = peek(s, ++i, &c)) != RD_OK)
            return rc;
        if (i - start >= max_line)
            return fail(msg, RTSP_MSG_ERR_START_LINE_LONG);
        if (!is_digit(c))
            return fail(msg, RTSP_MSG_ERR_STATUS);
        code = code * 10 + (c - '0');
    }
    if (code < 100 || code > 599)
        return fail(msg, RTSP_MSG_ERR_STATUS);
    msg->status = code;

    if ((rc = peek(s, ++i, &c)) != RD_OK)
        return rc;
    size_t reason_start = i;
    if (c == ' ') {
        reason_start = ++i;
        for (;; i++) {
            if ((rc = peek(s, i, &c)) != RD_OK)
                return rc;
            if (c == '\r' || c == '\n')
                break;
            if (i - start >= max_line)
                return fail(msg, RTSP_MSG_ERR_START_LINE_LONG);
            if (!is_text(c))
                return fail(msg, RTSP_MSG_ERR_REASON);
        }
    } else if (c != '\r' && c != '\n') {
        return fail(msg, RTSP_MSG_ERR_STATUS);
    }
    msg->reason = view(s, reason_start, i);
    return line_end(s, i, c);
}

/* message-header = field-name ":" [ field-value ] CRLF (RFC 2326 §4.2, RFC 2616 §4.2), up to
 * and including the empty line. Returns the index after the empty line. */
static ssize_t
scan_headers(const struct scan *s, size_t i, const struct rtsp_limits *lim)
{
    struct rtsp_msg *msg = s->msg;
    size_t max_line = lim->max_header_line;
    unsigned char c = 0;
    int rc;

    for (;;) {
        if ((rc = peek(s, i, &c)) != RD_OK)
            return rc;
        if (c == '\r' || c == '\n')
            return line_end(s, i, c);
        /* obs-fold (RFC 7230 §3.2.4): refused rather than unfolded, see rtsp_msg.h. */
        if (c == ' ' || c == '\t')
            return fail(msg, RTSP_MSG_ERR_OBS_FOLD);
        if (msg->n_headers >= lim->max_headers)
            return fail(msg, RTSP_MSG_ERR_HEADER_COUNT);

        size_t line_start = i;
        for (;; i++) {
            if ((rc = peek(s, i, &c)) != RD_OK)
                return rc;
            if (i - line_start >= max_line)
                return fail(msg, RTSP_MSG_ERR_HEADER_LINE_LONG);
            if (!rd_is_tchar(c))
                break;
        }
        /* No whitespace before the colon (RFC 7230 §3.2.4: a classic smuggling vector). */
        if (c != ':' || i == line_start)
            return fail(msg, RTSP_MSG_ERR_HEADER_NAME);
        size_t name_end = i;
        size_t value_start = ++i;
        for (;; i++) {
            if ((rc = peek(s, i, &c)) != RD_OK)
                return rc;
            if (c == '\r' || c == '\n')
                break;
            if (i - line_start >= max_line)
                return fail(msg, RTSP_MSG_ERR_HEADER_LINE_LONG);
            if (!is_text(c))
                return fail(msg, RTSP_MSG_ERR_HEADER_VALUE);
        }
        ssize_t next = line_end(s, i, c);
        if (next < 0)
            return next;
        struct rtsp_header *h = &msg->headers[msg->n_headers++];
        h->name = view(s, line_start, name_end);
        h->value = rd_str_trim(view(s, value_start, i));
        i = (size_t)next;
    }
}

/* 1..max_digits decimal digits, nothing else. */
static enum rtsp_msg_error
parse_digits(struct rd_str v, unsigned max_digits, enum rtsp_msg_error syntax,
             enum rtsp_msg_error too_long, uint64_t *out)
{
    if (v.len == 0)
        return syntax;
    for (size_t k = 0; k < v.len; k++) {
        if (!is_digit((unsigned char)v.p[k]))
            return syntax;
    }
    if (v.len > max_digits)
        return too_long;
    uint64_t n = 0;
    (void)rd_str_to_u64(v, max_digits, UINT64_MAX, &n); /* cannot fail: checked above */
    *out = n;
    return RTSP_MSG_ERR_NONE;
}

/* A request body is only meaningful on these (RFC 2326 §10.3, §10.8, §10.9). */
static bool
body_allowed(enum rtsp_method method)
{
    return method == RTSP_METHOD_GET_PARAMETER || method == RTSP_METHOD_SET_PARAMETER
           || method == RTSP_METHOD_ANNOUNCE;
}

/* Checks on the complete header block, in a fixed order: Transfer-Encoding, Content-Length,
 * CSeq, body permission, body size. CSeq is evaluated first of all so that a reply to any
 * later failure may still echo it. */
static ssize_t
check_headers(struct rtsp_msg *msg, const struct rtsp_limits *lim)
{
    size_t n_cseq = 0, n_clen = 0, n_te = 0;
    struct rd_str cseq = RD_STR_NULL, clen = RD_STR_NULL;

    for (size_t k = 0; k < msg->n_headers; k++) {
        const struct rtsp_header *h = &msg->headers[k];
        if (rd_str_eq_ci_cstr(h->name, "CSeq")) {
            n_cseq++;
            cseq = h->value;
        } else if (rd_str_eq_ci_cstr(h->name, "Content-Length")) {
            n_clen++;
            clen = h->value;
        } else if (rd_str_eq_ci_cstr(h->name, "Transfer-Encoding")) {
            n_te++;
        }
    }

    /* RFC 2326 §12.17: exactly one CSeq; echo only a value we parsed ourselves. */
    enum rtsp_msg_error cseq_err = RTSP_MSG_ERR_NONE;
    uint64_t n = 0;
    if (n_cseq == 0)
        cseq_err = RTSP_MSG_ERR_CSEQ_MISSING;
    else if (n_cseq > 1)
        cseq_err = RTSP_MSG_ERR_CSEQ_DUPLICATE;
    else
        cseq_err = parse_digits(cseq, RD_RTSP_MAX_CSEQ_DIGITS, RTSP_MSG_ERR_CSEQ_SYNTAX,
                                RTSP_MSG_ERR_CSEQ_LONG, &n);
    if (cseq_err == RTSP_MSG_ERR_NONE) {
        msg->has_cseq = true;
        msg->cseq = (uint32_t)n;
    }

    /* RFC 2326 §4.3 knows no chunked coding; RFC 9112 §6.3 calls TE with CL unrecoverable. */
    if (n_te > 0)
        return fail(msg, RTSP_MSG_ERR_TRANSFER_ENCODING);
    if (n_clen > 1)
        return fail(msg, RTSP_MSG_ERR_CLEN_DUPLICATE);
    if (n_clen == 1) {
        enum rtsp_msg_error e = parse_digits(clen, RD_RTSP_MAX_CLEN_DIGITS,
                                             RTSP_MSG_ERR_CLEN_SYNTAX, RTSP_MSG_ERR_CLEN_LONG, &n);
        if (e != RTSP_MSG_ERR_NONE)
            return fail(msg, e);
        msg->content_length = (size_t)n;
    }
    if (cseq_err != RTSP_MSG_ERR_NONE)
        return fail(msg, cseq_err);
    if (msg->kind == RTSP_MSG_REQUEST && msg->content_length > 0 && !body_allowed(msg->method))
        return fail(msg, RTSP_MSG_ERR_BODY_NOT_ALLOWED);
    if (msg->content_length > lim->max_body)
        return fail(msg, RTSP_MSG_ERR_BODY_TOO_LARGE);
    return RD_OK;
}

static void
msg_reset(struct rtsp_msg *msg, enum rtsp_msg_kind kind)
{
    msg->kind = kind;
    msg->method = RTSP_METHOD_UNKNOWN;
    msg->method_name = RD_STR_NULL;
    msg->uri = RD_STR_NULL;
    msg->status = 0;
    msg->reason = RD_STR_NULL;
    msg->has_cseq = false;
    msg->cseq = 0;
    msg->content_length = 0;
    msg->body = RD_STR_NULL;
    msg->header_len = 0;
    msg->n_headers = 0;
    msg->status_hint = 0;
    msg->error = RTSP_MSG_ERR_NONE;
}

ssize_t
rtsp_msg_parse(const char *buf, size_t len, enum rtsp_msg_kind kind,
               const struct rtsp_limits *lim_in, struct rtsp_msg *msg)
{
    struct rtsp_limits lim = effective_limits(kind, lim_in);
    const unsigned char *b = (const unsigned char *)buf;
    size_t i = 0;

    msg_reset(msg, kind);

    /* RFC 2326 §4 / RFC 7230 §3.5: a few empty lines (keep-alive CRLFs) before the message.
     * The first byte of one more empty line already proves the cap is broken. */
    for (size_t empty = 0;; empty++) {
        if (i >= len)
            return RD_AGAIN;
        if (b[i] != '\r' && b[i] != '\n')
            break;
        if (empty >= lim.max_leading_empty_lines)
            return fail(msg, RTSP_MSG_ERR_LEADING_EMPTY);
        if (b[i] == '\r') {
            if (i + 1 >= len)
                return RD_AGAIN;
            if (b[i + 1] != '\n')
                return fail(msg, RTSP_MSG_ERR_LINE_END);
            i += 2;
        } else {
            i++;
        }
    }

    struct scan s = {b, len, i, lim.max_header_block, msg};
    ssize_t next =
        kind == RTSP_MSG_REQUEST ? scan_request_line(&s, i, &lim) : scan_status_line(&s, i, &lim);
    if (next < 0)
        return next;
    next = scan_headers(&s, (size_t)next, &lim);
    if (next < 0)
        return next;
    i = (size_t)next;
    ssize_t rc = check_headers(msg, &lim);
    if (rc < 0)
        return rc;

    /* RFC 2326 §4.3: the body is exactly Content-Length bytes (none when absent). */
    msg->header_len = i;
    if (len - i < msg->content_length)
        return RD_AGAIN;
    if (msg->content_length > 0)
        msg->body = rd_str_make(buf + i, msg->content_length);
    return (ssize_t)(i + msg->content_length);
}

ssize_t
rtsp_msg_parse_request(const char *buf, size_t len, struct rtsp_msg *msg)
{
    return rtsp_msg_parse(buf, len, RTSP_MSG_REQUEST, NULL, msg);
}

ssize_t
rtsp_msg_parse_response(const char *buf, size_t len, struct rtsp_msg *msg)
{
    return rtsp_msg_parse(buf, len, RTSP_MSG_RESPONSE, NULL, msg);
}

bool
rtsp_msg_header_nth(const struct rtsp_msg *msg, const char *name, size_t n, struct rd_str *value)
{
    for (size_t k = 0; k < msg->n_headers; k++) {
        if (rd_str_eq_ci_cstr(msg->headers[k].name, name) && n-- == 0) {
            *value = msg->headers[k].value;
            return true;
        }
    }
    *value = RD_STR_NULL;
    return false;
}

bool
rtsp_msg_header(const struct rtsp_msg *msg, const char *name, struct rd_str *value)
{
    return rtsp_msg_header_nth(msg, name, 0, value);
}

size_t
rtsp_msg_header_count(const struct rtsp_msg *msg, const char *name)
{
    size_t n = 0;
    for (size_t k = 0; k < msg->n_headers; k++) {
        if (rd_str_eq_ci_cstr(msg->headers[k].name, name))
            n++;
    }
    return n;
}

const char *
rtsp_msg_strerror(enum rtsp_msg_error error)
{
    if ((size_t)error >= N_ERROR_ROWS)
        return "unknown error";
    return error_rows[error].text;
}
