/* `pycoreprof snapshot --pid PID`: write small ELF cores holding just what
 * rebuilding the process's Python stacks needs, once or periodically. The
 * process is resumed after each snapshot and detached on every path. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd/cmd.h"
#include "cmd/archive_rotate.h"
#include "pycoreprof/archive.h"
#include "pycoreprof/collect.h"

static const char usage[] =
	"usage: pycoreprof snapshot [options] --pid PID\n"
	"\n"
	"Write a snapshot of a running Python process: a small ELF core file\n"
	"holding the memory its Python stacks are read from, for `pycoreprof core`\n"
	"and `pycoreprof report`. The process is stopped only while its stacks are\n"
	"read, and never left stopped or traced.\n"
	"\n"
	"  -p, --pid PID        the process\n"
	"  -o, --output PATH    a file, or a directory (ending in / or existing);\n"
	"                       default: PID-YYYYmmddTHHMMSS.mmm.core.gz here\n"
	"  --no-compress        a plain core (.core) instead of gzip (.core.gz)\n"
	"  -a, --archive FILE   append each snapshot to the archive FILE (created\n"
	"                       when missing; pages stored once however many\n"
	"                       snapshots hold them; safe to kill at any time)\n"
	"                       instead of writing a file per snapshot (with -o too:\n"
	"                       both)\n"
	"      --max-size SIZE  move the archive aside as FILE-TIME.pcpa once it\n"
	"                       holds SIZE bytes (suffixes k, M, G) and start anew\n"
	"      --max-age T      delete archives moved aside over T ago (30m, 12h,\n"
	"                       7d); the archive is also moved aside every T/4\n"
	"  --full               every readable private or anonymous mapping, like gcore\n"
	"  --tasks              keep what reading every asyncio task needs too, so that\n"
	"                       `core --tasks` on the snapshot shows them (docs/tasks.md)\n"
	"  --native             the top 64 KiB of each thread's stack too, for native\n"
	"                       stacks (eu-stack, gdb, `core --native`)\n"
	"  --locals             the memory each frame's local variables are read from\n"
	"                       too, for `core --locals` (docs/locals.md)\n"
	"  -i, --interval T     one snapshot every T (1s, 200ms...) on average until\n"
	"                       --count, --duration, Ctrl-C or the process's exit;\n"
	"                       each interval is drawn from 0.5 to 1.5 x T, so that\n"
	"                       work that repeats with a period is not caught at the\n"
	"                       same moments of it every time\n"
	"      --seed N         seed of the random intervals, for a reproducible\n"
	"                       sequence (default: from the clock)\n"
	"  -n, --count N        stop after N snapshots\n"
	"  -d, --duration T     stop after T\n"
	"  -h, --help           this help\n";

struct snapshot_options {
	pid_t pid;
	const char *output;
	const char *archive;     /* append to this archive (and write files only with -o) */
	uint64_t max_size;       /* move the archive aside at this size; 0: never */
	double max_age;          /* seconds; delete archives moved aside this old; 0: never */
	bool compress_files;
	bool output_is_dir;
	struct capture_options capture;
	long count;              /* 0: no limit */
	double duration;         /* 0: no limit */
	uint64_t seed;           /* of the clock's intervals, when SEEDED */
	bool seeded;
};

static int parse_time(const char *text, double *seconds)
{
	char *end;
	double value = strtod(text, &end);
	if (end == text || !(value > 0))
		return -1;
	if (!strcmp(end, "us"))
		value /= 1e6;
	else if (!strcmp(end, "ms"))
		value /= 1e3;
	else if (!strcmp(end, "m"))
		value *= 60;
	else if (strcmp(end, "s") && *end)
		return -1;
	*seconds = value;
	return 0;
}

static int parse_options(int argc, char **argv, struct snapshot_options *o)
{
	static const struct option options[] = {
		{"pid", required_argument, NULL, 'p'},
		{"output", required_argument, NULL, 'o'},
		{"no-compress", no_argument, NULL, 'Z'},
		{"archive", required_argument, NULL, 'a'},
		{"max-size", required_argument, NULL, 'M'},
		{"max-age", required_argument, NULL, 'A'},
		{"full", no_argument, NULL, 'F'},
		{"native", no_argument, NULL, 'N'},
		{"locals", no_argument, NULL, 'L'},
		{"tasks", no_argument, NULL, 'T'},
		{"interval", required_argument, NULL, 'i'},
		{"count", required_argument, NULL, 'n'},
		{"duration", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	char *end;
	long value;
	int opt;
	optind = 1;
	opterr = 0;
	o->capture.compress = true;
	while ((opt = getopt_long(argc, argv, "+hp:o:i:n:d:a:", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			errno = 0;
			value = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || value <= 0 || value > 0x7fffffffL)
				return usage_error("snapshot", "--pid needs a process id, not '%s'", optarg);
			o->pid = (pid_t)value;
			break;
		case 'o': o->output = optarg; break;
		case 'Z': o->capture.compress = false; break;
		case 'a': o->archive = optarg; break;
		case 'M': {
			double size = strtod(optarg, &end);
			double unit = !strcmp(end, "k") || !strcmp(end, "K") ? 1024 : !strcmp(end, "M") ? 1 << 20
			              : !strcmp(end, "G") ? 1 << 30 : *end ? 0 : 1;
			if (end == optarg || !unit || !(size * unit >= 4096))
				return usage_error("snapshot", "--max-size takes a size of 4k or more (suffixes k, M, G), not '%s'",
				                   optarg);
			o->max_size = (uint64_t)(size * unit);
			break;
		}
		case 'A': {
			double age = strtod(optarg, &end);
			double unit = !strcmp(end, "s") || !*end ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600
			              : !strcmp(end, "d") ? 86400 : 0;
			if (end == optarg || !unit || !(age > 0))
				return usage_error("snapshot", "--max-age takes a time such as 30m, 12h or 7d, not '%s'", optarg);
			o->max_age = age * unit;
			break;
		}
		case 'F': o->capture.full = true; break;
		case 'N': o->capture.native = true; break;
		case 'L': o->capture.locals = true; break;
		case 'T': o->capture.tasks = true; break;
		case 'i':
			if (parse_time(optarg, &o->capture.interval) < 0)
				return usage_error("snapshot", "--interval takes a time such as 1s or 200ms, not '%s'", optarg);
			break;
		case 'd':
			if (parse_time(optarg, &o->duration) < 0)
				return usage_error("snapshot", "--duration takes a time such as 10s or 5m, not '%s'", optarg);
			break;
		case 'n':
			errno = 0;
			value = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || value <= 0)
				return usage_error("snapshot", "--count takes a positive number, not '%s'", optarg);
			o->count = value;
			break;
		case 'S':
			if (parse_seed(optarg, &o->seed) < 0)
				return usage_error("snapshot", "--seed takes a whole number, not '%s'", optarg);
			o->seeded = true;
			break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: return usage_error("snapshot", "unknown option or missing value '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return usage_error("snapshot", "unexpected argument '%s'", argv[optind]);
	if (!o->pid)
		return usage_error("snapshot", "--pid PID is needed");
	if ((o->count || o->duration) && !o->capture.interval)
		o->capture.interval = 1;
	bool periodic = o->capture.interval > 0 && o->count != 1;
	/* The archive takes each core as it is; files given too (-o) are
	 * compressed here, after it. */
	if ((o->max_size || o->max_age) && !o->archive)
		return usage_error("snapshot", "--max-size and --max-age go with --archive");
	o->compress_files = o->capture.compress;
	if (o->archive)
		o->capture.compress = false;
	if (o->output) {
		struct stat st;
		size_t len = strlen(o->output);
		o->output_is_dir = (len && o->output[len - 1] == '/') ||
		                   (stat(o->output, &st) == 0 && S_ISDIR(st.st_mode));
		if (periodic && !o->output_is_dir)
			return usage_error("snapshot", "periodic snapshots need a directory for -o (end it with /)");
	}
	return CMD_CONTINUE;
}

/* PID-YYYYmmddTHHMMSS.mmm.core[.gz] in DIR (or here); a second snapshot
 * in the same millisecond gets -SERIAL after the time. */
static char *output_path(const struct snapshot_options *o, double when, unsigned serial)
{
	if (o->output && !o->output_is_dir)
		return xstrdup(o->output);
	time_t seconds = (time_t)when;
	struct tm tm;
	char stamp[32];
	localtime_r(&seconds, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	int millis = (int)((when - (double)seconds) * 1000);
	const char *dir = o->output ? o->output : "";
	size_t len = strlen(dir);
	char serial_text[16] = "";
	if (serial)
		snprintf(serial_text, sizeof(serial_text), "-%u", serial);
	return xasprintf("%s%s%d-%s.%03d%s.core%s", dir, len && dir[len - 1] != '/' ? "/" : "", (int)o->pid,
	                 stamp, millis, serial_text, o->compress_files ? ".gz" : "");
}

struct totals {
	long written;
	size_t bytes, max_pages;
	size_t archived;         /* bytes appended to the archive */
	struct pause_stats appends; /* seconds each append to it took */
	struct pause_stats pauses;
	double build_seconds;
	size_t threads, left_asleep;   /* of the last snapshot */
	long retaken;
};

static void print_summary(const struct snapshot_options *o, struct totals *t, const char *last)
{
	double median = pause_stats_percentile(&t->pauses, 50);
	if (o->archive)
		fprintf(stderr, "Appended %ld snapshot%s of pid %d to %s (%zu bytes each on average); stopped %.0f us each "
		        "(median), appended in %.0f us each (median)", t->written, t->written == 1 ? "" : "s", (int)o->pid,
		        o->archive, t->archived / (size_t)t->written, median * 1e6,
		        pause_stats_percentile(&t->appends, 50) * 1e6);
	else if (t->written == 1)
		fprintf(stderr, "Wrote %s (%zu bytes, %zu pages); pid %d stopped %.0f us, written in %.2f ms",
		        last, t->bytes, t->max_pages, (int)o->pid, median * 1e6, t->build_seconds * 1e3);
	else
		fprintf(stderr, "Wrote %ld snapshots of pid %d (%zu bytes on average); stopped %.0f us each (median)",
		        t->written, (int)o->pid, t->written ? t->bytes / (size_t)t->written : 0, median * 1e6);
	if (o->archive && o->output)
		fprintf(stderr, "; the files in %s: %zu bytes each on average", o->output, t->bytes / (size_t)t->written);
	if (t->left_asleep)
		fprintf(stderr, "; %zu of %zu threads read asleep, not stopped", t->left_asleep, t->threads);
	if (t->retaken)
		fprintf(stderr, "; %ld taken again with every thread stopped (a thread woke)", t->retaken);
	fputc('\n', stderr);
}

static double time_now_realtime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --max-size and --max-age: the archive moved aside when it is full or
 * old enough (then *SINCE, when the live one began, is NOW), and what was
 * moved aside too long ago deleted. */
static int keep_within_limits(const struct snapshot_options *o, struct archive_writer **archive, double *since,
                              double now)
{
	int ret;
	bool full = o->max_size && archive_writer_size(*archive) >= o->max_size;
	bool old = o->max_age && now - *since >= o->max_age / 4;
	if (full || old) {
		char *moved = NULL;
		archive_writer_close(*archive);
		*archive = NULL;
		if ((ret = archive_rotate_aside(o->archive, (time_t)now, &moved)) < 0)
			return ret;
		fprintf(stderr, "pycoreprof: %s moved aside to %s (%s)\n", o->archive, moved, full ? "--max-size" : "--max-age");
		free(moved);
		if ((ret = archive_writer_open(o->archive, archive)) < 0)
			return ret;
		*since = now;
	}
	size_t deleted = 0;
	if (o->max_age && (ret = archive_rotate_prune(o->archive, o->max_age, (time_t)now, &deleted)) < 0)
		return ret;
	if (deleted)
		fprintf(stderr, "pycoreprof: deleted %zu archive%s of %s older than --max-age\n", deleted,
		        deleted == 1 ? "" : "s", o->archive);
	return 0;
}

static int run(const struct snapshot_options *o)
{
	struct capture_session session = {0};
	struct capture_result result = {0};
	struct totals totals = {0};
	char *path = NULL, *last_plain = NULL;
	unsigned serial = 0;
	int status = EXIT_OK;
	int ret;
	struct sample_clock clock = {0};
	struct archive_writer *archive = NULL;
	struct strbuf packed = {0};   /* a file's gzip, when an archive takes the core */
	guard_install(GUARD_STOP_FIRST);
	double since_rotation = time_now_realtime();
	if (o->archive && ((ret = archive_writer_open(o->archive, &archive)) < 0 ||
	                   (ret = keep_within_limits(o, &archive, &since_rotation, since_rotation)) < 0)) {
		status = report_error(ret);
		goto out;
	}
	if (o->output_is_dir && mkdir(o->output, 0777) < 0 && errno != EEXIST) {
		status = report_error(err_set_errno(ERR_IO, errno, "cannot create directory %s", o->output));
		goto out;
	}
	if ((ret = capture_session_open(&session, o->pid, &o->capture)) < 0) {
		status = report_error(ret);
		goto out;
	}
	sample_clock_start(&clock, o->capture.interval, o->seeded ? o->seed : sample_clock_time_seed());
	while (!guard_stop_signal()) {
		ret = capture_session_take(&session, &result);
		if (ret == -ERR_PROCESS_GONE && totals.written)
			break;   /* the process ended: what was taken stays */
		if (ret < 0) {
			status = report_error(ret);
			break;
		}
		if (archive) {
			struct archive_append appended;
			double began = time_now();
			ret = archive_writer_append(archive, result.file.buf, result.file.len,
			                            (uint64_t)(result.capture_time * 1e9), &appended);
			pause_stats_add(&totals.appends, time_now() - began);
			if (ret < 0) {
				status = report_error(ret);
				break;
			}
			totals.archived += appended.bytes;
			if ((ret = keep_within_limits(o, &archive, &since_rotation, result.capture_time)) < 0) {
				status = report_error(ret);
				break;
			}
			if (!o->output) {
				totals.written++;
				goto taken;
			}
			if (o->compress_files) {
				strbuf_reset(&packed);
				if ((ret = snapshot_gzip(result.file.buf, result.file.len, &packed)) < 0) {
					status = report_error(ret);
					break;
				}
			}
		}
		const struct strbuf *bytes = archive && o->compress_files ? &packed : &result.file;
		char *plain = output_path(o, result.capture_time, 0);
		serial = plain && last_plain && !strcmp(plain, last_plain) ? serial + 1 : 0;
		free(last_plain);
		last_plain = plain;
		free(path);
		path = serial ? output_path(o, result.capture_time, serial) : xstrdup(plain ? plain : "");
		if (!plain || !path || (ret = write_file_atomically(path, bytes->buf, bytes->len)) < 0) {
			status = report_error(plain && path ? ret : -ERR_NOMEM);
			break;
		}
		if (o->capture.interval <= 0)
			printf("%s\n", path);
		totals.written++;
		totals.bytes += bytes->len;
	taken:
		totals.build_seconds = result.build_seconds;
		if (result.pages > totals.max_pages)
			totals.max_pages = result.pages;
		pause_stats_add(&totals.pauses, result.paused);
		totals.threads = result.threads;
		totals.left_asleep = result.left_asleep;
		totals.retaken += result.retaken;
		if (o->capture.interval <= 0 || (o->count && totals.written >= o->count))
			break;
		/* Fallen behind (a slow disk, a busy machine): the missed ticks
		 * are skipped rather than caught up in a burst. */
		sample_clock_advance(&clock);
		if (o->duration && clock.next - clock.start >= o->duration)
			break;
		while (sample_clock_wait(&clock, &guard_stop_requested))
			target_answer_reports(session.live);
	}
	capture_session_close(&session);
	if (totals.written)
		print_summary(o, &totals, path);
	if (status == EXIT_OK && guard_stop_signal() && !totals.written)
		status = EXIT_FAIL;
out:
	capture_session_close(&session);
	sample_clock_stop(&clock);
	archive_writer_close(archive);
	strbuf_release(&packed);
	guard_uninstall();
	strbuf_release(&result.file);
	pause_stats_release(&totals.pauses);
	pause_stats_release(&totals.appends);
	free(path);
	free(last_plain);
	return status;
}

int cmd_snapshot(int argc, char **argv)
{
	struct snapshot_options o = {0};
	int status = parse_options(argc, argv, &o);
	if (status != CMD_CONTINUE)
		return status;
	return run(&o);
}
