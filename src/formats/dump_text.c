/* Text dump of every thread's stack, innermost frame first: a header naming
 * the process, the signal and the interpreter, then one block per thread.
 * Names are in visible form (escape.h): no control byte reaches a terminal. */
#include <stdio.h>
#include <string.h>

#include "formats/dump_frames.h"
#include "formats/escape.h"
#include "formats/exception_text.h"
#include "pycoreprof/formats.h"

#define TAG_COLUMN_MAX 72

/* ", running" or ", finalizing in thread 42", and ", collecting garbage". */
static void write_state(struct strbuf *sb, const struct process_stacks *ps)
{
	const struct pystate *st = &ps->state;
	if (st->run == PY_RUN_RUNNING)
		strbuf_addstr(sb, ", running");
	if (st->run == PY_RUN_FINALIZING) {
		strbuf_addstr(sb, ", finalizing");
		for (size_t i = 0; i < ps->nthreads; i++)
			if (ps->threads[i].finalizing && ps->threads[i].tid)
				strbuf_addf(sb, " in thread %d", (int)ps->threads[i].tid);
	}
	if (st->gc_collecting == 1)
		strbuf_addstr(sb, ", collecting garbage");
}

static void write_header(struct strbuf *sb, const struct process_stacks *ps, const struct dump_options *opts)
{
	const struct target *t = ps->target;
	const struct pyinfo *info = pywalker_info(ps->walker);
	char name[16];
	const char *kind = target_kind_name(t);
	if (!strcmp(kind, "live"))
		strbuf_addf(sb, "Process %d", (int)t->pid);
	else
		strbuf_addf(sb, "%s %s: pid %d", !strcmp(kind, "snapshot") ? "Snapshot" : "Core",
		            opts->origin ? opts->origin : "", (int)t->pid);
	if (t->ns_pid)
		strbuf_addf(sb, " (%d in its PID namespace)", (int)t->ns_pid);
	if (t->command) {
		strbuf_addstr(sb, " \"");
		escape_add_visible(sb, t->command, NULL);
		strbuf_addch(sb, '"');
	}
	if (t->has_signal) {
		strbuf_addf(sb, ", killed by %s", signal_name(t->signal.number, name));
		struct strbuf origin = {0};
		signal_describe(&origin, &t->signal);
		if (origin.len)
			strbuf_addf(sb, " (%s)", origin.buf);
		strbuf_release(&origin);
		if (t->signal.tid)
			strbuf_addf(sb, " in thread %d", (int)t->signal.tid);
	}
	strbuf_addf(sb, "\nPython %s", info->version);
	if (info->host) {
		strbuf_addstr(sb, " embedded in ");
		escape_add_visible(sb, info->host, NULL);
	}
	strbuf_addf(sb, " (%s)", info->library ? info->library : "?");
	write_state(sb, ps);
	strbuf_addch(sb, '\n');
	if (info->binaries_unused)
		strbuf_addf(sb, "  found from the snapshot's note, without the binaries: %s\n", info->binaries_unused);
}

/* "function (library+0xoffset) at file:line" for a native frame. */
static void native_label(struct strbuf *sb, const struct stack_frame *f)
{
	const char *library = f->library ? strrchr(f->library, '/') : NULL;
	library = library ? library + 1 : f->library;
	escape_add_visible(sb, f->function ? f->function : "??", NULL);
	if (library) {
		strbuf_addstr(sb, " (");
		escape_add_visible(sb, library, NULL);
		strbuf_addf(sb, "+0x%llx)", (unsigned long long)f->offset);
	} else {
		strbuf_addf(sb, " (0x%llx)", (unsigned long long)f->address);
	}
	if (f->file && f->line > 0) {
		strbuf_addstr(sb, " at ");
		escape_add_visible(sb, f->file, NULL);
		strbuf_addf(sb, ":%d", f->line);
	}
}

static void frame_label(struct strbuf *sb, const struct stack_frame *f)
{
	if (f->kind == FRAME_NATIVE) {
		native_label(sb, f);
		return;
	}
	escape_add_visible(sb, f->qualname ? f->qualname : "??", NULL);
	strbuf_addstr(sb, " (");
	escape_add_visible(sb, f->file ? f->file : "??", NULL);
	if (f->line >= 0)
		strbuf_addf(sb, ":%d", f->line);
	strbuf_addch(sb, ')');
}

/* With native frames each frame ends with its kind, in one column. */
static size_t tag_column(const struct stack_frame *frames, size_t nframes)
{
	struct strbuf label = {0};
	size_t widest = 0;
	for (size_t i = 0; i < nframes; i++) {
		strbuf_reset(&label);
		frame_label(&label, &frames[i]);
		if (label.len > widest)
			widest = label.len;
	}
	strbuf_release(&label);
	return widest < TAG_COLUMN_MAX ? widest : TAG_COLUMN_MAX;
}

/* Code points in TEXT[0, LEN): how many columns a run of the line takes. */
static size_t code_points(const char *text, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)text[i] & 0xc0) != 0x80;
	return n;
}

/* Carets under the part of the source line that F's instruction covers
 * (3.11+ columns, UTF-8 byte offsets into RAW, the line with its
 * indentation; INDENT bytes of it are not shown). A range that goes on to
 * later lines is marked to the end of this one; one that covers the whole
 * line is not marked. Tabs before the range stay
 * tabs, so the carets line up under a tab-indented expression. */
static void write_carets(struct strbuf *sb, const struct stack_frame *f, const char *raw, size_t indent,
                         const char *indent_text)
{
	size_t len = strlen(raw);
	if (!f->has_position || f->column < 0 || f->end_line < f->line || (size_t)f->column > len)
		return;
	size_t start = (size_t)f->column < indent ? indent : (size_t)f->column;
	size_t end = len;
	if (f->end_line == f->line && f->end_column >= 0 && (size_t)f->end_column < len)
		end = (size_t)f->end_column;
	while (f->end_line > f->line && end > start && (raw[end - 1] == ' ' || raw[end - 1] == '\t'))
		end--;
	size_t shown = len;
	while (shown > indent && (raw[shown - 1] == ' ' || raw[shown - 1] == '\t'))
		shown--;
	/* As Python's tracebacks do: no carets under a whole line, they would
	 * tell nothing. */
	if (end <= start || (start == indent && end >= shown))
		return;
	strbuf_addf(sb, "%s    ", indent_text);
	for (size_t i = indent; i < start; i++) {
		if (raw[i] == '\t')
			strbuf_addch(sb, '\t');
		else if (((unsigned char)raw[i] & 0xc0) != 0x80)
			strbuf_addch(sb, ' ');
	}
	for (size_t n = code_points(raw + start, end - start); n; n--)
		strbuf_addch(sb, '^');
	strbuf_addch(sb, '\n');
}

/* TEXT with control characters as \xHH: a repr keeps its own escapes. */
static void add_repr_line(struct strbuf *sb, const char *text)
{
	for (const char *p = text; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f)
			strbuf_addf(sb, "\\x%02x", c);
		else
			strbuf_addch(sb, (char)c);
	}
}

static void write_locals(struct strbuf *sb, const struct pylocals *locals)
{
	if (locals->error)
		strbuf_addf(sb, "        [locals unreadable: %s]\n", locals->error);
	for (size_t i = 0; i < locals->count; i++) {
		strbuf_addstr(sb, "        ");
		escape_add_visible(sb, locals->items[i].name, NULL);
		strbuf_addstr(sb, " = ");
		add_repr_line(sb, locals->items[i].repr);
		strbuf_addch(sb, '\n');
	}
	if (locals->names_cut)
		strbuf_addf(sb, "        [more locals: only the first %d are shown]\n", PYLOCALS_MAX_NAMES);
}

void dump_text_frames(struct strbuf *sb, const struct stack_frame *frames, size_t nframes, const char *indent_text,
                      bool tags, const struct dump_options *opts)
{
	size_t column = tags ? tag_column(frames, nframes) : 0;
	size_t margin = strlen(indent_text);
	for (size_t i = 0; i < nframes; i++) {
		const struct stack_frame *f = &frames[i];
		size_t start = sb->len;
		strbuf_addstr(sb, indent_text);
		frame_label(sb, f);
		if (tags) {
			size_t width = sb->len - start - margin;
			strbuf_addf(sb, "%*s  %s", (int)(width < column ? column - width : 0), "",
			            f->kind == FRAME_NATIVE ? "[native]" : "[python]");
		}
		strbuf_addch(sb, '\n');
		const char *raw = opts->show_source && f->kind == FRAME_PYTHON ?
		                  source_line_raw(&opts->source, f->file, f->line) : NULL;
		size_t indent = raw ? strspn(raw, " \t") : 0;
		if (raw && raw[indent]) {
			strbuf_addf(sb, "%s    %s\n", indent_text, raw + indent);
			write_carets(sb, f, raw, indent, indent_text);
		}
		if (f->locals)
			write_locals(sb, f->locals);
	}
}

/* Whether the threads run in more than one interpreter (mod_wsgi's
 * application groups): then each says which. */
static bool several_interpreters(const struct process_stacks *ps)
{
	uint64_t first = 0;
	for (size_t i = 0; i < ps->nthreads; i++) {
		uint64_t interp = ps->threads[i].interp_addr;
		if (interp && first && interp != first)
			return true;
		if (interp)
			first = interp;
	}
	return false;
}

static void write_thread(struct strbuf *sb, const struct process_stacks *ps, const struct thread_stack *ts,
                         const struct dump_options *opts)
{
	strbuf_addstr(sb, "\nThread ");
	if (ts->tid)
		strbuf_addf(sb, "%d", (int)ts->tid);
	else
		strbuf_addf(sb, "0x%llx", (unsigned long long)ts->thread_id);
	if (ts->name) {
		strbuf_addstr(sb, " \"");
		escape_add_visible(sb, ts->name, "\"");
		strbuf_addch(sb, '"');
	}
	const char *sep = " (";
	if (ts->ns_tid && ts->ns_tid != ts->tid) {
		strbuf_addf(sb, "%s%d in its PID namespace", sep, (int)ts->ns_tid);
		sep = ", ";
	}
	if (ts->is_python && ts->interp_id >= 0 && (ts->interp_id > 0 || several_interpreters(ps))) {
		strbuf_addf(sb, "%sinterpreter %lld", sep, (long long)ts->interp_id);
		if (ts->interp_name) {
			strbuf_addstr(sb, " \"");
			escape_add_visible(sb, ts->interp_name, NULL);
			strbuf_addch(sb, '"');
		}
		sep = ", ";
	}
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
	if (ts->gc) {
		strbuf_addf(sb, "%scollecting garbage", sep);
		sep = ", ";
	}
	if (ts->finalizing) {
		strbuf_addf(sb, "%sfinalizing the interpreter", sep);
		sep = ", ";
	}
	if (!ts->is_python) {
		strbuf_addf(sb, "%sno Python thread state", sep);
		sep = ", ";
	}
	if (sep[0] == ',')
		strbuf_addch(sb, ')');
	exception_text_summary(sb, ts);
	strbuf_addch(sb, '\n');
	exception_text_lines(sb, ts);
	if (ts->is_python && !ts->nframes && !ts->error)
		strbuf_addstr(sb, "    (no Python frames)\n");
	dump_text_frames(sb, ts->frames, ts->nframes, "    ", ps->native != NATIVE_OFF, opts);
	if (ts->error)
		strbuf_addf(sb, "    [stack incomplete: %s]\n", ts->error);
	if (ts->native_error)
		strbuf_addf(sb, "    [no native frames: %s]\n", ts->native_error);
	if (ts->native_partial)
		strbuf_addstr(sb, "    [merge partial: some Python frames are placed without their C frame]\n");
}

void dump_write_text(struct strbuf *sb, const struct process_stacks *ps, const struct dump_options *opts)
{
	write_header(sb, ps, opts);
	for (size_t i = 0; i < ps->nthreads; i++)
		write_thread(sb, ps, &ps->threads[i], opts);
	if (ps->tasks_read)
		dump_tasks_text(sb, ps, opts);
}
