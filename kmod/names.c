// SPDX-License-Identifier: GPL-2.0
/*
 * termite: registered names.
 */

/**
 * DOC: Names
 *
 * A universe maps names (1 to %TERMITE_NAME_MAX - 1 bytes, NUL-padded) to
 * actors, Erlang's register/whereis.  An actor has at most one name, which
 * goes when the actor dies or exits; so names are bounded by actors.
 * Anyone may unregister a name whose actor it could send exit signals to.
 * Changes run under the universe's topo_lock, which also orders them against
 * deaths; WHEREIS reads the table under RCU.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/string.h>
#include "internal.h"

const struct rhashtable_params tm_name_params = {
	.key_len = TERMITE_NAME_MAX,
	.key_offset = offsetof(struct tm_name, name),
	.head_offset = offsetof(struct tm_name, hnode),
	.automatic_shrinking = true,
};

/* Copy in and check a name struct: NUL-terminated, non-empty, zero-padded. */
static int tm_name_in(struct termite_name *n, struct tm_call *c)
{
	size_t len;

	*n = *(struct termite_name *)c->arg;
	if (n->reserved)
		return -EINVAL;
	len = strnlen(n->name, TERMITE_NAME_MAX);
	if (!len || len == TERMITE_NAME_MAX ||
	    !tm_zero(n->name + len, TERMITE_NAME_MAX - len))
		return -EINVAL;
	return 0;
}

static void tm_name_remove(struct tm_universe *uni, struct tm_name *nm)
{
	lockdep_assert_held(&uni->topo_lock);
	rhashtable_remove_fast(&uni->names, &nm->hnode, tm_name_params);
	nm->actor->topo->name = NULL;
	kfree_rcu(nm, rcu);
}

/**
 * tm_name_drop() - remove @a's name, if it has one
 * @a: a dying actor with its &struct tm_topo; the universe's topo_lock is
 *	held
 */
void tm_name_drop(struct tm_actor *a)
{
	if (a->topo->name)
		tm_name_remove(a->port->uni, a->topo->name);
}

int tm_ioc_register(struct tm_port *port, struct tm_call *c)
{
	struct tm_universe *uni = port->uni;
	struct tm_topo *topo = NULL;
	struct termite_name n;
	struct tm_name *nm;
	struct tm_actor *a;
	int err;

	err = tm_name_in(&n, c);
	if (err)
		return err;
	a = tm_own_actor(port, n.actor);
	if (IS_ERR(a))
		return PTR_ERR(a);
	err = -ENOMEM;
	nm = kzalloc(sizeof(*nm), GFP_KERNEL_ACCOUNT);
	if (!nm)
		goto out_a;
	memcpy(nm->name, n.name, TERMITE_NAME_MAX);
	nm->actor = a;
	err = tm_topo_prepare(a, &topo);
	if (err)
		goto out_free;

	mutex_lock(&uni->topo_lock);
	if (a->state != TM_ALIVE)
		err = a->state == TM_DEAD ? -EOWNERDEAD : -ENOENT;
	else if (a->topo && a->topo->name)
		err = -EBUSY;
	else
		err = rhashtable_lookup_insert_fast(&uni->names, &nm->hnode,
						    tm_name_params);
	if (!err) {
		tm_topo_install(a, &topo);
		a->topo->name = nm;
		nm = NULL;
	}
	mutex_unlock(&uni->topo_lock);
	kfree(topo);
out_free:
	kfree(nm);
out_a:
	tm_actor_put(a);
	return err;
}

int tm_ioc_unregister(struct tm_port *port, struct tm_call *c)
{
	struct tm_universe *uni = port->uni;
	struct termite_name n;
	struct tm_name *nm;
	int err;

	err = tm_name_in(&n, c);
	if (err)
		return err;
	if (n.actor)
		return -EINVAL;
	mutex_lock(&uni->topo_lock);
	nm = rhashtable_lookup_fast(&uni->names, n.name, tm_name_params);
	if (!nm)
		err = -ENOENT;
	else if (!tm_may_signal(port, nm->actor))
		err = -EPERM;
	else
		tm_name_remove(uni, nm);
	mutex_unlock(&uni->topo_lock);
	return err;
}

int tm_ioc_whereis(struct tm_port *port, struct tm_call *c)
{
	struct termite_name n;
	struct tm_name *nm;
	int err;

	err = tm_name_in(&n, c);
	if (err)
		return err;
	rcu_read_lock();
	nm = rhashtable_lookup(&port->uni->names, n.name, tm_name_params);
	n.actor = nm ? nm->actor->id : 0;
	rcu_read_unlock();
	if (!n.actor)
		return -ENOENT;
	((struct termite_name *)c->arg)->actor = n.actor;
	return tm_call_out(c, sizeof(n), n.actor);
}
