/* What the benchmark's small C helpers (the bench/...floor.c files) share: a
 * monotonic clock in seconds, and an order of doubles for qsort(). Each helper is
 * built alone from its one .c file, so these are static inline. */
#ifndef BENCH_HELPER_H
#define BENCH_HELPER_H

#include <time.h>

static inline double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#endif
