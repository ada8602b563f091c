/* Unit tests of the native merge (evaluation frames replaced by their
 * Python frames, plumbing and start-up hidden, partial merges) and of the C++ name
 * reader. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/native.h"
#include "unit.h"

/* The merged order as text: P<index> for Python, N<index> for native. */
static const char *order_text(const struct merged_frame *out, size_t n)
{
	static char text[256];
	size_t len = 0;
	text[0] = '\0';
	for (size_t i = 0; i < n && len + 8 < sizeof(text); i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%c%u", i ? " " : "",
		                        out[i].python ? 'P' : 'N', out[i].index);
	return text;
}

static void test_merge(void)
{
	const enum native_class O = NATIVE_OTHER, E = NATIVE_EVAL, L = NATIVE_PLUMBING;
	struct merged_frame out[32];
	bool partial;

	/* 3.10: one Python frame per evaluation call. */
	enum native_class c1[] = {O, O, E, L, E, O};
	bool e1[2] = {false, false};
	struct merge_input in = {.classes = c1, .nnative = 6, .py_entry = e1, .npy = 2, .one_per_eval = true,
	                         .mode = NATIVE_MERGED};
	size_t n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 N1 P0 P1 N5") && !partial, "one frame per call: %s",
	      order_text(out, n));
	in.mode = NATIVE_ALL;
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 N1 P0 N2 N3 P1 N4 N5"), "--native-all keeps everything: %s",
	      order_text(out, n));

	/* 3.11+: a call runs Python frames up to its entry frame. */
	enum native_class c2[] = {O, E, O, E, O};
	bool e2[5] = {false, false, true, false, true};
	in = (struct merge_input){.classes = c2, .nnative = 5, .py_entry = e2, .npy = 5, .mode = NATIVE_MERGED};
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 P0 P1 P2 N2 P3 P4 N4") && !partial, "entry frames split: %s",
	      order_text(out, n));

	/* An evaluation call missing (unwind cut short): the rest goes last. */
	enum native_class c3[] = {O, E, O};
	in.classes = c3;
	in.nnative = 3;
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 P0 P1 P2 N2 P3 P4") && partial, "partial merge: %s",
	      order_text(out, n));

	/* 3.12+ without symbols: the shim's address names the frame. */
	enum native_class c4[] = {O, O, O, O};
	uint64_t sps[] = {0x1000, 0x1100, 0x1200, 0x1300};
	bool e4[2] = {false, true};
	uint64_t shims[2] = {0, 0x1250};
	in = (struct merge_input){.classes = c4, .sps = sps, .nnative = 4, .py_entry = e4, .py_shim = shims,
	                          .npy = 2, .mode = NATIVE_MERGED};
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 N1 P0 P1 N3") && !partial, "merge by shim address: %s",
	      order_text(out, n));

	/* 3.12+: an evaluation call popping its last frame (N2, shim 0x1250)
	 * between the call running P0 (N0) and the one running P1 (N5); C
	 * frames (N1, N3, N4) between them. The empty call takes nothing. */
	enum native_class c5[] = {E, O, E, O, O, E, O};
	uint64_t sps5[] = {0x1000, 0x1100, 0x1200, 0x1300, 0x1400, 0x1500, 0x1600};
	bool e5[2] = {true, true};
	uint64_t shims5[2] = {0x1050, 0x1550}, empty5[2] = {0, 0x1250};
	in = (struct merge_input){.classes = c5, .sps = sps5, .nnative = 7, .py_entry = e5, .py_shim = shims5,
	                          .py_empty = empty5, .npy = 2, .mode = NATIVE_MERGED};
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "P0 N1 N3 N4 P1 N6") && !partial, "empty evaluation call: %s",
	      order_text(out, n));
	in.mode = NATIVE_ALL;
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "P0 N0 N1 N2 N3 N4 P1 N5 N6") && !partial, "empty call, --native-all: %s",
	      order_text(out, n));
	/* Without its shim the empty call took the next group. */
	enum native_class c6[] = {E, O, E, O, O, E, O};
	in.classes = c6;
	in.py_empty = NULL;
	in.mode = NATIVE_MERGED;
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "P0 N1 N2 N3 N4 P1 N6") && partial,
	      "an evaluation call without frames is partial: %s", order_text(out, n));
}

/* The start-up run at the root: hidden by --native when the interpreter's
 * own start-up is in it, kept by --native-all and when it is libc's and
 * main()'s alone. */
static void test_merge_startup(void)
{
	const enum native_class O = NATIVE_OTHER, E = NATIVE_EVAL, L = NATIVE_PLUMBING, S = NATIVE_START,
	                        I = NATIVE_INTERP_START;
	struct merged_frame out[32];
	bool partial;

	/* _start, __libc_start_main, main, Py_BytesMain, run_eval_code_obj,
	 * PyEval_EvalCode (plumbing), then the evaluation loop. */
	enum native_class c1[] = {O, E, L, I, I, S, S, S};
	bool e1[1] = {true};
	struct merge_input in = {.classes = c1, .nnative = 8, .py_entry = e1, .npy = 1, .mode = NATIVE_MERGED};
	size_t n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 P0") && !partial, "start-up hidden: %s", order_text(out, n));
	in.mode = NATIVE_ALL;
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 P0 N1 N2 N3 N4 N5 N6 N7"), "--native-all keeps start-up: %s",
	      order_text(out, n));

	/* Finalization: no Python frame, the start-up above it hidden all the
	 * same. */
	enum native_class c2[] = {O, O, I, S, S};
	in = (struct merge_input){.classes = c2, .nnative = 5, .mode = NATIVE_MERGED};
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 N1") && !partial, "start-up above finalization: %s",
	      order_text(out, n));

	/* A thread a C library started: libc's start alone stays. */
	enum native_class c3[] = {O, O, S, S};
	in = (struct merge_input){.classes = c3, .nnative = 4, .mode = NATIVE_MERGED};
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 N1 N2 N3"), "a foreign thread's start stays: %s", order_text(out, n));

	/* Start-up frames not at the root (an embedding program calling
	 * PyRun_* from its own code) stay. */
	enum native_class c4[] = {O, E, I, O, S};
	bool e4[1] = {true};
	in = (struct merge_input){.classes = c4, .nnative = 5, .py_entry = e4, .npy = 1, .mode = NATIVE_MERGED};
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 P0 N2 N3 N4"), "start-up under other code stays: %s",
	      order_text(out, n));

	/* A stripped interpreter: nothing named, but a complete stack whose
	 * outermost frames are the interpreter's and libc's up to the first
	 * evaluation call. */
	enum native_class c5[] = {O, E, O, O, O, O};
	bool r5[] = {false, true, true, true, true, true};
	bool e5[1] = {true};
	in = (struct merge_input){.classes = c5, .runtime = r5, .nnative = 6, .complete = true, .py_entry = e5,
	                          .npy = 1, .mode = NATIVE_MERGED};
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 P0"), "unnamed start-up hidden by place: %s", order_text(out, n));
	/* ... not when the unwind may have stopped short of the stack's end, */
	in.complete = false;
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 P0 N2 N3 N4 N5"), "an incomplete stack keeps its root: %s",
	      order_text(out, n));
	/* ... nor when other code (an extension's thread) is on the way. */
	bool r6[] = {false, true, true, false, true, true};
	in.runtime = r6;
	in.complete = true;
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 P0 N2 N3 N4 N5"), "a foreign frame keeps the root: %s",
	      order_text(out, n));
	/* ... nor without Python frames right after it (finalization). */
	enum native_class c7[] = {O, O, O};
	bool r7[] = {true, true, true};
	in = (struct merge_input){.classes = c7, .runtime = r7, .nnative = 3, .complete = true,
	                          .mode = NATIVE_MERGED};
	n = native_merge(&in, out, &partial);
	CHECK(!strcmp(order_text(out, n), "N0 N1 N2"), "no evaluation call, nothing hidden by place: %s",
	      order_text(out, n));
}

static void test_demangle(void)
{
	static const char *const cases[][2] = {
		{"_ZN5numpy4sortIiEEvPT_l", "numpy::sort<...>"},
		{"_ZN3foo3BarC2Ev", "foo::Bar::Bar"},
		{"_ZN3foo3BarD1Ev", "foo::Bar::~Bar"},
		{"_Z4mainiPPc", "main"},
		{"_ZSt4sortIPiEvT_S1_", "std::sort<...>"},
		{"_ZL6helperv", "helper"},
		{"_ZN2ns5Outer5innerEv.cold", "ns::Outer::inner.cold"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = native_demangle(cases[i][0]);
		CHECK(got && !strcmp(got, cases[i][1]), "%s -> %s (expected %s)", cases[i][0], got ? got : "NULL",
		      cases[i][1]);
		free(got);
	}
	CHECK(!native_demangle("memcpy"), "a C name is not demangled");
	CHECK(!native_demangle("_ZZ"), "garbage is refused");
}

/* Expected texts: what c++filt prints for each. */
static void test_demangle_full(void)
{
	static const char *const cases[][2] = {
		{"_ZN5numpy4sortIiEEvPT_l", "void numpy::sort<int>(int*, long)"},
		{"_ZN3foo3BarC2Ev", "foo::Bar::Bar()"},
		{"_ZN3foo3BarD1Ev", "foo::Bar::~Bar()"},
		{"_ZSt4sortIPiEvT_S1_", "void std::sort<int*>(int*, int*)"},
		{"_ZNKSs4findERKSsm",
		 "std::basic_string<char, std::char_traits<char>, std::allocator<char> >::find(std::basic_string<char, "
		 "std::char_traits<char>, std::allocator<char> > const&, unsigned long) const"},
		{"_ZN2ns5Outer5innerEv.cold", "ns::Outer::inner() [clone .cold]"},
		{"_Z1fPFivEPA3_iRA4_KcM1AFvvE", "f(int (*)(), int (*) [3], char const (&) [4], void (A::*)())"},
		{"_ZStlsISt11char_traitsIcEERSt13basic_ostreamIcT_ES5_PKc",
		 "std::basic_ostream<char, std::char_traits<char> >& std::operator<< <std::char_traits<char> >"
		 "(std::basic_ostream<char, std::char_traits<char> >&, char const*)"},
		{"_ZZ4mainENKUlvE_clEv", "main::{lambda()#1}::operator()() const"},
		{"_ZTVN10__cxxabiv117__class_type_infoE", "vtable for __cxxabiv1::__class_type_info"},
		{"_ZThn8_N1B1fEv", "non-virtual thunk to B::f()"},
		{"_ZN1A1fIJifEEEvDpOT_", "void A::f<int, float>(int&&, float&&)"},
		{"_ZN1A1gIRiEEvOT_", "void A::g<int&>(int&)"},
		{"_ZN12_GLOBAL__N_14workEv", "(anonymous namespace)::work()"},
		{"_ZL6helperv", "helper()"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = demangle_full(cases[i][0]);
		CHECK(got && !strcmp(got, cases[i][1]), "%s -> %s (expected %s)", cases[i][0], got ? got : "NULL",
		      cases[i][1]);
		free(got);
	}
	static const char *const refused[] = {"memcpy", "_Z", "_ZN", "_ZN1a", "_Z1fIT_Ev", "_ZNSt", "_Z1fS_",
	                                      "_Z1fIXadL_Z1gvEEEvv"};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char *got = demangle_full(refused[i]);
		CHECK(!got, "%s is refused, not %s", refused[i], got ? got : "");
		free(got);
	}
}

int main(void)
{
	test_merge();
	test_merge_startup();
	test_demangle();
	test_demangle_full();
	return unit_done();
}
