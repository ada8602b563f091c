/* A recording of a process tree: the processes sampled together into one
 * aggregate. The root is attached to or launched (and waited for while its
 * interpreter starts); with subprocesses, Python processes that appear
 * below it join; a process that exits stops being sampled, one that exec'd
 * is opened anew. It never prints: what a caller shows is told to it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "pycoreprof/collect.h"

/* How long a launched command has to start its interpreter. */
#define LAUNCH_WAIT_SECONDS 10.0

void process_tree_init(struct process_tree *tree, struct aggregate *agg, const struct tree_options *opts)
{
	memset(tree, 0, sizeof(*tree));
	tree->opts = *opts;
	tree->agg = agg;
}

static struct profiled *add_process(struct process_tree *tree, pid_t pid)
{
	struct profiled *p = ARRAY_PUSH(tree->procs, tree->nprocs, tree->cap);
	if (p)
		p->pid = pid;
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
	p->active = true;
	p->since = time_now();
	p->until = 0;
	return 0;
}

/* A launched command that could not be profiled: say whether it already
 * exited, and stop it otherwise (it was started only to be profiled). */
static int explain_launch_failure(const char *command, pid_t pid, int ret)
{
	siginfo_t info = {0};
	if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
		return err_set(ERR_NOT_PYTHON, "%s exited before a Python interpreter could be found in it", command);
	kill(pid, SIGTERM);
	if (ret == -ERR_NOT_PYTHON)
		return err_set(ERR_NOT_PYTHON, "no Python interpreter in %s (pid %d) after 10 s; stopped it", command,
		               (int)pid);
	return ret;
}

int process_tree_open(struct process_tree *tree, pid_t pid, char **command)
{
	int ret;
	tree->root = pid;
	if (command && (ret = live_launch(command, &tree->root)) < 0)
		return ret;
	struct profiled *root = add_process(tree, tree->root);
	if (!root)
		return -ERR_NOMEM;
	/* A launched interpreter needs a moment before its runtime exists. */
	if ((ret = start_process(tree, root, command ? LAUNCH_WAIT_SECONDS : 0)) < 0 && command)
		ret = explain_launch_failure(command[0], tree->root, ret);
	return ret;
}

/* Subprocesses: pick up Python processes that appeared below the root. */
static void find_subprocesses(struct process_tree *tree)
{
	pid_t *pids;
	size_t n;
	if (live_list_descendants(tree->procs[0].pid, &pids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct profiled *p = NULL;
		for (size_t k = 0; k < tree->nprocs; k++)
			if (tree->procs[k].pid == pids[i])
				p = &tree->procs[k];
		if (!p && !(p = add_process(tree, pids[i])))
			break;
		if (p->active || p->rejected)
			continue;
		/* A child may still be exec'ing its interpreter: a few tries. */
		if (start_process(tree, p, 0) < 0 && ++p->attempts >= 3) {
			live_session_release(&p->session);
			p->rejected = true;
		}
	}
	free(pids);
}

static void stop_process(struct profiled *p)
{
	if (p->active)
		p->until = time_now();
	live_session_close(&p->session);
	p->active = false;
	p->rejected = true;
}

/* The interpreter vanished from where it was: the process exec'd (a
 * launcher handing over, a worker re-executing itself). Keep what was
 * counted and open the process anew. */
static void follow_exec(struct process_tree *tree, struct profiled *p)
{
	struct sampler_stats *st = &p->sampler.stats, *kept = &tree->retired;
	if (p == &tree->procs[0])
		kept->samples += st->samples; /* samples are counted on the root */
	kept->stacks += st->stacks;
	kept->errors += st->errors;
	for (int k = 0; k < SAMPLER_ERR__COUNT; k++)
		kept->error_kinds[k] += st->error_kinds[k];
	pause_stats_append(&kept->pauses, &st->pauses);
	live_session_release(&p->session);
	free(p->label);
	p->label = NULL;
	if (tree->opts.exec_seen)
		tree->opts.exec_seen(p->pid);
	if (start_process(tree, p, 2.0) < 0)
		stop_process(p);
}

int process_tree_sample(struct process_tree *tree, double now)
{
	if (!tree->last_scan)
		tree->last_scan = now;
	if (tree->opts.subprocesses && now - tree->last_scan >= 1.0) {
		tree->last_scan = now;
		find_subprocesses(tree);
	}
	for (size_t i = 0; i < tree->nprocs; i++) {
		struct profiled *p = &tree->procs[i];
		if (!p->active)
			continue;
		int ret = sampler_sample(&p->sampler);
		/* A thread a freeze held (off every CPU when interrupted) stops
		 * after it, and waits in its stop for an answer: not for the
		 * samples of the other processes. */
		if (tree->nprocs > 1)
			process_tree_answer_reports(tree);
		if (ret == -ERR_PROCESS_GONE)
			stop_process(p);
		else if (ret == -ERR_NOT_PYTHON)
			follow_exec(tree, p);
		else if (ret < 0)
			return ret;
	}
	return 0;
}

bool process_tree_sampling(const struct process_tree *tree)
{
	return tree->nprocs && tree->procs[0].active;
}

void process_tree_answer_reports(struct process_tree *tree)
{
	for (size_t i = 0; i < tree->nprocs; i++)
		if (tree->procs[i].active)
			target_answer_reports(tree->procs[i].session.target);
}

void process_tree_close(struct process_tree *tree)
{
	double now = time_now();
	for (size_t i = 0; i < tree->nprocs; i++) {
		if (tree->procs[i].active && !tree->procs[i].until)
			tree->procs[i].until = now;
		live_session_close(&tree->procs[i].session);
	}
}

void process_tree_totals(const struct process_tree *tree, struct tree_totals *t)
{
	memset(t, 0, sizeof(*t));
	t->samples = tree->retired.samples;
	t->stacks = tree->retired.stacks;
	t->errors = tree->retired.errors;
	memcpy(t->error_kinds, tree->retired.error_kinds, sizeof(t->error_kinds));
	pause_stats_append(&t->pauses, &tree->retired.pauses);
	for (size_t i = 0; i < tree->nprocs; i++) {
		const struct sampler_stats *st = &tree->procs[i].sampler.stats;
		t->stacks += st->stacks;
		t->errors += st->errors;
		for (int k = 0; k < SAMPLER_ERR__COUNT; k++)
			t->error_kinds[k] += st->error_kinds[k];
		if (i == 0)
			t->samples += st->samples;
		pause_stats_append(&t->pauses, &st->pauses);
		t->sampled += st->samples > 0;
		const struct profiled *p = &tree->procs[i];
		double span = (p->until ? p->until : time_now()) - p->since;
		if (p->since && span > 0 && pause_stats_sum(&st->pauses) / span > t->stopped_share_max)
			t->stopped_share_max = pause_stats_sum(&st->pauses) / span;
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
	pause_stats_release(&tree->retired.pauses);
	tree->procs = NULL;
	tree->nprocs = tree->cap = 0;
}
