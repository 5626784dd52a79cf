/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The environment of the pure core (wheel.c, table.c, cq.c, pass.c,
 * batch*.c): kernel headers only. The core takes no locks, never sleeps
 * and allocates nothing itself, so the same files also build in userspace
 * against a shim of these headers placed first on the include path.
 */
#ifndef _TIMERRING_TR_ENV_H
#define _TIMERRING_TR_ENV_H

#include <linux/types.h>
#include <linux/bitops.h>
#include <linux/build_bug.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/string.h>
#include <linux/prefetch.h>
#include <asm/barrier.h>

/*
 * The FPU, for the batch kernels of the drain (wheel.c): whether it may be
 * used here, and holding it around a step.
 */
#ifdef CONFIG_X86_64
#include <asm/fpu/api.h>
#define tr_fpu_usable()		irq_fpu_usable()
#define tr_fpu_begin()		kernel_fpu_begin()
#define tr_fpu_end()		kernel_fpu_end()
#else
#define tr_fpu_usable()		false
#define tr_fpu_begin()		do { } while (0)
#define tr_fpu_end()		do { } while (0)
#endif

struct tr_core;
struct tr_entry;
struct timerring_op;

#ifndef TR_NO_TRACE
#include <linux/tracepoint-defs.h>

/* Trace hooks of the core, in trace.c. */
DECLARE_TRACEPOINT(timerring_expire);
DECLARE_TRACEPOINT(timerring_cascade);
DECLARE_TRACEPOINT(timerring_op);
void tr_hook_expire(const struct tr_core *c, u32 id,
		    const struct tr_entry *e, u64 late_ns);
void tr_hook_cascade(const struct tr_core *c, unsigned int lvl,
		     unsigned int slot);
void tr_hook_op(const struct tr_core *c, const struct timerring_op *op,
		u64 tick, s32 res);

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
#define tr_trace_op(c, op, tick, res)					\
	do {								\
		if (tracepoint_enabled(timerring_op))			\
			tr_hook_op(c, op, tick, res);			\
	} while (0)
#else
static inline void tr_trace_expire(const struct tr_core *c, u32 id,
				   const struct tr_entry *e, u64 late_ns)
{
}

static inline void tr_trace_cascade(const struct tr_core *c,
				    unsigned int lvl, unsigned int slot)
{
}

static inline void tr_trace_op(const struct tr_core *c,
			       const struct timerring_op *op, u64 tick,
			       s32 res)
{
}
#endif

#endif /* _TIMERRING_TR_ENV_H */
