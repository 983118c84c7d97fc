/* bench_spawn_libpipeline N HEAP_MIB CHILD - the same loop through libpipeline (a fork-based
 * peer; bench only, never linked into pcomm). SPDX-License-Identifier: MIT */
#include "bench_common.h"

#include <pipeline.h>

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    long n = atol(argv[1]);
    bench_touch_heap(atol(argv[2]));
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        pipeline *p = pipeline_new_command_args(argv[3], (char *)NULL);
        if (pipeline_run(p) != 0)
            return 1;
    }
    printf("%.1f\n", (double)n / (bench_now() - t0));
    return 0;
}
