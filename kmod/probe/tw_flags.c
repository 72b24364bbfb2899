// SPDX-License-Identifier: GPL-2.0
/* Task-work callbacks take issue_flags (6.3, backported to 6.1.y). */
#include "probe.h"

static void tm_probe_tw(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
}

void tm_probe(struct io_uring_cmd *cmd);
void tm_probe(struct io_uring_cmd *cmd)
{
	io_uring_cmd_complete_in_task(cmd, tm_probe_tw);
}
