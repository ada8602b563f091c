/* The one place errors are printed: a single line with what failed and what
 * to do about it; the option words several commands share; and the printing
 * of stacks shared by core and dump, with source lines read with the
 * target's rights. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "pycoreprof/base.h"
#include "pycoreprof/formats.h"
#include "pycoreprof/target.h"

/* Advice for errors whose context does not already carry a hint. */
static const char *default_hint(int code)
{
	switch (code) {
	case ERR_NOT_CORE:
		return "pass a core file (written when a process crashes with `ulimit -c unlimited`, or by `gcore PID`)";
	case ERR_TRUNCATED:
		return "the core was cut short while being written; check `ulimit -c`, free disk space and core size limits";
	case ERR_NOT_ELF:
		return "pass a core file";
	case ERR_DECOMPRESS:
		return "the compressed file is damaged or incomplete";
	case ERR_NOT_PYTHON:
		return "is this a CPython process? pycoreprof reads CPython 2.7 and 3.6 or newer";
	case ERR_UNSUPPORTED_PYTHON:
		return "pycoreprof reads CPython 2.7 and 3.6 or newer";
	case ERR_PERM:
		return "run as the file's owner or as root";
	default:
		return NULL;
	}
}

int report_error(int ret)
{
	int code = ret < 0 ? -ret : ret;
	const char *context = err_context();
	const char *hint = err_hint_text();
	if (!*hint)
		hint = default_hint(code);
	if (!*context || err_last_code() != code)
		context = err_message(code);
	fprintf(stderr, "pycoreprof: %s", context);
	if (hint && *hint)
		fprintf(stderr, " (%s)", hint);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

int usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "pycoreprof %s: ", command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see `pycoreprof %s --help`)\n", command);
	return EXIT_USAGE;
}

int write_stdout(const char *buf, size_t len)
{
	if (len && fwrite(buf, 1, len, stdout) != len) {
		fprintf(stderr, "pycoreprof: cannot write the output: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return 0;
}

void say_timeline_dropped(const struct aggregate *agg)
{
	if (!agg->timeline || !agg->timeline->dropped)
		return;
	fprintf(stderr, "pycoreprof: the timeline keeps %zu events; %llu more were left out of it (still counted)\n",
	        agg->timeline->max, (unsigned long long)agg->timeline->dropped);
}

bool is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

int parse_seed(const char *text, uint64_t *seed)
{
	char *end;
	errno = 0;
	unsigned long long value = strtoull(text, &end, 0);
	if (errno || end == text || *end || *text == '-')
		return -1;
	*seed = value;
	return 0;
}

int print_stacks(const struct process_stacks *ps, bool json, const struct dump_options *opts, bool native_failed)
{
	struct strbuf sb = {0};
	if (json)
		dump_write_json(&sb, ps, opts);
	else
		dump_write_text(&sb, ps, opts);
	int status = strbuf_ok(&sb) ? write_stdout(sb.buf, sb.len) : report_error(-ERR_NOMEM);
	strbuf_release(&sb);
	if (status == EXIT_OK && native_failed)
		status = EXIT_PARTIAL;
	if (status == EXIT_OK && ps->tasks_error) {
		fprintf(stderr, "pycoreprof: the asyncio tasks could not be read (see above)\n");
		status = EXIT_PARTIAL;
	}
	if (status == EXIT_OK && ps->errors) {
		fprintf(stderr, "pycoreprof: %zu thread%s could not be walked completely (see above)\n", ps->errors,
		        ps->errors == 1 ? "" : "s");
		status = EXIT_PARTIAL;
	}
	return status;
}

int open_source_as_target(void *target, const char *file)
{
	return target_open_source(target, file);
}
