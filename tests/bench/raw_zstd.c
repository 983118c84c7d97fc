/* raw_zstd c|d LEVEL FILE LIMIT [THREADS] - libzstd's own streaming loop (compressStream2 with
 * nbWorkers = THREADS when > 1, a content checksum as zstd(1) writes; decompressStream), the
 * baseline of the zstd filter (see bench_codec.h). SPDX-License-Identifier: MIT */
#include "bench_codec.h"

#include <zstd.h>

static long long bench_run(const struct bench_args *a)
{
    ZSTD_CCtx *c = NULL;
    ZSTD_DCtx *d = NULL;
    if (a->compress) {
        c = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, a->level);
        ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
        if (a->threads > 1 && ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, a->threads)))
            return -1;
    } else {
        d = ZSTD_createDCtx();
    }
    size_t off = 0, r = 0;
    long long total = 0;
    do {
        size_t n = a->len - off < BENCH_PIECE ? a->len - off : BENCH_PIECE;
        ZSTD_inBuffer in = {a->data + off, n, 0};
        off += n;
        ZSTD_EndDirective op = off == a->len ? ZSTD_e_end : ZSTD_e_continue;
        int more;
        do {
            ZSTD_outBuffer out = {bench_sink, BENCH_PIECE, 0};
            r = a->compress ? ZSTD_compressStream2(c, &out, &in, op)
                            : ZSTD_decompressStream(d, &out, &in);
            if (ZSTD_isError(r))
                return -1;
            if (!a->compress)
                total += (long long)out.pos;
            /* Compressing at the end: until all is flushed (r == 0). Otherwise while input
             * is left, or the output filled up before the frame ended. */
            more = in.pos < in.size ||
                   (a->compress ? op == ZSTD_e_end && r : out.pos == out.size && r);
        } while (more);
    } while (off < a->len);
    if (a->compress)
        total = (long long)a->len;
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
    return r == 0 ? total : -1;
}
