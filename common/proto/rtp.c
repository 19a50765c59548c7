/* SPDX-License-Identifier: MIT */
/* RTP/RTCP header validation, RFC 3550 Appendix A sequence and jitter statistics, receiver
 * report building and header rewriting. Every length is checked before the read it guards. */
#include "rtp.h"

#include <string.h>

#include "rd_err.h"
#include "rd_limits.h"

static uint16_t
rd16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- RTP ------------------------------------------------------------------------------- */

int
rtp_view_parse(const uint8_t *pkt, size_t len, struct rtp_view *v)
{
    if (len > RD_RTP_MAX_PACKET)
        return RD_ELIMIT;
    /* RFC 3550 §5.1: the fixed header. */
    if (len < RTP_HEADER_LEN || pkt[0] >> 6 != RTP_VERSION)
        return RD_EPROTO;
    bool padding = (pkt[0] & 0x20) != 0;
    v->has_extension = (pkt[0] & 0x10) != 0;
    v->csrc_count = pkt[0] & 0x0f;
    v->marker = (pkt[1] & 0x80) != 0;
    v->payload_type = pkt[1] & 0x7f;
    v->seq = rd16(pkt + 2);
    v->timestamp = rd32(pkt + 4);
    v->ssrc = rd32(pkt + 8);

    size_t off = RTP_HEADER_LEN + 4u * v->csrc_count;
    if (off > len)
        return RD_EPROTO;
    v->csrc = v->csrc_count > 0 ? pkt + RTP_HEADER_LEN : NULL;

    /* RFC 3550 §5.3.1: profile word, length in 32-bit words, then the data. */
    v->ext_profile = 0;
    v->ext = NULL;
    v->ext_len = 0;
    if (v->has_extension) {
        if (len - off < 4)
            return RD_EPROTO;
        v->ext_profile = rd16(pkt + off);
        size_t ext_len = 4u * rd16(pkt + off + 2);
        off += 4;
        if (ext_len > len - off)
            return RD_EPROTO;
        v->ext = pkt + off;
        v->ext_len = ext_len;
        off += ext_len;
    }

    /* RFC 3550 §5.1 (P): the last octet counts the padding octets, itself included; A.1
     * rejects a count larger than what follows the headers. */
    v->padding_len = 0;
    if (padding) {
        uint8_t pad = pkt[len - 1];
        if (pad == 0 || pad > len - off)
            return RD_EPROTO;
        v->padding_len = pad;
    }
    v->payload_off = off;
    v->payload_len = len - off - v->padding_len;
    v->payload = pkt + off;
    return RD_OK;
}

int
rtp_set_seq(uint8_t *pkt, size_t len, uint16_t seq)
{
    if (len < RTP_HEADER_LEN)
        return RD_EPROTO;
    wr16(pkt + 2, seq);
    return RD_OK;
}

int
rtp_set_timestamp(uint8_t *pkt, size_t len, uint32_t timestamp)
{
    if (len < RTP_HEADER_LEN)
        return RD_EPROTO;
    wr32(pkt + 4, timestamp);
    return RD_OK;
}

int
rtp_set_ssrc(uint8_t *pkt, size_t len, uint32_t ssrc)
{
    if (len < RTP_HEADER_LEN)
        return RD_EPROTO;
    wr32(pkt + 8, ssrc);
    return RD_OK;
}

/* ---- Sequence tracking: RFC 3550 Appendix A.1 ------------------------------------------ */

/* A.1 init_seq(). */
static void
seq_reset(struct rtp_seq *s, uint16_t seq)
{
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = RTP_SEQ_MOD + 1; /* so seq == bad_seq is false */
    s->cycles = 0;
    s->received = 0;
    s->received_prior = 0;
    s->expected_prior = 0;
}

void
rtp_seq_init(struct rtp_seq *s, uint16_t seq)
{
    seq_reset(s, seq);
    s->max_seq = (uint16_t)(seq - 1);
    s->probation = RTP_SEQ_MIN_SEQUENTIAL;
    s->resyncs = 0;
}

bool
rtp_seq_update(struct rtp_seq *s, uint16_t seq)
{
    uint16_t udelta = (uint16_t)(seq - s->max_seq);

    if (s->probation > 0) {
        /* The A.1 listing compares seq == s->max_seq + 1 in int, which never holds when
         * max_seq is 65535; compare modulo 2^16 so probation survives a wrap. */
        if (seq == (uint16_t)(s->max_seq + 1)) {
            s->probation--;
            s->max_seq = seq;
            if (s->probation == 0) {
                seq_reset(s, seq);
                s->received++;
                return true;
            }
        } else {
            s->probation = RTP_SEQ_MIN_SEQUENTIAL - 1;
            s->max_seq = seq;
        }
        return false;
    }
    if (udelta < RTP_SEQ_MAX_DROPOUT) {
        /* In order, with a permissible gap. */
        if (seq < s->max_seq)
            s->cycles += RTP_SEQ_MOD; /* wrapped: count another 64K cycle */
        s->max_seq = seq;
    } else if (udelta <= RTP_SEQ_MOD - RTP_SEQ_MAX_MISORDER) {
        /* A very large jump. */
        if (seq == s->bad_seq) {
            /* Two sequential packets: the sender restarted without telling us, re-sync
             * (pretend this was the first packet). */
            seq_reset(s, seq);
            s->resyncs++;
        } else {
            s->bad_seq = (seq + 1u) & (RTP_SEQ_MOD - 1);
            return false;
        }
    } else {
        /* Duplicate or reordered packet. */
    }
    s->received++;
    return true;
}

uint32_t
rtp_seq_extended_max(const struct rtp_seq *s)
{
    if (s->probation > 0)
        return 0;
    return s->cycles + s->max_seq;
}

uint32_t
rtp_seq_expected(const struct rtp_seq *s)
{
    if (s->probation > 0)
        return 0;
    /* A.3: extended_max - base_seq + 1, modulo 2^32 like the RFC's unsigned arithmetic. */
    return rtp_seq_extended_max(s) - s->base_seq + 1u;
}

int64_t
rtp_seq_lost(const struct rtp_seq *s)
{
    if (s->probation > 0)
        return 0;
    return (int64_t)rtp_seq_expected(s) - (int64_t)s->received;
}

void
rtp_seq_fill_report(struct rtp_seq *s, struct rtcp_report_block *b)
{
    /* RFC 3550 A.3. */
    uint32_t expected = rtp_seq_expected(s);
    int64_t lost = rtp_seq_lost(s);
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    else if (lost < -0x800000)
        lost = -0x800000;
    b->cumulative_lost = (int32_t)lost;
    b->ext_highest_seq = rtp_seq_extended_max(s);

    uint32_t expected_interval = expected - s->expected_prior;
    s->expected_prior = expected;
    uint32_t received_interval = s->received - s->received_prior;
    s->received_prior = s->received;
    int64_t lost_interval = (int64_t)expected_interval - (int64_t)received_interval;
    if (expected_interval == 0 || lost_interval <= 0)
        b->fraction_lost = 0;
    else {
        /* lost_interval <= expected_interval, so this is at most 256: clamp to the field. */
        uint64_t f = ((uint64_t)lost_interval << 8) / expected_interval;
        b->fraction_lost = f > 255 ? 255 : (uint8_t)f;
    }
}

/* ---- Jitter: RFC 3550 §6.4.1, Appendix A.8 --------------------------------------------- */

void
rtp_jitter_init(struct rtp_jitter *j)
{
    j->transit = 0;
    j->jitter_q4 = 0;
    j->primed = false;
}

int
rtp_jitter_update(struct rtp_jitter *j, uint64_t arrival_us, uint32_t ts, uint32_t clock_rate)
{
    if (clock_rate == 0)
        return RD_EPROTO;
    /* Arrival in timestamp units, modulo 2^32 (only differences matter). Split into whole
     * seconds and the rest so the rest's product cannot overflow; the seconds' product may
     * wrap modulo 2^64, which keeps it right modulo 2^32. */
    uint64_t sec = arrival_us / 1000000u;
    uint64_t rest_us = arrival_us % 1000000u;
    uint32_t arrival = (uint32_t)(sec * clock_rate + rest_us * clock_rate / 1000000u);
    uint32_t transit = arrival - ts;
    if (!j->primed) {
        j->transit = transit;
        j->primed = true;
        return RD_OK;
    }
    uint32_t diff = transit - j->transit;
    j->transit = transit;
    /* |D(i-1,i)|, the difference read as a signed 32-bit quantity. */
    uint64_t d = diff <= 0x7fffffffu ? diff : (uint64_t)(0u - diff);
    /* A.8: J += (|D| - J) / 16, kept as J * 16 in integers. jitter_q4 stays below 16 * 2^31. */
    j->jitter_q4 = j->jitter_q4 + d - ((j->jitter_q4 + 8) >> 4);
    return RD_OK;
}

uint32_t
rtp_jitter_value(const struct rtp_jitter *j)
{
    uint64_t v = j->jitter_q4 >> 4;
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* ---- RTCP ------------------------------------------------------------------------------ */

void
rtcp_compound_init(struct rtcp_iter *it, const uint8_t *buf, size_t len)
{
    it->buf = buf;
    it->len = len;
    it->off = 0;
}

int
rtcp_compound_next(struct rtcp_iter *it, struct rtcp_pkt *pkt)
{
    if (it->off > it->len)
        return RD_EPROTO; /* sticky error, see below */
    if (it->off == it->len)
        return 0;
    size_t left = it->len - it->off;
    const uint8_t *p = it->buf + it->off;
    /* RFC 3550 §6.4.1 common header; A.2 validity checks. */
    if (left < RTCP_HEADER_LEN || p[0] >> 6 != RTP_VERSION)
        goto bad;
    size_t plen = 4u * ((size_t)rd16(p + 2) + 1u);
    if (plen > left)
        goto bad;
    pkt->padding_len = 0;
    if (p[0] & 0x20) {
        /* §6.1: only the last packet of a compound may be padded. */
        if (plen != left)
            goto bad;
        uint8_t pad = p[plen - 1];
        if (pad == 0 || pad > plen - RTCP_HEADER_LEN)
            goto bad;
        pkt->padding_len = pad;
    }
    pkt->type = p[1];
    pkt->count = p[0] & 0x1f;
    pkt->off = it->off;
    pkt->len = plen;
    pkt->p = p;
    it->off += plen;
    return 1;
bad:
    it->off = it->len + 1;
    return RD_EPROTO;
}

/* Body of a packet without its header and padding. */
static size_t
rtcp_body_len(const struct rtcp_pkt *pkt)
{
    return pkt->len - RTCP_HEADER_LEN - pkt->padding_len;
}

int
rtcp_sr_parse(const struct rtcp_pkt *pkt, struct rtcp_sr *sr)
{
    /* §6.4.1: SSRC, NTP (8), RTP ts, packet count, octet count = 24 bytes, then blocks. */
    if (pkt->type != RTCP_SR || rtcp_body_len(pkt) < 24u + (size_t)RTCP_REPORT_LEN * pkt->count)
        return RD_EPROTO;
    const uint8_t *p = pkt->p + RTCP_HEADER_LEN;
    sr->ssrc = rd32(p);
    sr->ntp = (uint64_t)rd32(p + 4) << 32 | rd32(p + 8);
    sr->rtp_ts = rd32(p + 12);
    sr->packet_count = rd32(p + 16);
    sr->octet_count = rd32(p + 20);
    sr->reports.p = p + 24;
    sr->reports.n = pkt->count;
    return RD_OK;
}

int
rtcp_rr_parse(const struct rtcp_pkt *pkt, struct rtcp_rr *rr)
{
    /* §6.4.2: SSRC of the reporter, then blocks. */
    if (pkt->type != RTCP_RR || rtcp_body_len(pkt) < 4u + (size_t)RTCP_REPORT_LEN * pkt->count)
        return RD_EPROTO;
    const uint8_t *p = pkt->p + RTCP_HEADER_LEN;
    rr->ssrc = rd32(p);
    rr->reports.p = p + 4;
    rr->reports.n = pkt->count;
    return RD_OK;
}

int
rtcp_report_block_get(const struct rtcp_reports *r, unsigned i, struct rtcp_report_block *b)
{
    if (i >= r->n)
        return RD_EPROTO;
    const uint8_t *p = r->p + (size_t)i * RTCP_REPORT_LEN;
    b->ssrc = rd32(p);
    b->fraction_lost = p[4];
    /* 24-bit two's complement, sign-extended without shifting a negative value. */
    uint32_t cl = (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    b->cumulative_lost = (cl & 0x800000u) ? (int32_t)cl - 0x1000000 : (int32_t)cl;
    b->ext_highest_seq = rd32(p + 8);
    b->jitter = rd32(p + 12);
    b->lsr = rd32(p + 16);
    b->dlsr = rd32(p + 20);
    return RD_OK;
}

/* §6.5: chunks of SSRC + items; each chunk ends with one or more null octets up to a 32-bit
 * boundary. Returns true when all count chunks fit the body exactly. */
static bool
rtcp_sdes_ok(const uint8_t *p, size_t len, unsigned count)
{
    size_t off = 0;
    for (unsigned c = 0; c < count; c++) {
        if (len - off < 4)
            return false;
        off += 4; /* SSRC/CSRC */
        for (;;) {
            if (off >= len)
                return false; /* no terminating null item */
            if (p[off] == 0)
                break;
            if (len - off < 2 || (size_t)p[off + 1] > len - off - 2)
                return false;
            off += 2u + p[off + 1];
        }
        /* The null item, then null octets to the next 32-bit boundary (chunks start on one). */
        off++;
        while (off % 4 != 0) {
            if (off >= len || p[off] != 0)
                return false;
            off++;
        }
    }
    return off == len;
}

/* §6.6: SC SSRC/CSRC words, then optionally a length-prefixed reason. */
static bool
rtcp_bye_ok(const uint8_t *p, size_t len, unsigned count)
{
    size_t off = 4u * count;
    if (off > len)
        return false;
    if (off < len && (size_t)p[off] + 1u > len - off)
        return false;
    return true;
}

static bool
rtcp_body_ok(const struct rtcp_pkt *pkt)
{
    const uint8_t *body = pkt->p + RTCP_HEADER_LEN;
    size_t len = rtcp_body_len(pkt);
    struct rtcp_sr sr;
    struct rtcp_rr rr;
    switch (pkt->type) {
    case RTCP_SR:
        return rtcp_sr_parse(pkt, &sr) == RD_OK;
    case RTCP_RR:
        return rtcp_rr_parse(pkt, &rr) == RD_OK;
    case RTCP_SDES:
        return rtcp_sdes_ok(body, len, pkt->count);
    case RTCP_BYE:
        return rtcp_bye_ok(body, len, pkt->count);
    case RTCP_APP:
        return len >= 8; /* §6.7: SSRC/CSRC and a 4-octet name */
    default:
        return true;
    }
}

int
rtcp_compound_check(const uint8_t *buf, size_t len)
{
    struct rtcp_iter it;
    struct rtcp_pkt pkt;
    int n = 0;
    int rc;
    rtcp_compound_init(&it, buf, len);
    while ((rc = rtcp_compound_next(&it, &pkt)) == 1) {
        /* §6.1 / A.2: a compound starts with a report packet. */
        if (n == 0 && pkt.type != RTCP_SR && pkt.type != RTCP_RR)
            return RD_EPROTO;
        if (!rtcp_body_ok(&pkt))
            return RD_EPROTO;
        n++;
    }
    if (rc < 0 || n == 0)
        return RD_EPROTO;
    return n;
}

static void
rtcp_put_block(uint8_t *p, const struct rtcp_report_block *b)
{
    int32_t cl = b->cumulative_lost;
    if (cl > 0x7fffff)
        cl = 0x7fffff;
    else if (cl < -0x800000)
        cl = -0x800000;
    uint32_t cl24 = (uint32_t)cl & 0xffffffu;
    wr32(p, b->ssrc);
    p[4] = b->fraction_lost;
    p[5] = (uint8_t)(cl24 >> 16);
    p[6] = (uint8_t)(cl24 >> 8);
    p[7] = (uint8_t)cl24;
    wr32(p + 8, b->ext_highest_seq);
    wr32(p + 12, b->jitter);
    wr32(p + 16, b->lsr);
    wr32(p + 20, b->dlsr);
}

int
rtcp_build_rr(uint8_t *out, size_t cap, uint32_t ssrc, const struct rtcp_report_block *blocks,
              unsigned n, struct rd_str cname)
{
    if (n > RTCP_MAX_REPORTS || cname.len > RTCP_SDES_MAX_TEXT)
        return RD_ELIMIT;
    /* §6.4.2: header, reporter SSRC, n blocks. */
    size_t rr_len = RTCP_HEADER_LEN + 4u + (size_t)RTCP_REPORT_LEN * n;
    /* §6.5: header, SSRC, CNAME item (type, length, text), at least one null octet, padded
     * to a 32-bit boundary. */
    size_t sdes_len = 0;
    if (cname.len > 0)
        sdes_len = (RTCP_HEADER_LEN + 4u + 2u + cname.len + 1u + 3u) & ~(size_t)3u;
    if (rr_len + sdes_len > cap)
        return RD_ELIMIT;

    uint8_t *p = out;
    p[0] = (uint8_t)(RTP_VERSION << 6 | n);
    p[1] = RTCP_RR;
    wr16(p + 2, (uint16_t)(rr_len / 4 - 1));
    wr32(p + 4, ssrc);
    for (unsigned i = 0; i < n; i++)
        rtcp_put_block(p + 8 + (size_t)i * RTCP_REPORT_LEN, &blocks[i]);

    if (sdes_len > 0) {
        p = out + rr_len;
        memset(p, 0, sdes_len);
        p[0] = (uint8_t)(RTP_VERSION << 6 | 1u);
        p[1] = RTCP_SDES;
        wr16(p + 2, (uint16_t)(sdes_len / 4 - 1));
        wr32(p + 4, ssrc);
        p[8] = 1; /* CNAME */
        p[9] = (uint8_t)cname.len;
        memcpy(p + 10, cname.p, cname.len);
    }
    return (int)(rr_len + sdes_len);
}

int
rtcp_sr_rewrite(uint8_t *pkt, size_t len, uint32_t ssrc, uint32_t rtp_ts)
{
    if (len < RTCP_HEADER_LEN + 24u || pkt[1] != RTCP_SR)
        return RD_EPROTO;
    wr32(pkt + 4, ssrc);
    wr32(pkt + 16, rtp_ts);
    return RD_OK;
}
