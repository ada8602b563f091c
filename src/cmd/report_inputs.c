/* `report`'s inputs: plain files as given, directories walked recursively
 * (regular files only, symlinks not followed), globs expanded with glob(3).
 * The list is sorted so that output never depends on directory order. */
#include <errno.h>
#include <ftw.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/report_inputs.h"
#include "pycoreprof/base.h"

#define WALK_FDS 32

static int add_path(struct input_list *list, const char *path)
{
	if (ARRAY_GROW(list->paths, list->cap, list->n + 1) < 0)
		return -ERR_NOMEM;
	if (!(list->paths[list->n] = xstrdup(path)))
		return -ERR_NOMEM;
	list->n++;
	return 0;
}

/* nftw() has no context argument: the list being filled, one walk at a time
 * (inputs are expanded on the main thread before any worker starts). */
static struct input_list *walking;
static int walk_status;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_F && S_ISREG(st->st_mode) && (walk_status = add_path(walking, path)) < 0)
		return 1;
	return 0;
}

static int add_directory(struct input_list *list, const char *dir)
{
	walking = list;
	walk_status = 0;
	if (nftw(dir, visit, WALK_FDS, FTW_PHYS) < 0 && !walk_status)
		return err_set_errno(ERR_IO, errno, "cannot read directory %s", dir);
	walking = NULL;
	return walk_status;
}

int input_list_add(struct input_list *list, const char *arg)
{
	struct stat st;
	if (stat(arg, &st) == 0)
		return S_ISDIR(st.st_mode) ? add_directory(list, arg) : add_path(list, arg);
	glob_t matches;
	int ret = 0;
	if (glob(arg, 0, NULL, &matches) != 0)
		return err_set(ERR_NOENT, "no such file or directory: %s", arg);
	for (size_t i = 0; i < matches.gl_pathc && ret == 0; i++) {
		const char *path = matches.gl_pathv[i];
		ret = stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? add_directory(list, path) : add_path(list, path);
	}
	globfree(&matches);
	return ret;
}

static int compare_paths(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void input_list_finish(struct input_list *list)
{
	size_t kept = 0;
	qsort(list->paths, list->n, sizeof(*list->paths), compare_paths);
	for (size_t i = 0; i < list->n; i++) {
		if (kept && !strcmp(list->paths[kept - 1], list->paths[i])) {
			free(list->paths[i]);
			continue;
		}
		list->paths[kept++] = list->paths[i];
	}
	list->n = kept;
}

void input_list_release(struct input_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->paths[i]);
	free(list->paths);
	memset(list, 0, sizeof(*list));
}
