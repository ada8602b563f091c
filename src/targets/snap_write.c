/* Writing a snapshot: an x86_64 ELF core (ET_CORE) with one PT_NOTE
 * (NT_PRSTATUS per thread, NT_PRPSINFO, NT_AUXV, NT_FILE, the pycoreprof
 * note; NT_SIGINFO after the first thread when a fatal signal is known)
 * and one PT_LOAD per run of adjacent regions within one mapping.
 * Formats into memory. */
#include <elf.h>
#include <string.h>
#include <sys/procfs.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"

#define PAGE_BYTES 4096u

static void add_zeros(struct strbuf *sb, size_t n)
{
	static const uint8_t zeros[64];
	while (n) {
		size_t chunk = n < sizeof(zeros) ? n : sizeof(zeros);
		strbuf_add(sb, zeros, chunk);
		n -= chunk;
	}
}

static void pad4(struct strbuf *sb)
{
	add_zeros(sb, (4 - sb->len % 4) % 4);
}

static void add_note(struct strbuf *sb, const char *name, uint32_t type, const void *desc, size_t size)
{
	Elf64_Nhdr nhdr = {.n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = (uint32_t)size, .n_type = type};
	strbuf_add(sb, &nhdr, sizeof(nhdr));
	strbuf_add(sb, name, nhdr.n_namesz);
	pad4(sb);
	strbuf_add(sb, desc, size);
	pad4(sb);
}

static void add_u64(struct strbuf *sb, uint64_t value)
{
	strbuf_add(sb, &value, sizeof(value));
}

static void add_u32(struct strbuf *sb, uint32_t value)
{
	strbuf_add(sb, &value, sizeof(value));
}

static void add_prstatus(struct strbuf *sb, const struct target *t, const struct target_thread *th)
{
	struct elf_prstatus status;
	memset(&status, 0, sizeof(status));
	status.pr_pid = th->tid;
	status.pr_pgrp = t->pid;
	status.pr_cursig = (short)th->cursig;
	memcpy(&status.pr_reg, th->regs, sizeof(th->regs));
	add_note(sb, "CORE", NT_PRSTATUS, &status, sizeof(status));
}

static void add_prpsinfo(struct strbuf *sb, const struct target *t)
{
	struct elf_prpsinfo info;
	memset(&info, 0, sizeof(info));
	info.pr_sname = 'R';
	info.pr_pid = t->pid;
	/* Whose rights the snapshot's source lines are read with; ids that
	 * cannot be read any more are recorded as none (-1), never as root. */
	struct target_file_ids ids;
	bool known = target_file_ids(t, &ids) == 0;
	info.pr_uid = known ? ids.uid : (__pr_uid_t)-1;
	info.pr_gid = known ? ids.gid : (__pr_gid_t)-1;
	if (known)
		target_file_ids_release(&ids);
	const char *exe = t->executable ? t->executable : "";
	const char *base = strrchr(exe, '/');
	strncpy(info.pr_fname, base ? base + 1 : exe, sizeof(info.pr_fname) - 1);
	if (t->command)
		strncpy(info.pr_psargs, t->command, sizeof(info.pr_psargs) - 1);
	add_note(sb, "CORE", NT_PRPSINFO, &info, sizeof(info));
}

static void add_file_note(struct strbuf *sb, const struct target *t)
{
	struct strbuf desc = {0};
	uint64_t count = 0;
	for (size_t i = 0; i < t->nmappings; i++)
		count += t->mappings[i].path != NULL;
	add_u64(&desc, count);
	add_u64(&desc, PAGE_BYTES);
	for (size_t i = 0; i < t->nmappings; i++) {
		const struct target_mapping *m = &t->mappings[i];
		if (!m->path)
			continue;
		add_u64(&desc, m->start);
		add_u64(&desc, m->end);
		add_u64(&desc, m->file_offset / PAGE_BYTES);
	}
	for (size_t i = 0; i < t->nmappings; i++)
		if (t->mappings[i].path)
			strbuf_add(&desc, t->mappings[i].path, strlen(t->mappings[i].path) + 1);
	add_note(sb, "CORE", NT_FILE, desc.buf, desc.len);
	if (desc.failed)
		sb->failed = true;
	strbuf_release(&desc);
}

/* docs/snapshot-format.md describes these bytes. */
static void add_pycoreprof_note(struct strbuf *sb, const struct target *t, const struct snap_info *info)
{
	struct strbuf desc = {0};
	char version[32] = {0};
	if (info->py_version)
		strncpy(version, info->py_version, sizeof(version) - 1);
	add_u32(&desc, SNAP_FORMAT_VERSION);
	add_u32(&desc, info->py_version_hex);
	add_u64(&desc, info->capture_ns);
	add_u64(&desc, info->interval_ns);
	add_u64(&desc, info->runtime_addr);
	add_u64(&desc, info->interp_head_addr);
	strbuf_add(&desc, version, sizeof(version));
	add_u32(&desc, (uint32_t)info->nbuild_ids);
	for (size_t i = 0; i < info->nbuild_ids; i++) {
		const struct snap_build_id *b = &info->build_ids[i];
		size_t path_len = strlen(b->path) + 1;
		add_u32(&desc, (uint32_t)b->len);
		add_u32(&desc, (uint32_t)path_len);
		strbuf_add(&desc, b->id, b->len);
		strbuf_add(&desc, b->path, path_len);
		pad4(&desc);
	}
	/* NT_PRPSINFO keeps 80 characters of the command line: all of it. */
	const char *command = info->command ? info->command : "";
	size_t command_len = strlen(command) + 1;
	add_u32(&desc, (uint32_t)command_len);
	strbuf_add(&desc, command, command_len);
	pad4(&desc);
	/* A process in another PID namespace: the ids it knows its threads by. */
	add_u32(&desc, (uint32_t)t->ns_pid);
	add_u32(&desc, t->ns_pid ? (uint32_t)t->n_ns_tids : 0);
	for (size_t i = 0; t->ns_pid && i < t->n_ns_tids; i++) {
		add_u32(&desc, (uint32_t)t->ns_tids[i].tid);
		add_u32(&desc, (uint32_t)t->ns_tids[i].ns_tid);
	}
	add_note(sb, SNAP_NOTE_NAME, SNAP_NOTE_TYPE, desc.buf, desc.len);
	if (desc.failed)
		sb->failed = true;
	strbuf_release(&desc);
}

static void build_notes(struct strbuf *notes, const struct target *t, const struct snap_info *info)
{
	/* The thread a fatal signal came to goes first, its NT_SIGINFO right
	 * after it, as the kernel writes them; without one, the thread the
	 * process is named after. */
	pid_t first = t->has_signal && t->signal.tid ? t->signal.tid : t->pid;
	for (size_t pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < t->nthreads; i++) {
			const struct target_thread *th = &t->threads[i];
			if (th->has_regs && (th->tid == first) == (pass == 0))
				add_prstatus(notes, t, th);
		}
		for (size_t i = 0; i < info->nasleep; i++)
			if ((info->asleep[i].tid == first) == (pass == 0))
				add_prstatus(notes, t, &info->asleep[i]);
		if (pass == 0 && t->has_signal && t->signal.siginfo_len)
			add_note(notes, "CORE", NT_SIGINFO, t->signal.siginfo, t->signal.siginfo_len);
	}
	add_prpsinfo(notes, t);
	if (t->auxv_words)
		add_note(notes, "CORE", NT_AUXV, t->auxv, t->auxv_words * sizeof(*t->auxv));
	add_file_note(notes, t);
	add_pycoreprof_note(notes, t, info);
}

static uint32_t segment_flags(const struct target *t, uint64_t addr)
{
	const struct target_mapping *m = target_find_mapping(t, addr);
	if (!m)
		return PF_R | PF_W;
	return (m->readable ? PF_R : 0) | (m->writable ? PF_W : 0) | (m->executable ? PF_X : 0);
}

/* Whether region I extends region I - 1's PT_LOAD: adjacent and in the same
 * mapping. Like the kernel's, one PT_LOAD never spans two mappings: tools
 * that find modules by an ELF header at the start of a segment (libdwfl)
 * would miss a library whose first page follows a thread's stack. */
static bool continues(const struct target *t, const struct snap_region *regions, size_t i)
{
	return i && regions[i - 1].addr + regions[i - 1].len == regions[i].addr &&
	       target_find_mapping(t, regions[i - 1].addr) == target_find_mapping(t, regions[i].addr);
}

int snapshot_build(const struct target *t, const struct snap_region *regions, size_t nregions,
                   const struct snap_info *info, struct strbuf *out)
{
	struct strbuf notes = {0};
	int ret = 0;
	size_t nloads = 0;
	for (size_t i = 0; i < nregions; i++)
		nloads += !continues(t, regions, i);
	build_notes(&notes, t, info);
	if (!strbuf_ok(&notes)) {
		ret = err_set(ERR_NOMEM, "cannot build the notes of a snapshot");
		goto out;
	}
	size_t nphdrs = 1 + nloads;
	uint64_t notes_offset = sizeof(Elf64_Ehdr) + nphdrs * sizeof(Elf64_Phdr);
	uint64_t data_offset = (notes_offset + notes.len + PAGE_BYTES - 1) & ~(uint64_t)(PAGE_BYTES - 1);
	Elf64_Ehdr ehdr = {
		.e_type = ET_CORE, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
		.e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = (Elf64_Half)nphdrs,
	};
	memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
	ehdr.e_ident[EI_CLASS] = ELFCLASS64;
	ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
	ehdr.e_ident[EI_VERSION] = EV_CURRENT;
	ehdr.e_ident[EI_OSABI] = ELFOSABI_NONE;
	strbuf_add(out, &ehdr, sizeof(ehdr));
	Elf64_Phdr note_phdr = {.p_type = PT_NOTE, .p_offset = notes_offset, .p_filesz = notes.len, .p_align = 4};
	strbuf_add(out, &note_phdr, sizeof(note_phdr));
	uint64_t offset = data_offset;
	for (size_t i = 0; i < nregions;) {
		size_t j = i + 1;
		uint64_t len = regions[i].len;
		while (j < nregions && continues(t, regions, j))
			len += regions[j++].len;
		Elf64_Phdr load = {
			.p_type = PT_LOAD, .p_flags = segment_flags(t, regions[i].addr),
			.p_offset = offset, .p_vaddr = regions[i].addr,
			.p_filesz = len, .p_memsz = len, .p_align = PAGE_BYTES,
		};
		strbuf_add(out, &load, sizeof(load));
		offset += len;
		i = j;
	}
	strbuf_add(out, notes.buf, notes.len);
	add_zeros(out, data_offset - (notes_offset + notes.len));
	for (size_t i = 0; i < nregions; i++)
		strbuf_add(out, regions[i].data, regions[i].len);
	if (!strbuf_ok(out))
		ret = err_set(ERR_NOMEM, "cannot build a snapshot of %llu bytes", (unsigned long long)offset);
out:
	strbuf_release(&notes);
	return ret;
}
