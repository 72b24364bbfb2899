// SPDX-License-Identifier: GPL-2.0
/*
 * termite: actors, their ids, and the universes they live in.
 */

/**
 * DOC: Actors and universes
 *
 * Ids (of actors, tags, monitor references and universes) come from one
 * module-wide 64-bit counter passed through a keyed permutation: a
 * four-round Feistel network whose round function is SipHash under a key
 * drawn at load time.  A permutation of a counter never repeats, and
 * without the key no id tells anything about the next one.
 *
 * A universe is found by the IPC namespace of the process that opens the
 * device and lives as long as one of its ports.  It holds a reference on
 * that namespace, so the namespace's address, its key, cannot be reused by
 * another namespace while the universe exists.  put_ipc_ns() is not
 * exported to modules; the namespace's own &struct proc_ns_operations
 * (the ones setns() uses) take and drop the reference instead.
 *
 * Actors are published in their universe's rhashtable from SPAWN until they
 * are GONE; RCU readers find them there and pin them with a reference.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/siphash.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/nsproxy.h>
#include <linux/ipc_namespace.h>
#include <linux/proc_ns.h>
#include "internal.h"

static siphash_key_t tm_id_key;
/* Actors are many and all alike: their own cache, charged to the memcg. */
static struct kmem_cache *tm_actor_cache;
static atomic64_t tm_id_counter = ATOMIC64_INIT(0);

DEFINE_MUTEX(tm_universes_lock);
LIST_HEAD(tm_universes);	/* protected by tm_universes_lock */

static u64 tm_permute(u64 x)
{
	u32 l = x >> 32, r = (u32)x, t;
	int i;

	for (i = 0; i < 4; i++) {
		t = l ^ (u32)siphash_2u64(r, i, &tm_id_key);
		l = r;
		r = t;
	}
	return ((u64)l << 32) | r;
}

/**
 * tm_new_id() - a fresh id: never 0, never returned before
 *
 * Return: the id.
 */
u64 tm_new_id(void)
{
	u64 id;

	do
		id = tm_permute(atomic64_inc_return(&tm_id_counter));
	while (!id);
	return id;
}

/*
 * The universe's id table grows and shrinks with its actors, each resize
 * a deferred work item; min_size (1 KiB of buckets) keeps a universe whose
 * actors come and go by the dozen (a runtime spawning from a batch made
 * ahead) from resizing back and forth.
 */
static const struct rhashtable_params tm_actor_params = {
	.key_len = sizeof(u64),
	.key_offset = offsetof(struct tm_actor, id),
	.head_offset = offsetof(struct tm_actor, hnode),
	.min_size = 128,
	.automatic_shrinking = true,
};

/* current's IPC namespace, referenced; NULL if current has none left. */
static struct ns_common *tm_ipc_ns_get(void)
{
	struct ns_common *ns = &current->nsproxy->ipc_ns->ns;

	/* Without CONFIG_IPC_NS there is one namespace, and it never ends. */
	return ns->ops ? ns->ops->get(current) : ns;
}

static void tm_ipc_ns_put(struct ns_common *ns)
{
	if (ns->ops)
		ns->ops->put(ns);
}

/**
 * tm_universe_get() - attach a new port to the universe of current's IPC ns
 * @port: the port being opened
 *
 * Return: 0, -ENOMEM, or -ENOENT if current has no IPC namespace.
 */
int tm_universe_get(struct tm_port *port)
{
	struct tm_universe *uni;
	struct ns_common *ns;
	int err;

	ns = tm_ipc_ns_get();
	if (!ns)
		return -ENOENT;
	mutex_lock(&tm_universes_lock);
	list_for_each_entry(uni, &tm_universes, node) {
		if (uni->ns == ns) {
			refcount_inc(&uni->ref);
			/* The universe holds the namespace already. */
			tm_ipc_ns_put(ns);
			goto found;
		}
	}
	err = -ENOMEM;
	uni = kzalloc(sizeof(*uni), GFP_KERNEL_ACCOUNT);
	if (!uni)
		goto out_unlock;
	err = rhashtable_init(&uni->actors, &tm_actor_params);
	if (err)
		goto out_free;
	err = rhashtable_init(&uni->names, &tm_name_params);
	if (err)
		goto out_actors;
	refcount_set(&uni->ref, 1);
	uni->ns = ns;
	uni->id = tm_new_id();
	mutex_init(&uni->topo_lock);
	INIT_LIST_HEAD(&uni->ports);
	list_add(&uni->node, &tm_universes);
found:
	port->uni = uni;
	mutex_unlock(&tm_universes_lock);
	return 0;

out_actors:
	rhashtable_destroy(&uni->actors);
out_free:
	kfree(uni);
out_unlock:
	mutex_unlock(&tm_universes_lock);
	tm_ipc_ns_put(ns);
	return err;
}

/**
 * tm_universe_put() - drop a port's reference; free the universe with the last
 * @uni: the universe; every actor of the departing port is already GONE
 */
void tm_universe_put(struct tm_universe *uni)
{
	if (!refcount_dec_and_mutex_lock(&uni->ref, &tm_universes_lock))
		return;
	list_del(&uni->node);
	mutex_unlock(&tm_universes_lock);
	/* No port is left, so no actor and no name is published. */
	rhashtable_destroy(&uni->names);
	rhashtable_destroy(&uni->actors);
	mutex_destroy(&uni->topo_lock);
	tm_ipc_ns_put(uni->ns);
	kfree(uni);
}

/**
 * tm_actor_lookup() - find a published actor of @uni by id, dead or alive
 * @uni: the universe
 * @id: the id
 *
 * Return: the actor with a reference held, or NULL.
 */
struct tm_actor *tm_actor_lookup(struct tm_universe *uni, u64 id)
{
	struct tm_actor *a;

	rcu_read_lock();
	a = rhashtable_lookup(&uni->actors, &id, tm_actor_params);
	if (a && !refcount_inc_not_zero(&a->ref))
		a = NULL;
	rcu_read_unlock();
	return a;
}

/**
 * tm_own_actor() - find an actor owned by @port
 * @port: the port
 * @id: the id
 *
 * Return: the actor with a reference held (it may be a zombie), or
 * ERR_PTR(-EINVAL) for id 0, ERR_PTR(-ENOENT) if @port owns no such actor.
 */
struct tm_actor *tm_own_actor(struct tm_port *port, u64 id)
{
	struct tm_actor *a;

	if (!id)
		return ERR_PTR(-EINVAL);
	a = tm_actor_lookup(port->uni, id);
	if (!a)
		return ERR_PTR(-ENOENT);
	if (a->port != port) {
		tm_actor_put(a);
		return ERR_PTR(-ENOENT);
	}
	return a;
}

static void tm_actor_free_rcu(struct rcu_head *rcu)
{
	kmem_cache_free(tm_actor_cache, container_of(rcu, struct tm_actor, rcu));
}

/**
 * tm_actor_put() - drop a reference; the last frees the actor after RCU
 * @a: the actor
 */
void tm_actor_put(struct tm_actor *a)
{
	if (!refcount_dec_and_test(&a->ref))
		return;
	call_rcu(&a->rcu, tm_actor_free_rcu);
}

/**
 * tm_actor_unpublish() - make a dead actor GONE and forget its id
 * @a: the actor; its links, monitors and name are already gone
 *
 * Called at most once per actor, with its universe's topo_lock held.  A
 * zombie's death notice, if still unread, goes with it.
 */
void tm_actor_unpublish(struct tm_actor *a)
{
	struct tm_port *port = a->port;
	struct tm_reason *r;
	LIST_HEAD(flushed);

	lockdep_assert_held(&port->uni->topo_lock);
	spin_lock(&a->lock);
	a->state = TM_GONE;
	a->events++;
	a->notice = false;
	r = a->death_reason;
	a->death_reason = NULL;
	tm_flush_locked(a, &flushed);
	spin_lock(&port->lock);
	list_del(&a->port_node);
	port->nactors--;
	if (!list_empty(&a->ready_node))
		list_del_init(&a->ready_node);
	spin_unlock(&port->lock);
	spin_unlock(&a->lock);
	wake_up_all(&a->recv_wq);
	tm_free_list(&flushed);
	if (r)
		tm_reason_put(r);

	rhashtable_remove_fast(&port->uni->actors, &a->hnode, tm_actor_params);
	tm_actor_put(a);
}

/**
 * tm_port_put() - drop a reference to a port; the last frees it
 * @port: the port, whose actors are all GONE by then
 */
void tm_port_put(struct tm_port *port)
{
	if (!refcount_dec_and_test(&port->ref))
		return;
	tm_universe_put(port->uni);
	put_cred(port->cred);
	put_pid(port->tgid);
	kfree(port);
}

/*
 * Create an actor of @port in @mode and publish it.  Return: the actor,
 * with a reference for the caller besides its publication's, or an
 * ERR_PTR: -ENOMEM, -ENOSPC (the port owns max_actors actors), or the id
 * table's error.
 */
static struct tm_actor *tm_actor_create(struct tm_port *port, u32 mode)
{
	struct tm_actor *a;
	int err;

	a = kmem_cache_zalloc(tm_actor_cache, GFP_KERNEL);
	if (!a)
		return ERR_PTR(-ENOMEM);
	a->id = tm_new_id();
	refcount_set(&a->ref, 2);
	spin_lock_init(&a->lock);
	a->port = port;
	INIT_LIST_HEAD(&a->ready_node);
	a->state = TM_ALIVE;
	a->mode = mode;
	INIT_LIST_HEAD(&a->mbox);
	INIT_LIST_HEAD(&a->sigq);
	a->next_seq = 1;
	init_waitqueue_head(&a->recv_wq);
	INIT_LIST_HEAD(&a->death_node);

	spin_lock(&port->lock);
	if (port->nactors >= READ_ONCE(tm_max_actors)) {
		spin_unlock(&port->lock);
		err = -ENOSPC;
		goto out_free;
	}
	port->nactors++;
	list_add_tail(&a->port_node, &port->actors);
	spin_unlock(&port->lock);

	err = rhashtable_insert_fast(&port->uni->actors, &a->hnode,
				     tm_actor_params);
	if (err)
		goto out_unlist;
	return a;

out_unlist:
	mutex_lock(&port->uni->topo_lock);	/* debugfs walks the list */
	spin_lock(&port->lock);
	list_del(&a->port_node);
	port->nactors--;
	spin_unlock(&port->lock);
	mutex_unlock(&port->uni->topo_lock);
out_free:
	kmem_cache_free(tm_actor_cache, a);
	return ERR_PTR(err);
}

/*
 * Take back a new actor whose id could not be handed out in full, and drop
 * the caller's reference.  A partial write may still have shown the id to
 * another thread, which may have used the actor (or ended it) since: it
 * ends as if it had exited normally, its links and monitors told.
 */
static void tm_actor_retract(struct tm_actor *a)
{
	tm_actor_end(a, tm_reason_static(TERMITE_EXIT_NORMAL));
	tm_actor_put(a);
}

int tm_ioc_spawn(struct tm_port *port, struct tm_call *c)
{
	struct termite_spawn *spp = c->arg, sp = *spp;
	struct tm_actor *a;

	if (sp.flags || sp.mode > TERMITE_MODE_DIE ||
	    !tm_zero(sp.reserved, sizeof(sp.reserved)))
		return -EINVAL;

	a = tm_actor_create(port, sp.mode);
	if (IS_ERR(a))
		return PTR_ERR(a);
	spp->id = a->id;
	if (tm_call_out(c, sizeof(*spp), a->id)) {
		tm_actor_retract(a);
		return -EFAULT;
	}
	tm_actor_put(a);
	return 0;
}

int tm_ioc_spawn_batch(struct tm_port *port, struct tm_call *c)
{
	struct termite_spawn_batch *bp = c->arg, b = *bp;
	u64 __user *uids = u64_to_user_ptr(b.ids);
	struct tm_actor *made[TERMITE_SPAWN_BATCH_MAX];
	u32 i, n;
	int err = 0;

	if (b.flags || b.mode > TERMITE_MODE_DIE || b.reserved ||
	    !b.count || b.count > TERMITE_SPAWN_BATCH_MAX)
		return -EINVAL;
	for (n = 0; n < b.count; n++) {
		made[n] = tm_actor_create(port, b.mode);
		if (IS_ERR(made[n])) {
			err = PTR_ERR(made[n]);
			break;
		}
	}
	if (!n)
		return err;		/* the first one's error */
	/* No id is written before all are made; then the count. */
	for (i = 0; i < n; i++)
		if (put_user(made[i]->id, uids + i))
			break;
	bp->spawned = n;
	if (i < n || tm_call_out(c, sizeof(*bp), n)) {
		for (i = 0; i < n; i++)
			tm_actor_retract(made[i]);
		return -EFAULT;
	}
	for (i = 0; i < n; i++)
		tm_actor_put(made[i]);
	return 0;
}

int tm_ioc_setopt(struct tm_port *port, struct tm_call *c)
{
	struct termite_setopt *sop = c->arg, so = *sop;
	struct tm_actor *a;
	u64 old;
	int err = 0;

	if (so.reserved0 || !tm_zero(so.reserved, sizeof(so.reserved)))
		return -EINVAL;
	if (so.opt != TERMITE_OPT_MODE || so.value > TERMITE_MODE_DIE)
		return -EINVAL;
	a = tm_own_actor(port, so.actor);
	if (IS_ERR(a))
		return PTR_ERR(a);
	/* The topo_lock orders a mode change against deliveries of signals. */
	mutex_lock(&port->uni->topo_lock);
	spin_lock(&a->lock);
	if (a->state != TM_ALIVE) {
		err = a->state == TM_DEAD ? -EOWNERDEAD : -ENOENT;
	} else {
		old = a->mode;
		a->mode = so.value;
	}
	spin_unlock(&a->lock);
	mutex_unlock(&port->uni->topo_lock);
	tm_actor_put(a);
	if (err)
		return err;
	sop->value = old;
	return tm_call_out(c, sizeof(*sop), old);
}

int tm_ioc_make_tag(struct tm_port *port, struct tm_call *c)
{
	struct termite_tag *tp = c->arg, t = *tp;
	struct tm_actor *a = NULL;

	if (!tm_zero(t.reserved, sizeof(t.reserved)))
		return -EINVAL;
	if (t.actor) {
		a = tm_own_actor(port, t.actor);
		if (IS_ERR(a))
			return PTR_ERR(a);
	}
	t.tag = tm_new_id();
	if (a) {
		/*
		 * From now on, a receive matching this tag starts at the
		 * first message queued after this point.
		 */
		spin_lock(&a->lock);
		a->mark_tag = t.tag;
		a->mark_seq = a->next_seq;
		a->mark_pos = NULL;
		spin_unlock(&a->lock);
		tm_actor_put(a);
	}
	tp->tag = t.tag;
	return tm_call_out(c, sizeof(*tp), t.tag);
}

int tm_actor_init(void)
{
	get_random_bytes(&tm_id_key, sizeof(tm_id_key));
	tm_actor_cache = KMEM_CACHE(tm_actor, SLAB_ACCOUNT);
	return tm_actor_cache ? 0 : -ENOMEM;
}

void tm_actor_exit(void)
{
	/* Wait for actors freed by call_rcu, then for the cache to empty. */
	rcu_barrier();
	kmem_cache_destroy(tm_actor_cache);
}
