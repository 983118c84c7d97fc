/* lib/cmd.c - pcomm_cmd: building a description of what to run. SPDX-License-Identifier: MIT */
#include "cmd_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcomm/error.h"
#include "sys.h"

int pcomm_cmd_new(pcomm_cmd **cmdp)
{
    if (!cmdp)
        return -EINVAL;
    pcomm_cmd *cmd = calloc(1, sizeof *cmd);
    if (!cmd)
        return -ENOMEM;
    cmd->argv = calloc(1, sizeof *cmd->argv);
    if (!cmd->argv) {
        free(cmd);
        return -ENOMEM;
    }
    cmd->argv_cap = 1;
    cmd->group = PCOMM_GROUP_OWN;
    *cmdp = cmd;
    return 0;
}

int pcomm_cmd_new_argv(pcomm_cmd **cmdp, const char *const argv[])
{
    if (!cmdp || !argv || !argv[0])
        return -EINVAL;
    pcomm_cmd *cmd;
    int r = pcomm_cmd_new(&cmd);
    if (r < 0)
        return r;
    r = pcomm_cmd_args(cmd, argv);
    if (r < 0) {
        pcomm_cmd_free(cmd);
        return r;
    }
    *cmdp = cmd;
    return 0;
}

static void pcomm_stdio_clear(struct pcomm__stdio *s)
{
    free(s->path);
    s->path = NULL;
}

void pcomm_cmd_free(pcomm_cmd *cmd)
{
    if (!cmd)
        return;
    for (size_t i = 0; i < cmd->argc; i++)
        free(cmd->argv[i]);
    free(cmd->argv);
    free(cmd->program);
    for (size_t i = 0; i < cmd->env_count; i++)
        free(cmd->env[i].entry);
    free(cmd->env);
    free(cmd->cwd);
    for (size_t i = 0; i < cmd->stdio_count; i++)
        pcomm_stdio_clear(&cmd->stdio[i]);
    free(cmd->stdio);
    free(cmd);
}

/* Append a copy of len bytes at s; s must hold no NUL. */
static int pcomm_cmd_push_arg(pcomm_cmd *cmd, const char *s, size_t len)
{
    int r = pcomm__grow((void **)&cmd->argv, &cmd->argv_cap, cmd->argc + 2, sizeof *cmd->argv);
    if (r < 0)
        return r;
    char *copy = pcomm__strndup(s, len);
    if (!copy)
        return -ENOMEM;
    cmd->argv[cmd->argc++] = copy;
    cmd->argv[cmd->argc] = NULL;
    return 0;
}

int pcomm_cmd_arg(pcomm_cmd *cmd, const char *arg)
{
    if (!cmd || !arg)
        return -EINVAL;
    return pcomm_cmd_push_arg(cmd, arg, strlen(arg));
}

int pcomm_cmd_arg_bytes(pcomm_cmd *cmd, const void *arg, size_t len)
{
    if (!cmd || (!arg && len > 0) || (len > 0 && memchr(arg, '\0', len)))
        return -EINVAL;
    return pcomm_cmd_push_arg(cmd, len ? arg : "", len);
}

int pcomm_cmd_args(pcomm_cmd *cmd, const char *const argv[])
{
    if (!cmd || !argv)
        return -EINVAL;
    size_t old = cmd->argc;
    for (size_t i = 0; argv[i]; i++) {
        int r = pcomm_cmd_arg(cmd, argv[i]);
        if (r < 0) {
            while (cmd->argc > old)
                free(cmd->argv[--cmd->argc]);
            cmd->argv[cmd->argc] = NULL;
            return r;
        }
    }
    return 0;
}

size_t pcomm_cmd_argc(const pcomm_cmd *cmd)
{
    return cmd ? cmd->argc : 0;
}

const char *pcomm_cmd_argv(const pcomm_cmd *cmd, size_t i)
{
    return cmd && i < cmd->argc ? cmd->argv[i] : NULL;
}

/* Replace *slot with a copy of s (NULL clears it). */
static int pcomm_replace_string(char **slot, const char *s)
{
    char *copy = NULL;
    if (s && !(copy = strdup(s)))
        return -ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

int pcomm_cmd_set_program(pcomm_cmd *cmd, const char *path)
{
    if (!cmd || !path || !*path)
        return -EINVAL;
    return pcomm_replace_string(&cmd->program, path);
}

int pcomm_cmd_chdir(pcomm_cmd *cmd, const char *dir)
{
    if (!cmd || (dir && !*dir))
        return -EINVAL;
    return pcomm_replace_string(&cmd->cwd, dir);
}

static int pcomm_cmd_push_env(pcomm_cmd *cmd, int op, char *entry, size_t name_len)
{
    int r = pcomm__grow((void **)&cmd->env, &cmd->env_cap, cmd->env_count + 1, sizeof *cmd->env);
    if (r < 0) {
        free(entry);
        return r;
    }
    cmd->env[cmd->env_count++] = (struct pcomm__envop){op, entry, name_len};
    return 0;
}

static bool pcomm_env_name_ok(const char *name, size_t len)
{
    return len > 0 && !memchr(name, '=', len) && !memchr(name, '\0', len);
}

int pcomm_cmd_setenv_bytes(pcomm_cmd *cmd, const void *name, size_t name_len, const void *value,
                           size_t value_len)
{
    if (!cmd || !name || (!value && value_len) || !pcomm_env_name_ok(name, name_len) ||
        (value_len && memchr(value, '\0', value_len)))
        return -EINVAL;
    if (name_len > SIZE_MAX - value_len - 2)
        return -ENOMEM;
    char *entry = malloc(name_len + value_len + 2);
    if (!entry)
        return -ENOMEM;
    memcpy(entry, name, name_len);
    entry[name_len] = '=';
    if (value_len)
        memcpy(entry + name_len + 1, value, value_len);
    entry[name_len + 1 + value_len] = '\0';
    return pcomm_cmd_push_env(cmd, PCOMM__ENV_SET, entry, name_len);
}

int pcomm_cmd_setenv(pcomm_cmd *cmd, const char *name, const char *value)
{
    if (!name || !value)
        return -EINVAL;
    return pcomm_cmd_setenv_bytes(cmd, name, strlen(name), value, strlen(value));
}

int pcomm_cmd_putenv(pcomm_cmd *cmd, const char *assignment)
{
    if (!assignment)
        return -EINVAL;
    const char *eq = strchr(assignment, '=');
    if (!eq)
        return -EINVAL;
    return pcomm_cmd_setenv_bytes(cmd, assignment, (size_t)(eq - assignment), eq + 1,
                                  strlen(eq + 1));
}

int pcomm_cmd_unsetenv(pcomm_cmd *cmd, const char *name)
{
    if (!cmd || !name || !pcomm_env_name_ok(name, strlen(name)))
        return -EINVAL;
    char *entry = strdup(name);
    if (!entry)
        return -ENOMEM;
    return pcomm_cmd_push_env(cmd, PCOMM__ENV_UNSET, entry, strlen(name));
}

int pcomm_cmd_clearenv(pcomm_cmd *cmd)
{
    if (!cmd)
        return -EINVAL;
    /* Earlier operations no longer matter: drop them, so the list stays short. */
    for (size_t i = 0; i < cmd->env_count; i++)
        free(cmd->env[i].entry);
    cmd->env_count = 0;
    return pcomm_cmd_push_env(cmd, PCOMM__ENV_CLEAR, NULL, 0);
}

const struct pcomm__stdio *pcomm__cmd_stdio(const pcomm_cmd *cmd, int child_fd)
{
    for (size_t i = 0; i < cmd->stdio_count; i++)
        if (cmd->stdio[i].child_fd == child_fd)
            return &cmd->stdio[i];
    return NULL;
}

/* Store *entry (taking its path) as the choice for entry->child_fd, keeping the array sorted. */
static int pcomm_cmd_put_stdio(pcomm_cmd *cmd, struct pcomm__stdio *entry)
{
    size_t i = 0;
    while (i < cmd->stdio_count && cmd->stdio[i].child_fd < entry->child_fd)
        i++;
    if (i < cmd->stdio_count && cmd->stdio[i].child_fd == entry->child_fd) {
        pcomm_stdio_clear(&cmd->stdio[i]);
        cmd->stdio[i] = *entry;
        return 0;
    }
    int r = pcomm__grow((void **)&cmd->stdio, &cmd->stdio_cap, cmd->stdio_count + 1,
                        sizeof *cmd->stdio);
    if (r < 0) {
        pcomm_stdio_clear(entry);
        return r;
    }
    memmove(&cmd->stdio[i + 1], &cmd->stdio[i], (cmd->stdio_count - i) * sizeof *cmd->stdio);
    cmd->stdio[i] = *entry;
    cmd->stdio_count++;
    return 0;
}

static bool pcomm_child_fd_ok(int fd)
{
    return fd >= 0 && fd <= PCOMM_CMD_MAX_FD;
}

static int pcomm_cmd_simple_stdio(pcomm_cmd *cmd, int fd, int kind, int arg)
{
    if (!cmd || !pcomm_child_fd_ok(fd))
        return -EINVAL;
    struct pcomm__stdio entry = {.child_fd = fd, .kind = kind, .arg = arg};
    return pcomm_cmd_put_stdio(cmd, &entry);
}

int pcomm_cmd_stdio_inherit(pcomm_cmd *cmd, int fd)
{
    return pcomm_cmd_simple_stdio(cmd, fd, PCOMM__STDIO_INHERIT, 0);
}

int pcomm_cmd_stdio_null(pcomm_cmd *cmd, int fd)
{
    return pcomm_cmd_simple_stdio(cmd, fd, PCOMM__STDIO_NULL, 0);
}

int pcomm_cmd_stdio_close(pcomm_cmd *cmd, int fd)
{
    return pcomm_cmd_simple_stdio(cmd, fd, PCOMM__STDIO_CLOSE, 0);
}

int pcomm_cmd_stdio_pipe(pcomm_cmd *cmd, int fd)
{
    return pcomm_cmd_simple_stdio(cmd, fd, PCOMM__STDIO_PIPE, 0);
}

int pcomm_cmd_stdio_fd(pcomm_cmd *cmd, int fd, int parent_fd)
{
    if (parent_fd < 0)
        return -EINVAL;
    return pcomm_cmd_simple_stdio(cmd, fd, PCOMM__STDIO_FD, parent_fd);
}

int pcomm_cmd_stdio_merge(pcomm_cmd *cmd, int fd, int into_fd)
{
    if (!pcomm_child_fd_ok(into_fd) || into_fd == fd)
        return -EINVAL;
    return pcomm_cmd_simple_stdio(cmd, fd, PCOMM__STDIO_MERGE, into_fd);
}

int pcomm_cmd_stdio_file(pcomm_cmd *cmd, int fd, const char *path, int oflags, unsigned mode)
{
    if (!cmd || !path || !*path || !pcomm_child_fd_ok(fd))
        return -EINVAL;
    struct pcomm__stdio entry = {
        .child_fd = fd, .kind = PCOMM__STDIO_FILE, .oflags = oflags, .mode = mode};
    if (!(entry.path = strdup(path)))
        return -ENOMEM;
    return pcomm_cmd_put_stdio(cmd, &entry);
}

int pcomm_cmd_stdio_pty(pcomm_cmd *cmd, int fd, int pty_id)
{
    if (fd < 0 || fd > 2 || pty_id < 0)
        return -EINVAL;
    return pcomm_cmd_simple_stdio(cmd, fd, PCOMM__STDIO_PTY, pty_id);
}

int pcomm_cmd_set_winsize(pcomm_cmd *cmd, unsigned cols, unsigned rows)
{
    if (!cmd || (cols == 0) != (rows == 0) || cols > 65535 || rows > 65535)
        return -EINVAL;
    cmd->cols = cols;
    cmd->rows = rows;
    return 0;
}

const char *pcomm_linebuf_library(void)
{
    /* Where distributions install coreutils' preload library (stdbuf(1) has its path built in:
     * Debian and Fedora /usr/libexec/coreutils, Arch and Alpine /usr/lib/coreutils). */
    static const char *const candidates[] = {
        "/usr/libexec/coreutils/libstdbuf.so",
        "/usr/lib/coreutils/libstdbuf.so",
        "/usr/lib64/coreutils/libstdbuf.so",
        "/usr/local/libexec/coreutils/libstdbuf.so",
        "/usr/local/lib/coreutils/libstdbuf.so",
        "/usr/lib/x86_64-linux-gnu/coreutils/libstdbuf.so",
        "/usr/lib/aarch64-linux-gnu/coreutils/libstdbuf.so",
    };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (access(candidates[i], R_OK) == 0)
            return candidates[i];
    return NULL;
}

int pcomm_cmd_linebuf(pcomm_cmd *cmd)
{
    if (!cmd)
        return -EINVAL;
    const char *lib = pcomm_linebuf_library();
    if (!lib)
        return PCOMM_EUNSUPPORTED;
    cmd->linebuf = lib;
    return 0;
}

int pcomm_cmd_set_group(pcomm_cmd *cmd, int mode)
{
    if (!cmd ||
        (mode != PCOMM_GROUP_OWN && mode != PCOMM_GROUP_INHERIT && mode != PCOMM_GROUP_SESSION))
        return -EINVAL;
    cmd->group = mode;
    return 0;
}

static int pcomm_cmd_copy_stdio(const struct pcomm__stdio *src, struct pcomm__stdio *dst)
{
    *dst = *src;
    dst->path = NULL;
    if (src->path && !(dst->path = strdup(src->path)))
        return -ENOMEM;
    return 0;
}

int pcomm_cmd_dup(const pcomm_cmd *cmd, pcomm_cmd **copyp)
{
    if (!cmd || !copyp)
        return -EINVAL;
    pcomm_cmd *copy;
    int r = pcomm_cmd_new(&copy);
    if (r < 0)
        return r;
    r = pcomm_cmd_args(copy, (const char *const *)cmd->argv);
    if (r == 0 && cmd->program)
        r = pcomm_cmd_set_program(copy, cmd->program);
    if (r == 0 && cmd->cwd)
        r = pcomm_cmd_chdir(copy, cmd->cwd);
    for (size_t i = 0; r == 0 && i < cmd->env_count; i++) {
        const struct pcomm__envop *op = &cmd->env[i];
        char *entry = NULL;
        if (op->entry && !(entry = strdup(op->entry)))
            r = -ENOMEM;
        else
            r = pcomm_cmd_push_env(copy, op->op, entry, op->name_len);
    }
    for (size_t i = 0; r == 0 && i < cmd->stdio_count; i++) {
        struct pcomm__stdio entry;
        r = pcomm_cmd_copy_stdio(&cmd->stdio[i], &entry);
        if (r == 0)
            r = pcomm_cmd_put_stdio(copy, &entry);
    }
    copy->group = cmd->group;
    copy->cols = cmd->cols;
    copy->rows = cmd->rows;
    copy->linebuf = cmd->linebuf;
    if (r < 0) {
        pcomm_cmd_free(copy);
        return r;
    }
    *copyp = copy;
    return 0;
}
