/* tests/test_report.c - pcomm's reporting: --json (checked against docs/pcomm.schema.json and
 * field by field), --trace, --lock, -v and the status line. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static char report_path[512];

/* Run pcomm with -j report_path and the given arguments ("HELPER" = the helper); returns
 * pcomm's exit status. stdout and stderr go to /dev/null unless captured by the caller. */
static int run_json(const char *first, ...)
{
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new(&cmd));
    PT_OK(pcomm_cmd_arg(cmd, PCOMM_TEST_CLI));
    PT_OK(pcomm_cmd_arg(cmd, "-j"));
    PT_OK(pcomm_cmd_arg(cmd, report_path));
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w; w = va_arg(ap, const char *))
        PT_OK(pcomm_cmd_arg(cmd, strcmp(w, "HELPER") ? w : pt_helper()));
    va_end(ap);
    for (int fd = 0; fd <= 2; fd++)
        PT_OK(pcomm_cmd_stdio_null(cmd, fd));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    PT_OK(pcomm_proc_wait(proc, -1));
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    return pcomm_status_shell_code(&st);
}

/* Validate the report against the schema and check PATH=VALUE fields (tests/check_json.py). */
static void check(const char *first, ...)
{
    pcomm_cmd *cmd;
    const char *argv[] = {"python3", PCOMM_TEST_SOURCE_DIR "/check_json.py",
                          PCOMM_TEST_SOURCE_DIR "/../docs/pcomm.schema.json", report_path, NULL};
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w; w = va_arg(ap, const char *))
        PT_OK(pcomm_cmd_arg(cmd, w));
    va_end(ap);
    size_t len;
    pcomm_status st;
    char *out = pt_capture(cmd, &len, &st);
    if (pcomm_status_shell_code(&st) != 0)
        fail_msg("report check failed:\n%s", out);
    free(out);
    pcomm_cmd_free(cmd);
}

static int setup_report(void **state)
{
    char *dir = pt_tempdir();
    snprintf(report_path, sizeof report_path, "%s/report.json", dir);
    *state = dir;
    return pt_setup(state);
}

static int teardown_report(void **state)
{
    pt_rmtree(*state);
    free(*state);
    return pt_teardown(state);
}

#define REPORT_TEST(f) cmocka_unit_test_setup_teardown(f, setup_report, teardown_report)

static void test_json_success_and_exit_code(void **state)
{
    (void)state;
    assert_int_equal(run_json("HELPER", "print", "hello\n", "exit", "0", NULL), 0);
    check("status=0", "outcome=\"exited\"", "timed_out=false", "error=null",
          "stages.0.state=\"exited\"", "stages.0.exit_code=0", "stages.0.signal=null",
          "stages.0.exe=~pcomm-test-helper", "bytes.stdout=6", "bytes.stderr=0",
          "paths.spawn=\"posix_spawn+pidfd\"", "paths.pty=null", "paths.codec=null",
          "truncated.linger=false", NULL);
    assert_int_equal(run_json("HELPER", "exit", "3", NULL), 3);
    check("status=3", "outcome=\"exited\"", "stages.0.exit_code=3", NULL);
}

/* The codec that decoded -i, each output file's compression, and how the ptys were made. */
static void test_json_codecs_and_pty(void **state)
{
    assert_int_equal(run_json("-u", "HELPER", "exit", "0", NULL), 0);
    check("paths.pty=\"ctty\"", NULL);
    if (!pcomm_filter_supported(PCOMM_CODEC_GZIP) || !pcomm_filter_supported(PCOMM_CODEC_ZSTD))
        return;
    char in[600], out[600], err[600];
    snprintf(in, sizeof in, "%s/in.gz", (char *)*state);
    snprintf(out, sizeof out, "%s/out.zst", (char *)*state);
    snprintf(err, sizeof err, "%s/err.txt", (char *)*state);
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_encoder(&f, PCOMM_CODEC_GZIP, -1));
    char z[256];
    size_t in_len = 6, out_len = sizeof z;
    assert_int_equal(pcomm_filter_process(f, "hello\n", &in_len, z, &out_len, PCOMM_FILTER_FINISH),
                     PCOMM_FILTER_END);
    pcomm_filter_free(f);
    int fd = open(in, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_int_equal(write(fd, z, out_len), (ssize_t)out_len);
    close(fd);
    assert_int_equal(run_json("-i", in, "-o", out, "-e", err, "HELPER", "echo", NULL), 0);
    check("paths.codec=\"gzip\"", "outputs.0.compression=\"zstd\"", "outputs.0.written=true",
          "outputs.1.compression=null", "bytes.stdin=6", "bytes.stdout=6", "paths.pty=null", NULL);
    assert_int_equal(run_json("--raw-input", "-i", in, "HELPER", "echo", NULL), 0);
    check("paths.codec=null", NULL);
}

static void test_json_signal_death(void **state)
{
    (void)state;
    assert_int_equal(run_json("HELPER", "kill", "9", NULL), 137);
    check("status=137", "outcome=\"signaled\"", "stages.0.state=\"signaled\"", "stages.0.signal=9",
          "stages.0.signal_name=\"KILL\"", "stages.0.exit_code=null", "stages.0.core_dumped=false",
          NULL);
}

static void test_json_timeout(void **state)
{
    (void)state;
    assert_int_equal(run_json("-t", "0.2", "HELPER", "sleep", "30000", NULL), 124);
    check("status=124", "outcome=\"timed_out\"", "timed_out=true", "killed_after_timeout=false",
          "signals.0.why=\"timeout\"", "signals.0.signal=15", "stages.0.signal=15", NULL);
    assert_int_equal(
        run_json("-t", "0.1", "-k", "0.1", "HELPER", "ignore", "15", "sleep", "30000", NULL), 124);
    check("killed_after_timeout=true", "signals.1.why=\"kill-after\"", "signals.1.signal=9",
          "stages.0.signal=9", NULL);
}

static void test_json_linger(void **state)
{
    (void)state;
    assert_int_equal(run_json("--linger=0.2", "HELPER", "grandchild", "30000", "exit", "0", NULL),
                     0);
    check("truncated.linger=true", "stages.0.exit_code=0", "signals.0.why=\"linger\"", NULL);
}

static void test_json_pipeline_one_failing(void **state)
{
    (void)state;
    assert_int_equal(run_json("-c", "true | sh -c 'exit 4' | cat", NULL), 4);
    check("status=4", "stages.0.exit_code=0", "stages.1.exit_code=4", "stages.2.exit_code=0",
          "stages.1.argv.2=\"exit 4\"", "stages.2.argv.0=\"cat\"", NULL);
}

static void test_json_missing_program(void **state)
{
    (void)state;
    assert_int_equal(run_json("pcomm-no-such-program", "x", NULL), 127);
    check("status=127", "outcome=\"not_started\"", "error.name=\"ENOENT\"",
          "stages.0.state=\"not_started\"", "stages.0.pid=null",
          "stages.0.argv.0=\"pcomm-no-such-program\"", NULL);
}

static void test_json_strange_argv(void **state)
{
    (void)state;
    assert_int_equal(
        run_json("HELPER", "argv", "q\"uote's", "new\nline\ttab", "\xff\xfe", "", NULL), 0);
    check("stages.0.argv.2=\"q\\\"uote's\"", "stages.0.argv.3=\"new\\nline\\ttab\"",
          "stages.0.argv.4={\"base64\": \"//4=\"}", "stages.0.argv.5=\"\"", NULL);
}

static void test_json_on_signal_to_pcomm(void **state)
{
    (void)state;
    pcomm_cmd *cmd;
    const char *argv[] = {PCOMM_TEST_CLI, "-j",    report_path, pt_helper(), "println",
                          "up",           "sleep", "30000",     NULL};
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    char buf[16];
    assert_true(pt_read_lines(pcomm_proc_fd(proc, 1), buf, sizeof buf, 1) > 0);
    PT_OK(kill(pcomm_proc_pid(proc), SIGTERM));
    PT_OK(pcomm_proc_wait(proc, 5000));
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    check("status=143", "signals.0.why=\"forwarded\"", "signals.0.signal=15", "stages.0.signal=15",
          NULL);
}

static void test_trace_of_pipeline(void **state)
{
    (void)state;
    char trace[600];
    snprintf(trace, sizeof trace, "%s.trace", report_path);
    assert_int_equal(
        run_json("--trace", trace, "-c", "sh -c 'echo a; echo b >&2' | cat | cat", NULL), 0);
    const char *argv[] = {"python3", PCOMM_TEST_SOURCE_DIR "/check_json.py", "--trace", trace, "3",
                          NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    size_t len;
    pcomm_status st;
    char *out = pt_capture(cmd, &len, &st);
    if (pcomm_status_shell_code(&st) != 0)
        fail_msg("trace check failed:\n%s", out);
    free(out);
    pcomm_cmd_free(cmd);
}

/* ---- --lock ---------------------------------------------------------------------------------- */

static pcomm_proc *start_locked(const char *lock, const char *script, int out_fd)
{
    const char *argv[] = {PCOMM_TEST_CLI, "--lock", lock, "sh", "-c", script, NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    PT_OK(pcomm_cmd_stdio_fd(cmd, 1, out_fd));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    pcomm_cmd_free(cmd);
    return proc;
}

static void test_lock_serializes(void **state)
{
    char lock[600], log[600];
    snprintf(lock, sizeof lock, "%s/lock", (char *)*state);
    snprintf(log, sizeof log, "%s/log", (char *)*state);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    const char *script = "echo start $$; sleep 0.3; echo end $$";
    pcomm_proc *a = start_locked(lock, script, fd);
    usleep(50000);
    pcomm_proc *b = start_locked(lock, script, fd);
    PT_OK(pcomm_proc_wait(a, 10000));
    PT_OK(pcomm_proc_wait(b, 10000));
    pcomm_proc_free(a);
    pcomm_proc_free(b);
    close(fd);
    fd = open(log, O_RDONLY | O_CLOEXEC);
    size_t len;
    char *text = pt_slurp(fd, &len);
    close(fd);
    int p1, p2, p3, p4;
    if (sscanf(text, "start %d\nend %d\nstart %d\nend %d\n", &p1, &p2, &p3, &p4) != 4 || p1 != p2 ||
        p3 != p4)
        fail_msg("not serialized:\n%s", text);
    free(text);

    /* The command never sees the lock's descriptor. */
    const char *argv[] = {PCOMM_TEST_CLI, "--lock", lock, pt_helper(), "fds", NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    pcomm_status st;
    char *fds = pt_capture(cmd, &len, &st);
    assert_string_equal(fds, "0 1 2\n");
    free(fds);
    pcomm_cmd_free(cmd);
}

static void test_lock_timeout(void **state)
{
    char lock[600];
    snprintf(lock, sizeof lock, "%s/lock", (char *)*state);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_int_equal(flock(fd, LOCK_EX), 0); /* held by the test: pcomm never gets it */
    double t0 = pt_ms();
    assert_int_equal(run_json("--lock", lock, "-t", "0.3", "HELPER", "exit", "0", NULL), 124);
    double took = pt_ms() - t0;
    assert_true(took >= 299 && took < 300 + pt_late_ms() + 200);
    close(fd);
}

/* ---- the status line ------------------------------------------------------------------------- */

static char *run_in_pty(const char *pcomm_args)
{
    char script[2048];
    snprintf(script, sizeof script, "%s %s %s sleep 400 print done", PCOMM_TEST_CLI, pcomm_args,
             pt_helper());
    const char *argv[] = {"script", "-qec", script, "/dev/null", NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    PT_OK(pcomm_cmd_stdio_null(cmd, 0));
    size_t len;
    pcomm_status st;
    char *out = pt_capture(cmd, &len, &st);
    pcomm_cmd_free(cmd);
    return out;
}

static void test_status_line(void **state)
{
    (void)state;
    char *out = run_in_pty("-q");
    assert_non_null(strstr(out, "\r\033[Kpcomm: "));
    assert_non_null(strstr(out, " out ")); /* elapsed, bytes per stream, rate */
    assert_non_null(strstr(out, "/s"));
    free(out);
    out = run_in_pty(""); /* output shown live: no status line */
    assert_null(strstr(out, "\033[K"));
    free(out);
    /* Never in a pipe. */
    const char *argv[] = {PCOMM_TEST_CLI, "-q", pt_helper(), "sleep", "300", NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 2));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    size_t len;
    char *err = pt_slurp(pcomm_proc_fd(proc, 2), &len);
    PT_OK(pcomm_proc_wait(proc, -1));
    assert_int_equal(len, 0);
    free(err);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
}

static void test_verbose_lines(void **state)
{
    (void)state;
    const char *argv[] = {PCOMM_TEST_CLI, "-v", "-t", "0.1", pt_helper(), "sleep", "30000", NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 2));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    size_t len;
    char *err = pt_slurp(pcomm_proc_fd(proc, 2), &len);
    PT_OK(pcomm_proc_wait(proc, -1));
    assert_non_null(strstr(err, "pcomm: spawn path posix_spawn+pidfd\n"));
    assert_non_null(strstr(err, "pcomm: timeout: SIGTERM to group "));
    assert_non_null(strstr(err, "pcomm: command ended: timed out\n"));
    free(err);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        REPORT_TEST(test_json_success_and_exit_code),
        REPORT_TEST(test_json_codecs_and_pty),
        REPORT_TEST(test_json_signal_death),
        REPORT_TEST(test_json_timeout),
        REPORT_TEST(test_json_linger),
        REPORT_TEST(test_json_pipeline_one_failing),
        REPORT_TEST(test_json_missing_program),
        REPORT_TEST(test_json_strange_argv),
        REPORT_TEST(test_json_on_signal_to_pcomm),
        REPORT_TEST(test_trace_of_pipeline),
        REPORT_TEST(test_lock_serializes),
        REPORT_TEST(test_lock_timeout),
        REPORT_TEST(test_status_line),
        REPORT_TEST(test_verbose_lines),
    };
    return PT_RUN(tests);
}
