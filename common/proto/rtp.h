/* SPDX-License-Identifier: MIT */
/* RTP and RTCP header views and validation (RFC 3550), sequence tracking and interarrival
 * jitter (RFC 3550 Appendix A.1, A.3, A.8), the relay's own receiver reports, and in-place
 * rewriting of seq/timestamp/SSRC. Never allocates; views point into the caller's buffer. */
#ifndef RD_PROTO_RTP_H
#define RD_PROTO_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_str.h"

#define RTP_VERSION        2
#define RTP_HEADER_LEN     12  /* fixed header, RFC 3550 §5.1 */
#define RTP_MAX_CSRC       15  /* the 4-bit CC field */
#define RTCP_HEADER_LEN    4   /* V P RC PT length, RFC 3550 §6.4.1 */
#define RTCP_REPORT_LEN    24  /* one report block, RFC 3550 §6.4.1 */
#define RTCP_MAX_REPORTS   31  /* the 5-bit RC field */
#define RTCP_SDES_MAX_TEXT 255 /* an SDES item's 8-bit length, RFC 3550 §6.5 */

/* RTCP packet types (RFC 3550 §12.1). Others (RTPFB 205, PSFB 206, XR 207, ...) are passed
 * through by the iterator unchanged. */
enum rtcp_type {
    RTCP_SR = 200,
    RTCP_RR = 201,
    RTCP_SDES = 202,
    RTCP_BYE = 203,
    RTCP_APP = 204,
};

/* Sequence-tracking constants of RFC 3550 Appendix A.1. They are the RFC's tolerances, not
 * project caps: a forward jump of MAX_DROPOUT or more, or a backward one of more than
 * MAX_MISORDER, makes the packet invalid until two sequential packets re-sync the source;
 * MIN_SEQUENTIAL sequential packets end a new source's probation. */
#define RTP_SEQ_MOD            65536u
#define RTP_SEQ_MAX_DROPOUT    3000u
#define RTP_SEQ_MAX_MISORDER   100u
#define RTP_SEQ_MIN_SEQUENTIAL 2u

/* ---- RTP (RFC 3550 §5.1, §5.3.1) ------------------------------------------------------ */

/* A validated RTP packet. Every pointer points into the parsed buffer and lives as long
 * as it; offsets are from the start of the packet. */
struct rtp_view {
    bool marker;
    uint8_t payload_type; /* 0..127 */
    uint16_t seq;
    uint32_t timestamp; /* in the payload format's clock */
    uint32_t ssrc;
    uint8_t csrc_count;   /* 0..15 */
    const uint8_t *csrc;  /* csrc_count big-endian 32-bit words; NULL when 0 */
    bool has_extension;   /* X bit */
    uint16_t ext_profile; /* "defined by profile" word (0xBEDE: RFC 8285 one-byte form) */
    const uint8_t *ext;   /* extension data after the 4-byte extension header */
    size_t ext_len;       /* bytes, a multiple of 4 (the length word times 4) */
    uint8_t padding_len;  /* trailing padding bytes including the count byte; 0 if no P */
    size_t payload_off;   /* payload = pkt + payload_off */
    size_t payload_len;   /* padding excluded; may be 0 */
    const uint8_t *payload;
};

/* Parses and validates the RTP packet pkt[0..len) (RFC 3550 §5.1, checks of Appendix A.1):
 * version 2; len >= 12 + 4*CC; with X, the 4-byte extension header and its length words
 * fit; with P, the last byte (the padding count) is > 0 and <= the bytes after the
 * headers. Fills *v with views into pkt. Returns RD_OK, RD_EPROTO when malformed (then *v
 * is unspecified) or RD_ELIMIT when len > RD_RTP_MAX_PACKET. Reads nothing outside
 * pkt[0..len). The payload type is not checked against the SDP here. */
int rtp_view_parse(const uint8_t *pkt, size_t len, struct rtp_view *v);

/* In-place rewrites of the fixed header, used to keep a viewer-facing stream continuous when
 * the camera reconnects (new SSRC/seq/timestamp base: the relay adds offsets). Each needs
 * len >= RTP_HEADER_LEN and returns RD_OK or RD_EPROTO (nothing written). */
int rtp_set_seq(uint8_t *pkt, size_t len, uint16_t seq);
int rtp_set_timestamp(uint8_t *pkt, size_t len, uint32_t timestamp);
int rtp_set_ssrc(uint8_t *pkt, size_t len, uint32_t ssrc);

/* ---- Sequence tracking (RFC 3550 Appendix A.1, A.3) ----------------------------------- */

/* Per-source state, the fields of A.1's struct source. Plain data: copy freely. */
struct rtp_seq {
    uint16_t max_seq;        /* highest seq seen */
    uint32_t cycles;         /* shifted count of seq number cycles (multiples of 65536) */
    uint32_t base_seq;       /* base seq number */
    uint32_t bad_seq;        /* last 'bad' seq number + 1; 65537 when none */
    uint32_t probation;      /* sequential packets still needed before the source is valid */
    uint32_t received;       /* valid packets received */
    uint32_t expected_prior; /* expected at the last rtp_seq_fill_report() */
    uint32_t received_prior; /* received at the last rtp_seq_fill_report() */
    uint32_t resyncs;        /* re-syncs after a big jump (the sender restarted) */
};

/* Starts tracking a new source whose first packet has sequence number seq: A.1's
 * init_seq() followed by "max_seq = seq - 1; probation = MIN_SEQUENTIAL", so that the
 * first packet is then passed to rtp_seq_update() like any other. */
void rtp_seq_init(struct rtp_seq *s, uint16_t seq);

/* A.1 update_seq(): returns true when the packet is valid (counted in received), false
 * while the source is on probation or after a jump of MAX_DROPOUT or more that has not
 * been confirmed by a second sequential packet (on confirmation the state re-syncs to it,
 * counts resyncs, and the packet is valid). Duplicates and packets reordered by up to
 * MAX_MISORDER are valid and counted, as in A.1. Note: with MIN_SEQUENTIAL 2 the very first
 * packet of a source is on probation; validity is for statistics and resync decisions,
 * and a relay should not drop media because of it. */
bool rtp_seq_update(struct rtp_seq *s, uint16_t seq);

/* A.3 values: extended highest sequence number, packets expected since base_seq, and
 * cumulative lost (expected - received, may be negative with duplicates). All 0 while
 * the source is on probation. */
uint32_t rtp_seq_extended_max(const struct rtp_seq *s);
uint32_t rtp_seq_expected(const struct rtp_seq *s);
int64_t rtp_seq_lost(const struct rtp_seq *s);

struct rtcp_report_block;

/* Fills the loss fields of a report block from *s per A.3: fraction_lost over the interval
 * since the previous call (0 when nothing was expected or nothing was lost: the division is
 * guarded), cumulative_lost clamped to the 24-bit signed field, ext_highest_seq. Updates the
 * interval priors in *s. Leaves b->ssrc, jitter, lsr and dlsr to the caller. */
void rtp_seq_fill_report(struct rtp_seq *s, struct rtcp_report_block *b);

/* ---- Interarrival jitter (RFC 3550 §6.4.1, Appendix A.8) ------------------------------ */

struct rtp_jitter {
    uint32_t transit;   /* previous arrival - timestamp, in timestamp units */
    uint64_t jitter_q4; /* jitter * 16 (A.8's integer form) */
    bool primed;        /* a previous transit exists */
};

/* Zeroes *j (also use it when the source re-syncs or changes SSRC). */
void rtp_jitter_init(struct rtp_jitter *j);

/* Updates *j for a packet with RTP timestamp ts arriving at arrival_us (any monotonic
 * microsecond clock) in a payload format clocked at clock_rate Hz. A clock rate of 0 (a
 * broken or hostile SDP) returns RD_EPROTO and leaves *j unchanged; otherwise RD_OK. The
 * first packet only primes the state. */
int rtp_jitter_update(struct rtp_jitter *j, uint64_t arrival_us, uint32_t ts, uint32_t clock_rate);

/* Current jitter estimate in timestamp units, as sent in a report block. */
uint32_t rtp_jitter_value(const struct rtp_jitter *j);

/* ---- RTCP (RFC 3550 §6) ---------------------------------------------------------------- */

/* One packet of a compound RTCP packet. p points into the compound buffer. */
struct rtcp_pkt {
    uint8_t type;        /* PT: RTCP_SR, RTCP_RR, ... or anything else, passed through */
    uint8_t count;       /* the 5-bit RC/SC/subtype field */
    uint8_t padding_len; /* padding bytes at the end of p (count byte included); 0 if no P */
    size_t off;          /* offset of the packet in the compound buffer */
    size_t len;          /* whole packet: 4 * (length word + 1), header and padding included */
    const uint8_t *p;    /* = buf + off */
};

/* Iterator over a compound RTCP packet; initialise with rtcp_compound_init(). */
struct rtcp_iter {
    const uint8_t *buf;
    size_t len;
    size_t off; /* next packet */
};

/* Starts iterating over buf[0..len). Borrows buf for the iterator's lifetime. */
void rtcp_compound_init(struct rtcp_iter *it, const uint8_t *buf, size_t len);

/* Returns 1 and fills *pkt with the next packet, 0 at the end of the buffer, or RD_EPROTO
 * when the rest of the buffer is not a valid RTCP packet (RFC 3550 §6.1, A.2): version not
 * 2, fewer than 4 bytes left, a length word that runs past the buffer, the P bit on a packet
 * that is not the last one, or a padding count of 0 or larger than the packet body. After
 * an error, further calls keep returning RD_EPROTO. Packet order and bodies are not
 * checked here (see rtcp_compound_check). */
int rtcp_compound_next(struct rtcp_iter *it, struct rtcp_pkt *pkt);

/* Full validity check of the compound RTCP packet buf[0..len) before it is forwarded to
 * viewers (RFC 3550 §6.1 and A.2): every packet passes rtcp_compound_next(); the first is an
 * SR or RR; SR/RR bodies hold their report blocks; SDES chunks and items fit and each chunk
 * ends with a null item padded to a 32-bit boundary (§6.5); BYE's SSRC list and reason fit
 * (§6.6); APP holds SSRC and name (§6.7). Strict on purpose, since viewers' players parse
 * what we forward: reduced-size RTCP (RFC 5506, no leading report) and bytes after the last
 * SDES chunk are rejected. Other packet types (RTPFB, PSFB, XR, ...) are only length-checked.
 * Returns the number of packets (> 0), or RD_EPROTO (an empty buffer included). */
int rtcp_compound_check(const uint8_t *buf, size_t len);

/* Report blocks (RFC 3550 §6.4.1) as a view: n blocks of RTCP_REPORT_LEN bytes at p. */
struct rtcp_reports {
    const uint8_t *p;
    uint8_t n;
};

struct rtcp_report_block {
    uint32_t ssrc;            /* source this block reports on */
    uint8_t fraction_lost;    /* 8-bit fixed point, lost/expected since the last report */
    int32_t cumulative_lost;  /* 24-bit signed on the wire: -0x800000..0x7fffff */
    uint32_t ext_highest_seq; /* cycles << 16 | highest seq */
    uint32_t jitter;          /* timestamp units */
    uint32_t lsr;             /* middle 32 bits of the last SR's NTP timestamp, 0 if none */
    uint32_t dlsr;            /* delay since that SR, in 1/65536 s */
};

/* Sender report fields (RFC 3550 §6.4.1). */
struct rtcp_sr {
    uint32_t ssrc;         /* sender */
    uint64_t ntp;          /* NTP timestamp, 32.32 fixed point */
    uint32_t rtp_ts;       /* the same instant in the RTP clock */
    uint32_t packet_count; /* sender's packet count */
    uint32_t octet_count;  /* sender's payload octet count */
    struct rtcp_reports reports;
};

/* Receiver report fields (RFC 3550 §6.4.2). */
struct rtcp_rr {
    uint32_t ssrc; /* the reporter */
    struct rtcp_reports reports;
};

/* Parse an SR / RR from a packet given by rtcp_compound_next(). Check the type, that the
 * body (padding excluded) holds the fixed part and count report blocks; profile-specific
 * extensions after the blocks are allowed and ignored. Return RD_OK or RD_EPROTO. Views
 * point into the compound buffer. */
int rtcp_sr_parse(const struct rtcp_pkt *pkt, struct rtcp_sr *sr);
int rtcp_rr_parse(const struct rtcp_pkt *pkt, struct rtcp_rr *rr);

/* Decodes block i of r into *b. Returns RD_OK, or RD_EPROTO when i >= r->n. */
int rtcp_report_block_get(const struct rtcp_reports *r, unsigned i, struct rtcp_report_block *b);

/* The middle 32 bits of an NTP timestamp, the LSR value of a report block (§6.4.1). */
static inline uint32_t
rtcp_ntp_mid32(uint64_t ntp)
{
    return (uint32_t)(ntp >> 16);
}

/* Builds the relay's own receiver report into out[cap]: an RR (§6.4.2) from ssrc with the
 * n blocks, then, unless cname.len is 0, an SDES packet (§6.5) with one chunk holding the
 * CNAME item, null-terminated and padded to a 32-bit boundary. cumulative_lost values
 * outside the 24-bit range are clamped. Returns the bytes written (a multiple of 4), or
 * RD_ELIMIT when n > RTCP_MAX_REPORTS, cname.len > RTCP_SDES_MAX_TEXT, or the packet does
 * not fit in cap (then nothing useful is in out). Borrows blocks and cname. */
int rtcp_build_rr(uint8_t *out, size_t cap, uint32_t ssrc, const struct rtcp_report_block *blocks,
                  unsigned n, struct rd_str cname);

/* In-place rewrite of an SR (pkt, len: a packet given by rtcp_compound_next(), i.e.
 * buf + pkt.off, pkt.len) so it matches a rewritten RTP stream: sets the sender SSRC and
 * the RTP timestamp. Returns RD_OK, or RD_EPROTO if this is not an SR of at least 28
 * bytes. */
int rtcp_sr_rewrite(uint8_t *pkt, size_t len, uint32_t ssrc, uint32_t rtp_ts);

#endif
