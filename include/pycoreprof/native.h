/* Native unwinder: every thread's C stack through libdwfl, with memory and
 * registers read through the target interface (or from a copy taken while a
 * live target was stopped), symbolized with per-module caches, and merged
 * with the thread's Python frames. Never prints. */
#ifndef PYCOREPROF_NATIVE_H
#define PYCOREPROF_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pycoreprof/python.h"
#include "pycoreprof/target.h"

/* How native frames are shown. */
enum native_mode {
	NATIVE_OFF,
	NATIVE_MERGED,           /* --native: interpreter call plumbing hidden */
	NATIVE_ALL,              /* --native-all: every native frame */
};

/* What a native frame is to the merge. */
enum native_class {
	NATIVE_OTHER,            /* any code: shown */
	NATIVE_EVAL,             /* CPython's evaluation loop: replaced by Python frames */
	NATIVE_PLUMBING,         /* CPython's own calling machinery: hidden by --native */
	NATIVE_START,            /* a process's or thread's start in libc (_start,
	                          * start_thread), or main() */
	NATIVE_INTERP_START,     /* CPython starting the program or a thread
	                          * (Py_BytesMain ... run_eval_code_obj, t_bootstrap) */
};

/* Default bytes of each thread's stack copied per sample (from the stack
 * pointer up). */
#define NATIVE_STACK_BYTES_DEFAULT (64u * 1024)

/* One thread's registers and the top of its stack. When READ_THROUGH is
 * set, memory outside the copy is read from the target (cores, or a target
 * still stopped); otherwise such reads fail and the unwind ends there. */
struct native_thread_copy {
	pid_t tid;
	uint64_t regs[TREG__COUNT];
	uint64_t stack_start;    /* target address of stack[0] */
	size_t stack_len;        /* bytes valid in stack */
	size_t stack_cap;
	uint8_t *stack;          /* owned by the copy set */
	bool read_through;
};

/* Copies of several threads, reused from one sample to the next: buffers
 * only grow, so a steady-state sample allocates nothing. */
struct native_copies {
	struct native_thread_copy *threads;
	size_t n, cap;
};

/* Append a copy of TH (which must have registers): up to BYTES of its stack
 * from the stack pointer, never past the end of the stack's mapping. With
 * BYTES == 0 nothing is copied and reads go through to the target. Errors:
 * -ERR_NOMEM; an unreadable stack is not an error (the copy is empty and the
 * unwind ends early). */
int native_copy_thread(struct native_copies *c, struct target *t, const struct target_thread *th,
                       size_t bytes);
/* native_copy_thread() for every thread of T that has registers. */
int native_copy_threads(struct native_copies *c, struct target *t, size_t bytes);
void native_copies_clear(struct native_copies *c);
void native_copies_release(struct native_copies *c);

/* Where a native frame's function is in the process, for profiles that
 * keep addresses for symbolizing later (pprof): its first address and the
 * file mapping that holds it. */
struct native_site {
	uint64_t function;       /* the function's first address; the frame's own when unknown */
	uint64_t map_start, map_end; /* the mapping holding FUNCTION; both 0 when none */
	uint64_t map_offset;     /* the file offset at MAP_START */
	const char *build_id;    /* the file's GNU build-id in hex, NULL when none; the unwinder's */
};

/* A symbolized native frame. Strings belong to the unwinder and live as
 * long as it. */
struct native_frame {
	uint64_t address;        /* the program counter (a return address for callers) */
	uint64_t offset;         /* ADDRESS relative to its module's load base */
	const char *library;     /* path of the module as the target maps it, NULL if none */
	/* The demangled symbol; without one, "library+0xOFFSET" (the basename,
	 * and the function's first address in the file's own addresses from
	 * its unwind table, else this address's); NULL outside any module. */
	const char *function;
	bool named;              /* FUNCTION is a symbol's name */
	struct native_site site;
	const char *file;        /* source file from DWARF, NULL when unknown */
	int line;                /* -1 when unknown */
	enum native_class cls;
	bool runtime;            /* in the interpreter's module or the C library */
};

struct native_unwinder;

/* Report every ELF file mapped in T (opened with the target's own file
 * resolution, so cores find files by build-id and search path) to a new
 * libdwfl session. PY (may be NULL) tells which module is the interpreter
 * and which evaluation function its version uses. T and PY must outlive the
 * unwinder. Errors: -ERR_NOMEM, -ERR_NOENT when no mapped file could be
 * opened. */
int native_unwinder_new(struct target *t, const struct pyinfo *py, struct native_unwinder **out);
void native_unwinder_free(struct native_unwinder *u);

/* Unwind the thread of COPY: program counters innermost first into PCS
 * (capacity MAX); ACTIVATION[i] tells whether PCS[i] is the exact
 * instruction (the innermost frame, or a frame interrupted by a signal)
 * rather than a return address; SPS[i] is the stack pointer in that frame,
 * so frame i's own stack bytes are [SPS[i], SPS[i+1]). *COMPLETE tells
 * whether the last frame is the stack's outermost (its CFI says there is
 * no caller, or the return address is 0), not one where the unwind failed
 * or MAX was reached. Returns 0, or a negative error when not even the
 * first frame is known; an unwind that stops early is not an error. */
int native_unwind(struct native_unwinder *u, const struct native_thread_copy *copy, uint64_t *pcs,
                  bool *activation, uint64_t *sps, size_t max, size_t *count, bool *complete);

/* Symbolize PC. With WANT_LINE the source file and line are looked up too
 * (slower on first sight of each address; cached after). Cached for the
 * unwinder's lifetime. Never fails: unknown parts are NULL / -1. */
void native_symbolize(struct native_unwinder *u, uint64_t pc, bool activation, bool want_line,
                      struct native_frame *out);

/* The full demangled form of an Itanium C++ ABI name ("_Z..."), as
 * c++filt prints it (parameters, template arguments, qualifiers): a new
 * string the caller frees, or NULL when NAME is not one or uses a
 * construct this reader does not know (mostly expressions). */
char *demangle_full(const char *name);
/* The qualified function name alone ("ns::sort<...>"), for names
 * demangle_full() refuses; NULL when NAME is not understood either. */
char *native_demangle(const char *name);

/* One entry of a merged stack: a Python frame or a native frame, by index
 * into the arrays given to native_merge(). */
struct merged_frame {
	bool python;
	uint32_t index;
};

/* A thread's two halves, innermost first, as native_merge() reads them. */
struct merge_input {
	enum native_class *classes; /* per native frame; updated in place */
	const uint64_t *sps;        /* per native frame, from native_unwind() */
	const bool *runtime;        /* per native frame: native_frame.runtime; may be NULL */
	size_t nnative;
	bool complete;              /* the native frames reach the stack's outermost */
	const bool *py_entry;       /* per Python frame: pyframe.is_entry */
	const uint64_t *py_shim;    /* per Python frame: pyframe.entry_shim */
	const uint64_t *py_empty;   /* per Python frame: pyframe.empty_shim (may be NULL) */
	size_t npy;
	bool one_per_eval;          /* CPython <= 3.10: one evaluation call per Python frame */
	enum native_mode mode;
};

/* Merge a thread's native and Python frames into OUT (room for nnative +
 * npy entries); returns how many were written. Each evaluation-loop frame
 * takes, innermost first, the Python frames that call ran: one frame up to
 * 3.10, else the run of frames up to the next entry frame. A native frame
 * whose stack holds an entry frame's shim (3.12+) is an evaluation frame
 * whatever its symbol says, so stripped interpreters merge too. The
 * evaluation frame itself stays only with NATIVE_ALL (after its Python
 * frames), as does plumbing. So do the start-up frames at the root of the
 * stack: the outermost run of NATIVE_START, NATIVE_INTERP_START and
 * plumbing when it holds the interpreter's start-up; and, in a COMPLETE
 * stack, the outermost run of frames of the interpreter's module or the C
 * library (RUNTIME) or of those classes, when the outermost evaluation
 * call comes right after it (the start-up of a stripped interpreter, whose
 * functions have no names). Start frames anywhere else, or a run without
 * the interpreter's (a thread a C library started, an embedding program's
 * main), stay. Python frames that found no evaluation frame go outermost
 * and set *PARTIAL, as does an evaluation frame without Python frames. */
size_t native_merge(const struct merge_input *in, struct merged_frame *out, bool *partial);

#endif
