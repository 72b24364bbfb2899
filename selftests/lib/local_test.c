// SPDX-License-Identifier: GPL-2.0
/*
 * libtermite selftest: messages between processes of one scheduler, which
 * skip the kernel (proc.c, "Local messages"), and how they mix with what
 * the kernel delivers.
 *
 *   local_skips_kernel     local messages never reach a kernel mailbox (the
 *                          port's queued bytes stay 0) and arrive in order;
 *                          messages to a process of another OS process do
 *                          queue on its port (the check can fail)
 *   order_across_mailboxes one sender's messages, its trapped exit signal
 *                          (an EXIT message from the kernel) and its
 *                          messages after that arrive in the order sent,
 *                          to a plain receive and to selective ones
 *   selective_sees_once    a predicate sees each message (local and from
 *                          the kernel) once per receive; what it skips
 *                          keeps its order
 *   result_before_down     a worker's last message comes before its DOWN
 *                          and its trapped EXIT, every time
 *   remote_not_starved     a process in a busy local ping-pong (its
 *                          scheduler never idles) still gets a message and
 *                          then an exit signal from another OS process
 *   local_limits           a local message over max_msg_size raises
 *                          EMSGSIZE like the kernel; one just under
 *                          arrives intact; an invalid term raises
 *   kill_with_backlog      a process killed with local messages queued
 *                          dies (DOWN killed); sending to it after is fine
 *   fifo_mixed             two schedulers: 8 senders (half of them on the
 *                          receiver's scheduler) each send 1500 numbered
 *                          messages and, every 25th, a trapped exit signal
 *                          (an EXIT message through the kernel) to one
 *                          receiver that takes them with plain and with
 *                          selective receives: every sender's messages and
 *                          EXITs arrive in the order sent, none lost
 *
 * Run in the test VM with the module loaded (make check runs it with
 * io_uring and again with TERMITE_URING=0, from lib_ioctl.sh):
 *   scripts/vm-run.sh -- build/selftests/local_test
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "termite.h"
#include "kselftest_harness.h"

#include "lib_common.h"

static char r_a[RES_LEN], r_b[RES_LEN], r_c[RES_LEN];
static int64_t n_a, n_b, n_c, n_d;

static uint64_t my_id(void)
{
	struct tm_term self = tm_self();

	return tm_pid_id(&self);
}

/* Bytes queued in the kernel to the actors of every port of OS process @pid. */
static long long queued_bytes(pid_t pid)
{
	unsigned long long sum = 0, v;
	char path[300], line[256];
	struct dirent *d;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)pid,
			 d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "termite-queued-bytes: %llu", &v) == 1)
				sum += v;
		fclose(f);
	}
	closedir(dir);
	return (long long)sum;
}

/* Append the text of @t (its label, for a record) to @dst. */
static void note(char *dst, const struct tm_term *t)
{
	size_t n = strlen(dst);
	const char *s;

	if (tm_is(t, TM_RECORD))
		s = tm_str(tm_record_label(t));
	else
		s = tm_str(t);
	snprintf(dst + n, RES_LEN - n, "%s%s", n ? " " : "", s);
}

static bool is_int(const struct tm_term *t, void *ctx)
{
	(void)ctx;
	return tm_is(t, TM_INT);
}

/* ---- a child OS process ----------------------------------------------- */

static char n_sink[64];
static pid_t g_child;

/* The child: find the sink, send it <remote>, then an exit signal. */
static void remote_main(void *arg)
{
	struct tm_term sink = tm_invalid(TM_EINVAL);
	int i;

	(void)arg;
	for (i = 0; i < 2000; i++) {
		sink = tm_whereis(n_sink);
		if (tm_term_valid(&sink))
			break;
		tm_sleep(TM_MS(5));
	}
	if (!tm_term_valid(&sink))
		tm_exit(tm_symbol("no-sink"));
	tm_send(sink, tm_rec(tm_heap(), tm_symbol("remote"), 0));
	tm_sleep(TM_MS(300));
	tm_exit_signal(sink, tm_symbol("boom"));
}

static void fork_remote(void)
{
	snprintf(n_sink, sizeof(n_sink), "lt-sink-%d", getpid());
	g_child = fork();
	if (g_child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(run_scenario(remote_main) || g_uncaught[0] ? 3 : 0);
	}
}

static int reap_remote(void)
{
	int st = -1;

	if (g_child > 0) {
		kill(g_child, SIGKILL);
		waitpid(g_child, &st, 0);
	}
	return st;
}

/* ---- local_skips_kernel ------------------------------------------------ */

#define N_LOCAL	200

static void sink_proc(void *arg)
{
	struct tm_term from, m;
	int64_t i, v, bad = 0;

	(void)arg;
	from = tm_recv();		/* <go pid>: the pid to report to */
	from = *tm_record_field(&from, 0);
	tm_sleep(TM_MS(100));		/* let the messages pile up */
	for (i = 0; i < N_LOCAL; i++) {
		m = tm_recv_for(WAIT, NULL);
		if (tm_get_int(&m, &v) || v != i)
			bad++;
	}
	tm_send(from, tm_int(bad));
}

static void skips_main(void *arg)
{
	struct tm_term sink = tm_spawn(sink_proc, NULL), remote, m;
	int64_t i, v;

	(void)arg;
	tm_send(sink, rec1("go", tm_self()));
	for (i = 0; i < N_LOCAL; i++)
		tm_send(sink, tm_int(i));
	tm_sleep(TM_MS(20));		/* whatever was batched is sent now */
	n_a = queued_bytes(getpid());
	m = tm_recv_for(WAIT, NULL);
	n_b = tm_get_int(&m, &v) ? -1 : v;
	/* The control: a process of another OS process. */
	remote = tm_invalid(TM_EINVAL);
	for (i = 0; i < 2000 && !tm_term_valid(&remote); i++) {
		remote = tm_whereis(n_sink);
		if (!tm_term_valid(&remote))
			tm_sleep(TM_MS(5));
	}
	if (!tm_term_valid(&remote))
		return;
	for (i = 0; i < 10; i++)
		tm_send(remote, tm_int(i));
	tm_sleep(TM_MS(20));
	n_c = queued_bytes(g_child);
}

/* The child's sink: registered, it sleeps and never receives. */
static void idle_sink(void *arg)
{
	(void)arg;
	tm_register(n_sink, tm_self());
	tm_sleep(TM_SEC(30));
}

TEST(local_skips_kernel)
{
	int st;

	snprintf(n_sink, sizeof(n_sink), "lt-idle-%d", getpid());
	g_child = fork();
	ASSERT_LE(0, g_child);
	if (g_child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(run_scenario(idle_sink) ? 3 : 0);
	}
	n_a = n_b = n_c = -2;
	st = run_scenario(skips_main);
	reap_remote();
	if (st == -ENOENT)
		SKIP(return, "no /dev/termite (module not loaded)");
	ASSERT_EQ(0, st);
	ASSERT_STREQ("", g_uncaught);
	EXPECT_EQ(0, n_a) TH_LOG("bytes queued in the kernel by local sends");
	EXPECT_EQ(0, n_b) TH_LOG("local messages out of order or lost");
	EXPECT_LT(0, n_c) TH_LOG("sends to another OS process queued nothing");
}

/* ---- order_across_mailboxes -------------------------------------------- */

/* The actor id of the scenario's first process (heaps come and go). */
static uint64_t g_sender;

/* Trap exits, wait to be told how to receive, sleep, then take 11. */
static void order_proc(void *arg)
{
	struct tm_term how, m;
	int i;

	(void)arg;
	tm_trap_exit(true);
	how = tm_recv();
	tm_sleep(TM_MS(100));
	if (tm_symbol_is(&how, "plain")) {
		for (i = 0; i < 11; i++) {
			m = tm_recv_for(WAIT, NULL);
			note(r_a, &m);
		}
	} else if (tm_symbol_is(&how, "ints-first")) {
		for (i = 0; i < 10; i++) {
			m = tm_recv_if(is_int, NULL, WAIT, NULL);
			note(r_b, &m);
		}
		m = tm_recv_for(WAIT, NULL);
		note(r_b, &m);
	} else {
		struct tm_pattern *pat = compile("<EXIT _ _>");
		struct tm_clause cl = { .pat = pat };

		if (tm_recv_match(&cl, 1, NULL, 0, NULL, WAIT, &m) == 0)
			note(r_c, &m);
		tm_pattern_free(pat);
		for (i = 0; i < 10; i++) {
			m = tm_recv_for(WAIT, NULL);
			note(r_c, &m);
		}
	}
	tm_send(tm_pid_of(g_sender), tm_symbol("done"));
}

static void order_one(const char *how)
{
	struct tm_term r = tm_spawn(order_proc, NULL);
	int64_t i;

	tm_send(r, tm_symbol(how));
	tm_sleep(TM_MS(20));		/* it traps exits and sleeps */
	for (i = 1; i <= 5; i++)
		tm_send(r, tm_int(i));
	tm_exit_signal(r, tm_symbol("note"));	/* trapped: a message */
	for (i = 6; i <= 10; i++)
		tm_send(r, tm_int(i));
	tm_recv_for(WAIT, NULL);
}

static void order_main(void *arg)
{
	(void)arg;
	g_sender = my_id();
	order_one("plain");
	order_one("ints-first");
	order_one("exit-first");
}

TEST(order_across_mailboxes)
{
	r_a[0] = r_b[0] = r_c[0] = '\0';
	RUN(order_main);
	EXPECT_STREQ("1 2 3 4 5 EXIT 6 7 8 9 10", r_a);
	EXPECT_STREQ("1 2 3 4 5 6 7 8 9 10 EXIT", r_b);
	EXPECT_STREQ("EXIT 1 2 3 4 5 6 7 8 9 10", r_c);
}

/* ---- selective_sees_once ----------------------------------------------- */

static int g_calls[16];

static bool want_d(const struct tm_term *t, void *ctx)
{
	int64_t v;

	(void)ctx;
	if (tm_is(t, TM_RECORD))
		v = 15;
	else if (tm_get_int(t, &v) || v < 0 || v > 14)
		return false;
	g_calls[v]++;
	return v == 4;
}

static void once_proc(void *arg)
{
	struct tm_term m;
	int i;

	(void)arg;
	tm_trap_exit(true);
	tm_recv();			/* go */
	tm_sleep(TM_MS(100));
	/* 1, 2, 3 local; EXIT and 4 from the kernel; 5 and 6 local later. */
	m = tm_recv_if(want_d, NULL, WAIT, NULL);
	note(r_a, &m);
	for (i = 0; i < 6; i++) {
		m = tm_recv_for(WAIT, NULL);
		note(r_b, &m);
	}
	tm_send(tm_pid_of(g_sender), tm_symbol("done"));
}

static void once_main(void *arg)
{
	struct tm_term r = tm_spawn(once_proc, NULL);

	(void)arg;
	g_sender = my_id();
	tm_send(r, tm_symbol("go"));
	tm_sleep(TM_MS(20));
	tm_send(r, tm_int(1));
	tm_send(r, tm_int(2));
	tm_send(r, tm_int(3));
	tm_exit_signal(r, tm_symbol("note"));
	tm_send(r, tm_int(4));
	tm_sleep(TM_MS(200));		/* it took 4 and now waits for more */
	tm_send(r, tm_int(5));
	tm_send(r, tm_int(6));
	tm_recv_for(WAIT, NULL);
}

TEST(selective_sees_once)
{
	int i;

	r_a[0] = r_b[0] = '\0';
	memset(g_calls, 0, sizeof(g_calls));
	RUN(once_main);
	EXPECT_STREQ("4", r_a);
	EXPECT_STREQ("1 2 3 EXIT 5 6", r_b);
	for (i = 1; i <= 4; i++)
		EXPECT_EQ(1, g_calls[i]) TH_LOG("message %d seen %d times", i,
						g_calls[i]);
	EXPECT_EQ(1, g_calls[15]) TH_LOG("EXIT seen %d times", g_calls[15]);
	EXPECT_EQ(0, g_calls[5] + g_calls[6]);
}

/* ---- result_before_down ------------------------------------------------ */

#define N_WORKERS	200

static void result_worker(void *arg)
{
	tm_send(tm_pid_of(g_sender), tm_seq(tm_heap(), 2, tm_symbol("result"),
				 tm_int((intptr_t)arg)));
}

static void result_main(void *arg)
{
	struct tm_pattern *p_res = compile("[result _]");
	struct tm_pattern *p_down = compile("<DOWN _ _ _>");
	struct tm_pattern *p_exit = compile("<EXIT _ _>");
	struct tm_clause cl[3] = { { .pat = p_res }, { .pat = p_down },
				   { .pat = p_exit } };
	struct tm_term w, m;
	intptr_t i;
	int which, k;

	(void)arg;
	g_sender = my_id();
	tm_trap_exit(true);
	for (i = 0; i < N_WORKERS; i++) {
		if (i % 2) {
			w = tm_spawn_link(result_worker, (void *)i);
		} else {
			w = tm_spawn(result_worker, (void *)i);
			tm_monitor(w);
		}
		for (k = 0; k < 2; k++) {
			which = tm_recv_match(cl, 3, NULL, 0, NULL, WAIT, &m);
			if (which != (k ? (i % 2 ? 2 : 1) : 0)) {
				if (!n_a++)
					put(r_a, &m);
			}
		}
		tm_collect(NULL, 0);
	}
	tm_pattern_free(p_res);
	tm_pattern_free(p_down);
	tm_pattern_free(p_exit);
}

TEST(result_before_down)
{
	n_a = 0;
	RUN(result_main);
	EXPECT_EQ(0, n_a) TH_LOG("out of order, first: %s", r_a);
}

/* ---- remote_not_starved ------------------------------------------------ */

static void pong_proc(void *arg)
{
	struct tm_term m;

	(void)arg;
	for (;;) {
		m = tm_recv();
		if (!tm_is_pid(&m))
			return;
		tm_send(m, tm_int(0));
	}
}

static struct tm_term busy_body(void *ctx)
{
	struct tm_term pong = *(struct tm_term *)ctx, self = tm_self(), m;
	int64_t end = now_ns() + TM_SEC(20);

	while (now_ns() < end) {
		tm_send(pong, self);
		m = tm_recv();
		if (tm_record_is(&m, "remote", 0)) {
			n_b = n_a;
			continue;
		}
		n_a++;
	}
	return tm_symbol("never-signalled");
}

static void busy_main(void *arg)
{
	struct tm_term pong = serve(tm_spawn(pong_proc, NULL)), e;

	(void)arg;
	tm_register(n_sink, tm_self());
	e = tm_catch(identity_handler, busy_body, &pong);
	put(r_a, &e);
	tm_send(pong, tm_symbol("stop"));
}

TEST(remote_not_starved)
{
	int st;

	n_a = 0;
	n_b = -1;
	fork_remote();
	ASSERT_LE(0, g_child);
	st = run_scenario(busy_main);
	reap_remote();
	if (st == -ENOENT)
		SKIP(return, "no /dev/termite (module not loaded)");
	ASSERT_EQ(0, st);
	ASSERT_STREQ("", g_uncaught);
	TH_LOG("%lld round trips, the remote message after %lld",
	       (long long)n_a, (long long)n_b);
	EXPECT_LE(0, n_b) TH_LOG("the message from the other OS process never came");
	EXPECT_STREQ("boom", r_a);
}

/* ---- local_limits ------------------------------------------------------ */

static uint64_t max_msg(void)
{
	unsigned long long v = 0;
	FILE *f = fopen("/sys/module/termite/parameters/max_msg_size", "re");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

struct big_ctx {
	size_t len;
};

static struct tm_term send_big_body(void *ctx)
{
	struct big_ctx *b = ctx;
	uint8_t *buf = calloc(1, b->len);
	struct tm_term t;

	if (!buf)
		return tm_symbol("no-memory");
	buf[0] = 7;
	buf[b->len - 1] = 9;
	tm_send(tm_self(), tm_bytes(buf, b->len));
	free(buf);
	t = tm_recv_for(WAIT, NULL);
	if (!tm_is(&t, TM_BYTES) || t.len != b->len ||
	    t.u.ptr[0] != 7 || t.u.ptr[b->len - 1] != 9)
		return tm_symbol("corrupt");
	return tm_symbol("ok");
}

static struct tm_term send_invalid_body(void *ctx)
{
	(void)ctx;
	tm_send(tm_self(), tm_seq(tm_heap(), 1, tm_invalid(TM_EINVAL)));
	return tm_symbol("sent");
}

static void limits_main(void *arg)
{
	uint64_t mx = max_msg();
	/* A byte string's encoding: tag, varint length (4 bytes here), data. */
	struct big_ctx over = { mx }, under = { mx - 16 };
	struct tm_term e;

	(void)arg;
	e = tm_catch(identity_handler, send_big_body, &over);
	put(r_a, &e);
	e = tm_catch(identity_handler, send_big_body, &under);
	put(r_b, &e);
	e = tm_catch(identity_handler, send_invalid_body, NULL);
	put(r_c, &e);
}

TEST(local_limits)
{
	uint64_t mx = max_msg();
	char want[64];

	if (!mx)
		SKIP(return, "no /sys/module/termite/parameters/max_msg_size");
	RUN(limits_main);
	snprintf(want, sizeof(want), "<error \"send\" %d>", EMSGSIZE);
	EXPECT_STREQ(want, r_a);
	EXPECT_STREQ("ok", r_b);
	EXPECT_EQ(0, strncmp(r_c, "<error \"encode\" ", 16)) TH_LOG("%s", r_c);
}

/* ---- kill_with_backlog -------------------------------------------------- */

static bool never(const struct tm_term *t, void *ctx)
{
	(void)t;
	(void)ctx;
	return false;
}

/* Waits in a receive that takes nothing, its mailbox filling up. */
static void sleeper(void *arg)
{
	(void)arg;
	tm_recv_if(never, NULL, TM_SEC(30), NULL);
}

static void backlog_main(void *arg)
{
	struct tm_term s = tm_spawn(sleeper, NULL), ref, m, none;
	int i;

	(void)arg;
	ref = tm_monitor(s);
	for (i = 0; i < 1000; i++)
		tm_send(s, tm_int(i));
	tm_kill(s);
	m = tm_recv_for(WAIT, NULL);
	put(r_a, &m);
	for (i = 0; i < 10; i++)
		tm_send(s, tm_int(i));	/* to the dead: nothing happens */
	n_d = tm_record_is(&m, "DOWN", 3) &&
	      tm_equal(tm_record_field(&m, 0), &ref);
	none = tm_symbol("none");
	m = tm_recv_for(TM_MS(100), &none);
	put(r_b, &m);
}

TEST(kill_with_backlog)
{
	n_d = 0;
	RUN(backlog_main);
	EXPECT_EQ(0, strncmp(r_a, "<DOWN ", 6)) TH_LOG("%s", r_a);
	EXPECT_NE(NULL, strstr(r_a, " killed>")) TH_LOG("%s", r_a);
	EXPECT_TRUE(n_d);
	EXPECT_STREQ("none", r_b);
}

/* ---- fifo_mixed -------------------------------------------------------- */

#define F_SENDERS	8
#define F_N		1500
#define F_NOTE		25	/* every F_NOTE-th message, an exit signal too */

static uint64_t f_recv;		/* the receiver's actor id */
static atomic_int f_local;	/* senders on the receiver's scheduler */
static pid_t f_rtid;

static void f_sender(void *arg)
{
	intptr_t k = (intptr_t)arg;
	struct tm_term to = tm_pid_of(f_recv);
	int64_t i;

	if (syscall(SYS_gettid) == f_rtid)
		atomic_fetch_add(&f_local, 1);
	for (i = 0; i < F_N; i++) {
		tm_send(to, tm_seq(tm_heap(), 2, tm_int(k), tm_int(i)));
		if (i % F_NOTE == F_NOTE - 1)
			tm_exit_signal(to, tm_rec(tm_heap(), tm_symbol("note"), 2,
						  tm_int(k), tm_int(i)));
		if (i % 16 == 0)
			tm_yield();
		if (i % 64 == 0)
			tm_collect(&to, 1);
	}
}

struct f_want {
	int64_t k;
};

/* [k i] from sender @ctx's k, or its <EXIT pid <note k i>>. */
static bool f_from(const struct tm_term *m, void *ctx)
{
	int64_t k = ((struct f_want *)ctx)->k, v;
	const struct tm_term *r;

	if (tm_is(m, TM_SEQUENCE) && tm_count(m) == 2)
		return !tm_get_int(tm_item(m, 0), &v) && v == k;
	if (!tm_record_is(m, "EXIT", 2))
		return false;
	r = tm_record_field(m, 1);
	return tm_record_is(r, "note", 2) &&
	       !tm_get_int(tm_record_field(r, 0), &v) && v == k;
}

static void f_receiver(void *arg)
{
	static int64_t next[F_SENDERS];	/* position: 2i data, 2i+1 note */
	int64_t total = F_SENDERS * (F_N + F_N / F_NOTE), got, k, i, pos;
	struct f_want w;
	struct tm_term m, none = tm_symbol("none");
	const struct tm_term *r;

	(void)arg;
	tm_trap_exit(true);
	f_rtid = syscall(SYS_gettid);
	f_recv = my_id();
	for (k = 0; k < F_SENDERS; k++)
		tm_spawn(f_sender, (void *)(intptr_t)k);
	for (got = 0; got < total; got++) {
		m = none;
		if (got % 7 == 3) {
			/* Selective: one sender's next, if it is there. */
			w.k = got % F_SENDERS;
			m = tm_recv_if(f_from, &w, 0, &none);
		}
		if (tm_symbol_is(&m, "none"))
			m = tm_recv_for(WAIT, &none);
		if (tm_is(&m, TM_SEQUENCE) && tm_count(&m) == 2 &&
		    !tm_get_int(tm_item(&m, 0), &k) &&
		    !tm_get_int(tm_item(&m, 1), &i)) {
			pos = 2 * i;
		} else if (tm_record_is(&m, "EXIT", 2) &&
			   (r = tm_record_field(&m, 1)) &&
			   tm_record_is(r, "note", 2) &&
			   !tm_get_int(tm_record_field(r, 0), &k) &&
			   !tm_get_int(tm_record_field(r, 1), &i)) {
			pos = 2 * i + 1;
		} else if (tm_record_is(&m, "EXIT", 2)) {
			got--;		/* a sender's normal end */
			continue;
		} else {
			put(r_a, &m);
			n_a = -1;
			return;
		}
		if (k < 0 || k >= F_SENDERS || pos <= next[k] - 1) {
			if (!n_b++)
				put(r_b, &m);
		}
		/* The next one of k must be data i+1 or its note. */
		next[k] = pos + 1;
		tm_collect(NULL, 0);
	}
	n_a = got;
}

FIXTURE(slow) {};
FIXTURE_SETUP(slow) {}
FIXTURE_TEARDOWN(slow) {}

TEST_F_TIMEOUT(slow, fifo_mixed, 120)
{
	int err;

	n_a = n_b = 0;
	r_a[0] = r_b[0] = '\0';
	err = run_scenario_n(2, f_receiver);
	if (err == -ENOENT)
		SKIP(return, "no /dev/termite (module not loaded)");
	ASSERT_EQ(0, err);
	ASSERT_STREQ("", g_uncaught);
	TH_LOG("%d of %d senders on the receiver's scheduler",
	       atomic_load(&f_local), F_SENDERS);
	EXPECT_EQ(F_SENDERS * (F_N + F_N / F_NOTE), n_a) TH_LOG("%s", r_a);
	EXPECT_EQ(0, n_b) TH_LOG("out of order, first: %s", r_b);
	EXPECT_LT(0, atomic_load(&f_local));
	EXPECT_GT(F_SENDERS, atomic_load(&f_local));
}

TEST_HARNESS_MAIN
