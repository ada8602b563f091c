/* About the least a freeze-mode sampler can cost its target: at RATE times a
 * second, stop every thread of PID that is running (run state R or D) with
 * PTRACE_INTERRUPT, wait for the stops, and let them go at once, reading
 * nothing. Run beside the target by bench_slowdown.py, as if it were a
 * profiler: it seizes the threads PID has when it starts, says "Ctrl-C to
 * stop." on stderr, and on SIGINT detaches and prints its pause median.
 * The only process it touches is PID, which the benchmark started. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"

#define MAX_THREADS 256
#define MAX_PAUSES 100000  /* pauses kept for the median: over 16 minutes at 100 Hz */

struct thread {
	pid_t tid;
	int stat_fd;
	int cpu;            /* the CPU it last ran on, -1 unknown */
	int interrupted;
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* The run state letter of thread TH, or 0; sets th->cpu. */
static char run_state(struct thread *th)
{
	char line[1024];
	ssize_t n = pread(th->stat_fd, line, sizeof(line) - 1, 0);
	th->cpu = -1;
	if (n <= 0)
		return 0;
	line[n] = 0;
	const char *paren = strrchr(line, ')');
	if (!paren || paren[1] != ' ')
		return 0;
	/* The state is field 3; the CPU, field 39, is 36 fields on. */
	const char *field = paren + 2;
	for (int skip = 0; field && skip < 36; skip++)
		field = strchr(field + 1, ' ');
	if (field)
		th->cpu = atoi(field + 1);
	return paren[2];
}

/* Seize every thread PID has now; returns how many. */
static int seize_all(pid_t pid, struct thread *threads)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *dir = opendir(path);
	if (!dir)
		return -1;
	int n = 0;
	struct dirent *entry;
	while ((entry = readdir(dir)) && n < MAX_THREADS) {
		pid_t tid = (pid_t)atoi(entry->d_name);
		if (tid <= 0 || ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
		threads[n].tid = tid;
		threads[n].stat_fd = open(path, O_RDONLY | O_CLOEXEC);
		threads[n].interrupted = 0;
		n++;
	}
	closedir(dir);
	return n;
}

/* Wait until TID reports a stop; a signal that stops it on its way is
 * passed on. Returns 0 once stopped, -1 when it is gone or took a second.
 * The CPU is yielded meanwhile only when the thread last ran on this one
 * (CPU): then it waits for us. */
static int await_stop(pid_t tid, int cpu)
{
	double deadline = now() + 1.0;
	int yield = cpu < 0 || cpu == sched_getcpu();
	while (now() < deadline) {
		int status;
		pid_t r = waitpid(tid, &status, __WALL | WNOHANG);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			if (yield)
				sched_yield();
			continue;
		}
		if (!WIFSTOPPED(status))
			return -1;
		if (status >> 16 == PTRACE_EVENT_STOP)
			return 0;
		if (ptrace(PTRACE_CONT, tid, NULL, (void *)(long)WSTOPSIG(status)) < 0)
			return -1;
	}
	return -1;
}

int main(int argc, char **argv)
{
	pid_t pid = argc > 2 ? (pid_t)atoi(argv[1]) : 0;
	long rate = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
	if (pid <= 0 || rate <= 0 || rate > 100000) {
		fprintf(stderr, "usage: freeze_floor PID RATE_HZ\n");
		return 64;
	}
	static struct thread threads[MAX_THREADS];
	double *pauses = calloc(MAX_PAUSES, sizeof(double));
	int nthreads = seize_all(pid, threads);
	if (!pauses || nthreads <= 0) {
		fprintf(stderr, "freeze_floor: cannot seize the threads of pid %d\n", (int)pid);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "Freezing the running threads of %d, %ld times a second. Ctrl-C to stop.\n", (int)pid,
	        rate);
	long step = 1000000000L / rate, npauses = 0;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop_requested) {
		next.tv_nsec += step;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR && !stop_requested)
			;
		if (stop_requested)
			break;
		char states[MAX_THREADS];
		for (int i = 0; i < nthreads; i++)
			states[i] = run_state(&threads[i]);
		double started = now();
		int stopped = 0;
		for (int i = 0; i < nthreads; i++) {
			threads[i].interrupted = (states[i] == 'R' || states[i] == 'D') &&
			                         ptrace(PTRACE_INTERRUPT, threads[i].tid, NULL, NULL) == 0;
			stopped += threads[i].interrupted;
		}
		for (int i = 0; i < nthreads; i++)
			if (threads[i].interrupted && await_stop(threads[i].tid, threads[i].cpu) == 0)
				ptrace(PTRACE_CONT, threads[i].tid, NULL, NULL);
		if (stopped && npauses < MAX_PAUSES)
			pauses[npauses++] = now() - started;
	}
	/* Detach: a tracee must be stopped for that. */
	for (int i = 0; i < nthreads; i++)
		if (ptrace(PTRACE_INTERRUPT, threads[i].tid, NULL, NULL) == 0 && await_stop(threads[i].tid, -1) == 0)
			ptrace(PTRACE_DETACH, threads[i].tid, NULL, NULL);
	qsort(pauses, (size_t)npauses, sizeof(double), compare_doubles);
	fprintf(stderr, "%ld freezes, pause median %.1f us\n", npauses, npauses ? 1e6 * pauses[npauses / 2] : 0.0);
	free(pauses);
	return 0;
}
