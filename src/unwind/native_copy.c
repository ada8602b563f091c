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
	size_t low = 0, high = t->nmappings;
	while (low < high) {
		size_t mid = low + (high - low) / 2;
		if (t->mappings[mid].end <= sp)
			low = mid + 1;
		else
			high = mid;
	}
	return low < t->nmappings ? t->mappings[low].end : 0;
}

static int reserve(struct native_copies *c)
{
	if (c->n < c->cap)
		return 0;
	size_t cap = c->cap ? 2 * c->cap : 16;
	struct native_thread_copy *grown = xrealloc_array(c->threads, cap, sizeof(*grown));
	if (!grown)
		return -ERR_NOMEM;
	memset(grown + c->cap, 0, (cap - c->cap) * sizeof(*grown));
	c->threads = grown;
	c->cap = cap;
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
	if (want > copy->stack_cap) {
		uint8_t *grown = realloc(copy->stack, want);
		if (!grown)
			return err_set(ERR_NOMEM, "cannot keep %zu bytes of the stack of thread %d", want, (int)th->tid);
		copy->stack = grown;
		copy->stack_cap = want;
	}
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

int native_copy_threads(struct native_copies *c, struct target *t, size_t bytes)
{
	for (size_t i = 0; i < t->nthreads; i++) {
		if (!t->threads[i].has_regs)
			continue;
		int ret = native_copy_thread(c, t, &t->threads[i], bytes);
		if (ret < 0)
			return ret;
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
