/* Binary search over arrays of structs sorted by a 64-bit address field:
 * mappings, segments, modules, symbol ranges. It never sorts or allocates. */
#include <string.h>

#include "pycoreprof/base.h"

static uint64_t field_at(const void *items, size_t index, size_t size, size_t offset)
{
	uint64_t value;
	memcpy(&value, (const char *)items + index * size + offset, sizeof(value));
	return value;
}

size_t sorted_upper_bound(const void *items, size_t count, size_t size, size_t offset, uint64_t key)
{
	size_t low = 0, high = count;
	while (low < high) {
		size_t mid = low + (high - low) / 2;
		if (field_at(items, mid, size, offset) <= key)
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

size_t sorted_range_find(const void *items, size_t count, size_t size, size_t start_offset, size_t end_offset,
                         uint64_t key)
{
	size_t above = sorted_upper_bound(items, count, size, start_offset, key);
	if (!above || key >= field_at(items, above - 1, size, end_offset))
		return SIZE_MAX;
	return above - 1;
}
