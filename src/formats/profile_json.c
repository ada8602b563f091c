/* The aggregate as JSON for scripts: a frames table (name, file, line,
 * kind) and every stack as frame indices, root first, with its count; the
 * samples' time span when known; the timeline when the aggregate keeps one
 * (each event a time and a stack's index), so that `report` can merge it. */
#include <stdlib.h>

#include "formats/json_frames.h"
#include "pycoreprof/formats.h"

struct json_ctx {
	struct strbuf *sb;
	const struct frame_order *order;
	size_t stacks;
};

static int add_stack(void *opaque, const uint32_t *frames, size_t depth, uint64_t count, uint64_t waiting)
{
	struct json_ctx *j = opaque;
	strbuf_addstr(j->sb, j->stacks++ ? ",\n  {\"frames\": [" : "\n  {\"frames\": [");
	for (size_t i = 0; i < depth; i++)
		strbuf_addf(j->sb, i ? ",%u" : "%u", j->order->index_of[frames[i]]);
	strbuf_addf(j->sb, "], \"count\": %llu", (unsigned long long)count);
	if (waiting)
		strbuf_addf(j->sb, ", \"waiting\": %llu", (unsigned long long)waiting);
	strbuf_addch(j->sb, '}');
	return 0;
}

/* "timeline": {"dropped": N, "events": [[time_ns, stack index], ...]} in
 * the order of agg_timeline_sorted(); a sample without stacks is [time_ns]. */
static int add_timeline(struct strbuf *sb, const struct aggregate *agg)
{
	uint32_t *numbers = NULL;
	struct agg_event *events = NULL;
	size_t n = 0;
	int ret = stack_walk_numbers(agg, &numbers);
	if (ret == 0)
		ret = agg_timeline_sorted(agg, numbers, &events, &n);
	if (ret == 0) {
		strbuf_addf(sb, ",\n \"timeline\": {\"dropped\": %llu, \"events\": [",
		            (unsigned long long)agg->timeline->dropped);
		for (size_t i = 0; i < n; i++) {
			strbuf_addf(sb, i ? ",\n  [%llu" : "\n  [%llu", (unsigned long long)events[i].time_ns);
			if (events[i].node)
				strbuf_addf(sb, ", %u", numbers[events[i].node]);
			strbuf_addch(sb, ']');
		}
		strbuf_addstr(sb, "]}");
	}
	free(numbers);
	free(events);
	return ret;
}

int profile_write_json(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta)
{
	struct frame_order order;
	int ret = frame_order_init(&order, agg, 0);
	if (ret < 0)
		return ret;
	strbuf_addstr(sb, "{\"format\": \"pycoreprof-profile\", \"version\": 1");
	if (meta && meta->title) {
		strbuf_addstr(sb, ", \"title\": ");
		strbuf_add_json_string(sb, meta->title);
	}
	if (meta && meta->interval > 0)
		strbuf_addf(sb, ", \"interval_ns\": %.0f", meta->interval * 1e9);
	if (meta && meta->duration > 0)
		strbuf_addf(sb, ", \"duration_ns\": %.0f", meta->duration * 1e9);
	if (agg->first_ns)
		strbuf_addf(sb, ", \"first_ns\": %llu, \"last_ns\": %llu", (unsigned long long)agg->first_ns,
		            (unsigned long long)agg->last_ns);
	strbuf_addf(sb, ", \"samples\": %llu", (unsigned long long)agg->samples);
	if (meta && meta->errors_known) {
		strbuf_addf(sb, ",\n \"errors\": {\"total\": %llu, \"kinds\": {", (unsigned long long)meta->errors);
		for (size_t i = 0; i < meta->nerror_kinds; i++) {
			strbuf_addstr(sb, i ? ", " : "");
			strbuf_add_json_string(sb, meta->error_kinds[i].what);
			strbuf_addf(sb, ": %llu", (unsigned long long)meta->error_kinds[i].count);
		}
		strbuf_addstr(sb, "}}");
	}
	strbuf_addstr(sb, ",\n \"frames\": [");
	json_add_frames(sb, agg, &order, true);
	strbuf_addstr(sb, "],\n \"stacks\": [");
	struct json_ctx j = {.sb = sb, .order = &order};
	ret = stack_walk(agg, 0, add_stack, &j);
	strbuf_addch(sb, ']');
	if (ret == 0 && agg->timeline && (agg->timeline->n || agg->timeline->dropped))
		ret = add_timeline(sb, agg);
	strbuf_addstr(sb, "}\n");
	if (ret == 0 && !strbuf_ok(sb))
		ret = -ERR_NOMEM;
	frame_order_release(&order);
	return ret;
}
