/* demos/pcomm/report.c - the --json summary and the --trace timeline, built with jansson (no
 * hand-made escaping), written atomically when they go to a file. The fields are described in
 * docs/pcomm-json.md and checked by tests/check_json.py against docs/pcomm.schema.json.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_report_init(struct cli_report *rep, const struct cli_opts *opts)
{
    memset(rep, 0, sizeof *rep);
    rep->opts = opts;
    rep->start_ns = pcomm_now_ns();
}

void cli_report_free(struct cli_report *rep)
{
    free(rep->lines);
    rep->lines = NULL;
}

void cli_report_mark(struct cli_report *rep, int sig, const char *why)
{
    if (rep->mark_count < CLI_MAX_FORWARDED)
        rep->marks[rep->mark_count++] = (struct cli_mark){pcomm_now_ns(), sig, why};
}

void cli_report_line(struct cli_report *rep, const pcomm_line *line)
{
    if (rep->line_count == CLI_TRACE_MAX_LINES) {
        rep->lines_dropped++;
        return;
    }
    if (!rep->lines && !(rep->lines = malloc(CLI_TRACE_MAX_LINES * sizeof *rep->lines))) {
        rep->lines_dropped++;
        return;
    }
    struct cli_trace_line *t = &rep->lines[rep->line_count++];
    t->time_ns = line->time_ns;
    t->stream = line->stream;
    t->stage = line->stage;
    size_t n = line->len < sizeof t->text - 1 ? line->len : sizeof t->text - 1;
    if (n && line->data[n - 1] == '\n')
        n--;
    memcpy(t->text, line->data, n);
    t->text[n] = '\0';
}

/* ---- JSON values ------------------------------------------------------------------------------
 */

static json_t *base64_of(const unsigned char *p, size_t n)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = digits[v >> 18 & 63];
        out[o++] = digits[v >> 12 & 63];
        out[o++] = i + 1 < n ? digits[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? digits[v & 63] : '=';
    }
    out[o] = '\0';
    json_t *obj = json_pack("{s:s}", "base64", out);
    free(out);
    return obj;
}

/* A string; bytes that are not UTF-8 cannot be a JSON string: {"base64": "..."} then. */
static json_t *text_of(const char *s)
{
    json_t *str = json_string(s);
    return str ? str : base64_of((const unsigned char *)s, strlen(s));
}

static json_t *seconds(int64_t ns)
{
    return json_real((double)ns / 1e9);
}

static json_t *signal_name(int sig)
{
    const char *name = sigabbrev_np(sig);
    return name ? json_string(name) : json_null();
}

static json_t *argv_of(const pcomm_cmd *cmd)
{
    json_t *argv = json_array();
    for (size_t i = 0; argv && i < pcomm_cmd_argc(cmd); i++)
        json_array_append_new(argv, text_of(pcomm_cmd_argv(cmd, i)));
    return argv;
}

static const char *state_name(int how)
{
    switch (how) {
    case PCOMM_EXITED: return "exited";
    case PCOMM_SIGNALED: return "signaled";
    case PCOMM_UNKNOWN: return "unknown";
    default: return "not_started";
    }
}

static json_t *stage_json(pcomm_job *job, size_t i)
{
    pcomm_status st;
    pcomm_job_stage_status(job, i, &st);
    pcomm_proc *proc = pcomm_job_stage_proc(job, i);
    bool ended = st.how == PCOMM_EXITED || st.how == PCOMM_SIGNALED;
    json_t *stage = json_object();
    json_object_set_new(stage, "argv", argv_of(pcomm_job_stage_cmd(job, i)));
    json_object_set_new(stage, "exe", proc ? text_of(pcomm_proc_exe(proc)) : json_null());
    json_object_set_new(stage, "pid", proc ? json_integer(pcomm_proc_pid(proc)) : json_null());
    json_object_set_new(stage, "state", json_string(state_name(proc ? st.how : -1)));
    json_object_set_new(stage, "exit_code",
                        st.how == PCOMM_EXITED ? json_integer(st.code) : json_null());
    json_object_set_new(stage, "signal",
                        st.how == PCOMM_SIGNALED ? json_integer(st.code) : json_null());
    json_object_set_new(stage, "signal_name",
                        st.how == PCOMM_SIGNALED ? signal_name(st.code) : json_null());
    json_object_set_new(stage, "core_dumped", json_boolean(st.core_dumped));
    json_object_set_new(stage, "wall_seconds", ended ? seconds(st.wall_ns) : json_null());
    json_object_set_new(stage, "user_seconds", ended ? seconds(st.user_ns) : json_null());
    json_object_set_new(stage, "sys_seconds", ended ? seconds(st.sys_ns) : json_null());
    json_object_set_new(stage, "max_rss_kib", ended ? json_integer(st.max_rss_kib) : json_null());
    return stage;
}

static const char *outcome_of(const struct cli_report *rep, pcomm_job *job)
{
    if (rep->start_error)
        return "not_started";
    if (rep->pcomm_error)
        return "pcomm_failed";
    if (job && (pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT))
        return "timed_out";
    pcomm_status st;
    if (!job || pcomm_job_status(job, &st) < 0)
        return "not_started";
    int code = pcomm_job_exit_code(job);
    if (code < 0)
        return "unknown";
    for (size_t i = 0; code > 128 && i < pcomm_job_stage_count(job); i++)
        if (pcomm_job_stage_status(job, i, &st) == 0 && st.how == PCOMM_SIGNALED &&
            st.code == code - 128)
            return "signaled";
    return "exited";
}

static json_t *error_json(int err)
{
    if (!err)
        return json_null();
    return json_pack("{s:s,s:s}", "name", pcomm_errname(err), "message", pcomm_strerror(err));
}

static json_t *bytes_json(pcomm_job *job, const struct cli_output *out)
{
    json_t *bytes = json_object();
    const char *names[3] = {"stdin", "stdout", "stderr"};
    for (int s = 0; s < 3; s++) {
        /* Only what passed through pcomm was counted: an inherited stream was not. */
        bool known = job && (s == 0 ? out->opts->input != NULL : out->pumped[s]);
        json_object_set_new(bytes, names[s],
                            known ? json_integer((json_int_t)pcomm_job_bytes(job, s))
                                  : json_null());
    }
    return bytes;
}

/* A filter's codec by name, null without a filter (or an auto decoder that passed plain data
 * through). */
static json_t *codec_json(const pcomm_filter *f)
{
    int codec = f ? pcomm_filter_codec(f) : PCOMM_CODEC_NONE;
    return codec == PCOMM_CODEC_NONE || codec == PCOMM_CODEC_AUTO || codec < 0
               ? json_null()
               : json_string(pcomm_codec_name(codec));
}

static json_t *outputs_json(const struct cli_report *rep, pcomm_job *job,
                            const struct cli_output *out)
{
    json_t *outputs = json_array();
    const char *streams[3] = {NULL, "stdout", "stderr"};
    for (int s = 1; s <= 2; s++) {
        const char *path = rep->opts->output[s];
        if (!path)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "stream", json_string(streams[s]));
        json_object_set_new(o, "path", text_of(path));
        json_object_set_new(o, "written", json_boolean(rep->outputs_committed && out->file[s]));
        json_object_set_new(o, "compression",
                            codec_json(job ? pcomm_job_output_filter(job, s) : NULL));
        json_array_append_new(outputs, o);
    }
    return outputs;
}

static json_t *marks_json(const struct cli_report *rep)
{
    json_t *marks = json_array();
    for (size_t i = 0; i < rep->mark_count; i++)
        json_array_append_new(marks,
                              json_pack("{s:o,s:i,s:s}", "seconds",
                                        seconds(rep->marks[i].time_ns - rep->start_ns), "signal",
                                        rep->marks[i].sig, "why", rep->marks[i].why));
    return marks;
}

/* How the ptys asked for were made: "ctty" when one is a controlling terminal, else "noctty",
 * "pipe" when all fell back to pipes, null when none was asked for. */
static json_t *pty_path_json(pcomm_job *job)
{
    int best = PCOMM_PTY_NONE;
    for (size_t i = 0; job && i < pcomm_job_stage_count(job); i++) {
        pcomm_proc *proc = pcomm_job_stage_proc(job, i);
        pcomm_pty_info info;
        for (int fd = 0; proc && fd <= 2; fd++)
            if (pcomm_proc_pty(proc, fd, &info) == 0 && info.path != PCOMM_PTY_NONE &&
                (best == PCOMM_PTY_NONE || best == PCOMM_PTY_PIPE || info.path == PCOMM_PTY_CTTY))
                best = info.path;
    }
    static const char *const names[] = {NULL, "ctty", "noctty", "pipe"};
    return best == PCOMM_PTY_NONE ? json_null() : json_string(names[best]);
}

static json_t *paths_json(pcomm_job *job)
{
    pcomm_proc *first = job ? pcomm_job_stage_proc(job, 0) : NULL;
    json_t *paths = json_object();
    json_object_set_new(paths, "spawn",
                        first ? json_string(pcomm_proc_spawn_path(first)) : json_null());
    json_object_set_new(paths, "pty", pty_path_json(job));
    json_object_set_new(paths, "codec", codec_json(job ? pcomm_job_input_filter(job) : NULL));
    return paths;
}

static json_t *summary_json(const struct cli_report *rep, pcomm_job *job,
                            const struct cli_output *out)
{
    unsigned flags = job ? pcomm_job_flags(job) : 0;
    json_t *stages = json_array();
    for (size_t i = 0; job && i < pcomm_job_stage_count(job); i++)
        json_array_append_new(stages, stage_json(job, i));
    json_t *root = json_object();
    json_object_set_new(root, "pcomm_version", json_string(pcomm_version()));
    json_object_set_new(root, "status", json_integer(rep->status));
    json_object_set_new(root, "outcome", json_string(outcome_of(rep, job)));
    json_object_set_new(root, "timed_out", json_boolean(flags & PCOMM_JOB_TIMED_OUT));
    json_object_set_new(root, "killed_after_timeout", json_boolean(flags & PCOMM_JOB_KILLED));
    json_object_set_new(root, "error",
                        error_json(rep->start_error ? rep->start_error : rep->pcomm_error));
    json_object_set_new(root, "wall_seconds", seconds(rep->end_ns - rep->start_ns));
    json_object_set_new(root, "stages", stages);
    json_object_set_new(root, "bytes", bytes_json(job, out));
    json_object_set_new(root, "truncated",
                        json_pack("{s:b,s:b}", "linger", (flags & PCOMM_JOB_TRUNCATED) != 0,
                                  "stdin", (flags & PCOMM_JOB_INPUT_SHORT) != 0));
    json_object_set_new(root, "signals", marks_json(rep));
    json_object_set_new(root, "outputs", outputs_json(rep, job, out));
    json_object_set_new(root, "paths", paths_json(job));
    return root;
}

/* Write text to path atomically, or to stdout for "-". */
static int write_document(const char *text, const char *path, const char *what)
{
    int r;
    if (!strcmp(path, "-")) {
        r = fputs(text, stdout) < 0 || fflush(stdout) ? -EIO : 0;
    } else {
        pcomm_atomic *file = NULL;
        r = pcomm_atomic_open(&file, path, 0666, PCOMM_ATOMIC_SYNC_FULL);
        if (r == 0 && (r = pcomm_atomic_write(file, text, strlen(text))) == 0)
            r = pcomm_atomic_commit(file);
        pcomm_atomic_free(file);
    }
    if (r < 0)
        cli_error("cannot write the %s to '%s': %s", what, path, pcomm_strerror(r));
    return r < 0 ? -1 : 0;
}

static int dump(json_t *root, const char *path, const char *what)
{
    char *text =
        root ? json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(root);
    if (!text) {
        cli_error("cannot build the %s: out of memory", what);
        return -1;
    }
    size_t n = strlen(text);
    char *with_newline = realloc(text, n + 2);
    if (!with_newline) {
        free(text);
        return -1;
    }
    memcpy(with_newline + n, "\n", 2);
    int r = write_document(with_newline, path, what);
    free(with_newline);
    return r;
}

int cli_report_json(const struct cli_report *rep, pcomm_job *job, const struct cli_output *out,
                    const char *path)
{
    return dump(summary_json(rep, job, out), path, "JSON summary");
}

/* ---- the trace --------------------------------------------------------------------------------
 */

static double micros(const struct cli_report *rep, int64_t ns)
{
    return (double)(ns - rep->start_ns) / 1e3;
}

static json_t *trace_event(const char *name, const char *ph, double ts, int tid)
{
    return json_pack("{s:o,s:s,s:f,s:i,s:i}", "name", text_of(name), "ph", ph, "ts", ts, "pid", 1,
                     "tid", tid);
}

/* Tracks: 1 = pcomm (signals, timeouts), 2 = stdout, 3 = stderr, 10 + i = stage i. */
static void trace_tracks(json_t *events, size_t stages)
{
    static const char *const names[] = {NULL, "pcomm", "stdout", "stderr"};
    for (int tid = 1; tid <= 3; tid++)
        json_array_append_new(events,
                              json_pack("{s:s,s:s,s:i,s:i,s:{s:s}}", "name", "thread_name", "ph",
                                        "M", "pid", 1, "tid", tid, "args", "name", names[tid]));
    for (size_t i = 0; i < stages; i++) {
        char name[32];
        snprintf(name, sizeof name, "stage %zu", i);
        json_array_append_new(events,
                              json_pack("{s:s,s:s,s:i,s:i,s:{s:s}}", "name", "thread_name", "ph",
                                        "M", "pid", 1, "tid", 10 + (int)i, "args", "name", name));
    }
}

static void trace_stages(json_t *events, const struct cli_report *rep, pcomm_job *job)
{
    for (size_t i = 0; job && i < pcomm_job_stage_count(job); i++) {
        pcomm_status st;
        pcomm_job_stage_status(job, i, &st);
        if (!pcomm_job_stage_proc(job, i))
            continue;
        char *text = NULL;
        pcomm_cmd_to_string(pcomm_job_stage_cmd(job, i), &text);
        int64_t end = st.how == PCOMM_RUNNING ? rep->end_ns : st.start_ns + st.wall_ns;
        json_t *ev = trace_event(text ? text : "?", "X", micros(rep, st.start_ns), 10 + (int)i);
        json_object_set_new(ev, "dur", json_real((double)(end - st.start_ns) / 1e3));
        json_object_set_new(ev, "args",
                            json_pack("{s:i,s:o,s:o}", "pid", st.pid, "argv",
                                      argv_of(pcomm_job_stage_cmd(job, i)), "status",
                                      stage_json(job, i)));
        json_array_append_new(events, ev);
        free(text);
    }
}

static void trace_instants(json_t *events, const struct cli_report *rep)
{
    for (size_t i = 0; i < rep->line_count; i++) {
        const struct cli_trace_line *l = &rep->lines[i];
        json_t *ev =
            trace_event(l->text, "i", micros(rep, l->time_ns), l->stream == PCOMM_STDERR ? 3 : 2);
        json_object_set_new(ev, "s", json_string("t"));
        json_object_set_new(ev, "args", json_pack("{s:i}", "stage", l->stage));
        json_array_append_new(events, ev);
    }
    for (size_t i = 0; i < rep->mark_count; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s SIG%s", rep->marks[i].why,
                 sigabbrev_np(rep->marks[i].sig) ? sigabbrev_np(rep->marks[i].sig) : "?");
        json_t *ev = trace_event(name, "i", micros(rep, rep->marks[i].time_ns), 1);
        json_object_set_new(ev, "s", json_string("g"));
        json_array_append_new(events, ev);
    }
}

int cli_report_trace(const struct cli_report *rep, pcomm_job *job, const char *path)
{
    json_t *events = json_array();
    trace_tracks(events, job ? pcomm_job_stage_count(job) : 0);
    trace_stages(events, rep, job);
    trace_instants(events, rep);
    json_t *root = json_pack("{s:o,s:s,s:{s:s,s:I}}", "traceEvents", events, "displayTimeUnit",
                             "ms", "otherData", "pcomm_version", pcomm_version(), "dropped_lines",
                             (json_int_t)rep->lines_dropped);
    return dump(root, path, "trace");
}
