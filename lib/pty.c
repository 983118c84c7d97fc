/* lib/pty.c - pseudo-terminals for child stdio (see pty.h and shared/notes/pty.md §2).
 *
 * Every descriptor the parent holds is O_NOCTTY and O_CLOEXEC from birth: a parent that is a
 * session leader without a terminal would otherwise steal the pty as its own controlling
 * terminal, and be hung up when it closes the master (pty.md §2 row J).
 *
 * SPDX-License-Identifier: MIT */
#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "pcomm/proc.h"
#include "sys.h"

enum { PCOMM_DEFAULT_COLS = 80, PCOMM_DEFAULT_ROWS = 24 };

int pcomm__pty_lowest_fd(const struct pcomm__pty *pty)
{
    for (int fd = 0; fd <= 2; fd++)
        if (pty->fds & (1u << fd))
            return fd;
    return -1;
}

/* ---- window size --------------------------------------------------------------------------- */

static bool pcomm_winsize_of(int fd, unsigned *cols, unsigned *rows)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0 || ws.ws_row == 0)
        return false;
    *cols = ws.ws_col;
    *rows = ws.ws_row;
    return true;
}

int pcomm__own_winsize(unsigned *cols, unsigned *rows)
{
    for (int fd = 0; fd <= 2; fd++)
        if (pcomm_winsize_of(fd, cols, rows))
            return 0;
    /* The controlling terminal, even when 0-2 are redirected. O_NOCTTY: never acquire one. */
    int fd = pcomm__open("/dev/tty", O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
    if (fd < 0)
        return -ENOTTY;
    bool ok = pcomm_winsize_of(fd, cols, rows);
    pcomm__close(fd);
    return ok ? 0 : -ENOTTY;
}

/* A positive size from the environment entry NAME=VALUE, or 0. */
static unsigned pcomm_env_size(char *const *envp, const char *name)
{
    size_t len = strlen(name);
    for (char *const *e = envp; e && *e; e++) {
        if (strncmp(*e, name, len) != 0 || (*e)[len] != '=')
            continue;
        char *end;
        errno = 0;
        unsigned long v = strtoul(*e + len + 1, &end, 10);
        return errno || *end || end == *e + len + 1 || v > 65535 ? 0 : (unsigned)v;
    }
    return 0;
}

/* The size for new ptys: the command's, else pcomm's terminal, else the child's $COLUMNS and
 * $LINES (the environment the child will see, so pcomm -E COLUMNS=132 works), else 80x24. */
static void pcomm_pick_winsize(const pcomm_cmd *cmd, char *const *envp, unsigned *cols,
                               unsigned *rows)
{
    if (cmd->cols && cmd->rows) {
        *cols = cmd->cols;
        *rows = cmd->rows;
        return;
    }
    if (pcomm__own_winsize(cols, rows) == 0)
        return;
    *cols = pcomm_env_size(envp, "COLUMNS");
    *rows = pcomm_env_size(envp, "LINES");
    if (!*cols)
        *cols = PCOMM_DEFAULT_COLS;
    if (!*rows)
        *rows = PCOMM_DEFAULT_ROWS;
}

int pcomm__pty_set_winsize(int master, unsigned cols, unsigned rows)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    return ioctl(master, TIOCSWINSZ, &ws) == 0 ? 0 : -errno;
}

/* ---- opening ------------------------------------------------------------------------------- */

/* Byte-exact terminal settings. Output: no post-processing (no "\n" -> "\r\n"), no echo, no
 * XON/XOFF. A pty without stdin is otherwise raw. A pty carrying stdin stays canonical, so that
 * VEOF can end the input, but without signals (a 0x03 in the data is data) and without input
 * translation; the line-editing characters are fixed here so that the input channel knows which
 * bytes to quote with VLNEXT. IUTF8 is left alone: it only changes how VERASE erases, and pcomm
 * never lets an erase happen. */
static int pcomm_pty_termios(int slave, bool input)
{
    struct termios t;
    if (tcgetattr(slave, &t) < 0)
        return -errno;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY | ICRNL | INLCR | IGNCR | IMAXBEL | ISTRIP);
    t.c_oflag &= ~(tcflag_t)OPOST;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE | ISIG);
    if (input) {
        t.c_lflag |= ICANON | IEXTEN;
        t.c_cc[VEOF] = PCOMM__PTY_VEOF;
        t.c_cc[VLNEXT] = PCOMM__PTY_VLNEXT;
        t.c_cc[VERASE] = 0x7f;
        t.c_cc[VKILL] = 0x15;
        t.c_cc[VWERASE] = 0x17;
        t.c_cc[VREPRINT] = 0x12;
        t.c_cc[VDISCARD] = 0x0f;
        t.c_cc[VEOL] = 0; /* 0 is _POSIX_VDISABLE on Linux: NUL bytes stay data (measured) */
        t.c_cc[VEOL2] = 0;
    } else {
        t.c_lflag &= ~(tcflag_t)(ICANON | IEXTEN);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
    }
    while (tcsetattr(slave, TCSANOW, &t) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

/* Record a failed step; the pty falls back to pipes. */
static int pcomm_pty_fail(struct pcomm__pty *pty, const char *step, int err)
{
    pty->path = PCOMM_PTY_PIPE;
    pty->step = step;
    pty->error = err;
    pty->name[0] = '\0';
    pcomm__closep(&pty->slave);
    pcomm__closep(&pty->ctl);
    pcomm__closep(&pty->master);
    return err;
}

/* The recipe of pty.md §2 steps 1-4. */
static int pcomm_pty_open_one(struct pcomm__pty *pty, bool input)
{
    pty->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (pty->master < 0)
        return pcomm_pty_fail(pty, "posix_openpt", -errno);
    if (grantpt(pty->master) < 0)
        return pcomm_pty_fail(pty, "grantpt", -errno);
    if (unlockpt(pty->master) < 0)
        return pcomm_pty_fail(pty, "unlockpt", -errno);
    int r = ptsname_r(pty->master, pty->name, sizeof pty->name);
    if (r != 0)
        return pcomm_pty_fail(pty, "ptsname_r", -r);
    /* TIOCGPTPEER (Linux 4.13) opens the slave without a path lookup; else open it by name. */
    pty->slave = ioctl(pty->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (pty->slave < 0) {
        pty->slave = pcomm__open(pty->name, O_RDWR | O_NOCTTY, 0);
        if (pty->slave < 0)
            return pcomm_pty_fail(pty, "open slave", pty->slave);
    }
    r = pcomm_pty_termios(pty->slave, input);
    if (r < 0)
        return pcomm_pty_fail(pty, "tcsetattr", r);
    r = pcomm__pty_set_winsize(pty->master, pty->cols, pty->rows);
    if (r < 0)
        return pcomm_pty_fail(pty, "TIOCSWINSZ", r);
    pty->ctl = pcomm__dup_above(pty->master, 3);
    if (pty->ctl < 0)
        return pcomm_pty_fail(pty, "F_DUPFD_CLOEXEC", pty->ctl);
    return 0;
}

struct pcomm__pty *pcomm__ptys_find(struct pcomm__pty *ptys, size_t count, int child_fd)
{
    for (size_t i = 0; i < count; i++)
        if (child_fd >= 0 && child_fd <= 2 && (ptys[i].fds & (1u << child_fd)))
            return &ptys[i];
    return NULL;
}

int pcomm__ptys_open(const pcomm_cmd *cmd, char *const *envp, struct pcomm__pty **ptysp,
                     size_t *countp)
{
    *ptysp = NULL;
    *countp = 0;
    struct pcomm__pty *ptys = NULL;
    size_t count = 0;
    for (int fd = 0; fd <= 2; fd++) {
        const struct pcomm__stdio *s = pcomm__cmd_stdio(cmd, fd);
        if (!s || s->kind != PCOMM__STDIO_PTY)
            continue;
        size_t i = 0;
        while (i < count && ptys[i].id != s->arg)
            i++;
        if (i == count) {
            if (!ptys && !(ptys = calloc(3, sizeof *ptys)))
                return -ENOMEM;
            ptys[count++] =
                (struct pcomm__pty){.id = s->arg, .master = -1, .ctl = -1, .slave = -1, .step = ""};
        }
        ptys[i].fds |= 1u << fd;
    }
    if (count == 0)
        return 0;
    unsigned cols, rows;
    pcomm_pick_winsize(cmd, envp, &cols, &rows);
    for (size_t i = 0; i < count; i++) {
        ptys[i].cols = cols;
        ptys[i].rows = rows;
        ptys[i].path = PCOMM_PTY_NOCTTY; /* until the spawn makes one the controlling tty */
        pcomm_pty_open_one(&ptys[i], ptys[i].fds & 1u);
    }
    *ptysp = ptys;
    *countp = count;
    return 0;
}

void pcomm__ptys_close_slaves(struct pcomm__pty *ptys, size_t count)
{
    for (size_t i = 0; i < count; i++)
        pcomm__closep(&ptys[i].slave);
}

void pcomm__ptys_free(struct pcomm__pty *ptys, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        pcomm__closep(&ptys[i].slave);
        pcomm__closep(&ptys[i].master);
        pcomm__closep(&ptys[i].ctl);
    }
    free(ptys);
}

void pcomm__pty_check_ctty(struct pcomm__pty *pty, pid_t pid)
{
    pid_t sid = 0;
    if (ioctl(pty->ctl, TIOCGSID, &sid) == 0 && sid == pid) {
        pty->path = PCOMM_PTY_CTTY;
        return;
    }
    int err = sid != 0 ? -EPERM : -errno;
    /* A child that already ended has left its session: the tty then has none (ENOTTY/EIO).
     * Its open succeeded after setsid, so it had the terminal; only a live child in another
     * session disproves it. */
    if (err == -ENOTTY || err == -EIO) {
        siginfo_t info = {0};
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == pid) {
            pty->path = PCOMM_PTY_CTTY;
            return;
        }
    }
    pty->path = PCOMM_PTY_NOCTTY;
    pty->step = "TIOCGSID";
    pty->error = err;
}
