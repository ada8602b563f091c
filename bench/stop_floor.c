/* The machine's floor under a freeze-mode pause: how long stopping one
 * running thread with PTRACE_INTERRUPT and letting it go with PTRACE_CONT
 * takes when nothing is read in between, spaced like samples at 100 Hz.
 * Built and run by bench_record.py; prints "floor_us MEDIAN P99".
 * Stops only the child it forked, which it kills at the end. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 300;
	if (rounds < 1 || rounds > 100000)
		rounds = 300;
	pid_t child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		volatile unsigned long spin = 0;
		for (;;)
			spin++;
	}
	double *pauses = calloc((size_t)rounds, sizeof(double));
	int status = 0, done = 0;
	if (!pauses || ptrace(PTRACE_SEIZE, child, NULL, NULL) < 0) {
		perror("ptrace(PTRACE_SEIZE)");
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		return 1;
	}
	for (; done < rounds; done++) {
		struct timespec interval = {0, 10 * 1000 * 1000};
		nanosleep(&interval, NULL);
		double started = now();
		if (ptrace(PTRACE_INTERRUPT, child, NULL, NULL) < 0)
			break;
		pid_t r;
		while ((r = waitpid(child, &status, __WALL | WNOHANG)) == 0)
			sched_yield();
		if (r < 0 || !WIFSTOPPED(status) || ptrace(PTRACE_CONT, child, NULL, NULL) < 0)
			break;
		pauses[done] = now() - started;
	}
	kill(child, SIGKILL);
	waitpid(child, &status, __WALL);
	if (done < rounds) {
		fprintf(stderr, "stop_floor: round %d failed\n", done);
		free(pauses);
		return 1;
	}
	qsort(pauses, (size_t)rounds, sizeof(double), compare_doubles);
	printf("floor_us %.1f %.1f\n", 1e6 * pauses[rounds / 2], 1e6 * pauses[rounds * 99 / 100]);
	free(pauses);
	return 0;
}
