/* SPDX-License-Identifier: MIT */
/* Brace-range URL patterns (rbench_url.h). */
#include "rbench_url.h"

#include <stdbool.h>
#include <string.h>

#include "rbench_limits.h"
#include "rd_err.h"
#include "rd_str.h"

struct range {
    bool present;
    size_t open, close; /* offsets of '{' and '}' */
    uint64_t lo, hi;
    size_t width; /* pad to this many digits; 0: no padding */
};

/* Finds and checks the one range of pat. */
static int
range_find(const char *pat, struct range *r)
{
    memset(r, 0, sizeof(*r));
    const char *open = strchr(pat, '{');
    const char *close = strchr(pat, '}');
    if (!open && !close)
        return RD_OK;
    if (!open || !close || close < open)
        return RD_EPROTO;
    if (strchr(open + 1, '{') || strchr(close + 1, '}'))
        return RD_EPROTO;
    const char *dots = strstr(open + 1, "..");
    if (!dots || dots > close)
        return RD_EPROTO;
    struct rd_str a = {open + 1, (size_t)(dots - open - 1)};
    struct rd_str b = {dots + 2, (size_t)(close - dots - 2)};
    if (rd_str_to_u64(a, 9, UINT64_MAX, &r->lo) != RD_OK
        || rd_str_to_u64(b, 9, UINT64_MAX, &r->hi) != RD_OK || r->hi < r->lo)
        return RD_EPROTO;
    r->present = true;
    r->open = (size_t)(open - pat);
    r->close = (size_t)(close - pat);
    r->width = (a.len > 1 && a.p[0] == '0') ? a.len : 0;
    return RD_OK;
}

int
rbench_url_pattern_count(const char *pat, uint64_t *n)
{
    struct range r;
    int rc = range_find(pat, &r);
    if (rc != RD_OK)
        return rc;
    *n = r.present ? r.hi - r.lo + 1 : 1;
    return *n > RBENCH_MAX_URLS ? RD_ELIMIT : RD_OK;
}

int
rbench_url_pattern_nth(const char *pat, uint64_t i, char *out, size_t cap)
{
    if (cap > 0)
        out[0] = '\0';
    struct range r;
    int rc = range_find(pat, &r);
    if (rc != RD_OK)
        return rc;
    size_t plen = strlen(pat);
    if (!r.present) {
        if (i != 0)
            return RD_EPROTO;
        if (plen >= cap)
            return RD_ELIMIT;
        memcpy(out, pat, plen + 1);
        return (int)plen;
    }
    if (i > r.hi - r.lo)
        return RD_EPROTO;
    uint64_t v = r.lo + i;
    char num[24];
    size_t nn = 0;
    do {
        num[nn++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t digits = nn < r.width ? r.width : nn;
    size_t tail = plen - r.close - 1;
    size_t len = r.open + digits + tail;
    if (len >= cap)
        return RD_ELIMIT;
    memcpy(out, pat, r.open);
    size_t o = r.open;
    for (size_t k = nn; k < digits; k++)
        out[o++] = '0';
    for (size_t k = 0; k < nn; k++)
        out[o++] = num[nn - 1 - k];
    memcpy(out + o, pat + r.close + 1, tail);
    out[len] = '\0';
    return (int)len;
}
