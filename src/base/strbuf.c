/* Growable, always NUL-terminated byte buffers, with helpers for JSON
 * string literals and UTF-8 encoding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"

void strbuf_release(struct strbuf *sb)
{
	free(sb->buf);
	*sb = (struct strbuf){0};
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

bool strbuf_grow(struct strbuf *sb, size_t extra)
{
	if (sb->failed)
		return false;
	if (sb->len + extra + 1 <= sb->cap)
		return true;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	char *grown = realloc(sb->buf, cap);
	if (!grown) {
		sb->failed = true;
		err_set(ERR_NOMEM, "cannot grow a buffer to %zu bytes", cap);
		return false;
	}
	sb->buf = grown;
	sb->cap = cap;
	return true;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if (!strbuf_grow(sb, len))
		return;
	if (len)    /* DATA may be NULL then (an empty buffer's) */
		memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(struct strbuf *sb, char c)
{
	strbuf_add(sb, &c, 1);
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list copy;
	va_copy(copy, ap);
	int need = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (need < 0 || !strbuf_grow(sb, (size_t)need))
		return;
	vsnprintf(sb->buf + sb->len, (size_t)need + 1, fmt, ap);
	sb->len += (size_t)need;
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

void strbuf_add_utf8(struct strbuf *sb, uint32_t cp)
{
	char out[4];
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		strbuf_addch(sb, (char)cp);
	} else if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		strbuf_add(sb, out, 2);
	} else if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		strbuf_add(sb, out, 3);
	} else {
		out[0] = (char)(0xF0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[3] = (char)(0x80 | (cp & 0x3F));
		strbuf_add(sb, out, 4);
	}
}

size_t utf8_sequence(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	if (s[0] < 0x80)
		return 1;
	size_t len = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
	             : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) || (s[0] == 0xF0 && s[1] < 0x90)
	    || (s[0] == 0xF4 && s[1] >= 0x90))
		return 0;
	return len;
}

void strbuf_add_json_string(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': strbuf_addstr(sb, "\\\""); break;
		case '\\': strbuf_addstr(sb, "\\\\"); break;
		case '\n': strbuf_addstr(sb, "\\n"); break;
		case '\r': strbuf_addstr(sb, "\\r"); break;
		case '\t': strbuf_addstr(sb, "\\t"); break;
		default:
			if (*p < 0x20) {
				strbuf_addf(sb, "\\u%04x", *p);
			} else if (*p < 0x80) {
				strbuf_addch(sb, (char)*p);
			} else {
				size_t len = utf8_sequence((const char *)p);
				if (len)
					strbuf_add(sb, p, len);
				else
					strbuf_addf(sb, "\\udc%02x", *p);
				p += len ? len - 1 : 0;
			}
		}
	}
	strbuf_addch(sb, '"');
}

char *strbuf_detach(struct strbuf *sb)
{
	char *out = sb->buf;
	if (!out)
		out = xstrdup("");
	*sb = (struct strbuf){0};
	return out;
}
