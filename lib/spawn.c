/* lib/spawn.c - pcomm_spawn(): posix_spawn with the environment, PATH lookup, descriptor
 * placement and signal state done right. Nothing of ours runs in the child.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_private.h"
#include "pcomm/error.h"
#include "proc_private.h"
#include "pty.h"
#include "sys.h"

extern char **environ;

/* ---- environment ------------------------------------------------------------------------- */

static bool pcomm_env_matches(const char *entry, const char *name, size_t name_len)
{
    return strncmp(entry, name, name_len) == 0 && entry[name_len] == '=';
}

static void pcomm_env_remove(char **envp, size_t *count, const char *name, size_t name_len)
{
    size_t out = 0;
    for (size_t i = 0; i < *count; i++)
        if (!pcomm_env_matches(envp[i], name, name_len))
            envp[out++] = envp[i];
    *count = out;
}

/* pcomm_cmd_linebuf(): append libstdbuf.so to the child's LD_PRELOAD (as stdbuf(1) does, so
 * an existing preload keeps working) and ask for line-buffered stdout and stderr. *owned gets
 * the one string made here; the caller frees it after the spawn. envp has room for 3 more. */
static int pcomm_env_linebuf(const pcomm_cmd *cmd, char **envp, size_t *count, char **owned)
{
    static const char preload[] = "LD_PRELOAD";
    const char *old = NULL;
    for (size_t i = 0; i < *count; i++)
        if (pcomm_env_matches(envp[i], preload, sizeof preload - 1))
            old = envp[i] + sizeof preload;
    size_t old_len = old ? strlen(old) : 0;
    size_t lib_len = strlen(cmd->linebuf);
    char *entry = malloc(sizeof preload + old_len + 1 + lib_len + 1);
    if (!entry)
        return -ENOMEM;
    char *p = entry;
    memcpy(p, preload, sizeof preload - 1);
    p += sizeof preload - 1;
    *p++ = '=';
    if (old_len) {
        memcpy(p, old, old_len);
        p += old_len;
        *p++ = ':';
    }
    memcpy(p, cmd->linebuf, lib_len + 1);
    static char stdbuf_o[] = "_STDBUF_O=L", stdbuf_e[] = "_STDBUF_E=L";
    char *add[] = {entry, stdbuf_o, stdbuf_e};
    for (size_t i = 0; i < 3; i++) {
        pcomm_env_remove(envp, count, add[i], (size_t)(strchr(add[i], '=') - add[i]));
        envp[(*count)++] = add[i];
    }
    *owned = entry;
    return 0;
}

/* Build the child's environment: a snapshot of environ with cmd's operations applied in order.
 * The array is ours, the strings are environ's or cmd's (both outlive the spawn call), except
 * *owned (freed by the caller). */
static int pcomm_build_env(const pcomm_cmd *cmd, char ***envpp, char **owned)
{
    size_t parent = 0;
    for (char **e = environ; e && *e; e++)
        parent++;
    size_t cap = parent + cmd->env_count + 4;
    char **envp = malloc(cap * sizeof *envp);
    if (!envp)
        return -ENOMEM;
    size_t count = 0;
    for (size_t i = 0; i < parent; i++)
        envp[count++] = environ[i];
    for (size_t i = 0; i < cmd->env_count; i++) {
        const struct pcomm__envop *op = &cmd->env[i];
        if (op->op == PCOMM__ENV_CLEAR) {
            count = 0;
            continue;
        }
        pcomm_env_remove(envp, &count, op->entry, op->name_len);
        if (op->op == PCOMM__ENV_SET)
            envp[count++] = op->entry;
    }
    *owned = NULL;
    if (cmd->linebuf) {
        int r = pcomm_env_linebuf(cmd, envp, &count, owned);
        if (r < 0) {
            free(envp);
            return r;
        }
    }
    envp[count] = NULL;
    *envpp = envp;
    return 0;
}

/* ---- program lookup ---------------------------------------------------------------------- */

/* 0 when path is a regular file we may execute, else -EACCES or the stat error. */
static int pcomm_check_exe(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
        return -EACCES;
    return 0;
}

/* Look name up in path_list like execvp, but skip empty and relative entries (glibc would run
 * ./name for "PATH=/usr/bin:"). Returns 0 with a malloc'd *exep, -ENOENT or -EACCES. */
static int pcomm_search_path(const char *name, const char *path_list, char **exep)
{
    size_t name_len = strlen(name);
    int result = -ENOENT;
    char buf[PATH_MAX];
    for (const char *p = path_list; *p;) {
        const char *end = strchrnul(p, ':');
        size_t dir_len = (size_t)(end - p);
        if (dir_len > 0 && p[0] == '/' && dir_len + 1 + name_len < sizeof buf) {
            memcpy(buf, p, dir_len);
            buf[dir_len] = '/';
            memcpy(buf + dir_len + 1, name, name_len + 1);
            int r = pcomm_check_exe(buf);
            if (r == 0) {
                *exep = strdup(buf);
                return *exep ? 0 : -ENOMEM;
            }
            if (r == -EACCES)
                result = -EACCES;
        }
        p = *end ? end + 1 : end;
    }
    return result;
}

static int pcomm_resolve_program(const pcomm_cmd *cmd, char *const *envp, char **exep)
{
    const char *name = cmd->program ? cmd->program : cmd->argv[0];
    if (!*name)
        return -ENOENT;
    if (strchr(name, '/')) {
        /* Used as given; exec reports a missing or unrunnable file, relative to the cwd. */
        *exep = strdup(name);
        return *exep ? 0 : -ENOMEM;
    }
    const char *path_list = "/bin:/usr/bin"; /* glibc's default when PATH is unset */
    for (char *const *e = envp; *e; e++)
        if (pcomm_env_matches(*e, "PATH", 4)) {
            path_list = *e + 5;
            break;
        }
    return pcomm_search_path(name, path_list, exep);
}

static int pcomm_check_cwd(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
        faccessat(AT_FDCWD, dir, X_OK, AT_EACCESS) < 0)
        return PCOMM_ECWD;
    return 0;
}

/* ---- descriptor placement ---------------------------------------------------------------- */

/* One descriptor of the child, and where it comes from in the parent. */
struct pcomm_target {
    int child_fd;
    int kind;
    int src;             /* parent descriptor to dup2 into child_fd, or -1 to close child_fd */
    bool owned;          /* src was made for this spawn and is closed after it */
    bool passes_through; /* inherited, open, not close-on-exec: needs no file action */
    int parent_end;      /* PIPE: the parent's end, handed to the proc */
    int into;            /* MERGE: the child fd merged into */
};

struct pcomm_spawn_state {
    struct pcomm_target *targets;
    size_t count;
    int max_child_fd;
    struct pcomm__pty *ptys; /* one per pty_id; handed to the proc */
    size_t pty_count;
    struct pcomm__pty *ctty; /* the pty opened by path to become the controlling tty, or NULL */
};

static void pcomm_targets_release(struct pcomm_spawn_state *st, bool keep_parent_ends)
{
    for (size_t i = 0; i < st->count; i++) {
        struct pcomm_target *t = &st->targets[i];
        if (t->owned)
            pcomm__closep(&t->src);
        if (!keep_parent_ends)
            pcomm__closep(&t->parent_end);
    }
    free(st->targets);
    st->targets = NULL;
    pcomm__ptys_free(st->ptys, st->pty_count);
    st->ptys = NULL;
    st->pty_count = 0;
}

static bool pcomm_fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* Give target t its source descriptor (everything but MERGE). */
static int pcomm_target_open(struct pcomm_spawn_state *st, struct pcomm_target *t,
                             const struct pcomm__stdio *s)
{
    bool input = t->child_fd == 0;
    switch (t->kind) {
    case PCOMM__STDIO_PTY:
        /* The slave stays the pty's: every target on it dup2s it; the parent closes it once. */
        t->src = pcomm__ptys_find(st->ptys, st->pty_count, t->child_fd)->slave;
        return 0;
    case PCOMM__STDIO_INHERIT: {
        int flags = fcntl(t->child_fd, F_GETFD);
        t->src = flags >= 0 ? t->child_fd : -1;
        t->passes_through = flags >= 0 && !(flags & FD_CLOEXEC);
        return 0;
    }
    case PCOMM__STDIO_CLOSE: return 0;
    case PCOMM__STDIO_FD:
        if (!pcomm_fd_is_open(s->arg))
            return -EBADF;
        t->src = s->arg;
        return 0;
    case PCOMM__STDIO_NULL:
        t->src = pcomm__open("/dev/null", input ? O_RDONLY : O_WRONLY, 0);
        t->owned = t->src >= 0;
        return t->src < 0 ? t->src : 0;
    case PCOMM__STDIO_FILE:
        t->src = pcomm__open(s->path, s->oflags | O_NOCTTY, (mode_t)s->mode);
        t->owned = t->src >= 0;
        return t->src < 0 ? t->src : 0;
    case PCOMM__STDIO_PIPE: {
        int p[2];
        int r = pcomm__pipe(p, 0);
        if (r < 0)
            return r;
        t->src = input ? p[0] : p[1];
        t->parent_end = input ? p[1] : p[0];
        t->owned = true;
        return 0;
    }
    }
    return -EINVAL;
}

static struct pcomm_target *pcomm_find_target(struct pcomm_spawn_state *st, int child_fd)
{
    for (size_t i = 0; i < st->count; i++)
        if (st->targets[i].child_fd == child_fd)
            return &st->targets[i];
    return NULL;
}

/* A pty that could not be made: its descriptors get what they would have had without a pty,
 * stdin a pipe, the lowest output a pipe and the other outputs merged into it (one stream). */
static void pcomm_target_pty_fallback(struct pcomm_spawn_state *st, struct pcomm_target *t)
{
    const struct pcomm__pty *pty = pcomm__ptys_find(st->ptys, st->pty_count, t->child_fd);
    int first_out = (pty->fds & 2u) ? 1 : 2;
    t->kind = PCOMM__STDIO_PIPE;
    if (t->child_fd > first_out) {
        t->kind = PCOMM__STDIO_MERGE;
        t->into = first_out;
    }
}

/* Collect the child's descriptors: 0-2 (inherited unless set) and every configured one. */
static int pcomm_collect_targets(const pcomm_cmd *cmd, struct pcomm_spawn_state *st)
{
    st->targets = calloc(cmd->stdio_count + 3, sizeof *st->targets);
    if (!st->targets)
        return -ENOMEM;
    st->max_child_fd = 2;
    for (int fd = 0; fd <= 2; fd++)
        if (!pcomm__cmd_stdio(cmd, fd))
            st->targets[st->count++] =
                (struct pcomm_target){fd, PCOMM__STDIO_INHERIT, -1, false, false, -1, -1};
    for (size_t i = 0; i < cmd->stdio_count; i++) {
        const struct pcomm__stdio *s = &cmd->stdio[i];
        struct pcomm_target *t = &st->targets[st->count++];
        *t = (struct pcomm_target){s->child_fd, s->kind, -1, false, false, -1, s->arg};
        if (s->kind == PCOMM__STDIO_PTY &&
            pcomm__ptys_find(st->ptys, st->pty_count, s->child_fd)->path == PCOMM_PTY_PIPE)
            pcomm_target_pty_fallback(st, t);
        if (s->child_fd > st->max_child_fd)
            st->max_child_fd = s->child_fd;
    }
    for (size_t i = 0; i < st->count; i++) {
        struct pcomm_target *t = &st->targets[i];
        if (t->kind == PCOMM__STDIO_MERGE)
            continue;
        int r = pcomm_target_open(st, t, pcomm__cmd_stdio(cmd, t->child_fd));
        if (r < 0)
            return r;
    }
    for (size_t i = 0; i < st->count; i++) {
        struct pcomm_target *t = &st->targets[i];
        if (t->kind != PCOMM__STDIO_MERGE)
            continue;
        const struct pcomm_target *into = pcomm_find_target(st, t->into);
        if (!into || into->kind == PCOMM__STDIO_MERGE)
            return into ? -EINVAL : -EBADF;
        if (into->src < 0)
            return -EBADF;
        t->src = into->src; /* shared, not owned twice */
    }
    return 0;
}

/* Whether placing some other target would overwrite or close t's source before t is placed:
 * the source is the child fd of a target that gets something else. An inherited fd (source ==
 * target) is never clobbered, so the common case costs no extra syscalls. */
static bool pcomm_source_clobbered(struct pcomm_spawn_state *st, const struct pcomm_target *t)
{
    const struct pcomm_target *owner = pcomm_find_target(st, t->src);
    return owner && owner->src != t->src;
}

/* Move every source that a dup2 could clobber above the highest child descriptor, so targets can
 * be placed in any order (swaps like 1<->2, a parent with 0/1/2 closed). */
static int pcomm_lift_sources(struct pcomm_spawn_state *st)
{
    int floor = st->max_child_fd + 1;
    for (size_t i = 0; i < st->count; i++) {
        struct pcomm_target *t = &st->targets[i];
        if (t->src < 0 || t->src >= floor || t->kind == PCOMM__STDIO_MERGE ||
            !pcomm_source_clobbered(st, t))
            continue;
        int old = t->src;
        int lifted = pcomm__dup_above(old, floor);
        if (lifted < 0)
            return lifted;
        for (size_t j = 0; j < st->count; j++) /* merged targets share this source */
            if (st->targets[j].kind == PCOMM__STDIO_MERGE && st->targets[j].src == old)
                st->targets[j].src = lifted;
        if (t->owned)
            pcomm__close(old);
        t->src = lifted;
        t->owned = true;
    }
    return 0;
}

/* The controlling terminal: the pty of the child's lowest pty descriptor, when the child gets a
 * new session. glibc runs setsid() before the file actions, and Linux makes the first tty a
 * session leader opens with read access and without O_NOCTTY its controlling terminal; dup2
 * never does (pty.md §2, rows A, B, I). So that descriptor, already placed by dup2 like the
 * others, is opened again by path, O_RDWR, as the last placement. */
static struct pcomm__pty *pcomm_pick_ctty(const pcomm_cmd *cmd, struct pcomm_spawn_state *st)
{
    if (cmd->group == PCOMM_GROUP_INHERIT)
        return NULL;
    for (int fd = 0; fd <= 2; fd++) {
        struct pcomm__pty *pty = pcomm__ptys_find(st->ptys, st->pty_count, fd);
        if (pty && pty->path != PCOMM_PTY_PIPE)
            return pty;
    }
    return NULL;
}

static bool pcomm_has_live_pty(const struct pcomm_spawn_state *st)
{
    for (size_t i = 0; i < st->pty_count; i++)
        if (st->ptys[i].path != PCOMM_PTY_PIPE)
            return true;
    return false;
}

static int pcomm_build_file_actions(const pcomm_cmd *cmd, struct pcomm_spawn_state *st,
                                    posix_spawn_file_actions_t *fa, bool with_ctty)
{
    int r = 0;
    if (cmd->cwd)
        r = posix_spawn_file_actions_addchdir_np(fa, cmd->cwd);
    for (size_t i = 0; r == 0 && i < st->count; i++) {
        const struct pcomm_target *t = &st->targets[i];
        if (t->passes_through)
            continue; /* glibc's file-action builders cost a getrlimit each: skip what we can */
        r = t->src >= 0 ? posix_spawn_file_actions_adddup2(fa, t->src, t->child_fd)
                        : posix_spawn_file_actions_addclose(fa, t->child_fd);
    }
    if (r == 0 && with_ctty && st->ctty)
        r = posix_spawn_file_actions_addopen(fa, pcomm__pty_lowest_fd(st->ctty), st->ctty->name,
                                             O_RDWR, 0);
    for (int fd = 3; r == 0 && fd < st->max_child_fd; fd++)
        if (!pcomm_find_target(st, fd))
            r = posix_spawn_file_actions_addclose(fa, fd);
    if (r == 0)
        r = posix_spawn_file_actions_addclosefrom_np(fa, st->max_child_fd + 1);
    return -r;
}

/* A pty implies a new session (unless the child stays in the parent's group): the session
 * leader also leads its own process group, so group signals keep working. SETPGROUP must then
 * not be set: setpgid() on a session leader fails and posix_spawn() returns EPERM. */
static int pcomm_build_attr(const pcomm_cmd *cmd, bool pty, pid_t join_pgid,
                            posix_spawnattr_t *attr)
{
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    int group = cmd->group == PCOMM_GROUP_OWN && pty ? PCOMM_GROUP_SESSION : cmd->group;
    if (group == PCOMM_GROUP_OWN)
        flags |= POSIX_SPAWN_SETPGROUP;
    else if (group == PCOMM_GROUP_SESSION)
        flags |= POSIX_SPAWN_SETSID;
    int r = posix_spawnattr_setflags(attr, flags);
    if (r == 0)
        r = posix_spawnattr_setsigmask(attr, &none);
    if (r == 0)
        r = posix_spawnattr_setsigdefault(attr, &all);
    if (r == 0 && group == PCOMM_GROUP_OWN)
        r = posix_spawnattr_setpgroup(attr, join_pgid); /* 0: a group of its own */
    return -r;
}

/* ---- the proc ---------------------------------------------------------------------------- */

static int pcomm_proc_create(struct pcomm_spawn_state *st, const pcomm_cmd *cmd, pid_t join_pgid,
                             char *exe, pcomm_proc **procp)
{
    pcomm_proc *proc = calloc(1, sizeof *proc);
    if (!proc)
        return -ENOMEM;
    size_t ends = st->pty_count;
    for (size_t i = 0; i < st->count; i++)
        ends += st->targets[i].parent_end >= 0;
    proc->ends = calloc(ends ? ends : 1, sizeof *proc->ends);
    if (!proc->ends) {
        free(proc);
        return -ENOMEM;
    }
    proc->pid = -1;
    proc->pidfd = -1;
    /* A pty stage leads its own session (and group) even in a pipeline: it cannot join. */
    bool joins = join_pgid > 0 && cmd->group == PCOMM_GROUP_OWN && !pcomm_has_live_pty(st);
    proc->leads_group = cmd->group != PCOMM_GROUP_INHERIT && !joins;
    proc->group_member = joins;
    proc->exe = exe;
    pthread_mutex_init(&proc->lock, NULL);
    *procp = proc;
    return 0;
}

/* Move the parent pipe ends and the ptys from the spawn state into the proc. A pty's master is
 * the end of its lowest child descriptor. */
static void pcomm_proc_adopt_ends(pcomm_proc *proc, struct pcomm_spawn_state *st)
{
    for (size_t i = 0; i < st->count; i++) {
        struct pcomm_target *t = &st->targets[i];
        if (t->parent_end < 0)
            continue;
        proc->ends[proc->end_count++] = (struct pcomm__proc_end){t->child_fd, t->parent_end};
        t->parent_end = -1;
    }
    for (size_t i = 0; i < st->pty_count; i++) {
        struct pcomm__pty *pty = &st->ptys[i];
        if (pty->master < 0)
            continue;
        proc->ends[proc->end_count++] =
            (struct pcomm__proc_end){pcomm__pty_lowest_fd(pty), pty->master};
        pty->master = -1;
    }
    proc->ptys = st->ptys;
    proc->pty_count = st->pty_count;
    st->ptys = NULL;
    st->pty_count = 0;
}

/* posix_spawn with freshly built file actions and attributes. */
static int pcomm_posix_spawn(const pcomm_cmd *cmd, struct pcomm_spawn_state *st, bool with_ctty,
                             pid_t join_pgid, const char *exe, char **envp, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int r = -posix_spawn_file_actions_init(&fa);
    if (r < 0)
        return r;
    r = -posix_spawnattr_init(&attr);
    if (r < 0) {
        posix_spawn_file_actions_destroy(&fa);
        return r;
    }
    r = pcomm_build_file_actions(cmd, st, &fa, with_ctty);
    if (r == 0)
        r = pcomm_build_attr(cmd, pcomm_has_live_pty(st), join_pgid, &attr);
    if (r == 0)
        r = -posix_spawn(pid, exe, &fa, &attr, cmd->argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return r;
}

/* Spawn; when the open of the controlling terminal may be what failed, try once more without it
 * (a pty without a controlling tty still line-buffers) and record why. A failure of the exec
 * itself fails the second try the same way and is reported as it is. */
static int pcomm_spawn_with_ctty(const pcomm_cmd *cmd, struct pcomm_spawn_state *st,
                                 pid_t join_pgid, const char *exe, char **envp, pid_t *pid)
{
    int r = pcomm_posix_spawn(cmd, st, true, join_pgid, exe, envp, pid);
    if (r == 0 || !st->ctty || r == -ENOMEM || r == -EAGAIN) /* no child was made */
        return r;
    int first = r;
    r = pcomm_posix_spawn(cmd, st, false, join_pgid, exe, envp, pid);
    if (r == 0) {
        st->ctty->step = "open controlling tty";
        st->ctty->error = first;
        st->ctty = NULL;
    }
    return r;
}

static int pcomm_spawn_prepared(const pcomm_cmd *cmd, pid_t join_pgid, struct pcomm_spawn_state *st,
                                char *exe, char **envp, pcomm_proc **procp)
{
    pcomm_proc *proc = NULL;
    int r = pcomm_proc_create(st, cmd, join_pgid, exe, &proc);
    if (r < 0)
        return r;
    proc->start_ns = pcomm__now_ns();
    st->ctty = pcomm_pick_ctty(cmd, st);
    r = pcomm_spawn_with_ctty(cmd, st, join_pgid, exe, envp, &proc->pid);
    /* The child holds its own slave copies now (vfork semantics): drop ours at once, or the
     * masters never report EIO (pty.md §3.3). */
    pcomm__ptys_close_slaves(st->ptys, st->pty_count);
    if (r < 0) {
        proc->exe = NULL; /* still the caller's */
        proc->pid = -1;
        pcomm_proc_free(proc);
        return r;
    }
    if (st->ctty)
        pcomm__pty_check_ctty(st->ctty, proc->pid);
    /* Any failure (ENOSYS under valgrind or old kernels, EMFILE) falls back to waitid polling,
     * which is safe because the child is never reaped before pcomm_proc_free(). */
    proc->pidfd = pidfd_open(proc->pid, 0);
    if (proc->pidfd < 0)
        proc->pidfd = -1;
    proc->status.pid = proc->pid;
    proc->status.start_ns = proc->start_ns;
    pcomm_proc_adopt_ends(proc, st);
    *procp = proc;
    return 0;
}

int pcomm_spawn(const pcomm_cmd *cmd, pcomm_proc **procp)
{
    return pcomm__spawn(cmd, 0, procp);
}

int pcomm__spawn(const pcomm_cmd *cmd, pid_t join_pgid, pcomm_proc **procp)
{
    if (!cmd || !procp || cmd->argc == 0 || join_pgid < 0)
        return -EINVAL;
    struct pcomm_spawn_state st = {0};
    char **envp = NULL;
    char *exe = NULL, *env_owned = NULL;
    int r = pcomm_build_env(cmd, &envp, &env_owned);
    if (r == 0)
        r = pcomm__ptys_open(cmd, envp, &st.ptys, &st.pty_count);
    if (r == 0)
        r = pcomm_collect_targets(cmd, &st);
    if (r == 0)
        r = cmd->cwd ? pcomm_check_cwd(cmd->cwd) : 0;
    if (r == 0)
        r = pcomm_resolve_program(cmd, envp, &exe);
    if (r == 0)
        r = pcomm_lift_sources(&st);
    if (r == 0)
        r = pcomm_spawn_prepared(cmd, join_pgid, &st, exe, envp, procp);
    if (r < 0)
        free(exe);
    pcomm_targets_release(&st, false);
    free(envp);
    free(env_owned);
    return r;
}
