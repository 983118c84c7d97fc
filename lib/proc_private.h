/* lib/proc_private.h - the inside of pcomm_proc, shared by spawn.c, proc.c and the loop.
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_PROC_PRIVATE_H
#define PCOMM_PROC_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "pcomm/proc.h"

struct pcomm__pty;

/* The parent's end of a pipe (or a pty master) set up for one child descriptor. */
struct pcomm__proc_end {
    int child_fd;
    int fd; /* -1 once taken or closed */
};

struct pcomm_proc {
    pid_t pid;
    int pidfd;         /* -1 when pidfds are unavailable (waitid polling fallback) */
    bool leads_group;  /* the child leads its own process group (group signals are safe) */
    bool group_member; /* the child joined another child's group (a later pipeline stage) */
    char *exe;         /* the executable run, after PATH lookup */
    struct pcomm__proc_end *ends;
    size_t end_count;
    struct pcomm__pty *ptys; /* what became of each requested pty (lib/pty.h) */
    size_t pty_count;
    int64_t start_ns;
    pthread_mutex_t lock; /* guards status and the ptys' window sizes */
    pcomm_status status;  /* how == PCOMM_RUNNING until an end was observed */
};

/* pcomm_spawn(), with the child joining the existing process group join_pgid when cmd asks
 * for its own group (pipeline stages after the first); 0 = a new group as usual. */
int pcomm__spawn(const pcomm_cmd *cmd, pid_t join_pgid, pcomm_proc **procp);

/* Check without blocking whether the child has ended, recording its status if so (the child is
 * not reaped). Returns 1 when ended, 0 when running, -ECHILD when reaped by someone else. */
int pcomm__proc_poll(pcomm_proc *proc);

/* The slot for child_fd's parent end, or NULL. */
struct pcomm__proc_end *pcomm__proc_end(const pcomm_proc *proc, int child_fd);

#endif
