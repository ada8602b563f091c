/* Short file names for profiles: a module's path relative to the sys.path
 * entry it comes from (site-packages, dist-packages, the standard library),
 * as users read them; anything else stays as in co_filename. */
#include <string.h>

#include "pycoreprof/agg.h"

const char *short_filename(const char *path)
{
	static const char *const markers[] = {"/site-packages/", "/dist-packages/"};
	if (!path)
		return path;
	for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
		const char *hit = strstr(path, markers[i]);
		if (hit)
			return hit + strlen(markers[i]);
	}
	/* The standard library: .../lib/pythonX.Y/module.py */
	const char *lib = strstr(path, "/lib/python");
	while (lib) {
		const char *slash = strchr(lib + 11, '/');
		const char *next = strstr(lib + 1, "/lib/python");
		if (slash && (!next || next > slash) && !strchr(lib + 11, ' ')) {
			size_t version_len = (size_t)(slash - (lib + 11));
			if (version_len && version_len <= 5)
				return slash + 1;
		}
		lib = next;
	}
	return path;
}
