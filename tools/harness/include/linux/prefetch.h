/* SPDX-License-Identifier: GPL-2.0 */
/* <linux/prefetch.h> for the core in userspace: see linux/types.h here. */
#ifndef _TR_SHIM_LINUX_PREFETCH_H
#define _TR_SHIM_LINUX_PREFETCH_H
#include <linux/types.h>
#endif
