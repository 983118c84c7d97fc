/* demos/spawn.c - the spawn core in twenty lines: run a command with a clean environment
 * variable added, capture its stdout through a pipe, and report how it ended.
 *
 *   demo-spawn [COMMAND [ARG]...]      (default: sh -c 'echo hello from $GREETER; exit 3')
 *
 * SPDX-License-Identifier: MIT */
#include <pcomm.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *fallback[] = {"sh", "-c", "echo hello from $GREETER; exit 3", NULL};
    const char *const *args = argc > 1 ? (const char *const *)argv + 1 : fallback;
    pcomm_cmd *cmd;
    pcomm_proc *proc;
    int r = pcomm_cmd_new_argv(&cmd, args);
    if (r == 0)
        r = pcomm_cmd_setenv(cmd, "GREETER", "demo-spawn");
    if (r == 0)
        r = pcomm_cmd_stdio_pipe(cmd, 1);
    if (r == 0)
        r = pcomm_spawn(cmd, &proc);
    pcomm_cmd_free(cmd);
    if (r < 0) {
        fprintf(stderr, "demo-spawn: %s: %s\n", args[0], pcomm_strerror(r));
        return 1;
    }
    char buf[4096];
    ssize_t n;
    while ((n = read(pcomm_proc_fd(proc, 1), buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    pcomm_status st;
    pcomm_proc_wait(proc, -1);
    pcomm_proc_status(proc, &st);
    printf("pid %d %s %d after %.1f ms (%s)\n", st.pid,
           st.how == PCOMM_EXITED ? "exited with" : "was killed by signal", st.code,
           (double)st.wall_ns / 1e6, pcomm_proc_spawn_path(proc));
    pcomm_proc_free(proc);
    return 0;
}
