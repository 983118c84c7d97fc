/* demos/pcomm/main.c - the pcomm command: run a command as a pcomm_job on a loop that main
 * drives itself (next to a signalfd, to forward signals), and exit with its status.
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

/* Line buffering: -u / --pty (stdout pty 0; stderr its own pty 1, or pty 0 when merged; stdin
 * shares stdout's, which is then the controlling terminal), --size, --linebuf. */
static int build_line_buffering(const struct cli_opts *opts, pcomm_cmd *cmd)
{
    int r = 0;
    if (opts->pty & CLI_PTY_STDIN)
        r = pcomm_cmd_stdio_pty(cmd, 0, 0);
    if (r == 0 && (opts->pty & CLI_PTY_STDOUT))
        r = pcomm_cmd_stdio_pty(cmd, 1, 0);
    if (r == 0 && (opts->pty & CLI_PTY_STDERR))
        r = pcomm_cmd_stdio_pty(cmd, 2, opts->merge ? 0 : 1);
    if (r == 0 && opts->cols)
        r = pcomm_cmd_set_winsize(cmd, opts->cols, opts->rows);
    if (r == 0 && opts->linebuf) {
        r = pcomm_cmd_linebuf(cmd);
        if (r == PCOMM_EUNSUPPORTED)
            cli_error("--linebuf needs coreutils' libstdbuf.so, which is not installed");
    }
    return r;
}

static int build_cmd(const struct cli_opts *opts, pcomm_cmd **cmdp)
{
    pcomm_cmd *cmd;
    int r = pcomm_cmd_new_argv(&cmd, (const char *const *)opts->argv);
    if (r < 0)
        return r;
    if (opts->ignore_env)
        r = pcomm_cmd_clearenv(cmd);
    for (size_t i = 0; r == 0 && i < opts->env_op_count; i++) {
        const struct cli_env_op *op = &opts->env_ops[i];
        r = op->op == 'E' ? pcomm_cmd_putenv(cmd, op->arg) : pcomm_cmd_unsetenv(cmd, op->arg);
    }
    if (r == 0 && opts->chdir)
        r = pcomm_cmd_chdir(cmd, opts->chdir);
    if (r == 0 && opts->foreground)
        r = pcomm_cmd_set_group(cmd, PCOMM_GROUP_INHERIT);
    if (r == 0)
        r = build_line_buffering(opts, cmd);
    if (r < 0) {
        pcomm_cmd_free(cmd);
        return r;
    }
    *cmdp = cmd;
    return 0;
}

/* Input and time limits of the job (outputs: output.c). */
static int configure_job(const struct cli_opts *opts, pcomm_job *job)
{
    int r = 0;
    if (opts->input)
        r = strcmp(opts->input, "-") ? pcomm_job_input_file(job, opts->input)
                                     : pcomm_job_input_fd(job, 0);
    else if (opts->pty & CLI_PTY_STDIN)
        r = pcomm_job_input_fd(job, 0); /* relay pcomm's stdin through the pty */
    if (r == 0 && opts->timeout_ms > 0)
        r = pcomm_job_set_timeout(job, (int)opts->timeout_ms, opts->timeout_sig,
                                  (int)opts->kill_after_ms);
    if (r == 0)
        r = pcomm_job_set_linger(job, (int)opts->linger_ms);
    return r;
}

/* Map a start failure to a message and the exit status of the CLI contract. */
static int report_start_error(const struct cli_opts *opts, int err)
{
    if (err == PCOMM_ECWD) {
        struct stat st;
        const char *why = stat(opts->chdir, &st) < 0 ? strerror(errno)
                          : !S_ISDIR(st.st_mode)     ? strerror(ENOTDIR)
                                                     : strerror(EACCES);
        cli_error("cannot change directory to '%s': %s", opts->chdir, why);
        return CLI_EXIT_FAILURE;
    }
    if (opts->input && strcmp(opts->input, "-") && access(opts->input, R_OK) < 0) {
        cli_error("cannot read '%s': %s", opts->input, strerror(errno));
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

/* Block the signals pcomm forwards (and SIGWINCH, relayed as a window size), and return a
 * signalfd that reports them. */
static int forward_signals_setup(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaddset(&set, forwarded_signals[i]);
    sigaddset(&set, SIGWINCH);
    sigprocmask(SIG_BLOCK, &set, old);
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return fd >= 0 ? fd : -errno;
}

static void forward_pending(int sfd, pcomm_job *job, const struct cli_opts *opts)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGWINCH) {
            /* pcomm's terminal was resized: resize the ptys; the kernel signals the child */
            pcomm_proc *proc = pcomm_job_proc(job);
            if (pcomm_proc_set_winsize(proc, 0, 0) == 0) {
                pcomm_pty_info info;
                for (int fd = 0; fd <= 2; fd++)
                    if (pcomm_proc_pty(proc, fd, &info) == 0 && info.path != PCOMM_PTY_NONE &&
                        info.path != PCOMM_PTY_PIPE) {
                        cli_verbose(opts, "window size %ux%u", info.cols, info.rows);
                        break;
                    }
            }
            continue;
        }
        cli_verbose(opts, "forwarding SIG%s to %s %d", sigabbrev_np((int)si.ssi_signo),
                    opts->foreground ? "process" : "group", pcomm_proc_pid(pcomm_job_proc(job)));
        pcomm_job_kill(job, (int)si.ssi_signo);
    }
}

/* -v: what became of each pty, once per pty (at its lowest fd), e.g.
 * "pty /dev/pts/2 (stdout, stderr) 80x24, controlling terminal", or a fallback and its reason. */
static void report_ptys(const struct cli_opts *opts, pcomm_proc *proc)
{
    static const char *const names[] = {"stdin", "stdout", "stderr"};
    for (int fd = 0; fd <= 2; fd++) {
        pcomm_pty_info info;
        if (pcomm_proc_pty(proc, fd, &info) < 0 || info.path == PCOMM_PTY_NONE ||
            (info.fds & ((1u << fd) - 1)))
            continue; /* not a pty, or reported under a lower fd */
        char fds[32] = "";
        for (int f = 0; f <= 2; f++)
            if (info.fds & (1u << f))
                snprintf(fds + strlen(fds), sizeof fds - strlen(fds), "%s%s", *fds ? ", " : "",
                         names[f]);
        char why[160] = "";
        if (info.error)
            snprintf(why, sizeof why, " (%s: %s)", info.step, pcomm_strerror(info.error));
        if (info.path == PCOMM_PTY_PIPE)
            cli_verbose(opts, "no pty for %s%s: using a pipe", fds, why);
        else
            cli_verbose(opts, "pty %s (%s) %ux%u, %s%s", info.name, fds, info.cols, info.rows,
                        info.path == PCOMM_PTY_CTTY ? "controlling terminal"
                                                    : "not the controlling terminal",
                        why);
    }
}

/* Drive the job's loop next to the signalfd until the job ends. */
static int supervise(pcomm_loop *loop, pcomm_job *job, int sfd, const struct cli_opts *opts)
{
    while (pcomm_loop_active(loop) > 0) {
        struct pollfd pfd[2] = {{.fd = pcomm_loop_fd(loop), .events = POLLIN},
                                {.fd = sfd, .events = POLLIN}};
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            return -errno;
        if (pfd[1].revents)
            forward_pending(sfd, job, opts);
        int r = pcomm_loop_step(loop, 0);
        if (r < 0)
            return r;
    }
    return 0;
}

static void describe_end(const pcomm_status *st, unsigned flags, char *buf, size_t cap)
{
    if (flags & PCOMM_JOB_TIMED_OUT)
        snprintf(buf, cap, "timed out");
    else if (st->how == PCOMM_SIGNALED)
        snprintf(buf, cap, "killed by SIG%s", sigabbrev_np(st->code));
    else if (st->how == PCOMM_EXITED)
        snprintf(buf, cap, "exit status %d", st->code);
    else
        snprintf(buf, cap, "status unknown");
}

/* The CLI's exit status for a job that ran. */
static int exit_status(const struct cli_opts *opts, pcomm_job *job, struct cli_output *out)
{
    pcomm_status st;
    pcomm_job_status(job, &st);
    unsigned flags = pcomm_job_flags(job);
    int error = pcomm_job_error(job);
    char how[64];
    describe_end(&st, flags, how, sizeof how);
    if (error == -EPIPE && out->write_error == -EPIPE)
        return 128 + SIGPIPE; /* our reader went away: end quietly, as the child would have */
    if (error) {
        cli_error("%s", pcomm_strerror(error));
        return CLI_EXIT_FAILURE;
    }
    if (flags & PCOMM_JOB_TRUNCATED)
        cli_verbose(opts, "output may be incomplete: descendants still held it after --linger");
    cli_verbose(opts, "command ended: %s", how);
    int code = pcomm_status_shell_code(&st);
    cli_output_tail(out, code != 0 || (flags & PCOMM_JOB_TIMED_OUT), how);
    if ((flags & PCOMM_JOB_TIMED_OUT) && !opts->preserve_status)
        return CLI_EXIT_TIMEOUT;
    return code < 0 ? CLI_EXIT_FAILURE : code;
}

static int run(const struct cli_opts *opts, pcomm_cmd *cmd)
{
    pcomm_job *job = NULL;
    pcomm_loop *loop = NULL;
    struct cli_output out = {0};
    sigset_t old_mask;
    int sfd = forward_signals_setup(&old_mask);
    int r = sfd < 0 ? sfd : cli_output_plan(&out, opts, cmd);
    if (r == 0)
        r = pcomm_job_new(&job, cmd);
    if (r == 0)
        r = cli_output_attach(&out, job);
    if (r == 0)
        r = configure_job(opts, job);
    if (r == 0)
        r = pcomm_loop_new(&loop);
    int status;
    if (r < 0) {
        cli_error("cannot set up the command: %s", pcomm_strerror(r));
        status = CLI_EXIT_FAILURE;
    } else if ((r = pcomm_job_start(job, loop)) < 0) {
        status = report_start_error(opts, r);
    } else {
        pcomm_proc *proc = pcomm_job_proc(job);
        cli_verbose(opts, "spawn path %s", pcomm_proc_spawn_path(proc));
        cli_verbose(opts, "running %s as pid %d", pcomm_proc_exe(proc), pcomm_proc_pid(proc));
        report_ptys(opts, proc);
        r = supervise(loop, job, sfd, opts);
        if (r < 0) {
            cli_error("event loop failed: %s", pcomm_strerror(r));
            status = CLI_EXIT_FAILURE;
        } else {
            status = exit_status(opts, job, &out);
        }
    }
    pcomm_job_free(job);
    pcomm_loop_free(loop);
    cli_output_free(&out);
    if (sfd >= 0)
        close(sfd);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    return status;
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
    int r = build_cmd(&opts, &cmd);
    if (r < 0) {
        if (r != PCOMM_EUNSUPPORTED)
            cli_error("cannot set up the command: %s", pcomm_strerror(r));
        cli_opts_free(&opts);
        return CLI_EXIT_FAILURE;
    }
    status = run(&opts, cmd);
    pcomm_cmd_free(cmd);
    cli_opts_free(&opts);
    return status;
}
