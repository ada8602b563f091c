/* `pycoreprof archive list|extract FILE`: what a snapshot archive holds
 * (each snapshot's index, time, threads and size), and any snapshot back
 * out as the standalone ELF core `snapshot` would have written. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "pycoreprof/archive.h"

static const char usage[] =
	"usage: pycoreprof archive list FILE\n"
	"       pycoreprof archive extract FILE (--index N | --at TIME) -o OUT\n"
	"\n"
	"A snapshot archive (`snapshot --archive FILE`): list its snapshots, or\n"
	"write one back out as a plain ELF core (for `core`, gdb, eu-stack).\n"
	"\n"
	"  --index N            the Nth snapshot (from 0, as `list` numbers them)\n"
	"  --at TIME            the last snapshot taken at or before TIME: local time\n"
	"                       YYYY-mm-ddTHH:MM[:SS], HH:MM[:SS] (on the day of the\n"
	"                       archive's first snapshot) or Unix seconds\n"
	"  -o, --output FILE    the core to write\n"
	"  -h, --help           this help\n";

static void local_time(uint64_t ns, char *out, size_t size)
{
	time_t seconds = (time_t)(ns / 1000000000u);
	struct tm tm;
	localtime_r(&seconds, &tm);
	size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, size - n, ".%03u", (unsigned)(ns / 1000000u % 1000u));
}

static int list(const char *path)
{
	struct archive *a;
	struct strbuf core = {0};
	int ret = archive_open(path, &a);
	if (ret < 0)
		return report_error(ret);
	printf("%6s  %-23s  %7s  %10s  %10s\n", "index", "taken (local time)", "threads", "core bytes", "stored");
	uint64_t stored = 0;
	for (size_t i = 0; i < archive_count(a); i++) {
		const struct archive_entry *e = archive_entry(a, i);
		char when[48];
		strbuf_reset(&core);
		if ((ret = archive_extract(a, i, &core)) < 0)
			break;
		local_time(e->capture_ns, when, sizeof(when));
		printf("%6zu  %-23s  %7zu  %10llu  %10llu\n", i, when, archive_core_threads(core.buf, core.len),
		       (unsigned long long)e->core_len, (unsigned long long)e->stored);
		stored += e->stored;
	}
	if (ret == 0)
		printf("%zu snapshots, %llu bytes stored", archive_count(a), (unsigned long long)stored);
	if (ret == 0 && archive_torn_bytes(a))
		printf("; %llu bytes of an unfinished append at the end are ignored",
		       (unsigned long long)archive_torn_bytes(a));
	if (ret == 0 && archive_damaged_bytes(a))
		printf("; %llu damaged bytes were skipped", (unsigned long long)archive_damaged_bytes(a));
	if (ret == 0)
		printf("\n");
	strbuf_release(&core);
	archive_close(a);
	return ret < 0 ? report_error(ret) : EXIT_OK;
}

/* TEXT as a time; HH:MM[:SS] on the day of DAY_NS. */
static int parse_at(const char *text, uint64_t day_ns, double *seconds)
{
	if (parse_when(text, seconds) == 0)
		return 0;
	struct tm tm;
	time_t day = (time_t)(day_ns / 1000000000u);
	localtime_r(&day, &tm);
	const char *rest = strptime(text, "%H:%M:%S", &tm);
	if (!rest || *rest) {
		localtime_r(&day, &tm);
		tm.tm_sec = 0;
		rest = strptime(text, "%H:%M", &tm);
	}
	if (!rest || *rest)
		return -1;
	tm.tm_isdst = -1;
	time_t when = mktime(&tm);
	if (when == (time_t)-1)
		return -1;
	*seconds = (double)when;
	return 0;
}

static int extract(int argc, char **argv)
{
	static const struct option options[] = {
		{"index", required_argument, NULL, 'n'},
		{"at", required_argument, NULL, 't'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *at = NULL, *output = NULL;
	long index = -1;
	char *end;
	int opt;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		switch (opt) {
		case 'n':
			index = strtol(optarg, &end, 10);
			if (*end || end == optarg || index < 0)
				return usage_error("archive", "--index takes a number from 0, not '%s'", optarg);
			break;
		case 't': at = optarg; break;
		case 'o': output = optarg; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: return usage_error("archive", "unknown option or missing value '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return usage_error("archive", "give one archive to extract from");
	if ((index < 0) == !at)
		return usage_error("archive", "give --index N or --at TIME");
	if (!output)
		return usage_error("archive", "give -o OUT, the core to write");
	struct archive *a;
	struct strbuf core = {0};
	int ret = archive_open(argv[optind], &a);
	if (ret < 0)
		return report_error(ret);
	int status = EXIT_OK;
	if (at) {
		double when;
		if (!archive_count(a) || parse_at(at, archive_entry(a, 0)->capture_ns, &when) < 0) {
			status = archive_count(a) ? usage_error("archive", "--at takes a time such as 10:15:02, not '%s'", at)
			                          : report_error(err_set(ERR_NOENT, "%s holds no snapshot", argv[optind]));
			goto out;
		}
		for (size_t i = 0; i < archive_count(a); i++)
			if ((double)archive_entry(a, i)->capture_ns / 1e9 <= when)
				index = (long)i;
		if (index < 0) {
			status = report_error(err_set(ERR_NOENT, "%s holds no snapshot taken at or before %s", argv[optind], at));
			goto out;
		}
	}
	if ((ret = archive_extract(a, (size_t)index, &core)) < 0 ||
	    (ret = write_file_atomically(output, core.buf, core.len)) < 0) {
		status = report_error(ret);
		goto out;
	}
	char when[48];
	local_time(archive_entry(a, (size_t)index)->capture_ns, when, sizeof(when));
	fprintf(stderr, "Wrote %s: snapshot %ld of %zu, taken %s (%zu bytes)\n", output, index, archive_count(a), when,
	        core.len);
out:
	strbuf_release(&core);
	archive_close(a);
	return status;
}

int cmd_archive(int argc, char **argv)
{
	if (argc < 2 || is_help(argv[1])) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "list")) {
		if (argc == 3 && is_help(argv[2])) {
			fputs(usage, stdout);
			return EXIT_OK;
		}
		if (argc != 3)
			return usage_error("archive", "give one archive to list");
		return list(argv[2]);
	}
	if (!strcmp(argv[1], "extract"))
		return extract(argc - 1, argv + 1);
	return usage_error("archive", "unknown subcommand '%s' (list or extract)", argv[1]);
}
