/* SPDX-License-Identifier: MIT */
/* Per-IP admission: chained hash over a fixed entry pool; entries without open connections sit
 * on an LRU list and are recycled from its head when the pool is used up. Memory is allocated
 * zeroed once and only touched as entries come into use (a bump index, no free-list walk), so
 * a mostly idle daemon does not pay RSS for its worst case. */
#include "iplimit.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "rd_err.h"

#define NIL UINT32_MAX

struct ip_key {
    uint8_t family; /* 4 or 6 */
    uint8_t addr[16];
};

struct ip_entry {
    struct ip_key key;
    bool used;
    uint32_t open;       /* connections admitted and not released */
    double tokens;       /* bucket content at `at` */
    double at;           /* monotonic time of the last refill */
    uint32_t hnext;      /* hash chain */
    uint32_t prev, next; /* LRU list (open == 0) or free list (next only) */
};

struct iplimit {
    struct iplimit_params p;
    struct ip_entry *e;
    uint32_t n;       /* entries */
    uint32_t *bucket; /* heads of hash chains as index + 1 (0: empty), mask + 1 of them */
    uint32_t mask;
    uint32_t fresh;              /* entries [fresh, n) were never used */
    uint32_t lru_head, lru_tail; /* oldest idle first */
    uint64_t seed;               /* random: peers choose their addresses, not our chains */
};

int
iplimit_create(const struct iplimit_params *p, struct iplimit **out)
{
    if (p->max_conns == 0 || p->max_per_ip == 0 || !(p->rate_per_s > 0) || !(p->burst >= 1)
        || (uint64_t)p->max_conns + p->extra_tracked >= NIL)
        return RD_EPROTO;
    struct iplimit *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return RD_ENOMEM;
    t->p = *p;
    t->n = p->max_conns + p->extra_tracked;
    uint32_t nb = 16;
    while (nb < t->n && nb < (1u << 30))
        nb <<= 1;
    t->mask = nb - 1;
    t->e = calloc(t->n, sizeof(*t->e));
    t->bucket = calloc(nb, sizeof(*t->bucket));
    if (t->e == NULL || t->bucket == NULL || rd_random_bytes(&t->seed, sizeof(t->seed)) != RD_OK) {
        iplimit_destroy(t);
        return RD_ENOMEM;
    }
    t->lru_head = t->lru_tail = NIL;
    *out = t;
    return RD_OK;
}

void
iplimit_destroy(struct iplimit *t)
{
    if (t == NULL)
        return;
    free(t->e);
    free(t->bucket);
    free(t);
}

static bool
key_of(const struct sockaddr *sa, struct ip_key *k)
{
    memset(k, 0, sizeof(*k));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
        k->family = 4;
        memcpy(k->addr, &v4->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(v6->sin6_addr.s6_addr, mapped, sizeof(mapped)) == 0) {
            k->family = 4;
            memcpy(k->addr, v6->sin6_addr.s6_addr + 12, 4);
        } else {
            k->family = 6;
            memcpy(k->addr, v6->sin6_addr.s6_addr, 16);
        }
        return true;
    }
    return false;
}

static uint32_t
hash_of(const struct iplimit *t, const struct ip_key *k)
{
    uint64_t h = 14695981039346656037ull ^ t->seed;
    h = (h ^ k->family) * 1099511628211ull;
    for (size_t i = 0; i < sizeof(k->addr); i++)
        h = (h ^ k->addr[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h & t->mask;
}

static uint32_t
find(const struct iplimit *t, const struct ip_key *k, uint32_t h)
{
    for (uint32_t i = t->bucket[h] - 1; i != NIL; i = t->e[i].hnext) {
        if (memcmp(&t->e[i].key, k, sizeof(*k)) == 0)
            return i;
    }
    return NIL;
}

static void
lru_unlink(struct iplimit *t, uint32_t i)
{
    struct ip_entry *e = &t->e[i];
    if (e->prev != NIL)
        t->e[e->prev].next = e->next;
    else
        t->lru_head = e->next;
    if (e->next != NIL)
        t->e[e->next].prev = e->prev;
    else
        t->lru_tail = e->prev;
    e->prev = e->next = NIL;
}

static void
lru_push(struct iplimit *t, uint32_t i)
{
    struct ip_entry *e = &t->e[i];
    e->next = NIL;
    e->prev = t->lru_tail;
    if (t->lru_tail != NIL)
        t->e[t->lru_tail].next = i;
    else
        t->lru_head = i;
    t->lru_tail = i;
}

static void
unhash(struct iplimit *t, uint32_t i)
{
    uint32_t h = hash_of(t, &t->e[i].key);
    if (t->bucket[h] == i + 1) {
        t->bucket[h] = t->e[i].hnext + 1; /* NIL + 1 wraps to 0: empty */
        return;
    }
    uint32_t j = t->bucket[h] - 1;
    while (t->e[j].hnext != i)
        j = t->e[j].hnext;
    t->e[j].hnext = t->e[i].hnext;
}

/* An entry for a new address: a never used one, else the longest idle one. NIL when none. */
static uint32_t
take_entry(struct iplimit *t)
{
    if (t->fresh < t->n)
        return t->fresh++;
    uint32_t i = t->lru_head;
    if (i == NIL)
        return NIL;
    lru_unlink(t, i);
    unhash(t, i);
    return i;
}

enum iplimit_verdict
iplimit_admit(struct iplimit *t, const struct sockaddr *sa, double now, uint32_t *slot)
{
    struct ip_key k;
    if (!key_of(sa, &k))
        return IPLIMIT_FULL;
    uint32_t h = hash_of(t, &k);
    uint32_t i = find(t, &k, h);
    if (i == NIL) {
        if ((i = take_entry(t)) == NIL)
            return IPLIMIT_FULL;
        struct ip_entry *e = &t->e[i];
        memset(e, 0, sizeof(*e));
        e->key = k;
        e->used = true;
        e->tokens = t->p.burst;
        e->at = now;
        e->prev = e->next = NIL;
        e->hnext = t->bucket[h] - 1; /* 0 - 1 wraps to NIL */
        t->bucket[h] = i + 1;
        lru_push(t, i); /* idle until admitted */
    }
    struct ip_entry *e = &t->e[i];
    if (now > e->at) {
        e->tokens += (now - e->at) * t->p.rate_per_s;
        if (e->tokens > t->p.burst)
            e->tokens = t->p.burst;
        e->at = now;
    }
    if (e->tokens < 1.0)
        return IPLIMIT_RATE;
    e->tokens -= 1.0;
    if (e->open >= t->p.max_per_ip)
        return IPLIMIT_PER_IP;
    if (e->open == 0)
        lru_unlink(t, i);
    e->open++;
    *slot = i;
    return IPLIMIT_OK;
}

void
iplimit_release(struct iplimit *t, uint32_t slot)
{
    if (slot >= t->n || !t->e[slot].used || t->e[slot].open == 0)
        return;
    if (--t->e[slot].open == 0)
        lru_push(t, slot);
}

uint32_t
iplimit_open(const struct iplimit *t, const struct sockaddr *sa)
{
    struct ip_key k;
    if (!key_of(sa, &k))
        return 0;
    uint32_t i = find(t, &k, hash_of(t, &k));
    return i == NIL ? 0 : t->e[i].open;
}

const char *
iplimit_verdict_name(enum iplimit_verdict v)
{
    switch (v) {
    case IPLIMIT_OK:
        return "ok";
    case IPLIMIT_RATE:
        return "rate";
    case IPLIMIT_PER_IP:
        return "per_ip";
    case IPLIMIT_FULL:
        return "full";
    }
    return "unknown";
}
