// SPDX-License-Identifier: GPL-2.0
/*
 * timerring instances: open, SETUP and close. An instance is its shards
 * (shard.c: each a wheel, an id table, a completion ring and the expiry
 * path; 1 to TIMERRING_SHARDS_MAX), the shared mapping with their rings
 * (memmap.c), one submit buffer per shard (submit.c), the SQ ring if set
 * up (sqpoll.c, one shard only), the waiters and the eventfd (wait.c,
 * eventfd.c), and the budget it is charged to (account.c).
 *
 * open() allocates and charges the instance with shard 0's wheel (~55
 * KiB, most of it the 3072 queues of 16 bytes). SETUP checks the
 * parameters, charges everything else first (per shard: the id-table and
 * pool directories, 16 bytes per 128 ids and 8 bytes per 4 KiB pool page,
 * its ring and its submit buffer of ~17 KiB, ~31 KiB with more than one
 * shard; each shard beyond the first, ~55 KiB), allocates the shards on
 * their nodes and the rest on the instance's, and publishes the instance
 * only once the parameters are written back. A SETUP that fails leaves
 * nothing allocated or charged.
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
	tr_shard_init(&inst->shard, inst, 0);
	inst->shards[0] = &inst->shard;
	inst->nr_shards = 1;
	mutex_init(&inst->setup_mutex);
	mutex_init(&inst->cancel_mutex);
	spin_lock_init(&inst->tier_lock);
	tr_tier_init(&inst->tier);
	init_waitqueue_head(&inst->wq);
	inst->inst_id = atomic_inc_return(&tr_next_inst_id);
	return inst;
}

/* The shards and buffers beyond what open() made, from @from on. */
static void tr_shards_free(struct tr_instance *inst, u32 from)
{
	struct tr_submit_buf *sb;
	u32 i;

	for (i = from; i < TIMERRING_SHARDS_MAX; i++) {
		sb = inst->bufs[i];
		if (sb) {
			mutex_destroy(&sb->lock);
			kvfree(sb->sorted);
			kvfree(sb);
			inst->bufs[i] = NULL;
		}
		if (i && inst->shards[i]) {
			mutex_destroy(&inst->shards[i]->mutex);
			kvfree(inst->shards[i]);
			inst->shards[i] = NULL;
		}
	}
}

void tr_instance_free(struct tr_instance *inst)
{
	struct tr_shard *sh;
	u64 armed = 0, expired = 0;
	u32 i;

	if (tr_ready(inst)) {
		tr_shards_stop(inst->shards, inst->nr_shards);
		tr_stats_unregister(inst);
		for (i = 0; (sh = tr_shard_at(inst, i)); i++) {
			armed += sh->core.armed;
			expired += sh->core.st.expired_total;
			tr_shard_free(sh);
		}
		trace_timerring_teardown(inst->inst_id, armed, expired);
		tr_ring_free(inst);
		tr_sqpoll_free(inst);
	}
	tr_shards_free(inst, 0);
	tr_eventfd_release(inst);
	mutex_destroy(&inst->shard.mutex);
	mutex_destroy(&inst->cancel_mutex);
	mutex_destroy(&inst->setup_mutex);
	tr_charge_close(&inst->charge);
	kvfree(inst);
}

/*
 * The number of shards: 0 is 1, AUTO one per online CPU, within
 * TIMERRING_SHARDS_MAX and one per TIMERRING_SHARD_IDS ids; any other
 * count out of that range is EINVAL, or clamped with SETUP_CLAMP. The SQ
 * ring has one consumer, that of shard 0: it needs one shard (AUTO is 1
 * with it).
 */
static int tr_check_shards(struct timerring_params *p)
{
	u32 cap = min_t(u32, TIMERRING_SHARDS_MAX,
			DIV_ROUND_UP(p->max_timers, TIMERRING_SHARD_IDS));

	if (p->resv2)
		return -EINVAL;
	if (p->shards == TIMERRING_SHARDS_AUTO)
		p->shards = p->flags & TIMERRING_SETUP_SQ ? 1 :
			    clamp_t(u32, num_online_cpus(), 1, cap);
	else if (!p->shards)
		p->shards = 1;
	if (p->shards > cap) {
		if (!(p->flags & TIMERRING_SETUP_CLAMP))
			return -EINVAL;
		p->shards = cap;
	}
	if (p->shards > 1 && (p->flags & TIMERRING_SETUP_SQ))
		return -EINVAL;
	return 0;
}

static int tr_check_params(struct timerring_params *p, size_t usize)
{
	u32 cap_ids = min_t(u32, tr_max_timers, TIMERRING_MAX_TIMERS_MAX);
	u32 cap_cq = rounddown_pow_of_two(tr_max_cq_entries);
	bool clamp = p->flags & TIMERRING_SETUP_CLAMP;
	unsigned int i;
	int ret;

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

	ret = tr_check_shards(p);
	if (ret)
		return ret;
	return tr_sqpoll_check(p, usize);
}

/* What SETUP allocates for @p, as charged to the budget. */
static size_t tr_setup_bytes(const struct timerring_params *p,
			     size_t map_bytes)
{
	size_t pages = DIV_ROUND_UP(map_bytes, PAGE_SIZE);
	size_t buf = tr_alloc_bytes(sizeof(struct tr_submit_buf));

	if (p->shards > 1)
		buf += tr_alloc_bytes(sizeof(struct tr_batch_buf));
	return p->shards * (tr_shard_bytes(p) + buf) +
	       (p->shards - 1) * tr_alloc_bytes(sizeof(struct tr_shard)) +
	       tr_alloc_bytes(pages * sizeof(struct page *)) +
	       pages * PAGE_SIZE + tr_sqpoll_bytes(p);
}

/*
 * The node of shard @k of @n: the instance's with one shard, else that of
 * the k-th online CPU, counting round.
 */
static int tr_shard_node(const struct timerring_params *p, u32 k)
{
	u32 cpu, skip;

	if (p->shards == 1)
		return p->numa_node;
	skip = k % num_online_cpus();
	for_each_online_cpu(cpu)
		if (!skip--)
			return cpu_to_node(cpu);
	return p->numa_node;
}

/*
 * The shards and submit buffers of @p: shard 0 exists since open(); the
 * others are allocated on their nodes. Each shard's core posts to its
 * ring, @stride bytes after the previous one. -ENOMEM, with what was
 * allocated left for tr_shards_free() and tr_shard_free().
 */
static int tr_shards_setup(struct tr_instance *inst,
			   const struct timerring_params *p, size_t stride)
{
	struct tr_submit_buf *sb;
	struct tr_shard *sh;
	u32 k;
	int node;

	for (k = 0; k < p->shards; k++) {
		node = tr_shard_node(p, k);
		sb = kvzalloc_node(sizeof(*sb), TR_GFP, inst->node);
		if (!sb)
			return -ENOMEM;
		mutex_init(&sb->lock);
		inst->bufs[k] = sb;
		if (p->shards > 1) {
			sb->sorted = kvmalloc_node(sizeof(*sb->sorted), TR_GFP,
						   inst->node);
			if (!sb->sorted)
				return -ENOMEM;
		}
		if (k) {
			sh = kvzalloc_node(sizeof(*sh), TR_GFP, node);
			if (!sh)
				return -ENOMEM;
			tr_shard_init(sh, inst, k);
			inst->shards[k] = sh;
		}
		if (tr_shard_setup(inst->shards[k], p, node,
				   (u8 *)inst->ring + k * stride))
			return -ENOMEM;
		inst->nr_shards = k + 1;
	}
	return 0;
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
	struct tr_shard *sh;
	u32 k;
	int ret;

	ret = copy_struct_from_user(&p, sizeof(p), uarg, usize);
	if (ret)
		return ret;
	ret = tr_check_params(&p, usize);
	if (ret)
		return ret;

	if (mutex_lock_killable(&inst->setup_mutex))
		return -EINTR;
	ret = -EBUSY;
	if (inst->ready)
		goto out_unlock;

	tr_cq_layout(p.cq_entries, &p.cq_off, &map_bytes);
	p.cq_stride = PAGE_ALIGN(map_bytes);
	map_bytes += (p.shards - 1) * p.cq_stride;
	map_bytes = tr_sqpoll_layout(&p, map_bytes);
	charged = tr_setup_bytes(&p, map_bytes);
	ret = tr_charge(&inst->charge, charged);
	if (ret)
		goto out_unlock;

	inst->node = p.numa_node;
	inst->clockid = p.clockid;
	ret = -ENOMEM;
	if (tr_sqpoll_alloc(inst, &p))
		goto out_free;
	ret = tr_ring_alloc(inst, map_bytes);
	if (ret)
		goto out_free;
	ret = tr_shards_setup(inst, &p, p.cq_stride);
	if (ret)
		goto out_shard;

	p.features = TIMERRING_FEAT_PERIODIC | TIMERRING_FEAT_SLACK |
		     TIMERRING_FEAT_EVENTFD | TIMERRING_FEAT_NODROP |
		     TIMERRING_FEAT_SQ | TIMERRING_FEAT_SHARDS;
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
	mutex_unlock(&inst->setup_mutex);
	return 0;

out_shard:
	for (k = 0; (sh = tr_shard_at(inst, k)); k++)
		tr_shard_free(sh);
	tr_shards_free(inst, 0);
	inst->nr_shards = 1;
	tr_ring_free(inst);
out_free:
	tr_sqpoll_free(inst);
	tr_uncharge(&inst->charge, charged);
out_unlock:
	mutex_unlock(&inst->setup_mutex);
	return ret;
}
