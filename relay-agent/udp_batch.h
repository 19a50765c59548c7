/* SPDX-License-Identifier: MIT */
/* Batches UDP datagrams of one read burst into sendmmsg calls (net_udp_sendmmsg), merging
 * consecutive equal-sized datagrams to one destination into UDP GSO trains when the kernel
 * has UDP_SEGMENT. Used by fanout.c for UDP viewers. */
#ifndef RD_RELAY_UDP_BATCH_H
#define RD_RELAY_UDP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "net.h"
#include "pktpool.h"

/* Batch capacity: messages and datagrams (iovecs) queued before an early flush. 1024 is the
 * kernel's UIO_MAXIOV, the most one sendmmsg can carry. */
#define UDP_BATCH_MAX_MSGS 256
#define UDP_BATCH_MAX_IOV  1024
/* Largest datagram put into a GSO train: every segment must fit the path MTU, which we do
 * not know, so only what fits a 1500-byte Ethernet MTU with IPv6 and UDP headers is merged;
 * larger datagrams go out one by one (and may be fragmented by IP, as without GSO). */
#define UDP_BATCH_GSO_MAX_SEG (1500 - 40 - 8)

/* Per-destination counters a caller hands to udp_batch_add; updated at flush. */
struct udp_batch_acct {
    uint64_t pkts_sent;   /* datagrams the kernel took */
    uint64_t bytes_sent;  /* their bytes */
    uint64_t pkts_failed; /* datagrams dropped: socket full (EAGAIN/ENOBUFS) or refused */
};

/* Module contract: a batch is owned by its caller (fanout: one per event loop) and is
 * single-threaded. It holds a reference to every queued packet until udp_batch_flush. fds,
 * and acct pointers are borrowed and must stay valid until the next flush returns; the
 * destination address is copied. Sends never block (MSG_DONTWAIT). */
struct udp_batch {
    int fd;          /* socket of the queued messages; -1 when empty */
    bool gso;        /* merge into GSO trains (cleared after a failed GSO send) */
    unsigned n_msgs; /* messages queued */
    unsigned n_iov;  /* datagrams queued (iov[] and pkt[] entries) */
    bool open_train; /* the last message may take another segment */
    struct net_dgram msg[UDP_BATCH_MAX_MSGS];
    struct iovec iov[UDP_BATCH_MAX_IOV];
    struct pkt *pkt[UDP_BATCH_MAX_IOV];
    struct sockaddr_storage dest[UDP_BATCH_MAX_MSGS];
    struct udp_batch_acct *acct[UDP_BATCH_MAX_MSGS];
    /* statistics */
    uint64_t syscalls;      /* sendmmsg calls made */
    uint64_t gso_trains;    /* messages sent with more than one segment */
    uint64_t gso_fallbacks; /* GSO messages re-sent as plain datagrams */
};

/* Initialises an empty batch. gso: try UDP GSO (pass net_udp_gso_supported() of a socket). */
void udp_batch_init(struct udp_batch *b, bool gso);

/* Queues p (taking a new reference; p->len bytes, 1..65507) for fd and dest (NULL on a
 * connected socket; copied), accounted to acct (borrowed, not NULL). The datagram joins the
 * previous message as a GSO segment when it goes to the same fd, dest and acct, GSO is on,
 * the previous message's segments are all of this size or this one is the shorter last one,
 * and the train stays within NET_GSO_MAX_SEGMENTS / NET_GSO_MAX_BYTES. Flushes first when fd
 * changes or the batch is full. */
void udp_batch_add(struct udp_batch *b, int fd, const struct sockaddr *dest, socklen_t dest_len,
                   struct pkt *p, struct udp_batch_acct *acct);

/* Sends everything queued (one sendmmsg per NET_SENDMMSG_CHUNK messages), updates the acct
 * counters and drops the packet references. A GSO message the kernel refuses (EIO, EINVAL:
 * no offload on the path) is re-sent as plain datagrams and GSO is switched off for this
 * batch; EAGAIN/ENOBUFS drops the rest of the batch for that socket (UDP: the player sees
 * loss); other errors drop that message only. */
void udp_batch_flush(struct udp_batch *b);

#endif
