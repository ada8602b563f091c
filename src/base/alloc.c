/* Allocation wrappers that record an out-of-memory error instead of
 * aborting; callers propagate -ERR_NOMEM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"

void *xcalloc(size_t n, size_t size)
{
	void *ptr = calloc(n ? n : 1, size ? size : 1);
	if (!ptr)
		err_set(ERR_NOMEM, "cannot allocate %zu bytes", n * size);
	return ptr;
}

void *xrealloc_array(void *ptr, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		err_set(ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
		return NULL;
	}
	void *grown = realloc(ptr, (n && size) ? n * size : 1);
	if (!grown)
		err_set(ERR_NOMEM, "cannot allocate %zu bytes", n * size);
	return grown;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *copy = malloc(n + 1);
	if (!copy) {
		err_set(ERR_NOMEM, "cannot allocate %zu bytes", n + 1);
		return NULL;
	}
	memcpy(copy, s, n);
	copy[n] = '\0';
	return copy;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	va_start(ap, fmt);
	if (vasprintf(&out, fmt, ap) < 0) {
		out = NULL;
		err_set(ERR_NOMEM, "cannot format a string");
	}
	va_end(ap);
	return out;
}
