/* bench_comm MODE TOTAL CHILD... - feed TOTAL bytes to CHILD (cat) while draining its stdout and
 * stderr at once; print GB/s of input.
 *   pcomm-discard / pcomm-capture   pcomm_run, stdout to /dev/null / into a memory spool
 *   raw-discard / raw-capture       raw posix_spawn + poll loop, 256 KiB chunks, 1 MiB pipes
 *                                   (perf.md CM1 / CM2 baselines)
 * The input buffer is built before the clock starts. PIN_PARENT=n pins this process.
 * SPDX-License-Identifier: MIT */
#include "bench_common.h"

#include <stdbool.h>

#include <errno.h>
#include <fcntl.h>
#include <pcomm.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum { CHUNK = 256 * 1024 };

struct sink {
    int fd;
    char *buf;
    size_t len, cap;
    bool keep;
};

static int drain(struct sink *s, char *scratch)
{
    if (s->keep && s->len + CHUNK > s->cap)
        s->buf = realloc(s->buf, s->cap = s->cap ? s->cap * 2 : 1 << 20);
    ssize_t n = read(s->fd, s->keep ? s->buf + s->len : scratch, CHUNK);
    if (n > 0 && s->keep)
        s->len += (size_t)n;
    if (n == 0) {
        close(s->fd);
        s->fd = -1;
    }
    return n < 0 && errno != EAGAIN ? -1 : 0;
}

static long long raw(bool keep, const char *input, long long total, char **argv)
{
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        return -1;
    close(in[0]);
    close(out[1]);
    close(err[1]);
    int fds[3] = {in[1], out[0], err[0]};
    for (int i = 0; i < 3; i++) {
        fcntl(fds[i], F_SETPIPE_SZ, 1 << 20);
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
    }
    struct sink o = {out[0], NULL, 0, 0, keep}, e = {err[0], NULL, 0, 0, keep};
    static char scratch[CHUNK];
    long long off = 0;
    int w = in[1];
    while (w >= 0 || o.fd >= 0 || e.fd >= 0) {
        struct pollfd p[3] = {{w, POLLOUT, 0}, {o.fd, POLLIN, 0}, {e.fd, POLLIN, 0}};
        poll(p, 3, -1);
        if (w >= 0 && p[0].revents) {
            ssize_t n = write(w, input + off, total - off < CHUNK ? (size_t)(total - off) : CHUNK);
            if (n > 0)
                off += n;
            if (off == total || (n < 0 && errno != EAGAIN)) {
                close(w);
                w = -1;
            }
        }
        if ((o.fd >= 0 && p[1].revents && drain(&o, scratch) < 0) ||
            (e.fd >= 0 && p[2].revents && drain(&e, scratch) < 0))
            return -1;
    }
    int st;
    waitpid(pid, &st, 0);
    free(o.buf);
    free(e.buf);
    return off;
}

static long long with_pcomm(bool keep, const char *input, long long total, char **argv)
{
    pcomm_cmd *cmd;
    pcomm_job *job;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (pcomm_cmd_new_argv(&cmd, (const char *const *)argv) < 0 || pcomm_job_new(&job, cmd) < 0)
        return -1;
    pcomm_job_input_bytes(job, input, (size_t)total);
    if (keep)
        pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX);
    else
        pcomm_job_forward(job, PCOMM_STDOUT, null);
    pcomm_job_capture(job, PCOMM_STDERR, SIZE_MAX);
    if (pcomm_run(job) < 0)
        return -1;
    long long got = (long long)pcomm_job_bytes(job, PCOMM_STDOUT);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);
    close(null);
    return got;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    bench_pin("PIN_PARENT");
    long long total = atoll(argv[2]);
    char *input = malloc((size_t)total);
    for (long long i = 0; i < total; i++)
        input[i] = i % 80 == 79 ? '\n' : (char)('a' + i % 26);
    bool keep = strstr(argv[1], "capture") != NULL;
    double t0 = bench_now();
    long long got = strncmp(argv[1], "raw", 3) ? with_pcomm(keep, input, total, argv + 3)
                                               : raw(keep, input, total, argv + 3);
    double dt = bench_now() - t0;
    if (got != total) {
        fprintf(stderr, "bench_comm %s: %lld of %lld bytes\n", argv[1], got, total);
        return 1;
    }
    printf("%.4f\n", (double)total / dt / 1e9);
    return 0;
}
