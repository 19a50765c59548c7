/* SPDX-License-Identifier: MIT */
/* Splits an RTSP TCP stream with interleaved binary data (RFC 2326 §10.12) into items: an
 * RTSP message or a '$' frame. Stateless and allocation-free, correct under any chunking. */
#ifndef RD_PROTO_RTSP_FRAME_H
#define RD_PROTO_RTSP_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rd_limits.h"
#include "rtsp_msg.h"

/* '$' channel length(16 bits, network order) payload: RFC 2326 §10.12. */
#define RTSP_FRAME_MAGIC      '$'
#define RTSP_FRAME_HEADER_LEN 4
/* The largest item: a frame of RD_RTP_MAX_PACKET bytes, or a maximal response. Size a
 * camera connection's input buffer to this. */
#define RTSP_FRAME_MAX_ITEM_BYTES                                                                  \
    (RTSP_MSG_MAX_RESPONSE_BYTES > RTSP_FRAME_HEADER_LEN + RD_RTP_MAX_PACKET                       \
         ? RTSP_MSG_MAX_RESPONSE_BYTES                                                             \
         : RTSP_FRAME_HEADER_LEN + RD_RTP_MAX_PACKET)

enum rtsp_frame_kind {
    RTSP_FRAME_MSG,  /* an RTSP message, parsed into the caller's struct rtsp_msg */
    RTSP_FRAME_DATA, /* a '$' frame: channel and payload */
    RTSP_FRAME_EMPTY /* empty lines right before a '$' frame (some servers send CRLF after a
                      * message body): consume them and go on */
};

struct rtsp_frame {
    enum rtsp_frame_kind kind;
    uint8_t channel;        /* DATA: the interleaved channel, 0-255 (unchecked here) */
    const uint8_t *payload; /* DATA: view into buf; NULL when payload_len is 0 */
    size_t payload_len;     /* DATA: 0-65535 (RD_RTP_MAX_PACKET) */
};

/* Identifies the item at the start of buf[0..len), which must be an item boundary (the
 * stream start, or just after the bytes of the previous item). A '$' there starts a frame;
 * anything else is parsed as an RTSP message of msg_kind (requests on a viewer connection,
 * responses on a camera connection) with limits lim (NULL: defaults), so a '$' inside a
 * header block or body is never taken for a frame.
 * Returns the item's length in bytes (> 0) and fills *item (and *msg for RTSP_FRAME_MSG);
 * RD_AGAIN until the whole item is in buf (a frame needs 4 + length bytes); or the message
 * parser's RD_EPROTO/RD_ELIMIT with msg->error and msg->status_hint set: the stream cannot
 * be resynchronised, close it. Up to max_leading_empty_lines empty lines are allowed at a
 * boundary, as the message parser allows them before a message.
 * The result for a given prefix never changes when more bytes arrive. Views in *item and
 * *msg point into buf (borrowed; valid until the caller consumes those bytes). Never
 * allocates, never reads buf[len]. */
ssize_t rtsp_frame_next(const char *buf, size_t len, enum rtsp_msg_kind msg_kind,
                        const struct rtsp_limits *lim, struct rtsp_frame *item,
                        struct rtsp_msg *msg);

#endif
