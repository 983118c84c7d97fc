/* lib/job.c - pcomm_job: configuration, results and teardown (the start is in job_run.c, the
 * state machine in job_events.c). SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "job_private.h"
#include "pipeline_private.h"
#include "proc_private.h"
#include "sys.h"

enum { PCOMM_DEFAULT_GRACE_MS = 2000, PCOMM_DEFAULT_LINGER_MS = 2000 };

bool pcomm__job_stream_ok(int stream)
{
    return stream == PCOMM_STDOUT || stream == PCOMM_STDERR;
}

int pcomm__job_alloc(pcomm_job **jobp, size_t stages)
{
    pcomm_job *job = calloc(1, sizeof *job);
    if (!job || !(job->stages = calloc(stages, sizeof *job->stages))) {
        free(job);
        return -ENOMEM;
    }
    job->stage_count = stages;
    job->cmd_count = stages; /* pcomm_job_new_pipeline() counts again */
    job->in_fd = -1;
    job->timeout_ms = -1;
    job->grace_ms = PCOMM_DEFAULT_GRACE_MS;
    job->linger_ms = PCOMM_DEFAULT_LINGER_MS;
    for (size_t i = 0; i < stages; i++) {
        job->stages[i].job = job;
        job->stages[i].index = i;
    }
    *jobp = job;
    return 0;
}

int pcomm_job_new(pcomm_job **jobp, const pcomm_cmd *cmd)
{
    if (!jobp || !cmd)
        return -EINVAL;
    pcomm_job *job;
    int r = pcomm__job_alloc(&job, 1);
    if (r == 0 && (r = pcomm_cmd_dup(cmd, &job->stages[0].cmd)) < 0)
        pcomm_job_free(job);
    if (r == 0)
        *jobp = job;
    return r;
}

int pcomm_job_new_pipeline(pcomm_job **jobp, pcomm_pipeline *pipeline)
{
    if (!jobp || !pipeline || pipeline->count == 0)
        return -EINVAL;
    pcomm_job *job;
    int r = pcomm__job_alloc(&job, pipeline->count);
    if (r < 0)
        return r;
    job->cmd_count = 0;
    for (size_t i = pipeline->count; i-- > 0;) { /* take the stages over */
        job->stages[i].cmd = pipeline->stages[i].cmd;
        job->stages[i].filter = pipeline->stages[i].filter;
        pipeline->stages[i].cmd = NULL;
        pipeline->stages[i].filter = NULL;
        if (job->stages[i].cmd) {
            job->cmd_count++;
            job->lead = i;
        }
    }
    job->rule = pipeline->rule;
    job->stderr_mode = pipeline->stderr_mode;
    pcomm_pipeline_free(pipeline);
    *jobp = job;
    return 0;
}

/* ---- configuration --------------------------------------------------------------------------- */

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
    if (r < 0 || !pcomm__job_stream_ok(stream))
        return r < 0 ? r : -EINVAL;
    pcomm_spool *spool;
    r = pcomm_spool_new(&spool, mem_threshold);
    if (r < 0)
        return r;
    pcomm_spool_free(job->sinks[stream].spool);
    job->sinks[stream].spool = spool;
    job->capture_threshold[stream] = mem_threshold;
    return 0;
}

int pcomm_job_forward(pcomm_job *job, int stream, int fd)
{
    int r = pcomm_job_check_config(job);
    if (r < 0 || !pcomm__job_stream_ok(stream) || fd < 0)
        return r < 0 ? r : -EINVAL;
    struct pcomm__sinks *s = &job->sinks[stream];
    if (s->fd_count == PCOMM__MAX_FORWARD)
        return -ENOSPC;
    s->fds[s->fd_count++] = fd;
    return 0;
}

int pcomm_job_filter_input(pcomm_job *job, pcomm_filter *filter)
{
    int r = pcomm_job_check_config(job);
    if (r < 0 || !filter)
        return r < 0 ? r : -EINVAL;
    if (job->in_filter != filter)
        pcomm_filter_free(job->in_filter);
    job->in_filter = filter;
    return 0;
}

pcomm_filter *pcomm_job_input_filter(const pcomm_job *job)
{
    return job ? job->in_filter : NULL;
}

int pcomm_job_filter_output(pcomm_job *job, int stream, pcomm_filter *filter)
{
    int r = pcomm_job_check_config(job);
    if (r < 0 || !pcomm__job_stream_ok(stream) || !filter)
        return r < 0 ? r : -EINVAL;
    int other = stream == PCOMM_STDOUT ? PCOMM_STDERR : PCOMM_STDOUT;
    struct pcomm__encode *e = &job->encode[stream];
    if (e->filter == filter)
        return 0;
    if (e->filter && job->sinks[other].encode != e)
        pcomm_filter_free(e->filter); /* replaced, and no longer shared */
    e->filter = NULL;
    if (job->sinks[other].encode && job->sinks[other].encode->filter == filter) {
        job->sinks[stream].encode = job->sinks[other].encode; /* one stream for both */
        return 0;
    }
    e->filter = filter;
    job->sinks[stream].encode = e;
    return 0;
}

pcomm_filter *pcomm_job_output_filter(const pcomm_job *job, int stream)
{
    if (!job || !pcomm__job_stream_ok(stream) || !job->sinks[stream].encode)
        return NULL;
    return job->sinks[stream].encode->filter;
}

int pcomm_job_on_line(pcomm_job *job, int stream, pcomm_line_fn fn, void *userdata, size_t max_line)
{
    int r = pcomm_job_check_config(job);
    if (r < 0 || !pcomm__job_stream_ok(stream) || !fn)
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

int pcomm_job_on_event(pcomm_job *job, pcomm_event_fn fn, void *userdata)
{
    int r = pcomm_job_check_config(job);
    if (r == 0) {
        job->event_fn = fn;
        job->event_userdata = userdata;
    }
    return r;
}

/* ---- teardown -------------------------------------------------------------------------------- */

/* Take a job that has not ended off its loop (the host frees it early). */
static void pcomm_job_detach(pcomm_job *job)
{
    pcomm__job_stop(job);
    if (job->in_open)
        pcomm__inchan_close(&job->in);
    if (job->in_pump_open)
        pcomm__pump_discard(&job->in_pump);
    for (int s = 1; s <= 2; s++)
        if (job->out_open[s])
            pcomm__outchan_discard(&job->out[s]);
    for (size_t i = 0; i < job->stage_count; i++) {
        if (job->stages[i].err_open)
            pcomm__outchan_discard(&job->stages[i].err);
        if (job->stages[i].pump_open)
            pcomm__pump_discard(&job->stages[i].pump);
    }
}

static void pcomm_job_free_stages(pcomm_job *job)
{
    /* Kill everything first (groups at once), then reap stage by stage. */
    if (job->started && job->procs_exited < job->cmd_count)
        pcomm__job_signal(job, SIGKILL, 0);
    for (size_t i = 0; i < job->stage_count; i++) {
        struct pcomm__jstage *stage = &job->stages[i];
        if (stage->err_open)
            pcomm__outchan_free(&stage->err);
        pcomm_spool_free(stage->err_sinks.spool);
        pcomm_proc_free(stage->proc);
        pcomm_cmd_free(stage->cmd);
        if (stage->pump_open)
            pcomm__pump_free(&stage->pump);
        pcomm_filter_free(stage->filter);
    }
    free(job->stages);
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
        if (job->sinks[s].reader)
            free(job->sinks[s].reader->buf);
        free(job->sinks[s].reader);
        pcomm_filter_free(job->encode[s].filter);
        free(job->encode[s].buf);
    }
    if (job->in_open)
        pcomm__inchan_close(&job->in);
    if (job->in_pump_open)
        pcomm__pump_free(&job->in_pump);
    pcomm_filter_free(job->in_filter);
    if (job->in_kind == PCOMM__IN_FILE)
        pcomm__close(job->in_fd);
    pcomm_job_free_stages(job);
    pcomm_loop_free(job->own_loop);
    free(job->in_path);
    free(job);
}

/* ---- results --------------------------------------------------------------------------------- */

unsigned pcomm_job_flags(const pcomm_job *job)
{
    if (!job)
        return 0;
    unsigned flags = job->flags;
    if ((job->in_open && job->in.short_) ||
        (job->in_pump_open && pcomm__pump_short(&job->in_pump)) ||
        (!job->in_filter && job->stages[0].pump_open && pcomm__pump_short(&job->stages[0].pump)))
        flags |= PCOMM_JOB_INPUT_SHORT;
    return flags;
}

/* A filter stage's status, in a process's terms (pcomm_pipeline_add_filter(3)). */
static void pcomm_filter_stage_status(const struct pcomm__jstage *stage, pcomm_status *st)
{
    const struct pcomm__pump *p = &stage->pump;
    st->start_ns = stage->start_ns;
    if (!stage->exited)
        return;
    st->wall_ns = stage->end_ns - stage->start_ns;
    st->how = p->cut || p->broken ? PCOMM_SIGNALED : PCOMM_EXITED;
    st->code = p->cut ? SIGKILL : p->broken ? SIGPIPE : p->error ? 1 : 0;
}

int pcomm_job_stage_status(const pcomm_job *job, size_t i, pcomm_status *st)
{
    if (!job || !st || i >= job->stage_count)
        return -EINVAL;
    if (job->stages[i].proc)
        return pcomm_proc_status(job->stages[i].proc, st);
    memset(st, 0, sizeof *st);
    st->how = PCOMM_RUNNING;
    if (job->stages[i].filter && job->stages[i].pump_open)
        pcomm_filter_stage_status(&job->stages[i], st);
    return 0;
}

int pcomm_job_status(const pcomm_job *job, pcomm_status *st)
{
    return job ? pcomm_job_stage_status(job, job->stage_count - 1, st) : -EINVAL;
}

size_t pcomm_job_stage_count(const pcomm_job *job)
{
    return job ? job->stage_count : 0;
}

pcomm_proc *pcomm_job_stage_proc(const pcomm_job *job, size_t i)
{
    return job && i < job->stage_count ? job->stages[i].proc : NULL;
}

const pcomm_cmd *pcomm_job_stage_cmd(const pcomm_job *job, size_t i)
{
    return job && i < job->stage_count ? job->stages[i].cmd : NULL;
}

pcomm_filter *pcomm_job_stage_filter(const pcomm_job *job, size_t i)
{
    return job && i < job->stage_count ? job->stages[i].filter : NULL;
}

pcomm_spool *pcomm_job_stage_output(const pcomm_job *job, size_t i)
{
    return job && i < job->stage_count ? job->stages[i].err_sinks.spool : NULL;
}

/* Stage i succeeded: exit 0, or (not the last stage) killed by SIGPIPE because a later stage
 * stopped reading, which is how `yes | head` ends. */
static bool pcomm_stage_ok(const pcomm_status *st, bool last)
{
    return (st->how == PCOMM_EXITED && st->code == 0) ||
           (!last && st->how == PCOMM_SIGNALED && st->code == SIGPIPE);
}

int pcomm_job_exit_code(const pcomm_job *job)
{
    if (!job || !(job->flags & PCOMM_JOB_DONE))
        return -1;
    size_t n = job->stage_count;
    pcomm_status last;
    pcomm_job_stage_status(job, n - 1, &last);
    if (job->rule == PCOMM_RULE_LAST ||
        (job->rule == PCOMM_RULE_LIBPIPELINE && !pcomm_stage_ok(&last, true)))
        return pcomm_status_shell_code(&last);
    for (size_t i = n; i-- > 0;) {
        pcomm_status st;
        pcomm_job_stage_status(job, i, &st);
        if (!pcomm_stage_ok(&st, i == n - 1))
            return job->rule == PCOMM_RULE_LIBPIPELINE ? 127 : pcomm_status_shell_code(&st);
    }
    return 0;
}

size_t pcomm_job_failed_stage(const pcomm_job *job)
{
    return job ? job->failed_stage : 0;
}

int pcomm_job_error(const pcomm_job *job)
{
    return job ? job->error : -EINVAL;
}

uint64_t pcomm_job_bytes(const pcomm_job *job, int stream)
{
    if (!job)
        return 0;
    if (stream == PCOMM_STDIN && job->in_filter)
        return job->in_pump_open ? job->in_pump.bytes_out : 0;
    if (stream == PCOMM_STDIN && job->stages[0].filter)
        return job->stages[0].pump_open ? job->stages[0].pump.bytes_in : 0;
    if (stream == PCOMM_STDIN)
        return job->in_open ? job->in.bytes : 0;
    if (!pcomm__job_stream_ok(stream))
        return 0;
    uint64_t total = job->out_open[stream] ? job->out[stream].bytes : 0;
    for (size_t i = 0; stream == PCOMM_STDERR && i < job->stage_count; i++)
        if (job->stages[i].err_open)
            total += job->stages[i].err.bytes;
    return total;
}

pcomm_spool *pcomm_job_output(const pcomm_job *job, int stream)
{
    return job && pcomm__job_stream_ok(stream) ? job->sinks[stream].spool : NULL;
}

pcomm_spool *pcomm_job_take_output(pcomm_job *job, int stream)
{
    if (!job || !pcomm__job_stream_ok(stream) || (job->started && !(job->flags & PCOMM_JOB_DONE)))
        return NULL;
    pcomm_spool *spool = job->sinks[stream].spool;
    job->sinks[stream].spool = NULL;
    return spool;
}

pcomm_proc *pcomm_job_proc(const pcomm_job *job)
{
    for (size_t i = job ? job->stage_count : 0; i-- > 0;)
        if (job->stages[i].cmd)
            return job->stages[i].proc;
    return NULL;
}

int pcomm_job_kill(pcomm_job *job, int sig)
{
    if (!job || sig < 0 || sig >= NSIG)
        return -EINVAL;
    if (!job->started)
        return -ESRCH;
    return pcomm__job_signal(job, sig, PCOMM_REASON_REQUEST);
}
