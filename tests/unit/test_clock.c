/* Unit tests of the sampling clock's intervals (collect/clock.c): the same
 * seed gives the same sequence, every interval lies in [0.5, 1.5) x the
 * mean, the mean is the asked one, ticks do not alias with a period they
 * divide, and only ticks the clock cannot make up are counted as missed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pycoreprof/collect.h"
#include "unit.h"

#define DRAWS 200000

static void test_same_seed_same_sequence(void)
{
	struct sample_clock a, b, c;
	sample_clock_init(&a, 0.02, 42);
	sample_clock_init(&b, 0.02, 42);
	sample_clock_init(&c, 0.02, 43);
	bool same = true, differ = false;
	for (int i = 0; i < 1000; i++) {
		double x = sample_clock_draw(&a), y = sample_clock_draw(&b), z = sample_clock_draw(&c);
		same &= x == y;
		differ |= x != z;
	}
	CHECK(same, "seed 42 twice: the same 1000 intervals");
	CHECK(differ, "seeds 42 and 43: different intervals");
	sample_clock_init(&a, 0.02, 0);
	double first = sample_clock_draw(&a);
	sample_clock_init(&b, 0.02, 0);
	CHECK(first == sample_clock_draw(&b) && first != sample_clock_draw(&b), "seed 0 works like any other");
}

static void test_bounds_and_mean(void)
{
	struct sample_clock c;
	sample_clock_init(&c, 0.01, 7);
	double sum = 0, low = 1, high = 0;
	int below_mean = 0;
	for (int i = 0; i < DRAWS; i++) {
		double x = sample_clock_draw(&c);
		sum += x;
		low = x < low ? x : low;
		high = x > high ? x : high;
		below_mean += x < 0.01;
	}
	CHECK(low >= 0.005 && high < 0.015, "every interval in [5, 15) ms: %.6f..%.6f", low, high);
	CHECK(low < 0.00501 && high > 0.01499, "the whole range is used: %.6f..%.6f", low, high);
	double mean = sum / DRAWS;
	CHECK(fabs(mean - 0.01) < 0.01 * 0.005, "the mean is the asked 10 ms within 0.5 %%: %.7f", mean);
	CHECK(fabs(below_mean - DRAWS / 2.0) < DRAWS * 0.01, "half the intervals below the mean: %d of %d",
	      below_mean, DRAWS);
}

static void test_missed_ticks(void)
{
	struct sample_clock c;
	sample_clock_init(&c, 0.01, 1);
	/* At most half a mean interval behind: made up by a shorter wait. */
	double before = c.next = time_now() - 0.01;
	sample_clock_advance(&c);
	CHECK(c.late == 0, "a tick less than an interval late is not missed (%llu)", (unsigned long long)c.late);
	CHECK(c.next - before >= 0.005 && c.next - before < 0.015, "and the next tick keeps its place on the schedule");
	/* 50 to 60 ms behind: five or six ticks are missed. */
	c.next = time_now() - 0.065;
	before = time_now();
	sample_clock_advance(&c);
	CHECK(c.late >= 5 && c.late <= 6, "5 to 6 intervals behind: %llu ticks missed", (unsigned long long)c.late);
	CHECK(c.next >= before, "the schedule starts again from now");
}

/* Ticks drawn from the clock against a strict 100 ms cycle, busy 50/30/20
 * ms in three parts: at a mean interval that divides the cycle, strictly
 * periodic ticks would see the same moments of every cycle (at 20 ms:
 * 0, 20, 40, 60, 80 ms, so 60/20/20); drawn ones see its true shares. */
static void test_no_aliasing(double interval, uint64_t seed)
{
	struct sample_clock c;
	sample_clock_init(&c, interval, seed);
	long counts[3] = {0}, n = 0;
	for (double t = 0.0123; t < 1000; t += sample_clock_draw(&c), n++) {
		double phase = t - 0.1 * (double)(long)(t / 0.1);
		counts[phase < 0.05 ? 0 : phase < 0.08 ? 1 : 2]++;
	}
	double share[3];
	for (int i = 0; i < 3; i++)
		share[i] = 100.0 * (double)counts[i] / (double)n;
	CHECK(fabs(share[0] - 50) < 1 && fabs(share[1] - 30) < 1 && fabs(share[2] - 20) < 1,
	      "%.0f ms mean interval on a 100 ms cycle: %.1f/%.1f/%.1f of %ld ticks, expected 50/30/20",
	      interval * 1e3, share[0], share[1], share[2], n);
}

int main(void)
{
	test_no_aliasing(0.020, 1);
	test_no_aliasing(0.025, 2);
	test_no_aliasing(0.010, 3);
	test_same_seed_same_sequence();
	test_bounds_and_mean();
	test_missed_ticks();
	return unit_done();
}
