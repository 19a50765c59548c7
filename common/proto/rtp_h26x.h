/* SPDX-License-Identifier: MIT */
/* Classifies H.264 (RFC 6184) and H.265 (RFC 7798) RTP payloads for the relay's key-frame
 * gate without depacketizing them, and extracts parameter sets from SDP sprop-* values. */
#ifndef RD_PROTO_RTP_H26X_H
#define RD_PROTO_RTP_H26X_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_str.h"

enum rtp_h26x_codec {
    RTP_H26X_H264, /* RFC 6184, packetization-mode 0 or 1 */
    RTP_H26X_H265, /* RFC 7798, sprop-max-don-diff 0 (no DONL/DOND fields) */
};

/* Result flags of rtp_h26x_classify().
 *
 * Packet kinds: a single NAL unit packet sets none of AGGREGATE/FRAGMENT. "Leading NAL
 * units" are the NAL unit of a single-NAL packet, every NAL unit of an aggregation packet
 * (STAP-A; AP) in order, or the fragmented NAL unit of a start fragment (FU-A or FU with S
 * set). Middle and end fragments have no leading NAL units: they only set FRAGMENT (and
 * FRAG_END), plus VCL/IRAP/PARAM_SETS from the FU type, since they carry part of that NAL unit.
 *
 * Access-unit start (AU_START): the first leading NAL unit is one that only appears at the
 * head of an access unit -- H.264 AUD(9), SEI(6), SPS(7), PPS(8), 14..18 (H.264 §7.4.1.2.3);
 * H.265 VPS/SPS/PPS(32..34), AUD(35), prefix SEI(39) (H.265 §7.4.2.4.4) -- or the first slice
 * of a picture (H.264 first_mb_in_slice == 0, H.265 first_slice_segment_in_pic_flag == 1;
 * both read from the first bit after the NAL header, so a second slice of a multi-slice
 * picture is not an AU start). This is a per-packet estimate: the authoritative boundary is
 * the previous packet's RTP marker bit (RFC 6184 §5.1, RFC 7798 §4.1).
 *
 * The key-frame rule (KEY_START): a packet starts a key frame when it is an AU_START and,
 * walking its leading NAL units, only access-unit prefix NAL units (AUD, SEI, parameter
 * sets) come before the first VCL NAL unit, and either
 *   - that first VCL NAL unit is the first slice of an IDR picture (H.264 type 5) or of an
 *     IRAP picture (H.265 types 16..21: BLA_W_LP .. CRA_NUT), or
 *   - the packet has no VCL NAL unit and carried at least one parameter set (the usual
 *     SPS / PPS / STAP-A{SPS,PPS} packets cameras send right before an IDR).
 * A first VCL NAL unit that is not IDR/IRAP (a P slice after a repeated SPS) is not a key
 * start. Reserved IRAP types 22..23 and recovery-point SEI (open GOP without IDR) are not
 * recognised: such streams never open the gate, so the relay needs a time-out fallback.
 *
 * Recommended gate in the relay: a waiting viewer starts at the first packet with
 * KEY_START (ideally also right after a packet with the marker bit). Because the second
 * form is decided before the slice arrives, the relay should re-arm the wait if the first
 * packet with VCL after the start lacks IRAP.
 *
 * Not supported (UNSUPPORTED, never KEY_START): H.264 interleaved mode (STAP-B 25, MTAP16
 * 26, MTAP24 27, FU-B 29; packetization-mode 2 sends NAL units out of decoding order, so no
 * per-packet gate is right for it) and NAL types 0/30/31; H.265 PACI (50) and types
 * 51..63. Malformed payloads (MALFORMED, never KEY_START/AU_START): empty or truncated
 * headers, F (forbidden_zero) bit set, H.265 TID 0, an aggregation unit whose size is 0,
 * too small for a NAL header or past the payload, trailing bytes after the last unit,
 * aggregation or fragmentation units nested in an aggregate or fragment, an FU with both S
 * and E set. */
enum rtp_h26x_flag {
    RTP_H26X_KEY_START = 1u << 0,   /* a viewer may start here (rule above) */
    RTP_H26X_AU_START = 1u << 1,    /* first leading NAL unit begins an access unit */
    RTP_H26X_PARAM_SETS = 1u << 2,  /* carries SPS/PPS (H.264) or VPS/SPS/PPS (H.265) */
    RTP_H26X_IRAP = 1u << 3,        /* carries slice data of an IDR / IRAP picture */
    RTP_H26X_VCL = 1u << 4,         /* carries slice data */
    RTP_H26X_AGGREGATE = 1u << 5,   /* STAP-A (24) / AP (48) */
    RTP_H26X_FRAGMENT = 1u << 6,    /* FU-A (28) / FU (49), any part */
    RTP_H26X_FRAG_START = 1u << 7,  /* FU with the S bit: first fragment of a NAL unit */
    RTP_H26X_FRAG_END = 1u << 8,    /* FU with the E bit: last fragment of a NAL unit */
    RTP_H26X_UNSUPPORTED = 1u << 9, /* a packet type this module does not interpret */
    RTP_H26X_MALFORMED = 1u << 10,  /* violates RFC 6184 / RFC 7798 framing */
};

/* Classifies one RTP payload (the rtp_view payload, padding excluded) of the given codec.
 * Returns a bitmask of enum rtp_h26x_flag; 0 means a well-formed packet with nothing of
 * note (e.g. an SEI on its own). With MALFORMED or UNSUPPORTED set, KEY_START and AU_START
 * are never set. An unknown codec value gives UNSUPPORTED. Reads nothing outside
 * payload[0..len); payload may be NULL when len is 0. */
unsigned rtp_h26x_classify(enum rtp_h26x_codec codec, const uint8_t *payload, size_t len);

/* Shorthand for rtp_h26x_classify(...) & RTP_H26X_KEY_START. */
bool rtp_h26x_is_key_start(enum rtp_h26x_codec codec, const uint8_t *payload, size_t len);

/* Takes the next parameter set from an SDP list *list -- the value of H.264
 * sprop-parameter-sets (RFC 6184 §8.1) or of H.265 sprop-vps / sprop-sps / sprop-pps
 * (RFC 7798 §7.1): comma-separated standard base64 (RFC 4648 §4, padding optional) -- decodes
 * it into out[cap] and advances *list past it. Returns the NAL unit's length (> 0), 0 when
 * the list is empty, RD_EPROTO for bad base64, an empty entry, or a NAL unit that is not a
 * parameter set of the codec (H.264 SPS 7, PPS 8, SPS extension 13, subset SPS 15; H.265
 * VPS/SPS/PPS 32..34, F bit clear, TID > 0), or RD_ELIMIT when it does not fit in out[cap].
 * *list is a view into the caller's SDP; out is written only up to the returned length. */
int rtp_h26x_sprop_next(enum rtp_h26x_codec codec, struct rd_str *list, uint8_t *out, size_t cap);

#endif
