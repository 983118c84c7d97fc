/* demos/pcomm/output.c - where the command's output goes: inherited untouched when nothing needs
 * to see it, otherwise pumped through the job to live line printing (-T, --prefix), raw
 * forwarding, and the --tail record. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The live prefix of a line: --prefix TEXT, then with -T "  1.234 out| ". */
static size_t format_prefix(const struct cli_output *out, const pcomm_line *line, char *buf,
                            size_t cap)
{
    size_t len = 0;
    if (out->opts->prefix)
        len += (size_t)snprintf(buf, cap, "%s", out->opts->prefix);
    if (out->opts->timestamps && len < cap)
        len += (size_t)snprintf(buf + len, cap - len, "%7.3f %s| ",
                                (double)(line->time_ns - out->start_ns) / 1e9,
                                line->stream == PCOMM_STDERR ? "err" : "out");
    return len < cap ? len : cap - 1;
}

static int print_live(struct cli_output *out, const pcomm_line *line)
{
    int fd = line->stream == PCOMM_STDERR ? 2 : 1;
    int r = 0;
    if (out->line_start[line->stream]) {
        char prefix[512];
        size_t n = format_prefix(out, line, prefix, sizeof prefix);
        r = write_all(fd, prefix, n);
    }
    if (r == 0)
        r = write_all(fd, line->data, line->len);
    out->line_start[line->stream] = !(line->flags & PCOMM_LINE_CONTINUED);
    return r;
}

static int on_line(void *userdata, const pcomm_line *line)
{
    struct cli_output *out = userdata;
    if (out->report)
        cli_report_line(out->report, line);
    if (out->tail) {
        int r = pcomm_spool_write(out->tail, line->data, line->len);
        if (r == 0 && (line->flags & PCOMM_LINE_NO_EOL))
            r = pcomm_spool_write(out->tail, "\n", 1);
        if (r < 0)
            return r;
    }
    if (!out->live_lines[line->stream])
        return 0;
    int r = print_live(out, line);
    if (r < 0)
        out->write_error = r;
    return r;
}

/* Decide each stream: untouched (the child writes to pcomm's own descriptor), discarded, or
 * pumped through on_line (and forwarded raw when shown live without decoration). */
/* -q without anything pumped: the pipeline's stdout, and every stage's stderr, to /dev/null. */
static int discard_stream(pcomm_pipeline *stages, int s)
{
    size_t n = pcomm_pipeline_length(stages);
    if (s == PCOMM_STDOUT)
        return pcomm_cmd_stdio_null(pcomm_pipeline_cmd(stages, n - 1), s);
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++)
        r = pcomm_cmd_stdio_null(pcomm_pipeline_cmd(stages, i), s);
    return r;
}

/* -o / -e: an atomic output file, shared when both name the same path, and its compression. */
static int open_output(struct cli_output *out, int s)
{
    const char *path = out->opts->output[s];
    if ((out->codec[s] = cli_output_codec(out->opts, path)) < 0)
        return -EINVAL; /* reported */
    if (s == PCOMM_STDERR && out->file[1] && !strcmp(path, out->opts->output[1])) {
        out->file[2] = out->file[1];
        return 0;
    }
    int r = pcomm_atomic_open(&out->file[s], path, 0666, PCOMM_ATOMIC_SYNC_FULL);
    if (r < 0)
        cli_error("cannot write '%s': %s", path, pcomm_strerror(r));
    return r;
}

int cli_output_plan(struct cli_output *out, const struct cli_opts *opts, pcomm_pipeline *stages)
{
    struct cli_report *report = out->report;
    bool count = out->count;
    memset(out, 0, sizeof *out);
    out->opts = opts;
    out->report = report;
    out->count = count;
    out->null_fd = -1;
    out->start_ns = pcomm_now_ns();
    int r = 0;
    if (opts->tail_lines)
        r = pcomm_spool_new(&out->tail, (size_t)opts->spool_max);
    for (int s = PCOMM_STDOUT; r == 0 && s <= PCOMM_STDERR; s++) {
        if (s == PCOMM_STDERR && opts->merge)
            break; /* stderr follows stdout, through the same pipe */
        bool file = opts->output[s] != NULL;
        bool live = !opts->quiet && (!file || opts->tee);
        if (file && (r = open_output(out, s)) < 0)
            break;
        out->live[s] = live;
        /* Forwarded descriptors get what the file gets: compressed live output goes by line. */
        out->live_lines[s] =
            live && (opts->timestamps || opts->prefix || out->codec[s] != PCOMM_CODEC_NONE);
        out->line_start[s] = true;
        /* A pty's output must be pumped: pcomm is its only reader. */
        bool pty = (opts->pty & (1u << s)) != 0;
        out->pumped[s] =
            out->live_lines[s] || out->tail || file || out->count || out->report || pty;
        if (file)
            continue; /* pumped into its file */
        if (!out->pumped[s] && !live)
            r = discard_stream(stages, s);
        else if (out->pumped[s] && !live && out->null_fd < 0 &&
                 (out->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
            r = -errno;
    }
    return r;
}

/* -o/-e compression: an encoder between the stream and its file (one for both streams when they
 * share the file, so that it holds one compressed stream). */
static int attach_encoder(struct cli_output *out, pcomm_job *job, int s)
{
    if (!out->file[s] || out->codec[s] == PCOMM_CODEC_NONE)
        return 0;
    if (s == PCOMM_STDERR && out->file[2] == out->file[1])
        return pcomm_job_filter_output(job, s, pcomm_job_output_filter(job, PCOMM_STDOUT));
    pcomm_filter *f;
    if (cli_output_encoder(out->opts, out->codec[s], out->opts->output[s], &f) < 0)
        return PCOMM_EUNSUPPORTED; /* reported: a bad level, no memory */
    int r = pcomm_job_filter_output(job, s, f);
    if (r < 0)
        pcomm_filter_free(f);
    else
        cli_verbose(out->opts, "output '%s': %s-compressed", out->opts->output[s],
                    pcomm_codec_name(out->codec[s]));
    return r;
}

int cli_output_attach(struct cli_output *out, pcomm_job *job)
{
    const struct cli_opts *o = out->opts;
    int r = o->merge ? pcomm_job_merge_stderr(job) : 0; /* a pipeline's stderr merges itself */
    for (int s = PCOMM_STDOUT; r == 0 && s <= (o->merge ? 1 : 2); s++) {
        if (!out->pumped[s])
            continue;
        if ((r = attach_encoder(out, job, s)) < 0)
            break;
        if (out->live_lines[s] || out->tail || out->report)
            r = pcomm_job_on_line(job, s, on_line, out, 0);
        if (r == 0 && out->live[s] && !out->live_lines[s])
            r = pcomm_job_forward(job, s, s); /* raw live output */
        if (r == 0 && out->file[s])
            r = pcomm_job_forward(job, s, pcomm_atomic_fd(out->file[s]));
        if (r == 0 && !out->live[s] && !out->file[s] && !out->report && !out->tail)
            r = pcomm_job_forward(job, s, out->null_fd); /* counted, then discarded */
    }
    return r;
}

int cli_output_finish(struct cli_output *out, bool commit)
{
    int result = 0;
    for (int s = PCOMM_STDOUT; s <= PCOMM_STDERR; s++) {
        pcomm_atomic *file = out->file[s];
        if (!file || (s == PCOMM_STDERR && file == out->file[1]))
            continue;
        int r = commit ? pcomm_atomic_commit(file) : 0;
        if (r < 0) {
            cli_error("cannot write '%s': %s", out->opts->output[s], pcomm_strerror(r));
            result = r;
        }
    }
    return result;
}

void cli_output_tail(struct cli_output *out, bool failed, const char *how)
{
    if (!out->tail || !failed)
        return;
    char *text;
    size_t len;
    if (pcomm_spool_tail_lines(out->tail, out->opts->tail_lines, &text, &len) < 0)
        return;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    fflush(stdout);
    fprintf(stderr, "pcomm: last %zu line%s of output (%s):\n", lines, lines == 1 ? "" : "s", how);
    fflush(stderr);
    write_all(2, text, len);
    free(text);
}

void cli_output_free(struct cli_output *out)
{
    pcomm_spool_free(out->tail);
    out->tail = NULL;
    if (out->null_fd >= 0)
        close(out->null_fd);
    out->null_fd = -1;
    if (out->file[2] != out->file[1])
        pcomm_atomic_free(out->file[2]); /* aborts a file that was not committed */
    pcomm_atomic_free(out->file[1]);
    out->file[1] = out->file[2] = NULL;
}
