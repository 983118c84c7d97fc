/* lib/spool.c - TEMPORARY in-memory stand-in for pcomm_spool (issue 4 replaces this file).
 * SPDX-License-Identifier: MIT */
#include "pcomm/spool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sys.h"

struct pcomm_spool {
    char *buf;
    size_t len, cap;
};

int pcomm_spool_new(pcomm_spool **spoolp, size_t mem_threshold)
{
    (void)mem_threshold;
    if (!spoolp)
        return -EINVAL;
    *spoolp = calloc(1, sizeof **spoolp);
    return *spoolp ? 0 : -ENOMEM;
}

void pcomm_spool_free(pcomm_spool *spool)
{
    if (spool)
        free(spool->buf);
    free(spool);
}

static int pcomm_spool_reserve(pcomm_spool *spool, size_t more)
{
    return pcomm__grow((void **)&spool->buf, &spool->cap, spool->len + more, 1);
}

int pcomm_spool_write(pcomm_spool *spool, const void *buf, size_t len)
{
    int r = pcomm_spool_reserve(spool, len);
    if (r < 0)
        return r;
    memcpy(spool->buf + spool->len, buf, len);
    spool->len += len;
    return 0;
}

ssize_t pcomm_spool_fill(pcomm_spool *spool, int fd, size_t max)
{
    int r = pcomm_spool_reserve(spool, max);
    if (r < 0)
        return r;
    ssize_t n = pcomm__read(fd, spool->buf + spool->len, max);
    if (n > 0)
        spool->len += (size_t)n;
    return n < 0 && n == -EWOULDBLOCK ? -EAGAIN : n;
}

uint64_t pcomm_spool_size(const pcomm_spool *spool)
{
    return spool ? spool->len : 0;
}

int pcomm_spool_view(pcomm_spool *spool, const void **datap, size_t *lenp)
{
    *datap = spool->buf ? spool->buf : "";
    *lenp = spool->len;
    return 0;
}

int pcomm_spool_tail_lines(const pcomm_spool *spool, size_t n, char **textp, size_t *lenp)
{
    size_t start = spool->len;
    if (start && spool->buf[start - 1] == '\n')
        start--;
    while (start > 0 && n > 0) {
        if (spool->buf[start - 1] == '\n' && --n == 0)
            break;
        start--;
    }
    size_t len = spool->len - start;
    char *text = malloc(len + 1);
    if (!text)
        return -ENOMEM;
    if (len)
        memcpy(text, spool->buf + start, len);
    text[len] = '\0';
    *textp = text;
    *lenp = len;
    return 0;
}
