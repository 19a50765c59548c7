/* SPDX-License-Identifier: MIT */
/* Reference-counted packet buffers from slabs on per-class free lists (nginx-rtmp's shared
 * chains): each RTP/RTCP packet from a camera is stored once and shared by the instant-start
 * cache and every viewer queue of that camera. */
#ifndef RD_RELAY_PKTPOOL_H
#define RD_RELAY_PKTPOOL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rd_limits.h"

/* Ownership and threading, for the whole module:
 * - A struct pktpool is owned by whoever called pktpool_init() (one per event loop; the relay
 *   has one loop). Single-threaded: every call from that loop's thread, no locks.
 * - pktpool_alloc() returns a packet holding one reference, owned by the caller. Whoever keeps
 *   a pointer to a packet holds a reference (pkt_ref) and gives it back with pkt_unref; the
 *   last pkt_unref returns the buffer to its free list. A packet must never be touched after
 *   its holder's pkt_unref.
 * - Packet contents are written by the producer (the camera puller, then stream.c rewriting
 *   the RTP header once) before the packet is shared; after that they are read-only.
 * - Slabs come from malloc on demand, at most the class limit of buffers each, and are given
 *   back only by pktpool_trim() (fully free slabs) and pktpool_fini(). */

/* Size classes, smallest first. */
enum pkt_class {
    PKT_CLASS_SMALL, /* RD_PKTPOOL_SMALL_BUF: UDP-sized RTP */
    PKT_CLASS_MID,   /* RD_PKTPOOL_MID_BUF */
    PKT_CLASS_LARGE, /* RD_PKTPOOL_LARGE_BUF: any interleaved frame */
    PKT_CLASS_N
};

/* Packet flags, set by stream.c (classification) or by fanout.c (control bytes). */
enum pkt_flag {
    PKT_KEY_START = 1u << 0,  /* a waiting viewer may start here (see stream.h) */
    PKT_PARAM_SETS = 1u << 1, /* carries SPS/PPS (H.264) or VPS/SPS/PPS (H.265) */
    PKT_VCL = 1u << 2,        /* carries slice data */
    PKT_IRAP = 1u << 3,       /* carries slice data of an IDR/IRAP picture */
    PKT_AU_START = 1u << 4,   /* begins an access unit (rtp_h26x.h) */
    PKT_MARKER = 1u << 5,     /* RTP marker bit: last packet of an access unit for video */
    PKT_GATED = 1u << 6,      /* from an H.264/H.265 track: key-frame gate and priority drop */
    PKT_KEY_FORCED = 1u << 7, /* fallback start after RD_STREAM_KEY_FALLBACK_S without a key */
    PKT_RTCP = 1u << 8,       /* an RTCP compound packet, not RTP */
    PKT_CONTROL = 1u << 9,    /* RTSP bytes for a TCP viewer (no '$' header) */
};

struct pkt_slab;

/* One packet buffer. The producer fills data[0..len) (len <= cap) and the header fields. */
struct pkt {
    uint8_t *data;         /* cap bytes of slab memory */
    uint32_t len;          /* bytes used */
    uint32_t cap;          /* bytes available: the class size */
    uint32_t refs;         /* references held; 0 while on the free list */
    uint16_t flags;        /* enum pkt_flag */
    uint8_t track;         /* track index in its stream */
    uint8_t cls;           /* enum pkt_class */
    uint16_t seq;          /* RTP sequence number as sent to viewers (after rewriting) */
    uint32_t ts;           /* RTP timestamp as sent to viewers (after rewriting) */
    double arrival_at;     /* ev_now() when the packet came in (seconds) */
    struct pkt_slab *slab; /* owning slab */
    struct pkt *next_free; /* free-list link, only while refs == 0 */
};

/* Per-class buffer limits; pktpool_cfg_default() fills the rd_limits.h values. Configuration
 * and tests may lower them (a value above the hard limit is clamped to it). */
struct pktpool_cfg {
    uint32_t max_bufs[PKT_CLASS_N];
};

struct pktpool_class {
    uint32_t buf_size;      /* bytes per buffer */
    uint32_t per_slab;      /* buffers per slab */
    uint32_t max_bufs;      /* limit: allocation beyond fails */
    uint32_t n_bufs;        /* buffers in allocated slabs */
    uint32_t n_free;        /* of those, on the free list */
    uint32_t n_slabs;       /* slabs allocated */
    struct pkt *free;       /* free list (LIFO: the most recently used buffer is cache-warm) */
    struct pkt_slab *slabs; /* every slab of the class */
    uint64_t allocs;        /* successful allocations */
    uint64_t fails;         /* allocations refused (limit or malloc failure) */
};

struct pktpool {
    struct pktpool_class cls[PKT_CLASS_N];
};

/* Fills *cfg with the rd_limits.h maxima. */
void pktpool_cfg_default(struct pktpool_cfg *cfg);

/* Initialises an empty pool (no memory is allocated until the first packet). cfg NULL means
 * the defaults. Returns RD_OK, or RD_EPROTO when a class limit is 0. */
int pktpool_init(struct pktpool *pool, const struct pktpool_cfg *cfg);

/* Releases every slab. Returns RD_OK, or RD_EBUSY (and frees nothing) while any packet is
 * still referenced: freeing then would leave dangling pointers. */
int pktpool_fini(struct pktpool *pool);

/* A packet with room for at least need bytes (1..RD_PKTPOOL_LARGE_BUF), from the smallest
 * class that fits, else from the next larger one with a free buffer or room for a slab.
 * Returns it with refs 1, len 0, flags 0 and the other header fields zeroed (owned by the
 * caller), or NULL when need is 0 or too large, or when every candidate class is at its limit
 * or malloc fails: the caller drops the packet (the failure is counted in the class). */
struct pkt *pktpool_alloc(struct pktpool *pool, size_t need);

/* Returns fully free slabs to malloc until at most keep_free_bufs free buffers remain in each
 * class. O(free buffers); call it from a slow timer, not per packet. Returns the number of
 * slabs released. */
unsigned pktpool_trim(struct pktpool *pool, uint32_t keep_free_bufs);

/* Buffers of all classes currently referenced (allocated minus free): 0 when every packet
 * has been released. */
uint32_t pktpool_in_use(const struct pktpool *pool);

/* Bytes of slab memory currently allocated (buffers and headers). */
size_t pktpool_bytes(const struct pktpool *pool);

/* Gives the buffer back to its class's free list. Called by pkt_unref; not for direct use. */
void pktpool_release(struct pkt *p);

/* Takes one more reference to p (the caller must already hold one, directly or through a
 * structure it borrows). Returns p. */
static inline struct pkt *
pkt_ref(struct pkt *p)
{
    assert(p->refs > 0);
    p->refs++;
    return p;
}

/* Drops one reference; the last one returns the buffer to the pool. p may be NULL. */
static inline void
pkt_unref(struct pkt *p)
{
    if (p == NULL)
        return;
    assert(p->refs > 0);
    if (--p->refs == 0)
        pktpool_release(p);
}

#endif
