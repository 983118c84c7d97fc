/* tests/test_cmd.c - pcomm_cmd: input validation and copying. Nothing here spawns.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static void test_new_and_args(void **state)
{
    (void)state;
    pcomm_cmd *cmd;
    assert_int_equal(pcomm_cmd_new(NULL), -EINVAL);
    PT_OK(pcomm_cmd_new(&cmd));
    assert_int_equal(pcomm_cmd_argc(cmd), 0);
    PT_OK(pcomm_cmd_arg(cmd, "prog"));
    PT_OK(pcomm_cmd_arg(cmd, ""));
    const char *more[] = {"-x", "a b", NULL};
    PT_OK(pcomm_cmd_args(cmd, more));
    assert_int_equal(pcomm_cmd_argc(cmd), 4);
    assert_string_equal(pcomm_cmd_argv(cmd, 0), "prog");
    assert_string_equal(pcomm_cmd_argv(cmd, 1), "");
    assert_string_equal(pcomm_cmd_argv(cmd, 3), "a b");
    assert_null(pcomm_cmd_argv(cmd, 4));
    assert_int_equal(pcomm_cmd_arg(cmd, NULL), -EINVAL);
    assert_int_equal(pcomm_cmd_arg(NULL, "x"), -EINVAL);
    pcomm_cmd_free(cmd);
    pcomm_cmd_free(NULL);

    const char *none[] = {NULL};
    assert_int_equal(pcomm_cmd_new_argv(&cmd, none), -EINVAL);
    assert_int_equal(pcomm_cmd_new_argv(&cmd, NULL), -EINVAL);
}

static void test_nul_bytes_rejected(void **state)
{
    (void)state;
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new(&cmd));
    assert_int_equal(pcomm_cmd_arg_bytes(cmd, "a\0b", 3), -EINVAL);
    assert_int_equal(pcomm_cmd_argc(cmd), 0);
    PT_OK(pcomm_cmd_arg_bytes(cmd, "\xff\xfe-x", 4));
    PT_OK(pcomm_cmd_arg_bytes(cmd, NULL, 0));
    assert_int_equal(pcomm_cmd_argc(cmd), 2);
    assert_memory_equal(pcomm_cmd_argv(cmd, 0), "\xff\xfe-x", 5);
    assert_string_equal(pcomm_cmd_argv(cmd, 1), "");

    assert_int_equal(pcomm_cmd_setenv_bytes(cmd, "A\0B", 3, "v", 1), -EINVAL);
    assert_int_equal(pcomm_cmd_setenv_bytes(cmd, "A", 1, "v\0w", 3), -EINVAL);
    assert_int_equal(pcomm_cmd_setenv(cmd, "A=B", "v"), -EINVAL);
    assert_int_equal(pcomm_cmd_setenv(cmd, "", "v"), -EINVAL);
    assert_int_equal(pcomm_cmd_setenv(cmd, "A", NULL), -EINVAL);
    assert_int_equal(pcomm_cmd_unsetenv(cmd, "A=B"), -EINVAL);
    assert_int_equal(pcomm_cmd_unsetenv(cmd, ""), -EINVAL);
    assert_int_equal(pcomm_cmd_putenv(cmd, "NOEQUALS"), -EINVAL);
    assert_int_equal(pcomm_cmd_putenv(cmd, "=value"), -EINVAL);
    PT_OK(pcomm_cmd_putenv(cmd, "A=b=c"));
    PT_OK(pcomm_cmd_setenv(cmd, "EMPTY", ""));
    pcomm_cmd_free(cmd);
}

static void test_stdio_validation(void **state)
{
    (void)state;
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new(&cmd));
    assert_int_equal(pcomm_cmd_stdio_pipe(cmd, -1), -EINVAL);
    assert_int_equal(pcomm_cmd_stdio_pipe(cmd, PCOMM_CMD_MAX_FD + 1), -EINVAL);
    PT_OK(pcomm_cmd_stdio_pipe(cmd, PCOMM_CMD_MAX_FD));
    assert_int_equal(pcomm_cmd_stdio_fd(cmd, 3, -1), -EINVAL);
    assert_int_equal(pcomm_cmd_stdio_merge(cmd, 2, 2), -EINVAL);
    assert_int_equal(pcomm_cmd_stdio_merge(cmd, 2, -3), -EINVAL);
    assert_int_equal(pcomm_cmd_stdio_file(cmd, 1, "", O_RDONLY, 0), -EINVAL);
    assert_int_equal(pcomm_cmd_stdio_file(cmd, 1, NULL, O_RDONLY, 0), -EINVAL);
    assert_int_equal(pcomm_cmd_set_group(cmd, 7), -EINVAL);
    assert_int_equal(pcomm_cmd_chdir(cmd, ""), -EINVAL);
    PT_OK(pcomm_cmd_chdir(cmd, NULL));
    assert_int_equal(pcomm_cmd_set_program(cmd, ""), -EINVAL);
    pcomm_cmd_free(cmd);
}

static void test_spawn_rejects_before_spawning(void **state)
{
    (void)state;
    pcomm_cmd *cmd;
    pcomm_proc *proc = NULL;
    PT_OK(pcomm_cmd_new(&cmd));
    assert_int_equal(pcomm_spawn(cmd, &proc), -EINVAL); /* empty argv */
    PT_OK(pcomm_cmd_arg(cmd, pt_helper()));
    PT_OK(pcomm_cmd_stdio_merge(cmd, 2, 5)); /* 5 is closed in the child */
    assert_int_equal(pcomm_spawn(cmd, &proc), -EBADF);
    PT_OK(pcomm_cmd_stdio_merge(cmd, 5, 1));
    PT_OK(pcomm_cmd_stdio_merge(cmd, 2, 5)); /* a chain */
    assert_int_equal(pcomm_spawn(cmd, &proc), -EINVAL);
    assert_null(proc);
    assert_int_equal(pcomm_spawn(NULL, &proc), -EINVAL);
    assert_int_equal(pcomm_spawn(cmd, NULL), -EINVAL);
    assert_int_equal(pt_count_children(NULL), 0);
    pcomm_cmd_free(cmd);
}

static void test_dup_is_deep(void **state)
{
    (void)state;
    pcomm_cmd *cmd, *copy;
    const char *argv[] = {pt_helper(), "env", NULL};
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    PT_OK(pcomm_cmd_clearenv(cmd));
    PT_OK(pcomm_cmd_setenv(cmd, "ONLY", "1"));
    PT_OK(pcomm_cmd_chdir(cmd, "/"));
    PT_OK(pcomm_cmd_stdio_null(cmd, 0));
    PT_OK(pcomm_cmd_stdio_file(cmd, 7, "/dev/null", O_RDONLY, 0));
    PT_OK(pcomm_cmd_dup(cmd, &copy));
    pcomm_cmd_free(cmd);
    size_t len;
    pcomm_status st;
    char *out = pt_capture(copy, &len, &st);
    assert_int_equal(st.how, PCOMM_EXITED);
    assert_int_equal(len, 7);
    assert_memory_equal(out, "ONLY=1\0", 7);
    free(out);
    pcomm_cmd_free(copy);
}

static void test_errors_named(void **state)
{
    (void)state;
    assert_string_equal(pcomm_errname(-ENOENT), "ENOENT");
    assert_string_equal(pcomm_errname(ENOENT), "ENOENT");
    assert_string_equal(pcomm_errname(0), "0");
    assert_string_equal(pcomm_errname(PCOMM_ECWD), "PCOMM_ECWD");
    assert_string_equal(pcomm_errname(-10500), "EUNKNOWN");
    assert_string_equal(pcomm_errname(-99999), "EUNKNOWN");
    assert_string_equal(pcomm_errname(INT32_MIN), "EUNKNOWN");
    assert_string_equal(pcomm_strerror(-ENOENT), "No such file or directory");
    assert_string_equal(pcomm_strerror(0), "success");
    assert_string_equal(pcomm_strerror(-77777), "unknown error");
    assert_non_null(strstr(pcomm_strerror(PCOMM_ECWD), "working directory"));
    assert_string_equal(pcomm_version(), PCOMM_VERSION_STRING);
    int64_t t0 = pcomm_now_ns(), t1 = pcomm_now_ns();
    assert_true(t0 > 0 && t1 >= t0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_new_and_args),     PT_TEST(test_nul_bytes_rejected),
        PT_TEST(test_stdio_validation), PT_TEST(test_spawn_rejects_before_spawning),
        PT_TEST(test_dup_is_deep),      PT_TEST(test_errors_named),
    };
    return PT_RUN(tests);
}
