/* demos/pcomm/main.c - the pcomm command: run a command as a pcomm_job on a loop that main
 * drives itself (next to a signalfd, to forward signals), and exit with its status.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
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

/* Apply -I, -E, -U, -C and --foreground to one stage. */
static int configure_stage(const struct cli_opts *opts, pcomm_cmd *cmd)
{
    int r = opts->ignore_env ? pcomm_cmd_clearenv(cmd) : 0;
    for (size_t i = 0; r == 0 && i < opts->env_op_count; i++) {
        const struct cli_env_op *op = &opts->env_ops[i];
        r = op->op == 'E' ? pcomm_cmd_putenv(cmd, op->arg) : pcomm_cmd_unsetenv(cmd, op->arg);
    }
    if (r == 0 && opts->chdir)
        r = pcomm_cmd_chdir(cmd, opts->chdir);
    if (r == 0 && opts->foreground)
        r = pcomm_cmd_set_group(cmd, PCOMM_GROUP_INHERIT);
    return r;
}

/* The stages to run: COMMAND alone, or the pipeline of -c. Returns 0, a negative error, or
 * CLI_EXIT_FAILURE after reporting a syntax error. */
static int build_stages(const struct cli_opts *opts, pcomm_pipeline **stagesp)
{
    pcomm_pipeline *stages;
    int r;
    if (opts->pipeline) {
        size_t column = 0;
        r = pcomm_pipeline_parse(opts->pipeline, &stages, &column);
        if (r == PCOMM_ESYNTAX) {
            cli_error("-c: syntax error at column %zu: %s", column,
                      column > strlen(opts->pipeline) || opts->pipeline[column - 1] == '|'
                          ? "empty stage"
                          : "unterminated quote or escape");
            fputs("Try 'pcomm --help' for more information.\n", stderr);
            return CLI_EXIT_FAILURE;
        }
    } else {
        pcomm_cmd *cmd;
        r = pcomm_pipeline_new(&stages);
        if (r == 0 && (r = pcomm_cmd_new_argv(&cmd, (const char *const *)opts->argv)) == 0) {
            r = pcomm_pipeline_add_cmd(stages, cmd);
            pcomm_cmd_free(cmd);
        }
    }
    for (size_t i = 0; r == 0 && i < pcomm_pipeline_length(stages); i++)
        r = configure_stage(opts, pcomm_pipeline_cmd(stages, i));
    if (r < 0) {
        pcomm_pipeline_free(stages);
        return r;
    }
    *stagesp = stages;
    return 0;
}

/* Input and time limits of the job (outputs: output.c). */
static int configure_job(const struct cli_opts *opts, pcomm_job *job)
{
    int r = 0;
    if (opts->input)
        r = strcmp(opts->input, "-") ? pcomm_job_input_file(job, opts->input)
                                     : pcomm_job_input_fd(job, 0);
    if (r == 0 && opts->timeout_ms > 0)
        r = pcomm_job_set_timeout(job, (int)opts->timeout_ms, opts->timeout_sig,
                                  (int)opts->kill_after_ms);
    if (r == 0)
        r = pcomm_job_set_linger(job, (int)opts->linger_ms);
    return r;
}

/* Map a start failure to a message and the exit status of the CLI contract; program is the
 * argv[0] of the stage that failed. */
static int report_start_error(const struct cli_opts *opts, const char *program, int err)
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
    cli_error("cannot run '%s': %s", program, pcomm_strerror(err));
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
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return fd >= 0 ? fd : -errno;
}

static void forward_pending(int sfd, pcomm_job *job, const struct cli_opts *opts)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        cli_verbose(opts, "forwarding SIG%s to %s %d", sigabbrev_np((int)si.ssi_signo),
                    opts->foreground ? "process" : "group",
                    pcomm_proc_pid(pcomm_job_stage_proc(job, 0)));
        pcomm_job_kill(job, (int)si.ssi_signo);
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

/* How the job ended, in words: "timed out", "exit status 2", "killed by SIGSEGV". For a
 * pipeline, code is the aggregate; a code above 128 is named as a signal when a stage died of
 * that signal. */
static void describe_end(pcomm_job *job, int code, char *buf, size_t cap)
{
    if (pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT) {
        snprintf(buf, cap, "timed out");
        return;
    }
    for (size_t i = 0; code > 128 && i < pcomm_job_stage_count(job); i++) {
        pcomm_status st;
        pcomm_job_stage_status(job, i, &st);
        if (st.how == PCOMM_SIGNALED && st.code == code - 128) {
            snprintf(buf, cap, "killed by SIG%s", sigabbrev_np(st.code));
            return;
        }
    }
    if (code < 0)
        snprintf(buf, cap, "status unknown");
    else
        snprintf(buf, cap, "exit status %d", code);
}

/* The CLI's exit status for a job that ran. */
static int exit_status(const struct cli_opts *opts, pcomm_job *job, struct cli_output *out)
{
    unsigned flags = pcomm_job_flags(job);
    int error = pcomm_job_error(job);
    int code = pcomm_job_exit_code(job); /* a pipeline: pipefail */
    char how[64];
    describe_end(job, code, how, sizeof how);
    if (error == -EPIPE && out->write_error == -EPIPE)
        return 128 + SIGPIPE; /* our reader went away: end quietly, as the child would have */
    if (error) {
        cli_error("%s", pcomm_strerror(error));
        return CLI_EXIT_FAILURE;
    }
    if (flags & PCOMM_JOB_TRUNCATED)
        cli_verbose(opts, "output may be incomplete: descendants still held it after --linger");
    cli_verbose(opts, "command ended: %s", how);
    cli_output_tail(out, code != 0 || (flags & PCOMM_JOB_TIMED_OUT), how);
    if ((flags & PCOMM_JOB_TIMED_OUT) && !opts->preserve_status)
        return CLI_EXIT_TIMEOUT;
    return code < 0 ? CLI_EXIT_FAILURE : code;
}

/* The names of the stages' programs, kept to name the one that fails to start. */
static char **stage_names(pcomm_pipeline *stages)
{
    size_t n = pcomm_pipeline_length(stages);
    char **names = calloc(n + 1, sizeof *names);
    for (size_t i = 0; names && i < n; i++)
        names[i] = strdup(pcomm_cmd_argv(pcomm_pipeline_cmd(stages, i), 0));
    return names;
}

static void free_names(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

static void say_started(const struct cli_opts *opts, pcomm_job *job)
{
    for (size_t i = 0; opts->verbose && i < pcomm_job_stage_count(job); i++) {
        pcomm_proc *proc = pcomm_job_stage_proc(job, i);
        if (i == 0)
            cli_verbose(opts, "spawn path %s", pcomm_proc_spawn_path(proc));
        cli_verbose(opts, "running %s as pid %d", pcomm_proc_exe(proc), pcomm_proc_pid(proc));
    }
}

static int run(const struct cli_opts *opts, pcomm_pipeline *stages)
{
    pcomm_job *job = NULL;
    pcomm_loop *loop = NULL;
    struct cli_output out = {0};
    char **names = stage_names(stages);
    sigset_t old_mask;
    int sfd = forward_signals_setup(&old_mask);
    int r = sfd < 0 ? sfd : names ? 0 : -ENOMEM;
    bool reported = false; /* output files report their own errors, naming the file */
    if (r == 0 && (r = cli_output_plan(&out, opts, stages)) < 0)
        reported = true;
    if (r == 0 && (r = pcomm_job_new_pipeline(&job, stages)) == 0)
        stages = NULL; /* the job has it */
    if (r == 0)
        r = cli_output_attach(&out, job);
    if (r == 0)
        r = configure_job(opts, job);
    if (r == 0)
        r = pcomm_loop_new(&loop);
    int status;
    if (r < 0) {
        if (!reported)
            cli_error("cannot set up the command: %s", pcomm_strerror(r));
        status = CLI_EXIT_FAILURE;
    } else if ((r = pcomm_job_start(job, loop)) < 0) {
        status = report_start_error(opts, names[pcomm_job_failed_stage(job)], r);
    } else {
        say_started(opts, job);
        r = supervise(loop, job, sfd, opts);
        if (r < 0) {
            cli_error("event loop failed: %s", pcomm_strerror(r));
            status = CLI_EXIT_FAILURE;
        } else {
            status = exit_status(opts, job, &out);
            /* The command's own failure still produces the files; pcomm's does not. */
            if (cli_output_finish(&out, pcomm_job_error(job) == 0) < 0)
                status = CLI_EXIT_FAILURE;
        }
    }
    pcomm_job_free(job);
    pcomm_pipeline_free(stages);
    pcomm_loop_free(loop);
    cli_output_free(&out);
    free_names(names);
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
    pcomm_pipeline *stages;
    int r = build_stages(&opts, &stages);
    if (r != 0) {
        if (r < 0)
            cli_error("cannot set up the command: %s", pcomm_strerror(r));
        cli_opts_free(&opts);
        return CLI_EXIT_FAILURE;
    }
    status = run(&opts, stages);
    cli_opts_free(&opts);
    return status;
}
