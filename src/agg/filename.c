/* Short file names for profiles: a module's path relative to the sys.path
 * entry it comes from (site-packages, dist-packages, the standard library),
 * as users read them; anything else stays as in co_filename. */
#include <string.h>

#include "pycoreprof/agg.h"

const char *short_filename(const char *path)
{
	enum agg_origin origin;
	return short_filename_from(path, &origin);
}

const char *short_filename_from(const char *path, enum agg_origin *origin)
{
	static const char *const markers[] = {"/site-packages/", "/dist-packages/"};
	*origin = AGG_FROM_ELSEWHERE;
	if (!path)
		return path;
	for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
		const char *hit = strstr(path, markers[i]);
		if (hit) {
			*origin = AGG_FROM_PACKAGE;
			return hit + strlen(markers[i]);
		}
	}
	/* Frozen modules ("<frozen importlib._bootstrap>") are the library's. */
	if (!strncmp(path, "<frozen ", 8)) {
		*origin = AGG_FROM_STDLIB;
		return path;
	}
	/* The standard library: .../lib/pythonX.Y/module.py */
	const char *lib = strstr(path, "/lib/python");
	while (lib) {
		const char *slash = strchr(lib + 11, '/');
		const char *next = strstr(lib + 1, "/lib/python");
		if (slash && (!next || next > slash) && !strchr(lib + 11, ' ')) {
			size_t version_len = (size_t)(slash - (lib + 11));
			if (version_len && version_len <= 5) {
				*origin = AGG_FROM_STDLIB;
				return slash + 1;
			}
		}
		lib = next;
	}
	return path;
}
