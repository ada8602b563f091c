/* Unit tests of the base layer's shared helpers: percentiles, the
 * sorted-range search, array growth, hashing and the hash table. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "unit.h"

static void test_percentile(void)
{
	double none[1] = {0};
	CHECK(percentile(none, 0, 50) == 0, "the percentile of nothing is 0");
	double one[] = {7};
	CHECK(percentile(one, 1, 0) == 7 && percentile(one, 1, 100) == 7, "one value is every percentile");
	double values[] = {5, 1, 4, 2, 3};
	CHECK(percentile(values, 5, 50) == 3, "median of five");
	CHECK(values[0] == 1 && values[4] == 5, "the values are left sorted");
	CHECK(percentile(values, 5, 0) == 1 && percentile(values, 5, 100) == 5, "0th and 100th are min and max");
	double even[] = {40, 10, 30, 20};
	CHECK(percentile(even, 4, 50) == 30, "median of four is the upper middle (nearest rank, rounded up)");
	double many[101];
	for (int i = 0; i <= 100; i++)
		many[i] = 100 - i;
	CHECK(percentile(many, 101, 99) == 99, "99th of 0..100");
	CHECK(percentile(many, 101, 250) == 100, "past 100 is the maximum");
}

struct range {
	uint32_t tag;            /* the searched fields need not come first */
	uint64_t start, end;
};

static void test_range_search(void)
{
	/* Sorted by start, gaps between [10,20), [30,40) and [40,45). */
	const struct range ranges[] = {{1, 10, 20}, {2, 30, 40}, {3, 40, 45}};
	CHECK(SORTED_RANGE_FIND(ranges, 0, start, end, 15) == SIZE_MAX, "empty: nothing found");
	CHECK(SORTED_UPPER_BOUND(ranges, 0, start, 15) == 0, "empty: upper bound 0");
	CHECK(SORTED_RANGE_FIND(ranges, 3, start, end, 5) == SIZE_MAX, "before the first range: nothing");
	CHECK(SORTED_UPPER_BOUND(ranges, 3, start, 5) == 0, "before the first range: upper bound 0");
	CHECK(SORTED_RANGE_FIND(ranges, 3, start, end, 10) == 0, "a range's first address is in it");
	CHECK(SORTED_RANGE_FIND(ranges, 3, start, end, 19) == 0, "a range's last address is in it");
	CHECK(SORTED_RANGE_FIND(ranges, 3, start, end, 20) == SIZE_MAX, "a range's end is not in it");
	CHECK(SORTED_RANGE_FIND(ranges, 3, start, end, 25) == SIZE_MAX, "in a gap: nothing");
	CHECK(SORTED_UPPER_BOUND(ranges, 3, start, 25) == 1, "in a gap: the next range's index");
	CHECK(SORTED_RANGE_FIND(ranges, 3, start, end, 40) == 2, "adjacent ranges: the one starting there");
	CHECK(SORTED_RANGE_FIND(ranges, 3, start, end, 44) == 2, "inside the last range");
	CHECK(SORTED_RANGE_FIND(ranges, 3, start, end, 45) == SIZE_MAX, "after the last range: nothing");
	CHECK(SORTED_UPPER_BOUND(ranges, 3, start, UINT64_MAX) == 3, "after the last range: upper bound COUNT");
	CHECK(SORTED_UPPER_BOUND(ranges, 3, end, 40) == 2, "by end: the first range ending above the key");
	const uint64_t equal[] = {7, 7, 7, 9};
	CHECK(sorted_upper_bound(equal, 4, sizeof(equal[0]), 0, 7) == 3, "equal keys: past the last of them");
	CHECK(sorted_upper_bound(equal, 4, sizeof(equal[0]), 0, 6) == 0, "equal keys: before the first");
	/* Every count from 1 to 64 and every key, against a linear scan. */
	struct range many[64];
	for (size_t i = 0; i < 64; i++)
		many[i] = (struct range){(uint32_t)i, 10 * i + 2, 10 * i + 2 + i % 7};
	bool same = true;
	for (size_t n = 1; n <= 64; n++)
		for (uint64_t key = 0; key < 650; key++) {
			size_t want = SIZE_MAX;
			for (size_t i = 0; i < n; i++)
				if (key >= many[i].start && key < many[i].end)
					want = i;
			same &= SORTED_RANGE_FIND(many, n, start, end, key) == want;
		}
	CHECK(same, "agrees with a linear scan for every count and key");
}

static void test_array_grow(void)
{
	uint32_t *ids = NULL;
	size_t cap = 0;
	CHECK(ARRAY_GROW(ids, cap, 1) == 0 && ids && cap >= 1, "the first growth allocates");
	bool kept = true;
	size_t n = 0, grown = 0;
	for (; n < 100000; n++) {
		size_t before = cap;
		if (ARRAY_GROW(ids, cap, n + 1) < 0)
			break;
		if (cap != before) {
			grown++;
			kept &= cap >= 2 * before;
		}
		ids[n] = (uint32_t)n * 7;
	}
	CHECK(n == 100000 && grown < 20, "100000 appends, %zu growths", grown);
	CHECK(kept, "each growth at least doubles");
	bool same = true;
	for (size_t i = 0; i < n; i++)
		same &= ids[i] == (uint32_t)i * 7;
	CHECK(same, "growth keeps the elements");
	CHECK(ARRAY_GROW(ids, cap, cap) == 0, "no growth when there is room");
	size_t big = 10 * cap;
	CHECK(ARRAY_GROW(ids, cap, big) == 0 && cap >= big, "a need past twice the capacity is met");

	uint32_t *before = ids;
	size_t cap_before = cap;
	err_clear();
	CHECK(ARRAY_GROW(ids, cap, SIZE_MAX / 2) == -ERR_NOMEM, "a size that overflows is -ERR_NOMEM");
	CHECK(ids == before && cap == cap_before, "a failed growth leaves the array and its capacity");
	CHECK(err_last_code() == ERR_NOMEM && strstr(err_context(), "overflows"), "the error says it overflows: %s",
	      err_context());
	CHECK(ARRAY_GROW(ids, cap, SIZE_MAX) == -ERR_NOMEM, "SIZE_MAX elements is -ERR_NOMEM");
	free(ids);

	/* Near the top of size_t the doubling itself must not wrap. */
	char *bytes = NULL;
	size_t huge = SIZE_MAX / 2 + 1;
	CHECK(array_grow(&bytes, &huge, huge + 1, 1) == -ERR_NOMEM && !bytes && huge == SIZE_MAX / 2 + 1,
	      "a capacity past SIZE_MAX / 2 does not wrap");

	struct range *pushed = NULL;
	size_t npushed = 0, pushed_cap = 0;
	bool zeroed = true;
	for (uint32_t i = 0; i < 1000; i++) {
		struct range *r = ARRAY_PUSH(pushed, npushed, pushed_cap);
		if (!r)
			break;
		zeroed &= !r->tag && !r->start && !r->end;
		r->tag = i;
	}
	CHECK(npushed == 1000 && pushed_cap >= 1000 && zeroed, "ARRAY_PUSH appends zeroed elements and counts them");
	CHECK(pushed[0].tag == 0 && pushed[999].tag == 999, "pushed elements are kept");
	free(pushed);
}

struct number_slot {
	uint64_t key;
	uint32_t value;
};

static void test_hashtab_exact_keys(void)
{
	struct hashtab table = {0};
	CHECK(!hashtab_find(&table, 42), "an empty table finds nothing");
	enum { N = 50000 };
	bool inserted = true;
	size_t growths = 0, last_cap = 0;
	for (uint64_t i = 1; i <= N; i++) {
		/* Page-like keys: the low 12 bits are always 0. */
		uint64_t key = i << 12;
		if (hashtab_reserve(&table, table.count + 1, sizeof(struct number_slot)) < 0) {
			inserted = false;
			break;
		}
		growths += table.cap != last_cap;
		last_cap = table.cap;
		struct number_slot *slot = hashtab_slot_for(&table, key);
		inserted &= slot->key == 0;
		hashtab_claim(&table, slot, key);
		slot->value = (uint32_t)i;
	}
	CHECK(inserted && table.count == N, "%d keys inserted, each into an empty slot", N);
	CHECK(table.cap >= 2 * table.count && (table.cap & (table.cap - 1)) == 0 && growths > 5,
	      "the table grew %zu times to %zu slots, at most half full", growths, table.cap);
	bool found = true;
	for (uint64_t i = 1; i <= N; i++) {
		const struct number_slot *slot = hashtab_find(&table, i << 12);
		found &= slot && slot->value == i;
	}
	CHECK(found, "every key is found with its value after growth");
	CHECK(!hashtab_find(&table, (uint64_t)(N + 1) << 12) && !hashtab_find(&table, 4097) && !hashtab_find(&table, 0),
	      "keys never inserted (and 0) are not found");
	struct number_slot *again = hashtab_slot_for(&table, 7 << 12);
	CHECK(again->key == 7 << 12 && again->value == 7, "slot_for an existing key is its slot");
	again->value = 700;
	CHECK(((struct number_slot *)hashtab_find(&table, 7 << 12))->value == 700 && table.count == N,
	      "a value is replaced in place");
	size_t used = 0;
	for (size_t i = 0; i < table.cap; i++)
		used += hashtab_key_at(&table, i) != 0;
	CHECK(used == N, "walking the slots meets every entry once");
	hashtab_release(&table);
	CHECK(!table.slots && !table.cap && !table.count && !hashtab_find(&table, 7 << 12), "released: empty again");
}

/* Entries whose long keys share one hash, as colliding strings would. */
struct text_slot {
	uint64_t hash;
	const char *text;
};

static struct text_slot *text_lookup(struct hashtab *table, const char *text, uint64_t hash, bool add)
{
	if (hashtab_reserve(table, table->count + 1, sizeof(struct text_slot)) < 0)
		return NULL;
	size_t pos = hashtab_start(table, hash);
	for (struct text_slot *slot; (slot = hashtab_next(table, hash, &pos));)
		if (!strcmp(slot->text, text))
			return slot;
	if (!add)
		return NULL;
	struct text_slot *slot = hashtab_slot(table, pos);
	hashtab_claim(table, slot, hash);
	slot->text = text;
	return slot;
}

static void test_hashtab_collisions(void)
{
	struct hashtab table = {0};
	static const char *const words[] = {"alpha", "beta", "gamma", "delta", "epsilon"};
	/* Every word under the same hash, and one other word nearby. */
	for (size_t i = 0; i < 5; i++)
		text_lookup(&table, words[i], 99, true);
	text_lookup(&table, "other", 100, true);
	CHECK(table.count == 6, "six entries, five sharing a hash");
	bool all = true;
	for (size_t i = 0; i < 5; i++) {
		const struct text_slot *slot = text_lookup(&table, words[i], 99, false);
		all &= slot && slot->text == words[i];
	}
	CHECK(all, "each colliding entry is found by its own text");
	CHECK(!text_lookup(&table, "zeta", 99, false), "a text with a shared hash but not inserted is not found");
	CHECK(text_lookup(&table, "alpha", 99, true) && table.count == 6, "a colliding key is not inserted twice");
	size_t pos = hashtab_start(&table, 99), sharing = 0;
	while (hashtab_next(&table, 99, &pos))
		sharing++;
	CHECK(sharing == 5 && hashtab_key_at(&table, pos) == 0, "hashtab_next hands out all five, ending on an empty slot");
	/* Grow with the collisions in: they move together and stay found. */
	static char names[5000][12];
	for (size_t i = 0; i < 5000; i++) {
		snprintf(names[i], sizeof(names[i]), "n%zu", i);
		text_lookup(&table, names[i], hash_bytes(0, names[i], strlen(names[i])), true);
	}
	all = table.count == 5006;
	for (size_t i = 0; i < 5; i++)
		all &= text_lookup(&table, words[i], 99, false) != NULL;
	for (size_t i = 0; i < 5000; i++)
		all &= text_lookup(&table, names[i], hash_bytes(0, names[i], strlen(names[i])), false) != NULL;
	CHECK(all, "after growth past 5000 entries every entry is still found");
	hashtab_release(&table);
}

static void test_hashes(void)
{
	CHECK(hash_u64(0) == 0 && hash_u64(1) != 1 && hash_u64(1) != hash_u64(2), "hash_u64 mixes");
	CHECK(hash_pair(0, 0) != 0 && hash_pair(1, 2) != hash_pair(2, 1), "hash_pair: never 0, order counts");
	CHECK(hash_bytes(0, "", 0) != 0 && hash_bytes(0, "abc", 3) == hash_bytes(0, "abcd", 3),
	      "hash_bytes: never 0, only LEN bytes count");
	CHECK(hash_bytes(0, "abcdefgh", 8) != hash_bytes(0, "abcdefgh\0", 9), "the length counts");
	CHECK(hash_bytes(1, "x", 1) != hash_bytes(2, "x", 1), "the seed counts");
	/* Labels that differ in one byte, anywhere in a long text. */
	char text[40];
	memset(text, 'a', sizeof(text));
	uint64_t base_hash = hash_bytes(0, text, sizeof(text));
	bool differ = true;
	for (size_t i = 0; i < sizeof(text); i++) {
		text[i] = 'b';
		differ &= hash_bytes(0, text, sizeof(text)) != base_hash;
		text[i] = 'a';
	}
	CHECK(differ, "every byte of a 40-byte text counts");
}

int main(void)
{
	test_percentile();
	test_range_search();
	test_array_grow();
	test_hashes();
	test_hashtab_exact_keys();
	test_hashtab_collisions();
	return unit_done();
}
