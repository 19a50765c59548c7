/* SPDX-License-Identifier: MIT */
/* Fixed-capacity byte buffer: bytes are appended at the tail and consumed from the front;
 * it never grows, and a write that does not fit fails with RD_ELIMIT and changes nothing. */
#ifndef RD_BASE_BUF_H
#define RD_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>

/* Content is data[start .. start+len). Free space is cap - len; the part of it after the
 * content (the tail, for recv()) is made contiguous lazily, by moving the content to the
 * front only when the tail gets short (see rd_buf_tail). */
struct rd_buf {
    char *data;
    size_t cap;   /* bytes of memory at data */
    size_t start; /* offset of the first unconsumed byte */
    size_t len;   /* bytes of content */
    bool owned;   /* data came from rd_buf_alloc and is freed by rd_buf_free */
};

/* Uses the caller's mem[cap] (borrowed: it must outlive the buffer). Starts empty. */
void rd_buf_init(struct rd_buf *b, void *mem, size_t cap);

/* Allocates cap bytes (owned). Returns RD_OK or RD_ENOMEM (b is then empty with cap 0). */
int rd_buf_alloc(struct rd_buf *b, size_t cap);

/* Frees owned memory; leaves b empty with cap 0. Borrowed memory is left alone. */
void rd_buf_free(struct rd_buf *b);

/* The content: valid until the next call that modifies b. */
static inline char *
rd_buf_head(const struct rd_buf *b)
{
    return b->data + b->start;
}

static inline size_t
rd_buf_len(const struct rd_buf *b)
{
    return b->len;
}

/* Free bytes in total (after a compaction); 0 means the buffer is full. */
static inline size_t
rd_buf_space(const struct rd_buf *b)
{
    return b->cap - b->len;
}

/* Empties the buffer. */
void rd_buf_reset(struct rd_buf *b);

/* Appends n bytes. Returns RD_OK, or RD_ELIMIT if they do not fit (b unchanged). */
int rd_buf_append(struct rd_buf *b, const void *p, size_t n);

/* Appends printf output. Needs one byte of room beyond the text for vsnprintf's NUL (the NUL
 * is not content). Returns RD_OK, RD_ELIMIT if it does not fit (content unchanged, never
 * truncated), or RD_EPROTO if formatting fails. */
int rd_buf_appendf(struct rd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drops n bytes (n <= len) from the front. An emptied buffer restarts at offset 0. */
void rd_buf_consume(struct rd_buf *b, size_t n);

/* Contiguous free space after the content, for recv(): returns its start and sets *avail.
 * Moves the content to the front first when the tail is under half the capacity and moving
 * gains room, so *avail is 0 only when the buffer is full. Pointers into the content are
 * invalidated by this call. Follow a successful recv() with rd_buf_commit(). */
char *rd_buf_tail(struct rd_buf *b, size_t *avail);

/* Adds n bytes written into the tail to the content (n <= the last *avail). */
void rd_buf_commit(struct rd_buf *b, size_t n);

#endif
