// SPDX-License-Identifier: GPL-2.0
/* The io_uring command API lives in its own header (6.7+). */
#include <linux/io_uring/cmd.h>
