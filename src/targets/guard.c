/* The signal guard: whatever signal ends pycoreprof, every process it is
 * attached to is detached first and runs on untraced. One policy for every
 * command that attaches; it does not decide what a command does on its way
 * out (writing a profile), only that nothing stays stopped or traced. */
#include <signal.h>
#include <stddef.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"

static const int guarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NGUARDED (sizeof(guarded_signals) / sizeof(guarded_signals[0]))

volatile sig_atomic_t guard_stop_requested;

static struct target *volatile guarded[GUARD_MAX_TARGETS];
static volatile sig_atomic_t guard_mode_now;
static struct sigaction saved_actions[NGUARDED];
static bool installed;

/* Only async-signal-safe calls here: detaching is (target_detach()). */
static void on_guarded_signal(int signo)
{
	if (guard_mode_now == GUARD_STOP_FIRST && !guard_stop_requested) {
		guard_stop_requested = signo;
		return;
	}
	for (size_t i = 0; i < GUARD_MAX_TARGETS; i++)
		target_detach(guarded[i]);
	signal(signo, SIG_DFL);
	raise(signo);   /* delivered with the default action once we return */
}

void guard_install(enum guard_mode mode)
{
	struct sigaction action = {.sa_handler = on_guarded_signal};
	sigemptyset(&action.sa_mask);
	/* One handler at a time: a second signal waits for the first to finish
	 * detaching rather than interrupting it half-way. */
	for (size_t i = 0; i < NGUARDED; i++)
		sigaddset(&action.sa_mask, guarded_signals[i]);
	guard_mode_now = mode;
	guard_stop_requested = 0;
	for (size_t i = 0; i < NGUARDED; i++)
		sigaction(guarded_signals[i], &action, installed ? NULL : &saved_actions[i]);
	installed = true;
}

void guard_uninstall(void)
{
	if (!installed)
		return;
	for (size_t i = 0; i < NGUARDED; i++)
		sigaction(guarded_signals[i], &saved_actions[i], NULL);
	installed = false;
}

void guard_stop_clear(void)
{
	guard_stop_requested = 0;
}

int guard_add(struct target *t)
{
	for (size_t i = 0; i < GUARD_MAX_TARGETS; i++)
		if (!guarded[i]) {
			guarded[i] = t;
			return 0;
		}
	return err_set(ERR_NOMEM, "more than %d processes attached at once", GUARD_MAX_TARGETS);
}

void guard_remove(struct target *t)
{
	for (size_t i = 0; t && i < GUARD_MAX_TARGETS; i++)
		if (guarded[i] == t)
			guarded[i] = NULL;
}
