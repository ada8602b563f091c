/* JSON dump of every thread's stack: one document whose schema is described
 * in docs/json.md and shared by `core`, `dump` and snapshots. */
#include <string.h>

#include "formats/dump_frames.h"
#include "pycoreprof/formats.h"

void dump_json_key_string(struct strbuf *sb, const char *key, const char *value)
{
	strbuf_add_json_string(sb, key);
	strbuf_addch(sb, ':');
	if (value)
		strbuf_add_json_string(sb, value);
	else
		strbuf_addstr(sb, "null");
}

static void write_signal(struct strbuf *sb, const struct target *t)
{
	char name[16];
	if (!t->has_signal) {
		strbuf_addstr(sb, "null");
		return;
	}
	strbuf_addf(sb, "{\"number\":%d,", t->signal.number);
	dump_json_key_string(sb, "name", signal_name(t->signal.number, name));
	strbuf_addf(sb, ",\"code\":%d,", t->signal.code);
	dump_json_key_string(sb, "origin", signal_origin_name(t->signal.origin));
	strbuf_addstr(sb, ",\"address\":");
	if (t->signal.has_address)
		strbuf_addf(sb, "\"0x%llx\"", (unsigned long long)t->signal.address);
	else
		strbuf_addstr(sb, "null");
	strbuf_addstr(sb, ",\"sender\":");
	if (t->signal.has_sender)
		strbuf_addf(sb, "{\"pid\":%d,\"uid\":%u}", (int)t->signal.sender_pid, (unsigned)t->signal.sender_uid);
	else
		strbuf_addstr(sb, "null");
	strbuf_addf(sb, ",\"tid\":%d}", (int)t->signal.tid);
}

/* A frame's last member: its line, null unless it is 1 or more. */
static void add_line_and_close(struct strbuf *sb, int line)
{
	if (line > 0)
		strbuf_addf(sb, ",\"line\":%d}", line);
	else
		strbuf_addstr(sb, ",\"line\":null}");
}

static void write_native_frame(struct strbuf *sb, const struct stack_frame *f)
{
	strbuf_addstr(sb, "{\"kind\":\"native\",");
	dump_json_key_string(sb, "function", f->function);
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "library", f->library);
	strbuf_addf(sb, ",\"address\":\"0x%llx\",\"offset\":", (unsigned long long)f->address);
	if (f->library)
		strbuf_addf(sb, "\"0x%llx\",", (unsigned long long)f->offset);
	else
		strbuf_addstr(sb, "null,");
	dump_json_key_string(sb, "file", f->file);
	add_line_and_close(sb, f->line);
}

/* ,"locals":[{"name","kind","type","repr"}...] and, when the frame's
 * names could not be read, ,"locals_error":"why". */
static void write_locals(struct strbuf *sb, const struct pylocals *locals)
{
	strbuf_addstr(sb, ",\"locals\":[");
	for (size_t i = 0; locals && i < locals->count; i++) {
		const struct pylocal *l = &locals->items[i];
		strbuf_addstr(sb, i ? ",{" : "{");
		dump_json_key_string(sb, "name", l->name);
		strbuf_addch(sb, ',');
		dump_json_key_string(sb, "kind", pylocal_kind_name(l->kind));
		strbuf_addch(sb, ',');
		dump_json_key_string(sb, "type", l->type);
		strbuf_addch(sb, ',');
		dump_json_key_string(sb, "repr", l->repr);
		strbuf_addch(sb, '}');
	}
	strbuf_addch(sb, ']');
	if (locals && locals->error) {
		strbuf_addch(sb, ',');
		dump_json_key_string(sb, "locals_error", locals->error);
	}
}

void dump_json_frame(struct strbuf *sb, const struct stack_frame *f, bool with_locals)
{
	if (f->kind == FRAME_NATIVE) {
		write_native_frame(sb, f);
		return;
	}
	strbuf_addstr(sb, "{\"kind\":\"python\",");
	dump_json_key_string(sb, "function", f->function);
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "qualname", f->qualname);
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "file", f->file);
	if (f->line > 0)
		strbuf_addf(sb, ",\"line\":%d", f->line);
	else
		strbuf_addstr(sb, ",\"line\":null");
	/* 3.11+: the rest of the instruction's place, as co_positions() has it. */
	const char *keys[] = {"end_line", "column", "end_column"};
	const int values[] = {f->end_line, f->column, f->end_column};
	for (size_t i = 0; i < 3; i++) {
		if (f->has_position && values[i] >= 0)
			strbuf_addf(sb, ",\"%s\":%d", keys[i], values[i]);
		else
			strbuf_addf(sb, ",\"%s\":null", keys[i]);
	}
	if (with_locals)
		write_locals(sb, f->locals);
	strbuf_addch(sb, '}');
}

/* An exception: its traceback's entries are written as Python frames. */
static void write_exception(struct strbuf *sb, const struct pyexc *e, const char *state,
                            const struct pyexc *handling)
{
	if (!e) {
		strbuf_addstr(sb, "null");
		return;
	}
	strbuf_addch(sb, '{');
	if (state) {
		dump_json_key_string(sb, "state", state);
		strbuf_addch(sb, ',');
	}
	dump_json_key_string(sb, "type", e->type);
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "message", e->message);
	strbuf_addstr(sb, ",\"traceback\":[");
	for (size_t i = 0; i < e->ntraceback; i++) {
		const struct pytb_frame *tb = &e->traceback[i];
		struct stack_frame f = {.kind = FRAME_PYTHON, .function = tb->code->name, .qualname = tb->code->qualname,
		                        .file = tb->code->filename, .line = tb->line, .has_position = tb->has_position,
		                        .end_line = tb->position.end_line, .column = tb->position.column,
		                        .end_column = tb->position.end_column};
		if (i)
			strbuf_addch(sb, ',');
		dump_json_frame(sb, &f, false);
	}
	strbuf_addf(sb, "],\"traceback_truncated\":%s,\"suppress_context\":%s,\"cause\":",
	            e->traceback_cut ? "true" : "false", e->suppress_context ? "true" : "false");
	write_exception(sb, e->cause, NULL, NULL);
	strbuf_addstr(sb, ",\"context\":");
	write_exception(sb, e->context, NULL, NULL);
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "error", e->error);
	if (state && !strcmp(state, "raising")) {
		strbuf_addstr(sb, ",\"handling\":");
		write_exception(sb, handling, "handling", NULL);
	}
	strbuf_addch(sb, '}');
}

static void write_thread(struct strbuf *sb, const struct process_stacks *ps, const struct thread_stack *ts)
{
	strbuf_addf(sb, "{\"tid\":%d,\"ns_tid\":", (int)ts->tid);
	if (ts->ns_tid)
		strbuf_addf(sb, "%d", (int)ts->ns_tid);
	else
		strbuf_addstr(sb, "null");
	strbuf_addstr(sb, ",\"thread_id\":");
	if (ts->is_python)
		strbuf_addf(sb, "%llu", (unsigned long long)ts->thread_id);
	else
		strbuf_addstr(sb, "null");
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "name", ts->name);
	strbuf_addstr(sb, ",\"interpreter\":");
	if (ts->is_python) {
		strbuf_addstr(sb, "{\"id\":");
		if (ts->interp_id >= 0)
			strbuf_addf(sb, "%lld,", (long long)ts->interp_id);
		else
			strbuf_addstr(sb, "null,");
		dump_json_key_string(sb, "name", ts->interp_name);
		strbuf_addch(sb, '}');
	} else {
		strbuf_addstr(sb, "null");
	}
	strbuf_addf(sb, ",\"crashed\":%s,\"gil\":%s,\"idle\":%s,\"gc\":%s,", ts->crashed ? "true" : "false",
	            ts->gil ? "true" : "false", ts->idle ? "true" : "false", ts->gc ? "true" : "false");
	dump_json_key_string(sb, "error", ts->error);
	if (ps->native != NATIVE_OFF) {
		strbuf_addf(sb, ",\"native_partial\":%s,", ts->native_partial ? "true" : "false");
		dump_json_key_string(sb, "native_error", ts->native_error);
	}
	strbuf_addstr(sb, ",\"exception\":");
	if (ts->raising)
		write_exception(sb, ts->raising, "raising", ts->handling);
	else
		write_exception(sb, ts->handling, "handling", NULL);
	strbuf_addstr(sb, ",\"frames\":[");
	for (size_t i = 0; i < ts->nframes; i++) {
		if (i)
			strbuf_addch(sb, ',');
		dump_json_frame(sb, &ts->frames[i], ps->locals);
	}
	strbuf_addstr(sb, "]}");
}

/* The interpreter's state, inside "python". */
static void write_state(struct strbuf *sb, const struct process_stacks *ps)
{
	const struct pystate *st = &ps->state;
	const char *run = st->run == PY_RUN_RUNNING ? "running" : st->run == PY_RUN_FINALIZING ? "finalizing" : NULL;
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "state", run);
	strbuf_addstr(sb, ",\"finalizing_tid\":");
	pid_t finalizing = 0;
	for (size_t i = 0; i < ps->nthreads; i++)
		if (ps->threads[i].finalizing && ps->threads[i].tid)
			finalizing = ps->threads[i].tid;
	if (finalizing)
		strbuf_addf(sb, "%d", (int)finalizing);
	else
		strbuf_addstr(sb, "null");
	strbuf_addf(sb, ",\"gc_collecting\":%s",
	            st->gc_collecting < 0 ? "null" : st->gc_collecting ? "true" : "false");
}

void dump_write_json(struct strbuf *sb, const struct process_stacks *ps, const struct dump_options *opts)
{
	const struct target *t = ps->target;
	const struct pyinfo *info = pywalker_info(ps->walker);
	strbuf_addch(sb, '{');
	dump_json_key_string(sb, "source", ps->source);
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "origin", opts->origin);
	strbuf_addf(sb, ",\"pid\":%d,\"ns_pid\":%d,", (int)t->pid, (int)target_own_pid(t));
	dump_json_key_string(sb, "command", t->command);
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "executable", t->executable);
	strbuf_addstr(sb, ",\"python\":{");
	dump_json_key_string(sb, "version", info->version);
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "library", info->library);
	strbuf_addch(sb, ',');
	dump_json_key_string(sb, "host", info->host);
	if (info->binaries_unused) {
		strbuf_addch(sb, ',');
		dump_json_key_string(sb, "binaries_unused", info->binaries_unused);
	}
	write_state(sb, ps);
	strbuf_addstr(sb, "},\"signal\":");
	write_signal(sb, t);
	if (ps->native != NATIVE_OFF)
		strbuf_addf(sb, ",\"native\":\"%s\"", ps->native == NATIVE_ALL ? "all" : "merged");
	if (ps->pause > 0)
		strbuf_addf(sb, ",\"pause_us\":%.0f", ps->pause * 1e6);
	strbuf_addf(sb, ",\"errors\":%zu,\"threads\":[", ps->errors);
	for (size_t i = 0; i < ps->nthreads; i++) {
		if (i)
			strbuf_addch(sb, ',');
		write_thread(sb, ps, &ps->threads[i]);
	}
	strbuf_addch(sb, ']');
	if (ps->tasks_read)
		dump_tasks_json(sb, ps);
	strbuf_addstr(sb, "}\n");
}
