/* What the commands share about native frames: reading the size given to
 * --native-stack-bytes, and adding native frames to collected stacks with a
 * warning (not a failure) when they cannot be had. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "cmd/native_cmd.h"

int parse_stack_bytes(const char *text, size_t *bytes)
{
	char *end;
	unsigned long long value = strtoull(text, &end, 10);
	if (end == text)
		return -1;
	if (*end == 'k' || *end == 'K') {
		value <<= 10;
		end++;
	} else if (*end == 'm' || *end == 'M') {
		value <<= 20;
		end++;
	}
	if (*end || value < 4096 || value > (1ULL << 30))
		return -1;
	*bytes = (size_t)value;
	return 0;
}

bool add_native_frames(struct process_stacks *ps, const struct native_copies *copies, enum native_mode mode,
                       struct native_unwinder **u)
{
	int ret = process_stacks_unwind(ps, copies, mode, u);
	if (ret == 0)
		return true;
	report_error(ret);
	fputs("pycoreprof: showing Python frames only\n", stderr);
	return false;
}
