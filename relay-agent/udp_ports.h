/* SPDX-License-Identifier: MIT */
/* The relay's UDP port range (config udp_ports = LO-HI): even/odd RTP/RTCP pairs handed out
 * to the viewer server (server_port pairs, one per camera track, shared by all UDP viewers
 * of that track) and to camera pullers (client_port pairs). One bit per pair; a pair whose
 * bind fails (taken by another process) is skipped. */
#ifndef RD_RELAY_UDP_PORTS_H
#define RD_RELAY_UDP_PORTS_H

#include <stdint.h>

#include "errbuf.h"

/* Ownership: struct udp_ports is owned by the relay context (udp_ports_free). The fds it
 * opens belong to the caller until udp_ports_close_pair. Loop thread only. */
struct udp_ports;

/* A range on bind_ip (numeric; copied) from lo to hi inclusive. lo is rounded up to even;
 * at least one pair must fit. Returns RD_OK and *out, RD_EPROTO for a bad range (err says
 * why), RD_ENOMEM. */
int udp_ports_new(const char *bind_ip, uint16_t lo, uint16_t hi, struct udp_ports **out,
                  struct rd_errbuf *err);

void udp_ports_free(struct udp_ports *p);

/* Opens the next free pair: fds[0] bound to an even port (RTP), fds[1] to port + 1 (RTCP),
 * both non-blocking and CLOEXEC. Returns RD_OK with *rtp_port set, or RD_ELIMIT when every
 * pair is in use or fails to bind (logged, rate limited). */
int udp_ports_open_pair(struct udp_ports *p, int fds[2], uint16_t *rtp_port);

/* Closes both fds and returns the pair to the range. */
void udp_ports_close_pair(struct udp_ports *p, int fds[2], uint16_t rtp_port);

/* Pairs in use / in the range. */
unsigned udp_ports_in_use(const struct udp_ports *p);
unsigned udp_ports_capacity(const struct udp_ports *p);

#endif
