/* pcomm/cmd.h - pcomm_cmd: a description of what to run. Nothing runs until pcomm_spawn().
 *
 * A pcomm_cmd holds an argv (byte-exact, never given to a shell), a list of environment
 * operations applied in order to a snapshot of the parent's environment at spawn time, a working
 * directory, one stdio choice per child file descriptor, and a process-group mode.
 *
 * Every setter copies its arguments and validates them at once: bad input (a NUL byte inside a
 * counted string, '=' or an empty environment name, a descriptor out of range) gives -EINVAL and
 * leaves the command unchanged. Setters return 0 or a negative errno (-ENOMEM).
 *
 * A pcomm_cmd is not internally locked: one thread may change it at a time, while any number of
 * threads may spawn from a command nobody changes.
 *
 * Part of libpcomm. SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_CMD_H
#define PCOMM_CMD_H

#include <stddef.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pcomm_cmd pcomm_cmd;

/* The highest child descriptor number a command may configure. */
#define PCOMM_CMD_MAX_FD 1023

/* Create an empty command in *cmdp. Add at least one argument before spawning it.
 * Returns 0, -EINVAL if cmdp is NULL, or -ENOMEM. */
PCOMM_API int pcomm_cmd_new(pcomm_cmd **cmdp);

/* Create a command from a NULL-terminated argv (argv[0] is the program). The strings are copied.
 * Returns 0, -EINVAL if cmdp or argv is NULL or argv is empty, or -ENOMEM. */
PCOMM_API int pcomm_cmd_new_argv(pcomm_cmd **cmdp, const char *const argv[]);

/* Deep-copy cmd into *copyp: argv, environment operations, cwd, stdio choices and flags.
 * Returns 0, -EINVAL, or -ENOMEM. */
PCOMM_API int pcomm_cmd_dup(const pcomm_cmd *cmd, pcomm_cmd **copyp);

/* Free a command and everything it copied. Accepts NULL. Commands are never used by a running
 * child, so a command may be freed as soon as pcomm_spawn() returns. */
PCOMM_API void pcomm_cmd_free(pcomm_cmd *cmd);

/* Append one argument (a C string; may be empty). Returns 0, -EINVAL, or -ENOMEM. */
PCOMM_API int pcomm_cmd_arg(pcomm_cmd *cmd, const char *arg);

/* Append one argument given as len bytes, for callers whose strings are counted (language
 * bindings). Any byte but NUL is allowed; a NUL anywhere gives -EINVAL, since the kernel could
 * not pass it. Returns 0, -EINVAL, or -ENOMEM. */
PCOMM_API int pcomm_cmd_arg_bytes(pcomm_cmd *cmd, const void *arg, size_t len);

/* Append every string of a NULL-terminated array, all or nothing.
 * Returns 0, -EINVAL, or -ENOMEM (in which case nothing was appended). */
PCOMM_API int pcomm_cmd_args(pcomm_cmd *cmd, const char *const argv[]);

/* The number of arguments, counting argv[0]. Returns 0 for NULL. */
PCOMM_API size_t pcomm_cmd_argc(const pcomm_cmd *cmd);

/* Argument i (0 = argv[0]), owned by the command and valid until it changes or is freed; NULL
 * when i is out of range or cmd is NULL. */
PCOMM_API const char *pcomm_cmd_argv(const pcomm_cmd *cmd, size_t i);

/* Run `path` instead of looking up argv[0]; argv[0] is still passed as given. A path without a
 * '/' is looked up in PATH like argv[0] would be. Returns 0, -EINVAL, or -ENOMEM. */
PCOMM_API int pcomm_cmd_set_program(pcomm_cmd *cmd, const char *path);

/* Environment operations. They are recorded in order and applied, at spawn time, to a copy of
 * the parent's environment taken at that moment (so clearenv then setenv leaves exactly one
 * variable). The program is looked up in the PATH of the resulting environment.
 * Reading the parent's environment races with setenv()/putenv() in other threads of the host,
 * exactly as getenv() does; hosts that change their environment while spawning must clear it
 * here and set what they want. */

/* Set NAME to VALUE. The name must be non-empty and contain no '='; the value may be empty.
 * Returns 0, -EINVAL, or -ENOMEM. */
PCOMM_API int pcomm_cmd_setenv(pcomm_cmd *cmd, const char *name, const char *value);

/* Same as pcomm_cmd_setenv() with counted strings; a NUL byte in either gives -EINVAL. */
PCOMM_API int pcomm_cmd_setenv_bytes(pcomm_cmd *cmd, const void *name, size_t name_len,
                                     const void *value, size_t value_len);

/* Set a variable from one "NAME=VALUE" string (the form of env(1) and pcomm -E). A string with no
 * '=' or an empty name gives -EINVAL. Returns 0, -EINVAL, or -ENOMEM. */
PCOMM_API int pcomm_cmd_putenv(pcomm_cmd *cmd, const char *assignment);

/* Remove NAME (not an error if it is not set). Returns 0, -EINVAL, or -ENOMEM. */
PCOMM_API int pcomm_cmd_unsetenv(pcomm_cmd *cmd, const char *name);

/* Start from an empty environment; later setenv operations add to it. Returns 0, -EINVAL,
 * or -ENOMEM. */
PCOMM_API int pcomm_cmd_clearenv(pcomm_cmd *cmd);

/* Run the child in directory dir (relative to the parent's cwd at spawn time). A relative program
 * path that contains a '/' is then resolved against dir. Passing NULL restores the default (the
 * parent's cwd). pcomm_spawn() reports an unusable directory as PCOMM_ECWD.
 * Returns 0, -EINVAL, or -ENOMEM. */
PCOMM_API int pcomm_cmd_chdir(pcomm_cmd *cmd, const char *dir);

/* Stdio choices, one per child descriptor fd (0 <= fd <= PCOMM_CMD_MAX_FD). Descriptors 0, 1 and
 * 2 are inherited unless set; any other child descriptor is closed unless set, so a child sees
 * exactly 0, 1, 2 and the descriptors given here, whatever the parent holds open. Setting a
 * descriptor again replaces the earlier choice. Each returns 0, -EINVAL, or -ENOMEM. */

/* The child's fd is the parent's fd of the same number (closed if the parent's is closed). */
PCOMM_API int pcomm_cmd_stdio_inherit(pcomm_cmd *cmd, int fd);

/* The child's fd is /dev/null, opened for reading (fd 0) or writing (any other fd). */
PCOMM_API int pcomm_cmd_stdio_null(pcomm_cmd *cmd, int fd);

/* The child's fd is closed. Closing 0, 1 or 2 is allowed but surprises most programs. */
PCOMM_API int pcomm_cmd_stdio_close(pcomm_cmd *cmd, int fd);

/* The child's fd is one end of a new pipe: the read end for fd 0, the write end for any other
 * fd. The parent's end is available from pcomm_proc_fd() after spawning. */
PCOMM_API int pcomm_cmd_stdio_pipe(pcomm_cmd *cmd, int fd);

/* The child's fd is a duplicate of the parent's descriptor parent_fd (passing an extra fd).
 * parent_fd is not taken over: it must stay open until pcomm_spawn() returns, and the caller
 * still closes it. Any parent descriptor works, close-on-exec or not. */
PCOMM_API int pcomm_cmd_stdio_fd(pcomm_cmd *cmd, int fd, int parent_fd);

/* The child's fd is the file at path, opened by the parent at spawn time with open(2) flags
 * oflags (O_CLOEXEC is added; O_NOCTTY too) and creation mode. Open errors are returned by
 * pcomm_spawn() as negative errno values, before the program is looked up. */
PCOMM_API int pcomm_cmd_stdio_file(pcomm_cmd *cmd, int fd, const char *path, int oflags,
                                   unsigned mode);

/* The child's fd refers to whatever its descriptor into_fd refers to (2 into 1 is the shell's
 * 2>&1). into_fd must not itself be merged into another fd; pcomm_spawn() gives -EINVAL for
 * chains. */
PCOMM_API int pcomm_cmd_stdio_merge(pcomm_cmd *cmd, int fd, int into_fd);

/* The child's fd (0, 1 or 2) is the slave side of a pseudo-terminal, so isatty() is true and
 * C stdio, Python and most runtimes line-buffer it. Descriptors given the same pty_id (any
 * number >= 0) share one pty: stdout and stderr merged with their exact interleaving. Different
 * ids give different ptys: stdout and stderr each pass isatty() and line-buffer, yet stay
 * separate streams. Output is byte-exact (no "\r\n", no echo, no XON/XOFF). The child leads a
 * new session whose controlling terminal is the pty of its lowest pty descriptor (unless the
 * group mode is PCOMM_GROUP_INHERIT: then there is no new session and no controlling terminal).
 * pcomm_spawn() falls back to a pty without a controlling terminal, and then to pipes, when a
 * step fails; pcomm_proc_pty() tells which path was taken and why. The parent's end is the
 * pty's master, see pcomm_proc_fd(). A pty is an order of magnitude slower than a pipe for bulk
 * data: use one only where line buffering matters. See pcomm_pty(7). Returns 0, -EINVAL (fd not
 * 0, 1 or 2, or pty_id < 0) or -ENOMEM. */
PCOMM_API int pcomm_cmd_stdio_pty(pcomm_cmd *cmd, int fd, int pty_id);

/* The window size of the command's ptys, in columns and rows (1..65535 each). 0x0, the default,
 * means automatic: the size of pcomm's own terminal (the parent's fd 0, 1 or 2, else
 * /dev/tty), else $COLUMNS and $LINES from the child's environment, else 80x24; never 0x0.
 * Returns 0 or -EINVAL (one of the two 0, or a value above 65535). */
PCOMM_API int pcomm_cmd_set_winsize(pcomm_cmd *cmd, unsigned cols, unsigned rows);

/* Ask glibc stdio in the child to line-buffer stdout and stderr while they stay pipes (the
 * stdbuf(1) method): at spawn time coreutils' libstdbuf.so is appended to LD_PRELOAD in the
 * child's environment, with _STDBUF_O=L and _STDBUF_E=L. This works only for dynamically linked
 * programs that use C stdio and do not set their own buffering (not for static binaries,
 * Python, or set-uid programs), and every descendant inherits it. The library is looked for now,
 * in the usual places (/usr/libexec/coreutils, /usr/lib/coreutils, ...). Returns 0,
 * PCOMM_EUNSUPPORTED when libstdbuf.so is not installed, -EINVAL or -ENOMEM. */
PCOMM_API int pcomm_cmd_linebuf(pcomm_cmd *cmd);

/* The libstdbuf.so that pcomm_cmd_linebuf() would use: a static string, or NULL when none is
 * installed. */
PCOMM_API const char *pcomm_linebuf_library(void);

/* Process-group modes (pcomm_cmd_set_group). */
enum pcomm_group {
    /* The child leads a new process group (the default). Signals from pcomm go to the whole
     * group, so they reach the child's descendants too. Like timeout(1), the child is then not
     * the terminal's foreground group: a child that reads the terminal is stopped (SIGTTIN);
     * use PCOMM_GROUP_INHERIT for such programs. */
    PCOMM_GROUP_OWN = 0,
    /* The child stays in the parent's process group (pcomm --foreground). Signals from pcomm
     * reach only the child itself. */
    PCOMM_GROUP_INHERIT = 1,
    /* The child leads a new session (setsid), and thereby a new process group. */
    PCOMM_GROUP_SESSION = 2
};

/* Choose the child's process-group mode (enum pcomm_group). Returns 0 or -EINVAL. */
PCOMM_API int pcomm_cmd_set_group(pcomm_cmd *cmd, int mode);

#ifdef __cplusplus
}
#endif

#endif /* PCOMM_CMD_H */
