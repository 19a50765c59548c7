/* SPDX-License-Identifier: MIT */
/* Incremental RTSP/1.0 request and response parser (RFC 2326 §4, §6, §7) in the style of
 * picohttpparser: stateless, never allocates, views into the caller's buffer, and every
 * hard cap of SECURITY.md §2.2 checked while scanning. */
#ifndef RD_PROTO_RTSP_MSG_H
#define RD_PROTO_RTSP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rd_limits.h"
#include "rd_str.h"
#include "rtsp_codes.h"

#if defined(__GNUC__)
#define RTSP_MSG_MUST_CHECK __attribute__((warn_unused_result))
#else
#define RTSP_MSG_MUST_CHECK
#endif

enum rtsp_msg_kind {
    RTSP_MSG_REQUEST, /* a viewer's request to the broker or a relay */
    RTSP_MSG_RESPONSE /* a camera's response to the relay's client */
};

/* Limits a daemon may lower from its configuration (never raise: every field is clamped to
 * its rd_limits.h hard cap by the parser). Zero is taken literally (e.g. max_body = 0 refuses
 * every body). Line lengths exclude the CRLF; the header block counts from the first byte of
 * the start line through the empty line that ends it. */
struct rtsp_limits {
    size_t max_leading_empty_lines; /* <= RD_RTSP_MAX_LEADING_EMPTY_LINES */
    size_t max_start_line;          /* bytes, <= RD_RTSP_MAX_START_LINE */
    size_t max_uri;                 /* bytes, <= RD_RTSP_MAX_URI */
    size_t max_header_line;         /* bytes, <= RD_RTSP_MAX_HEADER_LINE */
    size_t max_headers;             /* lines, <= RD_RTSP_MAX_HEADERS */
    size_t max_header_block;        /* bytes, <= RD_RTSP_MAX_HEADER_BLOCK */
    size_t max_body;                /* bytes, <= RD_RTSP_MAX_REQUEST_BODY or _RESPONSE_BODY */
};

/* Why a message was refused; rtsp_msg_strerror() names it for logs. Each maps to one status
 * code (status_hint) and one return code (RD_ELIMIT for caps, RD_EPROTO for syntax). */
enum rtsp_msg_error {
    RTSP_MSG_ERR_NONE = 0,
    RTSP_MSG_ERR_LEADING_EMPTY,     /* 400 ELIMIT: more empty lines before the start line */
    RTSP_MSG_ERR_LINE_END,          /* 400 EPROTO: CR not followed by LF */
    RTSP_MSG_ERR_START_LINE_LONG,   /* 400 ELIMIT: start line over max_start_line */
    RTSP_MSG_ERR_METHOD,            /* 400 EPROTO: method not [A-Z_]+ or not followed by SP */
    RTSP_MSG_ERR_METHOD_LONG,       /* 400 ELIMIT: method over RD_RTSP_MAX_METHOD */
    RTSP_MSG_ERR_URI,               /* 400 EPROTO: empty URI or a byte outside 0x21-0x7E */
    RTSP_MSG_ERR_URI_LONG,          /* 414 ELIMIT: URI (or the line while in the URI) too long */
    RTSP_MSG_ERR_VERSION_SYNTAX,    /* 400 EPROTO: empty version token or a CTL/SP in it */
    RTSP_MSG_ERR_VERSION,           /* 505 EPROTO: version token is not exactly RTSP/1.0 */
    RTSP_MSG_ERR_STATUS,            /* 400 EPROTO: status code not 3 digits in 100-599 */
    RTSP_MSG_ERR_REASON,            /* 400 EPROTO: CTL other than HT in the reason phrase */
    RTSP_MSG_ERR_OBS_FOLD,          /* 400 EPROTO: header line starting with SP/HT */
    RTSP_MSG_ERR_HEADER_NAME,       /* 400 EPROTO: name empty, not a token, or no ':' */
    RTSP_MSG_ERR_HEADER_VALUE,      /* 400 EPROTO: CTL other than HT in a value */
    RTSP_MSG_ERR_HEADER_LINE_LONG,  /* 400 ELIMIT: header line over max_header_line */
    RTSP_MSG_ERR_HEADER_COUNT,      /* 400 ELIMIT: more than max_headers lines */
    RTSP_MSG_ERR_HEADER_BLOCK,      /* 400 ELIMIT: header block over max_header_block */
    RTSP_MSG_ERR_TRANSFER_ENCODING, /* 501 EPROTO: any Transfer-Encoding header */
    RTSP_MSG_ERR_CLEN_DUPLICATE,    /* 400 EPROTO: more than one Content-Length */
    RTSP_MSG_ERR_CLEN_SYNTAX,       /* 400 EPROTO: Content-Length not digits only */
    RTSP_MSG_ERR_CLEN_LONG,         /* 400 ELIMIT: Content-Length over RD_RTSP_MAX_CLEN_DIGITS */
    RTSP_MSG_ERR_CSEQ_MISSING,      /* 400 EPROTO: no CSeq (has_cseq is false: do not echo) */
    RTSP_MSG_ERR_CSEQ_DUPLICATE,    /* 400 EPROTO: more than one CSeq (has_cseq false) */
    RTSP_MSG_ERR_CSEQ_SYNTAX,       /* 400 EPROTO: CSeq not digits only (has_cseq false) */
    RTSP_MSG_ERR_CSEQ_LONG,         /* 400 ELIMIT: CSeq over 9 digits (has_cseq false) */
    RTSP_MSG_ERR_BODY_NOT_ALLOWED,  /* 400 EPROTO: request body on a method that takes none */
    RTSP_MSG_ERR_BODY_TOO_LARGE,    /* 413 ELIMIT: Content-Length over max_body */
};

/* One header line: views into the parsed buffer. */
struct rtsp_header {
    struct rd_str name;  /* a token, as sent; compare with rd_str_eq_ci */
    struct rd_str value; /* SP/HT trimmed at both ends; may be empty (then p may be NULL) */
};

/* A parsed message. Every view points into the buffer given to the parser and is valid
 * until the caller consumes or moves those bytes; copy out what must live longer. */
struct rtsp_msg {
    enum rtsp_msg_kind kind;
    /* Request line (RFC 2326 §6.1); empty views for a response. */
    enum rtsp_method method;   /* RTSP_METHOD_UNKNOWN for a valid but unknown token */
    struct rd_str method_name; /* the raw token, [A-Z_]{1,32} */
    struct rd_str uri;         /* printable ASCII, not decoded or validated further */
    /* Status line (RFC 2326 §7.1); 0 and empty for a request. */
    int status;           /* 100-599 */
    struct rd_str reason; /* may be empty */
    /* Both. */
    bool has_cseq;         /* exactly one CSeq of 1-9 digits in a complete header block: cseq
                            * may be echoed (also in the reply to a later error) */
    uint32_t cseq;         /* RFC 2326 §12.17; valid only when has_cseq */
    size_t content_length; /* bytes; 0 when absent (RFC 2326 §4.3: no body without it) */
    struct rd_str body;    /* content_length bytes right after the header block */
    size_t header_len;     /* bytes from buf[0] (leading empty lines included) through the
                            * empty line; nonzero on RD_AGAIN once only the body is missing */
    size_t n_headers;
    struct rtsp_header headers[RD_RTSP_MAX_HEADERS]; /* in wire order */
    /* Set when the parse fails (0 otherwise). */
    int status_hint;           /* status code to answer with: 400, 413, 414, 501 or 505 */
    enum rtsp_msg_error error; /* which check failed */
};

/* The most bytes one message can occupy under the hard caps (leading empty lines, header
 * block, body). With an input buffer this large, RD_AGAIN never just means "buffer full".
 * A smaller buffer needs limits lowered to fit it (2 * max_leading_empty_lines +
 * max_header_block + max_body), or must answer "full and still RD_AGAIN" with 400. */
#define RTSP_MSG_MAX_REQUEST_BYTES                                                                 \
    (2 * RD_RTSP_MAX_LEADING_EMPTY_LINES + RD_RTSP_MAX_HEADER_BLOCK + RD_RTSP_MAX_REQUEST_BODY)
#define RTSP_MSG_MAX_RESPONSE_BYTES                                                                \
    (2 * RD_RTSP_MAX_LEADING_EMPTY_LINES + RD_RTSP_MAX_HEADER_BLOCK + RD_RTSP_MAX_RESPONSE_BODY)

/* Returns the default (hard-cap) limits for requests or responses. */
struct rtsp_limits rtsp_limits_default(enum rtsp_msg_kind kind);

/* Parses one complete RTSP message of the given kind from buf[0..len).
 * Returns the bytes consumed (> 0: start line, headers and a body of Content-Length bytes)
 * and fills *msg; RD_AGAIN while the message is incomplete; RD_EPROTO or RD_ELIMIT when the
 * bytes already seen break the syntax or a cap, with msg->error and msg->status_hint set
 * (for a response the hint only classifies the failure). Caps are checked byte by byte, so
 * an oversized line, block or body is refused as soon as its bytes prove it, never "need
 * more" forever; a body over the cap is refused from its Content-Length without waiting.
 * Calling again with more bytes of the same stream gives the same result as one call with
 * all of them (no state is kept: each call rescans at most one header block).
 * Tolerated: up to max_leading_empty_lines empty lines first, bare LF line ends, repeated
 * headers other than CSeq/Content-Length (GStreamer sends two User-Agent), unknown headers.
 * Refused: obs-fold continuation lines (RFC 7230 §3.2.4 lets a server reject them; turning
 * them into SP would let two parsers disagree), any Transfer-Encoding (RFC 2326 §4.3 has no
 * chunked coding). Request bodies are accepted only on GET_PARAMETER, SET_PARAMETER and
 * ANNOUNCE (ANNOUNCE so the router can answer 405 on a stream still in sync).
 * Every error is a framing error: answer msg->status_hint (with CSeq only if has_cseq) and
 * close, the stream cannot be trusted any more (SECURITY.md §2.2).
 * lim may be NULL for rtsp_limits_default(kind). msg is written in all cases; its views
 * point into buf (borrowed; valid while buf is). Never allocates, never reads buf[len]. */
ssize_t rtsp_msg_parse(const char *buf, size_t len, enum rtsp_msg_kind kind,
                       const struct rtsp_limits *lim, struct rtsp_msg *msg);

/* rtsp_msg_parse(buf, len, RTSP_MSG_REQUEST, NULL, msg): a viewer's request. */
ssize_t rtsp_msg_parse_request(const char *buf, size_t len, struct rtsp_msg *msg);

/* rtsp_msg_parse(buf, len, RTSP_MSG_RESPONSE, NULL, msg): a camera's response. */
ssize_t rtsp_msg_parse_response(const char *buf, size_t len, struct rtsp_msg *msg);

/* Looks up the first header called name (ASCII case-insensitive). Returns true and sets
 * *value (a view into the parsed buffer, possibly empty) when present; returns false and
 * sets *value to RD_STR_NULL when absent. The result must be checked. */
RTSP_MSG_MUST_CHECK bool rtsp_msg_header(const struct rtsp_msg *msg, const char *name,
                                         struct rd_str *value);

/* Like rtsp_msg_header() for the n-th (0-based) occurrence of name. */
RTSP_MSG_MUST_CHECK bool rtsp_msg_header_nth(const struct rtsp_msg *msg, const char *name, size_t n,
                                             struct rd_str *value);

/* Returns how many header lines are called name (ASCII case-insensitive). */
size_t rtsp_msg_header_count(const struct rtsp_msg *msg, const char *name);

/* Returns a static description of an error for logs ("request-uri too long"). */
const char *rtsp_msg_strerror(enum rtsp_msg_error error);

#endif
