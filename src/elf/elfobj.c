/* ELF files opened with libelf over an mmap: symbols (.symtab, then
 * .dynsym), sections by name, reads by link-time address from PT_LOAD file
 * images, and the GNU build-id. Knows nothing of processes or targets.
 * A symbol looked up is remembered for the file (by device, inode, size
 * and change time) for the life of the process, since `report` opens the
 * same libpython for every snapshot it reads, each open otherwise a walk of
 * its symbol tables. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "pycoreprof/elf.h"

struct elfobj {
	int fd;
	char *path;
	Elf *elf;
	const uint8_t *image;      /* the whole file, as libelf mapped it */
	size_t image_size;
	GElf_Phdr *phdrs;
	size_t nphdrs;
	int type;
	struct stat st;            /* the file's identity, for the symbol memo */
	bool st_known;
	bool build_id_looked_up;
	const uint8_t *build_id;   /* points into image */
	size_t build_id_len;
};

static int load_phdrs(struct elfobj *obj)
{
	size_t count = 0;
	if (elf_getphdrnum(obj->elf, &count) != 0)
		return err_set(ERR_CORRUPT, "cannot read the program headers of %s: %s",
		               obj->path, elf_errmsg(-1));
	if (!count)
		return 0;
	obj->phdrs = xcalloc(count, sizeof(*obj->phdrs));
	if (!obj->phdrs)
		return -ERR_NOMEM;
	for (size_t i = 0; i < count; i++) {
		if (!gelf_getphdr(obj->elf, (int)i, &obj->phdrs[i]))
			return err_set(ERR_CORRUPT, "cannot read program header %zu of %s: %s",
			               i, obj->path, elf_errmsg(-1));
	}
	obj->nphdrs = count;
	return 0;
}

int elfobj_open_fd(int fd, const char *path, struct elfobj **out)
{
	struct elfobj *obj = NULL;
	int ret;

	*out = NULL;
	obj = xcalloc(1, sizeof(*obj));
	if (!obj) {
		close(fd);
		return -ERR_NOMEM;
	}
	obj->fd = fd;
	obj->path = xstrdup(path);
	obj->st_known = fstat(fd, &obj->st) == 0;
	if (!obj->path) {
		ret = -ERR_NOMEM;
		goto out;
	}
	elf_version(EV_CURRENT);
	obj->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!obj->elf || elf_kind(obj->elf) != ELF_K_ELF) {
		ret = err_set(ERR_NOT_ELF, "%s is not an ELF file", path);
		goto out;
	}
	GElf_Ehdr ehdr;
	if (!gelf_getehdr(obj->elf, &ehdr)) {
		ret = err_set(ERR_CORRUPT, "cannot read the ELF header of %s: %s", path, elf_errmsg(-1));
		goto out;
	}
	obj->type = ehdr.e_type;
	obj->image = (const uint8_t *)elf_rawfile(obj->elf, &obj->image_size);
	if (!obj->image) {
		ret = err_set(ERR_IO, "cannot map %s: %s", path, elf_errmsg(-1));
		goto out;
	}
	ret = load_phdrs(obj);
	if (ret)
		goto out;
	*out = obj;
	obj = NULL;
out:
	elfobj_free(obj);
	return ret;
}

int elfobj_open(const char *path, struct elfobj **out)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		enum err_code code = saved == ENOENT ? ERR_NOENT
		                   : saved == EACCES ? ERR_PERM : ERR_IO;
		return err_set_errno(code, saved, "cannot open %s", path);
	}
	return elfobj_open_fd(fd, path, out);
}

void elfobj_free(struct elfobj *obj)
{
	if (!obj)
		return;
	if (obj->elf)
		elf_end(obj->elf);
	if (obj->fd >= 0)
		close(obj->fd);
	free(obj->phdrs);
	free(obj->path);
	free(obj);
}

const char *elfobj_path(const struct elfobj *obj)
{
	return obj->path;
}

int elfobj_type(const struct elfobj *obj)
{
	return obj->type;
}

uint64_t elfobj_base_vaddr(const struct elfobj *obj)
{
	uint64_t lowest = UINT64_MAX;
	for (size_t i = 0; i < obj->nphdrs; i++) {
		const GElf_Phdr *phdr = &obj->phdrs[i];
		if (phdr->p_type != PT_LOAD)
			continue;
		uint64_t start = phdr->p_vaddr;
		/* Alignments that are not powers of two are meaningless; ignore them. */
		if (phdr->p_align > 1 && !(phdr->p_align & (phdr->p_align - 1)))
			start &= ~(phdr->p_align - 1);
		if (start < lowest)
			lowest = start;
	}
	return lowest == UINT64_MAX ? 0 : lowest;
}

/* Search one kind of symbol table (SHT_SYMTAB or SHT_DYNSYM) for a defined
 * symbol NAME. Returns 1 when found, 0 when not, negative on damage. The
 * tables are scanned in place (no per-symbol copies or string lookups): a
 * libpython has tens of thousands of symbols and this runs per file opened. */
static int search_symbols(struct elfobj *obj, Elf64_Word table_type, const char *name,
                          uint64_t *value, uint64_t *size)
{
	Elf_Scn *scn = NULL;
	size_t name_len = strlen(name);
	/* The first bytes of NAME (its NUL included when short), compared as
	 * one word before anything else: most symbols share a first letter. */
	size_t prefix_len = name_len + 1 < sizeof(uint64_t) ? name_len + 1 : sizeof(uint64_t);
	uint64_t prefix = 0, mask = prefix_len == sizeof(uint64_t) ? ~(uint64_t)0 : ((uint64_t)1 << (8 * prefix_len)) - 1;
	memcpy(&prefix, name, prefix_len);
	while ((scn = elf_nextscn(obj->elf, scn))) {
		GElf_Shdr shdr;
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != table_type ||
		    shdr.sh_entsize != sizeof(Elf64_Sym))
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		Elf_Scn *str_scn = elf_getscn(obj->elf, shdr.sh_link);
		Elf_Data *strings = str_scn ? elf_getdata(str_scn, NULL) : NULL;
		if (!data || !data->d_buf || !strings || !strings->d_buf)
			continue;
		const Elf64_Sym *syms = data->d_buf;
		const char *text = strings->d_buf;
		size_t count = data->d_size / sizeof(Elf64_Sym), text_size = strings->d_size;
		for (size_t i = 0; i < count; i++) {
			const Elf64_Sym *sym = &syms[i];
			if (!sym->st_name || sym->st_shndx == SHN_UNDEF || sym->st_name >= text_size ||
			    text_size - sym->st_name <= name_len)
				continue;
			uint64_t word = 0;
			memcpy(&word, text + sym->st_name, prefix_len);
			if ((word & mask) != prefix || memcmp(text + sym->st_name, name, name_len + 1) != 0)
				continue;
			*value = sym->st_value;
			if (size)
				*size = sym->st_size;
			return 1;
		}
	}
	return 0;
}

/* The symbol memo: (file identity, name) -> what the search found. */
enum { SYMBOL_MEMO_MAX = 4096 };
struct symbol_memo_slot {
	uint64_t hash;             /* of the identity and name: the hashtab key */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec ctime;
	char *name;                /* owned by the memo */
	uint64_t value, symbol_size;
	bool found;
};
static struct hashtab symbol_memo;
static pthread_mutex_t symbol_memo_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t memo_hash(const struct elfobj *obj, const char *name)
{
	uint64_t id[5] = {(uint64_t)obj->st.st_dev, (uint64_t)obj->st.st_ino, (uint64_t)obj->st.st_size,
	                  (uint64_t)obj->st.st_ctim.tv_sec, (uint64_t)obj->st.st_ctim.tv_nsec};
	return hash_bytes(hash_bytes(0, id, sizeof(id)), name, strlen(name));
}

static bool memo_matches(const struct symbol_memo_slot *slot, const struct elfobj *obj, const char *name)
{
	return slot->dev == obj->st.st_dev && slot->ino == obj->st.st_ino && slot->size == obj->st.st_size &&
	       slot->ctime.tv_sec == obj->st.st_ctim.tv_sec && slot->ctime.tv_nsec == obj->st.st_ctim.tv_nsec &&
	       !strcmp(slot->name, name);
}

/* 1 and the answer when remembered, else 0. */
static int memo_find(const struct elfobj *obj, const char *name, uint64_t hash, uint64_t *value, uint64_t *size)
{
	int found = 0;
	pthread_mutex_lock(&symbol_memo_lock);
	if (symbol_memo.cap) {
		size_t pos = hashtab_start(&symbol_memo, hash);
		for (const struct symbol_memo_slot *slot; (slot = hashtab_next(&symbol_memo, hash, &pos));)
			if (memo_matches(slot, obj, name)) {
				found = slot->found ? 1 : -1;
				if (slot->found) {
					*value = slot->value;
					if (size)
						*size = slot->symbol_size;
				}
				break;
			}
	}
	pthread_mutex_unlock(&symbol_memo_lock);
	return found;
}

static void memo_note(const struct elfobj *obj, const char *name, uint64_t hash, bool found, uint64_t value,
                      uint64_t size)
{
	pthread_mutex_lock(&symbol_memo_lock);
	char *copy = symbol_memo.count < SYMBOL_MEMO_MAX ? xstrdup(name) : NULL;
	if (copy && hashtab_reserve(&symbol_memo, symbol_memo.count + 1, sizeof(struct symbol_memo_slot)) == 0) {
		size_t pos = hashtab_start(&symbol_memo, hash);
		bool known = false;
		for (const struct symbol_memo_slot *slot; !known && (slot = hashtab_next(&symbol_memo, hash, &pos));)
			known = memo_matches(slot, obj, name);
		if (!known) {
			struct symbol_memo_slot *slot = hashtab_slot(&symbol_memo, pos);
			hashtab_claim(&symbol_memo, slot, hash);
			slot->dev = obj->st.st_dev;
			slot->ino = obj->st.st_ino;
			slot->size = obj->st.st_size;
			slot->ctime = obj->st.st_ctim;
			slot->name = copy;
			slot->value = value;
			slot->symbol_size = size;
			slot->found = found;
			copy = NULL;
		}
	}
	free(copy);
	pthread_mutex_unlock(&symbol_memo_lock);
}

int elfobj_symbol(struct elfobj *obj, const char *name, uint64_t *value, uint64_t *size)
{
	uint64_t hash = obj->st_known ? memo_hash(obj, name) : 0, found_size = 0;
	int remembered = obj->st_known ? memo_find(obj, name, hash, value, size) : 0;
	if (remembered > 0)
		return 0;
	if (remembered == 0) {
		bool found = search_symbols(obj, SHT_SYMTAB, name, value, &found_size) > 0 ||
		             search_symbols(obj, SHT_DYNSYM, name, value, &found_size) > 0;
		if (obj->st_known)
			memo_note(obj, name, hash, found, found ? *value : 0, found_size);
		if (found) {
			if (size)
				*size = found_size;
			return 0;
		}
	}
	return err_set(ERR_NO_SYMBOL, "symbol %s not found in %s", name, obj->path);
}

int elfobj_section(struct elfobj *obj, const char *name, uint64_t *addr, uint64_t *size)
{
	size_t names_index;
	if (elf_getshdrstrndx(obj->elf, &names_index) != 0)
		return err_set(ERR_NO_SYMBOL, "section %s not found in %s: no section names",
		               name, obj->path);
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(obj->elf, scn))) {
		GElf_Shdr shdr;
		if (!gelf_getshdr(scn, &shdr))
			continue;
		const char *section_name = elf_strptr(obj->elf, names_index, shdr.sh_name);
		if (section_name && strcmp(section_name, name) == 0) {
			*addr = shdr.sh_addr;
			if (size)
				*size = shdr.sh_size;
			return 0;
		}
	}
	return err_set(ERR_NO_SYMBOL, "section %s not found in %s", name, obj->path);
}

/* The PT_LOAD whose file image holds VADDR, or NULL. */
static const GElf_Phdr *load_with_file_bytes(const struct elfobj *obj, uint64_t vaddr)
{
	for (size_t i = 0; i < obj->nphdrs; i++) {
		const GElf_Phdr *phdr = &obj->phdrs[i];
		if (phdr->p_type == PT_LOAD && vaddr >= phdr->p_vaddr &&
		    vaddr - phdr->p_vaddr < phdr->p_filesz)
			return phdr;
	}
	return NULL;
}

int elfobj_read_vaddr(struct elfobj *obj, uint64_t vaddr, void *buf, size_t len)
{
	uint8_t *dest = buf;
	uint64_t cursor = vaddr;
	size_t left = len;

	while (left) {
		const GElf_Phdr *phdr = load_with_file_bytes(obj, cursor);
		if (!phdr)
			goto unmapped;
		uint64_t skip = cursor - phdr->p_vaddr;
		uint64_t avail = phdr->p_filesz - skip;
		if (phdr->p_offset > obj->image_size ||
		    skip > obj->image_size - phdr->p_offset)
			goto unmapped;
		uint64_t in_file = obj->image_size - (phdr->p_offset + skip);
		if (avail > in_file)
			avail = in_file;
		if (!avail)
			goto unmapped;
		size_t chunk = left < avail ? left : (size_t)avail;
		memcpy(dest, obj->image + phdr->p_offset + skip, chunk);
		dest += chunk;
		cursor += chunk;
		left -= chunk;
	}
	return 0;
unmapped:
	return err_set(ERR_UNMAPPED, "address 0x%llx is not stored in %s",
	               (unsigned long long)cursor, obj->path);
}

/* The build-id from PT_NOTE segments, else from note sections (separate
 * debug files may keep only those). */
static void find_build_id(struct elfobj *obj)
{
	for (size_t i = 0; i < obj->nphdrs; i++) {
		const GElf_Phdr *phdr = &obj->phdrs[i];
		if (phdr->p_type != PT_NOTE || phdr->p_offset > obj->image_size ||
		    phdr->p_filesz > obj->image_size - phdr->p_offset)
			continue;
		size_t align = phdr->p_align == 8 ? 8 : 4;
		if (elfnote_build_id(obj->image + phdr->p_offset, phdr->p_filesz, align,
		                     &obj->build_id, &obj->build_id_len) == 0)
			return;
	}
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(obj->elf, scn))) {
		GElf_Shdr shdr;
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE ||
		    shdr.sh_offset > obj->image_size ||
		    shdr.sh_size > obj->image_size - shdr.sh_offset)
			continue;
		size_t align = shdr.sh_addralign == 8 ? 8 : 4;
		if (elfnote_build_id(obj->image + shdr.sh_offset, shdr.sh_size, align,
		                     &obj->build_id, &obj->build_id_len) == 0)
			return;
	}
}

const uint8_t *elfobj_build_id(struct elfobj *obj, size_t *len)
{
	if (!obj->build_id_looked_up) {
		obj->build_id_looked_up = true;
		find_build_id(obj);
	}
	*len = obj->build_id_len;
	return obj->build_id;
}
