/* SPDX-License-Identifier: MIT */
/* A bounded writer into a caller's buffer for the protocol formatters: appends either fit
 * whole or set a sticky overflow flag, and rd_out_finish() turns overflow into RD_ELIMIT, so
 * a formatter never returns a truncated result. Never allocates. */
#ifndef RD_PROTO_RD_OUT_H
#define RD_PROTO_RD_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_str.h"

struct rd_out {
    char *p;       /* the caller's buffer (borrowed) */
    size_t cap;    /* bytes p can hold, the final NUL included */
    size_t len;    /* bytes written */
    bool overflow; /* an append did not fit: everything after it was dropped */
};

static inline struct rd_out
rd_out_make(char *p, size_t cap)
{
    return (struct rd_out){p, cap, 0, false};
}

/* Appends n bytes, or sets overflow (and appends nothing) if they do not fit. */
void rd_out_put(struct rd_out *o, const void *s, size_t n);
void rd_out_puts(struct rd_out *o, const char *s);
void rd_out_str(struct rd_out *o, struct rd_str s);
/* Appends v in decimal. */
void rd_out_u64(struct rd_out *o, uint64_t v);
/* Appends the terminating NUL. Returns the length written (without the NUL), or RD_ELIMIT
 * when anything overflowed; then the buffer holds an empty string (if cap > 0). */
int rd_out_finish(struct rd_out *o);

#endif
