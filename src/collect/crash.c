/* Crash capture: a live process one of whose threads holds a fatal signal
 * (target_crash_held()) is read whole into a snapshot before the signal goes
 * on: every thread stopped, each one's Python frames and locals, registers
 * and stack top, the signal and its siginfo; then the signal is delivered
 * unchanged and the snapshot compressed. It does not decide when to look or
 * what to do with the file: the process tree does (processes.c). */
#include <stdio.h>
#include <string.h>

#include "collect/internal.h"
#include "pycoreprof/collect.h"

/* Registers of every thread: stop them all. */
static const struct freeze_policy every_thread = {.run_states = false};

/* The pause: discovery and every thread's walk through RECORDER, which
 * keeps each page read, and the stack tops native tools need. */
static int walk(struct target *recorder, struct crash_capture *c)
{
	struct pywalker *walker = NULL;
	struct process_stacks ps = {0};
	struct stacks_options what = {.locals = true};
	int ret = target_freeze(recorder);
	if (ret < 0)
		return ret;
	c->capture_time = capture_realtime_now();
	/* Discovery reads go through the recorder, so that the snapshot holds
	 * what finds the interpreter again. */
	if ((ret = pywalker_new(recorder, &walker)) == 0 &&
	    (ret = process_stacks_collect(recorder, walker, "live", &what, &ps)) == 0) {
		c->threads = ps.nthreads;
		const struct pyinfo *py = pywalker_info(walker);
		c->py_version_hex = py->version_hex;
		snprintf(c->py_version, sizeof(c->py_version), "%s", py->version);
		c->runtime_addr = py->runtime_addr;
		c->interp_head_addr = py->interp_head_addr;
	}
	capture_stack_tops(recorder);
	/* The thread holding the signal stays stopped through this. */
	target_resume(recorder);
	process_stacks_release(&ps);
	pywalker_free(walker);
	return ret;
}

int crash_capture_take(struct target *live, const struct freeze_policy *policy, struct crash_capture *c)
{
	struct target *recorder = NULL;
	struct snap_build_id *ids = NULL;
	size_t nids = 0;
	struct strbuf core = {0};
	double held_at = time_now();
	int ret;
	strbuf_reset(&c->file);
	c->signal = live->signal;
	c->threads = 0;
	c->py_version_hex = 0;
	c->py_version[0] = '\0';
	c->runtime_addr = c->interp_head_addr = 0;
	/* The binaries' build-ids need no stop: only the dying thread waits. */
	if ((ret = capture_build_ids(live, &ids, &nids)) < 0 || (ret = recording_target_new(live, &recorder)) < 0)
		goto out;
	target_set_freeze_policy(live, &every_thread);
	ret = walk(recorder, c);
	target_set_freeze_policy(live, policy);
	if (ret < 0)
		goto out;
	struct snap_info info = {
		.capture_ns = (uint64_t)(c->capture_time * 1e9),
		.py_version_hex = c->py_version_hex,
		.py_version = c->py_version,
		.runtime_addr = c->runtime_addr,
		.interp_head_addr = c->interp_head_addr,
		.build_ids = ids,
		.nbuild_ids = nids,
		.command = live->command,
	};
	ret = capture_build_core(recorder, &info, &c->pages, &core);
out:
	/* The copy is made (or cannot be): let the signal go, then compress. */
	target_release_crash(live);
	c->held = time_now() - held_at;
	if (ret == 0)
		ret = snapshot_gzip(core.buf, core.len, &c->file);
	strbuf_release(&core);
	target_free(recorder);
	capture_build_ids_free(ids, nids);
	return ret;
}

void crash_capture_release(struct crash_capture *c)
{
	strbuf_release(&c->file);
}
