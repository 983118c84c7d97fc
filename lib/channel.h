/* lib/channel.h - channels: the loop's byte movers.
 *
 * An output channel drains one parent pipe end (a child's stdout or stderr) into its sinks: a
 * spool, descriptors, a line splitter. With the spool as the only sink the bytes are read
 * straight into the spool (pcomm_spool_fill); with one descriptor as the only sink they are
 * spliced; otherwise they are read into the channel's buffer once and handed to every sink.
 *
 * An input channel feeds a child's stdin (a non-blocking pipe end it owns) from memory, from a
 * regular file (spliced) or from a pollable descriptor (read only when ready, never made
 * non-blocking). EPIPE ends it quietly; SIGPIPE is blocked by the loop step.
 *
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_CHANNEL_H
#define PCOMM_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lines.h"
#include "loop_private.h"
#include "pcomm/filter.h"
#include "pcomm/spool.h"

#define PCOMM__MAX_FORWARD 4

/* Where an output stream goes (configured on the job, used by its channel). */
/* A buffer read by the job's owner while the job runs (pcomm_job_read and friends). The channel
 * stops reading its pipe once limit bytes wait here, unless a request needs more (want), so a
 * child that outruns its reader is held back instead of filling memory. */
struct pcomm__reader {
    char *buf;
    size_t start, len, cap; /* the unread bytes are buf[start .. start + len) */
    size_t limit;
    size_t want; /* bytes the pending request waits for, 0 when none */
    bool eof;
};

/* A filter (an encoder, usually) between a stream and its spool and descriptors
 * (pcomm_job_filter_output()); the reader and the line callback see the bytes unfiltered. One
 * may serve both streams of a job (one compressed file for stdout and stderr). */
struct pcomm__encode {
    pcomm_filter *filter; /* owned by the job */
    unsigned char *buf;
    bool finished;
};

struct pcomm__sinks {
    struct pcomm__reader *reader; /* owned by the job */
    pcomm_spool *spool;           /* owned by the job */
    struct pcomm__encode *encode; /* owned by the job; NULL when the bytes are stored as read */
    int fds[PCOMM__MAX_FORWARD];  /* not owned */
    size_t fd_count;
    pcomm_line_fn line_fn;
    void *line_userdata;
    size_t max_line;
};

static inline bool pcomm__sinks_any(const struct pcomm__sinks *s)
{
    return s->reader || s->spool || s->fd_count || s->line_fn;
}

/* Store n bytes of the stream: into the spool and every descriptor, through the encoder when
 * there is one. Returns 0 or the first error. */
int pcomm__sinks_store(const struct pcomm__sinks *s, const void *data, size_t n);

/* End the encoder's stream: its last bytes (a trailer) go to the spool and the descriptors.
 * Harmless without an encoder or when already done. Returns 0 or the first error. */
int pcomm__sinks_finish(const struct pcomm__sinks *s);

struct pcomm__outchan {
    struct pcomm__watch watch;
    pcomm_loop *loop;
    int fd; /* the parent's read end, owned; -1 once closed */
    int stream;
    int path;     /* fill the spool, splice to one file, or read and copy to every sink */
    size_t chunk; /* the most one read takes; smaller in front of an encoder */
    bool tty;     /* a pty master: reads return ~4 KiB at most, and end with EIO */
    const struct pcomm__sinks *sinks;
    struct pcomm__lines lines;
    char *buf;
    uint64_t bytes;
    int error; /* a sink's error that ended the channel, or 0 */
    bool ended;
    bool paused;                               /* its reader is full */
    void (*on_end)(struct pcomm__outchan *ch); /* EOF, error or close */
};

/* Set up a channel around fd (taken over: made non-blocking, its pipe widened). */
int pcomm__outchan_open(struct pcomm__outchan *ch, pcomm_loop *loop, int fd, int stream,
                        size_t stage, const struct pcomm__sinks *sinks,
                        void (*on_end)(struct pcomm__outchan *));

/* Stop reading and close (linger ran out, or the job is aborted); flushes a partial line when
 * flush_lines. Calls on_end unless the channel had already ended. */
void pcomm__outchan_close(struct pcomm__outchan *ch, bool flush_lines);

/* Resume reading a channel its reader paused, once the reader has room (or wants more). */
void pcomm__outchan_resume(struct pcomm__outchan *ch);

/* Stop and close without any notification or flush (a start unwinding, a job freed early). */
void pcomm__outchan_discard(struct pcomm__outchan *ch);

/* Release memory (after close). */
void pcomm__outchan_free(struct pcomm__outchan *ch);

enum pcomm__in_kind { PCOMM__IN_NONE = 0, PCOMM__IN_BYTES, PCOMM__IN_FD, PCOMM__IN_FILE };

struct pcomm__inchan {
    struct pcomm__watch sink_watch; /* the child's stdin, writable */
    struct pcomm__watch src_watch;  /* a pollable source, readable */
    pcomm_loop *loop;
    int sink_fd; /* owned, non-blocking */
    int kind;
    const char *data; /* BYTES */
    size_t len, off;
    int src_fd; /* FD / FILE */
    bool src_owned, src_is_file, src_eof;
    char *buf; /* FD: bytes read but not yet written */
    size_t buf_len, buf_off;
    uint64_t bytes;
    int error;   /* a read error of the source, PCOMM_ELINE, or 0 */
    bool ended;  /* stdin closed: all written, EPIPE, or abandoned */
    bool short_; /* ended before every input byte was written */
    /* A pty master as the sink: bytes are encoded into tty_buf first (special characters quoted
     * with VLNEXT, lines checked against the terminal's limit), and the input ends with VEOF. */
    bool tty;
    bool eof_queued;
    size_t line_len; /* bytes since the last '\n' */
    char *tty_buf;
    size_t tty_len, tty_off;
    void (*on_end)(struct pcomm__inchan *ch); /* optional */
};

/* Start feeding. src_fd (FD/FILE) is owned when src_owned. With tty, sink_fd is a pty master:
 * see pcomm_job_input_bytes(3) for what that changes. on_end (may be NULL) is called once when
 * the channel ends. Returns 0 or a negative errno. */
int pcomm__inchan_open(struct pcomm__inchan *ch, pcomm_loop *loop, int sink_fd, int kind,
                       const void *data, size_t len, int src_fd, bool src_owned, bool tty,
                       void (*on_end)(struct pcomm__inchan *));

/* PCOMM_ELINE when data holds a line (or a last piece without '\n') longer than a canonical
 * terminal takes, else 0. */
int pcomm__tty_check_lines(const void *data, size_t len);

/* Stop feeding and close stdin (the child ended, or the job is aborted). */
void pcomm__inchan_close(struct pcomm__inchan *ch);

/* Widen a pipe we pump to 1 MiB (perf.md: 2.4x across CPUs); failures are harmless. */
void pcomm__pipe_widen(int fd);

#endif
