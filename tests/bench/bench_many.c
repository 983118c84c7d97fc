/* bench_many MODE N - N children that each print one line and exit; print children per second.
 *   pcomm-loop   all N started at once as jobs on one pcomm_loop, stdout captured
 *   raw-seq      N sequential raw posix_spawn + read + waitpid (the baseline)
 * The child is /bin/echo. SPDX-License-Identifier: MIT */
#include "bench_common.h"

#include <fcntl.h>
#include <pcomm.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int raw_one(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    char *argv[] = {"/bin/echo", "hello", NULL};
    pid_t pid;
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        return -1;
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    char buf[64];
    ssize_t n = read(p[0], buf, sizeof buf);
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    return n == 6 ? 0 : -1;
}

static int pcomm_many(long n)
{
    const char *argv[] = {"/bin/echo", "hello", NULL};
    pcomm_cmd *cmd;
    pcomm_loop *loop;
    pcomm_job **jobs = calloc((size_t)n, sizeof *jobs);
    if (pcomm_cmd_new_argv(&cmd, argv) < 0 || pcomm_loop_new(&loop) < 0)
        return -1;
    for (long i = 0; i < n; i++)
        if (pcomm_job_new(&jobs[i], cmd) < 0 || pcomm_job_capture(jobs[i], 1, 4096) < 0 ||
            pcomm_job_start(jobs[i], loop) < 0)
            return -1;
    if (pcomm_loop_run(loop, -1) < 0)
        return -1;
    int bad = 0;
    for (long i = 0; i < n; i++) {
        bad += pcomm_job_bytes(jobs[i], 1) != 6;
        pcomm_job_free(jobs[i]);
    }
    free(jobs);
    pcomm_loop_free(loop);
    pcomm_cmd_free(cmd);
    return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    long n = atol(argv[2]);
    struct rlimit rl; /* 3 descriptors per child at once */
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    double t0 = bench_now();
    int r = 0;
    if (!strcmp(argv[1], "pcomm-loop"))
        r = pcomm_many(n);
    else
        for (long i = 0; i < n && r == 0; i++)
            r = raw_one();
    double dt = bench_now() - t0;
    if (r < 0) {
        fprintf(stderr, "bench_many %s failed\n", argv[1]);
        return 1;
    }
    printf("%.1f\n", (double)n / dt);
    return 0;
}
