/* The walk itself: interpreters -> thread states -> frames -> code objects
 * and line numbers. Every loop is bounded and every pointer is read through
 * the target, so a corrupt or torn image yields an error, not a hang. */
#include <stdlib.h>
#include <string.h>

#include "python/internal.h"

static int32_t max_offset(const int32_t *offsets, size_t n)
{
	int32_t top = 0;
	for (size_t i = 0; i < n; i++)
		if (offsets[i] > top)
			top = offsets[i];
	return top + 8;
}

/* Bytes to read for a thread state, a frame and a code object header. */
int32_t py_tstate_read_size(const struct py_layout *L)
{
	const int32_t f[] = {L->tstate_next, L->tstate_prev, L->tstate_interp, L->tstate_frame, L->tstate_cframe,
	                     L->tstate_current_frame, L->tstate_thread_id, L->tstate_native_thread_id};
	return max_offset(f, sizeof(f) / sizeof(f[0]));
}

static int32_t frame_read_size(const struct py_layout *L)
{
	const int32_t f[] = {L->frame_back, L->frame_code, L->frame_lasti, L->iframe_previous,
	                     L->iframe_code, L->iframe_instr, L->iframe_owner, L->iframe_is_entry};
	return max_offset(f, sizeof(f) / sizeof(f[0]));
}

static int32_t code_read_size(const struct py_layout *L)
{
	const int32_t f[] = {L->object_type, L->code_filename, L->code_name, L->code_qualname,
	                     L->code_firstlineno, L->code_linetable, L->code_firsttraceable};
	return max_offset(f, sizeof(f) / sizeof(f[0]));
}

int pywalker_new(struct target *t, struct pywalker **out)
{
	struct pywalker *w = xcalloc(1, sizeof(*w));
	if (!w)
		return -ERR_NOMEM;
	w->target = t;
	w->pthread_tid_offset = -1;
	int ret = py_discover(w);
	if (ret < 0) {
		pywalker_free(w);
		return ret;
	}
	*out = w;
	return 0;
}

void pywalker_free(struct pywalker *w)
{
	if (!w)
		return;
	py_code_cache_free(w);
	py_interp_names_free(w);
	free(w->library_path);
	free(w->binaries_unused);
	free(w->threads);
	hashtab_release(&w->pthread_tids);
	free(w->scratch);
	free(w->names);
	free(w);
}

void pywalker_lazy_frames(struct pywalker *w, bool lazy)
{
	w->lazy_frames = lazy;
}

const struct pyinfo *pywalker_info(const struct pywalker *w)
{
	return &w->info;
}

/* The tstate holding the GIL of interpreter INTERP, or 0 when none. */
uint64_t py_gil_holder(struct pywalker *w, uint64_t interp)
{
	struct target *t = w->target;
	const struct py_layout *L = &w->layout;
	uint64_t holder = 0;
	if (w->tstate_current_addr) {
		/* 2.7 - 3.11: NULL while the GIL is released. */
		if (target_read_u64(t, w->tstate_current_addr, &holder) == 0)
			return holder;
		return 0;
	}
	if (w->gil_locked_addr && w->gil_holder_addr) {
		int32_t locked;
		if (target_read_i32(t, w->gil_locked_addr, &locked) == 0 && locked > 0 &&
		    target_read_u64(t, w->gil_holder_addr, &holder) == 0)
			return holder;
		return 0;
	}
	if (L->interp_ceval_gil_ptr >= 0 && L->gil_locked >= 0 && L->gil_last_holder >= 0) {
		/* 3.12+: the interpreter points at the GIL it uses; last_holder
		 * stays set after release, so only `locked` says it is held. */
		uint64_t gil;
		int32_t locked;
		if (target_read_u64(t, interp + (uint64_t)L->interp_ceval_gil_ptr, &gil) == 0 && gil &&
		    target_read_i32(t, gil + (uint64_t)L->gil_locked, &locked) == 0 && locked > 0 &&
		    target_read_u64(t, gil + (uint64_t)L->gil_last_holder, &holder) == 0)
			return holder;
	}
	return 0;
}

/* Before 3.11 a thread state has no OS thread id. On x86_64 glibc the
 * thread's pthread_t is its TCB address, which is also the thread's FS base
 * register: match it against the target's threads. Without registers, find
 * where glibc keeps the tid inside struct pthread from the main thread: the
 * id the process knows, in its own PID namespace (a container's). Sets
 * *TID and *NS_TID (0 when not found). */
static void find_tid_of_pthread(struct pywalker *w, uint64_t pthread_id, pid_t *tid, pid_t *ns_tid)
{
	struct target *t = w->target;
	*tid = *ns_tid = 0;
	for (size_t i = 0; i < t->nthreads; i++) {
		if (target_thread_regs(t, &t->threads[i]) && t->threads[i].regs[TREG_FS_BASE] == pthread_id) {
			*tid = t->threads[i].tid;
			*ns_tid = t->threads[i].ns_tid;
			return;
		}
	}
	int32_t known;
	if (w->pthread_tid_offset < 0 ||
	    target_read_i32(t, pthread_id + (uint64_t)w->pthread_tid_offset, &known) < 0 || known <= 0)
		return;
	*ns_tid = known;
	*tid = target_tid_from_ns(t, known);
}

/* Found once per thread: each search reads the thread's own page, or every
 * thread's registers, and a live sample would pay that per thread in its
 * pause. A pthread_t stays its thread's while it lives; glibc may give a
 * dead thread's to a new one (it reuses stacks), but then the tid found
 * before is no longer among the process's threads. */
static void tid_from_pthread(struct pywalker *w, struct pythread *th)
{
	uint64_t pthread_id = th->thread_id;
	struct pthread_tid_slot *known = hashtab_find(&w->pthread_tids, pthread_id);
	if (known && target_find_thread(w->target, known->tid)) {
		th->tid = known->tid;
		th->ns_tid = known->ns_tid;
		return;
	}
	find_tid_of_pthread(w, pthread_id, &th->tid, &th->ns_tid);
	if (th->tid <= 0 || !pthread_id ||
	    hashtab_reserve(&w->pthread_tids, w->pthread_tids.count + 1, sizeof(*known)) < 0)
		return;
	known = hashtab_slot_for(&w->pthread_tids, pthread_id);
	if (!known->pthread_id)
		hashtab_claim(&w->pthread_tids, known, pthread_id);
	known->tid = th->tid;
	known->ns_tid = th->ns_tid;
}

/* Find the offset of the tid inside struct pthread from the main thread,
 * whose tid is the pid (the pid the process knows itself by). Bounded to
 * the first 4 KiB. */
static void learn_pthread_tid_offset(struct pywalker *w, uint64_t main_pthread)
{
	struct target *t = w->target;
	pid_t own = target_own_pid(t);
	int32_t words[1024];
	if (!own || target_read(t, main_pthread, words, sizeof(words)) < 0)
		return;
	for (int i = 1; i < 1024; i++) {
		/* glibc stores tid then pid-ish fields; the first match past the
		 * header (which holds pointers) is the tid. */
		if (words[i] == own && i * 4 >= 0x100) {
			w->pthread_tid_offset = i * 4;
			return;
		}
	}
}

void py_thread_from_tstate(struct pywalker *w, const uint8_t *buf, struct pythread *th)
{
	const struct py_layout *L = &w->layout;
	th->thread_id = load_u64(buf, L->tstate_thread_id);
	if (L->tstate_native_thread_id >= 0) {
		th->ns_tid = (pid_t)load_u64(buf, L->tstate_native_thread_id);
		th->tid = target_tid_from_ns(w->target, th->ns_tid);
	}
	th->frame_addr = th->cframe_addr = 0;
	if (L->tstate_frame >= 0) {
		th->frame_addr = load_u64(buf, L->tstate_frame);
	} else if (L->tstate_cframe >= 0) {
		uint64_t cframe = load_u64(buf, L->tstate_cframe);
		if (w->lazy_frames)
			th->cframe_addr = cframe;
		else if (cframe &&
		         target_read_u64(w->target, cframe + (uint64_t)L->cframe_current_frame, &th->frame_addr) < 0)
			th->frame_addr = 0;
	} else {
		th->frame_addr = load_u64(buf, L->tstate_current_frame);
	}
}

int pywalker_threads(struct pywalker *w, const struct pythread **threads, size_t *count)
{
	struct target *t = w->target;
	const struct py_layout *L = &w->layout;
	uint8_t buf[4096];
	int32_t tsize = py_tstate_read_size(L);
	size_t n = 0;
	int ret = 0;
	if ((size_t)tsize > sizeof(buf))
		return err_set(ERR_CORRUPT, "thread state layout too large");

	uint64_t interp = w->info.interp_head_addr;
	w->list_whole = false;
	w->list_interps = 0;
	for (int i = 0; i < PY_MAX_INTERPRETERS && interp; i++) {
		uint64_t holder = py_gil_holder(w, interp);
		uint64_t tstate, id = (uint64_t)-1;
		if ((ret = target_read_u64(t, interp + (uint64_t)L->interp_threads_head, &tstate)) < 0)
			break;
		if (L->interp_id >= 0 && (ret = target_read_u64(t, interp + (uint64_t)L->interp_id, &id)) < 0)
			break;
		w->list_interp[i] = interp;
		w->list_head[i] = tstate;
		w->list_interps = (size_t)i + 1;
		for (int j = 0; tstate && j < PY_MAX_THREADS; j++) {
			if ((ret = target_read(t, tstate, buf, (size_t)tsize)) < 0)
				goto done;
			if (load_u64(buf, L->tstate_interp) != interp) {
				ret = err_set(ERR_CORRUPT, "thread state at 0x%llx does not belong to interpreter 0x%llx",
				              (unsigned long long)tstate, (unsigned long long)interp);
				goto done;
			}
			struct pythread *th = ARRAY_PUSH(w->threads, n, w->threads_cap);
			if (!th) {
				ret = -ERR_NOMEM;
				goto done;
			}
			memset(th, 0, sizeof(*th));
			th->tstate_addr = tstate;
			th->interp_addr = interp;
			th->interp_id = id <= INT32_MAX ? (int64_t)id : -1;
			th->holds_gil = holder && holder == tstate;
			py_thread_from_tstate(w, buf, th);
			tstate = load_u64(buf, L->tstate_next);
		}
		if (target_read_u64(t, interp + (uint64_t)L->interp_next, &interp) < 0)
			break;
	}
done:
	/* OS thread ids for versions that do not record them. */
	if (n && L->tstate_native_thread_id < 0) {
		/* The main thread (tid == pid) is the oldest, last thread state. */
		if (w->pthread_tid_offset < 0)
			learn_pthread_tid_offset(w, w->threads[n - 1].thread_id);
		for (size_t i = 0; i < n; i++)
			tid_from_pthread(w, &w->threads[i]);
	}
	*threads = w->threads;
	*count = n;
	w->list_count = n;
	w->list_whole = ret == 0 && !interp;
	if (ret < 0 && n)
		return -ERR_CORRUPT;
	return ret;
}

/* Read and decode the code object at ADDR; checks that it is a code object. */
static int read_code(struct pywalker *w, uint64_t addr, const struct pycode **code)
{
	const struct py_layout *L = &w->layout;
	uint8_t header[512];
	int32_t size = code_read_size(L);
	if ((size_t)size > sizeof(header))
		return err_set(ERR_CORRUPT, "code object layout too large");
	int ret = target_read(w->target, addr, header, (size_t)size);
	if (ret < 0)
		return ret;
	uint64_t type = load_u64(header, L->object_type);
	if (type != w->code_type_addr) {
		uint64_t name_ptr;
		char name[8] = {0};
		if (!type || target_read_u64(w->target, type + (uint64_t)L->type_name, &name_ptr) < 0 ||
		    target_read(w->target, name_ptr, name, 5) < 0 || strcmp(name, "code"))
			return err_set(ERR_CORRUPT, "object at 0x%llx is not a code object", (unsigned long long)addr);
		w->code_type_addr = type;
	}
	return py_code_get(w, addr, header, code);
}

int py_code_at(struct pywalker *w, uint64_t addr, const struct pycode **out)
{
	return read_code(w, addr, out);
}

/* _co_firsttraceable of the code at ADDR, read from it: a cache entry for
 * ADDR may be of a code object freed since, whose memory another now has
 * (the cache tells them apart only when reading the header). The read
 * costs the pause little: the header is read next from the same page. */
static int first_traceable(struct pywalker *w, uint64_t code_addr, int32_t *out)
{
	return target_read_i32(w->target, code_addr + (uint64_t)w->layout.code_firsttraceable, out);
}

int pywalker_stack_raw(struct pywalker *w, const struct pythread *th, struct pyframe *frames, size_t max,
                       size_t *count)
{
	const struct py_layout *L = &w->layout;
	uint8_t buf[256];
	int32_t fsize = frame_read_size(L);
	uint64_t frame = th->frame_addr;
	size_t n = 0;
	int ret = 0;
	if (!frame && th->cframe_addr &&
	    (ret = target_read_u64(w->target, th->cframe_addr + (uint64_t)L->cframe_current_frame, &frame)) < 0)
		return ret;
	/* Skipped shim frames count too, so a cycle cannot spin forever. */
	size_t budget = 2 * max + 64;
	bool modern = L->iframe_previous >= 0;
	uint64_t first_of = 0;    /* the code object FIRST was read from */
	int32_t first = 0;
	uint64_t empty_shim = 0;  /* a shim with no Python frame of its own, for the next frame */
	*count = 0;
	if ((size_t)fsize > sizeof(buf))
		return err_set(ERR_CORRUPT, "frame layout too large");

	while (frame && budget--) {
		if ((ret = target_read(w->target, frame, buf, (size_t)fsize)) < 0)
			break;
		uint64_t code_addr, next;
		int byte_offset;
		bool entry = false;
		if (!modern) {
			code_addr = load_u64(buf, L->frame_code);
			next = load_u64(buf, L->frame_back);
			int lasti = load_i32(buf, L->frame_lasti);
			byte_offset = w->lasti_is_index && lasti >= 0 ? 2 * lasti : lasti;
		} else {
			code_addr = load_u64(buf, L->iframe_code);
			if (w->executable_tagged)
				code_addr &= ~(uint64_t)3;
			next = load_u64(buf, L->iframe_previous);
			int owner = buf[L->iframe_owner];
			if (L->iframe_is_entry >= 0)
				entry = buf[L->iframe_is_entry] != 0;
			if (w->owner_first_skipped >= 0 && owner >= w->owner_first_skipped) {
				/* A C-stack shim: the frame above it started an eval loop.
				 * 3.15 has a base frame in the thread state below the
				 * first call's shim: keep the shim. */
				if (n && !frames[n - 1].entry_shim) {
					frames[n - 1].is_entry = true;
					frames[n - 1].entry_shim = frame;
				} else if (!empty_shim) {
					/* Innermost, or right below another shim: an eval
					 * call popping its last frame (3.12+ clears a
					 * returning frame inside the call, where a __del__
					 * may run). The next frame's caller side has it. */
					empty_shim = frame;
				}
				frame = next;
				continue;
			}
			if (!code_addr) {
				/* Only shims may lack code; a Python frame without it is
				 * memory we do not really have (a core that zero-filled
				 * what it could not read). */
				ret = err_set(ERR_CORRUPT, "frame at 0x%llx has no code object (memory missing from the %s target?)",
				              (unsigned long long)frame, target_kind_name(w->target));
				break;
			}
			uint64_t instr = load_u64(buf, L->iframe_instr);
			int64_t offset = (int64_t)(instr - (code_addr + (uint64_t)L->code_code_adaptive));
			if (offset < -2 || offset > (1 << 28)) {
				ret = err_set(ERR_CORRUPT, "frame at 0x%llx has an instruction pointer outside its code",
				              (unsigned long long)frame);
				break;
			}
			byte_offset = (int)offset;
			if (L->code_firsttraceable >= 0 && owner != w->owner_generator) {
				/* Recursion: the code object read a frame ago. */
				if (code_addr != first_of && (ret = first_traceable(w, code_addr, &first)) < 0)
					break;
				first_of = code_addr;
				/* Not past its prologue yet: CPython hides it too. */
				if (byte_offset < 2 * first) {
					frame = next;
					continue;
				}
			}
		}
		if (n == max) {
			ret = err_set(ERR_LIMIT, "stack deeper than %zu frames", max);
			break;
		}
		frames[n] = (struct pyframe){.addr = frame, .code_addr = code_addr, .byte_offset = byte_offset, .is_entry = entry,
		                             .empty_shim = empty_shim, .line = -1};
		empty_shim = 0;
		n++;
		frame = next;
	}
	if (frame && budget == (size_t)-1 && ret == 0)
		ret = err_set(ERR_CORRUPT, "frame chain of thread %llu does not end", (unsigned long long)th->thread_id);
	*count = n;
	return ret;
}

int pywalker_resolve_codes(struct pywalker *w, struct pyframe *frames, size_t n, size_t *count)
{
	int ret = 0;
	size_t i;
	for (i = 0; i < n; i++) {
		const struct pycode *code;
		/* Recursion: the code object of the frame it called, just read. */
		if (i && frames[i].code_addr == frames[i - 1].code_addr) {
			frames[i].code = frames[i - 1].code;
			continue;
		}
		if ((ret = read_code(w, frames[i].code_addr, &code)) < 0)
			break;
		frames[i].code = code;
	}
	*count = i;
	return ret;
}

int pywalker_resolve(struct pywalker *w, struct pyframe *frames, size_t n, size_t *count)
{
	int ret = pywalker_resolve_codes(w, frames, n, count);
	for (size_t i = 0; i < *count; i++)
		frames[i].line = py_code_line(w, frames[i].code, frames[i].byte_offset);
	return ret;
}

int pywalker_line(const struct pywalker *w, const struct pycode *code, int byte_offset)
{
	return py_code_line(w, code, byte_offset);
}

bool pywalker_position(const struct pywalker *w, const struct pycode *code, int byte_offset, struct pyposition *out)
{
	return py_code_position(w, code, byte_offset, out);
}

int pywalker_stack(struct pywalker *w, const struct pythread *th, struct pyframe *frames, size_t max,
                   size_t *count)
{
	size_t walked;
	int ret = pywalker_stack_raw(w, th, frames, max, &walked);
	int resolved = pywalker_resolve(w, frames, walked, count);
	return resolved < 0 ? resolved : ret;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

bool pyframe_looks_idle(const struct pyframe *innermost)
{
	const struct pycode *c = innermost->code;
	if (!c)
		return false;
	if (ends_with(c->filename, "threading.py") && (!strcmp(c->name, "wait") || !strcmp(c->name, "_wait_for_tstate_lock")))
		return true;
	if (ends_with(c->filename, "selectors.py") && !strcmp(c->name, "select"))
		return true;
	if (ends_with(c->filename, "queue.py") && !strcmp(c->name, "get"))
		return true;
	return false;
}
