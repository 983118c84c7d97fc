/* tests/storage.h - helpers shared by the spool and atomic-file tests: pattern files, directory
 * listings, spool content checks. Header-only (static functions), each test uses some.
 * SPDX-License-Identifier: MIT */
#ifndef PCOMM_TEST_STORAGE_H
#define PCOMM_TEST_STORAGE_H

#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* The names in dir other than "." and "..", as one "name1 name2 ..." string in buf; returns
 * how many. */
static inline int st_list_dir(const char *dir, char *buf, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    size_t len = 0;
    buf[0] = '\0';
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        int w = snprintf(buf + len, cap - len, "%s%s", len ? " " : "", e->d_name);
        if (w > 0 && (size_t)w < cap - len)
            len += (size_t)w;
    }
    closedir(d);
    return n;
}

static inline int st_count_dir(const char *dir)
{
    char buf[4096];
    return st_list_dir(dir, buf, sizeof buf);
}

/* Write len pattern bytes of stream seed to path (created with mode 0644). */
static inline void st_write_pattern_file(const char *path, size_t len, unsigned seed)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    unsigned char buf[65536];
    for (size_t off = 0; off < len;) {
        size_t k = len - off < sizeof buf ? len - off : sizeof buf;
        pt_pattern_fill(buf, k, off, seed);
        assert_int_equal(pt_write(fd, buf, k), (ssize_t)k);
        off += k;
    }
    close(fd);
}

/* True when path holds exactly len pattern bytes of stream seed. */
static inline bool st_file_is_pattern(const char *path, size_t len, unsigned seed)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t got;
    char *data = pt_slurp(fd, &got);
    close(fd);
    bool ok = got == len && pt_pattern_check(data, len, 0, seed) == len;
    free(data);
    return ok;
}

/* Check that the spool keeps exactly the expected bytes: pattern bytes [0, head) and
 * [tail_from, tail_from + tail_len) of stream seed, read through pcomm_spool_pread(). */
static inline void st_check_kept(const pcomm_spool *sp, uint64_t head, uint64_t tail_from,
                                 uint64_t tail_len, unsigned seed)
{
    assert_int_equal(pcomm_spool_size(sp), head + tail_len);
    size_t len = (size_t)(head + tail_len);
    unsigned char *buf = malloc(len + 1);
    assert_non_null(buf);
    assert_int_equal(pcomm_spool_pread(sp, buf, len + 1, 0), (ssize_t)len);
    assert_int_equal(pt_pattern_check(buf, (size_t)head, 0, seed), (size_t)head);
    assert_int_equal(pt_pattern_check(buf + head, (size_t)tail_len, tail_from, seed),
                     (size_t)tail_len);
    free(buf);
}

#endif
