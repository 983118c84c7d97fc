/* tests/filter_util.h - driving pcomm_filter from the tests: a byte buffer, a driver loop
 * with chosen chunk sizes and flush points that checks progress on every call, and sample data.
 * Header-only (static functions) so each test executable takes what it uses.
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_TEST_FILTER_UTIL_H
#define PCOMM_TEST_FILTER_UTIL_H

#include "harness.h"

#include <stdio.h>

struct pt_bytes {
    unsigned char *p;
    size_t len, cap;
};

static inline void pt_bytes_add(struct pt_bytes *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
}

static inline void pt_bytes_free(struct pt_bytes *b)
{
    free(b->p);
    *b = (struct pt_bytes){0};
}

/* A small deterministic generator (xorshift64*). */
static inline uint64_t pt_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* len bytes of build-log-like text mixed with stretches of pseudo-random binary, so that every
 * codec has both matches and literals to code. */
static inline unsigned char *pt_sample(size_t len, uint64_t seed)
{
    static const char *const words[] = {
        "gcc",     "-O2", "-Wall", "src/main.c", "warning:", "unused",   "variable", "[100%]",
        "Linking", "ok",  "test_", "PASS",       "error:",   "make[2]:", "Entering"};
    unsigned char *p = malloc(len ? len : 1);
    assert_non_null(p);
    uint64_t s = seed * 2654435761u + 1;
    size_t i = 0;
    while (i < len) {
        uint64_t r = pt_rand(&s);
        if (r % 16 == 0) { /* a binary stretch */
            size_t n = 16 + r % 512;
            for (size_t k = 0; k < n && i < len; k++)
                p[i++] = (unsigned char)(pt_rand(&s) >> 56);
            continue;
        }
        const char *w = words[r % (sizeof words / sizeof words[0])];
        for (const char *c = w; *c && i < len; c++)
            p[i++] = (unsigned char)*c;
        if (i < len)
            p[i++] = r % 7 == 0 ? '\n' : ' ';
    }
    return p;
}

/* How to drive a filter: chunk sizes (0 means "everything at once") and an optional flush
 * every flush_every input bytes (0: never). */
struct pt_drive {
    size_t in_chunk, out_chunk;
    size_t flush_every;
    bool random_chunks; /* vary sizes in 1..chunk with seed */
    bool late_finish;   /* all input with RUN (or FLUSH), then FINISH with none, as at EOF */
    uint64_t seed;
};

/* Run f over all of in with FINISH at the end, appending output to out. Asserts that every
 * call given input and room either progresses or ends. Returns the final result (END or a
 * negative error). */
static inline int pt_drive_filter(pcomm_filter *f, const void *in, size_t len,
                                  const struct pt_drive *d, struct pt_bytes *out)
{
    size_t out_chunk = d->out_chunk ? d->out_chunk : (size_t)4 << 20;
    unsigned char *room = malloc(out_chunk);
    assert_non_null(room);
    const unsigned char *p = in;
    size_t off = 0, next_flush = d->flush_every ? d->flush_every : SIZE_MAX;
    uint64_t s = d->seed | 1;
    bool sticky = false; /* a FLUSH or FINISH is repeated with the whole rest until done */
    int r;
    for (long calls = 0;; calls++) {
        assert_true(calls < 100000000L);
        size_t limit = len;
        int mode = d->late_finish && off < len ? PCOMM_FILTER_RUN : PCOMM_FILTER_FINISH;
        if (next_flush < len) {
            limit = next_flush;
            mode = PCOMM_FILTER_FLUSH;
        }
        size_t ic = d->in_chunk ? d->in_chunk : SIZE_MAX;
        size_t oc = out_chunk;
        if (d->random_chunks) {
            ic = 1 + (size_t)(pt_rand(&s) % ic);
            oc = 1 + (size_t)(pt_rand(&s) % oc);
        }
        size_t avail = limit - off;
        if (avail > ic && !sticky) {
            avail = ic;
            mode = PCOMM_FILTER_RUN;
        }
        size_t il = avail, ol = oc;
        r = pcomm_filter_process(f, p + off, &il, room, &ol, mode);
        assert_true(il <= avail);
        assert_true(ol <= oc);
        sticky = mode != PCOMM_FILTER_RUN;
        if (r == PCOMM_FILTER_MORE && oc > 0 && il == 0 && ol == 0 &&
            (avail > 0 || mode != PCOMM_FILTER_RUN))
            fail_msg("no progress: %zu bytes in, %zu room, mode %d", avail, oc, mode);
        pt_bytes_add(out, room, ol);
        off += il;
        if (r < 0 || r == PCOMM_FILTER_END)
            break;
        if (r == PCOMM_FILTER_FLUSHED) {
            assert_int_equal(mode, PCOMM_FILTER_FLUSH);
            assert_int_equal(off, limit);
            next_flush = off + d->flush_every;
            sticky = false;
        }
    }
    free(room);
    return r;
}

/* Encode or decode a whole buffer in one go (large chunks); returns the result. */
static inline int pt_filter_all(pcomm_filter *f, const void *in, size_t len, struct pt_bytes *out)
{
    struct pt_drive d = {.in_chunk = 65536, .out_chunk = 65536};
    return pt_drive_filter(f, in, len, &d, out);
}

static inline void pt_encode(int codec, int level, const void *in, size_t len, struct pt_bytes *out)
{
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_encoder(&f, codec, level));
    assert_int_equal(pt_filter_all(f, in, len, out), PCOMM_FILTER_END);
    assert_int_equal(pcomm_filter_total_in(f), len);
    pcomm_filter_free(f);
}

/* Decode with codec; returns the result, output in out, message copied into msg. */
static inline int pt_decode(int codec, const void *in, size_t len, struct pt_bytes *out, char *msg,
                            size_t msg_size)
{
    pcomm_filter *f;
    PT_OK(pcomm_filter_new_decoder(&f, codec));
    int r = pt_filter_all(f, in, len, out);
    if (msg)
        snprintf(msg, msg_size, "%s", pcomm_filter_message(f));
    pcomm_filter_free(f);
    return r;
}

static const int pt_codecs[] = {PCOMM_CODEC_GZIP, PCOMM_CODEC_BZIP2, PCOMM_CODEC_XZ,
                                PCOMM_CODEC_ZSTD};
#define PT_NCODECS 4

#endif
