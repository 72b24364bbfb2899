/* SPDX-License-Identifier: GPL-2.0 */
/*
 * termite: internal data model shared by the files of termite.ko.
 */

/**
 * DOC: Objects and lock order
 *
 * A *universe* (&struct tm_universe) holds the actors of one IPC namespace.
 * A *port* (&struct tm_port) is one open file of /dev/termite; it owns
 * actors.  An *actor* (&struct tm_actor) has a mailbox of &struct tm_msg,
 * a queue of exit signals to be raised, links (&struct tm_link), monitors
 * (&struct tm_monitor) and at most one name (&struct tm_name).
 *
 * Lock order, outermost first; no path takes two locks of one level:
 *
 *   tm_universes_lock      (mutex, global: the list of universes)
 *     uni->topo_lock       (mutex: links, monitors, names, deaths, ports)
 *       actor->lock        (spinlock: mailbox, signal queue, state)
 *         port->lock       (spinlock: actor list, ready list, quota)
 *
 * Wait-queue locks are leaves.  The list of io_uring receives parked
 * (tm_parked_lock, uring.c) is taken with none of these held and nests
 * only an actor's recv_wq lock.  Lookups of actors by id and of names run
 * under RCU through rhashtables; an actor found that way is pinned with
 * refcount_inc_not_zero() and freed after a grace period.
 *
 * An actor's life: ALIVE -> (killed, or died in mode DIE) DEAD, a zombie
 * whose death notice waits for its owner -> GONE, unpublished and forgotten.
 * Its own EXIT and its port's close go straight from ALIVE to GONE.
 */
#ifndef _TERMITE_INTERNAL_H
#define _TERMITE_INTERNAL_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/refcount.h>
#include <linux/rhashtable.h>
#include <linux/wait.h>
#include <linux/cred.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/termite.h>
#include "compat.h"

/* Every argument must fit the 80-byte command area of an SQE128 entry. */
#define TM_SQE_CMD_MAX	80

struct io_uring_cmd;

/* Module parameters, bounded; see quota.c. */
extern unsigned int tm_max_msg_size;
extern unsigned int tm_max_queue_len;
extern unsigned int tm_max_actors;
extern unsigned int tm_max_links;
extern unsigned long long tm_port_quota;

/**
 * struct tm_reason - why an actor died; shared by every signal it causes
 * @ref: references, unless @is_static
 * @is_static: a built-in reason without payload, never freed
 * @code: %TERMITE_EXIT_*
 * @len: payload length
 * @data: opaque payload
 */
struct tm_reason {
	refcount_t ref;
	bool is_static;
	u32 code;
	u32 len;
	u8 data[];
};

/**
 * struct tm_msg - one queued message or signal
 * @node: in the receiver's mailbox or signal queue, under its actor->lock
 * @ref: the queue holds one reference, a receiver copying it out another
 * @queued: still on a queue; under the receiver's actor->lock
 * @from: sending actor id
 * @tag: tag, or monitor reference for DOWN
 * @seq: position in the mailbox (0 on the signal queue)
 * @kind: %TERMITE_KIND_*
 * @code: exit code for EXIT and DOWN
 * @flags: %TERMITE_MSG_*
 * @len: payload length
 * @charge: bytes charged to the receiving port's quota (0 if uncharged)
 * @pid: sending thread group, or NULL for kernel messages
 * @uid: sending uid
 * @reason: for EXIT and DOWN, the reason whose payload this carries
 * @data: the payload (@inline_data, or @reason->data)
 * @inline_data: payload of an ordinary message
 */
struct tm_msg {
	struct list_head node;
	refcount_t ref;
	bool queued;
	u64 from;
	u64 tag;
	u64 seq;
	u32 kind;
	u32 code;
	u32 flags;
	u32 len;
	u32 charge;
	struct pid *pid;
	kuid_t uid;
	struct tm_reason *reason;
	u8 *data;
	u8 inline_data[];
};

struct tm_port;

/**
 * struct tm_universe - all actors of one IPC namespace
 * @node: in tm_universes; protected by tm_universes_lock
 * @ref: one per port
 * @ns: the IPC namespace, referenced (the key)
 * @id: reported as termite_version.universe
 * @actors: every published actor by id (rhashtable locking, RCU reads)
 * @names: every registered name (rhashtable locking, RCU reads)
 * @topo_lock: serialises links, monitors, names and deaths
 * @ports: ports of this universe; protected by @topo_lock
 */
struct tm_universe {
	struct list_head node;
	refcount_t ref;
	struct ns_common *ns;
	u64 id;
	struct rhashtable actors;
	struct rhashtable names;
	struct mutex topo_lock;
	struct list_head ports;
};

enum tm_state { TM_ALIVE, TM_DEAD, TM_GONE };

/**
 * struct tm_topo - an actor's links, monitors and name
 * @links: &struct tm_link_end of this actor
 * @monitors: monitors this actor holds
 * @watchers: monitors held on this actor
 * @nlinks: length of @links
 * @nowned: links it created plus monitors it holds, at most max_links.
 *	Only these count, so that no stranger can use up an actor's limit.
 * @name: its registered name or NULL
 *
 * Most actors never link, monitor or register, so this is allocated by
 * the first LINK, MONITOR or REGISTER that needs it (calls that may fail
 * with -ENOMEM) and freed when the actor dies, which allocates nothing.
 * Everything is protected by the universe's topo_lock.
 */
struct tm_topo {
	struct list_head links;
	struct list_head monitors;
	struct list_head watchers;
	u32 nlinks;
	u32 nowned;
	struct tm_name *name;
};

/**
 * struct tm_actor - a process: an id, a mailbox, links and monitors
 * @id: never 0, never reused (const)
 * @hnode: in its universe's actors table while published
 * @ref: the publication holds one; so do links, monitors, ready entries
 *	being reported and in-flight operations
 * @lock: protects the fields from @state down to @recv_wq, but for
 *	@death_zombie
 * @port: its owner (const); valid while the actor is not GONE, and for
 *	as long as the caller holds the port otherwise.  Its universe is
 *	@port->uni.
 * @port_node: in @port->actors; protected by port->lock
 * @ready_node: in @port->ready when it has news; protected by port->lock
 * @state: &enum tm_state; written under @lock and the topo_lock
 * @mode: &enum termite_exit_mode
 * @notice: a zombie's death notice waits for its owner.  The notice is
 *	made when it is received, from @id and @death_reason; nothing is
 *	queued for it.
 * @death_zombie: leave a zombie for its owner (topo_lock)
 * @events: bumped whenever something is queued or the state changes
 * @mbox: ordinary messages, oldest first, seq increasing
 * @sigq: exit signals to raise
 * @qlen: messages on @mbox
 * @nsig: signals on @sigq
 * @next_seq: seq of the next message queued
 * @mark_tag: the tag of the last MAKE_TAG naming this actor, or 0
 * @mark_seq: the seq the next message had at that MAKE_TAG
 * @mark_pos: first message queued since that MAKE_TAG, or NULL
 * @hint: a queued message at or before the last peek, or NULL
 * @recv_wq: receivers waiting for @events to change
 * @topo: its links, monitors and name, or NULL while it has had none;
 *	protected by the topo_lock
 * @death_node: on a death work list; protected by the topo_lock
 * @rcu: frees the actor after RCU readers are done; shares the space of
 *	@death_node, which is unused by then
 * @death_reason: why it is dying, while on a work list, and why it died
 *	while it is a zombie; protected by the topo_lock.  A zombie's stays
 *	until it is unpublished, which clears it under @lock too, so a
 *	receiver may read it under @lock while @notice is set.
 *
 * The fields are ordered to leave no holes: every actor costs its size.
 */
struct tm_actor {
	u64 id;
	struct rhash_head hnode;
	refcount_t ref;
	spinlock_t lock;
	struct tm_port *port;
	struct list_head port_node;
	struct list_head ready_node;

	u8 state;
	u8 mode;
	bool notice;
	bool death_zombie;
	u32 events;
	struct list_head mbox;
	struct list_head sigq;
	u32 qlen;
	u32 nsig;
	u64 next_seq;
	u64 mark_tag;
	u64 mark_seq;
	struct tm_msg *mark_pos;
	struct tm_msg *hint;
	wait_queue_head_t recv_wq;

	struct tm_topo *topo;
	union {
		struct list_head death_node;
		struct rcu_head rcu;
	};
	struct tm_reason *death_reason;
};

/**
 * struct tm_port - one open file of /dev/termite
 * @ref: the file holds one; so does each sender blocked on this port
 * @uni: its universe (const, referenced)
 * @cred: the opener's credentials (const, referenced)
 * @tgid: the opener's thread group (const, referenced)
 * @uni_node: in @uni->ports; protected by the topo_lock
 * @lock: protects the fields down to @space_events
 * @actors: the actors it owns, zombies included
 * @nactors: length of @actors
 * @ready: actors with news not yet reported by READY
 * @qbytes: bytes charged by messages queued to its actors
 * @space_events: bumped when @qbytes shrinks or a mailbox empties a slot
 * @closing: the file is being released; no new actors (topo_lock)
 * @nparked: receives parked through io_uring; protected by the parked
 *	list's lock in uring.c
 * @poll_wq: poll() waiters, woken when @ready gains an entry
 * @space_wq: blocked senders, woken by @space_events
 */
struct tm_port {
	refcount_t ref;
	struct tm_universe *uni;
	const struct cred *cred;
	struct pid *tgid;
	struct list_head uni_node;

	spinlock_t lock;
	struct list_head actors;
	u32 nactors;
	struct list_head ready;
	u64 qbytes;
	u32 space_events;

	bool closing;
	u32 nparked;
	wait_queue_head_t poll_wq;
	wait_queue_head_t space_wq;
};

/**
 * struct tm_link_end - one actor's end of a link
 * @node: in @actor->links
 * @actor: this end (referenced)
 * @link: the link
 * @idx: this end's index in @link->end
 * @sig: the exit signal @actor gets when the other end dies, preallocated;
 *	NULL when @actor does not hear of the other's death
 */
struct tm_link_end {
	struct list_head node;
	struct tm_actor *actor;
	struct tm_link *link;
	int idx;
	struct tm_msg *sig;
};

/**
 * struct tm_link - the link between two actors, in one or both directions
 * @end: the two ends
 * @creator: index of the end whose actor created the link and is charged
 *	for it in its nowned
 *
 * Everything is protected by the universe's topo_lock.
 */
struct tm_link {
	struct tm_link_end end[2];
	int creator;
};

/**
 * struct tm_monitor - @watcher is told once when @target dies
 * @ref: the reference given to the user
 * @watcher: the watching actor (referenced)
 * @target: the watched actor (referenced)
 * @w_node: in @watcher->monitors
 * @t_node: in @target->watchers
 * @down: preallocated DOWN message
 *
 * Everything is protected by the universe's topo_lock.
 */
struct tm_monitor {
	u64 ref;
	struct tm_actor *watcher, *target;
	struct list_head w_node, t_node;
	struct tm_msg *down;
};

/**
 * struct tm_name - a registered name
 * @name: NUL-padded key
 * @hnode: in the universe's names table
 * @actor: the named actor (its publication keeps it alive)
 * @rcu: frees the name after RCU readers are done
 */
struct tm_name {
	char name[TERMITE_NAME_MAX];
	struct rhash_head hnode;
	struct tm_actor *actor;
	struct rcu_head rcu;
};

/**
 * struct tm_call - one operation's argument, wherever it came from
 * @arg: the operation's struct, copied into kernel memory (from the ioctl's
 *	user pointer, or from the SQE's command area)
 * @uarg: for an ioctl, the user's struct, where results are copied back
 * @uring: the call came through io_uring, not an ioctl
 * @out: for io_uring, the operation's 64-bit result (CQE big_cqe[0])
 * @nowait: the caller must not sleep waiting for room (io_uring's inline
 *	issue); such a wait fails with -EAGAIN and sets @punt instead, and
 *	io_uring retries from a worker that may sleep
 * @punt: see @nowait
 */
struct tm_call {
	void *arg;
	void __user *uarg;
	bool uring;
	u64 out;
	bool nowait;
	bool punt;
};

/**
 * tm_call_out() - publish an operation's results
 * @c: the call
 * @size: size of the struct, whose out fields the handler has filled in
 * @val: the one 64-bit result io_uring reports
 *
 * Return: 0, or -EFAULT if the ioctl's struct cannot be written.
 */
static inline int tm_call_out(struct tm_call *c, size_t size, u64 val)
{
	if (!c->uring)
		return copy_to_user(c->uarg, c->arg, size) ? -EFAULT : 0;
	c->out = val;
	return 0;
}

/* actor.c */
u64 tm_new_id(void);
int tm_universe_get(struct tm_port *port);
void tm_universe_put(struct tm_universe *uni);
struct tm_actor *tm_actor_lookup(struct tm_universe *uni, u64 id);
struct tm_actor *tm_own_actor(struct tm_port *port, u64 id);
void tm_actor_put(struct tm_actor *a);
void tm_actor_unpublish(struct tm_actor *a);
void tm_port_put(struct tm_port *port);
int tm_ioc_spawn(struct tm_port *port, struct tm_call *c);
int tm_ioc_spawn_batch(struct tm_port *port, struct tm_call *c);
int tm_ioc_setopt(struct tm_port *port, struct tm_call *c);
int tm_ioc_make_tag(struct tm_port *port, struct tm_call *c);
int tm_actor_init(void);
void tm_actor_exit(void);

/* mailbox.c */
struct tm_msg *tm_msg_alloc(u32 len, gfp_t gfp);
void tm_msg_put(struct tm_msg *m);
void tm_enqueue_locked(struct tm_actor *a, struct tm_msg *m, bool signal);
void tm_flush_locked(struct tm_actor *a, struct list_head *out);
void tm_free_list(struct list_head *list);
struct tm_msg *tm_unqueue_down_locked(struct tm_actor *a, u64 ref);
ktime_t tm_deadline(s64 timeout_ns);
struct tm_actor *tm_recv_actor(struct tm_port *port,
			       const struct termite_recv *r);
int tm_recv_try(struct tm_actor *a, const struct termite_recv *r,
		u64 *scanned, u32 *seen);
int tm_ioc_send(struct tm_port *port, struct tm_call *c);
int tm_ioc_send_batch(struct tm_port *port, struct tm_call *c);
int tm_ioc_recv(struct tm_port *port, struct tm_call *c);

/* exit.c */
struct tm_reason *tm_reason_static(u32 code);
void tm_actor_end(struct tm_actor *a, struct tm_reason *r);
struct tm_reason *tm_reason_get(struct tm_reason *r);
void tm_reason_put(struct tm_reason *r);
void tm_port_kill_all(struct tm_port *port);
void tm_reap_zombie(struct tm_actor *a);
bool tm_may_signal(const struct tm_port *port, const struct tm_actor *target);
int tm_topo_prepare(struct tm_actor *a, struct tm_topo **spare);
void tm_topo_install(struct tm_actor *a, struct tm_topo **spare);
int tm_ioc_link(struct tm_port *port, struct tm_call *c);
int tm_ioc_unlink(struct tm_port *port, struct tm_call *c);
int tm_ioc_monitor(struct tm_port *port, struct tm_call *c);
int tm_ioc_demonitor(struct tm_port *port, struct tm_call *c);
int tm_ioc_exit(struct tm_port *port, struct tm_call *c);
int tm_ioc_signal(struct tm_port *port, struct tm_call *c);

/* names.c */
extern const struct rhashtable_params tm_name_params;
void tm_name_drop(struct tm_actor *a);
int tm_ioc_register(struct tm_port *port, struct tm_call *c);
int tm_ioc_unregister(struct tm_port *port, struct tm_call *c);
int tm_ioc_whereis(struct tm_port *port, struct tm_call *c);

/* quota.c */
int tm_quota_charge_locked(struct tm_actor *a, struct tm_msg *m);
void tm_quota_uncharge_locked(struct tm_actor *a, struct tm_msg *m);
int tm_ioc_version(struct tm_port *port, struct tm_call *c);

/* device.c */
void tm_port_mark_ready(struct tm_port *port, struct tm_actor *a);
/**
 * struct tm_op - one operation of the ioctl and io_uring interfaces
 * @cmd: its ioctl number, which also encodes the argument's size; io_uring
 *	commands use the same number as their cmd_op
 * @fn: the handler, given the argument in kernel memory
 */
struct tm_op {
	unsigned int cmd;
	int (*fn)(struct tm_port *port, struct tm_call *c);
};

const struct tm_op *tm_op_find(unsigned int cmd);

/* uring.c */
#ifdef TM_URING
u64 tm_uring_features(void);
int tm_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);
void tm_uring_flush(struct file *file, fl_owner_t owner);
void tm_uring_port_close(struct tm_port *port);
int tm_uring_init(void);
void tm_uring_exit(void);
#else
static inline u64 tm_uring_features(void) { return 0; }
static inline void tm_uring_flush(struct file *file, fl_owner_t owner) { }
static inline void tm_uring_port_close(struct tm_port *port) { }
static inline int tm_uring_init(void) { return 0; }
static inline void tm_uring_exit(void) { }
#endif

/* debug.c */
void tm_show_fdinfo(struct seq_file *m, struct file *f);
void tm_debugfs_init(void);
void tm_debugfs_exit(void);
extern struct mutex tm_universes_lock;
extern struct list_head tm_universes;

/* The 64-bit memset-is-zero check of reserved fields. */
static inline bool tm_zero(const void *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

#endif /* _TERMITE_INTERNAL_H */
