/* Retention for `snapshot --archive FILE --max-size S --max-age T`: the
 * live archive is moved aside as FILE-YYYYmmddTHHMMSS.pcpa (beside it)
 * once it holds S bytes or spans a quarter of T, and archives moved aside
 * whose last change is older than T are deleted. `report DIR` or a glob
 * reads the live archive and those kept alike. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/archive_rotate.h"

/* FILE without its .pcpa, for the names of the archives moved aside. */
static char *stem_of(const char *path)
{
	size_t len = strlen(path);
	if (len > 5 && !strcmp(path + len - 5, ".pcpa"))
		len -= 5;
	return xstrndup(path, len);
}

int archive_rotate_aside(const char *path, time_t now, char **moved)
{
	char stamp[32];
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	char *stem = stem_of(path), *name = NULL;
	if (!stem)
		return -ERR_NOMEM;
	for (int serial = 0; serial < 1000; serial++) {
		free(name);
		name = serial ? xasprintf("%s-%s-%d.pcpa", stem, stamp, serial) : xasprintf("%s-%s.pcpa", stem, stamp);
		if (!name || access(name, F_OK) != 0)
			break;
	}
	free(stem);
	if (!name)
		return -ERR_NOMEM;
	if (rename(path, name) < 0) {
		int ret = err_set_errno(ERR_IO, errno, "cannot move %s aside to %s", path, name);
		free(name);
		return ret;
	}
	*moved = name;
	return 0;
}

/* Whether NAME (in FILE's directory) is an archive FILE moved aside:
 * STEMBASE-YYYYmmddTHHMMSS[-N].pcpa. */
static bool moved_aside(const char *name, const char *stembase)
{
	size_t s = strlen(stembase), n = strlen(name);
	return n >= s + 1 + 15 + 5 && !strncmp(name, stembase, s) && name[s] == '-' &&
	       name[s + 9] == 'T' && !strcmp(name + n - 5, ".pcpa");
}

int archive_rotate_prune(const char *path, double max_age, time_t now, size_t *deleted)
{
	char *stem = stem_of(path), *copy = xstrdup(path), *base_copy = stem ? xstrdup(stem) : NULL;
	int ret = 0;
	*deleted = 0;
	if (!stem || !copy || !base_copy) {
		ret = -ERR_NOMEM;
		goto out;
	}
	const char *dir = dirname(copy), *stembase = basename(base_copy);
	DIR *d = opendir(dir);
	if (!d) {
		ret = err_set_errno(ERR_IO, errno, "cannot read directory %s", dir);
		goto out;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (!moved_aside(e->d_name, stembase))
			continue;
		char *full = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (full && stat(full, &st) == 0 && difftime(now, st.st_mtime) > max_age && unlink(full) == 0)
			(*deleted)++;
		free(full);
	}
	closedir(d);
out:
	free(stem);
	free(copy);
	free(base_copy);
	return ret;
}
