/* lib/atomic.c - pcomm_atomic: write to a temp file, sync, rename over the target.
 * SPDX-License-Identifier: MIT
 *
 * Why this shape:
 * - The temp file is created in the target's own directory, so the rename can never cross a
 *   filesystem (EXDEV is impossible by construction) and the directory fsync covers both names.
 * - It is an O_TMPFILE inode while it is written: a crash or SIGKILL before the commit leaves no
 *   file at all. At the commit it is linked in through /proc/self/fd (linkat with
 *   AT_SYMLINK_FOLLOW; AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH): straight to the target in
 *   no-clobber mode (linkat fails with EEXIST, atomically), else to a random hidden name that is
 *   then renamed over the target. Only a crash between those two calls leaves a hidden
 *   ".pcomm-XXXXXXXXXXXX-NAME" behind; there is no atomic "link over an existing name".
 * - Where O_TMPFILE is refused (some filesystems, or no /proc to link through) the temp is a
 *   random hidden name made with O_EXCL | O_NOFOLLOW, renamed at the commit (renameat2 with
 *   RENAME_NOREPLACE for no-clobber, or link + unlink where the filesystem lacks that flag).
 * - fsync errors are final and never retried (PostgreSQL's "fsyncgate": after a failed fsync the
 *   kernel may have dropped the dirty pages and a retry may report success). Every error is
 *   remembered, so a commit after a failed write can never publish a partial file.
 */
#include "pcomm/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys.h"

#define PCOMM__ATOMIC_BOUNCE (64 * 1024)

struct pcomm_atomic {
    int fd;         /* the temp file; -1 after the commit */
    int dirfd;      /* the target's directory (O_RDONLY, for fsync) */
    int flags;      /* PCOMM_ATOMIC_* */
    int err;        /* first error after the open: final */
    bool committed; /* pcomm_atomic_commit() was called */
    bool xfsz_guard;
    char *name;                         /* the target's last component */
    char tmpname[PCOMM__TEMP_NAME_MAX]; /* the temp's name, "" while it has none */
    unsigned char *bounce;
};

/* Split path into a directory (opened) and a last component. */
static int atomic_split(pcomm_atomic *a, const char *path)
{
    size_t len = strlen(path);
    if (path[len - 1] == '/')
        return -EISDIR;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!strcmp(base, ".") || !strcmp(base, ".."))
        return -EISDIR;
    if (strlen(base) > NAME_MAX)
        return -ENAMETOOLONG;
    if (!(a->name = pcomm__strndup(base, strlen(base))))
        return -ENOMEM;
    char *dir = slash ? pcomm__strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : pcomm__strndup(".", 1);
    if (!dir)
        return -ENOMEM;
    a->dirfd = pcomm__open(dir, O_RDONLY | O_DIRECTORY, 0);
    free(dir);
    return a->dirfd < 0 ? a->dirfd : 0;
}

/* The target may be missing or a regular file; never a symlink (rename would replace the link,
 * not write where it points), a directory, or a device, FIFO or socket. */
static int atomic_check_target(const pcomm_atomic *a)
{
    struct stat st;
    if (fstatat(a->dirfd, a->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (S_ISLNK(st.st_mode))
        return -ELOOP;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    if (!S_ISREG(st.st_mode))
        return -ENOTSUP;
    return (a->flags & PCOMM_ATOMIC_NOCLOBBER) ? -EEXIST : 0;
}

static int atomic_create(pcomm_atomic *a, unsigned mode)
{
    int fd = -EOPNOTSUPP;
    /* An O_TMPFILE can only be given a name through /proc/self/fd (see above). */
    if (faccessat(AT_FDCWD, "/proc/self/fd", X_OK, 0) == 0)
        fd = pcomm__openat(a->dirfd, ".", O_TMPFILE | O_RDWR, mode);
    if (fd == -EOPNOTSUPP || fd == -EISDIR || fd == -EINVAL) {
        char name[PCOMM__TEMP_NAME_MAX];
        fd = pcomm__create_temp(a->dirfd, a->name, O_RDWR, mode, name);
        if (fd >= 0) /* only a name we created may ever be unlinked */
            memcpy(a->tmpname, name, sizeof name);
    }
    if (fd < 0)
        return fd;
    a->fd = fd;
    return 0;
}

int pcomm_atomic_open(pcomm_atomic **ap, const char *path, unsigned mode, int flags)
{
    if (!ap)
        return -EINVAL;
    *ap = NULL;
    if (!path || (mode & ~07777u) || (flags & ~(PCOMM_ATOMIC_SYNC_MASK | PCOMM_ATOMIC_NOCLOBBER)) ||
        (flags & PCOMM_ATOMIC_SYNC_MASK) > PCOMM_ATOMIC_SYNC_NONE)
        return -EINVAL;
    if (!*path)
        return -ENOENT;
    pcomm_atomic *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->fd = a->dirfd = -1;
    a->flags = flags;
    int r = atomic_split(a, path);
    if (r == 0)
        r = atomic_check_target(a);
    if (r == 0)
        r = atomic_create(a, mode);
    if (r < 0) {
        pcomm_atomic_free(a);
        return r;
    }
    a->xfsz_guard = pcomm__fsize_limited();
    *ap = a;
    return 0;
}

int pcomm_atomic_fd(const pcomm_atomic *a)
{
    return a && a->fd >= 0 ? a->fd : -EINVAL;
}

int pcomm_atomic_write(pcomm_atomic *a, const void *buf, size_t len)
{
    if (!a || a->fd < 0 || (!buf && len))
        return -EINVAL;
    if (a->err)
        return a->err;
    pcomm__sig_guard g;
    if (a->xfsz_guard)
        pcomm__sig_guard_block(&g, SIGXFSZ, 0);
    int r = pcomm__write_all(a->fd, buf, len);
    if (a->xfsz_guard)
        pcomm__sig_guard_restore(&g);
    if (r < 0)
        a->err = r;
    return r;
}

/* read() and write() through a buffer, for an fd that splice() refuses (not a pipe). */
static ssize_t atomic_fill_bounce(pcomm_atomic *a, int fd, size_t max)
{
    if (!a->bounce && !(a->bounce = pcomm__alloc_io(PCOMM__ATOMIC_BOUNCE)))
        return a->err = -ENOMEM;
    ssize_t n = pcomm__read(fd, a->bounce, max < PCOMM__ATOMIC_BOUNCE ? max : PCOMM__ATOMIC_BOUNCE);
    if (n <= 0)
        return n;
    int r = pcomm__write_all(a->fd, a->bounce, (size_t)n);
    return r < 0 ? (a->err = r) : n;
}

ssize_t pcomm_atomic_fill(pcomm_atomic *a, int fd, size_t max)
{
    if (!a || a->fd < 0 || fd < 0)
        return -EINVAL;
    if (a->err)
        return a->err;
    if (max == 0)
        return 0;
    pcomm__sig_guard g;
    if (a->xfsz_guard)
        pcomm__sig_guard_block(&g, SIGXFSZ, 0);
    ssize_t n = pcomm__splice(fd, a->fd, NULL, max);
    if (n == -EINVAL)
        n = atomic_fill_bounce(a, fd, max);
    else if (n < 0 && pcomm__storage_error(n))
        a->err = (int)n;
    if (a->xfsz_guard)
        pcomm__sig_guard_restore(&g);
    return n;
}

/* Give the O_TMPFILE the name `name` in the target's directory. */
static int atomic_link_tmpfile(const pcomm_atomic *a, const char *name)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", a->fd);
    if (linkat(AT_FDCWD, proc, a->dirfd, name, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    int err = -errno;
    if (err == -ENOENT && linkat(a->fd, "", a->dirfd, name, AT_EMPTY_PATH) == 0)
        return 0; /* /proc went away, but we may hold CAP_DAC_READ_SEARCH */
    return err;
}

/* Rename the named temp over the target (or next to it without clobbering). */
static int atomic_rename(const pcomm_atomic *a)
{
    if (!(a->flags & PCOMM_ATOMIC_NOCLOBBER))
        return renameat(a->dirfd, a->tmpname, a->dirfd, a->name) == 0 ? 0 : -errno;
    if (renameat2(a->dirfd, a->tmpname, a->dirfd, a->name, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return -errno;
    /* No RENAME_NOREPLACE on this filesystem: a hard link is exclusive too. */
    if (linkat(a->dirfd, a->tmpname, a->dirfd, a->name, 0) < 0)
        return -errno;
    unlinkat(a->dirfd, a->tmpname, 0);
    return 0;
}

/* Put the temp file in place of the target. */
static int atomic_publish(pcomm_atomic *a)
{
    if (a->tmpname[0])
        return atomic_rename(a);
    if (a->flags & PCOMM_ATOMIC_NOCLOBBER)
        return atomic_link_tmpfile(a, a->name);
    for (int tries = 0;; tries++) {
        char name[PCOMM__TEMP_NAME_MAX];
        pcomm__temp_name(name, a->name);
        int r = atomic_link_tmpfile(a, name);
        if (r == 0) {
            memcpy(a->tmpname, name, sizeof name);
            return atomic_rename(a);
        }
        if (r != -EEXIST || tries >= 100)
            return r;
    }
}

static int atomic_sync(int fd, int level)
{
    int r = 0;
    if (level == PCOMM_ATOMIC_SYNC_FULL)
        r = fsync(fd);
    else if (level == PCOMM_ATOMIC_SYNC_DATA)
        r = fdatasync(fd);
    return r < 0 ? -errno : 0;
}

/* Remove the temp file (unnamed: closing is enough). */
static void atomic_discard(pcomm_atomic *a)
{
    if (a->tmpname[0])
        unlinkat(a->dirfd, a->tmpname, 0);
    a->tmpname[0] = '\0';
    pcomm__closep(&a->fd);
}

int pcomm_atomic_commit(pcomm_atomic *a)
{
    if (!a || a->committed || a->fd < 0)
        return -EINVAL;
    a->committed = true;
    int level = a->flags & PCOMM_ATOMIC_SYNC_MASK;
    int r = a->err;
    if (r == 0)
        r = atomic_sync(a->fd, level);
    if (r == 0) {
        r = atomic_check_target(a);
        if (r == -EEXIST) /* no-clobber: let the link or rename decide, atomically */
            r = 0;
    }
    if (r == 0)
        r = atomic_publish(a);
    if (r < 0) {
        atomic_discard(a);
        return r;
    }
    a->tmpname[0] = '\0'; /* it is the target now */
    pcomm__closep(&a->fd);
    if (level == PCOMM_ATOMIC_SYNC_FULL && fsync(a->dirfd) < 0)
        return -errno;
    return 0;
}

void pcomm_atomic_free(pcomm_atomic *a)
{
    if (!a)
        return;
    if (a->dirfd >= 0)
        atomic_discard(a);
    pcomm__close(a->dirfd);
    free(a->name);
    free(a->bounce);
    free(a);
}
