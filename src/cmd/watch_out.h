/* `pycoreprof watch`'s flight recorder (watch_out.c): the ring of the last
 * --window of samples fed by the recording's aggregate, and what it writes
 * (the window's profile, snapshots: at a crash, on SIGUSR1, every --every)
 * with the messages that say so. `record`'s sampling loop drives it. */
#ifndef PYCOREPROF_CMD_WATCH_OUT_H
#define PYCOREPROF_CMD_WATCH_OUT_H

#include <stdbool.h>

#include "pycoreprof/agg.h"
#include "pycoreprof/collect.h"

struct watch_options {
	const char *dir;         /* where files go (made when missing) */
	double window;           /* seconds of samples kept */
	double every;            /* seconds between rolling writes; 0: none */
	bool at_end;             /* also write when watching ends without a crash */
	int format;              /* enum profile_format of the window's profile */
	const char *title;       /* of the profile, or NULL */
	double interval;         /* mean seconds between samples */
	bool wall;               /* samples include waiting threads */
};

struct watch_out;

/* A recorder fed by AGG (the tree's aggregate, which must outlive it);
 * catches SIGUSR1 until freed. NULL when out of memory, or when DIR cannot
 * be made (reported). */
struct watch_out *watch_out_new(const struct watch_options *o, struct aggregate *agg);
/* Before each tick's sample at NOW (time_now()): the ring's time, a write
 * asked by SIGUSR1 or due by --every, the aggregate renewed when it has
 * grown (the tree then samples into the new one). */
void watch_out_tick(struct watch_out *w, struct process_tree *tree, double now);
/* The tree's crash_seen (struct tree_options; CTX is the watch_out). */
void watch_out_crash_seen(void *ctx, const struct profiled *p, const struct crash_capture *c, int ret);
/* Watching is over: say how the root ended (ROOT_STATUS its wait status,
 * -1 when not known; STOPPED: we stopped, it did not end) and write the
 * window's profile when it died without a crash we caught, or when
 * asked. Returns EXIT_OK or EXIT_FAIL (a write failed, reported). */
int watch_out_finish(struct watch_out *w, const struct process_tree *tree, bool stopped, int root_status);
/* "5 minutes", "90 seconds", "2 hours": SECONDS for people (a static
 * buffer). */
const char *watch_out_window_words(double seconds);
/* Stops catching SIGUSR1; NULL is fine. */
void watch_out_free(struct watch_out *w);

#endif
