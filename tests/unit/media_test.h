/* SPDX-License-Identifier: MIT */
/* Helpers shared by the relay media-plane tests: RTP/H.264 packet builders in pool buffers,
 * a receiver that splits a TCP viewer's byte stream into '$' frames (and RTSP bytes), and
 * event-loop stepping. Header only; include after rd_test.h. */
#ifndef RD_TESTS_MEDIA_TEST_H
#define RD_TESTS_MEDIA_TEST_H

#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pktpool.h"

/* ---- RTP packets -------------------------------------------------------------------------- */

/* An RTP packet (RFC 3550 §5.1, no CSRC/extension) with the given payload in a pool buffer,
 * refs 1, arrival_at set. */
static inline struct pkt *
mt_rtp(struct pktpool *pool, uint16_t seq, uint32_t ts, uint32_t ssrc, bool marker,
       const uint8_t *payload, size_t n, double arrival)
{
    struct pkt *p = pktpool_alloc(pool, 12 + n);
    assert_non_null(p);
    uint8_t *b = p->data;
    b[0] = 0x80;
    b[1] = (uint8_t)((marker ? 0x80 : 0) | 96);
    b[2] = (uint8_t)(seq >> 8);
    b[3] = (uint8_t)seq;
    for (int i = 0; i < 4; i++) {
        b[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
        b[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    }
    memcpy(b + 12, payload, n);
    p->len = (uint32_t)(12 + n);
    p->arrival_at = arrival;
    return p;
}

static inline uint16_t
mt_rtp_seq(const uint8_t *b)
{
    return (uint16_t)(b[2] << 8 | b[3]);
}

static inline uint32_t
mt_rd32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* H.264 payload kinds (RFC 6184) used by the tests. tag is written into the payload so a
 * receiver can tell packets apart; size pads the payload to that many bytes (>= 8). */
enum mt_nal {
    MT_SPS,      /* single NAL, type 7 */
    MT_PPS,      /* single NAL, type 8 */
    MT_IDR,      /* single NAL, type 5, first_mb_in_slice 0 */
    MT_IDR_FU_S, /* FU-A start of an IDR slice */
    MT_IDR_FU_M, /* FU-A middle */
    MT_IDR_FU_E, /* FU-A end */
    MT_P,        /* single NAL, type 1, first_mb_in_slice 0 */
    MT_P_FU_S,   /* FU-A start of a P slice */
    MT_P_FU_M,
    MT_P_FU_E,
    MT_AUDIO, /* anything (for a non-H.26x track) */
};

static inline size_t
mt_h264(enum mt_nal k, uint32_t tag, size_t size, uint8_t *out)
{
    if (size < 8)
        size = 8;
    memset(out, 0x5a, size);
    switch (k) {
    case MT_SPS:
        memcpy(out, "\x67\x64\x00\x1f\xac\xd9\x40\x50", 8);
        break;
    case MT_PPS:
        memcpy(out, "\x68\xeb\xe3\xcb\x22\xc0\x00\x00", 8);
        break;
    case MT_IDR:
        memcpy(out, "\x65\x88\x84\x00", 4);
        break;
    case MT_IDR_FU_S:
        memcpy(out, "\x7c\x85\x88\x84", 4);
        break;
    case MT_IDR_FU_M:
        memcpy(out, "\x7c\x05\x11\x22", 4);
        break;
    case MT_IDR_FU_E:
        memcpy(out, "\x7c\x45\x33\x44", 4);
        break;
    case MT_P:
        memcpy(out, "\x41\x9a\x02\x0c", 4);
        break;
    case MT_P_FU_S:
        memcpy(out, "\x5c\x81\x9a\x02", 4);
        break;
    case MT_P_FU_M:
        memcpy(out, "\x5c\x01\x9a\x02", 4);
        break;
    case MT_P_FU_E:
        memcpy(out, "\x5c\x41\x9a\x02", 4);
        break;
    case MT_AUDIO:
        memcpy(out, "\xde\xad\xbe\xef", 4);
        break;
    }
    /* The tag sits in the last 4 bytes (inside SPS/PPS these are just trailing bytes). */
    for (int i = 0; i < 4; i++)
        out[size - 4 + (size_t)i] = (uint8_t)(tag >> (24 - 8 * i));
    return size;
}

static inline uint32_t
mt_tag(const uint8_t *pkt, size_t len)
{
    return mt_rd32(pkt + len - 4);
}

/* ---- TCP viewer receiver ------------------------------------------------------------------ */

struct mt_frame {
    uint8_t ch;
    uint16_t len;
    uint8_t *data; /* malloc'd copy of the packet */
};

struct mt_rx {
    uint8_t *buf; /* unparsed bytes */
    size_t len;
    size_t cap;
    struct mt_frame *f;
    size_t nf;
    size_t capf;
    char text[4096]; /* RTSP (non-'$') bytes seen, NUL-terminated */
    size_t ntext;
    uint64_t total; /* bytes received */
};

static inline void
mt_rx_free(struct mt_rx *rx)
{
    for (size_t i = 0; i < rx->nf; i++)
        free(rx->f[i].data);
    free(rx->f);
    free(rx->buf);
    memset(rx, 0, sizeof(*rx));
}

/* Splits rx->buf into frames; RTSP text is any run of bytes not starting with '$' and is
 * assumed to end with "\r\n\r\n" (the tests send whole messages). */
static inline void
mt_rx_parse(struct mt_rx *rx)
{
    size_t off = 0;
    while (off < rx->len) {
        uint8_t *b = rx->buf + off;
        size_t left = rx->len - off;
        if (b[0] != '$') {
            /* copy text up to the next '$' or the end */
            size_t n = 0;
            while (n < left && b[n] != '$')
                n++;
            assert_true(rx->ntext + n < sizeof(rx->text));
            memcpy(rx->text + rx->ntext, b, n);
            rx->ntext += n;
            rx->text[rx->ntext] = '\0';
            off += n;
            continue;
        }
        if (left < 4)
            break;
        size_t flen = (size_t)b[2] << 8 | b[3];
        if (left < 4 + flen)
            break;
        if (rx->nf == rx->capf) {
            rx->capf = rx->capf ? rx->capf * 2 : 256;
            rx->f = realloc(rx->f, rx->capf * sizeof(*rx->f));
            assert_non_null(rx->f);
        }
        struct mt_frame *fr = &rx->f[rx->nf++];
        fr->ch = b[1];
        fr->len = (uint16_t)flen;
        fr->data = malloc(flen ? flen : 1);
        assert_non_null(fr->data);
        memcpy(fr->data, b + 4, flen);
        off += 4 + flen;
    }
    memmove(rx->buf, rx->buf + off, rx->len - off);
    rx->len -= off;
}

/* Reads up to max bytes (0: all available) from non-blocking fd into rx and parses. Returns
 * bytes read. */
static inline size_t
mt_rx_read(struct mt_rx *rx, int fd, size_t max)
{
    size_t got = 0;
    for (;;) {
        if (rx->cap - rx->len < 65536) {
            rx->cap = rx->cap ? rx->cap * 2 : 262144;
            rx->buf = realloc(rx->buf, rx->cap);
            assert_non_null(rx->buf);
        }
        size_t want = rx->cap - rx->len;
        if (max > 0 && want > max - got)
            want = max - got;
        if (want == 0)
            break;
        ssize_t r = recv(fd, rx->buf + rx->len, want, MSG_DONTWAIT);
        if (r <= 0)
            break;
        rx->len += (size_t)r;
        rx->total += (uint64_t)r;
        got += (size_t)r;
    }
    mt_rx_parse(rx);
    return got;
}

/* ---- Loop stepping ------------------------------------------------------------------------ */

/* Runs the loop without blocking a few times (watchers that are due, kicks). */
static inline void
mt_loop_spin(struct ev_loop *loop)
{
    for (int i = 0; i < 4; i++)
        ev_run(loop, EVRUN_NOWAIT);
}

/* Runs the loop for about s seconds of real time (blocking between events). */
static inline void
mt_loop_for(struct ev_loop *loop, double s)
{
    ev_now_update(loop);
    double end = ev_now(loop) + s;
    while (ev_now(loop) < end) {
        ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
        ev_now_update(loop);
    }
}

#endif
