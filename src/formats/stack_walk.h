/* Shared by the writers that list frames and stacks (speedscope, pprof,
 * JSON): a canonical numbering of frames and a walk over every stack, both
 * in the depth-first order of children sorted by name, file and line. */
#ifndef PYCOREPROF_OUT_STACK_WALK_H
#define PYCOREPROF_OUT_STACK_WALK_H

#include "pycoreprof/agg.h"

enum { STACK_WALK_UNUSED = UINT32_MAX };

struct frame_order {
	uint32_t *index_of;  /* aggregate frame id -> canonical index, or STACK_WALK_UNUSED */
	uint32_t *frame_at;  /* canonical index -> aggregate frame id */
	size_t count;        /* frames in use */
};

/* Called once per stack that has samples of its own: FRAMES are aggregate
 * frame ids, root first, DEPTH of them. A negative return stops the walk
 * and is returned. */
typedef int (*stack_fn)(void *ctx, const uint32_t *frames, size_t depth, uint64_t count, uint64_t waiting);

/* Walk the stacks under NODE (0: all of them). */
int stack_walk(const struct aggregate *agg, uint32_t node, stack_fn fn, void *ctx);
/* Number the frames under NODE in walk order. Owned by ORDER; free with
 * frame_order_release(). */
int frame_order_init(struct frame_order *order, const struct aggregate *agg, uint32_t node);
/* The same numbering built during a walk of one's own: start empty, then
 * note each stack's frames (root first) as the walk meets them. */
int frame_order_start(struct frame_order *order, const struct aggregate *agg);
void frame_order_note(struct frame_order *order, const uint32_t *frames, size_t depth);
void frame_order_release(struct frame_order *order);

#endif
