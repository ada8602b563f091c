/* The process tree below a pid, from /proc: used to find the child
 * processes (multiprocessing workers, gunicorn workers) worth sampling. */
#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"

/* Parent pid from /proc/PID/stat: the field after the state letter, which
 * follows the last ')' of the command name. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *fp = fopen(path, "re");
	if (!fp)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	char *close = strrchr(buf, ')');
	int ppid;
	char state;
	if (!close || sscanf(close + 1, " %c %d", &state, &ppid) != 2)
		return -1;
	return (pid_t)ppid;
}

int live_list_descendants(pid_t root, pid_t **out, size_t *count)
{
	pid_t *pids = NULL, *parents = NULL;
	size_t n = 0, pids_cap = 0, parents_cap = 0;
	int ret = 0;
	DIR *dir = opendir("/proc");
	if (!dir)
		return err_set_errno(ERR_IO, errno, "cannot list /proc");
	struct dirent *d;
	while ((d = readdir(dir))) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		pid_t pid = (pid_t)strtol(d->d_name, NULL, 10);
		pid_t ppid = parent_of(pid);
		if (ppid <= 0)
			continue;
		if (ARRAY_GROW(pids, pids_cap, n + 1) < 0 || ARRAY_GROW(parents, parents_cap, n + 1) < 0) {
			ret = -ERR_NOMEM;
			goto out;
		}
		pids[n] = pid;
		parents[n] = ppid;
		n++;
	}
	/* Mark descendants: repeat until no new process joins the set. The
	 * result reuses the front of PIDS. */
	bool *in_tree = xcalloc(n ? n : 1, sizeof(*in_tree));
	if (!in_tree) {
		ret = -ERR_NOMEM;
		goto out;
	}
	for (bool grew = true; grew;) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			if (in_tree[i])
				continue;
			bool child = parents[i] == root;
			for (size_t j = 0; !child && j < n; j++)
				child = in_tree[j] && pids[j] == parents[i];
			if (child) {
				in_tree[i] = true;
				grew = true;
			}
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (in_tree[i])
			pids[kept++] = pids[i];
	free(in_tree);
	*out = pids;
	*count = kept;
	pids = NULL;
out:
	closedir(dir);
	free(pids);
	free(parents);
	return ret;
}
