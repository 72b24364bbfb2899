/* SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT) */
/*
 * Private helpers shared by the term layer's source files (term.c,
 * preserves.c, text.c, pattern.c) and proc.c: the byte sink the encoder
 * writes to, UTF-8 checking, varints, the text reader used by the pattern
 * parser, the arena helpers of messages between local processes, and the
 * bounds of the arena chunk cache.
 * Not installed; not part of the API.
 */
#ifndef TERMITE_TERM_INTERNAL_H
#define TERMITE_TERM_INTERNAL_H

#include <string.h>

#include "term.h"

/*
 * Arenas for messages between processes of one scheduler (proc.c): one
 * more chunk of @size bytes, so that that much allocation needs no
 * malloc(); moving every chunk of @from into @to, whose current chunk
 * stays current (@from is left empty).
 */
int tm__arena_reserve(struct tm_arena *a, size_t size);
void tm__arena_merge(struct tm_arena *to, struct tm_arena *from);

/*
 * Arena chunks (term.c): an arena's first chunk and the most a growing
 * one doubles to (chunks up to that come in size classes); the bytes of
 * freed chunks a thread keeps for reuse, in all and of one class; what
 * the calling thread keeps now, and freeing it (tests).
 */
#define CHUNK_MIN	4096
#define CHUNK_MAX	(1u << 20)
#define CACHE_MAX	(2u << 20)
#define CACHE_CLASS_MAX	(1u << 20)
size_t tm__chunk_cache_bytes(void);
void tm__chunk_cache_drain(void);

/* Binary syntax tags, Preserves 0.996 (https://preserves.dev/preserves-binary.html). */
#define TAG_FALSE	0x80
#define TAG_TRUE	0x81
#define TAG_END		0x84
#define TAG_ANNOTATION	0x85
#define TAG_EMBEDDED	0x86
#define TAG_IEEE754	0x87
#define TAG_INT		0xB0
#define TAG_STRING	0xB1
#define TAG_BYTES	0xB2
#define TAG_SYMBOL	0xB3
#define TAG_RECORD	0xB4
#define TAG_SEQUENCE	0xB5
#define TAG_SET		0xB6
#define TAG_DICT	0xB7

/*
 * Where the encoder's bytes go: a buffer (counting what does not fit), a
 * running hash, or a comparison against reference bytes.
 */
enum sink_mode { SINK_BUF, SINK_HASH, SINK_CMP };

struct tm_sink {
	enum sink_mode mode;
	size_t len;		/* bytes produced so far */
	uint8_t *buf;		/* SINK_BUF */
	size_t cap;
	uint64_t hash;		/* SINK_HASH */
	const uint8_t *ref;	/* SINK_CMP: compare against ref[0..reflen) */
	size_t reflen;
	int cmp;		/* SINK_CMP: result so far */
};

#define FNV_OFFSET	0xcbf29ce484222325ULL
#define FNV_PRIME	0x100000001b3ULL

static inline void sink_put(struct tm_sink *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	switch (s->mode) {
	case SINK_BUF:
		if (s->len < s->cap) {
			size_t room = s->cap - s->len;

			memcpy(s->buf + s->len, b, n < room ? n : room);
		}
		break;
	case SINK_HASH:
		for (i = 0; i < n; i++)
			s->hash = (s->hash ^ b[i]) * FNV_PRIME;
		break;
	case SINK_CMP:
		if (s->cmp)
			break;
		for (i = 0; i < n; i++) {
			if (s->len + i >= s->reflen) {
				s->cmp = 1;	/* longer than ref */
				break;
			}
			if (b[i] != s->ref[s->len + i]) {
				s->cmp = b[i] < s->ref[s->len + i] ? -1 : 1;
				break;
			}
		}
		break;
	}
	s->len += n;
}

static inline void sink_byte(struct tm_sink *s, uint8_t b)
{
	sink_put(s, &b, 1);
}

static inline uint64_t hash_final(uint64_t h)
{
	/* splitmix64 finaliser, so that low bits are usable for tables */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/* preserves.c: stream the canonical encoding of t; <0 for invalid terms */
int tm__encode_sink(struct tm_sink *s, const struct tm_term *t);

/* Compare t's canonical encoding with ref[0..len): <0, 0, >0, or error. */
int tm__canon_cmp_bytes(const struct tm_term *t, const uint8_t *ref,
			size_t len, int *res);

/* varint (LEB128) of n into out (at most 10 bytes); returns its length */
static inline size_t varint_put(uint8_t *out, uint64_t n)
{
	size_t i = 0;

	while (n >= 0x80) {
		out[i++] = (uint8_t)(n | 0x80);
		n >>= 7;
	}
	out[i++] = (uint8_t)n;
	return i;
}

/* Minimal two's complement big-endian bytes of v into out[8]; returns count. */
static inline size_t int64_bytes(int64_t v, uint8_t out[8])
{
	uint64_t u = (uint64_t)v;
	size_t n = 8, i;

	if (v == 0)
		return 0;
	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(u >> (56 - 8 * i));
	while (n > 1) {
		uint8_t b0 = out[8 - n], b1 = out[9 - n];

		if ((b0 == 0x00 && !(b1 & 0x80)) || (b0 == 0xFF && (b1 & 0x80)))
			n--;
		else
			break;
	}
	memmove(out, out + 8 - n, n);
	return n;
}

/* term.c */
int tm__utf8_check(const uint8_t *s, size_t len);
/* Record <ref node kind id> of an embedded reference, built in place. */
struct ref_rec {
	struct tm_term items[4];
};
void tm__ref_record(const struct tm_ref *r, struct ref_rec *rr, uint8_t idbuf[9],
		    struct tm_term *out);
int tm__ref_from_record(const struct tm_term *rec, struct tm_ref *r);
/* Smallest item (step 1) or pair (step 2) of t greater than prev. */
const struct tm_term *tm__next_greater(const struct tm_term *t, size_t step,
				       const struct tm_term *prev);
/* malloc()ed pointers to the items (pairs) of t in total order, or NULL. */
const struct tm_term **tm__sorted_view(const struct tm_term *t, size_t step);
/* Sort items (sets) or pairs (dictionaries) canonically; TM_EDUP on dups. */
int tm__sort_set(struct tm_term *items, size_t *n, bool drop_dups);
int tm__sort_dict(struct tm_term *kv, size_t npairs);

/* text.c: a reader that the pattern parser shares */
struct tm_reader {
	const char *s;
	size_t len;
	size_t pos;
	struct tm_arena *a;
	struct tm_term *stk;	/* scratch stack of items being collected */
	size_t sp, cap;
	unsigned int depth;
};

void tm__rd_init(struct tm_reader *r, struct tm_arena *a, const char *s,
		 size_t len);
void tm__rd_fini(struct tm_reader *r);
/* Skip whitespace and comments (and commas if asked); not annotations. */
void tm__rd_skip_ws(struct tm_reader *r, bool commas);
/* Skip whitespace, comments, (commas) and any annotations (@value). */
int tm__rd_skip_ws_ann(struct tm_reader *r, bool commas);
/* Expect the colon of a dictionary entry. */
int tm__rd_colon(struct tm_reader *r);
int tm__rd_value(struct tm_reader *r, struct tm_term *out);
int tm__rd_push(struct tm_reader *r, const struct tm_term *t);
/* Compound bodies, each item or dictionary value read by a callback. */
typedef int (*tm_rd_item_fn)(struct tm_reader *r, struct tm_term *out);
int tm__rd_items(struct tm_reader *r, int close, tm_rd_item_fn item,
		 size_t *n);
int tm__rd_dict(struct tm_reader *r, tm_rd_item_fn value, size_t *n);

static inline int rd_peek(const struct tm_reader *r)
{
	return r->pos < r->len ? (unsigned char)r->s[r->pos] : -1;
}

/* The top n items of the reader's stack (NULL when n is 0). */
static inline struct tm_term *rd_top(struct tm_reader *r, size_t n)
{
	return n ? r->stk + r->sp - n : NULL;
}

#endif /* TERMITE_TERM_INTERNAL_H */
