/* tests/test_run.c - pcomm_run and pcomm_job: deadlock freedom, EPIPE, shapes, lines, callbacks.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static const unsigned char *output_of(pcomm_job *job, int stream, size_t *len)
{
    const void *data;
    PT_OK(pcomm_spool_view(pcomm_job_output(job, stream), &data, len));
    return data;
}

static void expect_exit(pcomm_job *job, int code)
{
    pcomm_status st;
    PT_OK(pcomm_job_status(job, &st));
    assert_int_equal(st.how, PCOMM_EXITED);
    assert_int_equal(st.code, code);
}

/* 64 MiB into stdin while the child writes it back to stdout and its complement to stderr, in
 * step: without concurrent pumping of all three pipes this deadlocks within 64 KiB. */
static void test_deadlock_freedom(void **state)
{
    (void)state;
    size_t total = 64 * MIB;
    unsigned char *input = malloc(total);
    pt_pattern_fill(input, total, 0, 3);
    pcomm_cmd *cmd = pt_helper_cmd("echo-both", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_input_bytes(job, input, total));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    PT_OK(pcomm_job_capture(job, PCOMM_STDERR, SIZE_MAX));
    PT_OK(pcomm_run(job));
    expect_exit(job, 0);
    size_t len;
    const unsigned char *out = output_of(job, PCOMM_STDOUT, &len);
    assert_int_equal(len, total);
    assert_memory_equal(out, input, total);
    const unsigned char *err = output_of(job, PCOMM_STDERR, &len);
    assert_int_equal(len, total);
    for (size_t i = 0; i < total; i++)
        if (err[i] != (unsigned char)(input[i] ^ 0xff))
            fail_msg("stderr differs at byte %zu", i);
    assert_int_equal(pcomm_job_bytes(job, PCOMM_STDIN), total);
    assert_int_equal(pcomm_job_bytes(job, PCOMM_STDOUT), total);
    assert_int_equal(pcomm_job_bytes(job, PCOMM_STDERR), total);
    assert_int_equal(pcomm_job_flags(job) & PCOMM_JOB_INPUT_SHORT, 0);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
    free(input);
}

/* The child writes 64 MiB to stderr before it reads any of its input (perf.md CM3). */
static void test_stderr_before_stdin(void **state)
{
    (void)state;
    size_t total = 16 * MIB;
    unsigned char *input = malloc(total);
    pt_pattern_fill(input, total, 0, 5);
    pcomm_cmd *cmd = pt_helper_cmd("write", "2", "67108864", "9", "echo", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_input_bytes(job, input, total));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    PT_OK(pcomm_job_capture(job, PCOMM_STDERR, SIZE_MAX));
    PT_OK(pcomm_run(job));
    expect_exit(job, 0);
    size_t len;
    const unsigned char *err = output_of(job, PCOMM_STDERR, &len);
    assert_int_equal(len, 64 * MIB);
    assert_int_equal(pt_pattern_check(err, len, 0, 9), len);
    const unsigned char *out = output_of(job, PCOMM_STDOUT, &len);
    assert_int_equal(len, total);
    assert_memory_equal(out, input, total);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
    free(input);
}

/* A child that exits without reading 10 MiB of input: EPIPE is swallowed, the test process is
 * not killed by SIGPIPE, output and status come back. */
static void test_epipe(void **state)
{
    (void)state;
    size_t total = 10 * MIB;
    char *input = calloc(1, total);
    pcomm_cmd *cmd = pt_helper_cmd("read", "1000", "println", "bye", "exit", "4", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_input_bytes(job, input, total));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    PT_OK(pcomm_run(job));
    expect_exit(job, 4);
    size_t len;
    const unsigned char *out = output_of(job, PCOMM_STDOUT, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(out, "bye\n", 4);
    assert_true(pcomm_job_flags(job) & PCOMM_JOB_INPUT_SHORT);
    assert_true(pcomm_job_bytes(job, PCOMM_STDIN) < total);
    sigset_t pending;
    sigpending(&pending);
    assert_int_equal(sigismember(&pending, SIGPIPE), 0); /* consumed, not left pending */
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
    free(input);
}

/* A child that closes stdout early but keeps running: neither spin nor hang. */
static void test_stdout_closed_early(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("print", "early", "close", "1", "sleep", "300", "eprint", "late",
                                   "exit", "0", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    PT_OK(pcomm_job_capture(job, PCOMM_STDERR, SIZE_MAX));
    double t0 = pt_ms();
    PT_OK(pcomm_run(job));
    double took = pt_ms() - t0;
    assert_true(took >= 290 && took < 2000);
    pcomm_status st;
    PT_OK(pcomm_job_status(job, &st));
    assert_true(st.user_ns + st.sys_ns < 200 * 1000000LL); /* the child did not spin */
    size_t len;
    assert_memory_equal(output_of(job, PCOMM_STDOUT, &len), "early", 5);
    assert_memory_equal(output_of(job, PCOMM_STDERR, &len), "late", 4);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
}

static void test_degenerate_shapes(void **state)
{
    (void)state;
    /* No pipes at all. */
    pcomm_cmd *cmd = pt_helper_cmd("exit", "7", NULL);
    PT_OK(pcomm_cmd_stdio_null(cmd, 1));
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_run(job));
    expect_exit(job, 7);
    assert_null(pcomm_job_output(job, PCOMM_STDOUT));
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);

    /* Empty input: the child sees EOF at once. */
    cmd = pt_helper_cmd("echo", "println", "done", NULL);
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_input_bytes(job, "", 0));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    PT_OK(pcomm_run(job));
    size_t len;
    assert_memory_equal(output_of(job, PCOMM_STDOUT, &len), "done\n", 5);
    assert_int_equal(len, 5);
    pcomm_job_free(job);

    /* Only stdin. */
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_cmd_stdio_null(cmd, 1));
    pcomm_job_free(job);
    pcomm_cmd *quiet = pt_helper_cmd("drain", "exit", "3", NULL);
    PT_OK(pcomm_job_new(&job, quiet));
    PT_OK(pcomm_job_input_bytes(job, "abc", 3));
    PT_OK(pcomm_run(job));
    expect_exit(job, 3);
    assert_int_equal(pcomm_job_bytes(job, PCOMM_STDIN), 3);
    pcomm_job_free(job);
    pcomm_cmd_free(quiet);

    /* Only stderr. */
    quiet = pt_helper_cmd("eprint", "E", NULL);
    PT_OK(pcomm_job_new(&job, quiet));
    PT_OK(pcomm_job_capture(job, PCOMM_STDERR, SIZE_MAX));
    PT_OK(pcomm_run(job));
    assert_memory_equal(output_of(job, PCOMM_STDERR, &len), "E", 1);
    pcomm_job_free(job);
    pcomm_cmd_free(quiet);
    pcomm_cmd_free(cmd);
}

static void test_input_from_file_and_fd(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), path[512];
    snprintf(path, sizeof path, "%s/in", dir);
    size_t total = 3 * MIB + 17;
    unsigned char *data = malloc(total);
    pt_pattern_fill(data, total, 0, 11);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_int_equal(pt_write(fd, data, total), (ssize_t)total);
    close(fd);
    pcomm_cmd *cmd = pt_helper_cmd("echo", NULL);
    for (int mode = 0; mode < 3; mode++) {
        pcomm_job *job;
        PT_OK(pcomm_job_new(&job, cmd));
        int p[2] = {-1, -1};
        if (mode == 0) {
            PT_OK(pcomm_job_input_file(job, path));
        } else if (mode == 1) {
            fd = open(path, O_RDONLY | O_CLOEXEC);
            PT_OK(pcomm_job_input_fd(job, fd));
        } else { /* a pipe fed by another process: the fd is read only when ready */
            pcomm_cmd *cat = pt_helper_cmd("echo", NULL);
            PT_OK(pcomm_cmd_stdio_file(cat, 0, path, O_RDONLY, 0));
            assert_int_equal(pipe2(p, O_CLOEXEC), 0);
            PT_OK(pcomm_cmd_stdio_fd(cat, 1, p[1]));
            pcomm_proc *feeder;
            PT_OK(pcomm_spawn(cat, &feeder));
            close(p[1]);
            pcomm_cmd_free(cat);
            PT_OK(pcomm_job_input_fd(job, p[0]));
            PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
            PT_OK(pcomm_run(job));
            PT_OK(pcomm_proc_wait(feeder, -1));
            pcomm_proc_free(feeder);
            close(p[0]);
        }
        if (mode < 2) {
            PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
            PT_OK(pcomm_run(job));
        }
        if (mode == 1)
            close(fd);
        size_t len;
        const unsigned char *out = output_of(job, PCOMM_STDOUT, &len);
        if (len != total)
            fail_msg("mode %d: %zu bytes of %zu, %llu written, flags %x", mode, len, total,
                     (unsigned long long)pcomm_job_bytes(job, PCOMM_STDIN), pcomm_job_flags(job));
        assert_memory_equal(out, data, total);
        pcomm_job_free(job);
    }
    /* A missing input file is reported by the start, and nothing runs. */
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    snprintf(path, sizeof path, "%s/missing", dir);
    PT_OK(pcomm_job_input_file(job, path));
    assert_int_equal(pcomm_run(job), -ENOENT);
    assert_null(pcomm_job_proc(job));
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
    free(data);
    pt_rmtree(dir);
    free(dir);
}

/* ---- lines ---------------------------------------------------------------------------------- */

struct collected {
    char text[3][8192]; /* per stream */
    size_t len[3];
    int count, continued, no_eol, stream_err;
    int64_t last_ns;
    int fail_at; /* return an error on this line number (1-based), 0 = never */
};

static int collect_line(void *ud, const pcomm_line *line)
{
    struct collected *c = ud;
    c->count++;
    if (line->flags & PCOMM_LINE_CONTINUED)
        c->continued++;
    if (line->flags & PCOMM_LINE_NO_EOL)
        c->no_eol++;
    if (line->stream == PCOMM_STDERR)
        c->stream_err++;
    assert_true(line->time_ns >= c->last_ns);
    c->last_ns = line->time_ns;
    int s = line->stream;
    c->len[s] +=
        (size_t)snprintf(c->text[s] + c->len[s], sizeof c->text[s] - c->len[s], "[%s%s%.*s]",
                         line->flags & PCOMM_LINE_CONTINUED ? "+" : "",
                         line->flags & PCOMM_LINE_NO_EOL ? "$" : "", (int)line->len, line->data);
    return c->fail_at && c->count == c->fail_at ? -ECANCELED : 0;
}

static void test_line_callbacks(void **state)
{
    (void)state;
    struct collected c = {0};
    pcomm_cmd *cmd =
        pt_helper_cmd("print", "one\ntwo\nthree-is-long\nfour", "eprint", "err\n", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_on_line(job, PCOMM_STDOUT, collect_line, &c, 8));
    PT_OK(pcomm_job_on_line(job, PCOMM_STDERR, collect_line, &c, 0));
    PT_OK(pcomm_run(job));
    assert_string_equal(c.text[1], "[one\n][two\n][+three-is][-long\n][$four]");
    assert_string_equal(c.text[2], "[err\n]");
    assert_int_equal(c.continued, 1);
    assert_int_equal(c.no_eol, 1);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
}

static void test_callback_error_stops_run(void **state)
{
    (void)state;
    struct collected c = {.fail_at = 3};
    /* A line every 5 ms, written at once (echo is a shell builtin: no stdio buffering). */
    const char *argv[] = {"sh", "-c", "while :; do echo tick; sleep 0.005; done", NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_on_line(job, PCOMM_STDOUT, collect_line, &c, 0));
    double t0 = pt_ms();
    assert_int_equal(pcomm_run(job), -ECANCELED);
    assert_true(pt_ms() - t0 < 2000);
    assert_int_equal(pcomm_job_error(job), -ECANCELED);
    pcomm_status st;
    PT_OK(pcomm_job_status(job, &st));
    assert_int_equal(st.how, PCOMM_SIGNALED);
    assert_int_equal(st.code, SIGKILL);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
}

static void test_forward_and_capture_together(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    struct collected c = {0};
    pcomm_cmd *cmd = pt_helper_cmd("print", "a\nb\n", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    PT_OK(pcomm_job_forward(job, PCOMM_STDOUT, p[1]));
    PT_OK(pcomm_job_on_line(job, PCOMM_STDOUT, collect_line, &c, 0));
    PT_OK(pcomm_run(job));
    close(p[1]);
    char buf[16] = {0};
    assert_int_equal(pt_read(p[0], buf, sizeof buf), 4);
    assert_string_equal(buf, "a\nb\n");
    close(p[0]);
    size_t len;
    assert_memory_equal(output_of(job, PCOMM_STDOUT, &len), "a\nb\n", 4);
    assert_int_equal(c.count, 2);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
}

static void test_merge_keeps_order(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("print", "1", "eprint", "2", "print", "3", "eprint", "4", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    PT_OK(pcomm_job_merge_stderr(job));
    PT_OK(pcomm_run(job));
    size_t len;
    const unsigned char *out = output_of(job, PCOMM_STDOUT, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(out, "1234", 4);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
}

static void test_invalid_options(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("exit", "0", NULL);
    pcomm_job *job;
    assert_int_equal(pcomm_job_new(NULL, cmd), -EINVAL);
    assert_int_equal(pcomm_job_new(&job, NULL), -EINVAL);
    PT_OK(pcomm_job_new(&job, cmd));
    assert_int_equal(pcomm_job_capture(job, 0, 1), -EINVAL);
    assert_int_equal(pcomm_job_capture(job, 3, 1), -EINVAL);
    assert_int_equal(pcomm_job_forward(job, 1, -1), -EINVAL);
    assert_int_equal(pcomm_job_on_line(job, 1, NULL, NULL, 0), -EINVAL);
    assert_int_equal(pcomm_job_input_bytes(job, NULL, 5), -EINVAL);
    assert_int_equal(pcomm_job_input_fd(job, -2), -EINVAL);
    assert_int_equal(pcomm_job_input_file(job, ""), -EINVAL);
    assert_int_equal(pcomm_job_set_timeout(job, 10, -1, 0), -EINVAL);
    assert_int_equal(pcomm_job_set_timeout(job, 10, NSIG, 0), -EINVAL);
    for (int i = 0; i < 4; i++)
        PT_OK(pcomm_job_forward(job, 1, 1));
    assert_int_equal(pcomm_job_forward(job, 1, 1), -ENOSPC);
    assert_int_equal(pcomm_job_start(NULL, NULL), -EINVAL);
    assert_int_equal(pcomm_job_wait(job, 0), -EINVAL); /* not started */
    assert_int_equal(pcomm_run(NULL), -EINVAL);
    assert_int_equal(pt_count_children(NULL), 0); /* nothing was spawned */
    pcomm_job_free(job);
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_run(job));
    assert_int_equal(pcomm_run(job), -EBUSY);
    assert_int_equal(pcomm_job_capture(job, 1, 1), -EBUSY);
    pcomm_job_free(job);
    pcomm_job_free(NULL);
    pcomm_cmd_free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_deadlock_freedom),
        PT_TEST(test_stderr_before_stdin),
        PT_TEST(test_epipe),
        PT_TEST(test_stdout_closed_early),
        PT_TEST(test_degenerate_shapes),
        PT_TEST(test_input_from_file_and_fd),
        PT_TEST(test_line_callbacks),
        PT_TEST(test_callback_error_stops_run),
        PT_TEST(test_forward_and_capture_together),
        PT_TEST(test_merge_keeps_order),
        PT_TEST(test_invalid_options),
    };
    return PT_RUN(tests);
}
