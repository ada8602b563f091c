/* A recording of a process tree: the processes sampled together into one
 * aggregate. The root is attached to or launched; with subprocesses, the
 * Python processes below it join as they appear (the root itself need not
 * be Python), one that exits is let go and one that exec'd is opened anew;
 * a launched command and all it started are ended here when the recording
 * is over. It never prints: what a caller shows is told to it. */
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "pycoreprof/collect.h"

/* How long a launched command has to start its interpreter when only the
 * command itself is sampled. */
#define LAUNCH_WAIT_SECONDS 10.0
/* With subprocesses, how long a launched command that is not Python yet
 * is waited for before the recording starts without it (a launcher such as
 * pyenv's shim execs the interpreter within this). */
#define LAUNCH_ROOT_WAIT 1.0
/* Looks for new processes below the root, in seconds between them: often
 * while nothing is sampled (a wrapper about to start Python), else
 * seldom, since each reads the tree's /proc entries. */
#define SCAN_WAITING 0.05
#define SCAN_SAMPLING 0.5
/* A process that is not (yet) Python is probed again this many times,
 * the first after PROBE_FIRST_GAP seconds and each gap twice the last (a
 * few seconds in all: an interpreter starting, an embedding program loading
 * libpython); then again only after it execs. */
#define PROBE_TRIES 8
#define PROBE_FIRST_GAP 0.02
/* What a launched command is given to end after SIGKILL (seconds): a
 * process in an uninterruptible sleep takes it only when it wakes. */
#define END_KILL_GRACE 5.0

void process_tree_init(struct process_tree *tree, struct aggregate *agg, const struct tree_options *opts)
{
	memset(tree, 0, sizeof(*tree));
	tree->opts = *opts;
	tree->agg = agg;
}

static struct profiled *add_process(struct process_tree *tree, const struct live_proc *proc)
{
	struct profiled *p = ARRAY_PUSH(tree->procs, tree->nprocs, tree->cap);
	if (p) {
		p->pid = proc->pid;
		p->start_time = proc->start_time;
	}
	return p;
}

/* Open P for sampling; WAIT_SECONDS covers an interpreter still starting. */
static int start_process(struct process_tree *tree, struct profiled *p, double wait_seconds)
{
	int ret = live_session_open(&p->session, p->pid, tree->opts.sampling.freeze, wait_seconds,
	                            &guard_stop_requested);
	if (ret < 0)
		return ret;
	struct sampler_options sampling = tree->opts.sampling;
	if (tree->opts.subprocesses) {
		const char *command = live_session_command(&p->session);
		free(p->label);
		p->label = xasprintf("process %d \"%s\"", (int)p->pid, command);
		if (!p->label)
			return -ERR_NOMEM;
		sampling.process_root = p->label;
	}
	sampler_release(&p->sampler);
	native_unwinder_free(p->unwinder);
	p->unwinder = NULL;
	sampler_init(&p->sampler, p->session.target, p->session.walker, tree->agg, &sampling);
	if (tree->opts.native != NATIVE_OFF &&
	    ((ret = native_unwinder_new(p->session.target, pywalker_info(p->session.walker), &p->unwinder)) < 0 ||
	     (ret = sampler_enable_native(&p->sampler, p->unwinder, tree->opts.native,
	                                  tree->opts.native_stack_bytes)) < 0))
		return ret;
	/* A Python older than 3.7 has no tasks to follow: sampled as usual. */
	if (sampling.async_tasks && (ret = sampler_enable_tasks(&p->sampler)) < 0 && ret != -ERR_UNSUPPORTED_PYTHON)
		return ret;
	if (tree->opts.crash_seen && tree->opts.sampling.freeze)
		target_hold_crashes(p->session.target, true);
	p->active = true;
	p->since = time_now();
	p->until = 0;
	if (!tree->python[0])
		snprintf(tree->python, sizeof(tree->python), "%s", live_session_python(&p->session));
	return 0;
}

/* Try P once more, found without attaching before it is opened: a process
 * that is not Python is never stopped or traced. After PROBE_TRIES misses,
 * or an error that waiting does not mend, it waits for an exec. Returns
 * why it is not sampled. */
static int probe_process(struct process_tree *tree, struct profiled *p, double now)
{
	if (!p->attempts)
		live_proc_image(p->pid, &p->image);
	int ret = live_session_probe(p->pid);
	if (ret == 0 && (ret = start_process(tree, p, 0)) == 0)
		return 0;
	live_session_release(&p->session);
	p->next_probe = now + PROBE_FIRST_GAP * (double)(1u << p->attempts);
	if (++p->attempts >= PROBE_TRIES || !live_session_retryable(ret))
		p->rejected = true;
	return ret;
}

/* The share of the time P was sampled that it spent stopped. */
static double stopped_share(const struct profiled *p)
{
	double span = (p->until ? p->until : time_now()) - p->since;
	return p->since && span > 0 ? pause_stats_sum(&p->sampler.stats.pauses) / span : 0;
}

/* Keep P's counts for the totals and release its sampler: P exited
 * (ENDED), or exec'd and is sampled anew. */
static void retire_stats(struct process_tree *tree, struct profiled *p, bool ended)
{
	struct sampler_stats *st = &p->sampler.stats, *kept = &tree->retired;
	kept->stacks += st->stacks;
	kept->errors += st->errors;
	for (int k = 0; k < SAMPLER_ERR__COUNT; k++)
		kept->error_kinds[k] += st->error_kinds[k];
	pause_stats_append(&kept->pauses, &st->pauses);
	if (st->samples) {
		tree->sampled_ended += ended;
		if (!p->until)
			p->until = time_now();
		if (stopped_share(p) > tree->stopped_share_max)
			tree->stopped_share_max = stopped_share(p);
	}
	sampler_release(&p->sampler);
	memset(&p->sampler, 0, sizeof(p->sampler));
	native_unwinder_free(p->unwinder);
	p->unwinder = NULL;
	p->since = p->until = 0;
}

/* The process at INDEX exited: let it go and forget it, moving the last
 * one to INDEX (true), or keep it as ended when it is the root. */
static bool end_process(struct process_tree *tree, size_t index)
{
	struct profiled *p = &tree->procs[index];
	if (p->active)
		p->until = time_now();
	/* Detaching reaps what of it was ours to reap: how it ended is known
	 * then, when it was reported to us. */
	target_detach(p->session.target);
	p->has_end_status = target_end_status(p->session.target, &p->end_status);
	live_session_close(&p->session);
	p->active = false;
	p->ended = true;
	if (index == 0)
		return false;
	retire_stats(tree, p, true);
	live_session_release(&p->session);
	free(p->label);
	tree->procs[index] = tree->procs[--tree->nprocs];
	return true;
}

/* The interpreter vanished from where it was: the process exec'd (a
 * launcher handing over, a worker re-executing itself). Keep what was
 * counted and open the process anew; if it is no longer Python, it is
 * probed again after its next exec. */
static void follow_exec(struct process_tree *tree, struct profiled *p)
{
	retire_stats(tree, p, false);
	live_session_release(&p->session);
	p->active = false;
	if (tree->opts.exec_seen)
		tree->opts.exec_seen(p->pid);
	if (start_process(tree, p, 2.0) < 0) {
		live_session_release(&p->session);
		err_clear();
		live_proc_image(p->pid, &p->image);
		p->attempts = PROBE_TRIES;
		p->rejected = true;
	}
}

static bool any_sampled(const struct process_tree *tree)
{
	for (size_t i = 0; i < tree->nprocs; i++)
		if (tree->procs[i].active)
			return true;
	return false;
}

static struct profiled *find_process(struct process_tree *tree, pid_t pid, size_t *index)
{
	for (size_t k = 0; k < tree->nprocs; k++)
		if (tree->procs[k].pid == pid) {
			*index = k;
			return &tree->procs[k];
		}
	return NULL;
}

/* Look again at process P as PROC has it now: gone, replaced by another
 * process of the same pid, exec'd, or due for another probe. */
static int look_at(struct process_tree *tree, size_t index, const struct live_proc *proc, double now)
{
	struct profiled *p = &tree->procs[index];
	if (p->ended)
		return 0;
	if (!proc || live_proc_ended(proc->state) || proc->start_time != p->start_time) {
		/* Gone (or a zombie): an active one is let go by its sampler's
		 * next sample; the others are forgotten now. */
		if (!p->active)
			end_process(tree, index);
		return 0;
	}
	if (p->active)
		return 0;
	if (p->rejected) {
		struct live_image image;
		live_proc_image(p->pid, &image);
		if (image.dev == p->image.dev && image.ino == p->image.ino)
			return 0;
		p->rejected = false;   /* it exec'd: maybe Python now */
		p->attempts = 0;
		p->next_probe = 0;
	}
	if (now < p->next_probe)
		return 0;
	int ret = probe_process(tree, p, now);
	if (ret == -ERR_NOMEM)
		return ret;
	err_clear();
	return 0;
}

/* Subprocesses: the processes below the root (below us when we launched
 * it: the orphans of its tree are ours), new ones probed, gone ones
 * forgotten, the root's end noticed. */
static int scan(struct process_tree *tree, double now)
{
	struct live_proc *procs, root;
	size_t n, index;
	bool root_listed = live_proc_read(tree->root, &root) == 0;
	err_clear();
	int ret = look_at(tree, 0, root_listed ? &root : NULL, now);
	if (ret < 0)
		return ret;
	if (live_list_descendants(tree->launched ? getpid() : tree->root, &procs, &n) < 0) {
		err_clear();
		return 0;   /* the tree is read again at the next scan */
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		/* Not ourselves either: a root that started us has us below it. */
		if (procs[i].pid == tree->root || procs[i].pid == getpid())
			continue;
		struct profiled *p = find_process(tree, procs[i].pid, &index);
		if (p && p->start_time != procs[i].start_time) {
			/* Its pid was taken again: an active one is let go by its
			 * sampler first. */
			if (p->active)
				continue;
			end_process(tree, index);
			p = NULL;
		}
		if (!p) {
			if (live_proc_ended(procs[i].state))
				continue;
			if (!(p = add_process(tree, &procs[i]))) {
				ret = -ERR_NOMEM;
				break;
			}
			index = (size_t)(p - tree->procs);
		}
		ret = look_at(tree, index, &procs[i], now);
	}
	/* Those no longer listed that are not sampled are gone. */
	for (size_t k = tree->nprocs; ret == 0 && k-- > 1;) {
		bool listed = false;
		for (size_t i = 0; !listed && i < n; i++)
			listed = procs[i].pid == tree->procs[k].pid;
		if (!listed && !tree->procs[k].active)
			end_process(tree, k);
	}
	free(procs);
	return ret;
}

int process_tree_list_python(pid_t root, bool below_only, pid_t **pids, size_t *count)
{
	struct live_proc *procs, self;
	size_t n, kept = 0;
	int ret = live_proc_read(root, &self);
	if (ret < 0)
		return err_set(ERR_NO_PROCESS, "no process %d", (int)root);
	if ((ret = live_list_descendants(root, &procs, &n)) < 0)
		return ret;
	pid_t *found = xcalloc(n + 1, sizeof(*found));
	if (!found) {
		free(procs);
		return -ERR_NOMEM;
	}
	if (!below_only && live_session_probe(root) == 0)
		found[kept++] = root;
	for (size_t i = 0; i < n; i++)
		if (procs[i].pid != getpid() && !live_proc_ended(procs[i].state) && live_session_probe(procs[i].pid) == 0)
			found[kept++] = procs[i].pid;
	err_clear();
	free(procs);
	*pids = found;
	*count = kept;
	return 0;
}

int process_tree_hint_python_below(pid_t root, int ret)
{
	pid_t *pids;
	size_t n;
	if (ret != -ERR_NOT_PYTHON)
		return ret;
	char *context = xstrdup(err_context());
	if (!context)
		return -ERR_NOMEM;
	/* Listing clears the error: it is set again with its text. */
	int listed = process_tree_list_python(root, true, &pids, &n);
	ret = err_set(ERR_NOT_PYTHON, "%s", context);
	if (listed == 0 && n)
		err_hint("process %d below it is Python: add --subprocesses for the Python processes below pid %d",
		         (int)pids[0], (int)root);
	if (listed == 0)
		free(pids);
	free(context);
	return ret;
}

/* ARGV's words joined by spaces, or NULL when memory is short. */
static char *joined(char **argv)
{
	struct strbuf sb = {0};
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			strbuf_addch(&sb, ' ');
		strbuf_addstr(&sb, argv[i]);
	}
	if (!strbuf_ok(&sb)) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

/* The root could not be sampled: say why, and where Python is instead. */
static int explain_root_failure(struct process_tree *tree, const char *command, int ret)
{
	if (command) {
		siginfo_t info = {0};
		if (waitid(P_PID, (id_t)tree->root, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == tree->root)
			return err_set(ERR_NOT_PYTHON, "%s exited before a Python interpreter could be found in it",
			               command);
		if (ret == -ERR_NOT_PYTHON)
			ret = err_set(ERR_NOT_PYTHON, "no Python interpreter in %s (pid %d) after %.0f s", command,
			              (int)tree->root, LAUNCH_WAIT_SECONDS);
	}
	return process_tree_hint_python_below(tree->root, ret);
}

int process_tree_open(struct process_tree *tree, pid_t pid, char **command)
{
	struct live_proc root = {.pid = pid};
	int ret;
	tree->root = pid;
	if (command) {
		if ((ret = live_launch(command, &tree->root)) < 0)
			return ret;
		tree->launched = true;
		root.pid = tree->root;
	}
	if ((ret = live_proc_read(tree->root, &root)) < 0 && !command)
		return err_set(ERR_NO_PROCESS, "no process %d", (int)pid);
	/* A launched command is named as it was given: it may be gone already. */
	if (command ? !(tree->root_command = joined(command)) : live_proc_command(tree->root, &tree->root_command) < 0)
		tree->root_command = xstrdup("?");
	err_clear();
	if (!tree->root_command)
		return -ERR_NOMEM;
	struct profiled *p = add_process(tree, &root);
	if (!p)
		return -ERR_NOMEM;
	if (!tree->opts.subprocesses) {
		/* A launched interpreter needs a moment before its runtime exists. */
		if ((ret = start_process(tree, p, command ? LAUNCH_WAIT_SECONDS : 0)) < 0)
			ret = explain_root_failure(tree, command ? command[0] : NULL, ret);
		return ret;
	}
	/* The root need not be Python: its tree is watched for Python
	 * processes for as long as it runs. A launched one is given a moment
	 * to start its interpreter (a launcher to exec it) unless Python shows
	 * below it first, so that the recording starts with what it samples. */
	double now = time_now(), deadline = now + (command ? LAUNCH_ROOT_WAIT : 0);
	if ((ret = probe_process(tree, p, now)) < 0 && !live_session_retryable(ret) &&
	    (live_proc_read(tree->root, &root) == 0 && !live_proc_ended(root.state)))
		return ret;   /* not for a root that is gone: that is said below */
	err_clear();
	for (;;) {
		if ((ret = scan(tree, now)) < 0)
			return ret;
		if (any_sampled(tree) || tree->procs[0].ended || now >= deadline || guard_stop_signal())
			break;
		struct timespec nap = {0, 10 * 1000 * 1000};
		nanosleep(&nap, NULL);
		now = time_now();
	}
	if (tree->procs[0].ended && !any_sampled(tree))
		return err_set(ERR_NOT_PYTHON, "%s (pid %d) exited before a Python process could be found in its tree",
		               tree->root_command, (int)tree->root);
	tree->next_scan = now + SCAN_WAITING;
	return 0;
}

bool process_tree_root_sampled(const struct process_tree *tree)
{
	return tree->nprocs && tree->procs[0].active;
}

bool process_tree_sampling(const struct process_tree *tree)
{
	if (!tree->opts.subprocesses)
		return process_tree_root_sampled(tree);
	return !tree->procs[0].ended || any_sampled(tree);
}

/* A fatal signal held in P: capture it, let it go, tell the caller. */
static void take_crash(struct process_tree *tree, struct profiled *p)
{
	struct target *t = p->session.target;
	if (!t || !target_crash_held(t))
		return;
	struct crash_capture c = {0};
	int ret = crash_capture_take(t, &p->sampler.policy, &c);
	p->crashed = true;
	tree->opts.crash_seen(tree->opts.ctx, p, &c, ret);
	err_clear();
	crash_capture_release(&c);
}

int process_tree_sample(struct process_tree *tree, double now)
{
	int ret;
	if (tree->opts.subprocesses && now >= tree->next_scan) {
		if ((ret = scan(tree, now)) < 0)
			return ret;
		tree->next_scan = now + (any_sampled(tree) ? SCAN_SAMPLING : SCAN_WAITING);
	}
	bool sampled = false;
	for (size_t i = 0; i < tree->nprocs; i++) {
		struct profiled *p = &tree->procs[i];
		if (!p->active)
			continue;
		ret = sampler_sample(&p->sampler);
		if (tree->opts.crash_seen && ret != -ERR_PROCESS_GONE)
			take_crash(tree, p);
		/* A thread a freeze held (off every CPU when interrupted) stops
		 * after it, and waits in its stop for an answer: not for the
		 * samples of the other processes. */
		if (tree->nprocs > 1)
			process_tree_answer_reports(tree);
		if (ret == -ERR_PROCESS_GONE) {
			if (end_process(tree, i))
				i--;   /* the last one moved here */
		} else if (ret == -ERR_NOT_PYTHON) {
			follow_exec(tree, p);
		} else if (ret < 0) {
			return ret;
		} else {
			sampled = true;
		}
	}
	if (sampled) {
		tree->samples++;
		if (!tree->first_sample)
			tree->first_sample = now;
	}
	return 0;
}

void process_tree_answer_reports(struct process_tree *tree)
{
	for (size_t i = 0; i < tree->nprocs; i++) {
		if (!tree->procs[i].active)
			continue;
		target_answer_reports(tree->procs[i].session.target);
		if (tree->opts.crash_seen)
			take_crash(tree, &tree->procs[i]);
	}
}

void process_tree_set_aggregate(struct process_tree *tree, struct aggregate *agg)
{
	tree->agg = agg;
	for (size_t i = 0; i < tree->nprocs; i++)
		if (tree->procs[i].active)
			sampler_set_aggregate(&tree->procs[i].sampler, agg);
}

void process_tree_close(struct process_tree *tree)
{
	double now = time_now();
	for (size_t i = 0; i < tree->nprocs; i++) {
		struct profiled *p = &tree->procs[i];
		if (p->active && !p->until)
			p->until = now;
		live_session_close(&p->session);
		p->active = false;
	}
}

void process_tree_totals(const struct process_tree *tree, struct tree_totals *t)
{
	memset(t, 0, sizeof(*t));
	t->samples = tree->samples;
	t->stacks = tree->retired.stacks;
	t->errors = tree->retired.errors;
	memcpy(t->error_kinds, tree->retired.error_kinds, sizeof(t->error_kinds));
	pause_stats_append(&t->pauses, &tree->retired.pauses);
	t->sampled = tree->sampled_ended;
	t->stopped_share_max = tree->stopped_share_max;
	for (size_t i = 0; i < tree->nprocs; i++) {
		const struct profiled *p = &tree->procs[i];
		const struct sampler_stats *st = &p->sampler.stats;
		t->stacks += st->stacks;
		t->errors += st->errors;
		for (int k = 0; k < SAMPLER_ERR__COUNT; k++)
			t->error_kinds[k] += st->error_kinds[k];
		pause_stats_append(&t->pauses, &st->pauses);
		if (!st->samples)
			continue;
		t->sampled++;
		if (stopped_share(p) > t->stopped_share_max)
			t->stopped_share_max = stopped_share(p);
	}
}

void process_tree_release(struct process_tree *tree)
{
	for (size_t i = 0; i < tree->nprocs; i++) {
		live_session_release(&tree->procs[i].session);
		sampler_release(&tree->procs[i].sampler);
		native_unwinder_free(tree->procs[i].unwinder);
		free(tree->procs[i].label);
	}
	free(tree->procs);
	free(tree->root_command);
	tree->root_command = NULL;
	pause_stats_release(&tree->retired.pauses);
	tree->procs = NULL;
	tree->nprocs = tree->cap = 0;
}

void process_tree_end(struct process_tree *tree, int first_signal, double first_grace, struct tree_end *end)
{
	memset(end, 0, sizeof(*end));
	end->status = -1;
	if (!tree->launched || tree->root <= 0)
		return;
	/* Each signal in turn to all that is left, each given its grace (a
	 * stop signal during one cuts it short), until nothing is left. */
	int steps[3];
	size_t nsteps = 0;
	steps[nsteps++] = first_signal;
	if (first_signal == 0 || first_signal == SIGINT)
		steps[nsteps++] = SIGTERM;
	if (first_signal != SIGKILL)
		steps[nsteps++] = SIGKILL;
	if (first_grace < 0) {
		/* Until the command ends by itself: then only what it left is
		 * signalled. A root reaped by the tracing code is gone too. */
		struct live_proc root;
		while (end->status == -1 && !guard_stop_signal() && live_proc_read(tree->root, &root) == 0)
			if (live_reap_launched(tree->root, time_now() + 0.1, &guard_stop_requested, &end->status))
				return;
		err_clear();
		first_grace = 0;
	}
	for (size_t i = 0; i < nsteps; i++) {
		if (steps[i] && live_signal_launched(steps[i])) {
			end->sent[end->nsent++] = steps[i];
			/* A process stopped (SIGSTOP, Ctrl-Z) acts on it once let go. */
			if (steps[i] != SIGKILL)
				live_signal_launched(SIGCONT);
		}
		guard_stop_clear();
		double grace = i == 0 ? first_grace : steps[i] == SIGKILL ? END_KILL_GRACE : TREE_END_GRACE;
		if (live_reap_launched(tree->root, time_now() + grace, &guard_stop_requested, &end->status))
			return;
	}
	end->left = true;
}
