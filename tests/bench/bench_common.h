/* tests/bench/bench_common.h - shared bits of the benchmark programs: timing, pinning, a
 * touched heap. Every benchmark program prints one number (higher is better) on stdout; the
 * driver (driver.py) runs the variants round-robin and compares them. SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_BENCH_COMMON_H
#define PCOMM_BENCH_COMMON_H

#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Allocate and touch mib MiB, as a big host process would have (never freed). */
static inline void bench_touch_heap(long mib)
{
    if (mib <= 0)
        return;
    size_t len = (size_t)mib << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    madvise(p, len, MADV_NOHUGEPAGE); /* 4 KiB pages: the page-table copy fork pays for */
    for (size_t i = 0; i < len; i += 4096)
        p[i] = 1;
}

/* Pin this process to the CPU in environment variable name, if set. */
static inline void bench_pin(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(atoi(v), &set);
    sched_setaffinity(0, sizeof set, &set);
}

#endif
