/* Bounded reprs of objects read from a target: None, bools, ints of any
 * size, floats, str/bytes (every string kind), tuples, lists, dicts, sets,
 * classes and exceptions as Python writes them, within the limits of
 * docs/locals.md (depth, items, characters, length); anything else as
 * <module.Class object at 0x..>. A value that cannot be read becomes a
 * marker in place; only the budget's end and memory exhaustion stop. */
#include <stdlib.h>
#include <string.h>

#include "python/repr.h"
#include "python/repr_text.h"

enum { LONG_DIGITS_MAX = 1024 };

struct repr_walk {
	struct repr_reader *r;
	struct strbuf *out;
	size_t start;            /* where the value's text starts in OUT */
	uint64_t path[PYREPR_MAX_DEPTH + 1]; /* containers being shown, outermost first */
	unsigned depth;
};

static int value(struct repr_walk *c, uint64_t addr, struct strbuf *type_text);

/* A read that failed: the budget's end and memory exhaustion stop the
 * value; anything else leaves a marker naming WHAT could not be read. */
static int failed(struct repr_walk *c, int ret, const char *what, uint64_t addr)
{
	if (ret == -ERR_LIMIT || ret == -ERR_NOMEM)
		return ret;
	err_clear();
	strbuf_addf(c->out, "<unreadable %s at 0x%llx>", what, (unsigned long long)addr);
	return 0;
}

static int corrupt(struct repr_walk *c, const char *what, uint64_t addr, const char *field, long long n)
{
	strbuf_addf(c->out, "<corrupt %s at 0x%llx: %s %lld>", what, (unsigned long long)addr, field, n);
	return 0;
}

static int read_u64(struct repr_walk *c, uint64_t addr, uint64_t *out)
{
	return repr_read(c->r, addr, out, sizeof(*out));
}

/* No more items once the value's text is this long. */
static bool long_enough(const struct repr_walk *c)
{
	return c->out->len - c->start >= PYREPR_MAX_LENGTH;
}

static bool on_path(const struct repr_walk *c, uint64_t addr)
{
	for (unsigned i = 0; i < c->depth; i++)
		if (c->path[i] == addr)
			return true;
	return false;
}

/* ---- numbers */

static int long_value(struct repr_walk *c, uint64_t addr, enum repr_kind kind)
{
	const struct py_layout *L = &c->r->w->layout;
	uint64_t ndigits;
	bool negative;
	int ret;
	if (L->long_tag >= 0) {
		/* 3.12+: the sign in the low bits of lv_tag, the digit count above. */
		uint64_t tag;
		if ((ret = read_u64(c, addr + (uint64_t)L->long_tag, &tag)) < 0)
			return failed(c, ret, "int", addr);
		uint64_t sign = tag & (uint64_t)L->long_sign_mask;
		negative = sign == (uint64_t)L->long_sign_negative;
		ndigits = sign == (uint64_t)L->long_sign_zero ? 0 : tag >> L->long_non_size_bits;
	} else {
		uint64_t size;
		if ((ret = read_u64(c, addr + (uint64_t)L->varobject_size, &size)) < 0)
			return failed(c, ret, "int", addr);
		negative = (int64_t)size < 0;
		ndigits = negative ? -size : size;
	}
	if (kind == RK_BOOL) {
		strbuf_addstr(c->out, ndigits ? "True" : "False");
		return 0;
	}
	if (ndigits > LONG_DIGITS_MAX) {
		strbuf_addf(c->out, "<int of %llu %d-bit digits at 0x%llx>", (unsigned long long)ndigits,
		            L->long_shift, (unsigned long long)addr);
		return 0;
	}
	uint32_t digits[LONG_DIGITS_MAX];
	uint8_t raw[LONG_DIGITS_MAX * 4];
	size_t digit_size = (size_t)L->long_digit_size;
	if (digit_size != 2 && digit_size != 4)
		return corrupt(c, "int", addr, "digit size", (long long)digit_size);
	if (ndigits && (ret = repr_read(c->r, addr + (uint64_t)L->long_digit, raw, ndigits * digit_size)) < 0)
		return failed(c, ret, "int", addr);
	for (size_t i = 0; i < ndigits; i++) {
		if (digit_size == 4) {
			memcpy(&digits[i], raw + 4 * i, 4);
		} else {
			uint16_t d;
			memcpy(&d, raw + 2 * i, 2);
			digits[i] = d;
		}
	}
	struct strbuf text = {0};
	int count = repr_bigint(&text, digits, ndigits, (unsigned)L->long_shift, false);
	if (count < 0 || !strbuf_ok(&text)) {
		strbuf_release(&text);
		return -ERR_NOMEM;
	}
	if (negative && count > 0 && strcmp(text.buf, "0"))
		strbuf_addch(c->out, '-');
	if (count > PYREPR_MAX_CHARS) {
		strbuf_add(c->out, text.buf, PYREPR_MAX_CHARS);
		strbuf_addf(c->out, "...(%d digits)", count);
	} else {
		strbuf_addstr(c->out, text.buf);
		/* 2.7's long says so. */
		if (c->r->w->major == 2)
			strbuf_addch(c->out, 'L');
	}
	strbuf_release(&text);
	return 0;
}

static int int2_value(struct repr_walk *c, uint64_t addr, enum repr_kind kind)
{
	uint64_t v;
	int ret = read_u64(c, addr + (uint64_t)c->r->w->layout.int_value, &v);
	if (ret < 0)
		return failed(c, ret, "int", addr);
	if (kind == RK_BOOL)
		strbuf_addstr(c->out, v ? "True" : "False");
	else
		strbuf_addf(c->out, "%lld", (long long)v);
	return 0;
}

static int float_value(struct repr_walk *c, uint64_t addr)
{
	double v;
	int ret = repr_read(c->r, addr + (uint64_t)c->r->w->layout.float_value, &v, sizeof(v));
	if (ret < 0)
		return failed(c, ret, "float", addr);
	repr_float(c->out, v);
	return 0;
}

/* ---- text */

static void add_chars(struct strbuf *out, const uint32_t *cps, size_t n, const char *prefix, bool py2_unicode)
{
	bool single = false, dbl = false;
	for (size_t i = 0; i < n; i++) {
		single |= cps[i] == '\'';
		dbl |= cps[i] == '"';
	}
	char quote = repr_quote(single, dbl);
	strbuf_addstr(out, prefix);
	strbuf_addch(out, quote);
	for (size_t i = 0; i < n; i++)
		repr_add_char(out, cps[i], quote, py2_unicode);
	strbuf_addch(out, quote);
}

/* 3.x str (PEP 393): compact ASCII, compact 1/2/4-byte kinds, legacy. */
static int str3_value(struct repr_walk *c, uint64_t addr)
{
	const struct py_layout *L = &c->r->w->layout;
	uint8_t header[128];
	size_t header_size = (size_t)L->unicode_ascii_size;
	int ret;
	if (header_size > sizeof(header))
		return corrupt(c, "str", addr, "header size", (long long)header_size);
	if ((ret = repr_read(c->r, addr, header, header_size)) < 0)
		return failed(c, ret, "str", addr);
	int64_t length = (int64_t)load_u64(header, L->unicode_length);
	uint32_t state = (uint32_t)load_i32(header, L->unicode_state);
	unsigned kind = (state >> 2) & 7;
	bool compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
	if (length < 0)
		return corrupt(c, "str", addr, "length", (long long)length);
	if (kind != 1 && kind != 2 && kind != 4)
		return corrupt(c, "str", addr, "kind", kind);
	uint64_t data = addr + (uint64_t)(ascii ? L->unicode_ascii_size : L->unicode_compact_size);
	if (!compact && (ret = read_u64(c, addr + (uint64_t)L->unicode_data, &data)) < 0)
		return failed(c, ret, "str", addr);
	if (!data)
		return corrupt(c, "str", addr, "data", 0);
	size_t n = length > PYREPR_MAX_CHARS ? PYREPR_MAX_CHARS : (size_t)length;
	uint8_t raw[PYREPR_MAX_CHARS * 4];
	uint32_t cps[PYREPR_MAX_CHARS] = {0};
	if (n && (ret = repr_read(c->r, data, raw, n * kind)) < 0)
		return failed(c, ret, "str data", data);
	for (size_t i = 0; i < n; i++) {
		if (kind == 1) {
			cps[i] = raw[i];
		} else if (kind == 2) {
			uint16_t unit;
			memcpy(&unit, raw + 2 * i, 2);
			cps[i] = unit;
		} else {
			memcpy(&cps[i], raw + 4 * i, 4);
		}
	}
	add_chars(c->out, cps, n, "", false);
	if ((size_t)length > n)
		strbuf_addf(c->out, "...(%lld chars)", (long long)length);
	return 0;
}

/* 2.7 unicode: a Py_UNICODE buffer of 2 or 4 bytes per unit; a UCS-2
 * build's surrogate pairs are one character. */
static int unicode2_value(struct repr_walk *c, uint64_t addr)
{
	const struct py_layout *L = &c->r->w->layout;
	uint64_t length, data;
	int ret;
	if ((ret = read_u64(c, addr + (uint64_t)L->py2unicode_length, &length)) < 0 ||
	    (ret = read_u64(c, addr + (uint64_t)L->py2unicode_str, &data)) < 0)
		return failed(c, ret, "unicode", addr);
	size_t unit = (size_t)L->py2unicode_size;
	if ((int64_t)length < 0)
		return corrupt(c, "unicode", addr, "length", (long long)length);
	if (unit != 2 && unit != 4)
		return corrupt(c, "unicode", addr, "unit size", (long long)unit);
	size_t n = length > PYREPR_MAX_CHARS ? PYREPR_MAX_CHARS : (size_t)length;
	uint8_t raw[PYREPR_MAX_CHARS * 4];
	uint32_t cps[PYREPR_MAX_CHARS] = {0};
	size_t ncp = 0;
	if (n && (ret = repr_read(c->r, data, raw, n * unit)) < 0)
		return failed(c, ret, "unicode data", data);
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = 0;
		memcpy(&cp, raw + unit * i, unit);
		if (unit == 2 && cp >= 0xd800 && cp < 0xdc00 && i + 1 < n) {
			uint16_t low;
			memcpy(&low, raw + 2 * (i + 1), 2);
			if (low >= 0xdc00 && low < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00u);
				i++;
			}
		}
		cps[ncp++] = cp;
	}
	add_chars(c->out, cps, ncp, "u", true);
	if ((size_t)length > n)
		strbuf_addf(c->out, "...(%lld chars)", (long long)length);
	return 0;
}

/* 3.x bytes and 2.7 str: inline bytes. */
static int bytes_value(struct repr_walk *c, uint64_t addr, bool py3_bytes)
{
	const struct py_layout *L = &c->r->w->layout;
	uint64_t size;
	int ret = read_u64(c, addr + (uint64_t)L->bytes_size, &size);
	if (ret < 0)
		return failed(c, ret, py3_bytes ? "bytes" : "str", addr);
	if ((int64_t)size < 0)
		return corrupt(c, py3_bytes ? "bytes" : "str", addr, "size", (long long)size);
	size_t n = size > PYREPR_MAX_CHARS ? PYREPR_MAX_CHARS : (size_t)size;
	uint8_t raw[PYREPR_MAX_CHARS];
	if (n && (ret = repr_read(c->r, addr + (uint64_t)L->bytes_data, raw, n)) < 0)
		return failed(c, ret, py3_bytes ? "bytes" : "str", addr);
	char quote = repr_quote(memchr(raw, '\'', n) != NULL, memchr(raw, '"', n) != NULL);
	if (py3_bytes)
		strbuf_addch(c->out, 'b');
	strbuf_addch(c->out, quote);
	for (size_t i = 0; i < n; i++)
		repr_add_byte(c->out, raw[i], quote);
	strbuf_addch(c->out, quote);
	if (size > n)
		strbuf_addf(c->out, "...(%lld %s)", (long long)size, py3_bytes ? "bytes" : "chars");
	return 0;
}

/* ---- containers */

/* The text around a container's items: OPEN items CLOSE, EMPTY when it
 * has none, RECURSIVE when it is inside itself. */
struct shape {
	const char *open, *close, *empty, *recursive;
};

/* Before items: whether the container is shown inside itself (Python's
 * marker) or below the depth limit (its length alone). Returns true when
 * it was written so. */
static bool shown_short(struct repr_walk *c, uint64_t addr, const struct shape *s, int64_t count)
{
	if (on_path(c, addr)) {
		strbuf_addstr(c->out, s->recursive);
		return true;
	}
	if (count == 0) {
		strbuf_addstr(c->out, s->empty);
		return true;
	}
	if (c->depth >= PYREPR_MAX_DEPTH) {
		strbuf_addf(c->out, "%s...(%lld items)%s", s->open, (long long)count, s->close);
		return true;
	}
	return false;
}

static void close_items(struct repr_walk *c, const struct shape *s, size_t shown, int64_t count)
{
	if ((int64_t)shown < count)
		strbuf_addf(c->out, "%s...(%lld items)", shown ? ", " : "", (long long)count);
	strbuf_addstr(c->out, s->close);
}

static int sequence(struct repr_walk *c, uint64_t addr, const struct shape *s, int64_t size, uint64_t items,
                    bool tuple)
{
	uint64_t item[PYREPR_MAX_ITEMS];
	size_t n = size > PYREPR_MAX_ITEMS ? PYREPR_MAX_ITEMS : (size_t)size;
	int ret;
	if (shown_short(c, addr, s, size))
		return 0;
	if (!items)
		return corrupt(c, tuple ? "tuple" : "list", addr, "items at", 0);
	if ((ret = repr_read(c->r, items, item, n * 8)) < 0)
		return failed(c, ret, "items", items);
	c->path[c->depth++] = addr;
	strbuf_addstr(c->out, s->open);
	size_t shown = 0;
	for (; shown < n && !long_enough(c); shown++) {
		if (shown)
			strbuf_addstr(c->out, ", ");
		if ((ret = value(c, item[shown], NULL)) < 0)
			break;
	}
	c->depth--;
	if (ret < 0)
		return ret;
	if (tuple && size == 1 && shown == 1)
		strbuf_addch(c->out, ',');
	close_items(c, s, shown, size);
	return 0;
}

static const struct shape list_shape = {"[", "]", "[]", "[...]"};
static const struct shape tuple_shape = {"(", ")", "()", "(...)"};

static int tuple_or_list(struct repr_walk *c, uint64_t addr, bool tuple)
{
	const struct py_layout *L = &c->r->w->layout;
	uint64_t size, items = addr + (uint64_t)L->tuple_item;
	int ret = read_u64(c, addr + (uint64_t)L->varobject_size, &size);
	if (ret == 0 && !tuple)
		ret = read_u64(c, addr + (uint64_t)L->list_item, &items);
	if (ret < 0)
		return failed(c, ret, tuple ? "tuple" : "list", addr);
	if ((int64_t)size < 0)
		return corrupt(c, tuple ? "tuple" : "list", addr, "size", (long long)size);
	return sequence(c, addr, tuple ? &tuple_shape : &list_shape, (int64_t)size, items, tuple);
}

static int dict_value(struct repr_walk *c, uint64_t addr)
{
	static const struct shape shape = {"{", "}", "{}", "{...}"};
	struct table_iter it;
	int64_t used;
	int ret = table_iter_dict(c->r, addr, &it, &used);
	if (ret < 0)
		return failed(c, ret, "dict", addr);
	if (used < 0)
		return corrupt(c, "dict", addr, "size", (long long)used);
	if (shown_short(c, addr, &shape, used))
		return 0;
	c->path[c->depth++] = addr;
	strbuf_addstr(c->out, shape.open);
	size_t shown = 0;
	uint64_t key, val;
	while (shown < PYREPR_MAX_ITEMS && !long_enough(c) && (ret = table_iter_next(c->r, &it, &key, &val)) == 1) {
		if (shown++)
			strbuf_addstr(c->out, ", ");
		if ((ret = value(c, key, NULL)) < 0)
			break;
		strbuf_addstr(c->out, ": ");
		if ((ret = value(c, val, NULL)) < 0)
			break;
	}
	c->depth--;
	if (ret < 0 && (ret = failed(c, ret, "dict entries", it.entries)) < 0)
		return ret;
	close_items(c, &shape, shown, used);
	return 0;
}

static int set_value(struct repr_walk *c, uint64_t addr, bool frozen)
{
	static const struct shape py3_set = {"{", "}", "set()", "set(...)"};
	static const struct shape py3_frozen = {"frozenset({", "})", "frozenset()", "frozenset(...)"};
	static const struct shape py2_set = {"set([", "])", "set([])", "set(...)"};
	static const struct shape py2_frozen = {"frozenset([", "])", "frozenset([])", "frozenset(...)"};
	bool py2 = c->r->w->major == 2;
	const struct shape *shape = py2 ? (frozen ? &py2_frozen : &py2_set) : (frozen ? &py3_frozen : &py3_set);
	struct table_iter it;
	int64_t used;
	int ret = table_iter_set(c->r, addr, &it, &used);
	if (ret < 0)
		return failed(c, ret, "set", addr);
	if (used < 0)
		return corrupt(c, "set", addr, "size", (long long)used);
	if (shown_short(c, addr, shape, used))
		return 0;
	c->path[c->depth++] = addr;
	strbuf_addstr(c->out, shape->open);
	size_t shown = 0;
	uint64_t key, unused;
	while (shown < PYREPR_MAX_ITEMS && !long_enough(c) && (ret = table_iter_next(c->r, &it, &key, &unused)) == 1) {
		if (shown++)
			strbuf_addstr(c->out, ", ");
		if ((ret = value(c, key, NULL)) < 0)
			break;
	}
	c->depth--;
	if (ret < 0 && (ret = failed(c, ret, "set entries", it.entries)) < 0)
		return ret;
	close_items(c, shape, shown, used);
	return 0;
}

/* ---- classes, exceptions, 2.7 classic instances */

static int class_value(struct repr_walk *c, uint64_t addr)
{
	const struct repr_type *self;
	int ret = repr_type_of(c->r, addr, &self);
	if (ret < 0)
		return failed(c, ret, "class", addr);
	if (c->r->w->major == 2)
		strbuf_addf(c->out, "<%s '%s'>", self->heap ? "class" : "type", self->display);
	else
		strbuf_addf(c->out, "<class '%s'>", self->display);
	return 0;
}

/* BaseException's repr: its name, then its args (3.x: one argument in
 * parentheses of its own). */
static int exception_value(struct repr_walk *c, uint64_t addr, const struct repr_type *type)
{
	const struct py_layout *L = &c->r->w->layout;
	const char *dot = strrchr(type->short_name, '.');
	uint64_t args, size;
	int ret = read_u64(c, addr + (uint64_t)L->exception_args, &args);
	if (ret < 0)
		return failed(c, ret, "exception", addr);
	strbuf_addstr(c->out, dot ? dot + 1 : type->short_name);
	if (!args) {
		strbuf_addstr(c->out, "()");
		return 0;
	}
	if ((ret = read_u64(c, args + (uint64_t)L->varobject_size, &size)) < 0)
		return failed(c, ret, "exception arguments", args);
	if ((int64_t)size < 0)
		return corrupt(c, "tuple", args, "size", (long long)size);
	if (c->r->w->major >= 3 && size == 1) {
		uint64_t arg;
		if ((ret = read_u64(c, args + (uint64_t)L->tuple_item, &arg)) < 0)
			return failed(c, ret, "exception arguments", args);
		strbuf_addch(c->out, '(');
		if ((ret = value(c, arg, NULL)) < 0)
			return ret;
		strbuf_addch(c->out, ')');
		return 0;
	}
	return sequence(c, args, &tuple_shape, (int64_t)size, args + (uint64_t)L->tuple_item, true);
}

/* 2.7 classic instance: <module.Class instance at 0x..>, its type text
 * the class. */
static int instance_value(struct repr_walk *c, uint64_t addr, struct strbuf *type_text)
{
	const struct py_layout *L = &c->r->w->layout;
	struct pywalker *w = c->r->w;
	uint64_t klass, name_ptr, dict, module_ptr = 0;
	struct strbuf name = {0}, module = {0};
	int ret = read_u64(c, addr + (uint64_t)L->instance_class, &klass);
	if (ret == 0)
		ret = read_u64(c, klass + (uint64_t)L->class_name, &name_ptr);
	if (ret < 0)
		return failed(c, ret, "instance", addr);
	if (py_read_string(w, name_ptr, &name) < 0 || !name.len) {
		strbuf_reset(&name);
		strbuf_addch(&name, '?');
	}
	size_t *budget = c->r->budget;
	c->r->budget = NULL;
	if (target_read_u64(w->target, klass + (uint64_t)L->class_dict, &dict) < 0 || !dict ||
	    repr_dict_lookup(c->r, dict, "__module__", &module_ptr) != 1 || py_read_string(w, module_ptr, &module) < 0)
		strbuf_reset(&module);
	c->r->budget = budget;
	err_clear();
	const char *module_text = module.len ? module.buf : "?";
	strbuf_addf(c->out, "<%s.%s instance at 0x%llx>", module_text, name.buf, (unsigned long long)addr);
	if (type_text)
		strbuf_addf(type_text, "%s.%s", module_text, name.buf);
	strbuf_release(&name);
	strbuf_release(&module);
	return strbuf_ok(c->out) ? 0 : -ERR_NOMEM;
}

/* ---- any object */

static bool shown_as_subclass(enum repr_kind kind)
{
	switch (kind) {
	case RK_INT2: case RK_LONG: case RK_FLOAT: case RK_STR3: case RK_STR2: case RK_UNICODE2: case RK_BYTES:
	case RK_TUPLE: case RK_LIST: case RK_DICT: case RK_SET: case RK_FROZENSET:
		return true;
	default:
		return false;
	}
}

static int by_kind(struct repr_walk *c, uint64_t addr, const struct repr_type *type, struct strbuf *type_text)
{
	switch (type->kind) {
	case RK_NONE: strbuf_addstr(c->out, "None"); return 0;
	case RK_ELLIPSIS: strbuf_addstr(c->out, "Ellipsis"); return 0;
	case RK_NOTIMPLEMENTED: strbuf_addstr(c->out, "NotImplemented"); return 0;
	case RK_BOOL: return c->r->w->major == 2 ? int2_value(c, addr, RK_BOOL) : long_value(c, addr, RK_BOOL);
	case RK_INT2: return int2_value(c, addr, RK_INT2);
	case RK_LONG: return long_value(c, addr, RK_LONG);
	case RK_FLOAT: return float_value(c, addr);
	case RK_STR3: return str3_value(c, addr);
	case RK_STR2: return bytes_value(c, addr, false);
	case RK_BYTES: return bytes_value(c, addr, true);
	case RK_UNICODE2: return unicode2_value(c, addr);
	case RK_TUPLE: return tuple_or_list(c, addr, true);
	case RK_LIST: return tuple_or_list(c, addr, false);
	case RK_DICT: return dict_value(c, addr);
	case RK_SET: return set_value(c, addr, false);
	case RK_FROZENSET: return set_value(c, addr, true);
	case RK_TYPE: return class_value(c, addr);
	case RK_EXCEPTION: return exception_value(c, addr, type);
	case RK_INSTANCE2: return instance_value(c, addr, type_text);
	case RK_CELL:
	case RK_OTHER: break;
	}
	strbuf_addf(c->out, "<%s object at 0x%llx>", type->display, (unsigned long long)addr);
	return 0;
}

/* TYPE_TEXT, when not NULL, gets the object's type as the locals show it. */
static int value(struct repr_walk *c, uint64_t addr, struct strbuf *type_text)
{
	uint64_t type_addr;
	const struct repr_type *type;
	int ret = read_u64(c, addr + (uint64_t)c->r->w->layout.object_type, &type_addr);
	if (ret < 0)
		return failed(c, ret, "object", addr);
	if ((ret = repr_type_of(c->r, type_addr, &type)) < 0) {
		if (ret == -ERR_NOMEM)
			return ret;
		err_clear();
		strbuf_addf(c->out, "<object at 0x%llx of an unreadable type>", (unsigned long long)addr);
		return 0;
	}
	if (type_text && type->kind != RK_INSTANCE2)
		strbuf_addstr(type_text, type->display);
	bool wrap = type->subclass && shown_as_subclass(type->kind);
	if (wrap) {
		strbuf_addstr(c->out, type->short_name);
		strbuf_addch(c->out, '(');
	}
	if ((ret = by_kind(c, addr, type, type_text)) < 0)
		return ret;
	if (wrap)
		strbuf_addch(c->out, ')');
	return strbuf_ok(c->out) ? 0 : -ERR_NOMEM;
}

int repr_object(struct repr_reader *r, uint64_t addr, struct strbuf *out, struct strbuf *type_text)
{
	struct repr_walk c = {.r = r, .out = out, .start = out->len};
	return value(&c, addr, type_text);
}
