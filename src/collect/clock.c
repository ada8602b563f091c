/* The sampling clock: ticks an interval apart, and between them a sleep
 * that wakes for what the traced threads report (signals on their way to
 * them wait in a stop until we pass them on), so that the caller answers at
 * once. It neither samples nor prints. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "pycoreprof/base.h"
#include "pycoreprof/collect.h"

static void child_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
}

static void live_reports_block(sigset_t *saved)
{
	sigset_t chld;
	child_signal_set(&chld);
	pthread_sigmask(SIG_BLOCK, &chld, saved);
}

static void live_reports_restore(const sigset_t *saved)
{
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

static bool live_sleep_until(double deadline, volatile sig_atomic_t *stop)
{
	sigset_t chld;
	child_signal_set(&chld);
	for (;;) {
		double wait = deadline - time_now();
		if ((stop && *stop) || wait <= 0)
			return false;
		struct timespec ts = {.tv_sec = (time_t)wait};
		ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
		int sig = sigtimedwait(&chld, NULL, &ts);
		if (sig == SIGCHLD)
			return true;
		if (sig < 0 && errno != EINTR)
			return false;   /* EAGAIN: the deadline passed */
	}
}

void sample_clock_start(struct sample_clock *c, double interval)
{
	memset(c, 0, sizeof(*c));
	live_reports_block(&c->saved_mask);
	c->started = true;
	c->interval = interval;
	c->start = c->next = time_now();
}

double sample_clock_advance(struct sample_clock *c)
{
	c->next += c->interval;
	double now = time_now();
	if (c->next < now) {
		c->late++;
		c->next = now;
	}
	return now;
}

bool sample_clock_wait(struct sample_clock *c, volatile sig_atomic_t *stop)
{
	return live_sleep_until(c->next, stop);
}

void sample_clock_stop(struct sample_clock *c)
{
	if (c->started)
		live_reports_restore(&c->saved_mask);
	c->started = false;
}
