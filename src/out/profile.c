/* Choosing a profile writer by file extension or --format word. */
#include <string.h>

#include "pycoreprof/profile_out.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

int profile_format_from_name(const char *path)
{
	if (ends_with(path, ".svg"))
		return PROFILE_SVG;
	if (ends_with(path, ".folded") || ends_with(path, ".txt"))
		return PROFILE_FOLDED;
	return -1;
}

int profile_format_from_word(const char *word)
{
	if (!strcmp(word, "svg") || !strcmp(word, "flamegraph"))
		return PROFILE_SVG;
	if (!strcmp(word, "folded") || !strcmp(word, "collapsed"))
		return PROFILE_FOLDED;
	return -1;
}

int profile_write(enum profile_format format, struct strbuf *sb, const struct aggregate *agg,
                  const struct profile_meta *meta)
{
	switch (format) {
	case PROFILE_SVG:
		return profile_write_svg(sb, agg, meta);
	case PROFILE_FOLDED:
		return profile_write_folded(sb, agg, meta);
	}
	return err_set(ERR_USAGE, "unknown output format");
}
