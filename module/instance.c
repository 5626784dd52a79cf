// SPDX-License-Identifier: GPL-2.0
/*
 * timerring instances: open, SETUP and close. An instance is its shard
 * (shard.c: the wheel, the id table and the expiry path), the shared
 * mapping with the completion ring (memmap.c), the batch buffer of its
 * submitters (submit.c), the SQ ring if set up (sqpoll.c), the waiters
 * and the eventfd (wait.c, eventfd.c), and the budget it is charged to
 * (account.c).
 *
 * open() allocates and charges the instance with its shard's wheel
 * (~55 KiB, most of it the 3072 queues of 16 bytes). SETUP checks the
 * parameters, charges everything else first (the id-table and pool
 * directories: 16 bytes per 128 ids and 8 bytes per 4 KiB pool page; the
 * ring; the 9.5 KiB batch buffer), allocates it on the instance's node and
 * publishes the instance only once the parameters are written back. A
 * SETUP that fails leaves nothing allocated or charged.
 */
#include <linux/nodemask.h>
#include <linux/nsproxy.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/slab.h>
#include <linux/time_namespace.h>
#include <linux/timekeeping.h>
#include <linux/topology.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "instance.h"
#include "shard.h"
#include "sqpoll.h"
#include "trace.h"

static atomic_t tr_next_inst_id = ATOMIC_INIT(0);

u64 tr_clock_now(const struct tr_instance *inst)
{
	if (inst->clockid == CLOCK_BOOTTIME)
		return ktime_get_boottime_ns();
	return ktime_get_ns();
}

/*
 * Wake waiters after CQEs were published. Not under a shard lock.
 * wq_has_sleeper() has the full barrier that pairs with the one between
 * queueing and reading the tail in tr_poll() and prepare_to_wait(): either
 * the waiter sees the new tail, or this sees the waiter.
 */
void tr_notify(struct tr_instance *inst, u32 posted)
{
	if (!posted)
		return;
	trace_timerring_wakeup(inst->inst_id, posted);
	if (wq_has_sleeper(&inst->wq))
		wake_up_all(&inst->wq);
	tr_eventfd_notify(inst);
}

/* An instance, charged to the opener; ERR_PTR(-ENOSPC) over its budget. */
struct tr_instance *tr_instance_alloc(void)
{
	struct tr_instance *inst;
	struct tr_charge ch;
	int ret;

	/* ~55 KiB, most of it its shard's wheel: need not be contiguous */
	ret = tr_charge_open(&ch, tr_alloc_bytes(sizeof(*inst)));
	if (ret)
		return ERR_PTR(ret);
	inst = kvzalloc(sizeof(*inst), TR_GFP);
	if (!inst) {
		tr_charge_close(&ch);
		return ERR_PTR(-ENOMEM);
	}
	inst->charge = ch;
	tr_shard_init(&inst->shard, inst);
	mutex_init(&inst->submit_mutex);
	init_waitqueue_head(&inst->wq);
	inst->inst_id = atomic_inc_return(&tr_next_inst_id);
	return inst;
}

void tr_instance_free(struct tr_instance *inst)
{
	struct tr_shard *sh = &inst->shard;

	if (tr_ready(inst)) {
		tr_shard_stop(sh);
		tr_stats_unregister(inst);
		trace_timerring_teardown(inst->inst_id, sh->core.armed,
					 sh->core.st.expired_total);
		tr_shard_free(sh);
		tr_ring_free(inst);
		kvfree(inst->buf);
		tr_sqpoll_free(inst);
	}
	tr_eventfd_release(inst);
	mutex_destroy(&inst->submit_mutex);
	tr_charge_close(&inst->charge);
	kvfree(inst);
}

static int tr_check_params(struct timerring_params *p, size_t usize)
{
	u32 cap_ids = min_t(u32, tr_max_timers, TIMERRING_MAX_TIMERS_MAX);
	u32 cap_cq = rounddown_pow_of_two(tr_max_cq_entries);
	bool clamp = p->flags & TIMERRING_SETUP_CLAMP;
	unsigned int i;

	if (p->flags & ~TIMERRING_SETUP_ALL)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(p->resv); i++)
		if (p->resv[i])
			return -EINVAL;
	if (p->clockid != CLOCK_MONOTONIC && p->clockid != CLOCK_BOOTTIME)
		return -EINVAL;

	if (!p->resolution_ns)
		p->resolution_ns = TIMERRING_RES_NS_DEFAULT;
	if (p->resolution_ns < TIMERRING_RES_NS_MIN ||
	    p->resolution_ns > TIMERRING_RES_NS_MAX)
		return -EINVAL;

	if (!p->max_timers)
		return -EINVAL;
	if (p->max_timers > cap_ids) {
		if (!clamp)
			return -EINVAL;
		p->max_timers = cap_ids;
	}

	if (!p->cq_entries)
		p->cq_entries = min(TIMERRING_CQ_ENTRIES_DEFAULT, cap_cq);
	if (p->cq_entries > cap_cq || p->cq_entries < TIMERRING_CQ_ENTRIES_MIN) {
		if (!clamp)
			return -EINVAL;
		p->cq_entries = clamp(p->cq_entries, TIMERRING_CQ_ENTRIES_MIN,
				      cap_cq);
	}
	p->cq_entries = roundup_pow_of_two(p->cq_entries);

	if (p->numa_node == TIMERRING_NODE_CURRENT)
		p->numa_node = numa_node_id();
	if (p->numa_node < 0 || p->numa_node >= nr_node_ids ||
	    !node_online(p->numa_node))
		return -EINVAL;
	return tr_sqpoll_check(p, usize);
}

/* What SETUP allocates for @p, as charged to the budget. */
static size_t tr_setup_bytes(const struct timerring_params *p,
			     size_t map_bytes)
{
	size_t pages = DIV_ROUND_UP(map_bytes, PAGE_SIZE);

	return tr_shard_bytes(p) +
	       tr_alloc_bytes(sizeof(struct tr_batch_buf)) +
	       tr_alloc_bytes(pages * sizeof(struct page *)) +
	       pages * PAGE_SIZE + tr_sqpoll_bytes(p);
}

/*
 * TIMERRING_IOC_SETUP: allocate everything, write the parameters back, and
 * only then publish the instance; if the copy back faults, undo it all, so
 * that a failed SETUP leaves the instance as it was.
 */
int tr_instance_setup(struct tr_instance *inst, void __user *uarg,
		      size_t usize)
{
	struct timerring_params p;
	size_t map_bytes, charged;
	int ret;

	ret = copy_struct_from_user(&p, sizeof(p), uarg, usize);
	if (ret)
		return ret;
	ret = tr_check_params(&p, usize);
	if (ret)
		return ret;

	if (mutex_lock_killable(&inst->submit_mutex))
		return -EINTR;
	ret = -EBUSY;
	if (inst->ready)
		goto out_unlock;

	tr_cq_layout(p.cq_entries, &p.cq_off, &map_bytes);
	map_bytes = tr_sqpoll_layout(&p, map_bytes);
	charged = tr_setup_bytes(&p, map_bytes);
	ret = tr_charge(&inst->charge, charged);
	if (ret)
		goto out_unlock;

	inst->node = p.numa_node;
	inst->clockid = p.clockid;
	ret = -ENOMEM;
	inst->buf = kvmalloc_node(sizeof(*inst->buf), TR_GFP,
				  inst->node);
	if (!inst->buf || tr_sqpoll_alloc(inst, &p))
		goto out_free;
	ret = tr_ring_alloc(inst, map_bytes);
	if (ret)
		goto out_free;
	ret = tr_shard_setup(&inst->shard, &p, inst->node, inst->ring);
	if (ret)
		goto out_ring;

	p.features = TIMERRING_FEAT_PERIODIC | TIMERRING_FEAT_SLACK |
		     TIMERRING_FEAT_EVENTFD | TIMERRING_FEAT_NODROP |
		     TIMERRING_FEAT_SQ;
	if (IS_ENABLED(CONFIG_TIME_NS))
		p.features |= TIMERRING_FEAT_TIMENS;
	p.mmap_offset = 0;
	p.mmap_size = inst->ring_bytes;
	ret = tr_copy_struct_to_user(uarg, usize, &p, sizeof(p));
	if (ret)
		goto out_shard;

	tr_sqpoll_init(inst, &p);
	inst->params = p;
	inst->last_impl = tr_impl_active();
	tr_stats_register(inst);
	trace_timerring_setup(inst->inst_id, p.max_timers, p.cq_entries,
			      p.resolution_ns, p.clockid, inst->node);
	/* Publish the set-up instance to lockless tr_ready() readers. */
	smp_store_release(&inst->ready, true);
	mutex_unlock(&inst->submit_mutex);
	return 0;

out_shard:
	tr_shard_free(&inst->shard);
out_ring:
	tr_ring_free(inst);
out_free:
	kvfree(inst->buf);
	inst->buf = NULL;
	tr_sqpoll_free(inst);
	tr_uncharge(&inst->charge, charged);
out_unlock:
	mutex_unlock(&inst->submit_mutex);
	return ret;
}
