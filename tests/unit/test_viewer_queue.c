/* SPDX-License-Identifier: MIT */
/* viewer_queue.c: accounting, the high-water and full levels on each cap (packets,
 * bytes, age, with a wrapping millisecond clock), join and control entries outside the caps,
 * ring growth and its limit, purge by tag around a partly written head, pop_tail; every
 * reference returned to the pool. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include "pktpool.h"
#include "rd_err.h"
#include "viewer_queue.h"

static struct pktpool pool;

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

static struct pkt *
mk(uint32_t len, uint8_t fill)
{
    struct pkt *p = pktpool_alloc(&pool, len);
    assert_non_null(p);
    memset(p->data, fill, len);
    p->len = len;
    return p;
}

/* Pushes a fresh packet (the queue keeps the only reference). */
static int
push(struct vqueue *q, uint32_t len, uint8_t tag, uint8_t flags, uint32_t now)
{
    struct pkt *p = mk(len, tag);
    int rc = vqueue_push(q, p, tag, flags, now);
    pkt_unref(p);
    return rc;
}

static void
test_limits_check(void **state)
{
    (void)state;
    struct vqueue_limits l;
    vqueue_limits_default(&l);
    assert_int_equal(l.max_bytes, RD_VIEWER_QUEUE_MAX_BYTES);
    assert_int_equal(l.max_packets, RD_VIEWER_QUEUE_MAX_PACKETS);
    assert_int_equal(l.max_ms, RD_VIEWER_QUEUE_MAX_MS);
    assert_int_equal(vqueue_limits_check(&l), RD_OK);
    struct vqueue_limits bad[5];
    for (int i = 0; i < 5; i++)
        bad[i] = l;
    bad[0].max_bytes = 0;
    bad[1].max_packets = 0;
    bad[2].max_ms = 0;
    bad[3].high_pct = 0;
    bad[4].high_pct = 101;
    for (int i = 0; i < 5; i++)
        assert_int_equal(vqueue_limits_check(&bad[i]), RD_EPROTO);
}

static void
test_packet_cap_levels(void **state)
{
    (void)state;
    struct vqueue_limits l = {1u << 30, 10, 60000, 50};
    struct vqueue q;
    vqueue_init(&q, 100);
    /* 0..4 queued: a fifth is still below the high-water mark (5 of 10). */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(vqueue_level(&q, &l, 100, 0), VQUEUE_OK);
        assert_int_equal(push(&q, 100, 1, 0, 0), RD_OK);
    }
    /* 5 queued: the sixth would be above 50 %. */
    assert_int_equal(vqueue_level(&q, &l, 100, 0), VQUEUE_HIGH);
    for (int i = 0; i < 5; i++)
        assert_int_equal(push(&q, 100, 1, 0, 0), RD_OK);
    assert_int_equal(vqueue_level(&q, &l, 100, 0), VQUEUE_FULL);
    assert_int_equal(vqueue_len(&q), 10);
    assert_int_equal(q.bytes, 1000);
    /* Drained to 2: admitting again. */
    for (int i = 0; i < 8; i++)
        vqueue_pop(&q);
    assert_int_equal(vqueue_level(&q, &l, 100, 0), VQUEUE_OK);
    vqueue_fini(&q);
    assert_int_equal(vqueue_len(&q), 0);
    assert_int_equal(q.bytes, 0);
}

static void
test_byte_cap_levels(void **state)
{
    (void)state;
    struct vqueue_limits l = {10000, 1000, 60000, 50};
    struct vqueue q;
    vqueue_init(&q, 100);
    assert_int_equal(push(&q, 4000, 1, 0, 0), RD_OK);
    assert_int_equal(vqueue_level(&q, &l, 1000, 0), VQUEUE_OK);   /* 5000: at 50 %, not above */
    assert_int_equal(vqueue_level(&q, &l, 1001, 0), VQUEUE_HIGH); /* 5001 */
    assert_int_equal(vqueue_level(&q, &l, 6000, 0), VQUEUE_HIGH); /* 10000: at the cap */
    assert_int_equal(vqueue_level(&q, &l, 6001, 0), VQUEUE_FULL);

    vqueue_fini(&q);
}

static void
test_age_cap_and_clock_wrap(void **state)
{
    (void)state;
    struct vqueue_limits l = {1u << 30, 1000, 2000, 50};
    struct vqueue q;
    vqueue_init(&q, 100);
    uint32_t t0 = UINT32_MAX - 500; /* the millisecond clock wraps during the test */
    assert_int_equal(push(&q, 100, 1, 0, t0), RD_OK);
    assert_int_equal(vqueue_level(&q, &l, 100, t0 + 999), VQUEUE_OK);
    assert_int_equal(vqueue_level(&q, &l, 100, t0 + 1000), VQUEUE_HIGH);
    assert_int_equal(vqueue_level(&q, &l, 100, t0 + 1999), VQUEUE_HIGH);
    assert_int_equal(vqueue_level(&q, &l, 100, t0 + 2000), VQUEUE_FULL);

    /* A clock that went backwards does not make the queue look old. */
    assert_int_equal(vqueue_level(&q, &l, 100, t0 - 10), VQUEUE_OK);
    vqueue_fini(&q);
}

static void
test_join_and_control_outside_caps(void **state)
{
    (void)state;
    struct vqueue_limits l = {10000, 4, 60000, 50};
    struct vqueue q;
    vqueue_init(&q, 100);
    for (int i = 0; i < 20; i++)
        assert_int_equal(push(&q, 1000, 1, VQUEUE_JOIN, 0), RD_OK);
    assert_int_equal(push(&q, 3000, 0xfe, VQUEUE_CONTROL, 0), RD_OK);
    assert_int_equal(vqueue_len(&q), 21);
    assert_int_equal(vqueue_live_len(&q), 0);
    assert_int_equal(q.join_n, 20);
    assert_int_equal(q.join_bytes, 20000);
    assert_int_equal(q.ctl_bytes, 3000);
    assert_int_equal(vqueue_level(&q, &l, 1000, 0), VQUEUE_OK);
    assert_int_equal(push(&q, 1000, 1, 0, 0), RD_OK);
    assert_int_equal(push(&q, 1000, 1, 0, 0), RD_OK);
    assert_int_equal(vqueue_level(&q, &l, 1000, 0), VQUEUE_HIGH); /* 3 live of 4 */
    while (vqueue_len(&q) > 2)
        vqueue_pop(&q);
    assert_int_equal(q.join_n, 0);
    assert_int_equal(q.ctl_n, 0);
    assert_int_equal(q.bytes, 2000);
    vqueue_fini(&q);
}

static void
test_ring_growth_order_and_limit(void **state)
{
    (void)state;
    struct vqueue q;
    vqueue_init(&q, 200);
    uint32_t next_in = 0;
    uint32_t next_out = 0;
    /* Interleave pushes and pops so the ring wraps before and while it grows. */
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 30; i++) {
            struct pkt *p = mk(8, 0);
            memcpy(p->data, &next_in, sizeof(next_in));
            next_in++;
            assert_int_equal(vqueue_push(&q, p, 3, 0, 0), RD_OK);
            pkt_unref(p);
        }
        for (int i = 0; i < 12; i++) {
            uint32_t got;
            memcpy(&got, vqueue_at(&q, 0)->p->data, sizeof(got));
            assert_int_equal(got, next_out++);
            vqueue_pop(&q);
        }
    }
    assert_int_equal(vqueue_len(&q), 180);
    for (uint32_t i = 0; i < vqueue_len(&q); i++) {
        uint32_t got;
        memcpy(&got, vqueue_at(&q, i)->p->data, sizeof(got));
        assert_int_equal(got, next_out + i);
    }
    assert_true(q.cap <= 200);
    for (int i = 0; i < 20; i++)
        assert_int_equal(push(&q, 8, 3, 0, 0), RD_OK);
    assert_int_equal(push(&q, 8, 3, 0, 0), RD_ELIMIT); /* ring at its limit: nothing changed */
    assert_int_equal(vqueue_len(&q), 200);
    assert_int_equal(q.bytes, 200 * 8);
    vqueue_fini(&q);
}

static void
test_purge_and_pop_tail(void **state)
{
    (void)state;
    struct vqueue q;
    vqueue_init(&q, 100);
    /* tags: 2 4 2 4 2 */
    for (int i = 0; i < 5; i++)
        assert_int_equal(push(&q, 100, (uint8_t)(i % 2 ? 4 : 2), 0, 0), RD_OK);
    q.head_off = 10; /* the head (tag 2) is partly written: it stays */
    assert_int_equal(vqueue_purge_tag(&q, 2), 2);
    assert_int_equal(vqueue_len(&q), 5);
    assert_int_equal(vqueue_live_len(&q), 3);
    assert_int_equal(q.bytes, 300);
    assert_non_null(vqueue_at(&q, 0)->p);
    assert_null(vqueue_at(&q, 2)->p);
    assert_int_equal(vqueue_at(&q, 2)->tag, VQUEUE_TAG_SKIP);
    assert_int_equal(vqueue_purge_tag(&q, 2), 0);
    vqueue_pop(&q); /* the partly written head */
    assert_int_equal(q.head_off, 0);
    assert_int_equal(vqueue_purge_tag(&q, 4), 2);
    assert_int_equal(vqueue_live_len(&q), 0);
    assert_int_equal(q.bytes, 0);
    /* pop_tail undoes pushes, purged or not. */
    assert_int_equal(push(&q, 50, 6, VQUEUE_CONTROL, 0), RD_OK);
    assert_int_equal(q.ctl_bytes, 50);
    vqueue_pop_tail(&q);
    assert_int_equal(q.ctl_bytes, 0);
    assert_int_equal(q.ctl_n, 0);
    vqueue_pop_tail(&q); /* a purged entry */
    assert_int_equal(vqueue_len(&q), 3);
    while (vqueue_len(&q) > 0)
        vqueue_pop(&q);
    assert_int_equal(q.purged_n, 0);
    vqueue_fini(&q);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_check),
        cmocka_unit_test_setup_teardown(test_packet_cap_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_byte_cap_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_age_cap_and_clock_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_and_control_outside_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_growth_order_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_and_pop_tail, setup, teardown),
    };
    return rd_test_run(argc, argv, "viewer_queue", tests, sizeof(tests) / sizeof(tests[0]));
}
