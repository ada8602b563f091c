/* Live sessions for sampling: a running process opened with its walker,
 * retried while a launched interpreter starts, and closed so that it runs
 * on detached. It never prints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pycoreprof/base.h"
#include "pycoreprof/collect.h"

bool live_session_retryable(int ret)
{
	return ret == -ERR_NOT_PYTHON || ret == -ERR_UNMAPPED || ret == -ERR_NOENT || ret == -ERR_CORRUPT;
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
		if (ret < 0 && freeze && live_session_retryable(ret)) {
			err_clear();
			if ((ret = target_freeze(s->target)) < 0)
				break;
			ret = pywalker_new(s->target, &s->walker);
			target_resume(s->target);
		}
		if (ret == 0 || wait_seconds <= 0 || time_now() >= deadline || (stop && *stop))
			break;
		if (!live_session_retryable(ret))
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
	if (pywalker_info(s->walker)->host)
		s->host = xstrdup(pywalker_info(s->walker)->host);
	return 0;
}

int live_session_probe(pid_t pid)
{
	struct live_open_options opts = {.freeze = false};
	struct target *t;
	struct pywalker *w;
	int ret = live_target_open(pid, &opts, &t);
	if (ret < 0)
		return ret;
	if ((ret = pywalker_new(t, &w)) == 0)
		pywalker_free(w);
	target_free(t);
	return ret;
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
	free(s->host);
	s->command = s->host = NULL;
}

const char *live_session_command(const struct live_session *s)
{
	return s->command ? s->command : "?";
}

const char *live_session_python(const struct live_session *s)
{
	static char text[300];
	const char *base = s->host ? strrchr(s->host, '/') : NULL;
	if (!s->host)
		return s->version;
	snprintf(text, sizeof(text), "%s embedded in %s", s->version, base ? base + 1 : s->host);
	return text;
}
