/* Flame graph colours: a palette's colour for a frame (stable: a hash of
 * its name picks the shade), and the red/blue of a differential graph. */
#ifndef PYCOREPROF_OUT_SVG_COLOUR_H
#define PYCOREPROF_OUT_SVG_COLOUR_H

#include "pycoreprof/formats.h"

/* Writes "rgb(r,g,b)" into OUT. */
void svg_frame_colour(enum profile_palette palette, const struct agg_frame *frame, char out[32]);
/* CHANGE from -1 (all gone) to 1 (all new), 0 unchanged. */
void svg_diff_colour(double change, char out[32]);
/* The colour of a frame where threads mostly waited (--idle), shaded by
 * its name. */
void svg_waiting_colour(const struct agg_frame *f, char out[32]);
/* For each node of AGG, the samples the same path has in BASELINE, scaled
 * to AGG's total. The caller frees *OUT. */
int svg_baseline_totals(const struct aggregate *agg, const struct aggregate *baseline, double **out);

#endif
