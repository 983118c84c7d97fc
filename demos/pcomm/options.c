/* demos/pcomm/options.c - option parsing for pcomm (getopt_long, stop at the first operand).
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pcomm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_verbose(const struct cli_opts *opts, const char *fmt, ...)
{
    if (!opts->verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("pcomm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *out)
{
    fputs("Usage: pcomm [OPTION]... [--] COMMAND [ARG]...\n"
          "Run COMMAND so that its output is live, bounded, timed and recorded.\n"
          "\n"
          "Running:\n"
          "  -C, --chdir=DIR            run the command in DIR\n"
          "  -E, --env=NAME=VALUE       set a variable in the command's environment\n"
          "  -U, --unset=NAME           remove a variable from it\n"
          "  -I, --ignore-environment   start from an empty environment (then -E adds)\n"
          "      --foreground           do not put the command in its own process group\n"
          "\n"
          "Reporting:\n"
          "  -v, --verbose              say on stderr what pcomm does\n"
          "  -h, --help                 show this help and exit\n"
          "  -V, --version              show the version and exit\n"
          "\n"
          "Exit status: the command's own; 124 if it timed out; 125 if pcomm failed;\n"
          "126 if the command could not be run; 127 if it was not found; 128+N if it was\n"
          "killed by signal N.\n",
          out);
}

/* "pcomm X.Y.Z", then the codecs compiled in with their libraries' run-time versions. */
static void print_version(void)
{
    char codecs[256];
    pcomm_filter_versions(codecs, sizeof codecs);
    printf("pcomm %s\ncodecs: %s\n", pcomm_version(), codecs);
}

static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pcomm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'pcomm --help' for more information.\n", stderr);
    va_end(ap);
}

enum { OPT_FOREGROUND = 256 };

static const struct option long_options[] = {
    {"chdir", required_argument, NULL, 'C'},
    {"env", required_argument, NULL, 'E'},
    {"unset", required_argument, NULL, 'U'},
    {"ignore-environment", no_argument, NULL, 'I'},
    {"foreground", no_argument, NULL, OPT_FOREGROUND},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int add_env_op(struct cli_opts *opts, char op, const char *arg)
{
    if (op == 'E' && (!strchr(arg, '=') || arg[0] == '=')) {
        usage_error("--env wants NAME=VALUE, not '%s'", arg);
        return -1;
    }
    if (op == 'U' && (!*arg || strchr(arg, '='))) {
        usage_error("--unset wants a variable name, not '%s'", arg);
        return -1;
    }
    struct cli_env_op *ops = realloc(opts->env_ops, (opts->env_op_count + 1) * sizeof *ops);
    if (!ops) {
        cli_error("out of memory");
        return -1;
    }
    opts->env_ops = ops;
    ops[opts->env_op_count++] = (struct cli_env_op){op, arg};
    return 0;
}

int cli_parse(int argc, char **argv, struct cli_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:C:E:U:IvhV", long_options, NULL)) != -1) {
        switch (c) {
        case 'C': opts->chdir = optarg; break;
        case 'E':
        case 'U':
            if (add_env_op(opts, (char)c, optarg) < 0)
                return CLI_EXIT_FAILURE;
            break;
        case 'I': opts->ignore_env = true; break;
        case OPT_FOREGROUND: opts->foreground = true; break;
        case 'v': opts->verbose++; break;
        case 'h': usage(stdout); return 0;
        case 'V': print_version(); return 0;
        case ':': usage_error("option '%s' needs an argument", argv[optind - 1]); return 125;
        default:
            if (optopt)
                usage_error("unknown option '-%c'", optopt);
            else
                usage_error("unknown option '%s'", argv[optind - 1]);
            return CLI_EXIT_FAILURE;
        }
    }
    if (optind >= argc) {
        usage_error("no command given");
        return CLI_EXIT_FAILURE;
    }
    opts->argv = argv + optind;
    return -1;
}

void cli_opts_free(struct cli_opts *opts)
{
    free(opts->env_ops);
}

/* ---- value parsers ----------------------------------------------------------------------- */

int cli_parse_duration_ms(const char *s, int64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0 || isspace((unsigned char)*s))
        return -1;
    double scale;
    if (!*end || !strcmp(end, "s"))
        scale = 1e3;
    else if (!strcmp(end, "ms"))
        scale = 1;
    else if (!strcmp(end, "m"))
        scale = 60e3;
    else if (!strcmp(end, "h"))
        scale = 3600e3;
    else
        return -1;
    double total = ceil(v * scale);
    if (total > 9.2e15)
        return -1;
    *ms = (int64_t)total;
    return 0;
}

int cli_parse_size(const char *s, uint64_t *bytes)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M')
        shift = 20;
    else if (*end == 'G')
        shift = 30;
    else if (*end)
        return -1;
    if (*end && end[1])
        return -1;
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *bytes = (uint64_t)v << shift;
    return 0;
}

int cli_parse_signal(const char *s, int *sig)
{
    if (isdigit((unsigned char)*s)) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end || v <= 0 || v >= NSIG)
            return -1;
        *sig = (int)v;
        return 0;
    }
    if (!strncasecmp(s, "SIG", 3))
        s += 3;
    for (int i = 1; i < NSIG; i++) {
        const char *name = sigabbrev_np(i);
        if (name && !strcasecmp(name, s)) {
            *sig = i;
            return 0;
        }
    }
    return -1;
}
