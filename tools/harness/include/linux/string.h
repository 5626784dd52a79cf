/* SPDX-License-Identifier: GPL-2.0 */
/* <linux/string.h> for the core in userspace: see linux/types.h here. */
#ifndef _TR_SHIM_LINUX_STRING_H
#define _TR_SHIM_LINUX_STRING_H
#include <linux/types.h>
#endif
