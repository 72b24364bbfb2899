// SPDX-License-Identifier: GPL-2.0
/*
 * termite selftest: universes (IPC namespaces), resource limits (module
 * parameters port_quota, max_queue_len, max_actors, max_links and their
 * bounds) and permission checks across uids.
 *
 * Runs as root.  Tests that lower a module parameter restore every
 * parameter in their teardown; the harness process also restores the
 * values it found at start-up when it exits (in case a test was killed by
 * its timeout before its teardown ran).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
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

#include "common.h"
#include "kselftest_harness.h"

#define WAIT		TM_MS(3000)
#define APP		(TERMITE_EXIT_ERROR + 17U)
#define NOBODY		65534

/* ---- module parameters ----------------------------------------------- */

struct param {
	const char *name;
	unsigned long long min, max;
};

static const struct param params[] = {
	{ "max_msg_size",	4096,		64ULL << 20 },
	{ "max_queue_len",	16,		16ULL << 20 },
	{ "port_quota",		64ULL << 10,	16ULL << 30 },
	{ "max_actors",		16,		16ULL << 20 },
	{ "max_links",		16,		16ULL << 20 },
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

static unsigned long long saved_at_start[NPARAMS];
static int have_saved_at_start;

static void restore_params(const unsigned long long *vals)
{
	unsigned int i;

	for (i = 0; i < NPARAMS; i++)
		tm_param_write(params[i].name, vals[i]);
}

static void restore_at_exit(void)
{
	restore_params(saved_at_start);
}

/* The harness' own process saves the parameters before any test runs. */
static void __attribute__((constructor)) save_at_start(void)
{
	unsigned int i;

	for (i = 0; i < NPARAMS; i++)
		if (tm_param_read(params[i].name, &saved_at_start[i]))
			return;
	have_saved_at_start = 1;
	atexit(restore_at_exit);
}

static int read_all(int fd, void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = read(fd, (char *)buf + off, len - off);

		if (n <= 0)
			return -1;
		off += n;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

static void drop_to_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY)) {
		fprintf(stderr, "# child: cannot become nobody: %s\n",
			strerror(errno));
		_exit(99);
	}
}

/* In forked children: no harness asserts; report the failed step. */
#define CHK(cond, step) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "# child %d: step %d failed at line %d: %s\n", \
			getpid(), step, __LINE__, #cond);		\
		_exit(step);						\
	}								\
} while (0)

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

FIXTURE(ns) {
	int fd;
	unsigned long long saved[NPARAMS];
	int saved_ok;
};

FIXTURE_SETUP(ns)
{
	unsigned int i;

	self->fd = tm_open();
	ASSERT_LE(0, self->fd)
		TH_LOG("open %s: %s (module loaded?)", TERMITE_DEVICE,
		       strerror(-self->fd));
	for (i = 0; i < NPARAMS; i++) {
		const char *name = params[i].name;

		ASSERT_EQ(0, tm_param_read(name, &self->saved[i]))
			TH_LOG("read parameter %s", name ? name : "?");
	}
	self->saved_ok = 1;
}

FIXTURE_TEARDOWN(ns)
{
	unsigned int i;

	if (self->fd >= 0)
		close(self->fd);
	if (!self->saved_ok)
		return;
	restore_params(self->saved);
	for (i = 0; i < NPARAMS; i++) {
		unsigned long long v;

		EXPECT_EQ(0, tm_param_read(params[i].name, &v));
		EXPECT_EQ(self->saved[i], v)
			TH_LOG("could not restore %s", params[i].name);
	}
}

static __u64 spawn_ok(struct __test_metadata *_metadata, int line, int fd,
		      __u32 mode)
{
	__u64 id = 0;
	int ret = tm_spawn_mode(fd, mode, &id);

	ASSERT_EQ(0, ret) TH_LOG("line %d: spawn: %s", line, strerror(-ret));
	return id;
}
#define SPAWN(fd, mode) spawn_ok(_metadata, __LINE__, fd, mode)

/* Sets a parameter and checks that it took. */
#define SET_PARAM(name, val) do {					\
	unsigned long long __v = 0;					\
	ASSERT_EQ(0, tm_param_write(name, val)) TH_LOG("set " name);	\
	ASSERT_EQ(0, tm_param_read(name, &__v));			\
	ASSERT_EQ((unsigned long long)(val), __v);			\
} while (0)

/* ---- universes --------------------------------------------------------- */

/* A child in a new IPC namespace: nothing of the parent's universe. */
static void child_other_universe(int wr, int rd, __u64 uni, __u64 a,
				 const char *pname, const char *cname)
{
	struct termite_version v;
	struct tm_msgbuf m;
	__u64 b, ref, got;
	char go;
	int fd;

	CHK(unshare(CLONE_NEWIPC) == 0, 2);
	fd = tm_open();
	CHK(fd >= 0, 3);
	CHK(tm_version(fd, &v) == 0, 4);
	CHK(v.universe != uni, 5);
	CHK(tm_spawn_mode(fd, TERMITE_MODE_TRAP, &b) == 0, 6);
	/* the parent's actor does not exist here */
	CHK(tm_send(fd, b, a, 0, 1, "x", 1) == -ESRCH, 7);
	CHK(tm_signal(fd, b, a, APP, NULL, 0) == -ESRCH, 8);
	CHK(tm_monitor(fd, b, a, &ref) == 0, 9);
	CHK(tm_recv_msg(fd, b, &m, 0) == 0, 10);
	CHK(m.hdr.kind == TERMITE_KIND_DOWN && m.hdr.tag == ref &&
	    m.hdr.from == a && m.hdr.code == TERMITE_EXIT_NOPROC, 11);
	CHK(tm_link(fd, b, a, TERMITE_LINK_FROM) == 0, 12);
	CHK(tm_recv_msg(fd, b, &m, 0) == 0, 13);
	CHK(m.hdr.kind == TERMITE_KIND_EXIT && m.hdr.from == a &&
	    m.hdr.code == TERMITE_EXIT_NOPROC, 14);
	/* nor its name; the name is free here */
	CHK(tm_whereis(fd, pname, &got) == -ENOENT, 15);
	CHK(tm_register(fd, b, cname) == 0, 16);
	CHK(tm_whereis(fd, cname, &got) == 0 && got == b, 17);
	CHK(tm_unregister(fd, cname) == 0, 18);
	CHK(tm_register(fd, b, pname) == 0, 19);
	CHK(tm_whereis(fd, pname, &got) == 0 && got == b, 20);
	CHK(write_all(wr, &b, sizeof(b)) == 0, 21);
	CHK(read_all(rd, &go, 1) == 0, 22);
	_exit(0);
}

/* A child in the same IPC namespace: the same universe. */
static void child_same_universe(__u64 uni, __u64 a, const char *pname)
{
	struct termite_version v;
	__u64 c, got;
	int fd;

	fd = tm_open();
	CHK(fd >= 0, 2);
	CHK(tm_version(fd, &v) == 0, 3);
	CHK(v.universe == uni, 4);
	CHK(tm_whereis(fd, pname, &got) == 0 && got == a, 5);
	CHK(tm_spawn_mode(fd, TERMITE_MODE_DELIVER, &c) == 0, 6);
	CHK(tm_send(fd, c, a, 77, 1, &c, sizeof(c)) == 0, 7);
	_exit(0);
}

TEST_F(ns, universes_isolated)
{
	int fd = self->fd, to_p[2], to_c[2], ret, fd2;
	char pname[48], cname[48];
	struct termite_version v, v2;
	struct tm_msgbuf m;
	__u64 a, b = 0, got, ref, c;
	pid_t pid;

	ASSERT_EQ(0, tm_version(fd, &v));
	a = SPAWN(fd, TERMITE_MODE_TRAP);
	snprintf(pname, sizeof(pname), "ns-parent-%d", getpid());
	snprintf(cname, sizeof(cname), "ns-child-%d", getpid());
	ASSERT_EQ(0, tm_register(fd, a, pname));

	/* a second port of this namespace is in the same universe */
	fd2 = tm_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, tm_version(fd2, &v2));
	ASSERT_EQ(v.universe, v2.universe);
	close(fd2);

	ASSERT_EQ(0, pipe(to_p));
	ASSERT_EQ(0, pipe(to_c));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fd);
		close(to_p[0]);
		close(to_c[1]);
		child_other_universe(to_p[1], to_c[0], v.universe, a, pname,
				     cname);
	}
	close(to_p[1]);
	close(to_c[0]);
	ret = read_all(to_p[0], &b, sizeof(b));
	if (ret) {
		ret = wait_child(pid);
		if (ret == 2)
			SKIP(return, "unshare(CLONE_NEWIPC) not permitted");
		ASSERT_EQ(0, ret) TH_LOG("child in a new IPC namespace failed");
	}
	/* the child's actor and names do not exist here */
	ASSERT_EQ(-ESRCH, tm_send(fd, a, b, 0, 1, "x", 1));
	ASSERT_EQ(-ESRCH, tm_signal(fd, a, b, APP, NULL, 0));
	ASSERT_EQ(-ENOENT, tm_whereis(fd, cname, &got));
	ASSERT_EQ(0, tm_whereis(fd, pname, &got));
	ASSERT_EQ(a, got);
	ASSERT_EQ(0, tm_monitor(fd, a, b, &ref));
	ASSERT_EQ(0, tm_recv_msg(fd, a, &m, 0));
	EXPECT_EQ(TERMITE_KIND_DOWN, m.hdr.kind);
	EXPECT_EQ(ref, m.hdr.tag);
	EXPECT_EQ(b, m.hdr.from);
	EXPECT_EQ((__u32)TERMITE_EXIT_NOPROC, m.hdr.code);
	ASSERT_EQ(1, write(to_c[1], "g", 1));
	ASSERT_EQ(0, wait_child(pid));
	close(to_p[0]);
	close(to_c[1]);
	ASSERT_EQ(-EAGAIN, tm_recv_msg(fd, a, &m, 0));

	/* a child of the same namespace sees the parent's actors */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(fd);
		child_same_universe(v.universe, a, pname);
	}
	ASSERT_EQ(0, wait_child(pid)) TH_LOG("child in the same namespace");
	ASSERT_EQ((int)sizeof(c), tm_recv_msg(fd, a, &m, WAIT));
	memcpy(&c, m.data, sizeof(c));
	EXPECT_EQ(1U, m.hdr.kind);
	EXPECT_EQ(77ULL, m.hdr.tag);
	EXPECT_EQ(c, m.hdr.from);
	EXPECT_EQ((__u32)pid, m.hdr.pid);
	EXPECT_EQ(0U, m.hdr.uid);
	ASSERT_EQ(-EAGAIN, tm_recv_msg(fd, a, &m, 0));
}

/* ---- limits ---------------------------------------------------------------- */

struct blocked_send {
	int fd;
	__u64 from, to;
	const void *buf;
	__u32 len;
	int ret;
	volatile int done;
};

static void *blocked_sender(void *arg)
{
	struct blocked_send *b = arg;

	b->ret = tm_send_ex(b->fd, b->from, b->to, 0, 1, b->buf, b->len,
			    TERMITE_SEND_BLOCK, TM_MS(10000));
	b->done = 1;
	return NULL;
}

TEST_F(ns, port_quota)
{
	const __u32 sz = 4096;
	static char payload[4096], rbuf[sizeof(struct termite_msghdr) + 4096];
	struct termite_version v;
	struct blocked_send bs;
	pthread_t th;
	int r, r2, s, n, i, ret;
	__u64 a1, a2, a3, from;

	memset(payload, 0xab, sizeof(payload));
	SET_PARAM("port_quota", 65536);
	r = tm_open();
	r2 = tm_open();
	s = self->fd;
	ASSERT_LE(0, r);
	ASSERT_LE(0, r2);
	ASSERT_EQ(0, tm_version(r, &v));
	ASSERT_EQ(65536ULL, v.port_quota);
	a1 = SPAWN(r, TERMITE_MODE_DELIVER);
	a2 = SPAWN(r, TERMITE_MODE_DELIVER);
	a3 = SPAWN(r2, TERMITE_MODE_DELIVER);
	from = SPAWN(s, TERMITE_MODE_DELIVER);

	for (n = 0; n < 100; n++) {
		ret = tm_send(s, from, a1, n, 1, payload, sz);
		if (ret)
			break;
	}
	ASSERT_EQ(-ENOBUFS, ret) TH_LOG("after %d sends", n);
	TH_LOG("%d messages of %u bytes fit in a port quota of 65536", n, sz);
	ASSERT_LE(n * sz, 65536U);
	ASSERT_LE(8, n);
	/* the quota is the port's: its other actor is full too */
	ASSERT_EQ(-ENOBUFS, tm_send(s, from, a2, 0, 1, payload, sz));
	/* another port is not */
	ASSERT_EQ(0, tm_send(s, from, a3, 0, 1, payload, sz));
	/* a blocking send times out */
	ASSERT_EQ(-ETIMEDOUT, tm_send_ex(s, from, a2, 0, 1, payload, sz,
					 TERMITE_SEND_BLOCK, TM_MS(20)));
	/* with BLOCK and timeout 0 it fails at once */
	ret = tm_send_ex(s, from, a2, 0, 1, payload, sz, TERMITE_SEND_BLOCK,
			 0);
	ASSERT_TRUE(ret == -ENOBUFS || ret == -EAGAIN || ret == -ETIMEDOUT)
		TH_LOG("BLOCK with timeout 0: %d", ret);

	/* a blocked sender proceeds once a receive frees room */
	memset(&bs, 0, sizeof(bs));
	bs.fd = s;
	bs.from = from;
	bs.to = a2;
	bs.buf = payload;
	bs.len = sz;
	ASSERT_EQ(0, pthread_create(&th, NULL, blocked_sender, &bs));
	tm_sleep_ms(200);
	ASSERT_EQ(0, bs.done) TH_LOG("BLOCK send returned %d at once", bs.ret);
	ASSERT_EQ((int)sz, tm_recv(r, a1, rbuf, sizeof(rbuf), 0));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, bs.ret);

	/* drain everything: all of it is there, then room again */
	for (i = 1; i < n; i++) {
		ASSERT_EQ((int)sz, tm_recv(r, a1, rbuf, sizeof(rbuf), 0))
			TH_LOG("message %d", i);
		ASSERT_EQ((__u64)i, ((struct termite_msghdr *)rbuf)->tag);
	}
	ASSERT_EQ((int)sz, tm_recv(r, a2, rbuf, sizeof(rbuf), 0));
	ASSERT_EQ(-EAGAIN, tm_recv(r, a1, rbuf, sizeof(rbuf), 0));
	ASSERT_EQ(-EAGAIN, tm_recv(r, a2, rbuf, sizeof(rbuf), 0));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, tm_send(s, from, i % 2 ? a1 : a2, i, 1, payload,
				     sz))
			TH_LOG("send %d after draining", i);
	/* exiting an actor frees what was queued to it */
	ASSERT_EQ(-ENOBUFS, tm_send(s, from, a1, 0, 1, payload, sz));
	ASSERT_EQ(0, tm_exit(r, a2, APP, NULL, 0));
	ASSERT_EQ(0, tm_send(s, from, a1, 0, 1, payload, sz));
	close(r);
	close(r2);
}

TEST_F(ns, queue_len)
{
	struct tm_msgbuf m;
	int fd = self->fd, i;
	__u64 s, a, b, t;

	SET_PARAM("max_queue_len", 16);
	close(fd);
	fd = self->fd = tm_open();
	ASSERT_LE(0, fd);
	s = SPAWN(fd, TERMITE_MODE_DELIVER);
	a = SPAWN(fd, TERMITE_MODE_DELIVER);
	b = SPAWN(fd, TERMITE_MODE_DELIVER);
	for (i = 0; i < 16; i++)
		ASSERT_EQ(0, tm_send(fd, s, a, i, 1, "q", 1)) TH_LOG("%d", i);
	ASSERT_EQ(-EAGAIN, tm_send(fd, s, a, 16, 1, "q", 1));
	ASSERT_EQ(-ETIMEDOUT, tm_send_ex(fd, s, a, 16, 1, "q", 1,
					 TERMITE_SEND_BLOCK, TM_MS(20)));
	ASSERT_EQ(0, tm_send(fd, s, b, 0, 1, "q", 1));
	ASSERT_EQ(1, tm_recv_msg(fd, a, &m, 0));
	ASSERT_EQ(0ULL, m.hdr.tag);
	ASSERT_EQ(0, tm_send(fd, s, a, 16, 1, "q", 1));
	ASSERT_EQ(-EAGAIN, tm_send(fd, s, a, 17, 1, "q", 1));
	for (i = 1; i <= 16; i++) {
		ASSERT_EQ(1, tm_recv_msg(fd, a, &m, 0));
		ASSERT_EQ((__u64)i, m.hdr.tag);
	}
	/*
	 * Exit signals along links are never lost to a full mailbox: the
	 * dying actor cannot be refused.  Fill a (DELIVER) and t (TRAP).
	 */
	t = SPAWN(fd, TERMITE_MODE_TRAP);
	for (i = 0; i < 16; i++) {
		ASSERT_EQ(0, tm_send(fd, s, a, i, 1, "q", 1));
		ASSERT_EQ(0, tm_send(fd, s, t, i, 1, "q", 1));
	}
	ASSERT_EQ(-EAGAIN, tm_send(fd, s, a, 16, 1, "q", 1));
	ASSERT_EQ(-EAGAIN, tm_send(fd, s, t, 16, 1, "q", 1));
	ASSERT_EQ(0, tm_link(fd, b, a, TERMITE_LINK_BOTH));
	ASSERT_EQ(0, tm_link(fd, b, t, TERMITE_LINK_BOTH));
	ASSERT_EQ(0, tm_exit(fd, b, APP, NULL, 0));
	ASSERT_EQ(0, tm_recv_msg(fd, a, &m, 0));
	ASSERT_EQ(TERMITE_KIND_EXIT, m.hdr.kind);
	ASSERT_EQ(TERMITE_MSG_SIGNAL, m.hdr.flags);
	ASSERT_EQ(b, m.hdr.from);
	for (i = 0; i < 16; i++) {
		ASSERT_EQ(1, tm_recv_msg(fd, t, &m, 0));
		ASSERT_EQ((__u64)i, m.hdr.tag);
	}
	ASSERT_EQ(0, tm_recv_msg(fd, t, &m, 0));
	ASSERT_EQ(TERMITE_KIND_EXIT, m.hdr.kind);
	ASSERT_EQ(0U, m.hdr.flags);
	ASSERT_EQ(b, m.hdr.from);
	ASSERT_EQ(APP, m.hdr.code);
	/*
	 * A SIGNAL made by a user counts like a message (even one the mode
	 * drops), except KILL (userspace-api/termite.rst).
	 */
	ASSERT_EQ(-EAGAIN, tm_signal(fd, s, a, APP, NULL, 0));
	ASSERT_EQ(-EAGAIN, tm_signal(fd, s, a, TERMITE_EXIT_NORMAL, NULL, 0));
	ASSERT_EQ(0, tm_signal(fd, s, a, TERMITE_EXIT_KILL, NULL, 0));
	ASSERT_LE(0, tm_recv_msg(fd, a, &m, 0));
	ASSERT_EQ(TERMITE_MSG_DEAD, m.hdr.flags);
	ASSERT_EQ((__u32)TERMITE_EXIT_KILLED, m.hdr.code);
}

TEST_F(ns, max_actors)
{
	__u64 ids[16], extra;
	struct tm_msgbuf m;
	int fd, fd2, i;

	SET_PARAM("max_actors", 16);
	close(self->fd);
	fd = self->fd = tm_open();
	ASSERT_LE(0, fd);
	for (i = 0; i < 16; i++)
		ids[i] = SPAWN(fd, TERMITE_MODE_DELIVER);
	ASSERT_EQ(-ENOSPC, tm_spawn_mode(fd, TERMITE_MODE_DELIVER, &extra));
	/* the limit is per port */
	fd2 = tm_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, tm_spawn_mode(fd2, TERMITE_MODE_DELIVER, &extra));
	close(fd2);
	/* an exit frees a place at once */
	ASSERT_EQ(0, tm_exit(fd, ids[0], APP, NULL, 0));
	ids[0] = SPAWN(fd, TERMITE_MODE_DELIVER);
	ASSERT_EQ(-ENOSPC, tm_spawn_mode(fd, TERMITE_MODE_DELIVER, &extra));
	/* a killed actor is a zombie until its death notice is received */
	ASSERT_EQ(0, tm_signal(fd, ids[1], ids[2], TERMITE_EXIT_KILL, NULL, 0));
	ASSERT_EQ(-ENOSPC, tm_spawn_mode(fd, TERMITE_MODE_DELIVER, &extra));
	ASSERT_LE(0, tm_recv_msg(fd, ids[2], &m, 0));
	ASSERT_EQ(TERMITE_MSG_DEAD, m.hdr.flags);
	ASSERT_EQ((__u32)TERMITE_EXIT_KILLED, m.hdr.code);
	ids[2] = SPAWN(fd, TERMITE_MODE_DELIVER);
	ASSERT_EQ(-ENOSPC, tm_spawn_mode(fd, TERMITE_MODE_DELIVER, &extra));
}

/* SPAWN_BATCH creates what max_actors allows, then fails with ENOSPC. */
TEST_F(ns, max_actors_spawn_batch)
{
	struct termite_spawn_batch b;
	__u64 ids[TERMITE_SPAWN_BATCH_MAX];
	int fd, i;

	SET_PARAM("max_actors", 16);
	close(self->fd);
	fd = self->fd = tm_open();
	ASSERT_LE(0, fd);
	for (i = 0; i < 10; i++)
		SPAWN(fd, TERMITE_MODE_DELIVER);
	memset(&b, 0, sizeof(b));
	b.ids = (unsigned long)ids;
	b.count = 10;
	ASSERT_EQ(0, tm_ioctl(fd, TERMITE_IOC_SPAWN_BATCH, &b));
	EXPECT_EQ(6U, b.spawned);
	EXPECT_EQ(16, fdinfo_actors(fd));
	b.spawned = 0;
	EXPECT_EQ(-ENOSPC, tm_ioctl(fd, TERMITE_IOC_SPAWN_BATCH, &b));
	EXPECT_EQ(16, fdinfo_actors(fd));
	/* the six are real: an exit frees a place for a batch of one */
	ASSERT_EQ(0, tm_exit(fd, ids[5], APP, NULL, 0));
	b.count = 1;
	ASSERT_EQ(0, tm_ioctl(fd, TERMITE_IOC_SPAWN_BATCH, &b));
	EXPECT_EQ(1U, b.spawned);
}

/*
 * max_links bounds the links an actor creates plus the monitors it holds
 * (uapi: "links one actor may create plus monitors it may hold"); links
 * and monitors that others make on it do not count.
 */
TEST_F(ns, max_links)
{
	int fd = self->fd, i;
	__u64 a, b, p[20], ref[20], r;
	struct tm_msgbuf m;

	SET_PARAM("max_links", 16);
	close(fd);
	fd = self->fd = tm_open();
	ASSERT_LE(0, fd);
	a = SPAWN(fd, TERMITE_MODE_TRAP);
	b = SPAWN(fd, TERMITE_MODE_TRAP);
	for (i = 0; i < 20; i++)
		p[i] = SPAWN(fd, TERMITE_MODE_DELIVER);
	for (i = 0; i < 12; i++)
		ASSERT_EQ(0, tm_link(fd, a, p[i], TERMITE_LINK_FROM))
			TH_LOG("link %d", i);
	for (; i < 16; i++)
		ASSERT_EQ(0, tm_monitor(fd, a, p[i], &ref[i]))
			TH_LOG("monitor %d", i);
	/* a is full */
	ASSERT_EQ(-EMLINK, tm_link(fd, a, p[16], TERMITE_LINK_FROM));
	ASSERT_EQ(-EMLINK, tm_link(fd, a, p[16], TERMITE_LINK_BOTH));
	ASSERT_EQ(-EMLINK, tm_link(fd, a, p[16], TERMITE_LINK_TO));
	ASSERT_EQ(-EMLINK, tm_monitor(fd, a, p[16], &r));
	/* the refused link does not exist: p[16]'s death is not heard */
	ASSERT_EQ(0, tm_exit(fd, p[16], APP, NULL, 0));
	ASSERT_EQ(-EAGAIN, tm_recv_msg(fd, a, &m, 0));
	/* others may still link to a and watch it: that is their count */
	ASSERT_EQ(0, tm_link(fd, b, a, TERMITE_LINK_FROM));
	ASSERT_EQ(0, tm_monitor(fd, b, a, &r));
	ASSERT_EQ(-EMLINK, tm_link(fd, a, p[17], TERMITE_LINK_FROM));
	/* unlinking frees a place */
	ASSERT_EQ(0, tm_unlink(fd, a, p[0], TERMITE_LINK_BOTH));
	ASSERT_EQ(0, tm_link(fd, a, p[17], TERMITE_LINK_FROM));
	ASSERT_EQ(-EMLINK, tm_link(fd, a, p[0], TERMITE_LINK_FROM));
	/* so does a peer's death (a traps: it gets the EXIT message) */
	ASSERT_EQ(0, tm_exit(fd, p[1], APP, NULL, 0));
	ASSERT_EQ(0, tm_link(fd, a, p[0], TERMITE_LINK_FROM));
	ASSERT_EQ(-EMLINK, tm_monitor(fd, a, p[18], &r));
	/* and a monitor firing */
	ASSERT_EQ(0, tm_exit(fd, p[15], APP, NULL, 0));
	ASSERT_EQ(0, tm_monitor(fd, a, p[18], &r));
	ASSERT_EQ(-EMLINK, tm_monitor(fd, a, p[19], &r));
	/* and a demonitor */
	ASSERT_EQ(0, tm_demonitor(fd, a, ref[12], 0));
	ASSERT_EQ(0, tm_monitor(fd, a, p[19], &r));
	ASSERT_EQ(-EMLINK, tm_monitor(fd, a, b, &r));
}

/* Out-of-bound values are refused and change nothing; bounds work. */
TEST_F(ns, param_bounds)
{
	static const char *const junk[] = {
		"abc", "-1", "", "99999999999999999999999",
	};
	struct termite_version ver;
	unsigned long long mq = 0;
	unsigned int i, j;
	pid_t pid;

	for (i = 0; i < NPARAMS; i++) {
		const struct param *p = &params[i];
		unsigned long long v = 0, before = 0;

		ASSERT_EQ(0, tm_param_read(p->name, &before));
		ASSERT_EQ(-EINVAL, tm_param_write(p->name, p->min - 1))
			TH_LOG("%s = %llu", p->name, p->min - 1);
		ASSERT_EQ(-EINVAL, tm_param_write(p->name, p->max + 1))
			TH_LOG("%s = %llu", p->name, p->max + 1);
		ASSERT_EQ(-EINVAL, tm_param_write(p->name, 0))
			TH_LOG("%s = 0", p->name);
		for (j = 0; j < sizeof(junk) / sizeof(junk[0]); j++) {
			char path[128];
			int fd;
			ssize_t n;

			snprintf(path, sizeof(path), TM_PARAM_DIR "%s",
				 p->name);
			fd = open(path, O_WRONLY);
			ASSERT_LE(0, fd);
			n = write(fd, junk[j], strlen(junk[j]) ?: 1);
			EXPECT_EQ(-1, n) TH_LOG("%s = '%s' accepted", p->name,
						junk[j]);
			close(fd);
		}
		ASSERT_EQ(0, tm_param_read(p->name, &v));
		ASSERT_EQ(before, v) TH_LOG("%s changed", p->name);

		ASSERT_EQ(0, tm_param_write(p->name, p->min)) TH_LOG("%s", p->name);
		ASSERT_EQ(0, tm_param_read(p->name, &v));
		ASSERT_EQ(p->min, v);
		ASSERT_EQ(0, tm_param_write(p->name, p->max)) TH_LOG("%s", p->name);
		ASSERT_EQ(0, tm_param_read(p->name, &v));
		ASSERT_EQ(p->max, v);
		ASSERT_EQ(0, tm_param_write(p->name, before));
	}
	/* VERSION reports the current values */
	ASSERT_EQ(0, tm_param_read("max_queue_len", &mq));
	SET_PARAM("max_queue_len", 4321);
	ASSERT_EQ(0, tm_version(self->fd, &ver));
	EXPECT_EQ(4321U, ver.max_queue_len);
	SET_PARAM("max_queue_len", mq);

	/* only root may change them */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		drop_to_nobody();
		CHK(open(TM_PARAM_DIR "max_actors", O_WRONLY) < 0 &&
		    errno == EACCES, 2);
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid));
}

/* ---- permissions ----------------------------------------------------------- */

FIXTURE(perm) {
	int fd;
};

FIXTURE_VARIANT(perm) {
	int open_before_setuid;
};

FIXTURE_VARIANT_ADD(perm, port_opened_as_root) {
	.open_before_setuid = 1,
};

FIXTURE_VARIANT_ADD(perm, port_opened_as_nobody) {
	.open_before_setuid = 0,
};

FIXTURE_SETUP(perm)
{
	self->fd = tm_open();
	ASSERT_LE(0, self->fd)
		TH_LOG("open %s: %s", TERMITE_DEVICE, strerror(-self->fd));
}

FIXTURE_TEARDOWN(perm)
{
	if (self->fd >= 0)
		close(self->fd);
}

static void child_nobody(int wr, int rd, int before, __u64 r, __u64 r2,
			 const char *rname)
{
	struct tm_msgbuf m;
	__u64 n, n2, ref;
	char go;
	int fd = -1;

	if (before)
		fd = tm_open();
	drop_to_nobody();
	if (!before)
		fd = tm_open();
	CHK(fd >= 0, 2);
	CHK(tm_spawn_mode(fd, TERMITE_MODE_DELIVER, &n) == 0, 3);
	CHK(tm_spawn_mode(fd, TERMITE_MODE_DELIVER, &n2) == 0, 4);
	/* root's actor may not be signalled, killed or linked to */
	CHK(tm_signal(fd, n, r, APP, "no", 2) == -EPERM, 5);
	CHK(tm_signal(fd, n, r, TERMITE_EXIT_KILL, NULL, 0) == -EPERM, 6);
	CHK(tm_signal(fd, n, r, TERMITE_EXIT_NORMAL, NULL, 0) == -EPERM, 7);
	CHK(tm_link(fd, n, r, TERMITE_LINK_TO) == -EPERM, 8);
	CHK(tm_link(fd, n, r, TERMITE_LINK_BOTH) == -EPERM, 9);
	/* nor may its name be removed; looking it up is fine */
	CHK(tm_whereis(fd, rname, &ref) == 0 && ref == r, 27);
	CHK(tm_unregister(fd, rname) == -EPERM, 28);
	/* but hearing of its death, watching it and messaging it is fine */
	CHK(tm_link(fd, n2, r2, TERMITE_LINK_FROM) == 0, 10);
	CHK(tm_monitor(fd, n2, r, &ref) == 0, 11);
	CHK(tm_send(fd, n, r, 5, 1, "hello", 5) == 0, 12);
	/* its own port's actors are its to signal */
	CHK(tm_signal(fd, n, n2, APP, "own", 3) == 0, 13);
	CHK(tm_recv_msg(fd, n2, &m, 0) == 3, 14);
	CHK(m.hdr.kind == TERMITE_KIND_EXIT && m.hdr.code == APP &&
	    m.hdr.flags == TERMITE_MSG_SIGNAL && m.hdr.from == n, 15);
	CHK(tm_recv_msg(fd, n2, &m, 0) == -EAGAIN, 16);
	CHK(write_all(wr, &n, sizeof(n)) == 0, 17);

	/* root signals n */
	CHK(read_all(rd, &go, 1) == 0, 18);
	CHK(tm_recv_msg(fd, n, &m, WAIT) == 4, 19);
	CHK(m.hdr.kind == TERMITE_KIND_EXIT && m.hdr.code == APP &&
	    m.hdr.flags == TERMITE_MSG_SIGNAL && m.hdr.from == r2 &&
	    !memcmp(m.data, "root", 4), 20);
	CHK(write_all(wr, &n, sizeof(n)) == 0, 21);

	/* root kills n */
	CHK(read_all(rd, &go, 1) == 0, 22);
	CHK(tm_recv_msg(fd, n, &m, WAIT) >= 0, 23);
	CHK(m.hdr.kind == TERMITE_KIND_EXIT &&
	    m.hdr.flags == TERMITE_MSG_DEAD &&
	    m.hdr.code == TERMITE_EXIT_KILLED, 24);
	CHK(tm_recv_msg(fd, n, &m, 0) == -ENOENT, 25);
	/* n2 heard nothing of r2 (alive) */
	CHK(tm_recv_msg(fd, n2, &m, 0) == -EAGAIN, 26);
	_exit(0);
}

TEST_F(perm, cross_uid)
{
	int fd = self->fd, to_p[2], to_c[2], ret;
	char rname[48];
	struct tm_msgbuf m;
	__u64 r, r2, n;
	pid_t pid;

	r = SPAWN(fd, TERMITE_MODE_DELIVER);
	r2 = SPAWN(fd, TERMITE_MODE_TRAP);
	snprintf(rname, sizeof(rname), "perm-root-%d", getpid());
	ASSERT_EQ(0, tm_register(fd, r, rname));
	ASSERT_EQ(0, pipe(to_p));
	ASSERT_EQ(0, pipe(to_c));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fd);
		close(to_p[0]);
		close(to_c[1]);
		child_nobody(to_p[1], to_c[0], variant->open_before_setuid, r,
			     r2, rname);
	}
	close(to_p[1]);
	close(to_c[0]);
	if (read_all(to_p[0], &n, sizeof(n))) {
		ret = wait_child(pid);
		ASSERT_EQ(0, ret) TH_LOG("nobody child failed");
	}
	/* the message arrived, stamped with nobody's uid and the pid */
	ASSERT_EQ(5, tm_recv_msg(fd, r, &m, WAIT));
	EXPECT_EQ(n, m.hdr.from);
	EXPECT_EQ((__u32)NOBODY, m.hdr.uid);
	EXPECT_EQ((__u32)pid, m.hdr.pid);
	EXPECT_EQ(0, memcmp(m.data, "hello", 5));
	/* nothing else: no signal got through */
	ASSERT_EQ(-EAGAIN, tm_recv_msg(fd, r, &m, 0));
	ASSERT_EQ(-EAGAIN, tm_recv_msg(fd, r2, &m, 0));

	/* root (CAP_KILL) may signal nobody's actor, and kill it */
	ASSERT_EQ(0, tm_signal(fd, r2, n, APP, "root", 4));
	ASSERT_EQ(1, write(to_c[1], "g", 1));
	ASSERT_EQ(0, read_all(to_p[0], &n, sizeof(n)))
		TH_LOG("child: %d", wait_child(pid));
	ASSERT_EQ(0, tm_signal(fd, r2, n, TERMITE_EXIT_KILL, NULL, 0));
	ASSERT_EQ(1, write(to_c[1], "g", 1));
	ASSERT_EQ(0, wait_child(pid));
	close(to_p[0]);
	close(to_c[1]);
	/* the name survived the child's attempt */
	ASSERT_EQ(0, tm_whereis(fd, rname, &n));
	ASSERT_EQ(r, n);
	/* r2 was not linked to n: nothing; r is watched by a dead monitor */
	ASSERT_EQ(-EAGAIN, tm_recv_msg(fd, r2, &m, 0));
	ASSERT_EQ(-EAGAIN, tm_recv_msg(fd, r, &m, 0));
}

/*
 * A process opens two ports as root, then becomes nobody.  A port's own
 * actors are always its to signal and link to (kmod/exit.c
 * tm_may_signal()), but the other port keeps the credentials its opener
 * had at open() ("captured by open() and never change",
 * Documentation/userspace-api/termite.rst): its actors are root's.
 */
TEST_F(ns, opener_creds_fixed_at_open)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct tm_msgbuf m;
		__u64 n, n2, q, ref;
		int fd, fd2;

		close(self->fd);
		fd = tm_open();
		fd2 = tm_open();

		CHK(fd >= 0 && fd2 >= 0, 2);
		CHK(tm_spawn_mode(fd, TERMITE_MODE_DELIVER, &n) == 0, 3);
		CHK(tm_spawn_mode(fd, TERMITE_MODE_DELIVER, &n2) == 0, 4);
		CHK(tm_spawn_mode(fd2, TERMITE_MODE_DELIVER, &q) == 0, 5);
		drop_to_nobody();
		/* own port: allowed */
		CHK(tm_signal(fd, n, n2, APP, "own", 3) == 0, 6);
		CHK(tm_recv_msg(fd, n2, &m, 0) == 3, 7);
		CHK(m.hdr.kind == TERMITE_KIND_EXIT && m.hdr.code == APP &&
		    m.hdr.flags == TERMITE_MSG_SIGNAL && m.hdr.from == n &&
		    m.hdr.uid == NOBODY, 8);
		CHK(tm_link(fd, n, n2, TERMITE_LINK_TO) == 0, 9);
		/* the port opened as root: not allowed any more */
		CHK(tm_signal(fd, n, q, APP, "no", 2) == -EPERM, 10);
		CHK(tm_signal(fd, n, q, TERMITE_EXIT_KILL, NULL, 0) == -EPERM,
		    11);
		CHK(tm_link(fd, n, q, TERMITE_LINK_TO) == -EPERM, 12);
		CHK(tm_link(fd, n, q, TERMITE_LINK_FROM) == 0, 13);
		CHK(tm_monitor(fd, n, q, &ref) == 0, 14);
		CHK(tm_send(fd, n, q, 9, 1, "m", 1) == 0, 15);
		CHK(tm_recv_msg(fd2, q, &m, 0) == 1 && m.hdr.tag == 9 &&
		    m.hdr.uid == NOBODY, 16);
		CHK(tm_recv_msg(fd2, q, &m, 0) == -EAGAIN, 17);
		/* q's own port may still end it; n hears of it */
		CHK(tm_exit(fd2, q, APP, NULL, 0) == 0, 18);
		CHK(tm_recv_msg(fd, n, &m, 0) >= 0, 19);
		CHK(m.hdr.kind == TERMITE_KIND_EXIT && m.hdr.from == q &&
		    m.hdr.flags == TERMITE_MSG_SIGNAL, 20);
		CHK(tm_recv_msg(fd, n, &m, 0) >= 0, 21);
		CHK(m.hdr.kind == TERMITE_KIND_DOWN && m.hdr.tag == ref, 22);
		/* and the own-port TO link works: n's death reaches n2 */
		CHK(tm_exit(fd, n, APP + 1, NULL, 0) == 0, 23);
		CHK(tm_recv_msg(fd, n2, &m, 0) >= 0, 24);
		CHK(m.hdr.kind == TERMITE_KIND_EXIT && m.hdr.from == n &&
		    m.hdr.code == APP + 1, 25);
		_exit(0);
	}
	ASSERT_EQ(0, wait_child(pid)) TH_LOG("see the child's step above");
}

TEST_HARNESS_MAIN
