/* The ring of time-stamped samples (agg.h, "A ring of time-stamped
 * samples"): fed by an aggregate's adds, trimmed to a window of time, and
 * turned back into an aggregate of just that window. It keeps node ids, not
 * stacks: a window's profile walks each node's parents in the aggregate
 * that counted it. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/agg.h"

#define WAITING_BIT 0x80000000u
#define COUNT_MAX 0x7fffffffu
#define FIRST_CAP 1024u

static struct ring_entry *entry_at(const struct sample_ring *r, size_t i)
{
	return &r->entries[(r->head + i) % r->cap];
}

/* Double the room, keeping the entries in order from 0. */
static int grow(struct sample_ring *r)
{
	size_t cap = r->cap ? 2 * r->cap : FIRST_CAP;
	struct ring_entry *entries = xcalloc(cap, sizeof(*entries));
	if (!entries)
		return -ERR_NOMEM;
	for (size_t i = 0; i < r->count; i++)
		entries[i] = *entry_at(r, i);
	free(r->entries);
	r->entries = entries;
	r->cap = cap;
	r->head = 0;
	return 0;
}

static int push(struct sample_ring *r, uint32_t node, uint64_t count, uint64_t waiting)
{
	/* Counts are one sample each when sampling; split what is not. */
	while (count) {
		uint32_t part = count > COUNT_MAX ? COUNT_MAX : (uint32_t)count;
		bool wait = waiting >= part;
		if (r->count == r->cap && grow(r) < 0) {
			r->dropped += count;
			return 0;   /* the profile of the window lacks them; sampling goes on */
		}
		struct ring_entry *e = entry_at(r, r->count++);
		e->time_ns = r->now_ns;
		e->node = node;
		e->count = part | (wait ? WAITING_BIT : 0);
		count -= part;
		waiting = wait ? waiting - part : 0;
	}
	return 0;
}

static int on_added(void *ctx, uint32_t node, uint64_t count, uint64_t waiting)
{
	return push(ctx, node, count, waiting);
}

void sample_ring_init(struct sample_ring *r, uint64_t window_ns, struct aggregate *agg)
{
	memset(r, 0, sizeof(*r));
	r->window_ns = window_ns;
	agg->added = on_added;
	agg->added_ctx = r;
}

void sample_ring_release(struct sample_ring *r)
{
	free(r->entries);
	memset(r, 0, sizeof(*r));
}

void sample_ring_set_time(struct sample_ring *r, uint64_t now_ns)
{
	r->now_ns = now_ns;
	uint64_t oldest = now_ns > r->window_ns ? now_ns - r->window_ns : 0;
	while (r->count && entry_at(r, 0)->time_ns < oldest) {
		r->head = (r->head + 1) % r->cap;
		r->count--;
	}
	/* A ring that held a burst gives most of its room back. */
	if (r->cap > FIRST_CAP && r->count < r->cap / 8) {
		size_t cap = r->cap / 2;
		struct ring_entry *entries = xcalloc(cap, sizeof(*entries));
		if (!entries)
			return;
		for (size_t i = 0; i < r->count; i++)
			entries[i] = *entry_at(r, i);
		free(r->entries);
		r->entries = entries;
		r->cap = cap;
		r->head = 0;
	}
}

/* Count every entry into TO, the frames copied from FROM once each; with
 * RENUMBER, each entry's node becomes its node in TO once all is counted
 * (on failure nothing is renumbered). */
static int copy_window(struct sample_ring *r, const struct aggregate *from, struct aggregate *to, bool renumber)
{
	uint32_t *frame_map = xcalloc(from->nframes ? from->nframes : 1, sizeof(*frame_map));
	uint32_t *leaves = renumber ? xcalloc(r->count ? r->count : 1, sizeof(*leaves)) : NULL;
	uint32_t *ids = NULL;
	size_t ids_cap = 0;
	int ret = agg_init(to);
	if (!frame_map || (renumber && !leaves) || ret < 0) {
		if (ret == 0)
			agg_release(to);
		free(frame_map);
		free(leaves);
		return -ERR_NOMEM;
	}
	for (size_t i = 0; i < r->count; i++) {
		struct ring_entry *e = entry_at(r, i);
		size_t depth = 0;
		for (uint32_t node = e->node; node; node = from->nodes[node].parent)
			depth++;
		if (ARRAY_GROW(ids, ids_cap, depth ? depth : 1) < 0) {
			ret = -ERR_NOMEM;
			break;
		}
		size_t k = depth;
		for (uint32_t node = e->node; node; node = from->nodes[node].parent) {
			uint32_t frame = from->nodes[node].frame;
			/* Ids in TO plus one: zero is not copied yet. */
			if (!frame_map[frame]) {
				uint32_t id;
				if ((ret = agg_frame_copy(to, from, &from->frames[frame], &id)) < 0)
					goto out;
				frame_map[frame] = id + 1;
			}
			ids[--k] = frame_map[frame] - 1;
		}
		uint64_t count = e->count & COUNT_MAX;
		uint32_t leaf;
		if ((ret = agg_add_node(to, ids, depth, count, e->count & WAITING_BIT ? count : 0, &leaf)) < 0)
			goto out;
		if (renumber)
			leaves[i] = leaf;
	}
	for (size_t i = 0; renumber && ret == 0 && i < r->count; i++)
		entry_at(r, i)->node = leaves[i];
	if (r->count)
		agg_span(to, entry_at(r, 0)->time_ns, entry_at(r, r->count - 1)->time_ns);
out:
	free(ids);
	free(leaves);
	free(frame_map);
	if (ret < 0)
		agg_release(to);
	return ret;
}

int sample_ring_profile(const struct sample_ring *r, const struct aggregate *from, struct aggregate *out)
{
	return copy_window((struct sample_ring *)r, from, out, false);
}

int sample_ring_rebase(struct sample_ring *r, struct aggregate *from, struct aggregate *to)
{
	int ret = copy_window(r, from, to, true);
	if (ret < 0)
		return ret;
	from->added = NULL;
	from->added_ctx = NULL;
	to->added = on_added;
	to->added_ctx = r;
	return 0;
}
