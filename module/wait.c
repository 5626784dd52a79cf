// SPDX-License-Identifier: GPL-2.0
/*
 * timerring waiting: poll/epoll and TIMERRING_IOC_WAIT (eventfd: eventfd.c).
 *
 * Every pass that publishes CQEs wakes the instance's wait queue (if it has
 * sleepers) and signals the registered eventfd (unless userspace set
 * TIMERRING_CQ_F_EVENTFD_DISABLED in the ring's flags): one wake-up per
 * pass, not per CQE.
 *
 * Expirations that wait for ring space (the overflow list) are posted by
 * the next expiry pass or by TIMERRING_IOC_WAIT and TIMERRING_IOC_SUBMIT,
 * which flush it first: a consumer that sees TIMERRING_KFLAG_CQ_OVERFLOW
 * after freeing space calls WAIT with min_complete = 0.
 */
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/uaccess.h>

#include "instance.h"

/*
 * CQEs published and not yet consumed in all rings, by each ring's
 * (untrusted) head.
 */
static u32 tr_cq_unread(struct tr_instance *inst)
{
	struct tr_shard *sh;
	u32 i, head, n, sum = 0;

	for (i = 0; (sh = tr_shard_at(inst, i)); i++) {
		head = READ_ONCE(*sh->core.cq.khead);
		n = READ_ONCE(sh->published_tail) - head;
		sum += min(n, sh->core.cq.entries);
	}
	return sum;
}

/* Whether some shard has expirations waiting for ring space. */
static bool tr_overflow_pending(struct tr_instance *inst)
{
	struct tr_shard *sh;
	u32 i;

	for (i = 0; (sh = tr_shard_at(inst, i)); i++)
		if (READ_ONCE(sh->core.q[TR_L_PENDING].live))
			return true;
	return false;
}

__poll_t tr_poll(struct file *file, struct poll_table_struct *pt)
{
	struct tr_instance *inst = file->private_data;

	if (!tr_ready(inst))
		return EPOLLERR;
	poll_wait(file, &inst->wq, pt);
	/*
	 * Full barrier between queueing on inst->wq and reading the tail,
	 * as sock_poll_wait() has: it pairs with the one in wq_has_sleeper()
	 * in tr_notify(), which publishes the tail before it looks for
	 * sleepers. Without it the tail could be read before the waiter is
	 * visible, the waker skip the wake-up, and an epoll_wait(-1) hang.
	 */
	smp_mb();
	if (tr_cq_unread(inst) || tr_overflow_pending(inst))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

/* Post overflowed expirations into the space userspace has freed. */
static void tr_flush_overflow(struct tr_instance *inst)
{
	struct tr_shard *sh;
	u32 i, budget;

	for (i = 0; (sh = tr_shard_at(inst, i)); i++) {
		budget = TR_PASS_BUDGET;
		if (READ_ONCE(sh->core.q[TR_L_PENDING].live) &&
		    tr_run(sh, &budget))
			tr_shard_kick(sh);
	}
}

static bool tr_wait_done(struct tr_instance *inst, u32 min_complete)
{
	tr_flush_overflow(inst);
	return tr_cq_unread(inst) >= min_complete;
}

static long tr_wait_sleep(struct tr_instance *inst, u32 min, s64 timeout_ns)
{
	if (!timeout_ns)
		return -ETIME;
	if (timeout_ns < 0)
		return wait_event_interruptible(inst->wq,
						tr_wait_done(inst, min));
	return wait_event_interruptible_hrtimeout(inst->wq,
						  tr_wait_done(inst, min),
						  ns_to_ktime(timeout_ns));
}

long tr_ioctl_wait(struct tr_instance *inst, void __user *uarg, size_t usize)
{
	struct timerring_wait __user *uw = uarg;
	struct timerring_wait w;
	long ret = 0;

	ret = copy_struct_from_user(&w, sizeof(w), uarg, usize);
	if (ret)
		return ret;
	if (w.flags || w.resv || w.min_complete > inst->shard.core.cq.entries)
		return -EINVAL;
	/* ready is the only out field: make sure it can be written first */
	if (put_user(0, &uw->ready))
		return -EFAULT;

	if (!tr_wait_done(inst, w.min_complete)) {
		ret = tr_wait_sleep(inst, w.min_complete, w.timeout_ns);
		if (ret == -ERESTARTSYS)
			ret = -EINTR;
	}
	if (put_user(tr_cq_unread(inst), &uw->ready))
		return -EFAULT;
	return ret;
}
