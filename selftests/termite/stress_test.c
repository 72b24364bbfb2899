// SPDX-License-Identifier: GPL-2.0
/*
 * termite selftest: a bounded multi-threaded stress.
 *
 * NTHREADS threads, each with its own port and NSLOTS actor slots, do
 * random sends (to any actor of any thread), receives, links, unlinks,
 * monitors, demonitors, exit signals, exits, kills, spawns and, rarely,
 * close and reopen their whole port, for TERMITE_STRESS_SECS seconds
 * (default 10).  Actors are in mode TRAP or DELIVER, so only their owner
 * ends them (EXIT, KILL or closing the port) and the owner always knows
 * which of its actors are alive.
 *
 * Every ordinary message carries (sender, receiver, per-pair sequence
 * number).  Receivers check on the fly that each pair's numbers arrive
 * exactly in order (no loss, no duplicate, no reordering); exit messages
 * caused by a death arrive at most once per (dead actor, receiver); DOWN
 * messages at most once per monitor.
 *
 * Sends to a slot happen under the slot's lock, and before an owner ends
 * an actor (EXIT, KILL, closing the port) it empties the slot under that
 * lock and drains the mailbox; at the end every thread drains its live
 * actors.  So every message that was successfully sent must have been
 * received exactly once: the test checks that for every pair, and that
 * every monitor of a live watcher fired exactly when its target died.
 * Afterwards a fresh port must work.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

#define NTHREADS	6
#define NSLOTS		24
#define MAXMON		16384		/* monitor records per thread */
#define PAIR_BITS	21		/* pair table: 2 Mi entries, 64 MiB */
#define MSG_MAGIC	0x7465726d69746531ULL
#define CODE_EXIT	(TERMITE_EXIT_ERROR + 7U)	/* EXIT ioctl reason */
#define CODE_SIGNAL	(TERMITE_EXIT_ERROR + 9U)	/* SIGNAL ioctl reason */

struct smsg {
	__u64 magic;
	__u64 from;
	__u64 to;
	__u64 seq;
};

/* ---- the (sender, receiver) table ----------------------------------- */

struct pair {
	__u64 from, to;
	__u32 sent;		/* written only by the sender's thread */
	__u32 recvd;		/* written only by the receiver's thread */
	__u32 exits;		/* death notices of from seen by to */
	__u32 pad;
};

static struct pair *pairs;
static pthread_mutex_t pairs_lock = PTHREAD_MUTEX_INITIALIZER;
static long npairs;
static atomic_int stop;
static atomic_int table_full;

static struct pair *pair_get(__u64 from, __u64 to)
{
	size_t mask = ((size_t)1 << PAIR_BITS) - 1;
	size_t h = (size_t)((from * 0x9e3779b97f4a7c15ULL) ^
			    (to * 0xc2b2ae3d27d4eb4fULL));
	struct pair *p = NULL;

	pthread_mutex_lock(&pairs_lock);
	for (h &= mask;; h = (h + 1) & mask) {
		if (pairs[h].from == from && pairs[h].to == to) {
			p = &pairs[h];
			break;
		}
		if (!pairs[h].from) {
			/*
			 * Keep the table at most 3/4 full; at 2/3 the run
			 * ends early (on a fast machine).
			 */
			if (npairs < (long)(mask / 4 * 3)) {
				pairs[h].from = from;
				pairs[h].to = to;
				npairs++;
				p = &pairs[h];
			}
			if (npairs > (long)(mask / 3 * 2) &&
			    !atomic_exchange(&table_full, 1))
				atomic_store(&stop, 1);
			break;
		}
	}
	pthread_mutex_unlock(&pairs_lock);
	return p;
}

/* ---- errors ------------------------------------------------------------ */

static atomic_int nerrors;

#define FAIL(fmt, ...) do {						\
	if (atomic_fetch_add(&nerrors, 1) < 30)				\
		fprintf(stderr, "# stress error (%s:%d): " fmt "\n",	\
			__func__, __LINE__, ##__VA_ARGS__);		\
} while (0)

/* ---- threads ------------------------------------------------------------ */

static _Atomic __u64 slots[NTHREADS][NSLOTS];
/* Held while sending to the slot's actor, and to empty the slot. */
static pthread_mutex_t slot_lock[NTHREADS][NSLOTS];
static pthread_barrier_t barrier;

struct mon {
	__u64 ref, watcher, peer;
	__u8 demonitored, downs;
};

#define NSTALE 64

struct stats {
	long racy, racy_esrch;
	long sends, send_fail, recvs, links, unlinks, monitors, demonitors;
	long exits, kills, signals, spawns, reopens;
};

struct worker {
	int idx;
	int fd;
	__u64 rng;
	__u32 mode[NSLOTS];
	struct mon *mons;
	int nmons;
	int *mon_map;		/* open addressing ref -> index + 1 */
	__u64 stale[NSTALE];	/* ids seen lately, most of them dead */
	struct stats st;
};

static struct worker workers[NTHREADS];

static __u64 rnd(struct worker *w)
{
	/* xorshift64* */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dULL;
}

static unsigned int rndn(struct worker *w, unsigned int n)
{
	return (unsigned int)((rnd(w) >> 33) % n);
}

#define MON_MAP_SIZE (MAXMON * 2)

static struct mon *mon_find(struct worker *w, __u64 ref)
{
	unsigned int h = (unsigned int)(ref * 0x9e3779b97f4a7c15ULL >> 40) %
			 MON_MAP_SIZE;

	for (;; h = (h + 1) % MON_MAP_SIZE) {
		int i = w->mon_map[h];

		if (!i)
			return NULL;
		if (w->mons[i - 1].ref == ref)
			return &w->mons[i - 1];
	}
}

static void mon_add(struct worker *w, __u64 ref, __u64 watcher, __u64 peer)
{
	unsigned int h = (unsigned int)(ref * 0x9e3779b97f4a7c15ULL >> 40) %
			 MON_MAP_SIZE;
	struct mon *m;

	if (mon_find(w, ref)) {
		FAIL("monitor reference %#llx given twice",
		     (unsigned long long)ref);
		return;
	}
	m = &w->mons[w->nmons];
	memset(m, 0, sizeof(*m));
	m->ref = ref;
	m->watcher = watcher;
	m->peer = peer;
	w->nmons++;
	while (w->mon_map[h])
		h = (h + 1) % MON_MAP_SIZE;
	w->mon_map[h] = w->nmons;
}

/* Slot of own actor @id, or -1. */
static int own_slot(struct worker *w, __u64 id)
{
	int i;

	for (i = 0; i < NSLOTS; i++)
		if (atomic_load(&slots[w->idx][i]) == id)
			return i;
	return -1;
}

/* A random live own actor (slot in *slot), or 0. */
static __u64 pick_own(struct worker *w, int *slot)
{
	int i, s = rndn(w, NSLOTS);

	for (i = 0; i < NSLOTS; i++) {
		int k = (s + i) % NSLOTS;
		__u64 id = atomic_load(&slots[w->idx][k]);

		if (id) {
			if (slot)
				*slot = k;
			return id;
		}
	}
	return 0;
}

/* A random actor of any thread (maybe dead by the time it is used). */
static __u64 pick_any(struct worker *w)
{
	return atomic_load(&slots[rndn(w, NTHREADS)][rndn(w, NSLOTS)]);
}

static int recv_id(struct worker *w, int k, __u64 me, __s64 timeout);
static void do_send(struct worker *w, __u64 to);

/*
 * Takes own slot @k's actor out of play before it ends: nobody can send to
 * it any more (senders hold the slot lock and re-read the slot), and what
 * was sent is drained and checked.  Returns its id.
 */
static __u64 retire(struct worker *w, int k)
{
	__u64 id;

	pthread_mutex_lock(&slot_lock[w->idx][k]);
	id = atomic_exchange(&slots[w->idx][k], 0);
	pthread_mutex_unlock(&slot_lock[w->idx][k]);
	if (id) {
		while (recv_id(w, k, id, 0) >= 0)
			;
		w->stale[rndn(w, NSTALE)] = id;
	}
	return id;
}

static void spawn_slot(struct worker *w, int k)
{
	__u32 mode = rndn(w, 2) ? TERMITE_MODE_TRAP : TERMITE_MODE_DELIVER;
	__u64 id;
	int ret = tm_spawn_mode(w->fd, mode, &id);

	if (ret) {
		FAIL("spawn: %s", strerror(-ret));
		return;
	}
	w->mode[k] = mode;
	atomic_store(&slots[w->idx][k], id);
	w->st.spawns++;
}

static int is_death_code(__u32 code)
{
	return code == TERMITE_EXIT_NORMAL || code == CODE_EXIT ||
	       code == TERMITE_EXIT_KILLED || code == TERMITE_EXIT_PORT_CLOSED;
}

/* Checks one received message of own actor @me (in slot @k). */
static void handle(struct worker *w, int k, __u64 me, struct tm_msgbuf *m,
		   int len)
{
	struct termite_msghdr *h = &m->hdr;
	struct smsg sm;
	struct pair *p;
	struct mon *mo;

	if (h->flags & TERMITE_MSG_DEAD) {
		FAIL("unexpected death notice for %#llx code %u",
		     (unsigned long long)me, h->code);
		return;
	}
	if (h->kind != TERMITE_KIND_DOWN && h->from)
		w->stale[rndn(w, NSTALE)] = h->from;
	switch (h->kind) {
	case 2:
		memcpy(&sm, m->data, sizeof(sm));
		if (len != (int)sizeof(sm) || sm.magic != MSG_MAGIC ||
		    sm.from != h->from || sm.to != me)
			FAIL("corrupt racy message from %#llx to %#llx",
			     (unsigned long long)h->from,
			     (unsigned long long)me);
		return;
	case 1:
		if (len != (int)sizeof(sm) || h->flags) {
			FAIL("message len %d flags %#x", len, h->flags);
			return;
		}
		memcpy(&sm, m->data, sizeof(sm));
		if (sm.magic != MSG_MAGIC || sm.from != h->from ||
		    sm.to != me || h->tag != sm.seq) {
			FAIL("corrupt message from %#llx (says %#llx) to %#llx (says %#llx)",
			     (unsigned long long)h->from,
			     (unsigned long long)sm.from,
			     (unsigned long long)me,
			     (unsigned long long)sm.to);
			return;
		}
		p = pair_get(sm.from, me);
		if (!p) {
			FAIL("message of an unknown pair");
			return;
		}
		if (sm.seq != p->recvd + 1)
			FAIL("pair %#llx->%#llx: got seq %llu after %u (%s)",
			     (unsigned long long)sm.from,
			     (unsigned long long)me,
			     (unsigned long long)sm.seq, p->recvd,
			     sm.seq <= p->recvd ? "duplicate/reordered" :
						  "lost");
		if (sm.seq > p->recvd)
			p->recvd = sm.seq;
		return;
	case TERMITE_KIND_EXIT:
		if (h->flags != (w->mode[k] == TERMITE_MODE_TRAP ? 0 :
				 TERMITE_MSG_SIGNAL))
			FAIL("EXIT flags %#x in mode %u", h->flags,
			     w->mode[k]);
		if (h->code == TERMITE_EXIT_NORMAL &&
		    w->mode[k] != TERMITE_MODE_TRAP)
			FAIL("normal exit delivered in mode DELIVER");
		if (h->code == CODE_SIGNAL || h->code == TERMITE_EXIT_NOPROC)
			return;
		if (!is_death_code(h->code)) {
			FAIL("EXIT with code %u", h->code);
			return;
		}
		p = pair_get(h->from, me);
		if (p && ++p->exits > 1)
			FAIL("death of %#llx reported %u times to %#llx",
			     (unsigned long long)h->from, p->exits,
			     (unsigned long long)me);
		return;
	case TERMITE_KIND_DOWN:
		mo = mon_find(w, h->tag);
		if (!mo || mo->watcher != me || mo->peer != h->from) {
			FAIL("DOWN with unknown ref %#llx from %#llx to %#llx",
			     (unsigned long long)h->tag,
			     (unsigned long long)h->from,
			     (unsigned long long)me);
			return;
		}
		if (h->code != TERMITE_EXIT_NOPROC && !is_death_code(h->code))
			FAIL("DOWN with code %u", h->code);
		if (++mo->downs > 1)
			FAIL("monitor %#llx fired %u times",
			     (unsigned long long)mo->ref, mo->downs);
		return;
	default:
		FAIL("message kind %#x", h->kind);
	}
}

/* Receives one message for own actor @me of slot @k. */
static int recv_id(struct worker *w, int k, __u64 me, __s64 timeout)
{
	struct tm_msgbuf m;
	int ret;

	ret = tm_recv_msg(w->fd, me, &m, timeout);
	if (ret >= 0) {
		w->st.recvs++;
		handle(w, k, me, &m, ret);
	} else if (ret != -EAGAIN && ret != -ETIMEDOUT) {
		FAIL("recv %#llx: %s", (unsigned long long)me, strerror(-ret));
	}
	return ret;
}

/* Receives one message for own slot @k; returns the recv result. */
static int recv_one(struct worker *w, int k, __s64 timeout)
{
	__u64 me = atomic_load(&slots[w->idx][k]);

	return me ? recv_id(w, k, me, timeout) : -EAGAIN;
}

/*
 * An unaccounted message (kind 2) to any actor, maybe one being ended or
 * long dead: races sends with deaths.
 */
static void op_send_racy(struct worker *w)
{
	__u64 from = pick_own(w, NULL), to = pick_any(w);
	struct smsg sm = { .magic = MSG_MAGIC, .from = from, .to = to };
	int ret;

	if (!rndn(w, 4))
		to = w->stale[rndn(w, NSTALE)];
	if (!from || !to || from == to)
		return;
	sm.to = to;
	ret = tm_send(w->fd, from, to, 0, 2, &sm, sizeof(sm));
	if (ret && ret != -ESRCH && ret != -EAGAIN && ret != -ENOBUFS)
		FAIL("racy send: %s", strerror(-ret));
	w->st.racy++;
	if (ret == -ESRCH)
		w->st.racy_esrch++;
}

static void op_send(struct worker *w)
{
	int tt = rndn(w, NTHREADS), tk = rndn(w, NSLOTS);

	pthread_mutex_lock(&slot_lock[tt][tk]);
	do_send(w, atomic_load(&slots[tt][tk]));
	pthread_mutex_unlock(&slot_lock[tt][tk]);
}

static void do_send(struct worker *w, __u64 to)
{
	__u64 from = pick_own(w, NULL);
	struct smsg sm;
	struct pair *p;
	int ret, block = !rndn(w, 16);

	if (!from || !to || from == to)
		return;
	p = pair_get(from, to);
	if (!p)
		return;		/* table full: send nothing new */
	sm.magic = MSG_MAGIC;
	sm.from = from;
	sm.to = to;
	sm.seq = p->sent + 1;
	ret = tm_send_ex(w->fd, from, to, sm.seq, 1, &sm, sizeof(sm),
			 block ? TERMITE_SEND_BLOCK : 0,
			 block ? TM_MS(1) : 0);
	if (!ret) {
		p->sent = sm.seq;
		w->st.sends++;
		return;
	}
	w->st.send_fail++;
	if (ret != -ESRCH && ret != -EAGAIN && ret != -ENOBUFS &&
	    ret != -ETIMEDOUT)
		FAIL("send %#llx->%#llx: %s", (unsigned long long)from,
		     (unsigned long long)to, strerror(-ret));
}

static void op_link(struct worker *w, int link)
{
	static const __u32 dirs[] = {
		TERMITE_LINK_TO, TERMITE_LINK_FROM, TERMITE_LINK_BOTH,
	};
	__u64 a = pick_own(w, NULL), p = pick_any(w);
	int ret;

	if (!a || !p || a == p)
		return;
	ret = link ? tm_link(w->fd, a, p, dirs[rndn(w, 3)]) :
		     tm_unlink(w->fd, a, p, dirs[rndn(w, 3)]);
	if (ret && ret != -EMLINK)
		FAIL("%slink: %s", link ? "" : "un", strerror(-ret));
	if (link)
		w->st.links++;
	else
		w->st.unlinks++;
}

/* Forgets the monitors of dead watchers, to make room for new ones. */
static void mon_compact(struct worker *w)
{
	int i, n = 0;

	for (i = 0; i < w->nmons; i++)
		if (own_slot(w, w->mons[i].watcher) >= 0)
			w->mons[n++] = w->mons[i];
	memset(w->mon_map, 0, MON_MAP_SIZE * sizeof(*w->mon_map));
	w->nmons = 0;
	for (i = 0; i < n; i++) {
		struct mon m = w->mons[i];

		mon_add(w, m.ref, m.watcher, m.peer);
		w->mons[i] = m;
	}
}

static void op_monitor(struct worker *w)
{
	__u64 a = pick_own(w, NULL), p = pick_any(w), ref;
	int ret;

	if (w->nmons >= MAXMON)
		mon_compact(w);
	if (!a || !p || a == p || w->nmons >= MAXMON)
		return;
	ret = tm_monitor(w->fd, a, p, &ref);
	if (ret) {
		if (ret != -EMLINK)
			FAIL("monitor: %s", strerror(-ret));
		return;
	}
	mon_add(w, ref, a, p);
	w->st.monitors++;
}

static void op_demonitor(struct worker *w)
{
	struct mon *m;
	int ret;

	if (!w->nmons)
		return;
	m = &w->mons[rndn(w, w->nmons)];
	if (m->demonitored || own_slot(w, m->watcher) < 0)
		return;
	ret = tm_demonitor(w->fd, m->watcher, m->ref,
			   rndn(w, 2) ? TERMITE_DEMONITOR_FLUSH : 0);
	if (ret)
		FAIL("demonitor: %s", strerror(-ret));
	m->demonitored = 1;
	w->st.demonitors++;
}

static void op_signal(struct worker *w)
{
	__u64 a = pick_own(w, NULL), p = pick_any(w);
	int ret;

	if (!a || !p || a == p)
		return;
	ret = tm_signal(w->fd, a, p, CODE_SIGNAL, "s", 1);
	if (ret && ret != -ESRCH)
		FAIL("signal: %s", strerror(-ret));
	w->st.signals++;
}

/* Ends an own actor: EXIT (normal or not), or KILL from a sibling. */
static void op_exit(struct worker *w)
{
	int k, k2 = -1, ret;
	__u64 id = pick_own(w, &k), killer = 0;
	struct tm_msgbuf m;

	if (!id)
		return;
	retire(w, k);
	if (rndn(w, 3) == 0)
		killer = pick_own(w, &k2);
	if (killer) {
		ret = tm_signal(w->fd, killer, id, TERMITE_EXIT_KILL, NULL, 0);
		if (ret)
			FAIL("kill: %s", strerror(-ret));
		ret = tm_recv_msg(w->fd, id, &m, 0);
		if (ret < 0 || !(m.hdr.flags & TERMITE_MSG_DEAD) ||
		    m.hdr.code != TERMITE_EXIT_KILLED || m.hdr.from != id)
			FAIL("after KILL: recv %d flags %#x code %u", ret,
			     m.hdr.flags, m.hdr.code);
		ret = tm_recv_msg(w->fd, id, &m, 0);
		if (ret != -ENOENT)
			FAIL("reaped actor: recv %d", ret);
		w->st.kills++;
	} else {
		ret = rndn(w, 2) ?
			tm_exit(w->fd, id, TERMITE_EXIT_NORMAL, NULL, 0) :
			tm_exit(w->fd, id, CODE_EXIT, "bye", 3);
		if (ret)
			FAIL("exit: %s", strerror(-ret));
		w->st.exits++;
	}
}

static void op_reopen(struct worker *w)
{
	int k;

	for (k = 0; k < NSLOTS; k++)
		retire(w, k);
	close(w->fd);
	w->fd = tm_open();
	if (w->fd < 0) {
		FAIL("reopen: %s", strerror(-w->fd));
		return;
	}
	for (k = 0; k < NSLOTS; k++)
		spawn_slot(w, k);
	w->st.reopens++;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int k;

	for (k = 0; k < NSLOTS; k++)
		spawn_slot(w, k);
	pthread_barrier_wait(&barrier);

	while (!atomic_load(&stop) && w->fd >= 0) {
		unsigned int r = rndn(w, 1000);

		if (r < 280) {
			op_send(w);
		} else if (r < 350) {
			op_send_racy(w);
		} else if (r < 720) {
			k = rndn(w, NSLOTS);
			recv_one(w, k, rndn(w, 20) ? 0 : TM_MS(1));
		} else if (r < 780) {
			op_link(w, 1);
		} else if (r < 820) {
			op_link(w, 0);
		} else if (r < 870) {
			op_monitor(w);
		} else if (r < 890) {
			op_demonitor(w);
		} else if (r < 920) {
			op_signal(w);
		} else if (r < 930) {
			op_exit(w);
		} else if (r < 999) {
			k = rndn(w, NSLOTS);
			if (!atomic_load(&slots[w->idx][k]))
				spawn_slot(w, k);
		} else if (rndn(w, 8) == 0) {
			op_reopen(w);
		}
	}

	/* everybody has stopped sending: drain every live actor */
	pthread_barrier_wait(&barrier);
	for (k = 0; k < NSLOTS && w->fd >= 0; k++)
		while (recv_one(w, k, 0) >= 0)
			;
	return NULL;
}

/* ---- the test ------------------------------------------------------------ */

static int alive(const __u64 *live, int n, __u64 id)
{
	return bsearch(&id, live, n, sizeof(*live), cmp_u64) != NULL;
}

FIXTURE(stress) {
	int unused;
};

FIXTURE_SETUP(stress)
{
	int fd = tm_open();

	ASSERT_LE(0, fd) TH_LOG("open %s: %s (module loaded?)",
				TERMITE_DEVICE, strerror(-fd));
	close(fd);
}

FIXTURE_TEARDOWN(stress)
{
}

TEST_F_TIMEOUT(stress, random_ops, 150)
{
	pthread_t th[NTHREADS];
	__u64 live[NTHREADS * NSLOTS];
	int nlive = 0, i, k, secs = 10;
	long checked = 0, msgs = 0, mons_checked = 0;
	struct stats tot = { 0 };
	const char *env = getenv("TERMITE_STRESS_SECS");
	__s64 t0;
	size_t j;

	if (env && atoi(env) > 0)
		secs = atoi(env);
	pairs = calloc((size_t)1 << PAIR_BITS, sizeof(*pairs));
	ASSERT_NE(NULL, pairs);
	ASSERT_EQ(0, pthread_barrier_init(&barrier, NULL, NTHREADS + 1));
	for (i = 0; i < NTHREADS; i++)
		for (k = 0; k < NSLOTS; k++)
			pthread_mutex_init(&slot_lock[i][k], NULL);

	for (i = 0; i < NTHREADS; i++) {
		struct worker *w = &workers[i];

		w->idx = i;
		w->rng = 0x9e3779b97f4a7c15ULL * (i + 1) ^ (__u64)getpid() <<
			 20 ^ (__u64)tm_now_ns();
		w->fd = tm_open();
		ASSERT_LE(0, w->fd) TH_LOG("open: %s", strerror(-w->fd));
		w->mons = calloc(MAXMON, sizeof(*w->mons));
		w->mon_map = calloc(MON_MAP_SIZE, sizeof(*w->mon_map));
		ASSERT_NE(NULL, w->mons);
		ASSERT_NE(NULL, w->mon_map);
	}
	for (i = 0; i < NTHREADS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, worker_main,
					    &workers[i]));
	pthread_barrier_wait(&barrier);		/* all spawned */
	t0 = tm_now_ns();
	while (!atomic_load(&stop) && tm_now_ns() - t0 < secs * TM_NSEC_PER_SEC)
		tm_sleep_ms(50);
	atomic_store(&stop, 1);
	pthread_barrier_wait(&barrier);		/* all stopped */
	for (i = 0; i < NTHREADS; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	TH_LOG("ran %d threads for %lld ms%s", NTHREADS,
	       (long long)((tm_now_ns() - t0) / TM_MS(1)),
	       atomic_load(&table_full) ? " (stopped early: pair table full)" :
					  "");

	/* which actors are alive at the end */
	for (i = 0; i < NTHREADS; i++)
		for (k = 0; k < NSLOTS; k++) {
			__u64 id = atomic_load(&slots[i][k]);

			if (id)
				live[nlive++] = id;
		}
	qsort(live, nlive, sizeof(live[0]), cmp_u64);
	for (i = 1; i < nlive; i++)
		ASSERT_NE(live[i - 1], live[i]) TH_LOG("an id was reused");

	/*
	 * Every message arrived exactly once, in order: receivers were
	 * drained before they ended, and live ones at the end.
	 */
	for (j = 0; j < (size_t)1 << PAIR_BITS; j++) {
		struct pair *p = &pairs[j];

		if (!p->from)
			continue;
		msgs += p->sent;
		if (alive(live, nlive, p->to))
			checked += p->sent;
		if (p->recvd != p->sent)
			FAIL("pair %#llx->%#llx: sent %u, received %u",
			     (unsigned long long)p->from,
			     (unsigned long long)p->to, p->sent, p->recvd);
	}

	/* every monitor of a live watcher fired iff its target died */
	for (i = 0; i < NTHREADS; i++) {
		struct worker *w = &workers[i];

		for (k = 0; k < w->nmons; k++) {
			struct mon *m = &w->mons[k];
			int dead = !alive(live, nlive, m->peer);

			if (!alive(live, nlive, m->watcher))
				continue;
			mons_checked++;
			if (m->demonitored ? m->downs > 1 :
					     m->downs != dead)
				FAIL("monitor %#llx (demonitored %d): target %s, %u DOWN",
				     (unsigned long long)m->ref,
				     m->demonitored, dead ? "dead" : "alive",
				     m->downs);
		}
		tot.racy += w->st.racy;
		tot.racy_esrch += w->st.racy_esrch;
		tot.sends += w->st.sends;
		tot.send_fail += w->st.send_fail;
		tot.recvs += w->st.recvs;
		tot.links += w->st.links;
		tot.unlinks += w->st.unlinks;
		tot.monitors += w->st.monitors;
		tot.demonitors += w->st.demonitors;
		tot.exits += w->st.exits;
		tot.kills += w->st.kills;
		tot.signals += w->st.signals;
		tot.spawns += w->st.spawns;
		tot.reopens += w->st.reopens;
	}
	TH_LOG("sends %ld (failed %ld) recvs %ld links %ld unlinks %ld monitors %ld demonitors %ld",
	       tot.sends, tot.send_fail, tot.recvs, tot.links, tot.unlinks,
	       tot.monitors, tot.demonitors);
	TH_LOG("exits %ld kills %ld signals %ld spawns %ld port reopens %ld",
	       tot.exits, tot.kills, tot.signals, tot.spawns, tot.reopens);
	TH_LOG("unaccounted sends racing with deaths %ld (ESRCH %ld)",
	       tot.racy, tot.racy_esrch);
	TH_LOG("%ld pairs, %ld messages (%ld to actors alive at the end), %ld monitors checked",
	       npairs, msgs, checked, mons_checked);
	EXPECT_EQ(0, atomic_load(&nerrors));
	/* the stress did something of everything */
	EXPECT_LT(1000, tot.sends);
	EXPECT_LT(1000, msgs);
	EXPECT_LT(10, tot.exits + tot.kills);
	EXPECT_LT(10, mons_checked);

	for (i = 0; i < NTHREADS; i++)
		if (workers[i].fd >= 0)
			close(workers[i].fd);

	/* the module is sane afterwards: a fresh port works */
	{
		int fd = tm_open();
		__u64 a, b;
		struct tm_msgbuf m;

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, tm_spawn_mode(fd, TERMITE_MODE_DELIVER, &a));
		ASSERT_EQ(0, tm_spawn_mode(fd, TERMITE_MODE_TRAP, &b));
		/* the old actors are all gone */
		for (i = 0; i < nlive; i++)
			ASSERT_EQ(-ESRCH, tm_send(fd, a, live[i], 0, 1, "x",
						  1));
		ASSERT_EQ(0, tm_send(fd, a, b, 42, 1, "hello", 5));
		ASSERT_EQ(5, tm_recv_msg(fd, b, &m, TM_MS(1000)));
		EXPECT_EQ(42ULL, m.hdr.tag);
		EXPECT_EQ(0, memcmp(m.data, "hello", 5));
		ASSERT_EQ(0, tm_link(fd, a, b, TERMITE_LINK_BOTH));
		ASSERT_EQ(0, tm_exit(fd, a, CODE_EXIT, NULL, 0));
		ASSERT_EQ(0, tm_recv_msg(fd, b, &m, TM_MS(1000)));
		EXPECT_EQ(TERMITE_KIND_EXIT, m.hdr.kind);
		EXPECT_EQ(a, m.hdr.from);
		EXPECT_EQ(CODE_EXIT, m.hdr.code);
		close(fd);
	}
}

TEST_HARNESS_MAIN
