// SPDX-License-Identifier: GPL-2.0
/*
 * termite: links, monitors, exit signals and deaths.
 */

/**
 * DOC: Links, monitors and exits
 *
 * A link between two actors is one &struct tm_link carrying up to two
 * directions; a monitor is a &struct tm_monitor.  Both are created with the
 * message their firing will queue already allocated, so that a death
 * allocates nothing and cannot fail half-way.
 *
 * Everything that changes who is linked to whom, and every death, runs
 * under the universe's topo_lock.  A death is processed from a local work
 * list: the dying actor is marked, its mailbox is flushed, its name
 * dropped, and each of its links and monitors fires; a peer that must die
 * in turn (mode DIE, or a KILL) is appended to the same list.  Chains and
 * fan-outs of any length thus take constant stack.
 *
 * An exit signal reaching an actor is, by its mode: queued as an ordinary
 * EXIT message (TRAP), dropped if normal, queued on the signal queue to be
 * raised at the next receive (DELIVER), or turned into the actor's own
 * death with the same reason (DIE).  KILL ignores the mode and kills with
 * the reason KILLED.
 *
 * An actor that dies by anything but its own EXIT while its port is open
 * stays as a zombie (DEAD) that keeps its reason; the owner's next receive
 * returns its death notice, made then from the zombie's id and reason, and
 * reaps it.  So a death allocates nothing for the notice either.
 *
 * An actor's lists of links and monitors and its name live in a &struct
 * tm_topo that LINK, MONITOR and REGISTER allocate (they may fail with
 * -ENOMEM) for both actors concerned the first time one needs it; the
 * actor's death frees it.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include "internal.h"

#define TM_STATIC_REASON(name, c)					\
	static struct tm_reason name = {				\
		.ref = REFCOUNT_INIT(1), .is_static = true, .code = (c) }

TM_STATIC_REASON(tm_r_normal, TERMITE_EXIT_NORMAL);
TM_STATIC_REASON(tm_r_kill, TERMITE_EXIT_KILL);
TM_STATIC_REASON(tm_r_killed, TERMITE_EXIT_KILLED);
TM_STATIC_REASON(tm_r_noproc, TERMITE_EXIT_NOPROC);
TM_STATIC_REASON(tm_r_noconnection, TERMITE_EXIT_NOCONNECTION);
TM_STATIC_REASON(tm_r_port_closed, TERMITE_EXIT_PORT_CLOSED);

static struct tm_reason *const tm_static_reasons[] = {
	&tm_r_normal, &tm_r_kill, &tm_r_killed, &tm_r_noproc,
	&tm_r_noconnection, &tm_r_port_closed,
};

/**
 * tm_reason_static() - the built-in reason for a kernel code, no payload
 * @code: %TERMITE_EXIT_NORMAL to %TERMITE_EXIT_PORT_CLOSED
 *
 * Return: the reason; references to it cost nothing.
 */
struct tm_reason *tm_reason_static(u32 code)
{
	return tm_static_reasons[code];
}

struct tm_reason *tm_reason_get(struct tm_reason *r)
{
	if (!r->is_static)
		refcount_inc(&r->ref);
	return r;
}

void tm_reason_put(struct tm_reason *r)
{
	if (!r->is_static && refcount_dec_and_test(&r->ref))
		kvfree(r);
}

/* A reason with a user payload; codes without payload use the static ones. */
static struct tm_reason *tm_reason_from_user(u32 code, u64 buf, u32 len)
{
	struct tm_reason *r;

	if (len > READ_ONCE(tm_max_msg_size))
		return ERR_PTR(-EMSGSIZE);
	if (!len && code < ARRAY_SIZE(tm_static_reasons))
		return tm_reason_static(code);
	r = kvmalloc(struct_size(r, data, len), GFP_KERNEL_ACCOUNT);
	if (!r)
		return ERR_PTR(-ENOMEM);
	refcount_set(&r->ref, 1);
	r->is_static = false;
	r->code = code;
	r->len = len;
	if (copy_from_user(r->data, u64_to_user_ptr(buf), len)) {
		kvfree(r);
		return ERR_PTR(-EFAULT);
	}
	return r;
}

/* Dress a preallocated message as a signal or DOWN carrying @r. */
static void tm_msg_set_reason(struct tm_msg *m, u32 kind, u64 from, u64 tag,
			      struct tm_reason *r)
{
	m->kind = kind;
	m->from = from;
	m->tag = tag;
	m->code = r->code;
	m->len = r->len;
	m->reason = tm_reason_get(r);
	m->data = r->data;
}

/**
 * tm_may_signal() - may current, through @port, send exit signals to @target?
 * @port: the caller's port
 * @target: an actor, pinned, whose port is open
 *
 * A port's own actors are always its to signal.  Otherwise the rule of
 * kill(2), with the credentials the target's port was opened with: same
 * real or effective uid as the owner's real or saved uid, or CAP_KILL in
 * the owner's user namespace.
 *
 * Return: true if allowed.
 */
bool tm_may_signal(const struct tm_port *port, const struct tm_actor *target)
{
	const struct cred *cred = current_cred();
	const struct cred *tcred = target->port->cred;

	if (target->port == port)
		return true;
	if (uid_eq(cred->euid, tcred->suid) || uid_eq(cred->euid, tcred->uid) ||
	    uid_eq(cred->uid, tcred->suid) || uid_eq(cred->uid, tcred->uid))
		return true;
	return ns_capable(tcred->user_ns, CAP_KILL);
}

/* Put @a on the death work list @work, unless it is already dying. */
static void tm_doom(struct list_head *work, struct tm_actor *a,
		    struct tm_reason *r, bool zombie)
{
	lockdep_assert_held(&a->port->uni->topo_lock);
	if (a->state != TM_ALIVE || a->death_reason)
		return;
	a->death_reason = tm_reason_get(r);
	a->death_zombie = zombie && !a->port->closing;
	list_add_tail(&a->death_node, work);
}

/*
 * Deliver an exit signal from @from carrying @r to @t, consuming @m.
 * Return: true if @t must die of it, with the reason put in @why.
 */
static bool tm_signal(struct tm_actor *t, struct tm_msg *m, u64 from,
		      struct tm_reason *r, struct tm_reason **why)
{
	bool queued = false, die = false;

	spin_lock(&t->lock);
	if (t->state != TM_ALIVE || t->death_reason) {
		/* dying already: nothing more to tell */
	} else if (r->code == TERMITE_EXIT_KILL) {
		*why = tm_reason_static(TERMITE_EXIT_KILLED);
		die = true;
	} else if (t->mode == TERMITE_MODE_TRAP) {
		tm_msg_set_reason(m, TERMITE_KIND_EXIT, from, 0, r);
		tm_enqueue_locked(t, m, false);
		queued = true;
	} else if (r->code == TERMITE_EXIT_NORMAL) {
		/* dropped */
	} else if (t->mode == TERMITE_MODE_DIE) {
		*why = r;
		die = true;
	} else {
		tm_msg_set_reason(m, TERMITE_KIND_EXIT, from, 0, r);
		m->flags = TERMITE_MSG_SIGNAL;
		tm_enqueue_locked(t, m, true);
		queued = true;
	}
	if (!queued && m->charge)
		tm_quota_uncharge_locked(t, m);
	spin_unlock(&t->lock);
	if (!queued)
		tm_msg_put(m);
	return die;
}

static void tm_link_free(struct tm_link *l)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (l->end[i].sig)
			tm_msg_put(l->end[i].sig);
		tm_actor_put(l->end[i].actor);
	}
	kfree(l);
}

static void tm_link_remove(struct tm_link *l)
{
	int i;

	for (i = 0; i < 2; i++) {
		list_del(&l->end[i].node);
		l->end[i].actor->topo->nlinks--;
	}
	l->end[l->creator].actor->topo->nowned--;
}

static void tm_monitor_free(struct tm_monitor *mon)
{
	if (mon->down)
		tm_msg_put(mon->down);
	tm_actor_put(mon->watcher);
	tm_actor_put(mon->target);
	kfree(mon);
}

static void tm_monitor_remove(struct tm_monitor *mon)
{
	list_del(&mon->w_node);
	list_del(&mon->t_node);
	mon->watcher->topo->nowned--;
}

/* Queue @mon's DOWN for its watcher and free the monitor. */
static void tm_monitor_fire(struct tm_monitor *mon, struct tm_reason *r)
{
	struct tm_actor *w = mon->watcher;
	struct tm_msg *m = mon->down;

	mon->down = NULL;
	tm_msg_set_reason(m, TERMITE_KIND_DOWN, mon->target->id, mon->ref, r);
	spin_lock(&w->lock);
	if (w->state == TM_ALIVE) {
		tm_enqueue_locked(w, m, false);
		m = NULL;
	}
	spin_unlock(&w->lock);
	if (m)
		tm_msg_put(m);
	tm_monitor_free(mon);
}

/*
 * Mark @a dead and flush it.  If it stays a zombie, its death notice is
 * due: it is made from @a->death_reason when received (tm_recv_try()).
 */
static void tm_mark_dead(struct tm_actor *a, bool zombie)
{
	LIST_HEAD(flushed);

	spin_lock(&a->lock);
	a->state = TM_DEAD;
	tm_flush_locked(a, &flushed);
	a->events++;
	if (zombie) {
		a->notice = true;
		tm_port_mark_ready(a->port, a);
	}
	wake_up_all(&a->recv_wq);
	spin_unlock(&a->lock);
	tm_free_list(&flushed);
	if (wq_has_sleeper(&a->port->space_wq))
		wake_up_all(&a->port->space_wq);
}

/*
 * @a is dying of @r: drop its name, fire its links and monitors (peers that
 * must die too join @work), and free its &struct tm_topo.
 */
static void tm_cut_ties(struct list_head *work, struct tm_actor *a,
			struct tm_reason *r)
{
	struct tm_topo *t = a->topo;
	struct tm_link_end *e, *etmp;
	struct tm_monitor *mon, *mtmp;
	struct tm_reason *why;

	if (!t)
		return;
	tm_name_drop(a);

	list_for_each_entry_safe(e, etmp, &t->links, node) {
		struct tm_link_end *o = &e->link->end[!e->idx];
		struct tm_msg *m = o->sig;

		tm_link_remove(e->link);
		if (m) {
			o->sig = NULL;
			why = NULL;
			if (tm_signal(o->actor, m, a->id, r, &why))
				tm_doom(work, o->actor, why, true);
		}
		tm_link_free(e->link);
	}
	list_for_each_entry_safe(mon, mtmp, &t->watchers, t_node) {
		tm_monitor_remove(mon);
		tm_monitor_fire(mon, r);
	}
	list_for_each_entry_safe(mon, mtmp, &t->monitors, w_node) {
		tm_monitor_remove(mon);
		tm_monitor_free(mon);
	}
	WRITE_ONCE(a->topo, NULL);
	kfree(t);
}

/*
 * Process the death work list: every actor on it dies, its links and
 * monitors fire, and peers that must die too join the list.
 */
static void tm_run_deaths(struct tm_universe *uni, struct list_head *work)
{
	struct tm_actor *a;
	struct tm_reason *r;

	lockdep_assert_held(&uni->topo_lock);
	while (!list_empty(work)) {
		a = list_first_entry(work, struct tm_actor, death_node);
		list_del_init(&a->death_node);
		r = a->death_reason;

		tm_mark_dead(a, a->death_zombie);
		tm_cut_ties(work, a, r);
		/* A zombie keeps its reason, for its death notice. */
		if (!a->death_zombie) {
			a->death_reason = NULL;
			tm_actor_unpublish(a);
			tm_reason_put(r);
		}
		cond_resched();
	}
}

/**
 * tm_reap_zombie() - forget a zombie whose death notice was received
 * @a: the actor, pinned by the caller, which also holds its port
 */
void tm_reap_zombie(struct tm_actor *a)
{
	struct tm_universe *uni = a->port->uni;

	mutex_lock(&uni->topo_lock);
	if (a->state == TM_DEAD)
		tm_actor_unpublish(a);
	mutex_unlock(&uni->topo_lock);
}

/**
 * tm_port_kill_all() - the port closes: all its actors die, PORT_CLOSED
 * @port: the port being released
 */
void tm_port_kill_all(struct tm_port *port)
{
	struct tm_universe *uni = port->uni;
	struct tm_reason *r = tm_reason_static(TERMITE_EXIT_PORT_CLOSED);
	struct tm_actor *a;
	LIST_HEAD(work);

	mutex_lock(&uni->topo_lock);
	port->closing = true;
	list_del(&port->uni_node);
	/*
	 * No ioctl runs on a port being released, so its actor list changes
	 * only here; zombies are reaped, the living doomed.
	 */
	for (;;) {
		spin_lock(&port->lock);
		a = list_first_entry_or_null(&port->actors, struct tm_actor,
					     port_node);
		spin_unlock(&port->lock);
		if (!a)
			break;
		if (a->state == TM_ALIVE) {
			tm_doom(&work, a, r, false);
			tm_run_deaths(uni, &work);
		} else {
			tm_actor_unpublish(a);
		}
	}
	mutex_unlock(&uni->topo_lock);
}

/* @a's end of the link between @a and @b, or NULL: walk the shorter list. */
static struct tm_link_end *tm_link_find(struct tm_actor *a, struct tm_actor *b)
{
	struct tm_link_end *e;

	if (!a->topo || !b->topo)
		return NULL;
	if (a->topo->nlinks <= b->topo->nlinks) {
		list_for_each_entry(e, &a->topo->links, node)
			if (e->link->end[!e->idx].actor == b)
				return e;
	} else {
		list_for_each_entry(e, &b->topo->links, node)
			if (e->link->end[!e->idx].actor == a)
				return &e->link->end[!e->idx];
	}
	return NULL;
}

/**
 * tm_topo_prepare() - allocate @a's &struct tm_topo if it has none yet
 * @a: an actor, pinned
 * @spare: set to the new one, to be given to tm_topo_install() under the
 *	topo_lock, or to NULL if @a has one already
 *
 * Called without the topo_lock, before an operation that will need it.
 * An actor gets its tm_topo once and loses it only when it dies, so if @a
 * has none when the caller has taken the topo_lock and found it alive,
 * *@spare holds one.
 *
 * Return: 0, or -ENOMEM.
 */
int tm_topo_prepare(struct tm_actor *a, struct tm_topo **spare)
{
	struct tm_topo *t;

	*spare = NULL;
	if (READ_ONCE(a->topo))
		return 0;
	t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return -ENOMEM;
	INIT_LIST_HEAD(&t->links);
	INIT_LIST_HEAD(&t->monitors);
	INIT_LIST_HEAD(&t->watchers);
	*spare = t;
	return 0;
}

/**
 * tm_topo_install() - give @a its &struct tm_topo if it has none yet
 * @a: an ALIVE actor; the topo_lock is held
 * @spare: what tm_topo_prepare() made for @a; taken if used, else left
 *	for the caller to kfree()
 */
void tm_topo_install(struct tm_actor *a, struct tm_topo **spare)
{
	lockdep_assert_held(&a->port->uni->topo_lock);
	if (a->topo)
		return;
	WRITE_ONCE(a->topo, *spare);
	*spare = NULL;
}

/* Links created plus monitors held by @a; the topo_lock is held. */
static u32 tm_nowned(const struct tm_actor *a)
{
	return a->topo ? a->topo->nowned : 0;
}

static int tm_check_link(const struct termite_link *lk)
{
	if (lk->reserved0 || !tm_zero(lk->reserved, sizeof(lk->reserved)))
		return -EINVAL;
	if (!lk->flags || (lk->flags & ~TERMITE_LINK_BOTH))
		return -EINVAL;
	if (!lk->peer || lk->actor == lk->peer)
		return -EINVAL;
	return 0;
}

/* The error for an own actor that is not ALIVE. */
static int tm_not_alive(const struct tm_actor *a)
{
	return a->state == TM_DEAD ? -EOWNERDEAD : -ENOENT;
}

/* Queue NOPROC for @a about @peer_id, as if a link from the peer fired. */
static void tm_noproc(struct tm_universe *uni, struct tm_actor *a,
		      struct tm_msg *m, u64 peer_id)
{
	struct tm_reason *why = NULL;
	LIST_HEAD(work);

	if (tm_signal(a, m, peer_id, tm_reason_static(TERMITE_EXIT_NOPROC),
		      &why)) {
		tm_doom(&work, a, why, true);
		tm_run_deaths(uni, &work);
	}
}

static int tm_link_add(struct tm_port *port, struct termite_link *lk)
{
	struct tm_universe *uni = port->uni;
	struct tm_msg *sig_to = NULL, *sig_from = NULL;
	struct tm_topo *topo_a = NULL, *topo_b = NULL;
	struct tm_link_end *mine, *theirs;
	struct tm_actor *a, *b;
	struct tm_link *nl;
	int i, err;

	a = tm_own_actor(port, lk->actor);
	if (IS_ERR(a))
		return PTR_ERR(a);
	b = tm_actor_lookup(uni, lk->peer);
	err = -ENOMEM;
	nl = kzalloc(sizeof(*nl), GFP_KERNEL_ACCOUNT);
	if (!nl)
		goto out_put;
	/* sig_to goes to the peer when @a dies, sig_from to @a. */
	if (lk->flags & TERMITE_LINK_TO) {
		sig_to = tm_msg_alloc(0, GFP_KERNEL_ACCOUNT);
		if (!sig_to)
			goto out_free;
	}
	if (lk->flags & TERMITE_LINK_FROM) {
		sig_from = tm_msg_alloc(0, GFP_KERNEL_ACCOUNT);
		if (!sig_from)
			goto out_free;
	}
	err = tm_topo_prepare(a, &topo_a);
	if (!err && b)
		err = tm_topo_prepare(b, &topo_b);
	if (err)
		goto out_free;

	mutex_lock(&uni->topo_lock);
	if (a->state != TM_ALIVE) {
		err = tm_not_alive(a);
		goto out_unlock;
	}
	err = 0;
	if (!b || b->state != TM_ALIVE) {
		if (sig_from) {
			tm_noproc(uni, a, sig_from, lk->peer);
			sig_from = NULL;
		}
		goto out_unlock;
	}
	err = -EPERM;
	if (sig_to && !tm_may_signal(port, b))
		goto out_unlock;

	mine = tm_link_find(a, b);
	if (!mine) {
		err = -EMLINK;
		if (tm_nowned(a) >= READ_ONCE(tm_max_links))
			goto out_unlock;
		tm_topo_install(a, &topo_a);
		tm_topo_install(b, &topo_b);
		a->topo->nowned++;
		nl->creator = 0;
		nl->end[0].actor = a;
		nl->end[1].actor = b;
		for (i = 0; i < 2; i++) {
			struct tm_topo *t = nl->end[i].actor->topo;

			nl->end[i].link = nl;
			nl->end[i].idx = i;
			refcount_inc(&nl->end[i].actor->ref);
			list_add_tail(&nl->end[i].node, &t->links);
			t->nlinks++;
		}
		mine = &nl->end[0];
		nl = NULL;
	}
	theirs = &mine->link->end[!mine->idx];
	if (sig_to && !theirs->sig)
		swap(theirs->sig, sig_to);
	if (sig_from && !mine->sig)
		swap(mine->sig, sig_from);
	err = 0;
out_unlock:
	mutex_unlock(&uni->topo_lock);
out_free:
	if (sig_to)
		tm_msg_put(sig_to);
	if (sig_from)
		tm_msg_put(sig_from);
	kfree(topo_a);
	kfree(topo_b);
	kfree(nl);
out_put:
	if (b)
		tm_actor_put(b);
	tm_actor_put(a);
	return err;
}

static int tm_link_del(struct tm_port *port, struct termite_link *lk)
{
	struct tm_universe *uni = port->uni;
	struct tm_link_end *mine, *theirs;
	struct tm_msg *drop[2] = { NULL, NULL };
	struct tm_actor *a, *b;
	int err = 0;

	a = tm_own_actor(port, lk->actor);
	if (IS_ERR(a))
		return PTR_ERR(a);
	b = tm_actor_lookup(uni, lk->peer);
	if (!b)
		goto out_a;
	mutex_lock(&uni->topo_lock);
	if (a->state != TM_ALIVE) {
		err = tm_not_alive(a);
		goto out_unlock;
	}
	mine = tm_link_find(a, b);
	if (!mine)
		goto out_unlock;
	theirs = &mine->link->end[!mine->idx];
	if (lk->flags & TERMITE_LINK_TO)
		swap(drop[0], theirs->sig);
	if (lk->flags & TERMITE_LINK_FROM)
		swap(drop[1], mine->sig);
	if (!mine->sig && !theirs->sig) {
		tm_link_remove(mine->link);
		tm_link_free(mine->link);
	}
out_unlock:
	mutex_unlock(&uni->topo_lock);
	tm_actor_put(b);
	if (drop[0])
		tm_msg_put(drop[0]);
	if (drop[1])
		tm_msg_put(drop[1]);
out_a:
	tm_actor_put(a);
	return err;
}

int tm_ioc_link(struct tm_port *port, struct tm_call *c)
{
	int err = tm_check_link(c->arg);

	return err ?: tm_link_add(port, c->arg);
}

int tm_ioc_unlink(struct tm_port *port, struct tm_call *c)
{
	int err = tm_check_link(c->arg);

	return err ?: tm_link_del(port, c->arg);
}

int tm_ioc_monitor(struct tm_port *port, struct tm_call *c)
{
	struct tm_universe *uni = port->uni;
	struct termite_monitor *mop = c->arg, mo = *mop;
	struct tm_topo *topo_a = NULL, *topo_b = NULL;
	struct tm_monitor *mon;
	struct tm_msg *down = NULL;
	struct tm_actor *a, *b;
	int err;

	if (mo.flags || mo.reserved0 ||
	    !tm_zero(mo.reserved, sizeof(mo.reserved)))
		return -EINVAL;
	if (!mo.peer || mo.peer == mo.actor)
		return -EINVAL;
	a = tm_own_actor(port, mo.actor);
	if (IS_ERR(a))
		return PTR_ERR(a);
	b = tm_actor_lookup(uni, mo.peer);
	err = -ENOMEM;
	mon = kzalloc(sizeof(*mon), GFP_KERNEL_ACCOUNT);
	if (!mon)
		goto out_free;
	down = tm_msg_alloc(0, GFP_KERNEL_ACCOUNT);
	if (!down)
		goto out_free;
	err = tm_topo_prepare(a, &topo_a);
	if (!err && b)
		err = tm_topo_prepare(b, &topo_b);
	if (err)
		goto out_free;
	mo.ref = tm_new_id();
	/* Tell the reference first, so a fault leaves nothing behind. */
	err = -EFAULT;
	mop->ref = mo.ref;
	if (tm_call_out(c, sizeof(*mop), mo.ref))
		goto out_free;

	mutex_lock(&uni->topo_lock);
	if (a->state != TM_ALIVE) {
		err = tm_not_alive(a);
		goto out_unlock;
	}
	if (!b || b->state != TM_ALIVE) {
		/* An unknown or dead peer: DOWN with NOPROC, at once. */
		tm_msg_set_reason(down, TERMITE_KIND_DOWN, mo.peer, mo.ref,
				  tm_reason_static(TERMITE_EXIT_NOPROC));
		spin_lock(&a->lock);
		tm_enqueue_locked(a, down, false);
		spin_unlock(&a->lock);
		down = NULL;
		err = 0;
		goto out_unlock;
	}
	err = -EMLINK;
	if (tm_nowned(a) >= READ_ONCE(tm_max_links))
		goto out_unlock;
	tm_topo_install(a, &topo_a);
	tm_topo_install(b, &topo_b);
	mon->ref = mo.ref;
	mon->down = down;
	mon->watcher = a;
	mon->target = b;
	refcount_inc(&a->ref);
	refcount_inc(&b->ref);
	list_add_tail(&mon->w_node, &a->topo->monitors);
	list_add_tail(&mon->t_node, &b->topo->watchers);
	a->topo->nowned++;
	mon = NULL;
	down = NULL;
	err = 0;
out_unlock:
	mutex_unlock(&uni->topo_lock);
out_free:
	if (down)
		tm_msg_put(down);
	kfree(topo_a);
	kfree(topo_b);
	kfree(mon);
	if (b)
		tm_actor_put(b);
	tm_actor_put(a);
	return err;
}

int tm_ioc_demonitor(struct tm_port *port, struct tm_call *c)
{
	struct tm_universe *uni = port->uni;
	struct termite_monitor mo = *(struct termite_monitor *)c->arg;
	struct tm_monitor *mon, *found = NULL;
	struct tm_msg *m = NULL;
	struct tm_actor *a;
	int err = 0;

	if ((mo.flags & ~TERMITE_DEMONITOR_FLUSH) || mo.reserved0 || mo.peer ||
	    !tm_zero(mo.reserved, sizeof(mo.reserved)) || !mo.ref)
		return -EINVAL;
	a = tm_own_actor(port, mo.actor);
	if (IS_ERR(a))
		return PTR_ERR(a);
	mutex_lock(&uni->topo_lock);
	if (a->state != TM_ALIVE) {
		err = tm_not_alive(a);
		goto out_unlock;
	}
	if (a->topo) {
		list_for_each_entry(mon, &a->topo->monitors, w_node) {
			if (mon->ref == mo.ref) {
				found = mon;
				break;
			}
		}
	}
	if (found)
		tm_monitor_remove(found);
	if (mo.flags & TERMITE_DEMONITOR_FLUSH) {
		spin_lock(&a->lock);
		m = tm_unqueue_down_locked(a, mo.ref);
		spin_unlock(&a->lock);
	}
out_unlock:
	mutex_unlock(&uni->topo_lock);
	if (found)
		tm_monitor_free(found);
	if (m)
		tm_msg_put(m);
	tm_actor_put(a);
	return err;
}

static int tm_check_exit(const struct termite_exit *ex)
{
	if (!tm_zero(ex->reserved, sizeof(ex->reserved)))
		return -EINVAL;
	return 0;
}

/**
 * tm_actor_end() - end an actor as its own EXIT with @r would
 * @a: the actor, pinned by the caller, whose port the caller holds
 * @r: the reason
 *
 * Nothing happens if it is already dead or dying.
 */
void tm_actor_end(struct tm_actor *a, struct tm_reason *r)
{
	struct tm_universe *uni = a->port->uni;
	LIST_HEAD(work);

	mutex_lock(&uni->topo_lock);
	if (a->state == TM_ALIVE && !a->death_reason) {
		tm_doom(&work, a, r, false);
		tm_run_deaths(uni, &work);
	}
	mutex_unlock(&uni->topo_lock);
}

int tm_ioc_exit(struct tm_port *port, struct tm_call *c)
{
	struct tm_universe *uni = port->uni;
	struct termite_exit ex = *(struct termite_exit *)c->arg;
	struct tm_reason *r;
	struct tm_actor *a;
	LIST_HEAD(work);
	int err = 0;

	if (tm_check_exit(&ex) || ex.to || ex.code == TERMITE_EXIT_KILL)
		return -EINVAL;
	a = tm_own_actor(port, ex.actor);
	if (IS_ERR(a))
		return PTR_ERR(a);
	r = tm_reason_from_user(ex.code, ex.buf, ex.len);
	if (IS_ERR(r)) {
		err = PTR_ERR(r);
		goto out_a;
	}
	mutex_lock(&uni->topo_lock);
	if (a->state == TM_ALIVE && !a->death_reason) {
		tm_doom(&work, a, r, false);
		tm_run_deaths(uni, &work);
	} else if (a->state == TM_DEAD) {
		/* Already dead: the owner gives up on its death notice. */
		tm_actor_unpublish(a);
	} else {
		err = -ENOENT;
	}
	mutex_unlock(&uni->topo_lock);
	tm_reason_put(r);
out_a:
	tm_actor_put(a);
	return err;
}

int tm_ioc_signal(struct tm_port *port, struct tm_call *c)
{
	struct tm_universe *uni = port->uni;
	struct termite_exit ex = *(struct termite_exit *)c->arg;
	struct tm_reason *r, *why = NULL;
	struct tm_actor *a, *t;
	struct tm_msg *m;
	LIST_HEAD(work);
	int err;

	if (tm_check_exit(&ex) || !ex.to)
		return -EINVAL;
	a = tm_own_actor(port, ex.actor);
	if (IS_ERR(a))
		return PTR_ERR(a);
	r = tm_reason_from_user(ex.code, ex.buf, ex.len);
	if (IS_ERR(r)) {
		err = PTR_ERR(r);
		goto out_a;
	}
	err = -ENOMEM;
	m = tm_msg_alloc(0, GFP_KERNEL_ACCOUNT);
	if (!m)
		goto out_r;
	err = -ESRCH;
	t = tm_actor_lookup(uni, ex.to);
	if (!t)
		goto out_m;

	mutex_lock(&uni->topo_lock);
	if (a->state != TM_ALIVE) {
		err = tm_not_alive(a);
		goto out_unlock;
	}
	err = -ESRCH;
	if (t->state != TM_ALIVE || t->death_reason)
		goto out_unlock;
	err = -EPERM;
	if (!tm_may_signal(port, t))
		goto out_unlock;
	/* User-made signals count against the receiver's limits. */
	spin_lock(&t->lock);
	err = 0;
	if (r->code != TERMITE_EXIT_KILL) {
		m->len = r->len;
		if (t->qlen + t->nsig >= READ_ONCE(tm_max_queue_len))
			err = -EAGAIN;
		else
			err = tm_quota_charge_locked(t, m);
	}
	spin_unlock(&t->lock);
	if (err)
		goto out_unlock;
	m->pid = get_pid(task_tgid(current));
	m->uid = current_uid();
	if (tm_signal(t, m, a->id, r, &why)) {
		tm_doom(&work, t, why, true);
		tm_run_deaths(uni, &work);
	}
	m = NULL;
	err = 0;
out_unlock:
	mutex_unlock(&uni->topo_lock);
	tm_actor_put(t);
out_m:
	if (m)
		tm_msg_put(m);
out_r:
	tm_reason_put(r);
out_a:
	tm_actor_put(a);
	return err;
}
