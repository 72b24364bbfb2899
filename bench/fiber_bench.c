// SPDX-License-Identifier: GPL-2.0
/*
 * fiber_bench: costs of libtermite-user's fibers, printed as a table.
 *
 *   spawn, spawn-to-exit, yield and suspend/resume switches with live
 *   stacks of several depths (the copy-stack design's variable cost),
 *   snapshot and restore, memory per idle fiber;
 *   and, for comparison, the per-fiber-stack design ("isomalloc"): a
 *   plain switch between two stacks and the memory of an idle fiber
 *   owning a stack, built from the same context switch (ctx_x86_64.S).
 *
 * Usage: fiber_bench [-q]   (-q: fewer iterations, for a quick look)
 * Each time is the best of 3 runs.
 */
#define _GNU_SOURCE
#include <alloca.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fiber.h"

/* Internal primitives of ctx_x86_64.S (hidden, but linked statically). */
void tm_ctx_switch(void **save_rsp, void *to_rsp);

static long iters = 1000000;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;

	if (f) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * sysconf(_SC_PAGESIZE);
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void row(const char *what, double ns)
{
	printf("  %-52s %9.1f ns\n", what, ns);
}

/* ---- spawn --------------------------------------------------------- */

static void nop(void *arg)
{
	(void)arg;
}

static double bench_spawn(int run)
{
	struct tm_sched s;
	double best = 1e30;
	long i, j, batch = 1000;
	int r;

	if (tm_sched_init(&s))
		die("tm_sched_init");
	for (r = 0; r < 3; r++) {
		double t = 0, t0;

		for (i = 0; i < iters; i += batch) {
			t0 = now_ns();
			for (j = 0; j < batch; j++)
				tm_fiber_spawn(&s, nop, NULL);
			if (run)
				tm_sched_run(&s);
			t += now_ns() - t0;
			if (!run)
				tm_sched_run(&s);
		}
		if (t / iters < best)
			best = t / iters;
	}
	tm_sched_destroy(&s);
	return best;
}

/* ---- switches through the scheduler -------------------------------- */

static long rounds;
static size_t depth;

/* Yield `rounds` times with `depth` bytes of live stack. */
static void yielder(void *arg)
{
	volatile char *pad = alloca(depth + 1);
	long i;

	(void)arg;
	pad[0] = 1;
	pad[depth] = 1;
	for (i = 0; i < rounds; i++)
		tm_fiber_yield();
}

/* ns per tm_fiber_yield(), with n fibers taking turns. */
static double bench_yield(int n, size_t d)
{
	struct tm_sched s;
	double best = 1e30;
	int r, i;

	if (tm_sched_init(&s))
		die("tm_sched_init");
	depth = d;
	rounds = d > 16384 ? iters / 20 : iters;
	for (r = 0; r < 3; r++) {
		double t0;

		for (i = 0; i < n; i++)
			tm_fiber_spawn(&s, yielder, NULL);
		t0 = now_ns();
		tm_sched_run(&s);
		t0 = (now_ns() - t0) / (rounds * n);
		if (t0 < best)
			best = t0;
	}
	tm_sched_destroy(&s);
	return best;
}

static struct tm_fiber *pp[2];
static volatile int ball;

static void pingpong(void *arg)
{
	int me = (intptr_t)arg;
	long i;

	for (i = 0; i < rounds; i++) {
		while (ball != me)
			tm_fiber_suspend();
		ball = !me;
		tm_fiber_resume(pp[!me]);
	}
	while (ball != me)	/* the last resume is for us: let it land */
		tm_fiber_suspend();
}

/* ns per handoff with suspend/resume between two fibers. */
static double bench_suspend_resume(void)
{
	struct tm_sched s;
	double best = 1e30;
	int r;

	if (tm_sched_init(&s))
		die("tm_sched_init");
	rounds = iters;
	for (r = 0; r < 3; r++) {
		double t0;

		ball = 0;
		pp[0] = tm_fiber_spawn(&s, pingpong, (void *)0);
		pp[1] = tm_fiber_spawn(&s, pingpong, (void *)1);
		t0 = now_ns();
		if (tm_sched_run(&s) != 1)
			die("pingpong");
		t0 = (now_ns() - t0) / (2 * rounds);
		if (t0 < best)
			best = t0;
		tm_sched_destroy(&s);
		if (tm_sched_init(&s))
			die("tm_sched_init");
	}
	tm_sched_destroy(&s);
	return best;
}

/* ---- per-fiber stacks: a plain switch between two stacks ----------- */

#define PLAIN_STACK (64 << 10)

static void *main_rsp, *a_rsp, *b_rsp;
static long plain_left;

/*
 * Entry of a bare context: reached by the `ret` of tm_ctx_switch() with
 * rsp % 16 == 8, as after a call.  Never returns.
 */
static void plain_a(void)
{
	for (;;)
		tm_ctx_switch(&a_rsp, b_rsp);
}

static void plain_b(void)
{
	for (;;) {
		if (--plain_left > 0)
			tm_ctx_switch(&b_rsp, a_rsp);
		else
			tm_ctx_switch(&b_rsp, main_rsp);
	}
}

/* A frame at the top of [lo, lo + size) that enters fn() on first switch. */
static void *bare_context(char *lo, size_t size, void (*fn)(void))
{
	uint64_t *fr = (uint64_t *)(lo + size - 64 - 8);
	uint32_t mxcsr;
	uint16_t cw;

	__asm__ volatile("fnstcw %0" : "=m"(cw));
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	memset(fr, 0, 72);
	fr[0] = cw | (uint64_t)mxcsr << 32;
	fr[7] = (uintptr_t)fn;		/* return address */
	return fr;
}

/* ns per switch, bouncing between two contexts on their own stacks. */
static double bench_plain(void)
{
	char *stk = mmap(NULL, 2 * PLAIN_STACK, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double best = 1e30;
	int r;

	if (stk == MAP_FAILED)
		die("mmap");
	for (r = 0; r < 3; r++) {
		double t0;

		a_rsp = bare_context(stk, PLAIN_STACK, plain_a);
		b_rsp = bare_context(stk + PLAIN_STACK, PLAIN_STACK, plain_b);
		plain_left = iters;
		t0 = now_ns();
		tm_ctx_switch(&main_rsp, a_rsp);	/* back after 2*iters */
		t0 = (now_ns() - t0) / (2 * iters);
		if (t0 < best)
			best = t0;
	}
	munmap(stk, 2 * PLAIN_STACK);
	return best;
}

/* ---- memory per idle fiber ----------------------------------------- */

static void idler(void *arg)
{
	volatile long *inbox = arg;

	while (!*inbox)
		tm_fiber_suspend();
}

/* Bytes of RSS per fiber parked in a one-deep wait loop. */
static double mem_copy_stack(long n)
{
	static volatile long inbox;
	struct tm_sched s;
	long rss0, i;
	double per;

	if (tm_sched_init(&s))
		die("tm_sched_init");
	rss0 = rss_bytes();
	for (i = 0; i < n; i++)
		if (!tm_fiber_spawn(&s, idler, (void *)&inbox))
			die("tm_fiber_spawn");
	if (tm_sched_run(&s) != n)
		die("idle run");
	per = (double)(rss_bytes() - rss0) / n;
	tm_sched_destroy(&s);
	return per;
}

static void **bare_rsp;
static long bare_i;

static void bare_idler(void)
{
	long me = bare_i;

	for (;;)	/* park: back to main */
		tm_ctx_switch(&bare_rsp[me], main_rsp);
}

/*
 * Per-fiber stacks of PLAIN_STACK bytes plus a guard page each, in one
 * reserved area: RSS per parked fiber (at least the page its frames use).
 */
static double mem_own_stacks(long n, long *vmas)
{
	size_t slot = PLAIN_STACK + 4096;
	char *area = mmap(NULL, n * slot, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	long rss0, i;
	double per;

	if (area == MAP_FAILED)
		die("mmap");
	bare_rsp = calloc(n, sizeof(*bare_rsp));
	if (!bare_rsp)
		die("calloc");
	rss0 = rss_bytes();
	for (i = 0; i < n; i++) {
		char *lo = area + i * slot;

		if (mprotect(lo, 4096, PROT_NONE))	/* guard */
			die("mprotect");
		bare_rsp[i] = bare_context(lo + 4096, PLAIN_STACK, bare_idler);
		bare_i = i;
		tm_ctx_switch(&main_rsp, bare_rsp[i]);	/* run until parked */
	}
	per = (double)(rss_bytes() - rss0) / n;
	*vmas = 2 * n;
	munmap(area, n * slot);
	free(bare_rsp);
	return per;
}

/* ---- snapshots ----------------------------------------------------- */

static void bench_snapshot(double *snap_ns, double *restore_ns, ssize_t *size)
{
	static volatile long inbox;
	static char buf[4096];
	struct tm_sched s;
	struct tm_fiber *f, *g;
	long i, n = iters / 10;
	double t0;

	if (tm_sched_init(&s))
		die("tm_sched_init");
	f = tm_fiber_spawn(&s, idler, (void *)&inbox);
	tm_sched_run(&s);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		*size = tm_fiber_snapshot(f, buf, sizeof(buf));
	*snap_ns = (now_ns() - t0) / n;
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		g = tm_fiber_restore(&s, buf, *size);
		if (!g)
			die("tm_fiber_restore");
		tm_fiber_destroy(g);
	}
	*restore_ns = (now_ns() - t0) / n;
	tm_sched_destroy(&s);
}

int main(int argc, char **argv)
{
	long nmem = 1000000, nown = 10000, vmas;
	double snap_ns, restore_ns, copy_mem, own_mem;
	ssize_t snap_size = 0;
	char label[80];
	static const size_t depths[] = { 1024, 4096, 16384, 65536 };
	unsigned int i;

	if (argc > 1 && !strcmp(argv[1], "-q")) {
		iters /= 10;
		nmem /= 10;
	}

	printf("libtermite-user fibers: copy-stack design, %lu KiB execution stack per scheduler\n",
	       TM_STACK_SIZE >> 10);
	printf("(best of 3; %ld iterations)\n\n", iters);

	printf("time\n");
	row("spawn (malloc + enqueue)", bench_spawn(0));
	row("spawn + first run + exit + free", bench_spawn(1));
	row("yield, 1 fiber (its stack stays: 2 switches, no copy)",
	    bench_yield(1, 0));
	row("yield, 2 fibers taking turns (copy out + in)",
	    bench_yield(2, 0));
	for (i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		snprintf(label, sizeof(label), "  same, %zu KiB more live stack each",
			 depths[i] >> 10);
		row(label, bench_yield(2, depths[i]));
	}
	row("suspend/resume ping-pong, per handoff", bench_suspend_resume());
	row("per-fiber stacks: plain switch between two stacks",
	    bench_plain());
	bench_snapshot(&snap_ns, &restore_ns, &snap_size);
	snprintf(label, sizeof(label), "snapshot of an idle fiber (%zd bytes)",
		 snap_size);
	row(label, snap_ns);
	row("restore it (+ destroy)", restore_ns);

	copy_mem = mem_copy_stack(nmem);
	own_mem = mem_own_stacks(nown, &vmas);
	printf("\nmemory per idle fiber (RSS)\n");
	printf("  %-52s %9.0f B\n", "copy stack", copy_mem);
	printf("    (%ld fibers)\n", nmem);
	printf("  %-52s %9.0f B\n", "per-fiber stacks (64 KiB each + guard page)",
	       own_mem);
	printf("    (%ld fibers, %ld VMAs; the default limit is 65530)\n",
	       nown, vmas);
	return 0;
}
