/* SPDX-License-Identifier: MIT */
/* H.264 Annex B start-code scanning and access-unit boundaries (H.264 Annex B.2, §7.4.1.2.3).
 * Used once at start-up to index the simulator's media file. */
#include "annexb.h"

#include <string.h>

#include "rd_err.h"

/* Offset of the first byte after the next 00 00 01 at or after from, or len when none. */
static size_t
find_start_code_end(const uint8_t *buf, size_t len, size_t from)
{
    size_t i = from;
    while (i + 3 <= len) {
        const uint8_t *q = memchr(buf + i + 2, 1, len - i - 2);
        if (!q)
            return len;
        size_t one = (size_t)(q - buf);
        if (buf[one - 1] == 0 && buf[one - 2] == 0)
            return one + 1;
        i = one - 1;
    }
    return len;
}

int
annexb_next(const uint8_t *buf, size_t len, size_t *pos, struct annexb_nal *nal)
{
    size_t i = *pos;
    if (i >= len)
        return 0;
    if (i == 0) {
        /* Annex B.2: leading_zero_8bits, then a start code. Anything else is not Annex B. */
        size_t z = 0;
        while (z < len && buf[z] == 0)
            z++;
        if (z < 2 || z == len || buf[z] != 1)
            return RD_EPROTO;
        i = z + 1;
    }
    if (i >= len)
        return RD_EPROTO; /* a start code with nothing after it */
    size_t next = find_start_code_end(buf, len, i);
    size_t end = next == len ? len : next - 3; /* before 00 00 01 */
    while (end > i && buf[end - 1] == 0)       /* zero_byte / trailing_zero_8bits */
        end--;
    if (end == i || (buf[i] & 0x80))
        return RD_EPROTO; /* empty NAL unit, or forbidden_zero_bit set (§7.4.1) */
    nal->p = buf + i;
    nal->len = end - i;
    nal->type = buf[i] & 0x1f;
    *pos = next;
    return 1;
}

bool
annexb_is_vcl(const struct annexb_nal *nal)
{
    return nal->type >= 1 && nal->type <= 5;
}

bool
annexb_first_slice(const struct annexb_nal *nal)
{
    return annexb_is_vcl(nal) && nal->len >= 2 && (nal->p[1] & 0x80);
}

bool
annexb_starts_au(const struct annexb_nal *nal, bool au_has_vcl)
{
    if (!au_has_vcl)
        return false;
    switch (nal->type) {
    case ANNEXB_NAL_SEI:
    case ANNEXB_NAL_SPS:
    case ANNEXB_NAL_PPS:
    case ANNEXB_NAL_AUD:
    case 14:
    case 15:
    case 16:
    case 17:
    case 18:
        return true;
    default:
        return annexb_first_slice(nal);
    }
}
