/* Colours that carry meaning: by kind of code (your code warm, standard
 * library blue, site-packages green, native aqua, roots grey, markers red)
 * with a shade from a hash of the name, so a function keeps its colour
 * from one run to the next; and the baseline matching of diff graphs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/svg_colour.h"

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static bool is_stdlib(const char *file)
{
	return strstr(file, "/lib/python") || file[0] == '<';
}

void svg_frame_colour(enum profile_palette palette, const struct agg_frame *f, char out[32])
{
	uint32_t h = name_hash(f->name);
	double v1 = (h & 0xFF) / 255.0, v2 = ((h >> 8) & 0xFF) / 255.0;
	int r, g, b;
	const char *file = f->file ? f->file : "";
	if (palette == PALETTE_HOT) {
		r = 205 + (int)(50 * v2); g = (int)(230 * v1); b = (int)(55 * v2);
	} else if (palette == PALETTE_COLD) {
		r = (int)(55 * v2); g = (int)(230 * v1); b = 205 + (int)(50 * v2);
	} else if (palette == PALETTE_MONO) {
		r = 170 + (int)(60 * v1); g = r; b = r;
	} else if (f->kind == AGG_THREAD || f->kind == AGG_PROCESS) {
		r = 190 + (int)(40 * v1); g = r; b = r;                          /* grey roots */
	} else if (f->kind == AGG_ERROR) {
		r = 250; g = 120 + (int)(40 * v1); b = 120;
	} else if (f->kind == AGG_NATIVE) {
		r = 80 + (int)(50 * v1); g = 180 + (int)(50 * v2); b = 190 + (int)(50 * v1); /* aqua */
	} else if (f->origin == AGG_FROM_PACKAGE ||
	           (f->origin == AGG_FROM_ELSEWHERE && (strstr(file, "site-packages") || strstr(file, "dist-packages")))) {
		r = 110 + (int)(60 * v1); g = 190 + (int)(50 * v2); b = 90 + (int)(40 * v1); /* green */
	} else if (f->origin == AGG_FROM_STDLIB || (f->origin == AGG_FROM_ELSEWHERE && is_stdlib(file))) {
		r = 120 + (int)(50 * v1); g = 150 + (int)(50 * v2); b = 220 + (int)(30 * v1); /* blue */
	} else {
		r = 205 + (int)(50 * v2); g = (int)(230 * v1); b = (int)(55 * v2);             /* warm */
	}
	snprintf(out, 32, "rgb(%d,%d,%d)", r, g, b);
}

void svg_waiting_colour(const struct agg_frame *f, char out[32])
{
	uint32_t h = name_hash(f->name);
	double v1 = (h & 0xFF) / 255.0;
	unsigned r = 180 + (unsigned)(30 * v1);   /* pale blue-grey */
	snprintf(out, 32, "rgb(%u,%u,%u)", r & 0xFF, (r + 12) & 0xFF, (r + 30 > 255 ? 255 : r + 30) & 0xFF);
}

void svg_diff_colour(double change, char out[32])
{
	if (change > 1)
		change = 1;
	if (change < -1)
		change = -1;
	unsigned char fade = (unsigned char)(255 - (int)(200 * (change < 0 ? -change : change)));
	if (change >= 0)
		snprintf(out, 32, "rgb(255,%u,%u)", (unsigned)fade, (unsigned)fade);
	else
		snprintf(out, 32, "rgb(%u,%u,255)", (unsigned)fade, (unsigned)fade);
}

/* Both children lists are sorted the same way: match them as a merge. */
static int match(const struct aggregate *agg, uint32_t node, const struct aggregate *base, uint32_t base_node,
                 double scale, double *totals)
{
	uint32_t *kids = NULL, *base_kids = NULL;
	size_t n = 0, nb = 0, j = 0;
	totals[node] = (double)base->nodes[base_node].total * scale;
	int ret = agg_sorted_children(agg, node, &kids, &n);
	if (ret == 0)
		ret = agg_sorted_children(base, base_node, &base_kids, &nb);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		const struct agg_frame *f = &agg->frames[agg->nodes[kids[i]].frame];
		int c = 1;
		while (j < nb && (c = agg_frame_compare(&base->frames[base->nodes[base_kids[j]].frame], f)) < 0)
			j++;
		if (j < nb && c == 0)
			ret = match(agg, kids[i], base, base_kids[j], scale, totals);
	}
	free(kids);
	free(base_kids);
	return ret;
}

int svg_baseline_totals(const struct aggregate *agg, const struct aggregate *baseline, double **out)
{
	double *totals = xcalloc(agg->nnodes ? agg->nnodes : 1, sizeof(*totals));
	if (!totals)
		return -ERR_NOMEM;
	double scale = baseline->samples ? (double)agg->samples / (double)baseline->samples : 0;
	int ret = match(agg, 0, baseline, 0, scale, totals);
	if (ret < 0) {
		free(totals);
		return ret;
	}
	*out = totals;
	return 0;
}
