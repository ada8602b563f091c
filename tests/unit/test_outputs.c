/* Unit tests of the profile writers: the protobuf encoder's wire bytes,
 * folded stacks read and written back, the kinds the folded reader
 * recognises, inversion, and JSON read back into the same aggregate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/protobuf.h"
#include "formats/svg_colour.h"
#include "pycoreprof/formats.h"
#include "unit.h"

static const char known[] = "<module> (app.py:1);main (app.py:5);<lambda> (app.py:7) 3\n"
                            "<module> (app.py:1);main (app.py:5);qsort (libc.so.6) 2\n"
                            "thread 7 \"w\";run (app.py:9) 4\n"
                            "perl;[unknown] 1\n";

static void test_protobuf(void)
{
	struct strbuf sb = {0}, scratch = {0};
	pb_varint(&sb, 300);
	CHECK(sb.len == 2 && (unsigned char)sb.buf[0] == 0xAC && sb.buf[1] == 0x02, "varint 300 is AC 02");
	strbuf_reset(&sb);
	pb_uint(&sb, 1, 0);
	CHECK(sb.len == 0, "a zero scalar is left out");
	pb_uint(&sb, 12, 10000000);
	CHECK(sb.len == 5 && sb.buf[0] == 12 << 3, "field 12 varint key");
	strbuf_reset(&sb);
	uint64_t values[] = {1, 150};
	pb_packed(&sb, 1, values, 2, &scratch);
	CHECK(sb.len == 5 && sb.buf[0] == (1 << 3 | 2) && sb.buf[1] == 3, "packed: key, length 3, payload");
	strbuf_reset(&sb);
	pb_bytes(&sb, 6, "cpu", 3);
	CHECK(sb.len == 5 && !memcmp(sb.buf, "\x32\x03" "cpu", 5), "string field");
	strbuf_release(&sb);
	strbuf_release(&scratch);
}

static const struct agg_frame *frame_named(const struct aggregate *agg, const char *name)
{
	for (size_t i = 0; i < agg->nframes; i++)
		if (!strcmp(agg->frames[i].name, name))
			return &agg->frames[i];
	return NULL;
}

static void test_folded_round_trip(void)
{
	struct aggregate agg, back;
	struct strbuf folded = {0}, json = {0}, again = {0};
	agg_init(&agg);
	agg_init(&back);
	CHECK(profile_read_folded(&agg, known, strlen(known), "known") == 0, "folded read");
	CHECK(agg.samples == 10, "10 samples, got %llu", (unsigned long long)agg.samples);
	const struct agg_frame *f = frame_named(&agg, "qsort");
	CHECK(f && f->kind == AGG_NATIVE && !strcmp(f->file, "libc.so.6"), "qsort (libc.so.6) is native");
	f = frame_named(&agg, "thread 7 \"w\"");
	CHECK(f && f->kind == AGG_THREAD, "a thread label is a thread root");
	f = frame_named(&agg, "[unknown]");
	CHECK(f && f->kind == AGG_ERROR, "[unknown] is a marker");
	f = frame_named(&agg, "<lambda>");
	CHECK(f && f->line == 7 && !strcmp(f->file, "app.py"), "<lambda> (app.py:7) split");
	CHECK(profile_write_folded(&folded, &agg, NULL) == 0, "folded write");
	CHECK(profile_write_json(&json, &agg, NULL) == 0, "json write");
	CHECK(profile_read_json(&back, json.buf, json.len, "json") == 0, "json read: %s", err_context());
	CHECK(profile_write_folded(&again, &back, NULL) == 0 && !strcmp(again.buf, folded.buf),
	      "json read back gives the same folded stacks");
	strbuf_release(&folded);
	strbuf_release(&json);
	strbuf_release(&again);
	agg_release(&agg);
	agg_release(&back);
}

/* Frames whose names hold every byte that could break a format: each
 * folded line stays one stack, and folded and JSON read back the very
 * frames written. */
static const struct {
	const char *name, *file;
	int line;
} odd[] = {
	{"process 7 \"bash -c 'a\nb'\"", NULL, -1},
	{"thread 8 \"t;\tx\"", NULL, -1},
	{"#semi;colon\n", "dir (x)/f;\x01.py", 3},
	{"bad \xff\xc3 utf8 \x7f", "\xed\xa0\x80.py", 4},
	{"back\\x41slash\\", "a:b.py", 5},
	{"native (x)", "lib:12", -1},
	{"no file ends (x)", NULL, -1},
	{"caf\xc3\xa9 \xf0\x9f\x90\x8d", "\xe2\x82\xac.py", 6},
};

static void test_odd_names(void)
{
	struct aggregate agg, back, json_back;
	struct strbuf folded = {0}, json = {0}, again = {0}, svg = {0};
	uint32_t ids[sizeof(odd) / sizeof(odd[0])];
	size_t n = sizeof(odd) / sizeof(odd[0]);
	agg_init(&agg);
	agg_init(&back);
	agg_init(&json_back);
	for (size_t i = 0; i < n; i++)
		agg_frame(&agg, i == 0 ? AGG_PROCESS : i == 1 ? AGG_THREAD : AGG_PYTHON, odd[i].name, odd[i].file,
		          odd[i].line, &ids[i]);
	/* The '#' frame first in one stack, deeper in another. */
	agg_add(&agg, ids, n, 2);
	agg_add(&agg, ids + 2, 3, 5);
	CHECK(profile_write_folded(&folded, &agg, NULL) == 0, "odd names: folded write");
	size_t lines = 0;
	for (size_t i = 0; i < folded.len; i++)
		lines += folded.buf[i] == '\n';
	CHECK(lines == 2, "odd names: one line per stack, got %zu", lines);
	CHECK(!strchr(folded.buf, '\t') && !strchr(folded.buf, '\x01') && !strstr(folded.buf, "\xff"),
	      "odd names: no control bytes or invalid UTF-8 in folded");
	CHECK(profile_read_folded(&back, folded.buf, folded.len, "folded") == 0, "odd names: folded read");
	CHECK(profile_write_json(&json, &agg, NULL) == 0, "odd names: json write");
	CHECK(profile_read_json(&json_back, json.buf, json.len, "json") == 0, "odd names: json read");
	for (size_t i = 0; i < n; i++) {
		const struct agg_frame *f = frame_named(&back, odd[i].name);
		CHECK(f && (f->file ? odd[i].file && !strcmp(f->file, odd[i].file) : !odd[i].file) && f->line == odd[i].line,
		      "odd names: folded reads back frame %zu", i);
		f = frame_named(&json_back, odd[i].name);
		CHECK(f && (f->file ? odd[i].file && !strcmp(f->file, odd[i].file) : !odd[i].file) && f->line == odd[i].line,
		      "odd names: json reads back frame %zu", i);
	}
	CHECK(profile_write_folded(&again, &json_back, NULL) == 0 && !strcmp(again.buf, folded.buf),
	      "odd names: folded -> json -> folded is the same text");
	CHECK(strstr(json.buf, "\\udcff\\udcc3") != NULL, "odd names: invalid UTF-8 as \\udcXX in JSON");
	CHECK(profile_write_svg(&svg, &agg, NULL) == 0 && !strstr(svg.buf, "\x01") && !strstr(svg.buf, "\xff")
	          && strstr(svg.buf, "caf\xc3\xa9"),
	      "odd names: SVG without control bytes or invalid UTF-8, valid UTF-8 kept");
	strbuf_release(&folded);
	strbuf_release(&json);
	strbuf_release(&again);
	strbuf_release(&svg);
	agg_release(&agg);
	agg_release(&back);
	agg_release(&json_back);
}

static void test_invert(void)
{
	struct aggregate agg, inverted;
	struct strbuf folded = {0};
	const char text[] = "a;b;c 2\na;d;c 3\n";
	agg_init(&agg);
	profile_read_folded(&agg, text, strlen(text), "text");
	CHECK(agg_invert(&agg, &inverted) == 0, "invert");
	profile_write_folded(&folded, &inverted, NULL);
	CHECK(!strcmp(folded.buf, "c;b;a 2\nc;d;a 3\n"), "inverted stacks");
	CHECK(inverted.nodes[inverted.nodes[0].first_child].total == 5, "c at the root with all samples");
	strbuf_release(&folded);
	agg_release(&agg);
	agg_release(&inverted);
}

/* Per-function totals: own where stacks end, total once per sample even
 * through recursion, thread roots apart. */
static void test_functions(void)
{
	struct aggregate agg;
	struct agg_functions t = {0};
	const char text[] = "thread 1;main (a.py:1);f (a.py:5);f (a.py:6);g (a.py:9) 4\n"
	                    "thread 1;main (a.py:1);f (a.py:5) 3\n"
	                    "thread 2;main (a.py:1);g (a.py:9) 2\n"
	                    "thread 2;main (a.py:2) 1\n";
	agg_init(&agg);
	profile_read_folded(&agg, text, strlen(text), "text");
	CHECK(agg_functions_compute(&agg, &t) == 0, "functions computed");
	uint64_t own[3] = {0}, total[3] = {0};
	static const char *const names[] = {"main", "f", "g"};
	for (size_t i = 0; i < t.n; i++)
		for (int k = 0; k < 3; k++)
			if (!strcmp(agg.frames[t.items[i].frame].name, names[k])) {
				own[k] += t.items[i].own;
				total[k] += t.items[i].total;
			}
	CHECK(t.n == 3, "three functions (main's two lines are one), got %zu", t.n);
	CHECK(own[0] == 1 && total[0] == 10, "main: own 1, total 10 (got %llu, %llu)", (unsigned long long)own[0],
	      (unsigned long long)total[0]);
	CHECK(own[1] == 3 && total[1] == 7, "f: own 3, total 7 though recursive (got %llu, %llu)",
	      (unsigned long long)own[1], (unsigned long long)total[1]);
	CHECK(own[2] == 6 && total[2] == 6, "g: own 6, total 6 (got %llu, %llu)", (unsigned long long)own[2],
	      (unsigned long long)total[2]);
	CHECK(t.nthreads == 2 && t.threads[0].total + t.threads[1].total == 10, "two thread roots holding every sample");
	CHECK(agg_functions_compute(&agg, &t) == 0 && t.n == 3, "computed again, the same functions");
	agg_functions_release(&t);
	agg_release(&agg);
}

static void test_bad_json(void)
{
	struct aggregate agg;
	const char *bad[] = {"{", "{\"frames\": [{\"name\": 1}]}", "{\"frames\": [], \"stacks\": [{\"frames\": [3]}]}",
	                     "{\"stacks\": []}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		agg_init(&agg);
		CHECK(profile_read_json(&agg, bad[i], strlen(bad[i]), "bad") == -ERR_CORRUPT, "rejects %s", bad[i]);
		agg_release(&agg);
	}
}

/* Blue, green or warm, as svg_colour.c paints the standard library,
 * third-party packages and one's own code. */
static char family(const struct aggregate *agg, uint32_t id)
{
	char colour[32];
	int r, g, b;
	svg_frame_colour(PALETTE_PACKAGE, &agg->frames[id], colour);
	if (sscanf(colour, "rgb(%d,%d,%d)", &r, &g, &b) != 3)
		return '?';
	return b >= 200 && r < 200 ? 'b' : g >= 180 && b < 140 && r < 180 ? 'g' : r >= 200 && b <= 60 ? 'w' : '?';
}

static void test_origin(void)
{
	struct aggregate agg, back;
	struct strbuf json = {0};
	uint32_t stdlib, package, own, frozen;
	agg_init(&agg);
	agg_init(&back);
	CHECK(agg_python_frame(&agg, "Thread.run", "/usr/lib/python3.11/threading.py", 10, &stdlib) == 0 &&
	      agg_python_frame(&agg, "get", "/srv/venv/lib/python3.11/site-packages/requests/api.py", 20,
	                       &package) == 0 &&
	      agg_python_frame(&agg, "main", "/srv/app/main.py", 30, &own) == 0 &&
	      agg_python_frame(&agg, "_call", "<frozen importlib._bootstrap>", 40, &frozen) == 0,
	      "python frames");
	CHECK(!strcmp(agg.frames[stdlib].file, "threading.py") && !strcmp(agg.frames[package].file, "requests/api.py"),
	      "shortened to %s and %s", agg.frames[stdlib].file, agg.frames[package].file);
	CHECK(agg.frames[stdlib].origin == AGG_FROM_STDLIB && agg.frames[frozen].origin == AGG_FROM_STDLIB &&
	      agg.frames[package].origin == AGG_FROM_PACKAGE && agg.frames[own].origin == AGG_FROM_ELSEWHERE,
	      "origins");
	CHECK(family(&agg, stdlib) == 'b' && family(&agg, frozen) == 'b', "the standard library is blue");
	CHECK(family(&agg, package) == 'g', "packages are green");
	CHECK(family(&agg, own) == 'w', "own code is warm");
	uint32_t stack[] = {own, package, stdlib};
	CHECK(agg_add(&agg, stack, 3, 1) == 0 && agg_add_waiting(&agg, stack, 3, 2) == 0 &&
	      agg_add_waiting(&agg, stack, 2, 4) == 0 && profile_write_json(&json, &agg, NULL) == 0, "json write");
	uint64_t *waiting = agg_waiting_totals(&agg);
	CHECK(waiting && waiting[0] == 6 && agg.nodes[0].total == 7, "6 of 7 samples waited");
	free(waiting);
	CHECK(profile_read_json(&back, json.buf, json.len, "json") == 0, "json read: %s", err_context());
	bool kept = back.nframes == 3;
	for (size_t i = 0; i < back.nframes; i++)
		kept &= back.frames[i].origin == (!strcmp(back.frames[i].file, "threading.py")      ? AGG_FROM_STDLIB
		                                  : !strcmp(back.frames[i].file, "requests/api.py") ? AGG_FROM_PACKAGE
		                                                                                    : AGG_FROM_ELSEWHERE);
	CHECK(kept, "origins survive the JSON aggregate: %s", json.buf);
	waiting = agg_waiting_totals(&back);
	CHECK(waiting && waiting[0] == 6 && back.nodes[0].total == 7, "waiting samples survive the JSON aggregate");
	free(waiting);
	strbuf_release(&json);
	agg_release(&agg);
	agg_release(&back);
}

int main(void)
{
	test_protobuf();
	test_folded_round_trip();
	test_odd_names();
	test_invert();
	test_functions();
	test_bad_json();
	test_origin();
	return unit_done();
}
