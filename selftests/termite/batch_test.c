// SPDX-License-Identifier: GPL-2.0
/*
 * termite selftests: TERMITE_IOC_SEND_BATCH — many sends in one call, in
 * order, stopping at the first failure (sendmmsg() semantics), and its
 * error paths.
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

TEST_HARNESS_MAIN
