/* tests/cli_util.h - running the pcomm command from the tests: arguments with "HELPER" for the
 * helper program, stdout and stderr collected at once (so neither pipe can fill), the exit status.
 * Header-only (static functions) so each test executable takes what it uses.
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_TEST_CLI_UTIL_H
#define PCOMM_TEST_CLI_UTIL_H

#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cli_result {
    int status; /* shell code */
    char *out, *err;
    size_t out_len, err_len;
};

static inline void drain_two(int out_fd, int err_fd, struct cli_result *res)
{
    size_t cap[2] = {4096, 4096}, len[2] = {0, 0};
    char *buf[2] = {malloc(cap[0] + 1), malloc(cap[1] + 1)};
    struct pollfd pfd[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        if (poll(pfd, 2, -1) < 0) {
            assert_int_equal(errno, EINTR);
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            if (len[i] == cap[i])
                buf[i] = realloc(buf[i], (cap[i] *= 2) + 1);
            ssize_t n = read(pfd[i].fd, buf[i] + len[i], cap[i] - len[i]);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                pfd[i].fd = -1;
            else
                len[i] += (size_t)n;
        }
    }
    buf[0][len[0]] = buf[1][len[1]] = '\0';
    *res = (struct cli_result){0, buf[0], buf[1], len[0], len[1]};
}

/* pcomm with the given arguments (NULL-terminated; "HELPER" = the helper program). COLUMNS and
 * LINES are unset: without a terminal of its own, pcomm's automatic sizes come from them. */
static inline pcomm_cmd *cli_cmd(const char *first, ...)
{
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new(&cmd));
    PT_OK(pcomm_cmd_arg(cmd, PCOMM_TEST_CLI));
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w; w = va_arg(ap, const char *))
        PT_OK(pcomm_cmd_arg(cmd, strcmp(w, "HELPER") ? w : pt_helper()));
    va_end(ap);
    PT_OK(pcomm_cmd_unsetenv(cmd, "COLUMNS"));
    PT_OK(pcomm_cmd_unsetenv(cmd, "LINES"));
    return cmd;
}

/* Run cmd with stdin from stdin_fd (-1: /dev/null) and collect everything. */
static inline struct cli_result run_cli_cmd_stdin(pcomm_cmd *cmd, int stdin_fd)
{
    struct cli_result res;
    PT_OK(stdin_fd < 0 ? pcomm_cmd_stdio_null(cmd, 0) : pcomm_cmd_stdio_fd(cmd, 0, stdin_fd));
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 2));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    drain_two(pcomm_proc_fd(proc, 1), pcomm_proc_fd(proc, 2), &res);
    PT_OK(pcomm_proc_wait(proc, -1));
    pcomm_status st;
    PT_OK(pcomm_proc_status(proc, &st));
    res.status = pcomm_status_shell_code(&st);
    pcomm_proc_free(proc);
    return res;
}

static inline struct cli_result run_cli_cmd(pcomm_cmd *cmd)
{
    return run_cli_cmd_stdin(cmd, -1);
}

#define RUN_CLI(...)                                                                               \
    ({                                                                                             \
        pcomm_cmd *c_ = cli_cmd(__VA_ARGS__, NULL);                                                \
        struct cli_result r_ = run_cli_cmd(c_);                                                    \
        pcomm_cmd_free(c_);                                                                        \
        r_;                                                                                        \
    })

static inline void result_free(struct cli_result *r)
{
    free(r->out);
    free(r->err);
}

#endif
