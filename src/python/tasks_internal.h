/* Python layer, internal: the asyncio task walk's pieces (tasks.c: the
 * reader and each task; tasks_find.c: which tasks exist and which threads
 * run their loops; tasks_edges.c: who awaits whom, and cycles;
 * coro_chain.c: await chains). Not included outside src/python/. */
#ifndef PYCOREPROF_PYTHON_TASKS_INTERNAL_H
#define PYCOREPROF_PYTHON_TASKS_INTERNAL_H

#include "python/objects.h"

enum {
	PY_MAX_TASKS = 1 << 20,
	PY_MAX_CHAIN = 1024,         /* frames of one await chain */
	PY_MAX_CALLBACKS = 4096,     /* done callbacks of one future */
	PY_MAX_FUTURE_DEPTH = 8,     /* futures followed from a task to its awaiters */
	PY_MAX_CYCLES = 64,
	PY_MAX_TASK_FRAMES = 4096,   /* of a thread, looking for a running task */
};

enum gen_state { GEN_SUSPENDED, GEN_CREATED, GEN_RUNNING, GEN_FINISHED };

/* A generator's, coroutine's or async generator's frame. */
struct gen_frame {
	enum gen_state state;
	struct pyframe frame;        /* addr is set when RUNNING; all when suspended or created */
	uint64_t awaits;             /* what it waits on in an await / yield from, else 0 */
};

/* coro_chain.c */
int gen_frame_read(struct pyobjects *o, uint64_t gen, struct gen_frame *out);
/* Where the frame of generator GEN is (0 when it has none). */
uint64_t gen_frame_address(struct pyobjects *o, uint64_t gen);
/* The suspended frames of CORO's await chain, innermost first, unresolved;
 * stops at a running or finished generator, at an awaitable that is not a
 * generator (a future), and after MAX frames (-ERR_LIMIT). */
int await_chain(struct pyobjects *o, uint64_t coro, struct pyframe *frames, size_t max, size_t *count);

/* A task found, before its details are read. */
struct found_task {
	uint64_t addr;
	enum obj_kind kind;          /* OBJ_TASK_C or OBJ_TASK_PY */
	uint64_t interp;
};

/* An event loop and the thread running it. */
struct loop_thread {
	uint64_t loop;
	uint64_t running;            /* its current task, 0 when none */
	pid_t tid;
	const struct pythread *thread;
};

struct pytasks {
	struct pyobjects o;
	/* One read's working sets, kept between reads. */
	struct hashtab seen;         /* task address -> index + 1 in tasks */
	struct found_task *found;
	size_t nfound, found_cap;
	struct loop_thread *loops;
	size_t nloops, loops_cap;
	struct pyframe *frames;      /* PY_MAX_TASK_FRAMES scratch */
	/* Sampling (tasks_sample.c): where asyncio keeps the running tasks,
	 * and this sample's. */
	uint64_t current_tasks;      /* asyncio.tasks._current_tasks, 0 until found */
	double next_lookup;          /* time_now() of the next look for it */
	struct running_task {
		uint64_t task, frame;    /* the task, its coroutine's frame */
		enum obj_kind kind;
	} running[64];
	size_t nrunning;
	uint64_t *awaiters;
	size_t nawaiters, awaiters_cap;
	struct strbuf name;
};

struct seen_slot {
	uint64_t addr;
	size_t index;
};

/* tasks_find.c: every task of interpreter INTERP not done yet into
 * r->found, and each loop with the thread running it into r->loops. */
int tasks_find(struct pytasks *r, uint64_t interp, const struct pythread *threads, size_t nthreads);
/* The loop entry of LOOP, or NULL. */
struct loop_thread *tasks_loop(struct pytasks *r, uint64_t loop);

/* tasks_edges.c: the tasks awaiting task TASK (C or Python), appended to
 * *OUT (an array of *N, capacity *CAP). */
int task_awaiters(struct pytasks *r, const struct found_task *task, uint64_t **out, size_t *n, size_t *cap);
/* Fill every task's awaiting list from the awaited_by lists, keep edges
 * between tasks of LIST only, and find the cycles. */
int tasks_link(struct pytasks *r, struct pytask_list *list);

/* tasks_find.c: the asyncio.tasks module's __dict__ in INTERP, with
 * asyncio's classes learnt: 1 when found, 0 when asyncio is not imported. */
int tasks_module(struct pytasks *r, uint64_t interp, uint64_t *dict);
/* tasks.c: the name, and the coroutine, of task ADDR (of KIND). */
int task_name_into(struct pytasks *r, uint64_t addr, enum obj_kind kind, struct strbuf *name);
int task_coroutine(struct pytasks *r, uint64_t addr, enum obj_kind kind, uint64_t *coro);

#endif
