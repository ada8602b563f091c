/* Reading a siginfo_t (siginfo.h): where a signal came from, by its
 * si_code. x86_64 layout: si_signo at 0, si_code at 8, then the union: a
 * fault's si_addr, or a sender's si_pid and si_uid, at 16. */
#include <signal.h>
#include <string.h>

#include "targets/siginfo.h"

#define SIGINFO_SIGNO 0
#define SIGINFO_CODE 8
#define SIGINFO_ADDR 16
#define SIGINFO_PID 16              /* int */
#define SIGINFO_UID 20              /* unsigned int */

static int32_t load_i32(const uint8_t *at)
{
	int32_t value;
	memcpy(&value, at, sizeof(value));
	return value;
}

static bool signal_has_address(int number)
{
	return number == SIGSEGV || number == SIGBUS || number == SIGILL || number == SIGFPE;
}

/* si_code <= 0 means a process sent it (kill, tgkill, sigqueue: si_pid and
 * si_uid say who; the union's first word is then the sender's pid, not an
 * address) or a user-space facility did (timers, message queues, AIO);
 * > 0 that the kernel did, a fault where the signal is one. */
void siginfo_read(struct target_signal *sig, const uint8_t *desc, size_t len, pid_t pid)
{
	memset(sig, 0, sizeof(*sig));
	sig->number = load_i32(desc + SIGINFO_SIGNO);
	sig->code = load_i32(desc + SIGINFO_CODE);
	if (sig->code == SI_USER || sig->code == SI_QUEUE || sig->code == SI_TKILL) {
		sig->origin = SIGNAL_PROCESS;
		sig->has_sender = true;
		sig->sender_pid = load_i32(desc + SIGINFO_PID);
		sig->sender_uid = (uid_t)(uint32_t)load_i32(desc + SIGINFO_UID);
		if (pid && sig->sender_pid == pid)
			sig->origin = SIGNAL_SELF;
	} else if (sig->code <= 0) {
		sig->origin = SIGNAL_OTHER;
	} else if (sig->code != SI_KERNEL && signal_has_address(sig->number)) {
		sig->origin = SIGNAL_FAULT;
		memcpy(&sig->address, desc + SIGINFO_ADDR, sizeof(sig->address));
		sig->has_address = true;
	} else {
		sig->origin = SIGNAL_KERNEL;
	}
	sig->siginfo_len = len < TARGET_SIGINFO_SIZE ? len : TARGET_SIGINFO_SIZE;
	memcpy(sig->siginfo, desc, sig->siginfo_len);
}
