// SPDX-License-Identifier: GPL-2.0
/*
 * libtermite selftest: the runtime of termite.h beyond the paper's
 * examples.
 *
 *   basics              self, pid ids, yield, sleep, send to the dead,
 *                       tagged send, tm_run() and tm_run_n() again
 *   two_os_processes    two OS processes (fork, one tm_run() each) find
 *                       each other by registered names and exchange
 *                       terms: pids and tags travel as embedded refs,
 *                       records, sequences, dictionaries, sets, big
 *                       integers, doubles, strings, bytes come back
 *                       intact; an uncaught exception in the child ends
 *                       its process and is raised in a linked process of
 *                       the parent as that exception
 *   crash_os_process    the child OS process is SIGKILLed: a linked
 *                       process of the parent gets `port-closed' at its
 *                       next receive, a monitor <DOWN ref pid port-closed>
 *   ring_100000         100,000 processes pass a token around, 2 laps
 *   scheduler_per_core  tm_run_n(): processes run on more than one thread,
 *                       message each other across schedulers, all end
 *   monitors            <DOWN ref pid reason> with the exit reason, noproc,
 *                       demonitor (also of a DOWN already queued), DOWN
 *                       selected by recv with a pattern
 *   trap_exit           <EXIT pid reason> messages, normal ones included;
 *                       tm_exit_signal() trapped and untrapped; EXIT
 *                       selected by recv with a pattern
 *   kill_untrappable    tm_kill() is untrappable; links hear `killed'
 *   names               register, whereis, unregister and their errors
 *   uncaught_exception  an exception ends a process and reaches a linked
 *                       process (through a chain) as that exception; a
 *                       normal exit does not; under tm_handle() the
 *                       receive that raised it goes on
 *   link_directions     link_from, link_to, unlink
 *   api_errors          API misuse raises <error "text" errno>
 *   spawn_limit         with max_actors lowered, exactly max_actors - 1
 *                       spawns succeed (actors made ahead are used up
 *                       first), the next raises <error "spawn" ENOSPC>,
 *                       and one process ending makes room for one more
 *   spawn_link_fails    when the link of tm_spawn_link() fails (EMLINK),
 *                       it raises <error "link" EMLINK>, and the child
 *                       never runs and is gone (tm_run() returns)
 *   heap_collect        tm_collect() frees all but the terms kept
 *
 * Each test runs its scenario as the first process of tm_run() and
 * records what it saw in static variables; the assertions come after
 * tm_run() returns (a process runs on its scheduler's stack, where the
 * harness's ASSERT_* must not longjmp from).
 *
 * Run in the test VM with the module loaded:
 *   scripts/vm-run.sh -- build/selftests/runtime_test
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "termite.h"
#include "kselftest_harness.h"

#include "lib_common.h"

#define ABSENT		TM_MS(200)	/* to check that nothing arrives */

static struct tm_term seq2(struct tm_term a, struct tm_term b)
{
	return tm_seq(tm_heap(), 2, a, b);
}

/* The pid registered as @name, waiting up to @timeout for it to appear. */
static struct tm_term wait_name(const char *name, int64_t timeout)
{
	int64_t end = now_ns() + timeout;
	struct tm_term p;

	for (;;) {
		p = tm_whereis(name);
		if (tm_term_valid(&p) || now_ns() > end)
			return p;
		tm_sleep(TM_MS(10));
	}
}

/* Results, fresh in each test (every test runs in its own OS process). */
static char r_a[RES_LEN], r_b[RES_LEN], r_c[RES_LEN], r_d[RES_LEN];
static char r_e[RES_LEN], r_f[RES_LEN], r_g[RES_LEN], r_h[RES_LEN];
static char r_i[RES_LEN], r_j[RES_LEN];
static bool f_a, f_b, f_c, f_d;
static int64_t n_a, n_b, n_c;

/*
 * A process that waits for any message, then does what @arg (a boxed
 * term) says: <exit R> tm_exit(R), <raise R> tm_raise(R), anything else
 * returns (a normal exit).
 */
static void wait_go_then(void *arg)
{
	struct tm_term act = unbox(arg);

	tm_recv();
	if (tm_record_is(&act, "exit", 1))
		tm_exit(*tm_record_field(&act, 0));
	if (tm_record_is(&act, "raise", 1))
		tm_raise(*tm_record_field(&act, 0));
}

static struct tm_term spawn_waiting(const char *act_text)
{
	return tm_spawn(wait_go_then, box(tm_t(act_text)));
}

/* <DOWN ref pid reason> for @ref and @pid: its reason, else the message. */
static struct tm_term down_reason(struct tm_term msg, struct tm_term ref,
				  struct tm_term pid)
{
	if (tm_record_is(&msg, "DOWN", 3) &&
	    tm_equal(tm_record_field(&msg, 0), &ref) &&
	    tm_equal(tm_record_field(&msg, 1), &pid))
		return *tm_record_field(&msg, 2);
	return tm_rec(tm_heap(), sym("bad-down"), 1, msg);
}

/* <EXIT pid reason> from @pid: its reason, else the message. */
static struct tm_term exit_reason(struct tm_term msg, struct tm_term pid)
{
	if (tm_record_is(&msg, "EXIT", 2) &&
	    tm_equal(tm_record_field(&msg, 0), &pid))
		return *tm_record_field(&msg, 1);
	return tm_rec(tm_heap(), sym("bad-exit"), 1, msg);
}

/* Receive with a timeout inside a catcher: the exception, or <got msg>. */
static struct tm_term recv_catch_body(void *ctx)
{
	struct tm_term m = tm_recv_for(*(int64_t *)ctx, NULL);

	return tm_rec(tm_heap(), sym("got"), 1, m);
}

static struct tm_term recv_catching(int64_t timeout)
{
	return tm_catch(identity_handler, recv_catch_body, &timeout);
}

static bool is_record_p(const struct tm_term *m, void *ctx)
{
	return tm_is(m, TM_RECORD) && tm_record_is(m, ctx, tm_record_arity(m));
}

/* ---- basics --------------------------------------------------------- */

static atomic_int g_ran;

static void set_ran(void *arg)
{
	(void)arg;
	atomic_store(&g_ran, 1);
}

static void basics_main(void *arg)
{
	struct tm_term self = tm_self(), tag = tm_make_tag(), other, none;
	struct tm_term i5 = tm_int(5), m, ref;
	uint64_t id = tm_pid_id(&self);
	int64_t t0;
	int i;

	(void)arg;
	none = sym("none");
	other = tm_pid_of(id);
	f_a = tm_is_pid(&self) && id != 0 && tm_equal(&other, &self) &&
	      tm_is(&self, TM_EMBEDDED) && self.u.ref->kind == TM_REF_PID;
	f_b = !tm_is_pid(&tag) && tm_pid_id(&tag) == 0 &&
	      !tm_is_pid(&i5) && tm_pid_id(&i5) == 0 &&
	      tm_is(&tag, TM_EMBEDDED) && tag.u.ref->kind == TM_REF_TAG;

	/* tm_yield() lets the new process run. */
	tm_spawn(set_ran, NULL);
	for (i = 0; i < 10 && !atomic_load(&g_ran); i++)
		tm_yield();
	f_c = atomic_load(&g_ran);

	/* tm_sleep() sleeps and leaves the mailbox alone. */
	tm_send(self, sym("kept"));
	t0 = now_ns();
	tm_sleep(TM_MS(50));
	n_a = now_ns() - t0;
	m = tm_recv_for(0, &none);
	put(r_a, &m);

	/* Sending to a dead process does nothing. */
	other = spawn_waiting("normal");
	ref = tm_monitor(other);
	tm_send(other, sym("go"));
	m = tm_recv_for(WAIT, NULL);
	m = down_reason(m, ref, other);
	put(r_b, &m);
	tm_send(other, sym("hello?"));
	tm_send_tagged(other, tag, sym("hello?"));

	/* A tagged send is an ordinary message to ?. */
	tm_send_tagged(self, tag, sym("tagged"));
	m = tm_recv_for(WAIT, NULL);
	put(r_c, &m);
}

static void nothing_main(void *arg)
{
	(void)arg;
}

TEST(basics)
{
	RUN(basics_main);
	/* tm_run() again in the same OS process. */
	ASSERT_EQ(0, run_scenario_n(0, nothing_main));
	ASSERT_EQ(0, run_scenario_n(2, nothing_main));
	EXPECT_TRUE(f_a) TH_LOG("self / tm_pid_id / tm_pid_of disagree");
	EXPECT_TRUE(f_b) TH_LOG("a tag or an int taken for a pid");
	EXPECT_TRUE(f_c) TH_LOG("tm_yield() did not run the new process");
	EXPECT_LE(TM_MS(49), n_a);
	EXPECT_STREQ("kept", r_a);
	EXPECT_STREQ("normal", r_b);
	EXPECT_STREQ("tagged", r_c);
}

/* ---- two OS processes ------------------------------------------------ */

static char n_parent[64], n_child[64], n_worker[64];
static pid_t g_child;

/* In the child: waits for <crash R>, then raises R (uncaught). */
static void remote_worker(void *arg)
{
	(void)arg;
	if (tm_register(n_worker, tm_self()) != 0)
		return;
	for (;;) {
		struct tm_term m = tm_recv_for(TM_SEC(60), NULL);

		if (tm_record_is(&m, "crash", 1))
			tm_raise(*tm_record_field(&m, 0));
	}
}

/* In the child: says hello to the parent, then echoes tm_call()s. */
static void echo_child(void *arg)
{
	struct tm_arena *h = tm_heap();
	struct tm_term parent;

	(void)arg;
	tm_spawn(remote_worker, NULL);
	if (tm_register(n_child, tm_self()) != 0)
		tm_raise(sym("child-register-failed"));
	parent = wait_name(n_parent, WAIT);
	if (!tm_term_valid(&parent))
		tm_raise(sym("child-no-parent"));
	tm_send(parent, tm_rec(h, sym("hello"), 2, tm_self(), tm_int(getpid())));
	for (;;) {
		struct tm_term m = tm_recv_for(TM_SEC(60), NULL);

		if (tm_symbol_is(&m, "stop"))
			return;
		if (tm_is(&m, TM_SEQUENCE) && tm_count(&m) == 3 &&
		    tm_is_pid(tm_item(&m, 0)))
			tm_reply(*tm_item(&m, 0), *tm_item(&m, 1),
				 *tm_item(&m, 2));
		else
			tm_raise(tm_rec(h, sym("child-unexpected"), 1, m));
		tm_collect(NULL, 0);
	}
}

static const char *const rt_texts[] = {
	"<point 1 2>",
	"[1 [2 [3 []]] \"x\" #t #f]",
	"{a: 1 \"b\": [2 3] 4: {nested: #{1 2 3}} [k]: <r>}",
	"123456789012345678901234567890123",
	"-98765432109876543210987654321",
	"9223372036854775808",
	"\"h\\u00e9llo w\\u00f6rld \\u2713\"",
	"#x\"00ff7f80\"",
	"#{a b c}",
	"a-symbol",
	"<a-long-record 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18>",
	"<r>",
	"[]",
	"{}",
	"1.5",
};

static void two_os_parent(void *arg)
{
	struct tm_arena *h = tm_heap();
	struct tm_term self = tm_self(), hello, child, r, v, tag, big, worker;
	struct tm_term *items;
	char *s;
	size_t i, nvals = 0, bad = 0;
	struct tm_term vals[48];

	(void)arg;
	if (tm_register(n_parent, self) != 0)
		tm_raise(sym("parent-register-failed"));
	hello = tm_recv_for(WAIT, NULL);
	put(r_a, &hello);
	child = tm_whereis(n_child);
	/* The child's pid came in a message and by name: the same pid. */
	f_a = tm_record_is(&hello, "hello", 2) &&
	      tm_is_pid(tm_record_field(&hello, 0)) &&
	      tm_equal(tm_record_field(&hello, 0), &child) &&
	      int_is(tm_record_field(&hello, 1), g_child) &&
	      tm_pid_id(&child) != 0 && tm_pid_id(&child) != tm_pid_id(&self);

	for (i = 0; i < sizeof(rt_texts) / sizeof(rt_texts[0]); i++)
		vals[nvals++] = tm_t(rt_texts[i]);
	vals[nvals++] = tm_double(3.25);
	vals[nvals++] = tm_double(-0.0);
	vals[nvals++] = tm_double(1e300);
	vals[nvals++] = tm_double(-2.5e-300);
	vals[nvals++] = tm_int(INT64_MIN);
	vals[nvals++] = tm_int(INT64_MAX);
	vals[nvals++] = tm_stringn("a\0b", 3);
	vals[nvals++] = tm_bytes("", 0);
	vals[nvals++] = self;
	vals[nvals++] = child;
	tag = tm_make_tag();
	vals[nvals++] = tag;
	{
		struct tm_term kv[4] = { sym("pid"), self, sym("tag"), tag };

		vals[nvals++] = tm_seq(h, 3, self, tag, tm_dict(h, kv, 2));
	}
	items = tm_arena_alloc(h, 2000 * sizeof(*items));
	if (items) {
		for (i = 0; i < 2000; i++)
			items[i] = tm_int((int64_t)i * 1000003);
		vals[nvals++] = tm_sequence(h, items, 2000);
	}
	s = tm_arena_alloc(h, 65536 + 1);
	if (s) {
		memset(s, 'z', 65536);
		s[65536] = '\0';
		vals[nvals++] = tm_string(s);
	}
	big = tm_t("<nest [1 {x: <y #{1.5 \"s\" #\"b\"}>}] -12345678901234567890123>");
	vals[nvals++] = big;

	for (i = 0; i < nvals; i++) {
		v = vals[i];
		if (!tm_term_valid(&v)) {
			snprintf(r_b, RES_LEN, "value %zu invalid: %d", i,
				 tm_term_error(&v));
			bad++;
			continue;
		}
		r = tm_call(child, v, WAIT, NULL);
		if (!tm_equal(&r, &v)) {
			if (!bad) {
				put(r_b, &v);
				put(r_c, &r);
			}
			bad++;
		}
	}
	n_a = (int64_t)bad;
	n_b = (int64_t)nvals;

	/*
	 * An uncaught exception ends the child's worker and is raised in
	 * this (linked) process at its next receive, as that exception.
	 */
	worker = wait_name(n_worker, WAIT);
	f_b = tm_is_pid(&worker);
	if (f_b) {
		tm_link(worker);
		tm_send(worker, tm_rec(h, sym("crash"), 1,
				       tm_t("<remote-crash \"x\" [1 2]>")));
		r = recv_catching(WAIT);
		put(r_d, &r);
	}
	tm_send(child, sym("stop"));
}

static int child_exit_code(int r)
{
	if (r < 0)
		return 2;
	if (g_uncaught[0]) {
		fprintf(stderr, "# child: uncaught %s\n", g_uncaught);
		return 3;
	}
	return 0;
}

TEST(two_os_processes)
{
	int st;

	snprintf(n_parent, sizeof(n_parent), "rt-parent-%d", getpid());
	snprintf(n_child, sizeof(n_child), "rt-child-%d", getpid());
	snprintf(n_worker, sizeof(n_worker), "rt-worker-%d", getpid());
	g_child = fork();
	ASSERT_LE(0, g_child);
	if (g_child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(child_exit_code(run_scenario_n(0, echo_child)));
	}
	st = run_scenario_n(0, two_os_parent);
	if (st == -ENOENT) {
		kill(g_child, SIGKILL);
		waitpid(g_child, NULL, 0);
		SKIP(return, "no /dev/termite (module not loaded)");
	}
	EXPECT_EQ(0, st);
	EXPECT_STREQ("", g_uncaught);
	if (st || g_uncaught[0])
		kill(g_child, SIGKILL);
	ASSERT_EQ(g_child, waitpid(g_child, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
		TH_LOG("child OS process: status %#x", st);
	EXPECT_TRUE(f_a) TH_LOG("hello from the child: %s", r_a);
	EXPECT_EQ(0, n_a) TH_LOG("%lld of %lld values changed; first: %s came back as %s",
				 (long long)n_a, (long long)n_b, r_b, r_c);
	EXPECT_TRUE(f_b) TH_LOG("no worker registered in the child");
	EXPECT_STREQ("<remote-crash \"x\" [1 2]>", r_d);
}

/* ---- crash of an OS process ------------------------------------------ */

static void sleeping_child(void *arg)
{
	(void)arg;
	if (tm_register(n_child, tm_self()) != 0)
		return;
	for (;;)
		tm_recv();
}

static void crash_parent(void *arg)
{
	struct tm_term child, ref, r, none = sym("none");

	(void)arg;
	child = wait_name(n_child, WAIT);
	f_a = tm_is_pid(&child);
	if (!f_a)
		return;
	tm_link(child);
	ref = tm_monitor(child);
	/* Still alive: nothing has come. */
	r = recv_catching(ABSENT);
	put(r_c, &r);
	kill(g_child, SIGKILL);
	/*
	 * The exception waits for the next receive: sleeping and sending
	 * do not raise it, and it comes before the messages.
	 */
	tm_sleep(TM_MS(200));
	tm_send(tm_self(), sym("marker"));
	r = recv_catching(WAIT);
	put(r_a, &r);
	r = tm_recv_if(is_record_p, "DOWN", WAIT, &none);
	r = down_reason(r, ref, child);
	put(r_b, &r);
	r = tm_recv_for(0, &none);
	put(r_d, &r);
	/* The dead child's name is gone. */
	r = tm_whereis(n_child);
	f_b = !tm_term_valid(&r);
}

TEST(crash_os_process)
{
	int st;

	snprintf(n_child, sizeof(n_child), "rt-doomed-%d", getpid());
	g_child = fork();
	ASSERT_LE(0, g_child);
	if (g_child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(child_exit_code(run_scenario_n(0, sleeping_child)));
	}
	st = run_scenario_n(0, crash_parent);
	kill(g_child, SIGKILL);
	ASSERT_EQ(g_child, waitpid(g_child, NULL, 0));
	if (st == -ENOENT)
		SKIP(return, "no /dev/termite (module not loaded)");
	ASSERT_EQ(0, st);
	ASSERT_STREQ("", g_uncaught);
	ASSERT_TRUE(f_a) TH_LOG("the child never registered its name");
	EXPECT_STREQ("timeout", r_c);
	EXPECT_STREQ("port-closed", r_a);
	EXPECT_STREQ("port-closed", r_b);
	EXPECT_STREQ("marker", r_d);
	EXPECT_TRUE(f_b) TH_LOG("the dead child's name is still registered");
}

/* ---- a ring of 100,000 processes -------------------------------------- */

#define RING_N		100000
#define RING_LAPS	2

static uint64_t *ring_next;	/* actor id of the next process */
static atomic_long ring_bad;

static void ring_node(void *arg)
{
	size_t i = (uintptr_t)arg;
	struct tm_term next = tm_pid_of(ring_next[i]);
	int64_t v;
	int lap;

	for (lap = 0; lap < RING_LAPS; lap++) {
		struct tm_term m = tm_recv();

		if (!tm_is(&m, TM_INT) || tm_get_int(&m, &v) != 0) {
			atomic_fetch_add(&ring_bad, 1);
			v = -1000000000;
		}
		tm_send(next, tm_int(v + 1));
	}
}

static void ring_main(void *arg)
{
	struct tm_term first, m;
	int64_t t0, v;
	size_t i;
	int lap;

	(void)arg;
	t0 = now_ns();
	m = tm_self();
	ring_next[RING_N - 1] = tm_pid_id(&m);
	for (i = RING_N; i-- > 0;) {
		first = tm_spawn(ring_node, (void *)(uintptr_t)i);
		if (i)
			ring_next[i - 1] = tm_pid_id(&first);
		if (!(i & 1023))
			tm_collect(&first, 1);
	}
	n_a = now_ns() - t0;
	t0 = now_ns();
	tm_send(first, tm_int(0));
	f_a = true;
	for (lap = 0; lap < RING_LAPS; lap++) {
		m = tm_recv_for(TM_SEC(240), NULL);
		if (tm_get_int(&m, &v) || v != (int64_t)RING_N * (lap + 1)) {
			f_a = false;
			put(r_a, &m);
		}
		if (lap + 1 < RING_LAPS)
			tm_send(first, m);
		tm_collect(&first, 1);
	}
	n_b = now_ns() - t0;
}

FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

TEST_F_TIMEOUT(slow, ring_100000, 280)
{
	ring_next = calloc(RING_N, sizeof(*ring_next));
	ASSERT_NE(NULL, ring_next);
	RUN(ring_main);
	TH_LOG("%d processes spawned in %lld ms, %d laps in %lld ms",
	       RING_N, (long long)(n_a / 1000000), RING_LAPS,
	       (long long)(n_b / 1000000));
	EXPECT_TRUE(f_a) TH_LOG("token: %s", r_a);
	EXPECT_EQ(0, atomic_load(&ring_bad));
	free(ring_next);
}

/* ---- a scheduler per core -------------------------------------------- */

#define SCHED_PROCS	200
#define SCHED_TIDS	64

static uint64_t sched_main_id, sched_echo_id;
static atomic_int sched_done;

static void echo_server(void *arg)
{
	(void)arg;
	for (;;) {
		struct tm_term m = tm_recv();

		if (tm_is(&m, TM_SEQUENCE) && tm_count(&m) == 3 &&
		    tm_is_pid(tm_item(&m, 0)))
			tm_reply(*tm_item(&m, 0), *tm_item(&m, 1),
				 *tm_item(&m, 2));
		tm_collect(NULL, 0);
	}
}

static void sched_worker(void *arg)
{
	int64_t i = (intptr_t)arg;
	struct tm_term main_pid = tm_pid_of(sched_main_id);
	struct tm_term echo = tm_pid_of(sched_echo_id);
	int64_t tid = syscall(SYS_gettid), tid2;
	struct tm_term r;

	tm_yield();
	/* A call across schedulers. */
	r = tm_call(echo, tm_int(i), WAIT, NULL);
	tid2 = syscall(SYS_gettid);
	tm_send(main_pid, tm_seq(tm_heap(), 4, tm_int(i), tm_int(tid),
				 tm_int(tid2), tm_bool(int_is(&r, i))));
	atomic_fetch_add(&sched_done, 1);
}

static int64_t sched_tids[SCHED_TIDS];
static int sched_ntids;

static void add_tid(int64_t tid)
{
	int i;

	for (i = 0; i < sched_ntids; i++)
		if (sched_tids[i] == tid)
			return;
	if (sched_ntids < SCHED_TIDS)
		sched_tids[sched_ntids++] = tid;
}

static void sched_main(void *arg)
{
	static bool seen[SCHED_PROCS];
	struct tm_term self = tm_self(), echo;
	int64_t i, tid, tid2;
	int got = 0, bad = 0;

	(void)arg;
	sched_main_id = tm_pid_id(&self);
	add_tid(syscall(SYS_gettid));
	echo = serve(tm_spawn(echo_server, NULL));
	sched_echo_id = tm_pid_id(&echo);
	for (i = 0; i < SCHED_PROCS; i++)
		tm_spawn(sched_worker, (void *)(intptr_t)i);
	for (got = 0; got < SCHED_PROCS; got++) {
		struct tm_term m = tm_recv_for(TM_SEC(20), NULL);

		if (!tm_is(&m, TM_SEQUENCE) || tm_count(&m) != 4 ||
		    tm_get_int(tm_item(&m, 0), &i) || i < 0 ||
		    i >= SCHED_PROCS || seen[i] ||
		    tm_get_int(tm_item(&m, 1), &tid) ||
		    tm_get_int(tm_item(&m, 2), &tid2) ||
		    !tm_is(tm_item(&m, 3), TM_BOOL) ||
		    !tm_item(&m, 3)->u.b) {
			if (!bad)
				put(r_a, &m);
			bad++;
			continue;
		}
		seen[i] = true;
		add_tid(tid);
		add_tid(tid2);
		tm_collect(NULL, 0);
	}
	n_a = got;
	n_b = bad;
}

TEST(scheduler_per_core)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int n = cpus < 2 ? 2 : (unsigned int)cpus;

	if (n > 16)
		n = 16;
	RUN_N(n, sched_main);
	TH_LOG("%u schedulers, %d threads used", n, sched_ntids);
	EXPECT_EQ(SCHED_PROCS, n_a);
	EXPECT_EQ(0, n_b) TH_LOG("bad report: %s", r_a);
	EXPECT_EQ(SCHED_PROCS, atomic_load(&sched_done))
		TH_LOG("tm_run_n() returned before every process ended");
	EXPECT_LT(1, sched_ntids) TH_LOG("every process ran on one thread");
	EXPECT_GE((int)n, sched_ntids) TH_LOG("more threads than schedulers");
}

/* ---- monitors -------------------------------------------------------- */

/* Spawn a waiting process, monitor it, let it go: the DOWN reason. */
static struct tm_term down_after(const char *act)
{
	struct tm_term w = spawn_waiting(act);
	struct tm_term ref = tm_monitor(w);
	struct tm_term m;

	tm_send(w, sym("go"));
	m = tm_recv_for(WAIT, NULL);
	return down_reason(m, ref, w);
}

static struct tm_pattern *p_down;	/* <DOWN $ref $pid $reason> */
static struct tm_pattern *p_exit;	/* <EXIT $pid $reason> */

static bool first_cap_is(const struct tm_capture *caps, void *ctx)
{
	return tm_equal(caps[0].term, ctx);
}

/*
 * recv with the one clause @p (kernel messages are terms like any other):
 * capture @want, or a symbol saying what went wrong.
 */
static struct tm_term recv_kernel_msg(struct tm_pattern *p, tm_where_fn where,
				      void *ctx, unsigned int want)
{
	struct tm_clause cl = { p, where };
	struct tm_capture caps[3] = { { 0 } };
	int k;

	if (!p)
		return sym("no-pattern");
	k = tm_recv_match(&cl, 1, caps, 3, ctx, WAIT, NULL);
	if (k != 0)
		return sym("no-match");
	return *caps[want].term;
}

/* The same with a second clause that never matches, tried first. */
static struct tm_pattern *p_never;	/* <never-sent _> */

static struct tm_term recv_kernel_msg2(struct tm_pattern *p, tm_where_fn where,
				       void *ctx, unsigned int want)
{
	struct tm_clause cl[2] = { { p_never, NULL }, { p, where } };
	struct tm_capture caps[3] = { { 0 } };
	int k;

	if (!p || !p_never)
		return sym("no-pattern");
	k = tm_recv_match(cl, 2, caps, 3, ctx, WAIT, NULL);
	if (k != 1)
		return sym("no-match");
	return *caps[want].term;
}

static void monitors_main(void *arg)
{
	struct tm_term r, w, ref2, ref3, m, none = sym("none");

	(void)arg;
	r = down_after("<exit <shutdown 7>>");
	put(r_a, &r);
	r = down_after("normal");
	put(r_b, &r);
	r = down_after("<exit normal>");
	put(r_c, &r);
	r = down_after("<raise <crash 1 \"one\">>");
	put(r_d, &r);

	/* Monitoring a dead process: DOWN noproc at once. */
	w = spawn_waiting("normal");
	ref2 = tm_monitor(w);
	tm_send(w, sym("go"));
	tm_recv_for(WAIT, NULL);
	ref3 = tm_monitor(w);
	f_a = !tm_equal(&ref2, &ref3);
	m = tm_recv_for(WAIT, NULL);
	r = down_reason(m, ref3, w);
	put(r_e, &r);

	/* Demonitor: no DOWN for that ref. */
	w = spawn_waiting("normal");
	ref2 = tm_monitor(w);
	ref3 = tm_monitor(w);
	tm_demonitor(ref2);
	tm_send(w, sym("go"));
	m = tm_recv_for(WAIT, NULL);
	r = down_reason(m, ref3, w);
	put(r_f, &r);
	m = tm_recv_for(ABSENT, &none);
	put(r_g, &m);

	/* Demonitor removes a DOWN already queued. */
	w = spawn_waiting("normal");
	ref2 = tm_monitor(w);
	tm_send(w, sym("go"));
	tm_sleep(TM_MS(200));		/* w ends, its DOWN is queued */
	tm_demonitor(ref2);
	m = tm_recv_for(ABSENT, &none);
	put(r_j, &m);

	/* A DOWN message selected by recv with a pattern (one clause). */
	w = spawn_waiting("<exit <by-pattern>>");
	ref2 = tm_monitor(w);
	tm_send(tm_self(), sym("noise"));
	tm_send(w, sym("go"));
	r = recv_kernel_msg(p_down, first_cap_is, &ref2, 2);
	put(r_h, &r);
	tm_recv_for(WAIT, NULL);	/* noise */

	/* ... and with two clauses. */
	w = spawn_waiting("<exit <by-pattern-2>>");
	ref2 = tm_monitor(w);
	tm_send(tm_self(), sym("noise"));
	tm_send(w, sym("go"));
	r = recv_kernel_msg2(p_down, first_cap_is, &ref2, 2);
	put(r_i, &r);
	tm_recv_for(WAIT, NULL);	/* noise */
}

TEST(monitors)
{
	p_down = compile("<DOWN $ref $pid $reason>");
	p_never = compile("<never-sent _>");
	RUN(monitors_main);
	tm_pattern_free(p_down);
	tm_pattern_free(p_never);
	EXPECT_STREQ("<shutdown 7>", r_a);
	EXPECT_STREQ("normal", r_b);
	EXPECT_STREQ("normal", r_c);
	EXPECT_STREQ("<crash 1 \"one\">", r_d);
	EXPECT_TRUE(f_a) TH_LOG("two monitors got the same ref");
	EXPECT_STREQ("noproc", r_e);
	EXPECT_STREQ("normal", r_f);
	EXPECT_STREQ("none", r_g) TH_LOG("DOWN after demonitor");
	EXPECT_STREQ("none", r_j) TH_LOG("demonitor left a queued DOWN");
	EXPECT_STREQ("<by-pattern>", r_h)
		TH_LOG("recv <DOWN $ref $pid $reason> (one clause)");
	EXPECT_STREQ("<by-pattern-2>", r_i)
		TH_LOG("recv <DOWN $ref $pid $reason> (second of two clauses)");
}

/* ---- trap_exit --------------------------------------------------------- */

/* Traps exits (or not, per @arg), reports the next message or exception. */
static void exit_reporter(void *arg)
{
	struct tm_term a = unbox(arg);	/* [to trap?] */
	struct tm_term to = *tm_item(&a, 0), r;

	tm_trap_exit(tm_item(&a, 1)->u.b);
	tm_send(to, sym("ready"));
	r = recv_catching(WAIT);
	tm_send(to, tm_rec(tm_heap(), sym("report"), 1, r));
}

static struct tm_term report_of(void)
{
	struct tm_term m = tm_recv_if(is_record_p, "report", WAIT, NULL);

	return *tm_record_field(&m, 0);
}

static void trap_main(void *arg)
{
	struct tm_term w, r, self = tm_self();
	bool prev;

	(void)arg;
	prev = tm_trap_exit(true);
	f_a = prev == false;
	w = tm_spawn_link(wait_go_then, box(sym("normal")));
	tm_send(w, sym("go"));
	r = exit_reason(tm_recv_for(WAIT, NULL), w);
	put(r_a, &r);
	w = tm_spawn_link(wait_go_then, box(tm_t("<raise oops>")));
	tm_send(w, sym("go"));
	r = exit_reason(tm_recv_for(WAIT, NULL), w);
	put(r_b, &r);
	w = tm_spawn_link(wait_go_then, box(tm_t("<exit <bye 0>>")));
	tm_send(w, sym("go"));
	r = exit_reason(tm_recv_for(WAIT, NULL), w);
	put(r_c, &r);
	/* An EXIT message selected by recv with a pattern (one clause). */
	w = tm_spawn_link(wait_go_then, box(tm_t("<exit <by-pattern>>")));
	tm_send(self, sym("noise"));
	tm_send(w, sym("go"));
	r = recv_kernel_msg(p_exit, first_cap_is, &w, 1);
	put(r_f, &r);
	tm_recv_for(WAIT, NULL);	/* noise */
	prev = tm_trap_exit(false);
	f_b = prev == true;

	/* tm_exit_signal() to a process that traps exits: a message. */
	w = tm_spawn(exit_reporter, box(seq2(self, tm_bool(true))));
	tm_recv_for(WAIT, NULL);	/* ready */
	tm_exit_signal(w, tm_t("<bye 1>"));
	r = report_of();
	put(r_d, &r);
	f_c = tm_record_is(&r, "got", 1);
	if (f_c) {
		r = *tm_record_field(&r, 0);
		r = exit_reason(r, self);
		put(r_d, &r);
	}
	/* ... and to one that does not: an exception at its receive. */
	w = tm_spawn(exit_reporter, box(seq2(self, tm_bool(false))));
	tm_recv_for(WAIT, NULL);	/* ready */
	tm_exit_signal(w, tm_t("<bye 2>"));
	r = report_of();
	put(r_e, &r);
}

TEST(trap_exit)
{
	p_exit = compile("<EXIT $pid $reason>");
	RUN(trap_main);
	tm_pattern_free(p_exit);
	EXPECT_TRUE(f_a) TH_LOG("trap_exit was on from the start");
	EXPECT_TRUE(f_b) TH_LOG("tm_trap_exit() did not return the setting");
	EXPECT_STREQ("normal", r_a);
	EXPECT_STREQ("oops", r_b);
	EXPECT_STREQ("<bye 0>", r_c);
	EXPECT_STREQ("<bye 1>", r_d);
	EXPECT_STREQ("<bye 2>", r_e);
	EXPECT_STREQ("<by-pattern>", r_f)
		TH_LOG("recv <EXIT $pid $reason> (one clause)");
}

/* ---- kill ---------------------------------------------------------------- */

static void trapper_forever(void *arg)
{
	struct tm_term to = unbox(arg);

	tm_trap_exit(true);
	tm_send(to, sym("ready"));
	for (;;) {
		tm_recv();
		tm_collect(NULL, 0);
	}
}

/* Links to [main w], tells main, reports the exception it gets. */
static void link_catcher(void *arg)
{
	struct tm_term a = unbox(arg);
	struct tm_term to = *tm_item(&a, 0), r;

	tm_link(*tm_item(&a, 1));
	tm_send(to, sym("linked"));
	r = recv_catching(WAIT);
	tm_send(to, tm_rec(tm_heap(), sym("report"), 1, r));
}

static void kill_main(void *arg)
{
	struct tm_term self = tm_self(), w, ref, r, m;

	(void)arg;
	w = tm_spawn(trapper_forever, box(self));
	tm_recv_for(WAIT, NULL);	/* ready */
	ref = tm_monitor(w);
	tm_spawn(link_catcher, box(seq2(self, w)));
	m = tm_recv_for(WAIT, NULL);	/* linked */
	put(r_c, &m);
	tm_kill(w);
	m = tm_recv_if(is_record_p, "DOWN", WAIT, NULL);
	r = down_reason(m, ref, w);
	put(r_a, &r);
	r = report_of();
	put(r_b, &r);
}

TEST(kill_untrappable)
{
	RUN(kill_main);
	EXPECT_STREQ("linked", r_c);
	EXPECT_STREQ("killed", r_a) TH_LOG("DOWN reason of a killed process");
	EXPECT_STREQ("killed", r_b) TH_LOG("what a linked process caught");
}

/* ---- names ---------------------------------------------------------------- */

static char nm[64], nm2[64], nm_long[128];

static void names_main(void *arg)
{
	struct tm_term self = tm_self(), w, r, ref, m;

	(void)arg;
	w = spawn_waiting("normal");
	n_a = tm_register(nm, self);
	r = tm_whereis(nm);
	f_a = tm_equal(&r, &self);
	n_b = tm_register(nm, w);			/* -EEXIST */
	n_c = tm_register(nm2, self);			/* -EBUSY */
	snprintf(r_a, RES_LEN, "%d %d %d", tm_register("", w),
		 tm_register(nm_long, w), tm_unregister(nm));
	r = tm_whereis(nm);
	f_b = !tm_term_valid(&r);
	/* Free again: w takes it; its death frees it. */
	snprintf(r_b, RES_LEN, "%d", tm_register(nm, w));
	r = tm_whereis(nm);
	f_c = tm_equal(&r, &w);
	ref = tm_monitor(w);
	tm_send(w, sym("go"));
	m = tm_recv_for(WAIT, NULL);
	r = down_reason(m, ref, w);
	put(r_c, &r);
	r = tm_whereis(nm);
	f_d = !tm_term_valid(&r);
	snprintf(r_d, RES_LEN, "%d", tm_unregister(nm));
	r = tm_whereis(nm2);
	if (!tm_term_valid(&r))
		r = sym("none");
	put(r_e, &r);
}

TEST(names)
{
	snprintf(nm, sizeof(nm), "rt-name-%d", getpid());
	snprintf(nm2, sizeof(nm2), "rt-name2-%d", getpid());
	memset(nm_long, 'n', sizeof(nm_long) - 1);
	RUN(names_main);
	EXPECT_EQ(0, n_a);
	EXPECT_TRUE(f_a) TH_LOG("whereis is not the registered pid");
	EXPECT_EQ(-EEXIST, n_b);
	EXPECT_EQ(-EBUSY, n_c);
	EXPECT_STREQ("-22 -22 0", r_a) TH_LOG("register \"\", register 127 chars, unregister");
	EXPECT_TRUE(f_b) TH_LOG("whereis after unregister");
	EXPECT_STREQ("0", r_b);
	EXPECT_TRUE(f_c);
	EXPECT_STREQ("normal", r_c);
	EXPECT_TRUE(f_d) TH_LOG("a dead process's name is still registered");
	EXPECT_GT(0, atoi(r_d)) TH_LOG("unregister of a free name: %s", r_d);
	EXPECT_STREQ("none", r_e);
}

/* ---- uncaught exceptions ---------------------------------------------------- */

static void crash_deep(void *arg)
{
	(void)arg;
	tm_raise(tm_t("<crash \"deep\" 3>"));
}

/* Waits for go, links to a crashing process, and dies of it. */
static void middle(void *arg)
{
	(void)arg;
	tm_recv();
	tm_spawn_link(crash_deep, NULL);
	tm_recv();
	tm_raise(sym("middle-survived"));
}

static struct tm_term note_handler(struct tm_term exc, void *ctx)
{
	(void)ctx;
	put(r_d, &exc);
	return sym("resumed");
}

static struct tm_term late_msg_body(void *ctx)
{
	(void)ctx;
	return tm_recv_for(WAIT, NULL);
}

static void late_hello(void *arg)
{
	struct tm_term to = unbox(arg);

	tm_sleep(TM_MS(100));
	tm_send(to, sym("hello"));
}

static void uncaught_main(void *arg)
{
	struct tm_term b, ref, r, m, ok = sym("ok");

	(void)arg;
	b = tm_spawn_link(middle, NULL);
	ref = tm_monitor(b);
	tm_send(b, sym("go"));
	r = recv_catching(WAIT);
	put(r_a, &r);
	m = tm_recv_if(is_record_p, "DOWN", WAIT, NULL);
	r = down_reason(m, ref, b);
	put(r_b, &r);

	/* A normal exit does not kill a linked process that does not trap. */
	r = tm_spawn_link(wait_go_then, box(sym("normal")));
	tm_send(r, sym("go"));
	m = tm_recv_for(ABSENT, &ok);
	put(r_c, &m);

	/*
	 * Under a handler, an exit signal raised at a receive resumes it:
	 * the receive goes on and returns the next message.
	 */
	tm_spawn(late_hello, box(tm_self()));
	b = tm_spawn_link(wait_go_then, box(tm_t("<raise <handled 5>>")));
	tm_send(b, sym("go"));
	r = tm_handle(note_handler, late_msg_body, NULL);
	put(r_e, &r);
}

TEST(uncaught_exception)
{
	RUN(uncaught_main);
	EXPECT_STREQ("<crash \"deep\" 3>", r_a)
		TH_LOG("raised through a chain of two links");
	EXPECT_STREQ("<crash \"deep\" 3>", r_b)
		TH_LOG("the middle process's exit reason");
	EXPECT_STREQ("ok", r_c);
	EXPECT_STREQ("<handled 5>", r_d) TH_LOG("the handler's exception");
	EXPECT_STREQ("hello", r_e) TH_LOG("the receive under the handler");
}

/* ---- link directions ---------------------------------------------------------- */

/* Reports to @arg the next message or exception it gets. */
static void catch_reporter(void *arg)
{
	struct tm_term to = unbox(arg), r;

	r = recv_catching(WAIT);
	tm_send(to, tm_rec(tm_heap(), sym("report"), 1, r));
}

/* link_to [c], then waits for go and raises <from-d>. */
static void linker_to(void *arg)
{
	struct tm_term c = unbox(arg);

	tm_link_to(c);
	tm_recv();
	tm_raise(tm_t("<from-d>"));
}

static void links_main(void *arg)
{
	struct tm_term self = tm_self(), w, c, d, r, m, ok = sym("ok");

	(void)arg;
	/* link_from: we hear of its death. */
	w = spawn_waiting("<raise <from-w>>");
	tm_link_from(w);
	tm_send(w, sym("go"));
	r = recv_catching(WAIT);
	put(r_a, &r);

	/* link_to: it hears of ours. */
	c = tm_spawn(catch_reporter, box(self));
	d = tm_spawn(linker_to, box(c));
	tm_send(d, sym("go"));
	r = report_of();
	put(r_b, &r);

	/* link_to the other way round: we do not hear of its death. */
	w = spawn_waiting("<raise <from-w2>>");
	tm_link_to(w);
	tm_send(w, sym("go"));
	m = tm_recv_for(ABSENT, &ok);
	put(r_c, &m);

	/* unlink */
	w = tm_spawn_link(wait_go_then, box(tm_t("<raise <from-w3>>")));
	tm_unlink(w);
	tm_send(w, sym("go"));
	m = tm_recv_for(ABSENT, &ok);
	put(r_d, &m);
}

TEST(link_directions)
{
	RUN(links_main);
	EXPECT_STREQ("<from-w>", r_a) TH_LOG("link_from");
	EXPECT_STREQ("<from-d>", r_b) TH_LOG("link_to");
	EXPECT_STREQ("ok", r_c) TH_LOG("link_to is one-way");
	EXPECT_STREQ("ok", r_d) TH_LOG("unlink");
}

/* ---- API errors ------------------------------------------------------------- */

static struct tm_term send_to_int_body(void *ctx)
{
	(void)ctx;
	tm_send(tm_int(1), tm_int(2));
	return sym("returned");
}

static struct tm_term parse_bad_body(void *ctx)
{
	(void)ctx;
	return tm_t("[1 2");
}

static struct tm_term link_int_body(void *ctx)
{
	(void)ctx;
	tm_link(tm_string("not a pid"));
	return sym("returned");
}

static bool is_api_error(const struct tm_term *e)
{
	int64_t code;

	return tm_record_is(e, "error", 2) &&
	       tm_is(tm_record_field(e, 0), TM_STRING) &&
	       tm_get_int(tm_record_field(e, 1), &code) == 0 && code > 0;
}

static void api_errors_main(void *arg)
{
	struct tm_term r;

	(void)arg;
	r = tm_catch(identity_handler, send_to_int_body, NULL);
	put(r_a, &r);
	f_a = is_api_error(&r);
	r = tm_catch(identity_handler, parse_bad_body, NULL);
	put(r_b, &r);
	f_b = tm_record_is(&r, "error", tm_is(&r, TM_RECORD) ?
			   tm_record_arity(&r) : 0);
	r = tm_catch(identity_handler, link_int_body, NULL);
	put(r_c, &r);
	f_c = is_api_error(&r);
}

TEST(api_errors)
{
	RUN(api_errors_main);
	EXPECT_TRUE(f_a) TH_LOG("tm_send to 1 raised %s", r_a);
	EXPECT_TRUE(f_b) TH_LOG("tm_t(\"[1 2\") raised %s", r_b);
	EXPECT_TRUE(f_c) TH_LOG("tm_link(\"not a pid\") raised %s", r_c);
}

/* ---- the heap ------------------------------------------------------------------ */

static void heap_main(void *arg)
{
	struct tm_term acc = tm_int(0), t, want, self, m, keep[2];
	size_t peak = 0;
	int i;

	(void)arg;
	for (i = 0; i < 2000; i++) {
		t = tm_t("<junk [1 2 3 4 5 6 7 8 9 10] \"some text to take room\">");
		acc = tm_seq(tm_heap(), 2, tm_int(i), t);
		if (tm_heap()->used > peak)
			peak = tm_heap()->used;
		tm_collect(&acc, 1);
	}
	want = tm_seq(tm_heap(), 2, tm_int(1999),
		      tm_t("<junk [1 2 3 4 5 6 7 8 9 10] \"some text to take room\">"));
	f_a = tm_equal(&acc, &want);
	/* want is compared again below: it must survive too. */
	keep[0] = acc;
	keep[1] = want;
	tm_collect(keep, 2);
	n_a = (int64_t)tm_heap()->used;

	/* Received messages too. */
	for (i = 0; i < 500; i++) {
		/* tm_self()'s term lives in the heap too: fetch it again. */
		self = tm_self();
		tm_send(self, tm_seq(tm_heap(), 3, tm_int(i), self,
				     tm_string("a message of some length, a message of some length")));
		m = tm_recv();
		f_b = tm_is(&m, TM_SEQUENCE) && int_is(tm_item(&m, 0), i);
		if (!f_b)
			break;
		tm_collect(keep, 2);
	}
	f_c = tm_equal(&keep[0], &keep[1]);
	n_b = (int64_t)tm_heap()->used;
	n_c = (int64_t)peak;
}

/* ---- the port's actor limit ------------------------------------------- */

#define LIMIT	64

static int param_rw(const char *name, unsigned long long *old,
		    unsigned long long val)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/module/termite/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	ok = fscanf(f, "%llu", old) == 1;
	fclose(f);
	if (!ok)
		return -EIO;
	f = fopen(path, "w");
	if (!f)
		return -errno;
	ok = fprintf(f, "%llu\n", val) > 0;
	return fclose(f) || !ok ? -EIO : 0;
}

static void blocked(void *arg)
{
	(void)arg;
	tm_recv();
}

static struct tm_term spawn_body(void *ctx)
{
	return tm_spawn(blocked, ctx);
}

static uint64_t limit_ids[2 * LIMIT + 1];

static void limit_main(void *arg)
{
	struct tm_term e;
	int64_t n, i;

	(void)arg;
	for (n = 0; n < 2 * LIMIT; n++) {
		e = tm_catch(identity_handler, spawn_body, NULL);
		if (!tm_is_pid(&e))
			break;
		limit_ids[n] = tm_pid_id(&e);
	}
	n_a = n;
	put(r_a, &e);
	if (n) {
		tm_kill(tm_pid_of(limit_ids[0]));
		tm_sleep(TM_MS(50));
		e = tm_catch(identity_handler, spawn_body, NULL);
		f_a = tm_is_pid(&e);
		put(r_b, &e);
		if (f_a)
			limit_ids[0] = tm_pid_id(&e);
		e = tm_catch(identity_handler, spawn_body, NULL);
		put(r_c, &e);
	}
	for (i = 0; i < n; i++)
		tm_kill(tm_pid_of(limit_ids[i]));
}

TEST(spawn_limit)
{
	unsigned long long old = 0;
	char want[64];
	int err;

	err = param_rw("max_actors", &old, LIMIT);
	if (err)
		SKIP(return, "cannot set max_actors: %s", strerror(-err));
	err = run_scenario(limit_main);
	param_rw("max_actors", &(unsigned long long){ 0 }, old);
	ASSERT_EQ(0, err);
	ASSERT_STREQ("", g_uncaught);
	snprintf(want, sizeof(want), "<error \"spawn\" %d>", ENOSPC);
	EXPECT_EQ(LIMIT - 1, n_a) TH_LOG("the first process takes one");
	EXPECT_STREQ(want, r_a);
	EXPECT_TRUE(f_a) TH_LOG("after a process ended: %s", r_b);
	EXPECT_STREQ(want, r_c);
}

static void never_runs(void *arg)
{
	(void)arg;
	f_b = true;
}

static struct tm_term spawn_link_body(void *ctx)
{
	return tm_spawn_link(never_runs, ctx);
}

static void link_fail_main(void *arg)
{
	struct tm_term e;
	int i;

	(void)arg;
	for (i = 0; i < 16; i++) {
		e = tm_spawn_link(blocked, NULL);
		limit_ids[i] = tm_pid_id(&e);
	}
	e = tm_catch(identity_handler, spawn_link_body, NULL);
	put(r_a, &e);
	tm_sleep(TM_MS(50));
	for (i = 0; i < 16; i++) {
		tm_unlink(tm_pid_of(limit_ids[i]));
		tm_kill(tm_pid_of(limit_ids[i]));
	}
}

TEST(spawn_link_fails)
{
	unsigned long long old = 0;
	char want[64];
	int err;

	err = param_rw("max_links", &old, 16);
	if (err)
		SKIP(return, "cannot set max_links: %s", strerror(-err));
	f_b = false;
	err = run_scenario(link_fail_main);
	param_rw("max_links", &(unsigned long long){ 0 }, old);
	ASSERT_EQ(0, err);
	ASSERT_STREQ("", g_uncaught);
	snprintf(want, sizeof(want), "<error \"link\" %d>", EMLINK);
	EXPECT_STREQ(want, r_a);
	EXPECT_FALSE(f_b) TH_LOG("the child ran");
}

TEST(heap_collect)
{
	RUN(heap_main);
	EXPECT_TRUE(f_a) TH_LOG("the kept term changed across tm_collect()");
	EXPECT_TRUE(f_b) TH_LOG("a received message went wrong");
	EXPECT_TRUE(f_c) TH_LOG("the kept term changed across tm_collect()");
	EXPECT_GT(64 << 10, n_a) TH_LOG("heap after collecting: %lld bytes",
					(long long)n_a);
	EXPECT_GT(64 << 10, n_b) TH_LOG("heap after collecting: %lld bytes",
					(long long)n_b);
}

TEST_HARNESS_MAIN
