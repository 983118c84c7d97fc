/* pcomm-test-helper: the child program the tests spawn, so that they control exactly what the
 * child does instead of relying on /bin tools. It runs a sequence of operations given as
 * arguments, e.g.  pcomm-test-helper write 1 1048576 7 write 2 10 0 exit 3
 *
 * Operations (all output goes through write(2), never through stdio buffers, unless said):
 *   exit N            exit with status N
 *   kill SIG          send itself SIG (death by signal when SIG's disposition is default)
 *   echo              copy stdin to stdout until EOF
 *   echo-both         copy stdin to stdout and its complement (byte ^ 0xff) to stderr
 *   echo-log          copy stdin to stdout, and write one line to stderr per read
 *   drain             read stdin until EOF and discard it
 *   read N            read and discard exactly N bytes of stdin (fewer at EOF)
 *   write FD N SEED   write N bytes of pattern SEED (tests/pattern.h) to FD, 64 KiB at a time
 *   chunks FD N SEED CHUNK   same, CHUNK bytes per write(2)
 *   print TEXT        write TEXT to stdout;  println TEXT: with a newline
 *   eprint TEXT       write TEXT to stderr
 *   fds               print the open descriptors, e.g. "0 1 2\n"
 *   argv              print every following argument, each followed by a NUL byte; ends the run
 *   env               print the environment, each entry followed by a NUL byte
 *   cwd               print the working directory and a newline
 *   ids               print "pid pgid sid ppid\n"
 *   isatty FD         print "1\n" or "0\n"
 *   ttyname FD        print the terminal's name and a newline, or "-\n"
 *   ctty              print "1\n" when /dev/tty opens (a controlling terminal), else "0\n"
 *   winsize FD        print "COLSxROWS\n" (or "-\n")
 *   sigstate          print "blocked=N ignored=N handled=N\n": signals blocked, ignored, caught
 *   sleep MS          sleep MS milliseconds
 *   spin MS           burn MS milliseconds of CPU time
 *   touch MIB         allocate and touch MIB MiB of memory
 *   ignore SIG        set SIG to SIG_IGN;  block SIG: add SIG to the signal mask
 *   close FD          close FD
 *   grandchild MS     fork a grandchild that keeps every descriptor, sleeps MS ms and exits;
 *                     prints the grandchild's pid and a newline, continues at once
 *   lines N MS        print N lines "line I\n" through stdio (default buffering), MS ms apart
 *   both N MS         print "out I\n" to stdout and "err I\n" to stderr through stdio (default
 *                     buffering), N pairs, MS ms apart
 *   count             read stdin until EOF and print the number of bytes and a newline
 *   winch MS          wait up to MS ms for SIGWINCH; print "winch COLSxROWS\n" (fd 1's size
 *                     then) or "nowinch\n"
 * SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../pattern.h"

static void die(const char *what)
{
    dprintf(2, "pcomm-test-helper: %s: %s\n", what, strerror(errno));
    exit(99);
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("write");
        }
        p += n;
        len -= (size_t)n;
    }
}

static void say(const char *s)
{
    write_all(1, s, strlen(s));
}

static long num(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno || *end || end == s) {
        dprintf(2, "pcomm-test-helper: bad number '%s'\n", s);
        exit(98);
    }
    return v;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void copy_stdin(int out1, int out2)
{
    static unsigned char buf[1 << 16], inv[1 << 16];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("read");
        if (n == 0)
            return;
        if (out1 >= 0)
            write_all(out1, buf, (size_t)n);
        if (out2 >= 0) {
            for (ssize_t i = 0; i < n; i++)
                inv[i] = buf[i] ^ 0xff;
            write_all(out2, inv, (size_t)n);
        } else if (out2 == -2) {
            char line[64];
            int len = snprintf(line, sizeof line, "pid %d read %zd bytes\n", getpid(), n);
            write_all(2, line, (size_t)len);
        }
    }
}

static void read_n(long want)
{
    static unsigned char buf[1 << 16];
    while (want > 0) {
        ssize_t n = read(0, buf, want < (long)sizeof buf ? (size_t)want : sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        want -= n;
    }
}

static void write_pattern(int fd, long total, unsigned seed, long chunk)
{
    static unsigned char buf[1 << 20];
    if (chunk <= 0 || chunk > (long)sizeof buf)
        chunk = 1 << 16;
    for (long off = 0; off < total;) {
        long n = total - off < chunk ? total - off : chunk;
        pt_pattern_fill(buf, (size_t)n, (uint64_t)off, seed);
        write_all(fd, buf, (size_t)n);
        off += n;
    }
}

static void print_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        die("opendir");
    int self = dirfd(d), fds[4096], n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096)
        if (e->d_name[0] != '.' && atoi(e->d_name) != self)
            fds[n++] = atoi(e->d_name);
    closedir(d);
    for (int i = 0; i < n; i++) /* insertion sort: small */
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
            int t = fds[j];
            fds[j] = fds[j - 1];
            fds[j - 1] = t;
        }
    char line[65536];
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(line + len, sizeof line - len, i ? " %d" : "%d", fds[i]);
    snprintf(line + len, sizeof line - len, "\n");
    say(line);
}

static void print_sigstate(void)
{
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    int blocked = 0, ignored = 0, handled = 0;
    for (int s = 1; s < NSIG; s++) {
        if (sigismember(&mask, s) == 1)
            blocked++;
        struct sigaction sa;
        if (sigaction(s, NULL, &sa) == 0) {
            if (sa.sa_handler == SIG_IGN)
                ignored++;
            else if (sa.sa_handler != SIG_DFL)
                handled++;
        }
    }
    char line[128];
    snprintf(line, sizeof line, "blocked=%d ignored=%d handled=%d\n", blocked, ignored, handled);
    say(line);
}

static void print_winsize(int fd)
{
    struct winsize ws;
    char line[64];
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
        snprintf(line, sizeof line, "-\n");
    else
        snprintf(line, sizeof line, "%ux%u\n", ws.ws_col, ws.ws_row);
    say(line);
}

/* Burn ms milliseconds of CPU time (not wall time: the machine may be busy). */
static void spin(long ms)
{
    struct timespec t;
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while (t.tv_sec * 1000 + t.tv_nsec / 1000000 < ms);
}

static void touch(long mib)
{
    size_t len = (size_t)mib << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap");
    for (size_t i = 0; i < len; i += 4096)
        p[i] = 1;
}

static void stdio_lines(long n, long ms)
{
    for (long i = 0; i < n; i++) {
        printf("line %ld\n", i);
        if (ms > 0)
            sleep_ms(ms);
    }
    fflush(stdout);
}

static void stdio_both(long n, long ms)
{
    for (long i = 0; i < n; i++) {
        printf("out %ld\n", i);
        fprintf(stderr, "err %ld\n", i);
        if (ms > 0)
            sleep_ms(ms);
    }
    fflush(stdout);
}

static void count_stdin(void)
{
    static unsigned char buf[1 << 16];
    long total = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("read");
        if (n == 0)
            break;
        total += n;
    }
    char line[64];
    snprintf(line, sizeof line, "%ld\n", total);
    say(line);
}

static void wait_winch(long ms)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    sigprocmask(SIG_BLOCK, &set, NULL);
    say("ready\n");
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    int sig;
    while ((sig = sigtimedwait(&set, NULL, &ts)) < 0 && errno == EINTR)
        ;
    if (sig == SIGWINCH) {
        struct winsize ws;
        char line[64];
        if (ioctl(1, TIOCGWINSZ, &ws) < 0)
            ws.ws_col = ws.ws_row = 0;
        snprintf(line, sizeof line, "winch %ux%u\n", ws.ws_col, ws.ws_row);
        say(line);
    } else {
        say("nowinch\n");
    }
}

int main(int argc, char **argv)
{
    char line[8192];
    for (int i = 1; i < argc; i++) {
        const char *op = argv[i];
        const char *a1 = i + 1 < argc ? argv[i + 1] : "0";
        const char *a2 = i + 2 < argc ? argv[i + 2] : "0";
        const char *a3 = i + 3 < argc ? argv[i + 3] : "0";
        const char *a4 = i + 4 < argc ? argv[i + 4] : "0";
        if (!strcmp(op, "exit")) {
            exit((int)num(a1));
        } else if (!strcmp(op, "kill")) {
            kill(getpid(), (int)num(a1));
            i++;
        } else if (!strcmp(op, "echo")) {
            copy_stdin(1, -1);
        } else if (!strcmp(op, "echo-both")) {
            copy_stdin(1, 2);
        } else if (!strcmp(op, "echo-log")) {
            copy_stdin(1, -2);
        } else if (!strcmp(op, "drain")) {
            copy_stdin(-1, -1);
        } else if (!strcmp(op, "read")) {
            read_n(num(a1));
            i++;
        } else if (!strcmp(op, "write")) {
            write_pattern((int)num(a1), num(a2), (unsigned)num(a3), 1 << 16);
            i += 3;
        } else if (!strcmp(op, "chunks")) {
            write_pattern((int)num(a1), num(a2), (unsigned)num(a3), num(a4));
            i += 4;
        } else if (!strcmp(op, "print") || !strcmp(op, "println") || !strcmp(op, "eprint")) {
            int fd = op[0] == 'e' ? 2 : 1;
            write_all(fd, a1, strlen(a1));
            if (!strcmp(op, "println"))
                write_all(fd, "\n", 1);
            i++;
        } else if (!strcmp(op, "fds")) {
            print_fds();
        } else if (!strcmp(op, "argv")) {
            for (int j = i + 1; j < argc; j++)
                write_all(1, argv[j], strlen(argv[j]) + 1);
            return 0;
        } else if (!strcmp(op, "env")) {
            extern char **environ;
            for (char **e = environ; *e; e++)
                write_all(1, *e, strlen(*e) + 1);
        } else if (!strcmp(op, "cwd")) {
            if (!getcwd(line, sizeof line))
                die("getcwd");
            say(line);
            say("\n");
        } else if (!strcmp(op, "ids")) {
            snprintf(line, sizeof line, "%d %d %d %d\n", getpid(), getpgrp(), getsid(0), getppid());
            say(line);
        } else if (!strcmp(op, "isatty")) {
            say(isatty((int)num(a1)) ? "1\n" : "0\n");
            i++;
        } else if (!strcmp(op, "ttyname")) {
            const char *name = ttyname((int)num(a1));
            say(name ? name : "-");
            say("\n");
            i++;
        } else if (!strcmp(op, "ctty")) {
            int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
            say(fd >= 0 ? "1\n" : "0\n");
            if (fd >= 0)
                close(fd);
        } else if (!strcmp(op, "winsize")) {
            print_winsize((int)num(a1));
            i++;
        } else if (!strcmp(op, "sigstate")) {
            print_sigstate();
        } else if (!strcmp(op, "sleep")) {
            sleep_ms(num(a1));
            i++;
        } else if (!strcmp(op, "spin")) {
            spin(num(a1));
            i++;
        } else if (!strcmp(op, "touch")) {
            touch(num(a1));
            i++;
        } else if (!strcmp(op, "ignore") || !strcmp(op, "block")) {
            int sig = (int)num(a1);
            if (op[0] == 'i') {
                signal(sig, SIG_IGN);
            } else {
                sigset_t s;
                sigemptyset(&s);
                sigaddset(&s, sig);
                sigprocmask(SIG_BLOCK, &s, NULL);
            }
            i++;
        } else if (!strcmp(op, "close")) {
            close((int)num(a1));
            i++;
        } else if (!strcmp(op, "grandchild")) {
            long ms = num(a1);
            pid_t pid = fork();
            if (pid < 0)
                die("fork");
            if (pid == 0) {
                sleep_ms(ms);
                _exit(0);
            }
            snprintf(line, sizeof line, "%d\n", pid);
            say(line);
            i++;
        } else if (!strcmp(op, "lines")) {
            stdio_lines(num(a1), num(a2));
            i += 2;
        } else if (!strcmp(op, "both")) {
            stdio_both(num(a1), num(a2));
            i += 2;
        } else if (!strcmp(op, "count")) {
            count_stdin();
        } else if (!strcmp(op, "winch")) {
            wait_winch(num(a1));
            i++;
        } else {
            dprintf(2, "pcomm-test-helper: unknown operation '%s'\n", op);
            return 97;
        }
    }
    return 0;
}
