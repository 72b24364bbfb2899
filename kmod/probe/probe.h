/* SPDX-License-Identifier: GPL-2.0 */
/* Common includes of the compile probes; see scripts/kmod-probe.sh. */
#include <linux/module.h>
#include <linux/fs.h>
#if __has_include(<linux/io_uring/cmd.h>)
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif
