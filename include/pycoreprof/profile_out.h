/* Profile writers: turn an aggregate into folded stacks or an interactive
 * SVG flame graph. They format into a strbuf and never print; output is the
 * same bytes for the same aggregate. */
#ifndef PYCOREPROF_PROFILE_OUT_H
#define PYCOREPROF_PROFILE_OUT_H

#include "pycoreprof/agg.h"
#include "pycoreprof/base.h"

enum profile_format { PROFILE_SVG, PROFILE_FOLDED };

struct profile_meta {
	const char *title;       /* NULL: "Flame Graph" */
	const char *subtitle;    /* NULL: none */
	int width;               /* SVG width in pixels; 0: 1200 */
	double min_width;        /* frames narrower than this many pixels are merged away; 0: 0.1 */
};

int profile_write_folded(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta);
int profile_write_svg(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta);

/* Format from a file name's extension (.svg, .folded, .txt); -1 if none. */
int profile_format_from_name(const char *path);
/* Format from a --format word; -1 if unknown. */
int profile_format_from_word(const char *word);
int profile_write(enum profile_format format, struct strbuf *sb, const struct aggregate *agg,
                  const struct profile_meta *meta);

#endif
