/* Checks the line-table decoders against answers an interpreter gave about
 * its own code objects. Reads lines "FORMAT FIRSTLINE HEXTABLE OFF:LINE..."
 * on stdin (written by tests/e2e/linetable_dump.py), and for the 3.11+
 * positions "pos FIRSTLINE HEXTABLE OFF:LINE,ENDLINE,COLUMN,ENDCOLUMN...";
 * prints mismatches and a summary "checked N offsets in M code objects, K
 * mismatches". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/internal.h"

static int decode(const char *format, const uint8_t *table, size_t size, int firstlineno, int offset)
{
	if (!strcmp(format, "lnotab_u"))
		return py_line_lnotab(table, size, firstlineno, offset, false);
	if (!strcmp(format, "lnotab_s"))
		return py_line_lnotab(table, size, firstlineno, offset, true);
	if (!strcmp(format, "l310"))
		return py_line_310(table, size, firstlineno, offset);
	return py_line_locations(table, size, firstlineno, offset);
}

int main(void)
{
	size_t cap = 1 << 20;
	char *line = malloc(cap);
	uint8_t *table = malloc(cap / 2);
	unsigned long checked = 0, codes = 0, mismatches = 0;
	if (!line || !table)
		return 2;
	while (fgets(line, (int)cap, stdin)) {
		char *save = NULL;
		char *format = strtok_r(line, " \n", &save);
		char *first = strtok_r(NULL, " \n", &save);
		char *hex = strtok_r(NULL, " \n", &save);
		if (!format || !first || !hex)
			continue;
		size_t size = 0;
		if (strcmp(hex, "-"))
			for (; hex[0] && hex[1]; hex += 2) {
				unsigned byte;
				sscanf(hex, "%2x", &byte);
				table[size++] = (uint8_t)byte;
			}
		int firstlineno = atoi(first);
		codes++;
		for (char *pair = strtok_r(NULL, " \n", &save); pair; pair = strtok_r(NULL, " \n", &save)) {
			int offset, expected;
			struct pyposition want, got;
			if (!strcmp(format, "pos")) {
				if (sscanf(pair, "%d:%d,%d,%d,%d", &offset, &want.line, &want.end_line, &want.column,
				           &want.end_column) != 5)
					continue;
				py_position_locations(table, size, firstlineno, offset, &got);
				checked++;
				if (memcmp(&got, &want, sizeof(got)) && mismatches++ < 20)
					printf("mismatch: pos firstline %d offset %d: expected %d,%d,%d,%d, got %d,%d,%d,%d\n",
					       firstlineno, offset, want.line, want.end_line, want.column, want.end_column,
					       got.line, got.end_line, got.column, got.end_column);
				continue;
			}
			if (sscanf(pair, "%d:%d", &offset, &expected) != 2)
				continue;
			int decoded = decode(format, table, size, firstlineno, offset);
			checked++;
			if (decoded != expected && mismatches++ < 20)
				printf("mismatch: %s firstline %d offset %d: expected %d, got %d\n", format, firstlineno,
				       offset, expected, decoded);
		}
	}
	printf("checked %lu offsets in %lu code objects, %lu mismatches\n", checked, codes, mismatches);
	free(line);
	free(table);
	return mismatches || !checked ? 1 : 0;
}
