/* lib/filter_bzip2.c - the bzip2 codec over libbz2 (see filter_private.h).
 *
 * libbz2 decodes one stream per BZ2_bzDecompressInit; concatenated streams (as pbzip2 and
 * `cat a.bz2 b.bz2` make) are decoded by starting a new stream after each end, as bzip2 -d
 * does. libbz2 >= 1.0.8 is required (CVE-2019-12900).
 * SPDX-License-Identifier: MIT */
#include "filter_private.h"

#include <bzlib.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

struct bz_state {
    bz_stream bs;
    bool decoder;
    bool active;      /* bs is initialized */
    bool at_boundary; /* a stream ended; the next byte starts another one */
    uint64_t streams, stream_in;
};

static const char *bz_version(void)
{
    return BZ2_bzlibVersion();
}

static int bz_level(int level)
{
    return level >= 1 && level <= 9 ? level : -EINVAL;
}

static int bz_init(struct bz_state *s, int level)
{
    s->bs = (bz_stream){0};
    int r =
        s->decoder ? BZ2_bzDecompressInit(&s->bs, 0, 0) : BZ2_bzCompressInit(&s->bs, level, 0, 0);
    if (r != BZ_OK)
        return r == BZ_MEM_ERROR ? -ENOMEM : -EINVAL;
    s->active = true;
    s->stream_in = 0;
    return 0;
}

static void bz_end(struct bz_state *s)
{
    if (!s->active)
        return;
    if (s->decoder)
        BZ2_bzDecompressEnd(&s->bs);
    else
        BZ2_bzCompressEnd(&s->bs);
    s->active = false;
}

static int bz_new(void **statep, bool decoder, int level)
{
    struct bz_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->decoder = decoder;
    int r = bz_init(s, level);
    if (r < 0) {
        free(s);
        return r;
    }
    *statep = s;
    return 0;
}

static int bz_new_encoder(void **statep, int level)
{
    return bz_new(statep, false, level);
}

static int bz_new_decoder(void **statep, uint64_t memlimit)
{
    (void)memlimit; /* at most ~3.7 MB for a 900k block */
    return bz_new(statep, true, 0);
}

static void bz_free(void *state)
{
    bz_end(state);
    free(state);
}

static void bz_attach(bz_stream *bs, struct pcomm__buf *b)
{
    bs->next_in = (char *)(uintptr_t)(b->in + b->in_used); /* libbz2 never writes it */
    bs->avail_in = pcomm__uint_len(b->in_len - b->in_used);
    bs->next_out = (char *)(b->out + b->out_used);
    bs->avail_out = pcomm__uint_len(b->out_len - b->out_used);
}

static void bz_detach(const bz_stream *bs, struct pcomm__buf *b)
{
    b->in_used = (size_t)((const unsigned char *)bs->next_in - b->in);
    b->out_used = (size_t)((unsigned char *)bs->next_out - b->out);
}

static int bz_encode(void *state, struct pcomm__buf *b, int mode, char *msg)
{
    struct bz_state *s = state;
    int action = mode == PCOMM_FILTER_FINISH  ? BZ_FINISH
                 : mode == PCOMM_FILTER_FLUSH ? BZ_FLUSH
                                              : BZ_RUN;
    bz_attach(&s->bs, b);
    int r = BZ2_bzCompress(&s->bs, action);
    bz_detach(&s->bs, b);
    switch (r) {
    case BZ_STREAM_END: return PCOMM_FILTER_END;
    case BZ_RUN_OK: /* after BZ_FLUSH: the flush is complete */
        return action == BZ_FLUSH ? PCOMM_FILTER_FLUSHED : PCOMM_FILTER_MORE;
    case BZ_FLUSH_OK:
    case BZ_FINISH_OK: return PCOMM_FILTER_MORE;
    default: snprintf(msg, PCOMM__MSG_SIZE, "BZ2_bzCompress failed (%d)", r); return -EINVAL;
    }
}

static int bz_error(const struct bz_state *s, int r, char *msg)
{
    if (r == BZ_MEM_ERROR)
        return -ENOMEM;
    if (r == BZ_DATA_ERROR_MAGIC && s->streams > 0)
        snprintf(msg, PCOMM__MSG_SIZE, "trailing garbage after the compressed stream");
    else if (r == BZ_DATA_ERROR_MAGIC)
        snprintf(msg, PCOMM__MSG_SIZE, "not bzip2 data: bad magic");
    else if (r == BZ_DATA_ERROR)
        snprintf(msg, PCOMM__MSG_SIZE, "corrupt bzip2 input or bad CRC");
    else
        snprintf(msg, PCOMM__MSG_SIZE, "BZ2_bzDecompress failed (%d)", r);
    return r == BZ_DATA_ERROR || r == BZ_DATA_ERROR_MAGIC ? -EBADMSG : -EINVAL;
}

static int bz_decode(void *state, struct pcomm__buf *b, bool finish, char *msg)
{
    struct bz_state *s = state;
    for (;;) {
        if (s->at_boundary) {
            if (b->in_used == b->in_len)
                return finish ? PCOMM_FILTER_END : PCOMM_FILTER_MORE;
            bz_end(s);
            int e = bz_init(s, 0);
            if (e < 0)
                return e;
            s->at_boundary = false;
        }
        size_t before = b->in_used;
        bz_attach(&s->bs, b);
        int r = BZ2_bzDecompress(&s->bs);
        bz_detach(&s->bs, b);
        s->stream_in += b->in_used - before;
        if (r == BZ_STREAM_END) {
            s->streams++;
            s->at_boundary = true;
            continue;
        }
        if (r != BZ_OK)
            return bz_error(s, r, msg);
        if (finish && b->in_used == b->in_len && b->out_used < b->out_len) {
            if (s->streams > 0 && s->stream_in < 4) {
                snprintf(msg, PCOMM__MSG_SIZE, "trailing garbage after the compressed stream");
                return -EBADMSG;
            }
            return pcomm__filter_truncated(msg, s->streams + s->stream_in, "bzip2");
        }
        return PCOMM_FILTER_MORE;
    }
}

const struct pcomm__codec pcomm__codec_bzip2 = {
    .id = PCOMM_CODEC_BZIP2,
    .lib = NULL,
    .min_lib = "1.0.8",
    .default_level = 9,
    .version = bz_version,
    .level = bz_level,
    .new_encoder = bz_new_encoder,
    .new_decoder = bz_new_decoder,
    .encode = bz_encode,
    .decode = bz_decode,
    .free = bz_free,
};
