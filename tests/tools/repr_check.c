/* Checks the repr text of locals (src/python/repr_text.c) against what an
 * interpreter's own repr() wrote. Reads lines on stdin (written by
 * tests/e2e/repr_dump.py), the expected text hex-encoded UTF-8:
 *     float BITS EXPECTED        BITS: the double's 64 bits in hex
 *     int NEG SHIFT D0,D1,... EXPECTED   digits least significant first
 *     char CP QUOTE EXPECTED     one str character between QUOTE quotes (3.x)
 *     uchar CP QUOTE EXPECTED    one 2.7 unicode character
 *     byte B QUOTE EXPECTED      one bytes (2.7: str) byte
 * prints mismatches and a summary "checked N values, K mismatches". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/repr_text.h"

static size_t unhex(const char *hex, char *out, size_t cap)
{
	size_t n = 0;
	for (; hex[0] && hex[1] && n + 1 < cap; hex += 2) {
		unsigned byte;
		if (sscanf(hex, "%2x", &byte) != 1)
			break;
		out[n++] = (char)byte;
	}
	out[n] = '\0';
	return n;
}

int main(void)
{
	static char line[1 << 16], expected[1 << 15];
	static uint32_t digits[4096];
	unsigned long checked = 0, mismatches = 0;
	struct strbuf got = {0};
	while (fgets(line, sizeof(line), stdin)) {
		char kind[8], field[4][1 << 14];
		int fields = sscanf(line, "%7s %16383s %16383s %16383s %16383s", kind, field[0], field[1], field[2],
		                    field[3]);
		strbuf_reset(&got);
		if (!strcmp(kind, "float") && fields == 3) {
			uint64_t bits = strtoull(field[0], NULL, 16);
			double value;
			memcpy(&value, &bits, sizeof(value));
			repr_float(&got, value);
			unhex(field[1], expected, sizeof(expected));
		} else if (!strcmp(kind, "int") && fields == 5) {
			size_t n = 0;
			for (char *p = field[2]; *p && n < 4096; p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p))
				digits[n++] = (uint32_t)strtoul(p, NULL, 10);
			repr_bigint(&got, digits, n, (unsigned)atoi(field[1]), atoi(field[0]) != 0);
			unhex(field[3], expected, sizeof(expected));
		} else if ((!strcmp(kind, "char") || !strcmp(kind, "uchar")) && fields == 4) {
			repr_add_char(&got, (uint32_t)strtoul(field[0], NULL, 10), field[1][0], kind[0] == 'u');
			unhex(field[2], expected, sizeof(expected));
		} else if (!strcmp(kind, "byte") && fields == 4) {
			repr_add_byte(&got, (uint8_t)strtoul(field[0], NULL, 10), field[1][0]);
			unhex(field[2], expected, sizeof(expected));
		} else {
			printf("bad line: %s", line);
			mismatches++;
			continue;
		}
		checked++;
		if (strcmp(got.buf ? got.buf : "", expected)) {
			if (mismatches++ < 30)
				printf("%s %s: got %s, expected %s\n", kind, field[0], got.buf ? got.buf : "", expected);
		}
	}
	printf("checked %lu values, %lu mismatches\n", checked, mismatches);
	strbuf_release(&got);
	return mismatches ? 1 : 0;
}
