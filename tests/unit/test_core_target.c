/* Unit tests of the ELF layer and the core target: notes, synthetic and
 * fuzzed cores, and real cores made at test time from a child (a copy of
 * this program run with --child) by gdb's gcore and by the kernel. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gelf.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <lz4frame.h>
#include <lzma.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "pycoreprof/base.h"
#include "pycoreprof/elf.h"
#include "pycoreprof/target.h"
#include "unit.h"

#define SKIP(...)                                                             \
	do {                                                                  \
		unit_count++;                                                 \
		printf("ok %d - # SKIP ", unit_count);                        \
		printf(__VA_ARGS__);                                          \
		printf("\n");                                                 \
	} while (0)

#define CRASH_ADDRESS 0x1234u
#define MARKER_TAG 0x5ca1ab1e00000000ull
#define AUXV_PAGESZ 6
/* Cores bigger than this mean something went wrong; never fill the disk. */
#define MAX_CORE_BYTES (1024ull * 1024 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* ---- the child: threads, a dirty global and a read-only constant ---- */

static const char child_rodata[] = "pycoreprof-rodata-marker:4f1c9e";
static volatile uint64_t child_marker = 1;
static pid_t child_tids[3];
static pthread_barrier_t child_ready;
static bool child_crashes;

static void *child_worker(void *arg)
{
	int index = (int)(intptr_t)arg;
	child_tids[index] = gettid();
	pthread_barrier_wait(&child_ready);
	if (child_crashes && index == 2) {
		char go;
		if (read(STDIN_FILENO, &go, 1) == 1)
			*(volatile int *)(uintptr_t)CRASH_ADDRESS = 1;
	}
	for (;;)
		pause();
	return NULL;
}

static int child_main(const char *mode, const char *dir)
{
	pthread_t threads[2];
	child_crashes = strcmp(mode, "crash") == 0;
	if (child_crashes) {
		struct rlimit limit;
		getrlimit(RLIMIT_CORE, &limit);
		limit.rlim_cur = limit.rlim_max < MAX_CORE_BYTES ? limit.rlim_max : MAX_CORE_BYTES;
		setrlimit(RLIMIT_CORE, &limit);
		prctl(PR_SET_DUMPABLE, 1);
		if (chdir(dir) != 0)
			return 3;
	}
	child_marker = MARKER_TAG | (uint32_t)getpid();
	child_tids[0] = gettid();
	pthread_barrier_init(&child_ready, NULL, 3);
	for (int i = 0; i < 2; i++)
		pthread_create(&threads[i], NULL, child_worker, (void *)(intptr_t)(i + 1));
	pthread_barrier_wait(&child_ready);
	printf("%d %d %d %d %llx %llx\n", getpid(), child_tids[0], child_tids[1], child_tids[2],
	       (unsigned long long)(uintptr_t)&child_marker,
	       (unsigned long long)(uintptr_t)child_rodata);
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

/* ---- helpers ---- */

static char tmp_root[PATH_MAX];

/* Paths under the temporary directory; all freed at exit. */
static char **tmp_paths;
static size_t tmp_npaths;

static char *tmp_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *tmp_path(const char *fmt, ...)
{
	char rel[PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	char *out = xasprintf("%s/%s", tmp_root, rel);
	char **grown = xrealloc_array(tmp_paths, tmp_npaths + 1, sizeof(*grown));
	if (!out || !grown)
		abort();
	tmp_paths = grown;
	tmp_paths[tmp_npaths++] = out;
	return out;
}

static void free_tmp_paths(void)
{
	for (size_t i = 0; i < tmp_npaths; i++)
		free(tmp_paths[i]);
	free(tmp_paths);
}

static bool write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0)
		return false;
	bool ok = write(fd, data, len) == (ssize_t)len;
	return close(fd) == 0 && ok;
}

static bool read_whole(const char *path, uint8_t **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	FILE *in = fopen(path, "rb");
	if (!in)
		return false;
	fseek(in, 0, SEEK_END);
	long size = ftell(in);
	fseek(in, 0, SEEK_SET);
	*data = malloc(size > 0 ? (size_t)size : 1);
	bool ok = *data && fread(*data, 1, (size_t)size, in) == (size_t)size;
	fclose(in);
	*len = (size_t)size;
	return ok;
}

static bool copy_file(const char *from, const char *to, size_t limit)
{
	static uint8_t chunk[1 << 20];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	bool ok = in && out;
	while (ok && limit) {
		size_t got = fread(chunk, 1, limit < sizeof(chunk) ? limit : sizeof(chunk), in);
		if (!got)
			break;
		ok = fwrite(chunk, 1, got, out) == got;
		limit -= got;
	}
	if (in)
		fclose(in);
	if (out)
		ok = fclose(out) == 0 && ok;
	if (ok)
		chmod(to, 0755);
	return ok;
}

static bool make_dirs(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *slash = buf + 1; *slash; slash++) {
		if (*slash != '/')
			continue;
		*slash = '\0';
		mkdir(buf, 0755);
		*slash = '/';
	}
	return mkdir(buf, 0755) == 0 || errno == EEXIST;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int open_core(const char *path, const char *exe, const char *search, struct target **t)
{
	struct core_open_options opts = { .exe_path = exe, .search_path = search };
	err_clear();
	return core_target_open(path, &opts, t);
}

/* ---- notes ---- */

struct note_seen {
	int calls;
	uint32_t last_type;
	char last_name[16];
	size_t last_size;
	int stop_with;
};

static int record_note(void *ctx, uint32_t type, const char *name, const void *desc, size_t size)
{
	struct note_seen *seen = ctx;
	seen->calls++;
	seen->last_type = type;
	snprintf(seen->last_name, sizeof(seen->last_name), "%s", name);
	seen->last_size = size;
	return seen->stop_with;
}

static void add_note(struct strbuf *sb, const char *name, uint32_t type,
                     const void *desc, size_t size, size_t align)
{
	uint32_t header[3] = { name ? (uint32_t)strlen(name) + 1 : 0, (uint32_t)size, type };
	static const uint8_t zeros[8];
	strbuf_add(sb, header, sizeof(header));
	if (name)
		strbuf_add(sb, name, header[0]);
	strbuf_add(sb, zeros, (align - sb->len % align) % align);
	strbuf_add(sb, desc, size);
	strbuf_add(sb, zeros, (align - sb->len % align) % align);
}

static void test_notes(void)
{
	struct note_seen seen = {0};
	struct strbuf sb = {0};
	uint8_t desc[20];
	for (size_t i = 0; i < sizeof(desc); i++)
		desc[i] = (uint8_t)(0xa0 + i);

	CHECK(elfnote_each("", 0, record_note, &seen) == 0 && seen.calls == 0,
	      "an empty note buffer has no notes");

	add_note(&sb, "GNU", 3, desc, sizeof(desc), 4);
	add_note(&sb, "CORE", 1, desc, 5, 4);
	seen = (struct note_seen){0};
	CHECK(elfnote_each(sb.buf, sb.len, record_note, &seen) == 0 && seen.calls == 2 &&
	      seen.last_type == 1 && strcmp(seen.last_name, "CORE") == 0 && seen.last_size == 5,
	      "two well-formed notes are both seen");
	seen = (struct note_seen){ .stop_with = 7 };
	CHECK(elfnote_each(sb.buf, sb.len, record_note, &seen) == 7 && seen.calls == 1,
	      "a callback's non-zero value stops the walk and is returned");

	const uint8_t *id;
	size_t id_len;
	CHECK(elfnote_build_id(sb.buf, sb.len, 4, &id, &id_len) == 0 && id_len == sizeof(desc) &&
	      memcmp(id, desc, sizeof(desc)) == 0, "the GNU build-id note is found");
	char hex[2 * sizeof(desc) + 1];
	build_id_to_hex(id, id_len, hex);
	CHECK(strncmp(hex, "a0a1a2a3", 8) == 0 && strlen(hex) == 40, "build-id hex text: %s", hex);

	struct strbuf other = {0};
	add_note(&other, "CORE", 3, desc, 8, 4);
	CHECK(elfnote_build_id(other.buf, other.len, 4, &id, &id_len) == -ERR_NO_SYMBOL && !id,
	      "no build-id in notes without a GNU note");

	/* Damage: each must fail cleanly. */
	struct strbuf bad = {0};
	strbuf_add(&bad, sb.buf, sb.len);
	uint32_t huge_name[3] = { 0xffffffffu, 4, 1 };
	strbuf_add(&bad, huge_name, sizeof(huge_name));
	seen = (struct note_seen){0};
	CHECK(elfnote_each(bad.buf, bad.len, record_note, &seen) == -ERR_CORRUPT && seen.calls == 2,
	      "a name size past the end is corrupt after the good notes");

	uint32_t huge_desc[4] = { 4, 0xfffffff0u, 1, 0x45524f43 /* "CORE" */ };
	seen = (struct note_seen){0};
	CHECK(elfnote_each(huge_desc, sizeof(huge_desc), record_note, &seen) == -ERR_CORRUPT &&
	      seen.calls == 0, "a descriptor size past the end is corrupt");

	uint32_t wrap_name[3] = { 0xfffffffdu, 0, 1 };
	CHECK(elfnote_each_aligned(wrap_name, sizeof(wrap_name), 8, record_note, &seen) == -ERR_CORRUPT,
	      "a name size that would wrap when aligned is corrupt");

	uint8_t short_tail[8] = { 1, 2, 3 };
	CHECK(elfnote_each(short_tail, sizeof(short_tail), record_note, &seen) == -ERR_CORRUPT,
	      "a non-zero tail shorter than a note header is corrupt");
	uint8_t zero_tail[8] = {0};
	CHECK(elfnote_each(zero_tail, sizeof(zero_tail), record_note, &seen) == 0,
	      "zero padding at the end is accepted");

	struct strbuf unterminated = {0};
	uint32_t head[3] = { 4, 0, 1 };
	strbuf_add(&unterminated, head, sizeof(head));
	strbuf_add(&unterminated, "CORE", 4);
	CHECK(elfnote_each(unterminated.buf, unterminated.len, record_note, &seen) == -ERR_CORRUPT,
	      "an unterminated note name is corrupt");
	CHECK(elfnote_each_aligned(sb.buf, sb.len, 3, record_note, &seen) == -ERR_CORRUPT,
	      "an alignment other than 4 or 8 is refused");

	/* 8-byte alignment, as GNU property notes use. */
	struct strbuf wide = {0};
	add_note(&wide, "GNU", 5, desc, 12, 8);
	add_note(&wide, "GNU", 3, desc, 20, 8);
	CHECK(elfnote_build_id(wide.buf, wide.len, 8, &id, &id_len) == 0 && id_len == 20 &&
	      id[0] == 0xa0, "8-byte aligned notes are walked");

	strbuf_release(&sb);
	strbuf_release(&other);
	strbuf_release(&bad);
	strbuf_release(&unterminated);
	strbuf_release(&wide);
}

/* ---- the common target helpers ---- */

static int pattern_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;
	if (addr >= 0x1000)
		return err_set(ERR_UNMAPPED, "address 0x%llx", (unsigned long long)addr);
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(addr + i);
	return 0;
}

static int destroyed;
static void count_destroy(struct target *t) { destroyed++; }

static void test_target_helpers(void)
{
	static const struct target_ops ops = { .read = pattern_read, .destroy = count_destroy };
	struct target *t = xcalloc(1, sizeof(*t));
	t->ops = &ops;
	t->nmappings = 3;
	t->mappings = xcalloc(3, sizeof(*t->mappings));
	t->mappings[0] = (struct target_mapping){ .start = 0x1000, .end = 0x2000, .path = xstrdup("/a") };
	t->mappings[1] = (struct target_mapping){ .start = 0x2000, .end = 0x3000, .path = xstrdup("/b") };
	t->mappings[2] = (struct target_mapping){ .start = 0x5000, .end = 0x6000, .path = xstrdup("/b") };
	t->nthreads = 2;
	t->threads = xcalloc(2, sizeof(*t->threads));
	t->threads[0].tid = 10;
	t->threads[1].tid = 11;
	t->auxv_words = 6;
	t->auxv = xcalloc(6, sizeof(uint64_t));
	uint64_t auxv[6] = { 6, 4096, 0, 0, 9, 1 };
	memcpy(t->auxv, auxv, sizeof(auxv));

	uint64_t u64 = 0;
	uint32_t u32 = 0;
	int32_t i32 = 0;
	CHECK(target_read_u64(t, 0x10, &u64) == 0 && u64 == 0x1716151413121110ull,
	      "target_read_u64 reads little-endian bytes");
	CHECK(target_read_u32(t, 0x20, &u32) == 0 && u32 == 0x23222120u, "target_read_u32");
	CHECK(target_read_i32(t, 0xfc, &i32) == 0 && i32 == (int32_t)0xfffefdfcu, "target_read_i32");
	CHECK(target_read_u64(t, 0x2000, &u64) == -ERR_UNMAPPED, "typed reads pass errors on");
	CHECK(!target_find_mapping(t, 0xfff) && target_find_mapping(t, 0x1000) == &t->mappings[0] &&
	      target_find_mapping(t, 0x1fff) == &t->mappings[0] &&
	      target_find_mapping(t, 0x2000) == &t->mappings[1] && !target_find_mapping(t, 0x3000) &&
	      target_find_mapping(t, 0x5fff) == &t->mappings[2] && !target_find_mapping(t, 0x6000),
	      "target_find_mapping at every boundary");
	CHECK(target_first_mapping_of(t, "/b") == &t->mappings[1] && !target_first_mapping_of(t, "/c") &&
	      !target_first_mapping_of(t, NULL), "target_first_mapping_of picks the lowest");
	CHECK(target_find_thread(t, 11) == &t->threads[1] && !target_find_thread(t, 12),
	      "target_find_thread");
	CHECK(target_auxv(t, 6) == 4096 && target_auxv(t, 9) == 0 && target_auxv(t, 7) == 0,
	      "target_auxv stops at AT_NULL");
	target_free(t);
	target_free(NULL);
	CHECK(destroyed == 1, "target_free calls the backend's destroy once");
}

/* ---- synthetic cores ---- */

struct synth_segment {
	uint32_t type, flags;
	uint64_t vaddr, memsz;
	const void *data;
	size_t filesz;
};

/* Lay out an x86_64 ET_CORE: header, program headers, then each segment's
 * bytes. Returns the image; the caller frees it. */
static uint8_t *build_core(const struct synth_segment *segs, size_t nsegs, size_t *size)
{
	size_t offset = sizeof(Elf64_Ehdr) + nsegs * sizeof(Elf64_Phdr);
	size_t total = offset;
	for (size_t i = 0; i < nsegs; i++)
		total += (segs[i].filesz + 7) & ~(size_t)7;
	uint8_t *image = calloc(1, total);
	Elf64_Ehdr *ehdr = (Elf64_Ehdr *)image;
	memcpy(ehdr->e_ident, ELFMAG, SELFMAG);
	ehdr->e_ident[EI_CLASS] = ELFCLASS64;
	ehdr->e_ident[EI_DATA] = ELFDATA2LSB;
	ehdr->e_ident[EI_VERSION] = EV_CURRENT;
	ehdr->e_type = ET_CORE;
	ehdr->e_machine = EM_X86_64;
	ehdr->e_version = EV_CURRENT;
	ehdr->e_phoff = sizeof(Elf64_Ehdr);
	ehdr->e_ehsize = sizeof(Elf64_Ehdr);
	ehdr->e_phentsize = sizeof(Elf64_Phdr);
	ehdr->e_phnum = (uint16_t)nsegs;
	Elf64_Phdr *phdrs = (Elf64_Phdr *)(image + sizeof(Elf64_Ehdr));
	for (size_t i = 0; i < nsegs; i++) {
		phdrs[i] = (Elf64_Phdr){
			.p_type = segs[i].type, .p_flags = segs[i].flags,
			.p_offset = offset, .p_vaddr = segs[i].vaddr,
			.p_filesz = segs[i].filesz, .p_memsz = segs[i].memsz,
			.p_align = segs[i].type == PT_NOTE ? 4 : 0x1000,
		};
		if (segs[i].filesz)
			memcpy(image + offset, segs[i].data, segs[i].filesz);
		offset += (segs[i].filesz + 7) & ~(size_t)7;
	}
	*size = total;
	return image;
}

static void add_prstatus(struct strbuf *notes, int32_t tid, int16_t cursig, uint64_t rip)
{
	uint8_t desc[336] = {0};
	memcpy(desc + 12, &cursig, sizeof(cursig));
	memcpy(desc + 32, &tid, sizeof(tid));
	memcpy(desc + 112 + 8 * TREG_RIP, &rip, sizeof(rip));
	add_note(notes, "CORE", 1, desc, sizeof(desc), 4);
}

static void add_prpsinfo(struct strbuf *notes, int32_t pid, const char *args)
{
	uint8_t desc[136] = {0};
	memcpy(desc + 24, &pid, sizeof(pid));
	memcpy(desc + 40, "synth", 5);
	memcpy(desc + 56, args, strlen(args));
	add_note(notes, "CORE", 3, desc, sizeof(desc), 4);
}

static void add_siginfo(struct strbuf *notes, int32_t signo, int32_t code, uint64_t addr)
{
	uint8_t desc[128] = {0};
	memcpy(desc, &signo, sizeof(signo));
	memcpy(desc + 8, &code, sizeof(code));
	memcpy(desc + 16, &addr, sizeof(addr));
	add_note(notes, "CORE", 0x53494749, desc, sizeof(desc), 4);
}

static void add_file_note(struct strbuf *notes, uint64_t start, uint64_t end, uint64_t pgoff,
                          const char *path)
{
	struct strbuf desc = {0};
	uint64_t words[5] = { 1, 4096, start, end, pgoff };
	strbuf_add(&desc, words, sizeof(words));
	strbuf_add(&desc, path, strlen(path) + 1);
	add_note(notes, "CORE", 0x46494c45, desc.buf, desc.len, 4);
	strbuf_release(&desc);
}

/* The synthetic layout: two adjacent stored pages (A, B) at 0x10000, a
 * file-backed range at 0x20000 not stored, and a segment at 0x30000 whose
 * second page is past p_filesz. */
static uint8_t page_a[4096], page_b[4096], page_c[4096];

static uint8_t *synth_core(const struct strbuf *notes, size_t *size)
{
	struct synth_segment segs[] = {
		{ PT_NOTE, 0, 0, 0, notes->buf, notes->len },
		{ PT_LOAD, PF_R | PF_W, 0x10000, 0x1000, page_a, sizeof(page_a) },
		{ PT_LOAD, PF_R, 0x11000, 0x1000, page_b, sizeof(page_b) },
		{ PT_LOAD, PF_R | PF_X, 0x20000, 0x2000, NULL, 0 },
		{ PT_LOAD, PF_R | PF_W, 0x30000, 0x2000, page_c, sizeof(page_c) },
	};
	return build_core(segs, sizeof(segs) / sizeof(segs[0]), size);
}

static bool write_synth(const char *path, const struct strbuf *notes)
{
	size_t size;
	uint8_t *image = synth_core(notes, &size);
	bool ok = write_file(path, image, size);
	free(image);
	return ok;
}

static void test_synthetic_core(void)
{
	struct strbuf notes = {0}, gone = {0}, stopped = {0}, faulted = {0};
	struct target *t = NULL;
	uint8_t data_file[3 * 4096];
	for (size_t i = 0; i < sizeof(page_a); i++) {
		page_a[i] = 0xaa;
		page_b[i] = 0xbb;
		page_c[i] = 0xcc;
	}
	for (size_t i = 0; i < sizeof(data_file); i++)
		data_file[i] = (uint8_t)(i / 4096 * 16 + i % 7);
	char *data_path = tmp_path("synth-data");
	write_file(data_path, data_file, sizeof(data_file));

	add_prstatus(&notes, 100, 0, 0x20010);
	add_prpsinfo(&notes, 100, "synthetic core   ");
	uint64_t auxv[4] = { AUXV_PAGESZ, 4096, 0, 0 };
	add_note(&notes, "CORE", 6, auxv, sizeof(auxv), 4);
	add_file_note(&notes, 0x20000, 0x22000, 1, data_path);
	add_prstatus(&notes, 101, 0, 0x10000);
	char *core_path = tmp_path("synth.core");
	write_synth(core_path, &notes);

	int ret = open_core(core_path, NULL, NULL, &t);
	CHECK(ret == 0, "a synthetic core opens (%s)", err_context());
	if (ret)
		goto out;
	CHECK(t->kind == TARGET_CORE && t->pid == 100 && t->nthreads == 2 &&
	      t->threads[0].tid == 100 && t->threads[1].tid == 101 && t->threads[0].has_regs &&
	      t->threads[0].regs[TREG_RIP] == 0x20010, "threads and registers come from NT_PRSTATUS");
	CHECK(t->command && strcmp(t->command, "synthetic core") == 0,
	      "the command is pr_psargs without trailing spaces: '%s'", t->command ? t->command : "");
	CHECK(!t->has_signal, "no signal without NT_SIGINFO or pr_cursig");
	CHECK(target_auxv(t, AUXV_PAGESZ) == 4096, "auxv comes from NT_AUXV");
	CHECK(t->executable && strcmp(t->executable, data_path) == 0,
	      "the only file mapping is taken as the executable");
	bool layout_ok = t->nmappings == 4 &&
		t->mappings[0].start == 0x10000 && t->mappings[0].end == 0x11000 &&
		!t->mappings[0].path && t->mappings[0].writable &&
		t->mappings[1].start == 0x11000 && !t->mappings[1].writable &&
		t->mappings[2].start == 0x20000 && t->mappings[2].end == 0x22000 &&
		t->mappings[2].file_offset == 4096 && t->mappings[2].executable &&
		t->mappings[2].path && strcmp(t->mappings[2].path, data_path) == 0 &&
		t->mappings[3].start == 0x30000 && t->mappings[3].end == 0x32000;
	CHECK(layout_ok, "mappings: NT_FILE plus anonymous PT_LOAD ranges, sorted, with permissions");

	uint8_t buf[32];
	CHECK(target_read(t, 0x10ff8, buf, 16) == 0 && buf[0] == 0xaa && buf[7] == 0xaa &&
	      buf[8] == 0xbb && buf[15] == 0xbb, "a read spanning two segments");
	CHECK(target_read(t, 0x20010, buf, 8) == 0 && memcmp(buf, data_file + 4096 + 16, 8) == 0,
	      "bytes missing from the core come from the NT_FILE file at its offset");
	CHECK(target_read(t, 0x20ff8, buf, 16) == 0 && memcmp(buf, data_file + 4096 + 0xff8, 16) == 0,
	      "a file read across a page boundary");
	CHECK(target_read(t, 0x21ff8, buf, 16) == -ERR_UNMAPPED && strstr(err_context(), "0x22000"),
	      "a read running past the last mapping is unmapped: %s", err_context());
	CHECK(target_read(t, 0x30ff8, buf, 8) == 0 && buf[0] == 0xcc, "the stored part of a segment");
	CHECK(target_read(t, 0x30ffc, buf, 8) == -ERR_UNMAPPED && strstr(err_context(), "0x31000"),
	      "past p_filesz without a file is unmapped: %s", err_context());
	CHECK(target_read(t, 0x8, buf, 8) == -ERR_UNMAPPED && strstr(err_context(), "0x8"),
	      "an address in no mapping is unmapped: %s", err_context());
	CHECK(target_read(t, UINT64_MAX - 3, buf, 8) == -ERR_UNMAPPED, "a read wrapping around fails");
	char *resolved = NULL;
	int fd = t->ops->open_mapped_file(t, &t->mappings[2], &resolved);
	CHECK(fd >= 0 && resolved && strcmp(resolved, data_path) == 0,
	      "open_mapped_file gives the recorded file");
	if (fd >= 0)
		close(fd);
	free(resolved);
	CHECK(t->ops->open_mapped_file(t, &t->mappings[0], &resolved) == -ERR_NOENT && !resolved,
	      "an anonymous mapping has no file");
	target_free(t);
	t = NULL;

	/* The file behind a mapping is gone: reads fail once it is looked up. */
	add_prstatus(&gone, 100, 6, 0);
	add_file_note(&gone, 0x20000, 0x22000, 0, tmp_path("no-such-file"));
	write_synth(core_path, &gone);
	ret = open_core(core_path, NULL, NULL, &t);
	CHECK(ret == 0 && t->has_signal && t->signal.number == 6 && t->signal.tid == 100 &&
	      !t->signal.has_address, "pr_cursig gives the signal when NT_SIGINFO is absent");
	if (!ret) {
		CHECK(target_read(t, 0x20000, buf, 4) == -ERR_UNMAPPED &&
		      strstr(err_context(), "cannot find") && strstr(err_hint_text(), "--search-path"),
		      "a missing file makes its bytes unmapped: %s", err_context());
		CHECK(target_read(t, 0x20100, buf, 4) == -ERR_UNMAPPED && strstr(err_context(), "0x20100"),
		      "the failure is remembered and names the new address");
		CHECK(t->ops->open_mapped_file(t, &t->mappings[2], NULL) == -ERR_NOENT &&
		      strstr(err_context(), "no-such-file"), "open_mapped_file reports the missing file");
	}
	target_free(t);
	t = NULL;

	/* gcore's SIGSTOP from attaching is not the process's fate. */
	add_prstatus(&stopped, 200, 0, 0);
	add_siginfo(&stopped, SIGSTOP, 0x80, 0);
	add_prstatus(&stopped, 201, 0, 0);
	add_siginfo(&stopped, SIGSTOP, 0x80, 0);
	write_synth(core_path, &stopped);
	ret = open_core(core_path, NULL, NULL, &t);
	CHECK(ret == 0 && !t->has_signal && t->pid == 200,
	      "an attach SIGSTOP in NT_SIGINFO is not a signal; pid falls back to the first thread");
	target_free(t);
	t = NULL;

	add_prstatus(&faulted, 301, SIGBUS, 0);
	add_siginfo(&faulted, SIGBUS, 2, 0xdead000);
	add_prstatus(&faulted, 300, SIGBUS, 0);
	write_synth(core_path, &faulted);
	ret = open_core(core_path, NULL, NULL, &t);
	CHECK(ret == 0 && t->has_signal && t->signal.number == SIGBUS && t->signal.code == 2 &&
	      t->signal.has_address && t->signal.address == 0xdead000 && t->signal.tid == 301,
	      "NT_SIGINFO gives signal, code, address and the thread written before it");
	target_free(t);
	t = NULL;

	/* Damaged notes are errors, not crashes. */
	struct {
		const char *what;
		int expect;
	} cases[] = {
		{ "NT_FILE claiming more files than it holds", -ERR_CORRUPT },
		{ "NT_FILE with an unterminated path", -ERR_CORRUPT },
		{ "NT_PRSTATUS too small", -ERR_CORRUPT },
		{ "a note name running past the segment", -ERR_CORRUPT },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strbuf bad = {0};
		add_prstatus(&bad, 1, 0, 0);
		if (i == 0) {
			uint64_t words[2] = { 1000000, 4096 };
			add_note(&bad, "CORE", 0x46494c45, words, sizeof(words), 4);
		} else if (i == 1) {
			uint64_t words[5] = { 1, 4096, 0x1000, 0x2000, 0 };
			struct strbuf desc = {0};
			strbuf_add(&desc, words, sizeof(words));
			strbuf_add(&desc, "/unterminated", 13);
			add_note(&bad, "CORE", 0x46494c45, desc.buf, desc.len, 4);
			strbuf_release(&desc);
		} else if (i == 2) {
			uint8_t small[100] = {0};
			add_note(&bad, "CORE", 1, small, sizeof(small), 4);
		} else {
			uint32_t header[3] = { 64, 0, 1 };
			strbuf_add(&bad, header, sizeof(header));
		}
		write_synth(core_path, &bad);
		ret = open_core(core_path, NULL, NULL, &t);
		CHECK(ret == cases[i].expect && strstr(err_context(), core_path),
		      "%s: %s", cases[i].what, err_context());
		target_free(t);
		t = NULL;
		strbuf_release(&bad);
	}

	/* Truncation of the program header table and of a segment. */
	size_t size;
	uint8_t *image = synth_core(&notes, &size);
	write_file(core_path, image, 100);
	ret = open_core(core_path, NULL, NULL, &t);
	CHECK(ret == -ERR_TRUNCATED && strstr(err_context(), "100 of"),
	      "a cut program header table is truncated: %s", err_context());
	write_file(core_path, image, 40);
	ret = open_core(core_path, NULL, NULL, &t);
	CHECK(ret == -ERR_TRUNCATED, "a cut ELF header is truncated: %s", err_context());
	write_file(core_path, image, size - 100);
	ret = open_core(core_path, NULL, NULL, &t);
	CHECK(ret == -ERR_TRUNCATED && strstr(err_context(), "truncated"),
	      "a cut segment is truncated: %s", err_context());
	target_free(t);
	t = NULL;

	/* Fuzz the header, program headers and notes: any result but a crash. */
	size_t parsed_end = sizeof(Elf64_Ehdr) + 5 * sizeof(Elf64_Phdr) + notes.len;
	uint32_t seed = 12345;
	int opened = 0, rounds = 1500;
	char *fuzz_path = tmp_path("fuzz.core");
	uint8_t *mutated = malloc(size);
	for (int round = 0; round < rounds; round++) {
		memcpy(mutated, image, size);
		int flips = 1 + round % 8;
		for (int f = 0; f < flips; f++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % parsed_end;
			seed = seed * 1103515245u + 12345u;
			mutated[at] = (uint8_t)(round % 3 == 0 ? 0xff : seed >> 16);
		}
		write_file(fuzz_path, mutated, size);
		if (open_core(fuzz_path, NULL, NULL, &t) == 0) {
			opened++;
			for (size_t m = 0; m < t->nmappings && m < 64; m++) {
				target_read(t, t->mappings[m].start, buf, sizeof(buf));
				target_read(t, t->mappings[m].end - 4, buf, 8);
				int mapped_fd = t->ops->open_mapped_file(t, &t->mappings[m], NULL);
				if (mapped_fd >= 0)
					close(mapped_fd);
			}
		}
		target_free(t);
		t = NULL;
	}
	CHECK(true, "%d fuzzed cores handled without a crash (%d opened)", rounds, opened);
	free(mutated);
	free(image);
out:
	target_free(t);
	strbuf_release(&notes);
	strbuf_release(&gone);
	strbuf_release(&stopped);
	strbuf_release(&faulted);
}

/* Every file in fixtures/corrupt once crashed or hung a parser. */
static void test_corrupt_fixtures(void)
{
	DIR *dir = opendir("fixtures/corrupt");
	if (!dir) {
		SKIP("fixtures/corrupt not found (run from the repository root)");
		return;
	}
	int seen = 0, clean = 0;
	struct dirent *entry;
	while ((entry = readdir(dir))) {
		if (entry->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "fixtures/corrupt/%s", entry->d_name);
		struct target *t = NULL;
		seen++;
		if (open_core(path, NULL, NULL, &t) != 0 || t) {
			clean++;
			for (size_t m = 0; t && m < t->nmappings; m++) {
				uint8_t buf[16];
				target_read(t, t->mappings[m].start, buf, sizeof(buf));
			}
		}
		target_free(t);
	}
	closedir(dir);
	CHECK(seen == clean, "%d corrupt fixtures open or fail without crashing", seen);
}

/* ---- wrong inputs ---- */

static void test_wrong_inputs(const char *self_exe)
{
	struct target *t = NULL;
	char *text = tmp_path("not-elf.txt");
	write_file(text, "hello, this is text\n", 20);
	CHECK(open_core(text, NULL, NULL, &t) == -ERR_NOT_ELF && !t &&
	      strstr(err_context(), text) && strstr(err_context(), "is not an ELF file"),
	      "a text file is not ELF: %s", err_context());
	char *empty = tmp_path("empty");
	write_file(empty, "", 0);
	CHECK(open_core(empty, NULL, NULL, &t) == -ERR_NOT_ELF, "an empty file is not ELF: %s",
	      err_context());
	CHECK(open_core(self_exe, NULL, NULL, &t) == -ERR_NOT_CORE && !t &&
	      strstr(err_context(), "an executable, not a core"),
	      "an executable is not a core: %s", err_context());
	CHECK(open_core(tmp_path("missing.core"), NULL, NULL, &t) == -ERR_NOENT &&
	      strstr(err_context(), "missing.core"), "a missing core: %s", err_context());
	CHECK(open_core(tmp_root, NULL, NULL, &t) == -ERR_NOT_ELF, "a directory is not a core: %s",
	      err_context());

	/* A shared library this test is linked with. */
	char lib[PATH_MAX] = "";
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[PATH_MAX + 128];
	while (maps && fgets(line, sizeof(line), maps)) {
		char *slash = strchr(line, '/');
		if (slash && strstr(slash, "libz.so")) {
			slash[strcspn(slash, "\n")] = '\0';
			snprintf(lib, sizeof(lib), "%s", slash);
			break;
		}
	}
	if (maps)
		fclose(maps);
	if (lib[0])
		CHECK(open_core(lib, NULL, NULL, &t) == -ERR_NOT_CORE &&
		      strstr(err_context(), "a shared object"), "a library is not a core: %s", err_context());
	else
		SKIP("libz.so is not mapped into this test");

	struct elfobj *obj = NULL;
	CHECK(elfobj_open(text, &obj) == -ERR_NOT_ELF && !obj, "elfobj_open refuses a text file");
	CHECK(elfobj_open(tmp_path("missing"), &obj) == -ERR_NOENT, "elfobj_open of a missing file");
}

/* ---- real cores ---- */

struct child_info {
	pid_t pid;
	pid_t tids[3];
	uint64_t marker_addr, rodata_addr;
	int go_fd;          /* write a byte to make the crash child fault */
	bool reaped;
};

static bool spawn_child(const char *exe, const char *mode, const char *dir, struct child_info *info)
{
	int out_pipe[2], in_pipe[2];
	if (pipe(out_pipe) != 0 || pipe(in_pipe) != 0)
		return false;
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out_pipe[1], STDOUT_FILENO);
		dup2(in_pipe[0], STDIN_FILENO);
		close(out_pipe[0]);
		close(in_pipe[1]);
		/* A sanitized build must still dump core and let SIGSEGV kill it. */
		setenv("ASAN_OPTIONS", "disable_coredump=0:handle_segv=0:detect_leaks=0", 1);
		execl(exe, exe, "--child", mode, dir, (char *)NULL);
		_exit(127);
	}
	close(out_pipe[1]);
	close(in_pipe[0]);
	info->pid = pid;
	info->go_fd = in_pipe[1];
	FILE *report = fdopen(out_pipe[0], "r");
	int pid_seen = 0;
	unsigned long long marker = 0, rodata = 0;
	bool ok = report && fscanf(report, "%d %d %d %d %llx %llx", &pid_seen, &info->tids[0],
	                           &info->tids[1], &info->tids[2], &marker, &rodata) == 6;
	if (report)
		fclose(report);
	info->marker_addr = marker;
	info->rodata_addr = rodata;
	return ok && pid_seen == pid;
}

static void end_child(struct child_info *info)
{
	if (info->go_fd >= 0)
		close(info->go_fd);
	info->go_fd = -1;
	if (info->pid > 0 && !info->reaped) {
		kill(info->pid, SIGKILL);
		waitpid(info->pid, NULL, 0);
	}
	info->reaped = true;
}

static bool run_quietly(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		struct rlimit file_limit = { MAX_CORE_BYTES, MAX_CORE_BYTES };
		setrlimit(RLIMIT_FSIZE, &file_limit);
		int null_fd = open("/dev/null", O_RDWR);
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		dup2(null_fd, STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	int status;
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool make_gcore(const char *exe, char **core_path, struct child_info *info)
{
	if (!spawn_child(exe, "sleep", tmp_root, info))
		return false;
	char pid_text[32];
	snprintf(pid_text, sizeof(pid_text), "%d", info->pid);
	char *argv[] = { "gcore", "-o", tmp_path("gcore"), pid_text, NULL };
	bool ok = run_quietly(argv);
	*core_path = tmp_path("gcore.%d", info->pid);
	struct stat st;
	return ok && stat(*core_path, &st) == 0;
}

static bool core_pattern_is_pipe(char *pattern, size_t size)
{
	FILE *in = fopen("/proc/sys/kernel/core_pattern", "r");
	pattern[0] = '\0';
	if (in) {
		if (!fgets(pattern, (int)size, in))
			pattern[0] = '\0';
		fclose(in);
	}
	pattern[strcspn(pattern, "\n")] = '\0';
	return pattern[0] == '|';
}

static bool make_kernel_core(const char *exe, char **core_path, struct child_info *info,
                             char *why, size_t why_size)
{
	char *dir = tmp_path("crash");
	mkdir(dir, 0755);
	if (!spawn_child(exe, "crash", dir, info)) {
		snprintf(why, why_size, "the crashing child did not start");
		return false;
	}
	int status = 0;
	if (write(info->go_fd, "x", 1) != 1 || waitpid(info->pid, &status, 0) != info->pid) {
		snprintf(why, why_size, "the crashing child could not be waited for");
		return false;
	}
	info->reaped = true;
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV) {
		snprintf(why, why_size, "the child did not die of SIGSEGV (status 0x%x)", status);
		return false;
	}
	struct stat st;
	*core_path = tmp_path("crash/core");
	if (stat(*core_path, &st) == 0)
		return true;
	*core_path = tmp_path("crash/core.%d", info->pid);
	if (stat(*core_path, &st) == 0)
		return true;
	snprintf(why, why_size, "the kernel wrote no core in the crash directory (core dumped: %s)",
	         WCOREDUMP(status) ? "yes" : "no");
	return false;
}

static void check_symbol_lookup(struct target *t, const struct child_info *info, const char *label)
{
	struct elfobj *obj = NULL;
	const struct target_mapping *exe_map = target_first_mapping_of(t, t->executable);
	if (!exe_map || elfobj_open(t->executable, &obj) != 0) {
		CHECK(false, "%s: the executable opens as ELF: %s", label, err_context());
		return;
	}
	uint64_t value = 0, size = 0, sec_addr = 0, sec_size = 0;
	uint64_t bias = exe_map->start - exe_map->file_offset - elfobj_base_vaddr(obj);
	CHECK(elfobj_symbol(obj, "child_rodata", &value, &size) == 0 &&
	      value + bias == info->rodata_addr && size == sizeof(child_rodata),
	      "%s: symbol + load bias gives the child's address", label);
	char text[sizeof(child_rodata)] = "";
	CHECK(elfobj_read_vaddr(obj, value, text, sizeof(text)) == 0 &&
	      memcmp(text, child_rodata, sizeof(text)) == 0, "%s: elfobj_read_vaddr reads .rodata", label);
	CHECK(elfobj_section(obj, ".rodata", &sec_addr, &sec_size) == 0 && value >= sec_addr &&
	      value < sec_addr + sec_size, "%s: the constant lies in .rodata", label);
	CHECK(elfobj_symbol(obj, "no_such_symbol_here", &value, NULL) == -ERR_NO_SYMBOL &&
	      elfobj_section(obj, ".no_such_section", &sec_addr, NULL) == -ERR_NO_SYMBOL,
	      "%s: absent symbols and sections", label);
	uint8_t byte;
	CHECK(elfobj_read_vaddr(obj, 0x7fff00000000ull, &byte, 1) == -ERR_UNMAPPED,
	      "%s: an address outside every PT_LOAD", label);
	elfobj_free(obj);
}

/* What every core of the child must show, however it was made. */
static void check_child_core(struct target *t, const struct child_info *info,
                             const char *exe, bool kernel, const char *label)
{
	bool tids_ok = t->nthreads == 3;
	for (int i = 0; i < 3; i++)
		tids_ok = tids_ok && target_find_thread(t, info->tids[i]);
	CHECK(tids_ok, "%s: the three threads with the child's tids", label);
	CHECK(t->pid == info->pid, "%s: pid %d", label, t->pid);
	/* gdb records only the program in pr_psargs; the kernel the arguments too. */
	CHECK(t->command && strncmp(t->command, exe, strlen(exe)) == 0 &&
	      (!kernel || strstr(t->command, "--child crash")), "%s: command '%s'", label,
	      t->command ? t->command : "");
	CHECK(t->executable && strcmp(t->executable, exe) == 0, "%s: executable %s", label,
	      t->executable ? t->executable : "(none)");
	bool sorted = true;
	for (size_t i = 0; i < t->nmappings; i++)
		sorted = sorted && t->mappings[i].start < t->mappings[i].end &&
		         (i == 0 || t->mappings[i - 1].end <= t->mappings[i].start);
	CHECK(sorted && t->nmappings > 5, "%s: %zu mappings, sorted and disjoint", label, t->nmappings);
	bool regs_ok = true;
	for (size_t i = 0; i < t->nthreads; i++) {
		const struct target_mapping *stack = target_find_mapping(t, t->threads[i].regs[TREG_RSP]);
		const struct target_mapping *code = target_find_mapping(t, t->threads[i].regs[TREG_RIP]);
		regs_ok = regs_ok && t->threads[i].has_regs && stack && stack->writable &&
		          code && code->executable;
	}
	CHECK(regs_ok, "%s: every rsp is in a writable mapping and rip in an executable one", label);
	CHECK(target_auxv(t, AUXV_PAGESZ) == (uint64_t)sysconf(_SC_PAGESIZE), "%s: auxv page size",
	      label);

	uint64_t marker = 0;
	CHECK(target_read_u64(t, info->marker_addr, &marker) == 0 &&
	      marker == (MARKER_TAG | (uint32_t)info->pid), "%s: a global written at run time: %llx",
	      label, (unsigned long long)marker);
	char text[sizeof(child_rodata)] = "";
	int ret = target_read(t, info->rodata_addr, text, sizeof(text));
	CHECK(ret == 0 && memcmp(text, child_rodata, sizeof(text)) == 0,
	      "%s: a constant in .rodata (%s)", label, ret ? err_context() : "ok");
	uint8_t probe[8];
	CHECK(target_read(t, 0x10, probe, sizeof(probe)) == -ERR_UNMAPPED &&
	      strstr(err_context(), "0x10"), "%s: a null-page read is unmapped", label);

	/* A read across two adjacent file mappings of the executable. */
	bool spanned = false;
	for (size_t i = 0; i + 1 < t->nmappings && !spanned; i++) {
		const struct target_mapping *a = &t->mappings[i], *b = &t->mappings[i + 1];
		if (a->end != b->start || !a->path || !b->path || strcmp(a->path, exe) != 0 ||
		    strcmp(b->path, exe) != 0)
			continue;
		uint8_t joined[16], left[8], right[8];
		spanned = target_read(t, a->end - 8, joined, 16) == 0 &&
		          target_read(t, a->end - 8, left, 8) == 0 &&
		          target_read(t, b->start, right, 8) == 0 &&
		          memcmp(joined, left, 8) == 0 && memcmp(joined + 8, right, 8) == 0;
	}
	CHECK(spanned, "%s: a read spanning two mappings equals its halves", label);

	const struct target_mapping *exe_map = target_first_mapping_of(t, exe);
	char *resolved = NULL;
	int fd = exe_map ? t->ops->open_mapped_file(t, exe_map, &resolved) : -1;
	CHECK(fd >= 0 && resolved && strcmp(resolved, exe) == 0, "%s: open_mapped_file of the executable",
	      label);
	if (fd >= 0)
		close(fd);
	free(resolved);

	if (kernel) {
		const struct target_thread *crashed = target_find_thread(t, info->tids[2]);
		CHECK(t->has_signal && t->signal.number == SIGSEGV && t->signal.has_address &&
		      t->signal.address == CRASH_ADDRESS && t->signal.tid == info->tids[2] &&
		      crashed && crashed->cursig == SIGSEGV,
		      "%s: SIGSEGV at 0x%x in the crashing thread %d", label, CRASH_ADDRESS, info->tids[2]);
	} else {
		CHECK(!t->has_signal, "%s: a gcore of a sleeping process has no signal", label);
	}
	check_symbol_lookup(t, info, label);
}

static bool gzip_file(const char *from, const char *to)
{
	static uint8_t chunk[1 << 20];
	FILE *in = fopen(from, "rb");
	gzFile out = gzopen(to, "wb1");
	bool ok = in && out;
	size_t got;
	while (ok && (got = fread(chunk, 1, sizeof(chunk), in)) > 0)
		ok = gzwrite(out, chunk, (unsigned)got) == (int)got;
	if (in)
		fclose(in);
	if (out)
		ok = gzclose(out) == Z_OK && ok;
	return ok;
}

static void test_gzip_and_truncation(const char *core, const struct child_info *info,
                                     const char *exe, bool kernel)
{
	struct target *t = NULL;
	char *gz = tmp_path("copy.core.gz");
	CHECK(gzip_file(core, gz), "gzip a copy of the core");
	int ret = open_core(gz, NULL, NULL, &t);
	CHECK(ret == 0, "the gzipped core opens (%s)", err_context());
	if (!ret)
		check_child_core(t, info, exe, kernel, "gzip");
	target_free(t);
	t = NULL;

	struct stat st;
	stat(gz, &st);
	char *cut_gz = tmp_path("cut.core.gz");
	copy_file(gz, cut_gz, (size_t)st.st_size / 2);
	CHECK(open_core(cut_gz, NULL, NULL, &t) == -ERR_DECOMPRESS && strstr(err_context(), cut_gz),
	      "a truncated gzip core: %s", err_context());
	char *bad_gz = tmp_path("bad.core.gz");
	write_file(bad_gz, "\x1f\x8b\x08\x00garbage-garbage-garbage", 27);
	CHECK(open_core(bad_gz, NULL, NULL, &t) == -ERR_DECOMPRESS, "a corrupt gzip core: %s",
	      err_context());

	stat(core, &st);
	char *cut = tmp_path("cut.core");
	copy_file(core, cut, (size_t)st.st_size / 2);
	char expect[64];
	snprintf(expect, sizeof(expect), "%lld of ", (long long)st.st_size / 2);
	CHECK(open_core(cut, NULL, NULL, &t) == -ERR_TRUNCATED && strstr(err_context(), expect) &&
	      strstr(err_context(), "is truncated"), "a truncated core: %s", err_context());
}

/* LEN bytes of DATA compressed by KIND's library (zstd, xz, lz4) at DEST,
 * which has BOUND bytes; the compressed size, or 0 on failure. */
static size_t compress_with(const char *kind, const uint8_t *data, size_t len,
                            uint8_t *dest, size_t bound)
{
	if (!strcmp(kind, "zstd")) {
		size_t packed = ZSTD_compress(dest, bound, data, len, 1);
		return ZSTD_isError(packed) ? 0 : packed;
	}
	if (!strcmp(kind, "xz")) {
		size_t packed = 0;
		return lzma_easy_buffer_encode(1, LZMA_CHECK_CRC64, NULL, data, len, dest, &packed,
		                               bound) == LZMA_OK ? packed : 0;
	}
	size_t packed = LZ4F_compressFrame(dest, bound, data, len, NULL);
	return LZ4F_isError(packed) ? 0 : packed;
}

static size_t compress_bound(const char *kind, size_t len)
{
	if (!strcmp(kind, "zstd"))
		return ZSTD_compressBound(len);
	if (!strcmp(kind, "xz"))
		return lzma_stream_buffer_bound(len);
	return LZ4F_compressFrameBound(len, NULL);
}

/* DATA as two frames (xz: streams) of KIND, one per half, so that a reader
 * must go on past the first; *FIRST_LEN is the first one's size. */
static bool compress_halves(const char *kind, const uint8_t *data, size_t len,
                            struct strbuf *out, size_t *first_len)
{
	size_t half = len / 2;
	const uint8_t *parts[2] = { data, data + half };
	size_t sizes[2] = { half, len - half };
	for (int i = 0; i < 2; i++) {
		size_t bound = compress_bound(kind, sizes[i]);
		if (!strbuf_grow(out, bound))
			return false;
		size_t packed = compress_with(kind, parts[i], sizes[i], (uint8_t *)out->buf + out->len, bound);
		if (!packed)
			return false;
		out->len += packed;
		out->buf[out->len] = '\0';
		if (i == 0)
			*first_len = packed;
	}
	return true;
}

/* zstd, xz and lz4 copies of CORE open as the core does; cut ones fail as
 * damaged, or as truncated cores when the cut falls between frames. */
static void test_other_compressions(const char *core, const struct child_info *info,
                                    const char *exe, bool kernel)
{
	static const struct {
		const char *kind;
		const char *garbage;
		size_t garbage_len;
	} kinds[] = {
		{ "zstd", "\x28\xb5\x2f\xfd" "garbage-garbage", 19 },
		{ "xz", "\xfd" "7zXZ" "\0" "garbage-garbage", 21 },
		{ "lz4", "\x04\x22\x4d\x18" "garbage-garbage", 19 },
	};
	uint8_t *data = NULL;
	size_t len = 0;
	struct target *t = NULL;

	if (!read_whole(core, &data, &len)) {
		CHECK(false, "read the core %s", core);
		free(data);
		return;
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		const char *kind = kinds[k].kind;
		struct strbuf packed = {0};
		size_t first_len = 0;
		/* No file name extension: the format is known by its first bytes. */
		char *path = tmp_path("copy-%s", kind);
		bool made = compress_halves(kind, data, len, &packed, &first_len) &&
		            write_file(path, packed.buf, packed.len);
		CHECK(made, "%s: compress a copy of the core in two frames", kind);
		if (!made) {
			strbuf_release(&packed);
			continue;
		}
		int ret = open_core(path, NULL, NULL, &t);
		CHECK(ret == 0, "%s: the compressed core opens (%s)", kind, err_context());
		if (!ret)
			check_child_core(t, info, exe, kernel, kind);
		target_free(t);
		t = NULL;

		char *cut = tmp_path("cut-%s", kind);
		write_file(cut, packed.buf, first_len / 2);
		CHECK(open_core(cut, NULL, NULL, &t) == -ERR_DECOMPRESS && strstr(err_context(), cut) &&
		      strstr(err_context(), "ends early"), "%s: a cut compressed core: %s", kind, err_context());
		char *one_frame = tmp_path("first-frame-%s", kind);
		write_file(one_frame, packed.buf, first_len);
		CHECK(open_core(one_frame, NULL, NULL, &t) == -ERR_TRUNCATED, "%s: a whole frame of half the core: %s",
		      kind, err_context());
		char *bad = tmp_path("bad-%s", kind);
		write_file(bad, kinds[k].garbage, kinds[k].garbage_len);
		CHECK(open_core(bad, NULL, NULL, &t) == -ERR_DECOMPRESS && strstr(err_context(), bad),
		      "%s: garbage after the magic: %s", kind, err_context());
		strbuf_release(&packed);
	}
	free(data);
}

/* The recorded executable is gone: find it again by build-id. */
static void test_resolution(const char *core, const struct child_info *info, bool kernel,
                            const char *run_exe, const char *self_exe)
{
	struct target *t = NULL;
	uint8_t *binary;
	size_t binary_len;
	struct elfobj *obj = NULL;
	size_t id_len = 0;
	char id_hex[130] = "";
	char text[sizeof(child_rodata)];
	char *resolved = NULL;

	if (elfobj_open(self_exe, &obj) == 0) {
		const uint8_t *id = elfobj_build_id(obj, &id_len);
		if (id_len && id_len <= 64)
			build_id_to_hex(id, id_len, id_hex);
	}
	if (!id_len) {
		SKIP("this test binary has no build-id");
		elfobj_free(obj);
		return;
	}
	read_whole(self_exe, &binary, &binary_len);

	char *search = tmp_path("search");
	char *scan = tmp_path("scan");
	char *ids = tmp_path("ids");
	char *wrong = tmp_path("wrong");
	make_dirs(tmp_path("search"));
	make_dirs(tmp_path("scan/deep/er"));
	make_dirs(tmp_path("scan/a-dir"));
	make_dirs(tmp_path("ids/.build-id/%.2s", id_hex));
	make_dirs(tmp_path("wrong"));
	write_file(tmp_path("search/child"), binary, binary_len);
	write_file(tmp_path("scan/a-dir/not-it"), "text", 4);
	write_file(tmp_path("scan/deep/er/renamed.bin"), binary, binary_len);
	write_file(tmp_path("ids/.build-id/%.2s/%s", id_hex, id_hex + 2), binary, binary_len);
	/* Same name, other build-id: flip a byte of the id in a copy. */
	const uint8_t *id = elfobj_build_id(obj, &id_len);
	uint8_t *flipped = malloc(binary_len);
	memcpy(flipped, binary, binary_len);
	uint8_t *found = memmem(flipped, binary_len, id, id_len);
	if (found)
		found[0] ^= 0xff;
	write_file(tmp_path("wrong/child"), flipped, binary_len);
	elfobj_free(obj);

	CHECK(unlink(run_exe) == 0, "delete the executable the core recorded");

	int ret = open_core(core, NULL, NULL, &t);
	CHECK(ret == 0, "the core opens without its executable");
	if (!ret) {
		uint64_t marker = 0;
		CHECK(target_read_u64(t, info->marker_addr, &marker) == 0, "stored bytes still read");
		if (kernel)
			CHECK(target_read(t, info->rodata_addr, text, sizeof(text)) == -ERR_UNMAPPED &&
			      strstr(err_context(), "cannot find") && strstr(err_context(), id_hex),
			      "kernel core: .rodata needs the file, and the error names the build-id: %s",
			      err_context());
		const struct target_mapping *exe_map = target_first_mapping_of(t, run_exe);
		CHECK(exe_map && t->ops->open_mapped_file(t, exe_map, &resolved) == -ERR_NOENT &&
		      strstr(err_hint_text(), "--search-path") && strstr(err_hint_text(), "--exe"),
		      "open_mapped_file fails with a hint: %s (%s)", err_context(), err_hint_text());
	}
	target_free(t);
	t = NULL;

	struct {
		const char *label, *search_path, *expect;
	} routes[] = {
		{ "by name in a search directory", NULL, tmp_path("search/child") },
		{ "by a bounded scan", scan, tmp_path("scan/deep/er/renamed.bin") },
		{ "by a .build-id link", ids, tmp_path("ids/.build-id/%.2s/%s", id_hex, id_hex + 2) },
	};
	char *two_dirs = xasprintf("%s:%s", tmp_path("nonexistent"), search);
	routes[0].search_path = two_dirs;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		ret = open_core(core, NULL, routes[i].search_path, &t);
		const struct target_mapping *exe_map = ret ? NULL : target_first_mapping_of(t, run_exe);
		int fd = exe_map ? t->ops->open_mapped_file(t, exe_map, &resolved) : -1;
		CHECK(fd >= 0 && resolved && strcmp(resolved, routes[i].expect) == 0,
		      "resolved %s: %s", routes[i].label, resolved ? resolved : err_context());
		CHECK(fd >= 0 && target_read(t, info->rodata_addr, text, sizeof(text)) == 0 &&
		      memcmp(text, child_rodata, sizeof(text)) == 0, "and .rodata reads through it");
		if (fd >= 0)
			close(fd);
		free(resolved);
		resolved = NULL;
		target_free(t);
		t = NULL;
	}

	ret = open_core(core, NULL, wrong, &t);
	const struct target_mapping *exe_map = ret ? NULL : target_first_mapping_of(t, run_exe);
	CHECK(exe_map && t->ops->open_mapped_file(t, exe_map, NULL) == -ERR_NOENT,
	      "a same-named file with another build-id is refused: %s", err_context());
	target_free(t);
	t = NULL;

	/* The recorded path holds a different build: refused, and said so. */
	write_file(run_exe, flipped, binary_len);
	ret = open_core(core, NULL, NULL, &t);
	exe_map = ret ? NULL : target_first_mapping_of(t, run_exe);
	CHECK(exe_map && t->ops->open_mapped_file(t, exe_map, NULL) == -ERR_NOENT &&
	      strstr(err_context(), "has build-id"),
	      "a replaced file at the recorded path is refused: %s", err_context());
	target_free(t);
	t = NULL;
	unlink(run_exe);

	/* --exe wins, without a build-id check, and renames the mappings. */
	char *given = tmp_path("search/child");
	ret = open_core(core, given, NULL, &t);
	exe_map = ret ? NULL : target_first_mapping_of(t, t->executable);
	int fd = exe_map ? t->ops->open_mapped_file(t, exe_map, &resolved) : -1;
	CHECK(t && t->executable && strcmp(t->executable, given) == 0 && exe_map && fd >= 0 &&
	      resolved && strcmp(resolved, given) == 0, "--exe names and opens the executable");
	CHECK(fd >= 0 && target_read(t, info->rodata_addr, text, sizeof(text)) == 0 &&
	      memcmp(text, child_rodata, sizeof(text)) == 0, "and .rodata reads through it");
	if (fd >= 0)
		close(fd);
	free(resolved);
	target_free(t);
	free(binary);
	free(flipped);
	free(two_dirs);
}

static void test_real_cores(const char *self_exe)
{
	mkdir(tmp_path("run"), 0755);
	char *run_exe = tmp_path("run/child");
	if (!copy_file(self_exe, run_exe, SIZE_MAX)) {
		CHECK(false, "copy the test program to %s", run_exe);
		return;
	}
	struct target *t = NULL;
	struct child_info gcore_child = { .go_fd = -1 }, kernel_child = { .go_fd = -1 };
	char *gcore_path = NULL, *kernel_path = NULL;
	bool have_gcore = false, have_kernel = false;

#ifdef UNDER_ASAN
	if (true) {
		SKIP("gcore: gdb would dump AddressSanitizer's shadow memory");
	} else
#endif
	if (make_gcore(run_exe, &gcore_path, &gcore_child)) {
		have_gcore = true;
		int ret = open_core(gcore_path, NULL, NULL, &t);
		CHECK(ret == 0, "a gcore core opens (%s)", err_context());
		if (!ret)
			check_child_core(t, &gcore_child, run_exe, false, "gcore");
		target_free(t);
		t = NULL;
	} else {
		SKIP("gcore could not dump the child (is gdb installed and ptrace allowed?)");
	}
	end_child(&gcore_child);

	char pattern[256], why[256] = "";
	if (core_pattern_is_pipe(pattern, sizeof(pattern))) {
		SKIP("kernel cores: core_pattern pipes to a program (%s)", pattern);
	} else if (make_kernel_core(run_exe, &kernel_path, &kernel_child, why, sizeof(why))) {
		have_kernel = true;
		int ret = open_core(kernel_path, NULL, NULL, &t);
		CHECK(ret == 0, "a kernel core opens (%s)", err_context());
		if (!ret)
			check_child_core(t, &kernel_child, run_exe, true, "kernel");
		target_free(t);
		t = NULL;
	} else {
		SKIP("kernel cores: %s", why);
	}
	end_child(&kernel_child);

	if (have_kernel) {
		test_gzip_and_truncation(kernel_path, &kernel_child, run_exe, true);
		test_other_compressions(kernel_path, &kernel_child, run_exe, true);
		test_resolution(kernel_path, &kernel_child, true, run_exe, self_exe);
	} else if (have_gcore) {
		test_gzip_and_truncation(gcore_path, &gcore_child, run_exe, false);
		test_other_compressions(gcore_path, &gcore_child, run_exe, false);
		test_resolution(gcore_path, &gcore_child, false, run_exe, self_exe);
	} else {
		SKIP("compression, truncation and build-id resolution: no core could be made");
	}
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		return child_main(argv[2], argv[3]);

	char self_exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (len <= 0)
		return 2;
	self_exe[len] = '\0';
	const char *base = getenv("TMPDIR");
	char pattern[PATH_MAX];
	snprintf(pattern, sizeof(pattern), "%s/pycoreprof-core-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(pattern) || !realpath(pattern, tmp_root)) {
		printf("not ok 1 - cannot create a temporary directory\n");
		return 1;
	}
	alarm(600);

	test_notes();
	test_target_helpers();
	test_synthetic_core();
	test_corrupt_fixtures();
	test_wrong_inputs(self_exe);
	test_real_cores(self_exe);

	if (!getenv("PYCOREPROF_KEEP_TMP"))
		nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		printf("# kept %s\n", tmp_root);
	free_tmp_paths();
	return unit_done();
}
