/* The libdwfl session of the native unwinder: the target's mapped ELF files
 * (and its vDSO) reported as modules, thread callbacks that read registers
 * and stack from a thread copy, and the unwind itself. Symbols and lines
 * are native_symbols.c's job, separate debug files native_debuginfo.c's. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "unwind/native_internal.h"

#define AUXV_SYSINFO_EHDR 33   /* AT_SYSINFO_EHDR: where the vDSO is */
#define VDSO_MAX_BYTES (1u << 20)
#define DWARF_X86_64_REGS 17   /* rax rdx rcx rbx rsi rdi rbp rsp r8-r15 rip */
#define DWARF_REG_RSP 7

/* The thread being unwound is the one set in u->current; there is no list
 * of threads to walk. */
static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_arg)
{
	return 0;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_arg)
{
	struct native_unwinder *u = arg;
	if (!u->current || u->current->tid != tid)
		return false;
	*thread_arg = (void *)u->current;
	return true;
}

static bool read_word(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct native_unwinder *u = arg;
	const struct native_thread_copy *copy = u->current;
	if (!copy)
		return false;
	if (addr >= copy->stack_start && copy->stack_len >= sizeof(*result) &&
	    addr - copy->stack_start <= copy->stack_len - sizeof(*result)) {
		memcpy(result, copy->stack + (addr - copy->stack_start), sizeof(*result));
		return true;
	}
	/* Past the copy the target has run on since: its bytes would be from
	 * another moment, so only a target that has not moved is read. */
	return copy->read_through && target_read(u->target, addr, result, sizeof(*result)) == 0;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	const struct native_thread_copy *copy = thread_arg;
	const uint64_t *r = copy->regs;
	const Dwarf_Word dwarf[DWARF_X86_64_REGS] = {
		r[TREG_RAX], r[TREG_RDX], r[TREG_RCX], r[TREG_RBX], r[TREG_RSI], r[TREG_RDI],
		r[TREG_RBP], r[TREG_RSP], r[TREG_R8], r[TREG_R9], r[TREG_R10], r[TREG_R11],
		r[TREG_R12], r[TREG_R13], r[TREG_R14], r[TREG_R15], r[TREG_RIP],
	};
	if (!dwfl_thread_state_registers(thread, 0, DWARF_X86_64_REGS, dwarf))
		return false;
	dwfl_thread_state_register_pc(thread, r[TREG_RIP]);
	return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = read_word,
	.set_initial_registers = set_initial_registers,
};

/* libdwfl asks for the vDSO's ELF only: every file was reported with its
 * descriptor. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base, char **file_name,
                    Elf **elfp)
{
	struct native_unwinder *u = *userdata;
	*file_name = NULL;
	*elfp = NULL;
	if (u && u->vdso_image && !strcmp(name, "[vdso]"))
		*elfp = elf_memory((char *)u->vdso_image, u->vdso_size);
	return -1;
}

static int compare_modules(const void *a, const void *b)
{
	const struct native_module *left = a, *right = b;
	return left->start < right->start ? -1 : left->start > right->start;
}

/* The end of the run of mappings of the file mapped at index FIRST. */
static uint64_t file_end(const struct target *t, size_t first)
{
	const struct target_mapping *head = &t->mappings[first];
	uint64_t end = head->end;
	for (size_t i = first + 1; i < t->nmappings; i++) {
		const struct target_mapping *m = &t->mappings[i];
		if (!m->path)
			continue;   /* .bss beyond the file, or a gap */
		if (strcmp(m->path, head->path) || m->file_offset == 0)
			break;
		end = m->end;
	}
	return end;
}

static bool is_interpreter(const struct native_unwinder *u, const char *path, const char *resolved)
{
	const char *lib = u->py ? u->py->library : NULL;
	return lib && ((path && !strcmp(lib, path)) || (resolved && !strcmp(lib, resolved)));
}

/* The C library (and glibc's libpthread before 2.34, where threads
 * started): where every process and thread begins. */
static bool is_c_library(const char *path)
{
	static const char *const prefixes[] = {"libc.so", "libc-", "libpthread.so", "libpthread-", "libc.musl"};
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(base, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static struct native_module *add_module(struct native_unwinder *u, size_t *cap)
{
	if (ARRAY_GROW(u->modules, *cap, u->nmodules + 1) < 0)
		return NULL;
	struct native_module *m = &u->modules[u->nmodules];
	memset(m, 0, sizeof(*m));
	return m;
}

/* Report the file mapped at index I. Files that cannot be opened or are
 * not ELF are skipped: their frames stay unknown. */
static int report_file(struct native_unwinder *u, size_t i, size_t *cap)
{
	struct target *t = u->target;
	const struct target_mapping *map = &t->mappings[i];
	char *resolved = NULL;
	int fd = t->ops->open_mapped_file ? t->ops->open_mapped_file(t, map, &resolved) : -ERR_NOENT;
	if (fd < 0) {
		free(resolved);
		return 0;
	}
	/* libdwfl looks for separate debug files beside the file: name it
	 * where it is, under the process's root when that is not ours. */
	char *rooted = !resolved && t->root ? xasprintf("%s%s", t->root, map->path) : NULL;
	const char *file = resolved ? resolved : rooted ? rooted : map->path;
	/* On success libdwfl owns FD. BASE is where the file's first page is
	 * mapped, which libdwfl turns into the bias. */
	Dwfl_Module *mod = dwfl_report_elf(u->dwfl, map->path, file, fd, map->start, false);
	free(rooted);
	if (!mod) {
		close(fd);
		free(resolved);
		return 0;
	}
	struct native_module *m = add_module(u, cap);
	char *path = xstrdup(map->path);
	if (!m || !path) {
		free(path);
		free(resolved);
		return -ERR_NOMEM;
	}
	Dwarf_Addr low, high;
	dwfl_module_info(mod, NULL, &low, &high, NULL, NULL, NULL, NULL);
	m->start = low < map->start ? low : map->start;
	m->end = file_end(t, i);
	if (high > m->end)
		m->end = high;
	m->path = path;
	m->dwfl_module = mod;
	void **userdata;
	dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	*userdata = u;
	m->interpreter = is_interpreter(u, map->path, resolved);
	m->c_library = is_c_library(map->path);
	free(resolved);
	u->nmodules++;
	return 0;
}

/* The vDSO is only in memory: copy it and let find_elf() hand it over. */
static int report_vdso(struct native_unwinder *u, size_t *cap)
{
	struct target *t = u->target;
	uint64_t addr = target_auxv(t, AUXV_SYSINFO_EHDR);
	const struct target_mapping *map = addr ? target_find_mapping(t, addr) : NULL;
	if (!map || map->start != addr || map->end - map->start > VDSO_MAX_BYTES)
		return 0;
	size_t size = (size_t)(map->end - map->start);
	uint8_t *image = malloc(size);
	if (!image)
		return -ERR_NOMEM;
	if (target_read(t, addr, image, size) < 0 || memcmp(image, ELFMAG, SELFMAG)) {
		free(image);
		return 0;
	}
	Dwfl_Module *mod = dwfl_report_module(u->dwfl, "[vdso]", map->start, map->end);
	struct native_module *m = mod ? add_module(u, cap) : NULL;
	char *path = m ? xstrdup("[vdso]") : NULL;
	if (!path) {
		free(image);
		return mod ? -ERR_NOMEM : 0;
	}
	void **userdata;
	dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	*userdata = u;
	u->vdso_image = image;
	u->vdso_size = size;
	*m = (struct native_module){.start = map->start, .end = map->end, .path = path, .dwfl_module = mod};
	u->nmodules++;
	return 0;
}

/* Sort the modules by address; read the bias of those from FIRST on (the
 * ones just reported). */
static void sort_modules(struct native_unwinder *u, size_t first)
{
	for (size_t i = first; i < u->nmodules; i++) {
		Dwarf_Addr bias = 0;
		if (dwfl_module_getelf(u->modules[i].dwfl_module, &bias))
			u->modules[i].bias = bias;
	}
	qsort(u->modules, u->nmodules, sizeof(*u->modules), compare_modules);
}

/* The target read its mappings again: report the files mapped since (a
 * library the program loaded after sampling began). */
static void report_new_modules(struct native_unwinder *u)
{
	struct target *t = u->target;
	size_t before = u->nmodules;
	u->mappings_generation = t->mappings_generation;
	dwfl_report_begin_add(u->dwfl);
	for (size_t i = 0; i < t->nmappings; i++) {
		const struct target_mapping *m = &t->mappings[i];
		if (!m->path || m->file_offset != 0 || m->path[0] != '/')
			continue;
		bool known = false;
		for (size_t k = 0; k < before && !known; k++)
			known = u->modules[k].start <= m->start && m->start < u->modules[k].end;
		if (!known && report_file(u, i, &u->modules_cap) < 0)
			break;
	}
	dwfl_report_end(u->dwfl, NULL, NULL);
	if (u->nmodules > before)
		sort_modules(u, before);
	err_clear();
}

int native_unwinder_new(struct target *t, const struct pyinfo *py, struct native_unwinder **out)
{
	struct native_unwinder *u = xcalloc(1, sizeof(*u));
	int ret = -ERR_NOMEM;
	if (!u)
		return -ERR_NOMEM;
	u->target = t;
	u->py = py;
	if (!(u->debuginfo_path = native_debug_search_path(t)))
		goto fail;
	u->callbacks.find_elf = find_elf;
	u->callbacks.find_debuginfo = native_find_debuginfo;
	u->callbacks.debuginfo_path = &u->debuginfo_path;
	if (!(u->dwfl = dwfl_begin(&u->callbacks)))
		goto fail;
	dwfl_report_begin(u->dwfl);
	for (size_t i = 0; i < t->nmappings; i++) {
		const struct target_mapping *m = &t->mappings[i];
		if (!m->path || m->file_offset != 0 || m->path[0] != '/')
			continue;
		if ((ret = report_file(u, i, &u->modules_cap)) < 0)
			goto fail;
	}
	if ((ret = report_vdso(u, &u->modules_cap)) < 0)
		goto fail;
	u->mappings_generation = t->mappings_generation;
	dwfl_report_end(u->dwfl, NULL, NULL);
	if (!u->nmodules) {
		ret = err_set(ERR_NOENT, "none of the files mapped by pid %d could be opened for native unwinding",
		              (int)t->pid);
		goto fail;
	}
	sort_modules(u, 0);
	if (!dwfl_attach_state(u->dwfl, NULL, t->pid ? t->pid : 1, &thread_callbacks, u)) {
		ret = err_set(ERR_CORRUPT, "cannot start native unwinding of pid %d: %s", (int)t->pid,
		              dwfl_errmsg(-1));
		goto fail;
	}
	*out = u;
	return 0;
fail:
	native_unwinder_free(u);
	return ret;
}

void native_unwinder_free(struct native_unwinder *u)
{
	if (!u)
		return;
	if (u->dwfl)
		dwfl_end(u->dwfl);
	native_symbols_release(u);
	for (size_t i = 0; i < u->nmodules; i++) {
		free(u->modules[i].path);
		free(u->modules[i].build_id);
	}
	free(u->modules);
	free(u->vdso_image);
	free(u->debuginfo_path);
	free(u);
}

struct unwind_walk {
	uint64_t *pcs;
	bool *activation;
	uint64_t *sps;
	size_t max, count;
	bool zero_return;        /* ended at a return address of 0 */
};

static int on_frame(Dwfl_Frame *state, void *arg)
{
	struct unwind_walk *walk = arg;
	Dwarf_Addr pc;
	bool activation;
	if (!dwfl_frame_pc(state, &pc, &activation))
		return DWARF_CB_ABORT;
	if (walk->count && pc == 0) {
		walk->zero_return = true;
		return DWARF_CB_ABORT;
	}
	Dwarf_Word sp = 0;
	if (dwfl_frame_reg(state, DWARF_REG_RSP, &sp) != 0)
		sp = walk->count ? walk->sps[walk->count - 1] : 0;
	walk->pcs[walk->count] = pc;
	walk->activation[walk->count] = activation;
	walk->sps[walk->count] = sp;
	walk->count++;
	return walk->count < walk->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

int native_unwind(struct native_unwinder *u, const struct native_thread_copy *copy, uint64_t *pcs,
                  bool *activation, uint64_t *sps, size_t max, size_t *count, bool *complete)
{
	struct unwind_walk walk = {.pcs = pcs, .activation = activation, .sps = sps, .max = max};
	*count = 0;
	*complete = false;
	if (!max)
		return 0;
	if (u->target->mappings_generation != u->mappings_generation)
		report_new_modules(u);
	u->current = copy;
	/* 0: the walk reached a frame whose CFI says it has no caller. Anything
	 * else (an error, or our callback's abort) leaves the stack's end
	 * unknown, but for a return address of 0; what was walked is the answer
	 * either way. */
	int ended = dwfl_getthread_frames(u->dwfl, copy->tid, on_frame, &walk);
	u->current = NULL;
	*count = walk.count;
	*complete = walk.count && (ended == 0 || walk.zero_return);
	if (!walk.count)
		return err_set(ERR_CORRUPT, "cannot unwind thread %d: %s", (int)copy->tid, dwfl_errmsg(-1));
	return 0;
}
