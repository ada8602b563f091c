/* What the dump writers share with the task writers (dump_tasks.c): one
 * frame in JSON, frames in text. Private to formats/. */
#ifndef PYCOREPROF_FORMATS_DUMP_FRAMES_H
#define PYCOREPROF_FORMATS_DUMP_FRAMES_H

#include "pycoreprof/formats.h"

/* "KEY":"VALUE" (null when VALUE is NULL). */
void dump_json_key_string(struct strbuf *sb, const char *key, const char *value);
/* One frame object of a "frames" array (docs/json.md), WITH_LOCALS: with
 * its "locals". */
void dump_json_frame(struct strbuf *sb, const struct stack_frame *f, bool with_locals);
/* FRAMES one a line, each started with INDENT, its source line (and carets)
 * under it as OPTS asks; with TAGS each frame ends with its kind. */
void dump_text_frames(struct strbuf *sb, const struct stack_frame *frames, size_t nframes, const char *indent,
                      bool tags, const struct dump_options *opts);

/* dump_tasks.c: the asyncio tasks of PS: the "tasks", "task_cycles" and
 * "tasks_error" members of the JSON document (after a comma), and the text
 * section after the threads. */
void dump_tasks_json(struct strbuf *sb, const struct process_stacks *ps);
void dump_tasks_text(struct strbuf *sb, const struct process_stacks *ps, const struct dump_options *opts);

#endif
