/* Unit tests of the base layer's shared helpers: percentiles, the
 * sorted-range search, array growth and the hash table. */
#include <stdint.h>
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
}

int main(void)
{
	test_percentile();
	test_range_search();
	test_array_grow();
	return unit_done();
}
