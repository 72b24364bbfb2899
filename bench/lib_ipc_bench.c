// SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT)
/*
 * lib_ipc_bench.c - message passing between two OS processes through
 * libtermite-user: each runs tm_run() with one process, registered under a
 * name; each finds the other with tm_whereis().  Messages are Preserves
 * byte strings of SIZE bytes, with the header of bench_proto.h in front.
 *
 *   lib_ipc_bench MODE SIZE [-p] [-r REP] [-n ITERS] [-t SECONDS]
 *
 * Options and output as for ipc_bench (mechanism name "termite-lib").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "termite.h"
#include "bench_proto.h"

static struct bp_opts o;
static size_t size;		/* o.size */
static pid_t owner;
static int failed;

static void name_of(char *buf, size_t len, int side)
{
	snprintf(buf, len, "lib_ipc_bench-%d-%d", owner, side);
}

/* Register as @side, wait for the other side; returns its actor id. */
static uint64_t meet(int side)
{
	char name[64];
	struct tm_term p;
	int i;

	name_of(name, sizeof(name), side);
	if (tm_register(name, tm_self())) {
		fprintf(stderr, "lib_ipc_bench: tm_register %s failed\n", name);
		exit(1);
	}
	name_of(name, sizeof(name), !side);
	for (i = 0; i < 10000; i++) {
		p = tm_whereis(name);
		if (tm_term_valid(&p))
			return tm_pid_id(&p);
		tm_sleep(TM_MS(1));
	}
	fprintf(stderr, "lib_ipc_bench: no process named %s\n", name);
	exit(1);
}

/* The payload of a received message, which must be a @len-byte string. */
static const uint8_t *payload(const struct tm_term *m, size_t len)
{
	if (!tm_is(m, TM_BYTES) || m->len != len) {
		fprintf(stderr, "lib_ipc_bench: unexpected message %.80s\n",
			tm_str(m));
		exit(1);
	}
	return m->u.ptr;
}

/*
 * Free the heap now and then: every message (and every pid term) lands
 * there.  Returns the peer's pid, made afresh when the heap was freed.
 */
static struct tm_term tidy(struct tm_term peer, uint64_t peer_id)
{
	if (tm_heap()->used < (256 << 10))
		return peer;
	tm_collect(NULL, 0);
	return tm_pid_of(peer_id);
}

static void server(void *arg)
{
	uint64_t cid = meet(1), op, count, i;
	uint8_t ack[BP_ACK] = { 0 };
	struct tm_term cli = tm_pid_of(cid), m;

	(void)arg;
	for (;;) {
		m = tm_recv();
		bp_get(payload(&m, size), &op, &count);
		switch (op) {
		case BP_ECHO:
			tm_send(cli, m);
			break;
		case BP_STREAM:
			for (i = 0; i < count; i++) {
				m = tm_recv();
				payload(&m, size);
				cli = tidy(cli, cid);
			}
			tm_send(cli, tm_bytes(ack, sizeof(ack)));
			break;
		default:
			return;
		}
		cli = tidy(cli, cid);
	}
}

static struct tm_term srv;
static uint64_t sid;

static double lat_round(uint8_t *buf, long n, double limit, long *done)
{
	double t0 = bp_now(), t;
	struct tm_term m;
	long i;

	bp_put(buf, BP_ECHO, 0);
	for (i = 0; i < n; i++) {
		tm_send(srv, tm_bytes(buf, size));
		m = tm_recv();
		payload(&m, size);
		srv = tidy(srv, sid);
		if ((i & 15) == 15 && bp_now() - t0 > limit) {
			i++;
			break;
		}
	}
	t = bp_now() - t0;
	*done = i;
	return t;
}

static double thr_round(uint8_t *buf, long count)
{
	double t0 = bp_now();
	struct tm_term m;
	long i;

	bp_put(buf, BP_STREAM, count);
	tm_send(srv, tm_bytes(buf, size));
	bp_put(buf, BP_DATA, 0);
	for (i = 0; i < count; i++) {
		tm_send(srv, tm_bytes(buf, size));
		srv = tidy(srv, sid);
	}
	m = tm_recv();
	payload(&m, BP_ACK);
	return bp_now() - t0;
}

static void client(void *arg)
{
	uint8_t *buf = calloc(1, size);
	long done, count;
	double t;

	(void)arg;
	sid = meet(0);
	srv = tm_pid_of(sid);
	if (o.lat) {
		lat_round(buf, 100, 10, &done);		/* warm up */
		t = lat_round(buf, o.iters, o.tmax, &done);
		bp_report("termite-lib", &o, t, done);
	} else {
		thr_round(buf, 64);
		count = bp_stream_count(thr_round(buf, 256), o.tmax);
		t = thr_round(buf, count);
		bp_report("termite-lib", &o, t, count);
	}
	bp_put(buf, BP_QUIT, 0);
	tm_send(srv, tm_bytes(buf, size));
	free(buf);
}

int main(int argc, char **argv)
{
	pid_t child;
	int st, err;

	if (bp_parse(argc, argv, 0, &o) < 0)
		goto usage;
	size = o.size;
	owner = getpid();
	alarm(300);
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (!child) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		err = tm_run(server, NULL);
		if (err)
			fprintf(stderr, "lib_ipc_bench: server: tm_run: %s\n",
				strerror(-err));
		_exit(!!err);
	}
	err = tm_run(client, NULL);
	if (err) {
		fprintf(stderr, "lib_ipc_bench: tm_run: %s\n", strerror(-err));
		failed = 1;
	}
	if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		failed = 1;
	return failed;

usage:
	fprintf(stderr, "usage: lib_ipc_bench lat|thr SIZE [-p] [-r REP] [-n ITERS] [-t SECONDS]\n");
	return 2;
}
