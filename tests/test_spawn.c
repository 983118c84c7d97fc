/* tests/test_spawn.c - pcomm_spawn(): exec failures, argv, environment, PATH, descriptors.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int spawn_status(pcomm_cmd *cmd)
{
    pcomm_proc *proc = NULL;
    int r = pcomm_spawn(cmd, &proc);
    if (r == 0) {
        PT_OK(pcomm_proc_wait(proc, -1));
        pcomm_proc_free(proc);
    } else {
        assert_null(proc);
    }
    return r;
}

/* ---- exec failures ----------------------------------------------------------------------- */

static void test_missing_program(void **state)
{
    (void)state;
    const char *abs[] = {"/nonexistent/pcomm-no-such-program", NULL};
    const char *bare[] = {"pcomm-no-such-program-anywhere", NULL};
    int fds_before = pt_count_fds();
    for (int i = 0; i < 1000; i++) {
        pcomm_cmd *cmd;
        PT_OK(pcomm_cmd_new_argv(&cmd, i % 2 ? abs : bare));
        PT_OK(pcomm_cmd_stdio_pipe(cmd, 0));
        PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
        PT_OK(pcomm_cmd_stdio_pipe(cmd, 2));
        assert_int_equal(spawn_status(cmd), -ENOENT);
        pcomm_cmd_free(cmd);
    }
    int zombies;
    assert_int_equal(pt_count_children(&zombies), 0);
    assert_int_equal(pt_count_fds(), fds_before);
}

static void test_bad_cwd(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("exit", "0", NULL);
    PT_OK(pcomm_cmd_chdir(cmd, "/nonexistent-pcomm-dir"));
    assert_int_equal(spawn_status(cmd), PCOMM_ECWD);
    PT_OK(pcomm_cmd_chdir(cmd, "/etc/passwd")); /* not a directory */
    assert_int_equal(spawn_status(cmd), PCOMM_ECWD);
    /* A missing program with a good cwd is still -ENOENT, and the reverse is PCOMM_ECWD. */
    pcomm_cmd *missing;
    const char *argv[] = {"/nonexistent/prog", NULL};
    PT_OK(pcomm_cmd_new_argv(&missing, argv));
    PT_OK(pcomm_cmd_chdir(missing, "/"));
    assert_int_equal(spawn_status(missing), -ENOENT);
    PT_OK(pcomm_cmd_chdir(missing, "/nonexistent-pcomm-dir"));
    assert_int_equal(spawn_status(missing), PCOMM_ECWD);
    pcomm_cmd_free(missing);
    pcomm_cmd_free(cmd);
}

static void test_eacces_enoexec(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), path[512];
    snprintf(path, sizeof path, "%s/not-executable", dir);
    pt_write_file(path, "#!/bin/sh\nexit 0\n", 0644);
    const char *argv[] = {path, NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    assert_int_equal(spawn_status(cmd), -EACCES);
    pcomm_cmd_free(cmd);

    /* Found only in PATH, but not executable: -EACCES, like execvp. */
    const char *bare[] = {"not-executable", NULL};
    PT_OK(pcomm_cmd_new_argv(&cmd, bare));
    PT_OK(pcomm_cmd_setenv(cmd, "PATH", dir));
    assert_int_equal(spawn_status(cmd), -EACCES);
    pcomm_cmd_free(cmd);

    /* A directory is not a program. */
    const char *d[] = {dir, NULL};
    PT_OK(pcomm_cmd_new_argv(&cmd, d));
    assert_int_equal(spawn_status(cmd), -EACCES);
    pcomm_cmd_free(cmd);

    /* A script without "#!" is ENOEXEC: no silent /bin/sh fallback. */
    snprintf(path, sizeof path, "%s/no-shebang", dir);
    pt_write_file(path, "echo should-not-run\n", 0755);
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    assert_int_equal(spawn_status(cmd), -ENOEXEC);
    pcomm_cmd_free(cmd);
    pt_rmtree(dir);
    free(dir);
}

/* ---- argv -------------------------------------------------------------------------------- */

static void check_argv_roundtrip(const char *const *args, size_t n)
{
    pcomm_cmd *cmd = pt_helper_cmd("argv", NULL);
    for (size_t i = 0; i < n; i++)
        PT_OK(pcomm_cmd_arg(cmd, args[i]));
    size_t len;
    pcomm_status st;
    char *out = pt_capture(cmd, &len, &st);
    assert_int_equal(st.how, PCOMM_EXITED);
    assert_int_equal(st.code, 0);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t alen = strlen(args[i]) + 1;
        assert_true(off + alen <= len);
        assert_memory_equal(out + off, args[i], alen);
        off += alen;
    }
    assert_int_equal(off, len);
    free(out);
    pcomm_cmd_free(cmd);
}

static void test_argv_byte_exact(void **state)
{
    (void)state;
    const char *args[] = {"a b", "'quoted'",     "\"dq\"",    "",          "-leading",
                          "--",  "\xff\xfe\x80", "tab\there", "new\nline", "$HOME",
                          "*",   "back\\slash",  ";|&",       ""};
    check_argv_roundtrip(args, sizeof args / sizeof args[0]);
}

static void test_argv_many_and_huge(void **state)
{
    (void)state;
    enum { N = 10000 };
    static char storage[N][8];
    const char *args[N];
    for (int i = 0; i < N; i++) {
        snprintf(storage[i], sizeof storage[i], "a%d", i);
        args[i] = storage[i];
    }
    check_argv_roundtrip(args, N);

    /* One argument of 128 KiB (with its NUL over MAX_ARG_STRLEN): the kernel refuses it. */
    size_t big = 128 * 1024;
    char *huge = malloc(big + 1);
    memset(huge, 'x', big);
    huge[big] = '\0';
    pcomm_cmd *cmd = pt_helper_cmd("exit", "0", NULL);
    PT_OK(pcomm_cmd_arg(cmd, huge));
    assert_int_equal(spawn_status(cmd), -E2BIG);
    pcomm_cmd_free(cmd);
    /* One byte less fits. */
    huge[big - 1] = '\0';
    cmd = pt_helper_cmd("exit", "0", NULL);
    PT_OK(pcomm_cmd_arg(cmd, huge));
    assert_int_equal(spawn_status(cmd), 0);
    pcomm_cmd_free(cmd);
    free(huge);
}

static void test_program_differs_from_argv0(void **state)
{
    (void)state;
    const char *argv[] = {"fake-name", "argv", "x", NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    PT_OK(pcomm_cmd_set_program(cmd, pt_helper()));
    size_t len;
    pcomm_status st;
    char *out = pt_capture(cmd, &len, &st);
    assert_int_equal(len, 2);
    assert_memory_equal(out, "x\0", 2);
    free(out);
    pcomm_cmd_free(cmd);
}

/* ---- environment and PATH ---------------------------------------------------------------- */

static char *env_of(pcomm_cmd *cmd, size_t *len)
{
    pcomm_status st;
    char *out = pt_capture(cmd, len, &st);
    assert_int_equal(st.how, PCOMM_EXITED);
    assert_int_equal(st.code, 0);
    return out;
}

static void test_env_operations(void **state)
{
    (void)state;
    size_t len;
    pcomm_cmd *cmd = pt_helper_cmd("env", NULL);
    PT_OK(pcomm_cmd_clearenv(cmd));
    char *out = env_of(cmd, &len);
    assert_int_equal(len, 0); /* empty is really empty */
    free(out);

    PT_OK(pcomm_cmd_setenv(cmd, "A", "1"));
    PT_OK(pcomm_cmd_setenv(cmd, "B", "2"));
    PT_OK(pcomm_cmd_unsetenv(cmd, "A"));
    PT_OK(pcomm_cmd_putenv(cmd, "A=3=x"));
    PT_OK(pcomm_cmd_setenv(cmd, "C", ""));
    PT_OK(pcomm_cmd_setenv_bytes(cmd, "D", 1, "\xff\xfe", 2));
    out = env_of(cmd, &len);
    const char expect[] = "B=2\0A=3=x\0C=\0D=\xff\xfe";
    assert_int_equal(len, sizeof expect);
    assert_memory_equal(out, expect, sizeof expect);
    free(out);
    pcomm_cmd_free(cmd);

    /* Inherit + override: the parent's variables pass, changed ones change, unset ones go. */
    setenv("PCOMM_TEST_KEEP", "keep", 1);
    setenv("PCOMM_TEST_DROP", "drop", 1);
    setenv("PCOMM_TEST_CHANGE", "old", 1);
    cmd = pt_helper_cmd("env", NULL);
    PT_OK(pcomm_cmd_unsetenv(cmd, "PCOMM_TEST_DROP"));
    PT_OK(pcomm_cmd_setenv(cmd, "PCOMM_TEST_CHANGE", "new"));
    out = env_of(cmd, &len);
    bool keep = false, drop = false, change_new = false, change_old = false;
    for (size_t off = 0; off < len; off += strlen(out + off) + 1) {
        keep |= !strcmp(out + off, "PCOMM_TEST_KEEP=keep");
        drop |= !strncmp(out + off, "PCOMM_TEST_DROP=", 16);
        change_new |= !strcmp(out + off, "PCOMM_TEST_CHANGE=new");
        change_old |= !strcmp(out + off, "PCOMM_TEST_CHANGE=old");
    }
    assert_true(keep && !drop && change_new && !change_old);
    free(out);
    pcomm_cmd_free(cmd);
    unsetenv("PCOMM_TEST_KEEP");
    unsetenv("PCOMM_TEST_DROP");
    unsetenv("PCOMM_TEST_CHANGE");
}

static void test_path_from_child_env(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), path[512];
    snprintf(path, sizeof path, "%s/pcomm-path-tool", dir);
    pt_write_file(path, "#!/bin/sh\nprintf found\n", 0755);
    const char *argv[] = {"pcomm-path-tool", NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    assert_int_equal(spawn_status(cmd), -ENOENT); /* not in the parent's PATH */
    char *list;
    assert_true(asprintf(&list, "/nonexistent-dir:%s:/usr/bin:/bin", dir) > 0);
    PT_OK(pcomm_cmd_setenv(cmd, "PATH", list));
    size_t len;
    pcomm_status st;
    char *out = pt_capture(cmd, &len, &st);
    assert_string_equal(out, "found");
    free(out);
    free(list);
    pcomm_cmd_free(cmd);

    /* No PATH at all: the default /bin:/usr/bin still finds sh. */
    const char *sh[] = {"sh", "-c", "exit 7", NULL};
    PT_OK(pcomm_cmd_new_argv(&cmd, sh));
    PT_OK(pcomm_cmd_clearenv(cmd));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    assert_string_equal(pcomm_proc_exe(proc), "/bin/sh");
    PT_OK(pcomm_proc_wait(proc, -1));
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(pcomm_status_shell_code(&st), 7);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    pt_rmtree(dir);
    free(dir);
}

static void test_path_skips_empty_and_relative(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), path[512];
    snprintf(path, sizeof path, "%s/pcomm-evil-prog", dir);
    pt_write_file(path, "#!/bin/sh\necho evil\n", 0755);
    const char *lists[] = {"/usr/bin:", ":/usr/bin", "/usr/bin::/bin", ".", "./", "rel/dir"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const char *argv[] = {"pcomm-evil-prog", NULL};
        pcomm_cmd *cmd;
        PT_OK(pcomm_cmd_new_argv(&cmd, argv));
        PT_OK(pcomm_cmd_setenv(cmd, "PATH", lists[i]));
        PT_OK(pcomm_cmd_chdir(cmd, dir)); /* ./pcomm-evil-prog exists in the child's cwd */
        assert_int_equal(spawn_status(cmd), -ENOENT);
        pcomm_cmd_free(cmd);
    }
    /* Asked for explicitly, with a slash, it runs (relative to the child's cwd). */
    const char *argv[] = {"./pcomm-evil-prog", NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    PT_OK(pcomm_cmd_chdir(cmd, dir));
    size_t len;
    pcomm_status st;
    char *out = pt_capture(cmd, &len, &st);
    assert_string_equal(out, "evil\n");
    free(out);
    pcomm_cmd_free(cmd);
    pt_rmtree(dir);
    free(dir);
}

static void test_cwd(void **state)
{
    (void)state;
    char *dir = pt_tempdir();
    pcomm_cmd *cmd = pt_helper_cmd("cwd", NULL);
    PT_OK(pcomm_cmd_chdir(cmd, dir));
    size_t len;
    pcomm_status st;
    char *out = pt_capture(cmd, &len, &st);
    char *expect;
    assert_true(asprintf(&expect, "%s\n", dir) > 0);
    assert_string_equal(out, expect);
    free(expect);
    free(out);
    pcomm_cmd_free(cmd);
    pt_rmtree(dir);
    free(dir);
}

/* ---- descriptors ------------------------------------------------------------------------- */

static char *fds_of(pcomm_cmd *cmd)
{
    size_t len;
    pcomm_status st;
    char *out = pt_capture(cmd, &len, &st);
    assert_int_equal(st.how, PCOMM_EXITED);
    return out;
}

static void test_child_sees_only_its_fds(void **state)
{
    (void)state;
    int leak[2], extra = open("/dev/null", O_RDONLY); /* inheritable on purpose */
    assert_int_equal(pipe(leak), 0);
    pcomm_cmd *cmd = pt_helper_cmd("fds", NULL);
    char *out = fds_of(cmd);
    assert_string_equal(out, "0 1 2\n");
    free(out);
    PT_OK(pcomm_cmd_stdio_fd(cmd, 5, extra));
    PT_OK(pcomm_cmd_stdio_fd(cmd, 9, leak[0])); /* a gap: 6, 7, 8 must be closed */
    out = fds_of(cmd);
    assert_string_equal(out, "0 1 2 5 9\n");
    free(out);
    PT_OK(pcomm_cmd_stdio_close(cmd, 0));
    PT_OK(pcomm_cmd_stdio_null(cmd, 2));
    out = fds_of(cmd);
    assert_string_equal(out, "1 2 5 9\n");
    free(out);
    pcomm_cmd_free(cmd);
    close(leak[0]);
    close(leak[1]);
    close(extra);
}

static volatile int churn_stop;

static void *churn(void *arg)
{
    (void)arg;
    while (!churn_stop) {
        int p[2];
        if (pipe(p) == 0) { /* no O_CLOEXEC: exactly what a careless host thread does */
            close(p[0]);
            close(p[1]);
        }
    }
    return NULL;
}

static void test_no_stray_fds_under_churn(void **state)
{
    (void)state;
    pthread_t threads[2];
    churn_stop = 0;
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, churn, NULL), 0);
    pcomm_cmd *cmd = pt_helper_cmd("fds", NULL);
    int polluted = 0;
    for (int i = 0; i < 300; i++) {
        char *out = fds_of(cmd);
        polluted += strcmp(out, "0 1 2\n") != 0;
        free(out);
    }
    churn_stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    pcomm_cmd_free(cmd);
    assert_int_equal(polluted, 0);
}

static void read_exact(int fd, const char *expect)
{
    size_t len;
    char *got = pt_slurp(fd, &len);
    assert_string_equal(got, expect);
    free(got);
}

static void test_merge_and_files(void **state)
{
    (void)state;
    char *dir = pt_tempdir(), path[512];
    snprintf(path, sizeof path, "%s/out", dir);
    pcomm_cmd *cmd = pt_helper_cmd("print", "O", "eprint", "E", NULL);
    PT_OK(pcomm_cmd_stdio_file(cmd, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
    PT_OK(pcomm_cmd_stdio_merge(cmd, 2, 1));
    assert_int_equal(spawn_status(cmd), 0);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    read_exact(fd, "OE");
    close(fd);
    /* An input file that does not exist is reported by spawn, before anything runs. */
    snprintf(path, sizeof path, "%s/missing", dir);
    PT_OK(pcomm_cmd_stdio_file(cmd, 0, path, O_RDONLY, 0));
    assert_int_equal(spawn_status(cmd), -ENOENT);
    pcomm_cmd_free(cmd);
    pt_rmtree(dir);
    free(dir);
}

/* Runs in a forked copy of the test process, whose own 0/1/2 it rearranges; returns 0 or the
 * number of the failed check. */
static int swap_in_child(void)
{
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        return 1;
    if (dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
        return 2;
    close(out[1]);
    close(err[1]);
    pcomm_cmd *cmd;
    const char *argv[] = {pt_helper(), "print", "to-stdout", "eprint", "to-stderr", NULL};
    if (pcomm_cmd_new_argv(&cmd, argv) || pcomm_cmd_stdio_fd(cmd, 1, 2) ||
        pcomm_cmd_stdio_fd(cmd, 2, 1))
        return 3;
    pcomm_proc *proc;
    if (pcomm_spawn(cmd, &proc) || pcomm_proc_wait(proc, -1))
        return 4;
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    close(1);
    close(2);
    char a[64] = {0}, b[64] = {0};
    if (pt_read(out[0], a, sizeof a) < 0 || pt_read(err[0], b, sizeof b) < 0)
        return 5;
    return strcmp(a, "to-stderr") ? 6 : strcmp(b, "to-stdout") ? 7 : 0;
}

static int closed_std_in_child(void)
{
    close(0);
    close(1);
    close(2);
    pcomm_cmd *cmd;
    const char *argv[] = {pt_helper(), "echo", "eprint", "E", NULL};
    if (pcomm_cmd_new_argv(&cmd, argv))
        return 1;
    for (int fd = 0; fd <= 2; fd++)
        if (pcomm_cmd_stdio_pipe(cmd, fd))
            return 2;
    pcomm_proc *proc;
    if (pcomm_spawn(cmd, &proc))
        return 3;
    int in = pcomm_proc_fd(proc, 0), out = pcomm_proc_fd(proc, 1), err = pcomm_proc_fd(proc, 2);
    if (in > 2 && out > 2 && err > 2)
        return 4; /* the point is that some of them landed on 0..2 */
    if (pt_write(in, "hello", 5) != 5 || pcomm_proc_close_fd(proc, 0))
        return 5;
    char a[16] = {0}, b[16] = {0};
    if (pt_read(out, a, sizeof a) != 5 || pt_read(err, b, sizeof b) != 1)
        return 6;
    if (pcomm_proc_wait(proc, -1))
        return 7;
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    return strcmp(a, "hello") ? 8 : strcmp(b, "E") ? 9 : 0;
}

static void run_forked(int (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    int status;
    assert_int_equal(pt_waitpid(pid, &status), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_swap_stdout_stderr(void **state)
{
    (void)state;
    run_forked(swap_in_child);
}

static void test_parent_std_fds_closed(void **state)
{
    (void)state;
    run_forked(closed_std_in_child);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_missing_program),
        PT_TEST(test_bad_cwd),
        PT_TEST(test_eacces_enoexec),
        PT_TEST(test_argv_byte_exact),
        PT_TEST(test_argv_many_and_huge),
        PT_TEST(test_program_differs_from_argv0),
        PT_TEST(test_env_operations),
        PT_TEST(test_path_from_child_env),
        PT_TEST(test_path_skips_empty_and_relative),
        PT_TEST(test_cwd),
        PT_TEST(test_child_sees_only_its_fds),
        PT_TEST(test_no_stray_fds_under_churn),
        PT_TEST(test_merge_and_files),
        PT_TEST(test_swap_stdout_stderr),
        PT_TEST(test_parent_std_fds_closed),
    };
    return PT_RUN(tests);
}
