/* The backend-independent half of the target interface: freeing a target,
 * typed reads, live control dispatched to the backend's ops (nothing to do
 * where it has none), and lookups in the thread, mapping and auxv tables
 * that every backend fills. Backends live in their own files. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"

void target_free(struct target *t)
{
	if (!t)
		return;
	if (t->ops && t->ops->destroy)
		t->ops->destroy(t);
	for (size_t i = 0; i < t->nmappings; i++)
		free(t->mappings[i].path);
	free(t->mappings);
	free(t->threads);
	free(t->auxv);
	free(t->command);
	free(t->executable);
	free(t->search_path);
	free(t->root);
	free(t->ns_tids);
	free(t);
}

const char *target_kind_name(const struct target *t)
{
	static const char *const names[] = {[TARGET_CORE] = "core", [TARGET_LIVE] = "live",
	                                    [TARGET_SNAPSHOT] = "snapshot"};
	return names[t->kind];
}

int target_prepare_freeze(struct target *t)
{
	return t->ops->prepare_freeze ? t->ops->prepare_freeze(t) : 0;
}

int target_freeze(struct target *t)
{
	return t->ops->freeze ? t->ops->freeze(t) : 0;
}

int target_resume(struct target *t)
{
	return t->ops->resume ? t->ops->resume(t) : 0;
}

int target_refresh(struct target *t)
{
	return t->ops->refresh ? t->ops->refresh(t) : 0;
}

int target_stop_thread(struct target *t, pid_t tid)
{
	return t->ops->stop_thread ? t->ops->stop_thread(t, tid) : 0;
}

void target_resume_last(struct target *t, pid_t tid)
{
	if (t->ops->resume_last)
		t->ops->resume_last(t, tid);
}

void target_set_freeze_policy(struct target *t, const struct freeze_policy *policy)
{
	if (t->ops->set_freeze_policy)
		t->ops->set_freeze_policy(t, policy);
}

void target_forget_pages(struct target *t)
{
	if (t->ops->forget_pages)
		t->ops->forget_pages(t);
}

int target_read_ranges(struct target *t, const struct target_range *ranges, size_t n, uint8_t *out)
{
	if (t->ops->read_ranges)
		return t->ops->read_ranges(t, ranges, n, out);
	for (size_t i = 0; i < n; i++) {
		int ret = target_read(t, ranges[i].addr, out, ranges[i].len);
		if (ret < 0)
			return ret;
		out += ranges[i].len;
	}
	return 0;
}

void target_prefetch_from_here(struct target *t)
{
	if (t->ops->prefetch_from_here)
		t->ops->prefetch_from_here(t);
}

void target_answer_reports(struct target *t)
{
	if (t && t->ops->answer_reports)
		t->ops->answer_reports(t);
}

double target_last_pause(const struct target *t)
{
	return t->ops->last_pause ? t->ops->last_pause(t) : 0;
}

int target_thread_syscall(struct target *t, pid_t tid, struct target_syscall *out)
{
	if (!t->ops->thread_syscall)
		return err_set(ERR_USAGE, "a %s cannot tell where a thread waits", target_kind_name(t));
	return t->ops->thread_syscall(t, tid, out);
}

int target_thread_runtime(struct target *t, pid_t tid, struct target_runtime *out)
{
	if (!t->ops->thread_runtime)
		return err_set(ERR_USAGE, "pid %d cannot tell how long its threads ran", (int)t->pid);
	return t->ops->thread_runtime(t, tid, out);
}

void target_detach(struct target *t)
{
	if (t && t->ops && t->ops->detach)
		t->ops->detach(t);
}

void target_hold_crashes(struct target *t, bool hold)
{
	if (t->ops->hold_crashes)
		t->ops->hold_crashes(t, hold);
}

bool target_crash_held(struct target *t)
{
	return t->ops->crash_held && t->ops->crash_held(t);
}

void target_release_crash(struct target *t)
{
	if (t->ops->release_crash)
		t->ops->release_crash(t);
}

bool target_end_status(const struct target *t, int *status)
{
	return t && t->ops->end_status && t->ops->end_status(t, status);
}

int target_range_wraps(uint64_t addr, size_t len)
{
	return err_set(ERR_UNMAPPED, "cannot read %zu bytes at 0x%llx: the range wraps around", len,
	               (unsigned long long)addr);
}

int target_read_u64(struct target *t, uint64_t addr, uint64_t *out)
{
	return target_read(t, addr, out, sizeof(*out));
}

int target_read_u32(struct target *t, uint64_t addr, uint32_t *out)
{
	return target_read(t, addr, out, sizeof(*out));
}

int target_read_i32(struct target *t, uint64_t addr, int32_t *out)
{
	return target_read(t, addr, out, sizeof(*out));
}

const struct target_mapping *target_find_mapping(const struct target *t, uint64_t addr)
{
	size_t i = SORTED_RANGE_FIND(t->mappings, t->nmappings, start, end, addr);
	return i == SIZE_MAX ? NULL : &t->mappings[i];
}

const struct target_mapping *target_first_mapping_of(const struct target *t, const char *path)
{
	if (!path)
		return NULL;
	for (size_t i = 0; i < t->nmappings; i++)
		if (t->mappings[i].path && strcmp(t->mappings[i].path, path) == 0)
			return &t->mappings[i];
	return NULL;
}

const struct target_thread *target_find_thread(const struct target *t, pid_t tid)
{
	if (t->threads_sorted) {
		/* Called per thread per sample: with hundreds of threads a
		 * linear search would cost more than the rest of the pause. */
		size_t lo = 0, hi = t->nthreads;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (t->threads[mid].tid < tid)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo < t->nthreads && t->threads[lo].tid == tid ? &t->threads[lo] : NULL;
	}
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return &t->threads[i];
	return NULL;
}

pid_t target_tid_from_ns(const struct target *t, pid_t ns_tid)
{
	if (!t->ns_pid)
		return ns_tid;
	size_t lo = 0, hi = t->n_ns_tids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->ns_tids[mid].ns_tid < ns_tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n_ns_tids && t->ns_tids[lo].ns_tid == ns_tid ? t->ns_tids[lo].tid : 0;
}

uint64_t target_auxv(const struct target *t, uint64_t type)
{
	for (size_t i = 0; i + 1 < t->auxv_words; i += 2) {
		if (t->auxv[i] == 0)    /* AT_NULL ends the vector */
			break;
		if (t->auxv[i] == type)
			return t->auxv[i + 1];
	}
	return 0;
}

/* Whether a futex call with operation word OP waits: the wakes, requeues
 * and unlocks return at once. A thread that hands a lock over (2.7's GIL
 * passes between two busy threads through FUTEX_WAKE thousands of times a
 * second) is running, not waiting. */
static bool futex_waits(uint64_t op)
{
	switch (op & 0x7f) {   /* without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME */
	case 0:  /* FUTEX_WAIT */
	case 6:  /* FUTEX_LOCK_PI */
	case 9:  /* FUTEX_WAIT_BITSET */
	case 11: /* FUTEX_WAIT_REQUEUE_PI */
	case 13: /* FUTEX_LOCK_PI2 */
		return true;
	default:
		return false;
	}
}

/* Whether syscall NR (x86_64 numbers), with its second argument ARG1, is
 * one a thread sits in while it waits. */
static bool waiting_syscall(int64_t nr, uint64_t arg1)
{
	switch (nr) {
	case 202: /* futex */
		return futex_waits(arg1);
	case 0:   /* read */
	case 7:   /* poll */
	case 23:  /* select */
	case 34:  /* pause */
	case 35:  /* nanosleep */
	case 43:  /* accept */
	case 45:  /* recvfrom */
	case 47:  /* recvmsg */
	case 61:  /* wait4 */
	case 128: /* rt_sigtimedwait */
	case 219: /* restart_syscall: a sleep resumed after a ptrace stop */
	case 230: /* clock_nanosleep */
	case 232: /* epoll_wait */
	case 247: /* waitid */
	case 270: /* pselect6 */
	case 271: /* ppoll */
	case 281: /* epoll_pwait */
	case 288: /* accept4 */
	case 441: /* epoll_pwait2 */
	case 449: /* futex_waitv */
		return true;
	default:
		return false;
	}
}

/* A stopped thread's orig_rax is the syscall it was in (-1 outside one).
 * That is more reliable than the run state read before stopping it: a
 * thread that a previous stop pulled out of its syscall is briefly
 * runnable while the kernel restarts it. A restart itself happens in user
 * mode (the instruction pointer is moved back onto the `syscall`
 * instruction, rax holding the number again): a thread stopped there is
 * about to wait too. */
bool target_thread_regs(struct target *t, const struct target_thread *th)
{
	if (th->regs_pending && t->ops->load_regs)
		t->ops->load_regs(t, (struct target_thread *)th);   /* a cache the target owns */
	return th->has_regs;
}

bool target_thread_waiting(struct target *t, const struct target_thread *th)
{
	if (!th)
		return false;
	if (!target_thread_regs(t, th))
		return th->state && th->state != 'R';
	if ((int64_t)th->regs[TREG_ORIG_RAX] >= 0)
		return waiting_syscall((int64_t)th->regs[TREG_ORIG_RAX], th->regs[TREG_RSI]);
	uint8_t insn[2];
	return waiting_syscall((int64_t)th->regs[TREG_RAX], th->regs[TREG_RSI]) &&
	       target_read(t, th->regs[TREG_RIP], insn, sizeof(insn)) == 0 && insn[0] == 0x0f && insn[1] == 0x05;
}
