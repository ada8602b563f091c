/* The sampling clock: ticks a random interval apart around the asked mean,
 * on absolute deadlines met closely (minimum timer slack, the last tens of
 * microseconds spun), and between them a sleep that wakes for what the
 * traced threads report (signals on their way to them wait in a stop until
 * we pass them on), so that the caller answers at once. It neither samples
 * nor prints. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

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

static struct timespec timespec_of(double seconds)
{
	struct timespec ts = {.tv_sec = (time_t)seconds};
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	return ts;
}

/* Sleep to SAMPLE_CLOCK_SPIN before DEADLINE, then spin to it: a wake-up
 * from a sleep comes tens of microseconds late even with the minimum slack,
 * which at thousands of samples a second is most of an interval. A report
 * (SIGCHLD) ends the wait early, in either part. */
static bool live_sleep_until(double deadline, volatile sig_atomic_t *stop)
{
	sigset_t chld;
	child_signal_set(&chld);
	const struct timespec zero = {0};
	for (;;) {
		double wait = deadline - time_now();
		if ((stop && *stop) || wait <= 0)
			return false;
		struct timespec ts = wait > SAMPLE_CLOCK_SPIN ? timespec_of(wait - SAMPLE_CLOCK_SPIN) : zero;
		int sig = sigtimedwait(&chld, NULL, &ts);
		if (sig == SIGCHLD)
			return true;
		if (sig < 0 && errno != EINTR && errno != EAGAIN)
			return false;
	}
}

uint64_t sample_clock_time_seed(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ ((uint64_t)getpid() << 32);
}

/* splitmix64: one 64-bit state, every seed (0 too) gives a full-period
 * sequence of well-mixed numbers. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

void sample_clock_init(struct sample_clock *c, double interval, uint64_t seed)
{
	memset(c, 0, sizeof(*c));
	c->interval = interval;
	c->random = seed;
}

double sample_clock_draw(struct sample_clock *c)
{
	/* The top 53 bits: a double in [0, 1). */
	double unit = (double)(next_random(&c->random) >> 11) * (1.0 / 9007199254740992.0);
	return c->interval * (0.5 + unit);
}

void sample_clock_start(struct sample_clock *c, double interval, uint64_t seed)
{
	sample_clock_init(c, interval, seed);
	live_reports_block(&c->saved_mask);
	int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (slack > 0 && prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) == 0) {
		c->saved_slack = (unsigned long)slack;
		c->slack_set = true;
	}
	c->started = true;
	c->start = c->next = time_now();
}

double sample_clock_advance(struct sample_clock *c)
{
	c->next += sample_clock_draw(c);
	double now = time_now();
	double behind = now - c->next;
	/* Up to a mean interval is made up; more would take samples in a
	 * burst, at the moment the sampler got the CPU back: on a busy
	 * machine, when the target stopped competing for it. */
	if (behind > c->interval) {
		/* The tick at NEXT is taken now, late; the ones after it that
		 * fit before now are missed. */
		c->late += (uint64_t)(behind / c->interval);
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
	if (c->slack_set)
		prctl(PR_SET_TIMERSLACK, c->saved_slack, 0, 0, 0);
	c->started = c->slack_set = false;
}
