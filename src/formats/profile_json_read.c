/* Reads back the JSON aggregate that profile_write_json() writes: the
 * frames table, the stacks and, into an aggregate that keeps one, the
 * timeline (scanned by json_scan.h); unknown keys are skipped, anything
 * else malformed is an error naming the byte offset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/json_scan.h"
#include "pycoreprof/formats.h"

/* The frames table: agg frame ids in file order into *IDS. */
static int read_frames(struct json_scan *s, struct aggregate *agg, uint32_t **ids, size_t *count)
{
	static const char *const kinds[] = {"python", "native", "thread", "process", "error"};
	char *name = NULL, *file = NULL;
	size_t ids_cap = *count;    /* what *IDS is known to hold */
	int ret = 0;
	if (!json_eat(s, '['))
		return json_bad(s, "\"frames\" is not an array");
	if (json_eat(s, ']'))
		return 0;
	do {
		double line = -1;
		enum agg_frame_kind kind = AGG_PYTHON;
		enum agg_origin origin = AGG_FROM_ELSEWHERE;
		if (!json_eat(s, '{')) {
			ret = json_bad(s, "a frame is not an object");
			goto out;
		}
		do {
			if ((ret = json_string(s)) < 0)
				goto out;
			char key[8];
			snprintf(key, sizeof(key), "%s", s->text.buf);
			if (!json_eat(s, ':')) {
				ret = json_bad(s, "expected ':'");
				goto out;
			}
			if (!strcmp(key, "name") || !strcmp(key, "file") || !strcmp(key, "kind") || !strcmp(key, "origin")) {
				if ((ret = json_string(s)) < 0)
					goto out;
				if (!strcmp(key, "origin")) {
					origin = !strcmp(s->text.buf, "stdlib")    ? AGG_FROM_STDLIB
					         : !strcmp(s->text.buf, "package") ? AGG_FROM_PACKAGE
					                                           : AGG_FROM_ELSEWHERE;
				} else if (!strcmp(key, "kind")) {
					for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
						if (!strcmp(s->text.buf, kinds[k]))
							kind = (enum agg_frame_kind)k;
				} else {
					char **slot = key[0] == 'n' ? &name : &file;
					free(*slot);
					if (!(*slot = xstrdup(s->text.buf))) {
						ret = -ERR_NOMEM;
						goto out;
					}
				}
			} else if (!strcmp(key, "line")) {
				if ((ret = json_number(s, &line)) < 0)
					goto out;
			} else if ((ret = json_skip_value(s, 1)) < 0) {
				goto out;
			}
		} while (json_eat(s, ','));
		if (!json_eat(s, '}') || !name) {
			ret = json_bad(s, "a frame needs a name");
			goto out;
		}
		if (ARRAY_GROW(*ids, ids_cap, *count + 1) < 0) {
			ret = -ERR_NOMEM;
			goto out;
		}
		struct agg_frame read = {.name = name, .file = file, .line = line >= 0 && line < 1 << 30 ? (int)line : -1,
		                         .kind = kind, .origin = origin};
		if ((ret = agg_frame_copy(agg, NULL, &read, &(*ids)[(*count)++])) < 0)
			goto out;
		free(name);
		free(file);
		name = file = NULL;
	} while (json_eat(s, ','));
	if (!json_eat(s, ']'))
		ret = json_bad(s, "unterminated frames array");
out:
	free(name);
	free(file);
	return ret;
}

/* The stacks; the node of each, in file order, into *NODES (*NNODES). */
static int read_stacks(struct json_scan *s, struct aggregate *agg, const uint32_t *ids, size_t nids,
                       uint32_t **nodes, size_t *nnodes)
{
	uint32_t *stack = NULL;
	size_t cap = 0, nodes_cap = 0;
	int ret = 0;
	if (!json_eat(s, '['))
		return json_bad(s, "\"stacks\" is not an array");
	if (json_eat(s, ']'))
		return 0;
	do {
		size_t depth = 0;
		double count = 0, waiting = 0, value;
		if (!json_eat(s, '{')) {
			ret = json_bad(s, "a stack is not an object");
			goto out;
		}
		do {
			if ((ret = json_string(s)) < 0)
				goto out;
			bool frames = !strcmp(s->text.buf, "frames"), is_count = !strcmp(s->text.buf, "count");
			bool is_waiting = !strcmp(s->text.buf, "waiting");
			if (!json_eat(s, ':')) {
				ret = json_bad(s, "expected ':'");
				goto out;
			}
			if (is_count || is_waiting) {
				if ((ret = json_number(s, is_count ? &count : &waiting)) < 0)
					goto out;
			} else if (!frames) {
				if ((ret = json_skip_value(s, 1)) < 0)
					goto out;
			} else if (!json_eat(s, '[')) {
				ret = json_bad(s, "a stack's frames are not an array");
				goto out;
			} else if (!json_eat(s, ']')) {
				do {
					if ((ret = json_number(s, &value)) < 0)
						goto out;
					if (!(value >= 0 && value < (double)nids)) {    /* NaN too */
						ret = json_bad(s, "a stack names a frame that is not in the table");
						goto out;
					}
					if (ARRAY_GROW(stack, cap, depth + 1) < 0) {
						ret = -ERR_NOMEM;
						goto out;
					}
					stack[depth++] = ids[(size_t)value];
				} while (json_eat(s, ','));
				if (!json_eat(s, ']')) {
					ret = json_bad(s, "unterminated frames list");
					goto out;
				}
			}
		} while (json_eat(s, ','));
		/* Counts a uint64_t holds; NaN fails every comparison. */
		if (!json_eat(s, '}') || !(count >= 0 && count < 0x1p64) || !(waiting >= 0 && waiting <= count)) {
			ret = json_bad(s, "bad stack entry");
			goto out;
		}
		if (ARRAY_GROW(*nodes, nodes_cap, *nnodes + 1) < 0) {
			ret = -ERR_NOMEM;
			goto out;
		}
		if ((ret = agg_add_node(agg, stack, depth, (uint64_t)count, (uint64_t)waiting, &(*nodes)[*nnodes])) < 0)
			goto out;
		(*nnodes)++;
	} while (json_eat(s, ','));
	if (!json_eat(s, ']'))
		ret = json_bad(s, "unterminated stacks array");
out:
	free(stack);
	return ret;
}

/* "timeline": {"dropped": N, "events": [[time_ns, stack index], ...]}: each
 * event onto AGG's timeline, its stack by index into NODES ([time_ns]: a
 * sample without stacks). */
static int read_timeline(struct json_scan *s, struct aggregate *agg, const uint32_t *nodes, size_t nnodes)
{
	int ret;
	if (!json_eat(s, '{'))
		return json_bad(s, "\"timeline\" is not an object");
	if (json_eat(s, '}'))
		return 0;
	do {
		if ((ret = json_key(s)) < 0)
			return ret;
		if (!strcmp(s->text.buf, "dropped")) {
			uint64_t dropped;
			if ((ret = json_uint64(s, &dropped)) < 0)
				return ret;
			agg->timeline->dropped += dropped;
			continue;
		}
		if (strcmp(s->text.buf, "events")) {
			if ((ret = json_skip_value(s, 2)) < 0)
				return ret;
			continue;
		}
		if (!json_eat(s, '['))
			return json_bad(s, "the timeline's events are not an array");
		if (json_eat(s, ']'))
			continue;
		do {
			uint64_t when, stack;
			uint32_t node = 0;
			if (!json_eat(s, '['))
				return json_bad(s, "a timeline event is not an array");
			if ((ret = json_uint64(s, &when)) < 0)
				return ret;
			if (json_eat(s, ',')) {
				if ((ret = json_uint64(s, &stack)) < 0)
					return ret;
				if (stack >= nnodes)
					return json_bad(s, "a timeline event names a stack that is not in the list");
				node = nodes[stack];
			}
			if (!json_eat(s, ']'))
				return json_bad(s, "a timeline event is [time, stack] or [time]");
			if ((ret = agg_timeline_add(agg, node, when)) < 0)
				return ret;
		} while (json_eat(s, ','));
		if (!json_eat(s, ']'))
			return json_bad(s, "unterminated timeline events");
	} while (json_eat(s, ','));
	return json_eat(s, '}') ? 0 : json_bad(s, "unterminated \"timeline\"");
}

int profile_read_json(struct aggregate *agg, const char *text, size_t len, const char *origin)
{
	struct json_scan s;
	uint32_t *ids = NULL, *nodes = NULL;
	size_t nids = 0, nnodes = 0;
	bool have_frames = false, have_stacks = false;
	uint64_t first_ns = 0, last_ns = 0;
	int ret = 0;
	json_start(&s, text, len, origin);
	if (!json_eat(&s, '{')) {
		ret = json_bad(&s, "not a JSON object");
		goto out;
	}
	do {
		if ((ret = json_string(&s)) < 0)
			goto out;
		bool frames = !strcmp(s.text.buf, "frames"), stacks = !strcmp(s.text.buf, "stacks");
		bool first = !strcmp(s.text.buf, "first_ns"), last = !strcmp(s.text.buf, "last_ns");
		bool timeline = !strcmp(s.text.buf, "timeline");
		if (!json_eat(&s, ':')) {
			ret = json_bad(&s, "expected ':'");
			goto out;
		}
		if (first || last) {
			ret = json_uint64(&s, first ? &first_ns : &last_ns);
		} else if (timeline && agg->timeline) {
			ret = have_stacks ? read_timeline(&s, agg, nodes, nnodes)
			                  : json_bad(&s, "\"timeline\" before \"stacks\"");
		} else if (frames) {
			ret = read_frames(&s, agg, &ids, &nids);
			have_frames = true;
		} else if (stacks) {
			ret = have_frames ? read_stacks(&s, agg, ids, nids, &nodes, &nnodes)
			                  : json_bad(&s, "\"stacks\" before \"frames\"");
			have_stacks = true;
		} else {
			ret = json_skip_value(&s, 1);
		}
		if (ret < 0)
			goto out;
	} while (json_eat(&s, ','));
	if (!json_eat(&s, '}'))
		ret = json_bad(&s, "unterminated object");
	else
		agg_span(agg, first_ns, last_ns);
out:
	free(ids);
	free(nodes);
	json_release(&s);
	return ret;
}
