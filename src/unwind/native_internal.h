/* State shared by the native unwinder's files: native_unwind.c (the libdwfl
 * session, modules and unwinding) and native_symbols.c (symbol and line
 * caches, frame classes). Not an interface: other layers use native.h. */
#ifndef PYCOREPROF_UNWIND_NATIVE_INTERNAL_H
#define PYCOREPROF_UNWIND_NATIVE_INTERNAL_H

#include <elfutils/libdwfl.h>

#include "pycoreprof/native.h"

/* A function's address range in one module, from its symbol, else from
 * the FDE that covers it; entries that found neither cover the one address
 * looked up. */
struct native_function {
	uint64_t start, end;
	char *name;              /* demangled; without a symbol "library+0xSTART" */
	bool named;              /* NAME is a symbol's */
	enum native_class cls;
};

/* A module's .eh_frame_hdr table, read on first use (native_fde.c):
 * pointers into the file image of ELF, which libdwfl keeps. */
struct native_fde_index {
	bool read;               /* looked for; COUNT 0 when there is none */
	Elf *elf;
	uint64_t hdr_vaddr;      /* link-time address of .eh_frame_hdr */
	const uint8_t *table;    /* COUNT pairs of (first address, FDE) */
	size_t count;
};

/* One ELF file mapped in the target. */
struct native_module {
	uint64_t start, end;     /* addresses its mappings cover */
	uint64_t bias;           /* load bias: runtime address - link-time address */
	char *path;              /* as the target maps it */
	Dwfl_Module *dwfl_module;
	bool interpreter;        /* holds CPython's runtime */
	bool c_library;          /* libc (or libpthread): where processes and threads start */
	char *build_id;          /* hex, once looked for (BUILD_ID_READ); NULL when none */
	bool build_id_read;
	struct native_fde_index fdes;
	struct native_function *functions; /* sorted by start */
	size_t nfunctions, functions_cap;
};

/* Source position of one address, cached. */
struct native_line {
	uint64_t pc;             /* the hashtab key: never 0 */
	const char *file;        /* owned by libdw */
	int line;
};

struct native_unwinder {
	struct target *target;
	const struct pyinfo *py;
	Dwfl *dwfl;
	Dwfl_Callbacks callbacks;  /* must outlive the session */
	char *debuginfo_path;
	struct native_module *modules; /* sorted by start */
	size_t nmodules, modules_cap;
	uint64_t mappings_generation;  /* of the target's mappings the modules come from */
	uint8_t *vdso_image;       /* the vDSO read from memory, backing its Elf */
	size_t vdso_size;
	const struct native_thread_copy *current; /* the thread being unwound */
	struct hashtab lines;      /* of native_line, by pc */
};

/* native_fde.c: the function holding link-time address VADDR of ELF, from
 * its unwind tables: [*START, *END) in link-time addresses, 0; -1 when no
 * FDE covers VADDR or the tables cannot be read. */
int native_fde_range(struct native_fde_index *index, Elf *elf, uint64_t vaddr, uint64_t *start, uint64_t *end);

/* native_debuginfo.c: libdwfl's find_debuginfo callback (its userdata is
 * the unwinder), and the directories it searches for target T (the
 * callbacks' debuginfo_path; a new string, NULL when out of memory). */
int native_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                          const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
                          char **debuginfo_file_name);
char *native_debug_search_path(const struct target *t);

/* native_symbols.c */
/* The module containing ADDR, or NULL. */
struct native_module *native_module_at(struct native_unwinder *u, uint64_t addr);
void native_symbols_release(struct native_unwinder *u);

#endif
