// SPDX-License-Identifier: GPL-2.0
/*
 * termite selftest: links, monitors, exit signals, exit modes, port close,
 * SIGKILL of an owning process, long exit chains and large fan-outs.
 *
 * Runs as root.  Every expected arrival is received with a short timeout
 * (propagation is synchronous in the kernel, the timeout only makes the
 * test robust); every expected absence is a poll (timeout 0 -> EAGAIN).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"

#define WAIT		TM_MS(3000)	/* for an expected arrival */
#define APP		(TERMITE_EXIT_ERROR + 44U)	/* an application code */
#define ANY		0xffffffffu	/* do not check this field */
#define NOLEN		(-1)		/* do not check length/payload */

/* An id that no actor has (ids are keyed permutations, never 0). */
#define FAKE_ID		0x5eedf00dcafe1234ULL

static const char reason[] = "reason: the sky fell";

/*
 * Receives one message from @actor (waiting up to @timeout) and checks every
 * field that is not ANY/NOLEN; the header is left in *out when given.
 */
static void recv_check_ex(struct __test_metadata *_metadata, int line,
			  int fd, __u64 actor, __s64 timeout, __u32 match_kind,
			  __u32 kind, __u64 from, __u64 tag, __u32 code,
			  __u32 flags, const void *payload, int len,
			  struct termite_msghdr *out)
{
	struct termite_recv r;
	struct tm_msgbuf m;
	int ret;

	memset(&m, 0, sizeof(m));
	tm_recv_init(&r, actor, &m, sizeof(m), timeout);
	if (match_kind) {
		r.flags = TERMITE_MATCH_KIND;
		r.kind = match_kind;
	}
	ret = tm_recv_req(fd, &r);
	ASSERT_LE(0, ret) TH_LOG("line %d: recv(%#llx) = %d (%s)", line,
				 (unsigned long long)actor, ret,
				 strerror(-ret));
	if (out)
		*out = m.hdr;
	ASSERT_EQ(ret, (int)m.hdr.len) TH_LOG("line %d", line);
	if (kind != ANY)
		ASSERT_EQ(kind, m.hdr.kind)
			TH_LOG("line %d: kind %#x code %u flags %#x", line,
			       m.hdr.kind, m.hdr.code, m.hdr.flags);
	if (from)
		ASSERT_EQ(from, m.hdr.from)
			TH_LOG("line %d: from %#llx", line,
			       (unsigned long long)m.hdr.from);
	if (tag)
		ASSERT_EQ(tag, m.hdr.tag) TH_LOG("line %d", line);
	if (code != ANY)
		ASSERT_EQ(code, m.hdr.code) TH_LOG("line %d", line);
	if (flags != ANY)
		ASSERT_EQ(flags, m.hdr.flags) TH_LOG("line %d", line);
	if (len != NOLEN) {
		ASSERT_EQ(len, ret) TH_LOG("line %d", line);
		if (len)
			ASSERT_EQ(0, memcmp(m.data, payload, len))
				TH_LOG("line %d: payload differs", line);
	}
}

#define recv_check(_m, line, fd, actor, timeout, ...) \
	recv_check_ex(_m, line, fd, actor, timeout, 0, __VA_ARGS__)

/* The signal/message an exit reason becomes. */
#define RECV_EXIT(fd, actor, from, code, flags, payload, len)		\
	recv_check(_metadata, __LINE__, fd, actor, WAIT,		\
		   TERMITE_KIND_EXIT, from, 0, code, flags, payload, len, NULL)
/* The death notice of an own actor. */
#define RECV_DEAD(fd, actor, code)					\
	recv_check(_metadata, __LINE__, fd, actor, WAIT,		\
		   TERMITE_KIND_EXIT, actor, 0, code, TERMITE_MSG_DEAD,	\
		   NULL, NOLEN, NULL)
#define RECV_DOWN(fd, actor, from, ref, code, payload, len)		\
	recv_check(_metadata, __LINE__, fd, actor, WAIT,		\
		   TERMITE_KIND_DOWN, from, ref, code, 0, payload, len, NULL)
#define RECV_MSG(fd, actor, from, tag)					\
	recv_check(_metadata, __LINE__, fd, actor, WAIT, 1, from, tag,	\
		   0, 0, NULL, NOLEN, NULL)

/* Nothing is queued for @actor (and it is alive: no death notice). */
static void expect_empty(struct __test_metadata *_metadata, int line, int fd,
			 __u64 actor)
{
	struct tm_msgbuf m;
	int ret = tm_recv_msg(fd, actor, &m, 0);

	ASSERT_EQ(-EAGAIN, ret)
		TH_LOG("line %d: actor %#llx: recv = %d kind %#x code %u flags %#x from %#llx",
		       line, (unsigned long long)actor, ret, m.hdr.kind,
		       m.hdr.code, m.hdr.flags,
		       (unsigned long long)m.hdr.from);
}
#define EXPECT_EMPTY(fd, actor) expect_empty(_metadata, __LINE__, fd, actor)

/* The actor is gone for its owner: every operation gives ENOENT. */
static void expect_gone(struct __test_metadata *_metadata, int line, int fd,
			__u64 actor)
{
	struct tm_msgbuf m;

	ASSERT_EQ(-ENOENT, tm_recv_msg(fd, actor, &m, 0))
		TH_LOG("line %d", line);
	ASSERT_EQ(-ENOENT, tm_exit(fd, actor, APP, NULL, 0))
		TH_LOG("line %d", line);
	ASSERT_EQ(-ENOENT, tm_send(fd, actor, actor, 0, 1, NULL, 0))
		TH_LOG("line %d", line);
}
#define EXPECT_GONE(fd, actor) expect_gone(_metadata, __LINE__, fd, actor)

/* The actor is dead for everybody else: sends and signals give ESRCH. */
static void expect_dead(struct __test_metadata *_metadata, int line, int fd,
			__u64 via, __u64 actor)
{
	ASSERT_EQ(-ESRCH, tm_send(fd, via, actor, 0, 1, "x", 1))
		TH_LOG("line %d", line);
	ASSERT_EQ(-ESRCH, tm_signal(fd, via, actor, APP, NULL, 0))
		TH_LOG("line %d", line);
}
#define EXPECT_DEAD(fd, via, actor) \
	expect_dead(_metadata, __LINE__, fd, via, actor)

#define SPAWN(fd, mode) spawn_ok(_metadata, __LINE__, fd, mode)

#define LINK(fd, a, p, fl)	ASSERT_EQ(0, tm_link(fd, a, p, fl))
#define SEND(fd, a, b, tag)	ASSERT_EQ(0, tm_send(fd, a, b, tag, 1, "m", 1))

/* Index of @id in the sorted array @ids of @n, or -1. */
static long find_id(const __u64 *ids, long n, __u64 id)
{
	const __u64 *p = bsearch(&id, ids, n, sizeof(*ids), cmp_u64);

	return p ? p - ids : -1;
}

FIXTURE(ex) {
	int fd;
};

FIXTURE_SETUP(ex)
{
	self->fd = tm_open();
	ASSERT_LE(0, self->fd)
		TH_LOG("open %s: %s (module loaded?)", TERMITE_DEVICE,
		       strerror(-self->fd));
}

FIXTURE_TEARDOWN(ex)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* ---- link directions ---------------------------------------------- */

/* LINK_TO: the peer hears of the actor's death, not the reverse. */
TEST_F(ex, link_to_one_way)
{
	struct termite_msghdr h;
	int fd = self->fd;
	__u64 a = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 b = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 c = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 d = SPAWN(fd, TERMITE_MODE_DELIVER);

	LINK(fd, a, b, TERMITE_LINK_TO);
	ASSERT_EQ(0, tm_exit(fd, a, APP, reason, sizeof(reason)));
	recv_check(_metadata, __LINE__, fd, b, WAIT, TERMITE_KIND_EXIT, a, 0,
		   APP, TERMITE_MSG_SIGNAL, reason, sizeof(reason), &h);
	/* made by the kernel: no pid, uid 0 */
	EXPECT_EQ(0U, h.pid);
	EXPECT_EQ(0U, h.uid);
	EXPECT_EQ(0ULL, h.tag);
	EXPECT_EMPTY(fd, b);
	EXPECT_GONE(fd, a);
	EXPECT_DEAD(fd, b, a);

	/* the reverse direction does not exist */
	LINK(fd, c, d, TERMITE_LINK_TO);
	ASSERT_EQ(0, tm_exit(fd, d, APP + 1, reason, sizeof(reason)));
	EXPECT_EMPTY(fd, c);
	/* c is alive and well */
	SEND(fd, b, c, 7);
	RECV_MSG(fd, c, b, 7);
}

/* LINK_FROM: the actor hears of the peer's death, not the reverse. */
TEST_F(ex, link_from_one_way)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 b = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 c = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 d = SPAWN(fd, TERMITE_MODE_DELIVER);

	LINK(fd, a, b, TERMITE_LINK_FROM);
	ASSERT_EQ(0, tm_exit(fd, b, APP, reason, sizeof(reason)));
	RECV_EXIT(fd, a, b, APP, TERMITE_MSG_SIGNAL, reason, sizeof(reason));
	EXPECT_EMPTY(fd, a);

	LINK(fd, c, d, TERMITE_LINK_FROM);
	ASSERT_EQ(0, tm_exit(fd, c, APP, reason, sizeof(reason)));
	EXPECT_EMPTY(fd, d);
	SEND(fd, a, d, 9);
	RECV_MSG(fd, d, a, 9);
}

/* BOTH: either death reaches the other end. */
TEST_F(ex, link_both)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 b = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 c = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 d = SPAWN(fd, TERMITE_MODE_DELIVER);

	LINK(fd, a, b, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_exit(fd, a, APP, reason, sizeof(reason)));
	RECV_EXIT(fd, b, a, APP, TERMITE_MSG_SIGNAL, reason, sizeof(reason));
	EXPECT_EMPTY(fd, b);

	LINK(fd, c, d, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_exit(fd, d, APP + 2, "xy", 2));
	RECV_EXIT(fd, c, d, APP + 2, TERMITE_MSG_SIGNAL, "xy", 2);
	EXPECT_EMPTY(fd, c);

	/* linking twice is still one link: one signal */
	__u64 e = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 f = SPAWN(fd, TERMITE_MODE_DELIVER);

	LINK(fd, e, f, TERMITE_LINK_BOTH);
	LINK(fd, e, f, TERMITE_LINK_BOTH);
	LINK(fd, f, e, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_exit(fd, e, APP, NULL, 0));
	RECV_EXIT(fd, f, e, APP, TERMITE_MSG_SIGNAL, NULL, 0);
	EXPECT_EMPTY(fd, f);
}

/* ---- exit modes --------------------------------------------------- */

/* DELIVER: the signal jumps ahead of queued messages, whatever the match. */
TEST_F(ex, deliver_signal_first)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 b = SPAWN(fd, TERMITE_MODE_DELIVER);
	struct tm_msgbuf m;
	struct termite_recv r;
	int i;

	for (i = 1; i <= 3; i++)
		SEND(fd, a, b, i);
	ASSERT_EQ(0, tm_signal(fd, a, b, APP, reason, sizeof(reason)));

	/* a match that only message 3 satisfies still returns the signal */
	tm_recv_init(&r, b, &m, sizeof(m), WAIT);
	r.flags = TERMITE_MATCH_TAG;
	r.tag = 3;
	ASSERT_EQ((int)sizeof(reason), tm_recv_req(fd, &r));
	EXPECT_EQ(TERMITE_KIND_EXIT, m.hdr.kind);
	EXPECT_EQ(TERMITE_MSG_SIGNAL, m.hdr.flags);
	EXPECT_EQ(APP, m.hdr.code);
	EXPECT_EQ(a, m.hdr.from);
	EXPECT_EQ(0, memcmp(m.data, reason, sizeof(reason)));

	/* a match nothing satisfies: nothing left that bypasses it */
	tm_recv_init(&r, b, &m, sizeof(m), 0);
	r.flags = TERMITE_MATCH_KIND;
	r.kind = 77;
	ASSERT_EQ(-EAGAIN, tm_recv_req(fd, &r));

	/* an exit signal along a link, taken by PEEK: consumed all the same */
	LINK(fd, a, b, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_exit(fd, a, APP + 1, "p", 1));
	tm_recv_init(&r, b, &m, sizeof(m), WAIT);
	r.flags = TERMITE_RECV_PEEK | TERMITE_MATCH_KIND;
	r.kind = 1;
	ASSERT_EQ(1, tm_recv_req(fd, &r));
	EXPECT_EQ(TERMITE_KIND_EXIT, m.hdr.kind);
	EXPECT_EQ(TERMITE_MSG_SIGNAL, m.hdr.flags);
	EXPECT_EQ(APP + 1, m.hdr.code);
	EXPECT_EQ(a, m.hdr.from);

	/* the messages follow in order, after the signals */
	for (i = 1; i <= 3; i++)
		RECV_MSG(fd, b, a, i);
	EXPECT_EMPTY(fd, b);
}

/* TRAP: signals are ordinary EXIT messages in FIFO order; normal too. */
TEST_F(ex, trap_fifo_and_normal)
{
	int fd = self->fd;
	__u64 t = SPAWN(fd, TERMITE_MODE_TRAP);
	__u64 a = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 c = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 s = SPAWN(fd, TERMITE_MODE_DELIVER);
	struct tm_msgbuf m;
	struct termite_recv r;

	LINK(fd, t, a, TERMITE_LINK_BOTH);
	LINK(fd, t, c, TERMITE_LINK_FROM);
	SEND(fd, a, t, 1);
	SEND(fd, a, t, 2);
	ASSERT_EQ(0, tm_exit(fd, a, APP, reason, sizeof(reason)));
	ASSERT_EQ(0, tm_exit(fd, c, TERMITE_EXIT_NORMAL, NULL, 0));
	SEND(fd, s, t, 3);
	ASSERT_EQ(0, tm_signal(fd, s, t, APP + 3, "sig", 3));
	ASSERT_EQ(0, tm_signal(fd, s, t, TERMITE_EXIT_NORMAL, NULL, 0));

	/* an ordinary message: a match skips it */
	tm_recv_init(&r, t, &m, sizeof(m), 0);
	r.flags = TERMITE_MATCH_TAG;
	r.tag = 3;
	ASSERT_EQ(1, tm_recv_req(fd, &r));
	EXPECT_EQ(1U, m.hdr.kind);
	EXPECT_EQ(s, m.hdr.from);

	RECV_MSG(fd, t, a, 1);
	RECV_MSG(fd, t, a, 2);
	RECV_EXIT(fd, t, a, APP, 0, reason, sizeof(reason));
	RECV_EXIT(fd, t, c, TERMITE_EXIT_NORMAL, 0, NULL, 0);
	RECV_EXIT(fd, t, s, APP + 3, 0, "sig", 3);
	RECV_EXIT(fd, t, s, TERMITE_EXIT_NORMAL, 0, NULL, 0);
	EXPECT_EMPTY(fd, t);
}

/* DIE: the actor dies at once, its owner learns it, the death spreads. */
TEST_F(ex, die_mode_propagates)
{
	int fd = self->fd;
	__u64 x = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 d1 = SPAWN(fd, TERMITE_MODE_DIE);
	__u64 d2 = SPAWN(fd, TERMITE_MODE_DIE);
	__u64 t = SPAWN(fd, TERMITE_MODE_TRAP);
	__u64 s = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 ref;

	LINK(fd, x, d1, TERMITE_LINK_BOTH);
	LINK(fd, d1, d2, TERMITE_LINK_BOTH);
	LINK(fd, t, d2, TERMITE_LINK_FROM);
	ASSERT_EQ(0, tm_monitor(fd, t, d1, &ref));
	SEND(fd, s, d1, 1);	/* queued before the death: discarded */

	ASSERT_EQ(0, tm_exit(fd, x, APP, reason, sizeof(reason)));

	/* dead at once: nobody can reach them any more */
	EXPECT_DEAD(fd, s, d1);
	EXPECT_DEAD(fd, s, d2);

	/* the observer hears of d2 with the original reason and payload */
	recv_check_ex(_metadata, __LINE__, fd, t, WAIT, TERMITE_KIND_EXIT,
		      TERMITE_KIND_EXIT, d2, 0, APP, 0, reason,
		      sizeof(reason), NULL);
	recv_check_ex(_metadata, __LINE__, fd, t, WAIT, TERMITE_KIND_DOWN,
		      TERMITE_KIND_DOWN, d1, ref, APP, 0, reason,
		      sizeof(reason), NULL);
	EXPECT_EMPTY(fd, t);

	/* the owner gets the death notices, then the ids are forgotten */
	RECV_DEAD(fd, d1, APP);
	EXPECT_GONE(fd, d1);
	RECV_DEAD(fd, d2, APP);
	EXPECT_GONE(fd, d2);
}

/*
 * A zombie (dead, its death notice not yet received) fails every
 * operation with EOWNERDEAD but RECV (the notice) and EXIT (discards it).
 */
TEST_F(ex, zombie_eownerdead)
{
	int fd = self->fd;
	__u64 s = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 z = SPAWN(fd, TERMITE_MODE_DIE);
	__u64 z2 = SPAWN(fd, TERMITE_MODE_TRAP);
	__u64 ref;

	ASSERT_EQ(0, tm_signal(fd, s, z, APP, NULL, 0));	/* DIE: dies */
	ASSERT_EQ(0, tm_signal(fd, s, z2, TERMITE_EXIT_KILL, NULL, 0));
	EXPECT_EQ(-EOWNERDEAD, tm_send(fd, z, s, 0, 1, "x", 1));
	EXPECT_EQ(-EOWNERDEAD, tm_link(fd, z, s, TERMITE_LINK_BOTH));
	EXPECT_EQ(-EOWNERDEAD, tm_monitor(fd, z, s, &ref));
	EXPECT_EQ(-EOWNERDEAD, tm_signal(fd, z, s, APP, NULL, 0));
	EXPECT_EQ(-EOWNERDEAD, tm_setopt(fd, z, TERMITE_OPT_MODE,
					 TERMITE_MODE_TRAP, NULL));
	/* nothing of that reached s */
	EXPECT_EMPTY(fd, s);
	/* EXIT discards the notice and forgets the zombie */
	ASSERT_EQ(0, tm_exit(fd, z, APP + 1, NULL, 0));
	EXPECT_GONE(fd, z);
	/* RECV returns the notice, then the id is forgotten */
	EXPECT_EQ(-EOWNERDEAD, tm_send(fd, z2, s, 0, 1, "x", 1));
	RECV_DEAD(fd, z2, TERMITE_EXIT_KILLED);
	EXPECT_GONE(fd, z2);
	EXPECT_EMPTY(fd, s);
}

/*
 * The death notice, with its reason's payload (mode DIE passes on the
 * signal's): READY reports the zombie; a buffer too small or a faulting one
 * leaves the notice; it comes first whatever the flags, and PEEK, AFTER the
 * end, SEQ and matches nothing satisfies consume it all the same; its
 * header is that of a message the kernel made (seq, tag and pid 0, uid 0).
 */
TEST_F(ex, zombie_death_notice)
{
	int fd = self->fd;
	__u64 s = SPAWN(fd, TERMITE_MODE_DELIVER);
	struct termite_recv r;
	struct tm_msgbuf m;
	__u64 z[4], ids[8];
	__u32 n;
	int i;

	for (i = 0; i < 4; i++)
		z[i] = SPAWN(fd, TERMITE_MODE_DIE);
	SEND(fd, s, z[0], 1);	/* discarded by the death */
	n = 8;
	ASSERT_EQ(0, tm_ready(fd, ids, &n));
	ASSERT_EQ(1U, n);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, tm_signal(fd, s, z[i], APP, reason,
				       sizeof(reason)));
	/* the zombies are ready (their notices wait), s is not */
	n = 8;
	ASSERT_EQ(0, tm_ready(fd, ids, &n));
	ASSERT_EQ(4U, n);
	qsort(ids, n, sizeof(ids[0]), cmp_u64);
	for (i = 0; i < 4; i++)
		EXPECT_LE(0, find_id(ids, n, z[i])) TH_LOG("z[%d]", i);
	EXPECT_EQ(5, fdinfo_actors(fd));

	/* too small a buffer: the header tells the size, the notice stays */
	memset(&m, 0, sizeof(m));
	ASSERT_EQ(-EMSGSIZE, tm_recv(fd, z[0], &m, sizeof(m.hdr) + 1, 0));
	EXPECT_EQ(sizeof(reason), m.hdr.len);
	EXPECT_EQ(TERMITE_MSG_DEAD, m.hdr.flags);
	EXPECT_EQ(z[0], m.hdr.from);
	ASSERT_EQ(-EFAULT, tm_recv(fd, z[0], unmapped_page(), sizeof(m), 0));
	EXPECT_EQ(-EOWNERDEAD, tm_send(fd, z[0], s, 0, 1, "x", 1));

	/* PEEK after the end, matching nothing: the notice, consumed */
	memset(&m, 0xa5, sizeof(m));
	tm_recv_init(&r, z[0], &m, sizeof(m), 0);
	r.flags = TERMITE_RECV_PEEK | TERMITE_RECV_AFTER | TERMITE_MATCH_KIND;
	r.cursor = ~0ULL;
	r.kind = 77;
	ASSERT_EQ((int)sizeof(reason), tm_recv_req(fd, &r));
	EXPECT_EQ(TERMITE_KIND_EXIT, m.hdr.kind);
	EXPECT_EQ(TERMITE_MSG_DEAD, m.hdr.flags);
	EXPECT_EQ(APP, m.hdr.code);
	EXPECT_EQ(sizeof(reason), m.hdr.len);
	EXPECT_EQ(z[0], m.hdr.from);
	EXPECT_EQ(0ULL, m.hdr.tag);
	EXPECT_EQ(0ULL, m.hdr.seq);
	EXPECT_EQ(0U, m.hdr.pid);
	EXPECT_EQ(0U, m.hdr.uid);
	EXPECT_EQ(0, memcmp(m.data, reason, sizeof(reason)));
	EXPECT_GONE(fd, z[0]);

	/* SEQ of a message that never was: the notice */
	tm_recv_init(&r, z[1], &m, sizeof(m), 0);
	r.flags = TERMITE_RECV_SEQ;
	r.cursor = 1;
	ASSERT_EQ((int)sizeof(reason), tm_recv_req(fd, &r));
	EXPECT_EQ(TERMITE_MSG_DEAD, m.hdr.flags);
	EXPECT_EQ(APP, m.hdr.code);
	EXPECT_EQ(0, memcmp(m.data, reason, sizeof(reason)));
	EXPECT_GONE(fd, z[1]);

	/* a plain receive */
	recv_check(_metadata, __LINE__, fd, z[2], WAIT, TERMITE_KIND_EXIT,
		   z[2], 0, APP, TERMITE_MSG_DEAD, reason, sizeof(reason),
		   NULL);
	EXPECT_GONE(fd, z[2]);

	/* EXIT discards the last one unread */
	EXPECT_EQ(2, fdinfo_actors(fd));
	ASSERT_EQ(0, tm_exit(fd, z[3], APP + 1, NULL, 0));
	EXPECT_GONE(fd, z[3]);
	EXPECT_EQ(1, fdinfo_actors(fd));
	EXPECT_EMPTY(fd, s);
	n = 8;
	ASSERT_EQ(0, tm_ready(fd, ids, &n));
	EXPECT_EQ(0U, n);
}

/*
 * One actor's links, monitors (held and held on it) and name, made and
 * undone in every order: each still works, and its death ends them all.
 */
TEST_F(ex, links_monitors_name_together)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 b = SPAWN(fd, TERMITE_MODE_TRAP);
	__u64 c = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 d = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 ref_c, ref_a, id = 0;

	/* a name first, then links and monitors; undo some, redo them */
	ASSERT_EQ(0, tm_register(fd, a, "together-a"));
	ASSERT_EQ(-EBUSY, tm_register(fd, a, "together-a2"));
	LINK(fd, a, b, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_monitor(fd, c, a, &ref_c));
	ASSERT_EQ(0, tm_monitor(fd, a, d, &ref_a));
	ASSERT_EQ(0, tm_unregister(fd, "together-a"));
	ASSERT_EQ(-ENOENT, tm_whereis(fd, "together-a", &id));
	ASSERT_EQ(0, tm_register(fd, a, "together-a2"));
	ASSERT_EQ(0, tm_unlink(fd, a, b, TERMITE_LINK_BOTH));
	ASSERT_EQ(0, tm_demonitor(fd, a, ref_a, 0));
	LINK(fd, b, a, TERMITE_LINK_TO);
	ASSERT_EQ(0, tm_monitor(fd, a, d, &ref_a));
	/* c, which only watches, then links too */
	LINK(fd, c, a, TERMITE_LINK_FROM);

	ASSERT_EQ(0, tm_whereis(fd, "together-a2", &id));
	EXPECT_EQ(a, id);
	ASSERT_EQ(0, tm_signal(fd, d, a, TERMITE_EXIT_KILL, NULL, 0));
	RECV_DEAD(fd, a, TERMITE_EXIT_KILLED);
	EXPECT_GONE(fd, a);
	EXPECT_EQ(-ENOENT, tm_whereis(fd, "together-a2", &id));
	/* b unlinked both ways, then linked only to a: hears nothing */
	EXPECT_EMPTY(fd, b);
	RECV_EXIT(fd, c, a, TERMITE_EXIT_KILLED, TERMITE_MSG_SIGNAL, NULL, 0);
	RECV_DOWN(fd, c, a, ref_c, TERMITE_EXIT_KILLED, NULL, 0);
	EXPECT_EMPTY(fd, c);
	/* d's death tells a's dead monitor nothing, and d is free to link */
	ASSERT_EQ(0, tm_register(fd, d, "together-a2"));
	LINK(fd, d, b, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_exit(fd, d, APP, "d", 1));
	RECV_EXIT(fd, b, d, APP, 0, "d", 1);
	EXPECT_EMPTY(fd, b);
	EXPECT_EQ(-ENOENT, tm_whereis(fd, "together-a2", &id));
}

/* A normal exit is dropped by DELIVER and DIE actors. */
TEST_F(ex, normal_exit_dropped)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 dl = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 die = SPAWN(fd, TERMITE_MODE_DIE);
	__u64 s = SPAWN(fd, TERMITE_MODE_DELIVER);

	LINK(fd, a, dl, TERMITE_LINK_BOTH);
	LINK(fd, a, die, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_exit(fd, a, TERMITE_EXIT_NORMAL, NULL, 0));
	EXPECT_EMPTY(fd, dl);
	EXPECT_EMPTY(fd, die);

	ASSERT_EQ(0, tm_signal(fd, s, dl, TERMITE_EXIT_NORMAL, NULL, 0));
	ASSERT_EQ(0, tm_signal(fd, s, die, TERMITE_EXIT_NORMAL, "n", 1));
	EXPECT_EMPTY(fd, dl);
	EXPECT_EMPTY(fd, die);

	/* both alive */
	SEND(fd, s, dl, 5);
	SEND(fd, s, die, 6);
	RECV_MSG(fd, dl, s, 5);
	RECV_MSG(fd, die, s, 6);
}

/* ---- SIGNAL -------------------------------------------------------- */

TEST_F(ex, signal_app_code)
{
	struct termite_msghdr h;
	int fd = self->fd;
	__u64 s = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 dl = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 tr = SPAWN(fd, TERMITE_MODE_TRAP);
	__u64 die = SPAWN(fd, TERMITE_MODE_DIE);
	__u64 w = SPAWN(fd, TERMITE_MODE_TRAP);

	ASSERT_EQ(0, tm_signal(fd, s, dl, APP, reason, sizeof(reason)));
	recv_check(_metadata, __LINE__, fd, dl, WAIT, TERMITE_KIND_EXIT, s, 0,
		   APP, TERMITE_MSG_SIGNAL, reason, sizeof(reason), &h);
	/* made by this process: stamped with its pid */
	EXPECT_EQ((__u32)getpid(), h.pid);
	EXPECT_EQ((__u32)getuid(), h.uid);
	EXPECT_EMPTY(fd, dl);

	ASSERT_EQ(0, tm_signal(fd, s, tr, APP, reason, sizeof(reason)));
	RECV_EXIT(fd, tr, s, APP, 0, reason, sizeof(reason));
	EXPECT_EMPTY(fd, tr);

	LINK(fd, w, die, TERMITE_LINK_FROM);
	ASSERT_EQ(0, tm_signal(fd, s, die, APP, reason, sizeof(reason)));
	EXPECT_DEAD(fd, s, die);
	RECV_EXIT(fd, w, die, APP, 0, reason, sizeof(reason));
	RECV_DEAD(fd, die, APP);
	EXPECT_GONE(fd, die);

	/* the sender is not affected by signalling */
	EXPECT_EMPTY(fd, s);
	/* signalling the unknown and the dead */
	ASSERT_EQ(-ESRCH, tm_signal(fd, s, FAKE_ID, APP, NULL, 0));
	ASSERT_EQ(-ESRCH, tm_signal(fd, s, die, APP, NULL, 0));
}

/* KILL kills in every mode, TRAP included; the owner sees KILLED. */
TEST_F(ex, signal_kill_every_mode)
{
	static const __u32 modes[] = {
		TERMITE_MODE_DELIVER, TERMITE_MODE_TRAP, TERMITE_MODE_DIE,
	};
	int fd = self->fd;
	__u64 s = SPAWN(fd, TERMITE_MODE_TRAP);
	unsigned int i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		__u64 v = SPAWN(fd, modes[i]);

		SEND(fd, s, v, 1);
		ASSERT_EQ(0, tm_signal(fd, s, v, TERMITE_EXIT_KILL, "k", 1))
			TH_LOG("mode %u", modes[i]);
		EXPECT_DEAD(fd, s, v);
		RECV_DEAD(fd, v, TERMITE_EXIT_KILLED);
		EXPECT_GONE(fd, v);
	}
	/* the killer was not linked: it hears nothing */
	EXPECT_EMPTY(fd, s);
}

/* KILLED (not KILL) travels along links: trappable, deliverable. */
TEST_F(ex, kill_propagates_killed)
{
	int fd = self->fd;
	__u64 s = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 v = SPAWN(fd, TERMITE_MODE_TRAP);
	__u64 tr = SPAWN(fd, TERMITE_MODE_TRAP);
	__u64 die = SPAWN(fd, TERMITE_MODE_DIE);
	__u64 die2 = SPAWN(fd, TERMITE_MODE_DIE);
	__u64 dl = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 w = SPAWN(fd, TERMITE_MODE_DIE);
	__u64 ref;

	LINK(fd, v, tr, TERMITE_LINK_BOTH);
	LINK(fd, v, die, TERMITE_LINK_BOTH);
	LINK(fd, die, die2, TERMITE_LINK_TO);
	LINK(fd, v, dl, TERMITE_LINK_TO);
	ASSERT_EQ(0, tm_monitor(fd, w, v, &ref));

	ASSERT_EQ(0, tm_signal(fd, s, v, TERMITE_EXIT_KILL, NULL, 0));

	RECV_DEAD(fd, v, TERMITE_EXIT_KILLED);
	EXPECT_GONE(fd, v);
	RECV_EXIT(fd, tr, v, TERMITE_EXIT_KILLED, 0, NULL, NOLEN);
	EXPECT_EMPTY(fd, tr);
	RECV_EXIT(fd, dl, v, TERMITE_EXIT_KILLED, TERMITE_MSG_SIGNAL, NULL,
		  NOLEN);
	EXPECT_EMPTY(fd, dl);
	RECV_DEAD(fd, die, TERMITE_EXIT_KILLED);
	RECV_DEAD(fd, die2, TERMITE_EXIT_KILLED);
	/* a monitor does not kill its (DIE-mode) watcher */
	RECV_DOWN(fd, w, v, ref, TERMITE_EXIT_KILLED, NULL, NOLEN);
	EXPECT_EMPTY(fd, w);
	/* the trapper and the deliverer survived */
	SEND(fd, s, tr, 1);
	RECV_MSG(fd, tr, s, 1);
	SEND(fd, s, dl, 2);
	RECV_MSG(fd, dl, s, 2);
}

/* A receiver blocked on an actor wakes up when a signal or death arrives. */
struct blocked_recv {
	int fd;
	__u64 actor;
	int ret;
	struct tm_msgbuf m;
	volatile int done;
};

static void *blocked_recv(void *arg)
{
	struct blocked_recv *b = arg;

	b->ret = tm_recv_msg(b->fd, b->actor, &b->m, TM_MS(10000));
	b->done = 1;
	return NULL;
}

TEST_F(ex, death_wakes_blocked_recv)
{
	int fd = self->fd, i;
	__u64 s = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 x = SPAWN(fd, TERMITE_MODE_DELIVER);
	struct blocked_recv b[3];
	pthread_t th[3];

	memset(b, 0, sizeof(b));
	b[0].actor = SPAWN(fd, TERMITE_MODE_TRAP);	/* to be killed */
	b[1].actor = SPAWN(fd, TERMITE_MODE_DIE);	/* dies by link */
	b[2].actor = SPAWN(fd, TERMITE_MODE_DELIVER);	/* gets a signal */
	LINK(fd, x, b[1].actor, TERMITE_LINK_TO);
	LINK(fd, x, b[2].actor, TERMITE_LINK_TO);
	for (i = 0; i < 3; i++) {
		b[i].fd = fd;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, blocked_recv, &b[i]));
	}
	tm_sleep_ms(200);
	ASSERT_EQ(0, b[0].done | b[1].done | b[2].done)
		TH_LOG("a receiver returned early: %d %d %d", b[0].ret,
		       b[1].ret, b[2].ret);

	ASSERT_EQ(0, tm_signal(fd, s, b[0].actor, TERMITE_EXIT_KILL, NULL, 0));
	ASSERT_EQ(0, tm_exit(fd, x, APP, reason, sizeof(reason)));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));

	ASSERT_LE(0, b[0].ret) TH_LOG("%s", strerror(-b[0].ret));
	EXPECT_EQ(TERMITE_KIND_EXIT, b[0].m.hdr.kind);
	EXPECT_EQ(TERMITE_MSG_DEAD, b[0].m.hdr.flags);
	EXPECT_EQ((__u32)TERMITE_EXIT_KILLED, b[0].m.hdr.code);
	EXPECT_EQ(b[0].actor, b[0].m.hdr.from);
	ASSERT_LE(0, b[1].ret) TH_LOG("%s", strerror(-b[1].ret));
	EXPECT_EQ(TERMITE_KIND_EXIT, b[1].m.hdr.kind);
	EXPECT_EQ(TERMITE_MSG_DEAD, b[1].m.hdr.flags);
	EXPECT_EQ(APP, b[1].m.hdr.code);
	EXPECT_EQ(b[1].actor, b[1].m.hdr.from);
	ASSERT_EQ((int)sizeof(reason), b[2].ret)
		TH_LOG("%s", strerror(-b[2].ret));
	EXPECT_EQ(TERMITE_KIND_EXIT, b[2].m.hdr.kind);
	EXPECT_EQ(TERMITE_MSG_SIGNAL, b[2].m.hdr.flags);
	EXPECT_EQ(APP, b[2].m.hdr.code);
	EXPECT_EQ(x, b[2].m.hdr.from);
	EXPECT_EQ(0, memcmp(b[2].m.data, reason, sizeof(reason)));
	EXPECT_GONE(fd, b[0].actor);
	EXPECT_GONE(fd, b[1].actor);
	EXPECT_EMPTY(fd, b[2].actor);
}

/* Receivers racing for one zombie's notice: one gets it, the rest ENOENT. */
TEST_F(ex, zombie_notice_taken_once)
{
	int fd = self->fd, i, got = 0;
	__u64 s = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 z = SPAWN(fd, TERMITE_MODE_DIE);
	struct blocked_recv b[4];
	pthread_t th[4];

	memset(b, 0, sizeof(b));
	for (i = 0; i < 4; i++) {
		b[i].fd = fd;
		b[i].actor = z;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, blocked_recv, &b[i]));
	}
	tm_sleep_ms(200);
	ASSERT_EQ(0, tm_signal(fd, s, z, APP, reason, sizeof(reason)));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	for (i = 0; i < 4; i++) {
		if (b[i].ret == (int)sizeof(reason)) {
			got++;
			EXPECT_EQ(TERMITE_MSG_DEAD, b[i].m.hdr.flags);
			EXPECT_EQ(APP, b[i].m.hdr.code);
			EXPECT_EQ(0, memcmp(b[i].m.data, reason, sizeof(reason)));
		} else {
			EXPECT_EQ(-ENOENT, b[i].ret) TH_LOG("receiver %d", i);
		}
	}
	EXPECT_EQ(1, got);
	EXPECT_GONE(fd, z);
	EXPECT_EMPTY(fd, s);
}

/* ---- noproc -------------------------------------------------------- */

TEST_F(ex, noproc_link)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 t = SPAWN(fd, TERMITE_MODE_TRAP);
	__u64 die = SPAWN(fd, TERMITE_MODE_DIE);
	__u64 dead = SPAWN(fd, TERMITE_MODE_DELIVER);

	ASSERT_EQ(0, tm_exit(fd, dead, APP, NULL, 0));

	/* unknown peer */
	LINK(fd, a, FAKE_ID, TERMITE_LINK_FROM);
	RECV_EXIT(fd, a, FAKE_ID, TERMITE_EXIT_NOPROC, TERMITE_MSG_SIGNAL,
		  NULL, 0);
	EXPECT_EMPTY(fd, a);
	/* dead peer, both directions */
	LINK(fd, a, dead, TERMITE_LINK_BOTH);
	RECV_EXIT(fd, a, dead, TERMITE_EXIT_NOPROC, TERMITE_MSG_SIGNAL,
		  NULL, 0);
	EXPECT_EMPTY(fd, a);
	/* only TO a dead peer: nothing */
	LINK(fd, a, dead, TERMITE_LINK_TO);
	LINK(fd, a, FAKE_ID, TERMITE_LINK_TO);
	EXPECT_EMPTY(fd, a);

	/* a trapping actor gets an ordinary message */
	LINK(fd, t, dead, TERMITE_LINK_FROM);
	RECV_EXIT(fd, t, dead, TERMITE_EXIT_NOPROC, 0, NULL, 0);
	EXPECT_EMPTY(fd, t);

	/* a DIE-mode actor dies of it */
	LINK(fd, t, die, TERMITE_LINK_FROM);
	ASSERT_EQ(0, tm_link(fd, die, FAKE_ID, TERMITE_LINK_FROM));
	RECV_DEAD(fd, die, TERMITE_EXIT_NOPROC);
	EXPECT_GONE(fd, die);
	RECV_EXIT(fd, t, die, TERMITE_EXIT_NOPROC, 0, NULL, NOLEN);
	EXPECT_EMPTY(fd, t);
}

TEST_F(ex, noproc_monitor)
{
	int fd = self->fd;
	__u64 w = SPAWN(fd, TERMITE_MODE_DIE);
	__u64 dead = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 r1 = 0, r2 = 0;

	ASSERT_EQ(0, tm_exit(fd, dead, APP, NULL, 0));
	ASSERT_EQ(0, tm_monitor(fd, w, FAKE_ID, &r1));
	ASSERT_NE(0ULL, r1);
	recv_check(_metadata, __LINE__, fd, w, 0, TERMITE_KIND_DOWN, FAKE_ID,
		   r1, TERMITE_EXIT_NOPROC, 0, NULL, 0, NULL);
	ASSERT_EQ(0, tm_monitor(fd, w, dead, &r2));
	ASSERT_NE(0ULL, r2);
	ASSERT_NE(r1, r2);
	recv_check(_metadata, __LINE__, fd, w, 0, TERMITE_KIND_DOWN, dead,
		   r2, TERMITE_EXIT_NOPROC, 0, NULL, 0, NULL);
	/* the DIE-mode watcher is alive */
	EXPECT_EMPTY(fd, w);
}

/* ---- monitors ------------------------------------------------------ */

TEST_F(ex, monitor_down)
{
	int fd = self->fd;
	__u64 w = SPAWN(fd, TERMITE_MODE_DIE);
	__u64 w2 = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 p = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 r1, r2, r3;
	struct termite_msghdr h1, h2;

	ASSERT_EQ(0, tm_monitor(fd, w, p, &r1));
	ASSERT_EQ(0, tm_monitor(fd, w, p, &r2));
	ASSERT_EQ(0, tm_monitor(fd, w2, p, &r3));
	ASSERT_NE(r1, r2);
	ASSERT_NE(r1, r3);
	ASSERT_NE(r2, r3);
	EXPECT_EMPTY(fd, w);

	ASSERT_EQ(0, tm_exit(fd, p, APP, reason, sizeof(reason)));

	/* one DOWN per monitor, in either order */
	recv_check(_metadata, __LINE__, fd, w, WAIT, TERMITE_KIND_DOWN, p, 0,
		   APP, 0, reason, sizeof(reason), &h1);
	recv_check(_metadata, __LINE__, fd, w, WAIT, TERMITE_KIND_DOWN, p, 0,
		   APP, 0, reason, sizeof(reason), &h2);
	ASSERT_TRUE((h1.tag == r1 && h2.tag == r2) ||
		    (h1.tag == r2 && h2.tag == r1))
		TH_LOG("tags %#llx %#llx, refs %#llx %#llx",
		       (unsigned long long)h1.tag, (unsigned long long)h2.tag,
		       (unsigned long long)r1, (unsigned long long)r2);
	EXPECT_EMPTY(fd, w);
	RECV_DOWN(fd, w2, p, r3, APP, reason, sizeof(reason));
	EXPECT_EMPTY(fd, w2);

	/* the watchers are alive; DOWN is not a signal to them */
	SEND(fd, w2, w, 1);
	RECV_MSG(fd, w, w2, 1);
	/* the monitors are gone: demonitoring them now is harmless */
	ASSERT_EQ(0, tm_demonitor(fd, w, r1, 0));
	EXPECT_EMPTY(fd, w);
}

TEST_F(ex, demonitor)
{
	int fd = self->fd;
	__u64 w = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 p = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 r1, r2;

	ASSERT_EQ(0, tm_monitor(fd, w, p, &r1));
	ASSERT_EQ(0, tm_monitor(fd, w, p, &r2));
	ASSERT_EQ(0, tm_demonitor(fd, w, r1, 0));
	/* unknown reference: success */
	ASSERT_EQ(0, tm_demonitor(fd, w, 0x1234567ULL, 0));
	ASSERT_EQ(0, tm_exit(fd, p, APP, NULL, 0));
	/* only the remaining monitor fires */
	RECV_DOWN(fd, w, p, r2, APP, NULL, 0);
	EXPECT_EMPTY(fd, w);
}

TEST_F(ex, demonitor_flush)
{
	int fd = self->fd;
	__u64 w = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 p = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 p2 = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 s = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 r1, r2;

	ASSERT_EQ(0, tm_monitor(fd, w, p, &r1));
	ASSERT_EQ(0, tm_monitor(fd, w, p2, &r2));
	SEND(fd, s, w, 1);
	ASSERT_EQ(0, tm_exit(fd, p, APP, NULL, 0));
	SEND(fd, s, w, 2);
	ASSERT_EQ(0, tm_exit(fd, p2, APP + 1, NULL, 0));
	SEND(fd, s, w, 3);

	/* FLUSH removes p's queued DOWN, nothing else */
	ASSERT_EQ(0, tm_demonitor(fd, w, r1, TERMITE_DEMONITOR_FLUSH));
	/* without FLUSH an already queued DOWN stays */
	ASSERT_EQ(0, tm_demonitor(fd, w, r2, 0));
	RECV_MSG(fd, w, s, 1);
	RECV_MSG(fd, w, s, 2);
	RECV_DOWN(fd, w, p2, r2, APP + 1, NULL, 0);
	RECV_MSG(fd, w, s, 3);
	EXPECT_EMPTY(fd, w);

	/* bad flags */
	ASSERT_EQ(-EINVAL, tm_demonitor(fd, w, r1, 1U << 1));
}

/* ---- unlink -------------------------------------------------------- */

TEST_F(ex, unlink_directions)
{
	int fd = self->fd;
	__u64 a, b;

	/* BOTH minus TO leaves FROM: a hears of b, b not of a */
	a = SPAWN(fd, TERMITE_MODE_DELIVER);
	b = SPAWN(fd, TERMITE_MODE_DELIVER);
	LINK(fd, a, b, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_unlink(fd, a, b, TERMITE_LINK_TO));
	ASSERT_EQ(0, tm_exit(fd, a, APP, NULL, 0));
	EXPECT_EMPTY(fd, b);

	a = SPAWN(fd, TERMITE_MODE_DELIVER);
	b = SPAWN(fd, TERMITE_MODE_DELIVER);
	LINK(fd, a, b, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_unlink(fd, a, b, TERMITE_LINK_TO));
	ASSERT_EQ(0, tm_exit(fd, b, APP, NULL, 0));
	RECV_EXIT(fd, a, b, APP, TERMITE_MSG_SIGNAL, NULL, 0);

	/* BOTH minus FROM leaves TO: b hears of a, a not of b */
	a = SPAWN(fd, TERMITE_MODE_DELIVER);
	b = SPAWN(fd, TERMITE_MODE_DELIVER);
	LINK(fd, a, b, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_unlink(fd, a, b, TERMITE_LINK_FROM));
	ASSERT_EQ(0, tm_exit(fd, b, APP, NULL, 0));
	EXPECT_EMPTY(fd, a);

	a = SPAWN(fd, TERMITE_MODE_DELIVER);
	b = SPAWN(fd, TERMITE_MODE_DELIVER);
	LINK(fd, a, b, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_unlink(fd, a, b, TERMITE_LINK_FROM));
	ASSERT_EQ(0, tm_exit(fd, a, APP, NULL, 0));
	RECV_EXIT(fd, b, a, APP, TERMITE_MSG_SIGNAL, NULL, 0);

	/* BOTH minus BOTH: nothing either way */
	a = SPAWN(fd, TERMITE_MODE_DELIVER);
	b = SPAWN(fd, TERMITE_MODE_DELIVER);
	LINK(fd, a, b, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_unlink(fd, a, b, TERMITE_LINK_BOTH));
	ASSERT_EQ(0, tm_exit(fd, a, APP, NULL, 0));
	EXPECT_EMPTY(fd, b);

	/* the other end can remove the same direction: a->b seen from b */
	a = SPAWN(fd, TERMITE_MODE_DELIVER);
	b = SPAWN(fd, TERMITE_MODE_DELIVER);
	LINK(fd, a, b, TERMITE_LINK_TO);
	ASSERT_EQ(0, tm_unlink(fd, b, a, TERMITE_LINK_FROM));
	ASSERT_EQ(0, tm_exit(fd, a, APP, NULL, 0));
	EXPECT_EMPTY(fd, b);

	/* unlinking what is not linked succeeds, also with unknown peers */
	ASSERT_EQ(0, tm_unlink(fd, b, FAKE_ID, TERMITE_LINK_BOTH));
	ASSERT_EQ(0, tm_unlink(fd, b, a, TERMITE_LINK_BOTH));
	EXPECT_EMPTY(fd, b);
}

/* ---- error paths --------------------------------------------------- */

TEST_F(ex, err_not_own_actor)
{
	int fd = self->fd;
	int fd2 = tm_open();
	__u64 a = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 b, ref;
	struct tm_msgbuf m;

	ASSERT_LE(0, fd2);
	b = SPAWN(fd2, TERMITE_MODE_DELIVER);

	/* a belongs to fd, not fd2: every "own actor" use is ENOENT */
	EXPECT_EQ(-ENOENT, tm_link(fd2, a, b, TERMITE_LINK_BOTH));
	EXPECT_EQ(-ENOENT, tm_unlink(fd2, a, b, TERMITE_LINK_BOTH));
	EXPECT_EQ(-ENOENT, tm_monitor(fd2, a, b, &ref));
	EXPECT_EQ(-ENOENT, tm_demonitor(fd2, a, 1, 0));
	EXPECT_EQ(-ENOENT, tm_exit(fd2, a, APP, NULL, 0));
	EXPECT_EQ(-ENOENT, tm_signal(fd2, a, b, APP, NULL, 0));
	EXPECT_EQ(-ENOENT, tm_send(fd2, a, b, 0, 1, "x", 1));
	EXPECT_EQ(-ENOENT, tm_recv_msg(fd2, a, &m, 0));
	EXPECT_EQ(-ENOENT, tm_setopt(fd2, a, TERMITE_OPT_MODE,
				     TERMITE_MODE_TRAP, NULL));
	/* an unknown own actor too */
	EXPECT_EQ(-ENOENT, tm_link(fd2, FAKE_ID, b, TERMITE_LINK_BOTH));
	EXPECT_EQ(-ENOENT, tm_signal(fd2, FAKE_ID, b, APP, NULL, 0));
	/* nothing of that happened to a or b */
	EXPECT_EMPTY(fd, a);
	EXPECT_EMPTY(fd2, b);
	ASSERT_EQ(0, tm_exit(fd2, b, APP, NULL, 0));
	EXPECT_EMPTY(fd, a);
	close(fd2);
}

TEST_F(ex, err_einval)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 b = SPAWN(fd, TERMITE_MODE_DELIVER);
	struct termite_link l;
	struct termite_monitor mo;
	struct termite_exit e;
	__u64 ref;

	/* id 0 */
	EXPECT_EQ(-EINVAL, tm_link(fd, a, 0, TERMITE_LINK_BOTH));
	EXPECT_EQ(-EINVAL, tm_link(fd, 0, a, TERMITE_LINK_BOTH));
	EXPECT_EQ(-EINVAL, tm_monitor(fd, a, 0, &ref));
	EXPECT_EQ(-EINVAL, tm_monitor(fd, 0, a, &ref));
	EXPECT_EQ(-EINVAL, tm_signal(fd, a, 0, APP, NULL, 0));
	EXPECT_EQ(-EINVAL, tm_exit(fd, 0, APP, NULL, 0));
	/* self */
	EXPECT_EQ(-EINVAL, tm_link(fd, a, a, TERMITE_LINK_BOTH));
	EXPECT_EQ(-EINVAL, tm_link(fd, a, a, TERMITE_LINK_FROM));
	EXPECT_EQ(-EINVAL, tm_monitor(fd, a, a, &ref));
	/* flags */
	EXPECT_EQ(-EINVAL, tm_link(fd, a, b, 0));
	EXPECT_EQ(-EINVAL, tm_link(fd, a, b, 1U << 2));
	EXPECT_EQ(-EINVAL, tm_link(fd, a, b, TERMITE_LINK_BOTH | 1U << 31));
	EXPECT_EQ(-EINVAL, tm_unlink(fd, a, b, 1U << 2));
	/* reserved fields */
	memset(&l, 0, sizeof(l));
	l.actor = a;
	l.peer = b;
	l.flags = TERMITE_LINK_BOTH;
	l.reserved0 = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_LINK, &l));
	l.reserved0 = 0;
	l.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_LINK, &l));
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_UNLINK, &l));
	memset(&mo, 0, sizeof(mo));
	mo.actor = a;
	mo.peer = b;
	mo.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_MONITOR, &mo));
	mo.reserved[0] = 0;
	mo.reserved0 = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_MONITOR, &mo));
	memset(&e, 0, sizeof(e));
	e.actor = a;
	e.to = b;
	e.code = APP;
	e.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_SIGNAL, &e));
	e.to = 0;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_EXIT, &e));
	/* EXIT names no target */
	memset(&e, 0, sizeof(e));
	e.actor = a;
	e.to = b;
	e.code = APP;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_EXIT, &e));
	/* KILL is a request for SIGNAL only */
	EXPECT_EQ(-EINVAL, tm_exit(fd, a, TERMITE_EXIT_KILL, NULL, 0));
	/* bad modes */
	EXPECT_EQ(-EINVAL, tm_setopt(fd, a, TERMITE_OPT_MODE, 3, NULL));
	EXPECT_EQ(-EINVAL, tm_spawn_mode(fd, 3, &ref));

	/* nothing happened: no links were made, a and b are alive */
	ASSERT_EQ(0, tm_exit(fd, a, APP, NULL, 0));
	EXPECT_EMPTY(fd, b);
	ASSERT_EQ(0, tm_exit(fd, b, APP, NULL, 0));
}

TEST_F(ex, err_efault)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 b = SPAWN(fd, TERMITE_MODE_DELIVER);
	void *bad = (void *)8;

	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_LINK, bad));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_UNLINK, bad));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_MONITOR, bad));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_DEMONITOR, bad));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_EXIT, bad));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_SIGNAL, bad));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_LINK, NULL));
	/* a bad reason payload pointer */
	EXPECT_EQ(-EFAULT, tm_signal(fd, a, b, APP, bad, 16));
	EXPECT_EQ(-EFAULT, tm_exit(fd, a, APP, bad, 16));
	/* neither happened */
	EXPECT_EMPTY(fd, b);
	LINK(fd, a, b, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_exit(fd, a, APP, "ok", 2));
	RECV_EXIT(fd, b, a, APP, TERMITE_MSG_SIGNAL, "ok", 2);
}

TEST_F(ex, err_emsgsize)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd, TERMITE_MODE_DELIVER);
	__u64 b = SPAWN(fd, TERMITE_MODE_TRAP);
	struct termite_version v;
	struct termite_msghdr *h;
	char *big;
	size_t sz;

	ASSERT_EQ(0, tm_version(fd, &v));
	ASSERT_LE(4096U, v.max_msg_size);
	big = calloc(1, (size_t)v.max_msg_size + 1);
	ASSERT_NE(NULL, big);
	LINK(fd, a, b, TERMITE_LINK_BOTH);
	EXPECT_EQ(-EMSGSIZE, tm_signal(fd, a, b, APP, big,
				       v.max_msg_size + 1));
	EXPECT_EQ(-EMSGSIZE, tm_exit(fd, a, APP, big, v.max_msg_size + 1));
	EXPECT_EQ(-EMSGSIZE, tm_exit(fd, a, APP, big, 0xffffffffu));
	/* a still alive, nothing sent */
	EXPECT_EMPTY(fd, b);
	EXPECT_EMPTY(fd, a);
	/* the largest reason is fine */
	memset(big, 0x5a, v.max_msg_size);
	ASSERT_EQ(0, tm_exit(fd, a, APP, big, v.max_msg_size));
	sz = sizeof(struct termite_msghdr) + v.max_msg_size;
	h = malloc(sz);
	ASSERT_NE(NULL, h);
	ASSERT_EQ((int)v.max_msg_size, tm_recv(fd, b, h, sz, WAIT));
	EXPECT_EQ(TERMITE_KIND_EXIT, h->kind);
	EXPECT_EQ(a, h->from);
	EXPECT_EQ(APP, h->code);
	EXPECT_EQ(0, memcmp(h + 1, big, v.max_msg_size));
	free(h);
	free(big);
}

/* ---- ports and processes -------------------------------------------- */

/* Closing a port kills its actors with PORT_CLOSED, across ports. */
TEST_F(ex, port_close_propagates)
{
	int fd = self->fd;
	int p1 = tm_open();
	__u64 a, a2, a3, b, m, c, s, ref;

	ASSERT_LE(0, p1);
	a = SPAWN(p1, TERMITE_MODE_DELIVER);
	a2 = SPAWN(p1, TERMITE_MODE_DIE);
	a3 = SPAWN(p1, TERMITE_MODE_TRAP);
	LINK(p1, a, a2, TERMITE_LINK_BOTH);
	LINK(p1, a3, a, TERMITE_LINK_BOTH);

	b = SPAWN(fd, TERMITE_MODE_TRAP);
	m = SPAWN(fd, TERMITE_MODE_DIE);
	c = SPAWN(fd, TERMITE_MODE_DIE);
	s = SPAWN(fd, TERMITE_MODE_DELIVER);
	LINK(fd, b, a, TERMITE_LINK_BOTH);
	ASSERT_EQ(0, tm_monitor(fd, m, a2, &ref));
	LINK(fd, c, a3, TERMITE_LINK_FROM);
	SEND(fd, s, a, 1);

	ASSERT_EQ(0, close(p1));

	RECV_EXIT(fd, b, a, TERMITE_EXIT_PORT_CLOSED, 0, NULL, NOLEN);
	EXPECT_EMPTY(fd, b);
	RECV_DOWN(fd, m, a2, ref, TERMITE_EXIT_PORT_CLOSED, NULL, NOLEN);
	EXPECT_EMPTY(fd, m);
	RECV_DEAD(fd, c, TERMITE_EXIT_PORT_CLOSED);
	EXPECT_GONE(fd, c);
	EXPECT_DEAD(fd, s, a);
	EXPECT_DEAD(fd, s, a2);
	EXPECT_DEAD(fd, s, a3);
}

#define NCHILD 1000

/*
 * A child opens its own port, spawns NCHILD actors linked to the parent's
 * observers (alternately BOTH and TO), reports the ids and waits to be
 * killed.  Exit codes: 10+ setup errors.
 */
static void child_owner(int wr, const __u64 *obs, int nobs)
{
	static __u64 ids[NCHILD];
	int fd = tm_open();
	int i, ret;
	size_t off = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (fd < 0)
		_exit(10);
	for (i = 0; i < NCHILD; i++) {
		if (tm_spawn_mode(fd, i % 3 ? TERMITE_MODE_DELIVER :
				  TERMITE_MODE_TRAP, &ids[i]))
			_exit(11);
		ret = tm_link(fd, ids[i], obs[nobs == 1 ? 0 : i],
			      i % 2 ? TERMITE_LINK_BOTH : TERMITE_LINK_TO);
		if (ret) {
			fprintf(stderr, "# child: link %d: %s\n", i,
				strerror(-ret));
			_exit(12);
		}
	}
	while (off < sizeof(ids)) {
		ssize_t n = write(wr, (char *)ids + off, sizeof(ids) - off);

		if (n <= 0)
			_exit(13);
		off += n;
	}
	for (;;)
		pause();
}

static void sigkill_child(struct __test_metadata *_metadata, int fd,
			  int nobs)
{
	static __u64 obs[NCHILD], ids[NCHILD], sorted[NCHILD];
	static char seen[NCHILD];
	int pfd[2], status, i;
	size_t off = 0;
	pid_t pid;
	__s64 t0;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < nobs; i++)
		obs[i] = SPAWN(fd, TERMITE_MODE_TRAP);
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(pfd[0]);
		close(fd);
		child_owner(pfd[1], obs, nobs);
	}
	close(pfd[1]);
	while (off < sizeof(ids)) {
		ssize_t n = read(pfd[0], (char *)ids + off, sizeof(ids) - off);

		if (n <= 0)
			break;
		off += n;
	}
	close(pfd[0]);
	if (off < sizeof(ids)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		ASSERT_EQ(sizeof(ids), off)
			TH_LOG("child failed: status %#x", status);
	}
	/* nothing arrived yet */
	for (i = 0; i < nobs; i++)
		EXPECT_EMPTY(fd, obs[i]);

	t0 = tm_now_ns();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	memcpy(sorted, ids, sizeof(ids));
	qsort(sorted, NCHILD, sizeof(sorted[0]), cmp_u64);
	for (i = 1; i < NCHILD; i++)
		ASSERT_NE(sorted[i - 1], sorted[i]);

	for (i = 0; i < NCHILD; i++) {
		__u64 o = obs[nobs == 1 ? 0 : i];
		struct termite_msghdr h;
		long k;

		recv_check(_metadata, __LINE__, fd, o, WAIT, TERMITE_KIND_EXIT,
			   nobs == 1 ? 0 : ids[i], 0,
			   TERMITE_EXIT_PORT_CLOSED, 0, NULL, NOLEN, &h);
		k = find_id(sorted, NCHILD, h.from);
		ASSERT_LE(0, k) TH_LOG("exit %d from unknown %#llx", i,
				       (unsigned long long)h.from);
		ASSERT_EQ(0, seen[k]) TH_LOG("duplicate exit from %#llx",
					     (unsigned long long)h.from);
		seen[k] = 1;
	}
	for (i = 0; i < nobs; i++)
		EXPECT_EMPTY(fd, obs[i]);
	TH_LOG("%d exits from a SIGKILLed owner to %d observer(s) in %lld ms",
	       NCHILD, nobs, (long long)((tm_now_ns() - t0) / TM_MS(1)));
}

TEST_F_TIMEOUT(ex, sigkill_owner_one_observer, 60)
{
	sigkill_child(_metadata, self->fd, 1);
}

TEST_F_TIMEOUT(ex, sigkill_owner_many_observers, 60)
{
	sigkill_child(_metadata, self->fd, NCHILD);
}

/* ---- scale ----------------------------------------------------------- */

#define CHAIN 100000

/* Drains READY into a sorted array; returns the number of ids. */
static long ready_all(struct __test_metadata *_metadata, int fd, __u64 *ids,
		      long room)
{
	long n = 0;

	for (;;) {
		__u32 cnt = room - n > 4096 ? 4096 : room - n;

		ASSERT_LT(0U, cnt) TH_LOG("READY reports more than %ld", room);
		ASSERT_EQ(0, tm_ready(fd, ids + n, &cnt));
		if (!cnt)
			break;
		n += cnt;
	}
	qsort(ids, n, sizeof(*ids), cmp_u64);
	return n;
}

TEST_F_TIMEOUT(ex, exit_chain_100k, 240)
{
	int fd = self->fd;
	__u64 *a = calloc(CHAIN, sizeof(*a));
	__u64 *ready = calloc(CHAIN + 16, sizeof(*ready));
	__u64 *sorted = calloc(CHAIN + 1, sizeof(*sorted));
	__u64 o, ref, s;
	struct termite_msghdr h1, h2;
	__s64 t0, t1, t2;
	long i, n;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, ready);
	ASSERT_NE(NULL, sorted);

	t0 = tm_now_ns();
	for (i = 0; i < CHAIN; i++) {
		a[i] = SPAWN(fd, TERMITE_MODE_DIE);
		if (i)
			ASSERT_EQ(0, tm_link(fd, a[i - 1], a[i],
					     TERMITE_LINK_BOTH))
				TH_LOG("link %ld", i);
	}
	o = SPAWN(fd, TERMITE_MODE_TRAP);
	s = SPAWN(fd, TERMITE_MODE_TRAP);
	LINK(fd, o, a[CHAIN - 1], TERMITE_LINK_FROM);
	ASSERT_EQ(0, tm_monitor(fd, o, a[CHAIN - 1], &ref));
	/* nothing is ready yet */
	ASSERT_EQ(0, ready_all(_metadata, fd, ready, CHAIN + 16));
	t1 = tm_now_ns();

	ASSERT_EQ(0, tm_signal(fd, s, a[0], TERMITE_EXIT_KILL, NULL, 0));
	t2 = tm_now_ns();
	TH_LOG("setup of %d linked actors %lld ms, SIGNAL KILL %lld ms",
	       CHAIN, (long long)((t1 - t0) / TM_MS(1)),
	       (long long)((t2 - t1) / TM_MS(1)));

	/* READY: every chain actor (dead) and the observer, once each */
	n = ready_all(_metadata, fd, ready, CHAIN + 16);
	memcpy(sorted, a, CHAIN * sizeof(*a));
	sorted[CHAIN] = o;
	qsort(sorted, CHAIN + 1, sizeof(*sorted), cmp_u64);
	ASSERT_EQ(CHAIN + 1, n);
	for (i = 0; i < n; i++)
		ASSERT_EQ(sorted[i], ready[i]) TH_LOG("ready[%ld]", i);
	ASSERT_EQ(0, ready_all(_metadata, fd, ready, CHAIN + 16));

	/* the observer hears of the last one's death, by link and monitor */
	recv_check(_metadata, __LINE__, fd, o, TM_MS(30000), ANY,
		   a[CHAIN - 1], 0, TERMITE_EXIT_KILLED, 0, NULL, NOLEN, &h1);
	recv_check(_metadata, __LINE__, fd, o, WAIT, ANY, a[CHAIN - 1], 0,
		   TERMITE_EXIT_KILLED, 0, NULL, NOLEN, &h2);
	ASSERT_TRUE((h1.kind == TERMITE_KIND_EXIT &&
		     h2.kind == TERMITE_KIND_DOWN && h2.tag == ref) ||
		    (h2.kind == TERMITE_KIND_EXIT &&
		     h1.kind == TERMITE_KIND_DOWN && h1.tag == ref));
	EXPECT_EMPTY(fd, o);
	EXPECT_EMPTY(fd, s);

	/* every one of them is dead, KILLED, and then gone */
	for (i = 0; i < CHAIN; i++) {
		struct tm_msgbuf m;
		int ret = tm_recv_msg(fd, a[i], &m, 0);

		ASSERT_LE(0, ret) TH_LOG("a[%ld]: %s", i, strerror(-ret));
		ASSERT_EQ(TERMITE_KIND_EXIT, m.hdr.kind) TH_LOG("a[%ld]", i);
		ASSERT_EQ(TERMITE_MSG_DEAD, m.hdr.flags) TH_LOG("a[%ld]", i);
		ASSERT_EQ((__u32)TERMITE_EXIT_KILLED, m.hdr.code) TH_LOG("a[%ld]", i);
		ASSERT_EQ(a[i], m.hdr.from) TH_LOG("a[%ld]", i);
		if (i % 997 == 0)
			EXPECT_GONE(fd, a[i]);
	}
	EXPECT_DEAD(fd, s, a[CHAIN / 2]);
	TH_LOG("whole test %lld ms", (long long)((tm_now_ns() - t0) / TM_MS(1)));
	free(a);
	free(ready);
	free(sorted);
}

#define FANOUT 10000

TEST_F_TIMEOUT(ex, fanout_10k, 120)
{
	int fd = self->fd;
	__u64 *d = calloc(FANOUT, sizeof(*d));
	struct termite_msghdr h1, h2;
	__u64 hub, o;
	__s64 t0, t1;
	long i;

	ASSERT_NE(NULL, d);
	hub = SPAWN(fd, TERMITE_MODE_DELIVER);
	o = SPAWN(fd, TERMITE_MODE_TRAP);
	for (i = 0; i < FANOUT; i++) {
		d[i] = SPAWN(fd, TERMITE_MODE_DIE);
		ASSERT_EQ(0, tm_link(fd, hub, d[i], i % 2 ? TERMITE_LINK_BOTH :
				     TERMITE_LINK_TO))
			TH_LOG("link %ld", i);
	}
	LINK(fd, o, d[FANOUT - 1], TERMITE_LINK_FROM);
	LINK(fd, o, d[FANOUT / 2], TERMITE_LINK_FROM);

	t0 = tm_now_ns();
	ASSERT_EQ(0, tm_exit(fd, hub, APP, reason, sizeof(reason)));
	t1 = tm_now_ns();
	TH_LOG("EXIT of a hub linked to %d actors: %lld ms", FANOUT,
	       (long long)((t1 - t0) / TM_MS(1)));

	for (i = 0; i < FANOUT; i++) {
		struct tm_msgbuf m;
		int ret = tm_recv_msg(fd, d[i], &m, i ? 0 : WAIT);

		ASSERT_LE(0, ret) TH_LOG("d[%ld]: %s", i, strerror(-ret));
		ASSERT_EQ(TERMITE_KIND_EXIT, m.hdr.kind) TH_LOG("d[%ld]", i);
		ASSERT_EQ(TERMITE_MSG_DEAD, m.hdr.flags) TH_LOG("d[%ld]", i);
		ASSERT_EQ(APP, m.hdr.code) TH_LOG("d[%ld]", i);
		ASSERT_EQ(d[i], m.hdr.from) TH_LOG("d[%ld]", i);
	}
	/* the reason, payload included, went two hops */
	recv_check(_metadata, __LINE__, fd, o, WAIT, TERMITE_KIND_EXIT,
		   0, 0, APP, 0, reason, sizeof(reason), &h1);
	recv_check(_metadata, __LINE__, fd, o, WAIT, TERMITE_KIND_EXIT,
		   0, 0, APP, 0, reason, sizeof(reason), &h2);
	ASSERT_TRUE((h1.from == d[FANOUT - 1] && h2.from == d[FANOUT / 2]) ||
		    (h2.from == d[FANOUT - 1] && h1.from == d[FANOUT / 2]));
	EXPECT_EMPTY(fd, o);
	free(d);
}

TEST_HARNESS_MAIN
