/* Reads speedscope's JSON file format into an aggregate: the shared frames
 * (name, file, line), then every "sampled" profile's stacks (frame
 * indices, root first) with their weights. A profile named like one of our
 * roots (`thread 42 "main"`, `process 7 "cmd"`) gets that root frame back,
 * as speedscope.c split them; weights in a unit other than "none" are
 * counted in multiples of the smallest. "evented" profiles (time-ordered
 * open and close events) are not read: an error says so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/frame_kind.h"
#include "formats/json_scan.h"
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

/* The profile's stacks into the aggregate, under ROOT (NO_ROOT: none). */
enum { NO_ROOT = UINT32_MAX };
static int add_stacks(struct speedscope_in *in, uint32_t root, bool counted)
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
		if (ARRAY_GROW(in->stack, in->stack_cap, depth + 1) < 0)
			return -ERR_NOMEM;
		size_t n = 0;
		if (root != NO_ROOT)
			in->stack[n++] = root;
		for (size_t f = start; f < in->stack_ends[i]; f++)
			in->stack[n++] = in->frames[in->stack_frames[f]];
		int ret = agg_add(in->agg, in->stack, n, (uint64_t)weight);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int read_profile(struct speedscope_in *in)
{
	struct json_scan *s = &in->s;
	char *name = NULL;
	bool sampled = false, counted = true;
	int ret = 0;
	in->nstack_frames = in->nstacks = in->nweights = 0;
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
				} else if (key[0] == 'u') {
					counted = !strcmp(s->text.buf, "none");
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
	if (!sampled) {
		ret = err_set(ERR_CORRUPT, "%s: profile \"%s\" is not a sampled profile; only speedscope's "
		              "sampled profiles are read", s->origin, name ? name : "");
		goto out;
	}
	uint32_t root = NO_ROOT;
	enum agg_frame_kind kind = name ? frame_kind_of(name, NULL, -1) : AGG_PYTHON;
	if ((kind == AGG_THREAD || kind == AGG_PROCESS) && (ret = agg_frame(in->agg, kind, name, NULL, -1, &root)) < 0)
		goto out;
	ret = add_stacks(in, root, counted);
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
	free(in.stack);
	free(in.name);
	free(in.file);
	json_release(s);
	return ret;
}
