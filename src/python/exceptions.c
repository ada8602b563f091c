/* The exceptions a thread has in flight, read from its thread state: the
 * one being raised and the innermost one being handled, each with its type
 * name, message, traceback and __cause__/__context__ chain. Every walk is
 * bounded, every object's kind is checked from its type's flags before its
 * fields are read, and what cannot be read is said, not guessed. Only
 * one-shot collection (core, dump, snapshot) calls this; sampling never. */
#include <stdlib.h>
#include <string.h>

#include "python/internal.h"

enum {
	EXC_MAX_DEPTH = 8,          /* links of a __cause__/__context__ chain */
	EXC_MAX_PER_THREAD = 32,    /* exceptions read for one thread */
	EXC_MAX_TRACEBACK = 1024,   /* entries of one traceback kept, the innermost */
	EXC_MAX_TB_WALK = 1 << 16,  /* entries of one traceback followed */
	EXC_MAX_HANDLED = 256,      /* items of the exc_info stack */
	TYPE_NAME_MAX = 256,
};

/* What is known of an object from its type. */
struct object_kind {
	uint64_t type;
	unsigned long flags;
	char name[TYPE_NAME_MAX];
};

/* tp_name: a C string, read up to each page end so that a name near the
 * end of a mapping is not lost to a read past it. */
static int read_c_string(struct target *t, uint64_t addr, char *out, size_t size)
{
	size_t got = 0;
	while (got + 1 < size) {
		size_t chunk = 4096 - ((addr + got) & 4095);
		if (chunk > size - 1 - got)
			chunk = size - 1 - got;
		int ret = target_read(t, addr + got, out + got, chunk);
		if (ret < 0)
			return ret;
		void *nul = memchr(out + got, '\0', chunk);
		if (nul)
			return 0;
		got += chunk;
	}
	out[size - 1] = '\0';
	return 0;
}

static int kind_of(struct pywalker *w, uint64_t object, struct object_kind *kind)
{
	const struct py_layout *L = &w->layout;
	struct target *t = w->target;
	uint64_t flags, name;
	int ret;
	memset(kind, 0, sizeof(*kind));
	if ((ret = target_read_u64(t, object + (uint64_t)L->object_type, &kind->type)) < 0 ||
	    (ret = target_read_u64(t, kind->type + (uint64_t)L->type_flags, &flags)) < 0 ||
	    (ret = target_read_u64(t, kind->type + (uint64_t)L->type_name, &name)) < 0 ||
	    (ret = read_c_string(t, name, kind->name, sizeof(kind->name))) < 0)
		return ret;
	kind->flags = (unsigned long)flags;
	return 0;
}

static bool is_none(const struct object_kind *kind)
{
	return !strcmp(kind->name, "NoneType");
}

static bool has_flag(const struct object_kind *kind, int32_t flag)
{
	return flag > 0 && (kind->flags & (unsigned long)flag);
}

static void say(struct pyexc *e, const char *what, uint64_t addr)
{
	if (e->error)
		return;
	e->error = xasprintf("%s at 0x%llx: %s", what, (unsigned long long)addr, err_context());
	err_clear();
}

/* The message of E from OBJECT: its text when it is a str (2.7: a byte
 * string), the text of its first item when it is a tuple (the arguments),
 * nothing for anything else; what cannot be read is said in E's error. */
static void read_message(struct pywalker *w, uint64_t object, bool tuple_too, struct pyexc *e)
{
	const struct py_layout *L = &w->layout;
	struct object_kind kind;
	if (!object)
		return;
	if (kind_of(w, object, &kind) < 0) {
		say(e, "cannot read the exception's message or arguments", object);
		return;
	}
	if (tuple_too && has_flag(&kind, L->tpflag_tuple)) {
		int64_t size;
		uint64_t item;
		if (target_read(w->target, object + (uint64_t)L->varobject_size, &size, sizeof(size)) < 0) {
			say(e, "cannot read the exception's arguments", object);
			return;
		}
		if (size < 1)
			return;
		if (target_read_u64(w->target, object + (uint64_t)L->tuple_item, &item) < 0) {
			say(e, "cannot read the exception's arguments", object);
			return;
		}
		read_message(w, item, false, e);
		return;
	}
	if (!has_flag(&kind, L->tpflag_str))
		return;
	struct strbuf sb = {0};
	if (py_read_string(w, object, &sb) < 0) {
		strbuf_release(&sb);
		say(e, "cannot read the exception's message", object);
		return;
	}
	e->message = strbuf_detach(&sb);
}

/* The code object run by the frame object FRAME: its f_code up to 3.10,
 * from 3.11 the code of the _PyInterpreterFrame it points to. */
static int frame_code(struct pywalker *w, uint64_t frame, uint64_t *code)
{
	const struct py_layout *L = &w->layout;
	if (L->frame_code >= 0)
		return target_read_u64(w->target, frame + (uint64_t)L->frame_code, code);
	uint64_t iframe;
	int ret = target_read_u64(w->target, frame + (uint64_t)L->frameobj_iframe, &iframe);
	if (ret < 0 || (ret = target_read_u64(w->target, iframe + (uint64_t)L->iframe_code, code)) < 0)
		return ret;
	if (w->executable_tagged)
		*code &= ~(uint64_t)3;
	return 0;
}

static bool is_traceback(struct pywalker *w, uint64_t tb)
{
	struct object_kind kind;
	uint64_t type;
	if (target_read_u64(w->target, tb + (uint64_t)w->layout.object_type, &type) < 0)
		return false;
	if (type && type == w->traceback_type_addr)
		return true;
	if (kind_of(w, tb, &kind) < 0 || strcmp(kind.name, "traceback"))
		return false;
	w->traceback_type_addr = kind.type;
	return true;
}

/* The traceback chain from TB, outermost first in the target: the entries
 * are listed first (a chain that loops ends at EXC_MAX_TB_WALK), then the
 * innermost EXC_MAX_TRACEBACK of them, where it was raised, are decoded
 * and stored innermost first. */
static int read_traceback(struct pywalker *w, uint64_t tb, struct pyexc *e)
{
	const struct py_layout *L = &w->layout;
	struct target *t = w->target;
	uint64_t *entries = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;
	while (tb) {
		if (n == EXC_MAX_TB_WALK) {
			e->traceback_cut = true;
			break;
		}
		if (!is_traceback(w, tb)) {
			say(e, "traceback entry is not one", tb);
			break;
		}
		if (ARRAY_GROW(entries, cap, n + 1) < 0) {
			ret = -ERR_NOMEM;
			goto out;
		}
		entries[n++] = tb;
		if (target_read_u64(t, tb + (uint64_t)L->tb_next, &tb) < 0) {
			say(e, "cannot read the traceback entry", entries[n - 1]);
			break;
		}
	}
	size_t keep = n < EXC_MAX_TRACEBACK ? n : EXC_MAX_TRACEBACK;
	e->traceback_cut |= keep < n;
	if (keep && !(e->traceback = xcalloc(keep, sizeof(*e->traceback)))) {
		ret = -ERR_NOMEM;
		goto out;
	}
	for (size_t k = 0; k < keep; k++) {
		uint64_t entry = entries[n - 1 - k];
		uint64_t frame, code_addr;
		int32_t lasti, lineno;
		const struct pycode *code;
		if (target_read_u64(t, entry + (uint64_t)L->tb_frame, &frame) < 0 ||
		    target_read_i32(t, entry + (uint64_t)L->tb_lasti, &lasti) < 0 ||
		    target_read_i32(t, entry + (uint64_t)L->tb_lineno, &lineno) < 0 || frame_code(w, frame, &code_addr) < 0 ||
		    py_code_at(w, code_addr, &code) < 0) {
			/* The entries inner to it are kept: where it was raised. */
			say(e, "cannot read the traceback entry", entry);
			break;
		}
		struct pytb_frame *f = &e->traceback[e->ntraceback++];
		f->code = code;
		/* 3.11+ leave tb_lineno at -1 until asked: the line of tb_lasti. */
		f->has_position = py_code_position(w, code, lasti, &f->position);
		f->line = lineno > 0 ? lineno : f->position.line;
	}
out:
	free(entries);
	return ret;
}

static int read_exception(struct pywalker *w, uint64_t type, uint64_t value, uint64_t tb, int depth,
                          int *budget, struct pyexc **out);

/* __cause__ or __context__ at OFFSET of the exception VALUE. */
static int read_link(struct pywalker *w, uint64_t value, int32_t offset, int depth, int *budget,
                     struct pyexc *e, struct pyexc **out)
{
	uint64_t linked;
	if (offset < 0 || depth + 1 >= EXC_MAX_DEPTH || *budget <= 0)
		return 0;
	if (target_read_u64(w->target, value + (uint64_t)offset, &linked) < 0) {
		say(e, "cannot read the exception's chain", value);
		return 0;
	}
	return linked ? read_exception(w, 0, linked, 0, depth + 1, budget, out) : 0;
}

/* The exception VALUE (an instance, or before 3.12 perhaps still a bare
 * message or argument tuple, with its class in TYPE), with its traceback
 * (TB, or its __traceback__). Nothing (*OUT NULL) for NULL or None. */
static int read_exception(struct pywalker *w, uint64_t type, uint64_t value, uint64_t tb, int depth,
                          int *budget, struct pyexc **out)
{
	const struct py_layout *L = &w->layout;
	struct object_kind kind = {0};
	*out = NULL;
	if (!value && !type)
		return 0;
	if (value && kind_of(w, value, &kind) < 0) {
		err_clear();
		value = 0;
	}
	if (value && is_none(&kind))
		value = 0;
	bool instance = value && has_flag(&kind, L->tpflag_base_exc);
	struct object_kind type_kind = {0};
	if (!instance && type) {
		/* An unnormalized exception: its class is TYPE, a type object;
		 * an empty slot holds None (3.6, 3.7) or NULL. */
		uint64_t name;
		struct object_kind meta;
		if (kind_of(w, type, &meta) < 0 || is_none(&meta) ||
		    target_read_u64(w->target, type + (uint64_t)L->type_name, &name) < 0 ||
		    read_c_string(w->target, name, type_kind.name, sizeof(type_kind.name)) < 0 ||
		    !strcmp(type_kind.name, "NoneType")) {
			err_clear();
			type = 0;
		}
	}
	if (!value && !type)
		return 0;
	(*budget)--;
	struct pyexc *e = xcalloc(1, sizeof(*e));
	if (!e || !(e->type = xstrdup(instance || !type ? kind.name : type_kind.name))) {
		pyexc_free(e);
		return -ERR_NOMEM;
	}
	*out = e;
	e->addr = value ? value : type;
	if (instance) {
		uint64_t args;
		if (target_read_u64(w->target, value + (uint64_t)L->exc_args, &args) < 0)
			say(e, "cannot read the exception's arguments", value);
		else
			read_message(w, args, true, e);
		if (!tb && L->exc_traceback >= 0 && target_read_u64(w->target, value + (uint64_t)L->exc_traceback, &tb) < 0)
			say(e, "cannot read the exception's traceback", value);
	} else {
		read_message(w, value, true, e);
	}
	err_clear();
	int ret = tb ? read_traceback(w, tb, e) : 0;
	if (ret < 0 || !instance)
		return ret;
	if (L->exc_suppress_context >= 0) {
		uint8_t suppress = 0;
		if (target_read(w->target, value + (uint64_t)L->exc_suppress_context, &suppress, 1) == 0)
			e->suppress_context = suppress != 0;
		err_clear();
	}
	if ((ret = read_link(w, value, L->exc_cause, depth, budget, e, &e->cause)) < 0)
		return ret;
	return read_link(w, value, L->exc_context, depth, budget, e, &e->context);
}

static uint64_t field(struct pywalker *w, uint64_t base, int32_t offset)
{
	uint64_t value = 0;
	if (base && offset >= 0 && target_read_u64(w->target, base + (uint64_t)offset, &value) < 0) {
		err_clear();
		value = 0;
	}
	return value;
}

static int read_raising(struct pywalker *w, const struct pythread *th, int *budget, struct pyexc **out)
{
	const struct py_layout *L = &w->layout;
	uint64_t ts = th->tstate_addr;
	if (L->tstate_current_exception >= 0)
		return read_exception(w, 0, field(w, ts, L->tstate_current_exception), 0, 0, budget, out);
	return read_exception(w, field(w, ts, L->tstate_curexc_type), field(w, ts, L->tstate_curexc_value),
	                      field(w, ts, L->tstate_curexc_traceback), 0, budget, out);
}

/* The innermost item of the exc_info stack that holds an exception (the
 * stack has empty items: generators push one each). */
static int read_handling(struct pywalker *w, const struct pythread *th, int *budget, struct pyexc **out)
{
	const struct py_layout *L = &w->layout;
	uint64_t ts = th->tstate_addr;
	*out = NULL;
	if (L->tstate_exc_info < 0)
		return read_exception(w, field(w, ts, L->tstate_exc_type), field(w, ts, L->tstate_exc_value),
		                      field(w, ts, L->tstate_exc_traceback), 0, budget, out);
	uint64_t item = field(w, ts, L->tstate_exc_info);
	for (int i = 0; item && i < EXC_MAX_HANDLED && !*out; i++) {
		int ret = read_exception(w, field(w, item, L->stackitem_exc_type), field(w, item, L->stackitem_exc_value),
		                         field(w, item, L->stackitem_exc_traceback), 0, budget, out);
		if (ret < 0)
			return ret;
		item = field(w, item, L->stackitem_previous);
	}
	return 0;
}

int pywalker_exceptions(struct pywalker *w, const struct pythread *th, struct pyexc **raising,
                        struct pyexc **handling)
{
	int budget = EXC_MAX_PER_THREAD;
	*raising = *handling = NULL;
	int ret = read_raising(w, th, &budget, raising);
	if (ret == 0)
		ret = read_handling(w, th, &budget, handling);
	if (ret < 0) {
		pyexc_free(*raising);
		pyexc_free(*handling);
		*raising = *handling = NULL;
	}
	return ret;
}

void pyexc_free(struct pyexc *e)
{
	if (!e)
		return;
	pyexc_free(e->cause);
	pyexc_free(e->context);
	free(e->type);
	free(e->message);
	free(e->traceback);
	free(e->error);
	free(e);
}
