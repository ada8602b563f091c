/* speedscope's "evented" profiles from an aggregate's timeline, one per
 * thread, for speedscope.c. Private to formats/. */
#ifndef PYCOREPROF_FORMATS_SPEEDSCOPE_TIMELINE_H
#define PYCOREPROF_FORMATS_SPEEDSCOPE_TIMELINE_H

#include "pycoreprof/formats.h"

/* The profiles of AGG's timeline (which has events), as the inside of the
 * "profiles" array: one evented profile per thread (per run of root
 * frames), named after its root frames joined by " / " (TITLE when the
 * stacks have none), frames numbered by ORDER. INTERVAL (seconds, 0:
 * unknown) is how long a sample lasts when nothing else tells. */
int speedscope_add_timeline(struct strbuf *sb, const struct aggregate *agg, const struct frame_order *order,
                            const char *title, double interval);

#endif
