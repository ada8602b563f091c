/* A deterministic fuzzer for the input readers, run under the sanitizer
 * build by tests/e2e/test_fuzz.py: every file of a corpus directory as it
 * is, then COUNT mutants of them from a fixed seed, each given to one
 * reader (folded, json, speedscope, pprof, core or archive). It only feeds inputs; ASan and UBSan
 * decide what is a failure, and an alarm turns a hang into one.
 *   fuzz_readers READER CORPUS_DIR SCRATCH_DIR COUNT SEED
 * The input being read is always in SCRATCH_DIR/current, so the one that
 * stopped the run can be kept as a regression file. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pycoreprof/archive.h"
#include "pycoreprof/formats.h"
#include "pycoreprof/python.h"
#include "pycoreprof/target.h"

enum { INPUT_MAX = 1 << 16, SECONDS_PER_INPUT = 10 };

struct input {
	unsigned char *data;
	size_t len;
};

/* xorshift64*: the same mutants on every machine for a given seed. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t rng_below(size_t n)
{
	return n ? (size_t)(rng_next() % n) : 0;
}

static const unsigned char interesting_bytes[] = {
	0, 1, 0x7f, 0x80, 0xff, ' ', '\t', '\n', '\r', ';', ':', ',', '"', '\\', '{', '}', '[', ']',
	'(', ')', '-', '+', '.', 'e', '0', '1', '9', 'n', 'u',
};
static const uint32_t interesting_words[] = {
	0, 1, 4, 8, 0x7f, 0x80, 0xff, 0x1000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff,
};

/* One mutation of IN (of capacity INPUT_MAX); OTHER is a corpus input to
 * splice from. */
static void mutate_once(struct input *in, const struct input *other)
{
	size_t pos = rng_below(in->len + 1), n;
	switch (rng_below(9)) {
	case 0: /* flip a bit */
		if (in->len)
			in->data[rng_below(in->len)] ^= (unsigned char)(1u << rng_below(8));
		break;
	case 1: /* set a byte */
		if (in->len)
			in->data[rng_below(in->len)] = rng_below(2) ? (unsigned char)rng_next()
			                               : interesting_bytes[rng_below(sizeof(interesting_bytes))];
		break;
	case 2: /* insert bytes */
		n = 1 + rng_below(8);
		if (in->len + n > INPUT_MAX)
			break;
		memmove(in->data + pos + n, in->data + pos, in->len - pos);
		for (size_t i = 0; i < n; i++)
			in->data[pos + i] = interesting_bytes[rng_below(sizeof(interesting_bytes))];
		in->len += n;
		break;
	case 3: /* delete a range */
		n = rng_below(in->len - (pos < in->len ? pos : in->len) + 1);
		if (pos < in->len) {
			memmove(in->data + pos, in->data + pos + n, in->len - pos - n);
			in->len -= n;
		}
		break;
	case 4: /* truncate */
		in->len = rng_below(in->len + 1);
		break;
	case 5: /* a 32-bit value, little-endian, at any offset */
		if (in->len >= 4) {
			uint32_t word = interesting_words[rng_below(sizeof(interesting_words) / sizeof(interesting_words[0]))];
			memcpy(in->data + rng_below(in->len - 3), &word, 4);
		}
		break;
	case 6: /* splice: the tail from OTHER */
		if (other->len) {
			size_t from = rng_below(other->len);
			n = other->len - from;
			if (pos + n > INPUT_MAX)
				n = INPUT_MAX - pos;
			memcpy(in->data + pos, other->data + from, n);
			in->len = pos + n;
		}
		break;
	case 7: /* repeat a chunk */
		n = rng_below(in->len - (pos < in->len ? pos : in->len) + 1);
		if (n && in->len + n <= INPUT_MAX) {
			memmove(in->data + pos + n, in->data + pos, in->len - pos);
			in->len += n;
		}
		break;
	default: /* a byte copied from elsewhere in the input */
		if (in->len)
			in->data[rng_below(in->len)] = in->data[rng_below(in->len)];
		break;
	}
}

static int write_file(const char *path, const struct input *in)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t written = fwrite(in->data, 1, in->len, f);
	return fclose(f) == 0 && written == in->len ? 0 : -1;
}

/* Every profile writer on what a reader read: `convert` and `flamegraph`
 * do this to a file they read. */
static void write_all_formats(const struct aggregate *agg)
{
	static const enum profile_format all[] = {PROFILE_SVG, PROFILE_FOLDED, PROFILE_SPEEDSCOPE, PROFILE_PPROF,
	                                          PROFILE_JSON};
	struct profile_meta meta = {0};
	for (size_t f = 0; f < sizeof(all) / sizeof(all[0]); f++) {
		struct strbuf out = {0};
		profile_write(all[f], &out, agg, &meta);
		strbuf_release(&out);
	}
}

static int read_profile(const char *reader, const struct input *in)
{
	struct aggregate agg;
	/* A timeline is kept (bounded small) so that its readers and the
	 * writers of it are fuzzed too. */
	if (agg_init(&agg) < 0 || agg_timeline_enable(&agg, 4096) < 0) {
		agg_release(&agg);
		return -ERR_NOMEM;
	}
	/* Exactly LEN bytes (the folded and pprof readers take a mapped file,
	 * with no NUL after it), or LEN and a NUL (the JSON readers' contract). */
	static const struct {
		const char *name;
		int (*read)(struct aggregate *agg, const char *text, size_t len, const char *origin);
		bool terminated;
	} readers[] = {{"folded", profile_read_folded, false}, {"json", profile_read_json, true},
	               {"speedscope", profile_read_speedscope, true}, {"pprof", profile_read_pprof, false}};
	size_t r = 0;
	while (strcmp(readers[r].name, reader))
		r++;
	bool terminated = readers[r].terminated;
	char *text = malloc(in->len + terminated);
	int ret = -ERR_NOMEM;
	if (text) {
		if (in->len)
			memcpy(text, in->data, in->len);
		if (terminated)
			text[in->len] = '\0';
		ret = readers[r].read(&agg, text, in->len, "fuzz");
		if (ret == 0)
			write_all_formats(&agg);
	}
	free(text);
	agg_release(&agg);
	return ret;
}

/* The archive at PATH listed and every snapshot extracted. */
static int read_archive(const char *path, bool *opened)
{
	struct archive *a;
	struct strbuf core = {0};
	int ret = archive_open(path, &a);
	if (ret < 0)
		return ret;
	*opened = true;
	for (size_t i = 0; i < archive_count(a); i++) {
		strbuf_reset(&core);
		int one = archive_extract(a, i, &core);
		if (one < 0)
			ret = one;
	}
	strbuf_release(&core);
	archive_close(a);
	return ret;
}

/* The core at PATH as `core` opens it, then the walker on it; *OPENED
 * says whether the core itself was read. */
static int read_core(const char *path, bool *opened)
{
	struct core_open_options opts = {0};
	struct target *t = NULL;
	int ret = core_target_open(path, &opts, &t);
	if (ret < 0)
		return ret;
	*opened = true;
	for (size_t m = 0; m < t->nmappings; m++) {
		unsigned char bytes[64];
		target_read(t, t->mappings[m].start, bytes, sizeof(bytes));
	}
	struct pywalker *w = NULL;
	if ((ret = pywalker_new(t, &w)) == 0) {
		const struct pythread *threads;
		size_t count;
		if ((ret = pywalker_threads(w, &threads, &count)) == 0) {
			struct pyframe frames[64];
			for (size_t i = 0; i < count; i++) {
				size_t n;
				pywalker_stack(w, &threads[i], frames, 64, &n);
			}
		}
		pywalker_free(w);
	}
	target_free(t);
	return ret;
}

static int load_corpus(const char *dir, struct input **out, size_t *count)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return -1;
	struct input *inputs = calloc((size_t)n + 1, sizeof(*inputs));
	size_t used = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		FILE *f = names[i]->d_name[0] == '.' ? NULL : fopen(path, "rb");
		if (f && inputs) {
			unsigned char *data = malloc(INPUT_MAX);
			size_t len = data ? fread(data, 1, INPUT_MAX, f) : 0;
			inputs[used++] = (struct input){data, len};
		}
		if (f)
			fclose(f);
		free(names[i]);
	}
	free(names);
	*out = inputs;
	*count = used;
	return inputs && used ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 6 || (strcmp(argv[1], "folded") && strcmp(argv[1], "json") && strcmp(argv[1], "speedscope") &&
	                  strcmp(argv[1], "pprof") && strcmp(argv[1], "core") && strcmp(argv[1], "archive"))) {
		fprintf(stderr, "usage: fuzz_readers folded|json|speedscope|pprof|core|archive CORPUS_DIR SCRATCH_DIR COUNT "
		        "SEED\n");
		return 64;
	}
	const char *reader = argv[1];
	unsigned long count = strtoul(argv[4], NULL, 10);
	rng_state = strtoull(argv[5], NULL, 10) * 2 + 1;
	char current[4096];
	snprintf(current, sizeof(current), "%s/current", argv[3]);
	struct input *corpus;
	size_t ncorpus;
	if (load_corpus(argv[2], &corpus, &ncorpus) < 0) {
		fprintf(stderr, "fuzz_readers: no inputs in %s\n", argv[2]);
		return 2;
	}
	struct input in = {malloc(INPUT_MAX), 0};
	unsigned long accepted = 0, opened = 0, total = 0;
	for (unsigned long i = 0; in.data && i < ncorpus + count; i++) {
		const struct input *base = &corpus[i < ncorpus ? i : rng_below(ncorpus)];
		memcpy(in.data, base->data, base->len);
		in.len = base->len;
		for (size_t m = i < ncorpus ? 0 : 1 + rng_below(4); m > 0; m--)
			mutate_once(&in, &corpus[rng_below(ncorpus)]);
		if (write_file(current, &in) < 0) {
			fprintf(stderr, "fuzz_readers: cannot write %s: %s\n", current, strerror(errno));
			return 2;
		}
		alarm(SECONDS_PER_INPUT);
		bool core_opened = false;
		int ret = !strcmp(reader, "core")      ? read_core(current, &core_opened)
		          : !strcmp(reader, "archive") ? read_archive(current, &core_opened)
		                                       : read_profile(reader, &in);
		alarm(0);
		accepted += ret == 0;
		opened += core_opened;
		total++;
	}
	printf("%s: %lu inputs (%zu from the corpus, %lu mutants), %lu read without error", reader, total, ncorpus,
	       total - ncorpus, accepted);
	if (!strcmp(reader, "core"))
		printf(", %lu opened as cores", opened);
	if (!strcmp(reader, "archive"))
		printf(", %lu opened as archives", opened);
	printf("\n");
	for (size_t i = 0; i < ncorpus; i++)
		free(corpus[i].data);
	free(corpus);
	free(in.data);
	return 0;
}
