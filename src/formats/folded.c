/* Folded stacks writer: one line per distinct stack, root first, frames
 * joined by ';', a space and the sample count. Deterministic order. Names
 * are escaped (escape_add_label()) so that a line is always one stack. */
#include <stdlib.h>

#include "formats/escape.h"
#include "pycoreprof/agg.h"
#include "pycoreprof/formats.h"

static int walk(const struct aggregate *agg, uint32_t node, struct strbuf *path, struct strbuf *sb)
{
	size_t mark = path->len;
	if (node != 0) {
		bool first = path->len == 0;
		if (!first)
			strbuf_addch(path, ';');
		escape_add_label(path, &agg->frames[agg->nodes[node].frame], true, first);
		if (agg->nodes[node].self)
			strbuf_addf(sb, "%s %llu\n", path->buf, (unsigned long long)agg->nodes[node].self);
	}
	uint32_t *kids = NULL;
	size_t n = 0;
	int ret = agg_sorted_children(agg, node, &kids, &n);
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = walk(agg, kids[i], path, sb);
	free(kids);
	path->len = mark;
	if (path->buf)
		path->buf[mark] = '\0';
	return ret;
}

int profile_write_folded(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta)
{
	struct strbuf path = {0};
	int ret = walk(agg, 0, &path, sb);
	strbuf_release(&path);
	if (ret == 0 && !strbuf_ok(sb))
		ret = -ERR_NOMEM;
	return ret;
}
