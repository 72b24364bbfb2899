// SPDX-License-Identifier: GPL-2.0
/*
 * termite: the io_uring command interface.
 */

/**
 * DOC: io_uring commands
 *
 * file_operations.uring_cmd serves every operation of the ioctl interface:
 * cmd_op is the ioctl number and the SQE's 80-byte command area (rings set
 * up with IORING_SETUP_SQE128) holds the same struct.  The struct is copied
 * out of the SQE once and the same handler runs as for the ioctl
 * (&struct tm_call).  The CQE's res is what the ioctl would return;
 * operations that write results back through their ioctl struct report
 * their one 64-bit result in big_cqe[0] instead, so they need
 * IORING_SETUP_CQE32.  So does SEND_BATCH: its res is the number sent if
 * all were, else the error of the entry that stopped it, and big_cqe[0]
 * the number sent, so a ring can chain batches with IOSQE_IO_LINK and
 * know exactly where to resume.
 *
 * Everything but a receive completes during the issue.  A send that would
 * wait for room (%TERMITE_SEND_BLOCK) answers -EAGAIN to the inline issue
 * and io_uring retries it from a worker that may sleep.
 *
 * A receive that finds nothing *parks* (&struct tm_urecv): a custom wait
 * queue entry on the actor's recv_wq and an hrtimer for its timeout.
 * Whoever first moves it out of PARKED (a message, signal or death waking
 * the actor, the timer, or a cancel) hands it to io_uring's task work, so
 * the receive itself, copying into the submitter's buffer, runs in the
 * submitter's context exactly as an ioctl receive would.  Nothing is
 * dequeued in atomic context and a fault loses no message.  If nothing
 * matches after all (the wake was for another message), it parks again.
 *
 * Parked commands pin the port's file and their ring, and neither goes
 * away until they complete, so the module completes them with -ECANCELED
 * when
 *
 * - the port is closed by the process that submitted them (flush),
 * - io_uring cancels them (IO_URING_F_CANCEL, kernels with cancelable
 *   commands), or, on kernels without,
 * - a monitor finds the submitter exiting, exec'ing or killed, or the ring
 *   being torn down.  It runs every %TM_MONITOR_PERIOD only while
 *   commands are parked: on such kernels nothing else reports these events
 *   to a driver (ublk watches its daemon the same way).
 *
 * Task work that io_uring runs from its fallback worker (the submitter is
 * gone) completes with -ECANCELED without touching user memory.
 */
#include <linux/slab.h>
#include <linux/hrtimer.h>
#include <linux/fdtable.h>
#include <linux/sched/mm.h>
#include <linux/workqueue.h>
#include "internal.h"

#ifdef TM_URING

/* How often the monitor looks for orphaned commands. */
#define TM_MONITOR_PERIOD	(HZ / 2)

enum tm_urecv_state {
	TM_UR_IDLE,		/* being worked on by its submitter's task */
	TM_UR_PARKED,		/* waiting; on the actor's recv_wq */
	TM_UR_WOKEN,		/* handed to task work */
};

/**
 * struct tm_urecv - a receive submitted through io_uring
 * @cmd: the command; completed exactly once, by tm_urecv_finish()
 * @port: the port (referenced)
 * @actor: the receiving actor (referenced)
 * @r: the request, copied from the SQE
 * @deadline: when to give up (KTIME_MAX: never)
 * @scanned: mailbox positions already examined, as in an ioctl receive
 * @state: &enum tm_urecv_state; leaving PARKED takes a cmpxchg, and its
 *	winner alone schedules the task work
 * @cancel: nonzero: complete with this error instead of receiving
 * @wait: on @actor->recv_wq while PARKED
 * @timer: fires at @deadline
 * @node: on tm_parked; protected by tm_parked_lock
 * @owner: the submitter's files, compared with a closer's (never followed)
 * @mm: the submitter's address space, compared with current's so that
 *	io_uring's fallback worker never copies (never followed)
 */
struct tm_urecv {
	struct io_uring_cmd *cmd;
	struct tm_port *port;
	struct tm_actor *actor;
	struct termite_recv r;
	ktime_t deadline;
	u64 scanned;
	int state;
	int cancel;
	struct wait_queue_entry wait;
	struct hrtimer timer;
	struct list_head node;
	fl_owner_t owner;
	struct mm_struct *mm;
};

/*
 * Every parked receive, for close, cancel and the monitor.  A leaf lock:
 * taken in process context with nothing else held, and it nests the wait
 * queue lock of an actor's recv_wq when cancelling.
 */
static DEFINE_SPINLOCK(tm_parked_lock);
static LIST_HEAD(tm_parked);

static inline struct tm_urecv *tm_urecv_of(struct io_uring_cmd *cmd)
{
	return *(struct tm_urecv **)cmd->pdu;
}

static void tm_urecv_tw(struct io_uring_cmd *cmd, unsigned int issue_flags);

/*
 * Move @u out of PARKED; the winner schedules the task work.  @self_wake:
 * called from @u's own wake function, under the wait queue's lock.
 */
static bool tm_urecv_fire(struct tm_urecv *u, bool self_wake)
{
	if (cmpxchg(&u->state, TM_UR_PARKED, TM_UR_WOKEN) != TM_UR_PARKED)
		return false;
	if (self_wake)
		list_del_init(&u->wait.entry);
	else
		remove_wait_queue(&u->actor->recv_wq, &u->wait);
	io_uring_cmd_complete_in_task(u->cmd, tm_urecv_tw);
	return true;
}

static int tm_urecv_wake(struct wait_queue_entry *wait, unsigned int mode,
			 int sync, void *key)
{
	struct tm_urecv *u = container_of(wait, struct tm_urecv, wait);

	return tm_urecv_fire(u, true);
}

static enum hrtimer_restart tm_urecv_timer(struct hrtimer *t)
{
	struct tm_urecv *u = container_of(t, struct tm_urecv, timer);

	tm_urecv_fire(u, false);
	return HRTIMER_NORESTART;
}

/* Ask @u to complete with @err; safe in any state, once or many times. */
static void tm_urecv_cancel(struct tm_urecv *u, int err)
{
	cmpxchg(&u->cancel, 0, err);
	smp_mb();	/* cancel before state; pairs with tm_urecv_park() */
	tm_urecv_fire(u, false);
}

/*
 * Wait for news: @seen is the actor's event count the last search saw.
 * Called in the submitter's context with @u IDLE and not on the queue.
 */
static void tm_urecv_park(struct tm_urecv *u, u32 seen)
{
	struct tm_actor *a = u->actor;

	WRITE_ONCE(u->state, TM_UR_PARKED);
	add_wait_queue(&a->recv_wq, &u->wait);
	if (u->deadline != KTIME_MAX)
		hrtimer_start(&u->timer, u->deadline, HRTIMER_MODE_ABS_SOFT);
	smp_mb();	/* state before cancel; pairs with tm_urecv_cancel() */
	/* Anything that came or went since the search wakes it at once. */
	if (READ_ONCE(a->events) != seen || READ_ONCE(u->cancel))
		tm_urecv_fire(u, false);
}

static void tm_urecv_finish(struct tm_urecv *u, int ret,
			    unsigned int issue_flags)
{
	struct io_uring_cmd *cmd = u->cmd;

	spin_lock(&tm_parked_lock);
	list_del(&u->node);
	u->port->nparked--;
	spin_unlock(&tm_parked_lock);
	tm_actor_put(u->actor);
	tm_port_put(u->port);
	kfree(u);
	io_uring_cmd_done(cmd, ret, 0, issue_flags);
}

/* Task work: the receive proper, in the submitter's context. */
static void tm_urecv_tw(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct tm_urecv *u = tm_urecv_of(cmd);
	u32 seen;
	int ret;

	hrtimer_cancel(&u->timer);
	WRITE_ONCE(u->state, TM_UR_IDLE);
	ret = READ_ONCE(u->cancel);
	/* io_uring's fallback worker, after the submitter died. */
	if (!ret && current->mm != u->mm)
		ret = -ECANCELED;
	if (ret)
		goto out;
	ret = tm_recv_try(u->actor, &u->r, &u->scanned, &seen);
	if (ret != -EAGAIN)
		goto out;
	if (ktime_compare(ktime_get(), u->deadline) >= 0) {
		ret = -ETIMEDOUT;
		goto out;
	}
	tm_urecv_park(u, seen);
	return;
out:
	tm_urecv_finish(u, ret, issue_flags);
}

#ifdef TM_URING_MONITOR
static void tm_monitor_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(tm_monitor, tm_monitor_fn);

static void tm_monitor_fn(struct work_struct *work)
{
	struct tm_urecv *u;
	bool again;

	spin_lock(&tm_parked_lock);
	list_for_each_entry(u, &tm_parked, node) {
		if (tm_uring_cmd_orphaned(u->cmd))
			tm_urecv_cancel(u, -ECANCELED);
	}
	again = !list_empty(&tm_parked);
	spin_unlock(&tm_parked_lock);
	if (again)
		schedule_delayed_work(&tm_monitor, TM_MONITOR_PERIOD);
}

static void tm_monitor_kick(void)
{
	if (!delayed_work_pending(&tm_monitor))
		schedule_delayed_work(&tm_monitor, TM_MONITOR_PERIOD);
}
#else
static void tm_monitor_kick(void)
{
}
#endif

static int tm_urecv_start(struct io_uring_cmd *cmd, struct tm_port *port,
			  const struct termite_recv *r,
			  unsigned int issue_flags)
{
	struct tm_urecv *u;
	struct tm_actor *a;
	u64 scanned = 0;
	u32 seen;
	int ret;

	a = tm_recv_actor(port, r);
	if (IS_ERR(a))
		return PTR_ERR(a);
	ret = tm_recv_try(a, r, &scanned, &seen);
	if (ret != -EAGAIN || !r->timeout_ns)
		goto out_a;

	ret = -ENOMEM;
	u = kzalloc(sizeof(*u), GFP_KERNEL_ACCOUNT);
	if (!u)
		goto out_a;
	u->cmd = cmd;
	u->port = port;
	u->actor = a;
	u->r = *r;
	u->deadline = tm_deadline(r->timeout_ns);
	u->scanned = scanned;
	u->owner = current->files;
	u->mm = current->mm;
	init_waitqueue_func_entry(&u->wait, tm_urecv_wake);
	hrtimer_init(&u->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_SOFT);
	u->timer.function = tm_urecv_timer;

	/* Bounded like actors: a port parks at most max_actors receives. */
	spin_lock(&tm_parked_lock);
	if (port->nparked >= READ_ONCE(tm_max_actors)) {
		spin_unlock(&tm_parked_lock);
		kfree(u);
		ret = -ENOSPC;
		goto out_a;
	}
	port->nparked++;
	list_add_tail(&u->node, &tm_parked);
	spin_unlock(&tm_parked_lock);
	refcount_inc(&port->ref);

	*(struct tm_urecv **)cmd->pdu = u;
	tm_uring_mark_cancelable(cmd, issue_flags);
	tm_monitor_kick();
	if (issue_flags & IO_URING_F_IOWQ) {
		/*
		 * An io-wq worker: its wake-ups would run in the submitter
		 * while it still parks.  Let the submitter park it.
		 */
		WRITE_ONCE(u->state, TM_UR_WOKEN);
		io_uring_cmd_complete_in_task(cmd, tm_urecv_tw);
	} else {
		tm_urecv_park(u, seen);
	}
	return -EIOCBQUEUED;

out_a:
	tm_actor_put(a);
	return ret;
}

/**
 * tm_uring_cmd() - file_operations.uring_cmd of /dev/termite
 * @cmd: the command; cmd_op is a %TERMITE_IOC_* number
 * @issue_flags: IO_URING_F_*
 *
 * Return: the result for the CQE, or -EIOCBQUEUED if the command completes
 * later (a parked receive, or a result that goes to big_cqe[0]).
 */
int tm_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct tm_port *port = cmd->file->private_data;
	u64 buf[TM_SQE_CMD_MAX / sizeof(u64)] = {};
	struct tm_call c = {
		.arg = buf,
		.uring = true,
		.nowait = issue_flags & IO_URING_F_NONBLOCK,
	};
	const struct tm_op *op;
	unsigned int dir;
	bool has_out;
	int ret;

	if (TM_URING_CANCEL_FLAG && (issue_flags & TM_URING_CANCEL_FLAG)) {
		tm_urecv_cancel(tm_urecv_of(cmd), -ECANCELED);
		return 0;
	}
	op = tm_op_find(cmd->cmd_op);
	if (!op)
		return -ENOTTY;
	dir = _IOC_DIR(op->cmd);
	/* Results go to big_cqe[0]; a batch tells how many it sent there. */
	has_out = (dir & _IOC_READ) || op->cmd == TERMITE_IOC_SEND_BATCH;
	if (!(issue_flags & IO_URING_F_SQE128))
		return -EINVAL;
	if (has_out && !(issue_flags & IO_URING_F_CQE32))
		return -EINVAL;
	/* The SQE is shared with user space: read it once. */
	if (dir & _IOC_WRITE)
		memcpy(buf, tm_uring_cmd_area(cmd), _IOC_SIZE(op->cmd));

	if (op->cmd == TERMITE_IOC_RECV) {
		ret = tm_urecv_start(cmd, port, c.arg, issue_flags);
	} else {
		ret = op->fn(port, &c);
		if (ret == -EAGAIN && c.punt)
			return -EAGAIN;	/* io_uring retries from a worker */
	}
	if (ret == -EIOCBQUEUED || (ret < 0 && ret != -EAGAIN && !has_out))
		return ret;
	/*
	 * Post everything else here: io_uring takes a positive return for
	 * a failure (and from io-wq drops it), -EAGAIN for a retry, and
	 * results for big_cqe[0] have no other way.
	 */
	io_uring_cmd_done(cmd, ret, c.out, issue_flags);
	return -EIOCBQUEUED;
}

/* Does @files hold @file at some descriptor? */
static int tm_is_file(const void *file, struct file *f, unsigned int fd)
{
	return f == file;
}

/**
 * tm_uring_flush() - the port's file is being closed by @owner
 * @file: the port's file
 * @owner: the files table it is closed in
 *
 * Completes the receives that @owner's process parked on the port, unless
 * it still holds the port at another descriptor.
 */
void tm_uring_flush(struct file *file, fl_owner_t owner)
{
	struct tm_port *port = file->private_data;
	struct tm_urecv *u;

	if (!READ_ONCE(port->nparked))
		return;
	if (owner && iterate_fd(owner, 0, tm_is_file, file))
		return;
	spin_lock(&tm_parked_lock);
	list_for_each_entry(u, &tm_parked, node) {
		if (u->port == port && u->owner == owner)
			tm_urecv_cancel(u, -ECANCELED);
	}
	spin_unlock(&tm_parked_lock);
}

/**
 * tm_uring_port_close() - complete every receive parked on @port
 * @port: the port being released
 *
 * Parked receives pin the port's file, so none should be left; this only
 * makes sure.
 */
void tm_uring_port_close(struct tm_port *port)
{
	struct tm_urecv *u;

	spin_lock(&tm_parked_lock);
	list_for_each_entry(u, &tm_parked, node) {
		if (u->port == port)
			tm_urecv_cancel(u, -ECANCELED);
	}
	spin_unlock(&tm_parked_lock);
}

/**
 * tm_uring_features() - %TERMITE_FEAT_* bits of this interface
 *
 * Return: %TERMITE_FEAT_URING.
 */
u64 tm_uring_features(void)
{
	return TERMITE_FEAT_URING;
}

int tm_uring_init(void)
{
	return 0;
}

void tm_uring_exit(void)
{
#ifdef TM_URING_MONITOR
	cancel_delayed_work_sync(&tm_monitor);
#endif
}

#endif /* TM_URING */
