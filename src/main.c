/* pycoreprof's entry point: global options, the command table and the
 * dispatch to src/cmd/. A first argument that is an option selects the
 * default command, `record`. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"record", cmd_record, "sample a running (or launched) Python process into a flame graph"},
	{"core", cmd_core, "why a process died and every thread's Python stack, from a core file"},
	{"dump", cmd_dump, "every thread's Python stack of a running process, now"},
	{"top", cmd_top, "a live view of where a running (or launched) Python process spends its time"},
	{"watch", cmd_watch, "keep the last minutes of a Python process's samples; at a crash, a snapshot of every thread"},
	{"flamegraph", cmd_flamegraph, "render folded stacks (from any tool) as an SVG flame graph"},
	{"convert", cmd_convert, "convert a profile from one format to another"},
	{"snapshot", cmd_snapshot, "write small core files of a running process's Python stacks"},
	{"report", cmd_report, "one profile from many snapshots, cores, archives or profiles"},
	{"archive", cmd_archive, "list a snapshot archive, or extract a snapshot from it"},
};
static const size_t ncommands = sizeof(commands) / sizeof(commands[0]);
static const char default_command[] = "record";

static void print_usage(FILE *out)
{
	fputs("usage: pycoreprof COMMAND [options]\n"
	      "\n"
	      "Shows where a Python program spends its time and why it died, by reading\n"
	      "its memory from outside.\n"
	      "\n"
	      "commands:\n", out);
	for (size_t i = 0; i < ncommands; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "  pycoreprof COMMAND --help   options of a command\n"
	      "  pycoreprof --version        version\n", out);
}

/* Everything a command wrote to stdout reaches the file or pipe here, so a
 * full disk or a closed pipe is reported once, as git's run_builtin does;
 * an error already reported keeps its status. */
static int finish_stdout(int status)
{
	bool failed = fflush(stdout) != 0 || ferror(stdout);
	int saved = errno;
	failed = fclose(stdout) != 0 || failed;
	if (!failed)
		return status;
	if (status == EXIT_OK || status == EXIT_PARTIAL)
		fprintf(stderr, "pycoreprof: cannot write the output: %s\n", strerror(saved ? saved : errno));
	return status == EXIT_OK || status == EXIT_PARTIAL ? EXIT_FAIL : status;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ncommands; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int run_command(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	if (is_help(argv[1]) || !strcmp(argv[1], "help")) {
		if (argc > 2 && !is_help(argv[1]) && find_command(argv[2])) {
			char *help_argv[] = {argv[2], "--help", NULL};
			return find_command(argv[2])->run(2, help_argv);
		}
		print_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("pycoreprof %s\n", PYCOREPROF_VERSION);
		return EXIT_OK;
	}
	const struct command *cmd;
	if (argv[1][0] == '-') {
		/* `pycoreprof --pid 42` means `pycoreprof record --pid 42`. */
		cmd = find_command(default_command);
		if (!cmd) {
			fprintf(stderr, "pycoreprof: unknown option '%s' (see `pycoreprof --help`)\n", argv[1]);
			return EXIT_USAGE;
		}
		argv[0] = (char *)default_command;
		return cmd->run(argc, argv);
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "pycoreprof: unknown command '%s' (see `pycoreprof --help`)\n", argv[1]);
		return EXIT_USAGE;
	}
	return cmd->run(argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
	return finish_stdout(run_command(argc, argv));
}
