/* SPDX-License-Identifier: MIT */
/* H.264 / H.265 RTP payload classification (RFC 6184, RFC 7798): payload headers, aggregation
 * and fragmentation units, and the first bit of slice headers; nothing is depacketized. */
#include "rtp_h26x.h"

#include "crypto.h"
#include "rd_err.h"

/* H.264 NAL unit types (H.264 Table 7-1) and RFC 6184 §5.2 payload types. */
enum {
    H264_SLICE = 1,
    H264_DPA = 2,
    H264_IDR = 5,
    H264_SEI = 6,
    H264_SPS = 7,
    H264_PPS = 8,
    H264_AUD = 9,
    H264_SPS_EXT = 13,
    H264_PREFIX = 14,
    H264_SUBSET_SPS = 15,
    H264_RSV18 = 18,
    H264_STAP_A = 24,
    H264_STAP_B = 25,
    H264_MTAP16 = 26,
    H264_MTAP24 = 27,
    H264_FU_A = 28,
    H264_FU_B = 29,
};

/* H.265 NAL unit types (H.265 Table 7-1) and RFC 7798 §4.4 payload types. */
enum {
    H265_VCL_MAX = 31,
    H265_BLA_W_LP = 16,
    H265_CRA = 21,
    H265_VPS = 32,
    H265_PPS = 34,
    H265_AUD = 35,
    H265_PREFIX_SEI = 39,
    H265_RSV_NVCL41 = 41,
    H265_RSV_NVCL44 = 44,
    H265_AP = 48,
    H265_FU = 49,
    H265_PACI = 50,
};

#define H265_NAL_HDR 2

/* What one NAL unit type means for the key-frame rule. */
struct nal_class {
    bool vcl;         /* slice data */
    bool irap;        /* IDR (H.264) / IRAP (H.265) slice */
    bool param;       /* parameter set */
    bool head;        /* may begin an access unit by its type alone */
    bool prefix;      /* may precede the first VCL NAL unit of an access unit */
    bool slice_start; /* a slice header begins right after the NAL header */
};

static struct nal_class
nal_classify(enum rtp_h26x_codec codec, unsigned type)
{
    struct nal_class c = {false, false, false, false, false, false};
    if (codec == RTP_H26X_H264) {
        /* H.264 §7.4.1.2.3: AUD, SPS, PPS, SEI and types 14..18 begin an access unit. */
        c.vcl = type >= H264_SLICE && type <= H264_IDR;
        c.irap = type == H264_IDR;
        c.param =
            type == H264_SPS || type == H264_PPS || type == H264_SPS_EXT || type == H264_SUBSET_SPS;
        c.head =
            (type >= H264_SEI && type <= H264_AUD) || (type >= H264_PREFIX && type <= H264_RSV18);
        c.prefix = c.head || type == H264_SPS_EXT;
        /* Types 1, 2 and 5 start with slice_header(); partitions B/C (3, 4) with slice_id. */
        c.slice_start = type == H264_SLICE || type == H264_DPA || type == H264_IDR;
    } else {
        /* H.265 §7.4.2.4.4: VPS, SPS, PPS, AUD, prefix SEI, 41..44 begin an access unit. */
        c.vcl = type <= H265_VCL_MAX;
        c.irap = type >= H265_BLA_W_LP && type <= H265_CRA;
        c.param = type >= H265_VPS && type <= H265_PPS;
        c.head = (type >= H265_VPS && type <= H265_AUD) || type == H265_PREFIX_SEI
                 || (type >= H265_RSV_NVCL41 && type <= H265_RSV_NVCL44);
        c.prefix = c.head;
        c.slice_start = c.vcl;
    }
    return c;
}

/* State of the walk over a packet's leading NAL units (see the rule in rtp_h26x.h). */
struct walk {
    unsigned flags;
    unsigned n;    /* leading NAL units seen */
    bool seen_vcl; /* the first VCL NAL unit has been seen */
    bool key_vcl;  /* ... and it is the first slice of an IDR/IRAP picture */
    bool spoiled;  /* something other than a prefix NAL unit came before it */
};

/* Marks the content flags of a NAL unit of type type (also used for FU middles/ends). */
static void
walk_content(struct walk *w, struct nal_class c)
{
    if (c.vcl)
        w->flags |= RTP_H26X_VCL;
    if (c.irap)
        w->flags |= RTP_H26X_IRAP;
    if (c.param)
        w->flags |= RTP_H26X_PARAM_SETS;
}

/* One leading NAL unit of type type; body[0..body_len) are the bytes after its header. */
static void
walk_nal(struct walk *w, enum rtp_h26x_codec codec, unsigned type, const uint8_t *body,
         size_t body_len)
{
    struct nal_class c = nal_classify(codec, type);
    /* H.264 first_mb_in_slice is ue(v): 0 exactly when its first bit is 1. H.265
     * first_slice_segment_in_pic_flag is the first bit. Emulation prevention bytes cannot
     * come first, so one byte decides; without that byte, we cannot tell. */
    bool first_slice = c.slice_start && body_len > 0 && (body[0] & 0x80) != 0;
    walk_content(w, c);
    if (w->n == 0 && (c.head || first_slice))
        w->flags |= RTP_H26X_AU_START;
    if (!w->seen_vcl) {
        if (c.vcl) {
            w->seen_vcl = true;
            w->key_vcl = c.irap && first_slice;
        } else if (!c.prefix) {
            w->spoiled = true;
        }
    }
    w->n++;
}

static unsigned
walk_finish(const struct walk *w)
{
    unsigned f = w->flags;
    if ((f & RTP_H26X_AU_START) && !w->spoiled
        && (w->seen_vcl ? w->key_vcl : (f & RTP_H26X_PARAM_SETS) != 0))
        f |= RTP_H26X_KEY_START;
    return f;
}

static uint16_t
rd16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

/* Checks an inner NAL unit header; returns its type or -1 when malformed. */
static int
inner_nal_type(enum rtp_h26x_codec codec, const uint8_t *nal)
{
    if (nal[0] & 0x80)
        return -1; /* forbidden_zero_bit */
    if (codec == RTP_H26X_H264) {
        unsigned t = nal[0] & 0x1f;
        /* RFC 6184 §5.7/§5.8: no aggregation or fragmentation units inside these. */
        return t >= H264_STAP_A && t <= H264_FU_B ? -1 : (int)t;
    }
    unsigned t = (nal[0] >> 1) & 0x3f;
    if ((nal[1] & 0x07) == 0)
        return -1; /* RFC 7798 §1.1.4: TID 0 is illegal */
    return t >= H265_AP && t <= H265_PACI ? -1 : (int)t;
}

/* STAP-A (RFC 6184 §5.7.1) / AP (RFC 7798 §4.4.2): after the hdr-byte payload header,
 * units of a 16-bit size and a NAL unit of that size, to the end of the payload. */
static unsigned
classify_aggregate(enum rtp_h26x_codec codec, const uint8_t *p, size_t len, size_t hdr)
{
    const unsigned bad = RTP_H26X_AGGREGATE | RTP_H26X_MALFORMED;
    size_t nal_hdr = codec == RTP_H26X_H264 ? 1 : H265_NAL_HDR;
    struct walk w = {RTP_H26X_AGGREGATE, 0, false, false, false};
    size_t off = hdr;
    if (off >= len)
        return bad; /* no unit at all */
    while (off < len) {
        if (len - off < 2)
            return bad; /* trailing byte */
        size_t n = rd16(p + off);
        off += 2;
        if (n < nal_hdr || n > len - off)
            return bad;
        int t = inner_nal_type(codec, p + off);
        if (t < 0)
            return bad;
        walk_nal(&w, codec, (unsigned)t, p + off + nal_hdr, n - nal_hdr);
        off += n;
    }
    return walk_finish(&w);
}

/* FU-A (RFC 6184 §5.8) / FU (RFC 7798 §4.4.3): payload header of hdr bytes, then the FU
 * header (S, E, type), then a fragment of the NAL unit's payload. */
static unsigned
classify_fu(enum rtp_h26x_codec codec, const uint8_t *p, size_t len, size_t hdr)
{
    if (len < hdr + 1)
        return RTP_H26X_FRAGMENT | RTP_H26X_MALFORMED;
    uint8_t fu = p[hdr];
    struct walk w = {RTP_H26X_FRAGMENT, 0, false, false, false};
    if (fu & 0x80)
        w.flags |= RTP_H26X_FRAG_START;
    if (fu & 0x40)
        w.flags |= RTP_H26X_FRAG_END;
    unsigned t = codec == RTP_H26X_H264 ? fu & 0x1fu : fu & 0x3fu;
    bool nested = codec == RTP_H26X_H264 ? t >= H264_STAP_A && t <= H264_FU_B
                                         : t >= H265_AP && t <= H265_PACI;
    /* RFC 6184 §5.8 / RFC 7798 §4.4.3: S and E must not both be set. */
    if (nested || (fu & 0xc0) == 0xc0)
        return w.flags | RTP_H26X_MALFORMED;
    if (fu & 0x80) {
        walk_nal(&w, codec, t, p + hdr + 1, len - hdr - 1);
        return walk_finish(&w);
    }
    walk_content(&w, nal_classify(codec, t));
    return w.flags;
}

static unsigned
classify_h264(const uint8_t *p, size_t len)
{
    /* RFC 6184 §5.3: F must be 0. */
    if (len < 1 || (p[0] & 0x80))
        return RTP_H26X_MALFORMED;
    unsigned type = p[0] & 0x1f;
    switch (type) {
    case H264_STAP_A:
        return classify_aggregate(RTP_H26X_H264, p, len, 1);
    case H264_FU_A:
        return classify_fu(RTP_H26X_H264, p, len, 1);
    case 0:
    case H264_STAP_B:
    case H264_MTAP16:
    case H264_MTAP24:
    case H264_FU_B:
    case 30:
    case 31:
        return RTP_H26X_UNSUPPORTED;
    default: {
        struct walk w = {0, 0, false, false, false};
        walk_nal(&w, RTP_H26X_H264, type, p + 1, len - 1);
        return walk_finish(&w);
    }
    }
}

static unsigned
classify_h265(const uint8_t *p, size_t len)
{
    /* RFC 7798 §1.1.4: F must be 0 and TID must not be 0. */
    if (len < H265_NAL_HDR || (p[0] & 0x80) || (p[1] & 0x07) == 0)
        return RTP_H26X_MALFORMED;
    unsigned type = (p[0] >> 1) & 0x3f;
    if (type == H265_AP)
        return classify_aggregate(RTP_H26X_H265, p, len, H265_NAL_HDR);
    if (type == H265_FU)
        return classify_fu(RTP_H26X_H265, p, len, H265_NAL_HDR);
    if (type >= H265_PACI)
        return RTP_H26X_UNSUPPORTED;
    struct walk w = {0, 0, false, false, false};
    walk_nal(&w, RTP_H26X_H265, type, p + H265_NAL_HDR, len - H265_NAL_HDR);
    return walk_finish(&w);
}

unsigned
rtp_h26x_classify(enum rtp_h26x_codec codec, const uint8_t *payload, size_t len)
{
    if (codec == RTP_H26X_H264)
        return classify_h264(payload, len);
    if (codec == RTP_H26X_H265)
        return classify_h265(payload, len);
    return RTP_H26X_UNSUPPORTED;
}

bool
rtp_h26x_is_key_start(enum rtp_h26x_codec codec, const uint8_t *payload, size_t len)
{
    return (rtp_h26x_classify(codec, payload, len) & RTP_H26X_KEY_START) != 0;
}

int
rtp_h26x_sprop_next(enum rtp_h26x_codec codec, struct rd_str *list, uint8_t *out, size_t cap)
{
    struct rd_str rest = rd_str_trim(*list);
    if (rest.len == 0) {
        *list = rest;
        return 0;
    }
    struct rd_str entry;
    bool found;
    rest = rd_str_split(rest, ',', &entry, &found);
    entry = rd_str_trim(entry);
    if (entry.len == 0)
        return RD_EPROTO;
    int n = rd_b64_decode(entry, out, cap);
    if (n < 0)
        return n;
    /* A parameter set: F clear, the right type, and (H.265) TID > 0. */
    if (n < 1 || (out[0] & 0x80))
        return RD_EPROTO;
    if (codec == RTP_H26X_H264) {
        unsigned t = out[0] & 0x1f;
        if (t != H264_SPS && t != H264_PPS && t != H264_SPS_EXT && t != H264_SUBSET_SPS)
            return RD_EPROTO;
    } else {
        unsigned t = (out[0] >> 1) & 0x3f;
        if (n < H265_NAL_HDR || t < H265_VPS || t > H265_PPS || (out[1] & 0x07) == 0)
            return RD_EPROTO;
    }
    *list = rest;
    return n;
}
