/* Command layer: one file per command, each a `int cmd_NAME(int argc,
 * char **argv)` returning an exit code. Only this layer and main.c print or
 * exit.
 *
 * Adding a command:
 *  1. write src/cmd/NAME.c with cmd_NAME() and its --help text;
 *     it parses options, wires and prints: stacks are taken through the
 *     collect layer (pycoreprof/collect.h), other logic goes below src/cmd/;
 *  2. declare it below and add it to the table in src/main.c;
 *  3. document it in docs/NAME.md and list it in README.md;
 *  4. add end-to-end tests in tests/e2e/test_NAME.py. */
#ifndef PYCOREPROF_CMD_H
#define PYCOREPROF_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes (docs/exit-codes.md). main.c flushes and checks stdout once
 * after the command: a command's EXIT_OK turns EXIT_FAIL when its output
 * could not be written (a full disk, a closed pipe). */
enum {
	EXIT_OK = 0,
	EXIT_PARTIAL = 1,   /* a result was produced, but part of it is missing */
	EXIT_FAIL = 2,      /* no result */
	EXIT_USAGE = 64,    /* the command line is wrong */
	/* Not an exit code: what a command's option parser returns when the
	 * command goes on (any exit code ends it: help printed, usage error). */
	CMD_CONTINUE = 256,
};

int cmd_core(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_flamegraph(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_archive(int argc, char **argv);
int cmd_watch(int argc, char **argv);

/* Print the current error (err.h context, the code's message and a hint of
 * what to do) as one line on stderr, and return EXIT_FAIL. RET is the
 * negative error code. */
int report_error(int ret);
/* Print a usage error naming COMMAND and return EXIT_USAGE. */
int usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write BUF to stdout; returns 0, or EXIT_FAIL after reporting when the
 * stream failed. main.c checks the stream once more at the end. */
int write_stdout(const char *buf, size_t len);
/* Write LEN bytes to PATH through a temporary file and a rename, so that a
 * reader never sees half a file (output.c). Errors: -ERR_PERM, -ERR_IO. */
int write_file_atomically(const char *path, const char *data, size_t len);
struct process_stacks;
struct dump_options;
/* Print PS as JSON or text on stdout; the exit code: EXIT_PARTIAL when a
 * thread's walk (or, with NATIVE_FAILED, the native unwinding) was cut
 * short, which is also said on stderr. */
int print_stacks(const struct process_stacks *ps, bool json, const struct dump_options *opts, bool native_failed);
/* A source_open_fn for dump_options: FILE opened with the rights of
 * TARGET, a struct target (target_open_source()). */
int open_source_as_target(void *target, const char *file);
struct aggregate;
/* Say on stderr how many events AGG's timeline left out past its bound,
 * if any. */
void say_timeline_dropped(const struct aggregate *agg);
/* True when ARG is --help or -h. */
bool is_help(const char *arg);
/* Local time "YYYY-mm-ddTHH:MM[:SS]", "YYYY-mm-dd HH:MM[:SS]",
 * "YYYY-mm-dd", or Unix seconds, into CLOCK_REALTIME seconds; -1 when it
 * is none of these (report_cmd.c). */
int parse_when(const char *text, double *seconds);
/* --seed's value: a whole number, decimal or 0x hex; -1 when it is not. */
int parse_seed(const char *text, uint64_t *seed);

#endif
