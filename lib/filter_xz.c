/* lib/filter_xz.c - the xz codec over liblzma (see filter_private.h).
 *
 * Decoding uses only the single-threaded lzma_stream_decoder with a memory limit, one stream
 * at a time: never the multithreaded decoder (CVE-2025-31115) nor the lzma_index API.
 * Encoding is lzma_easy_encoder, or lzma_stream_encoder_mt when threads are asked for.
 * SPDX-License-Identifier: MIT */
#include "filter_private.h"

#include <errno.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>

struct xz_state {
    lzma_stream ls;
    bool decoder;
    int level;
    uint32_t threads; /* encoder: 0 single-threaded, else lzma_stream_encoder_mt */
    uint64_t memlimit;
    bool at_boundary; /* decoder: a stream ended; padding, another stream or the end follow */
    uint64_t streams, stream_in, padding;
};

static const char *xz_version(void)
{
    return lzma_version_string();
}

static int xz_level(int level)
{
    return level >= 0 && level <= 9 ? level : -EINVAL;
}

static int xz_status(lzma_ret r)
{
    switch (r) {
    case LZMA_OK: return 0;
    case LZMA_MEM_ERROR: return -ENOMEM;
    case LZMA_UNSUPPORTED_CHECK: return PCOMM_EUNSUPPORTED;
    default: return -EINVAL;
    }
}

static uint64_t xz_memlimit(uint64_t memlimit)
{
    return memlimit ? memlimit : UINT64_MAX;
}

static int xz_init_encoder(struct xz_state *s)
{
    if (!s->threads)
        return xz_status(lzma_easy_encoder(&s->ls, (uint32_t)s->level, LZMA_CHECK_CRC64));
    lzma_mt mt = {
        .threads = s->threads,
        .preset = (uint32_t)s->level,
        .check = LZMA_CHECK_CRC64,
    };
    return xz_status(lzma_stream_encoder_mt(&s->ls, &mt));
}

static int xz_new(void **statep, bool decoder, int level, uint64_t memlimit)
{
    struct xz_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->ls = (lzma_stream)LZMA_STREAM_INIT;
    s->decoder = decoder;
    s->level = level;
    s->memlimit = memlimit;
    int r = decoder ? xz_status(lzma_stream_decoder(&s->ls, xz_memlimit(memlimit), 0))
                    : xz_init_encoder(s);
    if (r < 0) {
        lzma_end(&s->ls);
        free(s);
        return r;
    }
    *statep = s;
    return 0;
}

static int xz_new_encoder(void **statep, int level)
{
    return xz_new(statep, false, level, 0);
}

static int xz_new_decoder(void **statep, uint64_t memlimit)
{
    return xz_new(statep, true, 0, memlimit);
}

static void xz_free(void *state)
{
    struct xz_state *s = state;
    lzma_end(&s->ls);
    free(s);
}

static int xz_set_threads(void *state, int n)
{
    struct xz_state *s = state;
    uint32_t threads = n == 0 ? lzma_cputhreads() : (uint32_t)n;
    if (threads == 0)
        threads = 1;
    uint32_t want = threads > 1 ? threads : 0;
    if (want == s->threads)
        return 0;
    uint32_t old = s->threads;
    s->threads = want;
    int r = xz_init_encoder(s); /* lzma_*_encoder reuse and replace the stream's coder */
    if (r < 0) {
        s->threads = old;
        if (xz_init_encoder(s) < 0)
            return -ENOMEM;
    }
    return r;
}

static int xz_set_memlimit(void *state, uint64_t memlimit, char *msg)
{
    struct xz_state *s = state;
    s->memlimit = memlimit;
    if (lzma_memlimit_set(&s->ls, xz_memlimit(memlimit)) == LZMA_MEMLIMIT_ERROR) {
        snprintf(msg, PCOMM__MSG_SIZE,
                 "the xz stream already uses %llu MiB, more than the new memory limit",
                 (unsigned long long)(lzma_memusage(&s->ls) >> 20));
        return PCOMM_EMEMLIMIT;
    }
    return 0;
}

static lzma_ret xz_code(lzma_stream *ls, struct pcomm__buf *b, lzma_action action)
{
    ls->next_in = b->in + b->in_used;
    ls->avail_in = b->in_len - b->in_used;
    ls->next_out = b->out + b->out_used;
    ls->avail_out = b->out_len - b->out_used;
    lzma_ret r = lzma_code(ls, action);
    b->in_used = b->in_len - ls->avail_in;
    b->out_used = b->out_len - ls->avail_out;
    return r;
}

static int xz_encode(void *state, struct pcomm__buf *b, int mode, char *msg)
{
    struct xz_state *s = state;
    /* The multithreaded encoder has no sync flush; a full flush ends the block instead. */
    lzma_action action = mode == PCOMM_FILTER_FINISH ? LZMA_FINISH
                         : mode == PCOMM_FILTER_RUN  ? LZMA_RUN
                         : s->threads                ? LZMA_FULL_FLUSH
                                                     : LZMA_SYNC_FLUSH;
    lzma_ret r = xz_code(&s->ls, b, action);
    if (r == LZMA_STREAM_END)
        return mode == PCOMM_FILTER_FINISH ? PCOMM_FILTER_END : PCOMM_FILTER_FLUSHED;
    if (r == LZMA_OK || r == LZMA_BUF_ERROR)
        return PCOMM_FILTER_MORE;
    snprintf(msg, PCOMM__MSG_SIZE, "lzma_code failed (%d)", (int)r);
    return r == LZMA_MEM_ERROR ? -ENOMEM : -EINVAL;
}

static int xz_decode_error(struct xz_state *s, lzma_ret r, char *msg)
{
    switch (r) {
    case LZMA_MEMLIMIT_ERROR:
        snprintf(msg, PCOMM__MSG_SIZE,
                 "the xz stream needs %llu MiB of memory, more than the limit of %llu MiB",
                 (unsigned long long)((lzma_memusage(&s->ls) + (1 << 20) - 1) >> 20),
                 (unsigned long long)(lzma_memlimit_get(&s->ls) >> 20));
        return PCOMM_EMEMLIMIT;
    case LZMA_FORMAT_ERROR:
        snprintf(msg, PCOMM__MSG_SIZE, "%s",
                 s->streams ? "trailing garbage after the compressed stream"
                            : "not xz data: bad magic");
        return -EBADMSG;
    case LZMA_OPTIONS_ERROR:
        snprintf(msg, PCOMM__MSG_SIZE, "unsupported xz stream options");
        return -EBADMSG;
    case LZMA_DATA_ERROR:
        snprintf(msg, PCOMM__MSG_SIZE, "corrupt xz input or bad check");
        return -EBADMSG;
    case LZMA_MEM_ERROR: return -ENOMEM;
    default: snprintf(msg, PCOMM__MSG_SIZE, "lzma_code failed (%d)", (int)r); return -EINVAL;
    }
}

static int xz_garbage(char *msg)
{
    snprintf(msg, PCOMM__MSG_SIZE, "trailing garbage after the compressed stream");
    return -EBADMSG;
}

/* Between streams: stream padding (zero bytes, a multiple of four) may come, then either the
 * end of the input or another stream. Returns true to decode a new stream; otherwise *result
 * holds what to return. */
static bool xz_boundary(struct xz_state *s, struct pcomm__buf *b, bool finish, char *msg,
                        int *result)
{
    while (b->in_used < b->in_len && b->in[b->in_used] == 0) {
        b->in_used++;
        s->padding++;
    }
    if (b->in_used == b->in_len) {
        *result = !finish ? PCOMM_FILTER_MORE : s->padding % 4 ? xz_garbage(msg) : PCOMM_FILTER_END;
        return false;
    }
    *result = s->padding % 4 ? xz_garbage(msg)
                             : xz_status(lzma_stream_decoder(&s->ls, xz_memlimit(s->memlimit), 0));
    if (*result < 0)
        return false;
    s->at_boundary = false;
    s->padding = 0;
    s->stream_in = 0;
    return true;
}

/* Streams are decoded one at a time (not with LZMA_CONCATENATED) so that what follows a
 * stream can be told apart: padding, another stream, or garbage. */
static int xz_decode(void *state, struct pcomm__buf *b, bool finish, char *msg)
{
    struct xz_state *s = state;
    for (;;) {
        int result;
        if (s->at_boundary && !xz_boundary(s, b, finish, msg, &result))
            return result;
        size_t before = b->in_used;
        lzma_ret r = xz_code(&s->ls, b, LZMA_RUN);
        s->stream_in += b->in_used - before;
        if (r == LZMA_STREAM_END) {
            s->streams++;
            s->at_boundary = true;
            continue;
        }
        if (r != LZMA_OK && r != LZMA_BUF_ERROR)
            return xz_decode_error(s, r, msg);
        if (finish && b->in_used == b->in_len && b->out_used < b->out_len) {
            if (s->streams > 0 && s->stream_in < 12) /* not even a stream header */
                return xz_garbage(msg);
            return pcomm__filter_truncated(msg, s->streams + s->stream_in, "xz");
        }
        return PCOMM_FILTER_MORE;
    }
}

const struct pcomm__codec pcomm__codec_xz = {
    .id = PCOMM_CODEC_XZ,
    .lib = NULL,
    .min_lib = NULL,
    .default_level = 6,
    .version = xz_version,
    .level = xz_level,
    .new_encoder = xz_new_encoder,
    .new_decoder = xz_new_decoder,
    .set_threads = xz_set_threads,
    .set_memlimit = xz_set_memlimit,
    .encode = xz_encode,
    .decode = xz_decode,
    .free = xz_free,
};
