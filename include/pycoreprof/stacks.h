/* Stack collection: every thread of a target with its frames now, joining
 * the target's OS threads (tid, registers, run state, crash signal) with the
 * Python walker's thread states. Shared by `core` and `dump`; writers in
 * out.h turn it into text or JSON. */
#ifndef PYCOREPROF_STACKS_H
#define PYCOREPROF_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pycoreprof/python.h"
#include "pycoreprof/target.h"

enum frame_kind { FRAME_PYTHON, FRAME_NATIVE };

struct stack_frame {
	enum frame_kind kind;
	const char *function;    /* co_name; owned by the walker's code cache */
	const char *qualname;    /* co_qualname where the version has it, else co_name */
	const char *file;
	int line;                /* -1 when unknown */
};

struct thread_stack {
	pid_t tid;               /* OS thread id, 0 when unknown */
	uint64_t thread_id;      /* threading.get_ident() */
	bool is_python;          /* has a Python thread state */
	bool crashed, gil, idle;
	struct stack_frame *frames; /* innermost first; owned by the collection */
	size_t nframes;
	char *error;             /* why the walk stopped early, or NULL */
};

struct process_stacks {
	const char *source;      /* "core", "live", "snapshot" */
	struct target *target;   /* borrowed */
	struct pywalker *walker; /* borrowed */
	struct thread_stack *threads; /* crashed thread first, then oldest first */
	size_t nthreads;
	size_t errors;           /* threads whose walk failed part-way */
};

/* Walk every thread of T with W. Frame strings stay valid while W lives.
 * Errors inside one thread are kept in that thread (and counted), not
 * returned; the return value is an error only when nothing could be read. */
int process_stacks_collect(struct target *t, struct pywalker *w, const char *source,
                           struct process_stacks *out);
void process_stacks_release(struct process_stacks *ps);

#endif
