/* SPDX-License-Identifier: GPL-2.0 */
/*
 * <asm/fpu/api.h> for the core in userspace: a process may always use the
 * vector registers, so there is nothing to save.
 */
#ifndef _TR_SHIM_ASM_FPU_API_H
#define _TR_SHIM_ASM_FPU_API_H
#include <linux/types.h>

static inline bool irq_fpu_usable(void)
{
	return true;
}

static inline void kernel_fpu_begin(void)
{
}

static inline void kernel_fpu_end(void)
{
}
#endif
