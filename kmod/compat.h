/* SPDX-License-Identifier: GPL-2.0 */
/*
 * termite: the one place that knows which kernel it is built against.
 */

/**
 * DOC: Kernel compatibility
 *
 * The io_uring command interface changed several times (5.19 introduced
 * it; 6.3 added issue_flags to completions and task work, and stable 6.1
 * kernels took that backport; 6.6 reached the command area through the
 * SQE; 6.7 added cancelable commands).  scripts/kmod-probe.sh compiles a
 * small probe per feature against the target kernel and writes
 * compat-probed.h; this header turns its answers into a few helpers so the
 * rest of the module has no #if on versions.
 *
 * TM_URING is defined when the module serves io_uring commands at all.
 * TM_URING_MONITOR is defined when parked commands cannot be marked
 * cancelable, so the module must notice a dying submitter or ring itself.
 */
#ifndef _TERMITE_COMPAT_H
#define _TERMITE_COMPAT_H

/* Missing?  Build with 'make module', which runs scripts/kmod-probe.sh. */
#include "compat-probed.h"

#if IS_ENABLED(CONFIG_IO_URING) && defined(TM_HAVE_URING_CMD)
#define TM_URING 1

#ifdef TM_HAVE_CMD_H
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif

#if !defined(TM_HAVE_CMD_DONE_FLAGS) || !defined(TM_HAVE_TW_FLAGS)
/* Linux 6.3, or a stable kernel with its backport. */
#error "termite needs io_uring_cmd_done() and task work taking issue_flags"
#endif

/* The command's argument area, inside the SQE (or io_uring's copy of it). */
static inline const void *tm_uring_cmd_area(const struct io_uring_cmd *cmd)
{
#ifdef TM_HAVE_SQE_CMD
	return io_uring_sqe_cmd(cmd->sqe);
#else
	return cmd->cmd;
#endif
}

#ifdef TM_HAVE_CANCELABLE
#define TM_URING_CANCEL_FLAG	IO_URING_F_CANCEL
static inline void tm_uring_mark_cancelable(struct io_uring_cmd *cmd,
					    unsigned int issue_flags)
{
	io_uring_cmd_mark_cancelable(cmd, issue_flags);
}
#else
#define TM_URING_CANCEL_FLAG	0
static inline void tm_uring_mark_cancelable(struct io_uring_cmd *cmd,
					    unsigned int issue_flags)
{
}

#ifndef TM_HAVE_KIOCB_TASK
#error "no cancelable io_uring commands and no way to watch their submitter"
#endif
#include <linux/io_uring_types.h>
#include <linux/percpu-refcount.h>
#include <linux/sched/signal.h>
#define TM_URING_MONITOR 1

/*
 * Without cancelable commands nothing tells a driver that the ring or the
 * task behind a parked command is going away (and both wait for it).
 * Report whether either is: the submitter exiting, exec'ing (itself, or
 * another thread of its process, which kills an SQPOLL thread), or killed,
 * or the ring being torn down.
 */
static inline bool tm_uring_cmd_orphaned(struct io_uring_cmd *cmd)
{
	struct io_kiocb *req = cmd_to_io_kiocb(cmd);
	struct task_struct *t = req->task;

	return (t->flags & PF_EXITING) || t->in_execve ||
	       (READ_ONCE(t->signal->flags) & SIGNAL_GROUP_EXIT) ||
	       READ_ONCE(t->signal->group_exec_task) ||
	       fatal_signal_pending(t) ||
	       percpu_ref_is_dying(&req->ctx->refs);
}
#endif /* TM_HAVE_CANCELABLE */

#endif /* CONFIG_IO_URING && TM_HAVE_URING_CMD */

#endif /* _TERMITE_COMPAT_H */
