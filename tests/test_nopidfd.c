/* tests/test_nopidfd.c - the fallback without pidfds (old kernels, valgrind): a seccomp filter
 * makes pidfd_open fail with ENOSYS for this whole process, then the proc tests that matter run
 * again on the waitid path. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define PT_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PT_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

static int deny_pidfd_open(void)
{
#ifdef PT_AUDIT_ARCH
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PT_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pidfd_open, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
#else
    return -1;
#endif
}

static void test_fallback_status_and_timeouts(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("sleep", "100", "exit", "9", NULL);
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    assert_int_equal(pcomm_proc_pidfd(proc), -ENOSYS);
    assert_string_equal(pcomm_proc_spawn_path(proc), "posix_spawn+waitid");
    assert_int_equal(pcomm_proc_wait(proc, 0), -ETIMEDOUT);
    double t0 = pt_ms();
    PT_OK(pcomm_proc_wait(proc, 5000));
    assert_true(pt_ms() - t0 < 1000);
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(st.how, PCOMM_EXITED);
    assert_int_equal(st.code, 9);
    PT_OK(pcomm_proc_kill(proc, SIGTERM)); /* ended: harmless */
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);

    cmd = pt_helper_cmd("sleep", "30000", NULL);
    PT_OK(pcomm_spawn(cmd, &proc));
    t0 = pt_ms();
    assert_int_equal(pcomm_proc_wait(proc, 150), -ETIMEDOUT);
    double took = pt_ms() - t0;
    assert_true(took >= 149 && took < 150 + 50 + pt_late_ms()); /* + one nap of the fallback */
    PT_OK(pcomm_proc_kill(proc, SIGKILL));
    PT_OK(pcomm_proc_wait(proc, 5000));
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(st.how, PCOMM_SIGNALED);
    assert_int_equal(st.code, SIGKILL);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
}

static void test_fallback_kill_without_group(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("sleep", "30000", NULL);
    PT_OK(pcomm_cmd_set_group(cmd, PCOMM_GROUP_INHERIT));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    PT_OK(pcomm_proc_kill(proc, SIGTERM));
    PT_OK(pcomm_proc_wait(proc, 5000));
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    assert_int_equal(st.code, SIGTERM);
    pcomm_proc_free(proc);
    /* Freeing a running child kills and reaps it on this path too. */
    PT_OK(pcomm_spawn(cmd, &proc));
    pcomm_proc_free(proc);
    int zombies;
    assert_int_equal(pt_count_children(&zombies), 0);
    pcomm_cmd_free(cmd);
}

static void test_fallback_sigchld_ignored(void **state)
{
    (void)state;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGCHLD, &ign, &old);
    pcomm_cmd *cmd = pt_helper_cmd("exit", "0", NULL);
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    assert_int_equal(pcomm_proc_wait(proc, 10000), -ECHILD);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    sigaction(SIGCHLD, &old, NULL);
}

int main(void)
{
    if (deny_pidfd_open() < 0) {
        fprintf(stderr, "cannot install the seccomp filter; skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        PT_TEST(test_fallback_status_and_timeouts),
        PT_TEST(test_fallback_kill_without_group),
        PT_TEST(test_fallback_sigchld_ignored),
    };
    return PT_RUN(tests);
}
