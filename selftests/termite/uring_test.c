// SPDX-License-Identifier: GPL-2.0
/*
 * termite selftests: the io_uring command interface (liburing).
 *
 * Every operation through IORING_OP_URING_CMD with the ioctl's struct in
 * the SQE128 command area; results in res and big_cqe[0] (CQE32); receives
 * parked until a message, signal, death or timeout; parked receives
 * completed with -ECANCELED when the port is closed, the ring torn down or
 * the submitting process dies or execs; blocking sends retried from
 * io-wq.  The error paths: rings without SQE128 or CQE32, unknown
 * commands, reserved fields, bad ids and faulting buffers (which lose no
 * message, inline or parked).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <liburing.h>
#include "kselftest_harness.h"
#include "common.h"

#define RING_FLAGS	(IORING_SETUP_SQE128 | IORING_SETUP_CQE32)
/*
 * How long to wait for a completion that must come: they take
 * milliseconds, those the 6.1 monitor makes under a second.
 */
#define REAP_MS		3000
/* How long to wait for a child, or for a port to be released. */
#define WAIT_MS		5000
/* reap()'s answer when nothing came within REAP_MS: no errno value. */
#define NO_CQE		(-100000)
/* How long a receive that must stay parked is watched. */
#define QUIET_MS	150
/* Longer than the 6.1 kernel's monitor period (0.5 s) plus task work. */
#define MONITOR_MS	1500

/* Queue one termite command: @op is a TERMITE_IOC_* number. */
static struct io_uring_sqe *prep(struct io_uring *ring, int fd, __u32 op,
				 const void *arg, size_t size, __u64 udata)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return NULL;
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	sqe->user_data = udata;
	memcpy(sqe->cmd, arg, size);
	return sqe;
}

/*
 * Wait up to @ms for one completion and consume it: 0 with res, big_cqe[0]
 * and user_data stored, or -ETIME if none came.
 */
static int reap_ms(struct io_uring *ring, int ms, int *res, __u64 *out,
		   __u64 *udata)
{
	struct __kernel_timespec ts = { ms / 1000, (ms % 1000) * 1000000LL };
	struct io_uring_cqe *cqe;
	int ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);

	if (ret)
		return ret;
	if (res)
		*res = cqe->res;
	if (out)
		*out = (ring->flags & IORING_SETUP_CQE32) ? cqe->big_cqe[0] : 0;
	if (udata)
		*udata = cqe->user_data;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/* Wait for one completion: its res, or NO_CQE if none within REAP_MS. */
static int reap(struct io_uring *ring, __u64 *out, __u64 *udata)
{
	int res;

	if (reap_ms(ring, REAP_MS, &res, out, udata))
		return NO_CQE;
	return res;
}

/* Submit one command and wait for it. */
static int run(struct io_uring *ring, int fd, __u32 op, const void *arg,
	       size_t size, __u64 *out)
{
	if (!prep(ring, fd, op, arg, size, 0))
		return -EBUSY;
	/* (SQPOLL: the count includes entries not consumed yet.) */
	if (io_uring_submit(ring) < 1)
		return -EIO;
	return reap(ring, out, NULL);
}

/*
 * Submit one command with @sqe_flags (IOSQE_*) and user_data @udata: 1, or
 * -errno.  (On an SQPOLL ring io_uring_submit() also counts earlier
 * entries the kernel thread has not consumed yet.)
 */
static int submit_ex(struct io_uring *ring, int fd, __u32 op, const void *arg,
		     size_t size, __u64 udata, __u8 sqe_flags)
{
	struct io_uring_sqe *sqe = prep(ring, fd, op, arg, size, udata);
	int ret;

	if (!sqe)
		return -EBUSY;
	sqe->flags |= sqe_flags;
	ret = io_uring_submit(ring);
	return ret > 0 ? 1 : ret;
}

/* Is a completion there within @ms?  (It is left in the ring.) */
static bool cqe_within(struct io_uring *ring, int ms)
{
	struct __kernel_timespec ts = { ms / 1000, (ms % 1000) * 1000000LL };
	struct io_uring_cqe *cqe;

	return io_uring_wait_cqe_timeout(ring, &cqe, &ts) == 0;
}

/* Park a receive on actor @a of @fd into @mb, with user_data @udata. */
static int park_ud(struct io_uring *ring, int fd, __u64 a,
		   struct tm_msgbuf *mb, __u64 udata)
{
	struct termite_recv r;

	tm_recv_init(&r, a, mb, sizeof(*mb), TM_FOREVER);
	return submit_ex(ring, fd, TERMITE_IOC_RECV, &r, sizeof(r), udata, 0);
}

/* Park a receive forever on actor @a of @fd through @ring. */
static int park(struct io_uring *ring, int fd, __u64 a, struct tm_msgbuf *mb)
{
	return park_ud(ring, fd, a, mb, 1);
}

/* Sends the 8-byte value @val from @from to @to with tag @val. */
static int send_val(int fd, __u64 from, __u64 to, __u64 val)
{
	return tm_send(fd, from, to, val, 1, &val, sizeof(val));
}

/* The 8-byte value of a message received into @mb. */
static __u64 val_of(const struct tm_msgbuf *mb)
{
	__u64 v;

	memcpy(&v, mb->data, sizeof(v));
	return v;
}

/*
 * A watcher: an actor on a port of its own monitoring @target, to learn
 * when (and why) a port's actor dies, e.g. because the port was released.
 */
struct watch {
	int fd;
	__u64 w, ref;
};

static int watch_start(struct watch *wt, __u64 target)
{
	wt->fd = tm_open();
	if (wt->fd < 0)
		return wt->fd;
	wt->w = tm_spawn(wt->fd);
	if (!wt->w)
		return -ENOMEM;
	return tm_monitor(wt->fd, wt->w, target, &wt->ref);
}

/* The reason code of the DOWN within @ms, or -errno (-EPROTO: not DOWN). */
static int watch_down(struct watch *wt, long ms)
{
	struct tm_msgbuf mb;
	int ret = tm_recv_msg(wt->fd, wt->w, &mb, TM_MS(ms));

	if (ret < 0)
		return ret;
	if (mb.hdr.kind != TERMITE_KIND_DOWN || mb.hdr.tag != wt->ref)
		return -EPROTO;
	return mb.hdr.code;
}

static void watch_end(struct watch *wt)
{
	if (wt->fd >= 0)
		close(wt->fd);
}

/*
 * Waits up to @ms for child @pid; its wait status, or -ETIMEDOUT (the
 * child is then killed and reaped).
 */
static int wait_child(pid_t pid, long ms)
{
	int status;
	long t;

	for (t = 0; t < ms; t += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -errno;
		tm_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -ETIMEDOUT;
}

FIXTURE(uring) {
	struct io_uring ring;
	int fd;
	__u64 a, b;
};

/* A ring, and a port with two actors on it; or fail the test. */
static int ring_port_pair(struct __test_metadata *_metadata,
			  struct io_uring *ring, __u64 *a, __u64 *b)
{
	int fd;

	ASSERT_EQ(0, io_uring_queue_init(64, ring, RING_FLAGS));
	fd = tm_open();
	ASSERT_LE(0, fd);
	*a = spawn_ok(_metadata, __LINE__, fd, TERMITE_MODE_DELIVER);
	*b = spawn_ok(_metadata, __LINE__, fd, TERMITE_MODE_DELIVER);
	return fd;
}

FIXTURE_SETUP(uring)
{
	self->fd = ring_port_pair(_metadata, &self->ring, &self->a, &self->b);
}

FIXTURE_TEARDOWN(uring)
{
	io_uring_queue_exit(&self->ring);
	if (self->fd >= 0)
		close(self->fd);
}

/* Run one command on the fixture's ring and port; @arg is a struct. */
#define RUN(op, arg, out) \
	run(&self->ring, self->fd, (op), (arg), sizeof(*(arg)), (out))

/* ---- every operation through io_uring ---------------------------------- */

TEST_F(uring, version_and_feature)
{
	struct termite_version v = {};
	__u64 out = 0;

	ASSERT_EQ(0, RUN(TERMITE_IOC_VERSION, &v, &out));
	EXPECT_EQ((__u64)TERMITE_API_MAJOR << 32 | TERMITE_API_MINOR, out);
	ASSERT_EQ(0, tm_version(self->fd, &v));
	EXPECT_TRUE(v.features & TERMITE_FEAT_URING);
}

TEST_F(uring, spawn_send_recv_inline)
{
	struct termite_spawn sp = {};
	struct termite_send s = {};
	struct termite_recv r = {};
	struct tm_msgbuf mb;
	__u64 id = 0, id2 = 0;
	char msg[] = "hello";
	long n = fdinfo_actors(self->fd);

	ASSERT_EQ(0, RUN(TERMITE_IOC_SPAWN, &sp, &id));
	ASSERT_NE(0, id);
	EXPECT_EQ(n + 1, fdinfo_actors(self->fd));
	/* A spawned actor is the port's own: a mode-DIE one too. */
	sp.mode = TERMITE_MODE_DIE;
	ASSERT_EQ(0, RUN(TERMITE_IOC_SPAWN, &sp, &id2));
	EXPECT_NE(0, id2);
	EXPECT_NE(id, id2);
	EXPECT_EQ(0, tm_exit(self->fd, id2, 0, NULL, 0));
	sp.mode = TERMITE_MODE_DIE + 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SPAWN, &sp, &id2));
	sp.mode = 0;
	s.from = self->a;
	s.to = id;
	s.tag = 42;
	s.buf = (unsigned long)msg;
	s.len = sizeof(msg);
	ASSERT_EQ(0, RUN(TERMITE_IOC_SEND, &s, NULL));
	r.actor = id;
	r.buf = (unsigned long)&mb;
	r.buf_len = sizeof(mb);
	ASSERT_EQ(sizeof(msg), RUN(TERMITE_IOC_RECV, &r, NULL));
	EXPECT_EQ(self->a, mb.hdr.from);
	EXPECT_EQ(42, mb.hdr.tag);
	EXPECT_EQ((__u32)getpid(), mb.hdr.pid);
	EXPECT_EQ(0, memcmp(mb.data, msg, sizeof(msg)));
	/* Inline receive with timeout 0 on an empty mailbox. */
	r.timeout_ns = 0;
	EXPECT_EQ(-EAGAIN, RUN(TERMITE_IOC_RECV, &r, NULL));
}

/*
 * LINK through io_uring: b's error exit reaches a as a signal; UNLINK
 * through io_uring: nothing reaches a; a DIE-mode actor linked through
 * io_uring dies with its peer's reason (propagation).
 */
TEST_F(uring, link_unlink)
{
	struct termite_link l = { .actor = self->a,
				  .flags = TERMITE_LINK_BOTH };
	int fd = self->fd;
	__u64 x = tm_spawn(fd), y = tm_spawn(fd), z = 0, w = tm_spawn(fd);
	struct tm_msgbuf mb;
	__u64 ref;

	ASSERT_EQ(0, tm_spawn_mode(fd, TERMITE_MODE_DIE, &z));
	l.peer = x;
	ASSERT_EQ(0, RUN(TERMITE_IOC_LINK, &l, NULL));
	ASSERT_EQ(0, tm_exit(fd, x, TERMITE_EXIT_ERROR + 1, "why", 3));
	ASSERT_EQ(3, tm_recv_msg(fd, self->a, &mb, 0));
	EXPECT_EQ(TERMITE_MSG_SIGNAL, mb.hdr.flags);
	EXPECT_EQ(TERMITE_KIND_EXIT, mb.hdr.kind);
	EXPECT_EQ(x, mb.hdr.from);
	EXPECT_EQ(TERMITE_EXIT_ERROR + 1, mb.hdr.code);
	EXPECT_EQ(0, memcmp(mb.data, "why", 3));

	/* Linked, then unlinked: y's death tells a nothing. */
	l.peer = y;
	ASSERT_EQ(0, RUN(TERMITE_IOC_LINK, &l, NULL));
	ASSERT_EQ(0, RUN(TERMITE_IOC_UNLINK, &l, NULL));
	ASSERT_EQ(0, tm_exit(fd, y, TERMITE_EXIT_ERROR + 1, NULL, 0));
	EXPECT_EQ(-EAGAIN, tm_recv_msg(fd, self->a, &mb, 0));
	/* Linking FROM a dead peer: NOPROC at once. */
	l.flags = TERMITE_LINK_FROM;
	ASSERT_EQ(0, RUN(TERMITE_IOC_LINK, &l, NULL));
	ASSERT_EQ(0, tm_recv_msg(fd, self->a, &mb, 0));
	EXPECT_EQ(TERMITE_EXIT_NOPROC, mb.hdr.code);
	EXPECT_EQ(y, mb.hdr.from);

	/* Propagation: w's error kills z (mode DIE) with the same reason. */
	ASSERT_EQ(0, tm_monitor(fd, self->a, z, &ref));
	l.actor = z;
	l.peer = w;
	l.flags = TERMITE_LINK_BOTH;
	ASSERT_EQ(0, RUN(TERMITE_IOC_LINK, &l, NULL));
	ASSERT_EQ(0, tm_exit(fd, w, TERMITE_EXIT_ERROR + 2, NULL, 0));
	ASSERT_EQ(0, tm_recv_msg(fd, self->a, &mb, 0));
	EXPECT_EQ(TERMITE_KIND_DOWN, mb.hdr.kind);
	EXPECT_EQ(ref, mb.hdr.tag);
	EXPECT_EQ(z, mb.hdr.from);
	EXPECT_EQ(TERMITE_EXIT_ERROR + 2, mb.hdr.code);
	ASSERT_EQ(0, tm_recv_msg(fd, z, &mb, 0));
	EXPECT_EQ(TERMITE_MSG_DEAD, mb.hdr.flags);
	EXPECT_EQ(TERMITE_EXIT_ERROR + 2, mb.hdr.code);
}

/* MONITOR's ref comes in big_cqe[0] and tags the DOWN; DEMONITOR works. */
TEST_F(uring, monitor_demonitor)
{
	struct termite_monitor m = { .actor = self->a };
	int fd = self->fd;
	__u64 x = tm_spawn(fd), y = tm_spawn(fd), z = tm_spawn(fd);
	__u64 ref = 0, ref2 = 0;
	struct tm_msgbuf mb;

	m.peer = x;
	ASSERT_EQ(0, RUN(TERMITE_IOC_MONITOR, &m, &ref));
	ASSERT_NE(0, ref);
	m.peer = y;
	ASSERT_EQ(0, RUN(TERMITE_IOC_MONITOR, &m, &ref2));
	EXPECT_NE(ref, ref2);
	ASSERT_EQ(0, tm_exit(fd, x, TERMITE_EXIT_ERROR + 3, NULL, 0));
	ASSERT_EQ(0, tm_recv_msg(fd, self->a, &mb, 0));
	EXPECT_EQ(TERMITE_KIND_DOWN, mb.hdr.kind);
	EXPECT_EQ(ref, mb.hdr.tag);
	EXPECT_EQ(x, mb.hdr.from);
	EXPECT_EQ(TERMITE_EXIT_ERROR + 3, mb.hdr.code);

	/* DEMONITOR: y's death is not reported. */
	memset(&m, 0, sizeof(m));
	m.actor = self->a;
	m.ref = ref2;
	ASSERT_EQ(0, RUN(TERMITE_IOC_DEMONITOR, &m, NULL));
	ASSERT_EQ(0, tm_exit(fd, y, TERMITE_EXIT_ERROR, NULL, 0));
	EXPECT_EQ(-EAGAIN, tm_recv_msg(fd, self->a, &mb, 0));

	/* DEMONITOR with FLUSH removes a DOWN already queued. */
	m.peer = z;
	m.ref = 0;
	ASSERT_EQ(0, RUN(TERMITE_IOC_MONITOR, &m, &ref));
	ASSERT_EQ(0, tm_exit(fd, z, TERMITE_EXIT_ERROR, NULL, 0));
	m.peer = 0;
	m.ref = ref;
	m.flags = TERMITE_DEMONITOR_FLUSH;
	ASSERT_EQ(0, RUN(TERMITE_IOC_DEMONITOR, &m, NULL));
	EXPECT_EQ(-EAGAIN, tm_recv_msg(fd, self->a, &mb, 0));

	/* An unknown peer: DOWN with NOPROC at once, tagged with the ref. */
	memset(&m, 0, sizeof(m));
	m.actor = self->a;
	m.peer = 0x1234;
	ASSERT_EQ(0, RUN(TERMITE_IOC_MONITOR, &m, &ref));
	ASSERT_EQ(0, tm_recv_msg(fd, self->a, &mb, 0));
	EXPECT_EQ(TERMITE_KIND_DOWN, mb.hdr.kind);
	EXPECT_EQ(ref, mb.hdr.tag);
	EXPECT_EQ(TERMITE_EXIT_NOPROC, mb.hdr.code);
}

/* EXIT through io_uring, with a reason payload read from user memory. */
TEST_F(uring, exit_with_reason)
{
	struct termite_exit e = {};
	int fd = self->fd;
	__u64 x = tm_spawn(fd);
	struct tm_msgbuf mb;

	ASSERT_EQ(0, tm_link(fd, self->a, x, TERMITE_LINK_BOTH));
	e.actor = x;
	e.code = TERMITE_EXIT_ERROR + 3;
	e.buf = (unsigned long)"boom";
	e.len = 4;
	ASSERT_EQ(0, RUN(TERMITE_IOC_EXIT, &e, NULL));
	ASSERT_EQ(4, tm_recv_msg(fd, self->a, &mb, 0));
	EXPECT_EQ(TERMITE_MSG_SIGNAL, mb.hdr.flags);
	EXPECT_EQ(x, mb.hdr.from);
	EXPECT_EQ(TERMITE_EXIT_ERROR + 3, mb.hdr.code);
	EXPECT_EQ(0, memcmp(mb.data, "boom", 4));
	/* The id is forgotten. */
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_EXIT, &e, NULL));
	EXPECT_EQ(-ENOENT, send_val(fd, x, self->a, 1));
	/* KILL is no EXIT reason; EXIT names no target. */
	e.actor = self->b;
	e.code = TERMITE_EXIT_KILL;
	e.len = 0;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_EXIT, &e, NULL));
	e.code = TERMITE_EXIT_ERROR;
	e.to = self->a;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_EXIT, &e, NULL));
	/* A reason payload that cannot be read: b lives on. */
	e.to = 0;
	e.buf = (unsigned long)unmapped_page();
	e.len = 16;
	EXPECT_EQ(-EFAULT, RUN(TERMITE_IOC_EXIT, &e, NULL));
	EXPECT_EQ(0, send_val(fd, self->a, self->b, 7));
	EXPECT_EQ(8, tm_recv_msg(fd, self->b, &mb, 0));
}

/* SIGNAL through io_uring: an error signal, a dropped normal one, KILL. */
TEST_F(uring, signal)
{
	struct termite_exit e = {};
	int fd = self->fd;
	struct tm_msgbuf mb;

	e.actor = self->a;
	e.to = self->b;
	e.code = TERMITE_EXIT_ERROR + 4;
	e.buf = (unsigned long)"sig";
	e.len = 3;
	ASSERT_EQ(0, RUN(TERMITE_IOC_SIGNAL, &e, NULL));
	ASSERT_EQ(3, tm_recv_msg(fd, self->b, &mb, 0));
	EXPECT_EQ(TERMITE_MSG_SIGNAL, mb.hdr.flags);
	EXPECT_EQ(TERMITE_KIND_EXIT, mb.hdr.kind);
	EXPECT_EQ(self->a, mb.hdr.from);
	EXPECT_EQ(TERMITE_EXIT_ERROR + 4, mb.hdr.code);
	EXPECT_EQ(0, memcmp(mb.data, "sig", 3));
	/* A normal exit signal is dropped in mode DELIVER. */
	e.code = TERMITE_EXIT_NORMAL;
	e.len = 0;
	ASSERT_EQ(0, RUN(TERMITE_IOC_SIGNAL, &e, NULL));
	EXPECT_EQ(-EAGAIN, tm_recv_msg(fd, self->b, &mb, 0));
	/* KILL: b dies; its death notice, then it is gone. */
	e.code = TERMITE_EXIT_KILL;
	ASSERT_EQ(0, RUN(TERMITE_IOC_SIGNAL, &e, NULL));
	ASSERT_EQ(0, tm_recv_msg(fd, self->b, &mb, 0));
	EXPECT_EQ(TERMITE_MSG_DEAD, mb.hdr.flags);
	EXPECT_EQ(TERMITE_EXIT_KILLED, mb.hdr.code);
	EXPECT_EQ(-ENOENT, tm_recv_msg(fd, self->b, &mb, 0));
	/* To a dead or unknown actor. */
	EXPECT_EQ(-ESRCH, RUN(TERMITE_IOC_SIGNAL, &e, NULL));
	e.to = 0x1234;
	EXPECT_EQ(-ESRCH, RUN(TERMITE_IOC_SIGNAL, &e, NULL));
	e.to = 0;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SIGNAL, &e, NULL));
}

static void name_init(struct termite_name *n, __u64 actor, const char *s)
{
	memset(n, 0, sizeof(*n));
	n->actor = actor;
	snprintf(n->name, sizeof(n->name), "%s", s);
}

/* REGISTER, WHEREIS (id in big_cqe[0]) and UNREGISTER through io_uring. */
TEST_F(uring, names)
{
	struct termite_name n;
	char name[32];
	__u64 out = 0, id = 0;

	snprintf(name, sizeof(name), "uring-test-%d", getpid());
	name_init(&n, self->a, name);
	ASSERT_EQ(0, RUN(TERMITE_IOC_REGISTER, &n, NULL));
	ASSERT_EQ(0, tm_whereis(self->fd, name, &id));
	EXPECT_EQ(self->a, id);
	name_init(&n, 0, name);
	ASSERT_EQ(0, RUN(TERMITE_IOC_WHEREIS, &n, &out));
	EXPECT_EQ(self->a, out);
	/* Taken; and a has a name already. */
	name_init(&n, self->b, name);
	EXPECT_EQ(-EEXIST, RUN(TERMITE_IOC_REGISTER, &n, NULL));
	name_init(&n, self->a, "uring-test-other");
	EXPECT_EQ(-EBUSY, RUN(TERMITE_IOC_REGISTER, &n, NULL));
	/* UNREGISTER wants actor 0. */
	name_init(&n, self->a, name);
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_UNREGISTER, &n, NULL));
	name_init(&n, 0, name);
	ASSERT_EQ(0, RUN(TERMITE_IOC_UNREGISTER, &n, NULL));
	out = 1;
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_WHEREIS, &n, &out));
	EXPECT_EQ(-ENOENT, tm_whereis(self->fd, name, &id));
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_UNREGISTER, &n, NULL));
	/* Free again: b takes it. */
	name_init(&n, self->b, name);
	ASSERT_EQ(0, RUN(TERMITE_IOC_REGISTER, &n, NULL));
	name_init(&n, 0, name);
	ASSERT_EQ(0, RUN(TERMITE_IOC_WHEREIS, &n, &out));
	EXPECT_EQ(self->b, out);
	/* Bytes after the NUL must be zero. */
	n.name[sizeof(n.name) - 1] = 'x';
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_WHEREIS, &n, &out));
}

/* MAKE_TAG: a fresh tag in big_cqe[0]; a receive selects on it. */
TEST_F(uring, make_tag)
{
	struct termite_tag t = {};
	struct termite_recv r;
	struct tm_msgbuf mb;
	__u64 t1 = 0, t2 = 0;
	int fd = self->fd;

	ASSERT_EQ(0, RUN(TERMITE_IOC_MAKE_TAG, &t, &t1));
	t.actor = self->b;
	ASSERT_EQ(0, RUN(TERMITE_IOC_MAKE_TAG, &t, &t2));
	EXPECT_NE(0, t1);
	EXPECT_NE(0, t2);
	EXPECT_NE(t1, t2);
	/* A reply tagged t2 is found behind other messages. */
	ASSERT_EQ(0, send_val(fd, self->a, self->b, 1));
	ASSERT_EQ(0, tm_send(fd, self->a, self->b, t2, 1, "r", 1));
	tm_recv_init(&r, self->b, &mb, sizeof(mb), 0);
	r.flags = TERMITE_MATCH_TAG;
	r.tag = t2;
	ASSERT_EQ(1, RUN(TERMITE_IOC_RECV, &r, NULL));
	EXPECT_EQ(t2, mb.hdr.tag);
	/* Not the port's actor. */
	t.actor = 0x1234;
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_MAKE_TAG, &t, &t1));
	t.actor = 0;
	t.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_MAKE_TAG, &t, &t1));
}

/* SETOPT: the old value in big_cqe[0], and the new mode takes effect. */
TEST_F(uring, setopt)
{
	struct termite_setopt o = { .actor = self->b, .opt = TERMITE_OPT_MODE };
	int fd = self->fd;
	__u64 x = tm_spawn(fd), old = 99;
	struct tm_msgbuf mb;

	o.value = TERMITE_MODE_TRAP;
	ASSERT_EQ(0, RUN(TERMITE_IOC_SETOPT, &o, &old));
	EXPECT_EQ(TERMITE_MODE_DELIVER, old);
	/* Trapping: a normal exit arrives as an ordinary EXIT message. */
	ASSERT_EQ(0, tm_link(fd, self->b, x, TERMITE_LINK_BOTH));
	ASSERT_EQ(0, tm_exit(fd, x, TERMITE_EXIT_NORMAL, NULL, 0));
	ASSERT_EQ(0, tm_recv_msg(fd, self->b, &mb, 0));
	EXPECT_EQ(TERMITE_KIND_EXIT, mb.hdr.kind);
	EXPECT_EQ(0, mb.hdr.flags);
	EXPECT_EQ(x, mb.hdr.from);
	EXPECT_EQ(TERMITE_EXIT_NORMAL, mb.hdr.code);
	o.value = TERMITE_MODE_DIE;
	ASSERT_EQ(0, RUN(TERMITE_IOC_SETOPT, &o, &old));
	EXPECT_EQ(TERMITE_MODE_TRAP, old);
	o.value = TERMITE_MODE_DELIVER;
	ASSERT_EQ(0, RUN(TERMITE_IOC_SETOPT, &o, &old));
	EXPECT_EQ(TERMITE_MODE_DIE, old);
	ASSERT_EQ(0, tm_setopt(fd, self->b, TERMITE_OPT_MODE,
			       TERMITE_MODE_DELIVER, &old));
	EXPECT_EQ(TERMITE_MODE_DELIVER, old);
	o.value = TERMITE_MODE_DIE + 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SETOPT, &o, &old));
	o.value = TERMITE_MODE_DIE;
	o.opt = TERMITE_OPT_MODE + 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SETOPT, &o, &old));
	o.opt = TERMITE_OPT_MODE;
	o.actor = x;
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_SETOPT, &o, &old));
}

/* READY: the count in big_cqe[0], the ids in the user's array. */
TEST_F(uring, ready)
{
	struct termite_ready rd = {};
	int fd = self->fd;
	__u64 c = tm_spawn(fd), ids[8], want[3], out = 0;
	int i;

	/* Nothing is ready yet (spawning makes no news). */
	rd.ids = (unsigned long)ids;
	rd.count = 8;
	ASSERT_EQ(0, RUN(TERMITE_IOC_READY, &rd, &out));
	EXPECT_EQ(0, out);
	want[0] = self->a;
	want[1] = self->b;
	want[2] = c;
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, send_val(fd, self->a, want[i], i));
	/* A second message makes no second entry. */
	ASSERT_EQ(0, send_val(fd, self->a, self->b, 9));
	memset(ids, 0, sizeof(ids));
	ASSERT_EQ(0, RUN(TERMITE_IOC_READY, &rd, &out));
	ASSERT_EQ(3, out);
	qsort(ids, 3, sizeof(ids[0]), cmp_u64);
	qsort(want, 3, sizeof(want[0]), cmp_u64);
	EXPECT_EQ(0, memcmp(ids, want, sizeof(want)));
	EXPECT_EQ(0, ids[3]);
	/* Reported once. */
	ASSERT_EQ(0, RUN(TERMITE_IOC_READY, &rd, &out));
	EXPECT_EQ(0, out);
	/* A fault loses no readiness. */
	ASSERT_EQ(0, send_val(fd, self->a, c, 5));
	rd.ids = (unsigned long)unmapped_page();
	EXPECT_EQ(-EFAULT, RUN(TERMITE_IOC_READY, &rd, &out));
	rd.ids = (unsigned long)ids;
	rd.count = 1;
	ASSERT_EQ(0, RUN(TERMITE_IOC_READY, &rd, &out));
	EXPECT_EQ(1, out);
	EXPECT_EQ(c, ids[0]);
	rd.count = 0;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_READY, &rd, &out));
	rd.count = 8;
	rd.flags = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_READY, &rd, &out));
}

/*
 * SEND_BATCH: in order; the number queued in big_cqe[0]; res is that
 * number if all were sent, else the error of the entry that stopped it.
 */
TEST_F(uring, send_batch)
{
	enum { N = 64 };
	struct termite_send s[N];
	struct termite_batch bt = {};
	struct tm_msgbuf mb;
	__u64 vals[N], out = ~0ULL;
	int i;

	for (i = 0; i < N; i++) {
		vals[i] = i;
		memset(&s[i], 0, sizeof(s[i]));
		s[i].from = self->a;
		s[i].to = i % 2 ? self->a : self->b;
		s[i].tag = i;
		s[i].kind = 3;
		s[i].buf = (unsigned long)&vals[i];
		s[i].len = sizeof(vals[i]);
	}
	bt.sends = (unsigned long)s;
	bt.count = N;
	ASSERT_EQ(N, RUN(TERMITE_IOC_SEND_BATCH, &bt, &out));
	EXPECT_EQ(N, out);
	for (i = 0; i < N; i++) {
		ASSERT_EQ(8, tm_recv_msg(self->fd, i % 2 ? self->a : self->b,
					 &mb, 0));
		EXPECT_EQ((__u64)i, mb.hdr.tag);
		EXPECT_EQ((__u64)i, val_of(&mb));
		EXPECT_EQ(3, mb.hdr.kind);
	}
	EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->a, &mb, 0));
	EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->b, &mb, 0));
	/* The third entry fails: two are sent, and we learn why. */
	s[2].to = 0x1234;
	bt.count = 4;
	ASSERT_EQ(-ESRCH, RUN(TERMITE_IOC_SEND_BATCH, &bt, &out));
	EXPECT_EQ(2, out);
	ASSERT_EQ(8, tm_recv_msg(self->fd, self->b, &mb, 0));
	EXPECT_EQ(0, mb.hdr.tag);
	ASSERT_EQ(8, tm_recv_msg(self->fd, self->a, &mb, 0));
	EXPECT_EQ(1, mb.hdr.tag);
	EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->b, &mb, 0));
	/* A failing first entry gives its error. */
	bt.sends = (unsigned long)&s[2];
	EXPECT_EQ(-ESRCH, RUN(TERMITE_IOC_SEND_BATCH, &bt, &out));
	EXPECT_EQ(0, out);
	bt.count = 0;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SEND_BATCH, &bt, NULL));
	bt.count = TERMITE_BATCH_MAX + 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SEND_BATCH, &bt, NULL));
	bt.count = 1;
	bt.sends = (unsigned long)unmapped_page();
	EXPECT_EQ(-EFAULT, RUN(TERMITE_IOC_SEND_BATCH, &bt, NULL));
}

TEST_F(uring, spawn_batch)
{
	struct termite_spawn_batch sb = {};
	__u64 ids[8] = {}, out = ~0ULL;
	long before = fdinfo_actors(self->fd);
	int i;

	sb.ids = (unsigned long)ids;
	sb.count = 8;
	ASSERT_EQ(0, RUN(TERMITE_IOC_SPAWN_BATCH, &sb, &out));
	EXPECT_EQ(8, out);
	EXPECT_EQ(before + 8, fdinfo_actors(self->fd));
	for (i = 0; i < 8; i++) {
		EXPECT_NE(0ULL, ids[i]);
		EXPECT_EQ(0, send_val(self->fd, self->a, ids[i], i));
	}
	sb.count = 0;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SPAWN_BATCH, &sb, NULL));
	sb.count = 2;
	sb.ids = (unsigned long)unmapped_page();
	EXPECT_EQ(-EFAULT, RUN(TERMITE_IOC_SPAWN_BATCH, &sb, NULL));
	EXPECT_EQ(before + 8, fdinfo_actors(self->fd));
}

/* ---- error paths -------------------------------------------------------- */

/* One command in a 64-byte SQE, whose command area has room for 16 bytes. */
static int run64(struct io_uring *ring, int fd, __u32 op, const void *arg,
		 size_t size)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	memcpy(sqe->cmd, arg, size < 16 ? size : 16);
	if (io_uring_submit(ring) != 1)
		return -EIO;
	return reap(ring, NULL, NULL);
}

/* Rings with 64-byte SQEs cannot carry the structs: -EINVAL, no effect. */
TEST(ring_without_sqe128)
{
	static const unsigned int setups[] = { 0, IORING_SETUP_CQE32 };
	struct termite_version v = {};
	struct termite_spawn sp = {};
	struct termite_send s = {};
	struct termite_recv r;
	struct io_uring ring;
	struct tm_msgbuf mb;
	__u64 val = 1;
	int fd = tm_open();
	__u64 a = tm_spawn(fd), b = tm_spawn(fd);
	unsigned int i;

	ASSERT_LE(0, fd);
	s.from = a;
	s.to = b;
	s.buf = (unsigned long)&val;
	s.len = sizeof(val);
	for (i = 0; i < ARRAY_SIZE(setups); i++) {
		ASSERT_EQ(0, io_uring_queue_init(8, &ring, setups[i]));
		ASSERT_EQ(0, send_val(fd, a, b, 77));
		tm_recv_init(&r, b, &mb, sizeof(mb), TM_FOREVER);
		EXPECT_EQ(-EINVAL, run64(&ring, fd, TERMITE_IOC_RECV, &r,
					 sizeof(r)));
		EXPECT_EQ(-EINVAL, run64(&ring, fd, TERMITE_IOC_SEND, &s,
					 sizeof(s)));
		EXPECT_EQ(-EINVAL, run64(&ring, fd, TERMITE_IOC_VERSION, &v,
					 sizeof(v)));
		EXPECT_EQ(-EINVAL, run64(&ring, fd, TERMITE_IOC_SPAWN, &sp,
					 sizeof(sp)));
		EXPECT_EQ(2, fdinfo_actors(fd));
		/* Unknown commands are unknown whatever the ring. */
		EXPECT_EQ(-ENOTTY, run64(&ring, fd, _IOW(TERMITE_IOC_MAGIC,
					 0x7f, __u64), &val, sizeof(val)));
		/* The RECV took nothing and the SEND sent nothing. */
		ASSERT_EQ(8, tm_recv_msg(fd, b, &mb, 0));
		EXPECT_EQ(77, mb.hdr.tag);
		EXPECT_EQ(-EAGAIN, tm_recv_msg(fd, b, &mb, 0));
		io_uring_queue_exit(&ring);
	}
	close(fd);
}

/*
 * A ring with SQE128 but not CQE32 has nowhere for a 64-bit result: every
 * _IOR/_IOWR operation fails with -EINVAL and does nothing, while the
 * others work.
 */
TEST_F(uring, ring_without_cqe32)
{
	struct termite_version v = {};
	struct termite_spawn sp = {};
	struct termite_monitor m = { .actor = self->a };
	struct termite_name n;
	struct termite_tag t = {};
	struct termite_setopt o = { .actor = self->b, .opt = TERMITE_OPT_MODE,
				    .value = TERMITE_MODE_TRAP };
	struct termite_ready rd = {};
	struct termite_send s = {};
	struct termite_recv r;
	struct io_uring ring;
	struct tm_msgbuf mb;
	int fd = self->fd;
	__u64 x = tm_spawn(fd), ids[4], old, val = 5;
	__u32 cnt = 4;
	char name[32];

	ASSERT_EQ(0, io_uring_queue_init(8, &ring, IORING_SETUP_SQE128));
	snprintf(name, sizeof(name), "uring-cqe-%d", getpid());
	ASSERT_EQ(0, tm_register(fd, x, name));
	name_init(&n, 0, name);
	rd.ids = (unsigned long)ids;
	rd.count = 4;
	m.peer = x;
	ASSERT_EQ(0, send_val(fd, self->a, self->b, 1));

	EXPECT_EQ(-EINVAL, run(&ring, fd, TERMITE_IOC_VERSION, &v, sizeof(v),
			       NULL));
	EXPECT_EQ(-EINVAL, run(&ring, fd, TERMITE_IOC_SPAWN, &sp, sizeof(sp),
			       NULL));
	EXPECT_EQ(-EINVAL, run(&ring, fd, TERMITE_IOC_MONITOR, &m, sizeof(m),
			       NULL));
	EXPECT_EQ(-EINVAL, run(&ring, fd, TERMITE_IOC_WHEREIS, &n, sizeof(n),
			       NULL));
	EXPECT_EQ(-EINVAL, run(&ring, fd, TERMITE_IOC_MAKE_TAG, &t, sizeof(t),
			       NULL));
	EXPECT_EQ(-EINVAL, run(&ring, fd, TERMITE_IOC_SETOPT, &o, sizeof(o),
			       NULL));
	EXPECT_EQ(-EINVAL, run(&ring, fd, TERMITE_IOC_READY, &rd, sizeof(rd),
			       NULL));
	/* None of them did anything. */
	EXPECT_EQ(3, fdinfo_actors(fd));
	ASSERT_EQ(0, tm_setopt(fd, self->b, TERMITE_OPT_MODE,
			       TERMITE_MODE_DELIVER, &old));
	EXPECT_EQ(TERMITE_MODE_DELIVER, old);
	ASSERT_EQ(0, tm_ready(fd, ids, &cnt));
	ASSERT_EQ(1, cnt);
	EXPECT_EQ(self->b, ids[0]);

	/* _IOW operations work: SEND, RECV inline and parked, EXIT. */
	s.from = self->a;
	s.to = self->b;
	s.tag = 2;
	s.buf = (unsigned long)&val;
	s.len = sizeof(val);
	/* ... but SEND_BATCH, whose count goes to big_cqe[0], does not. */
	{
		struct termite_batch bt = {
			.sends = (unsigned long)&s,
			.count = 1,
		};

		EXPECT_EQ(-EINVAL, run(&ring, fd, TERMITE_IOC_SEND_BATCH, &bt,
				       sizeof(bt), NULL));
	}
	EXPECT_EQ(0, run(&ring, fd, TERMITE_IOC_SEND, &s, sizeof(s), NULL));
	tm_recv_init(&r, self->b, &mb, sizeof(mb), TM_FOREVER);
	ASSERT_EQ(8, run(&ring, fd, TERMITE_IOC_RECV, &r, sizeof(r), NULL));
	EXPECT_EQ(1, mb.hdr.tag);
	ASSERT_EQ(8, run(&ring, fd, TERMITE_IOC_RECV, &r, sizeof(r), NULL));
	EXPECT_EQ(2, mb.hdr.tag);
	EXPECT_EQ(5, val_of(&mb));
	ASSERT_EQ(1, park(&ring, fd, self->b, &mb));
	EXPECT_FALSE(cqe_within(&ring, QUIET_MS));
	ASSERT_EQ(0, send_val(fd, self->a, self->b, 3));
	ASSERT_EQ(8, reap(&ring, NULL, NULL));
	EXPECT_EQ(3, mb.hdr.tag);
	/* The monitor was never made: x's death tells a nothing. */
	ASSERT_EQ(0, tm_exit(fd, x, TERMITE_EXIT_ERROR, NULL, 0));
	EXPECT_EQ(-EAGAIN, tm_recv_msg(fd, self->a, &mb, 0));
	io_uring_queue_exit(&ring);
}

/* A cmd_op the module does not know, a known nr included: -ENOTTY. */
TEST_F(uring, unknown_cmd_op)
{
	const __u32 ops[] = {
		_IOW(TERMITE_IOC_MAGIC, 0x02, struct termite_recv),
		_IOW(TERMITE_IOC_MAGIC, 0x02, __u64),
		_IOR(TERMITE_IOC_MAGIC, 0x02, struct termite_send),
		_IOWR(TERMITE_IOC_MAGIC, 0x02, struct termite_send),
		_IO(TERMITE_IOC_MAGIC, 0x02),
		_IOWR(TERMITE_IOC_MAGIC, 0x03, struct termite_recv),
		_IOW(TERMITE_IOC_MAGIC, 0x11, struct termite_send),
		_IOW(TERMITE_IOC_MAGIC, 0xff, struct termite_send),
		_IOW(TERMITE_IOC_MAGIC + 1, 0x02, struct termite_send),
		_IOR(TERMITE_IOC_MAGIC, 0x00, struct termite_spawn),
		0,
		~0u,
	};
	struct termite_send s = {};
	struct tm_msgbuf mb;
	__u64 val = 1, out = 0;
	unsigned int i;

	s.from = self->a;
	s.to = self->b;
	s.buf = (unsigned long)&val;
	s.len = sizeof(val);
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		__u32 op = ops[i];

		EXPECT_EQ(-ENOTTY, run(&self->ring, self->fd, op, &s,
				       sizeof(s), &out))
			TH_LOG("cmd_op %#x", op);
	}
	/* Nothing was sent. */
	EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->b, &mb, 0));
	/* The right one is known. */
	EXPECT_EQ(0, RUN(TERMITE_IOC_SEND, &s, NULL));
}

/* Reserved fields and unknown flags: -EINVAL, and nothing happens. */
TEST_F(uring, reserved_and_flags)
{
	struct termite_send s, s0 = { .from = self->a, .to = self->b };
	struct termite_recv r, r0;
	struct termite_spawn sp;
	struct termite_link l, l0 = { .actor = self->a, .peer = self->b,
				      .flags = TERMITE_LINK_BOTH };
	struct termite_monitor m;
	struct termite_setopt o;
	struct termite_name n;
	struct termite_exit e;
	struct termite_batch bt;
	struct tm_msgbuf mb;
	__u64 val = 1, out;
	long nact = fdinfo_actors(self->fd);

	s0.buf = (unsigned long)&val;
	s0.len = sizeof(val);
	s = s0; s.reserved0 = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SEND, &s, NULL));
	s = s0; s.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SEND, &s, NULL));
	s = s0; s.flags = TERMITE_SEND_FLAGS + 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SEND, &s, NULL));
	s = s0; s.kind = TERMITE_KIND_DOWN;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SEND, &s, NULL));
	s = s0; s.to = 0;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SEND, &s, NULL));

	/* Bad receives fail at once, even those that would wait forever. */
	tm_recv_init(&r0, self->b, &mb, sizeof(mb), TM_FOREVER);
	r = r0; r.flags = TERMITE_RECV_FLAGS + 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_RECV, &r, NULL));
	r = r0; r.reserved0 = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_RECV, &r, NULL));
	r = r0; r.flags = TERMITE_RECV_AFTER | TERMITE_RECV_SEQ;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_RECV, &r, NULL));
	r = r0; r.buf_len = sizeof(struct termite_msghdr) - 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_RECV, &r, NULL));
	/* RECV_SEQ of a message that is not there: -ENOMSG, not parked. */
	r = r0; r.flags = TERMITE_RECV_SEQ; r.cursor = 5;
	EXPECT_EQ(-ENOMSG, RUN(TERMITE_IOC_RECV, &r, NULL));

	memset(&sp, 0, sizeof(sp)); sp.flags = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SPAWN, &sp, &out));
	memset(&sp, 0, sizeof(sp)); sp.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SPAWN, &sp, &out));
	EXPECT_EQ(nact, fdinfo_actors(self->fd));

	l = l0; l.flags = 0;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_LINK, &l, NULL));
	l = l0; l.flags = TERMITE_LINK_BOTH + 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_LINK, &l, NULL));
	l = l0; l.reserved0 = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_UNLINK, &l, NULL));
	l = l0; l.peer = self->a;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_LINK, &l, NULL));

	memset(&m, 0, sizeof(m));
	m.actor = self->a;
	m.peer = self->b;
	m.flags = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_MONITOR, &m, &out));
	m.flags = 0;
	m.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_MONITOR, &m, &out));
	memset(&m, 0, sizeof(m));
	m.actor = self->a;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_DEMONITOR, &m, NULL));

	memset(&o, 0, sizeof(o));
	o.actor = self->a;
	o.opt = TERMITE_OPT_MODE;
	o.reserved0 = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SETOPT, &o, &out));

	name_init(&n, self->a, "uring-reserved");
	n.reserved = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_REGISTER, &n, NULL));
	name_init(&n, self->a, "");
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_REGISTER, &n, NULL));

	memset(&e, 0, sizeof(e));
	e.actor = self->a;
	e.code = TERMITE_EXIT_ERROR;
	e.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_EXIT, &e, NULL));

	memset(&bt, 0, sizeof(bt));
	bt.sends = (unsigned long)&s0;
	bt.count = 1;
	bt.flags = 1;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_SEND_BATCH, &bt, NULL));

	/* Nothing of it took effect: no message, a and b alive, unlinked. */
	EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->b, &mb, 0));
	ASSERT_EQ(0, tm_exit(self->fd, self->b, TERMITE_EXIT_ERROR, NULL, 0));
	EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->a, &mb, 0));
}

/* Ids the port does not own: -ENOENT (or -ESRCH for a send's target). */
TEST_F(uring, bad_ids)
{
	int fd2 = tm_open();
	__u64 x = tm_spawn(fd2), out;
	struct termite_send s = { .from = x, .to = self->b };
	struct termite_recv r;
	struct termite_link l = { .actor = x, .peer = self->a,
				  .flags = TERMITE_LINK_BOTH };
	struct termite_monitor m = { .actor = x, .peer = self->a };
	struct termite_exit e = { .actor = x, .code = TERMITE_EXIT_ERROR };
	struct termite_setopt o = { .actor = x, .opt = TERMITE_OPT_MODE };
	struct termite_tag t = { .actor = x };
	struct termite_name n;
	struct tm_msgbuf mb;

	ASSERT_LE(0, fd2);
	ASSERT_NE(0, x);
	ASSERT_EQ(0, send_val(fd2, x, x, 9));
	/* x's message is not ours to receive, at once or parked. */
	tm_recv_init(&r, x, &mb, sizeof(mb), 0);
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_RECV, &r, NULL));
	r.timeout_ns = TM_FOREVER;
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_RECV, &r, NULL));
	r.actor = 0x1234;
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_RECV, &r, NULL));
	r.actor = 0;
	EXPECT_EQ(-EINVAL, RUN(TERMITE_IOC_RECV, &r, NULL));

	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_SEND, &s, NULL));
	s.from = self->a;
	s.to = 0x1234;
	EXPECT_EQ(-ESRCH, RUN(TERMITE_IOC_SEND, &s, NULL));
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_LINK, &l, NULL));
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_MONITOR, &m, &out));
	e.to = self->a;
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_SIGNAL, &e, NULL));
	e.to = 0;
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_EXIT, &e, NULL));
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_SETOPT, &o, &out));
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_MAKE_TAG, &t, &out));
	name_init(&n, x, "uring-bad-ids");
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_REGISTER, &n, NULL));
	/* x is untouched: its message is still there, for its own port. */
	ASSERT_EQ(8, tm_recv_msg(fd2, x, &mb, 0));
	EXPECT_EQ(9, mb.hdr.tag);

	/* A killed actor whose notice is pending: -EOWNERDEAD. */
	ASSERT_EQ(0, tm_signal(fd2, x, self->b, TERMITE_EXIT_KILL, NULL, 0));
	s.from = self->b;
	s.to = self->a;
	EXPECT_EQ(-EOWNERDEAD, RUN(TERMITE_IOC_SEND, &s, NULL));
	tm_recv_init(&r, self->b, &mb, sizeof(mb), TM_FOREVER);
	ASSERT_EQ(0, RUN(TERMITE_IOC_RECV, &r, NULL));
	EXPECT_EQ(TERMITE_MSG_DEAD, mb.hdr.flags);
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_RECV, &r, NULL));
	close(fd2);
}

/* An inline receive into unmapped memory: -EFAULT, and nothing lost. */
TEST_F(uring, recv_efault_inline)
{
	struct termite_recv r;
	struct tm_msgbuf mb;

	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 5));
	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 6));
	tm_recv_init(&r, self->b, unmapped_page(), sizeof(mb), TM_FOREVER);
	EXPECT_EQ(-EFAULT, RUN(TERMITE_IOC_RECV, &r, NULL));
	r.timeout_ns = 0;
	EXPECT_EQ(-EFAULT, RUN(TERMITE_IOC_RECV, &r, NULL));
	/* Too small for the payload: -EMSGSIZE, the header says how much. */
	memset(&mb, 0, sizeof(mb));
	tm_recv_init(&r, self->b, &mb, sizeof(mb.hdr), TM_FOREVER);
	EXPECT_EQ(-EMSGSIZE, RUN(TERMITE_IOC_RECV, &r, NULL));
	EXPECT_EQ(8, mb.hdr.len);
	EXPECT_EQ(5, mb.hdr.tag);
	/* Both messages are still there, in order. */
	tm_recv_init(&r, self->b, &mb, sizeof(mb), 0);
	ASSERT_EQ(8, RUN(TERMITE_IOC_RECV, &r, NULL));
	EXPECT_EQ(5, val_of(&mb));
	ASSERT_EQ(8, RUN(TERMITE_IOC_RECV, &r, NULL));
	EXPECT_EQ(6, val_of(&mb));
	EXPECT_EQ(-EAGAIN, RUN(TERMITE_IOC_RECV, &r, NULL));
}

/*
 * A parked receive whose buffer goes away before the message comes:
 * completed with -EFAULT when the copy faults, the message left queued.
 */
TEST_F(uring, recv_efault_parked)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct tm_msgbuf *buf, mb;
	struct termite_recv r;

	buf = mmap(NULL, pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	tm_recv_init(&r, self->b, buf, sizeof(*buf), TM_FOREVER);
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			       sizeof(r), 3, 0));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(0, munmap(buf, pg));
	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 8));
	EXPECT_EQ(-EFAULT, reap(&self->ring, NULL, NULL));
	/* The message is still there, for a receive with a good buffer. */
	ASSERT_EQ(8, tm_recv_msg(self->fd, self->b, &mb, 0));
	EXPECT_EQ(8, mb.hdr.tag);
	EXPECT_EQ(8, val_of(&mb));
	/* And parking works as before. */
	ASSERT_EQ(1, park(&self->ring, self->fd, self->b, &mb));
	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 9));
	ASSERT_EQ(8, reap(&self->ring, NULL, NULL));
	EXPECT_EQ(9, val_of(&mb));
}

/* A send whose payload cannot be read: -EFAULT, nothing queued. */
TEST_F(uring, send_efault)
{
	struct termite_send s = { .from = self->a, .to = self->b, .len = 8 };
	struct tm_msgbuf mb;

	s.buf = (unsigned long)unmapped_page();
	EXPECT_EQ(-EFAULT, RUN(TERMITE_IOC_SEND, &s, NULL));
	s.flags = TERMITE_SEND_BLOCK;
	s.timeout_ns = TM_FOREVER;
	EXPECT_EQ(-EFAULT, RUN(TERMITE_IOC_SEND, &s, NULL));
	EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->b, &mb, 0));
}

/* ---- parked receives ---------------------------------------------------- */

TEST_F(uring, parked_recv_completes_on_send)
{
	struct termite_recv r = {};
	struct tm_msgbuf mb;
	char msg[] = "later";
	__u64 ud = 0;

	r.actor = self->b;
	r.buf = (unsigned long)&mb;
	r.buf_len = sizeof(mb);
	r.timeout_ns = TM_FOREVER;
	ASSERT_NE(NULL, prep(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			     sizeof(r), 7));
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	EXPECT_FALSE(cqe_within(&self->ring, 100));
	ASSERT_EQ(0, tm_send(self->fd, self->a, self->b, 9, 0, msg,
			     sizeof(msg)));
	ASSERT_EQ(sizeof(msg), reap(&self->ring, NULL, &ud));
	EXPECT_EQ(7, ud);
	EXPECT_EQ(9, mb.hdr.tag);
	EXPECT_EQ(self->a, mb.hdr.from);
	EXPECT_EQ(0, memcmp(mb.data, msg, sizeof(msg)));
	/* Taken off the mailbox. */
	EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->b, &mb, 0));
}

TEST_F(uring, parked_recv_times_out)
{
	struct termite_recv r = {};
	struct tm_msgbuf mb;
	__s64 t0 = tm_now_ns();

	r.actor = self->b;
	r.buf = (unsigned long)&mb;
	r.buf_len = sizeof(mb);
	r.timeout_ns = TM_MS(50);
	ASSERT_EQ(-ETIMEDOUT, RUN(TERMITE_IOC_RECV, &r, NULL));
	EXPECT_LE(TM_MS(50), tm_now_ns() - t0);
	r.timeout_ns = 0;
	ASSERT_EQ(-EAGAIN, RUN(TERMITE_IOC_RECV, &r, NULL));
	/* A bounded receive that gets its message in time. */
	r.timeout_ns = TM_MS(WAIT_MS);
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			       sizeof(r), 1, 0));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 4));
	ASSERT_EQ(8, reap(&self->ring, NULL, NULL));
	EXPECT_EQ(4, val_of(&mb));
}

/*
 * A selective receive stays parked while messages it does not want come
 * in, takes the one it wants, and leaves the others queued in order.
 */
TEST_F(uring, parked_selective)
{
	struct termite_recv r;
	struct tm_msgbuf mb;
	int i;

	tm_recv_init(&r, self->b, &mb, sizeof(mb), TM_FOREVER);
	r.flags = TERMITE_MATCH_TAG;
	r.tag = 5;
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			       sizeof(r), 1, 0));
	for (i = 1; i <= 3; i++) {
		ASSERT_EQ(0, send_val(self->fd, self->a, self->b, i));
		EXPECT_FALSE(cqe_within(&self->ring, 50)) TH_LOG("tag %d", i);
	}
	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 5));
	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 4));
	ASSERT_EQ(8, reap(&self->ring, NULL, NULL));
	EXPECT_EQ(5, mb.hdr.tag);
	EXPECT_EQ(5, val_of(&mb));
	EXPECT_EQ(4, mb.hdr.seq);
	for (i = 1; i <= 4; i++) {
		ASSERT_EQ(8, tm_recv_msg(self->fd, self->b, &mb, 0));
		EXPECT_EQ((__u64)i, mb.hdr.tag);
	}
	EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->b, &mb, 0));

	/* Selecting on the sender, with messages already queued. */
	ASSERT_EQ(0, send_val(self->fd, self->b, self->b, 10));
	tm_recv_init(&r, self->b, &mb, sizeof(mb), TM_FOREVER);
	r.flags = TERMITE_MATCH_FROM;
	r.from = self->a;
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			       sizeof(r), 1, 0));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 11));
	ASSERT_EQ(8, reap(&self->ring, NULL, NULL));
	EXPECT_EQ(11, mb.hdr.tag);
	ASSERT_EQ(8, tm_recv_msg(self->fd, self->b, &mb, 0));
	EXPECT_EQ(10, mb.hdr.tag);
}

/* Woken by an exit signal (mode DELIVER): TERMITE_MSG_SIGNAL. */
TEST_F(uring, parked_woken_by_exit_signal)
{
	__u64 p = tm_spawn(self->fd);
	struct tm_msgbuf mb;

	ASSERT_EQ(0, tm_link(self->fd, self->b, p, TERMITE_LINK_BOTH));
	ASSERT_EQ(1, park(&self->ring, self->fd, self->b, &mb));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(0, tm_exit(self->fd, p, TERMITE_EXIT_ERROR + 5, "bye", 3));
	ASSERT_EQ(3, reap(&self->ring, NULL, NULL));
	EXPECT_EQ(TERMITE_MSG_SIGNAL, mb.hdr.flags);
	EXPECT_EQ(TERMITE_KIND_EXIT, mb.hdr.kind);
	EXPECT_EQ(p, mb.hdr.from);
	EXPECT_EQ(TERMITE_EXIT_ERROR + 5, mb.hdr.code);
	EXPECT_EQ(0, memcmp(mb.data, "bye", 3));
	/* A signal comes first even for a selective receive. */
	ASSERT_EQ(0, tm_signal(self->fd, self->a, self->b,
			       TERMITE_EXIT_ERROR + 6, NULL, 0));
	{
		struct termite_recv r;

		tm_recv_init(&r, self->b, &mb, sizeof(mb), TM_FOREVER);
		r.flags = TERMITE_MATCH_TAG;
		r.tag = 12345;
		ASSERT_EQ(0, RUN(TERMITE_IOC_RECV, &r, NULL));
		EXPECT_EQ(TERMITE_MSG_SIGNAL, mb.hdr.flags);
		EXPECT_EQ(TERMITE_EXIT_ERROR + 6, mb.hdr.code);
		EXPECT_EQ(self->a, mb.hdr.from);
	}
}

/* Woken by its actor being killed by another one: the death notice. */
TEST_F(uring, parked_woken_by_kill)
{
	int fd2 = tm_open();
	__u64 k = tm_spawn(fd2);
	struct tm_msgbuf mb;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(1, park(&self->ring, self->fd, self->b, &mb));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(0, tm_signal(fd2, k, self->b, TERMITE_EXIT_KILL, NULL, 0));
	ASSERT_EQ(0, reap(&self->ring, NULL, NULL));
	EXPECT_EQ(TERMITE_MSG_DEAD, mb.hdr.flags);
	EXPECT_EQ(TERMITE_KIND_EXIT, mb.hdr.kind);
	EXPECT_EQ(TERMITE_EXIT_KILLED, mb.hdr.code);
	EXPECT_EQ(self->b, mb.hdr.from);
	/* The notice was taken: b is forgotten. */
	EXPECT_EQ(-ENOENT, tm_recv_msg(self->fd, self->b, &mb, 0));
	EXPECT_EQ(-ESRCH, send_val(self->fd, self->a, self->b, 1));
	close(fd2);
}

/*
 * A zombie's death notice with its reason's payload through the ring:
 * inline (too small a buffer leaves it; PEEK takes it; then -ENOENT), and
 * parked, woken by the death of its actor in mode DIE.
 */
TEST_F(uring, zombie_notice_payload)
{
	static const char why[] = "died of a signal";
	int fd = self->fd;
	struct termite_recv r;
	struct tm_msgbuf mb;
	__u64 z = 0, z2 = 0;

	ASSERT_EQ(0, tm_spawn_mode(fd, TERMITE_MODE_DIE, &z));
	ASSERT_EQ(0, tm_spawn_mode(fd, TERMITE_MODE_DIE, &z2));
	ASSERT_EQ(0, tm_signal(fd, self->a, z, TERMITE_EXIT_ERROR + 7, why,
			       sizeof(why)));

	memset(&mb, 0, sizeof(mb));
	tm_recv_init(&r, z, &mb, sizeof(mb.hdr) + 2, 0);
	EXPECT_EQ(-EMSGSIZE, RUN(TERMITE_IOC_RECV, &r, NULL));
	EXPECT_EQ(sizeof(why), mb.hdr.len);
	EXPECT_EQ(TERMITE_MSG_DEAD, mb.hdr.flags);

	memset(&mb, 0, sizeof(mb));
	tm_recv_init(&r, z, &mb, sizeof(mb), 0);
	r.flags = TERMITE_RECV_PEEK;
	ASSERT_EQ((int)sizeof(why), RUN(TERMITE_IOC_RECV, &r, NULL));
	EXPECT_EQ(TERMITE_KIND_EXIT, mb.hdr.kind);
	EXPECT_EQ(TERMITE_MSG_DEAD, mb.hdr.flags);
	EXPECT_EQ(TERMITE_EXIT_ERROR + 7, mb.hdr.code);
	EXPECT_EQ(z, mb.hdr.from);
	EXPECT_EQ(0ULL, mb.hdr.seq);
	EXPECT_EQ(0U, mb.hdr.pid);
	EXPECT_EQ(0, memcmp(mb.data, why, sizeof(why)));
	EXPECT_EQ(-ENOENT, RUN(TERMITE_IOC_RECV, &r, NULL));

	memset(&mb, 0, sizeof(mb));
	ASSERT_EQ(1, park(&self->ring, fd, z2, &mb));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(0, tm_signal(fd, self->a, z2, TERMITE_EXIT_ERROR + 8, why,
			       sizeof(why)));
	ASSERT_EQ((int)sizeof(why), reap(&self->ring, NULL, NULL));
	EXPECT_EQ(TERMITE_KIND_EXIT, mb.hdr.kind);
	EXPECT_EQ(TERMITE_MSG_DEAD, mb.hdr.flags);
	EXPECT_EQ(TERMITE_EXIT_ERROR + 8, mb.hdr.code);
	EXPECT_EQ(z2, mb.hdr.from);
	EXPECT_EQ(0, memcmp(mb.data, why, sizeof(why)));
	EXPECT_EQ(-ENOENT, tm_recv_msg(fd, z2, &mb, 0));
	EXPECT_EQ(-ESRCH, send_val(fd, self->a, z2, 1));
}

/*
 * Woken by its actor's own EXIT, through an ioctl or through the same
 * ring: -ENOENT, as an ioctl receive gets.
 */
TEST_F(uring, parked_own_exit)
{
	struct termite_exit e = { .actor = self->a,
				  .code = TERMITE_EXIT_ERROR };
	struct tm_msgbuf mb, mb2;
	__u64 ud = 0;
	int res[3] = { 0, 0, 0 }, i;

	ASSERT_EQ(1, park_ud(&self->ring, self->fd, self->b, &mb, 1));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(0, tm_exit(self->fd, self->b, TERMITE_EXIT_NORMAL, NULL, 0));
	EXPECT_EQ(-ENOENT, reap(&self->ring, NULL, NULL));

	ASSERT_EQ(1, park_ud(&self->ring, self->fd, self->a, &mb2, 1));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_EXIT, &e,
			       sizeof(e), 2, 0));
	for (i = 0; i < 2; i++) {
		int r = reap(&self->ring, NULL, &ud);

		ASSERT_TRUE(ud == 1 || ud == 2);
		res[ud] = r;
	}
	EXPECT_EQ(-ENOENT, res[1]);
	EXPECT_EQ(0, res[2]);
	EXPECT_FALSE(cqe_within(&self->ring, 50));
}

/*
 * Reap one completion of receives parked with user_data 0..@n-1 into
 * @mb[]: a message, for a receive and of a value not seen before.
 */
static void reap_one_each(struct __test_metadata *_metadata,
			  struct io_uring *ring, struct tm_msgbuf *mb, int n,
			  bool *got_ud, bool *got_val)
{
	__u64 ud;

	ASSERT_EQ(8, reap(ring, NULL, &ud));
	ASSERT_LT(ud, (__u64)n);
	EXPECT_FALSE(got_ud[ud]);
	got_ud[ud] = true;
	ASSERT_LT(val_of(&mb[ud]), (__u64)n);
	EXPECT_FALSE(got_val[val_of(&mb[ud])]);
	got_val[val_of(&mb[ud])] = true;
}

/* Several receives parked on one actor: one message each, none lost. */
TEST_F(uring, parked_many_one_each)
{
	enum { N = 8 };
	struct tm_msgbuf mb[N];
	bool got_ud[N] = {}, got_val[N] = {};
	int i;

	for (i = 0; i < N; i++)
		ASSERT_EQ(1, park_ud(&self->ring, self->fd, self->b, &mb[i],
				     i));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	/* Half of them, one message at a time. */
	for (i = 0; i < N / 2; i++)
		ASSERT_EQ(0, send_val(self->fd, self->a, self->b, i));
	for (i = 0; i < N / 2; i++)
		reap_one_each(_metadata, &self->ring, mb, N, got_ud, got_val);
	/* The others stay parked. */
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	/* The rest in a burst from another port. */
	{
		int fd2 = tm_open();
		__u64 x = tm_spawn(fd2);

		ASSERT_LE(0, fd2);
		for (i = N / 2; i < N; i++)
			ASSERT_EQ(0, send_val(fd2, x, self->b, i));
		close(fd2);
	}
	for (i = 0; i < N / 2; i++)
		reap_one_each(_metadata, &self->ring, mb, N, got_ud, got_val);
	for (i = 0; i < N; i++) {
		EXPECT_TRUE(got_ud[i]);
		EXPECT_TRUE(got_val[i]);
	}
	EXPECT_FALSE(cqe_within(&self->ring, 50));
	EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->b, &mb[0], 0));
}

/*
 * A receive parked in this process is completed by a send from another
 * process.  That process holds the port too (it inherited the fd); its
 * close and exit cancel none of our receives.
 */
TEST_F(uring, parked_completed_by_other_process)
{
	struct tm_msgbuf mb1, mb2;
	__u64 ud = 0, c = 0;
	int pipefd[2], status;
	pid_t pid;

	ASSERT_EQ(1, park_ud(&self->ring, self->fd, self->b, &mb1, 1));
	ASSERT_EQ(1, park_ud(&self->ring, self->fd, self->b, &mb2, 2));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int cfd = tm_open();
		__u64 me = tm_spawn(cfd);

		if (cfd < 0 || !me || write(pipefd[1], &me, 8) != 8)
			_exit(1);
		if (send_val(cfd, me, self->b, 77))
			_exit(2);
		close(self->fd);
		_exit(0);
	}
	ASSERT_EQ(8, read(pipefd[0], &c, 8));
	status = wait_child(pid, WAIT_MS);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status %#x", status);
	ASSERT_EQ(8, reap(&self->ring, NULL, &ud));
	ASSERT_TRUE(ud == 1 || ud == 2);
	{
		struct tm_msgbuf *m = ud == 1 ? &mb1 : &mb2;

		EXPECT_EQ(77, m->hdr.tag);
		EXPECT_EQ(c, m->hdr.from);
		EXPECT_EQ((__u32)pid, m->hdr.pid);
	}
	/* The child closed the port and exited: the other is still parked. */
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 78));
	ASSERT_EQ(8, reap(&self->ring, NULL, NULL));
	EXPECT_EQ(78, (ud == 1 ? &mb2 : &mb1)->hdr.tag);
	close(pipefd[0]);
	close(pipefd[1]);
}

struct sender {
	int fd;
	__u64 from, to, val;
	long delay_ms;
	int ret;
};

static void *send_thread(void *arg)
{
	struct sender *s = arg;

	tm_sleep_ms(s->delay_ms);
	s->ret = send_val(s->fd, s->from, s->to, s->val);
	return NULL;
}

/* A receive parked by one thread, completed by a send from another. */
TEST_F(uring, parked_completed_by_thread)
{
	struct sender s = { self->fd, self->a, self->b, 31, 100, -1 };
	struct tm_msgbuf mb;
	pthread_t th;

	ASSERT_EQ(1, park(&self->ring, self->fd, self->b, &mb));
	ASSERT_EQ(0, pthread_create(&th, NULL, send_thread, &s));
	ASSERT_EQ(8, reap(&self->ring, NULL, NULL));
	pthread_join(th, NULL);
	EXPECT_EQ(0, s.ret);
	EXPECT_EQ(31, val_of(&mb));
	EXPECT_EQ((__u32)getpid(), mb.hdr.pid);
}

struct parker {
	struct io_uring *ring;
	int fd;
	__u64 actor;
	struct tm_msgbuf mb;
	int ret;
};

static void *park_thread(void *arg)
{
	struct parker *p = arg;

	p->ret = park_ud(p->ring, p->fd, p->actor, &p->mb, 9);
	return NULL;
}

/*
 * A receive parked by a thread that then exits: no task is left to copy
 * into its buffer, so it completes with -ECANCELED, and the message does
 * not go to it.  On 6.1 the monitor finds the exited submitter; on kernels
 * with cancelable commands io_uring cancels only for a whole process (or
 * the ring), so there it completes when the message wakes it.
 */
TEST_F(uring, parked_by_exiting_thread)
{
	struct parker p = { .ring = &self->ring, .fd = self->fd,
			    .actor = self->b };
	struct tm_msgbuf mb;
	pthread_t th;
	__u64 ud = 0;

	ASSERT_EQ(0, pthread_create(&th, NULL, park_thread, &p));
	pthread_join(th, NULL);
	ASSERT_EQ(1, p.ret);
	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 3));
	EXPECT_EQ(-ECANCELED, reap(&self->ring, NULL, &ud));
	EXPECT_EQ(9, ud);
	ASSERT_EQ(8, tm_recv_msg(self->fd, self->b, &mb, 0));
	EXPECT_EQ(3, val_of(&mb));
}

/* ---- kinds of rings ----------------------------------------------------- */

/* An SQPOLL ring: the kernel thread issues; results are the same. */
TEST(sqpoll_ring)
{
	struct io_uring_params p = { .flags = RING_FLAGS | IORING_SETUP_SQPOLL,
				     .sq_thread_idle = 50 };
	struct termite_spawn sp = {};
	struct termite_send s = {};
	struct termite_recv r;
	struct io_uring ring;
	struct tm_msgbuf mb;
	int fd = tm_open();
	__u64 a = tm_spawn(fd), id = 0, val = 41, ud = 0;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, io_uring_queue_init_params(8, &ring, &p));
	ASSERT_EQ(0, run(&ring, fd, TERMITE_IOC_SPAWN, &sp, sizeof(sp), &id));
	ASSERT_NE(0, id);
	s.from = a;
	s.to = id;
	s.tag = 1;
	s.buf = (unsigned long)&val;
	s.len = sizeof(val);
	ASSERT_EQ(0, run(&ring, fd, TERMITE_IOC_SEND, &s, sizeof(s), NULL));
	/* Inline. */
	tm_recv_init(&r, id, &mb, sizeof(mb), TM_FOREVER);
	ASSERT_EQ(8, run(&ring, fd, TERMITE_IOC_RECV, &r, sizeof(r), NULL));
	EXPECT_EQ(41, val_of(&mb));
	EXPECT_EQ(a, mb.hdr.from);
	/* Parked, completed by an ioctl send; after the thread went idle. */
	ASSERT_EQ(1, submit_ex(&ring, fd, TERMITE_IOC_RECV, &r, sizeof(r), 5,
			       0));
	EXPECT_FALSE(cqe_within(&ring, QUIET_MS));
	ASSERT_EQ(0, send_val(fd, a, id, 42));
	ASSERT_EQ(8, reap(&ring, NULL, &ud));
	EXPECT_EQ(5, ud);
	EXPECT_EQ(42, val_of(&mb));
	/* Parked, completed by a send through the ring itself. */
	ASSERT_EQ(1, submit_ex(&ring, fd, TERMITE_IOC_RECV, &r, sizeof(r), 6,
			       0));
	EXPECT_FALSE(cqe_within(&ring, QUIET_MS));
	val = 43;
	ASSERT_EQ(1, submit_ex(&ring, fd, TERMITE_IOC_SEND, &s, sizeof(s), 7,
			       0));
	{
		int res[2] = { NO_CQE, NO_CQE }, i, rr;

		for (i = 0; i < 2; i++) {
			rr = reap(&ring, NULL, &ud);
			ASSERT_TRUE(ud == 6 || ud == 7);
			res[ud - 6] = rr;
		}
		EXPECT_EQ(8, res[0]);
		EXPECT_EQ(0, res[1]);
	}
	EXPECT_EQ(43, val_of(&mb));
	/* Closing the port cancels what the ring's thread parked. */
	ASSERT_EQ(1, submit_ex(&ring, fd, TERMITE_IOC_RECV, &r, sizeof(r), 8,
			       0));
	EXPECT_FALSE(cqe_within(&ring, QUIET_MS));
	close(fd);
	EXPECT_EQ(-ECANCELED, reap(&ring, NULL, &ud));
	EXPECT_EQ(8, ud);
	io_uring_queue_exit(&ring);
}

/* Inits a SINGLE_ISSUER | DEFER_TASKRUN ring; 0, or -errno. */
static int defer_ring(struct io_uring *ring)
{
	return io_uring_queue_init(8, ring, RING_FLAGS |
				   IORING_SETUP_SINGLE_ISSUER |
				   IORING_SETUP_DEFER_TASKRUN);
}

/*
 * A DEFER_TASKRUN ring, whose task work runs only when its task waits
 * for completions: parked receives completed by sends from this thread
 * and another, and cancelled by closing the port.
 */
TEST(defer_taskrun_ring)
{
	struct io_uring ring;
	struct tm_msgbuf mb;
	int fd = tm_open(), ret;
	__u64 a = tm_spawn(fd), b = tm_spawn(fd), out = 0;
	struct sender s = { fd, a, b, 52, 100, -1 };
	struct termite_version v = {};
	pthread_t th;

	ASSERT_LE(0, fd);
	ret = defer_ring(&ring);
	if (ret == -EINVAL)
		SKIP(return, "no IORING_SETUP_DEFER_TASKRUN");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, run(&ring, fd, TERMITE_IOC_VERSION, &v, sizeof(v), &out));
	EXPECT_EQ((__u64)TERMITE_API_MAJOR << 32 | TERMITE_API_MINOR, out);
	ASSERT_EQ(1, park(&ring, fd, b, &mb));
	EXPECT_FALSE(cqe_within(&ring, QUIET_MS));
	ASSERT_EQ(0, send_val(fd, a, b, 51));
	ASSERT_EQ(8, reap(&ring, NULL, NULL));
	EXPECT_EQ(51, val_of(&mb));

	ASSERT_EQ(1, park(&ring, fd, b, &mb));
	ASSERT_EQ(0, pthread_create(&th, NULL, send_thread, &s));
	ASSERT_EQ(8, reap(&ring, NULL, NULL));
	pthread_join(th, NULL);
	EXPECT_EQ(0, s.ret);
	EXPECT_EQ(52, val_of(&mb));

	ASSERT_EQ(1, park(&ring, fd, b, &mb));
	EXPECT_FALSE(cqe_within(&ring, QUIET_MS));
	close(fd);
	EXPECT_EQ(-ECANCELED, reap(&ring, NULL, NULL));
	io_uring_queue_exit(&ring);
}

/*
 * IOSQE_ASYNC: the command is issued from an io-wq worker.  A receive so
 * issued parks and completes later (into this task's buffer), fails at
 * once with timeout 0, times out, and is cancelled by closing the port.
 */
TEST_F(uring, async_recv_parks)
{
	struct termite_recv r;
	struct termite_send s = { .from = self->a, .to = self->b, .len = 8 };
	struct tm_msgbuf mb;
	__u64 val = 61, ud = 0;

	s.buf = (unsigned long)&val;
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_SEND, &s,
			       sizeof(s), 1, IOSQE_ASYNC));
	ASSERT_EQ(0, reap(&self->ring, NULL, NULL));
	ASSERT_EQ(8, tm_recv_msg(self->fd, self->b, &mb, 0));
	EXPECT_EQ(61, val_of(&mb));

	tm_recv_init(&r, self->b, &mb, sizeof(mb), TM_FOREVER);
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			       sizeof(r), 3, IOSQE_ASYNC));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 62));
	ASSERT_EQ(8, reap(&self->ring, NULL, &ud));
	EXPECT_EQ(3, ud);
	EXPECT_EQ(62, val_of(&mb));

	r.timeout_ns = 0;
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			       sizeof(r), 4, IOSQE_ASYNC));
	EXPECT_EQ(-EAGAIN, reap(&self->ring, NULL, NULL));
	r.timeout_ns = TM_MS(30);
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			       sizeof(r), 4, IOSQE_ASYNC));
	EXPECT_EQ(-ETIMEDOUT, reap(&self->ring, NULL, NULL));
	/* Parked from io-wq, cancelled by closing the port. */
	r.timeout_ns = TM_FOREVER;
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			       sizeof(r), 5, IOSQE_ASYNC));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(-ECANCELED, reap(&self->ring, NULL, &ud));
	EXPECT_EQ(5, ud);
}

/*
 * A receive issued from io-wq that finds its message at once: the
 * payload length must reach the CQE like any other result.
 */
TEST_F(uring, async_recv_finds_message)
{
	struct termite_recv r;
	struct tm_msgbuf mb;
	__u64 ud = 0;

	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 63));
	tm_recv_init(&r, self->b, &mb, sizeof(mb), TM_FOREVER);
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			       sizeof(r), 2, IOSQE_ASYNC));
	EXPECT_EQ(8, reap(&self->ring, NULL, &ud))
		TH_LOG("no completion for a receive issued from io-wq");
	EXPECT_EQ(2, ud);
	EXPECT_EQ(63, val_of(&mb));
	EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->b, &mb, 0));
}

/* SEND_BATCH issued from io-wq: its count must reach the CQE. */
TEST_F(uring, async_send_batch)
{
	struct termite_send s[3];
	struct termite_batch bt = { .sends = (unsigned long)s, .count = 3 };
	struct tm_msgbuf mb;
	__u64 vals[3] = { 1, 2, 3 };
	int i;

	for (i = 0; i < 3; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].from = self->a;
		s[i].to = self->b;
		s[i].tag = vals[i];
		s[i].buf = (unsigned long)&vals[i];
		s[i].len = 8;
	}
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_SEND_BATCH,
			       &bt, sizeof(bt), 1, IOSQE_ASYNC));
	EXPECT_EQ(3, reap(&self->ring, NULL, NULL))
		TH_LOG("no completion for a batch issued from io-wq");
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(8, tm_recv_msg(self->fd, self->b, &mb, 0));
		EXPECT_EQ(vals[i], val_of(&mb));
	}
}

/*
 * A successful receive (a positive result) does not break an IOSQE_IO_LINK
 * chain: the linked send runs.
 */
TEST_F(uring, linked_after_recv)
{
	struct io_uring_sqe *sqe;
	struct termite_recv r;
	struct termite_send s = { .from = self->a, .to = self->a, .len = 8 };
	struct tm_msgbuf mb;
	__u64 val = 81, ud = 0;
	int res[2] = { NO_CQE, NO_CQE }, i, rr;

	ASSERT_EQ(0, send_val(self->fd, self->a, self->b, 80));
	tm_recv_init(&r, self->b, &mb, sizeof(mb), TM_FOREVER);
	s.buf = (unsigned long)&val;
	sqe = prep(&self->ring, self->fd, TERMITE_IOC_RECV, &r, sizeof(r), 0);
	ASSERT_NE(NULL, sqe);
	sqe->flags |= IOSQE_IO_LINK;
	ASSERT_NE(NULL, prep(&self->ring, self->fd, TERMITE_IOC_SEND, &s,
			     sizeof(s), 1));
	ASSERT_EQ(2, io_uring_submit(&self->ring));
	for (i = 0; i < 2; i++) {
		rr = reap(&self->ring, NULL, &ud);
		ASSERT_LT(ud, 2);
		res[ud] = rr;
	}
	EXPECT_EQ(8, res[0]);
	EXPECT_EQ(80, val_of(&mb));
	EXPECT_EQ(0, res[1]) TH_LOG("the linked send was not run");
	/* A send first, then a receive that finds what it sent. */
	sqe = prep(&self->ring, self->fd, TERMITE_IOC_SEND, &s, sizeof(s), 0);
	ASSERT_NE(NULL, sqe);
	sqe->flags |= IOSQE_IO_LINK;
	r.actor = self->a;
	r.timeout_ns = 0;
	ASSERT_NE(NULL, prep(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			     sizeof(r), 1));
	ASSERT_EQ(2, io_uring_submit(&self->ring));
	res[0] = res[1] = NO_CQE;
	for (i = 0; i < 2; i++) {
		rr = reap(&self->ring, NULL, &ud);
		ASSERT_LT(ud, 2);
		res[ud] = rr;
	}
	EXPECT_EQ(0, res[0]);
	EXPECT_EQ(8, res[1]);
}

/*
 * A batch to an actor on which this very task has a receive parked: the
 * first message wakes the receive, which queues io_uring task work for
 * this task; that is no signal, so the batch must go on (as must one
 * sent by ioctl).
 */
TEST_F(uring, batch_to_own_parked_receiver)
{
	enum { N = 4 };
	struct termite_send s[N];
	struct termite_batch bt = { .sends = (unsigned long)s, .count = N };
	struct tm_msgbuf mb, pm;
	__u64 vals[N];
	int i, k, ret;

	for (i = 0; i < N; i++) {
		vals[i] = i;
		memset(&s[i], 0, sizeof(s[i]));
		s[i].from = self->a;
		s[i].to = self->b;
		s[i].tag = i;
		s[i].buf = (unsigned long)&vals[i];
		s[i].len = 8;
	}
	for (k = 0; k < 2; k++) {
		ASSERT_EQ(1, park(&self->ring, self->fd, self->b, &pm));
		EXPECT_FALSE(cqe_within(&self->ring, 50));
		if (k == 0) {
			ret = tm_ioctl(self->fd, TERMITE_IOC_SEND_BATCH, &bt);
		} else {
			ASSERT_EQ(1, submit_ex(&self->ring, self->fd,
					       TERMITE_IOC_SEND_BATCH, &bt,
					       sizeof(bt), 2, 0));
			ret = NO_CQE;
		}
		/* The parked receive gets message 0, the mailbox the rest. */
		for (i = 0; i < 1 + k; i++) {
			__u64 ud = 0;
			int rr = reap(&self->ring, NULL, &ud);

			if (ud == 2)
				ret = rr;
			else
				EXPECT_EQ(8, rr);
		}
		EXPECT_EQ(N, ret) TH_LOG("%s: batch cut short",
					 k ? "io_uring" : "ioctl");
		EXPECT_EQ(0, val_of(&pm));
		for (i = 1; i < (ret > 0 ? ret : 1); i++) {
			ASSERT_EQ(8, tm_recv_msg(self->fd, self->b, &mb, 0));
			EXPECT_EQ((__u64)i, val_of(&mb));
		}
		EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->b, &mb, 0));
	}
}

struct racer {
	int fd;
	__u64 from, to;
	int n;
	int go;		/* rounds the main thread has submitted */
	int ret;
};

static void *race_thread(void *arg)
{
	struct racer *rc = arg;
	int i, spin;

	for (i = 0; i < rc->n; i++) {
		while (__atomic_load_n(&rc->go, __ATOMIC_ACQUIRE) <= i)
			;
		/* Vary the moment of the send against the worker's issue. */
		for (spin = 0; spin < (i * 37) % 2000; spin++)
			__asm__ __volatile__("" ::: "memory");
		rc->ret = send_val(rc->fd, rc->from, rc->to, i);
		if (rc->ret)
			break;
	}
	return NULL;
}

/*
 * Receives issued from io-wq (IOSQE_ASYNC, with a timeout so that they
 * arm their timer) racing with a send from another thread, round after
 * round: a receive may be woken, and completed by this task, while the
 * worker that parked it is still parking it.  Each must get its message,
 * exactly once and in order, and the kernel must stay sound.
 */
TEST_F(uring, async_recv_race)
{
	enum { ROUNDS = 300 };
	struct racer rc = { self->fd, self->a, self->b, ROUNDS, 0, 0 };
	struct termite_recv r;
	struct tm_msgbuf mb;
	pthread_t th;
	int i, res = 0;
	__u64 ud = 0;

	tm_recv_init(&r, self->b, &mb, sizeof(mb), TM_MS(WAIT_MS));
	ASSERT_EQ(0, pthread_create(&th, NULL, race_thread, &rc));
	for (i = 0; i < ROUNDS; i++) {
		memset(&mb, 0, sizeof(mb));
		if (submit_ex(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			      sizeof(r), i, IOSQE_ASYNC) != 1)
			break;
		__atomic_store_n(&rc.go, i + 1, __ATOMIC_RELEASE);
		res = reap(&self->ring, NULL, &ud);
		if (res != 8 || ud != (__u64)i || val_of(&mb) != (__u64)i)
			break;
	}
	__atomic_store_n(&rc.go, ROUNDS, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	EXPECT_EQ(ROUNDS, i)
		TH_LOG("round %d: res %d user_data %llu value %llu", i, res,
		       (unsigned long long)ud,
		       (unsigned long long)val_of(&mb));
	EXPECT_EQ(0, rc.ret);
	/* Nothing extra: no duplicate, no stray completion. */
	EXPECT_FALSE(cqe_within(&self->ring, 50));
	EXPECT_EQ(-EAGAIN, tm_recv_msg(self->fd, self->b, &mb, 0));
}

/* ---- teardown ----------------------------------------------------------- */

TEST_F(uring, parked_recv_cancelled_by_close)
{
	struct termite_recv r = {};
	struct tm_msgbuf mb;

	r.actor = self->b;
	r.buf = (unsigned long)&mb;
	r.buf_len = sizeof(mb);
	r.timeout_ns = TM_FOREVER;
	ASSERT_NE(NULL, prep(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			     sizeof(r), 7));
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	EXPECT_FALSE(cqe_within(&self->ring, 50));
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(-ECANCELED, reap(&self->ring, NULL, NULL));
}

/* A thousand parked receives, all completed by one close. */
TEST(thousand_parked_close)
{
	enum { N = 1000 };
	struct io_uring_params p = { .flags = RING_FLAGS | IORING_SETUP_CQSIZE,
				     .cq_entries = 2048 };
	static struct tm_msgbuf mb[4];
	static bool seen[N];
	struct termite_recv r;
	struct io_uring ring;
	int fd = tm_open(), i, res, bad = 0, dup_ud = 0;
	__u64 a = tm_spawn(fd), b = tm_spawn(fd), ud;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, io_uring_queue_init_params(128, &ring, &p));
	for (i = 0; i < N; i++) {
		/* Two actors; buffers shared, nothing will be received. */
		tm_recv_init(&r, i % 2 ? a : b, &mb[i % 4], sizeof(mb[0]),
			     TM_FOREVER);
		if (!prep(&ring, fd, TERMITE_IOC_RECV, &r, sizeof(r), i)) {
			ASSERT_LT(0, io_uring_submit(&ring));
			ASSERT_NE(NULL, prep(&ring, fd, TERMITE_IOC_RECV, &r,
					     sizeof(r), i));
		}
	}
	ASSERT_LE(0, io_uring_submit(&ring));
	EXPECT_FALSE(cqe_within(&ring, QUIET_MS));
	close(fd);
	for (i = 0; i < N; i++) {
		res = reap(&ring, NULL, &ud);
		ASSERT_NE(NO_CQE, res) TH_LOG("only %d completions", i);
		if (res != -ECANCELED)
			bad++;
		if (ud >= N || seen[ud])
			dup_ud++;
		else
			seen[ud] = true;
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, dup_ud);
	EXPECT_FALSE(cqe_within(&ring, 50));
	io_uring_queue_exit(&ring);
}

/*
 * Closing one of two descriptors of the port cancels nothing; closing
 * the last one cancels what is parked through either.
 */
TEST_F(uring, close_one_of_two_fds)
{
	struct tm_msgbuf mb1, mb2;
	int fd2 = dup(self->fd);
	__u64 ud = 0;

	ASSERT_LE(0, fd2);
	ASSERT_EQ(1, park_ud(&self->ring, self->fd, self->b, &mb1, 1));
	close(self->fd);
	self->fd = -1;
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(0, send_val(fd2, self->a, self->b, 71));
	ASSERT_EQ(8, reap(&self->ring, NULL, &ud));
	EXPECT_EQ(1, ud);
	EXPECT_EQ(71, val_of(&mb1));

	/* Parked through the remaining fd, and one more through... it. */
	ASSERT_EQ(1, park_ud(&self->ring, fd2, self->b, &mb1, 2));
	ASSERT_EQ(1, park_ud(&self->ring, fd2, self->a, &mb2, 3));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	self->fd = dup(fd2);
	ASSERT_LE(0, self->fd);
	close(fd2);
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(-ECANCELED, reap(&self->ring, NULL, NULL));
	EXPECT_EQ(-ECANCELED, reap(&self->ring, NULL, NULL));
}

/*
 * A ring closed with receives parked must not wait for them: the port
 * stays open and usable, no ghost receive eats a message, and once the
 * port is closed it is released (its actors die), so nothing pins it.
 */
static void ring_closed_parked(struct __test_metadata *_metadata,
			       unsigned int flags)
{
	struct io_uring ring;
	struct tm_msgbuf mb[8];
	struct watch wt = { .fd = -1 };
	int fd = tm_open(), fd2, i, ret;
	__u64 a = tm_spawn(fd), b = tm_spawn(fd);

	ASSERT_LE(0, fd);
	ret = io_uring_queue_init(16, &ring, RING_FLAGS | flags);
	if (ret == -EINVAL && flags)
		SKIP(return, "ring flags %#x not supported", flags);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, watch_start(&wt, b));
	for (i = 0; i < 8; i++)
		ASSERT_EQ(1, park_ud(&ring, fd, b, &mb[i], i));
	EXPECT_FALSE(cqe_within(&ring, 50));
	/* The port lives on in another descriptor. */
	fd2 = dup(fd);
	ASSERT_LE(0, fd2);
	close(fd);
	io_uring_queue_exit(&ring);
	tm_sleep_ms(MONITOR_MS);
	ASSERT_EQ(0, send_val(fd2, a, b, 5));
	ASSERT_EQ(8, tm_recv_msg(fd2, b, &mb[0], 0))
		TH_LOG("a receive of the closed ring took the message");
	EXPECT_EQ(5, mb[0].hdr.tag);
	EXPECT_EQ(-EAGAIN, watch_down(&wt, 0));
	close(fd2);
	EXPECT_EQ(TERMITE_EXIT_PORT_CLOSED, watch_down(&wt, WAIT_MS))
		TH_LOG("the port was not released");
	watch_end(&wt);
}

TEST(ring_closed_with_parked_recv)
{
	ring_closed_parked(_metadata, 0);
}

TEST(ring_closed_with_parked_recv_sqpoll)
{
	ring_closed_parked(_metadata, IORING_SETUP_SQPOLL);
}

TEST(ring_closed_with_parked_recv_defer_taskrun)
{
	ring_closed_parked(_metadata, IORING_SETUP_SINGLE_ISSUER |
			   IORING_SETUP_DEFER_TASKRUN);
}

/*
 * A child parks receives on its own port through a plain and an SQPOLL
 * ring, then dies by SIGKILL.  It must be reaped, and its actor must die
 * (PORT_CLOSED reaches a monitor in the parent).
 */
static void child_dies_parked(struct __test_metadata *_metadata, bool sqpoll)
{
	struct io_uring_params p = { .flags = RING_FLAGS };
	struct tm_msgbuf mb;
	int fd = tm_open(), status, pipefd[2];
	__u64 watcher = tm_spawn(fd), id, ref;
	pid_t pid;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pipe(pipefd));
	if (sqpoll) {
		p.flags |= IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 1000;
	}
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct io_uring ring;
		int cfd = tm_open();
		__u64 me = tm_spawn(cfd);

		if (io_uring_queue_init_params(8, &ring, &p) ||
		    park(&ring, cfd, me, &mb) != 1)
			_exit(1);
		if (write(pipefd[1], &me, sizeof(me)) != sizeof(me))
			_exit(2);
		pause();
		_exit(0);
	}
	ASSERT_EQ(sizeof(id), read(pipefd[0], &id, sizeof(id)));
	ASSERT_EQ(0, tm_monitor(fd, watcher, id, &ref));
	tm_sleep_ms(100);
	kill(pid, SIGKILL);
	status = wait_child(pid, WAIT_MS);
	EXPECT_TRUE(status >= 0 && WIFSIGNALED(status))
		TH_LOG("child status %d", status);
	ASSERT_EQ(0, tm_recv(fd, watcher, &mb, sizeof(mb), TM_MS(WAIT_MS)));
	EXPECT_EQ(TERMITE_KIND_DOWN, mb.hdr.kind);
	EXPECT_EQ(ref, mb.hdr.tag);
	EXPECT_EQ(TERMITE_EXIT_PORT_CLOSED, mb.hdr.code);
	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
}

TEST(child_killed_with_parked_recv)
{
	child_dies_parked(_metadata, false);
}

TEST(child_killed_with_parked_recv_sqpoll)
{
	child_dies_parked(_metadata, true);
}

/*
 * A child parks a receive, then execs: the exec must not hang on it (it
 * is cancelled), the new program runs and exits 0, and the port, closed
 * on exec, is released: PORT_CLOSED reaches a monitor in the parent.
 */
static void exec_parked(struct __test_metadata *_metadata, unsigned int flags)
{
	int fd = tm_open(), status, up[2], down[2];
	__u64 watcher = tm_spawn(fd), id = 0, ref;
	struct tm_msgbuf mb;
	pid_t pid;
	char go;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct io_uring ring;
		int cfd = tm_open();
		__u64 me = tm_spawn(cfd);

		if (io_uring_queue_init(8, &ring, RING_FLAGS | flags))
			_exit(1);
		if (write(up[1], &me, sizeof(me)) != sizeof(me) ||
		    read(down[0], &go, 1) != 1)
			_exit(2);
		if (park(&ring, cfd, me, &mb) != 1)
			_exit(3);
		/* Let it park (an SQPOLL thread issues it later). */
		tm_sleep_ms(100);
		execl("/bin/true", "true", (char *)NULL);
		_exit(4);
	}
	ASSERT_EQ(sizeof(id), read(up[0], &id, sizeof(id)));
	ASSERT_EQ(0, tm_monitor(fd, watcher, id, &ref));
	ASSERT_EQ(1, write(down[1], "g", 1));
	status = wait_child(pid, WAIT_MS);
	ASSERT_LE(0, status) TH_LOG("the exec hung");
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status %#x", status);
	ASSERT_EQ(0, tm_recv(fd, watcher, &mb, sizeof(mb), TM_MS(WAIT_MS)));
	EXPECT_EQ(TERMITE_KIND_DOWN, mb.hdr.kind);
	EXPECT_EQ(ref, mb.hdr.tag);
	EXPECT_EQ(TERMITE_EXIT_PORT_CLOSED, mb.hdr.code);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	close(fd);
}

TEST(exec_with_parked_recv)
{
	exec_parked(_metadata, 0);
}

TEST(exec_with_parked_recv_defer_taskrun)
{
	exec_parked(_metadata, IORING_SETUP_SINGLE_ISSUER |
		    IORING_SETUP_DEFER_TASKRUN);
}

TEST(exec_with_parked_recv_sqpoll)
{
	exec_parked(_metadata, IORING_SETUP_SQPOLL);
}

/* ---- full mailboxes and limits ------------------------------------------ */

#define QLEN	16

FIXTURE(ulimit) {
	struct io_uring ring;
	int ring_up;
	int fd;
	__u64 a, b;
	unsigned long long old_qlen, old_actors;
	int qlen_changed, actors_changed;
};

FIXTURE_SETUP(ulimit)
{
	ASSERT_EQ(0, tm_param_read("max_queue_len", &self->old_qlen));
	ASSERT_EQ(0, tm_param_read("max_actors", &self->old_actors));
	self->fd = ring_port_pair(_metadata, &self->ring, &self->a, &self->b);
	self->ring_up = 1;
}

FIXTURE_TEARDOWN(ulimit)
{
	if (self->ring_up)
		io_uring_queue_exit(&self->ring);
	if (self->fd >= 0)
		close(self->fd);
	if (self->qlen_changed)
		EXPECT_EQ(0, tm_param_write("max_queue_len", self->old_qlen));
	if (self->actors_changed)
		EXPECT_EQ(0, tm_param_write("max_actors", self->old_actors));
}

/* Sets a module parameter (restored by the teardown); skips if not root. */
#define SET_PARAM(name, v, flag) do {					\
	int __ret = tm_param_write(name, (v));				\
	if (__ret == -EACCES || __ret == -EPERM || __ret == -EROFS)	\
		SKIP(return, "cannot write %s: %s", name,		\
		     strerror(-__ret));					\
	ASSERT_EQ(0, __ret) TH_LOG("%s = %d", name, (int)(v));		\
	self->flag = 1;							\
} while (0)

/* Fills @b's mailbox (max_queue_len QLEN) with the values 0 .. QLEN - 1. */
static void fill(struct __test_metadata *_metadata, int fd, __u64 a, __u64 b)
{
	int i;

	for (i = 0; i < QLEN; i++)
		ASSERT_EQ(0, send_val(fd, a, b, i));
	ASSERT_EQ(-EAGAIN, send_val(fd, a, b, 999));
}

/* Receives the values @from .. @to - 1 from @b, in order, then nothing. */
static void drain(struct __test_metadata *_metadata, int fd, __u64 b,
		  int from, int to)
{
	struct tm_msgbuf mb;
	int i;

	for (i = from; i < to; i++) {
		ASSERT_EQ(8, tm_recv_msg(fd, b, &mb, 0))
			TH_LOG("message %d", i);
		EXPECT_EQ((__u64)i, val_of(&mb));
	}
	EXPECT_EQ(-EAGAIN, tm_recv_msg(fd, b, &mb, 0));
}

/* Sets max_queue_len to QLEN and fills the fixture's b. */
#define FILL_B() do {							\
	SET_PARAM("max_queue_len", QLEN, qlen_changed);			\
	fill(_metadata, self->fd, self->a, self->b);			\
} while (0)
#define DRAIN_B(from, to) drain(_metadata, self->fd, self->b, from, to)

static void send_init(struct termite_send *s, __u64 from, __u64 to,
		      __u64 *val, __u32 flags, __s64 timeout_ns)
{
	memset(s, 0, sizeof(*s));
	s->from = from;
	s->to = to;
	s->tag = *val;
	s->buf = (unsigned long)val;
	s->len = sizeof(*val);
	s->flags = flags;
	s->timeout_ns = timeout_ns;
}

/*
 * Sends that may not wait get the mailbox's -EAGAIN at once; a bounded
 * blocking send times out; nothing of them is queued.
 */
TEST_F(ulimit, full_mailbox_no_wait)
{
	struct termite_send s;
	__u64 val = QLEN;

	FILL_B();
	send_init(&s, self->a, self->b, &val, 0, 0);
	EXPECT_EQ(-EAGAIN, RUN(TERMITE_IOC_SEND, &s, NULL));
	send_init(&s, self->a, self->b, &val, TERMITE_SEND_BLOCK, 0);
	EXPECT_EQ(-EAGAIN, RUN(TERMITE_IOC_SEND, &s, NULL));
	send_init(&s, self->a, self->b, &val, TERMITE_SEND_BLOCK, TM_MS(50));
	EXPECT_EQ(-ETIMEDOUT, RUN(TERMITE_IOC_SEND, &s, NULL));
	DRAIN_B(0, QLEN);
}

/* A blocking send to a full mailbox completes once there is room. */
TEST_F(ulimit, blocking_send_completes)
{
	struct termite_send s;
	struct tm_msgbuf mb;
	__u64 val = QLEN, ud = 0;

	FILL_B();
	send_init(&s, self->a, self->b, &val, TERMITE_SEND_BLOCK, TM_FOREVER);
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_SEND, &s,
			       sizeof(s), 11, 0));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(8, tm_recv_msg(self->fd, self->b, &mb, 0));
	EXPECT_EQ(0, val_of(&mb));
	EXPECT_EQ(0, reap(&self->ring, NULL, &ud));
	EXPECT_EQ(11, ud);
	DRAIN_B(1, QLEN + 1);

}

/* A batch of blocking sends waits for room entry by entry, in order. */
TEST_F(ulimit, blocking_send_batch)
{
	struct termite_send s[2];
	struct termite_batch bt = { .sends = (unsigned long)s, .count = 2 };
	struct tm_msgbuf mb;
	__u64 vals[2] = { QLEN, QLEN + 1 };

	FILL_B();
	send_init(&s[0], self->a, self->b, &vals[0], TERMITE_SEND_BLOCK,
		  TM_FOREVER);
	send_init(&s[1], self->a, self->b, &vals[1], TERMITE_SEND_BLOCK,
		  TM_FOREVER);
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_SEND_BATCH,
			       &bt, sizeof(bt), 1, 0));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(8, tm_recv_msg(self->fd, self->b, &mb, 0));
	EXPECT_EQ(0, val_of(&mb));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(8, tm_recv_msg(self->fd, self->b, &mb, 0));
	EXPECT_EQ(1, val_of(&mb));
	EXPECT_EQ(2, reap(&self->ring, NULL, NULL));
	DRAIN_B(2, QLEN + 2);
}

/* A send blocked in io-wq ends with -ESRCH when its receiver dies. */
TEST_F(ulimit, blocked_send_receiver_dies)
{
	struct termite_send s;
	__u64 val = QLEN;

	FILL_B();
	send_init(&s, self->a, self->b, &val, TERMITE_SEND_BLOCK, TM_FOREVER);
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_SEND, &s,
			       sizeof(s), 1, 0));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	ASSERT_EQ(0, tm_exit(self->fd, self->b, TERMITE_EXIT_ERROR, NULL, 0));
	EXPECT_EQ(-ESRCH, reap(&self->ring, NULL, NULL));
}

/*
 * A send blocked in an io-wq worker when its ring is torn down: the
 * teardown does not wait forever, and the send is cancelled rather than
 * left to slip in later (making room afterwards lets nothing through).
 */
TEST_F(ulimit, blocked_send_ring_teardown)
{
	struct termite_send s;
	struct tm_msgbuf mb;
	__u64 val = QLEN;

	FILL_B();
	send_init(&s, self->a, self->b, &val, TERMITE_SEND_BLOCK, TM_FOREVER);
	ASSERT_EQ(1, submit_ex(&self->ring, self->fd, TERMITE_IOC_SEND, &s,
			       sizeof(s), 1, 0));
	EXPECT_FALSE(cqe_within(&self->ring, QUIET_MS));
	/* SIGALRM's default action ends the test if the teardown hangs. */
	alarm(10);
	io_uring_queue_exit(&self->ring);
	alarm(0);
	self->ring_up = 0;
	tm_sleep_ms(MONITOR_MS);
	/* Room for one: the cancelled send must not take it. */
	ASSERT_EQ(8, tm_recv_msg(self->fd, self->b, &mb, 0));
	EXPECT_EQ(0, val_of(&mb));
	tm_sleep_ms(300);
	DRAIN_B(1, QLEN);
}

/*
 * A port parks at most max_actors receives (-ENOSPC beyond); completed
 * receives free their places.
 */
TEST_F(ulimit, parked_limit)
{
	enum { LIMIT = 16 };
	struct tm_msgbuf mb[LIMIT + 1];
	bool seen[LIMIT] = {};
	__u64 ud;
	int i, res;

	SET_PARAM("max_actors", LIMIT, actors_changed);
	for (i = 0; i < LIMIT; i++)
		ASSERT_EQ(1, park_ud(&self->ring, self->fd, self->b, &mb[i],
				     i));
	EXPECT_FALSE(cqe_within(&self->ring, 50));
	ASSERT_EQ(1, park_ud(&self->ring, self->fd, self->a, &mb[LIMIT],
			     LIMIT));
	EXPECT_EQ(-ENOSPC, reap(&self->ring, NULL, &ud));
	EXPECT_EQ(LIMIT, ud);
	/* Inline receives and receives with timeout 0 never park. */
	ASSERT_EQ(0, send_val(self->fd, self->b, self->a, 1));
	ASSERT_EQ(8, tm_recv_msg(self->fd, self->a, &mb[LIMIT], 0));
	for (i = 0; i < LIMIT; i++)
		ASSERT_EQ(0, send_val(self->fd, self->a, self->b, i));
	for (i = 0; i < LIMIT; i++) {
		res = reap(&self->ring, NULL, &ud);
		ASSERT_EQ(8, res);
		ASSERT_LT(ud, LIMIT);
		EXPECT_FALSE(seen[ud]);
		seen[ud] = true;
	}
	/* All places free again. */
	for (i = 0; i < LIMIT; i++)
		ASSERT_EQ(1, park_ud(&self->ring, self->fd, self->b, &mb[i],
				     i));
	EXPECT_FALSE(cqe_within(&self->ring, 50));
	close(self->fd);
	self->fd = -1;
	for (i = 0; i < LIMIT; i++)
		EXPECT_EQ(-ECANCELED, reap(&self->ring, NULL, NULL));
}
TEST_HARNESS_MAIN
