/* SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT) */
/*
 * Syndicate-style dataspace patterns over termite terms.
 *
 * A pattern is discard (_), capture ($name, or $name:pattern), a literal
 * value, or a structure: a record (literal label, one pattern per field,
 * exact arity), a sequence (exact length) or a dictionary (literal keys,
 * one pattern per key; other keys are allowed).  In the text syntax
 * (Preserves text with two additions) that reads:
 *
 *   <add $a $b>   <reply $ref $value:[_ _]>   {name: $n age: 42}   _
 *
 * A bare _ is discard, a symbol starting with $ is a capture ($ alone is an
 * anonymous one), and $name:P (no space around the colon) captures what P
 * matches.  Every other value (strings, numbers, sets, #:refs, ...) is a
 * literal.  Record labels and dictionary keys are always literals.
 *
 * Patterns are also terms, so that they can travel in messages (as
 * Syndicate's assertions of interest do).  Modelled on Syndicate's
 * dataspacePatterns schema, a pattern term is one of
 *
 *   <_>                      discard
 *   <bind P>  <bind P name>  capture (name: optional symbol)
 *   <lit V>                  literal V
 *   <rec L [P...]>           record with label L and these field patterns
 *   <arr [P...]>             sequence of exactly these item patterns
 *   <dict {K: P...}>         dictionary with at least these keys
 *
 * tm_pattern_parse() turns text into such a term, the tm_pat_*() helpers
 * build one, and tm_pattern_compile_term() compiles one.  A compiled
 * pattern is a flat instruction array in one malloc()ed block, matched
 * without allocation either against a decoded term or, faster, directly
 * against canonical encoded bytes.
 *
 * Captures are numbered from 0 in depth-first, left-to-right order
 * (record fields and sequence items in order, dictionary entries in
 * canonical key order); tm_pattern_capture_index() finds one by name.
 */
#ifndef TERMITE_PATTERN_H
#define TERMITE_PATTERN_H

#include "term.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tm_pattern;

/* At most this many captures, and TM_MAX_DEPTH nested structures. */
#define TM_PAT_MAX_CAPTURES	256

/* Text to compiled pattern. */
int tm_pattern_compile(const char *text, size_t len, struct tm_pattern **out);
/* Pattern term (see above) to compiled pattern. */
int tm_pattern_compile_term(const struct tm_term *pat, struct tm_pattern **out);
void tm_pattern_free(struct tm_pattern *p);

/* Text to pattern term, in the arena. */
int tm_pattern_parse(struct tm_arena *a, const char *text, size_t len,
		     struct tm_term *out);

/* Pattern term builders (name may be NULL) */
struct tm_term tm_pat_discard(struct tm_arena *a);
struct tm_term tm_pat_bind(struct tm_arena *a, const char *name,
			   struct tm_term sub);
struct tm_term tm_pat_lit(struct tm_arena *a, struct tm_term value);
struct tm_term tm_pat_rec(struct tm_arena *a, struct tm_term label,
			  const struct tm_term *fields, size_t n);
struct tm_term tm_pat_arr(struct tm_arena *a, const struct tm_term *items,
			  size_t n);
/* kp holds key, pattern, key, pattern, ... */
struct tm_term tm_pat_dict(struct tm_arena *a, const struct tm_term *kp,
			   size_t npairs);

unsigned int tm_pattern_ncaptures(const struct tm_pattern *p);
/* The capture's name, or NULL if it has none. */
const char *tm_pattern_capture_name(const struct tm_pattern *p, unsigned int i);
/* The index of the capture called name, or TM_EINVAL. */
int tm_pattern_capture_index(const struct tm_pattern *p, const char *name);

/**
 * struct tm_capture - what a capture matched
 * @off: byte offset of the captured value's encoding in the input
 *	(tm_match_bytes() only)
 * @len: its length in bytes (tm_match_bytes() only)
 * @term: the captured sub-term (tm_match_term() only)
 */
struct tm_capture {
	uint32_t off;
	uint32_t len;
	const struct tm_term *term;
};

/*
 * Match the one value encoded in buf[0..len).  Returns 1 (match), 0 (no
 * match) or a negative code when the bytes are malformed where the match
 * looked.  The bytes must be in canonical form for literals to compare
 * equal (everything tm_encode() writes is; tm_validate() checks untrusted
 * input).  Never reads outside buf, never allocates.  caps may be NULL, or
 * have room for ncaps captures: those beyond are not recorded.
 */
int tm_match_bytes(const struct tm_pattern *p, const void *buf, size_t len,
		   struct tm_capture *caps, size_t ncaps);
/* Match a term: 1, 0, or a negative code for an invalid term. */
int tm_match_term(const struct tm_pattern *p, const struct tm_term *t,
		  struct tm_capture *caps, size_t ncaps);

/**
 * struct tm_prefix - a byte test every matching message passes
 * @off: payload offset of @data
 * @len: bytes of @data that matter (0: no test possible, e.g. for _)
 * @data: the bytes, at @off
 * @mask: 0xff for each byte that matters, 0 beyond @len
 * @total: length of the whole constant prefix of the pattern's encoding
 *	(@data holds its first min(@total, 8) bytes)
 *
 * Every canonical encoding that matches the pattern starts with the
 * pattern's constant prefix (for <ping _>: the record tag and the label
 * symbol's encoding).  Hand it to the kernel's selective receive with
 *
 *	if (pf.len) {
 *		r.flags |= TERMITE_MATCH_DATA;
 *		r.data_off = payload_offset_of_the_term + pf.off;
 *		memcpy(r.data, pf.data, 8);
 *		memcpy(r.mask, pf.mask, 8);
 *	}
 *
 * and check tm_match_bytes() on what arrives (the prefix is a necessary
 * condition, not a sufficient one).
 */
struct tm_prefix {
	uint32_t off;
	uint32_t len;
	uint8_t data[8];
	uint8_t mask[8];
	uint32_t total;
};

int tm_pattern_prefix(const struct tm_pattern *p, struct tm_prefix *pf);
/* The whole constant prefix: *len bytes (may be 0). */
const uint8_t *tm_pattern_const_prefix(const struct tm_pattern *p,
				       size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* TERMITE_PATTERN_H */
