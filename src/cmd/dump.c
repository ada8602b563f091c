/* `pycoreprof dump --pid PID`: every thread's Python stack of a running
 * process now, read during one short freeze (or without stopping it, with
 * --nonblocking); with --subprocesses, of every Python process of its tree,
 * one after the other. Each process is resumed and detached on every path. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/native_cmd.h"
#include "pycoreprof/collect.h"
#include "pycoreprof/formats.h"
#include "pycoreprof/python.h"
#include "pycoreprof/stacks.h"
#include "pycoreprof/target.h"

static const char usage[] =
	"usage: pycoreprof dump [options] --pid PID\n"
	"\n"
	"Show every thread's Python stack of a running process, innermost frame\n"
	"first. The process is stopped for a moment while its stacks are read and\n"
	"then let go; it is never left stopped or traced.\n"
	"\n"
	"  -p, --pid PID        the process\n"
	"  --subprocesses       every Python process of the tree below PID too\n"
	"                       (PID itself need not be Python), each read in a\n"
	"                       pause of its own\n"
	"  --json               one JSON document (docs/json.md)\n"
	"  --no-source          do not print source lines under frames\n"
	"  --tasks              every asyncio task too, with its await chain and who\n"
	"                       awaits whom (docs/tasks.md)\n"
	"  --nonblocking        read without stopping the process (stacks may be\n"
	"                       torn if it runs Python code meanwhile)\n"
	"  --native             native (C) frames too, merged with the Python frames;\n"
	"                       the interpreter's own call plumbing and start-up\n"
	"                       are hidden\n"
	"  --native-all         native frames, interpreter internals included\n"
	"  --locals             each Python frame's local variables, as bounded reprs\n"
	"                       read while the process is stopped (docs/locals.md)\n"
	"  --native-stack-bytes N  bytes of each thread's stack copied while the\n"
	"                       process is stopped (default 8M; suffixes k, M)\n"
	"  -h, --help           this help\n";

static bool parse_pid(const char *text, pid_t *pid)
{
	char *end;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno || end == text || *end || value <= 0 || value > 0x7fffffffL)
		return false;
	*pid = (pid_t)value;
	return true;
}

/* One process read, and what its stacks need until they are written. */
struct dumped {
	struct target *t;
	struct pywalker *w;
	struct process_stacks ps;
	struct native_copies copies;
	struct native_unwinder *unwinder;
	bool native_failed;
	char origin[32];
	struct dump_options opts;
};

static int dump_read(pid_t pid, bool freeze, const struct stacks_options *what, enum native_mode native,
                     size_t stack_bytes, bool show_source, struct dumped *d)
{
	memset(d, 0, sizeof(*d));
	guard_install(GUARD_DIE);
	int ret = process_stacks_collect_live(pid, freeze, what, native != NATIVE_OFF ? &d->copies : NULL,
	                                      stack_bytes, &d->t, &d->w, &d->ps);
	guard_uninstall();
	if (ret < 0)
		return ret;
	if (native != NATIVE_OFF)
		d->native_failed = !add_native_frames(&d->ps, &d->copies, native, &d->unwinder);
	snprintf(d->origin, sizeof(d->origin), "pid %d", (int)pid);
	d->opts = (struct dump_options){.show_source = show_source, .source = {open_source_as_target, d->t},
	                                .origin = d->origin};
	return 0;
}

static void dumped_release(struct dumped *d)
{
	source_cache_clear();   /* its lines were read with this process's rights */
	process_stacks_release(&d->ps);
	native_unwinder_free(d->unwinder);
	native_copies_release(&d->copies);
	pywalker_free(d->w);
	target_free(d->t);
}

/* --subprocesses: every Python process of ROOT's tree in turn. One that
 * exited since it was listed is left out; one that cannot be read is
 * reported and left out (exit 1). */
static int dump_tree(pid_t root, bool json, bool freeze, const struct stacks_options *what,
                     enum native_mode native, size_t stack_bytes, bool show_source)
{
	pid_t *pids;
	size_t n, shown = 0, errors = 0;
	char *command = NULL;
	bool native_failed = false;
	int status = EXIT_OK;
	int ret = process_tree_list_python(root, false, &pids, &n);
	if (ret < 0)
		return report_error(ret);
	if (live_proc_command(root, &command) < 0)
		err_clear();
	struct strbuf sb = {0};
	dump_tree_begin(&sb, json, root, command);
	for (size_t i = 0; i < n; i++) {
		struct dumped d;
		if ((ret = dump_read(pids[i], freeze, what, native, stack_bytes, show_source, &d)) == 0) {
			dump_tree_add(&sb, json, shown++, &d.ps, &d.opts);
			errors += d.ps.errors;
			native_failed |= d.native_failed;
		} else if (ret != -ERR_NO_PROCESS && ret != -ERR_PROCESS_GONE) {
			report_error(ret);
			status = EXIT_PARTIAL;
		}
		dumped_release(&d);
	}
	dump_tree_end(&sb, json);
	if (!shown) {
		status = report_error(err_set(ERR_NOT_PYTHON, "no Python process in the tree of pid %d (%s)", (int)root,
		                              command ? command : "?"));
		goto out;
	}
	if (!strbuf_ok(&sb)) {
		status = report_error(-ERR_NOMEM);
		goto out;
	}
	ret = write_stdout(sb.buf, sb.len);
	if (ret != EXIT_OK)
		status = ret;
	if (status == EXIT_OK && native_failed)
		status = EXIT_PARTIAL;
	if (errors) {
		fprintf(stderr, "pycoreprof: %zu thread%s could not be walked completely (see above)\n", errors,
		        errors == 1 ? "" : "s");
		if (status == EXIT_OK)
			status = EXIT_PARTIAL;
	}
out:
	strbuf_release(&sb);
	free(command);
	free(pids);
	return status;
}

int cmd_dump(int argc, char **argv)
{
	static const struct option options[] = {
		{"pid", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"no-source", no_argument, NULL, 'n'},
		{"tasks", no_argument, NULL, 't'},
		{"nonblocking", no_argument, NULL, 'b'},
		{"native", no_argument, NULL, 'N'},
		{"native-all", no_argument, NULL, 'A'},
		{"native-stack-bytes", required_argument, NULL, 'S'},
		{"subprocesses", no_argument, NULL, 's'},
		{"locals", no_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool json = false, show_source = true, freeze = true, have_pid = false, subprocesses = false;
	struct stacks_options what = {0};
	enum native_mode native = NATIVE_OFF;
	size_t stack_bytes = 8u << 20;
	pid_t pid = 0;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+hp:", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (!parse_pid(optarg, &pid))
				return usage_error("dump", "--pid needs a process id, not '%s'", optarg);
			have_pid = true;
			break;
		case 'j': json = true; break;
		case 'n': show_source = false; break;
		case 't': what.tasks = true; break;
		case 'b': freeze = false; break;
		case 'N': native = native == NATIVE_ALL ? NATIVE_ALL : NATIVE_MERGED; break;
		case 'A': native = NATIVE_ALL; break;
		case 's': subprocesses = true; break;
		case 'L': what.locals = true; break;
		case 'S':
			if (parse_stack_bytes(optarg, &stack_bytes) < 0)
				return usage_error("dump", "--native-stack-bytes takes a size from 4k to 1G, not '%s'",
				                   optarg);
			break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		case ':':
		case '?':
			if (optopt == 'p')
				return usage_error("dump", "--pid needs a process id");
			return usage_error("dump", "unknown option '%s'", argv[optind - 1]);
		default: return usage_error("dump", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return usage_error("dump", "unexpected argument '%s'", argv[optind]);
	if (!have_pid)
		return usage_error("dump", "--pid PID is needed");
	if (native != NATIVE_OFF && !freeze)
		return usage_error("dump", "--native needs the process stopped: it cannot go with --nonblocking");
	if (subprocesses)
		return dump_tree(pid, json, freeze, &what, native, stack_bytes, show_source);

	struct dumped d;
	int ret = dump_read(pid, freeze, &what, native, stack_bytes, show_source, &d);
	int status = ret < 0 ? report_error(process_tree_hint_python_below(pid, ret)) : print_stacks(&d.ps, json, &d.opts, d.native_failed);
	dumped_release(&d);
	return status;
}
