/* The full command line of a process from its memory: a kernel core keeps
 * only the first 80 characters (pr_psargs), but the initial stack still
 * holds argc, argv[], envp[] and the auxiliary vector. The auxv contents are
 * known (NT_AUXV), so finding them on the stack locates argv. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"

enum { MAX_ARGS = 4096, MAX_ENV = 65536, MAX_ARG_BYTES = 128 * 1024, SEARCH_BYTES = 256 * 1024 };

/* Where the auxv vector starts on the stack, searched in the stack mapping
 * (the one holding AT_EXECFN) from its top downwards. */
static int find_auxv(struct target *t, uint64_t *auxv_addr)
{
	uint64_t execfn = target_auxv(t, 31 /* AT_EXECFN */);
	const struct target_mapping *stack = execfn ? target_find_mapping(t, execfn) : NULL;
	if (!stack || t->auxv_words < 4)
		return -ERR_NO_SYMBOL;
	uint64_t end = stack->end, start = end - SEARCH_BYTES > stack->start && end > SEARCH_BYTES
	                                   ? end - SEARCH_BYTES : stack->start;
	size_t size = (size_t)(end - start);
	uint8_t *bytes = xcalloc(size, 1);
	if (!bytes)
		return -ERR_NOMEM;
	int ret = target_read(t, start, bytes, size);
	if (ret == 0) {
		size_t want = 4 * sizeof(uint64_t);
		ret = -ERR_NO_SYMBOL;
		for (size_t off = 0; off + want <= size; off += 8) {
			if (!memcmp(bytes + off, t->auxv, want)) {
				*auxv_addr = start + off;
				ret = 0;
				break;
			}
		}
	}
	free(bytes);
	return ret;
}

int target_read_argv(struct target *t, char **command)
{
	uint64_t auxv_addr = 0, word;
	int ret = find_auxv(t, &auxv_addr);
	if (ret < 0)
		return ret;
	/* Backwards from auxv: the NULL ending envp, envp[], the NULL ending
	 * argv, argv[], argc. */
	uint64_t cursor = auxv_addr - 8;
	if (target_read_u64(t, cursor, &word) < 0 || word)
		return -ERR_CORRUPT;
	size_t nenv = 0;
	for (;;) {
		cursor -= 8;
		if ((ret = target_read_u64(t, cursor, &word)) < 0)
			return ret;
		if (!word)
			break;
		if (++nenv > MAX_ENV)
			return -ERR_CORRUPT;
	}
	/* CURSOR is argv's NULL; argc sits just before argv[0]. */
	uint64_t argc = 0;
	size_t nargs = 0;
	for (;;) {
		cursor -= 8;
		if ((ret = target_read_u64(t, cursor, &word)) < 0)
			return ret;
		if (word == nargs)
			break; /* argc */
		if (++nargs > MAX_ARGS)
			return -ERR_CORRUPT;
	}
	argc = word;
	if (!argc)
		return -ERR_CORRUPT;
	/* The strings lie back to back from argv[0] to the first environment
	 * string; read that area rather than follow argv[], which programs
	 * rewrite (Python 2 puts "-c" in place of the code). */
	uint64_t first_arg, area_end;
	if ((ret = target_read_u64(t, cursor + 8, &first_arg)) < 0)
		return ret;
	if (nenv) {
		if ((ret = target_read_u64(t, cursor + 8 + 8 * (argc + 1), &area_end)) < 0)
			return ret;
	} else {
		uint64_t last_arg;
		if ((ret = target_read_u64(t, cursor + 8 * argc, &last_arg)) < 0)
			return ret;
		area_end = last_arg + MAX_ARG_BYTES;
	}
	const struct target_mapping *m = target_find_mapping(t, first_arg);
	if (!m || area_end <= first_arg)
		return -ERR_CORRUPT;
	if (area_end > m->end)
		area_end = m->end;
	size_t size = (size_t)(area_end - first_arg);
	if (size > MAX_ARG_BYTES)
		size = MAX_ARG_BYTES;
	char *area = xcalloc(size + 1, 1);
	if (!area)
		return -ERR_NOMEM;
	if ((ret = target_read(t, first_arg, area, size)) < 0) {
		free(area);
		return ret;
	}
	/* ARGC strings, NUL-separated, joined with spaces like ps does. */
	size_t used = 0;
	for (uint64_t i = 0; i < argc && used < size; i++) {
		used += strnlen(area + used, size - used);
		if (i + 1 < argc && used < size)
			area[used++] = ' ';
	}
	area[used] = '\0';
	*command = area;
	return 0;
}
