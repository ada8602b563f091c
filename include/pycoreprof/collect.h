/* Collect layer: taking stacks from a target. It decides how a sample is
 * taken (which threads stop, for how long, how often, what is read) and
 * turns what was read into frames; every command that reads stacks goes
 * through it. One-shot collection is in stacks.h, repeated sampling in
 * sampler.h; this header has the rest: the frames a stack adds to an
 * aggregate, a file read as one sample, live sessions, the sampling clock,
 * the tree of processes a recording follows, and snapshots. It never
 * prints: errors are returned with context, and a failure inside one sample
 * is counted, not returned. */
#ifndef PYCOREPROF_COLLECT_H
#define PYCOREPROF_COLLECT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pycoreprof/agg.h"
#include "pycoreprof/base.h"
#include "pycoreprof/native.h"
#include "pycoreprof/python.h"
#include "pycoreprof/sampler.h"
#include "pycoreprof/stacks.h"
#include "pycoreprof/target.h"

/* Frames (frames.c): what a collected stack adds to an aggregate. */

/* The frames above a thread's own, outermost first: a root naming the
 * process, one naming the thread, and the marker of a stack read only in
 * part. `record` and `report` both build them here. */
struct stack_roots {
	const char *process;     /* label of a process root, or NULL for none */
	bool thread;             /* a root for the thread */
	pid_t tid;
	/* The thread root reads `thread TID "NAME"`, or `thread TID` when
	 * NULL: `record` names live threads, `report` has never named the
	 * threads of cores. */
	const char *thread_name;
	/* The thread's interpreter: a sub-interpreter's (ID > 0, such as a
	 * mod_wsgi application group's) follows in the thread root, `thread
	 * TID "NAME" in interpreter ID "INTERP_NAME"` (without the name when
	 * NULL); the main interpreter's (0) and unknown ones (-1) do not. */
	int64_t interp_id;
	const char *interp_name;
	/* The thread root, interned already (thread_roots_frame()): used
	 * instead of TID, THREAD_NAME and the interpreter when THREAD_INTERNED. */
	bool thread_interned;
	uint32_t thread_frame;
	bool unreadable;         /* the walk stopped early: "[unreadable stack]" */
};
enum { STACK_ROOTS_MAX = 3 };
/* Intern the frames ROOTS asks for into AGG and append their ids at
 * IDS[*N], advancing *N (by STACK_ROOTS_MAX at most). */
int stack_roots_add(struct aggregate *agg, const struct stack_roots *roots, uint32_t *ids, size_t *n);
/* Intern a native frame: FUNCTION ("??" when NULL) in LIBRARY (a path,
 * shown by its file name), NAMED by a symbol or not, at SITE (may be NULL:
 * the frame keeps no address). */
int native_frame_id(struct aggregate *agg, const char *function, const char *library, bool named,
                    const struct native_site *site, uint32_t *id);
/* Count the collected stack TS once in AGG (as waiting when it was idle):
 * with THREAD_ROOTS its thread root, its error marker, its frames; ids go
 * to IDS, frames past MAX ids are left out (IDS has room for MAX, and for
 * STACK_ROOTS_MAX when MAX is smaller). WHEN_NS, when the stack was seen,
 * puts it on AGG's timeline if AGG keeps one (0: unknown). */
int thread_stack_count(struct aggregate *agg, const struct thread_stack *ts, bool thread_roots, uint32_t *ids,
                       size_t max, uint64_t when_ns);

/* A core file or snapshot as one sample (file_sample.c): `report` reads
 * each of its files so. */
struct file_sample_options {
	enum native_mode native; /* native frames too, where the file has them */
	bool idle;               /* keep threads that were waiting */
	bool thread_roots;       /* a root frame per thread */
	bool timeline;           /* keep a timeline: each stack at the capture time */
	double since, until;     /* CLOCK_REALTIME seconds; 0 when not given */
};
struct file_sample {
	struct aggregate agg;    /* initialised when the file was read */
	uint64_t capture_ns;     /* when the snapshot was taken; 0 for other cores */
	size_t stacks;           /* thread stacks counted */
	bool out_of_range;       /* taken outside --since/--until (or when unknown): not read */
};
enum { FILE_SAMPLE_FRAMES = 4096, FILE_SAMPLE_IDS = FILE_SAMPLE_FRAMES + 2 };
/* Read PATH and count each kept Python thread's stack once into S->agg,
 * which it initialises (threads that were waiting are kept with IDLE; their
 * stacks count as waiting); with TIMELINE, S->agg keeps a timeline with the
 * stacks at the snapshot's capture time (none for other cores). A file outside SINCE/UNTIL sets OUT_OF_RANGE and
 * is not read. Native frames are a bonus: a file whose native stacks cannot
 * be unwound counts with its Python frames. IDS is scratch of
 * FILE_SAMPLE_IDS entries. Errors with context, S->agg then released:
 * -ERR_NOT_ELF (also for an empty file) and the rest of
 * core_target_open()'s, pywalker_new()'s, -ERR_NOMEM. */
int file_sample_read(const char *path, const struct file_sample_options *opts, struct file_sample *s,
                     uint32_t *ids);

/* Live sessions (live_session.c): a running process opened for sampling,
 * the target with the Python walker once the interpreter is up (a
 * just-launched interpreter is waited for), and closed so that the process
 * always runs on detached. */
struct live_session {
	struct target *target;
	struct pywalker *walker;
	char version[32];        /* kept after close for the summary */
	char *command;
	char *host;              /* pyinfo.host's copy, NULL when not embedded */
};

/* Open PID; with WAIT_SECONDS > 0, retry until the interpreter is found
 * (or *STOP is set, or the process exits). The target is added to the
 * signal guard, which the caller installed. */
int live_session_open(struct live_session *s, pid_t pid, bool freeze, double wait_seconds,
                      volatile sig_atomic_t *stop);
/* Whether RET, an error of opening a process, may not come again a moment
 * later or with a consistent read: no interpreter (yet: one starting, a
 * launcher about to exec it), a read torn by the running process. */
bool live_session_retryable(int ret);
/* Whether PID runs a Python interpreter that can be read, found without
 * attaching to it or stopping it: 0 if so, else live_target_open()'s or
 * pywalker_new()'s error (-ERR_NOT_PYTHON for another program, or for an
 * interpreter not yet started). */
int live_session_probe(pid_t pid);
/* Detach and free the target and walker (version and command stay for the
 * summary); safe to call twice. */
void live_session_close(struct live_session *s);
/* Close and free everything. */
void live_session_release(struct live_session *s);
/* The command line, "?" when unknown. */
const char *live_session_command(const struct live_session *s);
/* "3.11.2", or "3.11.2 embedded in apache2" when a program that is no
 * Python interpreter embeds it (static buffer, overwritten by the next
 * call). */
const char *live_session_python(const struct live_session *s);

/* The sampling clock (clock.c): ticks a random interval apart, uniform in
 * [0.5, 1.5] x the mean INTERVAL, so that the ticks cannot lock onto work
 * that repeats with a period (a strictly periodic clock samples the same
 * phases of a timer-driven loop again and again); the mean rate stays
 * 1 / INTERVAL. The intervals come from a seeded generator: the same seed,
 * the same intervals. Deadlines are absolute (a late wake-up does not move
 * the later ticks), the timer slack is the minimum while the clock runs,
 * and the last SAMPLE_CLOCK_SPIN seconds before a tick are spun.
 * Between ticks, what the traced threads report (a signal on its way to a
 * thread waits in a stop until we pass it on) is answered at once: SIGCHLD,
 * which comes with each report, stays blocked while the clock runs, and the
 * wait returns when one arrives. */
#define SAMPLE_CLOCK_SPIN 50e-6
struct sample_clock {
	double interval;         /* seconds: the mean */
	double start;            /* time_now() when started */
	double next;             /* time_now() of the next tick */
	uint64_t late;           /* ticks missed: the sampler could not keep up */
	uint64_t random;         /* the generator's state */
	unsigned long saved_slack; /* the thread's timer slack before (ns) */
	sigset_t saved_mask;
	bool started, slack_set;
};
/* A seed from the clock and the process id, for when none is given. */
uint64_t sample_clock_time_seed(void);
/* Set up without starting: the intervals' generator seeded with SEED. */
void sample_clock_init(struct sample_clock *c, double interval, uint64_t seed);
/* The next interval (seconds) from the generator: in [0.5, 1.5) x the mean. */
double sample_clock_draw(struct sample_clock *c);
/* sample_clock_init(), then start now (the first tick is now): blocks
 * SIGCHLD in this thread and sets its timer slack to the minimum. */
void sample_clock_start(struct sample_clock *c, double interval, uint64_t seed);
/* Move to the next tick, a drawn interval after the last one. A tick whose
 * time has passed is taken at once, so a sample that overran its interval
 * is made up by the next wait being shorter; once the clock is more than a
 * mean interval behind, the ticks it cannot make up are counted in LATE and
 * skipped rather than caught up in a burst. Returns time_now(). */
double sample_clock_advance(struct sample_clock *c);
/* Sleep until the next tick or *STOP; true when woken early by a report,
 * to be answered (target_answer_reports()) before waiting again. */
bool sample_clock_wait(struct sample_clock *c, volatile sig_atomic_t *stop);
/* Restore the signal mask and the timer slack; safe when not started, and
 * twice. */
void sample_clock_stop(struct sample_clock *c);

struct crash_capture;
struct profiled;

/* A recording of a process tree (processes.c): the processes sampled
 * together into one aggregate. The root is attached to or launched; with
 * SUBPROCESSES the root need not be Python: the Python processes that
 * appear below it join (found without being attached to: only Python
 * processes are ever stopped), each under a `process PID "command"` root,
 * for as long as the root runs or any of them does. A process that exits
 * stops being sampled, one that exec'd is opened anew, and one that is not
 * Python is tried again after it execs. A launched command and everything
 * it started are ended by process_tree_end(). */
struct tree_options {
	struct sampler_options sampling;
	bool subprocesses;
	enum native_mode native; /* NATIVE_OFF, or native frames merged so */
	size_t native_stack_bytes;
	/* Told that process PID exec'd, before it is opened anew; may be NULL. */
	void (*exec_seen)(pid_t pid);
	/* Crash capture (freeze mode only): when set, a sampled process about
	 * to die of a fatal signal (target_hold_crashes()) is read into a
	 * snapshot first (crash_capture_take()), the signal then delivered, and
	 * CRASH_SEEN told: process P, and C, or RET < 0 when the capture
	 * failed (C->signal is still the signal). NULL: signals go on as they
	 * come. CTX is passed on. */
	void (*crash_seen)(void *ctx, const struct profiled *p, const struct crash_capture *c, int ret);
	void *ctx;
};

/* One process of the tree: the root, or a descendant. */
struct profiled {
	pid_t pid;
	uint64_t start_time;     /* with PID, which process (pids are reused) */
	struct live_image image; /* what it ran when last probed */
	bool active;             /* being sampled */
	bool rejected;           /* not Python in IMAGE: tried again after an exec */
	bool ended;              /* the root, once it exited */
	int attempts;            /* probes of IMAGE that found no interpreter */
	double next_probe;       /* time_now() of the next */
	double since, until;     /* time_now() when its sampling began and ended (0: not yet) */
	/* Once it ended while sampled: its wait status as reported to us
	 * (target_end_status()), when HAS_END_STATUS; a crash captured. */
	bool has_end_status;
	int end_status;
	bool crashed;
	struct live_session session;
	struct sampler sampler;
	struct native_unwinder *unwinder; /* with native frames */
	char *label;             /* `process PID "cmdline"` root frame, or NULL */
};

struct process_tree {
	struct tree_options opts;
	struct aggregate *agg;   /* borrowed */
	/* The root's pid, also when opening it failed: a launched command is
	 * the caller's to end (0 when it could not be started). */
	pid_t root;
	char *root_command;      /* its command line */
	bool launched;           /* the root is a command we started */
	struct profiled *procs;  /* procs[0] is the root; the array moves as it
	                          * changes, and processes gone leave it */
	size_t nprocs, cap;
	double next_scan;        /* time_now() of the next look below the root */
	uint64_t samples;        /* ticks in which some process was sampled */
	double first_sample;     /* time_now() of the first of them */
	char python[96];         /* live_session_python() of the first process sampled */
	/* Of the processes gone or replaced by an exec: */
	struct sampler_stats retired;
	size_t sampled_ended;    /* how many were sampled */
	double stopped_share_max; /* the largest share of its sampled time one spent stopped */
};

/* Sampled processes and their sums over the recording. */
struct tree_totals {
	uint64_t samples;        /* ticks in which some process was sampled */
	uint64_t stacks;         /* thread stacks counted, of every process */
	uint64_t errors;         /* of every process */
	uint64_t error_kinds[SAMPLER_ERR__COUNT]; /* ERRORS by what failed */
	struct pause_stats pauses; /* of every process; the caller releases it */
	size_t sampled;          /* processes sampled at least once */
	/* Each process pays only its own pauses: the largest share of its
	 * sampled time a process spent stopped (the sum of its pauses over the
	 * time it was sampled). */
	double stopped_share_max;
};

void process_tree_init(struct process_tree *tree, struct aggregate *agg, const struct tree_options *opts);
/* Open the root: PID, or COMMAND (an argv) launched. Without
 * subprocesses the root must be Python (a launched command is given 10 s to
 * start its interpreter; the error hints at --subprocesses when a process
 * below it is Python); with them, Python processes already below it join.
 * The signal guard must be installed: its stop flag ends a wait. Errors:
 * live_session_open()'s, -ERR_NO_PROCESS, -ERR_NOENT when COMMAND cannot be
 * run, -ERR_IO, -ERR_NOMEM. */
int process_tree_open(struct process_tree *tree, pid_t pid, char **command);
/* One tick at NOW (time_now()): with subprocesses, look below the root
 * when due (often while nothing is sampled, every half second otherwise);
 * then one sample of each process sampled. Per-sample errors are counted in
 * each sampler's stats. Returns 0, or an error that is not one process's
 * (-ERR_NOMEM). */
int process_tree_sample(struct process_tree *tree, double now);
/* Whether the recording goes on: the root is sampled or, with
 * subprocesses, the root runs or some process is sampled. */
bool process_tree_sampling(const struct process_tree *tree);
/* Whether the root itself is sampled. */
bool process_tree_root_sampled(const struct process_tree *tree);
/* target_answer_reports() of every process sampled (and crash capture). */
void process_tree_answer_reports(struct process_tree *tree);
/* Make AGG (which must outlive the tree) the aggregate that every sample
 * from now on goes to; the samplers forget the frame ids they knew. */
void process_tree_set_aggregate(struct process_tree *tree, struct aggregate *agg);
/* Detach every process; statistics, versions and commands stay. */
void process_tree_close(struct process_tree *tree);
void process_tree_totals(const struct process_tree *tree, struct tree_totals *totals);
/* Detach and free everything; safe after a failed open. */
void process_tree_release(struct process_tree *tree);

/* The Python processes of the tree below ROOT now, found without attaching
 * to any: ROOT first when it is Python (and not BELOW_ONLY), then the others
 * breadth first. *PIDS is the caller's. Errors: -ERR_NO_PROCESS when ROOT
 * does not exist, -ERR_NOMEM, -ERR_IO. */
int process_tree_list_python(pid_t root, bool below_only, pid_t **pids, size_t *count);

/* RET, the error of reading ROOT, with a hint naming --subprocesses when
 * it is -ERR_NOT_PYTHON and a Python process runs below ROOT. */
int process_tree_hint_python_below(pid_t root, int ret);

/* How a launched command was ended. */
struct tree_end {
	int status;              /* the command's wait status; -1 when not reaped */
	int sent[3];             /* signals sent to what was left, in order */
	size_t nsent;
	bool left;               /* something was still there after SIGKILL */
};
/* Seconds a launched command is given to end after each signal but SIGKILL. */
#define TREE_END_GRACE 2.0
/* After process_tree_close(): end a launched command and everything below
 * us (what it started, orphans included), and reap them. FIRST_SIGNAL (0:
 * none, the command is ending by itself) is sent to all of it, which is
 * given FIRST_GRACE seconds (< 0: until the command itself has ended);
 * then, to what is left, SIGTERM (after none or SIGINT) and SIGKILL, each
 * given its grace. A stop signal received meanwhile cuts a grace short.
 * Nothing is done for an attached root. */
void process_tree_end(struct process_tree *tree, int first_signal, double first_grace, struct tree_end *end);

/* Snapshots (capture.c): freeze a running process, walk every thread's
 * Python stack through a recording target, let it go, and build the core
 * file from the pages the walk read. */
struct capture_options {
	bool full;               /* every readable private or anonymous mapping */
	bool native;             /* the top of each thread's stack too */
	bool locals;             /* what reading each frame's locals reads too */
	bool tasks;              /* what reading the asyncio tasks reads too */
	bool compress;
	double interval;         /* seconds, recorded in the note; 0 for one-off */
};

/* A thread before a snapshot's freeze: how much it had run and where it
 * waited, for the check that a thread left asleep stayed so (capture.c). */
struct capture_watch {
	pid_t tid;
	bool known;              /* both read, and it was not running */
	struct target_runtime before;
	struct target_syscall where;
};

struct capture_session {
	struct target *live;     /* attached with PTRACE_SEIZE */
	struct target *recorder; /* reads through LIVE, keeps every page */
	struct pywalker *walker; /* reads through RECORDER */
	struct pytasks *tasks;   /* with opts.tasks: WALKER's task reader */
	struct snap_build_id *build_ids;   /* paths are the session's own copies */
	size_t nbuild_ids;
	struct capture_options opts;
	/* Threads may be left asleep (not with --native or --full): each
	 * thread as it was before the freeze, and those the freeze left. */
	bool leave_asleep;
	struct capture_watch *watch;
	size_t nwatch, watch_cap;
	struct target_thread *asleep;
	size_t nasleep, asleep_cap;
};

struct capture_result {
	struct strbuf file;      /* the bytes to write */
	size_t pages;            /* pages stored */
	size_t threads;
	double paused;           /* seconds the process was stopped */
	double build_seconds;    /* building and compressing, after resuming */
	double capture_time;     /* CLOCK_REALTIME seconds */
	size_t left_asleep;      /* threads read without being stopped */
	bool retaken;            /* a thread woke: taken again, every thread stopped */
};

/* Attach to PID and find its interpreter. The process runs on when this
 * returns; it is in the signal guard (which the caller installed) until the
 * session is closed. Errors as live_target_open(), pywalker_new() and
 * guard_add(). */
int capture_session_open(struct capture_session *s, pid_t pid, const struct capture_options *opts);
/* Take one snapshot into R (whose buffer is reset first). The process is
 * running again when this returns, whatever happened. */
int capture_session_take(struct capture_session *s, struct capture_result *r);
/* Detach and free; safe on a zeroed or closed session. */
void capture_session_close(struct capture_session *s);

/* Crash capture (crash.c): a process whose thread holds a fatal signal
 * (target_crash_held()) read into a snapshot before the signal goes on. */
struct crash_capture {
	struct strbuf file;      /* the snapshot, gzip-compressed */
	struct target_signal signal; /* what it was about to die of */
	size_t threads;          /* Python threads read */
	size_t pages;            /* pages stored */
	double capture_time;     /* CLOCK_REALTIME seconds */
	double held;             /* seconds from the call to the signal's delivery */
	uint32_t py_version_hex;
	char py_version[32];
	uint64_t runtime_addr, interp_head_addr;
};
/* Read LIVE (attached with PTRACE_SEIZE, a crash held) whole: every thread
 * stopped, each one's Python frames and locals, registers and stack top,
 * the binaries' build-ids, the signal; then deliver the signal (always,
 * also on error) and compress the snapshot into C's file. LIVE's freeze
 * policy is POLICY again afterwards. Errors: pywalker_new()'s,
 * target_freeze()'s, -ERR_NOMEM, -ERR_IO. */
int crash_capture_take(struct target *live, const struct freeze_policy *policy, struct crash_capture *c);
void crash_capture_release(struct crash_capture *c);

#endif
