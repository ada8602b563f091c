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
	int32_t interp_id;                       /* 3.7+: int64_t, 0 for the main interpreter */

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
	/* tp_flags bits (values, not offsets) */
	int32_t tpflag_tuple;
	int32_t tpflag_str;                      /* str (3.x), str (2.7: bytes) */
	int32_t tpflag_base_exc;

	/* Exceptions in flight, in PyThreadState */
	int32_t tstate_curexc_type;              /* <= 3.11: the exception being raised */
	int32_t tstate_curexc_value;
	int32_t tstate_curexc_traceback;
	int32_t tstate_current_exception;        /* 3.12+ */
	int32_t tstate_exc_type;                 /* 2.7, 3.6: the one being handled */
	int32_t tstate_exc_value;
	int32_t tstate_exc_traceback;
	int32_t tstate_exc_info;                 /* 3.7+: _PyErr_StackItem *, the handled ones */
	/* _PyErr_StackItem (3.7+) */
	int32_t stackitem_exc_type;              /* 3.7 - 3.10 */
	int32_t stackitem_exc_value;
	int32_t stackitem_exc_traceback;         /* 3.7 - 3.10 */
	int32_t stackitem_previous;
	/* PyBaseExceptionObject */
	int32_t exc_args;
	int32_t exc_traceback;                   /* 3.x */
	int32_t exc_context;
	int32_t exc_cause;
	int32_t exc_suppress_context;            /* char */
	/* PyTracebackObject */
	int32_t tb_next;
	int32_t tb_frame;
	int32_t tb_lasti;                        /* int, bytes into the code */
	int32_t tb_lineno;                       /* int; 3.11+ -1 until asked */
	int32_t frameobj_iframe;                 /* 3.11+: PyFrameObject.f_frame */

	/* str (PEP 393, 3.x) */
	int32_t unicode_length;
	int32_t unicode_state;
	int32_t unicode_ascii_size;              /* sizeof(PyASCIIObject) */
	int32_t unicode_compact_size;            /* sizeof(PyCompactUnicodeObject) */
	int32_t unicode_data;                    /* PyUnicodeObject.data (legacy strings) */

	/* bytes (3.x); str (2.7) */
	int32_t bytes_size;
	int32_t bytes_data;

	/* Locals (docs/locals.md) */
	int32_t frame_localsplus;                /* <= 3.10: PyFrameObject.f_localsplus */
	int32_t iframe_localsplus;               /* 3.11+ */
	int32_t code_argcount;
	int32_t code_kwonlyargcount;             /* 3.x */
	int32_t code_flags;
	int32_t code_nlocals;                    /* <= 3.10 */
	int32_t code_varnames;                   /* <= 3.10: tuples of names */
	int32_t code_cellvars;
	int32_t code_freevars;
	int32_t code_nlocalsplus;                /* 3.11+ */
	int32_t code_localsplusnames;            /* 3.11+: a tuple */
	int32_t code_localspluskinds;            /* 3.11+: bytes, CO_FAST_* per name */
	int32_t co_varargs;                      /* flag values: CO_VARARGS, */
	int32_t co_varkeywords;                  /* CO_VARKEYWORDS, */
	int32_t co_fast_cell;                    /* CO_FAST_CELL (3.11+), */
	int32_t co_fast_free;                    /* CO_FAST_FREE (3.11+) */
	int32_t cell_ref;                        /* PyCellObject.ob_ref */

	/* Types: where their names and flags are, and the flag values */
	int32_t type_flags;
	int32_t type_dict;
	int32_t type_base;
	int32_t heaptype_name;
	int32_t heaptype_qualname;               /* 3.3+ */
	int32_t tpflag_heaptype;
	int32_t stackref_tag_bits;               /* 3.14+: Py_TAG_BITS of a _PyStackRef, */
	int32_t stackref_int_tag;                /* and Py_INT_TAG, a tagged int */

	/* Values */
	int32_t tuple_item;
	int32_t list_item;
	int32_t float_value;
	int32_t int_value;                       /* 2.7 PyIntObject.ob_ival */
	int32_t long_tag;                        /* 3.12+: lv_tag; before, the size is ob_size */
	int32_t long_digit;
	int32_t long_sign_mask;                  /* 3.12+ lv_tag: sign bits and their values */
	int32_t long_sign_zero;
	int32_t long_sign_negative;
	int32_t long_non_size_bits;
	int32_t long_shift;                      /* PyLong_SHIFT: bits per digit */
	int32_t long_digit_size;
	int32_t dict_used;
	int32_t dict_keys;                       /* 3.x: ma_keys, ma_values */
	int32_t dict_values;
	int32_t dict_mask;                       /* 2.7: ma_mask, ma_table */
	int32_t dict_table;
	int32_t dictkeys_size;                   /* 3.6 - 3.10 dk_size */
	int32_t dictkeys_log2_size;              /* 3.11+ */
	int32_t dictkeys_log2_index_bytes;       /* 3.11+ */
	int32_t dictkeys_kind;                   /* 3.11+ */
	int32_t dictkeys_nentries;
	int32_t dictkeys_indices;
	int32_t dict_kind_general;               /* 3.11+ DICT_KEYS_GENERAL */
	int32_t dictentry_size;                  /* PyDictKeyEntry (2.7: PyDictEntry) */
	int32_t dictentry_key;
	int32_t dictentry_value;
	int32_t dictunicodeentry_size;           /* 3.11+ PyDictUnicodeEntry */
	int32_t dictunicodeentry_key;
	int32_t dictunicodeentry_value;
	int32_t dictvalues_values;               /* 3.11+ PyDictValues.values */
	int32_t set_used;
	int32_t set_mask;
	int32_t set_table;
	int32_t setentry_size;
	int32_t setentry_key;
	int32_t setentry_hash;
	int32_t py2unicode_length;               /* 2.7 unicode */
	int32_t py2unicode_str;
	int32_t py2unicode_size;                 /* Py_UNICODE_SIZE */
	int32_t instance_class;                  /* 2.7 classic instances and classes */
	int32_t class_name;
	int32_t class_dict;
	int32_t exception_args;                  /* PyBaseExceptionObject.args */

	/* The threading module's registry of threads (thread_names.c) */
	int32_t interp_modules;                  /* modules (<= 3.11), imports.modules (3.12+) */
	int32_t module_dict;                     /* PyModuleObject.md_dict (DWARF before 3.10) */
	int32_t type_basicsize;
	int32_t type_dictoffset;
	int32_t heaptype_cached_keys;            /* 3.x: PyHeapTypeObject.ht_cached_keys */
	int32_t tpflag_managed_dict;             /* 3.11+: Py_TPFLAGS_MANAGED_DICT */
	int32_t obj_managed_dict;                /* 3.11+: bytes before an object of its dict pointer
	                                          * (3.12: the dict-or-values word) */
	int32_t obj_values;                      /* 3.11: bytes before an object of its values pointer */
	int32_t tpflag_inline_values;            /* 3.13+: Py_TPFLAGS_INLINE_VALUES */
	int32_t dictvalues_valid;                /* 3.13+: PyDictValues.valid */
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
	int32_t interp_id;
	int32_t gc_collecting;
	int32_t gc_frame;                        /* 3.15+ */
	int32_t iframe_localsplus;
	int32_t code_argcount;
	int32_t code_localsplusnames;
	int32_t code_localspluskinds;
	int32_t type_tp_flags;
	int32_t tuple_ob_item;
	int32_t list_ob_item;
	int32_t dict_ma_keys;
	int32_t dict_ma_values;
	int32_t float_ob_fval;
	int32_t long_lv_tag;
	int32_t long_ob_digit;
	int32_t set_used;                        /* 3.14+ */
	int32_t set_table;
	int32_t set_mask;
	int32_t interp_imports_modules;
};

extern const struct py_layout py_layouts[];
extern const size_t py_layouts_count;

extern const struct py_debug_offsets_layout py_debug_offsets_layouts[];
extern const size_t py_debug_offsets_layouts_count;

/* The record for MAJOR.MINOR, or NULL. */
const struct py_layout *py_layout_find(unsigned major, unsigned minor);
const struct py_debug_offsets_layout *py_debug_offsets_layout_find(unsigned major, unsigned minor);

#endif
