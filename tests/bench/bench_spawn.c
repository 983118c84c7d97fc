/* bench_spawn MODE N HEAP_MIB CHILD [ARG]... - spawn + wait N times, print spawns per second.
 *   pcomm        pcomm_spawn + pcomm_proc_wait + pcomm_proc_free
 *   posix_spawn  raw posix_spawn + waitpid (the baseline)
 *   fork         fork + execv + waitpid (what fork-based libraries pay)
 * HEAP_MIB MiB of touched heap are allocated first. SPDX-License-Identifier: MIT */
#include "bench_common.h"

#include <pcomm.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int once(const char *mode, char **argv, pcomm_cmd *cmd)
{
    pid_t pid;
    int status;
    if (!strcmp(mode, "pcomm")) {
        pcomm_proc *proc;
        if (pcomm_spawn(cmd, &proc) < 0 || pcomm_proc_wait(proc, -1) < 0)
            return -1;
        pcomm_proc_free(proc);
        return 0;
    }
    if (!strcmp(mode, "posix_spawn")) {
        if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
            return -1;
    } else {
        pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            execv(argv[0], argv);
            _exit(127);
        }
    }
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_spawn pcomm|posix_spawn|fork N HEAP_MIB CHILD [ARG]...\n");
        return 2;
    }
    const char *mode = argv[1];
    long n = atol(argv[2]);
    bench_touch_heap(atol(argv[3]));
    pcomm_cmd *cmd;
    if (pcomm_cmd_new_argv(&cmd, (const char *const *)argv + 4) < 0)
        return 2;
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        if (once(mode, argv + 4, cmd) < 0) {
            fprintf(stderr, "bench_spawn: %s failed\n", mode);
            return 1;
        }
    printf("%.1f\n", (double)n / (bench_now() - t0));
    pcomm_cmd_free(cmd);
    return 0;
}
