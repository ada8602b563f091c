/* The asyncio task reader: every task not done yet, with its name, state,
 * loop and thread, its await chain (or, for the running task, its thread's
 * innermost frames) and its edges. 3.14+ lays the offsets the _asyncio
 * module publishes (its AsyncioDebug section) over the generated table.
 * Reads only; the target runs no code. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/elf.h"
#include "python/tasks_internal.h"

const char *pytask_state_name(enum pytask_state state)
{
	switch (state) {
	case PYTASK_PENDING: return "pending";
	case PYTASK_RUNNING: return "running";
	case PYTASK_DONE: return "done";
	case PYTASK_CANCELLED: return "cancelled";
	}
	return "?";
}

/* 3.14+: the _asyncio module's published offsets, read from the target
 * where a mapped file (the module, or a python with it built in) has the
 * section; without it the generated table stands. */
static void apply_published(struct pytasks *r)
{
	struct pywalker *w = r->o.w;
	struct target *t = r->o.t;
	const struct py_asyncio_debug_layout *D = py_asyncio_debug_layout_find(w->major, w->minor);
	for (size_t i = 0; !D && w->minor > 15 && i < py_asyncio_debug_layouts_count; i++)
		if (!D || py_asyncio_debug_layouts[i].version_hex > D->version_hex)
			D = &py_asyncio_debug_layouts[i];
	if (!D || !t->ops->open_mapped_file)
		return;
	for (size_t i = 0; i < t->nmappings; i++) {
		const struct target_mapping *m = &t->mappings[i];
		if (!m->path || m->file_offset || target_first_mapping_of(t, m->path) != m)
			continue;
		const char *base = strrchr(m->path, '/') ? strrchr(m->path, '/') + 1 : m->path;
		if (strncmp(base, "_asyncio", 8) && !strstr(base, "python"))
			continue;
		char *resolved = NULL;
		int fd = t->ops->open_mapped_file(t, m, &resolved);
		free(resolved);
		struct elfobj *obj;
		uint64_t addr, size;
		if (fd < 0 || elfobj_open_fd(fd, m->path, &obj) < 0)
			continue;
		bool found = elfobj_section(obj, ".AsyncioDebug", &addr, &size) == 0 && size >= (uint64_t)D->struct_size;
		uint64_t at = m->start - elfobj_base_vaddr(obj) + addr;
		elfobj_free(obj);
		uint8_t raw[512];
		if (!found || (size_t)D->struct_size > sizeof(raw) || target_read(t, at, raw, (size_t)D->struct_size) < 0)
			continue;
		struct py_async_layout *A = &r->o.A;
		const struct { int32_t pos; int32_t *field; } map[] = {
			{D->task_name, &A->task_name},
			{D->task_awaited_by, &A->future_awaited_by},
			{D->task_awaited_by_is_set, &A->future_awaited_by_is_set},
			{D->task_coro, &A->task_coro},
			{D->task_node, &A->task_node},
			{D->interp_tasks_head, &A->interp_tasks_head},
			{D->tstate_running_loop, &A->tstate_running_loop},
			{D->tstate_running_task, &A->tstate_running_task},
			{D->tstate_tasks_head, &A->tstate_tasks_head},
		};
		for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
			if (map[k].pos < 0)
				continue;
			uint64_t value = load_u64(raw, map[k].pos);
			if (value && value < (1u << 20))
				*map[k].field = (int32_t)value;
		}
		err_clear();
		return;
	}
	err_clear();
}

int pytasks_new(struct pywalker *w, struct pytasks **out)
{
	struct pytasks *r = xcalloc(1, sizeof(*r));
	if (!r)
		return -ERR_NOMEM;
	int ret = pyobjects_init(&r->o, w);
	if (ret < 0) {
		free(r);
		return ret;
	}
	r->frames = xcalloc(PY_MAX_TASK_FRAMES, sizeof(*r->frames));
	if (!r->frames) {
		pytasks_free(r);
		return -ERR_NOMEM;
	}
	apply_published(r);
	*out = r;
	return 0;
}

void pytasks_free(struct pytasks *r)
{
	if (!r)
		return;
	pyobjects_release(&r->o);
	hashtab_release(&r->seen);
	free(r->awaiters);
	strbuf_release(&r->name);
	free(r->found);
	free(r->loops);
	free(r->frames);
	free(r);
}

void pytask_list_release(struct pytask_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		struct pytask *t = &list->tasks[i];
		free(t->name);
		free(t->frames);
		free(t->awaiting);
		free(t->awaited_by);
		free(t->error);
	}
	for (size_t i = 0; i < list->ncycles; i++)
		free(list->cycles[i].tasks);
	free(list->tasks);
	free(list->cycles);
	memset(list, 0, sizeof(*list));
}

/* A task's name object: a str, or (3.13+, named lazily) its number. */
static int read_name(struct pytasks *r, uint64_t obj, char **out)
{
	enum obj_kind kind;
	int ret = obj_kind(&r->o, obj, &kind);
	if (ret < 0 || !obj)
		return ret;
	if (kind == OBJ_INT) {
		int64_t number;
		if ((ret = obj_long(&r->o, obj, &number)) < 0)
			return ret;
		*out = xasprintf("Task-%lld", (long long)number);
		return *out ? 0 : -ERR_NOMEM;
	}
	if (kind != OBJ_STR)
		return 0;
	struct strbuf sb = {0};
	if ((ret = py_read_string(r->o.w, obj, &sb)) < 0) {
		strbuf_release(&sb);
		return ret;
	}
	*out = strbuf_detach(&sb);
	return *out ? 0 : -ERR_NOMEM;
}

/* A pure-Python future's _state. */
static int python_state(struct pytasks *r, uint64_t task, enum pytask_state *state)
{
	static const struct { const char *text; enum pytask_state state; } states[] = {
		{"PENDING", PYTASK_PENDING}, {"CANCELLED", PYTASK_CANCELLED}, {"FINISHED", PYTASK_DONE},
	};
	uint64_t text;
	/* Set on the instance once it changes; the class says PENDING. */
	int ret = obj_getattr(&r->o, task, "_state", &text);
	if (ret == 0)
		ret = obj_class_getattr(&r->o, task, "_state", &text);
	if (ret <= 0)
		return ret < 0 ? ret : err_set(ERR_CORRUPT, "task at 0x%llx has no _state", (unsigned long long)task);
	for (size_t i = 0; i < 3; i++) {
		bool equal;
		if ((ret = obj_str_equals(&r->o, text, states[i].text, &equal)) < 0)
			return ret;
		if (equal) {
			*state = states[i].state;
			return 0;
		}
	}
	return err_set(ERR_CORRUPT, "task at 0x%llx has an unknown _state", (unsigned long long)task);
}

int task_coroutine(struct pytasks *r, uint64_t addr, enum obj_kind kind, uint64_t *coro)
{
	*coro = 0;
	if (kind == OBJ_TASK_C)
		return obj_ptr(&r->o, addr, r->o.A.task_coro, coro);
	int ret = obj_getattr(&r->o, addr, "_coro", coro);
	return ret < 0 ? ret : 0;
}

int task_name_into(struct pytasks *r, uint64_t addr, enum obj_kind kind, struct strbuf *name)
{
	uint64_t obj = 0;
	enum obj_kind obj_kind_of;
	int ret;
	if (kind == OBJ_TASK_C) {
		if (r->o.A.task_name < 0)
			return 0;
		ret = obj_ptr(&r->o, addr, r->o.A.task_name, &obj);
	} else {
		ret = obj_getattr(&r->o, addr, "_name", &obj);
	}
	if (ret < 0 || !obj || (ret = obj_kind(&r->o, obj, &obj_kind_of)) < 0)
		return ret;
	if (obj_kind_of == OBJ_INT) {
		int64_t number;
		if ((ret = obj_long(&r->o, obj, &number)) < 0)
			return ret;
		strbuf_addf(name, "Task-%lld", (long long)number);
		return 0;
	}
	return obj_kind_of == OBJ_STR ? py_read_string(r->o.w, obj, name) : 0;
}

/* Name, state, loop and coroutine of task F. */
static int task_fields(struct pytasks *r, const struct found_task *f, struct pytask *t, uint64_t *coro)
{
	struct pyobjects *o = &r->o;
	const struct py_async_layout *A = &o->A;
	uint64_t name = 0;
	int ret;
	*coro = 0;
	if (f->kind == OBJ_TASK_C) {
		int32_t state;
		if ((ret = target_read_i32(o->t, f->addr + (uint64_t)A->task_state, &state)) < 0 ||
		    (ret = obj_ptr(o, f->addr, A->future_loop, &t->loop)) < 0 ||
		    (ret = obj_ptr(o, f->addr, A->task_coro, coro)) < 0 ||
		    (A->task_name >= 0 && (ret = obj_ptr(o, f->addr, A->task_name, &name)) < 0))
			return ret;
		if (state == A->state_pending)
			t->state = PYTASK_PENDING;
		else if (state == A->state_cancelled)
			t->state = PYTASK_CANCELLED;
		else if (state == A->state_finished)
			t->state = PYTASK_DONE;
		else
			return err_set(ERR_CORRUPT, "task at 0x%llx has an unknown state %d", (unsigned long long)f->addr, state);
	} else {
		if ((ret = python_state(r, f->addr, &t->state)) < 0 || (ret = obj_getattr(o, f->addr, "_loop", &t->loop)) < 0 ||
		    (ret = obj_getattr(o, f->addr, "_coro", coro)) < 0 || (ret = obj_getattr(o, f->addr, "_name", &name)) < 0)
			return ret;
	}
	return name ? read_name(r, name, &t->name) : 0;
}

static int keep_frames(struct pytask *t, const struct pyframe *frames, size_t n)
{
	t->frames = xcalloc(n ? n : 1, sizeof(*t->frames));
	if (!t->frames)
		return -ERR_NOMEM;
	memcpy(t->frames, frames, n * sizeof(*frames));
	t->nframes = n;
	return 0;
}

/* The running task's frames: its thread's, innermost first, up to and
 * including its coroutine's. 1 when found there. */
static int running_frames(struct pytasks *r, struct pytask *t, uint64_t coro, const struct loop_thread *l)
{
	uint64_t frame = gen_frame_address(&r->o, coro);
	size_t n = 0;
	if (!frame || !l->thread)
		return 0;
	int ret = pywalker_stack_raw(r->o.w, l->thread, r->frames, PY_MAX_TASK_FRAMES, &n);
	if (ret < 0 && !n)
		return ret;
	for (size_t i = 0; i < n; i++) {
		if (r->frames[i].addr != frame)
			continue;
		if ((ret = keep_frames(t, r->frames, i + 1)) < 0)
			return ret;
		return 1;
	}
	return 0;
}

static void note_error(struct pytask_list *list, struct pytask *t, int ret)
{
	if (t->error)
		return;
	t->error = xasprintf("%s%s%s", err_message(ret), *err_context() ? ": " : "", err_context());
	list->errors++;
}

/* Chain, thread and edges of task T (found as F). */
static int task_details(struct pytasks *r, const struct found_task *f, struct pytask *t, uint64_t coro,
                        struct pytask_list *list)
{
	const struct loop_thread *l = t->loop ? tasks_loop(r, t->loop) : NULL;
	int ret = 0;
	if (l) {
		t->tid = l->tid;
		if (l->running == t->addr)
			t->state = PYTASK_RUNNING;
	}
	if (t->state == PYTASK_RUNNING && l && coro && (ret = running_frames(r, t, coro, l)) < 0)
		return ret;
	if (!t->frames && coro) {
		size_t n = 0;
		ret = await_chain(&r->o, coro, r->frames, PY_MAX_CHAIN, &n);
		if (ret == -ERR_NOMEM)
			return ret;
		if (ret < 0)
			note_error(list, t, ret);
		if ((ret = keep_frames(t, r->frames, n)) < 0)
			return ret;
	}
	size_t resolved = 0;
	ret = pywalker_resolve(r->o.w, t->frames, t->nframes, &resolved);
	if (ret < 0) {
		note_error(list, t, ret);
		t->nframes = resolved;
	}
	ret = task_awaiters(r, f, &t->awaited_by, &t->nawaited_by, &t->awaited_by_cap);
	if (ret == -ERR_NOMEM)
		return ret;
	if (ret < 0)
		note_error(list, t, ret);
	return 0;
}

static void reset(struct pytasks *r)
{
	hashtab_release(&r->seen);
	r->nfound = 0;
	r->nloops = 0;
}

int pytasks_read(struct pytasks *r, const struct pythread *threads, size_t nthreads, struct pytask_list *out)
{
	uint64_t interps[64];
	size_t ninterps = 0;
	int ret = 0;
	memset(out, 0, sizeof(*out));
	reset(r);
	for (size_t i = 0; i < nthreads; i++) {
		size_t k = 0;
		while (k < ninterps && interps[k] != threads[i].interp_addr)
			k++;
		if (k == ninterps && ninterps < sizeof(interps) / sizeof(interps[0]))
			interps[ninterps++] = threads[i].interp_addr;
	}
	for (size_t k = 0; k < ninterps; k++)
		if ((ret = tasks_find(r, interps[k], threads, nthreads)) < 0)
			goto fail;

	uint64_t *coros = xcalloc(r->nfound ? r->nfound : 1, sizeof(*coros));
	if (!coros) {
		ret = -ERR_NOMEM;
		goto fail;
	}
	/* The tasks not done yet, as asyncio.all_tasks() keeps them. */
	size_t *index = xcalloc(r->nfound ? r->nfound : 1, sizeof(*index));
	for (size_t i = 0; index && i < r->nfound; i++) {
		struct pytask t = {.addr = r->found[i].addr};
		uint64_t coro;
		if ((ret = task_fields(r, &r->found[i], &t, &coro)) < 0) {
			free(t.name);
			if (ret == -ERR_NOMEM)
				break;
			/* A task we cannot read is listed with why. */
			t.name = NULL;
			t.state = PYTASK_PENDING;
			note_error(out, &t, ret);
			ret = 0;
		} else if (t.state == PYTASK_DONE || t.state == PYTASK_CANCELLED) {
			free(t.name);
			continue;
		}
		struct pytask *slot = ARRAY_PUSH(out->tasks, out->count, out->cap);
		if (!slot) {
			free(t.name);
			free(t.error);
			ret = -ERR_NOMEM;
			break;
		}
		*slot = t;
		coros[out->count - 1] = coro;
		index[out->count - 1] = i;
	}
	if (!index)
		ret = -ERR_NOMEM;
	/* From here on SEEN maps a task to its place in OUT. */
	hashtab_release(&r->seen);
	for (size_t i = 0; ret == 0 && i < out->count; i++) {
		if (hashtab_reserve(&r->seen, r->seen.count + 1, sizeof(struct seen_slot)) < 0) {
			ret = -ERR_NOMEM;
			break;
		}
		struct seen_slot *slot = hashtab_slot_for(&r->seen, out->tasks[i].addr);
		hashtab_claim(&r->seen, slot, out->tasks[i].addr);
		slot->index = i + 1;
	}
	for (size_t i = 0; ret == 0 && i < out->count; i++)
		if (!out->tasks[i].error || coros[i])
			ret = task_details(r, &r->found[index[i]], &out->tasks[i], coros[i], out);
	free(coros);
	free(index);
	if (ret == 0)
		ret = tasks_link(r, out);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	pytask_list_release(out);
	return ret;
}
