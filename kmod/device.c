// SPDX-License-Identifier: GPL-2.0
/*
 * termite: the /dev/termite device and its ports.
 */

/**
 * DOC: Device and ports
 *
 * /dev/termite is a misc character device.  Each open() makes a port
 * (&struct tm_port) in the universe of the opener's IPC namespace; every
 * operation is an ioctl on it whose argument is one fixed-size struct from
 * <linux/termite.h>.  An ioctl number the module does not know, including a
 * known one encoded with another size, fails with -ENOTTY.
 *
 * Readiness: whenever something is queued for one of a port's actors (or
 * it dies) the actor joins the port's ready list, once.  poll() reports
 * EPOLLIN while that list is not empty and %TERMITE_IOC_READY drains it, so
 * one thread can serve many actors the way epoll serves many sockets.
 *
 * Release (the last close, also when the owning process is killed) kills
 * every actor of the port with %TERMITE_EXIT_PORT_CLOSED, which propagates
 * along links like any death: no heartbeat is needed to learn of a crash.
 * The file holds a reference on the module, so the module cannot be
 * unloaded while any port is open.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/sched.h>
#include "internal.h"

/* IDs copied out per round of READY; bounds the stack it uses. */
#define TM_READY_BATCH	32

/**
 * tm_port_mark_ready() - note that @a has news, and wake the port's pollers
 * @port: @a's port
 * @a: the actor, locked
 */
void tm_port_mark_ready(struct tm_port *port, struct tm_actor *a)
{
	bool wake = false;

	lockdep_assert_held(&a->lock);
	spin_lock(&port->lock);
	if (list_empty(&a->ready_node)) {
		list_add_tail(&a->ready_node, &port->ready);
		wake = true;
	}
	spin_unlock(&port->lock);
	if (wake && wq_has_sleeper(&port->poll_wq))
		wake_up_poll(&port->poll_wq, EPOLLIN | EPOLLRDNORM);
}

static int tm_open(struct inode *inode, struct file *file)
{
	struct tm_port *port;
	int err;

	port = kzalloc(sizeof(*port), GFP_KERNEL_ACCOUNT);
	if (!port)
		return -ENOMEM;
	refcount_set(&port->ref, 1);
	spin_lock_init(&port->lock);
	INIT_LIST_HEAD(&port->actors);
	INIT_LIST_HEAD(&port->ready);
	init_waitqueue_head(&port->poll_wq);
	init_waitqueue_head(&port->space_wq);
	err = tm_universe_get(port);
	if (err) {
		kfree(port);
		return err;
	}
	port->cred = get_current_cred();
	port->tgid = get_pid(task_tgid(current));
	mutex_lock(&port->uni->topo_lock);
	list_add_tail(&port->uni_node, &port->uni->ports);
	mutex_unlock(&port->uni->topo_lock);
	file->private_data = port;
	return 0;
}

static int tm_release(struct inode *inode, struct file *file)
{
	struct tm_port *port = file->private_data;

	tm_port_kill_all(port);
	tm_port_put(port);
	return 0;
}

static int tm_ioc_ready(struct tm_port *port, void __user *arg)
{
	struct tm_actor *batch[TM_READY_BATCH];
	struct termite_ready rd;
	u64 __user *ids;
	u64 id;
	u32 done = 0, n, i;
	int err = 0;

	if (copy_from_user(&rd, arg, sizeof(rd)))
		return -EFAULT;
	if (rd.flags || !tm_zero(rd.reserved, sizeof(rd.reserved)) ||
	    !rd.count)
		return -EINVAL;
	ids = u64_to_user_ptr(rd.ids);

	while (done < rd.count) {
		n = 0;
		spin_lock(&port->lock);
		while (n < min_t(u32, rd.count - done, TM_READY_BATCH) &&
		       !list_empty(&port->ready)) {
			batch[n] = list_first_entry(&port->ready,
						    struct tm_actor, ready_node);
			list_del_init(&batch[n]->ready_node);
			refcount_inc(&batch[n]->ref);
			n++;
		}
		spin_unlock(&port->lock);
		if (!n)
			break;
		for (i = 0; i < n; i++) {
			id = batch[i]->id;
			if (!err && put_user(id, ids + done + i))
				err = -EFAULT;
		}
		if (err) {
			/* Put them back: a fault loses no readiness. */
			for (i = n; i-- > 0; ) {
				struct tm_actor *a = batch[i];

				spin_lock(&a->lock);
				spin_lock(&port->lock);
				if (a->state != TM_GONE &&
				    list_empty(&a->ready_node))
					list_add(&a->ready_node, &port->ready);
				spin_unlock(&port->lock);
				spin_unlock(&a->lock);
			}
		}
		for (i = 0; i < n; i++)
			tm_actor_put(batch[i]);
		/* Report what earlier rounds wrote; fail only if nothing was. */
		if (err && !done)
			return err;
		if (err)
			break;
		done += n;
	}
	rd.count = done;
	if (copy_to_user(arg, &rd, sizeof(rd)))
		return -EFAULT;
	return 0;
}

static long tm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct tm_port *port = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case TERMITE_IOC_VERSION:
		return tm_ioc_version(port, uarg);
	case TERMITE_IOC_SPAWN:
		return tm_ioc_spawn(port, uarg);
	case TERMITE_IOC_SEND:
		return tm_ioc_send(port, uarg);
	case TERMITE_IOC_RECV:
		return tm_ioc_recv(port, uarg);
	case TERMITE_IOC_LINK:
		return tm_ioc_link(port, uarg, true);
	case TERMITE_IOC_UNLINK:
		return tm_ioc_link(port, uarg, false);
	case TERMITE_IOC_MONITOR:
		return tm_ioc_monitor(port, uarg);
	case TERMITE_IOC_DEMONITOR:
		return tm_ioc_demonitor(port, uarg);
	case TERMITE_IOC_EXIT:
		return tm_ioc_exit(port, uarg);
	case TERMITE_IOC_SIGNAL:
		return tm_ioc_signal(port, uarg);
	case TERMITE_IOC_REGISTER:
		return tm_ioc_register(port, uarg);
	case TERMITE_IOC_UNREGISTER:
		return tm_ioc_unregister(port, uarg);
	case TERMITE_IOC_WHEREIS:
		return tm_ioc_whereis(port, uarg);
	case TERMITE_IOC_MAKE_TAG:
		return tm_ioc_make_tag(port, uarg);
	case TERMITE_IOC_SETOPT:
		return tm_ioc_setopt(port, uarg);
	case TERMITE_IOC_READY:
		return tm_ioc_ready(port, uarg);
	case TERMITE_IOC_SEND_BATCH:
		return tm_ioc_send_batch(port, uarg);
	default:
		return -ENOTTY;
	}
}

static __poll_t tm_poll(struct file *file, poll_table *wait)
{
	struct tm_port *port = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &port->poll_wq, wait);
	spin_lock(&port->lock);
	if (!list_empty(&port->ready))
		mask = EPOLLIN | EPOLLRDNORM;
	spin_unlock(&port->lock);
	return mask;
}

static const struct file_operations tm_fops = {
	.owner		= THIS_MODULE,
	.open		= tm_open,
	.release	= tm_release,
	.unlocked_ioctl	= tm_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.poll		= tm_poll,
	.llseek		= noop_llseek,
	.show_fdinfo	= tm_show_fdinfo,
};

static struct miscdevice tm_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "termite",
	.fops	= &tm_fops,
	.mode	= 0666,
};

/* Every argument must fit the 80-byte command area of an SQE128 entry. */
#define TM_SQE_CMD_MAX	80
static_assert(sizeof(struct termite_version) <= TM_SQE_CMD_MAX);
static_assert(sizeof(struct termite_spawn) <= TM_SQE_CMD_MAX);
static_assert(sizeof(struct termite_send) <= TM_SQE_CMD_MAX);
static_assert(sizeof(struct termite_recv) <= TM_SQE_CMD_MAX);
static_assert(sizeof(struct termite_link) <= TM_SQE_CMD_MAX);
static_assert(sizeof(struct termite_monitor) <= TM_SQE_CMD_MAX);
static_assert(sizeof(struct termite_exit) <= TM_SQE_CMD_MAX);
static_assert(sizeof(struct termite_name) <= TM_SQE_CMD_MAX);
static_assert(sizeof(struct termite_tag) <= TM_SQE_CMD_MAX);
static_assert(sizeof(struct termite_setopt) <= TM_SQE_CMD_MAX);
static_assert(sizeof(struct termite_ready) <= TM_SQE_CMD_MAX);
static_assert(sizeof(struct termite_batch) <= TM_SQE_CMD_MAX);

static int __init tm_init(void)
{
	int err;

	err = tm_actor_init();
	if (err)
		return err;
	err = misc_register(&tm_misc);
	if (err)
		goto out_actor;
	tm_debugfs_init();
	return 0;

out_actor:
	tm_actor_exit();
	return err;
}

static void __exit tm_exit(void)
{
	tm_debugfs_exit();
	misc_deregister(&tm_misc);
	tm_actor_exit();
}

module_init(tm_init);
module_exit(tm_exit);
MODULE_DESCRIPTION("termite: Erlang-style actors with kernel mailboxes, links and exit signals");
MODULE_LICENSE("GPL");
