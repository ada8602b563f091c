/* Signal names for reports: "SIGSEGV" rather than a number. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "pycoreprof/formats.h"

const char *signal_name(int number, char out[16])
{
	const char *abbrev = number > 0 && number < NSIG ? sigabbrev_np(number) : NULL;
	if (abbrev)
		snprintf(out, 16, "SIG%s", abbrev);
	else
		snprintf(out, 16, "signal %d", number);
	return out;
}
