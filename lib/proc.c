/* lib/proc.c - pcomm_proc: waiting, signalling, status and teardown of one child.
 *
 * The child is observed with waitid(WNOWAIT) and reaped only in pcomm_proc_free(). Keeping the
 * zombie keeps its PID and process-group ID reserved, so signals to the group after the child
 * ended (descendants holding its pipes) can never reach an unrelated process.
 *
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc_private.h"
#include "pty.h"
#include "sys.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* waitid(2) as the kernel offers it: glibc's wrapper has no rusage argument. */
static int pcomm_waitid(const pcomm_proc *proc, int options, siginfo_t *info, struct rusage *ru)
{
    idtype_t type = proc->pidfd >= 0 ? (idtype_t)P_PIDFD : P_PID;
    id_t id = proc->pidfd >= 0 ? (id_t)proc->pidfd : (id_t)proc->pid;
    for (;;) {
        info->si_pid = 0;
        if (syscall(SYS_waitid, type, id, info, options, ru) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

static int64_t pcomm_timeval_ns(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static void pcomm_record_end(pcomm_proc *proc, const siginfo_t *info, const struct rusage *ru)
{
    pcomm_status *st = &proc->status;
    st->wall_ns = pcomm__now_ns() - proc->start_ns;
    if (info->si_code == CLD_EXITED) {
        st->how = PCOMM_EXITED;
        st->code = info->si_status;
    } else {
        st->how = PCOMM_SIGNALED;
        st->code = info->si_status;
        st->core_dumped = info->si_code == CLD_DUMPED;
    }
    st->user_ns = pcomm_timeval_ns(ru->ru_utime);
    st->sys_ns = pcomm_timeval_ns(ru->ru_stime);
    st->max_rss_kib = ru->ru_maxrss;
}

int pcomm__proc_poll(pcomm_proc *proc)
{
    pthread_mutex_lock(&proc->lock);
    int r = 1;
    if (proc->status.how == PCOMM_UNKNOWN)
        r = -ECHILD;
    else if (proc->status.how == PCOMM_RUNNING) {
        siginfo_t info;
        struct rusage ru = {0};
        r = pcomm_waitid(proc, WEXITED | WNOHANG | WNOWAIT, &info, &ru);
        if (r == -ECHILD) {
            proc->status.how = PCOMM_UNKNOWN;
            proc->status.wall_ns = pcomm__now_ns() - proc->start_ns;
        } else if (r == 0 && info.si_pid != 0) {
            pcomm_record_end(proc, &info, &ru);
            r = 1;
        }
    }
    pthread_mutex_unlock(&proc->lock);
    return r;
}

/* Whether no end has been observed yet (read under the lock: another thread may record it). */
static bool pcomm_proc_running(pcomm_proc *proc)
{
    pthread_mutex_lock(&proc->lock);
    bool running = proc->status.how == PCOMM_RUNNING;
    pthread_mutex_unlock(&proc->lock);
    return running;
}

/* Sleep until the deadline or for at most max_ns, whichever is sooner. */
static void pcomm_nap(int64_t deadline_ns, int64_t max_ns)
{
    int64_t left = deadline_ns == PCOMM__NO_DEADLINE ? max_ns : deadline_ns - pcomm__now_ns();
    if (left > max_ns)
        left = max_ns;
    if (left <= 0)
        return;
    struct timespec ts = {left / 1000000000, left % 1000000000};
    nanosleep(&ts, NULL); /* an EINTR just means an earlier check */
}

int pcomm_proc_wait(pcomm_proc *proc, int timeout_ms)
{
    if (!proc)
        return -EINVAL;
    int64_t deadline = pcomm__deadline_after_ms(timeout_ms);
    int64_t nap_ns = 1000000; /* waitid fallback: 1 ms, doubling up to 50 ms */
    for (;;) {
        if (proc->pidfd >= 0 && pcomm_proc_running(proc)) {
            /* The pidfd turns readable when the child ends: no waitid until then. */
            struct pollfd pfd = {.fd = proc->pidfd, .events = POLLIN};
            int r = pcomm__poll_until(&pfd, 1, deadline);
            if (r < 0)
                return r;
        }
        int r = pcomm__proc_poll(proc);
        if (r != 0)
            return r < 0 ? r : 0;
        if (deadline != PCOMM__NO_DEADLINE && pcomm__now_ns() >= deadline)
            return -ETIMEDOUT;
        if (proc->pidfd < 0) {
            pcomm_nap(deadline, nap_ns);
            if (nap_ns < 50000000)
                nap_ns *= 2;
        }
    }
}

int pcomm_proc_status(const pcomm_proc *proc, pcomm_status *st)
{
    if (!proc || !st)
        return -EINVAL;
    /* The lock is not part of the logical state: taking it does not change the proc. */
    pcomm_proc *p = (pcomm_proc *)(uintptr_t)proc;
    pthread_mutex_lock(&p->lock);
    *st = proc->status;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int pcomm_status_shell_code(const pcomm_status *st)
{
    if (!st)
        return -1;
    if (st->how == PCOMM_EXITED)
        return st->code;
    if (st->how == PCOMM_SIGNALED)
        return 128 + st->code;
    return -1;
}

int pcomm_proc_kill(pcomm_proc *proc, int sig)
{
    if (!proc || sig < 0 || sig >= NSIG)
        return -EINVAL;
    /* Refuse once someone else reaped the child: its IDs may belong to a stranger now. */
    int r = pcomm__proc_poll(proc);
    if (r < 0)
        return r;
    if (proc->leads_group) {
        if (kill(-proc->pid, sig) == 0 || errno == ESRCH)
            return 0;
        return -errno;
    }
    if (r == 1)
        return 0; /* ended: nothing to signal */
    if (proc->pidfd >= 0)
        r = pidfd_send_signal(proc->pidfd, sig, NULL, 0);
    else
        r = kill(proc->pid, sig);
    return r == 0 || errno == ESRCH ? 0 : -errno;
}

int pcomm_proc_pid(const pcomm_proc *proc)
{
    return proc ? proc->pid : -EINVAL;
}

int pcomm_proc_pidfd(const pcomm_proc *proc)
{
    if (!proc)
        return -EINVAL;
    return proc->pidfd >= 0 ? proc->pidfd : -ENOSYS;
}

const char *pcomm_proc_spawn_path(const pcomm_proc *proc)
{
    if (!proc)
        return "";
    return proc->pidfd >= 0 ? "posix_spawn+pidfd" : "posix_spawn+waitid";
}

const char *pcomm_proc_exe(const pcomm_proc *proc)
{
    return proc ? proc->exe : NULL;
}

struct pcomm__proc_end *pcomm__proc_end(const pcomm_proc *proc, int child_fd)
{
    for (size_t i = 0; i < proc->end_count; i++)
        if (proc->ends[i].child_fd == child_fd && proc->ends[i].fd >= 0)
            return &proc->ends[i];
    return NULL;
}

int pcomm_proc_fd(const pcomm_proc *proc, int child_fd)
{
    if (!proc || child_fd < 0)
        return -EINVAL;
    struct pcomm__proc_end *end = pcomm__proc_end(proc, child_fd);
    return end ? end->fd : -EBADF;
}

int pcomm_proc_take_fd(pcomm_proc *proc, int child_fd)
{
    if (!proc || child_fd < 0)
        return -EINVAL;
    struct pcomm__proc_end *end = pcomm__proc_end(proc, child_fd);
    if (!end)
        return -EBADF;
    int fd = end->fd;
    end->fd = -1;
    return fd;
}

int pcomm_proc_close_fd(pcomm_proc *proc, int child_fd)
{
    int fd = pcomm_proc_take_fd(proc, child_fd);
    if (fd < 0)
        return fd;
    pcomm__close(fd);
    return 0;
}

int pcomm_proc_pty(const pcomm_proc *proc, int child_fd, pcomm_pty_info *info)
{
    if (!proc || !info || child_fd < 0)
        return -EINVAL;
    memset(info, 0, sizeof *info);
    info->step = "";
    const struct pcomm__pty *pty = pcomm__ptys_find(proc->ptys, proc->pty_count, child_fd);
    if (!pty)
        return 0;
    info->path = pty->path;
    info->id = pty->id;
    info->fds = pty->fds;
    pcomm_proc *p = (pcomm_proc *)(uintptr_t)proc; /* the size may change under the lock */
    pthread_mutex_lock(&p->lock);
    info->cols = pty->cols;
    info->rows = pty->rows;
    pthread_mutex_unlock(&p->lock);
    info->error = pty->error;
    info->step = pty->step;
    memcpy(info->name, pty->name, sizeof info->name);
    return 0;
}

int pcomm_proc_set_winsize(pcomm_proc *proc, unsigned cols, unsigned rows)
{
    if (!proc || (cols == 0) != (rows == 0) || cols > 65535 || rows > 65535)
        return -EINVAL;
    if (cols == 0) {
        int r = pcomm__own_winsize(&cols, &rows);
        if (r < 0)
            return r;
    }
    int result = -ENOTTY;
    for (size_t i = 0; i < proc->pty_count; i++) {
        struct pcomm__pty *pty = &proc->ptys[i];
        if (pty->ctl < 0)
            continue;
        int r = pcomm__pty_set_winsize(pty->ctl, cols, rows);
        if (r == 0) {
            pthread_mutex_lock(&proc->lock);
            pty->cols = cols;
            pty->rows = rows;
            pthread_mutex_unlock(&proc->lock);
        }
        if (result == -ENOTTY || r < 0)
            result = r;
    }
    return result;
}

/* Kill a child that is still running, then reap it. */
static void pcomm_proc_reap(pcomm_proc *proc)
{
    int r = pcomm__proc_poll(proc);
    if (r == 0) {
        pcomm_proc_kill(proc, SIGKILL);
        r = pcomm_proc_wait(proc, -1);
    }
    if (r == 1 || r == 0) {
        siginfo_t info;
        struct rusage ru;
        pcomm_waitid(proc, WEXITED, &info, &ru);
    }
}

void pcomm_proc_free(pcomm_proc *proc)
{
    if (!proc)
        return;
    if (proc->pid > 0)
        pcomm_proc_reap(proc);
    for (size_t i = 0; i < proc->end_count; i++)
        pcomm__close(proc->ends[i].fd);
    pcomm__close(proc->pidfd);
    pcomm__ptys_free(proc->ptys, proc->pty_count); /* the last master: the terminal hangs up */
    pthread_mutex_destroy(&proc->lock);
    free(proc->ends);
    free(proc->exe);
    free(proc);
}
