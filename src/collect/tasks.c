/* The asyncio tasks of a collected process: read with the Python layer's
 * task reader from the same target state as the threads, their chains
 * turned into stack frames for the writers. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/stacks.h"

static int tasks_failed(struct process_stacks *ps, int ret)
{
	ps->tasks_error = xasprintf("%s%s%s", err_message(ret), *err_context() ? ": " : "", err_context());
	return ps->tasks_error ? 0 : -ERR_NOMEM;
}

/* PS->tasks as stack frames of W. */
static int convert_tasks(struct process_stacks *ps, struct pywalker *w)
{
	ps->task_stacks = xcalloc(ps->tasks.count ? ps->tasks.count : 1, sizeof(*ps->task_stacks));
	if (!ps->task_stacks)
		return -ERR_NOMEM;
	for (size_t i = 0; i < ps->tasks.count; i++) {
		const struct pytask *task = &ps->tasks.tasks[i];
		struct task_stack *ts = &ps->task_stacks[i];
		ts->task = task;
		if (!task->nframes)
			continue;
		if (!(ts->frames = xcalloc(task->nframes, sizeof(*ts->frames))))
			return -ERR_NOMEM;
		stack_frames_from_python(w, task->frames, task->nframes, ts->frames);
		ts->nframes = task->nframes;
	}
	return 0;
}

int process_stacks_add_tasks(struct process_stacks *ps, struct pytasks *reader)
{
	struct pytasks *own = NULL;
	const struct pythread *threads;
	size_t nthreads = 0;
	int ret;
	ps->tasks_read = true;
	if (!reader) {
		if ((ret = pytasks_new(ps->walker, &own)) < 0)
			return ret == -ERR_NOMEM ? ret : tasks_failed(ps, ret);
		reader = own;
	}
	ret = pywalker_threads(ps->walker, &threads, &nthreads);
	if (ret < 0 && !nthreads)
		goto out;
	ret = pytasks_read(reader, threads, nthreads, &ps->tasks);
	if (ret == 0)
		ret = convert_tasks(ps, ps->walker);
out:
	pytasks_free(own);
	if (ret == -ERR_NOMEM)
		return ret;
	return ret < 0 ? tasks_failed(ps, ret) : 0;
}

int task_rehearsal_open(struct task_rehearsal *r, struct target *live)
{
	memset(r, 0, sizeof(*r));
	int ret = recording_target_new(live, &r->recorder);
	/* Tasks fill the heap: read it 64 KiB at a time, not page by page. */
	if (ret == 0)
		ret = recording_target_readahead(r->recorder, 16);
	if (ret == 0)
		ret = pywalker_new(r->recorder, &r->walker);
	if (ret == 0)
		ret = pytasks_new(r->walker, &r->reader);
	if (ret < 0) {
		task_rehearsal_release(r);
		err_clear();
	}
	return ret == -ERR_NOMEM ? ret : 0;
}

void task_rehearsal_run(struct task_rehearsal *r)
{
	const struct pythread *threads;
	size_t nthreads = 0;
	if (!r->reader)
		return;
	recording_target_sync(r->recorder);
	recording_target_new_round(r->recorder);
	pytask_list_release(&r->tasks);
	/* A torn read (the process runs) is no result: read again in the freeze. */
	r->read = pywalker_threads(r->walker, &threads, &nthreads) == 0 &&
	          pytasks_read(r->reader, threads, nthreads, &r->tasks) == 0 && !r->tasks.errors &&
	          recording_target_prepare_check(r->recorder) == 0;
	err_clear();
}

int task_rehearsal_adopt(struct task_rehearsal *r, struct process_stacks *ps, bool *adopted)
{
	bool same = false;
	*adopted = false;
	if (!r->read)
		return 0;
	int ret = recording_target_unchanged(r->recorder, &same);
	if (ret < 0 || !same)
		return ret;
	ps->tasks_read = true;
	ps->tasks = r->tasks;
	memset(&r->tasks, 0, sizeof(r->tasks));
	r->read = false;
	ps->task_walker = r->walker;
	ps->task_target = r->recorder;
	r->walker = NULL;
	r->recorder = NULL;
	*adopted = true;
	return 0;
}

int task_rehearsal_frames(struct process_stacks *ps)
{
	return ps->task_walker && !ps->task_stacks ? convert_tasks(ps, ps->task_walker) : 0;
}

void task_rehearsal_release(struct task_rehearsal *r)
{
	pytask_list_release(&r->tasks);
	pytasks_free(r->reader);
	pywalker_free(r->walker);
	target_free(r->recorder);
	memset(r, 0, sizeof(*r));
}
