/* lib/filter_zstd.c - the zstd codec over libzstd (see filter_private.h).
 *
 * ZSTD_decompressStream decodes frame after frame (skippable frames included); the memory
 * limit becomes ZSTD_d_windowLogMax. The encoder writes a content checksum, as zstd(1) does,
 * and uses libzstd's worker threads when asked.
 * SPDX-License-Identifier: MIT */
#include "filter_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

struct zstd_state {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
    bool in_frame;         /* decoder: inside a frame (its end not yet seen) */
    uint64_t frames;       /* decoder: frames completed */
    uint64_t frame_in;     /* decoder: bytes of the current frame consumed */
    unsigned char head[4]; /* decoder: the current frame's first bytes, its magic */
    unsigned window_max;   /* decoder: log2 of the largest window allowed */
};

static const char *zstd_version(void)
{
    return ZSTD_versionString();
}

static int zstd_level(int level)
{
    return level >= 1 && level <= ZSTD_maxCLevel() ? level : -EINVAL;
}

/* The largest window (a power of two) that fits in memlimit, within libzstd's bounds. */
static unsigned zstd_window_log(uint64_t memlimit)
{
    ZSTD_bounds bounds = ZSTD_dParam_getBounds(ZSTD_d_windowLogMax);
    unsigned lg = (unsigned)bounds.upperBound;
    if (memlimit) {
        lg = 0;
        while (lg < 63 && (UINT64_C(2) << lg) <= memlimit)
            lg++;
    }
    if (lg < (unsigned)bounds.lowerBound)
        lg = (unsigned)bounds.lowerBound;
    if (lg > (unsigned)bounds.upperBound)
        lg = (unsigned)bounds.upperBound;
    return lg;
}

static int zstd_new_encoder(void **statep, int level)
{
    struct zstd_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->c = ZSTD_createCCtx();
    if (!s->c || ZSTD_isError(ZSTD_CCtx_setParameter(s->c, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(s->c, ZSTD_c_checksumFlag, 1))) {
        ZSTD_freeCCtx(s->c);
        free(s);
        return -ENOMEM;
    }
    *statep = s;
    return 0;
}

static int zstd_new_decoder(void **statep, uint64_t memlimit)
{
    struct zstd_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->d = ZSTD_createDCtx();
    s->window_max = zstd_window_log(memlimit);
    if (!s->d ||
        ZSTD_isError(ZSTD_DCtx_setParameter(s->d, ZSTD_d_windowLogMax, (int)s->window_max))) {
        ZSTD_freeDCtx(s->d);
        free(s);
        return -ENOMEM;
    }
    *statep = s;
    return 0;
}

static void zstd_free(void *state)
{
    struct zstd_state *s = state;
    ZSTD_freeCCtx(s->c);
    ZSTD_freeDCtx(s->d);
    free(s);
}

static int zstd_set_threads(void *state, int n)
{
    struct zstd_state *s = state;
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (int)cpus : 1;
    }
    /* One thread is the plain single-threaded encoder (nbWorkers 0). */
    size_t r = ZSTD_CCtx_setParameter(s->c, ZSTD_c_nbWorkers, n > 1 ? n : 0);
    if (ZSTD_isError(r))
        return ZSTD_getErrorCode(r) == ZSTD_error_parameter_unsupported ? PCOMM_EUNSUPPORTED
                                                                        : -EINVAL;
    return 0;
}

static int zstd_set_memlimit(void *state, uint64_t memlimit, char *msg)
{
    struct zstd_state *s = state;
    (void)msg;
    s->window_max = zstd_window_log(memlimit);
    /* Parameters can only change between frames; a frame in progress keeps its limit. */
    if (!s->in_frame)
        ZSTD_DCtx_setParameter(s->d, ZSTD_d_windowLogMax, (int)s->window_max);
    return 0;
}

static int zstd_encode(void *state, struct pcomm__buf *b, int mode, char *msg)
{
    struct zstd_state *s = state;
    ZSTD_EndDirective op = mode == PCOMM_FILTER_FINISH  ? ZSTD_e_end
                           : mode == PCOMM_FILTER_FLUSH ? ZSTD_e_flush
                                                        : ZSTD_e_continue;
    ZSTD_inBuffer in = {b->in, b->in_len, 0};
    ZSTD_outBuffer out = {b->out, b->out_len, 0};
    size_t r = ZSTD_compressStream2(s->c, &out, &in, op);
    b->in_used = in.pos;
    b->out_used = out.pos;
    if (ZSTD_isError(r)) {
        snprintf(msg, PCOMM__MSG_SIZE, "zstd compression failed: %s", ZSTD_getErrorName(r));
        return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? -ENOMEM : -EINVAL;
    }
    if (r == 0 && in.pos == in.size && op != ZSTD_e_continue)
        return op == ZSTD_e_end ? PCOMM_FILTER_END : PCOMM_FILTER_FLUSHED;
    return PCOMM_FILTER_MORE;
}

static int zstd_decode_error(struct zstd_state *s, size_t r, char *msg)
{
    switch (ZSTD_getErrorCode(r)) {
    case ZSTD_error_checksum_wrong:
        snprintf(msg, PCOMM__MSG_SIZE,
                 "bad checksum: the zstd frame's content checksum does "
                 "not match");
        return -EBADMSG;
    case ZSTD_error_prefix_unknown:
        snprintf(msg, PCOMM__MSG_SIZE, "%s",
                 s->frames ? "trailing garbage after the compressed stream"
                           : "not zstd data: bad magic");
        return -EBADMSG;
    case ZSTD_error_frameParameter_windowTooLarge:
        snprintf(msg, PCOMM__MSG_SIZE,
                 "the zstd frame needs a window larger than the memory limit allows (%llu MiB)",
                 (unsigned long long)(UINT64_C(1) << s->window_max >> 20));
        return PCOMM_EMEMLIMIT;
    case ZSTD_error_memory_allocation: return -ENOMEM;
    default:
        snprintf(msg, PCOMM__MSG_SIZE, "corrupt zstd input: %s", ZSTD_getErrorName(r));
        return -EBADMSG;
    }
}

/* Whether the first n (<= 4) bytes of a frame can begin a zstd frame or a skippable frame.
 * libzstd, when built with legacy support, also takes the frames of its pre-1.0 formats; their
 * decoders emit bytes that depend on how corrupt input is chunked (found by fuzz_zstd), and no
 * zstd tool of this decade writes them, so they are refused here as not zstd. */
static bool zstd_magic_ok(const unsigned char *p, size_t n)
{
    static const unsigned char zstd1[4] = {0x28, 0xb5, 0x2f, 0xfd},
                               skip[4] = {0x50, 0x2a, 0x4d, 0x18};
    bool frame = true, skippable = true;
    for (size_t i = 0; i < n; i++) {
        frame = frame && p[i] == zstd1[i];
        skippable = skippable && (i == 0 ? (p[i] & 0xf0) == skip[0] : p[i] == skip[i]);
    }
    return frame || skippable;
}

/* Check the part of the next frame's magic that this input holds; -EBADMSG when it is none. */
static int zstd_check_magic(struct zstd_state *s, const ZSTD_inBuffer *in, char *msg)
{
    if (s->frame_in >= 4)
        return 0;
    size_t have = (size_t)s->frame_in, more = in->size - in->pos;
    if (more > 4 - have)
        more = 4 - have;
    memcpy(s->head + have, (const unsigned char *)in->src + in->pos, more);
    if (zstd_magic_ok(s->head, have + more))
        return 0;
    snprintf(msg, PCOMM__MSG_SIZE, "%s",
             s->frames ? "trailing garbage after the compressed stream"
                       : "not zstd data: bad magic");
    return -EBADMSG;
}

static int zstd_decode(void *state, struct pcomm__buf *b, bool finish, char *msg)
{
    struct zstd_state *s = state;
    ZSTD_inBuffer in = {b->in, b->in_len, 0};
    ZSTD_outBuffer out = {b->out, b->out_len, 0};
    size_t r = 0;
    do {
        /* Between frames with no input there is nothing to do: asking libzstd anyway would
         * answer with a size hint, not a frame end. */
        if (!s->in_frame && in.pos == in.size)
            break;
        if (!s->in_frame)
            ZSTD_DCtx_setParameter(s->d, ZSTD_d_windowLogMax, (int)s->window_max);
        int bad = zstd_check_magic(s, &in, msg);
        if (bad < 0) {
            b->in_used = in.pos;
            b->out_used = out.pos;
            return bad;
        }
        size_t before = in.pos;
        r = ZSTD_decompressStream(s->d, &out, &in);
        s->frame_in += in.pos - before;
        b->in_used = in.pos;
        b->out_used = out.pos;
        if (ZSTD_isError(r))
            return zstd_decode_error(s, r, msg);
        s->in_frame = r != 0;
        if (r == 0) { /* a frame ended and is fully flushed */
            s->frames++;
            s->frame_in = 0;
        }
    } while (r == 0 && in.pos < in.size);
    if (!finish || in.pos < in.size)
        return PCOMM_FILTER_MORE;
    if (!s->in_frame && s->frames)
        return PCOMM_FILTER_END;
    if (out.pos == out.size)
        return PCOMM_FILTER_MORE; /* flushing what is decoded */
    if (s->frames && s->frame_in < 4) {
        snprintf(msg, PCOMM__MSG_SIZE, "trailing garbage after the compressed stream");
        return -EBADMSG;
    }
    return pcomm__filter_truncated(msg, s->frames + s->frame_in, "zstd");
}

const struct pcomm__codec pcomm__codec_zstd = {
    .id = PCOMM_CODEC_ZSTD,
    .lib = NULL,
    .min_lib = NULL,
    .default_level = 3,
    .version = zstd_version,
    .level = zstd_level,
    .new_encoder = zstd_new_encoder,
    .new_decoder = zstd_new_decoder,
    .set_threads = zstd_set_threads,
    .set_memlimit = zstd_set_memlimit,
    .encode = zstd_encode,
    .decode = zstd_decode,
    .free = zstd_free,
};
