/* tests/test_pipeline.c - pipelines run by pcomm_job: kernel pipes between stages, per-stage
 * statuses and rules, stderr modes, one process group, no deadlock, nothing left behind.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static pcomm_job *parse_job(const char *text)
{
    pcomm_pipeline *p;
    size_t col = 0;
    int r = pcomm_pipeline_parse(text, &p, &col);
    if (r < 0)
        fail_msg("parse %s: %s at %zu", text, pcomm_errname(r), col);
    pcomm_job *job;
    PT_OK(pcomm_job_new_pipeline(&job, p));
    return job;
}

static const char *stdout_of(pcomm_job *job, size_t *len)
{
    const void *data;
    PT_OK(pcomm_spool_view(pcomm_job_output(job, PCOMM_STDOUT), &data, len));
    return data;
}

static void test_echo_sed(void **state)
{
    (void)state;
    pcomm_job *job = parse_job("echo foo | sed s/foo/bar/");
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, MIB));
    PT_OK(pcomm_run(job));
    size_t len;
    const char *out = stdout_of(job, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(out, "bar\n", 4);
    assert_int_equal(pcomm_job_exit_code(job), 0);
    assert_int_equal(pcomm_job_stage_count(job), 2);
    pcomm_job_free(job);
}

static int run_rule(int rule)
{
    pcomm_pipeline *p;
    PT_OK(pcomm_pipeline_parse("sh -c 'exit 2' | sh -c 'exit 3' | true", &p, NULL));
    PT_OK(pcomm_pipeline_set_rule(p, rule));
    pcomm_job *job;
    PT_OK(pcomm_job_new_pipeline(&job, p));
    PT_OK(pcomm_run(job));
    const int expect[] = {2, 3, 0};
    for (size_t i = 0; i < 3; i++) {
        pcomm_status st;
        PT_OK(pcomm_job_stage_status(job, i, &st));
        assert_int_equal(st.how, PCOMM_EXITED);
        assert_int_equal(st.code, expect[i]);
    }
    int code = pcomm_job_exit_code(job);
    pcomm_job_free(job);
    return code;
}

static void test_status_rules(void **state)
{
    (void)state;
    assert_int_equal(run_rule(PCOMM_RULE_PIPEFAIL), 3);
    assert_int_equal(run_rule(PCOMM_RULE_LAST), 0);
    assert_int_equal(run_rule(PCOMM_RULE_LIBPIPELINE), 127);
}

static void test_yes_head_succeeds(void **state)
{
    (void)state;
    pcomm_job *job = parse_job("yes | head -n 1");
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, MIB));
    PT_OK(pcomm_run(job));
    pcomm_status st;
    PT_OK(pcomm_job_stage_status(job, 0, &st));
    assert_int_equal(st.how, PCOMM_SIGNALED);
    assert_int_equal(st.code, SIGPIPE); /* yes got its default SIGPIPE, not "Broken pipe" */
    assert_int_equal(pcomm_job_exit_code(job), 0);
    size_t len;
    assert_memory_equal(stdout_of(job, &len), "y\n", 2);
    pcomm_job_free(job);

    /* SIGPIPE of the last stage is a failure under every rule. */
    job = parse_job("true | sh -c 'kill -PIPE $$'");
    PT_OK(pcomm_run(job));
    assert_int_equal(pcomm_job_exit_code(job), 128 + SIGPIPE);
    pcomm_job_free(job);
}

static void test_env_and_cwd_per_stage(void **state)
{
    (void)state;
    pcomm_pipeline *p;
    PT_OK(pcomm_pipeline_parse("sh -c 'echo $A-$B-$HOME; pwd' | sh -c 'cat; echo $A; pwd'", &p,
                               NULL));
    pcomm_cmd *first = pcomm_pipeline_cmd(p, 0), *second = pcomm_pipeline_cmd(p, 1);
    PT_OK(pcomm_cmd_setenv(first, "A", "one"));
    PT_OK(pcomm_cmd_setenv(first, "B", "two"));
    PT_OK(pcomm_cmd_unsetenv(first, "HOME"));
    PT_OK(pcomm_cmd_chdir(first, "/usr"));
    PT_OK(pcomm_cmd_clearenv(second));
    PT_OK(pcomm_cmd_setenv(second, "PATH", "/usr/bin:/bin"));
    PT_OK(pcomm_cmd_chdir(second, "/etc"));
    pcomm_job *job;
    PT_OK(pcomm_job_new_pipeline(&job, p));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, MIB));
    PT_OK(pcomm_run(job));
    size_t len;
    const char *out = stdout_of(job, &len);
    const char expect[] = "one-two-\n/usr\n\n/etc\n";
    assert_int_equal(len, sizeof expect - 1);
    assert_memory_equal(out, expect, len);
    pcomm_job_free(job);
}

/* Every byte value, 1 MiB, through cat, teed to a spool and to a file: identical. */
static void test_tee_every_byte(void **state)
{
    (void)state;
    size_t total = MIB;
    unsigned char *data = malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 8));
    char *dir = pt_tempdir(), path[512];
    snprintf(path, sizeof path, "%s/tee", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    pcomm_job *job = parse_job("cat | cat");
    PT_OK(pcomm_job_input_bytes(job, data, total));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    PT_OK(pcomm_job_forward(job, PCOMM_STDOUT, fd));
    PT_OK(pcomm_run(job));
    size_t len;
    const char *out = stdout_of(job, &len);
    assert_int_equal(len, total);
    assert_memory_equal(out, data, total);
    unsigned char *file = malloc(total);
    assert_int_equal(pread(fd, file, total, 0), (ssize_t)total);
    assert_memory_equal(file, data, total);
    close(fd);
    free(file);
    free(data);
    pcomm_job_free(job);
    pt_rmtree(dir);
    free(dir);
}

static void test_missing_program_in_stage_2(void **state)
{
    (void)state;
    pcomm_job *job = parse_job("sleep 30 | pcomm-no-such-program | sleep 30");
    assert_int_equal(pcomm_run(job), -ENOENT);
    int zombies;
    assert_int_equal(pt_count_children(&zombies), 0); /* stage 1 was killed and reaped */
    pcomm_job_free(job);
}

/* 256 MiB through three stages, each logging to stderr, every stderr pumped: no deadlock. */
static void check_three_stages(int stderr_mode, size_t total)
{
    pcomm_pipeline *p;
    PT_OK(pcomm_pipeline_new(&p));
    for (int i = 0; i < 3; i++) {
        pcomm_cmd *cmd = pt_helper_cmd("echo-log", NULL);
        PT_OK(pcomm_pipeline_add_cmd(p, cmd));
        pcomm_cmd_free(cmd);
    }
    PT_OK(pcomm_pipeline_set_stderr(p, stderr_mode));
    pcomm_job *job;
    PT_OK(pcomm_job_new_pipeline(&job, p));
    unsigned char *data = malloc(total);
    pt_pattern_fill(data, total, 0, 21);
    PT_OK(pcomm_job_input_bytes(job, data, total));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    if (stderr_mode == PCOMM_STDERR_MERGED)
        PT_OK(pcomm_job_capture(job, PCOMM_STDERR, SIZE_MAX));
    PT_OK(pcomm_run(job));
    size_t len;
    const char *out = stdout_of(job, &len);
    assert_int_equal(len, total);
    assert_true(pt_pattern_check(out, len, 0, 21) == len);
    if (stderr_mode == PCOMM_STDERR_MERGED) {
        const void *err;
        PT_OK(pcomm_spool_view(pcomm_job_output(job, PCOMM_STDERR), &err, &len));
        for (int i = 0; i < 3; i++) { /* every line tagged with its stage */
            char tag[8];
            snprintf(tag, sizeof tag, "[%d] pid", i);
            assert_non_null(memmem(err, len, tag, strlen(tag)));
        }
        assert_int_equal(memcmp(err, "[", 1), 0);
    } else {
        for (size_t i = 0; i < 3; i++) {
            const void *err;
            PT_OK(pcomm_spool_view(pcomm_job_stage_output(job, i), &err, &len));
            assert_true(len > 0 && !memcmp(err, "pid ", 4));
        }
    }
    assert_int_equal(pcomm_job_exit_code(job), 0);
    free(data);
    pcomm_job_free(job);
}

static void test_three_stages_with_stderr(void **state)
{
    (void)state;
    check_three_stages(PCOMM_STDERR_MERGED, 256 * MIB);
    check_three_stages(PCOMM_STDERR_SEPARATE, 16 * MIB);
}

/* The parent holds no intermediate pipe end: when the consumer exits, the producer gets EPIPE. */
static void test_intermediate_ends_closed(void **state)
{
    (void)state;
    pcomm_pipeline *p;
    PT_OK(pcomm_pipeline_new(&p));
    pcomm_cmd *producer = pt_helper_cmd("write", "1", "1073741824", "1", NULL);
    pcomm_cmd *consumer = pt_helper_cmd("read", "10", "exit", "0", NULL);
    PT_OK(pcomm_pipeline_add_cmd(p, producer));
    PT_OK(pcomm_pipeline_add_cmd(p, consumer));
    pcomm_cmd_free(producer);
    pcomm_cmd_free(consumer);
    pcomm_job *job;
    PT_OK(pcomm_job_new_pipeline(&job, p));
    double t0 = pt_ms();
    PT_OK(pcomm_run(job));
    assert_true(pt_ms() - t0 < 3000);
    pcomm_status st;
    PT_OK(pcomm_job_stage_status(job, 0, &st));
    assert_int_equal(st.how, PCOMM_SIGNALED);
    assert_int_equal(st.code, SIGPIPE);
    pcomm_job_free(job);
}

static void test_one_group_and_timeout(void **state)
{
    (void)state;
    pcomm_pipeline *p;
    PT_OK(pcomm_pipeline_new(&p));
    for (int i = 0; i < 3; i++) {
        pcomm_cmd *cmd = pt_helper_cmd("ids", "grandchild", "30000", "sleep", "30000", NULL);
        PT_OK(pcomm_pipeline_add_cmd(p, cmd));
        pcomm_cmd_free(cmd);
    }
    PT_OK(pcomm_pipeline_set_stderr(p, PCOMM_STDERR_INHERIT));
    pcomm_job *job;
    PT_OK(pcomm_job_new_pipeline(&job, p));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, MIB));
    PT_OK(pcomm_job_set_timeout(job, 300, SIGTERM, 1000));
    double t0 = pt_ms();
    PT_OK(pcomm_run(job));
    assert_true(pt_ms() - t0 < 1500);
    assert_true(pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT);
    int pid0 = pcomm_proc_pid(pcomm_job_stage_proc(job, 0));
    for (size_t i = 0; i < 3; i++) {
        pcomm_status st;
        PT_OK(pcomm_job_stage_status(job, i, &st));
        assert_int_equal(st.how, PCOMM_SIGNALED);
    }
    /* The last stage's own "ids" line: its group is the first stage's. */
    size_t len;
    const char *out = stdout_of(job, &len);
    int pid, pgid, sid, ppid;
    assert_int_equal(sscanf(out, "%d %d %d %d", &pid, &pgid, &sid, &ppid), 4);
    assert_int_equal(pgid, pid0);
    pcomm_job_free(job); /* the harness checks that no grandchild survived */
}

static void test_host_child_not_reaped(void **state)
{
    (void)state;
    pid_t mine = fork();
    assert_true(mine >= 0);
    if (mine == 0) {
        usleep(100000);
        _exit(7);
    }
    pcomm_job *job = parse_job("sleep 0.3 | cat");
    PT_OK(pcomm_run(job));
    pcomm_job_free(job);
    int status;
    assert_int_equal(pt_waitpid(mine, &status), mine);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 7);
}

/* ---- reading a running pipeline ------------------------------------------------------------- */

/* A 9,000-character line (longer than libpipeline's 8 KiB), read as one line, twice. */
static void test_long_line_read_whole(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), path[512];
    snprintf(path, sizeof path, "%s/long", dir);
    char *text = malloc(2 * 9001 + 1);
    for (int k = 0; k < 2; k++) {
        memset(text + k * 9001, k ? 'b' : 'a', 9000);
        text[k * 9001 + 9000] = '\n';
    }
    text[2 * 9001] = '\0';
    pt_write_file(path, text, 0600);
    pcomm_job *job = parse_job("cat | cat");
    PT_OK(pcomm_job_input_file(job, path));
    PT_OK(pcomm_job_read_output(job));
    PT_OK(pcomm_job_start(job, NULL));
    for (int k = 0; k < 2; k++) {
        const char *line;
        size_t len;
        PT_OK(pcomm_job_readline(job, &line, &len));
        assert_int_equal(len, 9001);
        assert_memory_equal(line, text + k * 9001, 9001);
    }
    const char *line;
    size_t len;
    PT_OK(pcomm_job_readline(job, &line, &len));
    assert_int_equal(len, 0); /* the end */
    PT_OK(pcomm_job_wait(job, 5000));
    assert_int_equal(pcomm_job_exit_code(job), 0);
    pcomm_job_free(job);
    free(text);
    pt_rmtree(dir);
    free(dir);
}

/* A slow writer: one byte, 100 ms, the rest of the line: the line arrives whole. */
static void test_slow_writer_line_whole(void **state)
{
    (void)state;
    pcomm_job *job = parse_job("sh -c 'printf a; sleep 0.1; printf \"bc\\nlast\"' | cat");
    PT_OK(pcomm_job_read_output(job));
    PT_OK(pcomm_job_start(job, NULL));
    const char *line;
    size_t len;
    PT_OK(pcomm_job_readline(job, &line, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(line, "abc\n", 4);
    PT_OK(pcomm_job_readline(job, &line, &len));
    assert_int_equal(len, 4); /* the last line, without a newline */
    assert_memory_equal(line, "last", 4);
    PT_OK(pcomm_job_wait(job, 5000));
    pcomm_job_free(job);
}

/* read and peek; and a child far ahead of its reader is held back, not buffered without bound. */
static void test_read_peek_backpressure(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("write", "1", "67108864", "6", NULL); /* 64 MiB */
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_read_output(job));
    PT_OK(pcomm_job_start(job, NULL));
    const void *data;
    size_t len;
    PT_OK(pcomm_job_peek(job, 1000, &data, &len));
    assert_true(len >= 1000);
    assert_int_equal(pt_pattern_check(data, 1000, 0, 6), 1000);
    char buf[4096];
    assert_int_equal(pcomm_job_read(job, buf, 10), 10);
    assert_int_equal(pt_pattern_check(buf, 10, 0, 6), 10);
    usleep(300000); /* the child could write everything now, if it were let */
    PT_OK(pcomm_job_peek(job, 0, &data, &len));
    assert_true(len <= 2 * 1024 * 1024);
    uint64_t off = 10;
    for (;;) {
        ssize_t n = pcomm_job_read(job, buf, sizeof buf);
        assert_true(n >= 0);
        if (n == 0)
            break;
        if (pt_pattern_check(buf, (size_t)n, off, 6) != (size_t)n)
            fail_msg("wrong bytes at %llu", (unsigned long long)off);
        off += (uint64_t)n;
    }
    assert_int_equal(off, 64 * MIB);
    PT_OK(pcomm_job_wait(job, 5000));
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_echo_sed),
        PT_TEST(test_status_rules),
        PT_TEST(test_yes_head_succeeds),
        PT_TEST(test_env_and_cwd_per_stage),
        PT_TEST(test_tee_every_byte),
        PT_TEST(test_missing_program_in_stage_2),
        PT_TEST(test_three_stages_with_stderr),
        PT_TEST(test_intermediate_ends_closed),
        PT_TEST(test_one_group_and_timeout),
        PT_TEST(test_host_child_not_reaped),
        PT_TEST(test_long_line_read_whole),
        PT_TEST(test_slow_writer_line_whole),
        PT_TEST(test_read_peek_backpressure),
    };
    return PT_RUN(tests);
}
