/* bench_capture MODE TOTAL CHILD... - a child writes TOTAL bytes to stdout; print GB/s.
 *   pcomm-mem    pcomm_run capturing stdout into a spool kept in memory
 *   raw-mem      raw posix_spawn + poll + read into a doubling buffer (perf.md PC4 baseline)
 *   pcomm-file   pcomm_run forwarding stdout to a file (spliced)
 *   raw-splice   raw posix_spawn + splice loop pipe -> file, 1 MiB pipe (perf.md PC3 baseline)
 * The file goes to $BENCH_DIR (default /tmp). PIN_PARENT=n pins this process; the driver pins
 * the child with taskset in CHILD. SPDX-License-Identifier: MIT */
#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <pcomm.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int tmpfile_in_dir(void)
{
    const char *dir = getenv("BENCH_DIR");
    return open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}

static pid_t spawn_writer(char **argv, int *rd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        return -1;
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    *rd = p[0];
    return pid;
}

static long long raw(const char *mode, char **argv)
{
    int rd;
    pid_t pid = spawn_writer(argv, &rd);
    long long got = 0;
    if (!strcmp(mode, "raw-mem")) {
        size_t cap = 1 << 16;
        char *buf = malloc(cap);
        fcntl(rd, F_SETFL, O_NONBLOCK);
        struct pollfd pfd = {rd, POLLIN, 0};
        for (;;) {
            if ((size_t)got + 65536 > cap)
                buf = realloc(buf, cap *= 2);
            ssize_t n = read(rd, buf + got, 65536);
            if (n == 0)
                break;
            if (n < 0 && errno == EAGAIN) {
                poll(&pfd, 1, -1);
                continue;
            }
            if (n < 0)
                return -1;
            got += n;
        }
        free(buf);
    } else {
        int out = tmpfile_in_dir();
        ssize_t n;
        while ((n = splice(rd, NULL, out, NULL, 1 << 20, SPLICE_F_MOVE)) > 0)
            got += n;
        close(out);
    }
    close(rd);
    int st;
    waitpid(pid, &st, 0);
    return got;
}

static long long with_pcomm(const char *mode, char **argv)
{
    pcomm_cmd *cmd;
    pcomm_job *job;
    int out = -1;
    if (pcomm_cmd_new_argv(&cmd, (const char *const *)argv) < 0 || pcomm_job_new(&job, cmd) < 0)
        return -1;
    if (!strcmp(mode, "pcomm-mem")) {
        pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX);
    } else {
        out = tmpfile_in_dir();
        pcomm_job_forward(job, PCOMM_STDOUT, out);
    }
    if (pcomm_run(job) < 0)
        return -1;
    long long got = (long long)pcomm_job_bytes(job, PCOMM_STDOUT);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
    if (out >= 0)
        close(out);
    return got;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    bench_pin("PIN_PARENT");
    long long total = atoll(argv[2]);
    double t0 = bench_now();
    long long got =
        strncmp(argv[1], "raw", 3) ? with_pcomm(argv[1], argv + 3) : raw(argv[1], argv + 3);
    double dt = bench_now() - t0;
    if (got != total) {
        fprintf(stderr, "bench_capture %s: %lld of %lld bytes\n", argv[1], got, total);
        return 1;
    }
    printf("%.4f\n", (double)total / dt / 1e9);
    return 0;
}
