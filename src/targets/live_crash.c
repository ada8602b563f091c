/* Fatal signals of a live process kept for a crash capture (target.h,
 * "Crashes"): which signals count, whether the process would die of one
 * (its action, from /proc/PID/task/TID/status), the thread kept in its
 * signal-delivery-stop with the siginfo read, and what the caller is told.
 * Delivering it is live_release_crash() in live_ptrace.c. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include "targets/live_internal.h"
#include "targets/siginfo.h"

/* The signals whose default action ends the process with a core, and that
 * a program's own fault raises (SIGABRT: abort(); SIGSYS: seccomp). */
static bool is_crash_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGABRT ||
	       sig == SIGSYS;
}

/* The mask after "NAME:\t" in the status text TEXT, or false. */
static bool status_mask(const char *text, const char *name, uint64_t *mask)
{
	const char *at = strstr(text, name);
	if (!at)
		return false;
	at += strlen(name);
	while (*at == ' ' || *at == '\t')
		at++;
	uint64_t value = 0;
	int digits = 0;
	for (;; at++, digits++) {
		int d;
		if (*at >= '0' && *at <= '9')
			d = *at - '0';
		else if (*at >= 'a' && *at <= 'f')
			d = *at - 'a' + 10;
		else
			break;
		value = value << 4 | (uint64_t)d;
	}
	*mask = value;
	return digits > 0;
}

bool live_crash_fatal(const struct live_backend *b, pid_t tid, int sig)
{
	if (!is_crash_signal(sig))
		return false;
	/* The actions are the process's (shared by its threads); the thread's
	 * own file reads them as the thread sees them. A fault on a blocked or
	 * ignored signal has already been reset to the default by the kernel
	 * when it stops here. */
	char path[64], text[4096];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)b->pid, (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return false;
	text[n] = '\0';
	uint64_t ignored, caught, bit = (uint64_t)1 << (sig - 1);
	/* Unreadable: it may be handled; passing it on is what we did
	 * without holding. */
	if (!status_mask(text, "\nSigIgn:", &ignored) || !status_mask(text, "\nSigCgt:", &caught))
		return false;
	return !(ignored & bit) && !(caught & bit);
}

void live_crash_hold(struct live_backend *b, struct live_task *task, int sig)
{
	task->ctl = CTL_STOPPED;
	task->group_stop = false;
	task->pending_sig = sig;
	task->crashed = true;
	if (b->crash_tid)
		return;
	siginfo_t info;
	memset(&info, 0, sizeof(info));
	if (ptrace(PTRACE_GETSIGINFO, task->tid, NULL, &info) < 0) {
		/* Known from the stop all the same: the number. */
		memset(&info, 0, sizeof(info));
		info.si_signo = sig;
	}
	_Static_assert(sizeof(info) == TARGET_SIGINFO_SIZE, "siginfo_t is 128 bytes");
	memcpy(b->crash_siginfo, &info, sizeof(info));
	b->crash_siginfo_len = sizeof(info);
	b->crash_tid = task->tid;
}

void live_hold_crashes(struct target *t, bool hold)
{
	struct live_backend *b = t->backend;
	b->hold_crashes = hold && b->freeze;
	if (!hold && b->crash_tid)
		live_release_crash(t);
}

bool live_crash_held(struct target *t)
{
	struct live_backend *b = t->backend;
	if (!b->crash_tid)
		return false;
	const struct live_task *task = live_find_task(b, b->crash_tid);
	if (!task || !task->crashed || task->ctl != CTL_STOPPED) {
		/* Killed meanwhile (SIGKILL reaches a stopped thread too). */
		b->crash_tid = 0;
		return false;
	}
	t->has_signal = true;
	siginfo_read(&t->signal, b->crash_siginfo, b->crash_siginfo_len, target_own_pid(t));
	t->signal.tid = b->crash_tid;
	live_publish_threads(t, b);
	return true;
}

bool live_end_status(const struct target *t, int *status)
{
	const struct live_backend *b = t->backend;
	if (!b || !b->has_end_status)
		return false;
	*status = b->end_status;
	return true;
}
