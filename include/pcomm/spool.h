/* pcomm/spool.h - TEMPORARY in-memory stand-in for pcomm_spool (issue 4 replaces this file).
 * Part of libpcomm. SPDX-License-Identifier: MIT */
#ifndef PCOMM_SPOOL_H
#define PCOMM_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pcomm_spool pcomm_spool;

PCOMM_API int pcomm_spool_new(pcomm_spool **spoolp, size_t mem_threshold);
PCOMM_API void pcomm_spool_free(pcomm_spool *spool);
PCOMM_API int pcomm_spool_write(pcomm_spool *spool, const void *buf, size_t len);
PCOMM_API ssize_t pcomm_spool_fill(pcomm_spool *spool, int fd, size_t max);
PCOMM_API uint64_t pcomm_spool_size(const pcomm_spool *spool);
PCOMM_API int pcomm_spool_view(pcomm_spool *spool, const void **datap, size_t *lenp);
PCOMM_API int pcomm_spool_tail_lines(const pcomm_spool *spool, size_t n, char **textp,
                                     size_t *lenp);

#ifdef __cplusplus
}
#endif

#endif
