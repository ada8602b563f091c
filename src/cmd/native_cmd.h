/* Native frames in the commands: the --native-stack-bytes value and adding
 * native frames to collected stacks (reporting, not failing, when that is
 * impossible). */
#ifndef PYCOREPROF_CMD_NATIVE_CMD_H
#define PYCOREPROF_CMD_NATIVE_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "pycoreprof/native.h"
#include "pycoreprof/stacks.h"

/* "65536", "64k", "8M": 0, or -1 when not a size from 4 KiB to 1 GiB. */
int parse_stack_bytes(const char *text, size_t *bytes);
/* Unwind COPIES into PS. On failure the error is printed and false is
 * returned; PS keeps its Python frames. *U is the caller's to free either
 * way (it may be NULL). */
bool add_native_frames(struct process_stacks *ps, const struct native_copies *copies, enum native_mode mode,
                       struct native_unwinder **u);

#endif
