/* SPDX-License-Identifier: MIT */
/* Socket helpers. The only file built with _GNU_SOURCE: it wraps accept4(), sendmmsg(), UDP
 * GSO and the Linux SOCK_NONBLOCK/SOCK_CLOEXEC socket flags. */
#define _GNU_SOURCE
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <string.h>
#include <unistd.h>

#include "rd_err.h"

int
net_sockaddr_make(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof(*v4);
        return RD_OK;
    }
    if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof(*v6);
        return RD_OK;
    }
    return RD_EPROTO;
}

/* Closes fd without losing the errno of the failure being reported. */
static void
close_keep_errno(int fd)
{
    int e = errno;
    close(fd);
    errno = e;
}

/* A socket of the given type with its address parsed; bind()s it. Returns fd or a status. */
static int
bound_socket(const char *what, const char *ip, uint16_t port, int type, struct rd_errbuf *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (net_sockaddr_make(ip, port, &ss, &len) != RD_OK) {
        rd_errbuf_set(err, "%s: \"%s\" is not a numeric IPv4 or IPv6 address", what, ip);
        return RD_EPROTO;
    }
    int fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rd_errbuf_set(err, "%s %s port %u: socket: %s", what, ip, (unsigned)port, strerror(errno));
        return RD_EIO;
    }
    int one = 1;
    if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
        goto fail;
    if (ss.ss_family == AF_INET6
        && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&ss, len) != 0)
        goto fail;
    return fd;
fail:
    rd_errbuf_set(err, "%s %s port %u: %s", what, ip, (unsigned)port, strerror(errno));
    close_keep_errno(fd);
    return errno == EADDRINUSE ? RD_EBUSY : RD_EIO;
}

int
net_tcp_listen(const char *ip, uint16_t port, int backlog, struct rd_errbuf *err)
{
    int fd = bound_socket("listen", ip, port, SOCK_STREAM, err);
    if (fd < 0)
        return fd == RD_EBUSY ? RD_EIO : fd;
    if (listen(fd, backlog) != 0) {
        rd_errbuf_set(err, "listen %s port %u: %s", ip, (unsigned)port, strerror(errno));
        close_keep_errno(fd);
        return RD_EIO;
    }
    return fd;
}

int
net_accept(int lfd, struct sockaddr_storage *peer, socklen_t *peer_len)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        if (peer != NULL)
            *peer = ss;
        if (peer_len != NULL)
            *peer_len = len;
        return fd;
    }
    switch (errno) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        return RD_EBUSY;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    case ECONNABORTED:
    /* accept(2): Linux passes pending network errors of the new socket to accept; treat
     * them like EAGAIN. */
    case ENETDOWN:
    case EPROTO:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
    case EPERM: /* firewall rules */
        return RD_AGAIN;
    default:
        return RD_EIO;
    }
}

int
net_udp_bind(const char *ip, uint16_t port, struct rd_errbuf *err)
{
    return bound_socket("udp", ip, port, SOCK_DGRAM, err);
}

int
net_udp_bind_pair(const char *ip, uint16_t rtp_port, int fds[2], struct rd_errbuf *err)
{
    if (rtp_port % 2 != 0) {
        rd_errbuf_set(err, "udp pair: RTP port %u is odd", (unsigned)rtp_port);
        return RD_EPROTO;
    }
    int a = net_udp_bind(ip, rtp_port, err);
    if (a < 0)
        return a;
    int b = net_udp_bind(ip, (uint16_t)(rtp_port + 1), err);
    if (b < 0) {
        close_keep_errno(a);
        return b;
    }
    fds[0] = a;
    fds[1] = b;
    return RD_OK;
}

int
net_tcp_connect(const char *ip, uint16_t port, struct rd_errbuf *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (net_sockaddr_make(ip, port, &ss, &len) != RD_OK) {
        rd_errbuf_set(err, "connect: \"%s\" is not a numeric IPv4 or IPv6 address", ip);
        return RD_EPROTO;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rd_errbuf_set(err, "connect %s port %u: socket: %s", ip, (unsigned)port, strerror(errno));
        return RD_EIO;
    }
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
        rd_errbuf_set(err, "connect %s port %u: %s", ip, (unsigned)port, strerror(errno));
        close_keep_errno(fd);
        return RD_EIO;
    }
    return fd;
}

int
net_connect_result(int fd)
{
    int so_err = 0;
    socklen_t len = sizeof(so_err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &len) != 0)
        return RD_EIO;
    if (so_err != 0) {
        errno = so_err;
        return RD_EIO;
    }
    return RD_OK;
}

int
net_set_nodelay(int fd)
{
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 ? RD_OK : RD_EIO;
}

int
net_set_quickack_off(int fd)
{
    int zero = 0;
    return setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero)) == 0 ? RD_OK : RD_EIO;
}

int
net_set_defer_accept(int fd, unsigned seconds)
{
    int v = (int)seconds;
    return setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, sizeof(v)) == 0 ? RD_OK : RD_EIO;
}

int
net_set_sndbuf(int fd, int bytes)
{
    return setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes)) == 0 ? RD_OK : RD_EIO;
}

int
net_local_port(int fd, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return RD_EIO;
    if (ss.ss_family == AF_INET)
        *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    else
        return RD_EIO;
    return RD_OK;
}

/* inet_ntop of sa into ip[NET_IP_STRLEN] and its port. */
static int
split_addr(const struct sockaddr *sa, socklen_t len, char ip[NET_IP_STRLEN], uint16_t *port)
{
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        *port = ntohs(v4->sin_port);
        return inet_ntop(AF_INET, &v4->sin_addr, ip, NET_IP_STRLEN) != NULL ? RD_OK : RD_EPROTO;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        *port = ntohs(v6->sin6_port);
        return inet_ntop(AF_INET6, &v6->sin6_addr, ip, NET_IP_STRLEN) != NULL ? RD_OK : RD_EPROTO;
    }
    return RD_EPROTO;
}

int
net_format_ip(const struct sockaddr *sa, socklen_t len, char *out, size_t cap)
{
    char ip[NET_IP_STRLEN];
    uint16_t port;
    int rc = split_addr(sa, len, ip, &port);
    if (rc != RD_OK)
        return rc;
    size_t n = strlen(ip);
    if (n >= cap)
        return RD_ELIMIT;
    memcpy(out, ip, n + 1);
    return RD_OK;
}

int
net_format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t cap)
{
    char ip[NET_IP_STRLEN];
    uint16_t port;
    int rc = split_addr(sa, len, ip, &port);
    if (rc != RD_OK)
        return rc;
    char tmp[NET_ADDR_STRLEN];
    int n = snprintf(tmp, sizeof(tmp), sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
                     (unsigned)port);
    if (n < 0 || (size_t)n >= cap)
        return RD_ELIMIT;
    memcpy(out, tmp, (size_t)n + 1);
    return RD_OK;
}

/* One chunk of at most NET_SENDMMSG_CHUNK messages: struct mmsghdr needs _GNU_SOURCE, so the
 * translation from struct net_dgram happens here. Returns the sendmmsg result. */
static int
sendmmsg_chunk(int fd, struct net_dgram *d, unsigned n)
{
    struct mmsghdr m[NET_SENDMMSG_CHUNK];
    /* One UDP_SEGMENT control message per GSO datagram. */
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        size_t align; /* struct cmsghdr alignment (it has a flexible array member) */
    } ctl[NET_SENDMMSG_CHUNK];
    memset(m, 0, sizeof(m[0]) * n);
    for (unsigned i = 0; i < n; i++) {
        struct msghdr *h = &m[i].msg_hdr;
        h->msg_name = (void *)(uintptr_t)d[i].dest;
        h->msg_namelen = d[i].dest != NULL ? d[i].dest_len : 0;
        h->msg_iov = (struct iovec *)(uintptr_t)d[i].iov;
        h->msg_iovlen = d[i].iov_len;
        if (d[i].gso_size > 0) {
            memset(&ctl[i], 0, sizeof(ctl[i]));
            h->msg_control = ctl[i].buf;
            h->msg_controllen = sizeof(ctl[i].buf);
            struct cmsghdr *c = CMSG_FIRSTHDR(h);
            c->cmsg_level = IPPROTO_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            memcpy(CMSG_DATA(c), &d[i].gso_size, sizeof(uint16_t));
        }
    }
    int r;
    do {
        r = sendmmsg(fd, m, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    for (int i = 0; i < r; i++)
        d[i].sent = m[i].msg_len;
    return r;
}

int
net_udp_sendmmsg(int fd, struct net_dgram *d, unsigned n)
{
    unsigned done = 0;
    while (done < n) {
        unsigned k = n - done < NET_SENDMMSG_CHUNK ? n - done : NET_SENDMMSG_CHUNK;
        int r = sendmmsg_chunk(fd, d + done, k);
        if (r < 0) {
            if (done > 0)
                return (int)done;
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? RD_AGAIN : RD_EIO;
        }
        done += (unsigned)r;
        if ((unsigned)r < k)
            break;
    }
    return (int)done;
}

bool
net_udp_gso_supported(int fd)
{
    int v = 0;
    socklen_t len = sizeof(v);
    return getsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &v, &len) == 0;
}

int
net_linger_drain(int fd, size_t *lingered, size_t max)
{
    char drop[4096];
    ssize_t n = recv(fd, drop, sizeof(drop), 0);
    if (n > 0) {
        *lingered += (size_t)n;
        return *lingered > max ? RD_ELIMIT : RD_AGAIN;
    }
    if (n == 0)
        return RD_OK;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? RD_AGAIN : RD_EIO;
}
