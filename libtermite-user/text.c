// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * Preserves text syntax: a parser (for patterns, configuration, tests and
 * the demo) and a printer (for debugging).
 *
 * Spec: Preserves 0.996, "Preserves: Text Syntax",
 * https://preserves.dev/preserves-text.html (and the quick reference,
 * https://preserves.dev/cheatsheet.html).  Supported:
 *
 *   #t #f                   booleans (followed by a delimiter)
 *   12 -7 +3 1234567...     integers of any size (at most 1000 digits)
 *   1.5 -2e10 #xd"..."      doubles (#xd"" gives the 8 bytes in hex)
 *   "a\n\u00e9"             strings, JSON escapes, surrogate pairs
 *   #"abc\x00" #x"0aff"     byte strings; also #[base64]
 *   foo a-b 'a b' |a b|     symbols, bare or quoted
 *   <label field...>        records
 *   [a b c]                 sequences
 *   #{a b}                  sets (duplicates are an error)
 *   {k: v k2: v2}           dictionaries (duplicate keys are an error)
 *   #:<ref #x"..." pid 42>  embedded termite references (#! accepted too)
 *   @ann value              annotations (parsed and dropped)
 *   # comment               to the end of the line ("# ", "#<tab>", "#<nl>")
 *
 * Commas count as whitespace.  Decimal doubles go through strtod(), so the
 * C locale's decimal point is assumed.  The printer writes sets and
 * dictionaries in the total order, doubles in the shortest form that reads
 * back exactly, non-finite doubles as #xd"...", byte strings as #"..."
 * when printable and #x"..." otherwise, and quotes symbols as '...'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "term_internal.h"

#define TEXT_MAX_DIGITS	1000

/* ---- reader -------------------------------------------------------- */

void tm__rd_init(struct tm_reader *r, struct tm_arena *a, const char *s,
		 size_t len)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->len = s ? len : 0;
	r->a = a;
}

void tm__rd_fini(struct tm_reader *r)
{
	free(r->stk);
	r->stk = NULL;
	r->sp = r->cap = 0;
}

int tm__rd_push(struct tm_reader *r, const struct tm_term *t)
{
	struct tm_term *n;
	size_t cap;

	if (r->sp == r->cap) {
		cap = r->cap ? 2 * r->cap : 32;
		n = realloc(r->stk, cap * sizeof(*n));
		if (!n)
			return TM_ENOMEM;
		r->stk = n;
		r->cap = cap;
	}
	r->stk[r->sp++] = *t;
	return 0;
}

static bool is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_delim(int c)
{
	return c <= 0 || is_ws(c) || strchr("<>[]{}#:\"|@;',", c);
}

static bool is_symchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c >= 0x80 ||
	       (c > 0 && strchr("~!$%^&*?_=+-/.", c));
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int at(const struct tm_reader *r, size_t off)
{
	return r->pos + off < r->len ? (unsigned char)r->s[r->pos + off] : -1;
}

void tm__rd_skip_ws(struct tm_reader *r, bool commas)
{
	int c, n;

	for (;;) {
		c = rd_peek(r);
		n = at(r, 1);
		if (is_ws(c) || (commas && c == ',')) {
			r->pos++;
		} else if (c == '#' && is_ws(n)) {
			r->pos++;
			while (r->pos < r->len && r->s[r->pos] != '\n' &&
			       r->s[r->pos] != '\r')
				r->pos++;
		} else {
			return;
		}
	}
}

int tm__rd_skip_ws_ann(struct tm_reader *r, bool commas)
{
	struct tm_term ann;
	size_t sp;
	int err;

	for (;;) {
		tm__rd_skip_ws(r, commas);
		if (rd_peek(r) != '@')
			return 0;
		r->pos++;
		if (r->depth >= TM_MAX_DEPTH)
			return TM_EDEPTH;
		r->depth++;
		sp = r->sp;
		err = tm__rd_value(r, &ann);
		r->sp = sp;
		r->depth--;
		if (err)
			return err;
	}
}

static void *rd_alloc(struct tm_reader *r, size_t n, int *err)
{
	void *p = tm_arena_alloc(r->a, n);

	if (!p)
		*err = TM_ENOMEM;
	return p;
}

static size_t utf8_put(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xC0 | (cp >> 6));
		o[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xE0 | (cp >> 12));
		o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (uint8_t)(0xF0 | (cp >> 18));
	o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

static int read_u4(struct tm_reader *r, uint32_t *v)
{
	int i, h;

	*v = 0;
	for (i = 0; i < 4; i++) {
		h = hexval(at(r, (size_t)i));
		if (h < 0)
			return TM_ESYNTAX;
		*v = (*v << 4) | (uint32_t)h;
	}
	r->pos += 4;
	return 0;
}

/*
 * The body of a quoted string, symbol or byte string after its opening
 * quote, up to the closing quote q.  Output is never longer than input.
 */
static int rd_quoted(struct tm_reader *r, int q, bool binary,
		     const uint8_t **out, size_t *outlen)
{
	size_t start = r->pos, end, n = 0;
	uint32_t cp, lo;
	uint8_t *buf;
	int c, h1, h2, err = 0;

	/* find the closing quote first to size the buffer */
	for (end = start; end < r->len && r->s[end] != q; end++)
		if (r->s[end] == '\\')
			end++;
	if (end >= r->len)
		return TM_ESHORT;
	buf = rd_alloc(r, end - start + 1, &err);
	if (!buf)
		return err;

	while (r->pos < end) {
		c = (unsigned char)r->s[r->pos++];
		if (c != '\\') {
			if (binary && (c < 0x20 || c > 0x7E))
				return TM_ESYNTAX;
			buf[n++] = (uint8_t)c;
			continue;
		}
		c = rd_peek(r);
		r->pos++;
		switch (c) {
		case '\\': case '/': case '"': case '\'': case '|':
			buf[n++] = (uint8_t)c;
			break;
		case 'b':
			buf[n++] = '\b';
			break;
		case 'f':
			buf[n++] = '\f';
			break;
		case 'n':
			buf[n++] = '\n';
			break;
		case 'r':
			buf[n++] = '\r';
			break;
		case 't':
			buf[n++] = '\t';
			break;
		case 'x':
			if (!binary)
				return TM_ESYNTAX;
			h1 = hexval(at(r, 0));
			h2 = hexval(at(r, 1));
			if (h1 < 0 || h2 < 0 || r->pos + 2 > end)
				return TM_ESYNTAX;
			r->pos += 2;
			buf[n++] = (uint8_t)(h1 << 4 | h2);
			break;
		case 'u':
			if (binary || r->pos + 4 > end || read_u4(r, &cp))
				return TM_ESYNTAX;
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return TM_ESYNTAX;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (r->pos + 6 > end || at(r, 0) != '\\' ||
				    at(r, 1) != 'u')
					return TM_ESYNTAX;
				r->pos += 2;
				if (read_u4(r, &lo) || lo < 0xDC00 || lo > 0xDFFF)
					return TM_ESYNTAX;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			n += utf8_put(buf + n, cp);
			break;
		default:
			return TM_ESYNTAX;
		}
	}
	r->pos = end + 1;
	if (!binary && tm__utf8_check(buf, n))
		return TM_EUTF8;
	if (n >= UINT32_MAX)
		return TM_ELIMIT;
	buf[n] = 0;
	*out = buf;
	*outlen = n;
	return 0;
}

/* #x"..." (n == 0: any number of bytes) and #xd"..." (n == 8) */
static int rd_hex(struct tm_reader *r, size_t want, const uint8_t **out,
		  size_t *outlen)
{
	size_t n = 0, end;
	uint8_t *buf;
	int h1, h2, c, err = 0;

	for (end = r->pos; end < r->len && r->s[end] != '"'; end++)
		;
	if (end >= r->len)
		return TM_ESHORT;
	buf = rd_alloc(r, (end - r->pos) / 2 + 1, &err);
	if (!buf)
		return err;
	for (;;) {
		while ((c = rd_peek(r)) == ' ' || c == '\t' || c == '\r' ||
		       c == '\n')
			r->pos++;
		if (c == '"')
			break;
		h1 = hexval(c);
		h2 = hexval(at(r, 1));
		if (h1 < 0 || h2 < 0)
			return TM_ESYNTAX;
		buf[n++] = (uint8_t)(h1 << 4 | h2);
		r->pos += 2;
	}
	r->pos++;
	if (want && n != want)
		return TM_ESYNTAX;
	*out = buf;
	*outlen = n;
	return 0;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

static int rd_base64(struct tm_reader *r, const uint8_t **out, size_t *outlen)
{
	size_t n = 0, end;
	uint32_t acc = 0;
	int bits = 0, c, v, err = 0;
	uint8_t *buf;

	for (end = r->pos; end < r->len && r->s[end] != ']'; end++)
		;
	if (end >= r->len)
		return TM_ESHORT;
	buf = rd_alloc(r, (end - r->pos) * 3 / 4 + 1, &err);
	if (!buf)
		return err;
	for (; r->pos < end; r->pos++) {
		c = (unsigned char)r->s[r->pos];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '=')
			continue;
		v = b64val(c);
		if (v < 0)
			return TM_ESYNTAX;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (uint8_t)(acc >> bits);
		}
	}
	r->pos = end + 1;
	*out = buf;
	*outlen = n;
	return 0;
}

/* Decimal digits (with sign) to an integer term of any size. */
static int make_int(struct tm_reader *r, const char *s, size_t len,
		    struct tm_term *out)
{
	bool neg = false;
	size_t i, nb, k;
	uint8_t *mag;
	int64_t v = 0;
	int err = 0;

	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
		len--;
	}
	if (len > TEXT_MAX_DIGITS)
		return TM_ELIMIT;
	if (len <= 18) {
		for (i = 0; i < len; i++)
			v = v * 10 + (s[i] - '0');
		*out = tm_int(neg ? -v : v);
		return 0;
	}
	/* base-256 magnitude, big-endian, with a spare leading sign byte */
	nb = len * 5 / 12 + 3;
	mag = rd_alloc(r, nb, &err);
	if (!mag)
		return err;
	memset(mag, 0, nb);
	for (i = 0; i < len; i++) {
		unsigned int carry = (unsigned int)(s[i] - '0');

		for (k = nb; k-- > 0;) {
			unsigned int x = mag[k] * 10u + carry;

			mag[k] = (uint8_t)x;
			carry = x >> 8;
		}
	}
	if (neg) {
		unsigned int carry = 1;

		for (k = nb; k-- > 0;) {
			unsigned int x = (uint8_t)~mag[k] + carry;

			mag[k] = (uint8_t)x;
			carry = x >> 8;
		}
	}
	*out = tm_bigint(mag, nb);
	return 0;
}

/* Token classification: 1 integer, 2 double, 0 neither. */
static int number_kind(const char *s, size_t len)
{
	size_t i = 0, d;
	bool frac = false, exp = false;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == d)
		return 0;
	if (i < len && s[i] == '.') {
		i++;
		for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
		frac = true;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
		exp = true;
	}
	if (i != len)
		return 0;
	return frac || exp ? 2 : 1;
}

static int rd_token(struct tm_reader *r, struct tm_term *out)
{
	size_t start = r->pos, len;
	const char *s = r->s + start;
	char *copy;
	int kind, err = 0;
	double d;

	while (r->pos < r->len && is_symchar((unsigned char)r->s[r->pos]))
		r->pos++;
	len = r->pos - start;
	if (len == 0)
		return TM_ESYNTAX;
	if (!is_delim(rd_peek(r)))
		return TM_ESYNTAX;
	kind = number_kind(s, len);
	if (kind == 1)
		return make_int(r, s, len, out);
	copy = rd_alloc(r, len + 1, &err);
	if (!copy)
		return err;
	memcpy(copy, s, len);
	copy[len] = 0;
	if (kind == 2) {
		d = strtod(copy, NULL);
		*out = tm_double(d);
		return 0;
	}
	*out = tm_symboln(copy, len);
	return tm_term_error(out);
}

/* The colon between a dictionary key and its value; no commas around. */
int tm__rd_colon(struct tm_reader *r)
{
	tm__rd_skip_ws(r, false);
	if (rd_peek(r) != ':')
		return rd_peek(r) < 0 ? TM_ESHORT : TM_ESYNTAX;
	r->pos++;
	tm__rd_skip_ws(r, false);
	return rd_peek(r) == ',' ? TM_ESYNTAX : 0;
}

/*
 * The items of a record, sequence or set up to @close, each read by @item
 * and pushed on the reader's stack; *n gets their count.
 */
int tm__rd_items(struct tm_reader *r, int close, tm_rd_item_fn item,
		 size_t *n)
{
	bool commas = close != '>';
	struct tm_term v;
	size_t base = r->sp;
	int err;

	for (;;) {
		err = tm__rd_skip_ws_ann(r, commas);
		if (err)
			return err;
		if (rd_peek(r) < 0)
			return TM_ESHORT;
		if (rd_peek(r) == close) {
			r->pos++;
			break;
		}
		err = item(r, &v);
		if (!err)
			err = tm__rd_push(r, &v);
		if (err)
			return err;
	}
	*n = r->sp - base;
	return 0;
}

/*
 * The entries of a dictionary up to '}': a key (a value), a colon, and a
 * value read by @value; keys and values are pushed in turn, *n gets the
 * number of entries.
 */
int tm__rd_dict(struct tm_reader *r, tm_rd_item_fn value, size_t *n)
{
	struct tm_term k, v;
	size_t base = r->sp;
	int err;

	for (;;) {
		err = tm__rd_skip_ws_ann(r, true);
		if (err)
			return err;
		if (rd_peek(r) < 0)
			return TM_ESHORT;
		if (rd_peek(r) == '}') {
			r->pos++;
			break;
		}
		err = tm__rd_value(r, &k);
		if (!err)
			err = tm__rd_colon(r);
		if (!err)
			err = value(r, &v);
		if (!err)
			err = tm__rd_push(r, &k);
		if (!err)
			err = tm__rd_push(r, &v);
		if (err)
			return err;
	}
	*n = (r->sp - base) / 2;
	return 0;
}

/* Pops the top n items of the scratch stack into an arena array. */
static struct tm_term *rd_pop(struct tm_reader *r, size_t n, int *err)
{
	struct tm_term *items;

	if (n > UINT32_MAX / sizeof(*items)) {
		*err = TM_ELIMIT;
		return NULL;
	}
	items = rd_alloc(r, n * sizeof(*items), err);
	if (!items)
		return NULL;
	if (n)
		memcpy(items, rd_top(r, n), n * sizeof(*items));
	r->sp -= n;
	return items;
}

static int rd_compound(struct tm_reader *r, int open, struct tm_term *out)
{
	struct tm_term *items;
	enum tm_kind kind;
	size_t n;
	int err = 0;

	if (r->depth >= TM_MAX_DEPTH)
		return TM_EDEPTH;
	r->depth++;
	switch (open) {
	case '<':
		kind = TM_RECORD;
		err = tm__rd_items(r, '>', tm__rd_value, &n);
		if (!err && n == 0)
			err = TM_ESYNTAX;
		break;
	case '[':
		kind = TM_SEQUENCE;
		err = tm__rd_items(r, ']', tm__rd_value, &n);
		break;
	case '#':
		kind = TM_SET;
		err = tm__rd_items(r, '}', tm__rd_value, &n);
		break;
	default:
		kind = TM_DICT;
		err = tm__rd_dict(r, tm__rd_value, &n);
		if (!err)
			n *= 2;
		break;
	}
	r->depth--;
	if (err)
		return err;
	items = rd_pop(r, n, &err);
	if (!items)
		return err;
	if (kind == TM_SET)
		err = tm__sort_set(items, &n, false);
	else if (kind == TM_DICT)
		err = tm__sort_dict(items, n / 2);
	if (err)
		return err;
	*out = (struct tm_term){ .kind = (uint8_t)kind, .len = (uint32_t)n };
	out->u.items = items;
	return 0;
}

static int rd_embedded(struct tm_reader *r, struct tm_term *out)
{
	struct tm_term rec;
	struct tm_ref *ref;
	int err = 0;

	if (r->depth >= TM_MAX_DEPTH)
		return TM_EDEPTH;
	r->depth++;
	err = tm__rd_value(r, &rec);
	r->depth--;
	if (err)
		return err;
	ref = rd_alloc(r, sizeof(*ref), &err);
	if (!ref)
		return err;
	err = tm__ref_from_record(&rec, ref);
	if (err)
		return err;
	*out = tm_embedded(ref);
	return 0;
}

static int rd_hash(struct tm_reader *r, struct tm_term *out)
{
	const uint8_t *p;
	uint64_t bits = 0;
	size_t n, i;
	int c = at(r, 1), err;

	switch (c) {
	case '{':
		r->pos += 2;
		return rd_compound(r, '#', out);
	case 't':
	case 'f':
		r->pos += 2;
		if (!is_delim(rd_peek(r)))
			return TM_ESYNTAX;
		*out = tm_bool(c == 't');
		return 0;
	case '"':
		r->pos += 2;
		err = rd_quoted(r, '"', true, &p, &n);
		if (!err)
			*out = tm_bytes(p, n);
		return err;
	case '[':
		r->pos += 2;
		err = rd_base64(r, &p, &n);
		if (!err)
			*out = tm_bytes(p, n);
		return err;
	case ':':
	case '!':
		r->pos += 2;
		return rd_embedded(r, out);
	case 'x':
		if (at(r, 2) == '"') {
			r->pos += 3;
			err = rd_hex(r, 0, &p, &n);
			if (!err)
				*out = tm_bytes(p, n);
			return err;
		}
		if (at(r, 2) == 'd' && at(r, 3) == '"') {
			r->pos += 4;
			err = rd_hex(r, 8, &p, &n);
			if (err)
				return err;
			for (i = 0; i < 8; i++)
				bits = (bits << 8) | p[i];
			*out = (struct tm_term){ .kind = TM_DOUBLE };
			memcpy(&out->u.d, &bits, 8);
			return 0;
		}
		return at(r, 2) < 0 ? TM_ESHORT : TM_ESYNTAX;
	case -1:
		return TM_ESHORT;
	}
	return TM_ESYNTAX;
}

int tm__rd_value(struct tm_reader *r, struct tm_term *out)
{
	const uint8_t *p;
	size_t n;
	int c, err;

	err = tm__rd_skip_ws_ann(r, false);
	if (err)
		return err;
	c = rd_peek(r);
	switch (c) {
	case -1:
		return TM_ESHORT;
	case '<':
	case '[':
	case '{':
		r->pos++;
		return rd_compound(r, c, out);
	case '"':
		r->pos++;
		err = rd_quoted(r, '"', false, &p, &n);
		if (!err)
			*out = tm_stringn((const char *)p, n);
		return err;
	case '\'':
	case '|':
		r->pos++;
		err = rd_quoted(r, c, false, &p, &n);
		if (!err)
			*out = tm_symboln((const char *)p, n);
		return err;
	case '#':
		return rd_hash(r, out);
	}
	if (!is_symchar(c))
		return TM_ESYNTAX;
	return rd_token(r, out);
}

int tm_parse(struct tm_arena *a, const char *text, size_t len,
	     struct tm_term *out, size_t *used)
{
	struct tm_reader r;
	struct tm_term t;
	int err;

	if (!a || !out)
		return TM_EINVAL;
	tm__rd_init(&r, a, text, len);
	err = tm__rd_value(&r, &t);
	if (!err) {
		if (used) {
			*used = r.pos;
		} else {
			tm__rd_skip_ws(&r, false);
			if (r.pos != r.len)
				err = TM_ETRAILING;
		}
	}
	tm__rd_fini(&r);
	*out = err ? tm_invalid(err) : t;
	return err;
}

/* ---- printer ------------------------------------------------------- */

struct out {
	char *buf;
	size_t cap;
	size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - o->len;

		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putc_(struct out *o, char c)
{
	put(o, &c, 1);
}

static void put_hex(struct out *o, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		putc_(o, digits[p[i] >> 4]);
		putc_(o, digits[p[i] & 15]);
	}
}

static void put_escaped(struct out *o, const char *s, size_t n, char q)
{
	static const char esc[] = "\\\\\bb\ff\nn\rr\tt";
	const char *e;
	char tmp[8];
	size_t i;

	putc_(o, q);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		e = c ? memchr(esc, c, sizeof(esc) - 1) : NULL;
		if (e && (e - esc) % 2 == 0) {
			putc_(o, '\\');
			putc_(o, e[1]);
		} else if (c == (unsigned char)q) {
			putc_(o, '\\');
			putc_(o, q);
		} else if (c < 0x20 || c == 0x7F) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
			puts_(o, tmp);
		} else {
			putc_(o, (char)c);
		}
	}
	putc_(o, q);
}

static void put_bytes(struct out *o, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7E)
			break;
	if (i < n || n == 0) {
		puts_(o, "#x\"");
		put_hex(o, p, n);
		putc_(o, '"');
		return;
	}
	putc_(o, '#');
	putc_(o, '"');
	for (i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			putc_(o, '\\');
		putc_(o, (char)p[i]);
	}
	putc_(o, '"');
}

static void put_symbol(struct out *o, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80 || !is_symchar(c))
			break;
	}
	if (n == 0 || i < n || number_kind(s, n))
		put_escaped(o, s, n, '\'');
	else
		put(o, s, n);
}

static void put_double(struct out *o, double d)
{
	char tmp[40];
	uint64_t bits;
	uint8_t be[8];
	int prec, exp, i;

	memcpy(&bits, &d, 8);
	if (d != d || d - d != 0) {	/* NaN or infinity */
		for (i = 0; i < 8; i++)
			be[i] = (uint8_t)(bits >> (56 - 8 * i));
		puts_(o, "#xd\"");
		put_hex(o, be, 8);
		putc_(o, '"');
		return;
	}
	/* the fewest significant digits that read back exactly */
	for (prec = 1; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
	/* plain notation for 1e-7 <= |d| < 1e21, as JavaScript does */
	exp = atoi(strchr(tmp, 'e') + 1);
	if (exp >= -7 && exp < 21)
		snprintf(tmp, sizeof(tmp), "%.*f",
			 prec - 1 - exp > 0 ? prec - 1 - exp : 0, d);
	puts_(o, tmp);
	if (!strpbrk(tmp, ".e"))
		puts_(o, ".0");
}

static int put_bigint(struct out *o, const uint8_t *p, size_t n)
{
	bool neg = p[0] & 0x80;
	size_t i, nd = 0, start = 0;
	uint8_t *mag;
	char *dig;

	mag = malloc(n);
	dig = malloc(n * 3 + 1);
	if (!mag || !dig) {
		free(mag);
		free(dig);
		return TM_ENOMEM;
	}
	memcpy(mag, p, n);
	if (neg) {
		unsigned int carry = 1;

		for (i = n; i-- > 0;) {
			unsigned int x = (uint8_t)~mag[i] + carry;

			mag[i] = (uint8_t)x;
			carry = x >> 8;
		}
	}
	/* repeated division by 10, least significant digit first */
	while (start < n) {
		unsigned int rem = 0;

		for (i = start; i < n; i++) {
			unsigned int x = (rem << 8) | mag[i];

			mag[i] = (uint8_t)(x / 10);
			rem = x % 10;
		}
		dig[nd++] = (char)('0' + rem);
		while (start < n && mag[start] == 0)
			start++;
	}
	if (neg)
		putc_(o, '-');
	while (nd > 0)
		putc_(o, dig[--nd]);
	free(mag);
	free(dig);
	return 0;
}

static int print_term(struct out *o, const struct tm_term *t);

static int print_items(struct out *o, const struct tm_term *items, size_t n)
{
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		if (i)
			putc_(o, ' ');
		err = print_term(o, &items[i]);
		if (err)
			return err;
	}
	return 0;
}

static int print_sorted(struct out *o, const struct tm_term *t, size_t step)
{
	const struct tm_term **v = tm__sorted_view(t, step);
	const struct tm_term *x = NULL;
	bool first = true;
	size_t i = 0;
	int err = 0;

	/* sorted, or by O(n^2) selection when out of memory */
	while ((x = v ? (i < t->len / step ? v[i++] : NULL) :
		    tm__next_greater(t, step, x))) {
		if (!first)
			putc_(o, ' ');
		first = false;
		err = print_term(o, x);
		if (!err && step == 2) {
			puts_(o, ": ");
			err = print_term(o, x + 1);
		}
		if (err)
			break;
	}
	free(v);
	return err;
}

static int print_term(struct out *o, const struct tm_term *t)
{
	struct ref_rec rr;
	struct tm_term rec;
	uint8_t idbuf[9];
	char tmp[32];
	int err;

	switch (t->kind) {
	case TM_BOOL:
		puts_(o, t->u.b ? "#t" : "#f");
		return 0;
	case TM_DOUBLE:
		put_double(o, t->u.d);
		return 0;
	case TM_INT:
		if (t->flags & TM_F_BIGINT)
			return put_bigint(o, t->u.ptr, t->len);
		snprintf(tmp, sizeof(tmp), "%lld", (long long)t->u.i);
		puts_(o, tmp);
		return 0;
	case TM_STRING:
		put_escaped(o, t->u.str, t->len, '"');
		return 0;
	case TM_BYTES:
		put_bytes(o, t->u.ptr, t->len);
		return 0;
	case TM_SYMBOL:
		put_symbol(o, t->u.str, t->len);
		return 0;
	case TM_RECORD:
		if (t->len == 0)
			return TM_EMALFORMED;
		putc_(o, '<');
		err = print_items(o, t->u.items, t->len);
		putc_(o, '>');
		return err;
	case TM_SEQUENCE:
		putc_(o, '[');
		err = print_items(o, t->u.items, t->len);
		putc_(o, ']');
		return err;
	case TM_SET:
		puts_(o, "#{");
		err = print_sorted(o, t, 1);
		putc_(o, '}');
		return err;
	case TM_DICT:
		if (t->len & 1)
			return TM_EMALFORMED;
		putc_(o, '{');
		err = print_sorted(o, t, 2);
		putc_(o, '}');
		return err;
	case TM_EMBEDDED:
		puts_(o, "#:");
		tm__ref_record(t->u.ref, &rr, idbuf, &rec);
		return print_term(o, &rec);
	case TM_INVALID:
		return t->u.err < 0 ? t->u.err : TM_EINVAL;
	}
	return TM_EINVAL;
}

ssize_t tm_print(const struct tm_term *t, char *buf, size_t cap)
{
	struct out o = { .buf = buf, .cap = buf && cap ? cap - 1 : 0 };
	int err;

	err = print_term(&o, t);
	if (buf && cap)
		buf[o.len < o.cap ? o.len : o.cap] = 0;
	if (err)
		return err;
	return (ssize_t)o.len;
}

char *tm_print_alloc(const struct tm_term *t)
{
	ssize_t n = tm_print(t, NULL, 0);
	char *buf;

	if (n < 0)
		return NULL;
	buf = malloc((size_t)n + 1);
	if (!buf)
		return NULL;
	tm_print(t, buf, (size_t)n + 1);
	return buf;
}
