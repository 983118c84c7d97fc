/* pcomm/atomic.h - pcomm_atomic: an output file that appears whole or not at all.
 *
 * pcomm_atomic_open() creates a temporary file in the target's directory (so the final rename
 * can never cross a filesystem), the caller writes, splices or copies into it, and
 * pcomm_atomic_commit() makes it durable at the chosen level and puts it in place of the target
 * with one rename. Until the commit the target is untouched; freeing an uncommitted writer
 * removes the temporary file. A reader of the target sees the old file or the complete new one,
 * never a partial one, even if the writing process is killed at any moment.
 *
 * The temporary file is an unnamed O_TMPFILE inode where the filesystem supports one, so a
 * crash while writing leaves nothing behind; it gets a name only at the commit. Elsewhere it is
 * a hidden file ".pcomm-XXXXXXXXXXXX-NAME" (random, created with O_EXCL), which a crash before
 * the commit leaves behind.
 *
 * Every error that happens after the open is final: the writer remembers the first one, every
 * later call returns it, and the commit then removes the temporary file and leaves the target as
 * it was. The library never retries an fsync that failed (after a failed fsync Linux may have
 * dropped the dirty pages, and a second fsync can wrongly succeed).
 *
 * Writes that exceed RLIMIT_FSIZE would raise SIGXFSZ, which kills a process by default. When
 * that limit is finite at open, pcomm blocks SIGXFSZ in the calling thread around its own
 * writes and reports -EFBIG instead; writes the caller makes to pcomm_atomic_fd() itself are
 * not guarded.
 *
 * A pcomm_atomic is not internally locked: use it from one thread at a time.
 *
 * Part of libpcomm. SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_ATOMIC_H
#define PCOMM_ATOMIC_H

#include <stddef.h>
#include <sys/types.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pcomm_atomic pcomm_atomic;

/* Durability, the low two bits of the flags (one of these three values):
 * SYNC_FULL (the default, 0): fsync the file before the rename and the directory after it, so
 *   once pcomm_atomic_commit() returns 0 the new target survives a power loss.
 * SYNC_DATA: fdatasync the file before the rename, not the directory: after a power loss the
 *   target is the old file or the complete new one (never an empty or partial one), but the
 *   rename itself may be lost.
 * SYNC_NONE: no sync at all; the replacement is atomic for other processes and survives the
 *   writer being killed, but not a power loss. */
#define PCOMM_ATOMIC_SYNC_FULL 0
#define PCOMM_ATOMIC_SYNC_DATA 1
#define PCOMM_ATOMIC_SYNC_NONE 2
#define PCOMM_ATOMIC_SYNC_MASK 3
/* Never replace an existing target: the commit fails with -EEXIST when the target exists (an
 * atomic check: linkat or renameat2 with RENAME_NOREPLACE, no race with other creators). */
#define PCOMM_ATOMIC_NOCLOBBER 4

/* Start writing path atomically: create the temporary file in path's directory, with mode
 * (masked by the umask, as open(2) does; the new file does not copy an old target's mode or
 * owner). flags is one durability level, optionally ORed with PCOMM_ATOMIC_NOCLOBBER.
 * The target is checked without following it: a symbolic link is refused with -ELOOP (replacing
 * the link would silently stop writing where it points), a directory with -EISDIR (also for a
 * path ending in '/', ".", ".."), any other non-regular file (device, FIFO, socket) with
 * -ENOTSUP; the commit checks again. The directory must exist. On success *ap owns the writer.
 * Returns 0, -EINVAL (NULL, bad flags or mode), -ENOENT (empty path or missing directory),
 * -ENAMETOOLONG, -ENOMEM, or an error from opening the directory or creating the file
 * (-EACCES, -EROFS, -ENOSPC, -EMFILE, ...). Nothing is left behind on failure. */
PCOMM_API int pcomm_atomic_open(pcomm_atomic **ap, const char *path, unsigned mode, int flags);

/* The temporary file's descriptor (close-on-exec, opened for reading and writing), owned by the
 * writer: write, splice or copy into it at its file position, but do not close it. Returns the
 * descriptor, or -EINVAL for NULL or a writer that was committed. */
PCOMM_API int pcomm_atomic_fd(const pcomm_atomic *a);

/* Append len bytes at the file position, retrying short writes and EINTR. Returns 0, or a
 * negative errno (-ENOSPC, -EFBIG, -EDQUOT, -EIO, ...) that is final (see above); -EINVAL for
 * NULL or after the commit. */
PCOMM_API int pcomm_atomic_write(pcomm_atomic *a, const void *buf, size_t len);

/* Move up to max bytes from fd into the file: splice(2) when fd is a pipe (no copy through user
 * space), read(2) and write(2) otherwise. Returns after the first transfer, like read(2): the
 * number of bytes moved, 0 at end of input (or when max is 0), -EAGAIN when fd is non-blocking
 * and empty, or another negative errno. Errors writing the file are final; errors reading fd
 * (and -EAGAIN) are not. */
PCOMM_API ssize_t pcomm_atomic_fill(pcomm_atomic *a, int fd, size_t max);

/* Finish: sync the file at the chosen level, check that the target is still not a symlink or
 * directory, put the file in place (rename over the target; with NOCLOBBER, link it in or
 * renameat2 with RENAME_NOREPLACE), then with SYNC_FULL fsync the directory. Can be called once.
 * Any error before the rename is final: the temporary file is removed, the target is untouched,
 * and the error is returned (the first error of an earlier write or fill, -EEXIST for NOCLOBBER,
 * -EIO/-ENOSPC/-EDQUOT from the sync, -ELOOP/-EISDIR/-ENOTSUP when the target changed kind).
 * Only a failing fsync of the directory comes after the rename: then the new target is in place
 * but not known to be durable, and the error (typically -EIO) is returned.
 * Returns 0 or a negative errno; -EINVAL for NULL or a second commit. */
PCOMM_API int pcomm_atomic_commit(pcomm_atomic *a);

/* Free the writer. An uncommitted writer is aborted: its temporary file is removed and the
 * target stays as it was. Accepts NULL. Never fails. */
PCOMM_API void pcomm_atomic_free(pcomm_atomic *a);

#ifdef __cplusplus
}
#endif

#endif /* PCOMM_ATOMIC_H */
