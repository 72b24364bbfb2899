/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench_proto.h - the little protocol of the cross-process benchmarks
 * (ipc_bench.c, lib_ipc_bench.c, binder_bench.c) and their helpers.
 *
 * Every client->server message is SIZE bytes and starts with a header:
 * 8 bytes of operation and 8 bytes of argument (little-endian):
 *   BP_ECHO    the server sends the message back (round trips)
 *   BP_STREAM  the next ARG messages are data; after the last one the
 *              server answers with one BP_ACK-byte message
 *   BP_DATA    a data message of a stream
 *   BP_QUIT    the server ends
 */
#ifndef BENCH_PROTO_H
#define BENCH_PROTO_H

/* Users define _GNU_SOURCE before any include (sched_setaffinity). */
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { BP_ECHO = 1, BP_STREAM, BP_DATA, BP_QUIT };

#define BP_HDR	16
#define BP_ACK	8

static inline void bp_put(void *msg, uint64_t op, uint64_t arg)
{
	memcpy(msg, &op, 8);
	memcpy((uint8_t *)msg + 8, &arg, 8);
}

static inline void bp_get(const void *msg, uint64_t *op, uint64_t *arg)
{
	memcpy(op, msg, 8);
	memcpy(arg, (const uint8_t *)msg + 8, 8);
}

static inline double bp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Pin the calling process (and the children it forks later) to CPU 0. */
static inline void bp_pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("sched_setaffinity");
		exit(1);
	}
}

/**
 * struct bp_opts - the command line of a cross-process benchmark:
 * [-p] [-r REP] [-n ITERS] [-t SECONDS] [-d DEVICE] ... lat|thr SIZE
 * @pin: -p, both processes on CPU 0
 * @lat: round trips (lat) rather than a stream (thr)
 * @rep: -r, the repetition number printed in the CSV
 * @iters: -n, round trips per repetition (2000)
 * @tmax: -t, seconds a repetition aims at (1 for lat, 0.5 for thr)
 * @size: message size in bytes, at least BP_HDR
 * @dev: -d, only accepted if set before parsing (binder_bench's device)
 */
struct bp_opts {
	bool pin, lat;
	long rep, iters;
	double tmax;
	size_t size;
	const char *dev;
};

/*
 * Parse the options into @o, then @npre words of the caller's own (their
 * index is returned), then lat|thr SIZE.  Line-buffers stdout and, with
 * -p, pins the process to CPU 0.  Returns -1 on a usage error.
 */
static inline int bp_parse(int argc, char **argv, int npre, struct bp_opts *o)
{
	int opt, first;

	o->pin = false;
	o->rep = 0;
	o->iters = 2000;
	o->tmax = -1;
	while ((opt = getopt(argc, argv, o->dev ? "pr:n:t:d:" : "pr:n:t:")) != -1) {
		switch (opt) {
		case 'p': o->pin = true; break;
		case 'r': o->rep = atol(optarg); break;
		case 'n': o->iters = atol(optarg); break;
		case 't': o->tmax = atof(optarg); break;
		case 'd': o->dev = optarg; break;
		default: return -1;
		}
	}
	first = optind;
	if (argc - first != npre + 2)
		return -1;
	o->lat = !strcmp(argv[first + npre], "lat");
	o->size = atol(argv[first + npre + 1]);
	if ((!o->lat && strcmp(argv[first + npre], "thr")) || o->size < BP_HDR)
		return -1;
	if (o->tmax < 0)
		o->tmax = o->lat ? 1.0 : 0.5;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o->pin)
		bp_pin_cpu0();
	return first;
}

/* Messages for a stream of about @tmax s, given @t256 s for 256. */
static inline long bp_stream_count(double t256, double tmax)
{
	long count = tmax / (t256 / 256);

	return count < 256 ? 256 : count > 2000000 ? 2000000 : count;
}

/*
 * Print the CSV lines of one repetition of system @sys: @n round trips
 * (lat) or messages (thr) in @t seconds.
 */
static inline void bp_report(const char *sys, const struct bp_opts *o,
			     double t, long n)
{
	if (o->lat) {
		printf("%s,%s,%zu,%ld,%.3f,%ld\n",
		       o->pin ? "lat_pinned" : "lat_unpinned", sys, o->size,
		       o->rep, t * 1e6 / n, n);
		return;
	}
	printf("thr_msgs,%s,%zu,%ld,%.3f,%ld\n", sys, o->size, o->rep,
	       n / t / 1e3, n);
	printf("thr_mb,%s,%zu,%ld,%.3f,%ld\n", sys, o->size, o->rep,
	       n * (double)o->size / t / (1 << 20), n);
}

#endif /* BENCH_PROTO_H */
