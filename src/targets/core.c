/* The ELF core backend: opens a core (decompressed first when compressed),
 * checks it is a complete x86_64 core, indexes its PT_LOAD segments and
 * serves reads from them. Decompression, notes, mappings and mapped files
 * are handled in core_*.c. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"
#include "targets/core_internal.h"

#define AT_PHDR_TYPE 3
#define AT_ENTRY_TYPE 9

const struct core_segment *core_find_segment(struct core_backend *core, uint64_t addr,
                                             uint64_t *next_start)
{
	const struct core_segment *segs = core->segments;
	size_t count = core->nsegments;

	/* Reads cluster: try the last segment hit before searching. */
	if (core->last_segment < count) {
		const struct core_segment *seg = &segs[core->last_segment];
		if (addr >= seg->vaddr && addr - seg->vaddr < seg->memsz) {
			if (next_start)
				*next_start = core->last_segment + 1 < count
				              ? segs[core->last_segment + 1].vaddr : UINT64_MAX;
			return seg;
		}
	}
	size_t low = SORTED_UPPER_BOUND(segs, count, vaddr, addr);
	if (next_start)
		*next_start = low < count ? segs[low].vaddr : UINT64_MAX;
	if (!low)
		return NULL;
	const struct core_segment *seg = &segs[low - 1];
	if (addr - seg->vaddr >= seg->memsz)
		return NULL;
	core->last_segment = low - 1;
	return seg;
}

int core_read_stored(struct core_backend *core, uint64_t addr, void *buf, size_t len)
{
	uint8_t *dest = buf;
	while (len) {
		const struct core_segment *seg = core_find_segment(core, addr, NULL);
		if (!seg || addr - seg->vaddr >= seg->filesz)
			return err_set(ERR_UNMAPPED, "address 0x%llx is not stored in core %s",
			               (unsigned long long)addr, core->core_path);
		uint64_t skip = addr - seg->vaddr;
		uint64_t avail = seg->filesz - skip;
		size_t chunk = len < avail ? len : (size_t)avail;
		memcpy(dest, core->image + seg->offset + skip, chunk);
		dest += chunk;
		addr += chunk;
		len -= chunk;
	}
	return 0;
}

/* Bytes stored in the core come first; what the core left out (file-backed
 * text and read-only data, or a segment's tail past p_filesz) is read from
 * the file behind the mapping. */
static int core_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	struct core_backend *core = t->backend;
	uint8_t *dest = buf;

	while (len) {
		uint64_t next_start;
		const struct core_segment *seg = core_find_segment(core, addr, &next_start);
		size_t chunk;
		if (seg && addr - seg->vaddr < seg->filesz) {
			uint64_t skip = addr - seg->vaddr;
			uint64_t avail = seg->filesz - skip;
			chunk = len < avail ? len : (size_t)avail;
			memcpy(dest, core->image + seg->offset + skip, chunk);
		} else {
			uint64_t limit = seg ? seg->vaddr + seg->memsz : next_start;
			uint64_t want = limit - addr;
			int ret = core_file_read(t, addr, dest, len < want ? len : (size_t)want, &chunk);
			if (ret)
				return ret;
		}
		dest += chunk;
		addr += chunk;
		len -= chunk;
	}
	return 0;
}

static void core_destroy(struct target *t)
{
	struct core_backend *core = t->backend;
	if (!core)
		return;
	core_files_release(core);
	free(core->segments);
	if (core->elf)
		elf_end(core->elf);
	if (core->fd >= 0)
		close(core->fd);
	free(core->exe_override);
	free(core->core_path);
	free(core);
	t->backend = NULL;
}

static const struct target_ops core_ops = {
	.read = core_read,
	.open_mapped_file = core_open_mapped_file,
	.destroy = core_destroy,
};

static int open_core_fd(const char *path, int *out_fd)
{
	int ret = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		enum err_code code = saved == ENOENT ? ERR_NOENT
		                   : saved == EACCES || saved == EPERM ? ERR_PERM : ERR_IO;
		return err_set_errno(code, saved, "cannot open core %s", path);
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		ret = err_set_errno(ERR_IO, errno, "cannot stat core %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = err_set(ERR_NOT_ELF, "%s is not an ELF file: not a regular file", path);
		goto out;
	}
	int decompressed_fd;
	ret = core_decompress(fd, path, &decompressed_fd);
	if (ret)
		goto out;
	if (decompressed_fd >= 0) {
		close(fd);
		fd = decompressed_fd;
	}
	*out_fd = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static const char *not_core_kind(Elf *elf, const GElf_Ehdr *ehdr)
{
	switch (ehdr->e_type) {
	case ET_EXEC:
		return "an executable";
	case ET_REL:
		return "a relocatable object file";
	case ET_DYN: {
		/* A position-independent executable is ET_DYN with an interpreter. */
		size_t count = 0;
		if (elf_getphdrnum(elf, &count) == 0) {
			for (size_t i = 0; i < count; i++) {
				GElf_Phdr phdr;
				if (gelf_getphdr(elf, (int)i, &phdr) && phdr.p_type == PT_INTERP)
					return "an executable";
			}
		}
		return "a shared object";
	}
	default:
		return "an ELF file of another type";
	}
}

static int check_header(struct core_backend *core, GElf_Ehdr *ehdr)
{
	const char *path = core->core_path;
	if (!core->elf || elf_kind(core->elf) != ELF_K_ELF) {
		if (core->image_size >= SELFMAG && memcmp(core->image, ELFMAG, SELFMAG) == 0)
			return err_set(ERR_TRUNCATED, "core %s is truncated: %zu of %zu bytes present",
			               path, core->image_size, sizeof(Elf64_Ehdr));
		return err_set(ERR_NOT_ELF, "%s is not an ELF file", path);
	}
	if (!gelf_getehdr(core->elf, ehdr))
		return err_set(ERR_CORRUPT, "cannot read the ELF header of core %s: %s",
		               path, elf_errmsg(-1));
	if (ehdr->e_type != ET_CORE) {
		int ret = err_set(ERR_NOT_CORE, "%s is %s, not a core file", path,
		                  not_core_kind(core->elf, ehdr));
		err_hint("give the executable with --exe and the core as the argument");
		return ret;
	}
	if (ehdr->e_ident[EI_CLASS] != ELFCLASS64 || ehdr->e_ident[EI_DATA] != ELFDATA2LSB)
		return err_set(ERR_NOT_CORE, "core %s is not a 64-bit little-endian core; only x86_64 cores are supported",
		               path);
	if (ehdr->e_machine != EM_X86_64)
		return err_set(ERR_NOT_CORE, "core %s is for machine type %u; only x86_64 cores are supported",
		               path, ehdr->e_machine);
	return 0;
}

static int compare_segments(const void *a, const void *b)
{
	const struct core_segment *left = a, *right = b;
	return left->vaddr < right->vaddr ? -1 : left->vaddr > right->vaddr;
}

/* Index PT_LOAD and PT_NOTE, checking that every byte they claim is in the
 * file; then parse the notes. */
static int load_program_headers(struct target *t, struct core_backend *core,
                                const GElf_Ehdr *ehdr)
{
	const char *path = core->core_path;
	const uint8_t **notes = NULL;
	size_t *note_sizes = NULL;
	size_t nnotes = 0;
	size_t count = 0;
	int ret;

	uint64_t table_end = ehdr->e_phoff + (uint64_t)ehdr->e_phnum * ehdr->e_phentsize;
	if (ehdr->e_phoff > core->image_size || table_end > core->image_size) {
		ret = err_set(ERR_TRUNCATED, "core %s is truncated: %zu of %llu bytes present",
		              path, core->image_size, (unsigned long long)table_end);
		goto out;
	}
	if (elf_getphdrnum(core->elf, &count) != 0) {
		ret = err_set(ERR_CORRUPT, "cannot read the program headers of core %s: %s",
		              path, elf_errmsg(-1));
		goto out;
	}
	core->segments = xcalloc(count, sizeof(*core->segments));
	notes = xcalloc(count, sizeof(*notes));
	note_sizes = xcalloc(count, sizeof(*note_sizes));
	if (!core->segments || !notes || !note_sizes) {
		ret = -ERR_NOMEM;
		goto out;
	}
	uint64_t needed = table_end;
	for (size_t i = 0; i < count; i++) {
		GElf_Phdr phdr;
		if (!gelf_getphdr(core->elf, (int)i, &phdr)) {
			ret = err_set(ERR_CORRUPT, "cannot read program header %zu of core %s: %s",
			              i, path, elf_errmsg(-1));
			goto out;
		}
		if (phdr.p_type != PT_LOAD && phdr.p_type != PT_NOTE)
			continue;
		uint64_t end = phdr.p_offset + phdr.p_filesz;
		if (end < phdr.p_offset) {
			ret = err_set(ERR_CORRUPT, "program header %zu of core %s has an impossible size",
			              i, path);
			goto out;
		}
		if (end > needed)
			needed = end;
		if (end > core->image_size)
			continue;   /* reported below, with the full size */
		if (phdr.p_type == PT_NOTE) {
			notes[nnotes] = core->image + phdr.p_offset;
			note_sizes[nnotes++] = phdr.p_filesz;
			continue;
		}
		uint64_t memsz = phdr.p_memsz > phdr.p_filesz ? phdr.p_memsz : phdr.p_filesz;
		if (!memsz || phdr.p_vaddr + memsz < phdr.p_vaddr)
			continue;   /* empty, or wraps around the address space */
		core->segments[core->nsegments++] = (struct core_segment){
			.vaddr = phdr.p_vaddr, .memsz = memsz,
			.offset = phdr.p_offset, .filesz = phdr.p_filesz,
			.flags = phdr.p_flags,
		};
	}
	if (needed > core->image_size) {
		ret = err_set(ERR_TRUNCATED, "core %s is truncated: %zu of %llu bytes present",
		              path, core->image_size, (unsigned long long)needed);
		goto out;
	}
	qsort(core->segments, core->nsegments, sizeof(*core->segments), compare_segments);
	ret = core_parse_notes(t, core, notes, note_sizes, nnotes);
out:
	free(notes);
	free(note_sizes);
	return ret;
}

/* The mapping that holds the program's headers or entry point names the
 * executable; failing that, the lowest file mapping. */
static const struct target_mapping *executable_mapping(const struct target *t)
{
	const uint64_t probes[] = { target_auxv(t, AT_PHDR_TYPE), target_auxv(t, AT_ENTRY_TYPE) };
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		const struct target_mapping *m = probes[i] ? target_find_mapping(t, probes[i]) : NULL;
		if (m && m->path)
			return m;
	}
	for (size_t i = 0; i < t->nmappings; i++)
		if (t->mappings[i].path)
			return &t->mappings[i];
	return NULL;
}

/* With --exe, the executable's mappings are renamed to the given file so that
 * lookups by t->executable find them and reads use that file. */
static int choose_executable(struct target *t, struct core_backend *core)
{
	const struct target_mapping *exe = executable_mapping(t);
	if (!core->exe_override) {
		if (exe && !(t->executable = xstrdup(exe->path)))
			return -ERR_NOMEM;
		return 0;
	}
	if (!(t->executable = xstrdup(core->exe_override)))
		return -ERR_NOMEM;
	if (!exe)
		return 0;
	char *recorded = xstrdup(exe->path);
	if (!recorded)
		return -ERR_NOMEM;
	int ret = 0;
	for (size_t i = 0; i < t->nmappings; i++) {
		struct target_mapping *m = &t->mappings[i];
		if (!m->path || strcmp(m->path, recorded) != 0)
			continue;
		char *renamed = xstrdup(core->exe_override);
		if (!renamed) {
			ret = -ERR_NOMEM;
			break;
		}
		free(m->path);
		m->path = renamed;
	}
	free(recorded);
	return ret;
}

/* --sysroot DIR: an existing directory, kept without trailing slashes
 * ("/" stays NULL: our own root). */
static int set_sysroot(struct target *t, const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return err_set_errno(ERR_NOENT, errno, "cannot use sysroot %s", dir);
	if (!S_ISDIR(st.st_mode))
		return err_set(ERR_NOENT, "sysroot %s is not a directory", dir);
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == 1 && dir[0] == '/')
		return 0;
	t->root = xstrndup(dir, len);
	return t->root ? 0 : -ERR_NOMEM;
}

int core_target_open(const char *path, const struct core_open_options *opts,
                     struct target **out)
{
	struct target *t = NULL;
	struct core_backend *core = NULL;
	GElf_Ehdr ehdr;
	int ret;

	*out = NULL;
	t = xcalloc(1, sizeof(*t));
	core = xcalloc(1, sizeof(*core));
	if (!t || !core) {
		free(core);
		ret = -ERR_NOMEM;
		goto out;
	}
	core->fd = -1;
	t->ops = &core_ops;
	t->kind = TARGET_CORE;
	t->backend = core;
	core->core_path = xstrdup(path);
	if (!core->core_path) {
		ret = -ERR_NOMEM;
		goto out;
	}
	if (opts && opts->exe_path && !(core->exe_override = xstrdup(opts->exe_path))) {
		ret = -ERR_NOMEM;
		goto out;
	}
	if (opts && opts->search_path && !(t->search_path = xstrdup(opts->search_path))) {
		ret = -ERR_NOMEM;
		goto out;
	}
	if (opts && opts->sysroot && (ret = set_sysroot(t, opts->sysroot)) < 0)
		goto out;
	ret = open_core_fd(path, &core->fd);
	if (ret)
		goto out;
	elf_version(EV_CURRENT);
	/* libelf maps the file; only the pages we touch are ever read. */
	core->elf = elf_begin(core->fd, ELF_C_READ_MMAP, NULL);
	if (core->elf)
		core->image = (const uint8_t *)elf_rawfile(core->elf, &core->image_size);
	if (!core->image) {
		uint8_t head[SELFMAG] = {0};
		ssize_t got = pread(core->fd, head, sizeof(head), 0);
		if (got == (ssize_t)sizeof(head) && memcmp(head, ELFMAG, SELFMAG) == 0)
			ret = err_set(ERR_TRUNCATED, "core %s is truncated: its ELF header is incomplete", path);
		else
			ret = err_set(ERR_NOT_ELF, "%s is not an ELF file", path);
		goto out;
	}
	ret = check_header(core, &ehdr);
	if (ret)
		goto out;
	ret = load_program_headers(t, core, &ehdr);
	if (ret)
		goto out;
	ret = core_build_mappings(t, core);
	if (ret)
		goto out;
	ret = choose_executable(t, core);
	if (ret)
		goto out;
	/* pr_psargs stops at 80 characters: a snapshot's note has all of it,
	 * a kernel core's stack the rest. */
	char *full_command;
	if (core->noted_command) {
		free(t->command);
		t->command = core->noted_command;
		core->noted_command = NULL;
	} else if (t->command && strlen(t->command) >= 79 && target_read_argv(t, &full_command) == 0) {
		free(t->command);
		t->command = full_command;
	}
	err_clear();
	*out = t;
	t = NULL;
out:
	target_free(t);
	return ret;
}
