/* Output layer: writers that turn collected stacks into text or JSON. They
 * format into a strbuf; the command layer writes it out and checks the
 * stream. */
#ifndef PYCOREPROF_OUT_H
#define PYCOREPROF_OUT_H

#include <stdbool.h>

#include "pycoreprof/base.h"
#include "pycoreprof/stacks.h"

struct dump_options {
	bool show_source;        /* print the source line under each frame */
	const char *origin;      /* what was read: the core's path, "process" */
};

/* Human-readable dump, innermost frame first, like `py-spy dump`. */
void dump_write_text(struct strbuf *sb, const struct process_stacks *ps, const struct dump_options *opts);
/* One JSON document (see docs/json.md). */
void dump_write_json(struct strbuf *sb, const struct process_stacks *ps, const struct dump_options *opts);

/* "SIGSEGV", or "signal 42" for numbers without a name. OUT has 16 bytes. */
const char *signal_name(int number, char out[16]);

/* Line LINE (1-based) of FILE without its newline, or NULL; cached, owned by
 * the cache until source_cache_clear(). */
const char *source_line(const char *file, int line);
void source_cache_clear(void);

#endif
