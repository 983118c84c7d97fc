/* tests/test_storage_enospc.c - a real full filesystem: a 64 KiB tmpfs mounted in a private
 * mount namespace (invisible to the host, gone with this process). A spool that runs out of
 * space while spilling, or while writing its copy at the spill, reports -ENOSPC, stays readable
 * up to what it accepted and leaves no file; an atomic writer that runs out of space leaves the
 * old target and no temp file. Exits 77 (ctest: skipped) where namespaces or mounts are not
 * permitted. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "storage.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

static char mnt[] = "/tmp/pcomm-enospc-XXXXXX";

static int write_proc_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A private mount namespace: as root directly, else inside a new user namespace. */
static int enter_mount_namespace(void)
{
    if (unshare(CLONE_NEWNS) == 0)
        return 0;
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
        return -1;
    char map[64];
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    if (write_proc_file("/proc/self/uid_map", map) < 0)
        return -1;
    write_proc_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    return write_proc_file("/proc/self/gid_map", map);
}

static int mount_small_tmpfs(void)
{
    if (enter_mount_namespace() < 0)
        return -1;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return -1;
    if (!mkdtemp(mnt))
        return -1;
    if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0700") < 0) {
        rmdir(mnt);
        return -1;
    }
    return 0;
}

static unsigned long free_blocks(void)
{
    struct statvfs sv;
    assert_int_equal(statvfs(mnt, &sv), 0);
    return (unsigned long)sv.f_bfree;
}

static void write_until_error(pcomm_spool *sp, size_t chunk, int expect)
{
    unsigned char buf[10000];
    int r = 0;
    uint64_t off = 0;
    while (r == 0 && off < (1 << 20)) {
        pt_pattern_fill(buf, chunk, off, 1);
        r = pcomm_spool_write(sp, buf, chunk);
        off += chunk;
    }
    assert_int_equal(r, expect);
}

static void test_spool_enospc_while_spilled(void **state)
{
    (void)state;
    unsigned long empty = free_blocks();
    pcomm_spool *sp;
    PT_OK(pcomm_spool_new(&sp, 8192));
    PT_OK(pcomm_spool_set_dir(sp, mnt));
    write_until_error(sp, 3000, -ENOSPC);
    assert_true(pcomm_spool_spilled(sp));
    uint64_t kept = pcomm_spool_size(sp);
    assert_true(kept > 8192 && kept <= 65536);
    st_check_kept(sp, kept, 0, 0, 1); /* readable, byte for byte, up to what it accepted */
    assert_int_equal(pcomm_spool_write(sp, "x", 1), -ENOSPC); /* sticky */
    assert_int_equal(pcomm_spool_error(sp), -ENOSPC);
    assert_int_equal(st_count_dir(mnt), 0);
    pcomm_spool_free(sp);
    assert_int_equal(free_blocks(), empty);
}

static void test_spool_enospc_at_the_spill(void **state)
{
    (void)state;
    unsigned long empty = free_blocks();
    pcomm_spool *sp;
    PT_OK(pcomm_spool_new(&sp, 100000)); /* more than the filesystem holds */
    PT_OK(pcomm_spool_set_dir(sp, mnt));
    unsigned char buf[10000];
    for (uint64_t off = 0; off < 100000; off += sizeof buf) {
        pt_pattern_fill(buf, sizeof buf, off, 1);
        PT_OK(pcomm_spool_write(sp, buf, sizeof buf));
    }
    assert_int_equal(pcomm_spool_write(sp, "x", 1), -ENOSPC); /* copying memory to the file */
    assert_int_equal(pcomm_spool_spilled(sp), 0);
    st_check_kept(sp, 100000, 0, 0, 1);
    assert_int_equal(st_count_dir(mnt), 0);
    assert_int_equal(free_blocks(), empty); /* the half-written file is gone already */
    pcomm_spool_free(sp);
}

static void test_spool_fill_enospc(void **state)
{
    (void)state;
    unsigned long empty = free_blocks();
    pcomm_cmd *cmd = pt_helper_cmd("write", "1", "1000000", "1", NULL);
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
    pcomm_proc *proc;
    PT_OK(pcomm_spawn(cmd, &proc));
    pcomm_spool *sp;
    PT_OK(pcomm_spool_new(&sp, 0));
    PT_OK(pcomm_spool_set_dir(sp, mnt));
    ssize_t n;
    while ((n = pcomm_spool_fill(sp, pcomm_proc_fd(proc, 1), SIZE_MAX)) > 0)
        ;
    assert_int_equal(n, -ENOSPC);
    uint64_t kept = pcomm_spool_size(sp);
    assert_true(kept > 0 && kept <= 65536);
    st_check_kept(sp, kept, 0, 0, 1);
    assert_int_equal(st_count_dir(mnt), 0);
    pcomm_proc_free(proc); /* kills the writer, blocked on the full pipe */
    pcomm_cmd_free(cmd);
    pcomm_spool_free(sp);
    assert_int_equal(free_blocks(), empty);
}

static void test_atomic_enospc_keeps_old_target(void **state)
{
    (void)state;
    char target[256];
    snprintf(target, sizeof target, "%s/out", mnt);
    for (int how = 0; how < 2; how++) { /* write(), fill() by splice */
        st_write_pattern_file(target, 4000, 9);
        unsigned long before = free_blocks();
        pcomm_atomic *a;
        PT_OK(pcomm_atomic_open(&a, target, 0644, 0));
        int r = 0;
        pcomm_cmd *cmd = NULL;
        pcomm_proc *proc = NULL;
        if (how == 0) {
            unsigned char buf[8192];
            for (uint64_t off = 0; r == 0 && off < 200000; off += sizeof buf) {
                pt_pattern_fill(buf, sizeof buf, off, 2);
                r = pcomm_atomic_write(a, buf, sizeof buf);
            }
        } else {
            cmd = pt_helper_cmd("write", "1", "200000", "2", NULL);
            PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
            PT_OK(pcomm_spawn(cmd, &proc));
            ssize_t n;
            while ((n = pcomm_atomic_fill(a, pcomm_proc_fd(proc, 1), SIZE_MAX)) > 0)
                ;
            r = (int)n;
        }
        assert_int_equal(r, -ENOSPC);
        assert_int_equal(pcomm_atomic_write(a, "x", 1), -ENOSPC); /* final */
        assert_int_equal(pcomm_atomic_commit(a), -ENOSPC);
        pcomm_atomic_free(a);
        pcomm_proc_free(proc);
        pcomm_cmd_free(cmd);
        assert_true(st_file_is_pattern(target, 4000, 9));
        char list[256];
        assert_int_equal(st_list_dir(mnt, list, sizeof list), 1);
        assert_string_equal(list, "out");
        assert_int_equal(free_blocks(), before);
    }
    unlink(target);
}

int main(void)
{
    if (mount_small_tmpfs() < 0) {
        fprintf(stderr,
                "test_storage_enospc: no private mount namespace or tmpfs here: %s; "
                "skipped\n",
                strerror(errno));
        return 77;
    }
    const struct CMUnitTest tests[] = {
        PT_TEST(test_spool_enospc_while_spilled),
        PT_TEST(test_spool_enospc_at_the_spill),
        PT_TEST(test_spool_fill_enospc),
        PT_TEST(test_atomic_enospc_keeps_old_target),
    };
    int r = PT_RUN(tests);
    umount2(mnt, MNT_DETACH);
    rmdir(mnt);
    return r;
}
