// SPDX-License-Identifier: GPL-2.0
/*
 * termite selftest: the message path.  VERSION, SPAWN, SEND/RECV and their
 * errors, messaging across OS processes, FIFO order under concurrency,
 * selective receive and the cursor, MAKE_TAG, timeouts and signals, the
 * mailbox limit and blocking sends, READY and poll(), names, SETOPT,
 * fdinfo, and the isolation of one port's actors from another port.
 *
 * Runs as root (the mailbox-limit tests write module parameters; they skip
 * when they cannot).  Timing is only ever asserted as a lower bound, or an
 * upper bound far above what an emulated VM needs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"

#define WAIT		TM_MS(5000)	/* for an expected arrival */
#define HDR		((__u32)sizeof(struct termite_msghdr))

/* An id that no actor has (ids are keyed permutations, never 0). */
#define FAKE_ID		0x5eedf00dcafe1234ULL

/* ---- helpers ---------------------------------------------------------- */

#define SPAWN(fd)	spawn_ok(_metadata, __LINE__, fd, TERMITE_MODE_DELIVER)

static int open_ok(struct __test_metadata *_metadata, int line)
{
	int fd = tm_open();

	ASSERT_LE(0, fd) TH_LOG("line %d: open %s: %s (module loaded?)",
				line, TERMITE_DEVICE, strerror(-fd));
	return fd;
}
#define OPEN()		open_ok(_metadata, __LINE__)

/* Sends the 8-byte payload @val. */
static int send_val(int fd, __u64 from, __u64 to, __u64 tag, __u32 kind,
		    __u64 val)
{
	return tm_send(fd, from, to, tag, kind, &val, sizeof(val));
}
#define SEND_VAL(fd, from, to, tag, kind, val) \
	ASSERT_EQ(0, send_val(fd, from, to, tag, kind, val))

/* A receive buffer for the 8-byte messages of send_val(). */
struct vmsg {
	struct termite_msghdr hdr;
	__u64 val;
	unsigned char spare[56];
};

/*
 * Performs the receive described by *@r (its buffer is filled in here)
 * and checks that it returns an 8-byte message carrying @val.  Returns
 * the header.
 */
static struct termite_msghdr recv_val(struct __test_metadata *_metadata,
				      int line, int fd, struct termite_recv *r,
				      __u64 val)
{
	struct vmsg m;
	int ret;

	memset(&m, 0, sizeof(m));
	r->buf = (__u64)(uintptr_t)&m;
	r->buf_len = sizeof(m);
	ret = tm_recv_req(fd, r);
	ASSERT_EQ(8, ret) TH_LOG("line %d: recv = %d (%s), wanted value %llu",
				 line, ret, ret < 0 ? strerror(-ret) : "",
				 (unsigned long long)val);
	ASSERT_EQ(8U, m.hdr.len) TH_LOG("line %d", line);
	ASSERT_EQ(val, m.val) TH_LOG("line %d: got value %llu seq %llu",
				     line, (unsigned long long)m.val,
				     (unsigned long long)m.hdr.seq);
	return m.hdr;
}
#define RECV_VAL(fd, r, val)	recv_val(_metadata, __LINE__, fd, r, val)

/* Plain receive (no match) of the next message, which must carry @val. */
static struct termite_msghdr recv_next(struct __test_metadata *_metadata,
				       int line, int fd, __u64 actor,
				       __u64 val)
{
	struct termite_recv r;

	tm_recv_init(&r, actor, NULL, 0, WAIT);
	return recv_val(_metadata, line, fd, &r, val);
}
#define RECV_NEXT(fd, actor, val) recv_next(_metadata, __LINE__, fd, actor, val)

/* Nothing (matching *@r, or anything if @r is NULL) is queued for @actor. */
static void expect_none(struct __test_metadata *_metadata, int line, int fd,
			__u64 actor, const struct termite_recv *r)
{
	struct termite_recv rr;
	struct vmsg m;
	int ret;

	if (r)
		rr = *r;
	else
		tm_recv_init(&rr, actor, NULL, 0, 0);
	memset(&m, 0, sizeof(m));
	rr.actor = actor;
	rr.buf = (__u64)(uintptr_t)&m;
	rr.buf_len = sizeof(m);
	rr.timeout_ns = 0;
	ret = tm_recv_req(fd, &rr);
	ASSERT_EQ(-EAGAIN, ret)
		TH_LOG("line %d: recv = %d, kind %#x from %#llx seq %llu value %llu",
		       line, ret, m.hdr.kind, (unsigned long long)m.hdr.from,
		       (unsigned long long)m.hdr.seq,
		       (unsigned long long)m.val);
}
#define EXPECT_NONE(fd, actor)		expect_none(_metadata, __LINE__, fd, actor, NULL)
#define EXPECT_NONE_SEL(fd, actor, r)	expect_none(_metadata, __LINE__, fd, actor, r)

/* A selective receive request for @actor with @flags; no wait. */
static void sel_init(struct termite_recv *r, __u64 actor, __u32 flags)
{
	tm_recv_init(r, actor, NULL, 0, 0);
	r->flags = flags;
}

FIXTURE(msg) {
	int fd;
};

FIXTURE_SETUP(msg)
{
	self->fd = OPEN();
}

FIXTURE_TEARDOWN(msg)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* ---- VERSION and ioctl numbers ---------------------------------------- */

TEST_F(msg, version)
{
	struct termite_version v, v2;
	unsigned long long p;
	int fd2;

	/* Filled with garbage: an _IOR struct is output only. */
	memset(&v, 0xff, sizeof(v));
	ASSERT_EQ(0, tm_ioctl(self->fd, TERMITE_IOC_VERSION, &v));
	EXPECT_EQ((__u32)TERMITE_API_MAJOR, v.major);
	EXPECT_EQ((__u32)TERMITE_API_MINOR, v.minor);
	EXPECT_EQ(0ULL, v.reserved[0]);
	EXPECT_EQ(0ULL, v.reserved[1]);
	EXPECT_NE(0U, v.max_msg_size);
	EXPECT_NE(0U, v.max_queue_len);
	EXPECT_NE(0U, v.max_actors);
	EXPECT_NE(0U, v.max_links);
	EXPECT_NE(0ULL, v.port_quota);
	EXPECT_NE(~0ULL, v.universe);
	/* This file tests these features: the module must claim them. */
	EXPECT_EQ(TERMITE_FEAT_SELECTIVE | TERMITE_FEAT_NAMES | TERMITE_FEAT_READY,
		  v.features & (TERMITE_FEAT_SELECTIVE | TERMITE_FEAT_NAMES |
				TERMITE_FEAT_READY));
	TH_LOG("api %u.%u features %#llx max_msg_size %u max_queue_len %u max_actors %u max_links %u port_quota %llu",
	       v.major, v.minor, (unsigned long long)v.features,
	       v.max_msg_size, v.max_queue_len, v.max_actors, v.max_links,
	       (unsigned long long)v.port_quota);

	/* The limits are the module parameters. */
	if (!tm_param_read("max_msg_size", &p))
		EXPECT_EQ(p, v.max_msg_size);
	if (!tm_param_read("max_queue_len", &p))
		EXPECT_EQ(p, v.max_queue_len);
	if (!tm_param_read("max_actors", &p))
		EXPECT_EQ(p, v.max_actors);
	if (!tm_param_read("max_links", &p))
		EXPECT_EQ(p, v.max_links);
	if (!tm_param_read("port_quota", &p))
		EXPECT_EQ(p, v.port_quota);

	/* Another port of the same IPC namespace: the same universe. */
	fd2 = OPEN();
	ASSERT_EQ(0, tm_version(fd2, &v2));
	EXPECT_EQ(v.universe, v2.universe);
	EXPECT_EQ(v.major, v2.major);
	close(fd2);
}

TEST_F(msg, version_efault)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *ro = page_with(PROT_READ);
	void *none = page_with(PROT_NONE);
	char *two;

	ASSERT_NE(NULL, ro);
	ASSERT_NE(NULL, none);
	EXPECT_EQ(-EFAULT, tm_ioctl(self->fd, TERMITE_IOC_VERSION, (void *)1));
	EXPECT_EQ(-EFAULT, tm_ioctl(self->fd, TERMITE_IOC_VERSION, NULL));
	EXPECT_EQ(-EFAULT, tm_ioctl(self->fd, TERMITE_IOC_VERSION,
				    unmapped_page()));
	EXPECT_EQ(-EFAULT, tm_ioctl(self->fd, TERMITE_IOC_VERSION, none));
	/* VERSION writes its struct: a read-only page faults too. */
	EXPECT_EQ(-EFAULT, tm_ioctl(self->fd, TERMITE_IOC_VERSION, ro));
	/* A struct straddling the end of a mapping. */
	two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	ASSERT_EQ(0, munmap(two + pg, pg));
	EXPECT_EQ(-EFAULT,
		  tm_ioctl(self->fd, TERMITE_IOC_VERSION,
			   two + pg - sizeof(struct termite_version) / 2));
	/* ...and one that just fits works. */
	EXPECT_EQ(0, tm_ioctl(self->fd, TERMITE_IOC_VERSION,
			      two + pg - sizeof(struct termite_version)));
	munmap(two, pg);
	munmap(ro, pg);
	munmap(none, pg);
}

TEST_F(msg, ioctl_numbers)
{
	/* Room for any struct, so that only the number can be wrong. */
	union {
		struct termite_version v;
		struct termite_send s;
		struct termite_recv r;
		unsigned char raw[512];
	} u;
	struct {
		unsigned long cmd;
		const char *what;
	} bad[] = {
		{ _IOR(TERMITE_IOC_MAGIC, 0x10, struct termite_version), "nr 0x10" },
		{ _IOWR(TERMITE_IOC_MAGIC, 0x10, struct termite_ready), "nr 0x10 (READY size)" },
		{ _IOWR(TERMITE_IOC_MAGIC, 0x12, struct termite_spawn_batch), "nr 0x12" },
		{ _IOW(TERMITE_IOC_MAGIC, 0x11, struct termite_spawn_batch), "SPAWN_BATCH as _IOW" },
		{ _IO(TERMITE_IOC_MAGIC, 0x7f), "nr 0x7f" },
		{ _IOWR(TERMITE_IOC_MAGIC, 0xff, struct termite_spawn), "nr 0xff" },
		{ _IO(TERMITE_IOC_MAGIC, 0x00), "VERSION without size" },
		{ _IOR(0xE6, 0x00, struct termite_version), "magic 0xE6" },
		{ _IOR(0xE8, 0x00, struct termite_version), "magic 0xE8" },
		{ _IOWR(0x00, 0x01, struct termite_spawn), "magic 0" },
		{ _IOR(TERMITE_IOC_MAGIC, 0x00, __u64[5]), "VERSION, 40 bytes" },
		{ _IOR(TERMITE_IOC_MAGIC, 0x00, __u64[9]), "VERSION, 72 bytes" },
		{ _IOW(TERMITE_IOC_MAGIC, 0x00, struct termite_version), "VERSION as _IOW" },
		{ _IOWR(TERMITE_IOC_MAGIC, 0x00, struct termite_version), "VERSION as _IOWR" },
		{ _IOWR(TERMITE_IOC_MAGIC, 0x01, __u64[3]), "SPAWN, 24 bytes" },
		{ _IOW(TERMITE_IOC_MAGIC, 0x02, __u64[8]), "SEND, 64 bytes" },
		{ _IOW(TERMITE_IOC_MAGIC, 0x02, __u64[10]), "SEND, 80 bytes" },
		{ _IOWR(TERMITE_IOC_MAGIC, 0x02, struct termite_send), "SEND as _IOWR" },
		{ _IOW(TERMITE_IOC_MAGIC, 0x03, __u64[9]), "RECV, 72 bytes" },
		{ _IOWR(TERMITE_IOC_MAGIC, 0x0f, __u64[5]), "READY, 40 bytes" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&u, 0, sizeof(u));
		EXPECT_EQ(-ENOTTY, tm_ioctl(self->fd, bad[i].cmd, &u))
			TH_LOG("%s (%#lx)", bad[i].what, bad[i].cmd);
	}
	/* The same buffer with the right number works. */
	memset(&u, 0, sizeof(u));
	EXPECT_EQ(0, tm_ioctl(self->fd, TERMITE_IOC_VERSION, &u));
	EXPECT_EQ((__u32)TERMITE_API_MAJOR, u.v.major);
}

/* ---- SPAWN --------------------------------------------------------------- */

#define NIDS 64

TEST_F(msg, spawn_ids)
{
	__u64 ids[NIDS], sorted[NIDS], diffs[NIDS - 1];
	__u64 all_or = 0, all_and = ~0ULL, dup;
	int fd2 = OPEN();
	int i, ndiff;

	/* Alternate between two ports: ids are global to the module. */
	for (i = 0; i < NIDS; i++) {
		ids[i] = SPAWN(i & 1 ? fd2 : self->fd);
		all_or |= ids[i];
		all_and &= ids[i];
	}
	memcpy(sorted, ids, sizeof(ids));
	qsort(sorted, NIDS, sizeof(sorted[0]), cmp_u64);
	for (i = 1, dup = 0; i < NIDS; i++)
		if (sorted[i - 1] == sorted[i])
			dup = sorted[i];
	ASSERT_EQ(0ULL, dup) TH_LOG("duplicate id %#llx",
				    (unsigned long long)dup);

	/*
	 * Not sequential, not a fixed stride: the differences between
	 * consecutive ids are (all but certainly) all different.
	 */
	for (i = 1; i < NIDS; i++)
		diffs[i - 1] = ids[i] - ids[i - 1];
	qsort(diffs, NIDS - 1, sizeof(diffs[0]), cmp_u64);
	for (i = 1, ndiff = 1; i < NIDS - 1; i++)
		ndiff += diffs[i] != diffs[i - 1];
	EXPECT_LE(NIDS - 3, ndiff) TH_LOG("only %d distinct differences", ndiff);
	for (i = 1; i < NIDS; i++) {
		EXPECT_NE(ids[i - 1] + 1, ids[i]);
		EXPECT_NE(ids[i - 1] - 1, ids[i]);
	}
	/*
	 * Every bit, the high ones included, varies: for 64 random ids a
	 * constant bit has probability 2^-57.
	 */
	EXPECT_EQ(~0ULL, all_or) TH_LOG("bits never set: %#llx",
					(unsigned long long)~all_or);
	EXPECT_EQ(0ULL, all_and) TH_LOG("bits always set: %#llx",
					(unsigned long long)all_and);
	for (i = 0; i < 4; i++)
		TH_LOG("id[%d] = %016llx", i, (unsigned long long)ids[i]);
	close(fd2);
}

TEST_F(msg, spawn_invalid)
{
	struct termite_spawn s;
	void *ro = page_with(PROT_READ);
	__u64 id;
	long before;

	ASSERT_NE(NULL, ro);
	memset(&s, 0, sizeof(s));
	s.flags = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(self->fd, TERMITE_IOC_SPAWN, &s));
	memset(&s, 0, sizeof(s));
	s.flags = 0x80000000u;
	EXPECT_EQ(-EINVAL, tm_ioctl(self->fd, TERMITE_IOC_SPAWN, &s));
	memset(&s, 0, sizeof(s));
	s.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(self->fd, TERMITE_IOC_SPAWN, &s));
	memset(&s, 0, sizeof(s));
	s.reserved[1] = 1ULL << 63;
	EXPECT_EQ(-EINVAL, tm_ioctl(self->fd, TERMITE_IOC_SPAWN, &s));
	EXPECT_EQ(-EINVAL, tm_spawn_mode(self->fd, TERMITE_MODE_DIE + 1, &id));
	EXPECT_EQ(-EINVAL, tm_spawn_mode(self->fd, 0xffffffffu, &id));
	EXPECT_EQ(-EINVAL, tm_spawn_mode(self->fd, 0x80000000u, &id));

	EXPECT_EQ(-EFAULT, tm_ioctl(self->fd, TERMITE_IOC_SPAWN, (void *)1));
	EXPECT_EQ(-EFAULT, tm_ioctl(self->fd, TERMITE_IOC_SPAWN,
				    unmapped_page()));
	/* A zeroed struct on a read-only page: the id cannot be written. */
	EXPECT_EQ(-EFAULT, tm_ioctl(self->fd, TERMITE_IOC_SPAWN, ro));

	/* None of that made an actor. */
	EXPECT_EQ(0, fdinfo_actors(self->fd));

	/* Every valid mode works; the id field is output only. */
	before = fdinfo_actors(self->fd);
	memset(&s, 0, sizeof(s));
	s.id = FAKE_ID;
	s.mode = TERMITE_MODE_TRAP;
	ASSERT_EQ(0, tm_ioctl(self->fd, TERMITE_IOC_SPAWN, &s));
	EXPECT_NE(FAKE_ID, s.id);
	EXPECT_NE(0ULL, s.id);
	EXPECT_EQ(0, tm_spawn_mode(self->fd, TERMITE_MODE_DELIVER, &id));
	EXPECT_EQ(0, tm_spawn_mode(self->fd, TERMITE_MODE_DIE, &id));
	EXPECT_EQ(before + 3, fdinfo_actors(self->fd));
	munmap(ro, sysconf(_SC_PAGESIZE));
}

/* ---- SEND / RECV: success --------------------------------------------- */

TEST_F(msg, send_recv_fields)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), b = SPAWN(fd), c = SPAWN(fd);
	static const char hello[] = "hello, termite";
	struct tm_msgbuf m;
	int ret, i;

	ASSERT_EQ(0, tm_send(fd, a, b, 0x1122334455667788ULL, 7, hello,
			     sizeof(hello)));
	/* Garbage everywhere: every header field must be written. */
	memset(&m, 0xaa, sizeof(m));
	ret = tm_recv(fd, b, &m, sizeof(m), WAIT);
	ASSERT_EQ((int)sizeof(hello), ret);
	EXPECT_EQ(a, m.hdr.from);
	EXPECT_EQ(0x1122334455667788ULL, m.hdr.tag);
	EXPECT_EQ(7U, m.hdr.kind);
	EXPECT_EQ(0U, m.hdr.code);
	EXPECT_EQ((__u32)sizeof(hello), m.hdr.len);
	EXPECT_EQ(0U, m.hdr.flags);
	EXPECT_EQ((__u32)getpid(), m.hdr.pid);
	EXPECT_EQ((__u32)getuid(), m.hdr.uid);
	EXPECT_EQ(1ULL, m.hdr.seq);
	EXPECT_EQ(0, memcmp(m.data, hello, sizeof(hello)));
	/* Nothing written past the payload. */
	EXPECT_EQ(0xaa, m.data[sizeof(hello)]);
	EXPECT_NONE(fd, b);

	/* seq goes on growing by one, whoever the sender. */
	SEND_VAL(fd, a, b, 1, 1, 100);
	SEND_VAL(fd, c, b, 2, 2, 101);
	SEND_VAL(fd, b, b, 3, 3, 102);	/* to itself */
	SEND_VAL(fd, a, b, 4, 0, 103);	/* kind 0 is the application's */
	SEND_VAL(fd, a, b, 5, TERMITE_KIND_KERNEL - 1, 104);
	for (i = 0; i < 5; i++) {
		struct termite_msghdr h = RECV_NEXT(fd, b, 100 + i);

		EXPECT_EQ(2ULL + i, h.seq);
		EXPECT_EQ(1ULL + i, h.tag);
		EXPECT_EQ(i == 1 ? c : i == 2 ? b : a, h.from);
		EXPECT_EQ(i == 3 ? 0U : i == 4 ? TERMITE_KIND_KERNEL - 1 :
			  (__u32)(i + 1), h.kind);
		EXPECT_EQ((__u32)getpid(), h.pid);
	}
	EXPECT_NONE(fd, b);
	/* Another actor's seq starts at 1. */
	SEND_VAL(fd, b, c, 0, 1, 7);
	EXPECT_EQ(1ULL, RECV_NEXT(fd, c, 7).seq);
	/* The sender's mailbox was untouched. */
	EXPECT_NONE(fd, a);
}

TEST_F(msg, zero_length)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), b = SPAWN(fd);
	struct termite_msghdr h;
	struct tm_msgbuf m;

	ASSERT_EQ(0, tm_send(fd, a, b, 9, 1, NULL, 0));
	ASSERT_EQ(0, tm_send(fd, a, b, 10, 1, "ignored", 0));
	/* A buffer of just a header is enough for an empty payload. */
	memset(&h, 0xaa, sizeof(h));
	ASSERT_EQ(0, tm_recv(fd, b, &h, sizeof(h), WAIT));
	EXPECT_EQ(0U, h.len);
	EXPECT_EQ(9ULL, h.tag);
	EXPECT_EQ(a, h.from);
	EXPECT_EQ(0U, h.flags);
	EXPECT_EQ(0U, h.code);
	memset(&m, 0xaa, sizeof(m));
	ASSERT_EQ(0, tm_recv(fd, b, &m, sizeof(m), WAIT));
	EXPECT_EQ(10ULL, m.hdr.tag);
	EXPECT_EQ(0U, m.hdr.len);
	EXPECT_EQ(0xaa, m.data[0]);
	EXPECT_NONE(fd, b);
}

TEST_F(msg, max_msg_size)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), b = SPAWN(fd);
	struct termite_version v;
	struct termite_msghdr *h;
	unsigned char *out, *in;
	__u32 max, i;
	int ret;

	ASSERT_EQ(0, tm_version(fd, &v));
	max = v.max_msg_size;
	TH_LOG("max_msg_size %u", max);
	out = malloc(max + 1);
	in = malloc(HDR + max + 16);
	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, in);
	for (i = 0; i <= max; i++)
		out[i] = (unsigned char)(i * 7 + (i >> 12));

	EXPECT_EQ(-EMSGSIZE, tm_send(fd, a, b, 0, 1, out, max + 1));
	EXPECT_EQ(-EMSGSIZE, tm_send(fd, a, b, 0, 1, out, 0xffffffffu));
	ASSERT_EQ(0, tm_send(fd, a, b, 42, 1, out, max));
	EXPECT_EQ(-EMSGSIZE, tm_send(fd, a, b, 0, 1, out, max + 1));

	/* One byte short: EMSGSIZE, the needed size, still queued. */
	memset(in, 0, HDR + max + 16);
	ret = tm_recv(fd, b, in, HDR + max - 1, WAIT);
	ASSERT_EQ(-EMSGSIZE, ret);
	h = (struct termite_msghdr *)in;
	EXPECT_EQ(max, h->len);
	EXPECT_EQ(42ULL, h->tag);

	memset(in, 0, HDR + max + 16);
	ret = tm_recv(fd, b, in, HDR + max, WAIT);
	ASSERT_EQ((int)max, ret);
	EXPECT_EQ(max, h->len);
	EXPECT_EQ(42ULL, h->tag);
	EXPECT_EQ(1ULL, h->seq);
	EXPECT_EQ(0, memcmp(in + HDR, out, max));
	EXPECT_NONE(fd, b);
	free(out);
	free(in);
}

TEST_F(msg, recv_buffer_too_small)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), b = SPAWN(fd);
	unsigned char payload[100], buf[HDR + 200];
	struct termite_msghdr *h = (struct termite_msghdr *)buf;
	unsigned int i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = i + 1;
	ASSERT_EQ(0, tm_send(fd, a, b, 5, 3, payload, sizeof(payload)));
	SEND_VAL(fd, a, b, 6, 3, 777);

	/* 99 bytes of room: EMSGSIZE and len = 100. */
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ(-EMSGSIZE, tm_recv(fd, b, buf, HDR + 99, WAIT));
	EXPECT_EQ(100U, h->len);
	EXPECT_EQ(a, h->from);
	EXPECT_EQ(5ULL, h->tag);
	EXPECT_EQ(1ULL, h->seq);
	/* Nothing written beyond buf_len. */
	for (i = HDR + 99; i < sizeof(buf); i++)
		ASSERT_EQ(0x5a, buf[i]) TH_LOG("byte %u written", i);

	/* Room for the header only: the same. */
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ(-EMSGSIZE, tm_recv(fd, b, buf, HDR, 0));
	EXPECT_EQ(100U, h->len);
	EXPECT_EQ(5ULL, h->tag);
	for (i = HDR; i < sizeof(buf); i++)
		ASSERT_EQ(0x5a, buf[i]) TH_LOG("byte %u written", i);

	/* Less than a header: EINVAL, nothing taken. */
	EXPECT_EQ(-EINVAL, tm_recv(fd, b, buf, HDR - 1, 0));
	EXPECT_EQ(-EINVAL, tm_recv(fd, b, buf, 0, 0));
	EXPECT_EQ(-EINVAL, tm_recv(fd, b, buf, 1, 0));

	/* The message is still first in line and whole. */
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(100, tm_recv(fd, b, buf, sizeof(buf), WAIT));
	EXPECT_EQ(1ULL, h->seq);
	EXPECT_EQ(0, memcmp(buf + HDR, payload, sizeof(payload)));
	EXPECT_EQ(2ULL, RECV_NEXT(fd, b, 777).seq);
	EXPECT_NONE(fd, b);
}

/* ---- SEND / RECV: errors ------------------------------------------------ */

TEST_F(msg, send_efault)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), b = SPAWN(fd);
	long pg = sysconf(_SC_PAGESIZE);
	struct termite_send s;
	void *none = page_with(PROT_NONE);
	struct tm_msgbuf m;
	char *two;

	ASSERT_NE(NULL, none);
	EXPECT_EQ(-EFAULT, tm_send(fd, a, b, 0, 1, (void *)1, 10));
	EXPECT_EQ(-EFAULT, tm_send(fd, a, b, 0, 1, NULL, 10));
	EXPECT_EQ(-EFAULT, tm_send(fd, a, b, 0, 1, unmapped_page(), 10));
	EXPECT_EQ(-EFAULT, tm_send(fd, a, b, 0, 1, none, 10));
	/* A payload running off the end of its mapping. */
	two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	ASSERT_EQ(0, munmap(two + pg, pg));
	EXPECT_EQ(-EFAULT, tm_send(fd, a, b, 0, 1, two + pg - 4, 8));
	/* The struct itself. */
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_SEND, (void *)1));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_SEND, unmapped_page()));
	memset(&s, 0, sizeof(s));
	s.from = a;
	s.to = b;
	s.kind = 1;
	memcpy(two + pg - sizeof(s) / 2, &s, sizeof(s) / 2);
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_SEND,
				    two + pg - sizeof(s) / 2));
	/* Nothing was queued by any of these... */
	EXPECT_NONE(fd, b);
	/* ...and the last 4 bytes of the mapping make a good payload. */
	memcpy(two + pg - 4, "abc", 4);
	ASSERT_EQ(0, tm_send(fd, a, b, 0, 1, two + pg - 4, 4));
	ASSERT_EQ(4, tm_recv_msg(fd, b, &m, WAIT));
	EXPECT_STREQ("abc", (char *)m.data);
	EXPECT_EQ(1ULL, m.hdr.seq);
	munmap(two, pg);
	munmap(none, pg);
}

TEST_F(msg, recv_efault_keeps_message)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), b = SPAWN(fd);
	long pg = sysconf(_SC_PAGESIZE);
	void *ro = page_with(PROT_READ);
	struct termite_recv r;
	char *two;

	ASSERT_NE(NULL, ro);
	SEND_VAL(fd, a, b, 11, 1, 0xdeadbeef);
	SEND_VAL(fd, a, b, 12, 1, 0xfeedface);

	EXPECT_EQ(-EFAULT, tm_recv(fd, b, (void *)1, 256, WAIT));
	EXPECT_EQ(-EFAULT, tm_recv(fd, b, NULL, 256, WAIT));
	EXPECT_EQ(-EFAULT, tm_recv(fd, b, unmapped_page(), 256, WAIT));
	EXPECT_EQ(-EFAULT, tm_recv(fd, b, ro, 256, WAIT));
	/* The header fits, the payload runs into an unmapped page. */
	two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	ASSERT_EQ(0, munmap(two + pg, pg));
	EXPECT_EQ(-EFAULT, tm_recv(fd, b, two + pg - HDR - 4, 256, WAIT));
	/* With PEEK too. */
	tm_recv_init(&r, b, unmapped_page(), 256, 0);
	r.flags = TERMITE_RECV_PEEK;
	EXPECT_EQ(-EFAULT, tm_recv_req(fd, &r));
	/* The struct itself. */
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_RECV, (void *)1));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_RECV, unmapped_page()));

	/* Nothing was lost, nothing reordered. */
	EXPECT_EQ(1ULL, RECV_NEXT(fd, b, 0xdeadbeef).seq);
	/* A buffer ending exactly at the end of the mapping works. */
	tm_recv_init(&r, b, two + pg - HDR - 8, HDR + 8, WAIT);
	ASSERT_EQ(8, tm_recv_req(fd, &r));
	EXPECT_EQ(12ULL, ((struct termite_msghdr *)(two + pg - HDR - 8))->tag);
	EXPECT_EQ(0, memcmp(two + pg - 8, &(__u64){ 0xfeedface }, 8));
	EXPECT_NONE(fd, b);
	munmap(two, pg);
	munmap(ro, pg);
}

TEST_F(msg, send_errors)
{
	int fd = self->fd, fd2 = OPEN();
	__u64 a = SPAWN(fd), b = SPAWN(fd), c = SPAWN(fd2), d = SPAWN(fd);
	struct termite_send s;
	__u64 val = 1;

	/* The sender must be this port's. */
	EXPECT_EQ(-ENOENT, send_val(fd, c, b, 0, 1, 1));
	EXPECT_EQ(-ENOENT, send_val(fd, FAKE_ID, b, 0, 1, 1));
	EXPECT_EQ(-ENOENT, send_val(fd2, a, b, 0, 1, 1));
	/* The receiver must exist. */
	EXPECT_EQ(-ESRCH, send_val(fd, a, FAKE_ID, 0, 1, 1));
	EXPECT_EQ(-ESRCH, send_val(fd, a, ~0ULL, 0, 1, 1));
	/* Id 0. */
	EXPECT_EQ(-EINVAL, send_val(fd, a, 0, 0, 1, 1));
	EXPECT_EQ(-EINVAL, send_val(fd, 0, b, 0, 1, 1));
	/* Kernel kinds. */
	EXPECT_EQ(-EINVAL, send_val(fd, a, b, 0, TERMITE_KIND_KERNEL, 1));
	EXPECT_EQ(-EINVAL, send_val(fd, a, b, 0, TERMITE_KIND_EXIT, 1));
	EXPECT_EQ(-EINVAL, send_val(fd, a, b, 0, TERMITE_KIND_DOWN, 1));
	EXPECT_EQ(-EINVAL, send_val(fd, a, b, 0, 0xffffffffu, 1));
	/* Unknown flags. */
	EXPECT_EQ(-EINVAL, tm_send_ex(fd, a, b, 0, 1, &val, 8, 2, 0));
	EXPECT_EQ(-EINVAL, tm_send_ex(fd, a, b, 0, 1, &val, 8, 1U << 31, 0));
	EXPECT_EQ(-EINVAL, tm_send_ex(fd, a, b, 0, 1, &val, 8,
				      TERMITE_SEND_BLOCK | 4, 0));
	/* Reserved fields. */
	memset(&s, 0, sizeof(s));
	s.from = a;
	s.to = b;
	s.kind = 1;
	s.buf = (__u64)(uintptr_t)&val;
	s.len = 8;
	s.reserved0 = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_SEND, &s));
	s.reserved0 = 0;
	s.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_SEND, &s));
	s.reserved[0] = 0;
	s.reserved[1] = 1ULL << 63;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_SEND, &s));
	/* The same struct, cleaned, works. */
	s.reserved[1] = 0;
	EXPECT_EQ(0, tm_ioctl(fd, TERMITE_IOC_SEND, &s));
	RECV_NEXT(fd, b, 1);
	/* None of the failures queued anything. */
	EXPECT_NONE(fd, b);

	/* An actor that exited is gone for senders. */
	ASSERT_EQ(0, tm_exit(fd, d, TERMITE_EXIT_NORMAL, NULL, 0));
	EXPECT_EQ(-ESRCH, send_val(fd, a, d, 0, 1, 1));
	EXPECT_EQ(-ENOENT, send_val(fd, d, a, 0, 1, 1));
	/* Sending to another port's actor is fine. */
	SEND_VAL(fd, a, c, 3, 1, 33);
	RECV_NEXT(fd2, c, 33);
	close(fd2);
}

TEST_F(msg, recv_errors)
{
	int fd = self->fd, fd2 = OPEN();
	__u64 a = SPAWN(fd), b = SPAWN(fd), c = SPAWN(fd2);
	struct termite_recv r;
	struct vmsg m;

	SEND_VAL(fd, b, a, 0, 1, 5);
	SEND_VAL(fd, b, c, 0, 1, 6);
	EXPECT_EQ(-ENOENT, tm_recv(fd, c, &m, sizeof(m), 0));
	EXPECT_EQ(-ENOENT, tm_recv(fd2, a, &m, sizeof(m), 0));
	EXPECT_EQ(-ENOENT, tm_recv(fd, FAKE_ID, &m, sizeof(m), 0));
	EXPECT_EQ(-EINVAL, tm_recv(fd, 0, &m, sizeof(m), 0));

	tm_recv_init(&r, a, &m, sizeof(m), 0);
	r.flags = 1U << 7;
	EXPECT_EQ(-EINVAL, tm_recv_req(fd, &r));
	r.flags = 1U << 31;
	EXPECT_EQ(-EINVAL, tm_recv_req(fd, &r));
	r.flags = 0;
	r.reserved0 = 1;
	EXPECT_EQ(-EINVAL, tm_recv_req(fd, &r));
	r.reserved0 = 0;
	r.flags = TERMITE_RECV_AFTER | TERMITE_RECV_SEQ;
	EXPECT_EQ(-EINVAL, tm_recv_req(fd, &r));
	r.flags = TERMITE_RECV_AFTER | TERMITE_RECV_SEQ | TERMITE_RECV_PEEK;
	EXPECT_EQ(-EINVAL, tm_recv_req(fd, &r));

	/* Nothing was taken: both messages are still there. */
	RECV_NEXT(fd, a, 5);
	RECV_NEXT(fd2, c, 6);

	/* An exited actor cannot receive. */
	ASSERT_EQ(0, tm_exit(fd, a, TERMITE_EXIT_NORMAL, NULL, 0));
	EXPECT_EQ(-ENOENT, tm_recv(fd, a, &m, sizeof(m), 0));
	EXPECT_EQ(-ENOENT, tm_recv(fd, a, &m, sizeof(m), WAIT));
	close(fd2);
}

/* Every operation naming another port's actor as its own gives ENOENT. */
TEST_F(msg, foreign_actor)
{
	int fd = self->fd, fd2 = OPEN();
	__u64 a = SPAWN(fd), b = SPAWN(fd), x = SPAWN(fd2);
	struct termite_exit e;
	struct vmsg m;
	__u64 out;
	char name[TERMITE_NAME_MAX];

	EXPECT_EQ(-ENOENT, tm_recv(fd2, a, &m, sizeof(m), 0));
	EXPECT_EQ(-ENOENT, send_val(fd2, a, x, 0, 1, 1));
	EXPECT_EQ(-ENOENT, tm_setopt(fd2, a, TERMITE_OPT_MODE,
				     TERMITE_MODE_TRAP, &out));
	EXPECT_EQ(-ENOENT, tm_make_tag(fd2, a, &out));
	EXPECT_EQ(-ENOENT, tm_exit(fd2, a, TERMITE_EXIT_ERROR, NULL, 0));
	EXPECT_EQ(-ENOENT, tm_signal(fd2, a, x, TERMITE_EXIT_ERROR, NULL, 0));
	EXPECT_EQ(-ENOENT, tm_link(fd2, a, x, TERMITE_LINK_BOTH));
	EXPECT_EQ(-ENOENT, tm_unlink(fd2, a, x, TERMITE_LINK_BOTH));
	EXPECT_EQ(-ENOENT, tm_monitor(fd2, a, x, &out));
	snprintf(name, sizeof(name), "msg_test.%d.foreign", getpid());
	EXPECT_EQ(-ENOENT, tm_register(fd2, a, name));
	EXPECT_EQ(-ENOENT, tm_whereis(fd2, name, &out));
	memset(&e, 0, sizeof(e));
	e.actor = a;
	e.code = TERMITE_EXIT_KILLED;
	EXPECT_EQ(-ENOENT, tm_ioctl(fd2, TERMITE_IOC_EXIT, &e));

	/* a is unharmed: alive, in its own mode, reachable from fd2. */
	SEND_VAL(fd2, x, a, 0, 1, 42);
	EXPECT_EQ(x, RECV_NEXT(fd, a, 42).from);
	EXPECT_NONE(fd, a);
	ASSERT_EQ(0, tm_setopt(fd, a, TERMITE_OPT_MODE, TERMITE_MODE_DELIVER,
			       &out));
	EXPECT_EQ((__u64)TERMITE_MODE_DELIVER, out);
	SEND_VAL(fd, a, b, 0, 1, 43);
	RECV_NEXT(fd, b, 43);
	close(fd2);
}

/* ---- across OS processes ------------------------------------------------ */

/*
 * The child of cross_process: opens its own port, spawns an actor, trades
 * ids with the parent through pipes, sends to the parent's actor both
 * through its own port and through the parent's port it inherited, and
 * checks the parent's reply.  Returns 0, or the number of the failed step.
 */
static int cross_child(int pfd, int rfd, int wfd)
{
	struct tm_msgbuf m;
	__u64 c, p = 0;
	int fd, ret;

	fd = tm_open();
	if (fd < 0)
		return 10;
	c = tm_spawn(fd);
	if (!c)
		return 11;
	if (write(wfd, &c, sizeof(c)) != sizeof(c))
		return 12;
	if (read(rfd, &p, sizeof(p)) != sizeof(p))
		return 13;
	/* The parent's actor is not this port's. */
	if (tm_recv_msg(fd, p, &m, 0) != -ENOENT)
		return 14;
	if (tm_send(fd, c, p, 1, 1, "ping", 4))
		return 15;
	/* Through the inherited port: from the parent's actor, our pid. */
	if (tm_send(pfd, p, p, 2, 1, "inherited", 9))
		return 16;
	ret = tm_recv_msg(fd, c, &m, WAIT);
	if (ret != 4)
		return 17;
	if (m.hdr.from != p)
		return 18;
	if (m.hdr.pid != (__u32)getppid())
		return 19;
	if (m.hdr.uid != (__u32)getuid())
		return 20;
	if (m.hdr.tag != 3 || memcmp(m.data, "pong", 4))
		return 21;
	if (tm_recv_msg(fd, c, &m, 0) != -EAGAIN)
		return 22;
	close(fd);
	return 0;
}

TEST_F(msg, cross_process)
{
	int fd = self->fd;
	__u64 p = SPAWN(fd), cid = 0;
	int c2p[2], p2c[2], status;
	struct termite_recv r;
	struct tm_msgbuf m;
	pid_t pid;

	ASSERT_EQ(0, pipe(c2p));
	ASSERT_EQ(0, pipe(p2c));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(c2p[0]);
		close(p2c[1]);
		_exit(cross_child(fd, p2c[0], c2p[1]));
	}
	close(c2p[1]);
	close(p2c[0]);
	ASSERT_EQ((ssize_t)sizeof(cid), read(c2p[0], &cid, sizeof(cid)));
	ASSERT_NE(0ULL, cid);
	ASSERT_EQ((ssize_t)sizeof(p), write(p2c[1], &p, sizeof(p)));

	/* From the child's actor, through the child's port. */
	memset(&m, 0, sizeof(m));
	tm_recv_init(&r, p, &m, sizeof(m), WAIT);
	r.flags = TERMITE_MATCH_TAG;
	r.tag = 1;
	ASSERT_EQ(4, tm_recv_req(fd, &r));
	EXPECT_EQ(cid, m.hdr.from);
	EXPECT_EQ((__u32)pid, m.hdr.pid);
	EXPECT_EQ((__u32)getuid(), m.hdr.uid);
	EXPECT_EQ(0, memcmp(m.data, "ping", 4));
	/* From our own actor, but sent by the child process. */
	memset(&m, 0, sizeof(m));
	r.tag = 2;
	ASSERT_EQ(9, tm_recv_req(fd, &r));
	EXPECT_EQ(p, m.hdr.from);
	EXPECT_EQ((__u32)pid, m.hdr.pid) TH_LOG("the sender is the child process, not the port's opener");
	EXPECT_EQ(0, memcmp(m.data, "inherited", 9));
	EXPECT_NONE(fd, p);

	ASSERT_EQ(0, tm_send(fd, p, cid, 3, 1, "pong", 4));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child failed at step %d",
						 WEXITSTATUS(status));
	/* The child's port closed with its exit: its actor is gone. */
	EXPECT_EQ(-ESRCH, tm_send(fd, p, cid, 0, 1, NULL, 0));
	close(c2p[0]);
	close(p2c[1]);
}

/* ---- FIFO per pair, under concurrency ------------------------------------ */

#define FIFO_THREADS	4
#define FIFO_MSGS	2000

struct fifo_sender {
	pthread_t th;
	pthread_barrier_t *bar;
	__u64 to;		/* the receiver */
	__u64 id;		/* this sender's actor */
	int idx;
	int err;		/* first error, -errno */
	int fail_at;
};

static void *fifo_send_thread(void *arg)
{
	struct fifo_sender *t = arg;
	int fd, i, ret;

	fd = tm_open();
	if (fd >= 0)
		t->id = tm_spawn(fd);
	pthread_barrier_wait(t->bar);
	if (fd < 0 || !t->id) {
		t->err = fd < 0 ? fd : -ENOMEM;
		t->fail_at = -1;
		goto out;
	}
	for (i = 0; i < FIFO_MSGS; i++) {
		__u64 payload[2] = { t->idx, i };

		ret = tm_send_ex(fd, t->id, t->to, i, 1, payload,
				 sizeof(payload), TERMITE_SEND_BLOCK, WAIT);
		if (ret) {
			t->err = ret;
			t->fail_at = i;
			break;
		}
		if (!(i % 64))
			sched_yield();
	}
out:
	/* Keep the port (and the actor) until everything was received. */
	pthread_barrier_wait(t->bar);
	if (fd >= 0)
		close(fd);
	return NULL;
}

TEST_F(msg, fifo_concurrent)
{
	int fd = self->fd;
	__u64 r = SPAWN(fd);
	struct fifo_sender t[FIFO_THREADS], *failed;
	int next[FIFO_THREADS] = { 0 };
	pthread_barrier_t bar;
	int i, k, ret, switches = 0, last = -1;
	int bad = 0, bad_ret = 0;
	struct {
		struct termite_msghdr hdr;
		__u64 payload[2];
	} m;
	__s64 t0;

	ASSERT_EQ(0, pthread_barrier_init(&bar, NULL, FIFO_THREADS + 1));
	memset(t, 0, sizeof(t));
	for (i = 0; i < FIFO_THREADS; i++) {
		t[i].bar = &bar;
		t[i].to = r;
		t[i].idx = i;
		ASSERT_EQ(0, pthread_create(&t[i].th, NULL, fifo_send_thread,
					    &t[i]));
	}
	pthread_barrier_wait(&bar);
	t0 = tm_now_ns();

	/* Receive while they send. */
	for (k = 0; k < FIFO_THREADS * FIFO_MSGS && !bad; k++) {
		memset(&m, 0, sizeof(m));
		ret = tm_recv(fd, r, &m, sizeof(m), WAIT);
		if (ret != sizeof(m.payload)) {
			bad = 1;
			bad_ret = ret;
			break;
		}
		for (i = 0; i < FIFO_THREADS; i++)
			if (t[i].id && m.hdr.from == t[i].id)
				break;
		if (i == FIFO_THREADS || m.payload[0] != (__u64)i ||
		    m.payload[1] != (__u64)next[i] ||
		    m.hdr.tag != (__u64)next[i] ||
		    m.hdr.pid != (__u32)getpid() ||
		    m.hdr.seq != (__u64)k + 1) {
			bad = 2;
			break;
		}
		next[i]++;
		switches += last != i;
		last = i;
	}
	pthread_barrier_wait(&bar);
	for (i = 0; i < FIFO_THREADS; i++)
		pthread_join(t[i].th, NULL);
	pthread_barrier_destroy(&bar);
	TH_LOG("%d messages from %d senders in %lld ms, %d sender switches",
	       k, FIFO_THREADS, (long long)((tm_now_ns() - t0) / TM_NSEC_PER_MSEC),
	       switches);

	for (i = 0, failed = NULL; i < FIFO_THREADS && !failed; i++)
		if (t[i].err)
			failed = &t[i];
	EXPECT_EQ(NULL, failed) TH_LOG("sender %d failed at message %d: %s",
				       failed->idx, failed->fail_at,
				       strerror(-failed->err));
	ASSERT_NE(1, bad) TH_LOG("message %d: recv = %d (%s)", k, bad_ret,
				 strerror(-bad_ret));
	ASSERT_EQ(0, bad)
		TH_LOG("message %d: from %#llx payload (%llu, %llu) tag %llu pid %u seq %llu; expected from sender %d message %d",
		       k, (unsigned long long)m.hdr.from,
		       (unsigned long long)m.payload[0],
		       (unsigned long long)m.payload[1],
		       (unsigned long long)m.hdr.tag, m.hdr.pid,
		       (unsigned long long)m.hdr.seq, i,
		       i < FIFO_THREADS ? next[i] : -1);
	for (i = 0; i < FIFO_THREADS; i++)
		EXPECT_EQ(FIFO_MSGS, next[i]);
	EXPECT_NONE(fd, r);
}

/* ---- selective receive ---------------------------------------------------- */

TEST_F(msg, match_from)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), b = SPAWN(fd), c = SPAWN(fd), r = SPAWN(fd);
	struct termite_recv q;

	SEND_VAL(fd, a, r, 0, 1, 1);
	SEND_VAL(fd, b, r, 0, 1, 2);
	SEND_VAL(fd, a, r, 0, 1, 3);
	SEND_VAL(fd, b, r, 0, 1, 4);
	SEND_VAL(fd, a, r, 0, 1, 5);

	sel_init(&q, r, TERMITE_MATCH_FROM);
	q.from = b;
	EXPECT_EQ(b, RECV_VAL(fd, &q, 2).from);
	EXPECT_EQ(4ULL, RECV_VAL(fd, &q, 4).seq);
	EXPECT_NONE_SEL(fd, r, &q);
	q.from = c;
	EXPECT_NONE_SEL(fd, r, &q);
	q.from = FAKE_ID;
	EXPECT_NONE_SEL(fd, r, &q);
	/* The others stayed, in order. */
	EXPECT_EQ(1ULL, RECV_NEXT(fd, r, 1).seq);
	EXPECT_EQ(3ULL, RECV_NEXT(fd, r, 3).seq);
	EXPECT_EQ(5ULL, RECV_NEXT(fd, r, 5).seq);
	EXPECT_NONE(fd, r);
}

TEST_F(msg, match_tag_kind)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), r = SPAWN(fd);
	struct termite_recv q;

	SEND_VAL(fd, a, r, 10, 100, 1);
	SEND_VAL(fd, a, r, 20, 200, 2);
	SEND_VAL(fd, a, r, 10, 200, 3);
	SEND_VAL(fd, a, r, 20, 100, 4);
	SEND_VAL(fd, a, r, 0, 0, 5);
	SEND_VAL(fd, a, r, 30, 300, 6);

	/* Tag 20: 2 then 4. */
	sel_init(&q, r, TERMITE_MATCH_TAG);
	q.tag = 20;
	EXPECT_EQ(20ULL, RECV_VAL(fd, &q, 2).tag);
	/* Kind 200 and tag 10: 3 (1 has the tag, not the kind). */
	sel_init(&q, r, TERMITE_MATCH_TAG | TERMITE_MATCH_KIND);
	q.tag = 10;
	q.kind = 200;
	EXPECT_EQ(200U, RECV_VAL(fd, &q, 3).kind);
	EXPECT_NONE_SEL(fd, r, &q);
	/* Kind 100: 1 then 4. */
	sel_init(&q, r, TERMITE_MATCH_KIND);
	q.kind = 100;
	RECV_VAL(fd, &q, 1);
	RECV_VAL(fd, &q, 4);
	EXPECT_NONE_SEL(fd, r, &q);
	/* Tag 0 and kind 0 are ordinary values to match. */
	sel_init(&q, r, TERMITE_MATCH_TAG | TERMITE_MATCH_KIND);
	RECV_VAL(fd, &q, 5);
	/* The match fields are ignored without their flags. */
	sel_init(&q, r, 0);
	q.tag = 12345;
	q.kind = 999;
	q.from = FAKE_ID;
	q.mask[0] = 0xff;
	q.data[0] = 0x77;
	q.data_off = 1000;
	RECV_VAL(fd, &q, 6);
	EXPECT_NONE(fd, r);
}

TEST_F(msg, match_data)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), b = SPAWN(fd), r = SPAWN(fd);
	static const unsigned char p1[] = { 0x10, 0x20, 0x30, 0x40 };
	static const unsigned char p2[] = { 0x11, 0x22, 0x33, 0x44, 0x55 };
	static const unsigned char p3[] = { 0x10, 0x2f, 0x30 };
	unsigned char p4[16];
	struct termite_recv q;
	struct tm_msgbuf m;
	int i;

	for (i = 0; i < 16; i++)
		p4[i] = 0xa0 + i;
	ASSERT_EQ(0, tm_send(fd, a, r, 1, 1, p1, sizeof(p1)));	/* seq 1 */
	ASSERT_EQ(0, tm_send(fd, b, r, 2, 1, p2, sizeof(p2)));	/* seq 2 */
	ASSERT_EQ(0, tm_send(fd, a, r, 3, 1, p3, sizeof(p3)));	/* seq 3 */
	ASSERT_EQ(0, tm_send(fd, b, r, 4, 1, p4, sizeof(p4)));	/* seq 4 */
	ASSERT_EQ(0, tm_send(fd, a, r, 5, 1, NULL, 0));		/* seq 5 */

#define PEEK_TAG(q) ({							\
	int __ret;							\
	memset(&m, 0, sizeof(m));					\
	(q)->buf = (__u64)(uintptr_t)&m;				\
	(q)->buf_len = sizeof(m);					\
	__ret = tm_recv_req(fd, (q));					\
	__ret < 0 ? (__u64)(__s64)__ret : m.hdr.tag; })

	/* data_off 1, exact byte 0x20: only p1. */
	sel_init(&q, r, TERMITE_MATCH_DATA | TERMITE_RECV_PEEK);
	q.data_off = 1;
	q.data[0] = 0x20;
	q.mask[0] = 0xff;
	EXPECT_EQ(1ULL, PEEK_TAG(&q));
	/* High nibble 0x2: p1 (0x20), p2 (0x22) and p3 (0x2f): the first. */
	q.data[0] = 0x2c;
	q.mask[0] = 0xf0;
	EXPECT_EQ(1ULL, PEEK_TAG(&q));
	/* Low nibble 0xf: p3 only. */
	q.data[0] = 0x0f;
	q.mask[0] = 0x0f;
	EXPECT_EQ(3ULL, PEEK_TAG(&q));
	/* Two bytes: 0x33 0x44 at offset 2: p2. */
	q.data_off = 2;
	q.data[0] = 0x33;
	q.data[1] = 0x44;
	q.mask[0] = 0xff;
	q.mask[1] = 0xff;
	EXPECT_EQ(2ULL, PEEK_TAG(&q));
	/* A mask bit on a byte past the end (p2 has 5): no match. */
	q.data_off = 3;
	q.data[0] = 0x44;
	q.data[1] = 0x55;
	q.data[2] = 0x00;
	q.mask[0] = 0xff;
	q.mask[1] = 0xff;
	q.mask[2] = 0x01;
	EXPECT_EQ((__u64)(__s64)-EAGAIN, PEEK_TAG(&q));
	/* Without that bit it matches; mask 0 bytes may lie past the end. */
	q.mask[2] = 0;
	q.data[7] = 0x99;
	EXPECT_EQ(2ULL, PEEK_TAG(&q));
	/* All 8 bytes of p4 at offset 8: exactly to the end. */
	memset(&q.mask, 0xff, 8);
	q.data_off = 8;
	memcpy(q.data, p4 + 8, 8);
	EXPECT_EQ(4ULL, PEEK_TAG(&q));
	/* One further: the last byte is past the end. */
	q.data_off = 9;
	memcpy(q.data, p4 + 9, 7);
	q.data[7] = 0;
	EXPECT_EQ((__u64)(__s64)-EAGAIN, PEEK_TAG(&q));
	/* ...unless that byte's mask is 0. */
	q.mask[7] = 0;
	EXPECT_EQ(4ULL, PEEK_TAG(&q));
	/* Far out of range, a set bit never matches... */
	memset(&q.mask, 0, 8);
	memset(&q.data, 0, 8);
	q.mask[0] = 0x80;
	q.data_off = 0xffff;
	EXPECT_EQ((__u64)(__s64)-EAGAIN, PEEK_TAG(&q));
	/* ...an empty mask matches everything, even an empty payload. */
	q.mask[0] = 0;
	EXPECT_EQ(1ULL, PEEK_TAG(&q));
	/* A set bit never matches an empty payload. */
	sel_init(&q, r, TERMITE_MATCH_DATA | TERMITE_MATCH_TAG |
			TERMITE_RECV_PEEK);
	q.tag = 5;
	EXPECT_EQ(5ULL, PEEK_TAG(&q));
	q.mask[0] = 0x01;
	EXPECT_EQ((__u64)(__s64)-EAGAIN, PEEK_TAG(&q));
	q.data[0] = 0x01;
	EXPECT_EQ((__u64)(__s64)-EAGAIN, PEEK_TAG(&q));

	/* Combined with FROM: byte 0 == 0x10 from a is p1, not from b. */
	sel_init(&q, r, TERMITE_MATCH_DATA | TERMITE_MATCH_FROM);
	q.data[0] = 0x10;
	q.mask[0] = 0xff;
	q.from = b;
	EXPECT_NONE_SEL(fd, r, &q);
	q.from = a;
	/* Take p1 for real now; then the same request finds p3. */
	EXPECT_EQ(1ULL, PEEK_TAG(&q));
	EXPECT_EQ(1ULL, m.hdr.seq);
	EXPECT_EQ((__u32)sizeof(p1), m.hdr.len);
	EXPECT_EQ(0, memcmp(m.data, p1, sizeof(p1)));
	EXPECT_EQ(3ULL, PEEK_TAG(&q));
	EXPECT_EQ(3ULL, m.hdr.seq);
	EXPECT_NONE_SEL(fd, r, &q);

	/* The rest, untouched by all the peeking, in order. */
	for (i = 2; i <= 5; i += i == 2 ? 2 : 1) {
		memset(&m, 0, sizeof(m));
		ASSERT_LE(0, tm_recv_msg(fd, r, &m, 0));
		EXPECT_EQ((__u64)i, m.hdr.tag);
		EXPECT_EQ((__u64)i, m.hdr.seq);
	}
	EXPECT_NONE(fd, r);
#undef PEEK_TAG
}

/*
 * The example of the Termite paper: send 1, 2, 3 to self; a plain receive
 * gets 1; a receive of the first odd number gets 3, done by the library
 * with the cursor (PEEK to look, AFTER to walk on, SEQ to take); a plain
 * receive then gets 2.
 */
TEST_F(msg, paper_example_cursor)
{
	int fd = self->fd;
	__u64 self_id = SPAWN(fd);
	struct termite_msghdr h;
	struct termite_recv q;
	__u64 cursor = 0, found = 0;
	struct vmsg m;
	int steps = 0;

	SEND_VAL(fd, self_id, self_id, 0, 1, 1);
	SEND_VAL(fd, self_id, self_id, 0, 1, 2);
	SEND_VAL(fd, self_id, self_id, 0, 1, 3);

	RECV_NEXT(fd, self_id, 1);

	/* Walk: PEEK the first, then PEEK|AFTER the previous seq. */
	for (;;) {
		int ret;

		memset(&m, 0, sizeof(m));
		tm_recv_init(&q, self_id, &m, sizeof(m), 0);
		q.flags = TERMITE_RECV_PEEK;
		if (cursor) {
			q.flags |= TERMITE_RECV_AFTER;
			q.cursor = cursor;
		}
		ret = tm_recv_req(fd, &q);
		ASSERT_EQ(8, ret) TH_LOG("step %d: %s", steps, strerror(-ret));
		ASSERT_LT(cursor, m.hdr.seq);
		cursor = m.hdr.seq;
		steps++;
		if (m.val % 2) {
			found = m.hdr.seq;
			break;
		}
		ASSERT_EQ(2ULL, m.val);
	}
	EXPECT_EQ(2, steps);
	EXPECT_EQ(3ULL, found);
	/* Take exactly that one. */
	sel_init(&q, self_id, TERMITE_RECV_SEQ);
	q.cursor = found;
	h = RECV_VAL(fd, &q, 3);
	EXPECT_EQ(found, h.seq);
	/* It is gone now. */
	tm_recv_init(&q, self_id, &m, sizeof(m), 0);
	q.flags = TERMITE_RECV_SEQ;
	q.cursor = found;
	EXPECT_EQ(-ENOMSG, tm_recv_req(fd, &q));
	/* Even when willing to wait: it will not come back. */
	q.timeout_ns = WAIT;
	EXPECT_EQ(-ENOMSG, tm_recv_req(fd, &q));
	q.flags = TERMITE_RECV_SEQ | TERMITE_RECV_PEEK;
	EXPECT_EQ(-ENOMSG, tm_recv_req(fd, &q));
	/* The one taken by the very first receive, too. */
	q.cursor = 1;
	q.timeout_ns = 0;
	EXPECT_EQ(-ENOMSG, tm_recv_req(fd, &q));
	/* AFTER and SEQ together are invalid. */
	q.flags = TERMITE_RECV_SEQ | TERMITE_RECV_AFTER;
	q.cursor = 2;
	EXPECT_EQ(-EINVAL, tm_recv_req(fd, &q));
	RECV_NEXT(fd, self_id, 2);
	EXPECT_NONE(fd, self_id);
}

TEST_F(msg, cursor)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), r = SPAWN(fd);
	struct termite_msghdr h;
	struct termite_recv q;
	struct vmsg m;
	int i;

	for (i = 1; i <= 6; i++)
		SEND_VAL(fd, a, r, i % 2, 1, i);

	/* PEEK leaves the message: twice the same. */
	sel_init(&q, r, TERMITE_RECV_PEEK);
	EXPECT_EQ(1ULL, RECV_VAL(fd, &q, 1).seq);
	EXPECT_EQ(1ULL, RECV_VAL(fd, &q, 1).seq);
	/* AFTER alone takes the first message after the cursor. */
	sel_init(&q, r, TERMITE_RECV_AFTER);
	q.cursor = 2;
	EXPECT_EQ(3ULL, RECV_VAL(fd, &q, 3).seq);
	/* ... and combines with a match: tag 0 after seq 1 is 2. */
	sel_init(&q, r, TERMITE_RECV_AFTER | TERMITE_MATCH_TAG);
	q.cursor = 1;
	q.tag = 0;
	EXPECT_EQ(2ULL, RECV_VAL(fd, &q, 2).seq);
	/* A cursor naming a removed message still works as a position. */
	q.cursor = 3;
	q.tag = 1;
	EXPECT_EQ(5ULL, RECV_VAL(fd, &q, 5).seq);
	/* After the last: nothing. */
	sel_init(&q, r, TERMITE_RECV_AFTER | TERMITE_RECV_PEEK);
	q.cursor = 6;
	EXPECT_NONE_SEL(fd, r, &q);
	q.cursor = 1000;
	EXPECT_NONE_SEL(fd, r, &q);
	/* SEQ with a match the message satisfies. */
	sel_init(&q, r, TERMITE_RECV_SEQ | TERMITE_MATCH_TAG);
	q.cursor = 4;
	q.tag = 0;
	EXPECT_EQ(4ULL, RECV_VAL(fd, &q, 4).seq);
	/* SEQ of messages taken by other kinds of receive. */
	tm_recv_init(&q, r, &m, sizeof(m), 0);
	q.flags = TERMITE_RECV_SEQ;
	q.cursor = 3;
	EXPECT_EQ(-ENOMSG, tm_recv_req(fd, &q));
	q.cursor = 5;
	EXPECT_EQ(-ENOMSG, tm_recv_req(fd, &q));
	/* Left: 1 and 6, in order; seq numbering went on. */
	RECV_NEXT(fd, r, 1);
	h = RECV_NEXT(fd, r, 6);
	EXPECT_EQ(6ULL, h.seq);
	SEND_VAL(fd, a, r, 0, 1, 7);
	EXPECT_EQ(7ULL, RECV_NEXT(fd, r, 7).seq);
	EXPECT_NONE(fd, r);
}

/* No seq is greater than the largest cursor: nothing comes after it. */
TEST_F(msg, cursor_after_max)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd);
	struct termite_recv q;

	SEND_VAL(fd, a, a, 0, 1, 1);
	SEND_VAL(fd, a, a, 0, 1, 2);
	sel_init(&q, a, TERMITE_RECV_AFTER | TERMITE_RECV_PEEK);
	q.cursor = ~0ULL;
	EXPECT_NONE_SEL(fd, a, &q);
	q.cursor = ~0ULL - 1;
	EXPECT_NONE_SEL(fd, a, &q);
	sel_init(&q, a, TERMITE_RECV_AFTER);
	q.cursor = ~0ULL;
	EXPECT_NONE_SEL(fd, a, &q);
	/* Still both there, in order. */
	RECV_NEXT(fd, a, 1);
	RECV_NEXT(fd, a, 2);
	EXPECT_NONE(fd, a);
}

/* ---- MAKE_TAG -------------------------------------------------------------- */

#define NTAGS 200

TEST_F(msg, make_tag)
{
	int fd = self->fd, fd2 = OPEN();
	__u64 a = SPAWN(fd), x = SPAWN(fd2), dead = SPAWN(fd);
	__u64 tags[NTAGS], dup;
	struct termite_tag t;
	void *ro = page_with(PROT_READ);
	int i;

	ASSERT_NE(NULL, ro);
	for (i = 0; i < NTAGS; i++) {
		memset(&t, 0, sizeof(t));
		t.tag = FAKE_ID;	/* output only */
		t.actor = i % 3 == 2 ? a : 0;
		ASSERT_EQ(0, tm_ioctl(fd, TERMITE_IOC_MAKE_TAG, &t));
		tags[i] = t.tag;
	}
	qsort(tags, NTAGS, sizeof(tags[0]), cmp_u64);
	EXPECT_NE(0ULL, tags[0]);
	for (i = 1, dup = 0; i < NTAGS; i++)
		if (tags[i - 1] == tags[i] || tags[i] == FAKE_ID)
			dup = tags[i];
	EXPECT_EQ(0ULL, dup) TH_LOG("tag %#llx repeated (or not written)",
				    (unsigned long long)dup);
	/* Another port's tags are distinct too: they are global. */
	ASSERT_EQ(0, tm_make_tag(fd2, x, &t.tag));
	EXPECT_EQ(NULL, bsearch(&t.tag, tags, NTAGS, sizeof(tags[0]), cmp_u64));

	memset(&t, 0, sizeof(t));
	t.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_MAKE_TAG, &t));
	memset(&t, 0, sizeof(t));
	t.reserved[1] = 1ULL << 63;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_MAKE_TAG, &t));
	EXPECT_EQ(-ENOENT, tm_make_tag(fd, x, &t.tag));
	EXPECT_EQ(-ENOENT, tm_make_tag(fd, FAKE_ID, &t.tag));
	ASSERT_EQ(0, tm_exit(fd, dead, TERMITE_EXIT_NORMAL, NULL, 0));
	EXPECT_EQ(-ENOENT, tm_make_tag(fd, dead, &t.tag));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_MAKE_TAG, (void *)1));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_MAKE_TAG, unmapped_page()));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_MAKE_TAG, ro));
	munmap(ro, sysconf(_SC_PAGESIZE));
	close(fd2);
}

#define BACKLOG 10000

/*
 * MAKE_TAG naming the receiver, then a receive matching the tag: the
 * reply is found behind a long backlog, nothing else is disturbed.
 */
TEST_F(msg, make_tag_reply_behind_backlog)
{
	int fd = self->fd;
	__u64 r = SPAWN(fd), s = SPAWN(fd);
	struct termite_recv q;
	struct termite_msghdr h;
	__u64 tag, old_tag, other;
	__s64 t0, t_marked, t_scan;
	int i;

	for (i = 0; i < BACKLOG; i++)
		SEND_VAL(fd, s, r, i + 1, 1, i);
	/* A reply to an older request, queued before the new MAKE_TAG. */
	ASSERT_EQ(0, tm_make_tag(fd, r, &old_tag));
	SEND_VAL(fd, s, r, old_tag, 2, 0x01d);
	ASSERT_EQ(0, tm_make_tag(fd, r, &tag));
	ASSERT_NE(old_tag, tag);
	/* After the mark: some noise, the reply, more noise, a 2nd reply. */
	SEND_VAL(fd, s, r, 7, 1, 0x100);
	SEND_VAL(fd, s, r, tag, 2, 0xabc);
	SEND_VAL(fd, s, r, 8, 1, 0x101);
	SEND_VAL(fd, s, r, tag, 2, 0xabd);

	sel_init(&q, r, TERMITE_MATCH_TAG);
	q.tag = tag;
	t0 = tm_now_ns();
	h = RECV_VAL(fd, &q, 0xabc);
	t_marked = tm_now_ns() - t0;
	EXPECT_EQ(tag, h.tag);
	EXPECT_EQ(BACKLOG + 3ULL, h.seq);
	EXPECT_EQ(BACKLOG + 5ULL, RECV_VAL(fd, &q, 0xabd).seq);
	EXPECT_NONE_SEL(fd, r, &q);

	/* The older reply is still found: it is not this mark's tag. */
	q.tag = old_tag;
	h = RECV_VAL(fd, &q, 0x01d);
	EXPECT_EQ(BACKLOG + 1ULL, h.seq);
	/* A tag nobody used: a full scan, for the log. */
	ASSERT_EQ(0, tm_make_tag(fd, 0, &other));
	q.tag = other;
	t0 = tm_now_ns();
	EXPECT_NONE_SEL(fd, r, &q);
	t_scan = tm_now_ns() - t0;
	TH_LOG("receive of the reply behind %d messages: %lld us; failed full scan: %lld us",
	       BACKLOG, (long long)t_marked / 1000, (long long)t_scan / 1000);

	/* Everything else, in order. */
	for (i = 0; i < BACKLOG; i++) {
		struct vmsg m;

		memset(&m, 0, sizeof(m));
		if (tm_recv(fd, r, &m, sizeof(m), 0) != 8 || m.val != (__u64)i ||
		    m.hdr.seq != (__u64)i + 1 || m.hdr.tag != (__u64)i + 1)
			break;
	}
	ASSERT_EQ(BACKLOG, i) TH_LOG("backlog message %d wrong or missing", i);
	EXPECT_EQ(BACKLOG + 2ULL, RECV_NEXT(fd, r, 0x100).seq);
	EXPECT_EQ(BACKLOG + 4ULL, RECV_NEXT(fd, r, 0x101).seq);
	EXPECT_NONE(fd, r);
}

/* The mark survives the removal of the messages around it. */
TEST_F(msg, make_tag_mark_edges)
{
	int fd = self->fd;
	__u64 r = SPAWN(fd), s = SPAWN(fd);
	struct termite_recv q;
	__u64 tag;
	int i;

	for (i = 0; i < 5; i++)
		SEND_VAL(fd, s, r, 0, 1, i);		/* seq 1..5 */
	ASSERT_EQ(0, tm_make_tag(fd, r, &tag));
	SEND_VAL(fd, s, r, 0, 1, 5);			/* seq 6: first after the mark */
	SEND_VAL(fd, s, r, 0, 1, 6);			/* seq 7 */
	SEND_VAL(fd, s, r, tag, 1, 7);			/* seq 8: the reply */
	/* Take the first message after the mark, and the one before it. */
	sel_init(&q, r, TERMITE_RECV_SEQ);
	q.cursor = 6;
	RECV_VAL(fd, &q, 5);
	q.cursor = 5;
	RECV_VAL(fd, &q, 4);
	/* And everything from the front. */
	for (i = 0; i < 4; i++)
		RECV_NEXT(fd, r, i);
	sel_init(&q, r, TERMITE_MATCH_TAG);
	q.tag = tag;
	EXPECT_EQ(8ULL, RECV_VAL(fd, &q, 7).seq);
	RECV_NEXT(fd, r, 6);
	EXPECT_NONE(fd, r);

	/* A mark on an empty mailbox; the reply is the first message. */
	ASSERT_EQ(0, tm_make_tag(fd, r, &tag));
	SEND_VAL(fd, s, r, tag, 1, 8);
	q.tag = tag;
	EXPECT_EQ(9ULL, RECV_VAL(fd, &q, 8).seq);
	EXPECT_NONE(fd, r);

	/* A tag made without an actor works like any tag. */
	ASSERT_EQ(0, tm_make_tag(fd, 0, &tag));
	SEND_VAL(fd, s, r, 0, 1, 9);
	SEND_VAL(fd, s, r, tag, 1, 10);
	q.tag = tag;
	RECV_VAL(fd, &q, 10);
	RECV_NEXT(fd, r, 9);
	EXPECT_NONE(fd, r);
}

/* ---- timeouts, signals, wake-ups ------------------------------------------- */

/* Sends @n messages (tags and values from the arrays) after @delay_ms each. */
struct delayed_sender {
	pthread_t th;
	int fd;
	__u64 from, to;
	int n;
	long delay_ms;
	__u64 tags[8];
	__u64 vals[8];
	int err;
};

static void *delayed_send_thread(void *arg)
{
	struct delayed_sender *d = arg;
	int i, ret;

	for (i = 0; i < d->n; i++) {
		tm_sleep_ms(d->delay_ms);
		ret = send_val(d->fd, d->from, d->to, d->tags[i], 1, d->vals[i]);
		if (ret && !d->err)
			d->err = ret;
	}
	return NULL;
}

TEST_F(msg, recv_timeouts)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), r = SPAWN(fd);
	struct delayed_sender d;
	struct termite_recv q;
	struct vmsg m;
	__s64 t0, el;
	int ret;

	/* 0: a poll. */
	EXPECT_EQ(-EAGAIN, tm_recv(fd, r, &m, sizeof(m), 0));
	/* 50 ms on an empty mailbox. */
	t0 = tm_now_ns();
	ret = tm_recv(fd, r, &m, sizeof(m), TM_MS(50));
	el = tm_now_ns() - t0;
	EXPECT_EQ(-ETIMEDOUT, ret);
	EXPECT_LE(TM_MS(50), el);
	EXPECT_GT(TM_MS(5000), el);
	TH_LOG("50 ms timeout took %lld us", (long long)el / 1000);

	/* 50 ms with only non-matching messages queued. */
	SEND_VAL(fd, a, r, 1, 1, 1);
	tm_recv_init(&q, r, &m, sizeof(m), TM_MS(50));
	q.flags = TERMITE_MATCH_TAG;
	q.tag = 2;
	t0 = tm_now_ns();
	ret = tm_recv_req(fd, &q);
	el = tm_now_ns() - t0;
	EXPECT_EQ(-ETIMEDOUT, ret);
	EXPECT_LE(TM_MS(50), el);
	EXPECT_GT(TM_MS(5000), el);

	/* Non-matching arrivals during the wait do not end it early. */
	memset(&d, 0, sizeof(d));
	d.fd = fd;
	d.from = a;
	d.to = r;
	d.n = 3;
	d.delay_ms = 20;
	d.tags[0] = 3, d.tags[1] = 4, d.tags[2] = 5;
	d.vals[0] = 3, d.vals[1] = 4, d.vals[2] = 5;
	ASSERT_EQ(0, pthread_create(&d.th, NULL, delayed_send_thread, &d));
	q.timeout_ns = TM_MS(150);
	t0 = tm_now_ns();
	ret = tm_recv_req(fd, &q);
	el = tm_now_ns() - t0;
	pthread_join(d.th, NULL);
	EXPECT_EQ(0, d.err);
	EXPECT_EQ(-ETIMEDOUT, ret);
	EXPECT_LE(TM_MS(150), el);
	EXPECT_GT(TM_MS(5000), el);
	/* All four are there, in order. */
	RECV_NEXT(fd, r, 1);
	RECV_NEXT(fd, r, 3);
	RECV_NEXT(fd, r, 4);
	RECV_NEXT(fd, r, 5);
	EXPECT_NONE(fd, r);
}

static volatile sig_atomic_t got_signal;

static void note_signal(int sig)
{
	(void)sig;
	got_signal++;
}

/* Installs note_signal for SIGALRM without SA_RESTART, arms it in @ms. */
static int arm_alarm(long ms)
{
	struct sigaction sa;
	struct itimerval it;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = note_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	if (sigaction(SIGALRM, &sa, NULL))
		return -errno;
	got_signal = 0;
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	return setitimer(ITIMER_REAL, &it, NULL) ? -errno : 0;
}

TEST_F(msg, recv_eintr)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), r = SPAWN(fd);
	struct termite_recv q;
	struct vmsg m;
	__s64 t0, el;
	int ret;

	/* Forever. */
	ASSERT_EQ(0, arm_alarm(100));
	t0 = tm_now_ns();
	ret = tm_recv(fd, r, &m, sizeof(m), TM_FOREVER);
	el = tm_now_ns() - t0;
	EXPECT_EQ(-EINTR, ret);
	EXPECT_EQ(1, got_signal);
	EXPECT_LE(TM_MS(50), el);
	TH_LOG("interrupted after %lld ms", (long long)el / TM_NSEC_PER_MSEC);

	/* With a timeout, selectively, with a non-matching message queued. */
	SEND_VAL(fd, a, r, 1, 1, 1);
	tm_recv_init(&q, r, &m, sizeof(m), TM_MS(10000));
	q.flags = TERMITE_MATCH_TAG;
	q.tag = 2;
	ASSERT_EQ(0, arm_alarm(100));
	t0 = tm_now_ns();
	ret = tm_recv_req(fd, &q);
	el = tm_now_ns() - t0;
	EXPECT_EQ(-EINTR, ret);
	EXPECT_EQ(1, got_signal);
	EXPECT_LE(TM_MS(50), el);
	EXPECT_GT(TM_MS(9000), el);

	/* Nothing was lost or taken. */
	RECV_NEXT(fd, r, 1);
	EXPECT_NONE(fd, r);
	signal(SIGALRM, SIG_DFL);
}

TEST_F(msg, recv_woken_by_thread)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), r = SPAWN(fd);
	struct delayed_sender d;
	struct termite_recv q;
	struct termite_msghdr h;
	__s64 t0, el;

	/* A plain receive waiting forever, woken by one message. */
	memset(&d, 0, sizeof(d));
	d.fd = fd;
	d.from = a;
	d.to = r;
	d.n = 1;
	d.delay_ms = 100;
	d.tags[0] = 77;
	d.vals[0] = 770;
	ASSERT_EQ(0, pthread_create(&d.th, NULL, delayed_send_thread, &d));
	tm_recv_init(&q, r, NULL, 0, TM_FOREVER);
	t0 = tm_now_ns();
	h = RECV_VAL(fd, &q, 770);
	el = tm_now_ns() - t0;
	pthread_join(d.th, NULL);
	EXPECT_EQ(0, d.err);
	EXPECT_EQ(77ULL, h.tag);
	EXPECT_LE(TM_MS(50), el);

	/* A selective one: three others arrive first and stay queued. */
	memset(&d, 0, sizeof(d));
	d.fd = fd;
	d.from = a;
	d.to = r;
	d.n = 4;
	d.delay_ms = 30;
	d.tags[0] = 1, d.tags[1] = 2, d.tags[2] = 3, d.tags[3] = 9;
	d.vals[0] = 10, d.vals[1] = 20, d.vals[2] = 30, d.vals[3] = 90;
	ASSERT_EQ(0, pthread_create(&d.th, NULL, delayed_send_thread, &d));
	tm_recv_init(&q, r, NULL, 0, TM_FOREVER);
	q.flags = TERMITE_MATCH_TAG;
	q.tag = 9;
	h = RECV_VAL(fd, &q, 90);
	pthread_join(d.th, NULL);
	EXPECT_EQ(0, d.err);
	EXPECT_EQ(5ULL, h.seq);
	RECV_NEXT(fd, r, 10);
	RECV_NEXT(fd, r, 20);
	RECV_NEXT(fd, r, 30);
	EXPECT_NONE(fd, r);
}

/* ---- the mailbox limit and blocking sends ------------------------------------ */

FIXTURE(qlimit) {
	int fd;
	unsigned long long old;
	int changed;
};

FIXTURE_SETUP(qlimit)
{
	self->fd = OPEN();
	ASSERT_EQ(0, tm_param_read("max_queue_len", &self->old))
		TH_LOG("cannot read " TM_PARAM_DIR "max_queue_len");
}

FIXTURE_TEARDOWN(qlimit)
{
	if (self->changed)
		EXPECT_EQ(0, tm_param_write("max_queue_len", self->old))
			TH_LOG("could not restore max_queue_len to %llu",
			       self->old);
	if (self->fd >= 0)
		close(self->fd);
}

/* Sets max_queue_len (restored by the teardown); skips if not allowed. */
#define SET_QLEN(v) do {						\
	int __ret = tm_param_write("max_queue_len", (v));		\
	if (__ret == -EACCES || __ret == -EPERM || __ret == -EROFS)	\
		SKIP(return, "cannot write max_queue_len: %s (not root?)", \
		     strerror(-__ret));					\
	ASSERT_EQ(0, __ret) TH_LOG("max_queue_len = %llu: %s",		\
				   (unsigned long long)(v), strerror(-__ret)); \
	self->changed = 1;						\
} while (0)

struct drainer {
	pthread_t th;
	int fd;
	__u64 actor;
	long delay_ms;
	int n;			/* messages to receive */
	int got;		/* received in order */
	int err;
};

/* Receives d->n messages whose values count up from 0. */
static void *drain_thread(void *arg)
{
	struct drainer *d = arg;
	struct vmsg m;
	int ret;

	tm_sleep_ms(d->delay_ms);
	for (d->got = 0; d->got < d->n; d->got++) {
		memset(&m, 0, sizeof(m));
		ret = tm_recv(d->fd, d->actor, &m, sizeof(m), WAIT);
		if (ret != 8) {
			d->err = ret < 0 ? ret : -EPROTO;
			break;
		}
		if (m.val != (__u64)d->got) {
			d->err = -EILSEQ;
			break;
		}
	}
	return NULL;
}

#define QLEN 64

TEST_F(qlimit, full_mailbox)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), b = SPAWN(fd), c = SPAWN(fd), x;
	struct termite_version v;
	__s64 t0, el;
	int i, fd2;

	SET_QLEN(QLEN);
	ASSERT_EQ(0, tm_version(fd, &v));
	EXPECT_EQ((__u32)QLEN, v.max_queue_len);

	for (i = 0; i < QLEN; i++)
		ASSERT_EQ(0, send_val(fd, a, b, 0, 1, i)) TH_LOG("message %d", i);
	EXPECT_EQ(-EAGAIN, send_val(fd, a, b, 0, 1, 999));
	/* From another port too: the limit is the receiver's. */
	fd2 = OPEN();
	x = SPAWN(fd2);
	EXPECT_EQ(-EAGAIN, send_val(fd2, x, b, 0, 1, 999));
	close(fd2);
	/* BLOCK with timeout 0 fails at once. */
	EXPECT_EQ(-EAGAIN, tm_send_ex(fd, a, b, 0, 1, &(__u64){ 999 }, 8,
				      TERMITE_SEND_BLOCK, 0));
	/* BLOCK with a timeout waits for it. */
	t0 = tm_now_ns();
	EXPECT_EQ(-ETIMEDOUT, tm_send_ex(fd, a, b, 0, 1, &(__u64){ 999 }, 8,
					 TERMITE_SEND_BLOCK, TM_MS(50)));
	el = tm_now_ns() - t0;
	EXPECT_LE(TM_MS(50), el);
	EXPECT_GT(TM_MS(5000), el);
	/* Other mailboxes of the port are not full. */
	SEND_VAL(fd, a, c, 0, 1, 5);
	RECV_NEXT(fd, c, 5);

	/* One out, one in; then full again. */
	RECV_NEXT(fd, b, 0);
	SEND_VAL(fd, a, b, 0, 1, QLEN);
	EXPECT_EQ(-EAGAIN, send_val(fd, a, b, 0, 1, 999));
	/* Nothing of the failed sends got in: exactly 1..QLEN, in order. */
	for (i = 1; i <= QLEN; i++)
		RECV_NEXT(fd, b, i);
	EXPECT_NONE(fd, b);
}

TEST_F(qlimit, blocking_send_with_drainer)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), b = SPAWN(fd);
	struct drainer d;
	int i, ret = 0;
	__s64 t0;

	SET_QLEN(QLEN);
	for (i = 0; i < QLEN; i++)
		SEND_VAL(fd, a, b, 0, 1, i);
	memset(&d, 0, sizeof(d));
	d.fd = fd;
	d.actor = b;
	d.delay_ms = 100;
	d.n = QLEN + 4 * QLEN;
	ASSERT_EQ(0, pthread_create(&d.th, NULL, drain_thread, &d));
	t0 = tm_now_ns();
	for (i = QLEN; i < d.n; i++) {
		__u64 val = i;

		ret = tm_send_ex(fd, a, b, 0, 1, &val, 8, TERMITE_SEND_BLOCK,
				 TM_FOREVER);
		if (ret)
			break;
	}
	pthread_join(d.th, NULL);
	EXPECT_EQ(0, ret) TH_LOG("blocking send %d: %s", i, strerror(-ret));
	EXPECT_EQ(0, d.err) TH_LOG("drainer at message %d: %s", d.got,
				   strerror(-d.err));
	EXPECT_EQ(d.n, d.got);
	TH_LOG("%d blocking sends through a %d-message mailbox in %lld ms",
	       d.n - QLEN, QLEN,
	       (long long)(tm_now_ns() - t0) / TM_NSEC_PER_MSEC);
	EXPECT_NONE(fd, b);
}

struct exiter {
	pthread_t th;
	int fd;
	__u64 actor;
	int err;
};

static void *exit_thread(void *arg)
{
	struct exiter *e = arg;

	tm_sleep_ms(100);
	e->err = tm_exit(e->fd, e->actor, TERMITE_EXIT_NORMAL, NULL, 0);
	return NULL;
}

TEST_F(qlimit, blocking_send_interrupted)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), b = SPAWN(fd);
	struct exiter e;
	__s64 t0, el;
	int i, ret;

	SET_QLEN(16);
	for (i = 0; i < 16; i++)
		SEND_VAL(fd, a, b, 0, 1, i);

	/* A signal ends the wait with EINTR. */
	ASSERT_EQ(0, arm_alarm(100));
	t0 = tm_now_ns();
	ret = tm_send_ex(fd, a, b, 0, 1, &(__u64){ 99 }, 8, TERMITE_SEND_BLOCK,
			 TM_FOREVER);
	el = tm_now_ns() - t0;
	EXPECT_EQ(-EINTR, ret);
	EXPECT_EQ(1, got_signal);
	EXPECT_LE(TM_MS(50), el);
	signal(SIGALRM, SIG_DFL);

	/* The receiver exiting ends it with ESRCH. */
	memset(&e, 0, sizeof(e));
	e.fd = fd;
	e.actor = b;
	ASSERT_EQ(0, pthread_create(&e.th, NULL, exit_thread, &e));
	ret = tm_send_ex(fd, a, b, 0, 1, &(__u64){ 99 }, 8, TERMITE_SEND_BLOCK,
			 TM_MS(10000));
	pthread_join(e.th, NULL);
	EXPECT_EQ(0, e.err);
	EXPECT_EQ(-ESRCH, ret);
}

/* A lower limit applies to new messages, not to those already queued. */
TEST_F(qlimit, lowered_below_queue)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd), b = SPAWN(fd);
	int i;

	SET_QLEN(QLEN);
	for (i = 0; i < 32; i++)
		SEND_VAL(fd, a, b, 0, 1, i);
	SET_QLEN(16);
	EXPECT_EQ(-EAGAIN, send_val(fd, a, b, 0, 1, 999));
	for (i = 0; i < 16; i++)
		RECV_NEXT(fd, b, i);
	/* 16 left: still full. */
	EXPECT_EQ(-EAGAIN, send_val(fd, a, b, 0, 1, 999));
	RECV_NEXT(fd, b, 16);
	SEND_VAL(fd, a, b, 0, 1, 32);
	for (i = 17; i <= 32; i++)
		RECV_NEXT(fd, b, i);
	EXPECT_NONE(fd, b);
}

/* Module parameter writes outside the bounds fail and change nothing. */
static const struct {
	const char *name;
	unsigned long long lo, hi;
} tm_params[] = {
	{ "max_queue_len", 16, 16777216 },
	{ "max_msg_size", 4096, 67108864 },
	{ "max_actors", 16, 16777216 },
	{ "max_links", 16, 16777216 },
	{ "port_quota", 65536, 17179869184ULL },
};
#define NPARAMS (sizeof(tm_params) / sizeof(tm_params[0]))

TEST_F(qlimit, param_bounds)
{
	unsigned long long before = 0, after = 0, bad[6];
	unsigned int i, j;
	int ret;

	ret = tm_param_write("max_queue_len", self->old);
	if (ret == -EACCES || ret == -EPERM || ret == -EROFS)
		SKIP(return, "cannot write parameters: %s", strerror(-ret));
	ASSERT_EQ(0, ret);

	for (i = 0; i < NPARAMS; i++) {
		ASSERT_EQ(0, tm_param_read(tm_params[i].name, &before))
			TH_LOG("%s", tm_params[i].name);
		bad[0] = 0;
		bad[1] = 1;
		bad[2] = tm_params[i].lo - 1;
		bad[3] = tm_params[i].hi + 1;
		bad[4] = 999999999999ULL;
		bad[5] = ~0ULL;
		for (j = 0; j < 6; j++) {
			ret = tm_param_write(tm_params[i].name, bad[j]);
			EXPECT_NE(0, ret) TH_LOG("%s = %llu accepted",
						 tm_params[i].name, bad[j]);
			/* In range of the type: EINVAL. */
			if (j < 4)
				EXPECT_EQ(-EINVAL, ret)
					TH_LOG("%s = %llu: %s", tm_params[i].name,
					       bad[j], strerror(-ret));
			ASSERT_EQ(0, tm_param_read(tm_params[i].name, &after));
			EXPECT_EQ(before, after)
				TH_LOG("%s changed by writing %llu",
				       tm_params[i].name, bad[j]);
			if (after != before)	/* do not spoil later tests */
				tm_param_write(tm_params[i].name, before);
		}
	}
	/* The bounds themselves are accepted. */
	SET_QLEN(16);
	SET_QLEN(16777216);
	ASSERT_EQ(0, tm_param_read("max_queue_len", &after));
	EXPECT_EQ(16777216ULL, after);
}

/*
 * The spec: "writes out of bounds fail with EINVAL", also for values too
 * large for the parameter's type.
 */
TEST_F(qlimit, param_overflow_einval)
{
	unsigned int i;
	int ret;

	ret = tm_param_write("max_queue_len", self->old);
	if (ret == -EACCES || ret == -EPERM || ret == -EROFS)
		SKIP(return, "cannot write parameters: %s", strerror(-ret));
	ASSERT_EQ(0, ret);
	for (i = 0; i < NPARAMS; i++) {
		ret = tm_param_write(tm_params[i].name, 999999999999ULL);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("%s = 999999999999: %s",
					       tm_params[i].name, strerror(-ret));
	}
}

/* ---- READY and poll() ------------------------------------------------------ */

static void sort_ids(__u64 *ids, __u32 n)
{
	qsort(ids, n, sizeof(ids[0]), cmp_u64);
}

TEST_F(msg, ready_poll)
{
	int fd = self->fd, fd2 = OPEN();
	__u64 x = SPAWN(fd), y = SPAWN(fd), z = SPAWN(fd), s = SPAWN(fd2);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct pollfd pfd2 = { .fd = fd2, .events = POLLIN };
	__u64 ids[8], want[3];
	__u32 n;
	int i;

	EXPECT_EQ(0, poll(&pfd, 1, 0));
	n = 8;
	EXPECT_EQ(0, tm_ready(fd, ids, &n));
	EXPECT_EQ(0U, n);

	SEND_VAL(fd2, s, x, 0, 1, 1);
	SEND_VAL(fd2, s, y, 0, 1, 2);
	SEND_VAL(fd2, s, x, 0, 1, 3);
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN, pfd.revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL));
	/* The sender's port has no news. */
	EXPECT_EQ(0, poll(&pfd2, 1, 0));

	memset(ids, 0xff, sizeof(ids));
	n = 8;
	ASSERT_EQ(0, tm_ready(fd, ids, &n));
	ASSERT_EQ(2U, n);
	for (i = 2; i < 8; i++)
		EXPECT_EQ(~0ULL, ids[i]);
	want[0] = x, want[1] = y;
	sort_ids(ids, 2);
	sort_ids(want, 2);
	EXPECT_EQ(want[0], ids[0]);
	EXPECT_EQ(want[1], ids[1]);
	/* Reported once: now nothing. */
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	n = 8;
	EXPECT_EQ(0, tm_ready(fd, ids, &n));
	EXPECT_EQ(0U, n);
	/* Receiving is no news. */
	RECV_NEXT(fd, x, 1);
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	/* A new message is, even to an actor with older ones queued. */
	SEND_VAL(fd2, s, x, 0, 1, 4);
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	n = 8;
	ASSERT_EQ(0, tm_ready(fd, ids, &n));
	ASSERT_EQ(1U, n);
	EXPECT_EQ(x, ids[0]);
	/* A message from the port's own actor, to itself, too. */
	SEND_VAL(fd, z, z, 0, 1, 5);
	n = 8;
	ASSERT_EQ(0, tm_ready(fd, ids, &n));
	ASSERT_EQ(1U, n);
	EXPECT_EQ(z, ids[0]);

	/* Less room than news: the rest comes next time. */
	SEND_VAL(fd2, s, x, 0, 1, 6);
	SEND_VAL(fd2, s, y, 0, 1, 7);
	SEND_VAL(fd2, s, z, 0, 1, 8);
	n = 1;
	ASSERT_EQ(0, tm_ready(fd, ids, &n));
	ASSERT_EQ(1U, n);
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	n = 7;
	ASSERT_EQ(0, tm_ready(fd, ids + 1, &n));
	ASSERT_EQ(2U, n);
	want[0] = x, want[1] = y, want[2] = z;
	sort_ids(ids, 3);
	sort_ids(want, 3);
	for (i = 0; i < 3; i++)
		EXPECT_EQ(want[i], ids[i]);
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	close(fd2);
}

TEST_F(msg, ready_errors)
{
	int fd = self->fd;
	__u64 x = SPAWN(fd), y = SPAWN(fd), s = SPAWN(fd);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long pg = sysconf(_SC_PAGESIZE);
	void *ro = page_with(PROT_READ);
	struct termite_ready rd;
	__u64 ids[4] = { 0 };
	int ret, got;
	char *two;
	__u32 n;

	ASSERT_NE(NULL, ro);
	SEND_VAL(fd, s, x, 0, 1, 1);
	SEND_VAL(fd, s, y, 0, 1, 2);

	n = 0;
	EXPECT_EQ(-EINVAL, tm_ready(fd, ids, &n));
	memset(&rd, 0, sizeof(rd));
	rd.ids = (__u64)(uintptr_t)ids;
	rd.count = 4;
	rd.flags = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_READY, &rd));
	rd.flags = 0;
	rd.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_READY, &rd));
	rd.reserved[0] = 0;
	rd.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_READY, &rd));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_READY, (void *)1));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_READY, unmapped_page()));
	/* Bad id arrays. */
	n = 4;
	EXPECT_EQ(-EFAULT, tm_ready(fd, (__u64 *)1, &n));
	n = 4;
	EXPECT_EQ(-EFAULT, tm_ready(fd, unmapped_page(), &n));
	n = 4;
	EXPECT_EQ(-EFAULT, tm_ready(fd, ro, &n));
	/*
	 * Room for one id before an unmapped page, two ready: either a
	 * fault, or one id reported (and the other kept for next time).
	 */
	two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, two);
	ASSERT_EQ(0, munmap(two + pg, pg));
	n = 2;
	ret = tm_ready(fd, (__u64 *)(two + pg - 8), &n);
	if (ret == 0) {
		ASSERT_EQ(1U, n);
		ids[0] = *(__u64 *)(two + pg - 8);
		got = 1;
	} else {
		ASSERT_EQ(-EFAULT, ret);
		got = 0;
	}
	/* None of that lost the news. */
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	n = 4 - got;
	ASSERT_EQ(0, tm_ready(fd, ids + got, &n));
	ASSERT_EQ(2U - got, n);
	sort_ids(ids, 2);
	{
		__u64 want[2] = { x, y };

		sort_ids(want, 2);
		EXPECT_EQ(want[0], ids[0]);
		EXPECT_EQ(want[1], ids[1]);
	}
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	/* The last slot of the mapping is good room for one. */
	SEND_VAL(fd, s, x, 0, 1, 3);
	n = 1;
	ASSERT_EQ(0, tm_ready(fd, (__u64 *)(two + pg - 8), &n));
	ASSERT_EQ(1U, n);
	EXPECT_EQ(x, *(__u64 *)(two + pg - 8));
	munmap(two, pg);
	munmap(ro, pg);
}

TEST_F(msg, poll_wakes_on_message)
{
	int fd = self->fd, fd2 = OPEN();
	__u64 x = SPAWN(fd), s = SPAWN(fd2);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct delayed_sender d;
	__u64 ids[4];
	__s64 t0, el;
	__u32 n;
	int ret;

	memset(&d, 0, sizeof(d));
	d.fd = fd2;
	d.from = s;
	d.to = x;
	d.n = 1;
	d.delay_ms = 100;
	ASSERT_EQ(0, pthread_create(&d.th, NULL, delayed_send_thread, &d));
	t0 = tm_now_ns();
	ret = poll(&pfd, 1, 10000);
	el = tm_now_ns() - t0;
	pthread_join(d.th, NULL);
	EXPECT_EQ(0, d.err);
	EXPECT_EQ(1, ret);
	EXPECT_TRUE(pfd.revents & POLLIN);
	EXPECT_LE(TM_MS(50), el);
	EXPECT_GT(TM_MS(9000), el);
	n = 4;
	ASSERT_EQ(0, tm_ready(fd, ids, &n));
	ASSERT_EQ(1U, n);
	EXPECT_EQ(x, ids[0]);
	close(fd2);
}

/* ---- names ------------------------------------------------------------------- */

static int name_raw(int fd, unsigned long cmd, struct termite_name *n)
{
	return tm_ioctl(fd, cmd, n);
}

/* A name unique to this process and test. */
#define MKNAME(buf, what) \
	snprintf(buf, sizeof(buf), "msg_test.%d.%s", getpid(), what)

TEST_F(msg, names)
{
	int fd = self->fd, fd2 = OPEN();
	__u64 a = SPAWN(fd), b = SPAWN(fd), x = SPAWN(fd2), found;
	char n1[TERMITE_NAME_MAX], n2[TERMITE_NAME_MAX];

	MKNAME(n1, "alpha");
	MKNAME(n2, "beta");
	EXPECT_EQ(-ENOENT, tm_whereis(fd, n1, &found));
	ASSERT_EQ(0, tm_register(fd, a, n1));
	/* Found from this port and from another one. */
	ASSERT_EQ(0, tm_whereis(fd, n1, &found));
	EXPECT_EQ(a, found);
	ASSERT_EQ(0, tm_whereis(fd2, n1, &found));
	EXPECT_EQ(a, found);
	/* And usable. */
	SEND_VAL(fd2, x, found, 0, 1, 11);
	RECV_NEXT(fd, a, 11);
	/* Taken. */
	EXPECT_EQ(-EEXIST, tm_register(fd, b, n1));
	EXPECT_EQ(-EEXIST, tm_register(fd2, x, n1));
	/* One name per actor. */
	EXPECT_EQ(-EBUSY, tm_register(fd, a, n2));
	EXPECT_EQ(-ENOENT, tm_whereis(fd, n2, &found));
	/* Only the port's own actors can be named by it. */
	EXPECT_EQ(-ENOENT, tm_register(fd2, a, n2));
	EXPECT_EQ(-ENOENT, tm_register(fd, x, n2));
	EXPECT_EQ(-ENOENT, tm_register(fd, FAKE_ID, n2));
	EXPECT_EQ(-EINVAL, tm_register(fd, 0, n2));
	/* Case and length matter. */
	n1[0] = 'M';
	EXPECT_EQ(-ENOENT, tm_whereis(fd, n1, &found));
	n1[0] = 'm';
	n1[strlen(n1) - 1] = 0;
	EXPECT_EQ(-ENOENT, tm_whereis(fd, n1, &found));
	MKNAME(n1, "alpha");

	/* Unregister: gone; again: ENOENT; then free for anyone. */
	ASSERT_EQ(0, tm_unregister(fd2, n1));
	EXPECT_EQ(-ENOENT, tm_whereis(fd, n1, &found));
	EXPECT_EQ(-ENOENT, tm_unregister(fd, n1));
	/* a has no name now: it can take another. */
	ASSERT_EQ(0, tm_register(fd, a, n2));
	ASSERT_EQ(0, tm_register(fd2, x, n1));
	ASSERT_EQ(0, tm_whereis(fd, n1, &found));
	EXPECT_EQ(x, found);
	ASSERT_EQ(0, tm_whereis(fd, n2, &found));
	EXPECT_EQ(a, found);

	/* Names go with their actor's exit. */
	ASSERT_EQ(0, tm_exit(fd2, x, TERMITE_EXIT_NORMAL, NULL, 0));
	EXPECT_EQ(-ENOENT, tm_whereis(fd, n1, &found));
	EXPECT_EQ(-ENOENT, tm_unregister(fd, n1));
	ASSERT_EQ(0, tm_register(fd, b, n1));
	ASSERT_EQ(0, tm_whereis(fd2, n1, &found));
	EXPECT_EQ(b, found);
	ASSERT_EQ(0, tm_exit(fd, b, TERMITE_EXIT_ERROR, "r", 1));
	EXPECT_EQ(-ENOENT, tm_whereis(fd2, n1, &found));
	/* ...and with their port's close. */
	x = SPAWN(fd2);
	MKNAME(n1, "closing");
	ASSERT_EQ(0, tm_register(fd2, x, n1));
	close(fd2);
	EXPECT_EQ(-ENOENT, tm_whereis(fd, n1, &found));
	/* a kept its name through all that. */
	ASSERT_EQ(0, tm_whereis(fd, n2, &found));
	EXPECT_EQ(a, found);
}

TEST_F(msg, names_invalid)
{
	int fd = self->fd;
	__u64 a = SPAWN(fd);
	static const unsigned long cmds[] = {
		TERMITE_IOC_REGISTER, TERMITE_IOC_UNREGISTER,
		TERMITE_IOC_WHEREIS,
	};
	struct termite_name n;
	char good[TERMITE_NAME_MAX];
	unsigned int i;
	__u64 found;

	MKNAME(good, "valid");
	for (i = 0; i < 3; i++) {
		__u64 actor = cmds[i] == TERMITE_IOC_REGISTER ? a : 0;

		/* Empty. */
		memset(&n, 0, sizeof(n));
		n.actor = actor;
		EXPECT_EQ(-EINVAL, name_raw(fd, cmds[i], &n)) TH_LOG("cmd %u", i);
		/* Empty, with garbage after the NUL. */
		n.name[5] = 'x';
		EXPECT_EQ(-EINVAL, name_raw(fd, cmds[i], &n)) TH_LOG("cmd %u", i);
		/* 64 bytes, no NUL. */
		memset(n.name, 'a', sizeof(n.name));
		EXPECT_EQ(-EINVAL, name_raw(fd, cmds[i], &n)) TH_LOG("cmd %u", i);
		/* Valid, then garbage after the NUL. */
		memset(&n, 0, sizeof(n));
		n.actor = actor;
		strcpy(n.name, good);
		n.name[TERMITE_NAME_MAX - 1] = 'z';
		EXPECT_EQ(-EINVAL, name_raw(fd, cmds[i], &n)) TH_LOG("cmd %u", i);
		n.name[TERMITE_NAME_MAX - 1] = 0;
		n.name[strlen(good) + 1] = 1;
		EXPECT_EQ(-EINVAL, name_raw(fd, cmds[i], &n)) TH_LOG("cmd %u", i);
		n.name[strlen(good) + 1] = 0;
		/* Reserved. */
		n.reserved = 1;
		EXPECT_EQ(-EINVAL, name_raw(fd, cmds[i], &n)) TH_LOG("cmd %u", i);
		/* EFAULT. */
		EXPECT_EQ(-EFAULT, tm_ioctl(fd, cmds[i], (void *)1));
		EXPECT_EQ(-EFAULT, tm_ioctl(fd, cmds[i], unmapped_page()));
	}
	/* UNREGISTER wants actor 0. */
	ASSERT_EQ(0, tm_register(fd, a, good));
	memset(&n, 0, sizeof(n));
	strcpy(n.name, good);
	n.actor = a;
	EXPECT_EQ(-EINVAL, name_raw(fd, TERMITE_IOC_UNREGISTER, &n));
	/* None of the failures touched the good name. */
	ASSERT_EQ(0, tm_whereis(fd, good, &found));
	EXPECT_EQ(a, found);
	ASSERT_EQ(0, tm_unregister(fd, good));

	/* The longest name: 63 bytes. */
	memset(&n, 0, sizeof(n));
	n.actor = a;
	memset(n.name, 'q', TERMITE_NAME_MAX - 1);
	snprintf(n.name, 20, "msg_test.%d", getpid());
	n.name[strlen(n.name)] = '.';
	ASSERT_EQ(TERMITE_NAME_MAX - 1, (int)strlen(n.name));
	ASSERT_EQ(0, name_raw(fd, TERMITE_IOC_REGISTER, &n));
	n.actor = 0;
	ASSERT_EQ(0, name_raw(fd, TERMITE_IOC_WHEREIS, &n));
	EXPECT_EQ(a, n.actor);
	n.actor = 0;
	EXPECT_EQ(0, name_raw(fd, TERMITE_IOC_UNREGISTER, &n));
}

/* ---- SETOPT -------------------------------------------------------------------- */

TEST_F(msg, setopt_mode)
{
	int fd = self->fd, fd2 = OPEN();
	__u64 a = spawn_ok(_metadata, __LINE__, fd, TERMITE_MODE_TRAP);
	__u64 x = SPAWN(fd2), old = 12345;
	struct termite_setopt o;

	ASSERT_EQ(0, tm_setopt(fd, a, TERMITE_OPT_MODE, TERMITE_MODE_DIE, &old));
	EXPECT_EQ((__u64)TERMITE_MODE_TRAP, old);
	ASSERT_EQ(0, tm_setopt(fd, a, TERMITE_OPT_MODE, TERMITE_MODE_DELIVER, &old));
	EXPECT_EQ((__u64)TERMITE_MODE_DIE, old);
	ASSERT_EQ(0, tm_setopt(fd, a, TERMITE_OPT_MODE, TERMITE_MODE_DELIVER, &old));
	EXPECT_EQ((__u64)TERMITE_MODE_DELIVER, old);
	ASSERT_EQ(0, tm_setopt(fd, a, TERMITE_OPT_MODE, TERMITE_MODE_TRAP, &old));
	EXPECT_EQ((__u64)TERMITE_MODE_DELIVER, old);

	/* Bad options and values. */
	EXPECT_EQ(-EINVAL, tm_setopt(fd, a, 0, TERMITE_MODE_DIE, &old));
	EXPECT_EQ(-EINVAL, tm_setopt(fd, a, TERMITE_OPT_MODE + 1,
				     TERMITE_MODE_DIE, &old));
	EXPECT_EQ(-EINVAL, tm_setopt(fd, a, 0xffffffffu, 0, &old));
	EXPECT_EQ(-EINVAL, tm_setopt(fd, a, TERMITE_OPT_MODE,
				     TERMITE_MODE_DIE + 1, &old));
	EXPECT_EQ(-EINVAL, tm_setopt(fd, a, TERMITE_OPT_MODE, 1ULL << 32, &old));
	EXPECT_EQ(-EINVAL, tm_setopt(fd, a, TERMITE_OPT_MODE, ~0ULL, &old));
	memset(&o, 0, sizeof(o));
	o.actor = a;
	o.opt = TERMITE_OPT_MODE;
	o.value = TERMITE_MODE_DIE;
	o.reserved0 = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_SETOPT, &o));
	o.reserved0 = 0;
	o.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_SETOPT, &o));
	o.reserved[0] = 0;
	o.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, tm_ioctl(fd, TERMITE_IOC_SETOPT, &o));
	/* Not ours, unknown, 0. */
	EXPECT_EQ(-ENOENT, tm_setopt(fd, x, TERMITE_OPT_MODE, 0, &old));
	EXPECT_EQ(-ENOENT, tm_setopt(fd, FAKE_ID, TERMITE_OPT_MODE, 0, &old));
	EXPECT_EQ(-EINVAL, tm_setopt(fd, 0, TERMITE_OPT_MODE, 0, &old));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_SETOPT, (void *)1));
	EXPECT_EQ(-EFAULT, tm_ioctl(fd, TERMITE_IOC_SETOPT, unmapped_page()));

	/* None of the failures changed the mode: still TRAP. */
	ASSERT_EQ(0, tm_setopt(fd, a, TERMITE_OPT_MODE, TERMITE_MODE_DELIVER, &old));
	EXPECT_EQ((__u64)TERMITE_MODE_TRAP, old);
	/* The other port's actor keeps its mode too. */
	ASSERT_EQ(0, tm_setopt(fd2, x, TERMITE_OPT_MODE, TERMITE_MODE_DIE, &old));
	EXPECT_EQ((__u64)TERMITE_MODE_DELIVER, old);
	/* An exited actor is gone. */
	ASSERT_EQ(0, tm_exit(fd, a, TERMITE_EXIT_NORMAL, NULL, 0));
	EXPECT_EQ(-ENOENT, tm_setopt(fd, a, TERMITE_OPT_MODE, 0, &old));
	close(fd2);
}

/* ---- fdinfo ---------------------------------------------------------------------- */

TEST_F(msg, fdinfo)
{
	int fd = self->fd, fd2 = OPEN();
	__u64 a, b, c, x;
	unsigned long long q;

	EXPECT_EQ(0, fdinfo_actors(fd));
	a = SPAWN(fd);
	EXPECT_EQ(1, fdinfo_actors(fd));
	b = SPAWN(fd);
	c = SPAWN(fd);
	EXPECT_EQ(3, fdinfo_actors(fd));
	/* Another port's actors are its own. */
	x = SPAWN(fd2);
	EXPECT_EQ(1, fdinfo_actors(fd2));
	EXPECT_EQ(3, fdinfo_actors(fd));
	ASSERT_EQ(0, tm_exit(fd, b, TERMITE_EXIT_NORMAL, NULL, 0));
	EXPECT_EQ(2, fdinfo_actors(fd));

	/* Queued bytes: some with a message waiting, none after. */
	ASSERT_EQ(0, tm_fdinfo_u64(fd, "termite-queued-bytes:", &q));
	EXPECT_EQ(0ULL, q);
	SEND_VAL(fd2, x, a, 0, 1, 1);
	ASSERT_EQ(0, tm_fdinfo_u64(fd, "termite-queued-bytes:", &q));
	EXPECT_LE(8ULL, q);
	ASSERT_EQ(0, tm_fdinfo_u64(fd2, "termite-queued-bytes:", &q));
	EXPECT_EQ(0ULL, q);
	RECV_NEXT(fd, a, 1);
	ASSERT_EQ(0, tm_fdinfo_u64(fd, "termite-queued-bytes:", &q));
	EXPECT_EQ(0ULL, q);
	(void)c;
	close(fd2);
}

/* ---- universes ---------------------------------------------------------------------- */

/*
 * The child of other_universe: in a new IPC namespace, a port of another
 * universe; the parent's actor and name are unknown there, and the
 * parent cannot reach the child's actor either.  Returns 0 or the step.
 */
static int universe_child(__u64 parent_actor, __u64 parent_universe,
			  const char *name, int rfd, int wfd)
{
	struct termite_version v;
	struct tm_msgbuf m;
	__u64 c, found;
	char go;
	int fd;

	if (unshare(CLONE_NEWIPC))
		return errno == EPERM ? 99 : 10;
	fd = tm_open();
	if (fd < 0)
		return 11;
	if (tm_version(fd, &v))
		return 12;
	if (v.universe == parent_universe)
		return 13;
	c = tm_spawn(fd);
	if (!c)
		return 14;
	if (tm_send(fd, c, parent_actor, 0, 1, "x", 1) != -ESRCH)
		return 15;
	if (tm_whereis(fd, name, &found) != -ENOENT)
		return 16;
	/* The name is free in this universe. */
	if (tm_register(fd, c, name))
		return 17;
	if (write(wfd, &c, sizeof(c)) != sizeof(c))
		return 18;
	/* The parent tries to reach c now. */
	if (read(rfd, &go, 1) != 1)
		return 19;
	if (tm_recv_msg(fd, c, &m, 0) != -EAGAIN)
		return 20;
	close(fd);
	return 0;
}

TEST_F(msg, other_universe)
{
	int fd = self->fd, c2p[2], p2c[2], status;
	__u64 a = SPAWN(fd), c = 0, found;
	struct termite_version v;
	char name[TERMITE_NAME_MAX];
	pid_t pid;
	ssize_t n;

	ASSERT_EQ(0, tm_version(fd, &v));
	MKNAME(name, "universe");
	ASSERT_EQ(0, tm_register(fd, a, name));
	ASSERT_EQ(0, pipe(c2p));
	ASSERT_EQ(0, pipe(p2c));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(c2p[0]);
		close(p2c[1]);
		_exit(universe_child(a, v.universe, name, p2c[0], c2p[1]));
	}
	close(c2p[1]);
	close(p2c[0]);
	n = read(c2p[0], &c, sizeof(c));
	if (n == sizeof(c)) {
		/* c is alive, in the other universe: unknown here. */
		EXPECT_EQ(-ESRCH, send_val(fd, a, c, 0, 1, 1));
		/* Our name still names our actor. */
		EXPECT_EQ(0, tm_whereis(fd, name, &found));
		EXPECT_EQ(a, found);
	}
	EXPECT_EQ(1, write(p2c[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 99)
		SKIP(return, "unshare(CLONE_NEWIPC): not permitted");
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("child failed at step %d",
						 WEXITSTATUS(status));
	EXPECT_EQ((ssize_t)sizeof(c), n);
	close(c2p[0]);
	close(p2c[1]);
}

TEST_HARNESS_MAIN
