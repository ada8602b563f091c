/* Demangling of Itanium C++ ABI names (what g++ and clang emit on Linux)
 * into the text c++filt prints: "ns::sort<int*>(int*, long)", with
 * qualifiers, references, function pointers, arrays, pointers to members,
 * templates, std:: abbreviations, operators, lambdas and local names. A
 * name that uses a construct this reader does not know (most expressions)
 * is refused, and the caller falls back on a shorter reading. The parser
 * builds a small tree in an arena; the printer places declarators (the
 * "(*)" of a function pointer) the way C++ writes them. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/native.h"

enum {
	MAX_NODES = 4096,
	MAX_SUBS = 512,
	MAX_TEMPLATE_ARGS = 128,
	MAX_DEPTH = 256,
};

enum node_kind {
	N_TEXT,       /* text: a name, a builtin type, an operator */
	N_NESTED,     /* a::b: left, right */
	N_TEMPLATE,   /* name<args>: left, list */
	N_LIST,       /* a list of nodes (template or function arguments) */
	N_QUAL,       /* left + " const" ...: text holds the qualifiers */
	N_POINTER,    /* left* / & / &&: text holds the sigil */
	N_FUNCTION,   /* left: return type or NULL, list: parameters, text: cv/ref after */
	N_ARRAY,      /* left: element, text: dimension */
	N_PTRMEM,     /* left: class, right: member type */
	N_ENCODING,   /* left: name, right: function type or NULL */
	N_SPECIAL,    /* text + left: "vtable for X" */
	N_LITERAL,    /* (left)text, or text for numbers shown bare */
	N_PACK,       /* a template argument pack (items) */
	N_EXPANSION,  /* left: a pattern repeated for each element of the pack in it */
};

struct node {
	enum node_kind kind;
	const char *text;
	size_t len;
	struct node *left, *right;
	struct node **items;
	size_t nitems;
};

struct parser {
	const char *p, *end;
	struct node nodes[MAX_NODES];
	size_t nnodes;
	struct node *subs[MAX_SUBS];
	size_t nsubs;
	/* The template arguments that T_ refers to: those of the outermost
	 * template name seen so far in the current encoding. */
	struct node *targs[MAX_TEMPLATE_ARGS];
	size_t ntargs;
	int depth;
	int type_depth;      /* inside a type: template arguments there are not T_'s */
	bool failed;
	/* Items of lists, allocated from a pool. */
	struct node *pool[MAX_NODES];
	size_t npool;
};

static struct node *make(struct parser *ps, enum node_kind kind, const char *text, size_t len)
{
	if (ps->nnodes == MAX_NODES) {
		ps->failed = true;
		return NULL;
	}
	struct node *n = &ps->nodes[ps->nnodes++];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->text = text;
	n->len = len;
	return n;
}

static struct node *make_text(struct parser *ps, const char *text)
{
	return make(ps, N_TEXT, text, strlen(text));
}

static void add_sub(struct parser *ps, struct node *n)
{
	if (!n)
		return;
	if (ps->nsubs == MAX_SUBS) {
		ps->failed = true;
		return;
	}
	ps->subs[ps->nsubs++] = n;
}

static bool peek(struct parser *ps, const char *s)
{
	size_t n = strlen(s);
	return (size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, s, n);
}

static bool eat(struct parser *ps, const char *s)
{
	if (!peek(ps, s))
		return false;
	ps->p += strlen(s);
	return true;
}

static bool number(struct parser *ps, size_t *value)
{
	if (ps->p >= ps->end || !isdigit((unsigned char)*ps->p))
		return false;
	size_t v = 0;
	while (ps->p < ps->end && isdigit((unsigned char)*ps->p)) {
		v = v * 10 + (size_t)(*ps->p++ - '0');
		if (v > 100000)
			return false;
	}
	*value = v;
	return true;
}

/* <seq-id> in base 36, then '_': S_ is 0, S0_ is 1. */
static bool seq_id(struct parser *ps, size_t *index)
{
	if (eat(ps, "_")) {
		*index = 0;
		return true;
	}
	size_t v = 0;
	while (ps->p < ps->end && (isdigit((unsigned char)*ps->p) || isupper((unsigned char)*ps->p))) {
		char c = *ps->p++;
		v = v * 36 + (size_t)(isdigit((unsigned char)c) ? c - '0' : c - 'A' + 10);
		if (v > MAX_SUBS)
			return false;
	}
	if (!eat(ps, "_"))
		return false;
	*index = v + 1;
	return true;
}

static struct node *list_of(struct parser *ps, struct node **items, size_t n)
{
	struct node *list = make(ps, N_LIST, NULL, 0);
	if (!list || ps->npool + n > MAX_NODES) {
		ps->failed = true;
		return NULL;
	}
	list->items = &ps->pool[ps->npool];
	memcpy(list->items, items, n * sizeof(*items));
	ps->npool += n;
	list->nitems = n;
	return list;
}

static struct node *type(struct parser *ps);
static struct node *encoding(struct parser *ps);
static struct node *name(struct parser *ps, bool *is_template, struct node **cv_ref);

static const char *const operators[][3] = {
	{"nw", "new", ""}, {"na", "new[]", ""}, {"dl", "delete", ""}, {"da", "delete[]", ""},
	{"ps", "+", ""}, {"ng", "-", ""}, {"ad", "&", ""}, {"de", "*", ""}, {"co", "~", ""},
	{"pl", "+", ""}, {"mi", "-", ""}, {"ml", "*", ""}, {"dv", "/", ""}, {"rm", "%", ""},
	{"an", "&", ""}, {"or", "|", ""}, {"eo", "^", ""}, {"aS", "=", ""}, {"pL", "+=", ""},
	{"mI", "-=", ""}, {"mL", "*=", ""}, {"dV", "/=", ""}, {"rM", "%=", ""}, {"aN", "&=", ""},
	{"oR", "|=", ""}, {"eO", "^=", ""}, {"ls", "<<", ""}, {"rs", ">>", ""}, {"lS", "<<=", ""},
	{"rS", ">>=", ""}, {"eq", "==", ""}, {"ne", "!=", ""}, {"lt", "<", ""}, {"gt", ">", ""},
	{"le", "<=", ""}, {"ge", ">=", ""}, {"ss", "<=>", ""}, {"nt", "!", ""}, {"aa", "&&", ""},
	{"oo", "||", ""}, {"pp", "++", ""}, {"mm", "--", ""}, {"cm", ",", ""}, {"pm", "->*", ""},
	{"pt", "->", ""}, {"cl", "()", ""}, {"ix", "[]", ""}, {"qu", "?", ""},
};

static const char *const builtins[][2] = {
	{"v", "void"}, {"w", "wchar_t"}, {"b", "bool"}, {"c", "char"}, {"a", "signed char"},
	{"h", "unsigned char"}, {"s", "short"}, {"t", "unsigned short"}, {"i", "int"},
	{"j", "unsigned int"}, {"l", "long"}, {"m", "unsigned long"}, {"x", "long long"},
	{"y", "unsigned long long"}, {"n", "__int128"}, {"o", "unsigned __int128"}, {"f", "float"},
	{"d", "double"}, {"e", "long double"}, {"g", "__float128"}, {"z", "..."},
	{"Dd", "decimal64"}, {"De", "decimal128"}, {"Df", "decimal32"}, {"Dh", "half"},
	{"Di", "char32_t"}, {"Ds", "char16_t"}, {"Du", "char8_t"}, {"Da", "auto"},
	{"Dc", "decltype(auto)"}, {"Dn", "decltype(nullptr)"},
};

/* "[<number>] _" numbering lambdas, unnamed types and default arguments,
 * as the number shown: 1 when absent, N + 2 for N. NULL when malformed. */
static struct node *ordinal(struct parser *ps)
{
	size_t count = 0;
	bool numbered = number(ps, &count);
	if (!eat(ps, "_"))
		return NULL;
	return make(ps, N_LITERAL, NULL, numbered ? count + 2 : 1);
}

/* Whether N is the builtin void: a parameter list of it alone is "()". */
static bool is_void(const struct node *n)
{
	return n->kind == N_TEXT && n->len == 4 && !memcmp(n->text, "void", 4);
}

/* <source-name>: <length> <identifier>. */
static struct node *source_name(struct parser *ps)
{
	size_t len;
	if (!number(ps, &len) || len == 0 || (size_t)(ps->end - ps->p) < len)
		return NULL;
	const char *text = ps->p;
	ps->p += len;
	if (len >= 10 && !memcmp(text, "_GLOBAL__N", 10))
		return make_text(ps, "(anonymous namespace)");
	return make(ps, N_TEXT, text, len);
}

static struct node *abi_tags(struct parser *ps, struct node *n)
{
	while (n && eat(ps, "B")) {
		struct node *tag = source_name(ps);
		if (!tag)
			return NULL;
		struct node *tagged = make(ps, N_SPECIAL, "[abi:", 5);
		if (!tagged)
			return NULL;
		tagged->left = n;
		tagged->right = tag;
		n = tagged;
	}
	return n;
}

static struct node *operator_name(struct parser *ps)
{
	if (eat(ps, "cv")) {
		struct node *to = type(ps);
		if (!to)
			return NULL;
		struct node *n = make(ps, N_SPECIAL, "operator ", 9);
		if (n)
			n->left = to;
		return n;
	}
	if (eat(ps, "li")) {
		struct node *suffix = source_name(ps);
		struct node *n = suffix ? make(ps, N_SPECIAL, "operator\"\" ", 11) : NULL;
		if (n)
			n->left = suffix;
		return n;
	}
	for (size_t i = 0; i < sizeof(operators) / sizeof(operators[0]); i++) {
		if (eat(ps, operators[i][0])) {
			const char *op = operators[i][1];
			bool word = isalpha((unsigned char)op[0]);
			struct node *text = make_text(ps, op);
			struct node *n = text ? make(ps, N_SPECIAL, word ? "operator " : "operator", word ? 9 : 8) : NULL;
			if (n)
				n->left = text;
			return n;
		}
	}
	return NULL;
}

/* <unqualified-name> inside a scope whose last component is SCOPE (for
 * constructor and destructor names). */
static struct node *unqualified_name(struct parser *ps, struct node *scope)
{
	struct node *n = NULL;
	if (ps->p >= ps->end)
		return NULL;
	char c = *ps->p;
	if (isdigit((unsigned char)c)) {
		n = source_name(ps);
	} else if (c == 'C' || (c == 'D' && ps->p + 1 < ps->end && strchr("0125", ps->p[1]))) {
		if (!scope)
			return NULL;
		/* The constructor's name is its class's, templates stripped. */
		struct node *base = scope;
		while (base && base->kind != N_TEXT)
			base = base->kind == N_TEMPLATE ? base->left : base->kind == N_NESTED ? base->right
			                                                                          : base->left;
		if (!base)
			return NULL;
		bool dtor = c == 'D';
		ps->p++;
		if (eat(ps, "I")) { /* inheriting constructor: CI1 <type> */
			if (!type(ps))
				return NULL;
		} else if (ps->p < ps->end && strchr("012345", *ps->p)) {
			ps->p++;
		} else {
			return NULL;
		}
		/* "~" for a destructor, "" for a constructor: both say "no return type". */
		n = make(ps, N_SPECIAL, dtor ? "~" : "", dtor ? 1 : 0);
		if (n)
			n->left = base;
	} else if (eat(ps, "Ut")) {
		struct node *num = ordinal(ps);
		n = num ? make(ps, N_SPECIAL, "{unnamed type#", 14) : NULL;
		if (n)
			n->left = num;
	} else if (eat(ps, "Ul")) {
		struct node *params[MAX_TEMPLATE_ARGS];
		size_t np = 0;
		while (!eat(ps, "E")) {
			if (np == MAX_TEMPLATE_ARGS || !(params[np++] = type(ps)))
				return NULL;
		}
		struct node *num = ordinal(ps);
		struct node *plist = num ? list_of(ps, params, np == 1 && is_void(params[0]) ? 0 : np) : NULL;
		n = plist ? make(ps, N_SPECIAL, "{lambda", 7) : NULL;
		if (n) {
			n->left = plist;
			n->right = num;
		}
	} else {
		n = operator_name(ps);
	}
	return abi_tags(ps, n);
}

static struct node *nested(struct parser *ps, struct node *left, struct node *right)
{
	if (!left || !right)
		return right;
	struct node *n = make(ps, N_NESTED, NULL, 0);
	if (n) {
		n->left = left;
		n->right = right;
	}
	return n;
}

static struct node *template_args(struct parser *ps);

static struct node *template_param(struct parser *ps)
{
	size_t index;
	if (!eat(ps, "T") || !seq_id(ps, &index))
		return NULL;
	if (index >= ps->ntargs)
		return NULL;
	return ps->targs[index];
}

static struct node *std_name(struct parser *ps, const char *name)
{
	return nested(ps, make_text(ps, "std"), make_text(ps, name));
}

/* std::NAME<CHAR, std::char_traits<CHAR>[, std::allocator<CHAR>]>, as the
 * std::string-like abbreviations read where they start a longer name. */
static struct node *std_stream(struct parser *ps, const char *name, bool allocator)
{
	struct node *args[3] = {make_text(ps, "char"), make_text(ps, "std::char_traits<char>"),
	                        make_text(ps, "std::allocator<char>")};
	struct node *list = list_of(ps, args, allocator ? 3 : 2);
	struct node *t = list ? make(ps, N_TEMPLATE, NULL, 0) : NULL;
	if (!t)
		return NULL;
	t->left = std_name(ps, name);
	t->right = list;
	return t;
}

/* <substitution>. std::string and the streams are spelled out, as c++filt
 * does. */
static struct node *substitution(struct parser *ps)
{
	static const char *const streams[][2] = {
		{"Ss", "basic_string"}, {"Si", "basic_istream"}, {"So", "basic_ostream"}, {"Sd", "basic_iostream"},
	};
	if (eat(ps, "St"))
		return make_text(ps, "std");
	if (eat(ps, "Sa"))
		return std_name(ps, "allocator");
	if (eat(ps, "Sb"))
		return std_name(ps, "basic_string");
	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++)
		if (eat(ps, streams[i][0]))
			return std_stream(ps, streams[i][1], i == 0);
	size_t index;
	if (!eat(ps, "S") || !seq_id(ps, &index) || index >= ps->nsubs)
		return NULL;
	return ps->subs[index];
}

/* <nested-name>: N [<CV-qualifiers>] [<ref-qualifier>] <prefix> ... E. */
static struct node *nested_name(struct parser *ps, bool *is_template, struct node **cv_ref)
{
	const char *quals = ps->p;
	while (ps->p < ps->end && strchr("rVK", *ps->p))
		ps->p++;
	size_t nquals = (size_t)(ps->p - quals);
	const char *ref = eat(ps, "R") ? " &" : eat(ps, "O") ? " &&" : "";
	if (nquals || *ref) {
		char buf[40] = "";
		for (size_t i = nquals; i-- > 0;)
			strcat(buf, quals[i] == 'K' ? " const" : quals[i] == 'V' ? " volatile" : " restrict");
		strcat(buf, ref);
		/* Node texts must outlive this frame: take the static spelling. */
		*cv_ref = make(ps, N_QUAL, NULL, 0);
		if (!*cv_ref)
			return NULL;
		static const char *const known[] = {" const", " volatile", " restrict", " const volatile", " &", " &&",
		                                    " const &", " const &&", " volatile &", " volatile &&",
		                                    " const volatile &", " const volatile &&"};
		(*cv_ref)->text = NULL;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(buf, known[i]))
				(*cv_ref)->text = known[i];
		if (!(*cv_ref)->text)
			return NULL;
		(*cv_ref)->len = strlen((*cv_ref)->text);
	}
	struct node *n = NULL, *last = NULL;
	*is_template = false;
	while (!eat(ps, "E")) {
		if (ps->p >= ps->end || ps->failed)
			return NULL;
		struct node *piece = NULL;
		*is_template = false;
		if (peek(ps, "S")) {
			if (peek(ps, "St")) {
				ps->p += 2;
				n = nested(ps, n, make_text(ps, "std"));
				continue;
			}
			if (!(n = nested(ps, n, substitution(ps))))
				return NULL;
			last = n;
			continue;
		} else if (peek(ps, "I")) {
			if (!n)
				return NULL;
			struct node *args = template_args(ps);
			if (!args)
				return NULL;
			struct node *t = make(ps, N_TEMPLATE, NULL, 0);
			if (!t)
				return NULL;
			t->left = n;
			t->right = args;
			n = t;
			*is_template = true;
			if (!peek(ps, "E"))
				add_sub(ps, n);
			continue;
		} else if (peek(ps, "T")) {
			piece = template_param(ps);
			if (!piece)
				return NULL;
			n = nested(ps, n, piece);
			add_sub(ps, n);
			continue;
		} else if (peek(ps, "L")) {
			ps->p++; /* internal linkage */
			continue;
		} else if (peek(ps, "M")) {
			ps->p++; /* a data-member initializer's closure scope */
			continue;
		}
		piece = unqualified_name(ps, last ? last : n);
		if (!piece)
			return NULL;
		n = nested(ps, n, piece);
		last = piece;
		if (!peek(ps, "E"))
			add_sub(ps, n);
	}
	return n;
}

/* <local-name>: Z <encoding> E <entity> [<discriminator>]. */
static struct node *local_name(struct parser *ps, bool *is_template, struct node **cv_ref)
{
	struct node *function = encoding(ps);
	if (!function || !eat(ps, "E"))
		return NULL;
	struct node *entity;
	if (eat(ps, "s")) {
		entity = make_text(ps, "string literal");
		*is_template = false;
	} else {
		struct node *scope = NULL;
		if (eat(ps, "d")) { /* default argument scope: d [<number>] _ */
			struct node *num = ordinal(ps);
			scope = num ? make(ps, N_SPECIAL, "{default arg#", 13) : NULL;
			if (!scope)
				return NULL;
			scope->left = num;
		}
		entity = name(ps, is_template, cv_ref);
		if (scope && entity)
			entity = nested(ps, scope, entity);
	}
	if (!entity)
		return NULL;
	if (eat(ps, "_")) { /* discriminator: _ <digit> or __ <number> _ */
		size_t ignored;
		if (eat(ps, "_")) {
			if (!number(ps, &ignored) || !eat(ps, "_"))
				return NULL;
		} else if (!number(ps, &ignored)) {
			return NULL;
		}
	}
	return nested(ps, function, entity);
}

/* <name>. *IS_TEMPLATE: it ends in template arguments (then a function's
 * encoding carries a return type). *CV_REF: a member function's qualifiers. */
static struct node *name(struct parser *ps, bool *is_template, struct node **cv_ref)
{
	*is_template = false;
	*cv_ref = NULL;
	if (++ps->depth > MAX_DEPTH)
		return NULL;
	struct node *n = NULL;
	if (eat(ps, "N")) {
		n = nested_name(ps, is_template, cv_ref);
	} else if (eat(ps, "Z")) {
		n = local_name(ps, is_template, cv_ref);
	} else {
		bool from_sub = false;
		if (eat(ps, "St")) {
			eat(ps, "L");
			struct node *u = unqualified_name(ps, NULL);
			n = u ? nested(ps, make_text(ps, "std"), u) : NULL;
		} else if (peek(ps, "S")) {
			n = substitution(ps);
			from_sub = true;
		} else {
			eat(ps, "L");
			n = unqualified_name(ps, NULL);
		}
		if (n && peek(ps, "I")) {
			if (!from_sub)
				add_sub(ps, n);
			struct node *args = template_args(ps);
			struct node *t = args ? make(ps, N_TEMPLATE, NULL, 0) : NULL;
			if (!t)
				n = NULL;
			else {
				t->left = n;
				t->right = args;
				n = t;
				*is_template = true;
			}
		} else if (from_sub) {
			n = NULL; /* a substitution alone is not a name */
		}
	}
	ps->depth--;
	return n;
}

/* <expr-primary>: L <type> <value> E, L _Z <encoding> E. */
static struct node *literal(struct parser *ps)
{
	if (eat(ps, "_Z")) {
		struct node *e = encoding(ps);
		return e && eat(ps, "E") ? e : NULL;
	}
	if (eat(ps, "b0E"))
		return make_text(ps, "false");
	if (eat(ps, "b1E"))
		return make_text(ps, "true");
	struct node *t = type(ps);
	if (!t)
		return NULL;
	const char *value = ps->p;
	while (ps->p < ps->end && *ps->p != 'E')
		ps->p++;
	if (!eat(ps, "E"))
		return NULL;
	size_t len = (size_t)(ps->p - 1 - value);
	struct node *n = make(ps, N_LITERAL, value, len);
	if (!n)
		return NULL;
	/* int and the like show bare ("3", "-1"); others cast: (char)97. */
	n->left = t;
	if (len && value[0] == 'n')
		n->len = len; /* a leading 'n' is a minus sign, printed as such */
	return n;
}

static struct node *template_arg(struct parser *ps)
{
	if (eat(ps, "L"))
		return literal(ps);
	if (eat(ps, "J")) {
		struct node *items[MAX_TEMPLATE_ARGS];
		size_t n = 0;
		while (!eat(ps, "E")) {
			if (n == MAX_TEMPLATE_ARGS || !(items[n++] = template_arg(ps)))
				return NULL;
		}
		struct node *pack = list_of(ps, items, n);
		if (pack)
			pack->kind = N_PACK;
		return pack;
	}
	if (peek(ps, "X"))
		return NULL; /* expressions: not read */
	return type(ps);
}

static struct node *template_args(struct parser *ps)
{
	if (!eat(ps, "I"))
		return NULL;
	struct node *items[MAX_TEMPLATE_ARGS];
	size_t n = 0;
	while (!eat(ps, "E")) {
		if (n == MAX_TEMPLATE_ARGS || ps->p >= ps->end || !(items[n++] = template_arg(ps)))
			return NULL;
	}
	struct node *list = list_of(ps, items, n);
	if (list && ps->type_depth == 0) {
		/* The arguments T_ refers to: the last ones of the encoding's name. */
		memcpy(ps->targs, items, n * sizeof(*items));
		ps->ntargs = n;
	}
	return list;
}

/* NAME applied to the template arguments that follow. */
static struct node *instantiate(struct parser *ps, struct node *template_name)
{
	struct node *args = template_args(ps);
	struct node *t = args ? make(ps, N_TEMPLATE, NULL, 0) : NULL;
	if (t) {
		t->left = template_name;
		t->right = args;
	}
	return t;
}

/* <bare-function-type>: the parameter types, after the return type when
 * WITH_RETURN. */
static struct node *function_type(struct parser *ps, bool with_return, struct node *cv_ref)
{
	struct node *ret = NULL;
	if (with_return && !(ret = type(ps)))
		return NULL;
	struct node *params[MAX_TEMPLATE_ARGS];
	size_t n = 0;
	while (ps->p < ps->end && *ps->p != 'E' && *ps->p != '.') {
		if (n == MAX_TEMPLATE_ARGS || !(params[n++] = type(ps)))
			return NULL;
	}
	if (n == 1 && is_void(params[0]))
		n = 0;
	struct node *f = make(ps, N_FUNCTION, cv_ref ? cv_ref->text : NULL, cv_ref ? cv_ref->len : 0);
	struct node *list = f ? list_of(ps, params, n) : NULL;
	if (!list)
		return NULL;
	f->left = ret;
	f->right = list;
	return f;
}

static struct node *wrap(struct parser *ps, enum node_kind kind, const char *text, struct node *inner)
{
	if (!inner)
		return NULL;
	struct node *n = make(ps, kind, text, text ? strlen(text) : 0);
	if (n)
		n->left = inner;
	return n;
}

static struct node *type_inner(struct parser *ps);

static struct node *type(struct parser *ps)
{
	ps->type_depth++;
	struct node *n = type_inner(ps);
	ps->type_depth--;
	return n;
}

static struct node *type_inner(struct parser *ps)
{
	if (ps->p >= ps->end || ++ps->depth > MAX_DEPTH)
		return NULL;
	struct node *n = NULL;
	bool substitutable = true;
	const char *start = ps->p;
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		if (eat(ps, builtins[i][0])) {
			ps->depth--;
			return make_text(ps, builtins[i][1]);
		}
	}
	char c = *ps->p;
	if (c == 'r' || c == 'V' || c == 'K') {
		const char *q = ps->p;
		while (ps->p < ps->end && strchr("rVK", *ps->p))
			ps->p++;
		size_t nq = (size_t)(ps->p - q);
		struct node *inner = type(ps);
		/* Innermost qualifier first in the mangling: print them the other
		 * way round, as c++filt does. */
		/* A qualified function type (a const member function's, in M C KF...E)
		 * is not a substitution candidate of its own. */
		substitutable = !inner || inner->kind != N_FUNCTION;
		n = inner;
		for (size_t i = nq; n && i-- > 0;)
			n = wrap(ps, N_QUAL, q[i] == 'K' ? " const" : q[i] == 'V' ? " volatile" : " restrict", n);
	} else if (c == 'P' || c == 'R' || c == 'O') {
		ps->p++;
		n = wrap(ps, N_POINTER, c == 'P' ? "*" : c == 'R' ? "&" : "&&", type(ps));
	} else if (c == 'C' || c == 'G') {
		ps->p++;
		n = wrap(ps, N_QUAL, c == 'C' ? " _Complex" : " _Imaginary", type(ps));
	} else if (c == 'F') {
		ps->p++;
		eat(ps, "Y");
		n = function_type(ps, true, NULL);
		/* A ref-qualified function type (rare) is shown without its & or &&. */
		if (n && !eat(ps, "R"))
			eat(ps, "O");
		if (!n || !eat(ps, "E"))
			n = NULL;
	} else if (c == 'A') {
		ps->p++;
		const char *dim = ps->p;
		while (ps->p < ps->end && isdigit((unsigned char)*ps->p))
			ps->p++;
		size_t len = (size_t)(ps->p - dim);
		if (eat(ps, "_")) {
			struct node *element = type(ps);
			n = element ? make(ps, N_ARRAY, dim, len) : NULL;
			if (n)
				n->left = element;
		}
	} else if (c == 'M') {
		ps->p++;
		struct node *cls = type(ps);
		struct node *member = cls ? type(ps) : NULL;
		n = member ? make(ps, N_PTRMEM, NULL, 0) : NULL;
		if (n) {
			n->left = cls;
			n->right = member;
		}
	} else if (c == 'T') {
		n = template_param(ps);
		if (n && peek(ps, "I")) {
			add_sub(ps, n);
			n = instantiate(ps, n);
		}
	} else if (peek(ps, "Dp")) {
		ps->p += 2;
		n = wrap(ps, N_EXPANSION, NULL, type(ps));
	} else if (peek(ps, "DF")) {
		ps->p += 2;
		size_t bits;
		if (number(ps, &bits) && eat(ps, "_") && (n = make(ps, N_SPECIAL, "_Float", 6)))
			n->left = make(ps, N_TEXT, start + 2, (size_t)(ps->p - start - 3));
		substitutable = false;
	} else if (c == 'S' && !peek(ps, "St")) {
		n = substitution(ps);
		if (n && peek(ps, "I")) {
			n = instantiate(ps, n);
		} else {
			/* A substitution is not a candidate again, nor is a bare
			 * abbreviation. */
			substitutable = false;
		}
	} else if (eat(ps, "u")) {
		n = source_name(ps); /* vendor extended type */
	} else {
		bool is_template;
		struct node *cv_ref;
		n = name(ps, &is_template, &cv_ref);
	}
	if (n && substitutable)
		add_sub(ps, n);
	ps->depth--;
	return n;
}

static struct node *special_name(struct parser *ps)
{
	static const char *const prefixes[][2] = {
		{"TV", "vtable for "}, {"TT", "VTT for "}, {"TI", "typeinfo for "}, {"TS", "typeinfo name for "},
		{"TH", "TLS init function for "}, {"TW", "TLS wrapper function for "},
	};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (eat(ps, prefixes[i][0])) {
			struct node *what = prefixes[i][0][1] == 'H' || prefixes[i][0][1] == 'W' ? NULL : type(ps);
			if (!what) {
				bool t;
				struct node *cv;
				what = name(ps, &t, &cv);
			}
			return wrap(ps, N_SPECIAL, prefixes[i][1], what);
		}
	}
	if (eat(ps, "GTt"))
		return wrap(ps, N_SPECIAL, "transaction clone for ", encoding(ps));
	if (eat(ps, "GTn"))
		return wrap(ps, N_SPECIAL, "non-transaction clone for ", encoding(ps));
	if (eat(ps, "GV")) {
		bool t;
		struct node *cv;
		return wrap(ps, N_SPECIAL, "guard variable for ", name(ps, &t, &cv));
	}
	if (eat(ps, "GR")) {
		bool t;
		struct node *cv;
		struct node *n = wrap(ps, N_SPECIAL, "reference temporary #0 for ", name(ps, &t, &cv));
		size_t ignored;
		seq_id(ps, &ignored);
		return n;
	}
	if (peek(ps, "Th") || peek(ps, "Tv") || peek(ps, "Tc")) {
		bool virtual_thunk = ps->p[1] == 'v', covariant = ps->p[1] == 'c';
		ps->p += 2;
		/* call offsets: h <number> _ or v <number> _ <number> _ ('n' for minus) */
		int offsets = covariant ? 2 : 1;
		for (int k = 0; k < offsets; k++) {
			char kind = ps->p < ps->end ? *ps->p : 0;
			if (covariant) {
				if (kind != 'h' && kind != 'v')
					return NULL;
				ps->p++;
			}
			int numbers = (covariant ? kind == 'v' : virtual_thunk) ? 2 : 1;
			for (int m = 0; m < numbers; m++) {
				size_t ignored;
				eat(ps, "n");
				if (!number(ps, &ignored) || !eat(ps, "_"))
					return NULL;
			}
		}
		return wrap(ps, N_SPECIAL,
		            covariant ? "covariant return thunk to " : virtual_thunk ? "virtual thunk to " : "non-virtual thunk to ",
		            encoding(ps));
	}
	return NULL;
}

static struct node *encoding(struct parser *ps)
{
	if (++ps->depth > MAX_DEPTH)
		return NULL;
	struct node *n;
	if (peek(ps, "T") || peek(ps, "GV") || peek(ps, "GR") || peek(ps, "GT")) {
		n = special_name(ps);
	} else {
		bool is_template;
		struct node *cv_ref;
		struct node *fname = name(ps, &is_template, &cv_ref);
		n = fname;
		if (fname && ps->p < ps->end && *ps->p != 'E' && *ps->p != '.') {
			/* Constructors, destructors and conversions have no return type. */
			bool no_return = fname->kind == N_NESTED &&
			                 (fname->right->kind == N_SPECIAL && fname->right->len == 9 &&
			                  !memcmp(fname->right->text, "operator ", 9) && fname->right->left &&
			                  fname->right->left->kind != N_TEXT);
			struct node *last = fname->kind == N_TEMPLATE ? fname->left : fname;
			if (last->kind == N_NESTED)
				last = last->right;
			no_return = no_return || (last->kind == N_SPECIAL && last->len <= 1 && last->text &&
			                          (!last->len || last->text[0] == '~'));  /* X(), ~X() */
			struct node *f = function_type(ps, is_template && !no_return, cv_ref);
			n = f ? make(ps, N_ENCODING, NULL, 0) : NULL;
			if (n) {
				n->left = fname;
				n->right = f;
			}
		}
	}
	ps->depth--;
	return n;
}

/* -------------------------------------------------------------- printing */

struct printer {
	struct strbuf *sb;
	int depth;
	int no_return;       /* > 0: printing the function of a local name */
	const struct node *pack; /* inside an expansion: the pack, and which element */
	size_t pack_index;
};

static void print(struct printer *pr, const struct node *n);
static void print_type(struct printer *pr, const struct node *n, const char *inner);

/* The pack a pattern expands over: the first one in it. */
static const struct node *find_pack(const struct node *n, int depth)
{
	if (!n || depth > MAX_DEPTH)
		return NULL;
	if (n->kind == N_PACK)
		return n;
	if (n->kind == N_EXPANSION)
		return NULL;
	const struct node *found = find_pack(n->left, depth + 1);
	if (!found)
		found = find_pack(n->right, depth + 1);
	for (size_t i = 0; !found && n->kind == N_LIST && i < n->nitems; i++)
		found = find_pack(n->items[i], depth + 1);
	return found;
}

/* Whether N prints nothing: an empty pack, an expansion over one, or a
 * pack of such. */
static bool prints_nothing(const struct printer *pr, const struct node *n)
{
	if (n->kind == N_PACK) {
		if (pr->pack == n)
			return false;
		for (size_t i = 0; i < n->nitems; i++)
			if (!prints_nothing(pr, n->items[i]))
				return false;
		return true;
	}
	if (n->kind == N_EXPANSION) {
		const struct node *pack = find_pack(n->left, 0);
		return pack && prints_nothing(pr, pack) && pr->pack != pack;
	}
	return false;
}

/* N with the element of the pack being expanded in its place. */
static const struct node *resolved(const struct printer *pr, const struct node *n)
{
	while (n && n->kind == N_PACK && pr->pack == n && pr->pack_index < n->nitems)
		n = n->items[pr->pack_index];
	return n;
}

static void print_list(struct printer *pr, const struct node *list)
{
	bool first = true;
	for (size_t i = 0; i < list->nitems; i++) {
		if (prints_nothing(pr, list->items[i]))
			continue;
		if (!first)
			strbuf_addstr(pr->sb, ", ");
		first = false;
		print(pr, list->items[i]);
	}
}

static void print_template_args(struct printer *pr, const struct node *args)
{
	strbuf_addch(pr->sb, '<');
	print_list(pr, args);
	/* No ">>": a space between closing angle brackets. */
	if (pr->sb->len && pr->sb->buf[pr->sb->len - 1] == '>')
		strbuf_addch(pr->sb, ' ');
	strbuf_addch(pr->sb, '>');
}

static bool is_declarator(const struct node *n)
{
	return n && (n->kind == N_FUNCTION || n->kind == N_ARRAY || n->kind == N_PTRMEM);
}

static void print_literal(struct printer *pr, const struct node *n)
{
	const struct node *t = n->left;
	const char *value = n->text;
	size_t len = n->len;
	bool minus = len && value[0] == 'n';
	bool bare = t && t->kind == N_TEXT && (t->len == 3 && !memcmp(t->text, "int", 3));
	const char *suffix = "";
	if (t && t->kind == N_TEXT) {
		if (t->len == 12 && !memcmp(t->text, "unsigned int", 12))
			bare = true, suffix = "u";
		else if (t->len == 4 && !memcmp(t->text, "long", 4))
			bare = true, suffix = "l";
		else if (t->len == 13 && !memcmp(t->text, "unsigned long", 13))
			bare = true, suffix = "ul";
		else if (t->len == 9 && !memcmp(t->text, "long long", 9))
			bare = true, suffix = "ll";
		else if (t->len == 18 && !memcmp(t->text, "unsigned long long", 18))
			bare = true, suffix = "ull";
	}
	if (!bare) {
		strbuf_addch(pr->sb, '(');
		print(pr, t);
		strbuf_addch(pr->sb, ')');
	}
	if (minus) {
		strbuf_addch(pr->sb, '-');
		value++;
		len--;
	}
	strbuf_add(pr->sb, value, len);
	strbuf_addstr(pr->sb, suffix);
}

static void print(struct printer *pr, const struct node *n)
{
	if (!n || ++pr->depth > MAX_DEPTH * 4) {
		pr->sb->failed = true;
		return;
	}
	switch (n->kind) {
	case N_TEXT:
		strbuf_add(pr->sb, n->text, n->len);
		break;
	case N_NESTED:
		/* A local name's function is shown without its return type. */
		pr->no_return += n->left->kind == N_ENCODING;
		print(pr, n->left);
		pr->no_return -= n->left->kind == N_ENCODING;
		strbuf_addstr(pr->sb, "::");
		print(pr, n->right);
		break;
	case N_TEMPLATE:
		print(pr, n->left);
		/* "operator<< <char>", not "operator<<<char>" */
		if (pr->sb->len && pr->sb->buf[pr->sb->len - 1] == '<')
			strbuf_addch(pr->sb, ' ');
		print_template_args(pr, n->right);
		break;
	case N_LIST:
		print_list(pr, n);
		break;
	case N_PACK:
		if (pr->pack == n) {
			if (pr->pack_index < n->nitems)
				print(pr, n->items[pr->pack_index]);
		} else {
			print_list(pr, n);
		}
		break;
	case N_EXPANSION: {
		const struct node *pack = find_pack(n->left, 0);
		if (!pack) {
			print(pr, n->left);
			strbuf_addstr(pr->sb, "...");
			break;
		}
		const struct node *outer = pr->pack;
		size_t outer_index = pr->pack_index;
		for (size_t i = 0; i < pack->nitems; i++) {
			if (i)
				strbuf_addstr(pr->sb, ", ");
			pr->pack = pack;
			pr->pack_index = i;
			print(pr, n->left);
		}
		pr->pack = outer;
		pr->pack_index = outer_index;
		break;
	}
	case N_LITERAL:
		if (!n->text) {
			strbuf_addf(pr->sb, "%zu", n->len);
			break;
		}
		print_literal(pr, n);
		break;
	case N_SPECIAL:
		if (n->len == 5 && !memcmp(n->text, "[abi:", 5)) {
			print(pr, n->left);
			strbuf_addstr(pr->sb, "[abi:");
			print(pr, n->right);
			strbuf_addch(pr->sb, ']');
		} else if (n->len == 7 && !memcmp(n->text, "{lambda", 7)) {
			strbuf_addstr(pr->sb, "{lambda(");
			print_list(pr, n->left);
			strbuf_addstr(pr->sb, ")#");
			print(pr, n->right);
			strbuf_addch(pr->sb, '}');
		} else if ((n->len == 14 && !memcmp(n->text, "{unnamed type#", 14)) ||
		           (n->len == 13 && !memcmp(n->text, "{default arg#", 13))) {
			strbuf_add(pr->sb, n->text, n->len);
			print(pr, n->left);
			strbuf_addch(pr->sb, '}');
		} else {
			strbuf_add(pr->sb, n->text, n->len);
			print(pr, n->left);
			if (n->right)
				print(pr, n->right);
		}
		break;
	case N_ENCODING: {
		const struct node *f = n->right;
		int no_return = pr->no_return;
		pr->no_return = 0;   /* not for the types inside */
		if (f->left && !no_return) {
			print_type(pr, f->left, NULL);
			strbuf_addch(pr->sb, ' ');
		}
		print(pr, n->left);
		strbuf_addch(pr->sb, '(');
		print_list(pr, f->right);
		strbuf_addch(pr->sb, ')');
		if (f->text)
			strbuf_add(pr->sb, f->text, f->len);
		pr->no_return = no_return;
		break;
	}
	default:
		print_type(pr, n, NULL);
		break;
	}
	pr->depth--;
}

/* A type with INNER (a declarator such as "*" or "(*)") in its place. */
static void print_type(struct printer *pr, const struct node *n, const char *inner)
{
	struct strbuf *sb = pr->sb;
	n = resolved(pr, n);
	if (!n) {
		sb->failed = true;
		return;
	}
	switch (n->kind) {
	case N_POINTER: {
		/* Through functions and arrays, the pointer goes in parentheses. */
		struct strbuf decl = {0};
		const struct node *target = n->left;
		/* References to references collapse: & wins over &&. */
		const char *sigil = n->text;
		while (sigil[0] == '&' && target) {
			const struct node *seen = target;
			if (seen->kind == N_PACK && pr->pack == seen && pr->pack_index < seen->nitems)
				seen = seen->items[pr->pack_index];
			if (seen->kind != N_POINTER || seen->text[0] != '&')
				break;
			if (seen->text[1] != '&')
				sigil = "&";
			target = seen->left;
		}
		while (target && target->kind == N_QUAL && target->left && is_declarator(target->left) &&
		       target->left->kind != N_PTRMEM)
			break;
		strbuf_addstr(&decl, sigil);
		if (inner)
			strbuf_addstr(&decl, inner);
		if (!strbuf_ok(&decl)) {
			sb->failed = true;
			return;
		}
		const struct node *shown = resolved(pr, target);
		bool qualified_array = shown && shown->kind == N_QUAL && resolved(pr, shown->left) &&
		                       resolved(pr, shown->left)->kind == N_ARRAY;
		if ((is_declarator(shown) && shown->kind != N_PTRMEM) || qualified_array) {
			struct strbuf wrapped = {0};
			strbuf_addf(&wrapped, "(%s)", decl.buf);
			print_type(pr, target, strbuf_ok(&wrapped) ? wrapped.buf : "");
			strbuf_release(&wrapped);
		} else {
			print_type(pr, target, decl.buf);
		}
		strbuf_release(&decl);
		break;
	}
	case N_QUAL: {
		const struct node *under = resolved(pr, n->left);
		/* A qualifier already there is not repeated: const const T is T const. */
		if (under && under->kind == N_QUAL && under->len == n->len && !memcmp(under->text, n->text, n->len)) {
			print_type(pr, under, inner);
			break;
		}
		/* On a pointer the qualifier is part of the declarator: int* const&,
		 * void (* const&)(). */
		if (under && under->kind == N_POINTER) {
			struct strbuf decl = {0};
			strbuf_add(&decl, n->text, n->len);
			if (inner)
				strbuf_addstr(&decl, inner);
			if (!strbuf_ok(&decl)) {
				sb->failed = true;
				return;
			}
			print_type(pr, under, decl.buf);
			strbuf_release(&decl);
			break;
		}
		/* const on an array is const on its elements: char const (&) [17]. */
		if (under && under->kind == N_ARRAY) {
			struct node element = {.kind = N_QUAL, .text = n->text, .len = n->len, .left = under->left};
			struct node array = *under;
			array.left = &element;
			print_type(pr, &array, inner);
			break;
		}
		if (is_declarator(n->left) && n->left->kind == N_FUNCTION) {
			/* const on a function type: only through pointers to members */
			print_type(pr, n->left, inner);
			strbuf_add(sb, n->text, n->len);
		} else {
			print_type(pr, n->left, NULL);
			strbuf_add(sb, n->text, n->len);
			if (inner)
				strbuf_addstr(sb, inner);
		}
		break;
	}
	case N_FUNCTION:
		if (n->left)
			print_type(pr, n->left, NULL);
		else
			strbuf_addstr(sb, "void");
		strbuf_addch(sb, ' ');
		if (inner)
			strbuf_addstr(sb, inner);
		strbuf_addch(sb, '(');
		print_list(pr, n->right);
		strbuf_addch(sb, ')');
		if (n->text)
			strbuf_add(sb, n->text, n->len);
		break;
	case N_ARRAY: {
		/* An array of arrays reads T [30][2]: the dimensions together. */
		const struct node *element = resolved(pr, n->left);
		size_t ndims = 1;
		while (element && element->kind == N_ARRAY && ndims < MAX_DEPTH) {
			element = resolved(pr, element->left);
			ndims++;
		}
		print_type(pr, element, NULL);
		strbuf_addch(sb, ' ');
		if (inner)
			strbuf_addf(sb, "%s ", inner);
		const struct node *dim = n;
		for (size_t i = 0; i < ndims; i++, dim = resolved(pr, dim->left)) {
			strbuf_addch(sb, '[');
			strbuf_add(sb, dim->text, dim->len);
			strbuf_addch(sb, ']');
		}
		break;
	}
	case N_PTRMEM: {
		struct strbuf decl = {0};
		const struct node *member = n->right;
		struct printer cls = {.sb = &decl};
		print(&cls, n->left);
		strbuf_addstr(&decl, "::*");
		if (inner)
			strbuf_addstr(&decl, inner);
		if (!strbuf_ok(&decl)) {
			sb->failed = true;
			return;
		}
		if (member->kind == N_FUNCTION) {
			struct strbuf wrapped = {0};
			strbuf_addf(&wrapped, "(%s)", decl.buf);
			print_type(pr, member, strbuf_ok(&wrapped) ? wrapped.buf : "");
			strbuf_release(&wrapped);
		} else if (member->kind == N_QUAL && member->left->kind == N_FUNCTION) {
			struct strbuf wrapped = {0};
			strbuf_addf(&wrapped, "(%s)", decl.buf);
			print_type(pr, member->left, strbuf_ok(&wrapped) ? wrapped.buf : "");
			strbuf_add(sb, member->text, member->len);
			strbuf_release(&wrapped);
		} else {
			print_type(pr, member, NULL);
			strbuf_addch(sb, ' ');
			strbuf_addstr(sb, decl.buf);
		}
		strbuf_release(&decl);
		break;
	}
	default:
		print(pr, n);
		if (inner)
			strbuf_addstr(sb, inner);
		break;
	}
}

char *demangle_full(const char *mangled)
{
	if (!mangled || strncmp(mangled, "_Z", 2))
		return NULL;
	struct parser *ps = xcalloc(1, sizeof(*ps));
	if (!ps)
		return NULL;
	ps->p = mangled + 2;
	ps->end = mangled + strlen(mangled);
	struct node *root = encoding(ps);
	char *out = NULL;
	/* What is left may only be a clone suffix: ".cold", ".isra.0". */
	if (root && !ps->failed && (ps->p == ps->end || *ps->p == '.')) {
		struct strbuf sb = {0};
		struct printer pr = {.sb = &sb};
		print(&pr, root);
		for (const char *clone = ps->p; clone < ps->end;) {
			const char *next = strchr(clone + 1, '.');
			size_t len = next ? (size_t)(next - clone) : strlen(clone);
			strbuf_addstr(&sb, " [clone ");
			strbuf_add(&sb, clone, len);
			strbuf_addch(&sb, ']');
			clone += len;
		}
		if (strbuf_ok(&sb) && sb.len)
			out = strbuf_detach(&sb);
		else
			strbuf_release(&sb);
	}
	free(ps);
	return out;
}
