/* Finding the interpreter in a target: which ELF object holds the runtime
 * (libpython or a static executable), its load bias, the version, the
 * effective structure layout (generated table, overridden on 3.13+ by the
 * _Py_DebugOffsets the target publishes) and the first interpreter state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pycoreprof/elf.h"
#include "python/internal.h"

/* Symbols that locate the runtime, as found in one ELF object. */
struct runtime_symbols {
	uint64_t runtime;          /* _PyRuntime (3.7+) */
	uint64_t py_version;       /* Py_Version (3.11+) */
	uint64_t interp_head;      /* interp_head (2.7, 3.6; .symtab only) */
	uint64_t tstate_current;   /* _PyThreadState_Current (2.7, 3.6) */
	uint64_t version_buffer;   /* Py_GetVersion's static buffer (.symtab only) */
	uint64_t gil_locked, gil_last_holder; /* 3.6 statics */
	uint64_t finalizing;       /* _Py_Finalizing (3.6) */
	uint64_t gc_collecting;    /* gcmodule.c's `collecting` (2.7, 3.6; .symtab only) */
	uint64_t interp_seen;      /* the first interpreter as a snapshot recorded it */
};

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Lower is tried first; -1 means not a candidate. */
static int candidate_rank(const struct target *t, const char *path)
{
	const char *base = base_name(path);
	if (!strncmp(base, "libpython", 9))
		return 0;
	if (t->executable && !strcmp(path, t->executable))
		return 1;
	if (strstr(base, "python"))
		return 2;
	return -1;
}

static uint64_t symbol_or_zero(struct elfobj *obj, const char *name, uint64_t bias)
{
	uint64_t value, size;
	if (elfobj_symbol(obj, name, &value, &size) < 0 || !value)
		return 0;
	return value + bias;
}

static void lookup_symbols(struct elfobj *obj, uint64_t bias, struct runtime_symbols *syms)
{
	memset(syms, 0, sizeof(*syms));
	syms->runtime = symbol_or_zero(obj, "_PyRuntime", bias);
	syms->py_version = symbol_or_zero(obj, "Py_Version", bias);
	syms->interp_head = symbol_or_zero(obj, "interp_head", bias);
	syms->tstate_current = symbol_or_zero(obj, "_PyThreadState_Current", bias);
	syms->version_buffer = symbol_or_zero(obj, "version.0", bias);
	syms->gil_locked = symbol_or_zero(obj, "gil_locked", bias);
	syms->gil_last_holder = symbol_or_zero(obj, "gil_last_holder", bias);
	syms->finalizing = symbol_or_zero(obj, "_Py_Finalizing", bias);
	syms->gc_collecting = symbol_or_zero(obj, "collecting", bias);
}

static void version_text(uint32_t hex, char *out, size_t size)
{
	unsigned major = hex >> 24, minor = (hex >> 16) & 0xFF, micro = (hex >> 8) & 0xFF;
	unsigned level = (hex >> 4) & 0xF, serial = hex & 0xF;
	const char *tag = level == 0xA ? "a" : level == 0xB ? "b" : level == 0xC ? "rc" : "";
	if (*tag)
		snprintf(out, size, "%u.%u.%u%s%u", major, minor, micro, tag, serial);
	else
		snprintf(out, size, "%u.%u.%u", major, minor, micro);
}

/* "3.9.18 (main, ...)" or a file name like libpython3.9.so.1.0 / python2.7. */
static bool parse_version_text(const char *text, uint32_t *hex)
{
	unsigned major, minor, micro = 0;
	int n = sscanf(text, "%u.%u.%u", &major, &minor, &micro);
	if (n < 2 || major < 2 || major > 3 || minor > 99 || micro > 99)
		return false;
	*hex = major << 24 | minor << 16 | micro << 8 | 0xF0;
	return true;
}

static bool version_from_file_name(const char *path, uint32_t *hex)
{
	const char *base = base_name(path);
	const char *digits = strstr(base, "python");
	if (!digits)
		return false;
	digits += 6;
	if (!parse_version_text(digits, hex))
		return false;
	*hex &= 0xFFFF0000u; /* micro unknown */
	*hex |= 0xF0;
	return true;
}

static int detect_version(struct pywalker *w, struct elfobj *obj, uint64_t bias,
                          const struct runtime_symbols *syms, uint32_t *hex)
{
	struct target *t = w->target;
	char cookie[16];
	if (syms->runtime && target_read(t, syms->runtime, cookie, 16) == 0 &&
	    !memcmp(cookie, "xdebugpy", 8)) {
		memcpy(hex, cookie + 8, 4);
		return 0;
	}
	if (syms->py_version) {
		uint64_t value;
		if (target_read_u64(t, syms->py_version, &value) == 0 ||
		    elfobj_read_vaddr(obj, syms->py_version - bias, &value, sizeof(value)) == 0) {
			if ((value >> 24) == 3) {
				*hex = (uint32_t)value;
				return 0;
			}
		}
	}
	if (syms->version_buffer) {
		char text[64] = {0};
		if (target_read(t, syms->version_buffer, text, sizeof(text) - 1) == 0 &&
		    parse_version_text(text, hex))
			return 0;
	}
	if (version_from_file_name(elfobj_path(obj), hex) ||
	    (w->library_path && version_from_file_name(w->library_path, hex)))
		return 0;
	return err_set(ERR_UNSUPPORTED_PYTHON, "cannot tell the Python version of %s", elfobj_path(obj));
}

/* 3.13+: read the target's _Py_DebugOffsets and lay the published values
 * over the generated table. */
static int apply_debug_offsets(struct pywalker *w, uint64_t runtime)
{
	const struct py_debug_offsets_layout *D = py_debug_offsets_layout_find(w->major, w->minor);
	if (!D)
		return err_set(ERR_UNSUPPORTED_PYTHON,
		               "Python %s publishes debug offsets in a layout this pycoreprof does not know",
		               w->info.version);
	uint8_t raw[2048];
	if (D->struct_size <= 0 || (size_t)D->struct_size > sizeof(raw))
		return err_set(ERR_UNSUPPORTED_PYTHON, "unexpected debug offsets size for Python %s", w->info.version);
	int ret = target_read(w->target, runtime, raw, (size_t)D->struct_size);
	if (ret < 0)
		return ret;
	if (D->free_threaded >= 0 && load_u64(raw, D->free_threaded))
		return err_set(ERR_UNSUPPORTED_PYTHON, "free-threaded Python %s builds are not supported yet",
		               w->info.version);

	struct py_layout *L = &w->layout;
	/* Each pair: where the value is in _Py_DebugOffsets, which layout field it sets. */
	const struct { int32_t pos; int32_t *field; } map[] = {
		{D->runtime_interpreters_head, &L->runtime_interpreters_head},
		{D->interp_next, &L->interp_next},
		{D->interp_threads_head, &L->interp_threads_head},
		{D->interp_ceval_gil, &L->interp_ceval_gil_ptr},
		{D->tstate_size, &L->tstate_size},
		{D->tstate_next, &L->tstate_next},
		{D->tstate_prev, &L->tstate_prev},
		{D->tstate_interp, &L->tstate_interp},
		{D->tstate_current_frame, &L->tstate_current_frame},
		{D->tstate_thread_id, &L->tstate_thread_id},
		{D->tstate_native_thread_id, &L->tstate_native_thread_id},
		{D->iframe_size, &L->iframe_size},
		{D->iframe_previous, &L->iframe_previous},
		{D->iframe_executable, &L->iframe_code},
		{D->iframe_instr_ptr, &L->iframe_instr},
		{D->iframe_owner, &L->iframe_owner},
		{D->code_size, &L->code_size},
		{D->code_filename, &L->code_filename},
		{D->code_name, &L->code_name},
		{D->code_qualname, &L->code_qualname},
		{D->code_linetable, &L->code_linetable},
		{D->code_firstlineno, &L->code_firstlineno},
		{D->code_co_code_adaptive, &L->code_code_adaptive},
		{D->pyobject_ob_type, &L->object_type},
		{D->type_tp_name, &L->type_name},
		{D->unicode_length, &L->unicode_length},
		{D->unicode_state, &L->unicode_state},
		{D->unicode_asciiobject_size, &L->unicode_ascii_size},
		{D->bytes_ob_size, &L->bytes_size},
		{D->bytes_ob_sval, &L->bytes_data},
		{D->runtime_finalizing, &L->runtime_finalizing},
		{D->interp_gc, &L->interp_gc},
		{D->interp_id, &L->interp_id},
		{D->gc_collecting, &L->gc_collecting},
		{D->gc_frame, &L->gc_frame},
		{D->iframe_localsplus, &L->iframe_localsplus},
		{D->code_argcount, &L->code_argcount},
		{D->code_localsplusnames, &L->code_localsplusnames},
		{D->code_localspluskinds, &L->code_localspluskinds},
		{D->type_tp_flags, &L->type_flags},
		{D->tuple_ob_item, &L->tuple_item},
		{D->list_ob_item, &L->list_item},
		{D->dict_ma_keys, &L->dict_keys},
		{D->dict_ma_values, &L->dict_values},
		{D->float_ob_fval, &L->float_value},
		{D->long_lv_tag, &L->long_tag},
		{D->long_ob_digit, &L->long_digit},
		{D->set_used, &L->set_used},
		{D->set_table, &L->set_table},
		{D->set_mask, &L->set_mask},
		{D->interp_imports_modules, &L->interp_modules},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].pos < 0 || map[i].pos + 8 > D->struct_size)
			continue;
		uint64_t value = load_u64(raw, map[i].pos);
		if (value > (1u << 24))
			return err_set(ERR_CORRUPT, "implausible debug offset %llu in Python %s runtime at 0x%llx",
			               (unsigned long long)value, w->info.version, (unsigned long long)runtime);
		*map[i].field = (int32_t)value;
	}
	w->info.from_debug_offsets = true;
	return 0;
}

static void set_version_traits(struct pywalker *w)
{
	unsigned v = w->major * 100 + w->minor;
	w->py2_strings = w->major == 2;
	w->linetable_format = v < 306 ? LINETABLE_LNOTAB_UNSIGNED
	                    : v < 310 ? LINETABLE_LNOTAB_SIGNED
	                    : v < 311 ? LINETABLE_310 : LINETABLE_LOCATIONS;
	w->lasti_is_index = v == 310;
	w->executable_tagged = v >= 314;
	w->owner_generator = v >= 311 ? 1 : -1;
	/* 3.12/3.13: FRAME_OWNED_BY_CSTACK = 3; 3.14+: INTERPRETER = 3 and up. */
	w->owner_first_skipped = v >= 312 ? 3 : -1;
	w->dict_or_values_tagged = v == 312;
	/* 2.7's Thread keeps its name in a private, name-mangled attribute. */
	w->thread_name_attr = w->major == 2 ? "_Thread__name" : "_name";
}

/* 2.7 / 3.6 without interp_head: the interpreter of the thread holding the
 * GIL. */
static int interp_from_tstate_current(struct pywalker *w, uint64_t *interp)
{
	uint64_t tstate;
	if (!w->tstate_current_addr || target_read_u64(w->target, w->tstate_current_addr, &tstate) < 0 || !tstate)
		return -ERR_NOT_PYTHON;
	return target_read_u64(w->target, tstate + (uint64_t)w->layout.tstate_interp, interp);
}

static int find_interp_head(struct pywalker *w, const struct runtime_symbols *syms)
{
	struct target *t = w->target;
	const struct py_layout *L = &w->layout;
	uint64_t interp = 0;
	int ret;
	if (syms->runtime) {
		ret = target_read_u64(t, syms->runtime + (uint64_t)L->runtime_interpreters_head, &interp);
		if (ret < 0)
			return ret;
	} else if (syms->interp_head) {
		if ((ret = target_read_u64(t, syms->interp_head, &interp)) < 0)
			return ret;
	} else if (syms->interp_seen) {
		interp = syms->interp_seen;
	} else if (interp_from_tstate_current(w, &interp) < 0) {
		return err_set(ERR_NOT_PYTHON,
		               "cannot find the interpreter list: %s has no symbol table and no thread holds the GIL",
		               w->info.library);
	}
	if (!interp)
		return err_set(ERR_NOT_PYTHON, "the Python interpreter in %s is not initialised (or already finalised)",
		               w->info.library);
	/* Sanity: the first thread state points back at its interpreter. */
	uint64_t tstate, back;
	if ((ret = target_read_u64(t, interp + (uint64_t)L->interp_threads_head, &tstate)) < 0)
		return err_set(ERR_CORRUPT, "cannot read the interpreter state at 0x%llx", (unsigned long long)interp);
	if (tstate && (target_read_u64(t, tstate + (uint64_t)L->tstate_interp, &back) < 0 || back != interp))
		return err_set(ERR_CORRUPT,
		               "the interpreter state at 0x%llx does not match Python %s's layout",
		               (unsigned long long)interp, w->info.version);
	w->info.interp_head_addr = interp;
	return 0;
}

/* The version is known (w->info.version_hex and text): the layout, its
 * traits, the debug offsets (3.13+), where the GIL holder is kept and the
 * first interpreter. */
static int use_version(struct pywalker *w, const struct runtime_symbols *syms)
{
	int ret;
	uint32_t hex = w->info.version_hex;
	w->major = hex >> 24;
	w->minor = (hex >> 16) & 0xFF;
	unsigned v = w->major * 100 + w->minor;
	const struct py_layout *table = py_layout_find(w->major, w->minor);
	if (!table && v >= 313) {
		/* A release newer than our tables: debug offsets carry the walk;
		 * the remaining fields come from the newest table. */
		for (size_t i = 0; i < py_layouts_count; i++)
			if (!table || py_layouts[i].version_hex > table->version_hex)
				table = &py_layouts[i];
		if (table && table->version_hex >> 16 < 0x030D)
			table = NULL;
	}
	if (!table || (v < 307 && v != 207 && v != 306))
		return err_set(ERR_UNSUPPORTED_PYTHON, "Python %s is not supported (supported: 2.7, 3.6 and newer)",
		               w->info.version);
	w->layout = *table;
	set_version_traits(w);
	if (v >= 313) {
		if (!syms->runtime)
			return err_set(ERR_NOT_PYTHON, "Python %s without a _PyRuntime symbol", w->info.version);
		if ((ret = apply_debug_offsets(w, syms->runtime)) < 0)
			return ret;
	}
	w->info.runtime_addr = syms->runtime;
	if (v >= 307 && v <= 311 && w->layout.runtime_gilstate_tstate_current >= 0)
		w->tstate_current_addr = syms->runtime + (uint64_t)w->layout.runtime_gilstate_tstate_current;
	else if (v < 307)
		w->tstate_current_addr = syms->tstate_current;
	if (v == 306) {
		w->gil_locked_addr = syms->gil_locked;
		w->gil_holder_addr = syms->gil_last_holder;
		w->finalizing_addr = syms->finalizing;
	}
	if (v < 307)
		w->gc_collecting_addr = syms->gc_collecting;
	return find_interp_head(w, syms);
}

static int use_object(struct pywalker *w, struct elfobj *obj, uint64_t bias, const struct runtime_symbols *syms)
{
	uint32_t hex;
	int ret = detect_version(w, obj, bias, syms, &hex);
	if (ret < 0)
		return ret;
	w->info.version_hex = hex;
	version_text(hex, w->info.version, sizeof(w->info.version));
	if ((hex & 0xFF00) == 0 && !syms->runtime && !syms->py_version && !syms->version_buffer)
		snprintf(w->info.version, sizeof(w->info.version), "%u.%u", hex >> 24, (hex >> 16) & 0xFF);
	return use_version(w, syms);
}

/* A snapshot read where its binaries are missing: the capture recorded the
 * version and where the runtime and the first interpreter were, and the
 * pages the walk reads are in the snapshot. */
static int use_python_seen(struct pywalker *w)
{
	struct target *t = w->target;
	struct runtime_symbols syms = {
		.runtime = t->python_seen.runtime_addr,
		.interp_seen = t->python_seen.interp_head_addr,
	};
	const struct target_mapping *m = syms.runtime ? target_find_mapping(t, syms.runtime) : NULL;
	const char *path = m && m->path ? m->path : t->executable ? t->executable : "the snapshot";
	char *library = xstrdup(path);
	if (!library)
		return -ERR_NOMEM;
	free(w->library_path);
	w->library_path = library;
	w->info.library = library;
	w->info.version_hex = t->python_seen.version_hex;
	version_text(w->info.version_hex, w->info.version, sizeof(w->info.version));
	return use_version(w, &syms);
}

/* The load bias of the file mapped at PATH: where its file offset 0 is
 * mapped minus its first PT_LOAD address. */
static uint64_t load_bias(const struct target *t, const char *path, struct elfobj *obj)
{
	for (size_t i = 0; i < t->nmappings; i++) {
		const struct target_mapping *m = &t->mappings[i];
		if (m->path && m->file_offset == 0 && !strcmp(m->path, path))
			return m->start - elfobj_base_vaddr(obj);
	}
	return 0;
}

/* The program that embeds the runtime found in LIBRARY: the executable,
 * unless the runtime is in it or it is an interpreter (python3.11 with a
 * shared libpython, whose name says so). */
static const char *embedding_host(const struct target *t, const char *library)
{
	if (!t->executable || !library || !strcmp(t->executable, library))
		return NULL;
	return strstr(base_name(t->executable), "python") ? NULL : t->executable;
}

/* The ELF object holding the runtime, among the mapped files; or, for a
 * snapshot without its binaries, what its note says. */
static int find_runtime(struct pywalker *w)
{
	struct target *t = w->target;
	const char *missing = NULL;
	char missing_why[512] = "";
	int last_error = 0;
	for (int rank = 0; rank <= 2; rank++) {
		for (size_t i = 0; i < t->nmappings; i++) {
			const struct target_mapping *m = &t->mappings[i];
			if (!m->path || candidate_rank(t, m->path) != rank)
				continue;
			if (target_first_mapping_of(t, m->path) != m)
				continue; /* each file once */
			char *resolved = NULL;
			int fd = t->ops->open_mapped_file ? t->ops->open_mapped_file(t, m, &resolved) : -ERR_NOENT;
			if (fd < 0) {
				if (!missing) {
					missing = m->path;
					snprintf(missing_why, sizeof(missing_why), "%s", err_context());
				}
				free(resolved);
				continue;
			}
			struct elfobj *obj;
			int ret = elfobj_open_fd(fd, resolved ? resolved : m->path, &obj);
			if (ret < 0) {
				free(resolved);
				continue;
			}
			uint64_t bias = load_bias(t, m->path, obj);
			struct runtime_symbols syms;
			lookup_symbols(obj, bias, &syms);
			if (!syms.runtime && !syms.interp_head && !syms.tstate_current) {
				elfobj_free(obj);
				free(resolved);
				continue;
			}
			free(w->library_path);
			w->library_path = resolved ? resolved : xstrdup(m->path);
			w->info.library = w->library_path;
			ret = use_object(w, obj, bias, &syms);
			elfobj_free(obj);
			if (ret == 0)
				return 0;
			last_error = ret;
		}
	}
	/* Without the binaries, a snapshot says where the interpreter was. */
	if (t->python_seen.version_hex) {
		int saved_code = err_last_code();
		char saved[512];
		snprintf(saved, sizeof(saved), "%s", err_context());
		if (use_python_seen(w) == 0) {
			err_clear();
			free(w->binaries_unused);
			w->binaries_unused = xstrdup(missing_why[0] ? missing_why
			                             : "no mapped file names the Python runtime");
			w->info.binaries_unused = w->binaries_unused;
			return 0;
		}
		if (last_error)
			return err_set((enum err_code)saved_code, "%s", saved);
	}
	if (last_error)
		return last_error;
	if (missing) {
		int ret = err_set(ERR_NOENT, "cannot find %s, which the process had mapped, to look for the Python runtime",
		                  missing);
		err_hint("pass --exe PATH for the executable or --search-path DIR where the files are");
		return ret;
	}
	return err_set(ERR_NOT_PYTHON, "no Python interpreter found in %s",
	               t->executable ? t->executable : "the process");
}

int py_discover(struct pywalker *w)
{
	int ret = find_runtime(w);
	if (ret == 0)
		w->info.host = embedding_host(w->target, w->info.library);
	return ret;
}
