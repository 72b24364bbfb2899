/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the termite selftests (msg_test.c, exit_test.c, ...).
 *
 * Every wrapper returns the ioctl's non-negative result on success and
 * -errno on failure, so tests can write ASSERT_EQ(-EINVAL, tm_send(...)).
 * Keep this file small and stable: static inline functions only.  Tests
 * include it after kselftest_harness.h, whose helpers (spawn_ok) it uses.
 */
#ifndef _TERMITE_SELFTEST_COMMON_H
#define _TERMITE_SELFTEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/termite.h>

#define TM_NSEC_PER_MSEC	1000000LL
#define TM_NSEC_PER_SEC		1000000000LL
#define TM_MS(ms)		((__s64)(ms) * TM_NSEC_PER_MSEC)
#define TM_FOREVER		((__s64)-1)
#define TM_PARAM_DIR		"/sys/module/termite/parameters/"

/* A receive buffer with room for a small payload. */
#define TM_SMALL_PAYLOAD	256
struct tm_msgbuf {
	struct termite_msghdr hdr;
	unsigned char data[TM_SMALL_PAYLOAD];
};

/* ---- time ---------------------------------------------------------- */

static inline __s64 tm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__s64)ts.tv_sec * TM_NSEC_PER_SEC + ts.tv_nsec;
}

static inline void tm_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * TM_NSEC_PER_MSEC };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- ports and raw ioctl ------------------------------------------ */

/* Opens a new port; returns the fd or -errno. */
static inline int tm_open(void)
{
	int fd = open(TERMITE_DEVICE, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* ioctl returning its result or -errno. */
static inline int tm_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

static inline int tm_version(int fd, struct termite_version *v)
{
	memset(v, 0, sizeof(*v));
	return tm_ioctl(fd, TERMITE_IOC_VERSION, v);
}

/* ---- actors ------------------------------------------------------- */

static inline int tm_spawn_mode(int fd, __u32 mode, __u64 *id)
{
	struct termite_spawn s;
	int ret;

	memset(&s, 0, sizeof(s));
	s.mode = mode;
	ret = tm_ioctl(fd, TERMITE_IOC_SPAWN, &s);
	if (ret >= 0 && id)
		*id = s.id;
	return ret;
}

/* Spawns an actor in the default mode (DELIVER); 0 on error. */
static inline __u64 tm_spawn(int fd)
{
	__u64 id = 0;

	if (tm_spawn_mode(fd, TERMITE_MODE_DELIVER, &id) < 0)
		return 0;
	return id;
}

static inline int tm_exit(int fd, __u64 actor, __u32 code,
			  const void *buf, __u32 len)
{
	struct termite_exit e;

	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.code = code;
	e.len = len;
	e.buf = (__u64)(uintptr_t)buf;
	return tm_ioctl(fd, TERMITE_IOC_EXIT, &e);
}

static inline int tm_signal(int fd, __u64 actor, __u64 to, __u32 code,
			    const void *buf, __u32 len)
{
	struct termite_exit e;

	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.to = to;
	e.code = code;
	e.len = len;
	e.buf = (__u64)(uintptr_t)buf;
	return tm_ioctl(fd, TERMITE_IOC_SIGNAL, &e);
}

static inline int tm_link(int fd, __u64 actor, __u64 peer, __u32 flags)
{
	struct termite_link l;

	memset(&l, 0, sizeof(l));
	l.actor = actor;
	l.peer = peer;
	l.flags = flags;
	return tm_ioctl(fd, TERMITE_IOC_LINK, &l);
}

static inline int tm_unlink(int fd, __u64 actor, __u64 peer, __u32 flags)
{
	struct termite_link l;

	memset(&l, 0, sizeof(l));
	l.actor = actor;
	l.peer = peer;
	l.flags = flags;
	return tm_ioctl(fd, TERMITE_IOC_UNLINK, &l);
}

static inline int tm_monitor(int fd, __u64 actor, __u64 peer, __u64 *ref)
{
	struct termite_monitor m;
	int ret;

	memset(&m, 0, sizeof(m));
	m.actor = actor;
	m.peer = peer;
	ret = tm_ioctl(fd, TERMITE_IOC_MONITOR, &m);
	if (ret >= 0 && ref)
		*ref = m.ref;
	return ret;
}

static inline int tm_demonitor(int fd, __u64 actor, __u64 ref, __u32 flags)
{
	struct termite_monitor m;

	memset(&m, 0, sizeof(m));
	m.actor = actor;
	m.ref = ref;
	m.flags = flags;
	return tm_ioctl(fd, TERMITE_IOC_DEMONITOR, &m);
}

static inline int tm_setopt(int fd, __u64 actor, __u32 opt, __u64 value,
			    __u64 *old)
{
	struct termite_setopt o;
	int ret;

	memset(&o, 0, sizeof(o));
	o.actor = actor;
	o.opt = opt;
	o.value = value;
	ret = tm_ioctl(fd, TERMITE_IOC_SETOPT, &o);
	if (ret >= 0 && old)
		*old = o.value;
	return ret;
}

/* MAKE_TAG; actor may be 0.  Returns 0/-errno, tag in *tag. */
static inline int tm_make_tag(int fd, __u64 actor, __u64 *tag)
{
	struct termite_tag t;
	int ret;

	memset(&t, 0, sizeof(t));
	t.actor = actor;
	ret = tm_ioctl(fd, TERMITE_IOC_MAKE_TAG, &t);
	if (ret >= 0 && tag)
		*tag = t.tag;
	return ret;
}

/* ---- messages ----------------------------------------------------- */

static inline int tm_send_ex(int fd, __u64 from, __u64 to, __u64 tag,
			     __u32 kind, const void *buf, __u32 len,
			     __u32 flags, __s64 timeout_ns)
{
	struct termite_send s;

	memset(&s, 0, sizeof(s));
	s.from = from;
	s.to = to;
	s.tag = tag;
	s.kind = kind;
	s.buf = (__u64)(uintptr_t)buf;
	s.len = len;
	s.flags = flags;
	s.timeout_ns = timeout_ns;
	return tm_ioctl(fd, TERMITE_IOC_SEND, &s);
}

/* Non-blocking send of one message. */
static inline int tm_send(int fd, __u64 from, __u64 to, __u64 tag,
			  __u32 kind, const void *buf, __u32 len)
{
	return tm_send_ex(fd, from, to, tag, kind, buf, len, 0, 0);
}

/* Fills *r for a plain receive into buf; add match fields afterwards. */
static inline void tm_recv_init(struct termite_recv *r, __u64 actor,
				void *buf, __u32 buf_len, __s64 timeout_ns)
{
	memset(r, 0, sizeof(*r));
	r->actor = actor;
	r->buf = (__u64)(uintptr_t)buf;
	r->buf_len = buf_len;
	r->timeout_ns = timeout_ns;
}

/* Receive with a prepared struct: payload length or -errno. */
static inline int tm_recv_req(int fd, struct termite_recv *r)
{
	return tm_ioctl(fd, TERMITE_IOC_RECV, r);
}

/* Plain receive of the first message: payload length or -errno. */
static inline int tm_recv(int fd, __u64 actor, void *buf, __u32 buf_len,
			  __s64 timeout_ns)
{
	struct termite_recv r;

	tm_recv_init(&r, actor, buf, buf_len, timeout_ns);
	return tm_recv_req(fd, &r);
}

/* Plain receive into a struct tm_msgbuf (cleared first). */
static inline int tm_recv_msg(int fd, __u64 actor, struct tm_msgbuf *m,
			      __s64 timeout_ns)
{
	memset(m, 0, sizeof(*m));
	return tm_recv(fd, actor, m, sizeof(*m), timeout_ns);
}

static inline int tm_ready(int fd, __u64 *ids, __u32 *count)
{
	struct termite_ready r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.ids = (__u64)(uintptr_t)ids;
	r.count = *count;
	ret = tm_ioctl(fd, TERMITE_IOC_READY, &r);
	if (ret >= 0)
		*count = r.count;
	return ret;
}

/* ---- names -------------------------------------------------------- */

static inline int tm_name_op(int fd, unsigned long cmd, __u64 *actor,
			     const char *name)
{
	struct termite_name n;
	int ret, i;

	memset(&n, 0, sizeof(n));
	n.actor = actor ? *actor : 0;
	/* Like strncpy(n.name, name, TERMITE_NAME_MAX - 1), without the
	 * truncation warnings: the rest stays NUL. */
	for (i = 0; i < TERMITE_NAME_MAX - 1 && name[i]; i++)
		n.name[i] = name[i];
	ret = tm_ioctl(fd, cmd, &n);
	if (ret >= 0 && actor)
		*actor = n.actor;
	return ret;
}

static inline int tm_register(int fd, __u64 actor, const char *name)
{
	return tm_name_op(fd, TERMITE_IOC_REGISTER, &actor, name);
}

static inline int tm_unregister(int fd, const char *name)
{
	return tm_name_op(fd, TERMITE_IOC_UNREGISTER, NULL, name);
}

/* WHEREIS: 0 and the id in *actor, or -errno. */
static inline int tm_whereis(int fd, const char *name, __u64 *actor)
{
	*actor = 0;
	return tm_name_op(fd, TERMITE_IOC_WHEREIS, actor, name);
}

/* ---- module parameters ------------------------------------------- */

/* Reads /sys/module/termite/parameters/<name>; 0 or -errno. */
static inline int tm_param_read(const char *name, unsigned long long *val)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), TM_PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = 0;
	*val = strtoull(buf, NULL, 0);
	return 0;
}

/* Writes a value to a module parameter; 0 or -errno (of the write). */
static inline int tm_param_write(const char *name, unsigned long long val)
{
	char path[256], buf[64];
	int fd, len, ret = 0;

	snprintf(path, sizeof(path), TM_PARAM_DIR "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%llu\n", val);
	if (write(fd, buf, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* ---- introspection ------------------------------------------------ */

/*
 * Reads the decimal value of the line "@key<whitespace><number>" (key
 * given with its colon, e.g. "termite-actors:") from /proc/self/fdinfo/@fd.
 * 0 and the value in *val, -ENOENT if no such line, or -errno.
 */
static inline int tm_fdinfo_u64(int fd, const char *key,
				unsigned long long *val)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen))
			continue;
		*val = strtoull(line + klen, NULL, 10);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

/* ---- memory and sorting helpers ------------------------------------ */

/*
 * An address with nothing mapped at it.  Made just before use, with no
 * other thread running, so nothing can be mapped there in between.
 */
static inline void *unmapped_page(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return (void *)1;
	munmap(p, pg);
	return p;
}

/* A page mapped with @prot (PROT_NONE, PROT_READ...); NULL on failure. */
static inline void *page_with(int prot)
{
	void *p = mmap(NULL, sysconf(_SC_PAGESIZE), prot,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* qsort() comparison of __u64 values. */
static inline int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Number of actors the port owns, from its fdinfo. */
static inline long fdinfo_actors(int fd)
{
	unsigned long long v = 0;
	int ret = tm_fdinfo_u64(fd, "termite-actors:", &v);

	return ret ? ret : (long)v;
}

#ifdef __KSELFTEST_HARNESS_H
/* Spawn in @mode or fail the test, naming the caller's @line. */
static inline __u64 spawn_ok(struct __test_metadata *_metadata, int line,
			     int fd, __u32 mode)
{
	__u64 id = 0;
	int ret = tm_spawn_mode(fd, mode, &id);

	ASSERT_EQ(0, ret) TH_LOG("line %d: spawn: %s", line, strerror(-ret));
	ASSERT_NE(0ULL, id) TH_LOG("line %d", line);
	return id;
}
#endif

#endif /* _TERMITE_SELFTEST_COMMON_H */
