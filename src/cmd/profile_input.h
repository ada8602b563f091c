/* Reading a profile for `flamegraph` and `convert`: a file or stdin ("-"),
 * folded stacks from any tool or our JSON aggregate, told apart by the
 * first character. */
#ifndef PYCOREPROF_CMD_PROFILE_INPUT_H
#define PYCOREPROF_CMD_PROFILE_INPUT_H

#include "pycoreprof/agg.h"

/* Read PATH (NULL or "-": stdin) into AGG, which must be initialised. */
int profile_input_read(struct aggregate *agg, const char *path);

#endif
