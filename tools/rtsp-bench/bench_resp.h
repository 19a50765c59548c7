/* SPDX-License-Identifier: MIT */
/* What rd_redirect_bench sends and how it judges each answer: the request texts of one viewer
 * (RTSP OPTIONS + DESCRIBE, or one HTTP GET for the nginx baseline) and the check of one
 * response (status, CSeq, an absolute Location naming the requested camera). Pure code. */
#ifndef RD_TOOLS_BENCH_RESP_H
#define RD_TOOLS_BENCH_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench_stats.h"
#include "rd_str.h"

enum bench_proto {
    BENCH_PROTO_RTSP, /* RTSP/1.0 responses, parsed by rtsp_msg_parse_response */
    BENCH_PROTO_HTTP  /* HTTP/1.x responses (nginx baseline), parsed here */
};

/* What the response to one request must be. */
struct bench_expect {
    int status;           /* 200 for OPTIONS, 302 for DESCRIBE / GET */
    uint32_t cseq;        /* RTSP: the CSeq sent (must be echoed); ignored for HTTP */
    struct rd_str camera; /* for a 302: the camera requested; empty = do not check the path */
    bool strict_path;     /* for a 302: the Location path must be /v1/<camera>/<token>/ */
};

/* The largest response the checker accepts: a 302 with a Location of at most
 * RD_RTSP_MAX_URI bytes plus headers, or nginx's 302 page. Larger is BENCH_ERR_TOO_BIG. */
#define BENCH_RESP_MAX 8192

/* Checks the response at the start of buf[0..len).
 * Returns the bytes it occupies (> 0) when it is complete and as expected; RD_AGAIN when more
 * bytes are needed (the caller turns RD_AGAIN with BENCH_RESP_MAX bytes buffered into
 * BENCH_ERR_TOO_BIG); RD_EPROTO with *err set when it is complete (or broken) and not as
 * expected: BENCH_ERR_PARSE, _CSEQ, _OPTIONS (expected 200, got another status), _STATUS_404,
 * _STATUS_503, _STATUS (other), _LOCATION (302 without one absolute Location, or for RTSP
 * one that url_split() refuses, is not rtsp[s], or with strict_path does not name
 * exp->camera as /v1/<camera>/<token>/). Reads only buf[0..len). */
ssize_t bench_resp_check(enum bench_proto proto, const char *buf, size_t len,
                         const struct bench_expect *exp, enum bench_err *err);

/* Checks a redirect target. RTSP: an absolute rtsp:// or rtsps:// URL url_split() accepts,
 * and with strict_path a path url_relay_path_parse() accepts whose camera equals camera.
 * HTTP: "<scheme>://<host>..." of printable ASCII, and the same path rule when the scheme is
 * rtsp or rtsps (nginx is configured to answer the broker's URL shape). */
bool bench_location_ok(enum bench_proto proto, struct rd_str loc, struct rd_str camera,
                       bool strict_path);

/* Builds the request texts for one camera into out[cap]: for RTSP "OPTIONS <url> RTSP/1.0"
 * with CSeq 1 and "DESCRIBE <url> RTSP/1.0" with CSeq 2 and Accept: application/sdp (url is
 * rtsp://host:port/<camera>); for HTTP one "GET /<camera> HTTP/1.1" with Host and
 * Connection: close. *first_len gets the length of the first request (OPTIONS or GET); the
 * DESCRIBE follows it. Returns the total length, RD_ELIMIT if it does not fit (out is then
 * ""), RD_EPROTO if camera is empty or has bytes outside 0x21-0x7e. */
int bench_build_requests(enum bench_proto proto, const char *host, unsigned port,
                         const char *camera, char *out, size_t cap, size_t *first_len);

#endif
