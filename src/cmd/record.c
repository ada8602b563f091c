/* `pycoreprof record` (the default command): sample a running process, or
 * launch one, into a flame graph or folded stacks. The target is resumed and
 * detached on every exit path. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/live_session.h"
#include "cmd/native_cmd.h"
#include "pycoreprof/agg.h"
#include "pycoreprof/profile_out.h"
#include "pycoreprof/python.h"
#include "pycoreprof/sampler.h"
#include "pycoreprof/target.h"

static const char usage[] =
	"usage: pycoreprof record [options] --pid PID\n"
	"       pycoreprof record [options] -- COMMAND [ARGS...]\n"
	"       pycoreprof --pid PID [options]\n"
	"\n"
	"Sample a running Python process (or launch one) and write a flame graph.\n"
	"\n"
	"  -p, --pid PID          the process to sample\n"
	"  -i, --interval N       time between samples: N[us|ms|s] (default 10ms)\n"
	"  -r, --rate HZ          samples per second (default 100)\n"
	"  -d, --duration SECONDS stop after this long (default: Ctrl-C or exit)\n"
	"  -o, --output FILE      output file; the format follows the extension:\n"
	"                         .svg flame graph, .folded/.txt folded stacks,\n"
	"                         .speedscope.json, .pb.gz (pprof), .json\n"
	"                         (default pycoreprof-PID-TIMESTAMP.svg)\n"
	"  -f, --format FORMAT    svg, folded, speedscope, pprof or json,\n"
	"                         whatever the extension\n"
	"      --idle             include threads that are not running\n"
	"      --gil              only the thread holding the GIL\n"
	"      --threads          a root frame per thread\n"
	"      --function         aggregate by function (no line numbers)\n"
	"      --subprocesses     also sample Python child processes (multiprocessing,\n"
	"                         gunicorn workers), each under a `process PID` root\n"
	"      --nonblocking      read without stopping the process (torn samples\n"
	"                         are counted as errors)\n"
	"      --native           native (C) frames too, merged with the Python\n"
	"                         frames; the interpreter's call plumbing is hidden\n"
	"      --native-all       native frames, interpreter internals included\n"
	"      --native-stack-bytes N  bytes of each thread's stack copied per\n"
	"                         sample (default 64k; suffixes k, M)\n"
	"      --title TEXT       flame graph title\n"
	"  -h, --help             this help\n";

struct record_options {
	pid_t pid;
	char **command;          /* launch form: argv after `--` */
	double interval;         /* seconds */
	double duration;         /* seconds; 0 = until stopped */
	const char *output;
	int format;              /* enum profile_format or -1 */
	const char *title;
	bool subprocesses;
	enum native_mode native;
	size_t native_stack_bytes;
	struct sampler_options sampling;
};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int signo)
{
	stop_requested = signo;
}

/* "10ms", "250us", "1s", "0.5" (seconds). */
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
	else if (strcmp(end, "s") && *end)
		return -1;
	*seconds = value;
	return 0;
}

static int parse_options(int argc, char **argv, struct record_options *o)
{
	enum { OPT_IDLE = 256, OPT_GIL, OPT_THREADS, OPT_FUNCTION, OPT_NONBLOCKING, OPT_TITLE, OPT_SUBPROCESSES,
	       OPT_NATIVE, OPT_NATIVE_ALL, OPT_NATIVE_STACK_BYTES };
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
		{"nonblocking", no_argument, NULL, OPT_NONBLOCKING},
		{"title", required_argument, NULL, OPT_TITLE},
		{"subprocesses", no_argument, NULL, OPT_SUBPROCESSES},
		{"native", no_argument, NULL, OPT_NATIVE},
		{"native-all", no_argument, NULL, OPT_NATIVE_ALL},
		{"native-stack-bytes", required_argument, NULL, OPT_NATIVE_STACK_BYTES},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;
	char *end;
	memset(o, 0, sizeof(*o));
	o->interval = 0.01;
	o->format = -1;
	o->sampling.freeze = true;
	o->native_stack_bytes = NATIVE_STACK_BYTES_DEFAULT;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+p:i:r:d:o:f:h", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			o->pid = (pid_t)strtol(optarg, &end, 10);
			if (*end || o->pid <= 0)
				return usage_error("record", "--pid needs a process id, not '%s'", optarg);
			break;
		case 'i':
			if (parse_duration(optarg, &o->interval) < 0)
				return usage_error("record", "--interval takes N[us|ms|s], not '%s'", optarg);
			break;
		case 'r': {
			double hz = strtod(optarg, &end);
			if (*end || hz <= 0 || hz > 1e6)
				return usage_error("record", "--rate takes samples per second, not '%s'", optarg);
			o->interval = 1.0 / hz;
			break;
		}
		case 'd':
			if (parse_duration(optarg, &o->duration) < 0)
				return usage_error("record", "--duration takes seconds, not '%s'", optarg);
			break;
		case 'o': o->output = optarg; break;
		case 'f':
			if ((o->format = profile_format_from_word(optarg)) < 0)
				return usage_error("record", "unknown format '%s' (svg, folded, speedscope, pprof, json)", optarg);
			break;
		case OPT_IDLE: o->sampling.idle = true; break;
		case OPT_GIL: o->sampling.gil_only = true; break;
		case OPT_THREADS: o->sampling.thread_roots = true; break;
		case OPT_FUNCTION: o->sampling.by_function = true; break;
		case OPT_NONBLOCKING: o->sampling.freeze = false; break;
		case OPT_TITLE: o->title = optarg; break;
		case OPT_SUBPROCESSES: o->subprocesses = true; break;
		case OPT_NATIVE: o->native = o->native == NATIVE_ALL ? NATIVE_ALL : NATIVE_MERGED; break;
		case OPT_NATIVE_ALL: o->native = NATIVE_ALL; break;
		case OPT_NATIVE_STACK_BYTES:
			if (parse_stack_bytes(optarg, &o->native_stack_bytes) < 0)
				return usage_error("record", "--native-stack-bytes takes a size from 4k to 1G, not '%s'",
				                   optarg);
			break;
		case 'h': fputs(usage, stdout); return write_stdout(NULL, 0) ? EXIT_FAIL : -1;
		default: return usage_error("record", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->command = argv + optind;
	if (!o->pid && !o->command)
		return usage_error("record", "give --pid PID or -- COMMAND");
	if (o->pid && o->command)
		return usage_error("record", "give either --pid or a command, not both");
	if (o->native != NATIVE_OFF && !o->sampling.freeze)
		return usage_error("record", "--native needs the threads stopped: it cannot go with --nonblocking");
	if (o->output && o->format < 0 && (o->format = profile_format_from_name(o->output)) < 0)
		return usage_error("record", "cannot tell the format of '%s' (use .svg, .folded, .speedscope.json, .pb.gz, .json or --format)",
		                   o->output);
	if (o->format < 0)
		o->format = PROFILE_SVG;
	return 0;
}

/* The median of the last pauses (1024 at most), for the status line: a copy
 * of them is sorted, not the hours of pauses a long recording keeps. */
static double recent_median(const double *pauses, size_t n)
{
	enum { RECENT = 1024 };
	double copy[RECENT];
	size_t k = n < RECENT ? n : RECENT;
	memcpy(copy, pauses + (n - k), k * sizeof(*copy));
	return percentile(copy, k, 50);
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
                         const char *subtitle, double elapsed)
{
	struct strbuf sb = {0};
	struct profile_meta meta = {.title = o->title, .subtitle = subtitle, .interval = o->interval,
	                            .duration = elapsed, .wall = o->sampling.idle};
	int ret = profile_write((enum profile_format)o->format, &sb, agg, &meta);
	if (ret == 0)
		ret = write_file_atomically(path, sb.buf, sb.len);
	strbuf_release(&sb);
	return ret;
}

/* Launch COMMAND and return once it has exec'd (or failed to): a pipe
 * closed on exec tells the two apart, so we never sample our own copy. */
static int launch(char **command, pid_t *pid)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_set_errno(ERR_IO, errno, "cannot start %s", command[0]);
	pid_t child = fork();
	if (child < 0) {
		int saved = errno;
		close(fds[0]);
		close(fds[1]);
		return err_set_errno(ERR_IO, saved, "cannot start %s", command[0]);
	}
	if (child == 0) {
		close(fds[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		execvp(command[0], command);
		int exec_errno = errno;
		ssize_t ignored = write(fds[1], &exec_errno, sizeof(exec_errno));
		(void)ignored;
		_exit(127);
	}
	close(fds[1]);
	int exec_errno = 0;
	ssize_t got;
	while ((got = read(fds[0], &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR)
		;
	close(fds[0]);
	*pid = child;
	if (got > 0) {
		waitpid(child, NULL, 0);
		*pid = 0;
		return err_set_errno(ERR_NOENT, exec_errno, "cannot run %s", command[0]);
	}
	return 0;
}

/* A launched command that could not be profiled: say whether it already
 * exited, and stop it otherwise (it was started only to be profiled). */
static int explain_launch_failure(const char *command, pid_t pid, int ret)
{
	siginfo_t info = {0};
	if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
		return err_set(ERR_NOT_PYTHON, "%s exited before a Python interpreter could be found in it", command);
	kill(pid, SIGTERM);
	if (ret == -ERR_NOT_PYTHON)
		return err_set(ERR_NOT_PYTHON, "no Python interpreter in %s (pid %d) after 10 s; stopped it", command,
		               (int)pid);
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

/* One sampled process: the root, or a descendant with --subprocesses. */
struct profiled {
	pid_t pid;
	bool active;             /* being sampled */
	bool rejected;           /* not (or no longer) worth trying */
	int attempts;
	struct live_session session;
	struct sampler sampler;
	struct native_unwinder *unwinder; /* with --native */
	char *label;             /* `process PID "cmdline"` root frame, or NULL */
};

struct recording {
	const struct record_options *opts;
	struct aggregate agg;
	struct sampler_stats retired;  /* of samplers replaced when a process exec'd */
	struct profiled *procs;
	size_t nprocs, cap;
};

static struct profiled *add_process(struct recording *r, pid_t pid)
{
	if (r->nprocs == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		struct profiled *grown = xrealloc_array(r->procs, cap, sizeof(*grown));
		if (!grown)
			return NULL;
		r->procs = grown;
		r->cap = cap;
	}
	struct profiled *p = &r->procs[r->nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	return p;
}

/* Open P for sampling; WAIT_SECONDS covers an interpreter still starting. */
static int start_process(struct recording *r, struct profiled *p, double wait_seconds)
{
	int ret = live_session_open(&p->session, p->pid, r->opts->sampling.freeze, wait_seconds, &stop_requested);
	if (ret < 0)
		return ret;
	struct sampler_options sampling = r->opts->sampling;
	if (r->opts->subprocesses) {
		const char *command = session_command(&p->session);
		p->label = xasprintf("process %d \"%s\"", (int)p->pid, command);
		if (!p->label)
			return -ERR_NOMEM;
		sampling.process_root = p->label;
	}
	sampler_release(&p->sampler);
	native_unwinder_free(p->unwinder);
	p->unwinder = NULL;
	sampler_init(&p->sampler, p->session.target, p->session.walker, &r->agg, &sampling);
	if (r->opts->native != NATIVE_OFF &&
	    ((ret = native_unwinder_new(p->session.target, pywalker_info(p->session.walker), &p->unwinder)) < 0 ||
	     (ret = sampler_enable_native(&p->sampler, p->unwinder, r->opts->native, r->opts->native_stack_bytes)) < 0))
		return ret;
	p->active = true;
	return 0;
}

/* --subprocesses: pick up Python processes that appeared below the root. */
static void find_subprocesses(struct recording *r)
{
	pid_t *pids;
	size_t n;
	if (live_list_descendants(r->procs[0].pid, &pids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct profiled *p = NULL;
		for (size_t k = 0; k < r->nprocs; k++)
			if (r->procs[k].pid == pids[i])
				p = &r->procs[k];
		if (!p && !(p = add_process(r, pids[i])))
			break;
		if (p->active || p->rejected)
			continue;
		/* A child may still be exec'ing its interpreter: a few tries. */
		if (start_process(r, p, 0) < 0 && ++p->attempts >= 3) {
			live_session_release(&p->session);
			p->rejected = true;
		}
	}
	free(pids);
}

static void stop_process(struct profiled *p)
{
	live_session_close(&p->session);
	p->active = false;
	p->rejected = true;
}

/* The interpreter vanished from where it was: the process exec'd (a
 * launcher handing over, a worker re-executing itself). Keep what was
 * counted and open the process anew. */
static void follow_exec(struct recording *r, struct profiled *p)
{
	struct sampler_stats *st = &p->sampler.stats, *kept = &r->retired;
	if (p == &r->procs[0])
		kept->samples += st->samples; /* samples are counted on the root */
	kept->stacks += st->stacks;
	kept->errors += st->errors;
	for (int k = 0; k < SAMPLER_ERR__COUNT; k++)
		kept->error_kinds[k] += st->error_kinds[k];
	if (st->npauses) {
		double *grown = xrealloc_array(kept->pauses, kept->npauses + st->npauses, sizeof(double));
		if (grown) {
			memcpy(grown + kept->npauses, st->pauses, st->npauses * sizeof(double));
			kept->pauses = grown;
			kept->npauses += st->npauses;
		}
	}
	live_session_release(&p->session);
	free(p->label);
	p->label = NULL;
	fprintf(stderr, "pycoreprof: process %d changed (exec?); looking for its interpreter again\n", (int)p->pid);
	if (start_process(r, p, 2.0) < 0)
		stop_process(p);
}

struct totals {
	uint64_t samples, errors;
	uint64_t error_kinds[SAMPLER_ERR__COUNT];
	double *pauses;
	size_t npauses;
};

static void add_up(const struct recording *r, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	size_t all = r->retired.npauses;
	for (size_t i = 0; i < r->nprocs; i++)
		all += r->procs[i].sampler.stats.npauses;
	t->pauses = all ? xcalloc(all, sizeof(double)) : NULL;
	t->samples = r->retired.samples;
	t->errors = r->retired.errors;
	memcpy(t->error_kinds, r->retired.error_kinds, sizeof(t->error_kinds));
	if (t->pauses && r->retired.npauses) {
		memcpy(t->pauses, r->retired.pauses, r->retired.npauses * sizeof(double));
		t->npauses = r->retired.npauses;
	}
	for (size_t i = 0; i < r->nprocs; i++) {
		const struct sampler_stats *st = &r->procs[i].sampler.stats;
		t->errors += st->errors;
		for (int k = 0; k < SAMPLER_ERR__COUNT; k++)
			t->error_kinds[k] += st->error_kinds[k];
		if (i == 0)
			t->samples += st->samples;
		if (t->pauses) {
			memcpy(t->pauses + t->npauses, st->pauses, st->npauses * sizeof(double));
			t->npauses += st->npauses;
		}
	}
}

static void print_summary(const struct record_options *o, const char *output, const struct totals *t,
                          double elapsed, size_t nprocesses)
{
	double rate = elapsed > 0 ? (double)t->samples / elapsed : 0.0;
	fprintf(stderr, "Wrote %s (%llu samples, %llu errors, %.1f samples/s", output, (unsigned long long)t->samples,
	        (unsigned long long)t->errors, rate);
	if (nprocesses > 1)
		fprintf(stderr, ", %zu processes", nprocesses);
	if (o->sampling.freeze && t->npauses) {
		double stopped = 0;
		for (size_t i = 0; i < t->npauses; i++)
			stopped += t->pauses[i];
		fprintf(stderr, ", pause median %.0fus p99 %.0fus max %.0fus", 1e6 * percentile(t->pauses, t->npauses, 50),
		        1e6 * percentile(t->pauses, t->npauses, 99), 1e6 * percentile(t->pauses, t->npauses, 100));
		/* What the process paid: the pauses' sum over the recording's
		 * time (the tail counts, not only the median). With several
		 * processes each had its own pauses: no one share fits them. */
		if (nprocesses == 1 && elapsed > 0)
			fprintf(stderr, ", stopped %.2f%% of the time", 100 * stopped / elapsed);
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

int cmd_record(int argc, char **argv)
{
	struct record_options o;
	int status = parse_options(argc, argv, &o);
	if (status)
		return status < 0 ? EXIT_OK : status;

	struct recording r = {.opts = &o};
	struct totals totals = {0};
	char *output = NULL, *subtitle = NULL;
	int child_status = -1;
	int ret;
	sigset_t saved_mask;
	bool reports_blocked = false;
	if (agg_init(&r.agg) < 0)
		return report_error(-ERR_NOMEM);

	struct sigaction sa = {.sa_handler = on_stop_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	pid_t pid = o.pid;
	if (o.command && (ret = launch(o.command, &pid)) < 0) {
		status = report_error(ret);
		goto out;
	}
	struct profiled *root = add_process(&r, pid);
	/* A launched interpreter needs a moment before its runtime exists. */
	if (!root || (ret = start_process(&r, root, o.command ? 10.0 : 0)) < 0) {
		if (o.command && root)
			ret = explain_launch_failure(o.command[0], pid, ret);
		status = report_error(root ? ret : -ERR_NOMEM);
		goto out;
	}
	fprintf(stderr, "Sampling process %d (%s, Python %s) every %s%s. Ctrl-C to stop.\n", (int)pid,
	        session_command(&root->session), root->session.version, format_interval(o.interval),
	        o.subprocesses ? ", with its Python subprocesses" : "");

	bool tty = isatty(STDERR_FILENO);
	live_reports_block(&saved_mask);
	reports_blocked = true;
	double start = time_now(), next = start, last_status = start, last_scan = start;
	uint64_t late = 0;
	while (!stop_requested && r.procs[0].active) {
		double now = time_now();
		if (o.duration > 0 && now - start >= o.duration)
			break;
		if (o.subprocesses && now - last_scan >= 1.0) {
			last_scan = now;
			find_subprocesses(&r);
		}
		for (size_t i = 0; i < r.nprocs; i++) {
			struct profiled *p = &r.procs[i];
			if (!p->active)
				continue;
			ret = sampler_sample(&p->sampler);
			if (ret == -ERR_PROCESS_GONE) {
				stop_process(p);
			} else if (ret == -ERR_NOT_PYTHON) {
				follow_exec(&r, p);
			} else if (ret < 0) {
				status = report_error(ret);
				goto out;
			}
		}
		next += o.interval;
		now = time_now();
		if (next < now) {
			late++;
			next = now;
		}
		if (tty && now - last_status >= 0.5) {
			const struct sampler_stats *st = &r.procs[0].sampler.stats;
			last_status = now;
			fprintf(stderr, "\r  %.1fs  %llu samples  %.1f/s  %llu errors", now - start,
			        (unsigned long long)st->samples, (double)st->samples / (now - start),
			        (unsigned long long)st->errors);
			if (o.sampling.freeze && st->npauses)
				fprintf(stderr, "  pause %.0fus median", 1e6 * recent_median(st->pauses, st->npauses));
			fputs("   ", stderr);
		}
		while (live_sleep_until(next, &stop_requested))
			for (size_t i = 0; i < r.nprocs; i++)
				if (r.procs[i].active)
					live_target_answer_reports(r.procs[i].session.target);
	}
	double elapsed = time_now() - start;
	for (size_t i = 0; i < r.nprocs; i++)
		live_session_close(&r.procs[i].session);
	if (tty)
		fputs("\r\033[K", stderr);

	size_t sampled = 0;
	for (size_t i = 0; i < r.nprocs; i++)
		sampled += r.procs[i].sampler.stats.samples > 0;
	add_up(&r, &totals);
	output = o.output ? xstrdup(o.output) : default_output_name(pid, o.format);
	/* add_process() may have moved the array: no `root` from here on. */
	subtitle = xasprintf("%s; Python %s; %.1fs, %llu samples, %.1f/s", session_command(&r.procs[0].session),
	                     r.procs[0].session.version, elapsed, (unsigned long long)totals.samples,
	                     elapsed > 0 ? (double)totals.samples / elapsed : 0.0);
	if (!output || !subtitle || (ret = write_profile(&o, &r.agg, output, subtitle, elapsed)) < 0) {
		status = report_error(output && subtitle ? ret : -ERR_NOMEM);
		goto out;
	}
	print_summary(&o, output, &totals, elapsed, sampled);
	if (late)
		fprintf(stderr, "pycoreprof: fell behind %llu times: a sample took longer than the %s interval\n",
		        (unsigned long long)late, format_interval(o.interval));
	status = totals.errors ? EXIT_PARTIAL : EXIT_OK;
out:
	for (size_t i = 0; i < r.nprocs; i++) {
		live_session_release(&r.procs[i].session);
		sampler_release(&r.procs[i].sampler);
		native_unwinder_free(r.procs[i].unwinder);
		free(r.procs[i].label);
	}
	free(r.procs);
	if (reports_blocked)
		live_reports_restore(&saved_mask);
	/* Only now, detached from it, may we wait for the launched child:
	 * while we trace it, wait reports its ptrace stops too. */
	if (o.command && pid > 0) {
		if (stop_requested && stop_requested != SIGINT)
			kill(pid, SIGTERM);
		live_wait_launched(pid, &child_status);
		if (status == EXIT_OK || status == EXIT_PARTIAL)
			status = child_exit_code(child_status);
	}
	free(totals.pauses);
	free(r.retired.pauses);
	agg_release(&r.agg);
	free(output);
	free(subtitle);
	return status;
}
