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

#endif /* BENCH_PROTO_H */
