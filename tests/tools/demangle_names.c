/* Reads mangled C++ names, one per line, and prints for each pycoreprof's
 * demangled form, or the name unchanged when it refuses it (as c++filt
 * leaves what it cannot read): for tests/e2e/test_demangle.py, which puts
 * it beside c++filt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/native.h"

int main(void)
{
	static char line[1 << 16];
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		char *name = demangle_full(line);
		puts(name ? name : line);
		free(name);
	}
	return 0;
}
