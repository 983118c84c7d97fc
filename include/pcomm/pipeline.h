/* pcomm/pipeline.h - pcomm_pipeline: a | b | c, described; pcomm_job runs it.
 *
 * A pipeline is a list of stages: commands (pcomm_cmd, copied), joined by kernel pipes so that
 * bytes between two children never pass through the parent, and filter stages (pcomm_filter,
 * pcomm/filter.h): a decoder or encoder the parent runs on the stream between its neighbours,
 * inside the job's loop, with backpressure - no extra process or thread. A filter first in the
 * pipeline reads the job's input (gunzip a file into a command's stdin); a filter last feeds the
 * job's stdout sinks (compress a command's output). Like pcomm_cmd a pipeline only describes:
 * pcomm_job_new_pipeline() (pcomm/run.h) takes it over and runs it with every input, output and
 * time-limit choice a single command has, plus per-stage statuses and an aggregate status.
 *
 * Command strings: pcomm_pipeline_parse() reads the grammar of `pcomm -c`: words separated by
 * blanks, '...' and "..." quoting, backslash escapes, and | between stages; nothing else is
 * special and nothing is expanded (it is not a shell). pcomm_pipeline_to_string() and
 * pcomm_cmd_to_string() render argv back, quoting each word so that both pcomm_pipeline_parse()
 * and sh -c see exactly the same words.
 *
 * Part of libpcomm. SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_PIPELINE_H
#define PCOMM_PIPELINE_H

#include <stddef.h>
#include "common.h"
#include "cmd.h"
#include "filter.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pcomm_pipeline pcomm_pipeline;

/* How the stages' statuses combine into the pipeline's (pcomm_pipeline_set_rule). */
enum pcomm_rule {
    /* The rightmost stage that failed, else 0 (bash's pipefail); a stage other than the last
     * killed by SIGPIPE counts as success (yes | head). The default. */
    PCOMM_RULE_PIPEFAIL = 0,
    /* The last stage's status only (a plain shell). */
    PCOMM_RULE_LAST = 1,
    /* libpipeline's rule: the last stage's status when it failed, else 127 when an earlier stage
     * failed (a SIGPIPE death counting as success), else 0. */
    PCOMM_RULE_LIBPIPELINE = 2
};

/* Where each stage's stderr goes (pcomm_pipeline_set_stderr). */
enum pcomm_stage_stderr {
    PCOMM_STDERR_INHERIT = 0,  /* the stage's own choice in its pcomm_cmd (inherited by default) */
    PCOMM_STDERR_SEPARATE = 1, /* captured per stage: pcomm_job_stage_output() */
    PCOMM_STDERR_MERGED = 2    /* one captured stream (PCOMM_STDERR) with "[i] " on every line */
};

/* Create an empty pipeline. Returns 0, -EINVAL or -ENOMEM. */
PCOMM_API int pcomm_pipeline_new(pcomm_pipeline **pipelinep);

/* Free a pipeline and its stages. Accepts NULL. */
PCOMM_API void pcomm_pipeline_free(pcomm_pipeline *pipeline);

/* Append a command stage (cmd is copied; its stdin and stdout are set by the pipeline when it
 * runs, its other choices are kept). Returns 0, -EINVAL (no argv) or -ENOMEM. */
PCOMM_API int pcomm_pipeline_add_cmd(pcomm_pipeline *pipeline, const pcomm_cmd *cmd);

/* Append a filter stage. The pipeline takes filter over on success (it is freed with the
 * pipeline, or with the job that takes the pipeline over; the pointer stays valid until then, for
 * pcomm_filter_message() and the byte counts after a run); the caller keeps it on failure.
 * Configure it (limits, threads, passthrough) before the run. A filter stage ends when its
 * stream ends; its status (pcomm_job_stage_status()) is exited 0 then, exited 1 when the filter
 * failed (the job then fails with the filter's error, pcomm_run(3)), killed by SIGPIPE when the
 * next stage stopped reading first, and killed by SIGKILL when the job was cut short. Returns
 * 0, -EINVAL, -EBUSY (filter is already a stage of this pipeline) or -ENOMEM. */
PCOMM_API int pcomm_pipeline_add_filter(pcomm_pipeline *pipeline, pcomm_filter *filter);

/* The number of stages. Returns 0 for NULL. */
PCOMM_API size_t pcomm_pipeline_length(const pcomm_pipeline *pipeline);

/* The command of stage i, owned by the pipeline, to change it before the run (environment,
 * working directory, stderr); NULL when i is out of range or the stage is not a command. */
PCOMM_API pcomm_cmd *pcomm_pipeline_cmd(const pcomm_pipeline *pipeline, size_t i);

/* The filter of stage i, owned by the pipeline; NULL when i is out of range or the stage is a
 * command. */
PCOMM_API pcomm_filter *pcomm_pipeline_filter(const pcomm_pipeline *pipeline, size_t i);

/* Choose the status rule (enum pcomm_rule). Returns 0 or -EINVAL. */
PCOMM_API int pcomm_pipeline_set_rule(pcomm_pipeline *pipeline, int rule);

/* Choose where the stages' stderr goes (enum pcomm_stage_stderr). Returns 0 or -EINVAL. */
PCOMM_API int pcomm_pipeline_set_stderr(pcomm_pipeline *pipeline, int mode);

/* Parse a command string into a new pipeline of command stages. On PCOMM_ESYNTAX, *columnp (when
 * not NULL) is the 1-based column of the problem: an unterminated quote, a backslash at the end,
 * or the '|' of an empty stage (an empty string is an empty stage at column 1).
 * Returns 0, PCOMM_ESYNTAX, -EINVAL or -ENOMEM. */
PCOMM_API int pcomm_pipeline_parse(const char *text, pcomm_pipeline **pipelinep, size_t *columnp);

/* Render the stages as a command string ("a 'b c' | d"), malloc'd into *textp (the caller
 * free()s it). Only argv is rendered: environment, working directory and stdio choices are not.
 * Returns 0, -EINVAL, -ENOTSUP (a filter stage: it has no shell form) or -ENOMEM. */
PCOMM_API int pcomm_pipeline_to_string(const pcomm_pipeline *pipeline, char **textp);

/* Render one command's argv the same way. Returns 0, -EINVAL or -ENOMEM. */
PCOMM_API int pcomm_cmd_to_string(const pcomm_cmd *cmd, char **textp);

#ifdef __cplusplus
}
#endif

#endif /* PCOMM_PIPELINE_H */
