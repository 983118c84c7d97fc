/* lib/filter_private.h - the codec vtable behind pcomm_filter. Private to libpcomm.
 *
 * lib/filter.c owns everything codec-independent: argument checks, the per-call quantum,
 * format detection, passthrough, output and ratio caps, sticky errors and byte counts. A codec
 * (lib/filter_<codec>.c, compiled only when its library is) only moves bytes through its
 * library and reports stream ends and errors in pcomm's terms.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_FILTER_PRIVATE_H
#define PCOMM_FILTER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcomm/error.h"
#include "pcomm/filter.h"

#define PCOMM__MSG_SIZE 200

/* One step's buffers. The codec sets in_used and out_used (both start at 0). out is never NULL,
 * even when out_len is 0 (zlib refuses a NULL next_out). */
struct pcomm__buf {
    const unsigned char *in;
    size_t in_len, in_used;
    unsigned char *out;
    size_t out_len, out_used;
};

struct pcomm__codec {
    int id;              /* enum pcomm_codec */
    const char *lib;     /* library name for pcomm_filter_versions(), NULL when the codec's */
    const char *min_lib; /* minimum run-time library version, or NULL */
    int default_level;
    const char *(*version)(void);

    /* Resolve a requested level (>= 0) to the codec's level; -EINVAL when out of range. */
    int (*level)(int requested);

    /* Create state in *statep. Returns 0, -ENOMEM, PCOMM_EUNSUPPORTED or -EINVAL. */
    int (*new_encoder)(void **statep, int level);
    int (*new_decoder)(void **statep, uint64_t memlimit);

    /* Encoders: switch to n worker threads before any data (NULL: no threads). */
    int (*set_threads)(void *state, int n);
    /* Decoders: apply a memory limit (0 = none); NULL when the codec ignores it. */
    int (*set_memlimit)(void *state, uint64_t memlimit, char *msg);

    /* mode is PCOMM_FILTER_RUN, _FLUSH or _FINISH; the dispatcher passes FLUSH and FINISH only
     * with the whole rest of the caller's input. Returns PCOMM_FILTER_MORE, _FLUSHED, _END. */
    int (*encode)(void *state, struct pcomm__buf *b, int mode, char *msg);

    /* finish: no input follows b->in. Returns PCOMM_FILTER_MORE or _END (only when finish and
     * the last stream ended with all input consumed), or an error with msg filled in. A decoder
     * that is given finish, has consumed everything and still has room left must report the
     * truncation itself: it knows better than the dispatcher what was cut off. */
    int (*decode)(void *state, struct pcomm__buf *b, bool finish, char *msg);

    void (*free)(void *state);
};

extern const struct pcomm__codec pcomm__codec_gzip;
extern const struct pcomm__codec pcomm__codec_bzip2;
extern const struct pcomm__codec pcomm__codec_xz;
extern const struct pcomm__codec pcomm__codec_zstd;

/* Fill msg for input that ended early: "empty input" when nothing came at all. Returns
 * -EBADMSG. */
int pcomm__filter_truncated(char *msg, uint64_t stream_in, const char *codec);

/* Compare dotted version strings numerically ("1.2.13" >= "1.2.9"); non-digits end a part.
 * Returns true when have >= want. */
bool pcomm__version_at_least(const char *have, const char *want);

/* Clamp a size_t to the codecs' unsigned int counters (zlib, bzip2). */
static inline unsigned pcomm__uint_len(size_t n)
{
    return n > 0x40000000u ? 0x40000000u : (unsigned)n;
}

#endif /* PCOMM_FILTER_PRIVATE_H */
