// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * Host unit tests of the Preserves text syntax: printing of every kind,
 * parse / print round trips, comments, annotations and whitespace, and
 * rejection of bad text (several cases from the Preserves test suite's
 * <ParseError> and <ParseShort> vectors, written out as literals).
 */
#include <math.h>

#include "kselftest_harness.h"
#include "tm_test_util.h"

FIXTURE(x) {
	struct tm_arena a;
	char buf[4096];
};

FIXTURE_SETUP(x)
{
	tm_arena_init(&self->a, 0);
}

FIXTURE_TEARDOWN(x)
{
	tm_arena_fini(&self->a);
}

/* parse, then print: the printed form is canonical text */
TEST_F(x, print_forms)
{
	static const struct { const char *in, *out; } v[] = {
		{ "#t", "#t" },
		{ "#f", "#f" },
		{ "42", "42" },
		{ "-7", "-7" },
		{ "+7", "7" },
		{ "007", "7" },
		{ "1.5", "1.5" },
		{ "1.0", "1.0" },
		{ "-0.0", "-0.0" },
		{ "1e3", "1000.0" },
		{ "0.1", "0.1" },
		{ "1e300", "1e+300" },
		{ "#xd\"7ff0000000000000\"", "#xd\"7ff0000000000000\"" },
		{ "#xd\"3ff0000000000000\"", "1.0" },
		{ "\"hi\"", "\"hi\"" },
		{ "\"a\\\"b\\\\c\\nd\\te\\u0001\"", "\"a\\\"b\\\\c\\nd\\te\\u0001\"" },
		{ "\"\\u00e9\\/\"", "\"\xc3\xa9/\"" },
		{ "#\"abc\"", "#\"abc\"" },
		{ "#\"a\\\"b\"", "#\"a\\\"b\"" },
		{ "#x\"00ff\"", "#x\"00ff\"" },
		{ "#\"\"", "#x\"\"" },
		{ "#[aGVsbG8=]", "#\"hello\"" },
		{ "foo", "foo" },
		{ "|foo bar|", "'foo bar'" },
		{ "'it\\'s'", "'it\\'s'" },
		{ "'42'", "'42'" },
		{ "'-1.5e3'", "'-1.5e3'" },
		{ "'+1.x'", "+1.x" },
		{ "''", "''" },
		{ "$x", "$x" },
		{ "<add 1 2>", "<add 1 2>" },
		{ "<  a >", "<a>" },
		{ "[1 , 2,3]", "[1 2 3]" },
		{ "#{3 1 2}", "#{1 2 3}" },
		{ "#{b \"a\" 1}", "#{1 \"a\" b}" },
		{ "{b: 2, a: 1}", "{a: 1 b: 2}" },
		{ "{ 10: x -1: y }", "{-1: y 10: x}" },
		{ "[#{} {} [] <[]>]", "[#{} {} [] <[]>]" },
		{ "#:<ref #x\"0a\" pid 1>", "#:<ref #x\"0a\" pid 1>" },
		{ "#!<ref #\"\" tag 2>", "#:<ref #x\"\" tag 2>" },
		{ "@note 5", "5" },
		{ "# comment\n[1 # another\n 2]", "[1 2]" },
		{ "123456789012345678901234567890", "123456789012345678901234567890" },
		{ "-123456789012345678901234567890", "-123456789012345678901234567890" },
		{ "-9223372036854775809", "-9223372036854775809" },
	};
	struct tm_term t;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		ASSERT_EQ(0, tm_parse(&self->a, v[i].in, strlen(v[i].in), &t,
				      NULL)) TH_LOG("%s", v[i].in);
		EXPECT_STREQ(v[i].out, text_of(&t, self->buf, sizeof(self->buf)))
			TH_LOG("%s", v[i].in);
		EXPECT_EQ(0, roundtrip(&t)) TH_LOG("%s", v[i].in);
	}
}

TEST_F(x, doubles_roundtrip_exactly)
{
	static const double d[] = {
		0.1, 0.2, 1.0 / 3, 2.0 / 3, 1e-10, 123456.789, 5e-324,
		2.2250738585072014e-308, 1.7976931348623157e308, -3.14159,
		9007199254740993.0, 4.35, 100.0, 1e21, 1e22, 1e23,
	};
	struct tm_term t, back;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(d); i++) {
		t = tm_double(d[i]);
		text_of(&t, self->buf, sizeof(self->buf));
		ASSERT_EQ(0, tm_parse(&self->a, self->buf, strlen(self->buf),
				      &back, NULL)) TH_LOG("%s", self->buf);
		ASSERT_TRUE(tm_is(&back, TM_DOUBLE)) TH_LOG("%s", self->buf);
		EXPECT_EQ(0, memcmp(&d[i], &back.u.d, 8)) TH_LOG("%s", self->buf);
	}
}

TEST_F(x, prefix_parsing)
{
	const char *s = "<a 1> rest";
	struct tm_term t;
	size_t used;

	EXPECT_EQ(TM_ETRAILING, tm_parse(&self->a, s, strlen(s), &t, NULL));
	ASSERT_EQ(0, tm_parse(&self->a, s, strlen(s), &t, &used));
	EXPECT_EQ(5, used);
	EXPECT_EQ(0, tm_parse(&self->a, "  7  \n", 6, &t, NULL));
	/* not NUL-terminated: the length is what counts */
	EXPECT_EQ(0, tm_parse(&self->a, "123456", 3, &t, NULL));
	EXPECT_EQ(123, t.u.i);
}

/* samples: <ParseError> (TM_ESYNTAX etc.) and <ParseShort> (TM_ESHORT) */
TEST_F(x, parse_errors)
{
	static const struct { const char *in; int err; } v[] = {
		{ "#x\"414 243\"", TM_ESYNTAX },	/* bytes6 */
		{ "#\"\\u6c34\"", TM_ESYNTAX },		/* bytes12 */
		{ "#x\"B2, 05\"", TM_ESYNTAX },		/* bytes2b */
		{ "[#ffoo]", TM_ESYNTAX },		/* delimiters3 */
		{ "{ a: 1, a: 2 }", TM_EDUP },		/* dict3 */
		{ "}", TM_ESYNTAX },			/* dict4 */
		{ "{ a,: 1, b: 2 }", TM_ESYNTAX },	/* dict6 */
		{ "{ a:, 1, b: 2 }", TM_ESYNTAX },	/* dict7 */
		{ "#xd\"12345678\"", TM_ESYNTAX },	/* double4 */
		{ "#xd\"123456789abcdef012\"", TM_ESYNTAX }, /* double5 */
		{ "#xd\"12zz56789abcdef0\"", TM_ESYNTAX },	/* double6 */
		{ "#xd\"12345 6789abcdef0\"", TM_ESYNTAX },	/* double13 */
		{ "<observe <speak <discard>, <capture <discard>>>>", TM_ESYNTAX },
		{ "<>", TM_ESYNTAX },			/* record9 */
		{ ">", TM_ESYNTAX },			/* record11 */
		{ "#{a a}", TM_EDUP },			/* set3 */
		{ "\"\\u6c\"", TM_ESYNTAX },		/* string6 */
		{ "\"\\u6c3\"", TM_ESYNTAX },		/* string7 */
		{ "\"blah\\uD834\"", TM_ESYNTAX },	/* surrogatepair0str */
		{ "\"\\uDD1Eblah\"", TM_ESYNTAX },	/* surrogatepair1str */
		{ "\"blah\\uD834blah\"", TM_ESYNTAX },
		{ "\"blah\\uDD1E\\uD834blah\"", TM_ESYNTAX },
		{ "\"blah\\uD834\\uD834blah\"", TM_ESYNTAX },
		{ "\"blah\\uDD1E\\uDD1Eblah\"", TM_ESYNTAX },
		{ "|blah\\uD834|", TM_ESYNTAX },	/* surrogatepair0sym */
		{ "|\\uDD1Eblah|", TM_ESYNTAX },
		{ "|blah\\uDD1E\\uD834blah|", TM_ESYNTAX },
		{ "]", TM_ESYNTAX },			/* list9 */
		{ "\"\\q\"", TM_ESYNTAX },
		{ "#q", TM_ESYNTAX },
		{ "#[a!]", TM_ESYNTAX },
		{ "#\"\xc3\xa9\"", TM_ESYNTAX },	/* bytes are ASCII */
		{ "\"\xff\"", TM_EUTF8 },
		{ "sym\xc3", TM_EUTF8 },
		{ "#:<ref #\"\" pod 1>", TM_EEMBED },
		{ "#:<ref #\"\" pid 18446744073709551616>", TM_EEMBED },
		{ "{ a: 1 b }", TM_ESYNTAX },
		{ "abc\\", TM_ESYNTAX },
		{ "1 2", TM_ETRAILING },
		{ "{ a: b, c: d ", TM_ESHORT },		/* dict2 */
		{ "{", TM_ESHORT },			/* dict2a */
		{ "#{ 1 2 3 ", TM_ESHORT },		/* set2 */
		{ "[", TM_ESHORT },			/* list8 */
		{ "<", TM_ESHORT },			/* record10 */
		{ "   ", TM_ESHORT },			/* whitespace0 */
		{ "", TM_ESHORT },			/* whitespace1 */
		{ "\"abc", TM_ESHORT },
		{ "#x\"00", TM_ESHORT },
		{ "{a: }", TM_ESYNTAX },
		{ "{a", TM_ESHORT },
	};
	struct tm_term t;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		EXPECT_EQ(v[i].err, tm_parse(&self->a, v[i].in, strlen(v[i].in),
					     &t, NULL)) TH_LOG("%s", v[i].in);
		EXPECT_FALSE(tm_term_valid(&t));
	}
}

TEST_F(x, big_digit_limit)
{
	char digits[1100];
	struct tm_term t;

	memset(digits, '9', 1000);
	ASSERT_EQ(0, tm_parse(&self->a, digits, 1000, &t, NULL));
	EXPECT_TRUE(t.flags & TM_F_BIGINT);
	EXPECT_EQ(0, roundtrip(&t));
	memset(digits, '9', 1001);
	EXPECT_EQ(TM_ELIMIT, tm_parse(&self->a, digits, 1001, &t, NULL));
}

TEST_F(x, print_buffer_semantics)
{
	struct tm_term t = P(&self->a, "<hello world>");
	char small[6];
	char *s;

	EXPECT_EQ(13, tm_print(&t, NULL, 0));
	EXPECT_EQ(13, tm_print(&t, small, sizeof(small)));
	EXPECT_STREQ("<hell", small);
	s = tm_print_alloc(&t);
	ASSERT_NE(NULL, s);
	EXPECT_STREQ("<hello world>", s);
	free(s);
}

TEST_HARNESS_MAIN
