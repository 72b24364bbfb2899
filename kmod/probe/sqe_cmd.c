// SPDX-License-Identifier: GPL-2.0
/* The command area is reached through io_uring_sqe_cmd(cmd->sqe) (6.6+). */
#include "probe.h"

const void *tm_probe(struct io_uring_cmd *cmd);
const void *tm_probe(struct io_uring_cmd *cmd)
{
	return io_uring_sqe_cmd(cmd->sqe);
}
