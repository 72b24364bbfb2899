// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * Host unit tests of the term layer's data model and binary syntax:
 * construction and round trips of every kind, canonical ordering, the
 * total order, big integers, embedded termite references, Preserves spec
 * test vectors, and rejection of malformed and over-limit input.
 *
 * The vectors marked "samples:" are a selection of the Preserves test
 * suite (tests/samples.pr of the Preserves repository, 0.996 binary
 * syntax), written out here as literals.
 */
#include <math.h>

#include "kselftest_harness.h"
#include "tm_test_util.h"

FIXTURE(t) {
	struct tm_arena a;
	char buf[8192];
};

FIXTURE_SETUP(t)
{
	tm_arena_init(&self->a, 0);
}

FIXTURE_TEARDOWN(t)
{
	tm_arena_fini(&self->a);
}

/* ---- spec vectors ---------------------------------------------------- */

struct vec {
	const char *name;
	const char *hex;
	const char *text;
};

/* samples: <Test ...> cases, all in canonical form */
static const struct vec canonical[] = {
	{ "bytes2", "B20568656c6c6f", "#\"hello\"" },
	{ "bytes4", "B203414243", "#x\"414243\"" },
	{ "bytes5", "B203414a4e", "#x\" 41 4A 4e \"" },
	{ "bytes7", "B206636f72796d62", "#[Y29yeW1i]" },
	{ "bytes9", "B2024869", "#[SGk=]" },
	{ "bytes10", "B2024869", "#[SGk]" },
	{ "bytes11", "B2024869", "#[S G k]" },
	{ "bytes13", "B2 11 61 62 63 6c 34 f0 5c 2f 22 08 0c 0a 0d 09 78 79 7a",
	  "#\"abc\\x6c\\x34\\xf0\\\\/\\\"\\b\\f\\n\\r\\txyz\"" },
	{ "delimiters0", "B5808084", "[#f #f]" },
	{ "delimiters1", "B5808084", "[#f#f]" },
	{ "delimiters2", "B580B303666f6f84", "[#f foo]" },
	{ "delimiters4", "B5808184", "[#f# a line comment\n#t]" },
	{ "delimiters5", "B5808184", "[#f@ann #t]" },
	{ "dict0", "B784", "{}" },
	{ "double0", "87080000000000000000", "0.0" },
	{ "double+0", "87080000000000000000", "+0.0" },
	{ "double-0", "87088000000000000000", "-0.0" },
	{ "double1", "87083ff0000000000000", "1.0" },
	{ "double1a", "87083ff0000000000000", "1e0" },
	{ "double1f", "87083ff0000000000000", "1.0e+0" },
	{ "double2", "8708fe3cb7b759bf0426", "-1.202e300" },
	{ "double3", "8708123456789abcdef0", "#xd\"12 34 56 78  9a bc de f0\"" },
	{ "double7", "87087ff0000000000000", "#xd\"7ff0000000000000\"" },
	{ "double8", "8708fff0000000000000", "#xd\"fff0000000000000\"" },
	{ "double9", "8708fff0000000000001", "#xd\"fff0000000000001\"" },
	{ "double14", "8708fff8000000000001", "#xd\"fff8000000000001\"" },
	{ "int-987", "b012feddc125aed4226c770369269596ce3f0ad3",
	  "-98765432109876543210987654321098765432109" },
	{ "int-123", "b00eff642cf6684f11d1dad08c4a10b2",
	  "-12345678123456781234567812345678" },
	{ "int-123b", "b00df06ae570d4b4fb62ae746dce79",
	  "-1234567812345678123456781234567" },
	{ "int-257", "b002feff", "-257" },
	{ "int-256", "b002ff00", "-256" },
	{ "int-255", "b002ff01", "-255" },
	{ "int-129", "b002ff7f", "-129" },
	{ "int-128", "b00180", "-128" },
	{ "int-127", "b00181", "-127" },
	{ "int-4", "b001fc", "-4" },
	{ "int-1", "b001ff", "-1" },
	{ "int0", "b000", "0" },
	{ "int+0", "b000", "+0" },
	{ "int-0", "b000", "-0" },
	{ "int1", "b00101", "1" },
	{ "int127", "b0017f", "127" },
	{ "int+127", "b0017f", "+127" },
	{ "int128", "b0020080", "128" },
	{ "int255", "b00200ff", "255" },
	{ "int256", "b0020100", "256" },
	{ "int32767", "b0027fff", "32767" },
	{ "int32768", "b003008000", "32768" },
	{ "int65535", "b00300ffff", "65535" },
	{ "int65536", "b003010000", "65536" },
	{ "int131072", "b003020000", "131072" },
	{ "int2500000000", "b005009502f900", "2500000000" },
	{ "int123b", "b00d0f951a8f2b4b049d518b923187",
	  "1234567812345678123456781234567" },
	{ "int123", "b00e009bd30997b0ee2e252f73b5ef4e",
	  "12345678123456781234567812345678" },
	{ "int871", "b012010000000000000000000000000000000000",
	  "87112285931760246646623899502532662132736" },
	{ "int987", "b01201223eda512bdd9388fc96d96a6931c0f52d",
	  "98765432109876543210987654321098765432109" },
	{ "list0", "b584", "[]" },
	{ "list4", "b5b00101b00102b00103b0010484", "[1 2 3 4]" },
	{ "list4a", "b5b00101b00102b00103b0010484", "[1, 2, 3, 4]" },
	{ "list4b", "b5b00101b00102b00103b0010484", "[,, 1,, 2,, 3,, 4,,]" },
	{ "list5", "b5b001feb001ffb000b0010184", "[-2 -1 0 1]" },
	{ "list6", "b5 b10568656c6c6f b3057468657265 b205776f726c64 b584 b684 81 80 84",
	  "[\"hello\" there #\"world\" [] #{} #t #f]" },
	{ "list7", "b5 b303616263 b3032e2e2e b303646566 84", "[abc ... def]" },
	{ "list11", "b5b0010184", "[01]" },
	{ "list12", "b5b0010c84", "[12]" },
	{ "record1", "b4 b30763617074757265 b4 b30764697363617264 84 84",
	  "<capture <discard>>" },
	{ "record2", "b4 b3076f627365727665 b4 b305737065616b b4 b30764697363617264 84 "
	  "b4 b30763617074757265 b4 b30764697363617264 84 84 84 84",
	  "<observe <speak <discard> <capture <discard>>>>" },
	{ "record3", "b4 b5 b3067469746c6564 b306706572736f6e b00102 b3057468696e67 "
	  "b00101 84 b00165 b109426c61636b77656c6c b4 b30464617465 b002071d b00102 "
	  "b00103 84 b1024472 84",
	  "<[titled person 2 thing 1] 101 \"Blackwell\" <date 1821 2 3> \"Dr\">" },
	{ "record4", "b4 b30764697363617264 84", "<discard>" },
	{ "record5", "b4b00107b58484", "<7[]>" },
	{ "record6", "b4b30764697363617264b308737572707269736584",
	  "<discard surprise>" },
	{ "record7", "b4b10761537472696e67b00103b0010484", "<\"aString\" 3 4>" },
	{ "record8", "b4b4b3076469736361726484b00103b0010484",
	  "<<discard> 3 4>" },
	{ "set0", "b684", "#{}" },
	{ "set1", "b6b00101b00102b0010384", "#{1 2 3}" },
	{ "string0", "b100", "\"\"" },
	{ "string3", "b10568656c6c6f", "\"hello\"" },
	{ "string4", "b1 14 616263e6b0b4e6b0b45c2f22080c0a0d0978797a",
	  "\"abc\\u6c34\\u6C34\\\\/\\\"\\b\\f\\n\\r\\txyz\"" },
	{ "string5", "b104f09d849e", "\"\\uD834\\uDD1E\"" },
	{ "symbol0", "b300", "||" },
	{ "symbol2", "b30568656c6c6f", "hello" },
	{ "symbol3", "b305312d322d33", "1-2-3" },
	{ "symbol4", "b305612d622d63", "a-b-c" },
	{ "symbol5", "b305612b622b63", "a+b+c" },
	{ "symbol6", "b3012b", "+" },
	{ "symbol7", "b3032b2b2b", "+++" },
	{ "symbol8", "b3012d", "-" },
	{ "symbol10", "b3022d61", "-a" },
	{ "symbol12", "b3042d2d2d31", "---1" },
	{ "symbol13", "b3042b312e78", "+1.x" },
	{ "symbol14", "b304f09d849e", "|\\uD834\\uDD1E|" },
	{ "longlist15", "b580808080808080808080808080808084",
	  "[#f #f #f #f #f #f #f #f #f #f #f #f #f #f #f]" },
};

TEST_F(t, samples_canonical)
{
	struct tm_term parsed, decoded;
	char hex[4096], want[4096];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(canonical); i++) {
		const struct vec *v = &canonical[i];
		uint8_t bin[512];
		ssize_t n = unhex(v->hex, bin, sizeof(bin));

		ASSERT_LT(0, n);
		tohex(bin, (size_t)n, want, sizeof(want));
		ASSERT_EQ(0, tm_parse(&self->a, v->text, strlen(v->text),
				      &parsed, NULL)) TH_LOG("%s", v->name);
		EXPECT_STREQ(want, enc_hex(&parsed, hex, sizeof(hex)))
			TH_LOG("%s", v->name);
		ASSERT_EQ(0, tm_decode(&self->a, bin, (size_t)n,
				       TM_DEC_CANONICAL, NULL, &decoded, NULL))
			TH_LOG("%s", v->name);
		EXPECT_TRUE(tm_equal(&parsed, &decoded)) TH_LOG("%s", v->name);
		EXPECT_EQ(0, tm_validate(bin, (size_t)n, 0, NULL, NULL));
		EXPECT_EQ(0, roundtrip(&decoded)) TH_LOG("%s", v->name);
	}
}

TEST_F(t, samples_symbol15_long_varint)
{
	char text[200], hex[600];
	struct tm_term s;
	int i;

	memset(text, 'a', 130);
	text[130] = 0;
	strcpy(hex, "b38201");
	for (i = 0; i < 130; i++)
		strcat(hex, "61");
	s = P(&self->a, text);
	ASSERT_TRUE(tm_is(&s, TM_SYMBOL));
	EXPECT_STREQ(hex, enc_hex(&s, self->buf, sizeof(self->buf)));
	EXPECT_EQ(0, roundtrip(&s));
}

/* samples: annotated and non-deterministic cases, decoded non-strictly */
static const struct vec loose[] = {
	{ "annotation1", "85 B103616263 B00109", "@\"abc\" 9" },
	{ "annotation2", "85 B103616263 85 B103646566 B5 B584 85 B10178 B584 84",
	  "@\"abc\" @\"def\" [[] @\"x\" []]" },
	{ "annotation3", "85 85 B00101 B00102 85 85 B00103 B00104 B00105",
	  "@@1 2 @@3 4 5" },
	{ "annotation5", "85 B3026172 B4 B30152 85 B3026166 B30166 84",
	  "@ar <R @af f>" },
	{ "annotation6", "B4 85 B3026172 B30152 85 B3026166 B30166 84",
	  "<@ar R @af f>" },
	{ "annotation7", "85 B30161 85 B30162 85 B30163 B584", "@a@b@c[]" },
	{ "annotation10", "85 B100 B000", "#\n0" },
	{ "dict8", "b7b30161b00101b30162b0010284", "{,, a: 1,, b: 2,,}" },
	{ "dict1", "b7 b10162 81 b30161 b00101 b5b00101b00102b0010384 b20163 b7 "
	  "b30a66697273742d6e616d65 b109456c697a6162657468 84 b7 "
	  "b3077375726e616d65 b109426c61636b77656c6c 84 84",
	  "{ a: 1 \"b\": #t [1 2 3]: #\"c\" { first-name: \"Elizabeth\" }: "
	  "{ surname: \"Blackwell\" } }" },
	{ "rfc8259-example1",
	  "B7 B1 05 496d616765 B7 B1 03 494473 B5 B0 01 74 B0 02 03 AF B0 02 00 EA "
	  "B0 03 00 97 89 84 B1 05 5469746c65 B1 14 566965772066726f6d203135746820"
	  "466c6f6f72 B1 05 5769647468 B0 02 03 20 B1 06 486569676874 B0 02 02 58 "
	  "B1 08 416e696d61746564 B3 05 66616c7365 B1 09 5468756d626e61696c B7 "
	  "B1 03 55726c B1 26 687474703a2f2f7777772e6578616d706c652e636f6d2f696d61"
	  "67652f343831393839393433 B1 05 5769647468 B0 01 64 B1 06 486569676874 "
	  "B0 01 7D 84 84 84",
	  "{ \"Image\": { \"Width\": 800, \"Height\": 600, "
	  "\"Title\": \"View from 15th Floor\", \"Thumbnail\": { "
	  "\"Url\": \"http://www.example.com/image/481989943\", "
	  "\"Height\": 125, \"Width\": 100 }, \"Animated\": false, "
	  "\"IDs\": [116, 943, 234, 38793] } }" },
};

TEST_F(t, samples_loose)
{
	struct tm_term parsed, decoded, strict;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(loose); i++) {
		const struct vec *v = &loose[i];
		uint8_t bin[512];
		ssize_t n = unhex(v->hex, bin, sizeof(bin));
		uint8_t *canon;
		size_t cn;

		ASSERT_LT(0, n);
		ASSERT_EQ(0, tm_parse(&self->a, v->text, strlen(v->text),
				      &parsed, NULL)) TH_LOG("%s", v->name);
		ASSERT_EQ(0, tm_decode(&self->a, bin, (size_t)n, 0, NULL,
				       &decoded, NULL)) TH_LOG("%s", v->name);
		EXPECT_TRUE(tm_equal(&parsed, &decoded)) TH_LOG("%s", v->name);
		EXPECT_EQ(0, roundtrip(&decoded)) TH_LOG("%s", v->name);
		/* the canonical re-encoding decodes strictly */
		canon = tm_encode_alloc(&decoded, &cn);
		ASSERT_NE(NULL, canon);
		EXPECT_EQ(0, tm_decode(&self->a, canon, cn, TM_DEC_CANONICAL,
				       NULL, &strict, NULL));
		free(canon);
	}
	/* annotations are not canonical */
	EXPECT_EQ(TM_EANNOT, D(&self->a, "85 B103616263 B00109",
			       TM_DEC_CANONICAL, &decoded));
	EXPECT_EQ(TM_EANNOT, tm_validate((const uint8_t[]){ 0x85, 0x80, 0x81 },
					 3, 0, NULL, NULL));
}

/* samples: <DecodeError>, <DecodeShort>, <DecodeEOF>, plus our own */
TEST_F(t, samples_decode_errors)
{
	static const struct { const char *hex; int err; } bad[] = {
		{ "b7 b00101 b00102 b00101 b00103 84", TM_EDUP },	/* dict3a */
		{ "b7 b00101 b00102 b00103 84", TM_EMALFORMED },	/* dict5 */
		{ "b6 b00101 b00101 84", TM_EDUP },			/* set3a */
		{ "b58080", TM_ESHORT },				/* list10 */
		{ "", TM_ESHORT },					/* noinput0 */
		{ "84", TM_EBADTAG },					/* tag0 */
		{ "10", TM_EBADTAG },					/* tag1 */
		{ "61b10110", TM_EBADTAG },				/* tag2 */
		{ "86b000", TM_EEMBED },	/* embed0: not a termite ref */
	};
	struct tm_term out;
	size_t i;
	int mode;

	for (mode = 0; mode < 2; mode++) {
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			EXPECT_EQ(bad[i].err,
				  D(&self->a, bad[i].hex,
				    mode ? TM_DEC_CANONICAL : 0, &out))
				TH_LOG("%s", bad[i].hex);
			EXPECT_FALSE(tm_term_valid(&out));
		}
	}
}

/* ---- construction and round trips ----------------------------------- */

TEST_F(t, atoms_roundtrip)
{
	static const uint8_t raw[] = { 0, 1, 2, 0xff, 0x80 };
	struct tm_term v[] = {
		tm_bool(false), tm_bool(true), tm_int(0), tm_int(-1),
		tm_int(127), tm_int(128), tm_int(-128), tm_int(-129),
		tm_int(INT64_MAX), tm_int(INT64_MIN), tm_double(0.0),
		tm_double(-0.0), tm_double(1.5), tm_double(-1e300),
		tm_double(5e-324), tm_double(INFINITY), tm_double(-INFINITY),
		tm_double(NAN), tm_double(0.1), tm_double(1e21),
		tm_string(""), tm_string("hello"), tm_string("na\xc3\xafve \xe2\x82\xac"),
		tm_stringn("a\0b", 3), tm_string("quote\" back\\ nl\n"),
		tm_bytes(raw, sizeof(raw)), tm_bytes("", 0), tm_bytes("abc", 3),
		tm_symbol("foo"), tm_symbol(""), tm_symbol("with space"),
		tm_symbol("1"), tm_symbol("-2.5"), tm_symbol("$x"),
		tm_symbol("\xce\xbb"), tm_symbol("it's"),
		tm_uint(&self->a, UINT64_MAX), tm_uint(&self->a, 1ULL << 63),
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		ASSERT_TRUE(tm_term_valid(&v[i])) TH_LOG("item %zu", i);
		EXPECT_EQ(0, roundtrip(&v[i])) TH_LOG("item %zu", i);
	}
}

TEST_F(t, atoms_invalid)
{
	struct tm_term x = tm_string("bad \xc3\x28");

	EXPECT_EQ(TM_EUTF8, tm_term_error(&x));
	x = tm_symbol("\xed\xa0\x80");		/* surrogate */
	EXPECT_EQ(TM_EUTF8, tm_term_error(&x));
	x = tm_string("\xc0\x80");		/* overlong NUL */
	EXPECT_EQ(TM_EUTF8, tm_term_error(&x));
	x = tm_string("\xf4\x90\x80\x80");	/* above U+10FFFF */
	EXPECT_EQ(TM_EUTF8, tm_term_error(&x));
	/* an invalid item poisons its compound */
	x = tm_rec(&self->a, tm_symbol("r"), 2, tm_int(1), tm_string("\xff"));
	EXPECT_EQ(TM_EUTF8, tm_term_error(&x));
	x = tm_seq(&self->a, 1, x);
	EXPECT_EQ(TM_EUTF8, tm_term_error(&x));
	EXPECT_EQ(TM_EUTF8, tm_encode(&x, NULL, 0));
	EXPECT_EQ(TM_EUTF8, tm_print(&x, NULL, 0));
}

TEST_F(t, compounds_roundtrip)
{
	struct tm_arena *a = &self->a;
	struct tm_term items[4] = { tm_int(3), tm_string("x"), tm_int(-1),
				    tm_bool(true) };
	struct tm_term kv[6] = { tm_symbol("b"), tm_int(2), tm_symbol("a"),
				 tm_int(1), tm_int(7), tm_seq(a, 0) };
	struct tm_term r, s, set, d, nested, empty_rec;

	r = tm_rec(a, tm_symbol("add"), 2, tm_int(1), tm_int(2));
	EXPECT_STREQ("b4b303616464b00101b0010284",
		     enc_hex(&r, self->buf, sizeof(self->buf)));
	EXPECT_TRUE(tm_record_is(&r, "add", 2));
	EXPECT_EQ(2, tm_record_arity(&r));
	s = tm_sequence(a, items, 4);
	set = tm_set(a, items, 4);
	d = tm_dict(a, kv, 3);
	empty_rec = tm_record(a, tm_seq(a, 2, tm_int(1), tm_int(2)), NULL, 0);
	nested = tm_rec(a, r, 4, s, set, d, empty_rec);
	ASSERT_TRUE(tm_term_valid(&nested));
	EXPECT_EQ(0, roundtrip(&r));
	EXPECT_EQ(0, roundtrip(&s));
	EXPECT_EQ(0, roundtrip(&set));
	EXPECT_EQ(0, roundtrip(&d));
	EXPECT_EQ(0, roundtrip(&empty_rec));
	EXPECT_EQ(0, roundtrip(&nested));
	EXPECT_EQ(4, tm_count(&set));
	EXPECT_EQ(3, tm_count(&d));
	EXPECT_TRUE(tm_set_has(&set, REF(tm_int(-1))));
	EXPECT_FALSE(tm_set_has(&set, REF(tm_int(-2))));
	ASSERT_NE(NULL, tm_dict_get(&d, REF(tm_symbol("a"))));
	EXPECT_TRUE(tm_equal(tm_dict_get(&d, REF(tm_symbol("a"))),
			     REF(tm_int(1))));
	EXPECT_EQ(NULL, tm_dict_get(&d, REF(tm_symbol("c"))));
}

TEST_F(t, copies_outlive_sources)
{
	struct tm_arena b;
	struct tm_term orig, copy;
	struct tm_term *cl;
	char name[8] = "temp";
	char text[256];

	tm_arena_init(&b, 0);
	orig = tm_rec(&b, tm_symbol(name), 2, tm_string(name),
		      tm_bytes(name, 4));
	copy = tm_copy(&self->a, &orig);
	cl = tm_clone(&orig);
	ASSERT_NE(NULL, cl);
	strcpy(name, "XXXX");
	tm_arena_fini(&b);
	EXPECT_STREQ("<temp \"temp\" #\"temp\">", text_of(&copy, text, sizeof(text)));
	EXPECT_STREQ("<temp \"temp\" #\"temp\">", text_of(cl, text, sizeof(text)));
	/* copies of strings are NUL-terminated */
	EXPECT_STREQ("temp", tm_record_field(cl, 0)->u.str);
	tm_free(cl);
}

/* ---- canonical order -------------------------------------------------- */

TEST_F(t, set_and_dict_canonical_order)
{
	struct tm_arena *a = &self->a;
	struct tm_term items[] = { tm_int(-200), tm_int(5), tm_int(128),
				   tm_int(5), tm_string("a"), tm_bool(true) };
	struct tm_term set, d, out;
	uint8_t bin[64];
	ssize_t n;

	set = tm_set(a, items, 6);
	ASSERT_EQ(5, tm_count(&set));	/* duplicate 5 dropped */
	/* sorted by encoding: 81 < b00105 < b002ff38 < b0020080 < b10161 */
	EXPECT_STREQ("b681b00105b0020080b002ff38b1016184",
		     enc_hex(&set, self->buf, sizeof(self->buf)));

	/* the same set in another order: equal, same hash, strict reject */
	n = unhex("b6 b00105 81 b0020080 b002ff38 b10161 84", bin, sizeof(bin));
	EXPECT_EQ(TM_EORDER, tm_decode(a, bin, (size_t)n, TM_DEC_CANONICAL,
				       NULL, &out, NULL));
	EXPECT_EQ(TM_EORDER, tm_validate(bin, (size_t)n, 0, NULL, NULL));
	ASSERT_EQ(0, tm_decode(a, bin, (size_t)n, 0, NULL, &out, NULL));
	EXPECT_TRUE(tm_equal(&set, &out));
	EXPECT_EQ(tm_hash(&set), tm_hash(&out));

	d = tm_dict(a, (struct tm_term[]){ tm_symbol("b"), tm_int(1),
					   tm_symbol("a"), tm_int(2) }, 2);
	EXPECT_STREQ("b7b30161b00102b30162b0010184",
		     enc_hex(&d, self->buf, sizeof(self->buf)));
	EXPECT_EQ(TM_EORDER, D(a, "b7 b30162b00101 b30161b00102 84",
			       TM_DEC_CANONICAL, &out));
	EXPECT_EQ(0, D(a, "b7 b30162b00101 b30161b00102 84", 0, &out));
	EXPECT_TRUE(tm_equal(&d, &out));
	/* duplicate keys */
	out = tm_dict(a, (struct tm_term[]){ tm_symbol("a"), tm_int(1),
					     tm_symbol("a"), tm_int(2) }, 2);
	EXPECT_EQ(TM_EDUP, tm_term_error(&out));
	EXPECT_EQ(TM_EDUP, D(a, "b7 b30161b00101 b30161b00102 84", 0, &out));
	/* a duplicate that only shows once annotations are stripped */
	EXPECT_EQ(TM_EDUP, D(a, "b6 b00101 85 80 b00101 84", 0, &out));
}

TEST_F(t, canon_compare_matches_bytes)
{
	struct tm_arena *a = &self->a;
	static const char * const texts[] = {
		"#f", "#t", "0", "-1", "127", "128", "-200", "1.5", "-0.0",
		"\"\"", "\"a\"", "\"ab\"", "#\"\"", "#\"a\"", "a", "b", "<a>",
		"<a 1>", "<a 1 2>", "[]", "[1]", "[1 2]", "#{}", "#{1}", "{}",
		"{a: 1}", "#:<ref #x\"\" pid 1>", "#:<ref #x\"01\" tag 2>",
		"98765432109876543210987654321098765432109",
	};
	size_t n = ARRAY_SIZE(texts), i, j;
	struct tm_term t[32];

	for (i = 0; i < n; i++) {
		t[i] = P(a, texts[i]);
		ASSERT_TRUE(tm_term_valid(&t[i])) TH_LOG("%s", texts[i]);
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			uint8_t bi[256], bj[256];
			ssize_t li = tm_encode(&t[i], bi, sizeof(bi));
			ssize_t lj = tm_encode(&t[j], bj, sizeof(bj));
			size_t m = (size_t)(li < lj ? li : lj);
			int want = memcmp(bi, bj, m);
			int got = tm_canon_compare(&t[i], &t[j]);

			if (!want)
				want = li < lj ? -1 : li > lj;
			EXPECT_EQ(want < 0, got < 0) TH_LOG("%s %s", texts[i], texts[j]);
			EXPECT_EQ(want > 0, got > 0) TH_LOG("%s %s", texts[i], texts[j]);
		}
	}
}

/* ---- the total order ---------------------------------------------------- */

TEST_F(t, total_order)
{
	/* strictly ascending in the Preserves total order */
	static const char * const asc[] = {
		"#f", "#t",
		"#xd\"fff8000000000001\"",	/* -NaN */
		"#xd\"fff0000000000000\"",	/* -inf */
		"-1e300", "-1.0", "-0.0", "0.0", "5e-324", "1.0", "1e300",
		"#xd\"7ff0000000000000\"",	/* +inf */
		"#xd\"7ff8000000000000\"",	/* NaN */
		"-98765432109876543210987654321098765432109",
		"-12345678123456781234567812345678",
		"-9223372036854775808", "-257", "-1", "0", "1", "255",
		"9223372036854775807", "9223372036854775808",
		"12345678123456781234567812345678",
		"98765432109876543210987654321098765432109",
		"\"\"", "\"A\"", "\"a\"", "\"ab\"", "\"b\"", "\"\\u00e9\"",
		"#\"\"", "#\"\\x00\"", "#x\"ff\"",
		"''", "a", "aa", "b",
		"<1 9>", "<a>", "<a 1>", "<a 2>", "<a 2 0>", "<b>",
		"[]", "[-1]", "[1]", "[1 1]", "[2]",
		"#{}", "#{1}", "#{1 2}", "#{2}", "#{\"a\"}",
		"{}", "{a: 1}", "{a: 1 b: 1}", "{a: 2}", "{b: 0}",
		"#:<ref #x\"\" pid 1>", "#:<ref #x\"\" pid 18446744073709551615>",
		"#:<ref #x\"\" tag 0>", "#:<ref #x\"00\" pid 0>",
	};
	size_t n = ARRAY_SIZE(asc), i, j;
	struct tm_term t[80];

	ASSERT_GE(80, n);
	for (i = 0; i < n; i++) {
		t[i] = P(&self->a, asc[i]);
		ASSERT_TRUE(tm_term_valid(&t[i])) TH_LOG("%s", asc[i]);
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			int c = tm_compare(&t[i], &t[j]);

			if (i < j) {
				EXPECT_GT(0, c) TH_LOG("%s < %s", asc[i], asc[j]);
			} else if (i > j) {
				EXPECT_LT(0, c) TH_LOG("%s > %s", asc[i], asc[j]);
			} else {
				EXPECT_EQ(0, c) TH_LOG("%s", asc[i]);
			}
			EXPECT_EQ(i == j, tm_equal(&t[i], &t[j]));
		}
	}
}

TEST_F(t, set_compare_is_order_independent)
{
	struct tm_term a = P(&self->a, "#{3 1 -5 \"x\"}");
	struct tm_term b = P(&self->a, "#{\"x\" -5 3 1}");
	struct tm_term c = P(&self->a, "#{\"x\" -5 3 2}");

	EXPECT_EQ(0, tm_compare(&a, &b));
	EXPECT_TRUE(tm_equal(&a, &b));
	EXPECT_EQ(tm_hash(&a), tm_hash(&b));
	/* sorted: [-5 1 3 "x"] < [-5 2 3 "x"] */
	EXPECT_GT(0, tm_compare(&a, &c));
	EXPECT_LT(0, tm_compare(&c, &a));
}

/* ---- big integers --------------------------------------------------------- */

TEST_F(t, bigint_normalisation)
{
	static const uint8_t pad_pos[] = { 0, 0, 0, 0x7f };
	static const uint8_t pad_neg[] = { 0xff, 0xff, 0x80 };
	static const uint8_t big[] = { 0x00, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t big_pad[] = { 0x00, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	struct tm_term x;
	uint64_t u;
	int64_t v;

	x = tm_bigint(pad_pos, sizeof(pad_pos));
	ASSERT_EQ(0, tm_get_int(&x, &v));
	EXPECT_EQ(127, v);
	x = tm_bigint(pad_neg, sizeof(pad_neg));
	ASSERT_EQ(0, tm_get_int(&x, &v));
	EXPECT_EQ(-128, v);
	x = tm_bigint(NULL, 0);
	ASSERT_EQ(0, tm_get_int(&x, &v));
	EXPECT_EQ(0, v);
	x = tm_bigint(big_pad, sizeof(big_pad));
	EXPECT_TRUE(x.flags & TM_F_BIGINT);
	EXPECT_EQ(9, x.len);
	EXPECT_TRUE(tm_equal(&x, REF(tm_bigint(big, 9))));
	EXPECT_EQ(TM_ERANGE, tm_get_int(&x, &v));
	ASSERT_EQ(0, tm_get_uint(&x, &u));
	EXPECT_EQ(1ULL << 63, u);
	EXPECT_STREQ("9223372036854775808", text_of(&x, self->buf, 64));
	x = tm_uint(&self->a, UINT64_MAX);
	EXPECT_STREQ("b00900ffffffffffffffff",
		     enc_hex(&x, self->buf, sizeof(self->buf)));
	EXPECT_STREQ("18446744073709551615", text_of(&x, self->buf, 64));
	x = tm_int(-5);
	EXPECT_EQ(TM_ERANGE, tm_get_uint(&x, &u));
	x = P(&self->a, "-9223372036854775809");
	EXPECT_STREQ("b009ff7fffffffffffffff",
		     enc_hex(&x, self->buf, sizeof(self->buf)));
	x = P(&self->a, "-9223372036854775808");
	EXPECT_FALSE(x.flags & TM_F_BIGINT);
	EXPECT_EQ(INT64_MIN, x.u.i);
	x = P(&self->a, "000000000000000000000000000000042");
	EXPECT_FALSE(x.flags & TM_F_BIGINT);
	EXPECT_EQ(42, x.u.i);
}

/* ---- embedded termite references ----------------------------------------- */

TEST_F(t, embedded_refs)
{
	struct tm_ref pid = { .id = 42, .kind = TM_REF_PID, .node_len = 2,
			      .node = { 0x0a, 0x0b } };
	struct tm_ref tag = { .id = UINT64_MAX, .kind = TM_REF_TAG };
	struct tm_term p = tm_embedded(&pid), g = tm_embedded(&tag), d;
	uint64_t u;

	EXPECT_STREQ("86b4b303726566b2020a0bb303706964b0012a84",
		     enc_hex(&p, self->buf, sizeof(self->buf)));
	EXPECT_STREQ("#:<ref #x\"0a0b\" pid 42>", text_of(&p, self->buf, 256));
	EXPECT_STREQ("86b4b303726566b200b303746167b00900ffffffffffffffff84",
		     enc_hex(&g, self->buf, sizeof(self->buf)));
	EXPECT_EQ(0, roundtrip(&p));
	EXPECT_EQ(0, roundtrip(&g));
	d = P(&self->a, "#!<ref #\"AB\" tag 7>");
	ASSERT_TRUE(tm_is(&d, TM_EMBEDDED));
	EXPECT_EQ(TM_REF_TAG, d.u.ref->kind);
	EXPECT_EQ(7, d.u.ref->id);
	EXPECT_EQ(2, d.u.ref->node_len);
	EXPECT_EQ(0, memcmp(d.u.ref->node, "AB", 2));
	/* refs are values: usable in sets, as dictionary keys, in compare */
	d = tm_set(&self->a, (struct tm_term[]){ g, p, p }, 3);
	EXPECT_EQ(2, tm_count(&d));
	EXPECT_EQ(0, roundtrip(&d));
	/* malformed references */
	EXPECT_EQ(TM_EEMBED, D(&self->a, "86b4b303726566b200b303666f6fb0012a84", 0, &d));
	EXPECT_EQ(TM_EEMBED, D(&self->a, "86b4b303726566b200b303706964b001ff84", 0, &d));
	EXPECT_EQ(TM_EEMBED, D(&self->a, "86b4b303726566b200b303706964b00a0100000000000000000084", 0, &d));
	EXPECT_EQ(TM_EEMBED, D(&self->a, "86b4b303726566b200b303706964b0012ab00184", 0, &d));
	EXPECT_EQ(TM_ENONCANON, D(&self->a, "86b4b303726566b200b303706964b002002a84", 0, &d));
	EXPECT_EQ(TM_ESHORT, D(&self->a, "86b4b303726566b200b30370", 0, &d));
	EXPECT_EQ(TM_EEMBED, D(&self->a, "8686b4b303726566b200b303706964b0012a84", 0, &d));
	{
		char hex[200] = "86b4b303726566b221";
		int i;

		for (i = 0; i < 33; i++)
			strcat(hex, "00");
		strcat(hex, "b303706964b00084");
		EXPECT_EQ(TM_EEMBED, D(&self->a, hex, 0, &d));	/* node > 32 */
	}
	d = P(&self->a, "#:<ref #\"\" pid -1>");
	EXPECT_FALSE(tm_term_valid(&d));
	d = P(&self->a, "#:0");
	EXPECT_EQ(TM_EEMBED, tm_term_error(&d));
	ASSERT_EQ(0, tm_get_uint(REF(tm_uint(&self->a, tag.id)), &u));
	EXPECT_EQ(UINT64_MAX, u);
}

/* ---- malformed and over-limit input --------------------------------------- */

TEST_F(t, malformed)
{
	static const struct { const char *hex; int err; } bad[] = {
		{ "b0020001", TM_ENONCANON },	/* 1 as two bytes */
		{ "b002ffff", TM_ENONCANON },	/* -1 as two bytes */
		{ "b00100", TM_ENONCANON },	/* 0 as one byte */
		{ "b18000", TM_ENONCANON },	/* length 0 as two bytes */
		{ "b1810061", TM_ENONCANON },	/* varint with zero high group */
		{ "b102c328", TM_EUTF8 },
		{ "b302c080", TM_EUTF8 },	/* overlong */
		{ "b103eda080", TM_EUTF8 },	/* surrogate */
		{ "b104f4908080", TM_EUTF8 },	/* > U+10FFFF */
		{ "b101ff", TM_EUTF8 },
		{ "b10568656c6c", TM_ESHORT },
		{ "b1", TM_ESHORT },
		{ "b1ffffffff7f", TM_ELIMIT },	/* absurd length */
		{ "870400000000", TM_EBADTAG },	/* floats are gone in 0.996 */
		{ "8708000000", TM_ESHORT },
		{ "87", TM_ESHORT },
		{ "b484", TM_EMALFORMED },	/* record without label */
		{ "b4", TM_ESHORT },
		{ "b5b00101", TM_ESHORT },
		{ "8080", TM_ETRAILING },
		{ "b58484", TM_ETRAILING },
		{ "82", TM_EBADTAG },
		{ "b8", TM_EBADTAG },
		{ "00", TM_EBADTAG },
		{ "85", TM_ESHORT },
		{ "8580", TM_ESHORT },
		{ "b5 85 80 84", TM_EBADTAG },	/* annotation of nothing */
	};
	struct tm_term out;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(bad[i].err, D(&self->a, bad[i].hex, 0, &out))
			TH_LOG("%s", bad[i].hex);
		EXPECT_FALSE(tm_term_valid(&out));
	}
}

TEST_F(t, every_truncation_is_short)
{
	struct tm_term big = P(&self->a,
		"<msg #:<ref #x\"0102\" pid 99> [1 -2 3.5 \"str\" #\"b\" sym] "
		"#{1 2 3} {a: <x> \"k\": [[]]} 123456789012345678901234567890>");
	uint8_t enc[512], *copy;
	struct tm_term out;
	size_t cut, used;
	ssize_t n;

	ASSERT_TRUE(tm_term_valid(&big));
	n = tm_encode(&big, enc, sizeof(enc));
	ASSERT_LT(0, n);
	ASSERT_GE((ssize_t)sizeof(enc), n);
	for (cut = 0; cut < (size_t)n; cut++) {
		/* exact-size heap copies, so ASan sees any overread */
		copy = malloc(cut ? cut : 1);
		memcpy(copy, enc, cut);
		EXPECT_EQ(TM_ESHORT, tm_decode(&self->a, copy, cut,
					       TM_DEC_CANONICAL, NULL, &out,
					       NULL)) TH_LOG("cut %zu", cut);
		EXPECT_EQ(TM_ESHORT, tm_validate(copy, cut, 0, NULL, NULL));
		free(copy);
	}
	ASSERT_EQ(0, tm_decode(&self->a, enc, (size_t)n, TM_DEC_CANONICAL,
			       NULL, &out, &used));
	EXPECT_EQ((size_t)n, used);
	EXPECT_TRUE(tm_equal(&big, &out));
}

TEST_F(t, prefix_mode_and_borrow)
{
	uint8_t buf[] = { 0xb1, 0x02, 'h', 'i', 0x81, 0x80 };
	struct tm_term out;
	size_t used = 0;

	EXPECT_EQ(TM_ETRAILING, tm_decode(&self->a, buf, sizeof(buf), 0, NULL,
					  &out, &used));
	ASSERT_EQ(0, tm_decode(&self->a, buf, sizeof(buf),
			       TM_DEC_PREFIX | TM_DEC_BORROW, NULL, &out, &used));
	EXPECT_EQ(4, used);
	EXPECT_TRUE(tm_string_is(&out, "hi"));
	EXPECT_EQ((const uint8_t *)buf + 2, out.u.ptr);	/* borrowed */
	ASSERT_EQ(0, tm_validate(buf, sizeof(buf), TM_DEC_PREFIX, NULL, &used));
	EXPECT_EQ(4, used);
}

TEST_F(t, depth_limit)
{
	uint8_t buf[300];
	struct tm_limits lim = { .max_depth = 4 };
	struct tm_term out;
	int i;

	for (i = 0; i < 64; i++)
		buf[i] = 0xb5;
	for (i = 0; i < 64; i++)
		buf[64 + i] = 0x84;
	EXPECT_EQ(0, tm_decode(&self->a, buf, 128, 0, NULL, &out, NULL));
	EXPECT_EQ(0, roundtrip(&out));
	/* 65 levels: too deep, however it ends */
	for (i = 0; i < 65; i++)
		buf[i] = 0xb5;
	for (i = 0; i < 65; i++)
		buf[65 + i] = 0x84;
	EXPECT_EQ(TM_EDEPTH, tm_decode(&self->a, buf, 130, 0, NULL, &out, NULL));
	EXPECT_EQ(TM_EDEPTH, tm_validate(buf, 130, 0, NULL, NULL));
	EXPECT_EQ(TM_EDEPTH, tm_decode(&self->a, buf, 70, 0, NULL, &out, NULL));
	EXPECT_EQ(TM_EDEPTH, tm_decode(&self->a, buf, 130, 0, &lim, &out, NULL));
	EXPECT_EQ(0, tm_decode(&self->a, buf + 61, 8, 0, &lim, &out, NULL));
	/* annotation chains count too */
	memset(buf, 0x85, 200);
	buf[200] = 0x80;
	EXPECT_EQ(TM_EDEPTH, tm_decode(&self->a, buf, 201, 0, NULL, &out, NULL));
	/* and text */
	memset(self->buf, '[', 65);
	memset(self->buf + 65, ']', 65);
	EXPECT_EQ(TM_EDEPTH, tm_parse(&self->a, self->buf, 130, &out, NULL));
	EXPECT_EQ(0, tm_parse(&self->a, self->buf + 1, 128, &out, NULL));
}

TEST_F(t, size_limits)
{
	struct tm_limits lim = { 0 };
	struct tm_arena small;
	struct tm_term out;
	uint8_t buf[64];
	ssize_t n;

	n = unhex("b5 b10568656c6c6f b00101 b00102 b00103 84", buf, sizeof(buf));
	lim.max_atom = 4;
	EXPECT_EQ(TM_ELIMIT, tm_decode(&self->a, buf, (size_t)n, 0, &lim, &out, NULL));
	EXPECT_EQ(TM_ELIMIT, tm_validate(buf, (size_t)n, 0, &lim, NULL));
	lim.max_atom = 5;
	EXPECT_EQ(0, tm_decode(&self->a, buf, (size_t)n, 0, &lim, &out, NULL));
	lim = (struct tm_limits){ .max_items = 4 };
	EXPECT_EQ(TM_ELIMIT, tm_decode(&self->a, buf, (size_t)n, 0, &lim, &out, NULL));
	lim.max_items = 5;
	EXPECT_EQ(0, tm_decode(&self->a, buf, (size_t)n, 0, &lim, &out, NULL));
	lim = (struct tm_limits){ .max_alloc = 16 };
	EXPECT_EQ(TM_ELIMIT, tm_decode(&self->a, buf, (size_t)n, 0, &lim, &out, NULL));
	/* an arena with its own limit */
	tm_arena_init(&small, 32);
	EXPECT_EQ(TM_ENOMEM, tm_decode(&small, buf, (size_t)n, 0, NULL, &out, NULL));
	EXPECT_GE((size_t)32, small.used);
	tm_arena_fini(&small);
}

TEST_F(t, encode_buffer_semantics)
{
	struct tm_term s = tm_string("hello");
	uint8_t buf[4] = { 0 };

	EXPECT_EQ(7, tm_encoded_size(&s));
	EXPECT_EQ(7, tm_encode(&s, buf, sizeof(buf)));	/* truncated */
	EXPECT_EQ(0xb1, buf[0]);
	EXPECT_EQ('e', buf[3]);
	EXPECT_EQ(7, tm_print(&s, (char *)buf, sizeof(buf)));
	EXPECT_STREQ("\"he", (char *)buf);
}

TEST_HARNESS_MAIN
