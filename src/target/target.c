/* The backend-independent half of the target interface: freeing a target,
 * typed reads, and lookups in the thread, mapping and auxv tables that every
 * backend fills. Backends live in their own files. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"

void target_free(struct target *t)
{
	if (!t)
		return;
	if (t->ops && t->ops->destroy)
		t->ops->destroy(t);
	for (size_t i = 0; i < t->nmappings; i++)
		free(t->mappings[i].path);
	free(t->mappings);
	free(t->threads);
	free(t->auxv);
	free(t->command);
	free(t->executable);
	free(t->search_path);
	free(t);
}

int target_read_u64(struct target *t, uint64_t addr, uint64_t *out)
{
	return target_read(t, addr, out, sizeof(*out));
}

int target_read_u32(struct target *t, uint64_t addr, uint32_t *out)
{
	return target_read(t, addr, out, sizeof(*out));
}

int target_read_i32(struct target *t, uint64_t addr, int32_t *out)
{
	return target_read(t, addr, out, sizeof(*out));
}

const struct target_mapping *target_find_mapping(const struct target *t, uint64_t addr)
{
	size_t low = 0, high = t->nmappings;
	/* Find the last mapping starting at or below ADDR. */
	while (low < high) {
		size_t mid = low + (high - low) / 2;
		if (t->mappings[mid].start <= addr)
			low = mid + 1;
		else
			high = mid;
	}
	if (!low)
		return NULL;
	const struct target_mapping *m = &t->mappings[low - 1];
	return addr < m->end ? m : NULL;
}

const struct target_mapping *target_first_mapping_of(const struct target *t, const char *path)
{
	if (!path)
		return NULL;
	for (size_t i = 0; i < t->nmappings; i++)
		if (t->mappings[i].path && strcmp(t->mappings[i].path, path) == 0)
			return &t->mappings[i];
	return NULL;
}

const struct target_thread *target_find_thread(const struct target *t, pid_t tid)
{
	for (size_t i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return &t->threads[i];
	return NULL;
}

uint64_t target_auxv(const struct target *t, uint64_t type)
{
	for (size_t i = 0; i + 1 < t->auxv_words; i += 2) {
		if (t->auxv[i] == 0)    /* AT_NULL ends the vector */
			break;
		if (t->auxv[i] == type)
			return t->auxv[i + 1];
	}
	return 0;
}
