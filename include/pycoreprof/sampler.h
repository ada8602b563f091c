/* Sampling (collect layer, src/collect/sampler*.c): one sample of every
 * thread of a live target into an aggregate, in freeze mode (all threads
 * stopped while the stacks are read, then resumed before anything is
 * decoded or counted) or nonblocking mode (read while the process runs;
 * torn reads become counted errors). */
#ifndef PYCOREPROF_SAMPLER_H
#define PYCOREPROF_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pycoreprof/agg.h"
#include "pycoreprof/native.h"
#include "pycoreprof/python.h"
#include "pycoreprof/target.h"

struct sampler_options {
	bool freeze;             /* stop the threads while reading */
	bool idle;               /* keep threads that are not running */
	bool gil_only;           /* keep only the thread holding the GIL */
	bool thread_roots;       /* a root frame per thread */
	bool by_function;        /* drop line numbers */
	/* A thread running an asyncio task: its stack goes on through the
	 * tasks awaiting that task, each under a `task NAME` frame, the
	 * outermost awaiter's at the root (sampler_enable_tasks()). */
	bool async_tasks;
	const char *process_root; /* a root frame naming the process, or NULL */
};

/* Seconds each freeze kept a target stopped, in the order taken
 * (collect/pauses.c). Zero-initialised is empty. Memory stays bounded over
 * hours: past PAUSES_KEPT_MAX pauses, every other one kept is dropped and
 * from then on only every STRIDE-th is kept, an even thinning that leaves
 * the percentiles as they were; the sum and the maximum count every
 * pause. */
#define PAUSES_KEPT_MAX 8192u
struct pause_stats {
	double *seconds;         /* the pauses kept */
	size_t n, cap;
	double total;            /* of every pause added */
	double max;              /* the longest pause added */
	unsigned stride, since_kept;
};
/* Add a pause; one that finds no memory is dropped (statistics only). */
void pause_stats_add(struct pause_stats *p, double seconds);
/* Add every pause of FROM to INTO, dropped together when memory is short. */
void pause_stats_append(struct pause_stats *into, const struct pause_stats *from);
void pause_stats_release(struct pause_stats *p);
/* The PCT-th percentile (0..100) of the pauses kept, which it sorts (100:
 * the longest of all); 0 when there is none. */
double pause_stats_percentile(struct pause_stats *p, double pct);
/* The median of the last pauses (1024 at most), for a status line: a copy
 * of them is sorted, not the hours of pauses a long recording keeps. */
double pause_stats_recent_median(const struct pause_stats *p);
double pause_stats_sum(const struct pause_stats *p);
/* What an error counted in the stats could not do. */
enum sampler_error {
	SAMPLER_ERR_FREEZE,      /* stop the process (or list its threads) */
	SAMPLER_ERR_THREADS,     /* read the thread states to the end */
	SAMPLER_ERR_FRAMES,      /* follow a thread's frames to the end */
	SAMPLER_ERR_DEPTH,       /* fit a stack under the depth limit */
	SAMPLER_ERR_CODE,        /* read a frame's code object */
	SAMPLER_ERR_TASKS,       /* follow a running task's awaiters (counted with its stack) */
	SAMPLER_ERR__COUNT
};

struct sampler_stats {
	uint64_t samples;        /* sampling rounds done */
	uint64_t stacks;         /* thread stacks counted */
	uint64_t errors;         /* rounds or stacks that could not be read */
	uint64_t error_kinds[SAMPLER_ERR__COUNT]; /* ERRORS by what failed */
	uint64_t left_out;       /* stacks taken from an earlier sample whose thread woke around
	                          * the pause: left out of their sample */
	struct pause_stats pauses; /* freeze mode: one per round */
};

struct thread_capture;

/* The thread roots of a recording: one per thread, keyed by its tid (and
 * its interpreter: a mod_wsgi thread has a root per application group it
 * ran in), so that a thread keeps its root when its name changes; the root
 * is named after the thread's name as of its latest sample. Zero-initialised
 * is empty. */
struct thread_roots {
	struct hashtab slots;    /* of struct thread_root_slot (collect/frames.c) */
};
/* The root frame of thread TID in AGG, interned or renamed as needed: its
 * label is `thread TID "NAME"`. PYTHON_NAME is the thread's threading name
 * when known (it wins); OS_NAME (its comm, may be NULL or "") names a root
 * that never had a Python name. A NULL PYTHON_NAME keeps the name the root
 * has. A thread state of a sub-interpreter (INTERP_ID > 0) has its own root,
 * `thread TID "NAME" in interpreter INTERP_ID "INTERP_NAME"` (the name left
 * out while NULL). Errors: -ERR_NOMEM. */
int thread_roots_frame(struct thread_roots *r, struct aggregate *agg, pid_t tid, int64_t interp_id,
                       const char *interp_name, const char *python_name, const char *os_name, uint32_t *id);
void thread_roots_release(struct thread_roots *r);

/* (code object, instruction offset) -> aggregate frame id, so that a frame
 * seen before costs one probe: no line-table walk, no string hashing. */
struct frame_memo_slot {
	uint64_t hash;           /* of code and offset: the hashtab key */
	const struct pycode *code;
	int byte_offset;
	uint32_t frame_id;
};
struct sampler_native;

struct sampler {
	struct target *target;   /* borrowed */
	struct pywalker *walker; /* borrowed */
	struct aggregate *agg;   /* borrowed */
	struct sampler_options opts;
	struct freeze_policy policy; /* what the options ask of the target's freezes */
	struct sampler_stats stats;
	struct thread_capture *captures;
	size_t ncaptures_cap;
	uint32_t *ids;
	size_t ids_cap;
	struct sampler_native *native; /* NULL unless sampler_enable_native() */
	struct pytasks *tasks;   /* NULL unless sampler_enable_tasks() */
	struct hashtab memo;     /* of frame_memo_slot */
	struct thread_roots roots; /* with opts.thread_roots */
	int lost_rounds;         /* consecutive rounds that found no thread state */
	pid_t gil_holder;        /* the last capture's GIL holder, or 0 */
	double now;              /* when this capture's thread list was read */
	uint64_t taken_ns;       /* when this sample was taken (CLOCK_REALTIME), read
	                          * only when the aggregate keeps a timeline */
};

void sampler_init(struct sampler *s, struct target *t, struct pywalker *w, struct aggregate *agg,
                  const struct sampler_options *opts);
void sampler_release(struct sampler *s);
/* Count the next samples in AGG (borrowed) instead: the frame ids known
 * are forgotten. */
void sampler_set_aggregate(struct sampler *s, struct aggregate *agg);
/* Take one sample. Returns 0 (errors inside the sample are counted in
 * stats), -ERR_PROCESS_GONE when the process has exited, or -ERR_NOT_PYTHON
 * when several rounds in a row found no interpreter where it was (the
 * process exec'd, or finalised its runtime): open it anew. */
int sampler_sample(struct sampler *s);
/* Also sample native frames (freeze mode only): each kept thread's
 * registers and STACK_BYTES of its stack are copied while the target is
 * frozen, then unwound with U (borrowed; it must outlive the sampler) and
 * merged with the Python frames as MODE says. */
int sampler_enable_native(struct sampler *s, struct native_unwinder *u, enum native_mode mode, size_t stack_bytes);

/* Follow asyncio tasks (opts.async_tasks): makes the task reader, which
 * opens files (3.14+: what _asyncio publishes), so before sampling. Not
 * with native frames. Errors: pytasks_new()'s. */
int sampler_enable_tasks(struct sampler *s);

/* How KIND reads in a summary: "code object unreadable". */
const char *sampler_error_name(enum sampler_error kind);

#endif
