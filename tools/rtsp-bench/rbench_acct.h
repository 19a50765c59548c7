/* SPDX-License-Identifier: MIT */
/* Per-track RTP accounting of one viewer session: packets and bytes, loss by RFC 3550 A.1/A.3
 * sequence tracking (rtp.h), duplicates and reordering within a window, RFC 3550 interarrival
 * jitter (A.8), SSRC changes, and the arrival of the first packet and of the first key-frame
 * start (rtp_h26x.h). Pure code: the caller passes the arrival time. Never allocates. */
#ifndef RD_TOOLS_RBENCH_ACCT_H
#define RD_TOOLS_RBENCH_ACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rbench_limits.h"
#include "rtp.h"
#include "rtp_h26x.h"
#include "sdp.h"

struct rbench_track {
    /* set by rbench_track_init() */
    enum sdp_codec_id codec; /* H.264 / H.265: key frames are looked for */
    uint32_t clock_rate;     /* Hz; 0: no jitter (a broken SDP) */
    /* sequence state of the current SSRC */
    bool have_ssrc;
    uint32_t ssrc;
    struct rtp_seq seq;
    struct rtp_jitter jit;
    bool ext_valid;                        /* ext_hi and seen[] hold a valid window */
    uint32_t ext_hi;                       /* highest extended sequence number accepted */
    uint64_t seen[RBENCH_SEQ_WINDOW / 64]; /* bit (ext % WINDOW): arrived */
    uint64_t unique;                       /* valid, non-duplicate packets of this SSRC epoch */
    uint64_t expected_prior, unique_prior; /* of earlier epochs (SSRC changes, re-syncs) */
    /* counters */
    uint64_t packets;      /* RTP packets that parsed (rtp_view_parse) */
    uint64_t bytes;        /* their whole length, RTP header included */
    uint64_t malformed;    /* datagrams / frames that are not RTP */
    uint64_t duplicates;   /* a sequence number already received within the window */
    uint64_t reordered;    /* arrived after a higher sequence number, not a duplicate */
    uint64_t late;         /* older than the window: counted as received, may hide a dup */
    uint64_t ssrc_changes; /* the SSRC changed (the relay should never do that) */
    uint64_t resyncs;      /* A.1 re-syncs after a jump of RTP_SEQ_MAX_DROPOUT or more */
    uint32_t jitter_max;   /* highest jitter estimate seen, timestamp units */
    uint64_t first_pkt_ns; /* arrival of the first RTP packet; 0: none yet */
    uint64_t first_key_ns; /* arrival of the first key-frame start (H.264/H.265); 0: none */
};

/* Prepares t for a track of the given codec and clock rate (from the SDP). */
void rbench_track_init(struct rbench_track *t, enum sdp_codec_id codec, uint32_t clock_rate);

/* Accounts one RTP packet pkt[0..len) that arrived at now_ns (a monotonic clock, > 0).
 * A packet that does not parse is counted in malformed only. Reads only pkt[0..len). */
void rbench_track_packet(struct rbench_track *t, const uint8_t *pkt, size_t len, uint64_t now_ns);

/* Packets expected (RFC 3550 A.3: highest extended seq - base + 1, summed over SSRC epochs)
 * and lost (expected minus unique packets received; never negative: duplicates are not
 * counted as received). The first packet of each epoch (A.1 probation) is in neither. */
uint64_t rbench_track_expected(const struct rbench_track *t);
uint64_t rbench_track_lost(const struct rbench_track *t);

/* The current RFC 3550 jitter estimate, and the highest seen, in milliseconds (0 without a
 * clock rate). */
double rbench_track_jitter_ms(const struct rbench_track *t);
double rbench_track_jitter_max_ms(const struct rbench_track *t);

#endif
