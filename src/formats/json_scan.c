/* The JSON scanner of json_scan.h. */
#include <stdlib.h>
#include <string.h>

#include "formats/json_scan.h"

void json_start(struct json_scan *s, const char *text, size_t len, const char *origin)
{
	*s = (struct json_scan){.p = text, .end = text + len, .start = text, .origin = origin};
}

void json_release(struct json_scan *s)
{
	strbuf_release(&s->text);
}

int json_bad(struct json_scan *s, const char *what)
{
	return err_set(ERR_CORRUPT, "%s: offset %zu: %s", s->origin, (size_t)(s->p - s->start), what);
}

void json_space(struct json_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

bool json_eat(struct json_scan *s, char c)
{
	json_space(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

static int hex4(struct json_scan *s, uint32_t *value)
{
	*value = 0;
	for (int i = 0; i < 4; i++, s->p++) {
		if (s->p >= s->end)
			return json_bad(s, "truncated \\u escape");
		char c = *s->p;
		int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		            : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (digit < 0)
			return json_bad(s, "bad \\u escape");
		*value = *value << 4 | (uint32_t)digit;
	}
	return 0;
}

/* A string into s->text. */
int json_string(struct json_scan *s)
{
	int ret;
	strbuf_reset(&s->text);
	strbuf_add(&s->text, "", 0);    /* a terminated buffer even for "" */
	if (!json_eat(s, '"'))
		return json_bad(s, "expected a string");
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
		return json_bad(s, "unterminated string");
	s->p++;
	return strbuf_ok(&s->text) ? 0 : -ERR_NOMEM;
}

int json_number(struct json_scan *s, double *value)
{
	char *stop;
	json_space(s);
	*value = strtod(s->p, &stop);
	if (stop == s->p || stop > s->end)
		return json_bad(s, "expected a number");
	s->p = stop;
	return 0;
}

int json_uint64(struct json_scan *s, uint64_t *value)
{
	uint64_t number = 0;
	json_space(s);
	const char *start = s->p;
	for (; s->p < s->end && *s->p >= '0' && *s->p <= '9'; s->p++) {
		unsigned digit = (unsigned)(*s->p - '0');
		if (number > (UINT64_MAX - digit) / 10)
			return json_bad(s, "a number too large");
		number = number * 10 + digit;
	}
	if (s->p == start)
		return json_bad(s, "expected a whole number");
	if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
		return json_bad(s, "expected a whole number");
	*value = number;
	return 0;
}

int json_skip_value(struct json_scan *s, int depth)
{
	double ignored;
	json_space(s);
	if (s->p >= s->end || depth > 64)
		return json_bad(s, "expected a value");
	if (*s->p == '"')
		return json_string(s);
	if (*s->p == '{' || *s->p == '[') {
		char close = *s->p == '{' ? '}' : ']';
		bool object = close == '}';
		s->p++;
		if (json_eat(s, close))
			return 0;
		do {
			int ret;
			if (object && ((ret = json_string(s)) < 0 || (!json_eat(s, ':') && (ret = json_bad(s, "expected ':'")) < 0)))
				return ret;
			if ((ret = json_skip_value(s, depth + 1)) < 0)
				return ret;
		} while (json_eat(s, ','));
		return json_eat(s, close) ? 0 : json_bad(s, "unterminated object or array");
	}
	for (const char *word = "true\0false\0null\0"; *word; word += strlen(word) + 1)
		if ((size_t)(s->end - s->p) >= strlen(word) && !memcmp(s->p, word, strlen(word))) {
			s->p += strlen(word);
			return 0;
		}
	return json_number(s, &ignored);
}

int json_key(struct json_scan *s)
{
	int ret = json_string(s);
	if (ret == 0 && !json_eat(s, ':'))
		ret = json_bad(s, "expected ':'");
	return ret;
}
