/* lib/job_run.c - starting a job: the pipes between and around the stages, the spawns (every
 * stage in the first stage's process group), and the channels that pump the pipeline's ends.
 * Also pcomm_run(). SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "cmd_private.h"
#include "job_private.h"
#include "proc_private.h"
#include "sys.h"

/* The pipes a start makes: [0] read end, [1] write end; -1 when absent. Ends the children get
 * are closed in the parent once every stage runs, so a producer sees EPIPE when its consumer
 * ends and a consumer sees EOF when its producer ends. */
struct pcomm_plumbing {
    int in[2];  /* job input -> first stage's stdin */
    int out[2]; /* last stage's stdout -> the job's stdout sinks */
    int err[2]; /* a single stage's stderr -> the job's stderr sinks */
    int *links; /* (count - 1) pairs: stage i's stdout -> stage i + 1's stdin */
    int *errs;  /* count pairs: each stage's stderr, pumped per stage */
    size_t count;
};

static void pcomm_pipe_close(int p[2])
{
    pcomm__closep(&p[0]);
    pcomm__closep(&p[1]);
}

static void pcomm_plumbing_free(struct pcomm_plumbing *pl)
{
    pcomm_pipe_close(pl->in);
    pcomm_pipe_close(pl->out);
    pcomm_pipe_close(pl->err);
    for (size_t i = 0; pl->links && i + 1 < pl->count; i++)
        pcomm_pipe_close(&pl->links[2 * i]);
    for (size_t i = 0; pl->errs && i < pl->count; i++)
        pcomm_pipe_close(&pl->errs[2 * i]);
    free(pl->links);
    free(pl->errs);
}

static int pcomm_plumbing_alloc(struct pcomm_plumbing *pl, size_t count)
{
    *pl = (struct pcomm_plumbing){{-1, -1}, {-1, -1}, {-1, -1}, NULL, NULL, count};
    /* Each array is marked empty as soon as it exists: when the second allocation fails,
     * pcomm_plumbing_free() must not close what the first holds uninitialized. */
    if ((pl->links = malloc(2 * count * sizeof *pl->links)))
        for (size_t i = 0; i < 2 * count; i++)
            pl->links[i] = -1;
    if ((pl->errs = malloc(2 * count * sizeof *pl->errs)))
        for (size_t i = 0; i < 2 * count; i++)
            pl->errs[i] = -1;
    return pl->links && pl->errs ? 0 : -ENOMEM;
}

static int pcomm_new_pipe(int p[2])
{
    int r = pcomm__pipe(p, 0);
    if (r == 0)
        pcomm__pipe_widen(p[1]);
    return r;
}

/* The pty id a command gives child descriptor fd, or -1 when fd is not on a pty. */
static int pcomm_pty_id(const pcomm_cmd *cmd, int fd)
{
    const struct pcomm__stdio *s = pcomm__cmd_stdio(cmd, fd);
    return s && s->kind == PCOMM__STDIO_PTY ? s->arg : -1;
}

static pcomm_pty_info pcomm_stage_pty(const struct pcomm__jstage *stage, int fd)
{
    pcomm_pty_info info;
    pcomm_proc_pty(stage->proc, fd, &info);
    return info;
}

static bool pcomm_is_live_pty(const pcomm_pty_info *info)
{
    return info->path == PCOMM_PTY_CTTY || info->path == PCOMM_PTY_NOCTTY;
}

/* Whether the stages' stderr is pumped per stage (pipelines), and how. */
static int pcomm_job_stderr_mode(const pcomm_job *job)
{
    if (job->cmd_count == 1 || job->merge)
        return PCOMM_STDERR_INHERIT;
    if (job->stderr_mode == PCOMM_STDERR_INHERIT && pcomm__sinks_any(&job->sinks[PCOMM_STDERR]))
        return PCOMM_STDERR_MERGED; /* stderr sinks were set: do not leave them empty */
    return job->stderr_mode;
}

/* The last command stage. */
static size_t pcomm_job_last_cmd(const pcomm_job *job)
{
    size_t i = job->stage_count;
    while (i-- > 0 && !job->stages[i].cmd)
        ;
    return i;
}

/* stderr of stage i when merged into stdout (2>&1 for the whole pipeline; with filter stages at
 * the end, 2>&1 before them, so that they see stderr too). */
static int pcomm_plumb_merged_stderr(pcomm_job *job, struct pcomm_plumbing *pl, size_t i)
{
    pcomm_cmd *cmd = job->stages[i].cmd;
    size_t last = pcomm_job_last_cmd(job);
    if (last + 1 < job->stage_count) /* into the link that feeds the trailing filters */
        return i == last ? pcomm_cmd_stdio_merge(cmd, 2, 1)
                         : pcomm_cmd_stdio_fd(cmd, 2, pl->links[2 * last + 1]);
    if (pl->out[1] >= 0)
        return pcomm_cmd_stdio_fd(cmd, 2, pl->out[1]);
    int pty = pcomm_pty_id(cmd, 1);
    if (pty >= 0) /* stdout on a pty: stderr on the same one (exact interleaving) */
        return pcomm_cmd_stdio_pty(cmd, 2, pty);
    if (i == last)
        return pcomm_cmd_stdio_merge(cmd, 2, 1);
    /* An earlier stage's stdout feeds the next stage; its stderr goes where the pipeline's
     * stdout goes when that is inherited: the parent's own stdout. */
    return pcomm_cmd_stdio_fd(cmd, 2, 1);
}

static int pcomm_plumb_stderr(pcomm_job *job, struct pcomm_plumbing *pl, size_t i)
{
    pcomm_cmd *cmd = job->stages[i].cmd;
    if (job->merge)
        return pcomm_plumb_merged_stderr(job, pl, i);
    if (pcomm_pty_id(cmd, 2) >= 0)
        return 0; /* pumped from its master after the spawn */
    if (job->cmd_count == 1) {
        if (!pcomm__sinks_any(&job->sinks[PCOMM_STDERR]))
            return 0;
        int r = pcomm_new_pipe(pl->err);
        return r < 0 ? r : pcomm_cmd_stdio_fd(cmd, 2, pl->err[1]);
    }
    if (pcomm_job_stderr_mode(job) == PCOMM_STDERR_INHERIT)
        return 0;
    int r = pcomm_new_pipe(&pl->errs[2 * i]);
    return r < 0 ? r : pcomm_cmd_stdio_fd(cmd, 2, pl->errs[2 * i + 1]);
}

/* Give every stage's command its stdin, stdout and stderr. Filter stages take their ends from
 * the plumbing after the spawn (pcomm_job_open_filters()). */
static int pcomm_job_plumb(pcomm_job *job, struct pcomm_plumbing *pl)
{
    size_t n = job->stage_count;
    pcomm_cmd *head = job->stages[0].cmd, *tail = job->stages[n - 1].cmd;
    int r = 0;
    /* A descriptor on a pty needs no pipe: the job pumps the pty's master instead. A filter
     * first reads the job's input itself. An input filter always writes into a pipe: the first
     * stage's stdin, or what the pty's input channel or the first filter reads. */
    bool head_pipe = head && pcomm_pty_id(head, 0) < 0;
    if (job->in_kind != PCOMM__IN_NONE && (head_pipe || job->in_filter) &&
        (r = pcomm_new_pipe(pl->in)) == 0 && head_pipe)
        r = pcomm_cmd_stdio_fd(head, 0, pl->in[0]);
    /* A filter last always writes into a pipe, which the job's stdout channel drains. */
    if (r == 0 &&
        (!tail || (pcomm__sinks_any(&job->sinks[PCOMM_STDOUT]) && pcomm_pty_id(tail, 1) < 0)) &&
        (r = pcomm_new_pipe(pl->out)) == 0 && tail)
        r = pcomm_cmd_stdio_fd(tail, 1, pl->out[1]);
    for (size_t i = 0; r == 0 && i + 1 < n; i++) {
        int *link = &pl->links[2 * i];
        pcomm_cmd *from = job->stages[i].cmd, *to = job->stages[i + 1].cmd;
        if ((r = pcomm_new_pipe(link)) == 0 && from)
            r = pcomm_cmd_stdio_fd(from, 1, link[1]);
        if (r == 0 && to)
            r = pcomm_cmd_stdio_fd(to, 0, link[0]);
    }
    const pcomm_cmd *lead = job->cmd_count ? job->stages[job->lead].cmd : NULL;
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (!job->stages[i].cmd)
            continue;
        r = pcomm_plumb_stderr(job, pl, i);
        if (r == 0 && i != job->lead) /* one process group for the whole pipeline: the lead's */
            r = pcomm_cmd_set_group(job->stages[i].cmd, lead->group);
    }
    return r;
}

/* Spawn every stage; on failure the stages already running are killed and reaped. */
static int pcomm_job_spawn_stages(pcomm_job *job)
{
    if (job->cmd_count == 0)
        return 0;
    const struct pcomm__jstage *lead = &job->stages[job->lead];
    if (job->cmd_count > 1 && lead->cmd->group == PCOMM_GROUP_SESSION)
        return -EINVAL; /* later stages could not join a group in another session */
    for (size_t i = job->lead; i < job->stage_count; i++) {
        if (!job->stages[i].cmd)
            continue;
        pid_t group = i != job->lead && lead->cmd->group == PCOMM_GROUP_OWN ? lead->proc->pid : 0;
        int r = pcomm__spawn(job->stages[i].cmd, group, &job->stages[i].proc);
        if (r < 0) {
            job->failed_stage = i;
            for (size_t k = i; k-- > 0;) {
                pcomm_proc_free(job->stages[k].proc); /* kills and reaps */
                job->stages[k].proc = NULL;
            }
            return r;
        }
    }
    return 0;
}

/* Drop the parent's copies of the children's pipe ends. */
static void pcomm_plumbing_close_child_ends(struct pcomm_plumbing *pl)
{
    pcomm__closep(&pl->in[0]);
    pcomm__closep(&pl->out[1]);
    pcomm__closep(&pl->err[1]);
    for (size_t i = 0; i + 1 < pl->count; i++)
        pcomm_pipe_close(&pl->links[2 * i]);
    for (size_t i = 0; i < pl->count; i++)
        pcomm__closep(&pl->errs[2 * i + 1]);
}

/* Take descriptor *fdp out of the plumbing. */
static int pcomm_take(int *fdp)
{
    int fd = *fdp;
    *fdp = -1;
    return fd;
}

/* Start the pump of filter stage i: from the previous stage's pipe, or the job's input when it
 * is first (pcomm's own stdin when the job has none); into the next stage's pipe, or the job's
 * stdout channel when it is last. */
/* The source a pump reads: memory, or a descriptor it closes at the end when owned. */
struct pcomm_source {
    int kind; /* PCOMM__PUMP_* */
    int fd;
    bool owned;
};

/* The job's input as a pump's source (the job's input file is handed over); pcomm's own stdin
 * when the job has no input. */
static struct pcomm_source pcomm_job_input_source(pcomm_job *job)
{
    if (job->in_kind == PCOMM__IN_BYTES)
        return (struct pcomm_source){PCOMM__PUMP_MEM, -1, false};
    int fd = job->in_kind == PCOMM__IN_NONE ? 0 : job->in_fd;
    bool owned = job->in_kind == PCOMM__IN_FILE;
    if (owned)
        job->in_fd = -1;
    return (struct pcomm_source){pcomm__pump_fd_kind(fd), fd, owned};
}

/* Our own pipe's read end, taken out of the plumbing, as a pump's source. */
static struct pcomm_source pcomm_pipe_source(int *fdp)
{
    int fd = pcomm_take(fdp);
    (void)pcomm__set_nonblock(fd, true); /* only saves a poll per read: failure is harmless */
    return (struct pcomm_source){PCOMM__PUMP_FD, fd, true};
}

static int pcomm_open_pump(pcomm_job *job, struct pcomm__pump *p, pcomm_filter *filter,
                           struct pcomm_source src, int sink, void (*on_end)(struct pcomm__pump *))
{
    return pcomm__pump_open(p, job->loop, filter, src.kind, job->in_data, job->in_len, src.fd,
                            src.owned, sink, on_end);
}

/* Start the pump of filter stage i: from the previous stage's pipe, or the job's input when it
 * is first (through the input filter's pipe when there is one); into the next stage's pipe, or
 * the job's stdout channel when it is last. */
static int pcomm_job_open_filter(pcomm_job *job, struct pcomm_plumbing *pl, size_t i)
{
    struct pcomm__jstage *stage = &job->stages[i];
    int sink = pcomm_take(i + 1 < job->stage_count ? &pl->links[2 * i + 1] : &pl->out[1]);
    struct pcomm_source src = i > 0            ? pcomm_pipe_source(&pl->links[2 * (i - 1)])
                              : job->in_filter ? pcomm_pipe_source(&pl->in[0])
                                               : pcomm_job_input_source(job);
    stage->pump_open = true;
    stage->start_ns = pcomm__now_ns();
    return pcomm_open_pump(job, &stage->pump, stage->filter, src, sink, pcomm__job_on_pump_end);
}

static int pcomm_job_open_filters(pcomm_job *job, struct pcomm_plumbing *pl)
{
    int r = 0;
    for (size_t i = 0; r == 0 && i < job->stage_count; i++)
        if (job->stages[i].filter)
            r = pcomm_job_open_filter(job, pl, i);
    return r;
}

/* The input filter's pump: from the job's input into the pipe the first stage reads. */
static int pcomm_job_open_input_filter(pcomm_job *job, struct pcomm_plumbing *pl)
{
    job->in_pump_open = true;
    return pcomm_open_pump(job, &job->in_pump, job->in_filter, pcomm_job_input_source(job),
                           pcomm_take(&pl->in[1]), pcomm__job_on_input_pump_end);
}

/* Feed the first stage: its stdin pipe or pty from the job's input, or through the input
 * filter. A filter first has taken the job's input (or the input filter's pipe) already. */
static int pcomm_job_open_input(pcomm_job *job, struct pcomm_plumbing *pl)
{
    if (job->in_kind == PCOMM__IN_NONE)
        return 0;
    int r = job->in_filter ? pcomm_job_open_input_filter(job, pl) : 0;
    struct pcomm__jstage *head = &job->stages[0];
    if (r < 0 || !head->cmd || (job->in_filter && pcomm_pty_id(head->cmd, 0) < 0))
        return r; /* the filter writes into the child's stdin pipe */
    int kind = job->in_kind, src = job->in_fd, sink = pcomm_take(&pl->in[1]);
    bool owned = kind == PCOMM__IN_FILE;
    if (job->in_filter) { /* stdin on a pty: the input channel reads the filter's pipe */
        kind = PCOMM__IN_FD;
        src = pcomm_take(&pl->in[0]);
        owned = true;
    }
    pcomm_pty_info pty = pcomm_stage_pty(head, 0);
    bool tty = pcomm_is_live_pty(&pty);
    if (sink < 0) /* stdin on a pty: its master, or the pipe it fell back to */
        sink = pcomm_proc_take_fd(head->proc, 0);
    r = pcomm__inchan_open(&job->in, job->loop, sink, kind, job->in_data, job->in_len, src, owned,
                           tty, tty ? pcomm__job_on_input_end : NULL);
    job->in_open = true; /* from here on the channel owns sink and, for a file, the source */
    if (owned && !job->in_filter)
        job->in_fd = -1;
    return r;
}

static int pcomm_job_open_channel(pcomm_job *job, struct pcomm__outchan *ch, int *fd, int stream,
                                  const struct pcomm__sinks *sinks, size_t stage,
                                  void (*on_end)(struct pcomm__outchan *))
{
    int taken = *fd;
    *fd = -1;
    return pcomm__outchan_open(ch, job->loop, taken, stream, stage, sinks, on_end);
}

/* The parent's end of stage's output descriptor fd when it is on a pty (or the pipe a pty fell
 * back to): its own master; the stdin master when the pty carries stdin too (duplicated when
 * the input channel writes to it); or -1 when it shares stdout's pty (one stream, as stdout). */
static int pcomm_pty_output_fd(pcomm_job *job, struct pcomm__jstage *stage, int fd)
{
    pcomm_pty_info pty = pcomm_stage_pty(stage, fd);
    if (fd == 2 && (pty.fds & 2u))
        return -1; /* folded into stdout's channel */
    if (!pcomm_is_live_pty(&pty) || !(pty.fds & 1u))
        return pcomm_proc_take_fd(stage->proc, fd);
    if (stage->index != 0 || job->in_kind == PCOMM__IN_NONE)
        return pcomm_proc_take_fd(stage->proc, 0);
    int in = pcomm_proc_fd(stage->proc, 0);
    return in < 0 ? in : pcomm__dup_above(in, 3);
}

/* Fill in the parent's ends of the outputs put on ptys, which exist only after the spawn. */
static int pcomm_job_pty_outputs(pcomm_job *job, struct pcomm_plumbing *pl)
{
    size_t n = job->stage_count;
    struct pcomm__jstage *last = &job->stages[n - 1];
    if (pl->out[0] < 0 && pcomm__sinks_any(&job->sinks[PCOMM_STDOUT]) && last->cmd &&
        pcomm_pty_id(last->cmd, 1) >= 0 && (pl->out[0] = pcomm_pty_output_fd(job, last, 1)) < -1)
        return pl->out[0];
    bool single = job->cmd_count == 1;
    bool want_err = single ? pcomm__sinks_any(&job->sinks[PCOMM_STDERR]) && !job->merge
                           : pcomm_job_stderr_mode(job) != PCOMM_STDERR_INHERIT;
    for (size_t i = 0; want_err && i < n; i++) {
        int *slot = single ? &pl->err[0] : &pl->errs[2 * i];
        if (job->stages[i].cmd && *slot < 0 && pcomm_pty_id(job->stages[i].cmd, 2) >= 0 &&
            (*slot = pcomm_pty_output_fd(job, &job->stages[i], 2)) < -1)
            return *slot;
    }
    return 0;
}

static int pcomm_job_open_outputs(pcomm_job *job, struct pcomm_plumbing *pl)
{
    int r = pcomm_job_pty_outputs(job, pl);
    size_t last = job->stage_count - 1;
    if (r == 0 && pl->out[0] >= 0) {
        /* A filter last with nowhere to go: pcomm's own stdout, as a command's would be. */
        const struct pcomm__sinks *sinks = &job->sinks[PCOMM_STDOUT];
        if (!pcomm__sinks_any(sinks)) {
            job->inherit_sinks = (struct pcomm__sinks){.fds = {1}, .fd_count = 1};
            sinks = &job->inherit_sinks;
        }
        job->out_open[1] = true;
        r = pcomm_job_open_channel(job, &job->out[1], &pl->out[0], PCOMM_STDOUT, sinks, last,
                                   pcomm__job_on_output_end);
    }
    if (r == 0 && pl->err[0] >= 0) {
        job->out_open[2] = true;
        r = pcomm_job_open_channel(job, &job->out[2], &pl->err[0], PCOMM_STDERR,
                                   &job->sinks[PCOMM_STDERR], job->lead, pcomm__job_on_output_end);
    }
    for (size_t i = 0; r == 0 && i < job->stage_count; i++) {
        struct pcomm__jstage *stage = &job->stages[i];
        if (pl->errs[2 * i] < 0)
            continue;
        stage->err_open = true;
        stage->err_line_start = true;
        r = pcomm_job_open_channel(job, &stage->err, &pl->errs[2 * i], PCOMM_STDERR,
                                   &stage->err_sinks, i, pcomm__job_on_stage_err_end);
    }
    return r;
}

/* Sinks of the per-stage stderr channels: a spool each, or the merging line callback. */
static int pcomm_job_prepare_stage_sinks(pcomm_job *job)
{
    int mode = pcomm_job_stderr_mode(job);
    for (size_t i = 0; mode != PCOMM_STDERR_INHERIT && i < job->stage_count; i++) {
        struct pcomm__jstage *stage = &job->stages[i];
        stage->job = job;
        stage->index = i;
        if (!stage->cmd)
            continue; /* a filter has no stderr */
        if (mode == PCOMM_STDERR_MERGED) {
            stage->err_sinks.line_fn = pcomm__job_merged_line;
            stage->err_sinks.line_userdata = stage;
            stage->err_sinks.max_line = job->sinks[PCOMM_STDERR].max_line;
        } else if (!stage->err_sinks.spool) {
            size_t threshold = job->capture_threshold[PCOMM_STDERR];
            int r = pcomm_spool_new(&stage->err_sinks.spool, threshold ? threshold : 1 << 20);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* Undo a start that failed half-way: nothing may be left running or open. */
static void pcomm_job_unwind(pcomm_job *job)
{
    pcomm__job_stop(job);
    if (job->in_open)
        pcomm__inchan_close(&job->in);
    job->in_open = false;
    if (job->in_pump_open) {
        pcomm__pump_discard(&job->in_pump);
        pcomm__pump_free(&job->in_pump);
        job->in_pump_open = false;
    }
    for (int s = 1; s <= 2; s++)
        if (job->out_open[s]) {
            pcomm__outchan_discard(&job->out[s]); /* no end notification while unwinding */
            pcomm__outchan_free(&job->out[s]);
            job->out_open[s] = false;
        }
    for (size_t i = 0; i < job->stage_count; i++) {
        struct pcomm__jstage *stage = &job->stages[i];
        if (stage->err_open) {
            pcomm__outchan_discard(&stage->err);
            pcomm__outchan_free(&stage->err);
            stage->err_open = false;
        }
        if (stage->pump_open) {
            pcomm__pump_discard(&stage->pump);
            pcomm__pump_free(&stage->pump);
            stage->pump_open = false;
        }
        pcomm_proc_free(stage->proc); /* kills and reaps */
        stage->proc = NULL;
    }
    job->exited_count = job->procs_exited = 0;
    job->started = false;
    job->loop = NULL;
}

static int pcomm_job_open_input_file(pcomm_job *job)
{
    if (job->in_kind != PCOMM__IN_FILE || job->in_fd >= 0)
        return 0;
    job->in_fd = pcomm__open(job->in_path, O_RDONLY | O_NOCTTY, 0);
    return job->in_fd < 0 ? job->in_fd : 0;
}

static int pcomm_job_launch(pcomm_job *job, pcomm_loop *loop, struct pcomm_plumbing *pl)
{
    if (job->in_filter && job->in_kind == PCOMM__IN_NONE)
        return -EINVAL;                     /* nothing to filter: stdin would be inherited */
    int r = pcomm_job_open_input_file(job); /* a missing input fails before anything runs */
    /* Bytes for a pty are checked before anything runs: a line the terminal would cut is
     * refused whole (fd and file input are checked as they stream). */
    if (r == 0 && job->in_kind == PCOMM__IN_BYTES && job->stages[0].cmd &&
        pcomm_pty_id(job->stages[0].cmd, 0) >= 0)
        r = pcomm__tty_check_lines(job->in_data, job->in_len);
    if (r == 0)
        r = pcomm_job_plumb(job, pl);
    if (r == 0)
        r = pcomm_job_prepare_stage_sinks(job);
    if (r == 0)
        r = pcomm_job_spawn_stages(job);
    if (r < 0)
        return r;
    job->started = true;
    pcomm__job_init_runtime(job, loop);
    /* The pumps and the input channel take their ends out of the plumbing before the rest is
     * closed; the outputs come before the input, which may take a pty master they share. */
    r = pcomm_job_open_filters(job, pl);
    if (r == 0)
        r = pcomm__job_watch_exits(job);
    if (r == 0)
        r = pcomm_job_open_outputs(job, pl);
    if (r == 0)
        r = pcomm_job_open_input(job, pl);
    pcomm_plumbing_close_child_ends(pl);
    if (r == 0 && job->timeout_ms >= 0)
        r = pcomm__timer_start(loop, &job->timeout_timer,
                               pcomm__now_ns() + (int64_t)job->timeout_ms * PCOMM__NS_PER_MS);
    if (r < 0)
        pcomm_job_unwind(job);
    return r;
}

int pcomm_job_start(pcomm_job *job, pcomm_loop *loop)
{
    if (!job)
        return -EINVAL;
    if (job->started)
        return -EBUSY;
    int r = 0;
    if (!loop) { /* a private loop, driven by pcomm_job_wait() and the read calls */
        if (!job->own_loop && (r = pcomm_loop_new(&job->own_loop)) < 0)
            return r;
        loop = job->own_loop;
    }
    struct pcomm_plumbing pl;
    r = pcomm_plumbing_alloc(&pl, job->stage_count);
    if (r == 0)
        r = pcomm_job_launch(job, loop, &pl);
    pcomm_plumbing_free(&pl);
    if (r < 0) {
        if (job->in_kind == PCOMM__IN_FILE)
            pcomm__closep(&job->in_fd);
        pcomm__job_drop_own_loop(job);
        return r;
    }
    job->held = true;
    pcomm__loop_hold(loop);
    return 0;
}

/* Free the job's private loop once nothing of the job is registered on it. */
void pcomm__job_drop_own_loop(pcomm_job *job)
{
    if (!job->own_loop)
        return;
    if (job->loop == job->own_loop)
        job->loop = NULL;
    pcomm_loop_free(job->own_loop);
    job->own_loop = NULL;
}

int pcomm_run(pcomm_job *job)
{
    if (!job)
        return -EINVAL;
    int r = pcomm_job_start(job, NULL);
    if (r < 0)
        return r;
    r = pcomm_job_wait(job, -1);
    if (r < 0)
        pcomm__job_abort(job, r); /* the loop itself failed: leave nothing running */
    pcomm__job_stop(job);
    pcomm__job_drop_own_loop(job); /* the run is over: its descriptors go now, not at the free */
    if (r < 0)
        return r;
    if (job->error)
        return job->error;
    for (size_t i = 0; i < job->stage_count; i++) {
        pcomm_status st;
        pcomm_job_stage_status(job, i, &st);
        if (st.how == PCOMM_UNKNOWN)
            return -ECHILD;
    }
    return 0;
}
