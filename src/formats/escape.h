/* Names as the text formats carry them: the folded escaping (and its
 * inverse) and the visible form that SVG titles, pprof strings and dumps
 * show. JSON strings: strbuf_add_json_string(). Private to formats/. */
#ifndef PYCOREPROF_FORMATS_ESCAPE_H
#define PYCOREPROF_FORMATS_ESCAPE_H

#include "pycoreprof/agg.h"

/* S with every byte that could break a line of text or a terminal written
 * as "\xHH" (two lowercase hex digits): control characters (below 0x20,
 * and 0x7f), bytes that are not part of valid UTF-8, any byte of ALSO, and
 * a backslash that an "xHH" follows (so that every "\xHH" of the result
 * is one escape). Everything else, valid UTF-8 included, is unchanged; the
 * result is valid UTF-8 and escape_undo() gives S back. */
void escape_add_visible(struct strbuf *sb, const char *s, const char *also);

/* Undo escape_add_visible() in place in the LEN bytes at S: "\xHH" becomes
 * the byte HH, anything else stays. Returns the new length (NUL added). */
size_t escape_undo(char *s, size_t len);

/* The label "name (file:line)" of agg_frame_label() in visible form. With
 * FOLDED, also what folded_read.c would split wrongly: ';' everywhere, a
 * '#' that starts a line (FIRST: the first frame of one), a '(' in the
 * file, a ':' in a file without a line, and a name's final ')' when it has
 * no file. */
void escape_add_label(struct strbuf *sb, const struct agg_frame *f, bool folded, bool first);

/* S, text in visible form (escape_add_visible()), as XML character data
 * or an attribute value: '<', '>', '&' and '"' as entities. At most MAX
 * characters of it (not bytes: a character is never cut). */
void escape_add_xml(struct strbuf *sb, const char *s, size_t max);

#endif
