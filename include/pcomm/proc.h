/* pcomm/proc.h - pcomm_proc: one spawned child, and pcomm_spawn() that makes it.
 *
 * pcomm_spawn() starts a pcomm_cmd with posix_spawn (never fork), reports exec failures itself,
 * and opens a pidfd for the child right away. The proc owns the child: it signals it only
 * through the pidfd (or, for its process group, while the group leader is still unreaped, so the
 * IDs cannot have been reused), and it reaps it only in pcomm_proc_free(). pcomm never waits for
 * any other process and installs no signal handler.
 *
 * A proc may be waited on and signalled from several threads at once; pcomm_proc_free() must not
 * race with any other call on the same proc.
 *
 * Part of libpcomm. SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_PROC_H
#define PCOMM_PROC_H

#include <stdint.h>
#include "common.h"
#include "cmd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pcomm_proc pcomm_proc;

/* How a child ended (pcomm_status.how). */
enum pcomm_how {
    PCOMM_RUNNING = 0,  /* not ended yet, or not waited for */
    PCOMM_EXITED = 1,   /* exited normally; code = exit status 0..255 */
    PCOMM_SIGNALED = 2, /* killed by a signal; code = the signal number */
    PCOMM_UNKNOWN = 3   /* ended, but another party reaped it first (SIGCHLD ignored, or a host
                           handler calling waitpid(-1)); no status is available */
};

/* A child's final status. The reserved fields keep room for later additions; they are zero. */
typedef struct pcomm_status {
    int how;             /* enum pcomm_how */
    int code;            /* exit code (PCOMM_EXITED) or signal number (PCOMM_SIGNALED) */
    int core_dumped;     /* 1 when a PCOMM_SIGNALED child dumped core */
    int pid;             /* the child's process ID */
    int64_t wall_ns;     /* from just before the spawn to when the end was observed */
    int64_t user_ns;     /* CPU time of the child and its reaped descendants, from wait4/waitid */
    int64_t sys_ns;      /* system CPU time, likewise */
    int64_t max_rss_kib; /* maximum resident set size in KiB, likewise */
    int64_t start_ns;    /* CLOCK_MONOTONIC time just before the spawn (pcomm_now_ns()) */
    int64_t reserved[3];
} pcomm_status;

/* Start cmd. On success *procp owns the running child. Before anything is started the command is
 * checked (-EINVAL for an empty argv or an invalid stdio setup), the stdio files are opened
 * (their open(2) errors, negated), the working directory is checked (PCOMM_ECWD) and the program
 * is looked up in the child's PATH, skipping empty and relative entries (-ENOENT, -EACCES). Exec
 * failures of the child come back here too: -ENOENT, -EACCES, -ENOEXEC (a script without "#!"),
 * -E2BIG (arguments or environment too large), -ENOMEM, -EAGAIN (process limit). On failure
 * nothing is left behind: no descriptor, no process, no memory.
 *
 * The child starts with every signal at its default disposition and an empty signal mask, sees
 * only the descriptors cmd configures (a closefrom file action closes everything else, so stray
 * fds of other host threads never reach it), and is in the process group cmd asks for. */
PCOMM_API int pcomm_spawn(const pcomm_cmd *cmd, pcomm_proc **procp);

/* Free a proc. A child still running is killed with SIGKILL (with its whole process group when
 * it leads one), and reaped; a child that has ended is reaped. No zombie outlives the handle.
 * Parent pipe ends still owned by the proc are closed. Accepts NULL. */
PCOMM_API void pcomm_proc_free(pcomm_proc *proc);

/* The child's process ID, or -EINVAL for NULL. */
PCOMM_API int pcomm_proc_pid(const pcomm_proc *proc);

/* The child's pidfd, owned by the proc, readable (POLLIN) once the child has ended; for hosts
 * that poll it in their own event loop. Returns -ENOSYS when the kernel (or valgrind) offers no
 * pidfd and pcomm fell back to polling waitid(), or -EINVAL for NULL. */
PCOMM_API int pcomm_proc_pidfd(const pcomm_proc *proc);

/* How the child was started and is watched: "posix_spawn+pidfd" or "posix_spawn+waitid" (the
 * fallback without pidfds). Static string; "" for NULL. */
PCOMM_API const char *pcomm_proc_spawn_path(const pcomm_proc *proc);

/* The executable that was run, after the PATH lookup. Owned by the proc; NULL for NULL. */
PCOMM_API const char *pcomm_proc_exe(const pcomm_proc *proc);

/* The parent's end of the pipe set up for child descriptor child_fd, still owned by the proc.
 * For a pty it is the master, which is read (the child's output) and written (its input) through
 * one descriptor: a pty shared by several child descriptors appears only under the lowest of
 * them (stdout and stderr on one pty: under 1). Read a master until read() fails with EIO, which
 * is how Linux reports the end of a pty, never stop at POLLHUP: data may still be queued.
 * Returns the descriptor, or -EBADF when child_fd has no pipe (or it was taken or closed),
 * -EINVAL for bad arguments. Parent ends are close-on-exec and blocking. */
PCOMM_API int pcomm_proc_fd(const pcomm_proc *proc, int child_fd);

/* Like pcomm_proc_fd(), but the caller takes ownership of the descriptor and must close it. */
PCOMM_API int pcomm_proc_take_fd(pcomm_proc *proc, int child_fd);

/* Close the parent's end of child_fd's pipe now (typically stdin, to send EOF).
 * Returns 0, -EBADF when there is no such pipe end, or -EINVAL. */
PCOMM_API int pcomm_proc_close_fd(pcomm_proc *proc, int child_fd);

/* How a child descriptor asked to be a pty (pcomm_cmd_stdio_pty()) was set up. */
enum pcomm_pty_path {
    PCOMM_PTY_NONE = 0,   /* the descriptor was not asked to be a pty */
    PCOMM_PTY_CTTY = 1,   /* a pty that is the child's controlling terminal */
    PCOMM_PTY_NOCTTY = 2, /* a pty that is not: the second pty of a session, a child that stays in
                             the parent's group, or a failed step (error, step) */
    PCOMM_PTY_PIPE = 3    /* no pty could be made (error, step): a pipe instead, with the
                             descriptors that shared the pty merged as they would have been */
};

/* What pcomm_proc_pty() reports. The reserved fields are zero. */
typedef struct pcomm_pty_info {
    int path;      /* enum pcomm_pty_path */
    int id;        /* the pty_id given to pcomm_cmd_stdio_pty() */
    unsigned fds;  /* the child descriptors on this pty: bit 0 stdin, 1 stdout, 2 stderr */
    unsigned cols; /* the window size set at spawn time */
    unsigned rows;
    int error;        /* for a fallback: the negative errno of the step that failed, else 0 */
    const char *step; /* for a fallback: the step that failed ("posix_openpt", "TIOCGSID", ...),
                         a static string; "" otherwise */
    char name[64];    /* the slave's path, e.g. "/dev/pts/3"; "" for PCOMM_PTY_PIPE */
    int64_t reserved[4];
} pcomm_pty_info;

/* Describe the pty of child descriptor child_fd into *info. Returns 0 (with path
 * PCOMM_PTY_NONE when child_fd was not asked to be a pty) or -EINVAL. */
PCOMM_API int pcomm_proc_pty(const pcomm_proc *proc, int child_fd, pcomm_pty_info *info);

/* Set the window size of every pty of the child (as a terminal emulator does on a resize; the
 * kernel then sends SIGWINCH to the foreground group of the controlling terminal). 0x0 means
 * the current size of pcomm's own terminal (the caller's fd 0, 1 or 2, else /dev/tty). The proc
 * keeps its own descriptor on each master for this until pcomm_proc_free(), so taking or closing
 * the parent's end does not hang up the terminal. Returns 0, -ENOTTY when the child has no pty
 * or, for 0x0, the caller has no terminal, or -EINVAL. */
PCOMM_API int pcomm_proc_set_winsize(pcomm_proc *proc, unsigned cols, unsigned rows);

/* Send signal sig (0 tests for existence). When the child leads a process group (the default) the
 * signal goes to the whole group, so descendants that stayed in it get it too; otherwise it goes
 * through the pidfd to the child alone. Signalling a child that has already ended is harmless and
 * returns 0 (its group may still have members, which are signalled). Returns 0, -EINVAL for a
 * bad signal, -ECHILD when another party reaped the child (the IDs may have been reused, so
 * nothing is sent), or another negative errno from the kernel. */
PCOMM_API int pcomm_proc_kill(pcomm_proc *proc, int sig);

/* Wait until the child ends or timeout_ms milliseconds pass (0 = just check, negative = forever).
 * The wait survives EINTR with the remaining time recomputed, uses CLOCK_MONOTONIC, and does not
 * reap the child (pcomm_proc_free() does), so its process group ID stays valid for
 * pcomm_proc_kill(). Waiting again after the end returns 0 at once.
 * Returns 0 once ended (see pcomm_proc_status()), -ETIMEDOUT if still running, -ECHILD when
 * another party reaped the child (status PCOMM_UNKNOWN), or -EINVAL. */
PCOMM_API int pcomm_proc_wait(pcomm_proc *proc, int timeout_ms);

/* Copy the child's status into *st: how == PCOMM_RUNNING until a wait observed the end.
 * Returns 0 or -EINVAL. */
PCOMM_API int pcomm_proc_status(const pcomm_proc *proc, pcomm_status *st);

/* The shell's view of a status: the exit code for PCOMM_EXITED, 128 + signal for
 * PCOMM_SIGNALED, and -1 for a child that is running or whose status is unknown. */
PCOMM_API int pcomm_status_shell_code(const pcomm_status *st);

#ifdef __cplusplus
}
#endif

#endif /* PCOMM_PROC_H */
