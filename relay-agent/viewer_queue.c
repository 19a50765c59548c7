/* SPDX-License-Identifier: MIT */
/* Viewer send queue: a growable ring (doubling up to a cap) of packet references and the
 * fill-level arithmetic of SECURITY.md §2.2. */
#include "viewer_queue.h"

#include <stdlib.h>
#include <string.h>

#include "rd_err.h"

/* First ring allocation: a frame or two; grows by doubling. */
#define VQUEUE_INITIAL_CAP 64u

void
vqueue_limits_default(struct vqueue_limits *l)
{
    l->max_bytes = RD_VIEWER_QUEUE_MAX_BYTES;
    l->max_packets = RD_VIEWER_QUEUE_MAX_PACKETS;
    l->max_ms = RD_VIEWER_QUEUE_MAX_MS;
    l->high_pct = RD_VIEWER_QUEUE_HIGH_WATER_PCT;
}

int
vqueue_limits_check(const struct vqueue_limits *l)
{
    if (l->max_bytes == 0 || l->max_packets == 0 || l->max_ms == 0)
        return RD_EPROTO;
    if (l->high_pct == 0 || l->high_pct > 100)
        return RD_EPROTO;
    return RD_OK;
}

void
vqueue_init(struct vqueue *q, uint32_t max_entries)
{
    memset(q, 0, sizeof(*q));
    q->max_cap = max_entries > 0 ? max_entries : 1;
}

void
vqueue_fini(struct vqueue *q)
{
    while (q->n > 0)
        vqueue_pop(q);
    free(q->ring);
    uint32_t max_cap = q->max_cap;
    vqueue_init(q, max_cap);
}

/* Age of the head entry at now_ms (0 when empty). */
static uint32_t
head_age_ms(const struct vqueue *q, uint32_t now_ms)
{
    if (q->n == 0)
        return 0;
    uint32_t age = now_ms - vqueue_at(q, 0)->enq_ms;
    /* A clock step backwards shows as a huge unsigned age: treat it as fresh. */
    return age > UINT32_MAX / 2 ? 0 : age;
}

/* v * pct / 100 without overflow for any size_t v. */
static size_t
pct_of(size_t v, uint32_t pct)
{
    return v / 100 * pct + v % 100 * pct / 100;
}

enum vqueue_level
vqueue_level(const struct vqueue *q, const struct vqueue_limits *l, size_t add_bytes,
             uint32_t now_ms)
{
    size_t live_n = (size_t)vqueue_live_len(q) + 1;
    size_t live_bytes = q->bytes - q->join_bytes - q->ctl_bytes + add_bytes;
    size_t age = head_age_ms(q, now_ms);
    if (live_n > l->max_packets || live_bytes > l->max_bytes || age >= l->max_ms)
        return VQUEUE_FULL;
    if (live_n > pct_of(l->max_packets, l->high_pct)
        || live_bytes > pct_of(l->max_bytes, l->high_pct) || age >= pct_of(l->max_ms, l->high_pct))
        return VQUEUE_HIGH;
    return VQUEUE_OK;
}

/* Grows the ring (doubling, at most max_cap), keeping the entries in order. */
static int
grow(struct vqueue *q)
{
    if (q->cap >= q->max_cap)
        return RD_ELIMIT;
    uint32_t ncap = q->cap == 0 ? VQUEUE_INITIAL_CAP : q->cap * 2;
    if (ncap > q->max_cap || ncap < q->cap)
        ncap = q->max_cap;
    struct vqueue_entry *r = malloc((size_t)ncap * sizeof(*r));
    if (r == NULL)
        return RD_ENOMEM;
    for (uint32_t i = 0; i < q->n; i++)
        r[i] = *vqueue_at(q, i);
    free(q->ring);
    q->ring = r;
    q->cap = ncap;
    q->head = 0;
    return RD_OK;
}

int
vqueue_push(struct vqueue *q, struct pkt *p, uint8_t tag, uint8_t flags, uint32_t now_ms)
{
    if (q->n == q->cap) {
        int rc = grow(q);
        if (rc != RD_OK)
            return rc;
    }
    uint32_t k = q->head + q->n;
    if (k >= q->cap)
        k -= q->cap;
    q->ring[k] = (struct vqueue_entry){pkt_ref(p), now_ms, tag, flags};
    q->n++;
    q->bytes += p->len;
    if (flags & VQUEUE_JOIN) {
        q->join_n++;
        q->join_bytes += p->len;
    }
    if (flags & VQUEUE_CONTROL) {
        q->ctl_n++;
        q->ctl_bytes += p->len;
    }
    return RD_OK;
}

/* Takes e's packet out of the accounting and drops its reference. */
static void
forget(struct vqueue *q, struct vqueue_entry *e)
{
    struct pkt *p = e->p;
    q->bytes -= p->len;
    if (e->flags & VQUEUE_JOIN) {
        q->join_n--;
        q->join_bytes -= p->len;
    }
    if (e->flags & VQUEUE_CONTROL) {
        q->ctl_n--;
        q->ctl_bytes -= p->len;
    }
    e->p = NULL;
    pkt_unref(p);
}

void
vqueue_pop(struct vqueue *q)
{
    assert(q->n > 0);
    struct vqueue_entry *e = vqueue_at(q, 0);
    if (e->p != NULL)
        forget(q, e);
    else
        q->purged_n--;
    q->head++;
    if (q->head == q->cap)
        q->head = 0;
    q->n--;
    q->head_off = 0;
}

void
vqueue_pop_tail(struct vqueue *q)
{
    assert(q->n > 0 && (q->n > 1 || q->head_off == 0));
    struct vqueue_entry *e = vqueue_at(q, q->n - 1);
    if (e->p != NULL)
        forget(q, e);
    else
        q->purged_n--;
    q->n--;
}

uint32_t
vqueue_purge_tag(struct vqueue *q, uint8_t tag)
{
    uint32_t purged = 0;
    for (uint32_t i = q->head_off > 0 ? 1 : 0; i < q->n; i++) {
        struct vqueue_entry *e = vqueue_at(q, i);
        if (e->p == NULL || e->tag != tag)
            continue;
        forget(q, e);
        e->tag = VQUEUE_TAG_SKIP;
        q->purged_n++;
        purged++;
    }
    return purged;
}
