/* demos/pcomm/status.c - the status line: when pcomm's stderr is a terminal and the output is
 * not shown live, one line with the elapsed time, the bytes per stream and the rate, redrawn at
 * most 10 times a second and erased at the end. Never written when stderr is not a terminal.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum { CLI_STATUS_INTERVAL_NS = 100000000 };

bool cli_status_wanted(const struct cli_opts *opts)
{
    bool shown = !opts->quiet && (!opts->output[1] || opts->tee);
    return isatty(2) && !shown;
}

static void human(char *buf, size_t cap, double bytes)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

void cli_status_draw(struct cli_status *st, pcomm_job *job, bool force)
{
    int64_t now = pcomm_now_ns();
    if (!st->enabled || (!force && now - st->last_ns < CLI_STATUS_INTERVAL_NS))
        return;
    st->last_ns = now;
    double elapsed = (double)(now - st->start_ns) / 1e9;
    uint64_t out = pcomm_job_bytes(job, PCOMM_STDOUT), err = pcomm_job_bytes(job, PCOMM_STDERR);
    char o[32], e[32], rate[32];
    human(o, sizeof o, (double)out);
    human(e, sizeof e, (double)err);
    human(rate, sizeof rate, elapsed > 0 ? (double)(out + err) / elapsed : 0);
    char line[160];
    int n = snprintf(line, sizeof line, "\r\033[Kpcomm: %6.1fs  out %s  err %s  %s/s", elapsed, o,
                     e, rate);
    if (n > 0)
        (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    st->drawn = true;
}

void cli_status_erase(struct cli_status *st)
{
    if (st->drawn)
        (void)!write(2, "\r\033[K", 4);
    st->drawn = false;
}
