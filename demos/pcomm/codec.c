/* demos/pcomm/codec.c - compression in the pcomm command: -i is decompressed by its magic bytes
 * (not by its name), -o/-e are compressed by -z or by their extension, and decoders get caps.
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* The first bytes of a regular file, without moving its offset; -1 when fd is not a regular
 * file (a pipe, a terminal: its bytes can only be seen by reading them). */
static ssize_t peek_regular(int fd, unsigned char *buf, size_t len)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return -1;
    off_t at = lseek(fd, 0, SEEK_CUR);
    ssize_t n = at < 0 ? -1 : pread(fd, buf, len, at);
    return n;
}

/* What -i holds: a codec, PCOMM_CODEC_NONE, or PCOMM_CODEC_AUTO when only reading it will tell
 * (a pipe, or a file too short to tell). An unreadable file is PCOMM_CODEC_NONE: the start
 * reports it. A terminal is never decompressed. */
static int input_codec(const char *input)
{
    bool own = strcmp(input, "-") != 0;
    int fd = own ? open(input, O_RDONLY | O_CLOEXEC | O_NOCTTY) : 0;
    if (fd < 0)
        return PCOMM_CODEC_NONE;
    if (isatty(fd)) { /* typed input: waiting for magic bytes would hold short lines back */
        if (own)
            close(fd);
        return PCOMM_CODEC_NONE;
    }
    unsigned char magic[32];
    ssize_t n = peek_regular(fd, magic, sizeof magic);
    if (own)
        close(fd);
    if (n < 0)
        return PCOMM_CODEC_AUTO;
    int codec = pcomm_codec_detect(magic, (size_t)n);
    return codec == -EAGAIN ? PCOMM_CODEC_AUTO : codec;
}

const char *cli_input_name(const struct cli_opts *opts)
{
    return strcmp(opts->input, "-") ? opts->input : "standard input";
}

int cli_input_filter(const struct cli_opts *opts, pcomm_filter **filterp)
{
    *filterp = NULL;
    if (!opts->input || opts->raw_input)
        return 0;
    int codec = input_codec(opts->input);
    if (codec == PCOMM_CODEC_NONE)
        return 0; /* fed as it is (spliced from a file) */
    if (!pcomm_filter_supported(codec)) {
        cli_error("'%s' is %s-compressed, but this pcomm has no %s (see pcomm -V)",
                  cli_input_name(opts), pcomm_codec_name(codec), pcomm_codec_name(codec));
        return CLI_EXIT_FAILURE;
    }
    pcomm_filter *f;
    int r = pcomm_filter_new_decoder(&f, PCOMM_CODEC_AUTO);
    if (r == 0)
        r = pcomm_filter_set_limits(f, opts->max_decoded, opts->max_ratio,
                                    PCOMM_FILTER_DEFAULT_MEMLIMIT);
    if (r == 0 && codec == PCOMM_CODEC_AUTO) /* plain data from a pipe passes through */
        r = pcomm_filter_set_passthrough(f, 1);
    if (r < 0) {
        pcomm_filter_free(f);
        cli_error("cannot decompress '%s': %s", cli_input_name(opts), pcomm_strerror(r));
        return CLI_EXIT_FAILURE;
    }
    cli_verbose(opts, "input '%s': %s", cli_input_name(opts),
                codec == PCOMM_CODEC_AUTO ? "decompressed when compressed (told by its first bytes)"
                                          : pcomm_codec_name(codec));
    *filterp = f;
    return 0;
}

int cli_output_codec(const struct cli_opts *opts, const char *path)
{
    int codec = opts->compress_codec >= 0 ? opts->compress_codec : pcomm_codec_from_path(path);
    if (codec != PCOMM_CODEC_NONE && !pcomm_filter_supported(codec)) {
        cli_error("cannot compress '%s' with %s: this pcomm has no %s (see pcomm -V)", path,
                  pcomm_codec_name(codec), pcomm_codec_name(codec));
        return -1;
    }
    return codec;
}

int cli_output_encoder(const struct cli_opts *opts, int codec, const char *path,
                       pcomm_filter **filterp)
{
    int r = pcomm_filter_new_encoder(filterp, codec, opts->compress_level);
    if (r == -EINVAL)
        cli_error("-z: level %d is not a %s level", opts->compress_level, pcomm_codec_name(codec));
    else if (r < 0)
        cli_error("cannot compress '%s': %s", path, pcomm_strerror(r));
    return r;
}

/* -z ALG[:LEVEL] */
int cli_parse_compress(const char *arg, int *codec, int *level)
{
    char name[32];
    const char *colon = strchr(arg, ':');
    size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
    if (len == 0 || len >= sizeof name)
        return -1;
    memcpy(name, arg, len);
    name[len] = '\0';
    int c = pcomm_codec_from_name(name);
    if (c < 0 || c == PCOMM_CODEC_AUTO)
        return -1;
    *codec = c;
    *level = -1;
    if (!colon)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || v < 0 || v > 99 || c == PCOMM_CODEC_NONE)
        return -1;
    *level = (int)v;
    return 0;
}
