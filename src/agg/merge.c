/* Merging aggregates: every stack of one added to another, with its own
 * and its waiting counts; frames are interned again in the target, and the
 * timeline's events follow their stacks. Used by `report`, whose files are
 * read into aggregates of their own. */
#include <stdlib.h>

#include "pycoreprof/agg.h"
#include "pycoreprof/base.h"

void agg_span(struct aggregate *agg, uint64_t first_ns, uint64_t last_ns)
{
	if (!first_ns || !last_ns || last_ns < first_ns)
		return;
	if (!agg->first_ns || first_ns < agg->first_ns)
		agg->first_ns = first_ns;
	if (last_ns > agg->last_ns)
		agg->last_ns = last_ns;
}

/* FROM's timeline events onto INTO's, their nodes mapped by NODE_MAP. */
static int merge_timeline(struct aggregate *into, const struct aggregate *from, const uint32_t *node_map)
{
	const struct agg_timeline *events = from->timeline;
	int ret = 0;
	for (size_t i = 0; i < events->n && ret == 0; i++)
		if (events->events[i].node < from->nnodes && (!events->events[i].node || node_map[events->events[i].node]))
			ret = agg_timeline_add(into, node_map[events->events[i].node], events->events[i].time_ns);
	into->timeline->dropped += events->dropped;
	return ret;
}

int agg_merge(struct aggregate *into, const struct aggregate *from)
{
	agg_span(into, from->first_ns, from->last_ns);
	bool timeline = into->timeline && from->timeline;
	uint32_t *map = xcalloc(from->nframes ? from->nframes : 1, sizeof(*map));
	uint32_t *path = xcalloc(from->nnodes ? from->nnodes : 1, sizeof(*path));
	uint32_t *node_map = timeline ? xcalloc(from->nnodes ? from->nnodes : 1, sizeof(*node_map)) : NULL;
	int ret = 0;
	if (!map || !path || (timeline && !node_map)) {
		ret = -ERR_NOMEM;
		goto out;
	}
	for (size_t f = 0; f < from->nframes && ret == 0; f++) {
		const struct agg_frame *fr = &from->frames[f];
		ret = agg_frame_copy(into, from, fr, &map[f]);
	}
	for (size_t node = 1; node < from->nnodes && ret == 0; node++) {
		if (!from->nodes[node].self)
			continue;
		size_t depth = 0;
		for (uint32_t at = (uint32_t)node; at && depth < from->nnodes; at = from->nodes[at].parent)
			path[depth++] = map[from->nodes[at].frame];
		for (size_t k = 0; k < depth / 2; k++) {
			uint32_t swap = path[k];
			path[k] = path[depth - 1 - k];
			path[depth - 1 - k] = swap;
		}
		uint32_t added;
		ret = agg_add_node(into, path, depth, from->nodes[node].self, from->nodes[node].waiting, &added);
		if (node_map)
			node_map[node] = added;
	}
	if (ret == 0 && timeline)
		ret = merge_timeline(into, from, node_map);
out:
	free(map);
	free(path);
	free(node_map);
	return ret;
}
