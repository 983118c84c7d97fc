/* tests/test_filter_tools.c - pcomm_filter against the real tools (gzip, bzip2, xz, zstd, and
 * pigz and igzip when installed), both ways, including their multi-member and multithreaded
 * output; and compression bombs, decoded in a fresh process so that its peak RSS (from wait4)
 * shows what the decoder needed. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "filter_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* head -c 256M /dev/zero | bzip2 -9: 208 bytes that expand to 256 MiB (1,290,555:1). */
static const unsigned char bzip2_bomb[] = {
    0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x0e, 0x09, 0xe2, 0xdf, 0x01, 0x5f,
    0x8e, 0x40, 0x00, 0xc0, 0x00, 0x00, 0x08, 0x20, 0x00, 0x30, 0x80, 0x4d, 0x46, 0x42, 0xa0, 0x25,
    0xa9, 0x0a, 0x80, 0x97, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x0e, 0x09, 0xe2, 0xdf, 0x01, 0x5f,
    0x8e, 0x40, 0x00, 0xc0, 0x00, 0x00, 0x08, 0x20, 0x00, 0x30, 0x80, 0x4d, 0x46, 0x42, 0xa0, 0x25,
    0xa9, 0x0a, 0x80, 0x97, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x0e, 0x09, 0xe2, 0xdf, 0x01, 0x5f,
    0x8e, 0x40, 0x00, 0xc0, 0x00, 0x00, 0x08, 0x20, 0x00, 0x30, 0x80, 0x4d, 0x46, 0x42, 0xa0, 0x25,
    0xa9, 0x0a, 0x80, 0x97, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x0e, 0x09, 0xe2, 0xdf, 0x01, 0x5f,
    0x8e, 0x40, 0x00, 0xc0, 0x00, 0x00, 0x08, 0x20, 0x00, 0x30, 0x80, 0x4d, 0x46, 0x42, 0xa0, 0x25,
    0xa9, 0x0a, 0x80, 0x97, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x0e, 0x09, 0xe2, 0xdf, 0x01, 0x5f,
    0x8e, 0x40, 0x00, 0xc0, 0x00, 0x00, 0x08, 0x20, 0x00, 0x30, 0x80, 0x4d, 0x46, 0x42, 0xa0, 0x25,
    0xa9, 0x0a, 0x80, 0x97, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59, 0x1e, 0xce, 0xe4, 0xdb, 0x01, 0x2a,
    0x3f, 0xc0, 0x00, 0xc0, 0x04, 0x00, 0x08, 0x20, 0x00, 0x30, 0xcc, 0x05, 0x29, 0xa6, 0xaa, 0xa8,
    0x49, 0x1b, 0x00, 0x22, 0x48, 0xf1, 0x77, 0x24, 0x53, 0x85, 0x09, 0x06, 0xb1, 0x7c, 0xaf, 0x00};

static char *tmp_dir;

static int setup_dir(void **state)
{
    (void)state;
    tmp_dir = pt_tempdir();
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    pt_rmtree(tmp_dir);
    free(tmp_dir);
    return 0;
}

static char *tmp_path(const char *name)
{
    char *p;
    assert_true(asprintf(&p, "%s/%s", tmp_dir, name) > 0);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    const unsigned char *p = data;
    while (len) {
        ssize_t n = pt_write(fd, p, len);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
    close(fd);
}

static void read_bytes(const char *path, struct pt_bytes *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    size_t len;
    char *p = pt_slurp(fd, &len);
    close(fd);
    pt_bytes_add(out, p, len);
    free(p);
}

/* Run argv with stdin from in_path and stdout to out_path. Returns the shell exit code, or -1
 * when the program is not installed. */
static int run_tool(const char *const argv[], const char *in_path, const char *out_path)
{
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    PT_OK(pcomm_cmd_stdio_file(cmd, 0, in_path, O_RDONLY, 0));
    PT_OK(pcomm_cmd_stdio_file(cmd, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
    pcomm_proc *proc;
    int r = pcomm_spawn(cmd, &proc);
    pcomm_cmd_free(cmd);
    if (r == -ENOENT)
        return -1;
    PT_OK(r);
    PT_OK(pcomm_proc_wait(proc, -1));
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    pcomm_proc_free(proc);
    return pcomm_status_shell_code(&st);
}

struct tool {
    int codec;
    const char *name;
    const char *compress[8]; /* argv of a compressor writing to stdout, NULL-terminated */
    const char *decompress[4];
};

static const struct tool tools[] = {
    {PCOMM_CODEC_GZIP, "gzip", {"gzip", "-c", "-6"}, {"gzip", "-dc"}},
    {PCOMM_CODEC_GZIP, "pigz", {"pigz", "-c", "-p2", "-b", "128"}, {"pigz", "-dc"}},
    {PCOMM_CODEC_GZIP, "igzip", {"igzip", "-c", "-1"}, {"igzip", "-dc"}},
    {PCOMM_CODEC_BZIP2, "bzip2", {"bzip2", "-c", "-9"}, {"bzip2", "-dc"}},
    {PCOMM_CODEC_XZ, "xz", {"xz", "-c", "-1"}, {"xz", "-dc"}},
    {PCOMM_CODEC_XZ, "xz -T2", {"xz", "-c", "-1", "-T2"}, {"xz", "-dc"}}, /* multi-block */
    {PCOMM_CODEC_ZSTD, "zstd", {"zstd", "-c", "-q"}, {"zstd", "-dcq"}},
    {PCOMM_CODEC_ZSTD, "zstd -T2", {"zstd", "-c", "-q", "-T2", "-19"}, {"zstd", "-dcq"}},
};

/* Our encoder -> the tool's decoder, and the tool's encoder -> our decoder, each also for two
 * streams written one after the other. */
static void test_interop(void **state)
{
    (void)state;
    size_t la = 2 << 20, lb = 100000;
    unsigned char *a = pt_sample(la, 21), *b = pt_sample(lb, 22);
    char *plain_a = tmp_path("a"), *plain_b = tmp_path("b"), *z = tmp_path("z"),
         *out = tmp_path("out");
    write_bytes(plain_a, a, la);
    write_bytes(plain_b, b, lb);
    int ran = 0;
    for (size_t t = 0; t < sizeof tools / sizeof tools[0]; t++) {
        const struct tool *tl = &tools[t];
        if (!pcomm_filter_supported(tl->codec))
            continue;
        /* Tool -> us: stream a, then stream b appended. */
        struct pt_bytes za = {0}, zb = {0}, got = {0};
        int rc = run_tool(tl->compress, plain_a, z);
        if (rc == -1) {
            fprintf(stderr, "[ skipped ] %s is not installed\n", tl->name);
            continue;
        }
        if (rc != 0)
            fail_msg("%s exited with %d", tl->name, rc);
        read_bytes(z, &za);
        assert_int_equal(run_tool(tl->compress, plain_b, z), 0);
        read_bytes(z, &zb);
        pt_bytes_add(&za, zb.p, zb.len);
        char msg[256];
        int r = pt_decode(tl->codec, za.p, za.len, &got, msg, sizeof msg);
        if (r != PCOMM_FILTER_END)
            fail_msg("%s output: %d %s", tl->name, r, msg);
        assert_int_equal(got.len, la + lb);
        assert_memory_equal(got.p, a, la);
        assert_memory_equal(got.p + la, b, lb);
        pt_bytes_free(&got);
        pt_bytes_free(&za);
        pt_bytes_free(&zb);

        /* Us -> tool: two streams of ours, one with flushes, decoded by the tool as one. */
        struct pt_bytes ours = {0};
        pcomm_filter *f;
        PT_OK(pcomm_filter_new_encoder(&f, tl->codec, -1));
        struct pt_drive d = {.in_chunk = 4096, .out_chunk = 1000, .flush_every = 1 << 20};
        assert_int_equal(pt_drive_filter(f, a, la, &d, &ours), PCOMM_FILTER_END);
        pcomm_filter_free(f);
        pt_encode(tl->codec, 1, b, lb, &ours);
        write_bytes(z, ours.p, ours.len);
        assert_int_equal(run_tool(tl->decompress, z, out), 0);
        read_bytes(out, &got);
        assert_int_equal(got.len, la + lb);
        assert_memory_equal(got.p, a, la);
        assert_memory_equal(got.p + la, b, lb);
        pt_bytes_free(&got);
        pt_bytes_free(&ours);
        ran++;
    }
#ifdef PCOMM_TEST_ALL_CODECS
    assert_true(ran >= 4); /* gzip, bzip2, xz, zstd at least: scripts/deps installs them */
#endif
    free(a);
    free(b);
    free(plain_a);
    free(plain_b);
    free(z);
    free(out);
}

/* ---- bombs -------------------------------------------------------------------------------- */

/* The child's own peak RSS in KiB (VmHWM). getrusage() and wait4() report the larger of this
 * and the parent's RSS at spawn time: posix_spawn's child shares the parent's memory until it
 * execs, and Linux carries that high-water mark over exec. */
static long vm_hwm_kib(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* The child: decode file with the limits, discarding the output through one 64 KiB buffer;
 * print "<result> <total_out> <VmHWM KiB>". */
static int bomb_child(const char *codec_name, const char *path, const char *cap_s,
                      const char *ratio_s)
{
    int codec = pcomm_codec_from_name(codec_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (codec < 0 || fd < 0)
        return 2;
    static unsigned char in[1 << 20], out[65536];
    pcomm_filter *f;
    if (pcomm_filter_new_decoder(&f, codec) < 0 ||
        pcomm_filter_set_limits(f, strtoull(cap_s, NULL, 10), strtoull(ratio_s, NULL, 10), 0) < 0)
        return 2;
    size_t have = 0, off = 0;
    bool eof = false;
    int r;
    do {
        if (off == have && !eof) {
            ssize_t n = pt_read(fd, in, sizeof in);
            eof = n <= 0;
            have = n > 0 ? (size_t)n : 0;
            off = 0;
        }
        size_t il = have - off, ol = sizeof out;
        r = pcomm_filter_process(f, in + off, &il, out, &ol,
                                 eof ? PCOMM_FILTER_FINISH : PCOMM_FILTER_RUN);
        off += il;
    } while (r == PCOMM_FILTER_MORE);
    printf("%d %llu %ld\n", r, (unsigned long long)pcomm_filter_total_out(f), vm_hwm_kib());
    pcomm_filter_free(f);
    close(fd);
    return 0;
}

static void bomb(int codec, const char *path, uint64_t cap, uint64_t ratio, int want,
                 uint64_t want_out)
{
    char exe[4096], cap_s[32], ratio_s[32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    snprintf(cap_s, sizeof cap_s, "%llu", (unsigned long long)cap);
    snprintf(ratio_s, sizeof ratio_s, "%llu", (unsigned long long)ratio);
    pcomm_cmd *cmd;
    const char *argv[] = {exe, "--bomb", pcomm_codec_name(codec), path, cap_s, ratio_s, NULL};
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    pcomm_status st;
    size_t len;
    char *out = pt_capture(cmd, &len, &st);
    pcomm_cmd_free(cmd);
    assert_int_equal(st.how, PCOMM_EXITED);
    assert_int_equal(st.code, 0);
    int r;
    unsigned long long total;
    long hwm;
    assert_int_equal(sscanf(out, "%d %llu %ld", &r, &total, &hwm), 3);
    fprintf(stderr,
            "[ bomb    ] %s cap %llu ratio %llu: %s after %llu bytes; child VmHWM %ld KiB, "
            "wait4 max RSS %lld KiB\n",
            pcomm_codec_name(codec), (unsigned long long)cap, (unsigned long long)ratio,
            r == PCOMM_FILTER_END ? "END" : pcomm_errname(r), total, hwm,
            (long long)st.max_rss_kib);
    if (r != want)
        fail_msg("%s bomb: %d (%s), want %d", pcomm_codec_name(codec), r, pcomm_errname(r), want);
    assert_int_equal(total, want_out); /* exactly at the cap */
    assert_true(hwm > 0 && hwm < 64 * 1024);
    free(out);
}

static void make_bomb(int codec, const char *path, struct pt_bytes *z)
{
    if (codec == PCOMM_CODEC_BZIP2) {
        pt_bytes_add(z, bzip2_bomb, sizeof bzip2_bomb);
    } else { /* 256 MiB of zeros, compressed here */
        pcomm_filter *f;
        PT_OK(pcomm_filter_new_encoder(&f, codec, codec == PCOMM_CODEC_XZ ? 1 : 9));
        static unsigned char zeros[1 << 20], buf[1 << 20];
        for (int k = 0; k <= 256; k++) {
            size_t il = k < 256 ? sizeof zeros : 0, off = 0;
            int r;
            do {
                size_t l = il - off, ol = sizeof buf;
                r = pcomm_filter_process(f, zeros + off, &l, buf, &ol,
                                         k < 256 ? PCOMM_FILTER_RUN : PCOMM_FILTER_FINISH);
                off += l;
                pt_bytes_add(z, buf, ol);
            } while (r == PCOMM_FILTER_MORE && (off < il || k == 256));
            assert_true(r >= 0);
        }
        pcomm_filter_free(f);
    }
    write_bytes(path, z->p, z->len);
}

static void test_bombs(void **state)
{
    (void)state;
    char *path = tmp_path("bomb");
    for (int i = 0; i < PT_NCODECS; i++) {
        int c = pt_codecs[i];
        if (!pcomm_filter_supported(c))
            continue;
        struct pt_bytes z = {0};
        make_bomb(c, path, &z);
        assert_true(z.len < (1 << 20)); /* the child reads it in one piece */
        bomb(c, path, 32 << 20, 0, PCOMM_ECAP, 32 << 20);
        /* The ratio cap stops at max(1 MiB, 1000 x input) unless the stream ends first. */
        uint64_t limit = (uint64_t)z.len * 1000;
        if (limit < PCOMM_FILTER_RATIO_FLOOR)
            limit = PCOMM_FILTER_RATIO_FLOOR;
        if (limit < (256 << 20))
            bomb(c, path, 0, 1000, PCOMM_ERATIO, limit);
        else
            bomb(c, path, 0, 1000, PCOMM_FILTER_END, 256 << 20);
        bomb(c, path, 0, 10000000, PCOMM_FILTER_END, 256 << 20); /* a gentler cap passes */
        pt_bytes_free(&z);
    }
    free(path);
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "--bomb"))
        return bomb_child(argv[2], argv[3], argv[4], argv[5]);
    const struct CMUnitTest tests[] = {
        PT_TEST(test_interop),
        PT_TEST(test_bombs),
    };
    pt_init();
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
