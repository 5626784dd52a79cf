/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels timerring builds against (Debian's
 * 6.1 and 6.12, and the test kernel) lives here.
 */
#ifndef _TIMERRING_COMPAT_H
#define _TIMERRING_COMPAT_H

/*
 * The TR_HAVE_* macros come from feature probes of the target kernel's
 * headers in Kbuild, so that distribution kernels with backports are
 * handled by what they have rather than by their version number.
 */
#include <linux/eventfd.h>
#include <linux/hrtimer.h>
#include <linux/mm.h>

/* 6.8 dropped the count argument of eventfd_signal(). */
static inline void tr_eventfd_signal(struct eventfd_ctx *ctx)
{
#ifdef TR_HAVE_EVENTFD_SIGNAL_NOCOUNT
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/* 6.3 made vma->vm_flags read-only behind vm_flags_set(). */
static inline void tr_vm_flags_set(struct vm_area_struct *vma,
				   vm_flags_t flags)
{
#ifdef TR_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static inline void tr_vm_flags_clear(struct vm_area_struct *vma,
				     vm_flags_t flags)
{
#ifdef TR_HAVE_VM_FLAGS_SET
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

/* 6.13 replaced hrtimer_init() + ->function by hrtimer_setup(). */
static inline void tr_hrtimer_setup(struct hrtimer *t,
				    enum hrtimer_restart (*fn)(struct hrtimer *),
				    clockid_t clock, enum hrtimer_mode mode)
{
#ifdef TR_HAVE_HRTIMER_SETUP
	hrtimer_setup(t, fn, clock, mode);
#else
	hrtimer_init(t, clock, mode);
	t->function = fn;
#endif
}

#endif /* _TIMERRING_COMPAT_H */
