/* SPDX-License-Identifier: MIT */
/* UDP send batching: messages accumulate per socket and go out with sendmmsg; runs of
 * equal-sized datagrams to one destination become UDP GSO trains (one message, one skb walk
 * through the stack, segmented by the kernel or the NIC). */
#include "udp_batch.h"

#include <string.h>

#include "rd_err.h"

void
udp_batch_init(struct udp_batch *b, bool gso)
{
    b->fd = -1;
    b->gso = gso;
    b->n_msgs = 0;
    b->n_iov = 0;
    b->open_train = false;
    b->syscalls = 0;
    b->gso_trains = 0;
    b->gso_fallbacks = 0;
}

/* Whether datagram p can extend the last queued message. */
static bool
can_extend(const struct udp_batch *b, const struct sockaddr *dest, socklen_t dest_len,
           const struct pkt *p, const struct udp_batch_acct *acct)
{
    if (!b->gso || !b->open_train || b->n_msgs == 0)
        return false;
    const struct net_dgram *m = &b->msg[b->n_msgs - 1];
    size_t seg = m->iov[0].iov_len;
    if (b->acct[b->n_msgs - 1] != acct || p->len > seg || seg > UDP_BATCH_GSO_MAX_SEG)
        return false;
    if (m->iov_len >= NET_GSO_MAX_SEGMENTS || m->iov_len * seg + p->len > NET_GSO_MAX_BYTES)
        return false;
    if ((dest == NULL) != (m->dest == NULL))
        return false;
    return dest == NULL || (m->dest_len == dest_len && memcmp(m->dest, dest, dest_len) == 0);
}

void
udp_batch_add(struct udp_batch *b, int fd, const struct sockaddr *dest, socklen_t dest_len,
              struct pkt *p, struct udp_batch_acct *acct)
{
    if (b->n_msgs > 0 && (fd != b->fd || b->n_iov == UDP_BATCH_MAX_IOV))
        udp_batch_flush(b);
    bool extend = b->fd == fd && can_extend(b, dest, dest_len, p, acct);
    if (!extend && b->n_msgs == UDP_BATCH_MAX_MSGS)
        udp_batch_flush(b);
    b->fd = fd;
    struct iovec *v = &b->iov[b->n_iov];
    v->iov_base = p->data;
    v->iov_len = p->len;
    b->pkt[b->n_iov] = pkt_ref(p);
    b->n_iov++;
    if (extend) {
        struct net_dgram *m = &b->msg[b->n_msgs - 1];
        m->gso_size = (uint16_t)m->iov[0].iov_len;
        m->iov_len++;
        /* A shorter segment ends the train: only the last may be short. */
        b->open_train = p->len == m->gso_size;
        return;
    }
    unsigned i = b->n_msgs++;
    struct net_dgram *m = &b->msg[i];
    memset(m, 0, sizeof(*m));
    if (dest != NULL && dest_len <= sizeof(b->dest[i])) {
        memcpy(&b->dest[i], dest, dest_len);
        m->dest = (const struct sockaddr *)&b->dest[i];
        m->dest_len = dest_len;
    }
    m->iov = v;
    m->iov_len = 1;
    b->acct[i] = acct;
    b->open_train = true;
}

/* Sends message m's segments as plain datagrams (GSO refused). */
static void
send_split(struct udp_batch *b, const struct net_dgram *m, struct udp_batch_acct *acct)
{
    struct net_dgram d[NET_GSO_MAX_SEGMENTS];
    size_t n = m->iov_len;
    for (size_t k = 0; k < n; k++)
        d[k] = (struct net_dgram){m->dest, m->dest_len, &m->iov[k], 1, 0, 0};
    size_t done = 0;
    while (done < n) {
        b->syscalls++;
        int r = net_udp_sendmmsg(b->fd, d + done, (unsigned)(n - done));
        if (r > 0) {
            for (size_t k = done; k < done + (size_t)r; k++) {
                acct->pkts_sent++;
                acct->bytes_sent += d[k].sent;
            }
            done += (size_t)r;
        } else if (r == RD_AGAIN) {
            acct->pkts_failed += n - done;
            return;
        } else {
            acct->pkts_failed++;
            done++;
        }
    }
}

void
udp_batch_flush(struct udp_batch *b)
{
    unsigned i = 0;
    while (i < b->n_msgs) {
        b->syscalls++;
        int r = net_udp_sendmmsg(b->fd, b->msg + i, b->n_msgs - i);
        if (r > 0) {
            for (unsigned k = i; k < i + (unsigned)r; k++) {
                b->acct[k]->pkts_sent += b->msg[k].iov_len;
                b->acct[k]->bytes_sent += b->msg[k].sent;
                if (b->msg[k].iov_len > 1)
                    b->gso_trains++;
            }
            i += (unsigned)r;
            continue;
        }
        struct net_dgram *m = &b->msg[i];
        if (r == RD_AGAIN) {
            /* The socket (or device) queue is full: the rest would fail the same way. */
            for (unsigned k = i; k < b->n_msgs; k++)
                b->acct[k]->pkts_failed += b->msg[k].iov_len;
            break;
        }
        if (m->gso_size > 0) {
            b->gso = false;
            b->gso_fallbacks++;
            send_split(b, m, b->acct[i]);
        } else {
            b->acct[i]->pkts_failed += m->iov_len;
        }
        i++;
    }
    for (unsigned k = 0; k < b->n_iov; k++)
        pkt_unref(b->pkt[k]);
    b->n_msgs = 0;
    b->n_iov = 0;
    b->open_train = false;
    b->fd = -1;
}
