/* Aggregation layer: frames interned to ids, stacks interned as paths in a
 * trie, samples as counts on trie nodes. Writers read it; the sampling
 * commands and `report` fill it. Owns copies of every string it holds. */
#ifndef PYCOREPROF_AGG_H
#define PYCOREPROF_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pycoreprof/base.h"

enum agg_frame_kind { AGG_PYTHON, AGG_NATIVE, AGG_THREAD, AGG_PROCESS, AGG_ERROR };

/* Where a Python frame's module came from, known when its full path was
 * (file names are shortened, which hides it). */
enum agg_origin { AGG_FROM_ELSEWHERE, AGG_FROM_STDLIB, AGG_FROM_PACKAGE };

/* A file mapping that native frames' code is in, for writers that keep
 * addresses (pprof), one per (path, start). */
struct agg_mapping {
	char *path;          /* the file as the process mapped it */
	char *build_id;      /* hex, NULL when unknown */
	uint64_t start, limit, file_offset;
};

/* Where a native frame's code is: an address in the process and the
 * mapping that holds it, as native_frame_site() of the collect layer gives
 * them. Strings are copied. */
struct agg_native_site {
	uint64_t address;
	const char *path;    /* NULL: no mapping known */
	const char *build_id;
	uint64_t start, limit, file_offset;
};

struct agg_frame {
	char *name;          /* qualname, or a root label such as `thread 42 "main"` */
	char *file;          /* NULL for synthetic frames */
	int line;            /* -1 when unknown or aggregated by function */
	enum agg_frame_kind kind;
	/* Not part of the frame's identity: */
	enum agg_origin origin;
	/* Native frames, from the first site seen: its address (0 when none)
	 * and mapping (index + 1 into the aggregate's mappings; 0 when none);
	 * NAMED when the name is a symbol's, not LIBRARY+0xOFFSET. */
	uint64_t address;
	uint32_t mapping;
	bool named;
};

struct agg_node {
	uint32_t parent;     /* node id; the root is node 0 and its own parent */
	uint32_t frame;      /* frame id; unused for the root */
	uint64_t self;       /* samples ending here */
	uint64_t total;      /* samples through here */
	uint32_t first_child, next_sibling; /* 0 = none */
	uint32_t nchildren;
	uint64_t waiting;    /* of SELF, samples of a thread that was waiting (--idle) */
};

struct aggregate {
	struct agg_frame *frames;
	size_t nframes, frames_cap;
	struct agg_node *nodes;
	size_t nnodes, nodes_cap;
	struct agg_mapping *mappings;
	size_t nmappings, mappings_cap;
	uint64_t samples;
	/* When the samples were taken, CLOCK_REALTIME ns, first and last; 0
	 * when unknown. Merged as a union, kept by the JSON profile, so that a
	 * profile of profiles spans what they spanned. */
	uint64_t first_ns, last_ns;
	/* When each stack was seen (timeline.c); NULL unless asked for with
	 * agg_timeline_enable(), so that counting alone pays nothing for it. */
	struct agg_timeline *timeline;
	/* hash tables: frame lookup and (parent, frame) -> child for the
	 * children of wide nodes (the others are found among their siblings) */
	struct hashtab frame_index, child_index;
	/* Told of every count added (agg_add_counts() and the functions built
	 * on it): the stack's node, COUNT and WAITING; an error it returns is
	 * the add's. NULL: nobody is. */
	int (*added)(void *ctx, uint32_t node, uint64_t count, uint64_t waiting);
	void *added_ctx;
};

int agg_init(struct aggregate *agg);
void agg_release(struct aggregate *agg);
/* Intern a frame (strings are copied). */
int agg_frame(struct aggregate *agg, enum agg_frame_kind kind, const char *name, const char *file, int line,
              uint32_t *id);
/* Give frame ID the name NAME (copied) from now on: a root whose label
 * changes, such as a thread's when the thread is renamed. Stacks through
 * it keep their counts. Errors: -ERR_NOMEM, the frame unchanged. */
int agg_frame_rename(struct aggregate *agg, uint32_t id, const char *name);
/* Intern a Python frame of the module at PATH (as in co_filename): its
 * file name shortened (short_filename()), the origin noted. */
int agg_python_frame(struct aggregate *agg, const char *name, const char *path, int line, uint32_t *id);
/* Intern a native frame NAME of LIBRARY (the file's name, shown), named by
 * a symbol or not (NAMED), at SITE (may be NULL), kept when the frame is
 * new or had none. */
int agg_native_frame(struct aggregate *agg, const char *name, const char *library, bool named,
                     const struct agg_native_site *site, uint32_t *id);
/* Intern into AGG a copy of frame F of FROM, another aggregate, origin and
 * native site included. */
int agg_frame_copy(struct aggregate *agg, const struct aggregate *from, const struct agg_frame *f, uint32_t *id);
/* Add COUNT samples of the stack FRAMES (ids, root first, N of them). */
int agg_add(struct aggregate *agg, const uint32_t *frames, size_t n, uint64_t count);
/* agg_add() for samples of a thread that was waiting, not running. */
int agg_add_waiting(struct aggregate *agg, const uint32_t *frames, size_t n, uint64_t count);
/* COUNT samples of which WAITING (at most COUNT) were waiting. */
int agg_add_counts(struct aggregate *agg, const uint32_t *frames, size_t n, uint64_t count, uint64_t waiting);
/* agg_add_counts() that also gives the stack's node in *NODE. */
int agg_add_node(struct aggregate *agg, const uint32_t *frames, size_t n, uint64_t count, uint64_t waiting,
                 uint32_t *node);
/* COUNT more samples (WAITING of them waiting) of the stack that ends at
 * NODE, a node of AGG (the root: the empty stack); ADDED is told, and its
 * error returned. */
int agg_count_node(struct aggregate *agg, uint32_t node, uint64_t count, uint64_t waiting);
/* agg_add_counts() of samples taken at WHEN_NS (CLOCK_REALTIME): with a
 * timeline kept and WHEN_NS not 0, the stack is also put on it. */
int agg_add_at(struct aggregate *agg, const uint32_t *frames, size_t n, uint64_t count, uint64_t waiting,
               uint64_t when_ns);
/* Add every stack of FROM, with its counts, to INTO; frames are interned
 * again in INTO; the time spans join; when both keep a timeline, FROM's
 * events join INTO's. Errors: -ERR_NOMEM. */
int agg_merge(struct aggregate *into, const struct aggregate *from);
/* Widen AGG's time span to hold FIRST_NS .. LAST_NS (0 0: nothing known). */
void agg_span(struct aggregate *agg, uint64_t first_ns, uint64_t last_ns);
/* Waiting samples through each node (its own and its descendants'), in a
 * new array indexed by node id; NULL when out of memory. */
uint64_t *agg_waiting_totals(const struct aggregate *agg);
/* agg_add for callers that add many stacks sharing prefixes (readers of
 * sorted folded files): PATH[i] is the node of FRAMES[0..i]; its first KNOWN
 * entries are trusted (left by the previous call for the same prefix), the
 * rest are filled in. PATH holds at least N entries. */
int agg_add_path(struct aggregate *agg, const uint32_t *frames, size_t n, uint32_t *path, size_t known,
                 uint64_t count);
/* Children of NODE sorted by frame name then file then line, for
 * deterministic output; writes at most MAX ids, returns how many. The
 * caller frees *OUT. */
int agg_sorted_children(const struct aggregate *agg, uint32_t node, uint32_t **out, size_t *count);
/* The order of frames in every output: name, file, line, kind. */
int agg_frame_compare(const struct agg_frame *x, const struct agg_frame *y);
/* Display label of a frame: "name (file:line)", "name (file)" or "name". */
void agg_frame_label(const struct aggregate *agg, uint32_t frame, struct strbuf *sb);

/* The canonical walk over the stacks, in the depth-first order of children
 * sorted by name, file and line (agg_sorted_children()), so that every
 * writer lists frames and stacks in the same order whatever order the
 * samples came in. */
enum { STACK_WALK_UNUSED = UINT32_MAX };

struct frame_order {
	uint32_t *index_of;  /* aggregate frame id -> canonical index, or STACK_WALK_UNUSED */
	uint32_t *frame_at;  /* canonical index -> aggregate frame id */
	size_t count;        /* frames in use */
};

/* Called once per stack that has samples of its own: FRAMES are aggregate
 * frame ids, root first, DEPTH of them, valid during the call. A negative
 * return stops the walk and is returned. */
typedef int (*stack_fn)(void *ctx, const uint32_t *frames, size_t depth, uint64_t count, uint64_t waiting);

/* Walk the stacks under NODE (0: all of them). */
int stack_walk(const struct aggregate *agg, uint32_t node, stack_fn fn, void *ctx);
/* Each stack's place in the walk of all stacks: *NUMBERS (the caller frees
 * it) has an entry per node, the index of the stack that ends there among
 * the stacks walked, or STACK_WALK_UNUSED for a node without samples of its
 * own. Writers use it to name a stack by its index. */
int stack_walk_numbers(const struct aggregate *agg, uint32_t **numbers);
/* Number the frames under NODE in walk order. Owned by ORDER; free with
 * frame_order_release(). */
int frame_order_init(struct frame_order *order, const struct aggregate *agg, uint32_t node);
/* The same numbering built during a walk of one's own: start empty, then
 * note each stack's frames (root first) as the walk meets them. */
int frame_order_start(struct frame_order *order, const struct aggregate *agg);
void frame_order_note(struct frame_order *order, const uint32_t *frames, size_t depth);
void frame_order_release(struct frame_order *order);

/* A ring of time-stamped samples (ring.c): each count added to an
 * aggregate is kept with the time it was taken, for as long as a window of
 * time, so that the profile of the last WINDOW seconds can be built at any
 * moment. Its memory follows the samples in the window (16 bytes each), not
 * the time watched: entries older than the window are dropped as new ones
 * come. The aggregate's own trie and frames still grow with every new stack
 * ever seen: sample_ring_rebase() moves the window to a fresh aggregate
 * holding only its stacks. */
struct ring_entry {
	uint64_t time_ns;        /* CLOCK_REALTIME */
	uint32_t node;           /* the stack's node in the aggregate */
	uint32_t count;          /* top bit: the samples were of a waiting thread */
};
struct sample_ring {
	struct ring_entry *entries;
	size_t cap, head, count; /* the oldest at HEAD */
	uint64_t window_ns;
	uint64_t now_ns;         /* the time given to entries added now */
	uint64_t dropped;        /* counts that found no memory */
};
/* An empty ring of WINDOW_NS nanoseconds, fed by AGG's adds from now on
 * (AGG must outlive it, or the ring be moved by sample_ring_rebase()). */
void sample_ring_init(struct sample_ring *r, uint64_t window_ns, struct aggregate *agg);
void sample_ring_release(struct sample_ring *r);
/* The time of the samples added next; entries older than NOW_NS - window
 * are dropped. */
void sample_ring_set_time(struct sample_ring *r, uint64_t now_ns);
/* The window's profile: the stacks of FROM (the aggregate the ring is fed
 * by) counted as often as the ring holds them, into OUT (initialised
 * here; the caller releases it), its time span that of the entries.
 * Errors: -ERR_NOMEM. */
int sample_ring_profile(const struct sample_ring *r, const struct aggregate *from, struct aggregate *out);
/* Move the ring onto TO (initialised here), which then holds only the
 * stacks and frames of the window, counted as in sample_ring_profile();
 * the entries are renumbered and TO feeds the ring from now on (FROM no
 * longer does). The caller swaps FROM for TO wherever it counts samples.
 * Errors: -ERR_NOMEM, with the ring still on FROM. */
int sample_ring_rebase(struct sample_ring *r, struct aggregate *from, struct aggregate *to);

/* The timeline (timeline.c): beside the counts, when each stack was seen,
 * an event per stack per sample, for time-ordered views; and an event of
 * node 0 (the root) for a sample that kept no stack at all, so that a
 * time-ordered view knows the threads were looked at and not seen. It is
 * bounded: past MAX events, later ones are counted in DROPPED, not kept.
 * Events stay in the order added; agg_timeline_sorted() gives the order
 * every writer uses. */
enum { AGG_TIMELINE_MAX = 1 << 22 }; /* 4 Mi events, 64 MiB */
struct agg_event {
	uint64_t time_ns;        /* CLOCK_REALTIME */
	uint32_t node;           /* the stack: a node with samples of its own; 0: none */
};
struct agg_timeline {
	struct agg_event *events;
	size_t n, cap;
	size_t max;
	uint64_t dropped;        /* events past MAX, not kept */
};
/* Start keeping a timeline in AGG (no-op when it keeps one), of at most
 * MAX events (0: AGG_TIMELINE_MAX). Errors: -ERR_NOMEM. */
int agg_timeline_enable(struct aggregate *agg, size_t max);
/* Put the stack ending at NODE on AGG's timeline at WHEN_NS (AGG keeps
 * one). Past the bound the event is counted as dropped. -ERR_NOMEM. */
int agg_timeline_add(struct aggregate *agg, uint32_t node, uint64_t when_ns);
/* AGG's events in the order of every output: by time, then by the stack's
 * number (NUMBERS from stack_walk_numbers(); events of node 0 last), so
 * that the order does not depend on the order the samples or files came
 * in. *OUT is the caller's
 * to free (NULL when there are none). */
int agg_timeline_sorted(const struct aggregate *agg, const uint32_t *numbers, struct agg_event **out, size_t *count);
/* The leading root frames (threads, processes) of the stack ending at
 * NODE: the deepest node of that run, or 0 when the stack has none. The
 * events of one thread share it. */
uint32_t agg_thread_node(const struct aggregate *agg, uint32_t node);

/* Per-function totals (functions.c), for the live view. */
struct agg_function {
	uint32_t frame;          /* the function's frame (line) with the most own samples */
	uint64_t own;            /* samples that ended in the function */
	uint64_t total;          /* samples whose stack holds it, once each */
};
struct agg_thread_total {
	uint32_t frame;          /* a thread root */
	uint64_t total;          /* its samples */
};
struct agg_functions {
	struct agg_function *items; /* in no order */
	size_t n, cap;
	struct agg_thread_total *threads; /* thread roots, in walk order */
	size_t nthreads, threads_cap;
	uint64_t samples;        /* of the aggregate */
	struct hashtab index;    /* (name, file) -> item */
};
/* Fill T (zeroed at first, reused across calls) from AGG: every Python or
 * native function by name and file, roots and markers left out. */
int agg_functions_compute(const struct aggregate *agg, struct agg_functions *t);
void agg_functions_release(struct agg_functions *t);

/* Fill OUT (initialised here) with AGG's stacks reversed, leaf first: the
 * "inverted" flame graph, where the widest bars are the hottest functions. */
int agg_invert(const struct aggregate *agg, struct aggregate *out);

/* PATH relative to the sys.path entry it comes from (site-packages, the
 * standard library), else PATH itself; points into PATH. */
const char *short_filename(const char *path);
/* The same, and which kind of sys.path entry it was (*ORIGIN). */
const char *short_filename_from(const char *path, enum agg_origin *origin);

#endif
