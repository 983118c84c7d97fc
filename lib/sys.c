/* lib/sys.c - syscall hygiene: see sys.h. SPDX-License-Identifier: MIT */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t pcomm__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t pcomm__deadline_after_ms(int timeout_ms)
{
    if (timeout_ms < 0)
        return PCOMM__NO_DEADLINE;
    return pcomm__now_ns() + (int64_t)timeout_ms * PCOMM__NS_PER_MS;
}

int pcomm__ms_until(int64_t deadline_ns)
{
    if (deadline_ns == PCOMM__NO_DEADLINE)
        return -1;
    int64_t left = deadline_ns - pcomm__now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + PCOMM__NS_PER_MS - 1) / PCOMM__NS_PER_MS;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

int pcomm__poll_until(struct pollfd *fds, nfds_t nfds, int64_t deadline_ns)
{
    for (;;) {
        int r = poll(fds, nfds, pcomm__ms_until(deadline_ns));
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

void pcomm__close(int fd)
{
    if (fd < 0)
        return;
    int saved = errno;
    close(fd);
    errno = saved;
}

void pcomm__closep(int *fdp)
{
    pcomm__close(*fdp);
    *fdp = -1;
}

ssize_t pcomm__read(int fd, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

ssize_t pcomm__write(int fd, const void *buf, size_t len)
{
    for (;;) {
        ssize_t n = write(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

int pcomm__write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = pcomm__write(fd, p, len);
        if (n < 0)
            return (int)n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int pcomm__open(const char *path, int flags, mode_t mode)
{
    for (;;) {
        int fd = open(path, flags | O_CLOEXEC, mode);
        if (fd >= 0)
            return fd;
        if (errno != EINTR)
            return -errno;
    }
}

int pcomm__pipe(int fds[2], int extra_flags)
{
    return pipe2(fds, O_CLOEXEC | extra_flags) == 0 ? 0 : -errno;
}

int pcomm__dup_above(int fd, int floor)
{
    int r = fcntl(fd, F_DUPFD_CLOEXEC, floor);
    return r >= 0 ? r : -errno;
}

int pcomm__set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (want != fl && fcntl(fd, F_SETFL, want) < 0)
        return -errno;
    return 0;
}

void pcomm__sigpipe_block(pcomm__sigpipe_guard *guard)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    guard->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &guard->old_mask);
}

void pcomm__sigpipe_restore(pcomm__sigpipe_guard *guard)
{
    if (!guard->was_pending) {
        sigset_t pipe_set, pending;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigemptyset(&pending);
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE) == 1) {
            /* Raised by our own write to a pipe whose reader is gone: consume it. */
            const struct timespec zero = {0, 0};
            int saved = errno;
            while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                ;
            errno = saved;
        }
    }
    pthread_sigmask(SIG_SETMASK, &guard->old_mask, NULL);
}

int pcomm__grow(void **bufp, size_t *capp, size_t need, size_t elem)
{
    if (need <= *capp)
        return 0;
    size_t cap = *capp ? *capp : 8;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    size_t bytes;
    if (!pcomm__size_mul(cap, elem, &bytes))
        return -ENOMEM;
    void *p = realloc(*bufp, bytes);
    if (!p)
        return -ENOMEM;
    *bufp = p;
    *capp = cap;
    return 0;
}

char *pcomm__strndup(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
