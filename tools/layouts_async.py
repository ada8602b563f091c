# Part of tools/gen-layouts: the layouts the asyncio task walk reads
# (src/python/async_layouts_gen.c). Most of them are structures that no
# installed header declares (Modules/_asynciomodule.c's TaskObj and FutureObj,
# Objects/genobject.c's async generator helpers, 3.7 - 3.10's dict keys), so
# every structure is measured in the DWARF of the interpreter as it was built
# (pyenv's libpython and _asyncio modules, Debian's detached debug files from
# python3.X-dbg), with gdb; constants that DWARF does not keep (opcodes, enum
# values, flag bits, the managed-dict slot) come from a probe compiled against
# the same version's headers, and the one fact neither holds (how deep in a
# suspended frame's value stack the awaited object sits, 3.11+) is measured by
# running that interpreter on a coroutine of its own. Nothing is typed by hand.
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(REPO, "src", "python", "async_layouts_gen.c")
LAYOUT_H = os.path.join(REPO, "src", "python", "async_layout.h")
FIRST = (3, 7)  # asyncio tasks are read from 3.7 on


class Failure(Exception):
    pass


# key: (type, members tried in order; None for sizeof). A type or member a
# version lacks gives -1; the types marked required must exist in every
# version (a missing one means the DWARF was not found).
STRUCTS = [
    ("future_size", "FutureObj", None),
    ("future_loop", "FutureObj", ["fut_loop"]),
    ("future_callback0", "FutureObj", ["fut_callback0"]),
    ("future_callbacks", "FutureObj", ["fut_callbacks"]),
    ("future_state", "FutureObj", ["fut_state"]),
    ("future_dict", "FutureObj", ["dict"]),
    ("future_awaited_by", "FutureObj", ["fut_awaited_by"]),
    ("future_awaited_by_is_set", "FutureObj", ["fut_awaited_by_is_set"]),
    ("task_size", "TaskObj", None),
    ("task_state", "TaskObj", ["task_state"]),
    ("task_fut_waiter", "TaskObj", ["task_fut_waiter"]),
    ("task_coro", "TaskObj", ["task_coro"]),
    ("task_name", "TaskObj", ["task_name"]),
    ("task_node", "TaskObj", ["task_node"]),
    ("wakeup_task", "TaskWakeupMethWrapper", ["ww_task"]),
    ("futureiter_future", "futureiterobject", ["future"]),
    ("gen_frame", "PyGenObject", ["gi_frame"]),
    ("gen_iframe", "PyGenObject", ["gi_iframe"]),
    ("gen_frame_state", "PyGenObject", ["gi_frame_state"]),
    ("coro_frame", "PyCoroObject", ["cr_frame"]),
    ("coro_iframe", "PyCoroObject", ["cr_iframe"]),
    ("asyncgen_frame", "PyAsyncGenObject", ["ag_frame"]),
    ("asyncgen_iframe", "PyAsyncGenObject", ["ag_iframe"]),
    ("asend_gen", "PyAsyncGenASend", ["ags_gen"]),
    ("athrow_gen", "PyAsyncGenAThrow", ["agt_gen"]),
    ("corowrapper_coro", "PyCoroWrapper", ["cw_coroutine"]),
    ("frame_stacktop", "PyFrameObject", ["f_stacktop"]),
    ("frame_valuestack", "PyFrameObject", ["f_valuestack"]),
    ("frame_stackdepth", "PyFrameObject", ["f_stackdepth"]),
    ("frame_localsplus", "PyFrameObject", ["f_localsplus"]),
    ("code_code", "PyCodeObject", ["co_code"]),
    ("iframe_stacktop", "struct _PyInterpreterFrame", ["stacktop"]),
    ("iframe_stackpointer", "struct _PyInterpreterFrame", ["stackpointer"]),
    ("iframe_localsplus", "struct _PyInterpreterFrame", ["localsplus"]),
    ("type_base", "PyTypeObject", ["tp_base"]),
    ("type_basicsize", "PyTypeObject", ["tp_basicsize"]),
    ("type_dictoffset", "PyTypeObject", ["tp_dictoffset"]),
    ("type_dict", "PyTypeObject", ["tp_dict"]),
    ("type_flags", "PyTypeObject", ["tp_flags"]),
    ("heaptype_cached_keys", "PyHeapTypeObject", ["ht_cached_keys"]),
    ("dict_keys", "PyDictObject", ["ma_keys"]),
    ("dict_values", "PyDictObject", ["ma_values"]),
    ("dictkeys_size", "struct _dictkeysobject", ["dk_size"]),
    ("dictkeys_log2_size", "struct _dictkeysobject", ["dk_log2_size"]),
    ("dictkeys_log2_index_bytes", "struct _dictkeysobject", ["dk_log2_index_bytes"]),
    ("dictkeys_kind", "struct _dictkeysobject", ["dk_kind"]),
    ("dictkeys_nentries", "struct _dictkeysobject", ["dk_nentries"]),
    ("dictkeys_indices", "struct _dictkeysobject", ["dk_indices"]),
    ("dictentry_size", "PyDictKeyEntry", None),
    ("dictentry_key", "PyDictKeyEntry", ["me_key"]),
    ("dictentry_value", "PyDictKeyEntry", ["me_value"]),
    ("dictuentry_size", "PyDictUnicodeEntry", None),
    ("dictuentry_key", "PyDictUnicodeEntry", ["me_key"]),
    ("dictuentry_value", "PyDictUnicodeEntry", ["me_value"]),
    ("dictvalues_values", "struct _dictvalues", ["values"]),
    ("dictvalues_capacity", "struct _dictvalues", ["capacity"]),
    ("dictvalues_valid", "struct _dictvalues", ["valid"]),
    ("set_mask", "PySetObject", ["mask"]),
    ("set_table", "PySetObject", ["table"]),
    ("setentry_size", "setentry", None),
    ("setentry_key", "setentry", ["key"]),
    ("weakref_object", "PyWeakReference", ["wr_object"]),
    ("list_size", "PyListObject", ["ob_base.ob_size"]),
    ("list_items", "PyListObject", ["ob_item"]),
    ("tuple_size", "PyTupleObject", ["ob_base.ob_size"]),
    ("tuple_items", "PyTupleObject", ["ob_item"]),
    ("function_closure", "PyFunctionObject", ["func_closure"]),
    ("cell_ref", "PyCellObject", ["ob_ref"]),
    ("method_func", "PyMethodObject", ["im_func"]),
    ("method_self", "PyMethodObject", ["im_self"]),
    ("cfunction_self", "PyCFunctionObject", ["m_self"]),
    ("module_dict", "PyModuleObject", ["md_dict"]),
    ("long_size", "PyLongObject", ["ob_base.ob_size", "long_value.lv_tag"]),
    ("long_digits", "PyLongObject", ["ob_digit", "long_value.ob_digit"]),
    ("interp_modules", "PyInterpreterState", ["modules", "imports.modules"]),
    ("interp_tasks_head", "PyInterpreterState", ["asyncio_tasks_head"]),
    ("tstate_running_loop", "_PyThreadStateImpl", ["asyncio_running_loop"]),
    ("tstate_running_task", "_PyThreadStateImpl", ["asyncio_running_task"]),
    ("tstate_tasks_head", "_PyThreadStateImpl", ["asyncio_tasks_head"]),
    ("llist_next", "struct llist_node", ["next"]),
    # 3.14+: where the _asyncio module's published offsets keep each value.
    ("dbg.struct_size", "struct _Py_AsyncioModuleDebugOffsets", None),
    ("dbg.task_size", "struct _Py_AsyncioModuleDebugOffsets", ["asyncio_task_object.size"]),
    ("dbg.task_name", "struct _Py_AsyncioModuleDebugOffsets", ["asyncio_task_object.task_name"]),
    ("dbg.task_awaited_by", "struct _Py_AsyncioModuleDebugOffsets", ["asyncio_task_object.task_awaited_by"]),
    ("dbg.task_is_task", "struct _Py_AsyncioModuleDebugOffsets", ["asyncio_task_object.task_is_task"]),
    ("dbg.task_awaited_by_is_set", "struct _Py_AsyncioModuleDebugOffsets",
     ["asyncio_task_object.task_awaited_by_is_set"]),
    ("dbg.task_coro", "struct _Py_AsyncioModuleDebugOffsets", ["asyncio_task_object.task_coro"]),
    ("dbg.task_node", "struct _Py_AsyncioModuleDebugOffsets", ["asyncio_task_object.task_node"]),
    ("dbg.interp_tasks_head", "struct _Py_AsyncioModuleDebugOffsets",
     ["asyncio_interpreter_state.asyncio_tasks_head"]),
    ("dbg.tstate_running_loop", "struct _Py_AsyncioModuleDebugOffsets",
     ["asyncio_thread_state.asyncio_running_loop"]),
    ("dbg.tstate_running_task", "struct _Py_AsyncioModuleDebugOffsets",
     ["asyncio_thread_state.asyncio_running_task"]),
    ("dbg.tstate_tasks_head", "struct _Py_AsyncioModuleDebugOffsets",
     ["asyncio_thread_state.asyncio_tasks_head"]),
]
ENUMS = [
    ("state_pending", "STATE_PENDING"),
    ("state_cancelled", "STATE_CANCELLED"),
    ("state_finished", "STATE_FINISHED"),
]
REQUIRED = {"FutureObj", "TaskObj", "PyGenObject", "PyCoroObject", "PyAsyncGenObject", "PyAsyncGenASend",
            "PyTypeObject", "PyDictObject", "struct _dictkeysobject", "PySetObject", "PyWeakReference",
            "PyFunctionObject", "PyCellObject", "PyMethodObject", "PyModuleObject", "PyLongObject",
            "PyInterpreterState"}

# Runs inside gdb on one ELF file: prints one JSON object, {key: value} for
# what that file's DWARF has.
GDB_SCRIPT = r"""
import gdb, json, os
spec = json.load(open(os.environ["LAYOUT_SPEC"]))
out = {}
def lookup(name):
    try:
        return gdb.parse_and_eval("(%s *)0" % name).type.target().strip_typedefs()
    except gdb.error:
        return None
def member(t, path):
    offset = 0
    for part in path.split("."):
        if t.code not in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
            return None
        for f in t.fields():
            if f.name == part:
                offset += f.bitpos // 8
                t = f.type.strip_typedefs()
                break
        else:
            return None
    return offset
for key, type_name, members in spec["structs"]:
    t = lookup(type_name)
    if t is None or t.sizeof == 0:
        continue
    out.setdefault("types", []).append(type_name)
    if members is None:
        out[key] = t.sizeof
        continue
    for path in members:
        value = member(t, path)
        if value is not None:
            out[key] = value
            break
for key, name in spec["enums"]:
    try:
        out[key] = int(gdb.parse_and_eval("(long)%s" % name))
    except gdb.error:
        pass
print("LAYOUT-JSON " + json.dumps(out))
"""

# Constants from the headers. Constants a version lacks print PY_ABSENT
# (INT32_MIN): -1 is a value some of them have.
PROBE = r"""
#include "patchlevel.h"
#define PYV (PY_MAJOR_VERSION * 100 + PY_MINOR_VERSION)
#include "Python.h"
#include "opcode.h"
#if PYV >= 311
#  include "pycore_frame.h"
#  include "pycore_object.h"
#  include "pycore_dict.h"
#endif
#if PYV >= 312
#  include "pycore_long.h"
#endif
#if PYV >= 314
#  include "pycore_stackref.h"
#endif
#include <stddef.h>
#include <stdio.h>

#define OUT(name, value) printf("%s %ld\n", #name, (long)(value))
#define NONE(name) printf("%s PY_ABSENT\n", #name)

int main(void)
{
	static PyTypeObject fake_type;
	static PyObject *slots[16];
	PyObject *fake = (PyObject *)&slots[8];
	fake_type.tp_flags = Py_TPFLAGS_HEAPTYPE;
	fake->ob_type = &fake_type;

	printf("version_hex %lu\n", (unsigned long)PY_VERSION_HEX);
#if PYV <= 310
	OUT(op_yield_from, YIELD_FROM);
	NONE(op_resume);
#else
	NONE(op_yield_from);
	OUT(op_resume, RESUME);
#endif
#if PYV == 311
	OUT(op_resume_quick, RESUME_QUICK);
#else
	NONE(op_resume_quick);
#endif
#if PYV >= 312
	OUT(op_instrumented_resume, INSTRUMENTED_RESUME);
#else
	NONE(op_instrumented_resume);
#endif
#if PYV >= 311
	OUT(frame_state_created, FRAME_CREATED);
	OUT(frame_state_suspended, FRAME_SUSPENDED);
	OUT(frame_state_executing, FRAME_EXECUTING);
	OUT(frame_state_cleared, FRAME_CLEARED);
	OUT(dict_kind_general, DICT_KEYS_GENERAL);
	OUT(dict_kind_unicode, DICT_KEYS_UNICODE);
	OUT(tpflags_managed_dict, Py_TPFLAGS_MANAGED_DICT);
	fake_type.tp_flags |= Py_TPFLAGS_MANAGED_DICT;
#else
	NONE(frame_state_created);
	NONE(frame_state_suspended);
	NONE(frame_state_executing);
	NONE(frame_state_cleared);
	NONE(dict_kind_general);
	NONE(dict_kind_unicode);
	NONE(tpflags_managed_dict);
#endif
#if PYV >= 315
	OUT(frame_state_suspended_yield_from_locked, FRAME_SUSPENDED_YIELD_FROM_LOCKED);
#else
	NONE(frame_state_suspended_yield_from_locked);
#endif
#if PYV >= 313
	OUT(frame_state_suspended_yield_from, FRAME_SUSPENDED_YIELD_FROM);
	OUT(tpflags_inline_values, Py_TPFLAGS_INLINE_VALUES);
#else
	NONE(frame_state_suspended_yield_from);
	NONE(tpflags_inline_values);
#endif
	/* Where a managed __dict__ (3.11+) is kept, as the interpreter's own
	 * accessors compute it for an object at FAKE. */
#if PYV == 311
	OUT(managed_dict_offset, (char *)_PyObject_ManagedDictPointer(fake) - (char *)fake);
	OUT(managed_values_offset, (char *)_PyObject_ValuesPointer(fake) - (char *)fake);
#elif PYV == 312
	OUT(managed_dict_offset, (char *)_PyObject_DictOrValuesPointer(fake) - (char *)fake);
	NONE(managed_values_offset);
#elif PYV >= 313
	OUT(managed_dict_offset, (char *)_PyObject_ManagedDictPointer(fake) - (char *)fake);
	NONE(managed_values_offset);
#else
	NONE(managed_dict_offset);
	NONE(managed_values_offset);
#endif
	OUT(tpflags_heaptype, Py_TPFLAGS_HEAPTYPE);
#if PYV >= 314
	OUT(stackref_tag_bits, Py_TAG_BITS);
#else
	OUT(stackref_tag_bits, 0);
#endif
	OUT(long_shift, PyLong_SHIFT);
#if PYV >= 312
	OUT(long_non_size_bits, NON_SIZE_BITS);
#else
	NONE(long_non_size_bits);
#endif
	return 0;
}
"""


def struct_fields(name):
    """Field names of struct NAME in async_layout.h, in declaration order."""
    with open(LAYOUT_H) as f:
        text = f.read()
    body = re.search(r"struct %s \{(.*?)\n\};" % name, text, re.S)
    if not body:
        raise Failure("no struct %s in %s" % (name, LAYOUT_H))
    text = re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S)
    return re.findall(r"^\s*u?int\d+_t\s+(\w+)\s*;", text, re.M)


def build_id(path):
    """The GNU build-id of the ELF file PATH as hex, or None."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3a)
    for i in range(shnum):
        sh_type, = struct.unpack_from("<I", data, shoff + i * shentsize + 4)
        if sh_type != 7:  # SHT_NOTE
            continue
        offset, size = struct.unpack_from("<QQ", data, shoff + i * shentsize + 24)
        at = offset
        while at + 12 <= offset + size:
            namesz, descsz, note_type = struct.unpack_from("<III", data, at)
            name = data[at + 12:at + 12 + namesz].rstrip(b"\0")
            desc = at + 12 + (namesz + 3) // 4 * 4
            if name == b"GNU" and note_type == 3:
                return data[desc:desc + descsz].hex()
            at = desc + (descsz + 3) // 4 * 4
    return None


def dwarf_files(name, incs):
    """The files whose DWARF describes the version of headers INCS: the
    libpython or static interpreter, and the _asyncio module when separate."""
    hexless = os.path.basename(incs[0])  # python3.X
    if name.startswith("pyenv"):
        prefix = os.path.dirname(os.path.dirname(incs[0]))
        libs = [p for p in glob.glob(os.path.join(prefix, "lib", "libpython3.*.so*"))
                if not os.path.islink(p)]
        mods = glob.glob(os.path.join(prefix, "lib", "python3.*", "lib-dynload", "_asyncio*.so"))
        files = sorted(libs) + sorted(mods)
        if not libs:
            raise Failure("%s: no libpython under %s/lib to read the asyncio layouts from" % (name, prefix))
        return files
    # Debian: the detached debug files of the interpreter and its modules.
    root = os.path.dirname(os.path.dirname(os.path.dirname(incs[0])))
    debug = os.path.join(root, "usr", "lib", "debug", ".build-id")
    if not os.path.isdir(debug):
        raise Failure("%s: no debug files in %s (tools/debian-python.sh path --dbg)" % (name, debug))
    binaries = [os.path.join(root, "usr", "bin", hexless + ".orig")]
    binaries += glob.glob(os.path.join(root, "usr", "lib", hexless, "lib-dynload", "_asyncio*.so"))
    files = []
    for binary in binaries:
        if not os.path.exists(binary):
            continue
        ident = build_id(binary)
        path = ident and os.path.join(debug, ident[:2], ident[2:] + ".debug")
        if not path or not os.path.exists(path):
            raise Failure("%s: no debug file for %s (build-id %s) in %s" % (name, binary, ident, debug))
        files.append(path)
    return files


def measure_dwarf(name, files, workdir):
    gdb = shutil.which("gdb")
    if not gdb:
        raise Failure("%s: gdb is needed to read the asyncio layouts from DWARF" % name)
    spec_path = os.path.join(workdir, "async-spec.json")
    script_path = os.path.join(workdir, "async-measure.py")
    with open(spec_path, "w") as f:
        json.dump({"structs": STRUCTS, "enums": ENUMS}, f)
    with open(script_path, "w") as f:
        f.write(GDB_SCRIPT)
    values, found_types = {}, set()
    env = dict(os.environ, LAYOUT_SPEC=spec_path)
    for path in files:
        proc = subprocess.run([gdb, "-nx", "-batch", "-x", script_path, path], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, env=env)
        m = re.search(r"^LAYOUT-JSON (.*)$", proc.stdout, re.M)
        if not m:
            raise Failure("%s: gdb could not measure %s:\n%s" % (name, path, proc.stdout[-2000:]))
        found = json.loads(m.group(1))
        found_types.update(found.pop("types", []))
        for key, value in found.items():
            values.setdefault(key, value)  # the first file that has it
    missing = REQUIRED - found_types
    if missing:
        raise Failure("%s: no DWARF for %s in %s" % (name, ", ".join(sorted(missing)), " ".join(files)))
    for key, _, _ in STRUCTS:
        values.setdefault(key, -1)
    for key, _ in ENUMS:
        values.setdefault(key, -1)
    # The three generator kinds share one head; the walk relies on it.
    for kind in ("coro", "asyncgen"):
        for part in ("frame", "iframe"):
            if values["%s_%s" % (kind, part)] != values["gen_" + part]:
                raise Failure("%s: %s_%s is not at gen_%s's offset" % (name, kind, part, part))
    return values


def measure_constants(name, incs, workdir):
    src = os.path.join(workdir, "async-probe.c")
    exe = os.path.join(workdir, "async-probe")
    with open(src, "w") as f:
        f.write(PROBE)
    cc = os.environ.get("CC", "gcc")
    cmd = [cc, "-std=gnu11", "-O0", "-w", "-DPy_BUILD_CORE"] + ["-I" + d for d in incs] + [src, "-o", exe]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if proc.returncode != 0:
        raise Failure("asyncio probe does not compile against %s headers (%s):\n%s"
                      % (name, incs[0], proc.stdout[-3000:]))
    out = subprocess.run([exe], stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


# Run by the measured interpreter: a coroutine suspended in `await inner()`,
# and the slot below its frame's stack pointer (or top) that holds inner, as
# CPython's own cr_await finds it. Prints the depth (1 = the top slot).
DEPTH_SCRIPT = r"""
import ctypes, sys
iframe, stackpointer, stacktop, localsplus, tag_bits = [int(a) for a in sys.argv[1:6]]

class Parked(object):
    def __await__(self):
        yield

async def inner():
    await Parked()

async def outer():
    await inner()

coro = outer()
coro.send(None)
assert coro.cr_await is not None
frame = id(coro) + iframe
u64 = lambda address: ctypes.c_uint64.from_address(address).value
if stackpointer >= 0:
    slot = lambda depth: u64(frame + stackpointer) - 8 * depth
else:
    top = ctypes.c_int32.from_address(frame + stacktop).value
    slot = lambda depth: frame + localsplus + 8 * (top - depth)
for depth in range(1, 8):
    if u64(slot(depth)) & ~tag_bits == id(coro.cr_await):
        print(depth)
        break
coro.close()
"""


def interpreter_of(name, incs):
    if name.startswith("pyenv"):
        return os.path.join(os.path.dirname(os.path.dirname(incs[0])), "bin", "python3")
    root = os.path.dirname(os.path.dirname(os.path.dirname(incs[0])))
    return os.path.join(root, "usr", "bin", os.path.basename(incs[0]))


def measure_depth(name, incs, values, workdir):
    """3.11+: how deep the awaited object is in a suspended frame's stack."""
    if int(values["gen_iframe"]) < 0:
        return "PY_ABSENT"
    script = os.path.join(workdir, "async-depth.py")
    with open(script, "w") as f:
        f.write(DEPTH_SCRIPT)
    args = [values[k] for k in ("gen_iframe", "iframe_stackpointer", "iframe_stacktop", "iframe_localsplus",
                                "stackref_tag_bits")]
    proc = subprocess.run([interpreter_of(name, incs), "-I", script] + [str(a) for a in args],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    depth = proc.stdout.strip()
    if proc.returncode != 0 or not depth.isdigit():
        raise Failure("%s: cannot measure where a suspended frame keeps what it awaits:\n%s"
                      % (name, proc.stdout[-2000:]))
    return depth


def measure(name, incs, version_hex, workdir):
    """The asyncio values of one version, or None before 3.7."""
    if (version_hex >> 24, (version_hex >> 16) & 0xff) < FIRST:
        return None
    values = measure_dwarf(name, dwarf_files(name, incs), workdir)
    constants = measure_constants(name, incs, workdir)
    if int(constants.pop("version_hex")) != version_hex:
        raise Failure("%s: the asyncio probe saw another version's headers" % name)
    values.update(constants)
    values["yield_from_depth"] = measure_depth(name, incs, values, workdir)
    return values


def render(measured):
    """MEASURED: (version text, source, version_hex, values) per version."""
    fields = struct_fields("py_async_layout")
    dbg_fields = struct_fields("py_asyncio_debug_layout")
    versions = ", ".join(v[0] for v in measured)
    header = textwrap.wrap("Generated by tools/gen-layouts; do not edit. Structures measured in the "
                           "DWARF of CPython %s as built (with gdb), constants with their headers." % versions,
                           74)
    lines = ["/* " + header[0]] + [" * " + line for line in header[1:]] + [
        " * Offsets are bytes, -1 where a version has no such field. */",
        '#include "python/async_layout.h"',
        "",
        "const struct py_async_layout py_async_layouts[] = {",
    ]

    def initializer(version, source, hexv, values, names, prefix):
        out = ["\t{ /* %s, %s */" % (version, source), "\t\t.version_hex = 0x%08x," % hexv]
        for field in names:
            if field == "version_hex":
                continue
            if prefix + field not in values:
                raise Failure("nothing measures %s%s for %s" % (prefix, field, version))
            out.append("\t\t.%s = %s," % (field, values[prefix + field]))
        out.append("\t},")
        return out

    known = set(fields) | {"dbg." + f for f in dbg_fields}
    for version, source, hexv, values in measured:
        unknown = set(values) - known
        if unknown:
            raise Failure("async_layout.h has no field for %s" % ", ".join(sorted(unknown)))
        lines += initializer(version, source, hexv, values, fields, "")
    lines += [
        "};",
        "const size_t py_async_layouts_count = sizeof(py_async_layouts) / sizeof(py_async_layouts[0]);",
        "",
        "const struct py_asyncio_debug_layout py_asyncio_debug_layouts[] = {",
    ]
    for version, source, hexv, values in measured:
        if int(values.get("dbg.struct_size", -1)) > 0:
            lines += initializer(version, source, hexv, values, dbg_fields, "dbg.")
    lines += [
        "};",
        "const size_t py_asyncio_debug_layouts_count =",
        "\tsizeof(py_asyncio_debug_layouts) / sizeof(py_asyncio_debug_layouts[0]);",
    ]
    return "\n".join(lines) + "\n"
