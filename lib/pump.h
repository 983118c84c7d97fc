/* lib/pump.h - a filter pump: a pcomm_filter inside the loop, between a source and a pipe.
 *
 * A pump reads its source (memory, a regular file, or a pollable descriptor), runs the bytes
 * through a filter, and writes what comes out into a non-blocking pipe. It holds at most one
 * buffer of input and one of output: it reads only when the filter has taken everything read
 * before, and runs the filter only when everything it produced has been written, so a slow
 * consumer stops the source and a slow codec slows its own stream. Each event does a bounded
 * amount of work, so the loop's other descriptors keep being served.
 *
 * Exactly one of the pump's watches is active at a time: the source's, when it waits for input,
 * or the sink's, when it waits for room - or when it has work and only yields to the loop.
 *
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_PUMP_H
#define PCOMM_PUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop_private.h"
#include "pcomm/filter.h"

enum pcomm__pump_src { PCOMM__PUMP_MEM = 1, PCOMM__PUMP_FILE, PCOMM__PUMP_FD };

struct pcomm__pump {
    struct pcomm__watch src_watch, sink_watch;
    pcomm_loop *loop;
    pcomm_filter *filter; /* not owned */
    int src_kind;
    const unsigned char *data; /* PCOMM__PUMP_MEM: the whole input */
    size_t data_len;
    int src_fd; /* FILE / FD */
    bool src_owned, src_eof;
    bool src_nonblock; /* PCOMM__PUMP_FD: O_NONBLOCK, so a read may be tried at any time */
    bool src_ready;    /* PCOMM__PUMP_FD: epoll said readable since the last read */
    int sink_fd;       /* owned, non-blocking */
    unsigned char *in, *out;
    size_t in_off, in_len, out_off, out_len;
    uint64_t bytes_in, bytes_out; /* read from the source; written to the sink */
    bool finished;                /* the filter said PCOMM_FILTER_END */
    bool ended;
    bool broken; /* the sink's reader went away (EPIPE) before the end */
    bool cut;    /* stopped by pcomm__pump_close() before the end */
    int error;   /* the filter's error or the source's read error; 0 otherwise */
    void (*on_end)(struct pcomm__pump *p);
};

/* Start pumping from data (len bytes, PCOMM__PUMP_MEM; kept by the caller until the end) or from
 * src_fd (PCOMM__PUMP_FILE: a regular file, read in turn; PCOMM__PUMP_FD: read when epoll says it
 * is readable, never made non-blocking; EIO reads as the end, as a pty master reports it) into
 * sink_fd, a pipe's write end the pump takes over. src_fd is closed at the end when src_owned.
 * on_end is called once, when the filter's stream has ended and been written, or on an error,
 * EPIPE, or pcomm__pump_close(). Returns 0 or a negative errno (the pump then owns nothing). */
int pcomm__pump_open(struct pcomm__pump *p, pcomm_loop *loop, pcomm_filter *filter, int src_kind,
                     const void *data, size_t len, int src_fd, bool src_owned, int sink_fd,
                     void (*on_end)(struct pcomm__pump *));

/* Stop at once (the job is aborted or freed): close both ends; on_end is called unless the pump
 * had already ended. */
void pcomm__pump_close(struct pcomm__pump *p);

/* Stop and close both ends without calling on_end (a job freed before its end). */
void pcomm__pump_discard(struct pcomm__pump *p);

/* Whether the pump ended before reading (MEM: giving the filter) all of its source. */
bool pcomm__pump_short(const struct pcomm__pump *p);

/* Whether the pump waits for its source (a pipe or pty another process writes to). */
bool pcomm__pump_waits_for_input(const struct pcomm__pump *p);

/* Release the buffers (after the end). */
void pcomm__pump_free(struct pcomm__pump *p);

/* The source kind of descriptor fd: PCOMM__PUMP_FILE for a regular file, else PCOMM__PUMP_FD. */
int pcomm__pump_fd_kind(int fd);

#endif
