/* Reads pprof profiles (profile.proto, gzip-compressed as pprof and our
 * writer leave them) into an aggregate. A sample's locations, listed leaf
 * first, become a stack root first; a location with inlined functions
 * gives a frame per line; one without lines (never symbolized) is
 * `library+0xOFFSET` in its mapping. The count is the value of the
 * "samples" (or "count") sample type, else of the default type, else the
 * first. Names come back as pprof holds them: in visible form (escape.h),
 * not byte for byte. An index that points nowhere is an error naming the
 * file; so is a file that inflates past PPROF_MAX_INFLATED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "formats/frame_kind.h"
#include "formats/protobuf.h"
#include "pycoreprof/formats.h"

/* Profile message field numbers (profile.proto). */
enum { P_SAMPLE_TYPE = 1, P_SAMPLE, P_MAPPING, P_LOCATION, P_FUNCTION, P_STRING_TABLE,
       P_DEFAULT_SAMPLE_TYPE = 14 };

#define PPROF_MAX_INFLATED ((size_t)1 << 31)
enum { NO_FRAME = UINT32_MAX };

/* A table entry by its id (pprof's ids are any non-zero numbers). */
struct id_slot {
	uint64_t id;
	uint32_t index;
};

struct pp_string {
	const unsigned char *data;
	size_t len;
};

struct pp_function {
	uint64_t name, file;         /* string indices */
};

struct pp_mapping {
	uint64_t start, offset, file;
};

struct pp_line {
	uint64_t function;
	int64_t line;
	uint32_t frame;              /* the aggregate's, once interned */
};

struct pp_location {
	uint64_t mapping, address;
	size_t first_line, nlines;   /* in lines[] */
	uint32_t frame;              /* a location without lines: its frame */
};

struct pprof_in {
	struct aggregate *agg;
	const char *origin;
	struct pp_string *strings;
	size_t nstrings, strings_cap;
	struct pp_function *functions;
	size_t nfunctions, functions_cap;
	struct pp_mapping *mappings;
	size_t nmappings, mappings_cap;
	struct pp_location *locations;
	size_t nlocations, locations_cap;
	struct pp_line *lines;
	size_t nlines, lines_cap;
	struct hashtab function_ids, mapping_ids, location_ids;
	uint64_t *types;             /* each sample type's type string */
	size_t ntypes, types_cap;
	uint64_t *units;
	size_t nunits, units_cap;
	uint64_t default_type;
	struct strbuf name, file;
};

static int corrupt(const struct pprof_in *in, const char *what)
{
	return err_set(ERR_CORRUPT, "%s: not a pprof profile: %s", in->origin, what);
}

/* Inflate the gzip member at DATA into OUT. */
static int gunzip(const char *origin, const unsigned char *data, size_t len, struct strbuf *out)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return err_set(ERR_NOMEM, "cannot start gzip decompression");
	int ret = 0, status = Z_OK;
	z.next_in = (Bytef *)data;
	size_t left = len;
	while (status != Z_STREAM_END) {
		if (!z.avail_in) {
			if (!left) {
				ret = err_set(ERR_TRUNCATED, "%s: the gzip stream ends early", origin);
				break;
			}
			z.avail_in = left > (1u << 30) ? 1u << 30 : (uInt)left;
			left -= z.avail_in;
		}
		if (out->len >= PPROF_MAX_INFLATED) {
			ret = err_set(ERR_LIMIT, "%s: inflates to over %zu MiB", origin, PPROF_MAX_INFLATED >> 20);
			break;
		}
		if (!strbuf_grow(out, 1 << 16)) {
			ret = -ERR_NOMEM;
			break;
		}
		z.next_out = (Bytef *)out->buf + out->len;
		z.avail_out = 1 << 16;
		status = inflate(&z, Z_NO_FLUSH);
		out->len += (1 << 16) - z.avail_out;
		if (status != Z_OK && status != Z_STREAM_END) {
			ret = err_set(ERR_DECOMPRESS, "%s: bad gzip data (%s)", origin, z.msg ? z.msg : "zlib error");
			break;
		}
	}
	inflateEnd(&z);
	return ret;
}

/* Note table entry INDEX under ID in IDS; a repeated id is an error. */
static int note_id(struct pprof_in *in, struct hashtab *ids, uint64_t id, size_t index)
{
	int ret;
	if (!id)
		return corrupt(in, "an entry with id 0");
	if ((ret = hashtab_reserve(ids, ids->count + 1, sizeof(struct id_slot))) < 0)
		return ret;
	struct id_slot *slot = hashtab_slot_for(ids, id);
	if (slot->id)
		return corrupt(in, "two entries with one id");
	hashtab_claim(ids, slot, id);
	slot->index = (uint32_t)index;
	return 0;
}

/* The index of the entry with ID, or -1. */
static long find_id(const struct hashtab *ids, uint64_t id)
{
	const struct id_slot *slot = id ? hashtab_find(ids, id) : NULL;
	return slot ? (long)slot->index : -1;
}

static int read_value_type(struct pprof_in *in, const struct pb_field *f)
{
	struct pb_reader r = {f->data, f->data + f->len};
	struct pb_field g;
	uint64_t type = 0, unit = 0;
	int more;
	while ((more = pb_next(&r, &g)) > 0) {
		if (g.number == 1)
			type = g.value;
		else if (g.number == 2)
			unit = g.value;
	}
	if (more < 0)
		return corrupt(in, "a bad sample type");
	if (ARRAY_GROW(in->types, in->types_cap, in->ntypes + 1) < 0 || ARRAY_GROW(in->units, in->units_cap, in->nunits + 1) < 0)
		return -ERR_NOMEM;
	in->types[in->ntypes++] = type;
	in->units[in->nunits++] = unit;
	return 0;
}

static int read_function(struct pprof_in *in, const struct pb_field *f)
{
	struct pb_reader r = {f->data, f->data + f->len};
	struct pb_field g;
	uint64_t id = 0;
	struct pp_function fn = {0, 0};
	int more;
	while ((more = pb_next(&r, &g)) > 0) {
		if (g.number == 1)
			id = g.value;
		else if (g.number == 2)
			fn.name = g.value;
		else if (g.number == 4)
			fn.file = g.value;
	}
	if (more < 0)
		return corrupt(in, "a bad function");
	if (ARRAY_GROW(in->functions, in->functions_cap, in->nfunctions + 1) < 0)
		return -ERR_NOMEM;
	in->functions[in->nfunctions] = fn;
	return note_id(in, &in->function_ids, id, in->nfunctions++);
}

static int read_mapping(struct pprof_in *in, const struct pb_field *f)
{
	struct pb_reader r = {f->data, f->data + f->len};
	struct pb_field g;
	uint64_t id = 0;
	struct pp_mapping m = {0, 0, 0};
	int more;
	while ((more = pb_next(&r, &g)) > 0) {
		if (g.number == 1)
			id = g.value;
		else if (g.number == 2)
			m.start = g.value;
		else if (g.number == 4)
			m.offset = g.value;
		else if (g.number == 5)
			m.file = g.value;
	}
	if (more < 0)
		return corrupt(in, "a bad mapping");
	if (ARRAY_GROW(in->mappings, in->mappings_cap, in->nmappings + 1) < 0)
		return -ERR_NOMEM;
	in->mappings[in->nmappings] = m;
	return note_id(in, &in->mapping_ids, id, in->nmappings++);
}

static int read_line(struct pprof_in *in, const struct pb_field *f)
{
	struct pb_reader r = {f->data, f->data + f->len};
	struct pb_field g;
	struct pp_line line = {0, 0, NO_FRAME};
	int more;
	while ((more = pb_next(&r, &g)) > 0) {
		if (g.number == 1)
			line.function = g.value;
		else if (g.number == 2)
			line.line = (int64_t)g.value;
	}
	if (more < 0)
		return corrupt(in, "a bad line");
	if (ARRAY_GROW(in->lines, in->lines_cap, in->nlines + 1) < 0)
		return -ERR_NOMEM;
	in->lines[in->nlines++] = line;
	return 0;
}

static int read_location(struct pprof_in *in, const struct pb_field *f)
{
	struct pb_reader r = {f->data, f->data + f->len};
	struct pb_field g;
	uint64_t id = 0;
	struct pp_location loc = {.first_line = in->nlines, .frame = NO_FRAME};
	int more, ret;
	while ((more = pb_next(&r, &g)) > 0) {
		if (g.number == 1)
			id = g.value;
		else if (g.number == 2)
			loc.mapping = g.value;
		else if (g.number == 3)
			loc.address = g.value;
		else if (g.number == 4 && g.wire == PB_BYTES && (ret = read_line(in, &g)) < 0)
			return ret;
	}
	if (more < 0)
		return corrupt(in, "a bad location");
	loc.nlines = in->nlines - loc.first_line;
	if (ARRAY_GROW(in->locations, in->locations_cap, in->nlocations + 1) < 0)
		return -ERR_NOMEM;
	in->locations[in->nlocations] = loc;
	return note_id(in, &in->location_ids, id, in->nlocations++);
}

/* Every top-level field but the samples. */
static int read_tables(struct pprof_in *in, const unsigned char *data, size_t len)
{
	struct pb_reader r = {data, data + len};
	struct pb_field f;
	int more, ret = 0;
	while ((more = pb_next(&r, &f)) > 0) {
		bool bytes = f.wire == PB_BYTES;
		if (f.number == P_STRING_TABLE && bytes) {
			if (ARRAY_GROW(in->strings, in->strings_cap, in->nstrings + 1) < 0)
				return -ERR_NOMEM;
			in->strings[in->nstrings++] = (struct pp_string){f.data, f.len};
		} else if (f.number == P_SAMPLE_TYPE && bytes) {
			ret = read_value_type(in, &f);
		} else if (f.number == P_MAPPING && bytes) {
			ret = read_mapping(in, &f);
		} else if (f.number == P_LOCATION && bytes) {
			ret = read_location(in, &f);
		} else if (f.number == P_FUNCTION && bytes) {
			ret = read_function(in, &f);
		} else if (f.number == P_DEFAULT_SAMPLE_TYPE && f.wire == PB_VARINT) {
			in->default_type = f.value;
		}
		if (ret < 0)
			return ret;
	}
	if (more < 0)
		return corrupt(in, "bad protocol buffers");
	if (!in->nstrings || in->strings[0].len)
		return corrupt(in, "its string table does not start with \"\"");
	return 0;
}

/* String INDEX into SB (NUL-terminated); false when there is none. */
static bool string_at(const struct pprof_in *in, uint64_t index, struct strbuf *sb)
{
	if (index >= in->nstrings)
		return false;
	strbuf_reset(sb);
	strbuf_add(sb, in->strings[index].data, in->strings[index].len);
	strbuf_add(sb, "", 0);
	return true;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* The file a native frame of MAPPING (an id, 0: none) names, into
 * in->file; false when the mapping is unknown. */
static bool mapping_file(struct pprof_in *in, uint64_t mapping, const struct pp_mapping **m)
{
	long index = find_id(&in->mapping_ids, mapping);
	*m = index >= 0 ? &in->mappings[index] : NULL;
	return *m && string_at(in, (*m)->file, &in->file);
}

static int line_frame(struct pprof_in *in, const struct pp_location *loc, struct pp_line *line)
{
	if (line->frame != NO_FRAME)
		return 0;
	long index = find_id(&in->function_ids, line->function);
	if (index < 0)
		return corrupt(in, "a line names a function that is not in the table");
	const struct pp_function *fn = &in->functions[index];
	const struct pp_mapping *m;
	if (!string_at(in, fn->name, &in->name) || !string_at(in, fn->file, &in->file))
		return corrupt(in, "a string index past the string table");
	/* A function without a file of its own: its mapping's (native code). */
	if (!in->file.buf[0] && loc->mapping && !mapping_file(in, loc->mapping, &m))
		strbuf_reset(&in->file);
	if (!strbuf_ok(&in->name) || !strbuf_ok(&in->file))
		return -ERR_NOMEM;
	const char *file = in->file.len && in->file.buf[0] ? in->file.buf : NULL;
	int number = line->line > 0 && line->line < 1 << 30 ? (int)line->line : -1;
	return agg_frame(in->agg, frame_kind_of(in->name.buf, file, number), in->name.buf, file, number,
	                 &line->frame);
}

/* A location never symbolized: `library+0xOFFSET`, of its mapping. */
static int address_frame(struct pprof_in *in, struct pp_location *loc)
{
	if (loc->frame != NO_FRAME)
		return 0;
	const struct pp_mapping *m;
	if (!mapping_file(in, loc->mapping, &m) || !in->file.buf[0]) {
		char name[32];
		snprintf(name, sizeof(name), "0x%llx", (unsigned long long)loc->address);
		return agg_frame(in->agg, AGG_NATIVE, name, NULL, -1, &loc->frame);
	}
	strbuf_reset(&in->name);
	strbuf_addf(&in->name, "%s+0x%llx", base_name(in->file.buf),
	            (unsigned long long)(loc->address - m->start + m->offset));
	if (!strbuf_ok(&in->name) || !strbuf_ok(&in->file))
		return -ERR_NOMEM;
	return agg_frame(in->agg, AGG_NATIVE, in->name.buf, in->file.buf, -1, &loc->frame);
}

/* Which value of a sample is its count. */
static size_t count_index(const struct pprof_in *in)
{
	for (size_t i = 0; i < in->ntypes; i++) {
		uint64_t type = in->types[i], unit = in->units[i];
		if ((type < in->nstrings && in->strings[type].len == 7 && !memcmp(in->strings[type].data, "samples", 7)) ||
		    (unit < in->nstrings && in->strings[unit].len == 5 && !memcmp(in->strings[unit].data, "count", 5)))
			return i;
	}
	for (size_t i = 0; in->default_type && i < in->ntypes; i++)
		if (in->types[i] == in->default_type)
			return i;
	return 0;
}

struct sample_scratch {
	uint64_t *locations, *values;
	size_t nlocations, locations_cap, nvalues, values_cap;
	uint32_t *stack;
	size_t stack_cap;
};

static int add_sample(struct pprof_in *in, const struct pb_field *f, size_t value_index, struct sample_scratch *s)
{
	struct pb_reader r = {f->data, f->data + f->len};
	struct pb_field g;
	int more, ret;
	s->nlocations = s->nvalues = 0;
	while ((more = pb_next(&r, &g)) > 0) {
		if (g.number == 1)
			ret = pb_uints(&g, &s->locations, &s->nlocations, &s->locations_cap);
		else if (g.number == 2)
			ret = pb_uints(&g, &s->values, &s->nvalues, &s->values_cap);
		else
			continue;
		if (ret < 0)
			return ret;
		if (ret > 0)
			return corrupt(in, "a bad sample");
	}
	if (more < 0)
		return corrupt(in, "a bad sample");
	if (value_index >= s->nvalues || (int64_t)s->values[value_index] <= 0)
		return 0;
	size_t depth = 0;
	for (size_t i = s->nlocations; i-- > 0;) {
		long index = find_id(&in->location_ids, s->locations[i]);
		if (index < 0)
			return corrupt(in, "a sample names a location that is not in the table");
		struct pp_location *loc = &in->locations[index];
		if (ARRAY_GROW(s->stack, s->stack_cap, depth + (loc->nlines ? loc->nlines : 1)) < 0)
			return -ERR_NOMEM;
		if (!loc->nlines) {
			if ((ret = address_frame(in, loc)) < 0)
				return ret;
			s->stack[depth++] = loc->frame;
		}
		/* Inlined functions first, the caller they were inlined into last. */
		for (size_t l = loc->nlines; l-- > 0;) {
			struct pp_line *line = &in->lines[loc->first_line + l];
			if ((ret = line_frame(in, loc, line)) < 0)
				return ret;
			s->stack[depth++] = line->frame;
		}
	}
	return agg_add(in->agg, s->stack, depth, s->values[value_index]);
}

static int read_samples(struct pprof_in *in, const unsigned char *data, size_t len)
{
	struct pb_reader r = {data, data + len};
	struct pb_field f;
	struct sample_scratch scratch = {0};
	size_t value_index = count_index(in);
	int more, ret = 0;
	while (ret == 0 && (more = pb_next(&r, &f)) > 0)
		if (f.number == P_SAMPLE && f.wire == PB_BYTES)
			ret = add_sample(in, &f, value_index, &scratch);
	free(scratch.locations);
	free(scratch.values);
	free(scratch.stack);
	return ret;
}

int profile_read_pprof(struct aggregate *agg, const char *text, size_t len, const char *origin)
{
	struct strbuf raw = {0};
	struct pprof_in in = {.agg = agg, .origin = origin};
	const unsigned char *data = (const unsigned char *)text;
	int ret = 0;
	if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
		if ((ret = gunzip(origin, data, len, &raw)) < 0)
			goto out;
		data = (const unsigned char *)raw.buf;
		len = raw.len;
	}
	if (!data || !len) {
		ret = corrupt(&in, "empty");
		goto out;
	}
	if ((ret = read_tables(&in, data, len)) == 0)
		ret = read_samples(&in, data, len);
out:
	strbuf_release(&raw);
	strbuf_release(&in.name);
	strbuf_release(&in.file);
	free(in.strings);
	free(in.functions);
	free(in.mappings);
	free(in.locations);
	free(in.lines);
	free(in.types);
	free(in.units);
	hashtab_release(&in.function_ids);
	hashtab_release(&in.mapping_ids);
	hashtab_release(&in.location_ids);
	return ret;
}
