/* Python layer, internal: byte offsets of the CPython structures the walker
 * reads, one record per minor version. The records themselves are generated
 * (layouts_gen.c, by tools/gen-layouts) from the real headers of installed
 * interpreters; 3.13+ records are overridden at run time by the
 * _Py_DebugOffsets the target publishes. Nothing here is typed by hand. */
#ifndef PYCOREPROF_PYTHON_LAYOUT_H
#define PYCOREPROF_PYTHON_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

/* -1 marks a field the version does not have. */
struct py_layout {
	uint32_t version_hex;       /* PY_VERSION_HEX of the headers it came from */

	/* _PyRuntimeState (3.7+) */
	int32_t runtime_size;
	int32_t runtime_interpreters_head;
	int32_t runtime_gilstate_tstate_current; /* 3.7 - 3.11 */
	int32_t runtime_ceval_gil;               /* 3.7 - 3.11: struct _gil_runtime_state, embedded */
	int32_t runtime_finalizing;              /* 3.7+: the finalizing thread state (finalizing, _finalizing) */
	int32_t runtime_gc;                      /* 3.7, 3.8: struct _gc_runtime_state, embedded */

	/* struct _gil_runtime_state (3.7+) */
	int32_t gil_last_holder;
	int32_t gil_locked;

	/* PyInterpreterState */
	int32_t interp_size;
	int32_t interp_next;
	int32_t interp_threads_head;             /* tstate_head (<= 3.10), threads.head (3.11+) */
	int32_t interp_ceval_gil_ptr;            /* 3.12+: ceval.gil, a pointer */
	int32_t interp_finalizing;               /* 3.12+: int, set before the exit functions run */
	int32_t interp_finalizing_tstate;        /* 3.12+: _finalizing, the finalizing thread state */
	int32_t interp_gc;                       /* 3.9+: struct _gc_runtime_state, embedded */

	/* struct _gc_runtime_state (3.7+) */
	int32_t gc_collecting;                   /* int */
	int32_t gc_frame;                        /* 3.15+: the frame that started the collection */

	/* PyThreadState */
	int32_t tstate_size;
	int32_t tstate_next;
	int32_t tstate_prev;                     /* 3.x; 2.7 has no back link */
	int32_t tstate_interp;
	int32_t tstate_frame;                    /* <= 3.10: PyFrameObject * */
	int32_t tstate_cframe;                   /* 3.11, 3.12: _PyCFrame * */
	int32_t cframe_current_frame;            /* 3.11, 3.12 */
	int32_t tstate_current_frame;            /* 3.13+ */
	int32_t tstate_thread_id;
	int32_t tstate_native_thread_id;         /* 3.11+ */

	/* PyFrameObject (<= 3.10) */
	int32_t frame_back;
	int32_t frame_code;
	int32_t frame_lasti;

	/* _PyInterpreterFrame (3.11+) */
	int32_t iframe_size;
	int32_t iframe_previous;
	int32_t iframe_code;                     /* f_code (3.11, 3.12), f_executable (3.13+) */
	int32_t iframe_instr;                    /* prev_instr (3.11, 3.12), instr_ptr (3.13+) */
	int32_t iframe_owner;
	int32_t iframe_is_entry;                 /* 3.11 only */

	/* PyCodeObject */
	int32_t code_size;
	int32_t code_filename;
	int32_t code_name;
	int32_t code_qualname;                   /* 3.11+ */
	int32_t code_firstlineno;
	int32_t code_linetable;                  /* co_lnotab (<= 3.9), co_linetable (3.10+) */
	int32_t code_firsttraceable;             /* 3.11+ */
	int32_t code_code_adaptive;              /* 3.11+ */

	/* PyObject / PyVarObject / PyTypeObject */
	int32_t object_type;
	int32_t varobject_size;
	int32_t type_name;

	/* str (PEP 393, 3.x) */
	int32_t unicode_length;
	int32_t unicode_state;
	int32_t unicode_ascii_size;              /* sizeof(PyASCIIObject) */
	int32_t unicode_compact_size;            /* sizeof(PyCompactUnicodeObject) */
	int32_t unicode_data;                    /* PyUnicodeObject.data (legacy strings) */

	/* bytes (3.x); str (2.7) */
	int32_t bytes_size;
	int32_t bytes_data;
};

/* Where, inside the target's _Py_DebugOffsets (3.13+), each published value
 * we use is stored: byte positions of uint64_t fields, generated from each
 * version's pycore_runtime.h / pycore_debug_offsets.h. -1 when absent. */
struct py_debug_offsets_layout {
	uint32_t version_hex;
	int32_t struct_size;                     /* sizeof(_Py_DebugOffsets) */
	int32_t free_threaded;
	int32_t runtime_interpreters_head;
	int32_t interp_next;
	int32_t interp_threads_head;
	int32_t interp_ceval_gil;                /* offset of ceval.gil (a pointer) */
	int32_t interp_gil_runtime_state;
	int32_t interp_gil_locked;
	int32_t interp_gil_holder;
	int32_t tstate_size;
	int32_t tstate_next;
	int32_t tstate_prev;
	int32_t tstate_interp;
	int32_t tstate_current_frame;
	int32_t tstate_thread_id;
	int32_t tstate_native_thread_id;
	int32_t iframe_size;
	int32_t iframe_previous;
	int32_t iframe_executable;
	int32_t iframe_instr_ptr;
	int32_t iframe_owner;
	int32_t code_size;
	int32_t code_filename;
	int32_t code_name;
	int32_t code_qualname;
	int32_t code_linetable;
	int32_t code_firstlineno;
	int32_t code_co_code_adaptive;
	int32_t pyobject_ob_type;
	int32_t type_tp_name;
	int32_t unicode_length;
	int32_t unicode_state;
	int32_t unicode_asciiobject_size;
	int32_t bytes_ob_size;
	int32_t bytes_ob_sval;
	int32_t runtime_finalizing;
	int32_t interp_gc;
	int32_t gc_collecting;
	int32_t gc_frame;                        /* 3.15+ */
};

extern const struct py_layout py_layouts[];
extern const size_t py_layouts_count;

extern const struct py_debug_offsets_layout py_debug_offsets_layouts[];
extern const size_t py_debug_offsets_layouts_count;

/* The record for MAJOR.MINOR, or NULL. */
const struct py_layout *py_layout_find(unsigned major, unsigned minor);
const struct py_debug_offsets_layout *py_debug_offsets_layout_find(unsigned major, unsigned minor);

#endif
