/* lib/spool_private.h - the inside of pcomm_spool, shared by spool.c (storing) and
 * spool_read.c (reading back). SPDX-License-Identifier: MIT
 *
 * Layout. The kept bytes live in one "store": a memory buffer before the spill, the temp file
 * after it (the memory is copied into the file at the spill and freed). Store offsets:
 *   [0, head_max)                 the head, written once, in stream order;
 *   [head_max, head_max + tail)   the tail ring (capped spools only), slot s at head_max + s.
 * An uncapped spool is a spool with head_max = UINT64_MAX: everything is head. The ring fills
 * in order (ring_start stays 0) until it is full; after that each new byte overwrites the oldest
 * one at ring_start, which advances. So the store never holds more than head + tail bytes, and
 * `len` (store bytes in use) is always the number of kept bytes; total - len were dropped.
 */
#ifndef PCOMM_SPOOL_PRIVATE_H
#define PCOMM_SPOOL_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcomm/spool.h"

/* The bounce buffer for reads that cannot go straight into the store. */
#define PCOMM__SPOOL_BOUNCE (64 * 1024)

struct pcomm_spool {
    size_t threshold; /* bytes allowed in memory */
    char *dir;        /* spill directory, NULL = $TMPDIR or /tmp */
    bool xfsz_guard;  /* RLIMIT_FSIZE was finite at the spill: guard file writes */

    unsigned char *mem; /* the store before the spill */
    size_t mem_cap;
    int fd; /* the store after the spill, -1 before */

    uint64_t len;   /* kept bytes (= store bytes in use) */
    uint64_t total; /* bytes ever accepted */
    int err;        /* sticky storage error, 0 if none */

    bool capped;
    uint64_t head_max;   /* UINT64_MAX when not capped */
    uint64_t tail_max;   /* ring size */
    uint64_t ring_start; /* slot of the oldest kept tail byte (0 until the ring wrapped) */

    uint64_t rpos; /* pcomm_spool_read() position */

    void *view;      /* current mapping from pcomm_spool_view(), or NULL */
    size_t view_len; /* its length (for munmap) */
    unsigned char *bounce;
};

/* Kept bytes that live in the head / in the ring. */
static inline uint64_t pcomm__spool_head_len(const struct pcomm_spool *s)
{
    return s->len < s->head_max ? s->len : s->head_max;
}

static inline uint64_t pcomm__spool_ring_len(const struct pcomm_spool *s)
{
    return s->len - pcomm__spool_head_len(s);
}

/* Where kept offset `off` (< len) lives in the store, and how many kept bytes from there on are
 * contiguous in the store. */
static inline uint64_t pcomm__spool_locate(const struct pcomm_spool *s, uint64_t off,
                                           uint64_t *runp)
{
    uint64_t head = pcomm__spool_head_len(s);
    if (off < head) {
        *runp = head - off;
        return off;
    }
    uint64_t j = off - head, slot = s->ring_start + j;
    if (slot >= s->tail_max)
        slot -= s->tail_max;
    uint64_t to_end = s->tail_max - slot, left = pcomm__spool_ring_len(s) - j;
    *runp = left < to_end ? left : to_end;
    return s->head_max + slot;
}

/* Drop the current view (next write, fill, take, view or free). */
void pcomm__spool_drop_view(struct pcomm_spool *s);

#endif /* PCOMM_SPOOL_PRIVATE_H */
