/* Sampling: one sample of every thread of a live target into an aggregate,
 * in freeze mode (all threads stopped while the stacks are read, then
 * resumed before anything is decoded or counted) or nonblocking mode (read
 * while the process runs; torn reads become counted errors). */
#ifndef PYCOREPROF_SAMPLER_H
#define PYCOREPROF_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pycoreprof/agg.h"
#include "pycoreprof/python.h"
#include "pycoreprof/target.h"

struct sampler_options {
	bool freeze;             /* stop the threads while reading */
	bool idle;               /* keep threads that are not running */
	bool gil_only;           /* keep only the thread holding the GIL */
	bool thread_roots;       /* a root frame per thread */
	bool by_function;        /* drop line numbers */
	const char *process_root; /* a root frame naming the process, or NULL */
};

struct sampler_stats {
	uint64_t samples;        /* sampling rounds done */
	uint64_t stacks;         /* thread stacks counted */
	uint64_t errors;         /* rounds or stacks that could not be read */
	double *pauses;          /* freeze mode: seconds each round kept the target stopped */
	size_t npauses, pauses_cap;
};

struct thread_capture;

struct sampler {
	struct target *target;   /* borrowed */
	struct pywalker *walker; /* borrowed */
	struct aggregate *agg;   /* borrowed */
	struct sampler_options opts;
	struct sampler_stats stats;
	struct thread_capture *captures;
	size_t ncaptures_cap;
	uint32_t *ids;
	size_t ids_cap;
};

void sampler_init(struct sampler *s, struct target *t, struct pywalker *w, struct aggregate *agg,
                  const struct sampler_options *opts);
void sampler_release(struct sampler *s);
/* Take one sample. Returns 0 (errors inside the sample are counted in
 * stats), or -ERR_PROCESS_GONE when the process has exited. */
int sampler_sample(struct sampler *s);
/* The P-th percentile (0..100) of N VALUES, which it sorts; 0 when N is 0. */
double percentile(double *values, size_t n, double p);

#endif
