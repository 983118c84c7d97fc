/* lib/sys.h - syscall hygiene in one place: EINTR-safe wrappers, close-on-exec descriptors,
 * monotonic deadlines, per-thread SIGPIPE/SIGXFSZ avoidance, zero-copy file moves (splice,
 * copy_file_range, sendfile) and unpredictable temp names. Private to libpcomm.
 *
 * Conventions: functions return a count or 0 on success and a negative errno on failure; they
 * never leave errno as the only report. Deadlines are absolute CLOCK_MONOTONIC nanoseconds,
 * PCOMM__NO_DEADLINE meaning "forever".
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_SYS_H
#define PCOMM_SYS_H

#include <errno.h>
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

/* openat(2) with O_CLOEXEC added, retried on EINTR. Returns the descriptor or a negative errno. */
int pcomm__openat(int dirfd, const char *path, int flags, mode_t mode);

/* pread(2), retried on EINTR; returns the count or a negative errno. */
ssize_t pcomm__pread(int fd, void *buf, size_t len, uint64_t off);

/* pwrite(2) all of buf at off, retrying short writes and EINTR. *donep (when not NULL) gets the
 * number of bytes written, also on failure. Returns 0 or a negative errno. */
int pcomm__pwrite_all(int fd, const void *buf, size_t len, uint64_t off, size_t *donep);

/* Write all of buf to fd, waiting with poll(2) whenever a non-blocking fd is full. */
int pcomm__write_all_wait(int fd, const void *buf, size_t len);

/* splice(2) from in (at its position) to out (at *out_off, or its position when out_off is
 * NULL), retried on EINTR. Returns the count, 0 at end of input, or a negative errno. */
ssize_t pcomm__splice(int in, int out, int64_t *out_off, size_t len);

/* Copy len bytes of regular file in, from offset off, to out at out's file position:
 * copy_file_range(2), else sendfile(2), else pread and write through a 64 KiB buffer; a
 * non-blocking out is waited for with poll. Returns 0 or a negative errno. */
int pcomm__copy_file_range(int in, uint64_t off, uint64_t len, int out);

/* A random, unpredictable temp name ".pcomm-XXXXXXXXXXXX" plus "-" and suffix when suffix is
 * not NULL, cut short to stay within NAME_MAX. name must hold PCOMM__TEMP_NAME_MAX bytes. */
#define PCOMM__TEMP_NAME_MAX 256
void pcomm__temp_name(char *name, const char *suffix);

/* Create a new file with a pcomm__temp_name() in directory dirfd, with O_CREAT | O_EXCL |
 * O_NOFOLLOW | O_CLOEXEC | flags and mode, trying other names on a collision (what mkostemp
 * does, but relative to a directory descriptor and with the caller's mode). The name goes into
 * name. Returns the descriptor or a negative errno. */
int pcomm__create_temp(int dirfd, const char *suffix, int flags, mode_t mode, char *name);

/* pipe2(O_CLOEXEC | extra_flags). Returns 0 or a negative errno. */
int pcomm__pipe(int fds[2], int extra_flags);

/* A close-on-exec duplicate of fd numbered at least floor. Returns it or a negative errno. */
int pcomm__dup_above(int fd, int floor);

/* Set or clear O_NONBLOCK. Returns 0 or a negative errno. */
int pcomm__set_nonblock(int fd, bool on);

/* Per-thread signal avoidance (the libpq method, for SIGPIPE on pipe writes and SIGXFSZ on
 * writes past RLIMIT_FSIZE): block the signals in the calling thread, do the writes, then
 * consume the ones the writes raised (but not one that was already pending) and restore the
 * mask. The failed write itself reports -EPIPE or -EFBIG. Never touches process-wide
 * dispositions. */
typedef struct pcomm__sig_guard {
    sigset_t old_mask;
    sigset_t ours; /* blocked here and not pending before: consumed on restore if raised */
} pcomm__sig_guard;

/* Block sig_a and, unless it is 0, sig_b. */
void pcomm__sig_guard_block(pcomm__sig_guard *guard, int sig_a, int sig_b);
void pcomm__sig_guard_restore(pcomm__sig_guard *guard);

/* The SIGPIPE-only form. */
typedef pcomm__sig_guard pcomm__sigpipe_guard;
void pcomm__sigpipe_block(pcomm__sigpipe_guard *guard);
void pcomm__sigpipe_restore(pcomm__sigpipe_guard *guard);

/* True when RLIMIT_FSIZE is finite, so that a file write may raise SIGXFSZ. */
bool pcomm__fsize_limited(void);

/* True for the errors a write reports about the file written (full disk, quota, size limit,
 * I/O error, memory), as opposed to errors about the descriptor read from. */
static inline bool pcomm__storage_error(long err)
{
    return err == -ENOSPC || err == -EDQUOT || err == -EFBIG || err == -EIO || err == -EROFS ||
           err == -ENOMEM;
}

/* Overflow-checked size arithmetic for allocations. */
static inline bool pcomm__size_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Grow *bufp (element size elem) so it holds at least need elements, doubling. */
int pcomm__grow(void **bufp, size_t *capp, size_t need, size_t elem);

/* A buffer that read() fills: page-aligned. copy_to_user into a destination off a 64-byte
 * boundary (malloc's large blocks start 16 bytes into a page) moved pipe data at about half the
 * speed here (tests/bench comm, round trip through cat: 0.85 against 1.4 GB/s). Free with
 * free(). */
void *pcomm__alloc_io(size_t size);

/* strdup / memdup that return NULL on failure (callers map it to -ENOMEM). */
char *pcomm__strndup(const char *s, size_t len);

#endif /* PCOMM_SYS_H */
