// SPDX-License-Identifier: GPL-2.0
/*
 * termite selftests: the io_uring command interface (liburing).
 *
 * Every operation through IORING_OP_URING_CMD with the ioctl's struct in
 * the SQE128 command area; results in res and big_cqe[0] (CQE32); receives
 * parked until a message, signal, death or timeout; parked receives
 * completed with -ECANCELED when the port is closed, the ring torn down or
 * the submitting process dies.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <liburing.h>
#include "kselftest_harness.h"
#include "common.h"

#define RING_FLAGS	(IORING_SETUP_SQE128 | IORING_SETUP_CQE32)

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

/* Wait for one completion: returns res, stores big_cqe[0] and user_data. */
static int reap(struct io_uring *ring, __u64 *out, __u64 *udata)
{
	struct io_uring_cqe *cqe;
	int ret = io_uring_wait_cqe(ring, &cqe);

	if (ret)
		return ret;
	ret = cqe->res;
	if (out)
		*out = (ring->flags & IORING_SETUP_CQE32) ? cqe->big_cqe[0] : 0;
	if (udata)
		*udata = cqe->user_data;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/* Submit one command and wait for it. */
static int run(struct io_uring *ring, int fd, __u32 op, const void *arg,
	       size_t size, __u64 *out)
{
	if (!prep(ring, fd, op, arg, size, 0))
		return -EBUSY;
	if (io_uring_submit(ring) != 1)
		return -EIO;
	return reap(ring, out, NULL);
}

/* Is a completion there within @ms? */
static bool cqe_within(struct io_uring *ring, int ms)
{
	struct __kernel_timespec ts = { ms / 1000, (ms % 1000) * 1000000LL };
	struct io_uring_cqe *cqe;

	return io_uring_wait_cqe_timeout(ring, &cqe, &ts) == 0;
}

FIXTURE(uring) {
	struct io_uring ring;
	int fd;
	__u64 a, b;
};

FIXTURE_SETUP(uring)
{
	ASSERT_EQ(0, io_uring_queue_init(64, &self->ring, RING_FLAGS));
	self->fd = tm_open();
	ASSERT_LE(0, self->fd);
	self->a = tm_spawn(self->fd);
	self->b = tm_spawn(self->fd);
	ASSERT_NE(0, self->a);
	ASSERT_NE(0, self->b);
}

FIXTURE_TEARDOWN(uring)
{
	io_uring_queue_exit(&self->ring);
	close(self->fd);
}

TEST_F(uring, version_and_feature)
{
	struct termite_version v = {};
	__u64 out = 0;

	ASSERT_EQ(0, run(&self->ring, self->fd, TERMITE_IOC_VERSION, &v,
			 sizeof(v), &out));
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
	__u64 id = 0;
	char msg[] = "hello";

	ASSERT_EQ(0, run(&self->ring, self->fd, TERMITE_IOC_SPAWN, &sp,
			 sizeof(sp), &id));
	ASSERT_NE(0, id);
	s.from = self->a;
	s.to = id;
	s.tag = 42;
	s.buf = (unsigned long)msg;
	s.len = sizeof(msg);
	ASSERT_EQ(0, run(&self->ring, self->fd, TERMITE_IOC_SEND, &s,
			 sizeof(s), NULL));
	r.actor = id;
	r.buf = (unsigned long)&mb;
	r.buf_len = sizeof(mb);
	ASSERT_EQ(sizeof(msg), run(&self->ring, self->fd, TERMITE_IOC_RECV,
				   &r, sizeof(r), NULL));
	EXPECT_EQ(self->a, mb.hdr.from);
	EXPECT_EQ(42, mb.hdr.tag);
	EXPECT_EQ(0, memcmp(mb.data, msg, sizeof(msg)));
}

TEST_F(uring, parked_recv_completes_on_send)
{
	struct termite_recv r = {};
	struct tm_msgbuf mb;
	char msg[] = "later";

	r.actor = self->b;
	r.buf = (unsigned long)&mb;
	r.buf_len = sizeof(mb);
	r.timeout_ns = TM_FOREVER;
	ASSERT_NE(NULL, prep(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			     sizeof(r), 7));
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	EXPECT_FALSE(cqe_within(&self->ring, 100));
	ASSERT_EQ(0, tm_send(self->fd, self->a, self->b, 9, 0, msg, sizeof(msg)));
	ASSERT_EQ(sizeof(msg), reap(&self->ring, NULL, NULL));
	EXPECT_EQ(9, mb.hdr.tag);
	EXPECT_EQ(0, memcmp(mb.data, msg, sizeof(msg)));
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
	ASSERT_EQ(-ETIMEDOUT, run(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
				  sizeof(r), NULL));
	EXPECT_LE(TM_MS(50), tm_now_ns() - t0);
	r.timeout_ns = 0;
	ASSERT_EQ(-EAGAIN, run(&self->ring, self->fd, TERMITE_IOC_RECV, &r,
			       sizeof(r), NULL));
}

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
	ASSERT_EQ(-ECANCELED, reap(&self->ring, NULL, NULL));
	self->fd = tm_open();
}

/* Park a receive forever on actor @a of @fd through @ring. */
static int park(struct io_uring *ring, int fd, __u64 a, struct tm_msgbuf *mb)
{
	struct termite_recv r = {};

	r.actor = a;
	r.buf = (unsigned long)mb;
	r.buf_len = sizeof(*mb);
	r.timeout_ns = TM_FOREVER;
	if (!prep(ring, fd, TERMITE_IOC_RECV, &r, sizeof(r), 1))
		return -EBUSY;
	return io_uring_submit(ring);
}

/*
 * A ring closed with a receive parked must not wait for it: the port stays
 * open and usable, and the ring's teardown completes (its memory is
 * released, which we observe as the actor losing the parked waiter).
 */
TEST_F(uring, ring_torn_down_with_parked_recv)
{
	struct tm_msgbuf mb;
	char msg[] = "x";
	int i;

	for (i = 0; i < 8; i++)
		ASSERT_EQ(1, park(&self->ring, self->fd, self->b, &mb));
	io_uring_queue_exit(&self->ring);
	/* The port still works, and the message is not eaten by a ghost. */
	tm_sleep_ms(1500);
	ASSERT_EQ(0, tm_send(self->fd, self->a, self->b, 5, 0, msg, sizeof(msg)));
	ASSERT_EQ(sizeof(msg), tm_recv(self->fd, self->b, &mb, sizeof(mb), 0));
	EXPECT_EQ(5, mb.hdr.tag);
	ASSERT_EQ(0, io_uring_queue_init(64, &self->ring, RING_FLAGS));
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
	__u64 watcher = tm_spawn(fd), id;
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
		write(pipefd[1], &me, sizeof(me));
		pause();
		_exit(0);
	}
	ASSERT_EQ(sizeof(id), read(pipefd[0], &id, sizeof(id)));
	{
		__u64 ref;

		ASSERT_EQ(0, tm_monitor(fd, watcher, id, &ref));
	}
	tm_sleep_ms(100);
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(0, tm_recv(fd, watcher, &mb, sizeof(mb), TM_MS(10000)));
	EXPECT_EQ(TERMITE_KIND_DOWN, mb.hdr.kind);
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

TEST_HARNESS_MAIN
