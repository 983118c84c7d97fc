/* lib/sys.h - syscall hygiene in one place: EINTR-safe wrappers, close-on-exec descriptors,
 * monotonic deadlines and per-thread SIGPIPE avoidance. Private to libpcomm.
 *
 * Conventions: functions return a count or 0 on success and a negative errno on failure; they
 * never leave errno as the only report. Deadlines are absolute CLOCK_MONOTONIC nanoseconds,
 * PCOMM__NO_DEADLINE meaning "forever".
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_SYS_H
#define PCOMM_SYS_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PCOMM__NO_DEADLINE INT64_MAX
#define PCOMM__NS_PER_MS   INT64_C(1000000)

int64_t pcomm__now_ns(void);

/* The absolute deadline timeout_ms from now; a negative timeout gives PCOMM__NO_DEADLINE. */
int64_t pcomm__deadline_after_ms(int timeout_ms);

/* Milliseconds left until deadline, rounded up, for poll(2): -1 for no deadline, 0 when past. */
int pcomm__ms_until(int64_t deadline_ns);

/* poll(2) until an event or the deadline, recomputing the time left after EINTR.
 * Returns the number of ready descriptors, 0 at the deadline, or a negative errno. */
int pcomm__poll_until(struct pollfd *fds, nfds_t nfds, int64_t deadline_ns);

/* close(2) that keeps errno and never retries (on Linux the descriptor is gone even on EINTR).
 * Ignores negative descriptors. */
void pcomm__close(int fd);

/* Close *fdp if it is open and set it to -1. */
void pcomm__closep(int *fdp);

/* read(2)/write(2), retried on EINTR; return the count or a negative errno. */
ssize_t pcomm__read(int fd, void *buf, size_t len);
ssize_t pcomm__write(int fd, const void *buf, size_t len);

/* Write all of buf, retrying short writes and EINTR (blocking descriptors only). */
int pcomm__write_all(int fd, const void *buf, size_t len);

/* open(2) with O_CLOEXEC added, retried on EINTR. Returns the descriptor or a negative errno. */
int pcomm__open(const char *path, int flags, mode_t mode);

/* pipe2(O_CLOEXEC | extra_flags). Returns 0 or a negative errno. */
int pcomm__pipe(int fds[2], int extra_flags);

/* A close-on-exec duplicate of fd numbered at least floor. Returns it or a negative errno. */
int pcomm__dup_above(int fd, int floor);

/* Set or clear O_NONBLOCK. Returns 0 or a negative errno. */
int pcomm__set_nonblock(int fd, bool on);

/* Per-thread SIGPIPE avoidance (the libpq method): block SIGPIPE in the calling thread, do the
 * writes, then consume a SIGPIPE that the writes raised (but not one that was already pending)
 * and restore the mask. Never touches process-wide dispositions. */
typedef struct pcomm__sigpipe_guard {
    sigset_t old_mask;
    bool was_pending;
} pcomm__sigpipe_guard;

void pcomm__sigpipe_block(pcomm__sigpipe_guard *guard);
void pcomm__sigpipe_restore(pcomm__sigpipe_guard *guard);

/* Overflow-checked size arithmetic for allocations. */
static inline bool pcomm__size_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Grow *bufp (element size elem) so it holds at least need elements, doubling. */
int pcomm__grow(void **bufp, size_t *capp, size_t need, size_t elem);

/* strdup / memdup that return NULL on failure (callers map it to -ENOMEM). */
char *pcomm__strndup(const char *s, size_t len);

#endif /* PCOMM_SYS_H */
