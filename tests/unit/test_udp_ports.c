/* SPDX-License-Identifier: MIT */
/* udp_ports: pairs are even/odd, unique, skipped when another socket holds them, returned
 * to the range, and the range is refused when it holds no pair. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "rd_err.h"
#include "udp_ports.h"

/* A free even port base with `pairs` free pairs above it (best effort on a shared machine). */
static uint16_t
free_base(unsigned pairs)
{
    for (uint16_t base = 41000; base < 60000; base = (uint16_t)(base + 2 * pairs + 64)) {
        bool ok = true;
        for (unsigned i = 0; ok && i < 2 * pairs; i++) {
            struct rd_errbuf err;
            int fd = net_udp_bind("127.0.0.1", (uint16_t)(base + i), &err);
            if (fd < 0)
                ok = false;
            else
                close(fd);
        }
        if (ok)
            return base;
    }
    fail_msg("no free port range");
    return 0;
}

static void
test_range_checks(void **state)
{
    (void)state;
    struct udp_ports *p;
    struct rd_errbuf err = {{0}};
    assert_int_equal(udp_ports_new("127.0.0.1", 100, 200, &p, &err), RD_EPROTO);
    assert_int_equal(udp_ports_new("127.0.0.1", 5001, 5002, &p, &err), RD_EPROTO);
    assert_int_equal(udp_ports_new("127.0.0.1", 5000, 5000, &p, &err), RD_EPROTO);
    assert_int_equal(udp_ports_new("127.0.0.1", 5001, 5003, &p, &err), RD_OK); /* 5002-5003 */
    assert_int_equal(udp_ports_capacity(p), 1);
    udp_ports_free(p);
    assert_int_equal(udp_ports_new("127.0.0.1", 1024, 65535, &p, &err), RD_OK);
    assert_int_equal(udp_ports_capacity(p), (65535 - 1024 + 1) / 2);
    udp_ports_free(p);
}

static void
test_pairs_unique_and_reused(void **state)
{
    (void)state;
    uint16_t base = free_base(3);
    struct udp_ports *p;
    struct rd_errbuf err = {{0}};
    assert_int_equal(udp_ports_new("127.0.0.1", base, (uint16_t)(base + 5), &p, &err), RD_OK);
    assert_int_equal(udp_ports_capacity(p), 3);
    int fds[3][2];
    uint16_t ports[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(udp_ports_open_pair(p, fds[i], &ports[i]), RD_OK);
        assert_int_equal(ports[i] % 2, 0);
        uint16_t lp;
        assert_int_equal(net_local_port(fds[i][0], &lp), RD_OK);
        assert_int_equal(lp, ports[i]);
        assert_int_equal(net_local_port(fds[i][1], &lp), RD_OK);
        assert_int_equal(lp, ports[i] + 1);
        for (int k = 0; k < i; k++)
            assert_int_not_equal(ports[i], ports[k]);
    }
    assert_int_equal(udp_ports_in_use(p), 3);
    int extra[2];
    uint16_t xp;
    assert_int_equal(udp_ports_open_pair(p, extra, &xp), RD_ELIMIT);
    udp_ports_close_pair(p, fds[1], ports[1]);
    assert_int_equal(fds[1][0], -1);
    assert_int_equal(udp_ports_in_use(p), 2);
    assert_int_equal(udp_ports_open_pair(p, extra, &xp), RD_OK);
    assert_int_equal(xp, ports[1]);
    udp_ports_close_pair(p, extra, xp);
    udp_ports_close_pair(p, fds[0], ports[0]);
    udp_ports_close_pair(p, fds[2], ports[2]);
    assert_int_equal(udp_ports_in_use(p), 0);
    udp_ports_free(p);
}

static void
test_busy_pair_skipped(void **state)
{
    (void)state;
    uint16_t base = free_base(2);
    struct rd_errbuf err = {{0}};
    /* Another socket holds the RTCP port of the first pair. */
    int squat = net_udp_bind("127.0.0.1", (uint16_t)(base + 1), &err);
    assert_true(squat >= 0);
    struct udp_ports *p;
    assert_int_equal(udp_ports_new("127.0.0.1", base, (uint16_t)(base + 3), &p, &err), RD_OK);
    int fds[2];
    uint16_t port;
    assert_int_equal(udp_ports_open_pair(p, fds, &port), RD_OK);
    assert_int_equal(port, base + 2);
    int more[2];
    assert_int_equal(udp_ports_open_pair(p, more, &port), RD_ELIMIT);
    udp_ports_close_pair(p, fds, (uint16_t)(base + 2));
    udp_ports_free(p);
    close(squat);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_checks),
        cmocka_unit_test(test_pairs_unique_and_reused),
        cmocka_unit_test(test_busy_pair_skipped),
    };
    return rd_test_run(argc, argv, "udp_ports", tests, sizeof(tests) / sizeof(tests[0]));
}
