/* SPDX-License-Identifier: MIT */
/* udp_batch.c and net_udp_sendmmsg over loopback: one sendmmsg per socket and burst, GSO
 * trains (equal sizes, a shorter last segment, the segment cap, destination and size breaks),
 * the plain path, the GSO refusal fallback (SO_NO_CHECK makes the kernel refuse UDP GSO),
 * failed sends counted, every datagram delivered intact and every reference returned. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "pktpool.h"
#include "rd_err.h"
#include "udp_batch.h"

#ifndef SO_NO_CHECK
#define SO_NO_CHECK 11 /* asm-generic/socket.h */
#endif

static struct pktpool pool;
static struct udp_batch batch; /* ~70 KiB: not on the stack */

static int
setup(void **state)
{
    (void)state;
    return pktpool_init(&pool, NULL);
}

static int
teardown(void **state)
{
    (void)state;
    assert_int_equal(pktpool_in_use(&pool), 0);
    return pktpool_fini(&pool);
}

/* A UDP socket on 127.0.0.1 with a large receive buffer; its address in *sa. */
static int
udp_sock(struct sockaddr_in *sa)
{
    struct rd_errbuf err = {""};
    int fd = net_udp_bind("127.0.0.1", 0, &err);
    assert_true(fd >= 0);
    int big = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    uint16_t port;
    assert_int_equal(net_local_port(fd, &port), RD_OK);
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return fd;
}

/* A packet of len bytes: its index in the first 4 bytes, then a pattern. */
static struct pkt *
mk(uint32_t idx, uint32_t len)
{
    struct pkt *p = pktpool_alloc(&pool, len);
    assert_non_null(p);
    for (uint32_t i = 0; i < len; i++)
        p->data[i] = (uint8_t)(idx * 7 + i);
    memcpy(p->data, &idx, sizeof(idx));
    p->len = len;
    return p;
}

static void
add(int fd, const struct sockaddr_in *to, uint32_t idx, uint32_t len, struct udp_batch_acct *a)
{
    struct pkt *p = mk(idx, len);
    udp_batch_add(&batch, fd, (const struct sockaddr *)to, sizeof(*to), p, a);
    pkt_unref(p);
}

/* Receives n datagrams on fd and checks their indexes, lengths and contents. */
static void
expect_rx(int fd, const uint32_t *idx, const uint32_t *len, size_t n)
{
    static uint8_t buf[65536];
    for (size_t k = 0; k < n; k++) {
        struct pollfd pf = {fd, POLLIN, 0};
        assert_int_equal(poll(&pf, 1, 2000), 1);
        ssize_t r = recv(fd, buf, sizeof(buf), 0);
        assert_int_equal(r, len[k]);
        uint32_t got;
        memcpy(&got, buf, sizeof(got));
        assert_int_equal(got, idx[k]);
        for (uint32_t i = 4; i < len[k]; i++)
            assert_int_equal(buf[i], (uint8_t)(idx[k] * 7 + i));
    }
    assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1); /* nothing more */
}

static void
test_gso_train_shorter_last(void **state)
{
    (void)state;
    struct sockaddr_in a;
    int rx = udp_sock(&a);
    struct sockaddr_in me;
    int tx = udp_sock(&me);
    bool gso = net_udp_gso_supported(tx);
    udp_batch_init(&batch, gso);
    struct udp_batch_acct acct = {0, 0, 0};
    uint32_t idx[11], len[11];
    for (uint32_t i = 0; i < 11; i++) {
        idx[i] = i;
        len[i] = i < 10 ? 1200 : 700; /* ten full segments, a shorter last one */
        add(tx, &a, idx[i], len[i], &acct);
    }
    assert_int_equal(batch.n_iov, 11);
    assert_int_equal(batch.n_msgs, gso ? 1 : 11);
    udp_batch_flush(&batch);
    assert_int_equal(batch.syscalls, 1);
    assert_int_equal(batch.gso_trains, gso ? 1 : 0);
    assert_int_equal(acct.pkts_sent, 11);
    assert_int_equal(acct.bytes_sent, 10 * 1200 + 700);
    assert_int_equal(acct.pkts_failed, 0);
    expect_rx(rx, idx, len, 11);
    close(rx);
    close(tx);
}

static void
test_train_breaks(void **state)
{
    (void)state;
    struct sockaddr_in a, b, me;
    int ra = udp_sock(&a);
    int rb = udp_sock(&b);
    int tx = udp_sock(&me);
    if (!net_udp_gso_supported(tx))
        skip();
    udp_batch_init(&batch, true);
    struct udp_batch_acct acct = {0, 0, 0};
    /* A: 1000 1000 500 | 1000 (after the short one) | 1200 (larger) | 1500 1500 (> GSO max
     * segment: one by one) ; then B interleaved with A: separate messages */
    add(tx, &a, 0, 1000, &acct);
    add(tx, &a, 1, 1000, &acct);
    add(tx, &a, 2, 500, &acct);
    add(tx, &a, 3, 1000, &acct);
    add(tx, &a, 4, 1200, &acct);
    add(tx, &a, 5, 1500, &acct);
    add(tx, &a, 6, 1500, &acct);
    assert_int_equal(batch.n_msgs, 5);
    add(tx, &b, 100, 800, &acct);
    add(tx, &a, 7, 800, &acct);
    add(tx, &b, 101, 800, &acct);
    assert_int_equal(batch.n_msgs, 8);
    udp_batch_flush(&batch);
    assert_int_equal(batch.syscalls, 1);
    assert_int_equal(acct.pkts_sent, 10);
    uint32_t ia[] = {0, 1, 2, 3, 4, 5, 6, 7}, la[] = {1000, 1000, 500, 1000, 1200, 1500, 1500, 800};
    expect_rx(ra, ia, la, 8);
    uint32_t ib[] = {100, 101}, lb[] = {800, 800};
    expect_rx(rb, ib, lb, 2);
    close(ra);
    close(rb);
    close(tx);
}

static void
test_segment_cap_and_many_messages(void **state)
{
    (void)state;
    struct sockaddr_in a, me;
    int ra = udp_sock(&a);
    int tx = udp_sock(&me);
    bool gso = net_udp_gso_supported(tx);
    udp_batch_init(&batch, gso);
    struct udp_batch_acct acct = {0, 0, 0};
    /* 130 equal datagrams of 400 bytes: trains of 64, 64, 2 (segment cap). */
    static uint32_t idx[300], len[300];
    for (uint32_t i = 0; i < 130; i++) {
        idx[i] = i;
        len[i] = 400;
        add(tx, &a, i, 400, &acct);
    }
    if (gso)
        assert_int_equal(batch.n_msgs, 3);
    udp_batch_flush(&batch);
    assert_int_equal(acct.pkts_sent, 130);
    expect_rx(ra, idx, len, 130);

    /* Without GSO, 300 datagrams: more than one sendmmsg chunk, more than the message cap
     * (an early flush), all delivered in order. */
    udp_batch_init(&batch, false);
    for (uint32_t i = 0; i < 300; i++) {
        idx[i] = i;
        len[i] = 100 + i;
        add(tx, &a, i, len[i], &acct);
    }
    udp_batch_flush(&batch);
    assert_int_equal(acct.pkts_sent, 430);
    assert_true(batch.syscalls >= 2);
    expect_rx(ra, idx, len, 300);
    close(ra);
    close(tx);
}

static void
test_fd_change_flushes(void **state)
{
    (void)state;
    struct sockaddr_in a, m1, m2;
    int ra = udp_sock(&a);
    int t1 = udp_sock(&m1);
    int t2 = udp_sock(&m2);
    udp_batch_init(&batch, false);
    struct udp_batch_acct acct = {0, 0, 0};
    add(t1, &a, 0, 100, &acct);
    add(t1, &a, 1, 100, &acct);
    add(t2, &a, 2, 100, &acct); /* flushes the two from t1 first */
    assert_int_equal(batch.syscalls, 1);
    assert_int_equal(batch.n_msgs, 1);
    udp_batch_flush(&batch);
    udp_batch_flush(&batch); /* empty: no system call */
    assert_int_equal(batch.syscalls, 2);
    uint32_t idx[] = {0, 1, 2}, len[] = {100, 100, 100};
    expect_rx(ra, idx, len, 3);
    close(ra);
    close(t1);
    close(t2);
}

static void
test_gso_refused_falls_back(void **state)
{
    (void)state;
    struct sockaddr_in a, me;
    int ra = udp_sock(&a);
    int tx = udp_sock(&me);
    if (!net_udp_gso_supported(tx))
        skip();
    /* With UDP checksums off the kernel refuses GSO sends (EINVAL). */
    int one = 1;
    assert_int_equal(setsockopt(tx, SOL_SOCKET, SO_NO_CHECK, &one, sizeof(one)), 0);
    udp_batch_init(&batch, true);
    struct udp_batch_acct acct = {0, 0, 0};
    uint32_t idx[6], len[6];
    for (uint32_t i = 0; i < 6; i++) {
        idx[i] = i;
        len[i] = i < 3 ? 900 : 300;
        add(tx, &a, i, len[i], &acct);
    }
    /* Two trains: 900 900 900 300 (a shorter last segment ends it) | 300 300 */
    assert_int_equal(batch.n_msgs, 2);
    udp_batch_flush(&batch);
    assert_false(batch.gso);
    assert_int_equal(batch.gso_fallbacks, 2); /* both trains were re-sent plain */
    assert_int_equal(acct.pkts_sent, 6);
    assert_int_equal(acct.pkts_failed, 0);
    expect_rx(ra, idx, len, 6);
    /* Later batches stay plain. */
    add(tx, &a, 10, 500, &acct);
    add(tx, &a, 11, 500, &acct);
    assert_int_equal(batch.n_msgs, 2);
    udp_batch_flush(&batch);
    uint32_t i2[] = {10, 11}, l2[] = {500, 500};
    expect_rx(ra, i2, l2, 2);
    close(ra);
    close(tx);
}

static void
test_failures_counted(void **state)
{
    (void)state;
    struct sockaddr_in a, me;
    int ra = udp_sock(&a);
    int tx = udp_sock(&me);
    udp_batch_init(&batch, false);
    struct udp_batch_acct good = {0, 0, 0}, bad = {0, 0, 0};
    /* No destination on an unconnected socket: EDESTADDRREQ for those messages only. */
    add(tx, &a, 0, 100, &good);
    struct pkt *p = mk(1, 100);
    udp_batch_add(&batch, tx, NULL, 0, p, &bad);
    udp_batch_add(&batch, tx, NULL, 0, p, &bad);
    pkt_unref(p);
    add(tx, &a, 2, 100, &good);
    udp_batch_flush(&batch);
    assert_int_equal(good.pkts_sent, 2);
    assert_int_equal(bad.pkts_failed, 2);
    assert_int_equal(bad.pkts_sent, 0);
    uint32_t idx[] = {0, 2}, len[] = {100, 100};
    expect_rx(ra, idx, len, 2);

    /* The wrapper's own returns: nothing to send, and the first message failing. */
    assert_int_equal(net_udp_sendmmsg(tx, NULL, 0), 0);
    uint8_t byte = 1;
    struct iovec v = {&byte, 1};
    struct net_dgram d = {NULL, 0, &v, 1, 0, 0};
    assert_int_equal(net_udp_sendmmsg(tx, &d, 1), RD_EIO);
    assert_int_equal(errno, EDESTADDRREQ);
    d.dest = (const struct sockaddr *)&a;
    d.dest_len = sizeof(a);
    assert_int_equal(net_udp_sendmmsg(tx, &d, 1), 1);
    assert_int_equal(d.sent, 1);
    assert_int_equal(recv(ra, &byte, 1, 0), 1);
    close(ra);
    close(tx);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gso_train_shorter_last, setup, teardown),
        cmocka_unit_test_setup_teardown(test_train_breaks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_cap_and_many_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_change_flushes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gso_refused_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_counted, setup, teardown),
    };
    return rd_test_run(argc, argv, "udp_batch", tests, sizeof(tests) / sizeof(tests[0]));
}
