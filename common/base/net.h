/* SPDX-License-Identifier: MIT */
/* Socket helpers in the style of redis anet: numeric addresses only, every socket
 * non-blocking and close-on-exec, startup errors spelled out in a struct rd_errbuf. */
#ifndef RD_BASE_NET_H
#define RD_BASE_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "errbuf.h"

/* Bytes for net_format_addr output: "[" + IPv6 text + "]:65535" + NUL. */
#define NET_ADDR_STRLEN (INET6_ADDRSTRLEN + 8)
/* Bytes for net_format_ip output. */
#define NET_IP_STRLEN INET6_ADDRSTRLEN

/* Fills *ss and *len from a numeric IPv4 or IPv6 address (no brackets) and a port. Returns RD_OK
 * or RD_EPROTO if ip is not a numeric address. No name lookups. */
int net_sockaddr_make(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);

/* A TCP listening socket on ip:port (port 0: the kernel picks; see net_local_port) with
 * SO_REUSEADDR and, for IPv6, IPV6_V6ONLY (one socket per family, no mapped addresses).
 * Returns the fd (caller owns it) or RD_EPROTO (bad address) / RD_EIO with err filled. */
int net_tcp_listen(const char *ip, uint16_t port, int backlog, struct rd_errbuf *err);

/* accept4(NONBLOCK|CLOEXEC) on listening socket lfd; peer/peer_len may be NULL. Returns the
 * new fd (caller owns it), RD_AGAIN when there is nothing to accept now (also for
 * connections the peer aborted first and for network errors Linux reports here), RD_EBUSY
 * when out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM: pause the accept
 * watcher for a while, nginx style, rather than spin), or RD_EIO. errno is kept. */
int net_accept(int lfd, struct sockaddr_storage *peer, socklen_t *peer_len);

/* A UDP socket bound to ip:port. Returns the fd, RD_EBUSY if the port is in use, or
 * RD_EPROTO/RD_EIO, with err filled. */
int net_udp_bind(const char *ip, uint16_t port, struct rd_errbuf *err);

/* Binds the RTP/RTCP pair rtp_port (even) and rtp_port + 1 (RFC 3550 §11) into fds[0] and
 * fds[1]. Returns RD_OK, RD_EBUSY if either port is in use (nothing left open; try the next
 * pair), RD_EPROTO if rtp_port is odd, or RD_EIO, with err filled on failure. */
int net_udp_bind_pair(const char *ip, uint16_t rtp_port, int fds[2], struct rd_errbuf *err);

/* Starts a non-blocking TCP connect to ip:port. Returns the fd (caller owns it) with the
 * connect in progress or done: wait for EV_WRITE, then call net_connect_result. Returns
 * RD_EPROTO (bad address) or RD_EIO (refused at once, no fds...) with err filled. */
int net_tcp_connect(const char *ip, uint16_t port, struct rd_errbuf *err);

/* After a connecting socket became writable: RD_OK if connected, else RD_EIO with errno set
 * to the reason (SO_ERROR). */
int net_connect_result(int fd);

/* TCP_NODELAY on. Returns RD_OK or RD_EIO (errno kept). */
int net_set_nodelay(int fd);

/* TCP_QUICKACK off: ACKs wait briefly for data to ride on (a response) instead of going out
 * alone; on a listening socket, accepted ones start that way. RD_OK or RD_EIO (errno kept). */
int net_set_quickack_off(int fd);

/* TCP_DEFER_ACCEPT on a listening socket: the kernel completes a connection's accept only
 * when its first bytes arrive, or after about seconds (rounded up to its SYN-ACK retransmit
 * schedule: 1, 3, 7, 15 s...). Returns RD_OK or RD_EIO (errno kept). */
int net_set_defer_accept(int fd, unsigned seconds);

/* Lingering close (nginx lingering_close): reads and drops what fd has, adding the bytes to
 * *lingered. Returns RD_AGAIN to keep waiting for the peer's FIN, RD_OK when it came,
 * RD_ELIMIT when more than max bytes were dropped, RD_EIO on a socket error. */
int net_linger_drain(int fd, size_t *lingered, size_t max);

/* SO_SNDBUF = bytes (the kernel doubles it and applies its own bounds). RD_OK or RD_EIO. */
int net_set_sndbuf(int fd, int bytes);

/* The port a socket is bound to (after binding port 0). RD_OK or RD_EIO. */
int net_local_port(int fd, uint16_t *port);

/* "1.2.3.4:5678" or "[2001:db8::1]:5678" into out[cap] (NET_ADDR_STRLEN is always enough).
 * Returns RD_OK, RD_EPROTO (not AF_INET/AF_INET6 or len too short) or RD_ELIMIT (cap too
 * small; nothing written). */
int net_format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t cap);

/* The address alone, "1.2.3.4" or "2001:db8::1", into out[cap] (NET_IP_STRLEN). Same
 * returns as net_format_addr. */
int net_format_ip(const struct sockaddr *sa, socklen_t len, char *out, size_t cap);

/* ---- Batched UDP sends (sendmmsg, UDP GSO) --------------------------------------------- */

/* Datagrams handed to one sendmmsg(2) system call; longer batches are sent in chunks. */
#define NET_SENDMMSG_CHUNK 64
/* Kernel UDP GSO bounds: segments per send (UDP_MAX_SEGMENTS) and a total that stays below
 * the 64 KiB IP datagram the kernel builds before segmenting (IPv6 header included). */
#define NET_GSO_MAX_SEGMENTS 64
#define NET_GSO_MAX_BYTES    (65535 - 8 - 40)

/* One datagram, or with gso_size > 0 a train of datagrams sent as one UDP GSO message
 * (UDP_SEGMENT, Linux 4.18+): the kernel cuts the bytes of iov into gso_size-byte datagrams,
 * the last one may be shorter. Every iov must stay valid until net_udp_sendmmsg returns. */
struct net_dgram {
    const struct sockaddr *dest; /* NULL on a connected socket */
    socklen_t dest_len;
    const struct iovec *iov;
    size_t iov_len;    /* 1..UIO_MAXIOV */
    uint16_t gso_size; /* 0: a plain datagram; else the segment size */
    size_t sent;       /* out: bytes the kernel took for this message */
};

/* Sends d[0..n) on the UDP socket fd with sendmmsg(2) (MSG_DONTWAIT | MSG_NOSIGNAL), in
 * chunks of NET_SENDMMSG_CHUNK. Returns how many leading messages were sent (1..n; fills
 * their sent), 0 when n is 0, or, when d[0] itself fails, RD_AGAIN (EAGAIN, ENOBUFS: the
 * socket or device queue is full) or RD_EIO (errno kept: EMSGSIZE, ECONNREFUSED on a
 * connected socket, EIO/EINVAL for a GSO message the path cannot offload, ...). A short count
 * means d[count] failed: call again from there to learn why. Borrows d and what it points to
 * for the duration of the call. */
int net_udp_sendmmsg(int fd, struct net_dgram *d, unsigned n);

/* Whether the kernel supports UDP GSO (UDP_SEGMENT) on UDP socket fd: probes with
 * getsockopt, sends nothing. */
bool net_udp_gso_supported(int fd);

#endif
