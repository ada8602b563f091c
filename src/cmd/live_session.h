/* Opening a running process for the live commands: the target, with the
 * Python walker once the interpreter is up (a just-launched interpreter is
 * waited for), and closing it so the process always runs on detached. */
#ifndef PYCOREPROF_CMD_LIVE_SESSION_H
#define PYCOREPROF_CMD_LIVE_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "pycoreprof/python.h"
#include "pycoreprof/target.h"

struct live_session {
	struct target *target;
	struct pywalker *walker;
	char version[32];        /* kept after close for the summary */
	char *command;
};

/* Open PID; with WAIT_SECONDS > 0, retry until the interpreter is found
 * (or *STOP is set, or the process exits). */
int live_session_open(struct live_session *s, pid_t pid, bool freeze, double wait_seconds,
                      volatile sig_atomic_t *stop);
/* Detach and free the target and walker (version and command stay for the
 * summary); safe to call twice. */
void live_session_close(struct live_session *s);
/* Close and free everything. */
void live_session_release(struct live_session *s);
const char *session_command(const struct live_session *s);

/* Between samples, what the traced threads report (signals on their way
 * to them wait in a stop until we pass them on) is answered at once: the
 * sampling loop keeps SIGCHLD, which comes with each report, blocked, and
 * sleeps with live_sleep_until(). */
void live_reports_block(sigset_t *saved);
void live_reports_restore(const sigset_t *saved);
/* Sleep until DEADLINE (time_now() seconds) or *STOP; true when woken
 * early by a report, to be answered (target_answer_reports()) before
 * sleeping again. */
bool live_sleep_until(double deadline, volatile sig_atomic_t *stop);

/* Write LEN bytes to PATH through a temporary file and a rename, so that a
 * reader never sees half a file. */
int write_file_atomically(const char *path, const char *data, size_t len);
/* "10ms", "250us", "1s" for an interval in seconds (static buffer). */
const char *format_interval(double seconds);

#endif
