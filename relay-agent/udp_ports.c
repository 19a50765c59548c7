/* SPDX-License-Identifier: MIT */
/* The relay's UDP port range: a bitmap of RTP/RTCP pairs, handed out round-robin so a pair
 * just closed is not reused at once (late packets of its old peer). */
#include "udp_ports.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "rd_err.h"

struct udp_ports {
    char ip[64];
    uint16_t lo;      /* first RTP port (even) */
    unsigned n_pairs; /* pairs in the range */
    unsigned in_use;
    unsigned next;  /* where the next search starts */
    uint8_t used[]; /* one bit per pair */
};

int
udp_ports_new(const char *bind_ip, uint16_t lo, uint16_t hi, struct udp_ports **out,
              struct rd_errbuf *err)
{
    *out = NULL;
    uint32_t first = lo + (lo & 1u);
    if (bind_ip == NULL || strlen(bind_ip) >= sizeof(((struct udp_ports *)0)->ip)) {
        rd_errbuf_set(err, "udp_ports: bad bind address");
        return RD_EPROTO;
    }
    if (first < RD_TRANSPORT_MIN_CLIENT_PORT || (uint32_t)hi < first + 1) {
        rd_errbuf_set(err, "udp_ports: range %u-%u holds no even/odd pair at or above %u",
                      (unsigned)lo, (unsigned)hi, (unsigned)RD_TRANSPORT_MIN_CLIENT_PORT);
        return RD_EPROTO;
    }
    unsigned n = ((uint32_t)hi - first + 1) / 2;
    if (n > RD_UDP_PORTS_MAX_PAIRS) {
        rd_errbuf_set(err, "udp_ports: range %u-%u has %u pairs, more than %u", (unsigned)lo,
                      (unsigned)hi, n, (unsigned)RD_UDP_PORTS_MAX_PAIRS);
        return RD_EPROTO;
    }
    struct udp_ports *p = calloc(1, sizeof(*p) + (n + 7) / 8);
    if (p == NULL)
        return RD_ENOMEM;
    memcpy(p->ip, bind_ip, strlen(bind_ip) + 1);
    p->lo = (uint16_t)first;
    p->n_pairs = n;
    *out = p;
    return RD_OK;
}

void
udp_ports_free(struct udp_ports *p)
{
    free(p);
}

static bool
pair_used(const struct udp_ports *p, unsigned i)
{
    return (p->used[i / 8] >> (i % 8)) & 1u;
}

static void
pair_mark(struct udp_ports *p, unsigned i, bool used)
{
    if (used)
        p->used[i / 8] |= (uint8_t)(1u << (i % 8));
    else
        p->used[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

int
udp_ports_open_pair(struct udp_ports *p, int fds[2], uint16_t *rtp_port)
{
    struct rd_errbuf err = {{0}};
    for (unsigned k = 0; k < p->n_pairs; k++) {
        unsigned i = (p->next + k) % p->n_pairs;
        if (pair_used(p, i))
            continue;
        uint16_t port = (uint16_t)(p->lo + 2 * i);
        int rc = net_udp_bind_pair(p->ip, port, fds, &err);
        if (rc == RD_EBUSY)
            continue; /* another process holds it: try the next pair */
        if (rc != RD_OK) {
            RD_LOG_RATELIMITED(RD_LOG_ERR, NULL, 10.0, "udp port pair bind failed error=\"%s\"",
                               err.msg);
            return RD_ELIMIT;
        }
        pair_mark(p, i, true);
        p->in_use++;
        p->next = (i + 1) % p->n_pairs;
        *rtp_port = port;
        return RD_OK;
    }
    RD_LOG_RATELIMITED(RD_LOG_WARN, NULL, 10.0,
                       "udp port range exhausted pairs=%u in_use=%u first=%u", p->n_pairs,
                       p->in_use, (unsigned)p->lo);
    return RD_ELIMIT;
}

void
udp_ports_close_pair(struct udp_ports *p, int fds[2], uint16_t rtp_port)
{
    for (int k = 0; k < 2; k++) {
        if (fds[k] >= 0)
            close(fds[k]);
        fds[k] = -1;
    }
    if (rtp_port < p->lo || (rtp_port - p->lo) % 2 != 0)
        return;
    unsigned i = (unsigned)(rtp_port - p->lo) / 2;
    if (i < p->n_pairs && pair_used(p, i)) {
        pair_mark(p, i, false);
        p->in_use--;
    }
}

unsigned
udp_ports_in_use(const struct udp_ports *p)
{
    return p->in_use;
}

unsigned
udp_ports_capacity(const struct udp_ports *p)
{
    return p->n_pairs;
}
