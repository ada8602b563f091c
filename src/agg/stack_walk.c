/* The canonical walk over an aggregate's stacks, so that every writer lists
 * frames and stacks in the same order whatever order the samples came in. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/agg.h"

struct walk {
	const struct aggregate *agg;
	stack_fn fn;
	void *ctx;
	uint32_t *path;
	size_t cap;
	uint32_t *numbers;       /* stack_walk_numbers(): node -> index, or NULL */
	uint32_t next_number;
};

static int visit(struct walk *w, uint32_t node, size_t depth)
{
	const struct agg_node *n = &w->agg->nodes[node];
	int ret = 0;
	if (node != 0) {
		if (ARRAY_GROW(w->path, w->cap, depth + 1) < 0)
			return -ERR_NOMEM;
		w->path[depth++] = n->frame;
		if (n->self && w->numbers)
			w->numbers[node] = w->next_number++;
		if (n->self && w->fn && (ret = w->fn(w->ctx, w->path, depth, n->self, n->waiting)) < 0)
			return ret;
	}
	/* Most nodes of a deep profile have one child: no sorting needed. */
	uint32_t only = n->first_child;
	if (!only || !w->agg->nodes[only].next_sibling)
		return only ? visit(w, only, depth) : 0;
	uint32_t *kids = NULL;
	size_t count = 0;
	ret = agg_sorted_children(w->agg, node, &kids, &count);
	for (size_t i = 0; ret == 0 && i < count; i++)
		ret = visit(w, kids[i], depth);
	free(kids);
	return ret;
}

int stack_walk(const struct aggregate *agg, uint32_t node, stack_fn fn, void *ctx)
{
	struct walk w = {.agg = agg, .fn = fn, .ctx = ctx};
	size_t depth = 0;
	int ret = 0;
	/* Start below NODE with its ancestors already on the path. */
	for (uint32_t up = node; up != 0; up = agg->nodes[up].parent)
		depth++;
	if (depth) {
		w.path = xcalloc(depth, sizeof(*w.path));
		if (!w.path)
			return -ERR_NOMEM;
		w.cap = depth;
		size_t i = depth;
		for (uint32_t up = node; up != 0; up = agg->nodes[up].parent)
			w.path[--i] = agg->nodes[up].frame;
		depth--; /* visit() pushes NODE's own frame again */
	}
	ret = visit(&w, node, depth);
	free(w.path);
	return ret;
}

int stack_walk_numbers(const struct aggregate *agg, uint32_t **numbers)
{
	struct walk w = {.agg = agg};
	size_t n = agg->nnodes ? agg->nnodes : 1;
	w.numbers = xrealloc_array(NULL, n, sizeof(*w.numbers));
	if (!w.numbers)
		return -ERR_NOMEM;
	memset(w.numbers, 0xFF, n * sizeof(*w.numbers));
	int ret = visit(&w, 0, 0);
	free(w.path);
	if (ret < 0) {
		free(w.numbers);
		return ret;
	}
	*numbers = w.numbers;
	return 0;
}

void frame_order_note(struct frame_order *order, const uint32_t *frames, size_t depth)
{
	for (size_t i = 0; i < depth; i++) {
		if (order->index_of[frames[i]] != STACK_WALK_UNUSED)
			continue;
		order->index_of[frames[i]] = (uint32_t)order->count;
		order->frame_at[order->count++] = frames[i];
	}
}

static int number(void *ctx, const uint32_t *frames, size_t depth, uint64_t count, uint64_t waiting)
{
	frame_order_note(ctx, frames, depth);
	return 0;
}

int frame_order_start(struct frame_order *order, const struct aggregate *agg)
{
	memset(order, 0, sizeof(*order));
	size_t n = agg->nframes ? agg->nframes : 1;
	order->index_of = xrealloc_array(NULL, n, sizeof(*order->index_of));
	order->frame_at = xcalloc(n, sizeof(*order->frame_at));
	if (!order->index_of || !order->frame_at) {
		frame_order_release(order);
		return -ERR_NOMEM;
	}
	memset(order->index_of, 0xFF, n * sizeof(*order->index_of));
	return 0;
}

int frame_order_init(struct frame_order *order, const struct aggregate *agg, uint32_t node)
{
	int ret = frame_order_start(order, agg);
	if (ret == 0 && (ret = stack_walk(agg, node, number, order)) < 0)
		frame_order_release(order);
	return ret;
}

void frame_order_release(struct frame_order *order)
{
	free(order->index_of);
	free(order->frame_at);
	memset(order, 0, sizeof(*order));
}
