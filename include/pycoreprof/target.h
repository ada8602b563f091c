/* Target layer: where a process's memory, threads and mapped files come
 * from. One interface (struct target_ops), several backends: ELF cores and
 * snapshots (core*.c), live processes (live*.c) and the recording target
 * that wraps another (recording.c). Layers above read and control targets
 * through this interface only and never know which backend they talk to. */
#ifndef PYCOREPROF_TARGET_H
#define PYCOREPROF_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

/* x86_64 general registers in the order of the kernel's user_regs_struct
 * (which is also the order of elf_gregset_t in NT_PRSTATUS). */
enum target_reg {
	TREG_R15, TREG_R14, TREG_R13, TREG_R12, TREG_RBP, TREG_RBX, TREG_R11, TREG_R10,
	TREG_R9, TREG_R8, TREG_RAX, TREG_RCX, TREG_RDX, TREG_RSI, TREG_RDI,
	TREG_ORIG_RAX, TREG_RIP, TREG_CS, TREG_EFLAGS, TREG_RSP, TREG_SS,
	TREG_FS_BASE, TREG_GS_BASE, TREG_DS, TREG_ES, TREG_FS, TREG_GS,
	TREG__COUNT
};

struct target_thread {
	pid_t tid;
	/* The id the process itself knows the thread by: in its own PID
	 * namespace (a container), else TID; 0 when unknown. */
	pid_t ns_tid;
	bool has_regs;
	/* Stopped, but the registers are read only when asked for: callers that
	 * use REGS go through target_thread_regs(). */
	bool regs_pending;
	/* Live and frozen: interrupted but not stopped yet (waiting for a CPU,
	 * or in the kernel), so it runs none of its own code until the freeze
	 * ends; its memory reads as stopped, but it has no registers. */
	bool held;
	uint64_t regs[TREG__COUNT];
	/* OS run state letter from /proc (R, S, D, T, t, Z...), 0 if unknown
	 * (cores have none). */
	char state;
	/* Signal current for this thread when the core was written (pr_cursig),
	 * 0 if none. */
	int cursig;
	/* The thread's name (comm) where the backend knows it, else "". */
	char name[16];
};

/* How much a thread has run so far (live processes, from
 * /proc/PID/task/TID/schedstat): while both stay the same, the thread has
 * not been on a CPU (docs/record.md, "Which threads a freeze stops"). */
struct target_runtime {
	uint64_t run_ns;        /* time spent on a CPU, in nanoseconds */
	uint64_t switches;      /* times it was put on a CPU */
};

/* Where a thread not stopped waits, from /proc/PID/task/TID/syscall: the
 * system call it is in (-1: blocked outside one), its stack pointer and
 * instruction pointer; or RUNNING, and nothing else known. */
struct target_syscall {
	bool running;
	int64_t nr;
	uint64_t sp, pc;
};

struct target_mapping {
	uint64_t start, end;    /* [start, end) in the target's address space */
	uint64_t file_offset;   /* offset of `start` in the file, in bytes */
	bool readable, writable, executable;
	char *path;             /* file behind it as the target named it; NULL when anonymous */
};

/* Where a fatal signal came from, by its si_code. */
enum signal_origin {
	SIGNAL_UNKNOWN,         /* no siginfo (only pr_cursig): the code is not known */
	SIGNAL_FAULT,           /* si_code > 0 on SIGSEGV, SIGBUS, SIGILL, SIGFPE: a fault at ADDRESS */
	SIGNAL_KERNEL,          /* any other si_code > 0 (SI_KERNEL included): the kernel's own */
	SIGNAL_SELF,            /* kill/tgkill/sigqueue by the process itself (abort, raise) */
	SIGNAL_PROCESS,         /* kill/tgkill/sigqueue by another process: SENDER_PID, SENDER_UID */
	SIGNAL_OTHER,           /* si_code <= 0 without a sender (timers, message queues, AIO) */
};

/* Bytes of a siginfo_t (the kernel's, and NT_SIGINFO's). */
#define TARGET_SIGINFO_SIZE 128

/* The signal that ended a core's process (from NT_SIGINFO, else pr_cursig),
 * or that a live process is about to die of (target_crash_held()). */
struct target_signal {
	int number;
	int code;
	enum signal_origin origin;
	uint64_t address;       /* si_addr for faults, 0 otherwise */
	bool has_address;       /* ORIGIN is SIGNAL_FAULT */
	bool has_sender;        /* ORIGIN is SIGNAL_SELF or SIGNAL_PROCESS */
	pid_t sender_pid;       /* si_pid, in the process's own pid namespace */
	uid_t sender_uid;       /* si_uid */
	pid_t tid;              /* thread that received it */
	/* The siginfo_t as the kernel gave it (NT_SIGINFO of a core, or read
	 * at a live process's fatal signal), its first SIGINFO_LEN bytes; 0
	 * when only pr_cursig told the signal. */
	size_t siginfo_len;
	uint8_t siginfo[TARGET_SIGINFO_SIZE];
};

enum target_kind { TARGET_CORE, TARGET_LIVE, TARGET_SNAPSHOT };

/* A thread of a process in another PID namespace: its id there, and ours. */
struct target_ns_tid {
	pid_t ns_tid;
	pid_t tid;
};

struct target;

/* A span of the target's memory. */
struct target_range {
	uint64_t addr;
	size_t len;
};

/* How a freeze of a live target treats its threads; the collect layer
 * decides, the target carries it out. */
struct freeze_policy {
	/* Read every thread's run state at each refresh and freeze. Samplers
	 * that judge idleness by registers, or keep idle threads, leave it
	 * off: it is a read per thread per sample. */
	bool run_states;
	/* Stop only the threads that may be running (run state R or D, read
	 * just before the pause); implies run_states. A thread asleep in the
	 * kernel cannot change its stack until it wakes, and one that wakes
	 * during the read must first take the GIL, which its stopped holder
	 * keeps; stopping it would wake it only to put it back to sleep. A
	 * thread left asleep has no registers and counts as waiting
	 * (target_thread_waiting()); target_stop_thread() stops it when it is
	 * needed after all. The freeze then also leaves the registers of the
	 * threads it stops unread until target_thread_regs() asks. */
	bool only_running;
	/* Hold a thread slow to stop instead of waiting for it. An interrupted
	 * thread cannot run code of its own again before it stops: once the
	 * interrupt has had time to reach a thread on a CPU, one still not
	 * stopped is off every CPU or in the kernel, and may stay so for
	 * milliseconds while the stopped threads wait with it. Held, it reads
	 * as stopped but has no registers; it is let go once it stops
	 * (target_answer_reports()). For walks that need no registers. */
	bool hold_unstopped;
};

/* What a backend implements, member by member. Memory reads are
 * all-or-nothing: a short read is an error (-ERR_UNMAPPED or
 * -ERR_PROCESS_GONE), never silent zeros. Members a backend cannot do are
 * NULL; the target_*() functions below then do what a process that cannot
 * change needs: nothing, successfully. */
struct target_ops {
	int (*read)(struct target *t, uint64_t addr, void *buf, size_t len);
	/* Read the N ranges RANGES (sorted, disjoint) into OUT, one after the
	 * other, in as few system calls as the backend can, bypassing any
	 * cache (what the process holds now). May be NULL:
	 * target_read_ranges() then reads them one by one. */
	int (*read_ranges)(struct target *t, const struct target_range *ranges, size_t n, uint8_t *out);
	/* Open the file behind MAPPING for reading (the executable, libraries),
	 * resolved the backend's way (core: recorded path, build-id, search
	 * path; live: /proc/PID/root). Returns an fd the caller closes, or a
	 * negative error. May be NULL when files are unavailable. */
	int (*open_mapped_file)(struct target *t, const struct target_mapping *m,
	                        char **resolved_path);
	/* Release the backend's state; detaches a live process first. */
	void (*destroy)(struct target *t);
	/* Read the registers of TH, a thread with regs_pending. May be NULL. */
	void (*load_regs)(struct target *t, struct target_thread *th);

	/* Live control (NULL for cores and snapshots). Each is documented at
	 * its target_*() function below. */
	int (*prepare_freeze)(struct target *t);
	int (*freeze)(struct target *t);
	int (*resume)(struct target *t);
	int (*refresh)(struct target *t);
	int (*stop_thread)(struct target *t, pid_t tid);
	void (*resume_last)(struct target *t, pid_t tid);
	void (*set_freeze_policy)(struct target *t, const struct freeze_policy *policy);
	void (*forget_pages)(struct target *t);
	void (*prefetch_from_here)(struct target *t);
	void (*answer_reports)(struct target *t);
	double (*last_pause)(const struct target *t);
	int (*thread_runtime)(struct target *t, pid_t tid, struct target_runtime *out);
	int (*thread_syscall)(struct target *t, pid_t tid, struct target_syscall *out);
	/* Async-signal-safe: it runs in signal handlers (targets/guard.c). */
	void (*detach)(struct target *t);
	/* Fatal signals held for a crash capture (live targets). */
	void (*hold_crashes)(struct target *t, bool hold);
	bool (*crash_held)(struct target *t);
	void (*release_crash)(struct target *t);
	bool (*end_status)(const struct target *t, int *status);
};

/* Common state filled by the backend. The target owns everything here;
 * pointers stay valid until target_free(), except that for live targets
 * target_freeze(), target_refresh() and target_stop_thread() rewrite
 * `threads` and refresh may replace `mappings`. `kind` names the backend
 * for people (target_kind_name()); code never branches on it outside the
 * targets layer: what a target can do is in its ops. */
struct target {
	const struct target_ops *ops;
	enum target_kind kind;
	pid_t pid;
	char *command;          /* command line, arguments separated by spaces */
	char *executable;       /* path of the main executable, NULL if unknown */
	struct target_thread *threads;
	size_t nthreads;
	bool threads_sorted;     /* THREADS in ascending tid order */
	struct target_mapping *mappings; /* sorted by start, non-overlapping */
	size_t nmappings;
	uint64_t mappings_generation;    /* changes whenever MAPPINGS is read anew */
	bool has_signal;
	struct target_signal signal;
	uint64_t *auxv;         /* pairs of (type, value) */
	size_t auxv_words;
	char *search_path;      /* colon-separated directories, may be NULL */
	/* Where the paths the process names (its mappings, its code objects'
	 * files) are found when its root is not ours: a live process in a
	 * container or a chroot, /proc/PID/root; a core, --sysroot DIR. NULL:
	 * our own root. */
	char *root;
	/* A process in another PID namespace than ours (a container) knows
	 * itself and its threads by other ids than we do: NS_PID is its own id
	 * there (0 when it shares our namespace: its ids are ours), NS_TIDS its
	 * threads' ids there with ours, sorted by ns_tid, for
	 * target_tid_from_ns(). Threads too new to be listed are missing. */
	pid_t ns_pid;
	struct target_ns_tid *ns_tids;
	size_t n_ns_tids;
	uint64_t capture_ns;    /* snapshots: when taken (CLOCK_REALTIME), else 0 */
	/* Snapshots: the interpreter as the capture found it, so that it is
	 * found again without the binaries; version_hex 0 when unknown. */
	struct {
		uint32_t version_hex;
		uint64_t runtime_addr, interp_head_addr;
	} python_seen;
	/* Cores and snapshots: the user and group ids NT_PRPSINFO records
	 * (pr_uid, pr_gid); a core holds no supplementary groups. Live
	 * targets read theirs from /proc when asked (target_file_ids()). */
	bool has_ids;
	uid_t uid;
	gid_t gid;
	void *backend;          /* the backend's own state */
};

/* Options for opening a core. */
struct core_open_options {
	const char *exe_path;    /* --exe: overrides the core's record */
	const char *search_path; /* --search-path DIR[:DIR] */
	/* --sysroot DIR: the root the process's paths are under (a container's
	 * files, unpacked): its files are looked for there first. */
	const char *sysroot;
};

/* Open an ELF core file (plain, or compressed with gzip, zstd, xz or lz4,
 * known by its first bytes). On success *OUT owns the core's mapping; free
 * it with target_free(). Errors: -ERR_NOENT,
 * -ERR_PERM, -ERR_NOT_ELF, -ERR_NOT_CORE, -ERR_TRUNCATED, -ERR_DECOMPRESS,
 * -ERR_CORRUPT, each with context. */
int core_target_open(const char *path, const struct core_open_options *opts,
                     struct target **out);

/* Options for attaching to a running process. */
struct live_open_options {
	/* Attach with PTRACE_SEIZE so that target_freeze() can stop every
	 * thread; false reads without ever stopping the process. */
	bool freeze;
	/* How freezes treat threads; NULL: run states read, every thread
	 * stopped, none held. target_set_freeze_policy() changes it later. */
	const struct freeze_policy *policy;
};

/* Open the running process PID: its threads (/proc/PID/task, with their run
 * state), mappings (/proc/PID/maps), command line, executable and auxv. With
 * opts->freeze it attaches every thread with PTRACE_SEIZE (never
 * PTRACE_ATTACH, so a profiler that dies leaves the process running).
 * Errors: -ERR_NO_PROCESS, -ERR_PERM (with a hint about root,
 * CAP_SYS_PTRACE, ptrace_scope and containers' --cap-add SYS_PTRACE). */
int live_target_open(pid_t pid, const struct live_open_options *opts, struct target **out);
/* Start COMMAND (argv, NULL-terminated; PATH searched) as our child with
 * default signal actions and return once it has exec'd: *PID is the child.
 * We become a child subreaper first (PR_SET_CHILD_SUBREAPER): whatever the
 * command starts stays below us when its parent ends, for
 * live_signal_launched() to reach and live_reap_launched() to reap.
 * Errors: -ERR_NOENT when it could not be run (*PID then 0), -ERR_IO. */
int live_launch(char **command, pid_t *pid);
/* Send SIG to every process below us that has not ended: the launched
 * command and all that it started. Returns how many were sent it. */
size_t live_signal_launched(int sig);
/* After target_detach() on every process: reap whatever of ours ends (ROOT's
 * wait status in *ROOT_STATUS when ROOT is reaped), letting go of any thread
 * still traced that stops, until nothing is left below us (true), or until
 * DEADLINE (time_now() seconds) or *STOP (false). */
bool live_reap_launched(pid_t root, double deadline, volatile sig_atomic_t *stop, int *root_status);

/* Live control. On targets that cannot change (cores, snapshots) each does
 * nothing and returns 0 (last_pause: 0). */

/* Stop every thread (PTRACE_INTERRUPT; only those that may run under the
 * policy's only_running), attach threads that appeared since the last call,
 * drop those that ended, and read each thread's registers. Memory reads are
 * consistent until target_resume(). While waiting for the stops it blocks
 * SIGCHLD in the calling thread and may consume a pending one (it is raised
 * again when the caller has a handler for it). Errors: -ERR_PROCESS_GONE
 * when every thread has exited; -ERR_USAGE when opened without freeze. */
int target_freeze(struct target *t);
/* The part of target_freeze() that needs no stop (thread list, run states,
 * mappings), done now so that a walk can rehearse the one the pause is for:
 * on the running process, its result thrown away. The walk in the pause then
 * finds every cache it uses warm, and target_freeze() fetches in one read
 * just the pages the rehearsal read. */
int target_prepare_freeze(struct target *t);
/* Let every thread run again. Safe to call when not frozen. */
int target_resume(struct target *t);
/* Nonblocking mode and between samples: re-read the thread list and run
 * states (and mappings when they changed), and forget cached pages. Keeps
 * everything while frozen (memory cannot change). */
int target_refresh(struct target *t);
/* While frozen, stop thread TID too when the freeze left it running, and
 * read its registers. The thread table may be rewritten: look threads up
 * again afterwards. Errors: -ERR_NO_PROCESS when TID is not a thread of
 * ours or ended, -ERR_USAGE when not frozen. */
int target_stop_thread(struct target *t, pid_t tid);
/* Let thread TID go last when the freeze ends (0: no preference): the GIL
 * holder. A thread let go may take this CPU before the rest are let go; the
 * holder would keep it for a time slice, any other thread gives it back at
 * once (waiting for the GIL) or runs code that does not need the GIL and
 * should not wait. Applies to the next resume only. */
void target_resume_last(struct target *t, pid_t tid);
/* Change how the next freezes treat threads (struct freeze_policy). */
void target_set_freeze_policy(struct target *t, const struct freeze_policy *policy);
/* Forget every cached page, so the next reads fetch the memory anew. */
void target_forget_pages(struct target *t);
/* Read N ranges (struct target_ops.read_ranges), all or nothing. */
int target_read_ranges(struct target *t, const struct target_range *ranges, size_t n, uint8_t *out);
/* In the read before a freeze (target_prepare_freeze()): what is read from
 * now on, not what was read so far, is what the freeze fetches ahead. For
 * reads the freeze will not repeat (thread states of threads left asleep). */
void target_prefetch_from_here(struct target *t);
/* Between freezes: answer at once what the threads reported since the last
 * look (a signal on its way to a thread, which waits in a stop until we pass
 * it on; a held thread's stop; a stop after SIGCONT), so that none waits for
 * the next sample. Each report comes with a SIGCHLD to us. */
void target_answer_reports(struct target *t);
/* How long the last freeze kept the process stopped: from the first thread
 * interrupted to the last one let go, in seconds; 0 when it stopped none. */
double target_last_pause(const struct target *t);
/* Read now how much thread TID has run (struct target_runtime): one read
 * of a file kept open, no stop. Errors: -ERR_NO_PROCESS when TID is not a
 * thread of ours or ended, -ERR_USAGE when the target cannot tell (cores,
 * snapshots). */
int target_thread_runtime(struct target *t, pid_t tid, struct target_runtime *out);
/* Read now where thread TID, not stopped, waits (struct target_syscall).
 * Errors: -ERR_NO_PROCESS when it ended or is not ours, -ERR_USAGE when the
 * target cannot tell. */
int target_thread_syscall(struct target *t, pid_t tid, struct target_syscall *out);
/* Resume and detach every thread now; the process runs on untraced. Called
 * by target_free() and by the signal guard. Async-signal-safe; T may be
 * NULL. */
void target_detach(struct target *t);

/* Crashes (targets/live_crash.c). A seized thread about to receive a
 * signal waits in a stop until we pass it on; target_answer_reports() and
 * every freeze pass each on at once. With crash holding on, a fatal one is
 * kept instead: SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT or SIGSYS whose
 * action in the process is the default one (not caught, not ignored, by
 * /proc/PID/status), which would end the process. Its thread stays stopped,
 * the signal undelivered, through freezes and resumes, while the other
 * threads run on, until target_release_crash() delivers it unchanged. A
 * signal the process handles itself goes on at once like any other (its
 * handler may raise it again with the default action: that one is held).
 * Detaching, on any path, delivers a held signal too. Only a caller that
 * looks (target_crash_held()) after each freeze and each
 * target_answer_reports() turns holding on. Nothing happens on targets
 * that cannot change. */
void target_hold_crashes(struct target *t, bool hold);
/* Whether a thread holds a fatal signal now. When one does, t->has_signal
 * and t->signal say which (number, siginfo, origin, thread) and the
 * thread's cursig is set; the first one held is told when several are. */
bool target_crash_held(struct target *t);
/* Deliver every held signal unchanged: at once when not frozen, else when
 * the freeze ends. The process then dies as it would have without us
 * (its core written by the kernel when its limits say so). t->signal stays. */
void target_release_crash(struct target *t);

/* How a live process we traced ended: its wait status (WIFEXITED,
 * WIFSIGNALED...) as its main thread's end was reported to us, when it
 * was; false when not known (not ended, not seen, or a target that cannot
 * tell). Meaningful once the process is gone and target_detach() has
 * reaped what it could. */
bool target_end_status(const struct target *t, int *status);

/* The signal guard (targets/guard.c): the one policy that a process we
 * attached to always runs on, whatever ends us. Commands that attach
 * install it once; every attached target is added to it and removed before
 * it is freed. SIGINT, SIGTERM, SIGHUP and SIGQUIT then either end us at
 * once, after detaching every target added (GUARD_DIE), or, with
 * GUARD_STOP_FIRST, ask the command to stop (guard_stop_signal() turns
 * non-zero) and end us like GUARD_DIE only if one comes again. */
enum guard_mode { GUARD_DIE, GUARD_STOP_FIRST };
void guard_install(enum guard_mode mode);
/* Restore the signal actions guard_install() replaced. */
void guard_uninstall(void);
/* Errors: -ERR_NOMEM when GUARD_MAX_TARGETS are added already. */
#define GUARD_MAX_TARGETS 256
int guard_add(struct target *t);
void guard_remove(struct target *t);
/* The first stop signal received (GUARD_STOP_FIRST), else 0. The flag
 * itself, for loops that sleep on it. */
extern volatile sig_atomic_t guard_stop_requested;
static inline int guard_stop_signal(void)
{
	return guard_stop_requested;
}
/* Take the next stop signal as a new request, not as the second one. */
void guard_stop_clear(void);

/* The whole command line (arguments joined by spaces), read from the
 * process's initial stack; *COMMAND is the caller's. Errors when the stack
 * is not in the target. */
int target_read_argv(struct target *t, char **command);
/* Read the dynamic linker's list of loaded objects (targets/link_map.c:
 * the executable's DT_DEBUG -> r_debug -> every link_map entry, its name and
 * dynamic section) through T, for a recording target to keep: gdb finds a
 * core's shared libraries through that list, not through NT_FILE. Nothing is
 * returned; a read that fails ends the walk there. */
void target_read_link_map(struct target *t);

/* Process trees (targets/live_tree.c), read from /proc. */

/* A process as /proc/PID/stat has it now. */
struct live_proc {
	pid_t pid;
	pid_t parent;
	char state;              /* 'R', 'S', 'D', 'T', 'Z' (ended, not reaped)... */
	uint64_t start_time;     /* clock ticks after boot: with PID, which process */
};
/* Read PID's entry. Errors: -ERR_NO_PROCESS, -ERR_CORRUPT. */
int live_proc_read(pid_t pid, struct live_proc *out);
/* Whether STATE is that of a process that has ended (a zombie). */
bool live_proc_ended(char state);
/* What a process runs: its executable's device and inode, which an exec
 * changes; zeros when they cannot be read. */
struct live_image {
	uint64_t dev, ino;
};
void live_proc_image(pid_t pid, struct live_image *out);
/* PID's command line, arguments joined by spaces ("[name]" when it has
 * none). *OUT is the caller's. Errors: -ERR_PROCESS_GONE, -ERR_PERM... */
int live_proc_command(pid_t pid, char **out);
/* Every process below ROOT now (its children, theirs...), breadth first,
 * zombies included; a process may be missed while it forks. *OUT is the
 * caller's to free. Errors: -ERR_NOMEM, -ERR_IO. */
int live_list_descendants(pid_t root, struct live_proc **out, size_t *count);

/* Recording (targets/recording.c): a target that reads through INNER (which
 * must outlive it) and keeps a copy of every page read. Its thread, mapping
 * and auxv tables are INNER's, shared. Live control is forwarded to INNER,
 * and the shared tables are taken again after any call that rewrites them;
 * recording_target_sync() does that for changes made to INNER directly. A
 * new round marks every kept page stale: it is read again on next use or by
 * refresh. Freeing it leaves INNER attached. */
struct recorded_page {
	uint64_t addr;          /* page-aligned; 4 KiB of DATA */
	uint8_t *data;          /* owned by the recording target */
	uint64_t touched;       /* bit i: bytes [64 i, 64 i + 64) were read, in any round */
	uint32_t round;
};
#define RECORDED_BLOCK 64u
int recording_target_new(struct target *inner, struct target **out);
void recording_target_sync(struct target *t);
void recording_target_new_round(struct target *t);
/* Re-read every stale page now (pages that vanished are dropped). */
int recording_target_refresh(struct target *t);
/* Whether every block read this round still holds what was read: the
 * pages are read again from the inner target (struct
 * target_ops.read_ranges) and compared. *SAME false also when a page cannot
 * be read now. A walk that read only through T, repeated now, would read
 * the same bytes: its result stands. Errors: -ERR_NOMEM. */
int recording_target_unchanged(struct target *t, bool *same);
/* What recording_target_unchanged() needs, made now (before a freeze):
 * the list of this round's pages and the memory they are read into.
 * Errors: -ERR_NOMEM. */
int recording_target_prepare_check(struct target *t);
/* Read PAGES pages (0 or 1: none) from a missing one on, in one read of
 * the inner target: for walks that read much of a heap, through a target
 * where a read costs a system call. Errors: -ERR_NOMEM. */
int recording_target_readahead(struct target *t, unsigned pages);
/* The pages read this round, sorted by address; the array is the caller's
 * to free, the data stays the target's. */
int recording_target_pages(struct target *t, struct recorded_page **pages, size_t *count);

/* Snapshots (targets/snap_*.c, docs/snapshot-format.md): an ELF core file
 * built from a target's threads, mappings and auxv plus chosen memory. */
struct strbuf;
struct snap_region {
	uint64_t addr;
	uint64_t len;
	const uint8_t *data;    /* borrowed */
};
struct snap_build_id {
	const char *path;       /* borrowed */
	uint8_t id[64];
	size_t len;
};
struct snap_info {
	uint64_t capture_ns;    /* CLOCK_REALTIME */
	uint64_t interval_ns;   /* periodic capture, else 0 */
	uint32_t py_version_hex;
	const char *py_version;
	uint64_t runtime_addr, interp_head_addr;
	const struct snap_build_id *build_ids;
	size_t nbuild_ids;
	const char *command;    /* the whole command line, or NULL */
	/* Threads the freeze left asleep, not stopped: their registers are
	 * those known without a stop (rsp, rip, orig_rax; fs_base before
	 * Python 3.11, from the thread state), the others zero. */
	const struct target_thread *asleep;
	size_t nasleep;
};
/* The name and type of the pycoreprof note. */
#define SNAP_NOTE_NAME "PYCOREPROF"
#define SNAP_NOTE_TYPE 0x50435046u   /* "PCPF" */
#define SNAP_FORMAT_VERSION 1u
/* Append to OUT an ELF core of T's threads (registers), process info, auxv
 * and file mappings, the pycoreprof note and REGIONS (sorted, disjoint;
 * adjacent ones become one PT_LOAD). Errors: -ERR_NOMEM. */
int snapshot_build(const struct target *t, const struct snap_region *regions, size_t nregions,
                   const struct snap_info *info, struct strbuf *out);
/* Gzip-compress LEN bytes of DATA into OUT. Errors: -ERR_NOMEM, -ERR_IO. */
int snapshot_gzip(const void *data, size_t len, struct strbuf *out);

/* Files opened with the target's rights (targets/source_open.c), so that
 * showing what a file holds (a source line under a frame) never shows what
 * the target itself could not read. */
struct target_file_ids {
	uid_t uid;              /* live: the fsuid, the id the process opens files with */
	gid_t gid;              /* live: the fsgid */
	gid_t *groups;          /* supplementary groups; none for cores */
	size_t ngroups;
};
/* The ids T opens files with: a live process's now (/proc/PID/status), a
 * core's as recorded. *IDS is the caller's to release with
 * target_file_ids_release(). Errors: -ERR_NOENT when the core records none,
 * -ERR_PROCESS_GONE, -ERR_CORRUPT, -ERR_NOMEM. */
int target_file_ids(const struct target *t, struct target_file_ids *ids);
void target_file_ids_release(struct target_file_ids *ids);
/* Open PATH (absolute, as the target named it) for reading with T's
 * rights: a live process's file through its root (/proc/PID/root) with its
 * fsuid, fsgid and groups; a core's with its recorded uid and gid. When our
 * ids are the target's, we open it ourselves. Otherwise a short-lived child
 * takes the target's ids, opens the file and passes the descriptor back;
 * a child that cannot take them (we are not root) drops every capability
 * and opens with our own ids, so it opens nothing the user running us could
 * not. Only regular files open. Returns an fd the caller closes. Errors:
 * -ERR_PERM (not readable with those rights, or the ids are unknown and we
 * are root), -ERR_NOENT, -ERR_IO. */
int target_open_source(struct target *t, const char *path);

/* Detach (live targets) and free T and everything it owns; NULL is fine. */
void target_free(struct target *t);
/* "live", "core" or "snapshot": the backend, named for people. */
const char *target_kind_name(const struct target *t);

/* -ERR_UNMAPPED for a range that wraps around the address space, with
 * context: the one check every backend's read relies on. */
int target_range_wraps(uint64_t addr, size_t len);
/* Read exactly LEN bytes at ADDR. Backends see only ranges that do not
 * wrap around. */
static inline int target_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	if (len && addr + (len - 1) < addr)
		return target_range_wraps(addr, len);
	return t->ops->read(t, addr, buf, len);
}
int target_read_u64(struct target *t, uint64_t addr, uint64_t *out);
int target_read_u32(struct target *t, uint64_t addr, uint32_t *out);
int target_read_i32(struct target *t, uint64_t addr, int32_t *out);

/* The mapping containing ADDR, or NULL. */
const struct target_mapping *target_find_mapping(const struct target *t, uint64_t addr);
/* The mapping of file PATH with the lowest address, or NULL. */
const struct target_mapping *target_first_mapping_of(const struct target *t, const char *path);
/* The thread with TID or NULL. */
const struct target_thread *target_find_thread(const struct target *t, pid_t tid);
/* Our id of the thread that the process knows as NS_TID (an id read from
 * its memory: Python's native thread id, glibc's): NS_TID itself when the
 * process shares our PID namespace, else from NS_TIDS; 0 when no thread
 * listed has it. */
pid_t target_tid_from_ns(const struct target *t, pid_t ns_tid);
/* The id the process knows itself by (its pid in its own namespace). */
static inline pid_t target_own_pid(const struct target *t)
{
	return t->ns_pid ? t->ns_pid : t->pid;
}
/* Whether thread TH of T was waiting rather than running: stopped inside
 * (or about to restart) a blocking system call (futex, sleeps, poll,
 * select, read...) when its registers are known, else its OS run state is
 * not R. False when nothing tells. */
bool target_thread_waiting(struct target *t, const struct target_thread *th);
/* Whether TH's registers are known, reading them first when they are
 * pending. TH is one of T's threads. */
bool target_thread_regs(struct target *t, const struct target_thread *th);
/* Value of auxv entry TYPE, or 0 when absent. */
uint64_t target_auxv(const struct target *t, uint64_t type);

#endif
