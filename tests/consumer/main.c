/* Spawn `true` through an installed libpcomm and exit with its status. */
#include <pcomm.h>
int main(void)
{
    const char *argv[] = {"true", NULL};
    pcomm_cmd *cmd;
    pcomm_proc *proc;
    pcomm_status st;
    if (pcomm_cmd_new_argv(&cmd, argv) < 0 || pcomm_spawn(cmd, &proc) < 0)
        return 1;
    pcomm_proc_wait(proc, -1);
    pcomm_proc_status(proc, &st);
    pcomm_proc_free(proc);
    pcomm_cmd_free(cmd);
    return pcomm_status_shell_code(&st);
}
