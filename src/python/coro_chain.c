/* A coroutine's await chain: the coroutine's suspended frame, then what it
 * awaits (cr_await / gi_yieldfrom: the top of its frame's value stack while
 * suspended in an await or yield from), down to the innermost awaitable;
 * async generators through their asend/athrow objects. Frames come out as
 * the stack walk's pyframes, so lines come from the same line-table code.
 * Does not follow a running generator: its frames are on a thread's stack. */
#include <string.h>

#include "python/tasks_internal.h"

/* <= 3.10: the frame object, whether the generator waits in a yield from
 * (the next instruction is YIELD_FROM), and then the value it waits on. */
static int legacy_frame(struct pyobjects *o, uint64_t gen, struct gen_frame *out)
{
	const struct py_async_layout *A = &o->A;
	const struct py_layout *L = &o->w->layout;
	uint64_t frame, code;
	int32_t lasti;
	int ret;
	if ((ret = obj_ptr(o, gen, A->gen_frame, &frame)) < 0)
		return ret;
	if (!frame) {
		out->state = GEN_FINISHED;
		return 0;
	}
	if ((ret = obj_ptr(o, frame, L->frame_code, &code)) < 0 ||
	    (ret = target_read_i32(o->t, frame + (uint64_t)L->frame_lasti, &lasti)) < 0)
		return ret;
	bool index = o->w->lasti_is_index;
	out->frame = (struct pyframe){.addr = frame, .code_addr = code, .line = -1,
	                              .byte_offset = index && lasti >= 0 ? 2 * lasti : lasti};
	out->state = lasti < 0 ? GEN_CREATED : GEN_SUSPENDED;
	if (lasti < 0)
		return 0;
	uint64_t bytes;
	uint8_t opcode;
	int next = index ? 2 * (lasti + 1) : lasti + 2;
	if ((ret = obj_ptr(o, code, A->code_code, &bytes)) < 0 ||
	    (ret = target_read(o->t, bytes + (uint64_t)L->bytes_data + (uint64_t)next, &opcode, 1)) < 0)
		return ret;
	if (opcode != A->op_yield_from)
		return 0;
	if (A->frame_stacktop >= 0) {
		uint64_t top;
		if ((ret = obj_ptr(o, frame, A->frame_stacktop, &top)) < 0)
			return ret;
		if (top)
			return target_read_u64(o->t, top - 8, &out->awaits);
		return 0;
	}
	uint64_t stack;
	int32_t depth;
	if ((ret = obj_ptr(o, frame, A->frame_valuestack, &stack)) < 0 ||
	    (ret = target_read_i32(o->t, frame + (uint64_t)A->frame_stackdepth, &depth)) < 0)
		return ret;
	if (depth > 0 && depth < (1 << 16))
		return target_read_u64(o->t, stack + 8 * (uint64_t)(depth - 1), &out->awaits);
	return 0;
}

static bool is_state(int32_t value, int state)
{
	return value != PY_ABSENT && value == state;
}

/* 3.11+: the frame embedded in the generator and its frame state. */
static int modern_frame(struct pyobjects *o, uint64_t gen, struct gen_frame *out)
{
	const struct py_async_layout *A = &o->A;
	const struct py_layout *L = &o->w->layout;
	int8_t state;
	int ret = target_read(o->t, gen + (uint64_t)A->gen_frame_state, &state, 1);
	if (ret < 0)
		return ret;
	uint64_t frame = gen + (uint64_t)A->gen_iframe;
	if (is_state(A->frame_state_executing, state)) {
		out->state = GEN_RUNNING;
		out->frame.addr = frame;
		return 0;
	}
	bool created = is_state(A->frame_state_created, state);
	bool yield_from = is_state(A->frame_state_suspended_yield_from, state) ||
	                  is_state(A->frame_state_suspended_yield_from_locked, state);
	if (!created && !yield_from && !is_state(A->frame_state_suspended, state)) {
		out->state = GEN_FINISHED;
		return 0;
	}
	uint64_t code, instr;
	if ((ret = obj_ptr(o, frame, L->iframe_code, &code)) < 0 ||
	    (ret = obj_ptr(o, frame, L->iframe_instr, &instr)) < 0)
		return ret;
	if (o->w->executable_tagged)
		code &= ~(uint64_t)3;
	int64_t offset = (int64_t)(instr - (code + (uint64_t)L->code_code_adaptive));
	if (!code || offset < -2 || offset > (1 << 28))
		return err_set(ERR_CORRUPT, "generator at 0x%llx has a frame outside its code", (unsigned long long)gen);
	out->frame = (struct pyframe){.addr = frame, .code_addr = code, .byte_offset = (int)offset, .line = -1};
	out->state = created ? GEN_CREATED : GEN_SUSPENDED;
	if (created)
		return 0;
	if (A->frame_state_suspended_yield_from == PY_ABSENT) {
		/* 3.11, 3.12: in a yield from when the instruction after the
		 * last one run (its YIELD_VALUE) is a RESUME with oparg >= 2. */
		uint8_t unit[2];
		if ((ret = target_read(o->t, instr + 2, unit, 2)) < 0)
			return ret;
		yield_from = unit[1] >= 2 && (unit[0] == A->op_resume || unit[0] == A->op_resume_quick ||
		                              unit[0] == A->op_instrumented_resume);
	}
	if (!yield_from)
		return 0;
	uint64_t slot;
	int32_t depth = A->yield_from_depth;
	if (depth < 1 || depth > 8)
		return err_set(ERR_UNSUPPORTED_PYTHON, "Python %s: where a suspended frame keeps what it awaits is unknown",
		               o->w->info.version);
	if (A->iframe_stackpointer >= 0) {
		if ((ret = obj_ptr(o, frame, A->iframe_stackpointer, &slot)) < 0)
			return ret;
		slot -= 8 * (uint64_t)depth;
	} else {
		int32_t top;
		if ((ret = target_read_i32(o->t, frame + (uint64_t)A->iframe_stacktop, &top)) < 0)
			return ret;
		if (top < depth || top > (1 << 20))
			return err_set(ERR_CORRUPT, "generator at 0x%llx has a stack depth of %d", (unsigned long long)gen, top);
		slot = frame + (uint64_t)A->iframe_localsplus + 8 * (uint64_t)(top - depth);
	}
	if ((ret = target_read_u64(o->t, slot, &out->awaits)) < 0)
		return ret;
	out->awaits &= ~(uint64_t)A->stackref_tag_bits;
	return 0;
}

int gen_frame_read(struct pyobjects *o, uint64_t gen, struct gen_frame *out)
{
	memset(out, 0, sizeof(*out));
	return o->A.gen_iframe >= 0 ? modern_frame(o, gen, out) : legacy_frame(o, gen, out);
}

uint64_t gen_frame_address(struct pyobjects *o, uint64_t gen)
{
	uint64_t frame = 0;
	if (o->A.gen_iframe >= 0)
		return gen + (uint64_t)o->A.gen_iframe;
	if (obj_ptr(o, gen, o->A.gen_frame, &frame) < 0)
		return 0;
	return frame;
}

int await_chain(struct pyobjects *o, uint64_t coro, struct pyframe *frames, size_t max, size_t *count)
{
	uint64_t awaitable = coro;
	size_t n = 0;
	int ret = 0;
	*count = 0;
	/* Every step moves down one awaitable; the budget ends a cycle. */
	for (size_t budget = 2 * max + 8; awaitable && budget; budget--) {
		enum obj_kind kind;
		if ((ret = obj_kind(o, awaitable, &kind)) < 0)
			break;
		if (kind == OBJ_ASEND || kind == OBJ_ATHROW || kind == OBJ_COROWRAPPER) {
			int32_t off = kind == OBJ_ASEND ? o->A.asend_gen : kind == OBJ_ATHROW ? o->A.athrow_gen
			            : o->A.corowrapper_coro;
			if ((ret = obj_ptr(o, awaitable, off, &awaitable)) < 0)
				break;
			continue;
		}
		if (kind != OBJ_COROUTINE && kind != OBJ_GENERATOR && kind != OBJ_ASYNCGEN)
			break;
		struct gen_frame gf;
		if ((ret = gen_frame_read(o, awaitable, &gf)) < 0)
			break;
		if (gf.state == GEN_FINISHED || gf.state == GEN_RUNNING)
			break;
		if (n == max) {
			ret = err_set(ERR_LIMIT, "await chain longer than %zu frames", max);
			break;
		}
		frames[n++] = gf.frame;
		awaitable = gf.awaits;
	}
	/* Read outermost first; reported innermost first, like stacks. */
	for (size_t i = 0; i < n / 2; i++) {
		struct pyframe swap = frames[i];
		frames[i] = frames[n - 1 - i];
		frames[n - 1 - i] = swap;
	}
	*count = n;
	return ret;
}
