/* demos/pcomm/output.c - where the command's output goes: inherited untouched when nothing needs
 * to see it, otherwise pumped through the job to live line printing (-T, --prefix), raw
 * forwarding, and the --tail record. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

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
int cli_output_plan(struct cli_output *out, const struct cli_opts *opts, pcomm_cmd *cmd)
{
    memset(out, 0, sizeof *out);
    out->opts = opts;
    out->start_ns = pcomm_now_ns();
    int r = 0;
    if (opts->tail_lines)
        r = pcomm_spool_new(&out->tail, (size_t)opts->spool_max);
    for (int s = PCOMM_STDOUT; r == 0 && s <= PCOMM_STDERR; s++) {
        bool live = !opts->quiet;
        out->live_lines[s] = live && (opts->timestamps || opts->prefix);
        out->line_start[s] = true;
        /* A pty's output must be pumped: pcomm is its only reader. */
        bool pty = live && (opts->pty & (1u << s));
        out->pumped[s] = out->live_lines[s] || out->tail || pty;
        if (!out->pumped[s] && !live && !(s == PCOMM_STDERR && opts->merge))
            r = pcomm_cmd_stdio_null(cmd, s);
    }
    return r;
}

int cli_output_attach(struct cli_output *out, pcomm_job *job)
{
    const struct cli_opts *o = out->opts;
    int r = o->merge ? pcomm_job_merge_stderr(job) : 0;
    for (int s = PCOMM_STDOUT; r == 0 && s <= (o->merge ? 1 : 2); s++) {
        if (!out->pumped[s])
            continue;
        r = pcomm_job_on_line(job, s, on_line, out, 0);
        if (r == 0 && !o->quiet && !out->live_lines[s])
            r = pcomm_job_forward(job, s, s); /* raw live output next to the --tail record */
    }
    return r;
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
}
