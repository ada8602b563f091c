/* Why the kernel refused us a process: the hint of a permission error
 * names what is missing (CAP_SYS_PTRACE and why it is needed, the Yama
 * ptrace_scope setting), from what /proc shows of both sides. It guesses
 * nothing it cannot read: an unknown cause gets the general advice. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "targets/live_internal.h"

#define ANCESTORS_MAX 4096

/* What /proc/PID/status says of a process; ok is false when unreadable. */
struct proc_facts {
	bool ok;
	unsigned long uids[3], gids[3];  /* real, effective, saved */
	unsigned long long cap_permitted;
	int ns_levels;                   /* ids on the NSpid line: 2 or more, another PID namespace */
	pid_t ppid;
};

static bool parse_ids(const char *text, const char *key, unsigned long *ids)
{
	const char *at = strstr(text, key);
	if (!at)
		return false;
	at += strlen(key);
	for (int i = 0; i < 3; i++) {
		char *end;
		ids[i] = strtoul(at, &end, 10);
		if (end == at)
			return false;
		at = end;
	}
	return true;
}

/* Read without the error machinery: this runs while an error is being
 * reported, and must leave it as it is. */
static struct proc_facts read_facts(pid_t pid)
{
	struct proc_facts f = {0};
	char path[64], text[8192];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return f;
	size_t used = 0;
	for (ssize_t n; used < sizeof(text) - 1; used += (size_t)n) {
		do
			n = read(fd, text + used, sizeof(text) - 1 - used);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			break;
	}
	close(fd);
	text[used] = '\0';
	const char *cap = strstr(text, "\nCapPrm:");
	const char *ppid = strstr(text, "\nPPid:");
	const char *ns = strstr(text, "\nNSpid:");
	f.ok = parse_ids(text, "\nUid:", f.uids) && parse_ids(text, "\nGid:", f.gids) && cap && ppid;
	if (f.ok) {
		f.cap_permitted = strtoull(cap + strlen("\nCapPrm:"), NULL, 16);
		f.ppid = (pid_t)strtol(ppid + strlen("\nPPid:"), NULL, 10);
	}
	for (const char *c = ns ? ns + strlen("\nNSpid:") : NULL; c && *c && *c != '\n'; c++)
		if ((c[0] >= '0' && c[0] <= '9') && (c[1] < '0' || c[1] > '9'))
			f.ns_levels++;
	return f;
}

/* kernel.yama.ptrace_scope, or -1 without Yama. */
static int ptrace_scope(void)
{
	char text[16] = {0};
	int fd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	return n > 0 ? atoi(text) : -1;
}

static bool is_our_descendant(pid_t pid)
{
	pid_t self = getpid();
	for (int i = 0; i < ANCESTORS_MAX && pid > 1; i++) {
		struct proc_facts f = read_facts(pid);
		if (!f.ok)
			return false;
		if (f.ppid == self)
			return true;
		pid = f.ppid;
	}
	return false;
}

static bool same_ids(const unsigned long *theirs, unsigned long real)
{
	return theirs[0] == real && theirs[1] == real && theirs[2] == real;
}

void live_perm_hint(pid_t pid, bool attach)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];
	memset(caps, 0, sizeof(caps));
	bool caps_known = syscall(SYS_capget, &header, caps) == 0;
	unsigned long long ours = (unsigned long long)caps[1].permitted << 32 | caps[0].permitted;
	bool has_ptrace = caps_known && (caps[CAP_TO_INDEX(CAP_SYS_PTRACE)].effective & CAP_TO_MASK(CAP_SYS_PTRACE));
	struct proc_facts target = read_facts(pid);
	int scope = attach ? ptrace_scope() : -1;
	const char *where = target.ns_levels > 1 ? ", in a container's PID namespace," : "";
	const char *fix = getuid() == 0 ? "pycoreprof runs as root but without CAP_SYS_PTRACE: a container drops it "
	                                  "unless started with --cap-add SYS_PTRACE"
	                                : "run pycoreprof as root, or give it CAP_SYS_PTRACE";

	if (scope == 3) {
		err_hint("kernel.yama.ptrace_scope is 3: no process can be traced until the next boot");
		return;
	}
	if (has_ptrace) {
		err_hint("pycoreprof has CAP_SYS_PTRACE and was still refused pid %d%s: a security module (AppArmor, "
		         "SELinux, seccomp) or a user namespace pycoreprof is not in forbids it", (int)pid, where);
		return;
	}
	if (!target.ok || !caps_known) {
		live_perm_hint_general();
		return;
	}
	if (!same_ids(target.uids, getuid()) || !same_ids(target.gids, getgid())) {
		err_hint("pid %d%s runs as uid %lu and pycoreprof as uid %lu: another user's process takes "
		         "CAP_SYS_PTRACE; %s", (int)pid, where, target.uids[1], (unsigned long)getuid(), fix);
		return;
	}
	if ((target.cap_permitted & ~ours) != 0) {
		err_hint("pid %d%s holds capabilities pycoreprof lacks (CapPrm %llx, pycoreprof's %llx): that takes "
		         "CAP_SYS_PTRACE; %s", (int)pid, where, target.cap_permitted, ours, fix);
		return;
	}
	if (scope == 2) {
		err_hint("kernel.yama.ptrace_scope is 2: attaching to pid %d%s takes CAP_SYS_PTRACE; %s", (int)pid, where,
		         fix);
		return;
	}
	if (scope == 1 && !is_our_descendant(pid)) {
		err_hint("kernel.yama.ptrace_scope is 1: only an ancestor of pid %d%s may attach without CAP_SYS_PTRACE; "
		         "start it with `pycoreprof record -- COMMAND`, set kernel.yama.ptrace_scope to 0, or %s",
		         (int)pid, where, getuid() == 0 ? "give pycoreprof CAP_SYS_PTRACE" : "run pycoreprof as root");
		return;
	}
	err_hint("pid %d%s may not be dumpable (a set-user-id program, or prctl PR_SET_DUMPABLE 0) or a security "
	         "module forbids it: that takes CAP_SYS_PTRACE; %s", (int)pid, where, fix);
}

void live_perm_hint_general(void)
{
	err_hint("run as root or grant CAP_SYS_PTRACE (containers: --cap-add SYS_PTRACE); "
	         "see /proc/sys/kernel/yama/ptrace_scope");
}
