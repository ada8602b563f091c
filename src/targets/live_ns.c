/* A live process in other namespaces than ours (a container, a chroot):
 * the ids its threads have in its own PID namespace (NSpid in /proc), so
 * that ids read from its memory find our threads, and its root, under which
 * the paths it names are found. Reads /proc only; the thread table is
 * live.c's. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "targets/live_internal.h"

/* The last id of the "NSpid:" line of a status file read into TEXT: the id
 * in the innermost namespace, the one the process sees. *LEVELS gets how
 * many ids the line has (1: the same namespace as our /proc). */
static pid_t innermost_id(const char *text, int *levels)
{
	const char *at = strstr(text, "\nNSpid:");
	pid_t last = 0;
	*levels = 0;
	if (!at)
		return 0;
	at += strlen("\nNSpid:");
	for (;;) {
		while (*at == ' ' || *at == '\t')
			at++;
		if (*at < '0' || *at > '9')
			return last;
		char *end;
		long value = strtol(at, &end, 10);
		if (value <= 0 || value > INT_MAX)
			return 0;
		last = (pid_t)value;
		++*levels;
		at = end;
	}
}

pid_t live_ns_task_id(const struct live_backend *b, pid_t tid)
{
	char name[32], text[4096];
	snprintf(name, sizeof(name), "%d/status", (int)tid);
	int fd = openat(b->task_dir_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* NSpid comes in the first lines: one read holds it. */
	ssize_t n;
	do
		n = read(fd, text, sizeof(text) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	int levels;
	pid_t id = innermost_id(text, &levels);
	return levels > 1 ? id : 0;
}

/* The process's root when it is not ours: t->root, and the path our
 * /proc shows it at (b->root_prefix) when that is not "/". */
static int find_root(struct target *t, struct live_backend *b)
{
	char link[64], shown[PATH_MAX];
	struct stat ours, its;
	snprintf(link, sizeof(link), "/proc/%d/root", (int)b->pid);
	/* Unreadable (not ours to inspect): the open reports that later. */
	if (stat("/", &ours) < 0 || stat(link, &its) < 0)
		return 0;
	if (ours.st_dev == its.st_dev && ours.st_ino == its.st_ino)
		return 0;
	if (!(t->root = xstrdup(link)))
		return -ERR_NOMEM;
	/* In a mount namespace of its own the root reads "/" and the paths in
	 * /proc/PID/maps are already the process's. A chroot (also inside a
	 * container) reads as the directory it is, and the paths in maps
	 * start with it. */
	ssize_t n = readlink(link, shown, sizeof(shown) - 1);
	if (n <= 1 || shown[0] != '/')
		return 0;
	shown[n] = '\0';
	if (!(b->root_prefix = xstrdup(shown)))
		return -ERR_NOMEM;
	return 0;
}

int live_ns_open(struct target *t, struct live_backend *b)
{
	char *text = NULL;
	int levels, ret = live_proc_read_file(b->pid, "status", &text, NULL);
	if (ret < 0)
		return ret;
	pid_t own = innermost_id(text, &levels);
	free(text);
	if (levels > 1)
		t->ns_pid = own;
	return find_root(t, b);
}

bool live_ns_reroot(const struct live_backend *b, char *path)
{
	if (!b->root_prefix || !path)
		return false;
	size_t len = strlen(b->root_prefix);
	if (strncmp(path, b->root_prefix, len) != 0 || path[len] != '/')
		return false;
	memmove(path, path + len, strlen(path + len) + 1);
	return true;
}

static int compare_ns_tids(const void *a, const void *b)
{
	pid_t x = ((const struct target_ns_tid *)a)->ns_tid, y = ((const struct target_ns_tid *)b)->ns_tid;
	return (x > y) - (x < y);
}

int live_ns_index(struct target *t, struct live_backend *b)
{
	if (!t->ns_pid)
		return 0;
	size_t n = 0;
	if (b->ntasks > b->ns_tids_cap) {
		struct target_ns_tid *grown = xrealloc_array(t->ns_tids, b->ntasks, sizeof(*grown));
		if (!grown)
			return -ERR_NOMEM;
		t->ns_tids = grown;
		b->ns_tids_cap = b->ntasks;
	}
	for (size_t i = 0; i < b->ntasks; i++) {
		const struct live_task *task = &b->tasks[i];
		if (task->ns_tid > 0 && task->ctl != CTL_GONE)
			t->ns_tids[n++] = (struct target_ns_tid){.ns_tid = task->ns_tid, .tid = task->tid};
	}
	qsort(t->ns_tids, n, sizeof(*t->ns_tids), compare_ns_tids);
	t->n_ns_tids = n;
	return 0;
}
