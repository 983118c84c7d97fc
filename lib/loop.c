/* lib/loop.c - pcomm_loop: epoll over descriptors, a timerfd for the earliest deadline, and a
 * binary heap of timers, so the cost of an event does not grow with the number of idle
 * children. SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "loop_private.h"
#include "sys.h"

struct pcomm_loop {
    int epfd;
    int tfd;              /* timerfd armed for the earliest deadline */
    int64_t tfd_deadline; /* what tfd is armed for; PCOMM__NO_DEADLINE when disarmed */
    struct pcomm__watch tfd_watch;
    struct pcomm__timer **heap; /* min-heap on deadline */
    size_t heap_count, heap_cap;
    size_t active; /* jobs started and not ended */
};

/* ---- timers -------------------------------------------------------------------------------- */

static void pcomm_heap_place(pcomm_loop *loop, size_t i, struct pcomm__timer *t)
{
    loop->heap[i] = t;
    t->slot = i + 1;
}

static void pcomm_heap_up(pcomm_loop *loop, size_t i)
{
    struct pcomm__timer *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->deadline <= t->deadline)
            break;
        pcomm_heap_place(loop, i, loop->heap[parent]);
        i = parent;
    }
    pcomm_heap_place(loop, i, t);
}

static void pcomm_heap_down(pcomm_loop *loop, size_t i)
{
    struct pcomm__timer *t = loop->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= loop->heap_count)
            break;
        if (child + 1 < loop->heap_count &&
            loop->heap[child + 1]->deadline < loop->heap[child]->deadline)
            child++;
        if (loop->heap[child]->deadline >= t->deadline)
            break;
        pcomm_heap_place(loop, i, loop->heap[child]);
        i = child;
    }
    pcomm_heap_place(loop, i, t);
}

void pcomm__timer_init(struct pcomm__timer *t, void (*on_expire)(struct pcomm__timer *))
{
    t->deadline = 0;
    t->slot = 0;
    t->on_expire = on_expire;
}

void pcomm__timer_stop(pcomm_loop *loop, struct pcomm__timer *t)
{
    if (!t->slot)
        return;
    size_t i = t->slot - 1;
    t->slot = 0;
    struct pcomm__timer *last = loop->heap[--loop->heap_count];
    if (i == loop->heap_count)
        return;
    pcomm_heap_place(loop, i, last);
    pcomm_heap_up(loop, i);
    pcomm_heap_down(loop, last->slot - 1);
}

/* Point the timerfd at the earliest deadline (a syscall only when that changes). */
static int pcomm_loop_arm_timerfd(pcomm_loop *loop)
{
    int64_t want = loop->heap_count ? loop->heap[0]->deadline : PCOMM__NO_DEADLINE;
    if (want == loop->tfd_deadline)
        return 0;
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (want != PCOMM__NO_DEADLINE) {
        int64_t at = want > 0 ? want : 1; /* an all-zero it_value would disarm */
        its.it_value.tv_sec = at / 1000000000;
        its.it_value.tv_nsec = at % 1000000000;
    }
    if (timerfd_settime(loop->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        return -errno;
    loop->tfd_deadline = want;
    return 0;
}

int pcomm__timer_start(pcomm_loop *loop, struct pcomm__timer *t, int64_t deadline_ns)
{
    pcomm__timer_stop(loop, t);
    int r = pcomm__grow((void **)&loop->heap, &loop->heap_cap, loop->heap_count + 1,
                        sizeof *loop->heap);
    if (r < 0)
        return r;
    t->deadline = deadline_ns;
    loop->heap[loop->heap_count++] = t;
    pcomm_heap_up(loop, loop->heap_count - 1);
    /* A new earliest deadline must reach the timerfd now: a host may poll the loop's
     * descriptor before it calls pcomm_loop_step() again. */
    return loop->heap[0] == t && deadline_ns < loop->tfd_deadline ? pcomm_loop_arm_timerfd(loop)
                                                                  : 0;
}

/* Run every timer whose deadline has passed. A callback may arm or stop timers. */
static int pcomm_loop_expire(pcomm_loop *loop)
{
    int n = 0;
    int64_t now = pcomm__now_ns();
    while (loop->heap_count && loop->heap[0]->deadline <= now) {
        struct pcomm__timer *t = loop->heap[0];
        pcomm__timer_stop(loop, t);
        t->on_expire(t);
        n++;
    }
    return n;
}

static void pcomm_loop_on_timerfd(struct pcomm__watch *w, uint32_t revents)
{
    (void)revents;
    uint64_t ticks;
    pcomm_loop *loop = pcomm__container_of(w, pcomm_loop, tfd_watch);
    (void)!read(loop->tfd, &ticks, sizeof ticks); /* non-blocking; EAGAIN is fine */
    loop->tfd_deadline = PCOMM__NO_DEADLINE;      /* a fired timerfd is disarmed */
}

/* ---- watches ------------------------------------------------------------------------------- */

void pcomm__watch_init(struct pcomm__watch *w, void (*on_event)(struct pcomm__watch *, uint32_t))
{
    w->fd = -1;
    w->events = 0;
    w->on_event = on_event;
}

int pcomm__watch_start(pcomm_loop *loop, struct pcomm__watch *w, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    if (events == 0 && epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
        return -errno; /* added only to learn that fd can be polled; paused from the start */
    w->fd = fd;
    w->events = events;
    return 0;
}

/* A paused watch (events 0) is taken out of the epoll set altogether: epoll reports EPOLLHUP
 * and EPOLLERR even for a registration without events, which would wake a paused reader. */
int pcomm__watch_change(pcomm_loop *loop, struct pcomm__watch *w, uint32_t events)
{
    if (w->fd < 0 || w->events == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    int op = events == 0 ? EPOLL_CTL_DEL : w->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(loop->epfd, op, w->fd, &ev) < 0)
        return -errno;
    w->events = events;
    return 0;
}

void pcomm__watch_stop(pcomm_loop *loop, struct pcomm__watch *w)
{
    if (w->fd < 0)
        return;
    if (w->events != 0)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->fd = -1;
    w->events = 0;
}

/* ---- the loop ------------------------------------------------------------------------------ */

int pcomm_loop_new(pcomm_loop **loopp)
{
    if (!loopp)
        return -EINVAL;
    pcomm_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return -ENOMEM;
    loop->tfd = -1;
    loop->tfd_deadline = PCOMM__NO_DEADLINE;
    pcomm__watch_init(&loop->tfd_watch, pcomm_loop_on_timerfd);
    int r = 0;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        r = -errno;
    if (r == 0 && (loop->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) < 0)
        r = -errno;
    if (r == 0)
        r = pcomm__watch_start(loop, &loop->tfd_watch, loop->tfd, EPOLLIN);
    if (r < 0) {
        pcomm_loop_free(loop);
        return r;
    }
    *loopp = loop;
    return 0;
}

void pcomm_loop_free(pcomm_loop *loop)
{
    if (!loop)
        return;
    pcomm__close(loop->tfd);
    pcomm__close(loop->epfd);
    free(loop->heap);
    free(loop);
}

int pcomm_loop_fd(const pcomm_loop *loop)
{
    return loop ? loop->epfd : -EINVAL;
}

size_t pcomm_loop_active(const pcomm_loop *loop)
{
    return loop ? loop->active : 0;
}

void pcomm__loop_hold(pcomm_loop *loop)
{
    loop->active++;
}

void pcomm__loop_release(pcomm_loop *loop)
{
    loop->active--;
}

int pcomm_loop_step(pcomm_loop *loop, int timeout_ms)
{
    if (!loop)
        return -EINVAL;
    int r = pcomm_loop_arm_timerfd(loop);
    if (r < 0)
        return r;
    struct epoll_event events[64];
    int n = epoll_wait(loop->epfd, events, 64, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    pcomm__sigpipe_guard guard;
    pcomm__sigpipe_block(&guard);
    for (int i = 0; i < n; i++) {
        struct pcomm__watch *w = events[i].data.ptr;
        if (w->fd >= 0) /* an earlier callback of this batch may have stopped it */
            w->on_event(w, events[i].events);
    }
    int expired = pcomm_loop_expire(loop);
    pcomm__sigpipe_restore(&guard);
    r = pcomm_loop_arm_timerfd(loop);
    return r < 0 ? r : n + expired;
}

int pcomm_loop_run(pcomm_loop *loop, int timeout_ms)
{
    if (!loop)
        return -EINVAL;
    int64_t deadline = pcomm__deadline_after_ms(timeout_ms);
    while (loop->active > 0) {
        if (deadline != PCOMM__NO_DEADLINE && pcomm__now_ns() >= deadline)
            return -ETIMEDOUT;
        int r = pcomm_loop_step(loop, pcomm__ms_until(deadline));
        if (r < 0)
            return r;
    }
    return 0;
}
