/* SPDX-License-Identifier: MIT */
/* Per-source-IP admission for the RTSP listener (SECURITY.md §2.2): open connections per IP
 * and an accept-rate token bucket per IP, in a fixed pool allocated once. */
#ifndef RD_BROKER_IPLIMIT_H
#define RD_BROKER_IPLIMIT_H

#include <stdint.h>
#include <sys/socket.h>

struct iplimit; /* opaque; owned by the caller of iplimit_create */

struct iplimit_params {
    uint32_t max_conns;     /* connections the listener admits in total (its global cap) */
    uint32_t max_per_ip;    /* open connections per address, >= 1 */
    uint32_t extra_tracked; /* addresses kept for their rate beyond max_conns */
    double rate_per_s;      /* token refill per second, > 0 */
    double burst;           /* bucket size, >= 1 */
};

enum iplimit_verdict {
    IPLIMIT_OK = 0, /* admitted: the count is held until iplimit_release */
    IPLIMIT_RATE,   /* too many new connections from this address lately */
    IPLIMIT_PER_IP, /* this address has max_per_ip connections open */
    IPLIMIT_FULL,   /* every tracked address has open connections (global cap not enforced
                     * by the caller: a bug); refuse */
};

/* Allocates the table for max_conns + extra_tracked addresses. Returns RD_OK with *out set,
 * RD_EPROTO for bad params or RD_ENOMEM. */
int iplimit_create(const struct iplimit_params *p, struct iplimit **out);
void iplimit_destroy(struct iplimit *t);

/* Admits one connection from sa (AF_INET or AF_INET6; IPv4-mapped IPv6 counts as the IPv4
 * address) at now (monotonic seconds): refills the address's bucket, takes one token (refused
 * attempts take one too), then checks its open count. On IPLIMIT_OK *slot identifies the
 * entry for iplimit_release. An address with no open connection is forgotten when its entry
 * is needed for another, least recently released first. */
enum iplimit_verdict iplimit_admit(struct iplimit *t, const struct sockaddr *sa, double now,
                                   uint32_t *slot);

/* Ends one admitted connection of slot. */
void iplimit_release(struct iplimit *t, uint32_t slot);

/* Open connections of sa's address (tests, admin). */
uint32_t iplimit_open(const struct iplimit *t, const struct sockaddr *sa);

/* Static name of a verdict ("ok", "rate", "per_ip", "full"). */
const char *iplimit_verdict_name(enum iplimit_verdict v);

#endif
