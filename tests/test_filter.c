/* tests/test_filter.c - pcomm_filter: names and detection, round trips under every chunking
 * and flushing, concatenated streams, strict errors (truncated, bad check, trailing garbage),
 * auto detection and passthrough, caps, memory limits, threads, and the call contract.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "filter_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- names, detection, versions ----------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(pcomm_codec_name(PCOMM_CODEC_GZIP), "gzip");
    assert_string_equal(pcomm_codec_name(PCOMM_CODEC_ZSTD), "zstd");
    assert_string_equal(pcomm_codec_name(PCOMM_CODEC_AUTO), "auto");
    assert_null(pcomm_codec_name(99));
    assert_null(pcomm_codec_name(-1));
    assert_int_equal(pcomm_codec_from_name("gz"), PCOMM_CODEC_GZIP);
    assert_int_equal(pcomm_codec_from_name("GZIP"), PCOMM_CODEC_GZIP);
    assert_int_equal(pcomm_codec_from_name("bz2"), PCOMM_CODEC_BZIP2);
    assert_int_equal(pcomm_codec_from_name("bzip2"), PCOMM_CODEC_BZIP2);
    assert_int_equal(pcomm_codec_from_name("xz"), PCOMM_CODEC_XZ);
    assert_int_equal(pcomm_codec_from_name("zst"), PCOMM_CODEC_ZSTD);
    assert_int_equal(pcomm_codec_from_name("zstd"), PCOMM_CODEC_ZSTD);
    assert_int_equal(pcomm_codec_from_name("none"), PCOMM_CODEC_NONE);
    assert_int_equal(pcomm_codec_from_name("lz4"), -EINVAL);
    assert_int_equal(pcomm_codec_from_name(""), -EINVAL);
    assert_int_equal(pcomm_codec_from_name(NULL), -EINVAL);
    assert_int_equal(pcomm_codec_from_path("build.log.gz"), PCOMM_CODEC_GZIP);
    assert_int_equal(pcomm_codec_from_path("/x/a.TGZ"), PCOMM_CODEC_GZIP);
    assert_int_equal(pcomm_codec_from_path("a.tar.bz2"), PCOMM_CODEC_BZIP2);
    assert_int_equal(pcomm_codec_from_path("a.xz"), PCOMM_CODEC_XZ);
    assert_int_equal(pcomm_codec_from_path("a.zst"), PCOMM_CODEC_ZSTD);
    assert_int_equal(pcomm_codec_from_path("a.log"), PCOMM_CODEC_NONE);
    assert_int_equal(pcomm_codec_from_path(".gz"), PCOMM_CODEC_NONE); /* a hidden file */
    assert_int_equal(pcomm_codec_from_path("dir.gz/file"), PCOMM_CODEC_NONE);
    assert_int_equal(pcomm_codec_from_path(NULL), -EINVAL);
}

static void test_detect(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
        int want;
    } cases[] = {
        {"\x1f\x8b\x08\x00", 4, PCOMM_CODEC_GZIP},
        {"\x1f\x8b", 2, PCOMM_CODEC_GZIP},
        {"\x1f", 1, -EAGAIN},
        {"\x1f\x8c", 2, PCOMM_CODEC_NONE},
        {"BZh91AY", 7, PCOMM_CODEC_BZIP2},
        {"BZh1", 4, PCOMM_CODEC_BZIP2},
        {"BZh", 3, -EAGAIN},
        {"BZh0", 4, PCOMM_CODEC_NONE},
        {"BZx", 3, PCOMM_CODEC_NONE},
        {"\xfd"
         "7zXZ\0\0\x04",
         8, PCOMM_CODEC_XZ},
        {"\xfd"
         "7zXZ",
         5, -EAGAIN},
        {"\xfd"
         "7zXY\0",
         6, PCOMM_CODEC_NONE},
        {"\x28\xb5\x2f\xfd\x24", 5, PCOMM_CODEC_ZSTD},
        {"\x28\xb5\x2f", 3, -EAGAIN},
        {"\x50\x2a\x4d\x18", 4, PCOMM_CODEC_ZSTD}, /* skippable frame */
        {"\x5f\x2a\x4d\x18\x00", 5, PCOMM_CODEC_ZSTD},
        {"\x5f\x2a", 2, -EAGAIN},
        {"\x60\x2a\x4d\x18", 4, PCOMM_CODEC_NONE},
        {"hello, world\n", 13, PCOMM_CODEC_NONE},
        {"B", 1, -EAGAIN},
        {"h", 1, PCOMM_CODEC_NONE},
        {"", 0, -EAGAIN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = pcomm_codec_detect(cases[i].bytes, cases[i].len);
        if (got != cases[i].want)
            fail_msg("case %zu: detect gave %d, want %d", i, got, cases[i].want);
    }
    assert_int_equal(pcomm_codec_detect(NULL, 0), -EAGAIN);
    assert_int_equal(pcomm_codec_detect(NULL, 3), -EINVAL);
}

static void test_supported_and_versions(void **state)
{
    (void)state;
    assert_int_equal(pcomm_filter_supported(PCOMM_CODEC_NONE), 1);
    assert_int_equal(pcomm_filter_supported(PCOMM_CODEC_AUTO), 1);
    assert_int_equal(pcomm_filter_supported(42), 0);
    assert_int_equal(pcomm_filter_supported(-1), 0);
    char buf[256];
    int n = pcomm_filter_versions(buf, sizeof buf);
    assert_true(n > 0 && (size_t)n == strlen(buf));
#ifdef PCOMM_TEST_ALL_CODECS
    /* This build has every codec: the runner says so, so a codec that silently went missing
     * fails here. */
    for (int i = 0; i < PT_NCODECS; i++) {
        assert_int_equal(pcomm_filter_supported(pt_codecs[i]), 1);
        assert_non_null(pcomm_codec_version(pt_codecs[i]));
    }
    assert_non_null(strstr(buf, "gzip (zlib 1."));
    assert_non_null(strstr(buf, "bzip2 (1.0."));
    assert_non_null(strstr(buf, "xz (5."));
    assert_non_null(strstr(buf, "zstd (1."));
    assert_null(strstr(buf, "too old"));
#endif
    /* snprintf semantics: truncated output, full length returned. */
    char small[8];
    assert_int_equal(pcomm_filter_versions(small, sizeof small), n);
    assert_int_equal(strlen(small), n < 7 ? n : 7);
    assert_int_equal(pcomm_filter_versions(NULL, 0), n);
    assert_int_equal(pcomm_filter_versions(NULL, 4), -EINVAL);
    assert_null(pcomm_codec_version(PCOMM_CODEC_NONE));
}

/* A build without a codec says so, and an auto decoder that meets its data says why it stops. */
static void test_codec_not_compiled_in(void **state)
{
    (void)state;
    static const char *const magic[] = {"\x1f\x8b\x08\0\0\0\0\0", "BZh91AY&SY",
                                        "\xfd"
                                        "7zXZ\0\0\x04",
                                        "\x28\xb5\x2f\xfd\0\0\0\0"};
    int missing = 0;
    for (int i = 0; i < PT_NCODECS; i++) {
        int c = pt_codecs[i];
        if (pcomm_filter_supported(c))
            continue;
        missing++;
        pcomm_filter *f;
        assert_int_equal(pcomm_filter_new_encoder(&f, c, -1), PCOMM_EUNSUPPORTED);
        assert_int_equal(pcomm_filter_new_decoder(&f, c), PCOMM_EUNSUPPORTED);
        assert_null(pcomm_codec_version(c));
        PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_AUTO));
        PT_OK(pcomm_filter_set_passthrough(f, 1)); /* known data is never passed through */
        unsigned char out[64];
        size_t il = 8, ol = sizeof out;
        assert_int_equal(pcomm_filter_process(f, magic[i], &il, out, &ol, PCOMM_FILTER_FINISH),
                         PCOMM_EUNSUPPORTED);
        assert_int_equal(ol, 0);
        assert_non_null(strstr(pcomm_filter_message(f), "no usable"));
        pcomm_filter_free(f);
    }
#ifdef PCOMM_TEST_ALL_CODECS
    assert_int_equal(missing, 0);
#else
    if (!missing)
        skip();
#endif
}

/* ---- the call contract ---------------------------------------------------------------------- */

static void test_bad_arguments(void **state)
{
    (void)state;
    pcomm_filter *f = (pcomm_filter *)1;
    assert_int_equal(pcomm_filter_new_encoder(NULL, PCOMM_CODEC_NONE, -1), -EINVAL);
    assert_int_equal(pcomm_filter_new_encoder(&f, PCOMM_CODEC_AUTO, -1), -EINVAL);
    assert_null(f);
    assert_int_equal(pcomm_filter_new_encoder(&f, 17, -1), -EINVAL);
    assert_int_equal(pcomm_filter_new_decoder(&f, -3), -EINVAL);
    assert_int_equal(pcomm_filter_new_decoder(NULL, PCOMM_CODEC_AUTO), -EINVAL);
    static const int bad_levels[][2] = {
        {PCOMM_CODEC_GZIP, 0},   {PCOMM_CODEC_GZIP, 10}, {PCOMM_CODEC_BZIP2, 0},
        {PCOMM_CODEC_BZIP2, 10}, {PCOMM_CODEC_XZ, 10},   {PCOMM_CODEC_ZSTD, 0},
        {PCOMM_CODEC_ZSTD, 23},
    };
    for (size_t i = 0; i < sizeof bad_levels / sizeof bad_levels[0]; i++)
        if (pcomm_filter_supported(bad_levels[i][0]))
            assert_int_equal(pcomm_filter_new_encoder(&f, bad_levels[i][0], bad_levels[i][1]),
                             -EINVAL);
    assert_int_equal(pcomm_filter_set_threads(NULL, 1), -EINVAL);
    assert_int_equal(pcomm_filter_set_limits(NULL, 0, 0, 0), -EINVAL);
    assert_int_equal(pcomm_filter_set_passthrough(NULL, 1), -EINVAL);
    assert_string_equal(pcomm_filter_message(NULL), "");
    assert_int_equal(pcomm_filter_codec(NULL), -EINVAL);
    assert_int_equal(pcomm_filter_total_in(NULL), 0);
    pcomm_filter_free(NULL);

    PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_NONE));
    size_t il = 1, ol = 1;
    char buf[4];
    assert_int_equal(pcomm_filter_process(NULL, buf, &il, buf, &ol, 0), -EINVAL);
    assert_int_equal(pcomm_filter_process(f, NULL, &il, buf, &ol, 0), -EINVAL);
    assert_int_equal(pcomm_filter_process(f, buf, &il, NULL, &ol, 0), -EINVAL);
    assert_int_equal(pcomm_filter_process(f, buf, NULL, buf, &ol, 0), -EINVAL);
    assert_int_equal(pcomm_filter_process(f, buf, &il, buf, &ol, 7), -EINVAL);
    assert_int_equal(pcomm_filter_set_threads(f, 2), -EINVAL); /* a decoder */
    assert_int_equal(pcomm_filter_set_passthrough(f, 1), -EINVAL);
    assert_string_equal(pcomm_filter_message(f), "");
    pcomm_filter_free(f);

    PT_OK(pcomm_filter_new_encoder(&f, PCOMM_CODEC_NONE, 1));
    assert_int_equal(pcomm_filter_set_limits(f, 1, 1, 1), -EINVAL); /* an encoder */
    assert_int_equal(pcomm_filter_set_threads(f, 1), 0);
    assert_int_equal(pcomm_filter_set_threads(f, 2), -EINVAL); /* no threads to have */
    assert_int_equal(pcomm_filter_set_threads(f, -1), -EINVAL);
    pcomm_filter_free(f);
}

/* END is final, FINISH is a promise, errors are sticky. */
static void test_end_and_sticky_errors(void **state)
{
    (void)state;
    for (int i = 0; i < PT_NCODECS; i++) {
        int c = pt_codecs[i];
        if (!pcomm_filter_supported(c))
            continue;
        pcomm_filter *f;
        PT_OK(pcomm_filter_new_encoder(&f, c, 1));
        unsigned char out[4096];
        size_t il = 5, ol = sizeof out;
        assert_int_equal(pcomm_filter_process(f, "hello", &il, out, &ol, PCOMM_FILTER_FINISH),
                         PCOMM_FILTER_END);
        assert_int_equal(il, 5);
        size_t total = ol;
        assert_int_equal(pcomm_filter_total_out(f), total);
        il = 0;
        ol = sizeof out;
        assert_int_equal(pcomm_filter_process(f, NULL, &il, out, &ol, PCOMM_FILTER_FINISH),
                         PCOMM_FILTER_END);
        assert_int_equal(ol, 0);
        il = 1;
        assert_int_equal(pcomm_filter_process(f, "x", &il, out, &ol, PCOMM_FILTER_FINISH), -EINVAL);
        assert_int_equal(pcomm_filter_set_threads(f, 1), -EBUSY);
        pcomm_filter_free(f);

        /* A decoder that failed stays failed, even when given good data afterwards. */
        PT_OK(pcomm_filter_new_decoder(&f, c));
        il = 9;
        ol = sizeof out;
        int r = pcomm_filter_process(f, "not data!", &il, out, &ol, PCOMM_FILTER_FINISH);
        assert_int_equal(r, -EBADMSG);
        assert_true(strlen(pcomm_filter_message(f)) > 0);
        il = 0;
        assert_int_equal(pcomm_filter_process(f, NULL, &il, out, &ol, PCOMM_FILTER_FINISH),
                         -EBADMSG);
        pcomm_filter_free(f);

        /* RUN after FINISH breaks the promise. */
        PT_OK(pcomm_filter_new_encoder(&f, c, 1));
        il = 5;
        ol = 0;
        assert_int_equal(pcomm_filter_process(f, "hello", &il, out, &ol, PCOMM_FILTER_FINISH),
                         PCOMM_FILTER_MORE);
        il = 5;
        ol = sizeof out;
        assert_int_equal(pcomm_filter_process(f, "hello", &il, out, &ol, PCOMM_FILTER_RUN),
                         -EINVAL);
        pcomm_filter_free(f);
    }
}

/* One call never takes more than the quantum, however much is offered. */
static void test_bounded_work(void **state)
{
    (void)state;
    size_t len = 3 * PCOMM_FILTER_QUANTUM;
    unsigned char *in = pt_sample(len, 5), *out = malloc(len);
    for (int i = 0; i < PT_NCODECS; i++) {
        if (!pcomm_filter_supported(pt_codecs[i]))
            continue;
        pcomm_filter *f;
        PT_OK(pcomm_filter_new_encoder(&f, pt_codecs[i], 1));
        size_t il = len, ol = len;
        assert_int_equal(pcomm_filter_process(f, in, &il, out, &ol, PCOMM_FILTER_RUN),
                         PCOMM_FILTER_MORE);
        assert_true(il > 0 && il <= PCOMM_FILTER_QUANTUM);
        pcomm_filter_free(f);
    }
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_NONE));
    size_t il = len, ol = len;
    assert_int_equal(pcomm_filter_process(f, in, &il, out, &ol, PCOMM_FILTER_FINISH),
                     PCOMM_FILTER_MORE);
    assert_int_equal(il, PCOMM_FILTER_QUANTUM);
    assert_int_equal(ol, PCOMM_FILTER_QUANTUM);
    pcomm_filter_free(f);
    free(in);
    free(out);
}

/* ---- round trips ------------------------------------------------------------------------------
 */

static void round_trip(int codec, int level, const unsigned char *data, size_t len,
                       const struct pt_drive *enc, const struct pt_drive *dec)
{
    pcomm_filter *f;
    struct pt_bytes z = {0}, back = {0};
    PT_OK(pcomm_filter_new_encoder(&f, codec, level));
    int r = pt_drive_filter(f, data, len, enc, &z);
    if (r != PCOMM_FILTER_END)
        fail_msg("%s -%d encode: %d %s", pcomm_codec_name(codec), level, r,
                 pcomm_filter_message(f));
    assert_int_equal(pcomm_filter_total_in(f), len);
    assert_int_equal(pcomm_filter_total_out(f), z.len);
    pcomm_filter_free(f);
    PT_OK(pcomm_filter_new_decoder(&f, codec));
    r = pt_drive_filter(f, z.p, z.len, dec, &back);
    if (r != PCOMM_FILTER_END)
        fail_msg("%s -%d decode (in %zu out %zu flush %zu): %d %s", pcomm_codec_name(codec), level,
                 dec->in_chunk, dec->out_chunk, enc->flush_every, r, pcomm_filter_message(f));
    assert_int_equal(pcomm_filter_total_in(f), z.len);
    assert_int_equal(back.len, len);
    assert_true(len == 0 || memcmp(back.p, data, len) == 0);
    pcomm_filter_free(f);
    pt_bytes_free(&z);
    pt_bytes_free(&back);
}

static void test_round_trip_chunks(void **state)
{
    (void)state;
    /* Input and output chunk sizes from 1 byte to 1 MiB, fixed and random. */
    static const size_t chunks[][2] = {
        {1, 1}, {1, 65536}, {65536, 1}, {7, 13}, {4096, 4096}, {65536, 65536}, {1 << 20, 1 << 20},
    };
    size_t len = 200000;
    unsigned char *data = pt_sample(len, 1);
    for (int i = 0; i < PT_NCODECS; i++) {
        int c = pt_codecs[i];
        if (!pcomm_filter_supported(c))
            continue;
        for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
            struct pt_drive d = {.in_chunk = chunks[k][0], .out_chunk = chunks[k][1]};
            round_trip(c, 1, data, len, &d, &d);
        }
        struct pt_drive rnd = {
            .in_chunk = 3000, .out_chunk = 3000, .random_chunks = true, .seed = 7};
        round_trip(c, -1, data, len, &rnd, &rnd);
        /* All data with RUN, then FINISH alone: the shape of an event loop at EOF. */
        struct pt_drive late = {.in_chunk = 65536, .out_chunk = 65536, .late_finish = true};
        round_trip(c, -1, data, len, &late, &late);
        late.in_chunk = late.out_chunk = 1;
        round_trip(c, -1, data, 5000, &late, &late);
    }
    free(data);
}

static void test_round_trip_levels(void **state)
{
    (void)state;
    static const int levels[][4] = {
        {PCOMM_CODEC_GZIP, 1, 6, 9},
        {PCOMM_CODEC_BZIP2, 1, 5, 9},
        {PCOMM_CODEC_XZ, 0, 3, 9},
        {PCOMM_CODEC_ZSTD, 1, 3, 19},
    };
    size_t len = 300000;
    unsigned char *data = pt_sample(len, 2);
    struct pt_drive d = {.in_chunk = 65536, .out_chunk = 65536};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (!pcomm_filter_supported(levels[i][0]))
            continue;
        for (int k = 1; k < 4; k++)
            round_trip(levels[i][0], levels[i][k], data, len, &d, &d);
    }
    free(data);
}

/* Flushes in between: the stream stays valid, and (except bzip2, whose bit buffer may hold a
 * few bits back) everything before a flush decodes from the output before it. */
static void test_flush(void **state)
{
    (void)state;
    size_t len = 100000;
    unsigned char *data = pt_sample(len, 3);
    for (int i = 0; i < PT_NCODECS; i++) {
        int c = pt_codecs[i];
        if (!pcomm_filter_supported(c))
            continue;
        static const size_t every[] = {1, 999, 40000};
        for (size_t k = 0; k < 3; k++) {
            size_t n = every[k] == 1 ? 3000 : len; /* a flush per byte: keep it short */
            struct pt_drive enc = {.in_chunk = 5000, .out_chunk = 777, .flush_every = every[k]};
            struct pt_drive dec = {.in_chunk = 100, .out_chunk = 65536};
            round_trip(c, 2, data, n, &enc, &dec);
        }
        if (c == PCOMM_CODEC_BZIP2)
            continue;
        /* Flush at 50000 and decode only what came out by then. */
        pcomm_filter *e, *d;
        PT_OK(pcomm_filter_new_encoder(&e, c, 2));
        PT_OK(pcomm_filter_new_decoder(&d, c));
        struct pt_bytes z = {0}, back = {0};
        unsigned char buf[65536];
        size_t off = 0;
        int r;
        do {
            size_t il = 50000 - off, ol = sizeof buf;
            r = pcomm_filter_process(e, data + off, &il, buf, &ol, PCOMM_FILTER_FLUSH);
            off += il;
            pt_bytes_add(&z, buf, ol);
        } while (r == PCOMM_FILTER_MORE);
        assert_int_equal(r, PCOMM_FILTER_FLUSHED);
        size_t zoff = 0;
        do {
            size_t il = z.len - zoff, ol = sizeof buf;
            r = pcomm_filter_process(d, z.p + zoff, &il, buf, &ol, PCOMM_FILTER_FLUSH);
            zoff += il;
            pt_bytes_add(&back, buf, ol);
        } while (r == PCOMM_FILTER_MORE);
        assert_int_equal(r, PCOMM_FILTER_FLUSHED);
        assert_int_equal(back.len, 50000);
        assert_memory_equal(back.p, data, 50000);
        pcomm_filter_free(e);
        pcomm_filter_free(d);
        pt_bytes_free(&z);
        pt_bytes_free(&back);
    }
    free(data);
}

static void test_empty_input(void **state)
{
    (void)state;
    struct pt_drive d = {.in_chunk = 1, .out_chunk = 1};
    for (int i = 0; i < PT_NCODECS; i++)
        if (pcomm_filter_supported(pt_codecs[i]))
            round_trip(pt_codecs[i], -1, (const unsigned char *)"", 0, &d, &d);
    /* Empty input is not a compressed stream: the tools say so too. */
    for (int i = 0; i < PT_NCODECS; i++) {
        if (!pcomm_filter_supported(pt_codecs[i]))
            continue;
        struct pt_bytes out = {0};
        char msg[256];
        assert_int_equal(pt_decode(pt_codecs[i], "", 0, &out, msg, sizeof msg), -EBADMSG);
        assert_non_null(strstr(msg, "empty input"));
        assert_int_equal(out.len, 0);
    }
    /* The identity codec. */
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_encoder(&f, PCOMM_CODEC_NONE, 5));
    size_t il = 0, ol = 0;
    assert_int_equal(pcomm_filter_process(f, NULL, &il, NULL, &ol, PCOMM_FILTER_FINISH),
                     PCOMM_FILTER_END);
    pcomm_filter_free(f);
}

/* Members and streams written one after another decode as one stream, with 1-byte chunks
 * too (a member boundary inside every call). */
static void test_concatenated(void **state)
{
    (void)state;
    size_t la = 70000, lb = 30000;
    unsigned char *a = pt_sample(la, 4), *b = pt_sample(lb, 5);
    for (int i = 0; i < PT_NCODECS; i++) {
        int c = pt_codecs[i];
        if (!pcomm_filter_supported(c))
            continue;
        struct pt_bytes z = {0}, want = {0};
        pt_encode(c, 1, a, la, &z);
        pt_encode(c, 1, "", 0, &z); /* an empty member in the middle */
        pt_encode(c, 9, b, lb, &z);
        pt_bytes_add(&want, a, la);
        pt_bytes_add(&want, b, lb);
        if (c == PCOMM_CODEC_XZ) /* xz stream padding between and after streams is valid */
            pt_bytes_add(&z, "\0\0\0\0", 4);
        if (c == PCOMM_CODEC_ZSTD) /* so is a zstd skippable frame */
            pt_bytes_add(&z, "\x53\x2a\x4d\x18\x03\0\0\0abc", 11);
        static const size_t chunks[] = {1, 10, 65536};
        for (size_t k = 0; k < 3; k++) {
            pcomm_filter *f;
            PT_OK(pcomm_filter_new_decoder(&f, k == 1 ? PCOMM_CODEC_AUTO : c));
            struct pt_bytes out = {0};
            struct pt_drive d = {
                .in_chunk = chunks[k], .out_chunk = chunks[2 - k], .late_finish = k != 1};
            int r = pt_drive_filter(f, z.p, z.len, &d, &out);
            if (r != PCOMM_FILTER_END)
                fail_msg("%s: %d %s", pcomm_codec_name(c), r, pcomm_filter_message(f));
            assert_int_equal(out.len, want.len);
            assert_memory_equal(out.p, want.p, want.len);
            assert_int_equal(pcomm_filter_codec(f), c);
            pcomm_filter_free(f);
            pt_bytes_free(&out);
        }
        pt_bytes_free(&z);
        pt_bytes_free(&want);
    }
    free(a);
    free(b);
}

/* ---- strict decoding ------------------------------------------------------------------------- */

static void expect_bad(int codec, const unsigned char *z, size_t len, const char *what,
                       const char *want_msg)
{
    static const size_t chunks[] = {65536, 1};
    for (size_t k = 0; k < 2; k++) {
        pcomm_filter *f;
        PT_OK(pcomm_filter_new_decoder(&f, codec));
        struct pt_bytes out = {0};
        struct pt_drive d = {.in_chunk = chunks[k], .out_chunk = 65536};
        int r = pt_drive_filter(f, z, len, &d, &out);
        const char *msg = pcomm_filter_message(f);
        if (r != -EBADMSG)
            fail_msg("%s, %s: got %d (%s), want -EBADMSG", pcomm_codec_name(codec), what, r, msg);
        if (want_msg && !strstr(msg, want_msg))
            fail_msg("%s, %s: message '%s' lacks '%s'", pcomm_codec_name(codec), what, msg,
                     want_msg);
        pcomm_filter_free(f);
        pt_bytes_free(&out);
    }
}

/* Where each format keeps its checksum, counted from the end of a single stream. */
static size_t check_offset_from_end(int codec)
{
    switch (codec) {
    case PCOMM_CODEC_GZIP: return 8;  /* CRC-32, then ISIZE */
    case PCOMM_CODEC_BZIP2: return 5; /* combined CRC (bit-aligned: 4 bytes + padding) */
    case PCOMM_CODEC_XZ: return 0;    /* found below: the CRC64 before the index */
    case PCOMM_CODEC_ZSTD: return 4;  /* content checksum */
    default: return 0;
    }
}

static void test_truncated_corrupt_trailing(void **state)
{
    (void)state;
    size_t len = 50000;
    unsigned char *data = pt_sample(len, 6);
    for (int i = 0; i < PT_NCODECS; i++) {
        int c = pt_codecs[i];
        if (!pcomm_filter_supported(c))
            continue;
        struct pt_bytes z = {0};
        pt_encode(c, 6, data, len, &z);
        /* Truncated anywhere: after one byte, in the middle, one byte short. */
        size_t cuts[] = {1, z.len / 2, z.len - 1};
        for (size_t k = 0; k < 3; k++)
            expect_bad(c, z.p, cuts[k], "truncated", "truncated input");
        /* A bad checksum. */
        unsigned char *bad = malloc(z.len + 16);
        memcpy(bad, z.p, z.len);
        size_t at = check_offset_from_end(c);
        if (c == PCOMM_CODEC_XZ) {
            /* footer 12 + index (>= 12 here: 1 block) + the block's CRC64 of 8 bytes. Find the
             * index: the byte 0x00 indicator right after the check; simpler: scan back from
             * the footer's backward size. */
            uint32_t bsize;
            memcpy(&bsize, z.p + z.len - 8, 4);
            size_t index_size = ((size_t)bsize + 1) * 4;
            at = 12 + index_size + 8;
        }
        bad[z.len - at] ^= 0x01;
        expect_bad(c, bad, z.len, "bad check",
                   c == PCOMM_CODEC_GZIP   ? "bad CRC"
                   : c == PCOMM_CODEC_ZSTD ? "bad checksum"
                                           : NULL);
        /* Corrupted in the middle. */
        memcpy(bad, z.p, z.len);
        bad[z.len / 2] ^= 0x55;
        bad[z.len / 2 + 1] ^= 0xaa;
        expect_bad(c, bad, z.len, "corrupt", NULL);
        /* Trailing garbage: text, one byte, zeros (gzip -d would ignore zeros), more garbage
         * after a second stream. */
        static const char *const tails[] = {"garbage!", "x", "\0\0\0\0\0\0\0\0\0\0\0\0"};
        static const size_t tail_lens[] = {8, 1, 12};
        for (size_t k = 0; k < 3; k++) {
            if (c == PCOMM_CODEC_XZ && k == 2)
                continue; /* xz: zero padding in multiples of 4 is valid (see concatenated) */
            memcpy(bad, z.p, z.len);
            memcpy(bad + z.len, tails[k], tail_lens[k]);
            expect_bad(c, bad, z.len + tail_lens[k], "trailing garbage",
                       c == PCOMM_CODEC_XZ && k == 1 ? NULL : "trailing garbage");
        }
        free(bad);
        pt_bytes_free(&z);
    }
    free(data);
}

/* ---- auto detection and passthrough --------------------------------------------------------- */

static void test_auto(void **state)
{
    (void)state;
    size_t len = 20000;
    unsigned char *data = pt_sample(len, 7);
    for (int i = 0; i < PT_NCODECS; i++) {
        int c = pt_codecs[i];
        if (!pcomm_filter_supported(c))
            continue;
        struct pt_bytes z = {0};
        pt_encode(c, -1, data, len, &z);
        static const size_t chunks[] = {1, 2, 3, 5, 4096};
        for (size_t k = 0; k < 5; k++) {
            pcomm_filter *f;
            PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_AUTO));
            PT_OK(pcomm_filter_set_passthrough(f, k % 2));
            assert_int_equal(pcomm_filter_codec(f), PCOMM_CODEC_AUTO);
            struct pt_bytes out = {0};
            struct pt_drive d = {.in_chunk = chunks[k], .out_chunk = chunks[4 - k]};
            assert_int_equal(pt_drive_filter(f, z.p, z.len, &d, &out), PCOMM_FILTER_END);
            assert_int_equal(pcomm_filter_codec(f), c);
            assert_int_equal(out.len, len);
            assert_memory_equal(out.p, data, len);
            assert_int_equal(pcomm_filter_total_in(f), z.len);
            assert_int_equal(pcomm_filter_total_out(f), len);
            assert_int_equal(pcomm_filter_set_passthrough(f, 1), -EBUSY);
            pcomm_filter_free(f);
            pt_bytes_free(&out);
        }
        pt_bytes_free(&z);
    }
    free(data);
}

static void test_passthrough(void **state)
{
    (void)state;
    static const char *const plain[] = {"hello, world\n", "B", "BZ", "\x1f", "", "BZh0 text"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        size_t len = strlen(plain[i]);
        for (size_t chunk = 1; chunk <= 8; chunk *= 8) {
            pcomm_filter *f;
            PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_AUTO));
            PT_OK(pcomm_filter_set_passthrough(f, 1));
            struct pt_bytes out = {0};
            struct pt_drive d = {.in_chunk = chunk, .out_chunk = chunk};
            assert_int_equal(pt_drive_filter(f, plain[i], len, &d, &out), PCOMM_FILTER_END);
            assert_int_equal(out.len, len);
            assert_true(len == 0 || memcmp(out.p, plain[i], len) == 0);
            assert_int_equal(pcomm_filter_codec(f), PCOMM_CODEC_NONE);
            pcomm_filter_free(f);
            pt_bytes_free(&out);

            PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_AUTO));
            int r = pt_drive_filter(f, plain[i], len, &d, &out);
            assert_int_equal(r, PCOMM_EFORMAT);
            assert_int_equal(out.len, 0);
            assert_non_null(strstr(pcomm_filter_message(f), len ? "unknown format" : "empty"));
            pcomm_filter_free(f);
            pt_bytes_free(&out);
        }
    }
    /* A large plain input passes through whole. */
    size_t len = 3 << 20;
    unsigned char *data = pt_sample(len, 8);
    data[0] = 'x';
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_decoder(&f, PCOMM_CODEC_AUTO));
    PT_OK(pcomm_filter_set_passthrough(f, 1));
    struct pt_bytes out = {0};
    assert_int_equal(pt_filter_all(f, data, len, &out), PCOMM_FILTER_END);
    assert_int_equal(out.len, len);
    assert_memory_equal(out.p, data, len);
    pcomm_filter_free(f);
    pt_bytes_free(&out);
    free(data);
}

/* ---- caps and limits ---------------------------------------------------------------------------
 */

static int decode_capped(int codec, const struct pt_bytes *z, uint64_t cap, uint64_t ratio,
                         uint64_t memlimit, size_t chunk, struct pt_bytes *out, char *msg)
{
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_decoder(&f, codec));
    PT_OK(pcomm_filter_set_limits(f, cap, ratio, memlimit));
    struct pt_drive d = {.in_chunk = chunk, .out_chunk = chunk};
    int r = pt_drive_filter(f, z->p, z->len, &d, out);
    assert_int_equal(pcomm_filter_total_out(f), out->len);
    snprintf(msg, 256, "%s", pcomm_filter_message(f));
    pcomm_filter_free(f);
    return r;
}

static void test_output_cap(void **state)
{
    (void)state;
    size_t len = 100000;
    unsigned char *data = pt_sample(len, 9);
    for (int i = 0; i < PT_NCODECS + 1; i++) {
        int c = i < PT_NCODECS ? pt_codecs[i] : PCOMM_CODEC_NONE;
        if (!pcomm_filter_supported(c))
            continue;
        struct pt_bytes z = {0};
        pt_encode(c, 1, data, len, &z);
        char msg[256];
        static const size_t chunks[] = {1, 1000, 65536};
        for (size_t k = 0; k < 3; k++) {
            struct pt_bytes out = {0};
            /* A stream exactly as long as the cap is fine. */
            assert_int_equal(decode_capped(c, &z, len, 0, 0, chunks[k], &out, msg),
                             PCOMM_FILTER_END);
            assert_int_equal(out.len, len);
            pt_bytes_free(&out);
            /* One byte over: the cap error, and not one byte past the cap. */
            assert_int_equal(decode_capped(c, &z, len - 1, 0, 0, chunks[k], &out, msg), PCOMM_ECAP);
            assert_int_equal(out.len, len - 1);
            assert_memory_equal(out.p, data, len - 1);
            assert_non_null(strstr(msg, "output cap"));
            pt_bytes_free(&out);
        }
        pt_bytes_free(&z);
    }
    free(data);
}

static void test_ratio_cap(void **state)
{
    (void)state;
    size_t len = 8 << 20;
    unsigned char *zeros = calloc(1, len);
    for (int i = 0; i < PT_NCODECS; i++) {
        int c = pt_codecs[i];
        if (!pcomm_filter_supported(c))
            continue;
        struct pt_bytes z = {0}, out = {0};
        pt_encode(c, 9, zeros, len, &z);
        uint64_t ratio = len / z.len / 2; /* half the real ratio: must trip */
        char msg[256];
        assert_int_equal(decode_capped(c, &z, 0, ratio, 0, 65536, &out, msg), PCOMM_ERATIO);
        assert_non_null(strstr(msg, "compression bomb"));
        assert_true(out.len >= PCOMM_FILTER_RATIO_FLOOR);
        assert_true(out.len <= ratio * z.len);
        pt_bytes_free(&out);
        /* Twice the real ratio: passes. */
        assert_int_equal(decode_capped(c, &z, 0, ratio * 4, 0, 65536, &out, msg), PCOMM_FILTER_END);
        assert_int_equal(out.len, len);
        pt_bytes_free(&out);
        /* Small outputs are never bombs, whatever the ratio. */
        struct pt_bytes small = {0};
        pt_encode(c, 9, zeros, 100000, &small);
        assert_int_equal(decode_capped(c, &small, 0, 1, 0, 4096, &out, msg), PCOMM_FILTER_END);
        pt_bytes_free(&out);
        pt_bytes_free(&small);
        pt_bytes_free(&z);
    }
    free(zeros);
}

static void test_memlimit(void **state)
{
    (void)state;
    size_t len = 200000;
    unsigned char *data = pt_sample(len, 10);
    char msg[256];
    if (pcomm_filter_supported(PCOMM_CODEC_XZ)) {
        struct pt_bytes z = {0}, out = {0};
        pt_encode(PCOMM_CODEC_XZ, 9, data, len, &z); /* a 64 MiB dictionary: ~65 MiB to decode */
        assert_int_equal(decode_capped(PCOMM_CODEC_XZ, &z, 0, 0, 32 << 20, 4096, &out, msg),
                         PCOMM_EMEMLIMIT);
        assert_non_null(strstr(msg, "more than the limit of 32 MiB"));
        assert_int_equal(out.len, 0);
        /* The default limit is enough for xz -9, and 0 means none. */
        assert_int_equal(
            decode_capped(PCOMM_CODEC_XZ, &z, 0, 0, PCOMM_FILTER_DEFAULT_MEMLIMIT, 4096, &out, msg),
            PCOMM_FILTER_END);
        pt_bytes_free(&out);
        assert_int_equal(decode_capped(PCOMM_CODEC_XZ, &z, 0, 0, 0, 4096, &out, msg),
                         PCOMM_FILTER_END);
        pt_bytes_free(&out);
        pt_bytes_free(&z);
    }
    if (pcomm_filter_supported(PCOMM_CODEC_ZSTD)) {
        /* Streamed in pieces, so the encoder cannot shrink the window to the input. */
        pcomm_filter *f;
        PT_OK(pcomm_filter_new_encoder(&f, PCOMM_CODEC_ZSTD, 19));
        struct pt_bytes z = {0}, out = {0};
        struct pt_drive d = {.in_chunk = 1000, .out_chunk = 65536};
        assert_int_equal(pt_drive_filter(f, data, len, &d, &z), PCOMM_FILTER_END);
        pcomm_filter_free(f);
        assert_int_equal(decode_capped(PCOMM_CODEC_ZSTD, &z, 0, 0, 1 << 20, 4096, &out, msg),
                         PCOMM_EMEMLIMIT);
        assert_non_null(strstr(msg, "memory limit"));
        assert_int_equal(decode_capped(PCOMM_CODEC_ZSTD, &z, 0, 0, 0, 4096, &out, msg),
                         PCOMM_FILTER_END);
        pt_bytes_free(&out);
        pt_bytes_free(&z);
    }
    free(data);
}

/* ---- threads ----------------------------------------------------------------------------------
 */

static void test_threads(void **state)
{
    (void)state;
    size_t len = 7 << 20; /* xz -1 blocks are 3 MiB: three of them */
    unsigned char *data = pt_sample(len, 11);
    static const int mt[] = {PCOMM_CODEC_XZ, PCOMM_CODEC_ZSTD};
    for (int i = 0; i < 2; i++) {
        if (!pcomm_filter_supported(mt[i]))
            continue;
        pcomm_filter *f;
        PT_OK(pcomm_filter_new_encoder(&f, mt[i], 1));
        PT_OK(pcomm_filter_set_threads(f, 2));
        PT_OK(pcomm_filter_set_threads(f, 3));
        PT_OK(pcomm_filter_set_threads(f, 2));
        struct pt_bytes z = {0}, out = {0};
        struct pt_drive d = {.in_chunk = 65536, .out_chunk = 65536, .flush_every = 5 << 20};
        assert_int_equal(pt_drive_filter(f, data, len, &d, &z), PCOMM_FILTER_END);
        assert_int_equal(pcomm_filter_set_threads(f, 1), -EBUSY);
        pcomm_filter_free(f);
        char msg[256];
        assert_int_equal(decode_capped(mt[i], &z, 0, 0, 0, 65536, &out, msg), PCOMM_FILTER_END);
        assert_int_equal(out.len, len);
        assert_memory_equal(out.p, data, len);
        pt_bytes_free(&out);
        pt_bytes_free(&z);
        /* Back to one thread before starting, and 0 = one per CPU. */
        PT_OK(pcomm_filter_new_encoder(&f, mt[i], 1));
        PT_OK(pcomm_filter_set_threads(f, 0));
        PT_OK(pcomm_filter_set_threads(f, 1));
        assert_int_equal(pt_filter_all(f, data, 100000, &z), PCOMM_FILTER_END);
        pcomm_filter_free(f);
        pt_bytes_free(&z);
    }
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PT_TEST(test_names),
        PT_TEST(test_detect),
        PT_TEST(test_supported_and_versions),
        PT_TEST(test_codec_not_compiled_in),
        PT_TEST(test_bad_arguments),
        PT_TEST(test_end_and_sticky_errors),
        PT_TEST(test_bounded_work),
        PT_TEST(test_round_trip_chunks),
        PT_TEST(test_round_trip_levels),
        PT_TEST(test_flush),
        PT_TEST(test_empty_input),
        PT_TEST(test_concatenated),
        PT_TEST(test_truncated_corrupt_trailing),
        PT_TEST(test_auto),
        PT_TEST(test_passthrough),
        PT_TEST(test_output_cap),
        PT_TEST(test_ratio_cap),
        PT_TEST(test_memlimit),
        PT_TEST(test_threads),
    };
    return PT_RUN(tests);
}
