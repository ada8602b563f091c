/* Reading folded stacks ("root;child;leaf COUNT" per line), ours or other
 * tools' (py-spy raw output, stackcollapse-perf), into an aggregate. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/agg.h"

/* What our own labels say about a frame: `qsort (libc.so.6)` is native
 * code (a file with no line that is not Python source), `thread 42 "main"`
 * and `process 7 "cmd"` are roots, `[unreadable stack]` a marker. */
static enum agg_frame_kind kind_of(const char *name, const char *file, int line)
{
	if (file) {
		size_t len = strlen(file);
		bool python = len > 3 && !strcmp(file + len - 3, ".py");
		return line < 0 && !python && file[0] != '<' ? AGG_NATIVE : AGG_PYTHON;
	}
	if (!strncmp(name, "thread ", 7))
		return AGG_THREAD;
	if (!strncmp(name, "process ", 8))
		return AGG_PROCESS;
	if (name[0] == '[' && name[strlen(name) - 1] == ']')
		return AGG_ERROR;
	return AGG_PYTHON;
}

/* Split "name (file:line)" into its parts, in SCRATCH (LABEL stays whole
 * for the next line to compare with); other labels stay whole. */
static int intern_label(struct aggregate *agg, const char *text, struct strbuf *scratch, uint32_t *id)
{
	strbuf_reset(scratch);
	strbuf_addstr(scratch, text);
	if (!strbuf_ok(scratch))
		return -ERR_NOMEM;
	char *label = scratch->buf;
	size_t len = scratch->len;
	char *open = len && label[len - 1] == ')' ? strrchr(label, '(') : NULL;
	if (open && open > label && open[-1] == ' ') {
		label[len - 1] = '\0';
		char *file = open + 1;
		char *colon = strrchr(file, ':');
		int line = -1;
		if (colon && colon[1]) {
			char *end;
			long value = strtol(colon + 1, &end, 10);
			if (!*end && value >= 0 && value < 1 << 30) {
				line = (int)value;
				*colon = '\0';
			}
		}
		open[-1] = '\0';
		return agg_frame(agg, kind_of(label, file, line), label, file, line, id);
	}
	return agg_frame(agg, kind_of(label, NULL, -1), label, NULL, -1, id);
}

int agg_read_folded(struct aggregate *agg, const char *text, size_t len, const char *origin)
{
	char *copy = xstrndup(text, len);
	if (!copy)
		return -ERR_NOMEM;
	int ret = agg_read_folded_in_place(agg, copy, strlen(copy), origin);
	free(copy);
	return ret;
}

int agg_read_folded_in_place(struct aggregate *agg, char *copy, size_t len, const char *origin)
{
	uint32_t *ids = NULL, *path = NULL;  /* frame and node ids, by depth */
	const char **prev = NULL;  /* the previous line's labels, by depth */
	struct strbuf scratch = {0};
	size_t ids_cap = 0, nprev = 0;
	int ret = 0;
	size_t lineno = 0;
	char *save = NULL;
	(void)len; /* the text ends at its NUL */
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		size_t n = strlen(line);
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		char *space = strrchr(line, ' ');
		char *end = NULL;
		unsigned long long count = space ? strtoull(space + 1, &end, 10) : 0;
		if (!space || !end || *end || end == space + 1) {
			ret = err_set(ERR_CORRUPT, "%s:%zu: not a folded stack line (expected \"frame;frame COUNT\")",
			              origin, lineno);
			goto out;
		}
		*space = '\0';
		size_t depth = 0, known = 0;  /* KNOWN: frames equal to the previous line's */
		char *frame_save = NULL;
		for (char *frame = strtok_r(line, ";", &frame_save); frame; frame = strtok_r(NULL, ";", &frame_save)) {
			if (depth == ids_cap) {
				size_t cap = ids_cap ? ids_cap * 2 : 64;
				uint32_t *grown = xrealloc_array(ids, cap, sizeof(*grown));
				if (grown)
					ids = grown;
				const char **grown_prev = grown ? xrealloc_array(prev, cap, sizeof(*grown_prev)) : NULL;
				if (grown_prev)
					prev = grown_prev;
				uint32_t *grown_path = grown_prev ? xrealloc_array(path, cap, sizeof(*grown_path)) : NULL;
				if (!grown_path) {
					ret = -ERR_NOMEM;
					goto out;
				}
				path = grown_path;
				ids_cap = cap;
			}
			/* Sorted folded files repeat the previous line's prefix: a
			 * label equal to the one at the same depth has its id already. */
			if (depth < nprev && !strcmp(prev[depth], frame)) {
				if (known == depth)
					known++;
			} else if ((ret = intern_label(agg, frame, &scratch, &ids[depth])) < 0) {
				goto out;
			}
			prev[depth++] = frame;
		}
		nprev = depth;
		if ((ret = agg_add_path(agg, ids, depth, path, known, count)) < 0)
			goto out;
	}
out:
	strbuf_release(&scratch);
	free(prev);
	free(path);
	free(ids);
	return ret;
}
