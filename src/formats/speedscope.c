/* speedscope's JSON file format: shared frames (name, file, line) and
 * "sampled" profiles whose samples are stacks of frame indices, root first,
 * with sample counts as weights. One profile per thread or process root.
 * An aggregate with a timeline gets evented profiles instead, one per
 * thread in time order (speedscope_timeline.c). */
#include <stdlib.h>

#include "formats/json_frames.h"
#include "formats/speedscope_timeline.h"
#include "pycoreprof/formats.h"

struct profile_ctx {
	struct strbuf *sb;
	const struct frame_order *order;
	size_t skip;             /* root frames left out (the thread label) */
	size_t stacks;
	struct strbuf weights;
	uint64_t total;
};

static int add_sample(void *opaque, const uint32_t *frames, size_t depth, uint64_t count, uint64_t waiting)
{
	struct profile_ctx *p = opaque;
	if (depth <= p->skip)
		return 0;
	strbuf_addstr(p->sb, p->stacks ? ",[" : "[");
	for (size_t i = p->skip; i < depth; i++)
		strbuf_addf(p->sb, i > p->skip ? ",%u" : "%u", p->order->index_of[frames[i]]);
	strbuf_addch(p->sb, ']');
	strbuf_addf(&p->weights, p->stacks ? ",%llu" : "%llu", (unsigned long long)count);
	p->stacks++;
	p->total += count;
	return 0;
}

/* One profile: the stacks under NODE, leaving out the first SKIP frames. */
static int add_profile(struct strbuf *sb, const struct aggregate *agg, const struct frame_order *order, uint32_t node,
                       size_t skip, const char *name, bool first)
{
	struct profile_ctx p = {.sb = sb, .order = order, .skip = skip};
	strbuf_addstr(sb, first ? "\n  {\"type\": \"sampled\", \"name\": " : ",\n  {\"type\": \"sampled\", \"name\": ");
	strbuf_add_json_string(sb, name);
	strbuf_addf(sb, ", \"unit\": \"none\", \"startValue\": 0, \"endValue\": %llu,\n   \"samples\": [",
	            (unsigned long long)agg->nodes[node].total);
	int ret = stack_walk(agg, node, add_sample, &p);
	strbuf_addstr(sb, "],\n   \"weights\": [");
	strbuf_add(sb, p.weights.buf ? p.weights.buf : "", p.weights.len);
	strbuf_addstr(sb, "]}");
	if (!strbuf_ok(&p.weights))
		ret = ret < 0 ? ret : -ERR_NOMEM;
	strbuf_release(&p.weights);
	return ret;
}

static bool split_by_root(const struct aggregate *agg)
{
	uint32_t c = agg->nodes[0].first_child;
	if (!c || agg->nodes[0].self)
		return false;
	for (; c; c = agg->nodes[c].next_sibling) {
		enum agg_frame_kind kind = agg->frames[agg->nodes[c].frame].kind;
		if (kind != AGG_THREAD && kind != AGG_PROCESS)
			return false;
	}
	return true;
}

int profile_write_speedscope(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta)
{
	struct frame_order order;
	uint32_t *roots = NULL;
	size_t nroots = 0;
	const char *title = meta && meta->title ? meta->title : "pycoreprof";
	int ret = frame_order_init(&order, agg, 0);
	if (ret < 0)
		return ret;
	strbuf_addstr(sb, "{\"$schema\": \"https://www.speedscope.app/file-format-schema.json\",\n"
	                  " \"exporter\": \"pycoreprof\", \"name\": ");
	strbuf_add_json_string(sb, title);
	strbuf_addstr(sb, ", \"activeProfileIndex\": 0,\n \"shared\": {\"frames\": [");
	json_add_frames(sb, agg, &order, false);
	strbuf_addstr(sb, "]},\n \"profiles\": [");
	if (agg->timeline && agg->timeline->n) {
		ret = speedscope_add_timeline(sb, agg, &order, title, meta ? meta->interval : 0);
	} else if (split_by_root(agg)) {
		if ((ret = agg_sorted_children(agg, 0, &roots, &nroots)) < 0)
			goto out;
		for (size_t i = 0; ret == 0 && i < nroots; i++)
			ret = add_profile(sb, agg, &order, roots[i], 1, agg->frames[agg->nodes[roots[i]].frame].name, i == 0);
	} else {
		ret = add_profile(sb, agg, &order, 0, 0, title, true);
	}
	strbuf_addstr(sb, "]}\n");
	if (ret == 0 && !strbuf_ok(sb))
		ret = -ERR_NOMEM;
out:
	free(roots);
	frame_order_release(&order);
	return ret;
}
