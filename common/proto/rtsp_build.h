/* SPDX-License-Identifier: MIT */
/* RTSP/1.0 message builders writing into a caller's fixed buffer: responses (broker, relay)
 * and requests (the relay's camera client). Never a truncated message: RD_ELIMIT instead. */
#ifndef RD_PROTO_RTSP_BUILD_H
#define RD_PROTO_RTSP_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_str.h"
#include "rtsp_codes.h"
#include "rtsp_msg.h"

/* "No CSeq to echo" for rtsp_resp_begin() (the request had none or an invalid one). */
#define RTSP_CSEQ_NONE ((int64_t)-1)

/* The cseq argument for rtsp_resp_begin() when answering msg: its parsed CSeq, or
 * RTSP_CSEQ_NONE when it had none or an invalid one. Also right after a failed parse. */
static inline int64_t
rtsp_resp_cseq_of(const struct rtsp_msg *msg)
{
    return msg->has_cseq ? (int64_t)msg->cseq : RTSP_CSEQ_NONE;
}

/* An output buffer. Messages are appended at len, so one buffer can queue several responses
 * (pipelining). A failing call removes the whole message being built (len returns to where
 * rtsp_*_begin found it) and the failure sticks: later calls for that message return the
 * same code without writing, so a caller may check only rtsp_*_end(). */
struct rtsp_out {
    char *buf;        /* borrowed: the caller's buffer */
    size_t cap;       /* bytes of buf usable */
    size_t len;       /* bytes of buf in use */
    size_t msg_start; /* offset of the message being built */
    int rc;           /* RD_OK, or the first failure of the current message */
    bool open;        /* between a successful begin and end */
    bool request;     /* the current message is a request */
};

/* Prepares out over buf[0..cap) with used bytes already queued (0 for an empty buffer).
 * Borrows buf for as long as out is used. */
void rtsp_out_init(struct rtsp_out *out, char *buf, size_t cap, size_t used);

/* Starts a response: "RTSP/1.0 <status> <reason>" and, unless cseq is RTSP_CSEQ_NONE,
 * "CSeq: <cseq>" formatted from the number (never from request bytes, SECURITY.md §3.3).
 * status must have an RFC 2326 reason phrase (rtsp_status_reason); cseq must be
 * RTSP_CSEQ_NONE or 0..UINT32_MAX. Returns RD_OK, RD_EPROTO for a bad argument or a
 * message already open, RD_ELIMIT if it does not fit. */
int rtsp_resp_begin(struct rtsp_out *out, int status, int64_t cseq);

/* Adds "name: value". name must be a token and not CSeq, Content-Length or
 * Transfer-Encoding (framing belongs to the builder); value must be TEXT: no CR, LF, NUL or
 * other CTL except HT. Returns RD_OK, RD_EPROTO (refused input, no message open, or an
 * earlier failure), RD_ELIMIT (does not fit). Works for requests too. */
int rtsp_resp_header(struct rtsp_out *out, const char *name, const char *value);

/* rtsp_resp_header() for a view (which may contain NUL: refused like CR/LF). */
int rtsp_resp_header_view(struct rtsp_out *out, const char *name, struct rd_str value);

/* rtsp_resp_header() with a printf-formatted value, formatted straight into the buffer and
 * then checked like any value. Returns as rtsp_resp_header(). */
int rtsp_resp_headerf(struct rtsp_out *out, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ends a response: always "Content-Length: <body_len>" (also 0: explicit framing, RFC 2326
 * §12.14), the empty line, then body_len bytes of body (copied; body may be NULL only when
 * body_len is 0). Returns RD_OK with the whole message in buf[msg_start..len), or the
 * message's failure code with nothing of it left in buf. Closes the message either way. */
int rtsp_resp_end(struct rtsp_out *out, const void *body, size_t body_len);

/* Starts a request: "<METHOD> <uri> RTSP/1.0" and "CSeq: <cseq>". method must be known,
 * uri non-empty printable ASCII (0x21-0x7E) of at most RD_RTSP_MAX_URI bytes. Returns as
 * rtsp_resp_begin(). Headers are added with rtsp_resp_header*(). */
int rtsp_req_begin(struct rtsp_out *out, enum rtsp_method method, const char *uri, uint32_t cseq);

/* Ends a request: "Content-Length: <body_len>" only when body_len > 0, the empty line, the
 * body. Returns as rtsp_resp_end(). */
int rtsp_req_end(struct rtsp_out *out, const void *body, size_t body_len);

#endif
