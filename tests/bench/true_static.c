/* true_static: a static program with no libc and no loader, so a spawn benchmark measures the
 * spawn mechanism and not ld.so. SPDX-License-Identifier: MIT */
void _start(void)
{
#if defined(__x86_64__)
    __asm__ volatile("mov $60, %eax\n xor %edi, %edi\n syscall");
#elif defined(__aarch64__)
    __asm__ volatile("mov x8, #93\n mov x0, #0\n svc #0");
#endif
    for (;;)
        ;
}
