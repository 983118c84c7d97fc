/* tests/test_pipeline_filter.c - filter stages in pipelines: the parent decodes or encodes the
 * stream between two stages inside the job's loop. Exact bytes through every position (first,
 * middle, last, alone), every input kind, errors that fail the job and leave nothing running,
 * a consumer that stops early, linger and timeout with a filter waiting, backpressure; and output
 * filters, which compress what a job stores of a stream.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "filter_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024 * 1024)

/* Skip the test in a build without codec (the filter tests cover that build's errors). */
static void need(int codec)
{
    if (!pcomm_filter_supported(codec))
        skip();
}

/* data compressed with codec at its default level, in memory */
static struct pt_bytes compress(int codec, const void *data, size_t len)
{
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_encoder(&f, codec, -1));
    struct pt_bytes z = {0};
    assert_int_equal(pt_drive_filter(f, data, len, &(struct pt_drive){0}, &z), PCOMM_FILTER_END);
    pcomm_filter_free(f);
    return z;
}

static struct pt_bytes decompress(const void *data, size_t len)
{
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_AUTO));
    struct pt_bytes out = {0};
    assert_int_equal(pt_drive_filter(f, data, len, &(struct pt_drive){0}, &out), PCOMM_FILTER_END);
    pcomm_filter_free(f);
    return out;
}

static void add_decoder(pcomm_pipeline *pl, int codec)
{
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_decoder(&f, codec));
    PT_OK(pcomm_pipeline_add_filter(pl, f));
}

static void add_encoder(pcomm_pipeline *pl, int codec)
{
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_encoder(&f, codec, 1));
    PT_OK(pcomm_pipeline_add_filter(pl, f));
}

static void add_helper(pcomm_pipeline *pl, const char *op)
{
    pcomm_cmd *cmd = pt_helper_cmd(op, NULL);
    PT_OK(pcomm_pipeline_add_cmd(pl, cmd));
    pcomm_cmd_free(cmd);
}

static pcomm_job *new_job(pcomm_pipeline *pl)
{
    pcomm_job *job;
    PT_OK(pcomm_job_new_pipeline(&job, pl));
    PT_OK(pcomm_job_set_timeout(job, 60000, SIGKILL, 0));
    return job;
}

static void assert_stdout(pcomm_job *job, const void *want, size_t len)
{
    pcomm_spool *out = pcomm_job_output(job, PCOMM_STDOUT);
    assert_int_equal(pcomm_spool_size(out), len);
    unsigned char *got = malloc(len ? len : 1);
    assert_non_null(got);
    assert_int_equal(pcomm_spool_pread(out, got, len, 0), (ssize_t)len);
    assert_memory_equal(got, want, len);
    free(got);
}

static void assert_stage(pcomm_job *job, size_t i, int how, int code)
{
    pcomm_status st;
    PT_OK(pcomm_job_stage_status(job, i, &st));
    if (st.how != how || st.code != code)
        fail_msg("stage %zu: how %d code %d, want how %d code %d", i, st.how, st.code, how, code);
}

static char *temp_file(const void *data, size_t len)
{
    char *path = strdup("/tmp/pcomm-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(pt_write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* ---- exact bytes in every position ----------------------------------------------------------- */

/* A decoder first, fed by each kind of job input, into a command: every codec. */
static void test_decoder_first(void **state)
{
    (void)state;
    size_t len = 3 * MIB + 12345;
    unsigned char *plain = pt_sample(len, 1);
    static const int codecs[] = {PCOMM_CODEC_GZIP, PCOMM_CODEC_BZIP2, PCOMM_CODEC_XZ,
                                 PCOMM_CODEC_ZSTD};
    for (size_t c = 0; c < 4; c++) {
        if (!pcomm_filter_supported(codecs[c]))
            continue;
        struct pt_bytes z = compress(codecs[c], plain, len);
        char *path = temp_file(z.p, z.len);
        for (int kind = 0; kind < 3; kind++) { /* bytes, file, fd (a pipe's read end) */
            pcomm_pipeline *pl;
            PT_OK(pcomm_pipeline_new(&pl));
            add_decoder(pl, PCOMM_CODEC_AUTO);
            add_helper(pl, "echo");
            pcomm_job *job = new_job(pl);
            int fd = -1;
            if (kind == 0)
                PT_OK(pcomm_job_input_bytes(job, z.p, z.len));
            else if (kind == 1)
                PT_OK(pcomm_job_input_file(job, path));
            else
                PT_OK(pcomm_job_input_fd(job, fd = open(path, O_RDONLY | O_CLOEXEC)));
            PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, 1 * MIB));
            PT_OK(pcomm_run(job));
            assert_stdout(job, plain, len);
            assert_int_equal(pcomm_job_exit_code(job), 0);
            assert_stage(job, 0, PCOMM_EXITED, 0);
            assert_int_equal(pcomm_job_bytes(job, PCOMM_STDIN), z.len);
            assert_null(pcomm_job_stage_proc(job, 0));
            assert_null(pcomm_job_stage_cmd(job, 0));
            const pcomm_filter *f = pcomm_job_stage_filter(job, 0);
            assert_int_equal(pcomm_filter_codec(f), codecs[c]);
            assert_int_equal(pcomm_filter_total_out(f), len);
            pcomm_job_free(job);
            if (fd >= 0)
                close(fd);
        }
        unlink(path);
        free(path);
        pt_bytes_free(&z);
    }
    free(plain);
}

/* An encoder last, a filter in the middle, filters alone, two filters in a row. */
static void test_encoder_last_and_middle(void **state)
{
    (void)state;
    need(PCOMM_CODEC_GZIP);
    need(PCOMM_CODEC_BZIP2);
    need(PCOMM_CODEC_XZ);
    need(PCOMM_CODEC_ZSTD);
    size_t len = 2 * MIB + 777;
    unsigned char *plain = pt_sample(len, 2);
    for (int shape = 0; shape < 4; shape++) {
        pcomm_pipeline *pl;
        PT_OK(pcomm_pipeline_new(&pl));
        if (shape == 0) { /* echo | gzip */
            add_helper(pl, "echo");
            add_encoder(pl, PCOMM_CODEC_GZIP);
        } else if (shape == 1) { /* echo | zstd | echo */
            add_helper(pl, "echo");
            add_encoder(pl, PCOMM_CODEC_ZSTD);
            add_helper(pl, "echo");
        } else if (shape == 2) { /* xz alone */
            add_encoder(pl, PCOMM_CODEC_XZ);
        } else { /* gzip | gunzip | bzip2 | echo: filters back to back */
            add_encoder(pl, PCOMM_CODEC_GZIP);
            add_decoder(pl, PCOMM_CODEC_GZIP);
            add_encoder(pl, PCOMM_CODEC_BZIP2);
            add_helper(pl, "echo");
        }
        pcomm_job *job = new_job(pl);
        PT_OK(pcomm_job_input_bytes(job, plain, len));
        PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, 64 * 1024)); /* spills */
        PT_OK(pcomm_run(job));
        assert_int_equal(pcomm_job_exit_code(job), 0);
        for (size_t i = 0; i < pcomm_job_stage_count(job); i++)
            assert_stage(job, i, PCOMM_EXITED, 0);
        pcomm_spool *out = pcomm_job_output(job, PCOMM_STDOUT);
        size_t zlen = (size_t)pcomm_spool_size(out);
        unsigned char *z = malloc(zlen);
        assert_int_equal(pcomm_spool_pread(out, z, zlen, 0), (ssize_t)zlen);
        struct pt_bytes back = decompress(z, zlen);
        assert_int_equal(back.len, len);
        assert_memory_equal(back.p, plain, len);
        pt_bytes_free(&back);
        free(z);
        pcomm_job_free(job);
    }
    free(plain);
}

/* A filter last with no stdout sink writes to pcomm's own stdout, as a command would. */
static void test_filter_last_inherits_stdout(void **state)
{
    (void)state;
    need(PCOMM_CODEC_GZIP);
    static const char text[] = "inherited through a filter\n";
    struct pt_bytes z = compress(PCOMM_CODEC_GZIP, text, sizeof text - 1);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    int saved = dup(1);
    assert_true(saved >= 0);
    assert_int_equal(dup2(p[1], 1), 1);
    pcomm_pipeline *pl;
    PT_OK(pcomm_pipeline_new(&pl));
    add_decoder(pl, PCOMM_CODEC_GZIP);
    pcomm_job *job = new_job(pl);
    PT_OK(pcomm_job_input_bytes(job, z.p, z.len));
    int r = pcomm_run(job);
    dup2(saved, 1);
    close(saved);
    close(p[1]);
    PT_OK(r);
    char buf[256];
    ssize_t n = pt_read(p[0], buf, sizeof buf);
    close(p[0]);
    assert_int_equal(n, (ssize_t)sizeof text - 1);
    assert_memory_equal(buf, text, sizeof text - 1);
    pcomm_job_free(job);
    pt_bytes_free(&z);
}

/* -m with a trailing encoder: stderr joins stdout before the filter, so it is compressed too. */
static void test_merged_stderr_before_trailing_filter(void **state)
{
    (void)state;
    need(PCOMM_CODEC_GZIP);
    pcomm_pipeline *pl;
    PT_OK(pcomm_pipeline_new(&pl));
    pcomm_cmd *cmd = pt_helper_cmd("print", "out\n", "eprint", "err\n", NULL);
    PT_OK(pcomm_pipeline_add_cmd(pl, cmd));
    pcomm_cmd_free(cmd);
    add_encoder(pl, PCOMM_CODEC_GZIP);
    pcomm_job *job = new_job(pl);
    PT_OK(pcomm_job_merge_stderr(job));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, MIB));
    PT_OK(pcomm_run(job));
    const void *z;
    size_t zlen;
    PT_OK(pcomm_spool_view(pcomm_job_output(job, PCOMM_STDOUT), &z, &zlen));
    struct pt_bytes back = decompress(z, zlen);
    assert_int_equal(back.len, 8);
    assert_memory_equal(back.p, "out\nerr\n", 8);
    pt_bytes_free(&back);
    pcomm_job_free(job);
}

/* ---- errors ---------------------------------------------------------------------------------- */

/* Truncated, corrupt and over-the-cap input fail the job with the filter's error; the command
 * after it is killed, nothing is left running or open, and the message says why. */
static void test_decoder_errors_fail_the_job(void **state)
{
    (void)state;
    need(PCOMM_CODEC_GZIP);
    size_t len = 4 * MIB;
    unsigned char *plain = pt_sample(len, 3);
    struct pt_bytes z = compress(PCOMM_CODEC_GZIP, plain, len);
    for (int kind = 0; kind < 3; kind++) {
        pcomm_pipeline *pl;
        PT_OK(pcomm_pipeline_new(&pl));
        pcomm_filter *f;
        PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_GZIP));
        if (kind == 2)
            PT_OK(pcomm_filter_set_limits(f, MIB, 0, 0));
        PT_OK(pcomm_pipeline_add_filter(pl, f));
        add_helper(pl, "drain"); /* reads everything: the error comes from the filter */
        pcomm_job *job = new_job(pl);
        size_t zlen = kind == 0 ? z.len - 100 : z.len; /* truncated */
        if (kind == 1)
            z.p[z.len / 2] ^= 0x55; /* corrupt */
        PT_OK(pcomm_job_input_bytes(job, z.p, zlen));
        int r = pcomm_run(job);
        if (kind == 1)
            z.p[z.len / 2] ^= 0x55;
        int want = kind == 2 ? PCOMM_ECAP : -EBADMSG;
        if (r != want)
            fail_msg("kind %d: %s, want %s (%s)", kind, pcomm_errname(r), pcomm_errname(want),
                     pcomm_filter_message(f));
        assert_int_equal(pcomm_job_error(job), want);
        assert_ptr_equal(pcomm_job_stage_filter(job, 0), f);
        assert_true(strlen(pcomm_filter_message(f)) > 0);
        assert_stage(job, 0, PCOMM_EXITED, 1);
        assert_stage(job, 1, PCOMM_SIGNALED, SIGKILL); /* the job was aborted */
        pcomm_job_free(job);
        assert_int_equal(pt_count_children(NULL), 0);
    }
    pt_bytes_free(&z);
    free(plain);
}

/* The consumer stops reading (head): the filter stops as a process would on SIGPIPE, and that
 * counts as success under pipefail. */
static void test_consumer_stops_early(void **state)
{
    (void)state;
    need(PCOMM_CODEC_ZSTD);
    size_t len = 32 * MIB;
    unsigned char *zeros = calloc(1, len);
    struct pt_bytes z = compress(PCOMM_CODEC_ZSTD, zeros, len);
    free(zeros);
    pcomm_pipeline *pl;
    PT_OK(pcomm_pipeline_new(&pl));
    add_decoder(pl, PCOMM_CODEC_ZSTD);
    pcomm_cmd *head = pt_helper_cmd("read", "10", NULL);
    PT_OK(pcomm_pipeline_add_cmd(pl, head));
    pcomm_cmd_free(head);
    pcomm_job *job = new_job(pl);
    PT_OK(pcomm_job_input_bytes(job, z.p, z.len));
    PT_OK(pcomm_run(job));
    assert_stage(job, 0, PCOMM_SIGNALED, SIGPIPE);
    assert_stage(job, 1, PCOMM_EXITED, 0);
    assert_int_equal(pcomm_job_exit_code(job), 0);
    assert_true(pcomm_job_flags(job) & PCOMM_JOB_INPUT_SHORT);
    pcomm_job_free(job);
    pt_bytes_free(&z);
}

/* ---- time limits ----------------------------------------------------------------------------- */

/* A command exits but a descendant keeps the filter's input open: linger cuts the filter. */
static void test_linger_cuts_a_waiting_filter(void **state)
{
    (void)state;
    need(PCOMM_CODEC_GZIP);
    pcomm_pipeline *pl;
    PT_OK(pcomm_pipeline_new(&pl));
    pcomm_cmd *cmd = pt_helper_cmd("print", "x", "grandchild", "30000", NULL);
    PT_OK(pcomm_pipeline_add_cmd(pl, cmd));
    pcomm_cmd_free(cmd);
    add_encoder(pl, PCOMM_CODEC_GZIP);
    pcomm_job *job = new_job(pl);
    PT_OK(pcomm_job_set_linger(job, 200));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, MIB));
    double t0 = pt_ms();
    PT_OK(pcomm_run(job));
    double ms = pt_ms() - t0;
    assert_true(ms < 5000);
    assert_true(pcomm_job_flags(job) & PCOMM_JOB_TRUNCATED);
    assert_stage(job, 1, PCOMM_SIGNALED, SIGKILL);
    pcomm_job_free(job);
}

/* A filter alone on a pipe nobody closes: the timeout cuts it. */
static void test_timeout_cuts_filters_alone(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pcomm_pipeline *pl;
    PT_OK(pcomm_pipeline_new(&pl));
    add_decoder(pl, PCOMM_CODEC_AUTO);
    pcomm_job *job;
    PT_OK(pcomm_job_new_pipeline(&job, pl));
    PT_OK(pcomm_job_set_timeout(job, 200, SIGTERM, 1000));
    PT_OK(pcomm_job_input_fd(job, p[0]));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, MIB));
    double t0 = pt_ms();
    PT_OK(pcomm_run(job));
    assert_true(pt_ms() - t0 < 5000);
    assert_true(pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT);
    assert_stage(job, 0, PCOMM_SIGNALED, SIGKILL);
    pcomm_job_free(job);
    close(p[0]);
    close(p[1]);
}

/* ---- backpressure ---------------------------------------------------------------------------- */

/* 256 MiB decoded from 256 KiB of zstd into a command that drains it: the parent's memory stays
 * flat, because the filter only runs when its pipe has room. */
static void test_bomb_through_pipe_is_backpressured(void **state)
{
    (void)state;
    need(PCOMM_CODEC_ZSTD);
    size_t len = 256 * MIB;
    unsigned char *zeros = calloc(1, len); /* untouched: the zero page, no RSS */
    struct pt_bytes z = compress(PCOMM_CODEC_ZSTD, zeros, len);
    free(zeros);
    pt_peak_rss_reset();
    pcomm_pipeline *pl;
    PT_OK(pcomm_pipeline_new(&pl));
    add_decoder(pl, PCOMM_CODEC_ZSTD);
    add_helper(pl, "drain");
    pcomm_job *job = new_job(pl);
    PT_OK(pcomm_job_input_bytes(job, z.p, z.len));
    PT_OK(pcomm_run(job));
    assert_int_equal(pcomm_job_exit_code(job), 0);
    assert_int_equal(pcomm_filter_total_out(pcomm_job_stage_filter(job, 0)), len);
    long grew = pt_peak_rss_growth_kib();
    fprintf(stderr, "[ filter ] 256 MiB decoded into a pipe: peak RSS grew %ld KiB\n", grew);
    assert_true(grew < 16 * 1024);
    char *touched = malloc(32 * MIB); /* the instrument itself: 32 MiB touched must show */
    memset(touched, 1, 32 * MIB);
    assert_true(pt_peak_rss_growth_kib() >= grew + 31 * 1024);
    free(touched);
    pcomm_job_free(job);
    pt_bytes_free(&z);
}

/* ---- output filters -------------------------------------------------------------------------- */

static int count_bytes(void *userdata, const pcomm_line *line)
{
    *(size_t *)userdata += line->len;
    return 0;
}

static struct pt_bytes read_all_fd(int fd)
{
    struct pt_bytes b = {0};
    char buf[65536];
    ssize_t n;
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    while ((n = pt_read(fd, buf, sizeof buf)) > 0)
        pt_bytes_add(&b, buf, (size_t)n);
    return b;
}

/* A command's stdout compressed on its way into a spool and a file; the line callback still sees
 * the plain bytes. */
static void test_output_filter_spool_and_file(void **state)
{
    (void)state;
    need(PCOMM_CODEC_XZ);
    size_t len = 3 * MIB + 1;
    unsigned char *plain = pt_sample(len, 4);
    char *path = temp_file("", 0);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    pcomm_cmd *cmd = pt_helper_cmd("echo", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    pcomm_cmd_free(cmd);
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_encoder(&f, PCOMM_CODEC_XZ, 0));
    PT_OK(pcomm_job_filter_output(job, PCOMM_STDOUT, f));
    assert_ptr_equal(pcomm_job_output_filter(job, PCOMM_STDOUT), f);
    assert_null(pcomm_job_output_filter(job, PCOMM_STDERR));
    size_t line_bytes = 0;
    PT_OK(pcomm_job_input_bytes(job, plain, len));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, 256 * 1024));
    PT_OK(pcomm_job_forward(job, PCOMM_STDOUT, fd));
    PT_OK(pcomm_job_on_line(job, PCOMM_STDOUT, count_bytes, &line_bytes, 0));
    PT_OK(pcomm_run(job));
    assert_int_equal(line_bytes, len);
    assert_int_equal(pcomm_job_bytes(job, PCOMM_STDOUT), len);
    assert_int_equal(pcomm_filter_total_in(f), len);
    pcomm_spool *out = pcomm_job_output(job, PCOMM_STDOUT);
    size_t zlen = (size_t)pcomm_spool_size(out);
    assert_int_equal(zlen, pcomm_filter_total_out(f));
    assert_true(zlen < len);
    unsigned char *z = malloc(zlen);
    assert_int_equal(pcomm_spool_pread(out, z, zlen, 0), (ssize_t)zlen);
    struct pt_bytes back = decompress(z, zlen), file = read_all_fd(fd);
    assert_int_equal(back.len, len);
    assert_memory_equal(back.p, plain, len);
    assert_int_equal(file.len, zlen); /* the file got the very same compressed stream */
    assert_memory_equal(file.p, z, zlen);
    pt_bytes_free(&back);
    pt_bytes_free(&file);
    free(z);
    pcomm_job_free(job);
    close(fd);
    unlink(path);
    free(path);
    free(plain);
}

/* One filter for both streams: one compressed stream holding both, in arrival order; and merged
 * pipeline stderr ("[i] " lines) through a filter of its own. */
static void test_output_filter_shared_and_merged(void **state)
{
    (void)state;
    need(PCOMM_CODEC_GZIP);
    need(PCOMM_CODEC_ZSTD);
    pcomm_cmd *cmd = pt_helper_cmd("print", "out\n", "eprint", "err\n", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_encoder(&f, PCOMM_CODEC_GZIP, 9));
    PT_OK(pcomm_job_filter_output(job, PCOMM_STDOUT, f));
    PT_OK(pcomm_job_filter_output(job, PCOMM_STDERR, f));
    char *path = temp_file("", 0);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    PT_OK(pcomm_job_forward(job, PCOMM_STDOUT, fd));
    PT_OK(pcomm_job_forward(job, PCOMM_STDERR, fd));
    PT_OK(pcomm_run(job));
    pcomm_job_free(job); /* frees f once */
    struct pt_bytes file = read_all_fd(fd), back = decompress(file.p, file.len);
    assert_int_equal(back.len, 8);
    assert_true(!memcmp(back.p, "out\nerr\n", 8) || !memcmp(back.p, "err\nout\n", 8));
    pt_bytes_free(&file);
    pt_bytes_free(&back);
    close(fd);
    unlink(path);
    free(path);

    pcomm_cmd_free(cmd);
    cmd = pt_helper_cmd("eprint", "err\n", NULL); /* no stdout: no SIGPIPE race between them */
    pcomm_pipeline *pl;
    PT_OK(pcomm_pipeline_new(&pl));
    PT_OK(pcomm_pipeline_add_cmd(pl, cmd));
    PT_OK(pcomm_pipeline_add_cmd(pl, cmd));
    pcomm_cmd_free(cmd);
    PT_OK(pcomm_pipeline_set_stderr(pl, PCOMM_STDERR_MERGED));
    job = new_job(pl);
    PT_OK(pcomm_filter_new_encoder(&f, PCOMM_CODEC_ZSTD, -1));
    PT_OK(pcomm_job_filter_output(job, PCOMM_STDERR, f));
    PT_OK(pcomm_job_capture(job, PCOMM_STDERR, MIB));
    PT_OK(pcomm_run(job));
    const void *z;
    size_t zlen;
    PT_OK(pcomm_spool_view(pcomm_job_output(job, PCOMM_STDERR), &z, &zlen));
    back = decompress(z, zlen);
    assert_int_equal(back.len, 16);
    assert_true(!memcmp(back.p, "[0] err\n[1] err\n", 16) ||
                !memcmp(back.p, "[1] err\n[0] err\n", 16));
    pt_bytes_free(&back);
    pcomm_job_free(job);
}

/* A decoder as an output filter, given output that is not compressed: the job fails with the
 * filter's error, the child is killed, and no trailer is written. */
static void test_output_filter_error_fails_the_job(void **state)
{
    (void)state;
    pcomm_cmd *cmd = pt_helper_cmd("print", "not compressed at all\n", "sleep", "30000", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    pcomm_cmd_free(cmd);
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_AUTO));
    PT_OK(pcomm_job_filter_output(job, PCOMM_STDOUT, f));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, MIB));
    double t0 = pt_ms();
    assert_int_equal(pcomm_run(job), PCOMM_EFORMAT);
    assert_true(pt_ms() - t0 < 10000);
    assert_int_equal(pcomm_job_error(job), PCOMM_EFORMAT);
    assert_int_equal(pcomm_job_exit_code(job), 128 + SIGKILL);
    assert_int_equal(pcomm_spool_size(pcomm_job_output(job, PCOMM_STDOUT)), 0);
    pcomm_job_free(job);
}

/* ---- input filters --------------------------------------------------------------------------- */

static pcomm_filter *auto_decoder(void)
{
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_AUTO));
    return f;
}

/* A compressed file decoded into a single command's stdin; into a pty; into a filter stage. */
static void test_input_filter(void **state)
{
    (void)state;
    need(PCOMM_CODEC_BZIP2);
    need(PCOMM_CODEC_GZIP);
    need(PCOMM_CODEC_XZ);
    need(PCOMM_CODEC_ZSTD);
    size_t len = 2 * MIB + 3;
    unsigned char *plain = pt_sample(len, 5);
    struct pt_bytes z = compress(PCOMM_CODEC_BZIP2, plain, len);
    char *path = temp_file(z.p, z.len);

    pcomm_cmd *cmd = pt_helper_cmd("echo", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    pcomm_cmd_free(cmd);
    pcomm_filter *f = auto_decoder();
    PT_OK(pcomm_job_filter_input(job, f));
    assert_ptr_equal(pcomm_job_input_filter(job), f);
    PT_OK(pcomm_job_input_file(job, path));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, MIB));
    PT_OK(pcomm_run(job));
    assert_stdout(job, plain, len);
    assert_int_equal(pcomm_job_bytes(job, PCOMM_STDIN), len);
    assert_int_equal(pcomm_filter_total_in(f), z.len);
    assert_int_equal(pcomm_filter_codec(f), PCOMM_CODEC_BZIP2);
    pcomm_job_free(job);

    /* stdin on a pty: the input channel reads the filter's pipe (text with short lines) */
    static const char text[] = "one\ntwo\nthree\n";
    struct pt_bytes zt = compress(PCOMM_CODEC_GZIP, text, sizeof text - 1);
    cmd = pt_helper_cmd("count", NULL);
    PT_OK(pcomm_cmd_stdio_pty(cmd, 0, 0));
    PT_OK(pcomm_job_new(&job, cmd));
    pcomm_cmd_free(cmd);
    PT_OK(pcomm_job_filter_input(job, auto_decoder()));
    PT_OK(pcomm_job_input_bytes(job, zt.p, zt.len));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, MIB));
    PT_OK(pcomm_job_set_timeout(job, 20000, SIGKILL, 0));
    PT_OK(pcomm_run(job));
    assert_false(pcomm_job_flags(job) & PCOMM_JOB_TIMED_OUT); /* the child saw EOF */
    assert_stdout(job, "14\n", 3);
    pcomm_job_free(job);
    pt_bytes_free(&zt);

    /* the input filter, then a filter stage: gzip inside bzip2, both undone in the parent */
    struct pt_bytes inner = compress(PCOMM_CODEC_GZIP, plain, len);
    struct pt_bytes outer = compress(PCOMM_CODEC_BZIP2, inner.p, inner.len);
    pcomm_pipeline *pl;
    PT_OK(pcomm_pipeline_new(&pl));
    add_decoder(pl, PCOMM_CODEC_GZIP);
    add_helper(pl, "echo");
    job = new_job(pl);
    PT_OK(pcomm_job_filter_input(job, auto_decoder()));
    PT_OK(pcomm_job_input_bytes(job, outer.p, outer.len));
    PT_OK(pcomm_job_capture(job, PCOMM_STDOUT, MIB));
    PT_OK(pcomm_run(job));
    assert_stdout(job, plain, len);
    assert_int_equal(pcomm_filter_total_in(pcomm_job_stage_filter(job, 0)), inner.len);
    pcomm_job_free(job);
    pt_bytes_free(&inner);
    pt_bytes_free(&outer);
    unlink(path);
    free(path);
    pt_bytes_free(&z);
    free(plain);
}

/* Corrupt input through an input filter: the job fails with the filter's error and the command,
 * killed before it could read the end of its input, never exits 0 on a short stream. An input
 * filter without any input is refused. A command that stops reading early stops the filter. */
static void test_input_filter_errors(void **state)
{
    (void)state;
    need(PCOMM_CODEC_XZ);
    size_t len = 4 * MIB;
    unsigned char *plain = pt_sample(len, 6);
    struct pt_bytes z = compress(PCOMM_CODEC_XZ, plain, len);
    z.p[z.len - 5] ^= 0xff; /* the check at the end of the stream */
    pcomm_cmd *cmd = pt_helper_cmd("drain", NULL);
    pcomm_job *job;
    PT_OK(pcomm_job_new(&job, cmd));
    pcomm_filter *f = auto_decoder();
    PT_OK(pcomm_job_filter_input(job, f));
    PT_OK(pcomm_job_input_bytes(job, z.p, z.len));
    int r = pcomm_run(job);
    if (r != -EBADMSG)
        fail_msg("%s (%s)", pcomm_errname(r), pcomm_filter_message(f));
    assert_stage(job, 0, PCOMM_SIGNALED, SIGKILL);
    pcomm_job_free(job);

    PT_OK(pcomm_job_new(&job, cmd));
    PT_OK(pcomm_job_filter_input(job, auto_decoder()));
    assert_int_equal(pcomm_job_filter_input(job, NULL), -EINVAL);
    int fds = pt_count_fds();
    assert_int_equal(pcomm_run(job), -EINVAL); /* no input to filter */
    assert_int_equal(pt_count_fds(), fds);
    pcomm_job_free(job);
    pcomm_cmd_free(cmd);

    z.p[z.len - 5] ^= 0xff;
    cmd = pt_helper_cmd("read", "10", NULL);
    PT_OK(pcomm_job_new(&job, cmd));
    pcomm_cmd_free(cmd);
    PT_OK(pcomm_job_filter_input(job, auto_decoder()));
    PT_OK(pcomm_job_input_bytes(job, z.p, z.len));
    PT_OK(pcomm_run(job));
    assert_int_equal(pcomm_job_exit_code(job), 0);
    assert_true(pcomm_job_flags(job) & PCOMM_JOB_INPUT_SHORT);
    pcomm_job_free(job);
    pt_bytes_free(&z);
    free(plain);
}

/* ---- description ----------------------------------------------------------------------------- */

static void test_pipeline_api(void **state)
{
    (void)state;
    pcomm_pipeline *pl;
    PT_OK(pcomm_pipeline_new(&pl));
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_AUTO));
    assert_int_equal(pcomm_pipeline_add_filter(NULL, f), -EINVAL);
    assert_int_equal(pcomm_pipeline_add_filter(pl, NULL), -EINVAL);
    PT_OK(pcomm_pipeline_add_filter(pl, f));
    assert_int_equal(pcomm_pipeline_add_filter(pl, f), -EBUSY);
    add_helper(pl, "echo");
    assert_int_equal(pcomm_pipeline_length(pl), 2);
    assert_ptr_equal(pcomm_pipeline_filter(pl, 0), f);
    assert_null(pcomm_pipeline_filter(pl, 1));
    assert_null(pcomm_pipeline_filter(pl, 2));
    assert_null(pcomm_pipeline_cmd(pl, 0));
    assert_non_null(pcomm_pipeline_cmd(pl, 1));
    char *text = NULL;
    assert_int_equal(pcomm_pipeline_to_string(pl, &text), -ENOTSUP);
    assert_null(text);
    pcomm_pipeline_free(pl); /* frees f */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_decoder_first),
        PT_TEST(test_encoder_last_and_middle),
        PT_TEST(test_filter_last_inherits_stdout),
        PT_TEST(test_merged_stderr_before_trailing_filter),
        PT_TEST(test_decoder_errors_fail_the_job),
        PT_TEST(test_consumer_stops_early),
        PT_TEST(test_linger_cuts_a_waiting_filter),
        PT_TEST(test_timeout_cuts_filters_alone),
        PT_TEST(test_bomb_through_pipe_is_backpressured),
        PT_TEST(test_output_filter_spool_and_file),
        PT_TEST(test_output_filter_shared_and_merged),
        PT_TEST(test_output_filter_error_fails_the_job),
        PT_TEST(test_input_filter),
        PT_TEST(test_input_filter_errors),
        PT_TEST(test_pipeline_api),
    };
    return PT_RUN(tests);
}
