/* Which asyncio tasks exist and which thread runs each event loop, read as
 * asyncio itself keeps them: the asyncio.tasks module's sets (3.7 - 3.11
 * _all_tasks; 3.12+ _scheduled_tasks and _eager_tasks, in both the C and the
 * pure-Python implementation) and its _current_tasks; from 3.14 also each
 * thread's (and the interpreter's) list of C tasks and the running task and
 * loop the thread state holds. A loop's thread is the one whose state names
 * it as running (3.13+) or whose stack runs its run_forever. */
#include <string.h>

#include "python/tasks_internal.h"

static int add_found(struct pytasks *r, uint64_t addr, uint64_t interp)
{
	enum obj_kind kind;
	int ret = obj_kind(&r->o, addr, &kind);
	if (ret < 0)
		return ret;
	if (!obj_is_task(kind) || hashtab_find(&r->seen, addr))
		return 0;
	if (r->nfound >= PY_MAX_TASKS)
		return err_set(ERR_LIMIT, "more than %d asyncio tasks", PY_MAX_TASKS);
	struct found_task *f = ARRAY_PUSH(r->found, r->nfound, r->found_cap);
	if (!f || hashtab_reserve(&r->seen, r->seen.count + 1, sizeof(struct seen_slot)) < 0)
		return -ERR_NOMEM;
	*f = (struct found_task){.addr = addr, .kind = kind, .interp = interp};
	struct seen_slot *slot = hashtab_slot_for(&r->seen, addr);
	hashtab_claim(&r->seen, slot, addr);
	slot->index = r->nfound;
	return 0;
}

struct collect {
	struct pytasks *r;
	uint64_t interp;
};

static int collect_task(void *ctx, uint64_t key, uint64_t value)
{
	struct collect *c = ctx;
	return add_found(c->r, key, c->interp);
}

/* A WeakSet holds weak references to the tasks in its `data` set. */
static int collect_referent(void *ctx, uint64_t key, uint64_t value)
{
	struct collect *c = ctx;
	enum obj_kind kind;
	uint64_t referent;
	int ret = obj_kind(&c->r->o, key, &kind);
	if (ret < 0 || kind != OBJ_WEAKREF)
		return ret;
	if ((ret = obj_ptr(&c->r->o, key, c->r->o.A.weakref_object, &referent)) < 0)
		return ret;
	return add_found(c->r, referent, c->interp);
}

struct loop_thread *tasks_loop(struct pytasks *r, uint64_t loop)
{
	for (size_t i = 0; i < r->nloops; i++)
		if (r->loops[i].loop == loop)
			return &r->loops[i];
	return NULL;
}

static struct loop_thread *loop_entry(struct pytasks *r, uint64_t loop)
{
	struct loop_thread *l = tasks_loop(r, loop);
	if (l)
		return l;
	if (r->nloops >= 4096)
		return NULL;
	l = ARRAY_PUSH(r->loops, r->nloops, r->loops_cap);
	if (l)
		l->loop = loop;
	return l;
}

static int note_current(void *ctx, uint64_t loop, uint64_t task)
{
	struct collect *c = ctx;
	struct loop_thread *l = loop_entry(c->r, loop);
	if (!l)
		return -ERR_NOMEM;
	l->running = task;
	return add_found(c->r, task, c->interp);
}

/* 3.14+: a circular list of C tasks through their task_node, HEAD being the
 * list's own node in a thread or interpreter state. */
static int collect_list(struct pytasks *r, uint64_t head, uint64_t interp)
{
	const struct py_async_layout *A = &r->o.A;
	uint64_t node;
	int ret = target_read_u64(r->o.t, head + (uint64_t)A->llist_next, &node);
	for (size_t n = 0; ret == 0 && node && node != head; n++) {
		if (n >= PY_MAX_TASKS)
			return err_set(ERR_CORRUPT, "the task list at 0x%llx does not end", (unsigned long long)head);
		if ((ret = add_found(r, node - (uint64_t)A->task_node, interp)) < 0)
			break;
		ret = target_read_u64(r->o.t, node + (uint64_t)A->llist_next, &node);
	}
	return ret;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

/* The loop whose run_forever TH's stack runs (the innermost one), or 0:
 * the first local of that frame, `self`. */
static int loop_from_stack(struct pytasks *r, const struct pythread *th, uint64_t *loop)
{
	struct pywalker *w = r->o.w;
	size_t n = 0, resolved = 0;
	*loop = 0;
	if (!th->frame_addr && !th->cframe_addr)
		return 0;
	int ret = pywalker_stack_raw(w, th, r->frames, PY_MAX_TASK_FRAMES, &n);
	if (ret < 0 && ret != -ERR_LIMIT && !n)
		return ret;
	pywalker_resolve_codes(w, r->frames, n, &resolved);
	int32_t locals = r->o.A.iframe_localsplus >= 0 ? r->o.A.iframe_localsplus : r->o.A.frame_localsplus;
	for (size_t i = 0; i < resolved; i++) {
		const struct pycode *code = r->frames[i].code;
		if (strcmp(code->name, "run_forever") || !ends_with(code->filename, "base_events.py"))
			continue;
		if ((ret = obj_ptr(&r->o, r->frames[i].addr, locals, loop)) < 0)
			return ret;
		*loop &= ~(uint64_t)r->o.A.stackref_tag_bits;
		return 0;
	}
	return 0;
}

static int classes(struct pytasks *r, uint64_t tasks, uint64_t interp)
{
	uint64_t found[CLASS__COUNT] = {0};
	uint64_t futures = 0;
	int ret;
	if ((ret = module_dict(&r->o, interp, "asyncio.futures", &futures)) < 0)
		return ret;
	const struct { uint64_t dict; const char *name; enum obj_class cls; } names[] = {
		{tasks, "_CTask", CLASS_TASK_C},
		{tasks, "_PyTask", CLASS_TASK_PY},
		{futures, "_CFuture", CLASS_FUTURE_C},
		{futures, "_PyFuture", CLASS_FUTURE_PY},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].dict && (ret = dict_get(&r->o, names[i].dict, names[i].name, &found[names[i].cls])) < 0)
			return ret;
	pyobjects_set_classes(&r->o, found);
	return 0;
}

int tasks_module(struct pytasks *r, uint64_t interp, uint64_t *dict)
{
	int ret = module_dict(&r->o, interp, "asyncio.tasks", dict);
	if (ret <= 0)
		return ret;
	if ((ret = classes(r, *dict, interp)) < 0)
		return ret;
	return 1;
}

int tasks_find(struct pytasks *r, uint64_t interp, const struct pythread *threads, size_t nthreads)
{
	struct pyobjects *o = &r->o;
	const struct py_async_layout *A = &o->A;
	struct collect c = {.r = r, .interp = interp};
	uint64_t tasks, set;
	int ret = tasks_module(r, interp, &tasks);
	if (ret <= 0)
		return ret;

	/* The sets asyncio.all_tasks() reads. */
	static const char *const weak_sets[] = {"_scheduled_tasks", "_all_tasks"};
	for (size_t i = 0; i < 2; i++) {
		uint64_t weak;
		if ((ret = dict_get(o, tasks, weak_sets[i], &weak)) < 0)
			return ret;
		if (ret == 0)
			continue;
		if ((ret = obj_getattr(o, weak, "data", &set)) < 0)
			return ret;
		if (ret == 1 && (ret = set_each(o, set, collect_referent, &c)) < 0)
			return ret;
		break;
	}
	if ((ret = dict_get(o, tasks, "_eager_tasks", &set)) < 0)
		return ret;
	if (ret == 1 && (ret = set_each(o, set, collect_task, &c)) < 0)
		return ret;
	uint64_t current;
	if ((ret = dict_get(o, tasks, "_current_tasks", &current)) < 0)
		return ret;
	if (ret == 1 && (ret = dict_each(o, current, note_current, &c)) < 0)
		return ret;

	if (A->interp_tasks_head >= 0 && (ret = collect_list(r, interp + (uint64_t)A->interp_tasks_head, interp)) < 0)
		return ret;
	for (size_t i = 0; i < nthreads; i++) {
		const struct pythread *th = &threads[i];
		if (th->interp_addr != interp)
			continue;
		uint64_t loop = 0, running = 0;
		if (A->tstate_tasks_head >= 0 &&
		    (ret = collect_list(r, th->tstate_addr + (uint64_t)A->tstate_tasks_head, interp)) < 0)
			return ret;
		if (A->tstate_running_loop >= 0 && (ret = obj_ptr(o, th->tstate_addr, A->tstate_running_loop, &loop)) < 0)
			return ret;
		if (A->tstate_running_task >= 0 &&
		    (ret = obj_ptr(o, th->tstate_addr, A->tstate_running_task, &running)) < 0)
			return ret;
		if (!loop && (ret = loop_from_stack(r, th, &loop)) < 0)
			return ret;
		if (!loop)
			continue;
		struct loop_thread *l = loop_entry(r, loop);
		if (!l)
			return -ERR_NOMEM;
		l->tid = th->tid;
		l->thread = th;
		if (running) {
			l->running = running;
			if ((ret = add_found(r, running, interp)) < 0)
				return ret;
		}
	}
	return 0;
}
