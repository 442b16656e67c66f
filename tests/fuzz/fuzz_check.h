/* SPDX-License-Identifier: MIT
 * fuzz_check.h - CHECK(cond): what every harness in tests/fuzz/ asserts
 * with. Unlike assert() it stays in every build, and a failure prints the
 * condition and aborts, which libFuzzer reports as a crash. */
#ifndef USERSVC_FUZZ_CHECK_H
#define USERSVC_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                   \
        }                                                                              \
    } while (0)

#endif
