/* State shared by the files of the core backend: core.c (open, segments,
 * reads), core_gzip.c, core_notes.c, core_maps.c and core_files.c. Not an
 * interface for other layers: they use pycoreprof/target.h. */
#ifndef PYCOREPROF_TARGET_CORE_INTERNAL_H
#define PYCOREPROF_TARGET_CORE_INTERNAL_H

#include <elf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pycoreprof/target.h"

/* One PT_LOAD of the core: [vaddr, vaddr + memsz) of which the first filesz
 * bytes are stored at offset in the core. */
struct core_segment {
	uint64_t vaddr, memsz;
	uint64_t offset, filesz;
	uint32_t flags;             /* PF_R | PF_W | PF_X */
};

/* A file the core's mappings name, resolved once (found or not) and kept
 * open and mapped for the lifetime of the target. */
struct core_file {
	char *recorded_path;        /* as NT_FILE (or --exe) named it */
	int status;                 /* 0 when found, else -ERR_x */
	char *error_context;        /* why it was not found, replayed on use */
	char *error_hint;
	char *resolved_path;
	int fd;
	const uint8_t *map;         /* whole file, read-only; NULL when empty */
	size_t map_size;
};

struct core_backend {
	char *core_path;            /* as given, for messages */
	int fd;
	Elf *elf;
	const uint8_t *image;       /* the core file, mapped by libelf */
	size_t image_size;
	struct core_segment *segments; /* sorted by vaddr, memsz > 0 */
	size_t nsegments;
	size_t last_segment;        /* index of the last hit, a cheap cache */
	struct core_file *files;
	size_t nfiles, files_cap;
	char *exe_override;         /* --exe, NULL when not given */
	/* Build-ids a snapshot's pycoreprof note recorded, by file path: used
	 * when the core holds no header page of the file to read one from. */
	struct core_noted_id {
		char *path;
		uint8_t id[64];
		size_t len;
	} *noted_ids;
	size_t nnoted_ids;
	char *noted_command;        /* a snapshot's whole command line, or NULL */
};

/* core_gzip.c: inflate the gzip stream on IN_FD into a new memfd. */
int core_gunzip(int in_fd, const char *path, int *out_fd);

/* core_notes.c: threads, pid, command, signal, auxv and the NT_FILE
 * mappings (into t->mappings, unsorted) from every PT_NOTE. */
int core_parse_notes(struct target *t, struct core_backend *core,
                     const uint8_t *const *notes, const size_t *note_sizes, size_t nnotes);

/* core_maps.c: sort the NT_FILE mappings, add the PT_LOAD ranges they do
 * not cover as anonymous mappings and set permissions from PT_LOAD flags. */
int core_build_mappings(struct target *t, struct core_backend *core);

/* core.c: the PT_LOAD containing ADDR, or NULL; *NEXT_START receives the
 * start of the next segment above ADDR (UINT64_MAX if none). */
const struct core_segment *core_find_segment(struct core_backend *core, uint64_t addr,
                                             uint64_t *next_start);
/* core.c: read only bytes stored in the core itself (no file fallback). */
int core_read_stored(struct core_backend *core, uint64_t addr, void *buf, size_t len);

/* core_headers.c: the ELF program headers of the file PATH, read from the
 * header page the core stores for its offset-0 mapping in MAPS. On success
 * *PHDRS is the caller's to free and *HEADER_MAP is that mapping. */
int core_stored_phdrs(struct core_backend *core, const struct target_mapping *maps,
                      size_t nmaps, const char *path,
                      const struct target_mapping **header_map,
                      Elf64_Phdr **phdrs, size_t *count);

/* core_files.c: read up to MAX_LEN bytes at ADDR from the file behind the
 * mapping that contains it; *DONE is how many (> 0 on success). */
int core_file_read(struct target *t, uint64_t addr, void *buf, size_t max_len, size_t *done);
int core_open_mapped_file(struct target *t, const struct target_mapping *m,
                          char **resolved_path);
void core_files_release(struct core_backend *core);

#endif
