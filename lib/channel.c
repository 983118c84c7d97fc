/* lib/channel.c - output and input channels: see channel.h. SPDX-License-Identifier: MIT */
#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "pcomm/error.h"
#include "pty.h"
#include "sys.h"

enum {
    PCOMM_CHUNK = 256 * 1024,      /* one read (a splice to a file asks for a whole pipe) */
    PCOMM_ROUNDS = 4,              /* chunks per event before yielding to other descriptors */
    PCOMM_PIPE_SIZE = 1024 * 1024, /* perf.md PC2 */
    PCOMM_TTY_ROUNDS = 64,         /* ~4 KiB reads per event on a pty master */
    /* In front of an encoder, one read of this per event: xz -6 takes ~20 ms over it, so the
     * loop's other streams keep being served while a slow codec holds back its own. */
    PCOMM_ENCODE_CHUNK = 64 * 1024
};

void pcomm__pipe_widen(int fd)
{
    (void)fcntl(fd, F_SETPIPE_SZ, PCOMM_PIPE_SIZE); /* EPERM past the user's quota: keep it */
}

static bool pcomm_is_regular(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- output channels ----------------------------------------------------------------------- */

static bool pcomm_only_spool(const struct pcomm__sinks *s)
{
    return s->spool && !s->fd_count && !s->line_fn && !s->encode;
}

static bool pcomm_only_one_file(const struct pcomm__sinks *s)
{
    return !s->spool && s->fd_count == 1 && !s->line_fn && !s->encode &&
           pcomm_is_regular(s->fds[0]);
}

static int pcomm_sinks_store_raw(const struct pcomm__sinks *s, const void *data, size_t n)
{
    int r = s->spool ? pcomm_spool_write(s->spool, data, n) : 0;
    for (size_t i = 0; r == 0 && i < s->fd_count; i++)
        r = pcomm__write_all_wait(s->fds[i], data, n);
    return r;
}

enum { PCOMM_ENCODE_BUF = 256 * 1024 };

/* Run the encoder over n bytes (mode RUN) or to the end of its stream (FINISH, n = 0), storing
 * what it produces. */
static int pcomm_sinks_encode(const struct pcomm__sinks *s, const unsigned char *p, size_t n,
                              int mode)
{
    struct pcomm__encode *e = s->encode;
    if (!e->buf && !(e->buf = malloc(PCOMM_ENCODE_BUF)))
        return -ENOMEM;
    for (;;) {
        size_t in = n, out = PCOMM_ENCODE_BUF;
        int r = pcomm_filter_process(e->filter, p, &in, e->buf, &out, mode);
        if (r < 0)
            return r;
        p += in;
        n -= in;
        if (out > 0 && (r = pcomm_sinks_store_raw(s, e->buf, out)) < 0)
            return r;
        if (mode == PCOMM_FILTER_FINISH ? r == PCOMM_FILTER_END : n == 0 && out < PCOMM_ENCODE_BUF)
            return 0;
    }
}

int pcomm__sinks_store(const struct pcomm__sinks *s, const void *data, size_t n)
{
    if (!s->encode)
        return pcomm_sinks_store_raw(s, data, n);
    return n ? pcomm_sinks_encode(s, data, n, PCOMM_FILTER_RUN) : 0;
}

int pcomm__sinks_finish(const struct pcomm__sinks *s)
{
    if (!s->encode || s->encode->finished)
        return 0;
    s->encode->finished = true;
    return pcomm_sinks_encode(s, NULL, 0, PCOMM_FILTER_FINISH);
}

/* How a channel moves bytes: decided once at open, not per chunk. */
enum { PCOMM_PATH_COPY = 0, PCOMM_PATH_FILL, PCOMM_PATH_SPLICE };

static bool pcomm_reader_full(const struct pcomm__reader *rd)
{
    return rd->len >= (rd->want > rd->limit ? rd->want : rd->limit);
}

static int pcomm_reader_append(struct pcomm__reader *rd, const char *data, size_t n)
{
    if (rd->start > 0 && rd->start + rd->len + n > rd->cap) { /* reuse the consumed front */
        memmove(rd->buf, rd->buf + rd->start, rd->len);
        rd->start = 0;
    }
    int r = pcomm__grow((void **)&rd->buf, &rd->cap, rd->start + rd->len + n, 1);
    if (r < 0)
        return r;
    memcpy(rd->buf + rd->start + rd->len, data, n);
    rd->len += n;
    return 0;
}

/* Hand n bytes just read to every sink. */
static int pcomm_outchan_deliver(struct pcomm__outchan *ch, const char *data, size_t n)
{
    const struct pcomm__sinks *s = ch->sinks;
    int r = s->reader ? pcomm_reader_append(s->reader, data, n) : 0;
    if (r == 0)
        r = pcomm__sinks_store(s, data, n);
    if (r == 0 && s->line_fn)
        r = pcomm__lines_feed(&ch->lines, ch->stream, data, n, pcomm__now_ns());
    return r;
}

/* Move one chunk from the pipe to the sinks: bytes moved, 0 at EOF, -EAGAIN, or an error. */
static ssize_t pcomm_outchan_pull(struct pcomm__outchan *ch)
{
    const struct pcomm__sinks *s = ch->sinks;
    if (ch->path == PCOMM_PATH_FILL)
        return pcomm_spool_fill(s->spool, ch->fd, ch->chunk);
    if (ch->path == PCOMM_PATH_SPLICE) {
        ssize_t n = splice(ch->fd, NULL, s->fds[0], NULL, PCOMM_PIPE_SIZE,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n >= 0 || (errno != EINVAL && errno != EINTR))
            return n >= 0 ? n : -errno;
        ch->path = PCOMM_PATH_COPY; /* this file system (or a tty) cannot splice: copy */
    }
    if (!ch->buf && !(ch->buf = pcomm__alloc_io(PCOMM_CHUNK)))
        return -ENOMEM;
    ssize_t n = pcomm__read(ch->fd, ch->buf, ch->chunk);
    if (n > 0) {
        int r = pcomm_outchan_deliver(ch, ch->buf, (size_t)n);
        if (r < 0) {
            ch->error = r;
            return r;
        }
    }
    return n;
}

static void pcomm_outchan_end(struct pcomm__outchan *ch, bool flush_lines)
{
    if (ch->ended)
        return;
    pcomm__watch_stop(ch->loop, &ch->watch);
    pcomm__closep(&ch->fd);
    if (flush_lines && ch->sinks->line_fn && ch->error == 0) {
        int r = pcomm__lines_flush(&ch->lines, ch->stream, pcomm__now_ns());
        if (r < 0)
            ch->error = r;
    }
    ch->ended = true;
    if (ch->sinks->reader)
        ch->sinks->reader->eof = true;
    ch->on_end(ch);
}

static void pcomm_outchan_on_event(struct pcomm__watch *w, uint32_t revents)
{
    (void)revents;
    struct pcomm__outchan *ch = pcomm__container_of(w, struct pcomm__outchan, watch);
    int rounds = ch->tty ? PCOMM_TTY_ROUNDS : ch->sinks->encode ? 1 : PCOMM_ROUNDS;
    for (int round = 0; round < rounds; round++) {
        ssize_t n = pcomm_outchan_pull(ch);
        if (n == -EAGAIN || n == -EINTR)
            return;
        if (n <= 0) {
            /* EOF; EIO is how a pty master reports the end of its session */
            if (n < 0 && n != -EIO && ch->error == 0)
                ch->error = (int)n;
            pcomm_outchan_end(ch, ch->error == 0);
            return;
        }
        ch->bytes += (uint64_t)n;
        if (ch->sinks->reader && pcomm_reader_full(ch->sinks->reader)) {
            ch->paused = pcomm__watch_change(ch->loop, &ch->watch, 0) == 0;
            return;
        }
        /* A pipe read short of the chunk is most likely drained: skip the read that would say
         * EAGAIN. A pty returns at most about 4 KiB per read however much is queued (pty.md
         * §4), so read on: that saves an epoll round trip per 4 KiB. */
        if ((size_t)n < ch->chunk && !ch->tty)
            return;
    }
}

int pcomm__outchan_open(struct pcomm__outchan *ch, pcomm_loop *loop, int fd, int stream,
                        size_t stage, const struct pcomm__sinks *sinks,
                        void (*on_end)(struct pcomm__outchan *))
{
    ch->loop = loop;
    ch->fd = fd;
    ch->stream = stream;
    ch->sinks = sinks;
    ch->buf = NULL;
    ch->bytes = 0;
    ch->error = 0;
    ch->ended = false;
    ch->paused = false;
    ch->on_end = on_end;
    ch->path = pcomm_only_spool(sinks)      ? PCOMM_PATH_FILL
               : pcomm_only_one_file(sinks) ? PCOMM_PATH_SPLICE
                                            : PCOMM_PATH_COPY;
    ch->chunk = sinks->encode ? PCOMM_ENCODE_CHUNK : PCOMM_CHUNK;
    pcomm__lines_init(&ch->lines, sinks->line_fn, sinks->line_userdata, sinks->max_line);
    ch->lines.stage = (int)stage;
    pcomm__watch_init(&ch->watch, pcomm_outchan_on_event);
    ch->tty = isatty(fd) == 1;
    int r = pcomm__set_nonblock(fd, true);
    if (r < 0)
        return r;
    if (!ch->tty)
        pcomm__pipe_widen(fd);
    return pcomm__watch_start(loop, &ch->watch, fd, EPOLLIN);
}

void pcomm__outchan_close(struct pcomm__outchan *ch, bool flush_lines)
{
    pcomm_outchan_end(ch, flush_lines);
}

void pcomm__outchan_resume(struct pcomm__outchan *ch)
{
    if (!ch->paused || ch->ended || pcomm_reader_full(ch->sinks->reader))
        return;
    if (pcomm__watch_change(ch->loop, &ch->watch, EPOLLIN) == 0)
        ch->paused = false;
}

void pcomm__outchan_discard(struct pcomm__outchan *ch)
{
    pcomm__watch_stop(ch->loop, &ch->watch);
    pcomm__closep(&ch->fd);
    ch->ended = true;
}

void pcomm__outchan_free(struct pcomm__outchan *ch)
{
    pcomm__lines_free(&ch->lines);
    free(ch->buf);
    ch->buf = NULL;
}

/* ---- input channels ------------------------------------------------------------------------ */

static bool pcomm_inchan_source_done(const struct pcomm__inchan *ch)
{
    if (ch->kind == PCOMM__IN_BYTES)
        return ch->off == ch->len;
    return ch->src_eof && ch->buf_off == ch->buf_len;
}

static bool pcomm_inchan_all_written(const struct pcomm__inchan *ch)
{
    if (ch->tty)
        return pcomm_inchan_source_done(ch) && ch->eof_queued && ch->tty_off == ch->tty_len;
    return pcomm_inchan_source_done(ch);
}

/* Ending closes the channel's master descriptor. That does not hang the terminal up (which
 * would send SIGHUP to the child's session, pty.md §3.6): the proc keeps another descriptor on
 * the master until it is freed. */
static void pcomm_inchan_end(struct pcomm__inchan *ch)
{
    if (ch->ended)
        return;
    ch->short_ = !pcomm_inchan_all_written(ch);
    pcomm__watch_stop(ch->loop, &ch->sink_watch);
    pcomm__watch_stop(ch->loop, &ch->src_watch);
    pcomm__closep(&ch->sink_fd);
    if (ch->src_owned)
        pcomm__closep(&ch->src_fd);
    ch->ended = true;
    if (ch->on_end)
        ch->on_end(ch);
}

/* ---- input through a pty ------------------------------------------------------------------- */

enum { PCOMM_TTY_CHUNK = 2048 }; /* source bytes per encoding: at most twice that encoded */

int pcomm__tty_check_lines(const void *data, size_t len)
{
    const char *p = data, *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t line = (size_t)((nl ? nl : end) - p);
        if (line > PCOMM__PTY_MAX_LINE)
            return PCOMM_ELINE;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* The bytes the line discipline would act on with the terminal's current settings (the child
 * may have changed them), as a 256-entry map. Returns false when the terminal is not canonical
 * (raw mode: every byte is data, no line limit, and no EOF can be sent) or cannot quote. */
static bool pcomm_tty_specials(int master, bool special[256], bool *canonical)
{
    struct termios t;
    memset(special, 0, 256);
    *canonical = tcgetattr(master, &t) == 0 && (t.c_lflag & ICANON);
    if (!*canonical || !(t.c_lflag & IEXTEN) || !t.c_cc[VLNEXT])
        return false;
    static const int always[] = {VEOF, VERASE, VKILL, VEOL, VLNEXT, VWERASE, VREPRINT, VEOL2};
    static const int with_isig[] = {VINTR, VQUIT, VSUSP};
    for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
        special[t.c_cc[always[i]]] = true;
    for (size_t i = 0; (t.c_lflag & ISIG) && i < sizeof with_isig / sizeof with_isig[0]; i++)
        special[t.c_cc[with_isig[i]]] = true;
    if (t.c_iflag & IXON) {
        special[t.c_cc[VSTART]] = true;
        special[t.c_cc[VSTOP]] = true;
    }
    special[0] = false; /* _POSIX_VDISABLE: unset characters are 0, and NUL stays data */
    special['\n'] = false;
    return true;
}

/* Encode n source bytes into tty_buf: quote special bytes with VLNEXT so that they arrive as
 * data, and refuse a line the kernel would cut (PCOMM_ELINE). */
static int pcomm_tty_encode(struct pcomm__inchan *ch, const char *src, size_t n)
{
    bool special[256], canonical;
    bool quote = pcomm_tty_specials(ch->sink_fd, special, &canonical);
    ch->tty_off = ch->tty_len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        ch->line_len = c == '\n' ? 0 : ch->line_len + 1;
        if (canonical && ch->line_len > PCOMM__PTY_MAX_LINE)
            return PCOMM_ELINE;
        if (quote && special[c])
            ch->tty_buf[ch->tty_len++] = PCOMM__PTY_VLNEXT;
        ch->tty_buf[ch->tty_len++] = (char)c;
    }
    return 0;
}

/* End of input that the child really sees: VEOF at the start of a line makes read() return 0;
 * after a partial line the first VEOF only hands that line over, so a second one follows
 * (pty.md §3.5). A raw terminal has no EOF: nothing is sent. */
static void pcomm_tty_queue_eof(struct pcomm__inchan *ch)
{
    struct termios t;
    ch->tty_off = ch->tty_len = 0;
    if (tcgetattr(ch->sink_fd, &t) == 0 && (t.c_lflag & ICANON) && t.c_cc[VEOF]) {
        ch->tty_buf[ch->tty_len++] = (char)t.c_cc[VEOF];
        if (ch->line_len > 0)
            ch->tty_buf[ch->tty_len++] = (char)t.c_cc[VEOF];
    }
    ch->eof_queued = true;
}

/* Refill tty_buf from the source when it is empty. Returns 0 (tty_buf may still be empty when a
 * pollable source has nothing), the source's EOF as 0 with src_eof set, or a negative error. */
static int pcomm_tty_refill(struct pcomm__inchan *ch)
{
    if (ch->tty_off < ch->tty_len)
        return 0;
    if (!ch->tty_buf && !(ch->tty_buf = pcomm__alloc_io(2 * PCOMM_TTY_CHUNK)))
        return -ENOMEM;
    if (ch->kind != PCOMM__IN_BYTES && ch->buf_off == ch->buf_len && !ch->src_eof) {
        if (!ch->buf && !(ch->buf = pcomm__alloc_io(PCOMM_CHUNK)))
            return -ENOMEM;
        ssize_t r = pcomm__read(ch->src_fd, ch->buf, PCOMM_CHUNK);
        if (r < 0)
            return ch->error = (int)r;
        ch->src_eof = r == 0;
        ch->buf_off = 0;
        ch->buf_len = (size_t)r;
    }
    if (pcomm_inchan_source_done(ch)) {
        if (!ch->eof_queued)
            pcomm_tty_queue_eof(ch);
        return 0;
    }
    const char *src = ch->kind == PCOMM__IN_BYTES ? ch->data + ch->off : ch->buf + ch->buf_off;
    size_t avail = ch->kind == PCOMM__IN_BYTES ? ch->len - ch->off : ch->buf_len - ch->buf_off;
    size_t n = avail < PCOMM_TTY_CHUNK ? avail : PCOMM_TTY_CHUNK;
    int r = pcomm_tty_encode(ch, src, n);
    if (r < 0)
        return ch->error = r;
    if (ch->kind == PCOMM__IN_BYTES)
        ch->off += n;
    else
        ch->buf_off += n;
    ch->bytes += n; /* counted when encoded: the master takes them in order */
    return 0;
}

/* One write of encoded bytes: > 0 written, 0 nothing to write now, -EAGAIN full, or an error. */
static ssize_t pcomm_inchan_push_tty(struct pcomm__inchan *ch)
{
    int r = pcomm_tty_refill(ch);
    if (r < 0)
        return r;
    if (ch->tty_off == ch->tty_len)
        return 0;
    ssize_t w = pcomm__write(ch->sink_fd, ch->tty_buf + ch->tty_off, ch->tty_len - ch->tty_off);
    if (w > 0)
        ch->tty_off += (size_t)w;
    return w;
}

/* Result of one write attempt: > 0 written, -EAGAIN full, other negative: stop. */
static ssize_t pcomm_inchan_push(struct pcomm__inchan *ch)
{
    if (ch->kind == PCOMM__IN_BYTES) {
        size_t n = ch->len - ch->off < PCOMM_CHUNK ? ch->len - ch->off : PCOMM_CHUNK;
        ssize_t w = pcomm__write(ch->sink_fd, ch->data + ch->off, n);
        if (w > 0)
            ch->off += (size_t)w;
        return w;
    }
    if (ch->src_is_file && ch->buf_off == ch->buf_len) {
        ssize_t w = splice(ch->src_fd, NULL, ch->sink_fd, NULL, PCOMM_CHUNK,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (w == 0)
            ch->src_eof = true;
        if (w >= 0 || errno != EINVAL)
            return w >= 0 ? w : -errno;
        ch->src_is_file = false; /* no splice here: read into the buffer instead */
    }
    if (ch->buf_off == ch->buf_len) {
        if (!ch->buf && !(ch->buf = pcomm__alloc_io(PCOMM_CHUNK)))
            return -ENOMEM;
        ssize_t r = pcomm__read(ch->src_fd, ch->buf, PCOMM_CHUNK);
        if (r <= 0) {
            ch->src_eof = r == 0;
            ch->error = r < 0 ? (int)r : 0;
            return r;
        }
        ch->buf_off = 0;
        ch->buf_len = (size_t)r;
    }
    ssize_t w = pcomm__write(ch->sink_fd, ch->buf + ch->buf_off, ch->buf_len - ch->buf_off);
    if (w > 0)
        ch->buf_off += (size_t)w;
    return w;
}

/* A pollable source must be waited for once the buffer is empty; a file is always ready. */
static bool pcomm_inchan_wait_source(const struct pcomm__inchan *ch)
{
    return ch->kind == PCOMM__IN_FD && pcomm__watch_active(&ch->src_watch) &&
           ch->buf_off == ch->buf_len && !ch->src_eof && ch->tty_off == ch->tty_len;
}

static void pcomm_inchan_pump(struct pcomm__inchan *ch)
{
    for (int round = 0; round < PCOMM_ROUNDS * 4 && !ch->ended; round++) {
        if (pcomm_inchan_all_written(ch)) {
            pcomm_inchan_end(ch);
            return;
        }
        if (pcomm_inchan_wait_source(ch)) {
            int r = pcomm__watch_change(ch->loop, &ch->sink_watch, 0);
            if (r == 0)
                r = pcomm__watch_change(ch->loop, &ch->src_watch, EPOLLIN);
            if (r < 0) {
                ch->error = r;
                pcomm_inchan_end(ch);
            }
            return;
        }
        ssize_t w = ch->tty ? pcomm_inchan_push_tty(ch) : pcomm_inchan_push(ch);
        if (w > 0 && !ch->tty)
            ch->bytes += (uint64_t)w;
        if (w == -EAGAIN)
            return;
        /* EPIPE: the child stopped reading; EIO: a pty whose slave is closed */
        if (w < 0 || (w == 0 && ch->error)) {
            pcomm_inchan_end(ch);
            return;
        }
    }
}

static void pcomm_inchan_on_writable(struct pcomm__watch *w, uint32_t revents)
{
    (void)revents;
    pcomm_inchan_pump(pcomm__container_of(w, struct pcomm__inchan, sink_watch));
}

static void pcomm_inchan_on_readable(struct pcomm__watch *w, uint32_t revents)
{
    (void)revents;
    struct pcomm__inchan *ch = pcomm__container_of(w, struct pcomm__inchan, src_watch);
    ssize_t r = 0;
    if (!ch->buf && !(ch->buf = pcomm__alloc_io(PCOMM_CHUNK)))
        r = -ENOMEM;
    if (r == 0)
        r = pcomm__read(ch->src_fd, ch->buf, PCOMM_CHUNK); /* ready, so it does not block */
    if (r == -EAGAIN || r == -EINTR)
        return;
    if (r < 0 || (r == 0 && !ch->tty)) {
        ch->src_eof = r == 0;
        ch->error = (int)r;
        pcomm_inchan_end(ch);
        return;
    }
    ch->src_eof = r == 0; /* a pty still needs its VEOF written: go on to the sink */
    ch->buf_off = 0;
    ch->buf_len = (size_t)r;
    int e = pcomm__watch_change(ch->loop, &ch->src_watch, 0);
    if (e == 0)
        e = pcomm__watch_change(ch->loop, &ch->sink_watch, EPOLLOUT);
    if (e < 0) {
        ch->error = e;
        pcomm_inchan_end(ch);
    }
}

int pcomm__inchan_open(struct pcomm__inchan *ch, pcomm_loop *loop, int sink_fd, int kind,
                       const void *data, size_t len, int src_fd, bool src_owned, bool tty,
                       void (*on_end)(struct pcomm__inchan *))
{
    *ch = (struct pcomm__inchan){.loop = loop,
                                 .sink_fd = sink_fd,
                                 .kind = kind,
                                 .data = data,
                                 .len = len,
                                 .src_fd = src_fd,
                                 .src_owned = src_owned,
                                 .tty = tty,
                                 .on_end = on_end};
    pcomm__watch_init(&ch->sink_watch, pcomm_inchan_on_writable);
    pcomm__watch_init(&ch->src_watch, pcomm_inchan_on_readable);
    int r = pcomm__set_nonblock(sink_fd, true);
    if (r < 0)
        return r;
    if (!tty)
        pcomm__pipe_widen(sink_fd);
    if (kind != PCOMM__IN_BYTES) {
        ch->src_is_file = pcomm_is_regular(src_fd);
        if (!ch->src_is_file) {
            r = pcomm__watch_start(loop, &ch->src_watch, src_fd, 0);
            if (r == -EPERM) /* not pollable (e.g. /dev/zero): always ready, like a file */
                r = 0;
            if (r < 0)
                return r;
        }
    }
    return pcomm__watch_start(loop, &ch->sink_watch, sink_fd, EPOLLOUT);
}

void pcomm__inchan_close(struct pcomm__inchan *ch)
{
    pcomm_inchan_end(ch);
    free(ch->buf);
    ch->buf = NULL;
    free(ch->tty_buf);
    ch->tty_buf = NULL;
}
