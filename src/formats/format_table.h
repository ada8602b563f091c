/* The table of profile formats (format_table.c), private to formats/: what
 * reading a file needs of it. Commands go through the functions of
 * pycoreprof/formats.h, never through the table itself. */
#ifndef PYCOREPROF_FORMATS_FORMAT_TABLE_H
#define PYCOREPROF_FORMATS_FORMAT_TABLE_H

#include "pycoreprof/formats.h"

struct format_info {
	const char *word;            /* the --format word, as help and messages name it */
	const char *other_word;      /* another word --format takes, or NULL */
	const char *extensions[3];   /* without the dot, the usual one first; NULL after the last */
	int listed;                  /* how many of EXTENSIONS help names; the others are taken quietly */
	const char *help;            /* a few words after the extensions in --help, or NULL */
	int (*write)(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta);
	/* NULL when we do not read the format. */
	int (*read)(struct aggregate *agg, const char *text, size_t len, const char *origin);
	/* for READ: whether TEXT (LEN bytes) is this format, from its first
	 * bytes; NULL: whatever no other reader claims */
	bool (*claims)(const char *text, size_t len);
	bool reads_mapped;           /* READ takes a read-only mapping: no NUL after the text */
};

/* The format whose reader takes TEXT (LEN bytes), by its first bytes;
 * never NULL. */
const struct format_info *format_reader_for(const char *text, size_t len);

#endif
