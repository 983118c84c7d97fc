/* lib/job_private.h - the inside of pcomm_job, shared by job.c (configuration and results),
 * job_run.c (plumbing and start) and job_events.c (the state machine).
 *
 * A job runs one or more stages: a single command is a pipeline of one. Stages are joined by
 * kernel pipes made by the job; the job pumps only the pipeline's ends (stdin of the first
 * stage, stdout of the last), every filter stage (a pump between two pipes, or between the
 * job's input and a pipe) and, when asked, every stage's stderr. A job with exactly one command
 * stage treats stderr as a single command's, whatever filter stages surround it.
 *
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_JOB_PRIVATE_H
#define PCOMM_JOB_PRIVATE_H

#include <stdbool.h>

#include "channel.h"
#include "loop_private.h"
#include "pcomm/pipeline.h"
#include "pcomm/run.h"
#include "pump.h"

struct pcomm__jstage {
    pcomm_job *job;
    size_t index;
    pcomm_cmd *cmd; /* owned; its stdio is set by the job at start; NULL for a filter stage */
    pcomm_proc *proc;
    /* a filter stage: its filter (owned), its pump, and when it ran */
    pcomm_filter *filter;
    struct pcomm__pump pump;
    bool pump_open;
    int64_t start_ns, end_ns;
    struct pcomm__watch exit_watch;
    struct pcomm__timer exit_poll_timer; /* without pidfds: poll waitid */
    int64_t exit_poll_ns;
    bool exited;
    /* this stage's stderr, pumped in pipelines with separate or merged stderr */
    struct pcomm__sinks err_sinks;
    struct pcomm__outchan err;
    bool err_open;
    bool err_line_start; /* merged stderr: the next piece starts a line (gets "[i] ") */
};

struct pcomm_job {
    struct pcomm__jstage *stages;
    size_t stage_count;
    size_t cmd_count; /* command stages (the others are filters) */
    size_t lead;      /* the first command stage: its process group is the job's */
    int rule;         /* enum pcomm_rule */
    int stderr_mode;  /* enum pcomm_stage_stderr */
    pcomm_loop *loop;
    pcomm_loop *own_loop; /* made by pcomm_job_start(job, NULL) or pcomm_run() */
    /* configuration */
    int in_kind;
    const void *in_data;
    size_t in_len;
    int in_fd;
    char *in_path;
    struct pcomm__sinks sinks[3];   /* [1] stdout, [2] stderr */
    struct pcomm__encode encode[3]; /* the output filters; sinks[2] may share encode[1] */
    size_t capture_threshold[3];
    bool merge;
    int timeout_ms, timeout_sig, grace_ms, linger_ms;
    pcomm_done_fn done_fn;
    void *done_userdata;
    pcomm_event_fn event_fn;
    void *event_userdata;
    /* running */
    struct pcomm__outchan out[3];
    bool out_open[3];
    struct pcomm__inchan in;
    bool in_open;
    pcomm_filter *in_filter; /* owned; its pump writes into the first stage's input pipe */
    struct pcomm__pump in_pump;
    bool in_pump_open;
    struct pcomm__timer timeout_timer, kill_timer, linger_timer;
    size_t exited_count; /* stages that ended: processes observed, pumps done */
    size_t procs_exited; /* command stages among them */
    struct pcomm__sinks
        inherit_sinks; /* a last filter stage with no stdout sinks: pcomm's stdout */
    bool started, held;
    unsigned flags;
    int error;
    size_t failed_stage; /* the stage whose spawn failed, after a failed start */
};

/* job_run.c */
void pcomm__job_drop_own_loop(pcomm_job *job);

/* job.c */
int pcomm__job_alloc(pcomm_job **jobp, size_t stages);
bool pcomm__job_stream_ok(int stream);

/* job_events.c */
void pcomm__job_init_runtime(pcomm_job *job, pcomm_loop *loop);
void pcomm__job_on_output_end(struct pcomm__outchan *ch);
void pcomm__job_on_stage_err_end(struct pcomm__outchan *ch);
void pcomm__job_on_input_end(struct pcomm__inchan *ch);
void pcomm__job_on_pump_end(struct pcomm__pump *p);
void pcomm__job_on_input_pump_end(struct pcomm__pump *p);
int pcomm__job_merged_line(void *userdata, const pcomm_line *line);
int pcomm__job_watch_exits(pcomm_job *job);
void pcomm__job_stop(pcomm_job *job);
void pcomm__job_abort(pcomm_job *job, int error);
/* Stop every filter stage still running (cut: it did not see its stream's end). */
void pcomm__job_cut_pumps(pcomm_job *job);
/* Signal every stage; reason (PCOMM_REASON_*, or 0 for a follow-up like SIGCONT) is reported
 * to the event callback. */
int pcomm__job_signal(pcomm_job *job, int sig, int reason);

#endif
