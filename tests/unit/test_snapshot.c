/* Unit tests of snapshot files: a core built by snapshot_build() from a
 * hand-made target opens with core_target_open() as a snapshot, with its
 * threads, regions (merged when adjacent), capture time and nothing else. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"
#include "unit.h"

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *out = fopen(path, "wb");
	if (!out)
		return -1;
	size_t done = fwrite(data, 1, len, out);
	return fclose(out) == 0 && done == len ? 0 : -1;
}

/* A process of three pages at 0x20000, as a backend without read_ranges. */
static uint8_t memory[3 * 4096];
static bool memory_gone;

static int memory_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	if (memory_gone || addr < 0x20000 || addr + len > 0x20000 + sizeof(memory))
		return err_set(ERR_UNMAPPED, "address 0x%llx", (unsigned long long)addr);
	memcpy(buf, memory + (addr - 0x20000), len);
	return 0;
}

/* recording_target_unchanged(): the blocks read are compared, the rest of
 * their pages is not, and a page gone is a change. */
static void test_recording_check(void)
{
	static const struct target_ops ops = {.read = memory_read};
	struct target inner = {.ops = &ops, .kind = TARGET_LIVE};
	struct target *rec = NULL;
	uint8_t buf[16];
	bool same = false;
	for (size_t i = 0; i < sizeof(memory); i++)
		memory[i] = (uint8_t)i;
	CHECK(recording_target_new(&inner, &rec) == 0, "a recording over a fake process");
	recording_target_new_round(rec);
	CHECK(target_read(rec, 0x20010, buf, 8) == 0 && target_read(rec, 0x21ff8, buf, 16) == 0,
	      "reads through it, one across two pages");
	CHECK(recording_target_unchanged(rec, &same) == 0 && same, "nothing changed: the same");
	memory[0x1000 + 0x800] ^= 1;   /* a page read, a block not read */
	CHECK(recording_target_prepare_check(rec) == 0 && recording_target_unchanged(rec, &same) == 0 && same,
	      "a change outside the blocks read is no change");
	memory[0x2000 + 0x3] ^= 1;     /* inside the read that crossed into the last page */
	CHECK(recording_target_unchanged(rec, &same) == 0 && !same, "a byte read changed: not the same");
	memory[0x2003] ^= 1;
	recording_target_new_round(rec);
	CHECK(target_read(rec, 0x20ff0, buf, 16) == 0, "a read of the first page only");
	memory[0x2003] ^= 1;
	CHECK(recording_target_unchanged(rec, &same) == 0 && same, "this round's pages only");
	memory_gone = true;
	CHECK(recording_target_unchanged(rec, &same) == 0 && !same, "a page that cannot be read now: changed");
	memory_gone = false;
	target_free(rec);
}

int main(void)
{
	test_recording_check();
	static uint8_t heap[3 * 4096];
	struct target_thread threads[2] = {
		{.tid = 100, .has_regs = true},
		{.tid = 101, .has_regs = true},
	};
	threads[0].regs[TREG_RIP] = 0x401000;
	threads[0].regs[TREG_RSP] = 0x7ffd0000;
	threads[1].regs[TREG_RIP] = 0x401234;
	struct target_mapping maps[2] = {
		{.start = 0x400000, .end = 0x402000, .readable = true, .executable = true, .path = "/nonexistent/python"},
		{.start = 0x10000000, .end = 0x10003000, .readable = true, .writable = true},
	};
	uint64_t auxv[] = {6, 4096, 0, 0};
	struct target t = {
		.kind = TARGET_LIVE, .pid = 100, .command = "python app.py", .executable = "/nonexistent/python",
		.threads = threads, .nthreads = 2, .mappings = maps, .nmappings = 2, .auxv = auxv, .auxv_words = 4,
	};
	for (size_t i = 0; i < sizeof(heap); i++)
		heap[i] = (uint8_t)(i * 7);
	/* Two adjacent regions (one segment) and one apart. */
	struct snap_region regions[3] = {
		{0x10000000, 64, heap},
		{0x10000040, 128, heap + 64},
		{0x10002000, 4096, heap + 8192},
	};
	struct snap_build_id id = {.path = "/nonexistent/python", .id = {1, 2, 3, 4}, .len = 4};
	struct snap_info info = {
		.capture_ns = 1764000000123456789ull, .py_version_hex = 0x030b07f0, .py_version = "3.11.7",
		.runtime_addr = 0x10000000, .build_ids = &id, .nbuild_ids = 1,
	};
	struct strbuf core = {0}, zipped = {0};
	char plain_path[] = "/tmp/pcp-snap-XXXXXX";
	int fd = mkstemp(plain_path);
	CHECK(fd >= 0, "temporary file");
	close(fd);
	CHECK(snapshot_build(&t, regions, 3, &info, &core) == 0, "snapshot_build");
	CHECK(snapshot_gzip(core.buf, core.len, &zipped) == 0 && zipped.len < core.len, "snapshot_gzip (%zu -> %zu bytes)",
	      core.len, zipped.len);

	for (int pass = 0; pass < 2; pass++) {
		const struct strbuf *bytes = pass ? &zipped : &core;
		const char *what = pass ? "gzip" : "plain";
		CHECK(write_file(plain_path, bytes->buf, bytes->len) == 0, "%s: written", what);
		struct target *read = NULL;
		int ret = core_target_open(plain_path, NULL, &read);
		CHECK(ret == 0, "%s: opens as a core (%s)", what, ret ? err_context() : "ok");
		if (ret)
			continue;
		CHECK(read->kind == TARGET_SNAPSHOT, "%s: kind is snapshot", what);
		CHECK(read->capture_ns == info.capture_ns, "%s: capture time", what);
		CHECK(read->pid == 100 && read->nthreads == 2, "%s: pid %d, %zu threads", what, read->pid, read->nthreads);
		CHECK(read->threads[0].tid == 100 && read->threads[0].regs[TREG_RIP] == 0x401000 &&
		      read->threads[1].regs[TREG_RIP] == 0x401234, "%s: registers", what);
		CHECK(read->command && !strcmp(read->command, "python app.py"), "%s: command %s", what,
		      read->command ? read->command : "(none)");
		CHECK(target_auxv(read, 6) == 4096, "%s: auxv", what);
		uint8_t got[192];
		CHECK(target_read(read, 0x10000000, got, 192) == 0 && !memcmp(got, heap, 192),
		      "%s: adjacent regions read back as one", what);
		CHECK(target_read(read, 0x10002ff0, got, 16) == 0 && !memcmp(got, heap + 8192 + 4080, 16),
		      "%s: the last region", what);
		CHECK(target_read(read, 0x100000c0, got, 1) < 0, "%s: a byte never stored is an error", what);
		CHECK(target_read(read, 0x10000100, got, 8) < 0, "%s: unstored memory between regions", what);
		const struct target_mapping *m = target_find_mapping(read, 0x400100);
		CHECK(m && m->path && !strcmp(m->path, "/nonexistent/python"), "%s: NT_FILE mapping", what);
		CHECK(read->ns_pid == 0 && read->threads[1].ns_tid == 101 && target_tid_from_ns(read, 101) == 101,
		      "%s: no PID namespace of its own: ids are the same", what);
		target_free(read);
	}

	/* A process in a PID namespace of its own: the ids it knows its
	 * threads by come back with ours. */
	{
		struct target_ns_tid ns_tids[2] = {{.ns_tid = 1, .tid = 100}, {.ns_tid = 2, .tid = 101}};
		struct target in_ns = t;
		struct strbuf ns_core = {0};
		in_ns.ns_pid = 1;
		in_ns.ns_tids = ns_tids;
		in_ns.n_ns_tids = 2;
		struct target *read = NULL;
		CHECK(snapshot_build(&in_ns, regions, 3, &info, &ns_core) == 0 &&
		      write_file(plain_path, ns_core.buf, ns_core.len) == 0, "namespace: written");
		int ret = core_target_open(plain_path, NULL, &read);
		CHECK(ret == 0, "namespace: opens (%s)", ret ? err_context() : "ok");
		if (ret == 0) {
			CHECK(read->pid == 100 && read->ns_pid == 1, "namespace: pid %d, ns_pid %d", read->pid, read->ns_pid);
			CHECK(read->threads[0].ns_tid == 1 && read->threads[1].ns_tid == 2, "namespace: thread ids %d, %d",
			      read->threads[0].ns_tid, read->threads[1].ns_tid);
			CHECK(target_tid_from_ns(read, 2) == 101 && target_tid_from_ns(read, 1) == 100 &&
			      target_tid_from_ns(read, 3) == 0, "namespace: ids translated, an unknown one to 0");
			CHECK(read->command && !strcmp(read->command, "python app.py"), "namespace: command still read");
		}
		target_free(read);
		strbuf_release(&ns_core);
	}

	/* A build-id entry claiming more bytes than the note has is refused. */
	char *note = memmem(core.buf, core.len, SNAP_NOTE_NAME, sizeof(SNAP_NOTE_NAME));
	CHECK(note != NULL, "the pycoreprof note is in the file");
	if (note) {
		uint8_t *desc = (uint8_t *)note + ((sizeof(SNAP_NOTE_NAME) + 3) & ~3u);
		uint32_t huge = 1000;
		memcpy(desc + 76, &huge, sizeof(huge));   /* first entry's build-id length */
		struct target *read = NULL;
		CHECK(write_file(plain_path, core.buf, core.len) == 0, "corrupt copy written");
		int ret = core_target_open(plain_path, NULL, &read);
		CHECK(ret == -ERR_CORRUPT, "a malformed pycoreprof note is corrupt (%d: %s)", ret, err_context());
		target_free(read);
	}
	unlink(plain_path);
	strbuf_release(&core);
	strbuf_release(&zipped);
	return unit_done();
}
