/* Finding the files behind a core's mappings and reading what the core left
 * out from them. Order: --exe for the executable; the recorded path when its
 * build-id matches the one in the core; then each --search-path directory (by
 * name, by .build-id link, by a bounded scan). Each file is resolved once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "pycoreprof/elf.h"
#include "targets/core_internal.h"

#define MAX_BUILD_ID 64
#define MAX_NOTE_BYTES (64u * 1024)
#define SCAN_MAX_DEPTH 3
#define SCAN_MAX_FILES 2000
#define DELETED_SUFFIX " (deleted)"

/* What we look for: a name and, when the core recorded one, a build-id. */
struct wanted_file {
	const char *recorded_path;
	char *live_path;            /* recorded path without " (deleted)" */
	const char *name;           /* basename of live_path */
	uint8_t build_id[MAX_BUILD_ID];
	size_t build_id_len;
	char build_id_hex[2 * MAX_BUILD_ID + 1];
};

/* The build-id of the file at the recorded path, when it does not match. */
struct found_mismatch {
	bool seen;
	char build_id_hex[2 * MAX_BUILD_ID + 1];
};

static bool has_suffix(const char *text, const char *suffix)
{
	size_t text_len = strlen(text), suffix_len = strlen(suffix);
	return text_len >= suffix_len && strcmp(text + text_len - suffix_len, suffix) == 0;
}

/* The build-id note is found through the program headers in the header page
 * the core stores for the file's first mapping. */
static void recorded_build_id(struct target *t, struct core_backend *core,
                              struct wanted_file *want)
{
	const struct target_mapping *m;
	Elf64_Phdr *phdrs = NULL;
	uint8_t *notes = NULL;
	size_t count;

	if (core_stored_phdrs(core, t->mappings, t->nmappings, want->recorded_path,
	                      &m, &phdrs, &count) != 0)
		goto out;
	notes = malloc(MAX_NOTE_BYTES);
	if (!notes)
		goto out;
	uint64_t span = m->end - m->start;
	for (size_t i = 0; i < count; i++) {
		const Elf64_Phdr *phdr = &phdrs[i];
		if (phdr->p_type != PT_NOTE || phdr->p_filesz > MAX_NOTE_BYTES ||
		    phdr->p_offset > span || phdr->p_filesz > span - phdr->p_offset ||
		    core_read_stored(core, m->start + phdr->p_offset, notes, phdr->p_filesz) != 0)
			continue;
		const uint8_t *id;
		size_t len;
		if (elfnote_build_id(notes, phdr->p_filesz, phdr->p_align == 8 ? 8 : 4, &id, &len) == 0 &&
		    len <= MAX_BUILD_ID) {
			memcpy(want->build_id, id, len);
			want->build_id_len = len;
			build_id_to_hex(id, len, want->build_id_hex);
			break;
		}
	}
out:
	/* A snapshot without header pages names its files' build-ids in its
	 * own note. */
	for (size_t i = 0; !want->build_id_len && i < core->nnoted_ids; i++) {
		const struct core_noted_id *noted = &core->noted_ids[i];
		if (strcmp(noted->path, want->recorded_path) != 0)
			continue;
		memcpy(want->build_id, noted->id, noted->len);
		want->build_id_len = noted->len;
		build_id_to_hex(noted->id, noted->len, want->build_id_hex);
	}
	free(phdrs);
	free(notes);
}

/* Open PATH if it is a regular file with the wanted build-id (any regular
 * file when none is wanted). Returns the fd or -1. */
static int open_candidate(const char *path, const struct wanted_file *want,
                          struct found_mismatch *mismatch)
{
	struct elfobj *obj = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto reject;
	if (!want->build_id_len)
		return fd;
	int obj_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (obj_fd < 0 || elfobj_open_fd(obj_fd, path, &obj) != 0)
		goto reject;
	size_t len;
	const uint8_t *id = elfobj_build_id(obj, &len);
	if (len == want->build_id_len && memcmp(id, want->build_id, len) == 0) {
		elfobj_free(obj);
		return fd;
	}
	if (mismatch) {
		mismatch->seen = true;
		if (len && len <= MAX_BUILD_ID)
			build_id_to_hex(id, len, mismatch->build_id_hex);
		else
			strcpy(mismatch->build_id_hex, "none");
	}
reject:
	elfobj_free(obj);
	close(fd);
	return -1;
}

struct dir_scan {
	const struct wanted_file *want;
	size_t files_left;
	char *found_path;
	int found_fd;
};

/* Depth-first over real directories (symlinks are not followed, so loops
 * are impossible), stopping after SCAN_MAX_FILES regular files. */
static void scan_dir(struct dir_scan *scan, const char *dir, int depth)
{
	DIR *stream = opendir(dir);
	if (!stream)
		return;
	struct dirent *entry;
	while (!scan->found_path && scan->files_left && (entry = readdir(stream))) {
		const char *name = entry->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		char *child = xasprintf("%s/%s", dir, name);
		if (!child)
			break;
		unsigned char type = entry->d_type;
		if (type == DT_UNKNOWN) {
			struct stat st;
			type = lstat(child, &st) != 0 ? DT_UNKNOWN
			     : S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
		}
		if (type == DT_DIR && depth < SCAN_MAX_DEPTH) {
			scan_dir(scan, child, depth + 1);
		} else if (type == DT_REG && !has_suffix(name, ".debug")) {
			scan->files_left--;
			int fd = open_candidate(child, scan->want, NULL);
			if (fd >= 0) {
				scan->found_fd = fd;
				scan->found_path = child;
				child = NULL;
			}
		}
		free(child);
	}
	closedir(stream);
}

/* Try DIR/name, DIR/.build-id/xx/rest, then a scan of DIR. Returns the fd
 * and sets *PATH, or -1. */
static int search_dir(const char *dir, const struct wanted_file *want, char **path)
{
	char *candidate = xasprintf("%s/%s", dir, want->name);
	int fd = candidate ? open_candidate(candidate, want, NULL) : -1;
	if (fd < 0 && want->build_id_len) {
		free(candidate);
		candidate = xasprintf("%s/.build-id/%.2s/%s", dir, want->build_id_hex,
		                      want->build_id_hex + 2);
		fd = candidate ? open_candidate(candidate, want, NULL) : -1;
	}
	if (fd >= 0) {
		*path = candidate;
		return fd;
	}
	free(candidate);
	if (!want->build_id_len)
		return -1;  /* a scan without a build-id could pick any file */
	struct dir_scan scan = { .want = want, .files_left = SCAN_MAX_FILES, .found_fd = -1 };
	scan_dir(&scan, dir, 0);
	*path = scan.found_path;
	return scan.found_fd;
}

static int search_path_dirs(const char *search_path, const struct wanted_file *want,
                            char **path)
{
	if (!search_path)
		return -1;
	const char *cursor = search_path;
	while (*cursor) {
		size_t len = strcspn(cursor, ":");
		if (len) {
			char *dir = xstrndup(cursor, len);
			int fd = dir ? search_dir(dir, want, path) : -1;
			free(dir);
			if (fd >= 0)
				return fd;
		}
		cursor += len;
		if (*cursor == ':')
			cursor++;
	}
	return -1;
}

static int attach_file(struct core_file *file, int fd, char *resolved_path)
{
	struct stat st;
	file->fd = fd;
	file->resolved_path = resolved_path;
	if (!resolved_path)
		return -ERR_NOMEM;
	if (fstat(fd, &st) != 0)
		return err_set_errno(ERR_IO, errno, "cannot stat %s", resolved_path);
	if (st.st_size > 0) {
		void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED)
			return err_set_errno(ERR_IO, errno, "cannot map %s", resolved_path);
		file->map = map;
		file->map_size = (size_t)st.st_size;
	}
	return 0;
}

static int not_found(const struct wanted_file *want,
                     const struct found_mismatch *mismatch)
{
	int ret;
	if (!want->build_id_len)
		ret = err_set(ERR_NOENT, "cannot find %s", want->recorded_path);
	else if (mismatch->seen)
		ret = err_set(ERR_NOENT, "cannot find %s (build-id %s): the file at that path has build-id %s",
		              want->recorded_path, want->build_id_hex, mismatch->build_id_hex);
	else
		ret = err_set(ERR_NOENT, "cannot find %s (build-id %s)",
		              want->recorded_path, want->build_id_hex);
	err_hint("give the directory that holds it with --search-path DIR, the root it was under (a container's) "
	         "with --sysroot DIR, or the executable with --exe FILE");
	return ret;
}

static int resolve(struct target *t, struct core_backend *core, struct core_file *file)
{
	struct wanted_file want = { .recorded_path = file->recorded_path };
	struct found_mismatch mismatch = {0};
	char *path = NULL;
	int fd = -1;
	int ret;

	if (core->exe_override && strcmp(file->recorded_path, core->exe_override) == 0) {
		fd = open(core->exe_override, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			int saved = errno;
			ret = err_set_errno(saved == ENOENT ? ERR_NOENT : ERR_IO, saved,
			                    "cannot open executable %s given with --exe", core->exe_override);
			goto out;
		}
		ret = attach_file(file, fd, xstrdup(core->exe_override));
		goto out;
	}
	want.live_path = xstrdup(file->recorded_path);
	if (!want.live_path) {
		ret = -ERR_NOMEM;
		goto out;
	}
	bool deleted = has_suffix(want.live_path, DELETED_SUFFIX);
	if (deleted)
		want.live_path[strlen(want.live_path) - strlen(DELETED_SUFFIX)] = '\0';
	const char *slash = strrchr(want.live_path, '/');
	want.name = slash ? slash + 1 : want.live_path;
	recorded_build_id(t, core, &want);

	/* Under --sysroot first: the host may have other files at the same
	 * paths (a container's libc is not the host's). A file replaced since
	 * the capture only counts with its build-id, as below. */
	if (t->root && want.live_path[0] == '/' && (!deleted || want.build_id_len)) {
		char *under = xasprintf("%s%s", t->root, want.live_path);
		if (under && (fd = open_candidate(under, &want, &mismatch)) >= 0)
			path = under;
		else
			free(under);
	}
	if (fd < 0 && (fd = open_candidate(file->recorded_path, &want, &mismatch)) >= 0) {
		path = xstrdup(file->recorded_path);
	} else if (fd < 0 && deleted && want.build_id_len) {
		/* A file replaced since: only its build-id can vouch for it. */
		fd = open_candidate(want.live_path, &want, &mismatch);
		if (fd >= 0)
			path = xstrdup(want.live_path);
	}
	if (fd < 0)
		fd = search_path_dirs(t->search_path, &want, &path);
	if (fd < 0) {
		ret = not_found(&want, &mismatch);
		goto out;
	}
	ret = attach_file(file, fd, path);
out:
	free(want.live_path);
	return ret;
}

/* The resolved entry for PATH, resolving it on first use. NULL only when
 * memory runs out; a file that was not found is an entry with a status. */
static struct core_file *get_file(struct target *t, struct core_backend *core, const char *path)
{
	for (size_t i = 0; i < core->nfiles; i++)
		if (strcmp(core->files[i].recorded_path, path) == 0)
			return &core->files[i];
	if (ARRAY_GROW(core->files, core->files_cap, core->nfiles + 1) < 0)
		return NULL;
	struct core_file *file = &core->files[core->nfiles];
	*file = (struct core_file){ .fd = -1, .recorded_path = xstrdup(path) };
	if (!file->recorded_path)
		return NULL;
	core->nfiles++;
	file->status = resolve(t, core, file);
	if (file->status) {
		/* Keep the reason: it is replayed on every later use. */
		file->error_context = xstrdup(err_context());
		if (err_hint_text()[0])
			file->error_hint = xstrdup(err_hint_text());
	}
	return file;
}

static int replay_error(const struct core_file *file)
{
	int ret = err_set(-file->status, "%s",
	                  file->error_context ? file->error_context : file->recorded_path);
	if (file->error_hint)
		err_hint("%s", file->error_hint);
	return ret;
}

int core_file_read(struct target *t, uint64_t addr, void *buf, size_t max_len, size_t *done)
{
	struct core_backend *core = t->backend;
	const struct target_mapping *m = target_find_mapping(t, addr);
	*done = 0;
	if (!m || !m->path)
		return err_set(ERR_UNMAPPED, "address 0x%llx is not in core %s",
		               (unsigned long long)addr, core->core_path);
	struct core_file *file = get_file(t, core, m->path);
	if (!file)
		return -ERR_NOMEM;
	if (file->status) {
		int ret = err_set(ERR_UNMAPPED, "address 0x%llx is not in core %s, and %s",
		                  (unsigned long long)addr, core->core_path,
		                  file->error_context ? file->error_context : "its file is unavailable");
		if (file->error_hint)
			err_hint("%s", file->error_hint);
		return ret;
	}
	uint64_t into = addr - m->start;
	uint64_t offset = m->file_offset + into;
	if (offset < m->file_offset || offset >= file->map_size)
		return err_set(ERR_UNMAPPED, "address 0x%llx is not in core %s and lies past the end of %s",
		               (unsigned long long)addr, core->core_path, file->resolved_path);
	uint64_t avail = m->end - addr;
	if (avail > file->map_size - offset)
		avail = file->map_size - offset;
	size_t chunk = max_len < avail ? max_len : (size_t)avail;
	memcpy(buf, file->map + offset, chunk);
	*done = chunk;
	return 0;
}

int core_open_mapped_file(struct target *t, const struct target_mapping *m,
                          char **resolved_path)
{
	struct core_backend *core = t->backend;
	if (resolved_path)
		*resolved_path = NULL;
	if (!m || !m->path)
		return err_set(ERR_NOENT, "mapping at 0x%llx has no file",
		               m ? (unsigned long long)m->start : 0ULL);
	struct core_file *file = get_file(t, core, m->path);
	if (!file)
		return -ERR_NOMEM;
	if (file->status)
		return replay_error(file);
	int fd = fcntl(file->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return err_set_errno(ERR_IO, errno, "cannot duplicate the descriptor of %s",
		                     file->resolved_path);
	if (resolved_path) {
		*resolved_path = xstrdup(file->resolved_path);
		if (!*resolved_path) {
			close(fd);
			return -ERR_NOMEM;
		}
	}
	return fd;
}

void core_files_release(struct core_backend *core)
{
	for (size_t i = 0; i < core->nnoted_ids; i++)
		free(core->noted_ids[i].path);
	free(core->noted_ids);
	free(core->noted_command);
	core->noted_ids = NULL;
	core->nnoted_ids = 0;
	for (size_t i = 0; i < core->nfiles; i++) {
		struct core_file *file = &core->files[i];
		if (file->map)
			munmap((void *)file->map, file->map_size);
		if (file->fd >= 0)
			close(file->fd);
		free(file->recorded_path);
		free(file->resolved_path);
		free(file->error_context);
		free(file->error_hint);
	}
	free(core->files);
	core->files = NULL;
	core->nfiles = core->files_cap = 0;
}
