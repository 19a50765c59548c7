/* SPDX-License-Identifier: MIT */
/* iplimit.c: per-IP open counts, the accept-rate token bucket on a fake clock, IPv4-mapped
 * addresses, and recycling of idle entries when the pool is full. */
#include "rd_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "iplimit.h"
#include "rd_err.h"

static struct sockaddr_storage
v4(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(5000);
    assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage
v6(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(6000);
    assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static struct iplimit *
make(uint32_t max_conns, uint32_t per_ip, uint32_t extra, double rate, double burst)
{
    struct iplimit_params p = {max_conns, per_ip, extra, rate, burst};
    struct iplimit *t = NULL;
    assert_int_equal(iplimit_create(&p, &t), RD_OK);
    return t;
}

static void
test_params(void **state)
{
    (void)state;
    struct iplimit *t = NULL;
    static const struct iplimit_params bad[] = {
        {0, 1, 0, 1, 1},   {1, 0, 0, 1, 1},  {1, 1, 0, 0, 1},
        {1, 1, 0, 1, 0.5}, {1, 1, 0, -1, 1}, {UINT32_MAX, 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(iplimit_create(&bad[i], &t), RD_EPROTO);
    iplimit_destroy(NULL);
}

static void
test_per_ip_cap(void **state)
{
    (void)state;
    struct iplimit *t = make(100, 3, 10, 1000, 1000);
    struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2");
    uint32_t slots[4];
    for (int i = 0; i < 3; i++)
        assert_int_equal(iplimit_admit(t, SA(a), 1.0, &slots[i]), IPLIMIT_OK);
    assert_int_equal(iplimit_admit(t, SA(a), 1.0, &slots[3]), IPLIMIT_PER_IP);
    assert_int_equal(iplimit_open(t, SA(a)), 3);
    /* Another address is independent. */
    assert_int_equal(iplimit_admit(t, SA(b), 1.0, &slots[3]), IPLIMIT_OK);
    assert_int_equal(iplimit_open(t, SA(b)), 1);
    iplimit_release(t, slots[0]);
    assert_int_equal(iplimit_open(t, SA(a)), 2);
    assert_int_equal(iplimit_admit(t, SA(a), 1.0, &slots[0]), IPLIMIT_OK);
    /* Releasing more than admitted, or a bogus slot, changes nothing. */
    for (int i = 0; i < 3; i++)
        iplimit_release(t, slots[i]);
    iplimit_release(t, slots[0]);
    iplimit_release(t, 1u << 30);
    assert_int_equal(iplimit_open(t, SA(a)), 0);
    assert_int_equal(iplimit_open(t, SA(b)), 1);
    assert_string_equal(iplimit_verdict_name(IPLIMIT_PER_IP), "per_ip");
    assert_string_equal(iplimit_verdict_name(IPLIMIT_RATE), "rate");
    assert_string_equal(iplimit_verdict_name((enum iplimit_verdict)99), "unknown");
    iplimit_destroy(t);
}

static void
test_rate(void **state)
{
    (void)state;
    /* 20/s with a burst of 50: the SECURITY.md §2.2 numbers. */
    struct iplimit *t = make(1000, 1000, 0, 20, 50);
    struct sockaddr_storage a = v4("198.51.100.9");
    uint32_t slot;
    for (int i = 0; i < 50; i++)
        assert_int_equal(iplimit_admit(t, SA(a), 100.0, &slot), IPLIMIT_OK);
    assert_int_equal(iplimit_admit(t, SA(a), 100.0, &slot), IPLIMIT_RATE);
    /* Times are binary fractions so the refills are exact. */
    assert_int_equal(iplimit_admit(t, SA(a), 100.03125, &slot), IPLIMIT_RATE); /* 0.625 token */
    assert_int_equal(iplimit_admit(t, SA(a), 100.0625, &slot), IPLIMIT_OK);    /* 1.25 tokens */
    assert_int_equal(iplimit_admit(t, SA(a), 100.0625, &slot), IPLIMIT_RATE);  /* 0.25 left */
    /* One second refills 20, never more than the burst. */
    int ok = 0;
    while (iplimit_admit(t, SA(a), 101.0625, &slot) == IPLIMIT_OK)
        ok++;
    assert_int_equal(ok, 20);
    ok = 0;
    while (iplimit_admit(t, SA(a), 1000.0, &slot) == IPLIMIT_OK)
        ok++;
    assert_int_equal(ok, 50);
    /* A clock that goes backwards refills nothing. */
    assert_int_equal(iplimit_admit(t, SA(a), 10.0, &slot), IPLIMIT_RATE);
    /* Refused attempts use tokens too: a hammering peer stays refused. */
    struct iplimit *t2 = make(10, 1, 0, 1, 2);
    struct sockaddr_storage b = v4("203.0.113.1");
    assert_int_equal(iplimit_admit(t2, SA(b), 0.0, &slot), IPLIMIT_OK);
    assert_int_equal(iplimit_admit(t2, SA(b), 0.0, &slot), IPLIMIT_PER_IP);
    assert_int_equal(iplimit_admit(t2, SA(b), 0.0, &slot), IPLIMIT_RATE);
    iplimit_destroy(t2);
    iplimit_destroy(t);
}

static void
test_families(void **state)
{
    (void)state;
    struct iplimit *t = make(10, 2, 0, 1000, 1000);
    struct sockaddr_storage a = v4("192.0.2.33"), mapped = v6("::ffff:192.0.2.33"),
                            six = v6("2001:db8::33");
    uint32_t s1, s2, s3;
    assert_int_equal(iplimit_admit(t, SA(a), 0.0, &s1), IPLIMIT_OK);
    /* The IPv4-mapped form is the same peer. */
    assert_int_equal(iplimit_admit(t, SA(mapped), 0.0, &s2), IPLIMIT_OK);
    assert_int_equal(s1, s2);
    assert_int_equal(iplimit_admit(t, SA(a), 0.0, &s3), IPLIMIT_PER_IP);
    assert_int_equal(iplimit_admit(t, SA(six), 0.0, &s3), IPLIMIT_OK);
    assert_int_not_equal(s3, s1);
    struct sockaddr_storage unix_ss;
    memset(&unix_ss, 0, sizeof(unix_ss));
    unix_ss.ss_family = AF_UNIX;
    assert_int_equal(iplimit_admit(t, SA(unix_ss), 0.0, &s3), IPLIMIT_FULL);
    assert_int_equal(iplimit_open(t, SA(unix_ss)), 0);
    iplimit_destroy(t);
}

static void
test_recycling(void **state)
{
    (void)state;
    /* Room for 2 + 1 addresses. */
    struct iplimit *t = make(2, 5, 1, 1, 3);
    struct sockaddr_storage a = v4("10.0.0.1"), b = v4("10.0.0.2"), c = v4("10.0.0.3"),
                            d = v4("10.0.0.4");
    uint32_t sa, sb, sc, sd;
    assert_int_equal(iplimit_admit(t, SA(a), 0.0, &sa), IPLIMIT_OK);
    assert_int_equal(iplimit_admit(t, SA(b), 0.0, &sb), IPLIMIT_OK);
    assert_int_equal(iplimit_admit(t, SA(c), 0.0, &sc), IPLIMIT_OK);
    /* Every entry has an open connection: a fourth address cannot be tracked. */
    assert_int_equal(iplimit_admit(t, SA(d), 0.0, &sd), IPLIMIT_FULL);
    /* a uses up its burst, then goes idle first; c goes idle later. */
    assert_int_equal(iplimit_admit(t, SA(a), 0.0, &sa), IPLIMIT_OK);
    assert_int_equal(iplimit_admit(t, SA(a), 0.0, &sa), IPLIMIT_OK);
    assert_int_equal(iplimit_admit(t, SA(a), 0.0, &sa), IPLIMIT_RATE);
    for (int i = 0; i < 3; i++)
        iplimit_release(t, sa);
    iplimit_release(t, sc);
    /* d takes the entry idle for longest (a's), so a is forgotten with its empty bucket. */
    assert_int_equal(iplimit_admit(t, SA(d), 0.0, &sd), IPLIMIT_OK);
    assert_int_equal(iplimit_open(t, SA(a)), 0);
    assert_int_equal(iplimit_open(t, SA(c)), 0);
    assert_int_equal(iplimit_open(t, SA(d)), 1);
    /* a comes back with a full burst (it takes c's entry). */
    for (int i = 0; i < 3; i++)
        assert_int_equal(iplimit_admit(t, SA(a), 0.0, &sa), IPLIMIT_OK);
    /* b kept its count through all of it. */
    assert_int_equal(iplimit_open(t, SA(b)), 1);
    iplimit_destroy(t);
}

static void
test_many_addresses(void **state)
{
    (void)state;
    /* Thousands of distinct peers through a small table: counts stay exact. */
    struct iplimit *t = make(64, 1, 64, 1000, 1000);
    uint32_t slots[64];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 64; i++) {
            char ip[32];
            snprintf(ip, sizeof(ip), "10.%d.%d.1", round, i);
            struct sockaddr_storage a = v4(ip);
            assert_int_equal(iplimit_admit(t, SA(a), round, &slots[i]), IPLIMIT_OK);
            assert_int_equal(iplimit_open(t, SA(a)), 1);
        }
        for (int i = 0; i < 64; i++)
            iplimit_release(t, slots[i]);
    }
    iplimit_destroy(t);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_params),    cmocka_unit_test(test_per_ip_cap),
    cmocka_unit_test(test_rate),      cmocka_unit_test(test_families),
    cmocka_unit_test(test_recycling), cmocka_unit_test(test_many_addresses),
};

RD_TEST_MAIN(tests)
