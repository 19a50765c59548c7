/* SPDX-License-Identifier: MIT */
/* Camera stream media state: continuity offsets, key-frame classification, the instant-start
 * cache per track and RTCP SR forwarding. See stream.h for the contracts. */
#include "stream.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "rd_err.h"
#include "rd_limits.h"
#include "rtp.h"
#include "rtp_h26x.h"

/* A ring of packet references: the instant-start cache of one track. */
struct cache {
    struct pkt **pk;   /* cap slots */
    uint32_t cap;      /* = the packet cap */
    uint32_t head;     /* oldest */
    uint32_t n;        /* packets held */
    size_t bytes;      /* their bytes */
    bool valid;        /* H.26x: starts at a key-frame start; others: non-empty and aligned */
    int64_t tentative; /* H.26x: index of a parameter-set start awaiting its IDR slice; -1 */
};

struct track {
    enum stream_codec codec;
    uint32_t clock_rate;
    bool gated; /* H.264/H.265 */
    struct fanout_sub_list subs;
    struct cache cache;
    /* continuity (RFC 3550 §5.1 fields as seen by viewers) */
    bool have_in;      /* a packet was seen (offsets are defined) */
    bool rebase;       /* recompute offsets at the next packet */
    uint32_t in_ssrc;  /* the camera's current SSRC */
    uint32_t out_ssrc; /* viewer-facing SSRC: the first upstream SSRC, kept for life */
    uint16_t seq_off;  /* out = in + seq_off (mod 2^16) */
    uint32_t ts_off;   /* out = in + ts_off (mod 2^32) */
    uint16_t max_out_seq;
    uint32_t max_out_ts;
    double last_arrival;
    struct pkt *last_sr; /* the last SR forwarded (rewritten), for joiners; NULL if none */
    /* key-frame fallback */
    double last_key_at;
    bool prev_marker;
    struct stream_track_stats st;
};

struct stream {
    unsigned n;
    struct stream_limits lim;
    int primary;     /* the first gated track (alignment of other caches), or -1 */
    bool sync_valid; /* the primary cache is valid: other tracks cache from sync_at */
    double sync_at;  /* arrival of the primary cache's first packet */
    struct track t[];
};

void
stream_limits_default(struct stream_limits *l)
{
    l->cache_max_bytes = RD_STREAM_CACHE_MAX_BYTES;
    l->cache_max_packets = RD_STREAM_CACHE_MAX_PACKETS;
    l->key_fallback_s = RD_STREAM_KEY_FALLBACK_S;
}

/* ---- Cache ring -------------------------------------------------------------------------- */

static struct pkt *
cache_at(const struct cache *c, uint32_t i)
{
    uint32_t k = c->head + i;
    if (k >= c->cap)
        k -= c->cap;
    return c->pk[k];
}

static void
cache_pop_front(struct cache *c)
{
    struct pkt *p = c->pk[c->head];
    assert(p != NULL); /* the n slots from head are always filled */
    c->pk[c->head] = NULL;
    c->bytes -= p->len;
    c->head = c->head + 1 == c->cap ? 0 : c->head + 1;
    c->n--;
    if (c->tentative >= 0)
        c->tentative--;
    pkt_unref(p);
}

static void
cache_clear(struct cache *c)
{
    while (c->n > 0)
        cache_pop_front(c);
    c->head = 0;
    c->valid = false;
    c->tentative = -1;
}

static bool
cache_fits(const struct cache *c, const struct stream_limits *lim, const struct pkt *p)
{
    return c->n < lim->cache_max_packets && c->bytes + p->len <= lim->cache_max_bytes;
}

static void
cache_push(struct cache *c, struct pkt *p)
{
    uint32_t k = c->head + c->n;
    if (k >= c->cap)
        k -= c->cap;
    c->pk[k] = pkt_ref(p);
    c->n++;
    c->bytes += p->len;
}

/* ---- Continuity -------------------------------------------------------------------------- */

/* Clamped wall-clock gap in RTP ticks, at least 1 and below 2^31 (a larger step would read as
 * a step backwards, RFC 3550 §5.1 arithmetic): the timestamp advance across a restart. */
static uint32_t
gap_ticks(double gap_s, uint32_t clock_rate)
{
    if (!(gap_s > 0))
        gap_s = 0;
    if (gap_s > RD_STREAM_RESTART_MAX_GAP_S)
        gap_s = RD_STREAM_RESTART_MAX_GAP_S;
    uint64_t ticks = (uint64_t)(gap_s * (double)clock_rate + 0.5);
    if (ticks < 1)
        return 1;
    return ticks > INT32_MAX ? (uint32_t)INT32_MAX : (uint32_t)ticks;
}

static void
drop_other_caches(struct stream *s)
{
    s->sync_valid = false;
    for (unsigned i = 0; i < s->n; i++) {
        if (!s->t[i].gated)
            cache_clear(&s->t[i].cache);
    }
}

/* Rewrites the packet's header for viewers; sets p->seq and p->ts. */
static void
continuity(struct stream *s, struct track *t, const struct rtp_view *v, struct pkt *p)
{
    if (!t->have_in) {
        t->have_in = true;
        t->in_ssrc = t->out_ssrc = v->ssrc;
        t->seq_off = 0;
        t->ts_off = 0;
        t->max_out_seq = v->seq;
        t->max_out_ts = v->timestamp;
        t->last_key_at = p->arrival_at;
    } else if (t->rebase || v->ssrc != t->in_ssrc) {
        pkt_unref(t->last_sr); /* it describes the old source's clock */
        t->last_sr = NULL;
        if (!t->rebase) {
            /* The camera restarted its RTP source under the same RTSP session. */
            t->st.ssrc_changes++;
            cache_clear(&t->cache);
            if ((int)(t - s->t) == s->primary)
                drop_other_caches(s);
        }
        uint32_t adv = gap_ticks(p->arrival_at - t->last_arrival, t->clock_rate);
        t->seq_off = (uint16_t)(t->max_out_seq + 1u - v->seq);
        t->ts_off = t->max_out_ts + adv - v->timestamp;
        t->in_ssrc = v->ssrc;
        t->rebase = false;
        t->prev_marker = true;
        t->st.rebases++;
    }
    uint16_t seq = (uint16_t)(v->seq + t->seq_off);
    uint32_t ts = v->timestamp + t->ts_off;
    /* The lengths were validated by rtp_view_parse: these writes cannot fail. */
    if (seq != v->seq)
        (void)rtp_set_seq(p->data, p->len, seq);
    if (ts != v->timestamp)
        (void)rtp_set_timestamp(p->data, p->len, ts);
    if (t->out_ssrc != v->ssrc)
        (void)rtp_set_ssrc(p->data, p->len, t->out_ssrc);
    if ((int16_t)(uint16_t)(seq - t->max_out_seq) > 0)
        t->max_out_seq = seq;
    if ((int32_t)(ts - t->max_out_ts) > 0)
        t->max_out_ts = ts;
    t->last_arrival = p->arrival_at;
    p->seq = seq;
    p->ts = ts;
}

/* ---- Classification ---------------------------------------------------------------------- */

static uint16_t
classify(const struct stream *s, struct track *t, const struct rtp_view *v, const struct pkt *p)
{
    uint16_t f = v->marker ? PKT_MARKER : 0;
    if (!t->gated)
        return f | PKT_KEY_START;
    enum rtp_h26x_codec codec = t->codec == STREAM_CODEC_H265 ? RTP_H26X_H265 : RTP_H26X_H264;
    unsigned c = rtp_h26x_classify(codec, v->payload, v->payload_len);
    f |= PKT_GATED;
    if (c & RTP_H26X_KEY_START)
        f |= PKT_KEY_START;
    if (c & RTP_H26X_PARAM_SETS)
        f |= PKT_PARAM_SETS;
    if (c & RTP_H26X_VCL)
        f |= PKT_VCL;
    if (c & RTP_H26X_IRAP)
        f |= PKT_IRAP;
    if (c & RTP_H26X_AU_START)
        f |= PKT_AU_START;
    if (c & (RTP_H26X_MALFORMED | RTP_H26X_UNSUPPORTED))
        t->st.payload_odd++;
    if (f & PKT_KEY_START) {
        t->st.key_starts++;
        t->last_key_at = p->arrival_at;
    } else if ((f & PKT_AU_START) && t->prev_marker
               && p->arrival_at - t->last_key_at >= s->lim.key_fallback_s) {
        /* No key frame for a long time (intra refresh, open GOP): let waiting viewers in at
         * an access-unit boundary rather than never. */
        f |= PKT_KEY_FORCED;
        t->st.key_forced++;
        t->last_key_at = p->arrival_at;
    }
    t->prev_marker = v->marker;
    return f;
}

/* ---- Instant-start cache ----------------------------------------------------------------- */

/* The primary cache now starts at a new packet: other tracks keep only what arrived since. */
static void
sync_moved(struct stream *s)
{
    const struct cache *pc = &s->t[s->primary].cache;
    if (!pc->valid || pc->n == 0) {
        drop_other_caches(s);
        return;
    }
    s->sync_valid = true;
    s->sync_at = cache_at(pc, 0)->arrival_at;
    for (unsigned i = 0; i < s->n; i++) {
        struct cache *c = &s->t[i].cache;
        if (s->t[i].gated)
            continue;
        while (c->n > 0 && cache_at(c, 0)->arrival_at < s->sync_at)
            cache_pop_front(c);
    }
}

/* Appends p to an H.26x cache; at a cap, first drops the part before a pending parameter-set
 * start, then the whole cache (until the next key frame). */
static void
gated_append(struct stream *s, struct track *t, struct pkt *p)
{
    struct cache *c = &t->cache;
    if (!cache_fits(c, &s->lim, p) && c->tentative > 0) {
        while (c->tentative > 0)
            cache_pop_front(c);
    }
    if (!cache_fits(c, &s->lim, p)) {
        cache_clear(c);
        t->st.cache_overflows++;
        return;
    }
    cache_push(c, p);
}

/* Updates an H.26x track's cache with classified packet p:
 *   - a slice packet resolves a pending parameter-set start: IDR/IRAP confirms it (the cache
 *     now starts there), anything else refutes it (the older GOP continues, or the cache is
 *     dropped when it began there);
 *   - an IDR first slice without parameter sets before it, or a forced start, restarts the
 *     cache at this packet;
 *   - a parameter-set start restarts an invalid cache (tentatively) or marks where the next
 *     GOP may begin in a valid one. */
static void
gated_cache(struct stream *s, struct track *t, struct pkt *p)
{
    struct cache *c = &t->cache;
    unsigned f = p->flags;
    bool start = f & (PKT_KEY_START | PKT_KEY_FORCED);
    if (f & (PKT_VCL | PKT_KEY_FORCED)) {
        if (c->tentative >= 0) {
            if (f & (PKT_IRAP | PKT_KEY_FORCED)) {
                while (c->tentative > 0)
                    cache_pop_front(c);
                c->tentative = -1;
            } else {
                t->st.key_refuted++;
                if (c->tentative == 0)
                    cache_clear(c);
                c->tentative = -1;
            }
        } else if (start) {
            cache_clear(c);
            c->valid = true;
        }
    } else if (start) {
        if (!c->valid) {
            cache_clear(c);
            c->valid = true;
            c->tentative = 0;
        } else if (c->tentative < 0) {
            c->tentative = c->n;
        }
    }
    if (c->valid)
        gated_append(s, t, p);
}

/* Appends p to a non-gated track's cache while the primary cache is valid, dropping the
 * oldest at a cap. */
static void
other_cache(struct stream *s, struct track *t, struct pkt *p)
{
    struct cache *c = &t->cache;
    if (!s->sync_valid || p->len > s->lim.cache_max_bytes)
        return;
    while (c->n > 0 && !cache_fits(c, &s->lim, p))
        cache_pop_front(c);
    cache_push(c, p);
    c->valid = true;
}

/* ---- Public API -------------------------------------------------------------------------- */

int
stream_new(const struct stream_track_cfg *tracks, unsigned n, const struct stream_limits *lim,
           struct stream **out)
{
    struct stream_limits def;
    if (lim == NULL) {
        stream_limits_default(&def);
        lim = &def;
    }
    if (n == 0 || n > RD_SDP_MAX_MEDIA || lim->cache_max_bytes == 0 || lim->cache_max_packets == 0
        || !(lim->key_fallback_s > 0))
        return RD_EPROTO;
    for (unsigned i = 0; i < n; i++) {
        if (tracks[i].clock_rate == 0 || (unsigned)tracks[i].codec > STREAM_CODEC_OTHER)
            return RD_EPROTO;
    }
    struct stream *s = calloc(1, sizeof(*s) + n * sizeof(struct track));
    if (s == NULL)
        return RD_ENOMEM;
    s->n = n;
    s->lim = *lim;
    if (s->lim.cache_max_bytes > RD_STREAM_CACHE_MAX_BYTES)
        s->lim.cache_max_bytes = RD_STREAM_CACHE_MAX_BYTES;
    if (s->lim.cache_max_packets > RD_STREAM_CACHE_MAX_PACKETS)
        s->lim.cache_max_packets = RD_STREAM_CACHE_MAX_PACKETS;
    s->primary = -1;
    for (unsigned i = 0; i < n; i++) {
        struct track *t = &s->t[i];
        t->codec = tracks[i].codec;
        t->clock_rate = tracks[i].clock_rate;
        t->gated = t->codec != STREAM_CODEC_OTHER;
        if (t->gated && s->primary < 0)
            s->primary = (int)i;
        fanout_list_init(&t->subs);
        t->cache.cap = s->lim.cache_max_packets;
        t->cache.tentative = -1;
        t->prev_marker = true;
        t->cache.pk = calloc(t->cache.cap, sizeof(struct pkt *));
        if (t->cache.pk == NULL) {
            stream_free(s);
            return RD_ENOMEM;
        }
    }
    *out = s;
    return RD_OK;
}

void
stream_free(struct stream *s)
{
    if (s == NULL)
        return;
    for (unsigned i = 0; i < s->n; i++) {
        struct track *t = &s->t[i];
        fanout_list_detach_all(&t->subs);
        if (t->cache.pk != NULL)
            cache_clear(&t->cache);
        free(t->cache.pk);
        pkt_unref(t->last_sr);
    }
    free(s);
}

unsigned
stream_track_count(const struct stream *s)
{
    return s->n;
}

int
stream_on_rtp(struct stream *s, unsigned track, struct pkt *p)
{
    if (track >= s->n) {
        pkt_unref(p);
        return RD_EPROTO;
    }
    struct track *t = &s->t[track];
    struct rtp_view v;
    if (rtp_view_parse(p->data, p->len, &v) != RD_OK) {
        t->st.malformed++;
        pkt_unref(p);
        return RD_EPROTO;
    }
    continuity(s, t, &v, p);
    p->track = (uint8_t)track;
    p->flags = classify(s, t, &v, p);
    t->st.pkts_in++;
    t->st.bytes_in += p->len;
    if (t->gated) {
        const struct cache *c = &t->cache;
        bool was_valid = c->valid;
        const struct pkt *front = c->n > 0 ? cache_at(c, 0) : NULL;
        gated_cache(s, t, p);
        /* Packets in the cache hold references, so a different front is a different
         * packet. */
        bool moved = c->valid != was_valid || (c->n > 0 ? cache_at(c, 0) : NULL) != front;
        if (moved && (int)track == s->primary)
            sync_moved(s);
    } else {
        other_cache(s, t, p);
    }
    fanout_deliver(&t->subs, p);
    pkt_unref(p);
    return RD_OK;
}

static uint32_t
rd32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void
wr32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* Rewrites the compound RTCP in p for viewers, in place; returns whether anything is left to
 * forward (an SR of the current source first). */
static bool
rtcp_rewrite(const struct track *t, struct pkt *p)
{
    struct rtcp_iter it;
    struct rtcp_pkt rp;
    size_t w = 0;
    bool have_sr = false;
    rtcp_compound_init(&it, p->data, p->len);
    while (rtcp_compound_next(&it, &rp) == 1) {
        uint8_t *at = p->data + rp.off;
        bool keep = false;
        if (rp.type == RTCP_SR && !have_sr) {
            struct rtcp_sr sr;
            if (rtcp_sr_parse(&rp, &sr) == RD_OK && sr.ssrc == t->in_ssrc) {
                /* RFC 3550 §6.4.1: the SR's RTP timestamp is in the same clock as the data
                 * packets, so it takes the same offset. */
                keep = rtcp_sr_rewrite(at, rp.len, t->out_ssrc, sr.rtp_ts + t->ts_off) == RD_OK;
                have_sr = keep;
            }
        } else if (rp.type == RTCP_SDES && have_sr) {
            /* RFC 3550 §6.5: the first chunk starts with its SSRC right after the header. */
            if (rp.count >= 1 && rp.len >= 8 && rd32(at + 4) == t->in_ssrc)
                wr32(at + 4, t->out_ssrc);
            keep = true;
        }
        if (keep) {
            /* Compaction moves packets towards the front only, behind the iterator. */
            memmove(p->data + w, at, rp.len);
            w += rp.len;
        }
    }
    p->len = (uint32_t)w;
    return have_sr;
}

int
stream_on_rtcp(struct stream *s, unsigned track, struct pkt *p)
{
    if (track >= s->n) {
        pkt_unref(p);
        return RD_EPROTO;
    }
    struct track *t = &s->t[track];
    t->st.rtcp_in++;
    /* Larger than an interleaved frame can carry ('$' length is 16 bits): never forwarded. */
    if (p->len > RD_RTP_MAX_PACKET || rtcp_compound_check(p->data, p->len) < 0) {
        t->st.rtcp_dropped++;
        pkt_unref(p);
        return RD_EPROTO;
    }
    if (!t->have_in || t->rebase || !rtcp_rewrite(t, p)) {
        t->st.rtcp_dropped++;
        pkt_unref(p);
        return RD_OK;
    }
    p->track = (uint8_t)track;
    p->flags = PKT_RTCP;
    t->st.rtcp_fwd++;
    pkt_unref(t->last_sr);
    t->last_sr = pkt_ref(p);
    fanout_deliver(&t->subs, p);
    pkt_unref(p);
    return RD_OK;
}

void
stream_upstream_restart(struct stream *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        struct track *t = &s->t[i];
        if (t->have_in)
            t->rebase = true;
        cache_clear(&t->cache);
    }
    s->sync_valid = false;
}

/* Whether t's cache can start a viewer. */
static bool
cache_usable(const struct track *t)
{
    return t->cache.valid && t->cache.n > 0;
}

int
stream_rtp_info(const struct stream *s, unsigned track, double now, struct stream_rtp_info *out)
{
    if (track >= s->n)
        return RD_EPROTO;
    const struct track *t = &s->t[track];
    memset(out, 0, sizeof(*out));
    if (!t->have_in)
        return RD_OK;
    out->known = true;
    out->ssrc = t->out_ssrc;
    if (cache_usable(t)) {
        const struct pkt *first = cache_at(&t->cache, 0);
        out->from_cache = true;
        out->seq = first->seq;
        out->rtptime = first->ts;
        return RD_OK;
    }
    out->seq = (uint16_t)(t->max_out_seq + 1u);
    out->rtptime = t->max_out_ts + gap_ticks(now - t->last_arrival, t->clock_rate);
    return RD_OK;
}

int
stream_subscribe(struct stream *s, unsigned track, struct fanout_sub *sub)
{
    if (track >= s->n)
        return RD_EPROTO;
    struct track *t = &s->t[track];
    const struct cache *c = &t->cache;
    bool usable = cache_usable(t);
    enum fanout_gate gate = FANOUT_GATE_OPEN;
    if (t->gated)
        gate = !usable ? FANOUT_GATE_WAITING
                       : (c->tentative == 0 ? FANOUT_GATE_TENTATIVE : FANOUT_GATE_OPEN);
    fanout_sub_attach(sub, &t->subs, gate);
    int rc = RD_OK;
    if (usable) {
        for (uint32_t i = 0; i < c->n && rc == RD_OK; i++)
            rc = fanout_sub_join_pkt(sub, cache_at(c, i));
    }
    /* The last sender report maps the RTP clock to NTP (RFC 3550 §6.4.1): players can sync
     * audio and video at once instead of at the camera's next SR, seconds later. */
    if (t->last_sr != NULL && rc == RD_OK)
        (void)fanout_sub_join_pkt(sub, t->last_sr);
    return RD_OK;
}

void
stream_unsubscribe(struct fanout_sub *sub)
{
    fanout_sub_detach(sub);
}

int
stream_track_stats(const struct stream *s, unsigned track, struct stream_track_stats *out)
{
    if (track >= s->n)
        return RD_EPROTO;
    const struct track *t = &s->t[track];
    *out = t->st;
    out->cache_pkts = t->cache.n;
    out->cache_bytes = t->cache.bytes;
    out->cache_valid = cache_usable(t);
    out->subscribers = t->subs.n;
    return RD_OK;
}

uint32_t
stream_subscribers(const struct stream *s)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < s->n; i++)
        n += s->t[i].subs.n;
    return n;
}
