/* raw_xz c|d LEVEL FILE LIMIT [THREADS] - liblzma's own streaming loop (easy encoder, or the
 * multithreaded encoder for THREADS > 1; single-threaded stream decoder), the baseline of the
 * xz filter (see bench_codec.h). SPDX-License-Identifier: MIT */
#include "bench_codec.h"

#include <lzma.h>

static long long bench_run(const struct bench_args *a)
{
    lzma_stream ls = LZMA_STREAM_INIT;
    lzma_mt mt = {
        .threads = (uint32_t)a->threads, .preset = (uint32_t)a->level, .check = LZMA_CHECK_CRC64};
    lzma_ret r = !a->compress     ? lzma_stream_decoder(&ls, UINT64_MAX, 0)
                 : a->threads > 1 ? lzma_stream_encoder_mt(&ls, &mt)
                                  : lzma_easy_encoder(&ls, (uint32_t)a->level, LZMA_CHECK_CRC64);
    if (r != LZMA_OK)
        return -1;
    size_t off = 0;
    long long total = 0;
    do {
        size_t n = a->len - off < BENCH_PIECE ? a->len - off : BENCH_PIECE;
        ls.next_in = a->data + off;
        ls.avail_in = n;
        off += n;
        lzma_action action = a->compress && off == a->len ? LZMA_FINISH : LZMA_RUN;
        do {
            ls.next_out = bench_sink;
            ls.avail_out = BENCH_PIECE;
            r = lzma_code(&ls, action);
            if (r != LZMA_OK && r != LZMA_STREAM_END)
                return -1;
            if (!a->compress)
                total += BENCH_PIECE - ls.avail_out;
        } while (r != LZMA_STREAM_END &&
                 (ls.avail_out == 0 || ls.avail_in > 0 || action == LZMA_FINISH));
    } while (off < a->len);
    if (a->compress)
        total = (long long)ls.total_in;
    lzma_end(&ls);
    return r == LZMA_STREAM_END ? total : -1;
}
