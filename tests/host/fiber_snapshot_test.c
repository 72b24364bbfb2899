// SPDX-License-Identifier: GPL-2.0
/*
 * Host tests of fiber snapshots: restore in the same process, cloning,
 * call/cc-style self snapshots, fresh fibers, refusals, and restore in
 * another process: a fork() child fed through a pipe, and two fresh
 * exec()s of this binary with ASLR off (the migration case: nothing
 * shared but the executable).  kselftest harness, TAP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "fiber.h"

#define SNAP_MAX (256 << 10)
static unsigned char snap[SNAP_MAX];

/*
 * A "migrant": builds locals at several depths (an array, a double, a
 * pointer to a local), parks, and when it runs again checks them all and
 * writes a report.  Uses no heap.
 */
struct report {
	int ran;		/* got past the suspend */
	int bad;		/* locals that changed */
	int depth;
	pid_t pid;		/* process it finished in */
	uintptr_t local_addr;	/* address of a local after resuming */
	long sum;
};

static struct report rep;

static long migrant_dive(int depth, uintptr_t *where)
{
	int vals[32];
	double d = depth * 0.5;
	int *p = vals, i;
	long sum = 0;

	for (i = 0; i < 32; i++)
		vals[i] = depth * 100 + i;
	if (depth < 6) {
		sum = migrant_dive(depth + 1, where);
	} else {
		*where = (uintptr_t)&vals[0];
		tm_fiber_suspend();
		rep.ran = 1;
		rep.pid = getpid();
		rep.depth = depth;
		rep.local_addr = (uintptr_t)&vals[0];
	}
	for (i = 0; i < 32; i++) {
		if (p[i] != depth * 100 + i)
			rep.bad++;
		sum += p[i];
	}
	if (d != depth * 0.5)
		rep.bad++;
	return sum;
}

static void migrant(void *arg)
{
	uintptr_t where = 0;

	(void)arg;
	rep.sum = migrant_dive(0, &where);
	if (where != rep.local_addr)
		rep.bad++;
}

static long migrant_sum(void)
{
	long sum = 0;
	int d, i;

	for (d = 0; d <= 6; d++)
		for (i = 0; i < 32; i++)
			sum += d * 100 + i;
	return sum;
}

TEST(restore_in_same_process)
{
	struct tm_sched s;
	struct tm_fiber *f, *g;
	ssize_t n;
	int x;

	ASSERT_EQ(0, tm_sched_init(&s));
	f = tm_fiber_spawn(&s, migrant, NULL);
	tm_fiber_set_data(f, &x);
	ASSERT_EQ(1, tm_sched_run(&s));		/* parked */
	n = tm_fiber_snapshot(f, NULL, 0);
	ASSERT_GT(n, (ssize_t)sizeof(struct tm_snapshot));
	EXPECT_EQ(-ENOSPC, tm_fiber_snapshot(f, snap, n - 1));
	ASSERT_EQ(n, tm_fiber_snapshot(f, snap, sizeof(snap)));
	TH_LOG("snapshot of a fiber parked 7 calls deep: %zd bytes", n);
	ASSERT_EQ(0, tm_fiber_destroy(f));	/* it "migrated" */

	g = tm_fiber_restore(&s, snap, n);
	ASSERT_NE(NULL, g);
	EXPECT_EQ(&x, tm_fiber_data(g));
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ(1, rep.ran);
	EXPECT_EQ(0, rep.bad);
	EXPECT_EQ(6, rep.depth);
	EXPECT_EQ(migrant_sum(), rep.sum);
	tm_sched_destroy(&s);
}

/* ---- clones -------------------------------------------------------- */

static int clone_ids, clone_bad, clone_done;

static void cloned(void *arg)
{
	int mine[16], i, r, id;

	(void)arg;
	for (i = 0; i < 16; i++)
		mine[i] = i;
	tm_fiber_suspend();
	id = ++clone_ids;		/* each copy takes its own id */
	for (r = 0; r < 50; r++) {
		for (i = 0; i < 16; i++)
			mine[i] += id;
		tm_fiber_yield();
		for (i = 0; i < 16; i++)
			if (mine[i] != i + (r + 1) * id)
				clone_bad++;
	}
	clone_done++;
}

TEST(restore_twice_makes_independent_clones)
{
	struct tm_sched s;
	struct tm_fiber *f;
	ssize_t n;

	ASSERT_EQ(0, tm_sched_init(&s));
	f = tm_fiber_spawn(&s, cloned, NULL);
	ASSERT_EQ(1, tm_sched_run(&s));
	n = tm_fiber_snapshot(f, snap, sizeof(snap));
	ASSERT_GT(n, 0);
	ASSERT_NE(NULL, tm_fiber_restore(&s, snap, n));
	ASSERT_NE(NULL, tm_fiber_restore(&s, snap, n));
	tm_fiber_resume(f);			/* the original, too */
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ(3, clone_ids);
	EXPECT_EQ(3, clone_done);
	EXPECT_EQ(0, clone_bad);
	tm_sched_destroy(&s);
}

/* ---- a fiber snapshots itself (call/cc) ---------------------------- */

static ssize_t self_n;
static int self_returns[2], self_bad;

static void narcissus(void *arg)
{
	int secret[8], i;
	ssize_t r;

	(void)arg;
	for (i = 0; i < 8; i++)
		secret[i] = 42 + i;
	self_n = tm_fiber_snapshot(tm_fiber_self(), NULL, 0);	/* bound */
	r = tm_fiber_snapshot(tm_fiber_self(), snap, sizeof(snap));
	if (r < 0)
		return;
	self_returns[r == 0]++;		/* [0] original, [1] restored */
	if (r > 0)
		self_n = r;
	for (i = 0; i < 8; i++)
		if (secret[i] != 42 + i)
			self_bad++;
	for (i = 0; i < 8; i++)
		secret[i] = 0;		/* must not leak into the clone */
}

TEST(self_snapshot_returns_twice)
{
	struct tm_sched s;

	ASSERT_EQ(0, tm_sched_init(&s));
	tm_fiber_spawn(&s, narcissus, NULL);
	EXPECT_EQ(0, tm_sched_run(&s));
	ASSERT_EQ(1, self_returns[0]);
	ASSERT_GT(self_n, 0);
	TH_LOG("self snapshot: %zd bytes", self_n);
	ASSERT_NE(NULL, tm_fiber_restore(&s, snap, self_n));
	ASSERT_NE(NULL, tm_fiber_restore(&s, snap, self_n));
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ(1, self_returns[0]);
	EXPECT_EQ(2, self_returns[1]);
	EXPECT_EQ(0, self_bad);
	tm_sched_destroy(&s);
}

/* ---- fresh fibers -------------------------------------------------- */

static int fresh_ran;

static void fresh_fn(void *arg)
{
	fresh_ran += (intptr_t)arg;
}

TEST(snapshot_of_a_fresh_fiber)
{
	struct tm_sched s;
	struct tm_fiber *f;
	struct tm_snapshot h;
	ssize_t n;

	ASSERT_EQ(0, tm_sched_init(&s));
	f = tm_fiber_spawn(&s, fresh_fn, (void *)7);
	n = tm_fiber_snapshot(f, snap, sizeof(snap));
	ASSERT_EQ((ssize_t)sizeof(h), n);
	memcpy(&h, snap, sizeof(h));
	EXPECT_EQ(TM_SNAP_FRESH, h.flags);
	EXPECT_EQ(0, h.stack_len);
	EXPECT_EQ((uintptr_t)s.stack_hi, h.stack_top);
	EXPECT_EQ((uintptr_t)fresh_fn, h.r12);
	EXPECT_EQ(7, h.r13);
	tm_fiber_destroy(f);
	ASSERT_NE(NULL, tm_fiber_restore(&s, snap, n));
	ASSERT_NE(NULL, tm_fiber_restore(&s, snap, n));
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ(14, fresh_ran);
	tm_sched_destroy(&s);
}

/* ---- refusals ------------------------------------------------------ */

static int restore_errno(struct tm_sched *s, const void *buf, size_t len)
{
	struct tm_fiber *f;

	errno = 0;
	f = tm_fiber_restore(s, buf, len);
	if (f) {
		tm_fiber_destroy(f);
		return 0;
	}
	return errno;
}

TEST(bad_snapshots_are_refused)
{
	static unsigned char bad[SNAP_MAX];
	struct tm_sched s, other;
	struct tm_snapshot *h = (struct tm_snapshot *)bad;
	struct tm_fiber *f;
	ssize_t n;

	ASSERT_EQ(0, tm_sched_init(&s));
	f = tm_fiber_spawn(&s, migrant, NULL);
	ASSERT_EQ(1, tm_sched_run(&s));
	n = tm_fiber_snapshot(f, snap, sizeof(snap));
	ASSERT_GT(n, 0);
	EXPECT_EQ(0, restore_errno(&s, snap, n));

#define MUTATE(stmt, err) do {					\
		memcpy(bad, snap, n);				\
		stmt;						\
		EXPECT_EQ(err, restore_errno(&s, bad, n));	\
	} while (0)
	MUTATE(h->magic ^= 1, EINVAL);
	MUTATE(h->version = 2, EINVAL);
	MUTATE(h->hdr_size = 120, EINVAL);
	MUTATE(h->flags |= 2, EINVAL);
	MUTATE(h->stack_len -= 8, EINVAL);
	MUTATE(h->rsp += 8, EINVAL);
	MUTATE(h->mxcsr |= 1U << 16, EINVAL);
	MUTATE(h->reserved = 1, EINVAL);
	MUTATE(h->stack_top += TM_STACK_STRIDE, EXDEV);
	MUTATE(h->stack_size *= 2, EXDEV);
	MUTATE(h->layout ^= 0x100, EXDEV);
#undef MUTATE
	EXPECT_EQ(EINVAL, restore_errno(&s, snap, n - 1));
	EXPECT_EQ(EINVAL, restore_errno(&s, snap, 100));

	/* A second scheduler has its stack elsewhere. */
	ASSERT_EQ(0, tm_sched_init(&other));
	EXPECT_EQ(1, (int)other.slot);
	EXPECT_EQ(EXDEV, restore_errno(&other, snap, n));
	tm_sched_destroy(&other);
	tm_sched_destroy(&s);
}

/* ---- stack-protector canaries -------------------------------------- */

#define FAKE_CANARY 0x1122334455667700ULL
static uint64_t canary_seen, canary_here;

static void canary_holder(void *arg)
{
	volatile uint64_t slot = FAKE_CANARY;	/* looks like a canary */

	(void)arg;
	tm_fiber_suspend();
	canary_seen = slot;
	__asm__("movq %%fs:0x28, %0" : "=r"(canary_here));
}

TEST(canary_of_another_process_is_translated)
{
	struct tm_sched s;
	struct tm_snapshot *h = (struct tm_snapshot *)snap;
	struct tm_fiber *f;
	ssize_t n;

	ASSERT_EQ(0, tm_sched_init(&s));
	f = tm_fiber_spawn(&s, canary_holder, NULL);
	ASSERT_EQ(1, tm_sched_run(&s));
	n = tm_fiber_snapshot(f, snap, sizeof(snap));
	ASSERT_GT(n, 0);
	tm_fiber_destroy(f);
	/* As if taken in a process whose canary was FAKE_CANARY. */
	h->canary = FAKE_CANARY;
	ASSERT_NE(NULL, tm_fiber_restore(&s, snap, n));
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_NE(0, canary_here);
	EXPECT_EQ(canary_here, canary_seen);
	tm_sched_destroy(&s);
}

/* ---- across fork() ------------------------------------------------- */

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, (char *)buf + got, len - got);

		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t put = 0;

	while (put < len) {
		ssize_t r = write(fd, (const char *)buf + put, len - put);

		if (r <= 0)
			return -1;
		put += r;
	}
	return 0;
}

/* Read a length-prefixed snapshot from fd, run it, write a report to out. */
static int consume(int in, int out)
{
	struct tm_sched s;
	struct tm_fiber *f;
	struct report r = { 0 };
	uint64_t n;
	int err;

	if (read_full(in, &n, sizeof(n)) || n > SNAP_MAX ||
	    read_full(in, snap, n))
		return 1;
	err = tm_sched_init(&s);
	if (err)
		return 2;
	f = tm_fiber_restore(&s, snap, n);
	if (!f) {
		r.bad = -errno;		/* report why */
	} else if (tm_sched_run(&s) != 0) {
		r.bad = -1000;
	} else {
		r = rep;
	}
	tm_sched_destroy(&s);
	return write_full(out, &r, sizeof(r)) ? 3 : 0;
}

/* Run a migrant until it parks, send its snapshot to fd. */
static int produce(int out, uintptr_t *stack_top)
{
	struct tm_sched s;
	struct tm_fiber *f;
	uint64_t n;
	ssize_t r;

	if (tm_sched_init(&s))
		return 1;
	f = tm_fiber_spawn(&s, migrant, NULL);
	if (tm_sched_run(&s) != 1)
		return 2;
	r = tm_fiber_snapshot(f, snap, sizeof(snap));
	if (r <= 0)
		return 3;
	n = r;
	if (write_full(out, &n, sizeof(n)) || write_full(out, snap, n))
		return 4;
	if (stack_top)
		*stack_top = (uintptr_t)s.stack_hi;
	tm_sched_destroy(&s);		/* the original is gone */
	return 0;
}

TEST(restore_across_fork)
{
	int p2c[2], c2p[2], status;
	struct report r;
	uintptr_t top = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(p2c));
	ASSERT_EQ(0, pipe(c2p));
	/* Fork first: the child inherits no scheduler and no fiber. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(consume(p2c[0], c2p[1]));
	ASSERT_EQ(0, produce(p2c[1], &top));
	ASSERT_EQ(0, read_full(c2p[0], &r, sizeof(r)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_EQ(0, r.bad);
	EXPECT_EQ(1, r.ran);
	EXPECT_EQ(pid, r.pid);
	EXPECT_EQ(migrant_sum(), r.sum);
	/* The restored fiber's locals sit at the same stack address. */
	EXPECT_LT(r.local_addr, top);
	EXPECT_GT(r.local_addr, top - 4096);
}

/* ---- across exec(): two fresh processes of this binary ------------- */

/*
 * With TM_SNAP_ROLE=produce or consume in the environment, this binary
 * plays that role on fds 0 and 1 instead of running the tests.
 */
__attribute__((constructor)) static void snap_role(void)
{
	const char *role = getenv("TM_SNAP_ROLE");

	if (!role)
		return;
	if (!strcmp(role, "produce"))
		_exit(produce(1, NULL));
	if (!strcmp(role, "consume"))
		_exit(consume(0, 1));
	_exit(99);
}

/* Start this binary in role, ASLR off unless aslr; fd in -> 0, out -> 1. */
static pid_t start_role(const char *role, int aslr, int in, int out)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (!aslr && personality(ADDR_NO_RANDOMIZE) < 0)
		_exit(98);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0)
		_exit(97);
	setenv("TM_SNAP_ROLE", role, 1);
	execl("/proc/self/exe", "fiber_snapshot_test", (char *)NULL);
	_exit(96);
}

static int migrate_by_exec(int consumer_aslr, struct report *r,
			   int *st_prod, int *st_cons)
{
	int a[2], b[2];
	pid_t prod, cons;
	int ok;

	if (pipe(a) || pipe(b))
		return -1;
	prod = start_role("produce", 0, 0, a[1]);
	cons = start_role("consume", consumer_aslr, a[0], b[1]);
	close(a[0]);
	close(a[1]);
	close(b[1]);
	ok = read_full(b[0], r, sizeof(*r));
	close(b[0]);
	waitpid(prod, st_prod, 0);
	waitpid(cons, st_cons, 0);
	return ok;
}

static int aslr_on(void)
{
	FILE *f = fopen("/proc/sys/kernel/randomize_va_space", "r");
	int v = 2;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 2;
		fclose(f);
	}
	return v != 0;
}

TEST(restore_across_exec)
{
	struct report r;
	int sp, sc;

	if (personality(0xffffffff) < 0 || personality(PER_LINUX) < 0)
		SKIP(return, "personality() not allowed");
	ASSERT_EQ(0, migrate_by_exec(0, &r, &sp, &sc));
	if (WIFEXITED(sp) && WEXITSTATUS(sp) == 98)
		SKIP(return, "cannot turn ASLR off");
	EXPECT_EQ(0, sp);
	EXPECT_EQ(0, sc);
	EXPECT_EQ(0, r.bad);
	EXPECT_EQ(1, r.ran);
	EXPECT_EQ(migrant_sum(), r.sum);

	/* A consumer with ASLR on has its code elsewhere: refused. */
	if (!aslr_on())
		return;
	ASSERT_EQ(0, migrate_by_exec(1, &r, &sp, &sc));
	EXPECT_EQ(-EXDEV, r.bad);
	EXPECT_EQ(0, r.ran);
}

TEST_HARNESS_MAIN
