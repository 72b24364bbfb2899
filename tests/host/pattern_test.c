// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * Host unit tests of the Syndicate pattern layer: parsing and compiling
 * patterns (text and pattern terms), matching decoded terms and encoded
 * bytes (results and captures must agree), dictionary patterns, captures
 * by name, the constant prefix for the kernel's selective receive, and
 * robustness on malformed bytes.
 */
#include "kselftest_harness.h"
#include "tm_test_util.h"

FIXTURE(p) {
	struct tm_arena a;
	char buf[4096];
};

FIXTURE_SETUP(p)
{
	tm_arena_init(&self->a, 0);
}

FIXTURE_TEARDOWN(p)
{
	tm_arena_fini(&self->a);
}

/*
 * Matches value (text) against pattern (text) both ways, checks that the
 * two agree, and returns the result; caps[i].text gets each capture as
 * text (from the term match) after checking that the bytes match captured
 * the encoding of the same value.
 */
struct cap_text {
	char text[256];
};

static int match2(struct tm_arena *a, const char *pattern, const char *value,
		  struct cap_text *caps, size_t ncaps)
{
	struct tm_capture ct[16], cb[16];
	struct tm_pattern *pat;
	struct tm_term v, d;
	uint8_t *enc;
	size_t n, i;
	int rt, rb, err;

	err = tm_pattern_compile(pattern, strlen(pattern), &pat);
	if (err)
		return err;
	v = P(a, value);
	if (!tm_term_valid(&v)) {
		tm_pattern_free(pat);
		return -100;
	}
	enc = tm_encode_alloc(&v, &n);
	rt = tm_match_term(pat, &v, ct, 16);
	rb = tm_match_bytes(pat, enc, n, cb, 16);
	if (rt != rb) {
		rt = -101;
		goto out;
	}
	for (i = 0; rt == 1 && i < tm_pattern_ncaptures(pat) && i < 16; i++) {
		if (tm_decode(a, enc + cb[i].off, cb[i].len, TM_DEC_CANONICAL,
			      NULL, &d, NULL) || !tm_equal(&d, ct[i].term)) {
			rt = -102;
			goto out;
		}
		if (i < ncaps)
			text_of(ct[i].term, caps[i].text, sizeof(caps[i].text));
	}
out:
	free(enc);
	tm_pattern_free(pat);
	return rt;
}

TEST_F(p, add_captures)
{
	struct cap_text c[2];

	ASSERT_EQ(1, match2(&self->a, "<add $a $b>", "<add 1 <x 2>>", c, 2));
	EXPECT_STREQ("1", c[0].text);
	EXPECT_STREQ("<x 2>", c[1].text);
	EXPECT_EQ(0, match2(&self->a, "<add $a $b>", "<add 1>", NULL, 0));
	EXPECT_EQ(0, match2(&self->a, "<add $a $b>", "<add 1 2 3>", NULL, 0));
	EXPECT_EQ(0, match2(&self->a, "<add $a $b>", "<sub 1 2>", NULL, 0));
	EXPECT_EQ(0, match2(&self->a, "<add $a $b>", "[add 1 2]", NULL, 0));
	EXPECT_EQ(0, match2(&self->a, "<add $a $b>", "add", NULL, 0));
	EXPECT_EQ(0, match2(&self->a, "<add $a $b>", "#:<ref #\"\" pid 1>", NULL, 0));
}

TEST_F(p, discard_literals_nesting)
{
	struct cap_text c[3];

	EXPECT_EQ(1, match2(&self->a, "_", "<anything [1 2]>", NULL, 0));
	EXPECT_EQ(1, match2(&self->a, "<ping _>", "<ping #{1 2}>", NULL, 0));
	EXPECT_EQ(0, match2(&self->a, "<ping _>", "<ping>", NULL, 0));
	EXPECT_EQ(1, match2(&self->a, "<m 1 \"s\" #\"b\" 1.5 #t>",
			    "<m 1 \"s\" #\"b\" 1.5 #t>", NULL, 0));
	EXPECT_EQ(0, match2(&self->a, "<m 1 \"s\" #\"b\" 1.5 #t>",
			    "<m 1 \"s\" #\"b\" 1.5 #f>", NULL, 0));
	EXPECT_EQ(0, match2(&self->a, "<m 1>", "<m 1.0>", NULL, 0));
	EXPECT_EQ(1, match2(&self->a, "<m #{1 2}>", "<m #{2 1}>", NULL, 0));
	ASSERT_EQ(1, match2(&self->a, "<reply $r $v:[_ $x] _>",
			    "<reply 7 [a b] c>", c, 3));
	EXPECT_STREQ("7", c[0].text);
	EXPECT_STREQ("[a b]", c[1].text);
	EXPECT_STREQ("b", c[2].text);
	EXPECT_EQ(0, match2(&self->a, "<reply $r $v:[_ $x] _>",
			    "<reply 7 [a b c] c>", NULL, 0));
	ASSERT_EQ(1, match2(&self->a, "[$ [$ [$]]]", "[1 [2 [3]]]", c, 3));
	EXPECT_STREQ("1", c[0].text);
	EXPECT_STREQ("2", c[1].text);
	EXPECT_STREQ("3", c[2].text);
	EXPECT_EQ(1, match2(&self->a, "[]", "[]", NULL, 0));
	EXPECT_EQ(0, match2(&self->a, "[]", "[1]", NULL, 0));
	EXPECT_EQ(1, match2(&self->a, "<<x 1> $y>", "<<x 1> 2>", NULL, 0));
	EXPECT_EQ(1, match2(&self->a, "<msg #:<ref #x\"01\" pid 5> $>",
			    "<msg #:<ref #x\"01\" pid 5> 0>", NULL, 0));
	EXPECT_EQ(0, match2(&self->a, "<msg #:<ref #x\"01\" pid 5> $>",
			    "<msg #:<ref #x\"01\" pid 6> 0>", NULL, 0));
}

TEST_F(p, dictionaries)
{
	struct cap_text c[2];

	ASSERT_EQ(1, match2(&self->a, "{name: $n age: $a}",
			    "{age: 42 name: \"ann\" extra: #t}", c, 2));
	/* captures in canonical key order: age (b303616765) < name */
	EXPECT_STREQ("42", c[0].text);
	EXPECT_STREQ("\"ann\"", c[1].text);
	EXPECT_EQ(0, match2(&self->a, "{name: $n age: $a}", "{name: 1}", NULL, 0));
	EXPECT_EQ(0, match2(&self->a, "{name: $n}", "[name 1]", NULL, 0));
	EXPECT_EQ(1, match2(&self->a, "{}", "{a: 1}", NULL, 0));
	EXPECT_EQ(1, match2(&self->a, "{z: 1}", "{a: 0 b: 0 z: 1 zz: 2}", NULL, 0));
	EXPECT_EQ(0, match2(&self->a, "{z: 2}", "{a: 0 b: 0 z: 1 zz: 2}", NULL, 0));
	EXPECT_EQ(1, match2(&self->a, "<cfg {port: $p:_}>",
			    "<cfg {host: \"h\" port: 80}>", c, 1));
	EXPECT_STREQ("80", c[0].text);
	EXPECT_EQ(1, match2(&self->a, "[{a: [_ $x]} 9]", "[{a: [1 2] b: 3} 9]", c, 1));
	EXPECT_STREQ("2", c[0].text);
}

TEST_F(p, capture_names)
{
	struct tm_pattern *pat;
	const char *s = "<point $x:_ $ {k: $name}>";

	ASSERT_EQ(0, tm_pattern_compile(s, strlen(s), &pat));
	EXPECT_EQ(3, tm_pattern_ncaptures(pat));
	EXPECT_STREQ("x", tm_pattern_capture_name(pat, 0));
	EXPECT_EQ(NULL, tm_pattern_capture_name(pat, 1));
	EXPECT_STREQ("name", tm_pattern_capture_name(pat, 2));
	EXPECT_EQ(NULL, tm_pattern_capture_name(pat, 3));
	EXPECT_EQ(0, tm_pattern_capture_index(pat, "x"));
	EXPECT_EQ(2, tm_pattern_capture_index(pat, "name"));
	EXPECT_EQ(TM_EINVAL, tm_pattern_capture_index(pat, "nope"));
	tm_pattern_free(pat);
}

TEST_F(p, pattern_terms)
{
	struct tm_arena *a = &self->a;
	struct tm_term fields[2], pt, parsed, v;
	struct tm_capture caps[2];
	struct tm_pattern *pat;

	fields[0] = tm_pat_bind(a, "who", tm_pat_discard(a));
	fields[1] = tm_pat_lit(a, tm_int(3));
	pt = tm_pat_rec(a, tm_symbol("hello"), fields, 2);
	ASSERT_TRUE(tm_term_valid(&pt));
	EXPECT_STREQ("<rec hello [<bind <_> who> <lit 3>]>",
		     text_of(&pt, self->buf, sizeof(self->buf)));
	/* the text form gives the same term */
	ASSERT_EQ(0, tm_pattern_parse(a, "<hello $who 3>", 14, &parsed));
	EXPECT_TRUE(tm_equal(&pt, &parsed));
	/* patterns are values: they survive encoding */
	EXPECT_EQ(0, roundtrip(&pt));
	ASSERT_EQ(0, tm_pattern_compile_term(&pt, &pat));
	v = P(a, "<hello \"bob\" 3>");
	ASSERT_EQ(1, tm_match_term(pat, &v, caps, 2));
	EXPECT_TRUE(tm_string_is(caps[0].term, "bob"));
	tm_pattern_free(pat);

	pt = tm_pat_dict(a, (struct tm_term[]){ tm_symbol("k"),
			 tm_pat_arr(a, (struct tm_term[]){ tm_pat_bind(a, NULL,
				    tm_pat_discard(a)) }, 1) }, 1);
	EXPECT_STREQ("<dict {k: <arr [<bind <_>>]>}>",
		     text_of(&pt, self->buf, sizeof(self->buf)));
	ASSERT_EQ(0, tm_pattern_compile_term(&pt, &pat));
	v = P(a, "{k: [5]}");
	EXPECT_EQ(1, tm_match_term(pat, &v, caps, 2));
	tm_pattern_free(pat);

	/* not patterns */
	v = P(a, "<bind>");
	EXPECT_EQ(TM_EINVAL, tm_pattern_compile_term(&v, &pat));
	v = P(a, "<rec x 1>");
	EXPECT_EQ(TM_EINVAL, tm_pattern_compile_term(&v, &pat));
	v = P(a, "5");
	EXPECT_EQ(TM_EINVAL, tm_pattern_compile_term(&v, &pat));
	v = P(a, "<bind <_> 5>");
	EXPECT_EQ(TM_EINVAL, tm_pattern_compile_term(&v, &pat));
}

TEST_F(p, parse_errors)
{
	static const struct { const char *in; int err; } v[] = {
		{ "<>", TM_ESYNTAX },
		{ "<a $x", TM_ESHORT },
		{ "[$x:]", TM_ESYNTAX },
		{ "$x:", TM_ESHORT },
		{ "{a $x}", TM_ESYNTAX },
		{ "{a: $x a: _}", TM_EDUP },
		{ "<a> <b>", TM_ETRAILING },
		{ "", TM_ESHORT },
		{ "$x :_", TM_ETRAILING },
	};
	struct tm_pattern *pat;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		EXPECT_EQ(v[i].err, tm_pattern_compile(v[i].in, strlen(v[i].in),
						       &pat)) TH_LOG("%s", v[i].in);
		EXPECT_EQ(NULL, pat);
	}
}

TEST_F(p, prefix)
{
	static const struct { const char *pat, *hex; uint32_t total; } v[] = {
		{ "<ping _>", "b4b30470696e67", 7 },
		{ "<ping $x>", "b4b30470696e67", 7 },
		{ "$all:<ping $x>", "b4b30470696e67", 7 },
		{ "_", "", 0 },
		{ "$", "", 0 },
		{ "[1 $x]", "b5b00101", 4 },
		{ "{a: $x}", "b7", 1 },
		{ "<add 1 2>", "b4b303616464b001", 13 },
		{ "<termite-call $ref $body>", "b4b30c7465726d69", 15 },
		{ "hello", "b30568656c6c6f", 7 },
	};
	struct tm_prefix pf;
	struct tm_pattern *pat;
	const uint8_t *cp;
	char hex[64];
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		ASSERT_EQ(0, tm_pattern_compile(v[i].pat, strlen(v[i].pat), &pat));
		ASSERT_EQ(0, tm_pattern_prefix(pat, &pf));
		EXPECT_EQ(0, pf.off);
		EXPECT_EQ(v[i].total, pf.total) TH_LOG("%s", v[i].pat);
		EXPECT_EQ(v[i].total < 8 ? v[i].total : 8, pf.len);
		EXPECT_STREQ(v[i].hex, tohex(pf.data, pf.len, hex, sizeof(hex)))
			TH_LOG("%s", v[i].pat);
		for (n = 0; n < 8; n++)
			EXPECT_EQ(n < pf.len ? 0xff : 0, pf.mask[n]);
		cp = tm_pattern_const_prefix(pat, &n);
		EXPECT_EQ(v[i].total, n);
		EXPECT_EQ(0, memcmp(cp, pf.data, pf.len));
		tm_pattern_free(pat);
	}
}

/* every encoding that matches starts with the pattern's constant prefix */
TEST_F(p, prefix_is_necessary)
{
	static const char * const pats[] = { "<ping _>", "<add 1 $x>", "[1 [2 $] _]",
				      "<a {k: 1}>", "<l [1 2] $>" };
	static const char * const vals[] = { "<ping 1>", "<ping>", "<add 1 2>",
				      "<add 1 2 3>", "[1 [2 3] 4]", "[1 [2] 4]",
				      "<a {k: 1 j: 0}>", "<a {k: 2}>",
				      "<l [1 2] x>", "<l [1 2 3] x>", "<pong 1>" };
	struct tm_pattern *pat;
	struct tm_prefix pf;
	uint8_t enc[256];
	size_t i, j, k;
	ssize_t n;

	for (i = 0; i < ARRAY_SIZE(pats); i++) {
		ASSERT_EQ(0, tm_pattern_compile(pats[i], strlen(pats[i]), &pat));
		tm_pattern_prefix(pat, &pf);
		for (j = 0; j < ARRAY_SIZE(vals); j++) {
			struct tm_term v = P(&self->a, vals[j]);
			bool pass = true;

			n = tm_encode(&v, enc, sizeof(enc));
			for (k = 0; k < 8; k++)
				if (pf.mask[k] && ((size_t)n <= pf.off + k ||
				    (enc[pf.off + k] & pf.mask[k]) != pf.data[k]))
					pass = false;
			if (tm_match_bytes(pat, enc, (size_t)n, NULL, 0) == 1) {
				EXPECT_TRUE(pass) TH_LOG("%s %s", pats[i], vals[j]);
			}
		}
		tm_pattern_free(pat);
	}
}

TEST_F(p, bytes_robustness)
{
	struct tm_pattern *pat;
	struct tm_capture caps[2];
	struct tm_term v = P(&self->a, "<add [1 2 3] {k: \"v\"} #:<ref #\"\" tag 1>>");
	uint8_t enc[256], *copy;
	size_t cut;
	ssize_t n;
	int r;

	ASSERT_EQ(0, tm_pattern_compile("<add $a {k: $b} _>", 18, &pat));
	n = tm_encode(&v, enc, sizeof(enc));
	ASSERT_EQ(1, tm_match_bytes(pat, enc, (size_t)n, caps, 2));
	EXPECT_EQ(6, caps[0].off);
	/* truncations: never a match, never a crash */
	for (cut = 0; cut < (size_t)n; cut++) {
		copy = malloc(cut ? cut : 1);
		memcpy(copy, enc, cut);
		r = tm_match_bytes(pat, copy, cut, caps, 2);
		EXPECT_GE(0, r) TH_LOG("cut %zu", cut);
		free(copy);
	}
	/* trailing bytes: no match */
	enc[n] = 0x80;
	EXPECT_EQ(0, tm_match_bytes(pat, enc, (size_t)n + 1, NULL, 0));
	/* garbage where a discard skips */
	EXPECT_EQ(TM_EBADTAG, tm_match_bytes(pat,
		(const uint8_t[]){ 0xb4, 0xb3, 0x03, 'a', 'd', 'd', 0x10 }, 7,
		NULL, 0));
	/* no captures recorded when there is no room */
	EXPECT_EQ(1, tm_match_bytes(pat, enc, (size_t)n, caps, 0));
	tm_pattern_free(pat);
}

TEST_F(p, invalid_terms_and_args)
{
	struct tm_pattern *pat;
	struct tm_term bad = tm_string("\xff");

	ASSERT_EQ(0, tm_pattern_compile("<a _>", 5, &pat));
	EXPECT_EQ(TM_EUTF8, tm_match_term(pat, &bad, NULL, 0));
	EXPECT_EQ(TM_EINVAL, tm_match_bytes(pat, NULL, 3, NULL, 0));
	EXPECT_EQ(0, tm_match_bytes(pat, NULL, 0, NULL, 0));
	tm_pattern_free(pat);
	EXPECT_EQ(TM_EUTF8, tm_pattern_compile_term(&bad, &pat));
}

TEST_HARNESS_MAIN
