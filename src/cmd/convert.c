/* `pycoreprof convert`: a profile from one format to another (folded
 * stacks, our JSON, speedscope or pprof in; any profile format out). The
 * format out follows the extension or --format. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "pycoreprof/formats.h"

static const char usage[] =
	"usage: pycoreprof convert [options] IN|- -o OUT\n"
	"\n"
	"Convert a profile: folded stacks, a pycoreprof JSON profile, speedscope or\n"
	"pprof in; out as the extension of OUT says (%s).\n"
	"A timeline (JSON from --timeline, speedscope's evented profiles) is kept\n"
	"between JSON and speedscope.\n"
	"\n"
	"  -o, --output FILE      the converted profile (default: stdout, needs --format)\n"
	"  -f, --format FORMAT    %s\n"
	"      --title TEXT       title (SVG, speedscope, JSON)\n"
	"      --interval N       seconds between samples, for pprof's period (default 0.01)\n"
	"  -h, --help             this help\n";

int cmd_convert(int argc, char **argv)
{
	static const struct option options[] = {
		{"output", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, 'f'},
		{"title", required_argument, NULL, 't'},
		{"interval", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct profile_meta meta = {0};
	char list[PROFILE_LIST_SIZE], words[PROFILE_LIST_SIZE];
	const char *output = NULL;
	int format = -1, opt, ret, status = EXIT_OK;
	char *end;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "o:f:h", options, NULL)) != -1) {
		switch (opt) {
		case 'o': output = optarg; break;
		case 'f':
			if ((format = profile_format_from_word(optarg)) < 0)
				return usage_error("convert", "unknown format '%s' (%s)", optarg,
				                   profile_format_list(list, PROFILE_LIST_WORDS, ", "));
			break;
		case 't': meta.title = optarg; break;
		case 'i':
			meta.interval = strtod(optarg, &end);
			if (*end || end == optarg || meta.interval <= 0)
				return usage_error("convert", "--interval takes seconds, not '%s'", optarg);
			break;
		case 'h':
			printf(usage, profile_format_list(list, PROFILE_LIST_EXTENSIONS, ", "),
			       profile_format_list(words, PROFILE_LIST_WORDS, " or "));
			return EXIT_OK;
		default: return usage_error("convert", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return usage_error("convert", "give one input file (or - for stdin)");
	if (format < 0 && (!output || (format = profile_format_from_name(output)) < 0))
		return usage_error("convert", "cannot tell the output format: use -o with a known extension, or --format");

	struct aggregate agg;
	struct strbuf sb = {0};
	/* Whatever timeline the input has goes to the output. */
	if ((ret = agg_init(&agg)) < 0 || (ret = agg_timeline_enable(&agg, 0)) < 0) {
		agg_release(&agg);
		return report_error(ret);
	}
	if ((ret = profile_read_file(&agg, argv[optind])) < 0 ||
	    (ret = profile_write((enum profile_format)format, &sb, &agg, &meta)) < 0 ||
	    (output && (ret = write_file_atomically(output, sb.buf, sb.len)) < 0))
		status = report_error(ret);
	else if (!output)
		status = write_stdout(sb.buf, sb.len);
	strbuf_release(&sb);
	agg_release(&agg);
	return status;
}
