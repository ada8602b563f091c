/* The frames table that our JSON profile and speedscope's file both write,
 * written once so that the two agree on every field. Private to formats/. */
#ifndef PYCOREPROF_FORMATS_JSON_FRAMES_H
#define PYCOREPROF_FORMATS_JSON_FRAMES_H

#include "pycoreprof/agg.h"

/* The frames of ORDER, in its order, as the inside of a JSON array: one
 * "\n  {"name": ..., "file": ..., "line": N}" object per frame, joined by
 * ",". "file" is left out for frames without one (roots, markers) and
 * "line" unless it is a real line: CPython numbers lines from 1, so -1 and
 * 0 both mean unknown. WITH_KIND adds our "kind" and, when known, "origin";
 * speedscope's schema has neither. */
void json_add_frames(struct strbuf *sb, const struct aggregate *agg, const struct frame_order *order, bool with_kind);

#endif
