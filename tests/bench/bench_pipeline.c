/* bench_pipeline MODE TOTAL - pipe_writer TOTAL | cat | cat | cat > /dev/null; print GB/s.
 *   pcomm   the four stages as a pcomm pipeline (kernel pipes between stages, widened)
 *   sh      the same line through sh -c (the baseline: a shell's pipes)
 * PIPE_WRITER names the writer program. SPDX-License-Identifier: MIT */
#include "bench_common.h"

#include <fcntl.h>
#include <pcomm.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

static int with_pcomm(const char *writer, const char *total)
{
    pcomm_pipeline *p;
    pcomm_cmd *cmd;
    const char *w[] = {writer, total, "65536", NULL}, *cat[] = {"cat", NULL};
    if (pcomm_pipeline_new(&p) < 0 || pcomm_cmd_new_argv(&cmd, w) < 0 ||
        pcomm_pipeline_add_cmd(p, cmd) < 0)
        return -1;
    pcomm_cmd_free(cmd);
    for (int i = 0; i < 3; i++) {
        if (pcomm_cmd_new_argv(&cmd, cat) < 0 || pcomm_pipeline_add_cmd(p, cmd) < 0)
            return -1;
        pcomm_cmd_free(cmd);
    }
    pcomm_cmd_stdio_null(pcomm_pipeline_cmd(p, 3), 1);
    pcomm_job *job;
    if (pcomm_job_new_pipeline(&job, p) < 0 || pcomm_run(job) < 0 || pcomm_job_exit_code(job))
        return -1;
    pcomm_job_free(job);
    return 0;
}

static int with_sh(const char *writer, const char *total)
{
    char line[1024];
    snprintf(line, sizeof line, "'%s' %s 65536 | cat | cat | cat > /dev/null", writer, total);
    char *argv[] = {"sh", "-c", line, NULL};
    pid_t pid;
    int st;
    if (posix_spawnp(&pid, "sh", NULL, NULL, argv, environ) != 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *writer = getenv("PIPE_WRITER");
    if (argc < 3 || !writer)
        return 2;
    double t0 = bench_now();
    int r = strcmp(argv[1], "sh") ? with_pcomm(writer, argv[2]) : with_sh(writer, argv[2]);
    double dt = bench_now() - t0;
    if (r < 0) {
        fprintf(stderr, "bench_pipeline %s failed\n", argv[1]);
        return 1;
    }
    printf("%.4f\n", (double)atoll(argv[2]) / dt / 1e9);
    return 0;
}
