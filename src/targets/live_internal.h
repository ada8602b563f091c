/* State shared by the live-process backend's files: live.c (open, thread
 * table, refresh), live_proc.c, live_ptrace.c and live_mem.c. Not an
 * interface for other layers: they use pycoreprof/target.h. */
#ifndef PYCOREPROF_TARGET_LIVE_INTERNAL_H
#define PYCOREPROF_TARGET_LIVE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pycoreprof/target.h"

#define LIVE_PAGE_SHIFT 12
#define LIVE_PAGE_SIZE ((size_t)1 << LIVE_PAGE_SHIFT)
#define LIVE_CACHE_SLOTS 512u        /* 2 MiB of cached pages, direct-mapped */
#define LIVE_CACHE_MAX_RUN 16u       /* pages fetched by one read; larger reads bypass the cache */
#define LIVE_PREFETCH_MAX 256u       /* pages of the previous round fetched ahead in one syscall */
#define LIVE_FIXED_SLOTS 64u         /* pages of read-only file mappings kept across rounds */
#define LIVE_REAP_MAX 64u            /* exiting threads remembered to reap */
#define LIVE_PAGE_ROUNDS 4u          /* a page not read for this many rounds is not fetched ahead */

/* How far we control one thread. */
enum live_ctl {
	CTL_UNTRACED,                /* not seized (nonblocking mode) */
	CTL_RUNNING,                 /* seized and running (or listening in a group-stop) */
	CTL_INTERRUPTED,             /* PTRACE_INTERRUPT sent, stop not yet reported */
	CTL_STOPPED,                 /* in a ptrace-stop we have seen reported */
	CTL_GONE,                    /* exited; dropped at the next table update */
};

struct live_task {
	pid_t tid;
	pid_t ns_tid;                /* its id in the process's PID namespace when not ours, else 0 */
	char state;                  /* run state letter before the last freeze */
	int cpu;                     /* the CPU it last ran on, read with the state; -1: unknown */
	char name[16];               /* comm, from the same stat read */
	unsigned char ctl;           /* enum live_ctl */
	bool group_stop;             /* stopped by SIGSTOP & co.: resume with PTRACE_LISTEN */
	bool has_regs;
	bool held;                   /* frozen without a reported stop: see struct freeze_policy */
	int pending_sig;             /* signal to deliver when the thread goes on */
	bool crashed;                /* PENDING_SIG is a fatal signal held (target_hold_crashes()) */
	int stat_fd;                 /* /proc/PID/task/TID/stat kept open, or -1 */
	int schedstat_fd;            /* /proc/PID/task/TID/schedstat kept open once read, or -1 */
	uint64_t regs[TREG__COUNT];
};

/* What /proc/PID/maps says about a mapping beyond struct target_mapping. */
struct live_mapinfo {
	uint64_t inode;
	bool deleted;                /* the path carried " (deleted)" */
	bool rerooted;               /* the path lost the process's root prefix (live_ns_reroot()) */
};

struct live_page_list {
	uint64_t *pages;             /* LIVE_PREFETCH_MAX entries */
	uint8_t *ages;               /* rounds since each page was last read */
	size_t count;
};

struct live_page_cache {
	uint8_t *pages;              /* LIVE_CACHE_SLOTS pages */
	uint64_t *tags;              /* page address held by each slot */
	uint32_t *gens;              /* a slot is valid when its gen == gen */
	bool *unused;                /* prefetched and not read yet this phase */
	uint32_t gen;
	/* A round has two phases in freeze mode: the pause, then the decoding
	 * after it (code objects, names). The first read of each phase fetches
	 * the pages the same phase read in the last LIVE_PAGE_ROUNDS rounds,
	 * all in one syscall: a steady-state sample reads the same pages again
	 * (of whichever thread runs: the GIL moves between them), and the
	 * pause fetches only what the pause needs. A rehearsal shortens the
	 * first phase's memory: its list replaces the older rounds', so the
	 * next rehearsal fetches what this rehearsal and pause read. (Keeping
	 * the older rounds saved two syscalls a sample on 4 threads taking
	 * turns and no CPU time: the extra pages cost as much to copy.) */
	struct live_page_list touched[2], previous[2];
	int phase;
	bool prefetch_pending;
	/* Pages of read-only file mappings (machine code, constants), which do
	 * not change between rounds: kept, direct-mapped, until the mappings
	 * are read again. A tag is the page number plus one; 0 is empty. */
	uint8_t *fixed_pages;
	uint64_t *fixed_tags;
};

struct live_backend {
	pid_t pid;
	bool freeze;                 /* threads are seized */
	bool run_states;             /* read every thread's run state at each sync */
	bool only_running;           /* freezes leave threads asleep in the kernel alone */
	bool hold_unstopped;         /* freezes hold threads slow to stop instead of waiting */
	double synced_at;            /* time of the last thread listing */
	bool frozen;
	bool rehearsing;             /* prepared for a freeze: the walk now read is its rehearsal */
	bool stopped_any;            /* this freeze has interrupted a thread */
	double stopped_at;           /* time of the first interrupt of this freeze */
	double last_pause;           /* seconds between the last freeze's first interrupt and its last resume */
	double resume_cost;          /* seconds the last unpreempted resume call took */
	pid_t resume_last;           /* let this thread go last when the freeze ends, or 0 */
	bool is_parent;              /* we are the target's parent: its exit status is not ours to reap */
	bool has_end_status;         /* END_STATUS is the group leader's wait status */
	int end_status;
	bool hold_crashes;           /* keep fatal signals for a crash capture */
	pid_t crash_tid;             /* the first thread holding one, or 0 */
	size_t crash_siginfo_len;
	uint8_t crash_siginfo[TARGET_SIGINFO_SIZE];
	int task_dir_fd;             /* /proc/PID/task, kept open to relist quickly */
	int mem_fd;                  /* /proc/PID/mem once needed, else -1 */
	bool mem_fallback;           /* process_vm_readv is unusable here */
	/* Tasks, sorted by tid except while frozen. The array is replaced, never
	 * reallocated in place, so that live_detach() in a signal
	 * handler always sees a valid one. */
	struct live_task *volatile tasks;
	volatile size_t ntasks;
	size_t nsorted;              /* the first NSORTED tasks are in tid order */
	size_t tasks_cap;
	struct live_task *bufs[2];   /* tasks is one of them; the other is rebuilt */
	int cur;                     /* index of tasks in bufs */
	/* Threads that vanished under a ptrace request (exiting, most likely)
	 * and whose exit we have not reaped: a traced thread stays a zombie
	 * until its tracer reaps it, and its process cannot be reaped before. */
	pid_t to_reap[LIVE_REAP_MAX];
	size_t nto_reap;
	pid_t *listing;              /* scratch for listing /proc/PID/task */
	size_t listing_cap;
	size_t open_stat_fds;
	struct live_mapinfo *mapinfo; /* parallel to target->mappings */
	/* The process's root as our /proc shows it, when it is a directory
	 * (a chroot) that the paths in its maps start with; else NULL. */
	char *root_prefix;
	size_t ns_tids_cap;          /* room in target->ns_tids */
	double maps_read_at;
	bool maps_stale;
	struct live_page_cache cache;
};

/* live_proc.c: /proc readers. They return 0 or -ERR_x with context. */
int live_proc_read_file(pid_t pid, const char *name, char **out, size_t *len);
int live_proc_executable(pid_t pid, char **out);
int live_proc_auxv(pid_t pid, uint64_t **out, size_t *words);
int live_proc_maps(pid_t pid, struct target_mapping **out, struct live_mapinfo **info, size_t *count);
/* The parent and thread-group ids of PID from /proc/PID/status. */
int live_proc_ids(pid_t pid, pid_t *ppid, pid_t *tgid, pid_t *tracer);
/* List the thread ids in DIR_FD (/proc/PID/task) into TIDS (capacity CAP);
 * *COUNT gets how many there are, which may exceed CAP. No allocation. */
int live_proc_list_tasks(int dir_fd, pid_t *tids, size_t cap, size_t *count);
/* The run state letter of TID from its stat file (kept open in *FD when
 * KEEP, else opened and closed), or 0 when unreadable; NAME (16 bytes) gets
 * the thread's comm, *CPU the CPU it last ran on (-1: unknown). */
char live_proc_task_state(pid_t pid, pid_t tid, int *fd, bool keep, char name[16], int *cpu);
/* How much TID has run, from its schedstat file (kept open in *FD when
 * KEEP, else opened and closed). Errors: -ERR_NO_PROCESS when it ended,
 * -ERR_IO when the file is missing or unreadable. No allocation. */
/* live.c: the task of thread TID, or NULL. */
struct live_task *live_find_task(struct live_backend *b, pid_t tid);
int live_proc_task_runtime(pid_t pid, pid_t tid, int *fd, bool keep, struct target_runtime *out);
int live_proc_task_syscall(pid_t pid, pid_t tid, struct target_syscall *out);

/* live_ns.c: a process in other namespaces than ours. */
/* Its id in its own PID namespace (t->ns_pid) and its root (t->root,
 * b->root_prefix), read once at open. Errors: live_proc_read_file()'s,
 * -ERR_NOMEM. */
int live_ns_open(struct target *t, struct live_backend *b);
/* Thread TID's id in the process's PID namespace, from its NSpid; 0 when
 * unreadable or when the namespace is ours. */
pid_t live_ns_task_id(const struct live_backend *b, pid_t tid);
/* Make PATH (from /proc/PID/maps or exe) the process's own by cutting
 * b->root_prefix off its start; whether it did. */
bool live_ns_reroot(const struct live_backend *b, char *path);
/* Rebuild t->ns_tids from the task table (nothing when t->ns_pid is 0).
 * Allocates: not in a pause. Errors: -ERR_NOMEM. */
int live_ns_index(struct target *t, struct live_backend *b);

/* live_ptrace.c */
/* Seize TASK; -ERR_PERM (with hint) or -ERR_NO_PROCESS when it is gone. */
int live_seize(struct live_backend *b, struct live_task *task);
/* Collect reports that arrived while the threads ran (signals to pass on,
 * stops after SIGCONT) so that no thread waits for us between samples. */
void live_reap_reports(struct live_backend *b);
/* Let a stopped TASK go on with its pending signal (live_ptrace.c). */
void live_let_task_go(struct live_backend *b, struct live_task *task);

/* live_crash.c: fatal signals held (target.h, "Crashes"). Only syscalls:
 * they run while waiting for stops, also from signal handlers. */
/* Whether SIG, about to be delivered to TID, would end the process: one of
 * the crash signals with its default action. */
bool live_crash_fatal(const struct live_backend *b, pid_t tid, int sig);
/* Keep TASK, in a signal-delivery-stop for SIG, stopped with it. */
void live_crash_hold(struct live_backend *b, struct live_task *task, int sig);
void live_hold_crashes(struct target *t, bool hold);
bool live_crash_held(struct target *t);
void live_release_crash(struct target *t);
bool live_end_status(const struct target *t, int *status);

/* live.c: read /proc/PID/maps again when it may have changed (a read fell
 * outside them) or was read over a second ago. */
int live_refresh_maps(struct target *t, struct live_backend *b);
/* target_ops.load_regs: read a stopped thread's registers on demand. */
void live_load_regs(struct target *t, struct target_thread *th);
/* The live control members of target_ops (contracts in target.h, at the
 * target_*() function of the same name). */
int live_prepare_freeze(struct target *t);
int live_freeze(struct target *t);
int live_resume(struct target *t);
int live_stop_thread(struct target *t, pid_t tid);
void live_resume_last(struct target *t, pid_t tid);
double live_last_pause(const struct target *t);
void live_detach(struct target *t);

/* live_mem.c */
int live_mem_read(struct target *t, uint64_t addr, void *buf, size_t len);
int live_mem_read_ranges(struct target *t, const struct target_range *ranges, size_t n, uint8_t *out);
int live_cache_init(struct live_page_cache *cache);
void live_cache_release(struct live_page_cache *cache);
void live_cache_clear(struct live_page_cache *cache);
/* A new round after a rehearsal (a walk of the running process just
 * before the pause): the pause fetches just the pages the rehearsal read,
 * not those of earlier rounds. */
void live_cache_after_rehearsal(struct live_page_cache *cache);
/* The pause of this round is over: what is read from now on belongs to the
 * decoding phase (pages stay valid). */
void live_cache_after_pause(struct live_page_cache *cache);
/* The pages read from now on, not those read so far this phase, are the
 * ones the next round fetches ahead. */
void live_cache_restart_touched(struct live_page_cache *cache);
/* Forget the pages kept across rounds too: the mappings changed. */
void live_cache_forget_fixed(struct live_page_cache *cache);
/* Read the previous round's pages once and throw the bytes away, while the
 * process still runs: after the sleep between samples the caches on the
 * way are cold, and the same read inside the pause then takes a third of
 * the time it would take cold. */
void live_cache_warm(struct live_backend *b);

/* live.c */
/* Bring the task table in line with /proc/PID/task: add new threads
 * (seizing them in freeze mode), drop those that ended, and read every
 * thread's run state. */
int live_sync_tasks(struct target *t, struct live_backend *b);
/* Make room for N tasks (outside the pause: may allocate). */
int live_tasks_reserve(struct target *t, struct live_backend *b, size_t n);
/* Copy the task table into t->threads. */
void live_publish_threads(struct target *t, struct live_backend *b);
/* live_perm.c: the hint of a permission error about PID, naming what is
 * missing (CAP_SYS_PTRACE and why, Yama's ptrace_scope when ATTACH, which
 * Yama alone restricts). Leaves the error itself as it is. */
void live_perm_hint(pid_t pid, bool attach);
/* The general advice, when nothing is known of the process. */
void live_perm_hint_general(void);

#endif
