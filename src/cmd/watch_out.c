/* `pycoreprof watch`'s flight recorder (watch_out.h). Files are named
 * DIR/PID-TIMESTAMP.EXT (UTC), a crash's snapshot .crash.core.gz, one taken
 * on request or by --every .core.gz, the window's profile by its format;
 * a name taken already gets -2, -3... The aggregate the samples go to is
 * renewed from the ring when it has grown to twice what the window needs,
 * so that hours of new stacks do not add up. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/watch_out.h"
#include "pycoreprof/formats.h"

/* Below this many frames and nodes an aggregate is never renewed. */
#define RENEW_FLOOR 4096u

struct watch_out {
	struct watch_options o;
	struct sample_ring ring;
	struct aggregate *agg;   /* the samples go here: the caller's, or one of OWN */
	struct aggregate *callers; /* the caller's, kept valid (emptied once renewed) */
	struct aggregate own[2];
	bool own_live[2];
	size_t renew_at;         /* frames + nodes that trigger a renewal */
	double next_every;       /* time_now() of the next rolling write; 0: none */
	char **rolled;           /* the last rolling write's files, removed by the next */
	size_t nrolled;
	pid_t root;              /* the tree's root, once known */
	bool crashed_root;       /* the root's crash was caught */
	struct sigaction saved_usr1;
};

static volatile sig_atomic_t write_asked;

static void on_usr1(int sig)
{
	(void)sig;
	write_asked = 1;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* "5 minutes", "90 seconds", "2 hours" (static buffer). */
const char *watch_out_window_words(double seconds)
{
	static char text[48];
	long whole = (long)seconds;
	bool exact = (double)whole == seconds;
	if (exact && whole >= 3600 && whole % 3600 == 0)
		snprintf(text, sizeof(text), "%ld hour%s", whole / 3600, whole == 3600 ? "" : "s");
	else if (exact && whole >= 60 && whole % 60 == 0)
		snprintf(text, sizeof(text), "%ld minute%s", whole / 60, whole == 60 ? "" : "s");
	else
		snprintf(text, sizeof(text), "%g second%s", seconds, seconds == 1 ? "" : "s");
	return text;
}

/* DIR/PID-TIMESTAMP.SUFFIX, or with -2, -3... when taken. */
static char *file_name(const struct watch_out *w, pid_t pid, time_t when, const char *suffix)
{
	char stamp[32];
	struct tm tm;
	gmtime_r(&when, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	const char *dir = w->o.dir;
	const char *slash = dir[strlen(dir) - 1] == '/' ? "" : "/";
	for (int n = 1; n < 1000; n++) {
		char *path = n == 1 ? xasprintf("%s%s%d-%s.%s", dir, slash, (int)pid, stamp, suffix)
		                    : xasprintf("%s%s%d-%s-%d.%s", dir, slash, (int)pid, stamp, n, suffix);
		if (!path || access(path, F_OK) != 0)
			return path;
		free(path);
	}
	return NULL;
}

static int write_named(char *path, const char *data, size_t len)
{
	int ret = path ? write_file_atomically(path, data, len) : -ERR_NOMEM;
	if (ret < 0)
		report_error(ret);
	return ret;
}

/* The window's profile into a new file named for PID at WHEN; *PATH gets
 * its name (the caller's). */
static int write_window(struct watch_out *w, pid_t pid, const char *command, time_t when, char **path)
{
	struct aggregate window;
	struct strbuf sb = {0};
	*path = NULL;
	int ret = sample_ring_profile(&w->ring, w->agg, &window);
	if (ret < 0)
		return report_error(ret);
	double span = window.last_ns > window.first_ns ? (double)(window.last_ns - window.first_ns) / 1e9 : 0;
	char *subtitle = xasprintf("%s; the last %s; %llu samples", command ? command : "?",
	                           watch_out_window_words(w->o.window), (unsigned long long)window.samples);
	struct profile_meta meta = {.title = w->o.title, .subtitle = subtitle, .interval = w->o.interval,
	                            .duration = span, .wall = w->o.wall};
	ret = subtitle ? profile_write((enum profile_format)w->o.format, &sb, &window, &meta) : -ERR_NOMEM;
	if (ret == 0) {
		*path = file_name(w, pid, when, profile_format_extension((enum profile_format)w->o.format));
		ret = write_named(*path, sb.buf, sb.len);
	} else {
		report_error(ret);
	}
	free(subtitle);
	strbuf_release(&sb);
	agg_release(&window);
	return ret;
}

static int make_dir(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		return err_set(ERR_USAGE, "%s is not a directory", dir);
	}
	if (mkdir(dir, 0777) == 0)
		return 0;
	return err_set_errno(errno == EACCES || errno == EPERM ? ERR_PERM : ERR_IO, errno,
	                     "cannot make the directory %s", dir);
}

struct watch_out *watch_out_new(const struct watch_options *o, struct aggregate *agg)
{
	int ret = make_dir(o->dir);
	if (ret < 0) {
		report_error(ret);
		return NULL;
	}
	struct watch_out *w = xcalloc(1, sizeof(*w));
	if (!w) {
		report_error(-ERR_NOMEM);
		return NULL;
	}
	w->o = *o;
	w->agg = w->callers = agg;
	w->renew_at = RENEW_FLOOR;
	sample_ring_init(&w->ring, (uint64_t)(o->window * 1e9), agg);
	write_asked = 0;
	struct sigaction sa = {.sa_handler = on_usr1};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &w->saved_usr1);
	if (o->every > 0)
		w->next_every = time_now() + o->every;
	return w;
}

/* Move the samples to a fresh aggregate holding only the window's stacks,
 * when the one they go to has grown twice as large as that. */
static void renew(struct watch_out *w, struct process_tree *tree)
{
	size_t size = w->agg->nframes + w->agg->nnodes;
	if (size < w->renew_at)
		return;
	int slot = w->agg == &w->own[0] ? 1 : 0;
	if (sample_ring_rebase(&w->ring, w->agg, &w->own[slot]) < 0) {
		err_clear();
		w->renew_at = 2 * size;   /* no memory now: try again later */
		return;
	}
	w->own_live[slot] = true;
	process_tree_set_aggregate(tree, &w->own[slot]);
	if (w->agg == w->callers) {
		agg_release(w->callers);
		if (agg_init(w->callers) < 0)
			err_clear();
	} else {
		agg_release(w->agg);
		w->own_live[1 - slot] = false;
	}
	w->agg = &w->own[slot];
	size = w->agg->nframes + w->agg->nnodes;
	w->renew_at = 2 * size > RENEW_FLOOR ? 2 * size : RENEW_FLOOR;
}

/* Forget (and with REMOVE, delete) the files of the last rolling write. */
static void drop_rolled(struct watch_out *w, bool remove)
{
	for (size_t i = 0; i < w->nrolled; i++) {
		if (remove)
			unlink(w->rolled[i]);
		free(w->rolled[i]);
	}
	free(w->rolled);
	w->rolled = NULL;
	w->nrolled = 0;
}

/* Snapshots of every sampled process and the window's profile, now: on
 * SIGUSR1, or rolling (ROLLING: they replace the last rolling write's). */
static void write_now(struct watch_out *w, struct process_tree *tree, bool rolling)
{
	time_t when = time(NULL);
	char **written = xcalloc(tree->nprocs + 1, sizeof(*written));
	size_t nwritten = 0;
	if (rolling)
		fprintf(stderr, "pycoreprof: every %s: wrote\n", watch_out_window_words(w->o.every));
	else
		fputs("pycoreprof: asked by SIGUSR1: wrote\n", stderr);
	for (size_t i = 0; i < tree->nprocs; i++) {
		struct profiled *p = &tree->procs[i];
		if (!p->active)
			continue;
		struct crash_capture c = {0};
		int ret = crash_capture_take(p->session.target, &p->sampler.policy, &c);
		char *path = ret == 0 ? file_name(w, p->pid, when, "core.gz") : NULL;
		if (ret < 0)
			report_error(ret);
		else if (write_named(path, c.file.buf, c.file.len) == 0)
			fprintf(stderr, "  %s   (pycoreprof core %s: every thread's stack now)\n", path, path);
		crash_capture_release(&c);
		if (written && path)
			written[nwritten++] = path;
		else
			free(path);
	}
	char *profile = NULL;
	if (write_window(w, tree->root, tree->root_command, when, &profile) == 0)
		fprintf(stderr, "  %s   (the last %s)\n", profile, watch_out_window_words(w->o.window));
	if (written && profile)
		written[nwritten++] = profile;
	else
		free(profile);
	/* Only a rolling write is replaced by the next one. */
	if (rolling) {
		drop_rolled(w, true);
		w->rolled = written;
		w->nrolled = nwritten;
	} else {
		for (size_t i = 0; i < nwritten; i++)
			free(written[i]);
		free(written);
	}
}

void watch_out_tick(struct watch_out *w, struct process_tree *tree, double now)
{
	w->root = tree->root;
	sample_ring_set_time(&w->ring, realtime_ns());
	renew(w, tree);
	if (write_asked) {
		write_asked = 0;
		write_now(w, tree, false);
	}
	if (w->next_every && now >= w->next_every) {
		w->next_every = now + w->o.every;
		write_now(w, tree, true);
	}
}

void watch_out_crash_seen(void *ctx, const struct profiled *p, const struct crash_capture *c, int ret)
{
	struct watch_out *w = ctx;
	char name[16], *core = NULL, *profile = NULL;
	time_t when = time(NULL);
	fprintf(stderr, "Process %d received %s in thread %d", (int)p->pid, signal_name(c->signal.number, name),
	        (int)c->signal.tid);
	if (ret < 0) {
		fputs(": its crash snapshot could not be taken\n", stderr);
		report_error(ret);
	} else {
		core = file_name(w, p->pid, when, "crash.core.gz");
		fputs(": wrote\n", stderr);
		if (write_named(core, c->file.buf, c->file.len) == 0)
			fprintf(stderr, "  %s   (pycoreprof core %s: why it died)\n", core, core);
	}
	if (write_window(w, p->pid, p->session.command, when, &profile) == 0)
		fprintf(stderr, "  %s   (the last %s)\n", profile, watch_out_window_words(w->o.window));
	if (p->pid == w->root)
		w->crashed_root = true;
	free(core);
	free(profile);
}

int watch_out_finish(struct watch_out *w, const struct process_tree *tree, bool stopped, int root_status)
{
	char name[16], *profile = NULL;
	bool write = w->o.at_end;
	pid_t pid = tree->root;
	sample_ring_set_time(&w->ring, realtime_ns());
	if (w->crashed_root)
		return EXIT_OK;   /* said and written when it happened */
	if (stopped) {
		fprintf(stderr, "Stopped watching process %d", (int)pid);
	} else if (root_status == -1) {
		/* Not reported to us: a SIGKILL seen too late, or not ours to see. */
		fprintf(stderr, "Process %d vanished (how it ended is not known)", (int)pid);
		write = true;
	} else if (WIFSIGNALED(root_status)) {
		fprintf(stderr, "Process %d was killed by %s%s", (int)pid, signal_name(WTERMSIG(root_status), name),
		        WCOREDUMP(root_status) ? " (core dumped)" : "");
		write = true;
	} else if (WIFEXITED(root_status)) {
		fprintf(stderr, "Process %d exited with status %d", (int)pid, WEXITSTATUS(root_status));
	} else {
		fprintf(stderr, "Process %d ended", (int)pid);
	}
	if (!write) {
		fputs("\n", stderr);
		return EXIT_OK;
	}
	fputs(": wrote\n", stderr);
	if (write_window(w, pid, tree->root_command, time(NULL), &profile) < 0)
		return EXIT_FAIL;
	fprintf(stderr, "  %s   (the last %s)\n", profile, watch_out_window_words(w->o.window));
	free(profile);
	return EXIT_OK;
}

void watch_out_free(struct watch_out *w)
{
	if (!w)
		return;
	sigaction(SIGUSR1, &w->saved_usr1, NULL);
	if (w->agg)
		w->agg->added = NULL;
	for (int k = 0; k < 2; k++)
		if (w->own_live[k])
			agg_release(&w->own[k]);
	drop_rolled(w, false);
	sample_ring_release(&w->ring);
	free(w);
}
