/* demos/pcomm/main.c - the pcomm command: run a command, forward signals, report its status.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static int build_cmd(const struct cli_opts *opts, pcomm_cmd **cmdp)
{
    pcomm_cmd *cmd;
    int r = pcomm_cmd_new_argv(&cmd, (const char *const *)opts->argv);
    if (r == 0 && opts->ignore_env)
        r = pcomm_cmd_clearenv(cmd);
    for (size_t i = 0; r == 0 && i < opts->env_op_count; i++) {
        const struct cli_env_op *op = &opts->env_ops[i];
        r = op->op == 'E' ? pcomm_cmd_putenv(cmd, op->arg) : pcomm_cmd_unsetenv(cmd, op->arg);
    }
    if (r == 0 && opts->chdir)
        r = pcomm_cmd_chdir(cmd, opts->chdir);
    if (r == 0 && opts->foreground)
        r = pcomm_cmd_set_group(cmd, PCOMM_GROUP_INHERIT);
    if (r < 0) {
        cli_error("cannot set up the command: %s", pcomm_strerror(r));
        pcomm_cmd_free(cmd);
        return r;
    }
    *cmdp = cmd;
    return 0;
}

/* Map a spawn failure to a message and the exit status of the CLI contract. */
static int report_spawn_error(const struct cli_opts *opts, int err)
{
    if (err == PCOMM_ECWD) {
        struct stat st;
        const char *why = stat(opts->chdir, &st) < 0 ? strerror(errno)
                          : !S_ISDIR(st.st_mode)     ? strerror(ENOTDIR)
                                                     : strerror(EACCES);
        cli_error("cannot change directory to '%s': %s", opts->chdir, why);
        return CLI_EXIT_FAILURE;
    }
    cli_error("cannot run '%s': %s", opts->argv[0], pcomm_strerror(err));
    switch (err) {
    case -ENOENT: return CLI_EXIT_NOT_FOUND;
    case -EACCES:
    case -ENOEXEC:
    case -E2BIG:
    case -ETXTBSY:
    case -EISDIR:
    case -ELOOP:
    case -ENAMETOOLONG:
    case -ENOTDIR: return CLI_EXIT_CANNOT_RUN;
    default: return CLI_EXIT_FAILURE;
    }
}

/* Block the signals pcomm forwards, and return a signalfd that reports them. */
static int forward_signals_setup(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaddset(&set, forwarded_signals[i]);
    sigprocmask(SIG_BLOCK, &set, old);
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void forward_pending(int sfd, pcomm_proc *proc, const struct cli_opts *opts)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        cli_verbose(opts, "forwarding SIG%s to %s %d", sigabbrev_np((int)si.ssi_signo),
                    opts->foreground ? "process" : "group", pcomm_proc_pid(proc));
        pcomm_proc_kill(proc, (int)si.ssi_signo);
    }
}

/* Wait for the child, forwarding INT, TERM, HUP and QUIT to its process group. */
static int supervise(pcomm_proc *proc, int sfd, const struct cli_opts *opts)
{
    for (;;) {
        int r = pcomm_proc_wait(proc, 0);
        if (r != -ETIMEDOUT)
            return r;
        struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN},
                                {.fd = pcomm_proc_pidfd(proc), .events = POLLIN}};
        /* Without a pidfd (valgrind, old kernels) poll the child every 50 ms. */
        int n = pfd[1].fd >= 0 ? 2 : 1;
        if (poll(pfd, (nfds_t)n, n == 2 ? -1 : 50) < 0 && errno != EINTR)
            return -errno;
        forward_pending(sfd, proc, opts);
    }
}

static int exit_status_of(const pcomm_status *st)
{
    int code = pcomm_status_shell_code(st);
    return code < 0 ? CLI_EXIT_FAILURE : code;
}

int main(int argc, char **argv)
{
    struct cli_opts opts;
    int status = cli_parse(argc, argv, &opts);
    if (status >= 0) {
        cli_opts_free(&opts);
        return status;
    }
    pcomm_cmd *cmd;
    if (build_cmd(&opts, &cmd) < 0) {
        cli_opts_free(&opts);
        return CLI_EXIT_FAILURE;
    }
    sigset_t old_mask;
    int sfd = forward_signals_setup(&old_mask);
    pcomm_proc *proc = NULL;
    int r = sfd < 0 ? -errno : pcomm_spawn(cmd, &proc);
    pcomm_cmd_free(cmd);
    if (r < 0) {
        status = sfd < 0 ? (cli_error("signalfd: %s", strerror(-r)), CLI_EXIT_FAILURE)
                         : report_spawn_error(&opts, r);
    } else {
        cli_verbose(&opts, "spawn path %s", pcomm_proc_spawn_path(proc));
        cli_verbose(&opts, "running %s as pid %d", pcomm_proc_exe(proc), pcomm_proc_pid(proc));
        r = supervise(proc, sfd, &opts);
        pcomm_status st;
        pcomm_proc_status(proc, &st);
        if (r < 0) {
            cli_error("lost track of the command: %s", pcomm_strerror(r));
            status = CLI_EXIT_FAILURE;
        } else {
            status = exit_status_of(&st);
            if (st.how == PCOMM_SIGNALED)
                cli_verbose(&opts, "command killed by SIG%s", sigabbrev_np(st.code));
            else
                cli_verbose(&opts, "command exited with status %d", st.code);
        }
        pcomm_proc_free(proc);
    }
    if (sfd >= 0)
        close(sfd);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    cli_opts_free(&opts);
    return status;
}
