/* The monotonic clock every timing in the program reads (sampling
 * intervals, freeze deadlines, pauses), and the wall clock for the times
 * that outputs show (when a sample was taken). */
#include <time.h>

#include "pycoreprof/base.h"

double time_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t time_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
