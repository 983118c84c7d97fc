/* lib/spool_read.c - pcomm_spool: reading the kept bytes back (by offset, sequentially, as one
 * view, into a descriptor, into a file, as the last lines) and handing memory over.
 * SPDX-License-Identifier: MIT */
#include "spool_private.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pcomm/atomic.h"
#include "sys.h"

/* The window pcomm_spool_tail_lines() reads backwards with. */
#define PCOMM__TAIL_WINDOW (64 * 1024)

void pcomm__spool_drop_view(struct pcomm_spool *s)
{
    if (s->view) {
        munmap(s->view, s->view_len);
        s->view = NULL;
        s->view_len = 0;
    }
}

ssize_t pcomm_spool_pread(const pcomm_spool *spool, void *buf, size_t len, uint64_t offset)
{
    if (!spool || (!buf && len))
        return -EINVAL;
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    unsigned char *out = buf;
    size_t done = 0;
    while (done < len && offset < spool->len) {
        uint64_t run, at = pcomm__spool_locate(spool, offset, &run);
        size_t k = len - done < run ? len - done : (size_t)run;
        if (spool->fd < 0) {
            memcpy(out + done, spool->mem + at, k);
        } else {
            ssize_t n = pcomm__pread(spool->fd, out + done, k, at);
            if (n <= 0) /* our own file cannot be shorter than we think */
                return done ? (ssize_t)done : (n < 0 ? n : -EIO);
            k = (size_t)n;
        }
        done += k;
        offset += k;
    }
    return (ssize_t)done;
}

ssize_t pcomm_spool_read(pcomm_spool *spool, void *buf, size_t len)
{
    if (!spool)
        return -EINVAL;
    ssize_t n = pcomm_spool_pread(spool, buf, len, spool->rpos);
    if (n > 0)
        spool->rpos += (uint64_t)n;
    return n;
}

int pcomm_spool_rewind(pcomm_spool *spool)
{
    if (!spool)
        return -EINVAL;
    spool->rpos = 0;
    return 0;
}

static void reverse(unsigned char *p, size_t n)
{
    for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
        unsigned char t = p[i];
        p[i] = p[j - 1];
        p[j - 1] = t;
    }
}

/* Put a wrapped in-memory tail ring in order, in place (three reversals, no allocation). */
static void spool_unwrap_ring(pcomm_spool *s)
{
    if (s->ring_start == 0 || s->fd >= 0)
        return;
    unsigned char *ring = s->mem + s->head_max;
    size_t n = (size_t)s->tail_max, k = (size_t)s->ring_start;
    reverse(ring, k);
    reverse(ring + k, n - k);
    reverse(ring, n);
    s->ring_start = 0;
}

/* A spilled spool whose tail ring wrapped is not in order on disk: copy it into an anonymous
 * read-only mapping instead of mapping the file. */
static void *spool_map_copy(const pcomm_spool *s, size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return p;
    ssize_t n = pcomm_spool_pread(s, p, len, 0);
    if (n != (ssize_t)len) {
        munmap(p, len);
        errno = n < 0 ? (int)-n : EIO;
        return MAP_FAILED;
    }
    mprotect(p, len, PROT_READ);
    return p;
}

int pcomm_spool_view(pcomm_spool *spool, const void **datap, size_t *lenp)
{
    if (!spool || !datap || !lenp)
        return -EINVAL;
    pcomm__spool_drop_view(spool);
    if (spool->len > SIZE_MAX)
        return -ENOMEM;
    size_t len = (size_t)spool->len;
    if (len == 0) {
        *datap = "";
        *lenp = 0;
        return 0;
    }
    if (spool->fd < 0) {
        spool_unwrap_ring(spool);
        *datap = spool->mem;
        *lenp = len;
        return 0;
    }
    void *p = spool->ring_start ? spool_map_copy(spool, len)
                                : mmap(NULL, len, PROT_READ, MAP_SHARED, spool->fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    spool->view = p;
    spool->view_len = len;
    *datap = p;
    *lenp = len;
    return 0;
}

int pcomm_spool_copy_to_fd(const pcomm_spool *spool, int fd)
{
    if (!spool || fd < 0)
        return -EINVAL;
    pcomm__sig_guard g;
    pcomm__sig_guard_block(&g, SIGPIPE, SIGXFSZ);
    int r = 0;
    for (uint64_t off = 0; r == 0 && off < spool->len;) {
        uint64_t run, at = pcomm__spool_locate(spool, off, &run);
        if (spool->fd < 0)
            r = pcomm__write_all_wait(fd, spool->mem + at, (size_t)run);
        else
            r = pcomm__copy_file_range(spool->fd, at, run, fd);
        off += run;
    }
    pcomm__sig_guard_restore(&g);
    return r;
}

int pcomm_spool_save(const pcomm_spool *spool, const char *path, unsigned mode, int atomic_flags)
{
    if (!spool || !path)
        return -EINVAL;
    pcomm_atomic *a;
    int r = pcomm_atomic_open(&a, path, mode, atomic_flags);
    if (r < 0)
        return r;
    r = pcomm_spool_copy_to_fd(spool, pcomm_atomic_fd(a));
    if (r == 0)
        r = pcomm_atomic_commit(a);
    pcomm_atomic_free(a); /* removes the temp file unless committed */
    return r;
}

/* Where the last n lines of kept bytes [lo, len) start: scan backwards window by window for
 * the n-th newline before the end, not counting a newline that ends the last byte. */
static int tail_start(const pcomm_spool *s, uint64_t lo, size_t n, uint64_t *startp)
{
    unsigned char *win = malloc(PCOMM__TAIL_WINDOW);
    if (!win)
        return -ENOMEM;
    uint64_t pos = s->len;
    size_t seen = 0;
    *startp = lo;
    for (bool last = true; pos > lo; last = false) {
        size_t k = pos - lo < PCOMM__TAIL_WINDOW ? (size_t)(pos - lo) : PCOMM__TAIL_WINDOW;
        ssize_t got = pcomm_spool_pread(s, win, k, pos - k);
        if (got != (ssize_t)k) {
            free(win);
            return got < 0 ? (int)got : -EIO;
        }
        size_t end = (last && win[k - 1] == '\n') ? k - 1 : k;
        unsigned char *nl;
        while (end > 0 && (nl = memrchr(win, '\n', end))) {
            if (++seen == n) {
                *startp = pos - k + (uint64_t)(nl - win) + 1;
                free(win);
                return 0;
            }
            end = (size_t)(nl - win);
        }
        pos -= k;
    }
    free(win);
    return 0;
}

int pcomm_spool_tail_lines(const pcomm_spool *spool, size_t n, char **textp, size_t *lenp)
{
    if (!spool || !textp || !lenp)
        return -EINVAL;
    *textp = NULL;
    *lenp = 0;
    /* With bytes dropped, lines spanning the gap would be made up: use the tail only. */
    uint64_t lo = spool->total > spool->len ? pcomm__spool_head_len(spool) : 0;
    uint64_t start = spool->len;
    if (n > 0) {
        int r = tail_start(spool, lo, n, &start);
        if (r < 0)
            return r;
    }
    uint64_t len = spool->len - start;
    if (len >= SIZE_MAX)
        return -ENOMEM;
    char *text = malloc((size_t)len + 1);
    if (!text)
        return -ENOMEM;
    ssize_t got = pcomm_spool_pread(spool, text, (size_t)len, start);
    if (got != (ssize_t)len) {
        free(text);
        return got < 0 ? (int)got : -EIO;
    }
    text[len] = '\0';
    *textp = text;
    *lenp = (size_t)len;
    return 0;
}

int pcomm_spool_take(pcomm_spool *spool, void **bufp, size_t *lenp)
{
    if (!spool || !bufp || !lenp)
        return -EINVAL;
    if (spool->fd >= 0)
        return -ENOTSUP;
    spool_unwrap_ring(spool);
    *bufp = spool->len ? spool->mem : NULL;
    *lenp = (size_t)spool->len;
    if (!spool->len)
        free(spool->mem);
    spool->mem = NULL;
    spool->mem_cap = 0;
    spool->len = spool->total = spool->rpos = spool->ring_start = 0;
    spool->err = 0;
    return 0;
}
