/* A core file or snapshot as one sample, `report`'s walk of each file:
 * every Python thread's stack (with native frames where the file has them)
 * counted once into an aggregate of the file's own. It never prints. */
#include <sys/stat.h>

#include "pycoreprof/base.h"
#include "pycoreprof/collect.h"

int file_sample_read(const char *path, const struct file_sample_options *opts, struct file_sample *r, uint32_t *ids)
{
	struct target *t = NULL;
	struct pywalker *w = NULL;
	struct process_stacks ps = {0};
	struct native_unwinder *unwinder = NULL;
	struct native_copies copies = {0};
	struct stat st;
	int ret;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
		ret = err_set(ERR_NOT_ELF, "%s is empty", path);
		goto out;
	}
	if ((ret = core_target_open(path, NULL, &t)) < 0)
		goto out;
	r->capture_ns = t->capture_ns;
	if (opts->since || opts->until) {
		double taken = t->capture_ns / 1e9;
		if (!t->capture_ns || (opts->since && taken < opts->since) || (opts->until && taken > opts->until)) {
			r->out_of_range = true;
			goto out;
		}
	}
	if ((ret = pywalker_new(t, &w)) < 0 ||
	    (ret = process_stacks_collect(t, w, "snapshot", NULL, &ps)) < 0)
		goto out;
	if (opts->thread_roots)
		process_stacks_name_interpreters(&ps);
	/* Native frames are a bonus: a file whose native stacks cannot be
	 * unwound still counts with its Python frames. */
	if (opts->native != NATIVE_OFF && native_unwinder_new(t, pywalker_info(w), &unwinder) == 0) {
		if ((ret = native_copy_threads(&copies, t, 0)) == 0)
			ret = process_stacks_add_native(&ps, unwinder, &copies, opts->native);
		if (ret < 0)
			goto out;
	}
	err_clear();
	if ((ret = agg_init(&r->agg)) < 0 || (opts->timeline && (ret = agg_timeline_enable(&r->agg, 0)) < 0))
		goto out;
	for (size_t i = 0; i < ps.nthreads; i++) {
		const struct thread_stack *ts = &ps.threads[i];
		if (!ts->is_python || !ts->nframes || (ts->idle && !opts->idle))
			continue;
		if ((ret = thread_stack_count(&r->agg, ts, opts->thread_roots, ids, FILE_SAMPLE_FRAMES, r->capture_ns)) < 0)
			goto out;
		r->stacks++;
	}
	/* A snapshot without a stack to keep is on the timeline as a time. */
	if (opts->timeline && !r->stacks && r->capture_ns)
		ret = agg_timeline_add(&r->agg, 0, r->capture_ns);
out:
	if (ret < 0)
		agg_release(&r->agg);
	process_stacks_release(&ps);
	native_unwinder_free(unwinder);
	native_copies_release(&copies);
	pywalker_free(w);
	target_free(t);
	return ret;
}
