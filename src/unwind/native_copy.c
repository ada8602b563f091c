/* Copies of threads' registers and stack tops, taken while a live target is
 * stopped so that it can be unwound after it runs on. Buffers are kept and
 * reused between samples; they grow only when a thread needs more. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/native.h"

#define MIN_COPY 4096u

/* The end of the mapping holding the stack at SP (or of the first one above
 * it: a main stack may have grown below the start we last read). 0 when
 * nothing is mapped above SP. */
static uint64_t stack_end(const struct target *t, uint64_t sp)
{
	size_t low = SORTED_UPPER_BOUND(t->mappings, t->nmappings, end, sp);
	return low < t->nmappings ? t->mappings[low].end : 0;
}

static int reserve(struct native_copies *c)
{
	size_t old_cap = c->cap;
	if (ARRAY_GROW(c->threads, c->cap, c->n + 1) < 0)
		return -ERR_NOMEM;
	/* Copies are reused: a new one starts without a stack buffer. */
	memset(c->threads + old_cap, 0, (c->cap - old_cap) * sizeof(*c->threads));
	return 0;
}

int native_copy_thread(struct native_copies *c, struct target *t, const struct target_thread *th, size_t bytes)
{
	int ret = reserve(c);
	if (ret < 0)
		return ret;
	struct native_thread_copy *copy = &c->threads[c->n];
	uint64_t sp = th->regs[TREG_RSP];
	copy->tid = th->tid;
	memcpy(copy->regs, th->regs, sizeof(copy->regs));
	copy->stack_start = sp;
	copy->stack_len = 0;
	copy->read_through = bytes == 0;
	c->n++;
	if (!bytes)
		return 0;
	uint64_t end = stack_end(t, sp);
	size_t want = bytes;
	if (end > sp && end - sp < want)
		want = (size_t)(end - sp);
	if (ARRAY_GROW(copy->stack, copy->stack_cap, want) < 0)
		return err_set(ERR_NOMEM, "cannot keep %zu bytes of the stack of thread %d", want, (int)th->tid);
	/* A stack whose end we do not know: take less until a read succeeds. */
	while (want >= MIN_COPY || (want && end > sp)) {
		if (target_read(t, sp, copy->stack, want) == 0) {
			copy->stack_len = want;
			break;
		}
		if (end > sp && want == end - sp)
			end = 0;
		want /= 2;
	}
	return 0;
}

void native_copies_clear(struct native_copies *c)
{
	c->n = 0;
}

void native_copies_release(struct native_copies *c)
{
	for (size_t i = 0; i < c->cap; i++)
		free(c->threads[i].stack);
	free(c->threads);
	memset(c, 0, sizeof(*c));
}
