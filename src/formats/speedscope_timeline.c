/* speedscope's "evented" profiles from an aggregate's timeline: for each
 * thread, its stacks in time order as open and close events at real times
 * (CLOCK_REALTIME nanoseconds). speedscope's time-order view places each
 * frame at its events' times, so when a stack was seen, and when the
 * thread was not seen at all, shows as it happened; a "sampled" profile
 * could only lay samples end to end. A sample stands from its time until
 * its process was next sampled (the next distinct time among the events of
 * its process, a sample that kept no stack included): a thread missing
 * from a sample shows as a gap. When that is far (sampling stalled or
 * stopped), the sample lasts one usual interval: far is fifty usual
 * intervals, or four for a process under a process root, which is not
 * sampled alone and whose samples that kept nothing are not on the
 * timeline. */
#include <stdlib.h>
#include <string.h>

#include "formats/speedscope_timeline.h"

struct span {
	uint64_t start, end;     /* CLOCK_REALTIME ns */
	uint32_t node;           /* the stack */
	uint32_t thread;         /* agg_thread_node() of it: the events of one thread share it */
	uint32_t process;        /* the process root above it, or 0 */
	uint32_t number;         /* the stack's number in the walk */
	uint32_t rank;           /* the thread's place: the least number of its stacks */
	bool empty;              /* a sample that kept no stack: only a time */
};

struct evented {
	struct strbuf *sb;
	const struct aggregate *agg;
	const struct frame_order *order;
	uint32_t *depth;         /* of each node; the root is 0 */
	uint32_t *path;          /* nodes to open, deepest first */
	size_t path_cap;
	size_t nevents;          /* written in this profile */
};

static int by_process_then_time(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	if (x->process != y->process)
		return x->process < y->process ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->number < y->number ? -1 : x->number > y->number;
}

static int by_thread_then_time(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->number < y->number ? -1 : x->number > y->number;
}

/* A + B, or the largest time when that does not fit. */
static uint64_t add_time(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The usual time between the distinct times of SPANS[LO..HI) (sorted by
 * time): the median, or FALLBACK when there are not two of them. GAPS has
 * room for HI - LO entries. */
static uint64_t usual_gap(const struct span *spans, size_t lo, size_t hi, uint64_t *gaps, uint64_t fallback)
{
	size_t n = 0;
	for (size_t i = lo + 1; i < hi; i++)
		if (spans[i].start != spans[i - 1].start)
			gaps[n++] = spans[i].start - spans[i - 1].start;
	if (!n)
		return fallback;
	qsort(gaps, n, sizeof(*gaps), compare_u64);
	return gaps[n / 2];
}

/* Each span's end, SPANS sorted by process then time. */
static void set_ends(struct span *spans, size_t n, uint64_t *gaps, uint64_t fallback)
{
	for (size_t lo = 0, hi; lo < n; lo = hi) {
		for (hi = lo + 1; hi < n && spans[hi].process == spans[lo].process; hi++)
			;
		uint64_t usual = usual_gap(spans, lo, hi, gaps, fallback);
		/* Every sample of a process sampled alone is on the timeline, one
		 * that kept nothing too: a gap there is the sampler's, so a sample
		 * stands longer. */
		uint64_t far = spans[lo].process ? 4 : 50;
		uint64_t reach = usual > UINT64_MAX / far ? UINT64_MAX : far * usual;
		uint64_t next = 0, here = 0;
		bool have_here = false;
		for (size_t i = hi; i-- > lo;) {
			if (!have_here || spans[i].start != here) {
				next = have_here ? here : 0;
				here = spans[i].start;
				have_here = true;
			}
			uint64_t t = spans[i].start;
			spans[i].end = next && next - t <= reach ? next : add_time(t, usual);
		}
	}
}

static void add_event(struct evented *e, char type, uint32_t node, uint64_t at)
{
	uint32_t frame = e->order->index_of[e->agg->nodes[node].frame];
	strbuf_addf(e->sb, "%s{\"type\": \"%c\", \"frame\": %u, \"at\": %llu}", e->nevents++ ? ",\n    " : "\n    ",
	            type, frame, (unsigned long long)at);
}

/* Close the frames from OPEN up to (not including) the common ancestor
 * with NODE, then open those down to NODE, at AT; NODE == THREAD closes
 * everything. */
static int move_to(struct evented *e, uint32_t open, uint32_t node, uint64_t at)
{
	const struct agg_node *nodes = e->agg->nodes;
	uint32_t a = open, b = node;
	size_t k = 0;
	if (ARRAY_GROW(e->path, e->path_cap, (size_t)e->depth[node] + 1) < 0)
		return -ERR_NOMEM;
	while (e->depth[a] > e->depth[b]) {
		add_event(e, 'C', a, at);
		a = nodes[a].parent;
	}
	while (e->depth[b] > e->depth[a]) {
		e->path[k++] = b;
		b = nodes[b].parent;
	}
	while (a != b) {
		add_event(e, 'C', a, at);
		a = nodes[a].parent;
		e->path[k++] = b;
		b = nodes[b].parent;
	}
	while (k)
		add_event(e, 'O', e->path[--k], at);
	return 0;
}

/* The name of a thread's profile: the labels of its root frames. */
static void add_thread_name(struct strbuf *sb, const struct aggregate *agg, uint32_t thread, const char *title)
{
	struct strbuf name = {0};
	uint32_t chain[64];
	size_t n = 0;
	for (uint32_t at = thread; at != 0 && n < 64; at = agg->nodes[at].parent)
		chain[n++] = at;
	while (n--) {
		strbuf_addstr(&name, agg->frames[agg->nodes[chain[n]].frame].name);
		if (n)
			strbuf_addstr(&name, " / ");
	}
	strbuf_add_json_string(sb, thread && name.buf ? name.buf : title);
	strbuf_release(&name);
}

/* One thread's profile: SPANS (of one thread, by time). */
static int add_thread(struct evented *e, const struct span *spans, size_t n, uint64_t first, uint64_t last,
                      const char *title, bool comma)
{
	uint32_t thread = spans[0].thread;
	int ret = 0;
	strbuf_addstr(e->sb, comma ? ",\n  {\"type\": \"evented\", \"name\": " : "\n  {\"type\": \"evented\", \"name\": ");
	add_thread_name(e->sb, e->agg, thread, title);
	strbuf_addf(e->sb, ", \"unit\": \"nanoseconds\", \"startValue\": %llu, \"endValue\": %llu,\n   \"events\": [",
	            (unsigned long long)first, (unsigned long long)last);
	e->nevents = 0;
	uint32_t open = thread;
	for (size_t i = 0; i < n && ret == 0; i++) {
		/* The thread was not seen since the last span ended: a gap. */
		if (i && spans[i - 1].end < spans[i].start && open != thread) {
			ret = move_to(e, open, thread, spans[i - 1].end);
			open = thread;
		}
		if (ret == 0)
			ret = move_to(e, open, spans[i].node, spans[i].start);
		open = spans[i].node;
	}
	if (ret == 0)
		ret = move_to(e, open, thread, spans[n - 1].end);
	strbuf_addstr(e->sb, "]}");
	return ret;
}

int speedscope_add_timeline(struct strbuf *sb, const struct aggregate *agg, const struct frame_order *order,
                            const char *title, double interval)
{
	struct evented e = {.sb = sb, .agg = agg, .order = order};
	uint32_t *numbers = NULL, *thread_of = NULL, *rank = NULL;
	struct agg_event *events = NULL;
	struct span *spans = NULL;
	uint64_t *gaps = NULL;
	size_t n = 0;
	int ret = stack_walk_numbers(agg, &numbers);
	if (ret < 0 || (ret = agg_timeline_sorted(agg, numbers, &events, &n)) < 0)
		goto out;
	e.depth = xcalloc(agg->nnodes, sizeof(*e.depth));
	thread_of = xrealloc_array(NULL, agg->nnodes, sizeof(*thread_of));
	rank = xrealloc_array(NULL, agg->nnodes, sizeof(*rank));
	spans = xcalloc(n ? n : 1, sizeof(*spans));
	gaps = xcalloc(n ? n : 1, sizeof(*gaps));
	if (!e.depth || !thread_of || !rank || !spans || !gaps) {
		ret = -ERR_NOMEM;
		goto out;
	}
	memset(thread_of, 0xFF, agg->nnodes * sizeof(*thread_of));
	memset(rank, 0xFF, agg->nnodes * sizeof(*rank));
	/* Parents have smaller ids than their children. */
	for (size_t i = 1; i < agg->nnodes; i++)
		e.depth[i] = e.depth[agg->nodes[i].parent] + 1;
	for (size_t i = 0; i < n; i++) {
		uint32_t node = events[i].node;
		if (thread_of[node] == UINT32_MAX)
			thread_of[node] = agg_thread_node(agg, node);
		uint32_t thread = thread_of[node], top = thread;
		while (top && agg->nodes[top].parent)
			top = agg->nodes[top].parent;
		bool process = top && agg->frames[agg->nodes[top].frame].kind == AGG_PROCESS;
		spans[i] = (struct span){.start = events[i].time_ns, .node = node, .thread = thread,
		                         .process = process ? top : 0, .number = numbers[node], .empty = node == 0};
		if (node && numbers[node] < rank[thread])
			rank[thread] = numbers[node];
	}
	for (size_t i = 0; i < n; i++)
		spans[i].rank = rank[spans[i].thread];
	qsort(spans, n, sizeof(*spans), by_process_then_time);
	set_ends(spans, n, gaps, interval > 0 ? (uint64_t)(interval * 1e9) : 10000000u);
	/* Samples without stacks only told when the process was looked at. */
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (!spans[i].empty)
			spans[kept++] = spans[i];
	n = kept;
	qsort(spans, n, sizeof(*spans), by_thread_then_time);
	/* Every thread on one time axis: the first sample to the end of the last. */
	uint64_t first = UINT64_MAX, last = 0;
	for (size_t i = 0; i < n; i++) {
		first = spans[i].start < first ? spans[i].start : first;
		last = spans[i].end > last ? spans[i].end : last;
	}
	for (size_t lo = 0, hi, count = 0; ret == 0 && lo < n; lo = hi, count++) {
		for (hi = lo + 1; hi < n && spans[hi].thread == spans[lo].thread; hi++)
			;
		ret = add_thread(&e, spans + lo, hi - lo, first, last, title, count > 0);
	}
out:
	free(numbers);
	free(events);
	free(e.depth);
	free(e.path);
	free(thread_of);
	free(rank);
	free(spans);
	free(gaps);
	return ret;
}
