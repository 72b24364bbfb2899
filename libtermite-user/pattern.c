// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * Syndicate dataspace patterns: parsing (text to pattern term), compiling
 * (pattern term to a flat instruction array), matching against terms and
 * against canonical encoded bytes, and the constant prefix of a pattern
 * for the kernel's selective receive.  See pattern.h.
 *
 * The instructions follow the canonical encoding of a matching value:
 *
 *   DISCARD        skip one value
 *   LIT off len    the value's encoding equals pool[off..off+len)
 *   OPEN tag       a compound with this tag starts; enter it
 *   CLOSE          the compound ends here (exact arity); leave it
 *   BIND i         capture i starts at the current value (zero width)
 *   BIND_END i     capture i ends here
 *   DKEY off len   in a dictionary: skip entries up to the key with this
 *                  encoding (keys are in canonical order on both sides);
 *                  the value is the current value
 *   DCLOSE         skip the remaining entries and leave the dictionary
 *   END            the input must be fully consumed
 *
 * Records and sequences whose sub-patterns are all literals compile to one
 * LIT of the whole value.
 */
#include <stdlib.h>
#include <string.h>

#include "term_internal.h"
#include "pattern.h"

enum {
	OP_END,
	OP_DISCARD,
	OP_LIT,
	OP_OPEN,
	OP_CLOSE,
	OP_BIND,
	OP_BIND_END,
	OP_DKEY,
	OP_DCLOSE,
};

struct insn {
	uint8_t op;
	uint8_t tag;
	uint16_t cap;
	uint32_t off;
	uint32_t len;
};

struct tm_pattern {
	uint32_t ninsn;
	uint32_t ncaps;
	uint32_t nprefix;
	uint32_t depth;
	const struct insn *insn;
	const uint8_t *pool;
	const uint8_t *prefix;
	const char **names;
};

/* ---- pattern terms ------------------------------------------------- */

struct tm_term tm_pat_discard(struct tm_arena *a)
{
	return tm_record(a, tm_symboln("_", 1), NULL, 0);
}

struct tm_term tm_pat_bind(struct tm_arena *a, const char *name,
			   struct tm_term sub)
{
	struct tm_term f[2] = { sub };

	if (!name)
		return tm_record(a, tm_symboln("bind", 4), f, 1);
	f[1] = tm_symbol(name);
	return tm_record(a, tm_symboln("bind", 4), f, 2);
}

struct tm_term tm_pat_lit(struct tm_arena *a, struct tm_term value)
{
	return tm_record(a, tm_symboln("lit", 3), &value, 1);
}

struct tm_term tm_pat_rec(struct tm_arena *a, struct tm_term label,
			  const struct tm_term *fields, size_t n)
{
	struct tm_term f[2] = { label, tm_sequence(a, fields, n) };

	return tm_record(a, tm_symboln("rec", 3), f, 2);
}

struct tm_term tm_pat_arr(struct tm_arena *a, const struct tm_term *items,
			  size_t n)
{
	struct tm_term f = tm_sequence(a, items, n);

	return tm_record(a, tm_symboln("arr", 3), &f, 1);
}

struct tm_term tm_pat_dict(struct tm_arena *a, const struct tm_term *kp,
			   size_t npairs)
{
	struct tm_term f = tm_dict(a, kp, npairs);

	return tm_record(a, tm_symboln("dict", 4), &f, 1);
}

/* ---- text to pattern term ------------------------------------------ */

static int pp_pattern(struct tm_reader *r, struct tm_term *out);

/* Patterns up to the closing character, onto the reader's stack. */
static int pp_compound(struct tm_reader *r, int c, struct tm_term *out)
{
	struct tm_term label;
	size_t n;
	int err;

	if (r->depth >= TM_MAX_DEPTH)
		return TM_EDEPTH;
	r->depth++;
	r->pos++;
	if (c == '<') {
		err = tm__rd_skip_ws_ann(r, false);
		if (!err && rd_peek(r) == '>')
			err = TM_ESYNTAX;
		if (!err)
			err = tm__rd_value(r, &label);
		if (!err)
			err = tm__rd_items(r, '>', pp_pattern, &n);
		if (!err)
			*out = tm_pat_rec(r->a, label, rd_top(r, n), n);
	} else if (c == '[') {
		err = tm__rd_items(r, ']', pp_pattern, &n);
		if (!err)
			*out = tm_pat_arr(r->a, rd_top(r, n), n);
	} else {
		err = tm__rd_dict(r, pp_pattern, &n);
		if (!err) {
			*out = tm_pat_dict(r->a, rd_top(r, 2 * n), n);
			n *= 2;
		}
	}
	r->depth--;
	if (err)
		return err;
	r->sp -= n;
	return tm_term_error(out);
}

static int pp_pattern(struct tm_reader *r, struct tm_term *out)
{
	struct tm_term v, sub;
	const char *name;
	int c, err;

	err = tm__rd_skip_ws_ann(r, false);
	if (err)
		return err;
	c = rd_peek(r);
	if (c == '<' || c == '[' || c == '{')
		return pp_compound(r, c, out);
	err = tm__rd_value(r, &v);
	if (err)
		return err;
	if (tm_symbol_is(&v, "_")) {
		*out = tm_pat_discard(r->a);
	} else if (v.kind == TM_SYMBOL && v.len >= 1 && v.u.str[0] == '$') {
		/* the symbol's text is NUL-terminated in the arena */
		name = v.len > 1 ? v.u.str + 1 : NULL;
		if (rd_peek(r) == ':') {
			r->pos++;
			if (r->depth >= TM_MAX_DEPTH)
				return TM_EDEPTH;
			r->depth++;
			err = pp_pattern(r, &sub);
			r->depth--;
			if (err)
				return err;
		} else {
			sub = tm_pat_discard(r->a);
		}
		*out = tm_pat_bind(r->a, name, sub);
	} else {
		*out = tm_pat_lit(r->a, v);
	}
	return tm_term_error(out);
}

/*
 * Whether t nests at most TM_MAX_DEPTH compounds deep, so that it can be
 * decoded again: a pattern term nests about twice as deep as its text.
 */
static bool depth_ok(const struct tm_term *t, unsigned int depth)
{
	uint32_t i;

	if (t->kind < TM_RECORD || t->kind > TM_DICT)
		return true;
	if (depth >= TM_MAX_DEPTH)
		return false;
	for (i = 0; i < t->len; i++)
		if (!depth_ok(&t->u.items[i], depth + 1))
			return false;
	return true;
}

int tm_pattern_parse(struct tm_arena *a, const char *text, size_t len,
		     struct tm_term *out)
{
	struct tm_reader r;
	struct tm_term t;
	int err;

	if (!a || !out)
		return TM_EINVAL;
	tm__rd_init(&r, a, text, len);
	err = pp_pattern(&r, &t);
	if (!err) {
		tm__rd_skip_ws(&r, false);
		if (r.pos != r.len)
			err = TM_ETRAILING;
		else if (!depth_ok(&t, 0))
			err = TM_EDEPTH;
	}
	tm__rd_fini(&r);
	*out = err ? tm_invalid(err) : t;
	return err;
}

/* ---- compiling ----------------------------------------------------- */

struct compiler {
	struct insn *insn;
	size_t ninsn, capinsn;
	uint8_t *pool;
	size_t npool, cappool;
	const struct tm_term *names[TM_PAT_MAX_CAPTURES];
	size_t ncaps;
	uint32_t depth, maxdepth;
	uint32_t nest;		/* recursion of compile() */
	struct tm_arena a;	/* for literal values rebuilt from patterns */
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (n > UINT32_MAX / size)
		return TM_ELIMIT;
	q = realloc(*p, n * size);
	if (!q)
		return TM_ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static int emit(struct compiler *c, uint8_t op, uint8_t tag, uint32_t cap,
		uint32_t off, uint32_t len)
{
	int err = grow((void **)&c->insn, &c->capinsn, c->ninsn + 1,
		       sizeof(*c->insn));

	if (err)
		return err;
	c->insn[c->ninsn++] = (struct insn){ .op = op, .tag = tag,
					     .cap = (uint16_t)cap, .off = off,
					     .len = len };
	return 0;
}

/* Appends the canonical encoding of v to the pool; emits op with it. */
static int emit_lit(struct compiler *c, uint8_t op, const struct tm_term *v)
{
	ssize_t n = tm_encoded_size(v);
	int err;

	if (n < 0)
		return (int)n;
	if ((size_t)n > UINT32_MAX - c->npool)
		return TM_ELIMIT;
	err = grow((void **)&c->pool, &c->cappool, c->npool + (size_t)n, 1);
	if (err)
		return err;
	tm_encode(v, c->pool + c->npool, (size_t)n);
	err = emit(c, op, 0, 0, (uint32_t)c->npool, (uint32_t)n);
	c->npool += (size_t)n;
	return err;
}

static bool pat_is(const struct tm_term *p, const char *label, size_t arity)
{
	return tm_record_is(p, label, arity);
}

/* Whether the pattern matches exactly one value (no _, $ or dict). */
static bool is_literal(const struct tm_term *p, unsigned int depth)
{
	const struct tm_term *items;
	size_t i;

	if (depth > TM_MAX_DEPTH)
		return false;
	if (pat_is(p, "lit", 1))
		return true;
	if (pat_is(p, "rec", 2))
		items = tm_record_field(p, 1);
	else if (pat_is(p, "arr", 1))
		items = tm_record_field(p, 0);
	else
		return false;
	if (items->kind != TM_SEQUENCE)
		return false;
	for (i = 0; i < items->len; i++)
		if (!is_literal(&items->u.items[i], depth + 1))
			return false;
	return true;
}

/* The value a literal pattern matches, built in the compiler's arena. */
static struct tm_term literal_value(struct compiler *c,
				    const struct tm_term *p)
{
	const struct tm_term *items;
	struct tm_term *v;
	bool rec;
	size_t i;

	if (pat_is(p, "lit", 1))
		return *tm_record_field(p, 0);
	rec = pat_is(p, "rec", 2);
	items = tm_record_field(p, rec ? 1 : 0);
	v = tm_arena_alloc(&c->a, (items->len + 1) * sizeof(*v));
	if (!v)
		return tm_invalid(TM_ENOMEM);
	for (i = 0; i < items->len; i++)
		v[i] = literal_value(c, &items->u.items[i]);
	if (rec)
		return tm_record(&c->a, *tm_record_field(p, 0), v, items->len);
	return tm_sequence(&c->a, v, items->len);
}

static int compile_one(struct compiler *c, const struct tm_term *p);

static int compile(struct compiler *c, const struct tm_term *p)
{
	int err;

	if (c->nest >= 4 * TM_MAX_DEPTH)
		return TM_EDEPTH;
	c->nest++;
	err = compile_one(c, p);
	c->nest--;
	return err;
}

static int compile_one(struct compiler *c, const struct tm_term *p)
{
	const struct tm_term *items, *name;
	struct tm_term v;
	uint32_t idx;
	size_t i;
	int err;

	if (p->kind != TM_RECORD || tm_record_label(p)->kind != TM_SYMBOL)
		return TM_EINVAL;
	if (pat_is(p, "_", 0))
		return emit(c, OP_DISCARD, 0, 0, 0, 0);
	if (pat_is(p, "bind", 1) || pat_is(p, "bind", 2)) {
		if (c->ncaps >= TM_PAT_MAX_CAPTURES)
			return TM_ELIMIT;
		idx = (uint32_t)c->ncaps++;
		name = tm_record_arity(p) == 2 ? tm_record_field(p, 1) : NULL;
		if (name && name->kind != TM_SYMBOL && name->kind != TM_STRING)
			return TM_EINVAL;
		c->names[idx] = name;
		err = emit(c, OP_BIND, 0, idx, 0, 0);
		if (!err)
			err = compile(c, tm_record_field(p, 0));
		if (!err)
			err = emit(c, OP_BIND_END, 0, idx, 0, 0);
		return err;
	}
	if (pat_is(p, "lit", 1))
		return emit_lit(c, OP_LIT, tm_record_field(p, 0));

	if (c->depth >= TM_MAX_DEPTH)
		return TM_EDEPTH;
	if (is_literal(p, 0)) {
		v = literal_value(c, p);
		return emit_lit(c, OP_LIT, &v);
	}
	if (pat_is(p, "rec", 2) || pat_is(p, "arr", 1)) {
		bool rec = tm_record_arity(p) == 2;

		items = tm_record_field(p, rec ? 1 : 0);
		if (items->kind != TM_SEQUENCE)
			return TM_EINVAL;
		err = emit(c, OP_OPEN, rec ? TAG_RECORD : TAG_SEQUENCE, 0, 0, 0);
		if (!err && rec)
			err = emit_lit(c, OP_LIT, tm_record_field(p, 0));
		c->depth++;
		if (c->depth > c->maxdepth)
			c->maxdepth = c->depth;
		for (i = 0; !err && i < items->len; i++)
			err = compile(c, &items->u.items[i]);
		c->depth--;
		if (!err)
			err = emit(c, OP_CLOSE, 0, 0, 0, 0);
		return err;
	}
	if (pat_is(p, "dict", 1)) {
		items = tm_record_field(p, 0);
		if (items->kind != TM_DICT)
			return TM_EINVAL;
		err = emit(c, OP_OPEN, TAG_DICT, 0, 0, 0);
		c->depth++;
		if (c->depth > c->maxdepth)
			c->maxdepth = c->depth;
		for (i = 0; !err && i < items->len; i += 2) {
			err = emit_lit(c, OP_DKEY, &items->u.items[i]);
			if (!err)
				err = compile(c, &items->u.items[i + 1]);
		}
		c->depth--;
		if (!err)
			err = emit(c, OP_DCLOSE, 0, 0, 0, 0);
		return err;
	}
	return TM_EINVAL;
}

/* Bytes every match starts with: the leading OPENs and LITs. */
static size_t const_prefix(const struct compiler *c, uint8_t *out)
{
	size_t i, n = 0;

	for (i = 0; i < c->ninsn; i++) {
		const struct insn *in = &c->insn[i];

		if (in->op == OP_OPEN) {
			if (out)
				out[n] = in->tag;
			n++;
		} else if (in->op == OP_LIT) {
			if (out)
				memcpy(out + n, c->pool + in->off, in->len);
			n += in->len;
		} else if (in->op != OP_BIND && in->op != OP_BIND_END) {
			break;
		}
	}
	return n;
}

#define ALIGN8(x)	(((x) + 7) & ~(size_t)7)

static int pack(struct compiler *c, struct tm_pattern **out)
{
	size_t sz_insn = ALIGN8(c->ninsn * sizeof(struct insn));
	size_t sz_names = ALIGN8(c->ncaps * sizeof(char *));
	size_t npre = const_prefix(c, NULL), strs = 0, i;
	struct tm_pattern *p;
	uint8_t *mem, *s;

	for (i = 0; i < c->ncaps; i++)
		if (c->names[i])
			strs += c->names[i]->len + 1;
	p = malloc(ALIGN8(sizeof(*p)) + sz_insn + sz_names + c->npool + npre +
		   strs + 1);
	if (!p)
		return TM_ENOMEM;
	mem = (uint8_t *)p + ALIGN8(sizeof(*p));
	p->ninsn = (uint32_t)c->ninsn;
	p->ncaps = (uint32_t)c->ncaps;
	p->nprefix = (uint32_t)npre;
	p->depth = c->maxdepth;
	p->insn = (const struct insn *)mem;
	memcpy(mem, c->insn, c->ninsn * sizeof(struct insn));
	mem += sz_insn;
	p->names = (const char **)mem;
	mem += sz_names;
	if (c->npool)
		memcpy(mem, c->pool, c->npool);
	p->pool = mem;
	mem += c->npool;
	const_prefix(c, mem);
	p->prefix = mem;
	s = mem + npre;
	for (i = 0; i < c->ncaps; i++) {
		const struct tm_term *n = c->names[i];

		if (!n) {
			p->names[i] = NULL;
			continue;
		}
		memcpy(s, n->u.str, n->len);
		s[n->len] = 0;
		p->names[i] = (const char *)s;
		s += n->len + 1;
	}
	*out = p;
	return 0;
}

int tm_pattern_compile_term(const struct tm_term *pat, struct tm_pattern **out)
{
	struct compiler *c;
	int err;

	if (!pat || !out)
		return TM_EINVAL;
	*out = NULL;
	if (pat->kind == TM_INVALID)
		return tm_term_error(pat);
	c = calloc(1, sizeof(*c));
	if (!c)
		return TM_ENOMEM;
	tm_arena_init(&c->a, 0);
	err = compile(c, pat);
	if (!err)
		err = emit(c, OP_END, 0, 0, 0, 0);
	if (!err)
		err = pack(c, out);
	tm_arena_fini(&c->a);
	free(c->insn);
	free(c->pool);
	free(c);
	return err;
}

int tm_pattern_compile(const char *text, size_t len, struct tm_pattern **out)
{
	struct tm_arena a;
	struct tm_term t;
	int err;

	if (!out)
		return TM_EINVAL;
	*out = NULL;
	tm_arena_init(&a, 0);
	err = tm_pattern_parse(&a, text, len, &t);
	if (!err)
		err = tm_pattern_compile_term(&t, out);
	tm_arena_fini(&a);
	return err;
}

void tm_pattern_free(struct tm_pattern *p)
{
	free(p);
}

unsigned int tm_pattern_ncaptures(const struct tm_pattern *p)
{
	return p->ncaps;
}

const char *tm_pattern_capture_name(const struct tm_pattern *p, unsigned int i)
{
	return i < p->ncaps ? p->names[i] : NULL;
}

int tm_pattern_capture_index(const struct tm_pattern *p, const char *name)
{
	uint32_t i;

	for (i = 0; name && i < p->ncaps; i++)
		if (p->names[i] && !strcmp(p->names[i], name))
			return (int)i;
	return TM_EINVAL;
}

/* ---- the constant prefix ------------------------------------------- */

const uint8_t *tm_pattern_const_prefix(const struct tm_pattern *p,
				       size_t *len)
{
	*len = p->nprefix;
	return p->prefix;
}

int tm_pattern_prefix(const struct tm_pattern *p, struct tm_prefix *pf)
{
	uint32_t n = p->nprefix < 8 ? p->nprefix : 8;

	memset(pf, 0, sizeof(*pf));
	pf->total = p->nprefix;
	pf->len = n;
	memcpy(pf->data, p->prefix, n);
	memset(pf->mask, 0xff, n);
	return 0;
}

/* ---- matching bytes ------------------------------------------------ */

static int skip_varint(const uint8_t *b, size_t len, size_t *pos, size_t *n)
{
	uint64_t v = 0;
	unsigned int shift = 0;
	uint8_t c;

	do {
		if (*pos >= len)
			return TM_ESHORT;
		if (shift > 28)
			return TM_ELIMIT;
		c = b[(*pos)++];
		v |= (uint64_t)(c & 0x7F) << shift;
		shift += 7;
	} while (c & 0x80);
	if (v > len - *pos)
		return TM_ESHORT;
	*n = (size_t)v;
	return 0;
}

/* Skips one encoded value, iteratively (no recursion, any depth). */
static int skip_value(const uint8_t *b, size_t len, size_t *pos)
{
	size_t p = *pos, level = 0, n;
	bool more;
	int err;

	do {
		more = false;
		if (p >= len)
			return TM_ESHORT;
		switch (b[p++]) {
		case TAG_FALSE:
		case TAG_TRUE:
			break;
		case TAG_END:
			if (!level)
				return TM_EBADTAG;
			level--;
			break;
		case TAG_EMBEDDED:
			more = true;
			break;
		case TAG_IEEE754:
			if (len - p < 9)
				return TM_ESHORT;
			if (b[p] != 8)
				return TM_EBADTAG;
			p += 9;
			break;
		case TAG_INT:
		case TAG_STRING:
		case TAG_BYTES:
		case TAG_SYMBOL:
			err = skip_varint(b, len, &p, &n);
			if (err)
				return err;
			p += n;
			break;
		case TAG_RECORD:
		case TAG_SEQUENCE:
		case TAG_SET:
		case TAG_DICT:
			level++;
			break;
		default:
			return TM_EBADTAG;
		}
	} while (level || more);
	*pos = p;
	return 0;
}

static int bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b,
		     size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

int tm_match_bytes(const struct tm_pattern *p, const void *buf, size_t len,
		   struct tm_capture *caps, size_t ncaps)
{
	const uint8_t *b = buf;
	const struct insn *in;
	size_t pos = 0, k0;
	int err, c;

	if (!p || (!b && len) || len > UINT32_MAX)
		return TM_EINVAL;
	if (!caps)
		ncaps = 0;
	for (in = p->insn;; in++) {
		switch (in->op) {
		case OP_END:
			return pos == len;
		case OP_DISCARD:
			if (pos < len && b[pos] == TAG_END)
				return 0;
			err = skip_value(b, len, &pos);
			if (err)
				return err;
			break;
		case OP_LIT:
			if (len - pos < in->len ||
			    memcmp(b + pos, p->pool + in->off, in->len))
				return 0;
			pos += in->len;
			break;
		case OP_OPEN:
			if (pos >= len || b[pos] != in->tag)
				return 0;
			pos++;
			break;
		case OP_CLOSE:
			if (pos >= len || b[pos] != TAG_END)
				return 0;
			pos++;
			break;
		case OP_BIND:
			if (pos >= len || b[pos] == TAG_END)
				return 0;
			if (in->cap < ncaps)
				caps[in->cap].off = (uint32_t)pos;
			break;
		case OP_BIND_END:
			if (in->cap < ncaps) {
				caps[in->cap].len =
					(uint32_t)pos - caps[in->cap].off;
				caps[in->cap].term = NULL;
			}
			break;
		case OP_DKEY:
			for (;;) {
				if (pos >= len)
					return TM_ESHORT;
				if (b[pos] == TAG_END)
					return 0;
				k0 = pos;
				err = skip_value(b, len, &pos);
				if (err)
					return err;
				c = bytes_cmp(b + k0, pos - k0,
					      p->pool + in->off, in->len);
				if (c == 0)
					break;
				if (c > 0)
					return 0;
				err = skip_value(b, len, &pos);
				if (err)
					return err;
			}
			break;
		case OP_DCLOSE:
			for (;;) {
				if (pos >= len)
					return TM_ESHORT;
				if (b[pos] == TAG_END)
					break;
				err = skip_value(b, len, &pos);
				if (!err)
					err = skip_value(b, len, &pos);
				if (err)
					return err;
			}
			pos++;
			break;
		default:
			return TM_EINVAL;
		}
	}
}

/* ---- matching terms ------------------------------------------------ */

struct frame {
	const struct tm_term *t;
	uint32_t idx;
};

int tm_match_term(const struct tm_pattern *p, const struct tm_term *t,
		  struct tm_capture *caps, size_t ncaps)
{
	struct frame st[TM_MAX_DEPTH + 1];
	const struct tm_term *cur;
	const struct insn *in;
	bool root_done = false;
	struct frame *f;
	size_t sp = 0;
	int err, res;

	if (!p || !t)
		return TM_EINVAL;
	if (t->kind == TM_INVALID)
		return tm_term_error(t);
	if (!caps)
		ncaps = 0;
	for (in = p->insn;; in++) {
		f = sp ? &st[sp - 1] : NULL;
		if (!f)
			cur = root_done ? NULL : t;
		else
			cur = f->idx < f->t->len ? &f->t->u.items[f->idx] : NULL;

		switch (in->op) {
		case OP_END:
			return root_done;
		case OP_DISCARD:
		case OP_LIT:
			if (!cur)
				return 0;
			if (in->op == OP_LIT) {
				err = tm__canon_cmp_bytes(cur, p->pool + in->off,
							  in->len, &res);
				if (err)
					return err;
				if (res)
					return 0;
			}
			if (f)
				f->idx++;
			else
				root_done = true;
			break;
		case OP_OPEN:
			if (!cur || sp >= TM_MAX_DEPTH + 1)
				return 0;
			if ((in->tag == TAG_RECORD && cur->kind != TM_RECORD) ||
			    (in->tag == TAG_SEQUENCE &&
			     cur->kind != TM_SEQUENCE) ||
			    (in->tag == TAG_DICT && cur->kind != TM_DICT))
				return 0;
			st[sp++] = (struct frame){ .t = cur, .idx = 0 };
			break;
		case OP_CLOSE:
		case OP_DCLOSE:
			if (!f)
				return TM_EINVAL;
			if (in->op == OP_CLOSE && f->idx != f->t->len)
				return 0;
			sp--;
			if (sp)
				st[sp - 1].idx++;
			else
				root_done = true;
			break;
		case OP_BIND:
			if (!cur)
				return 0;
			if (in->cap < ncaps) {
				caps[in->cap].term = cur;
				caps[in->cap].off = 0;
				caps[in->cap].len = 0;
			}
			break;
		case OP_BIND_END:
			break;
		case OP_DKEY:
			if (!f)
				return TM_EINVAL;
			for (;;) {
				if (f->idx >= f->t->len)
					return 0;
				err = tm__canon_cmp_bytes(&f->t->u.items[f->idx],
							  p->pool + in->off,
							  in->len, &res);
				if (err)
					return err;
				if (res == 0) {
					f->idx++;
					break;
				}
				if (res > 0)
					return 0;
				f->idx += 2;
			}
			break;
		default:
			return TM_EINVAL;
		}
	}
}
