/* pprof's profile.proto, gzip-compressed: sample types samples/count and
 * cpu/nanoseconds (wall with idle threads), one function per (name, file),
 * one location per frame and line; native frames with their address and
 * the mapping of their file (range, offset, build-id) when the aggregate
 * knows them, so that pprof can symbolize what we could not name, else
 * their library as mapping. No timestamps. Strings are written in visible
 * form (escape.h). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "formats/escape.h"
#include "formats/protobuf.h"
#include "pycoreprof/formats.h"

/* Profile message field numbers (profile.proto). */
enum { P_SAMPLE_TYPE = 1, P_SAMPLE, P_MAPPING, P_LOCATION, P_FUNCTION, P_STRING_TABLE,
       P_DURATION_NANOS = 10, P_PERIOD_TYPE, P_PERIOD, P_DEFAULT_SAMPLE_TYPE = 14 };

/* A slot of the string and function tables: the hash of a string, or of
 * a function's (name, file, native), and its index. */
struct index_slot {
	uint64_t hash;
	uint32_t index;
};

/* Strings interned to table indices; index 0 is "". */
struct string_table {
	const char **strings;
	size_t count, cap;
	struct hashtab index;
};

struct function {
	uint32_t name, system_name, file;
	int start_line;
	bool native;
};

/* A mapping written: the aggregate's (AGG_MAPPING, its index + 1), with
 * its range and build-id, or a library known by name only (AGG_MAPPING 0). */
struct mapping {
	uint32_t agg_mapping;
	uint32_t file, build_id;        /* string indices */
	bool all_named;                 /* every location in it has a symbol's name */
};

struct pprof {
	const struct aggregate *agg;
	struct frame_order order;
	struct string_table strings;
	struct function *functions;     /* id - 1 */
	size_t nfunctions, functions_cap;
	struct hashtab function_index;  /* (name, file, native) -> id - 1 */
	uint32_t *function_of;          /* canonical frame index -> function id */
	uint32_t *mapping_of;           /* canonical frame index -> mapping id, 0: none */
	struct mapping *mappings;       /* mapping id - 1 */
	size_t nmappings, mappings_cap;
	char **owned;                   /* strings made here (system names) */
	size_t nowned, owned_cap;
	struct strbuf message, scratch;
	uint64_t *ids, period;
	size_t ids_cap;
	struct strbuf *out;
};

static int intern(struct string_table *t, const char *s, uint32_t *index)
{
	int ret;
	if ((ret = hashtab_reserve(&t->index, t->count + 1, sizeof(struct index_slot))) < 0)
		return ret;
	uint64_t hash = hash_bytes(0, s, strlen(s));
	size_t pos = hashtab_start(&t->index, hash);
	for (const struct index_slot *slot; (slot = hashtab_next(&t->index, hash, &pos));)
		if (!strcmp(t->strings[slot->index], s)) {
			*index = slot->index;
			return 0;
		}
	if (ARRAY_GROW(t->strings, t->cap, t->count + 1) < 0)
		return -ERR_NOMEM;
	t->strings[t->count] = s;
	struct index_slot *slot = hashtab_slot(&t->index, pos);
	hashtab_claim(&t->index, slot, hash);
	slot->index = (uint32_t)t->count;
	*index = (uint32_t)t->count++;
	return 0;
}

static char *own(struct pprof *p, char *s)
{
	if (!s)
		return NULL;
	if (ARRAY_GROW(p->owned, p->owned_cap, p->nowned + 1) < 0) {
		free(s);
		return NULL;
	}
	p->owned[p->nowned++] = s;
	return s;
}

/* Functions are (name, file) pairs; native ones are kept apart. */
static int function_for(struct pprof *p, const struct agg_frame *f, uint32_t *id)
{
	uint32_t name, file = 0, system_name;
	bool native = f->kind == AGG_NATIVE;
	int ret;
	if ((ret = intern(&p->strings, f->name, &name)) < 0 || (f->file && (ret = intern(&p->strings, f->file, &file)) < 0))
		return ret;
	if ((ret = hashtab_reserve(&p->function_index, p->nfunctions + 1, sizeof(struct index_slot))) < 0)
		return ret;
	uint64_t hash = hash_pair((uint64_t)name << 32 | file, native);
	size_t pos = hashtab_start(&p->function_index, hash);
	for (const struct index_slot *slot; (slot = hashtab_next(&p->function_index, hash, &pos));) {
		struct function *fn = &p->functions[slot->index];
		if (fn->name == name && fn->file == file && fn->native == native) {
			if (f->line > 0 && (fn->start_line == 0 || f->line < fn->start_line))
				fn->start_line = f->line;
			*id = slot->index + 1;
			return 0;
		}
	}
	/* pprof "demangles" a function whose system name equals its name and
	 * strips anything in angle brackets, so `<module>` would lose its
	 * name: the system name is qualified by the file instead. */
	const char *system = own(p, xasprintf("%s:%s", f->file ? f->file : "", f->name));
	if (!system)
		return -ERR_NOMEM;
	if ((ret = intern(&p->strings, system, &system_name)) < 0)
		return ret;
	if (ARRAY_GROW(p->functions, p->functions_cap, p->nfunctions + 1) < 0)
		return -ERR_NOMEM;
	p->functions[p->nfunctions] = (struct function){name, system_name, file, f->line > 0 ? f->line : 0, native};
	struct index_slot *slot = hashtab_slot(&p->function_index, pos);
	hashtab_claim(&p->function_index, slot, hash);
	slot->index = (uint32_t)p->nfunctions;
	*id = (uint32_t)++p->nfunctions;
	return 0;
}

/* The mapping of native frame F: the aggregate's, else its library's name. */
static int mapping_for(struct pprof *p, const struct agg_frame *f, uint32_t *id)
{
	const struct agg_mapping *known = f->mapping ? &p->agg->mappings[f->mapping - 1] : NULL;
	uint32_t file, build_id = 0;
	int ret = intern(&p->strings, known ? known->path : f->file, &file);
	if (ret == 0 && known && known->build_id)
		ret = intern(&p->strings, known->build_id, &build_id);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < p->nmappings; i++) {
		struct mapping *m = &p->mappings[i];
		if (m->agg_mapping == f->mapping && (f->mapping || m->file == file)) {
			m->all_named &= f->named;
			*id = (uint32_t)i + 1;
			return 0;
		}
	}
	if (ARRAY_GROW(p->mappings, p->mappings_cap, p->nmappings + 1) < 0)
		return -ERR_NOMEM;
	p->mappings[p->nmappings] = (struct mapping){f->mapping, file, build_id, f->named};
	*id = (uint32_t)++p->nmappings;
	return 0;
}

static void add_value_type(struct pprof *p, unsigned field, uint32_t type, uint32_t unit)
{
	strbuf_reset(&p->message);
	pb_uint(&p->message, 1, type);
	pb_uint(&p->message, 2, unit);
	pb_bytes(p->out, field, p->message.buf, p->message.len);
}

static int add_sample(void *opaque, const uint32_t *frames, size_t depth, uint64_t count, uint64_t waiting)
{
	struct pprof *p = opaque;
	if (ARRAY_GROW(p->ids, p->ids_cap, depth) < 0)
		return -ERR_NOMEM;
	/* Locations are numbered as the walk meets them; listed leaf first. */
	frame_order_note(&p->order, frames, depth);
	for (size_t i = 0; i < depth; i++)
		p->ids[i] = p->order.index_of[frames[depth - 1 - i]] + 1;
	uint64_t values[2] = {count, count * p->period};
	strbuf_reset(&p->message);
	pb_packed(&p->message, 1, p->ids, depth, &p->scratch);
	pb_packed(&p->message, 2, values, 2, &p->scratch);
	pb_bytes(p->out, P_SAMPLE, p->message.buf, p->message.len);
	return 0;
}

static int build(struct pprof *p, const struct profile_meta *meta)
{
	const struct aggregate *agg = p->agg;
	uint32_t s[4], empty;
	int ret;
	if ((ret = frame_order_start(&p->order, agg)) < 0)
		return ret;
	const char *const fixed[] = {"samples", "count", meta && meta->wall ? "wall" : "cpu", "nanoseconds"};
	if ((ret = intern(&p->strings, "", &empty)) < 0)
		return ret;
	for (int i = 0; i < 4; i++)
		if ((ret = intern(&p->strings, fixed[i], &s[i])) < 0)
			return ret;
	p->period = meta && meta->interval > 0 ? (uint64_t)(meta->interval * 1e9 + 0.5) : 10000000;

	add_value_type(p, P_SAMPLE_TYPE, s[0], s[1]);
	add_value_type(p, P_SAMPLE_TYPE, s[2], s[3]);
	if ((ret = stack_walk(agg, 0, add_sample, p)) < 0)
		return ret;
	size_t n = p->order.count ? p->order.count : 1;
	p->function_of = xcalloc(n, sizeof(*p->function_of));
	p->mapping_of = xcalloc(n, sizeof(*p->mapping_of));
	if (!p->function_of || !p->mapping_of)
		return -ERR_NOMEM;
	for (size_t i = 0; i < p->order.count; i++) {
		const struct agg_frame *f = &agg->frames[p->order.frame_at[i]];
		if ((ret = function_for(p, f, &p->function_of[i])) < 0)
			return ret;
		if (f->kind == AGG_NATIVE && (f->mapping || f->file) && (ret = mapping_for(p, f, &p->mapping_of[i])) < 0)
			return ret;
	}
	for (size_t i = 0; i < p->nmappings; i++) {
		const struct mapping *m = &p->mappings[i];
		const struct agg_mapping *known = m->agg_mapping ? &agg->mappings[m->agg_mapping - 1] : NULL;
		strbuf_reset(&p->message);
		pb_uint(&p->message, 1, i + 1);
		if (known) {
			pb_uint(&p->message, 2, known->start);
			pb_uint(&p->message, 3, known->limit);
			pb_uint(&p->message, 4, known->file_offset);
		}
		pb_uint(&p->message, 5, m->file);
		pb_uint(&p->message, 6, m->build_id);
		/* has_functions: pprof symbolizes a mapping without it from the
		 * file, which names what we could only give an offset. */
		pb_uint(&p->message, 7, m->all_named || !known);
		pb_bytes(p->out, P_MAPPING, p->message.buf, p->message.len);
	}
	for (size_t i = 0; i < p->order.count; i++) {
		const struct agg_frame *f = &agg->frames[p->order.frame_at[i]];
		strbuf_reset(&p->scratch);
		pb_uint(&p->scratch, 1, p->function_of[i]);
		pb_uint(&p->scratch, 2, f->line > 0 ? (uint64_t)f->line : 0);
		strbuf_reset(&p->message);
		pb_uint(&p->message, 1, i + 1);
		pb_uint(&p->message, 2, p->mapping_of[i]);
		pb_uint(&p->message, 3, f->kind == AGG_NATIVE ? f->address : 0);
		pb_bytes(&p->message, 4, p->scratch.buf, p->scratch.len);
		pb_bytes(p->out, P_LOCATION, p->message.buf, p->message.len);
	}
	for (size_t i = 0; i < p->nfunctions; i++) {
		const struct function *fn = &p->functions[i];
		strbuf_reset(&p->message);
		pb_uint(&p->message, 1, i + 1);
		pb_uint(&p->message, 2, fn->name);
		pb_uint(&p->message, 3, fn->system_name);
		pb_uint(&p->message, 4, fn->file);
		pb_uint(&p->message, 5, (uint64_t)fn->start_line);
		pb_bytes(p->out, P_FUNCTION, p->message.buf, p->message.len);
	}
	/* Strings in visible form: valid UTF-8, as protobuf strings must be,
	 * without control characters. Ordinary ones are unchanged. */
	for (size_t i = 0; i < p->strings.count; i++) {
		strbuf_reset(&p->message);
		escape_add_visible(&p->message, p->strings.strings[i], NULL);
		pb_bytes(p->out, P_STRING_TABLE, p->message.buf ? p->message.buf : "", p->message.len);
	}
	if (meta && meta->duration > 0)
		pb_uint(p->out, P_DURATION_NANOS, (uint64_t)(meta->duration * 1e9 + 0.5));
	add_value_type(p, P_PERIOD_TYPE, s[2], s[3]);
	pb_uint(p->out, P_PERIOD, p->period);
	if (!strbuf_ok(p->out) || !strbuf_ok(&p->message) || !strbuf_ok(&p->scratch))
		return -ERR_NOMEM;
	return 0;
}

/* gzip with a zero timestamp, so equal profiles give equal files; the
 * fastest level: the string table repeats itself, and level 6 spent most
 * of the time on it for little gain. */
static int gzip_into(struct strbuf *sb, const struct strbuf *raw)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return err_set(ERR_NOMEM, "cannot start gzip compression");
	int ret = 0;
	uLong bound = deflateBound(&z, (uLong)raw->len);
	if (!strbuf_grow(sb, bound)) {
		ret = -ERR_NOMEM;
		goto out;
	}
	z.next_in = (Bytef *)raw->buf;
	z.avail_in = (uInt)raw->len;
	z.next_out = (Bytef *)sb->buf + sb->len;
	z.avail_out = (uInt)bound;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		ret = err_set(ERR_IO, "cannot compress the pprof profile");
		goto out;
	}
	sb->len += z.total_out;
	sb->buf[sb->len] = '\0';
out:
	deflateEnd(&z);
	return ret;
}

int profile_write_pprof(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta)
{
	struct strbuf raw = {0};
	struct pprof p = {.agg = agg, .out = &raw};
	int ret = build(&p, meta);
	if (ret == 0)
		ret = gzip_into(sb, &raw);
	strbuf_release(&raw);
	strbuf_release(&p.message);
	strbuf_release(&p.scratch);
	for (size_t i = 0; i < p.nowned; i++)
		free(p.owned[i]);
	free(p.owned);
	free(p.ids);
	free(p.functions);
	hashtab_release(&p.function_index);
	free(p.function_of);
	free(p.mapping_of);
	free(p.mappings);
	free(p.strings.strings);
	hashtab_release(&p.strings.index);
	frame_order_release(&p.order);
	return ret;
}
