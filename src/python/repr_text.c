/* The text of reprs as CPython writes them: floats (shortest round trip),
 * ints of any size (from their digits), and the escaping of str and bytes
 * characters. Pure functions over values already read from a target. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/repr_text.h"

/* The shortest decimal digits of VALUE (finite, > 0 or 0) that read back
 * as VALUE, into DIGITS (NUL-terminated, no dot), and the position of the
 * decimal point: VALUE = 0.DIGITS x 10^DECPT. */
static void shortest_digits(double value, char digits[24], int *decpt)
{
	char text[40];
	for (int precision = 0; precision < 17; precision++) {
		snprintf(text, sizeof(text), "%.*e", precision, value);
		if (strtod(text, NULL) == value)
			break;
	}
	/* text is "D.DDDDe[+-]XX" (or "De[+-]XX"). */
	size_t n = 0;
	const char *p = text;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9' && n < 23)
			digits[n++] = *p;
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	*decpt = (*p == 'e' ? atoi(p + 1) : 0) + 1;
}

void repr_float(struct strbuf *sb, double value)
{
	if (isnan(value)) {
		strbuf_addstr(sb, "nan");
		return;
	}
	if (signbit(value))
		strbuf_addch(sb, '-');
	value = fabs(value);
	if (isinf(value)) {
		strbuf_addstr(sb, "inf");
		return;
	}
	char digits[24];
	int decpt;
	shortest_digits(value, digits, &decpt);
	int n = (int)strlen(digits);
	/* Python's 'r' format: exponent notation outside 1e-4 <= |x| < 1e16. */
	if (decpt <= -4 || decpt > 16) {
		strbuf_addch(sb, digits[0]);
		if (n > 1) {
			strbuf_addch(sb, '.');
			strbuf_addstr(sb, digits + 1);
		}
		int exponent = decpt - 1;
		strbuf_addf(sb, "e%c%02d", exponent < 0 ? '-' : '+', abs(exponent));
	} else if (decpt <= 0) {
		strbuf_addstr(sb, "0.");
		for (int i = 0; i < -decpt; i++)
			strbuf_addch(sb, '0');
		strbuf_addstr(sb, digits);
	} else if (decpt >= n) {
		strbuf_addstr(sb, digits);
		for (int i = n; i < decpt; i++)
			strbuf_addch(sb, '0');
		strbuf_addstr(sb, ".0");
	} else {
		strbuf_add(sb, digits, (size_t)decpt);
		strbuf_addch(sb, '.');
		strbuf_addstr(sb, digits + decpt);
	}
}

int repr_bigint(struct strbuf *sb, const uint32_t *digits, size_t n, unsigned shift, bool negative)
{
	enum { LIMB = 1000000000 };   /* base 10^9 limbs, least significant first */
	while (n && !digits[n - 1])
		n--;
	if (!n) {
		strbuf_addch(sb, '0');
		return 1;
	}
	/* Each input digit adds at most SHIFT bits: 30 bits < one limb. */
	size_t cap = n * shift / 29 + 2, used = 0;
	uint32_t *limbs = xcalloc(cap, sizeof(*limbs));
	if (!limbs)
		return -ERR_NOMEM;
	for (size_t i = n; i-- > 0;) {
		uint64_t carry = digits[i] & ((1u << shift) - 1);
		for (size_t j = 0; j < used; j++) {
			uint64_t z = ((uint64_t)limbs[j] << shift) | carry;
			carry = z / LIMB;
			limbs[j] = (uint32_t)(z - carry * LIMB);
		}
		while (carry && used < cap) {
			limbs[used++] = (uint32_t)(carry % LIMB);
			carry /= LIMB;
		}
	}
	if (negative)
		strbuf_addch(sb, '-');
	size_t start = sb->len;
	strbuf_addf(sb, "%u", limbs[used - 1]);
	for (size_t j = used - 1; j-- > 0;)
		strbuf_addf(sb, "%09u", limbs[j]);
	free(limbs);
	return (int)(sb->len - start);
}

char repr_quote(bool has_single, bool has_double)
{
	return has_single && !has_double ? '"' : '\'';
}

/* Code points outside printable categories (Cc, Cf, Zs but space, Zl, Zp,
 * Cs, Co). Unassigned code points (Cn) would need the Unicode database:
 * they are taken as printable. */
bool repr_printable(uint32_t cp)
{
	static const struct { uint32_t first, last; } hidden[] = {
		{0x00, 0x1f}, {0x7f, 0xa0}, {0xad, 0xad}, {0x600, 0x605}, {0x61c, 0x61c}, {0x6dd, 0x6dd},
		{0x70f, 0x70f}, {0x890, 0x891}, {0x8e2, 0x8e2}, {0x1680, 0x1680}, {0x180e, 0x180e},
		{0x2000, 0x200f}, {0x2028, 0x202f}, {0x205f, 0x206f}, {0x3000, 0x3000},
		{0xd800, 0xf8ff}, {0xfeff, 0xfeff}, {0xfff9, 0xfffb}, {0x110bd, 0x110bd}, {0x110cd, 0x110cd},
		{0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
		{0xe0020, 0xe007f}, {0xf0000, 0x10ffff},
	};
	if (cp > 0x10ffff)
		return false;
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
		if (cp >= hidden[i].first && cp <= hidden[i].last)
			return false;
	return true;
}

/* \t, \n, \r, the backslash and the quote: the escapes every repr shares.
 * Returns whether CP was one of them. */
static bool add_common_escape(struct strbuf *sb, uint32_t cp, char quote)
{
	switch (cp) {
	case '\t': strbuf_addstr(sb, "\\t"); return true;
	case '\n': strbuf_addstr(sb, "\\n"); return true;
	case '\r': strbuf_addstr(sb, "\\r"); return true;
	case '\\': strbuf_addstr(sb, "\\\\"); return true;
	default:
		if (cp == (uint32_t)(unsigned char)quote) {
			strbuf_addch(sb, '\\');
			strbuf_addch(sb, quote);
			return true;
		}
		return false;
	}
}

void repr_add_char(struct strbuf *sb, uint32_t cp, char quote, bool py2_unicode)
{
	if (add_common_escape(sb, cp, quote))
		return;
	bool plain = py2_unicode ? cp >= 0x20 && cp < 0x7f : repr_printable(cp);
	if (plain)
		strbuf_add_utf8(sb, cp);
	else if (cp < 0x100)
		strbuf_addf(sb, "\\x%02x", (unsigned)cp);
	else if (cp < 0x10000)
		strbuf_addf(sb, "\\u%04x", (unsigned)cp);
	else
		strbuf_addf(sb, "\\U%08x", (unsigned)cp);
}

void repr_add_byte(struct strbuf *sb, uint8_t byte, char quote)
{
	if (add_common_escape(sb, byte, quote))
		return;
	if (byte < 0x20 || byte >= 0x7f)
		strbuf_addf(sb, "\\x%02x", byte);
	else
		strbuf_addch(sb, (char)byte);
}
