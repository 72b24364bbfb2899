// SPDX-License-Identifier: GPL-2.0
/* The request behind a command shows its task and ring (6.1 layout). */
#include "probe.h"
#include <linux/io_uring_types.h>
#include <linux/percpu-refcount.h>

struct task_struct *tm_probe(struct io_uring_cmd *cmd);
struct task_struct *tm_probe(struct io_uring_cmd *cmd)
{
	struct io_kiocb *req = cmd_to_io_kiocb(cmd);

	return percpu_ref_is_dying(&req->ctx->refs) ? NULL : req->task;
}
