/* Stopping and resuming a live process's threads with PTRACE_SEIZE and
 * PTRACE_INTERRUPT (never PTRACE_ATTACH), reading registers while stopped.
 * Signals that arrive meanwhile are passed on (a fatal one kept when crash
 * holding is on: live_crash.c); a SIGSTOPped process stays so. */
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "targets/live_internal.h"

#define FREEZE_TIMEOUT 0.5          /* seconds to wait for every thread to stop */
#define SPIN_SECONDS 100e-6         /* poll this long for a stop before sleeping */
#define HOLD_SECONDS 100e-6         /* an interrupt reaches a thread on a CPU sooner than this */
#define HOLD_HERE_SECONDS 10e-6     /* the same, for a thread that last ran on our CPU */
#define DETACH_TIMEOUT 1.0
#define REAP_TIMEOUT 0.1            /* seconds to reap threads that were exiting as we detached */
#define RELIST_ROUNDS 4             /* relistings while frozen, to catch new threads */
#define MAX_PASSED_SIGNALS 64       /* signals passed on while waiting for one stop */

_Static_assert(sizeof(struct user_regs_struct) == TREG__COUNT * sizeof(uint64_t),
               "enum target_reg must mirror struct user_regs_struct");

/* REPORT_CRASH: stopped, holding a fatal signal (live_crash_hold()). */
enum report { REPORT_NONE, REPORT_STOPPED, REPORT_GONE, REPORT_CONTINUED, REPORT_CRASH };

static long trace(int request, pid_t tid, long data)
{
	return ptrace((enum __ptrace_request)request, tid, NULL, (void *)data);
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Poll for one report of TID without blocking: >0 with *STATUS, 0 when none,
 * <0 when TID is no tracee of ours. When we are the target's parent, the
 * main thread's exit is only peeked at: its exit status belongs to our
 * caller, who waits for the child. */
static pid_t poll_report(const struct live_backend *b, pid_t tid, int *status)
{
	if (b->is_parent && tid == b->pid) {
		siginfo_t si = {0};
		if (waitid(P_PID, (id_t)tid, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL) < 0)
			return -1;
		if (si.si_pid == 0)
			return 0;
		if (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
			/* The wait status it will be reaped with. */
			*status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
			                                   : (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
			return tid;
		}
	}
	pid_t r;
	do
		r = waitpid(tid, status, __WALL | WNOHANG);
	while (r < 0 && errno == EINTR);
	return r;
}

/* TID ended with wait STATUS: the group leader's is how the process ended.
 * Only plain stores: this also runs in signal handlers. */
static void note_end(struct live_backend *b, pid_t tid, int status)
{
	if (tid == b->pid && !b->has_end_status) {
		b->end_status = status;
		b->has_end_status = true;
	}
}

/* Detach TID, reported stopped with STATUS; a signal-delivery-stop keeps
 * its signal for the thread. */
static void let_go(pid_t tid, int status)
{
	trace(PTRACE_DETACH, tid, status >> 16 == 0 ? WSTOPSIG(status) : 0);
}

/* TASK vanished under a ptrace request: it is exiting, or gone. Until its
 * exit is reaped it may be a zombie of ours: remember to reap it. Only
 * plain stores: this also runs in signal handlers. */
static void lost(struct live_backend *b, struct live_task *task)
{
	task->ctl = CTL_GONE;
	if (b->nto_reap < LIVE_REAP_MAX)
		b->to_reap[b->nto_reap++] = task->tid;
}

/* Act on one wait status of TASK. PASS_SIGNALS: a signal-delivery-stop is
 * sent on at once with its signal (we are waiting for our own stop, which
 * follows); otherwise the thread stays stopped and the signal is kept for
 * when it goes on. Either way a fatal signal is held when crash holding is
 * on. */
static enum report take_report(struct live_backend *b, struct live_task *task, int status, bool pass_signals)
{
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		note_end(b, task->tid, status);
		task->ctl = CTL_GONE;
		return REPORT_GONE;
	}
	if (!WIFSTOPPED(status))
		return REPORT_NONE;
	int sig = WSTOPSIG(status), event = status >> 16;
	if (event == PTRACE_EVENT_STOP) {
		/* Our interrupt (SIGTRAP) or a group-stop (the stopping signal). */
		task->ctl = CTL_STOPPED;
		task->group_stop = is_stop_signal(sig);
		return REPORT_STOPPED;
	}
	if (event == 0 && b->hold_crashes && live_crash_fatal(b, task->tid, sig)) {
		live_crash_hold(b, task, sig);
		return REPORT_CRASH;
	}
	if (event == 0 && !pass_signals) {
		task->ctl = CTL_STOPPED;
		task->group_stop = false;
		task->pending_sig = sig;
		return REPORT_STOPPED;
	}
	if (trace(PTRACE_CONT, task->tid, event == 0 ? sig : 0) < 0) {
		lost(b, task);
		return REPORT_GONE;
	}
	return REPORT_CONTINUED;
}

/* Waiting for stops: each ptrace-stop sends us SIGCHLD, so once SIGCHLD is
 * blocked we sleep in sigtimedwait() until one arrives, in short slices in
 * case the caller ignores SIGCHLD (then none is sent) or it came before we
 * blocked it. Blocked only when a wait comes to sleeping: most stops are
 * over sooner. */
struct stop_wait {
	sigset_t chld, saved;
	bool blocked;               /* SIGCHLD is blocked, SAVED holds the mask before */
	bool consumed;              /* we took a SIGCHLD that may have been the caller's */
};

static void stop_wait_begin(struct stop_wait *sw)
{
	sigemptyset(&sw->chld);
	sigaddset(&sw->chld, SIGCHLD);
	sw->blocked = false;
	sw->consumed = false;
}

static void stop_wait_end(struct stop_wait *sw)
{
	if (!sw->blocked)
		return;
	pthread_sigmask(SIG_SETMASK, &sw->saved, NULL);
	/* Give a caller that handles SIGCHLD the one we may have eaten; a
	 * spurious SIGCHLD is harmless to a handler that uses WNOHANG. */
	struct sigaction current;
	if (sw->consumed && !sigismember(&sw->saved, SIGCHLD) && sigaction(SIGCHLD, NULL, &current) == 0 &&
	    current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN)
		raise(SIGCHLD);
}

static void stop_wait_sleep(struct stop_wait *sw)
{
	struct timespec slice = {0, 1000 * 1000};
	if (!sw->blocked) {
		pthread_sigmask(SIG_BLOCK, &sw->chld, &sw->saved);
		sw->blocked = true;
	}
	if (sigtimedwait(&sw->chld, NULL, &slice) == SIGCHLD)
		sw->consumed = true;
}

/* Reap what can be reaped of the threads in b->to_reap; true when some are
 * still exiting. Only syscalls: this also runs in signal handlers. */
static bool reap_lost(struct live_backend *b)
{
	size_t kept = 0;
	for (size_t i = 0; i < b->nto_reap; i++) {
		pid_t tid = b->to_reap[i];
		int status;
		pid_t r = poll_report(b, tid, &status);
		if (r == 0) {
			b->to_reap[kept++] = tid;   /* not a zombie yet */
			continue;
		}
		/* A stop after all: it was not exiting. */
		if (r > 0 && WIFSTOPPED(status))
			let_go(tid, status);
		else if (r > 0)
			note_end(b, tid, status);
	}
	b->nto_reap = kept;
	return kept > 0;
}

/* Wait until TASK (interrupted) reports a stop or its end, up to DEADLINE.
 * A running thread stops within microseconds, much sooner than a sleeping
 * profiler would be woken to hear of it: poll first, then sleep. Past
 * HOLD_AT (0: never) the task is held instead (the freeze policy's
 * hold_unstopped). A thread that last ran on this CPU most likely waits
 * for it, preempted by us as we woke: it cannot stop before we leave the
 * CPU. So it is held sooner when holding is allowed; otherwise we sleep at
 * once, and its stop's report wakes us (a yield would not let it run while
 * the pause runs at real-time priority). Returns false on timeout or hold
 * (the task stays CTL_INTERRUPTED). */
static bool await_stop(struct live_backend *b, struct live_task *task, struct stop_wait *sw, double deadline,
                       double hold_at, bool pass_signals)
{
	unsigned passed = 0;
	double start = time_now();
	double spin_until = start + SPIN_SECONDS;
	bool here = task->cpu < 0 || task->cpu == sched_getcpu();
	if (hold_at > 0 && here && hold_at > start + HOLD_HERE_SECONDS)
		hold_at = start + HOLD_HERE_SECONDS;
	bool leave_cpu = here && hold_at == 0;
	for (;;) {
		int status;
		pid_t r = poll_report(b, task->tid, &status);
		if (r < 0) {
			task->ctl = CTL_GONE;   /* ECHILD: no longer a tracee of ours */
			return true;
		}
		if (r > 0) {
			enum report what = take_report(b, task, status, pass_signals && passed < MAX_PASSED_SIGNALS);
			if (what == REPORT_STOPPED || what == REPORT_GONE || what == REPORT_CRASH)
				return true;
			passed += what == REPORT_CONTINUED;
			continue;
		}
		double now = time_now();
		if (now > deadline)
			return false;
		if (hold_at > 0 && now > hold_at) {
			task->held = true;
			return false;
		}
		if (now < spin_until && !leave_cpu)
			continue;
		/* A group leader that exited reports only once its threads are
		 * reaped: reap those we lost. */
		reap_lost(b);
		stop_wait_sleep(sw);
	}
}

int live_seize(struct live_backend *b, struct live_task *task)
{
	/* No options: in particular never PTRACE_O_EXITKILL, so that the target
	 * outlives us, and no clone tracing, which would stop every thread
	 * creation until we answer; new threads are found by relisting. */
	if (trace(PTRACE_SEIZE, task->tid, 0) == 0) {
		task->ctl = CTL_RUNNING;
		task->group_stop = false;
		task->pending_sig = 0;
		return 0;
	}
	int saved = errno;
	if (saved == ESRCH)
		return err_set(ERR_NO_PROCESS, "thread %d of pid %d exited", (int)task->tid, (int)b->pid);
	pid_t ppid, tgid, tracer = 0;
	if (live_proc_ids(b->pid, &ppid, &tgid, &tracer) == 0 && tracer && tracer != getpid()) {
		int ret = err_set(ERR_PERM, "cannot attach to pid %d: it is already traced by pid %d", (int)b->pid,
		                  (int)tracer);
		err_hint("detach the debugger or profiler first, or use --nonblocking");
		return ret;
	}
	int ret = err_set_errno(saved == EPERM || saved == EACCES ? ERR_PERM : ERR_IO, saved,
	                        "cannot attach to pid %d", (int)b->pid);
	if (ret == -ERR_PERM)
		live_perm_hint(b->pid, true);
	return ret;
}

void live_reap_reports(struct live_backend *b)
{
	reap_lost(b);
	struct live_task *tasks = b->tasks;
	for (size_t i = 0; i < b->ntasks; i++) {
		struct live_task *task = &tasks[i];
		for (int round = 0; round < 4; round++) {
			if (task->ctl != CTL_RUNNING && task->ctl != CTL_INTERRUPTED)
				break;
			int status;
			pid_t r = poll_report(b, task->tid, &status);
			if (r < 0)
				task->ctl = CTL_GONE;
			if (r <= 0)
				break;
			enum report what = take_report(b, task, status, true);
			if (what == REPORT_CRASH)
				break;   /* kept stopped for the caller */
			if (what == REPORT_CONTINUED) {
				task->ctl = CTL_RUNNING;
			} else if (what == REPORT_STOPPED) {
				/* A late stop (after SIGCONT, or an interrupt we gave up
				 * on): let it go, keeping a group-stop in force. */
				int request = task->group_stop ? PTRACE_LISTEN : PTRACE_CONT;
				if (trace(request, task->tid, 0) == 0)
					task->ctl = CTL_RUNNING;
				else
					lost(b, task);
			}
		}
	}
}

static struct live_task *find_task(struct live_backend *b, pid_t tid)
{
	return live_find_task(b, tid);
}

/* Whether a thread in run state STATE may be executing: runnable, on a CPU
 * or in an uninterruptible wait (page faults too). Unknown counts as yes. */
static bool may_be_running(char state)
{
	return state == 'R' || state == 'D' || state == 0;
}

static void read_regs(struct live_task *task)
{
	struct iovec iov = {.iov_base = task->regs, .iov_len = sizeof(task->regs)};
	task->has_regs = ptrace(PTRACE_GETREGSET, task->tid, (void *)(uintptr_t)NT_PRSTATUS, &iov) == 0 &&
	                 iov.iov_len == sizeof(task->regs);
}

static bool interrupt(struct live_backend *b, struct live_task *task)
{
	if (!b->stopped_any) {
		b->stopped_at = time_now();
		b->stopped_any = true;
	}
	if (trace(PTRACE_INTERRUPT, task->tid, 0) == 0)
		task->ctl = CTL_INTERRUPTED;
	else
		lost(b, task);
	return task->ctl == CTL_INTERRUPTED;
}

/* While frozen, threads started by a thread before it stopped may have
 * appeared: seize, interrupt and wait for them too, until the listing is
 * stable. Uses only the room reserved before the pause. */
static void catch_new_threads(struct live_backend *b, struct stop_wait *sw, double deadline)
{
	for (int round = 0; round < RELIST_ROUNDS; round++) {
		size_t count;
		bool added = false;
		if (live_proc_list_tasks(b->task_dir_fd, b->listing, b->listing_cap, &count) < 0)
			return;
		if (count > b->listing_cap)
			count = b->listing_cap;
		for (size_t i = 0; i < count && b->ntasks < b->tasks_cap; i++) {
			if (find_task(b, b->listing[i]))
				continue;
			struct live_task *task = &b->tasks[b->ntasks];
			*task = (struct live_task){.tid = b->listing[i], .stat_fd = -1, .schedstat_fd = -1, .cpu = -1};
			if (live_seize(b, task) < 0 || !interrupt(b, task))
				continue;
			b->ntasks++;
			added = true;
			await_stop(b, task, sw, deadline, 0, true);
		}
		if (!added)
			return;
	}
}

/* The pause runs at real-time priority where we may raise ours (root, or
 * CAP_SYS_NICE, or an RLIMIT_RTPRIO): a program woken on our CPU would
 * otherwise take it for a time slice while the target waits stopped, which
 * on a busy machine is the whole tail of the pauses (some 4% of them
 * lasting 3 ms on average with 4 processes sampled on 2 busy CPUs). Only
 * the pause: the rest of a sample, and the waits between samples, run as
 * before. Where the priority cannot be raised nothing changes. */
static int rt_state;                 /* 0 untried, 1 allowed, -1 not allowed */
static int saved_policy;
static struct sched_param saved_param;

static void pause_priority_raise(void)
{
	if (rt_state < 0)
		return;
	if (rt_state == 0) {
		saved_policy = sched_getscheduler(0);
		if (saved_policy < 0 || saved_policy == SCHED_FIFO || saved_policy == SCHED_RR ||
		    sched_getparam(0, &saved_param) < 0) {
			rt_state = -1;   /* already real-time (or unknown): leave it */
			return;
		}
	}
	struct sched_param rt = {.sched_priority = 1};
	rt_state = sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &rt) == 0 ? 1 : -1;
}

static void pause_priority_restore(void)
{
	if (rt_state > 0)
		sched_setscheduler(0, saved_policy, &saved_param);
}

/* Everything that reads /proc or allocates happens before the pause:
 * libraries loaded since the last look are mapped by the next sample. */
static int prepare(struct target *t, struct live_backend *b)
{
	int ret = live_sync_tasks(t, b);
	if (ret < 0 || (ret = live_refresh_maps(t, b)) < 0)
		return ret;
	live_cache_clear(&b->cache);
	return 0;
}

static int check_freezable(const struct target *t)
{
	const struct live_backend *b = t->backend;
	if (!b->freeze)
		return err_set(ERR_USAGE, "pid %d was opened without freezing", (int)t->pid);
	return 0;
}

int live_prepare_freeze(struct target *t)
{
	struct live_backend *b = t->backend;
	int ret = check_freezable(t);
	if (ret < 0 || b->frozen)
		return ret;
	ret = prepare(t, b);
	b->rehearsing = ret == 0;
	return ret;
}

int live_freeze(struct target *t)
{
	struct live_backend *b = t->backend;
	int ret = check_freezable(t);
	if (ret < 0 || b->frozen)
		return ret;
	if (b->rehearsing) {
		live_cache_after_rehearsal(&b->cache);
	} else {
		if ((ret = prepare(t, b)) < 0)
			return ret;
		live_cache_warm(b);
	}
	b->rehearsing = false;
	b->frozen = true;
	b->stopped_any = false;
	pause_priority_raise();

	struct live_task *tasks = b->tasks;
	size_t n = b->ntasks;
	struct stop_wait sw;
	stop_wait_begin(&sw);
	for (size_t i = 0; i < n; i++) {
		tasks[i].has_regs = false;
		if (tasks[i].ctl == CTL_RUNNING && (!b->only_running || may_be_running(tasks[i].state)))
			interrupt(b, &tasks[i]);
	}
	double deadline = time_now() + FREEZE_TIMEOUT;
	/* A thread held by the last freeze may still be interrupted. */
	double hold_at = b->hold_unstopped ? (b->stopped_any ? b->stopped_at : time_now()) + HOLD_SECONDS : 0;
	for (size_t i = 0; i < n; i++)
		if (tasks[i].ctl == CTL_INTERRUPTED)
			await_stop(b, &tasks[i], &sw, deadline, hold_at, true);
	/* Threads left asleep may change anyway: catching the newest is not
	 * worth the listing. */
	if (!b->only_running)
		catch_new_threads(b, &sw, deadline);
	stop_wait_end(&sw);

	/* Registers now, or when asked for (live_load_regs). */
	size_t alive = 0;
	for (size_t i = 0; i < b->ntasks; i++) {
		struct live_task *task = &tasks[i];
		if (task->ctl == CTL_GONE)
			continue;
		alive++;
		if (task->ctl == CTL_STOPPED && !b->only_running)
			read_regs(task);
	}
	live_publish_threads(t, b);
	if (!alive) {
		pause_priority_restore();
		return err_set(ERR_PROCESS_GONE, "process %d exited", (int)t->pid);
	}
	return 0;
}

void live_load_regs(struct target *t, struct target_thread *th)
{
	struct live_backend *b = t->backend;
	struct live_task *task = b->frozen ? find_task(b, th->tid) : NULL;
	th->regs_pending = false;
	if (!task || task->ctl != CTL_STOPPED)
		return;
	if (!task->has_regs)
		read_regs(task);
	th->has_regs = task->has_regs;
	if (th->has_regs)
		memcpy(th->regs, task->regs, sizeof(th->regs));
}

int live_stop_thread(struct target *t, pid_t tid)
{
	struct live_backend *b = t->backend;
	if (!b->frozen)
		return err_set(ERR_USAGE, "pid %d is not frozen", (int)t->pid);
	struct live_task *task = find_task(b, tid);
	if (task && task->ctl == CTL_STOPPED)
		return 0;
	if (!task || task->ctl != CTL_RUNNING)
		return err_set(ERR_NO_PROCESS, "thread %d of pid %d is not running", (int)tid, (int)t->pid);
	struct stop_wait sw;
	stop_wait_begin(&sw);
	double now = time_now();
	if (interrupt(b, task))
		await_stop(b, task, &sw, now + FREEZE_TIMEOUT, b->hold_unstopped ? now + HOLD_SECONDS : 0, true);
	stop_wait_end(&sw);
	if (task->ctl == CTL_STOPPED)
		read_regs(task);
	live_publish_threads(t, b);
	if (task->ctl != CTL_STOPPED && !(task->ctl == CTL_INTERRUPTED && task->held))
		return err_set(ERR_NO_PROCESS, "thread %d of pid %d did not stop", (int)tid, (int)t->pid);
	return 0;
}

void live_resume_last(struct target *t, pid_t tid)
{
	struct live_backend *b = t->backend;
	b->resume_last = tid;
}

/* Let one stopped TASK go; returns when it was let go. TIMED: it is the
 * last, whose call ends the pause. That call wakes the thread, which may
 * take this CPU before the call returns: the time until we run again is
 * ours, not the process's, so a preempted call counts as long as the last
 * unpreempted one took. */
static double resume_task(struct live_backend *b, struct live_task *task, bool timed)
{
	/* A group-stopped process stays stopped: PTRACE_LISTEN keeps the
	 * thread in its stop while letting SIGCONT through. */
	int request = task->group_stop ? PTRACE_LISTEN : PTRACE_CONT;
	long sig = task->group_stop ? 0 : task->pending_sig;
	struct rusage before, after;
	timed = timed && getrusage(RUSAGE_THREAD, &before) == 0;
	double started = time_now();
	if (trace(request, task->tid, sig) == 0)
		task->ctl = CTL_RUNNING;
	else
		lost(b, task);
	task->pending_sig = 0;
	double ended = time_now();
	if (timed && getrusage(RUSAGE_THREAD, &after) == 0 && after.ru_nivcsw != before.ru_nivcsw)
		return started + b->resume_cost;
	if (timed)
		b->resume_cost = ended - started;
	return ended;
}

int live_resume(struct target *t)
{
	struct live_backend *b = t->backend;
	if (!b->frozen)
		return 0;
	struct live_task *tasks = b->tasks;
	size_t last = b->ntasks, named = b->ntasks;
	for (size_t i = 0; i < b->ntasks; i++) {
		struct live_task *task = &tasks[i];
		if (task->ctl == CTL_INTERRUPTED) {
			/* It did not stop in time; it may have by now. */
			int status;
			if (poll_report(b, task->tid, &status) > 0)
				take_report(b, task, status, false);
		}
		if (task->ctl == CTL_STOPPED && !task->crashed) {
			last = i;
			if (task->tid == b->resume_last)
				named = i;
		}
	}
	/* A thread let go may take this CPU before the next is let go: the
	 * GIL holder, which would keep it for a time slice, goes last when
	 * the caller named it. */
	if (named < b->ntasks)
		last = named;
	double ended = time_now();
	for (size_t i = 0; i < b->ntasks; i++)
		if (i != last && tasks[i].ctl == CTL_STOPPED && !tasks[i].crashed)
			ended = resume_task(b, &tasks[i], false);
	if (last < b->ntasks)
		ended = resume_task(b, &tasks[last], true);
	b->last_pause = b->stopped_any ? ended - b->stopped_at : 0;
	pause_priority_restore();
	/* A held thread stays interrupted: its stop, when it comes, is
	 * answered by target_answer_reports() or the next freeze. */
	for (size_t i = 0; i < b->ntasks; i++)
		tasks[i].held = false;
	b->frozen = false;
	b->resume_last = 0;
	live_cache_after_pause(&b->cache);
	return 0;
}

void live_let_task_go(struct live_backend *b, struct live_task *task)
{
	resume_task(b, task, false);
}

void live_release_crash(struct target *t)
{
	struct live_backend *b = t->backend;
	for (size_t i = 0; i < b->ntasks; i++) {
		struct live_task *task = &b->tasks[i];
		if (!task->crashed)
			continue;
		task->crashed = false;
		/* Frozen: the resume lets it go with the rest. */
		if (!b->frozen && task->ctl == CTL_STOPPED)
			resume_task(b, task, false);
	}
	b->crash_tid = 0;
}

double live_last_pause(const struct target *t)
{
	const struct live_backend *b = t->backend;
	return b ? b->last_pause : 0;
}

/* Threads that were exiting as we detached could be neither stopped nor
 * detached: they stay ours, zombies until we reap them, and their process
 * cannot be reaped before they are (a worker process would hang the parent
 * that joins it, for as long as we live). Reap them as they end, for a
 * moment. */
static void reap_exiting(struct live_backend *b)
{
	double deadline = time_now() + REAP_TIMEOUT;
	while (reap_lost(b) && time_now() < deadline) {
		struct timespec nap = {0, 200 * 1000};
		nanosleep(&nap, NULL);
	}
}

/* Only syscalls from here on: this runs in signal handlers. */
void live_detach(struct target *t)
{
	struct live_backend *b = t->backend;
	if (!b || !b->freeze)
		return;
	struct live_task *tasks = b->tasks;
	size_t n = b->ntasks;
	/* A held fatal signal is delivered by the detach below, with the
	 * thread's pending signal; none is held from here on. */
	b->hold_crashes = false;
	b->crash_tid = 0;
	/* PTRACE_DETACH needs a stopped tracee: stop the running ones first,
	 * all at once, keeping any signal that arrives for delivery on detach. */
	for (size_t i = 0; i < n; i++) {
		if (tasks[i].ctl != CTL_RUNNING)
			continue;
		if (trace(PTRACE_INTERRUPT, tasks[i].tid, 0) == 0)
			tasks[i].ctl = CTL_INTERRUPTED;
		else
			lost(b, &tasks[i]);
	}
	double deadline = time_now() + DETACH_TIMEOUT;
	struct stop_wait sw;
	stop_wait_begin(&sw);
	for (size_t i = 0; i < n; i++) {
		struct live_task *task = &tasks[i];
		if (task->ctl == CTL_INTERRUPTED)
			await_stop(b, task, &sw, deadline, 0, false);
		if (task->ctl == CTL_STOPPED || task->ctl == CTL_INTERRUPTED) {
			/* Detaching a group-stopped thread leaves it in the group-stop.
			 * A thread that never stopped is detached by the kernel when we
			 * exit, unless it was exiting: then it is ours to reap. */
			if (trace(PTRACE_DETACH, task->tid, task->group_stop ? 0 : task->pending_sig) < 0)
				lost(b, task);
		}
		if (task->ctl != CTL_GONE)
			task->ctl = CTL_UNTRACED;
		task->pending_sig = 0;
	}
	stop_wait_end(&sw);
	reap_exiting(b);
	b->frozen = false;
	b->freeze = false;
}

/* A thread that was exiting as we detached could not be detached: it stays
 * ours, a zombie until we reap it, and its process cannot be reaped before
 * its threads are. So whatever ends is reaped (__WALL: threads too), and a
 * thread still ours that stops (it did not stop in time to be detached) is
 * let go. */
bool live_reap_launched(pid_t root, double deadline, volatile sig_atomic_t *stop, int *root_status)
{
	/* Polled: soon after a signal most of the tree ends within
	 * milliseconds; a command that runs on is looked at less often. */
	long nap_ns = 1000 * 1000;
	for (;;) {
		int status;
		pid_t ended = waitpid(-1, &status, WNOHANG | __WALL);
		if (ended > 0) {
			if (WIFSTOPPED(status))
				let_go(ended, status);
			else if (ended == root)
				*root_status = status;
			continue;
		}
		if (ended < 0 && errno == EINTR)
			continue;
		if (ended < 0)
			return true;   /* ECHILD: nothing of ours is left */
		if (time_now() >= deadline || (stop && *stop))
			return false;
		struct timespec nap = {0, nap_ns};
		nanosleep(&nap, NULL);
		if (nap_ns < 50 * 1000 * 1000)
			nap_ns *= 2;
	}
}
