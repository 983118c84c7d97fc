/* tests/harness.c - see harness.h. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PCOMM_TEST_HELPER
#error "PCOMM_TEST_HELPER must name the helper binary"
#endif

/* ---- process-wide test set-up ------------------------------------------------------------ */

static volatile sig_atomic_t pt_storm_signals;

static void pt_storm_handler(int sig)
{
    (void)sig;
    pt_storm_signals++;
}

static void pt_report_storm(void)
{
    fprintf(stderr, "[ harness ] EINTR storm: %ld SIGALRMs delivered\n", (long)pt_storm_signals);
}

static void pt_start_storm(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = pt_storm_handler; /* no SA_RESTART: every slow call sees EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 100}, {0, 100}};
    setitimer(ITIMER_REAL, &it, NULL);
    atexit(pt_report_storm);
}

void pt_init(void)
{
    /* CI runners leak descriptors into their children; start clean so the checks mean something. */
    closefrom(3);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const char *storm = getenv("PCOMM_TEST_EINTR_STORM");
    if (storm && *storm == '1')
        pt_start_storm();
}

/* ---- leak checks ------------------------------------------------------------------------- */

#define PT_MAX_FDS 1024
static int pt_fd_snapshot[PT_MAX_FDS];
static int pt_fd_snapshot_count;

static int pt_list_fds(int *fds, int max)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int self = dirfd(d), n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) != self && n < max)
            fds[n++] = atoi(e->d_name);
    closedir(d);
    return n;
}

int pt_count_fds(void)
{
    int fds[PT_MAX_FDS];
    return pt_list_fds(fds, PT_MAX_FDS);
}

static bool pt_fd_in(int fd, const int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] == fd)
            return true;
    return false;
}

/* Children of this process, alive and zombie. Returns the count; fills pids. */
static int pt_children(pid_t *pids, char *states, int max)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    pid_t self = getpid();
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        char *p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
        char state;
        int ppid;
        if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2 || ppid != self)
            continue;
        if (n < max) {
            pids[n] = atoi(e->d_name);
            states[n] = state;
        }
        n++;
    }
    closedir(d);
    return n;
}

char pt_proc_state(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return '-';
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return '-';
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p ? p[2] : '?';
}

bool pt_wait_dead(int pid)
{
    for (int i = 0; i < 200; i++) {
        char st = pt_proc_state(pid);
        if (st == '-' || st == 'Z')
            return true;
        usleep(10000);
    }
    return false;
}

int pt_count_children(int *zombies)
{
    pid_t pids[256];
    char states[256];
    int n = pt_children(pids, states, 256), z = 0;
    for (int i = 0; i < n && i < 256; i++)
        z += states[i] == 'Z';
    if (zombies)
        *zombies = z;
    return n;
}

int pt_setup(void **state)
{
    (void)state;
    pt_fd_snapshot_count = pt_list_fds(pt_fd_snapshot, PT_MAX_FDS);
    return pt_fd_snapshot_count < 0 ? -1 : 0;
}

/* Reap zombie children (orphans handed to us as subreaper) and kill live ones, which are leaks.
 * A process that was just SIGKILLed may still be running for a moment: allow it 2 s. */
static int pt_check_children(void)
{
    int leaked = 0;
    for (int tries = 0;; tries++) {
        pid_t pids[256];
        char states[256];
        int n = pt_children(pids, states, 256), alive = 0;
        for (int i = 0; i < n && i < 256; i++) {
            if (states[i] == 'Z')
                waitpid(pids[i], NULL, WNOHANG);
            else
                alive++;
        }
        if (alive == 0)
            return leaked;
        if (tries >= 200) {
            for (int i = 0; i < n && i < 256; i++)
                if (states[i] != 'Z') {
                    fprintf(stderr, "[ harness ] child %d (state %c) still alive after test\n",
                            pids[i], states[i]);
                    kill(pids[i], SIGKILL);
                    waitpid(pids[i], NULL, 0);
                    leaked++;
                }
            return leaked;
        }
        usleep(10000);
    }
}

int pt_teardown(void **state)
{
    (void)state;
    int bad = pt_check_children();
    int now[PT_MAX_FDS];
    int n = pt_list_fds(now, PT_MAX_FDS);
    for (int i = 0; i < n; i++)
        if (!pt_fd_in(now[i], pt_fd_snapshot, pt_fd_snapshot_count)) {
            char link[64], target[256] = "?";
            snprintf(link, sizeof link, "/proc/self/fd/%d", now[i]);
            ssize_t len = readlink(link, target, sizeof target - 1);
            target[len > 0 ? len : 1] = '\0';
            fprintf(stderr, "[ harness ] descriptor %d leaked (%s)\n", now[i], target);
            close(now[i]);
            bad++;
        }
    for (int i = 0; i < pt_fd_snapshot_count; i++)
        if (!pt_fd_in(pt_fd_snapshot[i], now, n)) {
            fprintf(stderr, "[ harness ] descriptor %d was closed by the test\n",
                    pt_fd_snapshot[i]);
            bad++;
        }
    return bad ? -1 : 0;
}

/* ---- helpers ----------------------------------------------------------------------------- */

const char *pt_helper(void)
{
    return PCOMM_TEST_HELPER;
}

pcomm_cmd *pt_helper_cmd(const char *first, ...)
{
    pcomm_cmd *cmd;
    PT_OK(pcomm_cmd_new(&cmd));
    PT_OK(pcomm_cmd_arg(cmd, pt_helper()));
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w; w = va_arg(ap, const char *))
        PT_OK(pcomm_cmd_arg(cmd, w));
    va_end(ap);
    return cmd;
}

ssize_t pt_read(int fd, void *buf, size_t len)
{
    ssize_t n;
    while ((n = read(fd, buf, len)) < 0 && errno == EINTR)
        ;
    return n;
}

ssize_t pt_write(int fd, const void *buf, size_t len)
{
    ssize_t n;
    while ((n = write(fd, buf, len)) < 0 && errno == EINTR)
        ;
    return n;
}

int pt_waitpid(int pid, int *status)
{
    int r;
    while ((r = waitpid(pid, status, 0)) < 0 && errno == EINTR)
        ;
    return r;
}

size_t pt_read_lines(int fd, char *buf, size_t cap, int n)
{
    size_t len = 0;
    int lines = 0;
    while (lines < n && len + 1 < cap) {
        ssize_t r = pt_read(fd, buf + len, 1);
        if (r <= 0)
            break;
        lines += buf[len++] == '\n';
    }
    buf[len] = '\0';
    return len;
}

char *pt_slurp(int fd, size_t *lenp)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n >= 0);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (lenp)
        *lenp = len;
    return buf;
}

char *pt_capture(pcomm_cmd *cmd, size_t *lenp, pcomm_status *st)
{
    pcomm_proc *proc;
    PT_OK(pcomm_cmd_stdio_pipe(cmd, 1));
    PT_OK(pcomm_spawn(cmd, &proc));
    char *out = pt_slurp(pcomm_proc_fd(proc, 1), lenp);
    PT_OK(pcomm_proc_wait(proc, -1));
    PT_OK(pcomm_proc_status(proc, st));
    pcomm_proc_free(proc);
    return out;
}

char *pt_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path;
    assert_true(asprintf(&path, "%s/pcomm-test-XXXXXX", base && *base ? base : "/tmp") > 0);
    assert_non_null(mkdtemp(path));
    return path;
}

static int pt_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void pt_rmtree(const char *dir)
{
    nftw(dir, pt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void pt_write_file(const char *path, const char *content, unsigned mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    size_t len = strlen(content);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

double pt_late_ms(void)
{
    const char *v = getenv("PCOMM_TEST_LATE_MS");
    double late = v && *v ? atof(v) : 0;
    return late > 100 ? late : 100;
}

static long pt_status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "re");
    assert_non_null(f);
    char line[256];
    long kib = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':')
            kib = strtol(line + n + 1, NULL, 10);
    fclose(f);
    assert_true(kib >= 0);
    return kib;
}

static long pt_rss_at_reset;

void pt_peak_rss_reset(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pt_write(fd, "5", 1), 1);
    close(fd);
    pt_rss_at_reset = pt_status_kib("VmRSS");
    assert_true(pt_status_kib("VmHWM") <= pt_rss_at_reset + 1024);
}

long pt_peak_rss_growth_kib(void)
{
    return pt_status_kib("VmHWM") - pt_rss_at_reset;
}

double pt_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
