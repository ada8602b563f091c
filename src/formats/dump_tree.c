/* `dump --subprocesses`: the stacks of every Python process of a tree, one
 * after the other, as text blocks or as one JSON document that holds each
 * process's document (docs/json.md). It writes; it does not find the
 * processes. */
#include <sys/types.h>

#include "pycoreprof/formats.h"

void dump_tree_begin(struct strbuf *sb, bool json, pid_t root, const char *command)
{
	if (!json)
		return;
	strbuf_addf(sb, "{\"root\":%d,\"command\":", (int)root);
	if (command)
		strbuf_add_json_string(sb, command);
	else
		strbuf_addstr(sb, "null");
	strbuf_addstr(sb, ",\"processes\":[");
}

void dump_tree_add(struct strbuf *sb, bool json, size_t index, const struct process_stacks *ps,
                   const struct dump_options *opts)
{
	if (!json) {
		if (index)
			strbuf_addch(sb, '\n');
		dump_write_text(sb, ps, opts);
		return;
	}
	if (index)
		strbuf_addch(sb, ',');
	dump_write_json(sb, ps, opts);
	/* The document's own line end closes the tree's document instead. */
	if (sb->len && sb->buf[sb->len - 1] == '\n')
		sb->buf[--sb->len] = '\0';
}

void dump_tree_end(struct strbuf *sb, bool json)
{
	if (json)
		strbuf_addstr(sb, "]}\n");
}
