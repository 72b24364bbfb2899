// SPDX-License-Identifier: GPL-2.0
/*
 * ipc_bench.c - message passing between two OS processes: termite actors
 * driven by raw ioctls, a pair of pipes, a Unix SOCK_SEQPACKET socket pair
 * and a pair of POSIX message queues.
 *
 *   ipc_bench MECH MODE SIZE [-p] [-r REP] [-n ITERS] [-t SECONDS]
 *
 *   MECH   termite | pipe | seqpacket | mqueue
 *   MODE   lat: round trips (the server echoes every message)
 *          thr: one-way stream of messages, one ack at the end
 *   SIZE   message size in bytes (>= 16)
 *   -p     pin both processes to CPU 0 (path cost, no cross-CPU wake-ups)
 *   -r     repetition number, copied into the output
 *   -n     lat: most round trips to time (default 2000)
 *   -t     lat: stop after this many seconds (default 1);
 *          thr: aim at this many seconds (default 0.5)
 *
 * The parent is the client, a forked child the server; each has one
 * endpoint (for termite: one actor on its own port, found by name).
 * Output, one CSV line per result (see scripts/bench.sh):
 *   lat_pinned|lat_unpinned,MECH,SIZE,REP,us_per_round_trip,round_trips
 *   thr_msgs,MECH,SIZE,REP,kmsgs_per_s,messages
 *   thr_mb,MECH,SIZE,REP,MiB_per_s,messages
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/termite.h>
#include "bench_proto.h"

struct chan {
	int side;			/* 0: client (parent), 1: server */
	size_t size;			/* largest message */
	uint8_t *rbuf;			/* receive buffer */
	int pfd[2][2];			/* pipe: [0] client->server, [1] back */
	int sv[2];			/* seqpacket */
	mqd_t mq[2];			/* mqueue: [0] to server, [1] to client */
	int tfd;			/* termite port */
	uint64_t self, peer;		/* termite actors */
};

struct mech {
	const char *name;
	int (*setup)(struct chan *c);		/* before fork */
	int (*attach)(struct chan *c);		/* after fork, each side */
	int (*send)(struct chan *c, const void *buf, size_t len);
	/* Receive a message of @len bytes (pipes need it); returns its data. */
	void *(*recv)(struct chan *c, size_t len);
};

static struct chan ch;

static void die(const char *what)
{
	fprintf(stderr, "ipc_bench (%s): %s: %s\n",
		ch.side ? "server" : "client", what, strerror(errno));
	exit(1);
}

/* ---- pipes ----------------------------------------------------------- */

static int pipe_setup(struct chan *c)
{
	return pipe(c->pfd[0]) || pipe(c->pfd[1]) ? -1 : 0;
}

static int pipe_attach(struct chan *c)
{
	/* Keep our write end of one pipe and read end of the other. */
	close(c->pfd[c->side][0]);
	close(c->pfd[!c->side][1]);
	return 0;
}

static int pipe_send(struct chan *c, const void *buf, size_t len)
{
	int fd = c->pfd[c->side][1];
	const uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static void *pipe_recv(struct chan *c, size_t len)
{
	int fd = c->pfd[!c->side][0];
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, c->rbuf + got, len - got);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return NULL;
		}
		got += n;
	}
	return c->rbuf;
}

/* ---- Unix SOCK_SEQPACKET ------------------------------------------------ */

static int seq_setup(struct chan *c)
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET, 0, c->sv);
}

static int seq_attach(struct chan *c)
{
	close(c->sv[!c->side]);
	return 0;
}

static int seq_send(struct chan *c, const void *buf, size_t len)
{
	return send(c->sv[c->side], buf, len, 0) == (ssize_t)len ? 0 : -1;
}

static void *seq_recv(struct chan *c, size_t len)
{
	ssize_t n = recv(c->sv[c->side], c->rbuf, c->size, 0);

	return n == (ssize_t)len ? c->rbuf : NULL;
}

/* ---- POSIX message queues ------------------------------------------- */

static int mq_setup(struct chan *c)
{
	struct mq_attr a = { .mq_maxmsg = 10, .mq_msgsize = c->size };
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	char name[64];
	int i;

	/* Two queues of 10 x 64 KiB exceed the default RLIMIT_MSGQUEUE. */
	setrlimit(RLIMIT_MSGQUEUE, &rl);
	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "/ipc_bench-%d-%d", getpid(), i);
		c->mq[i] = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
		if (c->mq[i] == (mqd_t)-1)
			return -1;
		mq_unlink(name);	/* the descriptors survive the fork */
	}
	return 0;
}

static int mq_attach(struct chan *c)
{
	(void)c;
	return 0;
}

static int mq_send_(struct chan *c, const void *buf, size_t len)
{
	return mq_send(c->mq[c->side], buf, len, 0);
}

static void *mq_recv(struct chan *c, size_t len)
{
	ssize_t n = mq_receive(c->mq[!c->side], (char *)c->rbuf, c->size, NULL);

	return n == (ssize_t)len ? c->rbuf : NULL;
}

/* ---- termite, raw ioctls ------------------------------------------- */

static pid_t tm_owner;		/* the client's pid: names are unique per run */

static int tm_setup(struct chan *c)
{
	(void)c;
	tm_owner = getpid();
	return 0;
}

static int tm_attach(struct chan *c)
{
	struct termite_spawn sp;
	struct termite_name nm;
	int i;

	c->tfd = open(TERMITE_DEVICE, O_RDWR | O_CLOEXEC);
	if (c->tfd < 0)
		return -1;
	memset(&sp, 0, sizeof(sp));
	if (ioctl(c->tfd, TERMITE_IOC_SPAWN, &sp))
		return -1;
	c->self = sp.id;
	memset(&nm, 0, sizeof(nm));
	nm.actor = c->self;
	snprintf(nm.name, sizeof(nm.name), "ipc_bench-%d-%d", tm_owner, c->side);
	if (ioctl(c->tfd, TERMITE_IOC_REGISTER, &nm))
		return -1;
	/* Wait (up to 10 s) for the other side's name. */
	for (i = 0; i < 10000; i++) {
		memset(&nm, 0, sizeof(nm));
		snprintf(nm.name, sizeof(nm.name), "ipc_bench-%d-%d", tm_owner,
			 !c->side);
		if (!ioctl(c->tfd, TERMITE_IOC_WHEREIS, &nm)) {
			c->peer = nm.actor;
			return 0;
		}
		usleep(1000);
	}
	errno = ETIMEDOUT;
	return -1;
}

static int tm_send(struct chan *c, const void *buf, size_t len)
{
	struct termite_send s;

	memset(&s, 0, sizeof(s));
	s.from = c->self;
	s.to = c->peer;
	s.buf = (uintptr_t)buf;
	s.len = len;
	s.flags = TERMITE_SEND_BLOCK;
	s.timeout_ns = -1;
	return ioctl(c->tfd, TERMITE_IOC_SEND, &s);
}

static void *tm_recv(struct chan *c, size_t len)
{
	struct termite_recv r;
	int n;

	memset(&r, 0, sizeof(r));
	r.actor = c->self;
	r.buf = (uintptr_t)c->rbuf;
	r.buf_len = sizeof(struct termite_msghdr) + c->size;
	r.timeout_ns = 30LL * 1000000000;	/* blocks in the kernel */
	n = ioctl(c->tfd, TERMITE_IOC_RECV, &r);
	if (n != (int)len)
		return NULL;
	return c->rbuf + sizeof(struct termite_msghdr);
}

static const struct mech mechs[] = {
	{ "termite", tm_setup, tm_attach, tm_send, tm_recv },
	{ "pipe", pipe_setup, pipe_attach, pipe_send, pipe_recv },
	{ "seqpacket", seq_setup, seq_attach, seq_send, seq_recv },
	{ "mqueue", mq_setup, mq_attach, mq_send_, mq_recv },
};

/* ---- the protocol (bench_proto.h) ------------------------------------- */

static const struct mech *m;

static void xsend(const void *buf, size_t len)
{
	if (m->send(&ch, buf, len))
		die("send");
}

static void *xrecv(size_t len)
{
	void *p = m->recv(&ch, len);

	if (!p)
		die("receive");
	return p;
}

static void server(void)
{
	uint8_t ack[BP_ACK] = { 0 };
	uint64_t op, count, i;
	void *msg;

	for (;;) {
		msg = xrecv(ch.size);
		bp_get(msg, &op, &count);
		switch (op) {
		case BP_ECHO:
			xsend(msg, ch.size);
			break;
		case BP_STREAM:
			for (i = 0; i < count; i++)
				xrecv(ch.size);
			xsend(ack, sizeof(ack));
			break;
		default:
			return;
		}
	}
}

static double lat_round(void *buf, size_t size, long iters, double tmax,
			long *done)
{
	double t0 = bp_now(), t = 0;
	long i;

	bp_put(buf, BP_ECHO, 0);
	for (i = 0; i < iters; i++) {
		xsend(buf, size);
		xrecv(size);
		if ((i & 15) == 15 && (t = bp_now() - t0) > tmax) {
			i++;
			break;
		}
	}
	t = bp_now() - t0;
	*done = i;
	return t;
}

static double thr_round(void *buf, size_t size, long count)
{
	double t0 = bp_now();
	long i;

	bp_put(buf, BP_STREAM, count);
	xsend(buf, size);
	bp_put(buf, BP_DATA, 0);
	for (i = 0; i < count; i++)
		xsend(buf, size);
	xrecv(BP_ACK);
	return bp_now() - t0;
}

int main(int argc, char **argv)
{
	long iters = 2000, rep = 0, done, count;
	double tmax = -1, t;
	bool pin = false, lat;
	size_t size, i;
	uint8_t *buf;
	pid_t child;
	int opt, st;

	while ((opt = getopt(argc, argv, "pr:n:t:")) != -1) {
		switch (opt) {
		case 'p': pin = true; break;
		case 'r': rep = atol(optarg); break;
		case 'n': iters = atol(optarg); break;
		case 't': tmax = atof(optarg); break;
		default: goto usage;
		}
	}
	if (argc - optind != 3)
		goto usage;
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (!strcmp(argv[optind], mechs[i].name))
			m = &mechs[i];
	lat = !strcmp(argv[optind + 1], "lat");
	size = atol(argv[optind + 2]);
	if (!m || (!lat && strcmp(argv[optind + 1], "thr")) || size < BP_HDR)
		goto usage;
	if (tmax < 0)
		tmax = lat ? 1.0 : 0.5;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pin)
		bp_pin_cpu0();
	ch.size = size;
	ch.rbuf = calloc(1, size + sizeof(struct termite_msghdr));
	buf = calloc(1, size);
	if (!ch.rbuf || !buf)
		die("calloc");
	if (m->setup(&ch))
		die("setup");
	alarm(300);
	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		ch.side = 1;
		if (m->attach(&ch))
			die("attach (server)");
		server();
		_exit(0);
	}
	if (m->attach(&ch))
		die("attach (client)");

	if (lat) {
		lat_round(buf, size, 100, 10, &done);	/* warm up */
		t = lat_round(buf, size, iters, tmax, &done);
		printf("%s,%s,%zu,%ld,%.3f,%ld\n",
		       pin ? "lat_pinned" : "lat_unpinned", m->name, size, rep,
		       t * 1e6 / done, done);
	} else {
		/* Calibrate on a short stream, then aim at tmax seconds. */
		thr_round(buf, size, 64);
		t = thr_round(buf, size, 256);
		count = tmax / (t / 256);
		count = count < 256 ? 256 : count > 2000000 ? 2000000 : count;
		t = thr_round(buf, size, count);
		printf("thr_msgs,%s,%zu,%ld,%.3f,%ld\n", m->name, size, rep,
		       count / t / 1e3, count);
		printf("thr_mb,%s,%zu,%ld,%.3f,%ld\n", m->name, size, rep,
		       count * (double)size / t / (1 << 20), count);
	}
	bp_put(buf, BP_QUIT, 0);
	xsend(buf, size);
	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		die("server failed");
	return 0;

usage:
	fprintf(stderr, "usage: ipc_bench termite|pipe|seqpacket|mqueue lat|thr SIZE [-p] [-r REP] [-n ITERS] [-t SECONDS]\n");
	return 2;
}
