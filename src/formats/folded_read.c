/* Reading folded stacks ("root;child;leaf COUNT" per line), ours or other
 * tools' (py-spy raw output, stackcollapse-perf), into an aggregate. Names
 * come back as the writer had them before escaping (folded.c). */
#include <stdlib.h>
#include <string.h>

#include "formats/escape.h"
#include "formats/frame_kind.h"
#include "pycoreprof/formats.h"

/* Split the label TEXT (LEN bytes) "name (file:line)" into its parts, in
 * SCRATCH; other labels stay whole. Then each part's "\xHH" escapes (see
 * escape.h) are undone. */
static int intern_label(struct aggregate *agg, const char *text, size_t text_len, struct strbuf *scratch,
                        uint32_t *id)
{
	strbuf_reset(scratch);
	strbuf_add(scratch, text, text_len);
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
		escape_undo(label, strlen(label));
		escape_undo(file, strlen(file));
		return agg_frame(agg, frame_kind_of(label, file, line), label, file, line, id);
	}
	escape_undo(label, len);
	return agg_frame(agg, frame_kind_of(label, NULL, -1), label, NULL, -1, id);
}

/* Labels seen in this input, by their text, with their frame ids: a file of
 * many stacks repeats few labels, and a repeat then costs a hash of its
 * bytes instead of parsing and interning. The texts point into the input. */
struct label_slot {
	uint64_t hash;           /* of the text: the hashtab key */
	const char *text;
	size_t len;
	uint32_t id;
};

/* The frame id of label TEXT (LEN bytes), interned on first sight. */
static int label_id(struct aggregate *agg, struct hashtab *memo, const char *text, size_t len,
                    struct strbuf *scratch, uint32_t *id)
{
	int ret;
	if ((ret = hashtab_reserve(memo, memo->count + 1, sizeof(struct label_slot))) < 0)
		return ret;
	uint64_t hash = hash_bytes(0, text, len);
	size_t pos = hashtab_start(memo, hash);
	for (const struct label_slot *slot; (slot = hashtab_next(memo, hash, &pos));) {
		if (slot->len == len && !memcmp(slot->text, text, len)) {
			*id = slot->id;
			return 0;
		}
	}
	if ((ret = intern_label(agg, text, len, scratch, id)) < 0)
		return ret;
	struct label_slot *slot = hashtab_slot(memo, pos);
	hashtab_claim(memo, slot, hash);
	slot->text = text;
	slot->len = len;
	slot->id = *id;
	return 0;
}

/* One line's stack (frames still joined by ';') and count; once interned,
 * where its frame ids are. */
struct folded_line {
	const char *stack;
	size_t len;
	uint64_t count;
	size_t first, depth;    /* its frame ids: ids[first .. first + depth) */
	uint64_t key;           /* the two ids after the prefix all lines share */
};

struct line_order {
	const uint32_t *ids;
	size_t skip;             /* frames every line starts with */
};

/* Stacks by frame ids, a shorter stack before those it is a prefix of.
 * KEY decides most comparisons without looking at the ids. */
static int compare_lines(const void *a, const void *b, void *context)
{
	const struct folded_line *x = a, *y = b;
	const struct line_order *order = context;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	const uint32_t *xi = order->ids + x->first, *yi = order->ids + y->first;
	size_t n = x->depth < y->depth ? x->depth : y->depth;
	for (size_t i = order->skip + 2; i < n; i++)
		if (xi[i] != yi[i])
			return xi[i] < yi[i] ? -1 : 1;
	return (x->depth > y->depth) - (x->depth < y->depth);
}

/* Frames shared by every line, and each line's KEY for compare_lines. */
static void prepare_sort(struct folded_line *lines, size_t nlines, const uint32_t *ids, struct line_order *order)
{
	size_t skip = nlines ? lines[0].depth : 0;
	for (size_t l = 1; l < nlines && skip; l++) {
		size_t same = 0, n = lines[l].depth < skip ? lines[l].depth : skip;
		while (same < n && ids[lines[l].first + same] == ids[lines[0].first + same])
			same++;
		skip = same;
	}
	for (size_t l = 0; l < nlines; l++) {
		const uint32_t *frames = ids + lines[l].first;
		size_t depth = lines[l].depth;
		/* id + 1, or 0 past the end: a prefix sorts first. */
		uint64_t high = skip < depth ? (uint64_t)frames[skip] + 1 : 0;
		uint64_t low = skip + 1 < depth ? (uint64_t)frames[skip + 1] + 1 : 0;
		lines[l].key = high << 32 | low;
	}
	order->ids = ids;
	order->skip = skip;
}

/* A sample count: decimal digits only, no overflow. */
static bool parse_count(const char *text, size_t len, uint64_t *count)
{
	uint64_t value = 0;
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned digit = (unsigned char)text[i] - '0';
		if (digit > 9 || value > (UINT64_MAX - digit) / 10)
			return false;
		value = value * 10 + digit;
	}
	*count = value;
	return true;
}

/* Split TEXT into lines, checking each (errors name the line), into *OUT. */
static int split_lines(const char *text, size_t text_len, const char *origin, struct folded_line **out,
                       size_t *count)
{
	struct folded_line *lines = NULL;
	size_t n = 0, cap = 0, lineno = 0;
	const char *text_end = text + text_len;
	for (const char *line = text, *next; line < text_end; line = next) {
		const char *newline = memchr(line, '\n', (size_t)(text_end - line));
		const char *line_end = newline ? newline : text_end;
		next = line_end + (newline != NULL);
		lineno++;
		size_t len = (size_t)(line_end - line);
		while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
			len--;
		if (!len || line[0] == '#')
			continue;
		const char *space = memrchr(line, ' ', len);
		uint64_t value = 0;
		if (!space || !parse_count(space + 1, (size_t)(line + len - space - 1), &value)) {
			free(lines);
			return err_set(ERR_CORRUPT, "%s:%zu: not a folded stack line (expected \"frame;frame COUNT\")",
			               origin, lineno);
		}
		if (ARRAY_GROW(lines, cap, n + 1) < 0) {
			free(lines);
			return -ERR_NOMEM;
		}
		lines[n++] = (struct folded_line){.stack = line, .len = (size_t)(space - line), .count = value};
	}
	*out = lines;
	*count = n;
	return 0;
}

/* Intern every frame of every line, in file order, into *IDS. */
static int intern_lines(struct aggregate *agg, struct folded_line *lines, size_t nlines, uint32_t **ids_out)
{
	struct strbuf scratch = {0};
	struct hashtab memo = {0};
	uint32_t *ids = NULL;
	size_t nids = 0, cap = 0;
	int ret = 0;
	for (size_t l = 0; l < nlines; l++) {
		const char *frame = lines[l].stack, *space = frame + lines[l].len;
		lines[l].first = nids;
		for (const char *semi; frame < space; frame = semi + 1) {
			semi = memchr(frame, ';', (size_t)(space - frame));
			if (!semi)
				semi = space;
			size_t frame_len = (size_t)(semi - frame);
			if (!frame_len)
				continue;   /* "a;;b": no empty frame */
			if (ARRAY_GROW(ids, cap, nids + 1) < 0) {
				ret = -ERR_NOMEM;
				goto out;
			}
			if ((ret = label_id(agg, &memo, frame, frame_len, &scratch, &ids[nids])) < 0)
				goto out;
			nids++;
		}
		lines[l].depth = nids - lines[l].first;
	}
out:
	strbuf_release(&scratch);
	hashtab_release(&memo);
	if (ret < 0) {
		free(ids);
		ids = NULL;
	}
	*ids_out = ids;
	return ret;
}

int profile_read_folded(struct aggregate *agg, const char *text, size_t len, const char *origin)
{
	struct folded_line *lines = NULL;
	uint32_t *ids = NULL, *path = NULL;
	size_t nlines = 0, path_cap = 0;
	int ret = split_lines(text, len, origin, &lines, &nlines);
	if (ret < 0 || (ret = intern_lines(agg, lines, nlines, &ids)) < 0)
		goto out;
	/* In the order of their frames, each stack shares most of its frames
	 * with the one before (no lookup for them), and the stack tree is
	 * built depth first: the writers' walks then go through memory in
	 * order. The tree is the same in any order. */
	struct line_order order;
	prepare_sort(lines, nlines, ids, &order);
	if (nlines > 1)    /* LINES is NULL when there are none */
		qsort_r(lines, nlines, sizeof(*lines), compare_lines, &order);
	const uint32_t *prev = NULL;
	size_t nprev = 0;
	for (size_t l = 0; l < nlines; l++) {
		const uint32_t *frames = ids + lines[l].first;
		size_t depth = lines[l].depth, known = 0;
		if (ARRAY_GROW(path, path_cap, depth) < 0) {
			ret = -ERR_NOMEM;
			goto out;
		}
		while (known < depth && known < nprev && frames[known] == prev[known])
			known++;
		if ((ret = agg_add_path(agg, frames, depth, path, known, lines[l].count)) < 0)
			goto out;
		prev = frames;
		nprev = depth;
	}
out:
	free(lines);
	free(ids);
	free(path);
	return ret;
}
