/* Interpreter names: what the program running several interpreters calls
 * each one, read from the interpreter's own modules. mod_wsgi runs each
 * application group in its own interpreter and tells it its group in
 * mod_wsgi.application_group ("" in the main one, its %{GLOBAL}). Looked
 * up once per interpreter, by a scan of its sys.modules (never in a
 * pause), with the object readers of objects.c (3.7+). Nothing here writes
 * or stops anything. */
#include <stdlib.h>
#include <string.h>

#include "python/objects.h"

enum {
	NAME_TRIES = 3,           /* lookups of one interpreter that found nothing, at most */
};

struct interp_name {
	uint64_t interp;
	int64_t id;
	char *name;               /* NULL until found */
	int tries;
};

/* mod_wsgi.application_group of interpreter INTERP into NAME; -ERR_NOENT
 * when it has no mod_wsgi module. */
static int read_group(struct pywalker *w, uint64_t interp, struct strbuf *name)
{
	struct pyobjects o;
	uint64_t dict, group;
	int ret = pyobjects_init(&o, w);
	if (ret < 0)
		return ret;
	if ((ret = module_dict(&o, interp, "mod_wsgi", &dict)) == 1 &&
	    (ret = dict_get(&o, dict, "application_group", &group)) == 1)
		ret = py_read_string(w, group, name);
	else if (ret == 0)
		ret = -ERR_NOENT;
	pyobjects_release(&o);
	return ret;
}

const char *pywalker_interp_name(struct pywalker *w, uint64_t interp, int64_t id)
{
	struct interp_name *slot = NULL;
	for (size_t i = 0; i < w->ninterp_names; i++)
		if (w->interp_names[i].interp == interp)
			slot = &w->interp_names[i];
	if (slot && slot->id != id) {
		/* Another interpreter where one was before. */
		free(slot->name);
		*slot = (struct interp_name){.interp = interp, .id = id};
	}
	if (!slot) {
		if (w->ninterp_names >= 4 * PY_MAX_INTERPRETERS)
			return NULL;   /* interpreters come and go: not remembered */
		slot = ARRAY_PUSH(w->interp_names, w->ninterp_names, w->interp_names_cap);
		if (!slot)
			return NULL;
		*slot = (struct interp_name){.interp = interp, .id = id};
	}
	if (slot->name || slot->tries >= NAME_TRIES)
		return slot->name;
	slot->tries++;
	struct strbuf name = {0};
	if (read_group(w, interp, &name) == 0 && strbuf_ok(&name))
		slot->name = strbuf_detach(&name);
	strbuf_release(&name);
	err_clear();
	return slot->name;
}

void py_interp_names_free(struct pywalker *w)
{
	for (size_t i = 0; i < w->ninterp_names; i++)
		free(w->interp_names[i].name);
	free(w->interp_names);
	w->interp_names = NULL;
	w->ninterp_names = w->interp_names_cap = 0;
}
