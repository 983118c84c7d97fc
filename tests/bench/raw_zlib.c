/* raw_zlib c|d LEVEL FILE LIMIT - zlib's own deflate/inflate streaming loop (gzip wrapper),
 * the baseline of the gzip filter (see bench_codec.h). SPDX-License-Identifier: MIT */
#include "bench_codec.h"

#include <zlib.h>

static long long bench_run(const struct bench_args *a)
{
    z_stream zs = {0};
    int r = a->compress ? deflateInit2(&zs, a->level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY)
                        : inflateInit2(&zs, 31);
    if (r != Z_OK)
        return -1;
    size_t off = 0;
    long long total = 0;
    do {
        size_t n = a->len - off < BENCH_PIECE ? a->len - off : BENCH_PIECE;
        zs.next_in = a->data + off;
        zs.avail_in = (unsigned)n;
        off += n;
        int flush = a->compress && off == a->len ? Z_FINISH : Z_NO_FLUSH;
        do {
            zs.next_out = bench_sink;
            zs.avail_out = BENCH_PIECE;
            r = a->compress ? deflate(&zs, flush) : inflate(&zs, Z_NO_FLUSH);
            if (r == Z_STREAM_END && !a->compress && zs.avail_in)
                r = inflateReset(&zs); /* the next member */
            if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
                return -1;
            if (!a->compress)
                total += BENCH_PIECE - zs.avail_out;
        } while (zs.avail_out == 0 || zs.avail_in > 0);
    } while (off < a->len);
    if (a->compress) {
        total = (long long)zs.total_in;
        deflateEnd(&zs);
    } else {
        inflateEnd(&zs);
    }
    return r == Z_STREAM_END ? total : -1;
}
