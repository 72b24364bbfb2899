/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lib_common.h - helpers shared by the libtermite-user selftests: record
 * results as text, hand terms to new processes, small term checks, run a
 * scenario (RUN()).
 * Include after termite.h and the kselftest harness.
 */
#ifndef _TERMITE_LIB_COMMON_H
#define _TERMITE_LIB_COMMON_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#define RES_LEN		512
#ifndef WAIT
#define WAIT		TM_SEC(10)	/* for an expected arrival */
#endif

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Record the text of @t into @dst (a static buffer of RES_LEN). */
static inline void put(char *dst, const struct tm_term *t)
{
	snprintf(dst, RES_LEN, "%s", t ? tm_str(t) : "(null)");
}

/* A heap copy of @t, to hand to a new process (a closure's variable). */
static inline struct tm_term sym(const char *s)
{
	return tm_symbol(s);
}

static inline struct tm_term rec1(const char *label, struct tm_term a)
{
	return tm_rec(tm_heap(), tm_symbol(label), 1, a);
}

static inline struct tm_term rec2(const char *label, struct tm_term a,
				  struct tm_term b)
{
	return tm_rec(tm_heap(), tm_symbol(label), 2, a, b);
}

static inline struct tm_term *box(struct tm_term t)
{
	return tm_clone(&t);
}

/* Take the boxed term into the calling process's heap. */
static inline struct tm_term unbox(void *arg)
{
	struct tm_term *b = arg;
	struct tm_term t = tm_copy(tm_heap(), b);

	tm_free(b);
	return t;
}

static inline bool int_is(const struct tm_term *t, int64_t want)
{
	int64_t v;

	return t && tm_is(t, TM_INT) && tm_get_int(t, &v) == 0 && v == want;
}

static inline struct tm_pattern *compile(const char *text)
{
	struct tm_pattern *p = NULL;

	if (tm_pattern_compile(text, strlen(text), &p) < 0)
		return NULL;
	return p;
}

static inline struct tm_term identity_handler(struct tm_term exc, void *ctx)
{
	(void)ctx;
	return exc;
}

/*
 * A scenario runs inside a catcher (guarded()): an exception nobody
 * expected is recorded in g_uncaught (and so fails the test) instead of
 * silently ending the first process.  Processes the scenario passes to
 * serve() are killed afterwards, whatever happened.
 */
static char g_uncaught[RES_LEN];
static uint64_t g_servers[16];
static unsigned int g_nservers;

/* Kill @pid when the scenario is over. */
static inline struct tm_term serve(struct tm_term pid)
{
	if (g_nservers < 16)
		g_servers[g_nservers++] = tm_pid_id(&pid);
	return pid;
}

static inline struct tm_term guard_handler(struct tm_term exc, void *ctx)
{
	(void)ctx;
	put(g_uncaught, &exc);
	return tm_bool(false);
}

static inline struct tm_term guard_body(void *ctx)
{
	((tm_proc_fn)ctx)(NULL);
	return tm_bool(true);
}

static inline struct tm_term kill_body(void *ctx)
{
	tm_kill(tm_pid_of(*(uint64_t *)ctx));
	return tm_bool(true);
}

static inline void guarded(void *arg)
{
	unsigned int i;

	tm_catch(guard_handler, guard_body, arg);
	for (i = 0; i < g_nservers; i++)
		tm_catch(identity_handler, kill_body, &g_servers[i]);
}

/*
 * Run scenario @fn as the first process of tm_run() (@n 0) or tm_run_n(@n),
 * inside guarded(): tm_run()'s result.
 */
static inline int run_scenario_n(unsigned int n, tm_proc_fn fn)
{
	g_uncaught[0] = '\0';
	g_nservers = 0;
	if (n)
		return tm_run_n(n, guarded, (void *)fn);
	return tm_run(guarded, (void *)fn);
}

static inline int run_scenario(tm_proc_fn fn)
{
	return run_scenario_n(0, fn);
}

/* In a TEST: run @fn, skip without the module, fail on any surprise. */
#define RUN_N(n, fn) do {						\
	int __r = run_scenario_n(n, fn);				\
	if (__r == -ENOENT)						\
		SKIP(return, "no /dev/termite (module not loaded)");	\
	ASSERT_EQ(0, __r);						\
	ASSERT_STREQ("", g_uncaught);					\
} while (0)
#define RUN(fn)	RUN_N(0, fn)

#endif /* _TERMITE_LIB_COMMON_H */
