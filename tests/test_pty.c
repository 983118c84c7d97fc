/* tests/test_pty.c - pty stdio: controlling terminal, separate and merged ptys, byte-exact
 * output, window size, exit statuses, draining without loss, linger, stdin over a pty, line
 * buffering of C stdio and Python, --linebuf. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------------- */

static const char *output_text(pcomm_job *job, int stream, size_t *len)
{
    const void *data;
    PT_OK(pcomm_spool_view(pcomm_job_output(job, stream), &data, len));
    return data;
}

static void expect_status(pcomm_job *job, int how, int code)
{
    pcomm_status st;
    PT_OK(pcomm_job_status(job, &st));
    assert_int_equal(st.how, how);
    assert_int_equal(st.code, code);
}

/* A job around cmd capturing stdout and stderr; cmd is freed. */
static pcomm_job *capture_job(pcomm_cmd *cmd)
{
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    PT_OK(pcomm_job_capture(job, PCOMM_STDERR, SIZE_MAX));
    pcomm_cmd_free(cmd);
    return job;
}

/* Whether this test process has a terminal of its own (then automatic sizes come from it). */
static bool have_own_terminal(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (isatty(fd))
            return true;
    int fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

/* Lines with their arrival times, from a line callback. */
struct arrivals {
    int count;
    int stream[64];
    double ms[64];
    char text[64][32];
};

static int record_line(void *userdata, const pcomm_line *line)
{
    struct arrivals *a = userdata;
    if (a->count < 64) {
        a->stream[a->count] = line->stream;
        a->ms[a->count] = (double)line->time_ns / 1e6;
        size_t n = line->len < 31 ? line->len : 31;
        memcpy(a->text[a->count], line->data, n);
        a->text[a->count][n] = '\0';
        a->count++;
    }
    return 0;
}

static pcomm_job *timed_job(pcomm_cmd *cmd, struct arrivals *a)
{
    pcomm_job *job;
    memset(a, 0, sizeof *a);
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_on_line(job, PCOMM_STDOUT, record_line, a, 0));
    PT_OK(pcomm_job_on_line(job, PCOMM_STDERR, record_line, a, 0));
    pcomm_cmd_free(cmd);
    return job;
}

/* ms from a line's arrival to the child's end. */
static double before_end(pcomm_job *job, const struct arrivals *a, int i)
{
    pcomm_status st;
    PT_OK(pcomm_job_status(job, &st));
    (void)st;
    return a->ms[a->count - 1] - a->ms[i];
}

/* ---- the controlling terminal and two ptys ------------------------------------------------- */

static void test_ctty_and_two_ptys(void **state)
{
    (void)state;
    pcomm_cmd *cmd =
        pt_helper_cmd("ctty", "ids", "isatty", "1", "isatty", "2", "ttyname", "1", "ttyname", "2",
                      "winsize", "1", "winsize", "2", "print", "a\nb\r\n", "eprint", "err\n", NULL);
    PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
    PT_OK(pcomm_cmd_stdio_pty(cmd, 2, 1));
    PT_OK(pcomm_cmd_set_winsize(cmd, 100, 30));
    pcomm_job *job = capture_job(cmd);
    PT_OK(pcomm_run(job));
    expect_status(job, PCOMM_EXITED, 0);
    size_t len;
    const char *out = output_text(job, PCOMM_STDOUT, &len);
    char *text = strndup(out, len);
    int pid, pgid, sid, ppid, ctty, tty1, tty2;
    char name1[64], name2[64], size1[32], size2[32], tail[32] = "";
    int n = sscanf(text, "%d %d %d %d %d %d %d %63s %63s %31s %31s %31c", &ctty, &pid, &pgid, &sid,
                   &ppid, &tty1, &tty2, name1, name2, size1, size2, tail);
    assert_int_equal(n, 12);
    assert_int_equal(ctty, 1);   /* /dev/tty opens */
    assert_int_equal(sid, pid);  /* the child leads its own session ... */
    assert_int_equal(pgid, pid); /* ... and its own process group */
    assert_int_equal(tty1, 1);
    assert_int_equal(tty2, 1);
    assert_true(strncmp(name1, "/dev/pts/", 9) == 0);
    assert_true(strncmp(name2, "/dev/pts/", 9) == 0);
    assert_string_not_equal(name1, name2); /* two different ptys */
    assert_string_equal(size1, "100x30");
    assert_string_equal(size2, "100x30");
    /* byte-exact: no "\r" added to "\n", the child's own "\r" kept, no echo */
    assert_true(len >= 5 && memcmp(out + len - 5, "a\nb\r\n", 5) == 0);
    assert_null(strstr(text, "\r\r"));
    const char *err = output_text(job, PCOMM_STDERR, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(err, "err\n", 4);
    pcomm_pty_info info;
    PT_OK(pcomm_proc_pty(pcomm_job_proc(job), 1, &info));
    assert_int_equal(info.path, PCOMM_PTY_CTTY);
    assert_int_equal(info.fds, 2u);
    assert_string_equal(info.name, name1);
    assert_int_equal(info.error, 0);
    PT_OK(pcomm_proc_pty(pcomm_job_proc(job), 2, &info));
    assert_int_equal(info.path, PCOMM_PTY_NOCTTY); /* one controlling terminal per session */
    assert_int_equal(info.id, 1);
    assert_int_equal(info.error, 0);
    assert_string_equal(info.name, name2);
    assert_int_equal(info.cols, 100);
    PT_OK(pcomm_proc_pty(pcomm_job_proc(job), 0, &info));
    assert_int_equal(info.path, PCOMM_PTY_NONE);
    free(text);
    pcomm_job_free(job);
}

static void test_merged_pty(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("print", "A", "eprint", "B", "print", "C\n", "eprint", "D",
                                   "isatty", "2", NULL);
    PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 7));
    PT_OK(pcomm_cmd_stdio_pty(cmd, 2, 7));
    pcomm_job *job = capture_job(cmd);
    PT_OK(pcomm_run(job));
    size_t len;
    const char *out = output_text(job, PCOMM_STDOUT, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(out, "ABC\nD1\n", 7); /* exact interleaving, one stream */
    output_text(job, PCOMM_STDERR, &len);
    assert_int_equal(len, 0);
    pcomm_pty_info info;
    PT_OK(pcomm_proc_pty(pcomm_job_proc(job), 2, &info));
    assert_int_equal(info.fds, 6u);
    assert_int_equal(info.path, PCOMM_PTY_CTTY);
    pcomm_job_free(job);
}

/* The raw proc interface: the shared master appears under the lowest fd, and reads end with
 * EIO, never 0. */
static void test_proc_master_and_eio(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("print", "out", "eprint", "err", NULL);
    PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
    PT_OK(pcomm_cmd_stdio_pty(cmd, 2, 0));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    assert_int_equal(pcomm_proc_fd(proc, 2), -EBADF);
    int fd = pcomm_proc_fd(proc, 1);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    char buf[64];
    size_t len = 0;
    ssize_t n;
    while ((n = pt_read(fd, buf + len, sizeof buf - len)) > 0)
        len += (size_t)n;
    assert_int_equal(n, -1);
    assert_int_equal(errno, EIO);
    assert_int_equal(len, 6);
    assert_memory_equal(buf, "outerr", 6);
    PT_OK(pcomm_proc_wait(proc, -1));
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
}

static void test_winsize(void **state)
{
    (void)state;
    assert_int_equal(pcomm_cmd_set_winsize(NULL, 1, 1), -EINVAL);
    pcomm_cmd *cmd = pt_helper_cmd("winsize", "1", NULL);
    assert_int_equal(pcomm_cmd_set_winsize(cmd, 0, 5), -EINVAL);
    assert_int_equal(pcomm_cmd_set_winsize(cmd, 70000, 5), -EINVAL);
    assert_int_equal(pcomm_cmd_stdio_pty(cmd, 3, 0), -EINVAL);
    assert_int_equal(pcomm_cmd_stdio_pty(cmd, 1, -1), -EINVAL);
    PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
    bool own = have_own_terminal();
    struct {
        const char *cols, *lines, *want;
    } cases[] = {{"132", "43", "132x43"},
                 {NULL, NULL, "80x24"},
                 {"0", "junk", "80x24"},
                 {"90", NULL, "90x24"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pcomm_cmd *c;
        PT_OK(pcomm_cmd_dup(cmd, &c));
        PT_OK(cases[i].cols ? pcomm_cmd_setenv(c, "COLUMNS", cases[i].cols)
                            : pcomm_cmd_unsetenv(c, "COLUMNS"));
        PT_OK(cases[i].lines ? pcomm_cmd_setenv(c, "LINES", cases[i].lines)
                             : pcomm_cmd_unsetenv(c, "LINES"));
        pcomm_job *job = capture_job(c);
        PT_OK(pcomm_run(job));
        size_t len;
        const char *out = output_text(job, PCOMM_STDOUT, &len);
        assert_true(len > 1);
        assert_false(len >= 4 && !memcmp(out, "0x0", 3)); /* never 0x0 */
        if (!own) /* with a terminal of our own, its size wins */
            assert_memory_equal(out, cases[i].want, strlen(cases[i].want));
        pcomm_job_free(job);
    }
    pcomm_cmd_free(cmd);
}

/* ---- statuses ------------------------------------------------------------------------------ */

static void test_exit_status_kept(void **state)
{
    (void)state;
    const char *sh_segv[] = {"/bin/sh", "-c", "echo x; kill -SEGV $$", NULL};
    const char *sh_exit[] = {"/bin/sh", "-c", "exit 7", NULL};
    const char *const *argvs[] = {sh_segv, sh_exit};
    int hows[] = {PCOMM_SIGNALED, PCOMM_EXITED}, codes[] = {SIGSEGV, 7};
    for (int i = 0; i < 2; i++) {
        pcomm_cmd *cmd;
        PT_OK(pcomm_cmd_new_argv(&cmd, argvs[i]));
        PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
        PT_OK(pcomm_cmd_stdio_pty(cmd, 2, 1));
        pcomm_job *job = capture_job(cmd);
        PT_OK(pcomm_run(job));
        expect_status(job, hows[i], codes[i]);
        pcomm_status st;
        PT_OK(pcomm_job_status(job, &st));
        assert_int_equal(pcomm_status_shell_code(&st), i == 0 ? 139 : 7);
        pcomm_job_free(job);
    }
}

/* ---- draining ------------------------------------------------------------------------------ */

/* A child writes N bytes with write(2) and exits at once; every byte must arrive. 1,000 runs of
 * each size, 8 at a time on one loop. Stopping at the first EPOLLHUP loses data here within a
 * few runs (pty.md §3.1: 184 of 200 1-MiB runs). */
static void test_no_loss(void **state)
{
    (void)state;
    static const long sizes[] = {1, 100, 4000, 65536, 1048576};
    enum { RUNS = 1000, PARALLEL = 8 };
    pcomm_loop *loop;
    PT_OK(pcomm_loop_new(&loop));
    double t0 = pt_ms();
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        char size[32], seed[32];
        snprintf(size, sizeof size, "%ld", sizes[s]);
        snprintf(seed, sizeof seed, "%zu", s + 1);
        pcomm_cmd *cmd = pt_helper_cmd("write", "1", size, seed, NULL);
        PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
        int short_runs = 0;
        for (int done = 0; done < RUNS; done += PARALLEL) {
            pcomm_job *jobs[PARALLEL];
            for (int j = 0; j < PARALLEL; j++) {
                PT_OK(pcomm_job_new(&jobs[j], cmd));
                PT_OK(pcomm_job_capture(jobs[j], PCOMM_STDOUT, SIZE_MAX));
                PT_OK(pcomm_job_start(jobs[j], loop));
            }
            PT_OK(pcomm_loop_run(loop, 60000));
            for (int j = 0; j < PARALLEL; j++) {
                size_t len;
                const char *out = output_text(jobs[j], PCOMM_STDOUT, &len);
                size_t good = pt_pattern_check(out, len, 0, (unsigned)(s + 1));
                if (len != (size_t)sizes[s] || good != len) {
                    pcomm_status st;
                    PT_OK(pcomm_job_status(jobs[j], &st));
                    fprintf(stderr,
                            "[ pty ] run %d: %zu of %ld bytes, first wrong at %zu, "
                            "status %d/%d, flags %#x, error %d\n",
                            done + j, len, sizes[s], good, st.how, st.code,
                            pcomm_job_flags(jobs[j]), pcomm_job_error(jobs[j]));
                    short_runs++;
                }
                assert_int_equal(pcomm_job_flags(jobs[j]) & PCOMM_JOB_TRUNCATED, 0);
                pcomm_job_free(jobs[j]);
            }
        }
        fprintf(stderr, "[ pty ] %ld bytes: %.1f s\n", sizes[s], (pt_ms() - t0) / 1e3);
        if (short_runs)
            fail_msg("%d of %d runs of %ld bytes lost or changed data", short_runs, RUNS, sizes[s]);
        pcomm_cmd_free(cmd);
    }
    fprintf(stderr, "[ pty ] no-loss: 5 x %d runs in %.1f s\n", RUNS, (pt_ms() - t0) / 1e3);
    pcomm_loop_free(loop);
}

/* The pty holds only 12-20 KiB of unread output: a parent that waits before it reads must not
 * deadlock with a child writing 16 KiB, as long as the loop reads before waiting for the exit. */
static void test_busy_parent(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("chunks", "1", "16384", "4", "16384", "exit", "3", NULL);
    PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
    pcomm_job *job = capture_job(cmd);
    pcomm_loop *loop;
    PT_OK(pcomm_loop_new(&loop));
    PT_OK(pcomm_job_start(job, loop));
    struct timespec busy = {0, 300 * 1000000};
    while (nanosleep(&busy, &busy) < 0 && errno == EINTR)
        ;
    PT_OK(pcomm_loop_run(loop, 20000));
    expect_status(job, PCOMM_EXITED, 3);
    size_t len;
    const char *out = output_text(job, PCOMM_STDOUT, &len);
    assert_int_equal(len, 16384);
    assert_int_equal(pt_pattern_check(out, len, 0, 4), len);
    pcomm_job_free(job);
    pcomm_loop_free(loop);
}

/* A grandchild that ignores SIGHUP keeps the slave open: the job returns within the linger bound
 * and says the output may be truncated. One that does not ignore it dies with the session
 * leader (the kernel hangs up the foreground group), so the pty ends at once. */
static void test_grandchild_linger(void **state)
{
    (void)state;
    for (int ignore = 1; ignore >= 0; ignore--) {
        pcomm_cmd *cmd = ignore ? pt_helper_cmd("ignore", "1", "grandchild", "20000", NULL)
                                : pt_helper_cmd("grandchild", "20000", NULL);
        PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
        pcomm_job *job = capture_job(cmd);
        PT_OK(pcomm_job_set_linger(job, 300));
        double t0 = pt_ms();
        PT_OK(pcomm_run(job));
        double ms = pt_ms() - t0;
        expect_status(job, PCOMM_EXITED, 0);
        if (ignore) {
            assert_true(pcomm_job_flags(job) & PCOMM_JOB_TRUNCATED);
            assert_true(ms >= 250 && ms < 5000);
        } else {
            assert_false(pcomm_job_flags(job) & PCOMM_JOB_TRUNCATED);
            assert_true(ms < 5000);
        }
        pcomm_job_free(job); /* the harness checks that the grandchild is gone */
    }
}

/* ---- stdin over a pty ---------------------------------------------------------------------- */

static pcomm_job *stdin_job(const char *input, size_t len, bool share_stdout)
{
    pcomm_cmd *cmd = pt_helper_cmd(share_stdout ? "echo" : "count", NULL);
    PT_OK(pcomm_cmd_stdio_pty(cmd, 0, 0));
    if (share_stdout)
        PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
    pcomm_job *job = capture_job(cmd);
    PT_OK(pcomm_job_input_bytes(job, input, len));
    PT_OK(pcomm_job_set_timeout(job, 20000, SIGKILL, 0));
    return job;
}

static void test_stdin_eof(void **state)
{
    (void)state;
    const char *inputs[] = {"hello", "hello\n", "", "a\nbc"};
    const char *counts[] = {"5\n", "6\n", "0\n", "4\n"};
    for (int i = 0; i < 4; i++) {
        pcomm_job *job = stdin_job(inputs[i], strlen(inputs[i]), false);
        PT_OK(pcomm_run(job));
        assert_false(pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT); /* the child saw EOF */
        expect_status(job, PCOMM_EXITED, 0);
        size_t len;
        const char *out = output_text(job, PCOMM_STDOUT, &len);
        assert_int_equal(len, strlen(counts[i]));
        assert_memory_equal(out, counts[i], len);
        assert_int_equal(pcomm_job_bytes(job, PCOMM_STDIN), strlen(inputs[i]));
        pcomm_job_free(job);
        /* the same through a pipe as the source (read when ready, EOF from the pipe) */
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(pt_write(p[1], inputs[i], strlen(inputs[i])), (ssize_t)strlen(inputs[i]));
        close(p[1]);
        pcomm_cmd *cmd = pt_helper_cmd("count", NULL);
        PT_OK(pcomm_cmd_stdio_pty(cmd, 0, 0));
        job = capture_job(cmd);
        PT_OK(pcomm_job_input_fd(job, p[0]));
        PT_OK(pcomm_job_set_timeout(job, 20000, SIGKILL, 0));
        PT_OK(pcomm_run(job));
        assert_false(pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT);
        out = output_text(job, PCOMM_STDOUT, &len);
        assert_int_equal(len, strlen(counts[i]));
        assert_memory_equal(out, counts[i], len);
        pcomm_job_free(job);
        close(p[0]);
    }
}

static void test_stdin_long_line(void **state)
{
    (void)state;
    char *line = malloc(5001);
    memset(line, 'x', 5000);
    line[5000] = '\n';
    pcomm_job *job = stdin_job(line, 5001, false);
    int fds = pt_count_fds();
    assert_int_equal(pcomm_run(job), PCOMM_ELINE); /* refused before anything runs */
    assert_null(pcomm_job_proc(job));
    assert_int_equal(pt_count_fds(), fds);
    pcomm_job_free(job);
    /* 4095 bytes and a newline is the most a line may hold: it arrives whole */
    line[4095] = '\n';
    job = stdin_job(line, 4096, true);
    PT_OK(pcomm_run(job));
    size_t len;
    const char *out = output_text(job, PCOMM_STDOUT, &len);
    assert_int_equal(len, 4096);
    assert_memory_equal(out, line, 4096);
    pcomm_job_free(job);
    /* streamed input is checked as it goes: the job ends with PCOMM_ELINE, the child killed */
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    memset(line, 'y', 5000);
    assert_int_equal(pt_write(p[1], "ok\n", 3), 3);
    assert_int_equal(pt_write(p[1], line, 5000), 5000);
    close(p[1]);
    pcomm_cmd *cmd = pt_helper_cmd("count", NULL);
    PT_OK(pcomm_cmd_stdio_pty(cmd, 0, 0));
    job = capture_job(cmd);
    PT_OK(pcomm_job_input_fd(job, p[0]));
    assert_int_equal(pcomm_run(job), PCOMM_ELINE);
    assert_int_equal(pcomm_job_error(job), PCOMM_ELINE);
    expect_status(job, PCOMM_SIGNALED, SIGKILL);
    pcomm_job_free(job);
    close(p[0]);
    free(line);
}

/* Bytes the line discipline would act on arrive as data: ^C does not kill, ^S does not freeze,
 * ^D, DEL, ^U, ^V, ^W, ^R, CR and NUL are not edited away. Also over one pty for stdin and
 * stdout (no echo, no "\r\n"). */
static void test_stdin_control_bytes(void **state)
{
    (void)state;
    static const char input[] = "a\x03"
                                "b\x13"
                                "c\x11\x04"
                                "d\x7f"
                                "e\x15"
                                "f\x16"
                                "g\x17\x12\x0f\r\x00"
                                "h\n\x04\x1a\x1c"
                                "end";
    size_t len = sizeof input - 1;
    for (int share = 0; share <= 1; share++) {
        pcomm_cmd *cmd = pt_helper_cmd("echo", NULL);
        PT_OK(pcomm_cmd_stdio_pty(cmd, 0, 0));
        if (share)
            PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
        pcomm_job *job = capture_job(cmd);
        PT_OK(pcomm_job_input_bytes(job, input, len));
        PT_OK(pcomm_job_set_timeout(job, 20000, SIGKILL, 0));
        PT_OK(pcomm_run(job));
        assert_false(pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT);
        expect_status(job, PCOMM_EXITED, 0);
        size_t out_len;
        const char *out = output_text(job, PCOMM_STDOUT, &out_len);
        assert_int_equal(out_len, len);
        assert_memory_equal(out, input, len);
        pcomm_job_free(job);
    }
}

/* ---- line buffering ------------------------------------------------------------------------ */

/* C stdio on two ptys: each stream is line-buffered (a line arrives as soon as it is written),
 * and the streams stay apart. With pipes the same child's stdout arrives only at its exit. */
static void test_separation_stdio(void **state)
{
    (void)state;
    for (int pty = 1; pty >= 0; pty--) {
        pcomm_cmd *cmd = pt_helper_cmd("both", "3", "250", NULL);
        if (pty) {
            PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
            PT_OK(pcomm_cmd_stdio_pty(cmd, 2, 1));
        }
        struct arrivals a;
        pcomm_job *job = timed_job(cmd, &a);
        PT_OK(pcomm_run(job));
        assert_int_equal(a.count, 6);
        int first_out = -1;
        for (int i = 0; i < a.count; i++) {
            assert_int_equal(a.text[i][0], a.stream[i] == PCOMM_STDOUT ? 'o' : 'e');
            if (first_out < 0 && a.stream[i] == PCOMM_STDOUT)
                first_out = i;
        }
        if (pty)
            assert_true(before_end(job, &a, first_out) >= 300); /* live, not at the exit */
        else
            assert_true(before_end(job, &a, first_out) < 300); /* block-buffered */
        pcomm_job_free(job);
    }
}

static void test_separation_python(void **state)
{
    (void)state;
    if (access("/usr/bin/python3", X_OK) != 0)
        skip();
    const char *argv[] = {"/usr/bin/python3", "-c",
                          "import sys, time\n"
                          "print('out1'); print('err1', file=sys.stderr)\n"
                          "time.sleep(0.5)\n"
                          "print('out2'); print('err2', file=sys.stderr)\n"
                          "print(sys.stdout.isatty(), sys.stderr.isatty())\n",
                          NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    PT_OK(pcomm_cmd_unsetenv(cmd, "PYTHONUNBUFFERED")); /* set in this environment */
    PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
    PT_OK(pcomm_cmd_stdio_pty(cmd, 2, 1));
    struct arrivals a;
    pcomm_job *job = timed_job(cmd, &a);
    PT_OK(pcomm_run(job));
    expect_status(job, PCOMM_EXITED, 0);
    assert_int_equal(a.count, 5);
    int out1 = -1;
    for (int i = 0; i < a.count; i++) {
        if (!strcmp(a.text[i], "out1\n"))
            out1 = i;
        if (a.stream[i] == PCOMM_STDERR)
            assert_true(!strncmp(a.text[i], "err", 3));
        else
            assert_true(!strncmp(a.text[i], "out", 3) || !strcmp(a.text[i], "True True\n"));
    }
    assert_true(out1 >= 0);
    assert_true(before_end(job, &a, out1) >= 300);
    pcomm_job_free(job);
}

static void test_linebuf(void **state)
{
    (void)state;
    if (!pcomm_linebuf_library()) {
        pcomm_cmd *cmd = pt_helper_cmd(NULL);
        assert_int_equal(pcomm_cmd_linebuf(cmd), PCOMM_EUNSUPPORTED);
        pcomm_cmd_free(cmd);
        skip();
    }
    for (int linebuf = 1; linebuf >= 0; linebuf--) {
        pcomm_cmd *cmd = pt_helper_cmd("lines", "3", "250", "env", NULL);
        PT_OK(pcomm_cmd_setenv(cmd, "LD_PRELOAD", "")); /* appended to, not replaced */
        if (linebuf)
            PT_OK(pcomm_cmd_linebuf(cmd));
        struct arrivals a;
        pcomm_job *job = timed_job(cmd, &a);
        PT_OK(pcomm_job_capture(job, PCOMM_STDERR, SIZE_MAX));
        PT_OK(pcomm_run(job));
        expect_status(job, PCOMM_EXITED, 0);
        assert_true(a.count >= 3);
        assert_string_equal(a.text[0], "line 0\n");
        if (linebuf)
            assert_true(a.ms[2] - a.ms[0] >= 300); /* each line when written, still a pipe */
        else
            assert_true(a.ms[2] - a.ms[0] < 300);
        pcomm_job_free(job);
    }
}

/* ---- signals and sessions ------------------------------------------------------------------ */

static void test_winch(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("winch", "10000", NULL);
    PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
    PT_OK(pcomm_cmd_set_winsize(cmd, 80, 24));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    char buf[128];
    int fd = pcomm_proc_fd(proc, 1);
    size_t len = pt_read_lines(fd, buf, sizeof buf, 1);
    assert_string_equal(buf, "ready\n");
    PT_OK(pcomm_proc_set_winsize(proc, 132, 40));
    len = pt_read_lines(fd, buf, sizeof buf, 1);
    assert_true(len > 0);
    assert_string_equal(buf, "winch 132x40\n");
    pcomm_pty_info info;
    PT_OK(pcomm_proc_pty(proc, 1, &info));
    assert_int_equal(info.cols, 132);
    PT_OK(pcomm_proc_wait(proc, -1));
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    /* no pty: nothing to resize */
    cmd = pt_helper_cmd("exit", "0", NULL);
    PT_OK(pcomm_spawn(cmd, &proc));
    assert_int_equal(pcomm_proc_set_winsize(proc, 10, 10), -ENOTTY);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
}

/* A child kept in the parent's group gets a pty, but no session and no controlling terminal. */
static void test_group_inherit(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("ids", "isatty", "1", "ctty", NULL);
    PT_OK(pcomm_cmd_stdio_pty(cmd, 1, 0));
    PT_OK(pcomm_cmd_set_group(cmd, PCOMM_GROUP_INHERIT));
    pcomm_job *job = capture_job(cmd);
    PT_OK(pcomm_run(job));
    size_t len;
    const char *out = output_text(job, PCOMM_STDOUT, &len);
    char *text = strndup(out, len);
    int pid, pgid, sid, ppid, tty, ctty;
    if (sscanf(text, "%d %d %d %d %d %d", &pid, &pgid, &sid, &ppid, &tty, &ctty) != 6)
        fail_msg("unexpected output '%s'", text);
    assert_int_equal(sid, getsid(0));
    assert_int_equal(pgid, getpgrp());
    assert_int_equal(tty, 1);
    pcomm_pty_info info;
    PT_OK(pcomm_proc_pty(pcomm_job_proc(job), 1, &info));
    assert_int_equal(info.path, PCOMM_PTY_NOCTTY);
    free(text);
    pcomm_job_free(job);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_ctty_and_two_ptys),
        PT_TEST(test_merged_pty),
        PT_TEST(test_proc_master_and_eio),
        PT_TEST(test_winsize),
        PT_TEST(test_exit_status_kept),
        PT_TEST(test_busy_parent),
        PT_TEST(test_grandchild_linger),
        PT_TEST(test_stdin_eof),
        PT_TEST(test_stdin_long_line),
        PT_TEST(test_stdin_control_bytes),
        PT_TEST(test_separation_stdio),
        PT_TEST(test_separation_python),
        PT_TEST(test_linebuf),
        PT_TEST(test_winch),
        PT_TEST(test_group_inherit),
        PT_TEST(test_no_loss),
    };
    return PT_RUN(tests);
}
