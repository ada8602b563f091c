/* The asyncio tasks of a dump: JSON members (docs/json.md) and the text
 * section after the threads, grouped by event loop, each task with its
 * await chain and who it awaits or is awaited by (docs/tasks.md). */
#include <string.h>

#include "formats/dump_frames.h"
#include "formats/escape.h"

enum { EDGES_SHOWN = 8 };

static void add_id_array(struct strbuf *sb, const uint64_t *ids, size_t n)
{
	strbuf_addch(sb, '[');
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sb, "%s\"0x%llx\"", i ? "," : "", (unsigned long long)ids[i]);
	strbuf_addch(sb, ']');
}

static void write_task_json(struct strbuf *sb, const struct task_stack *ts)
{
	const struct pytask *t = ts->task;
	strbuf_addf(sb, "{\"id\":\"0x%llx\",", (unsigned long long)t->addr);
	dump_json_key_string(sb, "name", t->name);
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "state", pytask_state_name(t->state));
	if (t->loop)
		strbuf_addf(sb, ",\"loop\":\"0x%llx\"", (unsigned long long)t->loop);
	else
		strbuf_addstr(sb, ",\"loop\":null");
	if (t->tid)
		strbuf_addf(sb, ",\"thread\":%d", (int)t->tid);
	else
		strbuf_addstr(sb, ",\"thread\":null");
	strbuf_addstr(sb, ",\"coroutine\":[");
	for (size_t i = 0; i < ts->nframes; i++) {
		if (i)
			strbuf_addch(sb, ',');
		dump_json_frame(sb, &ts->frames[i], false);
	}
	strbuf_addstr(sb, "],\"awaiting\":");
	add_id_array(sb, t->awaiting, t->nawaiting);
	strbuf_addstr(sb, ",\"awaited_by\":");
	add_id_array(sb, t->awaited_by, t->nawaited_by);
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "error", t->error);
	strbuf_addch(sb, '}');
}

void dump_tasks_json(struct strbuf *sb, const struct process_stacks *ps)
{
	strbuf_addstr(sb, ",\"tasks\":[");
	for (size_t i = 0; i < ps->tasks.count; i++) {
		if (i)
			strbuf_addch(sb, ',');
		write_task_json(sb, &ps->task_stacks[i]);
	}
	strbuf_addstr(sb, "],\"task_cycles\":[");
	for (size_t i = 0; i < ps->tasks.ncycles; i++) {
		if (i)
			strbuf_addch(sb, ',');
		add_id_array(sb, ps->tasks.cycles[i].tasks, ps->tasks.cycles[i].count);
	}
	strbuf_addstr(sb, "],");
	dump_json_key_string(sb, "tasks_error", ps->tasks_error);
}

static const struct pytask *task_at(const struct process_stacks *ps, uint64_t addr)
{
	for (size_t i = 0; i < ps->tasks.count; i++)
		if (ps->tasks.tasks[i].addr == addr)
			return &ps->tasks.tasks[i];
	return NULL;
}

/* "worker-0" in quotes, or the task's address when it has no name. */
static void task_label(struct strbuf *sb, const struct process_stacks *ps, uint64_t addr)
{
	const struct pytask *t = task_at(ps, addr);
	if (t && t->name) {
		strbuf_addch(sb, '"');
		escape_add_visible(sb, t->name, NULL);
		strbuf_addch(sb, '"');
	} else {
		strbuf_addf(sb, "task 0x%llx", (unsigned long long)addr);
	}
}

static void edge_list(struct strbuf *sb, const struct process_stacks *ps, const char *what, const uint64_t *ids,
                      size_t n)
{
	if (!n)
		return;
	strbuf_addf(sb, ", %s ", what);
	for (size_t i = 0; i < n && i < EDGES_SHOWN; i++) {
		if (i)
			strbuf_addstr(sb, ", ");
		task_label(sb, ps, ids[i]);
	}
	if (n > EDGES_SHOWN)
		strbuf_addf(sb, " and %zu more", n - EDGES_SHOWN);
}

static bool thread_crashed(const struct process_stacks *ps, pid_t tid)
{
	for (size_t i = 0; tid && i < ps->nthreads; i++)
		if (ps->threads[i].tid == tid)
			return ps->threads[i].crashed;
	return false;
}

static void write_task_text(struct strbuf *sb, const struct process_stacks *ps, const struct task_stack *ts,
                            const struct dump_options *opts)
{
	const struct pytask *t = ts->task;
	strbuf_addstr(sb, "  Task ");
	task_label(sb, ps, t->addr);
	strbuf_addf(sb, " (%s", pytask_state_name(t->state));
	if (t->state == PYTASK_RUNNING && thread_crashed(ps, t->tid))
		strbuf_addstr(sb, ", in the crashed thread");
	strbuf_addch(sb, ')');
	if (t->name)
		strbuf_addf(sb, " 0x%llx", (unsigned long long)t->addr);
	edge_list(sb, ps, "awaiting", t->awaiting, t->nawaiting);
	edge_list(sb, ps, "awaited by", t->awaited_by, t->nawaited_by);
	strbuf_addch(sb, '\n');
	dump_text_frames(sb, ts->frames, ts->nframes, "      ", false, opts);
	if (t->error)
		strbuf_addf(sb, "      [chain incomplete: %s]\n", t->error);
}

void dump_tasks_text(struct strbuf *sb, const struct process_stacks *ps, const struct dump_options *opts)
{
	if (ps->tasks_error) {
		strbuf_addstr(sb, "\nTasks: cannot read the asyncio tasks: ");
		escape_add_visible(sb, ps->tasks_error, NULL);
		strbuf_addch(sb, '\n');
		return;
	}
	if (!ps->tasks.count) {
		strbuf_addstr(sb, "\nNo asyncio tasks.\n");
		return;
	}
	/* One section per loop, in the order the loops first appear. */
	for (size_t i = 0; i < ps->tasks.count; i++) {
		const struct pytask *first = &ps->tasks.tasks[i];
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = ps->tasks.tasks[k].loop == first->loop;
		if (seen)
			continue;
		size_t count = 0;
		for (size_t k = i; k < ps->tasks.count; k++)
			count += ps->tasks.tasks[k].loop == first->loop;
		if (first->loop)
			strbuf_addf(sb, "\nEvent loop 0x%llx", (unsigned long long)first->loop);
		else
			strbuf_addstr(sb, "\nTasks of no known event loop");
		if (first->tid)
			strbuf_addf(sb, " in thread %d", (int)first->tid);
		else if (first->loop)
			strbuf_addstr(sb, " (no thread runs it)");
		strbuf_addf(sb, ": %zu task%s\n", count, count == 1 ? "" : "s");
		for (size_t k = i; k < ps->tasks.count; k++)
			if (ps->tasks.tasks[k].loop == first->loop)
				write_task_text(sb, ps, &ps->task_stacks[k], opts);
	}
	if (ps->tasks.ncycles)
		strbuf_addstr(sb, "\nTasks awaiting each other in a cycle (none of them can finish):\n");
	for (size_t i = 0; i < ps->tasks.ncycles; i++) {
		const struct pytask_cycle *c = &ps->tasks.cycles[i];
		strbuf_addstr(sb, "  ");
		for (size_t k = 0; k < c->count; k++) {
			task_label(sb, ps, c->tasks[k]);
			strbuf_addstr(sb, " -> ");
		}
		task_label(sb, ps, c->tasks[0]);
		strbuf_addch(sb, '\n');
	}
}
