/* What a collected stack adds to an aggregate: the roots above a thread's
 * own frames (its process, the thread, the marker of a stack read only in
 * part), a recording's thread roots named as of each thread's latest
 * sample, native frames by function and library, and a whole collected
 * stack counted once. Python frames of samples are interned by the sampler,
 * which memoizes them. */
#include <stdio.h>
#include <string.h>

#include "pycoreprof/collect.h"

enum {
	INTERP_NAME_SHOWN = 120,     /* bytes of an interpreter's name in a root, at most */
	THREAD_LABEL_MAX = PY_THREAD_NAME_MAX + 32 + INTERP_NAME_SHOWN + 40,
};

/* `thread TID "NAME"`, and ` in interpreter ID "INTERP_NAME"` for a
 * sub-interpreter's thread state. */
static void thread_label(char *label, pid_t tid, const char *name, int64_t interp_id, const char *interp_name)
{
	int len;
	if (name && *name)
		len = snprintf(label, THREAD_LABEL_MAX, "thread %d \"%s\"", (int)tid, name);
	else
		len = snprintf(label, THREAD_LABEL_MAX, "thread %d", (int)tid);
	if (interp_id <= 0 || len <= 0 || len >= THREAD_LABEL_MAX)
		return;
	size_t room = THREAD_LABEL_MAX - (size_t)len;
	if (interp_name)
		snprintf(label + len, room, " in interpreter %lld \"%.*s\"", (long long)interp_id, INTERP_NAME_SHOWN,
		         interp_name);
	else
		snprintf(label + len, room, " in interpreter %lld", (long long)interp_id);
}

struct thread_root_slot {
	uint64_t key;            /* tid + 1, and the interpreter's id above bit 32 */
	uint32_t frame;
	bool python_named;       /* NAME came from the threading module */
	bool interp_named;       /* the label has the interpreter's name */
	char name[PY_THREAD_NAME_MAX];
};

int thread_roots_frame(struct thread_roots *r, struct aggregate *agg, pid_t tid, int64_t interp_id,
                       const char *interp_name, const char *python_name, const char *os_name, uint32_t *id)
{
	if (interp_id <= 0 || interp_id > INT32_MAX)
		interp_id = 0;   /* the main interpreter's thread states share the thread's root */
	uint64_t key = ((uint64_t)(uint32_t)tid + 1) | (uint64_t)interp_id << 32;
	struct thread_root_slot *slot = hashtab_find(&r->slots, key);
	const char *name = python_name ? python_name : os_name && *os_name ? os_name : NULL;
	char label[THREAD_LABEL_MAX];
	int ret;
	if (!slot) {
		if ((ret = hashtab_reserve(&r->slots, r->slots.count + 1, sizeof(*slot))) < 0)
			return ret;
		thread_label(label, tid, name, interp_id, interp_name);
		if ((ret = agg_frame(agg, AGG_THREAD, label, NULL, -1, id)) < 0)
			return ret;
		slot = hashtab_slot_for(&r->slots, key);
		hashtab_claim(&r->slots, slot, key);
		slot->frame = *id;
		slot->python_named = python_name != NULL;
		slot->interp_named = interp_name != NULL;
		snprintf(slot->name, sizeof(slot->name), "%s", name ? name : "");
		return 0;
	}
	*id = slot->frame;
	/* A thread leaves the registry before it ends: its last samples keep
	 * the name it had. An interpreter's name found late is added. */
	bool renamed = name && !(slot->python_named && !python_name) &&
	               strncmp(slot->name, name, sizeof(slot->name) - 1);
	if (!renamed && (slot->interp_named || !interp_name))
		return 0;
	if (renamed) {
		slot->python_named = python_name != NULL;
		snprintf(slot->name, sizeof(slot->name), "%s", name);
	}
	slot->interp_named |= interp_name != NULL;
	thread_label(label, tid, slot->name, interp_id, interp_name);
	return agg_frame_rename(agg, slot->frame, label);
}

void thread_roots_release(struct thread_roots *r)
{
	hashtab_release(&r->slots);
}

int stack_roots_add(struct aggregate *agg, const struct stack_roots *roots, uint32_t *ids, size_t *n)
{
	int ret;
	if (roots->process && (ret = agg_frame(agg, AGG_PROCESS, roots->process, NULL, -1, &ids[(*n)++])) < 0)
		return ret;
	if (roots->thread_interned) {
		ids[(*n)++] = roots->thread_frame;
	} else if (roots->thread) {
		char label[THREAD_LABEL_MAX];
		thread_label(label, roots->tid, roots->thread_name, roots->interp_id, roots->interp_name);
		if ((ret = agg_frame(agg, AGG_THREAD, label, NULL, -1, &ids[(*n)++])) < 0)
			return ret;
	}
	if (roots->unreadable && (ret = agg_frame(agg, AGG_ERROR, "[unreadable stack]", NULL, -1, &ids[(*n)++])) < 0)
		return ret;
	return 0;
}

int native_frame_id(struct aggregate *agg, const char *function, const char *library, bool named,
                    const struct native_site *site, uint32_t *id)
{
	const char *base = library ? strrchr(library, '/') : NULL;
	base = base ? base + 1 : library;
	struct agg_native_site where = {0};
	if (site && library)
		where = (struct agg_native_site){.address = site->function, .path = library, .build_id = site->build_id,
		                                 .start = site->map_start, .limit = site->map_end,
		                                 .file_offset = site->map_offset};
	return agg_native_frame(agg, function ? function : "??", base, named && function, site ? &where : NULL, id);
}

int thread_stack_count(struct aggregate *agg, const struct thread_stack *ts, bool thread_roots, uint32_t *ids,
                       size_t max, uint64_t when_ns)
{
	/* Threads of cores were never named in `report`'s thread roots. */
	struct stack_roots roots = {.thread = thread_roots, .tid = ts->tid, .interp_id = ts->interp_id,
	                            .interp_name = ts->interp_name, .unreadable = ts->error != NULL};
	size_t n = 0;
	int ret;
	if ((ret = stack_roots_add(agg, &roots, ids, &n)) < 0)
		return ret;
	for (size_t k = ts->nframes; k-- > 0 && n < max;) {
		const struct stack_frame *f = &ts->frames[k];
		if (f->kind == FRAME_NATIVE) {
			if ((ret = native_frame_id(agg, f->function, f->library, f->named, &f->site, &ids[n++])) < 0)
				return ret;
			continue;
		}
		const char *name = f->qualname ? f->qualname : f->function ? f->function : "?";
		ret = agg_python_frame(agg, name, f->file, f->line, &ids[n++]);
		if (ret < 0)
			return ret;
	}
	if (!n)
		return 0;
	return agg_add_at(agg, ids, n, 1, ts->idle ? 1 : 0, when_ns);
}
