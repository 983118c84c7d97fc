/* tests/test_faults.c - fault injection, SQLite style: for N = 1, 2, ... make the Nth call of
 * any instrumented libc function fail, run the operation, and check that the error is reported
 * and nothing leaked (descriptors, children, memory under ASan). The functions are interposed by
 * this executable (its definitions win over libc's for the library too), so the library carries
 * no test hooks. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/pidfd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failpoint.h"
#include "pattern.h"

int pipe2(int fds[2], int flags)
{
    if (fp_hit("pipe2")) {
        errno = EMFILE;
        return -1;
    }
    return REAL(pipe2)(fds, flags);
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = va_arg(ap, mode_t);
    va_end(ap);
    if (fp_hit("open")) {
        errno = ENFILE;
        return -1;
    }
    return REAL(open)(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = va_arg(ap, mode_t);
    va_end(ap);
    if (fp_hit("open64")) {
        errno = ENFILE;
        return -1;
    }
    return REAL(open64)(path, flags, mode);
}

static int fp_fcntl(const char *name, int fd, int cmd, long arg)
{
    if (cmd == F_DUPFD_CLOEXEC && fp_hit(name)) {
        errno = EMFILE;
        return -1;
    }
    int (*real)(int, int, ...) = (int (*)(int, int, ...))dlsym(RTLD_NEXT, name);
    return real(fd, cmd, arg);
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return fp_fcntl("fcntl", fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return fp_fcntl("fcntl64", fd, cmd, arg);
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (fp_hit("posix_spawn"))
        return EAGAIN; /* what the process limit gives */
    return REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
}

static int fp_openpt_errno; /* posix_openpt fails with this while set (pty exhaustion) */

int posix_openpt(int flags)
{
    if (fp_openpt_errno || fp_hit("posix_openpt")) {
        errno = fp_openpt_errno ? fp_openpt_errno : ENOSPC;
        return -1;
    }
    return REAL(posix_openpt)(flags);
}

int pidfd_open(pid_t pid, unsigned flags)
{
    if (fp_hit("pidfd_open")) {
        errno = EMFILE;
        return -1;
    }
    return REAL(pidfd_open)(pid, flags);
}

#if PT_FAIL_MALLOC
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t n)
{
    if (fp_hit("malloc")) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (fp_hit("calloc")) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (fp_hit("realloc")) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n) /* the library's I/O buffers */
{
    if (fp_hit("aligned_alloc")) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_memalign(align, n);
}
#endif

/* ---- the scenarios ----------------------------------------------------------------------- */

static pcomm_cmd *rich_cmd(void)
{
    pcomm_cmd *cmd = pt_helper_cmd("echo", "eprint", "E", NULL);
    for (int fd = 0; fd <= 2; fd++)
        PT_OK(pcomm_cmd_stdio_pipe(cmd, fd));
    PT_OK(pcomm_cmd_stdio_null(cmd, 4));
    PT_OK(pcomm_cmd_stdio_fd(cmd, 6, 0 + 1)); /* passes our stdout as fd 6 */
    PT_OK(pcomm_cmd_stdio_merge(cmd, 7, 2));
    PT_OK(pcomm_cmd_chdir(cmd, "/"));
    PT_OK(pcomm_cmd_setenv(cmd, "FAULTS", "1"));
    return cmd;
}

static void test_spawn_every_failure(void **state)
{
    (void)state;
    pcomm_cmd *cmd = rich_cmd();
    int fds = pt_count_fds(), failures = 0, tolerated = 0;
    for (int n = 1; n < 1000; n++) {
        pcomm_proc *proc = NULL;
        fp_arm(n, NULL);
        int r = pcomm_spawn(cmd, &proc);
        const char *failed = fp_failed;
        bool fired = fp_disarm();
        if (r == 0) {
            PT_OK(pcomm_proc_close_fd(proc, 0));
            PT_OK(pcomm_proc_wait(proc, 10000));
            pcomm_proc_free(proc);
            if (!fired)
                break;   /* every instrumented call has been failed once */
            tolerated++; /* e.g. pidfd_open: the waitid fallback takes over */
            continue;
        }
        if (!fired)
            fail_msg("spawn failed without an injected fault: %s", pcomm_strerror(r));
        failures++;
        assert_null(proc);
        if (r == -EINVAL)
            fail_msg("call %d (%s) failed but spawn reported -EINVAL", n, failed);
        assert_int_equal(pt_count_fds(), fds);
        assert_int_equal(pt_count_children(NULL), 0);
    }
    fprintf(stderr, "[ faults ] spawn: %d injected failures reported, %d tolerated\n", failures,
            tolerated);
    /* pipe2 x3, open x3, fcntl lifts, posix_spawn; plus the allocations when malloc fails too */
    assert_true(failures >= (PT_FAIL_MALLOC ? 12 : 6));
    assert_true(tolerated >= 1);
    pcomm_cmd_free(cmd);
}

static void test_cmd_setters_under_enomem(void **state)
{
    (void)state;
    if (!PT_FAIL_MALLOC)
        skip();
    for (int n = 1;; n++) {
        pcomm_cmd *cmd = NULL, *copy = NULL;
        fp_arm(n, NULL);
        int r = pcomm_cmd_new(&cmd);
        if (r == 0)
            r = pcomm_cmd_arg(cmd, "prog");
        if (r == 0)
            r = pcomm_cmd_setenv(cmd, "A", "b");
        if (r == 0)
            r = pcomm_cmd_unsetenv(cmd, "C");
        if (r == 0)
            r = pcomm_cmd_chdir(cmd, "/tmp");
        if (r == 0)
            r = pcomm_cmd_stdio_file(cmd, 3, "/dev/null", O_RDONLY, 0);
        if (r == 0)
            r = pcomm_cmd_stdio_pipe(cmd, 1);
        if (r == 0)
            r = pcomm_cmd_dup(cmd, &copy);
        bool fired = fp_disarm();
        if (fired)
            assert_int_equal(r, -ENOMEM);
        else
            assert_int_equal(r, 0);
        pcomm_cmd_free(copy);
        pcomm_cmd_free(cmd);
        if (!fired)
            break;
    }
}

/* No pty can be made (/dev/ptmx missing, kernel.pty.max reached): the spawn still succeeds,
 * with pipes, and says why. Separate ptys become separate pipes; a shared one, one pipe. */
static void test_pty_exhaustion(void **state)
{
    (void)state;
    for (int shared = 0; shared <= 1; shared++) {
        pcomm_cmd *cmd = pt_helper_cmd("isatty", "1", "print", "out", "eprint", "err", NULL);
        PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
        PT_OK(pcomm_cmd_stdio_pty(cmd, 2, shared ? 0 : 1));
        pcomm_job *job;
        PT_OK(pcomm_job_new(&job, cmd));
        PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
        PT_OK(pcomm_job_capture(job, PCOMM_STDERR, SIZE_MAX));
        fp_openpt_errno = ENOSPC;
        int r = pcomm_run(job);
        fp_openpt_errno = 0;
        PT_OK(r);
        for (int fd = 1; fd <= 2; fd++) {
            pcomm_pty_info info;
            PT_OK(pcomm_proc_pty(pcomm_job_proc(job), fd, &info));
            assert_int_equal(info.path, PCOMM_PTY_PIPE);
            assert_string_equal(info.step, "posix_openpt");
            assert_int_equal(info.error, -ENOSPC);
            assert_string_equal(info.name, "");
        }
        const void *data;
        size_t len;
        PT_OK(pcomm_spool_view(pcomm_job_output(job, PCOMM_STDOUT), &data, &len));
        const char *want = shared ? "0\nouterr" : "0\nout"; /* a pipe: isatty(1) is 0 */
        assert_int_equal(len, strlen(want));
        assert_memory_equal(data, want, len);
        PT_OK(pcomm_spool_view(pcomm_job_output(job, PCOMM_STDERR), &data, &len));
        assert_int_equal(len, shared ? 0 : 3);
        pcomm_job_free(job);
        pcomm_cmd_free(cmd);
    }
}

/* Every instrumented call failing once while spawning with ptys: the pty steps fall back, the
 * others fail the spawn cleanly, and nothing leaks either way. */
static void test_pty_spawn_every_failure(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("print", "x", NULL);
    PT_OK(pcomm_cmd_stdio_pty(cmd, 0, 0));
    PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
    PT_OK(pcomm_cmd_stdio_pty(cmd, 2, 1));
    int fds = pt_count_fds(), failures = 0, fallbacks = 0;
    for (int n = 1; n < 1000; n++) {
        pcomm_proc *proc = NULL;
        fp_arm(n, NULL);
        int r = pcomm_spawn(cmd, &proc);
        bool fired = fp_disarm();
        if (r == 0) {
            pcomm_pty_info info;
            PT_OK(pcomm_proc_pty(proc, 1, &info));
            fallbacks += info.error != 0;
            PT_OK(pcomm_proc_wait(proc, 10000));
            pcomm_proc_free(proc);
            if (!fired)
                break;
            continue;
        }
        assert_true(fired);
        assert_null(proc);
        failures++;
        assert_int_equal(pt_count_fds(), fds);
        assert_int_equal(pt_count_children(NULL), 0);
    }
    fprintf(stderr, "[ faults ] pty spawn: %d failures reported, %d pty fallbacks\n", failures,
            fallbacks);
    assert_true(fallbacks >= 1); /* at least posix_openpt */
    pcomm_cmd_free(cmd);
}

/* Encode a small text with codec (threads > 1: the library's workers), then decode it with an
 * auto decoder. Returns 0 or the first error. */
static int filter_cycle(int codec, int threads, unsigned char *z, size_t *zlen)
{
    static const char text[] = "a line of text, a line of text, another line of text\n";
    pcomm_filter *f = NULL;
    int r = pcomm_filter_new_encoder(&f, codec, 1);
    if (r == 0 && threads > 1)
        r = pcomm_filter_set_threads(f, threads);
    size_t il = sizeof text, ol = *zlen;
    if (r == 0)
        r = pcomm_filter_process(f, text, &il, z, &ol, PCOMM_FILTER_FINISH);
    pcomm_filter_free(f);
    if (r < 0)
        return r;
    assert_int_equal(r, PCOMM_FILTER_END);
    *zlen = ol;
    unsigned char out[256];
    r = pcomm_filter_new_decoder(&f, PCOMM_CODEC_AUTO);
    il = *zlen;
    ol = sizeof out;
    if (r == 0)
        r = pcomm_filter_process(f, z, &il, out, &ol, PCOMM_FILTER_FINISH);
    pcomm_filter_free(f);
    if (r < 0)
        return r;
    assert_int_equal(r, PCOMM_FILTER_END);
    assert_int_equal(ol, sizeof text);
    assert_memory_equal(out, text, sizeof text);
    return 0;
}

/* ---- a whole job, every instrumented call failing once ------------------------------------- */

enum { RUN_INPUT = 600 * 1024 }; /* several chunks each way */

static int count_line(void *userdata, const pcomm_line *line)
{
    (void)line;
    ++*(int *)userdata;
    return 0;
}

/* The shapes of job the run faults go through. "echo" copies its input to stdout and writes
 * "E" to stderr. */
enum run_shape {
    RUN_ONE = 1, /* echo */
    RUN_TWO,     /* echo | echo, stderr merged into one captured stream */
    RUN_FILTERS, /* gzip | echo | gunzip: filter stages around a command; stderr compressed */
    RUN_SHAPES = RUN_FILTERS
};

static const char *const run_shape_names[] = {"", "one command", "two commands", "filters"};

static int add_filter(pcomm_pipeline *pl, bool encoder)
{
    pcomm_filter *f = NULL;
    int r = encoder ? pcomm_filter_new_encoder(&f, PCOMM_CODEC_GZIP, 1)
                    : pcomm_filter_new_decoder(&f, PCOMM_CODEC_GZIP);
    if (r == 0 && (r = pcomm_pipeline_add_filter(pl, f)) < 0)
        pcomm_filter_free(f);
    return r;
}

static int add_echo(pcomm_pipeline *pl)
{
    const char *argv[] = {pt_helper(), "echo", "eprint", "E\n", NULL};
    pcomm_cmd *cmd = NULL;
    int r = pcomm_cmd_new_argv(&cmd, argv);
    if (r == 0)
        r = pcomm_pipeline_add_cmd(pl, cmd);
    pcomm_cmd_free(cmd);
    return r;
}

static pcomm_job *rich_job(int shape, const void *input, int *lines)
{
    pcomm_pipeline *pl = NULL;
    pcomm_job *job = NULL;
    int r = pcomm_pipeline_new(&pl);
    if (r == 0 && shape == RUN_FILTERS)
        r = add_filter(pl, true);
    if (r == 0)
        r = add_echo(pl);
    if (r == 0 && shape == RUN_TWO)
        r = add_echo(pl);
    if (r == 0 && shape == RUN_FILTERS)
        r = add_filter(pl, false);
    if (r == 0 && shape == RUN_TWO)
        r = pcomm_pipeline_set_stderr(pl, PCOMM_STDERR_MERGED);
    if (r == 0)
        r = pcomm_job_new_pipeline(&job, pl); /* takes pl over on success */
    if (r < 0)
        pcomm_pipeline_free(pl);
    if (r == 0)
        r = pcomm_job_input_bytes(job, input, RUN_INPUT);
    if (r == 0)
        r = pcomm_job_capture(job, PCOMM_STDOUT, 64 * 1024); /* spills to a temporary file */
    if (r == 0)
        r = pcomm_job_on_line(job, PCOMM_STDERR, count_line, lines, 0);
    if (r == 0)
        r = pcomm_job_set_timeout(job, 20000, SIGKILL, 0);
    if (r == 0 && shape == RUN_FILTERS) {
        pcomm_filter *f = NULL;
        r = pcomm_filter_new_encoder(&f, PCOMM_CODEC_ZSTD, 1);
        if (r == 0 && (r = pcomm_job_filter_output(job, PCOMM_STDERR, f)) < 0)
            pcomm_filter_free(f);
        if (r == 0)
            r = pcomm_job_capture(job, PCOMM_STDERR, 4096);
    }
    if (r < 0) {
        assert_int_equal(r, -ENOMEM);
        pcomm_job_free(job);
        return NULL;
    }
    return job;
}

/* What a job that reported success delivered must be exact: a fault may be tolerated (a pipe that
 * cannot be widened, pidfd_open), never turned into silently lost bytes. */
static void check_job_output(pcomm_job *job, int shape, int lines)
{
    assert_int_equal(pcomm_job_exit_code(job), 0);
    assert_int_equal(lines, shape == RUN_TWO ? 2 : 1);
    assert_int_equal(pcomm_job_bytes(job, PCOMM_STDOUT), RUN_INPUT);
    char *got = malloc(RUN_INPUT);
    assert_non_null(got);
    assert_int_equal(pcomm_spool_pread(pcomm_job_output(job, PCOMM_STDOUT), got, RUN_INPUT, 0),
                     RUN_INPUT);
    assert_int_equal(pt_pattern_check(got, RUN_INPUT, 0, 7), RUN_INPUT);
    free(got);
    if (shape != RUN_FILTERS)
        return;
    const void *z; /* the compressed stderr: exactly "E\n" again */
    size_t zlen, elen = 16;
    char e[16];
    PT_OK(pcomm_spool_view(pcomm_job_output(job, PCOMM_STDERR), &z, &zlen));
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_ZSTD));
    assert_int_equal(pcomm_filter_process(f, z, &zlen, e, &elen, PCOMM_FILTER_FINISH),
                     PCOMM_FILTER_END);
    pcomm_filter_free(f);
    assert_int_equal(elen, 2);
    assert_memory_equal(e, "E\n", 2);
}

/* SQLite's discipline for pcomm_run: for n = 1, 2, ... fail the nth pipe2, open, posix_spawn,
 * pidfd_open or allocation of the whole job (set-up, spawn, pumping, filtering, spilling), until a
 * run sees
 * no fault. Each failed run returns a negative errno, kills and reaps what it started, and leaks
 * no descriptor; each tolerated one delivers every byte. */
static void test_run_every_failure(void **state)
{
    (void)state;
    char *input = malloc(RUN_INPUT);
    assert_non_null(input);
    pt_pattern_fill(input, RUN_INPUT, 0, 7);
    for (int shape = RUN_ONE; shape <= RUN_SHAPES; shape++) {
        int fds = pt_count_fds(), failures = 0, tolerated = 0, n;
        for (n = 1; n < 5000; n++) {
            int lines = 0;
            fp_arm(n, NULL);
            pcomm_job *job = rich_job(shape, input, &lines);
            int r = job ? pcomm_run(job) : -ENOMEM;
            const char *failed = fp_failed;
            bool fired = fp_disarm();
            if (r == 0)
                check_job_output(job, shape, lines);
            pcomm_job_free(job);
            if (pt_count_fds() != fds || pt_count_children(NULL) != 0)
                fail_msg("call %d (%s) failed, the run returned %s: %d descriptors (was %d), %d "
                         "children",
                         n, failed, pcomm_errname(r), pt_count_fds(), fds, pt_count_children(NULL));
            if (!fired) {
                PT_OK(r);
                break;
            }
            if (r == 0) {
                tolerated++;
                continue;
            }
            if (r == -EINVAL)
                fail_msg("call %d (%s) failed but the run reported -EINVAL", n, failed);
            failures++;
        }
        assert_true(n < 5000);
        fprintf(stderr, "[ faults ] run, %s: %d failures reported, %d tolerated\n",
                run_shape_names[shape], failures, tolerated);
        assert_true(failures >= (PT_FAIL_MALLOC ? 20 : 4));
    }
    free(input);
}

static void test_filters_under_enomem(void **state)
{
    (void)state;
    if (!PT_FAIL_MALLOC)
        skip();
    static const int cases[][2] = {
        {PCOMM_CODEC_GZIP, 1}, {PCOMM_CODEC_BZIP2, 1}, {PCOMM_CODEC_XZ, 1},
        {PCOMM_CODEC_XZ, 2},   {PCOMM_CODEC_ZSTD, 1},  {PCOMM_CODEC_ZSTD, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!pcomm_filter_supported(cases[i][0]))
            continue;
        int failures = 0;
        for (int n = 1;; n++) {
            unsigned char z[4096];
            size_t zlen = sizeof z;
            fp_arm(n, NULL);
            int r = filter_cycle(cases[i][0], cases[i][1], z, &zlen);
            const char *failed = fp_failed;
            bool fired = fp_disarm();
            if (!fired) {
                PT_OK(r);
                break;
            }
            /* A library may cope with a failed allocation (zstd's worker pool shrinks); when
             * it does not, the error is -ENOMEM and nothing else. */
            if (r < 0 && r != -ENOMEM)
                fail_msg("%s threads %d: allocation %d (%s) failed, got %s",
                         pcomm_codec_name(cases[i][0]), cases[i][1], n, failed, pcomm_errname(r));
            failures += r == -ENOMEM;
        }
        fprintf(stderr, "[ faults ] %s, %d thread(s): %d allocation failures reported\n",
                pcomm_codec_name(cases[i][0]), cases[i][1], failures);
        assert_true(failures >= 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_spawn_every_failure), PT_TEST(test_cmd_setters_under_enomem),
        PT_TEST(test_pty_exhaustion),      PT_TEST(test_pty_spawn_every_failure),
        PT_TEST(test_run_every_failure),   PT_TEST(test_filters_under_enomem),
    };
    return PT_RUN(tests);
}
