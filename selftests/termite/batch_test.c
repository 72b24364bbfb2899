// SPDX-License-Identifier: GPL-2.0
/*
 * termite selftests: TERMITE_IOC_SEND_BATCH — many sends in one call, in
 * order, stopping at the first failure (sendmmsg() semantics), and its
 * error paths; TERMITE_IOC_SPAWN_BATCH — many actors in one call, and its
 * error paths (the limit max_actors is in ns_perm_test).
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "kselftest_harness.h"
#include "common.h"

static void fill(struct termite_send *s, __u64 from, __u64 to, __u32 *val)
{
	memset(s, 0, sizeof(*s));
	s->from = from;
	s->to = to;
	s->tag = *val;
	s->buf = (unsigned long)val;
	s->len = sizeof(*val);
	s->kind = 7;
}

static int batch(int fd, struct termite_send *s, __u32 n)
{
	struct termite_batch b = {
		.sends = (unsigned long)s,
		.count = n,
	};

	return tm_ioctl(fd, TERMITE_IOC_SEND_BATCH, &b);
}

TEST(feature_advertised)
{
	struct termite_version v;
	int fd = tm_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, tm_version(fd, &v));
	EXPECT_TRUE(v.features & TERMITE_FEAT_BATCH);
	close(fd);
}

TEST(in_order_to_many)
{
	enum { N = TERMITE_BATCH_MAX };
	static struct termite_send s[N];
	static __u32 vals[N];
	char buf[256];
	struct termite_msghdr *h = (void *)buf;
	int fd = tm_open(), i, n;
	__u64 a = tm_spawn(fd), b = tm_spawn(fd), c = tm_spawn(fd);

	ASSERT_LE(0, fd);
	for (i = 0; i < N; i++) {
		vals[i] = i;
		fill(&s[i], a, i % 2 ? b : c, &vals[i]);
	}
	ASSERT_EQ(N, batch(fd, s, N));
	/* each receiver sees its share in order */
	for (i = 0; i < N; i++) {
		n = tm_recv(fd, i % 2 ? b : c, buf, sizeof(buf), 0);
		ASSERT_EQ(4, n);
		EXPECT_EQ((__u64)i, h->tag);
		EXPECT_EQ(a, h->from);
		EXPECT_EQ(7u, h->kind);
		EXPECT_EQ((__u32)i, *(__u32 *)(buf + sizeof(*h)));
	}
	EXPECT_EQ(-EAGAIN, tm_recv(fd, b, buf, sizeof(buf), 0));
	EXPECT_EQ(-EAGAIN, tm_recv(fd, c, buf, sizeof(buf), 0));
	close(fd);
}

TEST(stops_at_first_failure)
{
	struct termite_send s[4];
	__u32 vals[4] = { 0, 1, 2, 3 };
	char buf[256];
	struct termite_msghdr *h = (void *)buf;
	int fd = tm_open(), i;
	__u64 a = tm_spawn(fd), b = tm_spawn(fd);

	ASSERT_LE(0, fd);
	for (i = 0; i < 4; i++)
		fill(&s[i], a, b, &vals[i]);
	s[2].to = 0x1234;		/* unknown: ESRCH */
	EXPECT_EQ(2, batch(fd, s, 4));
	EXPECT_EQ(4, tm_recv(fd, b, buf, sizeof(buf), 0));
	EXPECT_EQ(0u, h->tag);
	EXPECT_EQ(4, tm_recv(fd, b, buf, sizeof(buf), 0));
	EXPECT_EQ(1u, h->tag);
	EXPECT_EQ(-EAGAIN, tm_recv(fd, b, buf, sizeof(buf), 0));
	/* a failing first entry gives its own error */
	EXPECT_EQ(-ESRCH, batch(fd, &s[2], 2));
	s[2].to = b;
	s[2].kind = TERMITE_KIND_EXIT;	/* kernel kind: EINVAL */
	EXPECT_EQ(-EINVAL, batch(fd, &s[2], 2));
	close(fd);
}

TEST(errors)
{
	struct termite_send s[2];
	struct termite_batch bt;
	__u32 v = 1;
	void *page;
	int fd = tm_open();
	__u64 a = tm_spawn(fd), b = tm_spawn(fd);

	ASSERT_LE(0, fd);
	fill(&s[0], a, b, &v);
	fill(&s[1], a, b, &v);
	EXPECT_EQ(-EINVAL, batch(fd, s, 0));
	EXPECT_EQ(-EINVAL, batch(fd, s, TERMITE_BATCH_MAX + 1));
	memset(&bt, 0, sizeof(bt));
	bt.sends = (unsigned long)s;
	bt.count = 1;
	bt.flags = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_SEND_BATCH, &bt));
	bt.flags = 0;
	bt.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_SEND_BATCH, &bt));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_SEND_BATCH, (void *)1));
	/* the array unmapped: nothing sent, EFAULT */
	page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	EXPECT_EQ(-EFAULT, batch(fd, page, 2));
	/* the second entry's payload unmapped: one sent */
	s[1].buf = (unsigned long)page;
	EXPECT_EQ(1, batch(fd, s, 2));
	/* from an actor of another port: ENOENT */
	{
		int fd2 = tm_open();
		__u64 x = tm_spawn(fd2);

		fill(&s[0], x, b, &v);
		EXPECT_EQ(-ENOENT, batch(fd, s, 1));
		close(fd2);
	}
	munmap(page, 4096);
	close(fd);
}

static int spawn_batch(int fd, __u64 *ids, __u32 count, __u32 mode,
		       __u32 *spawned)
{
	struct termite_spawn_batch b = {
		.ids = (unsigned long)ids,
		.count = count,
		.mode = mode,
		.spawned = 12345,	/* an out field: ignored */
	};
	int ret = tm_ioctl(fd, TERMITE_IOC_SPAWN_BATCH, &b);

	if (spawned)
		*spawned = b.spawned;
	return ret;
}

TEST(spawn_batch_feature)
{
	struct termite_version v;
	int fd = tm_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, tm_version(fd, &v));
	EXPECT_TRUE(v.features & TERMITE_FEAT_SPAWN_BATCH);
	EXPECT_LE(3U, v.minor);
	close(fd);
}

TEST(spawn_batch_creates)
{
	enum { N = TERMITE_SPAWN_BATCH_MAX };
	__u64 ids[N + 1], sorted[N], one;
	struct tm_msgbuf m;
	__u32 spawned = 0, v = 7;
	int fd = tm_open(), i;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, tm_spawn_mode(fd, TERMITE_MODE_DELIVER, &one));
	memset(ids, 0, sizeof(ids));
	ASSERT_EQ(0, spawn_batch(fd, ids, N, TERMITE_MODE_TRAP, &spawned));
	EXPECT_EQ((__u32)N, spawned);
	EXPECT_EQ(N + 1, fdinfo_actors(fd));
	EXPECT_EQ(0ULL, ids[N]) TH_LOG("wrote past count");
	memcpy(sorted, ids, sizeof(sorted));
	qsort(sorted, N, sizeof(sorted[0]), cmp_u64);
	for (i = 0; i < N; i++) {
		EXPECT_NE(0ULL, sorted[i]);
		EXPECT_NE(one, sorted[i]);
		if (i)
			EXPECT_NE(sorted[i - 1], sorted[i]);
	}
	/* Each is a live actor of the port, in the mode asked for. */
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, tm_send(fd, one, ids[i], 0, 5, &v, sizeof(v)));
		ASSERT_EQ((int)sizeof(v), tm_recv_msg(fd, ids[i], &m, 0));
		EXPECT_EQ(one, m.hdr.from);
		EXPECT_EQ(1ULL, m.hdr.seq);
	}
	/* TRAP: an exit signal arrives as an ordinary message. */
	ASSERT_EQ(0, tm_signal(fd, one, ids[0], TERMITE_EXIT_ERROR, NULL, 0));
	ASSERT_EQ(0, tm_recv_msg(fd, ids[0], &m, 0));
	EXPECT_EQ((__u32)TERMITE_KIND_EXIT, m.hdr.kind);
	EXPECT_EQ(0U, m.hdr.flags);
	/* A batch of one. */
	ASSERT_EQ(0, spawn_batch(fd, ids, 1, TERMITE_MODE_DELIVER, &spawned));
	EXPECT_EQ(1U, spawned);
	EXPECT_EQ(N + 2, fdinfo_actors(fd));
	close(fd);
}

TEST(spawn_batch_errors)
{
	struct termite_spawn_batch b;
	__u64 ids[4];
	__u32 spawned = 99;
	char *page, *hole;
	int fd = tm_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, spawn_batch(fd, ids, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, spawn_batch(fd, ids, TERMITE_SPAWN_BATCH_MAX + 1,
				       0, NULL));
	EXPECT_EQ(-EINVAL, spawn_batch(fd, ids, 1, TERMITE_MODE_DIE + 1,
				       NULL));
	memset(&b, 0, sizeof(b));
	b.ids = (unsigned long)ids;
	b.count = 1;
	b.flags = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_SPAWN_BATCH, &b));
	b.flags = 0;
	b.reserved = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_SPAWN_BATCH, &b));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_SPAWN_BATCH, (void *)1));
	EXPECT_EQ(0, fdinfo_actors(fd));
	/* ids unmapped: EFAULT, and no actor is left */
	hole = unmapped_page();
	ASSERT_NE(NULL, hole);
	EXPECT_EQ(-EFAULT, spawn_batch(fd, (__u64 *)hole, 4, 0, &spawned));
	EXPECT_EQ(0, fdinfo_actors(fd));
	/* ids read-only */
	page = page_with(PROT_READ);
	ASSERT_NE(NULL, page);
	EXPECT_EQ(-EFAULT, spawn_batch(fd, (__u64 *)page, 4, 0, NULL));
	EXPECT_EQ(0, fdinfo_actors(fd));
	munmap(page, getpagesize());
	/* the last two entries past the end of the mapping: none left */
	page = mmap(NULL, 2 * getpagesize(), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	ASSERT_EQ(0, munmap(page + getpagesize(), getpagesize()));
	EXPECT_EQ(-EFAULT, spawn_batch(fd, (__u64 *)(page + getpagesize()) - 2,
				       4, 0, NULL));
	EXPECT_EQ(0, fdinfo_actors(fd));
	/* the struct itself read-only: the ids cannot be reported */
	munmap(page, getpagesize());
	page = page_with(PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, page);
	memset(&b, 0, sizeof(b));
	b.ids = (unsigned long)ids;
	b.count = 2;
	memcpy(page, &b, sizeof(b));
	ASSERT_EQ(0, mprotect(page, getpagesize(), PROT_READ));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_SPAWN_BATCH, page));
	EXPECT_EQ(0, fdinfo_actors(fd));
	munmap(page, getpagesize());
	close(fd);
}

TEST_HARNESS_MAIN
