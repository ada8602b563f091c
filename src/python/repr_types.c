/* What the locals reader knows of a type: which builtin it is or derives
 * from (found along tp_base to a static type of a known name), and the
 * names a repr shows: tp_name for static types, the module (__module__ in
 * the class's dict) and qualname for classes. Learnt once per reader. */
#include <stdlib.h>
#include <string.h>

#include "python/repr.h"

enum { TYPE_BASES_MAX = 32, CSTRING_MAX = 128 };

/* Static types by tp_name, on the versions where the name means it. */
static const struct {
	const char *name;
	enum repr_kind kind;
	int major;               /* 0: every version */
} builtins[] = {
	{"NoneType", RK_NONE, 0},      {"bool", RK_BOOL, 0},        {"float", RK_FLOAT, 0},
	{"tuple", RK_TUPLE, 0},        {"list", RK_LIST, 0},        {"dict", RK_DICT, 0},
	{"set", RK_SET, 0},            {"frozenset", RK_FROZENSET, 0}, {"type", RK_TYPE, 0},
	{"BaseException", RK_EXCEPTION, 3}, {"ellipsis", RK_ELLIPSIS, 0},
	{"NotImplementedType", RK_NOTIMPLEMENTED, 0}, {"cell", RK_CELL, 0},
	{"int", RK_LONG, 3},           {"str", RK_STR3, 3},         {"bytes", RK_BYTES, 3},
	{"int", RK_INT2, 2},           {"long", RK_LONG, 2},        {"str", RK_STR2, 2},
	{"unicode", RK_UNICODE2, 2},   {"instance", RK_INSTANCE2, 2},
	{"exceptions.BaseException", RK_EXCEPTION, 2},
};

int repr_read(struct repr_reader *r, uint64_t addr, void *buf, size_t n)
{
	if (r->budget) {
		if (*r->budget < n) {
			*r->budget = 0;
			return -ERR_LIMIT;
		}
		*r->budget -= n;
	}
	return target_read(r->w->target, addr, buf, n);
}

/* The NUL-terminated C string at ADDR into OUT (CSTRING_MAX bytes), read
 * a page piece at a time so that a string ending near unmapped memory
 * still reads. */
static int read_cstring(struct repr_reader *r, uint64_t addr, char out[CSTRING_MAX])
{
	size_t have = 0;
	while (have < CSTRING_MAX - 1) {
		uint64_t at = addr + have;
		size_t piece = 4096 - (size_t)(at & 4095);
		if (piece > CSTRING_MAX - 1 - have)
			piece = CSTRING_MAX - 1 - have;
		int ret = target_read(r->w->target, at, out + have, piece);
		if (ret < 0)
			return ret;
		char *nul = memchr(out + have, '\0', piece);
		if (nul)
			return 0;
		have += piece;
	}
	out[CSTRING_MAX - 1] = '\0';
	return 0;
}

static void type_free(struct repr_type *t)
{
	if (!t)
		return;
	free(t->display);
	free(t->short_name);
	free(t);
}

void repr_reader_init(struct repr_reader *r, struct pywalker *w)
{
	memset(r, 0, sizeof(*r));
	r->w = w;
}

struct type_slot {
	uint64_t addr;           /* the key */
	struct repr_type *type;
};

void repr_reader_release(struct repr_reader *r)
{
	for (size_t i = 0; i < r->types.cap; i++) {
		struct type_slot *slot = hashtab_slot(&r->types, i);
		if (slot->addr)
			type_free(slot->type);
	}
	hashtab_release(&r->types);
	strbuf_release(&r->scratch);
}

/* The header fields of the type at ADDR: tp_name (pointer), tp_flags, tp_base. */
static int read_type_header(struct repr_reader *r, uint64_t addr, uint64_t *name_ptr, uint64_t *flags,
                            uint64_t *base)
{
	const struct py_layout *L = &r->w->layout;
	int32_t top = L->type_name;
	if (L->type_flags > top)
		top = L->type_flags;
	if (L->type_base > top)
		top = L->type_base;
	uint8_t header[512];
	if (top < 0 || (size_t)top + 8 > sizeof(header))
		return err_set(ERR_CORRUPT, "type layout too large");
	int ret = target_read(r->w->target, addr, header, (size_t)top + 8);
	if (ret < 0)
		return ret;
	*name_ptr = load_u64(header, L->type_name);
	*flags = load_u64(header, L->type_flags);
	*base = load_u64(header, L->type_base);
	return 0;
}

static enum repr_kind builtin_kind(const struct pywalker *w, const char *name, bool *found)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if ((!builtins[i].major || builtins[i].major == (int)w->major) && !strcmp(builtins[i].name, name)) {
			*found = true;
			return builtins[i].kind;
		}
	*found = false;
	return RK_OTHER;
}

/* The builtin TYPE is or derives from, following tp_base. */
static int derive_kind(struct repr_reader *r, uint64_t addr, struct repr_type *type)
{
	const struct py_layout *L = &r->w->layout;
	for (int depth = 0; depth < TYPE_BASES_MAX && addr; depth++) {
		uint64_t name_ptr, flags, base;
		char name[CSTRING_MAX];
		int ret = read_type_header(r, addr, &name_ptr, &flags, &base);
		if (ret < 0)
			return ret;
		if (depth == 0)
			type->heap = (flags & (uint64_t)L->tpflag_heaptype) != 0;
		if (!(flags & (uint64_t)L->tpflag_heaptype)) {
			bool found;
			if ((ret = read_cstring(r, name_ptr, name)) < 0)
				return ret;
			enum repr_kind kind = builtin_kind(r->w, name, &found);
			if (found) {
				type->kind = kind;
				type->subclass = depth > 0;
				return 0;
			}
		}
		addr = base;
	}
	type->kind = RK_OTHER;
	return 0;
}

/* Display names: a static type's tp_name says its module before the last
 * dot (none: builtins); a class keeps __module__ in its dict and its
 * qualname (2.7: its name) in the heap type. */
static int derive_names(struct repr_reader *r, uint64_t addr, struct repr_type *type)
{
	const struct py_layout *L = &r->w->layout;
	uint64_t name_ptr, flags, base;
	int ret = read_type_header(r, addr, &name_ptr, &flags, &base);
	if (ret < 0)
		return ret;
	if (!type->heap) {
		char name[CSTRING_MAX];
		if ((ret = read_cstring(r, name_ptr, name)) < 0)
			return ret;
		const char *dot = strrchr(name, '.');
		type->display = xstrdup(name);
		type->short_name = xstrdup(dot ? dot + 1 : name);
		return type->display && type->short_name ? 0 : -ERR_NOMEM;
	}
	struct strbuf qualname = {0}, module = {0};
	int32_t qualname_at = L->heaptype_qualname >= 0 ? L->heaptype_qualname : L->heaptype_name;
	uint64_t qualname_ptr, dict, module_ptr = 0;
	if ((ret = target_read_u64(r->w->target, addr + (uint64_t)qualname_at, &qualname_ptr)) < 0 ||
	    (ret = py_read_string(r->w, qualname_ptr, &qualname)) < 0)
		goto out;
	/* Without a readable __module__, Python's own repr fails too: the
	 * bare name is what is left. */
	if (target_read_u64(r->w->target, addr + (uint64_t)L->type_dict, &dict) == 0 && dict &&
	    repr_dict_lookup(r, dict, "__module__", &module_ptr) == 1 && py_read_string(r->w, module_ptr, &module) < 0)
		strbuf_reset(&module);
	err_clear();
	type->short_name = strbuf_detach(&qualname);
	if (module.len && strcmp(module.buf, "builtins") && strcmp(module.buf, "__builtin__"))
		type->display = xasprintf("%s.%s", module.buf, type->short_name ? type->short_name : "");
	else
		type->display = xstrdup(type->short_name ? type->short_name : "");
	ret = type->short_name && type->display ? 0 : -ERR_NOMEM;
out:
	strbuf_release(&qualname);
	strbuf_release(&module);
	return ret;
}

int repr_type_of(struct repr_reader *r, uint64_t type_addr, const struct repr_type **out)
{
	struct type_slot *slot = hashtab_find(&r->types, type_addr);
	if (slot) {
		*out = slot->type;
		return 0;
	}
	if (!type_addr)
		return err_set(ERR_CORRUPT, "object without a type");
	struct repr_type *type = xcalloc(1, sizeof(*type));
	if (!type)
		return -ERR_NOMEM;
	type->addr = type_addr;
	/* Type reads are not the value's: they are not charged. */
	size_t *budget = r->budget;
	r->budget = NULL;
	int ret = derive_kind(r, type_addr, type);
	if (ret == 0)
		ret = derive_names(r, type_addr, type);
	r->budget = budget;
	if (ret == 0)
		ret = hashtab_reserve(&r->types, r->types.count + 1, sizeof(*slot));
	if (ret < 0) {
		type_free(type);
		return ret;
	}
	slot = hashtab_slot_for(&r->types, type_addr);
	hashtab_claim(&r->types, slot, type_addr);
	slot->type = type;
	*out = type;
	return 0;
}
