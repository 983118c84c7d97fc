/* demos/pcomm/report.h - what pcomm records about a run, and its --json and --trace forms.
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_CLI_REPORT_H
#define PCOMM_CLI_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <pcomm.h>

struct cli_opts;
struct cli_output;

enum { CLI_MAX_FORWARDED = 16, CLI_TRACE_MAX_LINES = 10000 };

/* One instant event of the trace and the JSON: a signal pcomm sent or forwarded. */
struct cli_mark {
    int64_t time_ns;
    int sig;
    const char *why; /* "forwarded", "timeout", "kill-after", "linger", "abort" */
};

struct cli_trace_line {
    int64_t time_ns;
    int stream;
    int stage;
    char text[120]; /* the start of the line */
};

struct cli_report {
    const struct cli_opts *opts;
    int64_t start_ns, end_ns;
    int status;      /* pcomm's exit status */
    int start_error; /* the spawn's error, or 0 */
    int pcomm_error; /* pcomm's own failure after the start (a job error, a commit), or 0 */
    bool outputs_committed;
    struct cli_mark marks[CLI_MAX_FORWARDED];
    size_t mark_count;
    struct cli_trace_line *lines; /* --trace only */
    size_t line_count, lines_dropped;
};

void cli_report_init(struct cli_report *rep, const struct cli_opts *opts);
void cli_report_free(struct cli_report *rep);

/* Note a signal (for -v, --json and --trace). */
void cli_report_mark(struct cli_report *rep, int sig, const char *why);

/* Keep a line for --trace (capped, counting what is dropped). */
void cli_report_line(struct cli_report *rep, const pcomm_line *line);

/* Write the --json summary (to path, atomically, or to stdout for "-"). Returns 0 or -1 after
 * reporting the error. job may be NULL when the command could not even be set up. */
int cli_report_json(const struct cli_report *rep, pcomm_job *job, const struct cli_output *out,
                    const char *path);

/* Write the --trace timeline (Chrome trace-event JSON). Returns 0 or -1. */
int cli_report_trace(const struct cli_report *rep, pcomm_job *job, const char *path);

#endif
