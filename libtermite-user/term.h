/* SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT) */
/*
 * termite term layer: immutable Preserves values (struct tm_term), their
 * construction, total order, hashing, and their binary and text syntaxes.
 *
 * The data model is Preserves 0.996 (https://preserves.dev/preserves.html):
 * Boolean, Double, SignedInteger (any size), String, ByteString, Symbol,
 * Record, Sequence, Set, Dictionary and Embedded.  An embedded value is a
 * termite reference (struct tm_ref): a node id, a kind (pid or tag) and a
 * 64-bit id, so that pids and tags keep their node across nodes.
 *
 * Memory.  A struct tm_term is a small (16-byte) value passed around by
 * value or pointer.  Atoms made by tm_bool(), tm_int(), tm_string(), ...
 * need no allocation: strings, byte strings and symbols point at the
 * caller's memory.  Compounds (records, sequences, sets, dictionaries) keep
 * their items in an arena (struct tm_arena); the constructors copy the item
 * array (not what the items point at).  tm_copy() makes a deep copy into an
 * arena, tm_clone() one into a single malloc()ed block freed by tm_free().
 * A term is immutable once made; freeing is tm_arena_fini() of its arena.
 *
 * Errors.  Functions returning int return 0 (or a count) on success and a
 * negative TM_E* code on failure.  Constructors that return a term return a
 * term of kind TM_INVALID carrying the error code (tm_term_error()) when
 * they fail; a compound made from an invalid item is itself invalid, so one
 * check at the end of a construction suffices.
 *
 * No global state: every function is safe to call from several threads on
 * distinct arenas.  (Each thread keeps the memory of arenas it frees, up
 * to 2 MiB, in a cache of its own for its next arenas; see term.c.)
 */
#ifndef TERMITE_TERM_H
#define TERMITE_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Kinds, in the order of the Preserves total order. */
enum tm_kind {
	TM_INVALID = 0,		/* a failed construction; u.err is the code */
	TM_BOOL,
	TM_DOUBLE,
	TM_INT,
	TM_STRING,
	TM_BYTES,
	TM_SYMBOL,
	TM_RECORD,
	TM_SEQUENCE,
	TM_SET,
	TM_DICT,
	TM_EMBEDDED,
};

/* Error codes (negative). */
enum {
	TM_ENOMEM	= -1,	/* out of memory, or over an allocation limit */
	TM_ESHORT	= -2,	/* input ends in the middle of a value */
	TM_EBADTAG	= -3,	/* unknown or misplaced tag byte */
	TM_ENONCANON	= -4,	/* non-minimal integer or length */
	TM_EORDER	= -5,	/* set or dictionary not in canonical order */
	TM_EDUP		= -6,	/* duplicate set element or dictionary key */
	TM_EUTF8	= -7,	/* invalid UTF-8 in a string or symbol */
	TM_ETRAILING	= -8,	/* bytes or text after the value */
	TM_EDEPTH	= -9,	/* nested deeper than the limit */
	TM_ELIMIT	= -10,	/* over a size or count limit */
	TM_EANNOT	= -11,	/* annotation where canonical form is required */
	TM_EEMBED	= -12,	/* embedded value that is not a termite reference */
	TM_EMALFORMED	= -13,	/* record without label, odd dictionary, ... */
	TM_ESYNTAX	= -14,	/* text syntax error */
	TM_EINVAL	= -15,	/* invalid argument or invalid term */
	TM_ERANGE	= -16,	/* number out of range */
};

const char *tm_strerror(int err);

/* ---- termite references (the embedded values) ---------------------- */

#define TM_NODE_MAX	32

enum tm_ref_kind {
	TM_REF_PID = 0,		/* an actor */
	TM_REF_TAG = 1,		/* a tag / reference (make_ref) */
};

/**
 * struct tm_ref - a termite reference, the one kind of embedded value
 * @id: the actor id or tag, unique within its node
 * @kind: &enum tm_ref_kind
 * @node_len: bytes used in @node (0 for "this node")
 * @node: the node's id
 *
 * In the binary syntax a reference is 0x86 (embedded) followed by the
 * record <ref #"node" pid|tag id>; in the text syntax it is written
 * #:<ref #x"..." pid 42>.  Ordered by node (as a byte string), then kind,
 * then id (unsigned), which is the order of that record.
 */
struct tm_ref {
	uint64_t id;
	uint8_t kind;
	uint8_t node_len;
	uint8_t node[TM_NODE_MAX];
};

/* ---- the term ------------------------------------------------------ */

#define TM_F_BIGINT	0x01	/* TM_INT held as u.ptr[len], see below */

/**
 * struct tm_term - an immutable Preserves value
 * @kind: &enum tm_kind
 * @flags: %TM_F_BIGINT for integers outside int64_t
 * @len: bytes of a string, byte string, symbol or big integer; items of
 *	a compound (a record's label counts as one item)
 * @u: the payload:
 *	- TM_BOOL: u.b;  TM_DOUBLE: u.d;  TM_INT (small): u.i
 *	- TM_INT (big): u.ptr[0..len) minimal two's complement, big-endian,
 *	  len > 8 (a value that fits int64_t is never big)
 *	- TM_STRING, TM_SYMBOL: u.str, UTF-8, len bytes; NUL-terminated when
 *	  made by tm_decode() (unless %TM_DEC_BORROW), tm_parse(), tm_copy()
 *	  or tm_clone(), not necessarily otherwise; may contain NULs
 *	- TM_BYTES: u.ptr, len bytes
 *	- TM_RECORD: u.items[0] is the label, u.items[1..len) the fields
 *	- TM_SEQUENCE, TM_SET: u.items[0..len) (sets in canonical order)
 *	- TM_DICT: u.items[2i] key, u.items[2i+1] value, len = 2 * count,
 *	  in canonical order of the keys
 *	- TM_EMBEDDED: u.ref
 *	- TM_INVALID: u.err, a TM_E* code
 *
 * Sets and dictionaries are kept sorted by the canonical binary encoding
 * of their elements (keys), which is what the binary syntax needs; use
 * the constructors, never fill one in by hand.
 */
struct tm_term {
	uint8_t kind;
	uint8_t flags;
	uint16_t reserved;
	uint32_t len;
	union {
		bool b;
		double d;
		int64_t i;
		int err;
		const uint8_t *ptr;
		const char *str;
		const struct tm_term *items;
		const struct tm_ref *ref;
	} u;
};

/* ---- arenas -------------------------------------------------------- */

struct tm_chunk;

/**
 * struct tm_arena - a region allocator; everything is freed at once
 * @chunk: current chunk (private)
 * @used: bytes handed out so far
 * @limit: 0, or the most bytes the arena may hand out in total
 */
struct tm_arena {
	struct tm_chunk *chunk;
	size_t used;
	size_t limit;
};

void tm_arena_init(struct tm_arena *a, size_t limit);
/* Frees everything in @a (any thread may); @a is left empty, reusable. */
void tm_arena_fini(struct tm_arena *a);
/* 8-byte aligned memory, or NULL when out of memory or over the limit. */
void *tm_arena_alloc(struct tm_arena *a, size_t size);

/* ---- atoms (no allocation; strings point at the caller's memory) ----- */

struct tm_term tm_invalid(int err);
struct tm_term tm_bool(bool b);
struct tm_term tm_int(int64_t v);
struct tm_term tm_double(double d);
/* Strings and symbols must be valid UTF-8 (else TM_EUTF8). */
struct tm_term tm_string(const char *s);
struct tm_term tm_stringn(const char *s, size_t len);
struct tm_term tm_symbol(const char *s);
struct tm_term tm_symboln(const char *s, size_t len);
struct tm_term tm_bytes(const void *p, size_t len);
/* Two's complement big-endian bytes of any length; normalised. */
struct tm_term tm_bigint(const void *p, size_t len);
/* Values above INT64_MAX need 9 bytes from the arena. */
struct tm_term tm_uint(struct tm_arena *a, uint64_t v);
struct tm_term tm_embedded(const struct tm_ref *ref);

/* ---- compounds (the item array is copied into the arena) ------------ */

struct tm_term tm_record(struct tm_arena *a, struct tm_term label,
			 const struct tm_term *fields, size_t n);
struct tm_term tm_sequence(struct tm_arena *a, const struct tm_term *items,
			   size_t n);
/* Sorted into canonical order; duplicates are dropped. */
struct tm_term tm_set(struct tm_arena *a, const struct tm_term *items,
		      size_t n);
/* kv holds key, value, key, value...; a repeated key gives TM_EDUP. */
struct tm_term tm_dict(struct tm_arena *a, const struct tm_term *kv,
		       size_t npairs);
/* Variadic forms: n items of type struct tm_term follow. */
struct tm_term tm_rec(struct tm_arena *a, struct tm_term label, size_t n, ...);
struct tm_term tm_seq(struct tm_arena *a, size_t n, ...);

/* Deep copies: into an arena, or into one malloc()ed block (tm_free()). */
struct tm_term tm_copy(struct tm_arena *a, const struct tm_term *t);
struct tm_term *tm_clone(const struct tm_term *t);
void tm_free(struct tm_term *t);

/* ---- inspection ---------------------------------------------------- */

static inline bool tm_term_valid(const struct tm_term *t)
{
	return t->kind != TM_INVALID;
}

static inline int tm_term_error(const struct tm_term *t)
{
	return t->kind == TM_INVALID ? t->u.err : 0;
}

static inline bool tm_is(const struct tm_term *t, enum tm_kind k)
{
	return t->kind == k;
}

/* The value of a TM_INT that fits; returns TM_ERANGE (or TM_EINVAL). */
int tm_get_int(const struct tm_term *t, int64_t *v);
int tm_get_uint(const struct tm_term *t, uint64_t *v);

/* Whether t is a string (symbol) equal to the NUL-terminated s. */
bool tm_string_is(const struct tm_term *t, const char *s);
bool tm_symbol_is(const struct tm_term *t, const char *s);

static inline const struct tm_term *tm_record_label(const struct tm_term *t)
{
	return &t->u.items[0];
}

static inline size_t tm_record_arity(const struct tm_term *t)
{
	return t->len - 1;
}

static inline const struct tm_term *tm_record_field(const struct tm_term *t,
						    size_t i)
{
	return &t->u.items[1 + i];
}

/* Whether t is a record labelled with the symbol label, of that arity. */
bool tm_record_is(const struct tm_term *t, const char *label, size_t arity);

/* Items of a sequence or set. */
static inline size_t tm_count(const struct tm_term *t)
{
	return t->kind == TM_DICT ? t->len / 2 : t->len;
}

static inline const struct tm_term *tm_item(const struct tm_term *t, size_t i)
{
	return &t->u.items[i];
}

static inline const struct tm_term *tm_dict_key(const struct tm_term *t,
						size_t i)
{
	return &t->u.items[2 * i];
}

static inline const struct tm_term *tm_dict_value(const struct tm_term *t,
						  size_t i)
{
	return &t->u.items[2 * i + 1];
}

/* The value under key in a dictionary, or NULL. */
const struct tm_term *tm_dict_get(const struct tm_term *dict,
				  const struct tm_term *key);
/* Whether elem is in the set. */
bool tm_set_has(const struct tm_term *set, const struct tm_term *elem);

/* ---- order and hashing --------------------------------------------- */

/*
 * The Preserves total order: <0, 0 or >0.  Kinds are ordered Boolean <
 * Double < SignedInteger < String < ByteString < Symbol < Record <
 * Sequence < Set < Dictionary < Embedded; doubles by IEEE 754 totalOrder.
 * Comparing two unequal sets or dictionaries costs O(n^2) comparisons.
 */
int tm_compare(const struct tm_term *a, const struct tm_term *b);
bool tm_equal(const struct tm_term *a, const struct tm_term *b);
/* Order of the canonical binary encodings (bytewise); no allocation. */
int tm_canon_compare(const struct tm_term *a, const struct tm_term *b);
/*
 * A 64-bit hash of the canonical binary encoding: equal terms hash
 * equally, and tm_hash(t) == tm_hash_bytes(encoding of t).
 */
uint64_t tm_hash(const struct tm_term *t);
uint64_t tm_hash_bytes(const void *buf, size_t len);

/* ---- binary syntax (preserves.c) ----------------------------------- */

/*
 * Canonical encoding of t into buf (at most cap bytes).  Returns the full
 * encoded length, which may exceed cap (then buf holds only a prefix, as
 * with snprintf), or a negative code for an invalid term.
 */
ssize_t tm_encode(const struct tm_term *t, void *buf, size_t cap);
ssize_t tm_encoded_size(const struct tm_term *t);
/* A malloc()ed canonical encoding; NULL on failure. */
void *tm_encode_alloc(const struct tm_term *t, size_t *len);

/**
 * struct tm_limits - bounds for decoding untrusted input (0: default)
 * @max_depth: nesting of compounds (default and maximum %TM_MAX_DEPTH)
 * @max_items: values in the input, all levels counted (default: no limit
 *	beyond the input length)
 * @max_atom: bytes of one string, byte string, symbol or integer
 *	(default: no limit beyond the input length)
 * @max_alloc: bytes the decode may take from the arena (default: none)
 */
struct tm_limits {
	uint32_t max_depth;
	uint32_t max_items;
	uint32_t max_atom;
	size_t max_alloc;
};

#define TM_MAX_DEPTH		64

/* tm_decode() flags */
#define TM_DEC_CANONICAL	0x1 /* reject anything not in canonical form */
#define TM_DEC_PREFIX		0x2 /* allow bytes after the value */
#define TM_DEC_BORROW		0x4 /* atoms point into buf, not copies */

/*
 * Decode one value from buf.  Without TM_DEC_CANONICAL annotations are
 * skipped and sets and dictionaries may come in any order (they are
 * sorted); integers and lengths must always be minimal.  *used (may be
 * NULL) gets the bytes consumed.  Never reads outside buf; every error
 * leaves *out invalid (and maybe some arena memory used).
 */
int tm_decode(struct tm_arena *a, const void *buf, size_t len,
	      unsigned int flags, const struct tm_limits *lim,
	      struct tm_term *out, size_t *used);
/*
 * Check that buf holds canonical Preserves (as tm_decode() with
 * TM_DEC_CANONICAL would) without allocating anything.
 */
int tm_validate(const void *buf, size_t len, unsigned int flags,
		const struct tm_limits *lim, size_t *used);

/* ---- text syntax (text.c) ------------------------------------------ */

/*
 * Parse one value in the Preserves text syntax.  With used == NULL the
 * whole text must be that one value (whitespace and comments aside),
 * otherwise *used gets the characters consumed.  Annotations (@x v) and
 * comments are skipped.  Embedded values are #:<ref node kind id> (#! is
 * accepted for #:).
 */
int tm_parse(struct tm_arena *a, const char *text, size_t len,
	     struct tm_term *out, size_t *used);
/*
 * Print t in the text syntax, NUL-terminated, into buf (cap bytes).
 * Returns the length without the NUL (maybe > cap - 1, as snprintf), or
 * a negative code.  Sets and dictionaries are printed in the total order.
 */
ssize_t tm_print(const struct tm_term *t, char *buf, size_t cap);
/* A malloc()ed NUL-terminated text; NULL on failure. */
char *tm_print_alloc(const struct tm_term *t);

#ifdef __cplusplus
}
#endif

#endif /* TERMITE_TERM_H */
