// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * Host unit tests of the arenas' chunk cache (term.c): freed chunks are
 * reused, sizes round up to classes with bounded waste, the cache keeps
 * no more than its bounds, threads allocate and free (and hand arenas to
 * each other) without harm, and a thread's cache is freed when it exits.
 * kselftest harness (each test in a process of its own), TAP.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

#include "kselftest_harness.h"
#include "tm_test_util.h"
#include "term_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0	/* ASan has no mallinfo2(): LeakSanitizer checks */
#endif

/* Bytes malloc() has handed out and not had back, every thread's. */
static long malloc_in_use(void)
{
	return (long)mallinfo2().uordblks;
}

/* One chunk of at least @size bytes, taken and given back. */
static void *reserve_free(size_t size)
{
	struct tm_arena a;
	void *p;

	tm_arena_init(&a, 0);
	if (tm__arena_reserve(&a, size))
		return NULL;
	p = tm_arena_alloc(&a, size);
	if (p)
		memset(p, 0xa5, size);
	tm_arena_fini(&a);
	return p;
}

/* A list of @n integers from @base, in @a. */
static struct tm_term make_list(struct tm_arena *a, int64_t base, size_t n)
{
	struct tm_term *items = calloc(n ? n : 1, sizeof(*items));
	struct tm_term t;
	size_t i;

	for (i = 0; i < n; i++)
		items[i] = tm_int(base + (int64_t)i);
	t = tm_sequence(a, items, n);
	free(items);
	return t;
}

/* Whether @t is the list make_list(@base, @n) made. */
static bool list_ok(const struct tm_term *t, int64_t base, size_t n)
{
	int64_t v;
	size_t i;

	if (!tm_is(t, TM_SEQUENCE) || tm_count(t) != n)
		return false;
	for (i = 0; i < n; i++)
		if (tm_get_int(tm_item(t, i), &v) || v != base + (int64_t)i)
			return false;
	return true;
}

/*
 * A local message's way (proc.c): an arena of its own (a 256-byte first
 * chunk, growing as the copy needs), the copy, adopted by @heap.
 */
static struct tm_term send_to(struct tm_arena *heap, const struct tm_term *t)
{
	struct tm_arena m;
	struct tm_term out;

	tm_arena_init(&m, 0);
	if (tm__arena_reserve(&m, 256))
		return tm_invalid(TM_ENOMEM);
	out = tm_copy(&m, t);
	tm__arena_merge(heap, &m);
	return out;
}

/* ---- reuse --------------------------------------------------------- */

TEST(freed_chunks_are_reused)
{
	struct tm_arena a, heap;
	struct tm_term l, m;
	void *p, *q;

	ASSERT_EQ(0, tm__chunk_cache_bytes());
	/* An arena's first chunk, CHUNK_MIN bytes, made on demand. */
	tm_arena_init(&a, 0);
	ASSERT_EQ(0, tm__chunk_cache_bytes());
	p = tm_arena_alloc(&a, 100);
	ASSERT_NE(NULL, p);
	tm_arena_fini(&a);
	ASSERT_EQ(CHUNK_MIN, tm__chunk_cache_bytes());
	tm_arena_init(&a, 0);
	q = tm_arena_alloc(&a, 8);
	ASSERT_EQ(p, q);
	ASSERT_EQ(0, tm__chunk_cache_bytes());
	tm_arena_fini(&a);

	/* Reserved chunks: 1000 and 900 bytes are one class (1024). */
	p = reserve_free(1000);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(CHUNK_MIN + 1024, tm__chunk_cache_bytes());
	q = reserve_free(900);
	ASSERT_EQ(p, q);
	ASSERT_EQ(CHUNK_MIN + 1024, tm__chunk_cache_bytes());

	/*
	 * A message's chunks adopted by a heap come back with it: its first
	 * (256 bytes, new) and one of 1024 for the list (from the cache).
	 */
	tm_arena_init(&heap, 0);
	l = make_list(&heap, 7, 60);		/* 960 bytes */
	m = send_to(&heap, &l);
	ASSERT_TRUE(list_ok(&m, 7, 60));
	ASSERT_EQ(0, tm__chunk_cache_bytes());	/* both taken from it */
	tm_arena_fini(&heap);
	ASSERT_EQ(CHUNK_MIN + 1024 + 256, tm__chunk_cache_bytes());

	tm__chunk_cache_drain();
	ASSERT_EQ(0, tm__chunk_cache_bytes());
}

/* ---- size classes -------------------------------------------------- */

TEST(size_classes)
{
	size_t size, got, before, last = 0;

	for (size = 1; size <= 3 * CHUNK_MAX; size += size < 4096 ? 8 :
	     size / 50) {
		before = tm__chunk_cache_bytes();
		ASSERT_NE(NULL, reserve_free(size)) TH_LOG("size %zu", size);
		got = tm__chunk_cache_bytes() - before;
		if (size > CHUNK_MAX) {
			/* Big chunks are malloc()ed and freed as they are. */
			ASSERT_EQ(0, got) TH_LOG("size %zu", size);
			continue;
		}
		/* At least @size, under 25% more (64 bytes at least). */
		ASSERT_GE(got, size) TH_LOG("size %zu", size);
		ASSERT_TRUE(got == 64 || got * 4 < size * 5)
			TH_LOG("size %zu: %zu", size, got);
		ASSERT_GE(got, last);
		last = got;
		tm__chunk_cache_drain();
	}
	ASSERT_EQ(CHUNK_MAX, last);
	/* The chunks of a growing arena are classes: 4 KiB ... 1 MiB. */
	for (size = CHUNK_MIN; size <= CHUNK_MAX; size *= 2) {
		ASSERT_NE(NULL, reserve_free(size));
		ASSERT_EQ(size, tm__chunk_cache_bytes());
		tm__chunk_cache_drain();
	}
}

/* ---- bounds -------------------------------------------------------- */

#define NARENAS	64

TEST(bounds)
{
	static struct tm_arena a[NARENAS];
	size_t i, n;
	void *big;

	/* One class keeps at most CACHE_CLASS_MAX bytes ... */
	for (i = 0; i < NARENAS; i++) {
		tm_arena_init(&a[i], 0);
		ASSERT_EQ(0, tm__arena_reserve(&a[i], 64 << 10));
	}
	for (i = 0; i < NARENAS; i++)
		tm_arena_fini(&a[i]);
	ASSERT_EQ(CACHE_CLASS_MAX, tm__chunk_cache_bytes());
	/* ... all of them CACHE_MAX. */
	for (i = 0; i < NARENAS; i++) {
		tm_arena_init(&a[i], 0);
		ASSERT_EQ(0, tm__arena_reserve(&a[i], 16 << 10));
	}
	for (i = 0; i < NARENAS; i++)
		tm_arena_fini(&a[i]);
	ASSERT_EQ(CACHE_MAX, tm__chunk_cache_bytes());
	for (i = 0; i < NARENAS; i++) {
		tm_arena_init(&a[i], 0);
		ASSERT_NE(NULL, tm_arena_alloc(&a[i], 1));
	}
	for (i = 0; i < NARENAS; i++)
		tm_arena_fini(&a[i]);
	ASSERT_EQ(CACHE_MAX, tm__chunk_cache_bytes());

	/* Nothing bigger than CHUNK_MAX. */
	tm__chunk_cache_drain();
	big = reserve_free(CHUNK_MAX + 8);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, tm__chunk_cache_bytes());

	/* An arena grown to 8 MiB (chunks 4 KiB ... 1 MiB, 1 MiB, ...). */
	tm_arena_init(&a[0], 0);
	for (n = 0; n < (8u << 20); n += 1000)
		ASSERT_NE(NULL, tm_arena_alloc(&a[0], 1000));
	tm_arena_fini(&a[0]);
	ASSERT_LE(tm__chunk_cache_bytes(), CACHE_MAX);
	ASSERT_GE(tm__chunk_cache_bytes(), CHUNK_MAX);
	/* Served again from the cache: allocating the same takes it all. */
	tm_arena_init(&a[0], 0);
	for (n = 0; n < (8u << 20); n += 1000)
		ASSERT_NE(NULL, tm_arena_alloc(&a[0], 1000));
	ASSERT_EQ(0, tm__chunk_cache_bytes());
	tm_arena_fini(&a[0]);
	tm__chunk_cache_drain();
}

/* ---- threads ------------------------------------------------------- */

#define NTHREADS	8
#define NSLOTS		16
#define ITERS		5000

/* An arena handed from one thread to another through a slot. */
struct parcel {
	struct tm_arena a;
	struct tm_term t;
	int64_t base;
	size_t n;
};

static struct parcel *_Atomic slots[NSLOTS];

/* Check a parcel (from any thread), free its arena here, and it. */
static bool parcel_done(struct parcel *pc)
{
	bool ok = list_ok(&pc->t, pc->base, pc->n);

	tm_arena_fini(&pc->a);
	free(pc);
	return ok;
}

struct worker {
	unsigned int seed;
	long bad;		/* failed checks */
	size_t cache_max;	/* the most its cache held */
};

/* Scratch arenas, local messages and parcels, in a random mix. */
static void *worker(void *arg)
{
	struct worker *w = arg;
	struct tm_arena heap, s;
	struct parcel *pc;
	struct tm_term l, m;
	uint8_t *p[16];
	size_t sz[16], i, j, k, n;
	long it;

	tm_arena_init(&heap, 0);
	for (it = 0; it < ITERS; it++) {
		switch (rand_r(&w->seed) % 3) {
		case 0:
			tm_arena_init(&s, 0);
			k = 1 + rand_r(&w->seed) % 16;
			for (i = 0; i < k; i++) {
				sz[i] = 1 + rand_r(&w->seed) % 20000;
				p[i] = tm_arena_alloc(&s, sz[i]);
				if (!p[i])
					return (void *)-1;
				memset(p[i], (int)i, sz[i]);
			}
			for (i = 0; i < k; i++)
				for (j = 0; j < sz[i]; j += 61)
					w->bad += p[i][j] != (uint8_t)i;
			tm_arena_fini(&s);
			break;
		case 1:
			n = rand_r(&w->seed) % 2000;
			l = make_list(&heap, it, n);
			m = send_to(&heap, &l);
			w->bad += !list_ok(&m, it, n) || !list_ok(&l, it, n);
			if (heap.used > (256 << 10))
				tm_arena_fini(&heap);
			break;
		case 2:
			pc = malloc(sizeof(*pc));
			if (!pc)
				return (void *)-1;
			tm_arena_init(&pc->a, 0);
			pc->n = rand_r(&w->seed) % 3000;
			pc->base = it * NTHREADS;
			pc->t = make_list(&pc->a, pc->base, pc->n);
			pc = atomic_exchange(&slots[rand_r(&w->seed) % NSLOTS],
					     pc);
			if (pc)
				w->bad += !parcel_done(pc);
			break;
		}
		if (tm__chunk_cache_bytes() > w->cache_max)
			w->cache_max = tm__chunk_cache_bytes();
	}
	tm_arena_fini(&heap);
	return NULL;
}

/* Free what the slots still hold (in a thread: its cache goes too). */
static void *empty_slots(void *arg)
{
	long *bad = arg;
	struct parcel *pc;
	int i;

	for (i = 0; i < NSLOTS; i++) {
		pc = atomic_exchange(&slots[i], NULL);
		if (pc)
			*bad += !parcel_done(pc);
	}
	return NULL;
}

TEST(threads)
{
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];
	long base, bad = 0;
	void *ret;
	int i;

	base = malloc_in_use();
	for (i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .seed = 1234 + i };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, worker, &w[i]));
	}
	for (i = 0; i < NTHREADS; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &ret));
		ASSERT_EQ(NULL, ret);
		EXPECT_EQ(0, w[i].bad);
		EXPECT_LE(w[i].cache_max, CACHE_MAX);
		EXPECT_GT(w[i].cache_max, 0);
	}
	ASSERT_EQ(0, pthread_create(&t[0], NULL, empty_slots, &bad));
	ASSERT_EQ(0, pthread_join(t[0], NULL));
	EXPECT_EQ(0, bad);
	/* Every thread's cache went when it exited. */
	ASSERT_EQ(0, tm__chunk_cache_bytes());
	if (!UNDER_ASAN)
		EXPECT_LT(malloc_in_use() - base, 64 << 10)
			TH_LOG("%ld bytes still allocated",
			       malloc_in_use() - base);
}

/* ---- thread exit --------------------------------------------------- */

static pthread_key_t late_key;

/*
 * A destructor that runs after the cache's (its key is newer): arenas
 * used this late go straight to malloc() and free().
 */
static void late_destructor(void *arg)
{
	struct tm_arena a;

	(void)arg;
	tm_arena_init(&a, 0);
	if (tm_arena_alloc(&a, 100000))
		tm_arena_fini(&a);
	*(size_t *)arg = tm__chunk_cache_bytes();
}

/* Fill this thread's cache; report what it holds. */
static void *filler(void *arg)
{
	size_t *late = arg, size;

	pthread_setspecific(late_key, late);
	for (size = 64; size <= CHUNK_MAX; size *= 2)
		reserve_free(size);
	return (void *)tm__chunk_cache_bytes();
}

TEST(thread_exit)
{
	size_t late = 1;
	pthread_t t;
	void *held;
	long base;
	int i;

	/* The cache's key first (this thread's first cached chunk). */
	reserve_free(100);
	tm__chunk_cache_drain();
	ASSERT_EQ(0, pthread_key_create(&late_key, late_destructor));
	base = malloc_in_use();
	for (i = 0; i < 4; i++) {
		late = 1;
		ASSERT_EQ(0, pthread_create(&t, NULL, filler, &late));
		ASSERT_EQ(0, pthread_join(t, &held));
		ASSERT_GE((size_t)held, 2 * CHUNK_MAX - 64);
		ASSERT_LE((size_t)held, CACHE_MAX);
		ASSERT_EQ(0, late);
	}
	if (!UNDER_ASAN)
		EXPECT_LT(malloc_in_use() - base, 64 << 10)
			TH_LOG("%ld bytes still allocated",
			       malloc_in_use() - base);
	pthread_key_delete(late_key);
}

TEST_HARNESS_MAIN
