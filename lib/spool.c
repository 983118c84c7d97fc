/* lib/spool.c - pcomm_spool: storing bytes (memory, the spill, the cap). Reading them back is
 * in spool_read.c; the layout is described in spool_private.h. SPDX-License-Identifier: MIT */
#include "spool_private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys.h"

/* How much memory a fill asks for beyond what it has, at least: reads of this size keep the
 * syscall count low without touching memory the stream never needs (untouched pages of a large
 * malloc cost no RSS). */
#define PCOMM__SPOOL_FILL (256 * 1024)

int pcomm_spool_new(pcomm_spool **spoolp, size_t mem_threshold)
{
    if (!spoolp)
        return -EINVAL;
    *spoolp = NULL;
    pcomm_spool *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->threshold = mem_threshold;
    s->fd = -1;
    s->head_max = UINT64_MAX;
    *spoolp = s;
    return 0;
}

void pcomm_spool_free(pcomm_spool *spool)
{
    if (!spool)
        return;
    pcomm__spool_drop_view(spool);
    pcomm__close(spool->fd);
    free(spool->mem);
    free(spool->bounce);
    free(spool->dir);
    free(spool);
}

int pcomm_spool_set_dir(pcomm_spool *spool, const char *dir)
{
    if (!spool || !dir)
        return -EINVAL;
    if (spool->fd >= 0)
        return -EBUSY;
    struct stat st;
    if (lstat(dir, &st) < 0)
        return -errno;
    if (S_ISLNK(st.st_mode))
        return -ELOOP;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0)
        return -errno;
    char *copy = pcomm__strndup(dir, strlen(dir));
    if (!copy)
        return -ENOMEM;
    free(spool->dir);
    spool->dir = copy;
    return 0;
}

int pcomm_spool_set_cap(pcomm_spool *spool, uint64_t head, uint64_t tail)
{
    if (!spool || head > UINT64_MAX - tail)
        return -EINVAL;
    if (spool->total > 0)
        return -EBUSY;
    spool->capped = true;
    spool->head_max = head;
    spool->tail_max = tail;
    return 0;
}

uint64_t pcomm_spool_size(const pcomm_spool *spool)
{
    return spool ? spool->len : 0;
}

uint64_t pcomm_spool_total(const pcomm_spool *spool)
{
    return spool ? spool->total : 0;
}

uint64_t pcomm_spool_dropped(const pcomm_spool *spool)
{
    return spool ? spool->total - spool->len : 0;
}

int pcomm_spool_spilled(const pcomm_spool *spool)
{
    return spool && spool->fd >= 0;
}

int pcomm_spool_error(const pcomm_spool *spool)
{
    return spool ? spool->err : 0;
}

/* ---- the spill file ---------------------------------------------------------------------- */

/* The spill directory, opened O_PATH: the one set (not following a symlink swapped in since
 * pcomm_spool_set_dir() checked it), else $TMPDIR (ignored in setuid programs), else /tmp. */
static int spool_open_dir(const pcomm_spool *s)
{
    if (s->dir)
        return pcomm__open(s->dir, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
    const char *env = secure_getenv("TMPDIR");
    if (env && *env) {
        int dfd = pcomm__open(env, O_PATH | O_DIRECTORY, 0);
        if (dfd >= 0 || dfd == -EMFILE || dfd == -ENFILE || dfd == -ENOMEM)
            return dfd;
    }
    return pcomm__open("/tmp", O_PATH | O_DIRECTORY, 0);
}

/* An unnamed O_TMPFILE (O_EXCL: it can never be linked into the tree), or, where the
 * filesystem refuses those, a random-named file unlinked at once (mkostemp's method). */
static int spool_create_file(const pcomm_spool *s)
{
    int dfd = spool_open_dir(s);
    if (dfd < 0)
        return dfd;
    int fd = pcomm__openat(dfd, ".", O_TMPFILE | O_RDWR | O_EXCL, 0600);
    if (fd == -EOPNOTSUPP || fd == -EISDIR || fd == -EINVAL) {
        char name[PCOMM__TEMP_NAME_MAX];
        fd = pcomm__create_temp(dfd, "spool", O_RDWR, 0600, name);
        if (fd >= 0 && unlinkat(dfd, name, 0) < 0) {
            int err = -errno;
            pcomm__close(fd);
            fd = err;
        }
    }
    pcomm__close(dfd);
    return fd;
}

/* pwrite all of buf at off, with SIGXFSZ turned into -EFBIG when a file size limit is set. */
static int spool_pwrite(int fd, bool guard, const void *buf, size_t len, uint64_t off,
                        size_t *donep)
{
    pcomm__sig_guard g;
    if (guard)
        pcomm__sig_guard_block(&g, SIGXFSZ, 0);
    int r = pcomm__pwrite_all(fd, buf, len, off, donep);
    if (guard)
        pcomm__sig_guard_restore(&g);
    return r;
}

/* Move the memory store into a new temp file. On failure nothing changes: the bytes stay in
 * memory, readable, and the file (unnamed) is gone with its descriptor. */
static int spool_spill(pcomm_spool *s)
{
    int fd = spool_create_file(s);
    if (fd < 0)
        return fd;
    bool guard = pcomm__fsize_limited();
    int r = spool_pwrite(fd, guard, s->mem, (size_t)s->len, 0, NULL);
    if (r < 0) {
        pcomm__close(fd);
        return r;
    }
    free(s->mem);
    s->mem = NULL;
    s->mem_cap = 0;
    s->fd = fd;
    s->xfsz_guard = guard;
    return 0;
}

/* ---- storing ----------------------------------------------------------------------------- */

/* Make the memory store hold at least need bytes (need <= threshold), growing geometrically
 * but never past the threshold or, when capped, past head + tail. */
static int spool_reserve(pcomm_spool *s, uint64_t need)
{
    if (need <= s->mem_cap)
        return 0;
    uint64_t cap = s->mem_cap < 4096 ? 4096 : s->mem_cap;
    while (cap < need)
        cap = cap > UINT64_MAX / 2 ? UINT64_MAX : cap * 2;
    if (cap > s->threshold)
        cap = s->threshold;
    if (s->capped && cap > s->head_max + s->tail_max)
        cap = s->head_max + s->tail_max;
    if (cap < need || cap > SIZE_MAX)
        return -ENOMEM;
    void *p = realloc(s->mem, (size_t)cap);
    if (!p)
        return -ENOMEM;
    s->mem = p;
    s->mem_cap = (size_t)cap;
    return 0;
}

/* Append n bytes at the end of the store, spilling first when they would pass the threshold.
 * Counts what was stored, also when an error stops it part-way. */
static int store_append(pcomm_spool *s, const unsigned char *p, size_t n)
{
    if (s->fd < 0 && n > s->threshold - s->len) {
        int r = spool_spill(s);
        if (r < 0)
            return r;
    }
    if (s->fd < 0) {
        int r = spool_reserve(s, s->len + n);
        if (r < 0)
            return r;
        memcpy(s->mem + s->len, p, n);
        s->len += n;
        s->total += n;
        return 0;
    }
    size_t done;
    int r = spool_pwrite(s->fd, s->xfsz_guard, p, n, s->len, &done);
    s->len += done;
    s->total += done;
    return r;
}

/* Overwrite the oldest n tail bytes (the ring is full; n <= tail - ring_start). The slots
 * written become the newest, so a partial write still leaves the ring in order. */
static int store_overwrite(pcomm_spool *s, const unsigned char *p, size_t n)
{
    uint64_t at = s->head_max + s->ring_start;
    size_t done = n;
    int r = 0;
    if (s->fd < 0)
        memcpy(s->mem + at, p, n);
    else
        r = spool_pwrite(s->fd, s->xfsz_guard, p, n, at, &done);
    s->ring_start += done;
    if (s->ring_start == s->tail_max)
        s->ring_start = 0;
    s->total += done;
    return r;
}

/* Store n bytes: the head first, then the tail ring (filling, then overwriting), or nowhere
 * when the cap keeps no tail. */
static int spool_store(pcomm_spool *s, const unsigned char *p, size_t n)
{
    while (n > 0) {
        uint64_t room;
        int r;
        if (s->len < s->head_max) {
            room = s->head_max - s->len;
        } else if (s->tail_max == 0) {
            s->total += n;
            return 0;
        } else if (pcomm__spool_ring_len(s) < s->tail_max) {
            room = s->tail_max - pcomm__spool_ring_len(s);
        } else {
            if (n > s->tail_max) { /* only the last tail bytes can survive */
                s->total += n - s->tail_max;
                p += n - s->tail_max;
                n = (size_t)s->tail_max;
            }
            size_t k = n < s->tail_max - s->ring_start ? n : (size_t)(s->tail_max - s->ring_start);
            if ((r = store_overwrite(s, p, k)) < 0)
                return r;
            p += k;
            n -= k;
            continue;
        }
        size_t k = n < room ? n : (size_t)room;
        if ((r = store_append(s, p, k)) < 0)
            return r;
        p += k;
        n -= k;
    }
    return 0;
}

int pcomm_spool_write(pcomm_spool *spool, const void *buf, size_t len)
{
    if (!spool || (!buf && len))
        return -EINVAL;
    if (spool->err)
        return spool->err;
    pcomm__spool_drop_view(spool);
    int r = spool_store(spool, buf, len);
    if (r < 0)
        spool->err = r;
    return r;
}

/* ---- filling from a descriptor ------------------------------------------------------------ */

/* read() into the bounce buffer, then store: for the read that crosses the threshold (so an
 * empty stream never creates a file), for the capped tail, and for non-pipes after the spill. */
static ssize_t fill_bounce(pcomm_spool *s, int fd, size_t max)
{
    if (!s->bounce && !(s->bounce = pcomm__alloc_io(PCOMM__SPOOL_BOUNCE)))
        return s->err = -ENOMEM;
    ssize_t n = pcomm__read(fd, s->bounce, max < PCOMM__SPOOL_BOUNCE ? max : PCOMM__SPOOL_BOUNCE);
    if (n <= 0)
        return n;
    int r = spool_store(s, s->bounce, (size_t)n);
    if (r < 0)
        return s->err = r;
    return n;
}

/* read() straight into the memory store (one copy, no bounce buffer). */
static ssize_t fill_mem(pcomm_spool *s, int fd, size_t max)
{
    size_t room = s->mem_cap - (size_t)s->len;
    if (room < max && room < PCOMM__SPOOL_BOUNCE) {
        size_t more = max < PCOMM__SPOOL_FILL ? max : PCOMM__SPOOL_FILL;
        int r = spool_reserve(s, s->len + more);
        if (r < 0)
            return s->err = r;
        room = s->mem_cap - (size_t)s->len;
    }
    ssize_t n = pcomm__read(fd, s->mem + s->len, max < room ? max : room);
    if (n > 0) {
        s->len += (uint64_t)n;
        s->total += (uint64_t)n;
    }
    return n;
}

/* splice() from a pipe into the spill file at the end of the store (no user-space copy). */
static ssize_t fill_file(pcomm_spool *s, int fd, size_t max)
{
    int64_t off = (int64_t)s->len;
    pcomm__sig_guard g;
    if (s->xfsz_guard)
        pcomm__sig_guard_block(&g, SIGXFSZ, 0);
    ssize_t n = pcomm__splice(fd, s->fd, &off, max);
    if (s->xfsz_guard)
        pcomm__sig_guard_restore(&g);
    if (n == -EINVAL) /* fd is not a pipe */
        return fill_bounce(s, fd, max);
    if (n > 0) {
        s->len += (uint64_t)n;
        s->total += (uint64_t)n;
    } else if (n < 0 && pcomm__storage_error(n)) {
        s->err = (int)n;
    }
    return n;
}

ssize_t pcomm_spool_fill(pcomm_spool *spool, int fd, size_t max)
{
    if (!spool || fd < 0)
        return -EINVAL;
    if (spool->err)
        return spool->err;
    if (max == 0)
        return 0;
    if (max > SSIZE_MAX)
        max = SSIZE_MAX;
    pcomm__spool_drop_view(spool);
    if (spool->len >= spool->head_max)
        return fill_bounce(spool, fd, max);
    if (max > spool->head_max - spool->len)
        max = (size_t)(spool->head_max - spool->len);
    if (spool->fd >= 0)
        return fill_file(spool, fd, max);
    if (spool->len == spool->threshold)
        return fill_bounce(spool, fd, max);
    if (max > spool->threshold - spool->len)
        max = (size_t)(spool->threshold - spool->len);
    return fill_mem(spool, fd, max);
}
