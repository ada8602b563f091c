/* Who awaits whom. 3.14+ C tasks say it themselves (awaited_by, kept by
 * asyncio for tasks, gather, shield and TaskGroup). Before, and for the
 * pure-Python Task, it is read from a task's done callbacks, which is how
 * asyncio wakes whoever waits: a task's wakeup (the waiter awaits it
 * directly), a closure over the future someone awaits (gather's and
 * shield's outer future: its awaiters await this task too, followed down a
 * few futures), or a TaskGroup's method (the group's parent task). Cycles
 * of tasks awaiting each other are found, never followed around. */
#include <stdlib.h>
#include <string.h>

#include "python/tasks_internal.h"

struct edges {
	uint64_t **out;
	size_t *n, *cap;
};

static int add_edge(struct edges *e, uint64_t task)
{
	for (size_t i = 0; i < *e->n; i++)
		if ((*e->out)[i] == task)
			return 0;
	if (*e->n >= PY_MAX_CALLBACKS)
		return 0;
	uint64_t *slot = ARRAY_PUSH(*e->out, *e->n, *e->cap);
	if (!slot)
		return -ERR_NOMEM;
	*slot = task;
	return 0;
}

static int add_if_task(struct pytasks *r, struct edges *e, uint64_t obj)
{
	enum obj_kind kind;
	int ret = obj_kind(&r->o, obj, &kind);
	if (ret < 0 || !obj_is_task(kind))
		return ret;
	return add_edge(e, obj);
}

/* The done callbacks of future FUT (of kind KIND) into CBS (at most MAX). */
static int callbacks_of(struct pytasks *r, uint64_t fut, enum obj_kind kind, uint64_t *cbs, size_t max,
                        size_t *n)
{
	struct pyobjects *o = &r->o;
	uint64_t list = 0, first = 0;
	int ret;
	*n = 0;
	if (kind == OBJ_TASK_C || kind == OBJ_FUTURE_C) {
		if ((ret = obj_ptr(o, fut, o->A.future_callback0, &first)) < 0 ||
		    (ret = obj_ptr(o, fut, o->A.future_callbacks, &list)) < 0)
			return ret;
		if (first)
			cbs[(*n)++] = first;
	} else if ((ret = obj_getattr(o, fut, "_callbacks", &list)) < 0) {
		return ret;
	}
	enum obj_kind list_kind;
	if (!list || (ret = obj_kind(o, list, &list_kind)) < 0 || list_kind != OBJ_LIST)
		return ret < 0 ? ret : 0;
	size_t count;
	if ((ret = seq_items(o, list, OBJ_LIST, cbs + *n, max - *n, &count)) < 0)
		return ret;
	/* Each item is a (callback, context) tuple. */
	for (size_t i = *n; i < *n + count; i++) {
		enum obj_kind item_kind;
		size_t one;
		if ((ret = obj_kind(o, cbs[i], &item_kind)) < 0)
			return ret;
		if (item_kind == OBJ_TUPLE && (ret = seq_items(o, cbs[i], OBJ_TUPLE, &cbs[i], 1, &one)) < 0)
			return ret;
	}
	*n += count;
	return 0;
}

static int future_awaiters(struct pytasks *r, uint64_t fut, enum obj_kind kind, int depth, struct edges *e);

/* A closure's cells: futures in them (not tasks) are awaited in our stead. */
static int closure_awaiters(struct pytasks *r, uint64_t function, int depth, struct edges *e)
{
	struct pyobjects *o = &r->o;
	uint64_t closure, cells[32];
	size_t n;
	enum obj_kind kind;
	int ret;
	if ((ret = obj_ptr(o, function, o->A.function_closure, &closure)) < 0 || !closure)
		return ret;
	if ((ret = seq_items(o, closure, OBJ_TUPLE, cells, 32, &n)) < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		uint64_t value;
		if ((ret = obj_kind(o, cells[i], &kind)) < 0)
			return ret;
		if (kind != OBJ_CELL)
			continue;
		if ((ret = obj_ptr(o, cells[i], o->A.cell_ref, &value)) < 0)
			return ret;
		if (!value || (ret = obj_kind(o, value, &kind)) < 0)
			return ret;
		if ((kind == OBJ_FUTURE_C || kind == OBJ_FUTURE_PY) &&
		    (ret = future_awaiters(r, value, kind, depth + 1, e)) < 0)
			return ret;
	}
	return 0;
}

static int future_awaiters(struct pytasks *r, uint64_t fut, enum obj_kind kind, int depth, struct edges *e)
{
	struct pyobjects *o = &r->o;
	uint64_t cbs[256];
	size_t n;
	int ret;
	if (depth > PY_MAX_FUTURE_DEPTH)
		return 0;
	if ((ret = callbacks_of(r, fut, kind, cbs, sizeof(cbs) / sizeof(cbs[0]), &n)) < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		enum obj_kind cb_kind;
		uint64_t self;
		if ((ret = obj_kind(o, cbs[i], &cb_kind)) < 0)
			return ret;
		switch (cb_kind) {
		case OBJ_WAKEUP:
			/* 3.7 - 3.11: the C task's wakeup wrapper. */
			if ((ret = obj_ptr(o, cbs[i], o->A.wakeup_task, &self)) < 0 || (ret = add_if_task(r, e, self)) < 0)
				return ret;
			break;
		case OBJ_CFUNCTION:
			/* 3.12+: the C task's wakeup, a method bound to it. */
			if ((ret = obj_ptr(o, cbs[i], o->A.cfunction_self, &self)) < 0 ||
			    (ret = add_if_task(r, e, self)) < 0)
				return ret;
			break;
		case OBJ_METHOD: {
			/* The pure-Python task's __wakeup; or a TaskGroup's
			 * _on_task_done, whose group waits for its tasks in
			 * its parent task. */
			enum obj_kind self_kind;
			uint64_t parent;
			if ((ret = obj_ptr(o, cbs[i], o->A.method_self, &self)) < 0 ||
			    (ret = obj_kind(o, self, &self_kind)) < 0)
				return ret;
			if (obj_is_task(self_kind)) {
				if ((ret = add_edge(e, self)) < 0)
					return ret;
			} else if (self_kind == OBJ_OTHER && (ret = obj_getattr(o, self, "_parent_task", &parent)) == 1) {
				if ((ret = add_if_task(r, e, parent)) < 0)
					return ret;
			} else if (ret < 0) {
				return ret;
			}
			break;
		}
		case OBJ_FUNCTION:
			if ((ret = closure_awaiters(r, cbs[i], depth, e)) < 0)
				return ret;
			break;
		default:
			break;
		}
	}
	return 0;
}

struct set_ctx {
	struct pytasks *r;
	struct edges *e;
};

static int awaiter_in_set(void *ctx, uint64_t key, uint64_t value)
{
	struct set_ctx *c = ctx;
	return add_if_task(c->r, c->e, key);
}

int task_awaiters(struct pytasks *r, const struct found_task *task, uint64_t **out, size_t *n, size_t *cap)
{
	struct pyobjects *o = &r->o;
	struct edges e = {out, n, cap};
	if (task->kind == OBJ_TASK_C && o->A.future_awaited_by >= 0) {
		/* 3.14+: the set (or the one waiter) asyncio keeps. */
		uint64_t by;
		uint8_t is_set;
		int ret;
		if ((ret = obj_ptr(o, task->addr, o->A.future_awaited_by, &by)) < 0 ||
		    (ret = target_read(o->t, task->addr + (uint64_t)o->A.future_awaited_by_is_set, &is_set, 1)) < 0)
			return ret;
		if (!by)
			return 0;
		if (!is_set)
			return add_if_task(r, &e, by);
		struct set_ctx ctx = {r, &e};
		return set_each(o, by, awaiter_in_set, &ctx);
	}
	return future_awaiters(r, task->addr, task->kind, 0, &e);
}

/* Index + 1 of the task at ADDR in LIST, 0 when it is not there. */
static size_t list_index(struct pytasks *r, uint64_t addr)
{
	struct seen_slot *slot = hashtab_find(&r->seen, addr);
	return slot ? slot->index : 0;
}

/* Depth-first over the awaiting edges; an edge back to a task on the path
 * closes a cycle, which is recorded (not walked again). */
static int find_cycles(struct pytasks *r, struct pytask_list *list)
{
	size_t n = list->count;
	uint8_t *colour = xcalloc(n ? n : 1, 1);      /* 0 new, 1 on the path, 2 done */
	size_t *path = xcalloc(n ? n : 1, sizeof(*path));
	size_t *next_edge = xcalloc(n ? n : 1, sizeof(*next_edge));
	int ret = 0;
	if (!colour || !path || !next_edge) {
		ret = -ERR_NOMEM;
		goto out;
	}
	for (size_t root = 0; root < n; root++) {
		if (colour[root])
			continue;
		size_t depth = 0;
		path[depth++] = root;
		colour[root] = 1;
		next_edge[root] = 0;
		while (depth) {
			size_t at = path[depth - 1];
			struct pytask *t = &list->tasks[at];
			if (next_edge[at] == t->nawaiting) {
				colour[at] = 2;
				depth--;
				continue;
			}
			size_t to = list_index(r, t->awaiting[next_edge[at]++]);
			if (!to--)
				continue;
			if (colour[to] == 0) {
				colour[to] = 1;
				next_edge[to] = 0;
				path[depth++] = to;
				continue;
			}
			if (colour[to] != 1 || list->ncycles >= PY_MAX_CYCLES)
				continue;
			size_t from = depth;
			while (from && path[from - 1] != to)
				from--;
			struct pytask_cycle *c = ARRAY_PUSH(list->cycles, list->ncycles, list->cycles_cap);
			if (!c || !(c->tasks = xcalloc(depth - from + 1, sizeof(*c->tasks)))) {
				ret = -ERR_NOMEM;
				goto out;
			}
			for (size_t k = from - 1; k < depth; k++) {
				c->tasks[c->count++] = list->tasks[path[k]].addr;
				list->tasks[path[k]].in_cycle = true;
			}
		}
	}
out:
	free(colour);
	free(path);
	free(next_edge);
	return ret;
}

int tasks_link(struct pytasks *r, struct pytask_list *list)
{
	/* Keep only edges between tasks of the list... */
	for (size_t i = 0; i < list->count; i++) {
		struct pytask *t = &list->tasks[i];
		size_t kept = 0;
		for (size_t k = 0; k < t->nawaited_by; k++)
			if (list_index(r, t->awaited_by[k]) && t->awaited_by[k] != t->addr)
				t->awaited_by[kept++] = t->awaited_by[k];
		t->nawaited_by = kept;
	}
	/* ...and turn them around for the awaiting side. */
	for (size_t i = 0; i < list->count; i++) {
		struct pytask *t = &list->tasks[i];
		for (size_t k = 0; k < t->nawaited_by; k++) {
			struct pytask *waiter = &list->tasks[list_index(r, t->awaited_by[k]) - 1];
			uint64_t *slot = ARRAY_PUSH(waiter->awaiting, waiter->nawaiting, waiter->awaiting_cap);
			if (!slot)
				return -ERR_NOMEM;
			*slot = t->addr;
		}
	}
	return find_cycles(r, list);
}
