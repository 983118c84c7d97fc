/* raw_isal d 0 FILE LIMIT - ISA-L's isal_inflate streaming loop over a gzip file (members one
 * after another), to measure what an igzip-backed gzip decoder could reach behind the same
 * filter (see bench_codec.h; built only when libisal is installed). SPDX-License-Identifier: MIT
 */
#include "bench_codec.h"

#include <isa-l/igzip_lib.h>

static struct inflate_state bench_state; /* large: keep it off the stack */

static long long bench_run(const struct bench_args *a)
{
    if (a->compress)
        return -1;
    struct inflate_state *st = &bench_state;
    isal_inflate_init(st);
    st->crc_flag = ISAL_GZIP;
    size_t off = 0;
    long long total = 0;
    do {
        size_t n = a->len - off < BENCH_PIECE ? a->len - off : BENCH_PIECE;
        st->next_in = a->data + off;
        st->avail_in = (uint32_t)n;
        off += n;
        do {
            st->next_out = bench_sink;
            st->avail_out = BENCH_PIECE;
            if (isal_inflate(st) < 0)
                return -1;
            total += BENCH_PIECE - st->avail_out;
            if (st->block_state == ISAL_BLOCK_FINISH && st->avail_in) { /* the next member */
                uint8_t *next = st->next_in;
                uint32_t left = st->avail_in;
                isal_inflate_reset(st);
                st->crc_flag = ISAL_GZIP;
                st->next_in = next;
                st->avail_in = left;
            }
        } while (st->avail_out == 0 || st->avail_in > 0);
    } while (off < a->len);
    return st->block_state == ISAL_BLOCK_FINISH ? total : -1;
}
