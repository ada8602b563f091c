/* Minimal unit-test harness: CHECK records one result line per assertion
 * ("ok N - what" / "not ok N - what", TAP style) and unit_done() returns the
 * exit status. tests/run.py counts the lines. */
#ifndef PYCOREPROF_TESTS_UNIT_H
#define PYCOREPROF_TESTS_UNIT_H

#include <stdio.h>

static int unit_count, unit_failed;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		unit_count++;                                                 \
		if (cond) {                                                   \
			printf("ok %d - ", unit_count);                       \
		} else {                                                      \
			unit_failed++;                                        \
			printf("not ok %d - %s:%d: ", unit_count, __FILE__,   \
			       __LINE__);                                     \
		}                                                             \
		printf(__VA_ARGS__);                                          \
		printf("\n");                                                 \
	} while (0)

static inline int unit_done(void)
{
	fflush(stdout);
	return unit_failed ? 1 : 0;
}

#endif
