/* raw_spool MODE ... - the raw system-call baselines for the spool benchmarks (and the pipe
 * writer they read from). Prints one number: GB/s, or with rss_ modes the peak RSS growth in MiB.
 *   writer TOTAL CHUNK       write TOTAL bytes of 80-byte text lines to stdout, CHUNK at a time
 *   mem TOTAL CHUNK          append TOTAL bytes to a doubling realloc'd buffer, CHUNK at a time
 *   file TOTAL CHUNK         write() TOTAL bytes to an O_TMPFILE in $TMPDIR or /tmp
 *   splice TOTAL WRITER      spawn "WRITER writer TOTAL 131072" on a 1 MiB pipe and splice it
 *                            into an O_TMPFILE, 1 MiB per call, until EOF
 *   rss_splice TOTAL WRITER  the same, printing the peak RSS growth
 * PIN_WRITER / PIN_READER pin the two processes. SPDX-License-Identifier: MIT */
#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void fill_lines(char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = i % 80 == 79 ? '\n' : (char)('a' + (i * 7 + i / 80) % 26);
}

static int writer(long long total, size_t chunk)
{
    bench_pin("PIN_WRITER");
    chunk -= chunk % 80;
    char *buf = malloc(chunk);
    if (!buf)
        die("malloc");
    fill_lines(buf, chunk);
    while (total > 0) {
        size_t k = (long long)chunk < total ? chunk : (size_t)total;
        ssize_t n = write(1, buf, k);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("write");
        total -= n;
    }
    return 0;
}

/* An unnamed temp file where the spool would put it. */
static int open_tmpfile(void)
{
    const char *dir = getenv("TMPDIR");
    int fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        die("O_TMPFILE");
    return fd;
}

static double mem(long long total, size_t chunk)
{
    char *src = malloc(chunk), *buf = NULL;
    fill_lines(src, chunk);
    size_t len = 0, cap = 0;
    double t0 = bench_now();
    for (long long done = 0; done < total; done += (long long)chunk) {
        if (len + chunk > cap) {
            cap = cap ? cap * 2 : 4096;
            while (cap < len + chunk)
                cap *= 2;
            if (!(buf = realloc(buf, cap)))
                die("realloc");
        }
        memcpy(buf + len, src, chunk);
        len += chunk;
    }
    double t = bench_now() - t0;
    if (buf[len - 1] != src[chunk - 1])
        die("check");
    return (double)total / t / 1e9;
}

static double file(long long total, size_t chunk)
{
    char *src = malloc(chunk);
    fill_lines(src, chunk);
    double t0 = bench_now();
    int fd = open_tmpfile();
    for (long long done = 0; done < total; done += (long long)chunk)
        if (write(fd, src, chunk) != (ssize_t)chunk)
            die("write");
    double t = bench_now() - t0;
    close(fd);
    return (double)total / t / 1e9;
}

/* Spawn the writer on a 1 MiB pipe; returns the read end. */
static int spawn_writer(const char *self, long long total, pid_t *pid)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe2");
    fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    char n[32];
    snprintf(n, sizeof n, "%lld", total);
    char *argv[] = {(char *)self, "writer", n, "131072", NULL};
    if (posix_spawn(pid, self, &fa, NULL, argv, environ) != 0)
        die("posix_spawn");
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    return p[0];
}

static double splice_loop(long long total, const char *self)
{
    bench_pin("PIN_READER");
    double t0 = bench_now();
    pid_t pid;
    int in = spawn_writer(self, total, &pid);
    int fd = open_tmpfile();
    long long got = 0;
    for (;;) {
        ssize_t n = splice(in, NULL, fd, NULL, 1 << 20, SPLICE_F_MOVE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("splice");
        if (n == 0)
            break;
        got += n;
    }
    int status;
    waitpid(pid, &status, 0);
    double t = bench_now() - t0;
    if (got != total)
        die("short");
    close(in);
    close(fd);
    return (double)total / t / 1e9;
}

static long rss_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field)))
            v = atol(line + strlen(field));
    if (f)
        fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: raw_spool writer|mem|file|splice|rss_splice TOTAL CHUNK|WRITER\n");
        return 2;
    }
    const char *mode = argv[1];
    long long total = atoll(argv[2]);
    if (!strcmp(mode, "writer"))
        return writer(total, (size_t)atol(argv[3]));
    long base = rss_kib("VmHWM:");
    double r;
    if (!strcmp(mode, "mem"))
        r = mem(total, (size_t)atol(argv[3]));
    else if (!strcmp(mode, "file"))
        r = file(total, (size_t)atol(argv[3]));
    else if (!strcmp(mode, "splice") || !strcmp(mode, "rss_splice"))
        r = splice_loop(total, argv[3]);
    else
        return 2;
    /* VmHWM, this process image's own peak: ru_maxrss would also count the RSS of the parent
     * that forked us, kept across exec (Python's subprocess, about 12 MiB). */
    if (!strncmp(mode, "rss_", 4))
        r = (double)(rss_kib("VmHWM:") - base) / 1024.0;
    printf("%.4f\n", r);
    return 0;
}
