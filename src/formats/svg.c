/* Interactive SVG flame graph in the style of flamegraph.pl: one <g> per
 * frame with a <title> (readable without JavaScript), narrow frames merged,
 * flame or icicle layout, and an embedded script (flamegraph.js) for hover
 * details, click-to-zoom, reset and regex search, kept in the URL. Frames
 * too thin to see at full width (under DRAW_WIDTH pixels) are data for the
 * script, which draws them when a zoom makes them wide enough: a browser
 * opens a large profile quickly and zooming still shows every frame kept.
 * Labels and titles are in visible form (escape.h): the document is valid
 * UTF-8 and well-formed XML whatever bytes a name holds. Colours:
 * svg_colour.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/embedded.h"
#include "formats/escape.h"
#include "formats/svg_colour.h"
#include "pycoreprof/formats.h"

enum { FRAME_HEIGHT = 16, FONT_SIZE = 12, PAD_X = 10, PAD_TOP = 50, PAD_BOTTOM = 34 };
static const double CHAR_WIDTH = FONT_SIZE * 0.59;
static const double DRAW_WIDTH = 0.5;   /* pixels: thinner frames are drawn on zoom */

struct svg_ctx {
	const struct aggregate *agg;
	struct strbuf *sb;
	double scale;            /* pixels per sample */
	double min_width;
	int image_height;
	bool reverse;
	enum profile_palette palette;
	const double *baseline;  /* per node, scaled; NULL: not a diff graph */
	const uint64_t *waiting; /* per node, waiting samples through it (agg_waiting_totals) */
	struct strbuf label;
	/* The frames left to the script: [x, w, depth, label, fill, merged,
	 * diff] each, labels by index into a table of the frames' labels. */
	struct strbuf thin, thin_labels;
	uint32_t *label_index;   /* aggregate frame id -> index in thin_labels, or UINT32_MAX */
	uint32_t nlabels;
};

/* TEXT as a JavaScript string literal inside a CDATA section: no "]]>",
 * no raw control characters. */
static void add_js_string(struct strbuf *sb, const char *text)
{
	strbuf_addch(sb, '"');
	for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
		if (*s == '"' || *s == '\\')
			strbuf_addf(sb, "\\%c", *s);
		else if (*s < 0x20 || *s == '>' || *s == '<' || *s == '&')
			strbuf_addf(sb, "\\u%04x", *s);
		else
			strbuf_addch(sb, (char)*s);
	}
	strbuf_addch(sb, '"');
}

static int max_depth(const struct aggregate *agg)
{
	int deepest = 0;
	int *depth = xcalloc(agg->nnodes, sizeof(*depth));
	if (!depth)
		return -1;
	/* Children always have larger ids than their parent. */
	for (size_t i = 1; i < agg->nnodes; i++) {
		depth[i] = depth[agg->nodes[i].parent] + 1;
		if (depth[i] > deepest)
			deepest = depth[i];
	}
	free(depth);
	return deepest;
}

static double frame_y(const struct svg_ctx *c, int depth)
{
	if (c->reverse)
		return PAD_TOP + depth * FRAME_HEIGHT;
	return c->image_height - PAD_BOTTOM - (depth + 1) * FRAME_HEIGHT;
}

/* A frame too thin to draw: a row of the script's data. FRAME is its
 * aggregate frame id, or UINT32_MAX for the bar of merged narrow frames
 * (its label then given inline). */
static void add_thin_frame(struct svg_ctx *c, uint32_t frame, uint64_t x_samples, uint64_t samples, int depth,
                           const char *colour, const char *diff)
{
	struct strbuf *sb = &c->thin;
	strbuf_addf(sb, "%s[%llu,%llu,%d,", sb->len ? ",\n" : "", (unsigned long long)x_samples,
	            (unsigned long long)samples, depth);
	if (frame == UINT32_MAX) {
		add_js_string(sb, c->label.buf);
	} else {
		if (c->label_index[frame] == UINT32_MAX) {
			c->label_index[frame] = c->nlabels++;
			if (c->thin_labels.len)
				strbuf_addch(&c->thin_labels, ',');
			add_js_string(&c->thin_labels, c->label.buf);
		}
		strbuf_addf(sb, "%u", c->label_index[frame]);
	}
	strbuf_addch(sb, ',');
	add_js_string(sb, colour);
	strbuf_addstr(sb, diff ? ",0" : ",1");
	if (diff && *diff) {
		strbuf_addch(sb, ',');
		add_js_string(sb, diff);
	}
	strbuf_addch(sb, ']');
}

/* One frame: a <g> with its <title> (the tooltip without JavaScript), the
 * bar, and the label cut to fit; a frame too thin to see goes to the
 * script's data instead. FRAME: as for add_thin_frame(). DIFF: text added
 * to the title; NULL marks the bar of merged narrow frames. */
static void draw_frame(struct svg_ctx *c, uint32_t frame, uint64_t x_samples, uint64_t samples, int depth,
                       const char *colour, const char *diff)
{
	const struct aggregate *agg = c->agg;
	struct strbuf *sb = c->sb;
	double width = (double)samples * c->scale;
	if (width < DRAW_WIDTH && depth > 0) {
		add_thin_frame(c, frame, x_samples, samples, depth, colour, diff);
		return;
	}
	double x = PAD_X + (double)x_samples * c->scale, y = frame_y(c, depth);
	double percent = agg->samples ? 100.0 * (double)samples / (double)agg->samples : 0;
	strbuf_addf(sb, "<g class=\"%s\" data-x=\"%llu\" data-w=\"%llu\" data-d=\"%d\"><title>",
	            diff ? "f" : "f m", (unsigned long long)x_samples, (unsigned long long)samples, depth);
	escape_add_xml(sb, c->label.buf, SIZE_MAX);
	strbuf_addf(sb, " (%llu sample%s, %.2f%%%s)</title>", (unsigned long long)samples, samples == 1 ? "" : "s",
	            percent, diff ? diff : "");
	strbuf_addf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\" rx=\"2\" ry=\"2\"/>", x,
	            y, width, FRAME_HEIGHT - 1, colour);
	/* No <text> where no label fits: most frames of a large profile are
	 * that narrow, and text is what makes a browser slow to open it. */
	size_t fits = width > 3 * CHAR_WIDTH ? (size_t)((width - 6) / CHAR_WIDTH) : 0;
	if (fits >= 3) {
		strbuf_addf(sb, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + FRAME_HEIGHT - 4.5);
		if (c->label.len <= fits) {
			escape_add_xml(sb, c->label.buf, SIZE_MAX);
		} else {
			escape_add_xml(sb, c->label.buf, fits - 2);
			strbuf_addstr(sb, "..");
		}
		strbuf_addstr(sb, "</text>");
	}
	strbuf_addstr(sb, "</g>\n");
}

static int draw(struct svg_ctx *c, uint32_t node, uint64_t x_samples, int depth)
{
	const struct aggregate *agg = c->agg;
	const struct agg_node *n = &agg->nodes[node];
	char colour[32], diff[96] = "";
	strbuf_reset(&c->label);
	if (node == 0) {
		strbuf_addstr(&c->label, "all");
		strcpy(colour, "rgb(250,250,250)");
	} else {
		escape_add_label(&c->label, &agg->frames[n->frame], false, false);
		svg_frame_colour(c->palette, &agg->frames[n->frame], colour);
	}
	if (c->baseline) {
		double before = c->baseline[node], now = (double)n->total;
		double change = now > before ? (now - before) / now : before > 0 ? (now - before) / before : 0;
		if (node != 0)
			svg_diff_colour(change, colour);
		snprintf(diff, sizeof(diff), ", %+.0f vs baseline", now - before);
	}
	/* Time of threads that waited (--idle): said in the title, and a frame
	 * spent mostly waiting gets the waiting colour. */
	uint64_t waited = c->waiting ? c->waiting[node] : 0;
	if (waited && n->total) {
		size_t used = strlen(diff);
		snprintf(diff + used, sizeof(diff) - used, ", %.0f%% waiting", 100.0 * (double)waited / (double)n->total);
		if (node != 0 && !c->baseline && c->palette == PALETTE_PACKAGE && waited * 2 > n->total)
			svg_waiting_colour(&agg->frames[n->frame], colour);
	}
	draw_frame(c, node ? n->frame : UINT32_MAX, x_samples, n->total, depth, colour, diff);

	/* Children too narrow to see are merged into one bar, so the picture
	 * keeps their total and the file stays small. */
	uint32_t *kids = NULL;
	size_t count = 0;
	int ret = agg_sorted_children(agg, node, &kids, &count);
	uint64_t child_x = x_samples, merged = 0;
	size_t nmerged = 0;
	for (size_t i = 0; ret == 0 && i < count; i++) {
		uint64_t total = agg->nodes[kids[i]].total;
		if ((double)total * c->scale < c->min_width) {
			merged += total;
			nmerged++;
			continue;
		}
		ret = draw(c, kids[i], child_x, depth + 1);
		child_x += total;
	}
	/* After the visible siblings, so nothing overlaps. */
	if (ret == 0 && nmerged && (double)merged * c->scale >= c->min_width) {
		strbuf_reset(&c->label);
		strbuf_addf(&c->label, "[%zu narrow frames]", nmerged);
		draw_frame(c, UINT32_MAX, child_x, merged, depth + 1, "rgb(200,200,200)", NULL);
	}
	free(kids);
	return ret;
}

int profile_write_svg(struct strbuf *sb, const struct aggregate *agg, const struct profile_meta *meta)
{
	int width = meta && meta->width > 0 ? meta->width : 1200;
	int depth = max_depth(agg);
	if (depth < 0)
		return -ERR_NOMEM;
	struct svg_ctx c = {
		.agg = agg,
		.sb = sb,
		.scale = agg->samples ? (double)(width - 2 * PAD_X) / (double)agg->samples : 0,
		.min_width = meta && meta->min_width > 0 ? meta->min_width : 0.1,
		.image_height = (depth + 1) * FRAME_HEIGHT + PAD_TOP + PAD_BOTTOM,
		.reverse = meta && meta->reverse,
		.palette = meta ? meta->palette : PALETTE_PACKAGE,
		.label_index = xrealloc_array(NULL, agg->nframes ? agg->nframes : 1, sizeof(uint32_t)),
	};
	if (!c.label_index)
		return -ERR_NOMEM;
	memset(c.label_index, 0xFF, (agg->nframes ? agg->nframes : 1) * sizeof(uint32_t));
	double *baseline = NULL;
	if (meta && meta->baseline) {
		int ret = svg_baseline_totals(agg, meta->baseline, &baseline);
		if (ret < 0) {
			free(c.label_index);
			return ret;
		}
		c.baseline = baseline;
	}
	c.waiting = agg_waiting_totals(agg);
	if (!c.waiting) {
		free(c.label_index);
		free(baseline);
		return -ERR_NOMEM;
	}
	const char *title = meta && meta->title ? meta->title : "Flame Graph";
	strbuf_addf(sb,
	            "<?xml version=\"1.0\" standalone=\"no\"?>\n"
	            "<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	            "xmlns=\"http://www.w3.org/2000/svg\" data-plot-width=\"%d\" data-pad=\"%d\" data-char-width=\"%.3f\" "
	            "data-frame-height=\"%d\" data-draw-width=\"%.1f\" data-reverse=\"%d\">\n",
	            width, c.image_height, width, c.image_height, width - 2 * PAD_X, PAD_X, CHAR_WIDTH, FRAME_HEIGHT,
	            DRAW_WIDTH, c.reverse ? 1 : 0);
	strbuf_addf(sb,
	            "<style>text { font-family: Verdana, sans-serif; font-size: %dpx; fill: rgb(0,0,0); }\n"
	            ".f text { pointer-events: none; } .f:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; cursor: pointer; }\n"
	            "#title { font-size: 17px; } .button { cursor: pointer; } #details { font-size: 12px; }</style>\n",
	            FONT_SIZE);
	strbuf_addf(sb, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"rgb(248,248,240)\"/>\n", width,
	            c.image_height);
	strbuf_addf(sb, "<text id=\"title\" x=\"%d\" y=\"24\" text-anchor=\"middle\">", width / 2);
	escape_add_visible(&c.label, title, NULL);
	escape_add_xml(sb, c.label.buf ? c.label.buf : "", SIZE_MAX);
	strbuf_addstr(sb, "</text>\n");
	if (meta && meta->subtitle) {
		strbuf_addf(sb, "<text id=\"subtitle\" x=\"%d\" y=\"42\" text-anchor=\"middle\" fill=\"rgb(90,90,90)\">",
		            width / 2);
		strbuf_reset(&c.label);
		escape_add_visible(&c.label, meta->subtitle, NULL);
		escape_add_xml(sb, c.label.buf ? c.label.buf : "", SIZE_MAX);
		strbuf_addstr(sb, "</text>\n");
	}
	strbuf_addf(sb, "<text id=\"reset\" class=\"button\" x=\"%d\" y=\"24\" style=\"opacity:0\">Reset Zoom</text>\n",
	            PAD_X);
	strbuf_addf(sb, "<text id=\"search\" class=\"button\" x=\"%d\" y=\"24\" text-anchor=\"end\">Search</text>\n",
	            width - PAD_X);
	strbuf_addf(sb, "<text id=\"clear\" class=\"button\" x=\"%d\" y=\"40\" text-anchor=\"end\" style=\"opacity:0\">Clear</text>\n",
	            width - PAD_X);
	strbuf_addf(sb, "<text id=\"matched\" x=\"%d\" y=\"%d\" text-anchor=\"end\"> </text>\n", width - PAD_X,
	            c.image_height - 12);
	strbuf_addf(sb, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n<g id=\"frames\">\n", PAD_X,
	            c.image_height - 12);
	int ret = draw(&c, 0, 0, 0);
	strbuf_addstr(sb, "</g>\n<script type=\"text/ecmascript\"><![CDATA[\nvar thin_labels = [");
	strbuf_add(sb, c.thin_labels.buf, c.thin_labels.len);
	strbuf_addstr(sb, "];\nvar thin = [");
	strbuf_add(sb, c.thin.buf, c.thin.len);
	strbuf_addstr(sb, "];\n]]></script>\n");
	if (!strbuf_ok(&c.thin) || !strbuf_ok(&c.thin_labels))
		ret = ret < 0 ? ret : -ERR_NOMEM;
	strbuf_release(&c.label);
	strbuf_release(&c.thin);
	strbuf_release(&c.thin_labels);
	free(c.label_index);
	free((void *)c.waiting);
	free(baseline);
	/* The script itself (flamegraph.js), which the data above feeds. */
	strbuf_addstr(sb, "<script type=\"text/ecmascript\"><![CDATA[\n");
	strbuf_add(sb, flamegraph_js, flamegraph_js_size);
	strbuf_addstr(sb, "]]></script>\n</svg>\n");
	if (ret == 0 && !strbuf_ok(sb))
		ret = -ERR_NOMEM;
	return ret;
}
