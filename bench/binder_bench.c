// SPDX-License-Identifier: GPL-2.0
/*
 * binder_bench.c - message passing between two OS processes with Android
 * binder (binder_linux.ko, /dev/binder), for comparison with ipc_bench.c.
 *
 *   binder_bench MODE SIZE [-p] [-r REP] [-n ITERS] [-t SECONDS] [-d DEV]
 *
 * The server (a forked child) becomes the context manager (handle 0); the
 * client talks to handle 0.  No libbinder: the bare uapi
 * <linux/android/binder.h>, one BINDER_WRITE_READ per step.
 *   lat: synchronous transactions of SIZE bytes, the server replies with
 *        the same bytes (binder's natural RPC);
 *   thr: one-way transactions of SIZE bytes; then synchronous queries of
 *        how many the server has taken, until it has taken them all.  A
 *        one-way send that finds the server's async space full fails
 *        (BR_FAILED_REPLY) and is retried after a sched_yield().
 * Output as for ipc_bench (mechanism name "binder").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <linux/android/binder.h>
#include "bench_proto.h"

#define MAP_SIZE	(4 << 20)	/* binder's largest mapping */

struct wbuf {
	uint8_t b[4096];
	size_t n;
};

static int fd;
static const char *side = "client";
static uint32_t rbuf[(256 << 10) / 4];

static void die(const char *what)
{
	fprintf(stderr, "binder_bench (%s): %s: %s\n", side, what,
		strerror(errno));
	exit(1);
}

static void put(struct wbuf *w, uint32_t cmd, const void *arg, size_t len)
{
	if (w->n + 4 + len > sizeof(w->b)) {
		errno = ENOBUFS;
		die("write buffer full");
	}
	memcpy(w->b + w->n, &cmd, 4);
	memcpy(w->b + w->n + 4, arg, len);
	w->n += 4 + len;
}

static void put_free(struct wbuf *w, binder_uintptr_t buf)
{
	put(w, BC_FREE_BUFFER, &buf, sizeof(buf));
}

static void put_tr(struct wbuf *w, uint32_t cmd, uint32_t flags,
		   const void *data, size_t len)
{
	struct binder_transaction_data tr;

	memset(&tr, 0, sizeof(tr));
	tr.target.handle = 0;
	tr.code = 1;
	tr.flags = flags;
	tr.data_size = len;
	tr.data.ptr.buffer = (uintptr_t)data;
	put(w, cmd, &tr, sizeof(tr));
}

/* Write @w (emptied) and, if @rd, read; returns the bytes read. */
static size_t wr(struct wbuf *w, bool rd)
{
	struct binder_write_read bwr;

	memset(&bwr, 0, sizeof(bwr));
	bwr.write_buffer = (uintptr_t)w->b;
	bwr.write_size = w->n;
	if (rd) {
		bwr.read_buffer = (uintptr_t)rbuf;
		bwr.read_size = sizeof(rbuf);
	}
	while (ioctl(fd, BINDER_WRITE_READ, &bwr) < 0) {
		if (errno != EINTR)
			die("BINDER_WRITE_READ");
	}
	if (bwr.write_consumed != w->n) {
		errno = EIO;
		die("short write");
	}
	w->n = 0;
	return bwr.read_consumed;
}

/*
 * Walk the commands of one read; hand each transaction or reply to @fn.
 * Reference-count requests are acknowledged into @w.  Returns -1 if a
 * transaction failed (BR_FAILED_REPLY, BR_DEAD_REPLY, ...), else 0.
 */
static int walk(size_t len, struct wbuf *w,
		void (*fn)(uint32_t cmd, struct binder_transaction_data *tr))
{
	uint8_t *p = (uint8_t *)rbuf, *end = p + len;
	int ret = 0;

	while (p + 4 <= end) {
		uint32_t cmd;

		memcpy(&cmd, p, 4);
		p += 4;
		switch (cmd) {
		case BR_TRANSACTION:
		case BR_REPLY:
			fn(cmd, (struct binder_transaction_data *)p);
			break;
		case BR_INCREFS:
		case BR_ACQUIRE:
			put(w, cmd == BR_INCREFS ? BC_INCREFS_DONE : BC_ACQUIRE_DONE,
			    p, sizeof(struct binder_ptr_cookie));
			break;
		case BR_FAILED_REPLY:
		case BR_DEAD_REPLY:
		case BR_FROZEN_REPLY:
			ret = -1;
			break;
		case BR_ERROR:
			errno = EPROTO;
			die("BR_ERROR");
		default:
			break;	/* BR_NOOP, BR_TRANSACTION_COMPLETE, ... */
		}
		p += _IOC_SIZE(cmd);
	}
	return ret;
}

static void open_binder(const char *dev)
{
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die(dev);
	if (mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED)
		die("mmap");
}

/* ---- server ------------------------------------------------------------ */

static struct wbuf sw;
static uint64_t taken;		/* one-way messages received */
static bool quit;

static void serve(uint32_t cmd, struct binder_transaction_data *tr)
{
	uint8_t *data = (uint8_t *)(uintptr_t)tr->data.ptr.buffer;
	static uint8_t reply[BP_HDR];
	uint64_t op, arg;

	if (cmd != BR_TRANSACTION)
		return;
	bp_get(data, &op, &arg);
	switch (op) {
	case BP_ECHO:		/* reply with the same bytes, then free them */
		put_tr(&sw, BC_REPLY, 0, data, tr->data_size);
		break;
	case BP_STREAM:		/* how many one-way messages so far? */
		bp_put(reply, BP_STREAM, taken);
		put_tr(&sw, BC_REPLY, 0, reply, sizeof(reply));
		break;
	case BP_DATA:
		taken++;
		break;
	default:
		quit = true;
		if (!(tr->flags & TF_ONE_WAY))
			put_tr(&sw, BC_REPLY, 0, reply, sizeof(reply));
	}
	put_free(&sw, tr->data.ptr.buffer);
}

static void server(const char *dev, int ready)
{
	uint32_t zero = 0;
	int i;

	side = "server";
	open_binder(dev);
	/* The previous run's context manager may still be being released. */
	for (i = 0; ioctl(fd, BINDER_SET_CONTEXT_MGR, &zero); i++) {
		if (errno != EBUSY || i == 2000)
			die("BINDER_SET_CONTEXT_MGR");
		usleep(1000);
	}
	put(&sw, BC_ENTER_LOOPER, NULL, 0);
	wr(&sw, false);
	if (write(ready, "", 1) != 1)
		die("write");
	while (!quit) {
		size_t n = wr(&sw, true);

		walk(n, &sw, serve);
	}
	wr(&sw, false);		/* the last reply and free */
}

/* ---- client -------------------------------------------------------------- */

static struct wbuf cw;
static uint64_t replied;	/* from the last BP_STREAM reply */
static bool got_reply;

static void on_reply(uint32_t cmd, struct binder_transaction_data *tr)
{
	uint64_t op;

	if (cmd != BR_REPLY)
		return;
	if (tr->data_size >= BP_HDR)
		bp_get((void *)(uintptr_t)tr->data.ptr.buffer, &op, &replied);
	got_reply = true;
	put_free(&cw, tr->data.ptr.buffer);	/* with the next write */
}

/* A synchronous transaction: returns when its reply has come. */
static void call(const void *buf, size_t len)
{
	got_reply = false;
	put_tr(&cw, BC_TRANSACTION, 0, buf, len);
	while (!got_reply) {
		if (walk(wr(&cw, true), &cw, on_reply)) {
			errno = EPIPE;
			die("transaction failed");
		}
	}
}

/* A one-way transaction, retried while the server's async space is full. */
static void send_oneway(const void *buf, size_t len)
{
	for (;;) {
		put_tr(&cw, BC_TRANSACTION, TF_ONE_WAY, buf, len);
		if (!walk(wr(&cw, true), &cw, on_reply))
			return;
		sched_yield();
	}
}

static double lat_round(uint8_t *buf, size_t size, long n, double limit,
			long *done)
{
	double t0 = bp_now();
	long i;

	bp_put(buf, BP_ECHO, 0);
	for (i = 0; i < n; i++) {
		call(buf, size);
		if ((i & 15) == 15 && bp_now() - t0 > limit) {
			i++;
			break;
		}
	}
	*done = i;
	return bp_now() - t0;
}

static double thr_round(uint8_t *buf, size_t size, long count)
{
	uint8_t q[BP_HDR];
	uint64_t base;
	double t0;
	long i;

	bp_put(q, BP_STREAM, 0);
	call(q, sizeof(q));
	base = replied;
	t0 = bp_now();
	bp_put(buf, BP_DATA, 0);
	for (i = 0; i < count; i++)
		send_oneway(buf, size);
	do
		call(q, sizeof(q));
	while (replied < base + count);
	return bp_now() - t0;
}

int main(int argc, char **argv)
{
	struct bp_opts o = { .dev = "/dev/binder" };
	int st, pfd[2];
	long done, count;
	uint8_t *buf;
	pid_t child;
	double t;
	char c;

	if (bp_parse(argc, argv, 0, &o) < 0 || o.size > (1 << 20))
		goto usage;
	buf = calloc(1, o.size);
	if (!buf || pipe(pfd))
		die("setup");
	alarm(300);
	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pfd[0]);
		server(o.dev, pfd[1]);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1) {
		errno = EPIPE;
		die("the server did not start");
	}
	open_binder(o.dev);

	if (o.lat) {
		lat_round(buf, o.size, 100, 10, &done);	/* warm up */
		t = lat_round(buf, o.size, o.iters, o.tmax, &done);
		bp_report("binder", &o, t, done);
	} else {
		thr_round(buf, o.size, 64);
		count = bp_stream_count(thr_round(buf, o.size, 256), o.tmax);
		t = thr_round(buf, o.size, count);
		bp_report("binder", &o, t, count);
	}
	bp_put(buf, BP_QUIT, 0);
	call(buf, BP_HDR);
	wr(&cw, false);		/* free the last reply */
	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		errno = ECHILD;
		die("server failed");
	}
	return 0;

usage:
	fprintf(stderr, "usage: binder_bench lat|thr SIZE [-p] [-r REP] [-n ITERS] [-t SECONDS] [-d DEVICE]\n");
	return 2;
}
