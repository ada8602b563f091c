/* Cache of decoded code objects, keyed by address. Code objects are
 * immutable, so each is decoded once per run; a cheap identity check (name,
 * filename and first line) catches an address reused by another code object
 * in a live target. Entries never move or die before the walker does, so
 * the pycode pointers handed out stay valid. */
#include <stdlib.h>
#include <string.h>

#include "python/internal.h"

/* A slot of the walker's code cache. */
struct code_slot {
	uint64_t addr;           /* the key */
	struct code_cache_entry *entry;
};

/* Retired entries (replaced after an address reuse) are chained here so
 * that pointers to them stay valid; they hang off the table's end. */
struct code_retired {
	struct code_retired *next;
	struct code_cache_entry *entry;
};

static void entry_free(struct code_cache_entry *e)
{
	if (!e)
		return;
	free((char *)e->code.name);
	if (e->code.qualname != e->code.name)
		free((char *)e->code.qualname);
	free((char *)e->code.filename);
	free((uint8_t *)e->code.linetable);
	free(e);
}

static int decode(struct pywalker *w, uint64_t addr, const uint8_t *header, struct code_cache_entry **out)
{
	const struct py_layout *L = &w->layout;
	struct strbuf sb = {0};
	struct code_cache_entry *e = xcalloc(1, sizeof(*e));
	int ret;
	if (!e)
		return -ERR_NOMEM;
	e->code.addr = addr;
	e->name_ptr = load_u64(header, L->code_name);
	e->filename_ptr = load_u64(header, L->code_filename);
	e->code.firstlineno = load_i32(header, L->code_firstlineno);
	if (L->code_firsttraceable >= 0)
		e->code.first_traceable = load_i32(header, L->code_firsttraceable);

	if ((ret = py_read_string(w, e->name_ptr, &sb)) < 0)
		goto fail;
	e->code.name = strbuf_detach(&sb);
	if ((ret = py_read_string(w, e->filename_ptr, &sb)) < 0)
		goto fail;
	e->code.filename = strbuf_detach(&sb);
	e->code.qualname = e->code.name;
	if (L->code_qualname >= 0) {
		uint64_t qualname_ptr = load_u64(header, L->code_qualname);
		if (qualname_ptr && qualname_ptr != e->name_ptr && py_read_string(w, qualname_ptr, &sb) == 0)
			e->code.qualname = strbuf_detach(&sb);
		strbuf_release(&sb);
	}
	uint8_t *table = NULL;
	size_t table_size = 0;
	uint64_t table_ptr = load_u64(header, L->code_linetable);
	/* A missing line table only costs line numbers, not the frame. */
	if (table_ptr && py_read_bytes(w, table_ptr, &table, &table_size) == 0) {
		e->code.linetable = table;
		e->code.linetable_size = table_size;
	}
	if (!e->code.name || !e->code.filename) {
		ret = -ERR_NOMEM;
		goto fail;
	}
	*out = e;
	return 0;
fail:
	strbuf_release(&sb);
	entry_free(e);
	return ret;
}

int py_code_get(struct pywalker *w, uint64_t addr, const uint8_t *header, const struct pycode **out)
{
	const struct py_layout *L = &w->layout;
	int ret;
	/* Address 0 is the table's empty key; no code object lives there. */
	if (!addr)
		return err_set(ERR_CORRUPT, "object at 0x0 is not a code object");
	if ((ret = hashtab_reserve(&w->cache, w->cache.count + 1, sizeof(struct code_slot))) < 0)
		return ret;
	struct code_slot *slot = hashtab_slot_for(&w->cache, addr);
	struct code_cache_entry *e = slot->entry;
	if (e && e->name_ptr == load_u64(header, L->code_name) &&
	    e->filename_ptr == load_u64(header, L->code_filename) &&
	    e->code.firstlineno == load_i32(header, L->code_firstlineno)) {
		*out = &e->code;
		return 0;
	}
	struct code_cache_entry *fresh;
	if ((ret = decode(w, addr, header, &fresh)) < 0)
		return ret;
	if (e) {
		struct code_retired *r = xcalloc(1, sizeof(*r));
		if (!r) {
			entry_free(fresh);
			return -ERR_NOMEM;
		}
		r->entry = e;
		r->next = w->retired;
		w->retired = r;
	} else {
		hashtab_claim(&w->cache, slot, addr);
	}
	slot->entry = fresh;
	*out = &fresh->code;
	return 0;
}

void py_code_cache_free(struct pywalker *w)
{
	for (size_t i = 0; i < w->cache.cap; i++) {
		const struct code_slot *slot = hashtab_slot(&w->cache, i);
		if (slot->addr)
			entry_free(slot->entry);
	}
	hashtab_release(&w->cache);
	while (w->retired) {
		struct code_retired *next = w->retired->next;
		entry_free(w->retired->entry);
		free(w->retired);
		w->retired = next;
	}
}
