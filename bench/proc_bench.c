// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * proc_bench.c - costs of Termite processes on termite.ko, measured in the
 * test VM: spawn (each process spawns the next and ends, as in the paper's
 * section 7.2), self send + receive, a local ping-pong round trip, and the
 * memory of N live processes blocked in a receive (user RSS and kernel
 * slab, from /proc).  Prints one line per measure.
 *
 *   build/bench/proc_bench [N]      (default N = 100000 live processes)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "termite.h"

static long n_live = 100000;
static long n_spawn = 100000;
static long n_msgs = 200000;

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

static struct tm_term spawner_done;
static long chain_left;

static void chain(void *arg)
{
	(void)arg;
	if (--chain_left > 0)
		tm_spawn(chain, NULL);
	else
		tm_send(spawner_done, tm_symbol("done"));
}

static void waiter(void *arg)
{
	(void)arg;
	tm_recv();
}

static void ponger(void *arg)
{
	struct tm_term m;

	(void)arg;
	for (;;) {
		m = tm_recv();
		if (!tm_is(&m, TM_EMBEDDED))
			return;
		tm_send(m, tm_int(0));
		tm_collect(NULL, 0);
	}
}

static void bench(void *arg)
{
	struct tm_term self = tm_self(), p, *pids;
	long i, rss0, slab0, rss1, slab1;
	double t0, t;

	(void)arg;
	/* spawn: a chain of processes each spawning the next */
	spawner_done = self;
	chain_left = n_spawn;
	t0 = now_s();
	tm_spawn(chain, NULL);
	tm_recv();
	t = now_s() - t0;
	printf("spawn           %8.3f us/process  (%ld)\n", t * 1e6 / n_spawn, n_spawn);

	/* self send + receive */
	t0 = now_s();
	for (i = 0; i < n_msgs; i++) {
		tm_send(self, tm_int(i));
		tm_recv();
		if (!(i & 1023))
			tm_collect(&self, 1);
	}
	t = now_s() - t0;
	printf("send+recv self  %8.3f us/message  (%ld)\n", t * 1e6 / n_msgs, n_msgs);

	/* local ping-pong round trip between two processes */
	p = tm_spawn(ponger, NULL);
	t0 = now_s();
	for (i = 0; i < n_msgs / 4; i++) {
		tm_send(p, self);
		tm_recv();
		if (!(i & 1023)) {
			struct tm_term keep[2] = { self, p };

			tm_collect(keep, 2);
			self = keep[0];
			p = keep[1];
		}
	}
	t = now_s() - t0;
	printf("round trip      %8.3f us          (%ld)\n", t * 1e6 / (n_msgs / 4), n_msgs / 4);
	tm_send(p, tm_int(0));

	/* memory of live processes blocked in a receive */
	pids = malloc(n_live * sizeof(*pids));
	rss0 = proc_kb("/proc/self/status", "VmRSS:");
	slab0 = proc_kb("/proc/meminfo", "Slab:");
	t0 = now_s();
	for (i = 0; i < n_live; i++) {
		struct tm_term q = tm_spawn(waiter, NULL);

		pids[i] = tm_pid_of(tm_pid_id(&q));
		if (!(i & 4095))
			tm_yield();	/* let them start and block */
	}
	tm_sleep(TM_MS(10));
	t = now_s() - t0;
	rss1 = proc_kb("/proc/self/status", "VmRSS:");
	slab1 = proc_kb("/proc/meminfo", "Slab:");
	printf("live processes  %8ld  user %.0f B/process, kernel slab %.0f B/process, %.3f us/spawn\n",
	       n_live, (rss1 - rss0) * 1024.0 / n_live,
	       (slab1 - slab0) * 1024.0 / n_live, t * 1e6 / n_live);
	for (i = 0; i < n_live; i++)
		tm_send(pids[i], tm_symbol("go"));
	free(pids);
}

int main(int argc, char **argv)
{
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		n_live = atol(argv[1]);
	err = tm_run(bench, NULL);
	if (err)
		fprintf(stderr, "tm_run: %s\n", strerror(-err));
	return !!err;
}
