/* pcomm/run.h - pcomm_job and pcomm_run(): run a command, feed its input, capture or forward its
 * output, with a timeout that always returns.
 *
 * A pcomm_job is one command plus its plumbing: where its stdin comes from (bytes in memory, a
 * descriptor, a file), where its stdout and stderr go (a spool that spills to disk, descriptors,
 * a line callback, any combination), and its time limits. pcomm_run() runs one job to the end
 * in a private loop; pcomm_job_start() puts a job on a shared pcomm_loop, so one thread can pump
 * hundreds of children at once. Either way every byte moves through one epoll loop: feeding stdin
 * while stdout and stderr are drained never deadlocks.
 *
 * How a job ends. The job is over when the child has ended and every captured stream reached
 * end-of-file. A timeout sends a signal to the child's process group (then SIGCONT, so a stopped
 * child sees it), and SIGKILL after a grace period. When the child has ended but a descendant
 * still holds its output open, the job waits at most the linger time, then stops reading, kills
 * the process group (when the child leads one) and marks the output as possibly truncated.
 *
 * Setters must be called before the job starts (-EBUSY afterwards). A job belongs to the thread
 * that drives its loop. Do not free a job from inside one of its own callbacks.
 *
 * Part of libpcomm. SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_RUN_H
#define PCOMM_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common.h"
#include "cmd.h"
#include "loop.h"
#include "pipeline.h"
#include "proc.h"
#include "spool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pcomm_job pcomm_job;

/* Stream numbers, as the child's descriptors. */
#define PCOMM_STDIN  0
#define PCOMM_STDOUT 1
#define PCOMM_STDERR 2

/* One line of a child's output, as handed to a line callback. */
typedef struct pcomm_line {
    int stream;     /* PCOMM_STDOUT or PCOMM_STDERR (merged output is PCOMM_STDOUT) */
    unsigned flags; /* PCOMM_LINE_* */
    const char
        *data; /* the bytes, including the final '\n' when there is one; not NUL-terminated */
    size_t len;
    int64_t time_ns; /* CLOCK_MONOTONIC time of the read that completed this piece */
    int stage;       /* the pipeline stage it comes from (0 for a single command) */
} pcomm_line;

/* pcomm_line.flags */
#define PCOMM_LINE_CONTINUED                                                                       \
    0x1                       /* cut at the line-length limit: the line goes on in the next piece */
#define PCOMM_LINE_NO_EOL 0x2 /* the last piece of the stream, which had no final '\n' */

/* A line callback. Return 0 to go on; a negative errno stops the job: its pipes are closed, the
 * child (and its group) killed and reaped, and the job ends with that error. The line's data is
 * valid only during the call. */
typedef int (*pcomm_line_fn)(void *userdata, const pcomm_line *line);

/* Something the job did or saw, for logs and traces (pcomm_job_on_event()). */
typedef struct pcomm_event {
    int kind;        /* PCOMM_EVENT_* */
    int reason;      /* PCOMM_EVENT_SIGNAL: PCOMM_REASON_* */
    int sig;         /* PCOMM_EVENT_SIGNAL: the signal sent */
    int stage;       /* PCOMM_EVENT_STAGE_END: which stage ended */
    int target;      /* PCOMM_EVENT_SIGNAL: the first stage's pid (its group when group == 1) */
    int group;       /* PCOMM_EVENT_SIGNAL: 1 when process groups were signalled */
    int64_t time_ns; /* CLOCK_MONOTONIC */
} pcomm_event;

#define PCOMM_EVENT_SIGNAL    1 /* the job signalled its stages */
#define PCOMM_EVENT_STAGE_END 2 /* a stage ended: see pcomm_job_stage_status() */
#define PCOMM_EVENT_LINGER    3 /* linger ran out: output cut, process groups killed */

#define PCOMM_REASON_TIMEOUT 1 /* the timeout's signal */
#define PCOMM_REASON_GRACE   2 /* SIGKILL after the grace period */
#define PCOMM_REASON_LINGER  3 /* SIGKILL to descendants still holding the output */
#define PCOMM_REASON_ABORT   4 /* SIGKILL after a callback or output error */
#define PCOMM_REASON_REQUEST 5 /* pcomm_job_kill() */

typedef void (*pcomm_event_fn)(void *userdata, const pcomm_event *event);

/* Called once when a job has ended (from the loop; see pcomm_job_on_done()). */
typedef void (*pcomm_done_fn)(void *userdata, pcomm_job *job);

/* Create a job for cmd, which is copied (the job sets the stdio of the descriptors it pumps on
 * its copy; other stdio choices of cmd stay as they are). Returns 0, -EINVAL or -ENOMEM. */
PCOMM_API int pcomm_job_new(pcomm_job **jobp, const pcomm_cmd *cmd);

/* Create a job that runs pipeline: its stages become the job's (pcomm_pipeline(3)); the job takes
 * the pipeline over on success (do not free it then), and the caller keeps it on failure. The
 * job's input feeds the first stage, its stdout sinks drain the last stage, its stderr settings
 * apply as pcomm_pipeline_set_stderr() says, its timeout and linger apply to all stages, and
 * every stage joins the first stage's process group. Returns 0, -EINVAL or -ENOMEM. */
PCOMM_API int pcomm_job_new_pipeline(pcomm_job **jobp, pcomm_pipeline *pipeline);

/* Free a job. A child still running is killed with its group and reaped; spools the job made
 * are freed (take them first with pcomm_job_take_output() to keep them). Accepts NULL. */
PCOMM_API void pcomm_job_free(pcomm_job *job);

/* ---- input (the child's stdin); without one, stdin is whatever cmd says (inherited) -------- */

/* Feed len bytes from data. They are not copied: data must stay valid until the job ends.
 * When cmd puts stdin on a pty (pcomm_cmd_stdio_pty()), the input goes through its master:
 * bytes the terminal would act on (^C, ^D, DEL, ...) are quoted so that they arrive as data,
 * the end is a VEOF the child's read() sees (two after a last line without '\n'), and a line
 * longer than the terminal's 4095-byte limit is refused: pcomm_job_start() returns PCOMM_ELINE
 * before anything runs (fd and file input are checked as they stream; a long line then ends
 * the job with PCOMM_ELINE). */
PCOMM_API int pcomm_job_input_bytes(pcomm_job *job, const void *data, size_t len);

/* Feed everything read from fd until its end-of-file. fd is not taken over and is never made
 * non-blocking (it may be a shared terminal); it is read only when ready. */
PCOMM_API int pcomm_job_input_fd(pcomm_job *job, int fd);

/* Feed the file at path, opened when the job starts (an open error is returned by the start). */
PCOMM_API int pcomm_job_input_file(pcomm_job *job, const char *path);

/* Pass the input (set with one of the calls above; -EINVAL at the start without one) through
 * filter, a decoder usually, on its way to the first stage: decompress a file into a command's
 * stdin as the parent reads it, inside the loop, with backpressure. The job takes filter over
 * on success (freed with the job; the caller keeps it on failure and may use the pointer until
 * the job is freed). A filter error (corrupt or truncated input, a cap) fails the job: the
 * stages are killed before the first one could see the end of its input. When the first stage
 * ends, the filter stops. pcomm_job_bytes(PCOMM_STDIN) then counts the filter's output. Returns
 * 0, -EINVAL or -EBUSY. */
PCOMM_API int pcomm_job_filter_input(pcomm_job *job, pcomm_filter *filter);

/* The input filter, or NULL. */
PCOMM_API pcomm_filter *pcomm_job_input_filter(const pcomm_job *job);

/* ---- output (stdout or stderr); any combination; without one, the stream is cmd's choice --- */

/* Capture the stream into a spool that keeps mem_threshold bytes in memory and spills the rest
 * to an unlinked temp file (see pcomm_spool(3)). The spool is owned by the job and available at
 * once from pcomm_job_output(), for instance to set a cap before the start. Returns 0, -EINVAL,
 * -EBUSY or -ENOMEM. */
PCOMM_API int pcomm_job_capture(pcomm_job *job, int stream, size_t mem_threshold);

/* Also write the stream to fd (a file, a terminal, a pipe), which is not taken over. Writes are
 * blocking and the descriptor is never made non-blocking: a slow fd slows the loop. Up to 4
 * descriptors per stream. Returns 0, -EINVAL, -EBUSY or -ENOSPC (too many). */
PCOMM_API int pcomm_job_forward(pcomm_job *job, int stream, int fd);

/* Deliver the stream line by line to fn (see pcomm_line). Lines longer than max_line bytes
 * (0 = the default, 64 KiB) arrive in pieces flagged PCOMM_LINE_CONTINUED. */
PCOMM_API int pcomm_job_on_line(pcomm_job *job, int stream, pcomm_line_fn fn, void *userdata,
                                size_t max_line);

/* Pass what the job stores of the stream - its capture spool and every forwarded descriptor -
 * through filter, an encoder usually (compress output into a spool or a file as it arrives);
 * line callbacks and pcomm_job_read() still see the bytes as the child wrote them. The job takes
 * filter over on success (freed with the job; the caller keeps it on failure, and may keep using
 * the pointer for pcomm_filter_message() and the counts until the job is freed). The same
 * filter given for both streams makes one stream of both, in the order the bytes arrive (one
 * compressed file for stdout and stderr). The filter runs inside the loop, at most 64 KiB of
 * input per loop turn, and its stream is finished (an encoder's trailer written) when the job
 * ends, unless the job failed; a filter error fails the job. Returns 0, -EINVAL or -EBUSY. */
PCOMM_API int pcomm_job_filter_output(pcomm_job *job, int stream, pcomm_filter *filter);

/* The stream's output filter, or NULL. */
PCOMM_API pcomm_filter *pcomm_job_output_filter(const pcomm_job *job, int stream);

/* Send stderr where stdout goes, through the same pipe, so their order is kept exactly (2>&1).
 * stderr's own settings are then ignored. With stdout on a pty, stderr goes on the same pty.
 * A pumped stream is a pipe unless cmd puts it on a pty, whose master is then read until EIO;
 * stdout and stderr on one pty are one stream, delivered as PCOMM_STDOUT. */
PCOMM_API int pcomm_job_merge_stderr(pcomm_job *job);

/* ---- time limits ---------------------------------------------------------------------------- */

/* After timeout_ms (0 = at once, negative = never, the default) send sig (0 means SIGTERM) to the
 * child's process group, followed by SIGCONT; if the child is still running grace_ms later send
 * SIGKILL (negative grace_ms = never; the default is 2000 ms, so a run with a timeout always
 * returns). Returns 0, -EINVAL or -EBUSY. */
PCOMM_API int pcomm_job_set_timeout(pcomm_job *job, int timeout_ms, int sig, int grace_ms);

/* How long to keep reading after the child has ended, when descendants still hold its output
 * open (default 2000 ms; negative = until end-of-file, however long). Returns 0 or -EBUSY. */
PCOMM_API int pcomm_job_set_linger(pcomm_job *job, int linger_ms);

/* Call fn when the job has ended (from pcomm_loop_step()). Returns 0 or -EBUSY. */
PCOMM_API int pcomm_job_on_done(pcomm_job *job, pcomm_done_fn fn, void *userdata);

/* Call fn for every signal the job sends, every stage that ends and a linger that runs out, as
 * they happen (from the loop, or from pcomm_job_kill()). Returns 0 or -EBUSY. */
PCOMM_API int pcomm_job_on_event(pcomm_job *job, pcomm_event_fn fn, void *userdata);

/* ---- running -------------------------------------------------------------------------------- */

/* Spawn the child and put the job on loop, or on a private loop of the job's when loop is NULL
 * (driven by pcomm_job_wait() and the read calls). Errors of the spawn (see pcomm_spawn(3)) and
 * of the input file are returned here, and nothing is left running. Returns 0 or a negative
 * error; -EBUSY if the job was started before. */
PCOMM_API int pcomm_job_start(pcomm_job *job, pcomm_loop *loop);

/* Drive the job's loop until the job has ended or timeout_ms passes (negative = no limit). Other
 * jobs on a shared loop make progress too. Returns 0, -ETIMEDOUT, -EINVAL (not started), or an
 * error of the loop. */
PCOMM_API int pcomm_job_wait(pcomm_job *job, int timeout_ms);

/* ---- reading a running job's stdout (libpipeline's read, peek and readline) ------------------ */

/* Keep the job's stdout for the calls below, which drive the job's loop until they can answer.
 * At most 1 MiB waits unread before the job stops reading the child (which then blocks), unless
 * a call needs more. Combines with the other stdout sinks. Before the start; returns 0, -EINVAL,
 * -EBUSY or -ENOMEM. */
PCOMM_API int pcomm_job_read_output(pcomm_job *job);

/* Read up to len bytes: waits until at least one byte is there or the output ended. Returns the
 * count, 0 at the end, or a negative error (-EINVAL when the job does not keep its output). */
PCOMM_API ssize_t pcomm_job_read(pcomm_job *job, void *buf, size_t len);

/* Wait until want bytes are there (or the output ended) and show everything unread without
 * consuming it: *datap stays valid until the next read call. Returns 0 or a negative error. */
PCOMM_API int pcomm_job_peek(pcomm_job *job, size_t want, const void **datap, size_t *lenp);

/* The next line, including its '\n' (the last line may lack one), however long: *linep stays
 * valid until the next read call. *lenp is 0 at the end. Returns 0 or a negative error. */
PCOMM_API int pcomm_job_readline(pcomm_job *job, const char **linep, size_t *lenp);

/* Run job to its end in a private loop: start it, pump everything, wait. Returns 0 when the
 * child ran and ended (whatever its status: see pcomm_job_status()); a spawn error; the error of
 * a callback or of an output that could not be written (the child was then killed); -ECHILD when
 * another party reaped the child (its status is unknown, its output is still available). */
PCOMM_API int pcomm_run(pcomm_job *job);

/* ---- results -------------------------------------------------------------------------------- */

/* pcomm_job_flags() bits */
#define PCOMM_JOB_DONE        0x1  /* the job has ended */
#define PCOMM_JOB_TIMED_OUT   0x2  /* the timeout fired and its signal was sent */
#define PCOMM_JOB_KILLED      0x4  /* SIGKILL was sent after the grace period */
#define PCOMM_JOB_TRUNCATED   0x8  /* linger ran out: output may be incomplete */
#define PCOMM_JOB_INPUT_SHORT 0x10 /* the child stopped reading before all input was written */

PCOMM_API unsigned pcomm_job_flags(const pcomm_job *job);

/* The child's status (see pcomm_proc(3)); for a pipeline, the last stage's. how == PCOMM_RUNNING
 * until it ended. Returns 0 or -EINVAL. */
PCOMM_API int pcomm_job_status(const pcomm_job *job, pcomm_status *st);

/* The job's exit status as a shell would report it: for a single command its exit code or 128 +
 * signal; for a pipeline the aggregate under its rule (pcomm_pipeline_set_rule()). -1 before the
 * job ended or when the deciding status is unknown. */
PCOMM_API int pcomm_job_exit_code(const pcomm_job *job);

/* The number of stages (1 for a single command), and stage i's status, child, command (as the
 * job runs it, with its stdio set), filter, and separately captured stderr
 * (PCOMM_STDERR_SEPARATE; NULL otherwise). A filter stage has no child and no command, and a
 * command stage no filter: NULL. Out-of-range i gives -EINVAL or NULL. */
PCOMM_API size_t pcomm_job_stage_count(const pcomm_job *job);
PCOMM_API int pcomm_job_stage_status(const pcomm_job *job, size_t i, pcomm_status *st);
PCOMM_API pcomm_proc *pcomm_job_stage_proc(const pcomm_job *job, size_t i);
PCOMM_API const pcomm_cmd *pcomm_job_stage_cmd(const pcomm_job *job, size_t i);
PCOMM_API pcomm_filter *pcomm_job_stage_filter(const pcomm_job *job, size_t i);
PCOMM_API pcomm_spool *pcomm_job_stage_output(const pcomm_job *job, size_t i);

/* After pcomm_job_start() failed to spawn a stage: its index (0 for a single command), so that
 * the message can name the right program. */
PCOMM_API size_t pcomm_job_failed_stage(const pcomm_job *job);

/* The error that ended the job early (a callback's, a failed write to an output, or a filter's:
 * see pcomm_filter_message() for why), or 0. */
PCOMM_API int pcomm_job_error(const pcomm_job *job);

/* Bytes written to the child's stdin (PCOMM_STDIN; with a filter first, the input bytes it
 * read) or read from its stdout or stderr. */
PCOMM_API uint64_t pcomm_job_bytes(const pcomm_job *job, int stream);

/* The capture spool of a stream, owned by the job, or NULL when the stream is not captured. */
PCOMM_API pcomm_spool *pcomm_job_output(const pcomm_job *job, int stream);

/* Take the capture spool of a stream: the caller owns it and frees it with pcomm_spool_free().
 * Returns NULL when there is none (or it was taken). Only after the job ended. */
PCOMM_API pcomm_spool *pcomm_job_take_output(pcomm_job *job, int stream);

/* The running or ended child (a pipeline's last command stage), owned by the job; NULL before
 * the start. */
PCOMM_API pcomm_proc *pcomm_job_proc(const pcomm_job *job);

/* Send sig to the child as pcomm_proc_kill() does (the process group by default; every stage of
 * a pipeline). For forwarding signals a host received. Returns 0, -EINVAL, -ESRCH before the
 * start, or pcomm_proc_kill()'s errors. */
PCOMM_API int pcomm_job_kill(pcomm_job *job, int sig);

#ifdef __cplusplus
}
#endif

#endif /* PCOMM_RUN_H */
