/* demos/pcomm/lock.c - --lock: an exclusive flock(2) held while the command runs. The descriptor
 * is close-on-exec, so the command never sees it; waiting for the lock counts against
 * --timeout. SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int cli_lock(const char *path, int64_t deadline_ns, int *fdp)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0666);
    if (fd < 0) {
        cli_error("cannot open the lock '%s': %s", path, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    /* flock cannot time out: try, then sleep briefly, 1 ms growing to 100 ms. */
    for (long nap_ms = 1;; nap_ms = nap_ms < 100 ? nap_ms * 2 : 100) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *fdp = fd;
            return 0;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            cli_error("cannot lock '%s': %s", path, strerror(errno));
            close(fd);
            return CLI_EXIT_FAILURE;
        }
        int64_t left = deadline_ns - pcomm_now_ns();
        if (deadline_ns > 0 && left <= 0) {
            cli_error("timed out waiting for the lock '%s'", path);
            close(fd);
            return CLI_EXIT_TIMEOUT;
        }
        int64_t nap = nap_ms * 1000000;
        if (deadline_ns > 0 && nap > left)
            nap = left;
        struct timespec ts = {nap / 1000000000, nap % 1000000000};
        nanosleep(&ts, NULL);
    }
}
