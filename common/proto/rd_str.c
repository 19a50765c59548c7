/* SPDX-License-Identifier: MIT */
/* String views: comparisons and bounded number parsing without locale or errno. */
#include "rd_str.h"

#include "rd_err.h"

static inline unsigned char
lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

bool
rd_str_eq_ci(struct rd_str a, struct rd_str b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i]))
            return false;
    }
    return true;
}

bool
rd_str_eq_ci_cstr(struct rd_str a, const char *s)
{
    return rd_str_eq_ci(a, rd_str_cstr(s));
}

bool
rd_str_starts_with_ci(struct rd_str a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && rd_str_eq_ci(rd_str_make(a.p, n), rd_str_make(prefix, n));
}

bool
rd_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && memchr("!#$%&'*+-.^_`|~", c, 15) != NULL;
}

bool
rd_str_is_token(struct rd_str s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (!rd_is_tchar((unsigned char)s.p[i]))
            return false;
    }
    return true;
}

int
rd_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

struct rd_str
rd_str_trim(struct rd_str s)
{
    while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    if (s.len == 0)
        s.p = NULL;
    return s;
}

struct rd_str
rd_str_split(struct rd_str s, char sep, struct rd_str *head, bool *found)
{
    const char *hit = s.len > 0 ? memchr(s.p, sep, s.len) : NULL;
    if (hit == NULL) {
        *head = s;
        if (found != NULL)
            *found = false;
        return RD_STR_NULL;
    }
    *head = rd_str_make(s.p, (size_t)(hit - s.p));
    if (found != NULL)
        *found = true;
    return rd_str_make(hit + 1, s.len - (size_t)(hit - s.p) - 1);
}

int
rd_str_to_u64(struct rd_str s, unsigned max_digits, uint64_t max, uint64_t *out)
{
    if (s.len == 0 || s.len > max_digits || max_digits > 19)
        return RD_EPROTO;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < '0' || c > '9')
            return RD_EPROTO;
        v = v * 10 + (uint64_t)(c - '0'); /* 19 digits cannot overflow 64 bits */
    }
    if (v > max)
        return RD_EPROTO;
    *out = v;
    return RD_OK;
}

int
rd_str_to_u32(struct rd_str s, unsigned max_digits, uint32_t max, uint32_t *out)
{
    uint64_t v;
    int rc = rd_str_to_u64(s, max_digits > 10 ? 10 : max_digits, max, &v);
    if (rc == RD_OK)
        *out = (uint32_t)v;
    return rc;
}

int
rd_str_copy(char *dst, size_t cap, struct rd_str s)
{
    if (cap == 0 || s.len >= cap)
        return RD_ELIMIT;
    if (s.len > 0)
        memcpy(dst, s.p, s.len);
    dst[s.len] = '\0';
    return RD_OK;
}
