// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * paper_bench.c - the concurrency benchmarks of the Termite paper
 * (Germain, Feeley, Monnier 2006, sections 7.2 and 7.3.1) on
 * libtermite-user; bench/erl/paper_bench.erl is the same in Erlang.
 *
 *   paper_bench spawn N REPS       chain: each process spawns the next and
 *                                  ends; us per process
 *   paper_bench send N REPS        a process sends to itself and receives;
 *                                  us per message
 *   paper_bench ring N K REPS      ring of N processes passing K, K-1, ...
 *                                  0; us per process (creation included)
 *   paper_bench pingpong LEN N REPS  N round trips of a list of LEN small
 *                                  integers; us per message (one way)
 *   paper_bench mem N              memory of N live processes blocked in
 *                                  a receive: user RSS and kernel Slab
 *                                  deltas, bytes per process
 *
 * Output: CSV lines TABLE,termite,PARAM,REP,VALUE,N (see scripts/bench.sh);
 * termite-ioctl instead of termite with TERMITE_URING=0 (schedulers use one
 * ioctl per operation instead of io_uring rounds).
 * Long-running processes free their heap with tm_collect() when it passes
 * 256 KiB, as a generational collector would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "termite.h"

#define HEAP_MAX	(256 << 10)

static const char *test;
/* "termite", or "termite-ioctl" when TERMITE_URING=0 turns io_uring off. */
static const char *sys = "termite";
static long n, k, len, reps;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* kB of a "Key:   N kB" line of a /proc file. */
static long proc_kb(const char *file, const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

static int64_t int_of(const struct tm_term *t)
{
	int64_t v = -1;

	if (tm_get_int(t, &v)) {
		fprintf(stderr, "paper_bench: not an integer: %s\n", tm_str(t));
		exit(1);
	}
	return v;
}

/* ---- spawn: a chain of processes, each spawning the next ------------ */

static uint64_t chain_done;
static long chain_left;

static void chain(void *arg)
{
	(void)arg;
	if (--chain_left > 0)
		tm_spawn(chain, NULL);
	else
		tm_send(tm_pid_of(chain_done), tm_symbol("done"));
}

static double bench_spawn(void)
{
	struct tm_term self = tm_self();
	double t0 = now_s();

	chain_done = tm_pid_id(&self);
	chain_left = n;
	tm_spawn(chain, NULL);
	tm_recv();
	return (now_s() - t0) * 1e6 / n;
}

/* ---- send: to oneself ------------------------------------------------ */

static double bench_send(void)
{
	struct tm_term self = tm_self();
	double t0 = now_s();
	long i;

	for (i = 0; i < n; i++) {
		tm_send(self, tm_int(i));
		tm_recv();
		if (tm_heap()->used > HEAP_MAX)
			tm_collect(&self, 1);
	}
	return (now_s() - t0) * 1e6 / n;
}

/* ---- ring ------------------------------------------------------------- */

/* Receive K, pass K - 1 on; on receiving 0, pass 0 on and end. */
static void ring_proc(void *arg)
{
	struct tm_term next = tm_pid_of((uintptr_t)arg), m;
	int64_t v;

	for (;;) {
		m = tm_recv();
		v = int_of(&m);
		tm_send(next, tm_int(v ? v - 1 : 0));
		if (!v)
			return;
	}
}

/*
 * The caller is the ring's last member: it spawns N processes, sends K to
 * the first and then behaves as they do.  The process that turns 1 into 0
 * (ring position (K - 1) mod (N + 1), N being the caller) ends last: the
 * 0 goes once around the ring and back to it.  The caller monitors it, so
 * that the time covers the whole ring's creation, messages and ends.
 */
static double bench_ring(void)
{
	double t0 = now_s();
	struct tm_term self = tm_self(), first, m, last = tm_invalid(0);
	long i, x = (k + n) % (n + 1);	/* (k - 1) mod (n + 1), k >= 0 */
	uint64_t next = tm_pid_id(&self), last_id = 0;
	int64_t v;

	/* Spawned in reverse: the i-th one spawned is at position n - 1 - i. */
	for (i = 0; i < n; i++) {
		first = tm_spawn(ring_proc, (void *)(uintptr_t)next);
		next = tm_pid_id(&first);
		if (n - 1 - i == x)
			last_id = next;
		if (tm_heap()->used > HEAP_MAX)
			tm_collect(NULL, 0);
	}
	if (last_id) {
		last = tm_pid_of(last_id);
		tm_monitor(last);
	}
	first = tm_pid_of(next);
	tm_send(first, tm_int(k));
	do {
		m = tm_recv();
		v = int_of(&m);
		tm_send(first, tm_int(v ? v - 1 : 0));
		if (tm_heap()->used > HEAP_MAX) {
			tm_collect(NULL, 0);
			first = tm_pid_of(next);
		}
	} while (v);
	if (last_id)
		tm_recv();	/* <DOWN ref last normal> */
	return (now_s() - t0) * 1e6 / n;
}

/* ---- ping-pong -------------------------------------------------------- */

/* Receive [from list], send list back to from; end on anything else. */
static void pong(void *arg)
{
	struct tm_term m;

	(void)arg;
	for (;;) {
		m = tm_recv();
		if (!tm_is(&m, TM_SEQUENCE) || tm_count(&m) != 2)
			return;
		tm_send(*tm_item(&m, 0), *tm_item(&m, 1));
		if (tm_heap()->used > HEAP_MAX)
			tm_collect(NULL, 0);
	}
}

static double bench_pingpong(void)
{
	struct tm_term *items = calloc(len ? len : 1, sizeof(*items));
	struct tm_term list, *lc, self, p, m;
	uint64_t pid;
	double t0, t;
	long i;

	for (i = 0; i < len; i++)
		items[i] = tm_int(i + 1);
	list = tm_sequence(tm_heap(), items, len);
	lc = tm_clone(&list);		/* survives tm_collect() */
	free(items);
	p = tm_spawn(pong, NULL);
	pid = tm_pid_id(&p);
	self = tm_self();
	t0 = now_s();
	for (i = 0; i < n; i++) {
		tm_send(p, tm_seq(tm_heap(), 2, self, *lc));
		m = tm_recv();
		if (!tm_is(&m, TM_SEQUENCE) || (long)tm_count(&m) != len) {
			fprintf(stderr, "paper_bench: bad reply %.80s\n", tm_str(&m));
			exit(1);
		}
		if (tm_heap()->used > HEAP_MAX) {
			tm_collect(NULL, 0);
			self = tm_self();
			p = tm_pid_of(pid);
		}
	}
	t = now_s() - t0;
	tm_send(p, tm_symbol("stop"));
	tm_free(lc);
	return t * 1e6 / (2.0 * n);
}

/* ---- memory of live processes ------------------------------------------ */

static void waiter(void *arg)
{
	(void)arg;
	tm_recv();
}

static void bench_mem(void)
{
	long i, rss0, slab0, rss1, slab1;
	double t0 = now_s(), t;

	rss0 = proc_kb("/proc/self/status", "VmRSS:");
	slab0 = proc_kb("/proc/meminfo", "Slab:");
	for (i = 0; i < n; i++) {
		tm_spawn(waiter, NULL);
		if (!(i & 1023)) {
			tm_yield();	/* let them start and block */
			if (tm_heap()->used > HEAP_MAX)
				tm_collect(NULL, 0);
		}
	}
	tm_sleep(TM_MS(100));
	t = now_s() - t0;
	rss1 = proc_kb("/proc/self/status", "VmRSS:");
	slab1 = proc_kb("/proc/meminfo", "Slab:");
	printf("mem_user,termite,%ld,1,%.1f,%ld\n", n,
	       (rss1 - rss0) * 1024.0 / n, n);
	printf("mem_kernel,termite,%ld,1,%.1f,%ld\n", n,
	       (slab1 - slab0) * 1024.0 / n, n);
	printf("mem_total,termite,%ld,1,%.1f,%ld\n", n,
	       (rss1 - rss0 + slab1 - slab0) * 1024.0 / n, n);
	printf("mem_spawn_us,termite,%ld,1,%.3f,%ld\n", n, t * 1e6 / n, n);
	/*
	 * Leave them blocked: exiting closes the port and the kernel ends
	 * every actor (waking a million fibers would only take time).
	 */
	fflush(stdout);
	_exit(0);
}

static void run(void *arg)
{
	long r;

	(void)arg;
	if (!strcmp(test, "mem"))
		bench_mem();
	for (r = 1; r <= reps; r++) {
		if (!strcmp(test, "spawn"))
			printf("spawn,%s,%ld,%ld,%.3f,%ld\n", sys, n, r,
			       bench_spawn(), n);
		else if (!strcmp(test, "send"))
			printf("send,%s,%ld,%ld,%.3f,%ld\n", sys, n, r,
			       bench_send(), n);
		else if (!strcmp(test, "ring"))
			printf("ring_k%ld,%s,%ld,%ld,%.3f,%ld\n", k, sys, n, r,
			       bench_ring(), n);
		else
			printf("pingpong,%s,%ld,%ld,%.3f,%ld\n", sys, len, r,
			       bench_pingpong(), n);
		tm_collect(NULL, 0);
	}
}

int main(int argc, char **argv)
{
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("TERMITE_URING") && !strcmp(getenv("TERMITE_URING"), "0"))
		sys = "termite-ioctl";
	if (argc < 2)
		goto usage;
	test = argv[1];
	if (!strcmp(test, "mem") && argc == 3) {
		n = atol(argv[2]);
	} else if ((!strcmp(test, "spawn") || !strcmp(test, "send")) && argc == 4) {
		n = atol(argv[2]);
		reps = atol(argv[3]);
	} else if (!strcmp(test, "ring") && argc == 5) {
		n = atol(argv[2]);
		k = atol(argv[3]);
		reps = atol(argv[4]);
	} else if (!strcmp(test, "pingpong") && argc == 5) {
		len = atol(argv[2]);
		n = atol(argv[3]);
		reps = atol(argv[4]);
	} else {
		goto usage;
	}
	if (n < 1)
		goto usage;
	err = tm_run(run, NULL);
	if (err)
		fprintf(stderr, "paper_bench: tm_run: %s\n", strerror(-err));
	return !!err;

usage:
	fprintf(stderr, "usage: paper_bench spawn|send N REPS | ring N K REPS | pingpong LEN N REPS | mem N\n");
	return 2;
}
