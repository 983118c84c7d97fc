/* tests/test_cli.c - the pcomm command: options, exit statuses, messages, signal forwarding.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cli_result {
    int status; /* shell code */
    char *out, *err;
    size_t out_len, err_len;
};

static void drain_two(int out_fd, int err_fd, struct cli_result *res)
{
    size_t cap[2] = {4096, 4096}, len[2] = {0, 0};
    char *buf[2] = {malloc(cap[0] + 1), malloc(cap[1] + 1)};
    struct pollfd pfd[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        if (poll(pfd, 2, -1) < 0) {
            assert_int_equal(errno, EINTR);
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            if (len[i] == cap[i])
                buf[i] = realloc(buf[i], (cap[i] *= 2) + 1);
            ssize_t n = read(pfd[i].fd, buf[i] + len[i], cap[i] - len[i]);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                pfd[i].fd = -1;
            else
                len[i] += (size_t)n;
        }
    }
    buf[0][len[0]] = buf[1][len[1]] = '\0';
    res->out = buf[0];
    res->err = buf[1];
    res->out_len = len[0];
    res->err_len = len[1];
}

/* Run pcomm with the given arguments (NULL-terminated) and collect everything. */
static struct cli_result run_cli_cmd(pcomm_cmd *cmd)
{
    struct cli_result res;
    PT_OK(pcomm_cmd_stdio_null(cmd, 0));
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 2));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    drain_two(pcomm_proc_fd(proc, 1), pcomm_proc_fd(proc, 2), &res);
    PT_OK(pcomm_proc_wait(proc, -1));
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    res.status = pcomm_status_shell_code(&st);
    pcomm_proc_free(proc);
    return res;
}

static pcomm_cmd *cli_cmd(const char *first, ...)
{
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new(&cmd));
    PT_OK(pcomm_cmd_arg(cmd, PCOMM_TEST_CLI));
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w; w = va_arg(ap, const char *))
        PT_OK(pcomm_cmd_arg(cmd, strcmp(w, "HELPER") ? w : pt_helper()));
    va_end(ap);
    return cmd;
}

#define RUN_CLI(...)                                                                               \
    ({                                                                                             \
        pcomm_cmd *c_ = cli_cmd(__VA_ARGS__, NULL);                                                \
        struct cli_result r_ = run_cli_cmd(c_);                                                    \
        pcomm_cmd_free(c_);                                                                        \
        r_;                                                                                        \
    })

static void result_free(struct cli_result *r)
{
    free(r->out);
    free(r->err);
}

static void test_exit_statuses(void **state)
{
    (void)state;
    struct cli_result r = RUN_CLI("HELPER", "exit", "3");
    assert_int_equal(r.status, 3);
    assert_int_equal(r.err_len, 0);
    result_free(&r);
    r = RUN_CLI("HELPER", "kill", "9");
    assert_int_equal(r.status, 137);
    result_free(&r);
    r = RUN_CLI("--", "HELPER", "exit", "0");
    assert_int_equal(r.status, 0);
    result_free(&r);
}

static void test_not_found_and_cannot_run(void **state)
{
    (void)state;
    struct cli_result r = RUN_CLI("/nonexistent/prog");
    assert_int_equal(r.status, 127);
    assert_string_equal(r.err,
                        "pcomm: cannot run '/nonexistent/prog': No such file or directory\n");
    result_free(&r);
    r = RUN_CLI("pcomm-no-such-program-xyz", "arg");
    assert_int_equal(r.status, 127);
    result_free(&r);

    char *dir = pt_tempdir(), path[512];
    snprintf(path, sizeof path, "%s/noexec", dir);
    pt_write_file(path, "#!/bin/sh\n", 0644);
    r = RUN_CLI(path);
    assert_int_equal(r.status, 126);
    assert_non_null(strstr(r.err, "Permission denied"));
    result_free(&r);
    snprintf(path, sizeof path, "%s/noshebang", dir);
    pt_write_file(path, "echo hi\n", 0755);
    r = RUN_CLI(path);
    assert_int_equal(r.status, 126);
    assert_non_null(strstr(r.err, "Exec format error"));
    result_free(&r);
    pt_rmtree(dir);
    free(dir);

    r = RUN_CLI("-C", "/nonexistent-dir", "HELPER", "exit", "0");
    assert_int_equal(r.status, 125);
    assert_string_equal(r.err, "pcomm: cannot change directory to '/nonexistent-dir': No such "
                               "file or directory\n");
    result_free(&r);
}

static void test_usage_errors(void **state)
{
    (void)state;
    struct cli_result r = RUN_CLI("--bogus", "HELPER");
    assert_int_equal(r.status, 125);
    assert_non_null(strstr(r.err, "pcomm: unknown option '--bogus'\n"));
    assert_non_null(strstr(r.err, "Try 'pcomm --help' for more information.\n"));
    result_free(&r);
    r = RUN_CLI("-C");
    assert_int_equal(r.status, 125);
    assert_non_null(strstr(r.err, "needs an argument"));
    result_free(&r);
    r = RUN_CLI("-v");
    assert_int_equal(r.status, 125);
    assert_non_null(strstr(r.err, "no command given"));
    result_free(&r);
    r = RUN_CLI("-E", "NOEQUALS", "HELPER");
    assert_int_equal(r.status, 125);
    result_free(&r);
    /* Options after the command belong to the command. */
    r = RUN_CLI("HELPER", "print", "-v");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "-v");
    result_free(&r);
}

static void test_help_and_version(void **state)
{
    (void)state;
    struct cli_result r = RUN_CLI("--help");
    assert_int_equal(r.status, 0);
    assert_true(strncmp(r.out, "Usage: pcomm", 12) == 0);
    assert_int_equal(r.err_len, 0);
    result_free(&r);
    r = RUN_CLI("-V");
    assert_int_equal(r.status, 0);
    assert_true(
        strncmp(r.out, "pcomm " PCOMM_VERSION_STRING "\n", 7 + strlen(PCOMM_VERSION_STRING)) == 0);
    /* The codecs line lists exactly what the library reports. */
    char codecs[256], line[300];
    pcomm_filter_versions(codecs, sizeof codecs);
    snprintf(line, sizeof line, "\ncodecs: %s\n", codecs);
    assert_non_null(strstr(r.out, line));
    result_free(&r);
}

static void test_environment_options(void **state)
{
    (void)state;
    struct cli_result r =
        RUN_CLI("-I", "-E", "A=1", "-E", "B=x=y", "-U", "A", "-E", "C=", "HELPER", "env");
    assert_int_equal(r.status, 0);
    const char expect[] = "B=x=y\0C=";
    assert_int_equal(r.out_len, sizeof expect);
    assert_memory_equal(r.out, expect, sizeof expect);
    result_free(&r);
    setenv("PCOMM_CLI_TEST_VAR", "present", 1);
    r = RUN_CLI("--unset=PCOMM_CLI_TEST_VAR", "HELPER", "env");
    assert_null(memmem(r.out, r.out_len, "PCOMM_CLI_TEST_VAR", 18));
    result_free(&r);
    unsetenv("PCOMM_CLI_TEST_VAR");
}

static void test_chdir_and_groups(void **state)
{
    (void)state;
    struct cli_result r = RUN_CLI("--chdir=/usr", "HELPER", "cwd");
    assert_string_equal(r.out, "/usr\n");
    result_free(&r);

    int pid, pgid, sid, ppid;
    r = RUN_CLI("HELPER", "ids");
    assert_int_equal(sscanf(r.out, "%d %d %d %d", &pid, &pgid, &sid, &ppid), 4);
    assert_int_equal(pgid, pid); /* its own group */
    result_free(&r);
    r = RUN_CLI("--foreground", "HELPER", "ids");
    assert_int_equal(sscanf(r.out, "%d %d %d %d", &pid, &pgid, &sid, &ppid), 4);
    assert_int_equal(pgid, ppid); /* pcomm's group: pcomm leads it, as the test spawned it so */
    result_free(&r);
}

static void test_verbose(void **state)
{
    (void)state;
    struct cli_result r = RUN_CLI("-v", "HELPER", "exit", "4");
    assert_int_equal(r.status, 4);
    assert_non_null(strstr(r.err, "pcomm: spawn path posix_spawn+pidfd\n"));
    assert_non_null(strstr(r.err, "pcomm: command exited with status 4\n"));
    result_free(&r);
}

static void check_forwarded(int sig)
{
    pcomm_cmd *cmd = cli_cmd("HELPER", "println", "ready", "sleep", "30000", NULL);
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    char buf[16] = {0};
    assert_true(pt_read_lines(pcomm_proc_fd(proc, 1), buf, sizeof buf, 1) > 0); /* it runs */
    assert_int_equal(kill(pcomm_proc_pid(proc), sig), 0); /* to pcomm alone, not its group */
    assert_int_equal(pcomm_proc_wait(proc, 5000), 0);
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(st.how, PCOMM_EXITED); /* pcomm itself exits, with the child's status */
    assert_int_equal(st.code, 128 + sig);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
}

static void test_signal_forwarding(void **state)
{
    (void)state;
    check_forwarded(SIGTERM);
    check_forwarded(SIGINT);
    check_forwarded(SIGHUP);
    check_forwarded(SIGQUIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_exit_statuses),
        PT_TEST(test_not_found_and_cannot_run),
        PT_TEST(test_usage_errors),
        PT_TEST(test_help_and_version),
        PT_TEST(test_environment_options),
        PT_TEST(test_chdir_and_groups),
        PT_TEST(test_verbose),
        PT_TEST(test_signal_forwarding),
    };
    return PT_RUN(tests);
}
