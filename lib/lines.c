/* lib/lines.c - line splitting: complete lines are handed out straight from the read buffer;
 * only the unfinished tail of a read is copied, into a buffer of at most `max` bytes.
 * SPDX-License-Identifier: MIT */
#include "lines.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

void pcomm__lines_init(struct pcomm__lines *lb, pcomm_line_fn fn, void *userdata, size_t max)
{
    lb->fn = fn;
    lb->userdata = userdata;
    lb->max = max ? max : 65536;
    lb->stage = 0;
    lb->partial = NULL;
    lb->partial_len = 0;
}

void pcomm__lines_free(struct pcomm__lines *lb)
{
    free(lb->partial);
    lb->partial = NULL;
    lb->partial_len = 0;
}

static int pcomm_lines_emit(struct pcomm__lines *lb, int stream, const char *data, size_t len,
                            unsigned flags, int64_t now)
{
    pcomm_line line = {stream, flags, data, len, now, lb->stage};
    return lb->fn(lb->userdata, &line);
}

/* Append to the partial line; the caller guarantees it fits in max. */
static int pcomm_lines_keep(struct pcomm__lines *lb, const char *data, size_t len)
{
    if (!lb->partial && !(lb->partial = malloc(lb->max)))
        return -ENOMEM;
    memcpy(lb->partial + lb->partial_len, data, len);
    lb->partial_len += len;
    return 0;
}

/* Continue a carried-over line with the start of data; returns bytes used or a negative error. */
static ssize_t pcomm_lines_continue(struct pcomm__lines *lb, int stream, const char *data, size_t n,
                                    int64_t now)
{
    const char *nl = memchr(data, '\n', n);
    size_t want = nl ? (size_t)(nl - data) + 1 : n;
    size_t room = lb->max - lb->partial_len;
    size_t take = want < room ? want : room;
    int r = pcomm_lines_keep(lb, data, take);
    if (r < 0)
        return r;
    bool complete = nl && take == want;
    if (complete || lb->partial_len == lb->max) {
        r = pcomm_lines_emit(lb, stream, lb->partial, lb->partial_len,
                             complete ? 0 : PCOMM_LINE_CONTINUED, now);
        lb->partial_len = 0;
        if (r < 0)
            return r;
    }
    return (ssize_t)take;
}

int pcomm__lines_feed(struct pcomm__lines *lb, int stream, const char *data, size_t n, int64_t now)
{
    while (n > 0) {
        if (lb->partial_len > 0) {
            ssize_t used = pcomm_lines_continue(lb, stream, data, n, now);
            if (used < 0)
                return (int)used;
            data += used;
            n -= (size_t)used;
            continue;
        }
        const char *nl = memchr(data, '\n', n < lb->max ? n : lb->max);
        int r;
        size_t len;
        if (nl) { /* a complete line that fits: straight from the caller's buffer */
            len = (size_t)(nl - data) + 1;
            r = pcomm_lines_emit(lb, stream, data, len, 0, now);
        } else if (n >= lb->max) { /* too long: a piece of exactly max bytes */
            len = lb->max;
            r = pcomm_lines_emit(lb, stream, data, len, PCOMM_LINE_CONTINUED, now);
        } else { /* the unfinished end of this read */
            len = n;
            r = pcomm_lines_keep(lb, data, n);
        }
        if (r < 0)
            return r;
        data += len;
        n -= len;
    }
    return 0;
}

int pcomm__lines_flush(struct pcomm__lines *lb, int stream, int64_t now)
{
    if (lb->partial_len == 0)
        return 0;
    size_t len = lb->partial_len;
    lb->partial_len = 0;
    return pcomm_lines_emit(lb, stream, lb->partial, len, PCOMM_LINE_NO_EOL, now);
}
