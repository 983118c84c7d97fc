/* raw_bz2 c|d LEVEL FILE LIMIT - libbz2's own streaming loop, the baseline of the bzip2 filter
 * (see bench_codec.h). SPDX-License-Identifier: MIT */
#include "bench_codec.h"

#include <bzlib.h>

static long long bench_run(const struct bench_args *a)
{
    bz_stream bs = {0};
    int r = a->compress ? BZ2_bzCompressInit(&bs, a->level, 0, 0) : BZ2_bzDecompressInit(&bs, 0, 0);
    if (r != BZ_OK)
        return -1;
    size_t off = 0;
    long long total = 0;
    do {
        size_t n = a->len - off < BENCH_PIECE ? a->len - off : BENCH_PIECE;
        bs.next_in = (char *)a->data + off;
        bs.avail_in = (unsigned)n;
        off += n;
        int action = off == a->len ? BZ_FINISH : BZ_RUN;
        do {
            bs.next_out = (char *)bench_sink;
            bs.avail_out = BENCH_PIECE;
            r = a->compress ? BZ2_bzCompress(&bs, action) : BZ2_bzDecompress(&bs);
            if (r < 0)
                return -1;
            if (!a->compress)
                total += BENCH_PIECE - bs.avail_out;
        } while (r != BZ_STREAM_END &&
                 (bs.avail_out == 0 || bs.avail_in > 0 || (a->compress && action == BZ_FINISH)));
    } while (off < a->len);
    if (a->compress) {
        total = (long long)bs.total_in_lo32 + ((long long)bs.total_in_hi32 << 32);
        BZ2_bzCompressEnd(&bs);
    } else {
        BZ2_bzDecompressEnd(&bs);
    }
    return r == BZ_STREAM_END ? total : -1;
}
