/* The process tree below a pid, from /proc: which processes a recording of
 * a tree may sample (a shell's Python children, gunicorn or uwsgi workers)
 * and which a launched command left behind. It reads; it never signals. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"

/* No tree is this large; a bound that also ends any loop a reused pid
 * could make between two reads. */
#define TREE_MAX 65536

int live_proc_read(pid_t pid, struct live_proc *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set_errno(ERR_NO_PROCESS, errno, "cannot read %s", path);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return err_set(ERR_NO_PROCESS, "cannot read %s: process gone", path);
	buf[n] = '\0';
	/* The command name may hold anything, ')' included: the fields
	 * follow its last ')'. starttime is the 22nd field, the 20th after
	 * the name. */
	char *rest = strrchr(buf, ')');
	int ppid;
	char state;
	unsigned long long start;
	if (!rest || sscanf(rest + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
	                    &state, &ppid, &start) != 3)
		return err_set(ERR_CORRUPT, "cannot parse %s", path);
	out->pid = pid;
	out->parent = (pid_t)ppid;
	out->state = state;
	out->start_time = start;
	return 0;
}

bool live_proc_ended(char state)
{
	return state == 'Z' || state == 'X' || state == 'x';
}

void live_proc_image(pid_t pid, struct live_image *out)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	memset(out, 0, sizeof(*out));
	if (stat(path, &st) == 0) {
		out->dev = (uint64_t)st.st_dev;
		out->ino = (uint64_t)st.st_ino;
	}
}

/* Append PID's entry to *OUT; a process gone meanwhile is skipped. */
static int add_proc(pid_t pid, struct live_proc **out, size_t *n, size_t *cap)
{
	struct live_proc p;
	if (*n >= TREE_MAX || live_proc_read(pid, &p) < 0) {
		err_clear();
		return 0;
	}
	struct live_proc *slot = ARRAY_PUSH(*out, *n, *cap);
	if (!slot)
		return -ERR_NOMEM;
	*slot = p;
	return 0;
}

/* The children of every thread of PID (/proc/PID/task/TID/children: a
 * child belongs to the thread that forked it), appended. -ERR_NOENT when
 * the kernel has no such files (CONFIG_PROC_CHILDREN). */
static int add_children(pid_t pid, struct live_proc **out, size_t *n, size_t *cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *dir = opendir(path);
	if (!dir)
		return 0; /* gone */
	struct strbuf text = {0};
	bool any = false;
	struct dirent *d;
	while ((d = readdir(dir))) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		char file[384], buf[1024];
		snprintf(file, sizeof(file), "%s/%s/children", path, d->d_name);
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* the thread ended, or no such files */
		any = true;
		ssize_t got;
		while ((got = read(fd, buf, sizeof(buf))) > 0)
			strbuf_add(&text, buf, (size_t)got);
		strbuf_addch(&text, ' ');
		close(fd);
	}
	closedir(dir);
	int ret = strbuf_ok(&text) ? 0 : -ERR_NOMEM;
	/* Space-separated pids. */
	for (char *p = text.buf, *end; ret == 0 && p && *p; p = end) {
		long child = strtol(p, &end, 10);
		if (end == p)
			break;
		ret = add_proc((pid_t)child, out, n, cap);
	}
	strbuf_release(&text);
	/* A task directory holds at least one thread: not one children file
	 * in it means the kernel has none, unless the process just ended. */
	if (ret == 0 && !any && access(path, F_OK) == 0)
		ret = -ERR_NOENT;
	return ret;
}

/* Every process of the system, for kernels without children files. */
static int list_all(struct live_proc **out, size_t *n)
{
	size_t cap = 0;
	int ret = 0;
	DIR *dir = opendir("/proc");
	if (!dir)
		return err_set_errno(ERR_IO, errno, "cannot list /proc");
	struct dirent *d;
	while (ret == 0 && (d = readdir(dir)))
		if (isdigit((unsigned char)d->d_name[0]))
			ret = add_proc((pid_t)strtol(d->d_name, NULL, 10), out, n, &cap);
	closedir(dir);
	return ret;
}

/* The processes below ROOT, breadth first: *FOUND is the queue too. With
 * ALL (every process of the system), children are told by their parent
 * field, else read from the children files. */
static int walk_tree(pid_t root, const struct live_proc *all, size_t nall, struct live_proc **found, size_t *n)
{
	size_t cap = 0;
	pid_t parent = root;
	for (size_t next = 0;; next++) {
		int ret = 0;
		if (!all)
			ret = add_children(parent, found, n, &cap);
		for (size_t i = 0; all && ret == 0 && i < nall && *n < TREE_MAX; i++) {
			if (all[i].parent != parent)
				continue;
			struct live_proc *slot = ARRAY_PUSH(*found, *n, cap);
			if (slot)
				*slot = all[i];
			else
				ret = -ERR_NOMEM;
		}
		if (ret < 0)
			return ret;
		if (next >= *n)
			return 0;
		parent = (*found)[next].pid;
	}
}

int live_list_descendants(pid_t root, struct live_proc **out, size_t *count)
{
	struct live_proc *found = NULL, *all = NULL;
	size_t n = 0, nall = 0;
	int ret = walk_tree(root, NULL, 0, &found, &n);
	if (ret == -ERR_NOENT) {
		free(found);
		found = NULL;
		n = 0;
		if ((ret = list_all(&all, &nall)) == 0)
			ret = walk_tree(root, all, nall, &found, &n);
	}
	free(all);
	if (ret < 0) {
		free(found);
		return ret;
	}
	*out = found;
	*count = n;
	return 0;
}
