/* `pycoreprof flamegraph`: render folded stacks from any tool (or our JSON
 * aggregate, speedscope or pprof) as an interactive SVG flame graph, optionally as the
 * difference from a baseline profile. Sampling is not involved. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "pycoreprof/formats.h"

static const char usage[] =
	"usage: pycoreprof flamegraph [options] [FILE|-] [-o OUT.svg]\n"
	"\n"
	"Render folded stacks (ours, py-spy's raw output, stackcollapse-perf's)\n"
	"a pycoreprof JSON profile, speedscope or pprof as an SVG flame graph.\n"
	"\n"
	"  -o, --output FILE      the SVG (default: stdout)\n"
	"      --title TEXT       the title (default \"Flame Graph\")\n"
	"      --subtitle TEXT    a second line under the title (default: the input\n"
	"                         and its samples)\n"
	"      --width PIXELS     image width (default 1200)\n"
	"      --min-width PIXELS frames narrower than this are left out (default 0.1)\n"
	"      --reverse          icicle graph: the root at the top\n"
	"      --inverted         stacks reversed: leaf functions at the root\n"
	"      --palette NAME     package (default: by kind of code), hot, cold, mono\n"
	"      --diff BASELINE    differential flame graph against BASELINE (any\n"
	"                         format read): red grew, blue shrank\n"
	"  -h, --help             this help\n";

struct flamegraph_options {
	const char *input, *output, *baseline;
	bool inverted;
	struct profile_meta meta;
};

static int parse_options(int argc, char **argv, struct flamegraph_options *o)
{
	enum { OPT_TITLE = 256, OPT_SUBTITLE, OPT_WIDTH, OPT_MIN_WIDTH, OPT_REVERSE, OPT_INVERTED, OPT_PALETTE,
	       OPT_DIFF };
	static const struct option options[] = {
		{"output", required_argument, NULL, 'o'},
		{"title", required_argument, NULL, OPT_TITLE},
		{"subtitle", required_argument, NULL, OPT_SUBTITLE},
		{"width", required_argument, NULL, OPT_WIDTH},
		{"min-width", required_argument, NULL, OPT_MIN_WIDTH},
		{"reverse", no_argument, NULL, OPT_REVERSE},
		{"inverted", no_argument, NULL, OPT_INVERTED},
		{"palette", required_argument, NULL, OPT_PALETTE},
		{"diff", required_argument, NULL, OPT_DIFF},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt, palette;
	char *end;
	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
		switch (opt) {
		case 'o': o->output = optarg; break;
		case OPT_TITLE: o->meta.title = optarg; break;
		case OPT_SUBTITLE: o->meta.subtitle = optarg; break;
		case OPT_WIDTH: {
			long width = strtol(optarg, &end, 10);
			if (*end || width < 100 || width > 100000)
				return usage_error("flamegraph", "--width takes 100 to 100000 pixels, not '%s'", optarg);
			o->meta.width = (int)width;
			break;
		}
		case OPT_MIN_WIDTH:
			o->meta.min_width = strtod(optarg, &end);
			if (*end || end == optarg || o->meta.min_width < 0 || o->meta.min_width > 1000)
				return usage_error("flamegraph", "--min-width takes pixels (0 to 1000), not '%s'", optarg);
			if (o->meta.min_width == 0)
				o->meta.min_width = 1e-9; /* 0 means "default" in the meta */
			break;
		case OPT_REVERSE: o->meta.reverse = true; break;
		case OPT_INVERTED: o->inverted = true; break;
		case OPT_PALETTE:
			if ((palette = profile_palette_from_word(optarg)) < 0)
				return usage_error("flamegraph", "unknown palette '%s' (package, hot, cold, mono)", optarg);
			o->meta.palette = (enum profile_palette)palette;
			break;
		case OPT_DIFF: o->baseline = optarg; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: return usage_error("flamegraph", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->input = argv[optind++];
	if (optind < argc)
		return usage_error("flamegraph", "one input file only, not '%s' too", argv[optind]);
	return CMD_CONTINUE;
}

/* Load PATH into AGG (owned by the caller, released even on error),
 * reversed when INVERTED. */
static int load(struct aggregate *agg, const char *path, bool inverted)
{
	struct aggregate read;
	int ret = agg_init(&read);
	if (ret < 0)
		return ret;
	if ((ret = profile_read_file(&read, path)) < 0)
		goto out;
	if (inverted) {
		ret = agg_invert(&read, agg);
		goto out;
	}
	*agg = read;
	memset(&read, 0, sizeof(read)); /* AGG owns it now */
out:
	agg_release(&read);
	return ret;
}

int cmd_flamegraph(int argc, char **argv)
{
	struct flamegraph_options o;
	struct aggregate agg = {0}, baseline = {0};
	struct strbuf sb = {0};
	char *subtitle = NULL;
	int status = parse_options(argc, argv, &o), ret;
	if (status != CMD_CONTINUE)
		return status;
	if ((ret = load(&agg, o.input, o.inverted)) < 0 ||
	    (o.baseline && (ret = load(&baseline, o.baseline, o.inverted)) < 0)) {
		status = report_error(ret);
		goto out;
	}
	if (o.baseline)
		o.meta.baseline = &baseline;
	if (!o.meta.subtitle) {
		subtitle = xasprintf("%s: %llu samples%s%s", o.input && strcmp(o.input, "-") ? o.input : "stdin",
		                     (unsigned long long)agg.samples, o.baseline ? ", compared with " : "",
		                     o.baseline ? o.baseline : "");
		o.meta.subtitle = subtitle;
	}
	if ((ret = profile_write_svg(&sb, &agg, &o.meta)) < 0 ||
	    (o.output && (ret = write_file_atomically(o.output, sb.buf, sb.len)) < 0)) {
		status = report_error(ret);
		goto out;
	}
	if (!o.output)
		status = write_stdout(sb.buf, sb.len);
out:
	free(subtitle);
	strbuf_release(&sb);
	agg_release(&agg);
	agg_release(&baseline);
	return status;
}
