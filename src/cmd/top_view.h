/* The live view of `pycoreprof top` (top_view.c): a table of functions by
 * own and total time, redrawn each refresh on the terminal (alternate
 * screen, keys read as they are typed), or printed as plain tables when
 * the output is not a terminal. `record`'s sampling loop drives it. */
#ifndef PYCOREPROF_CMD_TOP_VIEW_H
#define PYCOREPROF_CMD_TOP_VIEW_H

#include <stdbool.h>

#include "pycoreprof/agg.h"
#include "pycoreprof/collect.h"

struct top_view;

/* A view refreshed every REFRESH seconds of samples taken every INTERVAL
 * (mean, for times). On a terminal it takes the screen and the keyboard
 * until top_view_free(). NULL when out of memory. */
struct top_view *top_view_new(double refresh, double interval);
/* After each tick: keys read, the screen redrawn when due (or on a key or
 * a resized terminal). True when the user asked to quit. */
bool top_view_tick(struct top_view *v, const struct process_tree *tree, const struct aggregate *agg, double now);
/* The screen and keyboard given back, then the whole run's table printed
 * on stdout. */
void top_view_finish(struct top_view *v, const struct process_tree *tree, const struct aggregate *agg, double now);
/* Gives the terminal back if it still has it; NULL is fine. */
void top_view_free(struct top_view *v);

#endif
