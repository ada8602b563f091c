/* `pycoreprof report INPUTS...`: one profile from many snapshots or cores,
 * and profiles (a report's own output among them, for map/reduce). Each
 * snapshot gives one sample per Python thread, each profile its stacks as
 * they are; files are read by worker threads but merged in sorted order,
 * so the output never depends on -j or on how inputs were split up. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/report_inputs.h"
#include "pycoreprof/archive.h"
#include "pycoreprof/agg.h"
#include "pycoreprof/formats.h"
#include "pycoreprof/native.h"
#include "pycoreprof/stacks.h"
#include "pycoreprof/collect.h"

static const char usage[] =
	"usage: pycoreprof report [options] INPUT...\n"
	"\n"
	"Read snapshots (`pycoreprof snapshot`) or other core files and write one\n"
	"profile of every Python thread's stack in them, one sample per thread per\n"
	"file. Profiles (.folded, .json, .speedscope.json, .pb.gz, .pprof:\n"
	"a report's own output too) are merged in as they are. INPUTs are files,\n"
	"directories (read recursively) and glob patterns. Files that are not\n"
	"readable cores or profiles are skipped, each with its reason.\n"
	"\n"
	"  -o, --output FILE    the profile (default report.svg, or report.EXT of --format,\n"
	"                       report.speedscope.json with --timeline)\n"
	"  --format F           %s, as `record`\n"
	"                       writes them (default: from the output's name, else svg)\n"
	"  -j, --jobs N         files read in parallel (default: one per core)\n"
	"  --idle               keep threads that were waiting\n"
	"  --since TIME, --until TIME  only snapshots taken in this range (local\n"
	"                       time, YYYY-mm-ddTHH:MM[:SS] or YYYY-mm-dd, or Unix\n"
	"                       seconds); files without a capture time (profiles,\n"
	"                       other cores) are left out\n"
	"  --threads            a root frame per thread\n"
	"  --timeline           keep when each stack was seen (each snapshot's capture\n"
	"                       time, a profile's own timeline): speedscope output gets\n"
	"                       one time-ordered profile per thread, JSON a timeline\n"
	"                       (speedscope or json output only; implies --threads)\n"
	"  --native             native (C) frames too, for snapshots taken with\n"
	"                       --native (and full cores); the interpreter's\n"
	"                       call plumbing and start-up are hidden\n"
	"  --native-all         native frames, interpreter internals included\n"
	"  -h, --help           this help\n";

#define MAX_JOBS 256

struct report_options {
	const char *output;
	int format;
	long jobs;
	bool idle, threads, timeline;
	enum native_mode native;
	double since, until;     /* CLOCK_REALTIME seconds; 0 when not given */
};

/* What one file gave: its own small aggregate, or why it was skipped. */
struct file_result {
	struct file_sample sample;
	bool read;
	bool profile;            /* a profile, merged as it is */
	bool archive;            /* an archive: counted by its snapshots */
	size_t snapshots;        /* an archive: the snapshots it gave */
	size_t lost;             /* an archive: snapshots that could not be read */
	int error;               /* -ERR_x when skipped */
	char *reason;
};

struct batch {
	const struct report_options *opts;
	const struct input_list *inputs;
	struct file_result *results;
	atomic_size_t next;
	atomic_size_t done;
	pthread_t progress_thread; /* the one that prints progress, on a terminal */
	bool progress;
	double last_progress;
};

/* A profile file: its stacks into r->sample.agg. With a time range it is
 * left out, as a core without a capture time is. */
static int read_profile(const struct report_options *opts, const char *path, struct file_result *r)
{
	r->profile = true;
	if (opts->since || opts->until) {
		r->sample.out_of_range = true;
		return 0;
	}
	int ret = agg_init(&r->sample.agg);
	if (ret == 0 && opts->timeline)
		ret = agg_timeline_enable(&r->sample.agg, 0);
	if (ret == 0)
		ret = profile_read_file(&r->sample.agg, path);
	if (ret < 0)
		agg_release(&r->sample.agg);
	if (ret < 0) {
		r->error = ret;
		r->reason = xasprintf("%s", *err_context() ? err_context() : err_message(ret));
		return ret;
	}
	r->read = true;
	return 0;
}

/* A profile by its name; not a .txt file, which beside snapshots is more
 * often a note than folded stacks. */
static bool is_profile(const char *path)
{
	size_t len = strlen(path);
	return profile_name_is_readable(path) && !(len > 4 && !strcmp(path + len - 4, ".txt"));
}

static bool is_archive(const char *path)
{
	char head[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool yes = fd >= 0 && read(fd, head, sizeof(head)) == (ssize_t)sizeof(head) && archive_has_magic(head, sizeof(head));
	if (fd >= 0)
		close(fd);
	return yes;
}

/* Every snapshot of an archive, each extracted into an anonymous file and
 * read as a snapshot file is, into r->sample.agg; the time range applies
 * to each. */
static int read_archive(const struct report_options *opts, const char *path, struct file_result *r, uint32_t *ids)
{
	struct archive *a = NULL;
	struct strbuf core = {0};
	struct file_sample_options sample_opts = {.native = opts->native, .idle = opts->idle,
	                                          .thread_roots = opts->threads, .timeline = opts->timeline,
	                                          .since = opts->since, .until = opts->until};
	int fd = -1, ret = agg_init(&r->sample.agg);
	r->archive = true;
	if (ret == 0 && opts->timeline)
		ret = agg_timeline_enable(&r->sample.agg, 0);
	if (ret == 0)
		ret = archive_open(path, &a);
	if (ret == 0 && (fd = memfd_create("pycoreprof-snapshot", MFD_CLOEXEC)) < 0)
		ret = err_set_errno(ERR_IO, errno, "cannot make a file for a snapshot of %s", path);
	char fd_path[64];
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	for (size_t i = 0; ret == 0 && i < archive_count(a); i++) {
		struct file_sample one = {0};
		strbuf_reset(&core);
		/* A damaged snapshot is lost; the others are still read. */
		if (archive_extract(a, i, &core) < 0) {
			r->lost++;
			err_clear();
			continue;
		}
		if (ftruncate(fd, 0) < 0 || pwrite(fd, core.buf, core.len, 0) != (ssize_t)core.len) {
			ret = err_set_errno(ERR_IO, errno, "cannot write a snapshot of %s", path);
			break;
		}
		if (file_sample_read(fd_path, &sample_opts, &one, ids) < 0) {
			r->lost++;
			err_clear();
			continue;
		}
		if (one.out_of_range)
			continue;
		r->sample.stacks += one.stacks;
		r->snapshots++;
		agg_span(&r->sample.agg, one.capture_ns, one.capture_ns);
		ret = agg_merge(&r->sample.agg, &one.agg);
		agg_release(&one.agg);
	}
	if (fd >= 0)
		close(fd);
	archive_close(a);
	strbuf_release(&core);
	if (ret < 0) {
		agg_release(&r->sample.agg);
		r->error = ret;
		r->reason = xasprintf("%s", *err_context() ? err_context() : err_message(ret));
		return ret;
	}
	r->sample.out_of_range = !r->snapshots && (opts->since || opts->until);
	r->read = !r->sample.out_of_range;
	if (!r->read)
		agg_release(&r->sample.agg);
	return 0;
}

static int read_file(const struct report_options *opts, const char *path, struct file_result *r, uint32_t *ids)
{
	if (is_profile(path))
		return read_profile(opts, path, r);
	if (is_archive(path))
		return read_archive(opts, path, r, ids);
	struct file_sample_options sample_opts = {.native = opts->native, .idle = opts->idle,
	                                          .thread_roots = opts->threads, .timeline = opts->timeline,
	                                          .since = opts->since,
	                                          .until = opts->until};
	int ret = file_sample_read(path, &sample_opts, &r->sample, ids);
	if (ret < 0) {
		r->error = ret;
		r->reason = xasprintf("%s", *err_context() ? err_context() : err_message(ret));
		return ret;
	}
	r->read = !r->sample.out_of_range;
	return 0;
}

static void *worker(void *arg)
{
	struct batch *b = arg;
	uint32_t *ids = xcalloc(FILE_SAMPLE_IDS, sizeof(*ids));
	for (;;) {
		size_t i = atomic_fetch_add(&b->next, 1);
		if (i >= b->inputs->n)
			break;
		if (!ids) {
			b->results[i].error = -ERR_NOMEM;
			continue;
		}
		read_file(b->opts, b->inputs->paths[i], &b->results[i], ids);
		err_clear();
		size_t done = atomic_fetch_add(&b->done, 1) + 1;
		if (b->progress && pthread_equal(pthread_self(), b->progress_thread) && time_now() - b->last_progress > 0.2) {
			b->last_progress = time_now();
			fprintf(stderr, "\rReading snapshots: %zu of %zu", done, b->inputs->n);
		}
	}
	free(ids);
	return NULL;
}

int parse_when(const char *text, double *seconds)
{
	static const char *const formats[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S",
	                                      "%Y-%m-%d %H:%M", "%Y-%m-%d"};
	char *end;
	double value = strtod(text, &end);
	if (end != text && !*end && value > 0) {
		*seconds = value;
		return 0;
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm = {0};
		const char *rest = strptime(text, formats[i], &tm);
		if (rest && !*rest) {
			tm.tm_isdst = -1;
			time_t when = mktime(&tm);
			if (when == (time_t)-1)
				return -1;
			*seconds = (double)when;
			return 0;
		}
	}
	return -1;
}

static int parse_options(int argc, char **argv, struct report_options *o)
{
	static const struct option options[] = {
		{"output", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, 'f'},
		{"jobs", required_argument, NULL, 'j'},
		{"idle", no_argument, NULL, 'I'},
		{"threads", no_argument, NULL, 'T'},
		{"timeline", no_argument, NULL, 'L'},
		{"native", no_argument, NULL, 'N'},
		{"native-all", no_argument, NULL, 'A'},
		{"since", required_argument, NULL, 'S'},
		{"until", required_argument, NULL, 'U'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	char *end, words[PROFILE_LIST_SIZE];
	int opt;
	optind = 1;
	opterr = 0;
	o->format = -1;
	while ((opt = getopt_long(argc, argv, "ho:j:", options, NULL)) != -1) {
		switch (opt) {
		case 'o': o->output = optarg; break;
		case 'f':
			if ((o->format = profile_format_from_word(optarg)) < 0)
				return usage_error("report", "--format takes %s, not '%s'",
				                   profile_format_list(words, PROFILE_LIST_WORDS, " or "), optarg);
			break;
		case 'j':
			errno = 0;
			o->jobs = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o->jobs <= 0 || o->jobs > MAX_JOBS)
				return usage_error("report", "--jobs takes a number from 1 to %d, not '%s'", MAX_JOBS, optarg);
			break;
		case 'I': o->idle = true; break;
		case 'T': o->threads = true; break;
		case 'L': o->timeline = true; break;
		case 'N': o->native = o->native == NATIVE_ALL ? NATIVE_ALL : NATIVE_MERGED; break;
		case 'A': o->native = NATIVE_ALL; break;
		case 'S':
		case 'U':
			if (parse_when(optarg, opt == 'S' ? &o->since : &o->until) < 0)
				return usage_error("report", "--%s takes a time such as 2026-11-24T23:15 or Unix seconds, not '%s'",
				                   opt == 'S' ? "since" : "until", optarg);
			break;
		case 'h':
			printf(usage, profile_format_list(words, PROFILE_LIST_WORDS, " or "));
			return EXIT_OK;
		default: return usage_error("report", "unknown option or missing value '%s'", argv[optind - 1]);
		}
	}
	if (optind == argc)
		return usage_error("report", "give snapshot files, directories or patterns to read");
	if (o->timeline && o->format < 0 && !o->output)
		o->format = PROFILE_SPEEDSCOPE;
	if (!o->output) {
		static char name[32];
		snprintf(name, sizeof(name), "report.%s",
		         profile_format_extension(o->format < 0 ? PROFILE_SVG : (enum profile_format)o->format));
		o->output = name;
	}
	if (o->format < 0)
		o->format = profile_format_from_name(o->output) >= 0 ? profile_format_from_name(o->output) : PROFILE_SVG;
	/* Each thread's events are told apart by its root frame. */
	if (o->timeline && o->format != PROFILE_SPEEDSCOPE && o->format != PROFILE_JSON)
		return usage_error("report", "--timeline needs a speedscope or json output (.speedscope.json, .json)");
	o->threads |= o->timeline;
	if (!o->jobs) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		o->jobs = cores > 0 ? (cores < MAX_JOBS ? cores : MAX_JOBS) : 1;
	}
	return CMD_CONTINUE;
}

/* The kind of reason, for the summary line. */
static const char *skip_kind(const struct file_result *r)
{
	switch (-r->error) {
	case ERR_TRUNCATED: return "truncated";
	case ERR_NOT_ELF: return r->reason && strstr(r->reason, " is empty") ? "empty" : "not a core";
	case ERR_NOT_CORE: return "not a core";
	case ERR_NOT_PYTHON: return "no Python";
	case ERR_DECOMPRESS: return "truncated";
	case ERR_PERM: return "unreadable";
	default: return r->profile ? "bad profile" : "corrupt";
	}
}

static void print_summary(const struct input_list *inputs, const struct file_result *results, size_t stacks,
                          const char *output)
{
	static const char *const kinds[] = {"truncated", "empty", "not a core", "no Python", "unreadable", "corrupt",
	                                    "bad profile"};
	size_t counts[sizeof(kinds) / sizeof(kinds[0])] = {0};
	size_t read = 0, profiles = 0, skipped = 0, out_of_range = 0, lost = 0;
	uint64_t profile_samples = 0;
	for (size_t i = 0; i < inputs->n; i++) {
		if (results[i].read && results[i].profile) {
			profiles++;
			profile_samples += results[i].sample.agg.samples;
			continue;
		}
		lost += results[i].lost;
		if (results[i].read) {
			read += results[i].archive ? results[i].snapshots : 1;
			continue;
		}
		if (results[i].sample.out_of_range) {
			out_of_range++;
			continue;
		}
		skipped++;
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (!strcmp(kinds[k], skip_kind(&results[i])))
				counts[k]++;
	}
	fprintf(stderr, "Read %zu snapshot%s", read, read == 1 ? "" : "s");
	if (profiles)
		fprintf(stderr, " and %zu profile%s (%llu samples)", profiles, profiles == 1 ? "" : "s",
		        (unsigned long long)profile_samples);
	if (skipped) {
		fprintf(stderr, " (%zu skipped:", skipped);
		const char *sep = " ";
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (counts[k]) {
				fprintf(stderr, "%s%zu %s", sep, counts[k], kinds[k]);
				sep = ", ";
			}
		fputc(')', stderr);
	}
	if (out_of_range)
		fprintf(stderr, ", %zu outside the time range", out_of_range);
	if (lost)
		fprintf(stderr, ", %zu damaged in archives", lost);
	fprintf(stderr, "; %zu thread stacks; wrote %s\n", stacks, output);
}

int cmd_report(int argc, char **argv)
{
	struct report_options o = {0};
	struct input_list inputs = {0};
	struct batch b = {0};
	struct aggregate total = {0};
	struct strbuf out = {0};
	pthread_t *threads = NULL;
	size_t nthreads = 0, stacks = 0;
	int status = parse_options(argc, argv, &o);
	int ret;
	if (status != CMD_CONTINUE)
		return status;
	status = EXIT_OK;
	for (int i = optind; i < argc; i++)
		if ((ret = input_list_add(&inputs, argv[i])) < 0) {
			status = report_error(ret);
			goto out;
		}
	input_list_finish(&inputs);
	b.opts = &o;
	b.inputs = &inputs;
	b.results = xcalloc(inputs.n ? inputs.n : 1, sizeof(*b.results));
	threads = xcalloc((size_t)o.jobs, sizeof(*threads));
	if (!b.results || !threads || agg_init(&total) < 0 || (o.timeline && agg_timeline_enable(&total, 0) < 0)) {
		status = report_error(-ERR_NOMEM);
		goto out;
	}
	atomic_init(&b.next, 0);
	atomic_init(&b.done, 0);
	b.progress = isatty(STDERR_FILENO);
	b.progress_thread = pthread_self();
	b.last_progress = time_now();
	for (long j = 1; j < o.jobs && (size_t)j < inputs.n; j++) {
		if (pthread_create(&threads[nthreads], NULL, worker, &b) != 0)
			break;
		nthreads++;
	}
	worker(&b);
	for (size_t j = 0; j < nthreads; j++)
		pthread_join(threads[j], NULL);
	if (b.progress)
		fputs("\r\033[K", stderr);
	for (size_t i = 0; i < inputs.n; i++) {
		struct file_result *r = &b.results[i];
		if (r->sample.out_of_range)
			continue;
		if (!r->read) {
			fprintf(stderr, "pycoreprof: skipped %s: %s\n", inputs.paths[i], r->reason ? r->reason : "?");
			continue;
		}
		stacks += r->sample.stacks;
		if ((ret = agg_merge(&total, &r->sample.agg)) < 0) {
			status = report_error(ret);
			goto out;
		}
	}
	/* The time the snapshots span, when they say when they were taken (and
	 * the profiles read, when they say what they spanned). */
	for (size_t i = 0; i < inputs.n; i++) {
		uint64_t taken = b.results[i].read ? b.results[i].sample.capture_ns : 0;
		agg_span(&total, taken, taken);
	}
	struct profile_meta meta = {.title = "pycoreprof report",
	                            .duration = (double)(total.last_ns - total.first_ns) / 1e9};
	if ((ret = profile_write((enum profile_format)o.format, &out, &total, &meta)) < 0 ||
	    (ret = write_file_atomically(o.output, out.buf, out.len)) < 0) {
		status = report_error(ret);
		goto out;
	}
	print_summary(&inputs, b.results, stacks, o.output);
	say_timeline_dropped(&total);
	if (total.samples == 0)
		status = EXIT_PARTIAL;
	for (size_t i = 0; i < inputs.n; i++)
		if ((!b.results[i].read && !b.results[i].sample.out_of_range) || b.results[i].lost)
			status = EXIT_PARTIAL;
out:
	if (b.results)
		for (size_t i = 0; i < inputs.n; i++) {
			if (b.results[i].read)
				agg_release(&b.results[i].sample.agg);
			free(b.results[i].reason);
		}
	free(b.results);
	free(threads);
	agg_release(&total);
	strbuf_release(&out);
	input_list_release(&inputs);
	return status;
}
