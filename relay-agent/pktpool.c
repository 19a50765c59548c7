/* SPDX-License-Identifier: MIT */
/* Packet slabs: one malloc per slab holds the headers and the buffers of up to
 * PKTPOOL_SLAB_BYTES of one size class; free buffers sit on a LIFO list per class. */
#include "pktpool.h"

#include <stdlib.h>
#include <string.h>

#include "rd_err.h"

/* Buffer bytes per slab: few mallocs for the small class, one or two buffers for the large
 * one; a fully free slab can be trimmed back to malloc. */
#define PKTPOOL_SLAB_BYTES (128u * 1024u)
/* Buffers start at this alignment inside a slab (a cache line). */
#define PKTPOOL_ALIGN 64u

struct pkt_slab {
    struct pkt_slab *next;       /* in its class's slab list */
    struct pktpool_class *owner; /* class the buffers belong to */
    uint32_t n;                  /* buffers in this slab */
    uint32_t n_free;             /* of those, on the free list */
    bool doomed;                 /* selected by pktpool_trim */
    struct pkt hdr[];            /* n headers, then (aligned) n buffers */
};

static const uint32_t class_size[PKT_CLASS_N] = {
    RD_PKTPOOL_SMALL_BUF,
    RD_PKTPOOL_MID_BUF,
    RD_PKTPOOL_LARGE_BUF,
};

static const uint32_t class_limit[PKT_CLASS_N] = {
    RD_PKTPOOL_SMALL_MAX,
    RD_PKTPOOL_MID_MAX,
    RD_PKTPOOL_LARGE_MAX,
};

_Static_assert(RD_PKTPOOL_LARGE_BUF >= RD_RTP_MAX_PACKET, "the largest class holds any frame");
_Static_assert(RD_PKTPOOL_SMALL_BUF < RD_PKTPOOL_MID_BUF
                   && RD_PKTPOOL_MID_BUF < RD_PKTPOOL_LARGE_BUF,
               "classes are ordered by size");

void
pktpool_cfg_default(struct pktpool_cfg *cfg)
{
    for (unsigned i = 0; i < PKT_CLASS_N; i++)
        cfg->max_bufs[i] = class_limit[i];
}

int
pktpool_init(struct pktpool *pool, const struct pktpool_cfg *cfg)
{
    struct pktpool_cfg def;
    if (cfg == NULL) {
        pktpool_cfg_default(&def);
        cfg = &def;
    }
    memset(pool, 0, sizeof(*pool));
    for (unsigned i = 0; i < PKT_CLASS_N; i++) {
        if (cfg->max_bufs[i] == 0)
            return RD_EPROTO;
        struct pktpool_class *c = &pool->cls[i];
        c->buf_size = class_size[i];
        c->max_bufs = cfg->max_bufs[i] < class_limit[i] ? cfg->max_bufs[i] : class_limit[i];
        c->per_slab = PKTPOOL_SLAB_BYTES / c->buf_size;
        if (c->per_slab == 0)
            c->per_slab = 1;
    }
    return RD_OK;
}

/* Offset of the first buffer in a slab of n buffers. */
static size_t
slab_data_off(uint32_t n)
{
    size_t off = sizeof(struct pkt_slab) + (size_t)n * sizeof(struct pkt);
    return (off + PKTPOOL_ALIGN - 1) / PKTPOOL_ALIGN * PKTPOOL_ALIGN;
}

static size_t
slab_bytes(const struct pktpool_class *c, uint32_t n)
{
    return slab_data_off(n) + (size_t)n * c->buf_size;
}

/* Adds a slab to class ci, within its limit. Returns false when at the limit or out of
 * memory. */
static bool
slab_grow(struct pktpool_class *c, unsigned ci)
{
    uint32_t room = c->max_bufs - c->n_bufs;
    uint32_t n = c->per_slab < room ? c->per_slab : room;
    if (n == 0)
        return false;
    /* aligned_alloc needs a size that is a multiple of the alignment. */
    size_t bytes = (slab_bytes(c, n) + PKTPOOL_ALIGN - 1) / PKTPOOL_ALIGN * PKTPOOL_ALIGN;
    struct pkt_slab *s = aligned_alloc(PKTPOOL_ALIGN, bytes);
    if (s == NULL)
        return false;
    s->owner = c;
    s->n = n;
    s->n_free = n;
    s->doomed = false;
    uint8_t *data = (uint8_t *)s + slab_data_off(n);
    for (uint32_t i = 0; i < n; i++) {
        struct pkt *p = &s->hdr[i];
        memset(p, 0, sizeof(*p));
        p->data = data + (size_t)i * c->buf_size;
        p->cap = c->buf_size;
        p->cls = (uint8_t)ci;
        p->slab = s;
        p->next_free = c->free;
        c->free = p;
    }
    s->next = c->slabs;
    c->slabs = s;
    c->n_slabs++;
    c->n_bufs += n;
    c->n_free += n;
    return true;
}

struct pkt *
pktpool_alloc(struct pktpool *pool, size_t need)
{
    if (need == 0 || need > RD_PKTPOOL_LARGE_BUF)
        return NULL;
    unsigned first = 0;
    while (pool->cls[first].buf_size < need)
        first++;
    for (unsigned ci = first; ci < PKT_CLASS_N; ci++) {
        struct pktpool_class *c = &pool->cls[ci];
        if (c->free == NULL && !slab_grow(c, ci))
            continue;
        struct pkt *p = c->free;
        c->free = p->next_free;
        c->n_free--;
        p->slab->n_free--;
        p->next_free = NULL;
        p->refs = 1;
        p->len = 0;
        p->flags = 0;
        p->track = 0;
        p->seq = 0;
        p->ts = 0;
        p->arrival_at = 0;
        c->allocs++;
        return p;
    }
    pool->cls[first].fails++;
    return NULL;
}

void
pktpool_release(struct pkt *p)
{
    assert(p->refs == 0);
    struct pktpool_class *c = p->slab->owner;
    p->next_free = c->free;
    c->free = p;
    c->n_free++;
    p->slab->n_free++;
}

unsigned
pktpool_trim(struct pktpool *pool, uint32_t keep_free_bufs)
{
    unsigned released = 0;
    for (unsigned ci = 0; ci < PKT_CLASS_N; ci++) {
        struct pktpool_class *c = &pool->cls[ci];
        uint32_t excess = c->n_free > keep_free_bufs ? c->n_free - keep_free_bufs : 0;
        unsigned doomed = 0;
        for (struct pkt_slab *s = c->slabs; s != NULL && excess > 0; s = s->next) {
            if (s->n_free == s->n && s->n <= excess) {
                s->doomed = true;
                excess -= s->n;
                doomed++;
            }
        }
        if (doomed == 0)
            continue;
        /* Rebuild the free list without the doomed slabs' buffers, keeping its order. */
        struct pkt **tail = &c->free;
        for (struct pkt *p = c->free; p != NULL; p = p->next_free) {
            if (!p->slab->doomed) {
                *tail = p;
                tail = &p->next_free;
            }
        }
        *tail = NULL;
        for (struct pkt_slab **sp = &c->slabs; *sp != NULL;) {
            struct pkt_slab *s = *sp;
            if (!s->doomed) {
                sp = &s->next;
                continue;
            }
            *sp = s->next;
            c->n_bufs -= s->n;
            c->n_free -= s->n;
            c->n_slabs--;
            free(s);
            released++;
        }
    }
    return released;
}

uint32_t
pktpool_in_use(const struct pktpool *pool)
{
    uint32_t n = 0;
    for (unsigned ci = 0; ci < PKT_CLASS_N; ci++)
        n += pool->cls[ci].n_bufs - pool->cls[ci].n_free;
    return n;
}

size_t
pktpool_bytes(const struct pktpool *pool)
{
    size_t n = 0;
    for (unsigned ci = 0; ci < PKT_CLASS_N; ci++) {
        const struct pktpool_class *c = &pool->cls[ci];
        for (const struct pkt_slab *s = c->slabs; s != NULL; s = s->next)
            n += slab_bytes(c, s->n);
    }
    return n;
}

int
pktpool_fini(struct pktpool *pool)
{
    if (pktpool_in_use(pool) != 0)
        return RD_EBUSY;
    for (unsigned ci = 0; ci < PKT_CLASS_N; ci++) {
        struct pktpool_class *c = &pool->cls[ci];
        while (c->slabs != NULL) {
            struct pkt_slab *s = c->slabs;
            c->slabs = s->next;
            free(s);
        }
        c->free = NULL;
        c->n_bufs = c->n_free = c->n_slabs = 0;
    }
    return RD_OK;
}
