/* lib/pump.c - filter pumps: see pump.h. SPDX-License-Identifier: MIT */
#include "pump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "sys.h"

enum {
    PCOMM_PUMP_BUF = 256 * 1024, /* one read of the source; the most one filter call writes */
    PCOMM_PUMP_ROUNDS = 8        /* steps per event before yielding to other descriptors */
};

int pcomm__pump_fd_kind(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? PCOMM__PUMP_FILE : PCOMM__PUMP_FD;
}

static void pcomm_pump_close_fds(struct pcomm__pump *p)
{
    pcomm__closep(&p->sink_fd); /* the consumer sees EOF */
    if (p->src_owned)
        pcomm__closep(&p->src_fd); /* a producer still writing sees EPIPE */
}

static void pcomm_pump_stop(struct pcomm__pump *p)
{
    p->ended = true;
    pcomm__watch_stop(p->loop, &p->src_watch);
    pcomm__watch_stop(p->loop, &p->sink_watch);
}

/* After an error the owner hears of it before the consumer sees EOF: a job kills the stages
 * after the filter first, so that none of them takes a broken-off stream for a whole one. */
static void pcomm_pump_end(struct pcomm__pump *p, int error, bool broken)
{
    if (p->ended)
        return;
    p->error = error;
    p->broken = broken;
    pcomm_pump_stop(p);
    if (!error)
        pcomm_pump_close_fds(p);
    p->on_end(p);
    pcomm_pump_close_fds(p);
}

/* Wait for input (the source's watch) or for the sink (room, or just the loop's next turn). */
static void pcomm_pump_wait(struct pcomm__pump *p, bool for_input)
{
    int r = 0;
    if (pcomm__watch_active(&p->src_watch))
        r = pcomm__watch_change(p->loop, &p->src_watch, for_input ? EPOLLIN : 0);
    if (r == 0)
        r = pcomm__watch_change(p->loop, &p->sink_watch, for_input ? 0 : EPOLLOUT);
    if (r < 0)
        pcomm_pump_end(p, r, false);
}

/* The input not yet given to the filter. */
static const unsigned char *pcomm_pump_input(const struct pcomm__pump *p, size_t *len)
{
    if (p->src_kind == PCOMM__PUMP_MEM) {
        *len = p->data_len - p->in_off;
        return p->data + p->in_off;
    }
    *len = p->in_len - p->in_off;
    return p->in + p->in_off;
}

/* Read the next piece of the source: bytes read, 0 at its end, -EAGAIN, or an error. */
static ssize_t pcomm_pump_read(struct pcomm__pump *p)
{
    if (!p->in && !(p->in = pcomm__alloc_io(PCOMM_PUMP_BUF)))
        return -ENOMEM;
    ssize_t n = pcomm__read(p->src_fd, p->in, PCOMM_PUMP_BUF);
    if (n == -EIO && p->src_kind == PCOMM__PUMP_FD)
        n = 0; /* a pty master whose slave side has closed */
    if (n >= 0) {
        p->in_off = 0;
        p->in_len = (size_t)n;
        p->bytes_in += (uint64_t)n;
        p->src_eof = n == 0;
    }
    return n;
}

/* Run the filter over the pending input into the (empty) output buffer. */
static int pcomm_pump_filter(struct pcomm__pump *p)
{
    if (!p->out && !(p->out = pcomm__alloc_io(PCOMM_PUMP_BUF)))
        return -ENOMEM;
    size_t in_len, out_len = PCOMM_PUMP_BUF;
    const unsigned char *in = pcomm_pump_input(p, &in_len);
    int r = pcomm_filter_process(p->filter, in, &in_len, p->out, &out_len,
                                 p->src_eof ? PCOMM_FILTER_FINISH : PCOMM_FILTER_RUN);
    if (r < 0)
        return r;
    p->in_off += in_len;
    if (p->src_kind == PCOMM__PUMP_MEM)
        p->bytes_in += in_len;
    p->out_off = 0;
    p->out_len = out_len;
    p->finished = r == PCOMM_FILTER_END;
    return 0;
}

/* One step: true when it made progress, false when the pump now waits or has ended. */
static bool pcomm_pump_step(struct pcomm__pump *p)
{
    if (p->out_off < p->out_len) {
        ssize_t w = pcomm__write(p->sink_fd, p->out + p->out_off, p->out_len - p->out_off);
        if (w == -EAGAIN) {
            pcomm_pump_wait(p, false);
            return false;
        }
        if (w < 0) { /* EPIPE: the consumer stopped reading, as a process would see it */
            pcomm_pump_end(p, w == -EPIPE ? 0 : (int)w, w == -EPIPE);
            return false;
        }
        p->out_off += (size_t)w;
        p->bytes_out += (uint64_t)w;
        return true;
    }
    if (p->finished) {
        pcomm_pump_end(p, 0, false);
        return false;
    }
    size_t pending;
    pcomm_pump_input(p, &pending);
    if (pending == 0 && !p->src_eof) {
        /* A descriptor we do not own the blocking mode of is read only when epoll said so. */
        if (p->src_kind == PCOMM__PUMP_FD && !p->src_nonblock && !p->src_ready) {
            pcomm_pump_wait(p, true);
            return false;
        }
        p->src_ready = false;
        ssize_t n = pcomm_pump_read(p);
        if (n == -EAGAIN)
            pcomm_pump_wait(p, true);
        else if (n < 0)
            pcomm_pump_end(p, (int)n, false);
        return n >= 0;
    }
    int r = pcomm_pump_filter(p);
    if (r < 0)
        pcomm_pump_end(p, r, false);
    return r == 0;
}

static void pcomm_pump_run(struct pcomm__pump *p)
{
    for (int round = 0; round < PCOMM_PUMP_ROUNDS; round++)
        if (!pcomm_pump_step(p))
            return;
    pcomm_pump_wait(p, false); /* more to do: come back on the loop's next turn */
}

static void pcomm_pump_on_src(struct pcomm__watch *w, uint32_t revents)
{
    (void)revents;
    struct pcomm__pump *p = pcomm__container_of(w, struct pcomm__pump, src_watch);
    p->src_ready = true;
    pcomm_pump_run(p);
}

static void pcomm_pump_on_sink(struct pcomm__watch *w, uint32_t revents)
{
    (void)revents;
    pcomm_pump_run(pcomm__container_of(w, struct pcomm__pump, sink_watch));
}

int pcomm__pump_open(struct pcomm__pump *p, pcomm_loop *loop, pcomm_filter *filter, int src_kind,
                     const void *data, size_t len, int src_fd, bool src_owned, int sink_fd,
                     void (*on_end)(struct pcomm__pump *))
{
    *p = (struct pcomm__pump){.loop = loop,
                              .filter = filter,
                              .src_kind = src_kind,
                              .data = data,
                              .data_len = len,
                              .src_fd = src_fd,
                              .src_owned = src_owned,
                              .src_eof = src_kind == PCOMM__PUMP_MEM, /* all of it is there */
                              .sink_fd = sink_fd,
                              .on_end = on_end};
    pcomm__watch_init(&p->src_watch, pcomm_pump_on_src);
    pcomm__watch_init(&p->sink_watch, pcomm_pump_on_sink);
    int r = pcomm__set_nonblock(sink_fd, true);
    if (r == 0 && src_kind == PCOMM__PUMP_FD) {
        int fl = fcntl(src_fd, F_GETFL);
        p->src_nonblock = fl >= 0 && (fl & O_NONBLOCK);
        r = pcomm__watch_start(loop, &p->src_watch, src_fd, EPOLLIN);
        if (r == -EPERM) { /* not pollable (/dev/null): always ready, read in turn like a file */
            p->src_kind = PCOMM__PUMP_FILE;
            r = 0;
        }
    }
    if (r == 0)
        r = pcomm__watch_start(loop, &p->sink_watch, sink_fd,
                               p->src_kind == PCOMM__PUMP_FD ? 0 : EPOLLOUT);
    if (r < 0) { /* nothing to report: the caller handles the error */
        pcomm_pump_stop(p);
        pcomm_pump_close_fds(p);
    }
    return r;
}

void pcomm__pump_close(struct pcomm__pump *p)
{
    p->cut = !p->ended;
    pcomm_pump_end(p, 0, false);
}

void pcomm__pump_discard(struct pcomm__pump *p)
{
    if (!p->ended)
        pcomm_pump_stop(p);
    pcomm_pump_close_fds(p);
}

bool pcomm__pump_short(const struct pcomm__pump *p)
{
    size_t pending;
    pcomm_pump_input(p, &pending);
    return p->ended && (pending > 0 || !p->src_eof);
}

bool pcomm__pump_waits_for_input(const struct pcomm__pump *p)
{
    return !p->ended && pcomm__watch_active(&p->src_watch) && p->src_watch.events == EPOLLIN;
}

void pcomm__pump_free(struct pcomm__pump *p)
{
    free(p->in);
    free(p->out);
    p->in = p->out = NULL;
}
