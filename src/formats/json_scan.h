/* A small JSON scanner shared by the readers of JSON profiles (ours and
 * speedscope's): white space, punctuation, strings (into a buffer, with
 * the escapes our writers use undone), numbers and skipping any value.
 * Errors name the input and the byte offset. The text must end in a NUL
 * (numbers are read with strtod). */
#ifndef PYCOREPROF_FORMATS_JSON_SCAN_H
#define PYCOREPROF_FORMATS_JSON_SCAN_H

#include "pycoreprof/base.h"

struct json_scan {
	const char *p, *end, *start, *origin;
	struct strbuf text;      /* the last string read, NUL-terminated */
};

/* A scanner over TEXT (LEN bytes and a NUL); release with json_release(). */
void json_start(struct json_scan *s, const char *text, size_t len, const char *origin);
void json_release(struct json_scan *s);
/* -ERR_CORRUPT naming the origin, the offset and WHAT was wrong. */
int json_bad(struct json_scan *s, const char *what);
void json_space(struct json_scan *s);
/* Skip white space, then take C if it comes next. */
bool json_eat(struct json_scan *s, char c);
/* A string into s->text. */
int json_string(struct json_scan *s);
int json_number(struct json_scan *s, double *value);
/* A whole number from 0 to 2^64-1, read exactly (a double holds only 53
 * bits: times in nanoseconds need all 64). */
int json_uint64(struct json_scan *s, uint64_t *value);
/* An object key and its ':', the key into s->text. */
int json_key(struct json_scan *s);
/* Any value, nested at most 64 deep beyond DEPTH. */
int json_skip_value(struct json_scan *s, int depth);

#endif
