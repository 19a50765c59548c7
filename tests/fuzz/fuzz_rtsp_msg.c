/* SPDX-License-Identifier: MIT */
/* Fuzzes rtsp_msg_parse as request and response and checks its contract: consumed <= len,
 * views inside the message, prefix consistency, monotonic limits, and that a parsed request
 * round-trips through the response builder. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_err.h"
#include "rtsp_build.h"
#include "rtsp_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Always on (also in release builds of the corpus replay): report and abort. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            (void)fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define INSIDE(v, base, n) ((v).len == 0 || ((v).p >= (base) && (v).p + (v).len <= (base) + (n)))

static void
check_result(const char *buf, size_t len, ssize_t rc, const struct rtsp_msg *m)
{
    CHECK(rc > 0 || rc == RD_AGAIN || rc == RD_EPROTO || rc == RD_ELIMIT);
    if (rc > 0) {
        size_t n = (size_t)rc;
        CHECK(n <= len);
        CHECK(m->status_hint == 0 && m->error == RTSP_MSG_ERR_NONE);
        CHECK(m->has_cseq);
        CHECK(m->n_headers <= RD_RTSP_MAX_HEADERS);
        CHECK(m->header_len + m->content_length == n);
        CHECK(m->header_len <= RD_RTSP_MAX_HEADER_BLOCK + 2 * RD_RTSP_MAX_LEADING_EMPTY_LINES);
        CHECK(m->body.len == m->content_length);
        CHECK(INSIDE(m->method_name, buf, n) && INSIDE(m->uri, buf, n));
        CHECK(INSIDE(m->reason, buf, n) && INSIDE(m->body, buf, n));
        for (size_t k = 0; k < m->n_headers; k++) {
            CHECK(m->headers[k].name.len > 0);
            CHECK(INSIDE(m->headers[k].name, buf, m->header_len));
            CHECK(INSIDE(m->headers[k].value, buf, m->header_len));
        }
        if (m->kind == RTSP_MSG_REQUEST) {
            CHECK(m->method_name.len >= 1 && m->method_name.len <= RD_RTSP_MAX_METHOD);
            CHECK(m->uri.len >= 1 && m->uri.len <= RD_RTSP_MAX_URI);
            CHECK(m->content_length <= RD_RTSP_MAX_REQUEST_BODY);
        } else {
            CHECK(m->status >= 100 && m->status <= 599);
            CHECK(m->content_length <= RD_RTSP_MAX_RESPONSE_BODY);
        }
    } else if (rc != RD_AGAIN) {
        int h = m->status_hint;
        CHECK(h == 400 || h == 413 || h == 414 || h == 501 || h == 505);
        CHECK(m->error != RTSP_MSG_ERR_NONE);
        CHECK(rtsp_msg_strerror(m->error) != NULL);
    }
}

/* Parses data[0..n) from an exact-size copy, so reading past n is caught by ASan. */
static ssize_t
parse_copy(const uint8_t *data, size_t n, enum rtsp_msg_kind kind, const struct rtsp_limits *lim,
           struct rtsp_msg *m, enum rtsp_msg_error *err)
{
    char *copy = calloc(n > 0 ? n : 1, 1);
    CHECK(copy != NULL);
    if (n > 0)
        memcpy(copy, data, n);
    ssize_t rc = rtsp_msg_parse(copy, n, kind, lim, m);
    check_result(copy, n, rc, m);
    *err = m->error;
    free(copy);
    return rc;
}

/* A parsed request echoed through the builder must parse back with the same CSeq, body and
 * echoed headers (values are TEXT, so the builder must accept every one), except the framing
 * headers, which the builder writes itself and must refuse from callers. */
static void
round_trip(const struct rtsp_msg *req)
{
    static char out_buf[32768];
    static char probe_buf[2048];
    struct rtsp_out out;
    rtsp_out_init(&out, out_buf, sizeof(out_buf), 0);
    int rc = rtsp_resp_begin(&out, 200, req->cseq);
    CHECK(rc == RD_OK);
    size_t echoed[8];
    size_t n_echoed = 0;
    for (size_t k = 0; k < req->n_headers && n_echoed < 8; k++) {
        char name[64];
        const struct rtsp_header *h = &req->headers[k];
        if (h->value.len > 1024 || rd_str_copy(name, sizeof(name), h->name) != RD_OK)
            continue;
        if (rd_str_eq_ci_cstr(h->name, "CSeq") || rd_str_eq_ci_cstr(h->name, "Content-Length")) {
            struct rtsp_out probe;
            rtsp_out_init(&probe, probe_buf, sizeof(probe_buf), 0);
            rc = rtsp_resp_begin(&probe, 200, RTSP_CSEQ_NONE);
            CHECK(rc == RD_OK);
            rc = rtsp_resp_header_view(&probe, name, h->value);
            CHECK(rc == RD_EPROTO && probe.len == 0);
            continue;
        }
        rc = rtsp_resp_header_view(&out, name, h->value);
        CHECK(rc == RD_OK);
        echoed[n_echoed++] = k;
    }
    rc = rtsp_resp_end(&out, req->body.p, req->body.len);
    CHECK(rc == RD_OK);
    struct rtsp_msg resp;
    ssize_t n = rtsp_msg_parse_response(out_buf, out.len, &resp);
    CHECK(n == (ssize_t)out.len);
    CHECK(resp.has_cseq && resp.cseq == req->cseq && resp.status == 200);
    CHECK(rd_str_eq(resp.body, req->body));
    CHECK(resp.n_headers == n_echoed + 2);
    for (size_t k = 0; k < n_echoed; k++) {
        const struct rtsp_header *h = &req->headers[echoed[k]];
        CHECK(rd_str_eq(resp.headers[k + 1].name, h->name));
        CHECK(rd_str_eq(resp.headers[k + 1].value, h->value));
    }
}

static void
fuzz_kind(const uint8_t *data, size_t size, enum rtsp_msg_kind kind)
{
    struct rtsp_msg m;
    enum rtsp_msg_error err, perr;
    ssize_t rc = parse_copy(data, size, kind, NULL, &m, &err);

    /* Prefix consistency: shorter input is AGAIN or the same verdict; a message is complete
     * exactly at its end. */
    size_t cuts[] = {0, 1, size / 3, size / 2, size > 0 ? size - 1 : 0, 0, 0};
    size_t n_cuts = 5;
    if (rc > 0) {
        cuts[n_cuts++] = (size_t)rc - 1;
        cuts[n_cuts++] = (size_t)rc;
    }
    for (size_t k = 0; k < n_cuts; k++) {
        size_t cut = cuts[k] < size ? cuts[k] : size;
        struct rtsp_msg pm;
        ssize_t prc = parse_copy(data, cut, kind, NULL, &pm, &perr);
        if (rc > 0) {
            CHECK(prc == (cut >= (size_t)rc ? rc : RD_AGAIN));
        } else if (rc == RD_AGAIN) {
            CHECK(prc == RD_AGAIN);
        } else {
            CHECK(prc == RD_AGAIN || (prc == rc && perr == err));
        }
    }

    /* Limits only ever tighten: success or AGAIN under small limits means the same under the
     * defaults; an error under the defaults is an error under small limits. */
    struct rtsp_limits small = {
        .max_leading_empty_lines = 1,
        .max_start_line = 64,
        .max_uri = 40,
        .max_header_line = 48,
        .max_headers = 4,
        .max_header_block = 200,
        .max_body = 16,
    };
    struct rtsp_msg sm;
    ssize_t src = parse_copy(data, size, kind, &small, &sm, &perr);
    if (src > 0 || src == RD_AGAIN)
        CHECK(src == rc);
    if (rc < 0 && rc != RD_AGAIN)
        CHECK(src < 0 && src != RD_AGAIN);

    if (rc > 0 && kind == RTSP_MSG_REQUEST) {
        char *copy = malloc((size_t)rc);
        CHECK(copy != NULL);
        memcpy(copy, data, (size_t)rc);
        ssize_t again = rtsp_msg_parse(copy, (size_t)rc, kind, NULL, &m);
        CHECK(again == rc);
        round_trip(&m);
        free(copy);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_kind(data, size, RTSP_MSG_REQUEST);
    fuzz_kind(data, size, RTSP_MSG_RESPONSE);
    return 0;
}
