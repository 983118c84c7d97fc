/* tests/test_spool.c - pcomm_spool: the spill threshold, every read path after a spill, the
 * head/tail cap, tail lines, filling from descriptors, take, and a model-based random test.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "storage.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

static pcomm_spool *new_spool(size_t threshold, const char *dir)
{
    pcomm_spool *sp;
    PT_OK(pcomm_spool_new(&sp, threshold));
    if (dir)
        PT_OK(pcomm_spool_set_dir(sp, dir));
    return sp;
}

static void write_pattern(pcomm_spool *sp, uint64_t from, size_t len, unsigned seed, size_t chunk)
{
    unsigned char buf[65536];
    for (size_t done = 0; done < len;) {
        size_t k = len - done < chunk ? len - done : chunk;
        if (k > sizeof buf)
            k = sizeof buf;
        pt_pattern_fill(buf, k, from + done, seed);
        PT_OK(pcomm_spool_write(sp, buf, k));
        done += k;
    }
}

/* The descriptor of the spool's spill file, found in /proc/self/fd by its directory. */
static int find_spill_fd(const char *dir)
{
    for (int fd = 3; fd < 1024; fd++) {
        char link[64], target[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (!strncmp(target, dir, strlen(dir)) && target[strlen(dir)] == '/')
            return fd;
    }
    return -1;
}

static void test_spill_threshold_boundaries(void **state)
{
    (void)state;
    char *dir = pt_tempdir();
    const size_t thresholds[] = {0, 1, 4096, 65536, 100000};
    for (size_t t = 0; t < sizeof thresholds / sizeof thresholds[0]; t++) {
        size_t th = thresholds[t];
        for (size_t n = th ? th - 1 : 0; n <= th + 1; n++) {
            pcomm_spool *sp = new_spool(th, dir);
            write_pattern(sp, 0, n, (unsigned)n, 65536);
            assert_int_equal(pcomm_spool_spilled(sp), n > th);
            assert_int_equal(pcomm_spool_total(sp), n);
            assert_int_equal(pcomm_spool_dropped(sp), 0);
            st_check_kept(sp, n, 0, 0, (unsigned)n);
            assert_int_equal(st_count_dir(dir), 0); /* the spill file has no name */
            pcomm_spool_free(sp);
        }
        /* One byte at a time: the spill happens exactly at byte th + 1. */
        pcomm_spool *sp = new_spool(th, dir);
        for (size_t i = 0; i < th + 3; i++) {
            unsigned char b = pt_pattern_byte(i, 7);
            PT_OK(pcomm_spool_write(sp, &b, 1));
            assert_int_equal(pcomm_spool_spilled(sp), i + 1 > th);
        }
        st_check_kept(sp, th + 3, 0, 0, 7);
        pcomm_spool_free(sp);
    }
    /* SIZE_MAX never spills; an empty write spills nothing. */
    pcomm_spool *sp = new_spool(SIZE_MAX, dir);
    write_pattern(sp, 0, 3 << 20, 1, 65536);
    PT_OK(pcomm_spool_write(sp, "", 0));
    assert_int_equal(pcomm_spool_spilled(sp), 0);
    pcomm_spool_free(sp);
    sp = new_spool(0, dir);
    PT_OK(pcomm_spool_write(sp, "", 0));
    assert_int_equal(pcomm_spool_spilled(sp), 0);
    pcomm_spool_free(sp);
    pt_rmtree(dir);
    free(dir);
}

static void test_spill_file_is_private(void **state)
{
    (void)state;
    char *dir = pt_tempdir();
    setenv("TMPDIR", dir, 1); /* the default directory */
    pcomm_spool *sp = new_spool(10, NULL);
    write_pattern(sp, 0, 100, 3, 100);
    assert_true(pcomm_spool_spilled(sp));
    int fd = find_spill_fd(dir);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_nlink, 0); /* unlinked */
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(st_count_dir(dir), 0);
    pcomm_spool_free(sp);
    assert_int_equal(find_spill_fd(dir), -1);
    unsetenv("TMPDIR");
    pt_rmtree(dir);
    free(dir);
}

/* A reader thread that checks what arrives on a pipe against the pattern. */
struct pipe_check {
    int fd;
    unsigned seed;
    uint64_t got;
    bool ok;
};

static void *pipe_check_main(void *arg)
{
    struct pipe_check *pc = arg;
    unsigned char buf[65536];
    pc->ok = true;
    for (;;) {
        ssize_t n = pt_read(pc->fd, buf, sizeof buf);
        if (n <= 0)
            break;
        if (pt_pattern_check(buf, (size_t)n, pc->got, pc->seed) != (size_t)n)
            pc->ok = false;
        pc->got += (uint64_t)n;
    }
    return NULL;
}

static void check_copy_to_pipe(const pcomm_spool *sp, size_t len, unsigned seed, bool nonblock)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0)), 0);
    struct pipe_check pc = {.fd = p[0], .seed = seed};
    if (nonblock)
        assert_int_equal(fcntl(p[0], F_SETFL, 0), 0); /* O_NONBLOCK is per end */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pipe_check_main, &pc), 0);
    PT_OK(pcomm_spool_copy_to_fd(sp, p[1]));
    close(p[1]);
    pthread_join(th, NULL);
    close(p[0]);
    assert_true(pc.ok);
    assert_int_equal(pc.got, len);
}

static void check_copy_to_file(const pcomm_spool *sp, const char *dir, size_t len, unsigned seed,
                               int extra_flags)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/copy", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | extra_flags, 0600);
    assert_true(fd >= 0);
    assert_int_equal(pt_write(fd, "X", 1), 1); /* copies go at the file position */
    PT_OK(pcomm_spool_copy_to_fd(sp, fd));
    close(fd);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got;
    char *data = pt_slurp(fd, &got);
    close(fd);
    assert_int_equal(got, len + 1);
    assert_int_equal(data[0], 'X');
    assert_int_equal(pt_pattern_check(data + 1, len, 0, seed), len);
    free(data);
    unlink(path);
}

/* Every way of reading a spool back, checked byte for byte. */
static void check_all_read_paths(pcomm_spool *sp, const char *dir, size_t len, unsigned seed)
{
    st_check_kept(sp, len, 0, 0, seed);
    /* pread at awkward offsets and lengths */
    unsigned char buf[70000];
    for (uint64_t off = 0; off < len; off += 9973) {
        size_t want = (size_t)(off % sizeof buf) + 1;
        ssize_t n = pcomm_spool_pread(sp, buf, want, off);
        size_t expect = len - off < want ? len - off : want;
        assert_int_equal(n, (ssize_t)expect);
        assert_int_equal(pt_pattern_check(buf, expect, off, seed), expect);
    }
    assert_int_equal(pcomm_spool_pread(sp, buf, 10, len), 0);
    assert_int_equal(pcomm_spool_pread(sp, buf, 10, len + 100), 0);
    /* the sequential reader, twice (rewind) */
    for (int pass = 0; pass < 2; pass++) {
        PT_OK(pcomm_spool_rewind(sp));
        uint64_t got = 0;
        ssize_t n;
        while ((n = pcomm_spool_read(sp, buf, 4093 + (size_t)pass * 60000)) > 0) {
            assert_int_equal(pt_pattern_check(buf, (size_t)n, got, seed), (size_t)n);
            got += (uint64_t)n;
        }
        assert_int_equal(n, 0);
        assert_int_equal(got, len);
    }
    /* the view */
    const void *data;
    size_t vlen;
    PT_OK(pcomm_spool_view(sp, &data, &vlen));
    assert_non_null(data);
    assert_int_equal(vlen, len);
    assert_int_equal(pt_pattern_check(data, len, 0, seed), len);
    /* copies: regular file (copy_file_range), O_APPEND file (fallbacks), pipes (sendfile) */
    check_copy_to_file(sp, dir, len, seed, 0);
    check_copy_to_file(sp, dir, len, seed, O_APPEND);
    check_copy_to_pipe(sp, len, seed, false);
    check_copy_to_pipe(sp, len, seed, true);
    /* save, atomically */
    char path[4096];
    snprintf(path, sizeof path, "%s/saved", dir);
    PT_OK(pcomm_spool_save(sp, path, 0640, PCOMM_ATOMIC_SYNC_NONE));
    assert_true(st_file_is_pattern(path, len, seed));
    unlink(path);
}

static void test_read_paths_after_spill(void **state)
{
    (void)state;
    char *dir = pt_tempdir();
    const size_t sizes[] = {0, 1, 4095, 4097, 200003, (3 << 20) + 5};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int spill = 0; spill < 2; spill++) {
            pcomm_spool *sp = new_spool(spill ? 4096 : SIZE_MAX, dir);
            write_pattern(sp, 0, sizes[i], (unsigned)i, 1000 + i * 7919);
            assert_int_equal(pcomm_spool_spilled(sp), spill && sizes[i] > 4096);
            check_all_read_paths(sp, dir, sizes[i], (unsigned)i);
            assert_int_equal(st_count_dir(dir), 0);
            pcomm_spool_free(sp);
        }
    }
    pt_rmtree(dir);
    free(dir);
}

static void test_reads_interleaved_with_writes(void **state)
{
    (void)state;
    pcomm_spool *sp = new_spool(5000, NULL);
    unsigned char buf[3000];
    uint64_t written = 0, readpos = 0;
    for (int round = 0; round < 20; round++) {
        write_pattern(sp, written, 1234, 9, 1234);
        written += 1234;
        ssize_t n = pcomm_spool_read(sp, buf, sizeof buf);
        assert_true(n > 0);
        assert_int_equal(pt_pattern_check(buf, (size_t)n, readpos, 9), (size_t)n);
        readpos += (uint64_t)n;
        const void *data;
        size_t len;
        PT_OK(pcomm_spool_view(sp, &data, &len)); /* a new view after each write */
        assert_int_equal(len, written);
        assert_int_equal(pt_pattern_check(data, len, 0, 9), len);
    }
    assert_true(pcomm_spool_spilled(sp));
    pcomm_spool_free(sp);
}

/* ---- filling from descriptors ------------------------------------------------------------ */

static void fill_from_helper(size_t threshold, size_t total, size_t max, bool expect_spill)
{
    pcomm_cmd *cmd = pt_helper_cmd("write", "1", NULL);
    char n[32];
    snprintf(n, sizeof n, "%zu", total);
    PT_OK(pcomm_cmd_arg(cmd, n));
    PT_OK(pcomm_cmd_arg(cmd, "5"));
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    pcomm_spool *sp = new_spool(threshold, NULL);
    ssize_t r;
    int calls = 0;
    while ((r = pcomm_spool_fill(sp, pcomm_proc_fd(proc, 1), max)) > 0) {
        assert_true((size_t)r <= max);
        calls++;
    }
    assert_int_equal(r, 0);
    assert_true(calls > 0 || total == 0);
    assert_int_equal(pcomm_spool_spilled(sp), expect_spill);
    st_check_kept(sp, total, 0, 0, 5);
    PT_OK(pcomm_proc_wait(proc, -1));
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    pcomm_spool_free(sp);
}

static void test_fill_from_pipe(void **state)
{
    (void)state;
    fill_from_helper(SIZE_MAX, 5 << 20, SIZE_MAX, false); /* memory only */
    fill_from_helper(1 << 20, 5 << 20, SIZE_MAX, true);   /* memory, then splice */
    fill_from_helper(0, 3 << 20, 100000, true);           /* splice from the first byte */
    fill_from_helper(0, 0, SIZE_MAX, false);              /* empty stream: no file */
    fill_from_helper(65536, 65536, 777, false);           /* exactly the threshold */
    fill_from_helper(65536, 65537, 777, true);
}

static void test_fill_from_file_and_nonblocking(void **state)
{
    (void)state;
    char *dir = pt_tempdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/input", dir);
    st_write_pattern_file(path, 1000003, 4);
    for (int spill = 0; spill < 2; spill++) { /* not a pipe: splice refuses, read+write */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        pcomm_spool *sp = new_spool(spill ? 1000 : SIZE_MAX, dir);
        ssize_t r;
        while ((r = pcomm_spool_fill(sp, fd, SIZE_MAX)) > 0)
            ;
        assert_int_equal(r, 0);
        close(fd);
        assert_int_equal(pcomm_spool_spilled(sp), spill);
        st_check_kept(sp, 1000003, 0, 0, 4);
        pcomm_spool_free(sp);
    }
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    for (int spill = 0; spill < 2; spill++) {
        pcomm_spool *sp = new_spool(spill ? 0 : SIZE_MAX, dir);
        if (spill)
            PT_OK(pcomm_spool_write(sp, "x", 1));
        assert_int_equal(pcomm_spool_fill(sp, p[0], 100), -EAGAIN);
        assert_int_equal(pcomm_spool_error(sp), 0); /* not sticky */
        assert_int_equal(pt_write(p[1], "abc", 3), 3);
        assert_int_equal(pcomm_spool_fill(sp, p[0], 2), 2);
        assert_int_equal(pcomm_spool_fill(sp, p[0], 0), 0);
        assert_int_equal(pcomm_spool_fill(sp, p[0], 100), 1);
        assert_int_equal(pcomm_spool_size(sp), 3 + (uint64_t)spill);
        pcomm_spool_free(sp);
    }
    close(p[0]);
    close(p[1]);
    pt_rmtree(dir);
    free(dir);
}

/* ---- the cap ----------------------------------------------------------------------------- */

static void check_capped(pcomm_spool *sp, uint64_t head, uint64_t tail, uint64_t total,
                         unsigned seed)
{
    uint64_t kh = total < head ? total : head;
    uint64_t kt = total - kh < tail ? total - kh : tail;
    assert_int_equal(pcomm_spool_total(sp), total);
    assert_int_equal(pcomm_spool_dropped(sp), total - kh - kt);
    st_check_kept(sp, kh, total - kt, kt, seed);
    const void *data;
    size_t len;
    PT_OK(pcomm_spool_view(sp, &data, &len)); /* puts a wrapped ring in order */
    assert_int_equal(len, kh + kt);
    assert_int_equal(pt_pattern_check(data, (size_t)kh, 0, seed), (size_t)kh);
    assert_int_equal(pt_pattern_check((const char *)data + kh, (size_t)kt, total - kt, seed),
                     (size_t)kt);
    st_check_kept(sp, kh, total - kt, kt, seed); /* still right after the view */
}

static void test_cap_keeps_head_and_tail(void **state)
{
    (void)state;
    const uint64_t caps[][2] = {{0, 0}, {100, 0}, {0, 100}, {1000, 333}, {4096, 4096}, {7, 65536}};
    const size_t totals[] = {0, 50, 100, 433, 1333, 70000, 300001};
    const size_t chunks[] = {1, 7, 4096, 1 << 20};
    const size_t thresholds[] = {SIZE_MAX, 64, 0};
    unsigned seed = 0;
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
        for (size_t t = 0; t < sizeof totals / sizeof totals[0]; t++)
            for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++)
                for (size_t h = 0; h < sizeof thresholds / sizeof thresholds[0]; h++) {
                    if (chunks[k] == 1 && totals[t] > 2000)
                        continue;
                    pcomm_spool *sp = new_spool(thresholds[h], NULL);
                    PT_OK(pcomm_spool_set_cap(sp, caps[c][0], caps[c][1]));
                    write_pattern(sp, 0, totals[t], ++seed, chunks[k]);
                    check_capped(sp, caps[c][0], caps[c][1], totals[t], seed);
                    assert_true(pcomm_spool_size(sp) <= caps[c][0] + caps[c][1]);
                    pcomm_spool_free(sp);
                }
}

static void test_cap_drains_a_pipe(void **state)
{
    (void)state;
    for (int spill = 0; spill < 2; spill++) {
        pcomm_cmd *cmd = pt_helper_cmd("write", "1", "3000000", "6", NULL);
        PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
        pcomm_proc *proc;
        PT_OK(pcomm_spawn(cmd, &proc));
        pcomm_spool *sp = new_spool(spill ? 100 : SIZE_MAX, NULL);
        PT_OK(pcomm_spool_set_cap(sp, 1000, 5000));
        ssize_t r;
        while ((r = pcomm_spool_fill(sp, pcomm_proc_fd(proc, 1), SIZE_MAX)) > 0)
            ;
        assert_int_equal(r, 0);
        PT_OK(pcomm_proc_wait(proc, -1));
        pcomm_status st;
        PT_OK(pcomm_proc_status(proc, &st));
        assert_int_equal(st.how, PCOMM_EXITED); /* not stuck, not killed */
        assert_int_equal(pcomm_spool_spilled(sp), spill);
        check_capped(sp, 1000, 5000, 3000000, 6);
        pcomm_proc_free(proc);
        pcomm_cmd_free(cmd);
        pcomm_spool_free(sp);
    }
}

/* ---- tail lines -------------------------------------------------------------------------- */

/* The reference: split forwards, keep the last n lines. */
static void ref_tail(const char *s, size_t len, size_t n, size_t *startp)
{
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' || i == len - 1)
            lines++;
    size_t skip = lines > n ? lines - n : 0, i = 0;
    while (skip > 0 && i < len)
        if (s[i++] == '\n')
            skip--;
    *startp = n == 0 ? len : i;
}

static void check_tail(pcomm_spool *sp, const char *all, size_t len, size_t n)
{
    size_t start;
    ref_tail(all, len, n, &start);
    char *text;
    size_t tlen;
    PT_OK(pcomm_spool_tail_lines(sp, n, &text, &tlen));
    assert_int_equal(tlen, len - start);
    assert_memory_equal(text, all + start, tlen);
    assert_int_equal(text[tlen], '\0');
    free(text);
}

static void test_tail_lines(void **state)
{
    (void)state;
    const char *cases[] = {"", "a", "a\n", "a\nb", "a\nb\n", "\n", "\n\n\n", "one\n\ntwo\nthree"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int spill = 0; spill < 2; spill++) {
            pcomm_spool *sp = new_spool(spill ? 0 : SIZE_MAX, NULL);
            PT_OK(pcomm_spool_write(sp, cases[c], strlen(cases[c])));
            for (size_t n = 0; n < 6; n++)
                check_tail(sp, cases[c], strlen(cases[c]), n);
            pcomm_spool_free(sp);
        }
    /* Lines much longer than the 64 KiB window, with and without a final newline. */
    size_t len = 1 << 20;
    char *big = malloc(len);
    assert_non_null(big);
    for (int trailing = 0; trailing < 2; trailing++) {
        for (size_t i = 0; i < len; i++)
            big[i] = (char)('a' + i % 26);
        const size_t nl[] = {10, 200000, 200001, 465536, 655359, 655360, 900000};
        for (size_t i = 0; i < sizeof nl / sizeof nl[0]; i++)
            big[nl[i]] = '\n';
        big[len - 1] = trailing ? '\n' : 'z';
        for (int spill = 0; spill < 2; spill++) {
            pcomm_spool *sp = new_spool(spill ? 4096 : SIZE_MAX, NULL);
            PT_OK(pcomm_spool_write(sp, big, len));
            for (size_t n = 0; n < 9; n++)
                check_tail(sp, big, len, n);
            pcomm_spool_free(sp);
        }
    }
    free(big);
}

static void test_tail_lines_capped_uses_tail_only(void **state)
{
    (void)state;
    pcomm_spool *sp = new_spool(SIZE_MAX, NULL);
    PT_OK(pcomm_spool_set_cap(sp, 8, 12));
    const char *text = "head1\nhead2\nmiddle\nmiddle\nxx\ntail1\ntail2\n";
    PT_OK(pcomm_spool_write(sp, text, strlen(text)));
    assert_true(pcomm_spool_dropped(sp) > 0);
    char *out;
    size_t len;
    PT_OK(pcomm_spool_tail_lines(sp, 100, &out, &len)); /* the tail's 12 bytes, nothing else */
    assert_string_equal(out, "tail1\ntail2\n");
    free(out);
    PT_OK(pcomm_spool_tail_lines(sp, 1, &out, &len));
    assert_string_equal(out, "tail2\n");
    free(out);
    pcomm_spool_free(sp);
}

/* ---- take, settings, errors -------------------------------------------------------------- */

static void test_take(void **state)
{
    (void)state;
    pcomm_spool *sp = new_spool(1 << 20, NULL);
    write_pattern(sp, 0, 100000, 2, 3000);
    void *buf;
    size_t len;
    PT_OK(pcomm_spool_take(sp, &buf, &len));
    assert_int_equal(len, 100000);
    assert_int_equal(pt_pattern_check(buf, len, 0, 2), len);
    free(buf);
    assert_int_equal(pcomm_spool_size(sp), 0);
    assert_int_equal(pcomm_spool_total(sp), 0);
    PT_OK(pcomm_spool_take(sp, &buf, &len)); /* empty */
    assert_null(buf);
    assert_int_equal(len, 0);
    write_pattern(sp, 0, 10, 3, 10); /* reusable */
    st_check_kept(sp, 10, 0, 0, 3);
    write_pattern(sp, 10, 2 << 20, 3, 65536);
    assert_true(pcomm_spool_spilled(sp));
    assert_int_equal(pcomm_spool_take(sp, &buf, &len), -ENOTSUP);
    pcomm_spool_free(sp);
    /* a wrapped ring is put in order */
    sp = new_spool(SIZE_MAX, NULL);
    PT_OK(pcomm_spool_set_cap(sp, 10, 100));
    write_pattern(sp, 0, 1055, 4, 13);
    PT_OK(pcomm_spool_take(sp, &buf, &len));
    assert_int_equal(len, 110);
    assert_int_equal(pt_pattern_check(buf, 10, 0, 4), 10);
    assert_int_equal(pt_pattern_check((char *)buf + 10, 100, 955, 4), 100);
    free(buf);
    pcomm_spool_free(sp);
}

static void test_settings_and_bad_arguments(void **state)
{
    (void)state;
    char *dir = pt_tempdir();
    char path[4096];
    pcomm_spool *sp = new_spool(0, NULL);
    snprintf(path, sizeof path, "%s/missing", dir);
    assert_int_equal(pcomm_spool_set_dir(sp, path), -ENOENT);
    snprintf(path, sizeof path, "%s/file", dir);
    pt_write_file(path, "x", 0600);
    assert_int_equal(pcomm_spool_set_dir(sp, path), -ENOTDIR);
    snprintf(path, sizeof path, "%s/link", dir);
    assert_int_equal(symlink(dir, path), 0);
    assert_int_equal(pcomm_spool_set_dir(sp, path), -ELOOP);
    PT_OK(pcomm_spool_set_dir(sp, dir));
    PT_OK(pcomm_spool_write(sp, "x", 1));
    assert_int_equal(pcomm_spool_set_dir(sp, dir), -EBUSY);
    assert_int_equal(pcomm_spool_set_cap(sp, 1, 1), -EBUSY);
    pcomm_spool_free(sp);
    sp = new_spool(0, NULL);
    assert_int_equal(pcomm_spool_set_cap(sp, UINT64_MAX, 1), -EINVAL);
    assert_int_equal(pcomm_spool_new(NULL, 0), -EINVAL);
    assert_int_equal(pcomm_spool_write(NULL, "x", 1), -EINVAL);
    assert_int_equal(pcomm_spool_write(sp, NULL, 1), -EINVAL);
    assert_int_equal(pcomm_spool_fill(sp, -1, 1), -EINVAL);
    assert_int_equal(pcomm_spool_pread(NULL, path, 1, 0), -EINVAL);
    assert_int_equal(pcomm_spool_read(NULL, path, 1), -EINVAL);
    assert_int_equal(pcomm_spool_rewind(NULL), -EINVAL);
    assert_int_equal(pcomm_spool_view(sp, NULL, NULL), -EINVAL);
    assert_int_equal(pcomm_spool_copy_to_fd(sp, -1), -EINVAL);
    assert_int_equal(pcomm_spool_save(sp, NULL, 0600, 0), -EINVAL);
    assert_int_equal(pcomm_spool_tail_lines(sp, 1, NULL, NULL), -EINVAL);
    assert_int_equal(pcomm_spool_take(sp, NULL, NULL), -EINVAL);
    assert_int_equal(pcomm_spool_size(NULL) + pcomm_spool_total(NULL) + pcomm_spool_dropped(NULL),
                     0);
    assert_int_equal(pcomm_spool_spilled(NULL), 0);
    assert_int_equal(pcomm_spool_error(NULL), 0);
    pcomm_spool_free(sp);
    pcomm_spool_free(NULL);
    pt_rmtree(dir);
    free(dir);
}

static void test_copy_to_closed_pipe_gives_epipe(void **state)
{
    (void)state;
    for (int spill = 0; spill < 2; spill++) {
        pcomm_spool *sp = new_spool(spill ? 0 : SIZE_MAX, NULL);
        write_pattern(sp, 0, 300000, 1, 65536);
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        close(p[0]);
        /* SIGPIPE is at its default disposition: without the guard this test dies. */
        assert_int_equal(pcomm_spool_copy_to_fd(sp, p[1]), -EPIPE);
        close(p[1]);
        sigset_t pending;
        sigpending(&pending);
        assert_false(sigismember(&pending, SIGPIPE));
        pcomm_spool_free(sp);
    }
}

/* ---- model-based random test ------------------------------------------------------------- */

static uint64_t rnd_state = 88172645463325252u;
static uint64_t rnd(uint64_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return n ? rnd_state % n : 0;
}

static void test_random_operations_against_model(void **state)
{
    (void)state;
    unsigned char buf[20000], out[20000];
    for (int run = 0; run < 300; run++) {
        size_t threshold = (size_t)rnd(3) == 0 ? 0 : (size_t)rnd(6000);
        bool capped = rnd(2);
        uint64_t head = rnd(3000), tail = rnd(3000), total = 0, rpos = 0;
        unsigned seed = (unsigned)run;
        pcomm_spool *sp = new_spool(threshold, NULL);
        if (capped)
            PT_OK(pcomm_spool_set_cap(sp, head, tail));
        else
            head = UINT64_MAX, tail = 0;
        for (int op = 0; op < 40; op++) {
            uint64_t kh = total < head ? total : head;
            uint64_t kt = total - kh < tail ? total - kh : tail;
            uint64_t size = kh + kt;
            switch (rnd(4)) {
            case 0: { /* write */
                size_t n = (size_t)rnd(sizeof buf);
                pt_pattern_fill(buf, n, total, seed);
                PT_OK(pcomm_spool_write(sp, buf, n));
                total += n;
                break;
            }
            case 1: { /* pread at a random offset */
                uint64_t off = rnd(size + 10);
                size_t n = (size_t)rnd(sizeof out);
                ssize_t got = pcomm_spool_pread(sp, out, n, off);
                size_t expect = off >= size ? 0 : (size - off < n ? (size_t)(size - off) : n);
                assert_int_equal(got, (ssize_t)expect);
                for (size_t i = 0; i < expect; i++) {
                    uint64_t o = off + i, stream = o < kh ? o : total - kt + (o - kh);
                    assert_int_equal(out[i], pt_pattern_byte(stream, seed));
                }
                break;
            }
            case 2: { /* sequential read */
                ssize_t got = pcomm_spool_read(sp, out, (size_t)rnd(sizeof out));
                assert_true(got >= 0);
                rpos += (uint64_t)got;
                assert_true(rpos <= size);
                break;
            }
            default: /* view */
                if (rnd(2)) {
                    const void *data;
                    size_t len;
                    PT_OK(pcomm_spool_view(sp, &data, &len));
                    assert_int_equal(len, size);
                }
                break;
            }
            kh = total < head ? total : head;
            kt = total - kh < tail ? total - kh : tail;
            assert_int_equal(pcomm_spool_size(sp), kh + kt);
            assert_int_equal(pcomm_spool_total(sp), total);
            assert_int_equal(pcomm_spool_spilled(sp), kh + kt > threshold); /* size only grows */
        }
        uint64_t kh = total < head ? total : head;
        uint64_t kt = total - kh < tail ? total - kh : tail;
        st_check_kept(sp, kh, total - kt, kt, seed);
        pcomm_spool_free(sp);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_spill_threshold_boundaries),
        PT_TEST(test_spill_file_is_private),
        PT_TEST(test_read_paths_after_spill),
        PT_TEST(test_reads_interleaved_with_writes),
        PT_TEST(test_fill_from_pipe),
        PT_TEST(test_fill_from_file_and_nonblocking),
        PT_TEST(test_cap_keeps_head_and_tail),
        PT_TEST(test_cap_drains_a_pipe),
        PT_TEST(test_tail_lines),
        PT_TEST(test_tail_lines_capped_uses_tail_only),
        PT_TEST(test_take),
        PT_TEST(test_settings_and_bad_arguments),
        PT_TEST(test_copy_to_closed_pipe_gives_epipe),
        PT_TEST(test_random_operations_against_model),
    };
    return PT_RUN(tests);
}
