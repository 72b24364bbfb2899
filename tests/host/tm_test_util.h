/* SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT) */
/*
 * Helpers shared by the host unit tests of the term layer (term_test.c,
 * text_test.c, pattern_test.c): hex strings to bytes and back, and the
 * encode / decode / print / parse round trips most tests check.
 * Static functions only; each test file includes it once.
 */
#ifndef TM_TEST_UTIL_H
#define TM_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "term.h"
#include "pattern.h"

/* A pointer to a temporary term. */
#define REF(x) (&(struct tm_term[1]){ x }[0])

/* Hex digits (whitespace ignored) to bytes; returns the count or -1. */
static inline ssize_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *hex; hex++) {
		int c = *hex, v;

		if (c == ' ' || c == '\n' || c == '\t')
			continue;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= cap)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? (ssize_t)n : -1;
}

/* Bytes to a lowercase hex string (static buffer per call site). */
static inline const char *tohex(const uint8_t *p, size_t n, char *out,
				size_t cap)
{
	size_t i;

	out[0] = 0;
	for (i = 0; i < n && 2 * i + 2 < cap; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	return out;
}

/* Encoding of t as hex into out (cap bytes); "" when t is invalid. */
static inline const char *enc_hex(const struct tm_term *t, char *out,
				  size_t cap)
{
	uint8_t buf[4096];
	ssize_t n = tm_encode(t, buf, sizeof(buf));

	if (n < 0 || (size_t)n > sizeof(buf)) {
		out[0] = 0;
		return out;
	}
	return tohex(buf, (size_t)n, out, cap);
}

/* Text of t into out; "" when t is invalid. */
static inline const char *text_of(const struct tm_term *t, char *out,
				  size_t cap)
{
	if (tm_print(t, out, cap) < 0)
		out[0] = 0;
	return out;
}

/* Parse text that must be valid; an invalid term otherwise. */
static inline struct tm_term P(struct tm_arena *a, const char *text)
{
	struct tm_term t;

	tm_parse(a, text, strlen(text), &t, NULL);
	return t;
}

/* Decode hex bytes with flags; returns the error code. */
static inline int D(struct tm_arena *a, const char *hex, unsigned int flags,
		    struct tm_term *out)
{
	uint8_t buf[4096];
	ssize_t n = unhex(hex, buf, sizeof(buf));

	if (n < 0)
		return -1000;
	/* decoded atoms are copies, so buf may go */
	return tm_decode(a, buf, (size_t)n, flags, NULL, out, NULL);
}

/*
 * Every check a value should pass: canonical encoding decodes (strictly)
 * to an equal term which encodes identically, hashes agree, validation
 * agrees, the text form parses back to an equal term, and copies are
 * equal.  Returns 0 or the number of the failed step.
 */
static inline int roundtrip(const struct tm_term *t)
{
	struct tm_arena a;
	struct tm_term d, p, c;
	struct tm_term *cl;
	uint8_t *enc, *enc2;
	size_t n, n2, used;
	char *text;
	int ret = 0;

	tm_arena_init(&a, 0);
	enc = tm_encode_alloc(t, &n);
	if (!enc)
		return 1;
	if (tm_decode(&a, enc, n, TM_DEC_CANONICAL, NULL, &d, &used) ||
	    used != n) {
		ret = 2;
		goto out;
	}
	if (!tm_equal(t, &d) || tm_compare(t, &d) != 0) {
		ret = 3;
		goto out;
	}
	enc2 = tm_encode_alloc(&d, &n2);
	if (!enc2 || n2 != n || memcmp(enc, enc2, n)) {
		free(enc2);
		ret = 4;
		goto out;
	}
	free(enc2);
	if (tm_hash(t) != tm_hash(&d) || tm_hash(t) != tm_hash_bytes(enc, n)) {
		ret = 5;
		goto out;
	}
	if (tm_validate(enc, n, 0, NULL, NULL)) {
		ret = 6;
		goto out;
	}
	text = tm_print_alloc(t);
	if (!text) {
		ret = 7;
		goto out;
	}
	if (tm_parse(&a, text, strlen(text), &p, NULL) || !tm_equal(t, &p)) {
		fprintf(stderr, "# text round trip failed: %s\n", text);
		free(text);
		ret = 8;
		goto out;
	}
	free(text);
	c = tm_copy(&a, t);
	cl = tm_clone(t);
	if (!tm_equal(t, &c) || !cl || !tm_equal(t, cl))
		ret = 9;
	tm_free(cl);
out:
	free(enc);
	tm_arena_fini(&a);
	return ret;
}

#endif /* TM_TEST_UTIL_H */
