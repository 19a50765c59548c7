/* SPDX-License-Identifier: MIT */
/* Bounded writer for protocol formatters: all or nothing, never truncated. */
#include "rd_out.h"

#include <string.h>

#include "rd_err.h"

void
rd_out_put(struct rd_out *o, const void *s, size_t n)
{
    if (o->overflow || n > o->cap || o->len > o->cap - n) {
        o->overflow = true;
        return;
    }
    if (n > 0)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

void
rd_out_puts(struct rd_out *o, const char *s)
{
    rd_out_put(o, s, strlen(s));
}

void
rd_out_str(struct rd_out *o, struct rd_str s)
{
    rd_out_put(o, s.p, s.len);
}

void
rd_out_u64(struct rd_out *o, uint64_t v)
{
    char tmp[20]; /* UINT64_MAX has 20 digits */
    size_t n = 0;
    do {
        tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    rd_out_put(o, tmp + sizeof(tmp) - n, n);
}

int
rd_out_finish(struct rd_out *o)
{
    rd_out_put(o, "", 1);
    if (o->overflow) {
        if (o->cap > 0)
            o->p[0] = '\0';
        return RD_ELIMIT;
    }
    return (int)(o->len - 1);
}
