// SPDX-License-Identifier: GPL-2.0
/*
 * libtermite selftest: the examples of the Termite paper (Germain, Feeley,
 * Monnier: "Concurrency Oriented Programming in Termite Scheme", 2006)
 * that need no second node, written against termite.h, each checking the
 * result the paper gives.
 *
 *   2.2  hello world: spawn, !, ?                 => "Hello, world!"
 *   4.1  pong server                              => pong
 *   4.2  ?? selecting odd numbers                 => 1, 3, 2
 *   4.3  better-pong-server: recv with a where clause
 *   4.4  timeouts: ?, ?? and recv's after clause; `timeout' or the default
 *   4.5  rpc server with tags (recv on the tag)   => 42
 *        and !? (tm_call)                         => 42
 *   4.6  the mutable cell: cell-ref, cell-set!
 *   4.7  with-exception-catcher                   => (42)
 *        with-exception-handler                   => (123)
 *        catch around spawn + (? 1 'ok)           => #f
 *        catch around spawn-link + (? 1 'ok)      => #t
 *
 * Each test runs its scenario as the first process of tm_run() and
 * records what it saw in static variables (a process runs on its
 * scheduler's stack, where the harness's ASSERT_* must not longjmp from);
 * the assertions come after tm_run() returns.  Every process the scenario
 * starts must end, or tm_run() would not return: servers are killed when
 * the scenario is over.
 *
 * Run in the test VM with the module loaded:
 *   scripts/vm-run.sh -- build/selftests/paper_test
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "termite.h"
#include "kselftest_harness.h"

#include "lib_common.h"

/* Results, reset by each test (every test runs in its own OS process). */
static char r_a[RES_LEN], r_b[RES_LEN], r_c[RES_LEN], r_d[RES_LEN];
static bool f_a, f_b, f_d;
static int64_t t_a, t_b;

/* ---- 2.2: hello world ---------------------------------------------- */

/*
 * (let ((me (self)))
 *   (spawn (lambda () (! me "Hello, world!"))))
 * (?)                                        => "Hello, world!"
 */
static void hello_child(void *arg)
{
	struct tm_term me = unbox(arg);

	tm_send(me, tm_string("Hello, world!"));
}

static void hello_main(void *arg)
{
	struct tm_term me = tm_self();
	struct tm_term child, msg;

	(void)arg;
	child = tm_spawn(hello_child, box(me));
	f_b = tm_is_pid(&child) && !tm_equal(&child, &me);
	msg = tm_recv();
	put(r_a, &msg);
	f_a = tm_string_is(&msg, "Hello, world!");
}

TEST(hello_world_2_2)
{
	RUN(hello_main);
	ASSERT_STREQ("\"Hello, world!\"", r_a);
	ASSERT_TRUE(f_a);
	ASSERT_TRUE(f_b) TH_LOG("spawn did not return a new pid");
}

/* ---- 4.1: a server process ----------------------------------------- */

/*
 * (define pong-server
 *   (spawn (lambda ()
 *     (let loop ()
 *       (let ((msg (?)))
 *         (if (and (list? msg) (= (length msg) 2)
 *                  (pid? (car msg)) (eq? (cadr msg) 'ping))
 *             (let ((from (car msg))) (! from 'pong) (loop))
 *             (loop)))))))
 * (! pong-server (list (self) 'ping))
 * (?)                                        => pong
 */
static void pong_server(void *arg)
{
	(void)arg;
	for (;;) {
		struct tm_term msg = tm_recv();

		if (tm_is(&msg, TM_SEQUENCE) && tm_count(&msg) == 2 &&
		    tm_is_pid(tm_item(&msg, 0)) &&
		    tm_symbol_is(tm_item(&msg, 1), "ping"))
			tm_send(*tm_item(&msg, 0), tm_symbol("pong"));
		/* A long-running process collects between messages. */
		tm_collect(NULL, 0);
	}
}

static void pong_main(void *arg)
{
	struct tm_arena *h = tm_heap();
	struct tm_term server = serve(tm_spawn(pong_server, NULL));
	struct tm_term none = tm_symbol("none");
	struct tm_term msg;

	(void)arg;
	/* Messages of another shape are ignored. */
	tm_send(server, tm_string("junk"));
	tm_send(server, tm_seq(h, 2, tm_int(1), tm_symbol("ping")));
	tm_send(server, tm_seq(h, 3, tm_self(), tm_symbol("ping"), tm_int(0)));
	tm_send(server, tm_seq(h, 2, tm_self(), tm_symbol("ping")));
	msg = tm_recv();
	put(r_a, &msg);
	/* Exactly one pong. */
	msg = tm_recv_for(TM_MS(200), &none);
	put(r_b, &msg);
	/* The server goes on serving. */
	tm_send(server, tm_seq(h, 2, tm_self(), tm_symbol("ping")));
	msg = tm_recv_for(WAIT, NULL);
	put(r_c, &msg);
}

TEST(pong_server_4_1)
{
	RUN(pong_main);
	ASSERT_STREQ("pong", r_a);
	ASSERT_STREQ("none", r_b);
	ASSERT_STREQ("pong", r_c);
}

/* ---- 4.2: selective message retrieval ------------------------------- */

static bool odd_p(const struct tm_term *msg, void *ctx)
{
	int64_t v;

	(void)ctx;
	return tm_is(msg, TM_INT) && tm_get_int(msg, &v) == 0 && (v & 1);
}

/*
 * (! (self) 1) (! (self) 2) (! (self) 3)
 * (?)                                        => 1
 * (?? odd?)                                  => 3
 * (?)                                        => 2
 */
static void select_main(void *arg)
{
	struct tm_term m;

	(void)arg;
	tm_send(tm_self(), tm_int(1));
	tm_send(tm_self(), tm_int(2));
	tm_send(tm_self(), tm_int(3));
	m = tm_recv();
	put(r_a, &m);
	m = tm_recv_if(odd_p, NULL, TM_FOREVER, NULL);
	put(r_b, &m);
	m = tm_recv();
	put(r_c, &m);
}

TEST(selective_receive_4_2)
{
	RUN(select_main);
	ASSERT_STREQ("1", r_a);
	ASSERT_STREQ("3", r_b);
	ASSERT_STREQ("2", r_c);
}

/* ---- 4.3: recv with a where clause --------------------------------- */

static struct tm_pattern *p_from_ping;	/* [$from ping] */

static bool from_is_pid(const struct tm_capture *caps, void *ctx)
{
	(void)ctx;
	return tm_is_pid(caps[0].term);
}

/*
 * (define better-pong-server
 *   (spawn (lambda ()
 *     (let loop ()
 *       (recv ((from 'ping) (where (pid? from)) (! from 'pong)))
 *       (loop)))))
 */
static void better_pong_server(void *arg)
{
	struct tm_clause cl = { p_from_ping, from_is_pid };
	struct tm_capture caps[1];

	(void)arg;
	for (;;) {
		if (tm_recv_match(&cl, 1, caps, 1, NULL, TM_FOREVER, NULL) == 0)
			tm_send(*caps[0].term, tm_symbol("pong"));
		tm_collect(NULL, 0);
	}
}

static void where_main(void *arg)
{
	struct tm_arena *h = tm_heap();
	struct tm_term server = serve(tm_spawn(better_pong_server, NULL));
	struct tm_clause cl = { p_from_ping, from_is_pid };
	struct tm_capture caps[1];
	struct tm_term none = tm_symbol("none");
	struct tm_term m;
	int k;

	(void)arg;
	/* The pattern matches, the where clause refuses: no answer. */
	tm_send(server, tm_seq(h, 2, tm_int(7), tm_symbol("ping")));
	m = tm_recv_for(TM_MS(200), &none);
	put(r_a, &m);
	tm_send(server, tm_seq(h, 2, tm_self(), tm_symbol("ping")));
	m = tm_recv_for(WAIT, NULL);
	put(r_b, &m);

	/*
	 * The same clause locally: the refused message is skipped, not
	 * consumed, and the capture is the accepted message's pid.
	 */
	tm_send(tm_self(), tm_seq(h, 2, tm_int(7), tm_symbol("ping")));
	tm_send(tm_self(), tm_seq(h, 2, tm_self(), tm_symbol("ping")));
	m = tm_invalid(TM_EINVAL);
	caps[0].term = NULL;
	k = tm_recv_match(&cl, 1, caps, 1, NULL, WAIT, &m);
	f_a = k == 0 && caps[0].term && tm_is_pid(caps[0].term);
	if (k == 0 && caps[0].term) {
		struct tm_term self = tm_self();

		f_b = tm_equal(caps[0].term, &self);
	}
	put(r_c, &m);
	m = tm_recv_for(TM_MS(200), &none);
	put(r_d, &m);
}

TEST(better_pong_server_where_4_3)
{
	p_from_ping = compile("[$from ping]");
	ASSERT_NE(NULL, p_from_ping);
	RUN(where_main);
	tm_pattern_free(p_from_ping);
	EXPECT_STREQ("none", r_a) TH_LOG("the where clause did not refuse");
	EXPECT_STREQ("pong", r_b);
	EXPECT_TRUE(f_a) TH_LOG("recv did not return clause 0 with a pid");
	EXPECT_TRUE(f_b) TH_LOG("the capture is not the accepted message's pid");
	EXPECT_STREQ("[7 ping]", r_d) TH_LOG("the refused message was lost");
	EXPECT_NE(NULL, strstr(r_c, " ping]")) TH_LOG("*msg = %s", r_c);
}

/* ---- 4.4: timeouts ------------------------------------------------- */

struct recv_try {
	int64_t timeout;
	const struct tm_term *dflt;
	int how;		/* 0: ?, 1: ?? odd?, 2: !? to a silent server */
	struct tm_term to;
	struct tm_term got;
};

static struct tm_term recv_try_body(void *ctx)
{
	struct recv_try *t = ctx;

	switch (t->how) {
	case 0:
		t->got = tm_recv_for(t->timeout, t->dflt);
		break;
	case 1:
		t->got = tm_recv_if(odd_p, NULL, t->timeout, t->dflt);
		break;
	default:
		t->got = tm_call(t->to, tm_symbol("hello"), t->timeout, t->dflt);
		break;
	}
	return tm_symbol("returned");
}

/*
 * (? 0.1)         with an empty mailbox      raises timeout
 * (? 0.1 'dflt)                              => dflt
 */
static void timeout_main(void *arg)
{
	struct tm_term dflt = tm_symbol("dflt");
	struct recv_try t = { .timeout = TM_MS(100) };
	struct tm_term r;
	int64_t t0;

	(void)arg;
	t0 = now_ns();
	r = tm_catch(identity_handler, recv_try_body, &t);
	t_a = now_ns() - t0;
	put(r_a, &r);

	t.dflt = &dflt;
	t0 = now_ns();
	r = tm_catch(identity_handler, recv_try_body, &t);
	t_b = now_ns() - t0;
	put(r_b, &r);
	put(r_c, &t.got);
}

TEST(recv_timeout_4_4)
{
	RUN(timeout_main);
	EXPECT_STREQ("timeout", r_a);
	EXPECT_LE(TM_MS(99), t_a);
	EXPECT_STREQ("returned", r_b);
	EXPECT_STREQ("dflt", r_c);
	EXPECT_LE(TM_MS(99), t_b);
}

/* A message that arrives while ? waits ends the wait. */
static void late_sender(void *arg)
{
	struct tm_term to = unbox(arg);

	tm_sleep(TM_MS(50));
	tm_send(to, tm_symbol("late"));
}

/* (?? odd? 0.1 ...) over a mailbox holding only even numbers. */
static void timeout_sel_main(void *arg)
{
	struct tm_term dflt = tm_symbol("dflt");
	struct recv_try t = { .timeout = TM_MS(100), .how = 1 };
	struct tm_term r;

	(void)arg;
	tm_send(tm_self(), tm_int(2));
	tm_send(tm_self(), tm_int(4));
	r = tm_catch(identity_handler, recv_try_body, &t);
	put(r_a, &r);
	t.dflt = &dflt;
	tm_catch(identity_handler, recv_try_body, &t);
	put(r_b, &t.got);
	/* The even numbers are still there, in order. */
	r = tm_recv_for(0, &dflt);
	put(r_c, &r);
	r = tm_recv_for(0, &dflt);
	f_a = int_is(&r, 4);

	/* A message that arrives during the wait ends it. */
	tm_spawn(late_sender, box(tm_self()));
	r = tm_recv_for(WAIT, NULL);
	put(r_d, &r);
}

TEST(recv_if_timeout_4_4)
{
	RUN(timeout_sel_main);
	EXPECT_STREQ("timeout", r_a);
	EXPECT_STREQ("dflt", r_b);
	EXPECT_STREQ("2", r_c);
	EXPECT_TRUE(f_a) TH_LOG("4 was not kept");
	EXPECT_STREQ("late", r_d);
}

/*
 * (recv (x x) (after 0.1 (raise 'timeout)))
 */
static struct tm_pattern *p_any;	/* $x */

static struct tm_term recv_after_body(void *ctx)
{
	struct tm_clause cl = { p_any, NULL };
	struct tm_capture caps[1];
	struct tm_term msg;
	int64_t t0 = now_ns();
	int k;

	k = tm_recv_match(&cl, 1, caps, 1, NULL, TM_MS(100), &msg);
	*(int64_t *)ctx = now_ns() - t0;
	if (k < 0)
		tm_raise(tm_symbol("timeout"));
	return *caps[0].term;
}

static void recv_after_main(void *arg)
{
	struct tm_term r;

	(void)arg;
	r = tm_catch(identity_handler, recv_after_body, &t_a);
	put(r_a, &r);
	tm_send(tm_self(), tm_symbol("x"));
	r = tm_catch(identity_handler, recv_after_body, &t_b);
	put(r_b, &r);
}

TEST(recv_after_4_4)
{
	p_any = compile("$x");
	ASSERT_NE(NULL, p_any);
	RUN(recv_after_main);
	tm_pattern_free(p_any);
	EXPECT_STREQ("timeout", r_a);
	EXPECT_LE(TM_MS(99), t_a);
	EXPECT_STREQ("x", r_b);
	EXPECT_GT(TM_MS(100), t_b) TH_LOG("a matching message waited for after");
}

/* !? with a timeout: a server that never answers. */
static void silent_server(void *arg)
{
	(void)arg;
	for (;;) {
		tm_recv();
		tm_collect(NULL, 0);
	}
}

static void call_timeout_main(void *arg)
{
	struct tm_term dflt = tm_symbol("dflt");
	struct recv_try t = { .timeout = TM_MS(100), .how = 2 };
	struct tm_term r;

	(void)arg;
	t.to = serve(tm_spawn(silent_server, NULL));
	r = tm_catch(identity_handler, recv_try_body, &t);
	put(r_a, &r);
	t.dflt = &dflt;
	tm_catch(identity_handler, recv_try_body, &t);
	put(r_b, &t.got);
}

TEST(call_timeout_4_4)
{
	RUN(call_timeout_main);
	EXPECT_STREQ("timeout", r_a);
	EXPECT_STREQ("dflt", r_b);
}

/* ---- 4.5: remote procedure call ------------------------------------ */

static struct tm_pattern *p_add;	/* [$from $tag [add $a $b]] */

/*
 * (define rpc-server
 *   (spawn (lambda ()
 *     (let loop ()
 *       (recv ((from tag ('add a b)) (! from (list tag (+ a b)))))
 *       (loop)))))
 */
static void rpc_server(void *arg)
{
	struct tm_clause cl = { p_add, NULL };
	struct tm_capture c[4];
	int64_t a, b;

	(void)arg;
	for (;;) {
		if (tm_recv_match(&cl, 1, c, 4, NULL, TM_FOREVER, NULL) == 0 &&
		    tm_get_int(c[2].term, &a) == 0 &&
		    tm_get_int(c[3].term, &b) == 0)
			tm_send(*c[0].term,
				tm_seq(tm_heap(), 2, *c[1].term, tm_int(a + b)));
		tm_collect(NULL, 0);
	}
}

static struct tm_term add_request(struct tm_arena *h, struct tm_term tag,
				  int64_t a, int64_t b)
{
	return tm_seq(h, 3, tm_self(), tag,
		      tm_seq(h, 3, tm_symbol("add"), tm_int(a), tm_int(b)));
}

/* recv with one clause [<tag> $reply]: the reply, or the symbol none. */
static struct tm_term recv_reply(struct tm_pattern *p)
{
	struct tm_clause cl = { p, NULL };
	struct tm_capture c[1];

	if (!p)
		return tm_symbol("no-pattern");
	if (tm_recv_match(&cl, 1, c, 1, NULL, WAIT, NULL) != 0)
		return tm_symbol("none");
	return *c[0].term;
}

/*
 * (let ((tag (make-tag)))
 *   (! rpc-server (list (self) tag (list 'add 21 21)))
 *   (recv ((,tag reply) reply)))             => 42
 */
static void rpc_main(void *arg)
{
	struct tm_arena *h = tm_heap();
	struct tm_term server = serve(tm_spawn(rpc_server, NULL));
	struct tm_term tag, other, pt, items[2], r;
	struct tm_term none = tm_symbol("none");
	struct tm_pattern *p = NULL;
	char text[RES_LEN];

	(void)arg;
	/* 1: the pattern built as a term around the tag literal. */
	tag = tm_make_tag();
	other = tm_make_tag();
	f_a = !tm_equal(&tag, &other) && !tm_is_pid(&tag);
	/* A reply to another request, already waiting: recv must skip it. */
	tm_send(tm_self(), tm_seq(h, 2, other, tm_int(99)));
	tm_send(server, add_request(h, tag, 21, 21));
	items[0] = tm_pat_lit(h, tag);
	items[1] = tm_pat_bind(h, "reply", tm_pat_discard(h));
	pt = tm_pat_arr(h, items, 2);
	if (tm_pattern_compile_term(&pt, &p) < 0)
		p = NULL;
	r = recv_reply(p);
	tm_pattern_free(p);
	put(r_a, &r);

	/* 2: the pattern compiled from text with the tag printed in. */
	tag = tm_make_tag();
	tm_send(server, add_request(h, tag, 40, 2));
	snprintf(text, sizeof(text), "[%s $reply]", tm_str(&tag));
	p = compile(text);
	r = recv_reply(p);
	tm_pattern_free(p);
	put(r_b, &r);

	/* The other reply is still there, untouched. */
	r = tm_recv_for(0, &none);
	put(r_c, &r);
	f_b = tm_is(&r, TM_SEQUENCE) && tm_count(&r) == 2 &&
	      tm_equal(tm_item(&r, 0), &other);
}

TEST(rpc_server_tags_4_5)
{
	p_add = compile("[$from $tag [add $a $b]]");
	ASSERT_NE(NULL, p_add);
	RUN(rpc_main);
	tm_pattern_free(p_add);
	EXPECT_TRUE(f_a) TH_LOG("make-tag: tags not fresh, or a tag is a pid");
	EXPECT_STREQ("42", r_a);
	EXPECT_STREQ("42", r_b);
	EXPECT_TRUE(f_b) TH_LOG("the other reply: %s", r_c);
}

/* (!? rpc-server (list 'add 21 21))          => 42 */
static void call_main(void *arg)
{
	struct tm_arena *h = tm_heap();
	struct tm_term server = serve(tm_spawn(rpc_server, NULL));
	struct tm_term none = tm_symbol("none");
	struct tm_term r;
	int i;

	(void)arg;
	r = tm_call(server, tm_seq(h, 3, tm_symbol("add"), tm_int(21),
				   tm_int(21)), WAIT, NULL);
	put(r_a, &r);
	/* Again, a few times: each call has its own tag. */
	f_a = true;
	for (i = 0; i < 20; i++) {
		r = tm_call(server, tm_seq(h, 3, tm_symbol("add"), tm_int(i),
					   tm_int(i)), WAIT, NULL);
		f_a = f_a && int_is(&r, 2 * i);
	}
	/* No reply is left behind in the mailbox. */
	r = tm_recv_for(0, &none);
	put(r_b, &r);
}

TEST(rpc_call_4_5)
{
	p_add = compile("[$from $tag [add $a $b]]");
	ASSERT_NE(NULL, p_add);
	RUN(call_main);
	tm_pattern_free(p_add);
	EXPECT_STREQ("42", r_a);
	EXPECT_TRUE(f_a);
	EXPECT_STREQ("none", r_b);
}

/* ---- 4.6: a mutable data structure --------------------------------- */

static struct tm_pattern *p_ref;	/* [$from $tag ref] */
static struct tm_pattern *p_set;	/* [set! $content] */

/*
 * (define (make-cell content)
 *   (spawn (lambda ()
 *     (let loop ((content content))
 *       (recv
 *         ((from tag 'ref) (! from (list tag content)) (loop content))
 *         (('set! content) (loop content)))))))
 * (define (cell-ref cell) (!? cell 'ref))
 * (define (cell-set! cell value) (! cell (list 'set! value)))
 */
static void cell_proc(void *arg)
{
	struct tm_term content = unbox(arg);
	struct tm_clause cl[2] = { { p_ref, NULL }, { p_set, NULL } };
	struct tm_capture c[2];

	for (;;) {
		int k = tm_recv_match(cl, 2, c, 2, NULL, TM_FOREVER, NULL);

		if (k == 0)
			tm_send(*c[0].term,
				tm_seq(tm_heap(), 2, *c[1].term, content));
		else if (k == 1)
			content = *c[0].term;
		/* Keep only the content. */
		tm_collect(&content, 1);
	}
}

static struct tm_term make_cell(struct tm_term content)
{
	return serve(tm_spawn(cell_proc, box(content)));
}

static struct tm_term cell_ref(struct tm_term cell)
{
	return tm_call(cell, tm_symbol("ref"), WAIT, NULL);
}

static void cell_set(struct tm_term cell, struct tm_term value)
{
	tm_send(cell, tm_seq(tm_heap(), 2, tm_symbol("set!"), value));
}

static void cell_main(void *arg)
{
	struct tm_term cell = make_cell(tm_int(0));
	struct tm_term v;
	int i;

	(void)arg;
	v = cell_ref(cell);
	put(r_a, &v);
	cell_set(cell, tm_int(42));
	v = cell_ref(cell);
	put(r_b, &v);
	f_a = true;
	for (i = 0; i < 100; i++) {
		cell_set(cell, tm_int(i));
		v = cell_ref(cell);
		f_a = f_a && int_is(&v, i);
	}
	cell_set(cell, tm_t("<point 1 [2 \"three\" {four: 4.0}]>"));
	v = cell_ref(cell);
	put(r_c, &v);
}

TEST(mutable_cell_4_6)
{
	p_ref = compile("[$from $tag ref]");
	p_set = compile("[set! $content]");
	ASSERT_NE(NULL, p_ref);
	ASSERT_NE(NULL, p_set);
	RUN(cell_main);
	tm_pattern_free(p_ref);
	tm_pattern_free(p_set);
	EXPECT_STREQ("0", r_a);
	EXPECT_STREQ("42", r_b);
	EXPECT_TRUE(f_a) TH_LOG("cell-set! then cell-ref gave another value");
	EXPECT_STREQ("<point 1 [2 \"three\" {four: 4.0}]>", r_c);
}

/* ---- 4.7: exceptions ----------------------------------------------- */

struct raise_ctx {
	struct tm_term raised;	/* what tm_raise() returned, if it did */
	bool returned;
};

static struct tm_term raise42_body(void *ctx)
{
	struct raise_ctx *rc = ctx;

	rc->raised = tm_raise(tm_int(42));
	rc->returned = true;
	return tm_int(123);
}

/*
 * (list (with-exception-catcher (lambda (e) e)
 *         (lambda () (raise 42) 123)))       => (42)
 * (list (with-exception-handler (lambda (e) e)
 *         (lambda () (raise 42) 123)))       => (123)
 */
static void catcher_main(void *arg)
{
	struct raise_ctx rc = { .returned = false };
	struct tm_term r, l;

	(void)arg;
	r = tm_catch(identity_handler, raise42_body, &rc);
	l = tm_seq(tm_heap(), 1, r);
	put(r_a, &l);
	f_a = rc.returned;
}

static void handler_main(void *arg)
{
	struct raise_ctx rc = { .returned = false };
	struct tm_term r, l;

	(void)arg;
	r = tm_handle(identity_handler, raise42_body, &rc);
	l = tm_seq(tm_heap(), 1, r);
	put(r_a, &l);
	f_a = rc.returned;
	if (rc.returned)
		put(r_b, &rc.raised);
}

TEST(exception_catcher_4_7)
{
	RUN(catcher_main);
	EXPECT_STREQ("[42]", r_a);
	EXPECT_FALSE(f_a) TH_LOG("the body went on after raise");
}

TEST(exception_handler_4_7)
{
	RUN(handler_main);
	EXPECT_STREQ("[123]", r_a);
	EXPECT_TRUE(f_a) TH_LOG("raise did not return to the body");
	EXPECT_STREQ("42", r_b) TH_LOG("raise's value is the handler's");
}

/*
 * Section 3.3: a handler that raises again invokes the nearest
 * encapsulating handler.
 */
static struct tm_term wrap_handler(struct tm_term exc, void *ctx)
{
	(void)ctx;
	return tm_raise(tm_rec(tm_heap(), tm_symbol("wrapped"), 1, exc));
}

static struct tm_term raise1_body(void *ctx)
{
	(void)ctx;
	tm_raise(tm_int(1));
	return tm_symbol("resumed");
}

static struct tm_term inner_catch_body(void *ctx)
{
	(void)ctx;
	tm_catch(wrap_handler, raise1_body, NULL);
	return tm_symbol("inner-returned");
}

static struct tm_term inner_handle_body(void *ctx)
{
	(void)ctx;
	tm_handle(wrap_handler, raise1_body, NULL);
	return tm_symbol("inner-returned");
}

static void nested_main(void *arg)
{
	struct tm_term r;

	(void)arg;
	r = tm_catch(identity_handler, inner_catch_body, NULL);
	put(r_a, &r);
	r = tm_catch(identity_handler, inner_handle_body, NULL);
	put(r_b, &r);
}

TEST(exception_reraise_3_3)
{
	RUN(nested_main);
	EXPECT_STREQ("<wrapped 1>", r_a);
	EXPECT_STREQ("<wrapped 1>", r_b);
}

/*
 * (catch (lambda (exception) #t)
 *   (spawn (lambda () (raise 'error)))
 *   (? 1 'ok)
 *   #f)                                      => #f
 * and with spawn-link                        => #t
 */
struct link_ctx {
	bool link;
	struct tm_term got;	/* what (? 1 'ok) returned */
};

static void raise_error(void *arg)
{
	(void)arg;
	tm_raise(tm_symbol("error"));
}

static struct tm_term true_handler(struct tm_term exc, void *ctx)
{
	(void)ctx;
	put(r_b, &exc);
	return tm_bool(true);
}

static struct tm_term spawn_raise_body(void *ctx)
{
	struct link_ctx *lc = ctx;
	struct tm_term ok = tm_symbol("ok");

	if (lc->link)
		tm_spawn_link(raise_error, NULL);
	else
		tm_spawn(raise_error, NULL);
	lc->got = tm_recv_for(TM_SEC(1), &ok);
	put(r_c, &lc->got);
	return tm_bool(false);
}

static void spawn_raise_main(void *arg)
{
	struct link_ctx lc = { .link = f_d };
	struct tm_term r;

	(void)arg;
	r = tm_catch(true_handler, spawn_raise_body, &lc);
	put(r_a, &r);
}

TEST(spawn_raise_4_7)
{
	f_d = false;
	RUN(spawn_raise_main);
	EXPECT_STREQ("#f", r_a);
	EXPECT_STREQ("ok", r_c);
	EXPECT_STREQ("", r_b) TH_LOG("the handler ran");
}

TEST(spawn_link_raise_4_7)
{
	f_d = true;
	RUN(spawn_raise_main);
	EXPECT_STREQ("#t", r_a);
	EXPECT_STREQ("error", r_b) TH_LOG("the exception is the peer's");
	EXPECT_STREQ("", r_c) TH_LOG("(? 1 'ok) returned");
}

TEST_HARNESS_MAIN
