/* Signal facts for reports: "SIGSEGV" rather than a number, and where the
 * signal came from (a fault's address, or who sent it). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "pycoreprof/formats.h"

const char *signal_name(int number, char out[16])
{
	const char *abbrev = number > 0 && number < NSIG ? sigabbrev_np(number) : NULL;
	if (abbrev)
		snprintf(out, 16, "SIG%s", abbrev);
	else
		snprintf(out, 16, "signal %d", number);
	return out;
}

const char *signal_origin_name(enum signal_origin origin)
{
	switch (origin) {
	case SIGNAL_FAULT:   return "fault";
	case SIGNAL_KERNEL:  return "kernel";
	case SIGNAL_SELF:    return "self";
	case SIGNAL_PROCESS: return "process";
	case SIGNAL_OTHER:   return "other";
	case SIGNAL_UNKNOWN: break;
	}
	return NULL;
}

void signal_describe(struct strbuf *sb, const struct target_signal *sig)
{
	switch (sig->origin) {
	case SIGNAL_FAULT:
		strbuf_addf(sb, "address 0x%llx", (unsigned long long)sig->address);
		break;
	case SIGNAL_KERNEL:
		strbuf_addstr(sb, "sent by the kernel");
		break;
	case SIGNAL_SELF:
		strbuf_addstr(sb, "sent by the process itself");
		break;
	case SIGNAL_PROCESS:
		/* The kernel gives 0 for a sender its pid namespace cannot see. */
		if (sig->sender_pid)
			strbuf_addf(sb, "sent by pid %d, uid %u", (int)sig->sender_pid, (unsigned)sig->sender_uid);
		else
			strbuf_addf(sb, "sent from outside its pid namespace, uid %u", (unsigned)sig->sender_uid);
		break;
	case SIGNAL_OTHER:
	case SIGNAL_UNKNOWN:
		break;
	}
}
