/* ELF layer: opening ELF files with libelf, symbol and section lookup, reading
 * by link-time address, build-ids, and note iteration. No knowledge of
 * targets or Python. */
#ifndef PYCOREPROF_ELF_H
#define PYCOREPROF_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elfobj;

/* Take ownership of FD (closed on failure too) and open it as an ELF file.
 * PATH is only kept for messages. -ERR_NOT_ELF when it is not ELF. */
int elfobj_open_fd(int fd, const char *path, struct elfobj **out);
int elfobj_open(const char *path, struct elfobj **out);
void elfobj_free(struct elfobj *obj);

const char *elfobj_path(const struct elfobj *obj);
/* e_type: ET_EXEC, ET_DYN, ET_CORE ... */
int elfobj_type(const struct elfobj *obj);
/* Lowest PT_LOAD p_vaddr rounded down to its alignment: the load bias of a
 * mapping is (address of file offset 0) - this. */
uint64_t elfobj_base_vaddr(const struct elfobj *obj);
/* Look NAME up in .symtab, then .dynsym. -ERR_NO_SYMBOL when absent. */
int elfobj_symbol(struct elfobj *obj, const char *name, uint64_t *value, uint64_t *size);
/* Address and size of section NAME. -ERR_NO_SYMBOL when absent. */
int elfobj_section(struct elfobj *obj, const char *name, uint64_t *addr, uint64_t *size);
/* Read LEN bytes stored in the file at link-time address VADDR (from a
 * PT_LOAD's file image). -ERR_UNMAPPED when not backed by file bytes. */
int elfobj_read_vaddr(struct elfobj *obj, uint64_t vaddr, void *buf, size_t len);
/* The GNU build-id, or NULL with *LEN = 0 when the file has none. The bytes
 * live as long as OBJ. */
const uint8_t *elfobj_build_id(struct elfobj *obj, size_t *len);

/* Notes in a raw buffer (PT_NOTE contents). Calls FN for each; FN returns
 * non-zero to stop, and that value is returned. Malformed notes stop the
 * walk with -ERR_CORRUPT. */
typedef int (*elfnote_fn)(void *ctx, uint32_t type, const char *name,
                          const void *desc, size_t desc_size);
int elfnote_each(const void *notes, size_t size, elfnote_fn fn, void *ctx);
/* Like elfnote_each for notes padded to ALIGN bytes (4 or 8): a PT_NOTE
 * whose p_align is 8 (GNU property notes) uses 8. NOTES must start at a
 * multiple of ALIGN from the segment's start. */
int elfnote_each_aligned(const void *notes, size_t size, size_t align,
                         elfnote_fn fn, void *ctx);
/* The GNU build-id note (name "GNU", NT_GNU_BUILD_ID) in a raw note buffer:
 * 0 with *ID pointing into NOTES, -ERR_NO_SYMBOL when there is none,
 * -ERR_CORRUPT when the notes are malformed. */
int elfnote_build_id(const void *notes, size_t size, size_t align,
                     const uint8_t **id, size_t *len);

/* Hex text of a build-id (2*LEN+1 bytes in OUT). */
void build_id_to_hex(const uint8_t *id, size_t len, char *out);

#endif
