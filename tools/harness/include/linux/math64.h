/* SPDX-License-Identifier: GPL-2.0 */
/* <linux/math64.h> for the core in userspace: see linux/types.h here. */
#ifndef _TR_SHIM_LINUX_MATH64_H
#define _TR_SHIM_LINUX_MATH64_H
#include <linux/types.h>
#endif
