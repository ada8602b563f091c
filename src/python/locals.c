/* A frame's locals: the names and kinds its code object gives each slot of
 * the frame's fast locals (co_varnames, co_cellvars and co_freevars up to
 * 3.10; co_localsplusnames and co_localspluskinds from 3.11), learnt once
 * per code object, then each bound slot's value as a bounded repr (cells
 * and free variables through their cell). Arguments are told apart by
 * position: co_argcount, keyword-only and the * and ** ones come first. */
#include <stdlib.h>
#include <string.h>

#include "python/repr.h"

/* What the code object says of one local. */
struct local_slot {
	size_t name_at;          /* in the names' text */
	enum pylocal_kind kind;
	uint32_t slot;           /* index in the frame's localsplus */
	bool deref;              /* the slot holds a cell */
};

struct code_locals {
	uint64_t addr;           /* the key: the code object */
	struct local_slot *slots;
	size_t count, cap;
	uint32_t nslots;         /* slots of the frame to read: the highest + 1 */
	bool cut;                /* more names than PYLOCALS_MAX_NAMES */
	struct strbuf names;
	char *error;             /* why the names could not be read */
};

struct code_slot_entry {
	uint64_t addr;
	struct code_locals *locals;
};

struct pylocals_reader {
	struct repr_reader repr;
	struct hashtab codes;    /* code address -> code_slot_entry */
};

const char *pylocal_kind_name(enum pylocal_kind kind)
{
	switch (kind) {
	case PYLOCAL_ARGUMENT: return "argument";
	case PYLOCAL_LOCAL: return "local";
	case PYLOCAL_CELL: return "cell";
	case PYLOCAL_FREE: return "free";
	}
	return "?";
}

static void code_locals_free(struct code_locals *c)
{
	if (!c)
		return;
	free(c->slots);
	strbuf_release(&c->names);
	free(c->error);
	free(c);
}

int pylocals_reader_new(struct pywalker *w, struct pylocals_reader **out)
{
	struct pylocals_reader *r = xcalloc(1, sizeof(*r));
	if (!r)
		return -ERR_NOMEM;
	repr_reader_init(&r->repr, w);
	*out = r;
	return 0;
}

void pylocals_reader_free(struct pylocals_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->codes.cap; i++) {
		struct code_slot_entry *e = hashtab_slot(&r->codes, i);
		if (e->addr)
			code_locals_free(e->locals);
	}
	hashtab_release(&r->codes);
	repr_reader_release(&r->repr);
	free(r);
}

void pylocals_release(struct pylocals *l)
{
	free(l->items);
	free(l->text);
	memset(l, 0, sizeof(*l));
}

/* ---- names */

/* The names of the tuple at ADDR, appended to C->names; their positions
 * go to AT (room for PYLOCALS_MAX_NAMES), their count to *N. */
static int read_names(struct pywalker *w, uint64_t addr, struct code_locals *c, size_t *at, size_t *n)
{
	const struct py_layout *L = &w->layout;
	int64_t size;
	*n = 0;
	if (!addr)
		return 0;
	int ret = target_read(w->target, addr + (uint64_t)L->varobject_size, &size, sizeof(size));
	if (ret < 0)
		return ret;
	if (size < 0 || size > (1 << 20))
		return err_set(ERR_CORRUPT, "name tuple at 0x%llx has size %lld", (unsigned long long)addr,
		               (long long)size);
	if (size > PYLOCALS_MAX_NAMES) {
		size = PYLOCALS_MAX_NAMES;
		c->cut = true;
	}
	uint64_t items[PYLOCALS_MAX_NAMES];
	if (size && (ret = target_read(w->target, addr + (uint64_t)L->tuple_item, items, (size_t)size * 8)) < 0)
		return ret;
	for (int64_t i = 0; i < size; i++) {
		at[i] = c->names.len;
		if ((ret = py_read_string(w, items[i], &c->names)) < 0)
			return ret;
		strbuf_addch(&c->names, '\0');
	}
	*n = (size_t)size;
	return strbuf_ok(&c->names) ? 0 : -ERR_NOMEM;
}

static int add_slot(struct code_locals *c, size_t name_at, enum pylocal_kind kind, uint32_t slot, bool deref)
{
	if (c->count == PYLOCALS_MAX_NAMES) {
		c->cut = true;
		return 0;
	}
	struct local_slot *s = ARRAY_PUSH(c->slots, c->count, c->cap);
	if (!s)
		return -ERR_NOMEM;
	*s = (struct local_slot){.name_at = name_at, .kind = kind, .slot = slot, .deref = deref};
	if (slot + 1 > c->nslots)
		c->nslots = slot + 1;
	return 0;
}

static bool same_name(const struct code_locals *c, size_t a, size_t b)
{
	return !strcmp(c->names.buf + a, c->names.buf + b);
}

/* Up to 3.10: co_varnames fill the first co_nlocals slots, co_cellvars
 * and co_freevars the next ones. An argument that is also a cell is
 * shown where the argument is, with the cell's value: 3.x clears the
 * argument's own slot, 2.7 leaves a copy that rebinding makes stale. */
static int slots_before_311(struct pywalker *w, const uint8_t *header, size_t nargs, struct code_locals *c)
{
	const struct py_layout *L = &w->layout;
	size_t var_at[PYLOCALS_MAX_NAMES], cell_at[PYLOCALS_MAX_NAMES], free_at[PYLOCALS_MAX_NAMES];
	size_t nvars, ncells, nfrees;
	int32_t nlocals = load_i32(header, L->code_nlocals);
	int ret;
	if ((ret = read_names(w, load_u64(header, L->code_varnames), c, var_at, &nvars)) < 0 ||
	    (ret = read_names(w, load_u64(header, L->code_cellvars), c, cell_at, &ncells)) < 0 ||
	    (ret = read_names(w, load_u64(header, L->code_freevars), c, free_at, &nfrees)) < 0)
		return ret;
	if (nlocals < 0 || nlocals > (1 << 20))
		return err_set(ERR_CORRUPT, "code object has %d locals", nlocals);
	bool cell_used[PYLOCALS_MAX_NAMES] = {false};
	for (size_t i = 0; i < nvars; i++) {
		enum pylocal_kind kind = i < nargs ? PYLOCAL_ARGUMENT : PYLOCAL_LOCAL;
		size_t cell = ncells;
		for (size_t j = 0; kind == PYLOCAL_ARGUMENT && j < ncells && cell == ncells; j++)
			if (same_name(c, var_at[i], cell_at[j]))
				cell = j;
		if (cell < ncells) {
			cell_used[cell] = true;
			ret = add_slot(c, var_at[i], kind, (uint32_t)nlocals + (uint32_t)cell, true);
		} else {
			ret = add_slot(c, var_at[i], kind, (uint32_t)i, false);
		}
		if (ret < 0)
			return ret;
	}
	for (size_t j = 0; j < ncells && ret == 0; j++)
		if (!cell_used[j])
			ret = add_slot(c, cell_at[j], PYLOCAL_CELL, (uint32_t)nlocals + (uint32_t)j, true);
	for (size_t k = 0; k < nfrees && ret == 0; k++)
		ret = add_slot(c, free_at[k], PYLOCAL_FREE, (uint32_t)(nlocals + ncells + k), true);
	return ret;
}

/* 3.11+: one name and one CO_FAST_* kind per slot of localsplus. */
static int slots_from_311(struct pywalker *w, const uint8_t *header, size_t nargs, struct code_locals *c)
{
	const struct py_layout *L = &w->layout;
	size_t name_at[PYLOCALS_MAX_NAMES];
	size_t n;
	uint8_t *kinds = NULL;
	size_t nkinds = 0;
	int ret = read_names(w, load_u64(header, L->code_localsplusnames), c, name_at, &n);
	if (ret == 0)
		ret = py_read_bytes(w, load_u64(header, L->code_localspluskinds), &kinds, &nkinds);
	if (ret < 0)
		return ret;
	if (nkinds < n) {
		free(kinds);
		return err_set(ERR_CORRUPT, "code object has %zu names and %zu kinds", n, nkinds);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned kind = kinds[i];
		bool cell = kind & (unsigned)L->co_fast_cell, free_var = kind & (unsigned)L->co_fast_free;
		enum pylocal_kind shown = free_var ? PYLOCAL_FREE
		                        : i < nargs ? PYLOCAL_ARGUMENT
		                        : cell ? PYLOCAL_CELL : PYLOCAL_LOCAL;
		if ((ret = add_slot(c, name_at[i], shown, (uint32_t)i, cell || free_var)) < 0)
			break;
	}
	free(kinds);
	return ret;
}

static int32_t code_header_size(const struct py_layout *L)
{
	const int32_t fields[] = {L->code_argcount, L->code_kwonlyargcount, L->code_flags, L->code_nlocals,
	                          L->code_varnames, L->code_cellvars, L->code_freevars, L->code_localsplusnames,
	                          L->code_localspluskinds};
	int32_t top = 0;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i] > top)
			top = fields[i];
	return top + 8;
}

static int learn_code(struct pywalker *w, uint64_t code_addr, struct code_locals *c)
{
	const struct py_layout *L = &w->layout;
	uint8_t header[512];
	int32_t size = code_header_size(L);
	if ((size_t)size > sizeof(header))
		return err_set(ERR_CORRUPT, "code object layout too large");
	int ret = target_read(w->target, code_addr, header, (size_t)size);
	if (ret < 0)
		return ret;
	int32_t argcount = load_i32(header, L->code_argcount);
	int32_t kwonly = L->code_kwonlyargcount >= 0 ? load_i32(header, L->code_kwonlyargcount) : 0;
	int32_t flags = load_i32(header, L->code_flags);
	if (argcount < 0 || kwonly < 0)
		return err_set(ERR_CORRUPT, "code object at 0x%llx has %d arguments", (unsigned long long)code_addr,
		               argcount);
	size_t nargs = (size_t)argcount + (size_t)kwonly + ((flags & L->co_varargs) ? 1 : 0) +
	               ((flags & L->co_varkeywords) ? 1 : 0);
	if (L->code_localsplusnames >= 0)
		return slots_from_311(w, header, nargs, c);
	return slots_before_311(w, header, nargs, c);
}

/* What the code object at CODE_ADDR says of its locals, learnt once. */
static int code_locals_of(struct pylocals_reader *r, uint64_t code_addr, const struct code_locals **out)
{
	struct code_slot_entry *e = hashtab_find(&r->codes, code_addr);
	if (e) {
		*out = e->locals;
		return 0;
	}
	struct code_locals *c = xcalloc(1, sizeof(*c));
	if (!c || hashtab_reserve(&r->codes, r->codes.count + 1, sizeof(*e)) < 0) {
		free(c);
		return -ERR_NOMEM;
	}
	c->addr = code_addr;
	int ret = learn_code(r->repr.w, code_addr, c);
	if (ret == -ERR_NOMEM) {
		code_locals_free(c);
		return ret;
	}
	if (ret < 0) {
		c->error = xasprintf("%s%s%s", err_message(ret), *err_context() ? ": " : "", err_context());
		c->count = 0;
		err_clear();
		if (!c->error) {
			code_locals_free(c);
			return -ERR_NOMEM;
		}
	}
	e = hashtab_slot_for(&r->codes, code_addr);
	hashtab_claim(&r->codes, e, code_addr);
	e->locals = c;
	*out = c;
	return 0;
}

/* ---- values */

struct built {
	size_t name_at, type_at, repr_at;   /* type_at: (size_t)-1 when none */
	enum pylocal_kind kind;
};

/* The object a slot holds: the slot's own word, untagged (3.14+ keeps
 * _PyStackRef words there); through its cell for cells and free
 * variables. *TAGGED_INT is set when the word is a tagged int instead. */
static int slot_object(struct pylocals_reader *r, uint64_t word, bool deref, uint64_t *object, bool *tagged_int)
{
	const struct py_layout *L = &r->repr.w->layout;
	*tagged_int = false;
	if (L->stackref_tag_bits > 0) {
		if (L->stackref_int_tag > 0 && (word & (uint64_t)L->stackref_tag_bits) == (uint64_t)L->stackref_int_tag) {
			*tagged_int = true;
			*object = word;
			return 0;
		}
		word &= ~(uint64_t)L->stackref_tag_bits;
	}
	*object = word;
	if (!word || !deref)
		return 0;
	/* A cell until the frame has run MAKE_CELL (frames shown have). */
	uint64_t type_addr;
	const struct repr_type *type;
	int ret = repr_read(&r->repr, word + (uint64_t)L->object_type, &type_addr, 8);
	if (ret == 0 && (ret = repr_type_of(&r->repr, type_addr, &type)) == 0 && type->kind == RK_CELL && !type->subclass)
		ret = repr_read(&r->repr, word + (uint64_t)L->cell_ref, object, 8);
	return ret;
}

/* Cut TEXT back to LEN bytes. */
static void cut_text(struct strbuf *text, size_t len)
{
	text->len = len;
	if (text->buf)
		text->buf[len] = '\0';
}

static int add_text(struct strbuf *text, const char *s, size_t *at)
{
	*at = text->len;
	strbuf_addstr(text, s);
	strbuf_addch(text, '\0');
	return strbuf_ok(text) ? 0 : -ERR_NOMEM;
}

/* One local's type and repr into TEXT; an unbound one (NULL, empty
 * cell) sets *BOUND false. */
static int read_value(struct pylocals_reader *r, uint64_t word, bool deref, struct strbuf *text, struct built *b,
                      bool *bound)
{
	uint64_t object;
	bool tagged_int;
	size_t start = text->len;
	int ret = slot_object(r, word, deref, &object, &tagged_int);
	*bound = true;
	b->type_at = (size_t)-1;
	if (ret == 0 && tagged_int) {
		add_text(text, "int", &b->type_at);
		b->repr_at = text->len;
		strbuf_addf(text, "%lld", (long long)((int64_t)object >> 2));
		strbuf_addch(text, '\0');
		return strbuf_ok(text) ? 0 : -ERR_NOMEM;
	}
	if (ret == 0 && !object) {
		*bound = false;
		return 0;
	}
	struct strbuf type = {0};
	if (ret == 0) {
		b->repr_at = text->len;
		ret = repr_object(&r->repr, object, text, &type);
	}
	if (ret == 0 && strbuf_ok(&type)) {
		strbuf_addch(text, '\0');
		if (type.len)
			add_text(text, type.buf, &b->type_at);
	} else if (ret != -ERR_NOMEM) {
		/* The budget ran out (or the cell could not be read): a marker
		 * replaces whatever part was written. */
		cut_text(text, start);
		b->repr_at = start;
		if (ret == -ERR_LIMIT)
			strbuf_addf(text, "<not read: the frame's %d-byte read limit was reached>", PYLOCALS_FRAME_BUDGET);
		else
			strbuf_addf(text, "<unreadable cell at 0x%llx>", (unsigned long long)word);
		strbuf_addch(text, '\0');
		err_clear();
		ret = 0;
	}
	strbuf_release(&type);
	return ret < 0 ? ret : strbuf_ok(text) ? 0 : -ERR_NOMEM;
}

/* Turn the offsets of BUILT into OUT's pointers, TEXT now final. */
static int finish(struct pylocals *out, struct strbuf *text, const struct built *built, size_t n, size_t error_at)
{
	out->items = xcalloc(n ? n : 1, sizeof(*out->items));
	if (!out->items)
		return -ERR_NOMEM;
	out->text = strbuf_detach(text);
	for (size_t i = 0; i < n; i++) {
		out->items[i] = (struct pylocal){
			.name = out->text + built[i].name_at,
			.kind = built[i].kind,
			.type = built[i].type_at == (size_t)-1 ? NULL : out->text + built[i].type_at,
			.repr = out->text + built[i].repr_at,
		};
	}
	out->count = n;
	out->error = error_at == (size_t)-1 ? NULL : out->text + error_at;
	return 0;
}

int pylocals_read(struct pylocals_reader *r, const struct pyframe *frame, struct pylocals *out)
{
	const struct py_layout *L = &r->repr.w->layout;
	const struct code_locals *c;
	struct strbuf text = {0};
	struct built *built = NULL;
	uint64_t *words = NULL;
	size_t n = 0, error_at = (size_t)-1;
	memset(out, 0, sizeof(*out));
	int ret = code_locals_of(r, frame->code_addr, &c);
	if (ret < 0)
		return ret;
	out->names_cut = c->cut;
	if (c->error) {
		ret = add_text(&text, c->error, &error_at);
		goto done;
	}
	size_t budget = PYLOCALS_FRAME_BUDGET;
	r->repr.budget = &budget;
	int32_t base = L->iframe_localsplus >= 0 ? L->iframe_localsplus : L->frame_localsplus;
	built = xcalloc(c->count ? c->count : 1, sizeof(*built));
	words = xcalloc(c->nslots ? c->nslots : 1, sizeof(*words));
	if (!built || !words) {
		ret = -ERR_NOMEM;
		goto done;
	}
	if (c->nslots && (ret = repr_read(&r->repr, frame->addr + (uint64_t)base, words, c->nslots * 8u)) < 0) {
		const char *why = ret == -ERR_LIMIT ? "more slots than the frame's read limit" : err_message(ret);
		char *message = xasprintf("cannot read the frame's locals at 0x%llx: %s",
		                          (unsigned long long)(frame->addr + (uint64_t)base), why);
		err_clear();
		ret = message ? add_text(&text, message, &error_at) : -ERR_NOMEM;
		free(message);
		goto done;
	}
	for (size_t i = 0; i < c->count; i++) {
		const struct local_slot *s = &c->slots[i];
		struct built *b = &built[n];
		bool bound;
		size_t mark = text.len;
		b->kind = s->kind;
		if ((ret = add_text(&text, c->names.buf + s->name_at, &b->name_at)) < 0 ||
		    (ret = read_value(r, words[s->slot], s->deref, &text, b, &bound)) < 0)
			goto done;
		if (!bound) {
			cut_text(&text, mark);
			continue;
		}
		n++;
	}
	out->budget_spent = budget == 0;
done:
	r->repr.budget = NULL;
	if (ret == 0)
		ret = finish(out, &text, built, n, error_at);
	strbuf_release(&text);
	free(built);
	free(words);
	return ret;
}
