/* SPDX-License-Identifier: MIT */
/* rd_out.c: appends fit whole or not at all; finish reports overflow, never truncates. */
#include "rd_test.h"

#include "rd_err.h"
#include "rd_out.h"

static void
test_fits(void **state)
{
    (void)state;
    char buf[32];
    struct rd_out o = rd_out_make(buf, sizeof(buf));
    rd_out_puts(&o, "port=");
    rd_out_u64(&o, 0);
    rd_out_put(&o, "-", 1);
    rd_out_u64(&o, UINT64_MAX);
    rd_out_str(&o, RD_STR_LIT(";"));
    rd_out_str(&o, RD_STR_NULL);
    assert_int_equal(rd_out_finish(&o), 28);
    assert_string_equal(buf, "port=0-18446744073709551615;");
}

static void
test_overflow_at_every_size(void **state)
{
    (void)state;
    const char *want = "interleaved=0-1";
    for (size_t cap = 0; cap <= strlen(want) + 1; cap++) {
        char buf[32];
        memset(buf, 'z', sizeof(buf));
        struct rd_out o = rd_out_make(buf, cap);
        rd_out_puts(&o, "interleaved=");
        rd_out_u64(&o, 0);
        rd_out_puts(&o, "-");
        rd_out_u64(&o, 1);
        int rc = rd_out_finish(&o);
        if (cap == strlen(want) + 1) {
            assert_int_equal(rc, (int)strlen(want));
            assert_string_equal(buf, want);
        } else {
            assert_int_equal(rc, RD_ELIMIT);
            if (cap > 0)
                assert_int_equal(buf[0], '\0');
            assert_int_equal(buf[cap], 'z'); /* nothing written past cap */
        }
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fits),
    cmocka_unit_test(test_overflow_at_every_size),
};

RD_TEST_MAIN(tests)
