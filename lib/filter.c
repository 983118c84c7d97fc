/* lib/filter.c - pcomm_filter: the codec-independent part (see filter_private.h).
 * SPDX-License-Identifier: MIT */
#include "filter_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct pcomm_filter {
    const struct pcomm__codec *codec; /* NULL: copy (PCOMM_CODEC_NONE), or auto undecided */
    void *state;
    int kind;     /* what was asked for: enum pcomm_codec */
    int detected; /* for auto decoders: PCOMM_CODEC_AUTO until decided */
    int level;
    bool encoder, started, finishing, ended, passthrough;
    int error; /* sticky */
    uint64_t max_output, max_ratio, memlimit;
    uint64_t total_in, total_out;
    unsigned char pre[8]; /* an auto decoder's first bytes, fed to the codec once decided */
    size_t pre_len, pre_fed;
    char msg[PCOMM__MSG_SIZE];
};

/* ---- names, detection, versions ----------------------------------------------------------- */

static const struct pcomm__codec *codec_ops(int codec)
{
    switch (codec) {
#ifdef PCOMM_HAVE_ZLIB
    case PCOMM_CODEC_GZIP: return &pcomm__codec_gzip;
#endif
#ifdef PCOMM_HAVE_BZIP2
    case PCOMM_CODEC_BZIP2: return &pcomm__codec_bzip2;
#endif
#ifdef PCOMM_HAVE_LZMA
    case PCOMM_CODEC_XZ: return &pcomm__codec_xz;
#endif
#ifdef PCOMM_HAVE_ZSTD
    case PCOMM_CODEC_ZSTD: return &pcomm__codec_zstd;
#endif
    default: return NULL;
    }
}

static bool codec_usable(const struct pcomm__codec *ops)
{
    return ops && (!ops->min_lib || pcomm__version_at_least(ops->version(), ops->min_lib));
}

int pcomm_filter_supported(int codec)
{
    if (codec == PCOMM_CODEC_NONE || codec == PCOMM_CODEC_AUTO)
        return 1;
    return codec_usable(codec_ops(codec)) ? 1 : 0;
}

static const char *const codec_names[] = {"none", "gzip", "bzip2", "xz", "zstd", "auto"};

const char *pcomm_codec_name(int codec)
{
    if (codec < PCOMM_CODEC_NONE || codec > PCOMM_CODEC_AUTO)
        return NULL;
    return codec_names[codec];
}

int pcomm_codec_from_name(const char *name)
{
    static const struct {
        const char *name;
        int codec;
    } names[] = {
        {"none", PCOMM_CODEC_NONE},   {"gzip", PCOMM_CODEC_GZIP}, {"gz", PCOMM_CODEC_GZIP},
        {"bzip2", PCOMM_CODEC_BZIP2}, {"bz2", PCOMM_CODEC_BZIP2}, {"xz", PCOMM_CODEC_XZ},
        {"zstd", PCOMM_CODEC_ZSTD},   {"zst", PCOMM_CODEC_ZSTD},  {"auto", PCOMM_CODEC_AUTO},
    };
    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(name, names[i].name))
            return names[i].codec;
    return -EINVAL;
}

int pcomm_codec_from_path(const char *path)
{
    static const struct {
        const char *ext;
        int codec;
    } exts[] = {
        {".gz", PCOMM_CODEC_GZIP},    {".tgz", PCOMM_CODEC_GZIP},  {".bz2", PCOMM_CODEC_BZIP2},
        {".tbz2", PCOMM_CODEC_BZIP2}, {".xz", PCOMM_CODEC_XZ},     {".txz", PCOMM_CODEC_XZ},
        {".zst", PCOMM_CODEC_ZSTD},   {".tzst", PCOMM_CODEC_ZSTD},
    };
    if (!path)
        return -EINVAL;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t n = strlen(exts[i].ext);
        if (len > n && !strcasecmp(base + len - n, exts[i].ext))
            return exts[i].codec;
    }
    return PCOMM_CODEC_NONE;
}

/* Whether buf[0..len) matches magic[0..min(len, n)); *complete when all n bytes were seen. */
static bool magic_match(const unsigned char *buf, size_t len, const char *magic, size_t n,
                        bool *complete)
{
    size_t m = len < n ? len : n;
    *complete = len >= n;
    return memcmp(buf, magic, m) == 0;
}

int pcomm_codec_detect(const void *buf, size_t len)
{
    if (!buf && len)
        return -EINVAL;
    if (len == 0)
        return -EAGAIN; /* a prefix of every magic (and memcmp must not see NULL) */
    const unsigned char *p = buf;
    bool need_more = false, complete;
    if (magic_match(p, len, "\x1f\x8b", 2, &complete)) {
        if (complete)
            return PCOMM_CODEC_GZIP;
        need_more = true;
    }
    if (magic_match(p, len, "BZh", 3, &complete)) {
        if (len >= 4)
            return p[3] >= '1' && p[3] <= '9' ? PCOMM_CODEC_BZIP2 : PCOMM_CODEC_NONE;
        need_more = true;
    }
    if (magic_match(p, len,
                    "\xfd"
                    "7zXZ\0",
                    6, &complete)) {
        if (complete)
            return PCOMM_CODEC_XZ;
        need_more = true;
    }
    if (magic_match(p, len, "\x28\xb5\x2f\xfd", 4, &complete)) {
        if (complete)
            return PCOMM_CODEC_ZSTD;
        need_more = true;
    }
    /* zstd skippable frames: magic 0x184D2A50..5F, little-endian. */
    if (len == 0 ||
        ((p[0] & 0xf0) == 0x50 && magic_match(p + 1, len - 1, "\x2a\x4d\x18", 3, &complete))) {
        if (len >= 4)
            return PCOMM_CODEC_ZSTD;
        need_more = true;
    }
    return need_more ? -EAGAIN : PCOMM_CODEC_NONE;
}

bool pcomm__version_at_least(const char *have, const char *want)
{
    for (int part = 0; part < 4; part++) {
        char *end_h, *end_w;
        unsigned long h = strtoul(have, &end_h, 10), w = strtoul(want, &end_w, 10);
        if (end_h == have)
            h = 0;
        if (end_w == want)
            return true; /* want has no more parts */
        if (h != w)
            return h > w;
        have = *end_h == '.' ? end_h + 1 : end_h;
        want = *end_w == '.' ? end_w + 1 : end_w;
    }
    return true;
}

const char *pcomm_codec_version(int codec)
{
    const struct pcomm__codec *ops = codec_ops(codec);
    return ops ? ops->version() : NULL;
}

int pcomm_filter_versions(char *buf, size_t size)
{
    if (!buf && size)
        return -EINVAL;
    size_t len = 0;
    for (int c = PCOMM_CODEC_GZIP; c <= PCOMM_CODEC_ZSTD; c++) {
        const struct pcomm__codec *ops = codec_ops(c);
        if (!ops)
            continue;
        const char *v = ops->version();
        int vlen = (int)strcspn(v, ", "); /* bzip2 says "1.0.8, 13-Jul-2019" */
        char part[128];
        int n = snprintf(part, sizeof part, "%s%s (%s%s%.*s%s%s)", len ? ", " : "",
                         pcomm_codec_name(c), ops->lib ? ops->lib : "", ops->lib ? " " : "", vlen,
                         v, codec_usable(ops) ? "" : ", too old: needs ",
                         codec_usable(ops) ? "" : ops->min_lib);
        if (n > 0 && len < size)
            snprintf(buf + len, size - len, "%s", part);
        len += n > 0 ? (size_t)n : 0;
    }
    if (len == 0 && size)
        snprintf(buf, size, "none");
    return len ? (int)len : 4;
}

/* ---- life cycle ----------------------------------------------------------------------------- */

static int filter_alloc(pcomm_filter **fp, int codec, bool encoder)
{
    pcomm_filter *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->kind = codec;
    f->detected = codec;
    f->encoder = encoder;
    f->memlimit = PCOMM_FILTER_DEFAULT_MEMLIMIT;
    *fp = f;
    return 0;
}

int pcomm_filter_new_encoder(pcomm_filter **fp, int codec, int level)
{
    if (fp)
        *fp = NULL;
    if (!fp || codec < PCOMM_CODEC_NONE || codec >= PCOMM_CODEC_AUTO)
        return -EINVAL;
    const struct pcomm__codec *ops = codec_ops(codec);
    if (codec != PCOMM_CODEC_NONE && !codec_usable(ops))
        return PCOMM_EUNSUPPORTED;
    if (ops) {
        level = level < 0 ? ops->default_level : ops->level(level);
        if (level < 0)
            return level;
    }
    pcomm_filter *f;
    int r = filter_alloc(&f, codec, true);
    if (r < 0)
        return r;
    f->codec = ops;
    f->level = level;
    if (ops && (r = ops->new_encoder(&f->state, level)) < 0) {
        free(f);
        return r;
    }
    *fp = f;
    return 0;
}

int pcomm_filter_new_decoder(pcomm_filter **fp, int codec)
{
    if (fp)
        *fp = NULL;
    if (!fp || codec < PCOMM_CODEC_NONE || codec > PCOMM_CODEC_AUTO)
        return -EINVAL;
    const struct pcomm__codec *ops = codec_ops(codec);
    if (codec != PCOMM_CODEC_NONE && codec != PCOMM_CODEC_AUTO && !codec_usable(ops))
        return PCOMM_EUNSUPPORTED;
    pcomm_filter *f;
    int r = filter_alloc(&f, codec, false);
    if (r < 0)
        return r;
    f->codec = ops;
    if (ops && (r = ops->new_decoder(&f->state, f->memlimit)) < 0) {
        free(f);
        return r;
    }
    *fp = f;
    return 0;
}

void pcomm_filter_free(pcomm_filter *f)
{
    if (!f)
        return;
    if (f->codec && f->state)
        f->codec->free(f->state);
    free(f);
}

int pcomm_filter_set_threads(pcomm_filter *f, int n)
{
    if (!f || n < 0 || !f->encoder)
        return -EINVAL;
    if (f->started)
        return -EBUSY;
    if (!f->codec || !f->codec->set_threads)
        return n <= 1 ? 0 : -EINVAL;
    return f->codec->set_threads(f->state, n);
}

int pcomm_filter_set_limits(pcomm_filter *f, uint64_t max_output, uint64_t max_ratio,
                            uint64_t memlimit)
{
    if (!f || f->encoder)
        return -EINVAL;
    f->max_output = max_output;
    f->max_ratio = max_ratio;
    f->memlimit = memlimit;
    if (f->codec && f->state && f->codec->set_memlimit && !f->error) {
        int r = f->codec->set_memlimit(f->state, memlimit, f->msg);
        if (r < 0)
            f->error = r; /* the stream already holds more than the new limit */
    }
    return 0;
}

int pcomm_filter_set_passthrough(pcomm_filter *f, int on)
{
    if (!f || f->encoder || f->kind != PCOMM_CODEC_AUTO)
        return -EINVAL;
    if (f->started)
        return -EBUSY;
    f->passthrough = on != 0;
    return 0;
}

const char *pcomm_filter_message(const pcomm_filter *f)
{
    return f && f->error ? f->msg : "";
}

int pcomm_filter_codec(const pcomm_filter *f)
{
    return f ? f->detected : -EINVAL;
}

uint64_t pcomm_filter_total_in(const pcomm_filter *f)
{
    return f ? f->total_in : 0;
}

uint64_t pcomm_filter_total_out(const pcomm_filter *f)
{
    return f ? f->total_out : 0;
}

int pcomm__filter_truncated(char *msg, uint64_t stream_in, const char *codec)
{
    if (stream_in == 0)
        snprintf(msg, PCOMM__MSG_SIZE, "empty input: no %s stream", codec);
    else
        snprintf(msg, PCOMM__MSG_SIZE, "truncated input: the %s stream ends early", codec);
    return -EBADMSG;
}

static int filter_fail(pcomm_filter *f, int err)
{
    if (!f->msg[0])
        snprintf(f->msg, sizeof f->msg, "%s", pcomm_strerror(err));
    f->error = err;
    return err;
}

/* ---- the data path ----------------------------------------------------------------------------
 */

/* The copy codec: PCOMM_CODEC_NONE, and auto decoders passing unknown data through. */
static int copy_step(struct pcomm__buf *b, bool finish)
{
    size_t n = b->in_len < b->out_len ? b->in_len : b->out_len;
    if (n)
        memcpy(b->out, b->in, n);
    b->in_used = b->out_used = n;
    return finish && n == b->in_len ? PCOMM_FILTER_END : PCOMM_FILTER_MORE;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* The most output the caps allow in total, given `seen` bytes of compressed input. */
static uint64_t output_limit(const pcomm_filter *f, uint64_t seen)
{
    uint64_t limit = f->max_output ? f->max_output : UINT64_MAX;
    if (f->max_ratio) {
        uint64_t by_ratio = sat_mul(f->max_ratio, seen);
        if (by_ratio < PCOMM_FILTER_RATIO_FLOOR)
            by_ratio = PCOMM_FILTER_RATIO_FLOOR;
        if (by_ratio < limit)
            limit = by_ratio;
    }
    return limit;
}

static int cap_error(pcomm_filter *f)
{
    if (f->max_output && f->total_out >= f->max_output) {
        snprintf(f->msg, sizeof f->msg, "output cap of %llu bytes reached",
                 (unsigned long long)f->max_output);
        return filter_fail(f, PCOMM_ECAP);
    }
    snprintf(f->msg, sizeof f->msg,
             "output would exceed %llu times the compressed input (%llu bytes from %llu): a "
             "compression bomb?",
             (unsigned long long)f->max_ratio, (unsigned long long)f->total_out,
             (unsigned long long)f->total_in);
    return filter_fail(f, PCOMM_ERATIO);
}

/* One decoder step under the caps. When the caps leave no room but the caller has some, the
 * codec gets a private 1-byte probe: a byte there means the stream goes on past the cap. So no
 * byte beyond a cap ever reaches the caller, and a stream that ends exactly at it is fine. */
static int decode_step(pcomm_filter *f, struct pcomm__buf *b, bool finish, uint64_t seen)
{
    uint64_t limit = output_limit(f, seen);
    uint64_t left = limit > f->total_out ? limit - f->total_out : 0;
    unsigned char probe;
    bool probing = left == 0 && b->out_len > 0;
    if (probing) {
        struct pcomm__buf pb = {b->in, b->in_len, 0, &probe, 1, 0};
        int r = f->codec ? f->codec->decode(f->state, &pb, finish, f->msg) : copy_step(&pb, finish);
        b->in_used = pb.in_used;
        if (r >= 0 && pb.out_used)
            return cap_error(f);
        return r;
    }
    if (left < b->out_len)
        b->out_len = (size_t)left;
    int r = f->codec ? f->codec->decode(f->state, b, finish, f->msg) : copy_step(b, finish);
    f->total_out += b->out_used;
    return r;
}

/* Feed an auto decoder's first bytes into f->pre until the format is known, then set up the
 * decoder (or passthrough). Returns 1 when decided, PCOMM_FILTER_MORE when more bytes are
 * needed, or an error. *used counts the caller's bytes taken. */
static int auto_detect(pcomm_filter *f, const unsigned char *in, size_t len, size_t *used,
                       bool finish)
{
    int d = -EAGAIN;
    *used = 0;
    while (d == -EAGAIN && *used < len && f->pre_len < sizeof f->pre) {
        f->pre[f->pre_len++] = in[(*used)++];
        d = pcomm_codec_detect(f->pre, f->pre_len);
    }
    f->total_in += *used;
    if (d == -EAGAIN && !(finish && *used == len))
        return PCOMM_FILTER_MORE;
    if (d == -EAGAIN)
        d = PCOMM_CODEC_NONE; /* all the input there is: too short for any magic */
    if (d == PCOMM_CODEC_NONE) {
        if (!f->passthrough) {
            snprintf(f->msg, sizeof f->msg, "%s",
                     f->pre_len ? "unknown format: not gzip, bzip2, xz or zstd data"
                                : "empty input: no compressed stream");
            return filter_fail(f, PCOMM_EFORMAT);
        }
        f->detected = PCOMM_CODEC_NONE;
        return 1;
    }
    const struct pcomm__codec *ops = codec_ops(d);
    if (!codec_usable(ops)) {
        snprintf(f->msg, sizeof f->msg, "%s data, but this build has no usable %s decoder",
                 pcomm_codec_name(d), pcomm_codec_name(d));
        return filter_fail(f, PCOMM_EUNSUPPORTED);
    }
    int r = ops->new_decoder(&f->state, f->memlimit);
    if (r < 0)
        return filter_fail(f, r);
    f->codec = ops;
    f->detected = d;
    return 1;
}

static int check_args(const pcomm_filter *f, const void *in, const size_t *in_len, const void *out,
                      const size_t *out_len, int mode)
{
    if (!f || !in_len || !out_len || (!in && *in_len) || (!out && *out_len))
        return -EINVAL;
    if (mode != PCOMM_FILTER_RUN && mode != PCOMM_FILTER_FINISH && mode != PCOMM_FILTER_FLUSH)
        return -EINVAL;
    if (f->finishing && mode != PCOMM_FILTER_FINISH)
        return -EINVAL; /* FINISH is a promise: no more input */
    return 0;
}

static int encode_call(pcomm_filter *f, struct pcomm__buf *b, int mode)
{
    int r = f->codec ? f->codec->encode(f->state, b, mode, f->msg)
                     : copy_step(b, mode == PCOMM_FILTER_FINISH);
    if (r == PCOMM_FILTER_MORE && !f->codec && mode == PCOMM_FILTER_FLUSH &&
        b->in_used == b->in_len)
        r = PCOMM_FILTER_FLUSHED;
    f->total_in += b->in_used;
    f->total_out += b->out_used;
    return r;
}

/* Decode the pending auto-detected prefix, then the caller's input. */
static int decode_call(pcomm_filter *f, struct pcomm__buf *b, int mode, size_t *in_used)
{
    bool last = mode != PCOMM_FILTER_RUN; /* the dispatcher's b holds all the rest */
    if (f->pre_fed < f->pre_len) {
        struct pcomm__buf pb = {
            f->pre + f->pre_fed, f->pre_len - f->pre_fed, 0, b->out, b->out_len, 0};
        bool fin = mode == PCOMM_FILTER_FINISH && b->in_len == 0;
        int r = decode_step(f, &pb, fin, f->total_in);
        f->pre_fed += pb.in_used;
        b->out += pb.out_used;
        b->out_len -= pb.out_used;
        *in_used = 0;
        if (r != PCOMM_FILTER_MORE || f->pre_fed < f->pre_len) {
            b->out_used = pb.out_used;
            return r;
        }
        size_t done = pb.out_used;
        r = decode_call(f, b, mode, in_used);
        b->out_used += done;
        return r;
    }
    bool fin = mode == PCOMM_FILTER_FINISH;
    int r = decode_step(f, b, fin, f->total_in + b->in_len);
    f->total_in += b->in_used;
    *in_used = b->in_used;
    if (r == PCOMM_FILTER_MORE && last && mode == PCOMM_FILTER_FLUSH && b->in_used == b->in_len &&
        b->out_used < b->out_len)
        r = PCOMM_FILTER_FLUSHED;
    return r;
}

int pcomm_filter_process(pcomm_filter *f, const void *in, size_t *in_len, void *out,
                         size_t *out_len, int mode)
{
    int r = check_args(f, in, in_len, out, out_len, mode);
    if (r < 0)
        return r;
    size_t avail = *in_len, room = *out_len;
    *in_len = *out_len = 0;
    if (f->error)
        return f->error;
    if (f->ended)
        return avail ? -EINVAL : PCOMM_FILTER_END;
    f->started = true;
    f->finishing = mode == PCOMM_FILTER_FINISH;
    unsigned char dummy;
    const unsigned char *ip = avail ? in : &dummy;
    size_t taken = 0;
    if (!f->encoder && f->detected == PCOMM_CODEC_AUTO) {
        r = auto_detect(f, ip, avail, &taken, mode == PCOMM_FILTER_FINISH);
        *in_len = taken;
        if (r <= 0)
            return r;
    }
    size_t n = avail - taken > PCOMM_FILTER_QUANTUM ? PCOMM_FILTER_QUANTUM : avail - taken;
    struct pcomm__buf b = {ip + taken,
                           n,
                           0,
                           room ? out : &dummy,
                           room > PCOMM_FILTER_QUANTUM ? PCOMM_FILTER_QUANTUM : room,
                           0};
    int cmode = taken + n == avail ? mode : PCOMM_FILTER_RUN;
    size_t used = 0;
    if (f->encoder) {
        r = encode_call(f, &b, cmode);
        used = b.in_used;
    } else {
        r = decode_call(f, &b, cmode, &used);
    }
    *in_len = taken + used;
    *out_len = b.out_used;
    if (r < 0)
        return filter_fail(f, r);
    if (r == PCOMM_FILTER_END)
        f->ended = true;
    return r;
}
