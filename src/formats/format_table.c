/* The one table of profile formats: their --format words, file extensions,
 * writer and reader, and the lists that help and messages show, all made
 * from it. Also the flame graph palette by name. Not the formats
 * themselves: each has its own file. */
#include <stdio.h>
#include <string.h>

#include "formats/format_table.h"

/* In the order of enum profile_format, which is also the order of every
 * list shown to users. */
static bool is_gzip(const char *text, size_t len)
{
	return len >= 2 && (unsigned char)text[0] == 0x1f && (unsigned char)text[1] == 0x8b;
}

/* After white space, '{'. */
static bool is_object(const char *text, size_t len)
{
	size_t start = 0;
	while (start < len && strchr(" \t\r\n", text[start]) && text[start])
		start++;
	return start < len && text[start] == '{';
}

/* An object that names speedscope's schema near its start. */
static bool is_speedscope(const char *text, size_t len)
{
	static const char schema[] = "speedscope.app/file-format-schema";
	return is_object(text, len) && memmem(text, len < 4096 ? len : 4096, schema, sizeof(schema) - 1);
}

static const struct format_info formats[] = {
	[PROFILE_SVG] = {"svg", "flamegraph", {"svg"}, 1, "flame graph", profile_write_svg},
	[PROFILE_FOLDED] = {"folded", "collapsed", {"folded", "txt"}, 2, "folded stacks", profile_write_folded,
	                    profile_read_folded, NULL, true},
	[PROFILE_SPEEDSCOPE] = {"speedscope", NULL, {"speedscope.json", "speedscope"}, 1, NULL,
	                        profile_write_speedscope, profile_read_speedscope, is_speedscope, false},
	[PROFILE_PPROF] = {"pprof", NULL, {"pb.gz", "pprof"}, 1, "(pprof)", profile_write_pprof, profile_read_pprof,
	                   is_gzip, true},
	[PROFILE_JSON] = {"json", NULL, {"json"}, 1, NULL, profile_write_json, profile_read_json, is_object, false},
};
enum { NFORMATS = sizeof(formats) / sizeof(formats[0]) };

/* PATH ends in ".EXTENSION". */
static bool has_extension(const char *path, const char *extension)
{
	size_t lp = strlen(path), lx = strlen(extension);
	return lp > lx && path[lp - lx - 1] == '.' && !strcmp(path + lp - lx, extension);
}

int profile_format_from_name(const char *path)
{
	/* The longest extension that fits: "a.speedscope.json" is speedscope,
	 * not our JSON. */
	int found = -1;
	size_t found_len = 0;
	for (int f = 0; f < NFORMATS; f++)
		for (const char *const *x = formats[f].extensions; *x; x++)
			if (has_extension(path, *x) && strlen(*x) > found_len) {
				found = f;
				found_len = strlen(*x);
			}
	return found;
}

bool profile_name_is_readable(const char *path)
{
	int format = profile_format_from_name(path);
	return format >= 0 && formats[format].read;
}

int profile_format_from_word(const char *word)
{
	for (int f = 0; f < NFORMATS; f++)
		if (!strcmp(word, formats[f].word) || (formats[f].other_word && !strcmp(word, formats[f].other_word)))
			return f;
	return -1;
}

const char *profile_format_extension(enum profile_format format)
{
	return (unsigned)format < NFORMATS ? formats[format].extensions[0] : "out";
}

int profile_write(enum profile_format format, struct strbuf *sb, const struct aggregate *agg,
                  const struct profile_meta *meta)
{
	if ((unsigned)format >= NFORMATS)
		return err_set(ERR_USAGE, "unknown output format");
	return formats[format].write(sb, agg, meta);
}

const struct format_info *format_reader_for(const char *text, size_t len)
{
	const struct format_info *any = NULL;
	for (int f = 0; f < NFORMATS; f++) {
		if (!formats[f].read)
			continue;
		if (formats[f].claims && formats[f].claims(text, len))
			return &formats[f];
		if (!formats[f].claims)
			any = &formats[f];
	}
	return any;
}

static void copy_out(char *out, const struct strbuf *sb)
{
	snprintf(out, PROFILE_LIST_SIZE, "%s", sb->buf && strbuf_ok(sb) ? sb->buf : "");
}

const char *profile_format_list(char out[PROFILE_LIST_SIZE], enum profile_list what, const char *last)
{
	struct strbuf sb = {0};
	for (int f = 0; f < NFORMATS; f++) {
		if (f)
			strbuf_addstr(&sb, f == NFORMATS - 1 ? last : ", ");
		if (what == PROFILE_LIST_EXTENSIONS)
			strbuf_addf(&sb, ".%s", formats[f].extensions[0]);
		else
			strbuf_addstr(&sb, formats[f].word);
	}
	copy_out(out, &sb);
	strbuf_release(&sb);
	return out;
}

const char *profile_format_help(char out[PROFILE_LIST_SIZE], int indent, int width)
{
	struct strbuf sb = {0}, item = {0};
	size_t line_start = 0;
	for (int f = 0; f < NFORMATS; f++) {
		strbuf_reset(&item);
		for (int x = 0; x < formats[f].listed; x++)
			strbuf_addf(&item, "%s.%s", x ? "/" : "", formats[f].extensions[x]);
		if (formats[f].help)
			strbuf_addf(&item, " %s", formats[f].help);
		if (f < NFORMATS - 1)
			strbuf_addch(&item, ',');
		bool fits = sb.len - line_start + 1 + item.len <= (size_t)width;
		if (f == 0 || !fits) {
			if (f)
				strbuf_addch(&sb, '\n');
			line_start = sb.len;
			strbuf_addf(&sb, "%*s", indent, "");
		} else {
			strbuf_addch(&sb, ' ');
		}
		strbuf_add(&sb, item.buf, item.len);
	}
	strbuf_addch(&sb, '\n');
	copy_out(out, &sb);
	strbuf_release(&sb);
	strbuf_release(&item);
	return out;
}

int profile_palette_from_word(const char *word)
{
	static const char *const names[] = {"package", "hot", "cold", "mono"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(word, names[i]))
			return (int)i;
	return -1;
}
