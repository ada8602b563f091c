/* Frame and stack interning with sample counts. An open-addressing hash
 * table maps frames to ids; a node's child is found among its siblings, or
 * for a node with many children by a hash table of (parent, frame) pairs.
 * A stack that runs into new ground creates nodes without any lookup, and
 * adding a sample allocates nothing once warm. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/agg.h"

enum {
	WIDE = 8,            /* children found by scanning up to this many */
};

/* A slot of both tables: the hash of a frame, or of a (parent, frame)
 * pair, and the id of the frame or child node it was made from. */
struct id_slot {
	uint64_t hash;
	uint32_t id;
};

static uint64_t text_hash(uint64_t seed, const char *text)
{
	return text ? hash_bytes(seed, text, strlen(text)) : seed;
}

static uint64_t frame_hash(enum agg_frame_kind kind, const char *name, const char *file, int line)
{
	return text_hash(text_hash(hash_pair(kind, (uint32_t)line), name), file);
}

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

int agg_init(struct aggregate *agg)
{
	memset(agg, 0, sizeof(*agg));
	agg->nodes = xcalloc(64, sizeof(*agg->nodes));
	if (!agg->nodes)
		return -ERR_NOMEM;
	agg->nodes_cap = 64;
	agg->nnodes = 1; /* the root */
	return 0;
}

void agg_release(struct aggregate *agg)
{
	for (size_t i = 0; i < agg->nframes; i++) {
		free(agg->frames[i].name);
		free(agg->frames[i].file);
	}
	free(agg->frames);
	for (size_t i = 0; i < agg->nmappings; i++) {
		free(agg->mappings[i].path);
		free(agg->mappings[i].build_id);
	}
	free(agg->mappings);
	free(agg->nodes);
	if (agg->timeline)
		free(agg->timeline->events);
	free(agg->timeline);
	hashtab_release(&agg->frame_index);
	hashtab_release(&agg->child_index);
	memset(agg, 0, sizeof(*agg));
}

int agg_frame(struct aggregate *agg, enum agg_frame_kind kind, const char *name, const char *file, int line,
              uint32_t *id)
{
	struct hashtab *index = &agg->frame_index;
	int ret;
	if ((ret = hashtab_reserve(index, agg->nframes + 1, sizeof(struct id_slot))) < 0)
		return ret;
	uint64_t hash = frame_hash(kind, name, file, line);
	size_t pos = hashtab_start(index, hash);
	for (const struct id_slot *slot; (slot = hashtab_next(index, hash, &pos));) {
		const struct agg_frame *f = &agg->frames[slot->id];
		if (f->kind == kind && f->line == line && same_text(f->name, name) && same_text(f->file, file)) {
			*id = slot->id;
			return 0;
		}
	}
	if (ARRAY_GROW(agg->frames, agg->frames_cap, agg->nframes + 1) < 0)
		return -ERR_NOMEM;
	struct agg_frame *f = &agg->frames[agg->nframes];
	f->name = xstrdup(name ? name : "?");
	f->file = file ? xstrdup(file) : NULL;
	if (!f->name || (file && !f->file)) {
		free(f->name);
		free(f->file);
		return -ERR_NOMEM;
	}
	f->line = line;
	f->kind = kind;
	f->origin = AGG_FROM_ELSEWHERE;
	f->address = 0;
	f->mapping = 0;
	f->named = true;
	struct id_slot *slot = hashtab_slot(index, pos);
	hashtab_claim(index, slot, hash);
	slot->id = (uint32_t)agg->nframes;
	*id = (uint32_t)agg->nframes++;
	return 0;
}

int agg_frame_rename(struct aggregate *agg, uint32_t id, const char *name)
{
	char *copy = id < agg->nframes ? xstrdup(name) : NULL;
	if (!copy)
		return id < agg->nframes ? -ERR_NOMEM : err_set(ERR_USAGE, "no frame %u to rename", (unsigned)id);
	/* The index is keyed by the frames' contents: built again, with
	 * room already there for every frame. */
	struct hashtab index = {0};
	if (hashtab_reserve(&index, agg->nframes, sizeof(struct id_slot)) < 0) {
		free(copy);
		return -ERR_NOMEM;
	}
	free(agg->frames[id].name);
	agg->frames[id].name = copy;
	for (uint32_t i = 0; i < agg->nframes; i++) {
		const struct agg_frame *f = &agg->frames[i];
		uint64_t hash = frame_hash(f->kind, f->name, f->file, f->line);
		size_t pos = hashtab_start(&index, hash);
		while (hashtab_next(&index, hash, &pos))
			;
		struct id_slot *slot = hashtab_slot(&index, pos);
		hashtab_claim(&index, slot, hash);
		slot->id = i;
	}
	hashtab_release(&agg->frame_index);
	agg->frame_index = index;
	return 0;
}

/* Index child ID of a wide node. */
static int hash_child(struct aggregate *agg, uint32_t id)
{
	struct hashtab *index = &agg->child_index;
	int ret;
	if ((ret = hashtab_reserve(index, index->count + 1, sizeof(struct id_slot))) < 0)
		return ret;
	const struct agg_node *n = &agg->nodes[id];
	uint64_t hash = hash_pair(n->parent, n->frame);
	size_t pos = hashtab_start(index, hash);
	for (const struct id_slot *slot; (slot = hashtab_next(index, hash, &pos));)
		if (slot->id == id)
			return 0;
	struct id_slot *slot = hashtab_slot(index, pos);
	hashtab_claim(index, slot, hash);
	slot->id = id;
	return 0;
}

static uint32_t find_child(const struct aggregate *agg, uint32_t parent, uint32_t frame)
{
	const struct agg_node *p = &agg->nodes[parent];
	if (p->nchildren <= WIDE) {
		for (uint32_t c = p->first_child; c; c = agg->nodes[c].next_sibling)
			if (agg->nodes[c].frame == frame)
				return c;
		return 0;
	}
	uint64_t hash = hash_pair(parent, frame);
	size_t pos = hashtab_start(&agg->child_index, hash);
	for (const struct id_slot *slot; (slot = hashtab_next(&agg->child_index, hash, &pos));) {
		const struct agg_node *n = &agg->nodes[slot->id];
		if (n->parent == parent && n->frame == frame)
			return slot->id;
	}
	return 0;
}

static int child(struct aggregate *agg, uint32_t parent, uint32_t frame, uint32_t *out)
{
	int ret;
	uint32_t found = find_child(agg, parent, frame);
	if (found) {
		*out = found;
		return 0;
	}
	if (ARRAY_GROW(agg->nodes, agg->nodes_cap, agg->nnodes + 1) < 0)
		return -ERR_NOMEM;
	uint32_t id = (uint32_t)agg->nnodes++;
	struct agg_node *n = &agg->nodes[id];
	struct agg_node *p = &agg->nodes[parent];
	memset(n, 0, sizeof(*n));
	n->parent = parent;
	n->frame = frame;
	n->next_sibling = p->first_child;
	p->first_child = id;
	/* Past WIDE children a node's children go into the table: all of them
	 * the first time. */
	if (++p->nchildren == WIDE + 1) {
		for (uint32_t c = p->first_child; c; c = agg->nodes[c].next_sibling)
			if ((ret = hash_child(agg, c)) < 0)
				return ret;
	} else if (p->nchildren > WIDE && (ret = hash_child(agg, id)) < 0) {
		return ret;
	}
	*out = id;
	return 0;
}

int agg_python_frame(struct aggregate *agg, const char *name, const char *path, int line, uint32_t *id)
{
	enum agg_origin origin;
	const char *file = short_filename_from(path, &origin);
	int ret = agg_frame(agg, AGG_PYTHON, name, file, line, id);
	if (ret == 0 && origin != AGG_FROM_ELSEWHERE)
		agg->frames[*id].origin = origin;
	return ret;
}

/* The mapping of SITE as an index + 1 into AGG's mappings, added when new. */
static int intern_mapping(struct aggregate *agg, const struct agg_native_site *site, uint32_t *index)
{
	for (size_t i = 0; i < agg->nmappings; i++) {
		const struct agg_mapping *m = &agg->mappings[i];
		if (m->start == site->start && !strcmp(m->path, site->path)) {
			*index = (uint32_t)i + 1;
			return 0;
		}
	}
	if (ARRAY_GROW(agg->mappings, agg->mappings_cap, agg->nmappings + 1) < 0)
		return -ERR_NOMEM;
	struct agg_mapping *m = &agg->mappings[agg->nmappings];
	*m = (struct agg_mapping){.path = xstrdup(site->path),
	                          .build_id = site->build_id ? xstrdup(site->build_id) : NULL,
	                          .start = site->start, .limit = site->limit, .file_offset = site->file_offset};
	if (!m->path || (site->build_id && !m->build_id)) {
		free(m->path);
		free(m->build_id);
		return -ERR_NOMEM;
	}
	*index = (uint32_t)++agg->nmappings;
	return 0;
}

/* Give frame ID its site if it has none yet. */
static int set_site(struct aggregate *agg, uint32_t id, bool named, const struct agg_native_site *site)
{
	struct agg_frame *f = &agg->frames[id];
	if (f->address || !site || !site->address)
		return 0;
	uint32_t mapping = 0;
	int ret;
	if (site->path && site->limit > site->start && (ret = intern_mapping(agg, site, &mapping)) < 0)
		return ret;
	f = &agg->frames[id];
	f->address = site->address;
	f->mapping = mapping;
	f->named = named;
	return 0;
}

int agg_native_frame(struct aggregate *agg, const char *name, const char *library, bool named,
                     const struct agg_native_site *site, uint32_t *id)
{
	int ret = agg_frame(agg, AGG_NATIVE, name, library, -1, id);
	if (ret == 0)
		ret = set_site(agg, *id, named, site);
	return ret;
}

int agg_frame_copy(struct aggregate *agg, const struct aggregate *from, const struct agg_frame *f, uint32_t *id)
{
	int ret = agg_frame(agg, f->kind, f->name, f->file, f->line, id);
	if (ret == 0 && f->origin != AGG_FROM_ELSEWHERE)
		agg->frames[*id].origin = f->origin;
	if (ret == 0 && from && f->address) {
		const struct agg_mapping *m = f->mapping ? &from->mappings[f->mapping - 1] : NULL;
		struct agg_native_site site = {.address = f->address};
		if (m)
			site = (struct agg_native_site){.address = f->address, .path = m->path, .build_id = m->build_id,
			                                .start = m->start, .limit = m->limit, .file_offset = m->file_offset};
		ret = set_site(agg, *id, f->named, &site);
	}
	return ret;
}

int agg_add_counts(struct aggregate *agg, const uint32_t *frames, size_t n, uint64_t count, uint64_t waiting)
{
	uint32_t node;
	return agg_add_node(agg, frames, n, count, waiting, &node);
}

int agg_add_node(struct aggregate *agg, const uint32_t *frames, size_t n, uint64_t count, uint64_t waiting,
                 uint32_t *leaf)
{
	uint32_t node = 0;
	int ret;
	for (size_t i = 0; i < n; i++)
		if ((ret = child(agg, node, frames[i], &node)) < 0)
			return ret;
	*leaf = node;
	return agg_count_node(agg, node, count, waiting);
}

int agg_count_node(struct aggregate *agg, uint32_t node, uint64_t count, uint64_t waiting)
{
	agg->nodes[node].self += count;
	agg->nodes[node].waiting += waiting < count ? waiting : count;
	for (uint32_t up = node;; up = agg->nodes[up].parent) {
		agg->nodes[up].total += count;
		if (up == 0)
			break;
	}
	agg->samples += count;
	return agg->added ? agg->added(agg->added_ctx, node, count, waiting < count ? waiting : count) : 0;
}

int agg_add_at(struct aggregate *agg, const uint32_t *frames, size_t n, uint64_t count, uint64_t waiting,
               uint64_t when_ns)
{
	uint32_t node;
	int ret = agg_add_node(agg, frames, n, count, waiting, &node);
	if (ret == 0 && agg->timeline && when_ns && node)
		ret = agg_timeline_add(agg, node, when_ns);
	return ret;
}

int agg_add(struct aggregate *agg, const uint32_t *frames, size_t n, uint64_t count)
{
	return agg_add_counts(agg, frames, n, count, 0);
}

int agg_add_waiting(struct aggregate *agg, const uint32_t *frames, size_t n, uint64_t count)
{
	return agg_add_counts(agg, frames, n, count, count);
}

uint64_t *agg_waiting_totals(const struct aggregate *agg)
{
	uint64_t *totals = xcalloc(agg->nnodes ? agg->nnodes : 1, sizeof(*totals));
	if (!totals)
		return NULL;
	for (size_t id = 0; id < agg->nnodes; id++)
		totals[id] = agg->nodes[id].waiting;
	/* Children have larger ids than their parents. */
	for (size_t id = agg->nnodes; id-- > 1;)
		totals[agg->nodes[id].parent] += totals[id];
	return totals;
}

int agg_add_path(struct aggregate *agg, const uint32_t *frames, size_t n, uint32_t *path, size_t known,
                 uint64_t count)
{
	int ret;
	for (size_t i = known; i < n; i++)
		if ((ret = child(agg, i ? path[i - 1] : 0, frames[i], &path[i])) < 0)
			return ret;
	uint32_t node = n ? path[n - 1] : 0;
	agg->nodes[node].self += count;
	for (size_t i = 0; i < n; i++)
		agg->nodes[path[i]].total += count;
	agg->nodes[0].total += count;
	agg->samples += count;
	return 0;
}

int agg_frame_compare(const struct agg_frame *x, const struct agg_frame *y)
{
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	c = strcmp(x->file ? x->file : "", y->file ? y->file : "");
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

static int compare_nodes(const void *a, const void *b, void *context)
{
	const struct aggregate *agg = context;
	return agg_frame_compare(&agg->frames[agg->nodes[*(const uint32_t *)a].frame],
	                         &agg->frames[agg->nodes[*(const uint32_t *)b].frame]);
}

int agg_sorted_children(const struct aggregate *agg, uint32_t node, uint32_t **out, size_t *count)
{
	size_t n = 0;
	for (uint32_t c = agg->nodes[node].first_child; c; c = agg->nodes[c].next_sibling)
		n++;
	uint32_t *ids = xcalloc(n ? n : 1, sizeof(*ids));
	if (!ids)
		return -ERR_NOMEM;
	size_t i = 0;
	for (uint32_t c = agg->nodes[node].first_child; c; c = agg->nodes[c].next_sibling)
		ids[i++] = c;
	if (n > 1)
		qsort_r(ids, n, sizeof(*ids), compare_nodes, (void *)agg);
	*out = ids;
	*count = n;
	return 0;
}

void agg_frame_label(const struct aggregate *agg, uint32_t frame, struct strbuf *sb)
{
	const struct agg_frame *f = &agg->frames[frame];
	strbuf_addstr(sb, f->name);
	if (f->file && f->line >= 0)
		strbuf_addf(sb, " (%s:%d)", f->file, f->line);
	else if (f->file)
		strbuf_addf(sb, " (%s)", f->file);
}
