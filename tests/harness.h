/* tests/harness.h - what every pcomm test executable shares.
 *
 * PT_RUN(tests) runs a cmocka group after the process has closed the descriptors it inherited
 * (CI runners leak some), made itself a child subreaper (so orphaned grandchildren come back to
 * it and show up in the leak check), and, when PCOMM_TEST_EINTR_STORM=1, armed a SIGALRM every
 * 100 us without SA_RESTART so that every blocking call in the library sees EINTR.
 * PT_TEST(f) wraps a test so that afterwards no descriptor may have leaked and no child or
 * descendant may be alive.
 *
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_TEST_HARNESS_H
#define PCOMM_TEST_HARNESS_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include <pcomm.h>

#include "pattern.h"

int pt_setup(void **state);
int pt_teardown(void **state);
void pt_init(void);

#define PT_TEST(f)    cmocka_unit_test_setup_teardown(f, pt_setup, pt_teardown)
#define PT_RUN(tests) (pt_init(), cmocka_run_group_tests(tests, NULL, NULL))

/* Fail the test with the message when a pcomm call returned an error. */
#define PT_OK(expr)                                                                                \
    do {                                                                                           \
        int pt_r_ = (expr);                                                                        \
        if (pt_r_ < 0)                                                                             \
            fail_msg("%s -> %d %s (%s)", #expr, pt_r_, pcomm_errname(pt_r_),                       \
                     pcomm_strerror(pt_r_));                                                       \
    } while (0)

/* The helper child program (tests/helper). */
const char *pt_helper(void);

/* A command running the helper with the given operation words (NULL-terminated). */
pcomm_cmd *pt_helper_cmd(const char *first, ...);

/* read(2), write(2) and waitpid(2) retried on EINTR (the suite may run under a signal storm). */
ssize_t pt_read(int fd, void *buf, size_t len);
ssize_t pt_write(int fd, const void *buf, size_t len);
int pt_waitpid(int pid, int *status);

/* Read from fd until n newlines arrived (or EOF, or cap - 1 bytes); NUL-terminates buf. */
size_t pt_read_lines(int fd, char *buf, size_t cap, int n);

/* Read fd to EOF into a malloc'd buffer (NUL-terminated for convenience). */
char *pt_slurp(int fd, size_t *lenp);

/* Spawn cmd with stdout as a pipe, read it all, wait; returns the output, stores the status. */
char *pt_capture(pcomm_cmd *cmd, size_t *lenp, pcomm_status *st);

/* Number of direct children of this process; *zombies gets how many of them are zombies. */
int pt_count_children(int *zombies);

/* The state letter of process pid from /proc (R, S, Z, ...), or '-' when it is gone. */
char pt_proc_state(int pid);

/* Whether pid is dead: gone, or a zombie waiting to be reaped. Waits up to 2 s for it. */
bool pt_wait_dead(int pid);

/* The number of open descriptors of this process. */
int pt_count_fds(void);

/* A fresh empty directory under $TMPDIR (or /tmp), removed by pt_rmtree(). */
char *pt_tempdir(void);
void pt_rmtree(const char *dir);

/* Write a file with the given mode. */
void pt_write_file(const char *path, const char *content, unsigned mode);

/* How late a deadline may be met: 100 ms (the suite's contract), or PCOMM_TEST_LATE_MS when set,
 * for development machines so overloaded that scheduling alone takes longer. CI uses 100. */
double pt_late_ms(void);

/* Milliseconds since an arbitrary point on CLOCK_MONOTONIC. */
double pt_ms(void);

/* Start measuring this process's peak memory afresh (clear_refs resets VmHWM to VmRSS), and
 * read it: how far the peak resident set has risen above the resident set at the reset, in KiB. */
void pt_peak_rss_reset(void);
long pt_peak_rss_growth_kib(void);

#endif
