/* SPDX-License-Identifier: GPL-2.0 */
/* <linux/limits.h>: the system one, and the core's helpers (linux/types.h). */
#ifndef _TR_SHIM_LINUX_LIMITS_H
#define _TR_SHIM_LINUX_LIMITS_H
#include_next <linux/limits.h>
#include <linux/types.h>
#endif
