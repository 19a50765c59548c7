/* SPDX-License-Identifier: MIT */
/* Shared cmocka glue for unit tests: includes in the order cmocka needs, and a main()
 * that can run a single named case (ctest entries made by rd_test_case() in CMake). */
#ifndef RD_TESTS_RD_TEST_H
#define RD_TESTS_RD_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* Runs all of tests[], or with argv[1] only the case of that exact name. A name that
 * matches no case is a failure, so a mistyped registration can never pass vacuously. */
static inline int
rd_test_run(int argc, char **argv, const char *group, const struct CMUnitTest *tests, size_t n)
{
    if (argc < 2)
        return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(tests[i].name, argv[1]) == 0)
            return _cmocka_run_group_tests(group, &tests[i], 1, NULL, NULL);
    }
    fprintf(stderr, "no test case named '%s' in %s\n", argv[1], group);
    return 1;
}

#define RD_TEST_MAIN(tests)                                                                        \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return rd_test_run(argc, argv, #tests, tests, sizeof(tests) / sizeof((tests)[0]));         \
    }

#endif
