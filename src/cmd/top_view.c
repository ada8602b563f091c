/* `pycoreprof top`'s view (top_view.h). Percentages are of the samples
 * taken since the last refresh, times of the whole run (samples x the mean
 * interval, summed over threads), as in the other top-like profilers. On a
 * terminal: the alternate screen, no echo, keys as typed (q quits, p
 * pauses the display, s changes the sort, t shows threads), redrawn at
 * each refresh, key and resize, and the terminal put back on every way
 * out (top_view_free(), also from an exit handler). Not on a terminal: one
 * plain table per refresh. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cmd/top_view.h"

enum sort_key { SORT_OWN_SHARE, SORT_TOTAL_SHARE, SORT_OWN_TIME, SORT_TOTAL_TIME, SORT__COUNT };
static const char *const sort_names[] = {"%Own", "%Total", "OwnTime", "TotalTime"};
enum { PLAIN_ROWS = 25, FINAL_ROWS = 50, COMMAND_CHARS = 40 };

struct row {
	uint32_t function;
	uint64_t own_recent, total_recent;
};

struct top_view {
	double refresh, interval;
	double last_draw;
	bool terminal;           /* drawing on a terminal we took */
	bool paused, threads, redraw;
	enum sort_key sort;
	struct termios saved;
	int saved_flags;         /* stdin's file status flags */
	struct agg_functions functions;
	uint64_t *own_before, *total_before; /* at the last refresh, by function */
	size_t before_n;         /* functions known then */
	size_t own_before_cap, total_before_cap;
	uint64_t samples_before;
	uint64_t *thread_before; /* thread totals at the last refresh, by frame id */
	size_t thread_before_cap;
	uint64_t ticks, gil_ticks;
	struct row *rows;
	size_t rows_cap;
	struct strbuf screen;
};

/* The view holding the terminal, for the exit handler. */
static struct top_view *holding;
static volatile sig_atomic_t resized;

static void on_resize(int sig)
{
	(void)sig;
	resized = 1;
}

static void give_back(struct top_view *v)
{
	if (!v || !v->terminal)
		return;
	static const char leave[] = "\033[?25h\033[?1049l";
	ssize_t ignored = write(STDOUT_FILENO, leave, sizeof(leave) - 1);
	(void)ignored;
	tcsetattr(STDIN_FILENO, TCSANOW, &v->saved);
	fcntl(STDIN_FILENO, F_SETFL, v->saved_flags);
	signal(SIGWINCH, SIG_DFL);
	v->terminal = false;
	holding = NULL;
}

static void give_back_at_exit(void)
{
	give_back(holding);
}

static void take_terminal(struct top_view *v)
{
	static bool handler_set;
	if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &v->saved) < 0)
		return;
	struct termios raw = v->saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
		return;
	v->saved_flags = fcntl(STDIN_FILENO, F_GETFL);
	fcntl(STDIN_FILENO, F_SETFL, v->saved_flags | O_NONBLOCK);
	v->terminal = true;
	holding = v;
	if (!handler_set && atexit(give_back_at_exit) == 0)
		handler_set = true;
	struct sigaction sa = {0};
	sa.sa_handler = on_resize;
	sigaction(SIGWINCH, &sa, NULL);
	static const char enter[] = "\033[?1049h\033[?25l";
	ssize_t ignored = write(STDOUT_FILENO, enter, sizeof(enter) - 1);
	(void)ignored;
}

struct top_view *top_view_new(double refresh, double interval)
{
	struct top_view *v = xcalloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->refresh = refresh;
	v->interval = interval;
	v->redraw = true;
	take_terminal(v);
	return v;
}

void top_view_free(struct top_view *v)
{
	if (!v)
		return;
	give_back(v);
	agg_functions_release(&v->functions);
	free(v->own_before);
	free(v->total_before);
	free(v->thread_before);
	free(v->rows);
	strbuf_release(&v->screen);
	free(v);
}

/* "3,200" (static buffers, four in turn). */
static const char *grouped(uint64_t n)
{
	static char bufs[4][32];
	static int turn;
	char *out = bufs[turn++ & 3], digits[24];
	int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n), o = 0;
	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return out;
}

/* "4.81s", "2m03s", "1h12m" (static buffers, four in turn). */
static const char *seconds_text(double s)
{
	static char bufs[4][16];
	static int turn;
	char *out = bufs[turn++ & 3];
	if (s < 60)
		snprintf(out, 16, "%.2fs", s);
	else if (s < 3600)
		snprintf(out, 16, "%dm%02ds", (int)(s / 60), (int)s % 60);
	else
		snprintf(out, 16, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
	return out;
}

static int compare_rows(const void *a, const void *b, void *context)
{
	const struct row *x = a, *y = b;
	const struct top_view *v = context;
	const struct agg_function *fx = &v->functions.items[x->function], *fy = &v->functions.items[y->function];
	uint64_t kx, ky;
	switch (v->sort) {
	case SORT_OWN_SHARE: kx = x->own_recent, ky = y->own_recent; break;
	case SORT_TOTAL_SHARE: kx = x->total_recent, ky = y->total_recent; break;
	case SORT_OWN_TIME: kx = fx->own, ky = fy->own; break;
	default: kx = fx->total, ky = fy->total; break;
	}
	if (kx != ky)
		return kx > ky ? -1 : 1;
	/* Ties: the whole run's own, then total, then the function's frame. */
	if (fx->own != fy->own)
		return fx->own > fy->own ? -1 : 1;
	if (fx->total != fy->total)
		return fx->total > fy->total ? -1 : 1;
	return fx->frame < fy->frame ? -1 : fx->frame > fy->frame;
}

/* Counts since the last refresh, by function; then they become the base
 * of the next. */
static int take_rows(struct top_view *v, const struct aggregate *agg, size_t *nrows, uint64_t *recent_samples)
{
	int ret;
	if ((ret = agg_functions_compute(agg, &v->functions)) < 0)
		return ret;
	size_t n = v->functions.n;
	if (ARRAY_GROW(v->own_before, v->own_before_cap, n) < 0 || ARRAY_GROW(v->total_before, v->total_before_cap, n) < 0 ||
	    ARRAY_GROW(v->rows, v->rows_cap, n) < 0)
		return -ERR_NOMEM;
	for (size_t i = v->before_n; i < n; i++)
		v->own_before[i] = v->total_before[i] = 0;
	v->before_n = n > v->before_n ? n : v->before_n;
	*nrows = 0;
	for (size_t i = 0; i < n; i++) {
		const struct agg_function *f = &v->functions.items[i];
		if (!f->total)
			continue;
		uint64_t own = f->own - v->own_before[i];
		uint64_t total = f->total - v->total_before[i];
		v->rows[(*nrows)++] = (struct row){(uint32_t)i, own, total};
	}
	*recent_samples = agg->samples - v->samples_before;
	return 0;
}

static void note_base(struct top_view *v, const struct aggregate *agg)
{
	for (size_t i = 0; i < v->functions.n; i++) {
		v->own_before[i] = v->functions.items[i].own;
		v->total_before[i] = v->functions.items[i].total;
	}
	v->samples_before = agg->samples;
	if (ARRAY_GROW(v->thread_before, v->thread_before_cap, agg->nframes) == 0) {
		memset(v->thread_before, 0, v->thread_before_cap * sizeof(*v->thread_before));
		for (size_t i = 0; i < v->functions.nthreads; i++)
			v->thread_before[v->functions.threads[i].frame] += v->functions.threads[i].total;
	}
}

static double share(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* One line into the screen, cut at WIDTH columns (bytes: labels are in
 * visible form, mostly ASCII). */
static void line(struct strbuf *sb, int width, bool terminal, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void line(struct strbuf *sb, int width, bool terminal, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	size_t len = strlen(text);
	if (width > 0 && len > (size_t)width)
		len = (size_t)width;
	strbuf_add(sb, text, len);
	strbuf_addstr(sb, terminal ? "\033[K\r\n" : "\n");
}

static void header(struct top_view *v, struct strbuf *sb, int width, const struct process_tree *tree, double now)
{
	uint64_t errors = tree->retired.errors;
	for (size_t i = 0; i < tree->nprocs; i++)
		errors += tree->procs[i].sampler.stats.errors;
	double span = tree->first_sample ? now - tree->first_sample : 0;
	const struct live_session *root = tree->nprocs ? &tree->procs[0].session : NULL;
	char gil[32] = "";
	if (v->ticks)
		snprintf(gil, sizeof(gil), "  GIL %.0f%%", share(v->gil_ticks, v->ticks));
	/* A long command line is cut, so that the figures after it show. */
	const char *command = root && tree->procs[0].active ? live_session_command(root) : tree->root_command;
	int room = (int)strlen(command) > COMMAND_CHARS ? COMMAND_CHARS - 3 : COMMAND_CHARS;
	line(sb, width, v->terminal, " Process %d \"%.*s%s\" (Python %s)  samples %s  rate %.0f/s  errors %s%s", (int)tree->root,
	     room, command, (int)strlen(command) > COMMAND_CHARS ? "..." : "", tree->python[0] ? tree->python : "?",
	     grouped(tree->samples), span > 0 ? (double)tree->samples / span : 0, grouped(errors), gil);
}

static void draw_functions(struct top_view *v, struct strbuf *sb, int width, int height, size_t nrows,
                           uint64_t recent, const struct aggregate *agg)
{
	struct strbuf label = {0};
	line(sb, width, v->terminal, "  %%Own   %%Total  OwnTime  TotalTime  Function (file:line)");
	for (size_t r = 0; r < nrows && (height <= 0 || (int)r < height); r++) {
		const struct row *row = &v->rows[r];
		const struct agg_function *f = &v->functions.items[row->function];
		strbuf_reset(&label);
		agg_frame_label(agg, f->frame, &label);
		line(sb, width, v->terminal, "%6.1f%% %6.1f%% %8s %10s  %s", share(row->own_recent, recent),
		     share(row->total_recent, recent), seconds_text((double)f->own * v->interval),
		     seconds_text((double)f->total * v->interval), label.buf ? label.buf : "?");
	}
	strbuf_release(&label);
}

static void draw_threads(struct top_view *v, struct strbuf *sb, int width, int height, uint64_t recent,
                         const struct aggregate *agg)
{
	line(sb, width, v->terminal, "  %%Now  Samples  Time       Thread");
	if (!v->functions.nthreads)
		line(sb, width, v->terminal, "  (no thread roots)");
	for (size_t i = 0; i < v->functions.nthreads && (height <= 0 || (int)i < height); i++) {
		const struct agg_thread_total *t = &v->functions.threads[i];
		uint64_t before = t->frame < v->thread_before_cap ? v->thread_before[t->frame] : 0;
		line(sb, width, v->terminal, "%6.1f%% %8s %8s   %s", share(t->total - before, recent), grouped(t->total),
		     seconds_text((double)t->total * v->interval), agg->frames[t->frame].name);
	}
}

/* The whole screen (or a plain table), then the counts become the base. */
static int draw(struct top_view *v, const struct process_tree *tree, const struct aggregate *agg, double now,
                bool whole_run, bool rebase)
{
	size_t nrows;
	uint64_t recent;
	int ret = take_rows(v, agg, &nrows, &recent);
	if (ret < 0)
		return ret;
	if (whole_run) {
		for (size_t r = 0; r < nrows; r++) {
			v->rows[r].own_recent = v->functions.items[v->rows[r].function].own;
			v->rows[r].total_recent = v->functions.items[v->rows[r].function].total;
		}
		recent = agg->samples;
	}
	qsort_r(v->rows, nrows, sizeof(*v->rows), compare_rows, v);
	int width = 0, height = 0;
	struct winsize ws;
	if (v->terminal && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
		width = ws.ws_col;
		height = ws.ws_row;
	}
	struct strbuf *sb = &v->screen;
	strbuf_reset(sb);
	if (v->terminal)
		strbuf_addstr(sb, "\033[H");
	header(v, sb, width, tree, now);
	if (v->terminal)
		line(sb, width, true, "%s q quit  p %s  s sort: %s  t %s", v->paused ? " [paused]" : "",
		     v->paused ? "resume" : "pause", sort_names[v->sort], v->threads ? "functions" : "threads");
	else if (whole_run)
		line(sb, width, false, " the whole run (%s samples):", grouped(agg->samples));
	line(sb, width, v->terminal, "%s", "");
	int room = v->terminal ? height - 4 : whole_run ? FINAL_ROWS : PLAIN_ROWS;
	if (v->threads)
		draw_threads(v, sb, width, room, recent, agg);
	else
		draw_functions(v, sb, width, room, nrows, recent, agg);
	if (v->terminal)
		strbuf_addstr(sb, "\033[J");
	else
		strbuf_addch(sb, '\n');
	if (!strbuf_ok(sb))
		return -ERR_NOMEM;
	fwrite(sb->buf, 1, sb->len, stdout);
	fflush(stdout);
	if (rebase) {
		note_base(v, agg);
		v->last_draw = now;
	}
	v->redraw = false;
	return 0;
}

/* Keys typed since the last tick. True on q. */
static bool read_keys(struct top_view *v)
{
	char keys[64];
	ssize_t n = read(STDIN_FILENO, keys, sizeof(keys));
	for (ssize_t i = 0; i < n; i++) {
		switch (keys[i]) {
		case 'q':
		case 'Q': return true;
		case 'p':
		case 'P': v->paused = !v->paused; break;
		case 's':
		case 'S': v->sort = (enum sort_key)((v->sort + 1) % SORT__COUNT); break;
		case 't':
		case 'T': v->threads = !v->threads; break;
		default: continue;
		}
		v->redraw = true;
	}
	return false;
}

bool top_view_tick(struct top_view *v, const struct process_tree *tree, const struct aggregate *agg, double now)
{
	bool gil = false, sampled = false;
	for (size_t i = 0; i < tree->nprocs; i++)
		if (tree->procs[i].active) {
			sampled = true;
			gil |= tree->procs[i].sampler.gil_holder != 0;
		}
	v->ticks += sampled;
	v->gil_ticks += gil;
	if (v->terminal && read_keys(v))
		return true;
	if (resized) {
		resized = 0;
		v->redraw = true;
	}
	if (!v->last_draw)
		v->last_draw = now;
	bool due = now - v->last_draw >= v->refresh;
	if (due && !v->paused)
		draw(v, tree, agg, now, false, true);
	else if (v->terminal && v->redraw)
		draw(v, tree, agg, now, false, false);
	return false;
}

void top_view_finish(struct top_view *v, const struct process_tree *tree, const struct aggregate *agg, double now)
{
	give_back(v);
	v->threads = false;
	v->sort = SORT_OWN_SHARE;
	draw(v, tree, agg, now, true, false);
}
