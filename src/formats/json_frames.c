/* One writer of frames as JSON objects, for our JSON profile and for
 * speedscope's shared frames. Not the rest of either document. */
#include "formats/json_frames.h"

static const char *const kind_names[] = {"python", "native", "thread", "process", "error"};

void json_add_frames(struct strbuf *sb, const struct aggregate *agg, const struct frame_order *order, bool with_kind)
{
	for (size_t i = 0; i < order->count; i++) {
		const struct agg_frame *f = &agg->frames[order->frame_at[i]];
		strbuf_addstr(sb, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
		strbuf_add_json_string(sb, f->name);
		if (f->file) {
			strbuf_addstr(sb, ", \"file\": ");
			strbuf_add_json_string(sb, f->file);
		}
		if (f->line > 0)
			strbuf_addf(sb, ", \"line\": %d", f->line);
		if (with_kind) {
			strbuf_addf(sb, ", \"kind\": \"%s\"", kind_names[f->kind]);
			if (f->origin != AGG_FROM_ELSEWHERE)
				strbuf_addf(sb, ", \"origin\": \"%s\"", f->origin == AGG_FROM_STDLIB ? "stdlib" : "package");
		}
		strbuf_addch(sb, '}');
	}
}
