/* Expanding `report`'s inputs (files, directories walked recursively, glob
 * patterns) into one sorted list of files without duplicates. */
#ifndef PYCOREPROF_CMD_REPORT_INPUTS_H
#define PYCOREPROF_CMD_REPORT_INPUTS_H

#include <stddef.h>

struct input_list {
	char **paths;            /* owned */
	size_t n, cap;
};

/* Add every file ARG names. An ARG that names nothing (no file, no glob
 * match) is an error: -ERR_NOENT with the argument as context. */
int input_list_add(struct input_list *list, const char *arg);
/* Sort by path and drop duplicates. */
void input_list_finish(struct input_list *list);
void input_list_release(struct input_list *list);

#endif
