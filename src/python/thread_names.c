/* Python thread names, from the threading module's registry of threads:
 * sys.modules["threading"]._active maps each thread's ident to its Thread
 * object, whose name is its `_name` attribute (`_Thread__name` on 2.7).
 * Read from outside like everything else, without running code in the
 * target; a registry that cannot be read gives no names, not an error the
 * walk would fail on. */
#include <stdlib.h>
#include <string.h>

#include "python/repr.h"

/* Where an interpreter's _active dict was found last: looked up again only
 * when it no longer reads as a dict. */
static uint64_t *cached_active(struct pywalker *w, uint64_t interp)
{
	for (size_t i = 0; i < PY_NAMES_INTERPS; i++)
		if (w->names_interp[i] == interp)
			return &w->names_active[i];
	size_t slot = w->names_next++ % PY_NAMES_INTERPS;
	w->names_interp[slot] = interp;
	w->names_active[slot] = 0;
	return &w->names_active[slot];
}

static bool is_dict(struct repr_reader *r, uint64_t obj)
{
	const struct repr_type *type;
	uint64_t type_addr;
	return obj && repr_read(r, obj + (uint64_t)r->w->layout.object_type, &type_addr, 8) == 0 &&
	       repr_type_of(r, type_addr, &type) == 0 && type->kind == RK_DICT;
}

static int find_active(struct repr_reader *r, uint64_t interp, uint64_t *active)
{
	const struct py_layout *L = &r->w->layout;
	uint64_t modules, threading = 0, globals;
	int ret;
	*active = 0;
	if (L->interp_modules < 0 || L->module_dict < 0)
		return err_set(ERR_UNSUPPORTED_PYTHON, "no module layout for Python %s", r->w->info.version);
	if ((ret = repr_read(r, interp + (uint64_t)L->interp_modules, &modules, 8)) < 0)
		return ret;
	if (!is_dict(r, modules))
		return err_set(ERR_CORRUPT, "sys.modules of interpreter 0x%llx is not a dict", (unsigned long long)interp);
	if ((ret = repr_dict_lookup(r, modules, "threading", &threading)) <= 0)
		return ret;
	if ((ret = repr_read(r, threading + (uint64_t)L->module_dict, &globals, 8)) < 0)
		return ret;
	if (!is_dict(r, globals))
		return err_set(ERR_CORRUPT, "the threading module at 0x%llx has no dict", (unsigned long long)threading);
	if ((ret = repr_dict_lookup(r, globals, "_active", active)) < 0)
		return ret;
	if (*active && !is_dict(r, *active))
		*active = 0;
	return 0;
}

/* The OS thread of a registry entry: its Thread's native id (3.8+; None
 * until the thread runs), else glibc's tid in the struct pthread that the
 * ident is the address of. 0 when unknown. */
static pid_t thread_tid(struct repr_reader *r, uint64_t thread, uint64_t ident)
{
	struct pywalker *w = r->w;
	uint64_t native_obj, native;
	int32_t tid;
	if (w->major * 100 + w->minor >= 308) {
		if (py_attr_get(r, thread, "_native_id", &native_obj) == 0 && native_obj &&
		    py_read_index(r, native_obj, &native) == 0 && native > 0 && native < INT32_MAX)
			return (pid_t)native;
	} else if (w->pthread_tid_offset >= 0 &&
	           target_read_i32(w->target, ident + (uint64_t)w->pthread_tid_offset, &tid) == 0 && tid > 0) {
		return tid;
	}
	err_clear();
	return 0;
}

/* The entry of thread KEY (its ident), THREAD (its Thread), appended to
 * w->names; left out when it cannot be read. */
static int add_name(struct repr_reader *r, uint64_t interp, uint64_t key, uint64_t thread, struct strbuf *text)
{
	struct pywalker *w = r->w;
	uint64_t ident, name_obj;
	strbuf_reset(text);
	if (py_read_index(r, key, &ident) < 0 || py_attr_get(r, thread, w->thread_name_attr, &name_obj) < 0 ||
	    !name_obj || py_read_str(r, name_obj, PY_THREAD_NAME_MAX - 1, text) < 0) {
		err_clear();
		return 0;
	}
	if (!strbuf_ok(text))
		return -ERR_NOMEM;
	struct pythread_name *slot = ARRAY_PUSH(w->names, w->nnames, w->names_cap);
	if (!slot)
		return -ERR_NOMEM;
	slot->interp_addr = interp;
	slot->thread_id = ident;
	slot->tid = thread_tid(r, thread, ident);
	memcpy(slot->name, text->buf, text->len + 1);
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	const struct pythread_name *x = a, *y = b;
	if (x->interp_addr != y->interp_addr)
		return x->interp_addr < y->interp_addr ? -1 : 1;
	return (x->thread_id > y->thread_id) - (x->thread_id < y->thread_id);
}

/* The names of one interpreter's threads, appended to w->names. */
static int read_interp(struct repr_reader *r, uint64_t interp, struct strbuf *text)
{
	uint64_t *active = cached_active(r->w, interp);
	struct table_iter it;
	int64_t used;
	uint64_t key, thread;
	int ret;
	if (!is_dict(r, *active) && (ret = find_active(r, interp, active)) < 0)
		return ret;
	if (!*active)
		return 0;
	if ((ret = table_iter_dict(r, *active, &it, &used)) < 0) {
		*active = 0;
		return ret;
	}
	for (size_t n = 0; n < PY_MAX_THREADS && (ret = table_iter_next(r, &it, &key, &thread)) == 1; n++)
		if ((ret = add_name(r, interp, key, thread, text)) < 0)
			return ret;
	if (ret < 0)
		*active = 0;
	return ret < 0 ? ret : 0;
}

int pywalker_thread_names(struct pywalker *w, const struct pythread_name **names, size_t *count)
{
	struct repr_reader reader;
	struct strbuf text = {0};
	int ret = 0;
	w->nnames = 0;
	/* Types are learnt again each time: one read of the registry is one
	 * moment of a process that runs on. */
	repr_reader_init(&reader, w);
	/* The interpreters of the last thread list, else the first one. */
	size_t ninterps = w->list_interps ? w->list_interps : 1;
	for (size_t i = 0; i < ninterps; i++) {
		uint64_t interp = w->list_interps ? w->list_interp[i] : w->info.interp_head_addr;
		int one = read_interp(&reader, interp, &text);
		if (one == -ERR_NOMEM) {
			ret = one;
			break;
		}
		if (one < 0 && !ret)
			ret = one;
	}
	strbuf_release(&text);
	repr_reader_release(&reader);
	if (w->nnames > 1)
		qsort(w->names, w->nnames, sizeof(*w->names), compare_names);
	*names = w->names;
	*count = w->nnames;
	return w->nnames ? (ret == -ERR_NOMEM ? ret : 0) : ret;
}

const char *pywalker_thread_name(const struct pywalker *w, uint64_t interp_addr, uint64_t thread_id, pid_t tid)
{
	struct pythread_name key = {.interp_addr = interp_addr, .thread_id = thread_id};
	const struct pythread_name *found = w->nnames ? bsearch(&key, w->names, w->nnames, sizeof(key), compare_names)
	                                              : NULL;
	return found && (!tid || !found->tid || found->tid == tid) ? found->name : NULL;
}
