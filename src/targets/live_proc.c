/* Reading a live process's facts from /proc: command line, executable,
 * auxv, mappings, ids and its threads with their run states. Parsing only;
 * attaching and memory reads are elsewhere. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "targets/live_internal.h"

#define DELETED_SUFFIX " (deleted)"
#define MAX_PROC_FILE (64u << 20)   /* a maps file of a huge process fits */

static int proc_errno_code(int errnum)
{
	switch (errnum) {
	case ENOENT:
	case ESRCH:
		return ERR_NO_PROCESS;
	case EACCES:
	case EPERM:
		return ERR_PERM;
	default:
		return ERR_IO;
	}
}

/* Read /proc/PID/NAME whole (NUL-terminated); /proc files report size 0, so
 * read until end of file. */
int live_proc_read_file(pid_t pid, const char *name, char **out, size_t *len)
{
	char path[64];
	char *buf = NULL;
	size_t used = 0, cap = 4096;
	int ret = 0;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		ret = err_set_errno(proc_errno_code(saved), saved, "cannot open %s", path);
		if (ret == -ERR_PERM)
			live_perm_hint(pid, false);
		return ret;
	}
	buf = malloc(cap);
	if (!buf) {
		ret = err_set(ERR_NOMEM, "cannot allocate %zu bytes for %s", cap, path);
		goto out;
	}
	for (;;) {
		if (cap - used < 2) {
			if (cap >= MAX_PROC_FILE) {
				ret = err_set(ERR_LIMIT, "%s is larger than %u bytes", path, MAX_PROC_FILE);
				goto out;
			}
			if (ARRAY_GROW(buf, cap, used + 2) < 0) {
				ret = -ERR_NOMEM;
				goto out;
			}
		}
		ssize_t n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			/* Reading a gone process's files gives ESRCH or an empty read. */
			ret = err_set_errno(saved == ESRCH ? ERR_PROCESS_GONE : proc_errno_code(saved), saved,
			                    "cannot read %s", path);
			if (ret == -ERR_PERM)
				live_perm_hint(pid, false);
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	*out = buf;
	buf = NULL;
	if (len)
		*len = used;
out:
	free(buf);
	close(fd);
	return ret;
}

int live_proc_command(pid_t pid, char **out)
{
	size_t len;
	char *text;
	int ret = live_proc_read_file(pid, "cmdline", &text, &len);
	if (ret < 0)
		return ret;
	while (len && text[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\0')
			text[i] = ' ';
	text[len] = '\0';
	if (!len) {
		/* Kernel threads and zombies have no command line: use the name. */
		free(text);
		if ((ret = live_proc_read_file(pid, "comm", &text, &len)) < 0)
			return ret;
		while (len && text[len - 1] == '\n')
			text[--len] = '\0';
		char *bracketed = xasprintf("[%s]", text);
		free(text);
		if (!bracketed)
			return -ERR_NOMEM;
		text = bracketed;
	}
	*out = text;
	return 0;
}

static void strip_deleted(char *path, bool *deleted)
{
	size_t len = strlen(path), suffix = strlen(DELETED_SUFFIX);
	*deleted = len > suffix && !strcmp(path + len - suffix, DELETED_SUFFIX);
	if (*deleted)
		path[len - suffix] = '\0';
}

int live_proc_executable(pid_t pid, char **out)
{
	char link[64];
	char *buf = NULL;
	size_t cap = 0;
	int ret = 0;
	bool deleted;
	*out = NULL;
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	for (;;) {
		/* 256 bytes first, then twice as many each time the link fills them. */
		if (ARRAY_GROW(buf, cap, cap + 256) < 0) {
			ret = -ERR_NOMEM;
			goto out;
		}
		ssize_t n = readlink(link, buf, cap);
		if (n < 0) {
			int saved = errno;
			/* Kernel threads have no executable; that is not an error. */
			char dir[32];
			snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
			if (saved == ENOENT && access(dir, F_OK) == 0)
				goto out;
			ret = err_set_errno(proc_errno_code(saved), saved, "cannot read %s", link);
			if (ret == -ERR_PERM)
				live_perm_hint(pid, false);
			goto out;
		}
		if ((size_t)n < cap) {
			buf[n] = '\0';
			break;
		}
		if (cap >= 65536) {
			ret = err_set(ERR_LIMIT, "%s is too long", link);
			goto out;
		}
	}
	strip_deleted(buf, &deleted);
	*out = buf;
	buf = NULL;
out:
	free(buf);
	return ret;
}

int live_proc_auxv(pid_t pid, uint64_t **out, size_t *words)
{
	size_t len;
	char *bytes;
	*out = NULL;
	*words = 0;
	int ret = live_proc_read_file(pid, "auxv", &bytes, &len);
	if (ret < 0)
		return ret;
	/* The buffer holds len + 1 bytes; reuse it as words. */
	*out = (uint64_t *)(void *)bytes;
	*words = len / sizeof(uint64_t);
	return 0;
}

/* One line of /proc/PID/maps:
 *   start-end perms offset major:minor inode   path
 * The path is the rest of the line and may contain spaces. */
static int parse_maps_line(char *line, struct target_mapping *m, struct live_mapinfo *info)
{
	unsigned long long start, end, offset, inode;
	char perms[8];
	unsigned major, minor;
	int path_at = 0;
	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &offset, &major, &minor,
	           &inode, &path_at) < 7 || start >= end || strlen(perms) < 3)
		return -ERR_CORRUPT;
	memset(m, 0, sizeof(*m));
	memset(info, 0, sizeof(*info));
	m->start = start;
	m->end = end;
	m->file_offset = offset;
	m->readable = perms[0] == 'r';
	m->writable = perms[1] == 'w';
	m->executable = perms[2] == 'x';
	info->inode = inode;
	const char *path = path_at ? line + path_at : "";
	/* Pseudo entries ([heap], [stack], [vdso], [anon:...]) and anonymous
	 * memory have no file behind them. */
	if (!*path || *path == '[' || (inode == 0 && *path != '/'))
		return 0;
	m->path = xstrdup(path);
	if (!m->path)
		return -ERR_NOMEM;
	strip_deleted(m->path, &info->deleted);
	return 0;
}

int live_proc_maps(pid_t pid, struct target_mapping **out, struct live_mapinfo **info_out, size_t *count)
{
	char *text = NULL;
	struct target_mapping *maps = NULL;
	struct live_mapinfo *infos = NULL;
	size_t n = 0, lines = 0;
	int ret = live_proc_read_file(pid, "maps", &text, NULL);
	if (ret < 0)
		return ret;
	for (const char *c = text; *c; c++)
		lines += *c == '\n';
	maps = xcalloc(lines + 1, sizeof(*maps));
	infos = xcalloc(lines + 1, sizeof(*infos));
	if (!maps || !infos) {
		ret = -ERR_NOMEM;
		goto out;
	}
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if ((ret = parse_maps_line(line, &maps[n], &infos[n])) < 0) {
			if (ret == -ERR_CORRUPT)
				ret = err_set(ERR_CORRUPT, "cannot parse line %zu of /proc/%d/maps", n + 1, (int)pid);
			goto out;
		}
		/* The kernel lists mappings in order; keep the table strictly so. */
		if (n && maps[n].start < maps[n - 1].end) {
			free(maps[n].path);
			continue;
		}
		n++;
	}
	*out = maps;
	*info_out = infos;
	*count = n;
	maps = NULL;
	infos = NULL;
out:
	if (maps)
		for (size_t i = 0; i < n; i++)
			free(maps[i].path);
	free(maps);
	free(infos);
	free(text);
	return ret;
}

static bool status_field(const char *text, const char *key, pid_t *value)
{
	const char *at = strstr(text, key);
	if (!at)
		return false;
	*value = (pid_t)strtol(at + strlen(key), NULL, 10);
	return true;
}

int live_proc_ids(pid_t pid, pid_t *ppid, pid_t *tgid, pid_t *tracer)
{
	char *text;
	int ret = live_proc_read_file(pid, "status", &text, NULL);
	if (ret < 0)
		return ret;
	if (!status_field(text, "\nPPid:", ppid) || !status_field(text, "\nTgid:", tgid) ||
	    !status_field(text, "\nTracerPid:", tracer))
		ret = err_set(ERR_CORRUPT, "cannot parse /proc/%d/status", (int)pid);
	free(text);
	return ret;
}

/* The layout of getdents64 records (glibc exposes no struct for them). */
struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

int live_proc_list_tasks(int dir_fd, pid_t *tids, size_t cap, size_t *count)
{
	char buf[4096] __attribute__((aligned(8)));
	size_t n = 0;
	*count = 0;
	if (lseek(dir_fd, 0, SEEK_SET) < 0)
		return err_set_errno(ERR_IO, errno, "cannot rewind a /proc task directory");
	for (;;) {
		long got = syscall(SYS_getdents64, dir_fd, buf, sizeof(buf));
		if (got < 0) {
			int saved = errno;
			return err_set_errno(saved == ENOENT || saved == ESRCH ? ERR_PROCESS_GONE : ERR_IO, saved,
			                     "cannot list threads");
		}
		if (got == 0)
			break;
		for (long at = 0; at < got;) {
			const struct linux_dirent64 *d = (const void *)(buf + at);
			at += d->d_reclen;
			if (d->d_name[0] < '0' || d->d_name[0] > '9')
				continue;
			pid_t tid = (pid_t)strtol(d->d_name, NULL, 10);
			if (n < cap)
				tids[n] = tid;
			n++;
		}
	}
	*count = n;
	return 0;
}

/* The state letter follows the command name in parentheses, which may
 * itself hold spaces and parentheses: look after the last ')'. The CPU the
 * thread last ran on is field 39, 36 fields after the state. */
static char parse_state(const char *text, size_t len, char name[16], int *cpu)
{
	const char *open_paren = memchr(text, '(', len);
	const char *close = NULL;
	for (size_t i = 0; i < len; i++)
		if (text[i] == ')')
			close = text + i;
	if (!close || close + 2 >= text + len || close[1] != ' ')
		return 0;
	if (open_paren && open_paren < close) {
		size_t n = (size_t)(close - open_paren - 1);
		if (n > 15)
			n = 15;
		memcpy(name, open_paren + 1, n);
		name[n] = '\0';
	}
	*cpu = -1;
	const char *end = text + len, *field = close + 2;
	for (int skip = 0; skip < 36 && field < end; skip++) {
		field = memchr(field, ' ', (size_t)(end - field));
		field = field ? field + 1 : end;
	}
	if (field < end && *field != ' ') {
		char *after;
		long value = strtol(field, &after, 10);
		if (after > field && *after == ' ' && value >= 0 && value < 65536)
			*cpu = (int)value;
	}
	return close[2];
}

int live_proc_task_runtime(pid_t pid, pid_t tid, int *fd, bool keep, struct target_runtime *out)
{
	char buf[128];
	if (*fd < 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*fd < 0) {
			int saved = errno;
			return err_set_errno(saved == ENOENT || saved == ESRCH ? ERR_NO_PROCESS : ERR_IO, saved,
			                     "cannot open %s", path);
		}
	}
	/* "run_ns wait_ns timeslices": re-rendered at each read from offset 0. */
	ssize_t n = pread(*fd, buf, sizeof(buf) - 1, 0);
	int saved = errno;
	if (!keep || n <= 0) {
		close(*fd);
		*fd = -1;
	}
	if (n <= 0)
		return err_set_errno(n == 0 || saved == ESRCH ? ERR_NO_PROCESS : ERR_IO, n == 0 ? ESRCH : saved,
		                     "cannot read the schedstat of thread %d of pid %d", (int)tid, (int)pid);
	buf[n] = '\0';
	unsigned long long run_ns, wait_ns, switches;
	if (sscanf(buf, "%llu %llu %llu", &run_ns, &wait_ns, &switches) != 3)
		return err_set(ERR_IO, "cannot parse the schedstat of thread %d of pid %d", (int)tid, (int)pid);
	out->run_ns = run_ns;
	out->switches = switches;
	return 0;
}

int live_proc_task_syscall(pid_t pid, pid_t tid, struct target_syscall *out)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		return err_set_errno(saved == ENOENT || saved == ESRCH ? ERR_NO_PROCESS : ERR_IO, saved, "cannot open %s",
		                     path);
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int saved = errno;
	close(fd);
	if (n <= 0)
		return err_set_errno(n == 0 || saved == ESRCH ? ERR_NO_PROCESS : ERR_IO, n == 0 ? ESRCH : saved,
		                     "cannot read %s", path);
	buf[n] = '\0';
	/* "NR ARG1 .. ARG6 SP PC", "-1 SP PC" (blocked, not in a system
	 * call) or "running". */
	memset(out, 0, sizeof(*out));
	if (!strncmp(buf, "running", 7)) {
		out->running = true;
		return 0;
	}
	unsigned long long words[8];
	long long nr;
	int used = 0;
	if (sscanf(buf, "%lld%n", &nr, &used) != 1)
		return err_set(ERR_IO, "cannot parse %s", path);
	size_t count = 0;
	for (const char *p = buf + used; count < 8;) {
		char *end;
		unsigned long long value = strtoull(p, &end, 16);
		if (end == p)
			break;
		words[count++] = value;
		p = end;
	}
	if (count != (nr < 0 ? 2u : 8u))
		return err_set(ERR_IO, "cannot parse %s", path);
	out->nr = nr;
	out->sp = words[count - 2];
	out->pc = words[count - 1];
	return 0;
}

char live_proc_task_state(pid_t pid, pid_t tid, int *fd, bool keep, char name[16], int *cpu)
{
	*cpu = -1;
	char buf[512];
	if (*fd < 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*fd < 0)
			return 0;
	}
	/* A seq_file re-renders when read again from offset 0. */
	ssize_t n = pread(*fd, buf, sizeof(buf) - 1, 0);
	if (!keep || n <= 0) {
		close(*fd);
		*fd = -1;
	}
	return n > 0 ? parse_state(buf, (size_t)n, name, cpu) : 0;
}
