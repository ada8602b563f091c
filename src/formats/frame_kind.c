/* frame_kind_of(): a frame's kind from its label's parts (frame_kind.h). */
#include <string.h>

#include "formats/frame_kind.h"

enum agg_frame_kind frame_kind_of(const char *name, const char *file, int line)
{
	if (file) {
		size_t len = strlen(file);
		bool python = len > 3 && !strcmp(file + len - 3, ".py");
		return line < 0 && !python && file[0] != '<' ? AGG_NATIVE : AGG_PYTHON;
	}
	if (!strncmp(name, "thread ", 7))
		return AGG_THREAD;
	if (!strncmp(name, "process ", 8))
		return AGG_PROCESS;
	if (name[0] && name[0] == '[' && name[strlen(name) - 1] == ']')
		return AGG_ERROR;
	return AGG_PYTHON;
}
