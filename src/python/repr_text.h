/* Python layer, internal: the text of a repr as CPython writes it, from
 * values already read (floats, the digits of an int, the characters of a
 * str or bytes object). Pure functions: no target, no walker. Used by the
 * locals reader (repr.c) and the unit tests. */
#ifndef PYCOREPROF_PYTHON_REPR_TEXT_H
#define PYCOREPROF_PYTHON_REPR_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pycoreprof/base.h"

/* repr(VALUE) of a float, as Python 2.7 and 3.x print it: the shortest
 * digits that read back as VALUE, fixed notation for exponents from -4 to
 * 15 ("0.0001", "1.5", "1e+16", "inf", "-0.0", "nan"). */
void repr_float(struct strbuf *sb, double value);

/* The decimal digits of the magnitude held in DIGITS[0..N) (least
 * significant first, SHIFT bits each, SHIFT <= 30), preceded by '-' when
 * NEGATIVE; "0" for N == 0. Returns how many decimal digits were written
 * (the sign not counted), or -ERR_NOMEM. */
int repr_bigint(struct strbuf *sb, const uint32_t *digits, size_t n, unsigned shift, bool negative);

/* The quote a repr of text uses: ' unless the text has ' and no ". */
char repr_quote(bool has_single, bool has_double);

/* Whether CPython 3 prints code point CP as it is in a str repr
 * (str.isprintable(); see docs/locals.md for where this differs). */
bool repr_printable(uint32_t cp);

/* One character of a str repr between QUOTE quotes, escaped as Python 3
 * escapes it (PY2_UNICODE: as 2.7 escapes a unicode object: every code
 * point from 0x7f on). */
void repr_add_char(struct strbuf *sb, uint32_t cp, char quote, bool py2_unicode);

/* One byte of a bytes repr (2.7: a str repr) between QUOTE quotes. */
void repr_add_byte(struct strbuf *sb, uint8_t byte, char quote);

#endif
