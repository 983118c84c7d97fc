/* tests/test_timeout.c - time limits that always return: timeouts, escalation, linger, accuracy,
 * hostile hosts, many children in one loop. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

extern char **environ;

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

static pcomm_job *job_for(pcomm_cmd *cmd, int timeout_ms, int sig, int grace_ms)
{
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_set_timeout(job, timeout_ms, sig, grace_ms));
    return job;
}

static pcomm_status status_of(pcomm_job *job)
{
    pcomm_status st;
    PT_OK(pcomm_job_status(job, &st));
    return st;
}

static pcomm_cmd *sh_cmd(const char *script)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    return cmd;
}

static void test_timeout_while_streaming(void **state)
{
    (void)state;
    pcomm_cmd *cmd = sh_cmd("i=0; while :; do echo line $i; i=$((i+1)); sleep 0.01; done");
    pcomm_job *job = job_for(cmd, 300, 0, 2000);
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    double t0 = pt_ms();
    PT_OK(pcomm_run(job));
    double took = pt_ms() - t0;
    assert_true(took >= 299 && took < 300 + pt_late_ms());
    assert_true(pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT);
    assert_false(pcomm_job_flags(job) & PCOMM_JOB_KILLED);
    pcomm_status st = status_of(job);
    assert_int_equal(st.how, PCOMM_SIGNALED);
    assert_int_equal(st.code, SIGTERM);
    const void *data;
    size_t len;
    PT_OK(pcomm_spool_view(pcomm_job_output(job, PCOMM_STDOUT), &data, &len));
    assert_true(len > 20); /* the output so far is kept */
    assert_memory_equal(data, "line 0\nline 1\n", 14);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
}

static void test_timeout_blocked_writer(void **state)
{
    (void)state;
    size_t total = 8 << 20;
    char *input = calloc(1, total);
    pcomm_cmd *cmd = pt_helper_cmd("sleep", "30000", NULL); /* never reads */
    pcomm_job *job = job_for(cmd, 200, 0, 2000);
    PT_OK(pcomm_job_input_bytes(job, input, total));
    double t0 = pt_ms();
    PT_OK(pcomm_run(job));
    double took = pt_ms() - t0;
    assert_true(took >= 199 && took < 200 + pt_late_ms());
    assert_true(pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT);
    assert_true(pcomm_job_flags(job) & PCOMM_JOB_INPUT_SHORT);
    assert_true(pcomm_job_bytes(job, PCOMM_STDIN) < total);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
    free(input);
}

static void test_term_ignored_then_killed(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("ignore", "15", "sleep", "30000", NULL);
    pcomm_job *job = job_for(cmd, 100, SIGTERM, 300);
    double t0 = pt_ms();
    PT_OK(pcomm_run(job));
    double took = pt_ms() - t0;
    assert_true(took >= 399 && took < 400 + pt_late_ms());
    unsigned flags = pcomm_job_flags(job);
    assert_true((flags & PCOMM_JOB_TIMED_OUT) && (flags & PCOMM_JOB_KILLED));
    pcomm_status st = status_of(job);
    assert_int_equal(st.how, PCOMM_SIGNALED);
    assert_int_equal(st.code, SIGKILL);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
}

static void test_stopped_child_ends_at_deadline(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("kill", "19", "sleep", "30000", NULL); /* SIGSTOP itself */
    pcomm_job *job = job_for(cmd, 200, SIGTERM, 5000);
    double t0 = pt_ms();
    PT_OK(pcomm_run(job));
    double took = pt_ms() - t0;
    assert_true(took >= 199 && took < 200 + pt_late_ms()); /* SIGCONT made SIGTERM land */
    pcomm_status st = status_of(job);
    assert_int_equal(st.how, PCOMM_SIGNALED);
    assert_int_equal(st.code, SIGTERM);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
}

struct first_line {
    char text[64];
};

static int keep_first(void *ud, const pcomm_line *line)
{
    struct first_line *f = ud;
    if (!f->text[0])
        snprintf(f->text, sizeof f->text, "%.*s", (int)line->len, line->data);
    return 0;
}

static void test_linger_with_grandchild(void **state)
{
    (void)state;
    /* The child prints its grandchild's pid and exits; the grandchild holds stdout for 30 s. */
    pcomm_cmd *cmd = pt_helper_cmd("grandchild", "30000", "exit", "0", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    struct first_line f = {{0}};
    PT_OK(pcomm_job_on_line(job, PCOMM_STDOUT, keep_first, &f, 0));
    PT_OK(pcomm_job_set_linger(job, 300));
    double t0 = pt_ms();
    PT_OK(pcomm_run(job));
    double took = pt_ms() - t0;
    assert_true(took >= 299 && took < 300 + pt_late_ms()); /* linger + 100 ms */
    assert_true(pcomm_job_flags(job) & PCOMM_JOB_TRUNCATED);
    pcomm_status st = status_of(job);
    assert_int_equal(st.how, PCOMM_EXITED);
    assert_int_equal(st.code, 0);
    int grandchild = atoi(f.text);
    assert_true(grandchild > 0);
    assert_true(pt_wait_dead(grandchild)); /* the group was killed */
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
}

static void test_zero_and_negative_timeouts(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("sleep", "30000", NULL);
    pcomm_job *job = job_for(cmd, 0, SIGKILL, -1);
    double t0 = pt_ms();
    PT_OK(pcomm_run(job));
    assert_true(pt_ms() - t0 < pt_late_ms());
    assert_true(pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT);
    assert_int_equal(status_of(job).code, SIGKILL);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);

    cmd = pt_helper_cmd("sleep", "200", "exit", "6", NULL);
    job = job_for(cmd, -5, 0, -1); /* negative: no timeout */
    PT_OK(pcomm_run(job));
    assert_false(pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT);
    assert_int_equal(status_of(job).code, 6);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The same timeout done with bare system calls: posix_spawn, poll on the pidfd until the
 * deadline, SIGTERM, wait. Its lateness is what the machine itself adds (scheduling on a loaded
 * host), the baseline pcomm's own lateness is measured against. */
static double raw_lateness(int timeout_ms)
{
    static char helper[4096], op[] = "sleep", ms[] = "30000";
    snprintf(helper, sizeof helper, "%s", pt_helper());
    char *argv[] = {helper, op, ms, NULL};
    pid_t pid;
    double t0 = pt_ms();
    assert_int_equal(posix_spawn(&pid, argv[0], NULL, NULL, argv, environ), 0);
    int pidfd = pidfd_open(pid, 0);
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    double deadline = t0 + timeout_ms;
    while (pt_ms() < deadline)
        poll(&pfd, 1, (int)(deadline - pt_ms()) + 1);
    kill(pid, SIGTERM);
    pfd.revents = 0;
    while (poll(&pfd, 1, -1) < 0)
        ;
    double late = pt_ms() - t0 - timeout_ms;
    pt_waitpid(pid, NULL);
    close(pidfd);
    return late;
}

static void test_timeout_accuracy_p99(void **state)
{
    (void)state;
    enum { RUNS = 200, TIMEOUT_MS = 50 };
    double late[RUNS], raw[RUNS];
    pcomm_cmd *cmd = pt_helper_cmd("sleep", "30000", NULL);
    for (int i = 0; i < RUNS; i++) { /* interleaved, so both see the same load */
        pcomm_job *job = job_for(cmd, TIMEOUT_MS, 0, 2000);
        PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, 4096));
        double t0 = pt_ms();
        PT_OK(pcomm_run(job));
        late[i] = pt_ms() - t0 - TIMEOUT_MS;
        assert_true(late[i] >= -1);
        pcomm_job_free(job);
        raw[i] = raw_lateness(TIMEOUT_MS);
    }
    qsort(late, RUNS, sizeof late[0], cmp_double);
    qsort(raw, RUNS, sizeof raw[0], cmp_double);
    double p99 = late[RUNS * 99 / 100], raw_p99 = raw[RUNS * 99 / 100];
    fprintf(stderr,
            "[ timeout ] lateness over %d runs: median %.2f ms, p99 %.2f ms, max %.2f ms; "
            "bare syscalls in the same runs: median %.2f ms, p99 %.2f ms\n",
            RUNS, late[RUNS / 2], p99, late[RUNS - 1], raw[RUNS / 2], raw_p99);
    assert_true(p99 < pt_late_ms() + raw_p99);
    pcomm_cmd_free(cmd);
}

static void reap_everything(int sig)
{
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    errno = saved;
}

static void test_host_reaps_with_waitpid_minus_one(void **state)
{
    (void)state;
    struct sigaction sa = {.sa_handler = reap_everything}, old;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, &old);
    pcomm_cmd *cmd = pt_helper_cmd("println", "hello", "sleep", "50", "exit", "0", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    double t0 = pt_ms();
    int r = pcomm_run(job);
    assert_true(pt_ms() - t0 < 2000);
    /* Either pcomm saw the end first (0) or the host's handler reaped it (-ECHILD). */
    assert_true(r == 0 || r == -ECHILD);
    const void *data;
    size_t len;
    PT_OK(pcomm_spool_view(pcomm_job_output(job, PCOMM_STDOUT), &data, &len));
    assert_int_equal(len, 6);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
    sigaction(SIGCHLD, &old, NULL);
}

/* 32 children pumped at once from one loop in one thread, while another thread runs its own. */
struct many {
    int failures;
    int done;
};

static void count_done(void *ud, pcomm_job *job)
{
    struct many *m = ud;
    m->done++;
    pcomm_status st;
    pcomm_job_status(job, &st);
    const void *data;
    size_t len;
    pcomm_spool_view(pcomm_job_output(job, PCOMM_STDOUT), &data, &len);
    if (st.how != PCOMM_EXITED || st.code != 0 || len != 256 * 1024 ||
        pt_pattern_check(data, len, 0, 4) != len)
        m->failures++;
}

static void *run_32(void *arg)
{
    struct many *m = arg;
    pcomm_loop *loop;
    if (pcomm_loop_new(&loop) < 0)
        return NULL;
    pcomm_cmd *cmd = pt_helper_cmd("write", "1", "262144", "4", NULL);
    pcomm_job *jobs[32];
    for (int i = 0; i < 32; i++) {
        pcomm_job_new(&jobs[i], cmd);
        pcomm_job_capture(jobs[i], PCOMM_STDOUT, SIZE_MAX);
        pcomm_job_on_done(jobs[i], count_done, m);
        if (pcomm_job_start(jobs[i], loop) < 0)
            m->failures++;
    }
    if (pcomm_loop_run(loop, 30000) < 0)
        m->failures++;
    for (int i = 0; i < 32; i++)
        pcomm_job_free(jobs[i]);
    pcomm_cmd_free(cmd);
    pcomm_loop_free(loop);
    return NULL;
}

static void test_many_children_two_loops(void **state)
{
    (void)state;
    struct many a = {0}, b = {0};
    pthread_t other;
    assert_int_equal(pthread_create(&other, NULL, run_32, &b), 0);
    run_32(&a);
    pthread_join(other, NULL);
    assert_int_equal(a.done, 32);
    assert_int_equal(b.done, 32);
    assert_int_equal(a.failures + b.failures, 0);
}

/* A host driving the loop from its own poll(): only the loop's descriptor, no timeout of its
 * own; deadlines still fire. */
static void test_host_driven_loop(void **state)
{
    (void)state;
    pcomm_loop *loop;
    PT_OK(pcomm_loop_new(&loop));
    pcomm_cmd *cmd = pt_helper_cmd("sleep", "30000", NULL);
    pcomm_job *job = job_for(cmd, 150, 0, 1000);
    PT_OK(pcomm_job_start(job, loop));
    assert_int_equal(pcomm_loop_active(loop), 1);
    double t0 = pt_ms();
    while (pcomm_loop_active(loop)) {
        struct pollfd pfd = {.fd = pcomm_loop_fd(loop), .events = POLLIN};
        int n = poll(&pfd, 1, 5000);
        assert_true(n >= 0 || errno == EINTR);
        assert_true(pcomm_loop_step(loop, 0) >= 0);
        assert_true(pt_ms() - t0 < 2000);
    }
    assert_true(pt_ms() - t0 >= 149);
    assert_true(pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
    pcomm_loop_free(loop);
}

/* Freeing a running job (the host gives up on it) kills and reaps it and frees the loop slot. */
static void test_free_running_job(void **state)
{
    (void)state;
    pcomm_loop *loop;
    PT_OK(pcomm_loop_new(&loop));
    pcomm_cmd *cmd = pt_helper_cmd("grandchild", "30000", "sleep", "30000", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX));
    PT_OK(pcomm_job_start(job, loop));
    assert_true(pcomm_loop_step(loop, 100) >= 0);
    pcomm_job_free(job);
    assert_int_equal(pcomm_loop_active(loop), 0);
    assert_int_equal(pcomm_loop_run(loop, 100), 0);
    pcomm_cmd_free(cmd);
    pcomm_loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_timeout_while_streaming),  PT_TEST(test_timeout_blocked_writer),
        PT_TEST(test_term_ignored_then_killed), PT_TEST(test_stopped_child_ends_at_deadline),
        PT_TEST(test_linger_with_grandchild),   PT_TEST(test_zero_and_negative_timeouts),
        PT_TEST(test_timeout_accuracy_p99),     PT_TEST(test_host_reaps_with_waitpid_minus_one),
        PT_TEST(test_many_children_two_loops),  PT_TEST(test_host_driven_loop),
        PT_TEST(test_free_running_job),
    };
    return PT_RUN(tests);
}
