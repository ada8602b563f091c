/* The machine's floor under any sampler's cost to its target: a process that
 * wakes RATE times a second and does nothing else. Run beside the target by
 * bench_slowdown.py, as if it were a profiler: it says "Ctrl-C to stop." on
 * stderr once started and exits on SIGINT. It touches no other process. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int main(int argc, char **argv)
{
	long rate = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	if (rate <= 0 || rate > 1000000) {
		fprintf(stderr, "usage: tick_floor RATE_HZ\n");
		return 64;
	}
	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "Ticking %ld times a second. Ctrl-C to stop.\n", rate);
	unsigned long ticks = 0;
	while (!stop_requested) {
		/* Relative sleeps, as record takes them between samples. */
		long nanoseconds = 1000000000L / rate;
		struct timespec interval = {nanoseconds / 1000000000L, nanoseconds % 1000000000L};
		while (nanosleep(&interval, &interval) < 0 && errno == EINTR && !stop_requested)
			;
		ticks++;
	}
	fprintf(stderr, "%lu ticks\n", ticks);
	return 0;
}
