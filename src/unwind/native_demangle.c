/* A small reader of Itanium C++ ABI symbol names: it recovers the qualified
 * function name ("ns::Class::method", "ns::sort<...>", "Class::~Class")
 * without parameter types or template arguments. Names it cannot read
 * are left to the caller, which shows them mangled. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/native.h"

#define MAX_DEPTH 64

struct reader {
	const char *p;
	struct strbuf out;
	const char *last_name;  /* the last source name, for constructors */
	size_t last_len;
	bool failed;
};

/* <number> <identifier>: the length-prefixed names of the ABI. */
static bool source_name(struct reader *r, const char **name, size_t *len)
{
	if (!isdigit((unsigned char)*r->p))
		return false;
	size_t n = 0;
	while (isdigit((unsigned char)*r->p)) {
		n = n * 10 + (size_t)(*r->p++ - '0');
		if (n > 4096)
			return false;
	}
	if (strnlen(r->p, n) < n)
		return false;
	*name = r->p;
	*len = n;
	r->p += n;
	return true;
}

/* Skip one bracketed construct opened by the character before r->p (an
 * I, L, X, F, J, Z... closed by a matching E), stepping over names so that
 * an 'E' inside one does not count. */
static bool skip_to_close(struct reader *r)
{
	int depth = 1;
	while (*r->p && depth > 0) {
		char c = *r->p;
		if (isdigit((unsigned char)c)) {
			const char *name;
			size_t len;
			if (!source_name(r, &name, &len))
				return false;
			continue;
		}
		r->p++;
		if (c == 'E') {
			depth--;
		} else if (strchr("INLXFJZ", c)) {
			if (++depth > MAX_DEPTH)
				return false;
		} else if (c == 'S' || c == 'T') {
			/* S_, S<id>_, T_, T<n>_ and the St/Sa/Ss... abbreviations */
			if (*r->p == '_' || isupper((unsigned char)*r->p) || isdigit((unsigned char)*r->p)) {
				while (*r->p && *r->p != '_' && (isdigit((unsigned char)*r->p) || isupper((unsigned char)*r->p)))
					r->p++;
				if (*r->p == '_')
					r->p++;
			} else if (*r->p) {
				r->p++;
			}
		}
	}
	return depth == 0;
}

static void add_component(struct reader *r, const char *text, size_t len)
{
	if (r->out.len)
		strbuf_addstr(&r->out, "::");
	strbuf_add(&r->out, text, len);
}

/* One piece of a nested name. Returns false at the closing E or on
 * anything unreadable (then r->failed is set). */
static bool component(struct reader *r)
{
	const char *name;
	size_t len;
	char c = *r->p;
	if (c == 'E')
		return false;
	if (isdigit((unsigned char)c)) {
		if (!source_name(r, &name, &len))
			goto fail;
		add_component(r, name, len);
		r->last_name = name;
		r->last_len = len;
		return true;
	}
	if ((c == 'C' || c == 'D') && isdigit((unsigned char)r->p[1]) && r->last_name) {
		r->p += 2;
		if (r->out.len)
			strbuf_addstr(&r->out, "::");
		if (c == 'D')
			strbuf_addch(&r->out, '~');
		strbuf_add(&r->out, r->last_name, r->last_len);
		return true;
	}
	if (c == 'I') {
		r->p++;
		if (!skip_to_close(r))
			goto fail;
		strbuf_addstr(&r->out, "<...>");
		return true;
	}
	if (c == 'S' && r->p[1] == 't') {
		r->p += 2;
		add_component(r, "std", 3);
		return true;
	}
	if (c == 'L' && isdigit((unsigned char)r->p[1])) {
		r->p++;   /* internal linkage marker */
		return true;
	}
	if (c == 'B') {   /* an ABI tag: [abi:...] is not shown */
		r->p++;
		if (!source_name(r, &name, &len))
			goto fail;
		return true;
	}
fail:
	r->failed = true;
	return false;
}

char *native_demangle(const char *mangled)
{
	struct reader r = {.p = mangled};
	if (strncmp(r.p, "_Z", 2))
		return NULL;
	r.p += 2;
	if (*r.p == 'N') {
		r.p++;
		while (strchr("rVKRO", *r.p) && *r.p)
			r.p++;
		while (component(&r))
			;
		if (r.failed || *r.p != 'E')
			goto fail;
		r.p++;
	} else {
		/* <unscoped-name>: [St] [L] <source-name> [<template-args>] */
		if (r.p[0] == 'S' && r.p[1] == 't' && !component(&r))
			goto fail;
		if (r.p[0] == 'L')
			r.p++;
		if (!isdigit((unsigned char)*r.p) || !component(&r) || (*r.p == 'I' && !component(&r)) || r.failed)
			goto fail;
	}
	/* A clone's suffix (".cold", ".isra.0") belongs to the name shown. */
	const char *clone = strchr(r.p, '.');
	if (clone)
		strbuf_addstr(&r.out, clone);
	if (!strbuf_ok(&r.out) || !r.out.len)
		goto fail;
	return strbuf_detach(&r.out);
fail:
	strbuf_release(&r.out);
	return NULL;
}
