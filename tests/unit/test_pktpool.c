/* SPDX-License-Identifier: MIT */
/* pktpool.c: size classes, reference counts, LIFO reuse, class limits with fallback to a
 * larger class, allocation failure counted, trim of fully free slabs, fini refusing while
 * packets are referenced. */
#define _POSIX_C_SOURCE 200809L
#include "rd_test.h"

#include "pktpool.h"
#include "rd_err.h"

static void
test_classes(void **state)
{
    (void)state;
    struct pktpool pool;
    assert_int_equal(pktpool_init(&pool, NULL), RD_OK);
    static const struct {
        size_t need;
        int cls; /* -1: refused */
    } v[] = {
        {0, -1},
        {1, PKT_CLASS_SMALL},
        {RD_PKTPOOL_SMALL_BUF, PKT_CLASS_SMALL},
        {RD_PKTPOOL_SMALL_BUF + 1, PKT_CLASS_MID},
        {RD_PKTPOOL_MID_BUF, PKT_CLASS_MID},
        {RD_PKTPOOL_MID_BUF + 1, PKT_CLASS_LARGE},
        {RD_RTP_MAX_PACKET, PKT_CLASS_LARGE},
        {RD_PKTPOOL_LARGE_BUF, PKT_CLASS_LARGE},
        {RD_PKTPOOL_LARGE_BUF + 1, -1},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct pkt *p = pktpool_alloc(&pool, v[i].need);
        if (v[i].cls < 0) {
            assert_null(p);
            continue;
        }
        assert_non_null(p);
        assert_int_equal(p->cls, v[i].cls);
        assert_true(p->cap >= v[i].need);
        assert_int_equal(p->refs, 1);
        assert_int_equal(p->len, 0);
        /* The whole capacity is writable (ASan would catch an overlap or overrun). */
        memset(p->data, 0xa5, p->cap);
        assert_int_equal(pktpool_in_use(&pool), 1);
        pkt_unref(p);
        assert_int_equal(pktpool_in_use(&pool), 0);
    }
    assert_int_equal(pktpool_fini(&pool), RD_OK);
}

static void
test_refcount_and_reuse(void **state)
{
    (void)state;
    struct pktpool pool;
    assert_int_equal(pktpool_init(&pool, NULL), RD_OK);
    struct pkt *p = pktpool_alloc(&pool, 100);
    p->len = 100;
    p->flags = PKT_KEY_START;
    p->seq = 7;
    assert_ptr_equal(pkt_ref(p), p);
    pkt_ref(p);
    assert_int_equal(p->refs, 3);
    pkt_unref(p);
    pkt_unref(p);
    assert_int_equal(pktpool_in_use(&pool), 1);
    assert_int_equal(pktpool_fini(&pool), RD_EBUSY); /* still referenced: nothing freed */
    pkt_unref(p);
    assert_int_equal(pktpool_in_use(&pool), 0);
    /* LIFO: the buffer just released comes back first, with a clean header. */
    struct pkt *q = pktpool_alloc(&pool, 50);
    assert_ptr_equal(q, p);
    assert_int_equal(q->len, 0);
    assert_int_equal(q->flags, 0);
    assert_int_equal(q->seq, 0);
    pkt_unref(q);
    pkt_unref(NULL);
    assert_int_equal(pktpool_fini(&pool), RD_OK);
}

static void
test_limits_fallback_and_failure(void **state)
{
    (void)state;
    struct pktpool pool;
    struct pktpool_cfg cfg = {{3, 2, 1}};
    assert_int_equal(pktpool_init(&pool, &cfg), RD_OK);
    struct pkt *p[7];
    /* 3 small, then 2 from the mid class, then 1 large, then nothing. */
    static const int expect[] = {PKT_CLASS_SMALL, PKT_CLASS_SMALL, PKT_CLASS_SMALL,
                                 PKT_CLASS_MID,   PKT_CLASS_MID,   PKT_CLASS_LARGE};
    for (int i = 0; i < 6; i++) {
        p[i] = pktpool_alloc(&pool, 64);
        assert_non_null(p[i]);
        assert_int_equal(p[i]->cls, expect[i]);
    }
    p[6] = pktpool_alloc(&pool, 64);
    assert_null(p[6]);
    assert_int_equal(pool.cls[PKT_CLASS_SMALL].fails, 1);
    assert_null(pktpool_alloc(&pool, RD_PKTPOOL_LARGE_BUF));
    assert_int_equal(pool.cls[PKT_CLASS_LARGE].fails, 1);
    assert_int_equal(pktpool_in_use(&pool), 6);
    /* A freed small buffer serves the next small request again. */
    pkt_unref(p[1]);
    p[1] = pktpool_alloc(&pool, 64);
    assert_non_null(p[1]);
    assert_int_equal(p[1]->cls, PKT_CLASS_SMALL);
    for (int i = 0; i < 6; i++)
        pkt_unref(p[i]);
    assert_int_equal(pktpool_in_use(&pool), 0);
    assert_int_equal(pktpool_fini(&pool), RD_OK);

    /* Limits above the hard cap are clamped; 0 is refused. */
    struct pktpool_cfg big = {{UINT32_MAX, UINT32_MAX, UINT32_MAX}};
    assert_int_equal(pktpool_init(&pool, &big), RD_OK);
    assert_int_equal(pool.cls[PKT_CLASS_SMALL].max_bufs, RD_PKTPOOL_SMALL_MAX);
    assert_int_equal(pool.cls[PKT_CLASS_LARGE].max_bufs, RD_PKTPOOL_LARGE_MAX);
    struct pktpool_cfg zero = {{1, 0, 1}};
    assert_int_equal(pktpool_init(&pool, &zero), RD_EPROTO);
}

static void
test_slabs_and_trim(void **state)
{
    (void)state;
    struct pktpool pool;
    struct pktpool_cfg cfg;
    pktpool_cfg_default(&cfg);
    cfg.max_bufs[PKT_CLASS_SMALL] = 200; /* 3 slabs of 64 and one of 8 */
    assert_int_equal(pktpool_init(&pool, &cfg), RD_OK);
    assert_int_equal(pktpool_bytes(&pool), 0); /* nothing before the first packet */
    struct pkt *p[200];
    for (int i = 0; i < 200; i++) {
        p[i] = pktpool_alloc(&pool, 1400);
        assert_non_null(p[i]);
        assert_int_equal(p[i]->cls, PKT_CLASS_SMALL);
    }
    assert_int_equal(pool.cls[PKT_CLASS_SMALL].n_slabs, 4);
    assert_int_equal(pool.cls[PKT_CLASS_SMALL].n_bufs, 200);
    /* Buffers never overlap. */
    for (int i = 0; i < 200; i++)
        memset(p[i]->data, i, p[i]->cap);
    for (int i = 0; i < 200; i++)
        assert_int_equal(p[i]->data[p[i]->cap - 1], (uint8_t)i);
    size_t full = pktpool_bytes(&pool);
    assert_true(full >= 200u * RD_PKTPOOL_SMALL_BUF);
    /* Nothing to trim while every slab has a referenced buffer. */
    for (int i = 0; i < 200; i += 2)
        pkt_unref(p[i]);
    assert_int_equal(pktpool_trim(&pool, 0), 0);
    for (int i = 1; i < 200; i += 2)
        pkt_unref(p[i]);
    assert_int_equal(pktpool_in_use(&pool), 0);
    /* Keep at least 100 free buffers: two slabs of 64 may go, leaving 72. */
    unsigned r = pktpool_trim(&pool, 100);
    assert_true(r >= 1);
    assert_true(pool.cls[PKT_CLASS_SMALL].n_free >= 100 - 64);
    assert_true(pktpool_bytes(&pool) < full);
    assert_int_equal(pool.cls[PKT_CLASS_SMALL].n_free, pool.cls[PKT_CLASS_SMALL].n_bufs);
    /* The free list is consistent after a trim: every remaining buffer can be allocated. */
    uint32_t left = pool.cls[PKT_CLASS_SMALL].n_bufs;
    for (uint32_t i = 0; i < left; i++) {
        p[i] = pktpool_alloc(&pool, 10);
        assert_non_null(p[i]);
        assert_int_equal(p[i]->cls, PKT_CLASS_SMALL);
    }
    for (uint32_t i = 0; i < left; i++)
        pkt_unref(p[i]);
    assert_true(pktpool_trim(&pool, 0) >= 1);
    assert_int_equal(pool.cls[PKT_CLASS_SMALL].n_bufs, 0);
    assert_int_equal(pktpool_bytes(&pool), 0);
    /* It grows again on demand. */
    struct pkt *x = pktpool_alloc(&pool, 10);
    assert_non_null(x);
    pkt_unref(x);
    assert_int_equal(pktpool_fini(&pool), RD_OK);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_refcount_and_reuse),
        cmocka_unit_test(test_limits_fallback_and_failure),
        cmocka_unit_test(test_slabs_and_trim),
    };
    return rd_test_run(argc, argv, "pktpool", tests, sizeof(tests) / sizeof(tests[0]));
}
