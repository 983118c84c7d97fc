/* tests/bench/bench_codec.h - shared frame of the compression benchmarks (raw_<lib>.c and
 * bench_filter.c): read FILE (the first LIMIT bytes) into memory before timing, run one
 * streaming loop that feeds 64 KiB input pieces and drains a 64 KiB output buffer (output
 * discarded), and print MB/s (10^6 B/s) of *uncompressed* bytes. As perf.md section 4's zbench.
 *
 *   PROG c|d LEVEL FILE LIMIT [THREADS]
 *
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_BENCH_CODEC_H
#define PCOMM_BENCH_CODEC_H

#include "bench_common.h"

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#define BENCH_PIECE 65536

struct bench_args {
    int compress, level, threads;
    unsigned char *data;
    size_t len;
};

/* The one function each program defines: run the loop over a->data, return the number of
 * uncompressed bytes (consumed when compressing, produced when decompressing), or -1. */
static long long bench_run(const struct bench_args *a);

static unsigned char bench_sink[BENCH_PIECE];

/* A program that defines BENCH_CODEC_ARG takes one more leading argument, handed to it. */
#ifdef BENCH_CODEC_ARG
static int bench_codec_arg(const char *arg);
#endif

int main(int argc, char **argv)
{
#ifdef BENCH_CODEC_ARG
    if (argc < 2 || bench_codec_arg(argv[1]) < 0) {
        fprintf(stderr, "usage: %s CODEC c|d LEVEL FILE LIMIT [THREADS]\n", argv[0]);
        return 2;
    }
    argc--;
    argv++;
#endif
    if (argc < 5) {
        fprintf(stderr, "usage: %s c|d LEVEL FILE LIMIT [THREADS]\n", argv[0]);
        return 2;
    }
    struct bench_args a = {argv[1][0] == 'c', atoi(argv[2]), argc > 5 ? atoi(argv[5]) : 1, NULL, 0};
    size_t limit = strtoull(argv[4], NULL, 10);
    int fd = open(argv[3], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(argv[3]);
        return 2;
    }
    a.data = malloc(limit ? limit : 1);
    while (a.data && a.len < limit) {
        ssize_t n = read(fd, a.data + a.len, limit - a.len);
        if (n <= 0)
            break;
        a.len += (size_t)n;
    }
    close(fd);
    double t0 = bench_now();
    long long bytes = bench_run(&a);
    double t = bench_now() - t0;
    if (bytes < 0) {
        fprintf(stderr, "%s: failed\n", argv[0]);
        return 1;
    }
    printf("%.2f\n", (double)bytes / t / 1e6);
    free(a.data);
    return 0;
}

#endif
