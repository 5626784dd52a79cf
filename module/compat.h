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
#include <linux/uio.h>
#ifdef TR_HAVE_IO_URING_CMD_H
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif

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

/*
 * The command area of a URING_CMD's SQE (16 bytes, 80 with SQE128). 6.1
 * points io_uring_cmd.cmd at it; 6.6 replaced that by the whole SQE
 * (io_uring_cmd.sqe) and io_uring_sqe_cmd(). On the first issue it is the
 * SQE in the shared SQ ring, so it is read once (uring_cmd.c).
 */
static inline const void *tr_uring_cmd_area(const struct io_uring_cmd *ioucmd)
{
#ifdef TR_HAVE_IO_URING_SQE_CMD
	return io_uring_sqe_cmd(ioucmd->sqe);
#else
	return ioucmd->cmd;
#endif
}

/*
 * Complete a URING_CMD with @ret as the CQE's res and @res2 as its first
 * extra word (CQE32 rings). 6.1.0 had no issue_flags argument; Debian's
 * 6.1 and 6.12 have it.
 */
static inline void tr_uring_cmd_done(struct io_uring_cmd *ioucmd, ssize_t ret,
				     u64 res2, unsigned int issue_flags)
{
#ifdef TR_HAVE_IO_URING_CMD_DONE_NOFLAGS
	io_uring_cmd_done(ioucmd, ret, res2);
#else
	io_uring_cmd_done(ioucmd, ret, res2, issue_flags);
#endif
}

/*
 * Define @name, a callback of io_uring_cmd_complete_in_task() (the
 * submitter's task work) that calls @fn(ioucmd, issue_flags). 6.1.0's
 * callback had no issue_flags; Debian's 6.1 and 6.12 have them.
 */
#ifdef TR_HAVE_IO_URING_CMD_DONE_NOFLAGS
#define TR_UCMD_TASK_WORK(name, fn)					\
	static void name(struct io_uring_cmd *ioucmd)			\
	{								\
		fn(ioucmd, 0);						\
	}
#else
#define TR_UCMD_TASK_WORK(name, fn)					\
	static void name(struct io_uring_cmd *ioucmd, unsigned int f)	\
	{								\
		fn(ioucmd, f);						\
	}
#endif

/*
 * A bit of io_uring_cmd.flags that says the driver saved its copy of the
 * command in the pdu (uring_cmd.c). io_uring sets the flags from the
 * SQE's uring_cmd_flags at every prep and refuses bits outside
 * IORING_URING_CMD_MASK there (6.1: IORING_URING_CMD_FIXED), so it is
 * clear on a command's first issue. It is below the top 8 bits, which
 * io_uring keeps for itself (6.12: IORING_URING_CMD_CANCELABLE, bit 30,
 * set only by io_uring_cmd_mark_cancelable(), which timerring does not
 * call); a kernel that gives it to userspace fails the assertion.
 */
#define TR_UCMD_F_SAVED		BIT(23)
#ifdef IORING_URING_CMD_MASK
static_assert(!(TR_UCMD_F_SAVED & IORING_URING_CMD_MASK));
#else
static_assert(!(TR_UCMD_F_SAVED & IORING_URING_CMD_FIXED));
#endif

/* 6.2 named the directions of an iov_iter; Debian's 6.1 has them too. */
#ifndef TR_HAVE_ITER_SOURCE
#define ITER_SOURCE	WRITE
#define ITER_DEST	READ
#endif

#endif /* _TIMERRING_COMPAT_H */
