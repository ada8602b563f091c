/* Per-function totals of an aggregate, for the live view (`top`): every
 * function (a name and a file; roots and markers left out) with the
 * samples that ended in it (own) and the samples whose stack passes
 * through it (total: a recursive function counts once per sample), and
 * every thread root with its samples. One walk over the stack trie. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/agg.h"

struct function_slot {
	uint64_t hash;           /* of name and file: the hashtab key */
	uint32_t index;
};

static bool same_function(const struct agg_frame *x, const struct agg_frame *y)
{
	return !strcmp(x->name, y->name) && (x->file == y->file || (x->file && y->file && !strcmp(x->file, y->file)));
}

/* The function of FRAME (an id of AGG), added when new. */
static int function_of(struct agg_functions *t, const struct aggregate *agg, uint32_t frame, uint32_t *index)
{
	const struct agg_frame *f = &agg->frames[frame];
	uint64_t hash = hash_bytes(hash_bytes(0, f->name, strlen(f->name)), f->file ? f->file : "", f->file ? strlen(f->file) + 1 : 0);
	int ret;
	if ((ret = hashtab_reserve(&t->index, t->n + 1, sizeof(struct function_slot))) < 0)
		return ret;
	size_t pos = hashtab_start(&t->index, hash);
	for (const struct function_slot *slot; (slot = hashtab_next(&t->index, hash, &pos));)
		if (same_function(&agg->frames[t->items[slot->index].frame], f)) {
			*index = slot->index;
			return 0;
		}
	if (ARRAY_GROW(t->items, t->cap, t->n + 1) < 0)
		return -ERR_NOMEM;
	t->items[t->n] = (struct agg_function){.frame = frame};
	struct function_slot *slot = hashtab_slot(&t->index, pos);
	hashtab_claim(&t->index, slot, hash);
	slot->index = (uint32_t)t->n;
	*index = (uint32_t)t->n++;
	return 0;
}

static bool is_code(enum agg_frame_kind kind)
{
	return kind == AGG_PYTHON || kind == AGG_NATIVE;
}

int agg_functions_compute(const struct aggregate *agg, struct agg_functions *t)
{
	int ret = 0;
	t->n = t->nthreads = 0;
	t->samples = agg->samples;
	hashtab_release(&t->index);
	/* frame id -> function index + 1 (0: not a function), and how many
	 * times each function is on the path being walked. */
	uint32_t *of_frame = xcalloc(agg->nframes ? agg->nframes : 1, sizeof(*of_frame));
	uint32_t *on_path = NULL;
	uint64_t *frame_own = xcalloc(agg->nframes ? agg->nframes : 1, sizeof(*frame_own));
	if (!of_frame || !frame_own) {
		ret = -ERR_NOMEM;
		goto out;
	}
	for (size_t f = 0; f < agg->nframes; f++) {
		uint32_t index;
		if (!is_code(agg->frames[f].kind))
			continue;
		if ((ret = function_of(t, agg, (uint32_t)f, &index)) < 0)
			goto out;
		of_frame[f] = index + 1;
	}
	if (!(on_path = xcalloc(t->n ? t->n : 1, sizeof(*on_path)))) {
		ret = -ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < t->n; i++)
		t->items[i].own = t->items[i].total = 0;
	/* Depth first by first_child / next_sibling / parent. */
	uint32_t node = agg->nnodes > 1 ? agg->nodes[0].first_child : 0;
	while (node) {
		const struct agg_node *n = &agg->nodes[node];
		uint32_t fn = of_frame[n->frame];
		frame_own[n->frame] += n->self;
		if (fn) {
			struct agg_function *item = &t->items[fn - 1];
			item->own += n->self;
			if (!on_path[fn - 1]++)
				item->total += n->total;
		} else if (agg->frames[n->frame].kind == AGG_THREAD) {
			if (ARRAY_GROW(t->threads, t->threads_cap, t->nthreads + 1) < 0) {
				ret = -ERR_NOMEM;
				goto out;
			}
			t->threads[t->nthreads++] = (struct agg_thread_total){n->frame, n->total};
		}
		if (n->first_child) {
			node = n->first_child;
			continue;
		}
		/* Leave this node and every ancestor that has no next sibling. */
		for (;;) {
			const struct agg_node *left = &agg->nodes[node];
			if (of_frame[left->frame])
				on_path[of_frame[left->frame] - 1]--;
			if (left->next_sibling) {
				node = left->next_sibling;
				break;
			}
			node = left->parent;
			if (!node)
				break;
		}
	}
	/* Each function is shown by its frame (line) with the most own samples. */
	for (size_t f = 0; f < agg->nframes; f++) {
		if (!of_frame[f])
			continue;
		struct agg_function *item = &t->items[of_frame[f] - 1];
		if (frame_own[f] > frame_own[item->frame])
			item->frame = (uint32_t)f;
	}
out:
	free(of_frame);
	free(on_path);
	free(frame_own);
	return ret;
}

void agg_functions_release(struct agg_functions *t)
{
	free(t->items);
	free(t->threads);
	hashtab_release(&t->index);
	memset(t, 0, sizeof(*t));
}
