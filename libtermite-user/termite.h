/* SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT) */
/*
 * termite.h - the Termite API in C, on top of /dev/termite.
 *
 * A process is a green thread (fiber.h) and a kernel actor (uapi
 * <linux/termite.h>): the kernel owns its mailbox, links, monitors, name
 * and exit signals, so they work across OS processes and a crash of any of
 * them is reported by the kernel.  One scheduler runs per OS thread, each
 * with its own port; an idle scheduler sleeps in poll() on its port.
 *
 * Messages are Preserves values (term.h).  Pids and tags are embedded
 * references whose node is the kernel universe (one per IPC namespace), so
 * every OS process of one namespace is one node.
 *
 * Memory: terms a process builds or receives live in its heap (tm_heap()),
 * an arena freed when the process ends; a long-running process calls
 * tm_collect() at a quiet point (e.g. between loop iterations), keeping
 * only the terms it names.
 *
 * Errors of the API itself (bad arguments, the kernel refusing) are raised
 * as exceptions <error "text" errno>; exit signals from linked processes
 * are raised at the next receive as the exception that killed the peer
 * (or the symbols killed, noproc, noconnection, port-closed).
 *
 * Names follow the Termite paper: !, ?, ??, recv, !?, spawn-link ...
 * become tm_send, tm_recv, tm_recv_if, tm_recv_match, tm_call,
 * tm_spawn_link.
 */
#ifndef TERMITE_H
#define TERMITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "term.h"
#include "pattern.h"

/* Timeouts are in nanoseconds; TM_FOREVER waits forever. */
#define TM_FOREVER	(-1LL)
#define TM_MS(ms)	((int64_t)(ms) * 1000000LL)
#define TM_SEC(s)	((int64_t)(s) * 1000000000LL)

/* Payload kind of a message holding one Preserves value. */
#define TM_KIND_TERM	1

typedef void (*tm_proc_fn)(void *arg);

/* ---- running ------------------------------------------------------ */

/*
 * Run @fn(@arg) as the first process of a scheduler on the calling thread
 * and return when every process of the program has ended.  tm_run_n() runs
 * @n schedulers, one per thread (the calling thread is the first); new
 * processes are placed round-robin across them.  0, or -errno (e.g.
 * -ENOENT when /dev/termite is missing).
 */
int tm_run(tm_proc_fn fn, void *arg);
int tm_run_n(unsigned int n, tm_proc_fn fn, void *arg);

/* ---- processes ---------------------------------------------------- */

struct tm_term tm_self(void);
struct tm_term tm_spawn(tm_proc_fn fn, void *arg);
/* Spawn with a bidirectional link made before the child runs. */
struct tm_term tm_spawn_link(tm_proc_fn fn, void *arg);
bool tm_is_pid(const struct tm_term *t);
/* The kernel actor id of a local pid, 0 if @t is not one. */
uint64_t tm_pid_id(const struct tm_term *t);
/* The pid of a kernel actor of this node. */
struct tm_term tm_pid_of(uint64_t actor);

/* The process's heap, and a collection keeping @keep[0..n) only. */
struct tm_arena *tm_heap(void);
void tm_collect(struct tm_term *keep, size_t n);

/* Let other processes of this scheduler run. */
void tm_yield(void);
/* Sleep for @ns without touching the mailbox. */
void tm_sleep(int64_t ns);

/* ---- messages ----------------------------------------------------- */

/* !: send @msg to @pid; sending to a dead process does nothing. */
void tm_send(struct tm_term pid, struct tm_term msg);
/* Send with a kernel tag, which a receiver can select on cheaply. */
void tm_send_tagged(struct tm_term pid, struct tm_term tag, struct tm_term msg);

/* ?: the next message; with a timeout, *dflt or else raise `timeout. */
struct tm_term tm_recv(void);
struct tm_term tm_recv_for(int64_t timeout, const struct tm_term *dflt);

/* ??: the first message satisfying @pred, in mailbox order. */
typedef bool (*tm_pred_fn)(const struct tm_term *msg, void *ctx);
struct tm_term tm_recv_if(tm_pred_fn pred, void *ctx, int64_t timeout,
			  const struct tm_term *dflt);

/*
 * recv: the first message matching one clause, in mailbox order, trying
 * the clauses in order for each message.  A clause's @where (may be NULL)
 * sees the captures and may refuse the message.  Returns the clause's
 * index, with @caps (room for @ncaps) filled and *msg (may be NULL) set,
 * or -1 when @timeout passed with no match (the `after' clause).
 */
typedef bool (*tm_where_fn)(const struct tm_capture *caps, void *ctx);
struct tm_clause {
	const struct tm_pattern *pat;
	tm_where_fn where;
};
int tm_recv_match(const struct tm_clause *clauses, size_t n,
		  struct tm_capture *caps, size_t ncaps, void *ctx,
		  int64_t timeout, struct tm_term *msg);

/* make-tag: a fresh tag; the next receive selecting on it is cheap. */
struct tm_term tm_make_tag(void);

/*
 * !?: send [self tag msg] to @pid and return the reply: the value of the
 * first [tag value] message sent back (tm_reply() or a plain send); after
 * @timeout, *dflt or else raise `timeout.
 */
struct tm_term tm_call(struct tm_term pid, struct tm_term msg,
		       int64_t timeout, const struct tm_term *dflt);
/* Answer a tm_call(): send [tag value] to @to, tagged for fast selection. */
void tm_reply(struct tm_term to, struct tm_term tag, struct tm_term value);

/* ---- links, monitors, exits --------------------------------------- */

/* Bidirectional link; link_to: @pid hears of our death; link_from: we of its. */
void tm_link(struct tm_term pid);
void tm_link_to(struct tm_term pid);
void tm_link_from(struct tm_term pid);
void tm_unlink(struct tm_term pid);
/*
 * Monitor @pid: one message <DOWN ref pid reason> when it dies (reason
 * noproc at once if it is not alive).  Returns ref.
 */
struct tm_term tm_monitor(struct tm_term pid);
/* Stop monitoring; a DOWN of @ref already queued is removed too. */
void tm_demonitor(struct tm_term ref);
/*
 * Trap exits: exit signals become messages <EXIT pid reason>, normal
 * exits included, instead of exceptions.  Returns the previous setting.
 */
bool tm_trap_exit(bool on);

/* Raise @exc: see tm_catch() and tm_handle().  Uncaught, the process dies. */
struct tm_term tm_raise(struct tm_term exc);
/* End the calling process with @reason (the symbol normal: a normal exit). */
_Noreturn void tm_exit(struct tm_term reason);
/* Send an exit signal with @reason to @pid (Erlang's exit/2). */
void tm_exit_signal(struct tm_term pid, struct tm_term reason);
/* Kill @pid: untrappable; its links hear killed. */
void tm_kill(struct tm_term pid);

/*
 * with-exception-catcher: run @body; if it raises, run @handler and
 * resume here with its value (the body is abandoned).
 * with-exception-handler: run @body; if it raises, @handler's value is
 * what tm_raise() returns, where it was raised.
 */
typedef struct tm_term (*tm_body_fn)(void *ctx);
typedef struct tm_term (*tm_handler_fn)(struct tm_term exc, void *ctx);
struct tm_term tm_catch(tm_handler_fn handler, tm_body_fn body, void *ctx);
struct tm_term tm_handle(tm_handler_fn handler, tm_body_fn body, void *ctx);

/* ---- names -------------------------------------------------------- */

/* Register @pid under @name in this node: 0, -EEXIST, -EBUSY, -EINVAL. */
int tm_register(const char *name, struct tm_term pid);
int tm_unregister(const char *name);
/* The pid registered as @name, or an invalid term (tm_term_valid()). */
struct tm_term tm_whereis(const char *name);

/* ---- convenience -------------------------------------------------- */

/* Parse Preserves text into the current process's heap; raises on error. */
struct tm_term tm_t(const char *text);
/* Print into a static per-thread buffer (for tracing and tests). */
const char *tm_str(const struct tm_term *t);

#endif /* TERMITE_H */
