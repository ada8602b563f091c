/* Summary statistics of measured values (pause lengths and the like).
 * Nothing here keeps state or allocates. */
#include <stdlib.h>

#include "pycoreprof/base.h"

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double percentile(double *values, size_t n, double p)
{
	if (!n)
		return 0;
	qsort(values, n, sizeof(*values), compare_doubles);
	size_t index = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return values[index < n ? index : n - 1];
}
