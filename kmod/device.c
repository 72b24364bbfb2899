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
#include <linux/nospec.h>
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

	tm_uring_port_close(port);
	tm_port_kill_all(port);
	tm_port_put(port);
	return 0;
}

static int tm_ioc_ready(struct tm_port *port, struct tm_call *c)
{
	struct termite_ready *rdp = c->arg, rd = *rdp;
	struct tm_actor *batch[TM_READY_BATCH];
	u64 __user *ids;
	u64 id;
	u32 done = 0, n, i;
	int err = 0;

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
	rdp->count = done;
	return tm_call_out(c, sizeof(*rdp), done);
}

#define TM_OP(name, handler) \
	[_IOC_NR(TERMITE_IOC_##name)] = { TERMITE_IOC_##name, handler }

static const struct tm_op tm_ops[] = {
	TM_OP(VERSION, tm_ioc_version),
	TM_OP(SPAWN, tm_ioc_spawn),
	TM_OP(SEND, tm_ioc_send),
	TM_OP(RECV, tm_ioc_recv),
	TM_OP(LINK, tm_ioc_link),
	TM_OP(UNLINK, tm_ioc_unlink),
	TM_OP(MONITOR, tm_ioc_monitor),
	TM_OP(DEMONITOR, tm_ioc_demonitor),
	TM_OP(EXIT, tm_ioc_exit),
	TM_OP(SIGNAL, tm_ioc_signal),
	TM_OP(REGISTER, tm_ioc_register),
	TM_OP(UNREGISTER, tm_ioc_unregister),
	TM_OP(WHEREIS, tm_ioc_whereis),
	TM_OP(MAKE_TAG, tm_ioc_make_tag),
	TM_OP(SETOPT, tm_ioc_setopt),
	TM_OP(READY, tm_ioc_ready),
	TM_OP(SEND_BATCH, tm_ioc_send_batch),
	TM_OP(SPAWN_BATCH, tm_ioc_spawn_batch),
};

/**
 * tm_op_find() - look up an operation by its ioctl number
 * @cmd: a %TERMITE_IOC_* number, size included
 *
 * Return: the operation, or NULL if @cmd is none of ours.
 */
const struct tm_op *tm_op_find(unsigned int cmd)
{
	unsigned int nr = _IOC_NR(cmd);

	if (_IOC_TYPE(cmd) != TERMITE_IOC_MAGIC || nr >= ARRAY_SIZE(tm_ops))
		return NULL;
	nr = array_index_nospec(nr, ARRAY_SIZE(tm_ops));
	if (tm_ops[nr].cmd != cmd)
		return NULL;
	return &tm_ops[nr];
}

static long tm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	const struct tm_op *op = tm_op_find(cmd);
	u64 buf[TM_SQE_CMD_MAX / sizeof(u64)] = {};
	struct tm_call c = {
		.arg = buf,
		.uarg = (void __user *)arg,
	};

	if (!op)
		return -ENOTTY;
	if ((_IOC_DIR(cmd) & _IOC_WRITE) &&
	    copy_from_user(buf, c.uarg, _IOC_SIZE(cmd)))
		return -EFAULT;
	return op->fn(file->private_data, &c);
}

/*
 * Called on every close() of a descriptor of the port.  io_uring commands
 * parked on the port pin its file, so release would never come while they
 * wait: complete those the closing owner submitted instead.
 */
static int tm_flush(struct file *file, fl_owner_t id)
{
	tm_uring_flush(file, id);
	return 0;
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
	.flush		= tm_flush,
	.unlocked_ioctl	= tm_ioctl,
#ifdef TM_URING
	.uring_cmd	= tm_uring_cmd,
#endif
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
	err = tm_uring_init();
	if (err)
		goto out_actor;
	err = misc_register(&tm_misc);
	if (err)
		goto out_uring;
	tm_debugfs_init();
	return 0;

out_uring:
	tm_uring_exit();
out_actor:
	tm_actor_exit();
	return err;
}

static void __exit tm_exit(void)
{
	tm_debugfs_exit();
	misc_deregister(&tm_misc);
	tm_uring_exit();
	tm_actor_exit();
}

module_init(tm_init);
module_exit(tm_exit);
MODULE_DESCRIPTION("termite: Erlang-style actors with kernel mailboxes, links and exit signals");
MODULE_LICENSE("GPL");
