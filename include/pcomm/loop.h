/* pcomm/loop.h - pcomm_loop: one event loop that moves the bytes of many children.
 *
 * A loop multiplexes pidfds, pipe descriptors and CLOCK_MONOTONIC deadlines with epoll. Jobs
 * (pcomm/run.h) are started on a loop and make progress only while it is driven, either by
 * pcomm_loop_run() or, for a host with its own event loop, by polling pcomm_loop_fd() for
 * readability and calling pcomm_loop_step(loop, 0) when it is ready. Deadlines are part of the
 * descriptor (a timerfd inside the epoll set), so the host needs no timeout of its own.
 *
 * A loop belongs to one thread at a time; several loops in several threads are independent.
 * While a step runs, SIGPIPE is blocked in the calling thread only, and a SIGPIPE raised by a
 * write to a child that stopped reading is consumed: the write fails with EPIPE instead of
 * killing the host. No process-wide state is touched.
 *
 * Part of libpcomm. SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_LOOP_H
#define PCOMM_LOOP_H

#include <stddef.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pcomm_loop pcomm_loop;

/* Create a loop. Returns 0, -EINVAL for NULL, -ENOMEM, or the error of epoll_create1 or
 * timerfd_create (-EMFILE ...). */
PCOMM_API int pcomm_loop_new(pcomm_loop **loopp);

/* Free a loop. Every job started on it must have been freed first (the jobs hold references to
 * the loop); freeing a loop that still has jobs is a bug that this call does not detect.
 * Accepts NULL. */
PCOMM_API void pcomm_loop_free(pcomm_loop *loop);

/* The loop's epoll descriptor: it polls readable when pcomm_loop_step() has work, including an
 * expired deadline. Owned by the loop. Returns the descriptor or -EINVAL. */
PCOMM_API int pcomm_loop_fd(const pcomm_loop *loop);

/* Wait up to timeout_ms (0 = do not wait, negative = until something happens) for events, then
 * handle every ready event and expired deadline. Job callbacks run from here. Returns the number
 * of events and deadlines handled (0 after a timeout or an interrupted wait), or a negative errno
 * for a failure of the loop itself. */
PCOMM_API int pcomm_loop_step(pcomm_loop *loop, int timeout_ms);

/* Step until no job on the loop is active (every started job has ended), or until timeout_ms
 * passes (negative = no limit). EINTR never ends it early: the time left is recomputed.
 * Returns 0 when idle, -ETIMEDOUT, or a negative errno from pcomm_loop_step(). */
PCOMM_API int pcomm_loop_run(pcomm_loop *loop, int timeout_ms);

/* The number of jobs started on the loop that have not ended yet. Returns 0 for NULL. */
PCOMM_API size_t pcomm_loop_active(const pcomm_loop *loop);

#ifdef __cplusplus
}
#endif

#endif /* PCOMM_LOOP_H */
