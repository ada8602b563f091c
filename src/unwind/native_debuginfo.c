/* Finding a module's separate debug file: libdwfl's standard search (by
 * build-id under the debug directories, by .gnu_debuglink beside the file
 * and in them), a file that no longer lines up with its binary refused,
 * then the debuginfod client's cache, read where files already are: no
 * download. The directories searched are made here too. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "pycoreprof/elf.h"
#include "unwind/native_internal.h"

/* The lowest PT_LOAD address of ELF, or UINT64_MAX. */
static uint64_t lowest_load(Elf *elf)
{
	size_t n;
	uint64_t lowest = UINT64_MAX;
	if (!elf || elf_getphdrnum(elf, &n) != 0)
		return lowest;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr phdr;
		if (gelf_getphdr(elf, (int)i, &phdr) && phdr.p_type == PT_LOAD && phdr.p_vaddr < lowest)
			lowest = phdr.p_vaddr;
	}
	return lowest;
}

/* Whether the debug file at PATH, if there is one, lines up with MAIN. */
static bool debug_file_lines_up(Elf *main, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	Elf *debug = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	bool lines_up = !debug || lowest_load(main) == lowest_load(debug);
	elf_end(debug);
	close(fd);
	return lines_up;
}

/* libdwfl lines a separate debug file up with its binary by their lowest
 * PT_LOAD addresses. A binary rewritten after it was built (patchelf gives
 * an executable a new segment below the others) no longer lines up, and its
 * debug file would name the wrong functions: when the file its build-id
 * names is such a one, no debug file is used. (Checked before libdwfl's own
 * search, which keeps a file found by build-id whatever we answer.) */
/* The debuginfod client's cache, where the client keeps what it
 * downloaded: $DEBUGINFOD_CACHE_PATH, else $XDG_CACHE_HOME/debuginfod_client,
 * else ~/.cache/debuginfod_client. A new string, or NULL. */
static char *debuginfod_cache(void)
{
	const char *set = getenv("DEBUGINFOD_CACHE_PATH");
	if (set && *set)
		return xstrdup(set);
	set = getenv("XDG_CACHE_HOME");
	if (set && *set)
		return xasprintf("%s/debuginfod_client", set);
	set = getenv("HOME");
	return set && *set ? xasprintf("%s/.cache/debuginfod_client", set) : NULL;
}

/* The debug file the debuginfod cache holds for build-id HEX
 * (CACHE/HEX/debuginfo), if it is there and lines up with MAIN: an fd,
 * its path in *NAME. -1 when not. */
static int from_debuginfod_cache(Elf *main, const char *hex, char **name)
{
	char *cache = debuginfod_cache();
	char *path = cache ? xasprintf("%s/%s/debuginfo", cache, hex) : NULL;
	free(cache);
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0 && !debug_file_lines_up(main, path)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		free(path);
		return -1;
	}
	*name = path;
	return fd;
}

int native_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                          const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
                          char **debuginfo_file_name)
{
	struct native_unwinder *u = *userdata;
	const unsigned char *id;
	GElf_Addr id_vaddr, bias;
	int id_len = dwfl_module_build_id(mod, &id, &id_vaddr);
	Elf *main = dwfl_module_getelf(mod, &bias);
	char hex[2 * 64 + 1] = "";
	if (id_len > 1 && id_len <= 64)
		build_id_to_hex(id, (size_t)id_len, hex);
	if (u && main && *hex && u->debuginfo_path) {
		for (const char *dir = u->debuginfo_path; *dir;) {
			size_t len = strcspn(dir, ":");
			if (dir[0] == '/') {
				char *path = xasprintf("%.*s/.build-id/%.2s/%s.debug", (int)len, dir, hex, hex + 2);
				bool fine = !path || debug_file_lines_up(main, path);
				free(path);
				if (!fine)
					return -1;
			}
			dir += len + (dir[len] == ':');
		}
	}
	int fd = dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file, debuglink_crc,
	                                     debuginfo_file_name);
	if (fd < 0 && main && *hex)
		fd = from_debuginfod_cache(main, hex, debuginfo_file_name);
	return fd;
}

/* Append ":DIR/usr/lib/debug" to SB for the sysroot DIR a mapped file
 * lives in (DIR/usr/lib/x.so, DIR/usr/bin/x): an unpacked image or a
 * relocated prefix keeps its debug files there. Each once, when present. */
static void add_sysroot_debug_dirs(const struct target *t, struct strbuf *sb)
{
	for (size_t i = 0; i < t->nmappings; i++) {
		const char *path = t->mappings[i].path;
		const char *usr = path && path[0] == '/' ? strstr(path, "/usr/") : NULL;
		if (!usr || usr == path)
			continue;
		char *dir = xasprintf("%.*s/usr/lib/debug", (int)(usr - path), path);
		size_t len = dir ? strlen(dir) : 0;
		const char *seen = dir && sb->buf ? strstr(sb->buf, dir) : NULL;
		struct stat st;
		/* Mappings share a few roots: look each up once. */
		if (dir && (!seen || (seen[len] != ':' && seen[len] != '\0')) && stat(dir, &st) == 0 &&
		    S_ISDIR(st.st_mode)) {
			strbuf_addch(sb, ':');
			strbuf_addstr(sb, dir);
		}
		free(dir);
	}
}

/* Directories searched for separate debug files: the file's own, its .debug,
 * the system's debug tree (by build-id and by path; PYCOREPROF_DEBUG_DIRS
 * replaces it), the process's root's tree (a container's; a core's
 * --sysroot), sysroots' trees and --search-path. */
char *native_debug_search_path(const struct target *t)
{
	struct strbuf sb = {0};
	const char *system = getenv("PYCOREPROF_DEBUG_DIRS");
	strbuf_addstr(&sb, ":.debug:");
	strbuf_addstr(&sb, system ? system : "/usr/lib/debug");
	if (t->root && !(system && !*system))
		strbuf_addf(&sb, ":%s/usr/lib/debug", t->root);
	add_sysroot_debug_dirs(t, &sb);
	if (t->search_path && *t->search_path) {
		strbuf_addch(&sb, ':');
		strbuf_addstr(&sb, t->search_path);
	}
	if (!strbuf_ok(&sb)) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

