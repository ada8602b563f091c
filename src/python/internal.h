/* Python layer, internal: the walker's state shared by discovery, string
 * decoding, line tables, the code cache and the frame walk. Not included
 * outside src/python/. */
#ifndef PYCOREPROF_PYTHON_INTERNAL_H
#define PYCOREPROF_PYTHON_INTERNAL_H

#include "pycoreprof/base.h"
#include "pycoreprof/python.h"
#include "python/layout.h"

/* Bounds that keep a corrupt or torn target from making us loop or
 * allocate without limit. */
enum {
	PY_MAX_INTERPRETERS = 64,
	PY_MAX_THREADS = 4096,
	PY_MAX_STRING_CHARS = 4096,
	PY_MAX_LINETABLE = 1 << 20,
	PY_NAMES_INTERPS = 4,         /* interpreters whose _active dict is remembered */
};

/* How line numbers are encoded, by version. */
enum py_linetable_format {
	LINETABLE_LNOTAB_UNSIGNED,  /* 2.7 co_lnotab */
	LINETABLE_LNOTAB_SIGNED,    /* 3.6 - 3.9 co_lnotab */
	LINETABLE_310,              /* 3.10 co_linetable (PEP 626) */
	LINETABLE_LOCATIONS,        /* 3.11+ location table */
};

struct code_cache_entry {
	struct pycode code;
	/* Cheap identity check against address reuse in live targets. */
	uint64_t name_ptr, filename_ptr;
	bool used;
};

/* Before 3.11: the OS thread of a pthread_t, as found before. */
struct pthread_tid_slot {
	uint64_t pthread_id;          /* the key */
	pid_t tid, ns_tid;            /* as struct pythread has them */
};

struct pywalker {
	struct target *target;
	struct pyinfo info;
	char *library_path;
	bool lazy_frames;            /* pywalker_lazy_frames() */
	char *binaries_unused;       /* owns info.binaries_unused */
	struct py_layout layout;     /* effective layout (table + debug offsets) */
	unsigned major, minor;
	enum py_linetable_format linetable_format;
	bool py2_strings;
	bool lasti_is_index;         /* 3.10: f_lasti counts code units */
	bool executable_tagged;      /* 3.14+: f_executable is a _PyStackRef */
	int owner_generator;         /* FRAME_OWNED_BY_GENERATOR, -1 before 3.11 */
	int owner_first_skipped;     /* owners >= this are not Python frames; -1: none */

	/* GIL discovery */
	uint64_t tstate_current_addr; /* 2.7 / 3.6 _PyThreadState_Current, 3.7-3.11 in runtime */
	uint64_t gil_locked_addr;     /* 3.6 statics: gil_locked */
	uint64_t gil_holder_addr;     /* 3.6 statics: gil_last_holder */
	/* Interpreter state where statics hold it (pywalker_state()) */
	uint64_t finalizing_addr;     /* 3.6 _Py_Finalizing */
	uint64_t gc_collecting_addr;  /* 2.7 / 3.6 gcmodule.c's static `collecting` */

	/* tid of a thread from its pthread_t when registers do not tell */
	int pthread_tid_offset;       /* -1 until found */
	struct hashtab pthread_tids;  /* of pthread_tid_slot: found before */

	uint64_t code_type_addr;      /* verified PyCode_Type, 0 until seen */
	uint64_t traceback_type_addr; /* verified PyTraceBack_Type, 0 until seen */

	struct hashtab cache;                /* code address -> code_cache_entry */
	struct code_retired *retired;        /* replaced entries, kept alive */

	struct pythread *threads;
	size_t threads_cap;
	/* The last whole walk of pywalker_threads(), which
	 * pywalker_threads_again() checks and partly reads again: each
	 * interpreter in order and the first thread state of its list. */
	bool list_whole;
	size_t list_count, list_interps;
	uint64_t list_interp[PY_MAX_INTERPRETERS], list_head[PY_MAX_INTERPRETERS];
	struct interp_name *interp_names; /* interp_name.c: names found, by interpreter */
	size_t ninterp_names, interp_names_cap;
	uint8_t *scratch;             /* reusable read buffer */
	size_t scratch_cap;

	/* Attributes (attrs.c) and thread names (thread_names.c). */
	bool dict_or_values_tagged;   /* 3.12: an instance's dict word may hold its values */
	const char *thread_name_attr; /* the Thread attribute holding its name */
	struct pythread_name *names;  /* the last pywalker_thread_names(), sorted */
	size_t nnames, names_cap;
	uint64_t names_interp[PY_NAMES_INTERPS], names_active[PY_NAMES_INTERPS];
	size_t names_next;
};

/* walk.c: the GIL holder of INTERP (0: none); bytes of a thread state to
 * read; THREAD's fields from its thread state read into BUF. */
uint64_t py_gil_holder(struct pywalker *w, uint64_t interp);
int32_t py_tstate_read_size(const struct py_layout *L);
void py_thread_from_tstate(struct pywalker *w, const uint8_t *buf, struct pythread *th);

/* interp_name.c */
void py_interp_names_free(struct pywalker *w);

/* discover.c */
int py_discover(struct pywalker *w);

/* strings.c: decode a str (or 2.7 str) object at ADDR as UTF-8 into SB. */
int py_read_string(struct pywalker *w, uint64_t addr, struct strbuf *sb);
/* The same, at most MAX_CHARS characters. */
int py_read_string_max(struct pywalker *w, uint64_t addr, size_t max_chars, struct strbuf *sb);
/* bytes object contents into a new buffer the caller frees. */
int py_read_bytes(struct pywalker *w, uint64_t addr, uint8_t **data, size_t *size);

/* linetable.c: the line of byte offset ADDRQ in a code object. */
int py_line_lnotab(const uint8_t *table, size_t size, int firstlineno, int addrq, bool signed_deltas);
int py_line_310(const uint8_t *table, size_t size, int firstlineno, int addrq);
int py_line_locations(const uint8_t *table, size_t size, int firstlineno, int addrq);
int py_code_line(const struct pywalker *w, const struct pycode *code, int byte_offset);
/* 3.11+: line, end line and columns of byte offset ADDRQ, -1 where the
 * table has none. */
void py_position_locations(const uint8_t *table, size_t size, int firstlineno, int addrq,
                           struct pyposition *out);
bool py_code_position(const struct pywalker *w, const struct pycode *code, int byte_offset, struct pyposition *out);

/* walk.c: the decoded code object at ADDR, checked to be one. */
int py_code_at(struct pywalker *w, uint64_t addr, const struct pycode **out);

/* code_cache.c: the decoded code object at ADDR (HEADER holds its first
 * layout.code_size bytes, already read). */
int py_code_get(struct pywalker *w, uint64_t addr, const uint8_t *header, const struct pycode **out);
void py_code_cache_free(struct pywalker *w);

static inline uint64_t load_u64(const uint8_t *buf, int32_t off)
{
	uint64_t v;
	__builtin_memcpy(&v, buf + off, sizeof(v));
	return v;
}

static inline int32_t load_i32(const uint8_t *buf, int32_t off)
{
	int32_t v;
	__builtin_memcpy(&v, buf + off, sizeof(v));
	return v;
}

/* Grow w->scratch to at least SIZE bytes. */
int py_scratch(struct pywalker *w, size_t size, uint8_t **out);

#endif
