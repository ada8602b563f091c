/* The inverted aggregate: every stack reversed, leaf first, so that a flame
 * graph's widest bars at the root are the functions sampled most often. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/agg.h"

struct invert_ctx {
	const struct aggregate *in;
	struct aggregate *out;
	uint32_t *ids;
	size_t cap;
};

static int add_reversed(void *opaque, const uint32_t *frames, size_t depth, uint64_t count, uint64_t waiting)
{
	struct invert_ctx *c = opaque;
	int ret;
	if (ARRAY_GROW(c->ids, c->cap, depth) < 0)
		return -ERR_NOMEM;
	for (size_t i = 0; i < depth; i++) {
		const struct agg_frame *f = &c->in->frames[frames[depth - 1 - i]];
		if ((ret = agg_frame_copy(c->out, c->in, f, &c->ids[i])) < 0)
			return ret;
	}
	return agg_add_counts(c->out, c->ids, depth, count, waiting);
}

int agg_invert(const struct aggregate *agg, struct aggregate *out)
{
	struct invert_ctx c = {.in = agg, .out = out};
	int ret = agg_init(out);
	if (ret < 0)
		return ret;
	ret = stack_walk(agg, 0, add_reversed, &c);
	free(c.ids);
	return ret;
}
