// SPDX-License-Identifier: GPL-2.0
/*
 * termite: limits, their module parameters, and quota accounting.
 */

/**
 * DOC: Limits and accounting
 *
 * Every kernel allocation termite makes on a user's behalf is bounded:
 *
 * - a payload (and an exit reason) by ``max_msg_size``;
 * - a mailbox by ``max_queue_len`` messages;
 * - the payload bytes, plus a per-message overhead, queued to all actors
 *   of one port by ``port_quota``;
 * - the actors of one port, zombies included, by ``max_actors``;
 * - the links an actor creates plus the monitors it holds by ``max_links``
 *   (links made by others do not count, so no stranger can exhaust it);
 *   each link and monitor preallocates the exit signal or DOWN message it may send, so a
 *   death never allocates and never fails;
 * - names by one per actor.
 *
 * Each parameter is writable by root at run time and refuses values outside
 * its bounds (and numbers too large to parse) with -EINVAL; a lower value applies to new messages, actors
 * and links, never to what exists.  Allocations use GFP_KERNEL_ACCOUNT, so
 * they are charged to the memory cgroup of the process that causes them
 * (the sender, for a message).
 *
 * Messages the kernel makes (exit signals and DOWN) are preallocated and
 * bounded by the links and monitors that make them; they count in a
 * mailbox's length but are never refused.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/uaccess.h>
#include "internal.h"

unsigned int tm_max_msg_size = 1U << 20;
unsigned int tm_max_queue_len = 65536;
unsigned int tm_max_actors = 1U << 20;
unsigned int tm_max_links = 65536;
unsigned long long tm_port_quota = 256ULL << 20;

#define TM_UINT_PARAM(name, var, lo, hi, desc)				\
static int tm_set_##name(const char *val, const struct kernel_param *kp) \
{									\
	int err = param_set_uint_minmax(val, kp, lo, hi);		\
									\
	return err == -ERANGE ? -EINVAL : err;				\
}									\
static const struct kernel_param_ops tm_ops_##name = {			\
	.set = tm_set_##name,						\
	.get = param_get_uint,						\
};									\
module_param_cb(name, &tm_ops_##name, &var, 0644);			\
MODULE_PARM_DESC(name, desc " [" #lo ".." #hi "]")

TM_UINT_PARAM(max_msg_size, tm_max_msg_size, 4096, 67108864,
	      "largest payload in bytes");
TM_UINT_PARAM(max_queue_len, tm_max_queue_len, 16, 16777216,
	      "messages one mailbox may hold");
TM_UINT_PARAM(max_actors, tm_max_actors, 16, 16777216,
	      "actors one port may own");
TM_UINT_PARAM(max_links, tm_max_links, 16, 16777216,
	      "links one actor creates plus monitors it holds");

#define TM_QUOTA_MIN	(64ULL << 10)
#define TM_QUOTA_MAX	(16ULL << 30)

static int tm_set_port_quota(const char *val, const struct kernel_param *kp)
{
	unsigned long long v;
	int err;

	err = kstrtoull(val, 0, &v);
	if (err)
		return -EINVAL;
	if (v < TM_QUOTA_MIN || v > TM_QUOTA_MAX)
		return -EINVAL;
	WRITE_ONCE(tm_port_quota, v);
	return 0;
}

static const struct kernel_param_ops tm_ops_port_quota = {
	.set = tm_set_port_quota,
	.get = param_get_ullong,
};
module_param_cb(port_quota, &tm_ops_port_quota, &tm_port_quota, 0644);
MODULE_PARM_DESC(port_quota,
		 "bytes queued to the actors of one port [65536..17179869184]");

/**
 * tm_quota_charge_locked() - charge an ordinary message to @a's port
 * @a: the receiver, locked and ALIVE
 * @m: the message
 *
 * Return: 0, or -ENOBUFS if the port's quota would be exceeded.
 */
int tm_quota_charge_locked(struct tm_actor *a, struct tm_msg *m)
{
	struct tm_port *port = a->port;
	u32 charge = sizeof(*m) + m->len;
	int err = 0;

	spin_lock(&port->lock);
	if (port->qbytes + charge > READ_ONCE(tm_port_quota))
		err = -ENOBUFS;
	else
		port->qbytes += charge;
	spin_unlock(&port->lock);
	if (!err)
		m->charge = charge;
	return err;
}

/**
 * tm_quota_uncharge_locked() - return a dequeued message's charge
 * @a: its receiver, locked
 * @m: the message, just taken off a queue
 *
 * Also tells blocked senders that a mailbox slot may have come free.
 */
void tm_quota_uncharge_locked(struct tm_actor *a, struct tm_msg *m)
{
	struct tm_port *port = a->port;

	spin_lock(&port->lock);
	port->qbytes -= m->charge;
	port->space_events++;
	spin_unlock(&port->lock);
	m->charge = 0;
	if (wq_has_sleeper(&port->space_wq))
		wake_up(&port->space_wq);
}

int tm_ioc_version(struct tm_port *port, struct tm_call *c)
{
	struct termite_version v = {
		.major = TERMITE_API_MAJOR,
		.minor = TERMITE_API_MINOR,
		.features = TERMITE_FEAT_SELECTIVE | TERMITE_FEAT_MONITORS |
			    TERMITE_FEAT_NAMES | TERMITE_FEAT_READY |
			    TERMITE_FEAT_BATCH | TERMITE_FEAT_SPAWN_BATCH |
			    tm_uring_features(),
		.max_msg_size = READ_ONCE(tm_max_msg_size),
		.max_queue_len = READ_ONCE(tm_max_queue_len),
		.max_actors = READ_ONCE(tm_max_actors),
		.max_links = READ_ONCE(tm_max_links),
		.port_quota = READ_ONCE(tm_port_quota),
		.universe = port->uni->id,
	};

	*(struct termite_version *)c->arg = v;
	return tm_call_out(c, sizeof(v), (u64)v.major << 32 | v.minor);
}
