/* lib/job.c - pcomm_job: one child and its plumbing on a loop, and pcomm_run().
 *
 * The job ends when the child's end has been observed and every output channel is closed.
 * Around that: a timeout (signal, SIGCONT, then SIGKILL after a grace period), a linger bound
 * after the child's end, and an abort path for errors of callbacks and outputs (channels closed,
 * group killed, then wait for the child's end). The child is reaped only when the job is freed.
 *
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "channel.h"
#include "cmd_private.h"
#include "pcomm/error.h"
#include "pcomm/run.h"
#include "proc_private.h"
#include "sys.h"

enum { PCOMM_DEFAULT_GRACE_MS = 2000, PCOMM_DEFAULT_LINGER_MS = 2000 };

struct pcomm_job {
    pcomm_cmd *cmd;
    pcomm_loop *loop;
    pcomm_proc *proc;
    /* configuration */
    int in_kind;
    const void *in_data;
    size_t in_len;
    int in_fd;
    char *in_path;
    struct pcomm__sinks sinks[3]; /* [1] stdout, [2] stderr */
    bool merge;
    int timeout_ms, timeout_sig, grace_ms, linger_ms;
    pcomm_done_fn done_fn;
    void *done_userdata;
    /* running */
    struct pcomm__outchan out[3];
    bool out_open[3];
    struct pcomm__inchan in;
    bool in_open;
    struct pcomm__watch exit_watch;
    struct pcomm__timer timeout_timer, kill_timer, linger_timer, exit_poll_timer;
    int64_t exit_poll_ns;
    bool started, exited, held;
    unsigned flags;
    int error;
};

static bool pcomm_stream_ok(int stream)
{
    return stream == PCOMM_STDOUT || stream == PCOMM_STDERR;
}

/* ---- configuration ------------------------------------------------------------------------- */

int pcomm_job_new(pcomm_job **jobp, const pcomm_cmd *cmd)
{
    if (!jobp || !cmd)
        return -EINVAL;
    pcomm_job *job = calloc(1, sizeof *job);
    if (!job)
        return -ENOMEM;
    int r = pcomm_cmd_dup(cmd, &job->cmd);
    if (r < 0) {
        free(job);
        return r;
    }
    job->in_fd = -1;
    job->timeout_ms = -1;
    job->grace_ms = PCOMM_DEFAULT_GRACE_MS;
    job->linger_ms = PCOMM_DEFAULT_LINGER_MS;
    *jobp = job;
    return 0;
}

static int pcomm_job_check_config(const pcomm_job *job)
{
    if (!job)
        return -EINVAL;
    return job->started ? -EBUSY : 0;
}

static int pcomm_job_set_input(pcomm_job *job, int kind, const void *data, size_t len, int fd,
                               const char *path)
{
    int r = pcomm_job_check_config(job);
    if (r < 0)
        return r;
    char *copy = NULL;
    if (path && !(copy = strdup(path)))
        return -ENOMEM;
    free(job->in_path);
    job->in_kind = kind;
    job->in_data = data;
    job->in_len = len;
    job->in_fd = fd;
    job->in_path = copy;
    return 0;
}

int pcomm_job_input_bytes(pcomm_job *job, const void *data, size_t len)
{
    if (!data && len)
        return -EINVAL;
    return pcomm_job_set_input(job, PCOMM__IN_BYTES, data, len, -1, NULL);
}

int pcomm_job_input_fd(pcomm_job *job, int fd)
{
    if (fd < 0)
        return -EINVAL;
    return pcomm_job_set_input(job, PCOMM__IN_FD, NULL, 0, fd, NULL);
}

int pcomm_job_input_file(pcomm_job *job, const char *path)
{
    if (!path || !*path)
        return -EINVAL;
    return pcomm_job_set_input(job, PCOMM__IN_FILE, NULL, 0, -1, path);
}

int pcomm_job_capture(pcomm_job *job, int stream, size_t mem_threshold)
{
    int r = pcomm_job_check_config(job);
    if (r < 0 || !pcomm_stream_ok(stream))
        return r < 0 ? r : -EINVAL;
    pcomm_spool *spool;
    r = pcomm_spool_new(&spool, mem_threshold);
    if (r < 0)
        return r;
    pcomm_spool_free(job->sinks[stream].spool);
    job->sinks[stream].spool = spool;
    return 0;
}

int pcomm_job_forward(pcomm_job *job, int stream, int fd)
{
    int r = pcomm_job_check_config(job);
    if (r < 0 || !pcomm_stream_ok(stream) || fd < 0)
        return r < 0 ? r : -EINVAL;
    struct pcomm__sinks *s = &job->sinks[stream];
    if (s->fd_count == PCOMM__MAX_FORWARD)
        return -ENOSPC;
    s->fds[s->fd_count++] = fd;
    return 0;
}

int pcomm_job_on_line(pcomm_job *job, int stream, pcomm_line_fn fn, void *userdata, size_t max_line)
{
    int r = pcomm_job_check_config(job);
    if (r < 0 || !pcomm_stream_ok(stream) || !fn)
        return r < 0 ? r : -EINVAL;
    job->sinks[stream].line_fn = fn;
    job->sinks[stream].line_userdata = userdata;
    job->sinks[stream].max_line = max_line;
    return 0;
}

int pcomm_job_merge_stderr(pcomm_job *job)
{
    int r = pcomm_job_check_config(job);
    if (r == 0)
        job->merge = true;
    return r;
}

int pcomm_job_set_timeout(pcomm_job *job, int timeout_ms, int sig, int grace_ms)
{
    int r = pcomm_job_check_config(job);
    if (r < 0 || sig < 0 || sig >= NSIG)
        return r < 0 ? r : -EINVAL;
    job->timeout_ms = timeout_ms;
    job->timeout_sig = sig ? sig : SIGTERM;
    job->grace_ms = grace_ms;
    return 0;
}

int pcomm_job_set_linger(pcomm_job *job, int linger_ms)
{
    int r = pcomm_job_check_config(job);
    if (r == 0)
        job->linger_ms = linger_ms;
    return r;
}

int pcomm_job_on_done(pcomm_job *job, pcomm_done_fn fn, void *userdata)
{
    int r = pcomm_job_check_config(job);
    if (r == 0) {
        job->done_fn = fn;
        job->done_userdata = userdata;
    }
    return r;
}

/* ---- the state machine --------------------------------------------------------------------- */

static void pcomm_job_stop_timers(pcomm_job *job)
{
    pcomm__timer_stop(job->loop, &job->timeout_timer);
    pcomm__timer_stop(job->loop, &job->kill_timer);
    pcomm__timer_stop(job->loop, &job->linger_timer);
    pcomm__timer_stop(job->loop, &job->exit_poll_timer);
}

static bool pcomm_job_outputs_closed(const pcomm_job *job)
{
    for (int s = 1; s <= 2; s++)
        if (job->out_open[s] && !job->out[s].ended)
            return false;
    return true;
}

static void pcomm_job_finish(pcomm_job *job)
{
    if (job->flags & PCOMM_JOB_DONE)
        return;
    pcomm_job_stop_timers(job);
    pcomm__watch_stop(job->loop, &job->exit_watch);
    job->flags |= PCOMM_JOB_DONE;
    if (job->held) {
        job->held = false;
        pcomm__loop_release(job->loop);
    }
    if (job->done_fn)
        job->done_fn(job->done_userdata, job);
}

static void pcomm_job_maybe_finish(pcomm_job *job)
{
    if (job->exited && pcomm_job_outputs_closed(job))
        pcomm_job_finish(job);
}

/* Stop everything after an error: close the channels, kill the group, wait for the end. */
static void pcomm_job_abort(pcomm_job *job, int error)
{
    if (!job->error)
        job->error = error;
    if (job->in_open)
        pcomm__inchan_close(&job->in);
    for (int s = 1; s <= 2; s++)
        if (job->out_open[s])
            pcomm__outchan_close(&job->out[s], false);
    if (!job->exited)
        pcomm_proc_kill(job->proc, SIGKILL);
    pcomm_job_maybe_finish(job);
}

static pcomm_job *pcomm_job_of_outchan(struct pcomm__outchan *ch)
{
    return (pcomm_job *)(void *)((char *)(ch - ch->stream) - offsetof(pcomm_job, out));
}

static void pcomm_job_on_output_end(struct pcomm__outchan *ch)
{
    pcomm_job *job = pcomm_job_of_outchan(ch);
    if (ch->error)
        pcomm_job_abort(job, ch->error);
    else
        pcomm_job_maybe_finish(job);
}

static void pcomm_job_on_linger(struct pcomm__timer *t)
{
    pcomm_job *job = pcomm__container_of(t, pcomm_job, linger_timer);
    job->flags |= PCOMM_JOB_TRUNCATED;
    /* Descendants still hold the output: stop reading, and end them with the group. */
    pcomm_proc_kill(job->proc, SIGKILL);
    for (int s = 1; s <= 2; s++)
        if (job->out_open[s])
            pcomm__outchan_close(&job->out[s], true);
    pcomm_job_finish(job);
}

static void pcomm_job_exited(pcomm_job *job)
{
    job->exited = true;
    pcomm__watch_stop(job->loop, &job->exit_watch);
    pcomm__timer_stop(job->loop, &job->timeout_timer);
    pcomm__timer_stop(job->loop, &job->kill_timer);
    pcomm__timer_stop(job->loop, &job->exit_poll_timer);
    if (job->in_open)
        pcomm__inchan_close(&job->in); /* nobody will read it any more */
    if (pcomm_job_outputs_closed(job))
        pcomm_job_finish(job);
    else if (job->linger_ms >= 0)
        pcomm__timer_start(job->loop, &job->linger_timer,
                           pcomm__now_ns() + (int64_t)job->linger_ms * PCOMM__NS_PER_MS);
}

static void pcomm_job_check_exit(pcomm_job *job)
{
    if (!job->exited && pcomm__proc_poll(job->proc) != 0) /* ended, or reaped by someone else */
        pcomm_job_exited(job);
}

static void pcomm_job_on_exit_event(struct pcomm__watch *w, uint32_t revents)
{
    (void)revents;
    pcomm_job_check_exit(pcomm__container_of(w, pcomm_job, exit_watch));
}

/* Without a pidfd: poll waitid, 1 ms at first, backing off to 50 ms. */
static void pcomm_job_on_exit_poll(struct pcomm__timer *t)
{
    pcomm_job *job = pcomm__container_of(t, pcomm_job, exit_poll_timer);
    pcomm_job_check_exit(job);
    if (job->exited)
        return;
    if (job->exit_poll_ns < 50 * PCOMM__NS_PER_MS)
        job->exit_poll_ns *= 2;
    pcomm__timer_start(job->loop, t, pcomm__now_ns() + job->exit_poll_ns);
}

static void pcomm_job_on_kill(struct pcomm__timer *t)
{
    pcomm_job *job = pcomm__container_of(t, pcomm_job, kill_timer);
    job->flags |= PCOMM_JOB_KILLED;
    pcomm_proc_kill(job->proc, SIGKILL);
}

static void pcomm_job_on_timeout(struct pcomm__timer *t)
{
    pcomm_job *job = pcomm__container_of(t, pcomm_job, timeout_timer);
    job->flags |= PCOMM_JOB_TIMED_OUT;
    pcomm_proc_kill(job->proc, job->timeout_sig);
    if (job->timeout_sig != SIGKILL && job->timeout_sig != SIGCONT)
        pcomm_proc_kill(job->proc, SIGCONT); /* a stopped child must see the signal */
    if (job->grace_ms >= 0 && job->timeout_sig != SIGKILL)
        pcomm__timer_start(job->loop, &job->kill_timer,
                           pcomm__now_ns() + (int64_t)job->grace_ms * PCOMM__NS_PER_MS);
}

/* ---- starting ------------------------------------------------------------------------------ */

/* The pty id cmd gives child descriptor fd, or -1 when fd is not on a pty. */
static int pcomm_job_pty_id(const pcomm_job *job, int fd)
{
    const struct pcomm__stdio *s = pcomm__cmd_stdio(job->cmd, fd);
    return s && s->kind == PCOMM__STDIO_PTY ? s->arg : -1;
}

/* Make every descriptor the job pumps something it can pump: a pipe, unless the command puts it
 * on a pty, whose master the job then reads or writes instead. Merging stderr into a stdout pty
 * puts stderr on the same pty (exact interleaving, one stream). */
static int pcomm_job_plumb(pcomm_job *job)
{
    int r = 0;
    if (job->in_kind != PCOMM__IN_NONE && pcomm_job_pty_id(job, 0) < 0)
        r = pcomm_cmd_stdio_pipe(job->cmd, 0);
    if (r == 0 && pcomm__sinks_any(&job->sinks[1]) && pcomm_job_pty_id(job, 1) < 0)
        r = pcomm_cmd_stdio_pipe(job->cmd, 1);
    if (r == 0 && job->merge)
        r = pcomm_job_pty_id(job, 1) >= 0
                ? pcomm_cmd_stdio_pty(job->cmd, 2, pcomm_job_pty_id(job, 1))
                : pcomm_cmd_stdio_merge(job->cmd, 2, 1);
    else if (r == 0 && pcomm__sinks_any(&job->sinks[2]) && pcomm_job_pty_id(job, 2) < 0)
        r = pcomm_cmd_stdio_pipe(job->cmd, 2);
    return r;
}

/* The pty info of child descriptor fd. */
static pcomm_pty_info pcomm_job_pty(const pcomm_job *job, int fd)
{
    pcomm_pty_info info;
    pcomm_proc_pty(job->proc, fd, &info);
    return info;
}

static bool pcomm_is_live_pty(const pcomm_pty_info *info)
{
    return info->path == PCOMM_PTY_CTTY || info->path == PCOMM_PTY_NOCTTY;
}

/* Input through a pty (see pcomm_job_input_bytes(3)): a line too long for the terminal ends the
 * job with PCOMM_ELINE rather than reaching the child cut. */
static void pcomm_job_on_input_end(struct pcomm__inchan *ch)
{
    if (ch->error == PCOMM_ELINE)
        pcomm_job_abort(pcomm__container_of(ch, pcomm_job, in), PCOMM_ELINE);
}

static int pcomm_job_open_input(pcomm_job *job)
{
    if (job->in_kind == PCOMM__IN_NONE)
        return 0;
    bool owned = job->in_kind == PCOMM__IN_FILE;
    pcomm_pty_info pty = pcomm_job_pty(job, 0);
    bool tty = pcomm_is_live_pty(&pty);
    int sink = pcomm_proc_take_fd(job->proc, 0);
    int r = pcomm__inchan_open(&job->in, job->loop, sink, job->in_kind, job->in_data, job->in_len,
                               job->in_fd, owned, tty, tty ? pcomm_job_on_input_end : NULL);
    job->in_open = true; /* from here on the channel owns sink and, for a file, the source */
    if (owned)
        job->in_fd = -1;
    return r;
}

/* The parent's end for output stream s: its own pipe or master, or, when s shares a pty with
 * stdin, the master (exposed under fd 0), duplicated when the input channel needs it too. */
static int pcomm_job_output_fd(pcomm_job *job, int s)
{
    pcomm_pty_info pty = pcomm_job_pty(job, s);
    if (!pcomm_is_live_pty(&pty) || !(pty.fds & 1u))
        return pcomm_proc_take_fd(job->proc, s);
    if (job->in_kind == PCOMM__IN_NONE)
        return pcomm_proc_take_fd(job->proc, 0);
    int fd = pcomm_proc_fd(job->proc, 0);
    return fd < 0 ? fd : pcomm__dup_above(fd, 3);
}

/* Whether stream s has no channel of its own: stderr merged into stdout, through the same pipe
 * or on the same pty (one stream, delivered as PCOMM_STDOUT). */
static bool pcomm_job_folded(const pcomm_job *job, int s)
{
    if (s != 2)
        return false;
    return job->merge || (pcomm_job_pty(job, 2).fds & 2u);
}

static int pcomm_job_open_outputs(pcomm_job *job)
{
    for (int s = 1; s <= 2; s++) {
        if (!pcomm__sinks_any(&job->sinks[s]) || pcomm_job_folded(job, s))
            continue;
        int fd = pcomm_job_output_fd(job, s);
        if (fd < 0)
            return fd;
        int r = pcomm__outchan_open(&job->out[s], job->loop, fd, s, &job->sinks[s],
                                    pcomm_job_on_output_end);
        job->out_open[s] = true;
        if (r < 0)
            return r;
    }
    return 0;
}

static int pcomm_job_watch_exit(pcomm_job *job)
{
    int pidfd = pcomm_proc_pidfd(job->proc);
    if (pidfd >= 0)
        return pcomm__watch_start(job->loop, &job->exit_watch, pidfd, EPOLLIN);
    job->exit_poll_ns = PCOMM__NS_PER_MS;
    return pcomm__timer_start(job->loop, &job->exit_poll_timer,
                              pcomm__now_ns() + job->exit_poll_ns);
}

static void pcomm_job_init_runtime(pcomm_job *job, pcomm_loop *loop)
{
    job->loop = loop;
    pcomm__watch_init(&job->exit_watch, pcomm_job_on_exit_event);
    pcomm__timer_init(&job->timeout_timer, pcomm_job_on_timeout);
    pcomm__timer_init(&job->kill_timer, pcomm_job_on_kill);
    pcomm__timer_init(&job->linger_timer, pcomm_job_on_linger);
    pcomm__timer_init(&job->exit_poll_timer, pcomm_job_on_exit_poll);
    pcomm__watch_init(&job->in.sink_watch, NULL);
    pcomm__watch_init(&job->in.src_watch, NULL);
}

/* Undo a start that failed half-way: nothing may be left running or open. */
static void pcomm_job_unwind(pcomm_job *job)
{
    pcomm_job_stop_timers(job);
    pcomm__watch_stop(job->loop, &job->exit_watch);
    if (job->in_open)
        pcomm__inchan_close(&job->in);
    for (int s = 1; s <= 2; s++)
        if (job->out_open[s]) {
            job->out[s].ended = true; /* no end notification while unwinding */
            pcomm__watch_stop(job->loop, &job->out[s].watch);
            pcomm__closep(&job->out[s].fd);
            pcomm__outchan_free(&job->out[s]);
            job->out_open[s] = false;
        }
    job->in_open = false;
    pcomm_proc_free(job->proc); /* kills and reaps */
    job->proc = NULL;
    job->loop = NULL;
}

int pcomm_job_start(pcomm_job *job, pcomm_loop *loop)
{
    int r = pcomm_job_check_config(job);
    if (r < 0 || !loop)
        return r < 0 ? r : -EINVAL;
    r = pcomm_job_plumb(job);
    if (r < 0)
        return r;
    /* Bytes for a pty are checked before anything runs: a line the terminal would cut is
     * refused whole (fd and file input are checked as they stream, see pcomm_job_input_bytes). */
    if (job->in_kind == PCOMM__IN_BYTES && pcomm_job_pty_id(job, 0) >= 0) {
        r = pcomm__tty_check_lines(job->in_data, job->in_len);
        if (r < 0)
            return r;
    }
    if (job->in_kind == PCOMM__IN_FILE) { /* report a missing input before running anything */
        job->in_fd = pcomm__open(job->in_path, O_RDONLY | O_NOCTTY, 0);
        if (job->in_fd < 0)
            return job->in_fd;
    }
    r = pcomm_spawn(job->cmd, &job->proc);
    if (r < 0) {
        if (job->in_kind == PCOMM__IN_FILE)
            pcomm__closep(&job->in_fd);
        return r;
    }
    job->started = true;
    pcomm_job_init_runtime(job, loop);
    r = pcomm_job_watch_exit(job);
    if (r == 0)
        r = pcomm_job_open_outputs(job);
    if (r == 0)
        r = pcomm_job_open_input(job);
    if (r == 0 && job->timeout_ms >= 0)
        r = pcomm__timer_start(loop, &job->timeout_timer,
                               pcomm__now_ns() + (int64_t)job->timeout_ms * PCOMM__NS_PER_MS);
    if (r < 0) {
        pcomm_job_unwind(job);
        return r;
    }
    job->held = true;
    pcomm__loop_hold(loop);
    return 0;
}

int pcomm_run(pcomm_job *job)
{
    int r = pcomm_job_check_config(job);
    if (r < 0)
        return r;
    pcomm_loop *loop;
    r = pcomm_loop_new(&loop);
    if (r < 0)
        return r;
    r = pcomm_job_start(job, loop);
    if (r == 0)
        r = pcomm_loop_run(loop, -1);
    if (r < 0 && job->started && !(job->flags & PCOMM_JOB_DONE))
        pcomm_job_abort(job, r); /* the loop itself failed: leave nothing running */
    if (job->started) {
        pcomm_job_stop_timers(job);
        job->loop = NULL; /* every watch and timer is stopped: the job outlives its loop */
    }
    pcomm_loop_free(loop);
    if (r < 0)
        return r;
    if (job->error)
        return job->error;
    pcomm_status st;
    pcomm_proc_status(job->proc, &st);
    return st.how == PCOMM_UNKNOWN ? -ECHILD : 0;
}

/* ---- teardown and results ------------------------------------------------------------------ */

/* Take a job that has not ended off its loop (the host frees it early). */
static void pcomm_job_detach(pcomm_job *job)
{
    pcomm_job_stop_timers(job);
    pcomm__watch_stop(job->loop, &job->exit_watch);
    if (job->in_open)
        pcomm__inchan_close(&job->in);
    for (int s = 1; s <= 2; s++)
        if (job->out_open[s] && !job->out[s].ended) {
            job->out[s].ended = true; /* no end notification: the job is going away */
            pcomm__watch_stop(job->loop, &job->out[s].watch);
            pcomm__closep(&job->out[s].fd);
        }
    if (job->held)
        pcomm__loop_release(job->loop);
    job->held = false;
}

void pcomm_job_free(pcomm_job *job)
{
    if (!job)
        return;
    if (job->started && !(job->flags & PCOMM_JOB_DONE) && job->loop)
        pcomm_job_detach(job);
    for (int s = 1; s <= 2; s++) {
        if (job->out_open[s])
            pcomm__outchan_free(&job->out[s]);
        pcomm_spool_free(job->sinks[s].spool);
    }
    if (job->in_open)
        pcomm__inchan_close(&job->in);
    if (job->in_kind == PCOMM__IN_FILE)
        pcomm__close(job->in_fd);
    pcomm_proc_free(job->proc); /* kills a running child with its group, and reaps */
    pcomm_cmd_free(job->cmd);
    free(job->in_path);
    free(job);
}

unsigned pcomm_job_flags(const pcomm_job *job)
{
    if (!job)
        return 0;
    unsigned flags = job->flags;
    if (job->in_open && job->in.short_)
        flags |= PCOMM_JOB_INPUT_SHORT;
    return flags;
}

int pcomm_job_status(const pcomm_job *job, pcomm_status *st)
{
    if (!job || !st)
        return -EINVAL;
    if (job->proc)
        return pcomm_proc_status(job->proc, st);
    memset(st, 0, sizeof *st);
    st->how = PCOMM_RUNNING;
    return 0;
}

int pcomm_job_error(const pcomm_job *job)
{
    return job ? job->error : -EINVAL;
}

uint64_t pcomm_job_bytes(const pcomm_job *job, int stream)
{
    if (!job)
        return 0;
    if (stream == PCOMM_STDIN)
        return job->in_open ? job->in.bytes : 0;
    if (pcomm_stream_ok(stream) && job->out_open[stream])
        return job->out[stream].bytes;
    return 0;
}

pcomm_spool *pcomm_job_output(const pcomm_job *job, int stream)
{
    return job && pcomm_stream_ok(stream) ? job->sinks[stream].spool : NULL;
}

pcomm_spool *pcomm_job_take_output(pcomm_job *job, int stream)
{
    if (!job || !pcomm_stream_ok(stream) || (job->started && !(job->flags & PCOMM_JOB_DONE)))
        return NULL;
    pcomm_spool *spool = job->sinks[stream].spool;
    job->sinks[stream].spool = NULL;
    return spool;
}

pcomm_proc *pcomm_job_proc(const pcomm_job *job)
{
    return job ? job->proc : NULL;
}

int pcomm_job_kill(pcomm_job *job, int sig)
{
    if (!job)
        return -EINVAL;
    if (!job->proc)
        return -ESRCH;
    return pcomm_proc_kill(job->proc, sig);
}
