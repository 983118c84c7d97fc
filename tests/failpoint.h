/* tests/failpoint.h - SQLite-style fault injection shared by the fault tests: the test
 * executable interposes libc functions (its definitions win over libc's, for the library too),
 * and each interposed function asks fp_hit() whether this call is the one that must fail. The
 * library carries no test hooks. Include once per test executable.
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_TEST_FAILPOINT_H
#define PCOMM_TEST_FAILPOINT_H

#include <dlfcn.h>
#include <stdbool.h>
#include <string.h>

/* Allocation failures only without ASan, which owns malloc. */
#if defined(__SANITIZE_ADDRESS__)
#define PT_FAIL_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PT_FAIL_MALLOC 0
#endif
#endif
#ifndef PT_FAIL_MALLOC
#define PT_FAIL_MALLOC 1
#endif

/* The libc definition an interposed function forwards to. */
#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

static int fp_countdown;      /* 0 = disarmed; otherwise the call number that fails */
static int fp_calls;          /* instrumented calls since arming */
static const char *fp_only;   /* count only this function, when set */
static const char *fp_failed; /* which function failed, or NULL */

/* Make the nth instrumented call (of only, when not NULL) fail. */
static inline void fp_arm(int n, const char *only)
{
    fp_calls = 0;
    fp_failed = NULL;
    fp_only = only;
    fp_countdown = n;
}

/* Stop failing; returns whether a failure was injected. */
static inline bool fp_disarm(void)
{
    fp_countdown = 0;
    return fp_failed != NULL;
}

/* True when this call of name must fail. */
static inline bool fp_hit(const char *name)
{
    if (!fp_countdown || fp_failed || (fp_only && strcmp(fp_only, name)))
        return false;
    if (++fp_calls < fp_countdown)
        return false;
    fp_failed = name;
    return true;
}

#endif
