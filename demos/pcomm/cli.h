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
    char **argv; /* the command, pointing into main's argv */
    const char *pipeline;
    const char *chdir;
    struct cli_env_op *env_ops;
    size_t env_op_count;
    bool ignore_env;
    bool foreground;
    int verbose;
};

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

#endif
