/* bench_spool MODE ... - pcomm_spool throughput and memory, against raw_spool's baselines.
 * Prints one number: GB/s, or with rss_ modes the peak RSS growth in MiB.
 *   mem TOTAL CHUNK             pcomm_spool_write TOTAL bytes, CHUNK at a time, never spilling
 *   file TOTAL CHUNK            the same into a spool that spills at the first byte
 *   splice TOTAL WRITER         spawn "WRITER writer TOTAL 131072" (raw_spool) on a 1 MiB pipe and
 *                               pcomm_spool_fill a spool with a 1 MiB threshold until EOF
 *   rss_splice TOTAL WRITER     the same, printing the peak RSS growth over the process's start
 * PIN_READER pins this process (the writer reads PIN_WRITER). SPDX-License-Identifier: MIT */
#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <pcomm.h>
#include <unistd.h>

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_spool: %s: %s\n", what, pcomm_strerror(err));
    exit(2);
}

static void fill_lines(char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = i % 80 == 79 ? '\n' : (char)('a' + (i * 7 + i / 80) % 26);
}

static double writes(long long total, size_t chunk, size_t threshold)
{
    char *src = malloc(chunk);
    fill_lines(src, chunk);
    double t0 = bench_now();
    pcomm_spool *sp;
    int r = pcomm_spool_new(&sp, threshold);
    for (long long done = 0; r == 0 && done < total; done += (long long)chunk)
        r = pcomm_spool_write(sp, src, chunk);
    double t = bench_now() - t0;
    if (r < 0)
        die("write", r);
    if (pcomm_spool_size(sp) != (uint64_t)total || pcomm_spool_spilled(sp) != (threshold == 0))
        die("check", -EIO);
    pcomm_spool_free(sp);
    return (double)total / t / 1e9;
}

static double fill(long long total, const char *writer)
{
    bench_pin("PIN_READER");
    double t0 = bench_now();
    char n[32];
    snprintf(n, sizeof n, "%lld", total);
    const char *argv[] = {writer, "writer", n, "131072", NULL};
    pcomm_cmd *cmd;
    pcomm_proc *proc;
    int r = pcomm_cmd_new_argv(&cmd, argv);
    if (r == 0)
        r = pcomm_cmd_stdio_pipe(cmd, 1);
    if (r == 0)
        r = pcomm_spawn(cmd, &proc);
    if (r < 0)
        die("spawn", r);
    int in = pcomm_proc_fd(proc, 1);
    fcntl(in, F_SETPIPE_SZ, 1 << 20);
    pcomm_spool *sp;
    if ((r = pcomm_spool_new(&sp, 1 << 20)) < 0)
        die("spool", r);
    ssize_t got;
    while ((got = pcomm_spool_fill(sp, in, SIZE_MAX)) > 0)
        ;
    if (got < 0)
        die("fill", (int)got);
    if ((r = pcomm_proc_wait(proc, -1)) < 0)
        die("wait", r);
    double t = bench_now() - t0;
    if (pcomm_spool_size(sp) != (uint64_t)total || !pcomm_spool_spilled(sp))
        die("check", -EIO);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    pcomm_spool_free(sp);
    return (double)total / t / 1e9;
}

static long hwm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6))
            v = atol(line + 6);
    if (f)
        fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_spool mem|file|splice|rss_splice TOTAL CHUNK|WRITER\n");
        return 2;
    }
    const char *mode = argv[1];
    long long total = atoll(argv[2]);
    long base = hwm_kib();
    double r;
    if (!strcmp(mode, "mem"))
        r = writes(total, (size_t)atol(argv[3]), SIZE_MAX);
    else if (!strcmp(mode, "file"))
        r = writes(total, (size_t)atol(argv[3]), 0);
    else if (!strcmp(mode, "splice") || !strcmp(mode, "rss_splice"))
        r = fill(total, argv[3]);
    else
        return 2;
    /* VmHWM, this process image's own peak: ru_maxrss would also count the RSS of the parent
     * that forked us, kept across exec (Python's subprocess, about 12 MiB). */
    if (!strncmp(mode, "rss_", 4))
        r = (double)(hwm_kib() - base) / 1024.0;
    printf("%.4f\n", r);
    return 0;
}
