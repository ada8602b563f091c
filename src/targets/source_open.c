/* Opening a file with a target's rights (target_open_source()): a root-run
 * inspector shows a source line only when the target itself could read the
 * file, so that naming a file in a code object is no way to read it. Not a
 * cache: the reader of the lines keeps what it read. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"
#include "targets/live_internal.h"

/* The 4th number of a "Uid:" or "Gid:" line (real, effective, saved, fs). */
static bool status_fs_id(const char *text, const char *key, unsigned long *id)
{
	const char *at = strstr(text, key);
	if (!at)
		return false;
	at += strlen(key);
	for (int i = 0; i < 4; i++) {
		char *end;
		errno = 0;
		unsigned long value = strtoul(at, &end, 10);
		if (end == at || errno)
			return false;
		*id = value;
		at = end;
	}
	return true;
}

static int status_groups(const char *text, struct target_file_ids *ids)
{
	const char *at = strstr(text, "\nGroups:");
	if (!at)
		return 0;
	at += strlen("\nGroups:");
	size_t cap = 0;
	for (;;) {
		while (*at == ' ' || *at == '\t')
			at++;
		if (*at < '0' || *at > '9')
			return 0;
		char *end;
		unsigned long value = strtoul(at, &end, 10);
		if (ARRAY_GROW(ids->groups, cap, ids->ngroups + 1) < 0)
			return -ERR_NOMEM;
		ids->groups[ids->ngroups++] = (gid_t)value;
		at = end;
	}
}

int target_file_ids(const struct target *t, struct target_file_ids *ids)
{
	*ids = (struct target_file_ids){0};
	if (t->kind != TARGET_LIVE) {
		if (!t->has_ids)
			return err_set(ERR_NOENT, "the core records no user or group id");
		ids->uid = t->uid;
		ids->gid = t->gid;
		return 0;
	}
	char *text = NULL;
	unsigned long uid, gid;
	int ret = live_proc_read_file(t->pid, "status", &text, NULL);
	if (ret < 0)
		return ret;
	if (!status_fs_id(text, "\nUid:", &uid) || !status_fs_id(text, "\nGid:", &gid)) {
		ret = err_set(ERR_CORRUPT, "cannot parse the ids in /proc/%d/status", (int)t->pid);
		goto out;
	}
	ids->uid = (uid_t)uid;
	ids->gid = (gid_t)gid;
	ret = status_groups(text, ids);
out:
	free(text);
	if (ret < 0)
		target_file_ids_release(ids);
	return ret;
}

void target_file_ids_release(struct target_file_ids *ids)
{
	free(ids->groups);
	*ids = (struct target_file_ids){0};
}

static bool have_capabilities(void)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &header, data) < 0)
		return true;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (data[i].effective)
			return true;
	return false;
}

/* PATH from DIR_FD: inside it as the root when ROOTED (absolute symlinks
 * stay in the target's root; openat2 needs Linux 5.6, older kernels resolve
 * them in ours). Regular files only, checked by the caller; O_NONBLOCK so
 * that a FIFO does not hold us. */
static int open_at(int dir_fd, const char *path, bool rooted)
{
	int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	if (rooted) {
		struct open_how how = {.flags = (uint64_t)flags, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
		int fd = (int)syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return fd;
		while (*path == '/')
			path++;
	}
	return openat(dir_fd, *path ? path : ".", flags);
}

/* In the child: take the target's ids, or failing that (not root) give up
 * every capability, then open and send the descriptor (or the errno) back.
 * Only async-signal-safe calls: the parent may have threads. */
static void child_open(int sock, const struct target_file_ids *ids, int dir_fd, const char *path, bool rooted)
{
	int err = 0;
	if (setgroups(ids->ngroups, ids->groups) < 0 || setresgid(ids->gid, ids->gid, ids->gid) < 0 ||
	    setresuid(ids->uid, ids->uid, ids->uid) < 0) {
		struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
		struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
		memset(data, 0, sizeof(data));
		if (getuid() == 0 || geteuid() == 0 || syscall(SYS_capset, &header, data) < 0)
			err = EPERM;
	}
	int fd = err ? -1 : open_at(dir_fd, path, rooted);
	if (fd < 0 && !err)
		err = errno;
	unsigned char status = (unsigned char)(err > 255 ? EIO : err);
	struct iovec iov = {.iov_base = &status, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof(control));
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	_exit(sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : 1);
}

/* Open through a child that takes IDS; the descriptor, or -errno. */
static int open_as(const struct target_file_ids *ids, int dir_fd, const char *path, bool rooted)
{
	int socks[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socks) < 0)
		return -errno;
	pid_t child = fork();
	if (child < 0) {
		int saved = errno;
		close(socks[0]);
		close(socks[1]);
		return -saved;
	}
	if (child == 0) {
		close(socks[0]);
		child_open(socks[1], ids, dir_fd, path, rooted);
	}
	close(socks[1]);
	unsigned char status = EIO;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = &status, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
	                     .msg_controllen = sizeof(control.buf)};
	ssize_t got;
	do
		got = recvmsg(socks[0], &msg, MSG_CMSG_CLOEXEC);
	while (got < 0 && errno == EINTR);
	int fd = -1;
	for (struct cmsghdr *c = got == 1 ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	close(socks[0]);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	if (fd >= 0)
		return fd;
	return -(got == 1 && status ? status : EIO);
}

int target_open_source(struct target *t, const char *path)
{
	bool live = t->kind == TARGET_LIVE;
	struct target_file_ids ids;
	int dir_fd = AT_FDCWD, fd, ret = target_file_ids(t, &ids);
	bool rooted = false;
	if (ret < 0 && ret != -ERR_NOENT)
		return ret;
	/* -1 is no id at all: setresuid() would read it as "unchanged". */
	bool known = ret == 0 && ids.uid != (uid_t)-1 && ids.gid != (gid_t)-1;
	if (!known && geteuid() == 0)
		return err_set(ERR_PERM, "not opening %s: the core records no ids to open it with", path);
	if (live) {
		/* The target's root for absolute paths, its working directory
		 * for relative ones; opened by us, searched with its rights. */
		char where[64];
		rooted = path[0] == '/';
		snprintf(where, sizeof(where), "/proc/%d/%s", (int)t->pid, rooted ? "root" : "cwd");
		dir_fd = open(where, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dir_fd < 0) {
			ret = err_set_errno(ERR_PROCESS_GONE, errno, "cannot open %s", where);
			goto out;
		}
	} else if (t->root && path[0] == '/') {
		/* A core's --sysroot: the process's absolute paths are under it. */
		rooted = true;
		dir_fd = open(t->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dir_fd < 0) {
			ret = err_set_errno(ERR_NOENT, errno, "cannot open sysroot %s", t->root);
			goto out;
		}
	}
	/* Root opens for a target of another user as that user; anyone else
	 * opens with no more than their own rights. */
	bool as_target = known && (geteuid() == 0 ? ids.uid != 0 : have_capabilities());
	fd = as_target ? open_as(&ids, dir_fd, path, rooted) : open_at(dir_fd, path, rooted);
	if (fd < 0 && !as_target)
		fd = -errno;
	if (fd < 0) {
		int saved = -fd;
		enum err_code code = saved == ENOENT || saved == ENOTDIR ? ERR_NOENT
		                     : saved == EACCES || saved == EPERM ? ERR_PERM : ERR_IO;
		ret = err_set_errno(code, saved, "cannot open source file %s with the target's rights", path);
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		ret = err_set(ERR_PERM, "source file %s is not a regular file", path);
		goto out;
	}
	ret = fd;
out:
	if (dir_fd >= 0)
		close(dir_fd);
	target_file_ids_release(&ids);
	return ret;
}
