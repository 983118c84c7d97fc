/* tests/test_cli_pty.c - the pcomm command's line buffering: -u, --pty=WHICH, --linebuf,
 * --size, -v's pty report, SIGWINCH relay. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The seconds of each "  S.SSS out| " stamped line of text, up to max. */
static int stamps(const char *text, double *secs, int max)
{
    int n = 0;
    for (const char *p = text; p && *p && n < max; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (sscanf(p, "%lf", &secs[n]) == 1)
            n++;
    return n;
}

static void test_unbuffer_separate(void **state)
{
    (void)state;
    struct cli_result r = RUN_CLI("-u", "HELPER", "isatty", "1", "isatty", "2", "print", "a\nb\r\n",
                                  "eprint", "E\n", "winsize", "2");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "1\n1\na\nb\r\n80x24\n"); /* byte-exact, no "\r" added */
    assert_string_equal(r.err, "E\n");
    result_free(&r);
    r = RUN_CLI("--unbuffer", "/bin/sh", "-c", "echo x; kill -SEGV $$");
    assert_int_equal(r.status, 139); /* a signal is never turned into 0 */
    assert_string_equal(r.out, "x\n");
    result_free(&r);
    r = RUN_CLI("-u", "--size=100x30", "HELPER", "winsize", "1", "exit", "3");
    assert_int_equal(r.status, 3);
    assert_string_equal(r.out, "100x30\n");
    result_free(&r);
    r = RUN_CLI("--pty=stderr", "HELPER", "isatty", "1", "isatty", "2", "ctty");
    assert_string_equal(r.out, "0\n1\n1\n");
    result_free(&r);
    r = RUN_CLI("--pty=stdout", "HELPER", "isatty", "1", "isatty", "2", "ctty");
    assert_string_equal(r.out, "1\n0\n1\n");
    result_free(&r);
}

static void test_verbose_report(void **state)
{
    (void)state;
    struct cli_result r = RUN_CLI("-v", "-u", "HELPER", "exit", "0");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "(stdout) 80x24, controlling terminal\n"));
    assert_non_null(strstr(r.err, "(stderr) 80x24, not the controlling terminal\n"));
    assert_non_null(strstr(r.err, "pcomm: pty /dev/pts/"));
    result_free(&r);
    r = RUN_CLI("-v", "--pty=merged", "-T", "HELPER", "print", "A", "eprint", "B\n");
    assert_non_null(strstr(r.err, "(stdout, stderr) 80x24, controlling terminal\n"));
    assert_non_null(strstr(r.out, " out| AB\n")); /* one stream, exact interleaving */
    result_free(&r);
}

/* The README's demonstration: a child that block-buffers into pipes shows its lines only at its
 * exit through pcomm -T, and each line as it is written through pcomm -u -T (or --linebuf). */
static void test_live_lines(void **state)
{
    (void)state;
    const char *modes[] = {NULL, "-u", "--linebuf"};
    for (int m = 0; m < 3; m++) {
        if (m == 2 && !pcomm_linebuf_library())
            continue;
        struct cli_result r = m ? RUN_CLI(modes[m], "-T", "HELPER", "lines", "3", "300")
                                : RUN_CLI("-T", "HELPER", "lines", "3", "300");
        assert_int_equal(r.status, 0);
        double t[3];
        assert_int_equal(stamps(r.out, t, 3), 3);
        if (m)
            assert_true(t[2] - t[0] >= 0.4); /* live */
        else
            assert_true(t[2] - t[0] < 0.3); /* all at the end */
        result_free(&r);
    }
}

static void test_pty_all_input(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), path[512];
    snprintf(path, sizeof path, "%s/in", dir);
    pt_write_file(path, "hello", 0600);
    struct cli_result r = RUN_CLI("--pty=all", "-i", path, "HELPER", "isatty", "0", "count");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "1\n5\n"); /* EOF seen after a last line without newline */
    result_free(&r);
    pt_rmtree(dir);
    free(dir);
}

static void test_bad_values(void **state)
{
    (void)state;
    const char *bad[] = {"--pty=bogus", "--size=0x5", "--size=80",
                         "--size=80x",  "--size=x24", "--size=70000x24"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cli_result r = RUN_CLI(bad[i], "HELPER", "exit", "0");
        assert_int_equal(r.status, 125);
        assert_non_null(strstr(r.err, "Try 'pcomm --help'"));
        result_free(&r);
    }
}

/* pcomm in a terminal (its stdin on a pty that is its controlling terminal): a resize of that
 * terminal reaches the command's pty, and the command gets SIGWINCH. */
static void test_winch_relay(void **state)
{
    (void)state;
    pcomm_cmd *cmd = cli_cmd("-u", "HELPER", "winch", "10000", "winsize", "1", NULL);
    PT_OK(pcomm_cmd_stdio_pty(cmd, 0, 0));
    PT_OK(pcomm_cmd_set_winsize(cmd, 90, 20));
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
    PT_OK(pcomm_cmd_stdio_null(cmd, 2));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    pcomm_pty_info info;
    PT_OK(pcomm_proc_pty(proc, 0, &info));
    assert_int_equal(info.path, PCOMM_PTY_CTTY);
    char buf[256];
    int fd = pcomm_proc_fd(proc, 1);
    pt_read_lines(fd, buf, sizeof buf, 1);
    assert_string_equal(buf, "ready\n");
    PT_OK(pcomm_proc_set_winsize(proc, 132, 40));
    pt_read_lines(fd, buf, sizeof buf, 2);
    assert_string_equal(buf, "winch 132x40\n132x40\n");
    PT_OK(pcomm_proc_wait(proc, 20000));
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(pcomm_status_shell_code(&st), 0);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_unbuffer_separate), PT_TEST(test_verbose_report), PT_TEST(test_live_lines),
        PT_TEST(test_pty_all_input),     PT_TEST(test_bad_values),     PT_TEST(test_winch_relay),
    };
    return PT_RUN(tests);
}
