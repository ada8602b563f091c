/* `pycoreprof dump --pid PID`: every thread's Python stack of a running
 * process now, read during one short freeze (or without stopping it, with
 * --nonblocking). The process is resumed and detached on every path. */
#include <errno.h>
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
	"usage: pycoreprof dump [options] --pid PID\n"
	"\n"
	"Show every thread's Python stack of a running process, innermost frame\n"
	"first. The process is stopped for a moment while its stacks are read and\n"
	"then let go; it is never left stopped or traced.\n"
	"\n"
	"  -p, --pid PID        the process\n"
	"  --json               one JSON document (docs/json.md)\n"
	"  --no-source          do not print source lines under frames\n"
	"  --nonblocking        read without stopping the process (stacks may be\n"
	"                       torn if it runs Python code meanwhile)\n"
	"  --native             native (C) frames too, merged with the Python frames;\n"
	"                       the interpreter's own call plumbing and start-up\n"
	"                       are hidden\n"
	"  --native-all         native frames, interpreter internals included\n"
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

int cmd_dump(int argc, char **argv)
{
	static const struct option options[] = {
		{"pid", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"no-source", no_argument, NULL, 'n'},
		{"nonblocking", no_argument, NULL, 'b'},
		{"native", no_argument, NULL, 'N'},
		{"native-all", no_argument, NULL, 'A'},
		{"native-stack-bytes", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool json = false, show_source = true, freeze = true, have_pid = false;
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
		case 'b': freeze = false; break;
		case 'N': native = native == NATIVE_ALL ? NATIVE_ALL : NATIVE_MERGED; break;
		case 'A': native = NATIVE_ALL; break;
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

	struct target *t = NULL;
	struct pywalker *w = NULL;
	struct process_stacks ps = {0};
	struct native_copies copies = {0};
	struct native_unwinder *unwinder = NULL;
	char origin[32];
	bool native_failed = false;
	int status;
	guard_install(GUARD_DIE);
	int ret = process_stacks_collect_live(pid, freeze, native != NATIVE_OFF ? &copies : NULL, stack_bytes, &t, &w,
	                                      &ps);
	guard_uninstall();
	if (ret < 0) {
		status = report_error(ret);
		goto out;
	}
	if (native != NATIVE_OFF)
		native_failed = !add_native_frames(&ps, &copies, native, &unwinder);
	snprintf(origin, sizeof(origin), "pid %d", (int)pid);
	struct dump_options dump_opts = {.show_source = show_source,
	                                 .source = {open_source_as_target, t},
	                                 .origin = origin};
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
