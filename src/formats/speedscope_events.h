/* speedscope's "evented" profiles read (speedscope_events.c) for
 * speedscope_read.c: the events array, then its stacks into an aggregate.
 * Private to formats/. */
#ifndef PYCOREPROF_FORMATS_SPEEDSCOPE_EVENTS_H
#define PYCOREPROF_FORMATS_SPEEDSCOPE_EVENTS_H

#include "formats/json_scan.h"
#include "pycoreprof/agg.h"

struct speedscope_event {
	double at;               /* in the profile's unit */
	uint32_t frame;          /* shared frame index */
	bool open;               /* "O", else "C" */
};
struct speedscope_events {
	struct speedscope_event *items;
	size_t n, cap;
};

/* Append the events of the array at S (an evented profile's "events")
 * to EV; their frames are below NFRAMES. */
int speedscope_events_read(struct json_scan *s, size_t nframes, struct speedscope_events *ev);
/* EV's stacks into AGG, under the root frames ROOTS (NROOTS of them);
 * FRAME_IDS maps a shared frame index to AGG's frame id. The time each
 * stack was open is counted in samples of the median time a stack stayed
 * open or of a thousandth of the whole, whichever is shorter (at least one
 * each), spread evenly over it; with NS_PER_UNIT (the
 * unit is a time; 0: it is not) they go on AGG's timeline too, if it keeps
 * one. Errors name ORIGIN and the profile NAME: events out of order, a
 * close of a frame that is not open, frames left open. */
int speedscope_events_add(struct aggregate *agg, const struct speedscope_events *ev, const uint32_t *frame_ids,
                          const uint32_t *roots, size_t nroots, double ns_per_unit, const char *origin,
                          const char *name);
void speedscope_events_release(struct speedscope_events *ev);

#endif
