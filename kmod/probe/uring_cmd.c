// SPDX-License-Identifier: GPL-2.0
/* file_operations.uring_cmd exists (5.19+). */
#include "probe.h"

static int tm_probe_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	return 0;
}

const struct file_operations tm_probe_fops = { .uring_cmd = tm_probe_cmd };
