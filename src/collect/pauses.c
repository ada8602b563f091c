/* Pause statistics: the seconds each freeze kept a target stopped, kept in
 * order for percentiles (record's summary and status line, snapshot's). A
 * pause that finds no memory is dropped: these are statistics, never a
 * reason to fail. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/sampler.h"

void pause_stats_add(struct pause_stats *p, double seconds)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1024;
		double *grown = xrealloc_array(p->seconds, cap, sizeof(*grown));
		if (!grown)
			return;
		p->seconds = grown;
		p->cap = cap;
	}
	p->seconds[p->n++] = seconds;
}

void pause_stats_append(struct pause_stats *into, const struct pause_stats *from)
{
	if (!from->n)
		return;
	if (into->n + from->n > into->cap) {
		double *grown = xrealloc_array(into->seconds, into->n + from->n, sizeof(*grown));
		if (!grown)
			return;
		into->seconds = grown;
		into->cap = into->n + from->n;
	}
	memcpy(into->seconds + into->n, from->seconds, from->n * sizeof(*from->seconds));
	into->n += from->n;
}

void pause_stats_release(struct pause_stats *p)
{
	free(p->seconds);
	memset(p, 0, sizeof(*p));
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double percentile(double *values, size_t n, double p)
{
	if (!n)
		return 0;
	qsort(values, n, sizeof(*values), compare_doubles);
	size_t index = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return values[index < n ? index : n - 1];
}

double pause_stats_percentile(struct pause_stats *p, double pct)
{
	return percentile(p->seconds, p->n, pct);
}

double pause_stats_recent_median(const struct pause_stats *p)
{
	enum { RECENT = 1024 };
	double copy[RECENT];
	size_t k = p->n < RECENT ? p->n : RECENT;
	memcpy(copy, p->seconds + (p->n - k), k * sizeof(*copy));
	return percentile(copy, k, 50);
}

double pause_stats_sum(const struct pause_stats *p)
{
	double sum = 0;
	for (size_t i = 0; i < p->n; i++)
		sum += p->seconds[i];
	return sum;
}
