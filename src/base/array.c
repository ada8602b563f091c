/* Growth of the arrays that the program appends to: one rule for the new
 * capacity and one overflow check. It never shrinks or zeroes an array. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"

enum { ARRAY_MIN_CAP = 16 };

int array_grow(void *items, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t fresh_cap = !*cap ? ARRAY_MIN_CAP : *cap > SIZE_MAX / 2 ? SIZE_MAX : 2 * *cap;
	if (fresh_cap < need)
		fresh_cap = need;
	/* No allocation can be larger than PTRDIFF_MAX bytes. */
	size_t max_cap = size ? PTRDIFF_MAX / size : SIZE_MAX;
	if (need > max_cap)
		return err_set(ERR_NOMEM, "an array of %zu x %zu bytes overflows", need, size);
	if (fresh_cap > max_cap)
		fresh_cap = max_cap;
	void *old;
	memcpy(&old, items, sizeof(old));
	void *grown = realloc(old, size ? fresh_cap * size : 1);
	if (!grown)
		return err_set(ERR_NOMEM, "cannot grow an array to %zu x %zu bytes", fresh_cap, size);
	memcpy(items, &grown, sizeof(grown));
	*cap = fresh_cap;
	return 0;
}

void *array_push(void *items, size_t *n, size_t *cap, size_t size)
{
	if (*n == SIZE_MAX || array_grow(items, cap, *n + 1, size) < 0)
		return NULL;
	char *array;
	memcpy(&array, items, sizeof(array));
	char *item = array + (*n)++ * size;
	memset(item, 0, size);
	return item;
}
