/* The dynamic linker's list of loaded objects in a process's memory: the
 * executable's program headers (found by the auxv) -> DT_DEBUG -> r_debug ->
 * link_map entries. Read through any target, so that a recording target
 * keeps it; nothing here interprets or returns it. */
#include <stdbool.h>
#include <stdint.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"

#define AT_PHDR_TYPE 3
#define AT_PHNUM_TYPE 5
#define PT_DYNAMIC_TYPE 2
#define PT_PHDR_TYPE 6
#define DT_DEBUG_TAG 21
#define PHDR_SIZE 56u               /* Elf64_Phdr */
#define PHDR_VADDR 16u              /* p_vaddr in it */
#define R_DEBUG_MAP 8u              /* r_map in struct r_debug */
#define MAX_PHDRS 64
#define MAX_DYNAMIC 512
#define MAX_LINK_MAPS 1024
#define MAX_PATH_BYTES 4096

/* Read a dynamic section: 16-byte entries up to DT_NULL. */
static void read_dynamic(struct target *t, uint64_t addr, uint64_t *debug)
{
	for (int i = 0; i < MAX_DYNAMIC; i++) {
		uint64_t entry[2];
		if (target_read(t, addr + 16u * (uint64_t)i, entry, sizeof(entry)) < 0 || entry[0] == 0)
			return;
		if (entry[0] == DT_DEBUG_TAG && debug)
			*debug = entry[1];
	}
}

static void read_string(struct target *t, uint64_t addr)
{
	for (int i = 0; i < MAX_PATH_BYTES; i++) {
		char c;
		if (target_read(t, addr + (uint64_t)i, &c, 1) < 0 || !c)
			return;
	}
}

void target_read_link_map(struct target *t)
{
	uint64_t phdr_addr = target_auxv(t, AT_PHDR_TYPE), phnum = target_auxv(t, AT_PHNUM_TYPE);
	uint64_t bias = 0, dynamic = 0, debug = 0;
	bool have_bias = false;
	for (uint64_t i = 0; phdr_addr && i < phnum && i < MAX_PHDRS; i++) {
		uint32_t type;
		uint64_t vaddr;
		uint64_t at = phdr_addr + i * PHDR_SIZE;
		if (target_read(t, at, &type, sizeof(type)) < 0 ||
		    target_read(t, at + PHDR_VADDR, &vaddr, sizeof(vaddr)) < 0)
			return;
		if (type == PT_PHDR_TYPE) {
			bias = phdr_addr - vaddr;
			have_bias = true;
		} else if (type == PT_DYNAMIC_TYPE) {
			dynamic = vaddr;
		}
	}
	if (!have_bias || !dynamic)
		return;
	read_dynamic(t, dynamic + bias, &debug);
	uint64_t map = 0;
	if (!debug || target_read(t, debug, &map, sizeof(map)) < 0 ||
	    target_read(t, debug + R_DEBUG_MAP, &map, sizeof(map)) < 0)
		return;
	for (int n = 0; map && n < MAX_LINK_MAPS; n++) {
		uint64_t entry[5];   /* l_addr, l_name, l_ld, l_next, l_prev */
		if (target_read(t, map, entry, sizeof(entry)) < 0)
			return;
		read_string(t, entry[1]);
		if (entry[2])
			read_dynamic(t, entry[2], NULL);
		map = entry[3];
	}
}
