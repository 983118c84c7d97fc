/* pcomm/error.h - error codes and their names.
 *
 * Every pcomm call that can fail returns 0 (or a count) on success and a negative number on
 * failure: either a negated errno value (-ENOENT, -EINVAL, ...) or one of the pcomm-only codes
 * below, which live in a reserved range far below any errno value.
 *
 * Part of libpcomm. SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_ERROR_H
#define PCOMM_ERROR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* pcomm-only error codes. PCOMM_ERR_FIRST..PCOMM_ERR_LAST is reserved for them. */
enum pcomm_error {
    PCOMM_ERR_FIRST = -10999,
    /* The child's working directory does not exist, is not a directory or cannot be searched.
     * Reported by pcomm_spawn() instead of -ENOENT/-EACCES so that it is never mistaken for a
     * missing or unrunnable program. */
    PCOMM_ECWD = -10001,
    /* A decoder or capture reached its configured output cap. */
    PCOMM_ECAP = -10002,
    /* A decoder's output grew beyond its configured ratio to the input (a compression bomb). */
    PCOMM_ERATIO = -10003,
    /* A decoder needs more memory than its configured limit (xz). */
    PCOMM_EMEMLIMIT = -10004,
    /* The input is not in any compression format pcomm knows. */
    PCOMM_EFORMAT = -10005,
    /* A command string could not be parsed (unterminated quote, empty stage, ...). */
    PCOMM_ESYNTAX = -10006,
    /* A line written to a terminal is longer than the terminal's input line limit. */
    PCOMM_ELINE = -10007,
    /* A required library or system facility is not available at run time. */
    PCOMM_EUNSUPPORTED = -10008,
    PCOMM_ERR_LAST = -10000
};

/* A short description of an error code: "No such file or directory", "working directory is not
 * usable", ... Accepts any int: 0 gives "success", a positive errno value is treated as its
 * negation, and an unknown code gives "unknown error". The string is static; never fails. */
PCOMM_API const char *pcomm_strerror(int err);

/* The symbolic name of an error code: "ENOENT", "PCOMM_ECWD", "0" for success, "EUNKNOWN" for
 * codes pcomm does not know. Same input rules and lifetime as pcomm_strerror(). Never fails. */
PCOMM_API const char *pcomm_errname(int err);

#ifdef __cplusplus
}
#endif

#endif /* PCOMM_ERROR_H */
