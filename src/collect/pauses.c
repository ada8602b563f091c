/* Pause statistics: the seconds each freeze kept a target stopped, kept in
 * order for percentiles (record's summary and status line, snapshot's),
 * thinned evenly past PAUSES_KEPT_MAX so that hours of them stay small. A
 * pause that finds no memory is dropped: these are statistics, never a
 * reason to fail. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/sampler.h"

void pause_stats_add(struct pause_stats *p, double seconds)
{
	p->total += seconds;
	if (seconds > p->max)
		p->max = seconds;
	if (p->stride > 1 && ++p->since_kept < p->stride)
		return;
	p->since_kept = 0;
	if (p->n >= PAUSES_KEPT_MAX) {
		for (size_t i = 0; 2 * i < p->n; i++)
			p->seconds[i] = p->seconds[2 * i];
		p->n = (p->n + 1) / 2;
		p->stride = p->stride ? 2 * p->stride : 2;
	}
	if (ARRAY_GROW(p->seconds, p->cap, p->n + 1) < 0)
		return;
	p->seconds[p->n++] = seconds;
}

void pause_stats_append(struct pause_stats *into, const struct pause_stats *from)
{
	into->total += from->total;
	if (from->max > into->max)
		into->max = from->max;
	if (!from->n)
		return;
	if (ARRAY_GROW(into->seconds, into->cap, into->n + from->n) < 0)
		return;
	memcpy(into->seconds + into->n, from->seconds, from->n * sizeof(*from->seconds));
	into->n += from->n;
}

void pause_stats_release(struct pause_stats *p)
{
	free(p->seconds);
	memset(p, 0, sizeof(*p));
}

double pause_stats_percentile(struct pause_stats *p, double pct)
{
	if (pct >= 100)
		return p->n ? p->max : 0;
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
	return p->total;
}
