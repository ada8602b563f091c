/* Choosing a profile writer by file extension or --format word, and the
 * palette by name. */
#include <string.h>

#include "pycoreprof/formats.h"

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
	if (ends_with(path, ".speedscope.json") || ends_with(path, ".speedscope"))
		return PROFILE_SPEEDSCOPE;
	if (ends_with(path, ".json"))
		return PROFILE_JSON;
	if (ends_with(path, ".pb.gz") || ends_with(path, ".pprof"))
		return PROFILE_PPROF;
	return -1;
}

int profile_format_from_word(const char *word)
{
	if (!strcmp(word, "svg") || !strcmp(word, "flamegraph"))
		return PROFILE_SVG;
	if (!strcmp(word, "folded") || !strcmp(word, "collapsed"))
		return PROFILE_FOLDED;
	if (!strcmp(word, "speedscope"))
		return PROFILE_SPEEDSCOPE;
	if (!strcmp(word, "pprof"))
		return PROFILE_PPROF;
	if (!strcmp(word, "json"))
		return PROFILE_JSON;
	return -1;
}

const char *profile_format_extension(enum profile_format format)
{
	switch (format) {
	case PROFILE_SVG: return "svg";
	case PROFILE_FOLDED: return "folded";
	case PROFILE_SPEEDSCOPE: return "speedscope.json";
	case PROFILE_PPROF: return "pb.gz";
	case PROFILE_JSON: return "json";
	}
	return "out";
}

int profile_palette_from_word(const char *word)
{
	static const char *const names[] = {"package", "hot", "cold", "mono"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(word, names[i]))
			return (int)i;
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
	case PROFILE_SPEEDSCOPE:
		return profile_write_speedscope(sb, agg, meta);
	case PROFILE_PPROF:
		return profile_write_pprof(sb, agg, meta);
	case PROFILE_JSON:
		return profile_write_json(sb, agg, meta);
	}
	return err_set(ERR_USAGE, "unknown output format");
}
