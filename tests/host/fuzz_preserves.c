// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * libFuzzer target for the term layer.  Each input is tried as:
 *
 *  - canonical binary: tm_decode(TM_DEC_CANONICAL) and tm_validate() must
 *    agree, and a canonical input must re-encode to exactly itself;
 *  - loose binary: whatever decodes must survive every round trip
 *    (encode, strict decode, hash, text print and parse, copies, order);
 *  - Preserves text: the same round trips for whatever parses;
 *  - a pattern (text): compiled patterns must give the same answer and the
 *    same captures on terms and on their encodings, and every matching
 *    encoding must start with the pattern's constant prefix;
 *  - bytes to match: fixed patterns run over the raw input never crash,
 *    and agree with term matching when the input is canonical.
 *
 * Any disagreement abort()s.  Build and run (see libtermite-user/term.mk):
 *
 *   clang -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined \
 *       -Ilibtermite-user tests/host/fuzz_preserves.c \
 *       libtermite-user/{term,preserves,text,pattern}.c \
 *       -lm -o build/tests/host/fuzz_preserves
 *   build/tests/host/fuzz_preserves -max_total_time=120 CORPUS_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "term.h"
#include "pattern.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "check failed: %s (%s:%d)\n",	\
				#cond, __FILE__, __LINE__);		\
			abort();					\
		}							\
	} while (0)

static const struct tm_limits lim = {
	.max_depth = TM_MAX_DEPTH,
	.max_alloc = 64u << 20,
};

/* Every round trip a valid term must survive. */
static void check_term(const struct tm_term *t)
{
	struct tm_term d, p, c;
	struct tm_term *cl;
	struct tm_arena a;
	uint8_t *enc, *enc2;
	size_t n, n2, used;
	char *text;
	int err;

	CHECK(tm_term_valid(t));
	tm_arena_init(&a, 0);
	enc = tm_encode_alloc(t, &n);
	CHECK(enc);
	CHECK(tm_validate(enc, n, 0, NULL, NULL) == 0);
	CHECK(tm_decode(&a, enc, n, TM_DEC_CANONICAL, NULL, &d, &used) == 0);
	CHECK(used == n);
	CHECK(tm_equal(t, &d));
	CHECK(tm_compare(t, &d) == 0);
	CHECK(tm_compare(&d, t) == 0);
	CHECK(tm_canon_compare(t, &d) == 0);
	CHECK(tm_hash(t) == tm_hash_bytes(enc, n));
	enc2 = tm_encode_alloc(&d, &n2);
	CHECK(enc2 && n2 == n && !memcmp(enc, enc2, n));
	free(enc2);

	text = tm_print_alloc(t);
	CHECK(text);
	err = tm_parse(&a, text, strlen(text), &p, NULL);
	/* the text syntax counts #: as a level and limits integer digits */
	if (err != TM_EDEPTH && err != TM_ELIMIT) {
		if (err || !tm_equal(t, &p))
			fprintf(stderr, "text round trip: %d %s\n", err, text);
		CHECK(err == 0);
		CHECK(tm_equal(t, &p));
	}
	free(text);

	c = tm_copy(&a, t);
	CHECK(tm_equal(t, &c));
	cl = tm_clone(t);
	CHECK(cl && tm_equal(t, cl));
	tm_free(cl);
	free(enc);
	tm_arena_fini(&a);
}

/* Term and bytes matching agree, captures included; prefix holds. */
static void check_match(const struct tm_pattern *pat, const struct tm_term *v)
{
	struct tm_capture ct[TM_PAT_MAX_CAPTURES], cb[TM_PAT_MAX_CAPTURES];
	unsigned int i, nc = tm_pattern_ncaptures(pat);
	const uint8_t *pre;
	struct tm_prefix pf;
	struct tm_arena a;
	struct tm_term d;
	uint8_t *enc;
	size_t n, np;
	int rt, rb;

	enc = tm_encode_alloc(v, &n);
	CHECK(enc);
	rt = tm_match_term(pat, v, ct, TM_PAT_MAX_CAPTURES);
	rb = tm_match_bytes(pat, enc, n, cb, TM_PAT_MAX_CAPTURES);
	CHECK(rt == rb);
	CHECK(rt == 0 || rt == 1);
	if (rt == 1) {
		tm_arena_init(&a, 0);
		for (i = 0; i < nc; i++) {
			CHECK((size_t)cb[i].off + cb[i].len <= n);
			CHECK(tm_decode(&a, enc + cb[i].off, cb[i].len,
					TM_DEC_CANONICAL, NULL, &d, NULL) == 0);
			CHECK(tm_equal(&d, ct[i].term));
		}
		tm_arena_fini(&a);
		pre = tm_pattern_const_prefix(pat, &np);
		CHECK(np <= n && !memcmp(pre, enc, np));
		tm_pattern_prefix(pat, &pf);
		CHECK(pf.len <= 8 && pf.off + pf.len <= n);
		for (i = 0; i < pf.len; i++)
			CHECK((enc[pf.off + i] & pf.mask[i]) == pf.data[i]);
	}
	free(enc);
}

static const char *const fixed_patterns[] = {
	"_", "$x", "<a $x _>", "{k: $v}", "[_ $ {a: [$]}]", "<ref $n pid $i>",
	"[$a:[_ _] $b:{}]", "<msg #:<ref #\"\" pid 1> $body>",
};

static const char *const fixed_values[] = {
	"<a 1 2>", "{k: [1 2] j: #t}", "[0 x {a: [\"s\"]}]", "<ref #\"\" pid 3>",
	"[[1 2] {}]", "<msg #:<ref #\"\" pid 1> <hello 2.5>>", "#{1 2}",
	"-123456789012345678901234567890",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tm_term strict, loose, text, v, pt;
	int rs, rv, rl, rx, rp, r;
	struct tm_pattern *pat;
	struct tm_arena a;
	uint8_t *enc;
	size_t i, n;

	tm_arena_init(&a, 0);

	/* canonical binary */
	rs = tm_decode(&a, data, size, TM_DEC_CANONICAL, &lim, &strict, NULL);
	rv = tm_validate(data, size, 0, &lim, NULL);
	CHECK(rs == rv || rs == TM_ENOMEM || rs == TM_ELIMIT);
	if (rs == 0) {
		enc = tm_encode_alloc(&strict, &n);
		CHECK(enc && n == size && !memcmp(enc, data, size));
		free(enc);
		check_term(&strict);
	}

	/* loose binary */
	rl = tm_decode(&a, data, size, 0, &lim, &loose, NULL);
	if (rs == 0)
		CHECK(rl == 0 && tm_equal(&strict, &loose));
	if (rl == 0)
		check_term(&loose);

	/* text */
	rx = tm_parse(&a, (const char *)data, size, &text, NULL);
	if (rx == 0)
		check_term(&text);

	/* the input as a pattern */
	rp = tm_pattern_compile((const char *)data, size, &pat);
	if (rp == 0) {
		CHECK(tm_pattern_parse(&a, (const char *)data, size, &pt) == 0);
		check_term(&pt);
		for (i = 0; i < ARRAY_SIZE(fixed_values); i++) {
			v = tm_invalid(TM_EINVAL);
			CHECK(tm_parse(&a, fixed_values[i], strlen(fixed_values[i]),
				       &v, NULL) == 0);
			check_match(pat, &v);
		}
		if (rl == 0)
			check_match(pat, &loose);
		if (rx == 0)
			check_match(pat, &text);
		tm_pattern_free(pat);
	}

	/* a decoded term as a pattern term */
	if (rl == 0 && tm_pattern_compile_term(&loose, &pat) == 0) {
		if (rx == 0)
			check_match(pat, &text);
		check_match(pat, &loose);
		tm_pattern_free(pat);
	}

	/* the input as bytes to match */
	for (i = 0; i < ARRAY_SIZE(fixed_patterns); i++) {
		CHECK(tm_pattern_compile(fixed_patterns[i],
					 strlen(fixed_patterns[i]), &pat) == 0);
		r = tm_match_bytes(pat, data, size, NULL, 0);
		CHECK(r <= 1);
		if (rs == 0)
			CHECK(r == tm_match_term(pat, &strict, NULL, 0));
		if (rx == 0)
			check_match(pat, &text);
		tm_pattern_free(pat);
	}

	tm_arena_fini(&a);
	return 0;
}
