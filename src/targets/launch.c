/* Starting the command that `record -- COMMAND` profiles (fork, exec, and
 * tell a failed exec from a started program) and signalling all that it
 * started. Reaping it is live_reap_launched() (live_ptrace.c), which must
 * let go of traced threads. When to send which signal is the caller's. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"

/* A pipe closed on exec tells a started program from a failed exec, so we
 * never sample our own copy. */
int live_launch(char **command, pid_t *pid)
{
	int fds[2];
	/* A process whose parent ends is adopted by its nearest subreaper
	 * ancestor: us, so that nothing the command starts escapes us. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return err_set_errno(ERR_IO, errno, "cannot start %s: cannot adopt its orphans", command[0]);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_set_errno(ERR_IO, errno, "cannot start %s", command[0]);
	pid_t child = fork();
	if (child < 0) {
		int saved = errno;
		close(fds[0]);
		close(fds[1]);
		return err_set_errno(ERR_IO, saved, "cannot start %s", command[0]);
	}
	if (child == 0) {
		close(fds[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		execvp(command[0], command);
		int exec_errno = errno;
		ssize_t ignored = write(fds[1], &exec_errno, sizeof(exec_errno));
		(void)ignored;
		_exit(127);
	}
	close(fds[1]);
	int exec_errno = 0;
	ssize_t got;
	while ((got = read(fds[0], &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR)
		;
	close(fds[0]);
	*pid = child;
	if (got > 0) {
		waitpid(child, NULL, 0);
		*pid = 0;
		return err_set_errno(ERR_NOENT, exec_errno, "cannot run %s", command[0]);
	}
	return 0;
}

size_t live_signal_launched(int sig)
{
	struct live_proc *procs;
	size_t n, sent = 0;
	if (live_list_descendants(getpid(), &procs, &n) < 0) {
		err_clear();
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (!live_proc_ended(procs[i].state) && kill(procs[i].pid, sig) == 0)
			sent++;
	free(procs);
	return sent;
}
