/* Reads speedscope's JSON file format into an aggregate: the shared frames
 * (name, file, line), then every "sampled" profile's stacks (frame
 * indices, root first) with their weights, and every "evented" profile's
 * stacks (speedscope_events.c). A profile named like one of our roots
 * (`thread 42 "main"`, `process 7 "cmd"`, or several joined by " / ")
 * gets those root frames back, as speedscope.c split them; weights in a
 * unit other than "none" are counted in multiples of the smallest. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/frame_kind.h"
#include "formats/json_scan.h"
#include "formats/speedscope_events.h"
#include "pycoreprof/formats.h"

struct speedscope_in {
	struct json_scan s;
	struct aggregate *agg;
	uint32_t *frames;            /* shared frame index -> aggregate frame id */
	size_t nframes, frames_cap;
	/* the profile being read */
	uint32_t *stack_frames;      /* every stack's frame indices, one after another */
	size_t nstack_frames, stack_frames_cap;
	size_t *stack_ends;          /* where each stack ends in stack_frames */
	size_t nstacks, stack_ends_cap;
	double *weights;
	size_t nweights, weights_cap;
	struct speedscope_events events;
	uint32_t *stack;
	size_t stack_cap;
	char *name, *file;
};

static int read_frame(struct speedscope_in *in)
{
	struct json_scan *s = &in->s;
	double line = -1;
	int ret = 0;
	free(in->name);
	free(in->file);
	in->name = in->file = NULL;
	if (!json_eat(s, '{'))
		return json_bad(s, "a frame is not an object");
	if (!json_eat(s, '}')) {
		do {
			if ((ret = json_key(s)) < 0)
				return ret;
			bool name = !strcmp(s->text.buf, "name"), file = !strcmp(s->text.buf, "file");
			if (name || file) {
				if ((ret = json_string(s)) < 0)
					return ret;
				char **slot = name ? &in->name : &in->file;
				free(*slot);
				if (!(*slot = xstrdup(s->text.buf)))
					return -ERR_NOMEM;
			} else if (!strcmp(s->text.buf, "line")) {
				if ((ret = json_number(s, &line)) < 0)
					return ret;
			} else if ((ret = json_skip_value(s, 2)) < 0) {
				return ret;
			}
		} while (json_eat(s, ','));
		if (!json_eat(s, '}'))
			return json_bad(s, "unterminated frame");
	}
	if (!in->name)
		return json_bad(s, "a frame needs a name");
	if (ARRAY_GROW(in->frames, in->frames_cap, in->nframes + 1) < 0)
		return -ERR_NOMEM;
	const char *file = in->file && in->file[0] ? in->file : NULL;
	int number = line > 0 && line < 1 << 30 ? (int)line : -1;
	return agg_frame(in->agg, frame_kind_of(in->name, file, number), in->name, file, number,
	                 &in->frames[in->nframes++]);
}

/* "shared": {"frames": [...], ...} */
static int read_shared(struct speedscope_in *in)
{
	struct json_scan *s = &in->s;
	int ret;
	if (!json_eat(s, '{'))
		return json_bad(s, "\"shared\" is not an object");
	if (json_eat(s, '}'))
		return 0;
	do {
		if ((ret = json_key(s)) < 0)
			return ret;
		if (strcmp(s->text.buf, "frames")) {
			if ((ret = json_skip_value(s, 2)) < 0)
				return ret;
			continue;
		}
		if (!json_eat(s, '['))
			return json_bad(s, "\"frames\" is not an array");
		if (json_eat(s, ']'))
			continue;
		do {
			if ((ret = read_frame(in)) < 0)
				return ret;
		} while (json_eat(s, ','));
		if (!json_eat(s, ']'))
			return json_bad(s, "unterminated frames array");
	} while (json_eat(s, ','));
	return json_eat(s, '}') ? 0 : json_bad(s, "unterminated \"shared\"");
}

static int read_samples(struct speedscope_in *in)
{
	struct json_scan *s = &in->s;
	double value;
	int ret;
	if (!json_eat(s, '['))
		return json_bad(s, "\"samples\" is not an array");
	if (json_eat(s, ']'))
		return 0;
	do {
		if (!json_eat(s, '['))
			return json_bad(s, "a sample is not an array");
		if (!json_eat(s, ']')) {
			do {
				if ((ret = json_number(s, &value)) < 0)
					return ret;
				if (!(value >= 0 && value < (double)in->nframes))    /* NaN too */
					return json_bad(s, "a sample names a frame that is not shared");
				if (ARRAY_GROW(in->stack_frames, in->stack_frames_cap, in->nstack_frames + 1) < 0)
					return -ERR_NOMEM;
				in->stack_frames[in->nstack_frames++] = (uint32_t)value;
			} while (json_eat(s, ','));
			if (!json_eat(s, ']'))
				return json_bad(s, "unterminated sample");
		}
		if (ARRAY_GROW(in->stack_ends, in->stack_ends_cap, in->nstacks + 1) < 0)
			return -ERR_NOMEM;
		in->stack_ends[in->nstacks++] = in->nstack_frames;
	} while (json_eat(s, ','));
	return json_eat(s, ']') ? 0 : json_bad(s, "unterminated \"samples\"");
}

static int read_weights(struct speedscope_in *in)
{
	struct json_scan *s = &in->s;
	double value;
	int ret;
	if (!json_eat(s, '['))
		return json_bad(s, "\"weights\" is not an array");
	if (json_eat(s, ']'))
		return 0;
	do {
		if ((ret = json_number(s, &value)) < 0)
			return ret;
		if (!(value >= 0 && value < 0x1p63))
			return json_bad(s, "a weight is negative or too large");
		if (ARRAY_GROW(in->weights, in->weights_cap, in->nweights + 1) < 0)
			return -ERR_NOMEM;
		in->weights[in->nweights++] = value;
	} while (json_eat(s, ','));
	return json_eat(s, ']') ? 0 : json_bad(s, "unterminated \"weights\"");
}

/* The profile's stacks into the aggregate, under the root frames ROOTS. */
enum { MAX_ROOTS = 8 };
static int add_stacks(struct speedscope_in *in, const uint32_t *roots, size_t nroots, bool counted)
{
	if (in->nweights && in->nweights != in->nstacks)
		return json_bad(&in->s, "a profile's samples and weights differ in number");
	double unit = 0;
	if (!counted)
		for (size_t i = 0; i < in->nweights; i++)
			if (in->weights[i] > 0 && (unit == 0 || in->weights[i] < unit))
				unit = in->weights[i];
	if (unit == 0)
		unit = 1;
	size_t start = 0;
	for (size_t i = 0; i < in->nstacks; start = in->stack_ends[i++]) {
		double weight = in->nweights ? floor(in->weights[i] / unit + 0.5) : 1;
		size_t depth = in->stack_ends[i] - start;
		if (weight < 1)
			continue;
		if (ARRAY_GROW(in->stack, in->stack_cap, depth + nroots) < 0)
			return -ERR_NOMEM;
		memcpy(in->stack, roots, nroots * sizeof(*roots));
		size_t n = nroots;
		for (size_t f = start; f < in->stack_ends[i]; f++)
			in->stack[n++] = in->frames[in->stack_frames[f]];
		int ret = agg_add(in->agg, in->stack, n, (uint64_t)weight);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The root frames a profile's NAME gives back: `thread 42 "main"`, or
 * several such labels joined by " / " (speedscope_timeline.c names its
 * profiles so); none when any part is not a root label. */
static int name_roots(struct speedscope_in *in, const char *name, uint32_t *roots, size_t *nroots)
{
	char *copy = xstrdup(name);
	int ret = 0;
	*nroots = 0;
	if (!copy)
		return -ERR_NOMEM;
	for (char *part = copy, *next; part && ret == 0; part = next) {
		next = strstr(part, " / ");
		if (next) {
			*next = '\0';
			next += 3;
		}
		enum agg_frame_kind kind = frame_kind_of(part, NULL, -1);
		if ((kind != AGG_THREAD && kind != AGG_PROCESS) || *nroots == MAX_ROOTS) {
			*nroots = 0;
			break;
		}
		ret = agg_frame(in->agg, kind, part, NULL, -1, &roots[(*nroots)++]);
	}
	free(copy);
	return ret;
}

/* The unit's nanoseconds, or 0 when it is not a time. */
static double unit_ns(const char *unit)
{
	static const struct {
		const char *name;
		double ns;
	} units[] = {{"nanoseconds", 1}, {"microseconds", 1e3}, {"milliseconds", 1e6}, {"seconds", 1e9}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(unit, units[i].name))
			return units[i].ns;
	return 0;
}

static int read_profile(struct speedscope_in *in)
{
	struct json_scan *s = &in->s;
	char *name = NULL;
	bool sampled = false, evented = false, counted = true;
	double ns_per_unit = 0;
	uint32_t roots[MAX_ROOTS];
	size_t nroots = 0;
	int ret = 0;
	in->nstack_frames = in->nstacks = in->nweights = in->events.n = 0;
	if (!json_eat(s, '{'))
		return json_bad(s, "a profile is not an object");
	if (!json_eat(s, '}')) {
		do {
			if ((ret = json_key(s)) < 0)
				goto out;
			char key[8];
			snprintf(key, sizeof(key), "%s", s->text.buf);
			if (!strcmp(key, "type") || !strcmp(key, "name") || !strcmp(key, "unit")) {
				if ((ret = json_string(s)) < 0)
					goto out;
				if (key[0] == 't') {
					sampled = !strcmp(s->text.buf, "sampled");
					evented = !strcmp(s->text.buf, "evented");
				} else if (key[0] == 'u') {
					counted = !strcmp(s->text.buf, "none");
					ns_per_unit = unit_ns(s->text.buf);
				} else {
					free(name);
					if (!(name = xstrdup(s->text.buf))) {
						ret = -ERR_NOMEM;
						goto out;
					}
				}
			} else if (!strcmp(key, "samples")) {
				ret = read_samples(in);
			} else if (!strcmp(key, "weights")) {
				ret = read_weights(in);
			} else if (!strcmp(key, "events")) {
				ret = speedscope_events_read(s, in->nframes, &in->events);
			} else {
				ret = json_skip_value(s, 2);
			}
			if (ret < 0)
				goto out;
		} while (json_eat(s, ','));
		if (!json_eat(s, '}')) {
			ret = json_bad(s, "unterminated profile");
			goto out;
		}
	}
	if (!sampled && !evented) {
		ret = err_set(ERR_CORRUPT, "%s: profile \"%s\" is neither sampled nor evented", s->origin,
		              name ? name : "");
		goto out;
	}
	if (name && (ret = name_roots(in, name, roots, &nroots)) < 0)
		goto out;
	if (evented)
		ret = speedscope_events_add(in->agg, &in->events, in->frames, roots, nroots, ns_per_unit, s->origin,
		                            name ? name : "");
	else
		ret = add_stacks(in, roots, nroots, counted);
out:
	free(name);
	return ret;
}

int profile_read_speedscope(struct aggregate *agg, const char *text, size_t len, const char *origin)
{
	struct speedscope_in in = {.agg = agg};
	struct json_scan *s = &in.s;
	const char *profiles = NULL;     /* read after the frames, wherever they are */
	int ret = 0;
	json_start(s, text, len, origin);
	if (!json_eat(s, '{')) {
		ret = json_bad(s, "not a JSON object");
		goto out;
	}
	do {
		if ((ret = json_key(s)) < 0)
			goto out;
		if (!strcmp(s->text.buf, "shared")) {
			ret = read_shared(&in);
		} else {
			if (!strcmp(s->text.buf, "profiles")) {
				json_space(s);
				profiles = s->p;
			}
			ret = json_skip_value(s, 1);
		}
		if (ret < 0)
			goto out;
	} while (json_eat(s, ','));
	if (!json_eat(s, '}')) {
		ret = json_bad(s, "unterminated object");
		goto out;
	}
	if (!profiles)
		goto out;
	s->p = profiles;
	if (!json_eat(s, '[')) {
		ret = json_bad(s, "\"profiles\" is not an array");
		goto out;
	}
	if (json_eat(s, ']'))
		goto out;
	do {
		if ((ret = read_profile(&in)) < 0)
			goto out;
	} while (json_eat(s, ','));
	if (!json_eat(s, ']'))
		ret = json_bad(s, "unterminated \"profiles\"");
out:
	free(in.frames);
	free(in.stack_frames);
	free(in.stack_ends);
	free(in.weights);
	speedscope_events_release(&in.events);
	free(in.stack);
	free(in.name);
	free(in.file);
	json_release(s);
	return ret;
}
