/* An object's own attributes and small ints, read from a target for the
 * registry of threads (thread_names.c) with the repr reader's types and
 * tables: an instance's dict wherever its version keeps it (tp_dictoffset;
 * 3.11+'s managed dict before the object, with 3.11's values pointer,
 * 3.12's dict-or-values word and 3.13+'s inline values beside the type's
 * shared keys), and an int that fits 64 bits. Every read is checked and
 * bounded; what does not read as it should is an error, never a guess. */
#include <string.h>

#include "python/repr.h"

/* What an attribute lookup needs of a type: its flags and sizes. */
struct attr_type {
	uint64_t addr, flags;
	int64_t basicsize, dictoffset;
};

static int attr_type_of(struct repr_reader *r, uint64_t obj, struct attr_type *out)
{
	const struct py_layout *L = &r->w->layout;
	uint8_t head[512];
	int32_t size = L->type_flags;
	if (L->type_basicsize > size)
		size = L->type_basicsize;
	if (L->type_dictoffset > size)
		size = L->type_dictoffset;
	size += 8;
	int ret = repr_read(r, obj + (uint64_t)L->object_type, &out->addr, 8);
	if (ret < 0)
		return ret;
	if (!out->addr || L->type_basicsize < 0 || (size_t)size > sizeof(head))
		return err_set(ERR_CORRUPT, "object at 0x%llx has no readable type", (unsigned long long)obj);
	if ((ret = repr_read(r, out->addr, head, (size_t)size)) < 0)
		return ret;
	out->flags = load_u64(head, L->type_flags);
	out->basicsize = (int64_t)load_u64(head, L->type_basicsize);
	out->dictoffset = (int64_t)load_u64(head, L->type_dictoffset);
	if (out->basicsize < 0 || out->basicsize > (1 << 20))
		return err_set(ERR_CORRUPT, "type at 0x%llx has an implausible size", (unsigned long long)out->addr);
	return 0;
}

/* Attributes kept as values beside the type's shared keys (3.11+). */
static int values_get(struct repr_reader *r, const struct attr_type *type, uint64_t values, const char *name,
                      uint64_t *value)
{
	uint64_t keys;
	struct table_iter it;
	int ret = repr_read(r, type->addr + (uint64_t)r->w->layout.heaptype_cached_keys, &keys, 8);
	if (ret < 0 || (ret = table_iter_keys(r, keys, values, &it)) < 0)
		return ret;
	ret = repr_table_lookup(r, &it, name, value);
	return ret < 0 ? ret : 0;
}

int py_attr_get(struct repr_reader *r, uint64_t obj, const char *name, uint64_t *value)
{
	const struct py_layout *L = &r->w->layout;
	struct attr_type type;
	uint64_t dict = 0;
	int ret = attr_type_of(r, obj, &type);
	*value = 0;
	if (ret < 0)
		return ret;
	if (L->tpflag_managed_dict > 0 && (type.flags & (uint64_t)L->tpflag_managed_dict)) {
		/* 3.11+: the dict, or the values alone, live before the object. */
		if ((ret = repr_read(r, obj - (uint64_t)L->obj_managed_dict, &dict, 8)) < 0)
			return ret;
		if (r->w->dict_or_values_tagged) {
			/* 3.12: one word, the values when its low bit is set, at the
			 * word + 1 (internal/pycore_object.h, _PyDictOrValues_*). */
			if (dict & 1)
				return values_get(r, &type, dict + 1, name, value);
		} else if (L->obj_values >= 0) {
			/* 3.11: the values pointer, when set, is what holds them. */
			uint64_t values;
			if ((ret = repr_read(r, obj - (uint64_t)L->obj_values, &values, 8)) < 0)
				return ret;
			if (values)
				return values_get(r, &type, values, name, value);
		} else if (!dict && L->tpflag_inline_values > 0 && (type.flags & (uint64_t)L->tpflag_inline_values)) {
			/* 3.13+: the values inline after the object's own fields
			 * (internal/pycore_object.h, _PyObject_InlineValues), while
			 * no dict has taken them over. */
			uint64_t values = obj + (uint64_t)type.basicsize;
			uint8_t valid;
			if ((ret = repr_read(r, values + (uint64_t)L->dictvalues_valid, &valid, 1)) < 0)
				return ret;
			return valid ? values_get(r, &type, values, name, value) : 0;
		}
	} else if (type.dictoffset > 0) {
		if ((ret = repr_read(r, obj + (uint64_t)type.dictoffset, &dict, 8)) < 0)
			return ret;
	}
	if (!dict)
		return 0;
	ret = repr_dict_lookup(r, dict, name, value);
	return ret < 0 ? ret : 0;
}

int py_read_index(struct repr_reader *r, uint64_t obj, uint64_t *value)
{
	const struct py_layout *L = &r->w->layout;
	const struct repr_type *type;
	uint64_t type_addr;
	int ret = repr_read(r, obj + (uint64_t)L->object_type, &type_addr, 8);
	if (ret < 0 || (ret = repr_type_of(r, type_addr, &type)) < 0)
		return ret;
	if (type->kind == RK_INT2) {
		/* 2.7 int: a C long. */
		int64_t small;
		if ((ret = repr_read(r, obj + (uint64_t)L->int_value, &small, 8)) < 0)
			return ret;
		if (small < 0)
			return err_set(ERR_CORRUPT, "int at 0x%llx is negative", (unsigned long long)obj);
		*value = (uint64_t)small;
		return 0;
	}
	if (type->kind != RK_LONG)
		return err_set(ERR_CORRUPT, "object at 0x%llx is not an int", (unsigned long long)obj);
	int64_t ndigits;
	if (L->long_tag >= 0) {
		/* 3.12+: the sign in the low bits of lv_tag, the digit count above. */
		uint64_t tag;
		if ((ret = repr_read(r, obj + (uint64_t)L->long_tag, &tag, 8)) < 0)
			return ret;
		if ((tag & (uint64_t)L->long_sign_mask) == (uint64_t)L->long_sign_negative)
			return err_set(ERR_CORRUPT, "int at 0x%llx is negative", (unsigned long long)obj);
		ndigits = (int64_t)(tag >> L->long_non_size_bits);
	} else {
		if ((ret = repr_read(r, obj + (uint64_t)L->varobject_size, &ndigits, 8)) < 0)
			return ret;
		if (ndigits < 0)
			return err_set(ERR_CORRUPT, "int at 0x%llx is negative", (unsigned long long)obj);
	}
	unsigned shift = (unsigned)L->long_shift;
	size_t digit_size = (size_t)L->long_digit_size;
	uint8_t digits[16];
	if (shift == 0 || shift > 32 || digit_size == 0 || digit_size > 4 ||
	    ndigits > (int64_t)(sizeof(digits) / digit_size) || (uint64_t)ndigits * shift >= 64 + shift)
		return err_set(ERR_CORRUPT, "int at 0x%llx does not fit 64 bits", (unsigned long long)obj);
	if (ndigits && (ret = repr_read(r, obj + (uint64_t)L->long_digit, digits, (size_t)ndigits * digit_size)) < 0)
		return ret;
	uint64_t result = 0;
	for (int64_t i = ndigits; i-- > 0;) {
		uint32_t digit = 0;
		memcpy(&digit, digits + (size_t)i * digit_size, digit_size);
		if (digit >> shift || result >> (64 - shift))
			return err_set(ERR_CORRUPT, "int at 0x%llx does not fit 64 bits", (unsigned long long)obj);
		result = (result << shift) | digit;
	}
	*value = result;
	return 0;
}

int py_read_str(struct repr_reader *r, uint64_t obj, size_t max_bytes, struct strbuf *sb)
{
	const struct repr_type *type;
	uint64_t type_addr;
	int ret = repr_read(r, obj + (uint64_t)r->w->layout.object_type, &type_addr, 8);
	if (ret < 0 || (ret = repr_type_of(r, type_addr, &type)) < 0)
		return ret;
	if (type->kind != RK_STR3 && type->kind != RK_STR2)
		return err_set(ERR_CORRUPT, "object at 0x%llx is not a str", (unsigned long long)obj);
	size_t start = sb->len;
	if ((ret = py_read_string_max(r->w, obj, max_bytes, sb)) < 0)
		return ret;
	/* Cut at a character boundary within MAX_BYTES. */
	if (sb->len - start > max_bytes) {
		size_t end = start + max_bytes;
		while (end > start && ((uint8_t)sb->buf[end] & 0xC0) == 0x80)
			end--;
		sb->len = end;
		sb->buf[end] = '\0';
	}
	return 0;
}
