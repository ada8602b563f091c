/* Reading ordinary Python objects for the asyncio task walk: kinds (by the
 * type's name for builtins, by identity with asyncio's own classes for tasks
 * and futures), dicts (combined and split, every layout from 3.7), sets,
 * lists, tuples, instance attributes (__dict__, managed dicts and inline
 * values), small ints. Lookups read the target; nothing is written. */
#include <stdlib.h>
#include <string.h>

#include "python/objects.h"

struct kind_slot {
	uint64_t type;
	enum obj_kind kind;
};

int pyobjects_init(struct pyobjects *o, struct pywalker *w)
{
	memset(o, 0, sizeof(*o));
	const struct py_async_layout *A = py_async_layout_find(w->major, w->minor);
	if (!A && w->major == 3 && w->minor > 15) {
		/* A release newer than the tables: the newest one, checked by the
		 * published asyncio offsets where it matters. */
		for (size_t i = 0; i < py_async_layouts_count; i++)
			if (!A || py_async_layouts[i].version_hex > A->version_hex)
				A = &py_async_layouts[i];
	}
	if (!A)
		return err_set(ERR_UNSUPPORTED_PYTHON, "asyncio tasks are read from Python 3.7 on, not %s",
		               w->info.version);
	o->w = w;
	o->t = w->target;
	o->A = *A;
	return 0;
}

void pyobjects_release(struct pyobjects *o)
{
	hashtab_release(&o->kinds);
}

void pyobjects_set_classes(struct pyobjects *o, const uint64_t classes[CLASS__COUNT])
{
	if (!memcmp(o->classes, classes, sizeof(o->classes)))
		return;
	memcpy(o->classes, classes, sizeof(o->classes));
	hashtab_release(&o->kinds);
}

int obj_ptr(struct pyobjects *o, uint64_t addr, int32_t off, uint64_t *out)
{
	if (off < 0)
		return err_set(ERR_UNSUPPORTED_PYTHON, "Python %s has no such field", o->w->info.version);
	if (!addr)
		return err_set(ERR_CORRUPT, "NULL object pointer");
	return target_read_u64(o->t, addr + (uint64_t)off, out);
}

/* A NUL-terminated C string of at most CAP - 1 bytes, read a piece at a time
 * so that a short string near the end of a mapping reads. */
static int read_cstring(struct target *t, uint64_t addr, char *buf, size_t cap)
{
	size_t got = 0;
	while (got + 1 < cap) {
		size_t piece = 16 - ((addr + got) & 15);
		if (piece > cap - 1 - got)
			piece = cap - 1 - got;
		int ret = target_read(t, addr + got, buf + got, piece);
		if (ret < 0)
			return ret;
		for (size_t i = 0; i < piece; i++)
			if (!buf[got + i])
				return 0;
		got += piece;
	}
	buf[got] = 0;
	return 0;
}

/* Builtin types by tp_name; they are static types (not heap types) except
 * _asyncio's, which are heap types from 3.12 but carry the module's name. */
static const struct { const char *name; enum obj_kind kind; } builtin_kinds[] = {
	{"coroutine", OBJ_COROUTINE},
	{"generator", OBJ_GENERATOR},
	{"async_generator", OBJ_ASYNCGEN},
	{"async_generator_asend", OBJ_ASEND},
	{"async_generator_athrow", OBJ_ATHROW},
	{"coroutine_wrapper", OBJ_COROWRAPPER},
	{"function", OBJ_FUNCTION},
	{"method", OBJ_METHOD},
	{"builtin_function_or_method", OBJ_CFUNCTION},
	{"TaskWakeupMethWrapper", OBJ_WAKEUP},
	{"cell", OBJ_CELL},
	{"tuple", OBJ_TUPLE},
	{"list", OBJ_LIST},
	{"dict", OBJ_DICT},
	{"set", OBJ_SET},
	{"str", OBJ_STR},
	{"int", OBJ_INT},
	{"weakref", OBJ_WEAKREF},
	{"weakref.ReferenceType", OBJ_WEAKREF},
};

static int classify(struct pyobjects *o, uint64_t type, enum obj_kind *kind)
{
	const struct py_layout *L = &o->w->layout;
	*kind = OBJ_OTHER;
	/* Tasks and futures: the class or one of its bases is asyncio's. */
	uint64_t base = type;
	for (int depth = 0; base && depth < PY_MAX_TYPE_DEPTH; depth++) {
		if (base == o->classes[CLASS_TASK_C]) {
			*kind = OBJ_TASK_C;
			return 0;
		}
		if (base == o->classes[CLASS_TASK_PY]) {
			*kind = OBJ_TASK_PY;
			return 0;
		}
		if (base == o->classes[CLASS_FUTURE_C]) {
			*kind = OBJ_FUTURE_C;
			return 0;
		}
		if (base == o->classes[CLASS_FUTURE_PY]) {
			*kind = OBJ_FUTURE_PY;
			return 0;
		}
		int ret = target_read_u64(o->t, base + (uint64_t)o->A.type_base, &base);
		if (ret < 0)
			return ret;
	}
	uint64_t name_ptr, flags;
	char name[64];
	int ret;
	if ((ret = target_read_u64(o->t, type + (uint64_t)L->type_name, &name_ptr)) < 0 ||
	    (ret = target_read_u64(o->t, type + (uint64_t)o->A.type_flags, &flags)) < 0 ||
	    (ret = read_cstring(o->t, name_ptr, name, sizeof(name))) < 0)
		return ret;
	if (flags & (uint64_t)o->A.tpflags_heaptype) {
		if (strcmp(name, "TaskWakeupMethWrapper"))
			return 0;
	}
	for (size_t i = 0; i < sizeof(builtin_kinds) / sizeof(builtin_kinds[0]); i++) {
		if (!strcmp(name, builtin_kinds[i].name)) {
			*kind = builtin_kinds[i].kind;
			return 0;
		}
	}
	return 0;
}

static int type_kind(struct pyobjects *o, uint64_t type, enum obj_kind *kind)
{
	struct kind_slot *slot = hashtab_find(&o->kinds, type);
	if (slot) {
		*kind = slot->kind;
		return 0;
	}
	int ret = classify(o, type, kind);
	if (ret < 0)
		return ret;
	if (o->kinds.count < 65536 && hashtab_reserve(&o->kinds, o->kinds.count + 1, sizeof(*slot)) == 0) {
		slot = hashtab_slot_for(&o->kinds, type);
		hashtab_claim(&o->kinds, slot, type);
		slot->kind = *kind;
	}
	return 0;
}

int obj_kind(struct pyobjects *o, uint64_t addr, enum obj_kind *kind)
{
	*kind = OBJ_OTHER;
	if (!addr)
		return 0;
	uint64_t type;
	int ret = target_read_u64(o->t, addr + (uint64_t)o->w->layout.object_type, &type);
	if (ret < 0)
		return ret;
	if (!type)
		return err_set(ERR_CORRUPT, "object at 0x%llx has no type", (unsigned long long)addr);
	return type_kind(o, type, kind);
}

int obj_str_equals(struct pyobjects *o, uint64_t addr, const char *text, bool *equal)
{
	const struct py_layout *L = &o->w->layout;
	uint8_t header[64];
	size_t want = strlen(text);
	*equal = false;
	if ((size_t)L->unicode_ascii_size > sizeof(header))
		return err_set(ERR_CORRUPT, "str layout too large");
	int ret = target_read(o->t, addr, header, (size_t)L->unicode_ascii_size);
	if (ret < 0)
		return ret;
	int64_t length = (int64_t)load_u64(header, L->unicode_length);
	uint32_t state = (uint32_t)load_i32(header, L->unicode_state);
	bool compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
	if (!compact || !ascii || length != (int64_t)want)
		return 0;
	char data[256];
	if (want > sizeof(data))
		return 0;
	if ((ret = target_read(o->t, addr + (uint64_t)L->unicode_ascii_size, data, want)) < 0)
		return ret;
	*equal = !memcmp(data, text, want);
	return 0;
}

int obj_long(struct pyobjects *o, uint64_t addr, int64_t *value)
{
	const struct py_async_layout *A = &o->A;
	int64_t size;
	uint32_t digits[2] = {0, 0};
	int ret = target_read(o->t, addr + (uint64_t)A->long_size, &size, sizeof(size));
	if (ret < 0)
		return ret;
	int64_t ndigits;
	bool negative;
	if (A->long_non_size_bits != PY_ABSENT) {
		/* 3.12+: lv_tag = digits << NON_SIZE_BITS | sign (0 +, 1 zero, 2 -). */
		ndigits = (int64_t)((uint64_t)size >> A->long_non_size_bits);
		negative = (size & 3) == 2;
	} else {
		negative = size < 0;
		ndigits = negative ? -size : size;
	}
	if (ndigits > 2)
		return err_set(ERR_LIMIT, "int at 0x%llx has %lld digits", (unsigned long long)addr, (long long)ndigits);
	if (ndigits && (ret = target_read(o->t, addr + (uint64_t)A->long_digits, digits, 4 * (size_t)ndigits)) < 0)
		return ret;
	int64_t v = (int64_t)digits[0] + ((int64_t)digits[1] << A->long_shift);
	*value = negative ? -v : v;
	return 0;
}

/* A dict keys object: where its entries are and how they are laid out. */
struct keys_info {
	uint64_t entries;
	int64_t nentries;
	int32_t esize, ekey, evalue;
};

static int keys_read(struct pyobjects *o, uint64_t keys, struct keys_info *ki)
{
	const struct py_async_layout *A = &o->A;
	uint8_t header[64];
	int32_t need = A->dictkeys_indices;
	if (need <= 0 || need > (int32_t)sizeof(header))
		return err_set(ERR_CORRUPT, "dict keys layout too large");
	int ret = target_read(o->t, keys, header, (size_t)need);
	if (ret < 0)
		return ret;
	ki->nentries = (int64_t)load_u64(header, A->dictkeys_nentries);
	uint64_t indices_bytes;
	int64_t size;
	if (A->dictkeys_size >= 0) {
		/* <= 3.10: dk_size slots of 1, 2, 4 or 8 bytes each. */
		size = (int64_t)load_u64(header, A->dictkeys_size);
		if (size < 1 || size > PY_MAX_CONTAINER * 2 || (size & (size - 1)))
			return err_set(ERR_CORRUPT, "dict keys at 0x%llx have an implausible size", (unsigned long long)keys);
		unsigned width = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffLL ? 4 : 8;
		indices_bytes = (uint64_t)size * width;
		ki->esize = A->dictentry_size;
		ki->ekey = A->dictentry_key;
		ki->evalue = A->dictentry_value;
	} else {
		unsigned log2_size = header[A->dictkeys_log2_size];
		unsigned log2_index_bytes = header[A->dictkeys_log2_index_bytes];
		unsigned kind = header[A->dictkeys_kind];
		if (log2_size > 23 || log2_index_bytes > 26 || log2_index_bytes < log2_size)
			return err_set(ERR_CORRUPT, "dict keys at 0x%llx have an implausible size", (unsigned long long)keys);
		size = (int64_t)1 << log2_size;
		indices_bytes = (uint64_t)1 << log2_index_bytes;
		bool general = A->dict_kind_general != PY_ABSENT && (int32_t)kind == A->dict_kind_general;
		ki->esize = general ? A->dictentry_size : A->dictuentry_size;
		ki->ekey = general ? A->dictentry_key : A->dictuentry_key;
		ki->evalue = general ? A->dictentry_value : A->dictuentry_value;
	}
	if (ki->nentries < 0 || ki->nentries > size)
		return err_set(ERR_CORRUPT, "dict keys at 0x%llx have %lld entries in %lld slots", (unsigned long long)keys,
		               (long long)ki->nentries, (long long)size);
	ki->entries = keys + (uint64_t)A->dictkeys_indices + indices_bytes;
	return 0;
}

/* Each entry of KEYS, with its value from VALUES (a split table's values
 * array, 0 for a combined table): FN(key, value) for those with both. */
static int keys_each(struct pyobjects *o, uint64_t keys, uint64_t values, obj_item_fn fn, void *ctx)
{
	struct keys_info ki;
	int ret = keys_read(o, keys, &ki);
	if (ret < 0)
		return ret;
	uint8_t chunk[64 * 24];
	uint64_t vals[64];
	int64_t per = (int64_t)(sizeof(chunk) / (size_t)ki.esize);
	if (per > 64)
		per = 64;
	for (int64_t first = 0; first < ki.nentries; first += per) {
		int64_t n = ki.nentries - first < per ? ki.nentries - first : per;
		if ((ret = target_read(o->t, ki.entries + (uint64_t)(first * ki.esize), chunk, (size_t)(n * ki.esize))) < 0)
			return ret;
		if (values && (ret = target_read(o->t, values + 8 * (uint64_t)first, vals, 8 * (size_t)n)) < 0)
			return ret;
		for (int64_t i = 0; i < n; i++) {
			uint64_t key = load_u64(chunk + i * ki.esize, ki.ekey);
			uint64_t value = values ? vals[i] : load_u64(chunk + i * ki.esize, ki.evalue);
			if (!key || !value)
				continue;
			if ((ret = fn(ctx, key, value)) != 0)
				return ret;
		}
	}
	return 0;
}

/* Where a split table's values start, from its ma_values pointer. */
static uint64_t values_array(const struct py_async_layout *A, uint64_t values)
{
	return values ? values + (uint64_t)(A->dictvalues_values > 0 ? A->dictvalues_values : 0) : 0;
}

int dict_each(struct pyobjects *o, uint64_t dict, obj_item_fn fn, void *ctx)
{
	uint64_t keys, values;
	int ret;
	if ((ret = obj_ptr(o, dict, o->A.dict_keys, &keys)) < 0 || (ret = obj_ptr(o, dict, o->A.dict_values, &values)) < 0)
		return ret;
	if (!keys)
		return err_set(ERR_CORRUPT, "dict at 0x%llx has no keys", (unsigned long long)dict);
	return keys_each(o, keys, values_array(&o->A, values), fn, ctx);
}

struct lookup {
	struct pyobjects *o;
	const char *key;
	uint64_t value;
	int64_t index, at;    /* the entry's position, for split keys */
};

static int lookup_one(void *ctx, uint64_t key, uint64_t value)
{
	struct lookup *l = ctx;
	bool equal;
	int ret = obj_str_equals(l->o, key, l->key, &equal);
	l->at++;
	if (ret < 0)
		return ret;
	if (!equal)
		return 0;
	l->value = value;
	return 1;
}

int dict_get(struct pyobjects *o, uint64_t dict, const char *key, uint64_t *value)
{
	struct lookup l = {.o = o, .key = key};
	int ret = dict_each(o, dict, lookup_one, &l);
	if (ret < 0)
		return ret;
	if (ret == 1)
		*value = l.value;
	return ret;
}

int set_each(struct pyobjects *o, uint64_t set, obj_item_fn fn, void *ctx)
{
	const struct py_async_layout *A = &o->A;
	int64_t mask;
	uint64_t table;
	int ret;
	if ((ret = target_read(o->t, set + (uint64_t)A->set_mask, &mask, sizeof(mask))) < 0 ||
	    (ret = obj_ptr(o, set, A->set_table, &table)) < 0)
		return ret;
	if (mask < 0 || mask >= PY_MAX_CONTAINER || ((mask + 1) & mask) || !table)
		return err_set(ERR_CORRUPT, "set at 0x%llx has an implausible table", (unsigned long long)set);
	uint8_t chunk[256 * 16];
	int64_t per = (int64_t)(sizeof(chunk) / (size_t)A->setentry_size);
	for (int64_t first = 0; first <= mask; first += per) {
		int64_t n = mask + 1 - first < per ? mask + 1 - first : per;
		if ((ret = target_read(o->t, table + (uint64_t)(first * A->setentry_size), chunk,
		                       (size_t)(n * A->setentry_size))) < 0)
			return ret;
		for (int64_t i = 0; i < n; i++) {
			uint64_t key = load_u64(chunk + i * A->setentry_size, A->setentry_key);
			/* Deleted entries hold a dummy object, which the caller's
			 * check of what it found skips like any stranger. */
			if (key && (ret = fn(ctx, key, 0)) != 0)
				return ret;
		}
	}
	return 0;
}

int seq_items(struct pyobjects *o, uint64_t seq, enum obj_kind kind, uint64_t *items, size_t max, size_t *count)
{
	const struct py_async_layout *A = &o->A;
	int64_t size;
	int32_t size_off = kind == OBJ_LIST ? A->list_size : A->tuple_size;
	int ret = target_read(o->t, seq + (uint64_t)size_off, &size, sizeof(size));
	*count = 0;
	if (ret < 0)
		return ret;
	if (size < 0 || size > PY_MAX_CONTAINER)
		return err_set(ERR_CORRUPT, "sequence at 0x%llx has an implausible size", (unsigned long long)seq);
	size_t n = (size_t)size < max ? (size_t)size : max;
	uint64_t base = seq + (uint64_t)A->tuple_items;
	if (kind == OBJ_LIST && (ret = obj_ptr(o, seq, A->list_items, &base)) < 0)
		return ret;
	if (n && (ret = target_read(o->t, base, items, 8 * n)) < 0)
		return ret;
	*count = n;
	return 0;
}

/* The index of str NAME among the keys of KEYS (shared keys of instances),
 * or -1. */
static int keys_index(struct pyobjects *o, uint64_t keys, const char *name, int64_t *index)
{
	struct lookup l = {.o = o, .key = name, .at = 0};
	struct keys_info ki;
	*index = -1;
	int ret = keys_read(o, keys, &ki);
	if (ret < 0)
		return ret;
	/* Every position counts, filled or not: values line up with entries. */
	for (int64_t i = 0; i < ki.nentries; i++) {
		uint64_t key;
		if ((ret = target_read_u64(o->t, ki.entries + (uint64_t)(i * ki.esize + ki.ekey), &key)) < 0)
			return ret;
		if (!key)
			continue;
		bool equal;
		if ((ret = obj_str_equals(o, key, l.key, &equal)) < 0)
			return ret;
		if (equal) {
			*index = i;
			return 0;
		}
	}
	return 0;
}

/* NAME from values kept beside shared keys (3.11 - 3.12 values arrays,
 * 3.13+ inline values) of an object of type TYPE. */
static int shared_keys_value(struct pyobjects *o, uint64_t type, uint64_t values, int64_t limit, const char *name,
                             uint64_t *value)
{
	uint64_t keys;
	int64_t index;
	int ret;
	if ((ret = obj_ptr(o, type, o->A.heaptype_cached_keys, &keys)) < 0)
		return ret;
	if (!keys || (ret = keys_index(o, keys, name, &index)) < 0)
		return ret;
	if (index < 0 || (limit >= 0 && index >= limit))
		return 0;
	if ((ret = target_read_u64(o->t, values + 8 * (uint64_t)index, value)) < 0)
		return ret;
	return *value ? 1 : 0;
}

int obj_getattr(struct pyobjects *o, uint64_t obj, const char *name, uint64_t *value)
{
	const struct py_async_layout *A = &o->A;
	uint64_t type, flags;
	int ret;
	if ((ret = target_read_u64(o->t, obj + (uint64_t)o->w->layout.object_type, &type)) < 0 ||
	    (ret = target_read_u64(o->t, type + (uint64_t)A->type_flags, &flags)) < 0)
		return ret;
	uint64_t dict = 0;
	if (A->tpflags_managed_dict != PY_ABSENT && (flags & (uint64_t)A->tpflags_managed_dict)) {
		uint64_t slot;
		if ((ret = target_read_u64(o->t, obj + (uint64_t)(int64_t)A->managed_dict_offset, &slot)) < 0)
			return ret;
		if (A->managed_values_offset != PY_ABSENT) {
			/* 3.11: a values array beside the dict pointer. */
			uint64_t values;
			if ((ret = target_read_u64(o->t, obj + (uint64_t)(int64_t)A->managed_values_offset, &values)) < 0)
				return ret;
			if (values)
				return shared_keys_value(o, type, values_array(A, values), -1, name, value);
			dict = slot;
		} else if (A->tpflags_inline_values == PY_ABSENT) {
			/* 3.12: one word, a values array when its low bit is set
			 * (it then points one byte before the array). */
			if (slot & 1)
				return shared_keys_value(o, type, values_array(A, slot + 1), -1, name, value);
			dict = slot;
		} else {
			dict = slot;
			if (!dict && (flags & (uint64_t)A->tpflags_inline_values)) {
				/* 3.13+: values inline, after the object's own fields. */
				int64_t basicsize;
				uint8_t head[8];
				if ((ret = target_read(o->t, type + (uint64_t)A->type_basicsize, &basicsize, 8)) < 0)
					return ret;
				uint64_t values = obj + (uint64_t)basicsize;
				if (basicsize <= 0 || basicsize > (1 << 20) ||
				    (ret = target_read(o->t, values, head, sizeof(head))) < 0)
					return ret < 0 ? ret : err_set(ERR_CORRUPT, "type at 0x%llx has an implausible size",
					                               (unsigned long long)type);
				if (!head[A->dictvalues_valid])
					return 0;
				return shared_keys_value(o, type, values_array(A, values), head[A->dictvalues_capacity], name,
				                         value);
			}
		}
	} else {
		int64_t dictoffset;
		if ((ret = target_read(o->t, type + (uint64_t)A->type_dictoffset, &dictoffset, 8)) < 0)
			return ret;
		if (dictoffset <= 0 || dictoffset > (1 << 20))
			return 0;
		if ((ret = target_read_u64(o->t, obj + (uint64_t)dictoffset, &dict)) < 0)
			return ret;
	}
	if (!dict)
		return 0;
	return dict_get(o, dict, name, value);
}

int obj_class_getattr(struct pyobjects *o, uint64_t obj, const char *name, uint64_t *value)
{
	uint64_t type;
	int ret = target_read_u64(o->t, obj + (uint64_t)o->w->layout.object_type, &type);
	for (int depth = 0; ret == 0 && type && depth < PY_MAX_TYPE_DEPTH; depth++) {
		uint64_t dict;
		if ((ret = obj_ptr(o, type, o->A.type_dict, &dict)) < 0)
			break;
		if (dict && (ret = dict_get(o, dict, name, value)) != 0)
			return ret;
		ret = target_read_u64(o->t, type + (uint64_t)o->A.type_base, &type);
	}
	return ret;
}

int module_dict(struct pyobjects *o, uint64_t interp, const char *name, uint64_t *dict)
{
	uint64_t modules = 0, module = 0;
	int ret;
	if ((ret = obj_ptr(o, interp, o->A.interp_modules, &modules)) < 0)
		return ret;
	if (!modules)
		return 0;
	if ((ret = dict_get(o, modules, name, &module)) <= 0)
		return ret;
	if ((ret = obj_ptr(o, module, o->A.module_dict, dict)) < 0)
		return ret;
	return *dict ? 1 : 0;
}
