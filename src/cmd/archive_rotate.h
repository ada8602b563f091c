/* Retention of snapshot archives (archive_rotate.c): moving the live
 * archive aside, deleting those moved aside that are too old. */
#ifndef PYCOREPROF_CMD_ARCHIVE_ROTATE_H
#define PYCOREPROF_CMD_ARCHIVE_ROTATE_H

#include <stddef.h>
#include <time.h>

#include "pycoreprof/base.h"

/* Rename PATH to PATH's stem + "-YYYYmmddTHHMMSS.pcpa" (local time NOW);
 * *MOVED is the new name, the caller's. Errors: -ERR_IO, -ERR_NOMEM. */
int archive_rotate_aside(const char *path, time_t now, char **moved);
/* Delete the archives PATH was moved aside to whose last change is more
 * than MAX_AGE seconds before NOW; *DELETED counts them. */
int archive_rotate_prune(const char *path, double max_age, time_t now, size_t *deleted);

#endif
