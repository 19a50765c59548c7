/* SPDX-License-Identifier: MIT */
/* RFC 6184 §5.6 single NAL unit and §5.8 FU-A packets for the camera simulator. */
#include "h264pack.h"

#include "rd_err.h"

void
h264pack_rtp_header(uint8_t out[RTP_HEADER_LEN], const struct h264pack_rtp *rtp, bool marker)
{
    out[0] = RTP_VERSION << 6;
    out[1] = (uint8_t)((marker ? 0x80 : 0) | (rtp->pt & 0x7f));
    out[2] = (uint8_t)(rtp->seq >> 8);
    out[3] = (uint8_t)rtp->seq;
    out[4] = (uint8_t)(rtp->ts >> 24);
    out[5] = (uint8_t)(rtp->ts >> 16);
    out[6] = (uint8_t)(rtp->ts >> 8);
    out[7] = (uint8_t)rtp->ts;
    out[8] = (uint8_t)(rtp->ssrc >> 24);
    out[9] = (uint8_t)(rtp->ssrc >> 16);
    out[10] = (uint8_t)(rtp->ssrc >> 8);
    out[11] = (uint8_t)rtp->ssrc;
}

static bool
mtu_ok(size_t mtu)
{
    return mtu >= RTP_HEADER_LEN + 2 + H264PACK_PAYLOAD_MIN;
}

size_t
h264pack_count(size_t nal_len, size_t mtu)
{
    if (nal_len == 0 || !mtu_ok(mtu))
        return 0;
    if (nal_len <= mtu - RTP_HEADER_LEN)
        return 1;
    size_t frag = mtu - RTP_HEADER_LEN - 2;
    return (nal_len - 1 + frag - 1) / frag;
}

int
h264pack_next(const struct h264pack_rtp *rtp, bool au_last, const uint8_t *nal, size_t nal_len,
              size_t *off, size_t mtu, struct h264pack_pkt *pkt)
{
    if (nal_len == 0 || !mtu_ok(mtu) || *off >= nal_len)
        return RD_EPROTO;
    if (*off == 0 && nal_len <= mtu - RTP_HEADER_LEN) {
        /* §5.6: the NAL unit as the whole payload. */
        h264pack_rtp_header(pkt->hdr, rtp, au_last);
        pkt->hdr_len = RTP_HEADER_LEN;
        pkt->payload = nal;
        pkt->payload_len = nal_len;
        pkt->nal_done = true;
        *off = nal_len;
        return RD_OK;
    }
    /* §5.8 FU-A: the NAL header's F and NRI go into the FU indicator, its type into the FU
     * header; the payload starts after the NAL header byte. */
    size_t start = *off == 0 ? 1 : *off;
    size_t frag = mtu - RTP_HEADER_LEN - 2;
    size_t n = nal_len - start < frag ? nal_len - start : frag;
    bool first = start == 1, last = start + n == nal_len;
    h264pack_rtp_header(pkt->hdr, rtp, au_last && last);
    pkt->hdr[RTP_HEADER_LEN] = (uint8_t)((nal[0] & 0xe0) | H264PACK_FU_A);
    pkt->hdr[RTP_HEADER_LEN + 1] =
        (uint8_t)((first ? 0x80 : 0) | (last ? 0x40 : 0) | (nal[0] & 0x1f));
    pkt->hdr_len = RTP_HEADER_LEN + 2;
    pkt->payload = nal + start;
    pkt->payload_len = n;
    pkt->nal_done = last;
    *off = start + n;
    return RD_OK;
}
