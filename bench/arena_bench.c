// SPDX-License-Identifier: GPL-2.0
/*
 * arena_bench: costs of libtermite-user's arenas on the host (no kernel),
 * printed as a table: time and page faults per operation.
 *
 *   send LEN     a process sending to itself: [i, list] built in its
 *                heap is copied into a message arena of exactly the right
 *                size (as proc.c's tm_lmsg_new()), which the heap adopts;
 *                the heap is freed (tm_collect()) when it passes 256 KiB
 *   pingpong LEN the same between two heaps, as paper_bench pingpong: the
 *                list each receives is the one it sends back
 *   decode LEN   the kernel's path: the encoded list decoded into a fresh
 *                arena, which is then freed
 *   decode-heap LEN  the same decoded into a heap freed every 256 KiB
 *
 * for lists of LEN = 0, 10, 100 and 1000 small integers.
 *
 * Usage: arena_bench [-q]   (-q: fewer iterations, for a quick look)
 * Each time is the best of 3 runs; faults are those of that run.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "term_internal.h"

#define HEAP_MAX	(256 << 10)	/* as bench/paper_bench.c */
#define LMSG_SIZE	64		/* sizeof(struct tm_lmsg), proc.c */

static long iters = 200000;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

static void die(const char *what)
{
	fprintf(stderr, "arena_bench: %s\n", what);
	exit(1);
}

struct result {
	double ns;	/* per operation */
	double faults;	/* per 1000 operations */
};

static void row(const char *what, long len, const struct result *r)
{
	char label[64];

	snprintf(label, sizeof(label), "%s %ld", what, len);
	printf("  %-28s %10.1f ns %12.1f\n", label, r->ns, r->faults);
}

/* A list of @len small integers in @a. */
static struct tm_term make_list(struct tm_arena *a, long len)
{
	struct tm_term *items = calloc(len ? len : 1, sizeof(*items));
	struct tm_term list;
	long i;

	for (i = 0; i < len; i++)
		items[i] = tm_int(i + 1);
	list = tm_sequence(a, items, len);
	free(items);
	return list;
}

/*
 * One local send as proc.c makes it: @t copied into an arena of its own
 * (a 256-byte first chunk, growing as the copy needs) that @to adopts.
 */
static struct tm_term hop(struct tm_arena *to, const struct tm_term *t)
{
	struct tm_arena a;
	struct tm_term out;

	tm_arena_init(&a, 0);
	if (tm__arena_reserve(&a, 256) || !tm_arena_alloc(&a, LMSG_SIZE))
		die("reserve");
	out = tm_copy(&a, t);
	if (tm_is(&out, TM_INVALID))
		die("copy");
	tm__arena_merge(to, &a);
	return out;
}

/* Sends to itself (@nheaps 1) or ping-pong (2); per message. */
static struct result bench_copy(long len, int nheaps)
{
	struct result best = { 1e30, 0 };
	struct tm_arena heap[2], tmp;
	struct tm_term lc, list, msg;
	long i, f0;
	double t0, t;
	int r, s;

	for (r = 0; r < 3; r++) {
		tm_arena_init(&heap[0], 0);
		tm_arena_init(&heap[1], 0);
		tm_arena_init(&tmp, 0);
		lc = make_list(&tmp, len);
		list = lc;
		f0 = minflt();
		t0 = now_ns();
		for (i = 0, s = 0; i < iters; i++) {
			msg = tm_seq(&heap[s], 2, tm_int(i), list);
			if (nheaps == 1) {
				hop(&heap[s], &msg);
				if (heap[s].used > HEAP_MAX)
					tm_arena_fini(&heap[s]);
				continue;
			}
			msg = hop(&heap[s ^ 1], &msg);
			list = *tm_item(&msg, 1);
			/* The sender no longer needs its heap's terms. */
			if (heap[s].used > HEAP_MAX)
				tm_arena_fini(&heap[s]);
			s ^= 1;
		}
		t = (now_ns() - t0) / iters;
		if (t < best.ns) {
			best.ns = t;
			best.faults = (minflt() - f0) * 1000.0 / iters;
		}
		tm_arena_fini(&heap[0]);
		tm_arena_fini(&heap[1]);
		tm_arena_fini(&tmp);
	}
	return best;
}

/* Decoding the list into a fresh arena (@heap: into a heap); per decode. */
static struct result bench_decode(long len, bool heap)
{
	struct result best = { 1e30, 0 };
	struct tm_arena a, tmp;
	struct tm_term list, out;
	long i, f0;
	double t0, t;
	void *buf;
	size_t n;
	int r;

	tm_arena_init(&tmp, 0);
	list = make_list(&tmp, len);
	buf = tm_encode_alloc(&list, &n);
	if (!buf)
		die("encode");
	for (r = 0; r < 3; r++) {
		tm_arena_init(&a, 0);
		f0 = minflt();
		t0 = now_ns();
		for (i = 0; i < iters; i++) {
			if (tm_decode(&a, buf, n, 0, NULL, &out, NULL))
				die("decode");
			if (!heap || a.used > HEAP_MAX)
				tm_arena_fini(&a);
		}
		t = (now_ns() - t0) / iters;
		if (t < best.ns) {
			best.ns = t;
			best.faults = (minflt() - f0) * 1000.0 / iters;
		}
		tm_arena_fini(&a);
	}
	free(buf);
	tm_arena_fini(&tmp);
	return best;
}

/*
 * Each measurement in a child process of its own: malloc()'s state (its
 * trim and mmap thresholds move as it goes) is that of a fresh program.
 */
static void run(const char *what, long len, int test)
{
	struct result res;
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (test < 2)
			res = bench_copy(len, test + 1);
		else
			res = bench_decode(len, test == 3);
		row(what, len, &res);
		exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		die("child failed");
}

int main(int argc, char **argv)
{
	static const char *const tests[] = {
		"send to self", "ping-pong (one way)", "decode + fini",
		"decode into a heap",
	};
	static const long lens[] = { 0, 10, 100, 1000 };
	size_t i, j;

	if (argc > 1 && !strcmp(argv[1], "-q"))
		iters /= 10;
	printf("libtermite-user arenas: heaps freed every %d KiB\n",
	       HEAP_MAX >> 10);
	printf("(best of 3; %ld iterations; each in a fresh process)\n\n",
	       iters);
	printf("  %-28s %13s %12s\n", "", "time/op", "faults/1000");
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++)
			run(tests[i], lens[j], i);
	return 0;
}
