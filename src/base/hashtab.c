/* Hashing, and the growth of the open-addressing hash table whose lookups
 * are inline in base.h. Keys and hashes only: what slots hold is the caller's. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"

enum { HASHTAB_MIN_CAP = 64 };

/* Eight bytes at a time, each folded in with one multiply; the length and
 * the final mix make every byte count. */
uint64_t hash_bytes(uint64_t seed, const void *data, size_t len)
{
	const unsigned char *bytes = data;
	uint64_t h = seed ^ (len * 0x9E3779B97F4A7C15ull), word;
	for (; len >= 8; bytes += 8, len -= 8) {
		memcpy(&word, bytes, 8);
		h = (h ^ word) * 0xBF58476D1CE4E5B9ull;
		h ^= h >> 31;
	}
	word = 0;
	if (len)
		memcpy(&word, bytes, len);
	h = hash_u64(h ^ word);
	return h ? h : 1;
}

int hashtab_grow(struct hashtab *t, size_t count, size_t slot_size)
{
	size_t cap = t->cap ? t->cap : HASHTAB_MIN_CAP;
	while (cap / 2 < count) {
		if (cap > SIZE_MAX / 4 / slot_size)
			return err_set(ERR_NOMEM, "a hash table of %zu entries overflows", count);
		cap *= 2;
	}
	if (cap == t->cap)
		return 0;
	char *slots = xcalloc(cap, slot_size);
	if (!slots)
		return -ERR_NOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		const char *old = (const char *)t->slots + i * slot_size;
		uint64_t key;
		memcpy(&key, old, sizeof(key));
		if (!key)
			continue;
		size_t k = hash_u64(key) & (cap - 1);
		while (*(const uint64_t *)(slots + k * slot_size))
			k = (k + 1) & (cap - 1);
		memcpy(slots + k * slot_size, old, slot_size);
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	t->slot_size = slot_size;
	return 0;
}

void hashtab_release(struct hashtab *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
