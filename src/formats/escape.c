/* The escapes of names for folded stacks, XML and dumps (escape.h). The
 * JSON string escape is strbuf_add_json_string() in base/. */
#include <stdio.h>
#include <string.h>

#include "formats/escape.h"

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool is_escape(const char *s)
{
	return s[0] == '\\' && s[1] == 'x' && hex_digit(s[2]) >= 0 && hex_digit(s[3]) >= 0;
}

/* Append the character at S in visible form; returns its length in bytes. */
static size_t add_visible_char(struct strbuf *sb, const char *s, const char *also)
{
	unsigned char c = (unsigned char)*s;
	size_t len = utf8_sequence(s);
	if (c < 0x20 || c == 0x7f || !len || (c < 0x80 && also && strchr(also, c)) || (c == '\\' && is_escape(s))) {
		strbuf_addf(sb, "\\x%02x", c);
		return 1;
	}
	strbuf_add(sb, s, len);
	return len;
}

void escape_add_visible(struct strbuf *sb, const char *s, const char *also)
{
	while (*s)
		s += add_visible_char(sb, s, also);
}

size_t escape_undo(char *s, size_t len)
{
	size_t out = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 3 < len && s[i + 1] == 'x' && hex_digit(s[i + 2]) >= 0 && hex_digit(s[i + 3]) >= 0) {
			s[out++] = (char)(hex_digit(s[i + 2]) << 4 | hex_digit(s[i + 3]));
			i += 3;
		} else {
			s[out++] = s[i];
		}
	}
	s[out] = '\0';
	return out;
}

void escape_add_label(struct strbuf *sb, const struct agg_frame *f, bool folded, bool first)
{
	if (!folded) {
		escape_add_visible(sb, f->name, NULL);
	} else {
		const char *name = f->name;
		if (first && name[0] == '#') {
			strbuf_addstr(sb, "\\x23");
			name++;
		}
		size_t len = strlen(name);
		bool paren = !f->file && len && name[len - 1] == ')';
		for (const char *end = name + len - paren; name < end;)
			name += add_visible_char(sb, name, ";");
		if (paren)
			strbuf_addstr(sb, "\\x29");
	}
	if (!f->file)
		return;
	strbuf_addstr(sb, " (");
	escape_add_visible(sb, f->file, !folded ? NULL : f->line >= 0 ? ";(" : ";(:");
	if (f->line >= 0)
		strbuf_addf(sb, ":%d", f->line);
	strbuf_addch(sb, ')');
}

void escape_add_xml(struct strbuf *sb, const char *s, size_t max)
{
	for (size_t n = 0; *s && n < max; n++) {
		switch (*s) {
		case '<': strbuf_addstr(sb, "&lt;"); s++; break;
		case '>': strbuf_addstr(sb, "&gt;"); s++; break;
		case '&': strbuf_addstr(sb, "&amp;"); s++; break;
		case '"': strbuf_addstr(sb, "&quot;"); s++; break;
		default: {
			/* Visible text is valid UTF-8; a stray byte, were one
			 * there, would still not pass. */
			size_t len = utf8_sequence(s);
			if (len && (unsigned char)*s >= 0x20 && *s != 0x7f)
				strbuf_add(sb, s, len);
			else
				strbuf_addstr(sb, "\xef\xbf\xbd"); /* U+FFFD */
			s += len ? len : 1;
		}
		}
	}
}
