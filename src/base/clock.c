/* The monotonic clock every timing in the program reads: sampling
 * intervals, freeze deadlines, pauses. Not wall-clock time. */
#include <time.h>

#include "pycoreprof/base.h"

double time_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
