/* demos/pcomm/main.c - the pcomm command: run a command or a pipeline as a pcomm_job on a loop
 * that main drives itself (next to a signalfd, to forward signals), report, and exit with its
 * status. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* Everything one run of pcomm holds. */
struct cli_run {
    const struct cli_opts *opts;
    pcomm_job *job;
    pcomm_loop *loop;
    struct cli_output out;
    struct cli_report report;
    struct cli_status status_line;
    char **names; /* the stages' programs, to name the one that fails to start */
    int sfd;
    int lock_fd;
    pcomm_filter *decoder; /* -i's decompression, or NULL */
    bool decoder_owned;    /* not yet handed to the job */
    int64_t timeout_ms;    /* what is left of --timeout after waiting for --lock */
};

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

/* Line buffering: -u / --pty, --size, --linebuf. stdin's pty is the first stage's, shared with
 * its stdout for a single command (then the controlling terminal); stdout's is the last stage's
 * (pty 0); each stage's stderr gets its own (pty 1), or shares stdout's when merged. */
static int build_line_buffering(const struct cli_opts *opts, pcomm_pipeline *stages)
{
    size_t n = pcomm_pipeline_length(stages);
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        pcomm_cmd *cmd = pcomm_pipeline_cmd(stages, i);
        bool first = i == 0, last = i + 1 == n;
        if (first && (opts->pty & CLI_PTY_STDIN))
            r = pcomm_cmd_stdio_pty(cmd, 0, 0);
        if (r == 0 && last && (opts->pty & CLI_PTY_STDOUT))
            r = pcomm_cmd_stdio_pty(cmd, 1, 0);
        if (r == 0 && (opts->pty & CLI_PTY_STDERR) && (!opts->merge || last))
            r = pcomm_cmd_stdio_pty(cmd, 2, opts->merge ? 0 : 1);
        if (r == 0 && opts->cols)
            r = pcomm_cmd_set_winsize(cmd, opts->cols, opts->rows);
        if (r == 0 && opts->linebuf && (r = pcomm_cmd_linebuf(cmd)) == PCOMM_EUNSUPPORTED)
            cli_error("--linebuf needs coreutils' libstdbuf.so, which is not installed");
    }
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
    if (r == 0)
        r = build_line_buffering(opts, stages);
    if (r == PCOMM_EUNSUPPORTED) { /* already reported */
        pcomm_pipeline_free(stages);
        return CLI_EXIT_FAILURE;
    }
    if (r < 0) {
        pcomm_pipeline_free(stages);
        return r;
    }
    *stagesp = stages;
    return 0;
}

/* ---- events: -v lines and report marks --------------------------------------------------- */

static void on_event(void *userdata, const pcomm_event *ev)
{
    struct cli_run *run = userdata;
    if (ev->kind == PCOMM_EVENT_LINGER) {
        cli_verbose(run->opts, "linger: descendants still hold the output; stop reading");
        return;
    }
    if (ev->kind != PCOMM_EVENT_SIGNAL)
        return;
    static const char *const why[] = {NULL,     "timeout", "kill-after",
                                      "linger", "abort",   "forwarded"};
    const char *reason = ev->reason > 0 && ev->reason <= 5 ? why[ev->reason] : "signal";
    cli_report_mark(&run->report, ev->sig, reason);
    cli_verbose(run->opts, "%s: SIG%s to %s %d", reason, sigabbrev_np(ev->sig),
                ev->group ? "group" : "process", ev->target);
}

/* ---- setting up ------------------------------------------------------------------------------ */

/* Input, time limits and events of the job (outputs: output.c). */
static int configure_job(struct cli_run *run)
{
    const struct cli_opts *opts = run->opts;
    pcomm_job *job = run->job;
    int r = pcomm_job_on_event(job, on_event, run);
    if (r == 0 && run->decoder && (r = pcomm_job_filter_input(job, run->decoder)) == 0)
        run->decoder_owned = false; /* the job has it now */
    if (r == 0 && opts->input)
        r = strcmp(opts->input, "-") ? pcomm_job_input_file(job, opts->input)
                                     : pcomm_job_input_fd(job, 0);
    else if (r == 0 && (opts->pty & CLI_PTY_STDIN))
        r = pcomm_job_input_fd(job, 0); /* relay pcomm's stdin through the pty */
    if (r == 0 && run->timeout_ms > 0)
        r = pcomm_job_set_timeout(job, (int)run->timeout_ms, opts->timeout_sig,
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

/* ---- running --------------------------------------------------------------------------------- */

/* pcomm's terminal was resized: resize every stage's ptys; the kernel signals the child. */
static void relay_winsize(struct cli_run *run)
{
    for (size_t i = 0; i < pcomm_job_stage_count(run->job); i++) {
        pcomm_proc *proc = pcomm_job_stage_proc(run->job, i);
        pcomm_pty_info info;
        if (pcomm_proc_set_winsize(proc, 0, 0) < 0)
            continue;
        for (int fd = 0; fd <= 2; fd++)
            if (pcomm_proc_pty(proc, fd, &info) == 0 && info.path != PCOMM_PTY_NONE &&
                info.path != PCOMM_PTY_PIPE) {
                cli_verbose(run->opts, "window size %ux%u", info.cols, info.rows);
                return;
            }
    }
}

static void forward_pending(struct cli_run *run)
{
    struct signalfd_siginfo si;
    while (read(run->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGWINCH)
            relay_winsize(run);
        else
            pcomm_job_kill(run->job, (int)si.ssi_signo); /* reported through on_event */
    }
}

/* Drive the job's loop next to the signalfd until the job ends, redrawing the status line. */
static int supervise(struct cli_run *run)
{
    while (pcomm_loop_active(run->loop) > 0) {
        struct pollfd pfd[2] = {{.fd = pcomm_loop_fd(run->loop), .events = POLLIN},
                                {.fd = run->sfd, .events = POLLIN}};
        if (poll(pfd, 2, run->status_line.enabled ? 100 : -1) < 0 && errno != EINTR)
            return -errno;
        if (pfd[1].revents)
            forward_pending(run);
        int r = pcomm_loop_step(run->loop, 0);
        if (r < 0)
            return r;
        cli_status_draw(&run->status_line, run->job, false);
    }
    cli_status_erase(&run->status_line);
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

/* A job that failed in a filter: name the file and the filter's reason. Returns whether one
 * did. */
static bool report_filter_error(struct cli_run *run)
{
    const pcomm_filter *in = pcomm_job_input_filter(run->job);
    if (in && *pcomm_filter_message(in)) {
        cli_error("cannot decompress '%s': %s", cli_input_name(run->opts),
                  pcomm_filter_message(in));
        run->report.pcomm_error = pcomm_job_error(run->job);
        return true;
    }
    for (int s = PCOMM_STDOUT; s <= PCOMM_STDERR; s++) {
        const pcomm_filter *f = pcomm_job_output_filter(run->job, s);
        if (f && *pcomm_filter_message(f)) {
            cli_error("cannot compress '%s': %s", run->opts->output[s], pcomm_filter_message(f));
            run->report.pcomm_error = pcomm_job_error(run->job);
            return true;
        }
    }
    return false;
}

/* The CLI's exit status for a job that ran. */
static int exit_status(struct cli_run *run)
{
    pcomm_job *job = run->job;
    unsigned flags = pcomm_job_flags(job);
    int error = pcomm_job_error(job);
    int code = pcomm_job_exit_code(job); /* a pipeline: pipefail */
    char how[64];
    describe_end(job, code, how, sizeof how);
    if (error == -EPIPE && run->out.write_error == -EPIPE)
        return 128 + SIGPIPE; /* our reader went away: end quietly, as the child would have */
    if (error && report_filter_error(run))
        return CLI_EXIT_FAILURE;
    if (error) {
        cli_error("%s", pcomm_strerror(error));
        run->report.pcomm_error = error;
        return CLI_EXIT_FAILURE;
    }
    if (flags & PCOMM_JOB_TRUNCATED)
        cli_verbose(run->opts,
                    "output may be incomplete: descendants still held it after --linger");
    cli_verbose(run->opts, "command ended: %s", how);
    cli_output_tail(&run->out, code != 0 || (flags & PCOMM_JOB_TIMED_OUT), how);
    if ((flags & PCOMM_JOB_TIMED_OUT) && !run->opts->preserve_status)
        return CLI_EXIT_TIMEOUT;
    return code < 0 ? CLI_EXIT_FAILURE : code;
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

static void say_started(const struct cli_opts *opts, pcomm_job *job)
{
    for (size_t i = 0; opts->verbose && i < pcomm_job_stage_count(job); i++) {
        pcomm_proc *proc = pcomm_job_stage_proc(job, i);
        if (i == 0)
            cli_verbose(opts, "spawn path %s", pcomm_proc_spawn_path(proc));
        cli_verbose(opts, "running %s as pid %d", pcomm_proc_exe(proc), pcomm_proc_pid(proc));
        report_ptys(opts, proc);
    }
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

/* Set up the outputs and the job (the job takes stages). Returns 0, or an exit status. */
static int prepare(struct cli_run *run, pcomm_pipeline *stages)
{
    const struct cli_opts *opts = run->opts;
    run->out.report = opts->trace ? &run->report : NULL;
    run->out.count = opts->json || run->status_line.enabled;
    int r = cli_output_plan(&run->out, opts, stages);
    if (r < 0) {
        pcomm_pipeline_free(stages);
        return CLI_EXIT_FAILURE; /* reported, naming the file */
    }
    if ((r = pcomm_job_new_pipeline(&run->job, stages)) < 0)
        pcomm_pipeline_free(stages);
    if (r == 0)
        r = cli_output_attach(&run->out, run->job);
    if (r == PCOMM_EUNSUPPORTED)
        return CLI_EXIT_FAILURE; /* reported */
    if (r == 0 && (r = cli_input_filter(opts, &run->decoder)) > 0)
        return r; /* reported */
    run->decoder_owned = run->decoder != NULL;
    if (r == 0)
        r = configure_job(run);
    if (r == 0)
        r = pcomm_loop_new(&run->loop);
    if (r < 0) {
        cli_error("cannot set up the command: %s", pcomm_strerror(r));
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

static int execute(struct cli_run *run)
{
    int r = pcomm_job_start(run->job, run->loop);
    if (r < 0) {
        run->report.start_error = r;
        return report_start_error(run->opts, run->names[pcomm_job_failed_stage(run->job)], r);
    }
    say_started(run->opts, run->job);
    run->status_line.start_ns = pcomm_now_ns();
    if ((r = supervise(run)) < 0) {
        cli_error("event loop failed: %s", pcomm_strerror(r));
        run->report.pcomm_error = r;
        return CLI_EXIT_FAILURE;
    }
    int status = exit_status(run);
    /* The command's own failure still produces the files; pcomm's does not. */
    bool commit = pcomm_job_error(run->job) == 0;
    if (cli_output_finish(&run->out, commit) < 0) {
        run->report.pcomm_error = -EIO;
        return CLI_EXIT_FAILURE;
    }
    run->report.outputs_committed = commit;
    return status;
}

/* Wait for --lock; what the wait took comes off --timeout. Returns 0 or an exit status. */
static int take_lock(struct cli_run *run)
{
    const struct cli_opts *opts = run->opts;
    run->timeout_ms = opts->timeout_ms;
    if (!opts->lock)
        return 0;
    int64_t start = pcomm_now_ns();
    int64_t deadline = opts->timeout_ms > 0 ? start + opts->timeout_ms * 1000000 : 0;
    int status = cli_lock(opts->lock, deadline, &run->lock_fd);
    if (status == 0 && opts->timeout_ms > 0) {
        int64_t waited_ms = (pcomm_now_ns() - start) / 1000000;
        run->timeout_ms = opts->timeout_ms - waited_ms > 1 ? opts->timeout_ms - waited_ms : 1;
        cli_verbose(opts, "lock '%s' taken after %lld ms", opts->lock, (long long)waited_ms);
    }
    return status;
}

static void write_reports(struct cli_run *run, int status)
{
    run->report.status = status;
    run->report.end_ns = pcomm_now_ns();
    if (run->opts->json &&
        cli_report_json(&run->report, run->job, &run->out, run->opts->json) < 0 && status == 0)
        status = CLI_EXIT_FAILURE;
    if (run->opts->trace)
        cli_report_trace(&run->report, run->job, run->opts->trace);
}

static int run_stages(struct cli_run *run, pcomm_pipeline *stages)
{
    sigset_t old_mask;
    run->sfd = forward_signals_setup(&old_mask);
    run->names = stage_names(stages);
    run->status_line.enabled = cli_status_wanted(run->opts);
    int status = take_lock(run);
    if (status == 0 && (run->sfd < 0 || !run->names)) {
        cli_error("cannot set up: %s", strerror(run->sfd < 0 ? -run->sfd : ENOMEM));
        status = CLI_EXIT_FAILURE;
    }
    if (status == 0)
        status = prepare(run, stages);
    else
        pcomm_pipeline_free(stages);
    if (status == 0)
        status = execute(run);
    if (run->job) /* from the start on, a report is due even when pcomm failed */
        write_reports(run, status);
    pcomm_job_free(run->job);
    if (run->decoder_owned)
        pcomm_filter_free(run->decoder);
    pcomm_loop_free(run->loop);
    cli_output_free(&run->out);
    for (size_t i = 0; run->names && run->names[i]; i++)
        free(run->names[i]);
    free(run->names);
    if (run->sfd >= 0)
        close(run->sfd);
    if (run->lock_fd >= 0)
        close(run->lock_fd); /* releases the lock: the command has ended */
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
    struct cli_run run = {.opts = &opts, .sfd = -1, .lock_fd = -1};
    cli_report_init(&run.report, &opts);
    run.out.null_fd = -1;
    status = run_stages(&run, stages);
    cli_report_free(&run.report);
    cli_opts_free(&opts);
    return status;
}
