/* What a frame read from another format is, told from its name, file and
 * line as our writers give them: the readers of folded stacks, speedscope
 * and pprof files, which carry no frame kind of their own. */
#ifndef PYCOREPROF_FORMATS_FRAME_KIND_H
#define PYCOREPROF_FORMATS_FRAME_KIND_H

#include "pycoreprof/agg.h"

/* `qsort (libc.so.6)` is native code (a file with no line that is not
 * Python source), `thread 42 "main"` and `process 7 "cmd"` are roots,
 * `[unreadable stack]` a marker; the rest Python. FILE may be NULL, LINE
 * is negative when unknown. */
enum agg_frame_kind frame_kind_of(const char *name, const char *file, int line);

#endif
