/* Reads back the JSON aggregate that profile_write_json() writes: the
 * frames table and the stacks. A small JSON scanner; unknown keys are
 * skipped, anything else malformed is an error naming the byte offset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/formats.h"

struct scan {
	const char *p, *end, *start, *origin;
	struct strbuf text;
};

static int bad(struct scan *s, const char *what)
{
	return err_set(ERR_CORRUPT, "%s: offset %zu: %s", s->origin, (size_t)(s->p - s->start), what);
}

static void space(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

static bool eat(struct scan *s, char c)
{
	space(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

static int hex4(struct scan *s, uint32_t *value)
{
	*value = 0;
	for (int i = 0; i < 4; i++, s->p++) {
		if (s->p >= s->end)
			return bad(s, "truncated \\u escape");
		char c = *s->p;
		int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		            : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (digit < 0)
			return bad(s, "bad \\u escape");
		*value = *value << 4 | (uint32_t)digit;
	}
	return 0;
}

/* A string into s->text. */
static int string(struct scan *s)
{
	int ret;
	strbuf_reset(&s->text);
	strbuf_add(&s->text, "", 0);    /* a terminated buffer even for "" */
	if (!eat(s, '"'))
		return bad(s, "expected a string");
	while (s->p < s->end && *s->p != '"') {
		if (*s->p != '\\') {
			strbuf_addch(&s->text, *s->p++);
			continue;
		}
		if (++s->p >= s->end)
			break;
		char c = *s->p++;
		uint32_t cp, low;
		switch (c) {
		case 'n': strbuf_addch(&s->text, '\n'); break;
		case 't': strbuf_addch(&s->text, '\t'); break;
		case 'r': strbuf_addch(&s->text, '\r'); break;
		case 'b': strbuf_addch(&s->text, '\b'); break;
		case 'f': strbuf_addch(&s->text, '\f'); break;
		case 'u':
			if ((ret = hex4(s, &cp)) < 0)
				return ret;
			if (cp >= 0xD800 && cp < 0xDC00 && s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u') {
				s->p += 2;
				if ((ret = hex4(s, &low)) < 0)
					return ret;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
			}
			/* A byte our writers could not give as UTF-8 (see
			 * strbuf_add_json_string()) is that byte again. */
			if (cp >= 0xDC80 && cp <= 0xDCFF)
				strbuf_addch(&s->text, (char)(cp & 0xFF));
			else
				strbuf_add_utf8(&s->text, cp);
			break;
		default: strbuf_addch(&s->text, c);
		}
	}
	if (s->p >= s->end)
		return bad(s, "unterminated string");
	s->p++;
	return strbuf_ok(&s->text) ? 0 : -ERR_NOMEM;
}

static int number(struct scan *s, double *value)
{
	char *stop;
	space(s);
	*value = strtod(s->p, &stop);
	if (stop == s->p || stop > s->end)
		return bad(s, "expected a number");
	s->p = stop;
	return 0;
}

static int skip_value(struct scan *s, int depth)
{
	double ignored;
	space(s);
	if (s->p >= s->end || depth > 64)
		return bad(s, "expected a value");
	if (*s->p == '"')
		return string(s);
	if (*s->p == '{' || *s->p == '[') {
		char close = *s->p == '{' ? '}' : ']';
		bool object = close == '}';
		s->p++;
		if (eat(s, close))
			return 0;
		do {
			int ret;
			if (object && ((ret = string(s)) < 0 || (!eat(s, ':') && (ret = bad(s, "expected ':'")) < 0)))
				return ret;
			if ((ret = skip_value(s, depth + 1)) < 0)
				return ret;
		} while (eat(s, ','));
		return eat(s, close) ? 0 : bad(s, "unterminated object or array");
	}
	for (const char *word = "true\0false\0null\0"; *word; word += strlen(word) + 1)
		if ((size_t)(s->end - s->p) >= strlen(word) && !memcmp(s->p, word, strlen(word))) {
			s->p += strlen(word);
			return 0;
		}
	return number(s, &ignored);
}

/* The frames table: agg frame ids in file order into *IDS. */
static int read_frames(struct scan *s, struct aggregate *agg, uint32_t **ids, size_t *count)
{
	static const char *const kinds[] = {"python", "native", "thread", "process", "error"};
	char *name = NULL, *file = NULL;
	size_t ids_cap = *count;    /* what *IDS is known to hold */
	int ret = 0;
	if (!eat(s, '['))
		return bad(s, "\"frames\" is not an array");
	if (eat(s, ']'))
		return 0;
	do {
		double line = -1;
		enum agg_frame_kind kind = AGG_PYTHON;
		enum agg_origin origin = AGG_FROM_ELSEWHERE;
		if (!eat(s, '{')) {
			ret = bad(s, "a frame is not an object");
			goto out;
		}
		do {
			if ((ret = string(s)) < 0)
				goto out;
			char key[8];
			snprintf(key, sizeof(key), "%s", s->text.buf);
			if (!eat(s, ':')) {
				ret = bad(s, "expected ':'");
				goto out;
			}
			if (!strcmp(key, "name") || !strcmp(key, "file") || !strcmp(key, "kind") || !strcmp(key, "origin")) {
				if ((ret = string(s)) < 0)
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
				if ((ret = number(s, &line)) < 0)
					goto out;
			} else if ((ret = skip_value(s, 1)) < 0) {
				goto out;
			}
		} while (eat(s, ','));
		if (!eat(s, '}') || !name) {
			ret = bad(s, "a frame needs a name");
			goto out;
		}
		if (ARRAY_GROW(*ids, ids_cap, *count + 1) < 0) {
			ret = -ERR_NOMEM;
			goto out;
		}
		struct agg_frame read = {.name = name, .file = file, .line = line >= 0 && line < 1 << 30 ? (int)line : -1,
		                         .kind = kind, .origin = origin};
		if ((ret = agg_frame_copy(agg, &read, &(*ids)[(*count)++])) < 0)
			goto out;
		free(name);
		free(file);
		name = file = NULL;
	} while (eat(s, ','));
	if (!eat(s, ']'))
		ret = bad(s, "unterminated frames array");
out:
	free(name);
	free(file);
	return ret;
}

static int read_stacks(struct scan *s, struct aggregate *agg, const uint32_t *ids, size_t nids)
{
	uint32_t *stack = NULL;
	size_t cap = 0;
	int ret = 0;
	if (!eat(s, '['))
		return bad(s, "\"stacks\" is not an array");
	if (eat(s, ']'))
		return 0;
	do {
		size_t depth = 0;
		double count = 0, waiting = 0, value;
		if (!eat(s, '{')) {
			ret = bad(s, "a stack is not an object");
			goto out;
		}
		do {
			if ((ret = string(s)) < 0)
				goto out;
			bool frames = !strcmp(s->text.buf, "frames"), is_count = !strcmp(s->text.buf, "count");
			bool is_waiting = !strcmp(s->text.buf, "waiting");
			if (!eat(s, ':')) {
				ret = bad(s, "expected ':'");
				goto out;
			}
			if (is_count || is_waiting) {
				if ((ret = number(s, is_count ? &count : &waiting)) < 0)
					goto out;
			} else if (!frames) {
				if ((ret = skip_value(s, 1)) < 0)
					goto out;
			} else if (!eat(s, '[')) {
				ret = bad(s, "a stack's frames are not an array");
				goto out;
			} else if (!eat(s, ']')) {
				do {
					if ((ret = number(s, &value)) < 0)
						goto out;
					if (!(value >= 0 && value < (double)nids)) {    /* NaN too */
						ret = bad(s, "a stack names a frame that is not in the table");
						goto out;
					}
					if (ARRAY_GROW(stack, cap, depth + 1) < 0) {
						ret = -ERR_NOMEM;
						goto out;
					}
					stack[depth++] = ids[(size_t)value];
				} while (eat(s, ','));
				if (!eat(s, ']')) {
					ret = bad(s, "unterminated frames list");
					goto out;
				}
			}
		} while (eat(s, ','));
		/* Counts a uint64_t holds; NaN fails every comparison. */
		if (!eat(s, '}') || !(count >= 0 && count < 0x1p64) || !(waiting >= 0 && waiting <= count)) {
			ret = bad(s, "bad stack entry");
			goto out;
		}
		if ((ret = agg_add_counts(agg, stack, depth, (uint64_t)count, (uint64_t)waiting)) < 0)
			goto out;
	} while (eat(s, ','));
	if (!eat(s, ']'))
		ret = bad(s, "unterminated stacks array");
out:
	free(stack);
	return ret;
}

int profile_read_json(struct aggregate *agg, const char *text, size_t len, const char *origin)
{
	struct scan s = {.p = text, .end = text + len, .start = text, .origin = origin};
	uint32_t *ids = NULL;
	size_t nids = 0;
	bool have_frames = false;
	int ret = 0;
	if (!eat(&s, '{')) {
		ret = bad(&s, "not a JSON object");
		goto out;
	}
	do {
		if ((ret = string(&s)) < 0)
			goto out;
		bool frames = !strcmp(s.text.buf, "frames"), stacks = !strcmp(s.text.buf, "stacks");
		if (!eat(&s, ':')) {
			ret = bad(&s, "expected ':'");
			goto out;
		}
		if (frames) {
			ret = read_frames(&s, agg, &ids, &nids);
			have_frames = true;
		} else if (stacks) {
			ret = have_frames ? read_stacks(&s, agg, ids, nids) : bad(&s, "\"stacks\" before \"frames\"");
		} else {
			ret = skip_value(&s, 1);
		}
		if (ret < 0)
			goto out;
	} while (eat(&s, ','));
	if (!eat(&s, '}'))
		ret = bad(&s, "unterminated object");
out:
	free(ids);
	strbuf_release(&s.text);
	return ret;
}
