/* Text dump of every thread's stack, innermost frame first: a header naming
 * the process, the signal and the interpreter, then one block per thread. */
#include <stdio.h>

#include "pycoreprof/out.h"

static void write_header(struct strbuf *sb, const struct process_stacks *ps, const struct dump_options *opts)
{
	const struct target *t = ps->target;
	const struct pyinfo *info = pywalker_info(ps->walker);
	char name[16];
	if (t->kind == TARGET_LIVE)
		strbuf_addf(sb, "Process %d", (int)t->pid);
	else
		strbuf_addf(sb, "%s %s: pid %d", t->kind == TARGET_SNAPSHOT ? "Snapshot" : "Core",
		            opts->origin ? opts->origin : "", (int)t->pid);
	if (t->command)
		strbuf_addf(sb, " \"%s\"", t->command);
	if (t->has_signal) {
		strbuf_addf(sb, ", killed by %s", signal_name(t->signal.number, name));
		if (t->signal.has_address)
			strbuf_addf(sb, " (address 0x%llx)", (unsigned long long)t->signal.address);
		if (t->signal.tid)
			strbuf_addf(sb, " in thread %d", (int)t->signal.tid);
	}
	strbuf_addf(sb, "\nPython %s (%s)\n", info->version, info->library ? info->library : "?");
}

static void write_thread(struct strbuf *sb, const struct thread_stack *ts, const struct dump_options *opts)
{
	strbuf_addstr(sb, "\nThread ");
	if (ts->tid)
		strbuf_addf(sb, "%d", (int)ts->tid);
	else
		strbuf_addf(sb, "0x%llx", (unsigned long long)ts->thread_id);
	const char *sep = " (";
	if (ts->crashed) {
		strbuf_addf(sb, "%scrashed", sep);
		sep = ", ";
	}
	if (ts->gil) {
		strbuf_addf(sb, "%sholding the GIL", sep);
		sep = ", ";
	}
	if (ts->idle) {
		strbuf_addf(sb, "%sidle", sep);
		sep = ", ";
	}
	if (!ts->is_python) {
		strbuf_addf(sb, "%sno Python thread state", sep);
		sep = ", ";
	}
	strbuf_addstr(sb, sep[0] == ',' ? ")\n" : "\n");
	if (ts->is_python && !ts->nframes && !ts->error)
		strbuf_addstr(sb, "    (no Python frames)\n");
	for (size_t i = 0; i < ts->nframes; i++) {
		const struct stack_frame *f = &ts->frames[i];
		if (f->line >= 0)
			strbuf_addf(sb, "    %s (%s:%d)\n", f->qualname, f->file, f->line);
		else
			strbuf_addf(sb, "    %s (%s)\n", f->qualname, f->file);
		const char *text = opts->show_source ? source_line(f->file, f->line) : NULL;
		if (text && *text)
			strbuf_addf(sb, "        %s\n", text);
	}
	if (ts->error)
		strbuf_addf(sb, "    [stack incomplete: %s]\n", ts->error);
}

void dump_write_text(struct strbuf *sb, const struct process_stacks *ps, const struct dump_options *opts)
{
	write_header(sb, ps, opts);
	for (size_t i = 0; i < ps->nthreads; i++)
		write_thread(sb, &ps->threads[i], opts);
}
