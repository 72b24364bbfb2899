// SPDX-License-Identifier: GPL-2.0
/*
 * termite: introspection through fdinfo and debugfs.
 */

/**
 * DOC: Introspection
 *
 * /proc/PID/fdinfo/FD of a port shows the port's universe, actor count,
 * ready count and queued bytes against its quota.
 *
 * /sys/kernel/debug/termite/actors (root only) lists, for every universe,
 * every port (owner pid and uid) and every actor: id, state, mode, mailbox
 * and signal-queue lengths, name, the actors it is linked to (with the
 * direction: ``>`` the peer hears of this actor's death, ``<`` this actor
 * hears of the peer's) and its monitors.  The listing holds each universe's
 * topo_lock while it prints it.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/seq_file.h>
#include <linux/pid.h>
#include <linux/ns_common.h>
#include "internal.h"

static struct dentry *tm_debugfs_dir;

void tm_show_fdinfo(struct seq_file *m, struct file *f)
{
	struct tm_port *port = f->private_data;
	struct tm_actor *a;
	u32 nactors, nready = 0;
	u64 qbytes;

	spin_lock(&port->lock);
	nactors = port->nactors;
	qbytes = port->qbytes;
	list_for_each_entry(a, &port->ready, ready_node)
		nready++;
	spin_unlock(&port->lock);
	seq_printf(m, "termite-universe:\t%016llx\n", port->uni->id);
	seq_printf(m, "termite-actors:\t%u\n", nactors);
	seq_printf(m, "termite-ready:\t%u\n", nready);
	seq_printf(m, "termite-queued-bytes:\t%llu\n", qbytes);
	seq_printf(m, "termite-quota-bytes:\t%llu\n", READ_ONCE(tm_port_quota));
}

static const char *const tm_state_names[] = {
	[TM_ALIVE] = "alive", [TM_DEAD] = "dead", [TM_GONE] = "gone",
};
static const char *const tm_mode_names[] = {
	[TERMITE_MODE_DELIVER] = "deliver", [TERMITE_MODE_TRAP] = "trap",
	[TERMITE_MODE_DIE] = "die",
};

/* Called with @a's universe's topo_lock held. */
static void tm_show_actor(struct seq_file *m, struct tm_actor *a)
{
	struct tm_topo *t = a->topo;
	struct tm_link_end *e;
	struct tm_monitor *mon;

	spin_lock(&a->lock);
	/* A zombie's death notice counts as the signal it stands for. */
	seq_printf(m, "  actor %016llx %s mode=%s queue=%u signals=%u",
		   a->id, tm_state_names[a->state], tm_mode_names[a->mode],
		   a->qlen, a->nsig + a->notice);
	spin_unlock(&a->lock);
	if (t && t->name)
		seq_printf(m, " name=%s", t->name->name);
	seq_puts(m, "\n");
	if (!t)
		return;
	list_for_each_entry(e, &t->links, node) {
		struct tm_link_end *o = &e->link->end[!e->idx];

		seq_printf(m, "    link %s%s %016llx\n", o->sig ? ">" : "",
			   e->sig ? "<" : "", o->actor->id);
	}
	list_for_each_entry(mon, &t->monitors, w_node)
		seq_printf(m, "    monitors %016llx ref %016llx\n",
			   mon->target->id, mon->ref);
	list_for_each_entry(mon, &t->watchers, t_node)
		seq_printf(m, "    monitored-by %016llx ref %016llx\n",
			   mon->watcher->id, mon->ref);
}

static int tm_actors_show(struct seq_file *m, void *unused)
{
	struct tm_universe *uni;
	struct tm_port *port;
	struct tm_actor *a;

	mutex_lock(&tm_universes_lock);
	list_for_each_entry(uni, &tm_universes, node) {
		seq_printf(m, "universe %016llx ipc-ns %u\n", uni->id,
			   uni->ns->inum);
		mutex_lock(&uni->topo_lock);
		list_for_each_entry(port, &uni->ports, uni_node) {
			seq_printf(m, " port pid %d uid %u actors %u queued-bytes %llu\n",
				   pid_nr(port->tgid),
				   from_kuid_munged(&init_user_ns, port->cred->uid),
				   port->nactors, port->qbytes);
			/*
			 * The actor list changes only under this topo_lock or
			 * by SPAWN, which only appends: walk it unlocked.
			 */
			list_for_each_entry(a, &port->actors, port_node)
				tm_show_actor(m, a);
		}
		mutex_unlock(&uni->topo_lock);
	}
	mutex_unlock(&tm_universes_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tm_actors);

void tm_debugfs_init(void)
{
	tm_debugfs_dir = debugfs_create_dir("termite", NULL);
	debugfs_create_file("actors", 0400, tm_debugfs_dir, NULL,
			    &tm_actors_fops);
}

void tm_debugfs_exit(void)
{
	debugfs_remove_recursive(tm_debugfs_dir);
}
