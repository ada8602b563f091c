/* One-shot stack collection (collect layer, src/collect/stacks*.c): every
 * thread of a target with its frames now, joining the target's OS threads
 * (tid, registers, run state, crash signal) with the Python walker's thread
 * states, and optionally their native frames merged in. Used by `core`,
 * `dump`, `report` and snapshots; writers in out.h turn it into text or
 * JSON. */
#ifndef PYCOREPROF_STACKS_H
#define PYCOREPROF_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pycoreprof/native.h"
#include "pycoreprof/python.h"
#include "pycoreprof/target.h"

enum frame_kind { FRAME_PYTHON, FRAME_NATIVE };

struct stack_frame {
	enum frame_kind kind;
	/* Python: co_name, owned by the walker's code cache. Native: the
	 * symbol, owned by the native unwinder; NULL when unknown. */
	const char *function;
	const char *qualname;    /* co_qualname where the version has it, else co_name; native: == function */
	const char *file;        /* native: source file from debug info, or NULL */
	int line;                /* -1 when unknown */
	/* Python 3.11+ (has_position): the rest of the instruction's place,
	 * as pyposition has it (-1 where the table has none). */
	bool has_position;
	int end_line, column, end_column;
	bool entry;              /* Python: first frame of an evaluation-loop call (3.11+) */
	/* Python, when locals were asked for: the frame's locals, owned by
	 * its thread_stack; NULL otherwise. */
	const struct pylocals *locals;
	uint64_t entry_shim;     /* Python: pyframe.entry_shim */
	uint64_t empty_shim;     /* Python: pyframe.empty_shim */
	/* Native frames only. */
	const char *library;     /* the module's path, NULL when in none */
	uint64_t address;        /* program counter */
	uint64_t offset;         /* ADDRESS in the module's own addresses */
	bool named;              /* FUNCTION is a symbol's (else LIBRARY+0xOFFSET) */
	struct native_site site; /* where the function is, for pprof */
};

struct thread_stack {
	pid_t tid;               /* OS thread id, 0 when unknown */
	pid_t ns_tid;            /* the id the process knows it by (struct target_thread), 0 when unknown */
	uint64_t thread_id;      /* threading.get_ident() */
	char *name;              /* its threading.Thread's name, NULL when unknown */
	bool is_python;          /* has a Python thread state */
	bool crashed, gil, idle;
	/* Running a garbage collection: the thread whose stack holds the frame
	 * that started it (3.15+), else the one holding the GIL while its
	 * interpreter collects, else (with native frames) the one inside the
	 * collector's C functions. */
	bool gc;
	bool finalizing;         /* the thread finalizing the interpreter */
	/* The exceptions in flight (pywalker_exceptions()): the one being
	 * raised, the innermost one being handled; NULL when none. Owned. */
	struct pyexc *raising, *handling;
	/* The interpreter whose thread state this is (pythread.interp_id: 0
	 * the main one, -1 not known) and its name where one is readable
	 * (pywalker_interp_name()), else NULL. */
	int64_t interp_id;
	const char *interp_name;
	uint64_t interp_addr;    /* its PyInterpreterState, 0 for a thread without a thread state */
	struct stack_frame *frames; /* innermost first; owned by the collection */
	size_t nframes;
	struct pylocals *locals; /* one per Python frame when asked for; frames point here */
	size_t nlocals;
	char *error;             /* why the walk stopped early, or NULL */
	bool native_partial;     /* Python frames were placed without their C frame */
	char *native_error;      /* why there are no native frames, or NULL */
};

/* An asyncio task of the process, as process_stacks_add_tasks() read it. */
struct task_stack {
	const struct pytask *task;   /* in process_stacks.tasks */
	struct stack_frame *frames;  /* its coroutine chain, innermost first; owned */
	size_t nframes;
};

struct process_stacks {
	const char *source;      /* "core", "live", "snapshot" */
	struct target *target;   /* borrowed */
	struct pywalker *walker; /* borrowed */
	struct thread_stack *threads; /* crashed thread first, then oldest first */
	size_t nthreads, threads_cap;
	size_t errors;           /* threads whose walk failed part-way */
	struct pystate state;    /* of the first interpreter (the main one, unless there are subinterpreters) */
	enum native_mode native; /* set by process_stacks_add_native() */
	bool locals;             /* frames have their locals */
	double pause;            /* live, frozen: seconds the process was stopped, else 0 */
	/* Set by process_stacks_add_tasks(): */
	bool tasks_read;         /* tasks were asked for */
	struct pytask_list tasks;
	struct task_stack *task_stacks; /* one per task of TASKS, in its order */
	char *tasks_error;       /* why the task list could not be read, or NULL */
	/* Owned when the tasks were read ahead (task_rehearsal_adopt()):
	 * what their frames' strings belong to. */
	struct pywalker *task_walker;
	struct target *task_target;
};

/* What a collection reads besides the frames. */
struct stacks_options {
	bool locals;             /* each Python frame's locals (docs/locals.md) */
	bool tasks;              /* every asyncio task (docs/tasks.md) */
	/* With TASKS: a task reader of the walker, made before a freeze (it
	 * opens files); NULL: one is made when the tasks are read. */
	struct pytasks *task_reader;
};

/* Walk every thread of T with W (and read what OPTS asks for; NULL:
 * frames only). Frame strings stay valid while W lives. Errors inside one
 * thread are kept in that thread (and counted), not returned; the return
 * value is an error only when nothing could be read. */
int process_stacks_collect(struct target *t, struct pywalker *w, const char *source,
                           const struct stacks_options *opts, struct process_stacks *out);
void process_stacks_release(struct process_stacks *ps);
/* Name each Python thread's interpreter where the program running it gives
 * one (pywalker_interp_name()): reads through the target, so not in a
 * pause; a live process may be running. */
void process_stacks_name_interpreters(struct process_stacks *ps);
/* Open the running process PID, find its interpreter while it runs, then
 * read every thread's stack (and what OPTS asks for) in one freeze
 * (without FREEZE: while it runs)
 * with, when COPIES is not NULL, each thread's registers and STACK_BYTES of
 * its stack, and detach: the process runs on untraced when this returns,
 * whatever happened. The target is in the signal guard (which the caller
 * installed) while attached. *T, *W and PS are the caller's to free, also
 * on error. Errors: live_target_open()'s,
 * pywalker_new()'s, target_freeze()'s, -ERR_NOMEM. */
int process_stacks_collect_live(pid_t pid, bool freeze, const struct stacks_options *opts,
                                struct native_copies *copies, size_t stack_bytes, struct target **t,
                                struct pywalker **w, struct process_stacks *ps);

/* Read every asyncio task of PS's process (collected from a target that
 * has not changed since) with READER, a task reader of PS's walker (NULL:
 * one is made for this call). A task list that cannot be read (or a Python
 * without tasks) leaves PS->tasks empty and says why in tasks_error; the
 * threads stay. Errors: -ERR_NOMEM only. */
int process_stacks_add_tasks(struct process_stacks *ps, struct pytasks *reader);
/* Many tasks, few stopped milliseconds (live targets in freeze mode):
 * the tasks are read on the running process through a recording target
 * with a walker of its own, and the freeze only checks that every byte
 * that read saw is still the same; a walk of the same bytes gives the same
 * result, so it stands. Otherwise they are read again in the freeze. */
struct task_rehearsal {
	struct target *recorder;     /* over the live target */
	struct pywalker *walker;     /* reads through RECORDER */
	struct pytasks *reader;
	struct pytask_list tasks;
	bool read;                   /* TASKS holds a whole read */
};
/* Before the freeze, on LIVE (which must outlive R). A failure leaves R
 * unusable (task_rehearsal_run() then reads nothing), not an error, unless
 * -ERR_NOMEM. */
int task_rehearsal_open(struct task_rehearsal *r, struct target *live);
/* Read the tasks now, the process running. */
void task_rehearsal_run(struct task_rehearsal *r);
/* In the freeze: when the bytes read are unchanged, give PS the tasks (and
 * the recorder and walker their frames' strings belong to): *ADOPTED.
 * Their stack frames come after the freeze, from task_rehearsal_frames().
 * Errors: -ERR_NOMEM. */
int task_rehearsal_adopt(struct task_rehearsal *r, struct process_stacks *ps, bool *adopted);
/* The adopted tasks' stack frames (decoding positions takes time: not in
 * the freeze). Errors: -ERR_NOMEM. */
int task_rehearsal_frames(struct process_stacks *ps);
void task_rehearsal_release(struct task_rehearsal *r);
/* Python frames as a stack's frames: FRAMES (N, resolved) into OUT. */
void stack_frames_from_python(struct pywalker *w, const struct pyframe *frames, size_t n, struct stack_frame *out);

/* Unwind the threads of COPIES with U and merge their native frames into
 * PS's Python frames (MODE says which native frames stay). Threads of
 * COPIES without a Python thread state are added. Frame strings then also
 * need U to live. A thread that cannot be unwound keeps its Python frames
 * and says why in native_error. Errors: -ERR_NOMEM only. */
int process_stacks_add_native(struct process_stacks *ps, struct native_unwinder *u,
                              const struct native_copies *copies, enum native_mode mode);

/* process_stacks_add_native() with a new unwinder of PS's target and
 * walker in *U, which is the caller's to free either way (it may be NULL).
 * Errors: native_unwinder_new()'s, -ERR_NOMEM. */
int process_stacks_unwind(struct process_stacks *ps, const struct native_copies *copies, enum native_mode mode,
                          struct native_unwinder **u);

#endif
