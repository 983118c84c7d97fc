/* pcomm/spool.h - pcomm_spool: bytes kept in memory up to a threshold, then in a temp file.
 *
 * A spool collects a stream of bytes (a child's output, typically). The first mem_threshold
 * bytes stay in memory; the write that would go past the threshold moves everything to an
 * unlinked temporary file ("spills") and the spool continues there. The file is an O_TMPFILE
 * inode, or where the filesystem refuses those a file with a random name that is unlinked at
 * once; either way it has mode 0600, no name anybody can predict or open, and it disappears when
 * the spool is freed or the process dies. It lives in the directory set with
 * pcomm_spool_set_dir(), else in $TMPDIR, else in /tmp: keep that on a disk, since a tmpfs is
 * RAM. Spill files are never fsync'd: they are scratch space.
 *
 * An optional cap keeps only the first `head` and the last `tail` bytes of the stream and counts
 * what it dropped in between. Offsets given to the read functions are offsets into the kept
 * bytes (head, then tail, without a gap).
 *
 * Errors while storing bytes (memory, a full disk, a file size limit, no descriptor left) are
 * sticky: the spool keeps every byte it accepted before the error, stays readable, and refuses
 * further writes with the same error, so a capture never has a silent hole.
 *
 * Writes that exceed RLIMIT_FSIZE would raise SIGXFSZ, which kills a process by default. When
 * that limit is finite at the spill, pcomm blocks SIGXFSZ in the calling thread around its
 * writes and reports -EFBIG instead; process-wide dispositions are never changed.
 *
 * A spool is not internally locked: use it from one thread at a time.
 *
 * Part of libpcomm. SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_SPOOL_H
#define PCOMM_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pcomm_spool pcomm_spool;

/* Create an empty spool that keeps up to mem_threshold bytes in memory: 0 spills at the first
 * byte, SIZE_MAX never spills. No file is created until bytes go past the threshold.
 * Returns 0, -EINVAL if spoolp is NULL, or -ENOMEM. */
PCOMM_API int pcomm_spool_new(pcomm_spool **spoolp, size_t mem_threshold);

/* Free the spool, its memory, its file (which the kernel then deletes) and any view.
 * Accepts NULL. */
PCOMM_API void pcomm_spool_free(pcomm_spool *spool);

/* Spill into directory dir instead of $TMPDIR or /tmp. The directory is checked now: it must
 * exist, be a directory and not a symbolic link (-ENOENT, -ENOTDIR, -ELOOP), and be writable
 * and searchable (-EACCES, -EROFS). The string is copied. Must be called before the spill
 * (-EBUSY after it). Returns 0 or a negative errno; -EINVAL for NULL. */
PCOMM_API int pcomm_spool_set_dir(pcomm_spool *spool, const char *dir);

/* Cap the spool: keep the first head bytes and the last tail bytes of the stream, and count
 * the bytes between them as dropped. The tail is kept in a ring, so a capped spool never holds
 * more than head + tail bytes, in memory or on disk. Must be called before the first byte is
 * written (-EBUSY after). Returns 0, -EINVAL (NULL, or head + tail overflows), -EBUSY. */
PCOMM_API int pcomm_spool_set_cap(pcomm_spool *spool, uint64_t head, uint64_t tail);

/* Append len bytes. Below the threshold they are copied into memory (grown geometrically);
 * the write that would go past it spills first. Returns 0, or a sticky negative errno
 * (-ENOMEM, -ENOSPC, -EFBIG, -EDQUOT, -EIO, -EMFILE, an error creating the file); the bytes
 * accepted before the error (pcomm_spool_size()) stay readable. -EINVAL for NULL. */
PCOMM_API int pcomm_spool_write(pcomm_spool *spool, const void *buf, size_t len);

/* Move up to max bytes from fd into the spool; returns after the first transfer, like read(2).
 * Before the spill the bytes are read straight into the spool's memory (one copy); after it
 * they are spliced from fd into the file when fd is a pipe (no copy through user space), and
 * read and written through a small buffer otherwise. The read that first goes past the
 * threshold goes through that buffer too, so an empty stream never creates a file. With a cap,
 * bytes past the head go through the buffer and the tail ring: fd is always drained, and the
 * middle of the stream is dropped, so a writer on the other end never blocks on a full spool.
 * Returns the number of bytes moved, 0 at end of input (or when max is 0), -EAGAIN when fd is
 * non-blocking and empty, another negative errno from reading fd (not sticky), or a sticky
 * storage error as for pcomm_spool_write(). -EINVAL for NULL or a negative fd. */
PCOMM_API ssize_t pcomm_spool_fill(pcomm_spool *spool, int fd, size_t max);

/* The number of bytes kept: everything written, or head + tail bytes once a cap dropped some.
 * 0 for NULL. */
PCOMM_API uint64_t pcomm_spool_size(const pcomm_spool *spool);

/* The number of bytes ever written (kept plus dropped). 0 for NULL. */
PCOMM_API uint64_t pcomm_spool_total(const pcomm_spool *spool);

/* The number of bytes the cap dropped (total minus size). 0 for NULL. */
PCOMM_API uint64_t pcomm_spool_dropped(const pcomm_spool *spool);

/* 1 when the bytes are in the temporary file, 0 when they are in memory (or for NULL). */
PCOMM_API int pcomm_spool_spilled(const pcomm_spool *spool);

/* The sticky storage error (a negative errno), or 0 when every write succeeded. 0 for NULL. */
PCOMM_API int pcomm_spool_error(const pcomm_spool *spool);

/* Copy up to len kept bytes starting at offset into buf. Returns the number copied (short only
 * at the end; 0 at or past the end), or a negative errno (-EIO from the file, -EINVAL). */
PCOMM_API ssize_t pcomm_spool_pread(const pcomm_spool *spool, void *buf, size_t len,
                                    uint64_t offset);

/* Sequential reading: pcomm_spool_read() copies the next kept bytes into buf and advances the
 * spool's read position; it returns the count, 0 at the end, or a negative errno. Writes may be
 * interleaved: bytes appended later are read later. pcomm_spool_rewind() goes back to offset 0
 * and returns 0 (-EINVAL for NULL). The read position is separate from pcomm_spool_pread(). */
PCOMM_API ssize_t pcomm_spool_read(pcomm_spool *spool, void *buf, size_t len);
PCOMM_API int pcomm_spool_rewind(pcomm_spool *spool);

/* All kept bytes as one contiguous read-only view: the memory buffer itself, or a read-only
 * mmap(2) of the file when spilled (a capped spool whose tail ring wrapped is first put in
 * order: in place in memory, or copied into an anonymous mapping when spilled). *datap is
 * never NULL (an empty spool gives a pointer to an empty string). The view is owned by the
 * spool and valid until the next write, fill, take, view or free. Returns 0, -EINVAL, -ENOMEM,
 * or an mmap error. */
PCOMM_API int pcomm_spool_view(pcomm_spool *spool, const void **datap, size_t *lenp);

/* Write all kept bytes to fd at its current position: from memory with write(2), from the file
 * with copy_file_range(2) (a regular-file fd), else sendfile(2), else pread and write. A
 * non-blocking fd is waited for with poll(2). SIGPIPE (and SIGXFSZ) raised by these writes are
 * blocked and consumed in the calling thread, so a closed pipe gives -EPIPE, not a signal.
 * Returns 0, or a negative errno with an unspecified number of bytes written. */
PCOMM_API int pcomm_spool_copy_to_fd(const pcomm_spool *spool, int fd);

/* Save the kept bytes to path atomically through pcomm_atomic (see pcomm_atomic(3)): mode and
 * atomic_flags are those of pcomm_atomic_open(). On any error the target is left as it was and
 * no temporary file remains. Returns 0 or a negative errno. */
PCOMM_API int pcomm_spool_save(const pcomm_spool *spool, const char *path, unsigned mode,
                               int atomic_flags);

/* The last n lines of the kept bytes, for showing the end of a failed command's output. A final
 * line without '\n' counts as a line; a trailing '\n' does not start another. The text (with
 * its newlines) goes into a malloc'd, NUL-terminated *textp that the caller free()s, its length
 * (without the NUL) into *lenp. The spool is read backwards in 64 KiB windows, so only the lines
 * asked for are read, however long the spool; lines longer than a window are returned whole.
 * When a cap dropped bytes, lines are taken from the tail only (the first may be a fragment).
 * n == 0 gives an empty string. Returns 0, -EINVAL, -ENOMEM, or a read error. */
PCOMM_API int pcomm_spool_tail_lines(const pcomm_spool *spool, size_t n, char **textp,
                                     size_t *lenp);

/* Hand the kept bytes over without copying: *bufp gets the spool's memory buffer (the caller
 * free()s it; NULL when the spool is empty) and *lenp its length. A wrapped tail ring is first
 * put in order in place. The spool is then empty (size, total and dropped are 0, the read
 * position too) and keeps its threshold, directory and cap. Returns 0, -EINVAL, or -ENOTSUP
 * when the bytes are in the file (use pcomm_spool_view() or pcomm_spool_copy_to_fd()). */
PCOMM_API int pcomm_spool_take(pcomm_spool *spool, void **bufp, size_t *lenp);

#ifdef __cplusplus
}
#endif

#endif /* PCOMM_SPOOL_H */
