/* bench_pty MODE ... - pty mode: throughput, line latency, start-up. Prints one number, higher
 * is better (the driver runs the variants round-robin and takes medians of per-round ratios).
 *
 *   tput raw-pipe|raw-pty|pcomm-pipe|pcomm-pty TOTAL CHILD...
 *       CHILD (pipe_writer TOTAL CHUNK) writes TOTAL bytes to stdout; MB/s read by the parent.
 *       raw-*: posix_spawn + poll + read(64 KiB) until EOF (pipe) or EIO (pty: posix_openpt,
 *       TIOCGPTPEER, OPOST/ECHO off; the recipe without pcomm), capturing into a doubling
 *       buffer. pcomm-*: pcomm_run capturing stdout (read straight into the spool), through a
 *       pipe or a pty: the same work, so the ratio is pcomm's overhead.
 *   latency raw-pty|pcomm-pty N INTERVAL_US
 *       The child (this program, "ticker") prints N lines through C stdio, each holding the
 *       CLOCK_MONOTONIC time just before its printf, INTERVAL_US apart; the parent takes the
 *       time each line reaches it (pcomm: the line callback; raw: the read). Prints
 *       1e6 / median latency in us (lines/s equivalent; 1000 = a 1 ms median).
 *   startup N CMD...
 *       Run CMD N times in a row (stdin and stdout /dev/null), print runs/s.
 *
 * PIN_PARENT=n pins this process. SPDX-License-Identifier: MIT */
#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <pcomm.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char **environ;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- raw baselines ------------------------------------------------------------------------- */

/* A pty the way pty.md §2 says, without pcomm: the child gets the slave on stdout. */
static int raw_pty(int *slave)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
        return -1;
    *slave = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct termios t;
    tcgetattr(*slave, &t);
    t.c_oflag &= ~(tcflag_t)OPOST;
    t.c_lflag &= ~(tcflag_t)(ECHO | ICANON | ISIG | IEXTEN);
    tcsetattr(*slave, TCSANOW, &t);
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    ioctl(m, TIOCSWINSZ, &ws);
    return m;
}

static pid_t raw_spawn(char **argv, bool pty, int *rd)
{
    int w;
    if (pty) {
        *rd = raw_pty(&w);
    } else {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            return -1;
        fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
        *rd = p[0];
        w = p[1];
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, w, 1);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, pty ? POSIX_SPAWN_SETSID : 0);
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], &fa, &at, argv, environ) != 0)
        return -1;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(w);
    return pid;
}

/* Read rd until EOF or EIO, 64 KiB at a time: into a doubling buffer (capture, the same work
 * as pcomm's spool), or into a fixed one handed to on_chunk. */
static long long raw_drain(int rd, void (*on_chunk)(const char *, size_t, int64_t))
{
    static char fixed[65536];
    size_t cap = 65536;
    char *buf = on_chunk ? fixed : malloc(cap);
    long long got = 0;
    for (;;) {
        struct pollfd pfd = {rd, POLLIN, 0};
        poll(&pfd, 1, -1);
        if (!on_chunk && (size_t)got + 65536 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = read(rd, on_chunk ? buf : buf + got, 65536);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break; /* EOF, or EIO: the end of a pty */
        if (on_chunk)
            on_chunk(buf, (size_t)n, now_ns());
        got += n;
    }
    if (!on_chunk)
        free(buf);
    return got;
}

/* ---- throughput ---------------------------------------------------------------------------- */

static int tput(const char *mode, long long total, char **child)
{
    bool pty = strstr(mode, "pty") != NULL;
    double t0 = bench_now();
    long long got;
    int status;
    if (!strncmp(mode, "raw-", 4)) {
        int rd;
        pid_t pid = raw_spawn(child, pty, &rd);
        if (pid < 0)
            return 2;
        got = raw_drain(rd, NULL);
        close(rd);
        waitpid(pid, &status, 0);
    } else {
        pcomm_cmd *cmd;
        pcomm_job *job;
        pcomm_cmd_new_argv(&cmd, (const char *const *)child);
        if (pty)
            pcomm_cmd_stdio_pty(cmd, 1, 0);
        pcomm_job_new(&job, cmd);
        pcomm_job_capture(job, PCOMM_STDOUT, SIZE_MAX);
        if (pcomm_run(job) < 0)
            return 2;
        got = (long long)pcomm_job_bytes(job, PCOMM_STDOUT);
        pcomm_job_free(job);
        pcomm_cmd_free(cmd);
    }
    double dt = bench_now() - t0;
    if (got != total) {
        fprintf(stderr, "bench_pty: read %lld of %lld bytes\n", got, total);
        return 1;
    }
    printf("%.1f\n", (double)total / dt / 1e6);
    return 0;
}

/* ---- latency ------------------------------------------------------------------------------- */

static int64_t lat_ns[100000];
static int lat_count;
static char partial[256];
static size_t partial_len;

static void take_line(const char *line, size_t len, int64_t at)
{
    long long sent;
    if (len && sscanf(line, "t %lld", &sent) == 1 && lat_count < 100000)
        lat_ns[lat_count++] = at - (int64_t)sent;
}

static void raw_lines(const char *data, size_t n, int64_t at)
{
    for (size_t i = 0; i < n; i++) {
        if (partial_len < sizeof partial - 1)
            partial[partial_len++] = data[i];
        if (data[i] == '\n') {
            partial[partial_len] = '\0';
            take_line(partial, partial_len, at);
            partial_len = 0;
        }
    }
}

static int on_line(void *userdata, const pcomm_line *line)
{
    (void)userdata;
    char buf[64];
    size_t n = line->len < sizeof buf - 1 ? line->len : sizeof buf - 1;
    memcpy(buf, line->data, n);
    buf[n] = '\0';
    take_line(buf, n, pcomm_now_ns()); /* when the callback runs, not when the read completed */
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int latency(const char *mode, const char *n, const char *interval_us, const char *self)
{
    char *child[] = {(char *)self, "ticker", (char *)n, (char *)interval_us, NULL};
    if (!strcmp(mode, "raw-pty")) {
        int rd, status;
        pid_t pid = raw_spawn(child, true, &rd);
        if (pid < 0)
            return 2;
        raw_drain(rd, raw_lines);
        close(rd);
        waitpid(pid, &status, 0);
    } else {
        pcomm_cmd *cmd;
        pcomm_job *job;
        pcomm_cmd_new_argv(&cmd, (const char *const *)child);
        pcomm_cmd_stdio_pty(cmd, 1, 0);
        pcomm_cmd_stdio_pty(cmd, 2, 1);
        pcomm_job_new(&job, cmd);
        pcomm_job_on_line(job, PCOMM_STDOUT, on_line, NULL, 0);
        if (pcomm_run(job) < 0)
            return 2;
        pcomm_job_free(job);
        pcomm_cmd_free(cmd);
    }
    if (lat_count != atoi(n)) {
        fprintf(stderr, "bench_pty: %d of %s lines\n", lat_count, n);
        return 1;
    }
    qsort(lat_ns, (size_t)lat_count, sizeof lat_ns[0], cmp_i64);
    double median_us = (double)lat_ns[lat_count / 2] / 1e3;
    fprintf(stderr, "median %.1f us, p90 %.1f us\n", median_us,
            (double)lat_ns[lat_count * 9 / 10] / 1e3);
    printf("%.1f\n", 1e6 / median_us);
    return 0;
}

static int ticker(int n, long interval_us)
{
    for (int i = 0; i < n; i++) {
        printf("t %lld line %d\n", (long long)now_ns(), i); /* stdio: line-buffered on a tty */
        struct timespec ts = {0, interval_us * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* ---- start-up ------------------------------------------------------------------------------ */

static int startup(int n, char **argv)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    double t0 = bench_now();
    for (int i = 0; i < n; i++) {
        pid_t pid;
        int status;
        if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
            return 2;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench_pty: %s failed\n", argv[0]);
            return 1;
        }
    }
    printf("%.1f\n", n / (bench_now() - t0));
    return 0;
}

int main(int argc, char **argv)
{
    bench_pin("PIN_PARENT");
    if (argc >= 4 && !strcmp(argv[1], "ticker"))
        return ticker(atoi(argv[2]), atol(argv[3]));
    if (argc >= 5 && !strcmp(argv[1], "tput"))
        return tput(argv[2], atoll(argv[3]), argv + 4);
    if (argc >= 5 && !strcmp(argv[1], "latency"))
        return latency(argv[2], argv[3], argv[4], argv[0]);
    if (argc >= 4 && !strcmp(argv[1], "startup"))
        return startup(atoi(argv[2]), argv + 3);
    fprintf(stderr, "usage: bench_pty tput|latency|startup ...\n");
    return 2;
}
