/* speedscope's "evented" profiles read into an aggregate: the open and
 * close events replayed into the stacks that were open between them, each
 * counted by how long it stayed open and, when the profile's unit is a
 * time, put on the timeline at the times it was open. The rest of the file
 * is speedscope_read.c's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/speedscope_events.h"

/* One stretch of time with the same stack open. */
struct stretch {
	double start, length;    /* in the profile's unit */
	uint32_t node;
};

static int read_event(struct json_scan *s, size_t nframes, struct speedscope_event *e)
{
	double frame = -1, at = NAN;
	int type = 0, ret;
	if (!json_eat(s, '{'))
		return json_bad(s, "an event is not an object");
	if (!json_eat(s, '}')) {
		do {
			if ((ret = json_key(s)) < 0)
				return ret;
			if (!strcmp(s->text.buf, "type")) {
				if ((ret = json_string(s)) < 0)
					return ret;
				type = !strcmp(s->text.buf, "O") ? 'O' : !strcmp(s->text.buf, "C") ? 'C' : '?';
			} else if (!strcmp(s->text.buf, "frame")) {
				ret = json_number(s, &frame);
			} else if (!strcmp(s->text.buf, "at")) {
				ret = json_number(s, &at);
			} else {
				ret = json_skip_value(s, 3);
			}
			if (ret < 0)
				return ret;
		} while (json_eat(s, ','));
		if (!json_eat(s, '}'))
			return json_bad(s, "unterminated event");
	}
	if (type != 'O' && type != 'C')
		return json_bad(s, "an event's type is neither \"O\" nor \"C\"");
	if (!(frame >= 0 && frame < (double)nframes))     /* NaN too */
		return json_bad(s, "an event names a frame that is not shared");
	if (!isfinite(at))
		return json_bad(s, "an event has no time");
	*e = (struct speedscope_event){.at = at, .frame = (uint32_t)frame, .open = type == 'O'};
	return 0;
}

int speedscope_events_read(struct json_scan *s, size_t nframes, struct speedscope_events *ev)
{
	int ret;
	if (!json_eat(s, '['))
		return json_bad(s, "\"events\" is not an array");
	if (json_eat(s, ']'))
		return 0;
	do {
		if (ARRAY_GROW(ev->items, ev->cap, ev->n + 1) < 0)
			return -ERR_NOMEM;
		if ((ret = read_event(s, nframes, &ev->items[ev->n])) < 0)
			return ret;
		ev->n++;
	} while (json_eat(s, ','));
	return json_eat(s, ']') ? 0 : json_bad(s, "unterminated \"events\"");
}

void speedscope_events_release(struct speedscope_events *ev)
{
	free(ev->items);
	memset(ev, 0, sizeof(*ev));
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The stretches of EV: replay the events on a stack of frame ids. */
static int replay(struct aggregate *agg, const struct speedscope_events *ev, const uint32_t *frame_ids,
                  const uint32_t *roots, size_t nroots, const char *origin, const char *name,
                  struct stretch **out, size_t *nout)
{
	uint32_t *stack = NULL;
	size_t depth = nroots, stack_cap = 0, cap = 0;
	uint32_t node = 0;
	int ret = 0;
	if (ARRAY_GROW(stack, stack_cap, nroots + 1) < 0)
		return -ERR_NOMEM;
	memcpy(stack, roots, nroots * sizeof(*stack));
	for (size_t i = 0; i < ev->n && ret == 0; i++) {
		const struct speedscope_event *e = &ev->items[i];
		if (i && e->at < ev->items[i - 1].at) {
			ret = err_set(ERR_CORRUPT, "%s: profile \"%s\": event %zu goes back in time", origin, name, i);
			break;
		}
		if (i && e->at > ev->items[i - 1].at && depth > nroots) {
			if ((ret = agg_add_node(agg, stack, depth, 0, 0, &node)) < 0)
				break;
			if (ARRAY_GROW(*out, cap, *nout + 1) < 0) {
				ret = -ERR_NOMEM;
				break;
			}
			(*out)[(*nout)++] = (struct stretch){.start = ev->items[i - 1].at,
			                                     .length = e->at - ev->items[i - 1].at, .node = node};
		}
		if (e->open) {
			if (ARRAY_GROW(stack, stack_cap, depth + 1) < 0) {
				ret = -ERR_NOMEM;
				break;
			}
			stack[depth++] = frame_ids[e->frame];
		} else if (depth == nroots || stack[depth - 1] != frame_ids[e->frame]) {
			ret = err_set(ERR_CORRUPT, "%s: profile \"%s\": event %zu closes a frame that is not the open one",
			              origin, name, i);
		} else {
			depth--;
		}
	}
	if (ret == 0 && depth != nroots)
		ret = err_set(ERR_CORRUPT, "%s: profile \"%s\": frames are left open at the end", origin, name);
	free(stack);
	return ret;
}

int speedscope_events_add(struct aggregate *agg, const struct speedscope_events *ev, const uint32_t *frame_ids,
                          const uint32_t *roots, size_t nroots, double ns_per_unit, const char *origin,
                          const char *name)
{
	struct stretch *stretches = NULL;
	double *lengths = NULL;
	size_t n = 0;
	int ret = replay(agg, ev, frame_ids, roots, nroots, origin, name, &stretches, &n);
	if (ret < 0 || !n)
		goto out;
	if (!(lengths = xcalloc(n, sizeof(*lengths)))) {
		ret = -ERR_NOMEM;
		goto out;
	}
	double total = 0;
	for (size_t i = 0; i < n; i++)
		total += lengths[i] = stretches[i].length;
	qsort(lengths, n, sizeof(*lengths), compare_double);
	/* A sample is the median stretch, or a thousandth of the whole when
	 * that is shorter (a few long stretches): a stack open for a while
	 * counts as that many samples, a short one as one. */
	double sample = lengths[n / 2];
	if (total / 1000 < sample)
		sample = total / 1000;
	bool timed = ns_per_unit > 0 && agg->timeline;
	for (size_t i = 0; i < n && ret == 0; i++) {
		const struct stretch *st = &stretches[i];
		double count = floor(st->length / sample + 0.5);
		if (!(count >= 1))
			count = 1;
		if (count > 0x1p40)
			count = 0x1p40;
		if ((ret = agg_count_node(agg, st->node, (uint64_t)count, 0)) < 0)
			break;
		/* Times a uint64_t of nanoseconds cannot hold are not kept. */
		double from = st->start * ns_per_unit, to = (st->start + st->length) * ns_per_unit;
		if (!timed || !(from >= 1 && to < 0x1p64))
			continue;
		struct agg_timeline *t = agg->timeline;
		uint64_t room = t->max > t->n ? t->max - t->n : 0, kept = (uint64_t)count < room ? (uint64_t)count : room;
		for (uint64_t k = 0; ret == 0 && k < kept; k++)
			ret = agg_timeline_add(agg, st->node, (uint64_t)(from + (to - from) * (double)k / count));
		t->dropped += (uint64_t)count - kept;
	}
out:
	free(stretches);
	free(lengths);
	return ret;
}
