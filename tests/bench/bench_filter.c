/* bench_filter CODEC c|d LEVEL FILE LIMIT [THREADS] - the same streaming loop as raw_<lib>.c
 * through pcomm_filter: 64 KiB input pieces, a 64 KiB output buffer (see bench_codec.h).
 * SPDX-License-Identifier: MIT */
#define BENCH_CODEC_ARG
#include "bench_codec.h"

#include <pcomm.h>

static int bench_codec;

static int bench_codec_arg(const char *arg)
{
    bench_codec = pcomm_codec_from_name(arg);
    return bench_codec;
}

static long long bench_run(const struct bench_args *a)
{
    pcomm_filter *f;
    int r = a->compress ? pcomm_filter_new_encoder(&f, bench_codec, a->level)
                        : pcomm_filter_new_decoder(&f, bench_codec);
    if (r == 0 && a->compress && a->threads != 1)
        r = pcomm_filter_set_threads(f, a->threads);
    if (r < 0)
        return -1;
    size_t off = 0;
    do {
        size_t n = a->len - off < BENCH_PIECE ? a->len - off : BENCH_PIECE, used = 0;
        int mode = off + n == a->len ? PCOMM_FILTER_FINISH : PCOMM_FILTER_RUN;
        do {
            size_t il = n - used, ol = BENCH_PIECE;
            r = pcomm_filter_process(f, a->data + off + used, &il, bench_sink, &ol, mode);
            used += il;
        } while (r == PCOMM_FILTER_MORE && (used < n || mode == PCOMM_FILTER_FINISH));
        off += n;
    } while (r == PCOMM_FILTER_MORE && off < a->len);
    long long total =
        (long long)(a->compress ? pcomm_filter_total_in(f) : pcomm_filter_total_out(f));
    if (r != PCOMM_FILTER_END)
        fprintf(stderr, "bench_filter: %d %s\n", r, pcomm_filter_message(f));
    pcomm_filter_free(f);
    return r == PCOMM_FILTER_END ? total : -1;
}
