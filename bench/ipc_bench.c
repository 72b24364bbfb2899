// SPDX-License-Identifier: GPL-2.0
/*
 * ipc_bench.c - message passing between two OS processes: termite actors
 * driven by raw ioctls or by io_uring commands, a pair of pipes, a Unix
 * SOCK_SEQPACKET socket pair and a pair of POSIX message queues.
 *
 *   ipc_bench MECH MODE SIZE [-p] [-r REP] [-n ITERS] [-t SECONDS]
 *
 *   MECH   termite | termite-uring | pipe | seqpacket | mqueue
 *          (termite-uring only when built with liburing)
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
#if __has_include(<liburing.h>)
#include <liburing.h>
#define HAVE_LIBURING 1
#endif
#include "bench_proto.h"

/* termite-uring: receives a stream's receiver keeps parked. */
#define TU_DEPTH	8

struct chan {
	int side;			/* 0: client (parent), 1: server */
	size_t size;			/* largest message */
	uint8_t *rbuf;			/* receive buffer */
	int pfd[2][2];			/* pipe: [0] client->server, [1] back */
	int sv[2];			/* seqpacket */
	mqd_t mq[2];			/* mqueue: [0] to server, [1] to client */
	int tfd;			/* termite port */
	uint64_t self, peer;		/* termite actors */
	int depth;			/* termite-uring: receives kept parked */
};

struct mech {
	const char *name;
	int (*setup)(struct chan *c);		/* before fork */
	int (*attach)(struct chan *c);		/* after fork, each side */
	/*
	 * Send @len bytes at @buf.  Mechanisms with a flush hook queue the
	 * send and may read @buf until the next recv or flush: leave it as
	 * it is until then.
	 */
	int (*send)(struct chan *c, const void *buf, size_t len);
	/* Receive a message of @len bytes (pipes need it); returns its data. */
	void *(*recv)(struct chan *c, size_t len);
	/* Mechanisms that queue sends: send them all now (or NULL). */
	int (*flush)(struct chan *c);
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

/* ---- termite, io_uring commands ------------------------------------- */

#ifdef HAVE_LIBURING
/*
 * The same actors as above, found the same way, but every send and receive
 * is an IORING_OP_URING_CMD: cmd_op the ioctl number, the ioctl's struct
 * in the command area of a 128-byte SQE, the result in the CQE's res (and,
 * for SEND_BATCH, the number sent in big_cqe[0]: 32-byte CQEs).
 *
 * Sends are queued here and go out with the next receive, which submits
 * them and parks the next receives (timeout_ns < 0: it completes when a
 * message comes) in one io_uring_submit_and_wait(): a round trip costs
 * each side one system call instead of two ioctls.  A stream goes out
 * TU_BATCH messages per TERMITE_IOC_SEND_BATCH command, one command in
 * flight at a time, so the order holds.  A batch does not wait for room:
 * it stops at the first message that finds the mailbox (or the receiving
 * port's quota) full, and the next one goes alone as a SEND with
 * TERMITE_SEND_BLOCK, which io_uring finishes from a worker that may
 * sleep.
 *
 * The receiver keeps c->depth receives parked, each with its own buffer
 * (a slot), and hands the messages out in mailbox order: the slot whose
 * termite_msghdr.seq is one more than the last one's, so a lost or
 * reordered message cannot go unnoticed.  A slot handed out stays put
 * until the next receive, and until the sends queued by then (an echo of
 * its payload) have gone.
 */
#define TU_BATCH	32		/* sends per TERMITE_IOC_SEND_BATCH */
#define TU_SLOTS	(TU_DEPTH + 2)	/* parked, handed out, released */
#define TU_SEND		(~0ULL)		/* user_data of the send command */

enum tu_state {
	TU_FREE,		/* to be parked by the next submit */
	TU_PARKED,		/* a receive into it is in the kernel */
	TU_DONE,		/* holds a message not yet handed out */
	TU_HELD,		/* handed out by the last receive */
	TU_RELEASED,		/* free once the queued sends have gone */
};

struct tu_slot {
	uint8_t *buf;		/* struct termite_msghdr, then the payload */
	enum tu_state state;
	int res;		/* the receive's result, once TU_DONE */
	uint64_t mark;		/* TU_RELEASED: free once tu.sent reaches it */
};

static struct {
	struct io_uring ring;
	struct tu_slot slot[TU_SLOTS];
	int nslots;
	int parked;		/* slots in TU_PARKED */
	int held;		/* the slot in TU_HELD, or -1 */
	uint64_t seq;		/* mailbox seq of the last message handed out */
	uint64_t cseq;		/* highest seq completed so far */
	long reordered;		/* completions that came out of mailbox order */
	struct termite_send sends[TU_BATCH];
	unsigned int nsend;	/* sends queued; the first insend submitted */
	unsigned int insend;
	bool full;		/* the last batch found the mailbox full */
	uint64_t queued, sent;	/* sends ever queued, and gone */
} tu;

static int tu_attach(struct chan *c)
{
	size_t len = sizeof(struct termite_msghdr) + c->size;
	int i, ret;

	if (tm_attach(c))
		return -1;
	/*
	 * One task submits and reaps: completions wait until it asks for
	 * them instead of interrupting it (no clear difference measured
	 * under TCG).  Before Linux 6.1, a plain ring.
	 */
	ret = io_uring_queue_init(32, &tu.ring, IORING_SETUP_SQE128 |
				  IORING_SETUP_CQE32 |
				  IORING_SETUP_SINGLE_ISSUER |
				  IORING_SETUP_DEFER_TASKRUN);
	if (ret == -EINVAL)
		ret = io_uring_queue_init(32, &tu.ring, IORING_SETUP_SQE128 |
					  IORING_SETUP_CQE32);
	if (ret) {
		errno = -ret;
		return -1;
	}
	tu.nslots = c->depth + 2;
	for (i = 0; i < tu.nslots; i++) {
		tu.slot[i].buf = calloc(1, len);
		if (!tu.slot[i].buf)
			return -1;
	}
	tu.held = -1;
	return 0;
}

/* Queue one termite command: @op is a TERMITE_IOC_* number. */
static void tu_prep(struct chan *c, uint32_t op, const void *arg, size_t size,
		    uint64_t udata)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&tu.ring);

	if (!sqe) {
		errno = EBUSY;
		die("io_uring_get_sqe");
	}
	memset(sqe, 0, 2 * sizeof(*sqe));	/* a 128-byte SQE */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = c->tfd;
	sqe->cmd_op = op;
	sqe->user_data = udata;
	memcpy(sqe->cmd, arg, size);
}

static void tu_complete(uint64_t udata, int res, uint64_t sent)
{
	struct termite_msghdr *h;
	struct tu_slot *s;
	unsigned int n;
	int i;

	if (udata == TU_SEND) {
		/*
		 * SEND: 0.  SEND_BATCH: the count if all went, else the error
		 * that stopped it, -EAGAIN (mailbox full) or -ENOBUFS (the
		 * receiving port's quota); big_cqe[0] says how many went, and
		 * the rest goes again.
		 */
		if (res < 0 && res != -EAGAIN && res != -ENOBUFS) {
			errno = -res;
			die("send");
		}
		n = tu.insend == 1 ? res == 0 : (unsigned int)sent;
		tu.full = n < tu.insend;
		tu.nsend -= n;
		memmove(tu.sends, tu.sends + n, tu.nsend * sizeof(tu.sends[0]));
		tu.insend = 0;
		tu.sent += n;
		for (i = 0; i < tu.nslots; i++)
			if (tu.slot[i].state == TU_RELEASED &&
			    tu.slot[i].mark <= tu.sent)
				tu.slot[i].state = TU_FREE;
		return;
	}
	s = &tu.slot[udata];
	if (res < 0) {
		errno = -res;
		die("receive");
	}
	s->state = TU_DONE;
	s->res = res;
	tu.parked--;
	h = (struct termite_msghdr *)s->buf;
	if (h->seq != tu.cseq + 1)
		tu.reordered++;
	if (h->seq > tu.cseq)
		tu.cseq = h->seq;
}

/*
 * Submit the queued sends unless some are in flight; with @wait, also park
 * receives in the free slots.  Wait for a receive to complete (@wait) or
 * for the send in flight, then take every completion there is.
 */
static void tu_submit(struct chan *c, bool wait)
{
	unsigned int head, n = 0, nr;
	struct io_uring_cqe *cqe;
	struct termite_batch b;
	struct termite_send s;
	struct termite_recv r;
	bool single = false;
	int i, ret;

	if (tu.nsend && !tu.insend) {
		if (tu.nsend == 1 || tu.full) {
			/* One message, waiting for room if need be. */
			s = tu.sends[0];
			s.flags = TERMITE_SEND_BLOCK;
			s.timeout_ns = -1;
			tu_prep(c, TERMITE_IOC_SEND, &s, sizeof(s), TU_SEND);
			tu.insend = 1;
			single = true;
		} else {
			memset(&b, 0, sizeof(b));
			b.sends = (uintptr_t)tu.sends;
			b.count = tu.nsend;
			tu_prep(c, TERMITE_IOC_SEND_BATCH, &b, sizeof(b),
				TU_SEND);
			tu.insend = tu.nsend;
		}
	}
	for (i = 0; wait && i < tu.nslots && tu.parked < c->depth; i++) {
		if (tu.slot[i].state != TU_FREE)
			continue;
		memset(&r, 0, sizeof(r));
		r.actor = c->self;
		r.buf = (uintptr_t)tu.slot[i].buf;
		r.buf_len = sizeof(struct termite_msghdr) + c->size;
		r.timeout_ns = -1;
		tu_prep(c, TERMITE_IOC_RECV, &r, sizeof(r), i);
		tu.slot[i].state = TU_PARKED;
		tu.parked++;
	}
	/*
	 * A SEND of the last queued message goes all or nothing, so a receive
	 * can wait for its completion too.  Otherwise more must go before an
	 * answer can come (a batch may send only some): the wait ends with
	 * the send's completion.
	 */
	if (wait && !tu.parked && !tu.insend) {
		errno = EPROTO;
		die("receive: a message is missing from the sequence");
	}
	if (wait && tu.parked)
		nr = single && tu.nsend == 1 ? 2 : 1;
	else
		nr = tu.insend ? 1 : 0;
	do
		ret = io_uring_submit_and_wait(&tu.ring, nr);
	while (ret == -EINTR);
	if (ret < 0) {
		errno = -ret;
		die("io_uring_submit_and_wait");
	}
	io_uring_for_each_cqe(&tu.ring, head, cqe) {
		tu_complete(cqe->user_data, cqe->res, cqe->big_cqe[0]);
		n++;
	}
	io_uring_cq_advance(&tu.ring, n);
}

static int tu_send(struct chan *c, const void *buf, size_t len)
{
	struct termite_send *s;

	/* The array is the kernel's while a batch of it is in flight. */
	while (tu.nsend == TU_BATCH || tu.insend)
		tu_submit(c, false);
	s = &tu.sends[tu.nsend++];
	tu.queued++;
	memset(s, 0, sizeof(*s));
	s->from = c->self;
	s->to = c->peer;
	s->buf = (uintptr_t)buf;
	s->len = len;
	return 0;
}

static void *tu_recv(struct chan *c, size_t len)
{
	struct termite_msghdr *h;
	struct tu_slot *s;
	int i;

	if (tu.held >= 0) {
		/* Its payload may be in a queued send (an echo). */
		s = &tu.slot[tu.held];
		s->state = tu.sent < tu.queued ? TU_RELEASED : TU_FREE;
		s->mark = tu.queued;
		tu.held = -1;
	}
	for (;;) {
		for (i = 0; i < tu.nslots; i++) {
			s = &tu.slot[i];
			h = (struct termite_msghdr *)s->buf;
			if (s->state == TU_DONE && h->seq == tu.seq + 1)
				goto found;
		}
		tu_submit(c, true);
	}
found:
	s->state = TU_HELD;
	tu.held = i;
	tu.seq = h->seq;
	if (s->res != (int)len)
		return NULL;
	return h + 1;
}

static int tu_flush(struct chan *c)
{
	while (tu.nsend)
		tu_submit(c, false);
	if (tu.reordered)
		fprintf(stderr, "ipc_bench (%s): termite-uring: %ld receives "
			"completed out of mailbox order\n",
			c->side ? "server" : "client", tu.reordered);
	return 0;
}
#endif /* HAVE_LIBURING */

static const struct mech mechs[] = {
	{ "termite", tm_setup, tm_attach, tm_send, tm_recv, NULL },
#ifdef HAVE_LIBURING
	{ "termite-uring", tm_setup, tu_attach, tu_send, tu_recv, tu_flush },
#endif
	{ "pipe", pipe_setup, pipe_attach, pipe_send, pipe_recv, NULL },
	{ "seqpacket", seq_setup, seq_attach, seq_send, seq_recv, NULL },
	{ "mqueue", mq_setup, mq_attach, mq_send_, mq_recv, NULL },
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

/* @head: for the BP_STREAM message (see struct mech's send). */
static double thr_round(void *head, void *buf, size_t size, long count)
{
	double t0 = bp_now();
	long i;

	bp_put(head, BP_STREAM, count);
	xsend(head, size);
	bp_put(buf, BP_DATA, 0);
	for (i = 0; i < count; i++)
		xsend(buf, size);
	xrecv(BP_ACK);
	return bp_now() - t0;
}

int main(int argc, char **argv)
{
	struct bp_opts o = {};
	long done, count;
	uint8_t *buf, *head;
	size_t size, i;
	int first, st;
	pid_t child;
	double t;
	bool lat;

	first = bp_parse(argc, argv, 1, &o);
	if (first < 0)
		goto usage;
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (!strcmp(argv[first], mechs[i].name))
			m = &mechs[i];
	if (!m)
		goto usage;
	size = o.size;
	lat = o.lat;
	ch.size = size;
	ch.depth = 1;
	ch.rbuf = calloc(1, size + sizeof(struct termite_msghdr));
	buf = calloc(1, size);
	head = calloc(1, size);
	if (!ch.rbuf || !buf || !head)
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
		if (!lat)
			ch.depth = TU_DEPTH;	/* the stream's receiver */
		if (m->attach(&ch))
			die("attach (server)");
		server();
		if (m->flush && m->flush(&ch))
			die("send");
		_exit(0);
	}
	if (m->attach(&ch))
		die("attach (client)");

	if (lat) {
		lat_round(buf, size, 100, 10, &done);	/* warm up */
		t = lat_round(buf, size, o.iters, o.tmax, &done);
		bp_report(m->name, &o, t, done);
	} else {
		/* Calibrate on a short stream, then aim at tmax seconds. */
		thr_round(head, buf, size, 64);
		count = bp_stream_count(thr_round(head, buf, size, 256),
					o.tmax);
		t = thr_round(head, buf, size, count);
		bp_report(m->name, &o, t, count);
	}
	bp_put(buf, BP_QUIT, 0);
	xsend(buf, size);
	if (m->flush && m->flush(&ch))
		die("send");
	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		die("server failed");
	return 0;

usage:
	/* The mechanisms built (scripts/bench.sh looks for termite-uring). */
	fprintf(stderr, "usage: ipc_bench ");
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		fprintf(stderr, "%s%s", i ? "|" : "", mechs[i].name);
	fprintf(stderr, " lat|thr SIZE [-p] [-r REP] [-n ITERS] [-t SECONDS]\n");
	return 2;
}
