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

static void say(const char *fmt, va_list ap)
{
    fputs("pcomm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
}

void cli_verbose(const struct cli_opts *opts, const char *fmt, ...)
{
    if (!opts->verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
}

static void usage(FILE *out)
{
    fputs("Usage: pcomm [OPTION]... [--] COMMAND [ARG]...\n"
          "  or:  pcomm [OPTION]... -c 'CMD [ARG]... [| CMD [ARG]...]...'\n"
          "Run COMMAND so that its output is live, bounded, timed and recorded.\n"
          "\n"
          "Running:\n"
          "  -c, --pipeline=STRING      run a pipeline given as one string: words, quotes,\n"
          "                             backslashes and | between stages (not a shell)\n"
          "  -C, --chdir=DIR            run the command in DIR\n"
          "  -E, --env=NAME=VALUE       set a variable in the command's environment\n"
          "  -U, --unset=NAME           remove a variable from it\n"
          "  -I, --ignore-environment   start from an empty environment (then -E adds)\n"
          "      --foreground           do not put the command in its own process group\n"
          "\n"
          "Input and output:\n"
          "  -i, --input=FILE           feed FILE to the command's stdin (- = pcomm's stdin);\n"
          "                             gzip, bzip2, xz and zstd input is decompressed,\n"
          "                             told by its first bytes\n"
          "      --raw-input            feed --input as it is, without decompressing\n"
          "      --max-decoded=SIZE     fail if --input decompresses to more (default 64G,\n"
          "                             0 = no cap)\n"
          "      --max-ratio=N          fail if --input expands more than N times (default\n"
          "                             10000, 0 = no cap): compression bombs\n"
          "  -o, --output=FILE          write stdout to FILE atomically (whole or not at all)\n"
          "  -e, --error-output=FILE    the same for stderr\n"
          "  -z, --compress=ALG[:LEVEL] compress -o/-e files with gzip, bzip2, xz, zstd or\n"
          "                             none (default: by extension, .gz .bz2 .xz .zst)\n"
          "      --tee                  with -o/-e, also show that stream live\n"
          "  -m, --merge                stderr goes wherever stdout goes (2>&1)\n"
          "  -q, --quiet                show nothing live\n"
          "  -T, --timestamps           prefix live lines with seconds since start and stream\n"
          "      --prefix=TEXT          prefix live lines with TEXT\n"
          "      --tail=N               if the command fails, print its last N lines at the end\n"
          "      --spool-max=SIZE       captured output kept in memory before spilling (8M)\n"
          "\n"
          "Line buffering:\n"
          "  -u, --unbuffer             stdout and stderr each on their own pseudo-terminal, so\n"
          "                             the command writes line by line; streams stay apart\n"
          "      --pty=WHICH            stdout, stderr, both (= -u), merged (one pty for both)\n"
          "                             or all (stdin too, for programs that prompt)\n"
          "      --linebuf              line-buffer C stdio through LD_PRELOAD (stdbuf's way),\n"
          "                             keeping pipes\n"
          "      --size=COLSxROWS       pty window size (default: pcomm's terminal, else\n"
          "                             $COLUMNS x $LINES, else 80x24)\n"
          "\n"
          "Time limits:\n"
          "  -t, --timeout=DURATION     send the signal to the command's group after DURATION\n"
          "  -s, --signal=SIGNAL        the signal for --timeout (default TERM)\n"
          "  -k, --kill-after=DURATION  send KILL if still running DURATION after the signal\n"
          "      --linger=DURATION      after the command exits, wait at most DURATION for\n"
          "                             descendants holding its output (default 2s)\n"
          "      --preserve-status      exit with the command's status even when it timed out\n"
          "\n"
          "Reporting:\n"
          "  -j, --json=FILE            write a JSON summary when done (- = stdout)\n"
          "      --trace=FILE           write a Chrome trace-event timeline (Perfetto)\n"
          "      --lock=FILE            hold an exclusive flock on FILE while the command runs\n"
          "  -v, --verbose              say on stderr what pcomm does\n"
          "  -h, --help                 show this help and exit\n"
          "  -V, --version              show the version and exit\n"
          "\n"
          "DURATION: a number with an optional unit ms, s (default), m, h.\n"
          "SIZE: a number with an optional K, M or G (powers of 1024).\n"
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

enum {
    OPT_FOREGROUND = 256,
    OPT_TEE,
    OPT_PREFIX,
    OPT_TAIL,
    OPT_SPOOL_MAX,
    OPT_LINGER,
    OPT_PRESERVE_STATUS,
    OPT_TRACE,
    OPT_LOCK,
    OPT_PTY,
    OPT_LINEBUF,
    OPT_SIZE,
    OPT_RAW_INPUT,
    OPT_MAX_DECODED,
    OPT_MAX_RATIO,
};

static const struct option long_options[] = {
    {"pipeline", required_argument, NULL, 'c'},
    {"chdir", required_argument, NULL, 'C'},
    {"env", required_argument, NULL, 'E'},
    {"unset", required_argument, NULL, 'U'},
    {"ignore-environment", no_argument, NULL, 'I'},
    {"foreground", no_argument, NULL, OPT_FOREGROUND},
    {"input", required_argument, NULL, 'i'},
    {"raw-input", no_argument, NULL, OPT_RAW_INPUT},
    {"max-decoded", required_argument, NULL, OPT_MAX_DECODED},
    {"max-ratio", required_argument, NULL, OPT_MAX_RATIO},
    {"compress", required_argument, NULL, 'z'},
    {"output", required_argument, NULL, 'o'},
    {"error-output", required_argument, NULL, 'e'},
    {"merge", no_argument, NULL, 'm'},
    {"tee", no_argument, NULL, OPT_TEE},
    {"quiet", no_argument, NULL, 'q'},
    {"timestamps", no_argument, NULL, 'T'},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"tail", required_argument, NULL, OPT_TAIL},
    {"spool-max", required_argument, NULL, OPT_SPOOL_MAX},
    {"timeout", required_argument, NULL, 't'},
    {"signal", required_argument, NULL, 's'},
    {"kill-after", required_argument, NULL, 'k'},
    {"linger", required_argument, NULL, OPT_LINGER},
    {"preserve-status", no_argument, NULL, OPT_PRESERVE_STATUS},
    {"json", required_argument, NULL, 'j'},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"lock", required_argument, NULL, OPT_LOCK},
    {"unbuffer", no_argument, NULL, 'u'},
    {"pty", required_argument, NULL, OPT_PTY},
    {"linebuf", no_argument, NULL, OPT_LINEBUF},
    {"size", required_argument, NULL, OPT_SIZE},
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

static int bad_value(const char *option, const char *value, const char *what)
{
    usage_error("invalid %s '%s' for %s", what, value, option);
    return CLI_EXIT_FAILURE;
}

/* A duration option: 0 <= value, in ms, bounded to what an int timeout can hold. */
static int duration_option(const char *name, const char *arg, int64_t *ms)
{
    if (cli_parse_duration_ms(arg, ms) < 0 || *ms > INT32_MAX)
        return bad_value(name, arg, "duration");
    return -1;
}

/* --pty=WHICH */
static int parse_pty(const char *arg, struct cli_opts *opts)
{
    static const struct {
        const char *name;
        unsigned fds;
        bool merged;
    } choices[] = {
        {"stdout", CLI_PTY_STDOUT, false},
        {"stderr", CLI_PTY_STDERR, false},
        {"both", CLI_PTY_STDOUT | CLI_PTY_STDERR, false},
        {"merged", CLI_PTY_STDOUT | CLI_PTY_STDERR, true},
        {"all", CLI_PTY_STDIN | CLI_PTY_STDOUT | CLI_PTY_STDERR, false},
    };
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++)
        if (!strcmp(arg, choices[i].name)) {
            opts->pty = choices[i].fds;
            opts->pty_merged = choices[i].merged;
            return -1;
        }
    return bad_value("--pty", arg, "choice");
}

/* --size=COLSxROWS, each 1..65535 */
static int parse_winsize(const char *arg, struct cli_opts *opts)
{
    char *x, *end;
    errno = 0;
    unsigned long cols = strtoul(arg, &x, 10);
    if (errno || x == arg || (*x != 'x' && *x != 'X') || !isdigit((unsigned char)*arg) ||
        !isdigit((unsigned char)x[1]))
        return bad_value("--size", arg, "size");
    unsigned long rows = strtoul(x + 1, &end, 10);
    if (errno || *end || cols == 0 || rows == 0 || cols > 65535 || rows > 65535)
        return bad_value("--size", arg, "size");
    opts->cols = (unsigned)cols;
    opts->rows = (unsigned)rows;
    return -1;
}

/* Options with an argument that needs checking; returns -1 to continue or an exit status. */
static int parse_value_option(int c, const char *arg, struct cli_opts *opts)
{
    uint64_t size;
    switch (c) {
    case OPT_PTY: return parse_pty(arg, opts);
    case OPT_SIZE: return parse_winsize(arg, opts);
    case 't': return duration_option("--timeout", arg, &opts->timeout_ms);
    case 'k': return duration_option("--kill-after", arg, &opts->kill_after_ms);
    case OPT_LINGER: return duration_option("--linger", arg, &opts->linger_ms);
    case 's':
        if (cli_parse_signal(arg, &opts->timeout_sig) < 0)
            return bad_value("--signal", arg, "signal");
        return -1;
    case OPT_TAIL:
        if (cli_parse_size(arg, &size) < 0 || size > 1000000 || strpbrk(arg, "KkMG"))
            return bad_value("--tail", arg, "line count");
        opts->tail_lines = (size_t)size;
        return -1;
    case OPT_SPOOL_MAX:
        if (cli_parse_size(arg, &opts->spool_max) < 0)
            return bad_value("--spool-max", arg, "size");
        return -1;
    case OPT_MAX_DECODED:
        if (cli_parse_size(arg, &opts->max_decoded) < 0)
            return bad_value("--max-decoded", arg, "size");
        return -1;
    case OPT_MAX_RATIO:
        if (cli_parse_size(arg, &opts->max_ratio) < 0 || strpbrk(arg, "KkMG"))
            return bad_value("--max-ratio", arg, "ratio");
        return -1;
    case 'z':
        if (cli_parse_compress(arg, &opts->compress_codec, &opts->compress_level) < 0)
            return bad_value("--compress", arg, "ALG[:LEVEL]");
        return -1;
    }
    return -1;
}

static int parse_one(int c, char **argv, struct cli_opts *opts)
{
    switch (c) {
    case 'c': opts->pipeline = optarg; return -1;
    case 'C': opts->chdir = optarg; return -1;
    case 'E':
    case 'U': return add_env_op(opts, (char)c, optarg) < 0 ? CLI_EXIT_FAILURE : -1;
    case 'I': opts->ignore_env = true; return -1;
    case OPT_FOREGROUND: opts->foreground = true; return -1;
    case 'i': opts->input = optarg; return -1;
    case OPT_RAW_INPUT: opts->raw_input = true; return -1;
    case 'o': opts->output[1] = optarg; return -1;
    case 'e': opts->output[2] = optarg; return -1;
    case 'm': opts->merge = true; return -1;
    case OPT_TEE: opts->tee = true; return -1;
    case 'q': opts->quiet = true; return -1;
    case 'T': opts->timestamps = true; return -1;
    case OPT_PREFIX: opts->prefix = optarg; return -1;
    case OPT_PRESERVE_STATUS: opts->preserve_status = true; return -1;
    case 'j': opts->json = optarg; return -1;
    case OPT_TRACE: opts->trace = optarg; return -1;
    case OPT_LOCK: opts->lock = optarg; return -1;
    case 'u':
        opts->pty = CLI_PTY_STDOUT | CLI_PTY_STDERR;
        opts->pty_merged = false;
        return -1;
    case OPT_LINEBUF: opts->linebuf = true; return -1;
    case 'v': opts->verbose++; return -1;
    case 'h': usage(stdout); return 0;
    case 'V': print_version(); return 0;
    case ':': usage_error("option '%s' needs an argument", argv[optind - 1]); return 125;
    case '?':
        if (optopt)
            usage_error("unknown option '-%c'", optopt);
        else
            usage_error("unknown option '%s'", argv[optind - 1]);
        return CLI_EXIT_FAILURE;
    default: return parse_value_option(c, optarg, opts);
    }
}

int cli_parse(int argc, char **argv, struct cli_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->timeout_sig = SIGTERM;
    opts->kill_after_ms = -1;
    opts->linger_ms = 2000;
    opts->spool_max = 8 << 20;
    opts->compress_codec = -1;
    opts->compress_level = -1;
    opts->max_decoded = UINT64_C(64) << 30;
    opts->max_ratio = 10000;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:c:C:E:U:Ii:o:e:z:mqTt:s:k:uj:vhV", long_options,
                            NULL)) != -1) {
        int status = parse_one(c, argv, opts);
        if (status >= 0)
            return status;
    }
    if (opts->merge && opts->output[2]) {
        usage_error("-e cannot be combined with -m (stderr then goes where stdout goes)");
        return CLI_EXIT_FAILURE;
    }
    if (opts->pipeline && optind < argc) {
        usage_error("-c and a COMMAND cannot both be given ('%s')", argv[optind]);
        return CLI_EXIT_FAILURE;
    }
    if (!opts->pipeline && optind >= argc) {
        usage_error("no command given");
        return CLI_EXIT_FAILURE;
    }
    opts->argv = argv + optind;
    if (opts->pty_merged)
        opts->merge = true; /* one pty for both: one stream, as with -m */
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
