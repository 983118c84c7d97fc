/* pipe_writer TOTAL [CHUNK] - write TOTAL bytes of 80-byte text lines to stdout in CHUNK-byte
 * writes (default 64 KiB): the generated input of the throughput benchmarks (never a cold file).
 * SPDX-License-Identifier: MIT */
#include "bench_common.h"

#include <errno.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    long long total = atoll(argv[1]);
    size_t chunk = argc > 2 ? (size_t)atol(argv[2]) : 65536;
    char *buf = malloc(chunk);
    for (size_t i = 0; i < chunk; i++)
        buf[i] = i % 80 == 79 ? '\n' : (char)('a' + i % 26);
    while (total > 0) {
        size_t n = (long long)chunk < total ? chunk : (size_t)total;
        ssize_t w = write(1, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 1;
        total -= w;
    }
    return 0;
}
