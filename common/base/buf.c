/* SPDX-License-Identifier: MIT */
/* Fixed-capacity byte buffer (curl dynbuf's "too big" cap, without the growth). */
#include "buf.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_err.h"

void
rd_buf_init(struct rd_buf *b, void *mem, size_t cap)
{
    b->data = mem;
    b->cap = cap;
    b->start = 0;
    b->len = 0;
    b->owned = false;
}

int
rd_buf_alloc(struct rd_buf *b, size_t cap)
{
    void *mem = malloc(cap > 0 ? cap : 1);
    rd_buf_init(b, mem, mem != NULL ? cap : 0);
    b->owned = mem != NULL;
    return mem != NULL ? RD_OK : RD_ENOMEM;
}

void
rd_buf_free(struct rd_buf *b)
{
    if (b->owned)
        free(b->data);
    rd_buf_init(b, NULL, 0);
}

void
rd_buf_reset(struct rd_buf *b)
{
    b->start = 0;
    b->len = 0;
}

/* Moves the content to offset 0. */
static void
compact(struct rd_buf *b)
{
    if (b->start == 0)
        return;
    if (b->len > 0)
        memmove(b->data, b->data + b->start, b->len);
    b->start = 0;
}

static size_t
tail_len(const struct rd_buf *b)
{
    return b->cap - b->start - b->len;
}

int
rd_buf_append(struct rd_buf *b, const void *p, size_t n)
{
    if (n > rd_buf_space(b))
        return RD_ELIMIT;
    if (n > tail_len(b))
        compact(b);
    if (n > 0)
        memcpy(b->data + b->start + b->len, p, n);
    b->len += n;
    return RD_OK;
}

int
rd_buf_appendf(struct rd_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    /* Try the tail as it is; vsnprintf reports the full length, so a miss costs one retry
     * after compacting, and a text larger than all free space changes nothing. */
    size_t tail = tail_len(b);
    int n = vsnprintf(tail > 0 ? b->data + b->start + b->len : NULL, tail, fmt, ap);
    va_end(ap);
    int rc = RD_OK;
    if (n < 0) {
        rc = RD_EPROTO;
    } else if ((size_t)n >= rd_buf_space(b)) {
        rc = RD_ELIMIT;
    } else if ((size_t)n >= tail) {
        compact(b);
        int n2 = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
        assert(n2 == n);
        (void)n2;
    }
    va_end(ap2);
    if (rc == RD_OK)
        b->len += (size_t)n;
    return rc;
}

void
rd_buf_consume(struct rd_buf *b, size_t n)
{
    assert(n <= b->len);
    if (n > b->len)
        n = b->len;
    b->start += n;
    b->len -= n;
    if (b->len == 0)
        b->start = 0;
}

char *
rd_buf_tail(struct rd_buf *b, size_t *avail)
{
    if (b->start > 0 && tail_len(b) < b->cap / 2)
        compact(b);
    *avail = tail_len(b);
    return b->data + b->start + b->len;
}

void
rd_buf_commit(struct rd_buf *b, size_t n)
{
    assert(n <= tail_len(b));
    if (n > tail_len(b))
        n = tail_len(b);
    b->len += n;
}
