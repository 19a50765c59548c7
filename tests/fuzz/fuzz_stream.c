/* SPDX-License-Identifier: MIT */
/* Fuzzes the relay media plane with hostile camera input: stream.c (RTP validation, H.26x
 * classification, the instant-start cache, continuity rewriting, RTCP filtering and in-place
 * compaction) and fanout.c (gates, queue policy, TCP writes to two viewers on socketpairs).
 *
 * Input: byte 0 picks the track codecs; then records [op][track][len hi][len lo][len bytes]:
 *   op & 7: 0-3 an RTP packet, 4 an RTCP compound, 5 upstream restart, 6 subscribe or
 *   unsubscribe a viewer track, 7 flush, run the loop once and drain the viewers;
 *   op >> 3: milliseconds added to the arrival clock.
 * Invariants abort: forwarded RTP still parses and carries the track's viewer SSRC; forwarded
 * RTCP passes rtcp_compound_check and starts with an SR of that SSRC; caches and queues stay
 * within their caps; every packet reference returns to the pool. */
#define _POSIX_C_SOURCE 200809L
#include <ev.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fanout.h"
#include "pktpool.h"
#include "rd_err.h"
#include "rtp.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

#define NVIEW  2
#define NTRACK 2

static struct ev_loop *loop;
static struct pktpool pool;
static struct fanout *fo;

static void
on_dead(struct fanout_viewer *v, enum fanout_dead why, void *arg)
{
    (void)why;
    bool *dead = arg;
    *dead = true;
    (void)v;
}

static void
init_once(void)
{
    if (loop != NULL)
        return;
    loop = ev_loop_new(EVFLAG_AUTO);
    struct pktpool_cfg pc = {{256, 16, 4}}; /* small: exhaustion is reached */
    CHECK(pktpool_init(&pool, &pc) == RD_OK);
    struct fanout_cfg fc;
    fanout_cfg_default(&fc);
    fc.queue.max_packets = 64;
    fc.queue.max_bytes = 32 * 1024;
    fc.udp_gso = false;
    CHECK(fanout_new(loop, &pool, &fc, &fo) == RD_OK);
}

static void
drain(int fd)
{
    char buf[65536];
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size < 1)
        return 0;
    static const enum stream_codec codecs[4] = {STREAM_CODEC_H264, STREAM_CODEC_H265,
                                                STREAM_CODEC_OTHER, STREAM_CODEC_H264};
    struct stream_track_cfg tc[NTRACK] = {{codecs[data[0] & 3], 90000},
                                          {codecs[(data[0] >> 2) & 3], 8000}};
    struct stream_limits lim;
    stream_limits_default(&lim);
    lim.cache_max_packets = 32;
    lim.cache_max_bytes = 16 * 1024;
    lim.key_fallback_s = 0.5;
    struct stream *s;
    CHECK(stream_new(tc, NTRACK, &lim, &s) == RD_OK);

    int sv[NVIEW][2];
    struct fanout_viewer *v[NVIEW];
    struct fanout_sub *sub[NVIEW][NTRACK];
    bool dead[NVIEW] = {false, false};
    for (int i = 0; i < NVIEW; i++) {
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) == 0);
        for (int k = 0; k < 2; k++)
            CHECK(fcntl(sv[i][k], F_SETFL, O_NONBLOCK) == 0);
        v[i] = fanout_viewer_new_tcp(fo, sv[i][0], on_dead, &dead[i]);
        CHECK(v[i] != NULL);
        for (int t = 0; t < NTRACK; t++)
            CHECK(fanout_sub_new_tcp(v[i], (uint8_t)(2 * t), (uint8_t)(2 * t + 1), &sub[i][t])
                  == RD_OK);
    }

    double now = 1000.0;
    size_t off = 1;
    while (off + 4 <= size) {
        uint8_t op = data[off];
        unsigned track = data[off + 1] % (NTRACK + 1); /* one index past the end too */
        size_t len = (size_t)data[off + 2] << 8 | data[off + 3];
        off += 4;
        if (len > size - off)
            len = size - off;
        const uint8_t *body = data + off;
        off += len;
        now += (op >> 3) / 1000.0;
        switch (op & 7) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4: {
            struct pkt *p = pktpool_alloc(&pool, len > 0 ? len : 1);
            if (p == NULL)
                break; /* pool exhausted: the puller drops and counts */
            memcpy(p->data, body, len);
            p->len = (uint32_t)len;
            p->arrival_at = now;
            pkt_ref(p);
            struct stream_track_stats before, after;
            bool ok_track = track < NTRACK;
            if (ok_track)
                CHECK(stream_track_stats(s, track, &before) == RD_OK);
            struct stream_rtp_info info;
            if ((op & 7) == 4) {
                int rc = stream_on_rtcp(s, track, p);
                if (ok_track) {
                    CHECK(stream_track_stats(s, track, &after) == RD_OK);
                    if (after.rtcp_fwd > before.rtcp_fwd) {
                        CHECK(rc == RD_OK);
                        CHECK(rtcp_compound_check(p->data, p->len) > 0);
                        CHECK(p->data[1] == RTCP_SR);
                        CHECK(stream_rtp_info(s, track, now, &info) == RD_OK);
                        CHECK(((uint32_t)p->data[4] << 24 | (uint32_t)p->data[5] << 16
                               | (uint32_t)p->data[6] << 8 | p->data[7])
                              == info.ssrc);
                    }
                } else {
                    CHECK(rc == RD_EPROTO);
                }
            } else {
                int rc = stream_on_rtp(s, track, p);
                if (rc == RD_OK) {
                    CHECK(ok_track);
                    struct rtp_view rv;
                    CHECK(rtp_view_parse(p->data, p->len, &rv) == RD_OK);
                    CHECK(stream_rtp_info(s, track, now, &info) == RD_OK);
                    CHECK(rv.ssrc == info.ssrc && rv.seq == p->seq && rv.timestamp == p->ts);
                }
            }
            pkt_unref(p);
            if (ok_track) {
                CHECK(stream_track_stats(s, track, &after) == RD_OK);
                CHECK(after.cache_pkts <= lim.cache_max_packets);
                CHECK(after.cache_bytes <= lim.cache_max_bytes);
            }
            break;
        }
        case 5:
            stream_upstream_restart(s);
            break;
        case 6: {
            int i = (op >> 3) % NVIEW;
            if (dead[i] || track >= NTRACK)
                break;
            if (fanout_sub_attached(sub[i][track])) {
                stream_unsubscribe(sub[i][track]);
            } else {
                struct stream_rtp_info info;
                CHECK(stream_rtp_info(s, track, now, &info) == RD_OK);
                CHECK(stream_subscribe(s, track, sub[i][track]) == RD_OK);
            }
            break;
        }
        default:
            fanout_flush(fo);
            ev_run(loop, EVRUN_NOWAIT);
            for (int i = 0; i < NVIEW; i++)
                drain(sv[i][1]);
            break;
        }
        for (int i = 0; i < NVIEW; i++) {
            struct fanout_viewer_stats vs;
            fanout_viewer_stats(v[i], &vs);
            CHECK(vs.queue_pkts <= 64 + 2 * RD_STREAM_CACHE_MAX_PACKETS + 64);
        }
    }
    fanout_flush(fo);
    stream_free(s);
    for (int i = 0; i < NVIEW; i++) {
        fanout_viewer_free(v[i]);
        close(sv[i][0]);
        close(sv[i][1]);
    }
    CHECK(pktpool_in_use(&pool) == 0);
    return 0;
}
