// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * Preserves binary syntax: canonical encoder, and a decoder (and
 * allocation-free validator) for untrusted input.
 *
 * Spec: Preserves 0.996, "Preserves: Binary Syntax",
 * https://preserves.dev/preserves-binary.html, and "Canonical Form for
 * Binary Syntax", https://preserves.dev/canonical-binary.html:
 *
 *   «#f» = 80   «#t» = 81   end = 84   «@W V» = 85 «W» «V»   «#:V» = 86 «V»
 *   «D» = 87 08 binary64(D), big-endian
 *   «n» = B0 varint(|intbytes(n)|) intbytes(n)   (minimal two's complement,
 *         big-endian; zero has no bytes)
 *   «s» = B1 varint(len) utf8   «b» = B2 varint(len) bytes
 *   «sym» = B3 varint(len) utf8
 *   «<L F...>» = B4 «L» «F»... 84   «[X...]» = B5 «X»... 84
 *   «#{E...}» = B6 «E»... 84        «{K: V...}» = B7 «K» «V»... 84
 *   varint = LEB128 (7 bits a byte, least significant group first)
 *
 * Canonical form: no annotations; shortest varints and integers; set
 * elements and dictionary keys in ascending order of their canonical
 * encodings.  This implementation always requires shortest varints and
 * integers, and only IEEE 754 doubles (length byte 8).
 *
 * Embedded values: a termite reference (struct tm_ref) is written as the
 * embedded tag 0x86 followed by the record <ref node kind id>, that is
 *   86 B4 B3 03 "ref" B2 <len> <node> B3 03 ("pid"|"tag") B0 <len> <id> 84
 * with node a byte string of at most 32 bytes and id an integer in
 * [0, 2^64).  No other embedded value is accepted.
 */
#include <stdlib.h>
#include <string.h>

#include "term_internal.h"

/* ---- encoding ------------------------------------------------------ */

static int encode_ref(struct tm_sink *s, const struct tm_ref *r)
{
	struct ref_rec rr;
	struct tm_term rec;
	uint8_t idbuf[9];

	tm__ref_record(r, &rr, idbuf, &rec);
	return tm__encode_sink(s, &rec);
}

int tm__encode_sink(struct tm_sink *s, const struct tm_term *t)
{
	static const uint8_t ctag[] = {
		[TM_RECORD] = TAG_RECORD, [TM_SEQUENCE] = TAG_SEQUENCE,
		[TM_SET] = TAG_SET, [TM_DICT] = TAG_DICT,
		[TM_INT] = TAG_INT, [TM_STRING] = TAG_STRING,
		[TM_BYTES] = TAG_BYTES, [TM_SYMBOL] = TAG_SYMBOL,
	};
	uint8_t hdr[11], tmp[8];
	const uint8_t *p;
	uint64_t bits;
	size_t n, h;
	uint32_t i;
	int err;

	switch (t->kind) {
	case TM_BOOL:
		sink_byte(s, t->u.b ? TAG_TRUE : TAG_FALSE);
		return 0;
	case TM_DOUBLE:
		memcpy(&bits, &t->u.d, 8);
		hdr[0] = TAG_IEEE754;
		hdr[1] = 8;
		for (i = 0; i < 8; i++)
			hdr[2 + i] = (uint8_t)(bits >> (56 - 8 * i));
		sink_put(s, hdr, 10);
		return 0;
	case TM_INT:
	case TM_STRING:
	case TM_BYTES:
	case TM_SYMBOL:
		if (t->kind == TM_INT && !(t->flags & TM_F_BIGINT)) {
			n = int64_bytes(t->u.i, tmp);
			p = tmp;
		} else {
			n = t->len;
			p = t->u.ptr;
		}
		hdr[0] = ctag[t->kind];
		h = 1 + varint_put(hdr + 1, n);
		sink_put(s, hdr, h);
		if (n)
			sink_put(s, p, n);
		return 0;
	case TM_RECORD:
	case TM_SEQUENCE:
	case TM_SET:
	case TM_DICT:
		if (t->kind == TM_RECORD && t->len == 0)
			return TM_EMALFORMED;
		if (t->kind == TM_DICT && (t->len & 1))
			return TM_EMALFORMED;
		sink_byte(s, ctag[t->kind]);
		for (i = 0; i < t->len; i++) {
			err = tm__encode_sink(s, &t->u.items[i]);
			if (err)
				return err;
		}
		sink_byte(s, TAG_END);
		return 0;
	case TM_EMBEDDED:
		sink_byte(s, TAG_EMBEDDED);
		return encode_ref(s, t->u.ref);
	case TM_INVALID:
		return t->u.err < 0 ? t->u.err : TM_EINVAL;
	}
	return TM_EINVAL;
}

ssize_t tm_encode(const struct tm_term *t, void *buf, size_t cap)
{
	struct tm_sink s = { .mode = SINK_BUF, .buf = buf, .cap = buf ? cap : 0 };
	int err;

	err = tm__encode_sink(&s, t);
	if (err)
		return err;
	return (ssize_t)s.len;
}

ssize_t tm_encoded_size(const struct tm_term *t)
{
	return tm_encode(t, NULL, 0);
}

void *tm_encode_alloc(const struct tm_term *t, size_t *len)
{
	ssize_t n = tm_encoded_size(t);
	void *buf;

	if (n < 0)
		return NULL;
	buf = malloc(n ? (size_t)n : 1);
	if (!buf)
		return NULL;
	tm_encode(t, buf, (size_t)n);
	if (len)
		*len = (size_t)n;
	return buf;
}

int tm__canon_cmp_bytes(const struct tm_term *t, const uint8_t *ref,
			size_t len, int *res)
{
	struct tm_sink s = { .mode = SINK_CMP, .ref = ref, .reflen = len };
	int err;

	err = tm__encode_sink(&s, t);
	if (err)
		return err;
	if (!s.cmp && s.len < len)
		s.cmp = -1;
	*res = s.cmp;
	return 0;
}

/* ---- decoding ------------------------------------------------------ */

struct dec {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	unsigned int flags;
	bool build;		/* false: validate only */
	struct tm_arena *a;
	size_t alloc_base;
	size_t max_alloc;
	uint32_t max_depth;
	size_t max_atom;
	size_t items;
	size_t max_items;
	struct tm_term *stk;	/* items of the compounds being decoded */
	size_t sp;
	size_t cap;
};

static void *dec_alloc(struct dec *d, size_t size, int *err)
{
	void *p;

	if (d->max_alloc &&
	    (size > d->max_alloc ||
	     d->a->used - d->alloc_base > d->max_alloc - size)) {
		*err = TM_ELIMIT;
		return NULL;
	}
	p = tm_arena_alloc(d->a, size);
	if (!p)
		*err = TM_ENOMEM;
	return p;
}

static int dec_push(struct dec *d, const struct tm_term *t)
{
	struct tm_term *n;
	size_t cap;

	if (d->sp == d->cap) {
		cap = d->cap ? 2 * d->cap : 64;
		n = realloc(d->stk, cap * sizeof(*n));
		if (!n)
			return TM_ENOMEM;
		d->stk = n;
		d->cap = cap;
	}
	d->stk[d->sp++] = *t;
	return 0;
}

static int dec_varint(struct dec *d, size_t *out)
{
	uint64_t v = 0;
	unsigned int shift = 0;
	uint8_t b;

	for (;;) {
		if (d->pos >= d->len)
			return TM_ESHORT;
		b = d->buf[d->pos++];
		v |= (uint64_t)(b & 0x7F) << shift;
		if (!(b & 0x80)) {
			if (b == 0 && shift)
				return TM_ENONCANON;
			break;
		}
		shift += 7;
		if (shift > 28)
			return TM_ELIMIT;	/* 4 GiB and up */
	}
	*out = (size_t)v;
	return 0;
}

/* Length of an atom, checked against the input and the limits. */
static int dec_len(struct dec *d, size_t *n)
{
	int err = dec_varint(d, n);

	if (err)
		return err;
	if (*n > d->max_atom || *n >= UINT32_MAX)
		return TM_ELIMIT;
	if (*n > d->len - d->pos)
		return TM_ESHORT;
	return 0;
}

static int dec_expect(struct dec *d, const void *bytes, size_t n)
{
	size_t avail = d->len - d->pos;
	int c = memcmp(d->buf + d->pos, bytes, n < avail ? n : avail);

	if (c)
		return TM_EEMBED;
	if (n > avail)
		return TM_ESHORT;
	d->pos += n;
	return 0;
}

/* The record after the embedded tag; see the top of the file. */
static int dec_embedded(struct dec *d, struct tm_term *out)
{
	static const uint8_t head[] = { TAG_RECORD, TAG_SYMBOL, 3, 'r', 'e', 'f',
					TAG_BYTES };
	static const uint8_t pid[] = { TAG_SYMBOL, 3, 'p', 'i', 'd' };
	static const uint8_t tag[] = { TAG_SYMBOL, 3, 't', 'a', 'g' };
	static const uint8_t end[] = { TAG_END };
	struct tm_ref r = { 0 }, *rp;
	const uint8_t *p;
	size_t n, i;
	int err;

	err = dec_expect(d, head, sizeof(head));
	if (err)
		return err;
	err = dec_len(d, &n);
	if (err)
		return err;
	if (n > TM_NODE_MAX)
		return TM_EEMBED;
	r.node_len = (uint8_t)n;
	memcpy(r.node, d->buf + d->pos, n);
	d->pos += n;
	err = dec_expect(d, pid, sizeof(pid));
	if (err == TM_EEMBED) {
		err = dec_expect(d, tag, sizeof(tag));
		r.kind = TM_REF_TAG;
	}
	if (err)
		return err;
	err = dec_expect(d, (const uint8_t[]){ TAG_INT }, 1);
	if (err)
		return err;
	err = dec_len(d, &n);
	if (err)
		return err;
	p = d->buf + d->pos;
	if (n > 9 || (n && (p[0] & 0x80)) || (n == 9 && p[0] != 0))
		return TM_EEMBED;
	if ((n == 1 && p[0] == 0) || (n >= 2 && p[0] == 0 && !(p[1] & 0x80)))
		return TM_ENONCANON;
	for (i = 0; i < n; i++)
		r.id = (r.id << 8) | p[i];
	d->pos += n;
	err = dec_expect(d, end, 1);
	if (err)
		return err;
	if (!d->build)
		return 0;
	rp = dec_alloc(d, sizeof(*rp), &err);
	if (!rp)
		return err;
	*rp = r;
	*out = tm_embedded(rp);
	return 0;
}

/* span comparison for the canonical order of set elements / dict keys */
static int span_cmp(const uint8_t *buf, size_t a0, size_t a1, size_t b0,
		    size_t b1)
{
	size_t la = a1 - a0, lb = b1 - b0, n = la < lb ? la : lb;
	int c = memcmp(buf + a0, buf + b0, n);

	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

static int dec_value(struct dec *d, uint32_t depth, struct tm_term *out);

static int dec_compound(struct dec *d, uint8_t tag, uint32_t depth,
			struct tm_term *out)
{
	bool strict = d->flags & TM_DEC_CANONICAL;
	size_t base = d->sp, n = 0, p0 = 0, p1 = 0, e0, e1;
	struct tm_term child, *items = NULL;
	enum tm_kind kind;
	int err, c;

	if (depth + 1 > d->max_depth)
		return TM_EDEPTH;
	for (;;) {
		if (d->pos >= d->len)
			return TM_ESHORT;
		if (d->buf[d->pos] == TAG_END) {
			d->pos++;
			break;
		}
		e0 = d->pos;
		err = dec_value(d, depth + 1, &child);
		if (err)
			return err;
		e1 = d->pos;
		if (d->build) {
			err = dec_push(d, &child);
			if (err)
				return err;
		}
		if (strict && (tag == TAG_SET || (tag == TAG_DICT && !(n & 1)))) {
			if (n) {
				c = span_cmp(d->buf, p0, p1, e0, e1);
				if (c == 0)
					return TM_EDUP;
				if (c > 0)
					return TM_EORDER;
			}
			p0 = e0;
			p1 = e1;
		}
		n++;
	}
	if ((tag == TAG_RECORD && n == 0) || (tag == TAG_DICT && (n & 1)))
		return TM_EMALFORMED;
	if (n > UINT32_MAX)
		return TM_ELIMIT;
	if (!d->build)
		return 0;

	if (n) {
		items = dec_alloc(d, n * sizeof(*items), &err);
		if (!items)
			return err;
		memcpy(items, d->stk + base, n * sizeof(*items));
	}
	d->sp = base;
	switch (tag) {
	case TAG_RECORD:
		kind = TM_RECORD;
		break;
	case TAG_SEQUENCE:
		kind = TM_SEQUENCE;
		break;
	case TAG_SET:
		kind = TM_SET;
		if (!strict) {
			err = tm__sort_set(items, &n, false);
			if (err)
				return err;
		}
		break;
	default:
		kind = TM_DICT;
		if (!strict) {
			err = tm__sort_dict(items, n / 2);
			if (err)
				return err;
		}
		break;
	}
	*out = (struct tm_term){ .kind = (uint8_t)kind, .len = (uint32_t)n };
	out->u.items = items;
	return 0;
}

static int dec_atom(struct dec *d, uint8_t tag, struct tm_term *out)
{
	const uint8_t *p;
	uint8_t *copy;
	size_t n;
	int err;

	err = dec_len(d, &n);
	if (err)
		return err;
	p = d->buf + d->pos;
	if (tag == TAG_INT && n && (n == 1 ? p[0] == 0 :
	    (p[0] == 0x00 && !(p[1] & 0x80)) ||
	    (p[0] == 0xFF && (p[1] & 0x80))))
		return TM_ENONCANON;
	if ((tag == TAG_STRING || tag == TAG_SYMBOL) && tm__utf8_check(p, n))
		return TM_EUTF8;
	d->pos += n;
	if (!d->build)
		return 0;
	if (tag == TAG_INT && n <= 8) {
		*out = tm_bigint(p, n);
		return 0;
	}
	if (!(d->flags & TM_DEC_BORROW)) {
		copy = dec_alloc(d, n + 1, &err);
		if (!copy)
			return err;
		memcpy(copy, p, n);
		copy[n] = 0;
		p = copy;
	}
	switch (tag) {
	case TAG_INT:
		*out = tm_bigint(p, n);
		break;
	case TAG_STRING:
		*out = (struct tm_term){ .kind = TM_STRING, .len = (uint32_t)n };
		break;
	case TAG_BYTES:
		*out = (struct tm_term){ .kind = TM_BYTES, .len = (uint32_t)n };
		break;
	default:
		*out = (struct tm_term){ .kind = TM_SYMBOL, .len = (uint32_t)n };
		break;
	}
	if (tag != TAG_INT)
		out->u.ptr = p;
	return 0;
}

static int dec_value(struct dec *d, uint32_t depth, struct tm_term *out)
{
	struct tm_term ann;
	uint64_t bits;
	uint8_t tag;
	size_t sp, i;
	int err;

	for (;;) {
		if (d->pos >= d->len)
			return TM_ESHORT;
		if (++d->items > d->max_items)
			return TM_ELIMIT;
		tag = d->buf[d->pos++];
		if (tag != TAG_ANNOTATION)
			break;
		/* @annotation value: decode and drop the annotation */
		if (d->flags & TM_DEC_CANONICAL)
			return TM_EANNOT;
		if (depth + 1 > d->max_depth)
			return TM_EDEPTH;
		sp = d->sp;
		err = dec_value(d, depth + 1, &ann);
		if (err)
			return err;
		d->sp = sp;
	}

	switch (tag) {
	case TAG_FALSE:
	case TAG_TRUE:
		*out = tm_bool(tag == TAG_TRUE);
		return 0;
	case TAG_EMBEDDED:
		return dec_embedded(d, out);
	case TAG_IEEE754:
		if (d->pos >= d->len)
			return TM_ESHORT;
		if (d->buf[d->pos] != 8)
			return TM_EBADTAG;	/* only doubles in 0.996 */
		if (d->len - d->pos < 9)
			return TM_ESHORT;
		bits = 0;
		for (i = 1; i <= 8; i++)
			bits = (bits << 8) | d->buf[d->pos + i];
		d->pos += 9;
		*out = (struct tm_term){ .kind = TM_DOUBLE };
		memcpy(&out->u.d, &bits, 8);
		return 0;
	case TAG_INT:
	case TAG_STRING:
	case TAG_BYTES:
	case TAG_SYMBOL:
		return dec_atom(d, tag, out);
	case TAG_RECORD:
	case TAG_SEQUENCE:
	case TAG_SET:
	case TAG_DICT:
		return dec_compound(d, tag, depth, out);
	}
	return TM_EBADTAG;
}

static int decode(struct dec *d, const void *buf, size_t len,
		  unsigned int flags, const struct tm_limits *lim,
		  struct tm_term *out, size_t *used)
{
	struct tm_term t = { 0 };
	int err;

	d->buf = buf;
	d->len = buf ? len : 0;
	d->flags = flags;
	d->max_depth = TM_MAX_DEPTH;
	d->max_atom = SIZE_MAX;
	d->max_items = SIZE_MAX;
	if (lim) {
		if (lim->max_depth && lim->max_depth < TM_MAX_DEPTH)
			d->max_depth = lim->max_depth;
		if (lim->max_atom)
			d->max_atom = lim->max_atom;
		if (lim->max_items)
			d->max_items = lim->max_items;
		d->max_alloc = lim->max_alloc;
	}
	if (d->a)
		d->alloc_base = d->a->used;

	err = dec_value(d, 0, &t);
	if (!err && !(flags & TM_DEC_PREFIX) && d->pos != d->len)
		err = TM_ETRAILING;
	free(d->stk);
	if (out)
		*out = err ? tm_invalid(err) : t;
	if (!err && used)
		*used = d->pos;
	return err;
}

int tm_decode(struct tm_arena *a, const void *buf, size_t len,
	      unsigned int flags, const struct tm_limits *lim,
	      struct tm_term *out, size_t *used)
{
	struct dec d = { .a = a, .build = true };

	if (!a || !out) {
		if (out)
			*out = tm_invalid(TM_EINVAL);
		return TM_EINVAL;
	}
	return decode(&d, buf, len, flags, lim, out, used);
}

int tm_validate(const void *buf, size_t len, unsigned int flags,
		const struct tm_limits *lim, size_t *used)
{
	struct dec d = { .build = false };

	return decode(&d, buf, len, flags | TM_DEC_CANONICAL, lim, NULL, used);
}
