/* SPDX-License-Identifier: MIT */
/* buf.c: fixed capacity, RD_ELIMIT leaves the content unchanged, lazy compaction, and a
 * randomised comparison against a plain reference model. */
#include "rd_test.h"

#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "rd_err.h"

static void
expect_content(const struct rd_buf *b, const char *s)
{
    assert_int_equal(rd_buf_len(b), strlen(s));
    assert_memory_equal(rd_buf_head(b), s, strlen(s));
}

static void
test_append_limit(void **state)
{
    (void)state;
    char mem[8];
    struct rd_buf b;
    rd_buf_init(&b, mem, sizeof(mem));
    assert_int_equal(rd_buf_space(&b), 8);
    assert_int_equal(rd_buf_append(&b, "abcde", 5), RD_OK);
    assert_int_equal(rd_buf_append(&b, "fghi", 4), RD_ELIMIT); /* one too many */
    expect_content(&b, "abcde");
    assert_int_equal(rd_buf_append(&b, "fgh", 3), RD_OK); /* exactly full */
    expect_content(&b, "abcdefgh");
    assert_int_equal(rd_buf_space(&b), 0);
    assert_int_equal(rd_buf_append(&b, "x", 1), RD_ELIMIT);
    assert_int_equal(rd_buf_append(&b, "", 0), RD_OK);
    expect_content(&b, "abcdefgh");
    rd_buf_reset(&b);
    assert_int_equal(rd_buf_len(&b), 0);
    assert_int_equal(rd_buf_space(&b), 8);
}

static void
test_appendf(void **state)
{
    (void)state;
    char mem[10];
    struct rd_buf b;
    rd_buf_init(&b, mem, sizeof(mem));
    assert_int_equal(rd_buf_appendf(&b, "%d-%s", 42, "ab"), RD_OK);
    expect_content(&b, "42-ab");
    /* 5 free bytes: a 5-byte text needs a 6th for vsnprintf's NUL, so it is refused whole. */
    assert_int_equal(rd_buf_appendf(&b, "%s", "12345"), RD_ELIMIT);
    expect_content(&b, "42-ab");
    assert_int_equal(rd_buf_appendf(&b, "%s", "1234"), RD_OK);
    expect_content(&b, "42-ab1234");
    assert_int_equal(rd_buf_appendf(&b, "%s", ""), RD_OK);
    assert_int_equal(rd_buf_appendf(&b, "%c", 'z'), RD_ELIMIT);
    expect_content(&b, "42-ab1234");
    /* After consuming, the text fits only once the content is moved to the front. */
    rd_buf_consume(&b, 6);
    expect_content(&b, "234");
    assert_int_equal(rd_buf_appendf(&b, "%s", "abcdef"), RD_OK);
    expect_content(&b, "234abcdef");
}

static void
test_consume_and_tail(void **state)
{
    (void)state;
    char mem[16];
    struct rd_buf b;
    rd_buf_init(&b, mem, sizeof(mem));
    size_t avail;
    char *t = rd_buf_tail(&b, &avail);
    assert_ptr_equal(t, mem);
    assert_int_equal(avail, 16);
    memcpy(t, "0123456789abcdef", 16);
    rd_buf_commit(&b, 16);
    expect_content(&b, "0123456789abcdef");
    t = rd_buf_tail(&b, &avail);
    assert_int_equal(avail, 0); /* full: nothing to gain */
    rd_buf_consume(&b, 4);
    expect_content(&b, "456789abcdef");
    /* Tail 0 < cap/2 and start > 0: compacts, the whole free space becomes the tail. */
    t = rd_buf_tail(&b, &avail);
    assert_int_equal(avail, 4);
    assert_ptr_equal(t, mem + 12);
    expect_content(&b, "456789abcdef");
    assert_ptr_equal(rd_buf_head(&b), mem);
    /* Lazy: a consume alone moves nothing, and a long tail is left as it is. */
    rd_buf_consume(&b, 10);
    expect_content(&b, "ef");
    assert_ptr_equal(rd_buf_head(&b), mem + 10);
    rd_buf_consume(&b, 2);
    assert_ptr_equal(rd_buf_head(&b), mem); /* emptied: restarts at 0 */
    assert_int_equal(rd_buf_append(&b, "xy", 2), RD_OK);
    rd_buf_consume(&b, 1);
    t = rd_buf_tail(&b, &avail);
    assert_int_equal(avail, 14); /* tail 14 >= cap/2: no move */
    assert_ptr_equal(rd_buf_head(&b), mem + 1);
    /* An append larger than the tail but within the free space compacts first. */
    assert_int_equal(rd_buf_append(&b, "0123456789abcde", 15), RD_OK);
    expect_content(&b, "y0123456789abcde");
    assert_ptr_equal(rd_buf_head(&b), mem);
}

static void
test_owned(void **state)
{
    (void)state;
    struct rd_buf b;
    assert_int_equal(rd_buf_alloc(&b, 4096), RD_OK);
    assert_true(b.owned);
    assert_int_equal(rd_buf_space(&b), 4096);
    assert_int_equal(rd_buf_appendf(&b, "%s", "hello"), RD_OK);
    rd_buf_free(&b); /* ASan reports a leak or a double free otherwise */
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    rd_buf_free(&b);
    char mem[4];
    rd_buf_init(&b, mem, sizeof(mem));
    rd_buf_free(&b); /* borrowed: not freed */
    assert_int_equal(b.cap, 0);
}

/* xorshift32: deterministic test data (rand() is banned project-wide). */
static uint32_t
next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void
test_random_against_model(void **state)
{
    (void)state;
    enum { CAP = 64 };
    char mem[CAP];
    char model[CAP];
    size_t model_len = 0;
    struct rd_buf b;
    rd_buf_init(&b, mem, sizeof(mem));
    uint32_t seed = 12345;
    for (int i = 0; i < 200000; i++) {
        uint32_t r = next_rand(&seed);
        size_t n = (r >> 8) % 24;
        char chunk[24];
        for (size_t k = 0; k < n; k++)
            chunk[k] = (char)('a' + (next_rand(&seed) % 26));
        switch (r % 4) {
        case 0: {
            int rc = rd_buf_append(&b, chunk, n);
            assert_int_equal(rc, model_len + n <= CAP ? RD_OK : RD_ELIMIT);
            if (rc == RD_OK) {
                memcpy(model + model_len, chunk, n);
                model_len += n;
            }
            break;
        }
        case 1: {
            int rc = rd_buf_appendf(&b, "%.*s", (int)n, chunk);
            assert_int_equal(rc, model_len + n < CAP ? RD_OK : RD_ELIMIT);
            if (rc == RD_OK) {
                memcpy(model + model_len, chunk, n);
                model_len += n;
            }
            break;
        }
        case 2: {
            size_t c = model_len > 0 ? (r >> 16) % (model_len + 1) : 0;
            rd_buf_consume(&b, c);
            memmove(model, model + c, model_len - c);
            model_len -= c;
            break;
        }
        case 3: {
            size_t avail;
            char *t = rd_buf_tail(&b, &avail);
            assert_true(avail > 0 || model_len == CAP);
            size_t w = n < avail ? n : avail;
            memcpy(t, chunk, w);
            rd_buf_commit(&b, w);
            memcpy(model + model_len, chunk, w);
            model_len += w;
            break;
        }
        }
        assert_int_equal(rd_buf_len(&b), model_len);
        assert_true(b.start + b.len <= b.cap);
        if (model_len > 0)
            assert_memory_equal(rd_buf_head(&b), model, model_len);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_append_limit),         cmocka_unit_test(test_appendf),
    cmocka_unit_test(test_consume_and_tail),     cmocka_unit_test(test_owned),
    cmocka_unit_test(test_random_against_model),
};

RD_TEST_MAIN(tests)
