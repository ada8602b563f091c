/* `pycoreprof core CORE`: post-mortem analysis of a core file (kernel crash
 * core, gcore core or snapshot, plain or compressed): which thread died of what
 * signal, and every thread's Python stack. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "cmd/native_cmd.h"
#include "pycoreprof/formats.h"
#include "pycoreprof/python.h"
#include "pycoreprof/stacks.h"
#include "pycoreprof/target.h"

static const char usage[] =
	"usage: pycoreprof core [options] CORE\n"
	"\n"
	"Show why a Python process died and every thread's Python stack, from a\n"
	"core file (kernel core, gcore core or pycoreprof snapshot; gzip, zstd, xz\n"
	"and lz4 are read transparently). Innermost frame first.\n"
	"\n"
	"  --json               one JSON document (docs/json.md)\n"
	"  --no-source          do not print source lines under frames\n"
	"  --tasks              every asyncio task too, with its await chain and who\n"
	"                       awaits whom (docs/tasks.md)\n"
	"  --native             native (C) frames too, merged with the Python frames;\n"
	"                       the interpreter's own call plumbing and start-up\n"
	"                       are hidden\n"
	"  --native-all         native frames, interpreter internals included\n"
	"  --locals             each Python frame's local variables, as bounded reprs\n"
	"                       (docs/locals.md)\n"
	"  --exe PATH           the executable, when the core's record of it is wrong\n"
	"  --search-path DIRS   colon-separated directories holding the executable and\n"
	"                       libraries (found by name and build-id)\n"
	"  --sysroot DIR        the root the process saw (a container's files): its\n"
	"                       binaries, debug files and sources are looked for there\n"
	"  -h, --help           this help\n";

int cmd_core(int argc, char **argv)
{
	static const struct option options[] = {
		{"json", no_argument, NULL, 'j'},
		{"no-source", no_argument, NULL, 'n'},
		{"tasks", no_argument, NULL, 't'},
		{"exe", required_argument, NULL, 'e'},
		{"search-path", required_argument, NULL, 's'},
		{"sysroot", required_argument, NULL, 'r'},
		{"native", no_argument, NULL, 'N'},
		{"native-all", no_argument, NULL, 'A'},
		{"locals", no_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct core_open_options open_opts = {0};
	bool json = false, show_source = true;
	struct stacks_options what = {0};
	enum native_mode native = NATIVE_OFF;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'n': show_source = false; break;
		case 't': what.tasks = true; break;
		case 'e': open_opts.exe_path = optarg; break;
		case 's': open_opts.search_path = optarg; break;
		case 'r': open_opts.sysroot = optarg; break;
		case 'N': native = native == NATIVE_ALL ? NATIVE_ALL : NATIVE_MERGED; break;
		case 'A': native = NATIVE_ALL; break;
		case 'L': what.locals = true; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: return usage_error("core", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return usage_error("core", optind == argc ? "a core file is needed" : "one core file at a time");
	const char *path = argv[optind];

	struct target *t = NULL;
	struct pywalker *w = NULL;
	struct process_stacks ps = {0};
	struct native_copies copies = {0};
	struct native_unwinder *unwinder = NULL;
	bool native_failed = false;
	int status;
	int ret = core_target_open(path, &open_opts, &t);
	if (ret < 0 || (ret = pywalker_new(t, &w)) < 0 ||
	    (ret = process_stacks_collect(t, w, target_kind_name(t), &what, &ps)) < 0) {
		status = report_error(ret);
		goto out;
	}
	process_stacks_name_interpreters(&ps);
	if (native != NATIVE_OFF) {
		/* A core does not change: the unwinder reads it directly. */
		if ((ret = native_copy_threads(&copies, t, 0)) < 0) {
			status = report_error(ret);
			goto out;
		}
		native_failed = !add_native_frames(&ps, &copies, native, &unwinder);
	}
	struct dump_options dump_opts = {.show_source = show_source,
	                                 .source = {open_source_as_target, t},
	                                 .origin = path};
	status = print_stacks(&ps, json, &dump_opts, native_failed);
out:
	source_cache_clear();
	process_stacks_release(&ps);
	native_unwinder_free(unwinder);
	native_copies_release(&copies);
	pywalker_free(w);
	target_free(t);
	return status;
}
