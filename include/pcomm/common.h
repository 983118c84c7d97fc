/* pcomm/common.h - export macro, version, time helpers shared by every pcomm header.
 *
 * Part of libpcomm. SPDX-License-Identifier: MIT
 */
#ifndef PCOMM_COMMON_H
#define PCOMM_COMMON_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every public function carries PCOMM_API. The library is built with hidden visibility, so only
 * what is marked here (and listed in the linker version script) is exported. */
#if defined(__GNUC__) || defined(__clang__)
#define PCOMM_API __attribute__((visibility("default")))
#else
#define PCOMM_API
#endif

#define PCOMM_VERSION_MAJOR  0
#define PCOMM_VERSION_MINOR  1
#define PCOMM_VERSION_PATCH  0
#define PCOMM_VERSION_STRING "0.1.0"
/* One number for compile-time comparisons: 0xMMmmpp. */
#define PCOMM_VERSION_NUM                                                                          \
    ((PCOMM_VERSION_MAJOR << 16) | (PCOMM_VERSION_MINOR << 8) | PCOMM_VERSION_PATCH)

/* The version of the library actually loaded, as "X.Y.Z". The string is static; do not free it.
 * Compare with PCOMM_VERSION_STRING to detect a header/library mismatch. Never fails. */
PCOMM_API const char *pcomm_version(void);

/* The current CLOCK_MONOTONIC time in nanoseconds. Every deadline in pcomm is an absolute value
 * on this clock, so a caller can compute one deadline and hand it to several calls. Never fails. */
PCOMM_API int64_t pcomm_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* PCOMM_COMMON_H */
