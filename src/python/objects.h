/* Python layer, internal: reading ordinary Python objects from a target for
 * the asyncio task walk (tasks.c, coro_chain.c): what kind an object is,
 * dicts, sets, lists and tuples, instance attributes, small ints and str
 * comparisons. Every read goes through the target and every loop is
 * bounded; a corrupt object is an error, never a hang. Not included outside
 * src/python/. */
#ifndef PYCOREPROF_PYTHON_OBJECTS_H
#define PYCOREPROF_PYTHON_OBJECTS_H

#include "python/async_layout.h"
#include "python/internal.h"

enum {
	PY_MAX_CONTAINER = 1 << 22,   /* entries of a dict or set, items of a list */
	PY_MAX_TYPE_DEPTH = 64,       /* tp_base links followed */
};

/* What an object is, as far as the task walk cares. */
enum obj_kind {
	OBJ_OTHER,
	OBJ_TASK_C,         /* _asyncio.Task or a subclass */
	OBJ_TASK_PY,        /* asyncio.tasks' pure-Python Task or a subclass */
	OBJ_FUTURE_C,       /* _asyncio.Future or a subclass (not a task) */
	OBJ_FUTURE_PY,
	OBJ_COROUTINE,
	OBJ_GENERATOR,
	OBJ_ASYNCGEN,
	OBJ_ASEND,          /* async_generator_asend */
	OBJ_ATHROW,         /* async_generator_athrow */
	OBJ_COROWRAPPER,    /* coroutine_wrapper (coro.__await__()) */
	OBJ_FUNCTION,
	OBJ_METHOD,         /* a bound method */
	OBJ_CFUNCTION,      /* builtin_function_or_method */
	OBJ_WAKEUP,         /* 3.7 - 3.11: TaskWakeupMethWrapper */
	OBJ_CELL,
	OBJ_TUPLE,
	OBJ_LIST,
	OBJ_DICT,
	OBJ_SET,
	OBJ_STR,
	OBJ_INT,
	OBJ_WEAKREF,
};

/* asyncio's classes, as its modules name them. */
enum obj_class { CLASS_TASK_C, CLASS_TASK_PY, CLASS_FUTURE_C, CLASS_FUTURE_PY, CLASS__COUNT };

struct pyobjects {
	struct pywalker *w;
	struct target *t;
	struct py_async_layout A;     /* effective layout */
	struct hashtab kinds;         /* of struct kind_slot: type address -> kind */
	uint64_t classes[CLASS__COUNT];
};

static inline bool obj_is_task(enum obj_kind k)
{
	return k == OBJ_TASK_C || k == OBJ_TASK_PY;
}

static inline bool obj_is_future(enum obj_kind k)
{
	return k == OBJ_FUTURE_C || k == OBJ_FUTURE_PY || obj_is_task(k);
}

/* Set up for W's version. -ERR_UNSUPPORTED_PYTHON before 3.7 or without a
 * generated layout. */
int pyobjects_init(struct pyobjects *o, struct pywalker *w);
void pyobjects_release(struct pyobjects *o);
/* Learn asyncio's classes (classification changes: the cache is emptied). */
void pyobjects_set_classes(struct pyobjects *o, const uint64_t classes[CLASS__COUNT]);

/* The pointer at ADDR + OFF (OFF < 0: the field is missing, an error). */
int obj_ptr(struct pyobjects *o, uint64_t addr, int32_t off, uint64_t *out);
/* The kind of the object at ADDR (0 is OBJ_OTHER). */
int obj_kind(struct pyobjects *o, uint64_t addr, enum obj_kind *kind);
/* Whether the str at ADDR is exactly TEXT (ASCII). */
int obj_str_equals(struct pyobjects *o, uint64_t addr, const char *text, bool *equal);
/* The value of a small int (at most two digits). */
int obj_long(struct pyobjects *o, uint64_t addr, int64_t *value);

/* Called with each key and value; a non-zero return stops the walk and is
 * returned. */
typedef int (*obj_item_fn)(void *ctx, uint64_t key, uint64_t value);
/* Every entry of the dict at DICT (split tables too). */
int dict_each(struct pyobjects *o, uint64_t dict, obj_item_fn fn, void *ctx);
/* D[KEY] for a str KEY: 1 and *VALUE when found, 0 when not. */
int dict_get(struct pyobjects *o, uint64_t dict, const char *key, uint64_t *value);
/* Every key of the set at SET (VALUE is 0). */
int set_each(struct pyobjects *o, uint64_t set, obj_item_fn fn, void *ctx);
/* Up to MAX items of the list or tuple at SEQ (KIND says which) into ITEMS;
 * *COUNT gets how many. */
int seq_items(struct pyobjects *o, uint64_t seq, enum obj_kind kind, uint64_t *items, size_t max, size_t *count);
/* OBJ.NAME from the instance's own attributes (its __dict__, managed dict
 * or inline values; no descriptors, no class attributes): 1 and *VALUE when
 * found, 0 when not. */
int obj_getattr(struct pyobjects *o, uint64_t obj, const char *name, uint64_t *value);
/* NAME as the class of OBJ (or a base, along tp_base) defines it. */
int obj_class_getattr(struct pyobjects *o, uint64_t obj, const char *name, uint64_t *value);
/* The __dict__ of module NAME in sys.modules of interpreter INTERP: 1 when
 * found, 0 when the module is not imported. */
int module_dict(struct pyobjects *o, uint64_t interp, const char *name, uint64_t *dict);

#endif
