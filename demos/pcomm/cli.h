/* demos/pcomm/cli.h - the pcomm command: options and the pieces of main.
 * Built only on libpcomm's public API. SPDX-License-Identifier: MIT */
#ifndef PCOMM_CLI_H
#define PCOMM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pcomm.h>

/* Exit statuses of the CLI contract (CLI.md). */
enum {
    CLI_EXIT_TIMEOUT = 124,
    CLI_EXIT_FAILURE = 125, /* pcomm itself failed */
    CLI_EXIT_CANNOT_RUN = 126,
    CLI_EXIT_NOT_FOUND = 127,
};

struct cli_env_op {
    char op; /* 'E' set NAME=VALUE, 'U' unset NAME */
    const char *arg;
};

struct cli_opts {
    char **argv;          /* the command, pointing into main's argv */
    const char *pipeline; /* -c */
    const char *chdir;
    struct cli_env_op *env_ops;
    size_t env_op_count;
    bool ignore_env;
    bool foreground;
    int verbose;
    /* input and output */
    const char *input;     /* -i: a path, or "-" for pcomm's stdin */
    bool raw_input;        /* --raw-input: never decompress -i */
    int compress_codec;    /* -z: PCOMM_CODEC_*, or -1: by the file's extension */
    int compress_level;    /* -z ALG:LEVEL, -1: the codec's default */
    uint64_t max_decoded;  /* --max-decoded: cap on -i's decompressed size, 0 = none */
    uint64_t max_ratio;    /* --max-ratio: cap on its expansion, 0 = none */
    const char *output[3]; /* -o [1], -e [2] */
    bool merge, tee, quiet, timestamps;
    const char *prefix;
    size_t tail_lines;  /* --tail, 0 = off */
    uint64_t spool_max; /* --spool-max */
    /* time limits */
    int64_t timeout_ms;    /* -t, 0 = none */
    int timeout_sig;       /* -s */
    int64_t kill_after_ms; /* -k, -1 = never */
    int64_t linger_ms;     /* --linger */
    bool preserve_status;
    /* reporting */
    const char *json;  /* -j */
    const char *trace; /* --trace */
    const char *lock;  /* --lock */
    /* line buffering */
    unsigned pty;        /* CLI_PTY_* bits: which descriptors get a pty */
    bool pty_merged;     /* --pty=merged: stdout and stderr on one pty */
    bool linebuf;        /* --linebuf */
    unsigned cols, rows; /* --size, 0x0 = automatic */
};

/* opts.pty bits, by child descriptor. */
enum { CLI_PTY_STDIN = 1, CLI_PTY_STDOUT = 2, CLI_PTY_STDERR = 4 };

/* Parse argv into opts. Returns -1 to continue, or an exit status for main to return (after
 * --help, --version, or a usage error, which has already been reported). */
int cli_parse(int argc, char **argv, struct cli_opts *opts);
void cli_opts_free(struct cli_opts *opts);

/* Diagnostics on stderr, prefixed "pcomm: ". */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_verbose(const struct cli_opts *opts, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Value parsers for the CLI's option arguments. Each returns 0 or -1. */
int cli_parse_duration_ms(const char *s, int64_t *ms);
int cli_parse_size(const char *s, uint64_t *bytes);
int cli_parse_signal(const char *s, int *sig);

/* ---- compression (codec.c) ------------------------------------------------------------------ */

/* -z ALG[:LEVEL] into a codec and a level (-1 = default). Returns 0 or -1. */
int cli_parse_compress(const char *arg, int *codec, int *level);

/* The decoder -i needs: a compressed regular file is told by its first bytes, a pipe by the
 * first bytes that come (plain data then passes through); NULL when -i is fed as it is (none,
 * --raw-input, a plain file). Returns 0, or an exit status after reporting. */
int cli_input_filter(const struct cli_opts *opts, pcomm_filter **filterp);

/* -i's name for messages ("standard input" for -). */
const char *cli_input_name(const struct cli_opts *opts);

/* The codec of an output file (-z, else its extension); -1 after reporting a codec this build
 * does not have. */
int cli_output_codec(const struct cli_opts *opts, const char *path);

/* An encoder for an output file with -z's level. Returns 0 or a negative error (reported). */
int cli_output_encoder(const struct cli_opts *opts, int codec, const char *path,
                       pcomm_filter **filterp);

/* ---- --lock (lock.c) and the status line (status.c) ------------------------------------------ */

/* Take an exclusive flock on path, waiting until deadline_ns (0 = forever). Returns 0 with the
 * close-on-exec descriptor in *fdp, or an exit status after reporting (124 when the deadline
 * passed, 125 on errors). */
int cli_lock(const char *path, int64_t deadline_ns, int *fdp);

struct cli_status {
    bool enabled;
    bool drawn;
    int64_t start_ns, last_ns;
};

/* Whether the status line is wanted: stderr is a terminal and the output is not shown live. */
bool cli_status_wanted(const struct cli_opts *opts);
void cli_status_draw(struct cli_status *st, pcomm_job *job, bool force);
void cli_status_erase(struct cli_status *st);

/* ---- live output and --tail (output.c) ------------------------------------------------------ */

struct cli_report;

struct cli_output {
    const struct cli_opts *opts;
    struct cli_report *report; /* --trace keeps the lines */
    bool count;                /* pump every stream so that its bytes are counted */
    int null_fd;               /* where counted-but-discarded output goes */
    int64_t start_ns;
    bool line_start[3];    /* the next piece on this stream starts a line */
    bool live_lines[3];    /* print this stream line by line (with -T / --prefix) */
    bool pumped[3];        /* the stream goes through the job (a pipe or a pty) */
    bool live[3];          /* shown live on pcomm's own stdout / stderr */
    pcomm_atomic *file[3]; /* -o, -e (the same writer for both when they name one path) */
    int codec[3];          /* their compression, PCOMM_CODEC_NONE for none */
    pcomm_spool *tail;     /* both streams' lines in arrival order, for --tail */
    int write_error;       /* a failed write to pcomm's own stdout/stderr */
};

/* Decide how each stream is handled; discarded streams are set on the stages' commands (before
 * the job takes them). Then attach the pumped streams' sinks to the job: 0, a negative error, or
 * PCOMM_EUNSUPPORTED after reporting an encoder that could not be made. */
int cli_output_plan(struct cli_output *out, const struct cli_opts *opts, pcomm_pipeline *stages);
int cli_output_attach(struct cli_output *out, pcomm_job *job);

/* After the run: commit the -o/-e files (commit = pcomm did not fail), or leave them uncommitted
 * for cli_output_free() to remove. Returns 0 or the first commit error (already reported). */
int cli_output_finish(struct cli_output *out, bool commit);

/* After the run: print the --tail excerpt when the command failed. */
void cli_output_tail(struct cli_output *out, bool failed, const char *how);
void cli_output_free(struct cli_output *out);

#endif
