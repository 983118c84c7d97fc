/* lib/pty.h - pseudo-terminals for child stdio: opening and configuring them in the parent,
 * their window size, and what the spawn made of them. Private to libpcomm; the recipe and its
 * measurements are in shared/notes/pty.md (sections 2 and 3).
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_PTY_H
#define PCOMM_PTY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cmd_private.h"

/* The special characters pcomm sets on a pty that carries stdin (canonical mode, so that VEOF
 * can end the input). Data bytes equal to any of them are sent quoted with VLNEXT. */
#define PCOMM__PTY_VEOF   0x04
#define PCOMM__PTY_VLNEXT 0x16

/* The longest line a canonical terminal takes before its newline (N_TTY_BUF_SIZE - 1 on Linux;
 * longer lines are cut silently by the kernel, so pcomm refuses them with PCOMM_ELINE). */
#define PCOMM__PTY_MAX_LINE 4095

/* One pty set up for a child: the child descriptors on it, and the parent's descriptors. */
struct pcomm__pty {
    int id;        /* the caller's pty_id */
    unsigned fds;  /* child descriptors on it, bit n = fd n (0..2) */
    int master;    /* the parent's end, handed to the proc as the lowest fd's end */
    int ctl;       /* a second master descriptor the proc keeps (window size, hangup) */
    int slave;     /* the parent's copy of the slave: closed right after the spawn */
    char name[64]; /* the slave's path */
    unsigned cols, rows;
    int path;         /* enum pcomm_pty_path */
    int error;        /* why a fallback was taken, or 0 */
    const char *step; /* the step that failed, or "" */
};

/* The lowest child descriptor on a pty. */
int pcomm__pty_lowest_fd(const struct pcomm__pty *pty);

/* Open one pty for every distinct pty_id of cmd's stdio (in *ptysp, *countp entries; NULL, 0
 * when there is none). A pty that cannot be made is not an error: it gets path PCOMM_PTY_PIPE
 * with the failed step, and the spawn gives its descriptors pipes. Returns 0 or -ENOMEM. */
int pcomm__ptys_open(const pcomm_cmd *cmd, char *const *envp, struct pcomm__pty **ptysp,
                     size_t *countp);

/* The pty of child_fd, or NULL. */
struct pcomm__pty *pcomm__ptys_find(struct pcomm__pty *ptys, size_t count, int child_fd);

/* Close every parent descriptor still held (slave, master, ctl), then free the array. */
void pcomm__ptys_free(struct pcomm__pty *ptys, size_t count);

/* Close the parent's slave copies: a slave left open in the parent means EIO never comes. */
void pcomm__ptys_close_slaves(struct pcomm__pty *ptys, size_t count);

/* After the spawn: confirm from the parent that the pty became the session's controlling
 * terminal (TIOCGSID on the master gives the child's pid), recording a fallback otherwise. */
void pcomm__pty_check_ctty(struct pcomm__pty *pty, pid_t pid);

/* The window size of the caller's own terminal (fd 0, 1 or 2, else /dev/tty). Returns 0 or
 * -ENOTTY. */
int pcomm__own_winsize(unsigned *cols, unsigned *rows);

/* TIOCSWINSZ on a master. Returns 0 or a negative errno. */
int pcomm__pty_set_winsize(int master, unsigned cols, unsigned rows);

#endif
