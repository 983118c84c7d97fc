/* lib/sys.c - syscall hygiene: see sys.h. SPDX-License-Identifier: MIT */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
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

int pcomm__openat(int dirfd, const char *path, int flags, mode_t mode)
{
    for (;;) {
        int fd = openat(dirfd, path, flags | O_CLOEXEC, mode);
        if (fd >= 0)
            return fd;
        if (errno != EINTR)
            return -errno;
    }
}

ssize_t pcomm__pread(int fd, void *buf, size_t len, uint64_t off)
{
    if (off > INT64_MAX)
        return -EINVAL;
    for (;;) {
        ssize_t n = pread(fd, buf, len, (off_t)off);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

int pcomm__pwrite_all(int fd, const void *buf, size_t len, uint64_t off, size_t *donep)
{
    const char *p = buf;
    size_t done = 0;
    int r = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, p + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        done += (size_t)n;
    }
    if (donep)
        *donep = done;
    return r;
}

static int pcomm__wait_writable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int r = pcomm__poll_until(&pfd, 1, PCOMM__NO_DEADLINE);
    if (r < 0)
        return r;
    return (pfd.revents & POLLNVAL) ? -EBADF : 0;
}

int pcomm__write_all_wait(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = pcomm__write(fd, p, len);
        if (n == -EAGAIN) {
            int r = pcomm__wait_writable(fd);
            if (r < 0)
                return r;
            continue;
        }
        if (n < 0)
            return (int)n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t pcomm__splice(int in, int out, int64_t *out_off, size_t len)
{
    /* The kernel refuses (EINVAL) a count that would overflow the file offset, and moves at most
     * MAX_RW_COUNT (INT_MAX rounded down to a page) per call anyway. */
    if (len > 0x7ffff000)
        len = 0x7ffff000;
    for (;;) {
        loff_t off = out_off ? (loff_t)*out_off : 0;
        ssize_t n = splice(in, NULL, out, out_off ? &off : NULL, len, SPLICE_F_MOVE);
        if (n >= 0) {
            if (out_off)
                *out_off = off;
            return n;
        }
        if (errno != EINTR)
            return -errno;
    }
}

/* Errors that mean "this way of copying does not apply here", not "the copy failed". */
static bool pcomm__copy_unsupported(int err)
{
    return err == -EXDEV || err == -EINVAL || err == -EOPNOTSUPP || err == -ENOSYS || err == -EBADF;
}

/* One step of copy_file_range (method 0) or sendfile (method 1): bytes copied or -errno. */
static ssize_t pcomm__copy_step(int method, int in, uint64_t *off, size_t len, int out)
{
    loff_t o = (loff_t)*off;
    ssize_t n;
    do
        n = method == 0 ? copy_file_range(in, &o, out, NULL, len, 0) : sendfile(out, in, &o, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    *off = (uint64_t)o;
    return n;
}

static int pcomm__copy_by_reading(int in, uint64_t off, uint64_t len, int out)
{
    size_t cap = len < 65536 ? (size_t)len : 65536;
    char *buf = malloc(cap ? cap : 1);
    if (!buf)
        return -ENOMEM;
    int r = 0;
    while (len > 0 && r == 0) {
        ssize_t n = pcomm__pread(in, buf, len < cap ? (size_t)len : cap, off);
        if (n <= 0) {
            r = n < 0 ? (int)n : -EIO; /* our own file cannot be shorter than we think */
            break;
        }
        r = pcomm__write_all_wait(out, buf, (size_t)n);
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    free(buf);
    return r;
}

int pcomm__copy_file_range(int in, uint64_t off, uint64_t len, int out)
{
    int method = 0; /* 0 copy_file_range, 1 sendfile, 2 pread + write */
    while (len > 0 && method < 2) {
        size_t step = len > (1u << 30) ? (1u << 30) : (size_t)len;
        ssize_t n = pcomm__copy_step(method, in, &off, step, out);
        if (n == -EAGAIN) {
            int r = pcomm__wait_writable(out);
            if (r < 0)
                return r;
        } else if (n == 0 || (n < 0 && pcomm__copy_unsupported((int)n))) {
            method++;
        } else if (n < 0) {
            return (int)n;
        } else {
            len -= (uint64_t)n;
        }
    }
    return len > 0 ? pcomm__copy_by_reading(in, off, len, out) : 0;
}

void pcomm__temp_name(char *name, const char *suffix)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[12];
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
        /* Entropy pool not ready (early boot): names need only be unguessable enough that
         * O_EXCL collisions are rare; O_EXCL and O_NOFOLLOW keep them safe regardless. */
        uint64_t x = (uint64_t)pcomm__now_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)name;
        for (size_t i = 0; i < sizeof rnd; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            rnd[i] = (unsigned char)(x >> 56);
        }
    }
    memcpy(name, ".pcomm-", 7);
    for (size_t i = 0; i < sizeof rnd; i++)
        name[7 + i] = chars[rnd[i] % (sizeof chars - 1)];
    size_t len = 7 + sizeof rnd;
    if (suffix) {
        name[len++] = '-';
        size_t room = NAME_MAX - len, slen = strlen(suffix);
        memcpy(name + len, suffix, slen < room ? slen : room);
        len += slen < room ? slen : room;
    }
    name[len] = '\0';
}

int pcomm__create_temp(int dirfd, const char *suffix, int flags, mode_t mode, char *name)
{
    for (int tries = 0;; tries++) {
        pcomm__temp_name(name, suffix);
        int fd = pcomm__openat(dirfd, name, O_CREAT | O_EXCL | O_NOFOLLOW | flags, mode);
        if (fd != -EEXIST || tries >= 100)
            return fd;
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

void pcomm__sig_guard_block(pcomm__sig_guard *guard, int sig_a, int sig_b)
{
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, sig_a);
    if (sig_b)
        sigaddset(&set, sig_b);
    sigemptyset(&pending);
    sigpending(&pending);
    sigemptyset(&guard->ours);
    if (sigismember(&pending, sig_a) != 1)
        sigaddset(&guard->ours, sig_a);
    if (sig_b && sigismember(&pending, sig_b) != 1)
        sigaddset(&guard->ours, sig_b);
    pthread_sigmask(SIG_BLOCK, &set, &guard->old_mask);
}

void pcomm__sig_guard_restore(pcomm__sig_guard *guard)
{
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(&guard->ours, sig) != 1 || sigismember(&pending, sig) != 1)
            continue;
        /* Raised by our own write (a pipe without reader, a file past RLIMIT_FSIZE): consume. */
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        const struct timespec zero = {0, 0};
        int saved = errno;
        while (sigtimedwait(&one, NULL, &zero) < 0 && errno == EINTR)
            ;
        errno = saved;
    }
    pthread_sigmask(SIG_SETMASK, &guard->old_mask, NULL);
}

void pcomm__sigpipe_block(pcomm__sigpipe_guard *guard)
{
    pcomm__sig_guard_block(guard, SIGPIPE, 0);
}

void pcomm__sigpipe_restore(pcomm__sigpipe_guard *guard)
{
    pcomm__sig_guard_restore(guard);
}

bool pcomm__fsize_limited(void)
{
    struct rlimit rl;
    return getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
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

void *pcomm__alloc_io(size_t size)
{
    enum { PAGE = 4096 };
    return aligned_alloc(PAGE, (size + PAGE - 1) / PAGE * PAGE);
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
