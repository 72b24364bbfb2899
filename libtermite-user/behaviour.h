/* SPDX-License-Identifier: (LGPL-2.1-or-later OR MIT) */
/*
 * behaviour.h - Erlang-style behaviours on top of termite.h: the generic
 * server, the supervisor, and the Termite paper's supervised process
 * (sections 5.2 and 5.3 of "Termite: a Lisp for Distributed Computing").
 *
 * A behaviour is the generic, concurrent half of a process; its plugin
 * (the callbacks) is plain sequential code.  Everything here runs inside
 * termite processes (under tm_run()) and reports errors as termite.h does:
 * by raising exceptions.
 *
 * Memory.  Each behaviour process calls tm_collect() after every message,
 * keeping only its own state (a generic server's state term, a
 * supervisor's pids), so a long-running one does not grow its heap: a
 * callback must not keep terms anywhere but in *state.  Pointers given to
 * the start functions (ops, child specs, their ids and args, trace
 * contexts) must stay valid for the life of the process they start and
 * must not point into a process's stack (see fiber.h): use static or
 * malloc()ed memory.  Terms given to them (args) are copied.
 *
 * DOC: Wire formats
 *
 * What goes through mailboxes, in Preserves text syntax; `pid' and `tag'
 * are embedded references, `ref' a monitor reference.
 *
 * Generic server (process started by tm_gen_server_start*()):
 *
 *   [from tag <call req>]   a call: tm_gen_server_call() sends it the way
 *                           tm_call() does, so any [from tag <call req>]
 *                           sent with tm_call(pid, <call req>, ...) is one
 *   [tag reply]             the answer, sent with tm_reply(from, tag, ...)
 *                           (kernel-tagged with tag)
 *   <DOWN ref pid reason>   (to the caller) the caller monitors the server
 *                           for the length of a call: the server died
 *   <cast msg>              a cast (tm_gen_server_cast())
 *   <stop reason>           tm_gen_server_stop(): terminate(reason, state),
 *                           then exit with reason
 *   <EXIT parent reason>    (only if the server traps exits, e.g. from its
 *                           init callback) the starting process died:
 *                           terminate and exit with its reason, as Erlang
 *   anything else           the info callback
 *
 * Start-up handshake of every behaviour started synchronously (generic
 * servers, supervisors), sent by the new process to its starter:
 *
 *   <init-ok pid>           init succeeded: start returns pid
 *   <init-failed pid reason>  init refused or raised: the process exits
 *                           with reason, start raises reason
 *
 * Supervisor (tm_supervisor_start*()); it traps exits:
 *
 *   <EXIT child reason>     a child ended: restart per policy
 *   <EXIT parent reason>    its starter died: shut the children down
 *                           (last first), exit with reason
 *   <stop reason>           tm_supervisor_stop(): likewise
 *   [from tag <which-children>]  replies [[id pid] ...] in spec order,
 *                           pid #f for a child that is not running
 *   anything else           ignored
 *
 * Exit reasons a supervisor uses: it asks a child to stop with the exit
 * signal `shutdown' (tm_exit_signal()), then tm_kill()s it after the
 * child's grace; it exits with `shutdown' when restarts exceed its
 * intensity, and with <failed-to-start-child "id" reason> when a child
 * does not start at start-up.
 *
 * Supervised process (tm_spawn_supervised(), the paper's
 * spawn-thunk-supervised); it traps exits:
 *
 *   shutdown                the symbol: send `shutdown' (a message) to
 *                           the worker, wait up to the grace for it to
 *                           end, else tm_kill() it; then halt (exit normal)
 *   <EXIT worker reason>    normal: halt; otherwise restart it, unless it
 *                           failed more than max_restarts times within
 *                           period: then halt with reason `shutdown'
 *   <EXIT other reason>     another linked process died: ignored if
 *                           normal, else as shutdown, exiting with reason
 *   anything else           forwarded to the current worker unchanged
 *                           (so tm_call(supervisor, ...) reaches it, and
 *                           it replies to the caller directly)
 */
#ifndef TERMITE_BEHAVIOUR_H
#define TERMITE_BEHAVIOUR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "termite.h"

/* ---- generic server ----------------------------------------------- */

/*
 * What a callback returns.  TM_GEN_CONTINUE: go on with *state (a call's
 * caller gets *reply, or the symbol ok if the callback left *reply unset).
 * TM_GEN_NOREPLY (calls only): do not answer now; answer later with
 * tm_gen_server_reply(from, ...).  TM_GEN_STOP: call terminate(*reason,
 * *state) and exit with *reason (*reason starts as the symbol normal; a
 * call still answers *reply first if the callback set it).
 */
enum tm_gen_ret {
	TM_GEN_CONTINUE = 0,
	TM_GEN_NOREPLY = 1,
	TM_GEN_STOP = 2,
};

/**
 * struct tm_gen_server_ops - a generic server plugin (all may be NULL)
 * @init: runs in the new server before its start function returns; sets
 *	*state (it starts as @args).  TM_GEN_STOP makes start raise *reason.
 * @call: a synchronous request @req from @from (an opaque [pid tag]).
 *	NULL: every call is answered #f.
 * @cast: an asynchronous message.  NULL: casts are dropped.
 * @info: any other message (<DOWN ...>, <EXIT ...> when trapping, plain
 *	sends).  NULL: dropped.
 * @terminate: called once when the server stops: after TM_GEN_STOP, a
 *	<stop reason>, the exit of its parent while it traps exits, or an
 *	exception raised in a callback or at a receive (a linked process
 *	died): @reason is then the exception.  Not called when the server
 *	is killed (tm_kill()), nor when init fails.
 *
 * A callback may raise: the server then terminates with the exception as
 * its reason.  Callbacks run in the server process and may use the whole
 * API (send, call other servers, tm_trap_exit(), ...), but they must not
 * receive messages meant for the server loop.
 */
struct tm_gen_server_ops {
	int (*init)(struct tm_term args, struct tm_term *state,
		    struct tm_term *reason);
	int (*call)(struct tm_term req, struct tm_term from,
		    struct tm_term *state, struct tm_term *reply,
		    struct tm_term *reason);
	int (*cast)(struct tm_term msg, struct tm_term *state,
		    struct tm_term *reason);
	int (*info)(struct tm_term msg, struct tm_term *state,
		    struct tm_term *reason);
	void (*terminate)(struct tm_term reason, struct tm_term state);
};

/*
 * Start a server and wait for its init: returns its pid, or raises the
 * reason init gave (or raised).  _link links it to the caller first.
 */
struct tm_term tm_gen_server_start(const struct tm_gen_server_ops *ops,
				   struct tm_term args);
struct tm_term tm_gen_server_start_link(const struct tm_gen_server_ops *ops,
					struct tm_term args);

/*
 * Call the server and return its reply.  The caller monitors the server
 * for the duration of the call: if the server is not alive, or dies before
 * answering, this raises <server-down reason> (reason from its <DOWN>,
 * noproc if it was not alive) instead of waiting; after @timeout (ns, or
 * TM_FOREVER) it raises the symbol timeout.  A reply that arrives after
 * the timeout stays in the caller's mailbox as [tag value].
 */
struct tm_term tm_gen_server_call(struct tm_term pid, struct tm_term req,
				  int64_t timeout);
/* Send <cast msg>; never fails (nothing happens if the server is dead). */
void tm_gen_server_cast(struct tm_term pid, struct tm_term msg);
/* Answer a call later (after TM_GEN_NOREPLY); @from as given to call. */
void tm_gen_server_reply(struct tm_term from, struct tm_term reply);
/*
 * Ask the server to stop with @reason (terminate is called) and wait until
 * it has ended.  Returns the reason it ended with (noproc if it was not
 * alive).
 */
struct tm_term tm_gen_server_stop(struct tm_term pid, struct tm_term reason);

/* ---- supervisor --------------------------------------------------- */

/* When to restart a child that ended (Erlang's restart types). */
enum tm_restart {
	TM_PERMANENT = 0,	/* always */
	TM_TRANSIENT,		/* unless it ended normal or shutdown */
	TM_TEMPORARY,		/* never (and dropped once it has ended) */
};
/* (TM_TRANSIENT also takes <shutdown anything> as a normal end.) */

enum tm_sup_strategy {
	TM_ONE_FOR_ONE = 0,	/* restart the child that ended */
	TM_ONE_FOR_ALL,		/* stop the others, then restart all */
};

/* tm_child_spec.shutdown: kill at once; wait forever for the child. */
#define TM_SHUTDOWN_BRUTAL	0LL
#define TM_SHUTDOWN_INFINITY	TM_FOREVER

/**
 * struct tm_child_spec - one child of a supervisor
 * @id: a name for the child (which_children, start-failure reasons)
 * @start: start the child linked to the caller (the supervisor) and
 *	return its pid, e.g. a wrapper around tm_gen_server_start_link();
 *	it may raise.  NULL: the supervisor runs tm_spawn_link(@fn, @arg).
 * @fn: the child's process function when @start is NULL
 * @arg: argument of @start or @fn
 * @restart: &enum tm_restart
 * @shutdown: how to stop the child: send it the exit signal shutdown and
 *	wait this many ns for it to end, then tm_kill() it;
 *	%TM_SHUTDOWN_BRUTAL (0): tm_kill() at once; %TM_SHUTDOWN_INFINITY:
 *	wait as long as it takes
 */
struct tm_child_spec {
	const char *id;
	struct tm_term (*start)(void *arg);
	tm_proc_fn fn;
	void *arg;
	enum tm_restart restart;
	int64_t shutdown;
};

/**
 * struct tm_sup_spec - a supervisor
 * @strategy: &enum tm_sup_strategy
 * @intensity: at most this many restarts ...
 * @period: ... within this many ns; one more and the supervisor stops
 *	its children and exits with shutdown (Erlang's MaxR and MaxT)
 * @children: started in this order, stopped in the reverse order
 * @nchildren: how many
 *
 * The spec and the children array are copied at start (not the ids or
 * args, which must outlive the supervisor).
 */
struct tm_sup_spec {
	enum tm_sup_strategy strategy;
	unsigned int intensity;
	int64_t period;
	const struct tm_child_spec *children;
	size_t nchildren;
};

/*
 * Start a supervisor (trapping exits) and its children, in order; returns
 * when they have all started.  If one fails to start, the ones started
 * are stopped and this raises <failed-to-start-child "id" reason>.
 */
struct tm_term tm_supervisor_start(const struct tm_sup_spec *spec);
struct tm_term tm_supervisor_start_link(const struct tm_sup_spec *spec);
/* Stop the children (last first), then the supervisor; wait for its end. */
struct tm_term tm_supervisor_stop(struct tm_term pid, struct tm_term reason);
/* [[id pid] ...] in spec order, pid #f when not running; raises like a call. */
struct tm_term tm_supervisor_which_children(struct tm_term pid,
					    int64_t timeout);

/* ---- the paper's supervised process -------------------------------- */

/* Trace lines of tm_spawn_supervised(), the paper's texts. */
#define TM_SUP_TRACE_START	"info: starting up supervised process"
#define TM_SUP_TRACE_FAILED	"info: process failed"
#define TM_SUP_TRACE_RESTART	"info: restarting..."
#define TM_SUP_TRACE_KILLED	"info: had to terminate the process"
#define TM_SUP_TRACE_HALT	"info: halting supervisor"

typedef void (*tm_trace_fn)(const char *line, void *ctx);

/**
 * struct tm_supervised_opts - parameters of tm_spawn_supervised()
 * @max_restarts: at most this many restarts ...
 * @period: ... within this many ns (0 with @max_restarts 0: the defaults,
 *	3 restarts within 5 s)
 * @grace: how long a shutdown waits for the worker to end before killing
 *	it (0: the default, 1 s)
 * @trace: called with each TM_SUP_TRACE_* line, in the supervisor
 *	process (NULL: no trace)
 * @trace_ctx: its second argument (static or malloc()ed memory)
 */
struct tm_supervised_opts {
	unsigned int max_restarts;
	int64_t period;
	int64_t grace;
	tm_trace_fn trace;
	void *trace_ctx;
};

/*
 * spawn-thunk-supervised: spawn a supervisor running @fn(@arg) as its
 * worker, restarting it when it fails; returns the supervisor's pid, to
 * which every message for the worker can be sent (see the wire formats
 * above).  @opts (may be NULL) is copied.
 */
struct tm_term tm_spawn_supervised(tm_proc_fn fn, void *arg,
				   const struct tm_supervised_opts *opts);

#endif /* TERMITE_BEHAVIOUR_H */
