/* One snapshot of a running process: freeze it, walk every thread's Python
 * stack through a recording target, let it go, and build the core file from
 * the pages the walk read. Used by `snapshot`; it never prints. */
#ifndef PYCOREPROF_CMD_SNAPSHOT_CAPTURE_H
#define PYCOREPROF_CMD_SNAPSHOT_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "pycoreprof/base.h"
#include "pycoreprof/python.h"
#include "pycoreprof/target.h"

struct capture_options {
	bool full;               /* every readable private or anonymous mapping */
	bool native;             /* the top of each thread's stack too */
	bool compress;
	double interval;         /* seconds, recorded in the note; 0 for one-off */
};

struct capture_session {
	struct target *live;     /* attached with PTRACE_SEIZE */
	struct target *recorder; /* reads through LIVE, keeps every page */
	struct pywalker *walker; /* reads through RECORDER */
	struct snap_build_id *build_ids;   /* paths are the session's own copies */
	size_t nbuild_ids;
	struct capture_options opts;
};

struct capture_result {
	struct strbuf file;      /* the bytes to write */
	size_t pages;            /* pages stored */
	size_t threads;
	double paused;           /* seconds the process was stopped */
	double build_seconds;    /* building and compressing, after resuming */
	double capture_time;     /* CLOCK_REALTIME seconds */
};

/* Attach to PID and find its interpreter. Errors as live_target_open()
 * and pywalker_new(). The process runs on when this returns. */
int capture_session_open(struct capture_session *s, pid_t pid, const struct capture_options *opts);
/* Take one snapshot into R (whose buffer is reset first). The process is
 * running again when this returns, whatever happened. */
int capture_session_take(struct capture_session *s, struct capture_result *r);
/* Detach and free; safe on a zeroed or closed session. */
void capture_session_close(struct capture_session *s);

#endif
