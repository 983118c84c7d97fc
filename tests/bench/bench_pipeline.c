/* bench_pipeline MODE TOTAL [FILE.gz] - print GB/s of TOTAL bytes through a pipeline.
 *   pcomm    pipe_writer TOTAL | cat | cat | cat > /dev/null as a pcomm pipeline (kernel pipes
 *            between stages, widened)
 *   sh       the same line through sh -c (the baseline: a shell's pipes)
 *   gunzip   FILE.gz (TOTAL bytes once decompressed) through an in-process gunzip filter stage,
 *            then cat > /dev/null, as a pcomm pipeline
 *   gzip-dc  the same with a `gzip -dc` process stage instead of the filter stage
 * PIPE_WRITER names the writer program. SPDX-License-Identifier: MIT */
#include "bench_common.h"

#include <fcntl.h>
#include <stdbool.h>
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

/* FILE.gz -> gunzip (a filter stage, or a gzip -dc process) -> cat > /dev/null. */
static int with_gunzip(bool in_process, const char *file)
{
    pcomm_pipeline *p;
    pcomm_cmd *cmd;
    pcomm_filter *f;
    const char *gzip[] = {"gzip", "-dc", NULL}, *cat[] = {"cat", NULL};
    if (pcomm_pipeline_new(&p) < 0)
        return -1;
    if (in_process) {
        if (pcomm_filter_new_decoder(&f, PCOMM_CODEC_GZIP) < 0 ||
            pcomm_pipeline_add_filter(p, f) < 0)
            return -1;
    } else {
        if (pcomm_cmd_new_argv(&cmd, gzip) < 0 || pcomm_pipeline_add_cmd(p, cmd) < 0)
            return -1;
        pcomm_cmd_free(cmd);
    }
    if (pcomm_cmd_new_argv(&cmd, cat) < 0 || pcomm_pipeline_add_cmd(p, cmd) < 0)
        return -1;
    pcomm_cmd_free(cmd);
    pcomm_cmd_stdio_null(pcomm_pipeline_cmd(p, 1), 1);
    pcomm_job *job;
    if (pcomm_job_new_pipeline(&job, p) < 0 || pcomm_job_input_file(job, file) < 0 ||
        pcomm_run(job) < 0 || pcomm_job_exit_code(job))
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
    bool gunzip = argc == 4 && !strcmp(argv[1], "gunzip"),
         gzip_dc = argc == 4 && !strcmp(argv[1], "gzip-dc");
    if (argc < 3 || (!writer && !gunzip && !gzip_dc))
        return 2;
    double t0 = bench_now();
    int r = gunzip || gzip_dc       ? with_gunzip(gunzip, argv[3])
            : strcmp(argv[1], "sh") ? with_pcomm(writer, argv[2])
                                    : with_sh(writer, argv[2]);
    double dt = bench_now() - t0;
    if (r < 0) {
        fprintf(stderr, "bench_pipeline %s failed\n", argv[1]);
        return 1;
    }
    printf("%.4f\n", (double)atoll(argv[2]) / dt / 1e9);
    return 0;
}
