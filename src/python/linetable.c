/* Line numbers from CPython's line tables: co_lnotab (2.7 - 3.9), the 3.10
 * co_linetable (PEP 626) and the 3.11+ location table. Pure functions over
 * bytes already read; every loop is bounded by the table size. */
#include "python/internal.h"

/* 2.7 - 3.9: pairs (address increment, line increment). Line increments are
 * unsigned in 2.7 and signed from 3.6. */
int py_line_lnotab(const uint8_t *table, size_t size, int firstlineno, int addrq, bool signed_deltas)
{
	int line = firstlineno;
	int addr = 0;
	for (size_t i = 0; i + 1 < size; i += 2) {
		addr += table[i];
		if (addr > addrq)
			break;
		line += signed_deltas ? (int8_t)table[i + 1] : table[i + 1];
	}
	return line;
}

/* 3.10: pairs (byte length, signed line delta); a delta of -128 marks a range
 * without a line. Each pair covers [end, end + length). */
int py_line_310(const uint8_t *table, size_t size, int firstlineno, int addrq)
{
	if (addrq < 0)
		return firstlineno;
	int computed = firstlineno;
	int end = 0;
	for (size_t i = 0; i + 1 < size; i += 2) {
		int start = end;
		int line;
		end += table[i];
		int8_t delta = (int8_t)table[i + 1];
		if (delta == -128) {
			line = -1;
		} else {
			computed += delta;
			line = computed;
		}
		if (start <= addrq && addrq < end)
			return line;
	}
	return -1;
}

static unsigned read_varint(const uint8_t *table, size_t size, size_t *pos)
{
	unsigned value = 0;
	unsigned shift = 0;
	while (*pos < size && shift < 32) {
		uint8_t byte = table[(*pos)++];
		value |= (unsigned)(byte & 63) << shift;
		if (!(byte & 64))
			break;
		shift += 6;
	}
	return value;
}

static int read_signed_varint(const uint8_t *table, size_t size, size_t *pos)
{
	unsigned value = read_varint(table, size, pos);
	return (value & 1) ? -(int)(value >> 1) : (int)(value >> 1);
}

/* 3.11+: entries whose first byte has bit 7 set; bits 3-6 are the kind and
 * bits 0-2 the length in code units minus one. Kinds 0-9 keep the line,
 * 10-12 add 0-2, 13 and 14 add a signed varint, 15 has no line. Columns:
 * kinds 0-9 pack them in one byte (start kind * 8 + high 3 bits, length
 * the low 4), 10-12 give start and end in a byte each, 14 gives the end
 * line's delta and both columns plus one as varints, 13 and 15 have none
 * (CPython's advance_with_locations(), Objects/codeobject.c). */
void py_position_locations(const uint8_t *table, size_t size, int firstlineno, int addrq,
                           struct pyposition *out)
{
	*out = (struct pyposition){.line = -1, .end_line = -1, .column = -1, .end_column = -1};
	if (addrq < 0) {
		out->line = firstlineno;
		return;
	}
	int computed = firstlineno;
	int end = 0;
	size_t pos = 0;
	while (pos < size) {
		uint8_t first = table[pos];
		if (!(first & 0x80))
			return; /* not at an entry start: corrupt */
		int kind = (first >> 3) & 15;
		int start = end;
		end += ((first & 7) + 1) * 2;
		size_t at = pos + 1;
		struct pyposition here = {.line = -1, .end_line = -1, .column = -1, .end_column = -1};
		if (kind == 15) {
			/* no location */
		} else if (kind == 14) {
			computed += read_signed_varint(table, size, &at);
			here.line = computed;
			here.end_line = computed + (int)read_varint(table, size, &at);
			here.column = (int)read_varint(table, size, &at) - 1;
			here.end_column = (int)read_varint(table, size, &at) - 1;
		} else if (kind == 13) {
			computed += read_signed_varint(table, size, &at);
			here.line = here.end_line = computed;
		} else if (kind >= 10) {
			computed += kind - 10;
			here.line = here.end_line = computed;
			if (at + 1 < size) {
				here.column = table[at];
				here.end_column = table[at + 1];
			}
		} else {
			here.line = here.end_line = computed;
			if (at < size) {
				here.column = kind << 3 | (table[at] >> 4 & 7);
				here.end_column = here.column + (table[at] & 15);
			}
		}
		if (start <= addrq && addrq < end) {
			*out = here;
			return;
		}
		size_t next = pos + 1;
		while (next < size && !(table[next] & 0x80))
			next++;
		pos = next;
	}
}

int py_line_locations(const uint8_t *table, size_t size, int firstlineno, int addrq)
{
	struct pyposition where;
	py_position_locations(table, size, firstlineno, addrq, &where);
	return where.line;
}

int py_code_line(const struct pywalker *w, const struct pycode *code, int byte_offset)
{
	switch (w->linetable_format) {
	case LINETABLE_LNOTAB_UNSIGNED:
		return py_line_lnotab(code->linetable, code->linetable_size, code->firstlineno, byte_offset, false);
	case LINETABLE_LNOTAB_SIGNED:
		return py_line_lnotab(code->linetable, code->linetable_size, code->firstlineno, byte_offset, true);
	case LINETABLE_310:
		return py_line_310(code->linetable, code->linetable_size, code->firstlineno, byte_offset);
	case LINETABLE_LOCATIONS:
		return py_line_locations(code->linetable, code->linetable_size, code->firstlineno, byte_offset);
	}
	return -1;
}

bool py_code_position(const struct pywalker *w, const struct pycode *code, int byte_offset, struct pyposition *out)
{
	if (w->linetable_format != LINETABLE_LOCATIONS) {
		*out = (struct pyposition){.line = py_code_line(w, code, byte_offset), .end_line = -1,
		                           .column = -1, .end_column = -1};
		return false;
	}
	py_position_locations(code->linetable, code->linetable_size, code->firstlineno, byte_offset, out);
	return true;
}
