/* lib/filter_gzip.c - the gzip codec over zlib (see filter_private.h).
 *
 * Decoding uses inflate with the gzip-only wrapper (windowBits 16 + 15) and never
 * inflateGetHeader (CVE-2022-37434). Members follow each other as in gzip -d: after each
 * member's trailer the next bytes must start another member, or the input must end.
 * SPDX-License-Identifier: MIT */
#include "filter_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define ZLIB_CONST /* next_in is const */
#include <zlib.h>

struct gz_state {
    z_stream zs;
    bool decoder;
    bool at_boundary; /* a member ended; the next byte starts another one */
    uint64_t members;
};

static const char *gz_version(void)
{
    return zlibVersion();
}

static int gz_level(int level)
{
    return level >= 1 && level <= 9 ? level : -EINVAL;
}

static int gz_new(void **statep, bool decoder, int level)
{
    struct gz_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->decoder = decoder;
    int r = decoder
                ? inflateInit2(&s->zs, 16 + MAX_WBITS)
                : deflateInit2(&s->zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    if (r != Z_OK) {
        free(s);
        return r == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
    }
    *statep = s;
    return 0;
}

static int gz_new_encoder(void **statep, int level)
{
    return gz_new(statep, false, level);
}

static int gz_new_decoder(void **statep, uint64_t memlimit)
{
    (void)memlimit; /* 32 KiB window plus ~7 KiB: nothing to limit */
    return gz_new(statep, true, 0);
}

static void gz_free(void *state)
{
    struct gz_state *s = state;
    if (s->decoder)
        inflateEnd(&s->zs);
    else
        deflateEnd(&s->zs);
    free(s);
}

static void gz_attach(z_stream *zs, struct pcomm__buf *b)
{
    zs->next_in = b->in + b->in_used;
    zs->avail_in = pcomm__uint_len(b->in_len - b->in_used);
    zs->next_out = b->out + b->out_used;
    zs->avail_out = pcomm__uint_len(b->out_len - b->out_used);
}

static void gz_detach(const z_stream *zs, struct pcomm__buf *b)
{
    b->in_used = (size_t)(zs->next_in - b->in);
    b->out_used = (size_t)(zs->next_out - b->out);
}

static int gz_encode(void *state, struct pcomm__buf *b, int mode, char *msg)
{
    struct gz_state *s = state;
    int flush = mode == PCOMM_FILTER_FINISH  ? Z_FINISH
                : mode == PCOMM_FILTER_FLUSH ? Z_SYNC_FLUSH
                                             : Z_NO_FLUSH;
    gz_attach(&s->zs, b);
    int r = deflate(&s->zs, flush);
    gz_detach(&s->zs, b);
    if (r == Z_STREAM_END)
        return PCOMM_FILTER_END;
    if (r != Z_OK && r != Z_BUF_ERROR) {
        snprintf(msg, PCOMM__MSG_SIZE, "deflate failed: %s", s->zs.msg ? s->zs.msg : "?");
        return -EINVAL;
    }
    /* A sync flush is complete when deflate left room in the output (zlib's rule). */
    if (mode == PCOMM_FILTER_FLUSH && s->zs.avail_in == 0 && s->zs.avail_out > 0)
        return PCOMM_FILTER_FLUSHED;
    return PCOMM_FILTER_MORE;
}

/* zlib's messages for a member header that is not one. */
static bool gz_header_error(const char *zmsg)
{
    return zmsg && (!strcmp(zmsg, "incorrect header check") ||
                    !strcmp(zmsg, "unknown compression method") ||
                    !strcmp(zmsg, "unknown header flags set"));
}

static int gz_data_error(struct gz_state *s, char *msg)
{
    const char *zmsg = s->zs.msg ? s->zs.msg : "corrupt data";
    if (s->members > 0 && gz_header_error(zmsg))
        snprintf(msg, PCOMM__MSG_SIZE, "trailing garbage after the compressed stream");
    else if (!strcmp(zmsg, "incorrect data check"))
        snprintf(msg, PCOMM__MSG_SIZE, "bad CRC: the gzip member's CRC-32 does not match");
    else if (!strcmp(zmsg, "incorrect length check"))
        snprintf(msg, PCOMM__MSG_SIZE, "bad length: the gzip member's ISIZE does not match");
    else if (s->members == 0 && gz_header_error(zmsg))
        snprintf(msg, PCOMM__MSG_SIZE, "not gzip data: %s", zmsg);
    else
        snprintf(msg, PCOMM__MSG_SIZE, "corrupt gzip input: %s", zmsg);
    return -EBADMSG;
}

static int gz_decode(void *state, struct pcomm__buf *b, bool finish, char *msg)
{
    struct gz_state *s = state;
    for (;;) {
        if (s->at_boundary) {
            if (b->in_used == b->in_len)
                return finish ? PCOMM_FILTER_END : PCOMM_FILTER_MORE;
            inflateReset(&s->zs);
            s->at_boundary = false;
        }
        gz_attach(&s->zs, b);
        int r = inflate(&s->zs, Z_NO_FLUSH);
        gz_detach(&s->zs, b);
        switch (r) {
        case Z_STREAM_END:
            s->members++;
            s->at_boundary = true;
            continue;
        case Z_OK:
        case Z_BUF_ERROR: break;
        case Z_MEM_ERROR: return -ENOMEM;
        case Z_DATA_ERROR:
        case Z_NEED_DICT: return gz_data_error(s, msg);
        default: return -EINVAL;
        }
        if (finish && b->in_used == b->in_len && b->out_used < b->out_len) {
            /* Starved at EOF. A few bytes that cannot even be a member header are garbage. */
            if (s->members > 0 && s->zs.total_in < 10) {
                snprintf(msg, PCOMM__MSG_SIZE, "trailing garbage after the compressed stream");
                return -EBADMSG;
            }
            return pcomm__filter_truncated(msg, s->members + s->zs.total_in, "gzip");
        }
        return PCOMM_FILTER_MORE;
    }
}

const struct pcomm__codec pcomm__codec_gzip = {
    .id = PCOMM_CODEC_GZIP,
    .lib = "zlib",
    .min_lib = "1.2.13",
    .default_level = 6,
    .version = gz_version,
    .level = gz_level,
    .new_encoder = gz_new_encoder,
    .new_decoder = gz_new_decoder,
    .encode = gz_encode,
    .decode = gz_decode,
    .free = gz_free,
};
