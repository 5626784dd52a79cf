/* SPDX-License-Identifier: GPL-2.0 */
/* <asm/barrier.h> for the core in userspace: see linux/types.h here. */
#ifndef _TR_SHIM_ASM_BARRIER_H
#define _TR_SHIM_ASM_BARRIER_H
#include <linux/types.h>
#endif
