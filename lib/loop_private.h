/* lib/loop_private.h - the loop's internal interface: descriptor watches and deadline timers.
 * Owners embed these structs and recover themselves in the callback with pcomm__container_of.
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_LOOP_PRIVATE_H
#define PCOMM_LOOP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcomm/loop.h"

#define pcomm__container_of(ptr, type, member)                                                     \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct pcomm__watch {
    int fd;          /* -1 when not registered */
    uint32_t events; /* EPOLLIN / EPOLLOUT as registered */
    void (*on_event)(struct pcomm__watch *w, uint32_t revents);
};

struct pcomm__timer {
    int64_t deadline; /* absolute CLOCK_MONOTONIC ns */
    size_t slot;      /* position in the loop's heap + 1; 0 when not armed */
    void (*on_expire)(struct pcomm__timer *t);
};

/* Initialise a watch or timer that is not registered. */
void pcomm__watch_init(struct pcomm__watch *w, void (*on_event)(struct pcomm__watch *, uint32_t));
void pcomm__timer_init(struct pcomm__timer *t, void (*on_expire)(struct pcomm__timer *));

/* Register fd for events (EPOLLIN/EPOLLOUT; level-triggered; 0 = registered but paused).
 * Regular files cannot be watched (-EPERM). Returns 0 or a negative errno. */
int pcomm__watch_start(pcomm_loop *loop, struct pcomm__watch *w, int fd, uint32_t events);

/* Change the events of a registered watch; 0 pauses it (it leaves the epoll set, so not even
 * EPOLLHUP wakes it). Returns 0 or a negative errno. */
int pcomm__watch_change(pcomm_loop *loop, struct pcomm__watch *w, uint32_t events);

/* Unregister (the descriptor is not closed). Harmless when not registered. */
void pcomm__watch_stop(pcomm_loop *loop, struct pcomm__watch *w);

static inline bool pcomm__watch_active(const struct pcomm__watch *w)
{
    return w->fd >= 0;
}

/* Arm (or re-arm) a timer for an absolute deadline; cancel it. */
int pcomm__timer_start(pcomm_loop *loop, struct pcomm__timer *t, int64_t deadline_ns);
void pcomm__timer_stop(pcomm_loop *loop, struct pcomm__timer *t);

static inline bool pcomm__timer_armed(const struct pcomm__timer *t)
{
    return t->slot != 0;
}

/* Count of active jobs: the loop runs while it is positive. */
void pcomm__loop_hold(pcomm_loop *loop);
void pcomm__loop_release(pcomm_loop *loop);

#endif
