/* Texts built into the program from files beside the code, turned into C
 * arrays at build time by tools/embed.sh (see the GNUmakefile). Not
 * NUL-terminated: use the size. Private to formats/. */
#ifndef PYCOREPROF_FORMATS_EMBEDDED_H
#define PYCOREPROF_FORMATS_EMBEDDED_H

#include <stddef.h>

/* src/formats/flamegraph.js, the flame graph's script. */
extern const char flamegraph_js[];
extern const size_t flamegraph_js_size;

#endif
