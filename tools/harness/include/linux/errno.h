/* SPDX-License-Identifier: GPL-2.0 */
/* <linux/errno.h>: the system one, and the core's helpers (linux/types.h). */
#ifndef _TR_SHIM_LINUX_ERRNO_H
#define _TR_SHIM_LINUX_ERRNO_H
#include_next <linux/errno.h>
#include <linux/types.h>
#endif
