// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * behaviour.c - generic server, supervisor and supervised process (see
 * behaviour.h for the API and the wire formats), written only against
 * termite.h: every process here is an ordinary termite process whose loop
 * receives with tm_recv() and collects its heap after each message.
 *
 * Start-up.  A behaviour process gets its parameters in a malloc()ed
 * block (pointers passed to tm_spawn() must not point into a stack); it
 * copies what it needs into its own heap and frees the block before
 * anything else.  If the spawn itself raises, the starter frees the block
 * and raises the same exception (spawn_owning()).  The starter waits for
 * <init-ok pid> or <init-failed pid reason>, with a monitor in case the
 * new process is killed first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "behaviour.h"

/* ---- small helpers ------------------------------------------------ */

static struct tm_term sym(const char *s)
{
	return tm_symbol(s);
}

static struct tm_term rec1(const char *label, struct tm_term a)
{
	return tm_rec(tm_heap(), tm_symbol(label), 1, a);
}

static struct tm_term rec2(const char *label, struct tm_term a,
			   struct tm_term b)
{
	return tm_rec(tm_heap(), tm_symbol(label), 2, a, b);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Raise <error "text" errno>, the way termite.h reports API errors. */
static struct tm_term raise_error(const char *text, int err)
{
	return tm_raise(rec2("error", tm_string(text), tm_int(err)));
}

/* A copy of @t in the current heap, from a tm_clone()d block, freed. */
static struct tm_term take_clone(struct tm_term *clone)
{
	struct tm_term t = tm_copy(tm_heap(), clone);

	tm_free(clone);
	return t;
}

/*
 * Spawn @fn(@arg), linked if @link, for a process that will own @owned
 * (its malloc()ed data, which it frees itself).  A spawn that raises
 * (<error "spawn" errno>, e.g. ENOSPC when the port already has
 * max_actors actors) has not started the process, so nobody else would
 * free @owned: @undo(@owned) does, then the same exception is raised
 * again, as the spawn raised it.
 */
struct spawn_try {
	tm_proc_fn fn;
	void *arg;
	bool link;
	bool failed;
};

static struct tm_term spawn_try_body(void *ctx)
{
	struct spawn_try *t = ctx;

	return t->link ? tm_spawn_link(t->fn, t->arg) : tm_spawn(t->fn, t->arg);
}

static struct tm_term spawn_try_caught(struct tm_term exc, void *ctx)
{
	struct spawn_try *t = ctx;

	t->failed = true;
	return exc;
}

static struct tm_term spawn_owning(tm_proc_fn fn, void *arg, bool link,
				   void (*undo)(void *owned), void *owned)
{
	struct spawn_try t = { .fn = fn, .arg = arg, .link = link };
	struct tm_term pid = tm_catch(spawn_try_caught, spawn_try_body, &t);

	if (!t.failed)
		return pid;
	undo(owned);
	tm_raise(pid);
	/* What the spawn raised is an API failure: not resumable either. */
	tm_exit(sym("error"));
}

static bool is_exit_from(const struct tm_term *msg, const struct tm_term *pid)
{
	return tm_record_is(msg, "EXIT", 2) &&
	       tm_equal(tm_record_field(msg, 0), pid);
}

static bool is_down_of(const struct tm_term *msg, const struct tm_term *ref)
{
	return tm_record_is(msg, "DOWN", 3) &&
	       tm_equal(tm_record_field(msg, 0), ref);
}

static bool down_pred(const struct tm_term *msg, void *ctx)
{
	return is_down_of(msg, ctx);
}

static bool exit_pred(const struct tm_term *msg, void *ctx)
{
	return is_exit_from(msg, ctx);
}

/*
 * The <DOWN ref pid reason> of monitor @ref, waiting up to @timeout (0:
 * only if already queued); an invalid term if none came.
 */
static struct tm_term wait_down(struct tm_term ref, int64_t timeout)
{
	struct tm_term none = tm_invalid(TM_EINVAL);

	return tm_recv_if(down_pred, &ref, timeout, &none);
}

/* The <EXIT pid reason> from @pid, as wait_down(). */
static struct tm_term wait_exit(struct tm_term pid, int64_t timeout)
{
	struct tm_term none = tm_invalid(TM_EINVAL);

	return tm_recv_if(exit_pred, &pid, timeout, &none);
}

/* Demonitor, and drop a DOWN the monitor may already have queued. */
static void demonitor_flush(struct tm_term ref)
{
	tm_demonitor(ref);
	wait_down(ref, 0);
}

/* A [from tag msg] call whose msg is a record @label of @arity. */
static bool is_call_of(const struct tm_term *msg, const char *label,
		       size_t arity)
{
	return tm_is(msg, TM_SEQUENCE) && tm_count(msg) == 3 &&
	       tm_is_pid(tm_item(msg, 0)) &&
	       tm_is(tm_item(msg, 1), TM_EMBEDDED) &&
	       tm_record_is(tm_item(msg, 2), label, arity);
}

/* ---- calls (the caller's side) ------------------------------------ */

struct call_wait {
	struct tm_term tag;
	struct tm_term ref;
};

static bool call_pred(const struct tm_term *msg, void *ctx)
{
	struct call_wait *w = ctx;

	if (tm_is(msg, TM_SEQUENCE) && tm_count(msg) == 2)
		return tm_equal(tm_item(msg, 0), &w->tag);
	return is_down_of(msg, &w->ref);
}

/*
 * Send [self tag @msg] to @pid under a monitor and return the value of the
 * [tag value] answer; raise <server-down reason> if @pid dies first, or
 * timeout.
 */
static struct tm_term monitored_call(struct tm_term pid, struct tm_term msg,
				     int64_t timeout)
{
	struct tm_term none = tm_invalid(TM_EINVAL);
	struct call_wait w;
	struct tm_term ans;

	/* The tag first: everything the call waits for is queued after it. */
	w.tag = tm_make_tag();
	w.ref = tm_monitor(pid);
	tm_send(pid, tm_seq(tm_heap(), 3, tm_self(), w.tag, msg));
	ans = tm_recv_if(call_pred, &w, timeout, &none);
	if (!tm_term_valid(&ans)) {
		demonitor_flush(w.ref);
		return tm_raise(sym("timeout"));
	}
	if (tm_is(&ans, TM_RECORD))
		return tm_raise(rec1("server-down", *tm_record_field(&ans, 2)));
	demonitor_flush(w.ref);
	return *tm_item(&ans, 1);
}

/* Send <stop reason> to @pid and wait until it has ended. */
static struct tm_term stop_and_wait(struct tm_term pid, struct tm_term reason)
{
	struct tm_term ref = tm_monitor(pid);
	struct tm_term down;

	tm_send(pid, rec1("stop", reason));
	down = wait_down(ref, TM_FOREVER);
	return *tm_record_field(&down, 2);
}

/* ---- synchronous start -------------------------------------------- */

struct start_wait {
	struct tm_term child;
	struct tm_term ref;
};

static bool start_pred(const struct tm_term *msg, void *ctx)
{
	struct start_wait *w = ctx;

	if (tm_record_is(msg, "init-ok", 1) ||
	    tm_record_is(msg, "init-failed", 2))
		return tm_equal(tm_record_field(msg, 0), &w->child);
	return is_down_of(msg, &w->ref);
}

/*
 * Spawn @fn(@block) and wait for its handshake: its pid, or raise the
 * reason it failed with.  If the spawn raises, @undo(@block) frees the
 * block first.
 */
static struct tm_term start_sync(tm_proc_fn fn, void *block, bool link,
				 void (*undo)(void *block))
{
	struct start_wait w;
	struct tm_term msg;

	w.child = spawn_owning(fn, block, link, undo, block);
	w.ref = tm_monitor(w.child);
	msg = tm_recv_if(start_pred, &w, TM_FOREVER, NULL);
	if (tm_record_is(&msg, "init-ok", 1)) {
		demonitor_flush(w.ref);
		return w.child;
	}
	if (tm_record_is(&msg, "init-failed", 2)) {
		demonitor_flush(w.ref);
		return tm_raise(*tm_record_field(&msg, 1));
	}
	/* <DOWN ref pid reason>: killed before it could answer */
	return tm_raise(*tm_record_field(&msg, 2));
}

/* The handshake, from the new process to its starter. */
static void init_ok(struct tm_term parent)
{
	tm_send(parent, rec1("init-ok", tm_self()));
}

static void init_failed(struct tm_term parent, struct tm_term reason)
{
	tm_send(parent, rec2("init-failed", tm_self(), reason));
}

/* ---- generic server ----------------------------------------------- */

enum { GS_STATE, GS_PARENT, GS_NKEEP };

struct gs_block {
	const struct tm_gen_server_ops *ops;
	struct tm_term *args;		/* tm_clone()d */
	struct tm_term *parent;		/* tm_clone()d */
};

/* A server's own data, on its stack (only its own fiber touches it). */
struct gs {
	const struct tm_gen_server_ops *ops;
	struct tm_term keep[GS_NKEEP];	/* what survives tm_collect() */
	struct tm_term args;		/* for init */
	struct tm_term reason;		/* why init failed */
	int ret;			/* what init returned */
};

static void gs_block_free(void *arg)
{
	struct gs_block *b = arg;

	tm_free(b->args);
	tm_free(b->parent);
	free(b);
}

static struct tm_term bad_return(int ret)
{
	return rec1("bad-return-value", tm_int(ret));
}

static struct tm_term gs_init_body(void *ctx)
{
	struct gs *s = ctx;

	s->keep[GS_STATE] = s->args;
	s->reason = sym("normal");
	s->ret = TM_GEN_CONTINUE;
	if (s->ops->init)
		s->ret = s->ops->init(s->args, &s->keep[GS_STATE], &s->reason);
	if (s->ret != TM_GEN_CONTINUE && s->ret != TM_GEN_STOP) {
		s->reason = bad_return(s->ret);
		s->ret = TM_GEN_STOP;
	}
	return s->reason;
}

static struct tm_term gs_caught(struct tm_term exc, void *ctx)
{
	struct gs *s = ctx;

	s->ret = TM_GEN_STOP;
	s->reason = exc;
	return exc;
}

/* One call: [pid tag <call req>]. */
static int gs_call(struct gs *s, const struct tm_term *msg,
		   struct tm_term *reason)
{
	struct tm_term pid = *tm_item(msg, 0), tag = *tm_item(msg, 1);
	struct tm_term req = *tm_record_field(tm_item(msg, 2), 0);
	struct tm_term from = tm_seq(tm_heap(), 2, pid, tag);
	struct tm_term reply = tm_invalid(TM_EINVAL);
	int ret;

	if (!s->ops->call) {
		tm_reply(pid, tag, tm_bool(false));
		return TM_GEN_CONTINUE;
	}
	ret = s->ops->call(req, from, &s->keep[GS_STATE], &reply, reason);
	switch (ret) {
	case TM_GEN_CONTINUE:
		tm_reply(pid, tag, tm_term_valid(&reply) ? reply : sym("ok"));
		break;
	case TM_GEN_NOREPLY:
		break;
	case TM_GEN_STOP:
		if (tm_term_valid(&reply))
			tm_reply(pid, tag, reply);
		break;
	default:
		*reason = bad_return(ret);
		ret = TM_GEN_STOP;
		break;
	}
	return ret;
}

static int gs_other(struct gs *s, const struct tm_term *msg,
		    struct tm_term *reason)
{
	int (*fn)(struct tm_term msg, struct tm_term *state,
		  struct tm_term *reason);
	struct tm_term arg = *msg;
	int ret;

	if (tm_record_is(msg, "cast", 1)) {
		fn = s->ops->cast;
		arg = *tm_record_field(msg, 0);
	} else {
		fn = s->ops->info;
	}
	if (!fn)
		return TM_GEN_CONTINUE;
	ret = fn(arg, &s->keep[GS_STATE], reason);
	if (ret == TM_GEN_NOREPLY)
		ret = TM_GEN_CONTINUE;
	if (ret != TM_GEN_CONTINUE && ret != TM_GEN_STOP) {
		*reason = bad_return(ret);
		ret = TM_GEN_STOP;
	}
	return ret;
}

/* The server loop; returns the reason to stop with. */
static struct tm_term gs_loop(void *ctx)
{
	struct gs *s = ctx;

	for (;;) {
		struct tm_term msg = tm_recv();
		struct tm_term reason = sym("normal");
		int ret;

		if (is_call_of(&msg, "call", 1)) {
			ret = gs_call(s, &msg, &reason);
		} else if (tm_record_is(&msg, "stop", 1)) {
			reason = *tm_record_field(&msg, 0);
			ret = TM_GEN_STOP;
		} else if (is_exit_from(&msg, &s->keep[GS_PARENT])) {
			reason = *tm_record_field(&msg, 1);
			ret = TM_GEN_STOP;
		} else {
			ret = gs_other(s, &msg, &reason);
		}
		if (ret == TM_GEN_STOP)
			return reason;
		tm_collect(s->keep, GS_NKEEP);
	}
}

static void gs_main(void *arg)
{
	struct gs_block *b = arg;
	struct tm_term reason;
	struct gs s;

	memset(&s, 0, sizeof(s));
	s.ops = b->ops;
	s.keep[GS_PARENT] = take_clone(b->parent);
	s.args = take_clone(b->args);
	free(b);

	tm_catch(gs_caught, gs_init_body, &s);
	if (s.ret == TM_GEN_STOP) {
		init_failed(s.keep[GS_PARENT], s.reason);
		tm_exit(s.reason);
	}
	init_ok(s.keep[GS_PARENT]);
	tm_collect(s.keep, GS_NKEEP);

	reason = tm_catch(gs_caught, gs_loop, &s);
	if (s.ops->terminate)
		s.ops->terminate(reason, s.keep[GS_STATE]);
	tm_exit(reason);
}

static struct tm_term gs_start(const struct tm_gen_server_ops *ops,
			       struct tm_term args, bool link)
{
	struct gs_block *b = calloc(1, sizeof(*b));
	struct tm_term self = tm_self();

	if (!b)
		return raise_error("gen_server start: out of memory", ENOMEM);
	b->ops = ops;
	b->args = tm_clone(&args);
	b->parent = tm_clone(&self);
	if (!b->args || !b->parent) {
		gs_block_free(b);
		return raise_error("gen_server start: cannot copy args",
				   ENOMEM);
	}
	return start_sync(gs_main, b, link, gs_block_free);
}

struct tm_term tm_gen_server_start(const struct tm_gen_server_ops *ops,
				   struct tm_term args)
{
	return gs_start(ops, args, false);
}

struct tm_term tm_gen_server_start_link(const struct tm_gen_server_ops *ops,
					struct tm_term args)
{
	return gs_start(ops, args, true);
}

struct tm_term tm_gen_server_call(struct tm_term pid, struct tm_term req,
				  int64_t timeout)
{
	return monitored_call(pid, rec1("call", req), timeout);
}

void tm_gen_server_cast(struct tm_term pid, struct tm_term msg)
{
	tm_send(pid, rec1("cast", msg));
}

void tm_gen_server_reply(struct tm_term from, struct tm_term reply)
{
	if (!tm_is(&from, TM_SEQUENCE) || tm_count(&from) != 2) {
		raise_error("gen_server reply: from is not [pid tag]", EINVAL);
		return;
	}
	tm_reply(*tm_item(&from, 0), *tm_item(&from, 1), reply);
}

struct tm_term tm_gen_server_stop(struct tm_term pid, struct tm_term reason)
{
	return stop_and_wait(pid, reason);
}

/* ---- restart intensity -------------------------------------------- */

/* At most @max restarts within @period ns: the times of the recent ones. */
struct restarts {
	unsigned int max;
	int64_t period;
	unsigned int n;
	int64_t *t;		/* room for max (at least 1) */
};

static int restarts_init(struct restarts *r, unsigned int max,
			 int64_t period)
{
	r->max = max;
	r->period = period;
	r->n = 0;
	r->t = calloc(max ? max : 1, sizeof(*r->t));
	return r->t ? 0 : -ENOMEM;
}

/* Count a restart now; false when that is one too many. */
static bool restarts_add(struct restarts *r)
{
	int64_t now = now_ns();
	unsigned int i, j = 0;

	for (i = 0; i < r->n; i++)
		if (now - r->t[i] <= r->period)
			r->t[j++] = r->t[i];
	r->n = j;
	if (r->n >= r->max)
		return false;
	r->t[r->n++] = now;
	return true;
}

/* ---- supervisor ----------------------------------------------------- */

/*
 * A supervisor's data, malloc()ed by its starter and owned by the
 * supervisor from then on.  keep[0] is its parent, keep[1 + i] the pid
 * of child i or #f: exactly what it keeps across tm_collect().
 */
struct sup {
	enum tm_sup_strategy strategy;
	size_t n;
	struct tm_child_spec *spec;	/* n copies */
	bool *removed;			/* temporary ones that ended */
	struct tm_term *keep;		/* 1 + n */
	struct tm_term *parent;		/* tm_clone()d, until started */
	struct restarts r;
	/* start_child()'s context */
	size_t cur;
	bool failed;
	struct tm_term why;
};

static void sup_free(void *arg)
{
	struct sup *s = arg;

	free(s->spec);
	free(s->removed);
	free(s->keep);
	tm_free(s->parent);
	free(s->r.t);
	free(s);
}

static struct tm_term *child_pid(struct sup *s, size_t i)
{
	return &s->keep[1 + i];
}

static struct tm_term sup_start_body(void *ctx)
{
	struct sup *s = ctx;
	const struct tm_child_spec *c = &s->spec[s->cur];
	struct tm_term pid;

	pid = c->start ? c->start(c->arg) : tm_spawn_link(c->fn, c->arg);
	if (!tm_is_pid(&pid))
		return tm_raise(rec1("bad-start-result", pid));
	return pid;
}

static struct tm_term sup_start_caught(struct tm_term exc, void *ctx)
{
	struct sup *s = ctx;

	s->failed = true;
	s->why = exc;
	return exc;
}

/* Start child @i: true, or false with the reason in s->why. */
static bool sup_start_child(struct sup *s, size_t i)
{
	struct tm_term pid;

	s->cur = i;
	s->failed = false;
	pid = tm_catch(sup_start_caught, sup_start_body, s);
	if (s->failed)
		return false;
	*child_pid(s, i) = pid;
	return true;
}

/*
 * Stop child @i: monitor it, unlink (dropping an <EXIT> it may already
 * have sent), then the exit signal shutdown and its grace, or tm_kill().
 */
static void sup_terminate_child(struct sup *s, size_t i)
{
	struct tm_term pid = *child_pid(s, i);
	int64_t grace = s->spec[i].shutdown;
	struct tm_term ref, down;

	if (!tm_is_pid(&pid))
		return;
	ref = tm_monitor(pid);
	tm_unlink(pid);
	wait_exit(pid, 0);
	if (grace == TM_SHUTDOWN_BRUTAL) {
		tm_kill(pid);
	} else {
		tm_exit_signal(pid, sym("shutdown"));
		down = wait_down(ref, grace < 0 ? TM_FOREVER : grace);
		if (tm_term_valid(&down))
			goto out;
		tm_kill(pid);
	}
	wait_down(ref, TM_FOREVER);
out:
	*child_pid(s, i) = tm_bool(false);
	if (s->spec[i].restart == TM_TEMPORARY)
		s->removed[i] = true;
}

static void sup_terminate_all(struct sup *s)
{
	size_t i;

	for (i = s->n; i-- > 0;)
		sup_terminate_child(s, i);
}

static _Noreturn void sup_exit(struct sup *s, struct tm_term reason)
{
	sup_terminate_all(s);
	sup_free(s);
	tm_exit(reason);
}

/* Start every child that should run, in order; false on a failure. */
static bool sup_start_all(struct sup *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (s->removed[i] || tm_is_pid(child_pid(s, i)))
			continue;
		if (!sup_start_child(s, i))
			return false;
	}
	return true;
}

static bool should_restart(enum tm_restart restart, struct tm_term reason)
{
	switch (restart) {
	case TM_PERMANENT:
		return true;
	case TM_TRANSIENT:
		return !tm_symbol_is(&reason, "normal") &&
		       !tm_symbol_is(&reason, "shutdown") &&
		       !tm_record_is(&reason, "shutdown", 1);
	default:
		return false;
	}
}

/* Child @i ended with @reason. */
static void sup_child_exited(struct sup *s, size_t i, struct tm_term reason)
{
	*child_pid(s, i) = tm_bool(false);
	if (s->spec[i].restart == TM_TEMPORARY)
		s->removed[i] = true;
	if (!should_restart(s->spec[i].restart, reason))
		return;
	for (;;) {
		if (!restarts_add(&s->r))
			sup_exit(s, sym("shutdown"));
		if (s->strategy == TM_ONE_FOR_ALL) {
			sup_terminate_all(s);
			if (sup_start_all(s))
				return;
		} else if (sup_start_child(s, i)) {
			return;
		}
	}
}

static struct tm_term child_id(const struct tm_child_spec *c)
{
	return tm_string(c->id ? c->id : "");
}

static struct tm_term sup_which_children(struct sup *s)
{
	struct tm_term *items;
	size_t i;

	items = tm_arena_alloc(tm_heap(), (s->n ? s->n : 1) * sizeof(*items));
	if (!items)
		return raise_error("supervisor: out of memory", ENOMEM);
	for (i = 0; i < s->n; i++)
		items[i] = tm_seq(tm_heap(), 2, child_id(&s->spec[i]),
				  *child_pid(s, i));
	return tm_sequence(tm_heap(), items, s->n);
}

static void sup_main(void *arg)
{
	struct sup *s = arg;
	struct tm_term parent, reason;
	size_t i;

	parent = s->keep[0] = take_clone(s->parent);
	s->parent = NULL;
	for (i = 0; i < s->n; i++)
		*child_pid(s, i) = tm_bool(false);
	tm_trap_exit(true);
	for (i = 0; i < s->n; i++) {
		if (sup_start_child(s, i))
			continue;
		reason = rec2("failed-to-start-child", child_id(&s->spec[i]),
			      s->why);
		sup_terminate_all(s);
		init_failed(parent, reason);
		sup_free(s);
		tm_exit(reason);
	}
	init_ok(parent);
	tm_collect(s->keep, 1 + s->n);

	for (;;) {
		struct tm_term msg = tm_recv();

		if (tm_record_is(&msg, "EXIT", 2)) {
			const struct tm_term *from = tm_record_field(&msg, 0);

			reason = *tm_record_field(&msg, 1);
			if (tm_equal(from, &s->keep[0]))
				sup_exit(s, reason);
			for (i = 0; i < s->n; i++)
				if (tm_equal(from, child_pid(s, i)))
					break;
			if (i < s->n)
				sup_child_exited(s, i, reason);
		} else if (tm_record_is(&msg, "stop", 1)) {
			sup_exit(s, *tm_record_field(&msg, 0));
		} else if (is_call_of(&msg, "which-children", 0)) {
			tm_reply(*tm_item(&msg, 0), *tm_item(&msg, 1),
				 sup_which_children(s));
		}
		tm_collect(s->keep, 1 + s->n);
	}
}

static struct tm_term sup_start(const struct tm_sup_spec *spec, bool link)
{
	struct tm_term self = tm_self();
	struct sup *s = calloc(1, sizeof(*s));
	size_t n = spec->nchildren;

	if (!s)
		goto nomem;
	s->strategy = spec->strategy;
	s->n = n;
	s->spec = calloc(n ? n : 1, sizeof(*s->spec));
	s->removed = calloc(n ? n : 1, sizeof(*s->removed));
	s->keep = calloc(1 + n, sizeof(*s->keep));
	s->parent = tm_clone(&self);
	if (!s->spec || !s->removed || !s->keep || !s->parent ||
	    restarts_init(&s->r, spec->intensity, spec->period))
		goto nomem;
	if (n)
		memcpy(s->spec, spec->children, n * sizeof(*s->spec));
	return start_sync(sup_main, s, link, sup_free);
nomem:
	if (s)
		sup_free(s);
	return raise_error("supervisor start: out of memory", ENOMEM);
}

struct tm_term tm_supervisor_start(const struct tm_sup_spec *spec)
{
	return sup_start(spec, false);
}

struct tm_term tm_supervisor_start_link(const struct tm_sup_spec *spec)
{
	return sup_start(spec, true);
}

struct tm_term tm_supervisor_stop(struct tm_term pid, struct tm_term reason)
{
	return stop_and_wait(pid, reason);
}

struct tm_term tm_supervisor_which_children(struct tm_term pid,
					    int64_t timeout)
{
	return monitored_call(pid, tm_record(tm_heap(),
					     sym("which-children"), NULL, 0),
			      timeout);
}

/* ---- the paper's supervised process --------------------------------- */

#define SV_DEFAULT_RESTARTS	3
#define SV_DEFAULT_PERIOD	TM_SEC(5)
#define SV_DEFAULT_GRACE	TM_SEC(1)

/* malloc()ed by tm_spawn_supervised(), owned by the supervisor. */
struct sv {
	tm_proc_fn fn;
	void *arg;
	struct tm_supervised_opts o;
	struct restarts r;
	struct tm_term worker;		/* kept across tm_collect() */
};

static void sv_trace(struct sv *s, const char *line)
{
	if (s->o.trace)
		s->o.trace(line, s->o.trace_ctx);
}

static void sv_free(void *arg)
{
	struct sv *s = arg;

	free(s->r.t);
	free(s);
}

/*
 * A worker that cannot be spawned ends the supervisor with what the spawn
 * raised; its data is freed first.
 */
static void sv_start_worker(struct sv *s)
{
	sv_trace(s, TM_SUP_TRACE_START);
	s->worker = spawn_owning(s->fn, s->arg, true, sv_free, s);
}

static _Noreturn void sv_halt(struct sv *s, struct tm_term reason)
{
	sv_trace(s, TM_SUP_TRACE_HALT);
	sv_free(s);
	tm_exit(reason);
}

/* Ask the worker to stop, wait the grace, else terminate it; halt. */
static _Noreturn void sv_shutdown(struct sv *s, struct tm_term reason)
{
	struct tm_term ex;

	tm_send(s->worker, sym("shutdown"));
	ex = wait_exit(s->worker, s->o.grace);
	if (!tm_term_valid(&ex)) {
		tm_kill(s->worker);
		sv_trace(s, TM_SUP_TRACE_KILLED);
		wait_exit(s->worker, TM_FOREVER);
	}
	sv_halt(s, reason);
}

static void sv_main(void *arg)
{
	struct sv *s = arg;

	tm_trap_exit(true);
	sv_start_worker(s);
	for (;;) {
		struct tm_term msg = tm_recv();

		if (is_exit_from(&msg, &s->worker)) {
			struct tm_term reason = *tm_record_field(&msg, 1);

			if (tm_symbol_is(&reason, "normal"))
				sv_halt(s, reason);
			sv_trace(s, TM_SUP_TRACE_FAILED);
			if (!restarts_add(&s->r))
				sv_halt(s, sym("shutdown"));
			sv_trace(s, TM_SUP_TRACE_RESTART);
			sv_start_worker(s);
		} else if (tm_symbol_is(&msg, "shutdown")) {
			sv_shutdown(s, sym("normal"));
		} else if (tm_record_is(&msg, "EXIT", 2)) {
			/*
			 * Another linked process ended: what would happen
			 * to a process not trapping exits happens to us.
			 */
			struct tm_term reason = *tm_record_field(&msg, 1);

			if (!tm_symbol_is(&reason, "normal"))
				sv_shutdown(s, reason);
		} else {
			tm_send(s->worker, msg);
		}
		tm_collect(&s->worker, 1);
	}
}

struct tm_term tm_spawn_supervised(tm_proc_fn fn, void *arg,
				   const struct tm_supervised_opts *opts)
{
	struct sv *s = calloc(1, sizeof(*s));

	if (!s)
		return raise_error("spawn_supervised: out of memory", ENOMEM);
	s->fn = fn;
	s->arg = arg;
	if (opts)
		s->o = *opts;
	if (s->o.max_restarts == 0 && s->o.period == 0) {
		s->o.max_restarts = SV_DEFAULT_RESTARTS;
		s->o.period = SV_DEFAULT_PERIOD;
	}
	if (s->o.grace <= 0)
		s->o.grace = SV_DEFAULT_GRACE;
	if (restarts_init(&s->r, s->o.max_restarts, s->o.period)) {
		free(s);
		return raise_error("spawn_supervised: out of memory", ENOMEM);
	}
	s->worker = tm_bool(false);
	return spawn_owning(sv_main, s, false, sv_free, s);
}
