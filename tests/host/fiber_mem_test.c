// SPDX-License-Identifier: GPL-2.0
/*
 * Host test of libtermite-user's memory use: 1,000,000 fibers, fresh and
 * then idle (each parked in tm_fiber_suspend() one call deep), with the
 * resident memory and the malloc'd bytes per fiber printed.  The bound
 * asserted (2 KiB per idle fiber) is a sanity check; the goal is < 1 KiB.
 * kselftest harness, TAP.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "fiber.h"

#define NFIB 1000000L

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1	/* ASan's allocator adds redzones: no bound */
#else
#define UNDER_ASAN 0
#endif

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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long idle_count;

/* A typical idle process: a loop waiting for a message. */
static void idler(void *arg)
{
	volatile long *inbox = arg;

	while (!*inbox)
		tm_fiber_suspend();
	idle_count++;
}

TEST(million_idle_fibers)
{
	static volatile long inbox;
	struct tm_sched s;
	struct tm_fiber **all, *last;
	long rss0, rss1, rss2, heap0, heap1, heap2, i;
	double t0, t1, t2;
	ssize_t snap;

	all = malloc(NFIB * sizeof(*all));
	ASSERT_NE(NULL, all);
	memset(all, 0, NFIB * sizeof(*all));	/* touched before measuring */
	ASSERT_EQ(0, tm_sched_init(&s));
	rss0 = rss_bytes();
	heap0 = mallinfo2().uordblks;

	t0 = now();
	for (i = 0; i < NFIB; i++) {
		all[i] = tm_fiber_spawn(&s, idler, (void *)&inbox);
		ASSERT_NE(NULL, all[i]);
	}
	last = all[NFIB - 1];
	t1 = now();
	rss1 = rss_bytes();
	heap1 = mallinfo2().uordblks;

	ASSERT_EQ(NFIB, tm_sched_run(&s));	/* all parked */
	t2 = now();
	rss2 = rss_bytes();
	heap2 = mallinfo2().uordblks;
	snap = tm_fiber_snapshot(last, NULL, 0);

	ksft_print_msg("%ld fresh fibers: %.0f B RSS, %.0f B malloc'd each; spawn %.0f ns each\n",
		       NFIB, (double)(rss1 - rss0) / NFIB,
		       (double)(heap1 - heap0) / NFIB, (t1 - t0) * 1e9 / NFIB);
	ksft_print_msg("%ld idle fibers:  %.0f B RSS, %.0f B malloc'd each; first run to park %.0f ns each\n",
		       NFIB, (double)(rss2 - rss0) / NFIB,
		       (double)(heap2 - heap0) / NFIB, (t2 - t1) * 1e9 / NFIB);
	ksft_print_msg("snapshot of one idle fiber: %zd bytes (128 of header)\n",
		       snap);
	if (!UNDER_ASAN)
		EXPECT_LE((rss2 - rss0) / NFIB, 2048);

	/* They all still work: wake every one, each returns. */
	inbox = 1;
	for (i = 0; i < NFIB; i++)
		tm_fiber_resume(all[i]);
	t0 = now();
	EXPECT_EQ(0, tm_sched_run(&s));
	t1 = now();
	EXPECT_EQ(NFIB, idle_count);
	ksft_print_msg("waking and finishing them: %.0f ns each\n",
		       (t1 - t0) * 1e9 / NFIB);
	fflush(stdout);		/* the harness child ends with _exit() */
	tm_sched_destroy(&s);
	free(all);
}

TEST_HARNESS_MAIN
