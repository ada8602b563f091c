/* Parsing a core's notes once: NT_PRSTATUS (threads), NT_PRPSINFO (pid,
 * command, uid and gid), NT_SIGINFO (the fatal signal), NT_AUXV and NT_FILE
 * (mapped files). x86_64 layouts only; the offsets below are the kernel's. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/elf.h"
#include "targets/core_internal.h"
#include "targets/siginfo.h"

#define NOTE_PRSTATUS 1u
#define NOTE_PRPSINFO 3u
#define NOTE_AUXV 6u
#define NOTE_SIGINFO 0x53494749u    /* "SIGI" */
#define NOTE_FILE 0x46494c45u       /* "FILE" */

/* struct elf_prstatus on x86_64 */
#define PRSTATUS_CURSIG 12          /* short */
#define PRSTATUS_PID 32             /* int */
#define PRSTATUS_REGS 112           /* elf_gregset_t, 27 x u64 */
#define PRSTATUS_MIN_SIZE (PRSTATUS_REGS + TREG__COUNT * 8)

/* struct elf_prpsinfo on x86_64 */
#define PRPSINFO_UID 16             /* unsigned int */
#define PRPSINFO_GID 20             /* unsigned int */
#define PRPSINFO_PID 24             /* int */
#define PRPSINFO_FNAME 40           /* char[16] */
#define PRPSINFO_FNAME_SIZE 16
#define PRPSINFO_PSARGS 56          /* char[80] */
#define PRPSINFO_PSARGS_SIZE 80
#define PRPSINFO_MIN_SIZE (PRPSINFO_PSARGS + PRPSINFO_PSARGS_SIZE)

struct note_parse {
	struct target *t;
	struct core_backend *core;
	const char *core_path;
	size_t threads_capacity;
	bool have_psinfo, have_siginfo, have_auxv, have_file;
	pid_t psinfo_pid;
};

static uint64_t load_u64(const uint8_t *at)
{
	uint64_t value;
	memcpy(&value, at, sizeof(value));
	return value;
}

static int32_t load_i32(const uint8_t *at)
{
	int32_t value;
	memcpy(&value, at, sizeof(value));
	return value;
}

static int too_small(const struct note_parse *parse, const char *what, size_t size)
{
	return err_set(ERR_CORRUPT, "%s note of %zu bytes in core %s is too small",
	               what, size, parse->core_path);
}

static int parse_prstatus(struct note_parse *parse, const uint8_t *desc, size_t size)
{
	struct target *t = parse->t;
	if (size < PRSTATUS_MIN_SIZE)
		return too_small(parse, "NT_PRSTATUS", size);
	if (ARRAY_GROW(t->threads, parse->threads_capacity, t->nthreads + 1) < 0)
		return -ERR_NOMEM;
	struct target_thread *thread = &t->threads[t->nthreads++];
	int16_t cursig;
	memcpy(&cursig, desc + PRSTATUS_CURSIG, sizeof(cursig));
	*thread = (struct target_thread){
		.tid = load_i32(desc + PRSTATUS_PID),
		.has_regs = true,
		.cursig = cursig,
	};
	memcpy(thread->regs, desc + PRSTATUS_REGS, sizeof(thread->regs));
	return 0;
}

/* pr_psargs is the start of the command line with NULs turned into
 * spaces and padded with NULs (or spaces, by some writers). */
static int parse_prpsinfo(struct note_parse *parse, const uint8_t *desc, size_t size)
{
	struct target *t = parse->t;
	if (size < PRPSINFO_MIN_SIZE)
		return too_small(parse, "NT_PRPSINFO", size);
	if (parse->have_psinfo)
		return 0;
	parse->have_psinfo = true;
	parse->psinfo_pid = load_i32(desc + PRPSINFO_PID);
	t->has_ids = true;
	t->uid = (uid_t)(uint32_t)load_i32(desc + PRPSINFO_UID);
	t->gid = (gid_t)(uint32_t)load_i32(desc + PRPSINFO_GID);
	const char *text = (const char *)desc + PRPSINFO_PSARGS;
	size_t len = strnlen(text, PRPSINFO_PSARGS_SIZE);
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\0'))
		len--;
	if (!len) {
		text = (const char *)desc + PRPSINFO_FNAME;
		len = strnlen(text, PRPSINFO_FNAME_SIZE);
	}
	free(t->command);
	t->command = xstrndup(text, len);
	return t->command ? 0 : -ERR_NOMEM;
}

/* The kernel writes the signalled thread first, its NT_SIGINFO right after
 * its NT_PRSTATUS. gdb's gcore writes one per thread; a SIGSTOP there is
 * gdb's own attach stop (pr_cursig 0), not why the process ended. */
static int parse_siginfo(struct note_parse *parse, const uint8_t *desc, size_t size)
{
	struct target *t = parse->t;
	if (size < SIGINFO_MIN_SIZE)
		return too_small(parse, "NT_SIGINFO", size);
	if (parse->have_siginfo)
		return 0;
	int number = load_i32(desc);
	const struct target_thread *owner = t->nthreads ? &t->threads[t->nthreads - 1] : NULL;
	if (number <= 0 || (number == SIGSTOP && (!owner || owner->cursig == 0)))
		return 0;
	parse->have_siginfo = true;
	t->has_signal = true;
	siginfo_read(&t->signal, desc, size, 0);
	t->signal.tid = owner ? owner->tid : 0;
	return 0;
}

static int parse_auxv(struct note_parse *parse, const uint8_t *desc, size_t size)
{
	struct target *t = parse->t;
	if (parse->have_auxv)
		return 0;
	parse->have_auxv = true;
	size_t words = size / 16 * 2;
	if (!words)
		return 0;
	t->auxv = xcalloc(words, sizeof(*t->auxv));
	if (!t->auxv)
		return -ERR_NOMEM;
	memcpy(t->auxv, desc, words * sizeof(*t->auxv));
	t->auxv_words = words;
	return 0;
}

/* NT_FILE: count, page size, count x (start, end, page offset), then count
 * NUL-terminated paths. */
static int parse_file(struct note_parse *parse, const uint8_t *desc, size_t size)
{
	struct target *t = parse->t;
	if (parse->have_file)
		return 0;
	parse->have_file = true;
	if (size < 16)
		return too_small(parse, "NT_FILE", size);
	uint64_t count = load_u64(desc), page_size = load_u64(desc + 8);
	if (count > (size - 16) / 24)
		return err_set(ERR_CORRUPT, "NT_FILE note in core %s claims %llu files in %zu bytes",
		               parse->core_path, (unsigned long long)count, size);
	if (!count)
		return 0;
	t->mappings = xcalloc((size_t)count, sizeof(*t->mappings));
	if (!t->mappings)
		return -ERR_NOMEM;
	const uint8_t *entry = desc + 16;
	const char *names = (const char *)desc + 16 + count * 24;
	const char *names_end = (const char *)desc + size;
	for (uint64_t i = 0; i < count; i++, entry += 24) {
		size_t left = (size_t)(names_end - names);
		size_t len = strnlen(names, left);
		if (len == left)
			return err_set(ERR_CORRUPT, "NT_FILE note in core %s has an unterminated path",
			               parse->core_path);
		uint64_t start = load_u64(entry), end = load_u64(entry + 8);
		uint64_t page_offset = load_u64(entry + 16);
		if (page_size && page_offset > UINT64_MAX / page_size)
			return err_set(ERR_CORRUPT, "NT_FILE note in core %s has an impossible file offset",
			               parse->core_path);
		if (end > start) {
			char *path = xstrndup(names, len);
			if (!path)
				return -ERR_NOMEM;
			t->mappings[t->nmappings++] = (struct target_mapping){
				.start = start, .end = end,
				.file_offset = page_offset * page_size,
				.readable = true,
				.path = path,
			};
		}
		names += len + 1;
	}
	return 0;
}

/* The pycoreprof note (docs/snapshot-format.md): the file is a snapshot;
 * its build-ids find the mapped files when the core has no header pages. */
#define SNAP_NOTE_PY_VERSION 4      /* u32 PY_VERSION_HEX */
#define SNAP_NOTE_TIME 8            /* u64 nanoseconds */
#define SNAP_NOTE_RUNTIME 24        /* u64 address of _PyRuntime, 0 before 3.7 */
#define SNAP_NOTE_INTERP 32         /* u64 address of the first interpreter state */
#define SNAP_NOTE_IDS 72            /* u32 count, then the entries */
/* The entries of build-ids from AT; returns where they end, or 0 when the
 * note ends inside them (then nothing after them is read). */
static int parse_noted_ids(struct note_parse *parse, const uint8_t *desc, size_t size, size_t *at_out)
{
	struct core_backend *core = parse->core;
	uint32_t count;
	memcpy(&count, desc + SNAP_NOTE_IDS, sizeof(count));
	if (count > (size - SNAP_NOTE_IDS - 4) / 8)
		return err_set(ERR_CORRUPT, "pycoreprof note in core %s claims %u build-ids in %zu bytes",
		               parse->core_path, count, size);
	size_t at = SNAP_NOTE_IDS + 4;
	*at_out = 0;
	if (count && !(core->noted_ids = xcalloc(count, sizeof(*core->noted_ids))))
		return -ERR_NOMEM;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t id_len, path_len;
		if (size - at < 8)
			return 0;
		memcpy(&id_len, desc + at, 4);
		memcpy(&path_len, desc + at + 4, 4);
		at += 8;
		if (id_len > sizeof(core->noted_ids[0].id) || path_len == 0 || id_len > size - at ||
		    path_len > size - at - id_len || desc[at + id_len + path_len - 1] != '\0')
			return err_set(ERR_CORRUPT, "pycoreprof note in core %s has a malformed build-id entry",
			               parse->core_path);
		struct core_noted_id *noted = &core->noted_ids[core->nnoted_ids];
		if (!(noted->path = xstrdup((const char *)desc + at + id_len)))
			return -ERR_NOMEM;
		memcpy(noted->id, desc + at, id_len);
		noted->len = id_len;
		core->nnoted_ids++;
		at += (id_len + path_len + 3) & ~(size_t)3;
		if (at > size)
			return 0;
	}
	*at_out = at;
	return 0;
}

static int compare_ns_tids(const void *a, const void *b)
{
	pid_t x = ((const struct target_ns_tid *)a)->ns_tid, y = ((const struct target_ns_tid *)b)->ns_tid;
	return (x > y) - (x < y);
}

/* Appended later still: the process's PID namespace ids (u32 ns_pid, u32
 * count, count pairs of u32 tid and ns_tid), when not the snapshot taker's. */
static int parse_noted_ns_tids(struct note_parse *parse, const uint8_t *desc, size_t size)
{
	struct target *t = parse->t;
	uint32_t ns_pid, count;
	if (size < 8)
		return err_set(ERR_CORRUPT, "pycoreprof note in core %s ends inside its PID namespace ids",
		               parse->core_path);
	memcpy(&ns_pid, desc, 4);
	memcpy(&count, desc + 4, 4);
	if (ns_pid > INT32_MAX || count > (size - 8) / 8 || (count && !ns_pid))
		return err_set(ERR_CORRUPT, "pycoreprof note in core %s has malformed PID namespace ids",
		               parse->core_path);
	if (!ns_pid || t->ns_tids)
		return 0;
	if (count && !(t->ns_tids = xcalloc(count, sizeof(*t->ns_tids))))
		return -ERR_NOMEM;
	for (uint32_t i = 0; i < count; i++) {
		int32_t tid = load_i32(desc + 8 + 8 * (size_t)i), ns_tid = load_i32(desc + 12 + 8 * (size_t)i);
		if (tid <= 0 || ns_tid <= 0)
			return err_set(ERR_CORRUPT, "pycoreprof note in core %s has malformed PID namespace ids",
			               parse->core_path);
		t->ns_tids[i] = (struct target_ns_tid){.ns_tid = ns_tid, .tid = tid};
	}
	qsort(t->ns_tids, count, sizeof(*t->ns_tids), compare_ns_tids);
	t->n_ns_tids = count;
	t->ns_pid = (pid_t)ns_pid;
	return 0;
}

static int parse_snapshot_note(struct note_parse *parse, const uint8_t *desc, size_t size)
{
	struct core_backend *core = parse->core;
	parse->t->kind = TARGET_SNAPSHOT;
	if (size >= SNAP_NOTE_TIME + 8)
		memcpy(&parse->t->capture_ns, desc + SNAP_NOTE_TIME, sizeof(parse->t->capture_ns));
	if (size >= SNAP_NOTE_INTERP + 8) {
		memcpy(&parse->t->python_seen.version_hex, desc + SNAP_NOTE_PY_VERSION, 4);
		memcpy(&parse->t->python_seen.runtime_addr, desc + SNAP_NOTE_RUNTIME, 8);
		memcpy(&parse->t->python_seen.interp_head_addr, desc + SNAP_NOTE_INTERP, 8);
	}
	if (size < SNAP_NOTE_IDS + 4 || core->noted_ids || core->noted_command)
		return 0;
	size_t at = 0;
	int ret = parse_noted_ids(parse, desc, size, &at);
	if (ret < 0 || !at || size - at < 4)
		return ret;
	/* Appended later: the whole command line (older snapshots end here). */
	uint32_t command_len;
	memcpy(&command_len, desc + at, 4);
	at += 4;
	if (command_len == 0 || command_len > size - at || desc[at + command_len - 1] != '\0')
		return err_set(ERR_CORRUPT, "pycoreprof note in core %s has a malformed command line",
		               parse->core_path);
	if (command_len > 1 && !(core->noted_command = xstrdup((const char *)desc + at)))
		return -ERR_NOMEM;
	at += (command_len + 3) & ~(size_t)3;
	return at < size ? parse_noted_ns_tids(parse, desc + at, size - at) : 0;
}

static int parse_note(void *ctx, uint32_t type, const char *name,
                      const void *desc, size_t desc_size)
{
	struct note_parse *parse = ctx;
	/* A snapshot written by pycoreprof (docs/snapshot-format.md). */
	if (type == SNAP_NOTE_TYPE && strcmp(name, SNAP_NOTE_NAME) == 0)
		return parse_snapshot_note(parse, desc, desc_size);
	/* Only "CORE" notes; "LINUX" ones reuse small type numbers. */
	if (strcmp(name, "CORE") != 0)
		return 0;
	switch (type) {
	case NOTE_PRSTATUS: return parse_prstatus(parse, desc, desc_size);
	case NOTE_PRPSINFO: return parse_prpsinfo(parse, desc, desc_size);
	case NOTE_SIGINFO:  return parse_siginfo(parse, desc, desc_size);
	case NOTE_AUXV:     return parse_auxv(parse, desc, desc_size);
	case NOTE_FILE:     return parse_file(parse, desc, desc_size);
	default:            return 0;
	}
}

int core_parse_notes(struct target *t, struct core_backend *core,
                     const uint8_t *const *notes, const size_t *note_sizes, size_t nnotes)
{
	struct note_parse parse = { .t = t, .core = core, .core_path = core->core_path };
	for (size_t i = 0; i < nnotes; i++) {
		int ret = elfnote_each(notes[i], note_sizes[i], parse_note, &parse);
		if (ret < 0) {
			if (ret == -ERR_CORRUPT && err_last_code() == ERR_CORRUPT &&
			    !strstr(err_context(), core->core_path)) {
				/* Name the core in the note walker's message. */
				char detail[256];
				snprintf(detail, sizeof(detail), "%s", err_context());
				return err_set(ERR_CORRUPT, "malformed notes in core %s: %s",
				               core->core_path, detail);
			}
			return ret;
		}
	}
	/* Each thread's id in the process's own PID namespace: as in the core
	 * (the kernel writes those), or as a snapshot of a process in another
	 * namespace recorded them. */
	for (size_t i = 0; i < t->nthreads; i++) {
		struct target_thread *th = &t->threads[i];
		th->ns_tid = t->ns_pid ? 0 : th->tid;
		for (size_t k = 0; k < t->n_ns_tids && !th->ns_tid; k++)
			if (t->ns_tids[k].tid == th->tid)
				th->ns_tid = t->ns_tids[k].ns_tid;
	}
	/* The process id is the thread group's: pr_pid of NT_PRPSINFO. */
	t->pid = parse.psinfo_pid;
	if (!t->pid && t->nthreads)
		t->pid = t->threads[0].tid;
	if (t->has_signal && !t->signal.tid && t->nthreads)
		t->signal.tid = t->threads[0].tid;
	if (t->has_signal && t->signal.origin == SIGNAL_PROCESS && t->pid && t->signal.sender_pid == t->pid)
		t->signal.origin = SIGNAL_SELF;
	if (!t->has_signal) {
		for (size_t i = 0; i < t->nthreads; i++) {
			if (t->threads[i].cursig > 0) {
				t->has_signal = true;
				t->signal = (struct target_signal){
					.number = t->threads[i].cursig,
					.tid = t->threads[i].tid,
				};
				break;
			}
		}
	}
	return 0;
}
