/* demos/ticker.c - a child that block-buffers into pipes, as most C programs do: it prints a
 * few lines through C stdio with a delay between them and never flushes.
 *
 *   demo-ticker [COUNT [MS]]      (default: 5 lines, 400 ms apart)
 *
 * Into a pipe its lines all arrive at its exit (compare `demo-ticker | cat`); on a terminal, or
 * through `pcomm -u`, each arrives when it is written:
 *
 *   pcomm -T demo-ticker          every line stamped about 2.0 s
 *   pcomm -u -T demo-ticker       0.0, 0.4, 0.8, 1.2, 1.6 s
 *
 * SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 5;
    long ms = argc > 2 ? atol(argv[2]) : 400;
    for (int i = 1; i <= count; i++) {
        printf("tick %d of %d\n", i, count);
        if (i < count) {
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}
