/* Live sessions for `record` and `dump`, and the small file helpers the
 * commands share. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/live_session.h"
#include "pycoreprof/base.h"

/* Errors that a moment later, or a consistent read, may not give. */
static bool retryable(int ret)
{
	return ret == -ERR_NOT_PYTHON || ret == -ERR_UNMAPPED || ret == -ERR_NOENT || ret == -ERR_CORRUPT;
}

static void child_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
}

void live_reports_block(sigset_t *saved)
{
	sigset_t chld;
	child_signal_set(&chld);
	pthread_sigmask(SIG_BLOCK, &chld, saved);
}

void live_reports_restore(const sigset_t *saved)
{
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

bool live_sleep_until(double deadline, volatile sig_atomic_t *stop)
{
	sigset_t chld;
	child_signal_set(&chld);
	for (;;) {
		double wait = deadline - time_now();
		if ((stop && *stop) || wait <= 0)
			return false;
		struct timespec ts = {.tv_sec = (time_t)wait};
		ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
		int sig = sigtimedwait(&chld, NULL, &ts);
		if (sig == SIGCHLD)
			return true;
		if (sig < 0 && errno != EINTR)
			return false;   /* EAGAIN: the deadline passed */
	}
}

int live_session_open(struct live_session *s, pid_t pid, bool freeze, double wait_seconds,
                      volatile sig_atomic_t *stop)
{
	struct live_open_options opts = {.freeze = freeze};
	double deadline = time_now() + wait_seconds;
	int ret;
	memset(s, 0, sizeof(*s));
	/* Each attempt opens the process afresh: a launcher (a shell, pyenv's
	 * shim) may exec the interpreter in the meantime. */
	for (;;) {
		if ((ret = live_target_open(pid, &opts, &s->target)) < 0 || (ret = guard_add(s->target)) < 0)
			break;
		/* Discovery reads the running process: stopping every thread
		 * while the binaries' symbols are looked up would cost it a
		 * millisecond or more. Only a failure, which may be a read torn
		 * by the running process, is tried again frozen. */
		ret = pywalker_new(s->target, &s->walker);
		if (ret < 0 && freeze && retryable(ret)) {
			err_clear();
			if ((ret = target_freeze(s->target)) < 0)
				break;
			ret = pywalker_new(s->target, &s->walker);
			target_resume(s->target);
		}
		if (ret == 0 || wait_seconds <= 0 || time_now() >= deadline || (stop && *stop))
			break;
		if (!retryable(ret))
			break;
		live_session_close(s);
		struct timespec pause = {0, 20 * 1000 * 1000};
		nanosleep(&pause, NULL);
	}
	if (ret < 0) {
		live_session_release(s);
		return ret;
	}
	snprintf(s->version, sizeof(s->version), "%s", pywalker_info(s->walker)->version);
	if (s->target->command)
		s->command = xstrdup(s->target->command);
	return 0;
}

void live_session_close(struct live_session *s)
{
	pywalker_free(s->walker);
	s->walker = NULL;
	guard_remove(s->target);
	target_free(s->target);
	s->target = NULL;
}

void live_session_release(struct live_session *s)
{
	live_session_close(s);
	free(s->command);
	s->command = NULL;
}

const char *session_command(const struct live_session *s)
{
	return s->command ? s->command : "?";
}

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

const char *format_interval(double seconds)
{
	static char text[32];
	if (seconds >= 1 && seconds == (double)(long)seconds)
		snprintf(text, sizeof(text), "%lds", (long)seconds);
	else if (seconds >= 1e-3 && seconds * 1e3 == (double)(long)(seconds * 1e3 + 0.5))
		snprintf(text, sizeof(text), "%ldms", (long)(seconds * 1e3 + 0.5));
	else
		snprintf(text, sizeof(text), "%.0fus", seconds * 1e6);
	return text;
}
