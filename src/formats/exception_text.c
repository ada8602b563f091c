/* Text for the exceptions a thread has in flight: "raising" or "handling"
 * TYPE('message') on the thread's line, then where each was raised and
 * caught, following its __cause__ (or __context__, unless suppressed) and
 * the exception the thread handles while it raises another. Everything
 * printed is in visible form: no control byte reaches a terminal. */
#include <string.h>

#include "formats/escape.h"
#include "formats/exception_text.h"

enum { MESSAGE_MAX = 300 };  /* characters of a message in text */

/* MESSAGE as Python's repr() writes a str: single quotes unless it has one
 * and no double quote; cut after MESSAGE_MAX characters. */
static void add_repr(struct strbuf *sb, const char *message)
{
	char quote = strchr(message, '\'') && !strchr(message, '"') ? '"' : '\'';
	size_t chars = 0;
	strbuf_addch(sb, quote);
	for (const char *p = message; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c & 0xc0) != 0x80 && chars++ == MESSAGE_MAX) {
			strbuf_addch(sb, quote);
			strbuf_addstr(sb, "...");
			return;
		}
		if (c == '\\' || c == (unsigned char)quote)
			strbuf_addf(sb, "\\%c", c);
		else if (c == '\n')
			strbuf_addstr(sb, "\\n");
		else if (c == '\r')
			strbuf_addstr(sb, "\\r");
		else if (c == '\t')
			strbuf_addstr(sb, "\\t");
		else if (c < 0x20 || c == 0x7f)
			strbuf_addf(sb, "\\x%02x", c);
		else
			strbuf_addch(sb, (char)c);
	}
	strbuf_addch(sb, quote);
}

static void add_exception_name(struct strbuf *sb, const struct pyexc *e)
{
	escape_add_visible(sb, e->type ? e->type : "?", NULL);
	if (e->message) {
		strbuf_addch(sb, '(');
		add_repr(sb, e->message);
		strbuf_addch(sb, ')');
	}
}

static void add_place(struct strbuf *sb, const struct pytb_frame *f)
{
	escape_add_visible(sb, f->code->qualname ? f->code->qualname : "??", NULL);
	strbuf_addstr(sb, " (");
	escape_add_visible(sb, f->code->filename ? f->code->filename : "??", NULL);
	if (f->line > 0)
		strbuf_addf(sb, ":%d", f->line);
	strbuf_addch(sb, ')');
}

/* Where E was raised (its innermost traceback entry) and where it is now:
 * caught in (HANDLED) or unwound to (raising) its outermost one. */
static void add_where(struct strbuf *sb, const struct pyexc *e, bool handled)
{
	if (!e->ntraceback) {
		strbuf_addstr(sb, "no traceback");
		return;
	}
	const struct pytb_frame *raised = &e->traceback[0], *now = &e->traceback[e->ntraceback - 1];
	if (e->traceback_cut) {
		/* Only its inner part was kept: where it is now is not known. */
		strbuf_addstr(sb, "raised at ");
		add_place(sb, raised);
		strbuf_addf(sb, " (traceback cut short after %zu entries)", e->ntraceback);
		return;
	}
	if (e->ntraceback == 1) {
		strbuf_addstr(sb, handled ? "raised and caught in " : "raised at ");
		add_place(sb, raised);
		return;
	}
	strbuf_addstr(sb, "raised at ");
	add_place(sb, raised);
	strbuf_addstr(sb, handled ? ", caught in " : ", unwound to ");
	add_place(sb, now);
}

static void add_line(struct strbuf *sb, const char *relation, const struct pyexc *e, bool handled)
{
	strbuf_addstr(sb, "    ");
	if (relation) {
		strbuf_addstr(sb, relation);
		add_exception_name(sb, e);
		strbuf_addstr(sb, ": ");
	}
	add_where(sb, e, handled);
	if (e->error) {
		strbuf_addstr(sb, " [");
		escape_add_visible(sb, e->error, NULL);
		strbuf_addch(sb, ']');
	}
	strbuf_addch(sb, '\n');
}

/* E's own line, then its chain; SEEN is set when HANDLING shows up in it. */
static void add_chain(struct strbuf *sb, const struct pyexc *e, bool handled, const struct pyexc *handling,
                      bool *seen)
{
	add_line(sb, NULL, e, handled);
	/* Each link was caught (and led to the next) before E was raised. */
	for (int depth = 0; depth < 16 && e; depth++) {
		const struct pyexc *next = e->cause ? e->cause : e->suppress_context ? NULL : e->context;
		if (!next)
			break;
		add_line(sb, e->cause ? "caused by " : "while handling ", next, true);
		*seen |= handling && next->addr == handling->addr;
		e = next;
	}
}

void exception_text_summary(struct strbuf *sb, const struct thread_stack *ts)
{
	const struct pyexc *e = ts->raising ? ts->raising : ts->handling;
	if (!e)
		return;
	strbuf_addstr(sb, ts->raising ? " raising " : " handling ");
	add_exception_name(sb, e);
}

void exception_text_lines(struct strbuf *sb, const struct thread_stack *ts)
{
	bool seen = false;
	if (ts->raising) {
		add_chain(sb, ts->raising, false, ts->handling, &seen);
		if (ts->handling && !seen) {
			add_line(sb, "while handling ", ts->handling, true);
			seen = true;
		}
	}
	if (ts->handling && !seen)
		add_chain(sb, ts->handling, true, NULL, &seen);
}
