/* lib/cmd_private.h - the inside of pcomm_cmd, shared by cmd.c and spawn.c.
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_CMD_PRIVATE_H
#define PCOMM_CMD_PRIVATE_H

#include <stddef.h>
#include "pcomm/cmd.h"

enum pcomm__stdio_kind {
    PCOMM__STDIO_INHERIT = 1,
    PCOMM__STDIO_NULL,
    PCOMM__STDIO_CLOSE,
    PCOMM__STDIO_PIPE,
    PCOMM__STDIO_FD,
    PCOMM__STDIO_FILE,
    PCOMM__STDIO_MERGE,
    PCOMM__STDIO_PTY,
};

struct pcomm__stdio {
    int child_fd;
    int kind;   /* enum pcomm__stdio_kind */
    int arg;    /* parent fd (FD), the child fd merged into (MERGE), the pty id (PTY) */
    char *path; /* FILE */
    int oflags; /* FILE */
    unsigned mode;
};

enum pcomm__env_op { PCOMM__ENV_SET = 1, PCOMM__ENV_UNSET, PCOMM__ENV_CLEAR };

struct pcomm__envop {
    int op;
    char *entry;     /* "NAME=VALUE" (SET) or "NAME" (UNSET); NULL for CLEAR */
    size_t name_len; /* length of NAME in entry */
};

struct pcomm_cmd {
    char **argv; /* argc entries plus a NULL terminator, ready for posix_spawn */
    size_t argc, argv_cap;
    char *program; /* explicit executable, or NULL for argv[0] */
    struct pcomm__envop *env;
    size_t env_count, env_cap;
    char *cwd;
    struct pcomm__stdio *stdio; /* sorted by child_fd, at most one entry per fd */
    size_t stdio_count, stdio_cap;
    int group;           /* enum pcomm_group */
    unsigned cols, rows; /* pty window size; 0x0 = automatic */
    const char *linebuf; /* libstdbuf.so to preload (a static string), or NULL */
};

/* The stdio entry for child_fd, or NULL when none was set. */
const struct pcomm__stdio *pcomm__cmd_stdio(const pcomm_cmd *cmd, int child_fd);

#endif
