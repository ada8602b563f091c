/* Building a core's mapping table: the NT_FILE list, sorted and made
 * non-overlapping, plus the PT_LOAD ranges no file covers as anonymous
 * mappings; permissions come from the PT_LOAD flags. */
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "targets/core_internal.h"

/* Mappings start on page boundaries; 4 KiB is x86_64's base page size. */
#define PAGE_GUESS 4096u

static int compare_mappings(const void *a, const void *b)
{
	const struct target_mapping *left = a, *right = b;
	return left->start < right->start ? -1 : left->start > right->start;
}

/* Sort mappings, then clip any that overlap their predecessor (a corrupt
 * or odd core); returns the number kept. */
static size_t tidy_mappings(struct target_mapping *maps, size_t count)
{
	size_t kept = 0;
	if (!count)
		return 0;
	qsort(maps, count, sizeof(*maps), compare_mappings);
	for (size_t i = 0; i < count; i++) {
		struct target_mapping *m = &maps[i];
		if (kept && m->start < maps[kept - 1].end) {
			uint64_t clip = maps[kept - 1].end - m->start;
			if (clip >= m->end - m->start) {
				free(m->path);
				continue;
			}
			m->start += clip;
			m->file_offset += clip;
		}
		maps[kept++] = *m;
	}
	return kept;
}

static void set_permissions(struct target_mapping *m, uint32_t flags)
{
	m->readable = flags & PF_R;
	m->writable = flags & PF_W;
	m->executable = flags & PF_X;
}

/* gcore leaves read-only file mappings (text) out of its PT_LOADs; the
 * file's own program headers, from the stored header page, tell what they
 * are. */
static void infer_permissions(struct core_backend *core, const struct target_mapping *files,
                              size_t nfiles, struct target_mapping *m)
{
	const struct target_mapping *header_map;
	Elf64_Phdr *phdrs;
	size_t count;

	if (core_stored_phdrs(core, files, nfiles, m->path, &header_map, &phdrs, &count) != 0)
		return;
	const Elf64_Phdr *containing = NULL;
	for (size_t i = 0; i < count; i++) {
		const Elf64_Phdr *phdr = &phdrs[i];
		uint64_t first_page = phdr->p_offset & ~(uint64_t)(PAGE_GUESS - 1);
		if (phdr->p_type != PT_LOAD)
			continue;
		if (first_page == m->file_offset) {
			containing = phdr;
			break;
		}
		if (!containing && m->file_offset > first_page &&
		    m->file_offset - phdr->p_offset < phdr->p_filesz)
			containing = phdr;
	}
	if (containing)
		set_permissions(m, containing->p_flags);
	free(phdrs);
}

int core_build_mappings(struct target *t, struct core_backend *core)
{
	struct target_mapping *files = t->mappings;
	size_t nfiles = tidy_mappings(files, t->nmappings);
	struct target_mapping *all = NULL;
	size_t nall = 0, capacity = nfiles + core->nsegments + 1;
	int ret = 0;

	t->nmappings = nfiles;
	/* Each segment adds at most one piece per file mapping it spans plus
	 * one; grow when a segment is split many times. */
	all = xcalloc(capacity, sizeof(*all));
	if (!all)
		return -ERR_NOMEM;
	for (size_t i = 0; i < nfiles; i++) {
		const struct core_segment *seg = core_find_segment(core, files[i].start, NULL);
		if (seg)
			set_permissions(&files[i], seg->flags);
		else
			infer_permissions(core, files, nfiles, &files[i]);
		all[nall++] = files[i];
	}
	size_t next_file = 0;
	for (size_t s = 0; s < core->nsegments; s++) {
		const struct core_segment *seg = &core->segments[s];
		uint64_t cursor = seg->vaddr, seg_end = seg->vaddr + seg->memsz;
		while (next_file < nfiles && files[next_file].end <= cursor)
			next_file++;
		size_t f = next_file;
		while (cursor < seg_end) {
			uint64_t piece_end = seg_end;
			if (f < nfiles && files[f].start < seg_end)
				piece_end = files[f].start > cursor ? files[f].start : cursor;
			if (piece_end > cursor) {
				if (ARRAY_GROW(all, capacity, nall + 1) < 0) {
					ret = -ERR_NOMEM;
					goto out;
				}
				struct target_mapping *anon = &all[nall++];
				*anon = (struct target_mapping){ .start = cursor, .end = piece_end };
				set_permissions(anon, seg->flags);
				cursor = piece_end;
			}
			if (f < nfiles && files[f].start < seg_end) {
				if (files[f].end > cursor)
					cursor = files[f].end;
				f++;
			}
		}
	}
	/* The paths now belong to ALL; overlapping PT_LOADs of a damaged core
	 * are clipped like overlapping files. */
	free(t->mappings);
	t->mappings = all;
	t->nmappings = tidy_mappings(all, nall);
	all = NULL;
out:
	free(all);
	return ret;
}
