/* Base layer: error codes with their messages, error context, allocation
 * helpers, growable string buffers and arrays, a hash table, sorted-range
 * search, the clock and percentiles. Everything above includes this; it
 * includes nothing of the project. It never prints. */
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
/* The length of the valid UTF-8 character at TEXT (1 for ASCII, NUL
 * included), or 0 where TEXT holds no valid one (a stray byte, an
 * overlong form, a surrogate, a sequence cut short). */
size_t utf8_sequence(const char *text);
/* Append S as a JSON string literal, quotes included. A byte that is not
 * part of valid UTF-8 becomes "\udcXX" (XX its value, 80 to ff), as
 * Python's "surrogateescape" decodes it: valid JSON that reads back, here
 * and in Python, as exactly the bytes written. */
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
/* Append one zeroed element to the array at *ITEMS of *N elements (growing
 * it as array_grow does) and count it: the new element, or NULL with
 * everything unchanged when out of memory. ARRAY_PUSH(procs, nprocs, cap)
 * for a typed array. */
void *array_push(void *items, size_t *n, size_t *cap, size_t size);
#define ARRAY_PUSH(items, n, cap)                                             \
	((__typeof__(items))array_push(&(items), &(n), &(cap), sizeof(*(items))))

/* hashtab.c: one hash for every table. hash_u64 mixes a 64-bit integer
 * (a bijection: 0 only for 0); hash_pair and hash_bytes (LEN bytes at DATA,
 * mixed into SEED, which may be another hash) are never 0, so they can key a
 * hashtab as they are. */
static inline uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}
static inline uint64_t hash_pair(uint64_t a, uint64_t b)
{
	uint64_t h = hash_u64(hash_u64(a) + b);
	return h ? h : 1;
}
uint64_t hash_bytes(uint64_t seed, const void *data, size_t len);

/* An open-addressing hash table with linear probing, at most half full.
 * Slots are the caller's struct of SLOT_SIZE bytes whose first member is a
 * uint64_t, the key; key 0 marks an empty slot, so keys are never 0. A key
 * is either the whole key (an address: hashtab_find, hashtab_slot_for) or a
 * hash of a longer one (hash_bytes, hash_pair): then entries may share it,
 * and hashtab_next() hands out each for the caller to compare.
 * A zeroed hashtab is empty and valid. Lookups allocate nothing; slot
 * pointers stay valid until the table grows. The table owns its slots,
 * never what they point to. */
struct hashtab {
	void *slots;
	size_t slot_size, cap, count;  /* cap: 0 or a power of two */
};
/* Room for COUNT entries in all (call before inserting, with the count the
 * table will have); the table's slots move when it grows. 0 or -ERR_NOMEM,
 * the table unchanged on failure. */
int hashtab_grow(struct hashtab *t, size_t count, size_t slot_size);
static inline int hashtab_reserve(struct hashtab *t, size_t count, size_t slot_size)
{
	return count <= t->cap / 2 ? 0 : hashtab_grow(t, count, slot_size);
}
/* Free the slots; the table is empty again. */
void hashtab_release(struct hashtab *t);
/* Slot INDEX (< cap), for walking every slot: those whose key is 0 are empty. */
static inline void *hashtab_slot(const struct hashtab *t, size_t index)
{
	return (char *)t->slots + index * t->slot_size;
}
static inline uint64_t hashtab_key_at(const struct hashtab *t, size_t index)
{
	return *(const uint64_t *)hashtab_slot(t, index);
}
/* The slot holding KEY, or NULL. */
static inline void *hashtab_find(const struct hashtab *t, uint64_t key)
{
	if (!t->cap)
		return NULL;
	for (size_t i = hash_u64(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		uint64_t held = hashtab_key_at(t, i);
		if (!held)
			return NULL;
		if (held == key)
			return hashtab_slot(t, i);
	}
}
/* The slot holding KEY, or the empty slot where it belongs (fill it with
 * hashtab_claim). The table must have room (hashtab_reserve). */
static inline void *hashtab_slot_for(const struct hashtab *t, uint64_t key)
{
	size_t i = hash_u64(key) & (t->cap - 1);
	while (hashtab_key_at(t, i) && hashtab_key_at(t, i) != key)
		i = (i + 1) & (t->cap - 1);
	return hashtab_slot(t, i);
}
/* Entries sharing a hashed KEY, one by one:
 *     size_t pos = hashtab_start(t, key);
 *     while ((slot = hashtab_next(t, key, &pos))) compare, return if equal;
 * after which hashtab_slot(t, pos) is the empty slot where a new entry with
 * KEY belongs. The table must have room (hashtab_reserve). */
static inline size_t hashtab_start(const struct hashtab *t, uint64_t key)
{
	return hash_u64(key) & (t->cap - 1);
}
static inline void *hashtab_next(const struct hashtab *t, uint64_t key, size_t *pos)
{
	for (;; *pos = (*pos + 1) & (t->cap - 1)) {
		uint64_t held = hashtab_key_at(t, *pos);
		if (!held)
			return NULL;
		if (held == key) {
			void *slot = hashtab_slot(t, *pos);
			*pos = (*pos + 1) & (t->cap - 1);
			return slot;
		}
	}
}
/* Give the empty SLOT (from hashtab_slot_for, or hashtab_slot at the end of
 * hashtab_next) to KEY; the caller fills the rest of it. */
static inline void hashtab_claim(struct hashtab *t, void *slot, uint64_t key)
{
	*(uint64_t *)slot = key;
	t->count++;
}

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
/* clock.c: wall-clock time (CLOCK_REALTIME), nanoseconds since the epoch:
 * when something happened, to be compared across processes and machines. */
uint64_t time_realtime_ns(void);

/* stats.c: the P-th percentile (0..100) of N VALUES, nearest rank; it
 * sorts VALUES in place. 0 when N is 0. */
double percentile(double *values, size_t n, double p);

#endif
