/* SPDX-License-Identifier: MIT */
/* H.264 Annex B byte streams (ITU-T H.264 Annex B): split into NAL units at start codes and
 * group NAL units into access units (H.264 §7.4.1.2.3). Pure; never allocates; views only. */
#ifndef RD_CAMSIM_ANNEXB_H
#define RD_CAMSIM_ANNEXB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* H.264 NAL unit types used by the simulator (H.264 Table 7-1). */
#define ANNEXB_NAL_SLICE 1
#define ANNEXB_NAL_IDR   5
#define ANNEXB_NAL_SEI   6
#define ANNEXB_NAL_SPS   7
#define ANNEXB_NAL_PPS   8
#define ANNEXB_NAL_AUD   9

/* One NAL unit: header byte first, start code and trailing zero bytes excluded. */
struct annexb_nal {
    const uint8_t *p; /* view into the caller's stream */
    size_t len;       /* >= 1 */
    uint8_t type;     /* nal_unit_type, p[0] & 0x1f */
};

/* Finds the next NAL unit of the Annex B stream buf[0..len) at or after *pos (0 at the start).
 * A NAL unit starts after a 00 00 01 start code and ends before the next 00 00 00 or 00 00 01
 * (so zero_byte and trailing_zero_8bits are not part of it, Annex B.2).
 * Returns 1 and fills *nal, advancing *pos past it; 0 at the end of the stream; RD_EPROTO when
 * the stream does not start with zero bytes and a start code, a NAL unit is empty, or its
 * forbidden_zero_bit is set (H.264 §7.4.1). Reads nothing outside buf[0..len). */
int annexb_next(const uint8_t *buf, size_t len, size_t *pos, struct annexb_nal *nal);

/* Whether nal is a VCL NAL unit this simulator sends (coded slice 1..5). */
bool annexb_is_vcl(const struct annexb_nal *nal);

/* Whether nal is the first slice of a picture: a VCL NAL unit whose first_mb_in_slice is 0
 * (the ue(v) code "1", i.e. the top bit of the byte after the header). */
bool annexb_first_slice(const struct annexb_nal *nal);

/* H.264 §7.4.1.2.3: whether nal begins a new access unit, given that the access unit being
 * collected already holds a VCL NAL unit (au_has_vcl). True for AUD, SEI, SPS, PPS and types
 * 14..18, and for the first slice of a picture, after a VCL NAL unit; false otherwise. */
bool annexb_starts_au(const struct annexb_nal *nal, bool au_has_vcl);

#endif
