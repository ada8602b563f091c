/* `pycoreprof record` (the default command): sample a running process, or
 * launch one, into a flame graph or folded stacks; `pycoreprof top`, the
 * same sampling shown live (top_view.c), a profile written only when asked;
 * and `pycoreprof watch`, the same sampling kept as the last minutes only
 * (watch_out.c), written at a crash or when asked. A process sampled that
 * dies of a fatal signal is read into a crash snapshot first (record and
 * watch). The target is resumed and detached on every exit path. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/native_cmd.h"
#include "cmd/top_view.h"
#include "cmd/watch_out.h"
#include "pycoreprof/agg.h"
#include "pycoreprof/collect.h"
#include "pycoreprof/formats.h"

static const char usage[] =
	"usage: pycoreprof record [options] --pid PID\n"
	"       pycoreprof record [options] -- COMMAND [ARGS...]\n"
	"       pycoreprof --pid PID [options]\n"
	"\n"
	"Sample a running Python process (or launch one) and write a flame graph.\n"
	"A launched command and all it started end with the recording.\n"
	"\n"
	"  -p, --pid PID          the process to sample\n"
	"  -i, --interval N       mean time between samples: N[us|ms|s] (default 10ms);\n"
	"                         each interval is drawn from 0.5 to 1.5 x N, so that\n"
	"                         work that repeats with a period is not sampled at\n"
	"                         the same moments of it every time\n"
	"  -r, --rate HZ          mean samples per second (default 100)\n"
	"      --seed N           seed of the random intervals, for a reproducible\n"
	"                         sequence (default: from the clock)\n"
	"  -d, --duration SECONDS stop after this long (default: Ctrl-C or exit); a\n"
	"                         launched command is then ended (SIGINT, then\n"
	"                         SIGTERM and SIGKILL 2 s apart)\n"
	"  -o, --output FILE      output file; the format follows the extension:\n"
	"%s"
	"                         (default pycoreprof-PID-TIMESTAMP.svg)\n"
	"  -f, --format FORMAT    %s,\n"
	"                         whatever the extension\n"
	"      --idle             include threads that are not running\n"
	"      --gil              only the thread holding the GIL\n"
	"      --threads          a root frame per thread\n"
	"      --timeline         keep when each stack was seen: speedscope output gets\n"
	"                         one time-ordered profile per thread, JSON a timeline\n"
	"                         (speedscope or json output only; implies --threads)\n"
	"      --function         aggregate by function (no line numbers)\n"
	"      --async            a thread running an asyncio task goes on through the\n"
	"                         tasks awaiting it, each under a `task NAME` frame\n"
	"                         (docs/tasks.md)\n"
	"      --subprocesses     also sample every Python process below the root, each\n"
	"                         under a `process PID` root; the root need not be\n"
	"                         Python (a shell, a gunicorn or uwsgi master)\n"
	"      --nonblocking      read without stopping the process (torn samples\n"
	"                         are counted as errors)\n"
	"      --native           native (C) frames too, merged with the Python\n"
	"                         frames; the interpreter's call plumbing and\n"
	"                         start-up are hidden\n"
	"      --native-all       native frames, interpreter internals included\n"
	"      --native-stack-bytes N  bytes of each thread's stack copied per\n"
	"                         sample (default 64k; suffixes k, M)\n"
	"      --title TEXT       flame graph title\n"
	"  -h, --help             this help\n"
	"\n"
	"A process sampled that is about to die of SIGSEGV, SIGBUS, SIGILL, SIGFPE,\n"
	"SIGABRT or SIGSYS (not handled by the program) is read into a crash\n"
	"snapshot beside the profile (NAME.crash.core.gz) before the signal goes on.\n";

static const char watch_usage[] =
	"usage: pycoreprof watch [options] --pid PID\n"
	"       pycoreprof watch [options] -- COMMAND [ARGS...]\n"
	"\n"
	"Keep the last minutes of a Python process's samples, for hours, in bounded\n"
	"memory. When it is about to die of SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT\n"
	"or SIGSYS (not handled by the program), write a crash snapshot of every\n"
	"thread (DIR/PID-TIMESTAMP.crash.core.gz, for `pycoreprof core`) and the\n"
	"profile of the window (DIR/PID-TIMESTAMP.svg), then let the signal go on.\n"
	"SIGUSR1 to pycoreprof writes a snapshot and the profile now. A process\n"
	"killed (SIGKILL) or gone unseen leaves the window's profile; one that\n"
	"exits, nothing unless --at-end.\n"
	"\n"
	"  -p, --pid PID          the process to watch\n"
	"  -o, --output DIR       where files go (default: the current directory)\n"
	"  -w, --window N         how much to keep: N[s|m|h] (default 5m)\n"
	"      --every N          also write both every N[s|m|h], each pair replacing\n"
	"                         the last\n"
	"      --at-end           also write the profile when watching ends otherwise\n"
	"  -i, --interval N       mean time between samples (default 10ms)\n"
	"  -r, --rate HZ          mean samples per second (default 100)\n"
	"  -d, --duration N       stop after this long (default: Ctrl-C or exit)\n"
	"  -f, --format FORMAT    of the profile: %s\n"
	"      --idle             include threads that are not running\n"
	"      --gil              only the thread holding the GIL\n"
	"      --function         aggregate by function (no line numbers)\n"
	"      --subprocesses     also watch the Python processes below the root\n"
	"      --native           native (C) frames too\n"
	"      --native-all       native frames, interpreter internals included\n"
	"      --seed N           seed of the random intervals\n"
	"      --title TEXT       flame graph title\n"
	"  -h, --help             this help\n";

static const char top_usage[] =
	"usage: pycoreprof top [options] --pid PID\n"
	"       pycoreprof top [options] -- COMMAND [ARGS...]\n"
	"\n"
	"Show live where a Python process spends its time: functions by own and\n"
	"total time, refreshed every second. Keys: q quits, p pauses the display,\n"
	"s changes the sort (%%Own, %%Total, OwnTime, TotalTime), t shows threads.\n"
	"Percentages are of the samples since the last refresh, times of the\n"
	"whole run. When the output is not a terminal, a plain table is printed\n"
	"at each refresh; the whole run's table is printed at the end.\n"
	"\n"
	"  -p, --pid PID          the process to sample\n"
	"  -i, --interval N       mean time between samples (default 10ms)\n"
	"  -r, --rate HZ          mean samples per second (default 100)\n"
	"      --refresh SECONDS  time between refreshes (default 1)\n"
	"  -d, --duration SECONDS stop after this long (default: q, Ctrl-C or exit)\n"
	"  -o, --output FILE      also write the profile at the end (any format)\n"
	"      --idle             include threads that are not running\n"
	"      --gil              only the thread holding the GIL\n"
	"      --subprocesses     also sample the Python processes below the root\n"
	"      --nonblocking      read without stopping the process\n"
	"      --native           native (C) frames too\n"
	"      --native-all       native frames, interpreter internals included\n"
	"  -h, --help             this help\n";

enum run_mode { RUN_RECORD, RUN_TOP, RUN_WATCH };

struct record_options {
	const char *name;        /* "record", "top" or "watch" */
	enum run_mode mode;
	bool top;
	double window, every;    /* watch: seconds */
	bool at_end;             /* watch */
	double refresh;          /* top: seconds between refreshes */
	pid_t pid;
	char **command;          /* launch form: argv after `--` */
	double interval;         /* seconds */
	double duration;         /* seconds; 0 = until stopped */
	uint64_t seed;           /* of the clock's intervals, when SEEDED */
	bool seeded;
	const char *output;
	int format;              /* enum profile_format or -1 */
	const char *title;
	bool subprocesses;
	bool timeline;           /* keep the samples' times (agg_timeline_enable()) */
	enum native_mode native;
	size_t native_stack_bytes;
	struct sampler_options sampling;
};

/* "10ms", "250us", "1s", "0.5" (seconds), "5m", "2h". */
static int parse_duration(const char *text, double *seconds)
{
	char *end;
	double value = strtod(text, &end);
	if (end == text || value <= 0)
		return -1;
	if (!strcmp(end, "us"))
		value /= 1e6;
	else if (!strcmp(end, "ms"))
		value /= 1e3;
	else if (!strcmp(end, "m"))
		value *= 60;
	else if (!strcmp(end, "h"))
		value *= 3600;
	else if (strcmp(end, "s") && *end)
		return -1;
	*seconds = value;
	return 0;
}

static int parse_options(int argc, char **argv, enum run_mode mode, struct record_options *o)
{
	enum { OPT_IDLE = 256, OPT_GIL, OPT_THREADS, OPT_FUNCTION, OPT_NONBLOCKING, OPT_TITLE, OPT_SUBPROCESSES,
	       OPT_NATIVE, OPT_NATIVE_ALL, OPT_NATIVE_STACK_BYTES, OPT_SEED, OPT_REFRESH, OPT_ASYNC, OPT_EVERY,
	       OPT_AT_END, OPT_TIMELINE };
	bool top = mode == RUN_TOP, watch = mode == RUN_WATCH;
	static const struct option options[] = {
		{"pid", required_argument, NULL, 'p'},
		{"interval", required_argument, NULL, 'i'},
		{"rate", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},
		{"output", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, 'f'},
		{"idle", no_argument, NULL, OPT_IDLE},
		{"gil", no_argument, NULL, OPT_GIL},
		{"threads", no_argument, NULL, OPT_THREADS},
		{"function", no_argument, NULL, OPT_FUNCTION},
		{"async", no_argument, NULL, OPT_ASYNC},
		{"nonblocking", no_argument, NULL, OPT_NONBLOCKING},
		{"title", required_argument, NULL, OPT_TITLE},
		{"subprocesses", no_argument, NULL, OPT_SUBPROCESSES},
		{"native", no_argument, NULL, OPT_NATIVE},
		{"native-all", no_argument, NULL, OPT_NATIVE_ALL},
		{"native-stack-bytes", required_argument, NULL, OPT_NATIVE_STACK_BYTES},
		{"seed", required_argument, NULL, OPT_SEED},
		{"refresh", required_argument, NULL, OPT_REFRESH},
		{"window", required_argument, NULL, 'w'},
		{"every", required_argument, NULL, OPT_EVERY},
		{"at-end", no_argument, NULL, OPT_AT_END},
		{"timeline", no_argument, NULL, OPT_TIMELINE},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;
	char *end, list[PROFILE_LIST_SIZE], words[PROFILE_LIST_SIZE];
	memset(o, 0, sizeof(*o));
	o->name = top ? "top" : watch ? "watch" : "record";
	o->mode = mode;
	o->top = top;
	o->window = 300;
	o->refresh = 1;
	o->interval = 0.01;
	o->format = -1;
	o->sampling.freeze = true;
	o->native_stack_bytes = NATIVE_STACK_BYTES_DEFAULT;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, watch ? "+p:i:r:d:o:f:w:h" : "+p:i:r:d:o:f:h", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			o->pid = (pid_t)strtol(optarg, &end, 10);
			if (*end || o->pid <= 0)
				return usage_error(o->name, "--pid needs a process id, not '%s'", optarg);
			break;
		case 'i':
			if (parse_duration(optarg, &o->interval) < 0)
				return usage_error(o->name, "--interval takes N[us|ms|s], not '%s'", optarg);
			break;
		case 'r': {
			double hz = strtod(optarg, &end);
			if (*end || hz <= 0 || hz > 1e6)
				return usage_error(o->name, "--rate takes samples per second, not '%s'", optarg);
			o->interval = 1.0 / hz;
			break;
		}
		case 'd':
			if (parse_duration(optarg, &o->duration) < 0)
				return usage_error(o->name, "--duration takes seconds, not '%s'", optarg);
			break;
		case 'o': o->output = optarg; break;
		case 'f':
			if ((o->format = profile_format_from_word(optarg)) < 0)
				return usage_error(o->name, "unknown format '%s' (%s)", optarg,
				                   profile_format_list(list, PROFILE_LIST_WORDS, ", "));
			break;
		case OPT_IDLE: o->sampling.idle = true; break;
		case OPT_GIL: o->sampling.gil_only = true; break;
		case OPT_THREADS: o->sampling.thread_roots = true; break;
		case OPT_TIMELINE: o->timeline = true; break;
		case OPT_FUNCTION: o->sampling.by_function = true; break;
		case OPT_ASYNC: o->sampling.async_tasks = true; break;
		case OPT_NONBLOCKING: o->sampling.freeze = false; break;
		case OPT_TITLE: o->title = optarg; break;
		case OPT_SUBPROCESSES: o->subprocesses = true; break;
		case OPT_NATIVE: o->native = o->native == NATIVE_ALL ? NATIVE_ALL : NATIVE_MERGED; break;
		case OPT_NATIVE_ALL: o->native = NATIVE_ALL; break;
		case OPT_NATIVE_STACK_BYTES:
			if (parse_stack_bytes(optarg, &o->native_stack_bytes) < 0)
				return usage_error(o->name, "--native-stack-bytes takes a size from 4k to 1G, not '%s'",
				                   optarg);
			break;
		case OPT_SEED:
			if (parse_seed(optarg, &o->seed) < 0)
				return usage_error(o->name, "--seed takes a whole number, not '%s'", optarg);
			o->seeded = true;
			break;
		case OPT_REFRESH:
			if (!top || parse_duration(optarg, &o->refresh) < 0)
				return usage_error(o->name, top ? "--refresh takes seconds, not '%s'" : "unknown option '--refresh'",
				                   optarg);
			break;
		case 'w':
		case OPT_EVERY:
			if (!watch)
				return usage_error(o->name, "unknown option '%s'", argv[optind - 1]);
			if (parse_duration(optarg, opt == 'w' ? &o->window : &o->every) < 0)
				return usage_error(o->name, "--%s takes N[s|m|h], not '%s'", opt == 'w' ? "window" : "every",
				                   optarg);
			break;
		case OPT_AT_END:
			if (!watch)
				return usage_error(o->name, "unknown option '--at-end'");
			o->at_end = true;
			break;
		case 'h':
			if (top) {
				printf(top_usage);
				return EXIT_OK;
			}
			if (watch) {
				printf(watch_usage, profile_format_list(words, PROFILE_LIST_WORDS, " or "));
				return EXIT_OK;
			}
			/* The extensions in the second column (25) of 80. */
			printf(usage, profile_format_help(list, 25, 79), profile_format_list(words, PROFILE_LIST_WORDS, " or "));
			return EXIT_OK;
		default: return usage_error(o->name, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->command = argv + optind;
	if (!o->pid && !o->command)
		return usage_error(o->name, "give --pid PID or -- COMMAND");
	if (o->pid && o->command)
		return usage_error(o->name, "give either --pid or a command, not both");
	if (o->native != NATIVE_OFF && !o->sampling.freeze)
		return usage_error(o->name, "--native needs the threads stopped: it cannot go with --nonblocking");
	if (o->native != NATIVE_OFF && o->sampling.async_tasks)
		return usage_error(o->name, "--async cannot go with --native yet");
	if (watch && o->timeline)
		return usage_error(o->name, "--timeline is record's: watch keeps a window of samples, not a timeline");
	if (watch && (!o->sampling.freeze || o->sampling.thread_roots))
		return usage_error(o->name, "%s is record's: watch keeps the process seized to see a crash coming, and "
		                   "its window has no thread roots", o->sampling.freeze ? "--threads" : "--nonblocking");
	if (watch && o->every > 0 && o->every < 1)
		return usage_error(o->name, "--every takes at least 1s");
	if (watch && !o->output)
		o->output = ".";
	if (watch) {
		if (o->format < 0)
			o->format = PROFILE_SVG;
		return CMD_CONTINUE;
	}
	if (o->output && o->format < 0 && (o->format = profile_format_from_name(o->output)) < 0)
		return usage_error(o->name, "cannot tell the format of '%s' (use %s or --format)", o->output,
		                   profile_format_list(list, PROFILE_LIST_EXTENSIONS, ", "));
	if (o->format < 0)
		o->format = PROFILE_SVG;
	if (top && (o->title || o->sampling.thread_roots || o->sampling.by_function || o->timeline))
		return usage_error(o->name, "--title, --threads, --timeline and --function are record's (t shows threads)");
	/* A timeline is kept per thread: each thread's samples are told apart
	 * by its root frame. */
	if (o->timeline && o->format != PROFILE_SPEEDSCOPE && o->format != PROFILE_JSON)
		return usage_error(o->name, "--timeline needs a speedscope or json output (.speedscope.json, .json)");
	if (o->timeline)
		o->sampling.thread_roots = true;
	/* The view's threads come from thread roots. */
	if (top)
		o->sampling.thread_roots = true;
	return CMD_CONTINUE;
}

/* "10ms", "250us", "1s" for an interval in seconds (static buffer). */
static const char *format_interval(double seconds)
{
	static char text[32];
	if (seconds >= 1 && seconds == (double)(long)seconds)
		snprintf(text, sizeof(text), "%lds", (long)seconds);
	else if (seconds >= 1e-3 && seconds * 1e3 == (double)(long)(seconds * 1e3 + 0.5))
		snprintf(text, sizeof(text), "%ldms", (long)(seconds * 1e3 + 0.5));
	else
		snprintf(text, sizeof(text), "%.0fus", seconds * 1e6);
	return text;
}

static char *default_output_name(pid_t pid, int format)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	return xasprintf("pycoreprof-%d-%s.%s", (int)pid, stamp, profile_format_extension(format));
}

static int write_profile(const struct record_options *o, const struct aggregate *agg, const char *path,
                         const char *subtitle, double elapsed, const struct tree_totals *totals)
{
	struct strbuf sb = {0};
	struct profile_error_kind kinds[SAMPLER_ERR__COUNT];
	size_t nkinds = 0;
	for (int k = 0; k < SAMPLER_ERR__COUNT; k++)
		if (totals->error_kinds[k])
			kinds[nkinds++] = (struct profile_error_kind){sampler_error_name((enum sampler_error)k),
			                                              totals->error_kinds[k]};
	struct profile_meta meta = {.title = o->title, .subtitle = subtitle, .interval = o->interval,
	                            .duration = elapsed, .wall = o->sampling.idle, .errors_known = true, .errors = totals->errors,
	                            .error_kinds = kinds, .nerror_kinds = nkinds};
	int ret = profile_write((enum profile_format)o->format, &sb, agg, &meta);
	if (ret == 0)
		ret = write_file_atomically(path, sb.buf, sb.len);
	strbuf_release(&sb);
	return ret;
}

/* The launched child's exit status as our exit code. */
static int child_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_FAIL;
}

/* Whether a SIGINT we got most likely came from the terminal's Ctrl-C,
 * which the launched command (in our process group) got too: our group is
 * the terminal's foreground group. */
static bool interrupt_from_terminal(void)
{
	pid_t group = tcgetpgrp(STDIN_FILENO);
	if (group < 0)
		group = tcgetpgrp(STDERR_FILENO);
	return group > 0 && group == getpgrp();
}

/* How the launched command ended, when we ended it (ASKED) or had to end
 * what it left: "pycoreprof: ended python3 app.py (pid 42) with SIGINT: it
 * exited on SIGINT". */
static void say_end(const struct process_tree *tree, const struct tree_end *end, bool asked)
{
	char name[16];
	if (!asked && !end->nsent && !end->left)
		return;
	fprintf(stderr, "pycoreprof: ");
	if (asked && end->nsent) {
		fprintf(stderr, "ended %s (pid %d) with ", tree->root_command, (int)tree->root);
		for (size_t i = 0; i < end->nsent; i++)
			fprintf(stderr, "%s%s", i ? ", then " : "", signal_name(end->sent[i], name));
		fputs(": it ", stderr);
	} else {
		fprintf(stderr, "%s (pid %d) ", tree->root_command, (int)tree->root);
	}
	if (end->status == -1)
		fputs("ended", stderr);
	else if (WIFEXITED(end->status))
		fprintf(stderr, "exited with status %d", WEXITSTATUS(end->status));
	else if (WIFSIGNALED(end->status))
		fprintf(stderr, "was ended by %s", signal_name(WTERMSIG(end->status), name));
	if (!asked && end->nsent) {
		fputs("; what it left running was ended with ", stderr);
		for (size_t i = 0; i < end->nsent; i++)
			fprintf(stderr, "%s%s", i ? ", then " : "", signal_name(end->sent[i], name));
	}
	if (end->left)
		fputs("; some of its processes were still there after SIGKILL", stderr);
	fputc('\n', stderr);
}

/* The process tree tells that PID exec'd: say so. */
static void say_exec_seen(pid_t pid)
{
	fprintf(stderr, "pycoreprof: process %d changed (exec?); looking for its interpreter again\n", (int)pid);
}

/* "100", "333.3": the asked rate, samples per second (static buffer). */
static const char *format_rate(double interval)
{
	static char text[32];
	double hz = 1.0 / interval;
	double whole = (double)(long)(hz + 0.5);
	snprintf(text, sizeof(text), fabs(hz - whole) < 1e-6 * hz ? "%.0f" : "%.1f", hz);
	return text;
}

static void print_summary(const struct record_options *o, const char *output, struct tree_totals *t,
                          double elapsed)
{
	size_t nprocesses = t->sampled;
	double rate = elapsed > 0 ? (double)t->samples / elapsed : 0.0;
	fprintf(stderr, "Wrote %s (%llu samples, %llu errors, %.1f samples/s of %s asked", output,
	        (unsigned long long)t->samples, (unsigned long long)t->errors, rate, format_rate(o->interval));
	if (nprocesses > 1)
		fprintf(stderr, ", %zu processes", nprocesses);
	if (o->sampling.freeze && t->pauses.n) {
		double stopped = pause_stats_sum(&t->pauses);
		fprintf(stderr, ", pause median %.0fus p99 %.0fus max %.0fus", 1e6 * pause_stats_percentile(&t->pauses, 50),
		        1e6 * pause_stats_percentile(&t->pauses, 99), 1e6 * pause_stats_percentile(&t->pauses, 100));
		/* What the process paid: the pauses' sum over the recording's
		 * time (the tail counts, not only the median). With several
		 * processes each had its own pauses: the most any one paid. */
		if (nprocesses == 1 && elapsed > 0)
			fprintf(stderr, ", stopped %.2f%% of the time", 100 * stopped / elapsed);
		else if (nprocesses > 1)
			fprintf(stderr, ", each stopped %.2f%% of the time at most", 100 * t->stopped_share_max);
	}
	fputs(")\n", stderr);
	/* What the errors were, most frequent first. */
	if (t->errors) {
		bool shown[SAMPLER_ERR__COUNT] = {false};
		fprintf(stderr, "pycoreprof: %llu error%s:", (unsigned long long)t->errors, t->errors == 1 ? "" : "s");
		for (int listed = 0;; listed++) {
			int top = -1;
			for (int k = 0; k < SAMPLER_ERR__COUNT; k++)
				if (!shown[k] && t->error_kinds[k] && (top < 0 || t->error_kinds[k] > t->error_kinds[top]))
					top = k;
			if (top < 0)
				break;
			shown[top] = true;
			fprintf(stderr, "%s %llu %s", listed ? "," : "", (unsigned long long)t->error_kinds[top],
			        sampler_error_name((enum sampler_error)top));
		}
		fputc('\n', stderr);
	}
}

/* What the status line shows: samples and errors so far, the median of
 * the recent pauses of the first process sampled. */
static void show_status(const struct process_tree *tree, const struct record_options *o, double now)
{
	uint64_t errors = tree->retired.errors;
	const struct sampler_stats *first = NULL;
	for (size_t i = 0; i < tree->nprocs; i++) {
		errors += tree->procs[i].sampler.stats.errors;
		if (!first && tree->procs[i].active)
			first = &tree->procs[i].sampler.stats;
	}
	double span = tree->first_sample ? now - tree->first_sample : 0;
	fprintf(stderr, "\r  %.1fs  %llu samples  %.1f/s  %llu errors", span, (unsigned long long)tree->samples,
	        span > 0 ? (double)tree->samples / span : 0.0, (unsigned long long)errors);
	if (o->sampling.freeze && first && first->pauses.n)
		fprintf(stderr, "  pause %.0fus median", 1e6 * pause_stats_recent_median(&first->pauses));
	if (!tree->samples)
		fputs("  waiting for a Python process", stderr);
	fputs("\033[K", stderr);   /* the rest of a longer line before */
}

/* Where `record` writes a crash snapshot: beside the profile, named after
 * it (NAME.crash.core.gz, NAME.PID.crash.core.gz for a process below the
 * root). */
struct record_crash {
	char *base;              /* the profile's name without its extension */
	pid_t root;
	bool tty;                /* a status line may be on stderr */
};

static char *profile_base(const char *output, int format)
{
	const char *ext = profile_format_extension((enum profile_format)format);
	size_t len = strlen(output), ext_len = strlen(ext);
	if (len > ext_len + 1 && output[len - ext_len - 1] == '.' && !strcmp(output + len - ext_len, ext))
		len -= ext_len + 1;
	return xstrndup(output, len);
}

static void record_crash_seen(void *ctx, const struct profiled *p, const struct crash_capture *c, int ret)
{
	struct record_crash *rc = ctx;
	char name[16];
	char *path = p->pid == rc->root ? xasprintf("%s.crash.core.gz", rc->base)
	                                : xasprintf("%s.%d.crash.core.gz", rc->base, (int)p->pid);
	if (rc->tty)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "pycoreprof: process %d received %s in thread %d", (int)p->pid,
	        signal_name(c->signal.number, name), (int)c->signal.tid);
	if (ret == 0 && !path)
		ret = -ERR_NOMEM;
	if (ret == 0)
		ret = write_file_atomically(path, c->file.buf, c->file.len);
	if (ret < 0) {
		fputs(": its crash snapshot was not written\n", stderr);
		report_error(ret);
	} else {
		fprintf(stderr, ": wrote %s (pycoreprof core %s: why it died)\n", path, path);
	}
	free(path);
}

static int run(int argc, char **argv, enum run_mode mode)
{
	struct record_options o;
	int status = parse_options(argc, argv, mode, &o);
	if (status != CMD_CONTINUE)
		return status;

	struct aggregate agg;
	struct process_tree tree;
	struct tree_options tree_opts = {.sampling = o.sampling, .subprocesses = o.subprocesses, .native = o.native,
	                                 .native_stack_bytes = o.native_stack_bytes, .exec_seen = say_exec_seen};
	struct tree_totals totals = {0};
	char *output = NULL, *subtitle = NULL;
	bool recorded = false, duration_reached = false, quit = false;
	int ret;
	struct sample_clock clock = {0};
	struct top_view *view = NULL;
	struct watch_out *watch = NULL;
	struct record_crash crash = {.tty = isatty(STDERR_FILENO)};
	if (agg_init(&agg) < 0 || (o.timeline && agg_timeline_enable(&agg, 0) < 0)) {
		agg_release(&agg);
		return report_error(-ERR_NOMEM);
	}
	if (o.mode == RUN_WATCH) {
		struct watch_options wo = {.dir = o.output, .window = o.window, .every = o.every, .at_end = o.at_end,
		                           .format = o.format, .title = o.title, .interval = o.interval,
		                           .wall = o.sampling.idle};
		if (!(watch = watch_out_new(&wo, &agg))) {
			agg_release(&agg);
			return EXIT_FAIL;
		}
		tree_opts.crash_seen = watch_out_crash_seen;
		tree_opts.ctx = watch;
	} else if (o.mode == RUN_RECORD && o.sampling.freeze) {
		tree_opts.crash_seen = record_crash_seen;
		tree_opts.ctx = &crash;
	}
	process_tree_init(&tree, &agg, &tree_opts);

	guard_install(GUARD_STOP_FIRST);

	if ((ret = process_tree_open(&tree, o.pid, o.command)) < 0) {
		status = report_error(ret);
		goto out;
	}
	if (o.mode != RUN_WATCH) {
		/* Named now: a crash snapshot is written beside it. */
		output = o.output ? xstrdup(o.output) : default_output_name(tree.root, o.format);
		crash.root = tree.root;
		if (!output || !(crash.base = profile_base(output, o.format))) {
			status = report_error(-ERR_NOMEM);
			goto out;
		}
	}
	if (o.top) {
		if (!(view = top_view_new(o.refresh, o.interval))) {
			status = report_error(-ERR_NOMEM);
			goto out;
		}
	} else if (watch) {
		bool python = process_tree_root_sampled(&tree);
		fprintf(stderr, "Watching process %d (%s%s%s) every %s on average%s (keeping the last %s of samples). "
		        "SIGUSR1 writes them now; Ctrl-C stops.\n", (int)tree.root, tree.root_command,
		        python ? ", Python " : "", python ? live_session_python(&tree.procs[0].session) : "",
		        format_interval(o.interval), o.subprocesses ? ", with its Python subprocesses" : "",
		        watch_out_window_words(o.window));
	} else if (process_tree_root_sampled(&tree)) {
		const struct live_session *root = &tree.procs[0].session;
		fprintf(stderr, "Sampling process %d (%s, Python %s) every %s on average%s. Ctrl-C to stop.\n",
		        (int)tree.root, live_session_command(root), live_session_python(root), format_interval(o.interval),
		        o.subprocesses ? ", with its Python subprocesses" : "");
	} else {
		fprintf(stderr, "Sampling the Python processes below process %d (%s) as they appear, every %s on "
		        "average. Ctrl-C to stop.\n", (int)tree.root, tree.root_command, format_interval(o.interval));
	}

	bool tty = isatty(STDERR_FILENO);
	sample_clock_start(&clock, o.interval, o.seeded ? o.seed : sample_clock_time_seed());
	double start = clock.start, last_status = start;
	while (!guard_stop_signal() && process_tree_sampling(&tree)) {
		double now = time_now();
		if (o.duration > 0 && now - start >= o.duration) {
			duration_reached = true;
			break;
		}
		if (watch)
			watch_out_tick(watch, &tree, now);
		if ((ret = process_tree_sample(&tree, now)) < 0) {
			status = report_error(ret);
			goto out;
		}
		now = sample_clock_advance(&clock);
		if (view) {
			if ((quit = top_view_tick(view, &tree, &agg, now)))
				break;
		} else if (tty && !watch && now - last_status >= 0.5) {
			last_status = now;
			show_status(&tree, &o, now);
		}
		while (sample_clock_wait(&clock, &guard_stop_requested))
			process_tree_answer_reports(&tree);
	}
	double end = time_now();
	/* The time sampled: from the first sample (a process below a wrapper
	 * may have come late) to the end. */
	double elapsed = tree.first_sample ? end - tree.first_sample : 0.0;
	process_tree_close(&tree);
	if (view)
		top_view_finish(view, &tree, &agg, end);
	else if (tty && !watch)
		fputs("\r\033[K", stderr);
	if (watch) {
		const struct profiled *root = &tree.procs[0];
		bool stopped = !root->ended;
		status = watch_out_finish(watch, &tree, stopped, root->has_end_status ? root->end_status : -1);
		recorded = status == EXIT_OK;
		goto out;
	}

	process_tree_totals(&tree, &totals);
	if (o.top && !o.output) {
		/* The table was the result; no profile was asked for. */
		recorded = true;
		status = EXIT_OK;
		goto out;
	}
	subtitle = xasprintf("%s; Python %s; %.1fs, %llu samples, %.1f/s", tree.root_command,
	                     tree.python[0] ? tree.python : "?", elapsed, (unsigned long long)totals.samples,
	                     elapsed > 0 ? (double)totals.samples / elapsed : 0.0);
	if (!output || !subtitle || (ret = write_profile(&o, &agg, output, subtitle, elapsed, &totals)) < 0) {
		status = report_error(output && subtitle ? ret : -ERR_NOMEM);
		goto out;
	}
	recorded = true;
	status = totals.errors ? EXIT_PARTIAL : EXIT_OK;
	if (!tree.python[0]) {
		fprintf(stderr, "pycoreprof: no Python process was found below process %d (%s); %s is empty\n",
		        (int)tree.root, tree.root_command, output);
	} else if (!totals.stacks) {
		/* No success summary for a profile of nothing: why it is empty. */
		fprintf(stderr, "pycoreprof: 0 of %llu samples caught a running Python thread; the process was idle "
		        "(use --idle for wall-clock time); %s is empty\n", (unsigned long long)totals.samples, output);
	} else {
		print_summary(&o, output, &totals, elapsed);
		if (!o.sampling.idle && totals.stacks * 100 < totals.samples)
			fprintf(stderr, "pycoreprof: only %llu thread stacks in %llu samples: the process was mostly idle "
			        "(use --idle for wall-clock time)\n", (unsigned long long)totals.stacks,
			        (unsigned long long)totals.samples);
	}
	say_timeline_dropped(&agg);
	if (clock.late)
		fprintf(stderr, "pycoreprof: fell behind: %llu ticks missed, the sampler could not keep up with %s samples/s\n",
		        (unsigned long long)clock.late, format_rate(o.interval));
out:
	process_tree_close(&tree);
	sample_clock_stop(&clock);
	if (tree.launched && tree.root > 0) {
		/* A launched command and all it started end with the recording
		 * (docs/record.md, "The launched command"). A command that ended
		 * by itself is waited for, then what it left is ended. */
		int stop = guard_stop_signal(), first = 0;
		double grace = TREE_END_GRACE;
		bool asked = stop || duration_reached || quit || !recorded;
		if (stop == SIGINT)
			first = interrupt_from_terminal() ? 0 : SIGINT;
		else if (stop)
			first = stop;
		else if (asked)
			first = SIGINT;
		else
			grace = -1;
		struct tree_end ended;
		process_tree_end(&tree, first, grace, &ended);
		say_end(&tree, &ended, asked);
		/* The command's exit code becomes ours when it ended by itself or
		 * was stopped with us; not when we ended it at --duration. */
		if ((status == EXIT_OK || status == EXIT_PARTIAL) && !duration_reached && ended.status != -1)
			status = child_exit_code(ended.status);
	}
	top_view_free(view);
	watch_out_free(watch);
	process_tree_release(&tree);
	guard_uninstall();
	pause_stats_release(&totals.pauses);
	agg_release(&agg);
	free(output);
	free(subtitle);
	free(crash.base);
	return status;
}

int cmd_record(int argc, char **argv)
{
	return run(argc, argv, RUN_RECORD);
}

int cmd_top(int argc, char **argv)
{
	return run(argc, argv, RUN_TOP);
}

int cmd_watch(int argc, char **argv)
{
	return run(argc, argv, RUN_WATCH);
}
