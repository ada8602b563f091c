/* Interactive SVG flame graph in the style of flamegraph.pl: one <g> per
 * frame with a <title> (readable without JavaScript), colours by kind of
 * code, and an embedded script for hover details, click-to-zoom, reset and
 * regex search with the matched share of samples. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/profile_out.h"

enum { FRAME_HEIGHT = 16, FONT_SIZE = 12, PAD_X = 10, PAD_TOP = 50, PAD_BOTTOM = 34 };
static const double CHAR_WIDTH = FONT_SIZE * 0.59;

struct svg_ctx {
	const struct aggregate *agg;
	struct strbuf *sb;
	double scale;            /* pixels per sample */
	double min_width;
	int image_height;
	struct strbuf label;
};

static void add_escaped(struct strbuf *sb, const char *s, size_t max)
{
	size_t n = 0;
	for (; *s && n < max; s++, n++) {
		switch (*s) {
		case '<': strbuf_addstr(sb, "&lt;"); break;
		case '>': strbuf_addstr(sb, "&gt;"); break;
		case '&': strbuf_addstr(sb, "&amp;"); break;
		case '"': strbuf_addstr(sb, "&quot;"); break;
		default: strbuf_addch(sb, *s);
		}
	}
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Colour carries meaning: the kind of code a frame belongs to, with a
 * stable shade from the function's name. */
static void frame_colour(const struct agg_frame *f, char out[32])
{
	uint32_t h = name_hash(f->name);
	double v1 = (h & 0xFF) / 255.0, v2 = ((h >> 8) & 0xFF) / 255.0;
	int r, g, b;
	const char *file = f->file ? f->file : "";
	if (f->kind == AGG_THREAD || f->kind == AGG_PROCESS) {
		r = 190 + (int)(40 * v1); g = r; b = r;                          /* grey roots */
	} else if (f->kind == AGG_ERROR) {
		r = 250; g = 120 + (int)(40 * v1); b = 120;
	} else if (f->kind == AGG_NATIVE) {
		r = 80 + (int)(50 * v1); g = 180 + (int)(50 * v2); b = 190 + (int)(50 * v1); /* aqua */
	} else if (strstr(file, "site-packages") || strstr(file, "dist-packages")) {
		r = 110 + (int)(60 * v1); g = 190 + (int)(50 * v2); b = 90 + (int)(40 * v1); /* green */
	} else if (strstr(file, "/lib/python") || file[0] == '<') {
		r = 120 + (int)(50 * v1); g = 150 + (int)(50 * v2); b = 220 + (int)(30 * v1); /* blue */
	} else {
		r = 205 + (int)(50 * v2); g = (int)(230 * v1); b = (int)(55 * v2);             /* warm */
	}
	snprintf(out, 32, "rgb(%d,%d,%d)", r, g, b);
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

static int draw(struct svg_ctx *c, uint32_t node, uint64_t x_samples, int depth)
{
	const struct aggregate *agg = c->agg;
	const struct agg_node *n = &agg->nodes[node];
	double width = (double)n->total * c->scale;
	if (node != 0 && width < c->min_width)
		return 0;
	double x = PAD_X + (double)x_samples * c->scale;
	double y = c->image_height - PAD_BOTTOM - (depth + 1) * FRAME_HEIGHT;
	struct strbuf *sb = c->sb;
	char colour[32];
	strbuf_reset(&c->label);
	if (node == 0) {
		strbuf_addstr(&c->label, "all");
		strcpy(colour, "rgb(250,250,250)");
	} else {
		agg_frame_label(agg, n->frame, &c->label);
		frame_colour(&agg->frames[n->frame], colour);
	}
	double percent = agg->samples ? 100.0 * (double)n->total / (double)agg->samples : 0;
	strbuf_addf(sb, "<g class=\"f\" data-x=\"%llu\" data-w=\"%llu\" data-d=\"%d\"><title>",
	            (unsigned long long)x_samples, (unsigned long long)n->total, depth);
	add_escaped(sb, c->label.buf, SIZE_MAX);
	strbuf_addf(sb, " (%llu sample%s, %.2f%%)</title>", (unsigned long long)n->total, n->total == 1 ? "" : "s",
	            percent);
	strbuf_addf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\" rx=\"2\" ry=\"2\"/>", x,
	            y, width, FRAME_HEIGHT - 1, colour);
	size_t fits = width > 3 * CHAR_WIDTH ? (size_t)((width - 6) / CHAR_WIDTH) : 0;
	strbuf_addf(sb, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + FRAME_HEIGHT - 4.5);
	if (fits >= 3) {
		if (c->label.len <= fits) {
			add_escaped(sb, c->label.buf, SIZE_MAX);
		} else {
			add_escaped(sb, c->label.buf, fits - 2);
			strbuf_addstr(sb, "..");
		}
	}
	strbuf_addstr(sb, "</text></g>\n");

	uint32_t *kids = NULL;
	size_t count = 0;
	int ret = agg_sorted_children(agg, node, &kids, &count);
	uint64_t child_x = x_samples;
	for (size_t i = 0; ret == 0 && i < count; i++) {
		ret = draw(c, kids[i], child_x, depth + 1);
		child_x += agg->nodes[kids[i]].total;
	}
	free(kids);
	return ret;
}

/* The script: zoom, reset, search, hover details. Kept plain (ES5) so any
 * browser that renders SVG runs it. */
static const char script[] =
	"<script type=\"text/ecmascript\"><![CDATA[\n"
	"'use strict';\n"
	"var svg = document.documentElement, frames = [], total = 0, zoomed = null;\n"
	"var W = +svg.getAttribute('data-plot-width'), X0 = +svg.getAttribute('data-pad');\n"
	"var CW = +svg.getAttribute('data-char-width');\n"
	"function $(id) { return document.getElementById(id); }\n"
	"function init() {\n"
	"  var gs = document.getElementsByClassName('f');\n"
	"  for (var i = 0; i < gs.length; i++) {\n"
	"    var g = gs[i], t = g.getElementsByTagName('title')[0].textContent;\n"
	"    frames.push({g: g, rect: g.getElementsByTagName('rect')[0], text: g.getElementsByTagName('text')[0],\n"
	"      x: +g.getAttribute('data-x'), w: +g.getAttribute('data-w'), d: +g.getAttribute('data-d'),\n"
	"      title: t, label: t.replace(/ \\([0-9,]+ samples?, [0-9.]+%\\)$/, '')});\n"
	"    g.addEventListener('click', onclick_frame);\n"
	"    g.addEventListener('mouseover', function (e) { $('details').textContent = this.getElementsByTagName('title')[0].textContent; });\n"
	"    g.addEventListener('mouseout', function () { $('details').textContent = ' '; });\n"
	"  }\n"
	"  total = frames.length ? frames[0].w : 0;\n"
	"  $('reset').addEventListener('click', reset);\n"
	"  $('search').addEventListener('click', function () { search_prompt(); });\n"
	"  $('clear').addEventListener('click', function () { search(null); });\n"
	"  window.addEventListener('keydown', function (e) {\n"
	"    if ((e.ctrlKey || e.metaKey) && e.keyCode === 70) { e.preventDefault(); search_prompt(); }\n"
	"    else if (e.keyCode === 27) { reset(); search(null); }\n"
	"  });\n"
	"  var params = new URLSearchParams(window.location.search);\n"
	"  if (params.get('s')) search(params.get('s'));\n"
	"}\n"
	"function fit(f, width) {\n"
	"  var n = Math.floor((width - 6) / CW), s = f.label;\n"
	"  f.text.textContent = n < 3 ? '' : (s.length <= n ? s : s.substring(0, n - 2) + '..');\n"
	"}\n"
	"function layout(x0, w0, d0) {\n"
	"  for (var i = 0; i < frames.length; i++) {\n"
	"    var f = frames[i], inside = f.x >= x0 && f.x + f.w <= x0 + w0;\n"
	"    var above = f.d < d0 && f.x <= x0 && f.x + f.w >= x0 + w0;\n"
	"    if (inside && f.d >= d0 || above) {\n"
	"      var x = above ? X0 : X0 + (f.x - x0) / w0 * W, w = above ? W : f.w / w0 * W;\n"
	"      f.g.style.display = ''; f.rect.setAttribute('x', x.toFixed(1)); f.rect.setAttribute('width', w.toFixed(1));\n"
	"      f.text.setAttribute('x', (x + 3).toFixed(1)); fit(f, w);\n"
	"      f.g.style.opacity = above && f.d > 0 ? '0.6' : '';\n"
	"    } else { f.g.style.display = 'none'; }\n"
	"  }\n"
	"}\n"
	"function onclick_frame() {\n"
	"  for (var i = 0; i < frames.length; i++) if (frames[i].g === this) zoomed = frames[i];\n"
	"  layout(zoomed.x, zoomed.w, zoomed.d);\n"
	"  $('reset').style.opacity = '1';\n"
	"}\n"
	"function reset() {\n"
	"  zoomed = null; layout(0, total, 0); $('reset').style.opacity = '0';\n"
	"}\n"
	"function search_prompt() {\n"
	"  var term = prompt('Search for (regular expression):', '');\n"
	"  if (term !== null) search(term);\n"
	"}\n"
	"function search(term) {\n"
	"  var re = null, spans = [], i;\n"
	"  if (term) { try { re = new RegExp(term); } catch (e) { re = null; } }\n"
	"  for (i = 0; i < frames.length; i++) {\n"
	"    var f = frames[i], hit = re !== null && f.d > 0 && re.test(f.label);\n"
	"    if (hit) { f.rect.setAttribute('data-fill', f.rect.getAttribute('data-fill') || f.rect.getAttribute('fill'));\n"
	"      f.rect.setAttribute('fill', 'rgb(230,0,230)'); f.g.classList.add('match'); spans.push([f.x, f.x + f.w]); }\n"
	"    else { if (f.rect.getAttribute('data-fill')) f.rect.setAttribute('fill', f.rect.getAttribute('data-fill'));\n"
	"      f.g.classList.remove('match'); }\n"
	"  }\n"
	"  spans.sort(function (a, b) { return a[0] - b[0]; });\n"
	"  var matched = 0, end = -1;\n"
	"  for (i = 0; i < spans.length; i++) {\n"
	"    if (spans[i][0] >= end) { matched += spans[i][1] - spans[i][0]; end = spans[i][1]; }\n"
	"    else if (spans[i][1] > end) { matched += spans[i][1] - end; end = spans[i][1]; }\n"
	"  }\n"
	"  var pct = total ? 100 * matched / total : 0;\n"
	"  $('matched').textContent = re ? 'Matched: ' + pct.toFixed(1) + '%' : ' ';\n"
	"  $('matched').setAttribute('data-percent', re ? pct.toFixed(4) : '');\n"
	"  $('clear').style.opacity = re ? '1' : '0';\n"
	"}\n"
	"init();\n"
	"]]></script>\n";

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
	};
	const char *title = meta && meta->title ? meta->title : "Flame Graph";
	strbuf_addf(sb,
	            "<?xml version=\"1.0\" standalone=\"no\"?>\n"
	            "<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	            "xmlns=\"http://www.w3.org/2000/svg\" data-plot-width=\"%d\" data-pad=\"%d\" data-char-width=\"%.3f\">\n",
	            width, c.image_height, width, c.image_height, width - 2 * PAD_X, PAD_X, CHAR_WIDTH);
	strbuf_addf(sb,
	            "<style>text { font-family: Verdana, sans-serif; font-size: %dpx; fill: rgb(0,0,0); }\n"
	            ".f text { pointer-events: none; } .f:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; cursor: pointer; }\n"
	            "#title { font-size: 17px; } .button { cursor: pointer; } #details { font-size: 12px; }</style>\n",
	            FONT_SIZE);
	strbuf_addf(sb, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"rgb(248,248,240)\"/>\n", width,
	            c.image_height);
	strbuf_addf(sb, "<text id=\"title\" x=\"%d\" y=\"24\" text-anchor=\"middle\">", width / 2);
	add_escaped(sb, title, SIZE_MAX);
	strbuf_addstr(sb, "</text>\n");
	if (meta && meta->subtitle) {
		strbuf_addf(sb, "<text id=\"subtitle\" x=\"%d\" y=\"42\" text-anchor=\"middle\" fill=\"rgb(90,90,90)\">",
		            width / 2);
		add_escaped(sb, meta->subtitle, SIZE_MAX);
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
	strbuf_release(&c.label);
	strbuf_addstr(sb, "</g>\n");
	strbuf_addstr(sb, script);
	strbuf_addstr(sb, "</svg>\n");
	if (ret == 0 && !strbuf_ok(sb))
		ret = -ERR_NOMEM;
	return ret;
}
