/* pcomm/filter.h - pcomm_filter: streaming gzip, bzip2, xz and zstd encoders and decoders.
 *
 * A filter turns bytes into bytes through caller-owned buffers: pcomm_filter_process() takes
 * what input it can, writes what output fits, and says whether to call again, that the stream
 * is complete, or why it failed. It never blocks on anything but the CPU, allocates only codec
 * state (when a filter or a concatenated stream starts, never in proportion to the data), and
 * does bounded work per call (at most PCOMM_FILTER_QUANTUM bytes of input consumed and of
 * output produced), so a filter can sit inside a non-blocking event loop that applies
 * backpressure simply by offering less room.
 *
 * Decoders are strict: corrupt input, a bad checksum, truncated input and trailing garbage
 * after the last stream are errors (-EBADMSG, with pcomm_filter_message() saying which), never
 * a silently short output. Multi-member gzip files and concatenated bzip2, xz and zstd streams
 * decode as one stream, as the codecs' own tools do. Every decoder has an output cap, a ratio
 * cap (compression bombs) and, for xz and zstd, a memory limit.
 *
 * Each codec is optional at build time; pcomm_filter_supported() says what this build has.
 * A filter is not internally locked: one thread uses it at a time.
 *
 * Part of libpcomm. SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_FILTER_H
#define PCOMM_FILTER_H

#include <stddef.h>
#include <stdint.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pcomm_filter pcomm_filter;

/* Codecs. PCOMM_CODEC_NONE copies bytes unchanged; PCOMM_CODEC_AUTO (decoders only) detects the
 * format from the first bytes of the input. */
enum pcomm_codec {
    PCOMM_CODEC_NONE = 0,
    PCOMM_CODEC_GZIP,
    PCOMM_CODEC_BZIP2,
    PCOMM_CODEC_XZ,
    PCOMM_CODEC_ZSTD,
    PCOMM_CODEC_AUTO
};

/* The mode argument of pcomm_filter_process(). */
enum pcomm_filter_mode {
    /* More input may follow. */
    PCOMM_FILTER_RUN = 0,
    /* No more input will come (EOF): encoders write their trailer, decoders report truncation. */
    PCOMM_FILTER_FINISH = 1,
    /* Encoders: make everything given so far decodable by the reader (a sync flush; costs a
     * little ratio). Decoders: same as PCOMM_FILTER_RUN, but say when all was consumed. */
    PCOMM_FILTER_FLUSH = 2
};

/* The non-negative results of pcomm_filter_process(). */
enum pcomm_filter_result {
    /* Call again: with more input, more output room, or with PCOMM_FILTER_FINISH. */
    PCOMM_FILTER_MORE = 0,
    /* The stream is complete and every output byte has been produced. */
    PCOMM_FILTER_END = 1,
    /* A PCOMM_FILTER_FLUSH call consumed all its input and produced all output it implies. */
    PCOMM_FILTER_FLUSHED = 2
};

/* The most input one call consumes and the most output it produces. */
#define PCOMM_FILTER_QUANTUM (1u << 20)

/* The memory limit of a new xz or zstd decoder (256 MiB: enough for xz -9 and zstd -19). */
#define PCOMM_FILTER_DEFAULT_MEMLIMIT (UINT64_C(256) << 20)

/* The ratio cap only applies once a decoder has produced more than this many bytes, so that
 * small, highly compressible inputs (and empty streams) are never mistaken for bombs. */
#define PCOMM_FILTER_RATIO_FLOOR (UINT64_C(1) << 20)

/* Whether codec is compiled into this build and usable: 1 or 0. PCOMM_CODEC_NONE and
 * PCOMM_CODEC_AUTO are always supported. A codec whose library, loaded at run time, is older
 * than the minimum pcomm requires (zlib 1.2.13, bzip2 1.0.8) counts as not supported. Never
 * fails; an unknown codec gives 0. */
PCOMM_API int pcomm_filter_supported(int codec);

/* The codec's name: "none", "gzip", "bzip2", "xz", "zstd" or "auto"; NULL for an unknown
 * codec. The string is static. */
PCOMM_API const char *pcomm_codec_name(int codec);

/* The codec called name: "gzip" or "gz", "bzip2" or "bz2", "xz", "zstd" or "zst", "none",
 * "auto" (ASCII case is ignored). Returns the codec, or -EINVAL for NULL or an unknown name.
 * Whether the codec is compiled in is pcomm_filter_supported()'s business. */
PCOMM_API int pcomm_codec_from_name(const char *name);

/* The codec a file name implies by its extension: .gz and .tgz give gzip, .bz2 and .tbz2 bzip2,
 * .xz and .txz xz, .zst and .tzst zstd (case is ignored); any other name gives
 * PCOMM_CODEC_NONE. Returns -EINVAL for NULL. */
PCOMM_API int pcomm_codec_from_path(const char *path);

/* The format of data starting with the len bytes at buf, by magic bytes: gzip (1f 8b), bzip2
 * ("BZh" and a digit 1-9), xz (fd '7zXZ' 00), zstd (a zstd frame or a skippable frame). Returns
 * the codec, PCOMM_CODEC_NONE for anything else (including data that could be a truncated
 * magic but is all there is: pass len with every byte you have), -EAGAIN when the len bytes are
 * a proper prefix of some magic and more are needed to tell, or -EINVAL for a NULL buf with a
 * non-zero len. Works for codecs that are not compiled in. */
PCOMM_API int pcomm_codec_detect(const void *buf, size_t len);

/* Create an encoder for codec in *fp. level < 0 means the codec's default (gzip 6, bzip2 9,
 * xz 6, zstd 3); otherwise gzip and bzip2 take 1-9, xz 0-9, zstd 1 to its maximum (22), and
 * PCOMM_CODEC_NONE ignores it. Returns 0, -EINVAL (NULL fp, PCOMM_CODEC_AUTO, an unknown codec,
 * a level out of range), PCOMM_EUNSUPPORTED (not compiled in, or the library is too old), or
 * -ENOMEM. */
PCOMM_API int pcomm_filter_new_encoder(pcomm_filter **fp, int codec, int level);

/* Create a decoder for codec in *fp. PCOMM_CODEC_AUTO detects the format from the input's magic
 * bytes; unknown data is then an error (PCOMM_EFORMAT) unless pcomm_filter_set_passthrough()
 * turned passthrough on. A new decoder has no output or ratio cap and the memory limit
 * PCOMM_FILTER_DEFAULT_MEMLIMIT; see pcomm_filter_set_limits(). Returns 0, -EINVAL,
 * PCOMM_EUNSUPPORTED, or -ENOMEM. */
PCOMM_API int pcomm_filter_new_decoder(pcomm_filter **fp, int codec);

/* Compress with n worker threads (xz and zstd encoders; liblzma's and libzstd's own threads).
 * n = 0 means one per online CPU; n = 1 is the default single-threaded encoder. Multithreaded
 * output is a valid stream for every decoder but is not byte-identical to single-threaded
 * output, and an xz encoder with n threads needs about n times the memory (xz -6: ~165 MiB per
 * thread). Call it before the first pcomm_filter_process(). Returns 0, -EINVAL (NULL f, n < 0,
 * a decoder, or n > 1 for a codec without threads), -EBUSY (already started), PCOMM_EUNSUPPORTED
 * (the library was built without threads), or -ENOMEM. */
PCOMM_API int pcomm_filter_set_threads(pcomm_filter *f, int n);

/* Limits of a decoder; 0 means no limit. max_output caps the total decoded output: a stream
 * that would decode to more fails with PCOMM_ECAP, and no byte past the cap is ever produced.
 * max_ratio caps output / compressed input: once the output passes PCOMM_FILTER_RATIO_FLOOR, a
 * decoder whose output would exceed max_ratio times the compressed input it has been given
 * fails with PCOMM_ERATIO. memlimit bounds the memory the xz and zstd decoders may allocate for
 * one stream (PCOMM_EMEMLIMIT when a stream needs more); gzip and bzip2 decoders need no more
 * than 64 KiB and 4 MiB and ignore it. May be called at any time; takes effect at the next call.
 * Returns 0 or -EINVAL (NULL f, or an encoder). */
PCOMM_API int pcomm_filter_set_limits(pcomm_filter *f, uint64_t max_output, uint64_t max_ratio,
                                      uint64_t memlimit);

/* For a PCOMM_CODEC_AUTO decoder: on (non-zero) passes input in no known format through
 * unchanged instead of failing with PCOMM_EFORMAT; off (0) is the default. Call it before the
 * first pcomm_filter_process(). Returns 0, -EINVAL (NULL f, or not an auto decoder), or -EBUSY
 * (already started). */
PCOMM_API int pcomm_filter_set_passthrough(pcomm_filter *f, int on);

/* Run the filter. On entry *in_len bytes of input are available at in and *out_len bytes of
 * room at out; on return *in_len holds how many were consumed and *out_len how many were
 * produced. The caller passes the unconsumed rest of its input again next time. mode is
 * PCOMM_FILTER_RUN, PCOMM_FILTER_FINISH (no more input will come; once given, keep giving it
 * with the rest of the input until the call returns PCOMM_FILTER_END) or PCOMM_FILTER_FLUSH
 * (repeat it, likewise, until the call returns PCOMM_FILTER_FLUSHED).
 * Returns PCOMM_FILTER_MORE, PCOMM_FILTER_END, PCOMM_FILTER_FLUSHED, or a negative error:
 * -EBADMSG (corrupt input, bad checksum, truncated input, trailing garbage), PCOMM_ECAP,
 * PCOMM_ERATIO, PCOMM_EMEMLIMIT, PCOMM_EFORMAT (auto decoder, unknown data),
 * PCOMM_EUNSUPPORTED (auto decoder, format not compiled in), -ENOMEM, or -EINVAL (bad
 * arguments, or input offered after the end). Errors are final: every later call returns the
 * same error. A call that returns PCOMM_FILTER_MORE has consumed or produced at least one byte
 * unless it was given no input or no room, so a caller may wait for input or room before it
 * calls again. Buffer pointers may be NULL when their length is 0. */
PCOMM_API int pcomm_filter_process(pcomm_filter *f, const void *in, size_t *in_len, void *out,
                                   size_t *out_len, int mode);

/* A human description of the filter's last error ("truncated input", "bad CRC", "trailing
 * garbage after the compressed stream", "output cap of 16777216 bytes reached", ...), or ""
 * when there was none. Owned by the filter, valid until its next call. Never NULL. */
PCOMM_API const char *pcomm_filter_message(const pcomm_filter *f);

/* The codec the filter uses: for an auto decoder, the detected one, PCOMM_CODEC_NONE once it
 * passes data through, or PCOMM_CODEC_AUTO while still undecided. -EINVAL for NULL. */
PCOMM_API int pcomm_filter_codec(const pcomm_filter *f);

/* Total bytes consumed and produced so far (0 for NULL). */
PCOMM_API uint64_t pcomm_filter_total_in(const pcomm_filter *f);
PCOMM_API uint64_t pcomm_filter_total_out(const pcomm_filter *f);

/* Free a filter and the codec's state. Accepts NULL. */
PCOMM_API void pcomm_filter_free(pcomm_filter *f);

/* The run-time version of the library behind codec ("1.2.13" for zlib, "1.0.8, 13-Jul-2019"
 * for bzip2, "5.4.1", "1.5.4"), as the library reports it; NULL when the codec is not compiled
 * in or has no library. The string is static. */
PCOMM_API const char *pcomm_codec_version(int codec);

/* Describe the codecs of this build into buf, e.g. "gzip (zlib 1.2.13), bzip2 (1.0.8), xz
 * (5.4.1), zstd (1.5.4)", from the libraries' run-time version calls; a library older than the
 * minimum is marked "too old". Like snprintf(3): writes at most size bytes including the NUL
 * and returns the length of the whole description, or -EINVAL when buf is NULL and size is not
 * 0. "none" when no codec is compiled in. */
PCOMM_API int pcomm_filter_versions(char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* PCOMM_FILTER_H */
