// SPDX-License-Identifier: GPL-2.0
/*
 * timerring eventfd: registering one (TIMERRING_IOC_EVENTFD), signalling
 * it after a pass published CQEs, and letting it go.
 *
 * The expiry path reads inst->evfd under rcu_read_lock() from soft-IRQ
 * context, so a replaced or released eventfd is put from an RCU callback:
 * neither the ioctl nor close() waits for a grace period (a few ms each,
 * which made a loop of 10000 replacements take tens of seconds). Module
 * exit waits for the callbacks with rcu_barrier().
 */
#include <linux/eventfd.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "eventfd.h"
#include "instance.h"

struct tr_eventfd {
	struct eventfd_ctx *ctx;
	struct rcu_head rcu;
};

static void tr_eventfd_free(struct rcu_head *rcu)
{
	struct tr_eventfd *ev = container_of(rcu, struct tr_eventfd, rcu);

	eventfd_ctx_put(ev->ctx);
	kfree(ev);
}

static void tr_eventfd_put(struct tr_eventfd *ev)
{
	if (ev)
		call_rcu(&ev->rcu, tr_eventfd_free);
}

long tr_ioctl_eventfd(struct tr_instance *inst, void __user *uarg)
{
	struct tr_eventfd *ev = NULL, *old;
	s32 fd;

	if (get_user(fd, (s32 __user *)uarg))
		return -EFAULT;
	if (fd != -1) {
		struct eventfd_ctx *ctx;

		if (fd < 0)
			return -EBADF;
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
		ev = kmalloc(sizeof(*ev), TR_GFP);
		if (!ev) {
			eventfd_ctx_put(ctx);
			return -ENOMEM;
		}
		ev->ctx = ctx;
	}
	if (mutex_lock_killable(&inst->setup_mutex)) {
		if (ev)
			tr_eventfd_free(&ev->rcu);
		return -EINTR;
	}
	old = rcu_replace_pointer(inst->evfd, ev,
				  lockdep_is_held(&inst->setup_mutex));
	mutex_unlock(&inst->setup_mutex);
	tr_eventfd_put(old);
	return 0;
}

/* The file is going away: nobody else can reach inst->evfd. */
void tr_eventfd_release(struct tr_instance *inst)
{
	tr_eventfd_put(rcu_replace_pointer(inst->evfd, NULL, true));
}

/*
 * Signal the eventfd after a pass published CQEs, unless userspace set
 * TIMERRING_CQ_F_EVENTFD_DISABLED in the ring's flags (read once).
 */
void tr_eventfd_notify(struct tr_instance *inst)
{
	u32 *uflags = (u32 *)((u8 *)inst->ring + inst->params.cq_off.flags);
	struct tr_eventfd *ev;

	rcu_read_lock();
	ev = rcu_dereference(inst->evfd);
	/*
	 * eventfd_signal() must not nest in another one on this task (a
	 * soft-IRQ run from its spin_unlock): skip, a later pass signals.
	 */
	if (ev && eventfd_signal_allowed() &&
	    !(READ_ONCE(*uflags) & TIMERRING_CQ_F_EVENTFD_DISABLED))
		tr_eventfd_signal(ev->ctx);
	rcu_read_unlock();
}
