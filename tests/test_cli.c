/* tests/test_cli.c - the pcomm command: options, exit statuses, messages, signal forwarding.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "cli_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    assert_non_null(strstr(r.err, "pcomm: command ended: exit status 4\n"));
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

/* ---- input, output and time limits ---------------------------------------------------------- */

static bool matches_stamp(const char *line, const char *stream)
{
    /* "%7.3f out| " */
    double t;
    char tag[4];
    return sscanf(line, "%lf %3s", &t, tag) == 2 && t >= 0 && t < 30 && !strcmp(tag, stream) &&
           line[7] == ' ' && line[8] == stream[0] && !strncmp(line + 11, "| ", 2);
}

static void test_timestamps_and_prefix(void **state)
{
    (void)state;
    struct cli_result r = RUN_CLI("-T", "HELPER", "print", "one\ntwo\n", "eprint", "err\n");
    assert_int_equal(r.status, 0);
    char *second = strchr(r.out, '\n') + 1;
    assert_true(matches_stamp(r.out, "out") && !strncmp(r.out + 13, "one\n", 4));
    assert_true(matches_stamp(second, "out") && !strncmp(second + 13, "two\n", 4));
    assert_true(matches_stamp(r.err, "err") && !strcmp(r.err + 13, "err\n"));
    result_free(&r);
    r = RUN_CLI("--prefix=[job] ", "HELPER", "print", "a\nb", "eprint", "c\n");
    assert_string_equal(r.out, "[job] a\n[job] b");
    assert_string_equal(r.err, "[job] c\n");
    result_free(&r);
}

static void test_quiet_merge_and_input(void **state)
{
    (void)state;
    struct cli_result r = RUN_CLI("-q", "HELPER", "print", "x", "eprint", "y", "exit", "3");
    assert_int_equal(r.status, 3);
    assert_int_equal(r.out_len + r.err_len, 0);
    result_free(&r);
    r = RUN_CLI("-m", "HELPER", "print", "1", "eprint", "2", "print", "3");
    assert_string_equal(r.out, "123");
    assert_int_equal(r.err_len, 0);
    result_free(&r);
    r = RUN_CLI("-m", "-T", "HELPER", "eprint", "e\n");
    assert_true(matches_stamp(r.out, "out"));
    result_free(&r);

    char *dir = pt_tempdir(), path[512];
    snprintf(path, sizeof path, "%s/in", dir);
    pt_write_file(path, "from a file\n", 0600);
    r = RUN_CLI("-i", path, "HELPER", "echo");
    assert_string_equal(r.out, "from a file\n");
    result_free(&r);
    snprintf(path, sizeof path, "%s/missing", dir);
    r = RUN_CLI("--input", path, "HELPER", "echo");
    assert_int_equal(r.status, 125);
    assert_non_null(strstr(r.err, "cannot read"));
    result_free(&r);
    /* -i - reads pcomm's own stdin. */
    pcomm_cmd *cmd = cli_cmd("-i", "-", "HELPER", "echo", NULL);
    snprintf(path, sizeof path, "%s/in", dir);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_input_file(job, path));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, 1 << 20));
    PT_OK(pcomm_run(job));
    const void *data;
    size_t len;
    PT_OK(pcomm_spool_view(pcomm_job_output(job, PCOMM_STDOUT), &data, &len));
    assert_int_equal(len, 12);
    assert_memory_equal(data, "from a file\n", 12);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
    pt_rmtree(dir);
    free(dir);
}

static void test_tail_on_failure(void **state)
{
    (void)state;
    struct cli_result r =
        RUN_CLI("--tail=2", "-q", "HELPER", "print", "1\n2\n3\n", "eprint", "4", "exit", "2");
    assert_int_equal(r.status, 2);
    assert_int_equal(r.out_len, 0);
    assert_string_equal(r.err, "pcomm: last 2 lines of output (exit status 2):\n3\n4\n");
    result_free(&r);
    r = RUN_CLI("--tail=2", "HELPER", "print", "1\n2\n3\n");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "1\n2\n3\n"); /* live, and no tail on success */
    assert_int_equal(r.err_len, 0);
    result_free(&r);
}

static void test_timeouts(void **state)
{
    (void)state;
    double t0 = pt_ms();
    struct cli_result r = RUN_CLI("-t", "200ms", "HELPER", "sleep", "30000");
    assert_int_equal(r.status, 124);
    assert_true(pt_ms() - t0 < 1000);
    result_free(&r);
    r = RUN_CLI("-t", "0.2", "--preserve-status", "HELPER", "sleep", "30000");
    assert_int_equal(r.status, 128 + SIGTERM);
    result_free(&r);
    r = RUN_CLI("-t", "0.1", "-s", "SIGINT", "--preserve-status", "HELPER", "sleep", "30000");
    assert_int_equal(r.status, 128 + SIGINT);
    result_free(&r);
    t0 = pt_ms();
    r = RUN_CLI("-t", "100ms", "-k", "200ms", "--preserve-status", "HELPER", "ignore", "15",
                "sleep", "30000");
    assert_int_equal(r.status, 128 + SIGKILL);
    assert_true(pt_ms() - t0 < 1500);
    result_free(&r);
    r = RUN_CLI("-t", "5", "HELPER", "exit", "9"); /* no timeout reached: own status */
    assert_int_equal(r.status, 9);
    result_free(&r);
    r = RUN_CLI("-t", "0", "HELPER", "sleep", "100", "exit", "4"); /* 0 disables */
    assert_int_equal(r.status, 4);
    result_free(&r);
}

static void test_linger(void **state)
{
    (void)state;
    double t0 = pt_ms();
    struct cli_result r =
        RUN_CLI("-T", "--linger=300ms", "-v", "HELPER", "grandchild", "30000", "exit", "0");
    double took = pt_ms() - t0;
    assert_int_equal(r.status, 0);
    assert_true(took < 1500);
    assert_non_null(strstr(r.err, "output may be incomplete"));
    result_free(&r);
}

static void test_bad_values(void **state)
{
    (void)state;
    const char *bad[][2] = {{"-t", "abc"},   {"-t", "-1"},          {"-t", "5x"},
                            {"-k", "1y"},    {"-s", "NOPE"},        {"-s", "99"},
                            {"--tail", "x"}, {"--spool-max", "1T"}, {"--linger", ""}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cli_result r = RUN_CLI(bad[i][0], bad[i][1], "HELPER", "exit", "0");
        assert_int_equal(r.status, 125);
        assert_non_null(strstr(r.err, "Try 'pcomm --help'"));
        result_free(&r);
    }
}

/* When pcomm's own stdout goes away (pcomm -T cmd | head -1), it ends quietly with 141, as the
 * command itself would have. */
static void test_reader_goes_away(void **state)
{
    (void)state;
    pcomm_cmd *cmd = cli_cmd("-T", "HELPER", "write", "1", "100000000", "1", NULL);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    PT_OK(pcomm_cmd_stdio_fd(cmd, 1, p[1]));
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 2));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    close(p[1]);
    char buf[64];
    assert_true(pt_read(p[0], buf, sizeof buf) > 0);
    close(p[0]);
    size_t len;
    char *err = pt_slurp(pcomm_proc_fd(proc, 2), &len);
    PT_OK(pcomm_proc_wait(proc, 10000));
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(st.how, PCOMM_EXITED);
    assert_int_equal(st.code, 128 + SIGPIPE);
    assert_int_equal(len, 0);
    free(err);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
}

static void test_pipeline_option(void **state)
{
    (void)state;
    struct cli_result r = RUN_CLI("-c", "echo foo | sed s/foo/bar/");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "bar\n");
    result_free(&r);
    r = RUN_CLI("-c", "sh -c 'exit 2' | sh -c 'exit 3' | true"); /* pipefail */
    assert_int_equal(r.status, 3);
    result_free(&r);
    r = RUN_CLI("--pipeline=yes | head -n 1");
    assert_int_equal(r.status, 0);
    result_free(&r);
    r = RUN_CLI("-c", "true | sh -c 'kill -TERM $$'");
    assert_int_equal(r.status, 128 + SIGTERM);
    result_free(&r);
    r = RUN_CLI("-c", "true | pcomm-no-such-program | cat");
    assert_int_equal(r.status, 127);
    assert_string_equal(r.err,
                        "pcomm: cannot run 'pcomm-no-such-program': No such file or directory\n");
    result_free(&r);
    /* -m with the output left to the stages: stage 0's stdout still feeds stage 1, its stderr
     * goes where the pipeline's stdout goes. */
    r = RUN_CLI("-m", "-c", "sh -c 'echo a; echo b >&2' | sed s/a/A/");
    assert_true(!strcmp(r.out, "A\nb\n") || !strcmp(r.out, "b\nA\n"));
    assert_int_equal(r.err_len, 0);
    result_free(&r);
    r = RUN_CLI("-E", "WHO=stage", "-c", "sh -c 'echo $WHO' | cat");
    assert_string_equal(r.out, "stage\n");
    result_free(&r);
    r = RUN_CLI("-t", "0.2", "-c", "sleep 30 | sleep 30");
    assert_int_equal(r.status, 124);
    result_free(&r);
    r = RUN_CLI("-q", "--tail=2", "-c", "sh -c 'echo a; echo b >&2; exit 4' | cat");
    assert_int_equal(r.status, 4); /* cat succeeded, the first stage failed: pipefail */
    assert_non_null(strstr(r.err, "pcomm: last 2 lines of output (exit status 4):\n"));
    assert_true(strstr(r.err, "\na\nb\n") || strstr(r.err, "\nb\na\n"));
    result_free(&r);
}

static void test_pipeline_syntax_errors(void **state)
{
    (void)state;
    struct cli_result r = RUN_CLI("-c", "echo 'open");
    assert_int_equal(r.status, 125);
    assert_non_null(strstr(r.err, "syntax error at column 6"));
    assert_non_null(strstr(r.err, "Try 'pcomm --help'"));
    result_free(&r);
    r = RUN_CLI("-c", "a | | b");
    assert_int_equal(r.status, 125);
    assert_non_null(strstr(r.err, "column 5: empty stage"));
    result_free(&r);
    r = RUN_CLI("-c", "");
    assert_int_equal(r.status, 125);
    result_free(&r);
    r = RUN_CLI("-c", "true", "extra");
    assert_int_equal(r.status, 125);
    result_free(&r);
}

/* ---- -o / -e: atomic output files ---------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *text = pt_slurp(fd, len);
    close(fd);
    return text;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void test_output_files(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), out[512], err[512];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(err, sizeof err, "%s/err.txt", dir);
    struct cli_result r =
        RUN_CLI("-o", out, "-e", err, "HELPER", "print", "O\n", "eprint", "E\n", "exit", "3");
    assert_int_equal(r.status, 3); /* the command's own failure still produces the files */
    assert_int_equal(r.out_len + r.err_len, 0);
    result_free(&r);
    size_t len;
    char *text = read_file(out, &len);
    assert_string_equal(text, "O\n");
    free(text);
    text = read_file(err, &len);
    assert_string_equal(text, "E\n");
    free(text);

    r = RUN_CLI("--output", out, "--tee", "HELPER", "print", "both\n");
    assert_string_equal(r.out, "both\n");
    result_free(&r);
    text = read_file(out, &len);
    assert_string_equal(text, "both\n");
    free(text);

    r = RUN_CLI("-m", "-o", out, "HELPER", "print", "1", "eprint", "2", "print", "3");
    text = read_file(out, &len);
    assert_string_equal(text, "123");
    free(text);
    result_free(&r);
    r = RUN_CLI("-m", "-e", err, "HELPER", "exit", "0");
    assert_int_equal(r.status, 125);
    result_free(&r);

    /* 64 MiB: spliced into the file, byte-exact. */
    r = RUN_CLI("-o", out, "HELPER", "write", "1", "67108864", "8");
    assert_int_equal(r.status, 0);
    result_free(&r);
    text = read_file(out, &len);
    assert_int_equal(len, 64 << 20);
    assert_int_equal(pt_pattern_check(text, len, 0, 8), len);
    free(text);

    /* A timed-out command still produces its (partial) output. */
    r = RUN_CLI("-t", "0.3", "-o", out, "HELPER", "println", "before", "sleep", "30000");
    assert_int_equal(r.status, 124);
    result_free(&r);
    text = read_file(out, &len);
    assert_string_equal(text, "before\n");
    free(text);
    assert_int_equal(count_entries(dir), 2); /* out.txt, err.txt: no temp file left */
    pt_rmtree(dir);
    free(dir);
}

/* When pcomm itself fails, FILE is left as it was and no temp file remains. */
static void test_output_untouched_when_pcomm_fails(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), out[512];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    pt_write_file(out, "old contents\n", 0644);
    struct cli_result r = RUN_CLI("-o", out, "pcomm-no-such-program");
    assert_int_equal(r.status, 127);
    result_free(&r);
    r = RUN_CLI("-o", out, "-i", "/nonexistent-input", "HELPER", "echo");
    assert_int_equal(r.status, 125);
    result_free(&r);
    size_t len;
    char *text = read_file(out, &len);
    assert_string_equal(text, "old contents\n");
    free(text);
    assert_int_equal(count_entries(dir), 1);
    pt_rmtree(dir);
    free(dir);
}

/* Disk full while writing -o: exit 125, the old file intact, nothing left behind. A 64 KiB tmpfs
 * in a private mount namespace (skipped where namespaces are not permitted). */
static void test_output_disk_full(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), script[2048];
    snprintf(script, sizeof script,
             "mount -t tmpfs -o size=64k tmpfs '%s' || exit 77; "
             "printf 'old\\n' > '%s/out'; "
             "'%s' -o '%s/out' '%s' write 1 1048576 2; rc=$?; "
             "printf '%%s ' \"$rc\" \"$(cat '%s/out')\" \"$(ls -A '%s' | wc -l)\"",
             dir, dir, PCOMM_TEST_CLI, dir, pt_helper(), dir, dir);
    const char *argv[] = {"unshare", "-m", "--propagation", "private", "sh", "-c", script, NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 2));
    size_t len;
    pcomm_status st;
    char *res = pt_capture(cmd, &len, &st);
    pcomm_cmd_free(cmd);
    pt_rmtree(dir);
    free(dir);
    if (pcomm_status_shell_code(&st) == 77 || pcomm_status_shell_code(&st) == 1) {
        free(res);
        skip(); /* no mount namespaces here */
    }
    assert_string_equal(res, "125 old 1 ");
    free(res);
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
        PT_TEST(test_timestamps_and_prefix),
        PT_TEST(test_quiet_merge_and_input),
        PT_TEST(test_tail_on_failure),
        PT_TEST(test_timeouts),
        PT_TEST(test_linger),
        PT_TEST(test_bad_values),
        PT_TEST(test_reader_goes_away),
        PT_TEST(test_pipeline_option),
        PT_TEST(test_pipeline_syntax_errors),
        PT_TEST(test_output_files),
        PT_TEST(test_output_untouched_when_pcomm_fails),
        PT_TEST(test_output_disk_full),
    };
    return PT_RUN(tests);
}
