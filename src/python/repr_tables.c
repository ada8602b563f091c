/* Iterating the hash tables of dicts and sets read from a target, in the
 * order Python iterates them: 2.7's open tables slot by slot, 3.6+'s
 * compact dicts by their entries (split dicts with their values array),
 * sets slot by slot skipping deleted entries. Bounded by TABLE_SCAN_MAX
 * slots whatever the sizes say. */
#include <string.h>

#include "python/repr.h"

enum { DICT_HEADER_MAX = 128 };

/* Index width of a 3.6 - 3.10 keys object of SIZE slots. */
static size_t index_bytes_of_size(int64_t size)
{
	return size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffLL ? 4 : 8;
}

static void set_entry_layout(struct table_iter *it, int32_t size, int32_t key_at, int32_t value_at)
{
	it->entry_size = size;
	it->key_at = key_at;
	it->value_at = value_at;
	it->hash_at = -1;
}

int table_iter_dict(struct repr_reader *r, uint64_t addr, struct table_iter *it, int64_t *used)
{
	const struct py_layout *L = &r->w->layout;
	uint8_t header[DICT_HEADER_MAX];
	memset(it, 0, sizeof(*it));
	int32_t top = L->dict_used;
	const int32_t fields[] = {L->dict_keys, L->dict_values, L->dict_mask, L->dict_table};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i] > top)
			top = fields[i];
	if ((size_t)top + 8 > sizeof(header))
		return err_set(ERR_CORRUPT, "dict layout too large");
	int ret = repr_read(r, addr, header, (size_t)top + 8);
	if (ret < 0)
		return ret;
	*used = (int64_t)load_u64(header, L->dict_used);
	if (L->dict_table >= 0) {
		/* 2.7: ma_table has ma_mask + 1 entries, empty ones without a value. */
		int64_t mask = (int64_t)load_u64(header, L->dict_mask);
		if (mask < 0)
			return err_set(ERR_CORRUPT, "dict at 0x%llx has a negative mask", (unsigned long long)addr);
		it->entries = load_u64(header, L->dict_table);
		it->count = (size_t)mask + 1;
		set_entry_layout(it, L->dictentry_size, L->dictentry_key, L->dictentry_value);
		return 0;
	}
	uint64_t keys = load_u64(header, L->dict_keys);
	if (!keys)
		return err_set(ERR_CORRUPT, "dict at 0x%llx has no keys", (unsigned long long)addr);
	return table_iter_keys(r, keys, load_u64(header, L->dict_values), it);
}

int table_iter_keys(struct repr_reader *r, uint64_t keys, uint64_t values, struct table_iter *it)
{
	const struct py_layout *L = &r->w->layout;
	uint8_t kh[DICT_HEADER_MAX];
	int ret;
	memset(it, 0, sizeof(*it));
	it->values = values;
	if (!keys || L->dictkeys_indices < 0 || (size_t)L->dictkeys_indices > sizeof(kh))
		return err_set(ERR_CORRUPT, "dict keys at 0x%llx cannot be read", (unsigned long long)keys);
	if ((ret = repr_read(r, keys, kh, (size_t)L->dictkeys_indices)) < 0)
		return ret;
	int64_t nentries = (int64_t)load_u64(kh, L->dictkeys_nentries);
	uint64_t index_bytes;
	bool unicode = false;
	if (L->dictkeys_log2_size >= 0) {
		/* 3.11+: 1 << dk_log2_index_bytes bytes of indices; entries without
		 * a hash unless the keys are of the general kind. */
		unsigned log2_index_bytes = kh[L->dictkeys_log2_index_bytes];
		if (log2_index_bytes > 40)
			return err_set(ERR_CORRUPT, "dict keys at 0x%llx are implausible", (unsigned long long)keys);
		index_bytes = 1ull << log2_index_bytes;
		unicode = kh[L->dictkeys_kind] != (uint8_t)L->dict_kind_general;
	} else {
		int64_t size = (int64_t)load_u64(kh, L->dictkeys_size);
		if (size <= 0 || size > (1LL << 40))
			return err_set(ERR_CORRUPT, "dict keys at 0x%llx have size %lld", (unsigned long long)keys,
			               (long long)size);
		index_bytes = (uint64_t)size * index_bytes_of_size(size);
	}
	if (nentries < 0)
		return err_set(ERR_CORRUPT, "dict keys at 0x%llx have %lld entries", (unsigned long long)keys,
		               (long long)nentries);
	it->entries = keys + (uint64_t)L->dictkeys_indices + index_bytes;
	it->count = (size_t)nentries;
	if (unicode)
		set_entry_layout(it, L->dictunicodeentry_size, L->dictunicodeentry_key, L->dictunicodeentry_value);
	else
		set_entry_layout(it, L->dictentry_size, L->dictentry_key, L->dictentry_value);
	if (it->values && L->dictvalues_values > 0)
		it->values += (uint64_t)L->dictvalues_values;
	return 0;
}

int table_iter_set(struct repr_reader *r, uint64_t addr, struct table_iter *it, int64_t *used)
{
	const struct py_layout *L = &r->w->layout;
	uint8_t header[DICT_HEADER_MAX];
	memset(it, 0, sizeof(*it));
	int32_t top = L->set_used;
	if (L->set_mask > top)
		top = L->set_mask;
	if (L->set_table > top)
		top = L->set_table;
	if ((size_t)top + 8 > sizeof(header))
		return err_set(ERR_CORRUPT, "set layout too large");
	int ret = repr_read(r, addr, header, (size_t)top + 8);
	if (ret < 0)
		return ret;
	*used = (int64_t)load_u64(header, L->set_used);
	int64_t mask = (int64_t)load_u64(header, L->set_mask);
	if (mask < 0)
		return err_set(ERR_CORRUPT, "set at 0x%llx has a negative mask", (unsigned long long)addr);
	it->entries = load_u64(header, L->set_table);
	it->count = (size_t)mask + 1;
	it->entry_size = L->setentry_size;
	it->key_at = L->setentry_key;
	it->value_at = -1;
	it->hash_at = L->setentry_hash;
	it->py2_set = r->w->major == 2;
	return 0;
}

/* 2.7 marks a deleted set slot with its "<dummy key>" str. */
static bool is_py2_dummy(struct repr_reader *r, uint64_t key)
{
	static const char dummy[] = "<dummy key>";
	const struct py_layout *L = &r->w->layout;
	int64_t size;
	char text[sizeof(dummy)];
	return target_read(r->w->target, key + (uint64_t)L->bytes_size, &size, sizeof(size)) == 0 &&
	       size == (int64_t)sizeof(dummy) - 1 &&
	       target_read(r->w->target, key + (uint64_t)L->bytes_data, text, sizeof(dummy) - 1) == 0 &&
	       !memcmp(text, dummy, sizeof(dummy) - 1);
}

int table_iter_next(struct repr_reader *r, struct table_iter *it, uint64_t *key, uint64_t *value)
{
	uint8_t entry[64];
	if (it->entry_size <= 0 || (size_t)it->entry_size > sizeof(entry))
		return err_set(ERR_CORRUPT, "table entry layout");
	while (it->next < it->count && it->next < TABLE_SCAN_MAX) {
		size_t i = it->next++;
		int ret = repr_read(r, it->entries + i * (uint64_t)it->entry_size, entry, (size_t)it->entry_size);
		if (ret < 0)
			return ret;
		*key = load_u64(entry, it->key_at);
		*value = 0;
		if (it->value_at < 0) {
			/* Sets: empty slots have no key; 3.x deleted ones a hash of -1. */
			if (!*key)
				continue;
			if (!it->py2_set && (int64_t)load_u64(entry, it->hash_at) == -1)
				continue;
			if (it->py2_set && is_py2_dummy(r, *key))
				continue;
			return 1;
		}
		if (it->values) {
			if ((ret = repr_read(r, it->values + 8 * (uint64_t)i, value, 8)) < 0)
				return ret;
		} else {
			*value = load_u64(entry, it->value_at);
		}
		if (*key && *value)
			return 1;
	}
	return 0;
}

int repr_dict_lookup(struct repr_reader *r, uint64_t dict_addr, const char *key, uint64_t *value)
{
	struct table_iter it;
	int64_t used;
	int ret = table_iter_dict(r, dict_addr, &it, &used);
	return ret < 0 ? ret : repr_table_lookup(r, &it, key, value);
}

int repr_table_lookup(struct repr_reader *r, struct table_iter *it, const char *key, uint64_t *value)
{
	uint64_t k, v;
	int ret;
	while ((ret = table_iter_next(r, it, &k, &v)) == 1) {
		strbuf_reset(&r->scratch);
		if (py_read_string(r->w, k, &r->scratch) < 0) {
			err_clear();
			continue;
		}
		if (r->scratch.len == strlen(key) && !memcmp(r->scratch.buf, key, r->scratch.len)) {
			*value = v;
			return 1;
		}
	}
	return ret;
}
