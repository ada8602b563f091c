/* The timeline beside an aggregate's counts: an event (time, stack node)
 * per stack per sample, kept only when asked for and bounded, and the one
 * order every writer puts it in. Not how a writer shows it. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/agg.h"

int agg_timeline_enable(struct aggregate *agg, size_t max)
{
	if (agg->timeline)
		return 0;
	agg->timeline = xcalloc(1, sizeof(*agg->timeline));
	if (!agg->timeline)
		return -ERR_NOMEM;
	agg->timeline->max = max ? max : AGG_TIMELINE_MAX;
	return 0;
}

int agg_timeline_add(struct aggregate *agg, uint32_t node, uint64_t when_ns)
{
	struct agg_timeline *t = agg->timeline;
	if (t->n >= t->max) {
		t->dropped++;
		return 0;
	}
	if (ARRAY_GROW(t->events, t->cap, t->n + 1) < 0)
		return -ERR_NOMEM;
	t->events[t->n++] = (struct agg_event){.time_ns = when_ns, .node = node};
	return 0;
}

static int compare_events(const void *a, const void *b, void *context)
{
	const uint32_t *numbers = context;
	const struct agg_event *x = a, *y = b;
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	/* The root has no number (STACK_WALK_UNUSED): after every stack. */
	uint32_t nx = numbers[x->node], ny = numbers[y->node];
	return nx < ny ? -1 : nx > ny;
}

int agg_timeline_sorted(const struct aggregate *agg, const uint32_t *numbers, struct agg_event **out, size_t *count)
{
	const struct agg_timeline *t = agg->timeline;
	*out = NULL;
	*count = 0;
	if (!t || !t->n)
		return 0;
	struct agg_event *events = xrealloc_array(NULL, t->n, sizeof(*events));
	if (!events)
		return -ERR_NOMEM;
	size_t n = 0;
	/* Only stacks with samples have a number; an event of any other
	 * node but the root could not come from a sample. */
	for (size_t i = 0; i < t->n; i++) {
		uint32_t node = t->events[i].node;
		if (node < agg->nnodes && (node == 0 || numbers[node] != STACK_WALK_UNUSED))
			events[n++] = t->events[i];
	}
	qsort_r(events, n, sizeof(*events), compare_events, (void *)numbers);
	*out = events;
	*count = n;
	return 0;
}

uint32_t agg_thread_node(const struct aggregate *agg, uint32_t node)
{
	/* The run of root frames starts at the root: find the topmost node of
	 * the stack that is not a root frame; its parent ends the run. */
	uint32_t last = 0;
	for (uint32_t at = node; at != 0; at = agg->nodes[at].parent) {
		enum agg_frame_kind kind = agg->frames[agg->nodes[at].frame].kind;
		if (kind != AGG_THREAD && kind != AGG_PROCESS)
			last = at;
	}
	if (!last)
		return node;    /* the stack is all root frames */
	return agg->nodes[last].parent;
}
