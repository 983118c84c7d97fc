/* lib/job_read.c - reading a running job's output as libpipeline users do, and waiting for a
 * job: each call drives the job's loop until it can answer. SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "job_private.h"
#include "sys.h"

enum { PCOMM_READER_LIMIT = 1024 * 1024 };

int pcomm_job_read_output(pcomm_job *job)
{
    if (!job)
        return -EINVAL;
    if (job->started)
        return -EBUSY;
    struct pcomm__sinks *s = &job->sinks[PCOMM_STDOUT];
    if (!s->reader && !(s->reader = calloc(1, sizeof *s->reader)))
        return -ENOMEM;
    s->reader->limit = PCOMM_READER_LIMIT;
    return 0;
}

/* Drive the loop until fn says the reader can answer (or the output ended). */
static int pcomm_job_fill(pcomm_job *job, size_t want)
{
    struct pcomm__reader *rd = job->sinks[PCOMM_STDOUT].reader;
    if (!rd || !job->started)
        return -EINVAL;
    while (rd->len < want && !rd->eof) {
        rd->want = want;
        if (job->out_open[PCOMM_STDOUT])
            pcomm__outchan_resume(&job->out[PCOMM_STDOUT]);
        int r = pcomm_loop_step(job->loop, -1);
        if (r < 0) {
            rd->want = 0;
            return r;
        }
    }
    rd->want = 0;
    return 0;
}

/* Consume n bytes; the channel may read again once there is room. */
static void pcomm_job_consume(pcomm_job *job, size_t n)
{
    struct pcomm__reader *rd = job->sinks[PCOMM_STDOUT].reader;
    rd->start += n;
    rd->len -= n;
    if (rd->len == 0)
        rd->start = 0;
    if (job->out_open[PCOMM_STDOUT])
        pcomm__outchan_resume(&job->out[PCOMM_STDOUT]);
}

ssize_t pcomm_job_read(pcomm_job *job, void *buf, size_t len)
{
    if (!job || (!buf && len))
        return -EINVAL;
    int r = pcomm_job_fill(job, len ? 1 : 0);
    if (r < 0)
        return r;
    struct pcomm__reader *rd = job->sinks[PCOMM_STDOUT].reader;
    size_t n = rd->len < len ? rd->len : len;
    memcpy(buf, rd->buf + rd->start, n);
    pcomm_job_consume(job, n);
    return (ssize_t)n;
}

int pcomm_job_peek(pcomm_job *job, size_t want, const void **datap, size_t *lenp)
{
    if (!job || !datap || !lenp)
        return -EINVAL;
    int r = pcomm_job_fill(job, want);
    if (r < 0)
        return r;
    struct pcomm__reader *rd = job->sinks[PCOMM_STDOUT].reader;
    *datap = rd->buf ? rd->buf + rd->start : "";
    *lenp = rd->len;
    return 0;
}

int pcomm_job_readline(pcomm_job *job, const char **linep, size_t *lenp)
{
    if (!job || !linep || !lenp)
        return -EINVAL;
    struct pcomm__reader *rd = job->sinks[PCOMM_STDOUT].reader;
    if (!rd)
        return -EINVAL;
    size_t scanned = 0;
    for (;;) { /* no line-length limit: the buffer grows until the newline comes */
        const char *nl = rd->len > scanned
                             ? memchr(rd->buf + rd->start + scanned, '\n', rd->len - scanned)
                             : NULL;
        if (nl || rd->eof) {
            size_t n = nl ? (size_t)(nl - (rd->buf + rd->start)) + 1 : rd->len;
            *linep = rd->buf ? rd->buf + rd->start : "";
            *lenp = n;
            pcomm_job_consume(job, n); /* the bytes stay in place until the next call */
            return 0;
        }
        scanned = rd->len;
        int r = pcomm_job_fill(job, rd->len + 1);
        if (r < 0)
            return r;
    }
}

int pcomm_job_wait(pcomm_job *job, int timeout_ms)
{
    if (!job || !job->started)
        return -EINVAL;
    int64_t deadline = pcomm__deadline_after_ms(timeout_ms);
    while (!(job->flags & PCOMM_JOB_DONE)) {
        if (deadline != PCOMM__NO_DEADLINE && pcomm__now_ns() >= deadline)
            return -ETIMEDOUT;
        struct pcomm__reader *rd = job->sinks[PCOMM_STDOUT].reader;
        if (rd && job->out_open[PCOMM_STDOUT]) { /* nobody reads any more: let it all in */
            rd->limit = SIZE_MAX;
            pcomm__outchan_resume(&job->out[PCOMM_STDOUT]);
        }
        int r = pcomm_loop_step(job->loop, pcomm__ms_until(deadline));
        if (r < 0)
            return r;
    }
    return 0;
}
