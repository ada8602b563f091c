/* Reading a mapped file's ELF program headers from the header page that the
 * kernel (and gcore) store for its offset-0 mapping. Only bytes stored in the
 * core are used, so nothing here depends on finding the file itself. */
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "targets/core_internal.h"

#define MAX_HEADER_PHDRS 512

int core_stored_phdrs(struct core_backend *core, const struct target_mapping *maps,
                      size_t nmaps, const char *path,
                      const struct target_mapping **header_map,
                      Elf64_Phdr **phdrs, size_t *count)
{
	const struct target_mapping *m = NULL;
	Elf64_Ehdr ehdr;

	*header_map = NULL;
	*phdrs = NULL;
	*count = 0;
	for (size_t i = 0; i < nmaps && !m; i++)
		if (maps[i].path && maps[i].file_offset == 0 && strcmp(maps[i].path, path) == 0)
			m = &maps[i];
	if (!m)
		return -ERR_UNMAPPED;
	uint64_t span = m->end - m->start;
	if (core_read_stored(core, m->start, &ehdr, sizeof(ehdr)) != 0)
		return -ERR_UNMAPPED;
	if (memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0 || ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
	    ehdr.e_phentsize != sizeof(Elf64_Phdr) || !ehdr.e_phnum ||
	    ehdr.e_phnum > MAX_HEADER_PHDRS || ehdr.e_phoff > span ||
	    (uint64_t)ehdr.e_phnum * sizeof(Elf64_Phdr) > span - ehdr.e_phoff)
		return -ERR_NOT_ELF;
	Elf64_Phdr *table = xcalloc(ehdr.e_phnum, sizeof(*table));
	if (!table)
		return -ERR_NOMEM;
	int ret = core_read_stored(core, m->start + ehdr.e_phoff, table,
	                           ehdr.e_phnum * sizeof(*table));
	if (ret) {
		free(table);
		return ret;
	}
	*header_map = m;
	*phdrs = table;
	*count = ehdr.e_phnum;
	return 0;
}
