/* Formats layer: every reader and writer of a file format, in one place.
 * Writers turn collected stacks (dump_*) or an aggregate (profile_*) into
 * text, JSON or bytes in a strbuf; they never print, and the command layer
 * writes the buffer out and checks the stream. Profile writers are
 * deterministic: the same aggregate (the same samples added in the same
 * order) gives the same bytes; frames and stacks are written in the order of
 * a depth-first walk with children sorted by name, file and line. Functions
 * returning int give 0 or -ERR_x with the context recorded (err_set()). */
#ifndef PYCOREPROF_FORMATS_H
#define PYCOREPROF_FORMATS_H

#include <stdbool.h>

#include "pycoreprof/agg.h"
#include "pycoreprof/base.h"
#include "pycoreprof/stacks.h"

/* ---- stacks of one moment: `dump` and `core` */

/* Opens FILE, a source file a frame names, the way the caller decides
 * (with the target's rights: target_open_source()); an fd the reader
 * closes, or a negative error, after which the frame shows no line. */
typedef int source_open_fn(void *ctx, const char *file);

struct source_opener {
	source_open_fn *open;    /* NULL: no source lines */
	void *ctx;
};

struct dump_options {
	bool show_source;        /* print the source line under each frame */
	struct source_opener source; /* how source files are opened */
	const char *origin;      /* what was read: the core's path, "process" */
};

/* Human-readable dump, innermost frame first, like `py-spy dump`. */
void dump_write_text(struct strbuf *sb, const struct process_stacks *ps, const struct dump_options *opts);
/* One JSON document (see docs/json.md). */
void dump_write_json(struct strbuf *sb, const struct process_stacks *ps, const struct dump_options *opts);

/* Several processes' stacks (`dump --subprocesses`): begin, then each
 * process in turn (INDEX from 0), then end. Text is each process's block,
 * a blank line between; JSON is one document {"root", "command",
 * "processes": [each process's document]}. COMMAND may be NULL. */
void dump_tree_begin(struct strbuf *sb, bool json, pid_t root, const char *command);
void dump_tree_add(struct strbuf *sb, bool json, size_t index, const struct process_stacks *ps,
                   const struct dump_options *opts);
void dump_tree_end(struct strbuf *sb, bool json);

/* "SIGSEGV", or "signal 42" for numbers without a name. OUT has 16 bytes. */
const char *signal_name(int number, char out[16]);
/* The JSON name of ORIGIN: "fault", "kernel", "self", "process", "other";
 * NULL for SIGNAL_UNKNOWN. */
const char *signal_origin_name(enum signal_origin origin);
/* Where SIG came from, for text: "address 0x0", "sent by pid 12, uid 0",
 * "sent by the process itself", "sent by the kernel"; nothing when not
 * known. */
void signal_describe(struct strbuf *sb, const struct target_signal *sig);

/* Line LINE (1-based) of FILE without its newline, or NULL; FILE is opened
 * through OPENER once (a failure is remembered too), and the line is owned
 * by the cache until source_cache_clear(). */
const char *source_line(const struct source_opener *opener, const char *file, int line);
/* The same line with its indentation (what columns count from). */
const char *source_line_raw(const struct source_opener *opener, const char *file, int line);
void source_cache_clear(void);

/* ---- profiles: an aggregate of samples */

/* The profile formats, in the order help and messages list them. One table
 * (src/formats/format_table.c) holds each one's --format words, file
 * extensions, writer and reader: choosing a format, writing, reading a
 * file and the lists that --help and usage errors show all go through it. */
enum profile_format { PROFILE_SVG, PROFILE_FOLDED, PROFILE_SPEEDSCOPE, PROFILE_PPROF, PROFILE_JSON };

/* Flame graph colours: by kind of code (yours, standard library,
 * site-packages, native, roots), or flamegraph.pl's warm and cold hues. */
enum profile_palette { PALETTE_PACKAGE, PALETTE_HOT, PALETTE_COLD, PALETTE_MONO };

/* How many samples of a thread failed one way (JSON profile). */
struct profile_error_kind {
	const char *what;
	uint64_t count;
};

struct profile_meta {
	const char *title;       /* NULL: "Flame Graph" (SVG), none elsewhere */
	const char *subtitle;    /* NULL: none */
	int width;               /* SVG width in pixels; 0: 1200 */
	double min_width;        /* frames narrower than this many pixels are merged away; 0: 0.1 */
	double interval;         /* seconds between samples; 0: unknown (pprof then assumes 10ms) */
	double duration;         /* seconds the recording lasted; 0: unknown */
	bool wall;               /* pprof: samples include waiting threads: wall time, not cpu */
	bool reverse;            /* SVG: icicle graph, root at the top */
	enum profile_palette palette;
	/* SVG differential flame graph: the widths are this aggregate's, the
	 * colours show the change from BASELINE (scaled to the same total):
	 * red grew, blue shrank. NULL: an ordinary flame graph. */
	const struct aggregate *baseline;
	/* JSON: the errors counted while sampling, by kind, when ERRORS_KNOWN
	 * (not for a converted profile). */
	bool errors_known;
	uint64_t errors;
	const struct profile_error_kind *error_kinds;
	size_t nerror_kinds;
};

int profile_write_folded(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta);
int profile_write_svg(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta);
/* speedscope's file format: one "sampled" profile, or one per root when
 * every root is a thread or process label; weights are sample counts.
 * Frames as in profile_write_json, without "kind" and "origin". When AGG
 * keeps a timeline with events: one "evented" profile per thread instead,
 * its stacks in time order at their CLOCK_REALTIME times in nanoseconds
 * (docs/outputs.md). */
int profile_write_speedscope(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta);
/* profile.proto, gzip-compressed (bytes, not text). */
int profile_write_pprof(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta);
/* {"frames": [...], "stacks": [{"frames": [ids, root first], "count": N}]}.
 * A frame's "line" is left out unless it is 1 or more: CPython numbers
 * lines from 1, and an aggregate's -1 (and a folded file's 0) mean none.
 * An aggregate's timeline follows as "timeline": {"dropped": N, "events":
 * [[time_ns, stack index], ...]} (docs/json.md). */
int profile_write_json(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta);

/* Format from a file name's extension (.svg, .folded, .txt,
 * .speedscope.json, .json, .pb.gz, .pprof; the longest that fits); -1 if
 * none. */
int profile_format_from_name(const char *path);
/* Whether a file named PATH is, by its extension, a profile that
 * profile_read_file() reads (folded, JSON, speedscope, pprof; not SVG). */
bool profile_name_is_readable(const char *path);
/* Format from a --format word; -1 if unknown. */
int profile_format_from_word(const char *word);
/* The usual file extension of FORMAT, without the dot ("pb.gz"), a static string. */
const char *profile_format_extension(enum profile_format format);
/* Palette from a --palette word; -1 if unknown. */
int profile_palette_from_word(const char *word);
/* AGG in FORMAT, by the format's writer. */
int profile_write(enum profile_format format, struct strbuf *sb, const struct aggregate *agg,
                  const struct profile_meta *meta);

/* The formats listed for help and usage errors, in the table's order, into
 * OUT (PROFILE_LIST_SIZE bytes, which holds any of them); return OUT. */
enum { PROFILE_LIST_SIZE = 512 };
enum profile_list {
	PROFILE_LIST_WORDS,      /* the --format words: "svg, folded, ..." */
	PROFILE_LIST_EXTENSIONS, /* the usual extensions: ".svg, .folded, ..." */
};
/* Joined by ", ", and by LAST before the last one: PROFILE_LIST_WORDS with
 * " or " gives "svg, folded, speedscope, pprof or json". */
const char *profile_format_list(char out[PROFILE_LIST_SIZE], enum profile_list what, const char *last);
/* Each format's extensions and a few words on it, ".svg flame graph,
 * .folded/.txt folded stacks, ...", in lines of at most WIDTH columns that
 * start with INDENT spaces and end with a newline. */
const char *profile_format_help(char out[PROFILE_LIST_SIZE], int indent, int width);

/* Parse the LEN bytes of folded stacks ("a;b;c 12" lines) at TEXT into
 * AGG; TEXT is only read (it may be a file mapped read-only). Frames of
 * the form "name (file:line)" are split. Errors name ORIGIN and the line. */
int profile_read_folded(struct aggregate *agg, const char *text, size_t len, const char *origin);
/* Read our JSON aggregate (profile_write_json's output) into AGG, its
 * timeline too when AGG keeps one; TEXT must be NUL-terminated. Errors
 * name ORIGIN. */
int profile_read_json(struct aggregate *agg, const char *text, size_t len, const char *origin);
/* Read a pprof profile (gzip-compressed or not) into AGG. TEXT is only
 * read. Errors name ORIGIN. */
int profile_read_pprof(struct aggregate *agg, const char *text, size_t len, const char *origin);
/* Read speedscope's JSON file format (its sampled profiles) into AGG; TEXT
 * must be NUL-terminated. Errors name ORIGIN. */
int profile_read_speedscope(struct aggregate *agg, const char *text, size_t len, const char *origin);
/* Read the profile at PATH (NULL or "-": stdin) into AGG, which must be
 * initialised: folded stacks from any tool, our JSON aggregate, speedscope
 * or pprof, told apart by their first bytes. Errors name the file. */
int profile_read_file(struct aggregate *agg, const char *path);

#endif
