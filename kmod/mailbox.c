// SPDX-License-Identifier: GPL-2.0
/*
 * termite: mailboxes, send, and selective receive.
 */

/**
 * DOC: Mailbox and receive
 *
 * An actor's mailbox is a list of &struct tm_msg in arrival order, each
 * numbered by a per-actor sequence number (seq) that only grows.  Next to it
 * sits the signal queue of exit signals to be raised, which every receive
 * returns before any message.  A zombie's death notice comes first of all;
 * it is never queued but made when received, from the zombie's id and
 * reason.
 *
 * A receive looks for the first message at or after a lower bound on seq
 * that satisfies the requested matches.  The bound comes from the cursor
 * (%TERMITE_RECV_AFTER), from MAKE_TAG's mark when the receive matches that
 * tag (so a reply is found without rescanning what was queued before the
 * request: Erlang's receive-reference optimisation), and, after a wait,
 * from what the same call already scanned.  Three positions make finding
 * the bound cheap: the mailbox's ends, the mark, and the last peeked
 * message (the hint), so a library walking the mailbox with PEEK and
 * AFTER, then taking with SEQ, does constant work per step.
 *
 * Copying out happens with no lock held: the receiver pins the message,
 * copies header and payload to user memory, and only then unlinks it.  A
 * fault leaves the message where it was; a concurrent receiver that took
 * it first makes the call search again.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/pid_namespace.h>
#include <linux/hrtimer.h>
#include "internal.h"

/**
 * tm_msg_alloc() - allocate a message with room for @len payload bytes
 * @len: payload size, already bounded by the caller
 * @gfp: allocation flags; GFP_KERNEL_ACCOUNT charges the caller's memcg
 *
 * Return: the message with one reference, or NULL.
 */
struct tm_msg *tm_msg_alloc(u32 len, gfp_t gfp)
{
	struct tm_msg *m;

	m = kvmalloc(struct_size(m, inline_data, len), gfp);
	if (!m)
		return NULL;
	memset(m, 0, sizeof(*m));
	INIT_LIST_HEAD(&m->node);
	refcount_set(&m->ref, 1);
	m->len = len;
	m->data = m->inline_data;
	return m;
}

/**
 * tm_msg_put() - drop a reference to a message; the last frees it
 * @m: the message
 *
 * May sleep (vfree of a large payload): never call it under a spinlock.
 */
void tm_msg_put(struct tm_msg *m)
{
	if (!refcount_dec_and_test(&m->ref))
		return;
	put_pid(m->pid);
	if (m->reason)
		tm_reason_put(m->reason);
	kvfree(m);
}

/**
 * tm_free_list() - drop the queue's reference of every message on @list
 * @list: messages taken off a queue by tm_flush_locked()
 */
void tm_free_list(struct list_head *list)
{
	struct tm_msg *m, *tmp;

	list_for_each_entry_safe(m, tmp, list, node) {
		list_del(&m->node);
		tm_msg_put(m);
	}
}

/**
 * tm_enqueue_locked() - queue a message or signal and tell whoever waits
 * @a: the receiving actor, locked and ALIVE
 * @m: the message, whose reference passes to the queue
 * @signal: put it on the signal queue, ahead of every message
 */
void tm_enqueue_locked(struct tm_actor *a, struct tm_msg *m, bool signal)
{
	lockdep_assert_held(&a->lock);
	if (signal) {
		m->seq = 0;
		list_add_tail(&m->node, &a->sigq);
		a->nsig++;
	} else {
		m->seq = a->next_seq++;
		list_add_tail(&m->node, &a->mbox);
		a->qlen++;
		if (a->mark_tag && !a->mark_pos)
			a->mark_pos = m;
	}
	m->queued = true;
	a->events++;
	tm_port_mark_ready(a->port, a);
	wake_up(&a->recv_wq);
}

/* Take @m off its queue; the caller drops the queue's reference. */
static void tm_unqueue_locked(struct tm_actor *a, struct tm_msg *m)
{
	lockdep_assert_held(&a->lock);
	if (m->seq) {
		if (a->mark_pos == m)
			a->mark_pos = list_is_last(&m->node, &a->mbox) ?
				NULL : list_next_entry(m, node);
		if (a->hint == m)
			a->hint = list_is_first(&m->node, &a->mbox) ?
				NULL : list_prev_entry(m, node);
		a->qlen--;
	} else {
		a->nsig--;
	}
	list_del_init(&m->node);
	m->queued = false;
	tm_quota_uncharge_locked(a, m);
}

/**
 * tm_flush_locked() - take every message and signal off @a's queues
 * @a: the actor, locked, no longer ALIVE
 * @out: receives the messages, to be freed with tm_free_list() unlocked
 */
void tm_flush_locked(struct tm_actor *a, struct list_head *out)
{
	struct tm_msg *m, *tmp;

	list_for_each_entry_safe(m, tmp, &a->mbox, node) {
		tm_unqueue_locked(a, m);
		list_add_tail(&m->node, out);
	}
	list_for_each_entry_safe(m, tmp, &a->sigq, node) {
		tm_unqueue_locked(a, m);
		list_add_tail(&m->node, out);
	}
}

/**
 * tm_unqueue_down_locked() - take a queued DOWN message of monitor @ref
 * @a: the watcher, locked
 * @ref: the monitor reference
 *
 * Return: the message, whose queue reference the caller drops, or NULL.
 */
struct tm_msg *tm_unqueue_down_locked(struct tm_actor *a, u64 ref)
{
	struct tm_msg *m;

	list_for_each_entry(m, &a->mbox, node) {
		if (m->kind == TERMITE_KIND_DOWN && m->tag == ref) {
			tm_unqueue_locked(a, m);
			return m;
		}
	}
	return NULL;
}

/*
 * Sleep until @cond, a signal, or @deadline (KTIME_MAX: none).
 * Evaluates to 0, -EINTR or -ETIMEDOUT.
 */
#define tm_wait_event(wq, cond, deadline)				\
({									\
	long __ret;							\
	if ((deadline) == KTIME_MAX) {					\
		__ret = wait_event_interruptible(wq, cond);		\
	} else {							\
		ktime_t __left = ktime_sub(deadline, ktime_get());	\
		__ret = __left <= 0 ? -ETIME :				\
			wait_event_interruptible_hrtimeout(wq, cond, __left); \
	}								\
	__ret == -ERESTARTSYS ? -EINTR :				\
		__ret == -ETIME ? -ETIMEDOUT : (int)__ret;		\
})

ktime_t tm_deadline(s64 timeout_ns)
{
	if (timeout_ns < 0)
		return KTIME_MAX;
	return ktime_add_safe(ktime_get(), ns_to_ktime(timeout_ns));
}

/* Queue one message described by @s (already copied in). */
static int tm_send_one(struct tm_port *port, const struct termite_send *sp,
		       struct tm_call *c)
{
	struct termite_send s = *sp;
	struct tm_actor *from, *to;
	struct tm_port *tport;
	struct tm_msg *m;
	ktime_t deadline;
	u32 seen;
	int err;

	if ((s.flags & ~TERMITE_SEND_FLAGS) || s.reserved0 ||
	    !tm_zero(s.reserved, sizeof(s.reserved)))
		return -EINVAL;
	if (s.kind >= TERMITE_KIND_KERNEL || !s.to)
		return -EINVAL;
	if (s.len > READ_ONCE(tm_max_msg_size))
		return -EMSGSIZE;
	deadline = tm_deadline(s.timeout_ns);

	from = tm_own_actor(port, s.from);
	if (IS_ERR(from))
		return PTR_ERR(from);
	err = -EOWNERDEAD;
	if (READ_ONCE(from->state) != TM_ALIVE)
		goto out_from;

	err = -ENOMEM;
	m = tm_msg_alloc(s.len, GFP_KERNEL_ACCOUNT);
	if (!m)
		goto out_from;
	err = -EFAULT;
	if (copy_from_user(m->data, u64_to_user_ptr(s.buf), s.len))
		goto out_msg;
	m->from = from->id;
	m->tag = s.tag;
	m->kind = s.kind;
	m->pid = get_pid(task_tgid(current));
	m->uid = current_uid();

	err = -ESRCH;
	to = tm_actor_lookup(port->uni, s.to);
	if (!to)
		goto out_msg;

	for (;;) {
		tport = to->port;
		spin_lock(&to->lock);
		if (to->state != TM_ALIVE) {
			spin_unlock(&to->lock);
			err = -ESRCH;
			break;
		}
		/* Sampled before the checks: a later dequeue changes it. */
		seen = READ_ONCE(tport->space_events);
		if (to->qlen >= READ_ONCE(tm_max_queue_len))
			err = -EAGAIN;
		else
			err = tm_quota_charge_locked(to, m);
		if (!err) {
			tm_enqueue_locked(to, m, false);
			spin_unlock(&to->lock);
			m = NULL;
			break;
		}
		if (!(s.flags & TERMITE_SEND_BLOCK) || !s.timeout_ns) {
			spin_unlock(&to->lock);
			break;
		}
		if (c->nowait) {
			/* io_uring: retried from a worker that may sleep. */
			spin_unlock(&to->lock);
			c->punt = true;
			err = -EAGAIN;
			break;
		}
		/* ALIVE under its lock: the port is there; pin it to sleep. */
		refcount_inc(&tport->ref);
		spin_unlock(&to->lock);
		err = tm_wait_event(tport->space_wq,
				    READ_ONCE(tport->space_events) != seen ||
				    READ_ONCE(to->state) != TM_ALIVE,
				    deadline);
		tm_port_put(tport);
		if (err)
			break;
	}
	tm_actor_put(to);
out_msg:
	if (m)
		tm_msg_put(m);
out_from:
	tm_actor_put(from);
	return err;
}

int tm_ioc_send(struct tm_port *port, struct tm_call *c)
{
	return tm_send_one(port, c->arg, c);
}

/**
 * tm_ioc_send_batch() - %TERMITE_IOC_SEND_BATCH: many sends in one call
 * @port: the caller's port
 * @c: the &struct termite_batch
 *
 * Each entry is sent as by %TERMITE_IOC_SEND, in array order, so per-pair
 * FIFO holds across the batch.  Stops at the first entry that fails, or
 * when a signal is pending.
 *
 * Return: the number of messages queued if any, else the first entry's
 * error.  Through io_uring: the number queued if all were, else the error
 * of the entry that stopped it; the number queued goes to big_cqe[0].
 */
int tm_ioc_send_batch(struct tm_port *port, struct tm_call *c)
{
	const struct termite_batch b = *(struct termite_batch *)c->arg;
	struct termite_send __user *sends;
	struct termite_send s;
	u32 i;
	int err = 0;

	if (b.flags || !tm_zero(b.reserved, sizeof(b.reserved)))
		return -EINVAL;
	if (!b.count || b.count > TERMITE_BATCH_MAX)
		return -EINVAL;
	sends = u64_to_user_ptr(b.sends);
	for (i = 0; i < b.count; i++) {
		/* Not signal_pending(): io_uring's task work sets that too. */
		if (i && !c->uring && task_sigpending(current))
			break;
		if (copy_from_user(&s, &sends[i], sizeof(s))) {
			err = -EFAULT;
			break;
		}
		err = tm_send_one(port, &s, c);
		if (err)
			break;
		cond_resched();
	}
	/* A worker may redo the whole batch, never only its tail. */
	if (c->punt && i)
		c->punt = false;
	c->out = i;
	if (c->uring)
		return i == b.count ? i : err;
	return i ? i : err;
}

static bool tm_match(const struct tm_msg *m, const struct termite_recv *r)
{
	unsigned int i, off;

	if ((r->flags & TERMITE_MATCH_FROM) && m->from != r->from)
		return false;
	if ((r->flags & TERMITE_MATCH_TAG) && m->tag != r->tag)
		return false;
	if ((r->flags & TERMITE_MATCH_KIND) && m->kind != r->kind)
		return false;
	if (r->flags & TERMITE_MATCH_DATA) {
		for (i = 0; i < sizeof(r->data); i++) {
			if (!r->mask[i])
				continue;
			off = r->data_off + i;
			if (off >= m->len)
				return false;
			if ((m->data[off] ^ r->data[i]) & r->mask[i])
				return false;
		}
	}
	return true;
}

/* First queued message with seq >= @min, walking from the nearest known spot. */
static struct tm_msg *tm_seek_locked(struct tm_actor *a, u64 min)
{
	struct tm_msg *p, *last;

	if (list_empty(&a->mbox))
		return NULL;
	p = list_first_entry(&a->mbox, struct tm_msg, node);
	last = list_last_entry(&a->mbox, struct tm_msg, node);
	if (last->seq < min)
		return NULL;
	if (p->seq >= min)
		return p;
	if (a->hint && a->hint->seq <= min && a->hint->seq > p->seq)
		p = a->hint;
	if (a->mark_pos && a->mark_pos->seq <= min && a->mark_pos->seq > p->seq)
		p = a->mark_pos;
	if (min - p->seq <= last->seq - min) {
		while (p->seq < min)
			p = list_next_entry(p, node);
		return p;
	}
	while (!list_is_first(&last->node, &a->mbox) &&
	       list_prev_entry(last, node)->seq >= min)
		last = list_prev_entry(last, node);
	return last;
}

/*
 * The message a receive should return now, NULL if none, or
 * ERR_PTR(-ENOMSG) if %TERMITE_RECV_SEQ names a message that is gone.
 * @scanned: seq of the newest message this call has already examined.
 */
static struct tm_msg *tm_find_locked(struct tm_actor *a,
				     const struct termite_recv *r, u64 *scanned)
{
	struct tm_msg *m;
	u64 min = *scanned + 1;

	if (!list_empty(&a->sigq))
		return list_first_entry(&a->sigq, struct tm_msg, node);

	if (r->flags & TERMITE_RECV_SEQ) {
		m = tm_seek_locked(a, r->cursor);
		if (!m || m->seq != r->cursor || !tm_match(m, r))
			return ERR_PTR(-ENOMSG);
		return m;
	}
	if (r->flags & TERMITE_RECV_AFTER) {
		if (r->cursor == U64_MAX)
			return NULL;	/* nothing is after the end */
		if (r->cursor >= min)
			min = r->cursor + 1;
	}
	if ((r->flags & TERMITE_MATCH_TAG) && a->mark_tag &&
	    r->tag == a->mark_tag && a->mark_seq > min)
		min = a->mark_seq;

	for (m = tm_seek_locked(a, min); m;
	     m = list_is_last(&m->node, &a->mbox) ? NULL :
		 list_next_entry(m, node)) {
		if (tm_match(m, r))
			return m;
	}
	if (!list_empty(&a->mbox))
		*scanned = max(*scanned,
			       list_last_entry(&a->mbox, struct tm_msg, node)->seq);
	return NULL;
}

static void tm_fill_hdr(struct termite_msghdr *h, const struct tm_msg *m)
{
	h->from = m->from;
	h->tag = m->tag;
	h->seq = m->seq;
	h->kind = m->kind;
	h->code = m->code;
	h->len = m->len;
	h->flags = m->flags;
	h->pid = m->pid ? pid_nr_ns(m->pid, task_active_pid_ns(current)) : 0;
	h->uid = from_kuid_munged(current_user_ns(), m->uid);
}

/* The header of @a's death notice, which carries @why, as tm_fill_hdr(). */
static void tm_fill_notice_hdr(struct termite_msghdr *h,
			       const struct tm_actor *a,
			       const struct tm_reason *why)
{
	h->from = a->id;
	h->tag = 0;
	h->seq = 0;
	h->kind = TERMITE_KIND_EXIT;
	h->code = why->code;
	h->len = why->len;
	h->flags = TERMITE_MSG_DEAD;
	/* Made by the kernel, like exit signals: no pid, uid 0. */
	h->pid = 0;
	h->uid = from_kuid_munged(current_user_ns(), GLOBAL_ROOT_UID);
}

/*
 * Copy the message of header @h and payload @data to the user, then take
 * it: @m (pinned by the caller) off its queue unless peeking, or, for a
 * death notice (@m NULL), the notice, and reap the zombie.  Returns the
 * payload length, a negative error, or -EAGAIN if another receiver took
 * it first.
 */
static int tm_copy_out(struct tm_actor *a, struct tm_msg *m,
		       const struct termite_recv *r,
		       const struct termite_msghdr *h, const u8 *data)
{
	void __user *buf = u64_to_user_ptr(r->buf);
	bool take = !(r->flags & TERMITE_RECV_PEEK) || !h->seq;

	if (copy_to_user(buf, h, sizeof(*h)))
		return -EFAULT;
	if (h->len > r->buf_len - sizeof(*h))
		return -EMSGSIZE;
	if (copy_to_user(buf + sizeof(*h), data, h->len))
		return -EFAULT;
	if (!take)
		return h->len;

	spin_lock(&a->lock);
	if (m ? !m->queued : !a->notice) {
		spin_unlock(&a->lock);
		return -EAGAIN;
	}
	if (m)
		tm_unqueue_locked(a, m);
	else
		a->notice = false;
	spin_unlock(&a->lock);
	if (m)
		tm_msg_put(m);		/* the queue's reference */
	else
		tm_reap_zombie(a);
	return h->len;
}

/**
 * tm_recv_actor() - check a receive request and find its actor
 * @port: the caller's port, which must own the actor
 * @r: the request, in kernel memory
 *
 * Return: the actor, referenced, or an ERR_PTR(): -EINVAL for a bad
 * request, else what tm_own_actor() says.
 */
struct tm_actor *tm_recv_actor(struct tm_port *port,
			       const struct termite_recv *r)
{
	if ((r->flags & ~TERMITE_RECV_FLAGS) || r->reserved0)
		return ERR_PTR(-EINVAL);
	if ((r->flags & TERMITE_RECV_AFTER) && (r->flags & TERMITE_RECV_SEQ))
		return ERR_PTR(-EINVAL);
	if (r->buf_len < sizeof(struct termite_msghdr))
		return ERR_PTR(-EINVAL);
	return tm_own_actor(port, r->actor);
}

/**
 * tm_recv_try() - receive without waiting
 * @a: the receiving actor, referenced
 * @r: the checked request; its buffer is in the current task's memory
 * @scanned: mailbox positions already examined by this receive (in/out,
 *	start with 0)
 * @seen: set to @a->events as sampled before the search, so a caller that
 *	goes to wait can tell whether anything changed since
 *
 * Return: the payload length, -EAGAIN if nothing matches yet, or another
 * negative error (-ENOENT once the actor is gone).
 */
int tm_recv_try(struct tm_actor *a, const struct termite_recv *r,
		u64 *scanned, u32 *seen)
{
	struct termite_msghdr h;
	struct tm_reason *why;
	struct tm_msg *m;
	int ret;

	for (;;) {
		*seen = READ_ONCE(a->events);
		spin_lock(&a->lock);
		if (a->state == TM_GONE) {
			spin_unlock(&a->lock);
			return -ENOENT;
		}
		if (a->notice) {
			/*
			 * A zombie: its death notice comes before anything
			 * (and nothing else is queued), as if it sat on the
			 * signal queue.
			 */
			why = tm_reason_get(a->death_reason);
			tm_fill_notice_hdr(&h, a, why);
			spin_unlock(&a->lock);
			ret = tm_copy_out(a, NULL, r, &h, why->data);
			tm_reason_put(why);
		} else {
			m = tm_find_locked(a, r, scanned);
			if (IS_ERR_OR_NULL(m)) {
				spin_unlock(&a->lock);
				return m ? PTR_ERR(m) : -EAGAIN;
			}
			refcount_inc(&m->ref);
			tm_fill_hdr(&h, m);
			if (r->flags & TERMITE_RECV_PEEK && m->seq)
				a->hint = m;
			spin_unlock(&a->lock);
			ret = tm_copy_out(a, m, r, &h, m->data);
			tm_msg_put(m);
		}
		if (ret != -EAGAIN)
			return ret;
		/* Another receiver took it first: search again. */
		*scanned = 0;
	}
}

int tm_ioc_recv(struct tm_port *port, struct tm_call *c)
{
	const struct termite_recv *r = c->arg;
	struct tm_actor *a;
	ktime_t deadline;
	u64 scanned = 0;
	u32 seen;
	int ret;

	a = tm_recv_actor(port, r);
	if (IS_ERR(a))
		return PTR_ERR(a);
	deadline = tm_deadline(r->timeout_ns);
	for (;;) {
		ret = tm_recv_try(a, r, &scanned, &seen);
		if (ret != -EAGAIN || !r->timeout_ns)
			break;
		ret = tm_wait_event(a->recv_wq, READ_ONCE(a->events) != seen,
				    deadline);
		if (ret)
			break;
	}
	tm_actor_put(a);
	return ret;
}
