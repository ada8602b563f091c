/* Unit tests of the ring of time-stamped samples (agg/ring.c): the window
 * keeps what is younger than it and no more, its profile counts each stack
 * as often as the window holds it, a rebase keeps the window in a fresh
 * aggregate and renumbers what follows; and of pause statistics thinned
 * past their bound (collect/pauses.c). */
#include <string.h>

#include "pycoreprof/agg.h"
#include "pycoreprof/sampler.h"
#include "unit.h"

#define SECOND 1000000000ull

static uint64_t count_of(const struct aggregate *agg, const char *leaf)
{
	uint64_t n = 0;
	for (size_t i = 1; i < agg->nnodes; i++)
		if (!strcmp(agg->frames[agg->nodes[i].frame].name, leaf))
			n += agg->nodes[i].self;
	return n;
}

static void add_stack(struct aggregate *agg, const char *outer, const char *inner, bool waiting)
{
	uint32_t ids[2];
	agg_frame(agg, AGG_PYTHON, outer, "a.py", 1, &ids[0]);
	agg_frame(agg, AGG_PYTHON, inner, "a.py", 2, &ids[1]);
	if (waiting)
		agg_add_waiting(agg, ids, 2, 1);
	else
		agg_add(agg, ids, 2, 1);
}

static void test_window(void)
{
	struct aggregate agg, window;
	struct sample_ring ring;
	agg_init(&agg);
	sample_ring_init(&ring, 10 * SECOND, &agg);
	/* One sample a second for 30 s: "old" in the first 20, "new" after. */
	for (uint64_t t = 1; t <= 30; t++) {
		sample_ring_set_time(&ring, 1000 * SECOND + t * SECOND);
		add_stack(&agg, "main", t <= 20 ? "old" : "new", t % 2 == 0);
	}
	CHECK(agg.samples == 30, "the aggregate counted every sample (%llu)", (unsigned long long)agg.samples);
	CHECK(ring.count == 11, "the ring keeps the last 10 s, ends included (%zu)", ring.count);
	CHECK(sample_ring_profile(&ring, &agg, &window) == 0, "the window's profile is built");
	CHECK(count_of(&window, "new") == 10 && count_of(&window, "old") == 1,
	      "the window holds 10 'new' and 1 'old' (%llu, %llu)", (unsigned long long)count_of(&window, "new"),
	      (unsigned long long)count_of(&window, "old"));
	CHECK(window.samples == 11, "the window's profile has 11 samples (%llu)", (unsigned long long)window.samples);
	uint64_t waiting = 0;
	for (size_t i = 1; i < window.nnodes; i++)
		waiting += window.nodes[i].waiting;
	CHECK(waiting == 6, "waiting samples stay waiting (%llu of 11, expected 6)", (unsigned long long)waiting);
	CHECK(window.first_ns == 1020 * SECOND && window.last_ns == 1030 * SECOND,
	      "the window's span is its samples' (%llu..%llu)", (unsigned long long)window.first_ns,
	      (unsigned long long)window.last_ns);
	agg_release(&window);

	/* Rebase: the fresh aggregate holds the window only; counting goes on
	 * into it, and the ring follows. */
	struct aggregate fresh;
	CHECK(sample_ring_rebase(&ring, &agg, &fresh) == 0, "rebased");
	CHECK(fresh.samples == 11 && count_of(&fresh, "old") == 1, "the fresh aggregate holds the window");
	CHECK(!agg.added && fresh.added, "the ring is fed by the fresh aggregate only");
	for (uint64_t t = 31; t <= 45; t++) {
		sample_ring_set_time(&ring, 1000 * SECOND + t * SECOND);
		add_stack(&fresh, "main", "newer", false);
	}
	CHECK(sample_ring_profile(&ring, &fresh, &window) == 0, "the window's profile after the rebase");
	CHECK(count_of(&window, "newer") == 11 && count_of(&window, "new") == 0 && window.samples == 11,
	      "after the rebase the window holds the 11 newest (%llu newer, %llu new)",
	      (unsigned long long)count_of(&window, "newer"), (unsigned long long)count_of(&window, "new"));
	agg_release(&window);
	agg_release(&fresh);
	agg_release(&agg);
	sample_ring_release(&ring);
}

/* Hours at a high rate: the ring's room follows the window, not the time. */
static void test_bounded(void)
{
	struct aggregate agg;
	struct sample_ring ring;
	agg_init(&agg);
	sample_ring_init(&ring, 5 * SECOND, &agg);
	size_t cap_early = 0;
	for (uint64_t i = 0; i < 200000; i++) {
		sample_ring_set_time(&ring, i * (SECOND / 1000));   /* 1000 a second */
		add_stack(&agg, "main", "work", false);
		if (i == 20000)
			cap_early = ring.cap;
	}
	CHECK(ring.count <= 5001, "the ring holds 5 s of samples (%zu)", ring.count);
	CHECK(ring.cap == cap_early, "its room stays as it was after 20 s (%zu, then %zu)", cap_early, ring.cap);
	agg_release(&agg);
	sample_ring_release(&ring);
}

static void test_pauses(void)
{
	struct pause_stats p = {0};
	double sum = 0;
	for (size_t i = 0; i < 5 * (size_t)PAUSES_KEPT_MAX; i++) {
		double pause = (double)(i % 100 + 1) * 1e-6;
		pause_stats_add(&p, pause);
		sum += pause;
	}
	CHECK(p.n <= PAUSES_KEPT_MAX, "at most PAUSES_KEPT_MAX pauses kept (%zu)", p.n);
	CHECK(p.cap <= PAUSES_KEPT_MAX + 1, "no more room than that (%zu)", p.cap);
	CHECK(pause_stats_sum(&p) > sum * 0.999999 && pause_stats_sum(&p) < sum * 1.000001,
	      "the sum counts every pause (%g, expected %g)", pause_stats_sum(&p), sum);
	CHECK(pause_stats_percentile(&p, 100) > 99.9e-6 && pause_stats_percentile(&p, 100) < 100.1e-6, "the maximum is every pause's (%g)",
	      pause_stats_percentile(&p, 100));
	double median = pause_stats_percentile(&p, 50);
	CHECK(median >= 49e-6 && median <= 52e-6, "the median stays that of all (%g)", median);
	pause_stats_release(&p);
}

int main(void)
{
	test_window();
	test_bounded();
	test_pauses();
	return unit_done();
}
