/* Symbolizing native frames: the module of an address, its function (from
 * .symtab, .dynsym, MiniDebugInfo or a separate debug file, demangled and
 * cached per module as address ranges) and its source line (cached per
 * address). Classifies CPython's evaluation loop, call plumbing and
 * start-up; what the merge hides of them is native_merge.c's. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/elf.h"
#include "unwind/native_internal.h"

/* CPython functions that only pass a call on between Python frames, by
 * name; a trailing '*' matches any rest ("gen_send_ex" and "gen_send_ex2").
 * Only frames inside the interpreter's own module are matched. */
static const char *const plumbing[] = {
	"_PyEval_Vector", "_PyEval_EvalCode*", "PyEval_EvalCode*", "_PyEval_EvalFrame", "PyEval_EvalFrame",
	"PyEval_EvalFrameEx", "_PyFunction_Vectorcall", "_PyFunction_FastCall*", "function_code_fastcall",
	"function_call", "instancemethod_call", "_PyObject_Vectorcall*", "PyObject_Vectorcall*",
	"_PyObject_Call*", "PyObject_Call*", "_PyObject_MakeTpCall", "_PyObject_FastCall*",
	"PyObject_FastCall*", "_PyVectorcall_Call", "PyVectorcall_Call", "object_vacall", "method_vectorcall*",
	"method_call", "cfunction_call*", "cfunction_vectorcall*", "PyCFunction_Call", "_PyCFunction_FastCall*",
	"_PyMethodDef_RawFastCall*", "_PyMethodDescr_FastCall*", "slot_tp_*", "vectorcall_method",
	"vectorcall_unbound", "call_function", "call_unbound*", "call_method", "do_call_core", "fast_function",
	"ext_do_call", "wrapper_call", "wrapperdescr_call", "wrapperdescr_raw_call", "gen_send_ex*",
	"gen_iternext", "gen_send", "_PyGen_Send", "PyIter_Next", "PyIter_Send", "context_run",
	"_PyEval_CallTracing", "PyEval_CallObjectWithKeywords", "call_trampoline",
};

/* Where a process or thread starts, before any code of its own: libc's
 * entry points and the program's main(), in any module. */
static const char *const process_start[] = {
	"_start", "__libc_start_main*", "__libc_start_call_main", "main", "start_thread", "clone", "clone3",
	"__clone", "__clone3",
};

/* CPython starting the program (2.7's Py_Main to 3.13's Py_BytesMain, down
 * to the evaluation of the main module) or a thread (t_bootstrap up to
 * 3.12, thread_run from 3.13); in the interpreter's module only. */
static const char *const interpreter_start[] = {
	"Py_BytesMain", "Py_Main", "_Py_UnixMain", "Py_RunMain", "Py_FrozenMain", "pymain_*", "PyRun_*",
	"_PyRun_*", "pyrun_*", "run_mod", "run_eval_code_obj", "run_pyc_file", "pythread_wrapper", "t_bootstrap",
	"thread_run",
};

static bool name_matches(const char *name, const char *pattern)
{
	size_t len = strlen(pattern);
	if (len && pattern[len - 1] == '*')
		return !strncmp(name, pattern, len - 1);
	return !strcmp(name, pattern);
}

/* NAME is BASE, or BASE with a compiler suffix (".cold", ".part.0"): the
 * split-off parts of one function run in the same frame. */
static bool is_named(const char *name, const char *base)
{
	size_t len = strlen(base);
	return !strncmp(name, base, len) && (name[len] == '\0' || name[len] == '.');
}

static bool matches_any(const char *name, const char *const *patterns, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (name_matches(name, patterns[i]))
			return true;
	return false;
}

#define MATCHES_ANY(name, table) matches_any(name, table, sizeof(table) / sizeof(table[0]))

static enum native_class classify(const struct native_unwinder *u, const struct native_module *m,
                                  const char *name)
{
	if (!name)
		return NATIVE_OTHER;
	bool old = u->py && u->py->version_hex < 0x03000000;
	const char *eval = old ? "PyEval_EvalFrameEx" : "_PyEval_EvalFrameDefault";
	if (is_named(name, eval))
		return NATIVE_EVAL;
	/* The name without a compiler suffix (".lto_priv.0") or a symbol
	 * version ("@@GLIBC_2.34"). */
	char base[128];
	size_t len = strcspn(name, ".@");
	if (len >= sizeof(base))
		return NATIVE_OTHER;
	memcpy(base, name, len);
	base[len] = '\0';
	if (MATCHES_ANY(base, process_start))
		return NATIVE_START;
	if (!m->interpreter)
		return NATIVE_OTHER;
	if (MATCHES_ANY(base, plumbing))
		return NATIVE_PLUMBING;
	if (MATCHES_ANY(base, interpreter_start))
		return NATIVE_INTERP_START;
	return NATIVE_OTHER;
}

struct native_module *native_module_at(struct native_unwinder *u, uint64_t addr)
{
	size_t i = SORTED_RANGE_FIND(u->modules, u->nmodules, start, end, addr);
	return i == SIZE_MAX ? NULL : &u->modules[i];
}

/* The range of the function holding ADDR by the module's unwind table
 * (its FDE), in the process's addresses; -1 when none covers it. */
static int fde_range(struct native_module *m, uint64_t addr, uint64_t *start, uint64_t *end)
{
	Dwarf_Addr bias = 0;
	Elf *elf = dwfl_module_getelf(m->dwfl_module, &bias);
	uint64_t low, high;
	if (!elf || bias != m->bias || native_fde_range(&m->fdes, elf, addr - m->bias, &low, &high) < 0)
		return -1;
	*start = low + m->bias;
	*end = high + m->bias;
	return 0;
}

/* The name of a function without a symbol that starts at FIRST:
 * "library+0xOFFSET", OFFSET in the file's own addresses (what addr2line
 * takes). */
static char *unnamed_function(const struct native_module *m, uint64_t first)
{
	const char *base = strrchr(m->path, '/');
	return xasprintf("%s+0x%" PRIx64, base ? base + 1 : m->path, first - m->bias);
}

/* Ask libdwfl, then remember the symbol's whole range (or, without a
 * sized symbol, the FDE's; or this one address). NULL only when out of
 * memory. */
static const struct native_function *look_up_function(struct native_unwinder *u, struct native_module *m,
                                                      uint64_t addr, size_t slot)
{
	GElf_Off offset = 0;
	GElf_Sym sym;
	const char *found = dwfl_module_addrinfo(m->dwfl_module, addr, &offset, &sym, NULL, NULL, NULL);
	struct native_function f = {.start = addr, .end = addr + 1};
	if (found && sym.st_size && offset < sym.st_size) {
		f.start = addr - offset;
		f.end = f.start + sym.st_size;
	} else {
		/* No sized symbol covers ADDR. libdwfl then offers the nearest
		 * sizeless one below it (frame_dummy, _init, an assembler label),
		 * which names ADDR only if the function the unwind table sees
		 * there starts at that symbol: a static function stripped of its
		 * symbol is not frame_dummy. */
		uint64_t start, end;
		bool fde = fde_range(m, addr, &start, &end) == 0;
		if (fde) {
			f.start = start;
			f.end = end;
			if (found && start != addr - offset)
				found = NULL;
		}
		if (!found && !(f.name = unnamed_function(m, f.start)))
			return NULL;
	}
	f.named = found != NULL;
	/* A range must not swallow a neighbour already cached. */
	if (slot && m->functions[slot - 1].end > f.start)
		f.start = addr;
	if (slot < m->nfunctions && m->functions[slot].start < f.end)
		f.end = m->functions[slot].start;
	if (found) {
		/* C++: as c++filt shows it, else the qualified name alone, else as is. */
		f.name = NULL;
		if (!strncmp(found, "_Z", 2) && !(f.name = demangle_full(found)))
			f.name = native_demangle(found);
		if (!f.name && !(f.name = xstrdup(found)))
			return NULL;
	}
	f.cls = f.named ? classify(u, m, f.name) : NATIVE_OTHER;
	if (ARRAY_GROW(m->functions, m->functions_cap, m->nfunctions + 1) < 0) {
		free(f.name);
		return NULL;
	}
	memmove(m->functions + slot + 1, m->functions + slot, (m->nfunctions - slot) * sizeof(f));
	m->functions[slot] = f;
	m->nfunctions++;
	return &m->functions[slot];
}

static const struct native_function *function_at(struct native_unwinder *u, struct native_module *m,
                                                 uint64_t addr)
{
	/* The first cached function starting above ADDR. */
	size_t slot = SORTED_UPPER_BOUND(m->functions, m->nfunctions, start, addr);
	if (slot && addr < m->functions[slot - 1].end)
		return &m->functions[slot - 1];
	return look_up_function(u, m, addr, slot);
}

_Static_assert(offsetof(struct native_line, pc) == 0, "a line's address is its hashtab key");

static void line_at(struct native_unwinder *u, struct native_module *m, uint64_t pc, const char **file,
                    int *line)
{
	*file = NULL;
	*line = -1;
	if (!pc || hashtab_reserve(&u->lines, u->lines.count + 1, sizeof(struct native_line)) < 0)
		return;
	struct native_line *slot = hashtab_slot_for(&u->lines, pc);
	if (!slot->pc) {
		hashtab_claim(&u->lines, slot, pc);
		slot->line = -1;
		Dwfl_Line *found = dwfl_module_getsrc(m->dwfl_module, pc);
		int number = 0;
		const char *name = found ? dwfl_lineinfo(found, NULL, &number, NULL, NULL, NULL) : NULL;
		if (name && number > 0) {
			slot->file = name;
			slot->line = number;
		}
	}
	*file = slot->file;
	*line = slot->line;
}

/* The module's build-id in hex, looked for once. */
static const char *build_id_of(struct native_module *m)
{
	if (!m->build_id_read) {
		m->build_id_read = true;
		const unsigned char *bits;
		GElf_Addr vaddr;
		int len = dwfl_module_build_id(m->dwfl_module, &bits, &vaddr);
		if (len > 0 && (m->build_id = malloc(2 * (size_t)len + 1)))
			build_id_to_hex(bits, (size_t)len, m->build_id);
	}
	return m->build_id;
}

/* Where F's function is: its start, the mapping holding it. */
static void site_of(struct native_unwinder *u, struct native_module *m, const struct native_function *f,
                    uint64_t addr, struct native_site *site)
{
	site->function = f ? f->start : addr;
	const struct target_mapping *map = target_find_mapping(u->target, site->function);
	if (map && map->path) {
		site->map_start = map->start;
		site->map_end = map->end;
		site->map_offset = map->file_offset;
	}
	site->build_id = build_id_of(m);
}

void native_symbolize(struct native_unwinder *u, uint64_t pc, bool activation, bool want_line,
                      struct native_frame *out)
{
	/* A return address may be the first byte after the call's function
	 * (a call to a noreturn function ends it): look up the call itself. */
	uint64_t addr = activation || !pc ? pc : pc - 1;
	memset(out, 0, sizeof(*out));
	out->address = pc;
	out->line = -1;
	struct native_module *m = native_module_at(u, addr);
	if (!m)
		return;
	out->library = m->path;
	out->offset = pc - m->bias;
	out->runtime = m->interpreter || m->c_library;
	const struct native_function *f = function_at(u, m, addr);
	if (f) {
		out->function = f->name;
		out->named = f->named;
		out->cls = f->cls;
	}
	site_of(u, m, f, addr, &out->site);
	if (want_line)
		line_at(u, m, addr, &out->file, &out->line);
}

void native_symbols_release(struct native_unwinder *u)
{
	for (size_t i = 0; i < u->nmodules; i++) {
		struct native_module *m = &u->modules[i];
		for (size_t k = 0; k < m->nfunctions; k++)
			free(m->functions[k].name);
		free(m->functions);
		m->functions = NULL;
		m->nfunctions = m->functions_cap = 0;
	}
	hashtab_release(&u->lines);
}
