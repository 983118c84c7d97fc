/* tests/test_storage_faults.c - fault injection for pcomm_spool and pcomm_atomic.
 *
 * Like test_faults.c, libc functions are interposed by this executable (no hooks in lib/): for
 * N = 1, 2, ... the Nth call of an instrumented function fails, and afterwards the error must
 * have been reported, nothing may have leaked, a spool must still hold exactly the bytes it
 * accepted, and a target must be the old file or the complete new one, with no temp file left.
 * The same runs again with O_TMPFILE refused (the named-temp fallbacks). Real limits follow:
 * EFBIG through RLIMIT_FSIZE with SIGXFSZ at its default (deadly) disposition, and EMFILE
 * through RLIMIT_NOFILE. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "storage.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/sendfile.h>

#include "failpoint.h"

static int fp_failed_fd;   /* the descriptor of a failed fsync */
static bool fp_no_tmpfile; /* O_TMPFILE opens fail with EOPNOTSUPP */
static int fp_fsyncs;      /* fsync + fdatasync calls, armed or not */

/* fp_arm() plus this file's own state. */
static void storage_arm(int n, const char *only)
{
    fp_failed_fd = -1;
    fp_arm(n, only);
}
#define FAIL(name, e) (fp_hit(name) ? (errno = (e), 1) : 0)

int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | __O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (fp_no_tmpfile && (flags & O_TMPFILE) == O_TMPFILE) {
        errno = EOPNOTSUPP;
        return -1;
    }
    if (FAIL("openat", (flags & O_CREAT) ? ENOSPC : EMFILE))
        return -1;
    return REAL(openat)(dirfd, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | __O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (FAIL("open", ENFILE))
        return -1;
    return REAL(open)(path, flags, mode);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return FAIL("pwrite", ENOSPC) ? -1 : REAL(pwrite)(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    return FAIL("write", EDQUOT) ? -1 : REAL(write)(fd, buf, n);
}

static int fp_reads; /* read() calls, armed or not */

ssize_t read(int fd, void *buf, size_t n)
{
    fp_reads++;
    return FAIL("read", EIO) ? -1 : REAL(read)(fd, buf, n);
}

ssize_t splice(int in, loff_t *in_off, int out, loff_t *out_off, size_t len, unsigned flags)
{
    return FAIL("splice", ENOSPC) ? -1 : REAL(splice)(in, in_off, out, out_off, len, flags);
}

ssize_t copy_file_range(int in, loff_t *in_off, int out, loff_t *out_off, size_t len,
                        unsigned flags)
{
    if (FAIL("copy_file_range", EIO))
        return -1;
    return REAL(copy_file_range)(in, in_off, out, out_off, len, flags);
}

ssize_t sendfile(int out, int in, off_t *off, size_t len)
{
    return FAIL("sendfile", EIO) ? -1 : REAL(sendfile)(out, in, off, len);
}

int fsync(int fd)
{
    fp_fsyncs++;
    if (FAIL("fsync", EIO)) {
        fp_failed_fd = fd;
        return -1;
    }
    return REAL(fsync)(fd);
}

int fdatasync(int fd)
{
    fp_fsyncs++;
    return FAIL("fdatasync", EIO) ? -1 : REAL(fdatasync)(fd);
}

int linkat(int olddir, const char *old, int newdir, const char *new_name, int flags)
{
    return FAIL("linkat", ENOSPC) ? -1 : REAL(linkat)(olddir, old, newdir, new_name, flags);
}

int renameat(int olddir, const char *old, int newdir, const char *new_name)
{
    return FAIL("renameat", EIO) ? -1 : REAL(renameat)(olddir, old, newdir, new_name);
}

int renameat2(int olddir, const char *old, int newdir, const char *new_name, unsigned flags)
{
    if (FAIL("renameat2", EINVAL)) /* "this filesystem has no RENAME_NOREPLACE" */
        return -1;
    return REAL(renameat2)(olddir, old, newdir, new_name, flags);
}

#if PT_FAIL_MALLOC
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t n)
{
    return FAIL("malloc", ENOMEM) ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    return FAIL("calloc", ENOMEM) ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    return FAIL("realloc", ENOMEM) ? NULL : __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n) /* the spool's and atomic file's bounce buffers */
{
    return FAIL("aligned_alloc", ENOMEM) ? NULL : __libc_memalign(align, n);
}
#endif

/* Remember the name of a failed function (up to 16 distinct names). */
static void seen_add(const char **seen, const char *name)
{
    for (int i = 0; i < 16; i++)
        if (!seen[i] || !strcmp(seen[i], name)) {
            seen[i] = name;
            return;
        }
}

static const char *seen_list(const char **seen, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int i = 0; i < 16 && seen[i]; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), " %s", seen[i]);
    return buf;
}

/* ---- scenarios --------------------------------------------------------------------------- */

/* A pipe holding len pattern bytes (from offset `from`) and then end of file. */
static int pattern_pipe(uint64_t from, size_t len, unsigned seed)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    unsigned char buf[60000];
    assert_true(len <= sizeof buf);
    pt_pattern_fill(buf, len, from, seed);
    assert_int_equal(pt_write(p[1], buf, len), (ssize_t)len);
    close(p[1]);
    return p[0];
}

/* Store 3000 written + 50000 filled bytes, read them every way, save them. Returns the first
 * error. The spool is left in *spp for the caller to check. */
static int spool_scenario(pcomm_spool **spp, const char *dir, const char *saved, int in, int out)
{
    unsigned char buf[500];
    int r = pcomm_spool_new(spp, 1000);
    if (r == 0)
        r = pcomm_spool_set_dir(*spp, dir);
    for (uint64_t off = 0; r == 0 && off < 3000; off += sizeof buf) {
        pt_pattern_fill(buf, sizeof buf, off, 1);
        r = pcomm_spool_write(*spp, buf, sizeof buf);
    }
    ssize_t n = 1;
    while (r == 0 && n > 0)
        r = (n = pcomm_spool_fill(*spp, in, SIZE_MAX)) < 0 ? (int)n : 0;
    const void *view;
    size_t vlen;
    if (r == 0)
        r = pcomm_spool_view(*spp, &view, &vlen);
    if (r == 0)
        r = pcomm_spool_copy_to_fd(*spp, out);
    if (r == 0)
        r = pcomm_spool_save(*spp, saved, 0644, 0);
    char *text = NULL;
    size_t tlen;
    if (r == 0)
        r = pcomm_spool_tail_lines(*spp, 3, &text, &tlen);
    free(text);
    return r;
}

/* Allowed in dir after a run: the saved/target file and the copy. */
static void check_dir_clean(const char *dir, const char *keep1, const char *keep2)
{
    char list[4096];
    int n = st_list_dir(dir, list, sizeof list);
    for (char *name = strtok(list, " "); name; name = strtok(NULL, " "))
        if (strcmp(name, keep1) && (!keep2 || strcmp(name, keep2)))
            fail_msg("left behind in the directory: %s", name);
    assert_true(n <= 2);
}

static void test_spool_every_failure(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), saved[4096], copy[4096];
    snprintf(saved, sizeof saved, "%s/saved", dir);
    snprintf(copy, sizeof copy, "%s/copy", dir);
    for (int mode = 0; mode < 2; mode++) {
        fp_no_tmpfile = mode;
        int failures = 0, fds = pt_count_fds();
        const char *seen[16] = {0};
        for (int n = 1; n < 10000; n++) {
            st_write_pattern_file(saved, 10, 99);
            int in = pattern_pipe(3000, 50000, 1);
            int out = open(copy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            pcomm_spool *sp = NULL;
            storage_arm(n, NULL);
            int r = spool_scenario(&sp, dir, saved, in, out);
            const char *failed = fp_failed;
            bool fired = fp_disarm();
            close(in);
            close(out);
            if (!fired) {
                PT_OK(r);
                assert_true(st_file_is_pattern(saved, 53000, 1));
                pcomm_spool_free(sp);
                break;
            }
            if (r == 0) { /* e.g. a malloc the scenario does not depend on; it must be whole */
                assert_true(st_file_is_pattern(saved, 53000, 1));
            } else {
                failures++;
                seen_add(seen, failed);
                if (r == -EINVAL)
                    fail_msg("call %d (%s) failed but the spool reported -EINVAL", n, failed);
                /* the target is old or new, never partial */
                assert_true(st_file_is_pattern(saved, 10, 99) ||
                            st_file_is_pattern(saved, 53000, 1));
            }
            if (sp) /* whatever was accepted is readable, byte for byte */
                st_check_kept(sp, pcomm_spool_size(sp), 0, 0, 1);
            pcomm_spool_free(sp);
            check_dir_clean(dir, "saved", "copy");
            assert_int_equal(pt_count_fds(), fds);
        }
        char names[256];
        fprintf(stderr, "[ faults ] spool%s: %d failures:%s\n", mode ? " (no O_TMPFILE)" : "",
                failures, seen_list(seen, names, sizeof names));
        assert_true(failures >= (PT_FAIL_MALLOC ? 20 : 12));
    }
    fp_no_tmpfile = false;
    pt_rmtree(dir);
    free(dir);
}

static int atomic_scenario(const char *target, int flags, int in)
{
    pcomm_atomic *a = NULL;
    int r = pcomm_atomic_open(&a, target, 0644, flags);
    unsigned char buf[4096];
    for (uint64_t off = 0; r == 0 && off < 40960; off += sizeof buf) {
        pt_pattern_fill(buf, sizeof buf, off, 2);
        r = pcomm_atomic_write(a, buf, sizeof buf);
    }
    ssize_t n = 1;
    while (r == 0 && n > 0)
        r = (n = pcomm_atomic_fill(a, in, 7000)) < 0 ? (int)n : 0;
    if (r == 0)
        r = pcomm_atomic_commit(a);
    pcomm_atomic_free(a);
    return r;
}

static void atomic_every_failure(const char *dir, int flags, bool target_exists)
{
    char target[4096];
    snprintf(target, sizeof target, "%s/target", dir);
    int failures = 0, fds = pt_count_fds();
    const char *seen[16] = {0};
    for (int n = 1; n < 10000; n++) {
        unlink(target);
        if (target_exists)
            st_write_pattern_file(target, 10, 99);
        int in = pattern_pipe(40960, 50000, 2);
        storage_arm(n, NULL);
        int r = atomic_scenario(target, flags, in);
        const char *failed = fp_failed;
        int failed_fd = fp_failed_fd;
        bool fired = fp_disarm();
        close(in);
        bool is_new = st_file_is_pattern(target, 90960, 2);
        bool is_old = target_exists ? st_file_is_pattern(target, 10, 99) : access(target, F_OK);
        if (!fired) {
            PT_OK(r);
            assert_true(is_new);
            break;
        }
        if (r == 0) {
            assert_true(is_new);
        } else {
            failures++;
            seen_add(seen, failed);
            if (r == -EINVAL)
                fail_msg("call %d (%s) failed but the writer reported -EINVAL", n, failed);
            /* only the directory's fsync comes after the rename */
            bool dir_sync = failed_fd >= 0 && !strcmp(failed, "fsync") && is_new;
            if (!is_old && !dir_sync)
                fail_msg("call %d (%s) -> %s, and the target is not the old one", n, failed,
                         pcomm_errname(r));
        }
        check_dir_clean(dir, "target", NULL);
        assert_int_equal(pt_count_fds(), fds);
    }
    char names[256];
    fprintf(stderr, "[ faults ] atomic flags %d%s%s: %d failures:%s\n", flags,
            fp_no_tmpfile ? " (no O_TMPFILE)" : "", target_exists ? "" : " (new)", failures,
            seen_list(seen, names, sizeof names));
    assert_true(failures >= 6);
}

static void test_atomic_every_failure(void **state)
{
    (void)state;
    char *dir = pt_tempdir();
    for (int mode = 0; mode < 2; mode++) {
        fp_no_tmpfile = mode;
        atomic_every_failure(dir, PCOMM_ATOMIC_SYNC_FULL, true);
        atomic_every_failure(dir, PCOMM_ATOMIC_SYNC_DATA, true);
        atomic_every_failure(dir, PCOMM_ATOMIC_NOCLOBBER, false);
    }
    fp_no_tmpfile = false;
    pt_rmtree(dir);
    free(dir);
}

/* An fsync error is final: no retry, no rename, no temp file, the target untouched. */
static void test_fsync_error_is_final(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), target[4096];
    snprintf(target, sizeof target, "%s/t", dir);
    const char *fns[] = {"fsync", "fdatasync"};
    for (int mode = 0; mode < 2; mode++)
        for (int f = 0; f < 2; f++) {
            fp_no_tmpfile = mode;
            st_write_pattern_file(target, 123, 7);
            pcomm_atomic *a;
            PT_OK(pcomm_atomic_open(&a, target, 0644,
                                    f ? PCOMM_ATOMIC_SYNC_DATA : PCOMM_ATOMIC_SYNC_FULL));
            PT_OK(pcomm_atomic_write(a, "new contents", 12));
            fp_fsyncs = 0;
            storage_arm(1, fns[f]);
            assert_int_equal(pcomm_atomic_commit(a), -EIO);
            assert_true(fp_disarm());
            assert_int_equal(fp_fsyncs, 1); /* never retried */
            pcomm_atomic_free(a);
            assert_true(st_file_is_pattern(target, 123, 7));
            check_dir_clean(dir, "t", NULL);
        }
    fp_no_tmpfile = false;
    pt_rmtree(dir);
    free(dir);
}

/* Named temps: no RENAME_NOREPLACE (renameat2 says EINVAL) falls back to link + unlink. */
static void test_noclobber_without_renameat2(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), target[4096];
    snprintf(target, sizeof target, "%s/nc", dir);
    fp_no_tmpfile = true;
    for (int exists = 0; exists < 2; exists++) {
        unlink(target);
        pcomm_atomic *a;
        PT_OK(pcomm_atomic_open(&a, target, 0644, PCOMM_ATOMIC_NOCLOBBER));
        char list[4096];
        assert_int_equal(st_list_dir(dir, list, sizeof list), 1);
        assert_non_null(strstr(list, ".pcomm-")); /* the named temp, hidden */
        PT_OK(pcomm_atomic_write(a, "abc", 3));
        if (exists)
            st_write_pattern_file(target, 5, 1);
        storage_arm(1, "renameat2");
        assert_int_equal(pcomm_atomic_commit(a), exists ? -EEXIST : 0);
        assert_true(fp_disarm());
        pcomm_atomic_free(a);
        assert_true(exists ? st_file_is_pattern(target, 5, 1) : !access(target, F_OK));
        check_dir_clean(dir, "nc", NULL);
    }
    fp_no_tmpfile = false;
    pt_rmtree(dir);
    free(dir);
}

/* After the spill, and into an atomic file, bytes from a pipe move by splice: no read(). */
static void test_pipe_fills_do_not_read(void **state)
{
    (void)state;
    pcomm_spool *sp;
    PT_OK(pcomm_spool_new(&sp, 0));
    PT_OK(pcomm_spool_write(sp, "x", 1)); /* spilled now */
    int in = pattern_pipe(1, 50000, 1);
    fp_reads = 0;
    ssize_t n;
    while ((n = pcomm_spool_fill(sp, in, SIZE_MAX)) > 0)
        ;
    assert_int_equal(n, 0);
    assert_int_equal(fp_reads, 0);
    close(in);
    unsigned char first;
    assert_int_equal(pcomm_spool_pread(sp, &first, 1, 0), 1);
    assert_int_equal(first, 'x');
    assert_int_equal(pcomm_spool_size(sp), 50001);
    pcomm_spool_free(sp);

    char *dir = pt_tempdir(), target[4096];
    snprintf(target, sizeof target, "%s/t", dir);
    pcomm_atomic *a;
    PT_OK(pcomm_atomic_open(&a, target, 0644, PCOMM_ATOMIC_SYNC_NONE));
    in = pattern_pipe(0, 50000, 2);
    fp_reads = 0;
    while ((n = pcomm_atomic_fill(a, in, SIZE_MAX)) > 0)
        ;
    assert_int_equal(n, 0);
    assert_int_equal(fp_reads, 0);
    close(in);
    PT_OK(pcomm_atomic_commit(a));
    pcomm_atomic_free(a);
    assert_true(st_file_is_pattern(target, 50000, 2));
    pt_rmtree(dir);
    free(dir);
}

/* ---- real limits ------------------------------------------------------------------------- */

static void set_limit(int resource, rlim_t soft, struct rlimit *old)
{
    assert_int_equal(getrlimit(resource, old), 0);
    struct rlimit rl = {soft, old->rlim_max};
    assert_int_equal(setrlimit(resource, &rl), 0);
}

static void assert_not_pending(int sig)
{
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, sig));
}

static void test_efbig_from_rlimit_fsize(void **state)
{
    (void)state;
    /* SIGXFSZ stays at its default disposition (terminate): only pcomm's per-thread guard
     * stands between these writes and the death of the test. */
    struct sigaction sa;
    assert_int_equal(sigaction(SIGXFSZ, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);
    char *dir = pt_tempdir(), target[4096];
    snprintf(target, sizeof target, "%s/big", dir);
    st_write_pattern_file(target, 100, 3);
    struct rlimit old;
    set_limit(RLIMIT_FSIZE, 65536, &old);
    for (int how = 0; how < 2; how++) { /* write(), fill() by splice */
        pcomm_spool *sp;
        PT_OK(pcomm_spool_new(&sp, 4096));
        PT_OK(pcomm_spool_set_dir(sp, dir));
        unsigned char buf[10000];
        int r = 0;
        for (uint64_t off = 0; r == 0 && off < 200000; off += sizeof buf) {
            pt_pattern_fill(buf, sizeof buf, off, 4);
            if (how == 0 || off < 4096) {
                r = pcomm_spool_write(sp, buf, sizeof buf);
            } else {
                int p[2];
                assert_int_equal(pipe2(p, O_CLOEXEC), 0);
                assert_int_equal(pt_write(p[1], buf, sizeof buf), (ssize_t)sizeof buf);
                close(p[1]);
                ssize_t n;
                while ((n = pcomm_spool_fill(sp, p[0], SIZE_MAX)) > 0)
                    ;
                r = (int)n;
                close(p[0]);
            }
        }
        assert_int_equal(r, -EFBIG);
        assert_int_equal(pcomm_spool_error(sp), -EFBIG);
        assert_int_equal(pcomm_spool_write(sp, "x", 1), -EFBIG); /* sticky */
        assert_int_equal(pcomm_spool_size(sp), 65536);           /* up to the limit */
        st_check_kept(sp, 65536, 0, 0, 4);
        assert_not_pending(SIGXFSZ);
        pcomm_spool_free(sp);
    }
    pcomm_atomic *a;
    PT_OK(pcomm_atomic_open(&a, target, 0644, 0));
    unsigned char buf[100000];
    pt_pattern_fill(buf, sizeof buf, 0, 5);
    assert_int_equal(pcomm_atomic_write(a, buf, sizeof buf), -EFBIG);
    assert_int_equal(pcomm_atomic_write(a, buf, 1), -EFBIG);
    assert_int_equal(pcomm_atomic_commit(a), -EFBIG);
    pcomm_atomic_free(a);
    assert_not_pending(SIGXFSZ);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_true(st_file_is_pattern(target, 100, 3));
    check_dir_clean(dir, "big", NULL);
    pt_rmtree(dir);
    free(dir);
}

static int highest_fd(void)
{
    int high = 2;
    for (int fd = 3; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            high = fd;
    return high;
}

static void test_emfile(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), target[4096];
    snprintf(target, sizeof target, "%s/t", dir);
    /* +1: not even the spill directory opens; +2: the directory does, the temp file does not. */
    for (int room = 1; room <= 2; room++) {
        pcomm_spool *sp;
        PT_OK(pcomm_spool_new(&sp, 1000));
        PT_OK(pcomm_spool_set_dir(sp, dir));
        unsigned char buf[1000];
        pt_pattern_fill(buf, sizeof buf, 0, 6);
        PT_OK(pcomm_spool_write(sp, buf, sizeof buf));
        struct rlimit old;
        set_limit(RLIMIT_NOFILE, (rlim_t)(highest_fd() + room), &old);
        assert_int_equal(pcomm_spool_write(sp, "x", 1), -EMFILE);
        pcomm_atomic *a;
        assert_int_equal(pcomm_atomic_open(&a, target, 0644, 0), -EMFILE);
        assert_null(a);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
        assert_int_equal(pcomm_spool_write(sp, "x", 1), -EMFILE); /* sticky */
        assert_int_equal(pcomm_spool_spilled(sp), 0);
        st_check_kept(sp, 1000, 0, 0, 6); /* still readable */
        pcomm_spool_free(sp);
        assert_int_equal(st_count_dir(dir), 0);
    }
    pt_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_spool_every_failure),
        PT_TEST(test_atomic_every_failure),
        PT_TEST(test_fsync_error_is_final),
        PT_TEST(test_noclobber_without_renameat2),
        PT_TEST(test_pipe_fills_do_not_read),
        PT_TEST(test_efbig_from_rlimit_fsize),
        PT_TEST(test_emfile),
    };
    return PT_RUN(tests);
}
