/* SPDX-License-Identifier: MIT */
/* A viewer's bounded send queue: a ring of shared packet references with byte, packet and
 * age accounting and the SECURITY.md §2.2 fill levels (high water, full). Pure
 * data structure: no sockets, no clock reads; fanout.c drives it. */
#ifndef RD_RELAY_VIEWER_QUEUE_H
#define RD_RELAY_VIEWER_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pktpool.h"

/* Ownership, for the whole module: the queue holds one reference to the packet of every live
 * entry (taken by vqueue_push, given back by vqueue_pop / vqueue_purge_tag / vqueue_fini).
 * Entries handed out by vqueue_at() are borrowed until the next call that modifies the queue.
 * Times are milliseconds of any clock that wraps at 2^32 (the caller's); only differences
 * are used, so a queue must not hold an entry for more than 24 days. Single-threaded. */

/* Entry flags. */
enum vqueue_flag {
    VQUEUE_JOIN = 1u << 0,    /* from the instant-start cache: outside the live caps */
    VQUEUE_CONTROL = 1u << 1, /* RTSP bytes: outside the caps, never dropped */
};

/* tag of an entry removed by vqueue_purge_tag (its packet reference is already dropped). */
#define VQUEUE_TAG_SKIP 0xffu

struct vqueue_entry {
    struct pkt *p;   /* NULL once purged */
    uint32_t enq_ms; /* when it was queued */
    uint8_t tag;     /* the owner's routing tag (fanout: subscription and RTP/RTCP) */
    uint8_t flags;   /* enum vqueue_flag */
};

struct vqueue {
    struct vqueue_entry *ring; /* cap entries, allocated on the first push */
    uint32_t cap;              /* ring size */
    uint32_t max_cap;          /* ring growth limit */
    uint32_t head;             /* index of the oldest entry */
    uint32_t n;                /* entries, purged ones included until popped */
    uint32_t head_off;         /* bytes of the head entry already sent (partial write) */
    size_t bytes;              /* packet bytes of all entries not purged */
    uint32_t join_n;           /* entries with VQUEUE_JOIN (not purged) */
    size_t join_bytes;
    uint32_t ctl_n; /* entries with VQUEUE_CONTROL */
    size_t ctl_bytes;
    uint32_t purged_n; /* purged entries still in the ring */
};

/* Caps for the live part of a queue (entries without JOIN/CONTROL). high_pct is the high-water
 * mark in percent of every cap; vqueue_limits_default() gives the rd_limits.h values. */
struct vqueue_limits {
    size_t max_bytes;
    uint32_t max_packets;
    uint32_t max_ms; /* age of the oldest entry */
    uint32_t high_pct;
};

enum vqueue_level {
    VQUEUE_OK,   /* admit anything */
    VQUEUE_HIGH, /* above the high-water mark: admit only key-frame packets, audio, RTCP */
    VQUEUE_FULL, /* at a cap: admit nothing but control bytes */
};

/* Fills *l with RD_VIEWER_QUEUE_MAX_BYTES/_PACKETS/_MS and the high-water mark. */
void vqueue_limits_default(struct vqueue_limits *l);

/* Checks that l is usable: every cap > 0, 0 < high_pct <= 100. RD_OK or RD_EPROTO. */
int vqueue_limits_check(const struct vqueue_limits *l);

/* An empty queue whose ring may grow to max_entries entries (>= 1). Allocates nothing. */
void vqueue_init(struct vqueue *q, uint32_t max_entries);

/* Drops every entry's reference and frees the ring; q is empty and reusable afterwards. */
void vqueue_fini(struct vqueue *q);

/* The level the live part of q would be at with one more packet of add_bytes at now_ms. */
enum vqueue_level vqueue_level(const struct vqueue *q, const struct vqueue_limits *l,
                               size_t add_bytes, uint32_t now_ms);

/* Appends p (taking a new reference) with the tag and flags at now_ms. No cap is checked
 * here: callers decide with vqueue_level(). Returns RD_OK, RD_ELIMIT when the ring is at
 * max_entries, or RD_ENOMEM (nothing changed on error). */
int vqueue_push(struct vqueue *q, struct pkt *p, uint8_t tag, uint8_t flags, uint32_t now_ms);

/* Entries queued (purged ones included) and whether the queue is empty. */
static inline uint32_t
vqueue_len(const struct vqueue *q)
{
    return q->n;
}

/* Live entries: neither JOIN, CONTROL nor purged. */
static inline uint32_t
vqueue_live_len(const struct vqueue *q)
{
    return q->n - q->join_n - q->ctl_n - q->purged_n;
}

/* The i-th entry from the head (i < vqueue_len), borrowed. */
static inline struct vqueue_entry *
vqueue_at(const struct vqueue *q, uint32_t i)
{
    uint32_t k = q->head + i;
    if (k >= q->cap)
        k -= q->cap;
    return &q->ring[k];
}

/* Removes the head entry (q must not be empty), dropping its reference, and clears head_off. */
void vqueue_pop(struct vqueue *q);

/* Removes the newest entry (q must not be empty and it must not be the head entry being
 * sent), dropping its reference: undoes a vqueue_push that is part of a failed group. */
void vqueue_pop_tail(struct vqueue *q);

/* Purges every entry with this tag except a head entry already partly sent (head_off > 0),
 * which must still be completed on a byte stream: drops their references now; the slots are
 * skipped and popped by the writer. Returns the number purged. */
uint32_t vqueue_purge_tag(struct vqueue *q, uint8_t tag);

#endif
