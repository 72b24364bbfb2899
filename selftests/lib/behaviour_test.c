// SPDX-License-Identifier: GPL-2.0
/*
 * termite selftest: the behaviours of libtermite-user (behaviour.h) on the
 * kernel module: the Termite paper's key/value generic server (section
 * 5.2) and robust pong server (section 5.3, its exact trace), generic
 * server calls, deferred replies, stops, crashes and heap collection, and
 * supervisors: one_for_one, one_for_all, restart types, restart intensity,
 * shutdown grace then kill, start failures, a generic server as a child,
 * and starts whose spawn fails (the port full): reported as before, and
 * leaking nothing.
 *
 * Each test runs its scenario as the first process of tm_run() (in the
 * harness's child process).  Termite processes run on a fiber stack, where
 * the harness's ASSERT_*() (a longjmp() to the test) must not be used: the
 * scenario records what it saw in the static struct res and the first
 * failed CHECK() in res.failure, and the test asserts on them once tm_run()
 * has returned (every process of the scenario has ended).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kselftest_harness.h"
#include "termite.h"
#include "behaviour.h"

#define WAIT		TM_SEC(5)	/* for what must happen soon */
#include "lib_common.h"

#define MAX_LINES	64

static struct {
	char failure[1024];
	char lines[MAX_LINES][128];	/* trace, in order */
	int nlines;
	/* generic servers */
	int init_calls, term_calls, info_calls;
	char term_reason[256], term_state[256], info_msg[256];
	/* supervisor workers, by index */
	int starts[8];
	uint64_t pid_ids[8];
	int saw_exit[8];
} res;

static void reset(void)
{
	memset(&res, 0, sizeof(res));
}

/* ---- checks and helpers usable inside processes ---------------------- */

static bool check_(bool ok, int line, const char *what)
{
	if (!ok && !res.failure[0])
		snprintf(res.failure, sizeof(res.failure), "line %d: %s",
			 line, what);
	return ok;
}
#define CHECK(cond)	check_((cond), __LINE__, #cond)

/* @t equals the term written @text. */
static bool check_term_(struct tm_term t, const char *text, int line)
{
	struct tm_term want = tm_t(text);
	char got[512];

	if (tm_equal(&t, &want))
		return true;
	snprintf(got, sizeof(got), "%s", tm_str(&t));
	if (!res.failure[0])
		snprintf(res.failure, sizeof(res.failure),
			 "line %d: got %s, want %s", line, got, text);
	return false;
}
#define CHECK_TERM(t, text)	check_term_((t), (text), __LINE__)

static void add_line(const char *fmt, ...)
{
	va_list ap;

	if (res.nlines >= MAX_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(res.lines[res.nlines++], sizeof(res.lines[0]), fmt, ap);
	va_end(ap);
}

/* The paper's print: a symbol as its name. */
static void print(struct tm_term t)
{
	add_line("%s", tm_str(&t));
}

/* tm_spawn_supervised()'s trace, printed as the paper shows it. */
static void trace_line(const char *line, void *ctx)
{
	(void)ctx;
	add_line("(%s)", line);
}

static bool down_pred(const struct tm_term *msg, void *ctx)
{
	return tm_record_is(msg, "DOWN", 3) &&
	       tm_equal(tm_record_field(msg, 0), ctx);
}

/* The reason in the DOWN of monitor @ref, or the symbol no-down. */
static struct tm_term down_reason(struct tm_term ref, int64_t timeout)
{
	struct tm_term none = sym("no-down"), m;

	m = tm_recv_if(down_pred, &ref, timeout, &none);
	return tm_is(&m, TM_RECORD) ? *tm_record_field(&m, 2) : m;
}

static bool exit_pred(const struct tm_term *msg, void *ctx)
{
	return tm_record_is(msg, "EXIT", 2) &&
	       tm_equal(tm_record_field(msg, 0), ctx);
}

/* The reason in an <EXIT pid reason> (when trapping), or no-exit. */
static struct tm_term exit_reason(struct tm_term pid, int64_t timeout)
{
	struct tm_term none = sym("no-exit"), m;

	m = tm_recv_if(exit_pred, &pid, timeout, &none);
	return tm_is(&m, TM_RECORD) ? *tm_record_field(&m, 1) : m;
}

/* Whether the process @pid is alive (a monitor fires noproc if not). */
static bool alive(struct tm_term pid)
{
	struct tm_term ref = tm_monitor(pid), r;

	r = down_reason(ref, TM_MS(20));
	if (!tm_symbol_is(&r, "no-down"))
		return false;
	tm_demonitor(ref);
	return true;
}

/* Run @fn(@ctx) and return its value, or <caught exc> if it raised. */
static struct tm_term wrap_caught(struct tm_term exc, void *ctx)
{
	(void)ctx;
	return rec1("caught", exc);
}

static struct tm_term try(tm_body_fn fn, void *ctx)
{
	return tm_catch(wrap_caught, fn, ctx);
}

struct call_args {
	struct tm_term pid, req;
	int64_t timeout;
};

static struct tm_term call_body(void *ctx)
{
	struct call_args *c = ctx;

	return tm_gen_server_call(c->pid, c->req, c->timeout);
}

/* tm_gen_server_call(), or <caught exc>. */
static struct tm_term try_call(struct tm_term pid, struct tm_term req,
			       int64_t timeout)
{
	struct call_args c = { pid, req, timeout };

	return try(call_body, &c);
}

/* ---- the paper's key/value server (5.2) ------------------------------ */

/* A copy of dictionary @d with @key set to @val. */
static struct tm_term dict_put(struct tm_term d, struct tm_term key,
			       struct tm_term val)
{
	size_t n = tm_count(&d), i, j = 0;
	struct tm_term *kv = tm_arena_alloc(tm_heap(),
					    (2 * n + 2) * sizeof(*kv));

	for (i = 0; i < n; i++) {
		if (tm_equal(tm_dict_key(&d, i), &key))
			continue;
		kv[j++] = *tm_dict_key(&d, i);
		kv[j++] = *tm_dict_value(&d, i);
	}
	kv[j++] = key;
	kv[j++] = val;
	return tm_dict(tm_heap(), kv, j / 2);
}

static int kv_init(struct tm_term args, struct tm_term *state,
		   struct tm_term *reason)
{
	(void)args;
	(void)reason;
	res.init_calls++;
	add_line("Key-Value server starting");
	*state = tm_dict(tm_heap(), NULL, 0);
	return TM_GEN_CONTINUE;
}

static int kv_call(struct tm_term req, struct tm_term from,
		   struct tm_term *state, struct tm_term *reply,
		   struct tm_term *reason)
{
	(void)from;
	if (tm_record_is(&req, "store", 2)) {
		*state = dict_put(*state, *tm_record_field(&req, 0),
				  *tm_record_field(&req, 1));
		*reply = sym("ok");
		return TM_GEN_CONTINUE;
	}
	if (tm_record_is(&req, "lookup", 1)) {
		const struct tm_term *v;

		v = tm_dict_get(state, tm_record_field(&req, 0));
		*reply = v ? *v : tm_bool(false);
		return TM_GEN_CONTINUE;
	}
	if (tm_record_is(&req, "heap", 0)) {
		*reply = tm_int((int64_t)tm_heap()->used);
		return TM_GEN_CONTINUE;
	}
	if (tm_record_is(&req, "crash", 0)) {
		tm_raise(sym("boom"));		/* does not return here */
		return TM_GEN_STOP;
	}
	*reason = rec1("bad-call", req);
	return TM_GEN_STOP;
}

static int kv_cast(struct tm_term msg, struct tm_term *state,
		   struct tm_term *reason)
{
	(void)state;
	(void)reason;
	if (tm_symbol_is(&msg, "stop"))
		return TM_GEN_STOP;	/* *reason is normal */
	return TM_GEN_CONTINUE;
}

static int kv_info(struct tm_term msg, struct tm_term *state,
		   struct tm_term *reason)
{
	(void)state;
	(void)reason;
	res.info_calls++;
	snprintf(res.info_msg, sizeof(res.info_msg), "%s", tm_str(&msg));
	return TM_GEN_CONTINUE;
}

static void kv_terminate(struct tm_term reason, struct tm_term state)
{
	res.term_calls++;
	snprintf(res.term_reason, sizeof(res.term_reason), "%s",
		 tm_str(&reason));
	snprintf(res.term_state, sizeof(res.term_state), "%s",
		 tm_str(&state));
	add_line("Key-Value server terminating");
}

static const struct tm_gen_server_ops kv_ops = {
	.init = kv_init,
	.call = kv_call,
	.cast = kv_cast,
	.info = kv_info,
	.terminate = kv_terminate,
};

/* kv:store and kv:lookup of the paper. */
static struct tm_term kv_store(struct tm_term kv, const char *key, int v)
{
	return tm_gen_server_call(kv, rec2("store", tm_string(key), tm_int(v)),
				  WAIT);
}

static struct tm_term kv_lookup(struct tm_term kv, const char *key)
{
	return tm_gen_server_call(kv, rec1("lookup", tm_string(key)), WAIT);
}

static void kv_scenario(void *arg)
{
	struct tm_term kv, ref, r;
	int64_t t0;

	(void)arg;
	kv = tm_gen_server_start_link(&kv_ops, tm_bool(false));
	CHECK(tm_is_pid(&kv));
	CHECK(res.init_calls == 1);	/* init ran before start returned */
	CHECK_TERM(kv_store(kv, "a", 1), "ok");
	CHECK_TERM(kv_store(kv, "b", 2), "ok");
	CHECK_TERM(kv_lookup(kv, "a"), "1");
	CHECK_TERM(kv_store(kv, "a", 3), "ok");
	CHECK_TERM(kv_lookup(kv, "a"), "3");
	CHECK_TERM(kv_lookup(kv, "b"), "2");
	CHECK_TERM(kv_lookup(kv, "zz"), "#f");
	CHECK(res.term_calls == 0);

	/* kv:stop is a cast; the server ends normally. */
	ref = tm_monitor(kv);
	tm_gen_server_cast(kv, sym("stop"));
	CHECK_TERM(down_reason(ref, WAIT), "normal");
	CHECK(res.term_calls == 1);

	/* A call to a dead server raises at once, it does not hang. */
	t0 = now_ns();
	r = try_call(kv, rec1("lookup", tm_string("a")), TM_SEC(10));
	CHECK_TERM(r, "<caught <server-down noproc>>");
	CHECK(now_ns() - t0 < TM_SEC(2));
}

TEST(kv_server)
{
	reset();
	ASSERT_EQ(0, tm_run(kv_scenario, NULL));
	ASSERT_STREQ("", res.failure);
	EXPECT_EQ(1, res.init_calls);
	EXPECT_EQ(1, res.term_calls);
	EXPECT_STREQ("normal", res.term_reason);
	/* The state terminate saw: both keys, "a" updated. */
	EXPECT_TRUE(strstr(res.term_state, "\"a\": 3") != NULL)
		TH_LOG("state %s", res.term_state);
	EXPECT_TRUE(strstr(res.term_state, "\"b\": 2") != NULL)
		TH_LOG("state %s", res.term_state);
	ASSERT_EQ(2, res.nlines);
	EXPECT_STREQ("Key-Value server starting", res.lines[0]);
	EXPECT_STREQ("Key-Value server terminating", res.lines[1]);
}

/* The same on two schedulers (threads): every check above is causal. */
TEST(kv_server_two_schedulers)
{
	reset();
	ASSERT_EQ(0, tm_run_n(2, kv_scenario, NULL));
	ASSERT_STREQ("", res.failure);
	EXPECT_EQ(1, res.init_calls);
	EXPECT_EQ(1, res.term_calls);
	EXPECT_STREQ("normal", res.term_reason);
}

/* ---- generic server: errors, crashes, deferred replies, stop ------ */

static int refuse_init(struct tm_term args, struct tm_term *state,
		       struct tm_term *reason)
{
	(void)state;
	res.init_calls++;
	*reason = rec1("refused", args);
	return TM_GEN_STOP;
}

static int raise_init(struct tm_term args, struct tm_term *state,
		      struct tm_term *reason)
{
	(void)state;
	(void)reason;
	res.init_calls++;
	tm_raise(rec1("init-raised", args));
	return TM_GEN_STOP;
}

static const struct tm_gen_server_ops refuse_ops = {
	.init = refuse_init,
	.terminate = kv_terminate,
};

static const struct tm_gen_server_ops raise_ops = {
	.init = raise_init,
	.terminate = kv_terminate,
};

struct start_args {
	const struct tm_gen_server_ops *ops;
	struct tm_term args;
};

static struct tm_term start_body(void *ctx)
{
	struct start_args *s = ctx;

	return tm_gen_server_start(s->ops, s->args);
}

static void init_fail_scenario(void *arg)
{
	struct start_args s;

	(void)arg;
	s.ops = &refuse_ops;
	s.args = tm_int(7);
	CHECK_TERM(try(start_body, &s), "<caught <refused 7>>");
	s.ops = &raise_ops;
	s.args = tm_int(8);
	CHECK_TERM(try(start_body, &s), "<caught <init-raised 8>>");
}

TEST(gen_server_init_fails)
{
	reset();
	ASSERT_EQ(0, tm_run(init_fail_scenario, NULL));
	ASSERT_STREQ("", res.failure);
	EXPECT_EQ(2, res.init_calls);
	EXPECT_EQ(0, res.term_calls);	/* not called when init fails */
}

static void crash_scenario(void *arg)
{
	struct tm_term kv, ref, r;

	(void)arg;
	kv = tm_gen_server_start(&kv_ops, tm_bool(false));
	CHECK_TERM(kv_store(kv, "x", 1), "ok");
	ref = tm_monitor(kv);
	/* The callback raises: the caller hears of the death, not a hang. */
	r = try_call(kv, tm_record(tm_heap(), sym("crash"), NULL, 0),
		     TM_SEC(10));
	CHECK_TERM(r, "<caught <server-down boom>>");
	CHECK_TERM(down_reason(ref, WAIT), "boom");

	/* An unknown request makes kv_call stop with <bad-call ...>. */
	kv = tm_gen_server_start(&kv_ops, tm_bool(false));
	r = try_call(kv, sym("what"), TM_SEC(10));
	CHECK_TERM(r, "<caught <server-down <bad-call what>>>");
}

TEST(gen_server_crash_in_call)
{
	reset();
	ASSERT_EQ(0, tm_run(crash_scenario, NULL));
	ASSERT_STREQ("", res.failure);
	EXPECT_EQ(2, res.term_calls);
	/* terminate saw the second crash last */
	EXPECT_STREQ("<bad-call what>", res.term_reason);
}

/*
 * A barrier server: <wait> calls are not answered until a <release v>
 * call, which answers every waiting caller v (tm_gen_server_reply()).
 * Its state is the sequence of the waiting callers' from terms.
 */
static int bar_init(struct tm_term args, struct tm_term *state,
		    struct tm_term *reason)
{
	(void)args;
	(void)reason;
	*state = tm_sequence(tm_heap(), NULL, 0);
	return TM_GEN_CONTINUE;
}

static int bar_call(struct tm_term req, struct tm_term from,
		    struct tm_term *state, struct tm_term *reply,
		    struct tm_term *reason)
{
	size_t n = tm_count(state), i;

	(void)reason;
	if (tm_record_is(&req, "wait", 0)) {
		struct tm_term *items;

		items = tm_arena_alloc(tm_heap(), (n + 1) * sizeof(*items));

		for (i = 0; i < n; i++)
			items[i] = *tm_item(state, i);
		items[n] = from;
		*state = tm_sequence(tm_heap(), items, n + 1);
		return TM_GEN_NOREPLY;
	}
	if (tm_record_is(&req, "release", 1)) {
		for (i = 0; i < n; i++)
			tm_gen_server_reply(*tm_item(state, i),
					    *tm_record_field(&req, 0));
		*state = tm_sequence(tm_heap(), NULL, 0);
		*reply = tm_int((int64_t)n);
		return TM_GEN_CONTINUE;
	}
	if (tm_record_is(&req, "noreply-default", 0))
		return TM_GEN_CONTINUE;		/* *reply unset: ok */
	return TM_GEN_STOP;
}

static const struct tm_gen_server_ops bar_ops = {
	.init = bar_init,
	.call = bar_call,
	.terminate = kv_terminate,
};

static struct tm_term bar_pid;	/* for the waiters (static, not stack) */
static struct tm_term main_pid;

static void bar_waiter(void *arg)
{
	struct tm_term r;

	r = tm_gen_server_call(bar_pid,
			       tm_record(tm_heap(), sym("wait"), NULL, 0),
			       WAIT);
	tm_send(main_pid, rec2("waited", tm_int((intptr_t)arg), r));
}

static bool waited_pred(const struct tm_term *msg, void *ctx)
{
	(void)ctx;
	return tm_record_is(msg, "waited", 2);
}

static void noreply_scenario(void *arg)
{
	struct tm_term bar, r, got[2];
	int i;

	(void)arg;
	bar = tm_gen_server_start(&bar_ops, tm_bool(false));
	bar_pid = tm_copy(tm_heap(), &bar);	/* in our heap: no collect */
	main_pid = tm_self();
	tm_spawn(bar_waiter, (void *)1);
	tm_spawn(bar_waiter, (void *)2);

	/* A <wait> call without release times out (the symbol timeout). */
	r = try_call(bar, tm_record(tm_heap(), sym("wait"), NULL, 0),
		     TM_MS(200));
	CHECK_TERM(r, "<caught timeout>");

	/* Both waiters (and our timed-out call) are released. */
	r = tm_gen_server_call(bar, rec1("release", sym("go")), WAIT);
	CHECK_TERM(r, "3");
	for (i = 0; i < 2; i++) {
		struct tm_term none = sym("none");

		got[i] = tm_recv_if(waited_pred, NULL, WAIT, &none);
		CHECK(tm_record_is(&got[i], "waited", 2));
		if (tm_record_is(&got[i], "waited", 2))
			CHECK_TERM(*tm_record_field(&got[i], 1), "go");
	}
	/* The late answer to our timed-out call is left as [tag go]. */
	r = tm_recv_for(WAIT, NULL);
	CHECK(tm_is(&r, TM_SEQUENCE) && tm_count(&r) == 2);
	if (tm_is(&r, TM_SEQUENCE) && tm_count(&r) == 2)
		CHECK_TERM(*tm_item(&r, 1), "go");

	r = tm_gen_server_call(bar, tm_record(tm_heap(), sym("noreply-default"),
					      NULL, 0), WAIT);
	CHECK_TERM(r, "ok");

	/* tm_gen_server_stop(): terminate gets the reason; returns it too. */
	r = tm_gen_server_stop(bar, rec1("bye", tm_int(1)));
	CHECK_TERM(r, "<bye 1>");
	/* Stopping a dead server returns noproc. */
	r = tm_gen_server_stop(bar, sym("again"));
	CHECK_TERM(r, "noproc");
}

TEST(gen_server_noreply_timeout_stop)
{
	reset();
	ASSERT_EQ(0, tm_run(noreply_scenario, NULL));
	ASSERT_STREQ("", res.failure);
	EXPECT_EQ(1, res.term_calls);
	EXPECT_STREQ("<bye 1>", res.term_reason);
}

/* The server's heap stays small however many messages it handles. */
static void collect_scenario(void *arg)
{
	struct tm_term kv, r;
	int64_t h10 = -1, h = -1;
	int i;

	(void)arg;
	kv = tm_gen_server_start_link(&kv_ops, tm_bool(false));
	for (i = 1; i <= 1000; i++) {
		r = kv_store(kv, "k", i);
		if (!CHECK_TERM(r, "ok"))
			break;
		if (i == 10 || i == 1000) {
			r = tm_gen_server_call(kv, tm_record(tm_heap(),
					       sym("heap"), NULL, 0), WAIT);
			CHECK(tm_get_int(&r, i == 10 ? &h10 : &h) == 0);
		}
		tm_collect(&kv, 1);	/* the client's heap as well */
	}
	CHECK_TERM(kv_lookup(kv, "k"), "1000");
	CHECK(h10 > 0 && h > 0);
	CHECK(h <= h10 + 256);
	CHECK(h < 16384);
	tm_gen_server_cast(kv, sym("stop"));
}

TEST(gen_server_collect)
{
	reset();
	ASSERT_EQ(0, tm_run(collect_scenario, NULL));
	ASSERT_STREQ("", res.failure);
	EXPECT_EQ(1, res.term_calls);
}

/*
 * A server trapping exits ends with its parent's reason when the parent
 * dies (terminate called); plain messages go to info.
 */
static int trap_init(struct tm_term args, struct tm_term *state,
		     struct tm_term *reason)
{
	(void)reason;
	tm_trap_exit(true);
	*state = args;
	return TM_GEN_CONTINUE;
}

static const struct tm_gen_server_ops trap_ops = {
	.init = trap_init,
	.info = kv_info,
	.terminate = kv_terminate,
};

static void parent_proc(void *arg)
{
	struct tm_term srv;

	(void)arg;
	srv = tm_gen_server_start_link(&trap_ops, sym("st"));
	tm_send(srv, sym("hello"));
	tm_exit(sym("parent-gone"));
}

static void parent_scenario(void *arg)
{
	(void)arg;
	tm_spawn(parent_proc, NULL);
}

TEST(gen_server_parent_exit)
{
	reset();
	ASSERT_EQ(0, tm_run(parent_scenario, NULL));
	ASSERT_STREQ("", res.failure);
	EXPECT_EQ(1, res.info_calls);
	EXPECT_STREQ("hello", res.info_msg);
	EXPECT_EQ(1, res.term_calls);
	EXPECT_STREQ("parent-gone", res.term_reason);
	EXPECT_STREQ("st", res.term_state);
}

/* ---- the paper's robust pong server (5.3) ---------------------------- */

static struct tm_pattern *pat_crash, *pat_ping;

/* (/ 1 0): a division by zero, raised as an exception. */
static struct tm_term divide(int64_t a, int64_t b)
{
	if (!b)
		return tm_raise(rec2("divide-by-zero", tm_int(a), tm_int(b)));
	return tm_int(a / b);
}

static void start_pong_server(void *arg)
{
	const struct tm_clause clauses[] = {
		{ pat_crash, NULL },
		{ pat_ping, NULL },
	};
	struct tm_capture caps[2];

	(void)arg;
	for (;;) {
		int k = tm_recv_match(clauses, 2, caps, 2, NULL, TM_FOREVER,
				      NULL);
		struct tm_term from = *caps[0].term, tag = *caps[1].term;

		if (k == 0)
			tm_send(from, tm_seq(tm_heap(), 2, tag, divide(1, 0)));
		else
			tm_send(from, tm_seq(tm_heap(), 2, tag, sym("pong")));
		tm_collect(NULL, 0);
	}
}

static struct tm_term ping(struct tm_term server)
{
	struct tm_term dflt = sym("timeout");

	return tm_call(server, sym("ping"), TM_SEC(1), &dflt);
}

static struct tm_term crash(struct tm_term server)
{
	struct tm_term dflt = sym("crashed");

	return tm_call(server, sym("crash"), TM_SEC(1), &dflt);
}

static void kill_server(struct tm_term server)
{
	tm_send(server, sym("shutdown"));
}

static const struct tm_supervised_opts pong_opts = {
	.grace = TM_MS(200),
	.trace = trace_line,
};

static void pong_scenario(void *arg)
{
	struct tm_term robust_pong_server, ref;

	(void)arg;
	robust_pong_server = tm_spawn_supervised(start_pong_server, NULL,
						 &pong_opts);
	ref = tm_monitor(robust_pong_server);
	print(ping(robust_pong_server));
	print(crash(robust_pong_server));
	print(ping(robust_pong_server));
	kill_server(robust_pong_server);
	CHECK_TERM(down_reason(ref, WAIT), "normal");
}

static const char *const pong_trace[] = {
	"(info: starting up supervised process)",
	"pong",
	"(info: process failed)",
	"(info: restarting...)",
	"(info: starting up supervised process)",
	"crashed",
	"pong",
	"(info: had to terminate the process)",
	"(info: halting supervisor)",
};

static void expect_lines(struct __test_metadata *_metadata,
			 const char *const *want, int n)
{
	int i;

	for (i = 0; i < res.nlines; i++)
		TH_LOG("trace %d: %s", i, res.lines[i]);
	ASSERT_EQ(n, res.nlines);
	for (i = 0; i < n; i++)
		EXPECT_STREQ(want[i], res.lines[i]);
}

TEST(paper_robust_pong_server)
{
	reset();
	ASSERT_EQ(0, tm_pattern_compile("[$from $tag crash]", 18, &pat_crash));
	ASSERT_EQ(0, tm_pattern_compile("[$from $tag ping]", 17, &pat_ping));
	ASSERT_EQ(0, tm_run(pong_scenario, NULL));
	tm_pattern_free(pat_crash);
	tm_pattern_free(pat_ping);
	ASSERT_STREQ("", res.failure);
	expect_lines(_metadata, pong_trace,
		     ARRAY_SIZE(pong_trace));
}

/*
 * On two schedulers the supervisor, its worker and the client may run on
 * different threads; the trace is causally ordered all the same.
 */
TEST(paper_robust_pong_server_two_schedulers)
{
	reset();
	ASSERT_EQ(0, tm_pattern_compile("[$from $tag crash]", 18, &pat_crash));
	ASSERT_EQ(0, tm_pattern_compile("[$from $tag ping]", 17, &pat_ping));
	ASSERT_EQ(0, tm_run_n(2, pong_scenario, NULL));
	tm_pattern_free(pat_crash);
	tm_pattern_free(pat_ping);
	ASSERT_STREQ("", res.failure);
	expect_lines(_metadata, pong_trace, ARRAY_SIZE(pong_trace));
}

/* A worker that stops when asked, and echoes <echo pid x> as x to pid. */
static void polite_worker(void *arg)
{
	(void)arg;
	for (;;) {
		struct tm_term m = tm_recv();

		if (tm_symbol_is(&m, "shutdown"))
			return;
		if (tm_record_is(&m, "echo", 2))
			tm_send(*tm_record_field(&m, 0),
				*tm_record_field(&m, 1));
		tm_collect(NULL, 0);
	}
}

static const struct tm_supervised_opts polite_opts = {
	.grace = TM_SEC(3),
	.trace = trace_line,
};

static void polite_scenario(void *arg)
{
	struct tm_term sup, ref, r;
	int64_t t0;

	(void)arg;
	sup = tm_spawn_supervised(polite_worker, NULL, &polite_opts);
	ref = tm_monitor(sup);
	/* Messages to the supervisor reach the worker. */
	tm_send(sup, rec2("echo", tm_self(), sym("hi")));
	r = tm_recv_for(WAIT, NULL);
	CHECK_TERM(r, "hi");
	t0 = now_ns();
	tm_send(sup, sym("shutdown"));
	CHECK_TERM(down_reason(ref, WAIT), "normal");
	CHECK(now_ns() - t0 < TM_SEC(2));	/* no grace needed */
}

static const char *const polite_trace[] = {
	"(info: starting up supervised process)",
	"(info: halting supervisor)",
};

TEST(supervised_cooperative_shutdown)
{
	reset();
	ASSERT_EQ(0, tm_run(polite_scenario, NULL));
	ASSERT_STREQ("", res.failure);
	expect_lines(_metadata, polite_trace, 2);
}

static void crasher(void *arg)
{
	(void)arg;
	res.starts[0]++;
	tm_raise(sym("boom"));
}

static const struct tm_supervised_opts crasher_opts = {
	.max_restarts = 2,
	.period = TM_SEC(60),
	.trace = trace_line,
};

static void crasher_scenario(void *arg)
{
	struct tm_term sup, ref;

	(void)arg;
	sup = tm_spawn_supervised(crasher, NULL, &crasher_opts);
	ref = tm_monitor(sup);
	CHECK_TERM(down_reason(ref, WAIT), "shutdown");
}

static const char *const crasher_trace[] = {
	"(info: starting up supervised process)",
	"(info: process failed)",
	"(info: restarting...)",
	"(info: starting up supervised process)",
	"(info: process failed)",
	"(info: restarting...)",
	"(info: starting up supervised process)",
	"(info: process failed)",
	"(info: halting supervisor)",
};

TEST(supervised_restart_limit)
{
	reset();
	ASSERT_EQ(0, tm_run(crasher_scenario, NULL));
	ASSERT_STREQ("", res.failure);
	EXPECT_EQ(3, res.starts[0]);
	expect_lines(_metadata, crasher_trace,
		     ARRAY_SIZE(crasher_trace));
}

/* ---- supervisors ---------------------------------------------------- */

/*
 * A supervised worker, one per index: counts its starts, records its pid,
 * exits normally on quit, raises on crash; a trapping one (index >= 4)
 * ignores everything, including the supervisor's shutdown.
 */
static void worker(void *arg)
{
	int idx = (int)(intptr_t)arg;
	struct tm_term self = tm_self();

	res.starts[idx]++;
	res.pid_ids[idx] = tm_pid_id(&self);
	if (idx >= 4)
		tm_trap_exit(true);
	for (;;) {
		struct tm_term m = tm_recv();

		if (tm_record_is(&m, "EXIT", 2))
			res.saw_exit[idx]++;
		else if (tm_symbol_is(&m, "quit"))
			return;
		else if (tm_symbol_is(&m, "crash"))
			tm_raise(sym("crashed"));
		tm_collect(NULL, 0);
	}
}

#define CHILD(name, idx, rst, grace) {				\
	.id = name, .fn = worker, .arg = (void *)(intptr_t)(idx),	\
	.restart = rst, .shutdown = grace }

static const struct tm_child_spec abc[] = {
	CHILD("a", 0, TM_PERMANENT, TM_SEC(1)),
	CHILD("b", 1, TM_PERMANENT, TM_SEC(1)),
	CHILD("c", 2, TM_PERMANENT, TM_SEC(1)),
};

/* The pid of child @id, or #f. */
static struct tm_term child(struct tm_term sup, const char *id)
{
	struct tm_term l = tm_supervisor_which_children(sup, WAIT);
	size_t i;

	for (i = 0; i < tm_count(&l); i++) {
		const struct tm_term *e = tm_item(&l, i);

		if (tm_string_is(tm_item(e, 0), id))
			return *tm_item(e, 1);
	}
	return tm_bool(false);
}

/* Wait until child @id runs with a pid other than @old; that pid. */
static struct tm_term restarted(struct tm_term sup, const char *id,
				struct tm_term old)
{
	int64_t end = now_ns() + WAIT;
	struct tm_term p;

	do {
		p = child(sup, id);
		if (tm_is_pid(&p) && !tm_equal(&p, &old))
			return p;
		tm_sleep(TM_MS(10));
	} while (now_ns() < end);
	return p;
}

static const struct tm_sup_spec ofo_spec = {
	.strategy = TM_ONE_FOR_ONE,
	.intensity = 5,
	.period = TM_SEC(60),
	.children = abc,
	.nchildren = 3,
};

static void ofo_scenario(void *arg)
{
	struct tm_term sup, a, b, c, b2, c2, l, ra, rb, rc, r;

	(void)arg;
	tm_trap_exit(true);
	sup = tm_supervisor_start_link(&ofo_spec);
	/* Every child started before start returned. */
	CHECK(res.starts[0] == 1 && res.starts[1] == 1 && res.starts[2] == 1);
	l = tm_supervisor_which_children(sup, WAIT);
	CHECK(tm_count(&l) == 3);
	a = child(sup, "a");
	b = child(sup, "b");
	c = child(sup, "c");
	CHECK(tm_is_pid(&a) && tm_is_pid(&b) && tm_is_pid(&c));
	CHECK(tm_pid_id(&b) == res.pid_ids[1]);

	/* Killed: only b restarts. */
	tm_kill(b);
	b2 = restarted(sup, "b", b);
	CHECK(tm_is_pid(&b2) && !tm_equal(&b2, &b));
	CHECK(!alive(b));
	r = child(sup, "a");
	CHECK(tm_equal(&a, &r));
	CHECK(res.starts[0] == 1 && res.starts[1] == 2 && res.starts[2] == 1);

	/* Crashed: only c restarts. */
	tm_send(c, sym("crash"));
	c2 = restarted(sup, "c", c);
	CHECK(tm_is_pid(&c2) && !tm_equal(&c2, &c));
	CHECK(res.starts[0] == 1 && res.starts[1] == 2 && res.starts[2] == 2);
	CHECK(alive(a) && alive(b2) && alive(c2));

	/* Stop: every child is asked to stop (shutdown), last first. */
	ra = tm_monitor(a);
	rb = tm_monitor(b2);
	rc = tm_monitor(c2);
	r = tm_supervisor_stop(sup, sym("shutdown"));
	CHECK_TERM(r, "shutdown");
	CHECK_TERM(down_reason(ra, WAIT), "shutdown");
	CHECK_TERM(down_reason(rb, WAIT), "shutdown");
	CHECK_TERM(down_reason(rc, WAIT), "shutdown");
	CHECK_TERM(exit_reason(sup, WAIT), "shutdown");
}

TEST(supervisor_one_for_one)
{
	reset();
	ASSERT_EQ(0, tm_run(ofo_scenario, NULL));
	ASSERT_STREQ("", res.failure);
}

static const struct tm_sup_spec ofa_spec = {
	.strategy = TM_ONE_FOR_ALL,
	.intensity = 5,
	.period = TM_SEC(60),
	.children = abc,
	.nchildren = 3,
};

static void ofa_scenario(void *arg)
{
	struct tm_term sup, a, b, c, a2, b2, c2, ra, rc;

	(void)arg;
	tm_trap_exit(true);
	sup = tm_supervisor_start_link(&ofa_spec);
	a = child(sup, "a");
	b = child(sup, "b");
	c = child(sup, "c");
	ra = tm_monitor(a);
	rc = tm_monitor(c);

	/* b crashes: a and c are stopped (shutdown), then all restart. */
	tm_send(b, sym("crash"));
	CHECK_TERM(down_reason(ra, WAIT), "shutdown");
	CHECK_TERM(down_reason(rc, WAIT), "shutdown");
	c2 = restarted(sup, "c", c);
	a2 = child(sup, "a");
	b2 = child(sup, "b");
	CHECK(tm_is_pid(&a2) && !tm_equal(&a2, &a));
	CHECK(tm_is_pid(&b2) && !tm_equal(&b2, &b));
	CHECK(tm_is_pid(&c2) && !tm_equal(&c2, &c));
	CHECK(alive(a2) && alive(b2) && alive(c2));
	CHECK(res.starts[0] == 2 && res.starts[1] == 2 && res.starts[2] == 2);

	CHECK_TERM(tm_supervisor_stop(sup, sym("shutdown")), "shutdown");
	CHECK(!alive(a2) && !alive(b2) && !alive(c2));
}

TEST(supervisor_one_for_all)
{
	reset();
	ASSERT_EQ(0, tm_run(ofa_scenario, NULL));
	ASSERT_STREQ("", res.failure);
}

/* At most 2 restarts in a minute: the third failure ends the supervisor. */
static const struct tm_sup_spec limit_spec = {
	.strategy = TM_ONE_FOR_ONE,
	.intensity = 2,
	.period = TM_SEC(60),
	.children = abc,
	.nchildren = 3,
};

static void limit_scenario(void *arg)
{
	struct tm_term sup, a, b, c, ra, rc;
	int i;

	(void)arg;
	tm_trap_exit(true);	/* the parent sees the supervisor's exit */
	sup = tm_supervisor_start_link(&limit_spec);
	a = child(sup, "a");
	c = child(sup, "c");
	b = child(sup, "b");
	for (i = 0; i < 2; i++) {
		tm_kill(b);
		b = restarted(sup, "b", b);
		CHECK(tm_is_pid(&b));
	}
	CHECK(res.starts[1] == 3);
	ra = tm_monitor(a);
	rc = tm_monitor(c);
	tm_kill(b);
	CHECK_TERM(exit_reason(sup, WAIT), "shutdown");
	CHECK_TERM(down_reason(ra, WAIT), "shutdown");
	CHECK_TERM(down_reason(rc, WAIT), "shutdown");
	CHECK(res.starts[0] == 1 && res.starts[1] == 3 && res.starts[2] == 1);
	CHECK(!alive(sup));
}

TEST(supervisor_intensity_exceeded)
{
	reset();
	ASSERT_EQ(0, tm_run(limit_scenario, NULL));
	ASSERT_STREQ("", res.failure);
}

/*
 * Stopping: a worker trapping exits ignores the shutdown signal and is
 * killed after its grace; a brutal one is killed at once; a plain one
 * dies of the shutdown signal at once.
 */
static const struct tm_child_spec grace_children[] = {
	CHILD("stubborn", 4, TM_PERMANENT, TM_MS(300)),
	CHILD("plain", 0, TM_PERMANENT, TM_SEC(10)),
	CHILD("brutal", 1, TM_PERMANENT, TM_SHUTDOWN_BRUTAL),
};

static const struct tm_sup_spec grace_spec = {
	.strategy = TM_ONE_FOR_ONE,
	.intensity = 1,
	.period = TM_SEC(5),
	.children = grace_children,
	.nchildren = 3,
};

static void grace_scenario(void *arg)
{
	struct tm_term sup, rs, rp, rb;
	int64_t t0, dt;

	(void)arg;
	sup = tm_supervisor_start(&grace_spec);
	rs = tm_monitor(child(sup, "stubborn"));
	rp = tm_monitor(child(sup, "plain"));
	rb = tm_monitor(child(sup, "brutal"));
	t0 = now_ns();
	CHECK_TERM(tm_supervisor_stop(sup, sym("shutdown")), "shutdown");
	dt = now_ns() - t0;
	CHECK(dt >= TM_MS(300));
	CHECK(dt < TM_SEC(5));
	CHECK_TERM(down_reason(rb, 0), "killed");
	CHECK_TERM(down_reason(rp, 0), "shutdown");
	CHECK_TERM(down_reason(rs, 0), "killed");
	CHECK(res.saw_exit[4] == 1);	/* it did get the request */
}

TEST(supervisor_shutdown_grace_then_kill)
{
	reset();
	ASSERT_EQ(0, tm_run(grace_scenario, NULL));
	ASSERT_STREQ("", res.failure);
}

/*
 * permanent restarts even after a normal exit; transient only after a
 * failure; temporary never (and stays #f).
 */
static const struct tm_child_spec types_children[] = {
	CHILD("perm", 0, TM_PERMANENT, TM_SEC(1)),
	CHILD("trans", 1, TM_TRANSIENT, TM_SEC(1)),
	CHILD("temp", 2, TM_TEMPORARY, TM_SEC(1)),
};

static const struct tm_sup_spec types_spec = {
	.strategy = TM_ONE_FOR_ONE,
	.intensity = 10,
	.period = TM_SEC(60),
	.children = types_children,
	.nchildren = 3,
};

static void types_scenario(void *arg)
{
	struct tm_term sup, p, t, x, r, ref;

	(void)arg;
	sup = tm_supervisor_start(&types_spec);
	p = child(sup, "perm");
	t = child(sup, "trans");
	x = child(sup, "temp");

	tm_send(p, sym("quit"));
	p = restarted(sup, "perm", p);
	CHECK(tm_is_pid(&p) && res.starts[0] == 2);

	tm_send(t, sym("crash"));
	t = restarted(sup, "trans", t);
	CHECK(tm_is_pid(&t) && res.starts[1] == 2);
	ref = tm_monitor(t);
	tm_send(t, sym("quit"));
	CHECK_TERM(down_reason(ref, WAIT), "normal");
	ref = tm_monitor(x);
	tm_send(x, sym("crash"));
	CHECK_TERM(down_reason(ref, WAIT), "crashed");

	/* which_children is answered after the EXITs were handled. */
	r = tm_supervisor_which_children(sup, WAIT);
	CHECK_TERM(*tm_item(tm_item(&r, 1), 1), "#f");
	CHECK_TERM(*tm_item(tm_item(&r, 2), 1), "#f");
	CHECK(res.starts[0] == 2 && res.starts[1] == 2 && res.starts[2] == 1);
	tm_supervisor_stop(sup, sym("shutdown"));
}

TEST(supervisor_restart_types)
{
	reset();
	ASSERT_EQ(0, tm_run(types_scenario, NULL));
	ASSERT_STREQ("", res.failure);
}

/*
 * A generic server as a child: restarted with a fresh state; stopped
 * through the shutdown exit signal, its terminate runs.
 */
static struct tm_term start_kv(void *arg)
{
	(void)arg;
	return tm_gen_server_start_link(&kv_ops, tm_bool(false));
}

static const struct tm_child_spec kv_child[] = {
	{ .id = "kv", .start = start_kv, .restart = TM_PERMANENT,
	  .shutdown = TM_SEC(2) },
};

static const struct tm_sup_spec kv_sup_spec = {
	.strategy = TM_ONE_FOR_ONE,
	.intensity = 3,
	.period = TM_SEC(60),
	.children = kv_child,
	.nchildren = 1,
};

static void kv_sup_scenario(void *arg)
{
	struct tm_term sup, kv, kv2;

	(void)arg;
	sup = tm_supervisor_start(&kv_sup_spec);
	kv = child(sup, "kv");
	CHECK_TERM(kv_store(kv, "a", 1), "ok");
	tm_kill(kv);
	kv2 = restarted(sup, "kv", kv);
	CHECK(tm_is_pid(&kv2));
	CHECK_TERM(kv_lookup(kv2, "a"), "#f");	/* a fresh state */
	CHECK_TERM(kv_store(kv2, "b", 2), "ok");
	CHECK(res.init_calls == 2);
	CHECK(res.term_calls == 0);		/* killed: no terminate */
	CHECK_TERM(tm_supervisor_stop(sup, sym("shutdown")), "shutdown");
	CHECK(res.term_calls == 1);
	CHECK(!strcmp(res.term_reason, "shutdown"));
}

TEST(supervisor_gen_server_child)
{
	reset();
	ASSERT_EQ(0, tm_run(kv_sup_scenario, NULL));
	ASSERT_STREQ("", res.failure);
	EXPECT_STREQ("shutdown", res.term_reason);
}

/* A child that does not start: the started ones are stopped, start raises. */
static struct tm_term start_refused(void *arg)
{
	(void)arg;
	return tm_gen_server_start_link(&refuse_ops, tm_int(9));
}

static const struct tm_child_spec bad_children[] = {
	CHILD("a", 0, TM_PERMANENT, TM_SEC(1)),
	{ .id = "bad", .start = start_refused, .restart = TM_PERMANENT,
	  .shutdown = TM_SEC(1) },
	CHILD("c", 2, TM_PERMANENT, TM_SEC(1)),
};

static const struct tm_sup_spec bad_spec = {
	.strategy = TM_ONE_FOR_ONE,
	.intensity = 3,
	.period = TM_SEC(60),
	.children = bad_children,
	.nchildren = 3,
};

static struct tm_term sup_start_body(void *ctx)
{
	return tm_supervisor_start(ctx);
}

static void bad_scenario(void *arg)
{
	struct tm_term r;

	(void)arg;
	r = try(sup_start_body, (void *)&bad_spec);
	CHECK_TERM(r, "<caught <failed-to-start-child \"bad\" <refused 9>>>");
	CHECK(res.starts[0] == 1 && res.starts[2] == 0);
	CHECK(res.pid_ids[0] && !alive(tm_pid_of(res.pid_ids[0])));
}

TEST(supervisor_start_failure)
{
	reset();
	ASSERT_EQ(0, tm_run(bad_scenario, NULL));
	ASSERT_STREQ("", res.failure);
}

/* ---- starts whose spawn fails ---------------------------------------- */

/*
 * With max_actors lowered to its minimum, the scenario fills its port
 * with processes that wait, so that every further spawn raises <error
 * "spawn" ENOSPC>; then each start below fails that way LEAK_ROUNDS
 * times.  Each must report the failure as documented, and the heap
 * (mallinfo2(): every arena of the process) must not grow with the
 * number of failures: a start block left behind by each would.
 */
#define MAX_ACTORS_PARAM	"/sys/module/termite/parameters/max_actors"
#define FULL_LIMIT	16		/* the smallest max_actors */
#define MAX_FILL	64
#define LEAK_WARMUP	20
#define LEAK_ROUNDS	1000
#define LEAK_SLACK	8192		/* bytes of growth tolerated per case */

enum {
	FULL_GS_START,		/* tm_gen_server_start(), port full */
	FULL_GS_START_LINK,	/* tm_gen_server_start_link() */
	FULL_SUP_START,		/* tm_supervisor_start() */
	FULL_SUP_START_LINK,	/* tm_supervisor_start_link() */
	FULL_SUPERVISED,	/* tm_spawn_supervised() */
	FULL_SUP_CHILD,		/* one slot: the supervisor only */
	FULL_SV_WORKER,		/* one slot: the supervised process only */
	FULL_NCASES
};

static const char *const full_case_names[FULL_NCASES] = {
	"gen_server_start", "gen_server_start_link", "supervisor_start",
	"supervisor_start_link", "spawn_supervised", "supervisor_child",
	"supervised_worker",
};

static struct {
	uint64_t fill[MAX_FILL];	/* the waiting processes */
	int nfill;
	uint64_t sup_id;		/* the supervisor of FULL_SUP_CHILD */
	bool filled;			/* the port was full */
	char handled[RES_LEN];		/* what full_handler() saw */
	bool resumed;			/* tm_handle() returned */
	int rounds[FULL_NCASES];	/* failures seen as expected */
	long long grown[FULL_NCASES];	/* uordblks after - before */
} full;

static int param_read(const char *path, unsigned long long *val)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%llu", val) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

static int param_write(const char *path, unsigned long long val)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%llu\n", val) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

static void filler(void *arg)
{
	(void)arg;
	tm_recv();		/* quit */
}

static struct tm_term spawn_filler(void *ctx)
{
	(void)ctx;
	return tm_spawn(filler, NULL);
}

/* Spawn fillers until the port is full; what the failed spawn raised. */
static struct tm_term fill_port(void)
{
	struct tm_term r;

	for (;;) {
		r = try(spawn_filler, NULL);
		if (!tm_is_pid(&r))
			return r;
		if (!CHECK(full.nfill < MAX_FILL)) {
			tm_kill(r);
			return r;
		}
		full.fill[full.nfill++] = tm_pid_id(&r);
	}
}

/* End the last filler, and wait for its end: one free slot. */
static void release_one(void)
{
	struct tm_term pid = tm_pid_of(full.fill[--full.nfill]);
	struct tm_term ref = tm_monitor(pid);

	tm_send(pid, sym("quit"));
	CHECK_TERM(down_reason(ref, WAIT), "normal");
}

static struct tm_term full_gs_start(void *ctx)
{
	(void)ctx;
	return tm_gen_server_start(&kv_ops, tm_int(1));
}

static struct tm_term full_gs_start_link(void *ctx)
{
	(void)ctx;
	return tm_gen_server_start_link(&kv_ops, tm_int(2));
}

static struct tm_term full_child_start(void *arg)
{
	struct tm_term self = tm_self();

	full.sup_id = tm_pid_id(&self);
	return tm_gen_server_start_link(&kv_ops, tm_int((intptr_t)arg));
}

static const struct tm_child_spec full_child[] = {
	{ .id = "kv", .start = full_child_start, .arg = (void *)3,
	  .restart = TM_PERMANENT, .shutdown = TM_SEC(1) },
};

static const struct tm_sup_spec full_sup_spec = {
	.strategy = TM_ONE_FOR_ONE,
	.intensity = 1,
	.period = TM_SEC(1),
	.children = full_child,
	.nchildren = 1,
};

static struct tm_term full_sup_start(void *ctx)
{
	(void)ctx;
	return tm_supervisor_start(&full_sup_spec);
}

static struct tm_term full_sup_start_link(void *ctx)
{
	(void)ctx;
	return tm_supervisor_start_link(&full_sup_spec);
}

static struct tm_term full_supervised(void *ctx)
{
	(void)ctx;
	return tm_spawn_supervised(worker, (void *)0, NULL);
}

/* Whether @t is the term written @text (no failure recorded). */
static bool term_is(struct tm_term t, const char *text)
{
	struct tm_term want = tm_t(text);

	return tm_equal(&t, &want);
}

/*
 * One failure of case @c: true if it was reported as expected (@spawn:
 * what a failed spawn raises), once every process it started has ended.
 * The DOWNs are awaited without a timeout (a monitor always gets one): a
 * timed receive leaves its timer in the scheduler until it is due, which
 * the heap would count.
 */
static bool full_round(int c, const char *spawn)
{
	static tm_body_fn const starts[] = {
		[FULL_GS_START] = full_gs_start,
		[FULL_GS_START_LINK] = full_gs_start_link,
		[FULL_SUP_START] = full_sup_start,
		[FULL_SUP_START_LINK] = full_sup_start_link,
		[FULL_SUPERVISED] = full_supervised,
		[FULL_SUP_CHILD] = full_sup_start,
		[FULL_SV_WORKER] = full_supervised,
	};
	char reason[256], want[300];
	struct tm_term r, ref;

	r = try(starts[c], NULL);
	if (c != FULL_SV_WORKER && tm_is_pid(&r))
		tm_kill(r);	/* started after all: end it (and fail) */
	switch (c) {
	case FULL_SUP_CHILD:
		/* The supervisor took the slot, its child did not start. */
		snprintf(reason, sizeof(reason),
			 "<failed-to-start-child \"kv\" %s>", spawn);
		snprintf(want, sizeof(want), "<caught %s>", reason);
		if (!CHECK_TERM(r, want))
			return false;
		/* The slot is free again once the supervisor has ended. */
		ref = tm_monitor(tm_pid_of(full.sup_id));
		r = down_reason(ref, TM_FOREVER);
		return CHECK(term_is(r, reason) || term_is(r, "noproc"));
	case FULL_SV_WORKER:
		/* The supervised process started, its worker did not. */
		if (!CHECK(tm_is_pid(&r)))
			return false;
		ref = tm_monitor(r);
		return CHECK_TERM(down_reason(ref, TM_FOREVER), spawn);
	default:
		snprintf(want, sizeof(want), "<caught %s>", spawn);
		return CHECK_TERM(r, want);
	}
}

/*
 * Under tm_handle() (a handler, not a catcher): the handler sees what the
 * spawn raised, but cannot resume it, as with any API failure: the
 * process ends with the reason error.
 */
static struct tm_term full_handler(struct tm_term exc, void *ctx)
{
	(void)ctx;
	put(full.handled, &exc);
	return tm_bool(false);
}

static void full_handled(void *arg)
{
	(void)arg;
	tm_handle(full_handler, full_gs_start, NULL);
	full.resumed = true;
}

static void full_scenario(void *arg)
{
	char spawn[64], want[96];
	struct tm_term r;
	int c, i;

	(void)arg;
	snprintf(spawn, sizeof(spawn), "<error \"spawn\" %d>", ENOSPC);
	snprintf(want, sizeof(want), "<caught %s>", spawn);
	r = fill_port();
	full.filled = CHECK_TERM(r, want);
	tm_collect(NULL, 0);
	for (c = 0; full.filled && c < FULL_NCASES; c++) {
		size_t before = 0;

		if (c == FULL_SUP_CHILD)
			release_one();		/* from now on, one free slot */
		for (i = 0; i < LEAK_WARMUP + LEAK_ROUNDS; i++) {
			if (i == LEAK_WARMUP)
				before = mallinfo2().uordblks;
			if (!full_round(c, spawn))
				break;
			full.rounds[c]++;
			tm_collect(NULL, 0);
		}
		full.grown[c] = (long long)mallinfo2().uordblks -
				(long long)before;
	}
	if (full.filled) {
		/* One slot is free: full_handled takes it. */
		struct tm_term ref = tm_monitor(tm_spawn(full_handled, NULL));

		CHECK_TERM(down_reason(ref, WAIT), "error");
	}
	while (full.nfill)
		release_one();
}

FIXTURE(spawn_full) {
	unsigned long long old_max;
	bool lowered;
};

FIXTURE_SETUP(spawn_full)
{
	int err = param_read(MAX_ACTORS_PARAM, &self->old_max);

	if (err)
		SKIP(return, "cannot read max_actors: %s", strerror(-err));
}

FIXTURE_TEARDOWN(spawn_full)
{
	if (self->lowered)
		EXPECT_EQ(0, param_write(MAX_ACTORS_PARAM, self->old_max));
}

/*
 * Starts whose spawn fails raise what the spawn raised (or, for a child,
 * the supervisor's <failed-to-start-child id reason>), and free what they
 * had prepared for the new process.
 */
TEST_F(spawn_full, start_spawn_failures)
{
	char want[64];
	int err, c;

	err = param_write(MAX_ACTORS_PARAM, FULL_LIMIT);
	if (err == -EACCES || err == -EPERM || err == -EROFS)
		SKIP(return, "cannot write max_actors: %s", strerror(-err));
	ASSERT_EQ(0, err);
	self->lowered = true;
	reset();
	memset(&full, 0, sizeof(full));
	err = tm_run(full_scenario, NULL);
	EXPECT_EQ(0, param_write(MAX_ACTORS_PARAM, self->old_max));
	self->lowered = false;
	ASSERT_EQ(0, err);
	ASSERT_STREQ("", res.failure);
	ASSERT_TRUE(full.filled);
	snprintf(want, sizeof(want), "<error \"spawn\" %d>", ENOSPC);
	EXPECT_STREQ(want, full.handled);
	EXPECT_FALSE(full.resumed);
	for (c = 0; c < FULL_NCASES; c++) {
		TH_LOG("%s: %d failures, heap grew %lld bytes",
		       full_case_names[c], full.rounds[c], full.grown[c]);
		EXPECT_EQ(LEAK_WARMUP + LEAK_ROUNDS, full.rounds[c]);
		EXPECT_GT(LEAK_SLACK, full.grown[c]);
	}
}

TEST_HARNESS_MAIN
