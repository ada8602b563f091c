/* The one reading of a siginfo_t's bytes (x86_64), shared by the core
 * backend (NT_SIGINFO) and the live backend (PTRACE_GETSIGINFO at a fatal
 * signal). Not an interface for other layers. */
#ifndef PYCOREPROF_TARGET_SIGINFO_H
#define PYCOREPROF_TARGET_SIGINFO_H

#include <stddef.h>
#include <stdint.h>

#include "pycoreprof/target.h"

/* Bytes a siginfo_t needs for its number, code and first union word. */
#define SIGINFO_MIN_SIZE 24

/* Fill SIG from the LEN bytes of a siginfo_t at DESC (LEN at least
 * SIGINFO_MIN_SIZE): number, code, where it came from (a fault at an
 * address, the kernel, a sender), and the bytes themselves (the first
 * TARGET_SIGINFO_SIZE) for a core's NT_SIGINFO. The thread is left 0, and a
 * sender is told to be the process itself only once PID (0: unknown) is. */
void siginfo_read(struct target_signal *sig, const uint8_t *desc, size_t len, pid_t pid);

#endif
