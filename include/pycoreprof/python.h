/* Python layer: find the CPython interpreter in a target, list its thread
 * states and walk each thread's Python frames. Works on any target (core,
 * live, snapshot); reads memory only through the target interface. */
#ifndef PYCOREPROF_PYTHON_H
#define PYCOREPROF_PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pycoreprof/target.h"

struct pywalker;

/* What was found about the interpreter. Strings live as long as the walker. */
struct pyinfo {
	uint32_t version_hex;       /* PY_VERSION_HEX */
	char version[32];           /* "3.11.7" */
	const char *library;        /* path of the ELF object holding the runtime */
	/* The program embedding the interpreter, when the runtime is in a
	 * library loaded by a program that is no Python interpreter itself
	 * (apache2 with mod_wsgi, uwsgi's python3 plugin): its executable,
	 * owned by the target. Else NULL. */
	const char *host;
	/* Found from a snapshot's note, the binaries unusable here: why (the
	 * first file that could not be used), else NULL. */
	const char *binaries_unused;
	bool from_debug_offsets;    /* 3.13+: layout read from the target */
	uint64_t runtime_addr;      /* _PyRuntime (3.7+) or 0 */
	uint64_t interp_head_addr;  /* first PyInterpreterState */
};

/* A decoded code object, cached by address for the walker's lifetime. */
struct pycode {
	uint64_t addr;
	const char *name;           /* co_name, UTF-8 */
	const char *qualname;       /* co_qualname (3.11+), else == name */
	const char *filename;       /* co_filename, UTF-8 */
	int firstlineno;
	int first_traceable;        /* _co_firsttraceable (3.11+), else 0 */
	/* line table bytes, owned by the cache */
	const uint8_t *linetable;
	size_t linetable_size;
};

struct pyframe {
	uint64_t addr;              /* the frame itself (PyFrameObject or _PyInterpreterFrame) */
	uint64_t code_addr;         /* the code object, as the frame points to it */
	int byte_offset;            /* of the instruction in the code */
	bool is_entry;              /* first Python frame of an eval-loop activation (3.11+) */
	uint64_t entry_shim;        /* 3.12+, on entry frames: the shim frame the eval loop
	                             * keeps on its C stack below this frame, else 0 */
	uint64_t empty_shim;        /* 3.12+: the shim of an eval-loop call between this
	                             * frame and the one before it (innermost side) that
	                             * runs no Python frame of its own (it is popping its
	                             * last one), else 0 */
	const struct pycode *code;  /* decoded code object; NULL until resolved */
	int line;                   /* -1 when unknown or not resolved */
};

struct pythread {
	uint64_t tstate_addr;
	uint64_t thread_id;         /* threading.get_ident() */
	pid_t tid;                  /* OS thread id (ours: the target's), 0 if unknown */
	/* The OS thread id the process knows (in its own PID namespace, when
	 * that is not ours), 0 if unknown. */
	pid_t ns_tid;
	bool holds_gil;
	uint64_t frame_addr;        /* innermost frame, 0 when no Python code runs */
	/* 3.11/3.12 with pywalker_lazy_frames(): where FRAME_ADDR is read from
	 * when the stack is walked (the thread's C stack), else 0. */
	uint64_t cframe_addr;
	uint64_t interp_addr;
	/* The id of the interpreter it belongs to (0: the main one; each
	 * sub-interpreter has its own, as mod_wsgi's application groups), -1
	 * before 3.7, which has none. */
	int64_t interp_id;
};

/* Find the interpreter in T. Errors: -ERR_NOT_PYTHON (no libpython or
 * runtime symbols), -ERR_UNSUPPORTED_PYTHON (a version without layout),
 * -ERR_UNMAPPED / -ERR_CORRUPT (runtime unreadable). T must outlive the
 * walker. */
int pywalker_new(struct target *t, struct pywalker **out);
/* Leave each thread's innermost frame unread by pywalker_threads() where
 * reaching it costs a read of its own (3.11/3.12's cframe, on the thread's
 * C stack): pywalker_stack_raw() reads it. For samplers that walk only some
 * threads. */
void pywalker_lazy_frames(struct pywalker *w, bool lazy);
void pywalker_free(struct pywalker *w);
const struct pyinfo *pywalker_info(const struct pywalker *w);

/* Read the thread states of every interpreter now (for live targets, call
 * again per sample). *THREADS gets every thread state found and *COUNT how
 * many; the array is owned by the walker and valid until the next call. */
int pywalker_threads(struct pywalker *w, const struct pythread **threads, size_t *count);

/* Whether the thread at INDEX of the last list, TH as it was then, must be
 * read again (its stack will be read now). */
typedef bool (*pywalker_must_read)(void *ctx, size_t index, const struct pythread *th);

/* The thread list again, for a live target frozen since the last call of
 * pywalker_threads() ran on it running: the same list when no interpreter's
 * list can have changed, with the GIL holder and the threads MUST_READ asks
 * for read again and checked; otherwise (or on 2.7, whose thread states
 * have no back link) a whole pywalker_threads(). The other threads keep
 * what the last walk read: their stacks must not be read from them. Same
 * results and errors as pywalker_threads(). */
int pywalker_threads_again(struct pywalker *w, pywalker_must_read must_read, void *ctx,
                           const struct pythread **threads, size_t *count);

/* Walk TH's frames innermost first into FRAMES (capacity MAX). *COUNT gets
 * the number written. Returns 0, or -ERR_LIMIT when the stack was deeper
 * than MAX (the frames written are the innermost ones), or another error
 * when the chain broke (the frames before the break are kept). */
int pywalker_stack(struct pywalker *w, const struct pythread *th,
                   struct pyframe *frames, size_t max, size_t *count);

/* The two halves of pywalker_stack(), for live sampling: the raw walk
 * reads only the frames; the resolution reads each frame's code object,
 * decoding those not cached. Both must run while the frames are what was
 * walked (the process stopped): code objects are immutable but not
 * immortal, and once a frame returns its code may be freed and its memory
 * reused. Lines (pywalker_line()) need no reads and may come later.
 * pywalker_resolve() stops at a frame whose code object is not one and
 * returns the error; *COUNT gets how many frames were resolved. */
int pywalker_stack_raw(struct pywalker *w, const struct pythread *th,
                       struct pyframe *frames, size_t max, size_t *count);
int pywalker_resolve(struct pywalker *w, struct pyframe *frames, size_t n, size_t *count);
/* Like pywalker_resolve() without computing lines (line stays -1), for
 * callers that memoize them with pywalker_line(). */
int pywalker_resolve_codes(struct pywalker *w, struct pyframe *frames, size_t n, size_t *count);
/* The line of BYTE_OFFSET in CODE (-1 when it has none). */
int pywalker_line(const struct pywalker *w, const struct pycode *code, int byte_offset);

/* Where in its source an instruction is, as code.co_positions() tells it:
 * lines from 1, columns from 0 in UTF-8 bytes of the line, the end column
 * exclusive; -1 where not known. */
struct pyposition {
	int line, end_line, column, end_column;
};
/* The position of BYTE_OFFSET in CODE into *OUT. True when the version's
 * line table records positions (3.11+); before that only OUT->line is
 * set. No reads: the line table is in the code cache. */
bool pywalker_position(const struct pywalker *w, const struct pycode *code, int byte_offset, struct pyposition *out);

/* What an interpreter is doing besides running its threads. */
enum py_run_state {
	PY_RUN_UNKNOWN,             /* the version records nothing we can read (2.7) */
	PY_RUN_RUNNING,
	PY_RUN_FINALIZING,          /* Py_FinalizeEx() has begun (3.12+: from before the
	                             * exit functions; earlier: once they ran) */
};
struct pystate {
	enum py_run_state run;
	uint64_t finalizing_tstate; /* the thread state finalizing; 0 when none or not recorded */
	int gc_collecting;          /* 1 a collection is running, 0 not, -1 not known */
	uint64_t gc_frame;          /* 3.15+: the frame that started the collection, else 0 */
};
/* The state of interpreter INTERP (an interp_addr of a pythread) into *OUT,
 * read now: a few reads, through the target (so a snapshot keeps them).
 * What cannot be read is left unknown; the return value is an error only
 * for a bad argument. */
int pywalker_state(struct pywalker *w, uint64_t interp, struct pystate *out);
/* ---- Locals (locals.c and repr*.c; docs/locals.md). What a frame's
 * fast locals, cells and free variables hold, as bounded reprs read from
 * outside. */

/* Limits of a repr: containers nested deeper than MAX_DEPTH show their
 * length alone; a container shows MAX_ITEMS items at most, and none more
 * once its local's repr is MAX_LENGTH bytes long; a str shows MAX_CHARS
 * characters (bytes: bytes; int: digits). A frame's values read
 * FRAME_BUDGET bytes at most; a frame shows MAX_NAMES locals at most. */
enum {
	PYREPR_MAX_DEPTH = 3,
	PYREPR_MAX_ITEMS = 8,
	PYREPR_MAX_CHARS = 100,
	PYREPR_MAX_LENGTH = 400,
	PYLOCALS_FRAME_BUDGET = 1 << 16,
	PYLOCALS_MAX_NAMES = 1024,
};

enum pylocal_kind { PYLOCAL_ARGUMENT, PYLOCAL_LOCAL, PYLOCAL_CELL, PYLOCAL_FREE };
/* "argument", "local", "cell", "free". */
const char *pylocal_kind_name(enum pylocal_kind kind);

struct pylocal {
	const char *name;
	enum pylocal_kind kind;
	const char *type;           /* "list", "app.Parser"; NULL when the value could not be read */
	const char *repr;           /* the bounded repr, or a marker in <> saying why there is none */
};

/* A frame's bound locals in the code object's order (arguments, other
 * locals, cells, free variables); unbound ones are left out. Every
 * string lives in TEXT, owned with ITEMS by the struct. */
struct pylocals {
	struct pylocal *items;
	size_t count;
	const char *error;          /* why the frame's names could not be read, else NULL */
	bool budget_spent;          /* values past FRAME_BUDGET bytes read are markers */
	bool names_cut;             /* more than MAX_NAMES locals: the rest left out */
	char *text;
};

/* Reads locals for one collection: what it learns of code objects and
 * types is kept until it is freed. Reads happen in pylocals_read() only,
 * which must run while the frames are what was walked (a stopped process,
 * a core). */
struct pylocals_reader;
int pylocals_reader_new(struct pywalker *w, struct pylocals_reader **out);
void pylocals_reader_free(struct pylocals_reader *r);
/* The locals of FRAME, walked by pywalker_stack() (resolved) from the
 * walker of R, into OUT (released by the caller, also on error). A frame
 * whose names cannot be read gets ERROR set; a value that cannot be read
 * a marker. Errors: -ERR_NOMEM only. */
int pylocals_read(struct pylocals_reader *r, const struct pyframe *frame, struct pylocals *out);
void pylocals_release(struct pylocals *l);
/* A Python thread's name, as the threading module's registry has it. */
#define PY_THREAD_NAME_MAX 256      /* bytes with the NUL; longer names are cut */
struct pythread_name {
	uint64_t interp_addr;       /* the interpreter whose threading module names it */
	uint64_t thread_id;         /* threading.get_ident() */
	pid_t tid;                  /* its OS thread as the registry had it, 0 if unknown */
	char name[PY_THREAD_NAME_MAX]; /* UTF-8 */
};

/* Read the names of the threads in each interpreter's threading._active
 * (ident -> Thread, its name), without running code in the target: sys.modules,
 * the module's dict, the registry and each Thread's attributes, every read
 * bounded. For the interpreters of the last pywalker_threads(). *NAMES is
 * owned by the walker, valid until the next call. A thread whose entry cannot
 * be read has no name; an interpreter without threading imported names none.
 * Returns 0, or an error (-ERR_CORRUPT, the target's read errors) when no name
 * could be read because of it. */
int pywalker_thread_names(struct pywalker *w, const struct pythread_name **names, size_t *count);
/* The name of thread THREAD_ID of interpreter INTERP_ADDR in the last
 * pywalker_thread_names(), or NULL; with TID (0: any), only when the
 * registry's thread is that OS thread (a thread that ended may leave its
 * ident to a new one). Valid until the next pywalker_thread_names(). */
const char *pywalker_thread_name(const struct pywalker *w, uint64_t interp_addr, uint64_t thread_id, pid_t tid);

/* An exception a thread has in flight, read from the target. */
struct pytb_frame {
	const struct pycode *code;  /* the walker's, valid while it lives */
	int line;                   /* -1 when unknown */
	bool has_position;          /* 3.11+: POSITION holds the columns */
	struct pyposition position;
};
struct pyexc {
	uint64_t addr;              /* the exception object (a class when never instantiated) */
	char *type;                 /* its type's tp_name */
	char *message;              /* args[0] when a str (bounded), else NULL */
	struct pytb_frame *traceback; /* innermost first */
	size_t ntraceback;
	bool traceback_cut;         /* more entries than were read */
	struct pyexc *cause;        /* __cause__, __context__ (3.x); NULL when none */
	struct pyexc *context;
	bool suppress_context;      /* __suppress_context__ */
	char *error;                /* what could not be read about it, or NULL */
};
/* The exceptions in flight in thread TH: the one being raised (3.12+
 * current_exception, before the curexc_ triple) into *RAISING and the
 * innermost one being handled (the exc_info stack; 2.7 and 3.6 its
 * exc_ fields) into *HANDLING, each NULL when there is none, each with its
 * traceback and its __cause__/__context__ chain (bounded). The caller
 * frees them with pyexc_free(). What cannot be read leaves the exception
 * out or says so in its error; the return value is -ERR_NOMEM or 0. */
int pywalker_exceptions(struct pywalker *w, const struct pythread *th, struct pyexc **raising,
                        struct pyexc **handling);
/* Free E and its chain; NULL is fine. */
void pyexc_free(struct pyexc *e);

/* The name the program running interpreter INTERP (a pythread's
 * interp_addr, ID its interp_id) gives it, where one is readable: mod_wsgi's
 * application group ("" for the main interpreter, mod_wsgi's %{GLOBAL}).
 * NULL when none is found. The first call for an interpreter reads its
 * sys.modules through the target (hundreds of reads: not in a pause); the
 * answer is remembered (a miss is tried again on two more calls). The
 * string lives as long as the walker. */
const char *pywalker_interp_name(struct pywalker *w, uint64_t interp, int64_t id);

/* Mark a thread idle from the frame-name heuristic (lock waits, select). */
bool pyframe_looks_idle(const struct pyframe *innermost);

/* asyncio tasks (tasks*.c, docs/tasks.md): every event loop's tasks that are
 * not done, read without running code in the target, with each one's await
 * chain and who awaits whom. Python 3.7 and newer. */
enum pytask_state { PYTASK_PENDING, PYTASK_RUNNING, PYTASK_DONE, PYTASK_CANCELLED };

struct pytask {
	uint64_t addr;              /* the task object: its id */
	char *name;                 /* get_name(); NULL before 3.8 */
	enum pytask_state state;
	uint64_t loop;              /* its event loop, 0 when unknown */
	pid_t tid;                  /* the thread running that loop, 0 when none is */
	/* Its coroutine chain, innermost first, resolved (code and line): for
	 * a suspended task from each awaitable to the one it awaits; for the
	 * running task the innermost frames of its thread's stack, up to its
	 * coroutine's. Owned by the list. */
	struct pyframe *frames;
	size_t nframes;
	uint64_t *awaiting;         /* tasks of the list it waits for */
	size_t nawaiting, awaiting_cap;
	uint64_t *awaited_by;       /* tasks of the list waiting for it */
	size_t nawaited_by, awaited_by_cap;
	bool in_cycle;              /* on a cycle of tasks awaiting each other */
	char *error;                /* its chain or edges were read in part: why, else NULL */
};

/* Tasks awaiting each other in a ring, each awaiting the next. */
struct pytask_cycle {
	uint64_t *tasks;
	size_t count;
};

struct pytask_list {
	struct pytask *tasks;       /* by loop, then as the loop's sets hold them */
	size_t count, cap;
	struct pytask_cycle *cycles;
	size_t ncycles, cycles_cap;
	size_t errors;              /* tasks read in part */
};

struct pytasks;

/* A task reader for W's interpreter (which it must not outlive). Finds
 * what it can without reading much (3.14+: the offsets the _asyncio module
 * publishes). Errors: -ERR_UNSUPPORTED_PYTHON before 3.7, -ERR_NOMEM. */
int pytasks_new(struct pywalker *w, struct pytasks **out);
void pytasks_free(struct pytasks *r);
/* Read every task of the interpreters of THREADS (the last
 * pywalker_threads() list) into OUT, which it initialises. A process that
 * never imported asyncio has none. A task whose chain or edges break keeps
 * what was read, with its error; an error is returned (with context) only
 * when the task list itself cannot be read, and OUT then holds nothing. */
int pytasks_read(struct pytasks *r, const struct pythread *threads, size_t nthreads, struct pytask_list *out);
void pytask_list_release(struct pytask_list *list);
/* The name of STATE: "pending", "running", "done", "cancelled". */
const char *pytask_state_name(enum pytask_state state);

/* Sampling through tasks (record --async): for a thread running a task,
 * the task and those awaiting it, level by level. Level 0 is the running
 * task, whose frames are the thread's own; each further level awaits the
 * one before (the first awaiter found, when several), with its suspended
 * await chain. */
struct pytask_level {
	uint64_t task;
	char name[64];              /* get_name(), cut; "" when it has none */
	size_t first, count;        /* its frames in the chain buffer (level 0: none) */
};
enum { PYTASK_MAX_LEVELS = 32 };
/* Read which tasks run now; the target must not change until the last
 * pytasks_sample_thread() of this sample. Cheap when asyncio is not
 * imported (looked for again at most once a second). */
int pytasks_sample_begin(struct pytasks *r, const struct pythread *threads, size_t nthreads);
/* For thread TH, whose frames (innermost first, read by
 * pywalker_stack_raw()) are FRAMES: *KEEP gets how many of them belong to
 * the task it runs (up to the task's coroutine's), 0 when it runs none;
 * LEVELS (PYTASK_MAX_LEVELS) and CHAIN (CHAIN_MAX frames, codes resolved)
 * get the tasks awaiting it. Allocates nothing once warm. */
int pytasks_sample_thread(struct pytasks *r, const struct pythread *th, const struct pyframe *frames, size_t nframes,
                          size_t *keep, struct pytask_level *levels, size_t *nlevels, struct pyframe *chain,
                          size_t chain_max, size_t *nchain);

#endif
