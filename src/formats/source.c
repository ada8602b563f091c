/* Source lines shown under frames in text dumps: each file is opened once
 * through the caller's opener (which decides whose rights it is read with)
 * and kept as an array of lines. Files that cannot be read show nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pycoreprof/formats.h"

enum { MAX_SOURCE_FILES = 512, MAX_SOURCE_BYTES = 8 << 20 };

struct source_file {
	char *path;
	char *text;          /* whole file, newlines replaced by NUL */
	char **lines;
	size_t nlines;
};

static struct source_file files[MAX_SOURCE_FILES];
static size_t nfiles;

static void load(struct source_file *sf, const struct source_opener *opener)
{
	int fd = opener->open(opener->ctx, sf->path);
	if (fd < 0)
		return;
	struct strbuf sb = {0};
	char chunk[8192];
	while (sb.len < MAX_SOURCE_BYTES) {
		ssize_t got = read(fd, chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		strbuf_add(&sb, chunk, (size_t)got);
	}
	close(fd);
	if (!strbuf_ok(&sb)) {
		strbuf_release(&sb);
		return;
	}
	size_t count = 1;
	for (size_t i = 0; i < sb.len; i++)
		count += sb.buf[i] == '\n';
	sf->lines = calloc(count, sizeof(*sf->lines));
	if (!sf->lines) {
		strbuf_release(&sb);
		return;
	}
	sf->text = strbuf_detach(&sb);
	char *line = sf->text;
	for (char *p = sf->text; *p; p++) {
		if (*p == '\n') {
			*p = '\0';
			if (p > line && p[-1] == '\r')
				p[-1] = '\0';
			sf->lines[sf->nlines++] = line;
			line = p + 1;
		}
	}
	if (*line)
		sf->lines[sf->nlines++] = line;
}

const char *source_line_raw(const struct source_opener *opener, const char *file, int line)
{
	if (!opener->open || !file || line < 1 || file[0] == '<')
		return NULL;
	struct source_file *sf = NULL;
	for (size_t i = 0; i < nfiles; i++)
		if (!strcmp(files[i].path, file))
			sf = &files[i];
	if (!sf) {
		if (nfiles == MAX_SOURCE_FILES)
			return NULL;
		sf = &files[nfiles];
		sf->path = strdup(file);
		if (!sf->path)
			return NULL;
		nfiles++;
		load(sf, opener);
	}
	if ((size_t)line > sf->nlines)
		return NULL;
	return sf->lines[line - 1];
}

const char *source_line(const struct source_opener *opener, const char *file, int line)
{
	const char *text = source_line_raw(opener, file, line);
	while (text && (*text == ' ' || *text == '\t'))
		text++;
	return text;
}

void source_cache_clear(void)
{
	for (size_t i = 0; i < nfiles; i++) {
		free(files[i].path);
		free(files[i].text);
		free(files[i].lines);
	}
	memset(files, 0, sizeof(files));
	nfiles = 0;
}
