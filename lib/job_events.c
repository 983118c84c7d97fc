/* lib/job_events.c - the job's state machine on the loop.
 *
 * The job ends when every stage's end has been observed and every pumped output is closed.
 * Around that: a timeout (signal, SIGCONT, then SIGKILL after a grace period), a linger bound
 * once every stage has ended, and an abort path for errors of callbacks and outputs (channels
 * closed, groups killed, then wait for the ends). Children are reaped only when the job is freed.
 *
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>

#include "job_private.h"
#include "pcomm/error.h"
#include "proc_private.h"
#include "sys.h"

/* ---- signals --------------------------------------------------------------------------------- */

/* Tell the host's event callback, if any. */
static void pcomm_job_emit(pcomm_job *job, pcomm_event ev)
{
    if (!job->event_fn)
        return;
    ev.time_ns = pcomm__now_ns();
    job->event_fn(job->event_userdata, &ev);
}

/* Signal every stage: each process group once (through its leader), and every stage that is in
 * no group of its own alone. Stages that joined the first stage's group get it with the group. */
int pcomm__job_signal(pcomm_job *job, int sig, int reason)
{
    pcomm_proc *first = job->cmd_count ? job->stages[job->lead].proc : NULL;
    if (reason && first)
        pcomm_job_emit(job, (pcomm_event){.kind = PCOMM_EVENT_SIGNAL,
                                          .reason = reason,
                                          .sig = sig,
                                          .target = first->pid,
                                          .group = first->leads_group});
    int first_error = 0;
    for (size_t i = 0; i < job->stage_count; i++) {
        pcomm_proc *proc = job->stages[i].proc;
        if (!proc || proc->group_member)
            continue;
        int r = pcomm_proc_kill(proc, sig);
        if (r < 0 && !first_error)
            first_error = r;
    }
    return first_error;
}

/* ---- ending ---------------------------------------------------------------------------------- */

static void pcomm_job_stop_timers(pcomm_job *job)
{
    pcomm__timer_stop(job->loop, &job->timeout_timer);
    pcomm__timer_stop(job->loop, &job->kill_timer);
    pcomm__timer_stop(job->loop, &job->linger_timer);
    for (size_t i = 0; i < job->stage_count; i++)
        pcomm__timer_stop(job->loop, &job->stages[i].exit_poll_timer);
}

static bool pcomm_job_outputs_closed(const pcomm_job *job)
{
    for (int s = 1; s <= 2; s++)
        if (job->out_open[s] && !job->out[s].ended)
            return false;
    for (size_t i = 0; i < job->stage_count; i++)
        if (job->stages[i].err_open && !job->stages[i].err.ended)
            return false;
    return true;
}

/* Close every output channel (flushing partial lines when asked). */
static void pcomm_job_close_outputs(pcomm_job *job, bool flush_lines)
{
    for (int s = 1; s <= 2; s++)
        if (job->out_open[s])
            pcomm__outchan_close(&job->out[s], flush_lines);
    for (size_t i = 0; i < job->stage_count; i++)
        if (job->stages[i].err_open)
            pcomm__outchan_close(&job->stages[i].err, flush_lines);
}

/* End the output filters' streams: their trailers go where their output went. Not after an
 * error: the output is abandoned then, and writing more could only fail again. */
static void pcomm_job_finish_encoders(pcomm_job *job)
{
    for (int s = 1; s <= 2 && !job->error; s++) {
        int r = pcomm__sinks_finish(&job->sinks[s]);
        if (r < 0)
            job->error = r;
    }
}

static void pcomm_job_finish(pcomm_job *job)
{
    if (job->flags & PCOMM_JOB_DONE)
        return;
    pcomm_job_finish_encoders(job);
    pcomm__job_stop(job);
    job->flags |= PCOMM_JOB_DONE;
    if (job->done_fn)
        job->done_fn(job->done_userdata, job);
}

static void pcomm_job_maybe_finish(pcomm_job *job)
{
    if (job->exited_count == job->stage_count && pcomm_job_outputs_closed(job))
        pcomm_job_finish(job);
}

void pcomm__job_cut_pumps(pcomm_job *job)
{
    if (job->in_pump_open)
        pcomm__pump_close(&job->in_pump);
    for (size_t i = 0; i < job->stage_count; i++)
        if (job->stages[i].pump_open)
            pcomm__pump_close(&job->stages[i].pump);
}

void pcomm__job_abort(pcomm_job *job, int error)
{
    if (!job->error)
        job->error = error;
    if (job->in_open)
        pcomm__inchan_close(&job->in);
    pcomm_job_close_outputs(job, false);
    pcomm__job_signal(job, SIGKILL, PCOMM_REASON_ABORT);
    pcomm__job_cut_pumps(job);
    pcomm_job_maybe_finish(job);
}

void pcomm__job_on_output_end(struct pcomm__outchan *ch)
{
    pcomm_job *job = (pcomm_job *)(void *)((char *)(ch - ch->stream) - offsetof(pcomm_job, out));
    if (ch->error)
        pcomm__job_abort(job, ch->error);
    else
        pcomm_job_maybe_finish(job);
}

/* Input through a pty: a line too long for the terminal ends the job with PCOMM_ELINE rather
 * than reaching the child cut. */
void pcomm__job_on_input_end(struct pcomm__inchan *ch)
{
    if (ch->error == PCOMM_ELINE)
        pcomm__job_abort(pcomm__container_of(ch, pcomm_job, in), PCOMM_ELINE);
}

void pcomm__job_on_stage_err_end(struct pcomm__outchan *ch)
{
    struct pcomm__jstage *stage = pcomm__container_of(ch, struct pcomm__jstage, err);
    if (ch->error)
        pcomm__job_abort(stage->job, ch->error);
    else
        pcomm_job_maybe_finish(stage->job);
}

/* Merged stderr of a pipeline: each piece goes to the job's stderr sinks, "[i] " before each
 * line in the spool and the descriptors, the stage's index in the line for the callback. */
int pcomm__job_merged_line(void *userdata, const pcomm_line *line)
{
    struct pcomm__jstage *stage = userdata;
    const struct pcomm__sinks *s = &stage->job->sinks[PCOMM_STDERR];
    char tag[32];
    size_t tag_len = 0;
    if (stage->err_line_start)
        tag_len = (size_t)snprintf(tag, sizeof tag, "[%zu] ", stage->index);
    stage->err_line_start = !(line->flags & PCOMM_LINE_CONTINUED);
    int r = pcomm__sinks_store(s, tag, tag_len);
    if (r == 0)
        r = pcomm__sinks_store(s, line->data, line->len);
    if (r == 0 && s->line_fn)
        r = s->line_fn(s->line_userdata, line);
    return r;
}

/* ---- the stages' ends ------------------------------------------------------------------------ */

/* A filter stage still working (not merely waiting for input a descendant holds back). */
static bool pcomm_job_pump_busy(const pcomm_job *job)
{
    for (size_t i = 0; i < job->stage_count; i++) {
        const struct pcomm__jstage *stage = &job->stages[i];
        if (stage->pump_open && !stage->pump.ended && !pcomm__pump_waits_for_input(&stage->pump))
            return true;
    }
    return false;
}

static void pcomm_job_start_linger(pcomm_job *job)
{
    if (job->linger_ms >= 0 && !pcomm__timer_armed(&job->linger_timer))
        pcomm__timer_start(job->loop, &job->linger_timer,
                           pcomm__now_ns() + (int64_t)job->linger_ms * PCOMM__NS_PER_MS);
}

static void pcomm_job_on_linger(struct pcomm__timer *t)
{
    pcomm_job *job = pcomm__container_of(t, pcomm_job, linger_timer);
    if (pcomm_job_pump_busy(job)) { /* a filter still draining what the commands wrote */
        pcomm_job_start_linger(job);
        return;
    }
    job->flags |= PCOMM_JOB_TRUNCATED;
    pcomm_job_emit(job, (pcomm_event){.kind = PCOMM_EVENT_LINGER});
    /* Descendants still hold the output: stop reading, and end them with their groups. */
    pcomm__job_signal(job, SIGKILL, PCOMM_REASON_LINGER);
    pcomm_job_close_outputs(job, true);
    pcomm__job_cut_pumps(job);
    pcomm_job_finish(job);
}

static void pcomm_job_all_exited(pcomm_job *job)
{
    pcomm__timer_stop(job->loop, &job->timeout_timer);
    pcomm__timer_stop(job->loop, &job->kill_timer);
    if (pcomm_job_outputs_closed(job))
        pcomm_job_finish(job);
    else
        pcomm_job_start_linger(job);
}

static void pcomm_job_stage_exited(struct pcomm__jstage *stage)
{
    pcomm_job *job = stage->job;
    stage->exited = true;
    job->exited_count++;
    job->procs_exited += stage->cmd != NULL;
    pcomm_job_emit(job, (pcomm_event){.kind = PCOMM_EVENT_STAGE_END, .stage = (int)stage->index});
    pcomm__watch_stop(job->loop, &stage->exit_watch);
    pcomm__timer_stop(job->loop, &stage->exit_poll_timer);
    if (stage->index == 0 && job->in_open)
        pcomm__inchan_close(&job->in); /* nobody will read the input any more */
    if (stage->index == 0 && job->in_pump_open)
        pcomm__pump_close(&job->in_pump);
    if (job->exited_count == job->stage_count)
        pcomm_job_all_exited(job);
    else if (stage->cmd && job->procs_exited == job->cmd_count)
        pcomm_job_start_linger(job); /* only filters are left: descendants may hold their input */
}

/* The input filter's pump ended: all written, the first stage gone, or an error - which fails
 * the job, as a filter stage's does. */
void pcomm__job_on_input_pump_end(struct pcomm__pump *p)
{
    pcomm_job *job = pcomm__container_of(p, pcomm_job, in_pump);
    if (p->error && !job->error && !(job->flags & (PCOMM_JOB_TIMED_OUT | PCOMM_JOB_TRUNCATED)))
        pcomm__job_abort(job, p->error);
}

/* A filter stage's stream ended. Its error fails the job - unless the job was already cut
 * short, which is then why the stream broke off (the stage's status still says it failed). */
void pcomm__job_on_pump_end(struct pcomm__pump *p)
{
    struct pcomm__jstage *stage = pcomm__container_of(p, struct pcomm__jstage, pump);
    pcomm_job *job = stage->job;
    stage->end_ns = pcomm__now_ns();
    if (p->error && !job->error && !(job->flags & (PCOMM_JOB_TIMED_OUT | PCOMM_JOB_TRUNCATED)))
        pcomm__job_abort(job, p->error);
    pcomm_job_stage_exited(stage);
}

static void pcomm_job_check_exit(struct pcomm__jstage *stage)
{
    if (!stage->exited && pcomm__proc_poll(stage->proc) != 0) /* ended, or reaped elsewhere */
        pcomm_job_stage_exited(stage);
}

static void pcomm_job_on_exit_event(struct pcomm__watch *w, uint32_t revents)
{
    (void)revents;
    pcomm_job_check_exit(pcomm__container_of(w, struct pcomm__jstage, exit_watch));
}

/* Without a pidfd: poll waitid, 1 ms at first, backing off to 50 ms. */
static void pcomm_job_on_exit_poll(struct pcomm__timer *t)
{
    struct pcomm__jstage *stage = pcomm__container_of(t, struct pcomm__jstage, exit_poll_timer);
    pcomm_job_check_exit(stage);
    if (stage->exited)
        return;
    if (stage->exit_poll_ns < 50 * PCOMM__NS_PER_MS)
        stage->exit_poll_ns *= 2;
    pcomm__timer_start(stage->job->loop, t, pcomm__now_ns() + stage->exit_poll_ns);
}

int pcomm__job_watch_exits(pcomm_job *job)
{
    for (size_t i = 0; i < job->stage_count; i++) {
        struct pcomm__jstage *stage = &job->stages[i];
        if (!stage->cmd)
            continue; /* a filter stage ends with its pump */
        int pidfd = pcomm_proc_pidfd(stage->proc), r;
        if (pidfd >= 0) {
            r = pcomm__watch_start(job->loop, &stage->exit_watch, pidfd, EPOLLIN);
        } else {
            stage->exit_poll_ns = PCOMM__NS_PER_MS;
            r = pcomm__timer_start(job->loop, &stage->exit_poll_timer,
                                   pcomm__now_ns() + stage->exit_poll_ns);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- timeouts -------------------------------------------------------------------------------- */

static void pcomm_job_on_kill(struct pcomm__timer *t)
{
    pcomm_job *job = pcomm__container_of(t, pcomm_job, kill_timer);
    job->flags |= PCOMM_JOB_KILLED;
    pcomm__job_signal(job, SIGKILL, PCOMM_REASON_GRACE);
}

static void pcomm_job_on_timeout(struct pcomm__timer *t)
{
    pcomm_job *job = pcomm__container_of(t, pcomm_job, timeout_timer);
    job->flags |= PCOMM_JOB_TIMED_OUT;
    pcomm__job_signal(job, job->timeout_sig, PCOMM_REASON_TIMEOUT);
    if (job->timeout_sig != SIGKILL && job->timeout_sig != SIGCONT)
        pcomm__job_signal(job, SIGCONT, 0); /* a stopped child must see the signal */
    /* Filters end when the commands around them do; with no command left, they are cut. */
    if (job->procs_exited == job->cmd_count)
        pcomm__job_cut_pumps(job);
    if (job->grace_ms >= 0 && job->timeout_sig != SIGKILL)
        pcomm__timer_start(job->loop, &job->kill_timer,
                           pcomm__now_ns() + (int64_t)job->grace_ms * PCOMM__NS_PER_MS);
}

/* ---- set-up and tear-down -------------------------------------------------------------------- */

void pcomm__job_init_runtime(pcomm_job *job, pcomm_loop *loop)
{
    job->loop = loop;
    pcomm__timer_init(&job->timeout_timer, pcomm_job_on_timeout);
    pcomm__timer_init(&job->kill_timer, pcomm_job_on_kill);
    pcomm__timer_init(&job->linger_timer, pcomm_job_on_linger);
    pcomm__watch_init(&job->in.sink_watch, NULL);
    pcomm__watch_init(&job->in.src_watch, NULL);
    for (size_t i = 0; i < job->stage_count; i++) {
        pcomm__watch_init(&job->stages[i].exit_watch, pcomm_job_on_exit_event);
        pcomm__timer_init(&job->stages[i].exit_poll_timer, pcomm_job_on_exit_poll);
    }
}

/* Take the job off its loop: timers, exit watches, and the loop's count of active jobs. */
void pcomm__job_stop(pcomm_job *job)
{
    pcomm_job_stop_timers(job);
    for (size_t i = 0; i < job->stage_count; i++)
        pcomm__watch_stop(job->loop, &job->stages[i].exit_watch);
    if (job->held) {
        job->held = false;
        pcomm__loop_release(job->loop);
    }
}
