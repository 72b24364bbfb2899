// SPDX-License-Identifier: GPL-2.0
/*
 * Host tests of libtermite-user's fibers: scheduling, switching, stacks,
 * floating-point state, hooks, several schedulers.  kselftest harness, TAP.
 *
 * Fibers cannot use ASSERT_*() (it longjmps out of the fiber): they record
 * what they saw in globals, and the test body checks after tm_sched_run().
 */
#define _GNU_SOURCE
#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <xmmintrin.h>

#include "kselftest_harness.h"
#include "fiber.h"

/* ---- FIFO order, self, data, spawning from fibers ------------------ */

static int order[16], norder;
static struct tm_fiber *seen_self[16];

static void record(void *arg)
{
	int i = (intptr_t)arg;

	seen_self[i] = tm_fiber_self();
	order[norder++] = i;
}

TEST(fifo_order)
{
	struct tm_sched s;
	struct tm_fiber *f[4];
	int i;

	ASSERT_EQ(0, tm_sched_init(&s));
	ASSERT_EQ(TM_STACK_AREA + TM_STACK_GUARD, (uintptr_t)s.stack_lo);
	ASSERT_EQ(TM_STACK_SIZE, (size_t)(s.stack_hi - s.stack_lo));
	for (i = 0; i < 4; i++) {
		f[i] = tm_fiber_spawn(&s, record, (void *)(intptr_t)i);
		ASSERT_NE(NULL, f[i]);
	}
	EXPECT_EQ(4, s.nfibers);
	EXPECT_EQ(NULL, tm_fiber_self());
	EXPECT_EQ(NULL, tm_sched_self());
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ(0, s.nfibers);
	ASSERT_EQ(4, norder);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(i, order[i]);
		EXPECT_EQ(f[i], seen_self[i]);
	}
	tm_sched_destroy(&s);
}

static struct tm_sched *seen_sched;
static void *seen_data;
static int nchildren;

static void child(void *arg)
{
	(void)arg;
	nchildren++;
}

static void parent(void *arg)
{
	struct tm_fiber *me = tm_fiber_self();

	seen_sched = tm_sched_self();
	tm_fiber_set_data(me, arg);
	tm_fiber_yield();
	seen_data = tm_fiber_data(tm_fiber_self());
	tm_fiber_spawn(seen_sched, child, NULL);
	tm_fiber_spawn(seen_sched, child, NULL);
	/* Not allowed from a fiber. */
	if (tm_sched_run(seen_sched) != -EBUSY)
		seen_data = NULL;
}

TEST(self_data_spawn_from_fiber)
{
	struct tm_sched s;
	int x;

	ASSERT_EQ(0, tm_sched_init(&s));
	ASSERT_NE(NULL, tm_fiber_spawn(&s, parent, &x));
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ(&s, seen_sched);
	EXPECT_EQ(&x, seen_data);
	EXPECT_EQ(2, nchildren);
	tm_sched_destroy(&s);
}

/* ---- ping-pong ----------------------------------------------------- */

#define PINGS 10000
static int trace[2 * PINGS + 4], ntrace;
static struct tm_fiber *pp[2];

static void pinger(void *arg)
{
	int me = (intptr_t)arg, i;

	for (i = 0; i < PINGS; i++) {
		trace[ntrace++] = me;
		tm_fiber_yield();
	}
}

TEST(ping_pong_yield)
{
	struct tm_sched s;
	int i;

	ASSERT_EQ(0, tm_sched_init(&s));
	tm_fiber_spawn(&s, pinger, (void *)0);
	tm_fiber_spawn(&s, pinger, (void *)1);
	EXPECT_EQ(0, tm_sched_run(&s));
	ASSERT_EQ(2 * PINGS, ntrace);
	for (i = 0; i < ntrace; i++)
		if (trace[i] != (i & 1))
			break;
	EXPECT_EQ(ntrace, i);
	tm_sched_destroy(&s);
}

static volatile int ball = -1;
static int pp_done[2];

static void suspender(void *arg)
{
	int me = (intptr_t)arg, i;

	for (i = 0; i < PINGS; i++) {
		while (ball != me)
			tm_fiber_suspend();
		trace[ntrace++] = me;
		ball = !me;
		if (!pp_done[!me])	/* an exited fiber is freed */
			tm_fiber_resume(pp[!me]);
	}
	pp_done[me] = 1;
}

TEST(ping_pong_suspend_resume)
{
	struct tm_sched s;
	int i;

	ASSERT_EQ(0, tm_sched_init(&s));
	pp[0] = tm_fiber_spawn(&s, suspender, (void *)0);
	pp[1] = tm_fiber_spawn(&s, suspender, (void *)1);
	ball = 1;
	EXPECT_EQ(0, tm_sched_run(&s));
	ASSERT_EQ(2 * PINGS, ntrace);
	for (i = 0; i < ntrace; i++)
		if (trace[i] != !(i & 1))
			break;
	EXPECT_EQ(ntrace, i);
	tm_sched_destroy(&s);
}

/* ---- a ring of 100,000 fibers -------------------------------------- */

#define RING 100000
#define LAPS 10
static struct tm_fiber **ring;
static unsigned char *token;
static long hops;

static void ring_node(void *arg)
{
	long i = (intptr_t)arg, next = (i + 1) % RING;
	int lap;

	for (lap = 0; lap < LAPS; lap++) {
		while (!token[i])
			tm_fiber_suspend();
		token[i] = 0;
		hops++;
		token[next] = 1;
		if (next || lap < LAPS - 1)	/* fiber 0 is done and freed */
			tm_fiber_resume(ring[next]);
	}
}

TEST(ring_100k)
{
	struct tm_sched s;
	long i;

	ring = calloc(RING, sizeof(*ring));
	token = calloc(RING, 1);
	ASSERT_NE(NULL, ring);
	ASSERT_NE(NULL, token);
	ASSERT_EQ(0, tm_sched_init(&s));
	for (i = 0; i < RING; i++) {
		ring[i] = tm_fiber_spawn(&s, ring_node, (void *)i);
		ASSERT_NE(NULL, ring[i]);
	}
	token[0] = 1;
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ((long)RING * LAPS, hops);
	tm_sched_destroy(&s);
	free(ring);
	free(token);
}

/* ---- suspend/resume semantics, hooks ------------------------------- */

static int woke;

static void early_riser(void *arg)
{
	(void)arg;
	tm_fiber_resume(tm_fiber_self());	/* a wake-up before suspending */
	tm_fiber_suspend();			/* returns at once */
	woke = 1;
	tm_fiber_suspend();			/* really parks */
	woke = 2;
}

TEST(resume_is_never_lost)
{
	struct tm_sched s;
	struct tm_fiber *f;

	ASSERT_EQ(0, tm_sched_init(&s));
	f = tm_fiber_spawn(&s, early_riser, NULL);
	EXPECT_EQ(1, tm_sched_run(&s));		/* one fiber left, parked */
	EXPECT_EQ(1, woke);
	tm_fiber_resume(f);			/* from outside the scheduler */
	tm_fiber_resume(f);			/* twice is once */
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ(2, woke);
	tm_sched_destroy(&s);
}

#define SLEEPERS 5
static struct tm_fiber *sleepers[SLEEPERS];
static int nidle, nexited, woken;

static void sleeper(void *arg)
{
	(void)arg;
	tm_fiber_suspend();
	woken++;
}

/* Stands for "block in the kernel until a message comes". */
static int wake_one(struct tm_sched *s)
{
	if (tm_sched_self() != s || tm_fiber_self())
		return -2;
	if (nidle == SLEEPERS)
		return -42;
	tm_fiber_resume(sleepers[nidle++]);
	return 0;
}

static void count_exit(struct tm_sched *s, struct tm_fiber *f)
{
	if (tm_fiber_data(f) == s)
		nexited++;
}

TEST(idle_and_exit_hooks)
{
	struct tm_sched s;
	int i;

	ASSERT_EQ(0, tm_sched_init(&s));
	s.idle = wake_one;
	s.on_exit = count_exit;
	for (i = 0; i < SLEEPERS; i++) {
		sleepers[i] = tm_fiber_spawn(&s, sleeper, NULL);
		tm_fiber_set_data(sleepers[i], &s);
	}
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ(SLEEPERS, nidle);
	EXPECT_EQ(SLEEPERS, woken);
	EXPECT_EQ(SLEEPERS, nexited);

	/* An idle hook's negative value stops tm_sched_run(). */
	nidle = SLEEPERS;
	tm_fiber_spawn(&s, sleeper, NULL);
	EXPECT_EQ(-42, tm_sched_run(&s));
	EXPECT_EQ(1, s.nfibers);
	tm_sched_destroy(&s);
}

static void parker(void *arg)
{
	(void)arg;
	tm_fiber_suspend();
}

TEST(destroy_live_fibers)
{
	struct tm_sched s;
	struct tm_fiber *a, *b;
	int i;

	ASSERT_EQ(0, tm_sched_init(&s));
	a = tm_fiber_spawn(&s, parker, NULL);
	for (i = 0; i < 10; i++)
		tm_fiber_spawn(&s, parker, NULL);
	EXPECT_EQ(11, tm_sched_run(&s));
	b = tm_fiber_spawn(&s, parker, NULL);	/* fresh, never ran */
	EXPECT_EQ(0, tm_fiber_destroy(a));
	EXPECT_EQ(0, tm_fiber_destroy(b));
	EXPECT_EQ(10, s.nfibers);
	tm_fiber_spawn(&s, parker, NULL);
	tm_sched_destroy(&s);			/* frees 10 parked, 1 fresh */

	/* The slot is free again: same address. */
	ASSERT_EQ(0, tm_sched_init(&s));
	EXPECT_EQ(0, s.slot);
	tm_sched_destroy(&s);
}

/* ---- deep recursion, guard region ---------------------------------- */

#define MARGIN (16 << 10)
static struct tm_sched *gs;
static int deepest, deep_bad, other_ran;
static size_t deep_used;

static int dive(int level)
{
	volatile unsigned char pad[512];
	char *sp = (char *)pad;
	int i, r;

	for (i = 0; i < (int)sizeof(pad); i++)
		pad[i] = (unsigned char)(level * 7 + i);
	if ((size_t)(gs->stack_hi - sp) < TM_STACK_SIZE - MARGIN) {
		r = dive(level + 1);
	} else {
		deepest = level;
		deep_used = gs->stack_hi - sp;
		tm_fiber_yield();	/* copy ~1 MiB out and back */
		r = 0;
	}
	for (i = 0; i < (int)sizeof(pad); i++)
		if (pad[i] != (unsigned char)(level * 7 + i))
			deep_bad++;
	return r + 1;
}

static void diver(void *arg)
{
	*(int *)arg = dive(0);
}

static void scribbler(void *arg)
{
	volatile char junk[4096];

	(void)arg;
	memset((char *)junk, 0x5a, sizeof(junk));
	other_ran = 1;
}

TEST(deep_recursion)
{
	struct tm_sched s;
	int levels = 0;

	ASSERT_EQ(0, tm_sched_init(&s));
	gs = &s;
	tm_fiber_spawn(&s, diver, &levels);
	tm_fiber_spawn(&s, scribbler, NULL);
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ(1, other_ran);
	EXPECT_EQ(0, deep_bad);
	EXPECT_EQ(deepest + 1, levels);
	EXPECT_GE(deep_used, TM_STACK_SIZE - MARGIN);
	TH_LOG("used %zu of %lu stack bytes, %d levels", deep_used,
	       TM_STACK_SIZE, levels);
	tm_sched_destroy(&s);
}

static volatile int forever = 1;

static int fall(int level)
{
	volatile char pad[1024];

	pad[0] = (char)level;
	if (forever)
		return fall(level + 1) + pad[0];
	return pad[0];
}

static void faller(void *arg)
{
	(void)arg;
	fall(0);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	char *a = si->si_addr;

	(void)sig;
	(void)uc;
	/* The harness reads exit status 0 as a pass. */
	_exit(a >= gs->stack_lo - TM_STACK_GUARD && a < gs->stack_lo ? 0 : 3);
}

TEST(overflow_hits_guard)
{
	static char altstack[64 << 10];
	struct sigaction sa = { .sa_sigaction = on_segv,
				.sa_flags = SA_SIGINFO | SA_ONSTACK };
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct tm_sched s;

	ASSERT_EQ(0, sigaltstack(&ss, NULL));
	ASSERT_EQ(0, sigaction(SIGSEGV, &sa, NULL));
	ASSERT_EQ(0, tm_sched_init(&s));
	gs = &s;
	tm_fiber_spawn(&s, faller, NULL);
	tm_sched_run(&s);
	TH_LOG("recursion without end did not fault");
	ASSERT_TRUE(0);
}

/* ---- floating-point control state ---------------------------------- */

#define FP_ROUNDS 1000
static int fp_bad;
static long double fp_x87[2];
static double fp_sse[2];

static void fp_fiber(void *arg)
{
	int up = (intptr_t)arg, i;
	int mode = up ? FE_UPWARD : FE_DOWNWARD;
	unsigned int sse_rc = up ? _MM_ROUND_UP : _MM_ROUND_DOWN;
	volatile long double one = 1, three = 3;
	volatile double done = 1, dthree = 3;

	if (fegetround() != FE_TONEAREST)	/* fresh fibers: default */
		fp_bad++;
	fesetround(mode);
	if (up)
		_MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
	for (i = 0; i < FP_ROUNDS; i++) {
		tm_fiber_yield();
		if (fegetround() != mode ||
		    _MM_GET_ROUNDING_MODE() != sse_rc ||
		    _MM_GET_FLUSH_ZERO_MODE() !=
		    (up ? _MM_FLUSH_ZERO_ON : _MM_FLUSH_ZERO_OFF))
			fp_bad++;
		fp_x87[up] = one / three;
		fp_sse[up] = done / dthree;
	}
}

TEST(fp_control_per_fiber)
{
	struct tm_sched s;

	ASSERT_EQ(FE_TONEAREST, fegetround());
	ASSERT_EQ(0, tm_sched_init(&s));
	tm_fiber_spawn(&s, fp_fiber, (void *)0);
	tm_fiber_spawn(&s, fp_fiber, (void *)1);
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ(0, fp_bad);
	EXPECT_GT(fp_x87[1], fp_x87[0]);
	EXPECT_GT(fp_sse[1], fp_sse[0]);
	/* The scheduler's thread got its own state back. */
	EXPECT_EQ(FE_TONEAREST, fegetround());
	EXPECT_EQ(_MM_ROUND_NEAREST, _MM_GET_ROUNDING_MODE());
	EXPECT_EQ(_MM_FLUSH_ZERO_OFF, _MM_GET_FLUSH_ZERO_MODE());
	tm_sched_destroy(&s);
}

static int fp_inherited;

static void fp_check_inherited(void *arg)
{
	(void)arg;
	fp_inherited = fegetround() == FE_TOWARDZERO;
}

TEST(fresh_fibers_take_the_init_fp_state)
{
	struct tm_sched s;

	fesetround(FE_TOWARDZERO);
	ASSERT_EQ(0, tm_sched_init(&s));
	fesetround(FE_TONEAREST);
	tm_fiber_spawn(&s, fp_check_inherited, NULL);
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ(1, fp_inherited);
	tm_sched_destroy(&s);
}

/* ---- pointers to a fiber's own locals ------------------------------ */

static int local_bad;

static void own_locals(void *arg)
{
	int mine[64], *p = mine, i, r;

	for (i = 0; i < 64; i++)
		mine[i] = i + (intptr_t)arg;
	for (r = 0; r < 100; r++) {
		tm_fiber_yield();
		for (i = 0; i < 64; i++)
			if (p[i] != i + (intptr_t)arg + r)
				local_bad++;
		for (i = 0; i < 64; i++)
			p[i]++;
	}
}

TEST(pointers_to_own_locals)
{
	struct tm_sched s;
	int i;

	ASSERT_EQ(0, tm_sched_init(&s));
	for (i = 0; i < 8; i++)
		tm_fiber_spawn(&s, own_locals, (void *)(intptr_t)(i * 1000));
	EXPECT_EQ(0, tm_sched_run(&s));
	EXPECT_EQ(0, local_bad);
	tm_sched_destroy(&s);
}

/* ---- one scheduler per thread -------------------------------------- */

#define TRING 1000
#define TLAPS 100

struct tring;

struct tnode {
	struct tring *r;
	int i;
};

struct tring {
	struct tm_fiber *f[TRING];
	struct tnode nodes[TRING];
	unsigned char token[TRING];
	long hops;
	unsigned int slot;
	long ret;
	int err;
};

static void tring_node(void *arg)
{
	struct tnode *n = arg;
	int next = (n->i + 1) % TRING, lap;

	for (lap = 0; lap < TLAPS; lap++) {
		while (!n->r->token[n->i])
			tm_fiber_suspend();
		n->r->token[n->i] = 0;
		n->r->hops++;
		n->r->token[next] = 1;
		if (next || lap < TLAPS - 1)
			tm_fiber_resume(n->r->f[next]);
	}
}

/* All schedulers exist at once, so their slots must differ. */
static pthread_barrier_t tring_barrier;

static void *tring_thread(void *arg)
{
	struct tring *r = arg;
	struct tnode *nodes = r->nodes;
	struct tm_sched s;
	int i;

	r->err = tm_sched_init(&s);
	pthread_barrier_wait(&tring_barrier);
	if (r->err) {
		pthread_barrier_wait(&tring_barrier);
		return NULL;
	}
	r->slot = s.slot;
	for (i = 0; i < TRING; i++) {
		nodes[i].r = r;
		nodes[i].i = i;
		r->f[i] = tm_fiber_spawn(&s, tring_node, &nodes[i]);
	}
	r->token[0] = 1;
	r->ret = tm_sched_run(&s);
	pthread_barrier_wait(&tring_barrier);
	tm_sched_destroy(&s);
	return NULL;
}

TEST(one_scheduler_per_thread)
{
	static struct tring r[3];
	pthread_t t[3];
	int i;

	ASSERT_EQ(0, pthread_barrier_init(&tring_barrier, NULL, 3));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, tring_thread, &r[i]));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, r[i].err);
		EXPECT_EQ(0, r[i].ret);
		EXPECT_EQ((long)TRING * TLAPS, r[i].hops);
	}
	EXPECT_NE(r[0].slot, r[1].slot);
	EXPECT_NE(r[1].slot, r[2].slot);
	EXPECT_NE(r[0].slot, r[2].slot);
}

TEST(taken_address_is_refused)
{
	struct tm_sched a, b;
	void *p;

	/* Occupy slot 1's address; slot 0 is free. */
	p = mmap((char *)TM_STACK_AREA + TM_STACK_STRIDE, 4096, PROT_READ,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, tm_sched_init(&a));
	EXPECT_EQ(-EEXIST, tm_sched_init(&b));
	munmap(p, 4096);
	ASSERT_EQ(0, tm_sched_init(&b));	/* slot 1 again */
	EXPECT_EQ(1, b.slot);
	tm_sched_destroy(&b);
	tm_sched_destroy(&a);
}

TEST_HARNESS_MAIN
