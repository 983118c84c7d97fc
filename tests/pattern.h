/* tests/pattern.h - the deterministic byte pattern the helper writes and the tests check.
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_TEST_PATTERN_H
#define PCOMM_TEST_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* Byte number offset of stream `seed`. Not periodic at any power of two up to 2^16, so a lost,
 * duplicated or reordered chunk shows. */
static inline unsigned char pt_pattern_byte(uint64_t offset, unsigned seed)
{
    uint64_t x = offset + (uint64_t)seed * 0x9E3779B9u;
    return (unsigned char)((x ^ (x >> 8) ^ (x >> 16)) * 0x6Bu + seed);
}

static inline void pt_pattern_fill(void *buf, size_t len, uint64_t offset, unsigned seed)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++)
        p[i] = pt_pattern_byte(offset + i, seed);
}

/* Index of the first byte of buf that differs from the pattern, or len when all match. */
static inline size_t pt_pattern_check(const void *buf, size_t len, uint64_t offset, unsigned seed)
{
    const unsigned char *p = buf;
    for (size_t i = 0; i < len; i++)
        if (p[i] != pt_pattern_byte(offset + i, seed))
            return i;
    return len;
}

#endif
