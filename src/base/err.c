/* Error codes, messages and per-thread error context. Lower layers record
 * what failed here; only the command layer reads it back and prints. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pycoreprof/base.h"

static const char *const messages[] = {
#define PCP_ERR_MSG(name, msg) [ERR_##name] = msg,
	PCP_ERRORS(PCP_ERR_MSG)
#undef PCP_ERR_MSG
};

static _Thread_local char context[512];
static _Thread_local char hint[512];
static _Thread_local int last_code;

const char *err_message(int code)
{
	if (code < 0)
		code = -code;
	if (code >= ERR__COUNT)
		return "unknown error";
	return messages[code];
}

static int set_context(enum err_code code, const char *fmt, va_list ap)
{
	vsnprintf(context, sizeof(context), fmt, ap);
	hint[0] = '\0';
	last_code = code;
	return -(int)code;
}

int err_set(enum err_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = set_context(code, fmt, ap);
	va_end(ap);
	return ret;
}

int err_set_errno(enum err_code code, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = set_context(code, fmt, ap);
	va_end(ap);
	size_t used = strlen(context);
	snprintf(context + used, sizeof(context) - used, ": %s", strerror(errnum));
	return ret;
}

void err_hint(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(hint, sizeof(hint), fmt, ap);
	va_end(ap);
}

const char *err_context(void) { return context; }
const char *err_hint_text(void) { return hint; }
int err_last_code(void) { return last_code; }

void err_clear(void)
{
	context[0] = '\0';
	hint[0] = '\0';
	last_code = ERR_OK;
}
