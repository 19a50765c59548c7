/* SPDX-License-Identifier: MIT */
/* RFC 6184 packetization-mode 1 sender: a NAL unit becomes one single NAL unit packet
 * (§5.6) or FU-A fragments (§5.8) that fit an MTU, each with its RTP header (RFC 3550 §5.1).
 * Pure: headers go into the caller's struct, payloads stay views into the NAL unit. */
#ifndef RD_CAMSIM_H264PACK_H
#define RD_CAMSIM_H264PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtp.h"

#define H264PACK_FU_A        28 /* RFC 6184 §5.8 */
#define H264PACK_MAX_HEADER  (RTP_HEADER_LEN + 2)
#define H264PACK_PAYLOAD_MIN 16 /* smallest useful FU-A fragment */

/* The RTP fields of the packet being built. */
struct h264pack_rtp {
    uint8_t pt; /* payload type 96..127 */
    uint16_t seq;
    uint32_t ts; /* 90 kHz (RFC 6184 §5.1) */
    uint32_t ssrc;
};

/* One packet: hdr[0..hdr_len) (RTP header, plus FU indicator and FU header for FU-A) followed
 * by payload[0..payload_len) (a view into the NAL unit). */
struct h264pack_pkt {
    uint8_t hdr[H264PACK_MAX_HEADER];
    size_t hdr_len;
    const uint8_t *payload;
    size_t payload_len;
    bool nal_done; /* this packet carries the last bytes of the NAL unit */
};

/* Builds the next packet of the NAL unit nal[0..nal_len) (header byte first, no start code),
 * of at most mtu bytes in total (RTP header included). *off is the progress through the NAL
 * unit: 0 before the first packet; updated past what this packet carries; the NAL unit is
 * finished when pkt->nal_done. A NAL unit of up to mtu - 12 bytes is one single NAL unit
 * packet; a larger one is FU-A fragments (§5.8: FU indicator = F|NRI|28, FU header =
 * S|E|R=0|type, the NAL header byte itself not sent), S on the first, E on the last. The
 * marker bit is set when au_last (the NAL unit is the last of its access unit, §5.1) and this
 * is the last packet of the NAL unit. Returns RD_OK, or RD_EPROTO for nal_len 0, *off beyond
 * the NAL unit, or an mtu below RTP_HEADER_LEN + 2 + H264PACK_PAYLOAD_MIN. Borrows nal: the
 * payload view lives as long as it. */
int h264pack_next(const struct h264pack_rtp *rtp, bool au_last, const uint8_t *nal, size_t nal_len,
                  size_t *off, size_t mtu, struct h264pack_pkt *pkt);

/* The number of packets h264pack_next makes of a NAL unit of nal_len bytes at this mtu (0 for
 * nal_len 0 or an mtu it refuses). */
size_t h264pack_count(size_t nal_len, size_t mtu);

/* Writes a 12-byte RTP header (V=2, no padding, extension or CSRC) into out. */
void h264pack_rtp_header(uint8_t out[RTP_HEADER_LEN], const struct h264pack_rtp *rtp, bool marker);

#endif
