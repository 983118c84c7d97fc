/* tests/test_cli_codec.c - compression in the pcomm command: -i decompressed by its magic bytes
 * (from a file and from a pipe), --raw-input, the decoder caps, corrupt input (exit 125, the file
 * named, no output file), -o/-e compressed by extension and by -z, --tee with a compressed file.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "cli_util.h"
#include "filter_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const extensions[] = {"gz", "bz2", "xz", "zst"};

static char dir[512];

static int setup_dir(void **state)
{
    char *d = pt_tempdir();
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    return pt_setup(state);
}

static int teardown_dir(void **state)
{
    pt_rmtree(dir);
    return pt_teardown(state);
}

#define DIR_TEST(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

static void put_file(const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static char *get_file(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *data = pt_slurp(fd, len);
    close(fd);
    return data;
}

static bool exists(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Entries of the directory, to see that nothing (no temp file) was left behind. */
static int entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* name = data compressed with codec. */
static void put_compressed(const char *name, int codec, const void *data, size_t len)
{
    struct pt_bytes z = {0};
    pt_encode(codec, -1, data, len, &z);
    put_file(name, z.p, z.len);
    pt_bytes_free(&z);
}

/* The decompressed contents of a file pcomm wrote. */
static void expect_decoded(const char *name, int codec, const void *want, size_t want_len)
{
    size_t len;
    char *z = get_file(name, &len);
    assert_non_null(z);
    struct pt_bytes plain = {0};
    char msg[256];
    assert_int_equal(pt_decode(codec, z, len, &plain, msg, sizeof msg), PCOMM_FILTER_END);
    assert_int_equal(plain.len, want_len);
    assert_memory_equal(plain.p, want, want_len);
    pt_bytes_free(&plain);
    free(z);
}

/* "cat FILE | pcomm -i - HELPER echo": -i - reads a pipe. */
static struct cli_result run_piped(const char *file)
{
    char script[2048];
    snprintf(script, sizeof script, "cat '%s/%s' | '%s' -i - '%s' echo", dir, file, PCOMM_TEST_CLI,
             pt_helper());
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new_argv(&cmd, argv));
    struct cli_result r = run_cli_cmd(cmd);
    pcomm_cmd_free(cmd);
    return r;
}

/* -i FILE.{gz,bz2,xz,zst}, and the same bytes under a name that says nothing: decoded by their
 * magic bytes, byte-exact, 3 MiB each. */
static void test_input_by_magic(void **state)
{
    (void)state;
    size_t len = 3 << 20;
    unsigned char *data = pt_sample(len, 7);
    for (int i = 0; i < PT_NCODECS; i++) {
        if (!pcomm_filter_supported(pt_codecs[i]))
            continue;
        char name[64], path[1024];
        snprintf(name, sizeof name, "in.%s", extensions[i]);
        for (int misnamed = 0; misnamed <= 1; misnamed++) {
            const char *file = misnamed ? "in.txt" : name;
            put_compressed(file, pt_codecs[i], data, len);
            snprintf(path, sizeof path, "%s/%s", dir, file);
            struct cli_result r = RUN_CLI("-i", path, "HELPER", "echo");
            assert_int_equal(r.status, 0);
            assert_string_equal(r.err, "");
            assert_int_equal(r.out_len, len);
            assert_memory_equal(r.out, data, len);
            result_free(&r);
        }
    }
    /* A plain file is fed as it is, and so is a file too short to tell (the first 3 of xz's 6
     * magic bytes). */
    put_file("plain", data, len);
    char path[1024];
    snprintf(path, sizeof path, "%s/plain", dir);
    struct cli_result r = RUN_CLI("-i", path, "HELPER", "echo");
    assert_int_equal(r.status, 0);
    assert_int_equal(r.out_len, len);
    assert_memory_equal(r.out, data, len);
    result_free(&r);
    put_file("short",
             "\xfd"
             "7z",
             3);
    snprintf(path, sizeof path, "%s/short", dir);
    r = RUN_CLI("-i", path, "HELPER", "echo");
    assert_int_equal(r.status, 0);
    assert_int_equal(r.out_len, 3);
    assert_memory_equal(r.out,
                        "\xfd"
                        "7z",
                        3);
    result_free(&r);
    free(data);
}

/* -i - from a pipe: compressed data is decoded, plain data passes through unchanged. */
static void test_input_from_pipe(void **state)
{
    (void)state;
    size_t len = 1 << 20;
    unsigned char *data = pt_sample(len, 8);
    put_file("plain", data, len);
    struct cli_result r = run_piped("plain");
    assert_int_equal(r.status, 0);
    assert_int_equal(r.out_len, len);
    assert_memory_equal(r.out, data, len);
    result_free(&r);
    for (int i = 0; i < PT_NCODECS; i++) {
        if (!pcomm_filter_supported(pt_codecs[i]))
            continue;
        put_compressed("z", pt_codecs[i], data, len);
        r = run_piped("z");
        assert_int_equal(r.status, 0);
        assert_int_equal(r.out_len, len);
        assert_memory_equal(r.out, data, len);
        result_free(&r);
    }
    free(data);
}

/* "hello\n" as gzip -n made it: usable in a build without zlib. */
static const char hello_gz[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xcb\x48\xcd\xc9\xc9\xe7"
                               "\x02\x00\x20\x30\x3a\x36\x06\x00\x00\x00";

/* A build without a codec refuses its input and its output files by name, never passing
 * compressed bytes on as if they were plain. */
static void test_codec_not_built(void **state)
{
    (void)state;
    if (pcomm_filter_supported(PCOMM_CODEC_GZIP))
        skip();
    put_file("in.gz", hello_gz, sizeof hello_gz - 1);
    char in[1024], out[1024];
    snprintf(in, sizeof in, "%s/in.gz", dir);
    snprintf(out, sizeof out, "%s/out.gz", dir);
    struct cli_result r = RUN_CLI("-i", in, "HELPER", "echo");
    assert_int_equal(r.status, 125);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "is gzip-compressed, but this pcomm has no gzip"));
    result_free(&r);
    r = RUN_CLI("-o", out, "HELPER", "println", "ran");
    assert_int_equal(r.status, 125);
    assert_non_null(strstr(r.err, "this pcomm has no gzip"));
    assert_false(exists("out.gz"));
    result_free(&r);
}

/* --raw-input feeds the compressed bytes themselves. */
static void test_raw_input(void **state)
{
    (void)state;
    put_file("in.gz", hello_gz, sizeof hello_gz - 1);
    size_t zlen;
    char *z = get_file("in.gz", &zlen), path[1024];
    snprintf(path, sizeof path, "%s/in.gz", dir);
    struct cli_result r = RUN_CLI("--raw-input", "-i", path, "HELPER", "echo");
    assert_int_equal(r.status, 0);
    assert_int_equal(r.out_len, zlen);
    assert_memory_equal(r.out, z, zlen);
    result_free(&r);
    free(z);
}

/* Run pcomm -i name -o out, expect 125 with a message that names the input and says why, and no
 * output file. */
static void expect_input_refused(const char *name, const char *why, const char *extra)
{
    char in[1024], out[1024];
    snprintf(in, sizeof in, "%s/%s", dir, name);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    int before = entries();
    struct cli_result r = extra ? RUN_CLI(extra, "-i", in, "-o", out, "HELPER", "echo")
                                : RUN_CLI("-i", in, "-o", out, "HELPER", "echo");
    assert_int_equal(r.status, 125);
    char want[1200];
    snprintf(want, sizeof want, "pcomm: cannot decompress '%s': ", in);
    if (!strstr(r.err, want) || !strstr(r.err, why))
        fail_msg("message for %s lacks '%s': %s", name, why, r.err);
    assert_false(exists("out.txt"));
    assert_int_equal(entries(), before);
    result_free(&r);
}

/* Corrupt, truncated and trailing-garbage input: exit 125, the file named, no output file. */
static void test_corrupt_input(void **state)
{
    (void)state;
    size_t len = 1 << 20;
    unsigned char *data = pt_sample(len, 9);
    for (int i = 0; i < PT_NCODECS; i++) {
        if (!pcomm_filter_supported(pt_codecs[i]))
            continue;
        struct pt_bytes z = {0};
        pt_encode(pt_codecs[i], -1, data, len, &z);
        put_file("trunc", z.p, z.len - 9);
        expect_input_refused("trunc", "truncated", NULL);
        pt_bytes_add(&z, "garbage!", 8);
        put_file("trailing", z.p, z.len);
        expect_input_refused("trailing", "trailing garbage", NULL);
        z.p[z.len / 2] ^= 0x55;
        z.p[z.len / 2 + 1] ^= 0x55;
        put_file("flipped", z.p, z.len - 8);
        char path[1024], out[1024];
        snprintf(path, sizeof path, "%s/flipped", dir);
        snprintf(out, sizeof out, "%s/out.txt", dir);
        struct cli_result r = RUN_CLI("-i", path, "-o", out, "HELPER", "echo");
        assert_int_equal(r.status, 125);
        assert_non_null(strstr(r.err, "cannot decompress"));
        assert_false(exists("out.txt"));
        result_free(&r);
        pt_bytes_free(&z);
    }
    free(data);
}

/* The caps: 32 MiB of zeros compress to under 100 bytes with bzip2, an expansion far above the
 * default ratio cap; --max-ratio=0 lifts it; --max-decoded caps a normal file. */
static void test_decoder_caps(void **state)
{
    (void)state;
    if (!pcomm_filter_supported(PCOMM_CODEC_BZIP2))
        skip();
    size_t len = 32 << 20;
    unsigned char *zeros = calloc(1, len);
    put_compressed("bomb.bz2", PCOMM_CODEC_BZIP2, zeros, len);
    free(zeros);
    expect_input_refused("bomb.bz2", "10000 times the compressed input", NULL);
    char in[1024];
    snprintf(in, sizeof in, "%s/bomb.bz2", dir);
    struct cli_result r = RUN_CLI("--max-ratio=0", "-i", in, "HELPER", "echo");
    assert_int_equal(r.status, 0);
    assert_int_equal(r.out_len, len);
    result_free(&r);
    unsigned char *data = pt_sample(3 << 20, 10);
    put_compressed("sample.bz2", PCOMM_CODEC_BZIP2, data, 3 << 20);
    free(data);
    expect_input_refused("sample.bz2", "output cap of 1048576 bytes reached", "--max-decoded=1M");
    r = RUN_CLI("--max-ratio=x", "-i", in, "HELPER", "echo");
    assert_int_equal(r.status, 125);
    result_free(&r);
}

/* -o/-e compressed by their extension, into one file when they share it; -z overrides. */
static void test_output_compression(void **state)
{
    (void)state;
    for (int i = 0; i < PT_NCODECS; i++) {
        if (!pcomm_filter_supported(pt_codecs[i]))
            continue;
        char out[1024], err[1024], name_out[64], name_err[64];
        snprintf(name_out, sizeof name_out, "out.%s", extensions[i]);
        snprintf(name_err, sizeof name_err, "err.%s", extensions[i]);
        snprintf(out, sizeof out, "%s/%s", dir, name_out);
        snprintf(err, sizeof err, "%s/%s", dir, name_err);
        struct cli_result r = RUN_CLI("-o", out, "-e", err, "HELPER", "write", "1", "4194304", "3",
                                      "eprint", "to stderr\n", "exit", "2");
        assert_int_equal(r.status, 2);
        assert_int_equal(r.out_len + r.err_len, 0);
        result_free(&r);
        unsigned char *want = malloc(4 << 20);
        pt_pattern_fill(want, 4 << 20, 0, 3);
        expect_decoded(name_out, pt_codecs[i], want, 4 << 20);
        free(want);
        expect_decoded(name_err, pt_codecs[i], "to stderr\n", 10);
        /* one file for both streams */
        r = RUN_CLI("-o", out, "-e", out, "HELPER", "print", "A\n", "eprint", "B\n");
        assert_int_equal(r.status, 0);
        result_free(&r);
        size_t len;
        char *z = get_file(name_out, &len);
        struct pt_bytes plain = {0};
        assert_int_equal(pt_decode(pt_codecs[i], z, len, &plain, NULL, 0), PCOMM_FILTER_END);
        assert_int_equal(plain.len, 4);
        assert_true(!memcmp(plain.p, "A\nB\n", 4) || !memcmp(plain.p, "B\nA\n", 4));
        pt_bytes_free(&plain);
        free(z);
    }
    /* -z with a level, whatever the name; -z none keeps a .gz name plain. */
    char out[1024];
    struct cli_result r;
    if (pcomm_filter_supported(PCOMM_CODEC_ZSTD)) {
        snprintf(out, sizeof out, "%s/log", dir);
        r = RUN_CLI("-z", "zstd:3", "-o", out, "HELPER", "print", "zz\n");
        assert_int_equal(r.status, 0);
        result_free(&r);
        expect_decoded("log", PCOMM_CODEC_ZSTD, "zz\n", 3);
    }
    snprintf(out, sizeof out, "%s/plain.gz", dir);
    r = RUN_CLI("--compress=none", "-o", out, "HELPER", "print", "as is\n");
    assert_int_equal(r.status, 0);
    result_free(&r);
    size_t len;
    char *text = get_file("plain.gz", &len);
    assert_string_equal(text, "as is\n");
    free(text);
}

/* --tee with a compressed file: the terminal sees plain text, the file holds it compressed. */
static void test_tee_compressed(void **state)
{
    (void)state;
    if (!pcomm_filter_supported(PCOMM_CODEC_GZIP))
        skip();
    char out[1024];
    snprintf(out, sizeof out, "%s/tee.gz", dir);
    struct cli_result r = RUN_CLI("--tee", "-o", out, "HELPER", "print", "one\ntwo\n");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "one\ntwo\n");
    result_free(&r);
    expect_decoded("tee.gz", PCOMM_CODEC_GZIP, "one\ntwo\n", 8);
}

/* Bad -z values are usage errors: exit 125, nothing run, no file. */
static void test_bad_compress_values(void **state)
{
    (void)state;
    static const char *const bad[] = {"foo", "gzip:42", "gzip:", "zstd:x", "none:3", "", "auto"};
    char out[1024];
    snprintf(out, sizeof out, "%s/out.gz", dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cli_result r = RUN_CLI("-z", bad[i], "-o", out, "HELPER", "println", "ran");
        if (r.status != 125)
            fail_msg("-z '%s': exit %d", bad[i], r.status);
        assert_string_equal(r.out, "");
        assert_non_null(strstr(r.err, "pcomm: "));
        assert_false(exists("out.gz"));
        result_free(&r);
    }
    assert_int_equal(entries(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        DIR_TEST(test_input_by_magic),      DIR_TEST(test_input_from_pipe),
        DIR_TEST(test_raw_input),           DIR_TEST(test_codec_not_built),
        DIR_TEST(test_corrupt_input),       DIR_TEST(test_decoder_caps),
        DIR_TEST(test_output_compression),  DIR_TEST(test_tee_compressed),
        DIR_TEST(test_bad_compress_values),
    };
    return PT_RUN(tests);
}
