// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * The termite term type: arenas, construction of atoms and compounds,
 * deep copies, inspection, the Preserves total order, the canonical
 * (encoding) order used to sort sets and dictionaries, and hashing.
 *
 * Orders follow Preserves 0.996, https://preserves.dev/preserves.html
 * ("Total order") and https://preserves.dev/canonical-binary.html (sets
 * and dictionaries sorted by the bytes of their canonical encodings).
 *
 * Arenas.  An arena is a list of malloc()ed chunks, bump-allocated: the
 * first is CHUNK_MIN bytes, each next one twice the last up to CHUNK_MAX
 * (or as big as one allocation needs); tm__arena_reserve() adds one of a
 * given size (the first chunk of a local message's arena, proc.c);
 * tm_arena_fini() frees them all.  A process's heap is an arena that tm_collect() replaces every
 * few hundred KiB, and a message arena is made and adopted for every local
 * send, so chunks come and go all the time.  malloc() alone makes that
 * expensive: glibc's free() gives the top of the heap back to the kernel
 * (trimming past 128 KiB free) and the next malloc() faults the pages in
 * again, a fault per 4 KiB that costs far more in a VM.
 *
 * So each thread keeps the chunks it frees in a small cache of its own
 * (struct chunk_cache, thread-local: no locks) and takes new chunks from
 * it first.  Chunk sizes up to CHUNK_MAX come in size classes, 64 bytes
 * then four per power of two (64, 80, 96, 112, 128, 160, 192, 224, 256,
 * 320, ...): a request is rounded up to its class, wasting under 25% (a
 * message's chunk stays in its receiver's heap until the next collection),
 * and the doubling chunks of a growing arena are classes already.  Bigger
 * chunks are malloc()ed and freed as they are.  The cache is bounded: at
 * most CACHE_CLASS_MAX (1 MiB) of one class and CACHE_MAX (2 MiB) in all,
 * and a chunk that does not fit is free()d.  Chunks may move between
 * threads with their arenas: whichever thread frees one caches it.  A
 * thread's cache is emptied when the thread exits (a pthread key's
 * destructor) or, for the thread calling exit(), by a destructor; whatever
 * it frees afterwards goes straight to free().  Nothing is taken ahead of
 * need: an arena gets its first chunk at its first allocation, so a parked
 * process's empty heap still costs nothing.  bench/arena_bench.c measures
 * it: a list of 1000 integers sent to oneself (copied, adopted, the heap
 * freed every 256 KiB) took 10.5 us and 2 page faults per message with
 * malloc() and free() alone, 4.0 us and none with the cache (2-core x86-64
 * host).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "term_internal.h"

/*
 * Cached chunks are free memory to ASan and valgrind too (use after
 * tm_arena_fini() is still caught) where their headers are installed.
 */
#if defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#endif
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(p, n)		((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n)	((void)(p), (void)(n))
#endif
#ifndef VALGRIND_MAKE_MEM_NOACCESS
#define VALGRIND_MAKE_MEM_NOACCESS(p, n)	((void)(p), (void)(n))
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n)	((void)(p), (void)(n))
#endif

/* ---- errors -------------------------------------------------------- */

const char *tm_strerror(int err)
{
	switch (err) {
	case 0:			return "success";
	case TM_ENOMEM:		return "out of memory or over the allocation limit";
	case TM_ESHORT:		return "truncated input";
	case TM_EBADTAG:	return "bad tag";
	case TM_ENONCANON:	return "non-minimal integer or length";
	case TM_EORDER:		return "set or dictionary not in canonical order";
	case TM_EDUP:		return "duplicate set element or dictionary key";
	case TM_EUTF8:		return "invalid UTF-8";
	case TM_ETRAILING:	return "trailing data after the value";
	case TM_EDEPTH:		return "nested too deeply";
	case TM_ELIMIT:		return "over a size limit";
	case TM_EANNOT:		return "annotation in canonical input";
	case TM_EEMBED:		return "embedded value is not a termite reference";
	case TM_EMALFORMED:	return "malformed compound";
	case TM_ESYNTAX:	return "syntax error";
	case TM_EINVAL:		return "invalid argument";
	case TM_ERANGE:		return "number out of range";
	}
	return "unknown error";
}

/* ---- arenas -------------------------------------------------------- */

struct tm_chunk {
	struct tm_chunk *next;
	size_t size;		/* usable bytes in data[] */
	size_t used;
	uint64_t data[];	/* 8-byte aligned */
};

#define CLASS_MIN_SHIFT	6		/* the smallest class: 64 bytes */
#define NCLASSES	(4 * (20 - CLASS_MIN_SHIFT) + 1)
_Static_assert(CHUNK_MAX == 1u << 20, "NCLASSES assumes 1 MiB");

enum { CACHE_NEW, CACHE_ON, CACHE_GONE };

/* A thread's freed chunks, by size class (see the top of this file). */
struct chunk_cache {
	struct tm_chunk *free[NCLASSES];
	uint32_t bytes[NCLASSES];	/* held in each class */
	uint32_t total;
	unsigned int state;		/* CACHE_*: exit handling */
};

static __thread struct chunk_cache tm_cache;
static pthread_key_t tm_cache_key;
static pthread_once_t tm_cache_once = PTHREAD_ONCE_INIT;
static bool tm_cache_keyed;

/* The class of a chunk of @size bytes (1 <= @size <= CHUNK_MAX). */
static inline unsigned int size_class(size_t size)
{
	unsigned int e;
	size_t step;

	if (size <= (1u << CLASS_MIN_SHIFT))
		return 0;
	e = 63 - __builtin_clzll(size - 1);	/* 2^e < size <= 2^(e+1) */
	step = (size_t)1 << (e - 2);
	return 4 * (e - CLASS_MIN_SHIFT) +
	       (unsigned int)((size - ((size_t)1 << e) + step - 1) >> (e - 2));
}

/* The usable bytes of a chunk of class @cl. */
static inline size_t class_size(unsigned int cl)
{
	unsigned int e;

	if (!cl)
		return 1u << CLASS_MIN_SHIFT;
	e = CLASS_MIN_SHIFT + (cl - 1) / 4;
	return (size_t)(4 + (cl - 1) % 4 + 1) << (e - 2);
}

/* Free every chunk @cc holds. */
static void cache_drain(struct chunk_cache *cc)
{
	struct tm_chunk *c;
	unsigned int i;

	for (i = 0; i < NCLASSES; i++) {
		while ((c = cc->free[i])) {
			cc->free[i] = c->next;
			ASAN_UNPOISON_MEMORY_REGION(c->data, c->size);
			free(c);
		}
		cc->bytes[i] = 0;
	}
	cc->total = 0;
}

/* Thread exit: empty the thread's cache, and cache nothing more. */
static void cache_thread_exit(void *arg)
{
	struct chunk_cache *cc = arg;

	cache_drain(cc);
	cc->state = CACHE_GONE;
}

/* Program exit, in the thread calling exit(): the same for that thread. */
static __attribute__((destructor)) void cache_exit(void)
{
	cache_thread_exit(&tm_cache);
}

static void cache_key_create(void)
{
	tm_cache_keyed = !pthread_key_create(&tm_cache_key, cache_thread_exit);
}

/* Before a thread's first cached chunk: free its cache when it exits. */
static bool cache_start(struct chunk_cache *cc)
{
	pthread_once(&tm_cache_once, cache_key_create);
	if (tm_cache_keyed && !pthread_setspecific(tm_cache_key, cc))
		cc->state = CACHE_ON;
	else
		cc->state = CACHE_GONE;
	return cc->state == CACHE_ON;
}

/* A chunk with at least @size usable bytes, from the cache if it has one. */
static struct tm_chunk *chunk_new(size_t size)
{
	struct chunk_cache *cc = &tm_cache;
	struct tm_chunk *c;
	unsigned int cl;

	if (size <= CHUNK_MAX) {
		cl = size_class(size);
		size = class_size(cl);
		c = cc->free[cl];
		if (c) {
			cc->free[cl] = c->next;
			cc->bytes[cl] -= size;
			cc->total -= size;
			ASAN_UNPOISON_MEMORY_REGION(c->data, size);
			VALGRIND_MAKE_MEM_UNDEFINED(c->data, size);
			goto got;
		}
	}
	c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->size = size;
got:
	c->next = NULL;
	c->used = 0;
	return c;
}

/* Give @c back: to this thread's cache if there is room, else to free(). */
static void chunk_free(struct tm_chunk *c)
{
	struct chunk_cache *cc = &tm_cache;
	size_t size = c->size;
	unsigned int cl;

	if (size > CHUNK_MAX || cc->total + size > CACHE_MAX)
		goto out;
	cl = size_class(size);
	if (cc->bytes[cl] + size > CACHE_CLASS_MAX)
		goto out;
	if (cc->state != CACHE_ON && (cc->state == CACHE_GONE ||
				      !cache_start(cc)))
		goto out;
	c->next = cc->free[cl];
	cc->free[cl] = c;
	cc->bytes[cl] += size;
	cc->total += size;
	ASAN_POISON_MEMORY_REGION(c->data, size);
	VALGRIND_MAKE_MEM_NOACCESS(c->data, size);
	return;
out:
	free(c);
}

size_t tm__chunk_cache_bytes(void)
{
	return tm_cache.total;
}

void tm__chunk_cache_drain(void)
{
	cache_drain(&tm_cache);
}

void tm_arena_init(struct tm_arena *a, size_t limit)
{
	a->chunk = NULL;
	a->used = 0;
	a->limit = limit;
}

void tm_arena_fini(struct tm_arena *a)
{
	struct tm_chunk *c = a->chunk, *next;

	while (c) {
		next = c->next;
		chunk_free(c);
		c = next;
	}
	a->chunk = NULL;
	a->used = 0;
}

void *tm_arena_alloc(struct tm_arena *a, size_t size)
{
	struct tm_chunk *c = a->chunk;
	size_t want;
	void *p;

	if (size == 0)
		size = 1;
	if (size > SIZE_MAX / 2)
		return NULL;
	size = (size + 7) & ~(size_t)7;
	if (a->limit && (size > a->limit || a->used > a->limit - size))
		return NULL;
	if (!c || c->size - c->used < size) {
		want = c ? c->size * 2 : CHUNK_MIN;
		if (want > CHUNK_MAX)
			want = CHUNK_MAX;
		if (want < size)
			want = size;
		c = chunk_new(want);
		if (!c)
			return NULL;
		c->next = a->chunk;
		a->chunk = c;
	}
	p = (uint8_t *)c->data + c->used;
	c->used += size;
	a->used += size;
	return p;
}

/* ---- UTF-8 --------------------------------------------------------- */

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
int tm__utf8_check(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t n, k;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return TM_EUTF8;
		}
		if (len - i - 1 < n)
			return TM_EUTF8;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return TM_EUTF8;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return TM_EUTF8;
		i += n + 1;
	}
	return 0;
}

/* ---- atoms --------------------------------------------------------- */

struct tm_term tm_invalid(int err)
{
	struct tm_term t = { .kind = TM_INVALID };

	t.u.err = err < 0 ? err : TM_EINVAL;
	return t;
}

struct tm_term tm_bool(bool b)
{
	struct tm_term t = { .kind = TM_BOOL };

	t.u.b = b;
	return t;
}

struct tm_term tm_int(int64_t v)
{
	struct tm_term t = { .kind = TM_INT };

	t.u.i = v;
	return t;
}

struct tm_term tm_double(double d)
{
	struct tm_term t = { .kind = TM_DOUBLE };

	t.u.d = d;
	return t;
}

static struct tm_term text_atom(enum tm_kind k, const char *s, size_t len)
{
	struct tm_term t = { .kind = (uint8_t)k };

	if (!s && len)
		return tm_invalid(TM_EINVAL);
	if (len > UINT32_MAX)
		return tm_invalid(TM_ELIMIT);
	if (k != TM_BYTES && tm__utf8_check((const uint8_t *)s, len))
		return tm_invalid(TM_EUTF8);
	t.len = (uint32_t)len;
	t.u.str = s ? s : "";
	return t;
}

struct tm_term tm_string(const char *s)
{
	return text_atom(TM_STRING, s, s ? strlen(s) : 0);
}

struct tm_term tm_stringn(const char *s, size_t len)
{
	return text_atom(TM_STRING, s, len);
}

struct tm_term tm_symbol(const char *s)
{
	return text_atom(TM_SYMBOL, s, s ? strlen(s) : 0);
}

struct tm_term tm_symboln(const char *s, size_t len)
{
	return text_atom(TM_SYMBOL, s, len);
}

struct tm_term tm_bytes(const void *p, size_t len)
{
	return text_atom(TM_BYTES, p, len);
}

struct tm_term tm_bigint(const void *p, size_t len)
{
	const uint8_t *b = p;
	struct tm_term t = { .kind = TM_INT };
	uint64_t u;
	size_t i;

	if (!b && len)
		return tm_invalid(TM_EINVAL);
	while (len > 1 && ((b[0] == 0x00 && !(b[1] & 0x80)) ||
			   (b[0] == 0xFF && (b[1] & 0x80)))) {
		b++;
		len--;
	}
	if (len == 0)
		return tm_int(0);
	if (len <= 8) {
		u = (b[0] & 0x80) ? ~(uint64_t)0 : 0;
		for (i = 0; i < len; i++)
			u = (u << 8) | b[i];
		return tm_int((int64_t)u);
	}
	if (len > UINT32_MAX)
		return tm_invalid(TM_ELIMIT);
	t.flags = TM_F_BIGINT;
	t.len = (uint32_t)len;
	t.u.ptr = b;
	return t;
}

struct tm_term tm_uint(struct tm_arena *a, uint64_t v)
{
	uint8_t *p;
	int i;

	if (v <= INT64_MAX)
		return tm_int((int64_t)v);
	p = tm_arena_alloc(a, 9);
	if (!p)
		return tm_invalid(TM_ENOMEM);
	p[0] = 0;
	for (i = 0; i < 8; i++)
		p[1 + i] = (uint8_t)(v >> (56 - 8 * i));
	return tm_bigint(p, 9);
}

struct tm_term tm_embedded(const struct tm_ref *ref)
{
	struct tm_term t = { .kind = TM_EMBEDDED };

	if (!ref || ref->node_len > TM_NODE_MAX || ref->kind > TM_REF_TAG)
		return tm_invalid(TM_EINVAL);
	t.u.ref = ref;
	return t;
}

/* ---- compounds ----------------------------------------------------- */

static int first_error(const struct tm_term *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (items[i].kind == TM_INVALID)
			return items[i].u.err;
	return 0;
}

static struct tm_term *alloc_items(struct tm_arena *a, size_t n)
{
	if (n > UINT32_MAX / sizeof(struct tm_term))
		return NULL;
	return tm_arena_alloc(a, n * sizeof(struct tm_term));
}

static struct tm_term compound(enum tm_kind k, struct tm_term *items,
			       size_t n)
{
	struct tm_term t = { .kind = (uint8_t)k };

	t.len = (uint32_t)n;
	t.u.items = items;
	return t;
}

struct tm_term tm_record(struct tm_arena *a, struct tm_term label,
			 const struct tm_term *fields, size_t n)
{
	struct tm_term *items;
	int err;

	if (label.kind == TM_INVALID)
		return label;
	if (n && !fields)
		return tm_invalid(TM_EINVAL);
	err = first_error(fields, n);
	if (err)
		return tm_invalid(err);
	if (n >= UINT32_MAX)
		return tm_invalid(TM_ELIMIT);
	items = alloc_items(a, n + 1);
	if (!items)
		return tm_invalid(TM_ENOMEM);
	items[0] = label;
	if (n)
		memcpy(items + 1, fields, n * sizeof(*items));
	return compound(TM_RECORD, items, n + 1);
}

/* Check @n items and copy them into @a: 0, or a TM_E* error. */
static int copy_items(struct tm_arena *a, const struct tm_term *items,
		      size_t n, struct tm_term **out)
{
	int err;

	if (n && !items)
		return TM_EINVAL;
	err = first_error(items, n);
	if (err)
		return err;
	*out = alloc_items(a, n);
	if (!*out)
		return TM_ENOMEM;
	if (n)
		memcpy(*out, items, n * sizeof(**out));
	return 0;
}

struct tm_term tm_sequence(struct tm_arena *a, const struct tm_term *items,
			   size_t n)
{
	struct tm_term *copy;
	int err = copy_items(a, items, n, &copy);

	if (err)
		return tm_invalid(err);
	return compound(TM_SEQUENCE, copy, n);
}

static int qcmp_item(const void *x, const void *y)
{
	return tm_canon_compare(x, y);
}

static int qcmp_pair(const void *x, const void *y)
{
	return tm_canon_compare(x, y);	/* the key comes first */
}

int tm__sort_set(struct tm_term *items, size_t *n, bool drop_dups)
{
	size_t i, j;

	if (*n < 2)
		return 0;
	qsort(items, *n, sizeof(*items), qcmp_item);
	for (i = 1, j = 1; i < *n; i++) {
		if (tm_canon_compare(&items[j - 1], &items[i]) == 0) {
			if (!drop_dups)
				return TM_EDUP;
			continue;
		}
		items[j++] = items[i];
	}
	*n = j;
	return 0;
}

int tm__sort_dict(struct tm_term *kv, size_t npairs)
{
	size_t i;

	if (npairs < 2)
		return 0;
	qsort(kv, npairs, 2 * sizeof(*kv), qcmp_pair);
	for (i = 1; i < npairs; i++)
		if (tm_canon_compare(&kv[2 * i - 2], &kv[2 * i]) == 0)
			return TM_EDUP;
	return 0;
}

struct tm_term tm_set(struct tm_arena *a, const struct tm_term *items,
		      size_t n)
{
	struct tm_term *copy;
	int err = copy_items(a, items, n, &copy);

	if (err)
		return tm_invalid(err);
	tm__sort_set(copy, &n, true);
	return compound(TM_SET, copy, n);
}

struct tm_term tm_dict(struct tm_arena *a, const struct tm_term *kv,
		       size_t npairs)
{
	struct tm_term *copy;
	int err;

	if (npairs > UINT32_MAX / 2)
		return tm_invalid(TM_ELIMIT);
	err = copy_items(a, kv, 2 * npairs, &copy);
	if (err)
		return tm_invalid(err);
	err = tm__sort_dict(copy, npairs);
	if (err)
		return tm_invalid(err);
	return compound(TM_DICT, copy, 2 * npairs);
}

#define VARIADIC_ITEMS 64

struct tm_term tm_rec(struct tm_arena *a, struct tm_term label, size_t n, ...)
{
	struct tm_term items[VARIADIC_ITEMS];
	va_list ap;
	size_t i;

	if (n > VARIADIC_ITEMS)
		return tm_invalid(TM_ELIMIT);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		items[i] = va_arg(ap, struct tm_term);
	va_end(ap);
	return tm_record(a, label, items, n);
}

struct tm_term tm_seq(struct tm_arena *a, size_t n, ...)
{
	struct tm_term items[VARIADIC_ITEMS];
	va_list ap;
	size_t i;

	if (n > VARIADIC_ITEMS)
		return tm_invalid(TM_ELIMIT);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		items[i] = va_arg(ap, struct tm_term);
	va_end(ap);
	return tm_sequence(a, items, n);
}

/* ---- deep copies --------------------------------------------------- */

struct copier {
	struct tm_arena *a;	/* either an arena ... */
	uint8_t *p;		/* ... or a bump pointer into one block */
	size_t left;
	size_t need;		/* sizing pass: bytes needed */
	bool sizing;
};

static void *cp_alloc(struct copier *c, size_t size)
{
	void *p;

	/* As tm_arena_alloc() counts it: an empty array takes 8 bytes too. */
	size = size ? (size + 7) & ~(size_t)7 : 8;
	if (c->sizing) {
		c->need += size;
		return NULL;
	}
	if (c->a)
		return tm_arena_alloc(c->a, size);
	if (size > c->left)
		return NULL;
	p = c->p;
	c->p += size;
	c->left -= size;
	return p;
}

static int cp_term(struct copier *c, const struct tm_term *t,
		   struct tm_term *out, unsigned int depth)
{
	struct tm_term *items;
	struct tm_ref *ref;
	uint8_t *buf;
	size_t i;
	int err;

	*out = *t;
	if (depth > 4 * TM_MAX_DEPTH * 16)
		return TM_EDEPTH;
	switch (t->kind) {
	case TM_INVALID:
		return t->u.err;
	case TM_STRING:
	case TM_SYMBOL:
	case TM_BYTES:
	case TM_INT:
		if (t->kind == TM_INT && !(t->flags & TM_F_BIGINT))
			return 0;
		buf = cp_alloc(c, (size_t)t->len + 1);
		if (c->sizing)
			return 0;
		if (!buf)
			return TM_ENOMEM;
		if (t->len)
			memcpy(buf, t->u.ptr, t->len);
		buf[t->len] = 0;
		out->u.ptr = buf;
		return 0;
	case TM_RECORD:
	case TM_SEQUENCE:
	case TM_SET:
	case TM_DICT:
		items = cp_alloc(c, (size_t)t->len * sizeof(*items));
		if (!c->sizing && !items)
			return TM_ENOMEM;
		for (i = 0; i < t->len; i++) {
			const struct tm_term *it = &t->u.items[i];
			struct tm_term tmp;

			/* Numbers and booleans are whole in the item. */
			if (it->kind == TM_BOOL || it->kind == TM_DOUBLE ||
			    (it->kind == TM_INT && !(it->flags & TM_F_BIGINT))) {
				if (!c->sizing)
					items[i] = *it;
				continue;
			}
			err = cp_term(c, it, &tmp, depth + 1);
			if (err)
				return err;
			if (!c->sizing)
				items[i] = tmp;
		}
		out->u.items = items;
		return 0;
	case TM_EMBEDDED:
		ref = cp_alloc(c, sizeof(*ref));
		if (c->sizing)
			return 0;
		if (!ref)
			return TM_ENOMEM;
		*ref = *t->u.ref;
		out->u.ref = ref;
		return 0;
	}
	return 0;
}

struct tm_term tm_copy(struct tm_arena *a, const struct tm_term *t)
{
	struct copier c = { .a = a };
	struct tm_term out;
	int err;

	err = cp_term(&c, t, &out, 0);
	return err ? tm_invalid(err) : out;
}

int tm__arena_reserve(struct tm_arena *a, size_t size)
{
	struct tm_chunk *c;

	size = (size + 7) & ~(size_t)7;
	if (!size || size > SIZE_MAX / 2)
		return TM_ENOMEM;
	c = chunk_new(size);
	if (!c)
		return TM_ENOMEM;
	c->next = a->chunk;
	a->chunk = c;
	return 0;
}

void tm__arena_merge(struct tm_arena *to, struct tm_arena *from)
{
	struct tm_chunk *c = from->chunk, *last;

	if (!c)
		return;
	for (last = c; last->next; last = last->next)
		;
	if (to->chunk) {
		/* @to's current chunk stays the one it allocates from. */
		last->next = to->chunk->next;
		to->chunk->next = c;
	} else {
		last->next = NULL;
		to->chunk = c;
	}
	to->used += from->used;
	from->chunk = NULL;
	from->used = 0;
}

struct tm_term *tm_clone(const struct tm_term *t)
{
	struct copier c = { .sizing = true };
	struct tm_term *block;
	int err;

	err = cp_term(&c, t, &(struct tm_term){ 0 }, 0);
	if (err)
		return NULL;
	block = malloc(sizeof(*block) + c.need);
	if (!block)
		return NULL;
	c.sizing = false;
	c.p = (uint8_t *)(block + 1);
	c.left = c.need;
	err = cp_term(&c, t, block, 0);
	if (err) {
		free(block);
		return NULL;
	}
	return block;
}

void tm_free(struct tm_term *t)
{
	free(t);
}

/* ---- inspection ---------------------------------------------------- */

int tm_get_int(const struct tm_term *t, int64_t *v)
{
	if (t->kind != TM_INT)
		return TM_EINVAL;
	if (t->flags & TM_F_BIGINT)
		return TM_ERANGE;
	*v = t->u.i;
	return 0;
}

int tm_get_uint(const struct tm_term *t, uint64_t *v)
{
	uint64_t u = 0;
	uint32_t i;

	if (t->kind != TM_INT)
		return TM_EINVAL;
	if (!(t->flags & TM_F_BIGINT)) {
		if (t->u.i < 0)
			return TM_ERANGE;
		*v = (uint64_t)t->u.i;
		return 0;
	}
	if (t->len != 9 || t->u.ptr[0] != 0)
		return TM_ERANGE;
	for (i = 1; i < 9; i++)
		u = (u << 8) | t->u.ptr[i];
	*v = u;
	return 0;
}

static bool text_is(const struct tm_term *t, enum tm_kind k, const char *s)
{
	size_t n = strlen(s);

	return t->kind == k && t->len == n && !memcmp(t->u.str, s, n);
}

bool tm_string_is(const struct tm_term *t, const char *s)
{
	return text_is(t, TM_STRING, s);
}

bool tm_symbol_is(const struct tm_term *t, const char *s)
{
	return text_is(t, TM_SYMBOL, s);
}

bool tm_record_is(const struct tm_term *t, const char *label, size_t arity)
{
	return t->kind == TM_RECORD && t->len == arity + 1 &&
	       tm_symbol_is(&t->u.items[0], label);
}

const struct tm_term *tm_dict_get(const struct tm_term *dict,
				  const struct tm_term *key)
{
	size_t lo = 0, hi, mid;
	int c;

	if (dict->kind != TM_DICT)
		return NULL;
	hi = dict->len / 2;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = tm_canon_compare(key, &dict->u.items[2 * mid]);
		if (c == 0)
			return &dict->u.items[2 * mid + 1];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

bool tm_set_has(const struct tm_term *set, const struct tm_term *elem)
{
	size_t lo = 0, hi, mid;
	int c;

	if (set->kind != TM_SET)
		return false;
	hi = set->len;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = tm_canon_compare(elem, &set->u.items[mid]);
		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

/* ---- embedded references as records -------------------------------- */

void tm__ref_record(const struct tm_ref *r, struct ref_rec *rr,
		    uint8_t idbuf[9], struct tm_term *out)
{
	int i;

	rr->items[0] = tm_symboln("ref", 3);
	rr->items[1] = tm_bytes(r->node, r->node_len);
	rr->items[2] = tm_symboln(r->kind == TM_REF_TAG ? "tag" : "pid", 3);
	if (r->id <= INT64_MAX) {
		rr->items[3] = tm_int((int64_t)r->id);
	} else {
		idbuf[0] = 0;
		for (i = 0; i < 8; i++)
			idbuf[1 + i] = (uint8_t)(r->id >> (56 - 8 * i));
		rr->items[3] = tm_bigint(idbuf, 9);
	}
	*out = compound(TM_RECORD, rr->items, 4);
}

int tm__ref_from_record(const struct tm_term *rec, struct tm_ref *r)
{
	const struct tm_term *node, *kind;

	if (!tm_record_is(rec, "ref", 3))
		return TM_EEMBED;
	node = &rec->u.items[1];
	kind = &rec->u.items[2];
	if (node->kind != TM_BYTES || node->len > TM_NODE_MAX)
		return TM_EEMBED;
	memset(r, 0, sizeof(*r));
	if (tm_symbol_is(kind, "pid"))
		r->kind = TM_REF_PID;
	else if (tm_symbol_is(kind, "tag"))
		r->kind = TM_REF_TAG;
	else
		return TM_EEMBED;
	if (tm_get_uint(&rec->u.items[3], &r->id))
		return TM_EEMBED;
	r->node_len = (uint8_t)node->len;
	if (node->len)
		memcpy(r->node, node->u.ptr, node->len);
	return 0;
}

/* ---- the total order ----------------------------------------------- */

static int cmp_bytes(const uint8_t *a, size_t alen, const uint8_t *b,
		     size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen;
}

static int cmp_int(const struct tm_term *a, const struct tm_term *b)
{
	bool abig = a->flags & TM_F_BIGINT, bbig = b->flags & TM_F_BIGINT;
	bool aneg, bneg;

	if (!abig && !bbig)
		return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
	aneg = abig ? a->u.ptr[0] & 0x80 : a->u.i < 0;
	bneg = bbig ? b->u.ptr[0] & 0x80 : b->u.i < 0;
	if (aneg != bneg)
		return aneg ? -1 : 1;
	/* same sign, at least one big: magnitude by length first */
	if (!abig)
		return aneg ? 1 : -1;
	if (!bbig)
		return aneg ? -1 : 1;
	if (a->len != b->len)
		return (a->len < b->len) != aneg ? -1 : 1;
	return cmp_bytes(a->u.ptr, a->len, b->u.ptr, b->len);
}

static int64_t double_key(double d)
{
	int64_t x;

	memcpy(&x, &d, sizeof(x));
	/* IEEE 754 totalOrder as a signed integer comparison */
	return x ^ (int64_t)((uint64_t)(x >> 63) >> 1);
}

static int cmp_lex(const struct tm_term *a, size_t an, const struct tm_term *b,
		   size_t bn)
{
	size_t i;
	int c;

	for (i = 0; i < an && i < bn; i++) {
		c = tm_compare(&a[i], &b[i]);
		if (c)
			return c;
	}
	return an < bn ? -1 : an > bn;
}

/*
 * The smallest item (pair) of t that is greater than prev (NULL: the
 * smallest), in the total order; step is 1 for sets, 2 for dictionaries.
 */
const struct tm_term *tm__next_greater(const struct tm_term *t,
					  size_t step,
					  const struct tm_term *prev)
{
	const struct tm_term *best = NULL;
	size_t i;

	for (i = 0; i < t->len; i += step) {
		const struct tm_term *x = &t->u.items[i];

		if (prev && tm_compare(x, prev) <= 0)
			continue;
		if (!best || tm_compare(x, best) < 0)
			best = x;
	}
	return best;
}

static int qcmp_total(const void *x, const void *y)
{
	return tm_compare(*(const struct tm_term *const *)x,
			  *(const struct tm_term *const *)y);
}

const struct tm_term **tm__sorted_view(const struct tm_term *t, size_t step)
{
	const struct tm_term **v;
	size_t i, n = t->len / step;

	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < n; i++)
		v[i] = &t->u.items[i * step];
	qsort(v, n, sizeof(*v), qcmp_total);
	return v;
}

/* Sets and dictionaries: compare as sequences sorted by the total order. */
static int cmp_sorted(const struct tm_term *a, const struct tm_term *b,
		      size_t step)
{
	const struct tm_term *pa = NULL, *pb = NULL, **va, **vb;
	size_t i, na = a->len / step, nb = b->len / step;
	int c = 0;

	if (tm_equal(a, b))
		return 0;
	va = tm__sorted_view(a, step);
	vb = tm__sorted_view(b, step);
	if (va && vb) {
		for (i = 0; !c && i < na && i < nb; i++) {
			c = tm_compare(va[i], vb[i]);
			if (!c && step == 2)
				c = tm_compare(va[i] + 1, vb[i] + 1);
		}
		if (!c)
			c = na < nb ? -1 : na > nb;
		free(va);
		free(vb);
		return c;
	}
	free(va);
	free(vb);
	/* out of memory: O(n^2) selection instead of sorting */
	for (;;) {
		pa = tm__next_greater(a, step, pa);
		pb = tm__next_greater(b, step, pb);
		if (!pa || !pb)
			return !pa ? (pb ? -1 : 0) : 1;
		c = tm_compare(pa, pb);
		if (!c && step == 2)
			c = tm_compare(pa + 1, pb + 1);
		if (c)
			return c;
	}
}

int tm_compare(const struct tm_term *a, const struct tm_term *b)
{
	struct ref_rec ra, rb;
	struct tm_term ta, tb;
	uint8_t ia[9], ib[9];
	int64_t ka, kb;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	switch (a->kind) {
	case TM_BOOL:
		return (int)a->u.b - (int)b->u.b;
	case TM_DOUBLE:
		ka = double_key(a->u.d);
		kb = double_key(b->u.d);
		return ka < kb ? -1 : ka > kb;
	case TM_INT:
		return cmp_int(a, b);
	case TM_STRING:
	case TM_BYTES:
	case TM_SYMBOL:
		return cmp_bytes(a->u.ptr, a->len, b->u.ptr, b->len);
	case TM_RECORD:
	case TM_SEQUENCE:
		return cmp_lex(a->u.items, a->len, b->u.items, b->len);
	case TM_SET:
		return cmp_sorted(a, b, 1);
	case TM_DICT:
		return cmp_sorted(a, b, 2);
	case TM_EMBEDDED:
		tm__ref_record(a->u.ref, &ra, ia, &ta);
		tm__ref_record(b->u.ref, &rb, ib, &tb);
		return tm_compare(&ta, &tb);
	}
	return 0;
}

bool tm_equal(const struct tm_term *a, const struct tm_term *b)
{
	const struct tm_ref *ra, *rb;
	uint32_t i;

	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case TM_INVALID:
		return false;
	case TM_BOOL:
		return a->u.b == b->u.b;
	case TM_DOUBLE:
		return double_key(a->u.d) == double_key(b->u.d);
	case TM_INT:
		if ((a->flags ^ b->flags) & TM_F_BIGINT)
			return false;
		if (!(a->flags & TM_F_BIGINT))
			return a->u.i == b->u.i;
		/* fall through */
	case TM_STRING:
	case TM_BYTES:
	case TM_SYMBOL:
		return a->len == b->len &&
		       (!a->len || !memcmp(a->u.ptr, b->u.ptr, a->len));
	case TM_RECORD:
	case TM_SEQUENCE:
	case TM_SET:
	case TM_DICT:
		if (a->len != b->len)
			return false;
		for (i = 0; i < a->len; i++)
			if (!tm_equal(&a->u.items[i], &b->u.items[i]))
				return false;
		return true;
	case TM_EMBEDDED:
		ra = a->u.ref;
		rb = b->u.ref;
		return ra->id == rb->id && ra->kind == rb->kind &&
		       ra->node_len == rb->node_len &&
		       !memcmp(ra->node, rb->node, ra->node_len);
	}
	return false;
}

/* ---- the canonical (encoding) order -------------------------------- */

static uint8_t first_byte(const struct tm_term *t)
{
	static const uint8_t tags[] = {
		[TM_INVALID] = 0, [TM_BOOL] = TAG_FALSE,
		[TM_DOUBLE] = TAG_IEEE754, [TM_INT] = TAG_INT,
		[TM_STRING] = TAG_STRING, [TM_BYTES] = TAG_BYTES,
		[TM_SYMBOL] = TAG_SYMBOL, [TM_RECORD] = TAG_RECORD,
		[TM_SEQUENCE] = TAG_SEQUENCE, [TM_SET] = TAG_SET,
		[TM_DICT] = TAG_DICT, [TM_EMBEDDED] = TAG_EMBEDDED,
	};

	if (t->kind == TM_BOOL)
		return t->u.b ? TAG_TRUE : TAG_FALSE;
	return t->kind <= TM_EMBEDDED ? tags[t->kind] : 0;
}

/* Content bytes after the length of an atom with a length. */
static const uint8_t *atom_bytes(const struct tm_term *t, uint8_t tmp[8],
				 size_t *len)
{
	if (t->kind == TM_INT && !(t->flags & TM_F_BIGINT)) {
		*len = int64_bytes(t->u.i, tmp);
		return tmp;
	}
	*len = t->len;
	return t->u.ptr;
}

/*
 * Bytewise order of canonical encodings, computed on the structure.
 * Encodings are self-delimiting, so two concatenations of encodings
 * differ first inside the first pair of items that differ.
 */
int tm_canon_compare(const struct tm_term *a, const struct tm_term *b)
{
	uint8_t fa = first_byte(a), fb = first_byte(b);
	uint8_t ta[8], tb[8], va[10], vb[10], ia[9], ib[9];
	const uint8_t *pa, *pb;
	struct ref_rec ra, rb;
	struct tm_term xa, xb;
	size_t la, lb, na, nb, i;
	uint64_t ua, ub;
	int c;

	if (fa != fb)
		return fa < fb ? -1 : 1;
	switch (a->kind) {
	case TM_INVALID:
	case TM_BOOL:
		return 0;
	case TM_DOUBLE:
		memcpy(&ua, &a->u.d, 8);
		memcpy(&ub, &b->u.d, 8);
		return ua < ub ? -1 : ua > ub;
	case TM_INT:
	case TM_STRING:
	case TM_BYTES:
	case TM_SYMBOL:
		pa = atom_bytes(a, ta, &la);
		pb = atom_bytes(b, tb, &lb);
		na = varint_put(va, la);
		nb = varint_put(vb, lb);
		c = cmp_bytes(va, na, vb, nb);
		if (c)
			return c;
		return cmp_bytes(pa, la, pb, lb);
	case TM_RECORD:
	case TM_SEQUENCE:
	case TM_SET:
	case TM_DICT:
		for (i = 0; i < a->len && i < b->len; i++) {
			c = tm_canon_compare(&a->u.items[i], &b->u.items[i]);
			if (c)
				return c;
		}
		if (a->len == b->len)
			return 0;
		if (i < a->len)
			return first_byte(&a->u.items[i]) < TAG_END ? -1 : 1;
		return first_byte(&b->u.items[i]) < TAG_END ? 1 : -1;
	case TM_EMBEDDED:
		tm__ref_record(a->u.ref, &ra, ia, &xa);
		tm__ref_record(b->u.ref, &rb, ib, &xb);
		return tm_canon_compare(&xa, &xb);
	}
	return 0;
}

/* ---- hashing ------------------------------------------------------- */

uint64_t tm_hash(const struct tm_term *t)
{
	struct tm_sink s = { .mode = SINK_HASH, .hash = FNV_OFFSET };

	if (tm__encode_sink(&s, t) < 0)
		return 0;
	return hash_final(s.hash);
}

uint64_t tm_hash_bytes(const void *buf, size_t len)
{
	struct tm_sink s = { .mode = SINK_HASH, .hash = FNV_OFFSET };

	sink_put(&s, buf, len);
	return hash_final(s.hash);
}
