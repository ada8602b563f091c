/* Python layer, internal: bounded reprs of objects read from a target
 * (docs/locals.md). One reader per collection: it caches what it learnt
 * about types (their kind and names), which live as long as the reader.
 * Every read is bounded and checked; a value that cannot be read becomes a
 * marker in the text, never an error of the whole. */
#ifndef PYCOREPROF_PYTHON_REPR_H
#define PYCOREPROF_PYTHON_REPR_H

#include "python/internal.h"

/* What a type is, as far as its repr goes: the builtin it is or derives
 * from. */
enum repr_kind {
	RK_OTHER, RK_NONE, RK_BOOL, RK_INT2, RK_LONG, RK_FLOAT, RK_STR3, RK_STR2, RK_UNICODE2, RK_BYTES,
	RK_TUPLE, RK_LIST, RK_DICT, RK_SET, RK_FROZENSET, RK_TYPE, RK_EXCEPTION, RK_ELLIPSIS,
	RK_NOTIMPLEMENTED, RK_CELL, RK_INSTANCE2,
};

struct repr_type {
	uint64_t addr;
	enum repr_kind kind;
	bool subclass;           /* derives from the builtin of KIND, is not it */
	bool heap;               /* a class made at run time (Py_TPFLAGS_HEAPTYPE) */
	char *display;           /* "module.qualname"; the bare name for builtins */
	char *short_name;        /* qualname (static types: tp_name after its last dot) */
};

struct repr_reader {
	struct pywalker *w;
	struct hashtab types;    /* type address -> struct repr_type * */
	size_t *budget;          /* bytes the value being read may still read; NULL: no limit */
	struct strbuf scratch;
};

void repr_reader_init(struct repr_reader *r, struct pywalker *w);
void repr_reader_release(struct repr_reader *r);

/* Read N bytes at ADDR, charged to the budget: -ERR_LIMIT when it has
 * not that much left (nothing is read), else target_read()'s result. */
int repr_read(struct repr_reader *r, uint64_t addr, void *buf, size_t n);

/* The type at TYPE_ADDR, learnt once per reader (its reads are not
 * charged). Errors: reads of the type failed (a marker is in order). */
int repr_type_of(struct repr_reader *r, uint64_t type_addr, const struct repr_type **out);

/* Dict and set tables (repr_tables.c): entries in iteration order. */
struct table_iter {
	uint64_t entries;        /* address of the first entry */
	uint64_t values;         /* split dicts: the values array, else 0 */
	size_t count;            /* entries (or slots) to look at */
	size_t next;
	int32_t entry_size, key_at, value_at, hash_at; /* value_at -1: a set */
	bool py2_set;            /* 2.7 sets mark deleted slots with a "<dummy key>" str */
};
/* Start iterating the dict at ADDR; *USED gets its item count. */
int table_iter_dict(struct repr_reader *r, uint64_t addr, struct table_iter *it, int64_t *used);
/* Start iterating a keys object KEYS (ma_keys, or a type's cached keys)
 * with the values VALUES (ma_values, or an instance's own values; 0 when
 * the entries hold them). */
int table_iter_keys(struct repr_reader *r, uint64_t keys, uint64_t values, struct table_iter *it);
/* Start iterating the set (or frozenset) at ADDR; *USED gets its size. */
int table_iter_set(struct repr_reader *r, uint64_t addr, struct table_iter *it, int64_t *used);
/* The next live entry: 1 with *KEY and *VALUE (0 for sets), 0 at the end
 * (or after TABLE_SCAN_MAX slots), or a read error. */
int table_iter_next(struct repr_reader *r, struct table_iter *it, uint64_t *key, uint64_t *value);
enum { TABLE_SCAN_MAX = 1 << 16 };

/* The value of KEY (a str) in the dict at DICT_ADDR: 1 with *VALUE, 0
 * when absent, or an error. */
int repr_dict_lookup(struct repr_reader *r, uint64_t dict_addr, const char *key, uint64_t *value);
/* The same over the rest of a table being iterated. */
int repr_table_lookup(struct repr_reader *r, struct table_iter *it, const char *key, uint64_t *value);

/* Objects read for the registry of threads (attrs.c): OBJ's own
 * attribute NAME (from its instance dict or values, not its type's), 0
 * when absent; an int that is not negative and fits 64 bits; a str
 * (checked to be one) as UTF-8, cut at a character boundary within
 * MAX_BYTES. Errors: -ERR_CORRUPT for what does not read as it should, the
 * target's read errors. */
int py_attr_get(struct repr_reader *r, uint64_t obj, const char *name, uint64_t *value);
int py_read_index(struct repr_reader *r, uint64_t obj, uint64_t *value);
int py_read_str(struct repr_reader *r, uint64_t obj, size_t max_bytes, struct strbuf *sb);

/* Append the bounded repr of the object at ADDR to OUT, and its type as
 * the locals show it to TYPE_TEXT (nothing when the object could not be
 * read). Returns 0, or -ERR_LIMIT when the budget ran out part-way (OUT
 * then holds a partial repr that the caller replaces), or -ERR_NOMEM. */
int repr_object(struct repr_reader *r, uint64_t addr, struct strbuf *out, struct strbuf *type_text);

#endif
