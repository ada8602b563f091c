/* Base layer: error codes with their messages, error context, allocation
 * helpers, growable string buffers and arrays, sorted-range search, the
 * clock and percentiles. Everything above includes this; it includes
 * nothing of the project. It never prints. */
#ifndef PYCOREPROF_BASE_H
#define PYCOREPROF_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every error the project can return, with its message, defined once.
 * Functions return 0 (ERR_OK) or a negative -ERR_x; the context of the last
 * error of this thread (what object, which address) is kept by err_set(). */
#define PCP_ERRORS(X)                                                         \
	X(OK, "success")                                                      \
	X(NOMEM, "out of memory")                                             \
	X(IO, "input/output error")                                           \
	X(NOENT, "no such file")                                              \
	X(PERM, "permission denied")                                          \
	X(NOT_ELF, "not an ELF file")                                         \
	X(NOT_CORE, "not a core file")                                        \
	X(TRUNCATED, "file is truncated")                                     \
	X(CORRUPT, "data is corrupt or inconsistent")                         \
	X(UNMAPPED, "address is not in the target's memory")                  \
	X(NO_PROCESS, "no such process")                                      \
	X(PROCESS_GONE, "process exited")                                     \
	X(NOT_PYTHON, "no Python interpreter found")                          \
	X(UNSUPPORTED_PYTHON, "unsupported Python version")                   \
	X(NO_SYMBOL, "symbol not found")                                      \
	X(DECOMPRESS, "cannot decompress")                                    \
	X(USAGE, "invalid usage")                                             \
	X(LIMIT, "limit exceeded")                                            \
	X(INTERRUPTED, "interrupted")

enum err_code {
#define PCP_ERR_ENUM(name, msg) ERR_##name,
	PCP_ERRORS(PCP_ERR_ENUM)
#undef PCP_ERR_ENUM
	ERR__COUNT
};

/* The fixed message of CODE (positive or negative). */
const char *err_message(int code);
/* Record context for the current thread's last error and return -CODE, so
 * that a caller can write `return err_set(ERR_IO, "cannot read %s", path);`.
 * The formatted text should name the object: "cannot open core ./core". */
int err_set(enum err_code code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like err_set but with errno's text appended (": Permission denied"). */
int err_set_errno(enum err_code code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Add a hint (what the user can do) to the current error. */
void err_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The current thread's last error context ("" when none) and hint. */
const char *err_context(void);
const char *err_hint_text(void);
int err_last_code(void);
void err_clear(void);

/* Allocation that aborts the program on exhaustion is deliberately not
 * offered: callers return -ERR_NOMEM. These are thin wrappers that set
 * the error context. */
void *xcalloc(size_t n, size_t size);
void *xrealloc_array(void *ptr, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer, always NUL-terminated. A zero-initialised strbuf
 * is valid and empty. On allocation failure the buffer keeps what it had and
 * sets `failed`; callers check once at the end with strbuf_ok(). */
struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
	bool failed;
};
void strbuf_release(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
bool strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* Append S as a JSON string literal, quotes included. */
void strbuf_add_json_string(struct strbuf *sb, const char *s);
/* Append a Unicode code point as UTF-8 (invalid ones become U+FFFD). */
void strbuf_add_utf8(struct strbuf *sb, uint32_t code_point);
/* Detach the buffer: the caller owns the returned string (never NULL
 * unless allocation failed). */
char *strbuf_detach(struct strbuf *sb);
static inline bool strbuf_ok(const struct strbuf *sb) { return !sb->failed; }

/* array.c: make room for NEED elements of SIZE bytes in an array. ITEMS
 * points to the array's pointer (NULL at first), *CAP is its capacity in
 * elements; the capacity at least doubles, to NEED or more. Like realloc:
 * the elements kept are kept, new ones are not initialised. Returns 0, or
 * -ERR_NOMEM (also when the size overflows) with *ITEMS and *CAP unchanged.
 * ARRAY_GROW(ids, ids_cap, n + 1) does it for a typed array and returns 0
 * at once when there is room (it evaluates its arguments more than once). */
int array_grow(void *items, size_t *cap, size_t need, size_t size);
#define ARRAY_GROW(items, cap, need)                                          \
	((need) <= (cap) ? 0 : array_grow(&(items), &(cap), (need), sizeof(*(items))))

/* search.c: binary search in an array of COUNT structs of SIZE bytes,
 * sorted by the uint64_t field at byte OFFSET of each (ascending; equal
 * values allowed). Returns how many leading structs have that field <= KEY,
 * which is the index of the first one above KEY (COUNT when none is). */
size_t sorted_upper_bound(const void *items, size_t count, size_t size, size_t offset, uint64_t key);
/* The index of the struct whose [start, end) holds KEY, in an array sorted
 * by start whose ranges do not overlap (start and end: uint64_t fields at
 * START_OFFSET and END_OFFSET); SIZE_MAX when no range holds it. */
size_t sorted_range_find(const void *items, size_t count, size_t size, size_t start_offset, size_t end_offset,
                         uint64_t key);
/* The same for an array of structs by field name, checked to be uint64_t:
 * SORTED_UPPER_BOUND(t->mappings, t->nmappings, start, addr). */
#define SORTED_FIELD_OFFSET(items, field)                                     \
	__extension__({                                                       \
		_Static_assert(__builtin_types_compatible_p(__typeof__((items)->field), uint64_t), \
		               #field " is not a uint64_t");                   \
		offsetof(__typeof__(*(items)), field);                        \
	})
#define SORTED_UPPER_BOUND(items, count, field, key)                          \
	sorted_upper_bound((items), (count), sizeof(*(items)), SORTED_FIELD_OFFSET(items, field), (key))
#define SORTED_RANGE_FIND(items, count, start, end, key)                      \
	sorted_range_find((items), (count), sizeof(*(items)), SORTED_FIELD_OFFSET(items, start),   \
	                  SORTED_FIELD_OFFSET(items, end), (key))

/* clock.c: seconds since an arbitrary start, monotonic. */
double time_now(void);

/* stats.c: the P-th percentile (0..100) of N VALUES, nearest rank; it
 * sorts VALUES in place. 0 when N is 0. */
double percentile(double *values, size_t n, double p);

#endif
