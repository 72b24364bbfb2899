// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * proc.c - Termite processes: green threads bound to kernel actors.
 *
 * Each scheduler (struct tm_rt, one per OS thread) owns a port on
 * /dev/termite and a fiber scheduler (fiber.h).  A process is a fiber plus
 * a kernel actor of that port in mode DELIVER, so the kernel queues its
 * messages, keeps its links and monitors, and hands it the exit signals of
 * its peers, which a receive raises as exceptions.
 *
 * Receiving never blocks the thread: a receive asks the kernel without
 * waiting and, if nothing matches, parks the fiber.  When no fiber can run,
 * the scheduler's idle hook fires due timers, starts processes handed over
 * by other threads, asks the kernel which actors have news
 * (TERMITE_IOC_READY) and resumes their fibers, or sleeps in poll() on the
 * port and an eventfd until one of those can happen.
 *
 * Selective receive walks the mailbox with the kernel's cursor (PEEK +
 * AFTER, then SEQ to take the chosen message), so a predicate sees each
 * message once per receive and non-matching messages keep their order.
 * Replies to tm_call() travel with a kernel tag (a message that is a
 * sequence starting with a tag of this node gets it automatically), so the
 * caller selects its reply in the kernel, which skips every message that
 * was queued before the tag was made.
 *
 * Exceptions: a stack of frames on the fiber's own stack; a catcher frame
 * is left by a non-local jump, a handler is called where tm_raise() runs.  An
 * uncaught exception, tm_exit(), or the kernel's death notice of a killed
 * actor jumps to the base of the process, which reports its exit
 * reason to the kernel and frees the process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/termite.h>
#include "fiber.h"
#include "termite.h"

#define TM_RXBUF_MIN	4096
#define TM_READY_MAX	256
#define TM_STACK_MSG	512

/*
 * Non-local exits use GCC's built-in setjmp: five words instead of glibc's
 * 200-byte jmp_buf (which a parked process would keep in its saved stack),
 * no signal mask.  The builtin longjmp must not be called from the
 * function that did the setjmp; here it never is.
 */
typedef void *tm_jmp_buf[5];
#define tm_setjmp(b)	__builtin_setjmp(b)
#define tm_longjmp(b)	__builtin_longjmp(b, 1)

struct tm_frame {
	struct tm_frame *up;
	bool catcher;
	tm_handler_fn handler;
	void *ctx;
	struct tm_term exc;
	tm_jmp_buf jb;
};

struct tm_rt;

struct tm_proc {
	uint64_t id;
	struct tm_rt *rt;
	struct tm_fiber *fiber;
	tm_proc_fn fn;
	void *arg;
	struct tm_arena heap;
	struct tm_frame *frames;
	void **base;			/* its tm_jmp_buf */
	struct tm_term reason;		/* why it ends */
	bool dead;			/* the kernel already knows */
	bool waiting;			/* parked until news or a timer */
	bool trap;
	uint64_t timer_gen;
	struct tm_proc *next;		/* hash chain, or inbox */
};

struct tm_timer {
	int64_t when;
	uint64_t id;
	uint64_t gen;
};

struct tm_rt {
	struct tm_sched fs;
	unsigned int idx;
	int fd;
	int efd;
	pthread_t thread;
	pthread_mutex_t inbox_lock;
	struct tm_proc *inbox;		/* started here, spawned elsewhere */
	struct tm_proc **tab;		/* id -> process, chained */
	size_t tab_size, tab_count;
	struct tm_timer *timers;	/* binary min-heap on when */
	size_t ntimers, timers_cap;
	struct tm_arena scratch;	/* terms made outside any process */
	/*
	 * The receive buffer of all its processes (header + payload): a
	 * message is decoded before its receiver can be switched out.
	 */
	uint8_t *buf;
	size_t cap;
};

static struct {
	struct tm_rt *rts;
	unsigned int n;
	uint64_t universe;
	atomic_ulong live;
	atomic_uint rr;
} tm_node;

static __thread struct tm_rt *tm_cur_rt;

/* ---- helpers ------------------------------------------------------ */

static int64_t tm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct tm_proc *tm_cur(void)
{
	struct tm_fiber *f = tm_cur_rt ? tm_fiber_self() : NULL;

	return f ? tm_fiber_data(f) : NULL;
}

static struct tm_proc *tm_must(void)
{
	struct tm_proc *p = tm_cur();

	if (!p) {
		fprintf(stderr, "termite: called outside a process\n");
		abort();
	}
	return p;
}

struct tm_arena *tm_heap(void)
{
	struct tm_proc *p = tm_cur();

	return p ? &p->heap : &tm_cur_rt->scratch;
}

static _Noreturn void tm_die(struct tm_proc *p, struct tm_term reason)
{
	p->reason = reason;
	tm_longjmp(p->base);
}

/* Raise <error "what" errno> for a failure of the API itself. */
static _Noreturn void tm_fail(const char *what, int err)
{
	struct tm_arena *a = tm_heap();

	tm_raise(tm_rec(a, tm_symbol("error"), 2, tm_string(what),
			tm_int(err)));
	/* A handler cannot resume an API failure: end the process. */
	tm_die(tm_must(), tm_symbol("error"));
}

/* ---- pids and tags ------------------------------------------------ */

static struct tm_term tm_ref_term(uint64_t id, uint8_t kind)
{
	struct tm_ref *r = tm_arena_alloc(tm_heap(), sizeof(*r));
	uint64_t u = tm_node.universe;
	int i;

	if (!r)
		return tm_invalid(TM_ENOMEM);
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->kind = kind;
	r->node_len = 8;
	for (i = 0; i < 8; i++)
		r->node[i] = u >> (56 - 8 * i);
	return tm_embedded(r);
}

/* The id of a reference of kind @kind on this node, or 0. */
static uint64_t tm_ref_id(const struct tm_term *t, uint8_t kind)
{
	const struct tm_ref *r;
	uint64_t u = 0;
	int i;

	if (!tm_is(t, TM_EMBEDDED))
		return 0;
	r = t->u.ref;
	if (r->kind != kind)
		return 0;
	if (r->node_len) {
		if (r->node_len != 8)
			return 0;
		for (i = 0; i < 8; i++)
			u = u << 8 | r->node[i];
		if (u != tm_node.universe)
			return 0;
	}
	return r->id;
}

struct tm_term tm_pid_of(uint64_t actor)
{
	return tm_ref_term(actor, TM_REF_PID);
}

uint64_t tm_pid_id(const struct tm_term *t)
{
	return tm_ref_id(t, TM_REF_PID);
}

bool tm_is_pid(const struct tm_term *t)
{
	return tm_is(t, TM_EMBEDDED) && t->u.ref->kind == TM_REF_PID;
}

struct tm_term tm_self(void)
{
	return tm_pid_of(tm_must()->id);
}

static uint64_t tm_need_pid(const struct tm_term *pid)
{
	uint64_t id = tm_pid_id(pid);

	if (!id)
		tm_fail("not a pid of this node", EINVAL);
	return id;
}

/* ---- the process table and timers of a scheduler -------------------- */

static size_t tm_hash_id(const struct tm_rt *rt, uint64_t id)
{
	return (id ^ id >> 29) & (rt->tab_size - 1);
}

static void tm_tab_add(struct tm_rt *rt, struct tm_proc *p)
{
	size_t i;

	if (rt->tab_count >= rt->tab_size) {
		size_t old = rt->tab_size, n = old ? old * 2 : 64;
		struct tm_proc **tab = calloc(n, sizeof(*tab)), **ot = rt->tab;

		if (!tab)
			abort();
		rt->tab = tab;
		rt->tab_size = n;
		for (i = 0; i < old; i++) {
			while (ot[i]) {
				struct tm_proc *q = ot[i];
				size_t h = tm_hash_id(rt, q->id);

				ot[i] = q->next;
				q->next = tab[h];
				tab[h] = q;
			}
		}
		free(ot);
	}
	i = tm_hash_id(rt, p->id);
	p->next = rt->tab[i];
	rt->tab[i] = p;
	rt->tab_count++;
}

static struct tm_proc *tm_tab_find(struct tm_rt *rt, uint64_t id)
{
	struct tm_proc *p;

	if (!rt->tab_size)
		return NULL;
	for (p = rt->tab[tm_hash_id(rt, id)]; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void tm_tab_del(struct tm_rt *rt, struct tm_proc *p)
{
	struct tm_proc **pp = &rt->tab[tm_hash_id(rt, p->id)];

	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = p->next;
		rt->tab_count--;
	}
}

static void tm_timer_add(struct tm_rt *rt, int64_t when, uint64_t id,
			 uint64_t gen)
{
	struct tm_timer t = { when, id, gen };
	size_t i;

	if (rt->ntimers == rt->timers_cap) {
		size_t n = rt->timers_cap ? rt->timers_cap * 2 : 64;
		struct tm_timer *nt = realloc(rt->timers, n * sizeof(*nt));

		if (!nt)
			abort();
		rt->timers = nt;
		rt->timers_cap = n;
	}
	for (i = rt->ntimers++; i && rt->timers[(i - 1) / 2].when > when;
	     i = (i - 1) / 2)
		rt->timers[i] = rt->timers[(i - 1) / 2];
	rt->timers[i] = t;
}

static void tm_timer_pop(struct tm_rt *rt)
{
	struct tm_timer last = rt->timers[--rt->ntimers];
	size_t i = 0, c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= rt->ntimers)
			break;
		if (c + 1 < rt->ntimers &&
		    rt->timers[c + 1].when < rt->timers[c].when)
			c++;
		if (rt->timers[c].when >= last.when)
			break;
		rt->timers[i] = rt->timers[c];
		i = c;
	}
	if (rt->ntimers)
		rt->timers[i] = last;
}

/* ---- scheduling ----------------------------------------------------- */

static void tm_wake(struct tm_proc *p)
{
	if (p && p->waiting) {
		p->waiting = false;
		tm_fiber_resume(p->fiber);
	}
}

static void tm_proc_main(void *arg);

static void tm_start_local(struct tm_rt *rt, struct tm_proc *p)
{
	p->fiber = tm_fiber_spawn(&rt->fs, tm_proc_main, p);
	if (!p->fiber)
		abort();
	tm_fiber_set_data(p->fiber, p);
	tm_tab_add(rt, p);
}

/*
 * Everything that can make a fiber runnable: due timers, processes handed
 * over by other threads, actors the kernel reports ready.  Sleeps in
 * poll() until one of them if @block.  Returns how many fibers it woke.
 */
static int tm_events(struct tm_rt *rt, bool block)
{
	uint64_t ids[TM_READY_MAX];
	struct termite_ready rd;
	struct pollfd pfd[2];
	struct tm_proc *in;
	int64_t now, timeout;
	int woke, i;

	for (;;) {
		woke = 0;
		now = tm_now();
		while (rt->ntimers && rt->timers[0].when <= now) {
			struct tm_timer t = rt->timers[0];
			struct tm_proc *p = tm_tab_find(rt, t.id);

			tm_timer_pop(rt);
			if (p && p->waiting && p->timer_gen == t.gen) {
				tm_wake(p);
				woke++;
			}
		}
		if (__atomic_load_n(&rt->inbox, __ATOMIC_ACQUIRE)) {
			uint64_t v;

			pthread_mutex_lock(&rt->inbox_lock);
			in = rt->inbox;
			rt->inbox = NULL;
			pthread_mutex_unlock(&rt->inbox_lock);
			if (read(rt->efd, &v, sizeof(v)) < 0)
				v = 0;
			while (in) {
				struct tm_proc *p = in;

				in = in->next;
				tm_start_local(rt, p);
				woke++;
			}
		}
		do {
			memset(&rd, 0, sizeof(rd));
			rd.ids = (uintptr_t)ids;
			rd.count = TM_READY_MAX;
			if (ioctl(rt->fd, TERMITE_IOC_READY, &rd))
				rd.count = 0;
			for (i = 0; i < (int)rd.count; i++) {
				struct tm_proc *p = tm_tab_find(rt, ids[i]);

				if (p && p->waiting) {
					tm_wake(p);
					woke++;
				}
			}
		} while (rd.count == TM_READY_MAX);
		if (woke || !block)
			return woke;
		if (!atomic_load(&tm_node.live))
			return 0;

		timeout = -1;
		if (rt->ntimers) {
			timeout = (rt->timers[0].when - tm_now() + 999999) / 1000000;
			if (timeout < 0)
				timeout = 0;
		}
		pfd[0].fd = rt->fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = rt->efd;
		pfd[1].events = POLLIN;
		poll(pfd, 2, timeout > 1000000 ? 1000000 : (int)timeout);
	}
}

static int tm_idle(struct tm_sched *s)
{
	tm_events(s->data, true);
	return 0;
}

/* Park the calling process until news, a wake-up, or @deadline (<0: none). */
static void tm_park(struct tm_proc *p, int64_t deadline)
{
	p->waiting = true;
	p->timer_gen++;
	if (deadline >= 0)
		tm_timer_add(p->rt, deadline, p->id, p->timer_gen);
	tm_fiber_suspend();
	p->waiting = false;
	p->timer_gen++;
}

void tm_yield(void)
{
	tm_events(tm_cur_rt, false);
	tm_fiber_yield();
}

void tm_sleep(int64_t ns)
{
	struct tm_proc *p = tm_must();
	int64_t deadline = tm_now() + ns;

	while (tm_now() < deadline)
		tm_park(p, deadline);
}

/* ---- exit reasons ---------------------------------------------------- */

static const char *const tm_code_names[] = {
	[TERMITE_EXIT_NORMAL] = "normal",
	[TERMITE_EXIT_KILL] = "kill",
	[TERMITE_EXIT_KILLED] = "killed",
	[TERMITE_EXIT_NOPROC] = "noproc",
	[TERMITE_EXIT_NOCONNECTION] = "noconnection",
	[TERMITE_EXIT_PORT_CLOSED] = "port-closed",
};

/* The term for an exit reason the kernel reports. */
static struct tm_term tm_reason_term(uint32_t code, const void *data,
				     size_t len)
{
	struct tm_arena *a = tm_heap();
	struct tm_term t;

	if (code < TERMITE_EXIT_ERROR &&
	    code < sizeof(tm_code_names) / sizeof(tm_code_names[0]))
		return tm_symbol(tm_code_names[code]);
	if (code == TERMITE_EXIT_ERROR && len &&
	    !tm_decode(a, data, len, 0, NULL, &t, NULL))
		return t;
	return tm_rec(a, tm_symbol("exit-code"), 1, tm_int(code));
}

/* The kernel code for a reason term; an application error otherwise. */
static uint32_t tm_reason_code(const struct tm_term *r)
{
	uint32_t c;

	for (c = 0; c < sizeof(tm_code_names) / sizeof(tm_code_names[0]); c++)
		if (c != TERMITE_EXIT_KILL && tm_symbol_is(r, tm_code_names[c]))
			return c;
	return TERMITE_EXIT_ERROR;
}

/* ---- messages ------------------------------------------------------ */

/* A received message as a term in the process's heap. */
static struct tm_term tm_msg_term(const struct termite_msghdr *h,
				  const uint8_t *data)
{
	struct tm_arena *a = tm_heap();
	struct tm_term t;

	switch (h->kind) {
	case TM_KIND_TERM:
		if (!tm_decode(a, data, h->len, 0, NULL, &t, NULL))
			return t;
		/* tm_bytes() only points: copy out of the shared buffer. */
		t = tm_rec(a, tm_symbol("bad-message"), 1,
			   tm_bytes(data, h->len));
		return tm_copy(a, &t);
	case TERMITE_KIND_EXIT:
		return tm_rec(a, tm_symbol("EXIT"), 2, tm_pid_of(h->from),
			      tm_reason_term(h->code, data, h->len));
	case TERMITE_KIND_DOWN:
		return tm_rec(a, tm_symbol("DOWN"), 3,
			      tm_ref_term(h->tag, TM_REF_TAG),
			      tm_pid_of(h->from),
			      tm_reason_term(h->code, data, h->len));
	default:
		t = tm_rec(a, tm_symbol("raw"), 2, tm_int(h->kind),
			   tm_bytes(data, h->len));
		return tm_copy(a, &t);
	}
}

static void tm_send_raw(struct tm_proc *p, uint64_t to, uint64_t tag,
			uint32_t kind, const void *buf, size_t len)
{
	struct termite_send s;
	int tries = 0;

	for (;;) {
		memset(&s, 0, sizeof(s));
		s.from = p->id;
		s.to = to;
		s.tag = tag;
		s.buf = (uintptr_t)buf;
		s.len = len;
		s.kind = kind;
		if (!ioctl(p->rt->fd, TERMITE_IOC_SEND, &s)) {
			/*
			 * A receiver parked on this scheduler has news: run
			 * it without waiting for READY to say so.  It still
			 * receives through the kernel.
			 */
			tm_wake(tm_tab_find(p->rt, to));
			return;
		}
		switch (errno) {
		case ESRCH:		/* send and pray: the peer is gone */
			return;
		case EAGAIN:
		case ENOBUFS:		/* full: let the receiver drain */
			if (++tries < 16)
				tm_yield();
			else
				tm_sleep(TM_MS(1));
			break;
		case EOWNERDEAD:	/* we were killed: learn why */
			tm_recv_for(0, NULL);
			tm_die(p, tm_symbol("killed"));
		default:
			tm_fail("send", errno);
		}
	}
}

/* Encode @t (into @stack if it fits) and send it; kernel tag @tag. */
static void tm_send_term(struct tm_proc *p, uint64_t to, uint64_t tag,
			 const struct tm_term *t)
{
	uint8_t stack[TM_STACK_MSG], *buf = stack;
	ssize_t n = tm_encode(t, stack, sizeof(stack));

	if (n < 0)
		tm_fail("encode", -n);
	if ((size_t)n > sizeof(stack)) {
		buf = malloc(n);
		if (!buf)
			tm_fail("send", ENOMEM);
		tm_encode(t, buf, n);
	}
	tm_send_raw(p, to, tag, TM_KIND_TERM, buf, n);
	if (buf != stack)
		free(buf);
}

void tm_send(struct tm_term pid, struct tm_term msg)
{
	struct tm_proc *p = tm_must();
	uint64_t tag = 0;

	/* [tag ...]: a reply; let the kernel select it by its tag. */
	if (tm_is(&msg, TM_SEQUENCE) && tm_count(&msg))
		tag = tm_ref_id(tm_item(&msg, 0), TM_REF_TAG);
	tm_send_term(p, tm_need_pid(&pid), tag, &msg);
}

void tm_send_tagged(struct tm_term pid, struct tm_term tag, struct tm_term msg)
{
	struct tm_proc *p = tm_must();

	tm_send_term(p, tm_need_pid(&pid), tm_ref_id(&tag, TM_REF_TAG), &msg);
}

/*
 * One receive as described by @r (flags, cursor, matches), waiting until
 * @deadline (<0: forever, 0: not at all).  Exit signals are raised here; a
 * death notice ends the process.  Returns the payload length with the
 * message in p->rt->buf, or -ETIMEDOUT, or -ENOMSG (RECV_SEQ).
 */
static int tm_rx(struct tm_proc *p, struct termite_recv *r, int64_t deadline)
{
	struct termite_msghdr *h;
	int n;

	for (;;) {
		r->actor = p->id;
		r->buf = (uintptr_t)p->rt->buf;
		r->buf_len = p->rt->cap;
		r->timeout_ns = 0;
		n = ioctl(p->rt->fd, TERMITE_IOC_RECV, r);
		h = (struct termite_msghdr *)p->rt->buf;
		if (n >= 0) {
			const uint8_t *data = p->rt->buf + sizeof(*h);

			if (h->flags & TERMITE_MSG_DEAD) {
				p->dead = true;
				tm_die(p, tm_reason_term(h->code, data, h->len));
			}
			if (h->flags & TERMITE_MSG_SIGNAL) {
				tm_raise(tm_reason_term(h->code, data, h->len));
				continue;	/* a handler resumed: go on */
			}
			return n;
		}
		switch (errno) {
		case EMSGSIZE: {
			size_t need = sizeof(*h) + h->len;
			uint8_t *nb = realloc(p->rt->buf, need);

			if (!nb)
				tm_fail("receive", ENOMEM);
			p->rt->buf = nb;
			p->rt->cap = need;
			break;
		}
		case EAGAIN:
			if (!deadline || (deadline > 0 && tm_now() >= deadline))
				return -ETIMEDOUT;
			tm_park(p, deadline);
			break;
		case ENOMSG:
			return -ENOMSG;
		case EINTR:
			break;
		default:
			tm_fail("receive", errno);
		}
	}
}

static int64_t tm_deadline(int64_t timeout)
{
	if (timeout < 0)
		return -1;
	if (!timeout)
		return 0;
	return tm_now() + timeout;
}

static struct tm_term tm_timed_out(const struct tm_term *dflt)
{
	if (dflt)
		return *dflt;
	return tm_raise(tm_symbol("timeout"));
}

struct tm_term tm_recv_for(int64_t timeout, const struct tm_term *dflt)
{
	struct tm_proc *p = tm_must();
	struct termite_recv r;

	memset(&r, 0, sizeof(r));
	if (tm_rx(p, &r, tm_deadline(timeout)) < 0)
		return tm_timed_out(dflt);
	return tm_msg_term((void *)p->rt->buf, p->rt->buf + sizeof(struct termite_msghdr));
}

struct tm_term tm_recv(void)
{
	return tm_recv_for(TM_FOREVER, NULL);
}

/*
 * Walk the mailbox from the oldest message; @try decides on each message
 * (decoded); returns true to take it.  -ETIMEDOUT after @timeout.
 */
static int tm_walk(struct tm_proc *p, const struct termite_recv *filter,
		   bool (*try)(const struct tm_term *, void *), void *ctx,
		   int64_t timeout, struct tm_term *out)
{
	int64_t deadline = tm_deadline(timeout);
	const struct termite_msghdr *h;
	struct termite_recv r;
	struct tm_term t;
	uint64_t cursor = 0, seq;

	for (;;) {
		r = *filter;
		r.flags |= TERMITE_RECV_PEEK | TERMITE_RECV_AFTER;
		r.cursor = cursor;
		if (tm_rx(p, &r, deadline) < 0)
			return -ETIMEDOUT;
		h = (void *)p->rt->buf;	/* it may have grown */
		seq = h->seq;
		t = tm_msg_term(h, p->rt->buf + sizeof(*h));
		if (try(&t, ctx)) {
			memset(&r, 0, sizeof(r));
			r.flags = TERMITE_RECV_SEQ;
			r.cursor = seq;
			if (tm_rx(p, &r, 0) >= 0) {
				*out = t;
				return 0;
			}
			/* Taken by a signal handler's receive: go on. */
		}
		cursor = seq;
	}
}

struct pred_ctx {
	tm_pred_fn pred;
	void *ctx;
};

static bool tm_try_pred(const struct tm_term *t, void *arg)
{
	struct pred_ctx *pc = arg;

	return pc->pred(t, pc->ctx);
}

struct tm_term tm_recv_if(tm_pred_fn pred, void *ctx, int64_t timeout,
			  const struct tm_term *dflt)
{
	struct tm_proc *p = tm_must();
	struct pred_ctx pc = { pred, ctx };
	struct termite_recv none;
	struct tm_term t;

	memset(&none, 0, sizeof(none));
	if (tm_walk(p, &none, tm_try_pred, &pc, timeout, &t))
		return tm_timed_out(dflt);
	return t;
}

struct match_ctx {
	const struct tm_clause *cl;
	size_t n;
	struct tm_capture *caps;
	size_t ncaps;
	void *ctx;
	int which;
};

static bool tm_try_clauses(const struct tm_term *t, void *arg)
{
	struct match_ctx *mc = arg;
	size_t i;

	for (i = 0; i < mc->n; i++) {
		if (tm_match_term(mc->cl[i].pat, t, mc->caps, mc->ncaps) != 1)
			continue;
		if (mc->cl[i].where && !mc->cl[i].where(mc->caps, mc->ctx))
			continue;
		mc->which = i;
		return true;
	}
	return false;
}

/*
 * Could @pat match a message the library makes from a kernel one
 * (<EXIT ...>, <DOWN ...>, <raw ...>, <bad-message ...>)?  Those have no
 * such bytes in the kernel, so a kernel prefix filter must not be used.
 */
static bool tm_may_match_made(const struct tm_pattern *pat)
{
	static const char *const labels[] = {
		"EXIT", "DOWN", "raw", "bad-message",
	};
	const uint8_t *pp;
	uint8_t enc[32];
	size_t plen, i, k;
	ssize_t n;

	pp = tm_pattern_const_prefix(pat, &plen);
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		struct tm_term label = tm_symbol(labels[i]);

		enc[0] = 0xb4;		/* a record, then its label */
		n = tm_encode(&label, enc + 1, sizeof(enc) - 1);
		if (n < 0)
			return true;
		n++;
		for (k = 0; k < plen && k < (size_t)n; k++)
			if (pp[k] != enc[k])
				break;
		if (k == plen || k == (size_t)n)
			return true;
	}
	return false;
}

int tm_recv_match(const struct tm_clause *clauses, size_t n,
		  struct tm_capture *caps, size_t ncaps, void *ctx,
		  int64_t timeout, struct tm_term *msg)
{
	struct tm_proc *p = tm_must();
	struct match_ctx mc = { clauses, n, caps, ncaps, ctx, -1 };
	struct termite_recv filter;
	struct tm_prefix pf;
	struct tm_term t;

	memset(&filter, 0, sizeof(filter));
	/* One clause: let the kernel skip what cannot match it. */
	if (n == 1 && !tm_pattern_prefix(clauses[0].pat, &pf) && pf.len &&
	    !tm_may_match_made(clauses[0].pat)) {
		filter.flags = TERMITE_MATCH_DATA | TERMITE_MATCH_KIND;
		filter.kind = TM_KIND_TERM;
		filter.data_off = pf.off;
		memcpy(filter.data, pf.data, 8);
		memcpy(filter.mask, pf.mask, 8);
	}
	if (tm_walk(p, &filter, tm_try_clauses, &mc, timeout, &t))
		return -1;
	if (msg)
		*msg = t;
	return mc.which;
}

struct tm_term tm_make_tag(void)
{
	struct tm_proc *p = tm_must();
	struct termite_tag t;

	memset(&t, 0, sizeof(t));
	t.actor = p->id;
	if (ioctl(p->rt->fd, TERMITE_IOC_MAKE_TAG, &t))
		tm_fail("make-tag", errno);
	return tm_ref_term(t.tag, TM_REF_TAG);
}

struct tm_term tm_call(struct tm_term pid, struct tm_term msg,
		       int64_t timeout, const struct tm_term *dflt)
{
	struct tm_proc *p = tm_must();
	struct tm_term tag = tm_make_tag(), req, t;
	struct termite_recv r;

	req = tm_seq(tm_heap(), 3, tm_self(), tag, msg);
	tm_send_term(p, tm_need_pid(&pid), 0, &req);
	/* The reply carries the tag in the kernel: select it there. */
	memset(&r, 0, sizeof(r));
	r.flags = TERMITE_MATCH_TAG;
	r.tag = tm_ref_id(&tag, TM_REF_TAG);
	if (tm_rx(p, &r, tm_deadline(timeout)) < 0)
		return tm_timed_out(dflt);
	t = tm_msg_term((void *)p->rt->buf,
			p->rt->buf + sizeof(struct termite_msghdr));
	if (tm_is(&t, TM_SEQUENCE) && tm_count(&t) == 2)
		return *tm_item(&t, 1);
	return t;
}

void tm_reply(struct tm_term to, struct tm_term tag, struct tm_term value)
{
	tm_send(to, tm_seq(tm_heap(), 2, tag, value));
}

/* ---- links, monitors, exits ----------------------------------------- */

static void tm_link_op(struct tm_term pid, unsigned long cmd, uint32_t flags)
{
	struct tm_proc *p = tm_must();
	struct termite_link l;

	memset(&l, 0, sizeof(l));
	l.actor = p->id;
	l.peer = tm_need_pid(&pid);
	l.flags = flags;
	if (ioctl(p->rt->fd, cmd, &l))
		tm_fail(cmd == TERMITE_IOC_LINK ? "link" : "unlink", errno);
}

void tm_link(struct tm_term pid)
{
	tm_link_op(pid, TERMITE_IOC_LINK, TERMITE_LINK_BOTH);
}

void tm_link_to(struct tm_term pid)
{
	tm_link_op(pid, TERMITE_IOC_LINK, TERMITE_LINK_TO);
}

void tm_link_from(struct tm_term pid)
{
	tm_link_op(pid, TERMITE_IOC_LINK, TERMITE_LINK_FROM);
}

void tm_unlink(struct tm_term pid)
{
	tm_link_op(pid, TERMITE_IOC_UNLINK, TERMITE_LINK_BOTH);
}

struct tm_term tm_monitor(struct tm_term pid)
{
	struct tm_proc *p = tm_must();
	struct termite_monitor m;

	memset(&m, 0, sizeof(m));
	m.actor = p->id;
	m.peer = tm_need_pid(&pid);
	if (ioctl(p->rt->fd, TERMITE_IOC_MONITOR, &m))
		tm_fail("monitor", errno);
	return tm_ref_term(m.ref, TM_REF_TAG);
}

void tm_demonitor(struct tm_term ref)
{
	struct tm_proc *p = tm_must();
	struct termite_monitor m;

	memset(&m, 0, sizeof(m));
	m.actor = p->id;
	m.ref = tm_ref_id(&ref, TM_REF_TAG);
	m.flags = TERMITE_DEMONITOR_FLUSH;
	if (ioctl(p->rt->fd, TERMITE_IOC_DEMONITOR, &m))
		tm_fail("demonitor", errno);
}

bool tm_trap_exit(bool on)
{
	struct tm_proc *p = tm_must();
	struct termite_setopt so;
	bool old = p->trap;

	memset(&so, 0, sizeof(so));
	so.actor = p->id;
	so.opt = TERMITE_OPT_MODE;
	so.value = on ? TERMITE_MODE_TRAP : TERMITE_MODE_DELIVER;
	if (ioctl(p->rt->fd, TERMITE_IOC_SETOPT, &so))
		tm_fail("trap-exit", errno);
	p->trap = on;
	return old;
}

/* Encode a reason for the kernel: its code, and a payload for errors. */
static uint8_t *tm_reason_out(const struct tm_term *reason, uint32_t *code,
			      size_t *len)
{
	*code = tm_reason_code(reason);
	*len = 0;
	if (*code != TERMITE_EXIT_ERROR)
		return NULL;
	return tm_encode_alloc(reason, len);
}

static void tm_signal_op(struct tm_proc *p, uint64_t to, uint32_t code,
			 const void *buf, size_t len)
{
	struct termite_exit ex;

	memset(&ex, 0, sizeof(ex));
	ex.actor = p->id;
	ex.to = to;
	ex.code = code;
	ex.buf = (uintptr_t)buf;
	ex.len = len;
	if (ioctl(p->rt->fd, TERMITE_IOC_SIGNAL, &ex) && errno != ESRCH)
		tm_fail("exit signal", errno);
}

void tm_exit_signal(struct tm_term pid, struct tm_term reason)
{
	struct tm_proc *p = tm_must();
	uint32_t code;
	size_t len;
	uint8_t *buf = tm_reason_out(&reason, &code, &len);

	tm_signal_op(p, tm_need_pid(&pid), code, buf, len);
	free(buf);
}

void tm_kill(struct tm_term pid)
{
	struct tm_proc *p = tm_must();

	tm_signal_op(p, tm_need_pid(&pid), TERMITE_EXIT_KILL, NULL, 0);
}

_Noreturn void tm_exit(struct tm_term reason)
{
	tm_die(tm_must(), reason);
}

/* ---- exceptions --------------------------------------------------- */

struct tm_term tm_raise(struct tm_term exc)
{
	struct tm_proc *p = tm_must();
	struct tm_frame *f = p->frames;
	struct tm_term v;

	if (!f)
		tm_die(p, exc);		/* uncaught: the process ends */
	if (f->catcher) {
		f->exc = exc;
		tm_longjmp(f->jb);
	}
	/* A handler runs where the exception was raised, outside its frame. */
	p->frames = f->up;
	v = f->handler(exc, f->ctx);
	p->frames = f;
	return v;
}

struct tm_term tm_catch(tm_handler_fn handler, tm_body_fn body, void *ctx)
{
	struct tm_proc *p = tm_must();
	struct tm_frame f = { .up = p->frames, .catcher = true };
	struct tm_term v;

	p->frames = &f;
	if (!tm_setjmp(f.jb)) {
		v = body(ctx);
		p->frames = f.up;
		return v;
	}
	p->frames = f.up;
	return handler(f.exc, ctx);
}

struct tm_term tm_handle(tm_handler_fn handler, tm_body_fn body, void *ctx)
{
	struct tm_proc *p = tm_must();
	struct tm_frame f = { .up = p->frames, .handler = handler, .ctx = ctx };
	struct tm_term v;

	p->frames = &f;
	v = body(ctx);
	p->frames = f.up;
	return v;
}

/* ---- names -------------------------------------------------------- */

static int tm_name_op(int fd, unsigned long cmd, const char *name,
		      uint64_t *actor)
{
	struct termite_name n;
	size_t len = strlen(name);

	if (!len || len >= TERMITE_NAME_MAX)
		return -EINVAL;
	memset(&n, 0, sizeof(n));
	memcpy(n.name, name, len);
	n.actor = *actor;
	if (ioctl(fd, cmd, &n))
		return -errno;
	*actor = n.actor;
	return 0;
}

int tm_register(const char *name, struct tm_term pid)
{
	uint64_t id = tm_pid_id(&pid);
	unsigned int i;
	int err = -EINVAL;

	if (!id)
		return -EINVAL;
	/* The kernel wants the port that owns the actor: try each of ours. */
	for (i = 0; i < tm_node.n; i++) {
		err = tm_name_op(tm_node.rts[i].fd, TERMITE_IOC_REGISTER,
				 name, &id);
		if (err != -ENOENT)
			break;
	}
	return err;
}

int tm_unregister(const char *name)
{
	uint64_t id = 0;

	return tm_name_op(tm_cur_rt->fd, TERMITE_IOC_UNREGISTER, name, &id);
}

struct tm_term tm_whereis(const char *name)
{
	uint64_t id = 0;

	if (tm_name_op(tm_cur_rt->fd, TERMITE_IOC_WHEREIS, name, &id))
		return tm_invalid(TM_EINVAL);
	return tm_pid_of(id);
}

/* ---- processes ------------------------------------------------------ */

/* Free a process whose fiber has ended or never ran. */
static void tm_proc_free(struct tm_proc *p)
{
	tm_arena_fini(&p->heap);
	free(p);
	if (atomic_fetch_sub(&tm_node.live, 1) == 1) {
		uint64_t one = 1;
		unsigned int i;

		/* The last process: wake every scheduler to stop. */
		for (i = 0; i < tm_node.n; i++)
			if (write(tm_node.rts[i].efd, &one, sizeof(one)) < 0)
				continue;
	}
}

static void tm_proc_main(void *arg)
{
	struct tm_proc *p = arg;
	struct tm_rt *rt = p->rt;
	tm_jmp_buf base;
	uint32_t code;
	size_t len = 0;
	uint8_t *buf;

	p->base = base;
	if (!tm_setjmp(base)) {
		p->fn(p->arg);
		p->reason = tm_symbol("normal");
	}
	p->frames = NULL;
	if (!p->dead) {
		struct termite_exit ex;

		buf = tm_reason_out(&p->reason, &code, &len);
		memset(&ex, 0, sizeof(ex));
		ex.actor = p->id;
		ex.code = code;
		ex.buf = (uintptr_t)buf;
		ex.len = len;
		if (ioctl(rt->fd, TERMITE_IOC_EXIT, &ex) && errno == EMSGSIZE) {
			ex.len = 0;	/* too big to tell: the code only */
			ioctl(rt->fd, TERMITE_IOC_EXIT, &ex);
		}
		free(buf);
	}
	tm_tab_del(rt, p);
	tm_proc_free(p);
}

static struct tm_rt *tm_pick_rt(void)
{
	if (tm_node.n == 1)
		return tm_cur_rt;
	return &tm_node.rts[atomic_fetch_add(&tm_node.rr, 1) % tm_node.n];
}

/* Create the actor of a new process on @rt's port (any thread may). */
static struct tm_proc *tm_proc_new(struct tm_rt *rt, tm_proc_fn fn, void *arg)
{
	struct termite_spawn sp;
	struct tm_proc *p;

	memset(&sp, 0, sizeof(sp));
	sp.mode = TERMITE_MODE_DELIVER;
	if (ioctl(rt->fd, TERMITE_IOC_SPAWN, &sp))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out_actor;
	p->id = sp.id;
	p->rt = rt;
	p->fn = fn;
	p->arg = arg;
	tm_arena_init(&p->heap, 0);
	atomic_fetch_add(&tm_node.live, 1);
	return p;

out_actor:
	{
		struct termite_exit ex = { .actor = sp.id };

		ioctl(rt->fd, TERMITE_IOC_EXIT, &ex);
	}
	errno = ENOMEM;
	return NULL;
}

static void tm_proc_start(struct tm_proc *p)
{
	struct tm_rt *rt = p->rt;
	uint64_t one = 1;

	if (rt == tm_cur_rt) {
		tm_start_local(rt, p);
		return;
	}
	pthread_mutex_lock(&rt->inbox_lock);
	p->next = rt->inbox;
	__atomic_store_n(&rt->inbox, p, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rt->inbox_lock);
	if (write(rt->efd, &one, sizeof(one)) < 0)
		abort();
}

static struct tm_term tm_spawn_opt(tm_proc_fn fn, void *arg, bool link)
{
	struct tm_proc *p = tm_proc_new(tm_pick_rt(), fn, arg);
	struct tm_term pid;

	if (!p)
		tm_fail("spawn", errno);
	pid = tm_pid_of(p->id);
	if (link)
		tm_link(pid);	/* before the child runs: atomic */
	tm_proc_start(p);
	return pid;
}

struct tm_term tm_spawn(tm_proc_fn fn, void *arg)
{
	return tm_spawn_opt(fn, arg, false);
}

struct tm_term tm_spawn_link(tm_proc_fn fn, void *arg)
{
	return tm_spawn_opt(fn, arg, true);
}

void tm_collect(struct tm_term *keep, size_t n)
{
	struct tm_proc *p = tm_must();
	struct tm_arena fresh;
	size_t i;

	tm_arena_init(&fresh, 0);
	for (i = 0; i < n; i++)
		keep[i] = tm_copy(&fresh, &keep[i]);
	tm_arena_fini(&p->heap);
	p->heap = fresh;
}

/* ---- running ------------------------------------------------------ */

static int tm_rt_open(struct tm_rt *rt, unsigned int idx)
{
	memset(rt, 0, sizeof(*rt));
	rt->idx = idx;
	rt->fd = open(TERMITE_DEVICE, O_RDWR | O_CLOEXEC);
	if (rt->fd < 0)
		return -errno;
	rt->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rt->efd < 0) {
		close(rt->fd);
		return -errno;
	}
	rt->buf = malloc(TM_RXBUF_MIN);
	if (!rt->buf) {
		close(rt->efd);
		close(rt->fd);
		return -ENOMEM;
	}
	rt->cap = TM_RXBUF_MIN;
	pthread_mutex_init(&rt->inbox_lock, NULL);
	tm_arena_init(&rt->scratch, 0);
	return 0;
}

static void tm_rt_close(struct tm_rt *rt)
{
	tm_arena_fini(&rt->scratch);
	free(rt->buf);
	free(rt->tab);
	free(rt->timers);
	close(rt->efd);
	close(rt->fd);
	pthread_mutex_destroy(&rt->inbox_lock);
}

/* A scheduler's life: run fibers until the whole program has no process. */
static void *tm_rt_main(void *arg)
{
	struct tm_rt *rt = arg;
	struct pollfd pfd;

	tm_cur_rt = rt;
	if (tm_sched_init(&rt->fs))
		abort();
	rt->fs.idle = tm_idle;
	rt->fs.data = rt;
	for (;;) {
		tm_events(rt, false);
		tm_sched_run(&rt->fs);
		if (!atomic_load(&tm_node.live))
			break;
		/* Nothing of ours runs: wait for a process handed over. */
		pfd.fd = rt->efd;
		pfd.events = POLLIN;
		poll(&pfd, 1, 100);
	}
	tm_sched_destroy(&rt->fs);
	tm_cur_rt = NULL;
	return NULL;
}

int tm_run_n(unsigned int n, tm_proc_fn fn, void *arg)
{
	struct termite_version v;
	struct tm_proc *first;
	unsigned int i, started = 0;
	int err = 0;

	if (!n || tm_node.rts)
		return -EINVAL;
	tm_node.rts = calloc(n, sizeof(*tm_node.rts));
	if (!tm_node.rts)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		err = tm_rt_open(&tm_node.rts[i], i);
		if (err)
			goto out_close;
		tm_node.n++;
	}
	memset(&v, 0, sizeof(v));
	if (ioctl(tm_node.rts[0].fd, TERMITE_IOC_VERSION, &v)) {
		err = -errno;
		goto out_close;
	}
	tm_node.universe = v.universe;
	atomic_store(&tm_node.live, 0);

	first = tm_proc_new(&tm_node.rts[0], fn, arg);
	if (!first) {
		err = -errno;
		goto out_close;
	}
	/* The first scheduler starts it: it runs on this thread. */
	tm_node.rts[0].inbox = first;
	for (i = 1; i < n; i++) {
		if (pthread_create(&tm_node.rts[i].thread, NULL, tm_rt_main,
				   &tm_node.rts[i]))
			abort();
		started++;
	}
	tm_rt_main(&tm_node.rts[0]);
	for (i = 1; i <= started; i++)
		pthread_join(tm_node.rts[i].thread, NULL);
out_close:
	for (i = 0; i < tm_node.n; i++)
		tm_rt_close(&tm_node.rts[i]);
	free(tm_node.rts);
	tm_node.rts = NULL;
	tm_node.n = 0;
	return err;
}

int tm_run(tm_proc_fn fn, void *arg)
{
	return tm_run_n(1, fn, arg);
}

/* ---- convenience ---------------------------------------------------- */

struct tm_term tm_t(const char *text)
{
	struct tm_term t;
	int err = tm_parse(tm_heap(), text, strlen(text), &t, NULL);

	if (err)
		tm_fail("parse", EINVAL);
	return t;
}

const char *tm_str(const struct tm_term *t)
{
	static __thread char buf[4096];

	if (tm_print(t, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "#<unprintable>");
	return buf;
}
