// SPDX-License-Identifier: GPL-2.0
/* Parked commands can be marked cancelable; cancel arrives as IO_URING_F_CANCEL (6.7+). */
#include "probe.h"

int tm_probe(struct io_uring_cmd *cmd, unsigned int issue_flags);
int tm_probe(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	io_uring_cmd_mark_cancelable(cmd, issue_flags);
	return IO_URING_F_CANCEL;
}
