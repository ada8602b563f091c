/* Python layer, internal: what the asyncio task walk reads, one record per
 * minor version from 3.7. The records are generated (async_layouts_gen.c,
 * by tools/gen-layouts): structures measured in each version's DWARF as
 * built, constants taken from its headers. Nothing here is typed by hand;
 * docs/tasks.md says which field is read for what. */
#ifndef PYCOREPROF_PYTHON_ASYNC_LAYOUT_H
#define PYCOREPROF_PYTHON_ASYNC_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

/* Constants a version does not have (an offset it lacks is -1, but -1 is a
 * value some constants have). */
#define PY_ABSENT INT32_MIN

/* -1 marks a field the version does not have, PY_ABSENT a constant (the
 * op_, frame_state_, tpflags_, managed_ and dict_kind_ fields, long_shift,
 * long_non_size_bits, stackref_tag_bits and yield_from_depth). */
struct py_async_layout {
	uint32_t version_hex;

	/* _asyncio's FutureObj; a TaskObj starts with the same fields */
	int32_t future_size;
	int32_t future_loop;
	int32_t future_callback0;
	int32_t future_callbacks;                /* list of (callback, context) */
	int32_t future_state;
	int32_t future_dict;                     /* __dict__ of subclasses */
	int32_t future_awaited_by;               /* 3.14+ */
	int32_t future_awaited_by_is_set;        /* 3.14+: a set, else one object */
	int32_t task_size;
	int32_t task_state;
	int32_t task_fut_waiter;
	int32_t task_coro;
	int32_t task_name;                       /* 3.8+ */
	int32_t task_node;                       /* 3.14+: link in its thread's task list */
	int32_t state_pending;                   /* fut_state values */
	int32_t state_cancelled;
	int32_t state_finished;
	int32_t wakeup_task;                     /* 3.7 - 3.11: TaskWakeupMethWrapper.ww_task */
	int32_t futureiter_future;

	/* generators, coroutines, async generators */
	int32_t gen_frame;                       /* <= 3.10: PyFrameObject * */
	int32_t gen_iframe;                      /* 3.11+: the frame, embedded */
	int32_t gen_frame_state;                 /* 3.11+ */
	int32_t coro_frame;                      /* checked equal to gen_frame */
	int32_t coro_iframe;
	int32_t asyncgen_frame;
	int32_t asyncgen_iframe;
	int32_t asend_gen;                       /* async_generator_asend -> its generator */
	int32_t athrow_gen;
	int32_t corowrapper_coro;                /* coroutine_wrapper -> its coroutine */
	int32_t frame_state_created;             /* 3.11+ */
	int32_t frame_state_suspended;
	int32_t frame_state_executing;
	int32_t frame_state_cleared;
	int32_t frame_state_suspended_yield_from; /* 3.13+ */
	int32_t frame_state_suspended_yield_from_locked; /* 3.15+ */

	/* frames: what a suspended frame awaits (the top of its value stack) */
	int32_t frame_stacktop;                  /* 3.7 - 3.9 */
	int32_t frame_valuestack;                /* <= 3.10 */
	int32_t frame_stackdepth;                /* 3.10 */
	int32_t frame_localsplus;                /* <= 3.10 */
	int32_t code_code;                       /* <= 3.10 co_code */
	int32_t iframe_stacktop;                 /* 3.11 - 3.13, in slots from localsplus */
	int32_t iframe_stackpointer;             /* 3.14+ */
	int32_t iframe_localsplus;               /* 3.11+ */
	int32_t op_yield_from;                   /* <= 3.10 */
	int32_t op_resume;                       /* 3.11+ */
	int32_t op_resume_quick;                 /* 3.11 */
	int32_t op_instrumented_resume;          /* 3.12+ */
	int32_t stackref_tag_bits;               /* 3.14+: low bits of a _PyStackRef */
	int32_t yield_from_depth;                /* 3.11+: the awaited object is this many
	                                          * slots below the top of a suspended
	                                          * frame's stack (measured by running it) */

	/* objects: types, instance attributes, containers */
	int32_t type_base;
	int32_t type_basicsize;
	int32_t type_dictoffset;
	int32_t type_dict;
	int32_t type_flags;
	int32_t heaptype_cached_keys;
	int32_t tpflags_heaptype;
	int32_t tpflags_managed_dict;            /* 3.11+ */
	int32_t tpflags_inline_values;           /* 3.13+ */
	int32_t managed_dict_offset;             /* 3.11+, from the object (negative) */
	int32_t managed_values_offset;           /* 3.11 */
	int32_t dict_keys;
	int32_t dict_values;
	int32_t dictkeys_size;                   /* <= 3.10 */
	int32_t dictkeys_log2_size;              /* 3.11+ */
	int32_t dictkeys_log2_index_bytes;       /* 3.11+ */
	int32_t dictkeys_kind;                   /* 3.11+ */
	int32_t dictkeys_nentries;
	int32_t dictkeys_indices;
	int32_t dictentry_size;
	int32_t dictentry_key;
	int32_t dictentry_value;
	int32_t dictuentry_size;                 /* 3.11+ */
	int32_t dictuentry_key;
	int32_t dictuentry_value;
	int32_t dict_kind_general;               /* 3.11+: keys with hashes */
	int32_t dict_kind_unicode;               /* 3.11+ */
	int32_t dictvalues_values;               /* 3.11+ */
	int32_t dictvalues_capacity;             /* 3.13+: room for inline values */
	int32_t dictvalues_valid;                /* 3.13+: the inline values are current */
	int32_t set_mask;
	int32_t set_table;
	int32_t setentry_size;
	int32_t setentry_key;
	int32_t weakref_object;
	int32_t list_size;
	int32_t list_items;
	int32_t tuple_size;
	int32_t tuple_items;
	int32_t function_closure;
	int32_t cell_ref;
	int32_t method_func;
	int32_t method_self;
	int32_t cfunction_self;
	int32_t module_dict;
	int32_t long_size;                       /* ob_size (<= 3.11), lv_tag (3.12+) */
	int32_t long_digits;
	int32_t long_shift;
	int32_t long_non_size_bits;              /* 3.12+ */

	/* interpreter and thread states */
	int32_t interp_modules;                  /* sys.modules */
	int32_t interp_tasks_head;               /* 3.14+: tasks of threads gone */
	int32_t tstate_running_loop;             /* 3.13+, _PyThreadStateImpl */
	int32_t tstate_running_task;             /* 3.14+ */
	int32_t tstate_tasks_head;               /* 3.14+ */
	int32_t llist_next;                      /* 3.14+ */
};

/* 3.14+: where the _asyncio module's published offsets
 * (_Py_AsyncioModuleDebugOffsets, section AsyncioDebug) keep each value:
 * byte positions of uint64_t fields. */
struct py_asyncio_debug_layout {
	uint32_t version_hex;
	int32_t struct_size;
	int32_t task_size;
	int32_t task_name;
	int32_t task_awaited_by;
	int32_t task_is_task;
	int32_t task_awaited_by_is_set;
	int32_t task_coro;
	int32_t task_node;
	int32_t interp_tasks_head;
	int32_t tstate_running_loop;
	int32_t tstate_running_task;
	int32_t tstate_tasks_head;
};

extern const struct py_async_layout py_async_layouts[];
extern const size_t py_async_layouts_count;
extern const struct py_asyncio_debug_layout py_asyncio_debug_layouts[];
extern const size_t py_asyncio_debug_layouts_count;

/* The records for MAJOR.MINOR, or NULL. */
const struct py_async_layout *py_async_layout_find(unsigned major, unsigned minor);
const struct py_asyncio_debug_layout *py_asyncio_debug_layout_find(unsigned major, unsigned minor);

#endif
