/* tests/test_proc.c - pcomm_proc: status, wait, kill, groups, teardown, threads.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static pcomm_status run_helper(const char *a, const char *b)
{
    pcomm_cmd *cmd = pt_helper_cmd(a, b, NULL);
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    PT_OK(pcomm_proc_wait(proc, -1));
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(st.pid, pcomm_proc_pid(proc));
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    return st;
}

static void test_exit_codes_and_signals(void **state)
{
    (void)state;
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    const int codes[] = {0, 42, 255};
    for (size_t i = 0; i < 3; i++) {
        char arg[8];
        snprintf(arg, sizeof arg, "%d", codes[i]);
        pcomm_status st = run_helper("exit", arg);
        assert_int_equal(st.how, PCOMM_EXITED);
        assert_int_equal(st.code, codes[i]);
        assert_int_equal(pcomm_status_shell_code(&st), codes[i]);
    }
    const int sigs[] = {SIGKILL, SIGTERM, SIGABRT, SIGSEGV};
    for (size_t i = 0; i < 4; i++) {
        char arg[8];
        snprintf(arg, sizeof arg, "%d", sigs[i]);
        pcomm_status st = run_helper("kill", arg);
        assert_int_equal(st.how, PCOMM_SIGNALED);
        assert_int_equal(st.code, sigs[i]);
        assert_int_equal(st.core_dumped, 0);
        assert_int_equal(pcomm_status_shell_code(&st), 128 + sigs[i]);
    }
}

static void test_resource_usage(void **state)
{
    (void)state;
    pcomm_status st = run_helper("spin", "300");
    assert_int_equal(st.how, PCOMM_EXITED);
    assert_true(st.user_ns + st.sys_ns >= 290 * 1000000LL);
    assert_true(st.wall_ns >= 300 * 1000000LL);
    st = run_helper("touch", "64");
    assert_true(st.max_rss_kib >= 60 * 1024);
}

static void test_child_signal_state_is_default(void **state)
{
    (void)state;
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    pthread_sigmask(SIG_BLOCK, &term, &old);
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_term, old_pipe;
    sigaction(SIGTERM, &ign, &old_term);
    sigaction(SIGPIPE, &ign, &old_pipe);

    pcomm_cmd *cmd = pt_helper_cmd("sigstate", NULL);
    size_t len;
    pcomm_status st;
    char *out = pt_capture(cmd, &len, &st);
    assert_string_equal(out, "blocked=0 ignored=0 handled=0\n");
    free(out);
    pcomm_cmd_free(cmd);

    /* And the child can be terminated although the parent ignores and blocks SIGTERM. */
    cmd = pt_helper_cmd("sleep", "30000", NULL);
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    PT_OK(pcomm_proc_kill(proc, SIGTERM));
    PT_OK(pcomm_proc_wait(proc, 5000));
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(st.how, PCOMM_SIGNALED);
    assert_int_equal(st.code, SIGTERM);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);

    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void test_group_kill_reaches_grandchild(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("grandchild", "30000", "ids", "sleep", "30000", NULL);
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    char line[256];
    pt_read_lines(pcomm_proc_fd(proc, 1), line, sizeof line, 2);
    int grandchild, pid, pgid, sid, ppid;
    assert_int_equal(sscanf(line, "%d %d %d %d %d", &grandchild, &pid, &pgid, &sid, &ppid), 5);
    assert_int_equal(pid, pcomm_proc_pid(proc));
    assert_int_equal(pgid, pid); /* leads its own group by default */
    assert_int_equal(ppid, getpid());
    PT_OK(pcomm_proc_kill(proc, SIGKILL));
    PT_OK(pcomm_proc_wait(proc, 5000));
    assert_true(pt_wait_dead(grandchild));
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
}

static void test_group_modes(void **state)
{
    (void)state;
    const int modes[] = {PCOMM_GROUP_OWN, PCOMM_GROUP_INHERIT, PCOMM_GROUP_SESSION};
    for (int i = 0; i < 3; i++) {
        pcomm_cmd *cmd = pt_helper_cmd("ids", NULL);
        PT_OK(pcomm_cmd_set_group(cmd, modes[i]));
        size_t len;
        pcomm_status st;
        char *out = pt_capture(cmd, &len, &st);
        int pid, pgid, sid, ppid;
        assert_int_equal(sscanf(out, "%d %d %d %d", &pid, &pgid, &sid, &ppid), 4);
        free(out);
        pcomm_cmd_free(cmd);
        if (modes[i] == PCOMM_GROUP_INHERIT) {
            assert_int_equal(pgid, getpgrp());
        } else {
            assert_int_equal(pgid, pid);
        }
        if (modes[i] == PCOMM_GROUP_SESSION) {
            assert_int_equal(sid, pid);
        } else {
            assert_int_equal(sid, getsid(0));
        }
    }
}

static void test_wait_twice_and_kill_after_exit(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("exit", "3", NULL);
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    PT_OK(pcomm_proc_wait(proc, -1));
    PT_OK(pcomm_proc_wait(proc, -1));
    PT_OK(pcomm_proc_wait(proc, 0));
    PT_OK(pcomm_proc_kill(proc, SIGTERM));
    PT_OK(pcomm_proc_kill(proc, SIGKILL));
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(st.how, PCOMM_EXITED);
    assert_int_equal(st.code, 3);
    assert_int_equal(pcomm_proc_kill(proc, -1), -EINVAL);
    assert_int_equal(pcomm_proc_kill(proc, NSIG), -EINVAL);
    pcomm_proc_free(proc);

    PT_OK(pcomm_cmd_set_group(cmd, PCOMM_GROUP_INHERIT)); /* the pidfd path */
    PT_OK(pcomm_spawn(cmd, &proc));
    PT_OK(pcomm_proc_wait(proc, -1));
    PT_OK(pcomm_proc_kill(proc, SIGTERM));
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(st.code, 3);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
}

static void test_wait_timeout(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("sleep", "30000", NULL);
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    assert_int_equal(pcomm_proc_wait(proc, 0), -ETIMEDOUT);
    double t0 = pt_ms();
    assert_int_equal(pcomm_proc_wait(proc, 200), -ETIMEDOUT);
    double took = pt_ms() - t0;
    assert_true(took >= 199 && took < 200 + pt_late_ms());
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(st.how, PCOMM_RUNNING);
    /* A stopped child is not "ended". */
    PT_OK(pcomm_proc_kill(proc, SIGSTOP));
    assert_int_equal(pcomm_proc_wait(proc, 100), -ETIMEDOUT);
    pcomm_proc_free(proc); /* kills the running (stopped) child and reaps it */
    pcomm_cmd_free(cmd);
    int zombies;
    assert_int_equal(pt_count_children(&zombies), 0);
}

static void test_free_running_kills_group(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("ignore", "15", "grandchild", "30000", "sleep", "30000", NULL);
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    char buf[32] = {0};
    assert_true(pt_read_lines(pcomm_proc_fd(proc, 1), buf, sizeof buf, 1) > 0);
    int grandchild = atoi(buf);
    pcomm_proc_free(proc);
    assert_true(pt_wait_dead(grandchild));
    pcomm_cmd_free(cmd);
}

static void test_sigchld_ignored_host(void **state)
{
    (void)state;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGCHLD, &ign, &old);
    pcomm_cmd *cmd = pt_helper_cmd("exit", "0", NULL);
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    double t0 = pt_ms();
    assert_int_equal(pcomm_proc_wait(proc, 10000), -ECHILD);
    assert_true(pt_ms() - t0 < 5000);
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(st.how, PCOMM_UNKNOWN);
    assert_int_equal(pcomm_status_shell_code(&st), -1);
    assert_int_equal(pcomm_proc_kill(proc, SIGTERM), -ECHILD);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    sigaction(SIGCHLD, &old, NULL);
}

static void test_proc_fd_accessors(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("echo", NULL);
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 0));
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    assert_true(pcomm_proc_pidfd(proc) >= 0);
    assert_string_equal(pcomm_proc_spawn_path(proc), "posix_spawn+pidfd");
    assert_int_equal(pcomm_proc_fd(proc, 2), -EBADF);
    assert_int_equal(pcomm_proc_fd(proc, -1), -EINVAL);
    assert_int_equal(pcomm_proc_fd(NULL, 0), -EINVAL);
    int in = pcomm_proc_fd(proc, 0);
    assert_true(in >= 0);
    assert_int_equal(pt_write(in, "ping", 4), 4);
    PT_OK(pcomm_proc_close_fd(proc, 0));
    assert_int_equal(pcomm_proc_close_fd(proc, 0), -EBADF);
    char buf[8] = {0};
    assert_int_equal(pt_read(pcomm_proc_fd(proc, 1), buf, sizeof buf), 4);
    assert_string_equal(buf, "ping");
    PT_OK(pcomm_proc_wait(proc, -1));
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    assert_int_equal(pcomm_proc_pid(NULL), -EINVAL);
    assert_int_equal(pcomm_proc_wait(NULL, 0), -EINVAL);
    assert_int_equal(pcomm_proc_status(NULL, NULL), -EINVAL);
    pcomm_proc_free(NULL);
}

/* 8 threads x 1,000 spawns: no failure, no leak, no zombie. */
static void *spawn_many(void *arg)
{
    pcomm_cmd *cmd = arg;
    for (int i = 0; i < 1000; i++) {
        pcomm_proc *proc;
        if (pcomm_spawn(cmd, &proc) < 0)
            return (void *)1;
        pcomm_status st;
        if (pcomm_proc_wait(proc, -1) < 0 || pcomm_proc_status(proc, &st) < 0 ||
            st.how != PCOMM_EXITED || st.code != 5) {
            pcomm_proc_free(proc);
            return (void *)2;
        }
        pcomm_proc_free(proc);
    }
    return NULL;
}

static void test_threads_spawning(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("exit", "5", NULL);
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
    int fds_before = pt_count_fds();
    pthread_t threads[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, spawn_many, cmd), 0);
    int failures = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(threads[i], &r);
        failures += r != NULL;
    }
    assert_int_equal(failures, 0);
    assert_int_equal(pt_count_fds(), fds_before);
    int zombies;
    assert_int_equal(pt_count_children(&zombies), 0);
    pcomm_cmd_free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_exit_codes_and_signals),
        PT_TEST(test_resource_usage),
        PT_TEST(test_child_signal_state_is_default),
        PT_TEST(test_group_kill_reaches_grandchild),
        PT_TEST(test_group_modes),
        PT_TEST(test_wait_twice_and_kill_after_exit),
        PT_TEST(test_wait_timeout),
        PT_TEST(test_free_running_kills_group),
        PT_TEST(test_sigchld_ignored_host),
        PT_TEST(test_proc_fd_accessors),
        PT_TEST(test_threads_spawning),
    };
    return PT_RUN(tests);
}
