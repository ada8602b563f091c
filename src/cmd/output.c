/* Writing what a command produced to a file: whole, through a temporary
 * file and a rename, so that a reader never sees half a profile. Printing
 * the error is the caller's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "pycoreprof/base.h"

int write_file_atomically(const char *path, const char *data, size_t len)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	int ret = 0;
	if (!tmp)
		return -ERR_NOMEM;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = err_set_errno(errno == EACCES ? ERR_PERM : ERR_IO, errno, "cannot write %s", path);
		goto out;
	}
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = err_set_errno(ERR_IO, errno, "cannot write %s", path);
			break;
		}
		done += (size_t)n;
	}
	if (close(fd) < 0 && ret == 0)
		ret = err_set_errno(ERR_IO, errno, "cannot write %s", path);
	if (ret == 0 && rename(tmp, path) < 0)
		ret = err_set_errno(ERR_IO, errno, "cannot rename %s to %s", tmp, path);
	if (ret < 0)
		unlink(tmp);
out:
	free(tmp);
	return ret;
}
