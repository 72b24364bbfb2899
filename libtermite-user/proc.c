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
 * Receiving never blocks the thread: a receive looks at the process's
 * local mailbox (messages from processes of the same scheduler, which skip
 * the kernel: see "Local messages"), asks the kernel without waiting if it
 * may hold something, and, if nothing matches, parks the fiber.  When no
 * fiber can run, the scheduler's idle hook fires due timers, starts
 * processes handed over by other threads, asks the kernel which actors
 * have news (TERMITE_IOC_READY) and resumes their fibers, or sleeps in
 * poll() on the port and an eventfd until one of those can happen.
 *
 * Selective receive walks the local mailbox, then the kernel's with the
 * kernel's cursor (PEEK + AFTER, then SEQ to take the chosen message), so
 * a predicate sees each message once per receive and non-matching
 * messages keep their order.  Replies to tm_call() travel with a kernel tag (a message that is a
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
#include <liburing.h>
#include <linux/termite.h>
#include "fiber.h"
#include "termite.h"
#include "term_internal.h"

#define TM_RXBUF_MIN	4096
#define TM_READY_MAX	256
#define TM_STACK_MSG	512
#define TM_SPARE_MAX	32	/* actors a scheduler makes ahead */

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

/*
 * A message in a process's local mailbox: sent by a process of the same
 * scheduler without the kernel, or moved out of the kernel's mailbox by a
 * plain receive.  It lives in an arena of its own, which the receiver's
 * heap takes over whole when the message is taken: no second copy.
 */
struct tm_lmsg {
	struct tm_lmsg *next;		/* circular: the newest points at the oldest */
	uint32_t lseq;			/* arrival order in this mailbox */
	bool remote;			/* from the kernel, sent from another port */
	uint64_t tag;			/* the kernel tag it would carry, or 0 */
	struct tm_term t;
	struct tm_arena a;		/* holds this struct and the term */
};

struct tm_proc {
	uint64_t id;
	struct tm_rt *rt;
	struct tm_fiber *fiber;
	union {
		struct {		/* until it starts */
			tm_proc_fn fn;
			void *arg;
		};
		struct tm_term reason;	/* once it ends: why */
	};
	struct tm_arena heap;
	struct tm_frame *frames;
	void **base;			/* its tm_jmp_buf */
	struct tm_lmsg *lq;		/* local mailbox: its newest message */
	uint32_t lseq;			/* messages ever put in lq */
	bool kn;			/* the kernel may hold something for it */
	bool remote;			/* the last message came from elsewhere */
	bool dead;			/* the kernel already knows */
	bool waiting;			/* parked until news or a timer */
	bool trap;
	bool rx_wait;			/* its RECV is in the ring */
	bool rx_spec;			/* the scheduler submitted that RECV */
	bool rx_kpark;			/* that RECV may wait in the kernel */
	uint32_t rx_flags;		/* a parked receive: its flags, */
	uint64_t rx_tag;		/* and tag */
	int rx_res;			/* that RECV's result */
	uint32_t rx_cap;		/* size of rx_buf */
	uint8_t *rx_buf;		/* the message tm_rx() returned */
	uint64_t timer_gen;		/* the timer of its park, if any */
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
	struct tm_ring *ring;		/* NULL: the ioctl interface */
	unsigned int lticks;		/* local messages taken */
	/*
	 * Actors made ahead by TERMITE_IOC_SPAWN_BATCH for this thread's next
	 * spawns on this port (ids nobody else knows yet).
	 */
	uint64_t spare[TM_SPARE_MAX];
	unsigned int nspare;
	bool refilled;			/* a batch was made before */
};

static struct {
	struct tm_rt *rts;
	unsigned int n;
	uint64_t universe;
	atomic_ulong live;
	atomic_uint rr;
	uint32_t max_msg;
	bool uring;			/* the module serves io_uring */
	bool spawn_batch;		/* and TERMITE_IOC_SPAWN_BATCH */
	unsigned int park_max;		/* TM_PARK_MAX, or TERMITE_PARK_MAX */
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

static struct tm_term tm_ref_term(struct tm_arena *a, uint64_t id,
				  uint8_t kind)
{
	struct tm_ref *r = tm_arena_alloc(a, sizeof(*r));
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
	return tm_ref_term(tm_heap(), actor, TM_REF_PID);
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

/* Fire due timers and start processes handed over; returns how many woke. */
static int tm_local_events(struct tm_rt *rt)
{
	struct tm_proc *in;
	int64_t now = tm_now();
	int woke = 0;

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
	return woke;
}

/* Mark the processes of @n actor ids READY named, and wake the waiting. */
static int tm_wake_ids(struct tm_rt *rt, const uint64_t *ids, unsigned int n)
{
	unsigned int i;
	int woke = 0;

	for (i = 0; i < n; i++) {
		struct tm_proc *p = tm_tab_find(rt, ids[i]);

		if (p)
			p->kn = true;
		if (p && p->waiting) {
			tm_wake(p);
			woke++;
		}
	}
	return woke;
}

/*
 * Ask the kernel (READY) which of this scheduler's actors have news: mark
 * them, and wake those waiting.  Returns how many woke.
 */
static __attribute__((noinline)) int tm_news(struct tm_rt *rt)
{
	uint64_t ids[TM_READY_MAX];
	struct termite_ready rd;
	int woke = 0;

	do {
		memset(&rd, 0, sizeof(rd));
		rd.ids = (uintptr_t)ids;
		rd.count = TM_READY_MAX;
		if (ioctl(rt->fd, TERMITE_IOC_READY, &rd))
			rd.count = 0;
		woke += tm_wake_ids(rt, ids, rd.count);
	} while (rd.count == TM_READY_MAX);
	return woke;
}

/* ---- the io_uring interface ----------------------------------------- */

/*
 * With io_uring (the default when the module offers it), a scheduler makes
 * no other system call in its loop.  Sends are queued in a batch; a receive
 * queues its request and suspends its process.  When no process can run,
 * one io_uring_enter() submits the round: the batch (one SEND_BATCH
 * command, or a linked chain of them), then every queued receive, then
 * whatever watches are not armed: a POLL_ADD on the port linked to a
 * READY command (so the ids of actors with news come back in the same
 * call) and a POLL_ADD on the eventfd of handed-over processes.  The same
 * call waits for a completion or the next timer.
 *
 * The ring issues commands in order, so every send of the round reaches
 * the kernel before any receive of it, and every other kernel operation of
 * a process (link, exit, ...) first submits the sends queued before it:
 * the kernel sees one process's operations in the order it made them.  A
 * batch that stops at a full mailbox (or at a dead receiver, which is
 * skipped) is resumed first in the next round; the batches linked behind it
 * were cancelled whole and follow it.
 */
#define TM_RING_ENTRIES	256
#define TM_UD_RECV	1	/* | struct tm_proc * */
#define TM_UD_BATCH	2	/* | struct tm_batch * */
#define TM_UD_READY	3
#define TM_UD_EFD	4
#define TM_UD_POLL	5
#define TM_UD_MASK	7
/*
 * Receives that wait in the kernel (each holds a buffer, and its completion
 * needs room in the completion ring); beyond that, processes wait for READY.
 */
#define TM_PARK_MAX	128
/* Receives queued before the round is submitted anyway (memory bound). */
#define TM_RXQ_MAX	256
/* Closed batches a sender may leave behind before it submits them itself. */
#define TM_BATCHES_MAX	4

struct tm_batch {
	struct tm_batch *next;
	uint32_t n, done;		/* entries, entries in the kernel */
	struct termite_batch cmd;
	struct termite_send s[TERMITE_BATCH_MAX];
	uint8_t *data;			/* payload copies */
	size_t used, dcap;
};

struct tm_rxq {
	struct tm_proc *p;
	struct termite_recv rq;
};

struct tm_ring {
	struct io_uring ring;
	struct tm_batch *head, **tail;	/* closed, not yet (fully) sent */
	struct tm_batch *cur;		/* being filled */
	struct tm_batch *spare;
	unsigned int inflight;		/* batch commands in the kernel */
	unsigned int nbatches;		/* closed, not yet sent: head's length */
	unsigned int woken;		/* processes reaping woke, not counted */
	unsigned int nparked;		/* RECVs waiting in the kernel */
	unsigned int nwatchers;		/* processes waiting for READY */
	bool full;			/* a batch met a full mailbox */
	bool watching, efd_armed;
	struct tm_rxq *rx;		/* receives queued this round */
	size_t nrx, rx_cap;
	uint8_t **bufs;			/* free receive buffers */
	size_t nbufs, bufs_cap;
	struct termite_ready rd;
	uint64_t ready[TM_READY_MAX];
};

static void tm_sleep_ns(struct tm_proc *p, int64_t ns);
static int tm_ring_reap(struct tm_rt *rt);
static void tm_ring_speculate(struct tm_rt *rt, uint64_t to);

/*
 * Submit what is queued and act on the completions, so that the completion
 * ring never overflows: it has room for the submission ring's worth.
 */
static void tm_ring_flush_sq(struct tm_rt *rt)
{
	io_uring_submit(&rt->ring->ring);
	tm_ring_reap(rt);
}

static struct io_uring_sqe *tm_ring_sqe(struct tm_rt *rt, unsigned int need)
{
	struct io_uring *ring = &rt->ring->ring;
	struct io_uring_sqe *sqe;

	if (io_uring_sq_space_left(ring) < need)
		tm_ring_flush_sq(rt);
	sqe = io_uring_get_sqe(ring);
	if (!sqe)
		abort();	/* cannot be: the submit made room */
	return sqe;
}

static void tm_ring_cmd(struct io_uring_sqe *sqe, int fd, uint32_t op,
			const void *arg, size_t size, uint64_t udata)
{
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	sqe->user_data = udata;
	memcpy(sqe->cmd, arg, size);
}

/* Close the batch being filled: it joins the closed ones, in order. */
static void tm_ring_close_batch(struct tm_ring *r)
{
	struct tm_batch *b = r->cur;
	uint32_t i;

	if (!b)
		return;
	r->cur = NULL;
	for (i = 0; i < b->n; i++)
		b->s[i].buf = (uintptr_t)(b->data + b->s[i].buf);
	b->next = NULL;
	*r->tail = b;
	r->tail = &b->next;
	r->nbatches++;
}

static void tm_ring_queue_send(struct tm_rt *rt, const struct termite_send *s,
			       const void *buf)
{
	struct tm_ring *r = rt->ring;
	struct tm_batch *b = r->cur;

	if (b && b->n == TERMITE_BATCH_MAX) {
		tm_ring_close_batch(r);
		b = NULL;
	}
	if (!b) {
		b = r->spare;
		if (b)
			r->spare = b->next;
		else if (!(b = calloc(1, sizeof(*b))))
			tm_fail("send", ENOMEM);
		b->n = b->done = 0;
		b->used = 0;
		r->cur = b;
	}
	if (b->used + s->len > b->dcap) {
		size_t n = b->dcap ? b->dcap : 4096;
		uint8_t *d;

		while (n < b->used + s->len)
			n *= 2;
		d = realloc(b->data, n);
		if (!d)
			tm_fail("send", ENOMEM);
		b->data = d;
		b->dcap = n;
	}
	b->s[b->n] = *s;
	b->s[b->n].buf = b->used;	/* an offset until the batch closes */
	memcpy(b->data + b->used, buf, s->len);
	b->used += s->len;
	b->n++;
}

static void tm_batch_free(struct tm_ring *r, struct tm_batch *b)
{
	if (b->dcap > 65536 || r->spare) {
		free(b->data);
		free(b);
		return;
	}
	b->next = r->spare;
	r->spare = b;
}

/* Submit the closed batches as one chain, unless they wait for room. */
static void tm_ring_push_batches(struct tm_rt *rt)
{
	struct tm_ring *r = rt->ring;
	struct io_uring_sqe *sqe;
	struct tm_batch *b;
	unsigned int n, i;

	tm_ring_close_batch(r);
	if (r->inflight || !r->head)
		return;
	for (b = r->head, n = 0; b; b = b->next)
		n++;
	if (io_uring_sq_space_left(&r->ring) < n)
		tm_ring_flush_sq(rt);	/* a chain goes in one piece */
	for (b = r->head; b; b = b->next) {
		memset(&b->cmd, 0, sizeof(b->cmd));
		b->cmd.sends = (uintptr_t)(b->s + b->done);
		b->cmd.count = b->n - b->done;
		sqe = tm_ring_sqe(rt, 1);
		tm_ring_cmd(sqe, rt->fd, TERMITE_IOC_SEND_BATCH, &b->cmd,
			    sizeof(b->cmd), (uintptr_t)b | TM_UD_BATCH);
		if (b->next)
			sqe->flags |= IOSQE_IO_LINK;
		r->inflight++;
	}
	for (b = r->head; b; b = b->next)
		for (i = b->done; i < b->n; i++)
			tm_ring_speculate(rt, b->s[i].to);
}

/* The completion of a batch: @sent entries reached the kernel. */
static int tm_batch_done(struct tm_rt *rt, struct tm_batch *b, int res,
			 uint32_t sent)
{
	struct tm_ring *r = rt->ring;
	int woke = 0;
	uint32_t i;

	for (i = b->done; i < b->done + sent; i++) {
		struct tm_proc *q = tm_tab_find(rt, b->s[i].to);

		if (q && q->waiting) {
			tm_wake(q);
			woke++;
		}
	}
	b->done += sent;
	r->inflight--;
	if (res == -EAGAIN || res == -ENOBUFS)
		r->full = true;		/* retried next round */
	else if (res < 0 && res != -ECANCELED && b->done < b->n)
		b->done++;	/* a gone receiver, or we died: skip it */
	return woke;
}

/* Whether a send to @id waits in a batch of @rt that is not yet sent. */
static bool tm_ring_sends_to(struct tm_rt *rt, uint64_t id)
{
	struct tm_ring *r = rt->ring;
	struct tm_batch *b;
	uint32_t i;

	if (!r)
		return false;
	for (b = r->head; b; b = b->next)
		for (i = b->done; i < b->n; i++)
			if (b->s[i].to == id)
				return true;
	for (b = r->cur, i = 0; b && i < b->n; i++)
		if (b->s[i].to == id)
			return true;
	return false;
}

/* Free the batches at the head that are sent. */
static void tm_ring_batches_settled(struct tm_ring *r)
{
	while (r->head && r->head->done == r->head->n) {
		struct tm_batch *b = r->head;

		r->head = b->next;
		r->nbatches--;
		tm_batch_free(r, b);
	}
	if (!r->head)
		r->tail = &r->head;
}

/* Keep the port and the eventfd watched by the ring. */
static void tm_ring_arm(struct tm_rt *rt)
{
	struct tm_ring *r = rt->ring;
	struct io_uring_sqe *sqe;

	/* Receives parked in the kernel need no READY: only the others. */
	if (!r->watching && r->nwatchers) {
		/* A linked pair: both must go in one submission. */
		sqe = tm_ring_sqe(rt, 2);
		io_uring_prep_poll_add(sqe, rt->fd, POLLIN);
		sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
		sqe->user_data = TM_UD_POLL;
		memset(&r->rd, 0, sizeof(r->rd));
		r->rd.ids = (uintptr_t)r->ready;
		r->rd.count = TM_READY_MAX;
		tm_ring_cmd(tm_ring_sqe(rt, 1), rt->fd,
			    TERMITE_IOC_READY, &r->rd, sizeof(r->rd),
			    TM_UD_READY);
		r->watching = true;
	}
	if (!r->efd_armed) {
		sqe = tm_ring_sqe(rt, 1);
		io_uring_prep_poll_add(sqe, rt->efd, POLLIN);
		sqe->user_data = TM_UD_EFD;
		r->efd_armed = true;
	}
}

/* A receive buffer for one RECV in the ring. */
static uint8_t *tm_ring_buf(struct tm_ring *r)
{
	uint8_t *b;

	if (r->nbufs)
		return r->bufs[--r->nbufs];
	b = malloc(TM_RXBUF_MIN);
	if (!b)
		abort();
	return b;
}

/* Give back the buffer of the message @p was handed (after decoding). */
static void tm_rx_done(struct tm_proc *p)
{
	struct tm_ring *r = p->rt->ring;
	uint8_t *b = p->rx_buf;

	p->rx_buf = NULL;
	if (!r || !b)
		return;
	if (p->rx_cap != TM_RXBUF_MIN) {
		free(b);
		return;
	}
	if (r->nbufs == r->bufs_cap) {
		size_t n = r->bufs_cap ? r->bufs_cap * 2 : 16;
		uint8_t **nb = realloc(r->bufs, n * sizeof(*nb));

		if (!nb) {
			free(b);
			return;
		}
		r->bufs = nb;
		r->bufs_cap = n;
	}
	r->bufs[r->nbufs++] = b;
}

static void tm_ring_queue_recv(struct tm_ring *r, struct tm_proc *p,
			       const struct termite_recv *rq)
{
	struct tm_rxq *q;

	if (r->nrx == r->rx_cap) {
		size_t n = r->rx_cap ? r->rx_cap * 2 : 64;
		struct tm_rxq *nq = realloc(r->rx, n * sizeof(*nq));

		if (!nq)
			abort();
		r->rx = nq;
		r->rx_cap = n;
	}
	q = &r->rx[r->nrx++];
	q->p = p;
	q->rq = *rq;
}

/*
 * A process of this scheduler parked in a plain or tagged receive, to
 * which the round sends a message: submit its receive right behind the
 * sends, so it wakes with the message instead of asking in the next round.
 */
static void tm_ring_speculate(struct tm_rt *rt, uint64_t to)
{
	struct tm_proc *p = tm_tab_find(rt, to);
	struct termite_recv rq;

	if (!p || !p->waiting || p->rx_wait ||
	    (p->rx_flags & ~TERMITE_MATCH_TAG))
		return;
	p->waiting = false;
	p->rx_wait = true;
	p->rx_spec = true;
	p->rx_buf = tm_ring_buf(rt->ring);
	p->rx_cap = TM_RXBUF_MIN;
	memset(&rq, 0, sizeof(rq));
	rq.actor = p->id;
	rq.flags = p->rx_flags;
	rq.tag = p->rx_tag;
	rq.buf = (uintptr_t)p->rx_buf;
	rq.buf_len = p->rx_cap;
	tm_ring_queue_recv(rt->ring, p, &rq);
}

/* The receives queued this round, behind the round's sends. */
static void tm_ring_push_recvs(struct tm_rt *rt)
{
	struct tm_ring *r = rt->ring;
	size_t i;

	for (i = 0; i < r->nrx; i++) {
		struct tm_rxq *q = &r->rx[i];

		tm_ring_cmd(tm_ring_sqe(rt, 1), rt->fd, TERMITE_IOC_RECV,
			    &q->rq, sizeof(q->rq), (uintptr_t)q->p | TM_UD_RECV);
	}
	r->nrx = 0;
}

/* Act on every completion there is; returns how many processes woke. */
static int tm_ring_reap(struct tm_rt *rt)
{
	struct tm_ring *r = rt->ring;
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0;
	int woke = 0;

	io_uring_for_each_cqe(&r->ring, head, cqe) {
		uint64_t ud = cqe->user_data;
		void *ptr = (void *)(uintptr_t)(ud & ~(uint64_t)TM_UD_MASK);

		seen++;
		switch (ud & TM_UD_MASK) {
		case TM_UD_RECV: {
			struct tm_proc *p = ptr;

			if (p->rx_kpark) {
				p->rx_kpark = false;
				r->nparked--;
			}
			p->rx_res = cqe->res;
			p->rx_wait = false;
			tm_fiber_resume(p->fiber);
			woke++;
			break;
		}
		case TM_UD_BATCH:
			woke += tm_batch_done(rt, ptr, cqe->res,
					      (uint32_t)cqe->big_cqe[0]);
			break;
		case TM_UD_READY:
			r->watching = false;
			if (cqe->res >= 0)
				woke += tm_wake_ids(rt, r->ready,
						    (unsigned int)cqe->big_cqe[0]);
			break;
		case TM_UD_EFD:
			r->efd_armed = false;
			break;
		default:		/* TM_UD_POLL failed: READY says */
			break;
		}
	}
	io_uring_cq_advance(&r->ring, seen);
	tm_ring_batches_settled(r);
	r->woken += woke;
	return woke;
}

/* Submit the round: sends first, then receives, then the watches. */
static void tm_ring_submit(struct tm_rt *rt)
{
	tm_ring_push_batches(rt);
	tm_ring_push_recvs(rt);
	tm_ring_arm(rt);
	/* Run the ring's task work too: parked receives complete there. */
	io_uring_submit_and_get_events(&rt->ring->ring);
}

/*
 * One round: submit what the processes queued, act on completions, and if
 * nothing can run and @block, wait once for anything.
 */
static int tm_ring_events(struct tm_rt *rt, bool block)
{
	struct tm_ring *r = rt->ring;
	struct __kernel_timespec ts, *tsp;
	struct io_uring_cqe *cqe;
	int64_t wait;
	int woke;

	for (;;) {
		woke = tm_local_events(rt);
		r->full = false;
		tm_ring_submit(rt);
		tm_ring_reap(rt);
		woke += r->woken;
		r->woken = 0;
		if (woke || !block)
			return woke;
		if (!atomic_load(&tm_node.live))
			return 0;
		if (r->head && !r->full)
			continue;	/* resume a batch a dead receiver cut */
		wait = -1;
		if (rt->ntimers) {
			/* Due since tm_local_events() looked: do not block. */
			wait = rt->timers[0].when - tm_now();
			if (wait < 0)
				wait = 0;
		}
		if (r->full && (wait < 0 || wait > 1000000))
			wait = 1000000;	/* a full mailbox drains: retry */
		tsp = NULL;
		if (wait >= 0) {
			ts.tv_sec = wait / 1000000000;
			ts.tv_nsec = wait % 1000000000;
			tsp = &ts;
		}
		io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, tsp, NULL);
	}
}

/*
 * Before a kernel operation other than send and receive: get the sends
 * @p's scheduler queued into the kernel, waiting while a mailbox is full.
 */
static void tm_flush(struct tm_proc *p)
{
	struct tm_rt *rt = p->rt;
	struct tm_ring *r = rt->ring;

	if (!r)
		return;
	for (;;) {
		r->full = false;
		tm_ring_push_batches(rt);
		/*
		 * Wait for the chain: io_uring issues a linked batch from
		 * task work, which a DEFER_TASKRUN ring runs only in here.
		 */
		if (r->inflight)
			io_uring_submit_and_wait(&r->ring, 1);
		tm_ring_reap(rt);
		if (!r->head)
			return;
		if (r->full)
			tm_sleep_ns(p, 1000000);
	}
}

/* One RECV through the ring, in the next round: its length or -errno. */
static int tm_ring_recv(struct tm_proc *p, struct termite_recv *rq)
{
	struct tm_rt *rt = p->rt;

	if (rt->ring->nrx >= TM_RXQ_MAX) {
		tm_ring_push_batches(rt);
		tm_ring_push_recvs(rt);
		tm_ring_flush_sq(rt);
	}
	tm_ring_queue_recv(rt->ring, p, rq);
	p->rx_wait = true;
	while (p->rx_wait)
		tm_fiber_suspend();
	return p->rx_res;
}

static int tm_ring_open(struct tm_rt *rt)
{
	struct io_uring_params prm;
	struct tm_ring *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	memset(&prm, 0, sizeof(prm));
	prm.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32 |
		    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	/* Room for every completion a full submission ring can cause. */
	err = io_uring_queue_init_params(TM_RING_ENTRIES, &r->ring, &prm);
	if (err) {
		/* Kernels before 6.1 lack the last two: do without. */
		memset(&prm, 0, sizeof(prm));
		prm.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
		err = io_uring_queue_init_params(TM_RING_ENTRIES, &r->ring,
						 &prm);
	}
	if (err) {
		free(r);
		return err;
	}
	r->tail = &r->head;
	rt->ring = r;
	return 0;
}

static void tm_ring_close(struct tm_rt *rt)
{
	struct tm_ring *r = rt->ring;
	struct tm_batch *b;

	if (!r)
		return;
	io_uring_queue_exit(&r->ring);
	while (r->nbufs)
		free(r->bufs[--r->nbufs]);
	free(r->bufs);
	free(r->rx);
	while ((b = r->spare)) {
		r->spare = b->next;
		free(b->data);
		free(b);
	}
	free(r);
	rt->ring = NULL;
}

/* ---- the ioctl interface, and the scheduler's idle hook ------------- */

/*
 * Everything that can make a fiber runnable: due timers, processes handed
 * over by other threads, actors the kernel reports ready.  Sleeps in
 * poll() until one of them if @block.  Returns how many fibers it woke.
 */
static int tm_events(struct tm_rt *rt, bool block)
{
	struct pollfd pfd[2];
	int64_t timeout;
	int woke;

	if (rt->ring)
		return tm_ring_events(rt, block);
	for (;;) {
		woke = tm_local_events(rt);
		woke += tm_news(rt);
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

static void tm_sleep_ns(struct tm_proc *p, int64_t ns)
{
	int64_t deadline = tm_now() + ns;

	while (tm_now() < deadline)
		tm_park(p, deadline);
}

void tm_sleep(int64_t ns)
{
	tm_sleep_ns(tm_must(), ns);
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
static struct tm_term tm_reason_term(struct tm_arena *a, uint32_t code,
				     const void *data, size_t len)
{
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

/* A message the kernel handed over, as a term in @a. */
static struct tm_term tm_msg_term(struct tm_arena *a,
				  const struct termite_msghdr *h,
				  const uint8_t *data)
{
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
		return tm_rec(a, tm_symbol("EXIT"), 2,
			      tm_ref_term(a, h->from, TM_REF_PID),
			      tm_reason_term(a, h->code, data, h->len));
	case TERMITE_KIND_DOWN:
		return tm_rec(a, tm_symbol("DOWN"), 3,
			      tm_ref_term(a, h->tag, TM_REF_TAG),
			      tm_ref_term(a, h->from, TM_REF_PID),
			      tm_reason_term(a, h->code, data, h->len));
	default:
		t = tm_rec(a, tm_symbol("raw"), 2, tm_int(h->kind),
			   tm_bytes(data, h->len));
		return tm_copy(a, &t);
	}
}

/*
 * Something of @p's reaches the kernel mailbox of @to: if @to is a process
 * of this scheduler, its receives must look there before its local mailbox
 * takes more (see "Local messages" below), and it may have news.
 */
static void tm_kernel_news(struct tm_proc *p, uint64_t to)
{
	struct tm_proc *q = tm_tab_find(p->rt, to);

	if (q) {
		q->kn = true;
		tm_wake(q);
	}
}

static void tm_send_raw(struct tm_proc *p, uint64_t to, uint64_t tag,
			uint32_t kind, const void *buf, size_t len)
{
	struct termite_send s;
	struct tm_proc *q;
	int tries = 0;

	if (p->rt->ring) {
		if (len > tm_node.max_msg)
			tm_fail("send", EMSGSIZE);
		memset(&s, 0, sizeof(s));
		s.from = p->id;
		s.to = to;
		s.tag = tag;
		s.len = len;
		s.kind = kind;
		tm_ring_queue_send(p->rt, &s, buf);
		q = tm_tab_find(p->rt, to);
		if (q)
			q->kn = true;	/* tm_ring_speculate() wakes it */
		/* A sender that never waits: bound what it leaves queued. */
		if (p->rt->ring->nbatches >= TM_BATCHES_MAX)
			tm_flush(p);
		return;
	}
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
			 * it without waiting for READY to say so.
			 */
			tm_kernel_news(p, to);
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
			p->kn = true;
			tm_recv_for(0, NULL);
			tm_die(p, tm_symbol("killed"));
		default:
			tm_fail("send", errno);
		}
	}
}

/*
 * DOC: Local messages
 *
 * A message between two processes of one scheduler need not cross the
 * kernel: the sender deep-copies the term into an arena of its own and
 * puts it in the receiver's local mailbox (struct tm_lmsg), whose heap
 * takes the arena over when it receives it.  The kernel still owns
 * everything else (links, monitors, exit signals, death notices, names),
 * and every message from another port.  The two mailboxes must look like
 * one, keeping each sender's order:
 *
 *  - A receive looks at the local mailbox first, then at the kernel's.
 *  - p->kn says the kernel may hold something for p: set when READY names
 *    it, and by a process of this scheduler that sends it anything through
 *    the kernel (a message, an exit signal); cleared only when a receive
 *    sees the kernel mailbox empty (and no unsent batch of this scheduler
 *    holds a send to p).  While it is set, or while p waits in a kernel
 *    RECV, local senders use the kernel too.  So a local sender's
 *    messages in the kernel are always newer than its messages in the
 *    local mailbox, and its death (an EXIT or DOWN message from the
 *    kernel) comes after all of them.
 *  - A plain receive with a non-empty local mailbox first moves the
 *    kernel's messages behind it (tm_drain(), which also raises pending
 *    exit signals); a selective receive first asks the kernel for pending
 *    signals only, then walks the local mailbox, then the kernel's with
 *    its cursor.  Each message is seen once per receive.
 *  - The kernel is asked for news (READY) when the scheduler idles and
 *    every %TM_TICK_NEWS local messages taken, so local traffic cannot
 *    starve messages and exit signals from elsewhere.
 *
 * A receiver parked in the kernel (io_uring, after a message from
 * another port) is sent to through the kernel, which completes its RECV.
 */
#define TM_TICK_NEWS	64
#define TM_DRAIN_MAX	64
#define TM_LMSG_FIRST	256	/* first chunk of a local message's arena */

static void tm_lq_add(struct tm_proc *q, struct tm_lmsg *m)
{
	m->lseq = ++q->lseq;
	if (q->lq) {
		m->next = q->lq->next;
		q->lq->next = m;
	} else {
		m->next = m;
	}
	q->lq = m;
}

/* Take @m, which follows @prev, out of @p's local mailbox into its heap. */
static struct tm_term tm_lq_take(struct tm_proc *p, struct tm_lmsg *prev,
				 struct tm_lmsg *m)
{
	struct tm_arena a = m->a;
	struct tm_term t = m->t;

	p->remote = m->remote;
	if (m->next == m) {
		p->lq = NULL;
	} else {
		prev->next = m->next;
		if (p->lq == m)
			p->lq = prev;
	}
	/* A number or a boolean lives in the term itself: free the block. */
	if (a.used == sizeof(*m))
		tm_arena_fini(&a);
	else
		tm__arena_merge(&p->heap, &a);
	return t;
}

static void tm_lq_free(struct tm_proc *p)
{
	struct tm_lmsg *m, *next;
	struct tm_arena a;

	if (!p->lq)
		return;
	m = p->lq->next;
	p->lq->next = NULL;
	for (; m; m = next) {
		next = m->next;
		a = m->a;
		tm_arena_fini(&a);
	}
	p->lq = NULL;
}

/* Whether a message to @q may go to its local mailbox (see above). */
static bool tm_local_ok(const struct tm_proc *q)
{
	return q && !q->kn && !q->rx_wait && !q->dead;
}

/*
 * Send @t to @q, a process of this scheduler, without the kernel: one deep
 * copy into an arena of its own, which grows as the copy needs (its first
 * chunk holds a small message whole), no sizing pass.
 */
static void tm_lsend(struct tm_proc *q, uint64_t tag, const struct tm_term *t)
{
	struct tm_arena a;
	struct tm_lmsg *m;
	ssize_t n;
	int err;

	if (tm_is(t, TM_INVALID))
		tm_fail("encode", -tm_term_error(t));
	tm_arena_init(&a, 0);
	if (tm__arena_reserve(&a, TM_LMSG_FIRST))
		tm_fail("send", ENOMEM);
	m = tm_arena_alloc(&a, sizeof(*m));
	m->t = tm_copy(&a, t);
	err = tm_is(&m->t, TM_INVALID) ? tm_term_error(&m->t) : 0;
	/* The kernel's limit on messages holds here too. */
	if (!err && a.used - sizeof(*m) > tm_node.max_msg) {
		/* (A copy is never smaller than its encoding.) */
		n = tm_encoded_size(t);
		err = n < 0 ? (int)n : (size_t)n > tm_node.max_msg ? 1 : 0;
	}
	if (err) {
		tm_arena_fini(&a);
		if (err == TM_ENOMEM)
			tm_fail("send", ENOMEM);
		if (err == 1)
			tm_fail("send", EMSGSIZE);
		tm_fail("encode", -err);
	}
	m->tag = tag;
	m->remote = false;
	m->a = a;
	tm_lq_add(q, m);
	if (q->rx_flags != ~0u)
		tm_wake(q);	/* it waits in a receive */
}

/*
 * Send @t to @to with kernel tag @tag: to the local mailbox if it may, else
 * encoded (into @stack if it fits) through the kernel.
 */
static void tm_send_term(struct tm_proc *p, uint64_t to, uint64_t tag,
			 const struct tm_term *t)
{
	uint8_t stack[TM_STACK_MSG], *buf = stack;
	struct tm_proc *q = tm_tab_find(p->rt, to);
	ssize_t n;

	if (tm_local_ok(q)) {
		tm_lsend(q, tag, t);
		return;
	}
	n = tm_encode(t, stack, sizeof(stack));

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
 * One kernel receive as described by @r (flags, cursor, matches); through
 * io_uring it may wait in the kernel until @deadline (<0: forever, 0: not
 * at all), else it does not wait.  Exit signals are raised here; a death
 * notice ends the process.  Returns the payload length with the message
 * in p->rx_buf (give it back with tm_rx_done() once decoded), or -EAGAIN
 * (nothing), -ETIMEDOUT (it waited), or -ENOMSG (RECV_SEQ).
 */
static int tm_rx(struct tm_proc *p, struct termite_recv *r, int64_t deadline)
{
	struct tm_rt *rt = p->rt;
	struct termite_msghdr *h;
	int n;

	for (;;) {
		if (rt->ring) {
			if (!p->rx_buf) {
				p->rx_buf = tm_ring_buf(rt->ring);
				p->rx_cap = TM_RXBUF_MIN;
			}
		} else {
			p->rx_buf = rt->buf;
			p->rx_cap = rt->cap;
		}
		r->actor = p->id;
		r->buf = (uintptr_t)p->rx_buf;
		r->buf_len = p->rx_cap;
		r->timeout_ns = 0;
		if (p->rx_spec) {
			/* The scheduler asked for us (tm_ring_speculate). */
			while (p->rx_wait)
				tm_fiber_suspend();
			p->rx_spec = false;
			n = p->rx_res;
		} else if (rt->ring) {
			/* Wait in the kernel while the scheduler has room. */
			if (deadline && rt->ring->nparked < tm_node.park_max) {
				int64_t left = deadline - tm_now();

				r->timeout_ns = deadline < 0 ? -1 :
						left > 0 ? left : 1;
				p->rx_kpark = true;
				rt->ring->nparked++;
			}
			n = tm_ring_recv(p, r);
		} else {
			n = ioctl(rt->fd, TERMITE_IOC_RECV, r);
			if (n < 0)
				n = -errno;
		}
		h = (struct termite_msghdr *)p->rx_buf;
		if (n >= 0) {
			const uint8_t *data = p->rx_buf + sizeof(*h);

			if (h->flags & TERMITE_MSG_DEAD) {
				p->dead = true;
				tm_die(p, tm_reason_term(tm_heap(), h->code, data,
							 h->len));
			}
			if (h->flags & TERMITE_MSG_SIGNAL) {
				struct tm_term e;

				e = tm_reason_term(tm_heap(), h->code, data, h->len);
				tm_rx_done(p);
				tm_raise(e);
				continue;	/* a handler resumed: go on */
			}
			return n;
		}
		switch (-n) {
		case EMSGSIZE: {
			size_t need = sizeof(*h) + h->len;
			uint8_t *nb;

			if (rt->ring) {
				tm_rx_done(p);
				nb = malloc(need);
			} else {
				nb = realloc(rt->buf, need);
			}
			if (!nb)
				tm_fail("receive", ENOMEM);
			if (rt->ring) {
				p->rx_buf = nb;
				p->rx_cap = need;
			} else {
				rt->buf = nb;
				rt->cap = need;
			}
			break;
		}
		case EAGAIN:
			/*
			 * Nothing: a receive without match flags or cursor
			 * saw the kernel mailbox empty, unless a batch of ours
			 * has yet to reach it.
			 */
			if (!(r->flags & ~(TERMITE_RECV_PEEK |
					    TERMITE_RECV_AFTER)) && !r->cursor &&
			    !tm_ring_sends_to(rt, p->id))
				p->kn = false;
			/* fall through */
		case ETIMEDOUT:		/* it waited in the kernel */
		case ENOMSG:
			tm_rx_done(p);
			return n;
		case EINTR:
			break;
		default:
			tm_fail("receive", -n);
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


static inline void tm_tick(struct tm_rt *rt)
{
	if (!(++rt->lticks % TM_TICK_NEWS))
		tm_news(rt);
}

/*
 * A plain receive with messages in the local mailbox: move the kernel's
 * behind them, in order (at most %TM_DRAIN_MAX at a time), so that what
 * came from elsewhere is not starved.  Pending exit signals are raised.
 */
static __attribute__((noinline)) void tm_drain(struct tm_proc *p)
{
	const struct termite_msghdr *h;
	struct termite_recv r;
	struct tm_arena a;
	struct tm_lmsg *m;
	int i, n;

	for (i = 0; i < TM_DRAIN_MAX && p->kn; i++) {
		memset(&r, 0, sizeof(r));
		n = tm_rx(p, &r, 0);
		if (n < 0)
			return;
		h = (void *)p->rx_buf;
		tm_arena_init(&a, 0);
		/* Room for most decodings (more chunks if it needs them). */
		if (tm__arena_reserve(&a, sizeof(*m) + 2 * (size_t)h->len + 64))
			tm_fail("receive", ENOMEM);
		m = tm_arena_alloc(&a, sizeof(*m));
		m->t = tm_msg_term(&a, h, p->rx_buf + sizeof(*h));
		m->tag = h->tag;
		m->remote = !tm_tab_find(p->rt, h->from);
		m->a = a;
		tm_rx_done(p);
		tm_lq_add(p, m);
	}
}

/* Raise the exit signals the kernel holds for @p, if any. */
static __attribute__((noinline)) void tm_signals(struct tm_proc *p)
{
	struct termite_recv r;

	memset(&r, 0, sizeof(r));
	r.flags = TERMITE_RECV_SEQ | TERMITE_RECV_PEEK;
	tm_rx(p, &r, 0);	/* a signal, or ENOMSG */
}

/*
 * Step 3 of tm_take(): the kernel's mailbox, from *@cursor for a selective
 * receive; waiting in it until @deadline if @park.  0 with *@out, or
 * -EAGAIN (nothing), -ETIMEDOUT.  Not inlined: a process parked outside
 * the kernel keeps only tm_take()'s small frame in its saved stack.
 */
static __attribute__((noinline)) int
tm_kstep(struct tm_proc *p, const struct termite_recv *sel,
	 bool (*try)(const struct tm_term *, void *), void *ctx,
	 uint64_t *cursor, int64_t deadline, bool park, struct tm_term *out)
{
	const struct termite_msghdr *h;
	struct termite_recv r;
	uint64_t seq, from;
	struct tm_term t;
	int n;

	while (p->kn || p->rx_spec || park) {
		r = *sel;
		if (try) {
			r.flags |= TERMITE_RECV_PEEK | TERMITE_RECV_AFTER;
			r.cursor = *cursor;
		}
		n = tm_rx(p, &r, park ? deadline : 0);
		park = false;
		if (n < 0)
			return n;
		h = (void *)p->rx_buf;
		seq = h->seq;
		from = h->from;
		t = tm_msg_term(tm_heap(), h, p->rx_buf + sizeof(*h));
		tm_rx_done(p);
		if (try) {
			*cursor = seq;
			if (!try(&t, ctx))
				continue;
			memset(&r, 0, sizeof(r));
			r.flags = TERMITE_RECV_SEQ;
			r.cursor = seq;
			if (tm_rx(p, &r, 0) < 0)
				continue;	/* a handler took it */
			tm_rx_done(p);
		}
		p->remote = !tm_tab_find(p->rt, from);
		*out = t;
		return 0;
	}
	return -EAGAIN;
}

/*
 * Take the first message that passes the kernel filter @sel (flags
 * TERMITE_MATCH_*, with its tag, kind and data) and @try (NULL: any), the
 * local mailbox first (see "Local messages"), then the kernel's, waiting
 * until @deadline (<0: forever, 0: not at all).  @try sees each message at
 * most once.  Exit signals are raised here; a death notice ends the
 * process.  Returns 0 with the message in *@out, or -ETIMEDOUT.
 */
static int tm_take(struct tm_proc *p, const struct termite_recv *sel,
		   bool (*try)(const struct tm_term *, void *), void *ctx,
		   int64_t deadline, struct tm_term *out)
{
	struct tm_rt *rt = p->rt;
	bool plain = !try && !sel->flags;
	uint32_t seen = p->lq ? p->lq->next->lseq - 1 : p->lseq;
	struct tm_lmsg *prev, *m;
	uint64_t cursor = 0;
	bool park = false, kfail = false;
	int n;

	for (;;) {
		/* 1. What the kernel has to say first. */
		if (p->kn && !p->rx_spec && !park) {
			if (plain && p->lq)
				tm_drain(p);
			else if (!plain)
				tm_signals(p);
		}
		/* 2. The local mailbox, from what this receive has not seen. */
		if (p->lq && !p->rx_spec && !park) {
			prev = p->lq;
			do {
				m = prev->next;
				if ((int32_t)(m->lseq - seen) > 0) {
					seen = m->lseq;
					if ((!(sel->flags & TERMITE_MATCH_TAG) ||
					     m->tag == sel->tag) &&
					    (!try || try(&m->t, ctx))) {
						*out = tm_lq_take(p, prev, m);
						tm_tick(rt);
						return 0;
					}
				}
				prev = m;
			} while (m != p->lq);
		}
		/*
		 * 3. The kernel's mailbox: while it may hold something, or
		 * waiting in it (@park) for a message from elsewhere.
		 */
		n = tm_kstep(p, sel, try, ctx, &cursor, deadline, park, out);
		if (!n || n == -ETIMEDOUT)
			return n;
		kfail = park;
		park = false;
		if (!deadline || (deadline > 0 && tm_now() >= deadline))
			return -ETIMEDOUT;
		/*
		 * 4. Wait: in the kernel (io_uring) if the last message came
		 * from another port; else for a local message, news from
		 * READY, or the deadline.
		 */
		if (rt->ring && p->remote && !p->lq && !kfail &&
		    rt->ring->nparked < tm_node.park_max) {
			park = true;
			continue;
		}
		p->rx_flags = try ? sel->flags | TERMITE_RECV_PEEK : sel->flags;
		p->rx_tag = sel->tag;
		if (rt->ring)
			rt->ring->nwatchers++;
		tm_park(p, deadline);
		if (rt->ring)
			rt->ring->nwatchers--;
		p->rx_flags = ~0u;	/* not parked in a receive */
	}
}

/* The filter of a receive that takes any message. */
static const struct termite_recv tm_any;

struct tm_term tm_recv_for(int64_t timeout, const struct tm_term *dflt)
{
	struct tm_proc *p = tm_must();
	struct tm_term t;

	if (tm_take(p, &tm_any, NULL, NULL, tm_deadline(timeout), &t))
		return tm_timed_out(dflt);
	return t;
}

struct tm_term tm_recv(void)
{
	return tm_recv_for(TM_FOREVER, NULL);
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
	if (tm_take(p, &none, tm_try_pred, &pc, tm_deadline(timeout), &t))
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
	if (tm_take(p, &filter, tm_try_clauses, &mc, tm_deadline(timeout),
		    &t))
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
	tm_flush(p);
	if (ioctl(p->rt->fd, TERMITE_IOC_MAKE_TAG, &t))
		tm_fail("make-tag", errno);
	return tm_ref_term(tm_heap(), t.tag, TM_REF_TAG);
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
	if (tm_take(p, &r, NULL, NULL, tm_deadline(timeout), &t))
		return tm_timed_out(dflt);
	if (tm_is(&t, TM_SEQUENCE) && tm_count(&t) == 2)
		return *tm_item(&t, 1);
	return t;
}

void tm_reply(struct tm_term to, struct tm_term tag, struct tm_term value)
{
	tm_send(to, tm_seq(tm_heap(), 2, tag, value));
}

/* ---- links, monitors, exits ----------------------------------------- */

/* LINK or UNLINK @p with @peer: 0 or -errno. */
static int tm_link_raw(struct tm_proc *p, uint64_t peer, unsigned long cmd,
		       uint32_t flags)
{
	struct termite_link l;

	memset(&l, 0, sizeof(l));
	l.actor = p->id;
	l.peer = peer;
	l.flags = flags;
	tm_flush(p);
	if (ioctl(p->rt->fd, cmd, &l))
		return -errno;
	p->kn = true;	/* a dead peer's NOPROC may be queued already */
	return 0;
}

static void tm_link_op(struct tm_term pid, unsigned long cmd, uint32_t flags)
{
	struct tm_proc *p = tm_must();
	int err = tm_link_raw(p, tm_need_pid(&pid), cmd, flags);

	if (err)
		tm_fail(cmd == TERMITE_IOC_LINK ? "link" : "unlink", -err);
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
	tm_flush(p);
	if (ioctl(p->rt->fd, TERMITE_IOC_MONITOR, &m))
		tm_fail("monitor", errno);
	p->kn = true;	/* a dead peer's DOWN may be queued already */
	return tm_ref_term(tm_heap(), m.ref, TM_REF_TAG);
}

void tm_demonitor(struct tm_term ref)
{
	struct tm_proc *p = tm_must();
	struct termite_monitor m;

	memset(&m, 0, sizeof(m));
	m.actor = p->id;
	m.ref = tm_ref_id(&ref, TM_REF_TAG);
	m.flags = TERMITE_DEMONITOR_FLUSH;
	tm_flush(p);
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
	tm_flush(p);
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
	tm_flush(p);
	if (!ioctl(p->rt->fd, TERMITE_IOC_SIGNAL, &ex))
		tm_kernel_news(p, to);
	else if (errno != ESRCH)
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
	if (tm_cur())
		tm_flush(tm_cur());
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
	tm_lq_free(p);
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

/*
 * The end of process @p: tell the kernel why, unless it knows, and free
 * it.  Not inlined, so that tm_proc_main()'s frame, which every parked
 * process keeps in its saved stack, stays small.
 */
static __attribute__((noinline)) void tm_proc_end(struct tm_proc *p)
{
	struct tm_rt *rt = p->rt;
	uint32_t code;
	size_t len = 0;
	uint8_t *buf;

	p->frames = NULL;
	tm_rx_done(p);
	if (!p->dead) {
		struct termite_exit ex;

		tm_flush(p);
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

static void tm_proc_main(void *arg)
{
	struct tm_proc *p = arg;
	tm_jmp_buf base;

	p->base = base;
	if (!tm_setjmp(base)) {
		p->fn(p->arg);
		p->reason = tm_symbol("normal");
	}
	tm_proc_end(p);
}

static struct tm_rt *tm_pick_rt(void)
{
	if (tm_node.n == 1)
		return tm_cur_rt;
	return &tm_node.rts[atomic_fetch_add(&tm_node.rr, 1) % tm_node.n];
}

/*
 * A new actor (mode DELIVER) of @rt's port: made ahead on its own thread,
 * so that most spawns make no system call (a batch is 8, then 32 actors;
 * they count towards max_actors, so a spawn may fail with ENOSPC while up
 * to 31 are ready), else made now.  0, or -1 with errno set.
 */
static int tm_actor_new(struct tm_rt *rt, uint64_t *id)
{
	struct termite_spawn_batch b;
	struct termite_spawn sp;

	if (rt == tm_cur_rt && tm_node.spawn_batch) {
		if (!rt->nspare) {
			memset(&b, 0, sizeof(b));
			b.ids = (uintptr_t)rt->spare;
			b.count = rt->refilled ? TM_SPARE_MAX : 8;
			b.mode = TERMITE_MODE_DELIVER;
			if (ioctl(rt->fd, TERMITE_IOC_SPAWN_BATCH, &b))
				return -1;
			rt->nspare = b.spawned;
			rt->refilled = true;
		}
		*id = rt->spare[--rt->nspare];
		return 0;
	}
	memset(&sp, 0, sizeof(sp));
	sp.mode = TERMITE_MODE_DELIVER;
	if (ioctl(rt->fd, TERMITE_IOC_SPAWN, &sp))
		return -1;
	*id = sp.id;
	return 0;
}

/* Create the actor of a new process on @rt's port (any thread may). */
static struct tm_proc *tm_proc_new(struct tm_rt *rt, tm_proc_fn fn, void *arg)
{
	struct tm_proc *p;
	uint64_t id;

	if (tm_actor_new(rt, &id))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out_actor;
	p->id = id;
	p->rt = rt;
	p->rx_flags = ~0u;
	p->fn = fn;
	p->arg = arg;
	tm_arena_init(&p->heap, 0);
	atomic_fetch_add(&tm_node.live, 1);
	return p;

out_actor:
	{
		struct termite_exit ex = { .actor = id };

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
	struct termite_exit ex;
	uint64_t id;
	int err;

	if (!p)
		tm_fail("spawn", errno);
	id = p->id;	/* p is another thread's once started */
	/* Linked before the child runs: atomic. */
	err = link ? tm_link_raw(tm_must(), p->id, TERMITE_IOC_LINK,
				 TERMITE_LINK_BOTH) : 0;
	if (err) {
		/* It never ran: nobody knows it, take it back. */
		memset(&ex, 0, sizeof(ex));
		ex.actor = p->id;
		ioctl(p->rt->fd, TERMITE_IOC_EXIT, &ex);
		tm_proc_free(p);
		tm_fail("link", -err);
	}
	tm_proc_start(p);
	return tm_pid_of(id);
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
	tm_ring_close(rt);
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
	/* A ring has one issuer: the thread that sets it up. */
	if (tm_node.uring && tm_ring_open(rt))
		rt->ring = NULL;	/* the ioctls serve as well */
	rt->fs.idle = tm_idle;
	rt->fs.data = rt;
	for (;;) {
		tm_events(rt, false);
		tm_sched_run(&rt->fs);
		if (!atomic_load(&tm_node.live))
			break;
		/* Nothing of ours runs: wait for a process handed over. */
		if (rt->ring) {
			tm_ring_events(rt, true);
			continue;
		}
		pfd.fd = rt->efd;
		pfd.events = POLLIN;
		poll(&pfd, 1, 100);
	}
	tm_ring_close(rt);
	tm_sched_destroy(&rt->fs);
	tm_cur_rt = NULL;
	return NULL;
}

/* io_uring unless TERMITE_URING=0 in the environment. */
static bool tm_want_uring(void)
{
	const char *e = getenv("TERMITE_URING");

	return !e || strcmp(e, "0");
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
	tm_node.max_msg = v.max_msg_size;
	tm_node.uring = (v.features & TERMITE_FEAT_URING) && tm_want_uring();
	tm_node.spawn_batch = v.features & TERMITE_FEAT_SPAWN_BATCH;
	tm_node.park_max = TM_PARK_MAX;
	if (getenv("TERMITE_PARK_MAX"))
		tm_node.park_max = strtoul(getenv("TERMITE_PARK_MAX"), NULL, 0);
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
