/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The environment of the pure core (wheel.c, table.c, cq.c, batch*.c).
 *
 * The core takes no locks, never sleeps and allocates nothing itself, so it
 * compiles both in the kernel and in the userspace harness (tools/harness),
 * which provides tr_user_env.h with the few kernel helpers used here.
 */
#ifndef _TIMERRING_TR_ENV_H
#define _TIMERRING_TR_ENV_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/bitops.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/string.h>
#include <linux/prefetch.h>
#include <asm/barrier.h>
#else
#include "tr_user_env.h"
#endif

/*
 * The FPU, for the drain's batch kernels (wheel.c): whether it may be used
 * here, and holding it around a step. In userspace it always may.
 */
#if defined(__KERNEL__) && defined(CONFIG_X86_64)
#include <asm/fpu/api.h>
#define tr_fpu_usable()		irq_fpu_usable()
#define tr_fpu_begin()		kernel_fpu_begin()
#define tr_fpu_end()		kernel_fpu_end()
#elif defined(__KERNEL__)
#define tr_fpu_usable()		false
#define tr_fpu_begin()		do { } while (0)
#define tr_fpu_end()		do { } while (0)
#endif

#if defined(__KERNEL__) && !defined(TR_NO_TRACE)
#include <linux/tracepoint-defs.h>

struct tr_core;
struct tr_entry;

/* Trace hooks of the core, in trace.c. */
DECLARE_TRACEPOINT(timerring_expire);
DECLARE_TRACEPOINT(timerring_cascade);
void tr_hook_expire(const struct tr_core *c, u32 id,
		    const struct tr_entry *e, u64 late_ns);
void tr_hook_cascade(const struct tr_core *c, unsigned int lvl,
		     unsigned int slot);

#define tr_trace_expire(c, id, e, late)					\
	do {								\
		if (tracepoint_enabled(timerring_expire))		\
			tr_hook_expire(c, id, e, late);			\
	} while (0)
#define tr_trace_cascade(c, lvl, slot)					\
	do {								\
		if (tracepoint_enabled(timerring_cascade))		\
			tr_hook_cascade(c, lvl, slot);			\
	} while (0)
#elif defined(__KERNEL__)
struct tr_core;
struct tr_entry;

static inline void tr_trace_expire(const struct tr_core *c, u32 id,
				   const struct tr_entry *e, u64 late_ns)
{
}

static inline void tr_trace_cascade(const struct tr_core *c,
				    unsigned int lvl, unsigned int slot)
{
}
#endif

#endif /* _TIMERRING_TR_ENV_H */
