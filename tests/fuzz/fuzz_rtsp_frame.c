/* SPDX-License-Identifier: MIT */
/* Fuzzes rtsp_frame_next: the first byte picks the message kind and seeds a chunking
 * pattern; feeding the rest in those chunks must give exactly the one-shot items. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_err.h"
#include "rtsp_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Always on (also in release builds of the corpus replay): report and abort. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            (void)fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct result {
    ssize_t rc;
    enum rtsp_frame_kind kind;
    uint8_t channel;
    size_t payload_len;
    enum rtsp_msg_error error;
};

/* One call on an exact-size copy of stream[off..end), so over-reads are caught by ASan. */
static struct result
next_item(const uint8_t *stream, size_t off, size_t end, enum rtsp_msg_kind kind)
{
    size_t n = end - off;
    char *copy = calloc(n > 0 ? n : 1, 1);
    CHECK(copy != NULL);
    if (n > 0)
        memcpy(copy, stream + off, n);
    struct rtsp_frame it;
    struct rtsp_msg msg;
    struct result r = {0};
    r.rc = rtsp_frame_next(copy, n, kind, NULL, &it, &msg);
    CHECK(r.rc == RD_AGAIN || r.rc == RD_EPROTO || r.rc == RD_ELIMIT
          || (r.rc > 0 && (size_t)r.rc <= n));
    if (r.rc > 0) {
        r.kind = it.kind;
        if (it.kind == RTSP_FRAME_DATA) {
            CHECK((size_t)r.rc == 4 + it.payload_len && it.payload_len <= 65535);
            CHECK(it.payload_len == 0 || it.payload == (const uint8_t *)copy + 4);
            r.channel = it.channel;
            r.payload_len = it.payload_len;
        } else if (it.kind == RTSP_FRAME_MSG) {
            CHECK(msg.header_len + msg.content_length == (size_t)r.rc);
        } else {
            CHECK(it.kind == RTSP_FRAME_EMPTY && (size_t)r.rc < n && copy[r.rc] == '$');
        }
    } else if (r.rc != RD_AGAIN) {
        r.error = msg.error;
        CHECK(msg.status_hint != 0);
    }
    free(copy);
    return r;
}

static int
same(struct result a, struct result b)
{
    return a.rc == b.rc && a.kind == b.kind && a.channel == b.channel
           && a.payload_len == b.payload_len && a.error == b.error;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t seed = data[0];
    enum rtsp_msg_kind kind = (seed & 1) ? RTSP_MSG_RESPONSE : RTSP_MSG_REQUEST;
    const uint8_t *stream = data + 1;
    size_t n = size - 1;

    /* One shot: every item until the stream runs out or turns bad. */
    struct result *items = malloc((n + 1) * sizeof(*items));
    CHECK(items != NULL);
    size_t n_items = 0, off = 0;
    for (;;) {
        struct result r = next_item(stream, off, n, kind);
        items[n_items++] = r;
        if (r.rc <= 0)
            break;
        off += (size_t)r.rc;
    }

    /* Chunked: sizes from an xorshift seeded by the first byte; small chunks only for small
     * inputs (each call copies its window). */
    static const size_t max_chunk[] = {1, 2, 3, 7, 16, 64, 512, 4096};
    size_t cap = max_chunk[(seed >> 1) & 7];
    if (cap < 16 && n > 2048)
        cap = 16;
    uint32_t x = 0x9e3779b9u ^ seed ^ ((uint32_t)size << 8);
    size_t got = 0, revealed = 0;
    off = 0;
    for (;;) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t c = 1 + x % cap;
        revealed = revealed + c < n ? revealed + c : n;
        struct result r;
        for (;;) {
            r = next_item(stream, off, revealed, kind);
            if (r.rc == RD_AGAIN && revealed < n)
                break;
            CHECK(got < n_items && same(r, items[got]));
            got++;
            if (r.rc <= 0)
                break;
            off += (size_t)r.rc;
        }
        if (r.rc != RD_AGAIN || revealed == n)
            break;
    }
    CHECK(got == n_items);
    free(items);
    return 0;
}
