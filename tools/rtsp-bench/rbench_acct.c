/* SPDX-License-Identifier: MIT */
/* Per-track RTP accounting (rbench_acct.h): rtp.h does the RFC 3550 A.1 sequence tracking and
 * the A.8 jitter; this file adds the duplicate/reorder window and the key-frame timing. */
#include "rbench_acct.h"

#include <string.h>

#include "rd_err.h"

#define WORDS (RBENCH_SEQ_WINDOW / 64)

void
rbench_track_init(struct rbench_track *t, enum sdp_codec_id codec, uint32_t clock_rate)
{
    memset(t, 0, sizeof(*t));
    t->codec = codec;
    t->clock_rate = clock_rate;
    rtp_jitter_init(&t->jit);
}

static bool
seen_test(const struct rbench_track *t, uint32_t ext)
{
    uint32_t bit = ext % RBENCH_SEQ_WINDOW;
    return (t->seen[bit / 64] >> (bit % 64)) & 1u;
}

static void
seen_set(struct rbench_track *t, uint32_t ext)
{
    uint32_t bit = ext % RBENCH_SEQ_WINDOW;
    t->seen[bit / 64] |= (uint64_t)1 << (bit % 64);
}

static void
seen_clear(struct rbench_track *t, uint32_t ext)
{
    uint32_t bit = ext % RBENCH_SEQ_WINDOW;
    t->seen[bit / 64] &= ~((uint64_t)1 << (bit % 64));
}

/* Ends the current SSRC epoch: its expected and unique packets move to the priors. */
static void
epoch_fold(struct rbench_track *t, uint64_t expected)
{
    t->expected_prior += expected;
    t->unique_prior += t->unique;
    t->unique = 0;
    t->ext_valid = false;
}

/* A valid packet with extended sequence number ext: duplicate, reordered or new. Returns
 * true when it is a duplicate. */
static bool
window_account(struct rbench_track *t, uint32_t ext)
{
    if (!t->ext_valid) {
        memset(t->seen, 0, sizeof(t->seen));
        t->ext_valid = true;
        t->ext_hi = ext;
        seen_set(t, ext);
        return false;
    }
    uint32_t ahead = ext - t->ext_hi; /* modulo 2^32 */
    if (ahead != 0 && ahead < 0x80000000u) {
        /* New highest: forget the slots the window slides over. */
        if (ahead >= RBENCH_SEQ_WINDOW) {
            memset(t->seen, 0, sizeof(t->seen));
        } else {
            for (uint32_t k = 1; k <= ahead; k++)
                seen_clear(t, t->ext_hi + k);
        }
        t->ext_hi = ext;
        seen_set(t, ext);
        return false;
    }
    uint32_t behind = t->ext_hi - ext;
    if (behind >= RBENCH_SEQ_WINDOW) {
        t->late++;
        return false;
    }
    if (seen_test(t, ext)) {
        t->duplicates++;
        return true;
    }
    t->reordered++;
    seen_set(t, ext);
    return false;
}

void
rbench_track_packet(struct rbench_track *t, const uint8_t *pkt, size_t len, uint64_t now_ns)
{
    struct rtp_view v;
    if (rtp_view_parse(pkt, len, &v) != RD_OK) {
        t->malformed++;
        return;
    }
    t->packets++;
    t->bytes += len;
    if (!t->first_pkt_ns)
        t->first_pkt_ns = now_ns;

    if (!t->have_ssrc || v.ssrc != t->ssrc) {
        if (t->have_ssrc) {
            t->ssrc_changes++;
            epoch_fold(t, rtp_seq_expected(&t->seq));
        }
        t->have_ssrc = true;
        t->ssrc = v.ssrc;
        rtp_seq_init(&t->seq, v.seq);
        rtp_jitter_init(&t->jit);
    }

    uint32_t resyncs = t->seq.resyncs;
    uint64_t expected_before = rtp_seq_expected(&t->seq);
    bool valid = rtp_seq_update(&t->seq, v.seq);
    if (t->seq.resyncs != resyncs) {
        /* The sender restarted its sequence: the old epoch ends before this packet. */
        t->resyncs++;
        epoch_fold(t, expected_before);
        rtp_jitter_init(&t->jit);
    }
    if (valid) {
        /* Extended number of this packet: the highest minus how far behind it is. */
        uint32_t ext = rtp_seq_extended_max(&t->seq) - (uint16_t)(t->seq.max_seq - v.seq);
        if (!window_account(t, ext))
            t->unique++;
    }

    if (t->clock_rate) {
        (void)rtp_jitter_update(&t->jit, now_ns / 1000u, v.timestamp, t->clock_rate);
        uint32_t j = rtp_jitter_value(&t->jit);
        if (j > t->jitter_max)
            t->jitter_max = j;
    }

    if (!t->first_key_ns && (t->codec == SDP_CODEC_H264 || t->codec == SDP_CODEC_H265)) {
        enum rtp_h26x_codec c = t->codec == SDP_CODEC_H264 ? RTP_H26X_H264 : RTP_H26X_H265;
        if (rtp_h26x_is_key_start(c, v.payload, v.payload_len))
            t->first_key_ns = now_ns;
    }
}

uint64_t
rbench_track_expected(const struct rbench_track *t)
{
    return t->expected_prior + (t->have_ssrc ? rtp_seq_expected(&t->seq) : 0);
}

uint64_t
rbench_track_lost(const struct rbench_track *t)
{
    uint64_t expected = rbench_track_expected(t);
    uint64_t got = t->unique_prior + t->unique;
    return expected > got ? expected - got : 0;
}

double
rbench_track_jitter_ms(const struct rbench_track *t)
{
    if (!t->clock_rate)
        return 0.0;
    return (double)rtp_jitter_value(&t->jit) * 1000.0 / (double)t->clock_rate;
}

double
rbench_track_jitter_max_ms(const struct rbench_track *t)
{
    if (!t->clock_rate)
        return 0.0;
    return (double)t->jitter_max * 1000.0 / (double)t->clock_rate;
}
