/* SPDX-License-Identifier: MIT */
/* Interleaved stream splitter (RFC 2326 §10.12). Only the first byte at an item boundary
 * decides between a frame and a message; messages are delegated whole to rtsp_msg_parse. */
#include "rtsp_frame.h"

#include "rd_err.h"
#include "rd_limits.h"

ssize_t
rtsp_frame_next(const char *buf, size_t len, enum rtsp_msg_kind msg_kind,
                const struct rtsp_limits *lim, struct rtsp_frame *item, struct rtsp_msg *msg)
{
    const unsigned char *b = (const unsigned char *)buf;

    *item = (struct rtsp_frame){.kind = RTSP_FRAME_MSG};
    if (len == 0)
        return RD_AGAIN;

    if (b[0] == RTSP_FRAME_MAGIC) {
        if (len < RTSP_FRAME_HEADER_LEN)
            return RD_AGAIN;
        size_t n = ((size_t)b[2] << 8) | b[3]; /* at most 65535 by construction */
        if (len - RTSP_FRAME_HEADER_LEN < n)
            return RD_AGAIN;
        item->kind = RTSP_FRAME_DATA;
        item->channel = b[1];
        item->payload = n > 0 ? (const uint8_t *)b + RTSP_FRAME_HEADER_LEN : NULL;
        item->payload_len = n;
        return (ssize_t)(RTSP_FRAME_HEADER_LEN + n);
    }

    /* Empty lines: if a frame follows, they are an item of their own; if a message follows,
     * they belong to it. Anything irregular (too many, CR without LF) goes to the message
     * parser, which reports it exactly as it would at the start of a message. */
    size_t max_empty = RD_RTSP_MAX_LEADING_EMPTY_LINES;
    if (lim != NULL && lim->max_leading_empty_lines < max_empty)
        max_empty = lim->max_leading_empty_lines;
    size_t i = 0;
    for (size_t empty = 0; i < len && (b[i] == '\r' || b[i] == '\n'); empty++) {
        if (empty >= max_empty)
            break;
        if (b[i] == '\r') {
            if (i + 1 >= len)
                return RD_AGAIN;
            if (b[i + 1] != '\n')
                break;
            i += 2;
        } else {
            i++;
        }
    }
    if (i > 0 && i < len && b[i] == RTSP_FRAME_MAGIC) {
        item->kind = RTSP_FRAME_EMPTY;
        return (ssize_t)i;
    }
    return rtsp_msg_parse(buf, len, msg_kind, lim, msg);
}
