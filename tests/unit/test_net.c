/* SPDX-License-Identifier: MIT */
/* net.c over loopback: listen on port 0 (IPv4 and, when the host has it, IPv6), connect,
 * accept with the right flags, address formatting, UDP pairs, and EMFILE reported as
 * RD_EBUSY (in a child process with a lowered RLIMIT_NOFILE). */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "rd_err.h"

static void
expect_flags(int fd)
{
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static bool
wait_fd(int fd, short events)
{
    struct pollfd p = {fd, events, 0};
    return poll(&p, 1, 5000) == 1;
}

/* Listen on ip:0, connect, accept; checks ports, flags and peer formatting. Returns false
 * (and checks nothing) when the address family is not available on this host. */
static bool
round_trip(const char *ip, const char *peer_prefix)
{
    struct rd_errbuf err = {""};
    int lfd = net_tcp_listen(ip, 0, 16, &err);
    if (lfd == RD_EIO && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
        return false;
    if (lfd < 0)
        fail_msg("listen %s: %s", ip, err.msg);
    expect_flags(lfd);
    uint16_t port = 0;
    assert_int_equal(net_local_port(lfd, &port), RD_OK);
    assert_true(port > 0);

    assert_int_equal(net_accept(lfd, NULL, NULL), RD_AGAIN); /* nothing pending */

    int cfd = net_tcp_connect(ip, port, &err);
    assert_true(cfd >= 0);
    expect_flags(cfd);
    assert_true(wait_fd(cfd, POLLOUT));
    assert_int_equal(net_connect_result(cfd), RD_OK);
    assert_int_equal(net_set_nodelay(cfd), RD_OK);
    int v = 0;
    socklen_t vl = sizeof(v);
    assert_int_equal(getsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
    assert_int_equal(v, 1);
    assert_int_equal(net_set_sndbuf(cfd, 256 * 1024), RD_OK);
    assert_int_equal(getsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &v, &vl), 0);
    assert_true(v >= 256 * 1024);

    assert_true(wait_fd(lfd, POLLIN));
    struct sockaddr_storage peer;
    socklen_t plen = 0;
    int afd = net_accept(lfd, &peer, &plen);
    assert_true(afd >= 0);
    expect_flags(afd);
    uint16_t cport = 0;
    assert_int_equal(net_local_port(cfd, &cport), RD_OK);
    char addr[NET_ADDR_STRLEN], want[NET_ADDR_STRLEN];
    assert_int_equal(net_format_addr((struct sockaddr *)&peer, plen, addr, sizeof(addr)), RD_OK);
    snprintf(want, sizeof(want), "%s%u", peer_prefix, (unsigned)cport);
    assert_string_equal(addr, want);

    assert_int_equal(write(cfd, "ping", 4), 4);
    char buf[8];
    assert_true(wait_fd(afd, POLLIN));
    assert_int_equal(read(afd, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    close(afd);
    close(cfd);
    close(lfd);
    return true;
}

static void
test_tcp_ipv4(void **state)
{
    (void)state;
    assert_true(round_trip("127.0.0.1", "127.0.0.1:"));
}

static void
test_tcp_ipv6(void **state)
{
    (void)state;
    if (!round_trip("::1", "[::1]:"))
        skip();
    struct rd_errbuf err;
    int lfd = net_tcp_listen("::1", 0, 4, &err);
    assert_true(lfd >= 0);
    int v = 0;
    socklen_t vl = sizeof(v);
    assert_int_equal(getsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl), 0);
    assert_int_equal(v, 1);
    close(lfd);
}

static void
test_listen_errors(void **state)
{
    (void)state;
    struct rd_errbuf err = {""};
    assert_int_equal(net_tcp_listen("localhost", 0, 4, &err), RD_EPROTO);
    assert_string_equal(err.msg, "listen: \"localhost\" is not a numeric IPv4 or IPv6 address");
    int lfd = net_tcp_listen("127.0.0.1", 0, 4, &err);
    assert_true(lfd >= 0);
    uint16_t port;
    assert_int_equal(net_local_port(lfd, &port), RD_OK);
    /* Same port while the first socket listens: refused even with SO_REUSEADDR. */
    assert_int_equal(net_tcp_listen("127.0.0.1", port, 4, &err), RD_EIO);
    assert_non_null(strstr(err.msg, "Address already in use"));
    close(lfd);
    /* Nothing listens there now: the connect fails at once or on completion. */
    int cfd = net_tcp_connect("127.0.0.1", port, &err);
    if (cfd >= 0) {
        assert_true(wait_fd(cfd, POLLOUT));
        assert_int_equal(net_connect_result(cfd), RD_EIO);
        assert_int_equal(errno, ECONNREFUSED);
        close(cfd);
    } else {
        assert_int_equal(cfd, RD_EIO);
    }
    assert_int_equal(net_tcp_connect("1.2.3", 80, &err), RD_EPROTO);
}

static void
test_udp(void **state)
{
    (void)state;
    struct rd_errbuf err = {""};
    int u = net_udp_bind("127.0.0.1", 0, &err);
    assert_true(u >= 0);
    expect_flags(u);
    uint16_t port;
    assert_int_equal(net_local_port(u, &port), RD_OK);
    assert_true(port > 0);
    assert_int_equal(net_udp_bind("127.0.0.1", port, &err), RD_EBUSY);
    close(u);

    /* Find a free even/odd pair near a kernel-chosen port. */
    int fds[2] = {-1, -1};
    uint16_t base = (uint16_t)(port & ~1u);
    int rc = RD_EBUSY;
    for (int i = 0; i < 50 && rc == RD_EBUSY; i++, base = (uint16_t)(base + 2))
        rc = net_udp_bind_pair("127.0.0.1", base, fds, &err);
    assert_int_equal(rc, RD_OK);
    base = (uint16_t)(base - 2);
    uint16_t p0, p1;
    assert_int_equal(net_local_port(fds[0], &p0), RD_OK);
    assert_int_equal(net_local_port(fds[1], &p1), RD_OK);
    assert_int_equal(p0, base);
    assert_int_equal(p1, base + 1);
    /* The pair is taken: RD_EBUSY, and no descriptor is left behind. */
    int probe = dup(0);
    close(probe);
    int again[2] = {-1, -1};
    assert_int_equal(net_udp_bind_pair("127.0.0.1", base, again, &err), RD_EBUSY);
    int probe2 = dup(0);
    assert_int_equal(probe2, probe);
    close(probe2);
    /* Only the RTCP port taken: the RTP socket opened first is closed again. */
    close(fds[0]);
    probe = dup(0);
    close(probe);
    assert_int_equal(net_udp_bind_pair("127.0.0.1", base, again, &err), RD_EBUSY);
    probe2 = dup(0);
    assert_int_equal(probe2, probe);
    close(probe2);
    close(fds[1]);
    assert_int_equal(net_udp_bind_pair("127.0.0.1", (uint16_t)(base + 1), again, &err), RD_EPROTO);
}

static void
test_format(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    char out[NET_ADDR_STRLEN];
    static const struct {
        const char *ip;
        uint16_t port;
        const char *addr;
        const char *ip_text;
    } v[] = {
        {"10.1.2.3", 5123, "10.1.2.3:5123", "10.1.2.3"},
        {"0.0.0.0", 0, "0.0.0.0:0", "0.0.0.0"},
        {"255.255.255.255", 65535, "255.255.255.255:65535", "255.255.255.255"},
        {"2001:db8::1", 554, "[2001:db8::1]:554", "2001:db8::1"},
        {"::", 1, "[::]:1", "::"},
        {"::ffff:1.2.3.4", 8554, "[::ffff:1.2.3.4]:8554", "::ffff:1.2.3.4"},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
         "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(net_sockaddr_make(v[i].ip, v[i].port, &ss, &len), RD_OK);
        assert_int_equal(net_format_addr((struct sockaddr *)&ss, len, out, sizeof(out)), RD_OK);
        assert_string_equal(out, v[i].addr);
        assert_int_equal(net_format_ip((struct sockaddr *)&ss, len, out, NET_IP_STRLEN), RD_OK);
        assert_string_equal(out, v[i].ip_text);
        /* Exactly enough room, and one byte less. */
        size_t n = strlen(v[i].addr);
        assert_int_equal(net_format_addr((struct sockaddr *)&ss, len, out, n + 1), RD_OK);
        memset(out, 'z', sizeof(out));
        assert_int_equal(net_format_addr((struct sockaddr *)&ss, len, out, n), RD_ELIMIT);
        assert_int_equal(out[0], 'z');
        assert_int_equal(net_format_ip((struct sockaddr *)&ss, len, out, strlen(v[i].ip_text)),
                         RD_ELIMIT);
        /* A length too short for the family is refused, not over-read. */
        assert_int_equal(net_format_addr((struct sockaddr *)&ss, len - 1, out, sizeof(out)),
                         RD_EPROTO);
    }
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNIX;
    assert_int_equal(net_format_addr((struct sockaddr *)&ss, sizeof(ss), out, sizeof(out)),
                     RD_EPROTO);
    static const char *const bad[] = {"",       "1.2.3",   "1.2.3.4.5", "[::1]",
                                      "::1%lo", "a.b.c.d", " 1.2.3.4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(net_sockaddr_make(bad[i], 1, &ss, &len), RD_EPROTO);
}

/* Child: a pending connection, no descriptor left under RLIMIT_NOFILE -> accept must say
 * RD_EBUSY (pause the listener), and succeed once a descriptor is free again. */
static int
emfile_child(void)
{
    struct rd_errbuf err;
    int lfd = net_tcp_listen("127.0.0.1", 0, 4, &err);
    uint16_t port;
    if (lfd < 0 || net_local_port(lfd, &port) != RD_OK)
        return 10;
    int cfd = net_tcp_connect("127.0.0.1", port, &err);
    if (cfd < 0 || !wait_fd(lfd, POLLIN))
        return 11;
    int lowest_free = dup(0);
    if (lowest_free < 0)
        return 12;
    close(lowest_free);
    struct rlimit old, rl;
    if (getrlimit(RLIMIT_NOFILE, &old) != 0)
        return 13;
    rl = old;
    rl.rlim_cur = (rlim_t)lowest_free; /* every descriptor below it is in use */
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 14;
    int rc = net_accept(lfd, NULL, NULL);
    int e = errno;
    if (setrlimit(RLIMIT_NOFILE, &old) != 0)
        return 15;
    if (rc != RD_EBUSY || e != EMFILE)
        return 16;
    rc = net_accept(lfd, NULL, NULL);
    return rc >= 0 ? 0 : 17;
}

static void
test_emfile(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(emfile_child());
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tcp_ipv4),      cmocka_unit_test(test_tcp_ipv6),
    cmocka_unit_test(test_listen_errors), cmocka_unit_test(test_udp),
    cmocka_unit_test(test_format),        cmocka_unit_test(test_emfile),
};

RD_TEST_MAIN(tests)
